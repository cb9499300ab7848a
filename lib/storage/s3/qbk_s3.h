#ifndef QBK_S3_H
#define QBK_S3_H

/*
 * qbk_s3: a small S3 client on libcurl, for the S3 store (qbk_store_s3.c).
 *
 * Requests are signed with AWS Signature Version 4 (qbk_s3_sign; not
 * libcurl's CURLOPT_AWS_SIGV4, see qbk_s3.c): every header that qbk sets is
 * signed and sent as signed (host, x-amz-date, x-amz-content-sha256 with
 * the payload's SHA-256, x-amz-security-token with a session token, and on
 * a PUT content-md5, content-type and the object-lock headers).  The
 * server refuses a PUT body that does not match its Content-MD5; and when
 * the answer's ETag is an MD5 (32 hex digits, neither SSE-KMS nor SSE-C),
 * it must equal the MD5 of what was sent, or the PUT is sent again.
 *
 * Addressing: path style "<endpoint>/<bucket>/<key>" or virtual-host style
 * "<scheme>://<bucket>.<host>/<key>".  Without an endpoint, AWS's
 * "https://s3.<region>.amazonaws.com" is used.
 *
 * Every request is retried with exponential backoff and full jitter on
 * connection errors and timeouts, on HTTP 429, 408 and 5xx other than 501
 * (S3's SlowDown is a 503); never on other statuses, nor on TLS
 * certificate failures (a clear error at once).  A Retry-After header
 * (seconds or a date) lengthens the wait up to retry_max_ms.  A PUT is
 * retried whole; a GET that fails part way through its body is retried
 * whole if its sink can start over (QBK_S3_F_RESTART), else it fails.
 *
 * Asynchronous PUTs and DELETEs (qbk_s3_submit) run on one I/O thread that
 * keeps up to ${transfers} requests in flight with libcurl's multi
 * interface; qbk_s3_wait() waits for all of them and reports the first
 * failure.  Synchronous requests (qbk_s3_request) may be made from any
 * thread at the same time.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct qbk_buf;
struct qbk_err;
struct qbk_s3;

struct qbk_s3_opts {
	const char *endpoint;	/* "http://127.0.0.1:9000"; NULL: AWS */
	const char *region;	/* NULL: "us-east-1" */
	const char *bucket;
	const char *prefix;	/* key prefix without '/' at either end; ""
				 * or NULL for none */
	int host_style;		/* 1: virtual-host addressing */
	const char *access_key;	/* NULL: anonymous (unsigned) requests */
	const char *secret_key;
	const char *session_token;	/* NULL: none */
	const char *ca_file;	/* PEM bundle; NULL: system default */
	int insecure;		/* 1: do not verify TLS peers */
	unsigned transfers;	/* asynchronous requests in flight; 0: 8 */
	unsigned retries;	/* retries after the first attempt; default 5 */
	int64_t retry_base_ms;	/* first backoff ceiling; 0: 200 */
	int64_t retry_max_ms;	/* backoff ceiling cap; 0: 20000 */
	long connect_timeout_ms;	/* 0: 10 s */
	long low_speed_time_s;	/* give up (and retry) an attempt that
				 * moves no byte for this long; 0: 60 */
	unsigned lock_days;	/* > 0: object lock on PUTs (retain-until
				 * now + lock_days) */
	const char *lock_mode;	/* "COMPLIANCE" or "GOVERNANCE"; NULL:
				 * GOVERNANCE */
	volatile sig_atomic_t *cancel;	/* non-zero: stop; NULL: never */
};

/* Request flags. */
#define QBK_S3_F_LOCK	0x1	/* PUT: send the object-lock headers */
#define QBK_S3_F_RESTART 0x2	/* GET: the sink can start over (below) */

/** qbk_s3_new(opts, out, err): a client; the strings are copied.  Starts
 * the I/O thread.  0 or -1 (QBK_E_CONFIG for a bad endpoint). */
int qbk_s3_new(const struct qbk_s3_opts *, struct qbk_s3 **,
    struct qbk_err *);

/** qbk_s3_free(s3): stop the I/O thread (abandoning queued requests) and
 * free ${s3}; NULL is a no-op. */
void qbk_s3_free(struct qbk_s3 *);

/** qbk_s3_sink_fn(cookie, data, len, err): receives a GET body piece by
 * piece; 0 to go on, -1 with ${err} set to stop (not retried).  With
 * QBK_S3_F_RESTART, a retry after part of a body was delivered first calls
 * it with ${data} NULL and ${len} 0: it must then forget what it got (an
 * in-memory body is emptied). */
typedef int qbk_s3_sink_fn(void *, const void *, size_t, struct qbk_err *);

/* A response. */
struct qbk_s3_resp {
	long status;		/* final HTTP status */
	uint64_t length;	/* Content-Length (HEAD), or 0 */
	int64_t mtime;		/* Last-Modified, epoch seconds, or 0 */
	char etag[80];		/* ETag without quotes, or "" */
	int64_t range_first;	/* Content-Range "bytes F-L/T": F, L and T, */
	int64_t range_last;	/* each -1 when not answered (T also when */
	int64_t range_total;	/* it is '*') */
};

/** qbk_s3_request(s3, method, key, query, body, len, flags, sink, cookie,
 * resp, err): one request on object ${key} (relative to the prefix; NULL
 * or "" for the bucket itself) with the query string ${query} (already
 * encoded; may be NULL), retried as described above.  GET bodies go to
 * ${sink} (NULL: dropped); once ${sink} has seen bytes, a failure is
 * retried only with QBK_S3_F_RESTART (else QBK_E_NET).  Returns 0 when the status is 2xx,
 * else -1: 404 QBK_E_NOTFOUND, 401/403 QBK_E_AUTH, other QBK_E_HTTP (with
 * S3's error code and message), connection QBK_E_NET; ${resp} (may be
 * NULL) gets the status in every case. */
int qbk_s3_request(struct qbk_s3 *, const char *, const char *, const char *,
    const void *, size_t, unsigned, qbk_s3_sink_fn *, void *,
    struct qbk_s3_resp *, struct qbk_err *);

/** qbk_s3_get_range(s3, key, offset, len, sink, cookie, resp, err): GET
 * the ${len} (> 0) bytes of ${key} from byte ${offset} with a Range header,
 * retried as qbk_s3_request() with QBK_S3_F_RESTART.  The answer must be a
 * 206 whose Content-Range is exactly that range, or a 200 with the whole
 * object when it is that range (offset 0, ${len} bytes).  Returns 0, 1 when
 * the object ends before the range (416, or a shorter range or object;
 * ${resp}->range_total is then its size, or -1 if not told), or -1 (an
 * unexpected answer is QBK_E_HTTP). */
int qbk_s3_get_range(struct qbk_s3 *, const char *, uint64_t, size_t,
    qbk_s3_sink_fn *, void *, struct qbk_s3_resp *, struct qbk_err *);

/** qbk_s3_submit(s3, method, key, body, len, flags, err): queue a PUT
 * (the body is copied) or DELETE of ${key} for the I/O thread; blocks while
 * 2 x transfers requests are queued.  Fails at once if an earlier submitted
 * request failed (its error).  0 or -1. */
int qbk_s3_submit(struct qbk_s3 *, const char *, const char *, const void *,
    size_t, unsigned, struct qbk_err *);

/** qbk_s3_wait(s3, err): wait until every submitted request has finished;
 * -1 with the first failure (which stays: later waits and submits fail
 * too), else 0. */
int qbk_s3_wait(struct qbk_s3 *, struct qbk_err *);

/* One request of a batch. */
struct qbk_s3_op {
	const char *method;	/* "HEAD", "GET" (body dropped), "PUT",
				 * "DELETE" */
	const char *key;	/* relative to the prefix */
	const char *query;	/* "retention", or NULL */
	const void *body;	/* PUT: borrowed until the batch returns */
	size_t len;
	unsigned flags;
	struct qbk_s3_resp resp;	/* out: the final answer */
	int code;		/* out: enum qbk_errcode, QBK_E_OK (0) for a
				 * 2xx, QBK_E_NOTFOUND for a 404 */
};

/** qbk_s3_batch(s3, ops, n, err): run the ${n} requests ${ops} on the
 * calling thread, up to "transfers" of them at once, each retried as
 * qbk_s3_request() does; each op's resp and code tell its outcome.  0 when
 * every request ended with a 2xx or a 404; else -1 with the first other
 * failure in ${err} (the requests still running are abandoned). */
int qbk_s3_batch(struct qbk_s3 *, struct qbk_s3_op *, size_t,
    struct qbk_err *);

/** qbk_s3_list(s3, prefix, fn, cookie, err): list every object whose key
 * (relative to the client's prefix) starts with ${prefix}, following
 * ListObjectsV2 continuation tokens; ${fn}(cookie, key, size, mtime, err)
 * as in qbk_store_list.  0, the callback's positive stop value, or -1. */
int qbk_s3_list(struct qbk_s3 *, const char *,
    int (*)(void *, const char *, uint64_t, int64_t, struct qbk_err *),
    void *, struct qbk_err *);

/** qbk_s3_bucket_exists(s3, err): 1 if the bucket can be listed, 0 if it
 * does not exist (404), -1 on another failure. */
int qbk_s3_bucket_exists(struct qbk_s3 *, struct qbk_err *);

/*
 * Pieces exposed for the unit tests.
 */

/** qbk_s3_url(endpoint, region, bucket, host_style, prefix, key, query,
 * out, err): the request URL of ${key} (escaped per component; NULL key:
 * the bucket) into ${out}.  0 or -1 (QBK_E_CONFIG: a bad endpoint, or a
 * bucket that cannot be a host name in host style). */
int qbk_s3_url(const char *, const char *, const char *, int, const char *,
    const char *, const char *, struct qbk_buf *, struct qbk_err *);

/** qbk_s3_escape(s, keep_slash, out): append ${s} URI-encoded as SigV4
 * wants (unreserved characters kept, '/' kept if ${keep_slash}). */
void qbk_s3_escape(const char *, int, struct qbk_buf *);

/* One entry of a ListObjectsV2 page. */
struct qbk_s3_entry {
	char *key;		/* unescaped, as stored */
	uint64_t size;
	int64_t mtime;		/* LastModified, epoch seconds; 0 unknown */
};

/* A parsed ListObjectsV2 page. */
struct qbk_s3_page {
	struct qbk_s3_entry *entries;
	size_t n;
	int truncated;		/* IsTruncated */
	char *next_token;	/* NextContinuationToken, or NULL */
};

/** qbk_s3_parse_list(xml, len, page, err): parse a ListObjectsV2 response
 * body into ${page} (release with qbk_s3_page_release).  Malformed input
 * fails with QBK_E_HTTP (never reads past ${len}).  0 or -1. */
int qbk_s3_parse_list(const char *, size_t, struct qbk_s3_page *,
    struct qbk_err *);

/** qbk_s3_page_release(page): free a page's contents. */
void qbk_s3_page_release(struct qbk_s3_page *);

/** qbk_s3_parse_error(xml, len, code, msg): the <Code> and <Message> of an
 * S3 error body into ${code} and ${msg} (appended; nothing if absent). */
void qbk_s3_parse_error(const char *, size_t, struct qbk_buf *,
    struct qbk_buf *);

/** qbk_s3_retryable(neterr, status): 1 if a request that ended with a
 * connection error (${neterr} non-zero) or HTTP ${status} is worth
 * retrying, else 0. */
int qbk_s3_retryable(int, long);

/** qbk_s3_backoff_ms(attempt, base, max, rnd): the full-jitter backoff
 * before retry ${attempt} (1, 2, ...): ${rnd} (0..UINT32_MAX) scaled into
 * [0, min(max, base * 2^(attempt-1))]. */
int64_t qbk_s3_backoff_ms(unsigned, int64_t, int64_t, uint32_t);

/* A header to sign: lower-case name, value without surrounding blanks. */
struct qbk_s3_hdr {
	const char *name;
	const char *value;
};

/** qbk_s3_sign(method, path, query, hdrs, n, access_key, secret_key,
 * region, amzdate, out): append to ${out} the value of the Authorization
 * header that signs, with AWS Signature Version 4 for service "s3", the
 * request ${method} ${path}?${query} (both as sent: URI-encoded as
 * qbk_s3_escape does; ${query} may be NULL) with exactly the headers
 * ${hdrs} (sorted in place by name; one of them must be
 * x-amz-content-sha256, whose value is the payload hash) at ${amzdate}
 * ("20260101T000000Z").  0, or -1 for a malformed date, a repeated
 * header name or no x-amz-content-sha256. */
int qbk_s3_sign(const char *, const char *, const char *,
    struct qbk_s3_hdr *, size_t, const char *, const char *, const char *,
    const char *, struct qbk_buf *);

/** qbk_s3_parse_time(s, out): an ISO 8601 time "2026-11-22T01:02:03.000Z"
 * into epoch seconds.  0 or -1. */
int qbk_s3_parse_time(const char *, int64_t *);

#endif /* !QBK_S3_H */
