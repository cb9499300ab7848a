/* Unit tests of lib/command/drill/qbk_drill.c (the parts that need no repository) and of
 * the content hash of lib/qdrant/qbk_points.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "command/qbk_drill.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "net/qbk_http.h"
#include "qdrant/qbk_points.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_manifest.h"
#include "testutil.h"

static void
scratch_names(void **state)
{
	struct qbk_buf b = QBK_BUF_INIT;
	char id[QBK_MANIFEST_ID_LEN + 1];

	(void)state;
	qbk_drill_scratch_name("20261122T031500Z-9c1e", "docs-v2", &b);
	assert_string_equal(b.buf, "qbk-drill-20261122T031500Z-9c1e-docs-v2");
	memset(id, 0, sizeof(id));
	assert_int_equal(qbk_drill_scratch_parse(b.buf, id), 1);
	assert_string_equal(id, "20261122T031500Z-9c1e");
	qbk_buf_release(&b);

	/* Only exactly prefix + well-formed id + '-' + a name. */
	assert_int_equal(qbk_drill_scratch_parse("qbk-drill-notes", id), 0);
	assert_int_equal(qbk_drill_scratch_parse(
	    "qbk-drill-20261122T031500Z-9c1e-", id), 0);
	assert_int_equal(qbk_drill_scratch_parse(
	    "qbk-drill-20261122T031500Z-9c1e", id), 0);
	assert_int_equal(qbk_drill_scratch_parse(
	    "qbk-drill-20261122T031500Z-zzzz-c1", id), 0);
	assert_int_equal(qbk_drill_scratch_parse(
	    "qbk-drill-20261122T031500Z-9C1E-c1", id), 0);
	assert_int_equal(qbk_drill_scratch_parse(
	    "qbk-drill-20261122T031500Z-9c1eXc1", id), 0);
	assert_int_equal(qbk_drill_scratch_parse(
	    "xqbk-drill-20261122T031500Z-9c1e-c1", id), 0);
	assert_int_equal(qbk_drill_scratch_parse(
	    "QBK-DRILL-20261122T031500Z-9c1e-c1", id), 0);
	assert_int_equal(qbk_drill_scratch_parse("", id), 0);
	assert_int_equal(qbk_drill_scratch_parse(
	    "qbk-drill-20261122T031500Z-9c1e-x", id), 1);
}

static void
pitr_times(void **state)
{
	uint64_t r;

	(void)state;
	/* Within [first, last], every value reachable. */
	assert_int_equal(qbk_drill_pitr_time(1000, 2000, 5000, 0, 0), 1000);
	assert_int_equal(qbk_drill_pitr_time(1000, 2000, 5000, 0, 1000),
	    2000);
	assert_int_equal(qbk_drill_pitr_time(1000, 2000, 5000, 0, 1001),
	    1000);
	for (r = 0; r < 5000; r += 37) {
		int64_t t = qbk_drill_pitr_time(1000, 2000, 5000, -1, r);

		assert_true(t >= 1000 && t <= 2000);
	}
	/* keep_within moves the start: now 5000 - 3500 s = 1500. */
	assert_int_equal(qbk_drill_pitr_time(1000, 2000, 5000, 3500000, 0),
	    1500);
	assert_int_equal(qbk_drill_pitr_time(1000, 2000, 5000, 3500000, 500),
	    2000);
	/* Nothing within retention: the newest backup's time. */
	assert_int_equal(qbk_drill_pitr_time(1000, 2000, 5000, 1000000, 7),
	    2000);
	/* One backup. */
	assert_int_equal(qbk_drill_pitr_time(1000, 1000, 5000, 0,
	    UINT64_MAX), 1000);
}

static void
names(void **state)
{
	enum qbk_drill_level l;
	enum qbk_drill_scenario s;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(qbk_drill_parse_level(qbk_drill_level_name(
		    (enum qbk_drill_level)i), &l), 0);
		assert_int_equal(l, i);
		assert_int_equal(qbk_drill_parse_scenario(
		    qbk_drill_scenario_name((enum qbk_drill_scenario)i), &s),
		    0);
		assert_int_equal(s, i);
	}
	assert_string_equal(qbk_drill_level_name(QBK_DRILL_EXHAUSTIVE),
	    "exhaustive");
	assert_string_equal(qbk_drill_scenario_name(
	    QBK_DRILL_ALL_COLLECTIONS), "all-collections");
	assert_int_equal(qbk_drill_parse_level("deep", &l), -1);
	assert_int_equal(qbk_drill_parse_level("Basic", &l), -1);
	assert_int_equal(qbk_drill_parse_scenario("all", &s), -1);
}

static void
content_sum(void **state)
{
	static const char *const h[3] = {
		"00000000000000000000000000000000"
		"00000000000000000000000000000000",
		"ffffffffffffffffffffffffffffffff"
		"ffffffffffffffffffffffffffffffff",
		"5c56c79369f34fbf87e6c4bf54c28c26"
		"5c56c79369f34fbf87e6c4bf54c28c26"
	};
	static const char *const ids[3] = { "1", "18446744073709551615",
		"5c56c793-69f3-4fbf-87e6-c4bf54c28c26" };
	struct qbk_points_bucket a, b;
	unsigned char md[32], two[32];
	unsigned char text[128];
	unsigned int mdlen = 0, carry = 0;
	char hex[65];
	size_t n;
	int i;

	(void)state;
	/* One point: the SHA-256 of id, NUL, hash. */
	memset(&a, 0, sizeof(a));
	qbk_points_content_add(&a, ids[1], h[2]);
	n = strlen(ids[1]) + 1;
	memcpy(text, ids[1], n);
	memcpy(text + n, h[2], 64);
	EVP_Digest(text, n + 64, md, &mdlen, EVP_sha256(), NULL);
	assert_memory_equal(a.sum, md, 32);
	assert_int_equal(a.points, 1);

	/* The same term twice is twice the digest mod 2^256 (carries). */
	qbk_points_content_add(&a, ids[1], h[2]);
	for (i = 31; i >= 0; i--) {
		carry += 2u * md[i];
		two[i] = (unsigned char)(carry & 0xff);
		carry >>= 8;
	}
	assert_memory_equal(a.sum, two, 32);
	assert_int_equal(a.points, 2);
	qbk_hex(two, sizeof(two), hex);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(hex[0], "0123456789abcdef"[two[0] >> 4]);
	assert_int_equal(hex[63], "0123456789abcdef"[two[31] & 15]);

	/* Order does not matter; the id does. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	for (i = 0; i < 3; i++)
		qbk_points_content_add(&a, ids[i], h[i]);
	for (i = 2; i >= 0; i--)
		qbk_points_content_add(&b, ids[i], h[i]);
	assert_memory_equal(a.sum, b.sum, 32);
	memset(&b, 0, sizeof(b));
	qbk_points_content_add(&b, ids[0], h[1]);
	qbk_points_content_add(&b, ids[1], h[0]);
	qbk_points_content_add(&b, ids[2], h[2]);
	assert_memory_not_equal(a.sum, b.sum, 32);

	/* Buckets: FNV-1a 64 of the id text, mod 64 (offset basis
	 * 0xcbf29ce484222325, prime 0x100000001b3; "1" = 0x31). */
	assert_int_equal(qbk_points_bucket_of(""),
	    (unsigned)(UINT64_C(14695981039346656037) % 64));
	assert_int_equal(qbk_points_bucket_of("1"),
	    (unsigned)(((UINT64_C(14695981039346656037) ^ 0x31) *
	    UINT64_C(1099511628211)) % 64));
	for (i = 0; i < 3; i++)
		assert_true(qbk_points_bucket_of(ids[i]) < QBK_POINTS_BUCKETS);
}

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

static int
manual_page(void *cookie, const json_t *points, struct qbk_err *err)
{
	struct qbk_points_bucket *b = cookie;
	const json_t *p;
	size_t i;

	(void)err;
	/* Backwards, to show that the order does not matter. */
	for (i = json_array_size(points); i-- > 0;) {
		char id[64], hash[65];

		p = json_array_get(points, i);
		assert_int_equal(qbk_points_id_text(json_object_get(p, "id"),
		    id, sizeof(id)), 0);
		assert_int_equal(qbk_points_hash(p, hash), 0);
		qbk_points_content_add(&b[qbk_points_bucket_of(id)], id, hash);
	}
	return 0;
}

/* Replace the payload of point ${id} of ${coll}; the old record (with
 * vector and payload) is returned for putting back. */
static json_t *
change_point(struct qbk_qdrant *q, const char *coll, int id)
{
	struct qbk_err err = QBK_ERR_INIT;
	json_t *ids = json_pack("[i]", id), *recs = NULL, *orig, *changed;

	assert_int_equal(qbk_qdrant_retrieve(q, coll, ids, 1, 1, &recs, &err),
	    0);
	json_decref(ids);
	assert_int_equal(json_array_size(recs), 1);
	orig = json_deep_copy(json_array_get(recs, 0));
	json_decref(recs);
	changed = json_deep_copy(orig);
	json_object_set_new(changed, "payload", json_pack("{s:s}", "x", "y"));
	recs = json_pack("[o]", changed);
	assert_int_equal(qbk_qdrant_upsert(q, coll, recs, 1, &err), 0);
	json_decref(recs);
	return orig;
}

static void
put_back(struct qbk_qdrant *q, const char *coll, json_t *orig)
{
	struct qbk_err err = QBK_ERR_INIT;
	json_t *recs = json_pack("[o]", orig);

	assert_int_equal(qbk_qdrant_upsert(q, coll, recs, 1, &err), 0);
	json_decref(recs);
}

static void
content_hash_of_collection(void **state)
{
	struct tu_sim sim;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_qdrant_scroll so = { 37, 1, 1, NULL };
	struct qbk_qdrant *q;
	struct qbk_points_bucket b1[QBK_POINTS_BUCKETS],
	    b2[QBK_POINTS_BUCKETS], want[QBK_POINTS_BUCKETS];
	json_t *orig;
	uint64_t n = 0, total;
	volatile sig_atomic_t stop = 1;
	unsigned k17 = qbk_points_bucket_of("17");
	int i, used = 0;

	(void)state;
	if (tu_sim_start(&sim, 1, "--generate", "c1:300:4:1", "--generate",
	    "empty:0:4:1", NULL) != 0)
		fail_msg("cannot start the simulator");
	q = client(sim.url[0]);

	/* Point 17 as an upsert stores it (Cosine vectors are normalised on
	 * upsert, not at generation), so that putting it back below gives
	 * the same content. */
	orig = change_point(q, "c1", 17);
	put_back(q, "c1", orig);

	if (qbk_points_content(q, "c1", NULL, b1, &n, &err) != 0)
		fail_msg("content hash: %s", err.msg);
	assert_int_equal(n, 300);
	for (i = 0, total = 0; i < QBK_POINTS_BUCKETS; i++) {
		total += b1[i].points;
		used += b1[i].points > 0;
	}
	assert_int_equal(total, 300);
	assert_true(used > QBK_POINTS_BUCKETS / 2);	/* spread out */

	/* The same as summing by hand over pages of another size. */
	memset(want, 0, sizeof(want));
	assert_int_equal(qbk_qdrant_scroll(q, "c1", &so, manual_page, want,
	    &err), 0);
	assert_memory_equal(b1, want, sizeof(want));

	/* A changed payload changes its bucket only; putting it back
	 * restores it. */
	orig = change_point(q, "c1", 17);
	assert_int_equal(qbk_points_content(q, "c1", NULL, b2, &n, &err), 0);
	assert_int_equal(n, 300);
	for (i = 0; i < QBK_POINTS_BUCKETS; i++)
		if ((unsigned)i == k17)
			assert_memory_not_equal(&b1[i], &b2[i], sizeof(b1[i]));
		else
			assert_memory_equal(&b1[i], &b2[i], sizeof(b1[i]));
	put_back(q, "c1", orig);
	assert_int_equal(qbk_points_content(q, "c1", NULL, b2, &n, &err), 0);
	assert_memory_equal(b1, b2, sizeof(b1));

	/* No points: every bucket empty. */
	assert_int_equal(qbk_points_content(q, "empty", NULL, b2, &n, &err),
	    0);
	assert_int_equal(n, 0);
	memset(want, 0, sizeof(want));
	assert_memory_equal(b2, want, sizeof(want));

	/* A set cancel flag stops it; a missing collection is an error. */
	assert_int_equal(qbk_points_content(q, "c1", &stop, b2, &n, &err), -1);
	assert_int_equal(err.code, QBK_E_INTERRUPTED);
	qbk_err_clear(&err);
	assert_int_equal(qbk_points_content(q, "nosuch", NULL, b2, &n, &err),
	    -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);

	qbk_qdrant_free(q);
	tu_sim_stop(&sim);
}

static void
fingerprint_across_a_change(void **state)
{
	struct tu_sim sim;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_points_fp fp;
	struct qbk_qdrant *q;
	json_t *orig;
	char victim[QBK_POINTS_ID_MAX];
	size_t i, high = 0;
	unsigned kb;

	(void)state;
	if (tu_sim_start(&sim, 1, "--generate", "c1:400:4:1", NULL) != 0)
		fail_msg("cannot start the simulator");
	q = client(sim.url[0]);
	qbk_points_fp_init(&fp);

	/* Nothing changes: every sampled point and bucket is kept, and the
	 * sample is drawn from the whole collection, not its first ids. */
	assert_int_equal(qbk_points_fp_begin(&fp, q, "c1", 50, 1, NULL, &err),
	    0);
	assert_int_equal(fp.nsamples, 50);
	assert_int_equal(qbk_points_fp_end(&fp, q, "c1", NULL, &err), 0);
	assert_int_equal(fp.nsamples, 50);
	assert_int_equal(fp.changed, 0);
	assert_int_equal(fp.nknown, QBK_POINTS_BUCKETS);
	assert_int_equal(fp.points, 400);
	for (i = 0; i < fp.nsamples; i++)
		high += strtoull(fp.samples[i].id, NULL, 10) >= 200;
	assert_true(high > 0 && high < 50);

	/* A sampled point changes between begin and end: it leaves the
	 * sample, and its bucket is no longer known; the rest stays. */
	assert_int_equal(qbk_points_fp_begin(&fp, q, "c1", 50, 1, NULL, &err),
	    0);
	snprintf(victim, sizeof(victim), "%s", fp.samples[3].id);
	kb = qbk_points_bucket_of(victim);
	orig = change_point(q, "c1", atoi(victim));
	assert_int_equal(qbk_points_fp_end(&fp, q, "c1", NULL, &err), 0);
	assert_int_equal(fp.changed, 1);
	assert_int_equal(fp.nsamples, 49);
	for (i = 0; i < fp.nsamples; i++)
		assert_string_not_equal(fp.samples[i].id, victim);
	assert_int_equal(fp.known[kb], 0);
	assert_int_equal(fp.nknown, QBK_POINTS_BUCKETS - 1);
	assert_int_equal(fp.points, 400 - fp.buckets[kb].points);
	put_back(q, "c1", orig);

	/* Without content, no scroll and no buckets. */
	assert_int_equal(qbk_points_fp_begin(&fp, q, "c1", 10, 0, NULL, &err),
	    0);
	assert_int_equal(qbk_points_fp_end(&fp, q, "c1", NULL, &err), 0);
	assert_int_equal(fp.nsamples, 10);
	assert_int_equal(fp.nknown, 0);

	qbk_points_fp_release(&fp);
	qbk_qdrant_free(q);
	tu_sim_stop(&sim);
}

static struct qbk_manifest_drill *
sample_record(void)
{
	struct qbk_manifest_drill *d = qbk_manifest_drill_new();

	assert_int_equal(qbk_manifest_make_id(1795300000, d->drill_id), 0);
	assert_int_equal(qbk_manifest_make_id(1795290000, d->backup_id), 0);
	qbk_manifest_strset(&d->level, "comprehensive");
	qbk_manifest_strset(&d->scenario, "latest");
	qbk_manifest_strset(&d->host, "h");
	qbk_manifest_strset(&d->tool_version, "qbk 0");
	d->start = 1795300000;
	d->end = 1795300003;
	qbk_manifest_drill_add_phase(d, "select", 12);
	qbk_manifest_drill_add_phase(d, "restore", 2500);
	qbk_manifest_drill_add_phase(d, "validate", 300);
	d->rto_ms = 2800;
	d->rto_target_ms = 2000;
	return d;
}

static void
metrics_and_json(void **state)
{
	struct qbk_drill_result res;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	json_error_t jerr;
	json_t *doc;

	(void)state;
	qbk_drill_result_init(&res);
	res.rec = sample_record();
	res.rec->pass = 1;
	res.ran = 1;
	res.rto_met = 0;
	qbk_drill_metrics(&res, 1, 1795300004, &b);
	assert_non_null(strstr(b.buf,
	    "qbk_drill_last_run_timestamp_seconds 1795300004\n"));
	assert_non_null(strstr(b.buf, "qbk_drill_last_run_success 1\n"));
	assert_non_null(strstr(b.buf, "qbk_drill_rto_seconds 2.800\n"));
	assert_non_null(strstr(b.buf, "qbk_drill_rto_target_seconds 2.000\n"));
	assert_non_null(strstr(b.buf, "qbk_drill_rto_met 0\n"));
	assert_non_null(strstr(b.buf,
	    "qbk_drill_phase_seconds{phase=\"restore\"} 2.500\n"));
	assert_non_null(strstr(b.buf,
	    "# TYPE qbk_drill_phase_seconds gauge\n"));

	qbk_buf_reset(&b);
	qbk_drill_report_json(&res, NULL, &b);
	doc = json_loads(b.buf, 0, &jerr);
	assert_non_null(doc);
	assert_true(json_is_true(json_object_get(doc, "ok")));
	assert_true(json_is_false(json_object_get(doc, "rto_met")));
	assert_int_equal(json_integer_value(json_object_get(doc,
	    "rto_target_ms")), 2000);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    doc, "phases"), "validate")), 300);
	assert_int_equal(json_array_size(json_object_get(doc, "problems")), 0);
	json_decref(doc);

	/* A failed validation and a runtime error both show as problems. */
	qbk_manifest_drill_add_problem(res.rec, "point 5 of 'c1' differs");
	res.rec->pass = 0;
	qbk_err_set(&err, QBK_E_NET, "cannot connect");
	qbk_buf_reset(&b);
	qbk_drill_report_json(&res, &err, &b);
	doc = json_loads(b.buf, 0, &jerr);
	assert_non_null(doc);
	assert_true(json_is_false(json_object_get(doc, "ok")));
	assert_int_equal(json_array_size(json_object_get(doc, "problems")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    doc, "problems"), 1)), "cannot connect");
	json_decref(doc);

	/* Without a target there is no target or met line. */
	res.rec->rto_target_ms = 0;
	qbk_buf_reset(&b);
	qbk_drill_metrics(&res, 0, 1795300004, &b);
	assert_non_null(strstr(b.buf, "qbk_drill_last_run_success 0\n"));
	assert_null(strstr(b.buf, "qbk_drill_rto_met"));
	assert_null(strstr(b.buf, "qbk_drill_rto_target_seconds"));
	qbk_drill_result_release(&res);

	/* A run that never started: only the run metrics. */
	qbk_drill_result_init(&res);
	qbk_buf_reset(&b);
	qbk_drill_metrics(&res, 0, 1795300004, &b);
	assert_non_null(strstr(b.buf, "qbk_drill_last_run_success 0\n"));
	assert_null(strstr(b.buf, "qbk_drill_rto_seconds"));
	qbk_buf_reset(&b);
	qbk_drill_report_json(&res, &err, &b);
	doc = json_loads(b.buf, 0, &jerr);
	assert_non_null(doc);
	assert_true(json_is_false(json_object_get(doc, "ok")));
	assert_true(json_is_null(json_object_get(doc, "drill_id")));
	json_decref(doc);
	qbk_drill_result_release(&res);
	qbk_buf_release(&b);
}

/* The point hash covers sparse vectors as sorted (index, value) pairs and
 * multivectors as the list of their vectors in order. */
static void
hash_of_vector_kinds(void **state)
{
	char sorted[65], unsorted[65], other[65], h[65];
	json_t *p;

	(void)state;
	p = json_loads("{\"id\":1,\"payload\":{},\"vector\":{\"text\":"
	    "{\"indices\":[2,7],\"values\":[0.25,0.5]}}}", 0, NULL);
	assert_int_equal(qbk_points_hash(p, sorted), 0);
	json_decref(p);
	p = json_loads("{\"id\":1,\"payload\":{},\"vector\":{\"text\":"
	    "{\"indices\":[7,2],\"values\":[0.5,0.25]}}}", 0, NULL);
	assert_int_equal(qbk_points_hash(p, unsorted), 0);
	json_decref(p);
	assert_string_equal(sorted, unsorted);
	/* The same indices with their values swapped are another vector. */
	p = json_loads("{\"id\":1,\"payload\":{},\"vector\":{\"text\":"
	    "{\"indices\":[7,2],\"values\":[0.25,0.5]}}}", 0, NULL);
	assert_int_equal(qbk_points_hash(p, other), 0);
	json_decref(p);
	assert_string_not_equal(sorted, other);
	/* A sparse vector as the whole "vector" is sorted too. */
	p = json_loads("{\"id\":1,\"vector\":{\"indices\":[9,1],"
	    "\"values\":[1.0,2.0]}}", 0, NULL);
	assert_int_equal(qbk_points_hash(p, h), 0);
	json_decref(p);
	p = json_loads("{\"id\":1,\"vector\":{\"indices\":[1,9],"
	    "\"values\":[2.0,1.0]}}", 0, NULL);
	assert_int_equal(qbk_points_hash(p, other), 0);
	json_decref(p);
	assert_string_equal(h, other);
	/* The rows of a multivector keep their order. */
	p = json_loads("{\"id\":1,\"vector\":[[1.0,0.0],[0.0,1.0]]}", 0,
	    NULL);
	assert_int_equal(qbk_points_hash(p, h), 0);
	json_decref(p);
	p = json_loads("{\"id\":1,\"vector\":[[0.0,1.0],[1.0,0.0]]}", 0,
	    NULL);
	assert_int_equal(qbk_points_hash(p, other), 0);
	json_decref(p);
	assert_string_not_equal(h, other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scratch_names),
		cmocka_unit_test(pitr_times),
		cmocka_unit_test(names),
		cmocka_unit_test(content_sum),
		cmocka_unit_test(content_hash_of_collection),
		cmocka_unit_test(fingerprint_across_a_change),
		cmocka_unit_test(metrics_and_json),
		cmocka_unit_test(hash_of_vector_kinds),
	};
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_init(&err) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
