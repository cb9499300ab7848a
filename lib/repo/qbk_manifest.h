#ifndef QBK_MANIFEST_H
#define QBK_MANIFEST_H

/*
 * qbk_manifest: the data model of a backup manifest (backups/<backup-id>) and
 * of a drill record (drills/<drill-id>), and their JSON form.  This module
 * only turns structs into JSON text and back; the repository layer encrypts
 * that text before it is stored.
 *
 * Parsing treats its input as untrusted: every field is type-checked, every
 * string and list is bounded (QBK_MANIFEST_MAX_*), unknown fields are
 * rejected, and any violation fails with QBK_E_INTEGRITY and a message that
 * names the field, e.g.
 *   invalid manifest field 'collections[0].snapshots[1].sha256': expected
 *   64 lowercase hex digits
 * Writing runs the same checks on the JSON it built (a manifest that would
 * not parse is never written; that failure is QBK_E_INTERNAL), so
 * parse(write(m)) reproduces m exactly and write(parse(text)) == text for
 * every text that qbk wrote.
 *
 * JSON layout (compact, keys in this order; the man page qbk-repository(5)
 * documents each field):
 *   { "format": 1, "backup_id": "20261121T221500Z-3f9a",
 *     "type": "full"|"incremental", "kind": "collections"|"full-storage",
 *     "selection": "all"|"named" (optional: older manifests lack it),
 *     "start": "2026-11-21T22:15:00Z", "end": "...", "host": "db1",
 *     "tool_version": "qbk 0.1.0", "qdrant_versions": ["1.12.4"],
 *     "sources": ["http://qdrant:6333"], "tags": {"env": "prod"},
 *     "aliases": {"alias": "collection"},
 *     "collections": [ { "name", "aliases": [..], "points_count",
 *         "points_count_after" (optional: when the count moved while the
 *         backup ran),
 *         "vectors": {..verbatim..}, "config": {..verbatim..},
 *         "sample": [{"id": "42" | "<uuid>", "hash": "<64 hex>"}],
 *         "content": [BUCKET x QBK_MANIFEST_BUCKETS] (optional),
 *         "cluster": CLUSTER (optional: distributed collections only),
 *         "snapshots": [ SNAPSHOT ] } ],
 *     "snapshots": [ SNAPSHOT ]          (full-storage snapshots only)
 *     "missing_shards": [{"collection", "shard_id", "reason"}],
 *     "unreachable_peers": [{"peer_id": "<u64>", "url", "reason"}]
 *                        (optional: written only when not empty),
 *     "totals": {"snapshots", "size", "bytes", "bytes_new", "chunks",
 *                "chunks_new"} }
 *   SNAPSHOT = { "kind": "collection"|"shard"|"full", "shard_id" (-1 unless
 *     shard), "peer_id": "<decimal u64>", "node_url", "name", "size",
 *     "sha256", "start", "end", "duration_ms", "bytes", "bytes_new",
 *     "chunks_new",
 *     "entries": [{"path", "type": "file"|"dir"|"symlink"|"hardlink"|"other",
 *                  "size"}],
 *     "chunks": ["<64 hex id>:<plaintext length>", ...] }
 *   BUCKET = {"points": N, "hash": "<64 hex>"}, or null for a bucket whose
 *     points changed while the backup ran (not comparable)
 *   CLUSTER = { "shard_number", "replication_factor",
 *     "write_consistency_factor", "sharding_method": "auto"|"custom",
 *     "peers": ["<decimal u64>", ...],
 *     "shards": [{"shard_id", "shard_key" (JSON text; optional),
 *                 "peer_id": "<u64>" (source replica, "0" if missing),
 *                 "points_count",
 *                 "replicas": [{"peer_id", "state", "points_count"
 *                               (-1: unknown)}]}],
 *     "payload_schema": {..verbatim..} (optional) }
 * Times are UTC, "YYYY-MM-DDTHH:MM:SSZ".  Integers are JSON integers in
 * 0..2^63-1; the u64 values that can exceed that (Qdrant peer ids and point
 * ids) are decimal strings.
 *
 * Invariants checked: end >= start; a snapshot's size is the sum of its chunk
 * lengths; bytes_new <= bytes; chunks_new <= number of chunks; shard_id is
 * -1 for collection and full snapshots and 0..2^32-1 for shard ones;
 * collections hold only collection/shard snapshots and the top-level list
 * only full ones; collection names are unique; the totals are the sums over
 * all snapshots.
 *
 * Nothing here is thread-safe: the backup adds chunks under its own lock.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/qbk_buf.h"
#include "common/qbk_idset.h"

struct json_t;
struct qbk_err;

#define QBK_MANIFEST_FORMAT	1

#define QBK_MANIFEST_ID_LEN	21	/* "YYYYMMDDTHHMMSSZ-xxxx" */
#define QBK_MANIFEST_HEX_LEN	64	/* sha256 and point hashes */
/* The pseudo-collection that names a full-storage backup in reports and
 * failure records. */
#define QBK_MANIFEST_FULL_STORAGE	"full-storage"

/*
 * Bounds enforced by the parser (and so by the writer):
 *   MAX_BYTES        JSON text
 *   MAX_STR          any string
 *   MAX_NAME         names, hosts, versions
 *   MAX_TOKEN        tag keys, drill level, scenario and phase names
 *   MAX_LIST         tags, aliases, versions, sources, missing shards,
 *                    unreachable peers, drill problems and phases
 *   MAX_COLLECTIONS  collections
 *   MAX_SNAPSHOTS    snapshots per list
 *   MAX_SAMPLES      point samples per collection
 *   MAX_ENTRIES      tar entries per snapshot
 *   MAX_CHUNKS       chunks per snapshot
 *   MAX_CHUNK_LEN    plaintext bytes of one chunk
 */
#define QBK_MANIFEST_MAX_BYTES		((size_t)1 << 30)
#define QBK_MANIFEST_MAX_STR		4096
#define QBK_MANIFEST_MAX_NAME		255
#define QBK_MANIFEST_MAX_TOKEN		64
#define QBK_MANIFEST_MAX_LIST		4096
#define QBK_MANIFEST_MAX_COLLECTIONS	65536
#define QBK_MANIFEST_MAX_SNAPSHOTS	65536
#define QBK_MANIFEST_MAX_SAMPLES	65536
#define QBK_MANIFEST_MAX_ENTRIES	((size_t)1 << 22)
#define QBK_MANIFEST_MAX_CHUNKS		((size_t)1 << 26)
#define QBK_MANIFEST_MAX_CHUNK_LEN	((uint32_t)1 << 30)

enum qbk_manifest_type {
	QBK_MANIFEST_TYPE_FULL = 0,
	QBK_MANIFEST_TYPE_INCREMENTAL
};

enum qbk_manifest_kind {
	QBK_MANIFEST_KIND_COLLECTIONS = 0,
	QBK_MANIFEST_KIND_FULL_STORAGE
};

enum qbk_manifest_selection {
	QBK_MANIFEST_SELECTION_UNKNOWN = 0,	/* not recorded */
	QBK_MANIFEST_SELECTION_ALL,	/* "all" */
	QBK_MANIFEST_SELECTION_NAMED	/* "named" */
};

enum qbk_manifest_snapkind {
	QBK_MANIFEST_SNAP_COLLECTION = 0,
	QBK_MANIFEST_SNAP_SHARD,
	QBK_MANIFEST_SNAP_FULL
};

enum qbk_manifest_entrytype {
	QBK_MANIFEST_ENTRY_FILE = 0,
	QBK_MANIFEST_ENTRY_DIR,
	QBK_MANIFEST_ENTRY_SYMLINK,
	QBK_MANIFEST_ENTRY_HARDLINK,
	QBK_MANIFEST_ENTRY_OTHER
};

/*
 * The structs are open: read their fields directly.  Build them with the
 * qbk_manifest_add_* functions, which own the arrays (their capacity is
 * implied by the count), and set string fields with qbk_manifest_strset().
 * Every string and json_t field is owned by its struct.
 */
struct qbk_manifest_chunk {
	uint8_t id[QBK_ID_LEN];	/* keyed BLAKE2b-256 of the plaintext */
	uint32_t len;		/* plaintext length, 1..MAX_CHUNK_LEN */
};

struct qbk_manifest_entry {	/* one member of the snapshot's tar */
	char *path;
	enum qbk_manifest_entrytype type;
	uint64_t size;
};

struct qbk_manifest_snapshot {
	enum qbk_manifest_snapkind kind;
	int64_t shard_id;	/* -1 unless kind is SHARD */
	uint64_t peer_id;	/* Qdrant peer that took it; 0: no cluster */
	char *node_url;		/* node it was downloaded from */
	char *name;		/* Qdrant's snapshot name */
	uint64_t size;		/* bytes: the sum of the chunk lengths */
	char sha256[QBK_MANIFEST_HEX_LEN + 1];	/* lowercase hex */
	int64_t start, end;	/* seconds since the epoch, UTC */
	uint64_t duration_ms;
	uint64_t bytes;		/* plaintext bytes read from Qdrant */
	uint64_t bytes_new;	/* ... of which in chunks new to the repo */
	uint64_t chunks_new;	/* chunks new to the repository */
	struct qbk_manifest_entry *entries;
	size_t n_entries;
	struct qbk_manifest_chunk *chunks;	/* in stream order */
	size_t n_chunks;
};

struct qbk_manifest_sample {	/* one sampled point */
	char *id;		/* decimal u64, or lowercase hyphenated UUID */
	char hash[QBK_MANIFEST_HEX_LEN + 1];	/* of vectors + payload */
};

/* Content hashes: the points of a collection fall into this many buckets
 * by their id (qbk_points_bucket_of()), each with its own hash, so that a
 * write during the backup spoils only the buckets it touched. */
#define QBK_MANIFEST_BUCKETS	64

struct qbk_manifest_bucket {
	int known;		/* 0: changed during the backup */
	uint64_t points;
	char hash[QBK_MANIFEST_HEX_LEN + 1];	/* qbk_points content sum */
};

struct qbk_manifest_replica {	/* one replica of a shard at backup time */
	uint64_t peer_id;
	char *state;		/* "Active", "Dead", ... (MAX_TOKEN) */
	int64_t points_count;	/* as its peer counted them; -1 unknown */
};

struct qbk_manifest_shard {	/* one shard of a distributed collection */
	int64_t shard_id;	/* 0..2^32-1 */
	char *shard_key;	/* JSON text of a custom shard key, or NULL */
	uint64_t peer_id;	/* replica it was backed up from; 0: missing */
	uint64_t points_count;	/* of that replica */
	struct qbk_manifest_replica *replicas;	/* every replica seen */
	size_t n_replicas;
};

struct qbk_manifest_cluster {	/* shard layout of a distributed collection */
	uint64_t shard_number;
	uint64_t replication_factor;
	uint64_t write_consistency_factor;
	char *sharding_method;	/* "auto" or "custom" */
	uint64_t *peers;	/* peer ids of the cluster at backup time */
	size_t n_peers;
	struct qbk_manifest_shard *shards;	/* by shard id */
	size_t n_shards;
	/* Optional: the payload indexes (Qdrant's payload_schema object,
	 * verbatim), which shard snapshots do not carry; NULL if none. */
	struct json_t *payload_schema;
};

struct qbk_manifest_collection {
	char *name;
	char **aliases;		/* aliases that point at it */
	size_t n_aliases;
	uint64_t points_count;	/* exact count before the snapshot */
	/* The count after the snapshot, when it differs (the snapshot holds
	 * a count between the two if points were only added or only
	 * removed meanwhile); has_count_after 0 otherwise. */
	int has_count_after;
	uint64_t points_count_after;
	struct json_t *vectors;	/* vector parameters, verbatim object */
	struct json_t *config;	/* collection config, verbatim object */
	struct qbk_manifest_sample *samples;
	size_t n_samples;
	struct qbk_manifest_snapshot **snapshots;	/* collection/shard */
	size_t n_snapshots;
	/* Optional (qbk-backup --content-hash): the content hash of every
	 * point by bucket, as read before and after the snapshot (a bucket
	 * that differed is not known); has_content 0 if none recorded. */
	int has_content;
	struct qbk_manifest_bucket content[QBK_MANIFEST_BUCKETS];
	/* Optional: the shard layout of a distributed collection (NULL for
	 * a single node's backup). */
	struct qbk_manifest_cluster *cluster;
	/* Optional: Qdrant's payload_schema of a single node's collection,
	 * verbatim (NULL if it had no payload index, or an older backup):
	 * recovering a snapshot over an existing collection does not carry
	 * the payload indexes over, so a restore re-creates them.  Cluster
	 * backups keep it in cluster->payload_schema. */
	struct json_t *payload_schema;
};

struct qbk_manifest_tag {
	char *key;		/* 1..MAX_TOKEN bytes, no '=' */
	char *value;		/* 0..MAX_STR bytes */
};

struct qbk_manifest_alias {
	char *alias;
	char *collection;
};

struct qbk_manifest_missing {	/* a shard no node could snapshot */
	char *collection;
	int64_t shard_id;	/* 0..2^32-1 */
	char *reason;		/* may be "" */
};

struct qbk_manifest_unreachable {	/* a peer the backup could not reach */
	uint64_t peer_id;
	char *url;		/* REST URL tried (may be "") */
	char *reason;		/* may be "" */
};

struct qbk_manifest_totals {
	uint64_t snapshots, size, bytes, bytes_new, chunks, chunks_new;
};

struct qbk_manifest {
	int format;		/* QBK_MANIFEST_FORMAT */
	char backup_id[QBK_MANIFEST_ID_LEN + 1];
	enum qbk_manifest_type type;
	enum qbk_manifest_kind kind;
	/* Which collections were asked for: every one the deployment had
	 * (so that one not in the backup did not exist then), or the ones
	 * named; unknown in manifests of older versions. */
	enum qbk_manifest_selection selection;
	int64_t start, end;	/* seconds since the epoch, UTC */
	char *host;
	char *tool_version;
	char **qdrant_versions;
	size_t n_qdrant_versions;
	char **sources;		/* Qdrant URLs backed up */
	size_t n_sources;
	struct qbk_manifest_tag *tags;
	size_t n_tags;
	struct qbk_manifest_alias *aliases;
	size_t n_aliases;
	struct qbk_manifest_collection **collections;
	size_t n_collections;
	struct qbk_manifest_snapshot **snapshots;	/* full-storage only */
	size_t n_snapshots;
	/* A partial backup of a cluster (qbk-backup --allow-partial): the
	 * shards it does not hold; see qbk_manifest_missing_count(). */
	struct qbk_manifest_missing *missing;
	size_t n_missing;
	/* Peers of the cluster that did not answer during the backup (their
	 * shards may still have come from other replicas). */
	struct qbk_manifest_unreachable *unreachable;
	size_t n_unreachable;
	struct qbk_manifest_totals totals;
};

/** qbk_manifest_new(): an empty manifest (format 1, type full, kind
 * collections, everything else zero or empty); caller frees it with
 * qbk_manifest_free(). */
struct qbk_manifest *qbk_manifest_new(void);

/** qbk_manifest_free(m): free ${m} and everything it owns; NULL is fine. */
void qbk_manifest_free(struct qbk_manifest *);

/** qbk_manifest_strset(field, value): free *${field} and set it to a copy of
 * ${value} (NULL clears it). */
void qbk_manifest_strset(char **, const char *);

/** qbk_manifest_add_tag(m, key, value), qbk_manifest_add_alias(m, alias,
 * collection), qbk_manifest_add_qdrant_version(m, version),
 * qbk_manifest_add_source(m, url), qbk_manifest_add_missing(m, collection,
 * shard_id, reason): append copies of the arguments (reason may be NULL). */
void qbk_manifest_add_tag(struct qbk_manifest *, const char *, const char *);
void qbk_manifest_add_alias(struct qbk_manifest *, const char *,
    const char *);
void qbk_manifest_add_qdrant_version(struct qbk_manifest *, const char *);
void qbk_manifest_add_source(struct qbk_manifest *, const char *);
void qbk_manifest_add_missing(struct qbk_manifest *, const char *, int64_t,
    const char *);

/** qbk_manifest_add_unreachable(m, peer_id, url, reason): append a peer
 * that could not be reached (copies; ${url} and ${reason} may be NULL). */
void qbk_manifest_add_unreachable(struct qbk_manifest *, uint64_t,
    const char *, const char *);

/** qbk_manifest_missing_count(m, collection): how many shards backup ${m}
 * lacks (its missing shards: no Active replica could be read), of
 * ${collection}, or of every collection if it is NULL.  Nonzero means the
 * backup is partial: a restore leaves those shards empty. */
size_t qbk_manifest_missing_count(const struct qbk_manifest *,
    const char *);

/** qbk_manifest_add_collection(m, name): append a collection named ${name}
 * with no config yet; returns it (owned by ${m}; the pointer stays valid
 * until qbk_manifest_free()). */
struct qbk_manifest_collection *qbk_manifest_add_collection(
    struct qbk_manifest *, const char *);

/** qbk_manifest_collection_add_alias(c, alias): append an alias name. */
void qbk_manifest_collection_add_alias(struct qbk_manifest_collection *,
    const char *);

/** qbk_manifest_collection_set_config(c, json), ..._set_vectors(c, json):
 * keep a new reference to ${json} (a JSON object, stored verbatim); NULL
 * drops the old one. */
void qbk_manifest_collection_set_config(struct qbk_manifest_collection *,
    struct json_t *);
void qbk_manifest_collection_set_vectors(struct qbk_manifest_collection *,
    struct json_t *);

/** qbk_manifest_collection_add_sample(c, id, hash): append a point sample;
 * ${hash} is 64 lowercase hex digits (copied, truncated to 64). */
void qbk_manifest_collection_add_sample(struct qbk_manifest_collection *,
    const char *, const char *);

/** qbk_manifest_add_snapshot(m, c, kind): append a snapshot of ${kind} to
 * collection ${c}, or to the manifest's full-storage list if ${c} is NULL;
 * shard_id starts at -1.  Returns it (owned by its list; the pointer stays
 * valid until qbk_manifest_free()). */
struct qbk_manifest_snapshot *qbk_manifest_add_snapshot(
    struct qbk_manifest *, struct qbk_manifest_collection *,
    enum qbk_manifest_snapkind);

/** qbk_manifest_collection_set_cluster(c): give ${c} an empty shard
 * layout (replacing any) and return it (owned by ${c}). */
struct qbk_manifest_cluster *qbk_manifest_collection_set_cluster(
    struct qbk_manifest_collection *);

/** qbk_manifest_cluster_add_peer(cl, id), qbk_manifest_cluster_add_shard(
 * cl, shard_id) (returned, owned by ${cl}, valid until the next add),
 * qbk_manifest_shard_add_replica(sh, peer_id, state, points_count). */
void qbk_manifest_cluster_add_peer(struct qbk_manifest_cluster *, uint64_t);
struct qbk_manifest_shard *qbk_manifest_cluster_add_shard(
    struct qbk_manifest_cluster *, int64_t);
void qbk_manifest_shard_add_replica(struct qbk_manifest_shard *, uint64_t,
    const char *, int64_t);

/** qbk_manifest_collection_drop_snapshots(c): free and forget every
 * snapshot of ${c} (a backup that switches method after a failure). */
void qbk_manifest_collection_drop_snapshots(struct qbk_manifest_collection *);

/** qbk_manifest_snapshot_add_entry(s, path, type, size): append a tar entry. */
void qbk_manifest_snapshot_add_entry(struct qbk_manifest_snapshot *,
    const char *, enum qbk_manifest_entrytype, uint64_t);

/** qbk_manifest_snapshot_add_chunk(s, id, len): append a chunk reference
 * (${id} is QBK_ID_LEN bytes) and add ${len} to ${s}->size. */
void qbk_manifest_snapshot_add_chunk(struct qbk_manifest_snapshot *,
    const uint8_t *, uint32_t);

/** qbk_manifest_compute_totals(m): set ${m}->totals to the sums over every
 * snapshot (what the parser checks). */
void qbk_manifest_compute_totals(struct qbk_manifest *);

/** qbk_manifest_find_collection(m, name): the collection named ${name}, or
 * NULL. */
struct qbk_manifest_collection *qbk_manifest_find_collection(
    const struct qbk_manifest *, const char *);

/** qbk_manifest_chunk_fn(cookie, c, s, chunk): called for each chunk
 * reference; ${c} is NULL for a full-storage snapshot.  Return 0 to go on,
 * anything else to stop. */
typedef int qbk_manifest_chunk_fn(void *,
    const struct qbk_manifest_collection *,
    const struct qbk_manifest_snapshot *, const struct qbk_manifest_chunk *);

/** qbk_manifest_foreach_chunk(m, fn, cookie): call ${fn} for every chunk
 * reference of every snapshot, in manifest order (collections first, then
 * full-storage snapshots; a chunk named twice is seen twice).  Returns 0 or
 * the value that stopped it. */
int qbk_manifest_foreach_chunk(const struct qbk_manifest *,
    qbk_manifest_chunk_fn *, void *);

/** qbk_manifest_to_json(m, out, err): check ${m} and append its JSON text to
 * ${out}.  0, or -1 (QBK_E_INTERNAL naming the bad field; ${out} is left as
 * it was). */
int qbk_manifest_to_json(const struct qbk_manifest *, struct qbk_buf *,
    struct qbk_err *);

/** qbk_manifest_from_json(text, len, out, err): parse and check ${len} bytes
 * of JSON text.  On success ${*out} is a new manifest the caller frees; on
 * failure it is NULL and ${err} is QBK_E_INTEGRITY. */
int qbk_manifest_from_json(const void *, size_t, struct qbk_manifest **,
    struct qbk_err *);

/*
 * Drill records (drills/<drill-id>):
 *   { "format": 1, "drill_id", "backup_id", "level", "scenario", "host",
 *     "tool_version", "start", "end", "phases": {"<name>": ms, ...},
 *     "result": "pass"|"fail", "rto_ms", "rto_target_ms" (0: none),
 *     "green_ms" (optional: ms from the start of the restore until every
 *     restored collection was seen green; null: not green within the
 *     wait; absent in older records),
 *     "problems": ["...", ...],
 *     "collections": [{"name", "backup_id"}] (optional) }
 * backup_id is the newest backup drilled; "collections" says which backup
 * each collection came from.
 * level, scenario and phase names are tokens: 1..MAX_TOKEN bytes of
 * [A-Za-z0-9._-].
 */
/* green_ms of a drill that did not see its collections green within its
 * wait (null), and of a record that predates green_ms (absent). */
#define QBK_MANIFEST_GREEN_NOT_YET	(-1)
#define QBK_MANIFEST_GREEN_UNKNOWN	(-2)

struct qbk_manifest_phase {
	char *name;
	uint64_t ms;
};

struct qbk_manifest_drill {
	int format;		/* QBK_MANIFEST_FORMAT */
	char drill_id[QBK_MANIFEST_ID_LEN + 1];
	char backup_id[QBK_MANIFEST_ID_LEN + 1];
	char *level;		/* e.g. "quick", "full" */
	char *scenario;		/* e.g. "collection", "cluster" */
	char *host;
	char *tool_version;
	int64_t start, end;
	struct qbk_manifest_phase *phases;	/* in order */
	size_t n_phases;
	int pass;		/* 1: passed, 0: failed */
	uint64_t rto_ms;	/* measured restore time */
	uint64_t rto_target_ms;	/* objective; 0: none */
	int64_t green_ms;	/* until green; QBK_MANIFEST_GREEN_NOT_YET,
				 * QBK_MANIFEST_GREEN_UNKNOWN */
	char **problems;
	size_t n_problems;
	/* Optional (older records lack it): every collection drilled, with
	 * the backup it was restored from. */
	struct qbk_manifest_drilled *drilled;
	size_t n_drilled;
};

struct qbk_manifest_drilled {
	char *name;
	char backup_id[QBK_MANIFEST_ID_LEN + 1];
};

/** qbk_manifest_drill_new(), qbk_manifest_drill_free(d): as for manifests. */
struct qbk_manifest_drill *qbk_manifest_drill_new(void);
void qbk_manifest_drill_free(struct qbk_manifest_drill *);

/** qbk_manifest_drill_add_phase(d, name, ms), ..._add_problem(d, text):
 * append copies. */
void qbk_manifest_drill_add_phase(struct qbk_manifest_drill *, const char *,
    uint64_t);
void qbk_manifest_drill_add_problem(struct qbk_manifest_drill *,
    const char *);

/** qbk_manifest_drill_add_drilled(d, name, backup_id): append a collection
 * drilled and the backup it came from (copies). */
void qbk_manifest_drill_add_drilled(struct qbk_manifest_drill *,
    const char *, const char *);

/** qbk_manifest_drill_to_json(d, out, err), qbk_manifest_drill_from_json(
 * text, len, out, err): as qbk_manifest_to_json() and
 * qbk_manifest_from_json(). */
int qbk_manifest_drill_to_json(const struct qbk_manifest_drill *,
    struct qbk_buf *, struct qbk_err *);
int qbk_manifest_drill_from_json(const void *, size_t,
    struct qbk_manifest_drill **, struct qbk_err *);

/** qbk_manifest_make_id(t, out): write a new id "YYYYMMDDTHHMMSSZ-xxxx" for
 * time ${t} (seconds since the epoch, UTC; 4 random lowercase hex digits) into
 * ${out}[QBK_MANIFEST_ID_LEN + 1].  Ids sort by time.  Used for backups,
 * drills.  0, or -1 if ${t} is outside 1970..9999. */
int qbk_manifest_make_id(int64_t, char *);

/** qbk_manifest_id_valid(id): nonzero if ${id} is a well-formed id. */
int qbk_manifest_id_valid(const char *);

/** qbk_manifest_id_time(id, t): the time encoded in ${id}; 0 or -1. */
int qbk_manifest_id_time(const char *, int64_t *);

#endif /* !QBK_MANIFEST_H */
