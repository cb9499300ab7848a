#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "net/qbk_http.h"
#include "qdrant/qbk_qdrant.h"

#define SCROLL_LIMIT	256
#define TEXT_MAX	300

struct qbk_qdrant {
	struct qbk_http *http;
	struct qbk_http_opts opts;	/* for clients of other peers */
	char *api_key;			/* opts.api_key, owned */
	char *ca_file;			/* opts.ca_file, owned */
	int too_large;			/* the last call's answer was over
					 * the HTTP layer's cap */
};

/* Overwrite a secret so that it does not linger in freed memory. */
static void
wipe(char *s)
{
	volatile char *p = s;

	if (s == NULL)
		return;
	while (*p != '\0')
		*p++ = '\0';
}

int
qbk_qdrant_new(struct qbk_qdrant **out, const struct qbk_http_opts *o,
    struct qbk_err *err)
{
	struct qbk_qdrant *q;

	*out = NULL;
	q = qbk_xcalloc(1, sizeof(*q));
	if (qbk_http_new(&q->http, o, err) != 0) {
		free(q);
		return -1;
	}
	qbk_http_set_error_text(q->http, qbk_qdrant_error_text);
	q->opts = *o;
	q->opts.base_url = NULL;
	q->api_key = o->api_key != NULL ? qbk_xstrdup(o->api_key) : NULL;
	q->ca_file = o->ca_file != NULL ? qbk_xstrdup(o->ca_file) : NULL;
	q->opts.api_key = q->api_key;
	q->opts.ca_file = q->ca_file;
	*out = q;
	return 0;
}

int
qbk_qdrant_new_peer(struct qbk_qdrant *q, const char *url, int retries,
    struct qbk_qdrant **out, struct qbk_err *err)
{
	struct qbk_http_opts o = q->opts;

	o.base_url = url;
	if (retries >= 0)
		o.retries = (unsigned)retries;
	return qbk_qdrant_new(out, &o, err);
}

void
qbk_qdrant_free(struct qbk_qdrant *q)
{
	if (q == NULL)
		return;
	qbk_http_free(q->http);
	wipe(q->api_key);
	free(q->api_key);
	free(q->ca_file);
	free(q);
}

const char *
qbk_qdrant_url(const struct qbk_qdrant *q)
{
	return qbk_http_base_url(q->http);
}

struct qbk_http *
qbk_qdrant_http(struct qbk_qdrant *q)
{
	return q->http;
}

/* ---- envelopes and errors -------------------------------------------- */

int
qbk_qdrant_error_text(const char *body, size_t len, struct qbk_buf *out)
{
	const char *text;
	json_t *v;

	v = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	text = json_string_value(qbk_json_path(v, "status.error"));
	if (text != NULL) {
		qbk_http_oneline(out, text, strlen(text), TEXT_MAX);
		json_decref(v);
		return 1;
	}
	json_decref(v);
	qbk_http_oneline(out, body, len, TEXT_MAX);
	return 0;
}

int
qbk_qdrant_result(const char *body, size_t len, const char *what,
    struct json_t **result, struct qbk_err *err)
{
	struct qbk_buf t = QBK_BUF_INIT;
	const json_t *status;
	json_t *v;

	*result = NULL;
	if ((v = qbk_json_parse(body, len, what, err)) == NULL) {
		if (err != NULL)
			err->code = QBK_E_QDRANT;
		return -1;
	}
	status = json_object_get(v, "status");
	if (json_is_object(status)) {
		qbk_qdrant_error_text(body, len, &t);
		qbk_err_set(err, QBK_E_QDRANT, "%s: %s", what, t.buf);
		goto fail;
	}
	if (!json_is_object(v) || !json_is_string(status)) {
		qbk_err_set(err, QBK_E_QDRANT, "%s: not a Qdrant response",
		    what);
		goto fail;
	}
	*result = json_incref(json_object_get(v, "result"));
	json_decref(v);
	return 0;

fail:
	qbk_buf_release(&t);
	json_decref(v);
	return -1;
}

/*
 * Turn a failed qbk_http call into the final message: Qdrant's own text
 * for HTTP errors, then the context in front.
 */
static int
failed(const struct qbk_http_resp *resp, struct qbk_err *err,
    const char *ctx)
{
	struct qbk_buf t = QBK_BUF_INIT;
	int envelope;

	if (err == NULL)
		return -1;
	if (resp->too_large) {
		size_t len = strlen(err->msg);

		snprintf(err->msg + len, sizeof(err->msg) - len,
		    ": not a Qdrant answer");
		qbk_err_hint(err, "check that the URL leads to Qdrant itself "
		    "and not to another service or a broken proxy");
	}
	if (err->http_status != 0 && resp->status >= 300) {
		envelope = qbk_qdrant_error_text(resp->body.buf,
		    resp->body.len, &t);
		qbk_http_resp_err(resp, t.buf, err);
		if (strstr(t.buf, "hecksum mismatch") != NULL)
			err->code = QBK_E_INTEGRITY;
		else if (envelope && err->code == QBK_E_HTTP)
			err->code = QBK_E_QDRANT;
		if (resp->status >= 300 && resp->status < 400) {
			/* The configured URL is not Qdrant's: fix it. */
			err->code = QBK_E_CONFIG;
			qbk_err_hint(err, "qbk does not follow redirects, so "
			    "that the API key goes nowhere else: set [qdrant] "
			    "url (or --url) to %s", resp->location[0] != '\0' ?
			    "where it leads, if that is Qdrant" : "Qdrant's "
			    "own address");
		} else if (resp->status == 401)
			qbk_err_hint(err, "check the API key (api_key_file in "
			    "qbk.conf or QBK_API_KEY)");
		else if (resp->status == 403 &&
		    strstr(t.buf, "manage access") != NULL)
			qbk_err_hint(err, "this needs a read-write API key, "
			    "not a read-only one");
	}
	qbk_err_prefix(err, "%s", ctx);
	qbk_buf_release(&t);
	return -1;
}

static void ctx_vset(struct qbk_buf *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
ctx_vset(struct qbk_buf *ctx, const char *fmt, va_list ap)
{
	qbk_buf_reset(ctx);
	qbk_buf_vaddf(ctx, fmt, ap);
}

/*
 * One JSON call: ${body} (may be NULL) as the request, the envelope's
 * "result" into ${*result} (if ${result} is not NULL).  ${fmt} is the
 * context of error messages ("cannot list collections").
 */
static int call(struct qbk_qdrant *, const char *, const char *,
    const json_t *, unsigned, json_t **, struct qbk_err *, const char *,
    ...) __attribute__((format(printf, 8, 9)));

/* The result of Qdrant's answer ${resp} in ${*res} (NULL if it has none);
 * a failure is said after the context ${ctx}. */
static int
answer(const struct qbk_http_resp *resp, const char *ctx, json_t **res,
    struct qbk_err *err)
{
	if (qbk_qdrant_result(resp->body.buf, resp->body.len, "the response",
	    res, err) == 0)
		return 0;
	qbk_err_prefix(err, "%s", ctx);
	return -1;
}

static int
call(struct qbk_qdrant *q, const char *method, const char *path,
    const json_t *body, unsigned flags, json_t **result, struct qbk_err *err,
    const char *fmt, ...)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_buf text = QBK_BUF_INIT, ctx = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	json_t *res = NULL;
	va_list ap;
	int rc = -1;

	if (result != NULL)
		*result = NULL;
	va_start(ap, fmt);
	ctx_vset(&ctx, fmt, ap);
	va_end(ap);
	qbk_http_resp_init(&resp);
	if (body != NULL && qbk_json_dump(body, &text, 0) != 0) {
		qbk_err_set(err, QBK_E_INTERNAL, "%s: cannot encode the "
		    "request", ctx.buf);
		goto done;
	}
	req.method = method;
	req.path = path;
	req.body = body != NULL ? text.buf : NULL;
	req.body_len = text.len;
	req.flags = flags;
	q->too_large = 0;
	if (qbk_http_request(q->http, &req, &resp, err) != 0) {
		q->too_large = resp.too_large;
		failed(&resp, err, ctx.buf);
		goto done;
	}
	if (answer(&resp, ctx.buf, &res, err) != 0)
		goto done;
	if (result != NULL) {
		*result = res;	/* handed over */
		res = NULL;
	}
	rc = 0;
done:
	json_decref(res);
	qbk_http_resp_release(&resp);
	qbk_buf_release(&text);
	qbk_buf_release(&ctx);
	return rc;
}

static int
bad_result(struct qbk_err *err, const char *what)
{
	return qbk_err_set(err, QBK_E_QDRANT, "%s: unexpected response from "
	    "Qdrant", what);
}

/* Paths. */
static void
path_coll(struct qbk_buf *b, const char *coll)
{
	qbk_buf_reset(b);
	qbk_buf_addstr(b, "/collections/");
	qbk_http_escape(b, coll, 0);
}

static void
path_snaps(struct qbk_buf *b, const char *coll, long shard)
{
	if (coll == NULL) {
		qbk_buf_reset(b);
		qbk_buf_addstr(b, "/snapshots");
		return;
	}
	path_coll(b, coll);
	if (shard >= 0)
		qbk_buf_addf(b, "/shards/%ld", shard);
	qbk_buf_addstr(b, "/snapshots");
}

/* "snapshot of 'c1'", "snapshot of shard 2 of 'c1'", "full snapshot". */
static void
scope_text(struct qbk_buf *b, const char *coll, long shard)
{
	qbk_buf_reset(b);
	if (coll == NULL)
		qbk_buf_addstr(b, "full snapshot");
	else if (shard >= 0)
		qbk_buf_addf(b, "snapshot of shard %ld of '%s'", shard, coll);
	else
		qbk_buf_addf(b, "snapshot of '%s'", coll);
}

static char *
dup_str(const json_t *v)
{
	const char *s = json_string_value(v);

	return s != NULL ? qbk_xstrdup(s) : NULL;
}

/* ---- service ---------------------------------------------------------- */

int
qbk_qdrant_version(struct qbk_qdrant *q, struct qbk_qdrant_version *out,
    struct qbk_err *err)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	const char *s;
	json_t *v = NULL;
	int rc = -1;
	char ctx[300];

	memset(out, 0, sizeof(*out));
	snprintf(ctx, sizeof(ctx), "cannot get the version of '%s'",
	    qbk_qdrant_url(q));
	qbk_http_resp_init(&resp);
	if (qbk_http_request(q->http, &req, &resp, err) != 0) {
		failed(&resp, err, ctx);
		goto done;
	}
	v = qbk_json_parse(resp.body.buf, resp.body.len, "the response", err);
	if (v == NULL || (s = qbk_json_str(v, "version")) == NULL) {
		qbk_err_set(err, QBK_E_QDRANT, "%s: not a Qdrant server", ctx);
		goto done;
	}
	snprintf(out->version, sizeof(out->version), "%s", s);
	if ((s = qbk_json_str(v, "title")) != NULL)
		snprintf(out->title, sizeof(out->title), "%s", s);
	if ((s = qbk_json_str(v, "commit")) != NULL)
		snprintf(out->commit, sizeof(out->commit), "%s", s);
	rc = 0;
done:
	json_decref(v);
	qbk_http_resp_release(&resp);
	return rc;
}

int
qbk_qdrant_healthz(struct qbk_qdrant *q, struct qbk_err *err)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	char ctx[300];
	int rc;

	snprintf(ctx, sizeof(ctx), "health check of '%s' failed",
	    qbk_qdrant_url(q));
	req.path = "/healthz";
	qbk_http_resp_init(&resp);
	if ((rc = qbk_http_request(q->http, &req, &resp, err)) != 0)
		failed(&resp, err, ctx);
	qbk_http_resp_release(&resp);
	return rc;
}

int
qbk_qdrant_readyz(struct qbk_qdrant *q, int *ready, struct qbk_err *err)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	char ctx[300];
	int rc = -1;

	*ready = 0;
	snprintf(ctx, sizeof(ctx), "readiness check of '%s' failed",
	    qbk_qdrant_url(q));
	req.path = "/readyz";
	req.flags = QBK_HTTP_F_NORETRY | QBK_HTTP_F_ANYSTATUS;
	qbk_http_resp_init(&resp);
	if (qbk_http_request(q->http, &req, &resp, err) != 0) {
		failed(&resp, err, ctx);
	} else if (resp.status == 200 || resp.status == 503) {
		*ready = resp.status == 200;
		rc = 0;
	} else {
		if (err != NULL)
			err->http_status = resp.status;
		failed(&resp, err, ctx);
	}
	qbk_http_resp_release(&resp);
	return rc;
}

/* ---- collections ------------------------------------------------------ */

void
qbk_qdrant_strv_free(char **v)
{
	char **p;

	if (v == NULL)
		return;
	for (p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
qbk_qdrant_collections(struct qbk_qdrant *q, char ***out,
    struct qbk_err *err)
{
	const char *ctx = "cannot list collections";
	json_t *res, *list;
	char **v;
	size_t i, n;

	*out = NULL;
	if (call(q, "GET", "/collections", NULL, 0, &res, err, "%s",
	    ctx) != 0)
		return -1;
	list = json_object_get(res, "collections");
	if (!json_is_array(list)) {
		json_decref(res);
		return bad_result(err, ctx);
	}
	n = json_array_size(list);
	v = qbk_xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i] = dup_str(json_object_get(json_array_get(list, i),
		    "name"));
		if (v[i] == NULL) {
			qbk_qdrant_strv_free(v);
			json_decref(res);
			return bad_result(err, ctx);
		}
	}
	qsort(v, n, sizeof(*v), cmp_str);
	json_decref(res);
	*out = v;
	return 0;
}

void
qbk_qdrant_collection_free(struct qbk_qdrant_collection *c)
{
	if (c == NULL)
		return;
	json_decref(c->info);
	free(c->name);
	free(c);
}

static uint32_t
u32_or(const json_t *v, const char *path, uint32_t dflt)
{
	int64_t x;

	if (qbk_json_i64(v, path, &x) != 0 || x < 0 || x > UINT32_MAX)
		return dflt;
	return (uint32_t)x;
}

int
qbk_qdrant_collection_info(struct qbk_qdrant *q, const char *name,
    struct qbk_qdrant_collection **out, struct qbk_err *err)
{
	struct qbk_qdrant_collection *c;
	struct qbk_buf path = QBK_BUF_INIT;
	const char *s;
	json_t *res;

	*out = NULL;
	path_coll(&path, name);
	if (call(q, "GET", path.buf, NULL, 0, &res, err,
	    "cannot get information on collection '%s'", name) != 0) {
		qbk_buf_release(&path);
		return -1;
	}
	qbk_buf_release(&path);
	if (!json_is_object(res) || !json_is_object(json_object_get(res,
	    "config"))) {
		json_decref(res);
		qbk_err_set(err, QBK_E_QDRANT, "cannot get information on "
		    "collection '%s': unexpected response from Qdrant", name);
		return -1;
	}
	c = qbk_xcalloc(1, sizeof(*c));
	c->name = qbk_xstrdup(name);
	c->info = res;
	c->config = json_object_get(res, "config");
	c->vectors = qbk_json_path(res, "config.params.vectors");
	if ((s = qbk_json_str(res, "status")) != NULL)
		snprintf(c->status, sizeof(c->status), "%s", s);
	if (qbk_json_i64(res, "points_count", &c->points_count) != 0)
		c->points_count = -1;
	if (qbk_json_i64(res, "indexed_vectors_count",
	    &c->indexed_vectors_count) != 0)
		c->indexed_vectors_count = -1;
	if (qbk_json_i64(res, "segments_count", &c->segments_count) != 0)
		c->segments_count = -1;
	c->shard_number = u32_or(res, "config.params.shard_number", 1);
	c->replication_factor = u32_or(res,
	    "config.params.replication_factor", 1);
	*out = c;
	return 0;
}

int
qbk_qdrant_collection_exists(struct qbk_qdrant *q, const char *name,
    int *exists, struct qbk_err *err)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_buf path = QBK_BUF_INIT, ctx = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	json_t *res = NULL;
	int rc = -1, b;

	*exists = 0;
	qbk_buf_addf(&ctx, "cannot check whether collection '%s' exists",
	    name);
	path_coll(&path, name);
	qbk_buf_addstr(&path, "/exists");
	req.path = path.buf;
	qbk_http_resp_init(&resp);
	if (qbk_http_request(q->http, &req, &resp, err) != 0) {
		/* Before 1.8 there was no /exists: an unknown route is an
		 * empty 404.  Ask for the collection itself then. */
		if (resp.status == 404 && resp.body.len == 0) {
			path_coll(&path, name);
			req.path = path.buf;
			qbk_http_resp_release(&resp);
			if (qbk_http_request(q->http, &req, &resp, err) == 0) {
				*exists = 1;
				rc = 0;
			} else if (resp.status == 404) {
				rc = 0;
			} else {
				failed(&resp, err, ctx.buf);
			}
			goto done;
		}
		failed(&resp, err, ctx.buf);
		goto done;
	}
	if (answer(&resp, ctx.buf, &res, err) != 0)
		goto done;
	if (qbk_json_bool(res, "exists", &b) != 0) {
		bad_result(err, ctx.buf);
		goto done;
	}
	*exists = b;
	rc = 0;
done:
	json_decref(res);
	qbk_http_resp_release(&resp);
	qbk_buf_release(&path);
	qbk_buf_release(&ctx);
	return rc;
}

int
qbk_qdrant_collection_create(struct qbk_qdrant *q, const char *name,
    const struct json_t *body, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	int rc;

	path_coll(&path, name);
	rc = call(q, "PUT", path.buf, body, QBK_HTTP_F_LONG, NULL, err,
	    "cannot create collection '%s'", name);
	qbk_buf_release(&path);
	return rc;
}

static void
copy_key(json_t *dst, const char *dkey, const json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);

	if (v != NULL && !json_is_null(v))
		json_object_set(dst, dkey, v);
}

struct json_t *
qbk_qdrant_create_body(const struct json_t *config)
{
	static const char *params[] = { "vectors", "shard_number",
		"sharding_method", "replication_factor",
		"write_consistency_factor", "on_disk_payload", "payload",
		"sparse_vectors" };
	static const char *top[] = { "hnsw_config", "wal_config",
		"quantization_config", "strict_mode_config", "metadata" };
	const json_t *p = json_object_get(config, "params");
	json_t *body;
	size_t i;

	if (!json_is_object(p) || json_object_get(p, "vectors") == NULL)
		return NULL;
	body = json_object();
	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		copy_key(body, params[i], p, params[i]);
	for (i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		copy_key(body, top[i], config, top[i]);
	copy_key(body, "optimizers_config", config, "optimizer_config");
	return body;
}

int
qbk_qdrant_collection_delete(struct qbk_qdrant *q, const char *name,
    int *deleted, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *res;
	int rc;

	path_coll(&path, name);
	rc = call(q, "DELETE", path.buf, NULL, QBK_HTTP_F_LONG, &res, err,
	    "cannot delete collection '%s'", name);
	qbk_buf_release(&path);
	if (rc == 0 && deleted != NULL)
		*deleted = json_is_true(res);
	json_decref(res);
	return rc;
}

int
qbk_qdrant_index_create(struct qbk_qdrant *q, const char *coll,
    const char *field, const json_t *schema, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *body, *res = NULL, *params, *type;
	int rc;

	/* PayloadIndexInfo {"data_type", "params"?} -> PayloadFieldSchema:
	 * the params object (it names its type), else the type name. */
	params = json_object_get(schema, "params");
	type = json_object_get(schema, "data_type");
	if (params != NULL && json_is_object(params))
		body = json_pack("{s:s, s:O}", "field_name", field,
		    "field_schema", params);
	else if (type != NULL && json_is_string(type))
		body = json_pack("{s:s, s:O}", "field_name", field,
		    "field_schema", type);
	else
		return qbk_err_set(err, QBK_E_USAGE, "payload index of '%s' on "
		    "'%s' has no type", field, coll);
	if (body == NULL)
		return qbk_err_set(err, QBK_E_NOMEM, "cannot build a request");
	path_coll(&path, coll);
	qbk_buf_addstr(&path, "/index?wait=true");
	rc = call(q, "PUT", path.buf, body, QBK_HTTP_F_LONG, &res, err,
	    "cannot create the payload index of '%s' on '%s'", field, coll);
	qbk_buf_release(&path);
	json_decref(body);
	json_decref(res);
	return rc;
}

/* ---- shard keys -------------------------------------------------------- */

/* The ShardKey in the JSON text ${text}: a string or an unsigned integer
 * (new reference), or NULL. */
static json_t *
shard_key_value(const char *text)
{
	struct qbk_err e = QBK_ERR_INIT;
	json_t *v;

	if (text == NULL ||
	    (v = qbk_json_parse(text, strlen(text), "a shard key", &e)) ==
	    NULL)
		return NULL;
	if (json_is_string(v) ||
	    (json_is_integer(v) && json_integer_value(v) >= 0))
		return v;
	json_decref(v);
	return NULL;
}

int
qbk_qdrant_shard_key_create(struct qbk_qdrant *q, const char *coll,
    const struct qbk_qdrant_shard_key *sk, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *body, *key, *pl;
	size_t i;
	int rc;

	if ((key = shard_key_value(sk->key)) == NULL)
		return qbk_err_set(err, QBK_E_USAGE, "'%s' is not a shard key "
		    "(a JSON string or unsigned integer)", sk->key != NULL ?
		    sk->key : "(null)");
	body = json_object();
	json_object_set_new(body, "shard_key", key);
	if (sk->shards_number > 0)
		json_object_set_new(body, "shards_number",
		    json_integer((json_int_t)sk->shards_number));
	if (sk->replication_factor > 0)
		json_object_set_new(body, "replication_factor",
		    json_integer((json_int_t)sk->replication_factor));
	if (sk->placement != NULL) {
		pl = json_array();
		for (i = 0; i < sk->nplacement; i++)
			json_array_append_new(pl, json_integer(
			    (json_int_t)sk->placement[i]));
		json_object_set_new(body, "placement", pl);
	}
	path_coll(&path, coll);
	qbk_buf_addstr(&path, "/shards");
	rc = call(q, "PUT", path.buf, body, QBK_HTTP_F_LONG, NULL, err,
	    "cannot create shard key %s of '%s'", sk->key, coll);
	json_decref(body);
	qbk_buf_release(&path);
	return rc;
}

int
qbk_qdrant_shard_key_delete(struct qbk_qdrant *q, const char *coll,
    const char *keytext, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *body, *key;
	int rc;

	if ((key = shard_key_value(keytext)) == NULL)
		return qbk_err_set(err, QBK_E_USAGE, "'%s' is not a shard key "
		    "(a JSON string or unsigned integer)", keytext != NULL ?
		    keytext : "(null)");
	body = json_object();
	json_object_set_new(body, "shard_key", key);
	path_coll(&path, coll);
	qbk_buf_addstr(&path, "/shards/delete");
	rc = call(q, "POST", path.buf, body, QBK_HTTP_F_LONG, NULL, err,
	    "cannot drop shard key %s of '%s'", keytext, coll);
	json_decref(body);
	qbk_buf_release(&path);
	return rc;
}

int
qbk_qdrant_shard_keys(struct qbk_qdrant *q, const char *coll, char ***out,
    struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *res, *list, *e, *k;
	char **v;
	size_t i, n = 0;

	*out = NULL;
	path_coll(&path, coll);
	qbk_buf_addstr(&path, "/shards");
	if (call(q, "GET", path.buf, NULL, 0, &res, err,
	    "cannot list the shard keys of '%s'", coll) != 0) {
		qbk_buf_release(&path);
		return -1;
	}
	qbk_buf_release(&path);
	list = json_object_get(res, "shard_keys");
	if (list != NULL && !json_is_null(list) && !json_is_array(list)) {
		json_decref(res);
		return bad_result(err, "cannot list the shard keys");
	}
	v = qbk_xcalloc(json_array_size(list) + 1, sizeof(*v));
	json_array_foreach(list, i, e) {
		k = json_object_get(e, "key");
		if (k == NULL || (!json_is_string(k) && !json_is_integer(k))) {
			qbk_qdrant_strv_free(v);
			json_decref(res);
			return bad_result(err, "cannot list the shard keys");
		}
		v[n++] = json_dumps(k, JSON_ENCODE_ANY | JSON_COMPACT);
	}
	json_decref(res);
	*out = v;
	return 0;
}

/* ---- aliases ---------------------------------------------------------- */

void
qbk_qdrant_aliases_free(struct qbk_qdrant_alias *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].alias);
		free(v[i].collection);
	}
	free(v);
}

static int
cmp_alias(const void *a, const void *b)
{
	const struct qbk_qdrant_alias *x = a, *y = b;

	return strcmp(x->alias, y->alias);
}

int
qbk_qdrant_aliases(struct qbk_qdrant *q, const char *coll,
    struct qbk_qdrant_alias **out, size_t *nout, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT, ctx = QBK_BUF_INIT;
	struct qbk_qdrant_alias *v = NULL;
	json_t *res = NULL, *list, *e;
	size_t i, n = 0;
	int rc = -1;

	*out = NULL;
	*nout = 0;
	if (coll != NULL) {
		path_coll(&path, coll);
		qbk_buf_addstr(&path, "/aliases");
		qbk_buf_addf(&ctx, "cannot list the aliases of '%s'", coll);
	} else {
		qbk_buf_addstr(&path, "/aliases");
		qbk_buf_addstr(&ctx, "cannot list aliases");
	}
	if (call(q, "GET", path.buf, NULL, 0, &res, err, "%s", ctx.buf) != 0)
		goto done;
	list = json_object_get(res, "aliases");
	if (!json_is_array(list)) {
		bad_result(err, ctx.buf);
		goto done;
	}
	v = qbk_xcalloc(json_array_size(list) + 1, sizeof(*v));
	json_array_foreach(list, i, e) {
		v[n].alias = dup_str(json_object_get(e, "alias_name"));
		v[n].collection = dup_str(json_object_get(e,
		    "collection_name"));
		n++;
		if (v[n - 1].alias == NULL || v[n - 1].collection == NULL) {
			bad_result(err, ctx.buf);
			goto done;
		}
	}
	qsort(v, n, sizeof(*v), cmp_alias);
	*out = v;	/* handed over */
	*nout = n;
	v = NULL;
	rc = 0;
done:
	qbk_qdrant_aliases_free(v, n);
	json_decref(res);
	qbk_buf_release(&path);
	qbk_buf_release(&ctx);
	return rc;
}

int
qbk_qdrant_alias_actions(struct qbk_qdrant *q, const struct json_t *actions,
    struct qbk_err *err)
{
	json_t *body;
	int rc;

	body = json_pack("{s:O}", "actions", actions);
	if (body == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot change "
		    "aliases: bad action list");
	rc = call(q, "POST", "/collections/aliases", body, 0, NULL, err,
	    "cannot change aliases");
	json_decref(body);
	return rc;
}

int
qbk_qdrant_alias_create(struct qbk_qdrant *q, const char *alias,
    const char *coll, struct qbk_err *err)
{
	json_t *body;
	int rc;

	body = json_pack("{s:[{s:{s:s,s:s}}]}", "actions", "create_alias",
	    "collection_name", coll, "alias_name", alias);
	if (body == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot create alias "
		    "'%s': bad name", alias);
	rc = call(q, "POST", "/collections/aliases", body, 0, NULL, err,
	    "cannot create alias '%s' of '%s'", alias, coll);
	json_decref(body);
	return rc;
}

int
qbk_qdrant_alias_delete(struct qbk_qdrant *q, const char *alias,
    struct qbk_err *err)
{
	json_t *body;
	int rc;

	body = json_pack("{s:[{s:{s:s}}]}", "actions", "delete_alias",
	    "alias_name", alias);
	if (body == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot delete alias "
		    "'%s': bad name", alias);
	rc = call(q, "POST", "/collections/aliases", body, 0, NULL, err,
	    "cannot delete alias '%s'", alias);
	json_decref(body);
	return rc;
}

/* ---- strict mode ------------------------------------------------------ */

/*
 * Strict mode (Qdrant 1.12 and later, lib/collection/src/operations/
 * verification/): when the collection's strict_mode_config has "enabled":
 * true, Qdrant answers 400 to a count with "exact": true if
 * "search_allow_exact" is false, and to a scroll or query whose limit is
 * above "max_query_limit".  The config is read only after such a 400, so
 * that a collection without strict mode costs no request more.
 */
struct strict {
	int enabled;
	int allow_exact;
	uint64_t max_limit;	/* 0: no limit */
};

static int
strict_mode(struct qbk_qdrant *q, const char *coll, struct strict *s)
{
	struct qbk_err e = QBK_ERR_INIT;
	struct qbk_buf path = QBK_BUF_INIT;
	const json_t *sm;
	json_t *res = NULL;
	int b;

	memset(s, 0, sizeof(*s));
	s->allow_exact = 1;
	path_coll(&path, coll);
	if (call(q, "GET", path.buf, NULL, 0, &res, &e,
	    "cannot get information on collection '%s'", coll) != 0) {
		qbk_buf_release(&path);
		return -1;
	}
	qbk_buf_release(&path);
	sm = qbk_json_path(res, "config.strict_mode_config");
	if (qbk_json_bool(sm, "enabled", &b) == 0 && b) {
		s->enabled = 1;
		if (qbk_json_bool(sm, "search_allow_exact", &b) == 0 && !b)
			s->allow_exact = 0;
		if (qbk_json_u64(sm, "max_query_limit", &s->max_limit) != 0)
			s->max_limit = 0;
	}
	json_decref(res);
	return 0;
}

/*
 * After a request with ${*limit} was refused: if strict mode caps limits
 * below it, lower ${*limit} to the cap and return 1 (ask again); else 0,
 * and the refusal stands.
 */
static int
strict_limit(struct qbk_qdrant *q, const char *coll, const struct qbk_err *err,
    unsigned *limit)
{
	struct strict s;

	if (err->http_status != 400 || strict_mode(q, coll, &s) != 0 ||
	    !s.enabled || s.max_limit == 0 || *limit <= s.max_limit)
		return 0;
	qbk_info("strict mode of '%s' allows at most %llu points a request: "
	    "asking for that many", coll, (unsigned long long)s.max_limit);
	*limit = (unsigned)s.max_limit;
	return 1;
}

/* ---- points ----------------------------------------------------------- */

/*
 * One page of at most ${*limit} points.  The only answers whose size grows
 * with the data are pages of points with their vectors and payloads: when
 * one is over the HTTP layer's cap, ask again for half as many points, and
 * leave the smaller number in ${*limit} for the next pages.
 */
static int
scroll_page(struct qbk_qdrant *q, const char *coll,
    const struct qbk_qdrant_scroll *o, unsigned *limit,
    const json_t *offset, json_t **points, json_t **next,
    struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *body, *res = NULL, *p, *n;
	int rc = -1;

	*points = NULL;
	*next = NULL;
	path_coll(&path, coll);
	qbk_buf_addstr(&path, "/points/scroll");
	for (;;) {
		body = json_pack("{s:I,s:b,s:b}", "limit", (json_int_t)*limit,
		    "with_payload", o != NULL && o->with_payload,
		    "with_vector", o != NULL && o->with_vector);
		if (offset != NULL)
			json_object_set_new(body, "offset",
			    qbk_json_point_id(offset));
		if (o != NULL && o->filter != NULL)
			json_object_set(body, "filter",
			    (json_t *)(uintptr_t)o->filter);
		rc = call(q, "POST", path.buf, body, 0, &res, err,
		    "cannot read the points of '%s'", coll);
		json_decref(body);
		if (rc != 0 && !q->too_large && strict_limit(q, coll, err,
		    limit)) {
			qbk_err_clear(err);
			continue;
		}
		if (rc == 0 || !q->too_large || *limit <= 1)
			break;
		qbk_detail("a page of %u points of '%s' is too large: asking "
		    "for %u", *limit, coll, *limit / 2);
		*limit /= 2;
		qbk_err_clear(err);
	}
	if (rc != 0)
		goto done;
	rc = -1;
	p = json_object_get(res, "points");
	n = json_object_get(res, "next_page_offset");
	if (!json_is_array(p)) {
		qbk_err_set(err, QBK_E_QDRANT, "cannot read the points of "
		    "'%s': unexpected response from Qdrant", coll);
		goto done;
	}
	*points = json_incref(p);
	*next = n != NULL && !json_is_null(n) ? json_incref(n) : NULL;
	rc = 0;
done:
	json_decref(res);
	qbk_buf_release(&path);
	return rc;
}

static unsigned
scroll_limit(const struct qbk_qdrant_scroll *o)
{
	return o != NULL && o->limit > 0 ? o->limit : SCROLL_LIMIT;
}

int
qbk_qdrant_scroll_page(struct qbk_qdrant *q, const char *coll,
    const struct qbk_qdrant_scroll *o, const struct json_t *offset,
    struct json_t **points, struct json_t **next, struct qbk_err *err)
{
	unsigned limit = scroll_limit(o);

	return scroll_page(q, coll, o, &limit, offset, points, next, err);
}

int
qbk_qdrant_scroll(struct qbk_qdrant *q, const char *coll,
    const struct qbk_qdrant_scroll *o, qbk_qdrant_page_fn *fn, void *cookie,
    struct qbk_err *err)
{
	json_t *offset = NULL, *points, *next;
	unsigned limit = scroll_limit(o);
	int rc = 0;

	for (;;) {
		if (scroll_page(q, coll, o, &limit, offset, &points, &next,
		    err) != 0) {
			rc = -1;
			break;
		}
		if (next != NULL && offset != NULL && json_equal(next,
		    offset)) {
			json_decref(points);
			json_decref(next);
			rc = qbk_err_set(err, QBK_E_QDRANT, "cannot read the "
			    "points of '%s': the scroll does not advance",
			    coll);
			break;
		}
		if (json_array_size(points) > 0 &&
		    fn(cookie, points, err) != 0) {
			json_decref(points);
			json_decref(next);
			rc = -1;
			break;
		}
		json_decref(points);
		json_decref(offset);
		offset = next;
		if (offset == NULL)
			break;
	}
	json_decref(offset);
	return rc;
}

static int
count_page(void *cookie, const json_t *points, struct qbk_err *err)
{
	(void)err;
	*(uint64_t *)cookie += json_array_size(points);
	return 0;
}

/*
 * The exact count, asked of Qdrant; where strict mode refuses it, the
 * points counted by scrolling their ids (exact as well, one page per
 * max_query_limit points), and said so.
 */
int
qbk_qdrant_count(struct qbk_qdrant *q, const char *coll,
    const struct json_t *filter, uint64_t *count, struct qbk_err *err)
{
	struct qbk_qdrant_scroll so = { 0, 0, 0, NULL };
	struct qbk_buf path = QBK_BUF_INIT;
	struct strict s;
	json_t *body, *res = NULL;
	int rc = -1;

	*count = 0;
	body = json_pack("{s:b}", "exact", 1);
	if (filter != NULL)
		json_object_set(body, "filter", (json_t *)(uintptr_t)filter);
	path_coll(&path, coll);
	qbk_buf_addstr(&path, "/points/count");
	if (call(q, "POST", path.buf, body, QBK_HTTP_F_LONG, &res, err,
	    "cannot count the points of '%s'", coll) != 0) {
		if (err->http_status != 400 || strict_mode(q, coll, &s) != 0 ||
		    !s.enabled || s.allow_exact)
			goto done;
		qbk_err_clear(err);
		qbk_info("strict mode of '%s' refuses an exact count: "
		    "counted its points by scrolling", coll);
		so.filter = filter;
		rc = qbk_qdrant_scroll(q, coll, &so, count_page, count, err);
		if (rc != 0)
			*count = 0;
		goto done;
	}
	if (qbk_json_u64(res, "count", count) != 0) {
		qbk_err_set(err, QBK_E_QDRANT, "cannot count the points of "
		    "'%s': unexpected response from Qdrant", coll);
		goto done;
	}
	rc = 0;
done:
	json_decref(res);
	json_decref(body);
	qbk_buf_release(&path);
	return rc;
}

/*
 * The records of ids ${from} to ${from + n - 1} of ${ids}, appended to
 * ${out}.  An answer over the HTTP layer's cap (big vectors or payloads)
 * is asked again in two halves, down to single points.
 */
static int
retrieve_part(struct qbk_qdrant *q, const char *coll, const char *path,
    const json_t *ids, size_t from, size_t n, int with_payload,
    int with_vector, json_t *out, struct qbk_err *err)
{
	json_t *body, *part, *res = NULL;
	size_t i;
	int rc;

	part = json_array();
	for (i = from; i < from + n; i++)
		json_array_append_new(part,
		    qbk_json_point_id(json_array_get(ids, i)));
	body = json_pack("{s:o,s:b,s:b}", "ids", part, "with_payload",
	    with_payload != 0, "with_vector", with_vector != 0);
	rc = call(q, "POST", path, body, 0, &res, err,
	    "cannot retrieve points of '%s'", coll);
	json_decref(body);
	if (rc != 0 && q->too_large && n > 1) {
		qbk_detail("the records of %zu points of '%s' are too large: "
		    "asking for half as many at a time", n, coll);
		qbk_err_clear(err);
		if (retrieve_part(q, coll, path, ids, from, n / 2,
		    with_payload, with_vector, out, err) != 0)
			return -1;
		return retrieve_part(q, coll, path, ids, from + n / 2,
		    n - n / 2, with_payload, with_vector, out, err);
	}
	if (rc != 0)
		return -1;
	if (!json_is_array(res)) {
		json_decref(res);
		return qbk_err_set(err, QBK_E_QDRANT, "cannot retrieve points "
		    "of '%s': unexpected response from Qdrant", coll);
	}
	json_array_extend(out, res);
	json_decref(res);
	return 0;
}

int
qbk_qdrant_retrieve(struct qbk_qdrant *q, const char *coll,
    const struct json_t *ids, int with_payload, int with_vector,
    struct json_t **records, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *out;
	int rc;

	*records = NULL;
	if (!json_is_array(ids))
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot retrieve "
		    "points of '%s': bad id list", coll);
	path_coll(&path, coll);
	qbk_buf_addstr(&path, "/points");
	out = json_array();
	rc = json_array_size(ids) == 0 ? 0 : retrieve_part(q, coll, path.buf,
	    ids, 0, json_array_size(ids), with_payload, with_vector, out,
	    err);
	qbk_buf_release(&path);
	if (rc != 0) {
		json_decref(out);
		return -1;
	}
	*records = out;	/* handed over */
	return 0;
}

int
qbk_qdrant_sample(struct qbk_qdrant *q, const char *coll, unsigned limit,
    struct json_t **records, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *body, *res = NULL, *list, *ids, *p;
	size_t i;
	int rc = -1, whole = 1;

	*records = NULL;
	path_coll(&path, coll);
	qbk_buf_addstr(&path, "/points/query");
	for (;;) {
		body = json_pack("{s:{s:s},s:I,s:b,s:b}", "query", "sample",
		    "random", "limit", (json_int_t)(limit > 0 ? limit : 1),
		    "with_payload", whole, "with_vector", whole);
		rc = call(q, "POST", path.buf, body, 0, &res, err,
		    "cannot sample points of '%s'", coll);
		json_decref(body);
		if (rc != 0 && !q->too_large && strict_limit(q, coll, err,
		    &limit)) {
			qbk_err_clear(err);
			continue;
		}
		/* Records too large to come in one answer: draw the ids
		 * alone, then fetch the records as they fit. */
		if (rc == 0 || !q->too_large || !whole)
			break;
		qbk_err_clear(err);
		whole = 0;
	}
	if (rc != 0)
		goto done;
	rc = -1;
	list = json_object_get(res, "points");
	if (!json_is_array(list)) {
		qbk_err_set(err, QBK_E_QDRANT, "cannot sample points of '%s': "
		    "unexpected response from Qdrant", coll);
		goto done;
	}
	if (whole) {
		*records = json_incref(list);	/* handed over */
		rc = 0;
		goto done;
	}
	ids = json_array();
	json_array_foreach(list, i, p)
		json_array_append(ids, json_object_get(p, "id"));
	rc = qbk_qdrant_retrieve(q, coll, ids, 1, 1, records, err);
	json_decref(ids);
done:
	json_decref(res);
	qbk_buf_release(&path);
	return rc;
}

int
qbk_qdrant_upsert(struct qbk_qdrant *q, const char *coll,
    const struct json_t *points, int wait, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *body;
	int rc;

	body = json_pack("{s:O}", "points", (json_t *)(uintptr_t)points);
	if (body == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot write points "
		    "to '%s': bad point list", coll);
	path_coll(&path, coll);
	qbk_buf_addstr(&path, wait ? "/points?wait=true" : "/points");
	rc = call(q, "PUT", path.buf, body, QBK_HTTP_F_LONG, NULL, err,
	    "cannot write points to '%s'", coll);
	json_decref(body);
	qbk_buf_release(&path);
	return rc;
}

/*
 * Search ${coll} (vector ${using}, NULL: the default one) with ${query} on
 * the query API, or, where the server has none (before 1.10: an unknown
 * route is an empty 404) and ${legacy_ok}, on .../points/search.
 */
static int
search(struct qbk_qdrant *q, const char *coll, const char *using,
    json_t *query, unsigned limit, int with_payload, int legacy_ok,
    struct json_t **points, struct qbk_err *err)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_buf path = QBK_BUF_INIT, text = QBK_BUF_INIT,
	    ctx = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	json_t *body, *res = NULL, *list;
	json_int_t n = (json_int_t)(limit > 0 ? limit : 10);
	int rc = -1, legacy = 0;

	*points = NULL;
	qbk_buf_addf(&ctx, "cannot search in '%s'", coll);
	body = json_pack("{s:O,s:I,s:b}", "query", query, "limit", n,
	    "with_payload", with_payload != 0);
	if (using != NULL)
		json_object_set_new(body, "using", json_string(using));
	path_coll(&path, coll);
	qbk_buf_addstr(&path, "/points/query");
	qbk_http_resp_init(&resp);
	for (;;) {
		qbk_buf_reset(&text);
		qbk_json_dump(body, &text, 0);
		req.method = "POST";
		req.path = path.buf;
		req.body = text.buf;
		req.body_len = text.len;
		if (qbk_http_request(q->http, &req, &resp, err) == 0)
			break;
		if (legacy || !legacy_ok || resp.status != 404 ||
		    resp.body.len != 0) {
			failed(&resp, err, ctx.buf);
			goto done;
		}
		legacy = 1;
		json_decref(body);
		body = json_pack("{s:I,s:b}", "limit", n, "with_payload",
		    with_payload != 0);
		if (using != NULL)
			json_object_set_new(body, "vector", json_pack("{s:s,"
			    "s:O}", "name", using, "vector", query));
		else
			json_object_set(body, "vector", query);
		path_coll(&path, coll);
		qbk_buf_addstr(&path, "/points/search");
		qbk_http_resp_release(&resp);
	}
	if (answer(&resp, ctx.buf, &res, err) != 0)
		goto done;
	list = legacy ? res : json_object_get(res, "points");
	if (!json_is_array(list)) {
		bad_result(err, ctx.buf);
		goto done;
	}
	*points = json_incref(list);
	rc = 0;
done:
	json_decref(res);
	json_decref(body);
	qbk_http_resp_release(&resp);
	qbk_buf_release(&path);
	qbk_buf_release(&text);
	qbk_buf_release(&ctx);
	return rc;
}

int
qbk_qdrant_search(struct qbk_qdrant *q, const char *coll, const char *using,
    const float *vec, size_t dim, unsigned limit, int with_payload,
    struct json_t **points, struct qbk_err *err)
{
	json_t *v = json_array();
	size_t i;
	int rc;

	for (i = 0; i < dim; i++)
		json_array_append_new(v, json_real((double)vec[i]));
	rc = search(q, coll, using, v, limit, with_payload, 1, points, err);
	json_decref(v);
	return rc;
}

/* ---- search by a sparse vector or a multivector -------------------------- */

int
qbk_qdrant_search_json(struct qbk_qdrant *q, const char *coll,
    const char *using, const json_t *query, unsigned limit,
    struct json_t **points, struct qbk_err *err)
{
	/* Before 1.10 only a named sparse vector can be searched, on
	 * .../points/search; multivectors came with the query API. */
	return search(q, coll, using, (json_t *)(uintptr_t)query, limit, 0,
	    using != NULL && json_is_object(query), points, err);
}

/* ---- snapshots -------------------------------------------------------- */

void
qbk_qdrant_snapshot_release(struct qbk_qdrant_snapshot *s)
{
	free(s->name);
	memset(s, 0, sizeof(*s));
}

void
qbk_qdrant_snapshots_free(struct qbk_qdrant_snapshot *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		qbk_qdrant_snapshot_release(&v[i]);
	free(v);
}

static int
parse_snapshot(const json_t *d, struct qbk_qdrant_snapshot *s)
{
	const char *name = qbk_json_str(d, "name"), *sum, *t;

	memset(s, 0, sizeof(*s));
	if (name == NULL || *name == '\0' || qbk_json_i64(d, "size",
	    &s->size) != 0)
		return -1;
	sum = qbk_json_str(d, "checksum");
	if (sum != NULL && strlen(sum) == 64) {
		size_t i;

		for (i = 0; i < 64; i++)
			s->checksum[i] = (char)(sum[i] >= 'A' && sum[i] <= 'F' ?
			    sum[i] - 'A' + 'a' : sum[i]);
		s->checksum[64] = '\0';
	}
	if ((t = qbk_json_str(d, "creation_time")) != NULL)
		snprintf(s->creation_time, sizeof(s->creation_time), "%s", t);
	s->name = qbk_xstrdup(name);
	return 0;
}

/* POST ${path} (a snapshot creation) once: QBK_HTTP_F_ONCE, so that a lost
 * answer (${*lost}) is not followed by a second full-size snapshot. */
static int
post_snapshot(struct qbk_qdrant *q, const char *path, const char *what,
    struct qbk_qdrant_snapshot *out, int *lost, struct qbk_err *err)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	struct qbk_buf ctx = QBK_BUF_INIT;
	json_t *res = NULL;
	int rc = -1;

	qbk_buf_addf(&ctx, "cannot create %s", what);
	req.method = "POST";
	req.path = path;
	req.flags = QBK_HTTP_F_LONG | QBK_HTTP_F_NORETRY_500 |
	    QBK_HTTP_F_ONCE;
	qbk_http_resp_init(&resp);
	if (qbk_http_request(q->http, &req, &resp, err) != 0) {
		*lost = resp.lost;
		failed(&resp, err, ctx.buf);
		goto done;
	}
	if (answer(&resp, ctx.buf, &res, err) != 0)
		goto done;
	if (parse_snapshot(res, out) != 0) {
		bad_result(err, ctx.buf);
		goto done;
	}
	rc = 0;
done:
	json_decref(res);
	qbk_http_resp_release(&resp);
	qbk_buf_release(&ctx);
	return rc;
}

static int
snap_listed(const struct qbk_qdrant_snapshot *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return 1;
	return 0;
}

/* The newest snapshot of ${v} not in ${old}, or NULL. */
static const struct qbk_qdrant_snapshot *
snap_new(const struct qbk_qdrant_snapshot *v, size_t n,
    const struct qbk_qdrant_snapshot *old, size_t nold)
{
	const struct qbk_qdrant_snapshot *best = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (!snap_listed(old, nold, v[i].name) && (best == NULL ||
		    strcmp(v[i].creation_time, best->creation_time) > 0 ||
		    (strcmp(v[i].creation_time, best->creation_time) == 0 &&
		    strcmp(v[i].name, best->name) > 0)))
			best = &v[i];
	return best;
}

/* After a lost answer: delete the snapshots that appeared since ${old}
 * other than ${keep} (made by an attempt whose answer was lost). */
static void
drop_orphans(struct qbk_qdrant *q, const char *coll, long shard,
    const struct qbk_qdrant_snapshot *old, size_t nold, const char *keep)
{
	struct qbk_qdrant_snapshot *v = NULL;
	struct qbk_err e = QBK_ERR_INIT;
	size_t n = 0, i;

	if (qbk_qdrant_snapshot_list(q, coll, shard, &v, &n, &e) != 0) {
		qbk_warn("%s; snapshots left by lost answers may remain",
		    e.msg);
		return;
	}
	for (i = 0; i < n; i++) {
		if (snap_listed(old, nold, v[i].name) ||
		    strcmp(v[i].name, keep) == 0)
			continue;
		if (qbk_qdrant_snapshot_delete(q, coll, shard, v[i].name,
		    &e) != 0)
			qbk_warn("%s", e.msg);
		else
			qbk_warn("deleted snapshot '%s': made by an attempt "
			    "whose answer was lost", v[i].name);
	}
	qbk_qdrant_snapshots_free(v, n);
}

/*
 * Qdrant goes on making a snapshot after the client is gone (a proxy's 502
 * or 504, a broken connection): the request is never repeated blindly.
 * After a lost answer the snapshot list tells whether it was made; a new
 * one is adopted, and only when none appeared is the request made again.
 */
int
qbk_qdrant_snapshot_create(struct qbk_qdrant *q, const char *coll,
    long shard, struct qbk_qdrant_snapshot *out, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT, what = QBK_BUF_INIT;
	struct qbk_qdrant_snapshot *old = NULL, *now = NULL;
	const struct qbk_qdrant_snapshot *found;
	struct qbk_err e = QBK_ERR_INIT;
	size_t nold = 0, nnow = 0;
	int rc = -1, lost, any_lost = 0, attempt, listed;

	memset(out, 0, sizeof(*out));
	path_snaps(&path, coll, shard);
	qbk_buf_addstr(&path, "?wait=true");
	scope_text(&what, coll, shard);
	/* What is there before (an unknown collection: the creation says
	 * so in Qdrant's words). */
	listed = qbk_qdrant_snapshot_list(q, coll, shard, &old, &nold, &e) ==
	    0;
	for (attempt = 1;; attempt++) {
		lost = 0;
		if (post_snapshot(q, path.buf, what.buf, out, &lost, err) == 0)
			break;
		if (!lost)
			goto done;
		if (!listed) {
			qbk_err_hint(err, "the answer was lost and the snapshots "
			    "could not be listed before (%s): look for a new "
			    "one on the node and delete it", e.msg);
			goto done;
		}
		any_lost = 1;
		qbk_warn("%s; Qdrant may have made it all the same: looking",
		    err->msg);
		if (qbk_qdrant_snapshot_list(q, coll, shard, &now, &nnow,
		    err) != 0) {
			qbk_err_prefix(err, "cannot create %s (its answer was "
			    "lost)", what.buf);
			goto done;
		}
		if ((found = snap_new(now, nnow, old, nold)) != NULL) {
			*out = *found;
			out->name = qbk_xstrdup(found->name);
			qbk_warn("adopting snapshot '%s', which Qdrant made for "
			    "the request whose answer was lost", out->name);
			break;
		}
		qbk_qdrant_snapshots_free(now, nnow);
		now = NULL;
		nnow = 0;
		if (attempt >= 3) {
			qbk_err_hint(err, "Qdrant may still be making the "
			    "snapshot: look for a new one in the node's "
			    "snapshot list and delete it");
			goto done;
		}
		qbk_warn("no new %s is listed: asking again", what.buf);
	}
	if (any_lost)
		drop_orphans(q, coll, shard, old, nold, out->name);
	rc = 0;
done:
	qbk_qdrant_snapshots_free(old, nold);
	qbk_qdrant_snapshots_free(now, nnow);
	qbk_buf_release(&path);
	qbk_buf_release(&what);
	return rc;
}

static int
cmp_snap(const void *a, const void *b)
{
	const struct qbk_qdrant_snapshot *x = a, *y = b;

	return strcmp(x->name, y->name);
}

int
qbk_qdrant_snapshot_list(struct qbk_qdrant *q, const char *coll, long shard,
    struct qbk_qdrant_snapshot **out, size_t *nout, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT, what = QBK_BUF_INIT;
	struct qbk_qdrant_snapshot *v = NULL;
	json_t *res = NULL, *d;
	size_t i, n = 0;
	int rc = -1;

	*out = NULL;
	*nout = 0;
	path_snaps(&path, coll, shard);
	scope_text(&what, coll, shard);
	if (call(q, "GET", path.buf, NULL, 0, &res, err, "cannot list %ss",
	    what.buf) != 0)
		goto done;
	if (!json_is_array(res)) {
		qbk_err_set(err, QBK_E_QDRANT, "cannot list %ss: unexpected "
		    "response from Qdrant", what.buf);
		goto done;
	}
	v = qbk_xcalloc(json_array_size(res) + 1, sizeof(*v));
	json_array_foreach(res, i, d) {
		if (parse_snapshot(d, &v[n]) != 0) {
			qbk_err_set(err, QBK_E_QDRANT, "cannot list %ss: "
			    "unexpected response from Qdrant", what.buf);
			goto done;
		}
		n++;
	}
	qsort(v, n, sizeof(*v), cmp_snap);
	*out = v;	/* handed over */
	*nout = n;
	v = NULL;
	rc = 0;
done:
	qbk_qdrant_snapshots_free(v, n);
	json_decref(res);
	qbk_buf_release(&path);
	qbk_buf_release(&what);
	return rc;
}

static int
download(struct qbk_qdrant *q, const char *path, qbk_http_write_fn *write,
    void *cookie, struct qbk_http_resp *resp, struct qbk_err *err,
    const char *ctx)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp own;
	int rc;

	if (resp == NULL) {
		qbk_http_resp_init(&own);
		resp = &own;
	}
	req.path = path;
	rc = qbk_http_download(q->http, &req, write, cookie, resp, err);
	if (rc != 0)
		failed(resp, err, ctx);
	if (resp == &own)
		qbk_http_resp_release(&own);
	return rc;
}

int
qbk_qdrant_snapshot_download(struct qbk_qdrant *q, const char *coll,
    long shard, const char *name, qbk_http_write_fn *write, void *cookie,
    struct qbk_http_resp *resp, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT, ctx = QBK_BUF_INIT;
	int rc;

	path_snaps(&path, coll, shard);
	qbk_buf_addch(&path, '/');
	qbk_http_escape(&path, name, 0);
	if (coll == NULL)
		qbk_buf_addf(&ctx, "cannot download full snapshot '%s'", name);
	else if (shard >= 0)
		qbk_buf_addf(&ctx, "cannot download snapshot '%s' of shard %ld "
		    "of '%s'", name, shard, coll);
	else
		qbk_buf_addf(&ctx, "cannot download snapshot '%s' of '%s'",
		    name, coll);
	rc = download(q, path.buf, write, cookie, resp, err, ctx.buf);
	qbk_buf_release(&path);
	qbk_buf_release(&ctx);
	return rc;
}

int
qbk_qdrant_snapshot_delete(struct qbk_qdrant *q, const char *coll,
    long shard, const char *name, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT, what = QBK_BUF_INIT;
	int rc;

	path_snaps(&path, coll, shard);
	qbk_buf_addch(&path, '/');
	qbk_http_escape(&path, name, 0);
	qbk_buf_addstr(&path, "?wait=true");
	if (coll == NULL)
		qbk_buf_addf(&what, "full snapshot '%s'", name);
	else if (shard >= 0)
		qbk_buf_addf(&what, "snapshot '%s' of shard %ld of '%s'", name,
		    shard, coll);
	else
		qbk_buf_addf(&what, "snapshot '%s' of '%s'", name, coll);
	rc = call(q, "DELETE", path.buf, NULL, QBK_HTTP_F_LONG, NULL, err,
	    "cannot delete %s", what.buf);
	qbk_buf_release(&path);
	qbk_buf_release(&what);
	return rc;
}

static const char *
priority_name(enum qbk_qdrant_priority p)
{
	switch (p) {
	case QBK_QDRANT_PRIORITY_NO_SYNC:
		return "no_sync";
	case QBK_QDRANT_PRIORITY_SNAPSHOT:
		return "snapshot";
	case QBK_QDRANT_PRIORITY_REPLICA:
		return "replica";
	default:
		return NULL;
	}
}

static void
recover_what(struct qbk_buf *b, const char *coll, long shard)
{
	qbk_buf_reset(b);
	if (shard >= 0)
		qbk_buf_addf(b, "shard %ld of '%s'", shard, coll);
	else
		qbk_buf_addf(b, "'%s'", coll);
}

int
qbk_qdrant_snapshot_recover(struct qbk_qdrant *q, const char *coll,
    long shard, const struct qbk_qdrant_recover *r, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT, what = QBK_BUF_INIT;
	const char *prio = priority_name(r->priority);
	json_t *body;
	char *loc;
	int rc;

	if (coll == NULL)
		return qbk_err_set(err, QBK_E_USAGE, "cannot recover a full "
		    "snapshot over the REST API: recover its collections one "
		    "by one");
	body = json_pack("{s:s}", "location", r->location);
	if (body == NULL)
		return qbk_err_set(err, QBK_E_USAGE, "cannot recover '%s': "
		    "no location", coll);
	if (prio != NULL)
		json_object_set_new(body, "priority", json_string(prio));
	if (r->checksum != NULL)
		json_object_set_new(body, "checksum",
		    json_string(r->checksum));
	if (r->api_key != NULL)
		json_object_set_new(body, "api_key", json_string(r->api_key));
	path_snaps(&path, coll, shard);
	qbk_buf_addstr(&path, "/recover?wait=true");
	recover_what(&what, coll, shard);
	loc = qbk_http_redact_url(r->location);
	rc = call(q, "PUT", path.buf, body, QBK_HTTP_F_LONG |
	    QBK_HTTP_F_NORETRY_500, NULL, err, "cannot recover %s from '%s'",
	    what.buf, loc);
	free(loc);
	json_decref(body);
	qbk_buf_release(&path);
	qbk_buf_release(&what);
	return rc;
}

/* Is a replica in ${state} still being recovered or filled? */
static int
state_busy(const char *state)
{
	return strcmp(state, "ManualRecovery") == 0 ||
	    strcmp(state, "Partial") == 0 || strcmp(state, "Recovery") == 0 ||
	    strcmp(state, "PartialSnapshot") == 0 ||
	    strcmp(state, "Initializing") == 0;
}

/*
 * The answer to the upload of a snapshot of ${coll} (shard ${shard}, or -1)
 * was lost: Qdrant goes on with the recovery, so a second one must not
 * start.  Learn the outcome from the replica states of this node instead
 * (Qdrant leaves a replica whose load failed Dead) and, for a collection
 * snapshot, from the uploaded file, which Qdrant keeps under its name.
 * ${err} holds the failure on entry.
 */
static int
lost_upload(struct qbk_qdrant *q, const char *coll, long shard,
    const struct qbk_qdrant_upload *up, struct qbk_err *err)
{
	struct qbk_qdrant_coll_cluster *cl = NULL;
	struct qbk_qdrant_snapshot *v = NULL;
	struct qbk_err e = QBK_ERR_INIT;
	size_t n = 0, i;
	int polls, busy, dead = -1, rc = -1;
	char first[512];

	snprintf(first, sizeof(first), "%s", err->msg);
	qbk_warn("%s; Qdrant goes on with the recovery: waiting for its "
	    "outcome instead of starting another one", first);
	for (polls = 0;; polls++) {
		if (qbk_qdrant_collection_cluster(q, coll, &cl, &e) != 0) {
			qbk_err_set(err, e.code, "%s; then %s", first, e.msg);
			goto out;
		}
		busy = 0;
		for (i = 0; i < cl->nlocal; i++) {
			if (shard >= 0 && cl->local[i].shard_id !=
			    (uint32_t)shard)
				continue;
			if (state_busy(cl->local[i].state))
				busy = 1;
			else if (strcmp(cl->local[i].state, "Dead") == 0 &&
			    dead < 0)
				dead = (int)cl->local[i].shard_id;
		}
		if (!busy || dead >= 0)
			break;
		if (polls >= 1800) {
			qbk_err_set(err, QBK_E_QDRANT, "%s; the recovery of "
			    "'%s' had not ended an hour later", first, coll);
			goto out;
		}
		qbk_qdrant_coll_cluster_free(cl);
		cl = NULL;
		if (qbk_http_nap(q->http, 2000) != 0) {
			qbk_err_set(err, QBK_E_INTERRUPTED, "%s; interrupted "
			    "while waiting for the outcome of the recovery of "
			    "'%s', which Qdrant goes on with", first, coll);
			goto out;
		}
	}
	if (dead >= 0) {
		qbk_err_set(err, QBK_E_QDRANT, "%s; the recovery failed on "
		    "Qdrant: shard %d of '%s' is Dead", first, dead, coll);
		goto out;
	}
	if (shard < 0 && up->filename != NULL) {
		if (qbk_qdrant_snapshot_list(q, coll, -1, &v, &n, &e) != 0) {
			qbk_err_set(err, e.code, "%s; then %s", first, e.msg);
			goto out;
		}
		for (i = 0; i < n; i++)
			if (strcmp(v[i].name, up->filename) == 0)
				break;
		if (i == n) {
			qbk_err_set(err, QBK_E_NET, "%s; the upload did not "
			    "reach Qdrant whole, so no recovery started",
			    first);
			goto out;
		}
	}
	qbk_warn("the recovery of '%s' ended on Qdrant with every replica "
	    "of this node out of recovery", coll);
	if (up->lost_answer != NULL)
		*up->lost_answer = 1;
	rc = 0;
out:
	qbk_qdrant_snapshots_free(v, n);
	qbk_qdrant_coll_cluster_free(cl);
	return rc;
}

int
qbk_qdrant_snapshot_upload(struct qbk_qdrant *q, const char *coll,
    long shard, const struct qbk_qdrant_upload *up, struct qbk_err *err)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_upload hu;
	struct qbk_buf path = QBK_BUF_INIT, ctx = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	const char *prio = priority_name(up->priority);
	json_t *res = NULL;
	int rc = -1;

	if (coll == NULL)
		return qbk_err_set(err, QBK_E_USAGE, "cannot upload a full "
		    "snapshot over the REST API: upload its collections one "
		    "by one");
	path_snaps(&path, coll, shard);
	qbk_buf_addstr(&path, "/upload?wait=true");
	if (prio != NULL)
		qbk_buf_addf(&path, "&priority=%s", prio);
	if (up->checksum != NULL) {
		qbk_buf_addstr(&path, "&checksum=");
		qbk_http_escape(&path, up->checksum, 1);
	}
	qbk_buf_addstr(&ctx, "cannot recover ");
	if (shard >= 0)
		qbk_buf_addf(&ctx, "shard %ld of '%s'", shard, coll);
	else
		qbk_buf_addf(&ctx, "'%s'", coll);
	if (up->filename != NULL)
		qbk_buf_addf(&ctx, " from uploaded '%s'", up->filename);
	memset(&hu, 0, sizeof(hu));
	hu.field = "snapshot";
	hu.filename = up->filename;
	hu.size = up->size;
	hu.read = up->read;
	hu.rewind = up->rewind;
	hu.cookie = up->cookie;
	req.method = "POST";
	req.path = path.buf;
	req.flags = QBK_HTTP_F_LONG | QBK_HTTP_F_NORETRY_500 |
	    QBK_HTTP_F_ONCE;
	qbk_http_resp_init(&resp);
	if (qbk_http_upload(q->http, &req, &hu, &resp, err) != 0) {
		failed(&resp, err, ctx.buf);
		if (resp.lost)
			rc = lost_upload(q, coll, shard, up, err);
		goto done;
	}
	if (answer(&resp, ctx.buf, &res, err) != 0)
		goto done;
	rc = 0;
done:
	json_decref(res);
	qbk_http_resp_release(&resp);
	qbk_buf_release(&path);
	qbk_buf_release(&ctx);
	return rc;
}

int
qbk_qdrant_shard_snapshot_stream(struct qbk_qdrant *q, const char *coll,
    long shard, qbk_http_write_fn *write, void *cookie,
    struct qbk_http_resp *resp, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT, ctx = QBK_BUF_INIT;
	int rc;

	path_coll(&path, coll);
	qbk_buf_addf(&path, "/shards/%ld/snapshot", shard);
	qbk_buf_addf(&ctx, "cannot stream a snapshot of shard %ld of '%s'",
	    shard, coll);
	rc = download(q, path.buf, write, cookie, resp, err, ctx.buf);
	qbk_buf_release(&path);
	qbk_buf_release(&ctx);
	return rc;
}

char *
qbk_qdrant_disposition_name(const char *cd)
{
	const char *p, *start, *slash;
	size_t len;
	char *name;

	if (cd == NULL)
		return NULL;
	for (p = cd; (p = strchr(p, ';')) != NULL; ) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "filename=", 9) == 0)
			break;
	}
	if (p == NULL)
		return NULL;
	p += 9;
	if (*p == '"') {
		start = ++p;
		while (*p != '\0' && *p != '"')
			p++;
	} else {
		start = p;
		while (*p != '\0' && *p != ';' && *p != ' ')
			p++;
	}
	len = (size_t)(p - start);
	name = qbk_xmalloc(len + 1);
	memcpy(name, start, len);
	name[len] = '\0';
	if ((slash = strrchr(name, '/')) != NULL ||
	    (slash = strrchr(name, '\\')) != NULL)
		memmove(name, slash + 1, strlen(slash + 1) + 1);
	if (*name == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		free(name);
		return NULL;
	}
	return name;
}

/* ---- cluster ---------------------------------------------------------- */

void
qbk_qdrant_cluster_free(struct qbk_qdrant_cluster *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->npeers; i++)
		free(c->peers[i].uri);
	free(c->peers);
	json_decref(c->raw);
	free(c);
}

static int
cmp_peer(const void *a, const void *b)
{
	const struct qbk_qdrant_peer *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int
qbk_qdrant_cluster(struct qbk_qdrant *q, struct qbk_qdrant_cluster **out,
    struct qbk_err *err)
{
	struct qbk_qdrant_cluster *c;
	const char *status, *key, *s;
	json_t *res, *peers, *p;
	char *end;

	*out = NULL;
	if (call(q, "GET", "/cluster", NULL, 0, &res, err,
	    "cannot get the cluster state of '%s'", qbk_qdrant_url(q)) != 0)
		return -1;
	c = qbk_xcalloc(1, sizeof(*c));
	c->raw = res;
	status = qbk_json_str(res, "status");
	if (status == NULL)
		goto bad;
	if (strcmp(status, "disabled") == 0) {
		*out = c;
		return 0;
	}
	c->enabled = 1;
	if (qbk_json_u64(res, "peer_id", &c->peer_id) != 0)
		goto bad;
	peers = json_object_get(res, "peers");
	if (!json_is_object(peers))
		goto bad;
	c->peers = qbk_xcalloc(json_object_size(peers) + 1,
	    sizeof(*c->peers));
	json_object_foreach(peers, key, p) {
		struct qbk_qdrant_peer *pe = &c->peers[c->npeers];

		pe->id = strtoull(key, &end, 10);
		if (*key == '\0' || *end != '\0')
			goto bad;
		pe->uri = qbk_xstrdup((s = qbk_json_str(p, "uri")) != NULL ?
		    s : "");
		c->npeers++;
	}
	qsort(c->peers, c->npeers, sizeof(*c->peers), cmp_peer);
	qbk_json_u64(res, "raft_info.leader", &c->leader);
	if ((s = qbk_json_str(res, "raft_info.role")) != NULL)
		snprintf(c->role, sizeof(c->role), "%s", s);
	if ((s = qbk_json_str(res,
	    "consensus_thread_status.consensus_thread_status")) != NULL)
		snprintf(c->consensus, sizeof(c->consensus), "%s", s);
	*out = c;
	return 0;

bad:
	qbk_qdrant_cluster_free(c);
	return qbk_err_set(err, QBK_E_QDRANT, "cannot get the cluster state "
	    "of '%s': unexpected response from Qdrant", qbk_qdrant_url(q));
}

void
qbk_qdrant_coll_cluster_free(struct qbk_qdrant_coll_cluster *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlocal; i++)
		free(c->local[i].shard_key);
	for (i = 0; i < c->nremote; i++)
		free(c->remote[i].shard_key);
	free(c->local);
	free(c->remote);
	json_decref(c->raw);
	free(c);
}

static int
cmp_shard(const void *a, const void *b)
{
	const struct qbk_qdrant_shard *x = a, *y = b;

	if (x->shard_id != y->shard_id)
		return x->shard_id < y->shard_id ? -1 : 1;
	return x->peer_id < y->peer_id ? -1 : x->peer_id > y->peer_id;
}

static int
parse_shards(const json_t *list, int local, uint64_t self,
    struct qbk_qdrant_shard **out, size_t *nout)
{
	struct qbk_qdrant_shard *v;
	const json_t *e, *key;
	const char *state;
	size_t i, n = 0;
	int64_t id;

	*out = NULL;
	*nout = 0;
	if (!json_is_array(list))
		return -1;
	v = qbk_xcalloc(json_array_size(list) + 1, sizeof(*v));
	json_array_foreach(list, i, e) {
		struct qbk_qdrant_shard *s = &v[n];

		if (qbk_json_i64(e, "shard_id", &id) != 0 || id < 0 ||
		    id > UINT32_MAX || (state = qbk_json_str(e, "state")) ==
		    NULL)
			goto bad;
		s->shard_id = (uint32_t)id;
		snprintf(s->state, sizeof(s->state), "%s", state);
		if (local) {
			s->peer_id = self;
			if (qbk_json_i64(e, "points_count",
			    &s->points_count) != 0)
				s->points_count = -1;
		} else {
			s->points_count = -1;
			if (qbk_json_u64(e, "peer_id", &s->peer_id) != 0)
				goto bad;
		}
		key = json_object_get(e, "shard_key");
		if (key != NULL && !json_is_null(key))
			s->shard_key = json_dumps(key, JSON_ENCODE_ANY |
			    JSON_COMPACT);
		n++;
	}
	qsort(v, n, sizeof(*v), cmp_shard);
	*out = v;
	*nout = n;
	return 0;
bad:
	for (i = 0; i <= n; i++)
		free(v[i].shard_key);
	free(v);
	return -1;
}

int
qbk_qdrant_collection_cluster(struct qbk_qdrant *q, const char *coll,
    struct qbk_qdrant_coll_cluster **out, struct qbk_err *err)
{
	struct qbk_qdrant_coll_cluster *c;
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *res;
	int64_t n;

	*out = NULL;
	path_coll(&path, coll);
	qbk_buf_addstr(&path, "/cluster");
	if (call(q, "GET", path.buf, NULL, 0, &res, err,
	    "cannot get the shard placement of '%s'", coll) != 0) {
		qbk_buf_release(&path);
		return -1;
	}
	qbk_buf_release(&path);
	c = qbk_xcalloc(1, sizeof(*c));
	c->raw = res;
	if (qbk_json_u64(res, "peer_id", &c->peer_id) != 0 ||
	    qbk_json_i64(res, "shard_count", &n) != 0 || n < 0 ||
	    n > UINT32_MAX ||
	    parse_shards(json_object_get(res, "local_shards"), 1, c->peer_id,
	    &c->local, &c->nlocal) != 0 ||
	    parse_shards(json_object_get(res, "remote_shards"), 0, 0,
	    &c->remote, &c->nremote) != 0) {
		qbk_qdrant_coll_cluster_free(c);
		return qbk_err_set(err, QBK_E_QDRANT, "cannot get the shard "
		    "placement of '%s': unexpected response from Qdrant",
		    coll);
	}
	c->shard_count = (uint32_t)n;
	c->ntransfers = json_array_size(json_object_get(res,
	    "shard_transfers"));
	*out = c;
	return 0;
}

int
qbk_qdrant_wake_optimizers(struct qbk_qdrant *q, const char *coll,
    struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	json_t *body = json_pack("{s:{}}", "optimizers_config");
	int rc;

	path_coll(&path, coll);
	rc = call(q, "PATCH", path.buf, body, QBK_HTTP_F_LONG, NULL, err,
	    "cannot wake the optimizers of '%s'", coll);
	json_decref(body);
	qbk_buf_release(&path);
	return rc;
}
