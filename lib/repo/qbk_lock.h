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
 *    "time":"2026-11-21T22:15:00Z","refreshed":"2026-11-21T22:20:00Z",
 *    "stale_after":1800,"boot_id":"<uuid>","pid_ns":4026531836}
 * (stale_after, boot_id and pid_ns were added later: optional when read).
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
 *   - its "refreshed" time is more than stale_s ago, or more than its own
 *     "stale_after" if that is longer (default 30 min), or
 *   - it proves that its holder ran under this kernel (same host name and
 *     boot id) and in our PID namespace (same pid_ns), and its pid does not
 *     exist (kill(pid, 0): ESRCH), or
 *   - it proves the same host name and boot id, and we hold the host lock
 *     in a mode its holder could not share (we hold LOCK_EX; or it is
 *     exclusive and we hold LOCK_SH): a live holder would still hold the
 *     host lock, so its process is gone (this also catches a recycled pid).
 * A record without boot id and PID namespace (older qbk) expires by time
 * only: a host name alone does not identify a machine (containers), and a
 * pid means nothing in another PID namespace.
 * A record that cannot be parsed counts as an exclusive holder until its
 * object is stale_s old, then it is removed.
 * With wait_s, a conflicting attempt is retried (backoff 0.2 s doubling to
 * 5 s, with jitter) until wait_s seconds have passed.
 *
 * While held, a thread of the lock's own refreshes the record every
 * refresh_s (default stale_s / 6, at most 5 min), whatever the holder is
 * doing: it reads the record, proves it is still ours, and rewrites it with
 * the current time.  If the record is gone or another's, or no refresh
 * worked for stale_s - refresh_s (before anyone may take it for stale), the
 * lock is lost: the thread logs why, sets *opts->cancel so that whatever
 * the holder waits on stops, and qbk_lock_refresh() fails from then on.
 * A holder about to commit (a backup before its manifest) calls
 * qbk_lock_refresh(lock, 1, err) to prove, synchronously, that it still
 * holds the lock.  Release stops the thread and removes the record and the
 * host lock.
 *
 * Two hosts acquiring at the same moment may both see each other's record
 * and both fail (never both succeed); waiting with jitter resolves that.
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
#define QBK_LOCK_STALE_MIN		2	/* seconds */
#define QBK_LOCK_STALE_MAX		86400	/* seconds */

enum qbk_lock_kind {
	QBK_LOCK_SHARED = 0,
	QBK_LOCK_EXCLUSIVE
};

struct qbk_lock_opts {
	const char *program;	/* recorded holder name; default "qbk" */
	unsigned wait_s;	/* retry conflicts for this long; 0: no */
	unsigned stale_s;	/* 0: QBK_LOCK_STALE_DEFAULT */
	unsigned refresh_s;	/* 0: qbk_lock_refresh_interval(stale_s) */
	volatile sig_atomic_t *cancel;	/* non-zero stops waiting
					 * (QBK_E_INTERRUPTED); set to 1 when
					 * the lock is lost; NULL: never */
	int read_only_ok;	/* a shared lock for a run that writes nothing
				 * to the repository: if no record can be
				 * written (a read-only or full repository,
				 * read-only credentials), go on without one,
				 * with a warning, unless an exclusive holder
				 * is there */
};
#define QBK_LOCK_OPTS_INIT { "qbk", 0, 0, 0, NULL, 0 }

/* A lock record, as read. */
struct qbk_lock_info {
	char id[QBK_LOCK_ID_LEN + 1];
	enum qbk_lock_kind kind;
	char program[256];
	char host[256];
	int64_t pid;
	int64_t time;		/* acquired, seconds since the epoch */
	int64_t refreshed;	/* last refresh */
	int64_t stale_after;	/* seconds the holder asks for; 0: not
				 * said */
	char boot_id[64];	/* the holder's kernel boot id; "": unknown */
	uint64_t pid_ns;	/* its PID namespace (inode); 0: unknown */
};

/** qbk_lock_acquire(store, kind, opts, out, err): lock the repository of
 * ${store} as described above (${opts} may be NULL).  On success ${*out} is
 * the lock, to end with qbk_lock_release(); ${store} must outlive it.  A
 * conflict fails with QBK_E_LOCKED naming the holder; ${*out} is NULL on
 * failure. */
int qbk_lock_acquire(struct qbk_store *, enum qbk_lock_kind,
    const struct qbk_lock_opts *, struct qbk_lock **, struct qbk_err *);

/** qbk_lock_refresh(lock, force, err): whether the lock is still held.
 * Without ${force}, cheap (the refresher thread does the work): fails with
 * QBK_E_LOCKED once the lock is lost, so call it from any loop.  With
 * ${force}, prove it now: read the record, check that it is ours, rewrite
 * it with the current time (QBK_E_LOCKED if it is gone or another's: the
 * lock is lost; another error if the store failed).  The caller must stop
 * on failure.  0 or -1. */
int qbk_lock_refresh(struct qbk_lock *, int, struct qbk_err *);

/** qbk_lock_lost(lock, err): 1 if the lock was lost, with why in ${err}
 * (QBK_E_LOCKED), else 0.  NULL: 0.  For a holder that stopped with
 * QBK_E_INTERRUPTED to report the real cause. */
int qbk_lock_lost(struct qbk_lock *, struct qbk_err *);

/** qbk_lock_refresh_interval(stale_s): how often a holder refreshes its
 * record when records go stale after ${stale_s}: stale_s / 6, at most
 * QBK_LOCK_REFRESH_DEFAULT, at least 1. */
unsigned qbk_lock_refresh_interval(unsigned);

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
