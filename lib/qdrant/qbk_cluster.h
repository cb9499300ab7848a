#ifndef QBK_CLUSTER_H
#define QBK_CLUSTER_H

/*
 * qbk_cluster: a distributed Qdrant deployment as qbk sees it.
 *
 * Discovery starts at any node: GET /cluster names every peer (id and p2p
 * URI), GET /collections/{c}/cluster on each reachable peer tells which
 * shards it holds, in which state, with how many points.
 *
 * REST addresses of the peers.  Qdrant publishes only each peer's p2p URI
 * ("http://10.0.0.2:6335/").  qbk finds a peer's REST URL in this order:
 *   1. the node that was asked (--url / [qdrant] url) is the peer that
 *      answered /cluster;
 *   2. each URL of [qdrant] nodes is asked for its own peer id (GET
 *      /cluster), so any addressing (proxies, other ports) works;
 *   3. otherwise the host of the p2p URI, its port minus 2, and the scheme
 *      of the URL asked in 1 (not of the p2p URI: REST often has TLS
 *      where the p2p port has none): Qdrant's default ports are 6333
 *      (REST), 6334 (gRPC) and 6335 (p2p), so with --url
 *      https://qdrant:6333 "http://10.0.0.2:6335/" becomes
 *      "https://10.0.0.2:6333" (a URI without a port counts as port
 *      6335).  Deployments with other ports (such as qbk's simulator,
 *      whose p2p port is the REST port plus 10000) list their nodes in
 *      [qdrant] nodes.
 * Every peer is probed (GET /cluster).  A URL that answers must be the
 * peer it stands for, of this cluster (it lists the peer asked in 1):
 * one that answers as another peer, another cluster or a single node is a
 * configuration error (QBK_E_CONFIG), never used.  A peer that cannot be
 * reached is recorded, and whoever needs it (a replica that is Active
 * there) fails with its URL named.
 *
 * Parallel work: qbk_cluster_run() runs jobs on a bounded number of
 * threads, at most one job per node at a time.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct qbk_err;
struct qbk_qdrant;

#define QBK_CLUSTER_P2P_PORT	6335
#define QBK_CLUSTER_REST_PORT	6333

struct qbk_cluster_peer {
	uint64_t id;
	char *uri;		/* p2p URI as reported ("" for a single node) */
	char *url;		/* REST URL */
	int reachable;		/* answered GET /cluster with its id */
	char *error;		/* why not, or NULL */
};

struct qbk_cluster {
	int enabled;		/* 0: a single node (one peer, id 0) */
	uint64_t self;		/* the peer that answered */
	struct qbk_cluster_peer *peers;	/* sorted by id */
	size_t npeers;
};

/** qbk_cluster_rest_url(uri, base, out, size): the REST URL of the p2p
 * URI ${uri} by rule 3 above, with the scheme of the URL ${base} (NULL, or
 * a URL that is not http(s): the scheme of ${uri}), into ${out}[${size}].
 * 0, or -1 if ${uri} is not an http(s) URL or does not fit. */
int qbk_cluster_rest_url(const char *, const char *, char *, size_t);

/** qbk_cluster_discover(q, nodes, nnodes, out, err): discover the
 * deployment ${q} talks to; ${nodes} (may be NULL) are the configured REST
 * URLs.  A configured node that does not answer is warned about (it may
 * be down); one that answers but is not a peer of this cluster, or a URL
 * derived by the port rule that answers as another peer or deployment, is
 * an error (QBK_E_CONFIG).  Caller frees ${*out} with qbk_cluster_free(). */
int qbk_cluster_discover(struct qbk_qdrant *, const char *const *, size_t,
    struct qbk_cluster **, struct qbk_err *);

/** qbk_cluster_free(c): NULL is a no-op. */
void qbk_cluster_free(struct qbk_cluster *);

/** qbk_cluster_peer(c, id): the peer ${id}, or NULL. */
struct qbk_cluster_peer *qbk_cluster_peer(const struct qbk_cluster *,
    uint64_t);

/** qbk_cluster_connect(c, q, id, out, err): a new client for peer ${id}
 * (settings of ${q}); QBK_E_NET naming the peer and its URL if it was not
 * reachable.  Caller frees with qbk_qdrant_free(). */
int qbk_cluster_connect(const struct qbk_cluster *, struct qbk_qdrant *,
    uint64_t, struct qbk_qdrant **, struct qbk_err *);

/* ---- shard layout of a collection ------------------------------------ */

struct qbk_cluster_replica {
	uint64_t peer_id;
	char state[24];		/* "Active", "Dead", "Partial", ... */
	int64_t points_count;	/* as that peer counts it; -1 unknown */
};

struct qbk_cluster_shard {
	uint32_t id;
	char *shard_key;	/* JSON text, or NULL */
	struct qbk_cluster_replica *replicas;	/* sorted by peer id */
	size_t nreplicas;
};

struct qbk_cluster_layout {
	uint32_t shard_count;
	struct qbk_cluster_shard *shards;	/* sorted by id */
	size_t nshards;
	size_t ntransfers;	/* shard transfers in progress */
};

/** qbk_cluster_layout(c, q, coll, out, err): the replicas of every shard
 * of ${coll}: placement and states as the node ${q} sees them, point
 * counts from each reachable peer that holds a replica.  With auto
 * sharding, shard ids 0..shard_count-1 are always present (maybe without
 * replicas); with custom sharding, the shards the keys have (each with its
 * shard_key).  Caller frees with qbk_cluster_layout_free(). */
int qbk_cluster_layout(const struct qbk_cluster *, struct qbk_qdrant *,
    const char *, struct qbk_cluster_layout **, struct qbk_err *);

/** qbk_cluster_layout_free(l): NULL is a no-op. */
void qbk_cluster_layout_free(struct qbk_cluster_layout *);

/** qbk_cluster_replica_active(r): nonzero if ${r} is a source of truth,
 * as Qdrant's ReplicaState::is_active: "Active", or "ReshardingScaleDown"
 * (whose points are being moved out to other shards). */
int qbk_cluster_replica_active(const struct qbk_cluster_replica *);
/** qbk_cluster_replica_readable(r): nonzero if ${r} holds the whole
 * shard, as Qdrant's is_readable: active, or "ActiveRead" (Active for
 * readers, Partial for writers).  Not "Resharding": a shard being filled
 * by a resharding. */
int qbk_cluster_replica_readable(const struct qbk_cluster_replica *);

/** qbk_cluster_pick(l, any_state, usable, nusable, order, norder, pick):
 * choose one replica per shard of ${l} into ${pick}[l->nshards] (a peer
 * id, 0 for none): a readable one, active before ActiveRead (any state
 * if ${any_state}) on a peer
 * listed in ${usable} (all peers if ${usable} is NULL), the peer with the
 * fewest shards picked so far first, then the one earlier in ${order}
 * (configured node order; may be NULL), then the smaller id.  Returns the
 * number of shards left without a pick. */
size_t qbk_cluster_pick(const struct qbk_cluster_layout *, int,
    const uint64_t *, size_t, const uint64_t *, size_t, uint64_t *);

/* ---- shards across layouts (custom sharding) ------------------------- */

struct qbk_cluster_keyed {	/* a shard and its shard key */
	uint32_t id;
	const char *key;	/* JSON text of its custom shard key, or NULL */
};

/** qbk_cluster_map_shards(from, nfrom, to, nto, map): which shard of the
 * layout ${to} (a restore's target, say) holds what the shard ${from}[i]
 * (of a backup's layout) held, into ${map}[i] (-1: none).  Auto sharding
 * keeps its ids: a shard without key maps to the same id.  Shard keys get
 * new ids wherever they are created: a keyed shard maps to the shard of
 * the same rank (by id) among the shards of its key.  Returns the number
 * of shards of ${from} left without one. */
size_t qbk_cluster_map_shards(const struct qbk_cluster_keyed *, size_t,
    const struct qbk_cluster_keyed *, size_t, int64_t *);

/* ---- parallel jobs --------------------------------------------------- */

/** qbk_cluster_job_fn(cookie, job, err): run job ${job}; 0 or -1 with
 * ${err} set.  Called from several threads at once. */
typedef int qbk_cluster_job_fn(void *, size_t, struct qbk_err *);

/** qbk_cluster_run(njobs, node_of, parallel, fn, cookie, cancel, err): run
 * jobs 0..${njobs}-1 on at most ${parallel} threads (0: 1), never two jobs
 * of the same node (${node_of}[job], any number) at once, in job order as
 * far as the nodes allow.  After the first failure (or the cancel flag) no
 * new job starts; the running ones finish.  0, or -1 with the first
 * failure in ${err}. */
int qbk_cluster_run(size_t, const uint64_t *, unsigned, qbk_cluster_job_fn *,
    void *, volatile sig_atomic_t *, struct qbk_err *);

#endif /* !QBK_CLUSTER_H */
