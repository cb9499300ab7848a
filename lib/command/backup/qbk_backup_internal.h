#ifndef QBK_BACKUP_INTERNAL_H
#define QBK_BACKUP_INTERNAL_H

/*
 * qbk_backup_internal: what the files of lib/command/backup/ share.
 * qbk_backup.c streams snapshots and backs up a single node (and runs the
 * whole backup), qbk_backup_cluster.c backs up a distributed deployment,
 * qbk_backup_output.c renders the metrics and the --json report.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "command/qbk_backup.h"
#include "stream/qbk_ingest.h"

struct qbk_err;
struct qbk_manifest;
struct qbk_manifest_collection;
struct qbk_manifest_snapshot;
struct qbk_points_fp;
struct qbk_qdrant;
struct qbk_qdrant_alias;
struct qbk_qdrant_collection;
struct qbk_qdrant_snapshot;
struct qbk_repo;

/* Times a shard stream that Qdrant ended before the end of its archive is
 * taken again (from another Active replica first, if there is one). */
#define QBK_BACKUP_STREAM_AGAIN	2

/** qbk_backup_report_progress(o, ev, coll, bytes, total, bytes_new, ms):
 * tell ${o}'s progress callback, if any, about event ${ev} of collection
 * ${coll}. */
void qbk_backup_report_progress(const struct qbk_backup_opts *,
    enum qbk_backup_event, const char *, uint64_t, int64_t, uint64_t,
    uint64_t);

/** qbk_backup_stream_one(repo, q, o, coll, shard, name, total, layout, ms,
 * mu, err): stream one snapshot (${name} NULL: a shard stream of ${shard};
 * else the stored snapshot ${name} of ${shard} of ${coll}, of ${coll} if
 * ${shard} is QBK_QDRANT_NO_SHARD, or of the storage if ${coll} is NULL)
 * into the repository and describe it in ${ms}.  ${mu} (may be NULL) when
 * several streams run at once.  Returns 0, or -1 with ${err} set. */
int qbk_backup_stream_one(struct qbk_repo *, struct qbk_qdrant *,
    const struct qbk_backup_opts *, const char *, long, const char *, int64_t,
    enum qbk_ingest_layout, struct qbk_manifest_snapshot *, pthread_mutex_t *,
    struct qbk_err *);

/** qbk_backup_cut_short(err): 1 if ${err} says that Qdrant ended a stream
 * before the end of its archive (QBK_E_SHORT), which is worth taking
 * again; 0 otherwise. */
int qbk_backup_cut_short(const struct qbk_err *);

/** qbk_backup_check_checksum(ms, desc, err): compare the stored snapshot
 * ${ms} with the checksum and size Qdrant reported in ${desc}.  Returns 0,
 * or -1 with ${err} set (QBK_E_INTEGRITY). */
int qbk_backup_check_checksum(const struct qbk_manifest_snapshot *,
    const struct qbk_qdrant_snapshot *, struct qbk_err *);

/** qbk_backup_add_collection(m, name, info, aliases, naliases): record
 * collection ${name} in ${m} with its aliases, configuration, vector
 * parameters and points count; returns it (owned by ${m}). */
struct qbk_manifest_collection *qbk_backup_add_collection(
    struct qbk_manifest *, const char *, const struct qbk_qdrant_collection *,
    const struct qbk_qdrant_alias *, size_t);

/** qbk_backup_begin_fingerprint(q, o, name, fp, err): read the points of
 * ${name} before its snapshot into ${fp}.  Returns 0, or -1 with ${err}
 * set. */
int qbk_backup_begin_fingerprint(struct qbk_qdrant *,
    const struct qbk_backup_opts *, const char *, struct qbk_points_fp *,
    struct qbk_err *);

/** qbk_backup_record_fingerprint(q, o, mc, fp, err): read the points again
 * after the snapshot and record in ${mc} what did not change meanwhile.
 * Returns 0, or -1 with ${err} set. */
int qbk_backup_record_fingerprint(struct qbk_qdrant *,
    const struct qbk_backup_opts *, struct qbk_manifest_collection *,
    struct qbk_points_fp *, struct qbk_err *);

/** qbk_backup_wanted(o, name): 1 if --collection chose ${name}. */
int qbk_backup_wanted(const struct qbk_backup_opts *, const char *);

/** qbk_backup_cluster(repo, q, o, m, names, aliases, naliases, err): back
 * up the collections ${names} (NULL-terminated) of a distributed
 * deployment into ${m}.  Returns 0, or -1 with ${err} set. */
int qbk_backup_cluster(struct qbk_repo *, struct qbk_qdrant *,
    const struct qbk_backup_opts *, struct qbk_manifest *, char **,
    const struct qbk_qdrant_alias *, size_t, struct qbk_err *);

#endif /* QBK_BACKUP_INTERNAL_H */
