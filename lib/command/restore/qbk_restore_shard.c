#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "command/restore/qbk_restore_internal.h"
#include "common/qbk.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "qdrant/qbk_cluster.h"

/* ---- shard by shard: distributed targets and --shard ------------------ */

struct rjob {
	const struct qbk_manifest_snapshot *s;
	uint32_t shard;		/* shard id in the target */
	uint64_t peer;		/* 0: the node of r->q */
	uint64_t base;		/* progress: bytes of the snapshots before */
};

struct rshards {
	struct run *r;
	struct plan *p;
	struct rjob *jobs;
	size_t njobs;
	struct qbk_restore_item *it;
};

static int
shard_job(void *cookie, size_t i, struct qbk_err *err)
{
	struct rshards *rs = cookie;
	struct run *r = rs->r;
	struct rjob *j = &rs->jobs[i];
	struct qbk_qdrant *pq = NULL;
	int rc;

	if (j->peer != 0 &&
	    qbk_cluster_connect(r->cl, r->q, j->peer, &pq, err) != 0)
		return -1;
	qbk_detail("shard %lld of '%s' to shard %u on %s",
	    (long long)j->s->shard_id, rs->p->target, j->shard,
	    pq != NULL ? qbk_qdrant_url(pq) : r->url);
	rc = qbk_restore_restore_snapshot(r, pq != NULL ? pq : r->q, rs->p,
	    j->s, (long)j->shard, j->base, rs->it, err);
	if (rc != 0) {
		if ((int64_t)j->shard != j->s->shard_id)
			qbk_err_prefix(err, "shard %lld (now %u) to '%s'",
			    (long long)j->s->shard_id, j->shard, pq != NULL ?
			    qbk_qdrant_url(pq) : r->url);
		else
			qbk_err_prefix(err, "shard %lld to '%s'",
			    (long long)j->s->shard_id, pq != NULL ?
			    qbk_qdrant_url(pq) : r->url);
	}
	qbk_qdrant_free(pq);
	return rc;
}

/* "shard 0: peer 1 Active, peer 2 Dead; ..." for the replicas that are not
 * Active (all if ${all}); returns how many are not Active. */
static size_t
replica_states(const struct qbk_cluster_layout *l, int all,
    struct qbk_buf *out)
{
	size_t i, k, bad = 0;

	for (i = 0; i < l->nshards; i++)
		for (k = 0; k < l->shards[i].nreplicas; k++) {
			const struct qbk_cluster_replica *x =
			    &l->shards[i].replicas[k];

			if (!qbk_cluster_replica_active(x))
				bad++;
			else if (!all)
				continue;
			qbk_buf_addf(out, "%sshard %u on peer %llu: %s",
			    out->len > 0 ? ", " : "", l->shards[i].id,
			    (unsigned long long)x->peer_id, x->state);
		}
	return bad;
}

/* Note that not every replica of a restored collection is Active: a
 * warning with allow_inactive, else a failure of the run once every
 * collection is restored (qbk_restore_run()). */
static void inactive(struct run *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
inactive(struct run *r, const char *fmt, ...)
{
	struct qbk_buf b = QBK_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	qbk_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (r->o->allow_inactive)
		qbk_restore_warning(r->rep, "%s", b.buf);
	else
		qbk_buf_addf(&r->inactive, "%s%s", r->inactive.len > 0 ?
		    "; " : "", b.buf);
	qbk_buf_release(&b);
}

/* Wait until every replica of ${target} is Active and no transfer runs
 * (replica_timeout_ms); say which are not, as inactive(). */
static void
wait_replicas(struct run *r, const char *target)
{
	int64_t limit = r->o->replica_timeout_ms == 0 ? 120000 :
	    r->o->replica_timeout_ms;
	int64_t t0 = qbk_clock_ms();
	struct qbk_buf b = QBK_BUF_INIT;

	if (limit < 0)
		return;
	for (;;) {
		struct qbk_cluster_layout *l = NULL;
		struct qbk_err e = QBK_ERR_INIT;
		size_t bad;

		if (qbk_cluster_layout(r->cl, r->cq, target, &l, &e) != 0) {
			inactive(r, "cannot check the replicas of '%s': %s",
			    target, e.msg);
			break;
		}
		qbk_buf_reset(&b);
		bad = replica_states(l, 0, &b);
		if (bad == 0 && l->ntransfers == 0) {
			qbk_info("every replica of '%s' is active (%.1f s)",
			    target, (double)(qbk_clock_ms() - t0) / 1000.0);
			qbk_cluster_layout_free(l);
			break;
		}
		if (qbk_clock_ms() - t0 >= limit ||
		    (r->o->cancel != NULL && *r->o->cancel != 0)) {
			inactive(r, "not every replica of '%s' is active "
			    "after %.0f s (%zu shard transfer%s running): %s",
			    target, (double)(qbk_clock_ms() - t0) / 1000.0,
			    l->ntransfers, l->ntransfers == 1 ? "" : "s",
			    b.len > 0 ? b.buf : "all active");
			qbk_cluster_layout_free(l);
			break;
		}
		qbk_cluster_layout_free(l);
		nanosleep(&(struct timespec){ 0, 200 * 1000 * 1000 }, NULL);
	}
	qbk_buf_release(&b);
}

/* The priorities that do not make the backup's data win where a shard
 * has other Active replicas in the existing collection: "replica" (Qdrant
 * re-syncs the restored replica from them: the cluster's data stays) and
 * "no_sync" (they keep their data: the replicas diverge).  Refused for
 * --shard without force (nothing else asks for force there), a warning
 * otherwise. */
static int
check_priority(struct run *r, struct plan *p, const struct rshards *rs,
    const struct qbk_cluster_layout *l, struct qbk_err *err)
{
	enum qbk_qdrant_priority prio = r->prio_set ? r->prio :
	    r->o->priority;
	struct qbk_buf b = QBK_BUF_INIT;
	size_t i, k, j, n;
	int rc = 0;

	if (prio != QBK_QDRANT_PRIORITY_REPLICA &&
	    prio != QBK_QDRANT_PRIORITY_NO_SYNC)
		return 0;
	for (k = 0; k < rs->njobs; k++) {
		struct qbk_buf peers = QBK_BUF_INIT;

		for (i = 0; i < l->nshards && l->shards[i].id !=
		    rs->jobs[k].shard; i++)
			;
		for (n = 0, j = 0; i < l->nshards &&
		    j < l->shards[i].nreplicas; j++) {
			const struct qbk_cluster_replica *x =
			    &l->shards[i].replicas[j];

			if (x->peer_id == rs->jobs[k].peer ||
			    !qbk_cluster_replica_active(x))
				continue;
			qbk_buf_addf(&peers, "%s%llu", n++ > 0 ? ", " : "",
			    (unsigned long long)x->peer_id);
		}
		if (n > 0)
			qbk_buf_addf(&b, "%sshard %u on peer%s %s", b.len > 0 ?
			    "; " : "", rs->jobs[k].shard, n == 1 ? "" : "s",
			    peers.buf);
		qbk_buf_release(&peers);
	}
	if (b.len == 0)
		goto out;
	if (prio == QBK_QDRANT_PRIORITY_REPLICA) {
		if (r->o->one_shard && !r->o->force) {
			qbk_err_set(err, QBK_E_USAGE, "priority 'replica' "
			    "keeps the cluster's data of '%s': Qdrant re-syncs "
			    "the restored replica from the other Active "
			    "replicas (%s), so the shard does not get the "
			    "backup's data", p->target, b.buf);
			qbk_err_hint(err, "use --priority snapshot to make the "
			    "backup win, or add --force to seed the replica "
			    "with 'replica' anyway");
			rc = -1;
		} else
			qbk_restore_warning(r->rep,
			    "priority 'replica': Qdrant re-syncs "
			    "the restored replicas of '%s' from the other "
			    "Active replicas (%s): those shards keep the "
			    "cluster's data, not the backup's",
			    p->target, b.buf);
	} else {
		if (r->o->one_shard && !r->o->force) {
			qbk_err_set(err, QBK_E_USAGE, "priority 'no_sync' "
			    "leaves the other Active replicas of '%s' (%s) as "
			    "they are: they would diverge from the restored "
			    "one", p->target, b.buf);
			qbk_err_hint(err, "use --priority snapshot to re-sync "
			    "them from the backup, or add --force to restore "
			    "with 'no_sync' anyway");
			rc = -1;
		} else
			qbk_restore_warning(r->rep,
			    "priority 'no_sync': the other Active "
			    "replicas of '%s' (%s) keep their data and may "
			    "diverge from the restored ones (qbk-verify --live "
			    "compares them)",
			    p->target, b.buf);
	}
out:
	qbk_buf_release(&b);
	return rc;
}

/* The CreateCollection body of ${p}, with replication_factor clamped to
 * the peers of the target. */
static json_t *
sharded_body(struct run *r, struct plan *p, struct qbk_err *err)
{
	json_t *body = qbk_qdrant_create_body(p->mc->config), *params;
	json_int_t rf;

	if (body == NULL) {
		qbk_err_set(err, QBK_E_INTEGRITY, "backup '%s' does not record "
		    "the vectors of collection '%s'", r->m->backup_id, p->name);
		return NULL;
	}
	params = json_object_get(body, "params");
	if (params == NULL)
		params = body;
	rf = json_integer_value(json_object_get(params,
	    "replication_factor"));
	if (r->cl->enabled && rf > (json_int_t)r->cl->npeers) {
		qbk_restore_warning(r->rep,
		    "collection '%s' had replication factor %lld; "
		    "the target has %zu peers: creating '%s' with %zu",
		    p->name, (long long)rf, r->cl->npeers, p->target,
		    r->cl->npeers);
		json_object_set_new(params, "replication_factor",
		    json_integer((json_int_t)r->cl->npeers));
	}
	return body;
}

/* Re-create the payload indexes the backup recorded (a cluster backup
 * beside its layout, a single node's with the collection). */
int
qbk_restore_create_indexes(struct run *r, struct plan *p, struct qbk_err *err)
{
	const json_t *ps = p->mc->cluster != NULL ?
	    p->mc->cluster->payload_schema : p->mc->payload_schema;
	const char *field;
	json_t *schema;

	json_object_foreach((json_t *)(uintptr_t)ps, field, schema) {
		if (qbk_qdrant_index_create(r->q, p->target, field, schema,
		    err) != 0)
			return -1;
		qbk_detail("payload index '%s' of '%s' created", field,
		    p->target);
	}
	return 0;
}

/* Custom sharding: create the shard keys of the backup of ${p} that the
 * target lacks, each with as many shards as the backup records for it
 * and as many replicas as its shards had (clamped to the peers). */
static int
create_shard_keys(struct run *r, struct plan *p, struct qbk_err *err)
{
	const struct qbk_manifest_cluster *mcl = p->mc->cluster;
	struct qbk_qdrant_shard_key sk;
	char **have = NULL, **h;
	size_t i, k, npeers = r->cl->enabled ? r->cl->npeers : 1;
	int rc = -1;

	if (mcl == NULL)
		return qbk_err_set(err, QBK_E_INTEGRITY, "backup '%s' does not "
		    "record the shard keys of the custom-sharded collection "
		    "'%s'", r->m->backup_id, p->name);
	if (qbk_qdrant_shard_keys(r->q, p->target, &have, err) != 0)
		return -1;
	for (i = 0; i < mcl->n_shards; i++) {
		const char *key = mcl->shards[i].shard_key;
		uint32_t count = 0;
		size_t rf = 0;

		if (key == NULL) {
			qbk_err_set(err, QBK_E_INTEGRITY, "backup '%s' records "
			    "shard %lld of the custom-sharded collection '%s' "
			    "without a shard key", r->m->backup_id,
			    (long long)mcl->shards[i].shard_id, p->name);
			goto out;
		}
		for (k = 0; k < i; k++)
			if (strcmp(mcl->shards[k].shard_key, key) == 0)
				break;
		for (h = have; k == i && *h != NULL; h++)
			if (strcmp(*h, key) == 0)
				break;
		if (k < i || *h != NULL)
			continue;	/* done, or there already */
		for (k = i; k < mcl->n_shards; k++)
			if (mcl->shards[k].shard_key != NULL &&
			    strcmp(mcl->shards[k].shard_key, key) == 0) {
				count++;
				if (mcl->shards[k].n_replicas > rf)
					rf = mcl->shards[k].n_replicas;
			}
		if (rf > npeers) {
			qbk_restore_warning(r->rep,
			    "shard key %s of '%s' had %zu replicas "
			    "of each shard; the target has %zu peer%s: "
			    "creating it with %zu",
			    key, p->name, rf, npeers, npeers == 1 ? "" : "s",
			    npeers);
			rf = npeers;
		}
		memset(&sk, 0, sizeof(sk));
		sk.key = key;
		sk.shards_number = count;
		sk.replication_factor = rf > 0 ? (uint32_t)rf : 1;
		if (qbk_qdrant_shard_key_create(r->q, p->target, &sk, err) !=
		    0)
			goto out;
		qbk_detail("shard key %s of '%s' created: %u shard%s, %u "
		    "replica%s each", key, p->target, count, count == 1 ? "" :
		    "s", sk.replication_factor, sk.replication_factor == 1 ?
		    "" : "s");
	}
	rc = 0;
out:
	qbk_qdrant_strv_free(have);
	return rc;
}

/* After a failed recovery over the live collection ${p->target}: say what
 * state Qdrant left it in (a replica whose load failed is Dead and empty,
 * others may be stuck in ManualRecovery) and how to get its data back. */
void
qbk_restore_describe_failed(
    struct run *r, const struct plan *p, struct qbk_err *err)
{
	struct qbk_qdrant_coll_cluster *cl = NULL;
	struct qbk_err e = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	size_t i, bad = 0;

	if (qbk_qdrant_collection_cluster(r->cq, p->target, &cl, &e) != 0)
		qbk_buf_addf(&b, "its state is unknown (%s)", e.msg);
	else {
		for (i = 0; i < cl->nlocal; i++) {
			if (strcmp(cl->local[i].state, "Active") == 0)
				continue;
			qbk_buf_addf(&b, "%sshard %u %s%s", bad++ ? ", " : "",
			    cl->local[i].shard_id, cl->local[i].state,
			    strcmp(cl->local[i].state, "Dead") == 0 ?
			    " (its data was cleared)" : "");
		}
		if (bad == 0)
			qbk_buf_addstr(&b, "every replica of it on this node is "
			    "Active");
	}
	qbk_restore_warning(r->rep,
	    "collection '%s' on '%s' after the failed recovery: "
	    "%s",
	    p->target, r->url, b.buf);
	if (r->rep->safety_backup_id[0] != '\0')
		qbk_err_hint(err, "its data from before the restore is in "
		    "safety backup %s: qbk-restore --backup %s --collection "
		    "%s --force brings it back", r->rep->safety_backup_id,
		    r->rep->safety_backup_id, p->target);
	qbk_buf_release(&b);
	qbk_qdrant_coll_cluster_free(cl);
}

/* Which shard of the target each job's shard goes to: the same id, or
 * for custom sharding the shard of the same rank under the same key. */
static int
map_jobs(struct plan *p, struct rshards *rs,
    const struct qbk_cluster_layout *l, struct qbk_err *err)
{
	struct qbk_cluster_keyed *from, *to;
	int64_t *map;
	size_t nfrom, i, k;
	int rc = 0;

	from = qbk_restore_backup_shards(p, &nfrom);
	to = qbk_restore_layout_shards(l);
	map = qbk_xcalloc(nfrom + 1, sizeof(*map));
	qbk_cluster_map_shards(from, nfrom, to, l->nshards, map);
	for (k = 0; k < rs->njobs && rc == 0; k++) {
		int64_t id = rs->jobs[k].s->shard_id;

		for (i = 0; i < nfrom && (int64_t)from[i].id != id; i++)
			;
		if (i < nfrom && map[i] >= 0) {
			rs->jobs[k].shard = (uint32_t)map[i];
			continue;
		}
		if (i < nfrom && from[i].key != NULL)
			qbk_err_set(err, QBK_E_QDRANT, "'%s' has no shard for "
			    "shard %lld (shard key %s) of the backup",
			    p->target, (long long)id, from[i].key);
		else
			qbk_err_set(err, QBK_E_QDRANT, "'%s' has no shard %lld",
			    p->target, (long long)id);
		rc = -1;
	}
	free(map);
	free(from);
	free(to);
	return rc;
}

/*
 * After a restore: does ${p}'s target hold as many points as the backup
 * recorded?  Qdrant can answer a recovery with success and still hold
 * none of the data (a collection snapshot of a custom-sharded collection
 * recovered into a new collection gets no shards), so the exact count
 * decides, not the answer.  Not checked where the backup cannot be the
 * whole story: shards the backup has no data of, or an existing
 * collection on a cluster restored with a priority under which the
 * cluster's data may win.  The count is qbk_qdrant_count()'s.
 */
int
qbk_restore_check_count(
    struct run *r, struct plan *p, int existed, struct qbk_err *err)
{
	const struct qbk_manifest_collection *mc = p->mc;
	enum qbk_qdrant_priority prio = r->prio_set ? r->prio :
	    r->o->priority;
	uint64_t n, lo, hi;
	size_t k;

	if (existed && r->cl != NULL && r->cl->enabled &&
	    (prio == QBK_QDRANT_PRIORITY_REPLICA ||
	    prio == QBK_QDRANT_PRIORITY_NO_SYNC))
		return 0;
	for (k = 0; k < r->m->n_missing; k++)
		if (strcmp(r->m->missing[k].collection, p->name) == 0)
			return 0;
	lo = hi = mc->points_count;
	if (mc->has_count_after) {
		if (mc->points_count_after < lo)
			lo = mc->points_count_after;
		else
			hi = mc->points_count_after;
	}
	if (qbk_qdrant_count(r->q, p->target, NULL, &n, err) != 0)
		return -1;
	if (n >= lo && n <= hi)
		return 0;
	if (lo == hi)
		qbk_err_set(err, QBK_E_INTEGRITY, "collection '%s' holds %llu "
		    "points after the restore, backup '%s' recorded %llu",
		    p->target, (unsigned long long)n, r->m->backup_id,
		    (unsigned long long)lo);
	else
		qbk_err_set(err, QBK_E_INTEGRITY, "collection '%s' holds %llu "
		    "points after the restore, backup '%s' recorded %llu to "
		    "%llu", p->target, (unsigned long long)n, r->m->backup_id,
		    (unsigned long long)lo, (unsigned long long)hi);
	qbk_err_hint(err, "Qdrant accepted the snapshots without holding "
	    "their points, or something wrote into the collection during the "
	    "restore; the backup itself is unchanged");
	return -1;
}

/* Check that the existing target of ${p} can take the backup's shards:
 * replace it when it cannot, or refuse for --shard. */
static int
check_existing(struct run *r, struct plan *p, struct qbk_err *err)
{
	int c;

	if ((c = qbk_restore_compatible(r, p, err)) < 0)
		return -1;
	if (c != 0)
		return 0;
	if (!r->o->one_shard)
		return qbk_restore_replace_incompatible(r, p, err);
	return qbk_err_set(err, QBK_E_USAGE, "collection '%s' has other "
	    "vectors, another shard count or another sharding than the "
	    "backup of '%s': cannot restore one shard into it", p->target,
	    p->name);
}

/* One job per shard snapshot of ${p} to restore (--shard: the one). */
static int
add_jobs(struct run *r, struct plan *p, struct rshards *rs,
    struct qbk_err *err)
{
	const struct qbk_manifest_collection *mc = p->mc;
	uint64_t base = 0;
	size_t k;

	for (k = 0; k < mc->n_snapshots; k++) {
		const struct qbk_manifest_snapshot *s = mc->snapshots[k];

		if (r->o->one_shard && s->shard_id != (int64_t)r->o->shard) {
			base += s->size;
			continue;
		}
		rs->jobs = qbk_xrealloc(rs->jobs, (rs->njobs + 1) *
		    sizeof(*rs->jobs));
		rs->jobs[rs->njobs].s = s;
		rs->jobs[rs->njobs].shard = (uint32_t)s->shard_id;
		rs->jobs[rs->njobs].peer = 0;
		rs->jobs[rs->njobs++].base = base;
		base += s->size;
	}
	if (rs->njobs > 0)
		return 0;
	if (r->o->one_shard)
		return qbk_err_set(err, QBK_E_USAGE, "backup '%s' holds no "
		    "snapshot of shard %u of collection '%s'",
		    r->m->backup_id, r->o->shard, p->name);
	return qbk_err_set(err, QBK_E_INTEGRITY, "backup '%s' holds no "
	    "snapshot of collection '%s'", r->m->backup_id, p->name);
}

/* The other replicas of a new collection are Active and empty: with
 * "replica" they would win, with "no_sync" they would stay empty. */
static void
fit_priority(struct run *r, struct plan *p)
{
	if (!r->cl->enabled ||
	    r->o->priority == QBK_QDRANT_PRIORITY_DEFAULT ||
	    r->o->priority == QBK_QDRANT_PRIORITY_SNAPSHOT)
		return;
	qbk_restore_warning(r->rep,
	    "priority '%s' does not fit a new collection, "
	    "whose other replicas are empty: restoring '%s' with "
	    "priority 'snapshot'",
	    r->o->priority == QBK_QDRANT_PRIORITY_REPLICA ? "replica" :
	    "no_sync",
	    p->target);
	r->prio_set = 1;
	r->prio = QBK_QDRANT_PRIORITY_SNAPSHOT;
}

/* Create the target of ${p} with the backup's shards: 0, -1 when it was
 * not created, -2 when it was (and must be undone). */
static int
create_target(struct run *r, struct plan *p, struct qbk_err *err)
{
	json_t *body;
	int c;

	fit_priority(r, p);
	if ((body = sharded_body(r, p, err)) == NULL)
		return -1;
	c = qbk_qdrant_collection_create(r->q, p->target, body, err);
	qbk_json_decref(body);
	if (c != 0) {
		qbk_err_prefix(err, "cannot create collection '%s'", p->target);
		return -1;
	}
	if (qbk_restore_create_indexes(r, p, err) != 0)
		return -2;
	return 0;
}

/* On which node each job runs: one holding a replica of its shard in
 * ${l}, reachable, spread, in the order of the configured nodes. */
static int
place_jobs(struct run *r, struct plan *p, struct rshards *rs,
    const struct qbk_cluster_layout *l, struct qbk_err *err)
{
	uint64_t *pick, *usable, *order;
	size_t nusable = 0, norder = 0, i, k;
	int rc = 0;

	usable = qbk_xcalloc(r->cl->npeers + 1, sizeof(*usable));
	for (i = 0; i < r->cl->npeers; i++)
		if (r->cl->peers[i].reachable)
			usable[nusable++] = r->cl->peers[i].id;
	order = qbk_xcalloc(r->o->nnodes + 1, sizeof(*order));
	for (k = 0; k < r->o->nnodes; k++)
		for (i = 0; i < r->cl->npeers; i++)
			if (strcmp(r->cl->peers[i].url, r->o->nodes[k]) == 0)
				order[norder++] = r->cl->peers[i].id;
	pick = qbk_xcalloc(l->nshards + 1, sizeof(*pick));
	qbk_cluster_pick(l, 1, usable, nusable, order, norder, pick);
	for (k = 0; k < rs->njobs; k++) {
		for (i = 0; i < l->nshards; i++)
			if (l->shards[i].id == rs->jobs[k].shard)
				break;
		if (i == l->nshards || pick[i] == 0) {
			rc = qbk_err_set(err, QBK_E_QDRANT, "no reachable "
			    "node holds a replica of shard %u of '%s'",
			    rs->jobs[k].shard, p->target);
			break;
		}
		rs->jobs[k].peer = pick[i];
	}
	free(pick);
	free(order);
	free(usable);
	return rc;
}

/* Run the jobs of ${rs}, on several nodes at once. */
static int
run_jobs(struct run *r, struct rshards *rs, struct qbk_err *err)
{
	uint64_t *node_of;
	unsigned par;
	size_t k;
	int c;

	node_of = qbk_xcalloc(rs->njobs + 1, sizeof(*node_of));
	for (k = 0; k < rs->njobs; k++)
		node_of[k] = rs->jobs[k].peer;
	par = r->o->node_parallelism > 0 ? r->o->node_parallelism :
	    (unsigned)(r->cl->npeers < 4 ? r->cl->npeers : 4);
	r->threaded = 1;
	c = qbk_cluster_run(rs->njobs, node_of, par, shard_job, rs,
	    r->o->cancel, err);
	r->threaded = 0;
	free(node_of);
	return c;
}

int
qbk_restore_restore_sharded(struct run *r, struct plan *p, struct qbk_err *err)
{
	struct rshards rs;
	struct qbk_cluster_layout *l = NULL;
	int64_t t0 = qbk_clock_ms();
	int existed, c, custom = qbk_restore_is_custom(p), rc = -1;

	memset(&rs, 0, sizeof(rs));
	rs.r = r;
	rs.p = p;
	if (p->exists && check_existing(r, p, err) != 0)
		return -1;
	existed = p->exists;
	if (add_jobs(r, p, &rs, err) != 0)
		goto out;
	qbk_restore_progress(
	    r->o, QBK_RESTORE_EV_START, p->name, p->target, 0, p->total, 0);
	if (!existed && (c = create_target(r, p, err)) != 0) {
		if (c == -2)
			goto fail;
		goto out;
	}
	if (custom && create_shard_keys(r, p, err) != 0)
		goto fail;

	/* Which shard each snapshot goes into (custom sharding: where its
	 * key's shards are now), and on which node: one holding a replica
	 * of it, spread. */
	if (custom || r->cl->enabled) {
		if (qbk_cluster_layout(r->cl, r->q, p->target, &l, err) != 0 ||
		    (custom && map_jobs(p, &rs, l, err) != 0))
			goto fail;
	}
	if (r->cl->enabled) {
		if (place_jobs(r, p, &rs, l, err) != 0)
			goto fail;
		if (existed && check_priority(r, p, &rs, l, err) != 0)
			goto fail;
	}
	/* --shard recovers over a live shard: save the collection first
	 * (after the checks above, which refuse without changing anything). */
	if (r->o->one_shard && qbk_restore_safety_backup(r, p, 1, err) != 0)
		goto out;
	rs.it = qbk_restore_add_item(r->rep, p->name, p->target);
	rs.it->replaced = p->replaced;
	if (run_jobs(r, &rs, err) != 0) {
		qbk_restore_drop_item(r->rep);
		goto fail;
	}
	if (r->cl->enabled)
		wait_replicas(r, p->target);
	/* An existing collection keeps its own payload indexes. */
	if (existed && qbk_restore_create_indexes(r, p, err) != 0) {
		qbk_restore_drop_item(r->rep);
		goto fail;
	}
	qbk_restore_wake_optimizers(r, p->target);
	if (!r->o->one_shard &&
	    qbk_restore_check_count(r, p, existed, err) != 0) {
		qbk_restore_drop_item(r->rep);
		goto fail;
	}
	rs.it->duration_ms = (uint64_t)(qbk_clock_ms() - t0);
	p->done = 1;
	qbk_restore_progress(r->o, QBK_RESTORE_EV_DONE, p->name, p->target,
	    rs.it->bytes, p->total, rs.it->duration_ms);
	qbk_info("restored %s of collection '%s'%s%s: %llu bytes in %.1f s",
	    r->o->one_shard ? "one shard" : "every shard", p->name,
	    strcmp(p->name, p->target) != 0 ? " as " : "",
	    strcmp(p->name, p->target) != 0 ? p->target : "",
	    (unsigned long long)rs.it->bytes,
	    (double)rs.it->duration_ms / 1000.0);
	rc = 0;
	goto out;
fail:
	if (!existed)
		qbk_restore_undo_create(r, p->target);
	qbk_err_prefix(err, "cannot restore collection '%s' of backup '%s'%s%s",
	    p->name, r->m->backup_id, strcmp(p->name, p->target) != 0 ?
	    " as " : "", strcmp(p->name, p->target) != 0 ? p->target : "");
	if (existed)
		qbk_restore_describe_failed(r, p, err);
out:
	qbk_cluster_layout_free(l);
	free(rs.jobs);
	r->prio_set = 0;
	return rc;
}
