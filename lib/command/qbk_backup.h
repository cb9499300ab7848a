#ifndef QBK_BACKUP_H
#define QBK_BACKUP_H

/*
 * qbk_backup: one backup run.  For every collection chosen: record its
 * config, aliases, points count and a fingerprinted sample of points; then
 * stream its data into the repository: each shard through Qdrant's
 * streaming shard snapshot endpoint where the server has it (nothing is
 * written on the node's disk), otherwise a collection snapshot created on
 * the node, downloaded (its SHA-256 checked against Qdrant's) and deleted
 * again (also on failure).  With full_storage, Qdrant's full storage
 * snapshot plus every alias.  The manifest is written last: the backup
 * exists once qbk_backup_run() returns 0.
 *
 * A node of a distributed deployment: the cluster is discovered from it
 * (qbk_cluster.h), every shard of every chosen collection is streamed once,
 * from one Active replica (the least loaded peer first, then the order of
 * ${opts->nodes}), on up to ${opts->node_parallelism} nodes at a time (one
 * stream per node), and each collection records its shard layout
 * (qbk_manifest_cluster).  A shard without an Active replica fails the
 * backup (QBK_E_QDRANT naming it) unless ${opts->allow_partial}; then it is
 * listed in the manifest's missing shards (qbk_manifest_missing_count()).
 * Replicas on peers qbk cannot reach are passed over, with a warning if the
 * cluster calls them Active; a shard left without a reachable Active
 * replica fails as above, with the peer and its URL named.  Every peer
 * that cannot be reached is recorded in the manifest's unreachable peers.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct qbk_err;
struct qbk_qdrant;
struct qbk_repo;
struct qbk_manifest;
struct qbk_lock;

enum qbk_backup_mode {
	QBK_BACKUP_MODE_AUTO = 0,	/* shard streams if offered */
	QBK_BACKUP_MODE_STREAM,		/* shard streams only */
	QBK_BACKUP_MODE_SNAPSHOT	/* collection snapshots */
};

/* Progress events for the front end. */
enum qbk_backup_event {
	QBK_BACKUP_EV_START,	/* a collection starts; total may be -1 */
	QBK_BACKUP_EV_BYTES,	/* bytes streamed so far */
	QBK_BACKUP_EV_DONE	/* a collection is stored */
};

struct qbk_backup_progress {
	enum qbk_backup_event event;
	const char *collection;
	uint64_t bytes;		/* streamed so far */
	int64_t total;		/* expected, or -1 */
	uint64_t bytes_new;	/* DONE: plaintext bytes of new chunks */
	uint64_t duration_ms;	/* DONE */
};

struct qbk_backup_opts {
	const char *const *collections;	/* NULL: every collection */
	size_t ncollections;
	int full_storage;
	int full;		/* --type full: re-check reused chunks */
	const char *const *tags;	/* "KEY=VALUE" */
	size_t ntags;
	enum qbk_backup_mode mode;
	unsigned sample_points;	/* points fingerprinted per collection */
	int content_hash;	/* record the content hashes of every
				 * collection (--content-hash, qbk_points.h) */
	unsigned workers;	/* 0: one per CPU */
	int zstd_level;		/* -1: the repository's default */
	int64_t now;		/* backup time; 0: the clock */
	volatile sig_atomic_t *cancel;
	struct qbk_lock *lock;	/* refreshed while the backup runs; or NULL */
	void (*progress)(void *, const struct qbk_backup_progress *);
	void *progress_cookie;
	/* Distributed deployments (see qbk_cluster.h). */
	const char *const *nodes;	/* [qdrant] nodes: REST URLs, or NULL */
	size_t nnodes;
	unsigned node_parallelism;	/* nodes streamed at once; 0:
					 * min(nodes, 4) */
	int allow_partial;	/* record shards without an Active replica
				 * as missing instead of failing */
};

/** qbk_backup_run(repo, q, opts, out, err): run a backup of the Qdrant
 * deployment ${q} into ${repo} (already locked shared by the caller).  On
 * success ${*out} is the manifest written (caller frees it with
 * qbk_manifest_free()).  Errors: QBK_E_USAGE for an unknown collection,
 * QBK_E_INTEGRITY for a damaged or truncated snapshot, the network,
 * storage and Qdrant errors otherwise; nothing is recorded then. */
int qbk_backup_run(struct qbk_repo *, struct qbk_qdrant *,
    const struct qbk_backup_opts *, struct qbk_manifest **, struct qbk_err *);

/** qbk_backup_run_ctx(ctx, type, bo, out, err): qbk_backup_run() on the
 * open context ${ctx}: ${bo} completed from the configuration (${type}: -1
 * as configured, 0 incremental, 1 full), its Qdrant and its repository
 * locked shared.  0 with ${*out} as qbk_backup_run(), or -1; after a
 * failure ${err} tells if the lock was lost meanwhile, and a failure with
 * the repository open is recorded there (failures/), unless it is a
 * usage or configuration error or an interruption. */
struct qbk_ctx;
int qbk_backup_run_ctx(struct qbk_ctx *, int, struct qbk_backup_opts *,
    struct qbk_manifest **, struct qbk_err *);

/** qbk_backup_metrics(m, ok, err_text, now, prev, out): append Prometheus
 * text-format metrics of a run that ended at ${now} (${m} may be NULL when it
 * failed) to the qbk_buf ${out}: run time and success; with ${m}, its
 * start, duration, bytes, new bytes and points per collection, new bytes
 * in all, qbk_backup_missing_shards per collection (a partial backup) and
 * qbk_backup_unreachable_peers.  ${prev} is the text of the metrics file
 * being replaced, or NULL: its qbk_backup_last_success_timestamp_seconds
 * is carried over when this run failed or started earlier, so that the
 * last success stays known after failures. */
struct qbk_buf;
void qbk_backup_metrics(const struct qbk_manifest *, int, const char *,
    int64_t, const char *, struct qbk_buf *);

/** qbk_backup_report_json(m, ok, err, out): append qbk-backup's --json
 * document to ${out}: ok (the backup was written), problems (why not),
 * warnings (each missing shard and unreachable peer, in words), and with
 * ${m}: backup_id, type, partial (shards are missing), missing_shards,
 * unreachable_peers, per collection name, snapshot_bytes, new_bytes,
 * sha256, duration_ms, points_count, snapshots; totals. */
void qbk_backup_report_json(const struct qbk_manifest *, int,
    const struct qbk_err *, struct qbk_buf *);

/** qbk_backup_progress_text(p, progname, tty, out): append to ${out} the
 * line qbk-backup shows on stderr for the event ${p}: on a terminal
 * (${tty}) a line redrawn as bytes stream, otherwise only a line per
 * collection stored (cron mails show what was done). */
void qbk_backup_progress_text(const struct qbk_backup_progress *,
    const char *, int, struct qbk_buf *);

/** qbk_backup_summary_text(m, out): append qbk-backup's one-line summary
 * of the backup ${m} to ${out}. */
void qbk_backup_summary_text(const struct qbk_manifest *, struct qbk_buf *);

/** qbk_backup_metrics_update(path, m, ok, err_text, now, out): as
 * qbk_backup_metrics(), with ${prev} read from the metrics file ${path}
 * about to be replaced (none, or unreadable with a warning logged: no
 * last success to carry over). */
void qbk_backup_metrics_update(const char *, const struct qbk_manifest *,
    int, const char *, int64_t, struct qbk_buf *);

#endif /* !QBK_BACKUP_H */
