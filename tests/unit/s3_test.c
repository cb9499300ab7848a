#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "storage/qbk_store.h"
#include "storage/s3/qbk_s3.h"

static void
url_is(const char *ep, const char *bucket, int host, const char *prefix,
    const char *key, const char *query, const char *want)
{
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	assert_int_equal(qbk_s3_url(ep, "eu-west-1", bucket, host, prefix,
	    key, query, &b, &err), 0);
	assert_string_equal(b.buf, want);
	qbk_buf_release(&b);
}

static void
test_url_path_style(void **state)
{
	(void)state;
	url_is("http://127.0.0.1:9000", "bk", 0, "repo/", "data/ab/cd", NULL,
	    "http://127.0.0.1:9000/bk/repo/data/ab/cd");
	url_is("http://127.0.0.1:9000/", "bk", 0, "", "config", NULL,
	    "http://127.0.0.1:9000/bk/config");
	/* The bucket itself, with a query. */
	url_is("http://h:1", "bk", 0, "repo/", NULL, "list-type=2",
	    "http://h:1/bk?list-type=2");
	/* Characters outside the unreserved set are escaped; '/' is kept. */
	url_is("https://h", "bk", 0, "a b/", "x+y~z", NULL,
	    "https://h/bk/a%20b/x%2By~z");
}

static void
test_url_host_style(void **state)
{
	(void)state;
	url_is("https://s3.example.com", "my-bucket", 1, "p/", "config", NULL,
	    "https://my-bucket.s3.example.com/p/config");
	url_is("https://s3.example.com", "my-bucket", 1, "p/", NULL,
	    "list-type=2&prefix=p%2F",
	    "https://my-bucket.s3.example.com/?list-type=2&prefix=p%2F");
	/* No endpoint: AWS in the region. */
	url_is(NULL, "my-bucket", 1, "", "k", NULL,
	    "https://my-bucket.s3.eu-west-1.amazonaws.com/k");
}

static void
test_url_errors(void **state)
{
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	assert_int_equal(qbk_s3_url("ftp://h", NULL, "bk", 0, "", "k", NULL,
	    &b, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	qbk_err_clear(&err);
	assert_int_equal(qbk_s3_url("http://h/path", NULL, "bk", 0, "", "k",
	    NULL, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	qbk_err_clear(&err);
	/* A bucket with '_' or upper case is no host name. */
	assert_int_equal(qbk_s3_url("http://h", NULL, "My_Bucket", 1, "", "k",
	    NULL, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_non_null(strstr(err.hint, "path"));
	qbk_err_clear(&err);
	assert_int_equal(qbk_s3_url("http://h", NULL, "", 0, "", "k", NULL,
	    &b, &err), -1);
	qbk_buf_release(&b);
}

static void
test_escape(void **state)
{
	struct qbk_buf b = QBK_BUF_INIT;

	(void)state;
	qbk_s3_escape("aZ09-_.~/=+&%\xc3\xa9", 0, &b);
	assert_string_equal(b.buf, "aZ09-_.~%2F%3D%2B%26%25%C3%A9");
	qbk_buf_reset(&b);
	qbk_s3_escape("a/b c", 1, &b);
	assert_string_equal(b.buf, "a/b%20c");
	qbk_buf_release(&b);
}

static const char page1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>bk</Name><Prefix>repo/data/</Prefix><KeyCount>2</KeyCount>"
    "<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
    "<Contents><Key>repo/data/ab/1</Key>"
    "<LastModified>2026-11-22T01:02:03.000Z</LastModified>"
    "<ETag>&quot;9e107d9d372bb6826bd81d3542a419d6&quot;</ETag>"
    "<Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>repo/a&amp;b&#x2F;c&#47;&lt;d&gt;</Key>"
    "<Size>0</Size></Contents>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
    "</NextContinuationToken></ListBucketResult>";

static void
test_parse_list(void **state)
{
	struct qbk_s3_page pg;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	assert_int_equal(qbk_s3_parse_list(page1, strlen(page1), &pg, &err),
	    0);
	assert_int_equal(pg.n, 2);
	assert_string_equal(pg.entries[0].key, "repo/data/ab/1");
	assert_int_equal(pg.entries[0].size, 1234);
	assert_int_equal(pg.entries[0].mtime, 1795309323);
	assert_string_equal(pg.entries[1].key, "repo/a&b/c/<d>");
	assert_int_equal(pg.entries[1].size, 0);
	assert_int_equal(pg.entries[1].mtime, 0);
	assert_true(pg.truncated);
	assert_string_equal(pg.next_token,
	    "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	qbk_s3_page_release(&pg);
	assert_null(pg.entries);
}

static void
test_parse_list_last_and_empty(void **state)
{
	static const char last[] = "<ListBucketResult><IsTruncated>false"
	    "</IsTruncated><Contents><Key>k</Key><Size>7</Size></Contents>"
	    "</ListBucketResult>";
	static const char empty[] = "<ListBucketResult><KeyCount>0</KeyCount>"
	    "<IsTruncated>false</IsTruncated></ListBucketResult>";
	static const char selfclosed[] = "<ListBucketResult><Prefix/>"
	    "<IsTruncated>false</IsTruncated></ListBucketResult>";
	struct qbk_s3_page pg;

	(void)state;
	assert_int_equal(qbk_s3_parse_list(last, strlen(last), &pg, NULL), 0);
	assert_int_equal(pg.n, 1);
	assert_false(pg.truncated);
	assert_null(pg.next_token);
	qbk_s3_page_release(&pg);
	assert_int_equal(qbk_s3_parse_list(empty, strlen(empty), &pg, NULL),
	    0);
	assert_int_equal(pg.n, 0);
	qbk_s3_page_release(&pg);
	assert_int_equal(qbk_s3_parse_list(selfclosed, strlen(selfclosed),
	    &pg, NULL), 0);
	qbk_s3_page_release(&pg);
}

static void
rejects(const char *xml, size_t len)
{
	struct qbk_s3_page pg;
	struct qbk_err err = QBK_ERR_INIT;

	assert_int_equal(qbk_s3_parse_list(xml, len, &pg, &err), -1);
	assert_int_equal(err.code, QBK_E_HTTP);
	assert_int_equal(pg.n, 0);
	assert_null(pg.entries);
}

static void
test_parse_list_malformed(void **state)
{
	size_t i;

	(void)state;
	rejects("<Error><Code>AccessDenied</Code></Error>", 40);
	rejects("<ListBucketResult><Contents><Size>1</Size></Contents>"
	    "</ListBucketResult>", 72);
	rejects("<ListBucketResult><Contents><Key>a&bogus;</Key></Contents>"
	    "</ListBucketResult>", 77);
	rejects("<ListBucketResult><Contents><Key>a&#0;b</Key></Contents>"
	    "</ListBucketResult>", 75);
	rejects("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
	    "</Contents></ListBucketResult>", 85);
	rejects("<ListBucketResult><IsTruncated>true</IsTruncated>"
	    "</ListBucketResult>", 68);
	/* Every prefix of a good page parses or fails cleanly (ASan checks
	 * that nothing is read past the end). */
	for (i = 0; i < sizeof(page1) - 1; i++) {
		struct qbk_s3_page pg;
		char *copy = malloc(i + 1);

		memcpy(copy, page1, i);
		if (qbk_s3_parse_list(copy, i, &pg, NULL) == 0)
			qbk_s3_page_release(&pg);
		free(copy);
	}
}

static void
test_parse_error(void **state)
{
	static const char body[] = "<?xml version=\"1.0\"?><Error><Code>"
	    "SlowDown</Code><Message>Please reduce your request rate &amp; "
	    "retry.</Message><RequestId>1</RequestId></Error>";
	struct qbk_buf code = QBK_BUF_INIT, msg = QBK_BUF_INIT;

	(void)state;
	qbk_s3_parse_error(body, strlen(body), &code, &msg);
	assert_string_equal(code.buf, "SlowDown");
	assert_string_equal(msg.buf, "Please reduce your request rate & "
	    "retry.");
	qbk_buf_reset(&code);
	qbk_buf_reset(&msg);
	qbk_s3_parse_error("", 0, &code, &msg);
	assert_int_equal(code.len, 0);
	qbk_buf_release(&code);
	qbk_buf_release(&msg);
}

static void
test_retryable(void **state)
{
	(void)state;
	assert_true(qbk_s3_retryable(1, 0));
	assert_true(qbk_s3_retryable(0, 500));
	assert_true(qbk_s3_retryable(0, 503));	/* SlowDown */
	assert_true(qbk_s3_retryable(0, 429));
	assert_true(qbk_s3_retryable(0, 408));
	assert_false(qbk_s3_retryable(0, 501));
	assert_false(qbk_s3_retryable(0, 400));
	assert_false(qbk_s3_retryable(0, 403));
	assert_false(qbk_s3_retryable(0, 404));
	assert_false(qbk_s3_retryable(0, 200));
}

static void
test_backoff(void **state)
{
	(void)state;
	assert_int_equal(qbk_s3_backoff_ms(1, 200, 20000, UINT32_MAX), 200);
	assert_int_equal(qbk_s3_backoff_ms(3, 200, 20000, UINT32_MAX), 800);
	assert_int_equal(qbk_s3_backoff_ms(20, 200, 20000, UINT32_MAX),
	    20000);
	assert_int_equal(qbk_s3_backoff_ms(5, 200, 20000, 0), 0);
	assert_in_range(qbk_s3_backoff_ms(2, 200, 20000, UINT32_MAX / 2), 199,
	    200);
}

static void
test_parse_time(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(qbk_s3_parse_time("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(qbk_s3_parse_time("2026-11-22T01:02:03.000Z", &t), 0);
	assert_int_equal(t, 1795309323);
	assert_int_equal(qbk_s3_parse_time("2026-13-01T00:00:00Z", &t), -1);
	assert_int_equal(qbk_s3_parse_time("yesterday", &t), -1);
}

/* Nothing listens on port 1: requests fail with QBK_E_NET after the
 * retries, synchronous and asynchronous alike. */
static void
test_connection_refused(void **state)
{
	struct qbk_s3_opts o;
	struct qbk_s3 *s3;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_s3_resp r;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.endpoint = "http://127.0.0.1:1";
	o.bucket = "bk";
	o.prefix = "/repo/";
	o.access_key = "AK";
	o.secret_key = "SK";
	o.retries = 2;
	o.retry_base_ms = 1;
	o.transfers = 2;
	assert_int_equal(qbk_s3_new(&o, &s3, &err), 0);
	assert_int_equal(qbk_s3_request(s3, "GET", "config", NULL, NULL, 0, 0,
	    NULL, NULL, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_NET);
	assert_non_null(strstr(err.msg, "3 attempts"));
	qbk_err_clear(&err);
	assert_int_equal(qbk_s3_submit(s3, "PUT", "data/aa/1", "x", 1, 0,
	    &err), 0);
	assert_int_equal(qbk_s3_submit(s3, "DELETE", "data/aa/2", NULL, 0, 0,
	    &err), 0);
	assert_int_equal(qbk_s3_wait(s3, &err), -1);
	assert_int_equal(err.code, QBK_E_NET);
	/* The failure stays. */
	qbk_err_clear(&err);
	assert_int_equal(qbk_s3_submit(s3, "PUT", "data/aa/3", "y", 1, 0,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_NET);
	qbk_s3_free(s3);
	qbk_s3_free(NULL);
}

/*
 * The examples of AWS's "Signature Calculations for the Authorization
 * Header: Transferring Payload in a Single Chunk (AWS Signature Version 4)"
 * (Amazon S3 API Reference), with their published signatures.
 */
#define AWS_AK	"AKIAIOSFODNN7EXAMPLE"
#define AWS_SK	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AWS_EMPTY \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
signed_as(const char *method, const char *path, const char *query,
    struct qbk_s3_hdr *h, size_t n, const char *want)
{
	struct qbk_buf b = QBK_BUF_INIT;

	assert_int_equal(qbk_s3_sign(method, path, query, h, n, AWS_AK, AWS_SK,
	    "us-east-1", "20130524T000000Z", &b), 0);
	assert_string_equal(b.buf, want);
	qbk_buf_release(&b);
}

static void
test_sign_aws_examples(void **state)
{
	/* Out of order on purpose: the signer sorts them. */
	struct qbk_s3_hdr get[] = {
		{ "x-amz-date", "20130524T000000Z" },
		{ "range", "bytes=0-9" },
		{ "host", "examplebucket.s3.amazonaws.com" },
		{ "x-amz-content-sha256", AWS_EMPTY },
	};
	struct qbk_s3_hdr put[] = {
		{ "host", "examplebucket.s3.amazonaws.com" },
		{ "date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-date", "20130524T000000Z" },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
		{ "x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba8"
		    "7d2b6b4b4e99e42034a8b803f8b072" },
	};
	struct qbk_s3_hdr bucket[] = {
		{ "host", "examplebucket.s3.amazonaws.com" },
		{ "x-amz-date", "20130524T000000Z" },
		{ "x-amz-content-sha256", AWS_EMPTY },
	};
	struct qbk_s3_hdr bad[] = {
		{ "host", "h" },
		{ "host", "h" },
		{ "x-amz-content-sha256", AWS_EMPTY },
	};
	struct qbk_buf b = QBK_BUF_INIT;

	(void)state;
	signed_as("GET", "/test.txt", NULL, get, 4,
	    "AWS4-HMAC-SHA256 Credential=" AWS_AK "/20130524/us-east-1/s3/"
	    "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;"
	    "x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170"
	    "aba48dd91039c6036bdb41");
	/* A path with an escaped character. */
	signed_as("PUT", "/test%24file.text", NULL, put, 5,
	    "AWS4-HMAC-SHA256 Credential=" AWS_AK "/20130524/us-east-1/s3/"
	    "aws4_request, SignedHeaders=date;host;x-amz-content-sha256;"
	    "x-amz-date;x-amz-storage-class, Signature=98ad721746da40c64f1a55"
	    "b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	/* A sub-resource without a value gets its '='. */
	signed_as("GET", "/", "lifecycle", bucket, 3,
	    "AWS4-HMAC-SHA256 Credential=" AWS_AK "/20130524/us-east-1/s3/"
	    "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
	    "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a01"
	    "36783543");
	/* Query parameters are sorted by name. */
	signed_as("GET", "/", "prefix=J&max-keys=2", bucket, 3,
	    "AWS4-HMAC-SHA256 Credential=" AWS_AK "/20130524/us-east-1/s3/"
	    "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
	    "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711e"
	    "f69dc6f7");
	/* Refused: a repeated header, no payload hash, a bad date. */
	assert_int_equal(qbk_s3_sign("GET", "/", NULL, bad, 3, AWS_AK, AWS_SK,
	    "us-east-1", "20130524T000000Z", &b), -1);
	assert_int_equal(qbk_s3_sign("GET", "/", NULL, bad, 1, AWS_AK, AWS_SK,
	    "us-east-1", "20130524T000000Z", &b), -1);
	assert_int_equal(qbk_s3_sign("GET", "/", NULL, bucket, 3, AWS_AK,
	    AWS_SK, "us-east-1", "2013-05-24", &b), -1);
	assert_int_equal(b.len, 0);
	qbk_buf_release(&b);
}

static void
test_store_open_errors(void **state)
{
	struct qbk_store *s;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_store_s3 c;
	struct qbk_store_opts so = QBK_STORE_OPTS_INIT;

	(void)state;
	assert_int_equal(qbk_store_open("s3://", NULL, &s, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_null(s);
	memset(&c, 0, sizeof(c));
	c.endpoint = "http://127.0.0.1:1";
	c.retries = 1;
	so.s3 = &c;
	qbk_err_clear(&err);
	assert_int_equal(qbk_store_open("s3://bk/p", &so, &s, &err), -1);
	assert_int_equal(err.code, QBK_E_NET);
	assert_non_null(strstr(err.msg, "s3://bk/p"));
	c.endpoint = "gopher://h";
	qbk_err_clear(&err);
	assert_int_equal(qbk_store_open("s3://bk/p", &so, &s, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_path_style),
		cmocka_unit_test(test_url_host_style),
		cmocka_unit_test(test_url_errors),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_parse_list_last_and_empty),
		cmocka_unit_test(test_parse_list_malformed),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_retryable),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_sign_aws_examples),
		cmocka_unit_test(test_store_open_errors),
	};

	if (qbk_init(NULL) != 0)
		return 1;
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
