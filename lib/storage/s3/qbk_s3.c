#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_log.h"
#include "common/qbk_sha256.h"
#include "net/qbk_http.h"
#include "storage/s3/qbk_s3.h"

/*
 * Requests are signed by qbk_s3_sign (qbk_s3_sign.c), not by libcurl's
 * CURLOPT_AWS_SIGV4: libcurl before 8.3.0 signs an "expect" header that it
 * then does not send when "Expect:" is given to remove it (curl issue
 * #11664), and its canonical query string and header handling has changed
 * from version to version.  Signing ourselves, the signed headers are
 * exactly the headers we set (Host included, set explicitly so that libcurl
 * sends our value), on every libcurl version.  Headers that libcurl adds
 * itself (User-Agent, Accept, Content-Length) are sent unsigned, as SigV4
 * allows; "Expect:" removes libcurl's Expect header.
 */

#define EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ERRBODY_MAX	65536
#define LIST_BODY_MAX	(16 * 1024 * 1024)

struct qbk_s3 {
	char *endpoint;		/* "scheme://host[:port]" (no trailing '/') */
	char *region;
	char *bucket;
	char *prefix;		/* "" or "a/b/" (with the trailing '/') */
	int host_style;
	char *access_key;	/* NULL: unsigned requests */
	char *secret_key;
	char *token;		/* session token, or NULL */
	char *ca_file;
	int insecure;
	unsigned transfers;
	unsigned retries;
	int64_t retry_base_ms, retry_max_ms;
	long connect_timeout_ms;
	long low_speed_time_s;
	unsigned lock_days;
	char *lock_mode;
	volatile sig_atomic_t *cancel;

	pthread_mutex_t mu;	/* the easy handle pool and the queue */
	CURL **pool;
	size_t npool, apool;

	/* Asynchronous requests. */
	pthread_cond_t cv;	/* outstanding changed */
	pthread_t thread;
	int thread_started;
	int stop;
	CURLM *multi;
	struct job *queue;	/* submitted, waiting (FIFO by not_before) */
	struct job *running;
	size_t outstanding;	/* queued + running */
	struct qbk_err async_err;	/* first failure */
};

/* One transfer's state. */
struct xfer {
	struct qbk_s3 *s3;
	CURL *easy;
	struct curl_slist *hdrs;
	const uint8_t *body;
	size_t len, off;
	qbk_s3_sink_fn *sink;
	void *cookie;
	int sink_started;
	int sink_failed;
	int restartable;	/* QBK_S3_F_RESTART: a retry may start over */
	int64_t retry_after_ms;	/* the answer's Retry-After, or 0 */
	int sse_kms;		/* answered as SSE-KMS encrypted */
	int sse_c;		/* answered as SSE-C encrypted */
	uint64_t range_off;	/* GET: the Range asked, if range_len > 0 */
	size_t range_len;
	int64_t cr_first, cr_last, cr_total;	/* the answer's Content-Range
						 * "bytes F-L/T", or -1 */
	struct qbk_err sink_err;
	struct qbk_buf errbody;
	int64_t last_ms;	/* when bytes last moved (qbk_clock_ms) */
	curl_off_t last_bytes;	/* bytes moved by then, both ways */
	int stalled;		/* aborted: nothing moved for too long */
	char md5hex[33];
	char etag[80];
	char errbuf[CURL_ERROR_SIZE];
};

struct job {
	struct job *next;
	char *method;
	char *key;
	uint8_t *body;
	size_t len;
	unsigned flags;
	unsigned attempt;
	int64_t not_before;	/* qbk_clock_ms() */
	struct xfer x;
	char *url;
};

/*
 * Small pure helpers.
 */

void
qbk_s3_escape(const char *s, int keep_slash, struct qbk_buf *out)
{
	struct qbk_buf seg = QBK_BUF_INIT;
	const char *slash;

	/* SigV4 keeps only the unreserved characters, as qbk_http_escape()
	 * does for a query; with keep_slash, one path segment at a time. */
	while (keep_slash && (slash = strchr(s, '/')) != NULL) {
		qbk_buf_reset(&seg);
		qbk_buf_add(&seg, s, (size_t)(slash - s));
		qbk_http_escape(out, seg.buf, 1);
		qbk_buf_addch(out, '/');
		s = slash + 1;
	}
	qbk_http_escape(out, s, 1);
	qbk_buf_release(&seg);
}

static int
host_label_ok(const char *b)
{
	size_t n = strlen(b), i;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.'))
			return 0;
	}
	return b[0] != '-' && b[0] != '.' && b[n - 1] != '-' &&
	    b[n - 1] != '.';
}

int
qbk_s3_url(const char *endpoint, const char *region, const char *bucket,
    int host_style, const char *prefix, const char *key, const char *query,
    struct qbk_buf *out, struct qbk_err *err)
{
	struct qbk_buf ep = QBK_BUF_INIT;
	const char *host;
	size_t schemelen;

	if (endpoint == NULL || *endpoint == '\0')
		qbk_buf_addf(&ep, "https://s3.%s.amazonaws.com",
		    region != NULL && *region != '\0' ? region : "us-east-1");
	else
		qbk_buf_addstr(&ep, endpoint);
	while (ep.len > 0 && ep.buf[ep.len - 1] == '/')
		qbk_buf_setlen(&ep, ep.len - 1);
	if (strncmp(ep.buf, "http://", 7) == 0)
		schemelen = 7;
	else if (strncmp(ep.buf, "https://", 8) == 0)
		schemelen = 8;
	else {
		qbk_err_set(err, QBK_E_CONFIG, "S3 endpoint '%s' is not an "
		    "http:// or https:// URL", ep.buf);
		goto err0;
	}
	host = ep.buf + schemelen;
	if (*host == '\0' || strchr(host, '/') != NULL ||
	    strchr(host, '?') != NULL) {
		qbk_err_set(err, QBK_E_CONFIG, "S3 endpoint '%s' must be "
		    "scheme://host[:port] without a path", ep.buf);
		goto err0;
	}
	if (bucket == NULL || *bucket == '\0') {
		qbk_err_set(err, QBK_E_CONFIG, "no S3 bucket given");
		goto err0;
	}
	qbk_buf_reset(out);
	if (host_style) {
		if (!host_label_ok(bucket)) {
			qbk_err_set(err, QBK_E_CONFIG, "S3 bucket '%s' cannot "
			    "be addressed as a host name", bucket);
			qbk_err_hint(err, "set s3_uri_style = path");
			goto err0;
		}
		qbk_buf_add(out, ep.buf, schemelen);
		qbk_buf_addf(out, "%s.%s/", bucket, host);
	} else {
		qbk_buf_addf(out, "%s/", ep.buf);
		qbk_s3_escape(bucket, 0, out);
		if (key != NULL && *key != '\0')
			qbk_buf_addch(out, '/');
	}
	if (key != NULL && *key != '\0') {
		if (prefix != NULL)
			qbk_s3_escape(prefix, 1, out);
		qbk_s3_escape(key, 1, out);
	}
	if (query != NULL && *query != '\0')
		qbk_buf_addf(out, "?%s", query);
	qbk_buf_release(&ep);
	return 0;
err0:
	qbk_buf_release(&ep);
	return -1;
}

int
qbk_s3_retryable(int neterr, long status)
{
	if (neterr)
		return 1;
	return status == 408 || status == 429 ||
	    (status >= 500 && status <= 599 && status != 501);
}

int64_t
qbk_s3_backoff_ms(unsigned attempt, int64_t base, int64_t max, uint32_t rnd)
{
	/* The Qdrant client's full-jitter backoff, counted from 0. */
	return qbk_http_backoff_ms(attempt > 0 ? attempt - 1 : 0, base, max,
	    rnd);
}

int
qbk_s3_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
	    &sec, &n) != 6 || n == 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60 || y < 1970)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/*
 * Transfers.
 */

static size_t
read_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (n > x->len - x->off)
		n = x->len - x->off;
	if (n > 0)
		memcpy(ptr, x->body + x->off, n);
	x->off += n;
	return n;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		if (x->errbody.len + n <= ERRBODY_MAX)
			qbk_buf_add(&x->errbody, ptr, n);
		return n;
	}
	if (x->sink == NULL)
		return n;
	x->sink_started = 1;
	if (x->sink(x->cookie, ptr, n, &x->sink_err) != 0) {
		x->sink_failed = 1;
		return 0;
	}
	return n;
}

/* Retry-After: delay-seconds or an HTTP date; 0 if unusable. */
static int64_t
parse_retry_after(const char *v, size_t n)
{
	char tmp[64];
	char *end;
	long long secs;
	time_t t;

	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
	    v[n - 1] == ' '))
		n--;
	while (n > 0 && *v == ' ') {
		v++;
		n--;
	}
	if (n == 0 || n >= sizeof(tmp))
		return 0;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	errno = 0;
	secs = strtoll(tmp, &end, 10);
	if (end != tmp && *end == '\0')
		return errno == 0 && secs > 0 && secs < 86400 ?
		    (int64_t)secs * 1000 : 0;
	if ((t = curl_getdate(tmp, NULL)) == -1 || t <= time(NULL))
		return 0;
	return (int64_t)(t - time(NULL)) * 1000;
}

static int
hdr_is(const char *p, size_t n, const char *name)
{
	size_t k = strlen(name);

	return n > k && strncasecmp(p, name, k) == 0;
}

/* "bytes F-L/T" (T may be '*') into x->cr_*; left at -1 if malformed. */
static void
parse_content_range(const char *v, size_t n, struct xfer *x)
{
	char buf[96];
	unsigned long long f, l, t;

	if (n >= sizeof(buf))
		return;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (sscanf(buf, " bytes %llu-%llu/%llu", &f, &l, &t) == 3) {
		x->cr_total = (int64_t)t;
	} else if (sscanf(buf, " bytes */%llu", &t) == 1) {
		x->cr_total = (int64_t)t;
		return;
	} else if (sscanf(buf, " bytes %llu-%llu/*", &f, &l) != 2) {
		return;
	}
	x->cr_first = (int64_t)f;
	x->cr_last = (int64_t)l;
}

static size_t
header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb, i, j = 0;

	if (n > 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		/* A new answer (after a 100 Continue, say): forget the
		 * headers of the one before. */
		x->etag[0] = '\0';
		x->retry_after_ms = 0;
		x->sse_kms = x->sse_c = 0;
		x->cr_first = x->cr_last = x->cr_total = -1;
	} else if (hdr_is(ptr, n, "content-range:")) {
		parse_content_range(ptr + 14, n - 14, x);
	} else if (hdr_is(ptr, n, "etag:")) {
		for (i = 5; i < n && j + 1 < sizeof(x->etag); i++) {
			char c = ptr[i];

			if (c == ' ' || c == '"' || c == '\r' || c == '\n' ||
			    c == '\t')
				continue;
			x->etag[j++] = (char)(c >= 'A' && c <= 'F' ?
			    c - 'A' + 'a' : c);
		}
		x->etag[j] = '\0';
	} else if (hdr_is(ptr, n, "retry-after:")) {
		x->retry_after_ms = parse_retry_after(ptr + 12, n - 12);
	} else if (hdr_is(ptr, n, "x-amz-server-side-encryption:")) {
		const char *v = ptr + 29;

		while (*v == ' ')
			v++;
		if (strncmp(v, "aws:kms", 7) == 0)	/* also aws:kms:dsse */
			x->sse_kms = 1;
	} else if (hdr_is(ptr, n,
	    "x-amz-server-side-encryption-customer-algorithm:")) {
		x->sse_c = 1;
	}
	return n;
}

static int
progress_cb(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct xfer *x = ud;
	int64_t now = qbk_clock_ms();

	(void)dt;
	(void)ut;
	if (x->s3->cancel != NULL && *x->s3->cancel != 0)
		return 1;
	/* A transfer that moves no byte either way for low_speed_time_s
	 * (the server stalls, before or after the body) is given up and
	 * retried: curl's own low-speed check averages over several
	 * seconds, so it reacts late. */
	if (dn + un != x->last_bytes) {
		x->last_bytes = dn + un;
		x->last_ms = now;
	} else if (now - x->last_ms > (int64_t)x->s3->low_speed_time_s *
	    1000) {
		x->stalled = 1;
		return 1;
	}
	return 0;
}

static CURL *
easy_get(struct qbk_s3 *s3)
{
	CURL *e = NULL;

	pthread_mutex_lock(&s3->mu);
	if (s3->npool > 0)
		e = s3->pool[--s3->npool];
	pthread_mutex_unlock(&s3->mu);
	if (e == NULL && (e = curl_easy_init()) == NULL)
		abort();	/* out of memory */
	return e;
}

static void
easy_put(struct qbk_s3 *s3, CURL *e)
{
	pthread_mutex_lock(&s3->mu);
	if (s3->npool == s3->apool) {
		s3->apool = s3->apool != 0 ? 2 * s3->apool : 8;
		s3->pool = qbk_xrealloc(s3->pool,
		    s3->apool * sizeof(s3->pool[0]));
	}
	s3->pool[s3->npool++] = e;
	pthread_mutex_unlock(&s3->mu);
}

static void
xfer_reset(struct xfer *x)
{
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	x->off = 0;
	x->last_ms = qbk_clock_ms();
	x->last_bytes = -1;
	x->stalled = 0;
	x->etag[0] = '\0';
	x->retry_after_ms = 0;
	x->sse_kms = x->sse_c = 0;
	x->cr_first = x->cr_last = x->cr_total = -1;
	x->errbuf[0] = '\0';
	qbk_buf_reset(&x->errbody);
}

static void
add_hdr(struct xfer *x, const char *h)
{
	struct curl_slist *l = curl_slist_append(x->hdrs, h);

	if (l == NULL)
		abort();
	x->hdrs = l;
}

static void
lock_until(unsigned days, char *buf, size_t size)
{
	time_t t = (time_t)(qbk_now() + (int64_t)days * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Split ${url} ("scheme://authority[/path][?query]") into its authority,
 * its path ("/" if none) and its query (NULL if none), kept in ${buf}. */
static void
split_url(const char *url, struct qbk_buf *buf, const char **authority,
    const char **path, const char **query)
{
	const char *a = strstr(url, "://"), *p, *q;
	size_t alen, plen, at_path, at_query = 0;

	a = a != NULL ? a + 3 : url;
	alen = strcspn(a, "/?");
	p = a + alen;
	plen = strcspn(p, "?");
	q = p[plen] == '?' ? p + plen + 1 : NULL;
	qbk_buf_reset(buf);
	qbk_buf_add(buf, a, alen);
	qbk_buf_addch(buf, '\0');
	at_path = buf->len;
	if (plen == 0)
		qbk_buf_addch(buf, '/');
	else
		qbk_buf_add(buf, p, plen);
	qbk_buf_addch(buf, '\0');
	if (q != NULL) {
		at_query = buf->len;
		qbk_buf_addstr(buf, q);
	}
	*authority = buf->buf;
	*path = buf->buf + at_path;
	*query = q != NULL ? buf->buf + at_query : NULL;
}

#define MAX_HDRS	12

/* Set ${x}->easy up for one attempt, signing the request (SigV4) when the
 * client has credentials. */
static int
xfer_setup(struct xfer *x, const char *method, const char *url,
    unsigned flags, struct qbk_err *err)
{
	struct qbk_s3 *s3 = x->s3;
	CURL *e = x->easy;
	struct qbk_s3_hdr hv[MAX_HDRS];
	struct qbk_buf h = QBK_BUF_INIT, parts = QBK_BUF_INIT;
	const char *authority, *path, *query;
	unsigned char sum[32];
	char sha[65], md5b64[32], amzdate[20], until[40], range[48];
	size_t n = 0, i;
	struct tm tm;
	time_t now;

	xfer_reset(x);
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s3->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "qbk/" QBK_VERSION);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (s3->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, s3->ca_file);
	if (s3->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}

	/* The headers to sign and send, all of them. */
	split_url(url, &parts, &authority, &path, &query);
	now = time(NULL);	/* the real clock: servers check it */
	gmtime_r(&now, &tm);
	strftime(amzdate, sizeof(amzdate), "%Y%m%dT%H%M%SZ", &tm);
	hv[n].name = "host";
	hv[n++].value = authority;
	hv[n].name = "x-amz-date";
	hv[n++].value = amzdate;
	if (s3->token != NULL) {
		hv[n].name = "x-amz-security-token";
		hv[n++].value = s3->token;
	}
	if (strcmp(method, "PUT") == 0) {
		qbk_sha256(x->body, x->len, sum);
		qbk_hex(sum, 32, sha);
		qbk_md5(x->body, x->len, sum);
		qbk_hex(sum, 16, x->md5hex);
		EVP_EncodeBlock((unsigned char *)md5b64, sum, 16);
		hv[n].name = "x-amz-content-sha256";
		hv[n++].value = sha;
		hv[n].name = "content-md5";
		hv[n++].value = md5b64;
		hv[n].name = "content-type";
		hv[n++].value = x->len > 0 && query != NULL ?
		    "application/xml" : "application/octet-stream";
		if ((flags & QBK_S3_F_LOCK) && s3->lock_days > 0) {
			lock_until(s3->lock_days, until, sizeof(until));
			hv[n].name = "x-amz-object-lock-mode";
			hv[n++].value = s3->lock_mode;
			hv[n].name = "x-amz-object-lock-retain-until-date";
			hv[n++].value = until;
		}
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)x->len);
	} else {
		x->md5hex[0] = '\0';
		hv[n].name = "x-amz-content-sha256";
		hv[n++].value = EMPTY_SHA256;
		if (x->range_len > 0) {
			snprintf(range, sizeof(range), "bytes=%llu-%llu",
			    (unsigned long long)x->range_off,
			    (unsigned long long)(x->range_off + x->range_len -
			    1));
			hv[n].name = "range";
			hv[n++].value = range;
		}
		if (strcmp(method, "HEAD") == 0)
			curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		else if (strcmp(method, "GET") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	for (i = 0; i < n; i++) {
		qbk_buf_reset(&h);
		qbk_buf_addf(&h, "%s: %s", hv[i].name, hv[i].value);
		add_hdr(x, h.buf);
	}
	if (s3->access_key != NULL) {
		qbk_buf_reset(&h);
		qbk_buf_addstr(&h, "Authorization: ");
		if (qbk_s3_sign(method, path, query, hv, n, s3->access_key,
		    s3->secret_key, s3->region, amzdate, &h) != 0)
			goto crypto;
		add_hdr(x, h.buf);
		explicit_bzero(h.buf, h.len);
	}
	/* Not signed, and not sent: libcurl's own Expect: 100-continue
	 * (a round trip per PUT) and Accept. */
	add_hdr(x, "Expect:");
	add_hdr(x, "Accept:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	qbk_buf_release(&h);
	qbk_buf_release(&parts);
	return 0;
crypto:
	qbk_buf_release(&h);
	qbk_buf_release(&parts);
	return qbk_err_set(err, QBK_E_INTERNAL, "S3: cannot sign the request");
}

/*
 * Whether the ETag of a PUT's answer is the MD5 of the object: not with
 * SSE-KMS or SSE-C (AWS then answers another digest), and not when it is
 * not 32 hex digits (multipart, or a store of another kind).  Then only
 * Content-MD5 guards the upload: the server refuses a body that does not
 * match it (400 BadDigest).
 */
static int
etag_is_md5(const struct xfer *x)
{
	return !x->sse_kms && !x->sse_c && x->md5hex[0] != '\0' &&
	    strlen(x->etag) == 32 && strspn(x->etag, "0123456789abcdef") == 32;
}

/* Failures of TLS verification and set-up that no retry can mend. */
static int
tls_final(CURLcode cc)
{
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
		return 1;
	default:
		return 0;
	}
}

/*
 * A redirect is never followed: the request is signed for the endpoint
 * configured, and a signed request must go nowhere else.  Say where it
 * leads (libcurl resolves the Location header; without credentials or
 * query), as a configuration error.
 */
static void
redirect_err(struct xfer *x, struct qbk_err *err)
{
	char *loc = NULL, *to;
	size_t len;

	if (err == NULL)
		return;
	err->code = QBK_E_CONFIG;
	if (curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc) ==
	    CURLE_OK && loc != NULL && (to = qbk_http_redact_url(loc)) !=
	    NULL) {
		len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len,
		    ", redirecting to '%s'", to);
		free(to);
	}
	qbk_err_hint(err, "qbk does not follow redirects, so that signed "
	    "requests go nowhere else: set s3_endpoint (and s3_region, "
	    "s3_uri_style) to the endpoint of the bucket");
}

/*
 * Outcome of an attempt: 0 done, 1 retry, -1 failed for good; ${err} says
 * why (also for a retry, so that the last one is reported).
 */
static int
xfer_outcome(struct xfer *x, CURLcode cc, const char *method,
    const char *what, struct qbk_s3_resp *resp, struct qbk_err *err)
{
	long status = 0;
	curl_off_t cl = -1, ft = -1;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (resp != NULL) {
		resp->status = status;
		curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
		    &cl);
		curl_easy_getinfo(x->easy, CURLINFO_FILETIME_T, &ft);
		resp->length = cl > 0 ? (uint64_t)cl : 0;
		resp->mtime = ft > 0 ? (int64_t)ft : 0;
		memcpy(resp->etag, x->etag, sizeof(resp->etag));
		resp->range_first = x->cr_first;
		resp->range_last = x->cr_last;
		resp->range_total = x->cr_total;
	}
	if (x->sink_failed) {
		if (err != NULL)
			*err = x->sink_err;
		return -1;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK && x->stalled) {
		qbk_err_set(err, QBK_E_NET, "S3 %s %s: no data moved for %ld "
		    "s", method, what, x->s3->low_speed_time_s);
		return x->sink_started && !x->restartable ? -1 : 1;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		qbk_err_set(err, QBK_E_INTERRUPTED, "S3 %s %s: interrupted",
		    method, what);
		return -1;
	}
	if (tls_final(cc)) {
		/* Trying again cannot help: fail at once. */
		qbk_err_set(err, QBK_E_NET, "S3 %s %s: TLS: %s", method, what,
		    x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(cc));
		qbk_err_hint(err, "the server's certificate is not trusted: "
		    "set s3_ca_file to the CA certificate that signed it, or "
		    "check s3_endpoint");
		return -1;
	}
	if (cc != CURLE_OK) {
		qbk_err_set(err, QBK_E_NET, "S3 %s %s: %s", method, what,
		    x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(cc));
		if (err != NULL)
			err->http_status = 0;
		return x->sink_started && !x->restartable ? -1 : 1;
	}
	if (status >= 200 && status <= 299) {
		if (strcmp(method, "PUT") == 0 && etag_is_md5(x) &&
		    strcmp(x->etag, x->md5hex) != 0) {
			/* The server stored something else: send again. */
			qbk_err_set(err, QBK_E_INTEGRITY, "S3 PUT %s: ETag %s "
			    "is not the MD5 %s of what was sent", what,
			    x->etag, x->md5hex);
			return 1;
		}
		return 0;
	} else {
		struct qbk_buf code = QBK_BUF_INIT, msg = QBK_BUF_INIT;
		enum qbk_errcode ec = QBK_E_HTTP;

		qbk_s3_parse_error(x->errbody.buf, x->errbody.len, &code,
		    &msg);
		if (status == 404)
			ec = QBK_E_NOTFOUND;
		else if (status == 401 || status == 403)
			ec = QBK_E_AUTH;
		qbk_err_set(err, ec, "S3 %s %s: HTTP %ld%s%s%s%s", method,
		    what, status, code.len > 0 ? " " : "", code.buf,
		    msg.len > 0 ? ": " : "", msg.buf);
		if (err != NULL)
			err->http_status = status;
		if (status >= 300 && status < 400)
			redirect_err(x, err);
		else if (ec == QBK_E_AUTH)
			qbk_err_hint(err, "check the S3 credentials "
			    "($AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY or "
			    "s3_access_key_file, s3_secret_key_file) and "
			    "s3_region");
		qbk_buf_release(&code);
		qbk_buf_release(&msg);
		if (x->sink_started && !x->restartable)
			return -1;
		return qbk_s3_retryable(0, status) ? 1 : -1;
	}
}

static int
sleep_ms(struct qbk_s3 *s3, int64_t ms)
{
	while (ms > 0) {
		struct timespec ts;
		int64_t step = ms > 100 ? 100 : ms;

		if (s3->cancel != NULL && *s3->cancel)
			return -1;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)step * 1000000L;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return s3->cancel != NULL && *s3->cancel ? -1 : 0;
}

/* How long to wait before retry ${attempt} (1, 2, ...) of ${x}: the
 * jittered backoff, or the server's Retry-After (429, 503) if longer,
 * bounded by retry_max_ms. */
static int64_t
retry_delay_ms(const struct xfer *x, unsigned attempt)
{
	int64_t d = qbk_s3_backoff_ms(attempt, x->s3->retry_base_ms,
	    x->s3->retry_max_ms, randombytes_random());
	int64_t ra = x->retry_after_ms;

	if (ra > x->s3->retry_max_ms)
		ra = x->s3->retry_max_ms;
	if (ra > d) {
		qbk_detail("waiting %lld ms as the server's Retry-After asks",
		    (long long)ra);
		d = ra;
	}
	return d;
}

/* qbk_s3_request(), for the bytes [range_off, range_off + range_len) of
 * the object when range_len > 0 (a GET). */
static int
request(struct qbk_s3 *s3, const char *method, const char *key,
    const char *query, const void *body, size_t len, unsigned flags,
    uint64_t range_off, size_t range_len, qbk_s3_sink_fn *sink,
    void *cookie, struct qbk_s3_resp *resp, struct qbk_err *err)
{
	struct qbk_buf url = QBK_BUF_INIT;
	struct xfer x;
	struct qbk_err e = QBK_ERR_INIT;
	const char *what = key != NULL && *key != '\0' ? key : s3->bucket;
	unsigned attempt;
	int rc = -1;

	if (resp != NULL)
		memset(resp, 0, sizeof(*resp));
	if (qbk_s3_url(s3->endpoint, s3->region, s3->bucket, s3->host_style,
	    s3->prefix, key, query, &url, err) != 0)
		return -1;
	memset(&x, 0, sizeof(x));
	x.s3 = s3;
	x.easy = easy_get(s3);
	x.body = body;
	x.len = len;
	x.sink = sink;
	x.cookie = cookie;
	x.range_off = range_off;
	x.range_len = range_len;
	qbk_buf_init(&x.errbody);
	x.restartable = (flags & QBK_S3_F_RESTART) && sink != NULL;
	for (attempt = 0;; attempt++) {
		CURLcode cc;
		int oc;

		if (x.sink_started) {
			/* A retry after part of the body: start over. */
			x.sink_started = 0;
			if (sink(cookie, NULL, 0, &e) != 0)
				break;
		}
		if (xfer_setup(&x, method, url.buf, flags, &e) != 0)
			break;
		cc = curl_easy_perform(x.easy);
		oc = xfer_outcome(&x, cc, method, what, resp, &e);
		if (oc <= 0) {
			rc = oc;
			break;
		}
		if (attempt >= s3->retries) {
			qbk_err_prefix(&e, "giving up after %u attempts",
			    attempt + 1);
			break;
		}
		qbk_detail("%s; retrying", e.msg);
		if (sleep_ms(s3, retry_delay_ms(&x, attempt + 1)) != 0) {
			qbk_err_set(&e, QBK_E_INTERRUPTED, "S3 %s %s: "
			    "interrupted", method, what);
			break;
		}
	}
	if (rc != 0 && err != NULL)
		*err = e;
	xfer_reset(&x);
	qbk_buf_release(&x.errbody);
	curl_easy_reset(x.easy);
	easy_put(s3, x.easy);
	qbk_buf_release(&url);
	return rc;
}

int
qbk_s3_request(struct qbk_s3 *s3, const char *method, const char *key,
    const char *query, const void *body, size_t len, unsigned flags,
    qbk_s3_sink_fn *sink, void *cookie, struct qbk_s3_resp *resp,
    struct qbk_err *err)
{
	return request(s3, method, key, query, body, len, flags, 0, 0, sink,
	    cookie, resp, err);
}

int
qbk_s3_get_range(struct qbk_s3 *s3, const char *key, uint64_t offset,
    size_t len, qbk_s3_sink_fn *sink, void *cookie, struct qbk_s3_resp *resp,
    struct qbk_err *err)
{
	struct qbk_s3_resp r;
	uint64_t last = offset + len - 1;
	int rc = -1;

	if (request(s3, "GET", key, NULL, NULL, 0, QBK_S3_F_RESTART, offset,
	    len, sink, cookie, &r, err) != 0) {
		if (r.status == 416)
			rc = 1;		/* Range Not Satisfiable */
	} else if ((r.status == 206 && r.range_first == (int64_t)offset &&
	    r.range_last == (int64_t)last) ||
	    (r.status == 200 && offset == 0 && r.length == len)) {
		rc = 0;		/* the range, or the whole object that it is */
	} else if ((r.status == 206 && r.range_first == (int64_t)offset &&
	    r.range_last >= 0 && r.range_last < (int64_t)last) ||
	    (r.status == 200 && offset == 0 && r.length < len)) {
		rc = 1;		/* the object ends before the range */
		if (r.status == 200)
			r.range_total = (int64_t)r.length;
	} else {
		qbk_err_set(err, QBK_E_HTTP, "S3 GET %s: asked for bytes %llu "
		    "to %llu, answered HTTP %ld with Content-Range "
		    "%lld-%lld/%lld", key, (unsigned long long)offset,
		    (unsigned long long)last, r.status,
		    (long long)r.range_first, (long long)r.range_last,
		    (long long)r.range_total);
	}
	if (resp != NULL)
		*resp = r;
	return rc;
}

/*
 * Batches: many small requests in parallel on the calling thread.
 */

struct bop {
	struct qbk_s3_op *op;
	struct xfer x;
	char *url;
	unsigned attempt;
	int64_t not_before;	/* qbk_clock_ms() */
	int state;		/* 0 waiting, 1 running, 2 done */
};

/* Start the waiting requests of a batch that are due, up to "transfers"
 * running; ${*next} gets the earliest not_before of those not yet due (or
 * stays -1).  0, or -1 when one cannot be set up (${first} set). */
static int
batch_start(struct qbk_s3 *s3, CURLM *m, struct bop *b, size_t n,
    size_t *running, int64_t *next, struct qbk_err *first)
{
	int64_t now = qbk_clock_ms();
	size_t i;

	for (i = 0; i < n && *running < s3->transfers; i++) {
		struct bop *o = &b[i];

		if (o->state != 0)
			continue;
		if (o->not_before > now) {
			if (*next < 0 || o->not_before < *next)
				*next = o->not_before;
			continue;
		}
		if (o->x.easy == NULL)
			o->x.easy = easy_get(s3);
		if (xfer_setup(&o->x, o->op->method, o->url, o->op->flags,
		    first) != 0)
			return -1;
		curl_easy_setopt(o->x.easy, CURLOPT_PRIVATE, o);
		curl_multi_add_handle(m, o->x.easy);
		o->state = 1;
		(*running)++;
	}
	return 0;
}

/* Take the finished requests of a batch off ${m}: retry those worth it,
 * count the others in ${*done}, the first failure other than a 404 into
 * ${first}. */
static void
batch_reap(struct qbk_s3 *s3, CURLM *m, size_t *running, size_t *done,
    struct qbk_err *first)
{
	CURLMsg *cm;
	int msgs;

	while ((cm = curl_multi_info_read(m, &msgs)) != NULL) {
		struct bop *o = NULL;
		struct qbk_err e = QBK_ERR_INIT;
		int oc;

		if (cm->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE,
		    (char **)&o);
		oc = xfer_outcome(&o->x, cm->data.result, o->op->method,
		    o->op->key, &o->op->resp, &e);
		curl_multi_remove_handle(m, o->x.easy);
		(*running)--;
		if (oc == 1 && o->attempt < s3->retries) {
			o->attempt++;
			qbk_detail("%s; retrying", e.msg);
			o->not_before = qbk_clock_ms() +
			    retry_delay_ms(&o->x, o->attempt);
			o->state = 0;
			continue;
		}
		o->state = 2;
		(*done)++;
		o->op->code = oc == 0 ? (int)QBK_E_OK : (int)e.code;
		if (oc != 0 && e.code != QBK_E_NOTFOUND &&
		    first->code == QBK_E_OK) {
			*first = e;
			if (oc == 1)
				qbk_err_prefix(first, "giving up after %u "
				    "attempts", o->attempt + 1);
		}
	}
}

/* Release what a batch holds: its handles back to the pool. */
static void
batch_free(struct qbk_s3 *s3, CURLM *m, struct bop *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i].state == 1)
			curl_multi_remove_handle(m, b[i].x.easy);
		if (b[i].x.easy != NULL) {
			xfer_reset(&b[i].x);
			curl_easy_reset(b[i].x.easy);
			easy_put(s3, b[i].x.easy);
		}
		qbk_buf_release(&b[i].x.errbody);
		free(b[i].url);
	}
	free(b);
	curl_multi_cleanup(m);
}

int
qbk_s3_batch(struct qbk_s3 *s3, struct qbk_s3_op *ops, size_t n,
    struct qbk_err *err)
{
	struct qbk_buf url = QBK_BUF_INIT;
	struct qbk_err first = QBK_ERR_INIT;
	struct bop *b;
	CURLM *m;
	size_t i, done = 0, running = 0;
	int rc = 0;

	if (n == 0)
		return 0;
	if ((m = curl_multi_init()) == NULL)
		abort();
	b = qbk_xcalloc(n, sizeof(*b));
	for (i = 0; i < n; i++) {
		memset(&ops[i].resp, 0, sizeof(ops[i].resp));
		ops[i].code = QBK_E_OK;
		b[i].op = &ops[i];
		b[i].x.s3 = s3;
		b[i].x.body = ops[i].body;
		b[i].x.len = ops[i].len;
		qbk_buf_init(&b[i].x.errbody);
		if (qbk_s3_url(s3->endpoint, s3->region, s3->bucket,
		    s3->host_style, s3->prefix, ops[i].key, ops[i].query, &url,
		    err) != 0) {
			rc = -1;
			goto out;
		}
		b[i].url = qbk_buf_detach(&url, NULL);
	}
	while (done < n) {
		int64_t next = -1;
		int still, timeout;

		if (s3->cancel != NULL && *s3->cancel) {
			qbk_err_set(&first, QBK_E_INTERRUPTED, "S3 requests "
			    "interrupted");
			rc = -1;
			break;
		}
		if (batch_start(s3, m, b, n, &running, &next, &first) != 0) {
			rc = -1;
			break;
		}
		curl_multi_perform(m, &still);
		batch_reap(s3, m, &running, &done, &first);
		if (first.code != QBK_E_OK) {
			rc = -1;
			break;
		}
		timeout = 1000;
		if (running == 0 && next >= 0) {
			int64_t d = next - qbk_clock_ms();

			timeout = d < 0 ? 0 : d > 1000 ? 1000 : (int)d;
		}
		if (done < n)
			curl_multi_poll(m, NULL, 0, timeout, NULL);
	}
out:
	if (rc != 0 && err != NULL && first.code != QBK_E_OK)
		*err = first;
	batch_free(s3, m, b, n);
	qbk_buf_release(&url);
	return rc;
}

/*
 * The I/O thread.
 */

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->method);
	free(j->key);
	free(j->body);
	free(j->url);
	free(j);
}

/* With s3->mu held: record a finished job. */
static void
job_done(struct qbk_s3 *s3, struct job *j)
{
	if (j->x.easy != NULL) {
		xfer_reset(&j->x);
		qbk_buf_release(&j->x.errbody);
		pthread_mutex_unlock(&s3->mu);
		easy_put(s3, j->x.easy);
		pthread_mutex_lock(&s3->mu);
	}
	job_free(j);
	s3->outstanding--;
	pthread_cond_broadcast(&s3->cv);
}

/* With s3->mu held: start queued jobs that are due. */
static void
start_jobs(struct qbk_s3 *s3, size_t *nrunning, int64_t *next_due)
{
	struct job **pp = &s3->queue;
	int64_t now = qbk_clock_ms();

	*next_due = -1;
	while (*pp != NULL && *nrunning < s3->transfers) {
		struct job *j = *pp;
		struct qbk_err e = QBK_ERR_INIT;

		if (j->not_before > now) {
			if (*next_due < 0 || j->not_before < *next_due)
				*next_due = j->not_before;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (j->x.easy == NULL) {
			pthread_mutex_unlock(&s3->mu);
			j->x.easy = easy_get(s3);
			pthread_mutex_lock(&s3->mu);
		}
		if (xfer_setup(&j->x, j->method, j->url, j->flags, &e) != 0) {
			if (s3->async_err.code == QBK_E_OK)
				s3->async_err = e;
			job_done(s3, j);
			continue;
		}
		curl_easy_setopt(j->x.easy, CURLOPT_PRIVATE, j);
		curl_multi_add_handle(s3->multi, j->x.easy);
		j->next = s3->running;
		s3->running = j;
		(*nrunning)++;
	}
}

static void
unlink_running(struct qbk_s3 *s3, struct job *j)
{
	struct job **pp;

	for (pp = &s3->running; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			return;
		}
}

static void *
io_thread(void *arg)
{
	struct qbk_s3 *s3 = arg;
	size_t nrunning = 0;

	pthread_mutex_lock(&s3->mu);
	for (;;) {
		int64_t next_due;
		int still, msgs, timeout = 1000;
		CURLMsg *m;

		if (s3->stop)
			break;
		if (s3->cancel != NULL && *s3->cancel &&
		    s3->async_err.code == QBK_E_OK)
			qbk_err_set(&s3->async_err, QBK_E_INTERRUPTED,
			    "S3 uploads interrupted");
		if (s3->async_err.code != QBK_E_OK) {
			/* A request failed for good (or we were
			 * interrupted): the batch is lost anyway, so drop
			 * what is queued and stop what is running. */
			while (s3->queue != NULL) {
				struct job *j = s3->queue;

				s3->queue = j->next;
				job_done(s3, j);
			}
			while (s3->running != NULL) {
				struct job *j = s3->running;

				s3->running = j->next;
				curl_multi_remove_handle(s3->multi, j->x.easy);
				nrunning--;
				job_done(s3, j);
			}
		}
		start_jobs(s3, &nrunning, &next_due);
		if (next_due >= 0) {
			int64_t d = next_due - qbk_clock_ms();

			timeout = d < 0 ? 0 : d > 1000 ? 1000 : (int)d;
		}
		pthread_mutex_unlock(&s3->mu);
		curl_multi_perform(s3->multi, &still);
		while ((m = curl_multi_info_read(s3->multi, &msgs)) != NULL) {
			struct job *j = NULL;
			struct qbk_err e = QBK_ERR_INIT;
			int oc;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			    (char **)&j);
			oc = xfer_outcome(&j->x, m->data.result, j->method,
			    j->key, NULL, &e);
			curl_multi_remove_handle(s3->multi, j->x.easy);
			pthread_mutex_lock(&s3->mu);
			unlink_running(s3, j);
			nrunning--;
			if (oc == 1 && j->attempt < s3->retries &&
			    s3->async_err.code == QBK_E_OK &&
			    !(s3->cancel != NULL && *s3->cancel)) {
				j->attempt++;
				qbk_detail("%s; retrying", e.msg);
				j->not_before = qbk_clock_ms() +
				    retry_delay_ms(&j->x, j->attempt);
				j->next = s3->queue;
				s3->queue = j;
			} else {
				if (oc != 0 && s3->async_err.code == QBK_E_OK) {
					s3->async_err = e;
					if (oc == 1)
						qbk_err_prefix(&s3->async_err,
						    "giving up after %u "
						    "attempts", j->attempt + 1);
				}
				job_done(s3, j);
			}
			pthread_mutex_unlock(&s3->mu);
		}
		curl_multi_poll(s3->multi, NULL, 0, timeout, NULL);
		pthread_mutex_lock(&s3->mu);
	}
	/* Stopping: abandon everything. */
	while (s3->running != NULL) {
		struct job *j = s3->running;

		s3->running = j->next;
		curl_multi_remove_handle(s3->multi, j->x.easy);
		job_done(s3, j);
	}
	while (s3->queue != NULL) {
		struct job *j = s3->queue;

		s3->queue = j->next;
		job_done(s3, j);
	}
	pthread_mutex_unlock(&s3->mu);
	return NULL;
}

int
qbk_s3_submit(struct qbk_s3 *s3, const char *method, const char *key,
    const void *body, size_t len, unsigned flags, struct qbk_err *err)
{
	struct qbk_buf url = QBK_BUF_INIT;
	struct job *j;

	if (qbk_s3_url(s3->endpoint, s3->region, s3->bucket, s3->host_style,
	    s3->prefix, key, NULL, &url, err) != 0)
		return -1;
	j = qbk_xcalloc(1, sizeof(*j));
	j->method = qbk_xstrdup(method);
	j->key = qbk_xstrdup(key);
	j->url = qbk_buf_detach(&url, NULL);
	if (len > 0) {
		j->body = qbk_xmalloc(len);
		memcpy(j->body, body, len);
	}
	j->len = len;
	j->flags = flags;
	j->x.s3 = s3;
	j->x.body = j->body;
	j->x.len = len;
	qbk_buf_init(&j->x.errbody);
	pthread_mutex_lock(&s3->mu);
	while (s3->outstanding >= 2 * (size_t)s3->transfers &&
	    s3->async_err.code == QBK_E_OK)
		pthread_cond_wait(&s3->cv, &s3->mu);
	if (s3->async_err.code != QBK_E_OK) {
		if (err != NULL)
			*err = s3->async_err;
		pthread_mutex_unlock(&s3->mu);
		qbk_buf_release(&j->x.errbody);
		job_free(j);
		return -1;
	}
	/* FIFO: append. */
	{
		struct job **pp = &s3->queue;

		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = j;
	}
	s3->outstanding++;
	pthread_mutex_unlock(&s3->mu);
	curl_multi_wakeup(s3->multi);
	return 0;
}

int
qbk_s3_wait(struct qbk_s3 *s3, struct qbk_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&s3->mu);
	while (s3->outstanding > 0)
		pthread_cond_wait(&s3->cv, &s3->mu);
	if (s3->async_err.code != QBK_E_OK) {
		if (err != NULL)
			*err = s3->async_err;
		rc = -1;
	}
	pthread_mutex_unlock(&s3->mu);
	return rc;
}

/*
 * Listing.
 */

static int
sink_buf(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	struct qbk_buf *b = cookie;

	if (data == NULL) {	/* a retry starts over */
		qbk_buf_reset(b);
		return 0;
	}
	if (b->len + len > LIST_BODY_MAX)
		return qbk_err_set(err, QBK_E_HTTP, "S3 list: response "
		    "larger than %d bytes", LIST_BODY_MAX);
	qbk_buf_add(b, data, len);
	return 0;
}

int
qbk_s3_list(struct qbk_s3 *s3, const char *prefix,
    int (*fn)(void *, const char *, uint64_t, int64_t, struct qbk_err *),
    void *cookie, struct qbk_err *err)
{
	struct qbk_buf q = QBK_BUF_INIT, body = QBK_BUF_INIT,
	    full = QBK_BUF_INIT;
	struct qbk_s3_page pg;
	char *token = NULL;
	size_t plen = strlen(s3->prefix), i;
	int rc = 0;

	qbk_buf_addstr(&full, s3->prefix);
	qbk_buf_addstr(&full, prefix);
	memset(&pg, 0, sizeof(pg));
	do {
		/* Sorted by name: continuation-token, list-type, prefix. */
		qbk_buf_reset(&q);
		if (token != NULL) {
			qbk_buf_addstr(&q, "continuation-token=");
			qbk_s3_escape(token, 0, &q);
			qbk_buf_addch(&q, '&');
		}
		qbk_buf_addstr(&q, "list-type=2");
		if (full.len > 0) {
			qbk_buf_addstr(&q, "&prefix=");
			qbk_s3_escape(full.buf, 0, &q);
		}
		qbk_buf_reset(&body);
		if (qbk_s3_request(s3, "GET", NULL, q.buf, NULL, 0,
		    QBK_S3_F_RESTART, sink_buf, &body, NULL, err) != 0 ||
		    qbk_s3_parse_list(body.buf, body.len, &pg, err) != 0) {
			rc = -1;
			break;
		}
		for (i = 0; i < pg.n && rc == 0; i++) {
			const char *k = pg.entries[i].key;

			if (strncmp(k, s3->prefix, plen) != 0)
				continue;
			rc = fn(cookie, k + plen, pg.entries[i].size,
			    pg.entries[i].mtime, err);
			if (rc < 0)
				rc = -1;
		}
		free(token);
		token = pg.next_token;
		pg.next_token = NULL;
		if (!pg.truncated) {
			free(token);
			token = NULL;
		}
		qbk_s3_page_release(&pg);
	} while (rc == 0 && token != NULL);
	free(token);
	qbk_buf_release(&q);
	qbk_buf_release(&body);
	qbk_buf_release(&full);
	return rc;
}

int
qbk_s3_bucket_exists(struct qbk_s3 *s3, struct qbk_err *err)
{
	struct qbk_err e = QBK_ERR_INIT;

	/* A one-key listing, rather than HEAD: its error answers have a
	 * body that names the problem (InvalidAccessKeyId, InvalidToken,
	 * SignatureDoesNotMatch, AccessDenied). */
	if (qbk_s3_request(s3, "GET", NULL, "list-type=2&max-keys=1", NULL,
	    0, 0, NULL, NULL, NULL, &e) == 0)
		return 1;
	if (e.code == QBK_E_NOTFOUND)
		return 0;
	if (err != NULL)
		*err = e;
	return -1;
}

/*
 * Life cycle.
 */

static char *
dup_or_null(const char *s)
{
	return s != NULL ? qbk_xstrdup(s) : NULL;
}

int
qbk_s3_new(const struct qbk_s3_opts *o, struct qbk_s3 **out,
    struct qbk_err *err)
{
	struct qbk_s3 *s3;
	struct qbk_buf b = QBK_BUF_INIT;
	const char *p = o->prefix != NULL ? o->prefix : "";

	*out = NULL;
	if (qbk_s3_url(o->endpoint, o->region, o->bucket, o->host_style, NULL,
	    NULL, NULL, &b, err) != 0) {
		qbk_buf_release(&b);
		return -1;
	}
	qbk_buf_reset(&b);
	s3 = qbk_xcalloc(1, sizeof(*s3));
	s3->endpoint = dup_or_null(o->endpoint);
	s3->region = qbk_xstrdup(o->region != NULL && *o->region != '\0' ?
	    o->region : "us-east-1");
	s3->bucket = qbk_xstrdup(o->bucket);
	while (*p == '/')
		p++;
	qbk_buf_addstr(&b, p);
	while (b.len > 0 && b.buf[b.len - 1] == '/')
		qbk_buf_setlen(&b, b.len - 1);
	if (b.len > 0)
		qbk_buf_addch(&b, '/');
	s3->prefix = qbk_buf_detach(&b, NULL);
	s3->host_style = o->host_style;
	if (o->access_key != NULL && o->secret_key != NULL) {
		s3->access_key = qbk_xstrdup(o->access_key);
		s3->secret_key = qbk_xstrdup(o->secret_key);
	}
	if (o->session_token != NULL && *o->session_token != '\0')
		s3->token = qbk_xstrdup(o->session_token);
	s3->ca_file = dup_or_null(o->ca_file);
	s3->insecure = o->insecure;
	s3->transfers = o->transfers > 0 ? o->transfers : 8;
	s3->retries = o->retries;
	s3->retry_base_ms = o->retry_base_ms > 0 ? o->retry_base_ms : 200;
	s3->retry_max_ms = o->retry_max_ms > 0 ? o->retry_max_ms : 20000;
	s3->connect_timeout_ms = o->connect_timeout_ms > 0 ?
	    o->connect_timeout_ms : 10000;
	s3->low_speed_time_s = o->low_speed_time_s > 0 ?
	    o->low_speed_time_s : 60;
	s3->lock_days = o->lock_days;
	s3->lock_mode = qbk_xstrdup(o->lock_mode != NULL ? o->lock_mode :
	    "GOVERNANCE");
	s3->cancel = o->cancel;
	pthread_mutex_init(&s3->mu, NULL);
	pthread_cond_init(&s3->cv, NULL);
	if ((s3->multi = curl_multi_init()) == NULL)
		abort();
	curl_multi_setopt(s3->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)s3->transfers);
	if (pthread_create(&s3->thread, NULL, io_thread, s3) != 0) {
		qbk_err_sys(err, QBK_E_INTERNAL, "cannot start a thread");
		qbk_s3_free(s3);
		return -1;
	}
	s3->thread_started = 1;
	*out = s3;
	return 0;
}

void
qbk_s3_free(struct qbk_s3 *s3)
{
	size_t i;

	if (s3 == NULL)
		return;
	if (s3->thread_started) {
		pthread_mutex_lock(&s3->mu);
		s3->stop = 1;
		pthread_mutex_unlock(&s3->mu);
		curl_multi_wakeup(s3->multi);
		pthread_join(s3->thread, NULL);
	}
	if (s3->multi != NULL)
		curl_multi_cleanup(s3->multi);
	for (i = 0; i < s3->npool; i++)
		curl_easy_cleanup(s3->pool[i]);
	free(s3->pool);
	pthread_cond_destroy(&s3->cv);
	pthread_mutex_destroy(&s3->mu);
	free(s3->endpoint);
	free(s3->region);
	free(s3->bucket);
	free(s3->prefix);
	free(s3->access_key);
	if (s3->secret_key != NULL) {
		explicit_bzero(s3->secret_key, strlen(s3->secret_key));
		free(s3->secret_key);
	}
	if (s3->token != NULL) {
		explicit_bzero(s3->token, strlen(s3->token));
		free(s3->token);
	}
	free(s3->ca_file);
	free(s3->lock_mode);
	free(s3);
}
