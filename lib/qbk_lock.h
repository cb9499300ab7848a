#ifndef QBK_LOCK_H
#define QBK_LOCK_H

/*
 * qbk_lock: repository locks.  Backups, restores and drills take a SHARED
 * lock; prune takes an EXCLUSIVE one.  Any number of shared holders may work
 * together; an exclusive holder excludes everybody else.  A conflict fails
 * with QBK_E_LOCKED (exit 4) and a message naming the holder:
 *   repository is locked exclusively by qbk-prune (pid 1234 on host db1,
 *   since 2026-11-21T22:15:00Z)
 *   repository is locked (shared) by qbk-backup (pid 77 on host db2, since
 *   2026-11-21T22:10:00Z), and by 2 more
 *
 * A lock is a record object "locks/<lock-id>" (lock-id: 16 random lowercase
 * hex digits), JSON:
 *   {"format":1,"id":"<lock-id>","kind":"shared"|"exclusive",
 *    "program":"qbk-backup","host":"db1","pid":1234,
 *    "time":"2026-11-21T22:15:00Z","refreshed":"2026-11-21T22:20:00Z"}
 * Records work the same on every backend.  Acquiring:
 *   1. Backends with a same-host lock (local folder: flock(2) LOCK_SH or
 *      LOCK_EX, non-blocking, on locks/.lock) take it first; if it is busy
 *      the attempt is a conflict, and no record is written.
 *   2. Write our record (an atomic, durable put).
 *   3. List locks/ and read every other record.  A stale record is removed
 *      with a warning; a live one that conflicts with ours (either is
 *      exclusive) makes the attempt fail: we remove our record, release the
 *      host lock, and report the holder.
 * A record is stale when
 *   - its "refreshed" time is more than stale_s (default 30 min) ago, or
 *   - its host is ours and its pid does not exist (kill(pid, 0): ESRCH), or
 *   - its host is ours and we hold the host lock in a mode its holder could
 *     not share (we hold LOCK_EX; or it is exclusive and we hold LOCK_SH):
 *     a live holder would still hold the host lock, so its process is gone
 *     (this also catches a recycled pid).
 * A record that cannot be parsed counts as an exclusive holder until its
 * object is stale_s old, then it is removed.
 * With wait_s, a conflicting attempt is retried (backoff 0.2 s doubling to
 * 5 s, with jitter) until wait_s seconds have passed.
 * While held, the holder calls qbk_lock_refresh() often (it rewrites the
 * record at most every refresh_s, default 5 min), so that other hosts do not
 * take its lock for stale.  Release removes the record and the host lock.
 *
 * Two hosts acquiring at the same moment may both see each other's record
 * and both fail (never both succeed); waiting with jitter resolves that.
 * Stale detection by pid assumes that host names identify machines.
 *
 * S3 has no same-host lock (step 1 is skipped): the records alone decide,
 * which needs the store's read-after-write and list-after-write consistency
 * (Amazon S3, MinIO, Ceph RGW have it), and clocks that agree to within a
 * few minutes, since other hosts' records expire by their "refreshed" time
 * (qbk-repository(5) "S3").
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct qbk_buf;
struct qbk_err;
struct qbk_lock;
struct qbk_store;

#define QBK_LOCK_ID_LEN			16
#define QBK_LOCK_STALE_DEFAULT		1800	/* seconds */
#define QBK_LOCK_REFRESH_DEFAULT	300	/* seconds */
#define QBK_LOCK_RECORD_MAX		65536	/* bytes read at most */

enum qbk_lock_kind {
	QBK_LOCK_SHARED = 0,
	QBK_LOCK_EXCLUSIVE
};

struct qbk_lock_opts {
	const char *program;	/* recorded holder name; default "qbk" */
	unsigned wait_s;	/* retry conflicts for this long; 0: no */
	unsigned stale_s;	/* 0: QBK_LOCK_STALE_DEFAULT */
	unsigned refresh_s;	/* 0: QBK_LOCK_REFRESH_DEFAULT */
	volatile sig_atomic_t *cancel;	/* non-zero stops waiting
					 * (QBK_E_INTERRUPTED); NULL: never */
};
#define QBK_LOCK_OPTS_INIT { "qbk", 0, 0, 0, NULL }

/* A lock record, as read. */
struct qbk_lock_info {
	char id[QBK_LOCK_ID_LEN + 1];
	enum qbk_lock_kind kind;
	char program[256];
	char host[256];
	int64_t pid;
	int64_t time;		/* acquired, seconds since the epoch */
	int64_t refreshed;	/* last refresh */
};

/** qbk_lock_acquire(store, kind, opts, out, err): lock the repository of
 * ${store} as described above (${opts} may be NULL).  On success ${*out} is
 * the lock, to end with qbk_lock_release(); ${store} must outlive it.  A
 * conflict fails with QBK_E_LOCKED naming the holder; ${*out} is NULL on
 * failure. */
int qbk_lock_acquire(struct qbk_store *, enum qbk_lock_kind,
    const struct qbk_lock_opts *, struct qbk_lock **, struct qbk_err *);

/** qbk_lock_refresh(lock, force, err): rewrite the lock's record with the
 * current time if refresh_s has passed since the last time (or if ${force}).
 * Cheap when not due: call it from any loop.  Fails with QBK_E_LOCKED if
 * the record was removed by another process (which took it for stale): the
 * lock is lost and the caller must stop.  0 or -1. */
int qbk_lock_refresh(struct qbk_lock *, int, struct qbk_err *);

/** qbk_lock_release(lock, err): remove the record, release the host lock,
 * free ${lock} (always, even on failure).  NULL is a no-op.  0 or -1. */
int qbk_lock_release(struct qbk_lock *, struct qbk_err *);

/** qbk_lock_id(lock): the lock-id of a held lock. */
const char *qbk_lock_id(const struct qbk_lock *);

/** qbk_lock_list(store, fn, cookie, err): call ${fn}(cookie, info) for every
 * readable lock record (unreadable ones are skipped with a warning), e.g. for
 * qbk-report.  ${fn} returns 0 to go on, nonzero to stop (returned).  0, the
 * stop value, or -1. */
int qbk_lock_list(struct qbk_store *,
    int (*)(void *, const struct qbk_lock_info *), void *, struct qbk_err *);

/** qbk_lock_describe(info, out): append "qbk-prune (pid 1234 on host db1,
 * since 2026-11-21T22:15:00Z)" to ${out}. */
void qbk_lock_describe(const struct qbk_lock_info *, struct qbk_buf *);

/** qbk_lock_parse(text, len, info, err): parse and check a lock record;
 * QBK_E_INTEGRITY if malformed.  0 or -1. */
int qbk_lock_parse(const void *, size_t, struct qbk_lock_info *,
    struct qbk_err *);

#endif /* !QBK_LOCK_H */
