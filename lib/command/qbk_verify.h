#ifndef QBK_VERIFY_H
#define QBK_VERIFY_H

/*
 * qbk_verify: check a repository, and optionally the running deployment,
 * and list EVERY problem found rather than stop at the first.
 *
 * Quick (always, unless only --live is asked): the key slots parse; every
 * manifest (and its ".copy" twin) decrypts and parses; every chunk a
 * manifest names exists in data/ (one listing of data/ with sizes) with a
 * plausible object size: more than the 40-byte header and 16-byte tag, and
 * at most header + plaintext + tag (a chunk is stored compressed only when
 * that makes it smaller).
 *
 * read_data: every distinct chunk is read, authenticated, decompressed and
 * its id re-hashed by a few worker threads; with a subset only the chosen
 * chunks.  Without a subset every snapshot is also reassembled as a stream
 * (qbk_extract), which must match its recorded SHA-256, parse as a whole
 * tar (qbk_tar) and have Qdrant's layout for its kind.
 *
 * Subsets: slice K of N takes the chunks whose id, read as a big-endian
 * number, falls in the K-th of N equal ranges of the id space, so that the
 * N slices are disjoint, cover every chunk, and stay stable as chunks are
 * added (a daily cron with K = day mod N covers everything in N days).
 * A percentage takes each chunk with that probability.
 *
 * live: every collection of the deployment is green, every replica of every
 * shard Active, and its points count equals the one recorded in the newest
 * backup (or the one asked); collections only on one side are reported.
 * On a cluster (peers found as in qbk_cluster.h, with ${peers}' URLs as
 * the configured nodes) also per shard: every shard has an Active replica,
 * the Active replicas of a shard hold the same number of points (each
 * counted by its own peer), that number equals the one the backup recorded
 * for the shard, and every peer answers.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct qbk_buf;
struct qbk_ctx;
struct qbk_err;
struct qbk_lock;
struct qbk_qdrant;
struct qbk_repo;

struct qbk_verify_opts {
	const char *backup_id;	/* only this backup; NULL: every backup */
	int repo;		/* check the repository (quick) */
	int read_data;		/* ... and read the data */
	unsigned slice_k, slice_n;	/* subset: slice K (1..N) of N; N 0:
					 * no slice */
	unsigned percent;	/* subset: 1..99 % of the chunks; 0: none */
	struct qbk_qdrant *live;	/* check this deployment; NULL: no */
	struct qbk_qdrant *const *peers;	/* with live: every node of a
					 * cluster, to compare the point
					 * counts of a shard's replicas */
	size_t npeers;
	unsigned workers;	/* chunk readers; 0: one per CPU, at most 8 */
	struct qbk_lock *lock;	/* refreshed while the checks run; may be
				 * NULL */
	volatile sig_atomic_t *cancel;	/* non-zero: stop; may be NULL */
};
#define QBK_VERIFY_OPTS_INIT { NULL, 1, 0, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL }

/* One problem; the fields that do not apply are NULL. */
struct qbk_verify_problem {
	char *backup;
	char *collection;
	char *chunk;		/* 64 hex digits */
	char *problem;		/* what is wrong */
};

struct qbk_verify_checked {
	uint64_t key_slots;
	uint64_t backups;	/* manifests looked at */
	uint64_t chunk_refs;	/* chunk references checked for presence */
	uint64_t chunks;	/* distinct chunks referenced */
	uint64_t chunks_read;	/* distinct chunks read and re-hashed */
	uint64_t snapshots;	/* snapshots reassembled */
	uint64_t bytes;		/* plaintext bytes of those snapshots */
	uint64_t collections;	/* live collections checked */
};

struct qbk_verify_result {
	struct qbk_verify_problem *problems;
	size_t n_problems;
	struct qbk_verify_checked checked;
	char live_backup[32];	/* the backup --live compared with, or "" */
};

/** qbk_verify_run(repo, opts, res, err): run the checks that ${opts} asks
 * for on ${repo} (borrowed; the caller holds its shared lock) and fill
 * ${res} (release it with qbk_verify_result_release(), also on failure).
 * Returns 0 when every check could be run, whether problems were found or
 * not (${res}->n_problems tells); -1 when the checks could not go on (a
 * storage or network failure, QBK_E_LOCKED when the lock was lost, QBK_E_INTERRUPTED, or QBK_E_USAGE for an
 * unknown ${opts}->backup_id). */
int qbk_verify_run(struct qbk_repo *, const struct qbk_verify_opts *,
    struct qbk_verify_result *, struct qbk_err *);

/** qbk_verify_result_release(res): free what ${res} holds and zero it. */
void qbk_verify_result_release(struct qbk_verify_result *);

/** qbk_verify_problem_text(p, out): append "backup 'B', collection 'C',
 * chunk 'X': problem" (the parts that apply) to ${out}. */
void qbk_verify_problem_text(const struct qbk_verify_problem *,
    struct qbk_buf *);

/** qbk_verify_ctx_run(ctx, live, opts, res, err): the checks of qbk-verify
 * on ${ctx}: with ${live}, the configured Qdrant and a client for each of
 * its nodes (at most 64, freed again before returning) into ${opts}; then
 * the repository opened with QBK_CTX_LOCK_READ and qbk_verify_run() into
 * ${res}.  A failure of a run whose lock was lost is reported as that
 * (qbk_ctx_lost_lock()).  0 or -1, as qbk_verify_run(). */
int qbk_verify_ctx_run(struct qbk_ctx *, int, struct qbk_verify_opts *,
    struct qbk_verify_result *, struct qbk_err *);

/** qbk_verify_problems_summary(res, out): append "N problems found: " and
 * the first problem of ${res} (which has at least one), with " (and more)"
 * when there are more, to ${out}: what the alert of the run says. */
void qbk_verify_problems_summary(const struct qbk_verify_result *,
    struct qbk_buf *);

/** qbk_verify_report_text(res, out): append the text report to ${out}:
 * "problem: ..." for each problem, then what was checked and how many
 * problems were found. */
void qbk_verify_report_text(const struct qbk_verify_result *,
    struct qbk_buf *);

/** qbk_verify_report_json(res, e, out): append the --json document
 * {"ok", "problems": [{"backup", "collection", "chunk", "problem"}],
 * "checked": {...}} to ${out}; ${e} (may be NULL) is a failure that stopped
 * the checks, listed as a problem; "ok" is true only without problems and
 * failure. */
void qbk_verify_report_json(const struct qbk_verify_result *,
    const struct qbk_err *, struct qbk_buf *);

/** qbk_verify_parse_subset(text, opts, err): parse "N%" (1..100) or "K/N"
 * (1 <= K <= N) into ${opts}.  0, or -1 (QBK_E_USAGE). */
int qbk_verify_parse_subset(const char *, struct qbk_verify_opts *,
    struct qbk_err *);

#endif /* !QBK_VERIFY_H */
