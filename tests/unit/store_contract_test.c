#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "storage/qbk_store.h"
#include "testutil.h"

/*
 * The store contract: the same cases against every driver, a local folder
 * and S3 on s3rver (started here with tests/s3/s3rver-start, found from
 * $QBK_TOP or the current folder; no s3rver is a failure, never a skip).
 */

struct drv {
	struct qbk_store *s;
	char *dir;		/* scratch folder (local root, s3rver data) */
	pid_t s3pid;		/* s3rver, or 0 */
};

static int
open_local(struct drv *d)
{
	struct qbk_store_opts o = QBK_STORE_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	if ((d->dir = tu_tmpdir("contract")) == NULL)
		return -1;
	o.create = 1;
	o.sync = QBK_STORE_SYNC_NONE;
	if (qbk_store_open(d->dir, &o, &d->s, &err) != 0) {
		fprintf(stderr, "open %s: %s\n", d->dir, err.msg);
		return -1;
	}
	return 0;
}

/* Start s3rver with the bucket "qbk" in ${d->dir}; its port, or -1. */
static int
s3rver_start(struct drv *d)
{
	const char *top = getenv("QBK_TOP");
	char cmd[2048];
	int port, pid;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s/tests/s3/s3rver-start' --directory "
	    "'%s/data' --bucket qbk --log '%s/log'",
	    top != NULL && *top != '\0' ? top : ".", d->dir, d->dir);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	if (fscanf(p, "%d %d", &port, &pid) != 2) {
		pclose(p);
		return -1;
	}
	pclose(p);
	d->s3pid = (pid_t)pid;
	return port;
}

static int
open_s3(struct drv *d)
{
	struct qbk_store_opts o = QBK_STORE_OPTS_INIT;
	struct qbk_store_s3 c;
	struct qbk_err err = QBK_ERR_INIT;
	char endpoint[64];
	int port;

	if ((d->dir = tu_tmpdir("contract-s3")) == NULL)
		return -1;
	if ((port = s3rver_start(d)) < 0) {
		fprintf(stderr, "cannot start s3rver (tests/s3/s3rver-start)\n");
		return -1;
	}
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", port);
	qbk_store_s3_init(&c);
	c.endpoint = endpoint;
	c.access_key = "S3RVER";
	c.secret_key = "S3RVER";
	c.retries = 1;
	c.cache_dir = "";
	o.s3 = &c;
	if (qbk_store_open("s3://qbk/contract", &o, &d->s, &err) != 0) {
		fprintf(stderr, "open s3://qbk/contract: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int
close_drv(struct drv *d)
{
	struct qbk_err err = QBK_ERR_INIT;
	int rc;

	rc = qbk_store_close(d->s, &err);
	if (d->s3pid > 0) {
		kill(d->s3pid, SIGTERM);
		waitpid(d->s3pid, NULL, 0);
	}
	if (d->dir != NULL)
		tu_rmrf(d->dir);
	return rc;
}

/* Both drivers, for the whole run. */
static struct drv drivers[2];

static int
open_all(void **state)
{
	(void)state;
	return open_local(&drivers[0]) != 0 || open_s3(&drivers[1]) != 0 ?
	    -1 : 0;
}

static int
close_all(void **state)
{
	int rc;

	(void)state;
	rc = close_drv(&drivers[0]);
	return close_drv(&drivers[1]) != 0 || rc != 0 ? -1 : 0;
}

static void
put_ok(struct qbk_store *s, const char *key, const char *text)
{
	struct qbk_err err = QBK_ERR_INIT;

	assert_int_equal(qbk_store_put(s, key, text, strlen(text), 0, &err),
	    0);
}

static void
put_get(struct qbk_store *s)
{
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	put_ok(s, "pg/a", "hello");
	assert_int_equal(qbk_store_get(s, "pg/a", 100, &b, &err), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.buf, "hello", 5);
	/* A put replaces. */
	put_ok(s, "pg/a", "bye");
	assert_int_equal(qbk_store_get(s, "pg/a", 100, &b, &err), 0);
	assert_string_equal(b.buf, "bye");
	/* An empty object. */
	put_ok(s, "pg/empty", "");
	assert_int_equal(qbk_store_get(s, "pg/empty", 100, &b, &err), 0);
	assert_int_equal(b.len, 0);
	/* Larger than the caller's limit. */
	assert_int_equal(qbk_store_get(s, "pg/a", 2, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_int_equal(b.len, 0);
	qbk_buf_release(&b);
}

static void
put_ifabsent(struct qbk_store *s)
{
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	assert_int_equal(qbk_store_put(s, "ia/x", "one", 3,
	    QBK_STORE_F_IFABSENT, &err), 0);
	assert_int_equal(qbk_store_put(s, "ia/x", "two", 3,
	    QBK_STORE_F_IFABSENT, &err), 1);
	assert_int_equal(qbk_store_get(s, "ia/x", 100, &b, &err), 0);
	assert_string_equal(b.buf, "one");
	qbk_buf_release(&b);
}

static void
lazy_flush(struct qbk_store *s)
{
	struct qbk_err err = QBK_ERR_INIT;
	char key[32];
	int i;

	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "lz/%02d", i);
		assert_int_equal(qbk_store_put(s, key, key, strlen(key),
		    QBK_STORE_F_LAZY, &err), 0);
	}
	assert_int_equal(qbk_store_flush(s, &err), 0);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "lz/%02d", i);
		assert_int_equal(qbk_store_exists(s, key, &err), 1);
	}
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "lz/%02d", i);
		assert_int_equal(qbk_store_delete(s, key, QBK_STORE_F_LAZY,
		    &err), 0);
	}
	assert_int_equal(qbk_store_flush(s, &err), 0);
	assert_int_equal(qbk_store_exists(s, "lz/00", &err), 0);
}

static void
get_range(struct qbk_store *s)
{
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	put_ok(s, "rg/o", "0123456789");
	assert_int_equal(qbk_store_get_range(s, "rg/o", 3, 4, &b, &err), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.buf, "3456", 4);
	/* The whole object, from 0. */
	assert_int_equal(qbk_store_get_range(s, "rg/o", 0, 10, &b, &err), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.buf, "0123456789", 10);
	/* The last byte. */
	assert_int_equal(qbk_store_get_range(s, "rg/o", 9, 1, &b, &err), 0);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.buf[0], '9');
	/* Nothing, at the end. */
	assert_int_equal(qbk_store_get_range(s, "rg/o", 10, 0, &b, &err), 0);
	assert_int_equal(b.len, 0);
	/* Past the end: a clear error, no bytes. */
	assert_int_equal(qbk_store_get_range(s, "rg/o", 8, 5, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "past its end"));
	assert_non_null(strstr(err.msg, "has 10 bytes"));
	assert_int_equal(b.len, 0);
	qbk_err_clear(&err);
	assert_int_equal(qbk_store_get_range(s, "rg/o", 10, 1, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "past its end"));
	qbk_err_clear(&err);
	assert_int_equal(qbk_store_get_range(s, "rg/o", 11, 0, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	qbk_err_clear(&err);
	assert_int_equal(qbk_store_get_range(s, "rg/o", 0, 11, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	/* A missing object. */
	qbk_err_clear(&err);
	assert_int_equal(qbk_store_get_range(s, "rg/none", 0, 1, &b, &err),
	    -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
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
get_stream(struct qbk_store *s)
{
	struct qbk_buf b = QBK_BUF_INIT, big = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	size_t i;

	for (i = 0; i < 300000; i++)
		qbk_buf_addch(&big, (int)('a' + i % 26));
	assert_int_equal(qbk_store_put(s, "st/big", big.buf, big.len, 0,
	    &err), 0);
	assert_int_equal(qbk_store_get_stream(s, "st/big", collect, &b,
	    &err), 0);
	assert_int_equal(b.len, big.len);
	assert_memory_equal(b.buf, big.buf, big.len);
	assert_int_equal(qbk_store_get_stream(s, "st/none", collect, &b,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	qbk_buf_release(&b);
	qbk_buf_release(&big);
}

static void
stat_exists(struct qbk_store *s)
{
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_store_stat st;
	struct qbk_err err = QBK_ERR_INIT;

	put_ok(s, "se/x", "12345");
	assert_int_equal(qbk_store_stat(s, "se/x", &st, &err), 0);
	assert_int_equal(st.size, 5);
	assert_true(st.mtime > 1700000000);
	assert_int_equal(qbk_store_exists(s, "se/x", &err), 1);
	assert_int_equal(qbk_store_exists(s, "se/y", &err), 0);
	assert_int_equal(qbk_store_stat(s, "se/y", &st, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	qbk_err_clear(&err);
	assert_int_equal(qbk_store_get(s, "se/y", 10, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	qbk_buf_release(&b);
}

struct seen {
	struct qbk_buf keys;	/* "key size\n"... */
	int n, stop_at;
};

static int
seen_one(void *cookie, const char *key, const struct qbk_store_stat *st,
    struct qbk_err *err)
{
	struct seen *v = cookie;

	(void)err;
	v->n++;
	qbk_buf_addf(&v->keys, "%s %lld\n", key,
	    st != NULL ? (long long)st->size : -1LL);
	return v->stop_at > 0 && v->n == v->stop_at ? 7 : 0;
}

static int
has_line(const struct seen *v, const char *line)
{
	char want[128];

	snprintf(want, sizeof(want), "%s\n", line);
	return strstr(v->keys.buf, want) != NULL;
}

static void
list(struct qbk_store *s)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct seen v;

	put_ok(s, "ls/a/1", "a");
	put_ok(s, "ls/a/2", "bb");
	put_ok(s, "ls/b/1", "ccc");
	put_ok(s, "lsx", "dddd");
	memset(&v, 0, sizeof(v));
	qbk_buf_init(&v.keys);
	assert_int_equal(qbk_store_list(s, "ls/", 0, seen_one, &v, &err), 0);
	assert_int_equal(v.n, 3);
	assert_true(has_line(&v, "ls/a/1 -1"));
	assert_true(has_line(&v, "ls/a/2 -1"));
	assert_true(has_line(&v, "ls/b/1 -1"));
	/* With stat: the sizes. */
	qbk_buf_reset(&v.keys);
	v.n = 0;
	assert_int_equal(qbk_store_list(s, "ls/a/", QBK_STORE_LIST_STAT,
	    seen_one, &v, &err), 0);
	assert_int_equal(v.n, 2);
	assert_true(has_line(&v, "ls/a/1 1"));
	assert_true(has_line(&v, "ls/a/2 2"));
	/* A prefix that is not a folder, and one that matches nothing. */
	qbk_buf_reset(&v.keys);
	v.n = 0;
	assert_int_equal(qbk_store_list(s, "ls/none/", 0, seen_one, &v, &err),
	    0);
	assert_int_equal(v.n, 0);
	/* The callback stops the listing with its value. */
	v.n = 0;
	v.stop_at = 2;
	assert_int_equal(qbk_store_list(s, "ls/", 0, seen_one, &v, &err), 7);
	assert_int_equal(v.n, 2);
	qbk_buf_release(&v.keys);
}

static void
delete(struct qbk_store *s)
{
	struct qbk_err err = QBK_ERR_INIT;

	put_ok(s, "dl/x", "x");
	assert_int_equal(qbk_store_delete(s, "dl/x", 0, &err), 0);
	assert_int_equal(qbk_store_exists(s, "dl/x", &err), 0);
	/* Deleting a missing object is not an error. */
	assert_int_equal(qbk_store_delete(s, "dl/x", 0, &err), 0);
	assert_int_equal(qbk_store_delete(s, "dl/never", 0, &err), 0);
}

static void
bad_keys(struct qbk_store *s)
{
	static const char *bad[] = { "", "/a", "a/", "a//b", "../a", "a/.b",
	    ".a", "a b", "a\\b", NULL };
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_store_stat st;
	struct qbk_err err = QBK_ERR_INIT;
	struct seen v;
	int i;

	for (i = 0; bad[i] != NULL; i++) {
		qbk_err_clear(&err);
		assert_int_equal(qbk_store_put(s, bad[i], "x", 1, 0, &err),
		    -1);
		assert_int_equal(err.code, QBK_E_INTERNAL);
		qbk_err_clear(&err);
		assert_int_equal(qbk_store_get(s, bad[i], 10, &b, &err), -1);
		assert_int_equal(err.code, QBK_E_INTERNAL);
		qbk_err_clear(&err);
		assert_int_equal(qbk_store_get_range(s, bad[i], 0, 1, &b,
		    &err), -1);
		assert_int_equal(err.code, QBK_E_INTERNAL);
		qbk_err_clear(&err);
		assert_int_equal(qbk_store_stat(s, bad[i], &st, &err), -1);
		assert_int_equal(err.code, QBK_E_INTERNAL);
		qbk_err_clear(&err);
		assert_int_equal(qbk_store_delete(s, bad[i], 0, &err), -1);
		assert_int_equal(err.code, QBK_E_INTERNAL);
	}
	memset(&v, 0, sizeof(v));
	qbk_buf_init(&v.keys);
	assert_int_equal(qbk_store_list(s, "../", 0, seen_one, &v, &err), -1);
	assert_int_equal(err.code, QBK_E_INTERNAL);
	qbk_buf_release(&v.keys);
	qbk_buf_release(&b);
}

/* Each case, once per driver. */
#define ON_BOTH(c) \
static void \
local_##c(void **state) \
{ \
	(void)state; \
	c(drivers[0].s); \
} \
static void \
s3_##c(void **state) \
{ \
	(void)state; \
	c(drivers[1].s); \
}

ON_BOTH(put_get)
ON_BOTH(put_ifabsent)
ON_BOTH(lazy_flush)
ON_BOTH(get_range)
ON_BOTH(get_stream)
ON_BOTH(stat_exists)
ON_BOTH(list)
ON_BOTH(delete)
ON_BOTH(bad_keys)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(local_put_get),
		cmocka_unit_test(local_put_ifabsent),
		cmocka_unit_test(local_lazy_flush),
		cmocka_unit_test(local_get_range),
		cmocka_unit_test(local_get_stream),
		cmocka_unit_test(local_stat_exists),
		cmocka_unit_test(local_list),
		cmocka_unit_test(local_delete),
		cmocka_unit_test(local_bad_keys),
		cmocka_unit_test(s3_put_get),
		cmocka_unit_test(s3_put_ifabsent),
		cmocka_unit_test(s3_lazy_flush),
		cmocka_unit_test(s3_get_range),
		cmocka_unit_test(s3_get_stream),
		cmocka_unit_test(s3_stat_exists),
		cmocka_unit_test(s3_list),
		cmocka_unit_test(s3_delete),
		cmocka_unit_test(s3_bad_keys),
	};

	return cmocka_run_group_tests(tests, open_all, close_all);
}
