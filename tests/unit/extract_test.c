#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_idset.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "stream/qbk_extract.h"
#include "testutil.h"

#define DATA_LEN	((size_t)300 * 1024 + 123)
#define CHUNK_MAX	4096u

/*
 * A repository in a scratch folder holding one backup of one collection
 * whose snapshot is DATA_LEN bytes cut into chunks by hand.
 */
struct fixture {
	char *dir;
	char *loc;
	struct qbk_repo *repo;
	struct qbk_manifest *m;		/* as read back from the repository */
	uint8_t *data;			/* the snapshot's bytes */
	char sha[65];
};

static void
sha256_hex(const void *p, size_t len, char *hex)
{
	uint8_t md[32];
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(p, len, md, &n, EVP_sha256(), NULL), 1);
	qbk_hex(md, 32, hex);
}

/* Bytes that look a little like a snapshot: runs of JSON-ish text that
 * compress, and noise that does not. */
static void
fill(uint8_t *p, size_t len)
{
	uint32_t x = 12345;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		if ((i / 5000) % 3 == 0)
			p[i] = (uint8_t)"{\"payload\": 42}, "[i % 17];
		else
			p[i] = (uint8_t)x;
	}
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct qbk_repo_create_opts co;
	struct qbk_repo_secret sec = { "pw", NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf loc = QBK_BUF_INIT;
	struct qbk_manifest *m;
	struct qbk_manifest_collection *c;
	struct qbk_manifest_snapshot *s;
	struct qbk_chunk_work *w = NULL;
	const struct qbk_chunk_codec *codec;
	json_t *j;
	size_t off = 0, k = 0;
	int64_t now = (int64_t)time(NULL);

	assert_non_null(f);
	assert_int_equal(qbk_init(&err), 0);
	f->dir = tu_tmpdir("extract");
	assert_non_null(f->dir);
	qbk_buf_addf(&loc, "%s/repo", f->dir);
	f->loc = qbk_buf_detach(&loc, NULL);

	memset(&co, 0, sizeof(co));
	co.location = f->loc;
	co.aead = QBK_CRYPTO_AEAD_XCHACHA;
	co.zstd_level = 3;
	co.chunk_min = 256;
	co.chunk_avg = 1024;
	co.chunk_max = CHUNK_MAX;
	co.passphrase = "pw";
	co.opslimit = QBK_CRYPTO_PWHASH_OPSLIMIT_MIN;
	co.memlimit = QBK_CRYPTO_PWHASH_MEMLIMIT_MIN;
	if (qbk_repo_create(&co, NULL, &err) != 0)
		fail_msg("qbk_repo_create: %s", err.msg);
	if (qbk_repo_open(f->loc, &sec, &f->repo, &err) != 0)
		fail_msg("qbk_repo_open: %s", err.msg);

	f->data = malloc(DATA_LEN);
	assert_non_null(f->data);
	fill(f->data, DATA_LEN);
	sha256_hex(f->data, DATA_LEN, f->sha);

	m = qbk_manifest_new();
	assert_int_equal(qbk_manifest_make_id(now, m->backup_id), 0);
	m->start = m->end = now;
	qbk_manifest_strset(&m->host, "test");
	qbk_manifest_strset(&m->tool_version, "qbk test");
	c = qbk_manifest_add_collection(m, "c1");
	j = json_object();
	qbk_manifest_collection_set_config(c, j);
	qbk_manifest_collection_set_vectors(c, j);
	json_decref(j);
	s = qbk_manifest_add_snapshot(m, c, QBK_MANIFEST_SNAP_COLLECTION);
	qbk_manifest_strset(&s->name, "c1-1-2026-11-21-22-15-00.snapshot");
	qbk_manifest_strset(&s->node_url, "http://127.0.0.1:6333");
	s->start = s->end = now;
	memcpy(s->sha256, f->sha, 65);

	codec = qbk_repo_codec(f->repo);
	assert_int_equal(qbk_chunk_work_new(CHUNK_MAX, &w, &err), 0);
	/* Pieces of varying length, and one repeated (dedup) piece. */
	while (off < DATA_LEN) {
		size_t len = 300 + (k * 977) % (CHUNK_MAX - 300);
		const uint8_t *obj;
		size_t objlen;
		uint8_t id[QBK_ID_LEN];

		if (len > DATA_LEN - off)
			len = DATA_LEN - off;
		if (k == 7 && DATA_LEN - off > 300) {
			/* The same bytes as the first piece: stored once. */
			len = 300;
			memcpy(f->data + off, f->data, len);
		}
		qbk_chunk_id(codec, f->data + off, len, id);
		if (qbk_repo_chunk_claim(f->repo, id)) {
			if (qbk_chunk_encode(codec, w, f->data + off, len, id,
			    &obj, &objlen, NULL, &err) != 0 ||
			    qbk_repo_chunk_put(f->repo, id, obj, objlen, 0,
			    &err) != 0)
				fail_msg("store chunk: %s", err.msg);
		}
		qbk_manifest_snapshot_add_chunk(s, id, (uint32_t)len);
		off += len;
		k++;
	}
	/* The copied piece changed the data: hash what was stored. */
	sha256_hex(f->data, DATA_LEN, f->sha);
	memcpy(s->sha256, f->sha, 65);
	s->bytes = s->size;
	qbk_chunk_work_free(w);
	qbk_manifest_compute_totals(m);
	if (qbk_repo_manifest_write(f->repo, m, &err) != 0)
		fail_msg("manifest write: %s", err.msg);
	if (qbk_repo_manifest_read(f->repo, m->backup_id, &f->m, &err) != 0)
		fail_msg("manifest read: %s", err.msg);
	qbk_manifest_free(m);
	assert_true(f->m->collections[0]->snapshots[0]->n_chunks > 50);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	qbk_manifest_free(f->m);
	qbk_repo_close(f->repo);
	free(f->data);
	free(f->loc);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

static const struct qbk_manifest_snapshot *
snap_of(const struct fixture *f)
{
	return f->m->collections[0]->snapshots[0];
}

/* A consumer that keeps every byte and may fail on request. */
struct sink {
	struct qbk_buf got;
	size_t calls;
	size_t fail_after;	/* fail at this call; 0: never */
};

static int
sink_write(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	struct sink *k = cookie;

	assert_true(len > 0);
	k->calls++;
	if (k->fail_after != 0 && k->calls == k->fail_after)
		return qbk_err_set(err, QBK_E_IO, "sink is full");
	qbk_buf_add(&k->got, data, len);
	return 0;
}

static void
run_with(struct fixture *f, unsigned workers, unsigned window)
{
	struct qbk_extract_opts o = QBK_EXTRACT_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct sink k = { QBK_BUF_INIT, 0, 0 };
	char hex[65];

	o.workers = workers;
	o.window = window;
	o.backup_id = f->m->backup_id;
	o.collection = "c1";
	if (qbk_extract_run(f->repo, snap_of(f), sink_write, &k, &o,
	    &err) != 0)
		fail_msg("extract: %s", err.msg);
	assert_int_equal(k.got.len, DATA_LEN);
	assert_memory_equal(k.got.buf, f->data, DATA_LEN);
	sha256_hex(k.got.buf, k.got.len, hex);
	assert_string_equal(hex, f->sha);
	/* One piece per chunk, in order. */
	assert_int_equal(k.calls, snap_of(f)->n_chunks);
	qbk_buf_release(&k.got);
}

static void
push_gives_the_snapshot(void **state)
{
	struct fixture *f = *state;

	run_with(f, 0, 0);	/* defaults: one worker per CPU */
	run_with(f, 1, 1);	/* window raised to 2 */
	run_with(f, 3, 5);
	run_with(f, 8, 0);
	run_with(f, 64, 1000);	/* more than chunks: capped */
}

static void
pull_with_rewind_gives_identical_bytes(void **state)
{
	struct fixture *f = *state;
	struct qbk_extract_opts o = QBK_EXTRACT_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_extract *x = NULL;
	struct qbk_buf a = QBK_BUF_INIT, b = QBK_BUF_INIT;
	char buf[777];
	ssize_t n;

	o.workers = 2;
	assert_int_equal(qbk_extract_open(f->repo, snap_of(f), &o, &x, &err),
	    0);
	assert_int_equal(qbk_extract_size(x), DATA_LEN);
	/* Read about half, in pieces that straddle chunk boundaries. */
	while (a.len < DATA_LEN / 2) {
		n = qbk_extract_read(x, buf, sizeof(buf), &err);
		assert_true(n > 0);
		qbk_buf_add(&a, buf, (size_t)n);
	}
	assert_int_equal(qbk_extract_offset(x), a.len);
	assert_memory_equal(a.buf, f->data, a.len);
	assert_null(qbk_extract_sha256(x));
	/* Start again, as an upload retry does, through the callbacks. */
	assert_int_equal(qbk_extract_rewind_cb(x, &err), 0);
	assert_int_equal(qbk_extract_offset(x), 0);
	for (;;) {
		n = qbk_extract_read_cb(x, buf, 1 + b.len % sizeof(buf), &err);
		assert_true(n >= 0);
		if (n == 0)
			break;
		qbk_buf_add(&b, buf, (size_t)n);
	}
	assert_int_equal(b.len, DATA_LEN);
	assert_memory_equal(b.buf, f->data, DATA_LEN);
	assert_non_null(qbk_extract_sha256(x));
	assert_string_equal(qbk_extract_sha256(x), f->sha);
	/* The end stays the end. */
	assert_int_equal(qbk_extract_read(x, buf, sizeof(buf), &err), 0);
	qbk_extract_close(x);
	qbk_extract_close(NULL);
	qbk_buf_release(&a);
	qbk_buf_release(&b);
}

static void
next_mixes_with_read(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_extract *x = NULL;
	struct qbk_buf got = QBK_BUF_INIT;
	const void *p;
	size_t len;
	char buf[100];
	ssize_t n;
	int rc;

	assert_int_equal(qbk_extract_open(f->repo, snap_of(f), NULL, &x, &err),
	    0);
	n = qbk_extract_read(x, buf, sizeof(buf), &err);
	assert_int_equal(n, (ssize_t)sizeof(buf));
	qbk_buf_add(&got, buf, sizeof(buf));
	/* next() gives the rest of the chunk read() started. */
	while ((rc = qbk_extract_next(x, &p, &len, &err)) > 0)
		qbk_buf_add(&got, p, len);
	assert_int_equal(rc, 0);
	assert_int_equal(got.len, DATA_LEN);
	assert_memory_equal(got.buf, f->data, DATA_LEN);
	qbk_extract_close(x);
	qbk_buf_release(&got);
}

/* The object file of chunk number ${k} of the snapshot. */
static char *
chunk_path(const struct fixture *f, size_t k, char *hex)
{
	struct qbk_buf p = QBK_BUF_INIT;
	char key[QBK_REPO_CHUNK_KEY_LEN];

	qbk_repo_chunk_key(snap_of(f)->chunks[k].id, key);
	qbk_id_to_hex(snap_of(f)->chunks[k].id, hex);
	qbk_buf_addf(&p, "%s/%s", f->loc, key);
	return qbk_buf_detach(&p, NULL);
}

static void
damaged_chunk_is_an_integrity_error(void **state)
{
	struct fixture *f = *state;
	struct qbk_extract_opts o = QBK_EXTRACT_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct sink k = { QBK_BUF_INIT, 0, 0 };
	size_t victim = snap_of(f)->n_chunks / 2;
	char hex[65], *path = chunk_path(f, victim, hex);
	FILE *fp;
	long size;
	int c;

	/* Flip one byte in the middle of the object file. */
	fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	assert_true(size > 60);
	assert_int_equal(fseek(fp, size / 2, SEEK_SET), 0);
	c = fgetc(fp);
	assert_int_equal(fseek(fp, size / 2, SEEK_SET), 0);
	fputc(c ^ 0x20, fp);
	assert_int_equal(fclose(fp), 0);

	o.backup_id = f->m->backup_id;
	o.collection = "c1";
	o.workers = 4;
	assert_int_equal(qbk_extract_run(f->repo, snap_of(f), sink_write, &k,
	    &o, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, hex));
	assert_non_null(strstr(err.msg, f->m->backup_id));
	assert_non_null(strstr(err.msg, "'c1'"));
	/* Nothing from the damaged chunk on was delivered. */
	assert_true(k.got.len < DATA_LEN);
	assert_true(k.calls <= victim);
	assert_memory_equal(k.got.buf, f->data, k.got.len);
	qbk_buf_release(&k.got);
	free(path);
}

static void
missing_chunk_is_an_integrity_error(void **state)
{
	struct fixture *f = *state;
	struct qbk_extract_opts o = QBK_EXTRACT_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_extract *x = NULL;
	char hex[65], *path = chunk_path(f, 3, hex), buf[4096];
	ssize_t n;

	assert_int_equal(unlink(path), 0);
	o.backup_id = f->m->backup_id;
	o.collection = "c1";
	assert_int_equal(qbk_extract_open(f->repo, snap_of(f), &o, &x, &err),
	    0);
	while ((n = qbk_extract_read(x, buf, sizeof(buf), &err)) > 0)
		;
	assert_int_equal(n, -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, hex));
	assert_non_null(strstr(err.msg, "missing"));
	assert_non_null(strstr(err.msg, f->m->backup_id));
	/* The error is sticky. */
	qbk_err_clear(&err);
	assert_int_equal(qbk_extract_read(x, buf, sizeof(buf), &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	qbk_extract_close(x);
	free(path);
}

static void
hash_mismatch_holds_back_the_last_chunk(void **state)
{
	struct fixture *f = *state;
	struct qbk_manifest_snapshot *s = f->m->collections[0]->snapshots[0];
	struct qbk_err err = QBK_ERR_INIT;
	struct sink k = { QBK_BUF_INIT, 0, 0 };
	size_t last = s->chunks[s->n_chunks - 1].len;

	s->sha256[10] = s->sha256[10] == '0' ? '1' : '0';
	assert_int_equal(qbk_extract_run(f->repo, s, sink_write, &k, NULL,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "SHA-256"));
	assert_non_null(strstr(err.msg, f->sha));
	/* Everything but the last chunk went out. */
	assert_int_equal(k.got.len, DATA_LEN - last);
	qbk_buf_release(&k.got);
}

static void
wrong_length_is_an_integrity_error(void **state)
{
	struct fixture *f = *state;
	struct qbk_manifest_snapshot *s = f->m->collections[0]->snapshots[0];
	struct qbk_err err = QBK_ERR_INIT;
	struct sink k = { QBK_BUF_INIT, 0, 0 };

	s->chunks[2].len += 1;
	s->size += 1;
	assert_int_equal(qbk_extract_run(f->repo, s, sink_write, &k, NULL,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "the manifest records"));
	assert_true(k.calls <= 2);
	qbk_buf_release(&k.got);
}

static void
consumer_error_stops_the_stream(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct sink k = { QBK_BUF_INIT, 0, 5 };

	assert_int_equal(qbk_extract_run(f->repo, snap_of(f), sink_write, &k,
	    NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_IO);
	assert_string_equal(err.msg, "sink is full");
	assert_int_equal(k.calls, 5);
	qbk_buf_release(&k.got);
}

static void
cancel_flag_interrupts(void **state)
{
	struct fixture *f = *state;
	struct qbk_extract_opts o = QBK_EXTRACT_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_extract *x = NULL;
	volatile sig_atomic_t stop = 0;
	char buf[1000];

	o.cancel = &stop;
	assert_int_equal(qbk_extract_open(f->repo, snap_of(f), &o, &x, &err),
	    0);
	assert_true(qbk_extract_read(x, buf, sizeof(buf), &err) > 0);
	stop = 1;
	while (qbk_extract_read(x, buf, sizeof(buf), &err) > 0)
		;
	assert_int_equal(err.code, QBK_E_INTERRUPTED);
	qbk_extract_close(x);
}

static void
empty_snapshot(void **state)
{
	struct fixture *f = *state;
	struct qbk_manifest_snapshot s;
	struct qbk_err err = QBK_ERR_INIT;
	struct sink k = { QBK_BUF_INIT, 0, 0 };

	memset(&s, 0, sizeof(s));
	sha256_hex("", 0, s.sha256);
	assert_int_equal(qbk_extract_run(f->repo, &s, sink_write, &k, NULL,
	    &err), 0);
	assert_int_equal(k.calls, 0);
	s.sha256[0] = s.sha256[0] == 'e' ? 'f' : 'e';
	assert_int_equal(qbk_extract_run(f->repo, &s, sink_write, &k, NULL,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(push_gives_the_snapshot,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    pull_with_rewind_gives_identical_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(next_mixes_with_read,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    damaged_chunk_is_an_integrity_error, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    missing_chunk_is_an_integrity_error, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    hash_mismatch_holds_back_the_last_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    wrong_length_is_an_integrity_error, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    consumer_error_stops_the_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(cancel_flag_interrupts,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(empty_snapshot,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
