#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "common/qbk.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "repo/qbk_crypto.h"
#include "testutil.h"

/*
 * The test may use libsodium and libcrypto directly: it re-derives what
 * qbk-repository(5) documents (KDF, chunk id, gear table, the AEADs) and
 * checks that qbk_crypto gives exactly those bytes.
 */

static const char pass[] = "correct horse battery staple";

static struct qbk_crypto_keys *
fixed_keys(uint8_t first)
{
	struct qbk_crypto_keys *k = NULL;
	uint8_t m[QBK_CRYPTO_KEY_LEN];
	size_t i;

	for (i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)(first + i);
	assert_int_equal(qbk_crypto_keys_from_master(m, &k, NULL), 0);
	assert_non_null(k);
	return k;
}

static struct qbk_crypto_keyfile *
fixed_keyfile(uint8_t first)
{
	struct qbk_crypto_keyfile *kf = NULL;
	char text[128];
	size_t i, n;

	n = (size_t)snprintf(text, sizeof(text), "%s\n",
	    QBK_CRYPTO_KEYFILE_HEADER);
	for (i = 0; i < QBK_CRYPTO_KEY_LEN; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%02x",
		    (unsigned int)(uint8_t)(first + i));
	text[n++] = '\n';
	assert_int_equal(qbk_crypto_keyfile_parse(text, n, &kf, NULL), 0);
	return kf;
}

static void
names(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;
	enum qbk_crypto_aead a;
	enum qbk_crypto_slot_kind kind;

	(void)state;
	assert_string_equal(qbk_crypto_aead_name(QBK_CRYPTO_AEAD_NONE), "none");
	assert_string_equal(qbk_crypto_aead_name(QBK_CRYPTO_AEAD_XCHACHA),
	    "xchacha20-poly1305");
	assert_string_equal(qbk_crypto_aead_name(QBK_CRYPTO_AEAD_AESGCM),
	    "aes256-gcm");
	assert_string_equal(qbk_crypto_aead_name((enum qbk_crypto_aead)9),
	    "?");
	assert_int_equal(qbk_crypto_aead_parse("aes256-gcm", &a, &err), 0);
	assert_int_equal(a, QBK_CRYPTO_AEAD_AESGCM);
	assert_int_equal(qbk_crypto_aead_parse("none", &a, &err), 0);
	assert_int_equal(a, QBK_CRYPTO_AEAD_NONE);
	assert_int_equal(qbk_crypto_aead_parse("aes", &a, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_non_null(strstr(err.msg, "'aes'"));
	assert_int_equal(QBK_CRYPTO_AEAD_DEFAULT, QBK_CRYPTO_AEAD_XCHACHA);
	assert_int_equal(qbk_crypto_aead_check(QBK_CRYPTO_AEAD_XCHACHA, &err),
	    0);
	assert_int_equal(qbk_crypto_aead_check(QBK_CRYPTO_AEAD_AESGCM, &err),
	    0);
	assert_int_equal(qbk_crypto_aead_check((enum qbk_crypto_aead)7, &err),
	    -1);
	assert_int_equal(qbk_crypto_slot_kind_parse("keyfile", &kind, &err), 0);
	assert_int_equal(kind, QBK_CRYPTO_SLOT_KEYFILE);
	assert_string_equal(qbk_crypto_slot_kind_name(kind), "keyfile");
	assert_int_equal(qbk_crypto_slot_kind_parse("passphrase", &kind, &err),
	    0);
	assert_string_equal(qbk_crypto_slot_kind_name(kind), "passphrase");
	assert_int_equal(qbk_crypto_slot_kind_parse("pgp", &kind, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
}

static void
hex(void **state)
{
	uint8_t b[4] = { 0x00, 0xab, 0x10, 0xff }, back[4];
	char h[9];

	(void)state;
	qbk_hex(b, 4, h);
	assert_string_equal(h, "00ab10ff");
	assert_int_equal(qbk_unhex(h, back, 4), 0);
	assert_memory_equal(b, back, 4);
	assert_int_equal(qbk_unhex("00AB10FF", back, 4), 0);
	assert_memory_equal(b, back, 4);
	assert_int_equal(qbk_unhex("00ab10f", back, 4), -1);
	assert_int_equal(qbk_unhex("00ab10fff0", back, 4), -1);
	assert_int_equal(qbk_unhex("00ab10fg", back, 4), -1);
	assert_int_equal(qbk_crypto_equal(b, back, 4), 1);
	back[3] ^= 1;
	assert_int_equal(qbk_crypto_equal(b, back, 4), 0);
}

/* The documented derivations, recomputed with libsodium itself. */
static void
derivations_as_documented(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0);
	static const uint8_t zero12[12];
	uint8_t m[32], sub[32], id[32], want[32], stream[2048];
	uint64_t gear[256];
	char h[65];
	size_t i;

	(void)state;
	for (i = 0; i < 32; i++)
		m[i] = (uint8_t)i;
	/* chunk id: BLAKE2b-256 keyed with subkey 1 of "qbk-repo" */
	crypto_kdf_derive_from_key(sub, 32, 1, "qbk-repo", m);
	crypto_generichash(want, 32, (const uint8_t *)"abc", 3, sub, 32);
	qbk_crypto_chunk_id(k, "abc", 3, id);
	assert_memory_equal(id, want, 32);
	/* and its value, which must never change */
	qbk_hex(id, 32, h);
	assert_string_equal(h, "02870137706487df30b5e629f8fe35f0"
	    "1bdfafe228a9fa42d4f6f10361afd5e1");
	/* gear: RFC 8439 ChaCha20 keystream of subkey 2, little-endian */
	crypto_kdf_derive_from_key(sub, 32, 2, "qbk-repo", m);
	crypto_stream_chacha20_ietf(stream, sizeof(stream), zero12, sub);
	qbk_crypto_gear_table(k, gear);
	for (i = 0; i < 256; i++) {
		uint64_t v;

		memcpy(&v, stream + 8 * i, 8);	/* this host is little-endian */
		assert_true(gear[i] == v);
	}
	assert_true(gear[0] == 0xdeb6c81f67199615ULL);
	assert_true(gear[255] == 0xde9462391615a94cULL);
	/* different master, different everything */
	qbk_crypto_keys_free(k);
	k = fixed_keys(1);
	qbk_crypto_chunk_id(k, "abc", 3, id);
	assert_memory_not_equal(id, want, 32);
	qbk_crypto_keys_free(k);
	qbk_crypto_keys_free(NULL);
}

static void
random_keys_differ(void **state)
{
	struct qbk_crypto_keys *a = NULL, *b = NULL;
	uint8_t ia[32], ib[32], r1[24], r2[24];

	(void)state;
	assert_int_equal(qbk_crypto_keys_new(&a, NULL), 0);
	assert_int_equal(qbk_crypto_keys_new(&b, NULL), 0);
	qbk_crypto_chunk_id(a, "x", 1, ia);
	qbk_crypto_chunk_id(b, "x", 1, ib);
	assert_memory_not_equal(ia, ib, 32);
	qbk_crypto_random(r1, sizeof(r1));
	qbk_crypto_random(r2, sizeof(r2));
	assert_memory_not_equal(r1, r2, sizeof(r1));
	qbk_crypto_keys_free(a);
	qbk_crypto_keys_free(b);
}

/* Seal with ${c} and check the bytes against libsodium / libcrypto. */
static void
check_aead(struct qbk_crypto_cipher *c, enum qbk_crypto_aead aead)
{
	struct qbk_crypto_keys *k = fixed_keys(0);
	struct qbk_err err = QBK_ERR_INIT;
	uint8_t m[32], dkey[32], nonce[24], ad[40], tag[16], tag2[16];
	uint8_t in[3000], ct[3000], pt[3000], ref[3000];
	size_t i;

	for (i = 0; i < 32; i++)
		m[i] = (uint8_t)i;
	crypto_kdf_derive_from_key(dkey, 32, 3, "qbk-repo", m);
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	memset(ad, 0x5a, sizeof(ad));
	qbk_crypto_random(nonce, sizeof(nonce));
	assert_int_equal(qbk_crypto_seal(c, k, QBK_CRYPTO_USE_DATA, aead,
	    nonce, ad, sizeof(ad), in, sizeof(in), ct, tag, &err), 0);
	assert_memory_not_equal(in, ct, sizeof(in));

	if (aead == QBK_CRYPTO_AEAD_XCHACHA) {
		/* libsodium opens it */
		int rc;

		rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(ref,
		    NULL, ct, sizeof(ct), tag, ad, sizeof(ad), nonce, dkey);
		assert_int_equal(rc, 0);
		assert_memory_equal(ref, in, sizeof(in));
	} else {
		/* AES-256-GCM under BLAKE2b(key, nonce, "qbk.aes256gcm.v1"),
		 * IV 12 zero bytes */
		EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
		uint8_t ok[32], iv[12] = { 0 };
		int n;

		crypto_generichash_blake2b_salt_personal(ok, 32, nonce, 24,
		    dkey, 32, NULL, (const uint8_t *)"qbk.aes256gcm.v1");
		assert_int_equal(EVP_EncryptInit_ex(x, EVP_aes_256_gcm(), NULL,
		    ok, iv), 1);
		assert_int_equal(EVP_EncryptUpdate(x, NULL, &n, ad,
		    (int)sizeof(ad)), 1);
		assert_int_equal(EVP_EncryptUpdate(x, ref, &n, in,
		    (int)sizeof(in)), 1);
		assert_int_equal(EVP_EncryptFinal_ex(x, ref + n, &n), 1);
		assert_int_equal(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG,
		    16, tag2), 1);
		EVP_CIPHER_CTX_free(x);
		assert_memory_equal(ref, ct, sizeof(ct));
		assert_memory_equal(tag, tag2, 16);
	}

	/* round trip, out of place and in place */
	assert_int_equal(qbk_crypto_open(c, k, QBK_CRYPTO_USE_DATA, aead,
	    nonce, ad, sizeof(ad), ct, sizeof(ct), tag, pt, &err), 0);
	assert_memory_equal(pt, in, sizeof(in));
	memcpy(pt, in, sizeof(in));
	assert_int_equal(qbk_crypto_seal(c, k, QBK_CRYPTO_USE_DATA, aead,
	    nonce, ad, sizeof(ad), pt, sizeof(pt), pt, tag2, &err), 0);
	assert_memory_equal(pt, ct, sizeof(ct));
	assert_int_equal(qbk_crypto_open(c, k, QBK_CRYPTO_USE_DATA, aead,
	    nonce, ad, sizeof(ad), pt, sizeof(pt), tag2, pt, &err), 0);
	assert_memory_equal(pt, in, sizeof(in));

	/* each of ciphertext, tag, ad, nonce, key use changed: rejected */
	ct[100] ^= 1;
	assert_int_equal(qbk_crypto_open(c, k, QBK_CRYPTO_USE_DATA, aead,
	    nonce, ad, sizeof(ad), ct, sizeof(ct), tag, pt, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	for (i = 0; i < sizeof(pt); i++)	/* wiped, not half-decrypted */
		assert_int_equal(pt[i], 0);
	ct[100] ^= 1;
	tag[15] ^= 0x80;
	assert_int_equal(qbk_crypto_open(c, k, QBK_CRYPTO_USE_DATA, aead,
	    nonce, ad, sizeof(ad), ct, sizeof(ct), tag, pt, &err), -1);
	tag[15] ^= 0x80;
	ad[0] ^= 1;
	assert_int_equal(qbk_crypto_open(c, k, QBK_CRYPTO_USE_DATA, aead,
	    nonce, ad, sizeof(ad), ct, sizeof(ct), tag, pt, &err), -1);
	ad[0] ^= 1;
	nonce[23] ^= 1;
	assert_int_equal(qbk_crypto_open(c, k, QBK_CRYPTO_USE_DATA, aead,
	    nonce, ad, sizeof(ad), ct, sizeof(ct), tag, pt, &err), -1);
	nonce[23] ^= 1;
	assert_int_equal(qbk_crypto_open(c, k, QBK_CRYPTO_USE_META, aead,
	    nonce, ad, sizeof(ad), ct, sizeof(ct), tag, pt, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_int_equal(qbk_crypto_open(c, k, QBK_CRYPTO_USE_DATA, aead,
	    nonce, ad, sizeof(ad), ct, sizeof(ct), tag, pt, &err), 0);

	/* empty message, no associated data, temporary cipher */
	assert_int_equal(qbk_crypto_seal(NULL, k, QBK_CRYPTO_USE_META, aead,
	    nonce, NULL, 0, NULL, 0, NULL, tag, &err), 0);
	assert_int_equal(qbk_crypto_open(NULL, k, QBK_CRYPTO_USE_META, aead,
	    nonce, NULL, 0, NULL, 0, tag, NULL, &err), 0);
	tag[0] ^= 1;
	assert_int_equal(qbk_crypto_open(NULL, k, QBK_CRYPTO_USE_META, aead,
	    nonce, NULL, 0, NULL, 0, tag, NULL, &err), -1);
	qbk_crypto_keys_free(k);
}

static void
aead_xchacha_libcrypto(void **state)
{
	struct qbk_crypto_cipher *c = NULL;

	(void)state;
	assert_int_equal(qbk_crypto_cipher_new(0, &c, NULL), 0);
	check_aead(c, QBK_CRYPTO_AEAD_XCHACHA);
	qbk_crypto_cipher_free(c);
	qbk_crypto_cipher_free(NULL);
}

static void
aead_xchacha_libsodium(void **state)
{
	struct qbk_crypto_cipher *c = NULL;

	(void)state;
	assert_int_equal(qbk_crypto_cipher_new(QBK_CRYPTO_CIPHER_SODIUM, &c,
	    NULL), 0);
	check_aead(c, QBK_CRYPTO_AEAD_XCHACHA);
	qbk_crypto_cipher_free(c);
}

static void
aead_aesgcm(void **state)
{
	struct qbk_crypto_cipher *c = NULL;

	(void)state;
	assert_int_equal(qbk_crypto_cipher_new(0, &c, NULL), 0);
	check_aead(c, QBK_CRYPTO_AEAD_AESGCM);
	qbk_crypto_cipher_free(c);
}

static void
aead_none_refused(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0);
	struct qbk_err err = QBK_ERR_INIT;
	uint8_t nonce[24] = { 0 }, buf[8] = { 0 }, tag[16];

	(void)state;
	assert_int_equal(qbk_crypto_seal(NULL, k, QBK_CRYPTO_USE_DATA,
	    QBK_CRYPTO_AEAD_NONE, nonce, NULL, 0, buf, sizeof(buf), buf, tag,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_INTERNAL);
	assert_int_equal(qbk_crypto_open(NULL, k, QBK_CRYPTO_USE_DATA,
	    (enum qbk_crypto_aead)5, nonce, NULL, 0, buf, sizeof(buf), tag, buf,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_INTERNAL);
	qbk_crypto_keys_free(k);
}

static void
keyfile_files(void **state)
{
	struct qbk_crypto_keyfile *kf = NULL, *back = NULL;
	struct qbk_crypto_keys *k = fixed_keys(0), *got = NULL;
	struct qbk_crypto_slot slot;
	struct qbk_err err = QBK_ERR_INIT;
	char *dir = tu_tmpdir("crypto");
	char path[1024], text[256];
	struct stat st;
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/repo.key", dir);
	assert_int_equal(qbk_crypto_keyfile_generate(&kf, &err), 0);
	assert_int_equal(qbk_crypto_keyfile_write(kf, path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* never overwrites */
	assert_int_equal(qbk_crypto_keyfile_write(kf, path, &err), -1);
	assert_int_equal(err.code, QBK_E_IO);
	assert_non_null(strstr(err.msg, "repo.key"));
	/* the text: header line, 64 hex digits, newline */
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_int_equal(n, strlen(QBK_CRYPTO_KEYFILE_HEADER) + 1 + 64 + 1);
	assert_memory_equal(text, "qbk-keyfile-v1\n", 15);
	assert_int_equal(text[n - 1], '\n');
	assert_int_equal(strspn(text + 15, "0123456789abcdef"), 64);
	/* loads back to the same key: a slot made with one opens with the
	 * other */
	assert_int_equal(qbk_crypto_keyfile_load(path, &back, &err), 0);
	assert_int_equal(qbk_crypto_slot_wrap_keyfile(k, "r", "s", kf, &slot,
	    &err), 0);
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "r", "s", NULL, 0, back,
	    &got, &err), 0);
	qbk_crypto_keys_free(got);
	qbk_crypto_keyfile_free(back);
	back = NULL;
	snprintf(path, sizeof(path), "%s/missing.key", dir);
	assert_int_equal(qbk_crypto_keyfile_load(path, &back, &err), -1);
	assert_int_equal(err.code, QBK_E_IO);
	assert_null(back);
	snprintf(path, sizeof(path), "%s/bad.key", dir);
	assert_int_equal(tu_write_file(path, "hello\n"), 0);
	assert_int_equal(qbk_crypto_keyfile_load(path, &back, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_non_null(strstr(err.msg, "bad.key"));
	assert_null(back);
	qbk_crypto_keyfile_free(kf);
	qbk_crypto_keyfile_free(NULL);
	qbk_crypto_keys_free(k);
	tu_rmrf(dir);
}

static void
keyfile_parse(void **state)
{
	struct qbk_crypto_keyfile *kf = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	const char *h64 =
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	char text[256];
	/* text before and after the 64 hex digits */
	const char *bad[][2] = {
		{ "", "" },
		{ "qbk-keyfile-v2\n", "\n" },
		{ "qbk-keyfile-v1 ", "\n" },
		{ "qbk-keyfile-v1\n", "0\n" },
		{ "qbk-keyfile-v1\n\n", "\n" },
		{ "qbk-keyfile-v1\n", "\nmore\n" },
	};
	size_t i;

	(void)state;
	snprintf(text, sizeof(text), "qbk-keyfile-v1\r\n%s \r\n\n", h64);
	assert_int_equal(qbk_crypto_keyfile_parse(text, strlen(text), &kf,
	    &err), 0);
	qbk_crypto_keyfile_free(kf);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kf = NULL;
		snprintf(text, sizeof(text), "%s%s%s", bad[i][0],
		    i == 0 ? "" : h64, bad[i][1]);
		assert_int_equal(qbk_crypto_keyfile_parse(text, strlen(text),
		    &kf, &err), -1);
		assert_int_equal(err.code, QBK_E_CONFIG);
		assert_null(kf);
	}
	snprintf(text, sizeof(text), "qbk-keyfile-v1\n%s\n", h64);
	text[20] = 'x';
	assert_int_equal(qbk_crypto_keyfile_parse(text, strlen(text), &kf,
	    &err), -1);
	assert_null(kf);
}

static void
slot_passphrase(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0), *got = NULL;
	struct qbk_crypto_slot slot, other;
	struct qbk_err err = QBK_ERR_INIT;
	uint8_t a[32], b[32];

	(void)state;
	assert_int_equal(qbk_crypto_slot_wrap_passphrase(k, "repo-1", "slot-a",
	    pass, strlen(pass), QBK_CRYPTO_PWHASH_OPSLIMIT_MIN,
	    QBK_CRYPTO_PWHASH_MEMLIMIT_MIN, &slot, &err), 0);
	assert_int_equal(slot.kind, QBK_CRYPTO_SLOT_PASSPHRASE);
	assert_int_equal(slot.opslimit, QBK_CRYPTO_PWHASH_OPSLIMIT_MIN);
	assert_int_equal(slot.memlimit, QBK_CRYPTO_PWHASH_MEMLIMIT_MIN);
	assert_int_equal(strlen(slot.salt), 32);
	assert_int_equal(strlen(slot.nonce), 48);
	assert_int_equal(strlen(slot.wrapped), 96);

	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "repo-1", "slot-a", pass,
	    strlen(pass), NULL, &got, &err), 0);
	qbk_crypto_chunk_id(k, "data", 4, a);
	qbk_crypto_chunk_id(got, "data", 4, b);
	assert_memory_equal(a, b, 32);
	qbk_crypto_keys_free(got);
	got = NULL;

	/* wrong passphrase, repository, slot id: the same refusal */
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "repo-1", "slot-a",
	    "correct horse battery stapler", 29, NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	assert_non_null(strstr(err.msg, "wrong passphrase or key file"));
	assert_non_null(strstr(err.msg, "'slot-a'"));
	assert_null(got);
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "repo-2", "slot-a", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "repo-1", "slot-b", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	/* changed costs give another key */
	other = slot;
	other.opslimit = 2;
	assert_int_equal(qbk_crypto_slot_unwrap(&other, "repo-1", "slot-a",
	    pass, strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	/* no passphrase at hand */
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "repo-1", "slot-a", NULL,
	    0, NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	assert_non_null(strstr(err.msg, "needs a passphrase"));

	/* a second wrap differs in every random field */
	assert_int_equal(qbk_crypto_slot_wrap_passphrase(k, "repo-1", "slot-a",
	    pass, strlen(pass), 1, 8192, &other, &err), 0);
	assert_string_not_equal(slot.salt, other.salt);
	assert_string_not_equal(slot.nonce, other.nonce);
	assert_string_not_equal(slot.wrapped, other.wrapped);

	/* bad requests */
	assert_int_equal(qbk_crypto_slot_wrap_passphrase(k, "r", "s", "", 0, 1,
	    8192, &other, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(qbk_crypto_slot_wrap_passphrase(k, "r", "s", pass,
	    strlen(pass), 0, 8192, &other, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(qbk_crypto_slot_wrap_passphrase(k, "r", "s", pass,
	    strlen(pass), 1, QBK_CRYPTO_PWHASH_MEMLIMIT_MAX + 1, &other, &err),
	    -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	qbk_crypto_keys_free(k);
}

static void
slot_keyfile(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0), *got = NULL;
	struct qbk_crypto_keyfile *kf = fixed_keyfile(0x20);
	struct qbk_crypto_keyfile *wrong = fixed_keyfile(0x21);
	struct qbk_crypto_slot slot;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	assert_int_equal(qbk_crypto_slot_wrap_keyfile(k, "repo", "kf", kf,
	    &slot, &err), 0);
	assert_int_equal(slot.kind, QBK_CRYPTO_SLOT_KEYFILE);
	assert_string_equal(slot.salt, "");
	assert_true(slot.opslimit == 0 && slot.memlimit == 0);
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "repo", "kf", pass,
	    strlen(pass), kf, &got, &err), 0);
	qbk_crypto_keys_free(got);
	got = NULL;
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "repo", "kf", NULL, 0,
	    wrong, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	assert_non_null(strstr(err.msg, "wrong passphrase or key file"));
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "repo", "kf", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	assert_non_null(strstr(err.msg, "needs a key file"));
	assert_null(got);
	qbk_crypto_keyfile_free(kf);
	qbk_crypto_keyfile_free(wrong);
	qbk_crypto_keys_free(k);
}

static void
slot_damaged(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0), *got = NULL;
	struct qbk_crypto_slot slot, bad;
	struct qbk_err err = QBK_ERR_INIT;
	size_t i;

	(void)state;
	assert_int_equal(qbk_crypto_slot_wrap_passphrase(k, "r", "s", pass,
	    strlen(pass), 1, 8192, &slot, &err), 0);
	bad = slot;
	bad.nonce[47] = '\0';
	assert_int_equal(qbk_crypto_slot_unwrap(&bad, "r", "s", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	bad = slot;
	bad.wrapped[0] = 'z';
	assert_int_equal(qbk_crypto_slot_unwrap(&bad, "r", "s", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	bad = slot;
	bad.salt[0] = '\0';
	assert_int_equal(qbk_crypto_slot_unwrap(&bad, "r", "s", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	bad = slot;
	bad.memlimit = QBK_CRYPTO_PWHASH_MEMLIMIT_MAX * 2;
	assert_int_equal(qbk_crypto_slot_unwrap(&bad, "r", "s", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	bad = slot;
	bad.kind = (enum qbk_crypto_slot_kind)9;
	assert_int_equal(qbk_crypto_slot_unwrap(&bad, "r", "s", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	/* any changed digit of the wrapped key or nonce: refused */
	for (i = 0; i < 96; i += 7) {
		bad = slot;
		bad.wrapped[i] = bad.wrapped[i] == '0' ? '1' : '0';
		assert_int_equal(qbk_crypto_slot_unwrap(&bad, "r", "s", pass,
		    strlen(pass), NULL, &got, &err), -1);
		assert_int_equal(err.code, QBK_E_CRYPTO);
	}
	assert_null(got);
	qbk_crypto_keys_free(k);
}

/* Slots written by an earlier build must open forever: fields made once
 * with master key 00 01 .. 1f (format 1: before config authentication). */
static void
slot_golden(void **state)
{
	struct qbk_crypto_slot ps = {
		QBK_CRYPTO_SLOT_PASSPHRASE, 1, 8192,
		"5248271462f066854548ab9b8bbe098c",
		"329b6b423106bed2649532acf3036a4e477bf9873ff2cd9d",
		"9d8c0578e357d16363729f907d50110f23d887df3cc94ada"
		"9ff4b8f5ee2d6d85f65a353737b94b63978399120bf2e492",
		1
	};
	struct qbk_crypto_slot ks = {
		QBK_CRYPTO_SLOT_KEYFILE, 0, 0, "",
		"dcf4aa13f0076e01d48a6f5f0f42e3a9e5a63ba48f13050c",
		"2b90e733b4792a63e796555f155043b179441e4796fa9c56"
		"83da593f9b14903b6b19a2709c8a6491fd6af392893cef2b",
		1
	};
	struct qbk_crypto_keyfile *kf = fixed_keyfile(0x20);
	struct qbk_crypto_keys *got = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	uint8_t id[32];
	char h[65];

	(void)state;
	assert_int_equal(qbk_crypto_slot_unwrap(&ps, "golden-repo",
	    "golden-slot", pass, strlen(pass), NULL, &got, &err), 0);
	qbk_crypto_chunk_id(got, "abc", 3, id);
	qbk_hex(id, 32, h);
	assert_string_equal(h, "02870137706487df30b5e629f8fe35f0"
	    "1bdfafe228a9fa42d4f6f10361afd5e1");
	qbk_crypto_keys_free(got);
	got = NULL;
	assert_int_equal(qbk_crypto_slot_unwrap(&ks, "golden-repo",
	    "golden-kf", NULL, 0, kf, &got, &err), 0);
	qbk_crypto_chunk_id(got, "abc", 3, id);
	qbk_hex(id, 32, h);
	assert_string_equal(h, "02870137706487df30b5e629f8fe35f0"
	    "1bdfafe228a9fa42d4f6f10361afd5e1");
	qbk_crypto_keys_free(got);
	qbk_crypto_keyfile_free(kf);
}

/* The config MAC: BLAKE2b-256 keyed with subkey 5, as qbk-repository(5)
 * says (the value was computed from that text with Python's hashlib). */
static void
config_mac(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0), *k2 = fixed_keys(1);
	uint8_t a[QBK_CRYPTO_CONFIG_MAC_LEN], b[QBK_CRYPTO_CONFIG_MAC_LEN];
	char h[2 * QBK_CRYPTO_CONFIG_MAC_LEN + 1];

	(void)state;
	qbk_crypto_config_mac(k, "{\"format\": 1}", 13, a);
	qbk_hex(a, sizeof(a), h);
	assert_string_equal(h, "7ab8c3b843b34b31dcf2d84e6aeed83f"
	    "18f032a57659c358d9aed4c1f62532f1");
	/* Another key, another byte: another MAC. */
	qbk_crypto_config_mac(k2, "{\"format\": 1}", 13, b);
	assert_memory_not_equal(a, b, sizeof(a));
	qbk_crypto_config_mac(k, "{\"format\": 2}", 13, b);
	assert_memory_not_equal(a, b, sizeof(a));
	qbk_crypto_config_mac(k, "{\"format\": 1} ", 14, b);
	assert_memory_not_equal(a, b, sizeof(a));
	qbk_crypto_keys_free(k);
	qbk_crypto_keys_free(k2);
}

/* Slots are written in format 2, whose associated data says so: relabelled
 * as format 1 (to pass for a slot of an older qbk) it does not open. */
static void
slot_format(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0), *got = NULL;
	struct qbk_crypto_keyfile *kf = fixed_keyfile(0x20);
	struct qbk_crypto_slot slot;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	assert_int_equal(qbk_crypto_slot_wrap_passphrase(k, "r", "s", pass,
	    strlen(pass), QBK_CRYPTO_PWHASH_OPSLIMIT_MIN,
	    QBK_CRYPTO_PWHASH_MEMLIMIT_MIN, &slot, &err), 0);
	assert_int_equal(slot.format, QBK_CRYPTO_SLOT_FORMAT);
	assert_int_equal(QBK_CRYPTO_SLOT_FORMAT, 2);
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "r", "s", pass,
	    strlen(pass), NULL, &got, &err), 0);
	qbk_crypto_keys_free(got);
	got = NULL;
	slot.format = 1;
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "r", "s", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	slot.format = 0;
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "r", "s", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	/* A format from the future is refused as such. */
	slot.format = 3;
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "r", "s", pass,
	    strlen(pass), NULL, &got, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_null(got);

	assert_int_equal(qbk_crypto_slot_wrap_keyfile(k, "r", "s", kf, &slot,
	    &err), 0);
	assert_int_equal(slot.format, 2);
	slot.format = 1;
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "r", "s", NULL, 0, kf,
	    &got, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	slot.format = 2;
	assert_int_equal(qbk_crypto_slot_unwrap(&slot, "r", "s", NULL, 0, kf,
	    &got, &err), 0);
	qbk_crypto_keys_free(got);
	qbk_crypto_keyfile_free(kf);
	qbk_crypto_keys_free(k);
}

/* Key rotation: two slots, one master key, the same repository keys. */
static void
two_slots_one_master(void **state)
{
	struct qbk_crypto_keys *k = NULL, *g1 = NULL, *g2 = NULL;
	struct qbk_crypto_keyfile *kf = NULL;
	struct qbk_crypto_slot s1, s2;
	struct qbk_err err = QBK_ERR_INIT;
	uint8_t a[32], b[32];
	uint64_t ga[256], gb[256];

	(void)state;
	assert_int_equal(qbk_crypto_keys_new(&k, &err), 0);
	assert_int_equal(qbk_crypto_keyfile_generate(&kf, &err), 0);
	assert_int_equal(qbk_crypto_slot_wrap_passphrase(k, "r", "one", pass,
	    strlen(pass), 1, 8192, &s1, &err), 0);
	assert_int_equal(qbk_crypto_slot_wrap_keyfile(k, "r", "two", kf, &s2,
	    &err), 0);
	assert_int_equal(qbk_crypto_slot_unwrap(&s1, "r", "one", pass,
	    strlen(pass), NULL, &g1, &err), 0);
	assert_int_equal(qbk_crypto_slot_unwrap(&s2, "r", "two", NULL, 0, kf,
	    &g2, &err), 0);
	qbk_crypto_chunk_id(g1, "z", 1, a);
	qbk_crypto_chunk_id(g2, "z", 1, b);
	assert_memory_equal(a, b, 32);
	qbk_crypto_gear_table(g1, ga);
	qbk_crypto_gear_table(g2, gb);
	assert_memory_equal(ga, gb, sizeof(ga));
	qbk_crypto_keys_free(g1);
	qbk_crypto_keys_free(g2);
	qbk_crypto_keys_free(k);
	qbk_crypto_keyfile_free(kf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(hex),
		cmocka_unit_test(derivations_as_documented),
		cmocka_unit_test(random_keys_differ),
		cmocka_unit_test(aead_xchacha_libcrypto),
		cmocka_unit_test(aead_xchacha_libsodium),
		cmocka_unit_test(aead_aesgcm),
		cmocka_unit_test(aead_none_refused),
		cmocka_unit_test(keyfile_files),
		cmocka_unit_test(keyfile_parse),
		cmocka_unit_test(slot_passphrase),
		cmocka_unit_test(slot_keyfile),
		cmocka_unit_test(slot_damaged),
		cmocka_unit_test(slot_golden),
		cmocka_unit_test(slot_format),
		cmocka_unit_test(config_mac),
		cmocka_unit_test(two_slots_one_master),
	};
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_init(&err) != 0) {
		fprintf(stderr, "qbk_init: %s\n", err.msg);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
