#ifndef QBK_QDRANT_H
#define QBK_QDRANT_H

/*
 * qbk_qdrant: a client of the Qdrant REST API (1.19; see
 * ../shared/qdrant/NOTES.md) over qbk_http, for one node.  Like qbk_http it
 * holds one connection and is not thread-safe: one object per thread.
 *
 * Every function returns 0 (or a pointer) on success and -1 (or NULL) with
 * ${err} set.  Qdrant's error envelope {"status":{"error":"..."}} and its
 * plain-text errors (downloads, auth) become one-line messages such as
 * "cannot create snapshot of 'c1': HTTP 404: Not found: Collection `c1`
 * doesn't exist!".  Codes: 401/403 QBK_E_AUTH, 404 QBK_E_NOTFOUND, a
 * checksum mismatch QBK_E_INTEGRITY, other errors Qdrant reports
 * QBK_E_QDRANT, anything else QBK_E_HTTP or QBK_E_NET.
 *
 * Collection and snapshot names are URL-encoded here; pass them raw.
 * Complex documents are returned as jansson values (struct json_t, see
 * qbk_json.h), owned by the caller unless said otherwise.
 */
#include <stddef.h>
#include <stdint.h>

#include "net/qbk_http.h"

struct json_t;
struct qbk_err;
struct qbk_qdrant;

/** qbk_qdrant_new(out, opts, err): a client for the node at
 * ${opts->base_url} (options as for qbk_http_new()).  Caller frees with
 * qbk_qdrant_free(); ${*out} is NULL on failure. */
int qbk_qdrant_new(struct qbk_qdrant **, const struct qbk_http_opts *,
    struct qbk_err *);

/** qbk_qdrant_new_peer(q, url, retries, out, err): a new client for the
 * node at ${url} with the settings of ${q} (API key, TLS, timeouts, cancel
 * flag), and ${retries} retries (-1: as ${q}).  For the other peers of a
 * cluster.  Caller frees with qbk_qdrant_free(). */
int qbk_qdrant_new_peer(struct qbk_qdrant *, const char *, int,
    struct qbk_qdrant **, struct qbk_err *);

/** qbk_qdrant_free(q): free ${q}; NULL is a no-op. */
void qbk_qdrant_free(struct qbk_qdrant *);

/** qbk_qdrant_url(q): the node's URL without credentials. */
const char *qbk_qdrant_url(const struct qbk_qdrant *);

/** qbk_qdrant_http(q): the HTTP handle ${q} uses (borrowed). */
struct qbk_http *qbk_qdrant_http(struct qbk_qdrant *);

/* ---- service --------------------------------------------------------- */

struct qbk_qdrant_version {
	char title[96];		/* "qdrant - vector search engine" */
	char version[32];	/* "1.19.0" */
	char commit[48];	/* git sha, "" if the server gave none */
};

/** qbk_qdrant_version(q, out, err): GET / (not enveloped). */
int qbk_qdrant_version(struct qbk_qdrant *, struct qbk_qdrant_version *,
    struct qbk_err *);

/** qbk_qdrant_healthz(q, err): 0 if GET /healthz answers 200. */
int qbk_qdrant_healthz(struct qbk_qdrant *, struct qbk_err *);

/** qbk_qdrant_readyz(q, ready, err): GET /readyz, not retried: ${*ready}
 * is 1 on 200 and 0 on 503 ("some shards are not ready"); other answers
 * are errors. */
int qbk_qdrant_readyz(struct qbk_qdrant *, int *, struct qbk_err *);

/* ---- collections and aliases ----------------------------------------- */

/** qbk_qdrant_strv_free(v): free a NULL-terminated string vector. */
void qbk_qdrant_strv_free(char **);

/** qbk_qdrant_collections(q, names, err): the collection names, sorted,
 * as a NULL-terminated vector freed with qbk_qdrant_strv_free(). */
int qbk_qdrant_collections(struct qbk_qdrant *, char ***, struct qbk_err *);

struct qbk_qdrant_collection {
	char *name;		/* as asked (may be an alias) */
	char status[16];	/* "green", "yellow", "grey", "red" */
	int64_t points_count;	/* -1 if the server reported null */
	int64_t indexed_vectors_count;	/* -1 if absent */
	int64_t segments_count;	/* -1 if absent */
	uint32_t shard_number;	/* config.params.shard_number (default 1) */
	uint32_t replication_factor;	/* (default 1) */
	struct json_t *info;	/* the whole CollectionInfo (owned) */
	struct json_t *config;	/* info.config (borrowed from info) */
	struct json_t *vectors;	/* info.config.params.vectors (borrowed) */
};

/** qbk_qdrant_collection_info(q, name, out, err): GET /collections/{name}.
 * Caller frees ${*out} with qbk_qdrant_collection_free(). */
int qbk_qdrant_collection_info(struct qbk_qdrant *, const char *,
    struct qbk_qdrant_collection **, struct qbk_err *);

/** qbk_qdrant_collection_free(c): NULL is a no-op. */
void qbk_qdrant_collection_free(struct qbk_qdrant_collection *);

/** qbk_qdrant_collection_exists(q, name, exists, err). */
int qbk_qdrant_collection_exists(struct qbk_qdrant *, const char *, int *,
    struct qbk_err *);

/** qbk_qdrant_collection_create(q, name, body, err): PUT /collections/{name}
 * with the CreateCollection ${body} (borrowed).  An existing collection is
 * an error (HTTP 409, QBK_E_QDRANT). */
int qbk_qdrant_collection_create(struct qbk_qdrant *, const char *,
    const struct json_t *, struct qbk_err *);

/** qbk_qdrant_create_body(config): a CreateCollection body built from a
 * CollectionConfig ${config} (the "config" of collection info, or the
 * config.json of a snapshot): params (vectors, shard_number, sharding_method,
 * replication_factor, write_consistency_factor, on_disk_payload, payload,
 * sparse_vectors), hnsw_config, wal_config, optimizer_config (renamed
 * optimizers_config), quantization_config, strict_mode_config, metadata;
 * null values are left out.  NULL if ${config} has no params.vectors.
 * Caller frees with qbk_json_decref(). */
struct json_t *qbk_qdrant_create_body(const struct json_t *);

/** qbk_qdrant_collection_delete(q, name, deleted, err): DELETE; ${deleted}
 * (may be NULL) is 0 if there was no such collection. */
int qbk_qdrant_collection_delete(struct qbk_qdrant *, const char *, int *,
    struct qbk_err *);

/** qbk_qdrant_index_create(q, coll, field, schema, err): PUT
 * /collections/{coll}/index?wait=true for ${field}, from the
 * PayloadIndexInfo ${schema} of collection info's payload_schema
 * ({"data_type", "params"?}; borrowed). */
int qbk_qdrant_index_create(struct qbk_qdrant *, const char *, const char *,
    const struct json_t *, struct qbk_err *);

struct qbk_qdrant_alias {
	char *alias;
	char *collection;
};

/** qbk_qdrant_aliases(q, collection, out, n, err): the aliases of
 * ${collection}, or all aliases if it is NULL, sorted by alias name.
 * Caller frees with qbk_qdrant_aliases_free(${*out}, ${*n}). */
int qbk_qdrant_aliases(struct qbk_qdrant *, const char *,
    struct qbk_qdrant_alias **, size_t *, struct qbk_err *);

/** qbk_qdrant_aliases_free(v, n): NULL is a no-op. */
void qbk_qdrant_aliases_free(struct qbk_qdrant_alias *, size_t);

/** qbk_qdrant_alias_create(q, alias, collection, err): create (or re-point)
 * ${alias}. */
int qbk_qdrant_alias_create(struct qbk_qdrant *, const char *, const char *,
    struct qbk_err *);

/** qbk_qdrant_alias_delete(q, alias, err). */
int qbk_qdrant_alias_delete(struct qbk_qdrant *, const char *,
    struct qbk_err *);

/** qbk_qdrant_alias_actions(q, actions, err): POST /collections/aliases
 * with the array ${actions} (borrowed), applied atomically. */
int qbk_qdrant_alias_actions(struct qbk_qdrant *, const struct json_t *,
    struct qbk_err *);

/* ---- points ---------------------------------------------------------- */

struct qbk_qdrant_scroll {
	unsigned limit;		/* points per page; 0: 256 */
	int with_payload;
	int with_vector;
	const struct json_t *filter;	/* NULL: all points */
};

/** qbk_qdrant_scroll_page(q, coll, opts, offset, points, next, err): one
 * page of POST .../points/scroll from ${offset} (NULL: the start).
 * ${*points} gets the array of records, ${*next} the offset of the next
 * page or NULL at the end; both owned by the caller.  A page whose answer
 * is over QBK_HTTP_MAX_ANSWER (big vectors or payloads) is asked again
 * for half as many points, down to one; so a page may hold fewer points
 * than ${opts->limit} although more follow.  A limit above the
 * collection's strict mode "max_query_limit" is lowered to it. */
int qbk_qdrant_scroll_page(struct qbk_qdrant *, const char *,
    const struct qbk_qdrant_scroll *, const struct json_t *,
    struct json_t **, struct json_t **, struct qbk_err *);

/** qbk_qdrant_page_fn(cookie, points, err): one page of records (borrowed
 * array); return 0 to go on, -1 with ${err} to stop. */
typedef int qbk_qdrant_page_fn(void *, const struct json_t *,
    struct qbk_err *);

/** qbk_qdrant_scroll(q, coll, opts, fn, cookie, err): call ${fn} for every
 * page of the collection, in id order; pages shrink as in
 * qbk_qdrant_scroll_page(), and stay small once shrunk. */
int qbk_qdrant_scroll(struct qbk_qdrant *, const char *,
    const struct qbk_qdrant_scroll *, qbk_qdrant_page_fn *, void *,
    struct qbk_err *);

/** qbk_qdrant_count(q, coll, filter, count, err): the exact number of
 * points of ${coll} (matching ${filter}, borrowed, NULL: all), into
 * ${*count}.  Where the collection's strict mode refuses an exact count
 * ("search_allow_exact": false), the points are counted by scrolling their
 * ids instead, and an info message says so.  The one place to count
 * points: the points_count of the collection info is an estimate.  On
 * failure ${*count} is 0. */
int qbk_qdrant_count(struct qbk_qdrant *, const char *, const struct json_t *,
    uint64_t *, struct qbk_err *);

/** qbk_qdrant_retrieve(q, coll, ids, with_payload, with_vector, records,
 * err): the records of the JSON array ${ids} (absent ids are left out).
 * ${*records} is an array owned by the caller.  Records too large for one
 * answer (over QBK_HTTP_MAX_ANSWER) are asked for in halves, down to one
 * point per request. */
int qbk_qdrant_retrieve(struct qbk_qdrant *, const char *,
    const struct json_t *, int, int, struct json_t **, struct qbk_err *);

/** qbk_qdrant_sample(q, coll, limit, records, err): up to ${limit} points
 * drawn at random by Qdrant (POST .../points/query with the query
 * {"sample": "random"}, Qdrant 1.11 and later), with payloads and vectors.
 * ${*records} is an array of scored points owned by the caller.  A server
 * without the query API or without random sampling fails with
 * ${err}->http_status 404 or 400 (the caller may fall back to a scroll).
 * If the records are too large for one answer, the ids are drawn alone and
 * the records fetched with qbk_qdrant_retrieve() (plain records then).  A
 * ${limit} above the collection's strict mode "max_query_limit" is lowered
 * to it. */
int qbk_qdrant_sample(struct qbk_qdrant *, const char *, unsigned,
    struct json_t **, struct qbk_err *);

/** qbk_qdrant_upsert(q, coll, points, wait, err): PUT .../points with the
 * array of PointStruct ${points} (borrowed). */
int qbk_qdrant_upsert(struct qbk_qdrant *, const char *,
    const struct json_t *, int, struct qbk_err *);

/** qbk_qdrant_search(q, coll, using, vector, dim, limit, with_payload,
 * points, err): nearest neighbours of ${vector} in the vector ${using}
 * (NULL: the unnamed one).  Uses POST .../points/query (1.19 has no
 * .../points/search any more) and falls back to .../points/search on
 * servers without the query API.  ${*points} is the array of scored points
 * {id, score, version, payload?} owned by the caller. */
int qbk_qdrant_search(struct qbk_qdrant *, const char *, const char *,
    const float *, size_t, unsigned, int, struct json_t **,
    struct qbk_err *);

/** qbk_qdrant_search_json(q, coll, using, query, limit, points, err):
 * nearest neighbours of the sparse vector {"indices", "values"} or the
 * multivector (array of arrays) ${query} (borrowed) in the vector ${using}
 * (NULL: the unnamed one), by POST .../points/query; before Qdrant 1.10
 * (no query API) a named sparse vector is searched with
 * .../points/search.  ${*points} as with qbk_qdrant_search(). */
int qbk_qdrant_search_json(struct qbk_qdrant *, const char *, const char *,
    const struct json_t *, unsigned, struct json_t **, struct qbk_err *);

/* ---- snapshots ------------------------------------------------------- */

/*
 * Snapshot functions act on one of three scopes, chosen by (coll, shard):
 * coll == NULL            full storage snapshots (GET/POST /snapshots)
 * coll, shard == -1       collection snapshots (/collections/{c}/snapshots)
 * coll, shard >= 0        shard snapshots (/collections/{c}/shards/{id}/...)
 */
#define QBK_QDRANT_NO_SHARD	(-1L)

struct qbk_qdrant_snapshot {
	char *name;
	int64_t size;
	char checksum[65];	/* lowercase hex SHA-256, "" if not given */
	char creation_time[32];	/* "YYYY-MM-DDTHH:MM:SS", "" if null */
};

/** qbk_qdrant_snapshot_release(s): free ${s}'s name; zero it. */
void qbk_qdrant_snapshot_release(struct qbk_qdrant_snapshot *);

/** qbk_qdrant_snapshots_free(v, n): release and free a list. */
void qbk_qdrant_snapshots_free(struct qbk_qdrant_snapshot *, size_t);

/** qbk_qdrant_snapshot_create(q, coll, shard, out, err): create a snapshot
 * and wait for it (no overall timeout but the handle's long one); ${out}
 * gets its description (release with qbk_qdrant_snapshot_release()). */
int qbk_qdrant_snapshot_create(struct qbk_qdrant *, const char *, long,
    struct qbk_qdrant_snapshot *, struct qbk_err *);

/** qbk_qdrant_snapshot_list(q, coll, shard, out, n, err): the snapshots,
 * sorted by name.  Free with qbk_qdrant_snapshots_free(). */
int qbk_qdrant_snapshot_list(struct qbk_qdrant *, const char *, long,
    struct qbk_qdrant_snapshot **, size_t *, struct qbk_err *);

/** qbk_qdrant_snapshot_download(q, coll, shard, name, write, cookie, resp,
 * err): stream the file to ${write} (resumed after a broken connection, see
 * qbk_http_download()).  ${resp} may be NULL; if given (initialised) it
 * gets the status, Content-Length, bytes and headers. */
int qbk_qdrant_snapshot_download(struct qbk_qdrant *, const char *, long,
    const char *, qbk_http_write_fn *, void *, struct qbk_http_resp *,
    struct qbk_err *);

/** qbk_qdrant_snapshot_delete(q, coll, shard, name, err): delete the file
 * and its checksum (waits). */
int qbk_qdrant_snapshot_delete(struct qbk_qdrant *, const char *, long,
    const char *, struct qbk_err *);

enum qbk_qdrant_priority {
	QBK_QDRANT_PRIORITY_DEFAULT = 0,	/* the server's ("snapshot") */
	QBK_QDRANT_PRIORITY_NO_SYNC,
	QBK_QDRANT_PRIORITY_SNAPSHOT,
	QBK_QDRANT_PRIORITY_REPLICA
};

struct qbk_qdrant_recover {
	const char *location;	/* collection: file:// or http(s) URL;
				 * shard: http(s) URL or a file name in the
				 * shard's snapshot folder */
	enum qbk_qdrant_priority priority;
	const char *checksum;	/* 64 hex SHA-256, or NULL */
	const char *api_key;	/* for an http(s) location, or NULL */
};

/** qbk_qdrant_snapshot_recover(q, coll, shard, rec, err): PUT .../snapshots/
 * recover and wait.  Not for full snapshots (QBK_E_USAGE: Qdrant recovers
 * those only at startup). */
int qbk_qdrant_snapshot_recover(struct qbk_qdrant *, const char *, long,
    const struct qbk_qdrant_recover *, struct qbk_err *);

struct qbk_qdrant_upload {
	const char *filename;	/* name of the multipart file */
	enum qbk_qdrant_priority priority;
	const char *checksum;	/* 64 hex SHA-256 of the whole file, or NULL */
	int64_t size;		/* bytes, or -1 if unknown (chunked) */
	qbk_http_read_fn *read;
	qbk_http_rewind_fn *rewind;	/* NULL: no retry once data went out */
	void *cookie;
	int *lost_answer;	/* set to 1 when the answer was lost and the
				 * outcome was read from the replica states
				 * (may be NULL) */
};

/** qbk_qdrant_snapshot_upload(q, coll, shard, up, err): POST
 * .../snapshots/upload?wait=true with the file in multipart field
 * "snapshot", streamed from ${up->read}; the server recovers from it.
 * Not for full snapshots (QBK_E_USAGE).  The upload is never repeated
 * once it may have reached Qdrant: after a lost answer (a proxy's 502 or
 * 504, a broken connection) the outcome is read from this node's replica
 * states (a Dead one: failed) and the uploaded file's presence. */
int qbk_qdrant_snapshot_upload(struct qbk_qdrant *, const char *, long,
    const struct qbk_qdrant_upload *, struct qbk_err *);

/** qbk_qdrant_shard_snapshot_stream(q, coll, shard, write, cookie, resp,
 * err): GET /collections/{c}/shards/{id}/snapshot: a fresh shard snapshot
 * streamed without being stored (chunked, no checksum, not resumable).
 * ${resp} (may be NULL) gets the headers; see
 * qbk_qdrant_disposition_name() for the file name. */
int qbk_qdrant_shard_snapshot_stream(struct qbk_qdrant *, const char *, long,
    qbk_http_write_fn *, void *, struct qbk_http_resp *, struct qbk_err *);

/** qbk_qdrant_disposition_name(cd): the file name of a Content-Disposition
 * value (attachment; filename="x.snapshot"), without any path; NULL if
 * none.  Caller frees with free(). */
char *qbk_qdrant_disposition_name(const char *);

/* ---- cluster --------------------------------------------------------- */

struct qbk_qdrant_peer {
	uint64_t id;
	char *uri;		/* the peer's p2p URI ("http://host:6335/") */
};

struct qbk_qdrant_cluster {
	int enabled;		/* 0: single node ("status":"disabled") */
	uint64_t peer_id;	/* this node */
	struct qbk_qdrant_peer *peers;	/* sorted by id */
	size_t npeers;
	uint64_t leader;	/* 0 if unknown */
	char role[16];		/* "Leader", "Follower", ... or "" */
	char consensus[32];	/* "working", "stopped", ... or "" */
	struct json_t *raw;	/* the whole result (owned) */
};

/** qbk_qdrant_cluster(q, out, err): GET /cluster.  Free with
 * qbk_qdrant_cluster_free(). */
int qbk_qdrant_cluster(struct qbk_qdrant *, struct qbk_qdrant_cluster **,
    struct qbk_err *);

/** qbk_qdrant_cluster_free(c): NULL is a no-op. */
void qbk_qdrant_cluster_free(struct qbk_qdrant_cluster *);

struct qbk_qdrant_shard {
	uint32_t shard_id;
	uint64_t peer_id;	/* the node holding this replica */
	int64_t points_count;	/* local shards; -1 for remote ones */
	char state[24];		/* "Active", "Dead", "Partial", ... */
	char *shard_key;	/* JSON text of the shard key, or NULL */
};

struct qbk_qdrant_coll_cluster {
	uint64_t peer_id;	/* the node that answered */
	uint32_t shard_count;
	struct qbk_qdrant_shard *local;	/* sorted by shard id */
	size_t nlocal;
	struct qbk_qdrant_shard *remote;	/* sorted by shard id, peer */
	size_t nremote;
	size_t ntransfers;	/* shard transfers in progress */
	struct json_t *raw;	/* the whole result (owned) */
};

/** qbk_qdrant_collection_cluster(q, coll, out, err): GET
 * /collections/{c}/cluster.  Free with qbk_qdrant_coll_cluster_free(). */
int qbk_qdrant_collection_cluster(struct qbk_qdrant *, const char *,
    struct qbk_qdrant_coll_cluster **, struct qbk_err *);

/** qbk_qdrant_coll_cluster_free(c): NULL is a no-op. */
void qbk_qdrant_coll_cluster_free(struct qbk_qdrant_coll_cluster *);

/* ---- shard keys (custom sharding) ------------------------------------ */

struct qbk_qdrant_shard_key {
	const char *key;	/* JSON text of the ShardKey: "\"eu\"" or "7" */
	uint32_t shards_number;	/* 0: the collection's shard_number */
	uint32_t replication_factor;	/* 0: the collection's */
	const uint64_t *placement;	/* peers its shards may go to; NULL:
					 * any peer */
	size_t nplacement;
};

/** qbk_qdrant_shard_key_create(q, coll, sk, err): PUT /collections/{coll}/
 * shards (CreateShardingKey): Qdrant creates ${sk->shards_number} new
 * shards for the key, with the next free shard ids.  QBK_E_USAGE if
 * ${sk->key} is not the JSON text of a string or an unsigned integer (an
 * integer above 2^63-1 is read as a string, as qbk_json_parse() keeps it). */
int qbk_qdrant_shard_key_create(struct qbk_qdrant *, const char *,
    const struct qbk_qdrant_shard_key *, struct qbk_err *);

/** qbk_qdrant_shard_key_delete(q, coll, key, err): POST /collections/{coll}/
 * shards/delete: drop the shard key ${key} (JSON text) with its shards and
 * their points. */
int qbk_qdrant_shard_key_delete(struct qbk_qdrant *, const char *,
    const char *, struct qbk_err *);

/** qbk_qdrant_shard_keys(q, coll, keys, err): GET /collections/{coll}/
 * shards: the shard keys as JSON texts (compact, as in struct
 * qbk_qdrant_shard), in Qdrant's order; an empty vector for auto
 * sharding.  Free with qbk_qdrant_strv_free(). */
int qbk_qdrant_shard_keys(struct qbk_qdrant *, const char *, char ***,
    struct qbk_err *);

/* ---- parsing, for tests and fuzzing ---------------------------------- */

/** qbk_qdrant_error_text(body, len, out): append Qdrant's error text found
 * in a response body to ${out}: status.error of a JSON envelope, or the
 * body itself as one line if it is not JSON.  Returns 1 if the text came
 * from an envelope, else 0. */
int qbk_qdrant_error_text(const char *, size_t, struct qbk_buf *);

/** qbk_qdrant_result(body, len, what, result, err): parse a success
 * envelope and give its "result" (a new reference; NULL if the envelope
 * has none, e.g. 202 accepted).  -1 with QBK_E_QDRANT if ${body} is not
 * an envelope. */
int qbk_qdrant_result(const char *, size_t, const char *, struct json_t **,
    struct qbk_err *);

/** qbk_qdrant_wake_optimizers(q, coll, err): PATCH /collections/{coll}
 * {"optimizers_config": {}}: a collection update that changes nothing but
 * makes Qdrant recreate the optimizers of every shard and run them
 * (collection_meta_ops.rs update_collection -> local_shard/updaters.rs
 * on_optimizer_config_update, which ends with UpdateSignal::Nop).  After a
 * shard snapshot recovery nothing else triggers them: the collection stays
 * grey.  Runs through consensus in a cluster. */
int qbk_qdrant_wake_optimizers(struct qbk_qdrant *, const char *,
    struct qbk_err *);

#endif /* !QBK_QDRANT_H */
