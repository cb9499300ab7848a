#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "storage/s3/qbk_s3.h"

/*
 * A minimal XML tag extractor, enough for S3's responses: find the element
 * <name> (or <name attr...>) in [p, end) and return its content span.  No
 * nesting of the same name is needed (S3 never nests them), and text never
 * contains '<' (XML escapes it).
 */
static int
xml_find(const char *p, const char *end, const char *name,
    const char **cs, const char **ce, const char **after)
{
	size_t n = strlen(name);

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *gt, *q;

		if (lt == NULL)
			return 0;
		p = lt + 1;
		if ((size_t)(end - p) < n + 1 || memcmp(p, name, n) != 0 ||
		    (p[n] != '>' && p[n] != ' ' && p[n] != '/'))
			continue;
		gt = memchr(p, '>', (size_t)(end - p));
		if (gt == NULL)
			return 0;
		if (gt[-1] == '/') {		/* <name/>: empty */
			*cs = *ce = gt + 1;
			*after = gt + 1;
			return 1;
		}
		/* Closing tag "</name>". */
		for (q = gt + 1; q < end; q++) {
			q = memchr(q, '<', (size_t)(end - q));
			if (q == NULL)
				return 0;
			if ((size_t)(end - q) >= n + 3 && q[1] == '/' &&
			    memcmp(q + 2, name, n) == 0 && q[n + 2] == '>') {
				*cs = gt + 1;
				*ce = q;
				*after = q + n + 3;
				return 1;
			}
		}
		return 0;
	}
	return 0;
}

/* Append the text [s, e) with entities decoded; -1 if malformed. */
static int
xml_text(const char *s, const char *e, struct qbk_buf *out)
{
	while (s < e) {
		const char *semi;
		unsigned long cp;
		size_t n;

		if (*s != '&') {
			qbk_buf_addch(out, *s++);
			continue;
		}
		semi = memchr(s, ';', (size_t)(e - s));
		if (semi == NULL || semi - s > 12)
			return -1;
		n = (size_t)(semi - s - 1);
		if (n == 3 && memcmp(s + 1, "amp", 3) == 0)
			qbk_buf_addch(out, '&');
		else if (n == 2 && memcmp(s + 1, "lt", 2) == 0)
			qbk_buf_addch(out, '<');
		else if (n == 2 && memcmp(s + 1, "gt", 2) == 0)
			qbk_buf_addch(out, '>');
		else if (n == 4 && memcmp(s + 1, "quot", 4) == 0)
			qbk_buf_addch(out, '"');
		else if (n == 4 && memcmp(s + 1, "apos", 4) == 0)
			qbk_buf_addch(out, '\'');
		else if (n >= 2 && s[1] == '#') {
			char num[16], *endp;

			memcpy(num, s + 2, n - 1);
			num[n - 1] = '\0';
			errno = 0;
			if (num[0] == 'x' || num[0] == 'X')
				cp = strtoul(num + 1, &endp, 16);
			else
				cp = strtoul(num, &endp, 10);
			if (errno != 0 || *endp != '\0' || endp == num ||
			    cp == 0 || cp > 0x10ffff)
				return -1;
			if (cp < 0x80) {
				qbk_buf_addch(out, (int)cp);
			} else if (cp < 0x800) {
				qbk_buf_addch(out, (int)(0xc0 | (cp >> 6)));
				qbk_buf_addch(out, (int)(0x80 | (cp & 0x3f)));
			} else if (cp < 0x10000) {
				qbk_buf_addch(out, (int)(0xe0 | (cp >> 12)));
				qbk_buf_addch(out,
				    (int)(0x80 | ((cp >> 6) & 0x3f)));
				qbk_buf_addch(out, (int)(0x80 | (cp & 0x3f)));
			} else {
				qbk_buf_addch(out, (int)(0xf0 | (cp >> 18)));
				qbk_buf_addch(out,
				    (int)(0x80 | ((cp >> 12) & 0x3f)));
				qbk_buf_addch(out,
				    (int)(0x80 | ((cp >> 6) & 0x3f)));
				qbk_buf_addch(out, (int)(0x80 | (cp & 0x3f)));
			}
		} else
			return -1;
		s = semi + 1;
	}
	return 0;
}

static void
page_add(struct qbk_s3_page *pg, char *key, uint64_t size, int64_t mtime,
    size_t *cap)
{
	if (pg->n == *cap) {
		*cap = *cap != 0 ? 2 * *cap : 64;
		pg->entries = qbk_xrealloc(pg->entries,
		    *cap * sizeof(pg->entries[0]));
	}
	pg->entries[pg->n].key = key;
	pg->entries[pg->n].size = size;
	pg->entries[pg->n].mtime = mtime;
	pg->n++;
}

int
qbk_s3_parse_list(const char *xml, size_t len, struct qbk_s3_page *pg,
    struct qbk_err *err)
{
	const char *end = xml + len, *p, *cs, *ce, *after;
	const char *rs, *re;
	struct qbk_buf t = QBK_BUF_INIT;
	size_t cap = 0;

	memset(pg, 0, sizeof(*pg));
	if (!xml_find(xml, end, "ListBucketResult", &rs, &re, &after)) {
		qbk_err_set(err, QBK_E_HTTP, "S3 list: the response is not a "
		    "ListBucketResult");
		return -1;
	}
	for (p = rs; xml_find(p, re, "Contents", &cs, &ce, &after);
	    p = after) {
		const char *ks, *ke, *a2;
		char *endp;
		uint64_t size = 0;
		int64_t mtime = 0;

		if (!xml_find(cs, ce, "Key", &ks, &ke, &a2))
			goto bad;
		qbk_buf_reset(&t);
		if (xml_text(ks, ke, &t) != 0 || t.len == 0 ||
		    strlen(t.buf) != t.len)
			goto bad;
		if (xml_find(cs, ce, "Size", &ks, &ke, &a2)) {
			char num[32];
			size_t n = (size_t)(ke - ks);

			if (n == 0 || n >= sizeof(num))
				goto bad;
			memcpy(num, ks, n);
			num[n] = '\0';
			errno = 0;
			size = strtoull(num, &endp, 10);
			if (errno != 0 || *endp != '\0' || num[0] == '-')
				goto bad;
		}
		if (xml_find(cs, ce, "LastModified", &ks, &ke, &a2)) {
			char tb[64];
			size_t n = (size_t)(ke - ks);

			if (n < sizeof(tb)) {
				memcpy(tb, ks, n);
				tb[n] = '\0';
				if (qbk_s3_parse_time(tb, &mtime) != 0)
					mtime = 0;
			}
		}
		page_add(pg, qbk_buf_detach(&t, NULL), size, mtime, &cap);
	}
	if (xml_find(rs, re, "IsTruncated", &cs, &ce, &after))
		pg->truncated = (size_t)(ce - cs) == 4 &&
		    memcmp(cs, "true", 4) == 0;
	if (xml_find(rs, re, "NextContinuationToken", &cs, &ce, &after) &&
	    ce > cs) {
		qbk_buf_reset(&t);
		if (xml_text(cs, ce, &t) != 0 || strlen(t.buf) != t.len)
			goto bad;
		pg->next_token = qbk_buf_detach(&t, NULL);
	}
	if (pg->truncated && pg->next_token == NULL) {
		qbk_err_set(err, QBK_E_HTTP, "S3 list: truncated page "
		    "without a continuation token");
		goto err0;
	}
	qbk_buf_release(&t);
	return 0;
bad:
	qbk_err_set(err, QBK_E_HTTP, "S3 list: malformed response");
err0:
	qbk_buf_release(&t);
	qbk_s3_page_release(pg);
	return -1;
}

void
qbk_s3_page_release(struct qbk_s3_page *pg)
{
	size_t i;

	for (i = 0; i < pg->n; i++)
		free(pg->entries[i].key);
	free(pg->entries);
	free(pg->next_token);
	memset(pg, 0, sizeof(*pg));
}

void
qbk_s3_parse_error(const char *xml, size_t len, struct qbk_buf *code,
    struct qbk_buf *msg)
{
	const char *end = xml + len, *cs, *ce, *after;

	if (xml_find(xml, end, "Code", &cs, &ce, &after))
		(void)xml_text(cs, ce, code);
	if (xml_find(xml, end, "Message", &cs, &ce, &after))
		(void)xml_text(cs, ce, msg);
}
