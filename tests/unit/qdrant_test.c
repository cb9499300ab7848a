#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "net/qbk_http.h"
#include "qdrant/qbk_qdrant.h"
#include "testutil.h"

/* One single-node simulator for most tests, with a generated collection. */
static struct tu_sim sim;
static struct qbk_qdrant *q;

#define GEN_POINTS	2000

static struct qbk_qdrant *
client(const char *url, const char *key, unsigned retries)
{
	struct qbk_http_opts o;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_qdrant *c;

	qbk_http_opts_init(&o);
	o.base_url = url;
	o.api_key = key;
	o.retries = retries;
	o.retry_base_ms = 10;
	if (qbk_qdrant_new(&c, &o, &err) != 0)
		fail_msg("qbk_qdrant_new: %s", err.msg);
	return c;
}

/* A raw JSON call to a simulator (admin paths); the answer's result. */
static json_t *
sim_call(const char *url, const char *method, const char *path,
    const char *json)
{
	struct qbk_http_opts o;
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_http *h;
	json_t *v, *res;

	qbk_http_opts_init(&o);
	o.base_url = url;
	o.retries = 0;
	if (qbk_http_new(&h, &o, &err) != 0)
		fail_msg("%s", err.msg);
	qbk_http_resp_init(&resp);
	req.method = method;
	req.path = path;
	req.body = json;
	req.body_len = json != NULL ? strlen(json) : 0;
	if (qbk_http_request(h, &req, &resp, &err) != 0)
		fail_msg("%s %s: %s", method, path, err.msg);
	v = json_loads(resp.body.buf, 0, NULL);
	res = json_incref(json_object_get(v, "result"));
	json_decref(v);
	qbk_http_resp_release(&resp);
	qbk_http_free(h);
	return res;
}

static void
generate(const char *url, const char *coll, int points, int dim,
    const char *extra)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"collection\":\"%s\",\"points\":%d,"
	    "\"dim\":%d%s}", coll, points, dim, extra != NULL ? extra : "");
	json_decref(sim_call(url, "POST", "/__sim/generate", body));
}

static void
sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	int i;

	assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int
collect(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	(void)err;
	qbk_buf_add(cookie, data, len);
	return 0;
}

static int
group_setup(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	if (qbk_init(&err) != 0 || tu_sim_start(&sim, 1, (char *)NULL) != 0)
		return -1;
	generate(sim.url[0], "gen", GEN_POINTS, 32, NULL);
	q = client(sim.url[0], NULL, 2);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	qbk_qdrant_free(q);
	tu_sim_stop(&sim);
	return 0;
}

static int
test_setup(void **state)
{
	(void)state;
	tu_log_capture();
	qbk_log_set_level(QBK_LOG_DETAIL);
	return 0;
}

/* ---- parsing without a server ----------------------------------------- */

static void
envelopes_and_texts(void **state)
{
	static const char env[] = "{\"status\":{\"error\":\"Not found: "
	    "Collection `c1` doesn't exist!\"},\"time\":0.001}";
	static const char ok[] = "{\"result\":{\"a\":1},\"status\":\"ok\","
	    "\"time\":0.1}";
	static const char acc[] = "{\"status\":\"accepted\",\"time\":0.1}";
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	json_t *res;

	(void)state;
	assert_int_equal(qbk_qdrant_error_text(env, strlen(env), &b), 1);
	assert_string_equal(b.buf, "Not found: Collection `c1` doesn't exist!");
	qbk_buf_reset(&b);
	assert_int_equal(qbk_qdrant_error_text("Invalid API key or JWT\n",
	    23, &b), 0);
	assert_string_equal(b.buf, "Invalid API key or JWT");
	qbk_buf_release(&b);

	assert_int_equal(qbk_qdrant_result(ok, strlen(ok), "x", &res, &err),
	    0);
	assert_int_equal(json_integer_value(json_object_get(res, "a")), 1);
	json_decref(res);
	assert_int_equal(qbk_qdrant_result(acc, strlen(acc), "x", &res, &err),
	    0);
	assert_null(res);
	assert_int_equal(qbk_qdrant_result(env, strlen(env), "the response",
	    &res, &err), -1);
	assert_int_equal(err.code, QBK_E_QDRANT);
	assert_string_equal(err.msg, "the response: Not found: Collection "
	    "`c1` doesn't exist!");
	assert_int_equal(qbk_qdrant_result("<html>", 6, "the response", &res,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_QDRANT);
	assert_int_equal(qbk_qdrant_result("[1]", 3, "the response", &res,
	    &err), -1);
	assert_non_null(strstr(err.msg, "not a Qdrant response"));
}

static void
json_helpers(void **state)
{
	static const char doc[] = "{\"peer_id\":17045282795431519931,"
	    "\"neg\":-5,\"f\":1.25e10,\"small\":12,\"s\":\"99999999999999999999"
	    "9\",\"a\":{\"b\":{\"c\":true}},\"big\":[18446744073709551615]}";
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	json_t *v;
	uint64_t u;
	int64_t i;
	int t;

	(void)state;
	/* A u64 peer id above INT64_MAX survives (jansson alone fails). */
	v = qbk_json_parse(doc, strlen(doc), "doc", &err);
	assert_non_null(v);
	assert_int_equal(qbk_json_u64(v, "peer_id", &u), 0);
	assert_true(u == 17045282795431519931ULL);
	assert_int_equal(qbk_json_u64(v, "small", &u), 0);
	assert_true(u == 12);
	assert_int_equal(qbk_json_u64(v, "neg", &u), -1);
	assert_int_equal(qbk_json_i64(v, "neg", &i), 0);
	assert_int_equal(i, -5);
	assert_int_equal(qbk_json_i64(v, "f", &i), -1);
	/* Strings are never touched, even if they hold digits. */
	assert_string_equal(qbk_json_str(v, "s"), "999999999999999999999");
	assert_int_equal(qbk_json_bool(v, "a.b.c", &t), 0);
	assert_int_equal(t, 1);
	assert_null(qbk_json_path(v, "a.x.c"));
	assert_int_equal(qbk_json_u64_value(json_array_get(json_object_get(v,
	    "big"), 0), &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(qbk_json_dump(json_object_get(v, "a"), &b, 0), 0);
	assert_string_equal(b.buf, "{\"b\":{\"c\":true}}");
	qbk_json_decref(v);
	qbk_buf_release(&b);

	assert_null(qbk_json_parse("{\"a\":\n[1,}", 10, "the manifest", &err));
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "cannot parse the manifest: "));
	assert_non_null(strstr(err.msg, "line 2"));
}

/* Point ids above INT64_MAX go out as JSON numbers, which Qdrant takes,
 * not as the strings qbk_json_parse() keeps them in. */
static void
json_big_ids(void **state)
{
	static const char doc[] = "[18446744073709551615,9223372036854775808,"
	    "9223372036854775807,\"18446744073709551615x\",\"a\\\\\",7,"
	    "\"0e1e2c3a-0000-4000-8000-000000000001\"]";
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	json_t *v, *out, *x;
	size_t i;

	(void)state;
	v = qbk_json_parse(doc, strlen(doc), "doc", &err);
	assert_non_null(v);
	out = json_array();
	json_array_foreach(v, i, x)
		json_array_append_new(out, qbk_json_point_id(x));
	json_array_append_new(out, qbk_json_u64_new(UINT64_MAX - 1));
	json_array_append_new(out, qbk_json_u64_new(5));
	assert_int_equal(qbk_json_dump(out, &b, 0), 0);
	assert_string_equal(b.buf, "[18446744073709551615,9223372036854775808,"
	    "9223372036854775807,\"18446744073709551615x\",\"a\\\\\",7,"
	    "\"0e1e2c3a-0000-4000-8000-000000000001\",18446744073709551614,5]");
	qbk_buf_reset(&b);
	assert_int_equal(qbk_json_dump(out, &b, 1), 0);
	assert_non_null(strstr(b.buf, "\n  18446744073709551614,\n"));
	qbk_json_decref(out);
	qbk_json_decref(v);
	qbk_buf_release(&b);
}

static void
create_body_and_disposition(void **state)
{
	static const char cfg[] = "{\"params\":{\"vectors\":{\"size\":4,"
	    "\"distance\":\"Dot\"},\"shard_number\":2,\"replication_factor\":1,"
	    "\"read_fan_out_factor\":null,\"on_disk_payload\":true},"
	    "\"hnsw_config\":{\"m\":16},\"optimizer_config\":"
	    "{\"max_optimization_threads\":null,\"flush_interval_sec\":5},"
	    "\"wal_config\":{\"wal_capacity_mb\":32},\"quantization_config\":"
	    "null,\"metadata\":{\"team\":\"x\"}}";
	json_t *c, *b;
	char *name;

	(void)state;
	c = json_loads(cfg, 0, NULL);
	b = qbk_qdrant_create_body(c);
	assert_non_null(b);
	assert_int_equal(json_integer_value(json_object_get(b,
	    "shard_number")), 2);
	assert_string_equal(qbk_json_str(b, "vectors.distance"), "Dot");
	assert_true(json_is_true(json_object_get(b, "on_disk_payload")));
	assert_null(json_object_get(b, "read_fan_out_factor"));
	assert_null(json_object_get(b, "quantization_config"));
	assert_null(json_object_get(b, "optimizer_config"));
	assert_non_null(qbk_json_path(b, "optimizers_config.flush_interval_"
	    "sec"));
	assert_string_equal(qbk_json_str(b, "metadata.team"), "x");
	json_decref(b);
	json_object_del(json_object_get(c, "params"), "vectors");
	assert_null(qbk_qdrant_create_body(c));
	json_decref(c);

	name = qbk_qdrant_disposition_name("attachment; filename=\"c1-shard-"
	    "0-2026-01-02-03-04-05.snapshot\"");
	assert_string_equal(name, "c1-shard-0-2026-01-02-03-04-05.snapshot");
	free(name);
	name = qbk_qdrant_disposition_name("attachment; filename=../../x");
	assert_string_equal(name, "x");
	free(name);
	assert_null(qbk_qdrant_disposition_name("attachment"));
	assert_null(qbk_qdrant_disposition_name("attachment; filename=\"..\""));
	assert_null(qbk_qdrant_disposition_name(NULL));
}

/* ---- against the simulator ------------------------------------------- */

static void
version_and_health(void **state)
{
	struct qbk_qdrant_version v;
	struct qbk_err err = QBK_ERR_INIT;
	int ready = -1;

	(void)state;
	assert_int_equal(qbk_qdrant_version(q, &v, &err), 0);
	assert_string_equal(v.version, "1.19.0");
	assert_string_equal(v.title, "qdrant - vector search engine");
	assert_string_equal(qbk_qdrant_url(q), sim.url[0]);
	assert_int_equal(qbk_qdrant_healthz(q, &err), 0);
	assert_int_equal(qbk_qdrant_readyz(q, &ready, &err), 0);
	assert_int_equal(ready, 1);

	/* 503 "some shards are not ready" is an answer, not an error. */
	json_decref(sim_call(sim.url[0], "POST", "/__sim/faults",
	    "{\"path\":\"/readyz\",\"status\":503,\"body\":\"some shards "
	    "are not ready\"}"));
	assert_int_equal(qbk_qdrant_readyz(q, &ready, &err), 0);
	assert_int_equal(ready, 0);
	json_decref(sim_call(sim.url[0], "POST", "/__sim/faults",
	    "{\"path\":\"/healthz\",\"status\":500,\"count\":-1}"));
	assert_int_equal(qbk_qdrant_healthz(q, &err), -1);
	json_decref(sim_call(sim.url[0], "DELETE", "/__sim/faults", NULL));
	assert_non_null(strstr(err.msg, "health check of '"));
	assert_non_null(strstr(err.msg, "HTTP 500: Service internal error"));
}

static void
collections_lifecycle(void **state)
{
	struct qbk_qdrant_collection *info = NULL, *info2 = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	json_t *body, *body2;
	char **names = NULL;
	int exists = -1, deleted = -1, found = 0, i;

	(void)state;
	body = json_loads("{\"vectors\":{\"size\":4,\"distance\":\"Cosine\"},"
	    "\"shard_number\":2}", 0, NULL);
	/* A name that needs escaping in the URL. */
	assert_int_equal(qbk_qdrant_collection_create(q, "my coll+1", body,
	    &err), 0);
	assert_int_equal(qbk_qdrant_collection_exists(q, "my coll+1", &exists,
	    &err), 0);
	assert_int_equal(exists, 1);
	assert_int_equal(qbk_qdrant_collection_exists(q, "nope", &exists,
	    &err), 0);
	assert_int_equal(exists, 0);
	/* A server without /exists (an empty 404): asked another way. */
	json_decref(sim_call(sim.url[0], "POST", "/__sim/faults",
	    "{\"path_regex\":\"/exists$\",\"status\":404,\"body\":\"\","
	    "\"count\":2}"));
	assert_int_equal(qbk_qdrant_collection_exists(q, "my coll+1", &exists,
	    &err), 0);
	assert_int_equal(exists, 1);
	assert_int_equal(qbk_qdrant_collection_exists(q, "nope", &exists,
	    &err), 0);
	assert_int_equal(exists, 0);
	json_decref(sim_call(sim.url[0], "DELETE", "/__sim/faults", NULL));

	assert_int_equal(qbk_qdrant_collection_create(q, "my coll+1", body,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_QDRANT);
	assert_int_equal(err.http_status, 409);
	assert_string_equal(err.msg, "cannot create collection 'my coll+1': "
	    "HTTP 409: Wrong input: Collection `my coll+1` already exists!");

	assert_int_equal(qbk_qdrant_collections(q, &names, &err), 0);
	for (i = 0; names[i] != NULL; i++) {
		if (i > 0)
			assert_true(strcmp(names[i - 1], names[i]) < 0);
		found += strcmp(names[i], "my coll+1") == 0;
		found += strcmp(names[i], "gen") == 0;
	}
	assert_int_equal(found, 2);
	qbk_qdrant_strv_free(names);

	assert_int_equal(qbk_qdrant_collection_info(q, "my coll+1", &info,
	    &err), 0);
	assert_string_equal(info->status, "green");
	assert_int_equal(info->points_count, 0);
	assert_int_equal(info->shard_number, 2);
	assert_int_equal(info->replication_factor, 1);
	assert_int_equal(qbk_json_i64(info->vectors, "size", &(int64_t){0}),
	    0);
	assert_string_equal(qbk_json_str(info->vectors, "distance"), "Cosine");

	/* The config of one collection re-creates an equal one. */
	body2 = qbk_qdrant_create_body(info->config);
	assert_non_null(body2);
	assert_int_equal(qbk_qdrant_collection_create(q, "copy", body2, &err),
	    0);
	assert_int_equal(qbk_qdrant_collection_info(q, "copy", &info2, &err),
	    0);
	assert_true(json_equal(info->vectors, info2->vectors));
	assert_int_equal(info2->shard_number, 2);

	assert_int_equal(qbk_qdrant_collection_delete(q, "my coll+1",
	    &deleted, &err), 0);
	assert_int_equal(deleted, 1);
	assert_int_equal(qbk_qdrant_collection_delete(q, "my coll+1",
	    &deleted, &err), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(qbk_qdrant_collection_delete(q, "copy", NULL, &err),
	    0);
	qbk_qdrant_collection_free(info);
	qbk_qdrant_collection_free(info2);
	qbk_qdrant_collection_free(NULL);
	json_decref(body);
	json_decref(body2);
}

struct pages {
	int pages;
	int points;
	int64_t last_id;
	int ordered;
};

static int
on_page(void *cookie, const struct json_t *points, struct qbk_err *err)
{
	struct pages *p = cookie;
	size_t i;
	json_t *rec;

	(void)err;
	p->pages++;
	json_array_foreach((json_t *)(uintptr_t)points, i, rec) {
		json_int_t id = json_integer_value(json_object_get(rec, "id"));

		if (id <= p->last_id)
			p->ordered = 0;
		p->last_id = id;
		p->points++;
	}
	return 0;
}

static void
points_roundtrip(void **state)
{
	struct qbk_qdrant_scroll so = { 10, 1, 0, NULL };
	struct pages pg = { 0, 0, 0, 1 };
	struct qbk_err err = QBK_ERR_INIT;
	json_t *body, *pts, *ids, *recs, *next, *found, *filter;
	float vec[4];
	uint64_t n;
	int i;

	(void)state;
	body = json_loads("{\"vectors\":{\"size\":4,\"distance\":\"Euclid\"}}",
	    0, NULL);
	assert_int_equal(qbk_qdrant_collection_create(q, "pts", body, &err),
	    0);
	json_decref(body);
	pts = json_array();
	for (i = 1; i <= 25; i++)
		json_array_append_new(pts, json_pack("{s:i,s:[f,f,f,f],"
		    "s:{s:i,s:s}}", "id", i, "vector", (double)i, 0.0, 0.0,
		    1.0, "payload", "i", i, "name", "p"));
	assert_int_equal(qbk_qdrant_upsert(q, "pts", pts, 1, &err), 0);
	json_decref(pts);

	assert_int_equal(qbk_qdrant_count(q, "pts", NULL, &n, &err), 0);
	assert_int_equal(n, 25);
	filter = json_loads("{\"must\":[{\"key\":\"i\",\"range\":"
	    "{\"lt\":10}}]}", 0, NULL);
	assert_int_equal(qbk_qdrant_count(q, "pts", filter, &n, &err), 0);
	assert_int_equal(n, 9);
	json_decref(filter);

	/* All pages, in id order. */
	assert_int_equal(qbk_qdrant_scroll(q, "pts", &so, on_page, &pg, &err),
	    0);
	assert_int_equal(pg.pages, 3);
	assert_int_equal(pg.points, 25);
	assert_int_equal(pg.last_id, 25);
	assert_true(pg.ordered);

	/* One page by hand: the next offset is the first id of page 2. */
	assert_int_equal(qbk_qdrant_scroll_page(q, "pts", &so, NULL, &recs,
	    &next, &err), 0);
	assert_int_equal(json_array_size(recs), 10);
	assert_int_equal(json_integer_value(next), 11);
	assert_non_null(qbk_json_path(json_array_get(recs, 0), "payload"));
	assert_null(json_object_get(json_array_get(recs, 0), "vector"));
	json_decref(recs);
	json_decref(next);

	ids = json_pack("[i,i,i]", 3, 7, 999);
	assert_int_equal(qbk_qdrant_retrieve(q, "pts", ids, 1, 1, &recs, &err),
	    0);
	assert_int_equal(json_array_size(recs), 2);
	found = json_array_get(recs, 0);
	assert_int_equal(json_integer_value(qbk_json_path(found, "payload.i")),
	    json_integer_value(json_object_get(found, "id")));
	assert_int_equal(json_array_size(json_object_get(found, "vector")), 4);
	json_decref(recs);
	json_decref(ids);

	/* The nearest neighbour of point 5's vector is point 5. */
	vec[0] = 5.0f;
	vec[1] = 0.0f;
	vec[2] = 0.0f;
	vec[3] = 1.0f;
	assert_int_equal(qbk_qdrant_search(q, "pts", NULL, vec, 4, 3, 1, &recs,
	    &err), 0);
	assert_int_equal(json_array_size(recs), 3);
	assert_int_equal(json_integer_value(json_object_get(
	    json_array_get(recs, 0), "id")), 5);
	assert_non_null(qbk_json_path(json_array_get(recs, 0), "score"));
	assert_int_equal(json_integer_value(qbk_json_path(
	    json_array_get(recs, 0), "payload.i")), 5);
	json_decref(recs);
	/* A server without the query API: the old search endpoint. */
	json_decref(sim_call(sim.url[0], "POST", "/__sim/faults",
	    "{\"path\":\"/collections/pts/points/query\",\"status\":404,"
	    "\"body\":\"\"}"));
	assert_int_equal(qbk_qdrant_search(q, "pts", NULL, vec, 4, 2, 0, &recs,
	    &err), 0);
	assert_int_equal(json_array_size(recs), 2);
	assert_int_equal(json_integer_value(json_object_get(
	    json_array_get(recs, 0), "id")), 5);
	assert_null(json_object_get(json_array_get(recs, 0), "payload"));
	json_decref(recs);
	assert_int_equal(qbk_qdrant_search(q, "pts", "nope", vec, 4, 3, 1,
	    &recs, &err), -1);
	assert_non_null(strstr(err.msg, "cannot search in 'pts': HTTP 400"));
	assert_int_equal(qbk_qdrant_collection_delete(q, "pts", NULL, &err),
	    0);
}

static void
aliases(void **state)
{
	struct qbk_qdrant_alias *v;
	struct qbk_err err = QBK_ERR_INIT;
	json_t *acts;
	size_t n;

	(void)state;
	assert_int_equal(qbk_qdrant_alias_create(q, "gen-b", "gen", &err), 0);
	assert_int_equal(qbk_qdrant_alias_create(q, "gen-a", "gen", &err), 0);
	assert_int_equal(qbk_qdrant_aliases(q, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].alias, "gen-a");
	assert_string_equal(v[1].alias, "gen-b");
	assert_string_equal(v[1].collection, "gen");
	qbk_qdrant_aliases_free(v, n);

	acts = json_loads("[{\"rename_alias\":{\"old_alias_name\":\"gen-b\","
	    "\"new_alias_name\":\"gen-c\"}}]", 0, NULL);
	assert_int_equal(qbk_qdrant_alias_actions(q, acts, &err), 0);
	json_decref(acts);
	assert_int_equal(qbk_qdrant_alias_delete(q, "gen-a", &err), 0);
	assert_int_equal(qbk_qdrant_aliases(q, "gen", &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].alias, "gen-c");
	qbk_qdrant_aliases_free(v, n);
	assert_int_equal(qbk_qdrant_alias_delete(q, "gen-c", &err), 0);
	assert_int_equal(qbk_qdrant_aliases(q, "gen", &v, &n, &err), 0);
	assert_int_equal(n, 0);
	qbk_qdrant_aliases_free(v, n);

	assert_int_equal(qbk_qdrant_alias_create(q, "x", "nope", &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "cannot create alias 'x' of 'nope': "
	    "HTTP 404: Not found: Collection `nope` doesn't exist!"));
}

/* Create a snapshot of ${coll}/${shard}, download it into ${data}. */
static void
snap_and_fetch(const char *coll, long shard, struct qbk_qdrant_snapshot *s,
    struct qbk_buf *data)
{
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;
	char sha[65];

	if (qbk_qdrant_snapshot_create(q, coll, shard, s, &err) != 0)
		fail_msg("%s", err.msg);
	qbk_http_resp_init(&resp);
	qbk_buf_reset(data);
	if (qbk_qdrant_snapshot_download(q, coll, shard, s->name, collect,
	    data, &resp, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.bytes, data->len);
	assert_int_equal(resp.content_length, s->size);
	assert_int_equal((int64_t)data->len, s->size);
	sha256_hex(data->buf, data->len, sha);
	assert_string_equal(sha, s->checksum);
	qbk_http_resp_release(&resp);
}

static void
collection_snapshots(void **state)
{
	struct qbk_qdrant_snapshot s, *list;
	struct qbk_buf data = QBK_BUF_INIT, name = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	size_t n, i;
	int seen = 0;

	(void)state;
	snap_and_fetch("gen", QBK_QDRANT_NO_SHARD, &s, &data);
	assert_int_equal(strncmp(s.name, "gen-", 4), 0);
	assert_non_null(strstr(s.name, ".snapshot"));
	assert_int_equal(strlen(s.creation_time), 19);
	assert_int_equal(memcmp(data.buf + 257, "ustar", 5), 0);

	assert_int_equal(qbk_qdrant_snapshot_list(q, "gen", QBK_QDRANT_NO_SHARD,
	    &list, &n, &err), 0);
	for (i = 0; i < n; i++)
		if (strcmp(list[i].name, s.name) == 0) {
			seen = 1;
			assert_int_equal(list[i].size, s.size);
			assert_string_equal(list[i].checksum, s.checksum);
		}
	assert_true(seen);
	qbk_qdrant_snapshots_free(list, n);

	assert_int_equal(qbk_qdrant_snapshot_delete(q, "gen",
	    QBK_QDRANT_NO_SHARD, s.name, &err), 0);
	assert_int_equal(qbk_qdrant_snapshot_list(q, "gen", QBK_QDRANT_NO_SHARD,
	    &list, &n, &err), 0);
	for (i = 0; i < n; i++)
		assert_string_not_equal(list[i].name, s.name);
	qbk_qdrant_snapshots_free(list, n);

	/* A download of a missing file: the plain-text 404. */
	qbk_buf_reset(&data);
	assert_int_equal(qbk_qdrant_snapshot_download(q, "gen",
	    QBK_QDRANT_NO_SHARD, s.name, collect, &data, NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_int_equal(data.len, 0);
	qbk_buf_addf(&name, "cannot download snapshot '%s' of 'gen': HTTP 404: "
	    "Not found: Snapshot %s not found", s.name, s.name);
	assert_string_equal(err.msg, name.buf);
	assert_int_equal(qbk_qdrant_snapshot_delete(q, "gen",
	    QBK_QDRANT_NO_SHARD, s.name, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	qbk_qdrant_snapshot_release(&s);
	qbk_buf_release(&data);
	qbk_buf_release(&name);
}

struct source {
	const struct qbk_buf *data;
	size_t off;
};

static ssize_t
src_read(void *cookie, void *buf, size_t len, struct qbk_err *err)
{
	struct source *s = cookie;
	size_t n = s->data->len - s->off;

	(void)err;
	if (n > len)
		n = len;
	memcpy(buf, s->data->buf + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static int
src_rewind(void *cookie, struct qbk_err *err)
{
	(void)err;
	((struct source *)cookie)->off = 0;
	return 0;
}

/* Every point of ${coll} (ids, payloads, vectors) as one JSON array. */
static int
gather(void *cookie, const struct json_t *points, struct qbk_err *err)
{
	(void)err;
	json_array_extend(cookie, (json_t *)(uintptr_t)points);
	return 0;
}

static json_t *
all_points(const char *coll)
{
	struct qbk_qdrant_scroll so = { 500, 1, 1, NULL };
	struct qbk_err err = QBK_ERR_INIT;
	json_t *all = json_array();

	if (qbk_qdrant_scroll(q, coll, &so, gather, all, &err) != 0)
		fail_msg("%s", err.msg);
	return all;
}

static void
upload_roundtrip(void **state)
{
	struct qbk_qdrant_snapshot s, *list;
	struct qbk_buf data = QBK_BUF_INIT;
	struct qbk_qdrant_upload up;
	struct source src = { &data, 0 };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_qdrant_collection *info;
	json_t *a, *b;
	char bad[65], want[400];
	size_t n, i;

	(void)state;
	snap_and_fetch("gen", QBK_QDRANT_NO_SHARD, &s, &data);
	memset(&up, 0, sizeof(up));
	up.filename = "restore-me.snapshot";
	up.priority = QBK_QDRANT_PRIORITY_SNAPSHOT;
	up.checksum = s.checksum;
	up.size = (int64_t)data.len;
	up.read = src_read;
	up.rewind = src_rewind;
	up.cookie = &src;
	assert_int_equal(qbk_qdrant_snapshot_upload(q, "restored",
	    QBK_QDRANT_NO_SHARD, &up, &err), 0);
	assert_int_equal(qbk_qdrant_collection_info(q, "restored", &info,
	    &err), 0);
	assert_int_equal(info->points_count, GEN_POINTS);
	qbk_qdrant_collection_free(info);
	a = all_points("gen");
	b = all_points("restored");
	assert_int_equal(json_array_size(a), GEN_POINTS);
	assert_true(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	/* The uploaded file stays behind, without a checksum (NOTES §7.9). */
	assert_int_equal(qbk_qdrant_snapshot_list(q, "restored",
	    QBK_QDRANT_NO_SHARD, &list, &n, &err), 0);
	for (i = 0; i < n && strcmp(list[i].name, up.filename) != 0; i++)
		;
	assert_true(i < n);
	assert_string_equal(list[i].checksum, "");
	qbk_qdrant_snapshots_free(list, n);

	/* A wrong checksum: Qdrant's (swapped) wording, an integrity error. */
	memcpy(bad, s.checksum, sizeof(bad));
	bad[0] = bad[0] == 'a' ? 'b' : 'a';
	up.checksum = bad;
	src.off = 0;
	assert_int_equal(qbk_qdrant_snapshot_upload(q, "restored2",
	    QBK_QDRANT_NO_SHARD, &up, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_int_equal(err.http_status, 400);
	snprintf(want, sizeof(want), "cannot recover 'restored2' from uploaded "
	    "'restore-me.snapshot': HTTP 400: Checksum mismatch: expected %s, "
	    "actual %s", s.checksum, bad);
	assert_string_equal(err.msg, want);

	/* Full snapshots cannot be uploaded or recovered over REST. */
	assert_int_equal(qbk_qdrant_snapshot_upload(q, NULL,
	    QBK_QDRANT_NO_SHARD, &up, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(qbk_qdrant_collection_delete(q, "restored", NULL,
	    &err), 0);
	qbk_qdrant_snapshot_release(&s);
	qbk_buf_release(&data);
}

static void
recover_from_file(void **state)
{
	struct qbk_qdrant_snapshot s;
	struct qbk_qdrant_recover r;
	struct qbk_buf data = QBK_BUF_INIT, loc = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	char bad[65], want[1200];
	json_t *st;
	uint64_t n;

	(void)state;
	snap_and_fetch("gen", QBK_QDRANT_NO_SHARD, &s, &data);
	st = sim_call(sim.url[0], "GET", "/__sim/state", NULL);
	qbk_buf_addf(&loc, "file://%s/gen/%s", json_string_value(
	    qbk_json_path(json_array_get(json_object_get(st, "nodes"), 0),
	    "snapshots")), s.name);
	json_decref(st);

	memset(&r, 0, sizeof(r));
	r.location = loc.buf;
	r.checksum = s.checksum;
	r.priority = QBK_QDRANT_PRIORITY_NO_SYNC;
	assert_int_equal(qbk_qdrant_snapshot_recover(q, "recovered",
	    QBK_QDRANT_NO_SHARD, &r, &err), 0);
	assert_int_equal(qbk_qdrant_count(q, "recovered", NULL, &n, &err), 0);
	assert_int_equal(n, GEN_POINTS);

	memcpy(bad, s.checksum, sizeof(bad));
	bad[63] = bad[63] == 'a' ? 'b' : 'a';
	r.checksum = bad;
	assert_int_equal(qbk_qdrant_snapshot_recover(q, "recovered",
	    QBK_QDRANT_NO_SHARD, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	snprintf(want, sizeof(want), "cannot recover 'recovered' from '%s': "
	    "HTTP 400: Wrong input: Snapshot checksum mismatch: expected %s, "
	    "got %s", loc.buf, bad, s.checksum);
	assert_string_equal(err.msg, want);

	r.checksum = NULL;
	r.location = "file:///nonexistent/x.snapshot";
	assert_int_equal(qbk_qdrant_snapshot_recover(q, "recovered",
	    QBK_QDRANT_NO_SHARD, &r, &err), -1);
	assert_int_equal(err.http_status, 400);
	assert_int_equal(err.code, QBK_E_QDRANT);
	assert_non_null(strstr(err.msg, "does not exist"));
	assert_int_equal(qbk_qdrant_collection_delete(q, "recovered", NULL,
	    &err), 0);
	assert_int_equal(qbk_qdrant_snapshot_delete(q, "gen",
	    QBK_QDRANT_NO_SHARD, s.name, &err), 0);
	qbk_qdrant_snapshot_release(&s);
	qbk_buf_release(&data);
	qbk_buf_release(&loc);
}

static void
full_snapshots(void **state)
{
	struct qbk_qdrant_snapshot s, *list;
	struct qbk_qdrant_recover r = { "file:///x", 0, NULL, NULL };
	struct qbk_buf data = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	size_t n;

	(void)state;
	snap_and_fetch(NULL, QBK_QDRANT_NO_SHARD, &s, &data);
	assert_int_equal(strncmp(s.name, "full-snapshot-", 14), 0);
	assert_int_equal(qbk_qdrant_snapshot_list(q, NULL, QBK_QDRANT_NO_SHARD,
	    &list, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, s.name);
	qbk_qdrant_snapshots_free(list, n);
	assert_int_equal(qbk_qdrant_snapshot_recover(q, NULL,
	    QBK_QDRANT_NO_SHARD, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(qbk_qdrant_snapshot_delete(q, NULL,
	    QBK_QDRANT_NO_SHARD, s.name, &err), 0);
	assert_int_equal(qbk_qdrant_snapshot_list(q, NULL, QBK_QDRANT_NO_SHARD,
	    &list, &n, &err), 0);
	assert_int_equal(n, 0);
	qbk_qdrant_snapshots_free(list, n);
	qbk_qdrant_snapshot_release(&s);
	qbk_buf_release(&data);
}

static void
shard_snapshots(void **state)
{
	struct qbk_qdrant_snapshot s, *list;
	struct qbk_qdrant_recover r;
	struct qbk_qdrant_upload up;
	struct qbk_http_resp resp;
	struct qbk_buf data = QBK_BUF_INIT, stream = QBK_BUF_INIT;
	struct source src = { &data, 0 };
	struct qbk_err err = QBK_ERR_INIT;
	char *name;
	size_t n;
	uint64_t count;

	(void)state;
	snap_and_fetch("gen", 0, &s, &data);
	assert_int_equal(strncmp(s.name, "gen-shard-0-", 12), 0);
	assert_int_equal(qbk_qdrant_snapshot_list(q, "gen", 0, &list, &n,
	    &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].checksum, s.checksum);
	qbk_qdrant_snapshots_free(list, n);

	/* Recover the shard from the stored file name, then by upload. */
	memset(&r, 0, sizeof(r));
	r.location = s.name;
	r.checksum = s.checksum;
	assert_int_equal(qbk_qdrant_snapshot_recover(q, "gen", 0, &r, &err), 0);
	memset(&up, 0, sizeof(up));
	up.filename = s.name;
	up.size = (int64_t)data.len;
	up.read = src_read;
	up.cookie = &src;
	assert_int_equal(qbk_qdrant_snapshot_upload(q, "gen", 0, &up, &err), 0);
	assert_int_equal(qbk_qdrant_count(q, "gen", NULL, &count, &err), 0);
	assert_int_equal(count, GEN_POINTS);

	/* The streaming endpoint: chunked, no length, a file name. */
	qbk_http_resp_init(&resp);
	assert_int_equal(qbk_qdrant_shard_snapshot_stream(q, "gen", 0, collect,
	    &stream, &resp, &err), 0);
	assert_int_equal(resp.content_length, -1);
	assert_true(stream.len > 10000);
	assert_int_equal(resp.bytes, stream.len);
	assert_int_equal(memcmp(stream.buf + 257, "ustar", 5), 0);
	name = qbk_qdrant_disposition_name(resp.content_disposition);
	assert_non_null(name);
	assert_int_equal(strncmp(name, "gen-shard-0-", 12), 0);
	free(name);
	qbk_http_resp_release(&resp);

	assert_int_equal(qbk_qdrant_shard_snapshot_stream(q, "gen", 7, collect,
	    &stream, NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_string_equal(err.msg, "cannot stream a snapshot of shard 7 of "
	    "'gen': HTTP 404: Not found: shard 7 not found");

	assert_int_equal(qbk_qdrant_snapshot_delete(q, "gen", 0, s.name, &err),
	    0);
	assert_int_equal(qbk_qdrant_snapshot_list(q, "gen", 0, &list, &n,
	    &err), 0);
	assert_int_equal(n, 0);
	qbk_qdrant_snapshots_free(list, n);
	qbk_qdrant_snapshot_release(&s);
	qbk_buf_release(&data);
	qbk_buf_release(&stream);
}

static void
unknown_collection_messages(void **state)
{
	struct qbk_qdrant_collection *info = (void *)1;
	struct qbk_qdrant_snapshot s;
	struct qbk_buf data = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	uint64_t n;

	(void)state;
	assert_int_equal(qbk_qdrant_collection_info(q, "nope", &info, &err),
	    -1);
	assert_null(info);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_int_equal(err.http_status, 404);
	assert_string_equal(err.msg, "cannot get information on collection "
	    "'nope': HTTP 404: Not found: Collection `nope` doesn't exist!");
	assert_int_equal(qbk_qdrant_snapshot_create(q, "c1",
	    QBK_QDRANT_NO_SHARD, &s, &err), -1);
	assert_string_equal(err.msg, "cannot create snapshot of 'c1': "
	    "HTTP 404: Not found: Collection `c1` doesn't exist!");
	assert_null(s.name);
	assert_int_equal(qbk_qdrant_count(q, "nope", NULL, &n, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	/* A download error is plain text: the same message. */
	assert_int_equal(qbk_qdrant_snapshot_download(q, "nope",
	    QBK_QDRANT_NO_SHARD, "x.snapshot", collect, &data, NULL, &err), -1);
	assert_string_equal(err.msg, "cannot download snapshot 'x.snapshot' of "
	    "'nope': HTTP 404: Not found: Collection `nope` doesn't exist!");
	assert_int_equal(data.len, 0);
	/* An empty 404 (unknown route) gets the status phrase. */
	json_decref(sim_call(sim.url[0], "POST", "/__sim/faults",
	    "{\"path\":\"/collections/gen\",\"status\":404,\"body\":\"\"}"));
	assert_int_equal(qbk_qdrant_collection_info(q, "gen", &info, &err),
	    -1);
	assert_string_equal(err.msg, "cannot get information on collection "
	    "'gen': HTTP 404 (not found)");
	/* A 202 "accepted" envelope has no result, and is a success. */
	json_decref(sim_call(sim.url[0], "POST", "/__sim/faults",
	    "{\"method\":\"DELETE\",\"path\":\"/collections/gen/snapshots/\","
	    "\"status\":202,\"body\":{\"status\":\"accepted\",\"time\":0.0}}"));
	assert_int_equal(qbk_qdrant_snapshot_delete(q, "gen",
	    QBK_QDRANT_NO_SHARD, "any.snapshot", &err), 0);
	json_decref(sim_call(sim.url[0], "DELETE", "/__sim/faults", NULL));
	/* Not retried: a 4xx is final. */
	assert_null(strstr(tu_log_text(), "retrying"));
	qbk_buf_release(&data);
}

static void
server_error_messages(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;
	char **names;

	(void)state;
	/* Retries run out on a 503: Qdrant's text, the attempts, a warning. */
	json_decref(sim_call(sim.url[0], "POST", "/__sim/faults",
	    "{\"path\":\"/collections\",\"count\":-1,\"status\":503}"));
	assert_int_equal(qbk_qdrant_collections(q, &names, &err), -1);
	json_decref(sim_call(sim.url[0], "DELETE", "/__sim/faults", NULL));
	assert_null(names);
	/* Qdrant's own envelope: a Qdrant error, with the status kept. */
	assert_int_equal(err.code, QBK_E_QDRANT);
	assert_int_equal(err.http_status, 503);
	assert_string_equal(err.msg, "cannot list collections: HTTP 503: Shard "
	    "temporarily unavailable: simulated fault (after 3 attempts)");
	assert_non_null(strstr(tu_log_text(), "HTTP 503: Shard temporarily "
	    "unavailable: simulated fault; retrying in"));
}

static void
cluster_single_node(void **state)
{
	struct qbk_qdrant_cluster *c;
	struct qbk_qdrant_coll_cluster *cc;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	assert_int_equal(qbk_qdrant_cluster(q, &c, &err), 0);
	assert_int_equal(c->enabled, 0);
	assert_int_equal(c->npeers, 0);
	assert_string_equal(qbk_json_str(c->raw, "status"), "disabled");
	qbk_qdrant_cluster_free(c);

	assert_int_equal(qbk_qdrant_collection_cluster(q, "gen", &cc, &err), 0);
	assert_true(cc->peer_id != 0);
	assert_int_equal(cc->shard_count, 1);
	assert_int_equal(cc->nlocal, 1);
	assert_int_equal(cc->nremote, 0);
	assert_int_equal(cc->ntransfers, 0);
	assert_int_equal(cc->local[0].shard_id, 0);
	assert_int_equal(cc->local[0].points_count, GEN_POINTS);
	assert_string_equal(cc->local[0].state, "Active");
	assert_true(cc->local[0].peer_id == cc->peer_id);
	qbk_qdrant_coll_cluster_free(cc);
}

static void
cluster_three_nodes(void **state)
{
	struct tu_sim s3;
	struct qbk_qdrant *n[3];
	struct qbk_qdrant_cluster *c[3];
	struct qbk_qdrant_coll_cluster *cc;
	struct qbk_err err = QBK_ERR_INIT;
	int64_t points = 0;
	size_t replicas = 0, i, j;
	int k;

	(void)state;
	/* Peer ids above 2^63, as old Qdrant deployments have them. */
	assert_int_equal(tu_sim_start(&s3, 3, "--big-peer-ids", (char *)NULL),
	    0);
	generate(s3.url[0], "dist", 900, 8, ",\"shard_number\":3,"
	    "\"replication_factor\":2");
	for (k = 0; k < 3; k++) {
		n[k] = client(s3.url[k], NULL, 1);
		assert_int_equal(qbk_qdrant_cluster(n[k], &c[k], &err), 0);
		assert_int_equal(c[k]->enabled, 1);
		assert_int_equal(c[k]->npeers, 3);
		assert_true(c[k]->peer_id >= (1ULL << 63));
		assert_true(c[k]->peers[0].id < c[k]->peers[1].id);
		assert_non_null(strstr(c[k]->peers[0].uri, "http://"));
	}
	/* Every node sees the same peers and a different self. */
	for (k = 1; k < 3; k++) {
		for (i = 0; i < 3; i++)
			assert_true(c[k]->peers[i].id == c[0]->peers[i].id);
		assert_true(c[k]->peer_id != c[0]->peer_id);
	}
	for (k = 0; k < 3; k++) {
		assert_int_equal(qbk_qdrant_collection_cluster(n[k], "dist",
		    &cc, &err), 0);
		assert_true(cc->peer_id == c[k]->peer_id);
		assert_int_equal(cc->shard_count, 3);
		/* 3 shards x 2 replicas, seen from each node. */
		assert_int_equal(cc->nlocal + cc->nremote, 6);
		for (i = 0; i < cc->nremote; i++) {
			assert_true(cc->remote[i].peer_id != cc->peer_id);
			assert_int_equal(cc->remote[i].points_count, -1);
			for (j = 0; j < 3 && c[k]->peers[j].id !=
			    cc->remote[i].peer_id; j++)
				;
			assert_true(j < 3);
		}
		for (i = 0; i < cc->nlocal; i++) {
			assert_string_equal(cc->local[i].state, "Active");
			points += cc->local[i].points_count;
		}
		replicas += cc->nlocal;
		qbk_qdrant_coll_cluster_free(cc);
	}
	assert_int_equal(replicas, 6);
	assert_int_equal(points, 2 * 900);
	for (k = 0; k < 3; k++) {
		qbk_qdrant_cluster_free(c[k]);
		qbk_qdrant_free(n[k]);
	}
	tu_sim_stop(&s3);
}

static void
shard_keys(void **state)
{
	struct tu_sim s3;
	struct qbk_qdrant *c;
	struct qbk_qdrant_shard_key sk;
	struct qbk_qdrant_coll_cluster *cc;
	struct qbk_qdrant_cluster *cl;
	struct qbk_err err = QBK_ERR_INIT;
	char **keys;
	uint64_t only;
	size_t i, on_only = 0;

	(void)state;
	assert_int_equal(tu_sim_start(&s3, 3, (char *)NULL), 0);
	json_decref(sim_call(s3.url[0], "PUT", "/collections/k",
	    "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
	    "\"sharding_method\":\"custom\",\"shard_number\":2,"
	    "\"replication_factor\":2}"));
	c = client(s3.url[0], NULL, 1);
	assert_int_equal(qbk_qdrant_shard_keys(c, "k", &keys, &err), 0);
	assert_null(keys[0]);
	qbk_qdrant_strv_free(keys);

	/* A string key with the collection's defaults, a numeric one with
	 * its own shard count, replication and placement. */
	assert_int_equal(qbk_qdrant_cluster(c, &cl, &err), 0);
	only = cl->peers[2].id;
	qbk_qdrant_cluster_free(cl);
	memset(&sk, 0, sizeof(sk));
	sk.key = "\"eu\"";
	assert_int_equal(qbk_qdrant_shard_key_create(c, "k", &sk, &err), 0);
	sk.key = "42";
	sk.shards_number = 3;
	sk.replication_factor = 1;
	sk.placement = &only;
	sk.nplacement = 1;
	assert_int_equal(qbk_qdrant_shard_key_create(c, "k", &sk, &err), 0);
	assert_int_equal(qbk_qdrant_shard_keys(c, "k", &keys, &err), 0);
	assert_string_equal(keys[0], "\"eu\"");
	assert_string_equal(keys[1], "42");
	assert_null(keys[2]);
	qbk_qdrant_strv_free(keys);
	assert_int_equal(qbk_qdrant_collection_cluster(c, "k", &cc, &err), 0);
	assert_int_equal(cc->shard_count, 5);
	for (i = 0; i < cc->nlocal + cc->nremote; i++) {
		const struct qbk_qdrant_shard *x = i < cc->nlocal ?
		    &cc->local[i] : &cc->remote[i - cc->nlocal];

		assert_non_null(x->shard_key);
		if (strcmp(x->shard_key, "42") == 0) {
			assert_true(x->peer_id == only);
			on_only++;
		} else
			assert_string_equal(x->shard_key, "\"eu\"");
	}
	assert_int_equal(on_only, 3);
	assert_int_equal(cc->nlocal + cc->nremote, 2 * 2 + 3);
	qbk_qdrant_coll_cluster_free(cc);

	/* Qdrant's refusals come through; a key that is no key is ours. */
	sk.key = "\"eu\"";
	sk.placement = NULL;
	assert_int_equal(qbk_qdrant_shard_key_create(c, "k", &sk, &err), -1);
	assert_int_equal(err.code, QBK_E_QDRANT);
	assert_string_equal(err.msg, "cannot create shard key \"eu\" of 'k': "
	    "HTTP 400: Bad request: Sharding key \"eu\" already exists for "
	    "collection k");
	qbk_err_clear(&err);
	sk.key = "-1";
	assert_int_equal(qbk_qdrant_shard_key_create(c, "k", &sk, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	qbk_err_clear(&err);
	sk.key = "{\"a\":1}";
	assert_int_equal(qbk_qdrant_shard_key_create(c, "k", &sk, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	qbk_err_clear(&err);

	assert_int_equal(qbk_qdrant_shard_key_delete(c, "k", "42", &err), 0);
	assert_int_equal(qbk_qdrant_shard_keys(c, "k", &keys, &err), 0);
	assert_string_equal(keys[0], "\"eu\"");
	assert_null(keys[1]);
	qbk_qdrant_strv_free(keys);
	assert_int_equal(qbk_qdrant_shard_key_delete(c, "k", "42", &err), -1);
	assert_non_null(strstr(err.msg, "does not exist"));
	qbk_err_clear(&err);
	/* Auto sharding has no keys. */
	generate(s3.url[0], "auto", 10, 4, NULL);
	assert_int_equal(qbk_qdrant_shard_keys(c, "auto", &keys, &err), 0);
	assert_null(keys[0]);
	qbk_qdrant_strv_free(keys);
	qbk_qdrant_free(c);
	tu_sim_stop(&s3);
}

static void
api_key_refused(void **state)
{
	struct tu_sim sk;
	struct qbk_qdrant *c;
	struct qbk_qdrant_version v;
	struct qbk_qdrant_snapshot s;
	struct qbk_err err = QBK_ERR_INIT;
	char **names;

	(void)state;
	assert_int_equal(tu_sim_start(&sk, 1, "--api-key", "rw-key",
	    "--read-only-api-key", "ro-key", (char *)NULL), 0);
	generate(sk.url[0], "g", 10, 4, NULL);

	c = client(sk.url[0], NULL, 3);
	/* GET / needs no key. */
	assert_int_equal(qbk_qdrant_version(c, &v, &err), 0);
	assert_int_equal(qbk_qdrant_collections(c, &names, &err), -1);
	assert_int_equal(err.code, QBK_E_AUTH);
	assert_int_equal(err.http_status, 401);
	assert_string_equal(err.msg, "cannot list collections: HTTP 401: Must "
	    "provide an API key or an Authorization bearer token");
	assert_non_null(strstr(err.hint, "API key"));
	qbk_qdrant_free(c);

	c = client(sk.url[0], "wrong", 3);
	assert_int_equal(qbk_qdrant_collections(c, &names, &err), -1);
	assert_int_equal(err.code, QBK_E_AUTH);
	assert_string_equal(err.msg, "cannot list collections: HTTP 401: "
	    "Invalid API key or JWT");
	qbk_qdrant_free(c);

	/* A read-only key reads but cannot snapshot. */
	c = client(sk.url[0], "ro-key", 3);
	assert_int_equal(qbk_qdrant_collections(c, &names, &err), 0);
	assert_string_equal(names[0], "g");
	qbk_qdrant_strv_free(names);
	assert_int_equal(qbk_qdrant_snapshot_create(c, "g", QBK_QDRANT_NO_SHARD,
	    &s, &err), -1);
	assert_int_equal(err.code, QBK_E_AUTH);
	assert_int_equal(err.http_status, 403);
	assert_non_null(strstr(err.msg, "cannot create snapshot of 'g': HTTP "
	    "403: Forbidden: "));
	qbk_qdrant_free(c);

	c = client(sk.url[0], "rw-key", 3);
	assert_int_equal(qbk_qdrant_snapshot_create(c, "g", QBK_QDRANT_NO_SHARD,
	    &s, &err), 0);
	qbk_qdrant_snapshot_release(&s);
	qbk_qdrant_free(c);
	assert_null(strstr(tu_log_text(), "rw-key"));
	tu_sim_stop(&sk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(envelopes_and_texts, test_setup),
		cmocka_unit_test_setup(json_helpers, test_setup),
		cmocka_unit_test_setup(json_big_ids, test_setup),
		cmocka_unit_test_setup(create_body_and_disposition,
		    test_setup),
		cmocka_unit_test_setup(version_and_health, test_setup),
		cmocka_unit_test_setup(collections_lifecycle, test_setup),
		cmocka_unit_test_setup(points_roundtrip, test_setup),
		cmocka_unit_test_setup(aliases, test_setup),
		cmocka_unit_test_setup(collection_snapshots, test_setup),
		cmocka_unit_test_setup(upload_roundtrip, test_setup),
		cmocka_unit_test_setup(recover_from_file, test_setup),
		cmocka_unit_test_setup(full_snapshots, test_setup),
		cmocka_unit_test_setup(shard_snapshots, test_setup),
		cmocka_unit_test_setup(unknown_collection_messages,
		    test_setup),
		cmocka_unit_test_setup(server_error_messages, test_setup),
		cmocka_unit_test_setup(cluster_single_node, test_setup),
		cmocka_unit_test_setup(cluster_three_nodes, test_setup),
		cmocka_unit_test_setup(shard_keys, test_setup),
		cmocka_unit_test_setup(api_key_refused, test_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
