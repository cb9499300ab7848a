#ifndef QBK_DRILL_H
#define QBK_DRILL_H

/*
 * qbk_drill: automated restore tests (qbk-drill(1)).
 *
 * qbk_drill_run() picks a backup (by id, --at, or the scenario: the newest,
 * or the one in force at a random time within the repository's backup span
 * for "pitr"; for "all-collections" every collection any backup holds,
 * each from the newest backup that holds it), restores the chosen
 * collections with qbk_restore_run() into
 * scratch collections named "qbk-drill-<drill-id>-<name>" on the drill
 * target, validates them against what the manifest recorded, removes them
 * again whatever happened, and records the drill under drills/<drill-id>.
 * Validation levels:
 *   basic          the collection exists and turns green; its points count
 *                  and vector parameters equal the manifest's; on a
 *                  distributed target every replica of every shard is
 *                  Active, the replicas of a shard agree on their points
 *                  count, and it equals the one recorded for that shard
 *   comprehensive  also every sampled point (manifest "sample") hashes
 *                  (qbk_points_hash()) to the value recorded at backup
 *                  time, and a search with a sampled vector returns results
 *   exhaustive     also every point, scrolled, gives the content hash
 *                  of every bucket known at backup time (qbk_points.h;
 *                  the backup must have been taken with --content-hash)
 * The recovery time (RTO) is measured from the start of the restore until
 * the validation ended, and compared with the target.  A restored
 * collection is readable whatever its optimizers do: grey (optimizations
 * pending, not triggered: Qdrant never triggers them after a shard
 * recovery), yellow (optimizing) and green all count as restored; red is a
 * problem.  After the validation the drill waits up to green_timeout_ms
 * for every restored collection to turn green and records the time from
 * the start of the restore until it saw them green (green_ms; not green in
 * time is recorded, not a failure).
 *
 * Scratch collections of earlier drills that were killed are removed before
 * the restore: a collection is a leftover when its name is exactly
 * "qbk-drill-<well-formed drill id>-<something>", the id is not ours, its
 * time is not after our start, and no other qbk-drill holds a lock on the
 * repository since before that time.  Nothing else is ever deleted.
 *
 * With validate_only, nothing is restored, deleted or recorded: the
 * collections as they exist under their own names are validated against
 * the backup (for runbooks after an emergency restore).
 *
 * lib/ rule: nothing here prints; problems are collected in the result.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_manifest.h"

struct qbk_buf;
struct qbk_config;
struct qbk_err;
struct qbk_lock;
struct qbk_repo;

/* Scratch collection names: QBK_DRILL_PREFIX "<drill-id>-<name>". */
#define QBK_DRILL_PREFIX	"qbk-drill-"

enum qbk_drill_level {
	QBK_DRILL_BASIC = 0,
	QBK_DRILL_COMPREHENSIVE,
	QBK_DRILL_EXHAUSTIVE
};

enum qbk_drill_scenario {
	QBK_DRILL_LATEST = 0,	/* newest backup */
	QBK_DRILL_PITR,		/* backup in force at a random time */
	QBK_DRILL_ALL_COLLECTIONS	/* every collection, each from the
				 * newest backup holding it */
};

struct qbk_drill_opts {
	const char *backup_id;	/* NULL: by at or the scenario */
	int64_t at;		/* >= 0: newest backup at or before (s) */
	enum qbk_drill_scenario scenario;
	enum qbk_drill_level level;
	const char *const *collections;	/* NULL: every collection */
	size_t ncollections;
	int validate_only;
	int record;		/* write drills/<id> (not with
				 * validate_only) */
	int64_t rto_target_ms;	/* <= 0: none */
	int64_t keep_within_ms;	/* pitr: only this far back; <= 0: all */
	int64_t green_timeout_ms;	/* wait for green after the
					 * validation; 0: 60 s; < 0: none */
	unsigned workers;	/* restore chunk readers; 0: default */
	enum qbk_qdrant_priority priority;
	volatile sig_atomic_t *cancel;
	struct qbk_lock *lock;	/* our repository lock, or NULL */
	struct qbk_qdrant *cleanup;	/* client without the cancel flag for
					 * removing scratch collections after
					 * an interruption; NULL: the main */
	long sample_points;	/* sampled points compared; < 0: all */
	/* A distributed target: the REST URLs of its nodes (NULL: found
	 * from its cluster URIs), nodes restored to at once (0: min(nodes,
	 * 4)), and how long to wait for replicas to become Active (0: 120
	 * s). */
	const char *const *nodes;
	size_t nnodes;
	unsigned node_parallelism;
	int64_t replica_timeout_ms;
};

#define QBK_DRILL_OPTS_INIT { NULL, -1, QBK_DRILL_LATEST, QBK_DRILL_BASIC, \
	NULL, 0, 0, 1, 0, 0, 0, 0, QBK_QDRANT_PRIORITY_DEFAULT, NULL, NULL, \
	NULL, -1, NULL, 0, 0, 0 }

struct qbk_drill_result {
	/* The drill record (drill_id "" with validate_only): backup, level,
	 * scenario, phases, pass, rto, problems.  Owned. */
	struct qbk_manifest_drill *rec;
	int validate_only;
	int ran;		/* validation ran to a verdict */
	int recorded;		/* written to drills/ */
	int rto_met;		/* 1 met, 0 missed, -1 no target/not run */
	int64_t pitr_time;	/* pitr: the time drawn; else -1 */
	char **collections;	/* names in the backup that were checked */
	size_t ncollections;
	size_t leftovers;	/* scratch collections of killed drills
				 * removed */
	uint64_t points_checked;	/* sampled + scrolled points compared */
	size_t shards_checked;	/* shards of a distributed target */
};

/** qbk_drill_result_init(r), qbk_drill_result_release(r): an empty
 * result; free what it holds. */
void qbk_drill_result_init(struct qbk_drill_result *);
void qbk_drill_result_release(struct qbk_drill_result *);

/** qbk_drill_run(repo, q, opts, res, err): run a drill (or a validation
 * with ${opts->validate_only}) of a backup of ${repo} (locked shared by the
 * caller) on the Qdrant node ${q}, as described above.  Returns 0 when the
 * drill reached a verdict: ${res->rec->pass} says whether it passed (a
 * damaged or missing chunk found by the restore is a failed drill, not an
 * error), and ${res->rto_met} whether the target was met.  Returns -1 on a
 * usage error (QBK_E_USAGE: unknown backup or collection; exhaustive
 * validation of a backup without content hashes), an interruption
 * (QBK_E_INTERRUPTED; nothing recorded) or a runtime failure (Qdrant,
 * network, storage: recorded as a failed drill when it happened after the
 * backup was chosen).  Scratch collections are removed in every case. */
int qbk_drill_run(struct qbk_repo *, struct qbk_qdrant *,
    const struct qbk_drill_opts *, struct qbk_drill_result *,
    struct qbk_err *);

/** qbk_drill_run_ctx(ctx, at, level_set, d, res, err): qbk_drill_run() on
 * the open context ${ctx}: ${d}->at from the time text ${at} (or NULL),
 * the rest of ${d} from the configuration (its level too unless
 * ${level_set}), the repository locked shared, the drill target with
 * ${d}->cancel and a second client without it for the cleanup.  0, or -1
 * as qbk_drill_run() or with a bad ${at} (QBK_E_USAGE); after a failure
 * ${err} tells if the lock was lost meanwhile. */
struct qbk_ctx;
int qbk_drill_run_ctx(struct qbk_ctx *, const char *, int,
    struct qbk_drill_opts *, struct qbk_drill_result *, struct qbk_err *);

/** qbk_drill_target(cfg, validate_only, cancel, out, err): a Qdrant client
 * for the drill target: [drill] url with qbk_config_drill_api_key(), or
 * the [qdrant] url (also with validate_only, which works on the live
 * deployment) with its own key.  Caller frees with qbk_qdrant_free(). */
int qbk_drill_target(const struct qbk_config *, int,
    volatile sig_atomic_t *, struct qbk_qdrant **, struct qbk_err *);

/** qbk_drill_scratch_name(drill_id, name, out): append the scratch name
 * "qbk-drill-<drill_id>-<name>" to ${out}. */
void qbk_drill_scratch_name(const char *, const char *, struct qbk_buf *);

/** qbk_drill_scratch_parse(name, id): 1 if ${name} is a scratch name
 * ("qbk-drill-" + a well-formed id + "-" + at least one character), with
 * the id copied into ${id}[QBK_MANIFEST_ID_LEN + 1]; else 0. */
int qbk_drill_scratch_parse(const char *, char *);

/** qbk_drill_pitr_time(first, last, now, keep_within_ms, rnd): the time
 * a pitr drill restores to: ${first} + ${rnd} mod (span + 1) seconds,
 * where the span runs from the oldest backup ${first} (or ${now} -
 * ${keep_within_ms} if that is later) to the newest ${last}. */
int64_t qbk_drill_pitr_time(int64_t, int64_t, int64_t, int64_t, uint64_t);

/** qbk_drill_level_name(l), qbk_drill_scenario_name(s): "basic", ...,
 * "latest", "pitr", "all-collections". */
const char *qbk_drill_level_name(enum qbk_drill_level);
const char *qbk_drill_scenario_name(enum qbk_drill_scenario);

/** qbk_drill_parse_level(s, out), qbk_drill_parse_scenario(s, out): the
 * reverse; 0, or -1 for an unknown name. */
int qbk_drill_parse_level(const char *, enum qbk_drill_level *);
int qbk_drill_parse_scenario(const char *, enum qbk_drill_scenario *);

/** qbk_drill_report_json(res, err, out): append qbk-drill's --json
 * document: {"ok", "drill_id" (null with validate_only), "backup_id" (the
 * newest backup drilled), "level", "scenario", "validate_only",
 * "collections", "backups": {"<collection>": "<backup id>"}, "phases":
 * {"<name>": ms}, "rto_ms", "rto_target_ms" (null: none), "rto_met" (null:
 * no target), "green_ms" (null: not green within the wait), "pitr_time" (pitr only), "leftovers_removed",
 * "points_checked", "shards_checked", "recorded", "problems": [...]}.  ${err} (may be NULL)
 * is the runtime error, added to the problems; ok is true only when the
 * validation passed and there was no error. */
void qbk_drill_report_json(const struct qbk_drill_result *,
    const struct qbk_err *, struct qbk_buf *);

/** qbk_drill_list(repo, json, out, err): append the drills recorded in
 * ${repo}, oldest first: one line each ("<drill-id> backup <id> <level>
 * <scenario> pass|FAIL rto <s> s[ target <s> s][ green <s> s| not green]",
 * then "  problem: ..." lines; nothing about green for records older than
 * green_ms), or with ${json} one document {"ok": true, "drills":
 * [{"drill_id", "backup_id", "level", "scenario", "start", "end", "result",
 * "rto_ms", "rto_target_ms", "green_ms" (null: not green in time; absent:
 * older record), "phases", "problems", "backups"}], "problems": []}.  A record that
 * cannot be read is an error (QBK_E_INTEGRITY).  0 or -1. */
int qbk_drill_list(struct qbk_repo *, int, struct qbk_buf *,
    struct qbk_err *);

/** qbk_drill_metrics(res, ok, now, out): append the qbk_drill_* metrics
 * (Prometheus text format) of a run to ${out}: timestamp ${now}, success
 * ${ok}, and when a drill ran, the RTO, its target and whether it was met,
 * and the duration of every phase. */
void qbk_drill_metrics(const struct qbk_drill_result *, int, int64_t,
    struct qbk_buf *);

/** qbk_drill_text(res, quiet, out): append qbk-drill's text report of
 * ${res} to ${out}: a line per problem, the verdict with the recovery
 * time and its target, and whether the restored collections are green;
 * with ${quiet}, only the problems of a drill that passed in time. */
void qbk_drill_text(const struct qbk_drill_result *, int, struct qbk_buf *);

/** qbk_drill_exit_code(res): the exit code of a drill that ran:
 * QBK_EXIT_DATA when it failed, QBK_EXIT_OBJECTIVE when it passed but
 * missed the recovery time target, QBK_EXIT_OK otherwise. */
int qbk_drill_exit_code(const struct qbk_drill_result *);

/** qbk_drill_alert_text(res, out): append to ${out} what the alert of a
 * failed or slow drill says (nothing for a drill that passed in time). */
void qbk_drill_alert_text(const struct qbk_drill_result *, struct qbk_buf *);

#endif /* !QBK_DRILL_H */
