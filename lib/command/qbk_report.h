#ifndef QBK_REPORT_H
#define QBK_REPORT_H

/*
 * qbk_report: the model behind qbk-report(1): what the repository holds
 * (backups, legal holds, drills) and how it stands against the recovery
 * objectives of [objectives] in a time window.
 *
 * A report is built in two steps so that the arithmetic can be tested
 * without a repository:
 *   1. qbk_report_new() with the options, then qbk_report_add_backup() and
 *      qbk_report_add_drill() for every backup and drill (in any order);
 *      qbk_report_load() does this from a repository;
 *   2. qbk_report_compute() sorts them and derives everything else.
 *
 * Definitions (qbk-report(1) documents them for operators):
 *   time of a backup   the start time of its manifest
 *   usable backup      its manifest opens and every chunk it names exists
 *                      (qbk-verify's quick check, without reading chunks)
 *   now                opts->now (the end of the window)
 *   window             [opts->since, now]; backups and drills after now
 *                      are ignored entirely
 *   RPO of collection  now - time of its newest usable backup of it; a
 *                      collection is every collection named by any backup
 *                      (a full-storage backup counts as the collection
 *                      "full-storage"), and every collection a failed
 *                      run named; a backup that lacks some of the
 *                      collection's shards (--allow-partial) is not a
 *                      usable backup of that collection: it is counted as
 *                      partial
 *   max gap            the longest time between consecutive usable backups
 *                      of a collection whose later one is in the window
 *                      (its predecessor may be older than the window)
 *   dedup ratio        logical bytes (snapshot bytes of every backup) /
 *                      stored bytes (sizes of the chunk objects)
 *   growth per week    plaintext bytes new to the repository (bytes_new)
 *                      of the usable backups in the window after the first
 *                      one, per week between the first and the last of
 *                      them; 0 with fewer than two
 *   failed runs        failure records (qbk_failure.h) in the window; a run
 *                      that named no collection counts for every one
 *   misses             an RPO target and a collection whose RPO exceeds it
 *                      (or an empty repository); the last drill failed; an
 *                      RTO target and the last drill's measured RTO above
 *                      it.  No drill at all is not a miss.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/qbk_failure.h"
#include "repo/qbk_manifest.h"

struct qbk_buf;
struct qbk_err;
struct qbk_repo;

/* The pseudo-collection of full-storage backups (qbk_manifest.h). */
#define QBK_REPORT_FULL_STORAGE	QBK_MANIFEST_FULL_STORAGE

struct qbk_report_opts {
	int64_t now;		/* end of the window, seconds since the epoch */
	int64_t since;		/* start of the window */
	int64_t rpo_target;	/* seconds; -1: no objective */
	int64_t rto_target;	/* seconds; -1: no objective */
	int check_chunks;	/* load: check that every chunk exists */
	volatile sig_atomic_t *cancel;	/* may be NULL */
};

struct qbk_report_part {	/* one collection of a backup */
	char *name;
	uint64_t bytes;		/* snapshot bytes (sum of snapshot sizes) */
	uint64_t bytes_new;
	uint64_t points;
	size_t missing_shards;	/* shards the backup lacks (--allow-partial) */
};

struct qbk_report_backup {
	char id[QBK_MANIFEST_ID_LEN + 1];
	int64_t start, end;	/* end is 0 when the manifest did not open */
	int full;		/* type full */
	int full_storage;	/* kind full-storage */
	enum qbk_manifest_selection selection;
	struct qbk_report_part *parts;
	size_t n_parts;
	char **tags;		/* "key=value" */
	size_t n_tags;
	uint64_t size;		/* logical bytes: manifest totals.size */
	uint64_t bytes_new;
	int held;		/* under legal hold */
	int usable;		/* see above */
	char *problem;		/* why not usable, or NULL */
};

struct qbk_report_drill {
	char id[QBK_MANIFEST_ID_LEN + 1];
	char backup_id[QBK_MANIFEST_ID_LEN + 1];
	int64_t start, end;
	char *level;
	char *scenario;
	int pass;
	uint64_t rto_ms;
	uint64_t rto_target_ms;	/* recorded by the drill; 0: none */
	int64_t green_ms;	/* until green, or QBK_MANIFEST_GREEN_* */
	char **problems;
	size_t n_problems;
};

struct qbk_report_collection {
	char *name;
	int64_t last;		/* time of the newest usable backup; -1: none */
	char last_id[QBK_MANIFEST_ID_LEN + 1];	/* "" when none */
	int64_t rpo;		/* seconds; -1 when there is no usable backup */
	int rpo_met;		/* 1, 0, or -1 without an RPO target */
	int64_t max_gap;	/* seconds; 0 when there is no gap */
	size_t backups;		/* usable backups in the window */
	size_t unusable;	/* backups in the window that are not usable */
	size_t partial;		/* usable backups in the window that lack
				 * shards of it */
	size_t failed;		/* failed backup runs in the window that
				 * were to back it up (qbk_failure.h) */
	uint64_t size;		/* newest usable backup's snapshot bytes */
	double growth_per_week;	/* snapshot bytes, first to last in window */
};

/* What --check reports.  kind is "rpo", "drill" or "rto". */
struct qbk_report_miss {
	char *kind;
	char *collection;	/* NULL unless kind is "rpo" */
	char *text;		/* one line for people */
};

struct qbk_report {
	struct qbk_report_opts opts;
	struct qbk_failure *failures;	/* oldest first */
	size_t n_failures;
	size_t failures_in_window;
	long last_failure;	/* index of the newest up to now, or -1 */
	struct qbk_report_backup *backups;	/* oldest first after compute */
	size_t n_backups;
	struct qbk_report_drill *drills;	/* oldest first after compute */
	size_t n_drills;
	struct qbk_report_collection *collections;	/* by name */
	size_t n_collections;
	uint64_t stored_bytes;	/* chunk objects, as listed */
	uint64_t stored_chunks;
	uint64_t logical_bytes;
	double dedup_ratio;	/* 0 when nothing is stored */
	double growth_per_week;
	size_t backups_in_window;
	size_t drills_pass, drills_fail;	/* in the window */
	long last_drill;	/* index in drills of the newest, or -1 */
	int rto_met;		/* last drill vs target: 1, 0, -1 unknown */
	struct qbk_report_miss *misses;
	size_t n_misses;
	int objectives_met;	/* no miss */
};

/** qbk_report_new(opts): an empty report for ${opts} (copied; cancel is
 * kept).  Caller frees with qbk_report_free(). */
struct qbk_report *qbk_report_new(const struct qbk_report_opts *);

/** qbk_report_free(r): free ${r}; NULL is fine. */
void qbk_report_free(struct qbk_report *);

/** qbk_report_add_backup(r, m, held, problem): add the backup of manifest
 * ${m} (copied; not kept) with its hold flag; ${problem} (may be NULL)
 * makes it unusable.  Returns the new entry (valid until the next add). */
struct qbk_report_backup *qbk_report_add_backup(struct qbk_report *,
    const struct qbk_manifest *, int, const char *);

/** qbk_report_add_broken(r, id, held, problem): add backup ${id} whose
 * manifest cannot be read (unusable; its time is the one in its id). */
struct qbk_report_backup *qbk_report_add_broken(struct qbk_report *,
    const char *, int, const char *);

/** qbk_report_add_failure(r, f): add the failed backup run ${f}
 * (copied). */
void qbk_report_add_failure(struct qbk_report *, const struct qbk_failure *);

/** qbk_report_add_drill(r, d): add the drill record ${d} (copied). */
void qbk_report_add_drill(struct qbk_report *,
    const struct qbk_manifest_drill *);

/** qbk_report_compute(r): sort the backups and drills and derive the
 * collections, storage figures, drill results and misses from them and
 * from ${r}->stored_bytes (which the caller sets).  Idempotent. */
void qbk_report_compute(struct qbk_report *);

/** qbk_report_load(repo, opts, out, err): build and compute the report of
 * ${repo} (borrowed; no lock is needed: chunks are listed before manifests
 * are read, and a prune deletes manifests before chunks).  Every manifest,
 * hold and drill record is read; with ${opts}->check_chunks every chunk a
 * manifest names must be in the listing of data/ (or exist when asked
 * again).  A manifest that cannot be read is listed as unusable with a
 * warning; a drill record that cannot be read is skipped with a warning.
 * 0, or -1 (storage failures, QBK_E_INTERRUPTED) with ${*out} NULL. */
int qbk_report_load(struct qbk_repo *, const struct qbk_report_opts *,
    struct qbk_report **, struct qbk_err *);

/*
 * Output.  Each appends to ${out}.
 */

/** qbk_report_list_text(r, out): tables of backups and drills. */
void qbk_report_list_text(const struct qbk_report *, struct qbk_buf *);

/** qbk_report_list_json(r, out): {"ok", "problems", "backups":
 * [{"backup_id", "time", "end", "type", "kind", "selection" ("all", "named" or null), "collections",
 * "size", "bytes_new", "tags", "held", "usable", "problem",
 * "missing_shards"}], "drills": [{"drill_id", "backup_id", "time",
 * "end", "result", "rto_seconds", "rto_target_seconds", "green_seconds"
 * (null: not green within the drill's wait, or a record older than
 * green_ms), "level",
 * "scenario", "problems"}], "failures": [...]} and a newline. */
void qbk_report_list_json(const struct qbk_report *, struct qbk_buf *);

/** qbk_report_error_json(e, out): {"ok": false, "problems": [message]}
 * and a newline: the --json document when no report could be made.  The
 * documents above have "ok": true and "problems": [] in front. */
void qbk_report_error_json(const struct qbk_err *, struct qbk_buf *);

/** qbk_report_text(r, out): the compliance report for people. */
void qbk_report_text(const struct qbk_report *, struct qbk_buf *);

/** qbk_report_json(r, out): the compliance report as one JSON document
 * (qbk-report(1) lists its fields) and a newline. */
void qbk_report_json(const struct qbk_report *, struct qbk_buf *);

/** qbk_report_prometheus(r, out): the compliance report in the Prometheus
 * text exposition format, the metric names of qbk-report(1). */
void qbk_report_prometheus(const struct qbk_report *, struct qbk_buf *);

/* The output formats of qbk-report, in the order of its --format choices
 * after NONE (plain --check: nothing on stdout). */
enum qbk_report_format {
	QBK_REPORT_FORMAT_NONE = 0,
	QBK_REPORT_FORMAT_TEXT,
	QBK_REPORT_FORMAT_JSON,
	QBK_REPORT_FORMAT_PROMETHEUS
};

/** qbk_report_render(r, list, format, out): the list (${list}: text or
 * JSON) or the compliance report of ${r} in ${format}; nothing for
 * QBK_REPORT_FORMAT_NONE. */
void qbk_report_render(const struct qbk_report *, int,
    enum qbk_report_format, struct qbk_buf *);

/** qbk_report_misses_text(r, progname, out): a line per missed objective,
 * "<progname>: objective missed: <text>", for --check on stderr. */
void qbk_report_misses_text(const struct qbk_report *, const char *,
    struct qbk_buf *);

#endif /* !QBK_REPORT_H */
