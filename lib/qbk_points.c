#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "qbk_err.h"
#include "qbk_http.h"
#include "qbk_qdrant.h"
#include "qbk_points.h"

int
qbk_points_hash(const json_t *record, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	json_t *payload, *vector, *o;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *text;
	size_t i;

	if (!json_is_object(record))
		return -1;
	payload = json_object_get(record, "payload");
	vector = json_object_get(record, "vector");
	o = json_pack("{s:O, s:O}", "payload",
	    payload != NULL ? payload : json_object(),
	    "vector", vector != NULL ? vector : json_null());
	if (payload == NULL)
		json_decref(json_object_get(o, "payload"));
	if (o == NULL)
		return -1;
	text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT |
	    JSON_ENCODE_ANY);
	json_decref(o);
	if (text == NULL)
		return -1;
	EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
	free(text);
	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
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
	so.limit = n;
	if (qbk_qdrant_scroll_page(q, coll, &so, NULL, out, &next, err) != 0)
		return -1;
	json_decref(next);
	return 0;
}

void
qbk_points_content_add(unsigned char *sum, const char *id, const char *hash)
{
	unsigned char md[32];
	unsigned int mdlen = 0, carry = 0;
	EVP_MD_CTX *ctx;
	int i;

	/* EVP_Digest() cannot take two pieces; a context can. */
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		abort();
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, id, strlen(id) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, hash, strlen(hash)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	for (i = 31; i >= 0; i--) {
		carry += (unsigned int)sum[i] + md[i];
		sum[i] = (unsigned char)(carry & 0xff);
		carry >>= 8;
	}
}

struct content {
	unsigned char sum[32];
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
		char id[64], hash[65];

		if (qbk_points_id_text(json_object_get(p, "id"), id,
		    sizeof(id)) != 0 || qbk_points_hash(p, hash) != 0)
			return qbk_err_set(err, QBK_E_QDRANT, "point without "
			    "a valid id in collection '%s'", c->coll);
		qbk_points_content_add(c->sum, id, hash);
		c->count++;
	}
	return 0;
}

int
qbk_points_content_hash(struct qbk_qdrant *q, const char *coll,
    volatile sig_atomic_t *cancel, char *hex, uint64_t *count,
    struct qbk_err *err)
{
	static const char digits[] = "0123456789abcdef";
	struct qbk_qdrant_scroll so = { 256, 1, 1, NULL };
	struct content c;
	size_t i;

	memset(&c, 0, sizeof(c));
	c.cancel = cancel;
	c.coll = coll;
	hex[0] = '\0';
	*count = 0;
	if (qbk_qdrant_scroll(q, coll, &so, content_page, &c, err) != 0)
		return -1;
	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[c.sum[i] >> 4];
		hex[2 * i + 1] = digits[c.sum[i] & 15];
	}
	hex[64] = '\0';
	*count = c.count;
	return 0;
}
