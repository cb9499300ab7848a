#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <archive.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <zstd.h>

#include "common/qbk.h"

int
qbk_init(struct qbk_err *err)
{
	if (sodium_init() < 0)
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "cannot initialise libsodium");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "cannot initialise libcurl");
	return 0;
}

const char *
qbk_version_text(void)
{
	static char text[512];

	if (text[0] == '\0')
		snprintf(text, sizeof(text),
		    "qbk %s (libcurl %s, jansson %s, %s, libsodium %s, "
		    "zstd %s, %s)",
		    QBK_VERSION, curl_version_info(CURLVERSION_NOW)->version,
		    JANSSON_VERSION, archive_version_string(),
		    sodium_version_string(), ZSTD_versionString(),
		    OpenSSL_version(OPENSSL_VERSION));
	return text;
}

int64_t
qbk_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
qbk_now(void)
{
	const char *s = getenv("QBK_TEST_NOW");
	char *end;
	long long v;

	if (s != NULL && *s != '\0') {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0' && v > 0)
			return (int64_t)v;
	}
	return (int64_t)time(NULL);
}
