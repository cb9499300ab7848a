#ifndef QBK_SHA256_H
#define QBK_SHA256_H

#include <stddef.h>
#include <stdint.h>

/*
 * SHA-256, the one adapter over OpenSSL's EVP digests outside repo/qbk_crypto
 * (which owns the keyed and encrypting primitives).  A snapshot's SHA-256,
 * point fingerprints and S3 request signing all hash through here.
 */
#define QBK_SHA256_LEN	32

struct qbk_sha256;

/** qbk_sha256_new(): a context ready for qbk_sha256_update(); aborts when
 * out of memory, as qbk_xmalloc() does.  Caller frees with
 * qbk_sha256_free(). */
struct qbk_sha256 *qbk_sha256_new(void);

/** qbk_sha256_update(h, data, len): hash ${len} more bytes. */
void qbk_sha256_update(struct qbk_sha256 *, const void *, size_t);

/** qbk_sha256_final(h, md): write the digest of everything hashed since
 * qbk_sha256_new() or the last qbk_sha256_final() into ${md}, and start
 * over. */
void qbk_sha256_final(struct qbk_sha256 *, uint8_t *);

/** qbk_sha256_reset(h): forget what was hashed, as if new. */
void qbk_sha256_reset(struct qbk_sha256 *);

/** qbk_sha256_free(h): free ${h}; NULL is fine. */
void qbk_sha256_free(struct qbk_sha256 *);

/** qbk_sha256(data, len, md): the digest of ${len} bytes, in one call. */
void qbk_sha256(const void *, size_t, uint8_t *);

/** qbk_hmac_sha256(key, keylen, data, len, md): HMAC-SHA256 (RFC 2104) of
 * ${len} bytes under a key of ${keylen} bytes, as S3's SigV4 needs. */
void qbk_hmac_sha256(const void *, size_t, const void *, size_t, uint8_t *);

/** qbk_md5(data, len, md): the 16-byte MD5 of ${len} bytes, for S3's
 * Content-MD5 and ETag checks only (not a security function). */
void qbk_md5(const void *, size_t, uint8_t *);

#endif /* !QBK_SHA256_H */
