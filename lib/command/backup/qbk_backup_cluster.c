/*
 * The backup of a distributed deployment: a job per shard, streamed from an
 * Active replica (another one when it fails) by a pool of workers, with
 * the cluster's layout and what could not be read recorded in the manifest.
 */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "command/backup/qbk_backup_internal.h"
#include "command/qbk_backup.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "qdrant/qbk_cluster.h"
#include "qdrant/qbk_points.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_manifest.h"

/* One shard to stream: from peer ${peer} into ${ms}. */
#define CJOB_ALT	8

struct cjob {
	const char *collection;
	uint32_t shard;
	uint64_t peer;
	struct qbk_manifest_snapshot *ms;
	struct qbk_manifest_collection *mc;
	int64_t points;		/* of the replica, -1 unknown */
	/* Other Active replicas on reachable peers, tried in turn when the
	 * stream from ${peer} fails (a node lost during the backup). */
	uint64_t alt[CJOB_ALT];
	int64_t alt_points[CJOB_ALT];
	size_t nalt;
};

struct cbackup {
	struct qbk_repo *repo;
	struct qbk_qdrant *q;
	const struct qbk_backup_opts *o;
	struct qbk_backup_opts so;	/* per stream: fewer workers */
	const struct qbk_cluster *cl;
	struct cjob *jobs;
	size_t njobs;
	pthread_mutex_t mu;
	/* Fingerprints begun before the shards are streamed, by index of
	 * the collection in the manifest; fp_begun[i] 0 if none. */
	struct qbk_points_fp *fps;
	unsigned char *fp_begun;
};

/* The stored shard snapshot way, for servers without the streaming
 * endpoint: create on the peer, download, check, delete. */
static int
stored_shard(struct cbackup *b, struct qbk_qdrant *pq, struct cjob *j,
    struct qbk_err *err)
{
	struct qbk_qdrant_snapshot desc;
	struct qbk_err derr = QBK_ERR_INIT;
	int rc;

	memset(&desc, 0, sizeof(desc));
	if (qbk_qdrant_snapshot_create(pq, j->collection, (long)j->shard,
	    &desc, err) != 0)
		return -1;
	qbk_manifest_strset(&j->ms->name, desc.name);
	rc = qbk_backup_stream_one(b->repo, pq, &b->so, j->collection,
	    (long)j->shard, desc.name, desc.size, QBK_INGEST_SHARD, j->ms,
	    &b->mu, err);
	if (rc == 0)
		rc = qbk_backup_check_checksum(j->ms, &desc, err);
	if (qbk_qdrant_snapshot_delete(pq, j->collection, (long)j->shard,
	    desc.name, &derr) != 0)
		qbk_warn("cannot delete snapshot '%s' from '%s': %s",
		    desc.name, qbk_qdrant_url(pq), derr.msg);
	qbk_qdrant_snapshot_release(&desc);
	return rc;
}

static int
cluster_job_on(struct cbackup *b, struct cjob *j, struct qbk_err *err)
{
	struct qbk_qdrant *pq = NULL;
	int rc;

	if (qbk_cluster_connect(b->cl, b->q, j->peer, &pq, err) != 0)
		return -1;
	qbk_detail("collection '%s' shard %u: from peer %llu (%s)",
	    j->collection, j->shard, (unsigned long long)j->peer,
	    qbk_qdrant_url(pq));
	rc = b->o->mode == QBK_BACKUP_MODE_SNAPSHOT ? 1 :
	    qbk_backup_stream_one(b->repo, pq, &b->so, j->collection,
	    (long)j->shard, NULL, -1, QBK_INGEST_SHARD, j->ms, &b->mu, err);
	/* A server without the streaming endpoint answers 404 for the
	 * route: take a stored shard snapshot. */
	if (rc > 0 || (rc != 0 && b->o->mode == QBK_BACKUP_MODE_AUTO &&
	    err->http_status == 404 && err->code == QBK_E_NOTFOUND &&
	    strstr(err->msg, "doesn't exist") == NULL)) {
		qbk_err_clear(err);
		rc = stored_shard(b, pq, j, err);
	}
	if (rc == 0 && j->ms->name == NULL) {
		char n[300];

		snprintf(n, sizeof(n), "%s-shard-%u", j->collection, j->shard);
		qbk_manifest_strset(&j->ms->name, n);
	}
	if (rc != 0)
		qbk_err_prefix(err, "cannot back up shard %u of collection "
		    "'%s' from peer %llu (%s)", j->shard, j->collection,
		    (unsigned long long)j->peer, qbk_qdrant_url(pq));
	qbk_qdrant_free(pq);
	return rc;
}

/* Record in the layout which replica the shard finally came from. */
static void
set_source(struct cjob *j)
{
	struct qbk_manifest_cluster *mcl = j->mc->cluster;
	size_t i;

	j->ms->peer_id = j->peer;
	for (i = 0; mcl != NULL && i < mcl->n_shards; i++)
		if (mcl->shards[i].shard_id == (int64_t)j->shard) {
			mcl->shards[i].peer_id = j->peer;
			mcl->shards[i].points_count = j->points > 0 ?
			    (uint64_t)j->points : 0;
		}
}

static int
cluster_job(void *cookie, size_t i, struct qbk_err *err)
{
	struct cbackup *b = cookie;
	struct cjob *j = &b->jobs[i];
	size_t next = 0;
	int again = 0;

	for (;;) {
		if (cluster_job_on(b, j, err) == 0) {
			set_source(j);
			return 0;
		}
		if (b->o->cancel != NULL && *b->o->cancel != 0)
			return -1;
		/* A stream Qdrant ended early, with no other replica left:
		 * the same one again. */
		if (next >= j->nalt && qbk_backup_cut_short(err) &&
		    again < QBK_BACKUP_STREAM_AGAIN) {
			again++;
			qbk_warn("%s; streaming it again", err->msg);
			qbk_err_clear(err);
			qbk_manifest_strset(&j->ms->name, NULL);
			continue;
		}
		/* Another replica helps when the node or the network failed
		 * or Qdrant ended the stream early, not when the data or the
		 * repository did. */
		if (next >= j->nalt || (err->code != QBK_E_NET &&
		    err->code != QBK_E_HTTP && err->code != QBK_E_QDRANT &&
		    !qbk_backup_cut_short(err)))
			return -1;
		qbk_warn("%s; trying the replica on peer %llu", err->msg,
		    (unsigned long long)j->alt[next]);
		qbk_err_clear(err);
		qbk_manifest_strset(&j->ms->name, NULL);
		j->peer = j->alt[next];
		j->points = j->alt_points[next];
		next++;
		qbk_manifest_strset(&j->ms->node_url,
		    qbk_cluster_peer(b->cl, j->peer)->url);
	}
}

static uint64_t
json_u64_or(const json_t *v, const char *path, uint64_t dflt)
{
	uint64_t x;

	return qbk_json_u64(v, path, &x) == 0 ? x : dflt;
}

/* Describe the replicas of a shard for messages: "peer 1: Dead, ...". */
static void
replicas_text(const struct qbk_cluster *cl, const struct qbk_cluster_shard *sh,
    struct qbk_buf *out)
{
	const struct qbk_cluster_peer *pe;
	size_t k;

	if (sh->nreplicas == 0)
		qbk_buf_addstr(out, "no replica");
	for (k = 0; k < sh->nreplicas; k++) {
		qbk_buf_addf(out, "%speer %llu: %s", k > 0 ? "; " : "",
		    (unsigned long long)sh->replicas[k].peer_id,
		    sh->replicas[k].state);
		pe = qbk_cluster_peer(cl, sh->replicas[k].peer_id);
		if (pe != NULL && !pe->reachable)
			qbk_buf_addf(out, ", not reachable at '%s'", pe->url);
	}
}

/* Record in ${mc} the layout ${l} of the collection that ${info}
 * describes, on the peers of ${cl}. */
static struct qbk_manifest_cluster *
record_layout(struct qbk_manifest_collection *mc,
    const struct qbk_qdrant_collection *info,
    const struct qbk_cluster_layout *l, const struct qbk_cluster *cl)
{
	struct qbk_manifest_cluster *mcl;
	const char *method;
	size_t i;

	mcl = qbk_manifest_collection_set_cluster(mc);
	/* Shard snapshots carry no payload index definitions: record them
	 * beside the layout, for the restore to re-create. */
	if (json_object_size(json_object_get(info->info,
	    "payload_schema")) > 0)
		mcl->payload_schema = json_incref(json_object_get(info->info,
		    "payload_schema"));
	mcl->shard_number = l->shard_count;
	mcl->replication_factor = info->replication_factor;
	mcl->write_consistency_factor = json_u64_or(info->config,
	    "params.write_consistency_factor", 1);
	method = qbk_json_str(info->config, "params.sharding_method");
	qbk_manifest_strset(&mcl->sharding_method, method != NULL ? method :
	    "auto");
	for (i = 0; i < cl->npeers; i++)
		qbk_manifest_cluster_add_peer(mcl, cl->peers[i].id);
	return mcl;
}

/*
 * The peers that qbk can reach (${*n} of them): replicas on the others are
 * passed over.  One that the cluster still calls Active is warned about (a
 * wrong address must not pass unnoticed), and a shard whose only Active
 * replicas are there fails the backup with the peer named.
 */
static uint64_t *
usable_peers(const struct qbk_cluster *cl, const struct qbk_cluster_layout *l,
    const char *name, size_t *n)
{
	uint64_t *usable;
	size_t i, k, nusable = 0;

	usable = qbk_xcalloc(cl->npeers + 1, sizeof(*usable));
	for (i = 0; i < cl->npeers; i++)
		if (cl->peers[i].reachable)
			usable[nusable++] = cl->peers[i].id;
	for (i = 0; i < l->nshards; i++)
		for (k = 0; k < l->shards[i].nreplicas; k++) {
			const struct qbk_cluster_replica *r =
			    &l->shards[i].replicas[k];
			const struct qbk_cluster_peer *pe =
			    qbk_cluster_peer(cl, r->peer_id);

			if (pe != NULL && !pe->reachable &&
			    qbk_cluster_replica_active(r))
				qbk_warn("shard %u of '%s': the active replica "
				    "on peer %llu is passed over: that peer "
				    "cannot be reached at '%s'",
				    l->shards[i].id, name,
				    (unsigned long long)r->peer_id, pe->url);
		}
	*n = nusable;
	return usable;
}

/* A job for shard ${sh} of ${mc}, from peer ${peer}; the other readable
 * replicas on reachable peers are its alternatives. */
static void
add_job(struct cbackup *b, struct qbk_manifest *m,
    struct qbk_manifest_collection *mc, const struct qbk_cluster_shard *sh,
    struct qbk_manifest_shard *msh, uint64_t peer)
{
	const struct qbk_cluster *cl = b->cl;
	struct cjob *j;
	size_t k;

	b->jobs = qbk_xrealloc(b->jobs, (b->njobs + 1) * sizeof(*b->jobs));
	j = &b->jobs[b->njobs++];
	memset(j, 0, sizeof(*j));
	j->collection = mc->name;
	j->mc = mc;
	j->shard = sh->id;
	j->peer = peer;
	j->ms = qbk_manifest_add_snapshot(m, mc, QBK_MANIFEST_SNAP_SHARD);
	j->ms->shard_id = sh->id;
	j->ms->peer_id = peer;
	qbk_manifest_strset(&j->ms->node_url, qbk_cluster_peer(cl, peer)->url);
	j->points = -1;
	for (k = 0; k < sh->nreplicas; k++) {
		const struct qbk_cluster_replica *r = &sh->replicas[k];
		const struct qbk_cluster_peer *pe =
		    qbk_cluster_peer(cl, r->peer_id);

		if (r->peer_id == peer)
			j->points = r->points_count;
		else if (pe != NULL && pe->reachable &&
		    qbk_cluster_replica_readable(r) && j->nalt < CJOB_ALT) {
			j->alt_points[j->nalt] = r->points_count;
			j->alt[j->nalt++] = r->peer_id;
		}
	}
	msh->peer_id = peer;
	msh->points_count = j->points > 0 ? (uint64_t)j->points : 0;
}

/* Plan collection ${name}: record it and its layout in ${m}, and add a job
 * per shard that has an Active replica; shards without one go to
 * ${missing} (text for the error) or, with allow_partial, to the
 * manifest's missing list. */
static int
cluster_collection(struct cbackup *b, struct qbk_manifest *m,
    const char *name, const struct qbk_qdrant_alias *aliases,
    size_t naliases, const uint64_t *order, size_t norder,
    struct qbk_buf *missing, struct qbk_err *err)
{
	const struct qbk_cluster *cl = b->cl;
	struct qbk_qdrant_collection *info = NULL;
	struct qbk_cluster_layout *l = NULL;
	struct qbk_manifest_collection *mc;
	struct qbk_manifest_cluster *mcl;
	uint64_t *usable = NULL, *pick = NULL;
	size_t nusable = 0, i, k;
	size_t ci;
	int rc = -1;

	if (qbk_qdrant_collection_info(b->q, name, &info, err) != 0 ||
	    qbk_cluster_layout(cl, b->q, name, &l, err) != 0)
		goto out;
	ci = m->n_collections;
	mc = qbk_backup_add_collection(m, name, info, aliases, naliases);
	b->fps = qbk_xrealloc(b->fps, (ci + 1) * sizeof(*b->fps));
	b->fp_begun = qbk_xrealloc(b->fp_begun, ci + 1);
	qbk_points_fp_init(&b->fps[ci]);
	b->fp_begun[ci] = 0;
	mcl = record_layout(mc, info, l, cl);

	usable = usable_peers(cl, l, name, &nusable);
	pick = qbk_xcalloc(l->nshards + 1, sizeof(*pick));
	qbk_cluster_pick(l, 0, usable, nusable, order, norder, pick);
	for (i = 0; i < l->nshards; i++) {
		const struct qbk_cluster_shard *sh = &l->shards[i];
		struct qbk_manifest_shard *msh =
		    qbk_manifest_cluster_add_shard(mcl, sh->id);

		if (sh->shard_key != NULL)
			qbk_manifest_strset(&msh->shard_key, sh->shard_key);
		for (k = 0; k < sh->nreplicas; k++)
			qbk_manifest_shard_add_replica(msh,
			    sh->replicas[k].peer_id, sh->replicas[k].state,
			    sh->replicas[k].points_count);
		if (pick[i] == 0) {
			struct qbk_buf why = QBK_BUF_INIT;

			qbk_buf_addstr(&why, "no active replica (");
			replicas_text(cl, sh, &why);
			qbk_buf_addch(&why, ')');
			if (b->o->allow_partial) {
				qbk_warn("shard %u of collection '%s' is not "
				    "backed up: %s", sh->id, name, why.buf);
				qbk_manifest_add_missing(m, name, sh->id,
				    why.buf);
			} else
				qbk_buf_addf(missing, "%sshard %u of "
				    "collection '%s' has %s",
				    missing->len > 0 ? "; " : "", sh->id, name,
				    why.buf);
			qbk_buf_release(&why);
			continue;
		}
		add_job(b, m, mc, sh, msh, pick[i]);
	}

	/* Reading points needs every shard: with one missing, no sample
	 * (the backup fails anyway unless allow_partial). */
	if (qbk_cluster_pick(l, 0, usable, nusable, order, norder, pick) >
	    0) {
		if (b->o->allow_partial)
			qbk_warn("collection '%s' has shards without an "
			    "active replica: no point sample recorded", name);
		mc->points_count = 0;
		for (i = 0; i < mcl->n_shards; i++)
			mc->points_count += mcl->shards[i].points_count;
		rc = 0;
		goto out;
	}
	if (qbk_backup_begin_fingerprint(b->q, b->o, name, &b->fps[ci], err) !=
	    0)
		goto out;
	b->fp_begun[ci] = 1;
	rc = 0;
out:
	free(usable);
	free(pick);
	qbk_cluster_layout_free(l);
	qbk_qdrant_collection_free(info);
	return rc;
}

static int
has_missing(const struct qbk_manifest *m, const char *coll)
{
	size_t i;

	for (i = 0; i < m->n_missing; i++)
		if (strcmp(m->missing[i].collection, coll) == 0)
			return 1;
	return 0;
}

static unsigned
cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

/* Back up the chosen collections of a distributed deployment into ${m}. */
int
qbk_backup_cluster(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, struct qbk_manifest *m, char **names,
    const struct qbk_qdrant_alias *aliases, size_t naliases,
    struct qbk_err *err)
{
	struct cbackup b;
	struct qbk_cluster *cl = NULL;
	struct qbk_buf missing = QBK_BUF_INIT;
	uint64_t *order = NULL, *node_of = NULL;
	size_t norder = 0, i, k;
	unsigned par, w;
	int64_t t0 = qbk_clock_ms();
	int rc = -1;

	memset(&b, 0, sizeof(b));
	if (qbk_cluster_discover(q, o->nodes, o->nnodes, &cl, err) != 0)
		return -1;
	pthread_mutex_init(&b.mu, NULL);
	b.repo = repo;
	b.q = q;
	b.o = o;
	b.cl = cl;
	order = qbk_xcalloc(o->nnodes + 1, sizeof(*order));
	for (k = 0; k < o->nnodes; k++)
		for (i = 0; i < cl->npeers; i++)
			if (strcmp(cl->peers[i].url, o->nodes[k]) == 0)
				order[norder++] = cl->peers[i].id;
	for (i = 0; i < cl->npeers; i++) {
		if (cl->peers[i].reachable && cl->peers[i].id != cl->self)
			qbk_manifest_add_source(m, cl->peers[i].url);
		if (!cl->peers[i].reachable) {
			qbk_warn("peer %llu (%s) cannot be reached at '%s': "
			    "%s", (unsigned long long)cl->peers[i].id,
			    cl->peers[i].uri, cl->peers[i].url,
			    cl->peers[i].error != NULL ? cl->peers[i].error :
			    "unknown");
			qbk_manifest_add_unreachable(m, cl->peers[i].id,
			    cl->peers[i].url, cl->peers[i].error);
		}
	}
	for (i = 0; names[i] != NULL; i++) {
		if (o->ncollections > 0 && !qbk_backup_wanted(o, names[i]))
			continue;
		if (cluster_collection(&b, m, names[i], aliases, naliases,
		    order, norder, &missing, err) != 0) {
			qbk_err_prefix(err, "cannot back up collection '%s'",
			    names[i]);
			goto out;
		}
		qbk_backup_report_progress(o, QBK_BACKUP_EV_START, names[i], 0,
		    -1, 0, 0);
	}
	if (missing.len > 0) {
		qbk_err_set(err, QBK_E_QDRANT, "%s", missing.buf);
		qbk_err_hint(err, "bring the nodes holding them back (or give "
		    "every node's REST URL in [qdrant] nodes if a peer's "
		    "address is wrong), or back up the rest with "
		    "--allow-partial");
		goto out;
	}

	/* One stream per node at a time, on at most ${par} nodes; each
	 * stream gets its share of the chunk workers, so that memory stays
	 * that of about one stream per node. */
	par = o->node_parallelism > 0 ? o->node_parallelism :
	    (unsigned)(cl->npeers < 4 ? cl->npeers : 4);
	if (par == 0)
		par = 1;
	b.so = *o;
	w = o->workers > 0 ? o->workers : cpu_count();
	b.so.workers = w / par > 0 ? w / par : 1;
	node_of = qbk_xcalloc(b.njobs + 1, sizeof(*node_of));
	for (i = 0; i < b.njobs; i++)
		node_of[i] = b.jobs[i].peer;
	if (qbk_cluster_run(b.njobs, node_of, par, cluster_job, &b, o->cancel,
	    err) != 0)
		goto out;
	for (i = 0; i < m->n_collections; i++) {
		struct qbk_manifest_collection *mc = m->collections[i];
		uint64_t bytes = 0, bnew = 0;

		if (b.fp_begun[i] && !has_missing(m, mc->name) &&
		    qbk_backup_record_fingerprint(q, o, mc, &b.fps[i],
		    err) != 0)
			goto out;
		for (k = 0; k < mc->n_snapshots; k++) {
			bytes += mc->snapshots[k]->bytes;
			bnew += mc->snapshots[k]->bytes_new;
		}
		qbk_backup_report_progress(o, QBK_BACKUP_EV_DONE, mc->name,
		    bytes, -1, bnew, (uint64_t)(qbk_clock_ms() - t0));
	}
	qbk_manifest_compute_totals(m);
	rc = 0;
out:
	qbk_buf_release(&missing);
	free(order);
	free(node_of);
	free(b.jobs);
	for (i = 0; b.fps != NULL && i < m->n_collections; i++)
		qbk_points_fp_release(&b.fps[i]);
	free(b.fps);
	free(b.fp_begun);
	pthread_mutex_destroy(&b.mu);
	qbk_cluster_free(cl);
	return rc;
}
