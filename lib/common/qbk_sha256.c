#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/qbk_sha256.h"

/*
 * EVP fails only when out of memory or when the provider is missing, which
 * qbk_init() has ruled out; like qbk_xmalloc(), these abort rather than make
 * every hashing caller handle an error that cannot happen.
 */
struct qbk_sha256 {
	EVP_MD_CTX *md;
};

static void
init(struct qbk_sha256 *h)
{
	if (EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
		abort();
}

struct qbk_sha256 *
qbk_sha256_new(void)
{
	struct qbk_sha256 *h;

	if ((h = malloc(sizeof(*h))) == NULL ||
	    (h->md = EVP_MD_CTX_new()) == NULL)
		abort();
	init(h);
	return h;
}

void
qbk_sha256_update(struct qbk_sha256 *h, const void *data, size_t len)
{
	if (len > 0 && EVP_DigestUpdate(h->md, data, len) != 1)
		abort();
}

void
qbk_sha256_final(struct qbk_sha256 *h, uint8_t *md)
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->md, md, &n) != 1 || n != QBK_SHA256_LEN)
		abort();
	init(h);
}

void
qbk_sha256_reset(struct qbk_sha256 *h)
{
	init(h);
}

void
qbk_sha256_free(struct qbk_sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->md);
	free(h);
}

static void
oneshot(const EVP_MD *type, const void *data, size_t len, uint8_t *md)
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, md, &n, type, NULL) != 1)
		abort();
}

void
qbk_sha256(const void *data, size_t len, uint8_t *md)
{
	oneshot(EVP_sha256(), data, len, md);
}

void
qbk_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    uint8_t *md)
{
	uint8_t k[64], pad[64], inner[QBK_SHA256_LEN];
	struct qbk_sha256 *h = qbk_sha256_new();
	size_t i;

	memset(k, 0, sizeof(k));
	if (keylen > sizeof(k))
		qbk_sha256(key, keylen, k);
	else if (keylen > 0)
		memcpy(k, key, keylen);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	qbk_sha256_update(h, pad, sizeof(pad));
	qbk_sha256_update(h, data, len);
	qbk_sha256_final(h, inner);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	qbk_sha256_update(h, pad, sizeof(pad));
	qbk_sha256_update(h, inner, sizeof(inner));
	qbk_sha256_final(h, md);
	qbk_sha256_free(h);
}

void
qbk_md5(const void *data, size_t len, uint8_t *md)
{
	oneshot(EVP_md5(), data, len, md);
}
