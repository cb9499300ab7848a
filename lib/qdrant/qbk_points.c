#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_log.h"
#include "common/qbk_sha256.h"
#include "net/qbk_http.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_crypto.h"
#include "qdrant/qbk_points.h"

struct sparse_pair {
	json_int_t index;
	json_t *value;
};

static int
sparse_pair_cmp(const void *a, const void *b)
{
	const struct sparse_pair *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* Is ${v} a sparse vector: {"indices": [integers], "values": [as many]}? */
static int
is_sparse(const json_t *v)
{
	const json_t *idx = json_object_get(v, "indices"), *x;
	size_t i;

	if (!json_is_object(v) || json_object_size(v) != 2 ||
	    !json_is_array(idx) || !json_is_array(json_object_get(v,
	    "values")) || json_array_size(idx) !=
	    json_array_size(json_object_get(v, "values")))
		return 0;
	json_array_foreach(idx, i, x)
		if (!json_is_integer(x))
			return 0;
	return 1;
}

/* The canonical form of a point's vector(s) ${v}, a new reference: a
 * sparse vector (alone or among named vectors) with its (index, value)
 * pairs sorted by index; dense vectors and multivectors (the list of
 * vectors in order) as they are.  Qdrant returns sparse vectors sorted,
 * so this changes nothing there; the fingerprint does not rely on it. */
static json_t *
canonical_vector(const json_t *v)
{
	struct sparse_pair *pairs;
	const json_t *idx, *vals, *x;
	const char *k;
	json_t *out, *oi, *ov;
	size_t i, n;

	if (is_sparse(v)) {
		idx = json_object_get(v, "indices");
		vals = json_object_get(v, "values");
		n = json_array_size(idx);
		pairs = qbk_xcalloc(n > 0 ? n : 1, sizeof(*pairs));
		for (i = 0; i < n; i++) {
			pairs[i].index = json_integer_value(json_array_get(idx,
			    i));
			pairs[i].value = json_array_get(vals, i);
		}
		qsort(pairs, n, sizeof(*pairs), sparse_pair_cmp);
		oi = json_array();
		ov = json_array();
		for (i = 0; i < n; i++) {
			json_array_append_new(oi, json_integer(pairs[i].index));
			json_array_append(ov, pairs[i].value);
		}
		free(pairs);
		return json_pack("{s:o, s:o}", "indices", oi, "values", ov);
	}
	if (!json_is_object(v))
		return json_incref((json_t *)(uintptr_t)v);
	out = json_object();
	json_object_foreach((json_t *)(uintptr_t)v, k, x)
		json_object_set_new(out, k, canonical_vector(x));
	return out;
}

int
qbk_points_hash(const json_t *record, char *hex)
{
	json_t *payload, *vector, *o;
	unsigned char md[32];
	char *text;

	if (!json_is_object(record))
		return -1;
	payload = json_object_get(record, "payload");
	vector = json_object_get(record, "vector");
	o = json_pack("{s:O, s:o}", "payload",
	    payload != NULL ? payload : json_object(),
	    "vector", vector != NULL ? canonical_vector(vector) :
	    json_null());
	if (payload == NULL)
		json_decref(json_object_get(o, "payload"));
	if (o == NULL)
		return -1;
	text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT |
	    JSON_ENCODE_ANY);
	json_decref(o);
	if (text == NULL)
		return -1;
	qbk_sha256(text, strlen(text), md);
	free(text);
	qbk_hex(md, sizeof(md), hex);
	return 0;
}

int
qbk_points_id_text(const json_t *id, char *out, size_t len)
{
	if (json_is_integer(id) && json_integer_value(id) >= 0)
		snprintf(out, len, "%lld", (long long)json_integer_value(id));
	else if (json_is_string(id))
		snprintf(out, len, "%s", json_string_value(id));
	else
		return -1;
	return 0;
}

unsigned
qbk_points_bucket_of(const char *id)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *id != '\0'; id++) {
		h ^= (unsigned char)*id;
		h *= UINT64_C(1099511628211);
	}
	return (unsigned)(h % QBK_POINTS_BUCKETS);
}

int
qbk_points_sample(struct qbk_qdrant *q, const char *coll, unsigned n,
    json_t **out, struct qbk_err *err)
{
	struct qbk_qdrant_scroll so = { 0, 1, 1, NULL };
	json_t *next = NULL;

	*out = NULL;
	if (n == 0) {
		*out = json_array();
		return 0;
	}
	if (qbk_qdrant_sample(q, coll, n, out, err) == 0)
		return 0;
	/* No query API (404, before 1.10) or no random sampling in it (400,
	 * before 1.11): the first points will have to do. */
	if (err->http_status != 404 && err->http_status != 400)
		return -1;
	qbk_detail("no random sampling on this server (%s): sampling the "
	    "first %u points of '%s'", err->msg, n, coll);
	qbk_err_clear(err);
	so.limit = n;
	if (qbk_qdrant_scroll_page(q, coll, &so, NULL, out, &next, err) != 0)
		return -1;
	json_decref(next);
	return 0;
}

void
qbk_points_content_add(struct qbk_points_bucket *b, const char *id,
    const char *hash)
{
	unsigned char md[32];
	unsigned int carry = 0;
	struct qbk_sha256 *h = qbk_sha256_new();
	int i;

	qbk_sha256_update(h, id, strlen(id) + 1);
	qbk_sha256_update(h, hash, strlen(hash));
	qbk_sha256_final(h, md);
	qbk_sha256_free(h);
	for (i = 31; i >= 0; i--) {
		carry += (unsigned int)b->sum[i] + md[i];
		b->sum[i] = (unsigned char)(carry & 0xff);
		carry >>= 8;
	}
	b->points++;
}

struct content {
	struct qbk_points_bucket *b;
	uint64_t count;
	volatile sig_atomic_t *cancel;
	const char *coll;
};

static int
content_page(void *cookie, const json_t *points, struct qbk_err *err)
{
	struct content *c = cookie;
	const json_t *p;
	size_t i;

	if (c->cancel != NULL && *c->cancel != 0)
		return qbk_err_set(err, QBK_E_INTERRUPTED, "interrupted");
	json_array_foreach(points, i, p) {
		char id[QBK_POINTS_ID_MAX], hash[65];

		if (qbk_points_id_text(json_object_get(p, "id"), id,
		    sizeof(id)) != 0 || qbk_points_hash(p, hash) != 0)
			return qbk_err_set(err, QBK_E_QDRANT, "point without "
			    "a valid id in collection '%s'", c->coll);
		qbk_points_content_add(&c->b[qbk_points_bucket_of(id)], id,
		    hash);
		c->count++;
	}
	return 0;
}

int
qbk_points_content(struct qbk_qdrant *q, const char *coll,
    volatile sig_atomic_t *cancel, struct qbk_points_bucket *buckets,
    uint64_t *count, struct qbk_err *err)
{
	struct qbk_qdrant_scroll so = { 256, 1, 1, NULL };
	struct content c;

	memset(buckets, 0, QBK_POINTS_BUCKETS * sizeof(*buckets));
	memset(&c, 0, sizeof(c));
	c.b = buckets;
	c.cancel = cancel;
	c.coll = coll;
	*count = 0;
	if (qbk_qdrant_scroll(q, coll, &so, content_page, &c, err) != 0)
		return -1;
	*count = c.count;
	return 0;
}

/* ---- fingerprints across a snapshot ------------------------------------ */

void
qbk_points_fp_init(struct qbk_points_fp *fp)
{
	memset(fp, 0, sizeof(*fp));
}

void
qbk_points_fp_release(struct qbk_points_fp *fp)
{
	if (fp == NULL)
		return;
	free(fp->samples);
	json_decref(fp->ids);
	qbk_points_fp_init(fp);
}

int
qbk_points_fp_begin(struct qbk_points_fp *fp, struct qbk_qdrant *q,
    const char *coll, unsigned nsample, int content,
    volatile sig_atomic_t *cancel, struct qbk_err *err)
{
	json_t *sample = NULL, *p;
	uint64_t n;
	size_t i;

	qbk_points_fp_release(fp);
	if (qbk_qdrant_count(q, coll, NULL, &fp->count_before, err) != 0 ||
	    qbk_points_sample(q, coll, nsample, &sample, err) != 0)
		return -1;
	fp->samples = qbk_xcalloc(json_array_size(sample) + 1,
	    sizeof(*fp->samples));
	fp->ids = json_array();
	json_array_foreach(sample, i, p) {
		struct qbk_points_sampled *s = &fp->samples[fp->nsamples];

		if (qbk_points_id_text(json_object_get(p, "id"), s->id,
		    sizeof(s->id)) != 0 || qbk_points_hash(p, s->hash) != 0)
			continue;
		json_array_append(fp->ids, json_object_get(p, "id"));
		fp->nsamples++;
	}
	json_decref(sample);
	fp->content = content;
	if (content && qbk_points_content(q, coll, cancel, fp->before, &n,
	    err) != 0)
		return -1;
	return 0;
}

/* Find the record of ${id} among ${recs}: NULL if absent. */
static const json_t *
find_record(const json_t *recs, const char *id)
{
	const json_t *p;
	size_t i;

	json_array_foreach(recs, i, p) {
		char t[QBK_POINTS_ID_MAX];

		if (qbk_points_id_text(json_object_get(p, "id"), t,
		    sizeof(t)) == 0 && strcmp(t, id) == 0)
			return p;
	}
	return NULL;
}

int
qbk_points_fp_end(struct qbk_points_fp *fp, struct qbk_qdrant *q,
    const char *coll, volatile sig_atomic_t *cancel, struct qbk_err *err)
{
	json_t *recs = NULL;
	uint64_t n;
	size_t i, k;

	if (fp->nsamples > 0) {
		if (qbk_qdrant_retrieve(q, coll, fp->ids, 1, 1, &recs,
		    err) != 0)
			return -1;
		for (i = k = 0; i < fp->nsamples; i++) {
			const json_t *r = find_record(recs, fp->samples[i].id);
			char hash[65];

			if (r == NULL || qbk_points_hash(r, hash) != 0 ||
			    strcmp(hash, fp->samples[i].hash) != 0) {
				fp->changed++;
				continue;
			}
			fp->samples[k++] = fp->samples[i];
		}
		fp->nsamples = k;
		json_decref(recs);
	}
	if (qbk_qdrant_count(q, coll, NULL, &fp->count_after, err) != 0)
		return -1;
	if (!fp->content)
		return 0;
	if (qbk_points_content(q, coll, cancel, fp->buckets, &n, err) != 0)
		return -1;
	fp->nknown = 0;
	fp->points = 0;
	for (i = 0; i < QBK_POINTS_BUCKETS; i++) {
		fp->known[i] = fp->buckets[i].points == fp->before[i].points &&
		    memcmp(fp->buckets[i].sum, fp->before[i].sum,
		    sizeof(fp->before[i].sum)) == 0;
		if (fp->known[i]) {
			fp->nknown++;
			fp->points += fp->buckets[i].points;
		}
	}
	return 0;
}
