#ifndef QBK_RESTORE_H
#define QBK_RESTORE_H

/*
 * qbk_restore: put a backup back.
 *
 * qbk_restore_select() picks a backup: by id, as the newest taken at or
 * before a time, or the newest of all; qbk_restore_choose() the newest
 * that holds the collections asked for.  qbk_restore_run() restores
 * collections of it into a Qdrant node: each snapshot is reassembled from
 * the repository (qbk_extract) and streamed straight into Qdrant's upload
 * endpoint with its SHA-256 as checksum, so nothing is spooled on local disk
 * and an upload cut short by a damaged chunk never reaches Qdrant's recovery.
 *   collection snapshot  POST /collections/{target}/snapshots/upload; the
 *                        collection is created from the snapshot if missing
 *   shard snapshots      the collection is created from the configuration
 *                        the manifest recorded, then every shard goes to
 *                        POST /collections/{target}/shards/{id}/snapshots/
 *                        upload
 *   full storage         each collection snapshot inside the archive is
 *                        uploaded as a collection snapshot, in one pass
 * The uploaded file is then deleted from the node (Qdrant keeps it), and the
 * aliases the manifest recorded for restored collections are created (an
 * alias that exists and points elsewhere is re-pointed only with force).
 *
 * An existing target collection is refused (QBK_E_USAGE) unless force; then
 * a safety backup of every collection about to be replaced is taken first
 * (qbk_backup_run(), tagged reason=pre-restore), and the snapshot is
 * recovered over the collection if its vectors and shard count match, else
 * the collection is deleted (its aliases are put back) and created anew.
 * When a recovery fails, a collection the restore created is deleted again:
 * a restore never leaves a half-restored collection that looks whole.
 *
 * A distributed target (GET /cluster enabled; peers found as in
 * qbk_cluster.h): only backups made of shard snapshots can go there.  The
 * collection is created with the recorded config and shard layout
 * (shard_number as recorded, replication_factor clamped to the number of
 * peers, with a warning), then each shard is uploaded to one node that
 * holds a replica of it in the new placement (spread over the nodes, up to
 * node_parallelism nodes at once), with the chosen priority; Qdrant brings
 * the other replicas up to date.  The restore then waits until every
 * replica is Active (replica_timeout_ms).  Replicas still not Active then
 * fail the run (QBK_E_QDRANT naming collection, shard, peer and state)
 * once every collection is restored and the aliases are set, unless
 * allow_inactive (a warning then).  Into an existing collection, the
 * priorities "replica" (the other Active replicas win) and "no_sync" (they
 * diverge) are warned about where a shard has other Active replicas, and
 * refused (QBK_E_USAGE) for one_shard without force.  Custom sharding:
 * the shard keys are created first and each shard goes into its key's
 * shard of the same rank (qbk_cluster_map_shards()).  Shards the backup
 * lists as missing are warned about and stay empty.
 *
 * qbk_restore_file() writes the original snapshot files byte for byte
 * instead (no Qdrant needed); qbk_restore_list() describes a backup.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_manifest.h"

struct qbk_buf;
struct qbk_err;
struct qbk_lock;
struct qbk_repo;

/* The tag that marks the safety backups qbk_restore_run() takes. */
#define QBK_RESTORE_SAFETY_KEY		"reason"
#define QBK_RESTORE_SAFETY_VALUE	"pre-restore"

/** qbk_restore_is_safety(m): 1 if ${m} is such a safety backup (it has
 * that tag), else 0.  Selections by time pass them over. */
int qbk_restore_is_safety(const struct qbk_manifest *);

/** qbk_restore_parse_time(s, now, out, err): parse a point in time for
 * --at into ${*out} (seconds since the epoch): ISO 8601 "2026-11-21T22:15:00Z",
 * "2026-11-21T22:15:00+01:00", "2026-11-21 22:15", "2026-11-21T22:15",
 * "2026-11-21" (midnight); a time without a zone is UTC.  Or a duration
 * back from ${now}: "2h", "3d", "1h30m" (qbk_config_parse_duration()), or
 * "now".  0, or -1 with QBK_E_USAGE saying what was expected. */
int qbk_restore_parse_time(const char *, int64_t, int64_t *,
    struct qbk_err *);

/** qbk_restore_select(repo, id, at, out, err): choose a backup of ${repo}
 * and write its id into ${out}[QBK_MANIFEST_ID_LEN + 1]: ${id} if not NULL
 * (it must exist: QBK_E_USAGE otherwise), else the newest backup taken at
 * or before ${at} (seconds since the epoch; the time in the backup id,
 * which is the backup's start) if ${at} >= 0 (QBK_E_USAGE if there is
 * none), else the newest backup.  Without ${id}, safety backups (tagged
 * reason=pre-restore) are passed over.  An empty repository is
 * QBK_E_NOTFOUND.  0 or -1 (a manifest that cannot be read: its error). */
int qbk_restore_select(struct qbk_repo *, const char *, int64_t, char *,
    struct qbk_err *);

/* Flags of qbk_restore_choose(). */
#define QBK_RESTORE_CHOOSE_SNAPSHOTS	0x1	/* a collection snapshot, not
						 * a member of a full storage
						 * snapshot (the drill) */
#define QBK_RESTORE_CHOOSE_NEWEST	0x2	/* refuse a backup that is
						 * not the newest of each */

/** qbk_restore_choose(repo, id, at, names, n, flags, out, err): as
 * qbk_restore_select(), but without ${id} and with ${n} > 0 collection
 * ${names}: the newest backup (at or before ${at} if ${at} >= 0, not a
 * safety backup) that holds every one of them, so that they come back
 * from one point in time.  If a newer backup holds one of them, the choice
 * is refused (QBK_E_USAGE naming the newer backup, with a hint) with
 * QBK_RESTORE_CHOOSE_NEWEST, else warned about.  No backup that holds them
 * all is QBK_E_USAGE naming a collection no backup holds, or the newest
 * backup of each.  0 or -1. */
int qbk_restore_choose(struct qbk_repo *, const char *, int64_t,
    const char *const *, size_t, int, char *, struct qbk_err *);

/* Progress events for the front end. */
enum qbk_restore_event {
	QBK_RESTORE_EV_START,	/* a collection starts */
	QBK_RESTORE_EV_BYTES,	/* bytes sent so far */
	QBK_RESTORE_EV_DONE	/* a collection is restored */
};

struct qbk_restore_progress {
	enum qbk_restore_event event;
	const char *collection;	/* name in the backup */
	const char *target;	/* name restored into, or the file */
	uint64_t bytes;		/* sent so far (DONE: all) */
	uint64_t total;		/* snapshot bytes of the collection */
	uint64_t duration_ms;	/* DONE */
};

struct qbk_restore_opts {
	const char *const *collections;	/* NULL: every collection */
	size_t ncollections;
	const char *as;		/* new name; only with one collection */
	const char *prefix;	/* or: restore each as <prefix><name> (for
				 * scratch copies, e.g. qbk-drill) */
	enum qbk_qdrant_priority priority;
	int force;		/* replace existing collections (after a
				 * safety backup) and re-point aliases */
	int no_aliases;		/* do not create aliases */
	unsigned workers;	/* chunk readers; 0: one per CPU, at most 8 */
	unsigned sample_points;	/* safety backup: points fingerprinted */
	volatile sig_atomic_t *cancel;
	struct qbk_lock *lock;	/* refreshed while working; may be NULL */
	struct qbk_qdrant *cleanup;	/* a client without the cancel flag,
					 * to undo after an interruption;
					 * NULL: use the main one */
	void (*progress)(void *, const struct qbk_restore_progress *);
	void *progress_cookie;
	/* Distributed targets and single shards. */
	int one_shard;		/* restore only shard ${shard} of the one
				 * chosen collection, into the existing
				 * collection (no --force needed, no safety
				 * backup, no aliases) */
	uint32_t shard;
	const char *const *nodes;	/* [qdrant] nodes: REST URLs, or NULL */
	size_t nnodes;
	unsigned node_parallelism;	/* nodes uploaded to at once; 0:
					 * min(nodes, 4) */
	int64_t replica_timeout_ms;	/* wait this long for every replica
					 * to become Active; 0: 120 s, -1:
					 * do not wait */
	int allow_inactive;	/* replicas still not Active then: a
				 * warning, not a failure */
};

/* One restored snapshot. */
struct qbk_restore_snap {
	char *name;		/* Qdrant's snapshot name in the backup */
	int64_t shard_id;	/* -1 unless a shard snapshot */
	uint64_t bytes;
	char sha256[QBK_MANIFEST_HEX_LEN + 1];
};

/* One restored collection (or file written). */
struct qbk_restore_item {
	char *name;		/* collection in the backup ("" for a
				 * full-storage file) */
	char *target;		/* collection restored into, or file path */
	uint64_t bytes;
	char sha256[QBK_MANIFEST_HEX_LEN + 1];	/* of its first snapshot */
	uint64_t duration_ms;
	int replaced;		/* it existed before (force) */
	struct qbk_restore_snap *snaps;
	size_t nsnaps;
};

struct qbk_restore_report {
	char backup_id[QBK_MANIFEST_ID_LEN + 1];
	char safety_backup_id[QBK_MANIFEST_ID_LEN + 1];	/* "" if none */
	struct qbk_restore_item *items;
	size_t nitems;
	char **warnings;	/* also logged as they happen */
	size_t nwarnings;
};

/** qbk_restore_report_init(r), qbk_restore_report_release(r): an empty
 * report; free what it holds (and make it empty again). */
void qbk_restore_report_init(struct qbk_restore_report *);
void qbk_restore_report_release(struct qbk_restore_report *);

/** qbk_restore_run(repo, q, m, opts, report, err): restore the collections
 * of backup ${m} chosen by ${opts} into the Qdrant node ${q}, as described
 * above; ${repo} is locked shared by the caller.  ${report} (initialised)
 * gets what was done, also on failure.  Errors: QBK_E_USAGE for a
 * collection the backup does not hold, --as with several collections, an
 * existing target without force, a collection or full storage snapshot
 * for a distributed target, one_shard without exactly one existing target
 * collection or without that shard in the backup; QBK_E_INTEGRITY for a
 * missing or damaged chunk (nothing half-read is recovered) or a checksum
 * Qdrant refused; QBK_E_INTERRUPTED; Qdrant, network and storage errors.
 * Collections are restored one after the other (the shards of one
 * collection in parallel across nodes on a cluster) and the first failure
 * stops the run. */
int qbk_restore_run(struct qbk_repo *, struct qbk_qdrant *,
    const struct qbk_manifest *, const struct qbk_restore_opts *,
    struct qbk_restore_report *, struct qbk_err *);

/** qbk_restore_write_fn(cookie, data, len, err): see qbk_extract_write_fn. */
typedef int qbk_restore_write_fn(void *, const void *, size_t,
    struct qbk_err *);

/** qbk_restore_file(repo, m, opts, path, write, cookie, report, err): write
 * the original snapshot file of the collection chosen by ${opts} (of the
 * backup's full-storage snapshot if none is chosen; the inner collection
 * snapshot if one is chosen in a full-storage backup) byte for byte:
 * to ${write}(${cookie}, ...) if ${write} is not NULL, else to the file
 * ${path}, atomically (temporary file, fsync, rename), or, if ${path} is a
 * folder, every chosen snapshot into it under its Qdrant name.  Exactly one
 * snapshot must be chosen unless ${path} is a folder (QBK_E_USAGE).  A
 * regular file that would be replaced is refused (QBK_E_USAGE, before
 * anything is written) unless ${o}->force; a device or pipe is written in
 * place.  The SHA-256 is checked as in qbk_extract; on failure no file is
 * left. */
int qbk_restore_file(struct qbk_repo *, const struct qbk_manifest *,
    const struct qbk_restore_opts *, const char *, qbk_restore_write_fn *,
    void *, struct qbk_restore_report *, struct qbk_err *);

/* What qbk-restore is asked for, beyond struct qbk_restore_opts. */
struct qbk_restore_request {
	const char *backup;	/* backup id, or NULL */
	const char *at;		/* time text (qbk_restore_parse_time()),
				 * or NULL */
	int priority;		/* enum qbk_qdrant_priority; -1: config */
	int list;		/* describe the backup, restore nothing */
	int json;		/* the description as JSON */
	const char *to_file;	/* write the snapshot file here instead */
	qbk_restore_write_fn *write;	/* to_file's writer, or NULL */
	void *write_cookie;
};

/** qbk_restore_run_ctx(ctx, rq, ro, rep, out, err): qbk-restore's run on
 * the open context ${ctx}: ${ro} completed from the configuration, the
 * repository opened (locked shared only for a safety backup), the backup
 * chosen by ${rq} and ${ro}'s collections (the newest that holds them
 * all), its id in ${rep}; then its description appended to ${out}
 * (${rq}->list), its snapshot file written (${rq}->to_file) or it is
 * restored into the configured Qdrant, as qbk_restore_list(),
 * qbk_restore_file() and qbk_restore_run().  0, or -1 as those or with a
 * bad ${rq}->at (QBK_E_USAGE); after a failure ${err} tells if the lock
 * was lost meanwhile. */
struct qbk_ctx;
int qbk_restore_run_ctx(struct qbk_ctx *, const struct qbk_restore_request *,
    struct qbk_restore_opts *, struct qbk_restore_report *,
    struct qbk_buf *, struct qbk_err *);

/** qbk_restore_list(m, json, out): append a description of backup ${m} to
 * ${out}: collections, snapshots (kind, shard, name, size, sha256), points,
 * aliases, tags; as text, or as one JSON document ({"ok":true,
 * "backup_id":..., "collections":[...], ...}) if ${json}. */
void qbk_restore_list(const struct qbk_manifest *, int, struct qbk_buf *);

/** qbk_restore_report_json(r, ok, err, out): append qbk-restore's --json
 * document: {"ok", "backup_id", "problems": [message of ${err} unless
 * ${ok}], "warnings", "safety_backup_id" (if any), "collections": [{"name",
 * "target", "bytes", "sha256", "duration_ms", "replaced", "snapshots"}]}. */
void qbk_restore_report_json(const struct qbk_restore_report *, int,
    const struct qbk_err *, struct qbk_buf *);

/** qbk_restore_summary_text(r, out): append qbk-restore's text summary of
 * ${r} to ${out}: a line per collection restored (or snapshot file
 * written) with its target, size, SHA-256 and time, then the safety
 * backup of the replaced collections, if one was taken. */
void qbk_restore_summary_text(const struct qbk_restore_report *,
    struct qbk_buf *);

/** qbk_restore_progress_text(p, progname, out): append to ${out} the
 * terminal progress line of the event ${p}: the percentage sent of a
 * collection, redrawn in place, and its erasure when the collection is
 * done. */
void qbk_restore_progress_text(const struct qbk_restore_progress *,
    const char *, struct qbk_buf *);

/** qbk_restore_version_skew(from, to): nonzero if a snapshot taken on
 * Qdrant ${from} ("1.12.4") may not be recoverable on ${to}: Qdrant
 * recovers snapshots on the same or the next minor version only.  0 when
 * either cannot be parsed. */
int qbk_restore_version_skew(const char *, const char *);

#endif /* !QBK_RESTORE_H */
