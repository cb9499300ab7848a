#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "command/qbk_verify.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_idset.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "stream/qbk_ingest.h"
#include "stream/qbk_tar.h"
#include "testutil.h"

#define BIG_LEN		((size_t)200 * 1024)
#define CHUNK_MAX	4096u

/* A tar laid out like a Qdrant collection snapshot, built in memory; with
 * ${layout_ok} 0 it lacks config.json. */
static uint8_t *
make_tar(int layout_ok, size_t *len)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;
	size_t cap = BIG_LEN + 64 * 1024, used = 0;
	uint8_t *buf = malloc(cap), *big = malloc(BIG_LEN);
	const char *names[3] = { "config.json", "0/shard_config.json",
	    "0/segments/data.bin" };
	uint32_t x = 99;
	size_t i;

	assert_non_null(a);
	assert_non_null(buf);
	assert_non_null(big);
	for (i = 0; i < BIG_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		big[i] = (i / 4000) % 2 ? (uint8_t)x : (uint8_t)"{\"a\": 1} "[i % 9];
	}
	assert_int_equal(archive_write_set_format_pax_restricted(a),
	    ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used),
	    ARCHIVE_OK);
	for (i = layout_ok ? 0 : 1; i < 3; i++) {
		const char *body = i == 2 ? (const char *)big : "{\"x\": 1}\n";
		size_t blen = i == 2 ? BIG_LEN : strlen(body);

		e = archive_entry_new();
		archive_entry_set_pathname(e, names[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)blen);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, body, blen),
		    (la_ssize_t)blen);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	free(big);
	*len = used;
	return buf;
}

/* qbk_tar_next_fn over a buffer, in small pieces, failing on request. */
struct mem {
	const uint8_t *p;
	size_t len, off, piece;
	int fail_at;		/* fail on this call (1-based); 0 never */
	int calls;
};

static int
mem_next(void *cookie, const void **data, size_t *len, struct qbk_err *err)
{
	struct mem *m = cookie;
	size_t n;

	if (++m->calls == m->fail_at)
		return qbk_err_set(err, QBK_E_IO, "source failed");
	if (m->off == m->len)
		return 0;
	n = m->len - m->off < m->piece ? m->len - m->off : m->piece;
	*data = m->p + m->off;
	*len = n;
	m->off += n;
	return 1;
}

static void
test_tar_check(void **state)
{
	struct qbk_ingest_entry *ents = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	size_t len, n = 0;
	uint8_t *tar = make_tar(1, &len);
	struct mem m = { tar, len, 0, 777, 0, 0 };
	size_t i;

	(void)state;
	assert_int_equal(qbk_tar_check(mem_next, &m, &ents, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ents[0].path, "config.json");
	assert_string_equal(ents[2].path, "0/segments/data.bin");
	assert_int_equal(ents[2].size, BIG_LEN);
	assert_int_equal(ents[2].type, 'f');
	/* Every byte was pulled, also the end-of-archive padding. */
	assert_int_equal(m.off, len);
	assert_int_equal(qbk_ingest_check_layout(ents, n,
	    QBK_INGEST_COLLECTION, &err), 0);
	qbk_tar_entries_free(ents, n);

	/* Cut in the middle of the big member. */
	memset(&m, 0, sizeof(m));
	m.p = tar;
	m.len = len / 2;
	m.piece = 1000;
	assert_int_equal(qbk_tar_check(mem_next, &m, &ents, &n, &err), -1);
	assert_int_equal(err.code, QBK_E_SHORT);
	assert_non_null(strstr(err.msg, "not a whole tar"));
	assert_non_null(strstr(err.msg, "cut short"));
	assert_null(ents);

	/* Cut after the last member, before the end-of-archive blocks (at
	 * a member boundary, where libarchive alone sees a normal end), and
	 * after the first of them. */
	for (i = 0; i < 2; i++) {
		memset(&m, 0, sizeof(m));
		m.p = tar;
		m.len = 2 * 1024 + 512 + BIG_LEN + i * 512;
		m.piece = 1000;
		qbk_err_clear(&err);
		assert_int_equal(qbk_tar_check(mem_next, &m, &ents, &n, &err),
		    -1);
		assert_int_equal(err.code, QBK_E_SHORT);
		assert_non_null(strstr(err.msg, "end-of-archive"));
		assert_null(ents);
	}

	/* Not a tar at all. */
	memset(&m, 0, sizeof(m));
	m.p = (const uint8_t *)"hello, this is not a tar archive at all";
	m.len = strlen((const char *)m.p);
	m.piece = 10;
	qbk_err_clear(&err);
	assert_int_equal(qbk_tar_check(mem_next, &m, &ents, &n, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);

	/* The source's error wins over libarchive's view of it. */
	memset(&m, 0, sizeof(m));
	m.p = tar;
	m.len = len;
	m.piece = 4096;
	m.fail_at = 5;
	qbk_err_clear(&err);
	assert_int_equal(qbk_tar_check(mem_next, &m, &ents, &n, &err), -1);
	assert_int_equal(err.code, QBK_E_IO);
	assert_string_equal(err.msg, "source failed");
	free(tar);
}

/* What a shard snapshot must hold: segments/, wal/, and the two files
 * Qdrant writes last. */
static void
test_shard_layout(void **state)
{
	static char names[8][24] = { "segments/a/files/x", "wal",
	    "wal/open-1", "newest_clocks.json", "replica_state.json",
	    "shard_config.json", "wals", "wals/open-1" };
	static const char types[6] = { 'f', 'd', 'f', 'f', 'f', 'f' };
	struct qbk_ingest_entry e[6];
	struct qbk_err err = QBK_ERR_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < 6; i++) {
		e[i].path = names[i];
		e[i].type = types[i];
		e[i].size = 1;
	}
	assert_int_equal(qbk_ingest_check_layout(e, 6, QBK_INGEST_SHARD,
	    &err), 0);
	/* Ended before shard_config.json, or before both files. */
	assert_int_equal(qbk_ingest_check_layout(e, 5, QBK_INGEST_SHARD,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_SHORT);
	assert_non_null(strstr(err.msg, "shard_config.json"));
	assert_int_equal(qbk_ingest_check_layout(e, 4, QBK_INGEST_SHARD,
	    &err), -1);
	assert_non_null(strstr(err.msg, "replica_state.json"));
	/* No WAL ("wals/" is not "wal/"), no segments. */
	e[1].path = names[6];
	e[2].path = names[7];
	assert_int_equal(qbk_ingest_check_layout(e, 6, QBK_INGEST_SHARD,
	    &err), -1);
	assert_non_null(strstr(err.msg, "'wal/'"));
	assert_int_equal(qbk_ingest_check_layout(e + 1, 5, QBK_INGEST_SHARD,
	    &err), -1);
	assert_non_null(strstr(err.msg, "'segments/'"));
}

static void
test_parse_subset(void **state)
{
	struct qbk_verify_opts o = QBK_VERIFY_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	assert_int_equal(qbk_verify_parse_subset("2/7", &o, &err), 0);
	assert_int_equal(o.slice_k, 2);
	assert_int_equal(o.slice_n, 7);
	assert_int_equal(o.percent, 0);
	assert_int_equal(qbk_verify_parse_subset("10%", &o, &err), 0);
	assert_int_equal(o.percent, 10);
	assert_int_equal(o.slice_n, 0);
	assert_int_equal(qbk_verify_parse_subset("100%", &o, &err), 0);
	assert_int_equal(o.percent, 0);
	assert_int_equal(o.slice_n, 0);
	assert_int_equal(qbk_verify_parse_subset("1/1", &o, &err), 0);
	assert_int_equal(o.slice_k, 1);
	assert_int_equal(qbk_verify_parse_subset("0/3", &o, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(qbk_verify_parse_subset("4/3", &o, &err), -1);
	assert_int_equal(qbk_verify_parse_subset("0%", &o, &err), -1);
	assert_int_equal(qbk_verify_parse_subset("101%", &o, &err), -1);
	assert_int_equal(qbk_verify_parse_subset("1/", &o, &err), -1);
	assert_int_equal(qbk_verify_parse_subset("-1/2", &o, &err), -1);
	assert_int_equal(qbk_verify_parse_subset("1/2x", &o, &err), -1);
	assert_int_equal(qbk_verify_parse_subset("", &o, &err), -1);
}

static void
test_problem_text_and_json(void **state)
{
	char b1[] = "20261121T221500Z-3f9a", c1[] = "c1", k1[] = "ab";
	char m1[] = "chunk is missing", m2[] = "key slot 'x' is damaged: bad";
	struct qbk_verify_problem p[2] = {
		{ b1, c1, k1, m1 },
		{ NULL, NULL, NULL, m2 }
	};
	struct qbk_verify_result res;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	json_t *doc;
	json_error_t je;

	(void)state;
	qbk_verify_problem_text(&p[0], &b);
	assert_string_equal(b.buf, "backup '20261121T221500Z-3f9a', "
	    "collection 'c1', chunk 'ab': chunk is missing");
	qbk_buf_reset(&b);
	qbk_verify_problem_text(&p[1], &b);
	assert_string_equal(b.buf, "key slot 'x' is damaged: bad");

	memset(&res, 0, sizeof(res));
	res.problems = p;
	res.n_problems = 2;
	res.checked.chunks = 5;
	qbk_buf_reset(&b);
	qbk_verify_report_json(&res, NULL, &b);
	doc = json_loads(b.buf, 0, &je);
	assert_non_null(doc);
	assert_true(json_is_false(json_object_get(doc, "ok")));
	assert_int_equal(json_array_size(json_object_get(doc, "problems")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(doc, "problems"), 0), "chunk")), "ab");
	assert_true(json_is_null(json_object_get(json_array_get(
	    json_object_get(doc, "problems"), 1), "backup")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    doc, "checked"), "chunks")), 5);
	json_decref(doc);

	/* No problem: ok; a failure that stopped the run: not ok. */
	res.n_problems = 0;
	qbk_buf_reset(&b);
	qbk_verify_report_json(&res, NULL, &b);
	doc = json_loads(b.buf, 0, &je);
	assert_true(json_is_true(json_object_get(doc, "ok")));
	json_decref(doc);
	qbk_err_set(&err, QBK_E_IO, "disk on fire");
	qbk_buf_reset(&b);
	qbk_verify_report_json(&res, &err, &b);
	doc = json_loads(b.buf, 0, &je);
	assert_true(json_is_false(json_object_get(doc, "ok")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(doc, "problems"), 0), "problem")), "disk on fire");
	json_decref(doc);
	qbk_buf_release(&b);
}

/*
 * A repository holding one backup of one collection whose snapshot is a
 * tar cut into chunks by hand.
 */
struct fixture {
	char *dir;
	char *loc;
	struct qbk_repo *repo;
	char backup_id[QBK_MANIFEST_ID_LEN + 1];
	size_t nchunks;		/* distinct */
	uint8_t first[QBK_ID_LEN];	/* the first chunk */
};

static int
setup_repo(struct fixture *f, int layout_ok)
{
	struct qbk_repo_create_opts co;
	struct qbk_repo_secret sec = { "pw", NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf loc = QBK_BUF_INIT;
	struct qbk_manifest *m;
	struct qbk_manifest_collection *c;
	struct qbk_manifest_snapshot *s;
	struct qbk_chunk_work *w = NULL;
	const struct qbk_chunk_codec *codec;
	uint8_t *data, md[32];
	unsigned int mdlen = 0;
	json_t *j;
	size_t len, off = 0, k = 0;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(qbk_init(&err), 0);
	f->dir = tu_tmpdir("verify");
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
	if (qbk_repo_create(&co, NULL, &err) != 0 ||
	    qbk_repo_open(f->loc, &sec, &f->repo, &err) != 0)
		fail_msg("repository: %s", err.msg);

	data = make_tar(layout_ok, &len);
	m = qbk_manifest_new();
	assert_int_equal(qbk_manifest_make_id(now, m->backup_id), 0);
	memcpy(f->backup_id, m->backup_id, sizeof(f->backup_id));
	m->start = m->end = now;
	qbk_manifest_strset(&m->host, "test");
	qbk_manifest_strset(&m->tool_version, "qbk test");
	c = qbk_manifest_add_collection(m, "c1");
	j = json_object();
	qbk_manifest_collection_set_config(c, j);
	qbk_manifest_collection_set_vectors(c, j);
	json_decref(j);
	s = qbk_manifest_add_snapshot(m, c, QBK_MANIFEST_SNAP_COLLECTION);
	qbk_manifest_strset(&s->name, "c1.snapshot");
	qbk_manifest_strset(&s->node_url, "http://127.0.0.1:6333");
	s->start = s->end = now;
	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(),
	    NULL), 1);
	qbk_hex(md, 32, s->sha256);
	codec = qbk_repo_codec(f->repo);
	assert_int_equal(qbk_chunk_work_new(CHUNK_MAX, &w, &err), 0);
	while (off < len) {
		size_t n = 300 + (k * 977) % (CHUNK_MAX - 300);
		const uint8_t *obj;
		size_t objlen;
		uint8_t id[QBK_ID_LEN];

		if (n > len - off)
			n = len - off;
		qbk_chunk_id(codec, data + off, n, id);
		if (k == 0)
			memcpy(f->first, id, QBK_ID_LEN);
		if (qbk_repo_chunk_claim(f->repo, id)) {
			if (qbk_chunk_encode(codec, w, data + off, n, id,
			    &obj, &objlen, NULL, &err) != 0 ||
			    qbk_repo_chunk_put(f->repo, id, obj, objlen, 0,
			    &err) != 0)
				fail_msg("store chunk: %s", err.msg);
			f->nchunks++;
		}
		qbk_manifest_snapshot_add_chunk(s, id, (uint32_t)n);
		off += n;
		k++;
	}
	s->bytes = s->size;
	qbk_chunk_work_free(w);
	free(data);
	qbk_manifest_compute_totals(m);
	if (qbk_repo_manifest_write(f->repo, m, &err) != 0)
		fail_msg("manifest write: %s", err.msg);
	qbk_manifest_free(m);
	return 0;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	*state = f;
	return setup_repo(f, 1);
}

static int
setup_bad_layout(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	*state = f;
	return setup_repo(f, 0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	qbk_repo_close(f->repo);
	free(f->loc);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

static void
run(struct fixture *f, const struct qbk_verify_opts *o,
    struct qbk_verify_result *res)
{
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_verify_run(f->repo, o, res, &err) != 0)
		fail_msg("qbk_verify_run: %s", err.msg);
}

/* The path of the object of chunk ${id}. */
static char *
chunk_path(const struct fixture *f, const uint8_t *id)
{
	struct qbk_buf p = QBK_BUF_INIT;
	char key[QBK_REPO_CHUNK_KEY_LEN];

	qbk_repo_chunk_key(id, key);
	qbk_buf_addf(&p, "%s/%s", f->loc, key);
	return qbk_buf_detach(&p, NULL);
}

static void
test_clean(void **state)
{
	struct fixture *f = *state;
	struct qbk_verify_opts o = QBK_VERIFY_OPTS_INIT;
	struct qbk_verify_result res;

	run(f, &o, &res);
	assert_int_equal(res.n_problems, 0);
	assert_int_equal(res.checked.key_slots, 1);
	assert_int_equal(res.checked.backups, 1);
	assert_int_equal(res.checked.chunks, f->nchunks);
	assert_int_equal(res.checked.chunks_read, 0);
	qbk_verify_result_release(&res);

	o.read_data = 1;
	o.workers = 3;
	run(f, &o, &res);
	assert_int_equal(res.n_problems, 0);
	assert_int_equal(res.checked.chunks_read, f->nchunks);
	assert_int_equal(res.checked.snapshots, 1);
	assert_true(res.checked.bytes > BIG_LEN);
	qbk_verify_result_release(&res);
}

static void
test_slices_cover_everything(void **state)
{
	struct fixture *f = *state;
	struct qbk_verify_opts o = QBK_VERIFY_OPTS_INIT;
	struct qbk_verify_result res;
	uint64_t sum = 0;
	unsigned k;

	o.read_data = 1;
	o.slice_n = 3;
	for (k = 1; k <= 3; k++) {
		o.slice_k = k;
		run(f, &o, &res);
		assert_int_equal(res.n_problems, 0);
		assert_int_equal(res.checked.snapshots, 0);
		assert_true(res.checked.chunks_read < f->nchunks);
		sum += res.checked.chunks_read;
		qbk_verify_result_release(&res);
	}
	assert_int_equal(sum, f->nchunks);
}

static void
test_damaged_and_missing(void **state)
{
	struct fixture *f = *state;
	struct qbk_verify_opts o = QBK_VERIFY_OPTS_INIT;
	struct qbk_verify_result res;
	char hex[65];
	char *path = chunk_path(f, f->first);
	FILE *fp;
	int c;

	qbk_id_to_hex(f->first, hex);
	/* One byte changed: only reading finds it. */
	fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 50, SEEK_SET), 0);
	c = fgetc(fp);
	assert_true(c >= 0);
	assert_int_equal(fseek(fp, 50, SEEK_SET), 0);
	assert_int_equal(fputc(c ^ 0x11, fp), c ^ 0x11);
	assert_int_equal(fclose(fp), 0);
	run(f, &o, &res);
	assert_int_equal(res.n_problems, 0);
	qbk_verify_result_release(&res);
	o.read_data = 1;
	run(f, &o, &res);
	assert_int_equal(res.n_problems, 1);
	assert_string_equal(res.problems[0].chunk, hex);
	assert_string_equal(res.problems[0].backup, f->backup_id);
	assert_string_equal(res.problems[0].collection, "c1");
	assert_non_null(strstr(res.problems[0].problem, "damaged"));
	assert_int_equal(res.checked.snapshots, 0);
	qbk_verify_result_release(&res);

	/* Removed: the quick check finds it. */
	assert_int_equal(unlink(path), 0);
	o.read_data = 0;
	run(f, &o, &res);
	assert_int_equal(res.n_problems, 1);
	assert_string_equal(res.problems[0].chunk, hex);
	assert_string_equal(res.problems[0].problem, "chunk is missing");
	qbk_verify_result_release(&res);

	/* Truncated to its header: implausible. */
	assert_int_equal(tu_write_file(path, "QBKC"), 0);
	run(f, &o, &res);
	assert_int_equal(res.n_problems, 1);
	assert_non_null(strstr(res.problems[0].problem, "implausible size"));
	qbk_verify_result_release(&res);
	free(path);
}

static void
test_bad_layout(void **state)
{
	struct fixture *f = *state;
	struct qbk_verify_opts o = QBK_VERIFY_OPTS_INIT;
	struct qbk_verify_result res;

	o.read_data = 1;
	run(f, &o, &res);
	assert_int_equal(res.n_problems, 1);
	assert_null(res.problems[0].chunk);
	assert_string_equal(res.problems[0].collection, "c1");
	assert_non_null(strstr(res.problems[0].problem, "config.json"));
	qbk_verify_result_release(&res);
}

static void
test_unknown_backup(void **state)
{
	struct fixture *f = *state;
	struct qbk_verify_opts o = QBK_VERIFY_OPTS_INIT;
	struct qbk_verify_result res;
	struct qbk_err err = QBK_ERR_INIT;

	o.backup_id = "20200101T000000Z-abcd";
	assert_int_equal(qbk_verify_run(f->repo, &o, &res, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	qbk_verify_result_release(&res);
	o.backup_id = f->backup_id;
	run(f, &o, &res);
	assert_int_equal(res.n_problems, 0);
	assert_int_equal(res.checked.backups, 1);
	qbk_verify_result_release(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tar_check),
		cmocka_unit_test(test_shard_layout),
		cmocka_unit_test(test_parse_subset),
		cmocka_unit_test(test_problem_text_and_json),
		cmocka_unit_test_setup_teardown(test_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slices_cover_everything,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_and_missing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_layout,
		    setup_bad_layout, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_backup, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
