#ifndef QBK_CRYPTO_H
#define QBK_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/*
 * Cryptography of a repository: the keys, chunk ids, the gear table of the
 * chunker, authenticated encryption, key slots and key files.  This is the
 * libsodium (and libcrypto AEAD) adapter: no other module sees either
 * library.  The byte-exact constructions are in qbk-repository(5); in short:
 *
 *   master key     32 random bytes
 *   subkeys        crypto_kdf_derive_from_key(32, id, "qbk-repo", master):
 *                  1 chunk-id key, 2 gear key, 3 data key, 4 metadata key,
 *                  5 config key
 *   config MAC     BLAKE2b-256 keyed with the config key
 *   chunk id       BLAKE2b-256 keyed with the chunk-id key, of the plaintext
 *   gear table     RFC 8439 ChaCha20 keystream (gear key, zero nonce,
 *                  counter 0), 2048 bytes read as 256 little-endian u64
 *   xchacha20-poly1305  XChaCha20-Poly1305-IETF, 24-byte random nonce
 *   aes256-gcm     AES-256-GCM under a one-time key BLAKE2b-256(key = data
 *                  or metadata key, message = the 24-byte random nonce,
 *                  personal "qbk.aes256gcm.v1"), with a 12-byte zero IV
 *   MAC (none)     BLAKE2b-128 keyed with the data or metadata key
 *   key slots      see below
 *
 * Every function here is thread-safe once qbk_init() has run, except that a
 * struct qbk_crypto_cipher belongs to one thread at a time.
 */

struct qbk_err;

#define QBK_CRYPTO_KEY_LEN	32	/* master key, subkeys, key-file key */
#define QBK_CRYPTO_ID_LEN	32	/* chunk id */
#define QBK_CRYPTO_NONCE_LEN	24	/* per-object nonce (salt for GCM) */
#define QBK_CRYPTO_TAG_LEN	16	/* authentication tag */
#define QBK_CRYPTO_SALT_LEN	16	/* Argon2id salt */
#define QBK_CRYPTO_WRAPPED_LEN	(QBK_CRYPTO_KEY_LEN + QBK_CRYPTO_TAG_LEN)

/* Authenticated encryption of chunks and metadata; the numbers are the
 * "aead" byte of a chunk object, the names those of the repository config. */
enum qbk_crypto_aead {
	QBK_CRYPTO_AEAD_NONE = 0,	/* "none": ids stay keyed */
	QBK_CRYPTO_AEAD_XCHACHA = 1,	/* "xchacha20-poly1305" (default) */
	QBK_CRYPTO_AEAD_AESGCM = 2	/* "aes256-gcm" */
};
#define QBK_CRYPTO_AEAD_DEFAULT	QBK_CRYPTO_AEAD_XCHACHA

/* Which subkey encrypts. */
enum qbk_crypto_use {
	QBK_CRYPTO_USE_DATA = 3,	/* chunk objects */
	QBK_CRYPTO_USE_META = 4		/* manifests, drill records */
};

/** qbk_crypto_aead_name(aead): "none", "xchacha20-poly1305", "aes256-gcm",
 * or "?" for anything else; static. */
const char *qbk_crypto_aead_name(enum qbk_crypto_aead);

/** qbk_crypto_aead_parse(name, out, err): the algorithm called ${name} into
 * ${*out}.  Returns 0, or -1 (QBK_E_CONFIG) for an unknown name. */
int qbk_crypto_aead_parse(const char *, enum qbk_crypto_aead *,
    struct qbk_err *);

/** qbk_crypto_aead_check(aead, err): 0 if this build can run ${aead}, else
 * -1 (QBK_E_CONFIG).  aes256-gcm on a CPU without AES instructions works,
 * slowly: that is logged as a warning. */
int qbk_crypto_aead_check(enum qbk_crypto_aead, struct qbk_err *);

/** qbk_crypto_random(buf, len): fill ${buf} with ${len} random bytes. */
void qbk_crypto_random(void *, size_t);

/** qbk_crypto_equal(a, b, len): 1 if the ${len} bytes at ${a} and ${b} are
 * equal, else 0; takes the same time either way. */
int qbk_crypto_equal(const void *, const void *, size_t);

/*
 * Keys.  struct qbk_crypto_keys holds the master key and its subkeys in
 * sodium_malloc() memory (guard pages, wiped on free).
 */
struct qbk_crypto_keys;

/** qbk_crypto_keys_new(out, err): a new random master key and its subkeys
 * in ${*out}; the caller frees it with qbk_crypto_keys_free().  Returns 0, or
 * -1 (QBK_E_NOMEM) with ${*out} NULL. */
int qbk_crypto_keys_new(struct qbk_crypto_keys **, struct qbk_err *);

/** qbk_crypto_keys_from_master(master, out, err): like qbk_crypto_keys_new()
 * with the given QBK_CRYPTO_KEY_LEN-byte master key (test fixtures, and
 * qbk_crypto_slot_unwrap()). */
int qbk_crypto_keys_from_master(const uint8_t *, struct qbk_crypto_keys **,
    struct qbk_err *);

/** qbk_crypto_keys_free(keys): wipe and free ${keys}; NULL is fine. */
void qbk_crypto_keys_free(struct qbk_crypto_keys *);

/** qbk_crypto_chunk_id(keys, data, len, id): the chunk id of ${len} bytes
 * at ${data} into ${id}[QBK_CRYPTO_ID_LEN]. */
void qbk_crypto_chunk_id(const struct qbk_crypto_keys *, const void *, size_t,
    uint8_t *);

/** qbk_crypto_gear_table(keys, gear): the 256 entries of the chunker's gear
 * table, derived from the gear key. */
void qbk_crypto_gear_table(const struct qbk_crypto_keys *, uint64_t *);

/*
 * AEAD.  A struct qbk_crypto_cipher is per-thread scratch (cipher contexts)
 * reused from object to object, so that the hot path does not allocate.
 * XChaCha20-Poly1305 and AES-256-GCM run on libcrypto's EVP ciphers, which
 * are more than twice as fast as libsodium's here (AVX-512, AES-NI) and
 * portable to CPUs without AES instructions; when libcrypto does not offer
 * ChaCha20-Poly1305 (FIPS mode), XChaCha20-Poly1305 falls back to libsodium.
 * Both give the same bytes.
 */
struct qbk_crypto_cipher;

#define QBK_CRYPTO_CIPHER_SODIUM 0x01	/* XChaCha20 via libsodium only */

/** qbk_crypto_cipher_new(flags, out, err): per-thread cipher scratch in
 * ${*out}; ${flags} is 0 or QBK_CRYPTO_CIPHER_SODIUM (tests).  Returns 0, or
 * -1 with ${*out} NULL. */
int qbk_crypto_cipher_new(unsigned int, struct qbk_crypto_cipher **,
    struct qbk_err *);

/** qbk_crypto_cipher_free(c): free ${c}; NULL is fine. */
void qbk_crypto_cipher_free(struct qbk_crypto_cipher *);

/** qbk_crypto_seal(c, keys, use, aead, nonce, ad, adlen, in, len, out, tag,
 * err): encrypt ${len} bytes at ${in} into ${out} (the same pointer, or not
 * overlapping at all) under the ${use} subkey with ${aead} (not NONE),
 * authenticating the ${adlen} bytes at ${ad} too; writes QBK_CRYPTO_TAG_LEN
 * bytes to ${tag}.  ${nonce} is QBK_CRYPTO_NONCE_LEN random bytes that the
 * caller stores with the object (qbk_crypto_random()); never use one twice.
 * ${c} may be NULL (a temporary one is made).  Returns 0, or -1
 * (QBK_E_CONFIG for an algorithm this build cannot run, QBK_E_INTERNAL). */
int qbk_crypto_seal(struct qbk_crypto_cipher *, const struct qbk_crypto_keys *,
    enum qbk_crypto_use, enum qbk_crypto_aead, const uint8_t *,
    const uint8_t *, size_t, const uint8_t *, size_t, uint8_t *, uint8_t *,
    struct qbk_err *);

/** qbk_crypto_open(c, keys, use, aead, nonce, ad, adlen, in, len, tag, out,
 * err): the inverse of qbk_crypto_seal(): check ${tag} and decrypt ${len}
 * bytes at ${in} into ${out} (same pointer or disjoint).  Returns 0, or -1
 * with QBK_E_INTEGRITY "authentication failed" (${out} is then wiped) or as
 * qbk_crypto_seal(). */
int qbk_crypto_open(struct qbk_crypto_cipher *, const struct qbk_crypto_keys *,
    enum qbk_crypto_use, enum qbk_crypto_aead, const uint8_t *,
    const uint8_t *, size_t, const uint8_t *, size_t, const uint8_t *,
    uint8_t *, struct qbk_err *);

/** qbk_crypto_mac(keys, use, a, alen, b, blen, tag): BLAKE2b-128 keyed with
 * the ${use} subkey over the ${alen} bytes at ${a} followed by the ${blen}
 * bytes at ${b}, into ${tag}[QBK_CRYPTO_TAG_LEN] (the tag of unencrypted
 * chunk objects). */
void qbk_crypto_mac(const struct qbk_crypto_keys *, enum qbk_crypto_use,
    const uint8_t *, size_t, const uint8_t *, size_t, uint8_t *);

#define QBK_CRYPTO_CONFIG_MAC_LEN	32

/** qbk_crypto_config_mac(keys, text, len, mac): BLAKE2b-256 keyed with the
 * config key of the ${len} bytes at ${text}, into
 * ${mac}[QBK_CRYPTO_CONFIG_MAC_LEN] (the MAC of the repository config,
 * qbk-repository(5)). */
void qbk_crypto_config_mac(const struct qbk_crypto_keys *, const void *,
    size_t, uint8_t *);

/*
 * Key files: QBK_CRYPTO_KEY_LEN random bytes, stored as the text
 * "qbk-keyfile-v1\n" followed by 64 lowercase hex digits and "\n", mode 0600.
 * A key file is high-entropy, so its wrapping key needs no Argon2id.
 */
struct qbk_crypto_keyfile;

#define QBK_CRYPTO_KEYFILE_HEADER	"qbk-keyfile-v1"

/** qbk_crypto_keyfile_generate(out, err): a new random key-file key in
 * ${*out}; the caller frees it with qbk_crypto_keyfile_free(). */
int qbk_crypto_keyfile_generate(struct qbk_crypto_keyfile **,
    struct qbk_err *);

/** qbk_crypto_keyfile_parse(text, len, out, err): read the key-file text of
 * ${len} bytes at ${text} (trailing white space allowed).  Returns 0, or -1
 * (QBK_E_CONFIG "not a qbk key file") with ${*out} NULL. */
int qbk_crypto_keyfile_parse(const char *, size_t,
    struct qbk_crypto_keyfile **, struct qbk_err *);

/** qbk_crypto_keyfile_load(path, out, err): read and parse the key file at
 * ${path}.  Returns 0, or -1 (QBK_E_IO, QBK_E_CONFIG). */
int qbk_crypto_keyfile_load(const char *, struct qbk_crypto_keyfile **,
    struct qbk_err *);

/** qbk_crypto_keyfile_write(kf, path, err): create ${path} (which must not
 * exist) with mode 0600 holding ${kf}'s text; fsync'd.  Returns 0, or -1
 * (QBK_E_IO) with nothing left at ${path}. */
int qbk_crypto_keyfile_write(const struct qbk_crypto_keyfile *, const char *,
    struct qbk_err *);

/** qbk_crypto_keyfile_free(kf): wipe and free ${kf}; NULL is fine. */
void qbk_crypto_keyfile_free(struct qbk_crypto_keyfile *);

/*
 * Key slots (keys/<slot-id> of a repository): the master key encrypted with
 * XChaCha20-Poly1305 (random nonce, associated data = repository id, one
 * 0x00 byte, slot id; from format 2 on, one more 0x00 byte and the text
 * "config-mac", so that a slot of format 2 cannot be passed off as one of
 * format 1) under a wrapping key:
 *   passphrase  Argon2id v1.3 (crypto_pwhash) of the passphrase, 16-byte
 *               random salt, opslimit and memlimit recorded in the slot
 *   keyfile     BLAKE2b-256(key = key-file key, empty message,
 *               personal "qbk.keyfile.wrap")
 * The repository module stores the fields below as JSON; binary fields are
 * lowercase hex.
 */
enum qbk_crypto_slot_kind {
	QBK_CRYPTO_SLOT_PASSPHRASE = 1,	/* "passphrase" */
	QBK_CRYPTO_SLOT_KEYFILE = 2	/* "keyfile" */
};

/* Slots written now have format 2: they open only a repository whose
 * config is authenticated (qbk_repo).  Format 1 slots, written before,
 * still open. */
#define QBK_CRYPTO_SLOT_FORMAT	2

struct qbk_crypto_slot {
	enum qbk_crypto_slot_kind kind;
	unsigned long long opslimit;	/* Argon2id passes; 0 for keyfile */
	unsigned long long memlimit;	/* Argon2id bytes; 0 for keyfile */
	char salt[2 * QBK_CRYPTO_SALT_LEN + 1];		/* "" for keyfile */
	char nonce[2 * QBK_CRYPTO_NONCE_LEN + 1];
	char wrapped[2 * QBK_CRYPTO_WRAPPED_LEN + 1];	/* ciphertext, tag */
	unsigned int format;	/* 0 or 1: format 1; 2; the wrap functions
				 * set QBK_CRYPTO_SLOT_FORMAT */
};

/* Argon2id cost of new passphrase slots: 3 passes over 128 MiB, about
 * 0.23 s on one core here.  libsodium's MODERATE (256 MiB, 0.49 s) would
 * double the peak memory of every program run, which matters in memory-
 * limited CronJob pods; RFC 9106's second choice is 3 passes over 64 MiB.
 * Tests use the minimum. */
#define QBK_CRYPTO_PWHASH_OPSLIMIT	3ULL
#define QBK_CRYPTO_PWHASH_MEMLIMIT	(128ULL << 20)
#define QBK_CRYPTO_PWHASH_OPSLIMIT_MIN	1ULL
#define QBK_CRYPTO_PWHASH_MEMLIMIT_MIN	(8ULL << 10)
/* Largest costs accepted from a slot file. */
#define QBK_CRYPTO_PWHASH_OPSLIMIT_MAX	64ULL
#define QBK_CRYPTO_PWHASH_MEMLIMIT_MAX	(4ULL << 30)

/** qbk_crypto_slot_kind_name(kind): "passphrase", "keyfile" or "?". */
const char *qbk_crypto_slot_kind_name(enum qbk_crypto_slot_kind);

/** qbk_crypto_slot_kind_parse(name, out, err): the inverse; -1
 * (QBK_E_INTEGRITY) for an unknown name. */
int qbk_crypto_slot_kind_parse(const char *, enum qbk_crypto_slot_kind *,
    struct qbk_err *);

/** qbk_crypto_slot_wrap_passphrase(keys, repo_id, slot_id, pass, passlen,
 * opslimit, memlimit, out, err): fill ${out} with a passphrase slot for
 * ${keys}' master key.  Returns 0, or -1 (QBK_E_USAGE for an empty
 * passphrase or costs out of range, QBK_E_NOMEM when Argon2id cannot get
 * its memory). */
int qbk_crypto_slot_wrap_passphrase(const struct qbk_crypto_keys *,
    const char *, const char *, const char *, size_t, unsigned long long,
    unsigned long long, struct qbk_crypto_slot *, struct qbk_err *);

/** qbk_crypto_slot_wrap_keyfile(keys, repo_id, slot_id, kf, out, err): fill
 * ${out} with a key-file slot.  Returns 0 or -1. */
int qbk_crypto_slot_wrap_keyfile(const struct qbk_crypto_keys *, const char *,
    const char *, const struct qbk_crypto_keyfile *, struct qbk_crypto_slot *,
    struct qbk_err *);

/** qbk_crypto_slot_unwrap(slot, repo_id, slot_id, pass, passlen, kf, out,
 * err): open ${slot} with the passphrase (for a passphrase slot; ${pass} may
 * be NULL) or the key file ${kf} (for a keyfile slot; may be NULL) and put
 * the repository keys in ${*out}.  Returns 0, or -1 with ${*out} NULL:
 * QBK_E_CRYPTO "wrong passphrase or key file" when the slot does not open
 * (or the needed secret is NULL), QBK_E_INTEGRITY for malformed fields,
 * QBK_E_NOMEM when Argon2id cannot get its memory. */
int qbk_crypto_slot_unwrap(const struct qbk_crypto_slot *, const char *,
    const char *, const char *, size_t, const struct qbk_crypto_keyfile *,
    struct qbk_crypto_keys **, struct qbk_err *);

#endif /* !QBK_CRYPTO_H */
