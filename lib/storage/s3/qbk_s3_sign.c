#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_hex.h"
#include "common/qbk_sha256.h"
#include "storage/s3/qbk_s3.h"

/*
 * AWS Signature Version 4.
 */

static int
hdr_cmp(const void *a, const void *b)
{
	const struct qbk_s3_hdr *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The canonical query string: the parameters of ${q} (already URI-encoded),
 * each with its '=', sorted. */
static void
canonical_query(const char *q, struct qbk_buf *out)
{
	struct qbk_buf tmp = QBK_BUF_INIT;
	char **v = NULL, *p, *amp;
	size_t n = 0, cap = 0, i;

	if (q == NULL || *q == '\0')
		return;
	qbk_buf_addstr(&tmp, q);
	for (p = tmp.buf; p != NULL; p = amp) {
		if ((amp = strchr(p, '&')) != NULL)
			*amp++ = '\0';
		if (*p == '\0')
			continue;
		if (n == cap) {
			cap = cap != 0 ? 2 * cap : 8;
			v = qbk_xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = p;
	}
	qsort(v, n, sizeof(*v), str_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			qbk_buf_addch(out, '&');
		qbk_buf_addstr(out, v[i]);
		if (strchr(v[i], '=') == NULL)
			qbk_buf_addch(out, '=');
	}
	free(v);
	qbk_buf_release(&tmp);
}

int
qbk_s3_sign(const char *method, const char *path, const char *query,
    struct qbk_s3_hdr *hdrs, size_t n, const char *access_key,
    const char *secret_key, const char *region, const char *amzdate,
    struct qbk_buf *out)
{
	struct qbk_buf creq = QBK_BUF_INIT, names = QBK_BUF_INIT,
	    sts = QBK_BUF_INIT, key = QBK_BUF_INIT;
	const char *payload = NULL;
	unsigned char h[32], k[32];
	char hex[65], date[9];
	size_t i;

	if (strlen(amzdate) != 16 || amzdate[8] != 'T')
		return -1;
	memcpy(date, amzdate, 8);
	date[8] = '\0';
	qsort(hdrs, n, sizeof(*hdrs), hdr_cmp);
	qbk_buf_addf(&creq, "%s\n%s\n", method, path);
	canonical_query(query, &creq);
	qbk_buf_addch(&creq, '\n');
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(hdrs[i - 1].name, hdrs[i].name) == 0)
			goto err;	/* one value per name */
		qbk_buf_addf(&creq, "%s:%s\n", hdrs[i].name, hdrs[i].value);
		qbk_buf_addf(&names, "%s%s", i > 0 ? ";" : "", hdrs[i].name);
		if (strcmp(hdrs[i].name, "x-amz-content-sha256") == 0)
			payload = hdrs[i].value;
	}
	if (payload == NULL)
		goto err;
	qbk_buf_addf(&creq, "\n%s\n%s", names.buf, payload);
	qbk_sha256(creq.buf, creq.len, h);
	qbk_hex(h, 32, hex);
	qbk_buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s",
	    amzdate, date, region, hex);
	qbk_buf_addf(&key, "AWS4%s", secret_key);
	qbk_hmac_sha256(key.buf, key.len, date, 8, k);
	qbk_hmac_sha256(k, 32, region, strlen(region), k);
	qbk_hmac_sha256(k, 32, "s3", 2, k);
	qbk_hmac_sha256(k, 32, "aws4_request", 12, k);
	qbk_hmac_sha256(k, 32, sts.buf, sts.len, h);
	explicit_bzero(k, sizeof(k));
	explicit_bzero(key.buf, key.len);
	qbk_hex(h, 32, hex);
	qbk_buf_addf(out, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/"
	    "aws4_request, SignedHeaders=%s, Signature=%s", access_key, date,
	    region, names.buf, hex);
	qbk_buf_release(&creq);
	qbk_buf_release(&names);
	qbk_buf_release(&sts);
	qbk_buf_release(&key);
	return 0;
err:
	qbk_buf_release(&creq);
	qbk_buf_release(&names);
	qbk_buf_release(&sts);
	qbk_buf_release(&key);
	return -1;
}
