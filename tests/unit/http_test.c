#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_log.h"
#include "net/qbk_http.h"
#include "testutil.h"

/* One simulator for the whole file, and one snapshot to download. */
static struct tu_sim sim;
static char snap_path[512];	/* "/collections/big/snapshots/<name>" */
static struct qbk_buf snap_data = QBK_BUF_INIT;
static char snap_sha[65];

static volatile sig_atomic_t cancel_flag;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	int i;

	assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static struct qbk_http *
new_http(const char *url, unsigned retries, int64_t base_ms)
{
	struct qbk_http_opts o;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_http *h;

	qbk_http_opts_init(&o);
	o.base_url = url;
	o.retries = retries;
	o.retry_base_ms = base_ms;
	o.retry_max_ms = 1000;
	o.cancel = &cancel_flag;
	if (qbk_http_new(&h, &o, &err) != 0)
		fail_msg("qbk_http_new: %s", err.msg);
	return h;
}

/* A JSON call that must succeed; the body of the answer into ${out}. */
static void
must(struct qbk_http *h, const char *method, const char *path,
    const char *json, struct qbk_buf *out)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;

	qbk_http_resp_init(&resp);
	req.method = method;
	req.path = path;
	req.body = json;
	req.body_len = json != NULL ? strlen(json) : 0;
	if (qbk_http_request(h, &req, &resp, &err) != 0)
		fail_msg("%s %s: %s", method, path, err.msg);
	if (out != NULL) {
		qbk_buf_reset(out);
		qbk_buf_add(out, resp.body.buf, resp.body.len);
	}
	qbk_http_resp_release(&resp);
}

static void
fault(const char *json)
{
	struct qbk_http *h = new_http(sim.url[0], 0, 1);

	must(h, "POST", "/__sim/faults", json, NULL);
	qbk_http_free(h);
}

static void
faults_clear(void)
{
	struct qbk_http *h = new_http(sim.url[0], 0, 1);

	must(h, "DELETE", "/__sim/faults", NULL, NULL);
	qbk_http_free(h);
}

static int
collect(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	(void)err;
	qbk_buf_add(cookie, data, len);
	return 0;
}

static int
group_setup(void **state)
{
	struct qbk_buf body = QBK_BUF_INIT;
	struct qbk_http *h;
	const char *p, *e;

	(void)state;
	if (tu_sim_start(&sim, 1, (char *)NULL) != 0)
		return -1;
	h = new_http(sim.url[0], 0, 1);
	must(h, "POST", "/__sim/generate", "{\"collection\":\"big\","
	    "\"points\":3000,\"dim\":64}", NULL);
	must(h, "POST", "/collections/big/snapshots?wait=true", NULL, &body);
	p = strstr(body.buf, "\"name\":");
	if (p == NULL)
		return -1;
	p = strchr(p + 7, '"') + 1;
	e = strchr(p, '"');
	snprintf(snap_path, sizeof(snap_path),
	    "/collections/big/snapshots/%.*s", (int)(e - p), p);
	qbk_http_free(h);
	qbk_buf_release(&body);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	tu_sim_stop(&sim);
	qbk_buf_release(&snap_data);
	return 0;
}

static int
test_setup(void **state)
{
	(void)state;
	cancel_flag = 0;
	tu_log_capture();
	return 0;
}

/* ---- the retry policy, without a network ------------------------------ */

static void
backoff_grows_capped_and_jittered(void **state)
{
	int64_t cap, d, sum;
	uint32_t r = 12345;
	unsigned a, i;

	(void)state;
	/* The ceiling doubles from the base up to the cap. */
	assert_int_equal(qbk_http_backoff_ms(0, 500, 30000, UINT32_MAX), 500);
	assert_int_equal(qbk_http_backoff_ms(1, 500, 30000, UINT32_MAX), 1000);
	assert_int_equal(qbk_http_backoff_ms(2, 500, 30000, UINT32_MAX), 2000);
	assert_int_equal(qbk_http_backoff_ms(5, 500, 30000, UINT32_MAX),
	    16000);
	assert_int_equal(qbk_http_backoff_ms(6, 500, 30000, UINT32_MAX),
	    30000);
	assert_int_equal(qbk_http_backoff_ms(1000, 500, 30000, UINT32_MAX),
	    30000);
	/* Full jitter: the floor is 0, the middle is half the ceiling. */
	assert_int_equal(qbk_http_backoff_ms(3, 500, 30000, 0), 0);
	d = qbk_http_backoff_ms(3, 500, 30000, UINT32_MAX / 2);
	assert_true(d >= 1999 && d <= 2001);
	assert_int_equal(qbk_http_backoff_ms(3, 0, 30000, UINT32_MAX), 0);
	/* Uniform over [0, ceiling]: every value in range, mean near half. */
	for (a = 0; a < 8; a++) {
		cap = 500LL << a;
		if (cap > 30000)
			cap = 30000;
		sum = 0;
		for (i = 0; i < 2000; i++) {
			r = r * 1664525u + 1013904223u;
			d = qbk_http_backoff_ms(a, 500, 30000, r);
			assert_true(d >= 0 && d <= cap);
			sum += d;
		}
		assert_true(sum / 2000 > cap * 2 / 5);
		assert_true(sum / 2000 < cap * 3 / 5);
	}
}

static void
retry_decisions(void **state)
{
	static const long yes[] = { 408, 429, 500, 502, 503, 504 };
	static const long no[] = { 200, 400, 401, 403, 404, 409, 416, 422,
		501, 505, 507 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_int_equal(qbk_http_should_retry(QBK_HTTP_OK, yes[i]), 1);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(qbk_http_should_retry(QBK_HTTP_OK, no[i]), 0);
	assert_int_equal(qbk_http_should_retry(QBK_HTTP_CONNECT, 0), 1);
	assert_int_equal(qbk_http_should_retry(QBK_HTTP_TRANSIENT, 0), 1);
	assert_int_equal(qbk_http_should_retry(QBK_HTTP_FATAL, 0), 0);
	assert_int_equal(qbk_http_should_retry(QBK_HTTP_CANCEL, 0), 0);

	assert_int_equal(qbk_http_class_of(CURLE_OK), QBK_HTTP_OK);
	assert_int_equal(qbk_http_class_of(CURLE_COULDNT_CONNECT),
	    QBK_HTTP_CONNECT);
	assert_int_equal(qbk_http_class_of(CURLE_COULDNT_RESOLVE_HOST),
	    QBK_HTTP_CONNECT);
	assert_int_equal(qbk_http_class_of(CURLE_RECV_ERROR),
	    QBK_HTTP_TRANSIENT);
	assert_int_equal(qbk_http_class_of(CURLE_SEND_ERROR),
	    QBK_HTTP_TRANSIENT);
	assert_int_equal(qbk_http_class_of(CURLE_PARTIAL_FILE),
	    QBK_HTTP_TRANSIENT);
	assert_int_equal(qbk_http_class_of(CURLE_GOT_NOTHING),
	    QBK_HTTP_TRANSIENT);
	assert_int_equal(qbk_http_class_of(CURLE_OPERATION_TIMEDOUT),
	    QBK_HTTP_TRANSIENT);
	assert_int_equal(qbk_http_class_of(CURLE_PEER_FAILED_VERIFICATION),
	    QBK_HTTP_FATAL);
	assert_int_equal(qbk_http_class_of(CURLE_URL_MALFORMAT),
	    QBK_HTTP_FATAL);
	assert_int_equal(qbk_http_class_of(CURLE_WRITE_ERROR), QBK_HTTP_FATAL);
	assert_int_equal(qbk_http_class_of(CURLE_ABORTED_BY_CALLBACK),
	    QBK_HTTP_CANCEL);
}

static void
retry_after_values(void **state)
{
	int64_t now = 1700000000;	/* Tue, 14 Nov 2023 22:13:20 GMT */

	(void)state;
	assert_int_equal(qbk_http_retry_after_ms("3", 60000, now), 3000);
	assert_int_equal(qbk_http_retry_after_ms(" 0 ", 60000, now), 0);
	assert_int_equal(qbk_http_retry_after_ms("120", 60000, now), 60000);
	assert_int_equal(qbk_http_retry_after_ms("99999999999999999999",
	    60000, now), 60000);
	assert_int_equal(qbk_http_retry_after_ms(
	    "Tue, 14 Nov 2023 22:13:25 GMT", 60000, now), 5000);
	assert_int_equal(qbk_http_retry_after_ms(
	    "Tue, 14 Nov 2023 22:00:00 GMT", 60000, now), 0);
	assert_int_equal(qbk_http_retry_after_ms("soon", 60000, now), -1);
	assert_int_equal(qbk_http_retry_after_ms("5s", 60000, now), -1);
	assert_int_equal(qbk_http_retry_after_ms("", 60000, now), -1);
	assert_int_equal(qbk_http_retry_after_ms(NULL, 60000, now), -1);
}

static void
text_helpers(void **state)
{
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;
	char big[1000], *s;

	(void)state;
	qbk_http_escape(&b, "c 1/x%y?#é+&=", 0);
	assert_string_equal(b.buf, "c%201%2Fx%25y%3F%23%C3%A9+&=");
	qbk_buf_reset(&b);
	qbk_http_escape(&b, "a+b&c=d ~", 1);
	assert_string_equal(b.buf, "a%2Bb%26c%3Dd%20~");
	qbk_buf_reset(&b);
	qbk_http_oneline(&b, "  Not found:\n\tCollection `c1`\r\n doesn't "
	    "exist!\n", 47, 300);
	assert_string_equal(b.buf, "Not found: Collection `c1` doesn't exist!");
	qbk_buf_reset(&b);
	memset(big, 'x', sizeof(big));
	qbk_http_oneline(&b, big, sizeof(big), 100);
	assert_int_equal(b.len, 103);
	assert_string_equal(b.buf + 100, "...");
	qbk_buf_release(&b);

	s = qbk_http_redact_url("https://u:p@w@s3.example:9000/b/k?X-Amz-"
	    "Signature=abc#f");
	assert_string_equal(s, "https://s3.example:9000/b/k");
	free(s);
	s = qbk_http_redact_url("c1-shard-0-2026.snapshot");
	assert_string_equal(s, "c1-shard-0-2026.snapshot");
	free(s);
	assert_string_equal(qbk_http_status_text(503), "service unavailable");
	assert_string_equal(qbk_http_status_text(299), "");

	qbk_http_resp_init(&resp);
	resp.status = 404;
	resp.attempts = 1;
	assert_int_equal(qbk_http_resp_err(&resp, "Not found: x\n", &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_int_equal(err.http_status, 404);
	assert_string_equal(err.msg, "HTTP 404: Not found: x");
	resp.status = 401;
	qbk_http_resp_err(&resp, "", &err);
	assert_int_equal(err.code, QBK_E_AUTH);
	assert_string_equal(err.msg, "HTTP 401 (unauthorized)");
	resp.status = 503;
	resp.attempts = 6;
	qbk_http_resp_err(&resp, NULL, &err);
	assert_int_equal(err.code, QBK_E_HTTP);
	assert_string_equal(err.msg,
	    "HTTP 503 (service unavailable) (after 6 attempts)");
	qbk_http_resp_release(&resp);
}

static void
bad_options_refused(void **state)
{
	struct qbk_http_opts o;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_http *h = (struct qbk_http *)1;

	(void)state;
	qbk_http_opts_init(&o);
	assert_int_equal(qbk_http_new(&h, &o, &err), -1);
	assert_null(h);
	assert_int_equal(err.code, QBK_E_CONFIG);
	o.base_url = "ftp://example.org";
	assert_int_equal(qbk_http_new(&h, &o, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	o.base_url = "https://user:secret@example.org:6333/";
	o.insecure = 1;
	assert_int_equal(qbk_http_new(&h, &o, &err), 0);
	assert_string_equal(qbk_http_base_url(h), "https://example.org:6333");
	assert_non_null(strstr(tu_log_text(), "TLS certificate verification "
	    "is off"));
	assert_null(strstr(tu_log_text(), "secret"));
	qbk_http_free(h);
	qbk_http_free(NULL);
}

/* ---- against the simulator ------------------------------------------- */

static void
retry_503_then_success(void **state)
{
	struct qbk_http *h = new_http(sim.url[0], 5, 10);
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	fault("{\"method\":\"GET\",\"path\":\"/collections\",\"count\":2,"
	    "\"status\":503}");
	qbk_http_resp_init(&resp);
	req.path = "/collections";
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 3);
	assert_non_null(strstr(resp.body.buf, "\"collections\""));
	/* Each retry is logged as a warning with the reason. */
	assert_non_null(strstr(tu_log_text(), "1 GET '"));
	assert_non_null(strstr(tu_log_text(), "/collections': HTTP 503: "));
	assert_non_null(strstr(tu_log_text(), "Shard temporarily unavailable"));
	assert_non_null(strstr(tu_log_text(), "(attempt 3 of 6)"));
	qbk_http_resp_release(&resp);
	qbk_http_free(h);
	faults_clear();
}

static void
retry_gives_up(void **state)
{
	struct qbk_http *h = new_http(sim.url[0], 2, 10);
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;
	char want[256];

	(void)state;
	fault("{\"path\":\"/collections\",\"count\":-1,\"status\":503,"
	    "\"body\":\"Shard temporarily unavailable: simulated fault\"}");
	qbk_http_resp_init(&resp);
	req.path = "/collections";
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), -1);
	assert_int_equal(err.code, QBK_E_HTTP);
	assert_int_equal(err.http_status, 503);
	assert_int_equal(resp.attempts, 3);
	snprintf(want, sizeof(want), "GET '%s/collections' failed: HTTP 503: "
	    "Shard temporarily unavailable: simulated fault (after 3 "
	    "attempts)", sim.url[0]);
	assert_string_equal(err.msg, want);
	qbk_http_resp_release(&resp);
	qbk_http_free(h);
	faults_clear();
}

static void
no_retry_on_4xx(void **state)
{
	struct qbk_http *h = new_http(sim.url[0], 5, 10);
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	fault("{\"path\":\"/collections\",\"count\":-1,\"status\":400}");
	qbk_http_resp_init(&resp);
	req.path = "/collections";
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), -1);
	assert_int_equal(resp.attempts, 1);
	assert_int_equal(resp.status, 400);
	assert_int_equal(err.code, QBK_E_HTTP);
	assert_null(strstr(tu_log_text(), "retrying"));
	faults_clear();

	/* A real 404 of Qdrant: the envelope stays in the body. */
	qbk_http_resp_release(&resp);
	req.path = "/collections/nope";
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), -1);
	assert_int_equal(resp.attempts, 1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_int_equal(err.http_status, 404);
	assert_non_null(strstr(resp.body.buf,
	    "Not found: Collection `nope` doesn't exist!"));
	qbk_http_resp_release(&resp);

	/* ANYSTATUS hands the 404 back as a success. */
	req.flags = QBK_HTTP_F_ANYSTATUS;
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 404);
	qbk_http_resp_release(&resp);
	qbk_http_free(h);
}

static void
retry_after_429(void **state)
{
	struct qbk_http *h = new_http(sim.url[0], 3, 1);
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;
	double t0, dt;

	(void)state;
	fault("{\"path\":\"/collections\",\"count\":1,\"status\":429,"
	    "\"retry_after\":1}");
	qbk_http_resp_init(&resp);
	req.path = "/collections";
	t0 = now_s();
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), 0);
	dt = now_s() - t0;
	assert_int_equal(resp.attempts, 2);
	/* The backoff base is 1 ms: only Retry-After explains the wait. */
	assert_true(dt >= 0.95);
	assert_true(dt < 3.0);
	assert_non_null(strstr(tu_log_text(), "HTTP 429"));
	assert_non_null(strstr(tu_log_text(), "retrying in 1.0 s"));
	qbk_http_resp_release(&resp);
	qbk_http_free(h);
	faults_clear();
}

static void
download_whole(struct qbk_http *h, struct qbk_buf *out,
    struct qbk_http_resp *resp)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	req.path = snap_path;
	if (qbk_http_download(h, &req, collect, out, resp, &err) != 0)
		fail_msg("download: %s", err.msg);
}

static void
download_resumes_after_reset(void **state)
{
	struct qbk_http *h = new_http(sim.url[0], 5, 10);
	struct qbk_buf data = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	char sha[65], rule[1400];
	const char *p;

	(void)state;
	qbk_http_resp_init(&resp);
	download_whole(h, &snap_data, &resp);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.resumes, 0);
	assert_true(snap_data.len > 500000);
	assert_int_equal(resp.content_length, (int64_t)snap_data.len);
	assert_int_equal(resp.bytes, snap_data.len);
	assert_string_equal(resp.content_type, "application/octet-stream");
	assert_non_null(strstr(resp.content_disposition, "filename="));
	sha256_hex(snap_data.buf, snap_data.len, snap_sha);
	qbk_http_resp_release(&resp);

	/* Two resets in the middle: the stream continues with Range. */
	snprintf(rule, sizeof(rule), "[{\"method\":\"GET\",\"path\":\"%s\","
	    "\"count\":1,\"reset_after_bytes\":100000},{\"method\":\"GET\","
	    "\"path\":\"%s\",\"count\":1,\"reset_after_bytes\":70000}]",
	    snap_path, snap_path);
	fault(rule);
	download_whole(h, &data, &resp);
	assert_int_equal(resp.resumes, 2);
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(resp.bytes, snap_data.len);
	assert_int_equal(data.len, snap_data.len);
	sha256_hex(data.buf, data.len, sha);
	assert_string_equal(sha, snap_sha);
	/* (A reset may drop bytes in flight: the offsets vary.) */
	p = strstr(tu_log_text(), "resuming download of");
	assert_non_null(p);
	assert_non_null(strstr(p + 1, "resuming download of"));
	qbk_http_resp_release(&resp);
	qbk_buf_release(&data);
	qbk_http_free(h);
	faults_clear();
}

static void
download_truncated_fails(void **state)
{
	struct qbk_http *h = new_http(sim.url[0], 2, 10);
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_buf data = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;
	char rule[1400];

	(void)state;
	/* Every answer stops early: resumed twice, then it gives up. */
	snprintf(rule, sizeof(rule), "{\"method\":\"GET\",\"path\":\"%s\","
	    "\"count\":-1,\"truncate_after_bytes\":1000}", snap_path);
	fault(rule);
	qbk_http_resp_init(&resp);
	req.path = snap_path;
	assert_int_equal(qbk_http_download(h, &req, collect, &data, &resp,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_NET);
	assert_int_equal(err.http_status, 0);
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(resp.bytes, 3000);
	/* What the callback saw is the true beginning of the file. */
	assert_int_equal(data.len, 3000);
	assert_memory_equal(data.buf, snap_data.buf, 3000);
	assert_non_null(strstr(err.msg, "failed: "));
	assert_non_null(strstr(err.msg, "(after 3 attempts)"));
	qbk_http_resp_release(&resp);
	qbk_buf_release(&data);
	faults_clear();

	/* A chunked stream without ranges cannot resume: a clear error. */
	fault("{\"method\":\"GET\",\"path\":\"/collections/big/shards/0/"
	    "snapshot\",\"count\":1,\"truncate_after_bytes\":5000}");
	qbk_http_resp_init(&resp);
	req.path = "/collections/big/shards/0/snapshot";
	assert_int_equal(qbk_http_download(h, &req, collect, &data, &resp,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_NET);
	assert_int_equal(resp.attempts, 1);
	assert_non_null(strstr(err.msg, "broke after"));
	assert_non_null(strstr(err.msg, "the server cannot resume it"));
	qbk_http_resp_release(&resp);
	qbk_buf_release(&data);
	qbk_http_free(h);
	faults_clear();
}

static void
download_error_body_not_streamed(void **state)
{
	struct qbk_http *h = new_http(sim.url[0], 2, 10);
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_buf data = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	qbk_http_resp_init(&resp);
	req.path = "/collections/big/snapshots/nope.snapshot";
	assert_int_equal(qbk_http_download(h, &req, collect, &data, &resp,
	    &err), -1);
	assert_int_equal(data.len, 0);
	assert_int_equal(resp.bytes, 0);
	assert_int_equal(resp.status, 404);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_string_equal(resp.body.buf,
	    "Not found: Snapshot nope.snapshot not found");
	assert_non_null(strstr(err.msg, "HTTP 404: Not found: Snapshot "
	    "nope.snapshot not found"));
	qbk_http_resp_release(&resp);
	qbk_http_free(h);
}

/* A handle with a small answer cap and quick stall windows. */
static struct qbk_http *
new_bounded(size_t max_answer, long low_speed_time, long timeout_ms)
{
	struct qbk_http_opts o;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_http *h;

	qbk_http_opts_init(&o);
	o.base_url = sim.url[0];
	o.retries = 0;
	o.max_answer = max_answer;
	o.low_speed_time = low_speed_time;
	o.timeout_ms = timeout_ms;
	o.cancel = &cancel_flag;
	if (qbk_http_new(&h, &o, &err) != 0)
		fail_msg("qbk_http_new: %s", err.msg);
	return h;
}

static void
answer_cap(void **state)
{
	struct qbk_http *h = new_bounded((size_t)1 << 20, 60, 30000);
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_http_opts o;

	(void)state;
	qbk_http_opts_init(&o);
	assert_int_equal(o.max_answer, (size_t)64 << 20);
	assert_int_equal(o.low_speed_limit, 1024);
	assert_int_equal(o.low_speed_time, 60);

	/* An endless body: refused at the cap, once, never held beyond it. */
	fault("{\"method\":\"GET\",\"path\":\"/collections\",\"count\":-1,"
	    "\"endless_body\":true}");
	qbk_http_resp_init(&resp);
	req.path = "/collections";
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), -1);
	assert_int_equal(err.code, QBK_E_HTTP);
	assert_int_equal(err.http_status, 0);
	assert_int_equal(resp.too_large, 1);
	assert_int_equal(resp.attempts, 1);
	assert_true(resp.body.len <= (size_t)1 << 20);
	assert_non_null(strstr(err.msg, "answer of GET '"));
	assert_non_null(strstr(err.msg, "/collections' is larger than 1 MiB"));
	qbk_http_resp_release(&resp);
	faults_clear();

	/* A Content-Length over the cap: refused before any body byte. */
	fault("{\"method\":\"GET\",\"path\":\"/collections\",\"count\":1,"
	    "\"endless_body\":true,\"content_length\":1048577}");
	qbk_http_resp_init(&resp);
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), -1);
	assert_int_equal(resp.too_large, 1);
	assert_int_equal(resp.body.len, 0);
	assert_non_null(strstr(err.msg, "announces 1048577 bytes, more than "
	    "1 MiB"));
	qbk_http_resp_release(&resp);

	/* Exactly the cap is an answer (the caller judges its content). */
	fault("{\"method\":\"GET\",\"path\":\"/collections\",\"count\":1,"
	    "\"endless_body\":true,\"content_length\":1048576}");
	qbk_http_resp_init(&resp);
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), 0);
	assert_int_equal(resp.too_large, 0);
	assert_int_equal(resp.body.len, (size_t)1 << 20);
	qbk_http_resp_release(&resp);

	/* Downloads are streamed, not capped. */
	req.path = snap_path;
	qbk_http_free(h);
	h = new_bounded(1000, 60, 30000);
	{
		struct qbk_buf data = QBK_BUF_INIT;

		qbk_http_resp_init(&resp);
		assert_int_equal(qbk_http_download(h, &req, collect, &data,
		    &resp, &err), 0);
		assert_true(data.len > 1000);
		qbk_http_resp_release(&resp);
		qbk_buf_release(&data);
	}
	qbk_http_free(h);
	faults_clear();
}

static void
stalls(void **state)
{
	struct qbk_http *h = new_bounded(QBK_HTTP_MAX_ANSWER, 1, 10000);
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_buf data = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;
	double t0;

	(void)state;
	/* A 2-byte/s answer that never ends is abandoned. */
	fault("{\"method\":\"GET\",\"path\":\"/collections\",\"count\":1,"
	    "\"endless_body\":true,\"rate_bytes_per_sec\":2}");
	qbk_http_resp_init(&resp);
	req.path = "/collections";
	t0 = now_s();
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), -1);
	assert_true(now_s() - t0 < 30);
	assert_int_equal(err.code, QBK_E_NET);
	assert_non_null(strstr(err.msg, "the answer came slower than 1024 "
	    "bytes/s for 1 s"));
	qbk_http_resp_release(&resp);

	/* The server's work before its answer is no stall (the request's
	 * timeout bounds it): 2.5 s of work with 1-s windows. */
	qbk_http_free(h);
	h = new_bounded(QBK_HTTP_MAX_ANSWER, 1, 10000);
	fault("{\"method\":\"GET\",\"path\":\"/collections\",\"count\":1,"
	    "\"delay_ms\":2500}");
	qbk_http_resp_init(&resp);
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), 0);
	qbk_http_resp_release(&resp);

	/* A slow but steady download (50 KB/s) is no stall. */
	req.path = snap_path;
	{
		char rule[1400];

		snprintf(rule, sizeof(rule), "{\"method\":\"GET\",\"path\":"
		    "\"%s\",\"count\":1,\"rate_bytes_per_sec\":50000}",
		    snap_path);
		fault(rule);
	}
	qbk_http_resp_init(&resp);
	assert_int_equal(qbk_http_download(h, &req, collect, &data, &resp,
	    &err), 0);
	assert_int_equal(resp.attempts, 1);
	qbk_http_resp_release(&resp);
	qbk_buf_release(&data);

	/* A download whose headers do not come within timeout_ms. */
	qbk_http_free(h);
	h = new_bounded(QBK_HTTP_MAX_ANSWER, 1, 1000);
	fault("{\"method\":\"GET\",\"path\":\"/collections/big/shards/0/"
	    "snapshot\",\"count\":1,\"delay_ms\":4000}");
	qbk_http_resp_init(&resp);
	req.path = "/collections/big/shards/0/snapshot";
	assert_int_equal(qbk_http_download(h, &req, collect, &data, &resp,
	    &err), -1);
	assert_int_equal(data.len, 0);
	assert_non_null(strstr(err.msg, "no answer within 1 s"));
	qbk_http_resp_release(&resp);
	qbk_buf_release(&data);
	qbk_http_free(h);
	faults_clear();
}

static void
connection_refused(void **state)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct qbk_http *h;
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;
	char url[64], want[160];
	int fd;

	(void)state;
	/* A port that was free a moment ago. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d",
	    (int)ntohs(sa.sin_port));
	h = new_http(url, 2, 5);
	qbk_http_resp_init(&resp);
	req.path = "/collections";
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), -1);
	assert_int_equal(err.code, QBK_E_NET);
	assert_int_equal(resp.status, 0);
	assert_int_equal(resp.attempts, 3);
	snprintf(want, sizeof(want), "cannot connect to '%s': Connection "
	    "refused (after 3 attempts)", url);
	assert_string_equal(err.msg, want);
	qbk_http_resp_release(&resp);
	qbk_http_free(h);
}

static void
on_alarm(int sig)
{
	(void)sig;
	cancel_flag = 1;
}

static void
alarm_in(long ms)
{
	struct itimerval it;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void
cancel_flag_stops(void **state)
{
	struct qbk_http *h = new_http(sim.url[0], 5, 10);
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_buf data = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;
	char rule[1400];
	double t0, dt;

	(void)state;
	/* A slow download (about 5 s), interrupted after 0.3 s. */
	snprintf(rule, sizeof(rule), "{\"method\":\"GET\",\"path\":\"%s\","
	    "\"rate_bytes_per_sec\":100000}", snap_path);
	fault(rule);
	qbk_http_resp_init(&resp);
	req.path = snap_path;
	alarm_in(300);
	t0 = now_s();
	assert_int_equal(qbk_http_download(h, &req, collect, &data, &resp,
	    &err), -1);
	dt = now_s() - t0;
	cancel_flag = 0;
	assert_int_equal(err.code, QBK_E_INTERRUPTED);
	assert_true(dt < 1.5);
	assert_true(data.len > 0 && data.len < snap_data.len);
	assert_non_null(strstr(err.msg, "interrupted"));
	qbk_http_resp_release(&resp);
	qbk_buf_release(&data);
	faults_clear();

	/* The wait between retries is cut short as well. */
	qbk_http_free(h);
	h = new_http(sim.url[0], 5, 10000);
	cancel_flag = 0;
	fault("{\"path\":\"/collections\",\"count\":-1,\"status\":503}");
	req.path = "/collections";
	alarm_in(300);
	t0 = now_s();
	assert_int_equal(qbk_http_request(h, &req, &resp, &err), -1);
	dt = now_s() - t0;
	cancel_flag = 0;
	assert_int_equal(err.code, QBK_E_INTERRUPTED);
	assert_true(dt < 1.5);
	qbk_http_resp_release(&resp);
	qbk_http_free(h);
	faults_clear();
}

/* An upload body served from memory in small, odd pieces. */
struct source {
	const struct qbk_buf *data;
	size_t off;
	unsigned reads;
	unsigned rewinds;
};

static ssize_t
src_read(void *cookie, void *buf, size_t len, struct qbk_err *err)
{
	struct source *s = cookie;
	size_t n = s->data->len - s->off;

	(void)err;
	if (n > len)
		n = len;
	if (n > 7001)
		n = 7001;
	memcpy(buf, s->data->buf + s->off, n);
	s->off += n;
	s->reads++;
	return (ssize_t)n;
}

static int
src_rewind(void *cookie, struct qbk_err *err)
{
	struct source *s = cookie;

	(void)err;
	s->off = 0;
	s->rewinds++;
	return 0;
}

static void
upload(struct qbk_http *h, const char *coll, struct source *src, int rewind,
    int64_t size, struct qbk_http_resp *resp, struct qbk_err *err, int want)
{
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_upload up;
	char path[256];

	snprintf(path, sizeof(path), "/collections/%s/snapshots/upload?"
	    "wait=true&checksum=%s", coll, snap_sha);
	memset(&up, 0, sizeof(up));
	up.field = "snapshot";
	up.filename = "big.snapshot";
	up.size = size;
	up.read = src_read;
	up.rewind = rewind ? src_rewind : NULL;
	up.cookie = src;
	req.method = "POST";
	req.path = path;
	src->off = 0;
	assert_int_equal(qbk_http_upload(h, &req, &up, resp, err), want);
}

static void
multipart_upload_streams(void **state)
{
	struct qbk_http *h = new_http(sim.url[0], 3, 10);
	struct source src = { &snap_data, 0, 0, 0 };
	struct qbk_buf body = QBK_BUF_INIT;
	struct qbk_http_resp resp;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	assert_true(snap_data.len > 0);
	/* Known size, no fault: one attempt, many small reads. */
	qbk_http_resp_init(&resp);
	upload(h, "up1", &src, 0, (int64_t)snap_data.len, &resp, &err, 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 1);
	assert_true(src.reads > snap_data.len / 7001);
	assert_non_null(strstr(resp.body.buf, "\"result\":true"));
	qbk_http_resp_release(&resp);
	must(h, "GET", "/collections/up1", NULL, &body);
	assert_non_null(strstr(body.buf, "\"points_count\":3000"));

	/* Unknown size (chunked), a 503 first: rewound and sent again. */
	fault("{\"method\":\"POST\",\"path\":\"/collections/up2/snapshots/"
	    "upload\",\"count\":1,\"status\":503}");
	src.reads = 0;
	upload(h, "up2", &src, 1, -1, &resp, &err, 0);
	assert_int_equal(resp.attempts, 2);
	assert_int_equal(resp.status, 200);
	must(h, "GET", "/collections/up2", NULL, &body);
	assert_non_null(strstr(body.buf, "\"points_count\":3000"));
	qbk_http_resp_release(&resp);

	/*
	 * Without a rewind callback nothing can be sent twice: once body
	 * bytes went out, a 503 is final.  (Whether curl sent any before the
	 * 503 depends on timing, Expect: 100-continue among it; an attempt
	 * that sent nothing may be retried, so the fault outlasts them.)
	 */
	fault("{\"method\":\"POST\",\"path\":\"/collections/up3/snapshots/"
	    "upload\",\"count\":10,\"status\":503,\"delay_ms\":300}");
	src.reads = 0;
	upload(h, "up3", &src, 0, (int64_t)snap_data.len, &resp, &err, -1);
	assert_int_equal(err.http_status, 503);
	if (src.reads > 0)
		assert_int_equal(resp.attempts, 1);
	assert_true(src.off <= snap_data.len);
	faults_clear();
	qbk_http_resp_release(&resp);

	/* A wrong checksum is Qdrant's 400, not retried. */
	snap_sha[0] = snap_sha[0] == '0' ? '1' : '0';
	upload(h, "up4", &src, 1, (int64_t)snap_data.len, &resp, &err, -1);
	snap_sha[0] = '\0';
	sha256_hex(snap_data.buf, snap_data.len, snap_sha);
	assert_int_equal(resp.attempts, 1);
	assert_int_equal(err.http_status, 400);
	assert_non_null(strstr(err.msg, "Checksum mismatch"));
	qbk_http_resp_release(&resp);
	qbk_buf_release(&body);
	qbk_http_free(h);
	faults_clear();
}

static void
api_key_redacted(void **state)
{
	struct qbk_http_opts o;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_http *h;
	struct qbk_buf body = QBK_BUF_INIT;

	(void)state;
	qbk_http_opts_init(&o);
	o.base_url = sim.url[0];
	o.api_key = "s3cr3t-key-value";
	assert_int_equal(qbk_http_new(&h, &o, &err), 0);
	must(h, "GET", "/collections", NULL, &body);
	/* Debug level shows the headers, but never the key. */
	assert_non_null(strstr(tu_log_text(), "http > GET /collections"));
	assert_non_null(strstr(tu_log_text(), "http > api-key <redacted>"));
	assert_non_null(strstr(tu_log_text(), "http > User-Agent: qbk/"));
	assert_null(strstr(tu_log_text(), "Accept-Encoding"));
	assert_null(strstr(tu_log_text(), "s3cr3t"));
	qbk_buf_release(&body);
	qbk_http_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(backoff_grows_capped_and_jittered,
		    test_setup),
		cmocka_unit_test_setup(retry_decisions, test_setup),
		cmocka_unit_test_setup(retry_after_values, test_setup),
		cmocka_unit_test_setup(text_helpers, test_setup),
		cmocka_unit_test_setup(bad_options_refused, test_setup),
		cmocka_unit_test_setup(retry_503_then_success, test_setup),
		cmocka_unit_test_setup(retry_gives_up, test_setup),
		cmocka_unit_test_setup(no_retry_on_4xx, test_setup),
		cmocka_unit_test_setup(retry_after_429, test_setup),
		cmocka_unit_test_setup(download_resumes_after_reset,
		    test_setup),
		cmocka_unit_test_setup(download_truncated_fails, test_setup),
		cmocka_unit_test_setup(download_error_body_not_streamed,
		    test_setup),
		cmocka_unit_test_setup(answer_cap, test_setup),
		cmocka_unit_test_setup(stalls, test_setup),
		cmocka_unit_test_setup(connection_refused, test_setup),
		cmocka_unit_test_setup(cancel_flag_stops, test_setup),
		cmocka_unit_test_setup(multipart_upload_streams, test_setup),
		cmocka_unit_test_setup(api_key_redacted, test_setup),
	};
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_init(&err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
