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
