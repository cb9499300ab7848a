#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_log.h"
#include "net/qbk_http.h"

#define USER_AGENT	"qbk/" QBK_VERSION
#define ERRBODY_MAX	4096		/* error body kept from a download */
#define BUFERR_MAX	65536		/* error body kept from a request */
#define TEXT_MAX	300		/* server text in a message */
#define PROGRESS_RESET	(16 << 20)	/* bytes that renew the retry budget */
#define STREAM_BUF	(512 << 10)	/* curl buffer of downloads and uploads */
#define NAP_STEP_MS	50		/* cancel flag checks between retries */

struct qbk_http {
	CURL *curl;
	char *base;		/* base URL without trailing '/' */
	char *display;		/* base without credentials */
	char *api_key;		/* NULL: none */
	char *ca_file;
	int insecure;
	long connect_timeout_ms;
	long timeout_ms;
	long long_timeout_ms;
	long low_speed_limit;
	long low_speed_time;
	size_t max_answer;
	unsigned retries;
	int64_t retry_base_ms;
	int64_t retry_max_ms;
	int64_t retry_after_max_ms;
	volatile sig_atomic_t *cancel;
	qbk_http_text_fn *error_text;
	uint64_t rnd;		/* xorshift64 state for the jitter */
	char errbuf[CURL_ERROR_SIZE];
};

enum mode { MODE_BUFFER, MODE_DOWNLOAD, MODE_UPLOAD };

/* Why a transfer was abandoned as stalled. */
enum stall { STALL_NONE, STALL_HEADERS, STALL_BODY, STALL_UPLOAD };

/* The state of one request over all its attempts. */
struct xfer {
	struct qbk_http *h;
	enum mode mode;
	struct qbk_http_resp *resp;
	struct qbk_err *err;	/* where callbacks report */
	int cb_failed;		/* a user callback failed: ${err} is set */
	int cancelled;		/* the cancel flag stopped the transfer */
	int fatal;		/* a resume check failed: ${err} is set */
	int head;		/* a HEAD request: no body follows headers */
	int too_large;		/* the answer is over max_answer */
	enum stall stalled;	/* abandoned: too slow (this attempt) */
	int64_t t_start;	/* monotonic ms at the start of the attempt */
	int64_t first_ms;	/* headers must come within this; 0: any */

	/* Headers of the current response (reset at each status line). */
	long status;
	int64_t clen;
	int ranges;
	char etag[128];
	char crange[128];
	char ctype[128];
	char cdisp[256];
	char lastmod[64];
	char retry_after[64];
	int headers_done;	/* the final headers arrived */
	uint64_t answer_len;	/* buffered answer bytes this attempt */
	int64_t t_win;		/* body speed window: start (ms) ... */
	curl_off_t win_dl;	/* ... and bytes received at its start */
	char location[512];

	/* Download. */
	qbk_http_write_fn *write;
	void *cookie;
	uint64_t delivered;	/* over all attempts */
	uint64_t attempt_delivered;
	int64_t total;		/* entity size of the first 2xx, -1 unknown */
	int can_resume;		/* the first 2xx offered byte ranges */
	int resuming;		/* this attempt asks for a range */
	char etag0[128];

	/* Upload. */
	const struct qbk_http_upload *up;
	uint64_t up_read;	/* bytes read from the callback this attempt */
	int up_eof;		/* the whole body was read */
	int64_t t_upwin;	/* upload speed window: start (ms), 0: none */
	curl_off_t win_ul;	/* ... and bytes sent at its start */
};

void
qbk_http_opts_init(struct qbk_http_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 300000;
	o->long_timeout_ms = 6L * 3600 * 1000;
	o->low_speed_limit = QBK_HTTP_LOW_SPEED_LIMIT;
	o->low_speed_time = QBK_HTTP_LOW_SPEED_TIME;
	o->max_answer = QBK_HTTP_MAX_ANSWER;
	o->retries = 5;
	o->retry_base_ms = 500;
	o->retry_max_ms = 30000;
	o->retry_after_max_ms = 60000;
}

void
qbk_http_resp_init(struct qbk_http_resp *r)
{
	memset(r, 0, sizeof(*r));
	qbk_buf_init(&r->body);
	r->content_length = -1;
}

void
qbk_http_resp_release(struct qbk_http_resp *r)
{
	qbk_buf_release(&r->body);
	qbk_http_resp_init(r);
}

char *
qbk_http_redact_url(const char *url)
{
	struct qbk_buf b = QBK_BUF_INIT;
	const char *host, *end, *at;

	host = strstr(url, "://");
	host = host != NULL ? host + 3 : url;
	end = host + strcspn(host, "/?#");
	qbk_buf_add(&b, url, (size_t)(host - url));
	at = memchr(host, '@', (size_t)(end - host));
	while (at != NULL) {
		host = at + 1;
		at = memchr(host, '@', (size_t)(end - host));
	}
	qbk_buf_add(&b, host, strcspn(host, "?#"));
	return qbk_buf_detach(&b, NULL);
}

int
qbk_http_new(struct qbk_http **out, const struct qbk_http_opts *o,
    struct qbk_err *err)
{
	struct qbk_http *h;
	struct timespec ts;
	size_t len;

	*out = NULL;
	if (o->base_url == NULL || *o->base_url == '\0')
		return qbk_err_set(err, QBK_E_CONFIG, "no Qdrant URL given");
	if (strncmp(o->base_url, "http://", 7) != 0 &&
	    strncmp(o->base_url, "https://", 8) != 0)
		return qbk_err_set(err, QBK_E_CONFIG,
		    "URL must start with http:// or https://");
	h = qbk_xcalloc(1, sizeof(*h));
	if ((h->curl = curl_easy_init()) == NULL) {
		free(h);
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "cannot create a libcurl handle");
	}
	h->base = qbk_xstrdup(o->base_url);
	len = strlen(h->base);
	while (len > 0 && h->base[len - 1] == '/')
		h->base[--len] = '\0';
	h->display = qbk_http_redact_url(h->base);
	if (o->api_key != NULL && *o->api_key != '\0')
		h->api_key = qbk_xstrdup(o->api_key);
	if (o->ca_file != NULL && *o->ca_file != '\0')
		h->ca_file = qbk_xstrdup(o->ca_file);
	h->insecure = o->insecure;
	h->connect_timeout_ms = o->connect_timeout_ms;
	h->timeout_ms = o->timeout_ms;
	h->long_timeout_ms = o->long_timeout_ms;
	h->low_speed_limit = o->low_speed_limit;
	h->low_speed_time = o->low_speed_time;
	h->max_answer = o->max_answer > 0 ? o->max_answer :
	    QBK_HTTP_MAX_ANSWER;
	h->retries = o->retries;
	h->retry_base_ms = o->retry_base_ms;
	h->retry_max_ms = o->retry_max_ms;
	h->retry_after_max_ms = o->retry_after_max_ms;
	h->cancel = o->cancel;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->rnd = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
	    ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)h;
	if (h->rnd == 0)
		h->rnd = 0x9e3779b97f4a7c15ULL;
	if (h->insecure)
		qbk_warn("TLS certificate verification is off for '%s'",
		    h->display);
	*out = h;
	return 0;
}

void
qbk_http_free(struct qbk_http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	if (h->api_key != NULL) {
		volatile char *p = h->api_key;

		while (*p != '\0')
			*p++ = '\0';
		free(h->api_key);
	}
	free(h->ca_file);
	free(h->display);
	free(h->base);
	free(h);
}

void
qbk_http_set_error_text(struct qbk_http *h, qbk_http_text_fn *fn)
{
	h->error_text = fn;
}

/* The text of an error body, one line, at most ${max} bytes. */
static void
error_text(struct qbk_http *h, const struct qbk_buf *body,
    struct qbk_buf *out, size_t max)
{
	if (h->error_text != NULL && body->len > 0)
		h->error_text(body->buf, body->len, out);
	else
		qbk_http_oneline(out, body->buf, body->len, max);
}

const char *
qbk_http_base_url(const struct qbk_http *h)
{
	return h->display;
}

static uint32_t
rnd32(struct qbk_http *h)
{
	h->rnd ^= h->rnd << 13;
	h->rnd ^= h->rnd >> 7;
	h->rnd ^= h->rnd << 17;
	return (uint32_t)(h->rnd >> 32);
}

/* ---- retry policy ---------------------------------------------------- */

enum qbk_http_class
qbk_http_class_of(int code)
{
	switch ((CURLcode)code) {
	case CURLE_OK:
		return QBK_HTTP_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return QBK_HTTP_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return QBK_HTTP_TRANSIENT;
	case CURLE_ABORTED_BY_CALLBACK:
		return QBK_HTTP_CANCEL;
	default:
		return QBK_HTTP_FATAL;
	}
}

int
qbk_http_should_retry(enum qbk_http_class cls, long status)
{
	switch (cls) {
	case QBK_HTTP_CONNECT:
	case QBK_HTTP_TRANSIENT:
		return 1;
	case QBK_HTTP_OK:
		if (status == 408 || status == 429)
			return 1;
		return status >= 500 && status <= 599 && status != 501 &&
		    status != 505 && status != 507;
	default:
		return 0;
	}
}

int64_t
qbk_http_backoff_ms(unsigned attempt, int64_t base_ms, int64_t max_ms,
    uint32_t random)
{
	uint64_t cap;
	unsigned i;

	if (base_ms <= 0 || max_ms <= 0)
		return 0;
	cap = (uint64_t)base_ms;
	for (i = 0; i < attempt && cap < (uint64_t)max_ms; i++)
		cap *= 2;
	if (cap > (uint64_t)max_ms)
		cap = (uint64_t)max_ms;
	/* Keep (cap + 1) * random within 64 bits: 49 days is plenty. */
	if (cap > UINT32_MAX - 1)
		cap = UINT32_MAX - 1;
	return (int64_t)(((cap + 1) * (uint64_t)random) >> 32);
}

int64_t
qbk_http_retry_after_ms(const char *value, int64_t max_ms, int64_t now)
{
	int64_t ms;
	time_t t;
	char *end;
	long long secs;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (*value == '\0')
		return -1;
	if (*value >= '0' && *value <= '9') {
		errno = 0;
		secs = strtoll(value, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' ||
		    *end == '\n')
			end++;
		if (*end != '\0')
			return -1;
		if (errno == ERANGE || secs > INT64_MAX / 1000)
			ms = INT64_MAX;
		else
			ms = (int64_t)secs * 1000;
	} else {
		if ((t = curl_getdate(value, NULL)) == -1)
			return -1;
		ms = ((int64_t)t - now) * 1000;
		if (ms < 0)
			ms = 0;
	}
	return ms > max_ms ? max_ms : ms;
}

/* ---- messages -------------------------------------------------------- */

const char *
qbk_http_status_text(long status)
{
	static const struct {
		long status;
		const char *text;
	} texts[] = {
		{ 301, "moved permanently" }, { 302, "found" },
		{ 303, "see other" }, { 307, "temporary redirect" },
		{ 308, "permanent redirect" },
		{ 400, "bad request" }, { 401, "unauthorized" },
		{ 403, "forbidden" }, { 404, "not found" },
		{ 405, "method not allowed" }, { 408, "request timeout" },
		{ 409, "conflict" }, { 411, "length required" },
		{ 413, "payload too large" }, { 416, "range not satisfiable" },
		{ 422, "unprocessable entity" }, { 429, "too many requests" },
		{ 500, "internal server error" }, { 501, "not implemented" },
		{ 502, "bad gateway" }, { 503, "service unavailable" },
		{ 504, "gateway timeout" }, { 507, "insufficient storage" },
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].status == status)
			return texts[i].text;
	return "";
}

void
qbk_http_oneline(struct qbk_buf *out, const char *text, size_t len,
    size_t max)
{
	size_t start = out->len, i;
	int space = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = 1;
			continue;
		}
		if (out->len - start >= max) {
			qbk_buf_addstr(out, "...");
			return;
		}
		if (space && out->len > start)
			qbk_buf_addch(out, ' ');
		space = 0;
		qbk_buf_addch(out, c);
	}
}

int
qbk_http_resp_err(const struct qbk_http_resp *resp, const char *text,
    struct qbk_err *err)
{
	struct qbk_buf b = QBK_BUF_INIT;
	enum qbk_errcode code;
	const char *phrase;
	long status = resp->status;

	if (text != NULL)
		qbk_http_oneline(&b, text, strlen(text), TEXT_MAX);
	phrase = qbk_http_status_text(status);
	if (status == 401 || status == 403)
		code = QBK_E_AUTH;
	else if (status == 404)
		code = QBK_E_NOTFOUND;
	else
		code = QBK_E_HTTP;
	if (status >= 300 && status < 400 && resp->location[0] != '\0') {
		/* Redirects are never followed (an API key or a signature
		 * must not go where it was not configured to): say where
		 * this one leads instead of the page that goes with it. */
		char *to = qbk_http_redact_url(resp->location);

		qbk_err_set(err, code, "HTTP %ld (%s), redirecting to '%s'",
		    status, *phrase != '\0' ? phrase : "redirect", to);
		free(to);
	} else if (b.len > 0)
		qbk_err_set(err, code, "HTTP %ld: %s", status, b.buf);
	else if (*phrase != '\0')
		qbk_err_set(err, code, "HTTP %ld (%s)", status, phrase);
	else
		qbk_err_set(err, code, "HTTP %ld", status);
	qbk_buf_release(&b);
	if (resp->attempts > 1 && err != NULL) {
		size_t len = strlen(err->msg);

		snprintf(err->msg + len, sizeof(err->msg) - len,
		    " (after %u attempts)", resp->attempts);
	}
	if (err != NULL)
		err->http_status = status;
	return -1;
}

void
qbk_http_escape(struct qbk_buf *out, const char *s, int query)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *keep = query ? "-._~" : "-._~!$'()*+,;=:@&";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(keep, c) != NULL) {
			qbk_buf_addch(out, c);
		} else {
			qbk_buf_addch(out, '%');
			qbk_buf_addch(out, hex[c >> 4]);
			qbk_buf_addch(out, hex[c & 15]);
		}
	}
}

/* ---- curl callbacks -------------------------------------------------- */

static int
is_2xx(long status)
{
	return status >= 200 && status <= 299;
}

/* Copy the value of header ${line} (after "name:") into ${dst}. */
static void
header_value(char *dst, size_t size, const char *v, size_t len)
{
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' ||
	    v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len >= size)
		len = size - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static int
header_is(const char *line, size_t len, const char *name, const char **v,
    size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
		return 0;
	*v = line + n + 1;
	*vlen = len - n - 1;
	return 1;
}

/* A resumed part must be "206 bytes N-(T-1)/T" of the same entity. */
static int
check_resume(struct xfer *x)
{
	unsigned long long a, b, t;
	const char *why = NULL;

	if (x->status != 206) {
		why = "the server ignored the range request";
	} else if (sscanf(x->crange, "bytes %llu-%llu/%llu", &a, &b,
	    &t) != 3) {
		why = "no usable Content-Range";
	} else if (a != x->delivered || (x->total >= 0 &&
	    (t != (unsigned long long)x->total || b + 1 != t))) {
		why = "the Content-Range does not continue the download";
	} else if (x->etag0[0] != '\0' && strcmp(x->etag0, x->etag) != 0) {
		why = "the ETag changed (the file was replaced)";
	}
	if (why == NULL)
		return 0;
	x->fatal = 1;
	qbk_err_set(x->err, QBK_E_NET,
	    "cannot resume the download at byte %llu: %s (HTTP %ld, "
	    "Content-Range '%s')", (unsigned long long)x->delivered, why,
	    x->status, x->crange);
	return -1;
}

/* The body of the current response is buffered (not given to a callback). */
static int
buffered(const struct xfer *x)
{
	return x->mode != MODE_DOWNLOAD || !is_2xx(x->status);
}

static size_t
header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	const char *v;
	size_t vlen;
	char num[32];

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		const char *sp = memchr(line, ' ', len);

		x->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
		x->clen = -1;
		x->ranges = 0;
		x->etag[0] = x->crange[0] = x->ctype[0] = '\0';
		x->cdisp[0] = x->lastmod[0] = x->retry_after[0] = '\0';
		x->location[0] = '\0';
	} else if (header_is(line, len, "content-length", &v, &vlen)) {
		header_value(num, sizeof(num), v, vlen);
		x->clen = strtoll(num, NULL, 10);
	} else if (header_is(line, len, "accept-ranges", &v, &vlen)) {
		header_value(num, sizeof(num), v, vlen);
		x->ranges = strcasecmp(num, "bytes") == 0;
	} else if (header_is(line, len, "etag", &v, &vlen)) {
		header_value(x->etag, sizeof(x->etag), v, vlen);
	} else if (header_is(line, len, "content-range", &v, &vlen)) {
		header_value(x->crange, sizeof(x->crange), v, vlen);
	} else if (header_is(line, len, "content-type", &v, &vlen)) {
		header_value(x->ctype, sizeof(x->ctype), v, vlen);
	} else if (header_is(line, len, "content-disposition", &v, &vlen)) {
		header_value(x->cdisp, sizeof(x->cdisp), v, vlen);
	} else if (header_is(line, len, "last-modified", &v, &vlen)) {
		header_value(x->lastmod, sizeof(x->lastmod), v, vlen);
	} else if (header_is(line, len, "retry-after", &v, &vlen)) {
		header_value(x->retry_after, sizeof(x->retry_after), v, vlen);
	} else if (header_is(line, len, "location", &v, &vlen)) {
		header_value(x->location, sizeof(x->location), v, vlen);
	} else if ((len == 2 && line[0] == '\r') || (len == 1 &&
	    line[0] == '\n')) {
		/* End of the headers of a final response. */
		if (x->status < 200)
			return len;
		x->headers_done = 1;
		x->t_win = qbk_clock_ms();
		x->win_dl = 0;
		/* Refuse an oversized answer before reading any of it. */
		if (!x->head && buffered(x) && x->clen >= 0 &&
		    (uint64_t)x->clen > x->h->max_answer) {
			x->too_large = 1;
			return 0;
		}
		if (x->mode != MODE_DOWNLOAD)
			return len;
		if (x->resuming) {
			if (is_2xx(x->status) && check_resume(x) != 0)
				return 0;
		} else if (is_2xx(x->status)) {
			x->total = x->clen;
			x->can_resume = x->ranges && x->clen >= 0;
			memcpy(x->etag0, x->etag, sizeof(x->etag0));
		}
	}
	return len;
}

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct qbk_buf *body = &x->resp->body;
	size_t len = size * n, keep;

	if (x->mode == MODE_DOWNLOAD && is_2xx(x->status)) {
		if (x->write(x->cookie, data, len, x->err) != 0) {
			x->cb_failed = 1;
			return 0;
		}
		x->delivered += len;
		x->attempt_delivered += len;
		return len;
	}
	/* Every buffered answer, error bodies too, counts against the cap,
	 * checked before the bytes are kept: memory stays under it. */
	if (len > x->h->max_answer - x->answer_len) {
		x->too_large = 1;
		return 0;
	}
	x->answer_len += len;
	if (x->mode != MODE_DOWNLOAD && is_2xx(x->status)) {
		/* Room for an announced size at once, not by doublings. */
		if (body->alloc == 0 && x->clen > 0)
			qbk_buf_grow(body, (size_t)x->clen);
		qbk_buf_add(body, data, len);
		return len;
	}
	/* An error body: keep its beginning for the message. */
	keep = x->mode == MODE_DOWNLOAD ? ERRBODY_MAX : BUFERR_MAX;
	if (body->len < keep)
		qbk_buf_add(body, data, len < keep - body->len ? len :
		    keep - body->len);
	return len;
}

static int
xferinfo_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = arg;
	struct qbk_http *h = x->h;
	int64_t now, win;
	curl_off_t least;

	(void)ultotal;
	if (h->cancel != NULL && *h->cancel != 0) {
		x->cancelled = 1;
		return 1;
	}
	now = qbk_clock_ms();
	/* A download has no overall timeout: bound the wait for its answer. */
	if (!x->headers_done && x->first_ms > 0 &&
	    now - x->t_start > x->first_ms) {
		x->stalled = STALL_HEADERS;
		return 1;
	}
	if (h->low_speed_time <= 0 || h->low_speed_limit <= 0)
		return 0;
	/*
	 * Speed windows of our own rather than curl's low-speed limit: curl's
	 * would also fire while the server works before its answer (taking a
	 * snapshot with wait=true) or after the last byte of an upload.
	 */
	win = (int64_t)h->low_speed_time * 1000;
	least = (curl_off_t)h->low_speed_limit * h->low_speed_time;
	if (x->mode == MODE_UPLOAD && !x->headers_done && !x->up_eof) {
		if (x->t_upwin == 0) {
			x->t_upwin = now;
			x->win_ul = ulnow;
		} else if (now - x->t_upwin >= win) {
			if (ulnow - x->win_ul < least) {
				x->stalled = STALL_UPLOAD;
				return 1;
			}
			x->t_upwin = now;
			x->win_ul = ulnow;
		}
	}
	if (x->headers_done && !x->head && (dltotal <= 0 || dlnow < dltotal) &&
	    now - x->t_win >= win) {
		if (dlnow - x->win_dl < least) {
			x->stalled = STALL_BODY;
			return 1;
		}
		x->t_win = now;
		x->win_dl = dlnow;
	}
	return 0;
}

static size_t
read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	ssize_t got;

	if (x->h->cancel != NULL && *x->h->cancel != 0) {
		x->cancelled = 1;
		return CURL_READFUNC_ABORT;
	}
	got = x->up->read(x->up->cookie, buf, size * n, x->err);
	if (got < 0) {
		x->cb_failed = 1;
		return CURL_READFUNC_ABORT;
	}
	x->up_read += (uint64_t)got;
	if (got == 0 || (x->up->size >= 0 &&
	    x->up_read >= (uint64_t)x->up->size))
		x->up_eof = 1;
	return (size_t)got;
}

static int
seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct xfer *x = arg;

	if (offset != 0 || origin != SEEK_SET || x->up->rewind == NULL)
		return CURL_SEEKFUNC_CANTSEEK;
	if (x->up->rewind(x->up->cookie, x->err) != 0) {
		x->cb_failed = 1;
		return CURL_SEEKFUNC_FAIL;
	}
	x->up_read = 0;
	return CURL_SEEKFUNC_OK;
}

/* Log one header line, hiding credentials. */
static void
debug_line(char dir, const char *line, size_t len)
{
	static const char *secret[] = { "api-key:", "authorization:",
		"x-amz-security-token:", "cookie:", "set-cookie:" };
	size_t i, n;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len == 0)
		return;
	for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		n = strlen(secret[i]);
		if (len >= n && strncasecmp(line, secret[i], n) == 0) {
			qbk_debug("http %c %.*s <redacted>", dir, (int)(n - 1),
			    line);
			return;
		}
	}
	qbk_debug("http %c %.*s", dir, (int)(len > 400 ? 400 : len), line);
}

static int
debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
	const char *p = data, *end = data + size, *nl;

	(void)c;
	(void)arg;
	if (type != CURLINFO_TEXT && type != CURLINFO_HEADER_IN &&
	    type != CURLINFO_HEADER_OUT)
		return 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		debug_line(type == CURLINFO_TEXT ? '*' :
		    type == CURLINFO_HEADER_IN ? '<' : '>', p,
		    (size_t)(nl - p));
		p = nl + 1;
	}
	return 0;
}

/* ---- one attempt ----------------------------------------------------- */

struct attempt {
	struct curl_slist *hdrs;
	curl_mime *mime;
	struct qbk_buf url;
};

static void
attempt_release(struct qbk_http *h, struct attempt *a)
{
	struct curl_slist *l;

	/* Reset first: the handle still points at the mime and the list. */
	curl_easy_reset(h->curl);
	/* The API key must not linger in freed memory. */
	for (l = a->hdrs; l != NULL; l = l->next)
		if (strncasecmp(l->data, "api-key:", 8) == 0) {
			volatile char *p = l->data;

			while (*p != '\0')
				*p++ = '\0';
		}
	curl_mime_free(a->mime);
	curl_slist_free_all(a->hdrs);
	qbk_buf_release(&a->url);
	a->mime = NULL;
	a->hdrs = NULL;
}

static int
add_header(struct attempt *a, const char *text)
{
	struct curl_slist *l = curl_slist_append(a->hdrs, text);

	if (l == NULL)
		return -1;
	a->hdrs = l;
	return 0;
}

static void
full_url(struct qbk_http *h, const char *path, struct qbk_buf *out)
{
	if (strstr(path, "://") != NULL) {
		qbk_buf_addstr(out, path);
		return;
	}
	qbk_buf_addstr(out, h->base);
	if (*path != '/')
		qbk_buf_addch(out, '/');
	qbk_buf_addstr(out, path);
}

#define SET(opt, val) do { \
	if (curl_easy_setopt(h->curl, opt, val) != CURLE_OK) \
		goto fail; \
} while (0)

/* The options of every request: protocols, timeouts, TLS, callbacks. */
static int
setup_conn(struct qbk_http *h, const struct qbk_http_req *req,
    struct xfer *x)
{
	long timeout;

	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, USER_AGENT);
	SET(CURLOPT_ERRORBUFFER, h->errbuf);
	SET(CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 60L);
	SET(CURLOPT_TCP_KEEPINTVL, 30L);
	/* libcurl sends a request again, unasked, when a reused connection
	 * breaks before the answer: never for one that must not repeat. */
	SET(CURLOPT_FRESH_CONNECT, (req->flags & QBK_HTTP_F_ONCE) ? 1L : 0L);
	if (h->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (h->ca_file != NULL)
		SET(CURLOPT_CAINFO, h->ca_file);

	/* Downloads may run for hours: xferinfo_cb() abandons a stalled one,
	 * not a slow one. */
	if (x->mode == MODE_DOWNLOAD) {
		/* Fewer, larger callbacks for multi-GiB streams. */
		SET(CURLOPT_BUFFERSIZE, (long)STREAM_BUF);
	} else if (x->mode == MODE_UPLOAD) {
		SET(CURLOPT_UPLOAD_BUFFERSIZE, (long)STREAM_BUF);
	}
	if (req->timeout_ms != 0)
		timeout = req->timeout_ms > 0 ? req->timeout_ms : 0;
	else if (x->mode == MODE_DOWNLOAD) {
		timeout = 0;
		x->first_ms = h->timeout_ms;
	}
	else if (x->mode == MODE_UPLOAD || req->flags & QBK_HTTP_F_LONG)
		timeout = h->long_timeout_ms;
	else
		timeout = h->timeout_ms;
	SET(CURLOPT_TIMEOUT_MS, timeout);

	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	SET(CURLOPT_XFERINFODATA, x);
	SET(CURLOPT_NOPROGRESS, 0L);
	if (qbk_log_enabled(QBK_LOG_DEBUG)) {
		SET(CURLOPT_DEBUGFUNCTION, debug_cb);
		SET(CURLOPT_VERBOSE, 1L);
	}
	return 0;

fail:
	return -1;
}

/* The method and what is sent: a multipart or plain upload, a small
 * body, or none. */
static int
setup_body(struct qbk_http *h, const struct qbk_http_req *req,
    struct xfer *x, struct attempt *a)
{
	const struct qbk_http_upload *up = x->up;
	const char *method = req->method != NULL ? req->method : "GET";
	struct qbk_buf line = QBK_BUF_INIT;
	int fail = 0;

	if (x->mode == MODE_UPLOAD && up->field != NULL) {
		curl_mimepart *part;

		if ((a->mime = curl_mime_init(h->curl)) == NULL ||
		    (part = curl_mime_addpart(a->mime)) == NULL ||
		    curl_mime_name(part, up->field) != CURLE_OK ||
		    (up->filename != NULL &&
		    curl_mime_filename(part, up->filename) != CURLE_OK) ||
		    curl_mime_type(part, up->content_type != NULL ?
		    up->content_type : "application/octet-stream") !=
		    CURLE_OK ||
		    curl_mime_data_cb(part, up->size >= 0 ?
		    (curl_off_t)up->size : -1, read_cb, seek_cb, NULL, x) !=
		    CURLE_OK)
			goto fail;
		SET(CURLOPT_MIMEPOST, a->mime);
		if (strcmp(method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, method);
	} else if (x->mode == MODE_UPLOAD) {
		SET(CURLOPT_READFUNCTION, read_cb);
		SET(CURLOPT_READDATA, x);
		SET(CURLOPT_SEEKFUNCTION, seek_cb);
		SET(CURLOPT_SEEKDATA, x);
		if (strcmp(method, "POST") == 0) {
			SET(CURLOPT_POST, 1L);
			SET(CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)(up->size >= 0 ? up->size : -1));
		} else {
			SET(CURLOPT_UPLOAD, 1L);
			SET(CURLOPT_INFILESIZE_LARGE,
			    (curl_off_t)(up->size >= 0 ? up->size : -1));
			if (strcmp(method, "PUT") != 0)
				SET(CURLOPT_CUSTOMREQUEST, method);
		}
		qbk_buf_addf(&line, "Content-Type: %s", up->content_type !=
		    NULL ? up->content_type : "application/octet-stream");
		fail |= add_header(a, line.buf);
	} else if (strcmp(method, "GET") == 0 && req->body == NULL) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		if (req->body != NULL || strcmp(method, "POST") == 0 ||
		    strcmp(method, "PUT") == 0) {
			SET(CURLOPT_POSTFIELDS, req->body != NULL ?
			    (const char *)req->body : "");
			SET(CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)(req->body != NULL ? req->body_len :
			    0));
			qbk_buf_addf(&line, "Content-Type: %s",
			    req->content_type != NULL ? req->content_type :
			    "application/json");
			fail |= add_header(a, line.buf);
			/* Small JSON: no 100-continue round trip. */
			fail |= add_header(a, "Expect:");
		}
		if (strcmp(method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, method);
	}
	qbk_buf_release(&line);
	return fail ? -1 : 0;

fail:
	qbk_buf_release(&line);
	return -1;
}

static int
setup(struct qbk_http *h, const struct qbk_http_req *req, struct xfer *x,
    struct attempt *a, struct qbk_err *err)
{
	struct qbk_buf line = QBK_BUF_INIT;
	const char *const *hp;
	int fail = 0;

	full_url(h, req->path != NULL ? req->path : "/", &a->url);
	SET(CURLOPT_URL, a->url.buf);
	if (setup_conn(h, req, x) != 0)
		goto fail;

	if (h->api_key != NULL) {
		qbk_buf_addf(&line, "api-key: %s", h->api_key);
		fail |= add_header(a, line.buf);
		/* The key must not linger in freed memory. */
		memset(line.buf, 0, line.len);
		qbk_buf_reset(&line);
	}
	for (hp = req->headers; hp != NULL && *hp != NULL; hp++)
		fail |= add_header(a, *hp);

	if (setup_body(h, req, x, a) != 0)
		goto fail;
	if (x->mode == MODE_DOWNLOAD && x->resuming) {
		qbk_buf_reset(&line);
		qbk_buf_addf(&line, "Range: bytes=%llu-",
		    (unsigned long long)x->delivered);
		fail |= add_header(a, line.buf);
	}
	qbk_buf_release(&line);
	if (fail)
		goto fail;
	if (a->hdrs != NULL)
		SET(CURLOPT_HTTPHEADER, a->hdrs);
	h->errbuf[0] = '\0';
	return 0;

fail:
	qbk_buf_release(&line);
	return qbk_err_set(err, QBK_E_INTERNAL,
	    "cannot set up the request for '%s'", h->display);
}

#undef SET

/* ---- the retry loop -------------------------------------------------- */

/* Did a failed attempt perhaps reach the server, which went on with it
 * (a broken connection after it was made, a proxy's 408, 502 or 504)? */
static int
answer_lost(CURLcode rc, int stalled, long status)
{
	if (rc != CURLE_OK)
		return stalled || qbk_http_class_of((int)rc) ==
		    QBK_HTTP_TRANSIENT;
	return status == 408 || status == 502 || status == 504;
}

int
qbk_http_nap(struct qbk_http *h, int64_t ms)
{
	struct timespec ts;
	int64_t step;

	while (ms > 0) {
		if (h->cancel != NULL && *h->cancel != 0)
			return -1;
		step = ms < NAP_STEP_MS ? ms : NAP_STEP_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(step * 1000000);
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return h->cancel != NULL && *h->cancel != 0 ? -1 : 0;
}

static void
add_attempts(struct qbk_err *err, unsigned attempts)
{
	size_t len;

	if (err == NULL || attempts < 2)
		return;
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len,
	    " (after %u attempts)", attempts);
}

/* Describe transport failure ${rc} in ${err}. */
static int
net_error(struct qbk_http *h, CURLcode rc, const char *method,
    const char *url, unsigned attempts, struct qbk_err *err)
{
	const char *why = h->errbuf[0] != '\0' ? h->errbuf :
	    curl_easy_strerror(rc);
	char *origin, *cut;
	long oserr = 0;

	origin = qbk_http_redact_url(url);
	cut = strstr(origin, "://");
	cut = cut != NULL ? cut + 3 : origin;
	origin[(size_t)(cut - origin) + strcspn(cut, "/")] = '\0';
	curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &oserr);
	if (rc == CURLE_COULDNT_CONNECT && oserr != 0)
		qbk_err_set(err, QBK_E_NET, "cannot connect to '%s': %s",
		    origin, strerror((int)oserr));
	else if (rc == CURLE_COULDNT_CONNECT)
		qbk_err_set(err, QBK_E_NET, "cannot connect to '%s': %s",
		    origin, why);
	else if (rc == CURLE_COULDNT_RESOLVE_HOST)
		qbk_err_set(err, QBK_E_NET, "cannot resolve the host of '%s': "
		    "%s", origin, why);
	else if (rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CACERT_BADFILE)
		qbk_err_set(err, QBK_E_NET, "cannot verify the TLS "
		    "certificate of '%s': %s", origin, why);
	else {
		char *disp = qbk_http_redact_url(url);

		qbk_err_set(err, QBK_E_NET, "%s '%s' failed: %s", method,
		    disp, why);
		free(disp);
	}
	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		qbk_err_hint(err, "set the CA file (or, for a test only, turn "
		    "TLS verification off)");
	free(origin);
	add_attempts(err, attempts);
	return -1;
}

/* "64 MiB", or the number of bytes if ${n} is no whole number of MiB. */
static void
size_text(char *out, size_t size, uint64_t n)
{
	if (n >= ((uint64_t)1 << 20) && n % ((uint64_t)1 << 20) == 0)
		snprintf(out, size, "%llu MiB", (unsigned long long)(n >> 20));
	else
		snprintf(out, size, "%llu bytes", (unsigned long long)n);
}

/* Describe an answer refused for its size in ${err}. */
static void
too_large(struct qbk_http *h, const struct xfer *x, const char *method,
    const char *url, struct qbk_err *err)
{
	char cap[32];

	size_text(cap, sizeof(cap), h->max_answer);
	if (x->clen >= 0 && (uint64_t)x->clen > h->max_answer)
		qbk_err_set(err, QBK_E_HTTP, "answer of %s '%s' announces %lld "
		    "bytes, more than %s", method, url, (long long)x->clen,
		    cap);
	else
		qbk_err_set(err, QBK_E_HTTP, "answer of %s '%s' is larger than "
		    "%s", method, url, cap);
}

static void
fill_resp(struct xfer *x)
{
	struct qbk_http_resp *r = x->resp;

	r->status = x->status;
	memcpy(r->content_type, x->ctype, sizeof(r->content_type));
	memcpy(r->content_disposition, x->cdisp,
	    sizeof(r->content_disposition));
	memcpy(r->etag, x->etag, sizeof(r->etag));
	memcpy(r->last_modified, x->lastmod, sizeof(r->last_modified));
	r->too_large = x->too_large;
	memcpy(r->location, x->location, sizeof(r->location));
	if (x->mode == MODE_DOWNLOAD) {
		r->bytes = x->delivered;
		r->content_length = is_2xx(x->status) ? x->total : x->clen;
	} else {
		r->content_length = x->clen;
	}
}

/* Reset the state of one attempt. */
static void
attempt_start(struct xfer *x)
{
	x->status = 0;
	x->clen = -1;
	x->attempt_delivered = 0;
	x->up_read = 0;
	x->up_eof = 0;
	x->stalled = STALL_NONE;
	x->t_upwin = 0;
	x->headers_done = 0;
	x->too_large = 0;
	x->answer_len = 0;
	x->first_ms = 0;
	x->t_start = qbk_clock_ms();
}

/*
 * What an attempt of perform() came to: 0 (an answer for the caller:
 * ${x->resp} filled), 1 (failed: ${*retry} says whether another attempt
 * may help, ${reason} why, ${*ra} the server's Retry-After in ms or -1) or
 * -1 (failed for good, ${err} set).
 */
static int
attempt_outcome(struct qbk_http *h, const struct qbk_http_req *req,
    struct xfer *x, CURLcode rc, const char *disp, struct qbk_buf *reason,
    int64_t *ra, int *retry, struct qbk_err *err)
{
	struct qbk_http_resp *resp = x->resp;
	const char *method = req->method != NULL ? req->method : "GET";
	long status = x->status;

	if (x->cb_failed || x->fatal)
		return -1;
	if (x->too_large) {
		/* Not retried: another attempt would read as much. */
		too_large(h, x, method, disp, err);
		return -1;
	}
	if (x->cancelled || (h->cancel != NULL && *h->cancel != 0 &&
	    rc == CURLE_ABORTED_BY_CALLBACK)) {
		qbk_err_set(err, QBK_E_INTERRUPTED,
		    "interrupted during %s '%s'", method, disp);
		return -1;
	}
	qbk_buf_reset(reason);
	*ra = -1;
	if (x->stalled == STALL_HEADERS)
		snprintf(h->errbuf, sizeof(h->errbuf), "no answer "
		    "within %ld s", (long)(x->first_ms / 1000));
	else if (x->stalled == STALL_BODY)
		snprintf(h->errbuf, sizeof(h->errbuf), "the answer "
		    "came slower than %ld bytes/s for %ld s",
		    h->low_speed_limit, h->low_speed_time);
	else if (x->stalled == STALL_UPLOAD)
		snprintf(h->errbuf, sizeof(h->errbuf), "the upload "
		    "went slower than %ld bytes/s for %ld s",
		    h->low_speed_limit, h->low_speed_time);
	if (rc != CURLE_OK) {
		enum qbk_http_class cls = x->stalled ?
		    QBK_HTTP_TRANSIENT : qbk_http_class_of((int)rc);

		*retry = qbk_http_should_retry(cls, 0);
		if (x->mode == MODE_DOWNLOAD && x->delivered > 0 &&
		    *retry && !x->can_resume) {
			qbk_err_set(err, QBK_E_NET, "download of '%s' "
			    "broke after %llu bytes and the server "
			    "cannot resume it: %s", disp,
			    (unsigned long long)x->delivered,
			    h->errbuf[0] != '\0' ? h->errbuf :
			    curl_easy_strerror(rc));
			qbk_err_hint(err, "run the command again");
			return -1;
		}
		qbk_buf_addstr(reason, h->errbuf[0] != '\0' ?
		    h->errbuf : curl_easy_strerror(rc));
	} else if (x->mode == MODE_DOWNLOAD && is_2xx(status) &&
	    x->total >= 0 && x->delivered != (uint64_t)x->total) {
		/* curl checks Content-Length; this is a last guard. */
		qbk_err_set(err, QBK_E_NET, "download of '%s' ended "
		    "after %llu of %lld bytes", disp,
		    (unsigned long long)x->delivered,
		    (long long)x->total);
		return -1;
	} else if (is_2xx(status) ||
	    (req->flags & QBK_HTTP_F_ANYSTATUS)) {
		fill_resp(x);
		return 0;
	} else {
		*retry = qbk_http_should_retry(QBK_HTTP_OK, status);
		if (status == 500 &&
		    (req->flags & QBK_HTTP_F_NORETRY_500))
			*retry = 0;
		qbk_buf_addf(reason, "HTTP %ld", status);
		if (resp->body.len > 0) {
			qbk_buf_addstr(reason, ": ");
			error_text(h, &resp->body, reason, 200);
		}
		if (status == 429 || status == 503)
			*ra = qbk_http_retry_after_ms(x->retry_after[0]
			    != '\0' ? x->retry_after : NULL,
			    h->retry_after_max_ms,
			    (int64_t)time(NULL));
	}
	return 1;
}

static int
perform(struct qbk_http *h, const struct qbk_http_req *req, struct xfer *x,
    struct qbk_err *err)
{
	struct qbk_http_resp *resp = x->resp;
	const char *method = req->method != NULL ? req->method : "GET";
	struct attempt a = { NULL, NULL, QBK_BUF_INIT };
	struct qbk_buf reason = QBK_BUF_INIT;
	unsigned attempt = 0;
	int64_t delay, ra;
	char *disp = NULL;
	long status;
	CURLcode rc;
	int oc, retry, http_err = 0;

	x->h = h;
	x->resp = resp;
	x->err = err;
	x->total = -1;
	x->head = strcmp(method, "HEAD") == 0;
	for (;;) {
		attempt_start(x);
		qbk_buf_reset(&resp->body);
		if (setup(h, req, x, &a, err) != 0)
			goto fail;
		if (disp == NULL)
			disp = qbk_http_redact_url(a.url.buf);
		if (x->resuming)
			qbk_detail("resuming download of '%s' at byte %llu",
			    disp, (unsigned long long)x->delivered);
		else
			qbk_debug("%s %s", method, disp);
		rc = curl_easy_perform(h->curl);
		resp->attempts++;
		status = x->status;

		oc = attempt_outcome(h, req, x, rc, disp, &reason, &ra, &retry,
		    err);
		if (oc < 0)
			goto fail;
		if (oc == 0)
			break;
		if (retry && (req->flags & QBK_HTTP_F_ONCE) &&
		    answer_lost(rc, x->stalled, status)) {
			retry = 0;
			resp->lost = 1;
		}
		/* A long stretch of progress earns a fresh retry budget. */
		if (x->attempt_delivered >= PROGRESS_RESET)
			attempt = 0;
		if (req->flags & QBK_HTTP_F_NORETRY || attempt >= h->retries)
			retry = 0;
		if (retry && x->mode == MODE_UPLOAD && x->up_read > 0) {
			if (x->up->rewind == NULL)
				retry = 0;
			else if (x->up->rewind(x->up->cookie, err) != 0)
				goto fail;
		}
		if (!retry) {
			if (rc != CURLE_OK) {
				net_error(h, rc, method, a.url.buf,
				    resp->attempts, err);
				goto fail;
			}
			fill_resp(x);
			http_err = 1;
			qbk_buf_reset(&reason);
			error_text(h, &resp->body, &reason, TEXT_MAX);
			qbk_http_resp_err(resp, reason.buf, err);
			qbk_err_prefix(err, "%s '%s' failed", method, disp);
			goto fail;
		}
		if (x->mode == MODE_DOWNLOAD && x->delivered > 0) {
			x->resuming = 1;
			resp->resumes++;
		}
		delay = ra >= 0 ? ra : qbk_http_backoff_ms(attempt,
		    h->retry_base_ms, h->retry_max_ms, rnd32(h));
		qbk_warn("%s '%s': %s; retrying in %.1f s (attempt %u of %u)",
		    method, disp, reason.buf, (double)delay / 1000.0,
		    resp->attempts + 1, resp->attempts + h->retries - attempt);
		attempt_release(h, &a);
		if (qbk_http_nap(h, delay) != 0) {
			qbk_err_set(err, QBK_E_INTERRUPTED,
			    "interrupted during %s '%s'", method, disp);
			goto fail;
		}
		attempt++;
	}
	attempt_release(h, &a);
	qbk_buf_release(&reason);
	free(disp);
	return 0;

fail:
	fill_resp(x);
	if (!http_err && err != NULL)
		err->http_status = 0;
	attempt_release(h, &a);
	qbk_buf_release(&reason);
	free(disp);
	return -1;
}

int
qbk_http_request(struct qbk_http *h, const struct qbk_http_req *req,
    struct qbk_http_resp *resp, struct qbk_err *err)
{
	struct xfer x;

	memset(&x, 0, sizeof(x));
	x.mode = MODE_BUFFER;
	x.resp = resp;
	return perform(h, req, &x, err);
}

int
qbk_http_download(struct qbk_http *h, const struct qbk_http_req *req,
    qbk_http_write_fn *write, void *cookie, struct qbk_http_resp *resp,
    struct qbk_err *err)
{
	struct xfer x;

	memset(&x, 0, sizeof(x));
	x.mode = MODE_DOWNLOAD;
	x.resp = resp;
	x.write = write;
	x.cookie = cookie;
	return perform(h, req, &x, err);
}

int
qbk_http_upload(struct qbk_http *h, const struct qbk_http_req *req,
    const struct qbk_http_upload *up, struct qbk_http_resp *resp,
    struct qbk_err *err)
{
	struct xfer x;

	memset(&x, 0, sizeof(x));
	x.mode = MODE_UPLOAD;
	x.resp = resp;
	x.up = up;
	return perform(h, req, &x, err);
}
