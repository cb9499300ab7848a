#ifndef QBK_PRUNE_H
#define QBK_PRUNE_H

/*
 * qbk_prune: apply a retention policy (qbk_retention.h) to the backups of a
 * repository, honour legal holds, and remove what no backup needs any more.
 *
 * Backups are grouped by their set of collection names (sorted, joined by
 * ","; a full-storage backup is in group "full-storage"), timed by the start
 * time of their manifest.  The caller holds the EXCLUSIVE lock.  Order of
 * work, so that an interruption at any point leaves every remaining backup
 * restorable and a rerun finishes the job:
 *   1. read every manifest (one that cannot be read stops the prune: its
 *      chunks are unknown) and every hold;
 *   2. delete the manifests of the backups to remove (the commit point of
 *      a removal);
 *   3. delete "backups/<id>.copy" twins that have no manifest (left by a
 *      backup interrupted while committing);
 *   4. collect the chunks of every kept backup, list data/ and delete every
 *      other chunk (lazily, then one flush), but never one whose object is
 *      younger than grace_s, whatever the locks say;
 *   5. remove stale temporary files older than QBK_PRUNE_STALE_AGE.
 * A dry run does 1, computes 2-4 without deleting anything, and reports.
 *
 * A held backup (qbk_hold.h) is never removed.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/qbk_hold.h"
#include "repo/qbk_retention.h"

struct qbk_buf;
struct qbk_ctx;
struct qbk_err;
struct qbk_lock;
struct qbk_repo;

#define QBK_PRUNE_STALE_AGE	3600	/* seconds */

struct qbk_prune_opts {
	struct qbk_retention_policy policy;
	int dry_run;
	long long max_delete;	/* refuse to remove more backups; <0: no
				 * limit */
	int force;		/* ignore max_delete */
	int group_by_tags;	/* groups are collections and tags, not only
				 * collections */
	int64_t grace_s;	/* keep unreferenced chunks whose object is
				 * younger than this (seconds; the lock
				 * stale limit): a backup whose lock was
				 * lost may still name them */
	struct qbk_lock *lock;	/* checked during long loops; may be NULL */
	volatile sig_atomic_t *cancel;	/* may be NULL */
};

struct qbk_prune_backup {
	char id[32];
	int64_t time;		/* manifest start */
	char *group;
	unsigned keep;		/* qbk_retention bits; 0: to remove */
};

struct qbk_prune_result {
	int dry_run;
	struct qbk_retention_policy policy;
	struct qbk_prune_backup *backups;	/* oldest first */
	size_t n_backups;
	size_t n_remove;	/* backups removed (or to remove) */
	uint64_t chunks_removed;	/* (or to remove) */
	uint64_t chunks_young;	/* unreferenced, but younger than grace_s:
				 * kept */
	uint64_t bytes_freed;	/* sum of the removed chunk objects' sizes */
	size_t copies_removed;	/* orphan .copy twins */
	size_t stale_removed;	/* stale temporary files */
	size_t failures_removed;	/* failed-run records (qbk_failure.h)
					 * older than every backup kept */
};

/* Failed-run records are kept this long when no backup is (seconds). */
#define QBK_PRUNE_FAILURE_AGE	(30 * 86400)

/** qbk_prune_run(repo, opts, out, err): prune as described above.  On
 * success ${*out} is the result (free with qbk_prune_result_free()).  On
 * failure ${*out} may still hold what was decided and done so far (or be
 * NULL).  Errors: QBK_E_USAGE (more than max_delete backups to remove and
 * not forced; nothing was deleted), QBK_E_INTEGRITY (a manifest cannot be
 * read), QBK_E_INTERRUPTED, storage errors.  0 or -1. */
int qbk_prune_run(struct qbk_repo *, const struct qbk_prune_opts *,
    struct qbk_prune_result **, struct qbk_err *);

/** qbk_prune_result_free(res): free ${res}; NULL is fine. */
void qbk_prune_result_free(struct qbk_prune_result *);

/** qbk_prune_ctx_run(ctx, have_keep, opts, out, err): the prune of
 * qbk-prune on ${ctx}: fill ${opts} from its configuration
 * (qbk_prune_opts_from() with ${have_keep}), open its repository with the
 * shared lock for a dry run, else the exclusive one, and qbk_prune_run()
 * into ${out} (NULL when the repository did not open).  A failure of a
 * run whose lock was lost is reported as that (qbk_ctx_lost_lock()).  0
 * or -1. */
int qbk_prune_ctx_run(struct qbk_ctx *, int, struct qbk_prune_opts *,
    struct qbk_prune_result **, struct qbk_err *);

/** qbk_prune_hold_ctx(ctx, hold, release, reason, err): open the
 * repository of ${ctx} with the shared lock and put backup ${hold} under
 * legal hold for ${reason} (may be NULL), or, when ${hold} is NULL,
 * release the hold of backup ${release} (qbk_hold.h).  0 or -1. */
int qbk_prune_hold_ctx(struct qbk_ctx *, const char *, const char *,
    const char *, struct qbk_err *);

/** qbk_prune_parse_group_by(text, opts, err): the groups of --group-by,
 * "collections" or "collections,tags" (in either order), into ${opts}.
 * 0, or -1 (QBK_E_USAGE). */
int qbk_prune_parse_group_by(const char *, struct qbk_prune_opts *,
    struct qbk_err *);

/** qbk_prune_report_json(res, ok, err, out): append the JSON report
 * {"ok","dry_run","policy","backups":[{"backup_id","time","group","keep",
 * "reasons"}],"kept","removed","chunks_removed","bytes_freed",
 * "copies_removed","stale_removed","failures_removed","problems"} and a
 * newline to ${out};
 * ${res} may be NULL. */
void qbk_prune_report_json(const struct qbk_prune_result *, int,
    const struct qbk_err *, struct qbk_buf *);

/** qbk_prune_report_text(res, out): append the text report of ${res} to
 * ${out}: one line per backup, kept (with the rules that keep it) or
 * removed, then the totals. */
void qbk_prune_report_text(const struct qbk_prune_result *, struct qbk_buf *);

/** qbk_prune_hold_json(id, ok, out): append the --json document
 * {"ok", "backup_id"} of a --hold or --release of backup ${id} and a
 * newline to ${out}. */
void qbk_prune_hold_json(const char *, int, struct qbk_buf *);

#endif /* !QBK_PRUNE_H */
