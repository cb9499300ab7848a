#ifndef QBK_STORE_H
#define QBK_STORE_H

/*
 * qbk_store: the storage backends of a repository behind one small
 * interface.  A store holds objects under keys; it knows nothing of what they
 * contain (the repository layer encrypts them).
 *
 * Keys are relative, '/'-separated paths such as "config", "keys/<id>",
 * "data/ab/<64 hex>", "backups/<id>", "drills/<id>", "locks/<id>": 1 to
 * QBK_STORE_KEY_MAX bytes of [A-Za-z0-9._-] and '/', no empty component, and
 * no component that starts with '.' (those names are reserved for the
 * backends' own files: temporary files, the lock file).  Other keys fail with
 * QBK_E_INTERNAL (a caller bug) before the backend is asked.
 *
 * S3: a lazy put with IFABSENT does not ask the server first (chunks are
 * content addressed: rewriting one stores the same bytes) and returns 0; a
 * non-lazy IFABSENT put does (HEAD, then PUT: not atomic between two
 * writers).  Lazy puts and deletes are asynchronous (up to "transfers" in
 * flight); flush waits for them and fails with the first failure.
 *
 * Every put is atomic: a reader sees the old object, or none, or the whole
 * new one, never a part (local folder: temp + fsync + rename; S3: one PUT).
 *
 * Durability.  A put or delete without QBK_STORE_F_LAZY is durable when it
 * returns, and before it starts it makes every earlier lazy put or delete
 * durable (an implicit qbk_store_flush()).  So chunks written lazily are
 * always durable before the manifest that names them becomes visible, even
 * if the caller forgets to flush.  Lazy operations (QBK_STORE_F_LAZY) are
 * for the many chunk objects of a backup and the chunk deletes of a prune:
 * they are durable after the next qbk_store_flush() or non-lazy operation.
 *
 * Threads: put, get, get_stream, stat, exists, delete and flush may be called
 * concurrently on one store from several threads (the backup's workers put
 * chunks in parallel); list too.  qbk_store_close() must not race with
 * anything.
 *
 * Errors: QBK_E_NOTFOUND (get/stat of a missing object), QBK_E_IO,
 * QBK_E_NOSPACE, QBK_E_INTEGRITY (an object larger than the caller's limit),
 * QBK_E_CONFIG (a location no backend handles), and the backend's network
 * errors later (S3: QBK_E_NET, QBK_E_HTTP, QBK_E_AUTH).
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct qbk_buf;
struct qbk_err;
struct qbk_store;

#define QBK_STORE_KEY_MAX	512

/*
 * Flags of put and delete:
 *   IFABSENT  put: keep an existing object (no rewrite) and return 1
 *   LAZY      durable only at the next flush or non-lazy operation (above)
 */
#define QBK_STORE_F_IFABSENT	0x1
#define QBK_STORE_F_LAZY	0x2
/* put/delete, not lazy: durable when it returns, but without the implicit
 * flush of earlier lazy operations (and so without their failures): for
 * objects that say nothing of the lazy ones, such as lock records, which a
 * lock's own thread writes while a backup's chunks are in flight. */
#define QBK_STORE_F_ALONE	0x4
/* put: if the object cannot be written for lack of space, it may use the
 * backend's space reserve (local folder: <reserve_dir>/.reserve), so that
 * the lock of the prune that frees space can be written on a full disk. */
#define QBK_STORE_F_RESERVE	0x8
/* put: the object is retained: with object lock (S3 lock_days > 0) it
 * cannot be deleted or overwritten before its retention ends; the other
 * backends keep every object anyway.  The repository asks it for chunks
 * and manifests. */
#define QBK_STORE_F_RETAIN	0x10

/* Flag of list: pass size and mtime to the callback (local: a stat each). */
#define QBK_STORE_LIST_STAT	0x1
/* Flag of list: the caller may be answered from a local cache (S3: the
 * chunk-index cache of opts.cache_prefix, qbk-repository(5)): keys added by other
 * writers may be missing, and a key removed behind qbk's back may still be
 * listed (the cache checks a random sample of its keys, see
 * qbk_store_s3.cache_sample).  For a backup's chunk index only, never for
 * checks. */
#define QBK_STORE_LIST_CACHED	0x2

/*
 * When the local backend forces data to disk.
 *   FILE  (default) each object file is fsync'd before its rename; the
 *         folder that received a lazy object is fsync'd once at the next
 *         flush; a non-lazy object's folder is fsync'd at once.
 *   BATCH lazy puts are group-committed: their temporary files are not
 *         fsync'd one by one but queued; every 1024 objects and at flush one
 *         syncfs(2) of the repository's file system writes them all back,
 *         and only then are they renamed into place (a crash never leaves a
 *         partial object under its key); flush ends with another syncfs(2).
 *         Much faster for thousands of small chunks on a disk with a slow
 *         fsync, but syncfs also flushes other dirty data of that file
 *         system, reports writeback errors only since Linux 5.8, and a lazy
 *         object is visible (get, stat, list) only after its group commit.
 *         IFABSENT may then return 0 for an object queued twice; only one
 *         copy is kept.  Non-lazy objects and deletes are handled as in
 *         FILE (deletes are made durable by the flush's syncfs).
 *   NONE  no fsync at all (tests and throw-away repositories only).
 * S3 ignores it: a PUT is durable when it returns.
 */
enum qbk_store_sync {
	QBK_STORE_SYNC_FILE = 0,
	QBK_STORE_SYNC_BATCH,
	QBK_STORE_SYNC_NONE
};

struct qbk_store_opts {
	int create;		/* local: create the folder (0700) */
	enum qbk_store_sync sync;
	volatile sig_atomic_t *cancel;	/* non-zero: stop long operations
					 * (S3 transfers); NULL: never */
	const struct qbk_store_s3 *s3;	/* S3 settings; NULL: those of
					 * qbk_store_s3_init() */
	const char *reserve_dir;	/* local: the folder ("locks") of
					 * the space reserve, <dir>/.reserve,
					 * made again after each put of a key
					 * under <dir>/; NULL: no reserve */
	const char *cache_prefix;	/* S3: the key prefix (the chunks) that
					 * the chunk-index cache lists
					 * (QBK_STORE_LIST_CACHED) and whose
					 * retention touch extends; NULL:
					 * neither */
	const char *cache_guard;	/* S3: the key of the object whose
					 * ETag and JSON "id" name what the
					 * cache belongs to; with
					 * cache_prefix */
};
#define QBK_STORE_OPTS_INIT { 0, QBK_STORE_SYNC_FILE, NULL, NULL, NULL, NULL, NULL }

/*
 * S3 settings (qbk.conf(5) [repository] s3_*; qbk-repository(5) "S3"), as
 * resolved by the caller from its configuration (qbk_ctx_store_init): the
 * store reads no configuration file and no credential of its own.  The
 * bucket and prefix come from the location "s3://bucket/prefix".  The
 * strings are borrowed for the duration of qbk_store_open() only.
 */
struct qbk_store_s3 {
	const char *endpoint;	/* "https://minio:9000"; NULL:
				 * $AWS_ENDPOINT_URL_S3 or $AWS_ENDPOINT_URL
				 * (then path style), else AWS */
	const char *region;	/* NULL: "us-east-1" */
	int host_style;		/* 1: virtual-host addressing */
	const char *access_key;	/* NULL: unsigned requests */
	const char *secret_key;
	const char *session_token;	/* NULL: none */
	const char *ca_file;	/* PEM bundle for TLS; NULL: system */
	int insecure;		/* 1: no TLS verification */
	unsigned transfers;	/* uploads in flight; 0: 8 */
	unsigned retries;	/* 0: 5 */
	unsigned lock_days;	/* > 0: object lock on retained puts
				 * (QBK_STORE_F_RETAIN) */
	const char *lock_mode;	/* "GOVERNANCE" (default) or "COMPLIANCE" */
	unsigned timeout_s;	/* abort a transfer idle this long; 0: 60 */
	const char *cache_dir;	/* chunk-index cache root; NULL:
				 * $XDG_CACHE_HOME/qbk or ~/.cache/qbk; ""
				 * none */
	int64_t cache_max_age;	/* seconds: a chunk-index cache listed longer
				 * ago than this is listed again; 0: always */
	unsigned cache_sample;	/* cached chunks checked with HEAD when the
				 * cache is opened; 0: none */
};

#define QBK_STORE_S3_CACHE_MAX_AGE	86400	/* 1 day */
#define QBK_STORE_S3_CACHE_SAMPLE	128

/** qbk_store_s3_init(s3): the defaults: every pointer NULL (AWS, anonymous,
 * default cache folder), path style, cache_max_age
 * QBK_STORE_S3_CACHE_MAX_AGE and cache_sample QBK_STORE_S3_CACHE_SAMPLE. */
void qbk_store_s3_init(struct qbk_store_s3 *);

struct qbk_store_stat {
	uint64_t size;		/* bytes */
	int64_t mtime;		/* modified, seconds since the epoch */
};

/** qbk_store_list_fn(cookie, key, st, err): called by list for each key;
 * ${st} is NULL unless QBK_STORE_LIST_STAT was asked.  Return 0 to go on, a
 * positive value to stop listing (list returns it), or -1 with ${err} set to
 * fail (list returns -1). */
typedef int qbk_store_list_fn(void *, const char *,
    const struct qbk_store_stat *, struct qbk_err *);

/** qbk_store_read_fn(cookie, data, len, err): called by get_stream with the
 * next piece of the object; 0 to go on, -1 with ${err} set to stop. */
typedef int qbk_store_read_fn(void *, const void *, size_t, struct qbk_err *);

/* A location, parsed by the driver that handles it. */
struct qbk_store_loc {
	const char *driver;	/* "local", "s3" */
	int is_path;		/* a local path: the caller may resolve it */
	char *text;		/* the location, normalized ('/' at the end
				 * removed) */
	char *bucket;		/* S3: the bucket; else NULL */
	char *prefix;		/* S3: the key prefix without '/' at either
				 * end ("" for none); else NULL */
};

/** qbk_store_location_parse(location, out, err): check ${location} with the
 * driver table's syntax: "s3://bucket/prefix" (a bucket name of 3 to 63
 * lowercase letters, digits, dots and hyphens; no empty, "." or ".." part
 * in the prefix) or a path; another "scheme://" fails.  On success the
 * caller releases ${out} with qbk_store_loc_release().  0, or -1 with
 * QBK_E_CONFIG (${out} empty). */
int qbk_store_location_parse(const char *, struct qbk_store_loc *,
    struct qbk_err *);

/** qbk_store_loc_release(loc): free a parsed location's strings. */
void qbk_store_loc_release(struct qbk_store_loc *);

/** qbk_store_open(location, opts, out, err): open the repository storage at
 * ${location} with the driver that handles it (qbk_store_location_parse):
 * a path (local folder) or "s3://bucket/prefix" (S3: the bucket must exist,
 * QBK_E_NOTFOUND otherwise; qbk never creates buckets); any other
 * "scheme://" fails with QBK_E_CONFIG.
 * ${opts} may be NULL (defaults).  A missing local folder fails with
 * QBK_E_NOTFOUND unless ${opts}->create.  On success the caller owns
 * ${*out} and ends it with qbk_store_close(); on failure ${*out} is NULL. */
int qbk_store_open(const char *, const struct qbk_store_opts *,
    struct qbk_store **, struct qbk_err *);

/** qbk_store_close(store, err): free ${store}.  Lazy operations not yet
 * flushed are NOT made durable (a failed backup has nothing to commit).
 * NULL is a no-op.  Returns 0 or -1 (the store is freed anyway). */
int qbk_store_close(struct qbk_store *, struct qbk_err *);

/** qbk_store_put(store, key, data, len, flags, err): store ${len} bytes under
 * ${key}, atomically, replacing an existing object unless
 * QBK_STORE_F_IFABSENT.  Returns 0 (written), 1 (IFABSENT and the object
 * was already there: not rewritten) or -1. */
int qbk_store_put(struct qbk_store *, const char *, const void *, size_t,
    unsigned, struct qbk_err *);

/** qbk_store_get(store, key, max, out, err): read the whole object ${key}
 * into ${out} (replacing its contents).  An object larger than ${max} bytes
 * fails with QBK_E_INTEGRITY without being read.  0 or -1 (${out} empty). */
int qbk_store_get(struct qbk_store *, const char *, size_t, struct qbk_buf *,
    struct qbk_err *);

/** qbk_store_get_range(store, key, offset, len, out, err): read the ${len}
 * bytes of object ${key} that start at byte ${offset} into ${out}
 * (replacing its contents).  The range must lie within the object: one that
 * reaches past its end fails with QBK_E_INTEGRITY, naming the object's size
 * when known; a missing object with QBK_E_NOTFOUND.  0 or -1 (${out}
 * empty). */
int qbk_store_get_range(struct qbk_store *, const char *, uint64_t, size_t,
    struct qbk_buf *, struct qbk_err *);

/** qbk_store_get_stream(store, key, fn, cookie, err): read the object ${key}
 * piece by piece through ${fn}.  0 or -1.  Unlike qbk_store_get(), an S3
 * download that fails after ${fn} has seen bytes is not retried (the
 * pieces cannot be taken back). */
int qbk_store_get_stream(struct qbk_store *, const char *,
    qbk_store_read_fn *, void *, struct qbk_err *);

/** qbk_store_stat(store, key, st, err): size and mtime of ${key}; a missing
 * object fails with QBK_E_NOTFOUND.  0 or -1. */
int qbk_store_stat(struct qbk_store *, const char *, struct qbk_store_stat *,
    struct qbk_err *);

/** qbk_store_exists(store, key, err): 1 if ${key} exists, 0 if not, -1 on
 * error. */
int qbk_store_exists(struct qbk_store *, const char *, struct qbk_err *);

/** qbk_store_list(store, prefix, flags, fn, cookie, err): call ${fn} for
 * every key that starts with ${prefix} ("" lists everything; "data/" every
 * chunk; "backups/2026" the backups of 2026), in no particular order.
 * Backend files (names starting with '.') are never listed.  Returns 0, the
 * callback's positive stop value, or -1. */
int qbk_store_list(struct qbk_store *, const char *, unsigned,
    qbk_store_list_fn *, void *, struct qbk_err *);

/** qbk_store_delete(store, key, flags, err): remove ${key}; removing a
 * missing object is not an error (deletes are idempotent, as on S3).
 * QBK_STORE_F_LAZY defers durability.  0 or -1. */
int qbk_store_delete(struct qbk_store *, const char *, unsigned,
    struct qbk_err *);

/** qbk_store_flush(store, err): make every lazy put and delete that returned
 * before this call durable.  0 or -1. */

/** qbk_store_touch(store, key): the existing object ${key} is referenced
 * anew by what is being written (a chunk reused by a backup): by the next
 * flush or non-lazy operation, the backend makes sure that it is kept at
 * least as long as an object written now would be (S3 with object lock:
 * its retention is extended when shorter; a failure fails that flush).
 * Safe from several threads; a no-op for backends that keep objects
 * anyway (local). */
void qbk_store_touch(struct qbk_store *, const char *);
int qbk_store_flush(struct qbk_store *, struct qbk_err *);

/** qbk_store_remove_stale(store, max_age, removed, err): remove leftovers of
 * interrupted writers older than ${max_age} seconds (local: temporary files
 * anywhere in the repository; S3: nothing, objects are single PUTs); adds
 * their number to ${*removed} (may be NULL).  Prune calls this under its
 * exclusive lock.  0 or -1. */
int qbk_store_remove_stale(struct qbk_store *, time_t, size_t *,
    struct qbk_err *);

/** qbk_store_host_lock(store, exclusive, token, err): take the backend's
 * same-host lock (local: flock(2) LOCK_SH or, if ${exclusive}, LOCK_EX on
 * "locks/.lock", without blocking) for qbk_lock.  Returns 0 (held: release
 * with qbk_store_host_unlock(${*token}); ${*token} is NULL when the backend
 * has no such lock, e.g. S3), 1 (a conflicting holder on this host) or -1. */
int qbk_store_host_lock(struct qbk_store *, int, void **, struct qbk_err *);

/** qbk_store_host_unlock(store, token): release a host lock; NULL is a
 * no-op. */
void qbk_store_host_unlock(struct qbk_store *, void *);

/** qbk_store_key_valid(key): nonzero if ${key} is a valid key (see above). */
int qbk_store_key_valid(const char *);

/** qbk_store_location(store): the location it was opened with. */
const char *qbk_store_location(const struct qbk_store *);

#endif /* !QBK_STORE_H */
