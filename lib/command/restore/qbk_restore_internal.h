#ifndef QBK_RESTORE_INTERNAL_H
#define QBK_RESTORE_INTERNAL_H

/*
 * The parts of qbk_restore that its files share (lib/command/restore/).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "command/qbk_restore.h"
#include "common/qbk_buf.h"
#include "qdrant/qbk_qdrant.h"

struct qbk_cluster;
struct qbk_cluster_keyed;
struct qbk_cluster_layout;
struct qbk_err;
struct qbk_extract;
struct qbk_extract_opts;
struct qbk_manifest;
struct qbk_manifest_snapshot;
struct qbk_repo;
struct qbk_sha256;
struct qbk_tar;

/* ---- sources of upload bodies ---------------------------------------- */

struct run {
	struct qbk_repo *repo;
	struct qbk_qdrant *q;
	struct qbk_qdrant *cq;	/* for cleanup */
	const struct qbk_manifest *m;
	const struct qbk_restore_opts *o;
	struct qbk_restore_report *rep;
	const char *url;
	struct qbk_cluster *cl;	/* the target, when distributed */
	int prio_set;		/* use ${prio}, not the option */
	enum qbk_qdrant_priority prio;
	pthread_mutex_t mu;	/* uploads to several nodes at once: guards
				 * the report, progress and the lock */
	int threaded;
	struct qbk_buf inactive;	/* replicas not Active in the end */
};

/* The body of one upload: a whole snapshot, or one member of a tar. */
struct source {
	const struct qbk_restore_opts *o;
	struct qbk_extract *x;
	struct qbk_tar *tar;	/* member mode: at the member */
	const void *piece;	/* member mode: data not yet sent */
	size_t piece_len;
	const char *collection, *target;
	uint64_t base, total;	/* progress: earlier bytes, all bytes */
	uint64_t sent, reported;
	struct qbk_sha256 *sha;	/* member mode: SHA-256 of what was sent */
	pthread_mutex_t *mu;	/* several uploads at once, or NULL */
	int lost_answer;	/* the upload's answer was lost; its outcome
				 * was read from the replica states */
};

/* ---- restoring collections ------------------------------------------- */

/* What will happen to one collection. */
struct plan {
	const char *name;	/* in the backup */
	const char *target;
	char *target_buf;	/* owned target (prefix) */
	const struct qbk_manifest_collection *mc;	/* NULL: full member */
	int exists;		/* target exists on the node */
	int shards;		/* restored from shard snapshots */
	uint64_t total;		/* bytes to send */
	int done;
	int replaced;		/* it existed before the restore */
	struct qbk_qdrant_alias *old_aliases;	/* of a deleted target */
	size_t n_old_aliases;
};

struct member_find {
	const char *name;
	uint64_t size;
	int found;
	const char *path;	/* borrowed from the manifest */
};

struct member_names {
	const char **v;
	size_t n;
	struct qbk_buf list;
};

/* ---- qbk_restore_select.c: what a backup holds, choosing one */

/** qbk_restore_member_collection(path): the collection of a member
 * "<collection>-<peer id>-YYYY-MM-DD-HH-MM-SS.snapshot" of a full storage
 * snapshot, or NULL; caller frees. */
char *qbk_restore_member_collection(const char *path);

/** qbk_restore_full_members(s, fn, cookie): call ${fn}(cookie, collection,
 * path, size) for each collection snapshot inside the full storage snapshot
 * ${s}. */
void qbk_restore_full_members(const struct qbk_manifest_snapshot *s,
    void (*fn)(void *, const char *, const char *, uint64_t), void *cookie);

/** qbk_restore_find_member(cookie, coll, path, size): a
 * qbk_restore_full_members() callback that finds the member of ${cookie}, a
 * struct member_find. */
void qbk_restore_find_member(void *cookie, const char *coll, const char *path,
    uint64_t size);

/** qbk_restore_collect_member(cookie, coll, path, size): a
 * qbk_restore_full_members() callback that adds ${coll} to ${cookie}, a
 * struct member_names. */
void qbk_restore_collect_member(void *cookie, const char *coll,
    const char *path, uint64_t size);

/** qbk_restore_member_names_release(mn): free what ${mn} holds. */
void qbk_restore_member_names_release(struct member_names *mn);

/** qbk_restore_held_names(m, out): the collections ${m} holds, quoted, into
 * ${out}. */
void qbk_restore_held_names(const struct qbk_manifest *m, struct qbk_buf *out);

/* ---- qbk_restore_output.c: the report */

/** qbk_restore_add_item(r, name, target): a new item of ${r} for collection
 * ${name} restored as ${target}; borrowed from ${r}. */
struct qbk_restore_item *qbk_restore_add_item(struct qbk_restore_report *r,
    const char *name, const char *target);

/** qbk_restore_drop_item(r): forget the last item of ${r} (its restore
 * failed). */
void qbk_restore_drop_item(struct qbk_restore_report *r);

/** qbk_restore_item_add_snap(it, name, shard_id, bytes, sha): record a
 * snapshot sent for ${it}. */
void qbk_restore_item_add_snap(struct qbk_restore_item *it, const char *name,
    int64_t shard_id, uint64_t bytes, const char *sha);

/** qbk_restore_warning(r, fmt, ...): log a warning and keep it for the
 * report ${r}. */
void qbk_restore_warning(struct qbk_restore_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- qbk_restore_plan.c: planning a restore */

/** qbk_restore_is_custom(p): nonzero if the collection of ${p} was sharded
 * by shard keys. */
int qbk_restore_is_custom(const struct plan *p);

/** qbk_restore_backup_shards(p, n): the shards the backup of ${p} records,
 * with their keys (borrowed from the manifest); caller frees the array. */
struct qbk_cluster_keyed *qbk_restore_backup_shards(const struct plan *p,
    size_t *n);

/** qbk_restore_layout_shards(l): the shards of ${l} with their keys
 * (borrowed from ${l}); caller frees the array. */
struct qbk_cluster_keyed *qbk_restore_layout_shards(
    const struct qbk_cluster_layout *l);

/** qbk_restore_compatible(r, p, err): can the backup of ${p} be recovered
 * over the existing target (same vectors, shard count and sharding, and for
 * custom sharding as many shards under each key)? 1, 0, or -1. */
int qbk_restore_compatible(struct run *r, struct plan *p, struct qbk_err *err);

/** qbk_restore_replace_incompatible(r, p, err): make way for the backup of
 * ${p}, which does not fit the existing target: read the whole backup of it
 * first, keep its aliases, delete it; 0 or -1. */
int qbk_restore_replace_incompatible(struct run *r, struct plan *p,
    struct qbk_err *err);

/** qbk_restore_make_plans(m, o, out, np, mn, err): resolve the collections
 * chosen by ${o} in ${m} into ${*out} (${*np}; free with
 * qbk_restore_plans_free()), and the members of a full storage snapshot
 * into ${mn}; 0 or -1, without asking Qdrant. */
int qbk_restore_make_plans(const struct qbk_manifest *m,
    const struct qbk_restore_opts *o, struct plan **out, size_t *np,
    struct member_names *mn, struct qbk_err *err);

/** qbk_restore_plans_free(plans, n): free ${plans}; NULL is fine. */
void qbk_restore_plans_free(struct plan *plans, size_t n);

/** qbk_restore_check_target(r, plans, np, err): ask the node about the
 * targets (distributed? version? which exist?) and refuse what cannot work,
 * before anything is changed; 0 or -1. */
int qbk_restore_check_target(struct run *r, struct plan *plans, size_t np,
    struct qbk_err *err);

/* ---- qbk_restore_shard.c: shard by shard */

/** qbk_restore_create_indexes(r, p, err): create the payload indexes the
 * backup of ${p} records; 0 or -1. */
int qbk_restore_create_indexes(struct run *r, struct plan *p,
    struct qbk_err *err);

/** qbk_restore_describe_failed(r, p, err): after a failed recovery over the
 * live target of ${p}, add to ${err} what state it is left in. */
void qbk_restore_describe_failed(struct run *r, const struct plan *p,
    struct qbk_err *err);

/** qbk_restore_check_count(r, p, existed, err): check the points count of
 * the restored target of ${p} against the backup; 0 or -1. */
int qbk_restore_check_count(struct run *r, struct plan *p, int existed,
    struct qbk_err *err);

/** qbk_restore_restore_sharded(r, p, err): restore ${p} shard by shard
 * (distributed targets, shard snapshots, --shard); 0 or -1. */
int qbk_restore_restore_sharded(struct run *r, struct plan *p,
    struct qbk_err *err);

/* ---- qbk_restore.c: uploads and whole collections */

/** qbk_restore_source_hash_start(s): start hashing what ${s} sends. */
void qbk_restore_source_hash_start(struct source *s);

/** qbk_restore_source_hash(s, data, len): hash ${len} bytes sent by ${s},
 * if it hashes. */
void qbk_restore_source_hash(struct source *s, const void *data, size_t len);

/** qbk_restore_source_hash_end(s, hex): the hex SHA-256 of what ${s} sent
 * into ${hex}[65] ("" if it did not hash), and stop hashing. */
void qbk_restore_source_hash_end(struct source *s, char *hex);

/** qbk_restore_source_tick(s, err): refresh the lock of the restore, if it
 * holds one, and report progress every few MiB sent by ${s}; 0 or -1. */
int qbk_restore_source_tick(struct source *s, struct qbk_err *err);

/** qbk_restore_progress(o, ev, coll, target, bytes, total, ms): report
 * progress through the callback of ${o}, if any. */
void qbk_restore_progress(const struct qbk_restore_opts *o,
    enum qbk_restore_event ev, const char *coll, const char *target,
    uint64_t bytes, uint64_t total, uint64_t ms);

/** qbk_restore_extract_opts(r, coll, eo): the options to read the snapshots
 * of ${coll} from the repository. */
void qbk_restore_extract_opts(const struct run *r, const char *coll,
    struct qbk_extract_opts *eo);

/** qbk_restore_wake_optimizers(r, target): trigger the optimizers of
 * ${target}, which Qdrant does not for a recovered shard. */
void qbk_restore_wake_optimizers(struct run *r, const char *target);

/** qbk_restore_undo_create(r, target): delete the partly restored
 * ${target}, which the restore created. */
void qbk_restore_undo_create(struct run *r, const char *target);

/** qbk_restore_restore_snapshot(r, q, p, s, shard, base, it, err): upload
 * snapshot ${s} of ${p} to ${q}: into shard ${shard} of the target, or as a
 * collection snapshot (shard -1); 0 or -1. */
int qbk_restore_restore_snapshot(struct run *r, struct qbk_qdrant *q,
    struct plan *p, const struct qbk_manifest_snapshot *s, long shard,
    uint64_t base, struct qbk_restore_item *it, struct qbk_err *err);

/** qbk_restore_safety_backup(r, plans, np, err): back up every collection
 * about to be replaced, or the one whose shard --shard replaces; 0 or -1. */
int qbk_restore_safety_backup(struct run *r, struct plan *plans, size_t np,
    struct qbk_err *err);

#endif /* !QBK_RESTORE_INTERNAL_H */
