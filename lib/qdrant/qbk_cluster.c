#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_log.h"
#include "qdrant/qbk_qdrant.h"
#include "qdrant/qbk_cluster.h"

int
qbk_cluster_rest_url(const char *uri, const char *base, char *out,
    size_t size)
{
	const char *host, *end, *colon, *p, *scheme;
	unsigned long port = QBK_CLUSTER_P2P_PORT;
	size_t hostlen;
	int n;

	if (strncmp(uri, "http://", 7) == 0)
		host = uri + 7;
	else if (strncmp(uri, "https://", 8) == 0)
		host = uri + 8;
	else
		return -1;
	/* REST's scheme is the one qbk was given: TLS on the REST port says
	 * nothing about the p2p port, and the other way round. */
	if (base != NULL && strncmp(base, "https://", 8) == 0)
		scheme = "https://";
	else if (base != NULL && strncmp(base, "http://", 7) == 0)
		scheme = "http://";
	else
		scheme = host - uri == 8 ? "https://" : "http://";
	end = host + strcspn(host, "/?#");
	if (end == host)
		return -1;
	/* An IPv6 literal keeps its brackets; the port follows "]". */
	if (*host == '[') {
		p = memchr(host, ']', (size_t)(end - host));
		if (p == NULL)
			return -1;
		colon = p + 1 < end && p[1] == ':' ? p + 1 : NULL;
	} else
		colon = memchr(host, ':', (size_t)(end - host));
	hostlen = (size_t)((colon != NULL ? colon : end) - host);
	if (hostlen == 0)
		return -1;
	if (colon != NULL) {
		char *e;

		if (colon + 1 == end)
			return -1;
		port = strtoul(colon + 1, &e, 10);
		if (e != end || port < 3 || port > 65535)
			return -1;
	}
	n = snprintf(out, size, "%s%.*s:%lu", scheme, (int)hostlen, host,
	    port - 2);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

void
qbk_cluster_free(struct qbk_cluster *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->npeers; i++) {
		free(c->peers[i].uri);
		free(c->peers[i].url);
		free(c->peers[i].error);
	}
	free(c->peers);
	free(c);
}

struct qbk_cluster_peer *
qbk_cluster_peer(const struct qbk_cluster *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->npeers; i++)
		if (c->peers[i].id == id)
			return &c->peers[i];
	return NULL;
}

/* Ask ${url} who it is (no retries: a node that is down must not hold up
 * the discovery): its peer id (0: a single node), and in ${who} what it
 * is if it is not peer ${want} of the cluster of ${c} (that lists
 * ${c}->self among its peers), else an empty text. */
static int
probe(struct qbk_qdrant *q, const struct qbk_cluster *c, uint64_t want,
    const char *url, uint64_t *id, struct qbk_buf *who, struct qbk_err *err)
{
	struct qbk_qdrant *p = NULL;
	struct qbk_qdrant_cluster *cl = NULL;
	size_t i;

	if (qbk_qdrant_new_peer(q, url, 0, &p, err) != 0)
		return -1;
	if (qbk_qdrant_cluster(p, &cl, err) != 0) {
		qbk_qdrant_free(p);
		return -1;
	}
	*id = cl->enabled ? cl->peer_id : 0;
	for (i = 0; cl->enabled && i < cl->npeers &&
	    cl->peers[i].id != c->self; i++)
		;
	qbk_buf_reset(who);
	if (!cl->enabled)
		qbk_buf_addstr(who, "a single node, not a peer of a cluster");
	else if (i == cl->npeers || qbk_cluster_peer(c, cl->peer_id) == NULL)
		qbk_buf_addf(who, "peer %llu of another cluster",
		    (unsigned long long)cl->peer_id);
	else if (want != 0 && cl->peer_id != want)
		qbk_buf_addf(who, "peer %llu", (unsigned long long)
		    cl->peer_id);
	qbk_qdrant_cluster_free(cl);
	qbk_qdrant_free(p);
	return 0;
}

/* Our view of the cluster ${cl} that ${q} is a node of: its peers, the
 * one ${q} answers as reachable at its URL. */
static struct qbk_cluster *
peers_of(struct qbk_qdrant *q, const struct qbk_qdrant_cluster *cl)
{
	struct qbk_cluster *c = qbk_xcalloc(1, sizeof(*c));
	size_t i;

	if (!cl->enabled) {
		c->npeers = 1;
		c->peers = qbk_xcalloc(1, sizeof(*c->peers));
		c->peers[0].uri = qbk_xstrdup("");
		c->peers[0].url = qbk_xstrdup(qbk_qdrant_url(q));
		c->peers[0].reachable = 1;
		return c;
	}
	c->enabled = 1;
	c->self = cl->peer_id;
	c->npeers = cl->npeers;
	c->peers = qbk_xcalloc(cl->npeers + 1, sizeof(*c->peers));
	for (i = 0; i < cl->npeers; i++) {
		c->peers[i].id = cl->peers[i].id;
		c->peers[i].uri = qbk_xstrdup(cl->peers[i].uri);
		if (cl->peers[i].id == cl->peer_id) {
			c->peers[i].url = qbk_xstrdup(qbk_qdrant_url(q));
			c->peers[i].reachable = 1;
		}
	}
	return c;
}

/* Configured nodes name themselves.  Those that do not answer are listed
 * in ${silent}, ${*nsilent} of them. */
static int
name_nodes(struct qbk_qdrant *q, struct qbk_cluster *c,
    const char *const *nodes, size_t nnodes, struct qbk_buf *silent,
    size_t *nsilent, struct qbk_err *err)
{
	struct qbk_buf who = QBK_BUF_INIT;
	size_t k;
	int rc = -1;

	for (k = 0; k < nnodes; k++) {
		struct qbk_cluster_peer *pe;
		struct qbk_err e = QBK_ERR_INIT;
		uint64_t id;

		if (probe(q, c, 0, nodes[k], &id, &who, &e) != 0) {
			/* A node that is down: its peer stays unreachable
			 * below, which matters if it holds an Active
			 * replica. */
			qbk_warn("configured node '%s' does not answer: %s",
			    nodes[k], e.msg);
			qbk_buf_addf(silent, "%s'%s'", (*nsilent)++ > 0 ?
			    ", " : "", nodes[k]);
			continue;
		}
		if (who.len > 0) {
			qbk_err_set(err, QBK_E_CONFIG, "configured node '%s' "
			    "is not a peer of the cluster of '%s': it answers "
			    "as %s", nodes[k], qbk_qdrant_url(q), who.buf);
			qbk_err_hint(err, "[qdrant] nodes must list the REST "
			    "URLs of the nodes of one cluster, the one "
			    "[qdrant] url (or --url) is a node of");
			goto out;
		}
		pe = qbk_cluster_peer(c, id);
		if (pe->url == NULL)
			pe->url = qbk_xstrdup(nodes[k]);
		pe->reachable = 1;
	}
	rc = 0;
out:
	qbk_buf_release(&who);
	return rc;
}

/* The peers without a URL yet by the port rule, probed; ${silent} lists
 * the ${nsilent} configured nodes that did not answer. */
static int
probe_peers(struct qbk_qdrant *q, struct qbk_cluster *c,
    const struct qbk_buf *silent, size_t nsilent, struct qbk_err *err)
{
	struct qbk_buf who = QBK_BUF_INIT;
	size_t i;
	int rc = -1;

	for (i = 0; i < c->npeers; i++) {
		struct qbk_cluster_peer *pe = &c->peers[i];
		struct qbk_err e = QBK_ERR_INIT;
		struct qbk_buf b = QBK_BUF_INIT;
		char url[512];
		uint64_t id = 0;

		if (pe->url != NULL)
			continue;
		if (qbk_cluster_rest_url(pe->uri, qbk_qdrant_url(q), url,
		    sizeof(url)) != 0) {
			qbk_buf_addf(&b, "cannot derive a REST URL from its "
			    "p2p URI '%s'", pe->uri);
			url[0] = '\0';
		} else if (probe(q, c, pe->id, url, &id, &who, &e) == 0) {
			if (who.len == 0) {
				pe->url = qbk_xstrdup(url);
				pe->reachable = 1;
				continue;
			}
			/* Something else answers there: using it would back
			 * up (or restore into) the wrong node. */
			qbk_err_set(err, QBK_E_CONFIG, "peer %llu has p2p URI "
			    "'%s', but '%s', the REST URL that gives by the "
			    "port rule, answers as %s", (unsigned long long)
			    pe->id, pe->uri, url, who.buf);
			qbk_err_hint(err, "list the REST URL of every node of "
			    "the cluster in [qdrant] nodes");
			goto out;
		} else
			qbk_buf_addstr(&b, e.msg);
		/* Its configured URL may be one of those that did not
		 * answer: say so, the derived one may mean nothing. */
		if (nsilent > 0)
			qbk_buf_addf(&b, " (configured node%s not answering: "
			    "%s)", nsilent == 1 ? "" : "s", silent->buf);
		pe->url = qbk_xstrdup(url);
		pe->error = qbk_buf_detach(&b, NULL);
		qbk_detail("peer %llu (%s) is not reachable at '%s': %s",
		    (unsigned long long)pe->id, pe->uri, url, pe->error);
	}
	rc = 0;
out:
	qbk_buf_release(&who);
	return rc;
}

int
qbk_cluster_discover(struct qbk_qdrant *q, const char *const *nodes,
    size_t nnodes, struct qbk_cluster **out, struct qbk_err *err)
{
	struct qbk_qdrant_cluster *cl = NULL;
	struct qbk_buf silent = QBK_BUF_INIT;
	struct qbk_cluster *c;
	size_t nsilent = 0;

	*out = NULL;
	if (qbk_qdrant_cluster(q, &cl, err) != 0)
		return -1;
	c = peers_of(q, cl);
	qbk_qdrant_cluster_free(cl);
	if (!c->enabled) {
		*out = c;
		return 0;
	}
	if (qbk_cluster_peer(c, c->self) == NULL) {
		qbk_cluster_free(c);
		return qbk_err_set(err, QBK_E_QDRANT, "'%s' does not list "
		    "itself among the peers of its cluster",
		    qbk_qdrant_url(q));
	}
	if (name_nodes(q, c, nodes, nnodes, &silent, &nsilent, err) != 0 ||
	    probe_peers(q, c, &silent, nsilent, err) != 0) {
		qbk_buf_release(&silent);
		qbk_cluster_free(c);
		return -1;
	}
	qbk_buf_release(&silent);
	*out = c;
	return 0;
}

int
qbk_cluster_connect(const struct qbk_cluster *c, struct qbk_qdrant *q,
    uint64_t id, struct qbk_qdrant **out, struct qbk_err *err)
{
	const struct qbk_cluster_peer *pe = qbk_cluster_peer(c, id);

	*out = NULL;
	if (pe == NULL)
		return qbk_err_set(err, QBK_E_QDRANT, "no peer %llu in the "
		    "cluster", (unsigned long long)id);
	if (!pe->reachable) {
		qbk_err_set(err, QBK_E_NET, "cannot reach peer %llu (p2p URI "
		    "'%s') at '%s': %s", (unsigned long long)id, pe->uri,
		    pe->url, pe->error != NULL ? pe->error : "unknown");
		qbk_err_hint(err, "list the REST URL of every node in "
		    "[qdrant] nodes of the configuration");
		return -1;
	}
	return qbk_qdrant_new_peer(q, pe->url, -1, out, err);
}

/* ---- layout ----------------------------------------------------------- */

void
qbk_cluster_layout_free(struct qbk_cluster_layout *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nshards; i++) {
		free(l->shards[i].shard_key);
		free(l->shards[i].replicas);
	}
	free(l->shards);
	free(l);
}

int
qbk_cluster_replica_active(const struct qbk_cluster_replica *r)
{
	return strcmp(r->state, "Active") == 0 ||
	    strcmp(r->state, "ReshardingScaleDown") == 0;
}

int
qbk_cluster_replica_readable(const struct qbk_cluster_replica *r)
{
	return qbk_cluster_replica_active(r) ||
	    strcmp(r->state, "ActiveRead") == 0;
}

static struct qbk_cluster_shard *
shard_get(struct qbk_cluster_layout *l, uint32_t id)
{
	size_t i, k;

	for (i = 0; i < l->nshards; i++)
		if (l->shards[i].id == id)
			return &l->shards[i];
	l->shards = qbk_xrealloc(l->shards, (l->nshards + 1) *
	    sizeof(*l->shards));
	for (i = 0; i < l->nshards && l->shards[i].id < id; i++)
		;
	for (k = l->nshards; k > i; k--)
		l->shards[k] = l->shards[k - 1];
	memset(&l->shards[i], 0, sizeof(l->shards[i]));
	l->shards[i].id = id;
	l->nshards++;
	return &l->shards[i];
}

static void
add_replica(struct qbk_cluster_layout *l, const struct qbk_qdrant_shard *s)
{
	struct qbk_cluster_shard *sh = shard_get(l, s->shard_id);
	struct qbk_cluster_replica *r;
	size_t i, k;

	if (sh->shard_key == NULL && s->shard_key != NULL)
		sh->shard_key = qbk_xstrdup(s->shard_key);
	for (i = 0; i < sh->nreplicas; i++)
		if (sh->replicas[i].peer_id == s->peer_id)
			return;
	sh->replicas = qbk_xrealloc(sh->replicas, (sh->nreplicas + 1) *
	    sizeof(*sh->replicas));
	for (i = 0; i < sh->nreplicas && sh->replicas[i].peer_id <
	    s->peer_id; i++)
		;
	for (k = sh->nreplicas; k > i; k--)
		sh->replicas[k] = sh->replicas[k - 1];
	r = &sh->replicas[i];
	memset(r, 0, sizeof(*r));
	r->peer_id = s->peer_id;
	snprintf(r->state, sizeof(r->state), "%s", s->state);
	r->points_count = s->points_count;
	sh->nreplicas++;
}

int
qbk_cluster_layout(const struct qbk_cluster *c, struct qbk_qdrant *q,
    const char *coll, struct qbk_cluster_layout **out, struct qbk_err *err)
{
	struct qbk_qdrant_coll_cluster *cc = NULL;
	struct qbk_cluster_layout *l;
	size_t i, k, j;
	uint32_t s;

	*out = NULL;
	if (qbk_qdrant_collection_cluster(q, coll, &cc, err) != 0)
		return -1;
	l = qbk_xcalloc(1, sizeof(*l));
	l->shard_count = cc->shard_count;
	l->ntransfers = cc->ntransfers;
	for (i = 0; i < cc->nlocal; i++) {
		struct qbk_qdrant_shard x = cc->local[i];

		if (!c->enabled)
			x.peer_id = 0;
		add_replica(l, &x);
	}
	for (i = 0; i < cc->nremote; i++)
		add_replica(l, &cc->remote[i]);
	qbk_qdrant_coll_cluster_free(cc);
	/* Auto sharding numbers its shards 0..shard_count-1: one that no
	 * peer lists is there without replicas.  Custom sharding's ids are
	 * whatever the shard keys got. */
	for (k = 0; k < l->nshards && l->shards[k].shard_key == NULL; k++)
		;
	for (s = 0; k == l->nshards && s < l->shard_count; s++)
		shard_get(l, s);

	/* Point counts of the replicas held by the other peers. */
	for (k = 0; c->enabled && k < c->npeers; k++) {
		const struct qbk_cluster_peer *pe = &c->peers[k];
		struct qbk_qdrant *p = NULL;
		struct qbk_err e = QBK_ERR_INIT;

		if (pe->id == c->self || !pe->reachable)
			continue;
		if (qbk_qdrant_new_peer(q, pe->url, 0, &p, &e) != 0 ||
		    qbk_qdrant_collection_cluster(p, coll, &cc, &e) != 0) {
			qbk_detail("cannot get the shards of '%s' on peer "
			    "%llu: %s", coll, (unsigned long long)pe->id,
			    e.msg);
			qbk_qdrant_free(p);
			continue;
		}
		for (i = 0; i < cc->nlocal; i++)
			for (j = 0; j < l->nshards; j++) {
				struct qbk_cluster_shard *sh = &l->shards[j];

				if (sh->id != cc->local[i].shard_id)
					continue;
				for (s = 0; s < sh->nreplicas; s++)
					if (sh->replicas[s].peer_id == pe->id)
						sh->replicas[s].points_count =
						    cc->local[i].points_count;
			}
		qbk_qdrant_coll_cluster_free(cc);
		cc = NULL;
		qbk_qdrant_free(p);
	}
	*out = l;
	return 0;
}

/* The id of the shard of rank ${rank} (by id) among the shards of key
 * ${key} in ${v}, or -1. */
static int64_t
keyed_rank(const struct qbk_cluster_keyed *v, size_t n, const char *key,
    size_t rank)
{
	size_t k, j, below;

	for (k = 0; k < n; k++) {
		if (v[k].key == NULL || strcmp(v[k].key, key) != 0)
			continue;
		for (below = 0, j = 0; j < n; j++)
			if (v[j].key != NULL && strcmp(v[j].key, key) == 0 &&
			    v[j].id < v[k].id)
				below++;
		if (below == rank)
			return v[k].id;
	}
	return -1;
}

size_t
qbk_cluster_map_shards(const struct qbk_cluster_keyed *from, size_t nfrom,
    const struct qbk_cluster_keyed *to, size_t nto, int64_t *map)
{
	size_t i, k, rank, left = 0;

	for (i = 0; i < nfrom; i++) {
		map[i] = -1;
		if (from[i].key == NULL) {
			for (k = 0; k < nto; k++)
				if (to[k].key == NULL && to[k].id == from[i].id)
					map[i] = to[k].id;
		} else {
			for (rank = 0, k = 0; k < nfrom; k++)
				if (from[k].key != NULL &&
				    strcmp(from[k].key, from[i].key) == 0 &&
				    from[k].id < from[i].id)
					rank++;
			map[i] = keyed_rank(to, nto, from[i].key, rank);
		}
		if (map[i] < 0)
			left++;
	}
	return left;
}

static size_t
rank_of(const uint64_t *order, size_t norder, uint64_t id)
{
	size_t i;

	for (i = 0; i < norder; i++)
		if (order[i] == id)
			return i;
	return norder;
}

static int
listed(const uint64_t *v, size_t n, uint64_t id)
{
	size_t i;

	if (v == NULL)
		return 1;
	for (i = 0; i < n; i++)
		if (v[i] == id)
			return 1;
	return 0;
}

size_t
qbk_cluster_pick(const struct qbk_cluster_layout *l, int any_state,
    const uint64_t *usable, size_t nusable, const uint64_t *order,
    size_t norder, uint64_t *pick)
{
	uint64_t *peers = NULL;
	size_t *load = NULL, npeers = 0, i, k, left = 0;

	for (i = 0; i < l->nshards; i++) {
		const struct qbk_cluster_shard *sh = &l->shards[i];
		size_t best = SIZE_MAX;
		int best_act = 0, act;

		pick[i] = 0;
		for (k = 0; k < sh->nreplicas; k++) {
			const struct qbk_cluster_replica *r = &sh->replicas[k];
			size_t p;

			if ((!any_state && !qbk_cluster_replica_readable(r)) ||
			    !listed(usable, nusable, r->peer_id))
				continue;
			/* An active replica before an ActiveRead one. */
			act = any_state || qbk_cluster_replica_active(r);
			if (best != SIZE_MAX && act < best_act)
				continue;
			if (best != SIZE_MAX && act > best_act)
				best = SIZE_MAX;
			for (p = 0; p < npeers && peers[p] != r->peer_id; p++)
				;
			if (p == npeers) {
				peers = qbk_xrealloc(peers, (npeers + 1) *
				    sizeof(*peers));
				load = qbk_xrealloc(load, (npeers + 1) *
				    sizeof(*load));
				peers[npeers] = r->peer_id;
				load[npeers++] = 0;
			}
			if (best == SIZE_MAX || load[p] < load[best] ||
			    (load[p] == load[best] &&
			    (rank_of(order, norder, peers[p]) <
			    rank_of(order, norder, peers[best]) ||
			    (rank_of(order, norder, peers[p]) ==
			    rank_of(order, norder, peers[best]) &&
			    peers[p] < peers[best])))) {
				best = p;
				best_act = act;
			}
		}
		if (best == SIZE_MAX) {
			left++;
			continue;
		}
		pick[i] = peers[best];
		load[best]++;
	}
	free(peers);
	free(load);
	return left;
}

/* ---- parallel jobs ---------------------------------------------------- */

struct runner {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t njobs;
	const uint64_t *node_of;
	char *started;
	uint64_t *busy;		/* nodes with a job running */
	size_t nbusy;
	int failed;
	struct qbk_err *err;
	qbk_cluster_job_fn *fn;
	void *cookie;
	volatile sig_atomic_t *cancel;
};

static int
node_busy(const struct runner *r, uint64_t node)
{
	size_t i;

	for (i = 0; i < r->nbusy; i++)
		if (r->busy[i] == node)
			return 1;
	return 0;
}

static void *
worker(void *arg)
{
	struct runner *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct qbk_err e = QBK_ERR_INIT;
		size_t i, left = 0, job = SIZE_MAX;
		uint64_t node;
		int rc;

		if (r->cancel != NULL && *r->cancel != 0 && !r->failed) {
			r->failed = 1;
			qbk_err_set(r->err, QBK_E_INTERRUPTED, "interrupted");
		}
		if (r->failed)
			break;
		for (i = 0; i < r->njobs; i++) {
			if (r->started[i])
				continue;
			left++;
			if (job == SIZE_MAX && !node_busy(r, r->node_of[i]))
				job = i;
		}
		if (left == 0)
			break;
		if (job == SIZE_MAX) {
			pthread_cond_wait(&r->cv, &r->mu);
			continue;
		}
		node = r->node_of[job];
		r->started[job] = 1;
		r->busy[r->nbusy++] = node;
		pthread_mutex_unlock(&r->mu);
		rc = r->fn(r->cookie, job, &e);
		pthread_mutex_lock(&r->mu);
		for (i = 0; i < r->nbusy; i++)
			if (r->busy[i] == node) {
				r->busy[i] = r->busy[--r->nbusy];
				break;
			}
		if (rc != 0 && !r->failed) {
			r->failed = 1;
			*r->err = e;
		}
		pthread_cond_broadcast(&r->cv);
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int
qbk_cluster_run(size_t njobs, const uint64_t *node_of, unsigned parallel,
    qbk_cluster_job_fn *fn, void *cookie, volatile sig_atomic_t *cancel,
    struct qbk_err *err)
{
	struct runner r;
	pthread_t *t;
	size_t nt, i, started = 0;

	if (njobs == 0)
		return 0;
	nt = parallel == 0 ? 1 : parallel;
	if (nt > njobs)
		nt = njobs;
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	r.njobs = njobs;
	r.node_of = node_of;
	r.started = qbk_xcalloc(njobs, 1);
	r.busy = qbk_xcalloc(nt, sizeof(*r.busy));
	r.err = err;
	r.fn = fn;
	r.cookie = cookie;
	r.cancel = cancel;
	t = qbk_xcalloc(nt, sizeof(*t));
	for (i = 0; i < nt; i++) {
		if (pthread_create(&t[i], NULL, worker, &r) != 0)
			break;
		started++;
	}
	if (started == 0)
		worker(&r);	/* no thread: run them here */
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	free(r.started);
	free(r.busy);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	return r.failed ? -1 : 0;
}
