#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "command/qbk_backup.h"
#include "command/qbk_restore.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_fs.h"
#include "common/qbk_hex.h"
#include "common/qbk_idset.h"
#include "common/qbk_json.h"
#include "common/qbk_time.h"
#include "net/qbk_http.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "testutil.h"

/* 2026-11-21T22:15:00Z */
#define T0	((int64_t)1795299300)
#define CHUNK_MAX	4096u

static void
parse_time_forms(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;
	int64_t t, ref;
	size_t i;
	static const char *bad[] = { "2026-13-01", "2026-02-29", "2026-11-21T25:00",
		"2026-11-21T22:15:00Q", "yesterday", "", "2026-11-2", "-2h",
		"1969-12-31", "2026-11-21T22:15:00+24:00", "2h later" };

	(void)state;
	assert_int_equal(qbk_time_parse("2026-11-21T22:15:00Z", &ref),
	    0);
	assert_int_equal(ref, T0);
	assert_int_equal(qbk_restore_parse_time("2026-11-21T22:15:00Z", 0, &t,
	    &err), 0);
	assert_int_equal(t, T0);
	assert_int_equal(qbk_restore_parse_time("2026-11-21 22:15", 0, &t,
	    &err), 0);
	assert_int_equal(t, T0);
	assert_int_equal(qbk_restore_parse_time("2026-11-21T22:15", 0, &t,
	    &err), 0);
	assert_int_equal(t, T0);
	assert_int_equal(qbk_restore_parse_time("2026-11-21T23:15:00+01:00", 0,
	    &t, &err), 0);
	assert_int_equal(t, T0);
	assert_int_equal(qbk_restore_parse_time("2026-11-21T20:15:00.250-0200",
	    0, &t, &err), 0);
	assert_int_equal(t, T0);
	assert_int_equal(qbk_restore_parse_time("2026-11-21", 0, &t, &err), 0);
	assert_int_equal(t, T0 - (22 * 3600 + 15 * 60));
	assert_int_equal(qbk_restore_parse_time("2024-02-29t00:00:00z", 0, &t,
	    &err), 0);
	assert_int_equal(qbk_restore_parse_time("2h", T0, &t, &err), 0);
	assert_int_equal(t, T0 - 7200);
	assert_int_equal(qbk_restore_parse_time("3d", T0, &t, &err), 0);
	assert_int_equal(t, T0 - 3 * 86400);
	assert_int_equal(qbk_restore_parse_time("1h30m", T0, &t, &err), 0);
	assert_int_equal(t, T0 - 5400);
	assert_int_equal(qbk_restore_parse_time("now", T0, &t, &err), 0);
	assert_int_equal(t, T0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		qbk_err_clear(&err);
		t = 42;
		assert_int_equal(qbk_restore_parse_time(bad[i], T0, &t, &err),
		    -1);
		assert_int_equal(err.code, QBK_E_USAGE);
		assert_non_null(strstr(err.msg, "bad time"));
	}
}

static void
version_skew(void **state)
{
	(void)state;
	assert_false(qbk_restore_version_skew("1.19.0", "1.19.3"));
	assert_false(qbk_restore_version_skew("1.18.2", "1.19.0"));
	assert_true(qbk_restore_version_skew("1.17.0", "1.19.0"));
	assert_true(qbk_restore_version_skew("1.19.0", "1.18.4"));
	assert_true(qbk_restore_version_skew("2.0.0", "1.19.0"));
	assert_false(qbk_restore_version_skew("dev", "1.19.0"));
	assert_false(qbk_restore_version_skew(NULL, "1.19.0"));
}

/* ---- a repository with backups made by hand --------------------------- */

struct fixture {
	char *dir;
	char *loc;
	struct qbk_repo *repo;
	struct qbk_chunk_work *w;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct qbk_repo_create_opts co;
	struct qbk_repo_secret sec = { "pw", NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf loc = QBK_BUF_INIT;

	assert_non_null(f);
	assert_int_equal(qbk_init(&err), 0);
	f->dir = tu_tmpdir("restore");
	assert_non_null(f->dir);
	qbk_buf_addf(&loc, "%s/repo", f->dir);
	f->loc = qbk_buf_detach(&loc, NULL);
	memset(&co, 0, sizeof(co));
	co.location = f->loc;
	co.aead = QBK_CRYPTO_AEAD_XCHACHA;
	co.zstd_level = 1;
	co.chunk_min = 256;
	co.chunk_avg = 1024;
	co.chunk_max = CHUNK_MAX;
	co.passphrase = "pw";
	co.opslimit = QBK_CRYPTO_PWHASH_OPSLIMIT_MIN;
	co.memlimit = QBK_CRYPTO_PWHASH_MEMLIMIT_MIN;
	if (qbk_repo_create(&co, NULL, &err) != 0 ||
	    qbk_repo_open(f->loc, &sec, &f->repo, &err) != 0 ||
	    qbk_chunk_work_new(CHUNK_MAX, &f->w, &err) != 0)
		fail_msg("repository: %s", err.msg);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	qbk_chunk_work_free(f->w);
	qbk_repo_close(f->repo);
	free(f->loc);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

static struct qbk_manifest *
new_manifest(int64_t t, const char *tag)
{
	struct qbk_manifest *m = qbk_manifest_new();

	assert_int_equal(qbk_manifest_make_id(t, m->backup_id), 0);
	m->start = m->end = t;
	qbk_manifest_strset(&m->host, "test");
	qbk_manifest_strset(&m->tool_version, "qbk test");
	if (tag != NULL)
		qbk_manifest_add_tag(m, "reason", tag);
	return m;
}

/* Store ${data} as the chunks of snapshot ${s}. */
static void
store(struct fixture *f, struct qbk_manifest_snapshot *s, const void *data,
    size_t len, const char *name)
{
	const struct qbk_chunk_codec *codec = qbk_repo_codec(f->repo);
	struct qbk_err err = QBK_ERR_INIT;
	const uint8_t *p = data;
	uint8_t md[32];
	unsigned int mdlen = 0;
	size_t off = 0;

	qbk_manifest_strset(&s->name, name);
	qbk_manifest_strset(&s->node_url, "http://127.0.0.1:6333");
	while (off < len) {
		size_t n = len - off < 1000 + off % 3000 ? len - off :
		    1000 + off % 3000;
		uint8_t id[QBK_ID_LEN];
		const uint8_t *obj;
		size_t objlen;

		qbk_chunk_id(codec, p + off, n, id);
		if (qbk_repo_chunk_claim(f->repo, id) &&
		    (qbk_chunk_encode(codec, f->w, p + off, n, id, &obj,
		    &objlen, NULL, &err) != 0 ||
		    qbk_repo_chunk_put(f->repo, id, obj, objlen, 0, &err) != 0))
			fail_msg("chunk: %s", err.msg);
		qbk_manifest_snapshot_add_chunk(s, id, (uint32_t)n);
		off += n;
	}
	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(),
	    NULL), 1);
	qbk_hex(md, 32, s->sha256);
	s->bytes = s->size;
}

static void
write_manifest(struct fixture *f, struct qbk_manifest *m)
{
	struct qbk_err err = QBK_ERR_INIT;

	qbk_manifest_compute_totals(m);
	if (qbk_repo_manifest_write(f->repo, m, &err) != 0)
		fail_msg("manifest: %s", err.msg);
}

static void
select_backups(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m[4];
	char id[QBK_MANIFEST_ID_LEN + 1];
	int i;

	assert_int_equal(qbk_restore_select(f->repo, NULL, -1, id, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	for (i = 0; i < 4; i++) {
		m[i] = new_manifest(T0 + 100 * i, i == 3 ? "pre-restore" :
		    "nightly");
		write_manifest(f, m[i]);
	}
	/* Newest, passing over the safety backup. */
	assert_int_equal(qbk_restore_select(f->repo, NULL, -1, id, &err), 0);
	assert_string_equal(id, m[2]->backup_id);
	/* At or before a time; the time of a backup itself counts. */
	assert_int_equal(qbk_restore_select(f->repo, NULL, T0 + 150, id, &err),
	    0);
	assert_string_equal(id, m[1]->backup_id);
	assert_int_equal(qbk_restore_select(f->repo, NULL, T0 + 100, id, &err),
	    0);
	assert_string_equal(id, m[1]->backup_id);
	assert_int_equal(qbk_restore_select(f->repo, NULL, T0 + 1000, id,
	    &err), 0);
	assert_string_equal(id, m[2]->backup_id);
	qbk_err_clear(&err);
	assert_int_equal(qbk_restore_select(f->repo, NULL, T0 - 1, id, &err),
	    -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.hint, m[0]->backup_id));
	/* By id, the safety backup too. */
	assert_int_equal(qbk_restore_select(f->repo, m[3]->backup_id, -1, id,
	    &err), 0);
	assert_string_equal(id, m[3]->backup_id);
	qbk_err_clear(&err);
	assert_int_equal(qbk_restore_select(f->repo, "20200101T000000Z-0000",
	    -1, id, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.msg, "no backup '20200101T000000Z-0000'"));
	qbk_err_clear(&err);
	assert_int_equal(qbk_restore_select(f->repo, "latest", -1, id, &err),
	    -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	for (i = 0; i < 4; i++)
		qbk_manifest_free(m[i]);
}

/* --collection without --backup: the newest backup that holds them all. */
static void
choose_by_collections(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m[4];
	static const char *const held[4][2] = {
		{ "a", "b" }, { "a", NULL }, { "b", NULL }, { "c", NULL }
	};
	const char *a[] = { "a" }, *b[] = { "b" }, *ab[] = { "a", "b" },
	    *ac[] = { "a", "c" }, *z[] = { "z" };
	char id[QBK_MANIFEST_ID_LEN + 1];
	int i, k;

	for (i = 0; i < 4; i++) {
		/* m[2] is a safety backup: passed over. */
		m[i] = new_manifest(T0 + 100 * i, i == 2 ? "pre-restore" :
		    "nightly");
		for (k = 0; k < 2 && held[i][k] != NULL; k++) {
			struct qbk_manifest_collection *c =
			    qbk_manifest_add_collection(m[i], held[i][k]);
			struct qbk_manifest_snapshot *sn;
			json_t *j = json_object();

			qbk_manifest_collection_set_config(c, j);
			qbk_manifest_collection_set_vectors(c, j);
			json_decref(j);
			sn = qbk_manifest_add_snapshot(m[i], c,
			    QBK_MANIFEST_SNAP_SHARD);
			sn->shard_id = 0;
			store(f, sn, "snapshot", 8, "s.snapshot");
		}
		write_manifest(f, m[i]);
	}
	assert_int_equal(qbk_restore_choose(f->repo, NULL, -1, a, 1, 0, id,
	    &err), 0);
	assert_string_equal(id, m[1]->backup_id);
	assert_int_equal(qbk_restore_choose(f->repo, NULL, -1, b, 1, 0, id,
	    &err), 0);
	assert_string_equal(id, m[0]->backup_id);
	/* Several: one backup; a newer one of "a" is refused or warned. */
	assert_int_equal(qbk_restore_choose(f->repo, NULL, -1, ab, 2,
	    QBK_RESTORE_CHOOSE_NEWEST, id, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.msg, m[1]->backup_id));
	assert_non_null(strstr(err.hint, "--backup"));
	qbk_err_clear(&err);
	assert_int_equal(qbk_restore_choose(f->repo, NULL, -1, ab, 2, 0, id,
	    &err), 0);
	assert_string_equal(id, m[0]->backup_id);
	/* At or before a time. */
	assert_int_equal(qbk_restore_choose(f->repo, NULL, T0 + 50, ab, 2,
	    QBK_RESTORE_CHOOSE_NEWEST, id, &err), 0);
	assert_string_equal(id, m[0]->backup_id);
	assert_int_equal(qbk_restore_choose(f->repo, NULL, T0 + 50, a, 1, 0,
	    id, &err), 0);
	assert_string_equal(id, m[0]->backup_id);
	/* None holds them all, or none holds one. */
	assert_int_equal(qbk_restore_choose(f->repo, NULL, -1, ac, 2, 0, id,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.msg, "holds all of 'a' and 'c'"));
	assert_non_null(strstr(err.hint, m[3]->backup_id));
	qbk_err_clear(&err);
	assert_int_equal(qbk_restore_choose(f->repo, NULL, -1, z, 1, 0, id,
	    &err), -1);
	assert_non_null(strstr(err.msg, "no backup holds collection 'z'"));
	qbk_err_clear(&err);
	/* With an id, or no names: qbk_restore_select(). */
	assert_int_equal(qbk_restore_choose(f->repo, m[3]->backup_id, -1, a,
	    1, 0, id, &err), 0);
	assert_string_equal(id, m[3]->backup_id);
	assert_int_equal(qbk_restore_choose(f->repo, NULL, -1, NULL, 0, 0, id,
	    &err), 0);
	assert_string_equal(id, m[3]->backup_id);
	for (i = 0; i < 4; i++)
		qbk_manifest_free(m[i]);
}

static void
fill(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		p[i] = (uint8_t)(i % 7 == 0 ? 'q' : seed);
	}
}

static char *
path_in(const struct fixture *f, const char *name)
{
	struct qbk_buf b = QBK_BUF_INIT;

	qbk_buf_addf(&b, "%s/%s", f->dir, name);
	return qbk_buf_detach(&b, NULL);
}

static void
file_equals(const char *path, const void *data, size_t len)
{
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_fs_read_file(path, len + 1, &b, &err) != 0)
		fail_msg("read %s: %s", path, err.msg);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.buf, data, len);
	qbk_buf_release(&b);
}

static int
collect(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	(void)err;
	qbk_buf_add(cookie, data, len);
	return 0;
}

static void
files_and_listing(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m = new_manifest(T0, NULL);
	struct qbk_manifest_collection *c;
	struct qbk_manifest_snapshot *s;
	struct qbk_restore_opts o;
	struct qbk_restore_report rep;
	struct qbk_buf out = QBK_BUF_INIT;
	const char *one[] = { "c1" }, *nope[] = { "nope" };
	static uint8_t a[20000], b[9000];
	char *p1 = path_in(f, "c1.snapshot"), *dir = path_in(f, "all");
	json_t *j;
	char *p;

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	c = qbk_manifest_add_collection(m, "c1");
	j = json_object();
	qbk_manifest_collection_set_config(c, j);
	qbk_manifest_collection_set_vectors(c, j);
	c->points_count = 77;
	qbk_manifest_collection_add_alias(c, "prod");
	qbk_manifest_add_alias(m, "prod", "c1");
	s = qbk_manifest_add_snapshot(m, c, QBK_MANIFEST_SNAP_SHARD);
	s->shard_id = 0;
	store(f, s, a, sizeof(a), "c1-shard-0-2026-11-21-22-15-00.snapshot");
	c = qbk_manifest_add_collection(m, "c2");
	qbk_manifest_collection_set_config(c, j);
	qbk_manifest_collection_set_vectors(c, j);
	json_decref(j);
	s = qbk_manifest_add_snapshot(m, c, QBK_MANIFEST_SNAP_COLLECTION);
	store(f, s, b, sizeof(b), "../c2.snapshot");
	write_manifest(f, m);

	memset(&o, 0, sizeof(o));
	qbk_restore_report_init(&rep);
	/* Two snapshots do not fit in one file. */
	assert_int_equal(qbk_restore_file(f->repo, m, &o, p1, NULL, NULL, &rep,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(access(p1, F_OK), -1);
	/* One does, atomically. */
	o.collections = one;
	o.ncollections = 1;
	assert_int_equal(qbk_restore_file(f->repo, m, &o, p1, NULL, NULL, &rep,
	    &err), 0);
	file_equals(p1, a, sizeof(a));
	assert_int_equal(rep.nitems, 1);
	assert_string_equal(rep.items[0].sha256,
	    m->collections[0]->snapshots[0]->sha256);
	assert_int_equal(rep.items[0].bytes, sizeof(a));
	/* To a callback. */
	assert_int_equal(qbk_restore_file(f->repo, m, &o, "-", collect, &out,
	    &rep, &err), 0);
	assert_int_equal(out.len, sizeof(a));
	assert_memory_equal(out.buf, a, sizeof(a));
	/* All into a folder, under safe names. */
	assert_int_equal(mkdir(dir, 0700), 0);
	o.collections = NULL;
	o.ncollections = 0;
	assert_int_equal(qbk_restore_file(f->repo, m, &o, dir, NULL, NULL, &rep,
	    &err), 0);
	p = path_in(f, "all/c1-shard-0-2026-11-21-22-15-00.snapshot");
	file_equals(p, a, sizeof(a));
	free(p);
	p = path_in(f, "all/.._c2.snapshot");
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	/* "../c2.snapshot" starts with a dot: a made-up name instead. */
	qbk_buf_reset(&out);
	qbk_buf_addf(&out, "%s/all/c2-%s-1.snapshot", f->dir, m->backup_id);
	file_equals(out.buf, b, sizeof(b));
	/* An unknown collection. */
	o.collections = nope;
	o.ncollections = 1;
	qbk_err_clear(&err);
	assert_int_equal(qbk_restore_file(f->repo, m, &o, p1, NULL, NULL, &rep,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.msg, "holds no collection 'nope'"));
	assert_non_null(strstr(err.hint, "c1, c2"));

	/* Listing. */
	qbk_buf_reset(&out);
	qbk_restore_list(m, 0, &out);
	assert_non_null(strstr(out.buf, m->backup_id));
	assert_non_null(strstr(out.buf, "collection c1: 77 points, 1 "
	    "snapshot"));
	assert_non_null(strstr(out.buf, "aliases prod"));
	assert_non_null(strstr(out.buf, m->collections[1]->snapshots[0]->
	    sha256));
	qbk_buf_reset(&out);
	qbk_restore_list(m, 1, &out);
	j = qbk_json_parse(out.buf, out.len, "list", &err);
	assert_non_null(j);
	assert_string_equal(qbk_json_str(j, "backup_id"), m->backup_id);
	assert_string_equal(qbk_json_str(j, "aliases.prod"), "c1");
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_array_size(json_object_get(j, "collections")), 2);
	qbk_json_decref(j);

	/* The report in JSON. */
	qbk_buf_reset(&out);
	qbk_restore_report_json(&rep, 1, NULL, &out);
	j = qbk_json_parse(out.buf, out.len, "report", &err);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_array_size(json_object_get(j, "problems")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "collections")),
	    rep.nitems);
	qbk_json_decref(j);
	qbk_buf_reset(&out);
	qbk_restore_report_json(&rep, 0, &err, &out);
	j = qbk_json_parse(out.buf, out.len, "report", &err);
	assert_non_null(j);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_int_equal(json_array_size(json_object_get(j, "problems")), 1);
	qbk_json_decref(j);

	qbk_restore_report_release(&rep);
	qbk_buf_release(&out);
	qbk_manifest_free(m);
	free(p1);
	free(dir);
}

/* ---- full storage snapshots ------------------------------------------ */

static void
tar_header(struct qbk_buf *t, const char *name, char type, size_t size,
    int gnu)
{
	unsigned char h[512];
	unsigned sum = 0;
	char num[32];
	size_t i;

	memset(h, 0, sizeof(h));
	snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 108, "0000000", 7);
	memcpy(h + 116, "0000000", 7);
	snprintf(num, sizeof(num), "%011zo", size);
	memcpy(h + 124, num, 11);
	memcpy(h + 136, "00000000000", 11);
	h[156] = (unsigned char)type;
	if (gnu)
		memcpy(h + 257, "ustar  ", 8);
	else
		memcpy(h + 257, "ustar\0" "00", 8);
	memset(h + 148, ' ', 8);
	for (i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf(num, sizeof(num), "%06o", sum & 0777777);
	memcpy(h + 148, num, 7);
	qbk_buf_add(t, h, sizeof(h));
}

static void
tar_member(struct qbk_buf *t, const char *name, const void *data,
    size_t len)
{
	static const char zero[512];

	if (strlen(name) >= 100) {
		/* A GNU long name, as Rust's tar crate writes them. */
		tar_header(t, "././@LongLink", 'L', strlen(name) + 1, 1);
		qbk_buf_add(t, name, strlen(name) + 1);
		qbk_buf_add(t, zero, (512 - (strlen(name) + 1) % 512) % 512);
	}
	tar_header(t, name, '0', len, 1);
	qbk_buf_add(t, data, len);
	qbk_buf_add(t, zero, (512 - len % 512) % 512);
}

static void
full_storage_members(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m = new_manifest(T0, NULL);
	struct qbk_manifest_snapshot *s;
	struct qbk_restore_opts o;
	struct qbk_restore_report rep;
	struct qbk_buf tar = QBK_BUF_INIT, out = QBK_BUF_INIT,
	    longname = QBK_BUF_INIT;
	static const char zero[1024];
	static uint8_t a[7000], b[12345];
	const char *pick[1];
	char *p = path_in(f, "full.snapshot");

	fill(a, sizeof(a), 3);
	fill(b, sizeof(b), 4);
	/* A name longer than a tar header holds, with dashes inside. */
	qbk_buf_addstr(&longname, "very-long-");
	while (longname.len < 120)
		qbk_buf_addstr(&longname, "name-");
	qbk_buf_addstr(&longname, "2");
	tar_member(&tar, "config.json", "{}", 2);
	tar_member(&tar, "c-1-9-2026-11-21-22-15-00.snapshot", a, sizeof(a));
	qbk_buf_addf(&out, "%s-18446744073709551615-2026-11-21-22-15-00."
	    "snapshot", longname.buf);
	tar_member(&tar, out.buf, b, sizeof(b));
	qbk_buf_add(&tar, zero, sizeof(zero));

	m->kind = QBK_MANIFEST_KIND_FULL_STORAGE;
	s = qbk_manifest_add_snapshot(m, NULL, QBK_MANIFEST_SNAP_FULL);
	store(f, s, tar.buf, tar.len, "full-snapshot-2026-11-21-22-15-00."
	    "snapshot");
	qbk_manifest_snapshot_add_entry(s, "config.json",
	    QBK_MANIFEST_ENTRY_FILE, 2);
	qbk_manifest_snapshot_add_entry(s, "c-1-9-2026-11-21-22-15-00.snapshot",
	    QBK_MANIFEST_ENTRY_FILE, sizeof(a));
	qbk_manifest_snapshot_add_entry(s, out.buf, QBK_MANIFEST_ENTRY_FILE,
	    sizeof(b));
	write_manifest(f, m);

	memset(&o, 0, sizeof(o));
	qbk_restore_report_init(&rep);
	/* No collection chosen: the full snapshot itself. */
	assert_int_equal(qbk_restore_file(f->repo, m, &o, p, NULL, NULL, &rep,
	    &err), 0);
	file_equals(p, tar.buf, tar.len);
	/* A collection: its snapshot inside, found by its member name. */
	pick[0] = "c-1";
	o.collections = pick;
	o.ncollections = 1;
	qbk_buf_reset(&out);
	if (qbk_restore_file(f->repo, m, &o, NULL, collect, &out, &rep,
	    &err) != 0)
		fail_msg("c-1: %s", err.msg);
	assert_int_equal(out.len, sizeof(a));
	assert_memory_equal(out.buf, a, sizeof(a));
	pick[0] = longname.buf;
	qbk_buf_reset(&out);
	if (qbk_restore_file(f->repo, m, &o, NULL, collect, &out, &rep,
	    &err) != 0)
		fail_msg("long name: %s", err.msg);
	assert_int_equal(out.len, sizeof(b));
	assert_memory_equal(out.buf, b, sizeof(b));
	/* What the listing shows of it. */
	qbk_buf_reset(&out);
	qbk_restore_list(m, 0, &out);
	assert_non_null(strstr(out.buf, "collection c-1: 6.8 KiB in "
	    "'c-1-9-2026-11-21-22-15-00.snapshot'"));
	assert_null(strstr(out.buf, "collection config"));
	/* "config" is not a collection of it. */
	pick[0] = "config";
	qbk_err_clear(&err);
	assert_int_equal(qbk_restore_file(f->repo, m, &o, NULL, collect, &out,
	    &rep, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	qbk_restore_report_release(&rep);
	qbk_buf_release(&tar);
	qbk_buf_release(&out);
	qbk_buf_release(&longname);
	qbk_manifest_free(m);
	free(p);
}

/* ---- into the simulator, as qbk-drill would ------------------------- */

static struct qbk_qdrant *
client(const char *url)
{
	struct qbk_http_opts ho;
	struct qbk_qdrant *q = NULL;
	struct qbk_err err = QBK_ERR_INIT;

	qbk_http_opts_init(&ho);
	ho.base_url = url;
	ho.retries = 0;
	if (qbk_qdrant_new(&q, &ho, &err) != 0)
		fail_msg("client: %s", err.msg);
	return q;
}

static uint64_t
count(struct qbk_qdrant *q, const char *coll)
{
	struct qbk_err err = QBK_ERR_INIT;
	uint64_t n = 0;

	if (qbk_qdrant_count(q, coll, NULL, &n, &err) != 0)
		fail_msg("count %s: %s", coll, err.msg);
	return n;
}

static void
restore_with_prefix(void **state)
{
	struct fixture *f = *state;
	struct tu_sim sim, cluster;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_backup_opts bo;
	struct qbk_restore_opts o;
	struct qbk_restore_report rep;
	struct qbk_manifest *m = NULL;
	struct qbk_qdrant *q, *cq;
	int exists = 1;

	if (tu_sim_start(&sim, 1, "--generate", "c1:500:8:1", "--generate",
	    "c2:120:4:2", NULL) != 0)
		fail_msg("cannot start the simulator");
	q = client(sim.url[0]);
	memset(&bo, 0, sizeof(bo));
	bo.zstd_level = -1;
	if (qbk_backup_run(f->repo, q, &bo, &m, &err) != 0)
		fail_msg("backup: %s", err.msg);

	memset(&o, 0, sizeof(o));
	o.prefix = "scratch_";
	o.no_aliases = 1;
	qbk_restore_report_init(&rep);
	if (qbk_restore_run(f->repo, q, m, &o, &rep, &err) != 0)
		fail_msg("restore: %s", err.msg);
	assert_int_equal(rep.nitems, 2);
	assert_string_equal(rep.items[0].target, "scratch_c1");
	assert_string_equal(rep.items[1].target, "scratch_c2");
	assert_string_equal(rep.items[0].sha256,
	    m->collections[0]->snapshots[0]->sha256);
	assert_int_equal(count(q, "scratch_c1"), 500);
	assert_int_equal(count(q, "scratch_c2"), 120);
	assert_string_equal(rep.safety_backup_id, "");
	qbk_restore_report_release(&rep);

	/* Again: the scratch copies exist now. */
	qbk_err_clear(&err);
	assert_int_equal(qbk_restore_run(f->repo, q, m, &o, &rep, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.msg, "'scratch_c1', 'scratch_c2' exist"));
	assert_int_equal(rep.nitems, 0);
	qbk_restore_report_release(&rep);

	/* With force, after a safety backup. */
	o.force = 1;
	if (qbk_restore_run(f->repo, q, m, &o, &rep, &err) != 0)
		fail_msg("restore --force: %s", err.msg);
	assert_int_equal(rep.nitems, 2);
	assert_true(rep.items[0].replaced);
	assert_true(qbk_manifest_id_valid(rep.safety_backup_id));
	assert_int_equal(count(q, "scratch_c1"), 500);
	qbk_restore_report_release(&rep);

	/* A name and a prefix do not go together. */
	o.as = "x";
	qbk_err_clear(&err);
	assert_int_equal(qbk_restore_run(f->repo, q, m, &o, &rep, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	qbk_restore_report_release(&rep);
	o.as = NULL;

	/* A distributed target takes shard snapshots shard by shard (the
	 * one shard of each collection lands on the node asked: the other
	 * peers' addresses are unknown here). */
	if (tu_sim_start(&cluster, 3, NULL) != 0)
		fail_msg("cannot start the cluster simulator");
	cq = client(cluster.url[0]);
	o.force = 0;
	qbk_err_clear(&err);
	if (qbk_restore_run(f->repo, cq, m, &o, &rep, &err) != 0)
		fail_msg("restore into a cluster: %s", err.msg);
	assert_int_equal(rep.nitems, 2);
	assert_int_equal(rep.items[0].nsnaps, 1);
	assert_int_equal(rep.items[0].snaps[0].shard_id, 0);
	assert_int_equal(qbk_qdrant_collection_exists(cq, "scratch_c1",
	    &exists, &err), 0);
	assert_true(exists);
	assert_int_equal(count(cq, "scratch_c1"), 500);
	qbk_restore_report_release(&rep);

	qbk_qdrant_free(cq);
	tu_sim_stop(&cluster);
	qbk_manifest_free(m);
	qbk_qdrant_free(q);
	tu_sim_stop(&sim);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_time_forms),
		cmocka_unit_test(version_skew),
		cmocka_unit_test_setup_teardown(choose_by_collections, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(select_backups, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(files_and_listing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(full_storage_members, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(restore_with_prefix, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
