#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_json.h"

/*
 * jansson stores integers as json_int_t (long long) and refuses larger
 * ones.  Qdrant peer ids were random u64 before 1.x capped them at 2^53 and
 * stay what they were across upgrades, so copy the text with every integer
 * literal above INT64_MAX turned into a string.  Most documents have no
 * digit run of 19 or more and are parsed as they are.
 */
static int
big_int(const char *p, size_t n)
{
	static const char max[] = "9223372036854775807";

	if (n != sizeof(max) - 1)
		return n > sizeof(max) - 1;
	return memcmp(p, max, n) > 0;
}

static int
needs_quoting(const char *text, size_t len, struct qbk_buf *out)
{
	size_t i = 0, start, run = 0;
	int in_str = 0, changed = 0;

	/* Quick check: any run of 19 digits at all? */
	for (i = 0; i < len; i++) {
		run = text[i] >= '0' && text[i] <= '9' ? run + 1 : 0;
		if (run >= 19)
			break;
	}
	if (i == len)
		return 0;
	for (i = 0; i < len; i++) {
		char c = text[i];

		if (in_str) {
			if (c == '\\' && i + 1 < len) {
				qbk_buf_add(out, text + i, 2);
				i++;
				continue;
			}
			if (c == '"')
				in_str = 0;
			qbk_buf_addch(out, c);
			continue;
		}
		if (c == '"') {
			in_str = 1;
			qbk_buf_addch(out, c);
			continue;
		}
		if (c >= '0' && c <= '9' && (i == 0 ||
		    strchr(".eE+-", text[i - 1]) == NULL)) {
			start = i;
			while (i < len && text[i] >= '0' && text[i] <= '9')
				i++;
			if ((i == len || (text[i] != '.' && text[i] != 'e' &&
			    text[i] != 'E')) && big_int(text + start,
			    i - start)) {
				qbk_buf_addch(out, '"');
				qbk_buf_add(out, text + start, i - start);
				qbk_buf_addch(out, '"');
				changed = 1;
			} else {
				qbk_buf_add(out, text + start, i - start);
			}
			i--;
			continue;
		}
		qbk_buf_addch(out, c);
	}
	return changed;
}

struct json_t *
qbk_json_parse(const char *text, size_t len, const char *what,
    struct qbk_err *err)
{
	struct qbk_buf fixed = QBK_BUF_INIT;
	json_error_t jerr;
	json_t *v;

	if (needs_quoting(text, len, &fixed))
		v = json_loadb(fixed.buf, fixed.len, JSON_DECODE_ANY, &jerr);
	else
		v = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	qbk_buf_release(&fixed);
	if (v == NULL)
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "cannot parse %s: %s at line %d column %d", what,
		    jerr.text, jerr.line, jerr.column);
	return v;
}

void
qbk_json_decref(struct json_t *v)
{
	json_decref(v);
}

struct json_t *
qbk_json_incref(struct json_t *v)
{
	return json_incref(v);
}

static int
dump_cb(const char *buf, size_t size, void *data)
{
	qbk_buf_add(data, buf, size);
	return 0;
}

/*
 * Unsigned 64-bit numbers above INT64_MAX (point ids up to 2^64-1), which
 * jansson cannot hold as integers, travel as strings that start with a NUL
 * byte and "u64:": no parsed document has such a string, since jansson
 * refuses "\u0000" in its input unless told otherwise.  qbk_json_dump()
 * writes them out as bare numbers.
 */
#define U64_TAG		"\0u64:"
#define U64_TAG_LEN	5
#define U64_DUMPED	"\"\\u0000u64:"	/* how jansson writes the tag */

struct json_t *
qbk_json_u64_new(uint64_t n)
{
	char text[U64_TAG_LEN + 21];
	int len;

	if (n <= INT64_MAX)
		return json_integer((json_int_t)n);
	memcpy(text, U64_TAG, U64_TAG_LEN);
	len = snprintf(text + U64_TAG_LEN, sizeof(text) - U64_TAG_LEN,
	    "%llu", (unsigned long long)n);
	return json_stringn(text, U64_TAG_LEN + (size_t)len);
}

struct json_t *
qbk_json_point_id(const struct json_t *id)
{
	const char *s = json_string_value(id);
	uint64_t n;

	/* A string of digits is never a UUID as Qdrant writes them. */
	if (s != NULL && strlen(s) <= 20 && qbk_json_u64_value(id, &n) == 0 &&
	    n > INT64_MAX)
		return qbk_json_u64_new(n);
	return json_incref((json_t *)(uintptr_t)id);
}

/* Copy ${len} bytes of JSON text to ${out}, each tagged string (outside
 * other strings) replaced by its digits. */
static void
untag_u64(const char *text, size_t len, struct qbk_buf *out)
{
	const size_t tl = sizeof(U64_DUMPED) - 1;
	size_t i = 0, d;

	while (i < len) {
		if (text[i] != '"') {
			qbk_buf_addch(out, text[i++]);
			continue;
		}
		if (len - i > tl && memcmp(text + i, U64_DUMPED, tl) == 0) {
			for (d = i + tl; d < len && text[d] >= '0' &&
			    text[d] <= '9'; d++)
				;
			if (d < len && text[d] == '"' && d > i + tl) {
				qbk_buf_add(out, text + i + tl, d - i - tl);
				i = d + 1;
				continue;
			}
		}
		/* Any other string, escapes included, as it is. */
		qbk_buf_addch(out, text[i++]);
		while (i < len && text[i] != '"') {
			if (text[i] == '\\' && i + 1 < len)
				qbk_buf_addch(out, text[i++]);
			qbk_buf_addch(out, text[i++]);
		}
		if (i < len)
			qbk_buf_addch(out, text[i++]);
	}
}

int
qbk_json_dump(const struct json_t *v, struct qbk_buf *out, int pretty)
{
	struct qbk_buf raw = QBK_BUF_INIT;
	size_t flags = JSON_SORT_KEYS | JSON_ENCODE_ANY;
	int rc;

	flags |= pretty ? JSON_INDENT(2) : JSON_COMPACT;
	rc = json_dump_callback(v, dump_cb, &raw, flags) == 0 ? 0 : -1;
	/* The buffer is NUL-terminated and JSON text holds no NUL byte. */
	if (rc == 0 && strstr(raw.buf, U64_DUMPED) != NULL)
		untag_u64(raw.buf, raw.len, out);
	else if (rc == 0)
		qbk_buf_add(out, raw.buf, raw.len);
	qbk_buf_release(&raw);
	return rc;
}

struct json_t *
qbk_json_path(const struct json_t *v, const char *path)
{
	char key[256];
	size_t n;

	while (v != NULL && *path != '\0') {
		n = strcspn(path, ".");
		if (n >= sizeof(key) || !json_is_object(v))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		v = json_object_get(v, key);
		path += n;
		if (*path == '.')
			path++;
	}
	return (struct json_t *)(uintptr_t)v;
}

const char *
qbk_json_str(const struct json_t *v, const char *path)
{
	return json_string_value(qbk_json_path(v, path));
}

int
qbk_json_i64(const struct json_t *v, const char *path, int64_t *out)
{
	const json_t *x = qbk_json_path(v, path);

	if (!json_is_integer(x))
		return -1;
	*out = (int64_t)json_integer_value(x);
	return 0;
}

int
qbk_json_u64_value(const struct json_t *x, uint64_t *out)
{
	const char *s, *p;
	unsigned long long u;
	char *end;

	if (json_is_integer(x)) {
		if (json_integer_value(x) < 0)
			return -1;
		*out = (uint64_t)json_integer_value(x);
		return 0;
	}
	if ((s = json_string_value(x)) == NULL || *s == '\0')
		return -1;
	for (p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	u = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (uint64_t)u;
	return 0;
}

int
qbk_json_u64(const struct json_t *v, const char *path, uint64_t *out)
{
	return qbk_json_u64_value(qbk_json_path(v, path), out);
}

int
qbk_json_bool(const struct json_t *v, const char *path, int *out)
{
	const json_t *x = qbk_json_path(v, path);

	if (!json_is_boolean(x))
		return -1;
	*out = json_is_true(x);
	return 0;
}

void
qbk_json_quote(struct qbk_buf *b, const char *s)
{
	qbk_buf_addch(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			qbk_buf_addf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			qbk_buf_addf(b, "\\u%04x", (unsigned)(unsigned char)*s);
		else
			qbk_buf_addch(b, *s);
	}
	qbk_buf_addch(b, '"');
}
