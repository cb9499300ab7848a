#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "storage/qbk_store.h"
#include "testutil.h"

struct fixture {
	char *dir;		/* scratch folder */
	char *repo;		/* <dir>/repo */
	struct qbk_store *store;
};

static char *
path2(const char *a, const char *b)
{
	struct qbk_buf p = QBK_BUF_INIT;

	qbk_buf_addf(&p, "%s/%s", a, b);
	return qbk_buf_detach(&p, NULL);
}

static int
setup_sync(void **state, enum qbk_store_sync sync)
{
	struct qbk_store_opts o = QBK_STORE_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct fixture *f = calloc(1, sizeof(*f));

	umask(022);
	if (f == NULL || (f->dir = tu_tmpdir("store")) == NULL)
		return -1;
	f->repo = path2(f->dir, "repo");
	o.create = 1;
	o.sync = sync;
	if (qbk_store_open(f->repo, &o, &f->store, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_sync(state, QBK_STORE_SYNC_FILE);
}

static int
setup_batch(void **state)
{
	return setup_sync(state, QBK_STORE_SYNC_BATCH);
}

static int
setup_none(void **state)
{
	return setup_sync(state, QBK_STORE_SYNC_NONE);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(qbk_store_close(f->store, NULL), 0);
	tu_rmrf(f->dir);
	free(f->repo);
	free(f);
	return 0;
}

static void
chunk_key(char *key, size_t size, unsigned n)
{
	char hex[65];
	unsigned x = n * 2654435761u + 7;
	int i;

	for (i = 0; i < 64; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		hex[i] = "0123456789abcdef"[x & 15];
	}
	hex[64] = '\0';
	snprintf(key, size, "data/%.2s/%s", hex, hex);
}

static mode_t
mode_of(const char *dir, const char *rel)
{
	char *p = path2(dir, rel);
	struct stat st;

	assert_int_equal(lstat(p, &st), 0);
	free(p);
	return st.st_mode & 07777;
}

static void
open_locations(void **state)
{
	struct qbk_store_opts o = QBK_STORE_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	char *dir = tu_tmpdir("store-open");
	char *repo = path2(dir, "a/b/repo"), *file = path2(dir, "file");
	char *odd = path2(dir, "x://y");
	struct qbk_store *s = (struct qbk_store *)&err;

	(void)state;
	assert_int_equal(qbk_store_open(repo, NULL, &s, &err), -1);
	assert_null(s);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "does not exist"));
	assert_non_null(strstr(err.hint, "qbk-init"));
	o.create = 1;
	assert_int_equal(qbk_store_open(repo, &o, &s, &err), 0);
	assert_string_equal(qbk_store_location(s), repo);
	assert_int_equal(qbk_store_close(s, &err), 0);
	assert_int_equal(mode_of(dir, "a/b/repo"), 0700);
	assert_int_equal(mode_of(dir, "a"), 0700);
	assert_int_equal(qbk_store_open(repo, NULL, &s, &err), 0);
	assert_int_equal(qbk_store_close(s, &err), 0);
	assert_int_equal(qbk_store_close(NULL, &err), 0);

	/* S3 locations go to the S3 backend (tests/unit/s3_test.c); one
	 * without a bucket is a configuration error. */
	assert_int_equal(qbk_store_open("s3:///prefix", &o, &s, &err), -1);
	assert_null(s);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_non_null(strstr(err.msg, "no bucket"));
	assert_int_equal(qbk_store_open("ftp://host/x", &o, &s, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_non_null(strstr(err.msg, "unsupported repository location"));
	assert_int_equal(qbk_store_open("", &o, &s, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	/* "://" after a slash is just part of a path. */
	assert_int_equal(qbk_store_open(odd, &o, &s, &err), 0);
	assert_int_equal(qbk_store_close(s, &err), 0);
	assert_int_equal(tu_write_file(file, "x"), 0);
	/* A file is the operator's mistake (exit 2), like a bad location. */
	assert_int_equal(qbk_store_open(file, &o, &s, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_non_null(strstr(err.msg, "is not a folder"));
	free(repo);
	free(file);
	free(odd);
	tu_rmrf(dir);
}

static void
put_get_stat_delete(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_store_stat st;
	char key[128];
	const char *keys[] = { "config", "keys/k1", NULL, "backups/"
	    "20261121T221500Z-3f9a", "drills/20261121T231500Z-0001", NULL };
	size_t i;

	chunk_key(key, sizeof(key), 1);
	keys[2] = key;
	for (i = 0; keys[i] != NULL; i++) {
		assert_int_equal(qbk_store_exists(f->store, keys[i], &err), 0);
		assert_int_equal(qbk_store_put(f->store, keys[i], keys[i],
		    strlen(keys[i]), 0, &err), 0);
		assert_int_equal(qbk_store_exists(f->store, keys[i], &err), 1);
		assert_int_equal(qbk_store_get(f->store, keys[i], 4096, &b,
		    &err), 0);
		assert_string_equal(b.buf, keys[i]);
		assert_int_equal(qbk_store_stat(f->store, keys[i], &st, &err),
		    0);
		assert_int_equal(st.size, strlen(keys[i]));
		assert_true(st.mtime > time(NULL) - 60);
		assert_int_equal(mode_of(f->repo, keys[i]), 0600);
	}
	assert_int_equal(mode_of(f->repo, "keys"), 0700);
	assert_int_equal(mode_of(f->repo, "data"), 0700);
	key[7] = '\0';		/* "data/xx" */
	assert_int_equal(mode_of(f->repo, key), 0700);
	assert_int_equal(mode_of(f->repo, "backups"), 0700);

	/* Replacing an object. */
	assert_int_equal(qbk_store_put(f->store, "config", "v2", 2, 0, &err),
	    0);
	assert_int_equal(qbk_store_get(f->store, "config", 4096, &b, &err),
	    0);
	assert_string_equal(b.buf, "v2");

	/* Errors. */
	assert_int_equal(qbk_store_get(f->store, "keys/k2", 4096, &b, &err),
	    -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "object 'keys/k2' not found"));
	assert_int_equal(b.len, 0);
	assert_int_equal(qbk_store_stat(f->store, "keys/k2", &st, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_int_equal(qbk_store_stat(f->store, "keys", &st, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_int_equal(qbk_store_exists(f->store, "keys/k1/x", &err), 0);
	assert_int_equal(qbk_store_get(f->store, "keys/k1", 3, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "larger than 3 bytes"));

	/* Deletes are idempotent. */
	assert_int_equal(qbk_store_delete(f->store, "keys/k1", 0, &err), 0);
	assert_int_equal(qbk_store_exists(f->store, "keys/k1", &err), 0);
	assert_int_equal(qbk_store_delete(f->store, "keys/k1", 0, &err), 0);
	assert_int_equal(qbk_store_delete(f->store, "nothere/x", 0, &err), 0);
	qbk_buf_release(&b);
}

static void
invalid_keys(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	const char *bad[] = { "", "/abs", "../x", "a/../b", ".hidden",
	    "data/.x.tmp.1.00000000", "a//b", "a/", "a b", "a\\b", "é",
	    "locks/.lock", ".", NULL };
	char longkey[QBK_STORE_KEY_MAX + 2];
	size_t i;

	for (i = 0; bad[i] != NULL; i++) {
		assert_false(qbk_store_key_valid(bad[i]));
		assert_int_equal(qbk_store_put(f->store, bad[i], "x", 1, 0,
		    &err), -1);
		assert_int_equal(err.code, QBK_E_INTERNAL);
		assert_non_null(strstr(err.msg, "invalid repository key"));
		assert_int_equal(qbk_store_get(f->store, bad[i], 10, &b,
		    &err), -1);
		assert_int_equal(qbk_store_delete(f->store, bad[i], 0, &err),
		    -1);
		assert_int_equal(qbk_store_exists(f->store, bad[i], &err),
		    -1);
	}
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_false(qbk_store_key_valid(longkey));
	longkey[QBK_STORE_KEY_MAX] = '\0';
	assert_true(qbk_store_key_valid(longkey));
	assert_true(qbk_store_key_valid("a.b/c_d-E9"));
	assert_int_equal(qbk_store_list(f->store, "../", 0, NULL, NULL, &err),
	    -1);
	assert_int_equal(err.code, QBK_E_INTERNAL);
	qbk_buf_release(&b);
}

static void
put_if_absent(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	struct stat st1, st2;
	char key[128], *p;

	chunk_key(key, sizeof(key), 7);
	p = path2(f->repo, key);
	assert_int_equal(qbk_store_put(f->store, key, "one", 3,
	    QBK_STORE_F_IFABSENT, &err), 0);
	assert_int_equal(stat(p, &st1), 0);
	assert_int_equal(qbk_store_put(f->store, key, "two", 3,
	    QBK_STORE_F_IFABSENT | QBK_STORE_F_LAZY, &err), 1);
	assert_int_equal(qbk_store_put(f->store, key, "two", 3,
	    QBK_STORE_F_IFABSENT, &err), 1);
	assert_int_equal(stat(p, &st2), 0);
	/* Not rewritten: same inode, same content. */
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(qbk_store_get(f->store, key, 100, &b, &err), 0);
	assert_string_equal(b.buf, "one");
	/* Without the flag the object is replaced. */
	assert_int_equal(qbk_store_put(f->store, key, "two", 3, 0, &err), 0);
	assert_int_equal(qbk_store_get(f->store, key, 100, &b, &err), 0);
	assert_string_equal(b.buf, "two");
	qbk_buf_release(&b);
	free(p);
}

struct collected {
	struct qbk_buf keys;	/* sorted at the end, one per line */
	size_t n;
	uint64_t bytes;
	int stop_at;		/* return 1 (stop) at this call; 0: never */
	int fail_at;		/* return -1 at this call */
};

static int
collect(void *cookie, const char *key, const struct qbk_store_stat *st,
    struct qbk_err *err)
{
	struct collected *c = cookie;

	c->n++;
	qbk_buf_addf(&c->keys, "%s\n", key);
	if (st != NULL)
		c->bytes += st->size;
	if (c->fail_at != 0 && (int)c->n == c->fail_at)
		return qbk_err_set(err, QBK_E_INTERNAL, "callback failed");
	if (c->stop_at != 0 && (int)c->n == c->stop_at)
		return 7;
	return 0;
}

static int
by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The collected keys, sorted, joined with spaces. */
static char *
sorted(struct collected *c)
{
	struct qbk_buf out = QBK_BUF_INIT;
	char *v[256], *s, *save = NULL;
	size_t n = 0, i;

	for (s = strtok_r(c->keys.buf, "\n", &save); s != NULL && n < 256;
	    s = strtok_r(NULL, "\n", &save))
		v[n++] = s;
	qsort(v, n, sizeof(v[0]), by_str);
	for (i = 0; i < n; i++)
		qbk_buf_addf(&out, "%s%s", i > 0 ? " " : "", v[i]);
	qbk_buf_release(&c->keys);
	c->n = 0;
	c->bytes = 0;
	return qbk_buf_detach(&out, NULL);
}

static void
assert_list(struct qbk_store *s, const char *prefix, const char *want)
{
	struct collected c = { QBK_BUF_INIT, 0, 0, 0, 0 };
	struct qbk_err err = QBK_ERR_INIT;
	char *got;

	assert_int_equal(qbk_store_list(s, prefix, 0, collect, &c, &err), 0);
	got = sorted(&c);
	assert_string_equal(got, want);
	free(got);
}

static void
listing(void **state)
{
	struct fixture *f = *state;
	struct collected c = { QBK_BUF_INIT, 0, 0, 0, 0 };
	struct qbk_err err = QBK_ERR_INIT;
	const char *keys[] = { "config", "keys/k1", "data/ab/ab01",
	    "data/ab/ab02", "data/cd/cd01", "backups/20261121T221500Z-3f9a",
	    "backups/20270101T000000Z-0000", "locks/0123456789abcdef", NULL };
	char *p, *got;
	size_t i;

	assert_list(f->store, "", "");
	assert_list(f->store, "data/", "");
	for (i = 0; keys[i] != NULL; i++)
		assert_int_equal(qbk_store_put(f->store, keys[i], "12345", 5,
		    QBK_STORE_F_LAZY, &err), 0);
	assert_int_equal(qbk_store_flush(f->store, &err), 0);
	/* Backend files and odd names are not objects. */
	p = path2(f->repo, "data/ab/.ab03.tmp.1.00000000");
	assert_int_equal(tu_write_file(p, "x"), 0);
	free(p);
	p = path2(f->repo, "data/ab/bad name");
	assert_int_equal(tu_write_file(p, "x"), 0);
	free(p);
	p = path2(f->repo, "locks/.lock");
	assert_int_equal(tu_write_file(p, ""), 0);
	free(p);

	assert_list(f->store, "data/", "data/ab/ab01 data/ab/ab02 "
	    "data/cd/cd01");
	assert_list(f->store, "data/ab/", "data/ab/ab01 data/ab/ab02");
	assert_list(f->store, "data/ab/ab0", "data/ab/ab01 data/ab/ab02");
	assert_list(f->store, "data/c", "data/cd/cd01");
	assert_list(f->store, "data", "data/ab/ab01 data/ab/ab02 "
	    "data/cd/cd01");
	assert_list(f->store, "backups/2026", "backups/"
	    "20261121T221500Z-3f9a");
	assert_list(f->store, "locks/", "locks/0123456789abcdef");
	assert_list(f->store, "nothere/", "");
	assert_list(f->store, "config", "config");
	assert_list(f->store, "", "backups/20261121T221500Z-3f9a "
	    "backups/20270101T000000Z-0000 config data/ab/ab01 data/ab/ab02 "
	    "data/cd/cd01 keys/k1 locks/0123456789abcdef");

	assert_int_equal(qbk_store_list(f->store, "data/", QBK_STORE_LIST_STAT,
	    collect, &c, &err), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.bytes, 15);
	free(sorted(&c));
	c.stop_at = 2;
	assert_int_equal(qbk_store_list(f->store, "", 0, collect, &c, &err),
	    7);
	assert_int_equal(c.n, 2);
	free(sorted(&c));
	c.stop_at = 0;
	c.fail_at = 3;
	assert_int_equal(qbk_store_list(f->store, "", 0, collect, &c, &err),
	    -1);
	assert_string_equal(err.msg, "callback failed");
	got = sorted(&c);
	free(got);

	/* Deleting while listing (what prune does) is fine. */
	assert_int_equal(qbk_store_delete(f->store, "data/ab/ab01",
	    QBK_STORE_F_LAZY, &err), 0);
	assert_int_equal(qbk_store_delete(f->store, "data/cd/cd01",
	    QBK_STORE_F_LAZY, &err), 0);
	assert_int_equal(qbk_store_flush(f->store, &err), 0);
	assert_list(f->store, "data/", "data/ab/ab02");
}

static void
lazy_then_durable(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	char key[128], *dir, *sub;
	unsigned i;

	for (i = 0; i < 300; i++) {
		chunk_key(key, sizeof(key), i);
		assert_int_equal(qbk_store_put(f->store, key, key, 20,
		    QBK_STORE_F_LAZY | QBK_STORE_F_IFABSENT, &err), 0);
	}
	assert_int_equal(qbk_store_flush(f->store, &err), 0);
	assert_int_equal(qbk_store_flush(f->store, &err), 0);
	for (i = 0; i < 300; i++) {
		chunk_key(key, sizeof(key), i);
		assert_int_equal(qbk_store_get(f->store, key, 100, &b, &err),
		    0);
		assert_int_equal(b.len, 20);
		assert_memory_equal(b.buf, key, 20);
	}

	/*
	 * A non-lazy put first makes the lazy ones durable.  Make that flush
	 * fail (in FILE mode, by removing a folder it must fsync) to see
	 * that the manifest is then not written.
	 */
	assert_int_equal(qbk_store_put(f->store, "data/zz/zz01", "c", 1,
	    QBK_STORE_F_LAZY, &err), 0);
	dir = path2(f->repo, "data/zz");
	sub = path2(dir, "zz01");
	assert_int_equal(unlink(sub), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(qbk_store_put(f->store, "backups/"
	    "20261121T221500Z-3f9a", "m", 1, 0, &err), -1);
	assert_non_null(strstr(err.msg, "data/zz"));
	assert_int_equal(qbk_store_exists(f->store, "backups/"
	    "20261121T221500Z-3f9a", &err), 0);
	/* Still dirty: the next flush retries. */
	assert_int_equal(qbk_store_flush(f->store, &err), -1);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(qbk_store_put(f->store, "backups/"
	    "20261121T221500Z-3f9a", "m", 1, 0, &err), 0);
	assert_int_equal(qbk_store_exists(f->store, "backups/"
	    "20261121T221500Z-3f9a", &err), 1);
	qbk_buf_release(&b);
	free(dir);
	free(sub);
}

static void
sync_modes(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	char key[128];
	unsigned i;

	/* BATCH and NONE stores keep the same contract. */
	for (i = 0; i < 50; i++) {
		chunk_key(key, sizeof(key), i);
		assert_int_equal(qbk_store_put(f->store, key, "abc", 3,
		    QBK_STORE_F_LAZY | QBK_STORE_F_IFABSENT, &err), 0);
	}
	assert_int_equal(qbk_store_put(f->store, "config", "cfg", 3, 0, &err),
	    0);
	assert_int_equal(qbk_store_flush(f->store, &err), 0);
	assert_int_equal(qbk_store_delete(f->store, key, QBK_STORE_F_LAZY,
	    &err), 0);
	assert_int_equal(qbk_store_flush(f->store, &err), 0);
	assert_int_equal(qbk_store_exists(f->store, key, &err), 0);
	chunk_key(key, sizeof(key), 3);
	assert_int_equal(qbk_store_get(f->store, key, 100, &b, &err), 0);
	assert_string_equal(b.buf, "abc");
	assert_int_equal(mode_of(f->repo, key), 0600);
	qbk_buf_release(&b);
}

static void
sync_batch(void **state)
{
	sync_modes(state);
}

static void
sync_none(void **state)
{
	sync_modes(state);
}

struct worker {
	struct qbk_store *store;
	unsigned first, count;
	int written, present, failed;
};

static void *
put_worker(void *arg)
{
	struct worker *w = arg;
	struct qbk_err err = QBK_ERR_INIT;
	char key[128], data[1000];
	unsigned i;
	int rc;

	memset(data, 'q', sizeof(data));
	for (i = w->first; i < w->first + w->count; i++) {
		chunk_key(key, sizeof(key), i);
		rc = qbk_store_put(w->store, key, data, sizeof(data),
		    QBK_STORE_F_LAZY | QBK_STORE_F_IFABSENT, &err);
		if (rc == 0)
			w->written++;
		else if (rc == 1)
			w->present++;
		else
			w->failed++;
	}
	return NULL;
}

static void
run_concurrent_puts(struct fixture *f, int batch)
{
	struct collected c = { QBK_BUF_INIT, 0, 0, 0, 0 };
	struct qbk_err err = QBK_ERR_INIT;
	struct worker w[4];
	size_t removed = 0;
	pthread_t t[4];
	int i, written = 0, present = 0;

	/* Four threads over overlapping ranges: 0..799, 200..999, ... */
	for (i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].store = f->store;
		w[i].first = (unsigned)i * 200;
		w[i].count = 800;
		assert_int_equal(pthread_create(&t[i], NULL, put_worker,
		    &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failed, 0);
		written += w[i].written;
		present += w[i].present;
	}
	assert_int_equal(qbk_store_flush(f->store, &err), 0);
	if (batch) {
		/* Queued duplicates count as written; one copy is kept. */
		assert_true(written >= 1400);
		assert_int_equal(written + present, 4 * 800);
	} else {
		assert_int_equal(written, 1400);
		assert_int_equal(present, 4 * 800 - 1400);
	}
	assert_int_equal(qbk_store_list(f->store, "data/", QBK_STORE_LIST_STAT,
	    collect, &c, &err), 0);
	assert_int_equal(c.n, 1400);
	assert_int_equal(c.bytes, 1400 * 1000);
	qbk_buf_release(&c.keys);
	/* No temporary file is left over. */
	assert_int_equal(qbk_store_remove_stale(f->store, -3600, &removed,
	    &err), 0);
	assert_int_equal(removed, 0);
}

static void
concurrent_puts(void **state)
{
	run_concurrent_puts(*state, 0);
}

static void
concurrent_puts_batch(void **state)
{
	run_concurrent_puts(*state, 1);
}

static void
batch_visibility(void **state)
{
	struct fixture *f = *state;
	struct qbk_store_opts o = QBK_STORE_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	size_t removed = 0;
	char key[128];
	unsigned i;

	chunk_key(key, sizeof(key), 1);
	assert_int_equal(qbk_store_put(f->store, key, "abc", 3,
	    QBK_STORE_F_LAZY, &err), 0);
	/* Queued, not yet renamed into place. */
	assert_int_equal(qbk_store_exists(f->store, key, &err), 0);
	assert_int_equal(qbk_store_flush(f->store, &err), 0);
	assert_int_equal(qbk_store_exists(f->store, key, &err), 1);
	/* A non-lazy put commits the queue before it. */
	chunk_key(key, sizeof(key), 2);
	assert_int_equal(qbk_store_put(f->store, key, "abc", 3,
	    QBK_STORE_F_LAZY, &err), 0);
	assert_int_equal(qbk_store_put(f->store, "backups/b1", "m", 1, 0,
	    &err), 0);
	assert_int_equal(qbk_store_exists(f->store, key, &err), 1);
	/* The queue commits by itself every 1024 objects. */
	for (i = 100; i < 100 + 1030; i++) {
		chunk_key(key, sizeof(key), i);
		assert_int_equal(qbk_store_put(f->store, key, "x", 1,
		    QBK_STORE_F_LAZY | QBK_STORE_F_IFABSENT, &err), 0);
	}
	chunk_key(key, sizeof(key), 100);
	assert_int_equal(qbk_store_exists(f->store, key, &err), 1);
	chunk_key(key, sizeof(key), 100 + 1029);
	assert_int_equal(qbk_store_exists(f->store, key, &err), 0);
	/* Closing without a flush drops the queue and its files. */
	assert_int_equal(qbk_store_close(f->store, &err), 0);
	o.sync = QBK_STORE_SYNC_BATCH;
	assert_int_equal(qbk_store_open(f->repo, &o, &f->store, &err), 0);
	assert_int_equal(qbk_store_exists(f->store, key, &err), 0);
	assert_int_equal(qbk_store_remove_stale(f->store, -3600, &removed,
	    &err), 0);
	assert_int_equal(removed, 0);
}

static int
stream_cb(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	(void)err;
	qbk_buf_add(cookie, data, len);
	return 0;
}

static void
get_stream_and_stale(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	struct timespec ts[2];
	size_t removed = 0;
	char *p;

	assert_int_equal(qbk_store_put(f->store, "backups/x", "manifest", 8,
	    0, &err), 0);
	assert_int_equal(qbk_store_get_stream(f->store, "backups/x", stream_cb,
	    &b, &err), 0);
	assert_string_equal(b.buf, "manifest");
	assert_int_equal(qbk_store_get_stream(f->store, "backups/y", stream_cb,
	    &b, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "object 'backups/y' not found"));

	/* A crashed writer's temporary file, two hours old. */
	p = path2(f->repo, "backups/.y.tmp.99.01234567");
	assert_int_equal(tu_write_file(p, "partial"), 0);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 7200;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	assert_int_equal(qbk_store_remove_stale(f->store, 86400, &removed,
	    &err), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(qbk_store_remove_stale(f->store, 3600, &removed,
	    &err), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	qbk_buf_release(&b);
}

static void
host_lock(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	void *t1, *t2, *t3;

	assert_int_equal(qbk_store_host_lock(f->store, 0, &t1, &err), 0);
	assert_non_null(t1);
	assert_int_equal(qbk_store_host_lock(f->store, 0, &t2, &err), 0);
	assert_int_equal(qbk_store_host_lock(f->store, 1, &t3, &err), 1);
	assert_null(t3);
	qbk_store_host_unlock(f->store, t1);
	assert_int_equal(qbk_store_host_lock(f->store, 1, &t3, &err), 1);
	qbk_store_host_unlock(f->store, t2);
	assert_int_equal(qbk_store_host_lock(f->store, 1, &t3, &err), 0);
	assert_int_equal(qbk_store_host_lock(f->store, 0, &t1, &err), 1);
	qbk_store_host_unlock(f->store, t3);
	qbk_store_host_unlock(f->store, NULL);
	assert_int_equal(mode_of(f->repo, "locks/.lock"), 0600);
	assert_int_equal(mode_of(f->repo, "locks"), 0700);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_locations),
		cmocka_unit_test_setup_teardown(put_get_stat_delete, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(invalid_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(put_if_absent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(listing, setup, teardown),
		cmocka_unit_test_setup_teardown(lazy_then_durable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(sync_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(sync_batch, setup_batch,
		    teardown),
		cmocka_unit_test_setup_teardown(sync_none, setup_none,
		    teardown),
		cmocka_unit_test_setup_teardown(concurrent_puts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(concurrent_puts_batch,
		    setup_batch, teardown),
		cmocka_unit_test_setup_teardown(batch_visibility, setup_batch,
		    teardown),
		cmocka_unit_test_setup_teardown(get_stream_and_stale, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(host_lock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
