#ifndef QBK_REPO_H
#define QBK_REPO_H

/*
 * qbk_repo: a repository (qbk-repository(5)): its plaintext config, key
 * slots, chunk objects, encrypted manifests and drill records, on a
 * struct qbk_store.  It is the only door to the stored objects: nothing
 * above lib/repo/ calls the store or spells a key (scripts/check-repo-door).
 * The keys are made in qbk_layout.h:
 *
 *   config              JSON: format, id, chunker, compression, encryption,
 *                       mac (BLAKE2b-256 under the master key's config key)
 *   key slot            JSON: the master key, wrapped
 *   chunk               chunk object (qbk_chunk.h)
 *   manifest            sealed (a copy, its twin, is written first)
 *   drill record        sealed, with a copy too
 *   lock                lock records (qbk_lock.h)
 *   hold, failure       sealed records (qbk_hold.h, qbk_failure.h)
 *
 * Thread safety: after qbk_repo_open(), qbk_repo_chunk_claim(),
 * qbk_repo_chunk_put(), qbk_repo_chunk_check() and qbk_repo_chunk_get() may
 * be called from several threads at once; everything else from one.
 */
#include <stddef.h>
#include <stdint.h>

#include "repo/qbk_crypto.h"
#include "repo/qbk_layout.h"
#include "repo/qbk_lock.h"

struct qbk_buf;
struct qbk_err;
struct qbk_chunk_codec;
struct qbk_chunk_params;
struct qbk_chunk_work;
struct qbk_manifest;
struct qbk_manifest_drill;
struct qbk_store;
struct qbk_store_opts;
struct qbk_repo;

#define QBK_REPO_FORMAT		1
#define QBK_REPO_ID_HEX		32	/* 16 random bytes */
#define QBK_REPO_SLOT_ID_LEN	16	/* 8 random bytes, hex */

/* Secrets that open a repository; either may be NULL. */
struct qbk_repo_secret {
	const char *passphrase;
	const char *key_file;	/* path of a qbk key file */
};

struct qbk_repo_create_opts {
	const char *location;
	enum qbk_crypto_aead aead;	/* NONE: encryption = none */
	int zstd_level;			/* 0: compression none */
	uint32_t chunk_min, chunk_avg, chunk_max;	/* 0: defaults */
	/* The first key slot: a passphrase or a key file (for aead NONE
	 * the master key is stored in the clear and neither is needed). */
	const char *passphrase;
	const char *key_file;		/* existing key file to use */
	unsigned long long opslimit, memlimit;	/* 0: defaults */
	const char *comment;		/* recorded in the slot; may be NULL */
	const struct qbk_store_opts *store;	/* how to open the storage
						 * (S3 settings); NULL:
						 * defaults */
};

/** qbk_repo_create(opts, id_out, err): create a new repository at
 * ${opts->location} (a folder that must not hold a repository yet; it is
 * created 0700 if missing) with a new random master key.  Writes the new
 * repository id into ${id_out}[QBK_REPO_ID_HEX + 1] (may be NULL).
 * Returns 0, or -1 (QBK_E_USAGE when a repository is there already or was
 * created meanwhile; QBK_E_CONFIG for a bad compression level or cipher). */
int qbk_repo_create(const struct qbk_repo_create_opts *, char *,
    struct qbk_err *);

/** qbk_repo_open(location, secret, out, err): open the repository at
 * ${location}, unlocking its master key with ${secret} (every slot is
 * tried, "plain" ones only when ${secret} gives neither a passphrase nor a
 * key file; damaged slots are skipped with a warning), then authenticating
 * its config with it (qbk-repository(5) "Authenticated config").  A config
 * of an older qbk, without MAC, is given one (and the slot that opened it
 * format 2) when the store can be written, with a warning.  Returns 0, or
 * -1 with ${*out} NULL: QBK_E_CONFIG (no repository there), QBK_E_CRYPTO
 * (no slot opens, or the secret is of the wrong kind, or only plain slots
 * and a secret), QBK_E_USAGE (no secret given), QBK_E_INTEGRITY
 * (malformed config, every slot damaged, or a config that does not verify
 * against the master key or lost its MAC: the message names
 * '<location>/config'). */
int qbk_repo_open(const char *, const struct qbk_repo_secret *,
    struct qbk_repo **, struct qbk_err *);

/** qbk_repo_open_with(location, store_opts, secret, out, err):
 * qbk_repo_open() with the storage opened with ${store_opts} (its S3
 * settings and cancel flag; NULL: defaults); qbk_repo_open() is this with
 * NULL. */
int qbk_repo_open_with(const char *, const struct qbk_store_opts *,
    const struct qbk_repo_secret *, struct qbk_repo **, struct qbk_err *);

/** qbk_repo_close(r): free ${r}; NULL is fine. */
void qbk_repo_close(struct qbk_repo *);

/** Accessors: the repository id (hex), the chunk codec that backups use
 * (compression level set by qbk_repo_set_compression()), the chunker
 * parameters and its gear table (256 entries).  (Its store is for
 * lib/repo/ only: qbk_repo_internal.h.) */
const char *qbk_repo_id(const struct qbk_repo *);
const struct qbk_chunk_codec *qbk_repo_codec(const struct qbk_repo *);
const struct qbk_chunk_params *qbk_repo_chunk_params(const struct qbk_repo *);
const uint64_t *qbk_repo_gear(const struct qbk_repo *);
enum qbk_crypto_aead qbk_repo_aead(const struct qbk_repo *);
int qbk_repo_default_compression(const struct qbk_repo *);

/** qbk_repo_set_compression(r, level): zstd level for new chunks (0:
 * none). */
void qbk_repo_set_compression(struct qbk_repo *, int);

/*
 * Key slots.
 */
struct qbk_repo_slot_info {
	char id[QBK_REPO_SLOT_ID_LEN + 1];
	char kind[16];		/* "passphrase", "keyfile", "plain", or
				 * "damaged" (the reason is the comment) */
	char created[32];
	char host[64];
	char comment[128];
	int opened;		/* the slot that opened this session */
};

/** qbk_repo_slots(r, out, n, err): the key slots in ${*out} (${*n} of
 * them; free() the array).  0 or -1. */
int qbk_repo_slots(struct qbk_repo *, struct qbk_repo_slot_info **, size_t *,
    struct qbk_err *);

/** qbk_repo_slot_add(r, passphrase, key_file, opslimit, memlimit, comment,
 * id_out, err): add a slot for a passphrase or a key file (exactly one).
 * Writes the new slot id to ${id_out} (may be NULL).  0 or -1. */
int qbk_repo_slot_add(struct qbk_repo *, const char *, const char *,
    unsigned long long, unsigned long long, const char *, char *,
    struct qbk_err *);

/** qbk_repo_slot_remove(r, id, err): remove slot ${id}; refused
 * (QBK_E_USAGE) when it is the last slot, or the one that opened the
 * repository while no other slot has been shown to work.  0 or -1. */
int qbk_repo_slot_remove(struct qbk_repo *, const char *, struct qbk_err *);

/*
 * Chunks.
 */

/** qbk_repo_load_index(r, err): list data/ so that qbk_repo_chunk_claim()
 * knows which chunks exist.  0 or -1. */
int qbk_repo_load_index(struct qbk_repo *, struct qbk_err *);

/** qbk_repo_chunk_count(r): chunks known to the index. */
size_t qbk_repo_chunk_count(const struct qbk_repo *);

/** qbk_repo_chunk_claim(r, id): 1 if the chunk ${id} is new and the caller
 * must store it (it is now claimed), 0 if the repository has it or another
 * thread is storing it; then it is touched (qbk_store_touch), as the
 * backup being written will refer to it. */
int qbk_repo_chunk_claim(struct qbk_repo *, const uint8_t *);

/** qbk_repo_chunk_put(r, id, obj, len, replace, err): store the chunk
 * object; lazily durable (flushed by qbk_repo_flush() and before any
 * manifest is written).  With ${replace} an existing object is rewritten.
 * Returns 0 or -1. */
int qbk_repo_chunk_put(struct qbk_repo *, const uint8_t *, const void *,
    size_t, int, struct qbk_err *);

/** qbk_repo_chunk_get(r, w, id, obj, plain, len, err): read and decode the
 * chunk ${id} into ${*plain} (valid until ${w} or ${obj} is reused).
 * ${obj} is caller scratch.  0, or -1: QBK_E_NOTFOUND (missing),
 * QBK_E_INTEGRITY (damaged), QBK_E_IO. */
int qbk_repo_chunk_get(struct qbk_repo *, struct qbk_chunk_work *,
    const uint8_t *, struct qbk_buf *, const uint8_t **, size_t *,
    struct qbk_err *);

/** qbk_repo_chunk_check(r, w, id, err): 1 if the stored chunk decodes and
 * hashes to ${id}, 0 if it is missing or damaged (${err} says how), -1 on
 * another failure (I/O). */
int qbk_repo_chunk_check(struct qbk_repo *, struct qbk_chunk_work *,
    const uint8_t *, struct qbk_err *);

#define QBK_REPO_CHUNK_KEY_LEN	QBK_LAYOUT_KEY_MAX

/** qbk_repo_chunk_key(id, key): "data/<2 hex>/<64 hex>" into
 * ${key}[QBK_REPO_CHUNK_KEY_LEN]. */
void qbk_repo_chunk_key(const uint8_t *, char *);

/** qbk_repo_flush(r, err): make every chunk written so far (and every
 * lazy delete) durable. */
int qbk_repo_flush(struct qbk_repo *, struct qbk_err *);

/* A chunk object as listed: its id, and the size and modification time of
 * the stored object. */
struct qbk_repo_chunk_stat {
	uint64_t size;		/* bytes stored */
	int64_t mtime;		/* seconds since the epoch */
};

/** qbk_repo_chunk_list(r, fn, cookie, err): call ${fn}(cookie, id, st,
 * err) for every chunk object of ${r} (a key of another shape under the
 * chunk folder is skipped); ${st} is NULL when the store cannot say.
 * ${fn} returns 0 to go on, a positive value to stop (returned), or -1
 * with ${err} set to fail (returned).  Never answered from a cache. */
int qbk_repo_chunk_list(struct qbk_repo *,
    int (*)(void *, const uint8_t *, const struct qbk_repo_chunk_stat *,
    struct qbk_err *), void *, struct qbk_err *);

/** qbk_repo_chunk_exists(r, id, err): 1 if the chunk ${id} is stored, 0 if
 * not, -1 on a storage failure. */
int qbk_repo_chunk_exists(struct qbk_repo *, const uint8_t *,
    struct qbk_err *);

/** qbk_repo_chunk_delete(r, id, err): remove the chunk ${id} lazily
 * (durable after qbk_repo_flush()); a missing chunk is fine.  0 or -1. */
int qbk_repo_chunk_delete(struct qbk_repo *, const uint8_t *,
    struct qbk_err *);

/** qbk_repo_remove_stale(r, max_age, removed, err): remove the leftovers of
 * interrupted writers older than ${max_age} seconds, adding their number
 * to ${*removed} (may be NULL); for a caller that holds the exclusive
 * lock.  0 or -1. */
int qbk_repo_remove_stale(struct qbk_repo *, int64_t, size_t *,
    struct qbk_err *);

/*
 * Manifests and drill records.
 */

/** qbk_repo_manifest_write(r, m, err): seal and store ${m} under
 * backups/<m->backup_id>, after flushing the chunks: the backup becomes
 * visible when this returns 0. */
int qbk_repo_manifest_write(struct qbk_repo *, const struct qbk_manifest *,
    struct qbk_err *);

/** qbk_repo_manifest_read(r, id, out, err): read, open and parse the
 * manifest of backup ${id} (the ".copy" twin is tried when the first is
 * damaged).  0, or -1 with ${*out} NULL (QBK_E_NOTFOUND, QBK_E_INTEGRITY). */
int qbk_repo_manifest_read(struct qbk_repo *, const char *,
    struct qbk_manifest **, struct qbk_err *);

/** qbk_repo_manifest_delete(r, id, err): remove backups/<id> (and its
 * copy).  0 or -1. */
int qbk_repo_manifest_delete(struct qbk_repo *, const char *,
    struct qbk_err *);

/** qbk_repo_manifest_orphans(r, remove, n, err): count in ${*n} the
 * ".copy" twins whose manifest does not exist (left by a commit that was
 * interrupted between the two writes), and with ${remove} delete them.
 * 0 or -1. */
int qbk_repo_manifest_orphans(struct qbk_repo *, int, size_t *,
    struct qbk_err *);

/** qbk_repo_sealed_get(r, class, id, max, obj, err): the stored bytes of
 * the sealed object ${id} of ${class} (a manifest or drill record, or its
 * copy), at most ${max}, in ${obj}, unopened (open it with
 * qbk_repo_unseal() and the name of the object that is not a copy).
 * 0, or -1 (QBK_E_NOTFOUND, QBK_E_INTEGRITY when larger, QBK_E_IO). */
int qbk_repo_sealed_get(struct qbk_repo *, enum qbk_layout_class,
    const char *, size_t, struct qbk_buf *, struct qbk_err *);

/** qbk_repo_ids_under(r, class, out, n, err): the ids of the objects of
 * ${class} (well-formed ids only: no ".copy" twins, no temporary files),
 * sorted (oldest first), in ${*out} (free with qbk_repo_free_ids()).
 * 0 or -1. */
int qbk_repo_ids_under(struct qbk_repo *, enum qbk_layout_class, char ***,
    size_t *, struct qbk_err *);

/** qbk_repo_backup_ids(r, out, n, err): the ids of every backup, sorted
 * (oldest first), in ${*out} (free each and the array).  0 or -1. */
int qbk_repo_backup_ids(struct qbk_repo *, char ***, size_t *,
    struct qbk_err *);

/** qbk_repo_drill_write(r, d, err), qbk_repo_drill_read(r, id, out, err),
 * qbk_repo_drill_ids(r, out, n, err): the same for drills/. */
int qbk_repo_drill_write(struct qbk_repo *, const struct qbk_manifest_drill *,
    struct qbk_err *);
int qbk_repo_drill_read(struct qbk_repo *, const char *,
    struct qbk_manifest_drill **, struct qbk_err *);
int qbk_repo_drill_ids(struct qbk_repo *, char ***, size_t *,
    struct qbk_err *);

/** qbk_repo_seal(r, name, plain, len, out, err), qbk_repo_unseal(r, name,
 * obj, len, out, err): the sealed-object format of manifests and drill
 * records ("QBKM" header, zstd, AEAD with the object's name as associated
 * data); exposed for tests and the fuzz target. */
int qbk_repo_seal(struct qbk_repo *, const char *, const void *, size_t,
    struct qbk_buf *, struct qbk_err *);
int qbk_repo_unseal(struct qbk_repo *, const char *, const void *, size_t,
    struct qbk_buf *, struct qbk_err *);

/** qbk_repo_free_ids(ids, n): free an id list. */
void qbk_repo_free_ids(char **, size_t);

/*
 * Locks (qbk_lock.h) on the repository's store.
 */

/** qbk_repo_lock(r, kind, opts, out, err): qbk_lock_acquire() on the store
 * of ${r}. */
int qbk_repo_lock(struct qbk_repo *, enum qbk_lock_kind,
    const struct qbk_lock_opts *, struct qbk_lock **, struct qbk_err *);

/** qbk_repo_locks(r, fn, cookie, err): qbk_lock_list() on the store of
 * ${r}. */
int qbk_repo_locks(struct qbk_repo *,
    int (*)(void *, const struct qbk_lock_info *), void *, struct qbk_err *);

#endif /* !QBK_REPO_H */
