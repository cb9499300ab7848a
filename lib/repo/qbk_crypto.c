#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_log.h"
#include "repo/qbk_crypto.h"

/* Subkey ids of crypto_kdf_derive_from_key() under the context "qbk-repo". */
#define KDF_CONTEXT	"qbk-repo"
#define KDF_ID_CHUNK_ID	1
#define KDF_ID_GEAR	2
#define KDF_ID_DATA	3
#define KDF_ID_META	4
#define KDF_ID_CONFIG	5

/* What a key slot of format 2 adds to its associated data: it opens only
 * where the repository config must be authenticated (qbk_repo). */
#define SLOT_V2_MARK	"config-mac"

/* BLAKE2b personalizations: exactly crypto_generichash_blake2b_PERSONALBYTES
 * (16) characters, no NUL. */
static const char pers_gcm[16] = "qbk.aes256gcm.v1";
static const char pers_keyfile[16] = "qbk.keyfile.wrap";

struct qbk_crypto_keys {
	uint8_t master[QBK_CRYPTO_KEY_LEN];
	uint8_t id_key[QBK_CRYPTO_KEY_LEN];
	uint8_t gear_key[QBK_CRYPTO_KEY_LEN];
	uint8_t data_key[QBK_CRYPTO_KEY_LEN];
	uint8_t meta_key[QBK_CRYPTO_KEY_LEN];
	uint8_t config_key[QBK_CRYPTO_KEY_LEN];
};

struct qbk_crypto_keyfile {
	uint8_t key[QBK_CRYPTO_KEY_LEN];
};

struct qbk_crypto_cipher {
	EVP_CIPHER_CTX *ctx;
	const EVP_CIPHER *cur;	/* the cipher ${ctx} is set up for */
	EVP_CIPHER *chacha;	/* NULL: XChaCha20 through libsodium */
	EVP_CIPHER *gcm;	/* NULL: no AES-256-GCM in this build */
};

static const char *aead_names[] = {
	"none", "xchacha20-poly1305", "aes256-gcm"
};

const char *
qbk_crypto_aead_name(enum qbk_crypto_aead aead)
{
	if ((unsigned int)aead >= sizeof(aead_names) / sizeof(aead_names[0]))
		return "?";
	return aead_names[aead];
}

int
qbk_crypto_aead_parse(const char *name, enum qbk_crypto_aead *out,
    struct qbk_err *err)
{
	unsigned int i;

	for (i = 0; i < sizeof(aead_names) / sizeof(aead_names[0]); i++)
		if (strcmp(name, aead_names[i]) == 0) {
			*out = (enum qbk_crypto_aead)i;
			return 0;
		}
	return qbk_err_set(err, QBK_E_CONFIG,
	    "unknown encryption algorithm '%s': expected none, "
	    "xchacha20-poly1305 or aes256-gcm", name);
}

int
qbk_crypto_aead_check(enum qbk_crypto_aead aead, struct qbk_err *err)
{
	struct qbk_crypto_cipher *c;
	int ok;

	switch (aead) {
	case QBK_CRYPTO_AEAD_NONE:
	case QBK_CRYPTO_AEAD_XCHACHA:
		/* libsodium backs XChaCha20-Poly1305 up. */
		return 0;
	case QBK_CRYPTO_AEAD_AESGCM:
		if (qbk_crypto_cipher_new(0, &c, err) != 0)
			return -1;
		ok = c->gcm != NULL;
		qbk_crypto_cipher_free(c);
		if (!ok)
			return qbk_err_set(err, QBK_E_CONFIG,
			    "encryption algorithm 'aes256-gcm' is not "
			    "available: libcrypto has no AES-256-GCM");
		if (!crypto_aead_aes256gcm_is_available())
			qbk_warn("this CPU has no AES instructions: "
			    "aes256-gcm will be slow; xchacha20-poly1305 "
			    "is faster here");
		return 0;
	}
	return qbk_err_set(err, QBK_E_CONFIG,
	    "unknown encryption algorithm %d", (int)aead);
}

void
qbk_crypto_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

int
qbk_crypto_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

/* Keys. */

int
qbk_crypto_keys_from_master(const uint8_t *master,
    struct qbk_crypto_keys **out, struct qbk_err *err)
{
	struct qbk_crypto_keys *k;

	*out = NULL;
	if ((k = sodium_malloc(sizeof(*k))) == NULL)
		return qbk_err_sys(err, QBK_E_NOMEM,
		    "cannot allocate secure memory for keys");
	memcpy(k->master, master, QBK_CRYPTO_KEY_LEN);
	crypto_kdf_derive_from_key(k->id_key, QBK_CRYPTO_KEY_LEN,
	    KDF_ID_CHUNK_ID, KDF_CONTEXT, k->master);
	crypto_kdf_derive_from_key(k->gear_key, QBK_CRYPTO_KEY_LEN,
	    KDF_ID_GEAR, KDF_CONTEXT, k->master);
	crypto_kdf_derive_from_key(k->data_key, QBK_CRYPTO_KEY_LEN,
	    KDF_ID_DATA, KDF_CONTEXT, k->master);
	crypto_kdf_derive_from_key(k->meta_key, QBK_CRYPTO_KEY_LEN,
	    KDF_ID_META, KDF_CONTEXT, k->master);
	crypto_kdf_derive_from_key(k->config_key, QBK_CRYPTO_KEY_LEN,
	    KDF_ID_CONFIG, KDF_CONTEXT, k->master);
	*out = k;
	return 0;
}

int
qbk_crypto_keys_new(struct qbk_crypto_keys **out, struct qbk_err *err)
{
	uint8_t master[QBK_CRYPTO_KEY_LEN];
	int rc;

	randombytes_buf(master, sizeof(master));
	rc = qbk_crypto_keys_from_master(master, out, err);
	sodium_memzero(master, sizeof(master));
	return rc;
}

void
qbk_crypto_keys_free(struct qbk_crypto_keys *k)
{
	/* sodium_free() wipes the memory before releasing it. */
	if (k != NULL)
		sodium_free(k);
}

void
qbk_crypto_chunk_id(const struct qbk_crypto_keys *k, const void *data,
    size_t len, uint8_t *id)
{
	crypto_generichash(id, QBK_CRYPTO_ID_LEN, data, len, k->id_key,
	    QBK_CRYPTO_KEY_LEN);
}

void
qbk_crypto_gear_table(const struct qbk_crypto_keys *k, uint64_t *gear)
{
	static const uint8_t zero_nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
	uint8_t stream[256 * 8];
	size_t i, j;

	crypto_stream_chacha20_ietf(stream, sizeof(stream), zero_nonce,
	    k->gear_key);
	for (i = 0; i < 256; i++) {
		uint64_t v = 0;

		for (j = 8; j > 0; j--)
			v = (v << 8) | stream[8 * i + j - 1];
		gear[i] = v;
	}
	sodium_memzero(stream, sizeof(stream));
}

/* AEAD. */

int
qbk_crypto_cipher_new(unsigned int flags, struct qbk_crypto_cipher **out,
    struct qbk_err *err)
{
	struct qbk_crypto_cipher *c;

	*out = NULL;
	c = qbk_xcalloc(1, sizeof(*c));
	if ((c->ctx = EVP_CIPHER_CTX_new()) == NULL) {
		free(c);
		return qbk_err_set(err, QBK_E_NOMEM,
		    "cannot allocate a cipher context");
	}
	/* Either fetch may fail (FIPS mode, a trimmed libcrypto): then the
	 * fallback or a clear error at use takes over. */
	if ((flags & QBK_CRYPTO_CIPHER_SODIUM) == 0)
		c->chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	c->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	ERR_clear_error();
	*out = c;
	return 0;
}

void
qbk_crypto_cipher_free(struct qbk_crypto_cipher *c)
{
	if (c == NULL)
		return;
	EVP_CIPHER_CTX_free(c->ctx);
	EVP_CIPHER_free(c->chacha);
	EVP_CIPHER_free(c->gcm);
	free(c);
}

/* Largest piece handed to EVP at once: its lengths are int. */
#define EVP_PIECE	((size_t)1 << 30)

/*
 * One AEAD operation through EVP with a 12-byte IV.  Returns 0, 1 when the
 * tag does not verify (decryption), or -1 when libcrypto fails otherwise.
 */
static int
evp_run(struct qbk_crypto_cipher *c, const EVP_CIPHER *ci, int enc,
    const uint8_t *key, const uint8_t *iv, const uint8_t *ad, size_t adlen,
    const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = c->ctx;
	size_t n;
	int outl;

	/* Naming the cipher makes libcrypto allocate a new context; a new
	 * key and IV alone reuse the one there is. */
	if (c->cur != ci) {
		c->cur = NULL;
		if (EVP_CipherInit_ex(ctx, ci, NULL, NULL, NULL, enc) != 1)
			return -1;
		c->cur = ci;
	}
	if (EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) != 1)
		return -1;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG,
	    QBK_CRYPTO_TAG_LEN, tag) != 1)
		return -1;
	while (adlen > 0) {
		n = adlen < EVP_PIECE ? adlen : EVP_PIECE;
		if (EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)n) != 1)
			return -1;
		ad += n;
		adlen -= n;
	}
	while (len > 0) {
		n = len < EVP_PIECE ? len : EVP_PIECE;
		if (EVP_CipherUpdate(ctx, out, &outl, in, (int)n) != 1 ||
		    (size_t)outl != n)
			return -1;
		in += n;
		out += n;
		len -= n;
	}
	if (EVP_CipherFinal_ex(ctx, out, &outl) != 1)
		return enc ? -1 : 1;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
	    QBK_CRYPTO_TAG_LEN, tag) != 1)
		return -1;
	return 0;
}

/* XChaCha20-Poly1305 through libsodium: returns as evp_run() does. */
static int
sodium_xchacha(int enc, const uint8_t *key, const uint8_t *nonce,
    const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
    uint8_t *out, uint8_t *tag)
{
	if (enc) {
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, tag,
		    NULL, in, len, ad, adlen, NULL, nonce, key);
		return 0;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out, NULL, in,
	    len, tag, ad, adlen, nonce, key) != 0)
		return 1;
	return 0;
}

static const uint8_t *
use_key(const struct qbk_crypto_keys *k, enum qbk_crypto_use use)
{
	return use == QBK_CRYPTO_USE_META ? k->meta_key : k->data_key;
}

/*
 * Encrypt (enc 1) or decrypt (enc 0).  ${tag} is written when encrypting and
 * read when decrypting.  Returns 0, 1 for a tag that does not verify, or -1
 * with ${err} set.
 */
static int
aead_run(struct qbk_crypto_cipher *c, int enc, const struct qbk_crypto_keys *k,
    enum qbk_crypto_use use, enum qbk_crypto_aead aead, const uint8_t *nonce,
    const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
    uint8_t *out, uint8_t *tag, struct qbk_err *err)
{
	const uint8_t *key = use_key(k, use);
	uint8_t sub[QBK_CRYPTO_KEY_LEN], iv[12];
	int rc;

	switch (aead) {
	case QBK_CRYPTO_AEAD_XCHACHA:
		if (c->chacha == NULL)
			return sodium_xchacha(enc, key, nonce, ad, adlen, in,
			    len, out, tag);
		/* XChaCha20-Poly1305-IETF is ChaCha20-Poly1305-IETF under
		 * the key HChaCha20(key, nonce[0..16]) with the IV
		 * 00 00 00 00 || nonce[16..24]; libsodium does the same. */
		crypto_core_hchacha20(sub, nonce, key, NULL);
		memset(iv, 0, 4);
		memcpy(iv + 4, nonce + 16, 8);
		rc = evp_run(c, c->chacha, enc, sub, iv, ad, adlen, in, len,
		    out, tag);
		break;
	case QBK_CRYPTO_AEAD_AESGCM:
		if (c->gcm == NULL)
			return qbk_err_set(err, QBK_E_CONFIG,
			    "encryption algorithm 'aes256-gcm' is not "
			    "available: libcrypto has no AES-256-GCM");
		/* A one-time key per object: the fixed IV never repeats
		 * under one key. */
		crypto_generichash_blake2b_salt_personal(sub, sizeof(sub),
		    nonce, QBK_CRYPTO_NONCE_LEN, key, QBK_CRYPTO_KEY_LEN, NULL,
		    (const unsigned char *)pers_gcm);
		memset(iv, 0, sizeof(iv));
		rc = evp_run(c, c->gcm, enc, sub, iv, ad, adlen, in, len, out,
		    tag);
		break;
	default:
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "cannot %s with algorithm '%s'",
		    enc ? "encrypt" : "decrypt", qbk_crypto_aead_name(aead));
	}
	sodium_memzero(sub, sizeof(sub));
	if (rc < 0) {
		ERR_clear_error();
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "libcrypto failed to %s with '%s'",
		    enc ? "encrypt" : "decrypt", qbk_crypto_aead_name(aead));
	}
	return rc;
}

int
qbk_crypto_seal(struct qbk_crypto_cipher *c, const struct qbk_crypto_keys *k,
    enum qbk_crypto_use use, enum qbk_crypto_aead aead, const uint8_t *nonce,
    const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
    uint8_t *out, uint8_t *tag, struct qbk_err *err)
{
	struct qbk_crypto_cipher *tmp = NULL;
	int rc;

	if (c == NULL) {
		if (qbk_crypto_cipher_new(0, &tmp, err) != 0)
			return -1;
		c = tmp;
	}
	rc = aead_run(c, 1, k, use, aead, nonce, ad, adlen, in, len, out,
	    tag, err);
	qbk_crypto_cipher_free(tmp);
	return rc == 0 ? 0 : -1;
}

int
qbk_crypto_open(struct qbk_crypto_cipher *c, const struct qbk_crypto_keys *k,
    enum qbk_crypto_use use, enum qbk_crypto_aead aead, const uint8_t *nonce,
    const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
    const uint8_t *tag, uint8_t *out, struct qbk_err *err)
{
	struct qbk_crypto_cipher *tmp = NULL;
	uint8_t t[QBK_CRYPTO_TAG_LEN];
	int rc;

	if (c == NULL) {
		if (qbk_crypto_cipher_new(0, &tmp, err) != 0)
			return -1;
		c = tmp;
	}
	/* A copy: EVP wants a writable tag, and ${tag} may lie in ${out}. */
	memcpy(t, tag, sizeof(t));
	rc = aead_run(c, 0, k, use, aead, nonce, ad, adlen, in, len, out, t,
	    err);
	qbk_crypto_cipher_free(tmp);
	if (rc == 1) {
		/* Never hand out unauthenticated plaintext. */
		sodium_memzero(out, len);
		return qbk_err_set(err, QBK_E_INTEGRITY,
		    "authentication failed");
	}
	return rc;
}

void
qbk_crypto_mac(const struct qbk_crypto_keys *k, enum qbk_crypto_use use,
    const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    uint8_t *tag)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, use_key(k, use), QBK_CRYPTO_KEY_LEN,
	    QBK_CRYPTO_TAG_LEN);
	crypto_generichash_update(&st, a, alen);
	crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, tag, QBK_CRYPTO_TAG_LEN);
	sodium_memzero(&st, sizeof(st));
}

void
qbk_crypto_config_mac(const struct qbk_crypto_keys *k, const void *text,
    size_t len, uint8_t *mac)
{
	crypto_generichash(mac, QBK_CRYPTO_CONFIG_MAC_LEN, text, len,
	    k->config_key, QBK_CRYPTO_KEY_LEN);
}

/* Key files. */

static int
keyfile_alloc(struct qbk_crypto_keyfile **out, struct qbk_err *err)
{
	if ((*out = sodium_malloc(sizeof(**out))) == NULL)
		return qbk_err_sys(err, QBK_E_NOMEM,
		    "cannot allocate secure memory for a key file");
	return 0;
}

int
qbk_crypto_keyfile_generate(struct qbk_crypto_keyfile **out,
    struct qbk_err *err)
{
	if (keyfile_alloc(out, err) != 0)
		return -1;
	randombytes_buf((*out)->key, QBK_CRYPTO_KEY_LEN);
	return 0;
}

void
qbk_crypto_keyfile_free(struct qbk_crypto_keyfile *kf)
{
	if (kf != NULL)
		sodium_free(kf);
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
qbk_crypto_keyfile_parse(const char *text, size_t len,
    struct qbk_crypto_keyfile **out, struct qbk_err *err)
{
	const size_t hlen = sizeof(QBK_CRYPTO_KEYFILE_HEADER) - 1;
	char hex[2 * QBK_CRYPTO_KEY_LEN + 1];
	size_t pos, got;
	int rc = -1;

	*out = NULL;
	while (len > 0 && is_space(text[len - 1]))
		len--;
	if (len < hlen || memcmp(text, QBK_CRYPTO_KEYFILE_HEADER, hlen) != 0)
		return qbk_err_set(err, QBK_E_CONFIG,
		    "not a qbk key file: the first line is not '%s'",
		    QBK_CRYPTO_KEYFILE_HEADER);
	pos = hlen;
	if (pos < len && text[pos] == '\r')
		pos++;
	if (pos >= len || text[pos] != '\n' ||
	    len - pos - 1 != 2 * QBK_CRYPTO_KEY_LEN)
		return qbk_err_set(err, QBK_E_CONFIG,
		    "not a qbk key file: expected %d hex digits on the second "
		    "line", 2 * QBK_CRYPTO_KEY_LEN);
	memcpy(hex, text + pos + 1, 2 * QBK_CRYPTO_KEY_LEN);
	hex[2 * QBK_CRYPTO_KEY_LEN] = '\0';
	if (keyfile_alloc(out, err) != 0)
		goto done;
	if (sodium_hex2bin((*out)->key, QBK_CRYPTO_KEY_LEN, hex,
	    2 * QBK_CRYPTO_KEY_LEN, NULL, &got, NULL) != 0 ||
	    got != QBK_CRYPTO_KEY_LEN) {
		qbk_crypto_keyfile_free(*out);
		*out = NULL;
		qbk_err_set(err, QBK_E_CONFIG,
		    "not a qbk key file: the key is not %d hex digits",
		    2 * QBK_CRYPTO_KEY_LEN);
		goto done;
	}
	rc = 0;
done:
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

/* A key file is a header and 64 hex digits: anything much longer is not. */
#define KEYFILE_MAX	4096

int
qbk_crypto_keyfile_load(const char *path, struct qbk_crypto_keyfile **out,
    struct qbk_err *err)
{
	char text[KEYFILE_MAX];
	size_t len = 0;
	ssize_t n;
	int fd, rc = -1;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return qbk_err_sys(err, QBK_E_IO, "cannot open key file '%s'",
		    path);
	while (len < sizeof(text)) {
		n = read(fd, text + len, sizeof(text) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			qbk_err_sys(err, QBK_E_IO, "cannot read key file '%s'",
			    path);
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == sizeof(text)) {
		qbk_err_set(err, QBK_E_CONFIG,
		    "not a qbk key file: '%s' is too large", path);
		goto done;
	}
	if (qbk_crypto_keyfile_parse(text, len, out, err) != 0) {
		qbk_err_prefix(err, "key file '%s'", path);
		goto done;
	}
	rc = 0;
done:
	sodium_memzero(text, sizeof(text));
	close(fd);
	return rc;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
qbk_crypto_keyfile_write(const struct qbk_crypto_keyfile *kf,
    const char *path, struct qbk_err *err)
{
	/* Key material: a fixed array that is wiped, not a qbk_buf. */
	char text[sizeof(QBK_CRYPTO_KEYFILE_HEADER) + 2 * QBK_CRYPTO_KEY_LEN +
	    2];
	size_t hlen = sizeof(QBK_CRYPTO_KEYFILE_HEADER) - 1;
	int fd, rc = -1;

	memcpy(text, QBK_CRYPTO_KEYFILE_HEADER, hlen);
	text[hlen] = '\n';
	sodium_bin2hex(text + hlen + 1, 2 * QBK_CRYPTO_KEY_LEN + 1, kf->key,
	    QBK_CRYPTO_KEY_LEN);
	text[sizeof(text) - 2] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		qbk_err_sys(err, QBK_E_IO, "cannot create key file '%s'", path);
		goto done;
	}
	if (write_all(fd, text, sizeof(text) - 1) != 0 || fsync(fd) != 0) {
		qbk_err_sys(err, QBK_E_IO, "cannot write key file '%s'", path);
		close(fd);
		unlink(path);
		goto done;
	}
	if (close(fd) != 0) {
		qbk_err_sys(err, QBK_E_IO, "cannot write key file '%s'", path);
		unlink(path);
		goto done;
	}
	rc = 0;
done:
	sodium_memzero(text, sizeof(text));
	return rc;
}

/* Key slots. */

const char *
qbk_crypto_slot_kind_name(enum qbk_crypto_slot_kind kind)
{
	switch (kind) {
	case QBK_CRYPTO_SLOT_PASSPHRASE:
		return "passphrase";
	case QBK_CRYPTO_SLOT_KEYFILE:
		return "keyfile";
	}
	return "?";
}

int
qbk_crypto_slot_kind_parse(const char *name, enum qbk_crypto_slot_kind *out,
    struct qbk_err *err)
{
	if (strcmp(name, "passphrase") == 0)
		*out = QBK_CRYPTO_SLOT_PASSPHRASE;
	else if (strcmp(name, "keyfile") == 0)
		*out = QBK_CRYPTO_SLOT_KEYFILE;
	else
		return qbk_err_set(err, QBK_E_INTEGRITY,
		    "unknown key slot kind '%s'", name);
	return 0;
}

/* The associated data of a slot: repository id, 0x00, slot id; format 2
 * adds 0x00 and SLOT_V2_MARK. */
static void
slot_ad(struct qbk_buf *ad, const char *repo_id, const char *slot_id,
    unsigned int format)
{
	qbk_buf_addstr(ad, repo_id);
	qbk_buf_addch(ad, 0);
	qbk_buf_addstr(ad, slot_id);
	if (format >= 2) {
		qbk_buf_addch(ad, 0);
		qbk_buf_addstr(ad, SLOT_V2_MARK);
	}
}

static int
costs_ok(unsigned long long ops, unsigned long long mem)
{
	return ops >= QBK_CRYPTO_PWHASH_OPSLIMIT_MIN &&
	    ops <= QBK_CRYPTO_PWHASH_OPSLIMIT_MAX &&
	    mem >= QBK_CRYPTO_PWHASH_MEMLIMIT_MIN &&
	    mem <= QBK_CRYPTO_PWHASH_MEMLIMIT_MAX && mem <= SIZE_MAX;
}

/* Argon2id of a passphrase into ${wkey}.  Returns 0 or -1. */
static int
pwhash(uint8_t *wkey, const char *pass, size_t passlen, const uint8_t *salt,
    unsigned long long ops, unsigned long long mem, struct qbk_err *err)
{
	if (crypto_pwhash(wkey, QBK_CRYPTO_KEY_LEN, pass, passlen, salt, ops,
	    (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return qbk_err_set(err, QBK_E_NOMEM,
		    "cannot derive a key from the passphrase: Argon2id needs "
		    "%llu MiB of memory", mem >> 20);
	return 0;
}

static void
keyfile_wkey(uint8_t *wkey, const struct qbk_crypto_keyfile *kf)
{
	crypto_generichash_blake2b_salt_personal(wkey, QBK_CRYPTO_KEY_LEN,
	    NULL, 0, kf->key, QBK_CRYPTO_KEY_LEN, NULL,
	    (const unsigned char *)pers_keyfile);
}

/* Encrypt the master key under ${wkey} into ${slot}'s nonce and wrapped. */
static void
slot_seal(struct qbk_crypto_slot *slot, const uint8_t *wkey,
    const struct qbk_crypto_keys *k, const char *repo_id, const char *slot_id)
{
	struct qbk_buf ad = QBK_BUF_INIT;
	uint8_t nonce[QBK_CRYPTO_NONCE_LEN], c[QBK_CRYPTO_WRAPPED_LEN];

	slot_ad(&ad, repo_id, slot_id, slot->format);
	randombytes_buf(nonce, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, k->master,
	    QBK_CRYPTO_KEY_LEN, (const uint8_t *)ad.buf, ad.len, NULL, nonce,
	    wkey);
	qbk_hex(nonce, sizeof(nonce), slot->nonce);
	qbk_hex(c, sizeof(c), slot->wrapped);
	qbk_buf_release(&ad);
}

int
qbk_crypto_slot_wrap_passphrase(const struct qbk_crypto_keys *k,
    const char *repo_id, const char *slot_id, const char *pass,
    size_t passlen, unsigned long long ops, unsigned long long mem,
    struct qbk_crypto_slot *slot, struct qbk_err *err)
{
	uint8_t salt[QBK_CRYPTO_SALT_LEN], wkey[QBK_CRYPTO_KEY_LEN];

	if (pass == NULL || passlen == 0)
		return qbk_err_set(err, QBK_E_USAGE, "the passphrase is empty");
	if (!costs_ok(ops, mem))
		return qbk_err_set(err, QBK_E_USAGE,
		    "Argon2id costs out of range: opslimit %llu (%llu..%llu), "
		    "memlimit %llu (%llu..%llu)", ops,
		    QBK_CRYPTO_PWHASH_OPSLIMIT_MIN,
		    QBK_CRYPTO_PWHASH_OPSLIMIT_MAX, mem,
		    QBK_CRYPTO_PWHASH_MEMLIMIT_MIN,
		    QBK_CRYPTO_PWHASH_MEMLIMIT_MAX);
	memset(slot, 0, sizeof(*slot));
	slot->format = QBK_CRYPTO_SLOT_FORMAT;
	randombytes_buf(salt, sizeof(salt));
	if (pwhash(wkey, pass, passlen, salt, ops, mem, err) != 0)
		return -1;
	slot->kind = QBK_CRYPTO_SLOT_PASSPHRASE;
	slot->opslimit = ops;
	slot->memlimit = mem;
	qbk_hex(salt, sizeof(salt), slot->salt);
	slot_seal(slot, wkey, k, repo_id, slot_id);
	sodium_memzero(wkey, sizeof(wkey));
	return 0;
}

int
qbk_crypto_slot_wrap_keyfile(const struct qbk_crypto_keys *k,
    const char *repo_id, const char *slot_id,
    const struct qbk_crypto_keyfile *kf, struct qbk_crypto_slot *slot,
    struct qbk_err *err)
{
	uint8_t wkey[QBK_CRYPTO_KEY_LEN];

	(void)err;
	memset(slot, 0, sizeof(*slot));
	slot->format = QBK_CRYPTO_SLOT_FORMAT;
	slot->kind = QBK_CRYPTO_SLOT_KEYFILE;
	keyfile_wkey(wkey, kf);
	slot_seal(slot, wkey, k, repo_id, slot_id);
	sodium_memzero(wkey, sizeof(wkey));
	return 0;
}

int
qbk_crypto_slot_unwrap(const struct qbk_crypto_slot *slot,
    const char *repo_id, const char *slot_id, const char *pass,
    size_t passlen, const struct qbk_crypto_keyfile *kf,
    struct qbk_crypto_keys **out, struct qbk_err *err)
{
	struct qbk_buf ad = QBK_BUF_INIT;
	uint8_t salt[QBK_CRYPTO_SALT_LEN], nonce[QBK_CRYPTO_NONCE_LEN];
	uint8_t c[QBK_CRYPTO_WRAPPED_LEN];
	uint8_t *wkey = NULL, *master = NULL;
	int rc = -1;

	*out = NULL;
	if (slot->format > QBK_CRYPTO_SLOT_FORMAT)
		return qbk_err_set(err, QBK_E_INTEGRITY,
		    "key slot '%s' has format %u, which this qbk does not read",
		    slot_id, slot->format);
	if (qbk_unhex(slot->nonce, nonce, sizeof(nonce)) != 0 ||
	    qbk_unhex(slot->wrapped, c, sizeof(c)) != 0)
		return qbk_err_set(err, QBK_E_INTEGRITY,
		    "key slot '%s' is damaged: bad nonce or wrapped key",
		    slot_id);
	/* Secrets in guarded memory: the wrapping key and the master key. */
	if ((wkey = sodium_malloc(2 * QBK_CRYPTO_KEY_LEN)) == NULL)
		return qbk_err_sys(err, QBK_E_NOMEM,
		    "cannot allocate secure memory for keys");
	master = wkey + QBK_CRYPTO_KEY_LEN;
	switch (slot->kind) {
	case QBK_CRYPTO_SLOT_PASSPHRASE:
		if (qbk_unhex(slot->salt, salt, sizeof(salt)) != 0 ||
		    !costs_ok(slot->opslimit, slot->memlimit)) {
			qbk_err_set(err, QBK_E_INTEGRITY,
			    "key slot '%s' is damaged: bad salt or Argon2id "
			    "costs", slot_id);
			goto done;
		}
		if (pass == NULL || passlen == 0) {
			qbk_err_set(err, QBK_E_CRYPTO,
			    "key slot '%s' needs a passphrase", slot_id);
			goto done;
		}
		if (pwhash(wkey, pass, passlen, salt, slot->opslimit,
		    slot->memlimit, err) != 0)
			goto done;
		break;
	case QBK_CRYPTO_SLOT_KEYFILE:
		if (kf == NULL) {
			qbk_err_set(err, QBK_E_CRYPTO,
			    "key slot '%s' needs a key file", slot_id);
			goto done;
		}
		keyfile_wkey(wkey, kf);
		break;
	default:
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "key slot '%s' is damaged: unknown kind", slot_id);
		goto done;
	}
	slot_ad(&ad, repo_id, slot_id, slot->format);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(master, NULL, NULL, c,
	    sizeof(c), (const uint8_t *)ad.buf, ad.len, nonce, wkey) != 0) {
		qbk_err_set(err, QBK_E_CRYPTO,
		    "wrong passphrase or key file for key slot '%s'", slot_id);
		goto done;
	}
	rc = qbk_crypto_keys_from_master(master, out, err);
done:
	qbk_buf_release(&ad);
	sodium_free(wkey);
	return rc;
}
