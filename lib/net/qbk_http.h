#ifndef QBK_HTTP_H
#define QBK_HTTP_H

/*
 * qbk_http: the libcurl adapter, and the only file of libqbk that includes
 * <curl/curl.h>.  One struct qbk_http holds one curl easy handle, so that
 * consecutive requests to the same server reuse the connection (keep-alive);
 * it is therefore NOT thread-safe: use one object per thread.
 *
 * Every request is retried with exponential backoff and full jitter on
 * connection errors (refused, reset, timeout, DNS), on HTTP 429 (honouring
 * Retry-After) and on HTTP 408 and 5xx other than 501/505/507; never on any
 * other status.  A cancel flag (set by a signal handler) stops a transfer
 * within about a tenth of a second and also ends the wait between retries;
 * the request then fails with QBK_E_INTERRUPTED.
 *
 * Downloads are streamed to a callback and never buffered whole.  When a
 * connection breaks in the middle of a body that the server offered with
 * Accept-Ranges and a Content-Length, the download resumes with
 * "Range: bytes=N-" so that the callback sees one continuous stream; a
 * stream without ranges (e.g. a chunked shard snapshot) fails instead.
 *
 * Bounds, whatever the server sends (see qbk(7)): a buffered answer (any
 * answer of qbk_http_request() and qbk_http_upload(), and the error body of
 * a download) larger than max_answer fails at once, checked against its
 * Content-Length before any body byte is read and against the bytes as they
 * arrive, so that memory never exceeds the cap plus one curl buffer; it is
 * not retried.  Once an answer's headers have arrived, its body (buffered or
 * streamed) must arrive at low_speed_limit bytes/s or faster, averaged over
 * each window of low_speed_time seconds; an upload must be sent as fast.
 * A download's headers must arrive within timeout_ms.  A transfer that
 * breaks these limits is abandoned as stalled and retried (or resumed).
 *
 * No Accept-Encoding is sent: downloads must stay byte-exact.  The API key
 * travels in the "api-key" header and never appears in a log line or an
 * error message (debug logs redact it).
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/qbk_buf.h"

/* The largest answer qbk buffers: no real Qdrant answer comes near it (a
 * list of 10,000 collections is under 1 MiB; one point is at most 32 MiB
 * with Qdrant's default service.max_request_size_mb). */
#define QBK_HTTP_MAX_ANSWER	((size_t)64 << 20)
/* A body slower than this many bytes/s over a whole window is stalled. */
#define QBK_HTTP_LOW_SPEED_LIMIT	1024L
/* ... the window, in seconds. */
#define QBK_HTTP_LOW_SPEED_TIME	60L

struct qbk_err;
struct qbk_http;

struct qbk_http_opts {
	const char *base_url;	/* "http://host:6333"; request paths append */
	const char *api_key;	/* sent as "api-key: ..."; NULL: none */
	const char *ca_file;	/* PEM bundle for TLS; NULL: system default */
	int insecure;		/* 1: do not verify TLS peers (warned) */
	long connect_timeout_ms;	/* default 10 s */
	long timeout_ms;	/* whole buffered request, and the wait for
				 * the headers of a download; default 300 s */
	long long_timeout_ms;	/* with QBK_HTTP_F_LONG; default 6 h */
	long low_speed_limit;	/* an answer's body, once its headers came,
				 * and an upload body are stalled below this
				 * many bytes/s (default 1024) ... */
	long low_speed_time;	/* ... over a window of this many seconds
				 * (default 60); 0: no check.  Not while the
				 * server works after the last byte of an
				 * upload or before its headers */
	size_t max_answer;	/* largest buffered answer; default
				 * QBK_HTTP_MAX_ANSWER */
	unsigned retries;	/* retries after the first attempt; default 5 */
	int64_t retry_base_ms;	/* first backoff ceiling; default 500 */
	int64_t retry_max_ms;	/* backoff ceiling cap; default 30000 */
	int64_t retry_after_max_ms;	/* cap on Retry-After; default 60000 */
	volatile sig_atomic_t *cancel;	/* non-zero: stop; NULL: never */
};

/** qbk_http_opts_init(o): fill ${o} with the defaults above (no URL, no key,
 * TLS verification on, no cancel flag). */
void qbk_http_opts_init(struct qbk_http_opts *);

/* Request flags. */
#define QBK_HTTP_F_NORETRY	0x1	/* never retry this request */
#define QBK_HTTP_F_ANYSTATUS	0x2	/* any final status is a success */
#define QBK_HTTP_F_LONG		0x4	/* long_timeout_ms: a slow server op */
#define QBK_HTTP_F_NORETRY_500	0x8	/* do not retry HTTP 500: the server
					 * failed for good (Qdrant "Service
					 * internal error"), and repeating an
					 * expensive operation will not help */
#define QBK_HTTP_F_ONCE		0x40	/* not to be repeated blindly (a
					 * snapshot creation or recovery,
					 * which Qdrant finishes after the
					 * client is gone): retried only when
					 * it surely did not reach the server
					 * (no connection, 429, 503); a lost
					 * answer (broken connection, 408,
					 * 502, 504) sets resp->lost */

struct qbk_http_req {
	const char *method;	/* "GET", "POST", "PUT", "DELETE", "HEAD" */
	const char *path;	/* "/collections/c1?wait=true", appended to the
				 * base URL (already escaped; see
				 * qbk_http_escape), or a full URL with "://" */
	const char *const *headers;	/* NULL-terminated "Name: value" list */
	const void *body;	/* buffered body, or NULL */
	size_t body_len;
	const char *content_type;	/* of body; default application/json */
	long timeout_ms;	/* 0: the handle's default; -1: none */
	unsigned flags;		/* QBK_HTTP_F_* */
};
#define QBK_HTTP_REQ_INIT { "GET", "/", NULL, NULL, 0, NULL, 0, 0 }

struct qbk_http_resp {
	long status;		/* final HTTP status, 0 if none was received */
	struct qbk_buf body;	/* buffered body; for a download that failed
				 * with an HTTP error, its first 4 KiB */
	int64_t content_length;	/* of the whole entity; -1 if unknown */
	uint64_t bytes;		/* download: bytes given to the callback */
	unsigned attempts;	/* attempts made, 1 without retries */
	unsigned resumes;	/* download: ranged resumes */
	int too_large;		/* the answer was refused: over max_answer */
	int lost;		/* QBK_HTTP_F_ONCE: the request may have been
				 * carried out, its answer was lost */
	char content_type[128];
	char content_disposition[256];
	char etag[128];
	char last_modified[64];
	char location[512];	/* of a redirect: never followed */
};

/** qbk_http_resp_init(r): make ${r} empty (content_length -1). */
void qbk_http_resp_init(struct qbk_http_resp *);

/** qbk_http_resp_release(r): free ${r}'s body and make it empty again. */
void qbk_http_resp_release(struct qbk_http_resp *);

/** qbk_http_write_fn(cookie, data, len, err): receive ${len} > 0 bytes of
 * a download body.  Return 0, or -1 after filling ${err}: the download stops
 * and fails with that error (never retried). */
typedef int qbk_http_write_fn(void *, const void *, size_t, struct qbk_err *);

/** qbk_http_read_fn(cookie, buf, len, err): put up to ${len} bytes of an
 * upload body into ${buf}; return their number, 0 at the end, or -1 after
 * filling ${err} (the upload stops and fails with that error). */
typedef ssize_t qbk_http_read_fn(void *, void *, size_t, struct qbk_err *);

/** qbk_http_rewind_fn(cookie, err): start the upload body again from its
 * first byte, so that a failed upload can be retried; 0 or -1 with ${err}. */
typedef int qbk_http_rewind_fn(void *, struct qbk_err *);

struct qbk_http_upload {
	const char *field;	/* multipart field name ("snapshot"); NULL:
				 * send the data as the raw request body */
	const char *filename;	/* file name of the part; NULL: none */
	const char *content_type;	/* default application/octet-stream */
	int64_t size;		/* body size, or -1 (chunked encoding) */
	qbk_http_read_fn *read;
	qbk_http_rewind_fn *rewind;	/* NULL: no retry once data went out */
	void *cookie;
};

/** qbk_http_new(out, opts, err): create a handle for ${opts->base_url};
 * the options are copied (the API key too).  Logs a warning if TLS
 * verification is off.  On failure ${*out} is NULL.  Caller frees with
 * qbk_http_free(). */
int qbk_http_new(struct qbk_http **, const struct qbk_http_opts *,
    struct qbk_err *);

/** qbk_http_free(h): close the connection and free ${h} (the API key is
 * wiped).  NULL is a no-op. */
void qbk_http_free(struct qbk_http *);

/** qbk_http_nap(h, ms): sleep ${ms} milliseconds, waking early when ${h}'s
 * cancel flag is set; -1 if it was (then or before), else 0. */
int qbk_http_nap(struct qbk_http *, int64_t);

/** qbk_http_base_url(h): the base URL without credentials, for messages. */
const char *qbk_http_base_url(const struct qbk_http *);

/** qbk_http_redact_url(url): ${url} without "user:password@" and without
 * the query and fragment (which may carry tokens), for messages.  Caller
 * frees with free(). */
char *qbk_http_redact_url(const char *);

/** qbk_http_request(h, req, resp, err): perform ${req} with its body (if
 * any), retrying as described above, and buffer the response body in
 * ${resp} (which the caller initialised with qbk_http_resp_init() and
 * releases).  Returns 0 on a 2xx status (any status with
 * QBK_HTTP_F_ANYSTATUS).  Otherwise -1 with ${err} set: transport errors
 * are QBK_E_NET naming the URL without credentials, QBK_E_INTERRUPTED when
 * the cancel flag was set; an answer over max_answer is QBK_E_HTTP "answer
 * of GET '<url>' is larger than 64 MiB" (${resp->too_large} set, not
 * retried); HTTP errors as qbk_http_resp_err() with the body as text, and
 * ${resp} then holds the final status and body. */
int qbk_http_request(struct qbk_http *, const struct qbk_http_req *,
    struct qbk_http_resp *, struct qbk_err *);

/** qbk_http_download(h, req, write, cookie, resp, err): like
 * qbk_http_request() but give a 2xx body to ${write} as it arrives, resuming
 * a broken connection with a Range request when the server allows it (the
 * new part must come as 206 with a matching Content-Range and ETag).  An
 * error body is not given to ${write}: its first 4 KiB land in
 * ${resp->body}.  ${resp->bytes} counts the bytes given to ${write};
 * ${resp->content_length} is the size the server announced (or -1).  If
 * the connection breaks after bytes were delivered and resuming is not
 * possible, fails with QBK_E_NET (the caller may restart from zero).
 * There is no overall timeout (unless ${req->timeout_ms} > 0): the headers
 * must come within timeout_ms, and a body slower than low_speed_limit over
 * a window of low_speed_time seconds is abandoned and retried or resumed.
 * The body's size is not limited here: a caller that knows it checks. */
int qbk_http_download(struct qbk_http *, const struct qbk_http_req *,
    qbk_http_write_fn *, void *, struct qbk_http_resp *, struct qbk_err *);

/** qbk_http_upload(h, req, up, resp, err): like qbk_http_request() but the
 * body comes from ${up->read}: a multipart/form-data body with one file
 * part named ${up->field}, or the raw body if that is NULL (${req->body}
 * is ignored).  A failed attempt is retried only if no byte was read yet or
 * ${up->rewind} is set and succeeds.  The response body is buffered.
 * The overall timeout is the long one (the server may work for a long time
 * after the last byte, e.g. Qdrant recovering a snapshot with wait=true). */
int qbk_http_upload(struct qbk_http *, const struct qbk_http_req *,
    const struct qbk_http_upload *, struct qbk_http_resp *,
    struct qbk_err *);

/** qbk_http_text_fn(body, len, out): append the message of an error body
 * to ${out} as one line (e.g. Qdrant's {"status":{"error":...}}); the
 * return value is ignored here. */
typedef int qbk_http_text_fn(const char *, size_t, struct qbk_buf *);

/** qbk_http_set_error_text(h, fn): use ${fn} to turn error bodies into text
 * for messages and retry warnings (default: the body as one line). */
void qbk_http_set_error_text(struct qbk_http *, qbk_http_text_fn *);

/** qbk_http_resp_err(resp, text, err): set ${err} for the HTTP error in
 * ${resp}: "HTTP 404: <text>" (or "HTTP 503 (service unavailable)" if
 * ${text} is NULL or empty), with " (after N attempts)" when retried; a
 * redirect says where it leads instead: "HTTP 301 (moved permanently),
 * redirecting to '<Location without credentials and query>'".
 * ${text} is made one line (control characters become spaces) and capped.
 * Code: 401/403 QBK_E_AUTH, 404 QBK_E_NOTFOUND, else QBK_E_HTTP;
 * ${err->http_status} is set.  Returns -1. */
int qbk_http_resp_err(const struct qbk_http_resp *, const char *,
    struct qbk_err *);

/** qbk_http_status_text(status): "not found", "service unavailable", ...
 * or "" for an unknown status. */
const char *qbk_http_status_text(long);

/** qbk_http_oneline(out, text, len, max): append ${text} (${len} bytes) to
 * ${out} as one line: whitespace runs and control characters become one
 * space, leading/trailing space is dropped, and at most ${max} bytes are
 * kept (then "..." is added). */
void qbk_http_oneline(struct qbk_buf *, const char *, size_t, size_t);

/** qbk_http_escape(out, s, query): append ${s} percent-encoded to ${out}:
 * as a path segment (query 0: keeps unreserved characters and
 * "!$'()*+,;=:@&") or as a query value (query 1: keeps only unreserved
 * characters "A-Za-z0-9-._~"). */
void qbk_http_escape(struct qbk_buf *, const char *, int);

/* Retry policy, as pure functions for tests. */
enum qbk_http_class {
	QBK_HTTP_OK = 0,	/* transfer completed: look at the status */
	QBK_HTTP_CONNECT,	/* nothing was sent: refused, DNS, connect
				 * timeout */
	QBK_HTTP_TRANSIENT,	/* broken or stalled transfer: reset, timeout,
				 * partial body, empty reply */
	QBK_HTTP_FATAL,		/* bad URL, TLS certificate, protocol, a
				 * callback refused: retrying will not help */
	QBK_HTTP_CANCEL		/* stopped by the cancel flag or a callback */
};

/** qbk_http_class_of(curlcode): the class of the CURLcode ${curlcode}. */
enum qbk_http_class qbk_http_class_of(int);

/** qbk_http_should_retry(class, status): 1 if a request that ended in
 * ${class} (and, for QBK_HTTP_OK, HTTP ${status}) is worth retrying:
 * connection errors and transient transfer errors, 408, 429, and 5xx
 * except 501, 505 and 507.  0 otherwise. */
int qbk_http_should_retry(enum qbk_http_class, long);

/** qbk_http_backoff_ms(attempt, base_ms, max_ms, random): the delay before
 * retry number ${attempt} (0 for the first retry) with full jitter: uniform
 * in [0, min(max_ms, base_ms * 2^attempt)] as ${random} goes over
 * [0, UINT32_MAX]. */
int64_t qbk_http_backoff_ms(unsigned, int64_t, int64_t, uint32_t);

/** qbk_http_retry_after_ms(value, max_ms, now): the delay a Retry-After
 * header asks for: delta seconds or an HTTP date (relative to ${now}, Unix
 * seconds), capped at ${max_ms}; -1 if ${value} is NULL or unparsable. */
int64_t qbk_http_retry_after_ms(const char *, int64_t, int64_t);

#endif /* !QBK_HTTP_H */
