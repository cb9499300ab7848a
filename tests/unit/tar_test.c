#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "stream/qbk_tar.h"

#define BIG_LEN		((size_t)100 * 1024)

/* The members of the test archive: a GNU long name, a pax path, a folder. */
static const char *long_name =
    "./a-collection-name-longer-than-the-hundred-bytes-a-ustar-name-field-"
    "holds-1-2026-11-21-22-15-00.snapshot";

static uint8_t big[BIG_LEN];

/* A tar with config.json, a folder, a long-named ${BIG_LEN}-byte file and
 * a small one, in ${format} (an archive_write_set_format_* function). */
static struct qbk_buf
make_tar(int (*format)(struct archive *))
{
	struct archive *a = archive_write_new();
	struct qbk_buf t = QBK_BUF_INIT;
	size_t cap = BIG_LEN + 64 * 1024, used = 0, i;
	struct {
		const char *name;
		int type;
		const void *data;
		size_t len;
	} m[] = {
		{ "./config.json", AE_IFREG, "{}", 2 },
		{ "./0/", AE_IFDIR, NULL, 0 },
		{ NULL, AE_IFREG, big, BIG_LEN },
		{ "./last", AE_IFREG, "end", 3 },
	};

	m[2].name = long_name;
	for (i = 0; i < BIG_LEN; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	qbk_buf_grow(&t, cap);
	assert_int_equal(format(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, t.buf, cap, &used),
	    ARCHIVE_OK);
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_filetype(e, (unsigned)m[i].type);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)m[i].len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (m[i].len > 0)
			assert_int_equal(archive_write_data(a, m[i].data,
			    m[i].len), (la_ssize_t)m[i].len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	qbk_buf_setlen(&t, used);
	return t;
}

/* A qbk_tar_next_fn over a buffer, in pieces, with a rewind. */
struct mem {
	const uint8_t *p;
	size_t len, off, piece;
	int rewinds;
};

static int
mem_next(void *cookie, const void **data, size_t *len, struct qbk_err *err)
{
	struct mem *m = cookie;
	size_t n;

	(void)err;
	if (m->off == m->len)
		return 0;
	n = m->len - m->off < m->piece ? m->len - m->off : m->piece;
	*data = m->p + m->off;
	*len = n;
	m->off += n;
	return 1;
}

static int
mem_rewind(void *cookie, struct qbk_err *err)
{
	struct mem *m = cookie;

	(void)err;
	m->off = 0;
	m->rewinds++;
	return 0;
}

/* Read the data of the current member of ${t}, up to ${max} bytes. */
static void
read_data(struct qbk_tar *t, struct qbk_buf *out, size_t max)
{
	struct qbk_err err = QBK_ERR_INIT;
	const void *data;
	size_t len;
	int r;

	qbk_buf_reset(out);
	while (out->len < max && (r = qbk_tar_data(t, &data, &len,
	    &err)) != 0) {
		if (r < 0)
			fail_msg("%s", err.msg);
		qbk_buf_add(out, data, len);
	}
}

static void
check_members(int (*format)(struct archive *))
{
	struct qbk_buf tar = make_tar(format), out = QBK_BUF_INIT;
	struct mem m = { NULL, 0, 0, 1000, 0 };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_tar *t;
	struct qbk_tar_member mb;

	m.p = (const uint8_t *)tar.buf;
	m.len = tar.len;
	assert_int_equal(qbk_tar_open(mem_next, mem_rewind, &m, &t, &err), 0);
	assert_int_equal(qbk_tar_next(t, &mb, &err), 1);
	assert_string_equal(mb.path, "config.json");
	assert_int_equal(mb.type, 'f');
	assert_int_equal(mb.size, 2);
	/* Its data is skipped. */
	assert_int_equal(qbk_tar_next(t, &mb, &err), 1);
	assert_string_equal(mb.path, "0/");
	assert_int_equal(mb.type, 'd');
	assert_int_equal(qbk_tar_next(t, &mb, &err), 1);
	assert_string_equal(mb.path, long_name + 2);
	assert_int_equal(mb.type, 'f');
	assert_int_equal(mb.size, BIG_LEN);
	/* Part of it, then all of it again, as an upload retry does. */
	read_data(t, &out, 5000);
	assert_true(out.len >= 5000);
	assert_memory_equal(out.buf, big, out.len);
	assert_int_equal(qbk_tar_restart(t, &err), 0);
	assert_int_equal(m.rewinds, 1);
	assert_string_equal(mb.path, long_name + 2);
	read_data(t, &out, SIZE_MAX);
	assert_int_equal(out.len, BIG_LEN);
	assert_memory_equal(out.buf, big, BIG_LEN);
	assert_int_equal(qbk_tar_next(t, &mb, &err), 1);
	assert_string_equal(mb.path, "last");
	read_data(t, &out, SIZE_MAX);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.buf, "end", 3);
	assert_int_equal(qbk_tar_next(t, &mb, &err), 0);
	qbk_tar_close(t);
	qbk_buf_release(&tar);
	qbk_buf_release(&out);
}

static void
test_members_gnu(void **state)
{
	(void)state;
	check_members(archive_write_set_format_gnutar);
}

static void
test_members_pax(void **state)
{
	(void)state;
	check_members(archive_write_set_format_pax_restricted);
}

static void
test_broken(void **state)
{
	struct qbk_buf tar = make_tar(archive_write_set_format_gnutar);
	struct mem m = { NULL, 0, 0, 700, 0 };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_tar *t;
	struct qbk_tar_member mb;
	const void *data;
	size_t len;
	int r;

	(void)state;
	m.p = (const uint8_t *)tar.buf;
	/* Cut inside the data of the big member. */
	m.len = 4 * 512 + 4000;
	assert_int_equal(qbk_tar_open(mem_next, NULL, &m, &t, &err), 0);
	do
		assert_int_equal(qbk_tar_next(t, &mb, &err), 1);
	while (mb.size != BIG_LEN);
	while ((r = qbk_tar_data(t, &data, &len, &err)) == 1)
		;
	assert_int_equal(r, -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "ends inside 'a-collection"));
	/* No rewind: it cannot go back. */
	assert_int_equal(qbk_tar_restart(t, &err), -1);
	qbk_tar_close(t);

	/* Cut at a member boundary: the end, as tar accepts it. */
	m.off = 0;
	m.len = 2 * 512;
	assert_int_equal(qbk_tar_open(mem_next, NULL, &m, &t, &err), 0);
	assert_int_equal(qbk_tar_next(t, &mb, &err), 1);
	assert_int_equal(qbk_tar_next(t, &mb, &err), 0);
	qbk_tar_close(t);

	/* A damaged header. */
	m.off = 0;
	m.len = tar.len;
	tar.buf[2 * 512 + 150] ^= 0x55;
	if (qbk_tar_open(mem_next, NULL, &m, &t, &err) == 0) {
		assert_int_equal(qbk_tar_next(t, &mb, &err), 1);
		assert_int_equal(qbk_tar_next(t, &mb, &err), -1);
		qbk_tar_close(t);
	}
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "not a tar archive"));
	qbk_buf_release(&tar);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members_gnu),
		cmocka_unit_test(test_members_pax),
		cmocka_unit_test(test_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
