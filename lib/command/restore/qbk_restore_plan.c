#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "command/restore/qbk_restore_internal.h"
#include "common/qbk_err.h"
#include "common/qbk_json.h"
#include "qdrant/qbk_cluster.h"
#include "stream/qbk_extract.h"

static int
json_uint(const json_t *v, const char *path, uint64_t dflt)
{
	json_int_t n;
	json_t *x = qbk_json_path(v, path);

	if (x == NULL || !json_is_integer(x))
		return (int)dflt;
	n = json_integer_value(x);
	return n < 0 || n > 65536 ? (int)dflt : (int)n;
}

/* The sharding method of a config ("auto" when not given). */
static const char *
sharding_method(const json_t *config)
{
	const char *m = qbk_json_str(config, "params.sharding_method");

	return m != NULL ? m : "auto";
}

/* Was the collection of ${p} sharded by shard keys? */
int
qbk_restore_is_custom(const struct plan *p)
{
	const struct qbk_manifest_cluster *cl = p->mc->cluster;

	if (cl != NULL && cl->sharding_method != NULL)
		return strcmp(cl->sharding_method, "custom") == 0;
	return strcmp(sharding_method(p->mc->config), "custom") == 0;
}

/* How many shards key ${key} has in the shard list ${v}. */
static size_t
key_shards(const struct qbk_cluster_keyed *v, size_t n, const char *key)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (v[i].key != NULL && strcmp(v[i].key, key) == 0)
			c++;
	return c;
}

/* The shards the backup of ${p} records, with their keys (borrowed from
 * the manifest): the cluster layout, or the shard snapshots of a single
 * node's backup.  Caller frees the array. */
struct qbk_cluster_keyed *
qbk_restore_backup_shards(const struct plan *p, size_t *n)
{
	const struct qbk_manifest_cluster *cl = p->mc->cluster;
	struct qbk_cluster_keyed *v;
	size_t i;

	*n = 0;
	if (cl != NULL) {
		v = qbk_xcalloc(cl->n_shards + 1, sizeof(*v));
		for (i = 0; i < cl->n_shards; i++) {
			v[i].id = (uint32_t)cl->shards[i].shard_id;
			v[i].key = cl->shards[i].shard_key;
		}
		*n = cl->n_shards;
		return v;
	}
	v = qbk_xcalloc(p->mc->n_snapshots + 1, sizeof(*v));
	for (i = 0; i < p->mc->n_snapshots; i++)
		if (p->mc->snapshots[i]->kind == QBK_MANIFEST_SNAP_SHARD)
			v[(*n)++].id = (uint32_t)p->mc->snapshots[i]->shard_id;
	return v;
}

/* The shards of a layout with their keys (borrowed from ${l}). */
struct qbk_cluster_keyed *
qbk_restore_layout_shards(const struct qbk_cluster_layout *l)
{
	struct qbk_cluster_keyed *v = qbk_xcalloc(l->nshards + 1,
	    sizeof(*v));
	size_t i;

	for (i = 0; i < l->nshards; i++) {
		v[i].id = l->shards[i].id;
		v[i].key = l->shards[i].shard_key;
	}
	return v;
}

/* Can the backup of ${p} be recovered over the existing collection (same
 * vectors, shard count and sharding method, as Qdrant requires, and for
 * custom sharding the same number of shards under every shard key both
 * have)? */
int
qbk_restore_compatible(struct run *r, struct plan *p, struct qbk_err *err)
{
	struct qbk_qdrant_collection *info = NULL;
	struct qbk_cluster_layout *l = NULL;
	struct qbk_cluster_keyed *from = NULL, *to = NULL;
	size_t nfrom, i;
	int ok;

	if (p->mc == NULL)
		return 1;	/* full member: Qdrant checks */
	if (qbk_qdrant_collection_info(r->q, p->target, &info, err) != 0)
		return -1;
	ok = info->vectors != NULL && p->mc->vectors != NULL &&
	    json_equal(info->vectors, p->mc->vectors) &&
	    (int)info->shard_number ==
		json_uint(p->mc->config, "params.shard_number", 1) &&
	    strcmp(sharding_method(info->config),
		qbk_restore_is_custom(p) ? "custom" : "auto") == 0;
	qbk_qdrant_collection_free(info);
	if (!ok || !qbk_restore_is_custom(p))
		return ok;
	if (qbk_cluster_layout(r->cl, r->q, p->target, &l, err) != 0)
		return -1;
	from = qbk_restore_backup_shards(p, &nfrom);
	to = qbk_restore_layout_shards(l);
	for (i = 0; ok && i < nfrom; i++)
		if (from[i].key != NULL &&
		    key_shards(to, l->nshards, from[i].key) > 0 &&
		    key_shards(to, l->nshards, from[i].key) !=
		    key_shards(from, nfrom, from[i].key))
			ok = 0;
	free(from);
	free(to);
	qbk_cluster_layout_free(l);
	return ok;
}

static int
discard(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	(void)cookie;
	(void)data;
	(void)len;
	(void)err;
	return 0;
}

/* Make way for a collection whose backup does not fit the existing one:
 * read the whole backup of it first (a damaged chunk must not cost the
 * existing collection), keep its aliases, delete it. */
int
qbk_restore_replace_incompatible(
    struct run *r, struct plan *p, struct qbk_err *err)
{
	struct qbk_extract_opts eo;
	size_t k;

	qbk_restore_extract_opts(r, p->name, &eo);
	for (k = 0; k < p->mc->n_snapshots; k++)
		if (qbk_extract_run(r->repo, p->mc->snapshots[k], discard, NULL,
		    &eo, err) != 0) {
			qbk_err_prefix(err, "collection '%s' was left as it "
			    "was", p->target);
			return -1;
		}
	qbk_restore_warning(r->rep,
	    "the backup of '%s' has other vectors or another shard "
	    "count than the existing collection '%s': deleting it and "
	    "creating it anew (safety backup %s)",
	    p->name, p->target,
	    r->rep->safety_backup_id[0] != '\0' ? r->rep->safety_backup_id :
	    "none");
	if (qbk_qdrant_aliases(r->q, p->target, &p->old_aliases,
	    &p->n_old_aliases, err) != 0 ||
	    qbk_qdrant_collection_delete(r->q, p->target, NULL, err) != 0) {
		qbk_err_prefix(err, "cannot replace collection '%s'",
		    p->target);
		return -1;
	}
	p->exists = 0;
	return 0;
}

static struct plan *
add_plan(struct plan *plans, size_t *n, const char *name,
    const struct qbk_manifest_collection *mc)
{
	plans = qbk_xrealloc(plans, (*n + 1) * sizeof(*plans));
	memset(&plans[*n], 0, sizeof(*plans));
	plans[*n].name = name;
	plans[(*n)++].mc = mc;
	return plans;
}

/* A plan for each collection chosen, with --collection or all of them, in
 * ${*plans} (${*n}; the caller frees them, also on failure). */
static int
choose_plans(const struct qbk_manifest *m, const struct qbk_restore_opts *o,
    const struct member_names *mn, struct plan **plans, size_t *n,
    struct qbk_err *err)
{
	struct qbk_buf held = QBK_BUF_INIT;
	size_t i, k;

	if (o->ncollections == 0) {
		for (i = 0; i < m->n_collections; i++)
			*plans = add_plan(*plans, n, m->collections[i]->name,
			    m->collections[i]);
		for (i = 0; i < mn->n; i++)
			*plans = add_plan(*plans, n, mn->v[i], NULL);
		return 0;
	}
	for (i = 0; i < o->ncollections; i++) {
		int found = qbk_manifest_find_collection(m,
		    o->collections[i]) != NULL;

		for (k = 0; !found && k < mn->n; k++)
			found = strcmp(mn->v[k], o->collections[i]) == 0;
		if (!found) {
			qbk_restore_held_names(m, &held);
			qbk_err_set(err, QBK_E_USAGE, "backup '%s' holds no "
			    "collection '%s'", m->backup_id,
			    o->collections[i]);
			qbk_err_hint(err, "it holds: %.200s", held.buf);
			qbk_buf_release(&held);
			return -1;
		}
		for (k = 0; k < i; k++)
			if (strcmp(o->collections[k], o->collections[i]) == 0)
				break;
		if (k < i)
			continue;
		*plans = add_plan(*plans, n, o->collections[i],
		    qbk_manifest_find_collection(m, o->collections[i]));
	}
	return 0;
}

/* The target name of ${p}, and what the backup holds for it. */
static int
fill_plan(const struct qbk_manifest *m, const struct qbk_restore_opts *o,
    struct plan *p, struct qbk_err *err)
{
	size_t k;

	if (o->as != NULL)
		p->target = o->as;
	else if (o->prefix != NULL) {
		struct qbk_buf t = QBK_BUF_INIT;

		qbk_buf_addf(&t, "%s%s", o->prefix, p->name);
		p->target = p->target_buf = qbk_buf_detach(&t, NULL);
	} else
		p->target = p->name;
	if (p->mc == NULL) {
		struct member_find f = { p->name, 0, 0, NULL };

		for (k = 0; k < m->n_snapshots; k++)
			qbk_restore_full_members(m->snapshots[k],
			    qbk_restore_find_member, &f);
		p->total = f.size;
		return 0;
	}
	if (p->mc->n_snapshots == 0)
		return qbk_err_set(err, QBK_E_INTEGRITY, "backup '%s' holds "
		    "no snapshot of collection '%s'", m->backup_id, p->name);
	p->shards = p->mc->snapshots[0]->kind == QBK_MANIFEST_SNAP_SHARD;
	for (k = 0; k < p->mc->n_snapshots; k++) {
		const struct qbk_manifest_snapshot *s = p->mc->snapshots[k];

		p->total += s->size;
		if ((s->kind == QBK_MANIFEST_SNAP_SHARD) != p->shards ||
		    (!p->shards && k > 0))
			return qbk_err_set(err, QBK_E_USAGE, "backup '%s' "
			    "holds %zu snapshots of collection '%s' taken on "
			    "several nodes: restoring those is not supported",
			    m->backup_id, p->mc->n_snapshots, p->name);
	}
	return 0;
}

/* Resolve the chosen collections into plans (without asking Qdrant). */
int
qbk_restore_make_plans(const struct qbk_manifest *m,
    const struct qbk_restore_opts *o, struct plan **out, size_t *np,
    struct member_names *mn, struct qbk_err *err)
{
	struct plan *plans = NULL;
	size_t n = 0, i;

	*out = NULL;
	*np = 0;
	memset(mn, 0, sizeof(*mn));
	qbk_buf_init(&mn->list);
	if (m->kind == QBK_MANIFEST_KIND_FULL_STORAGE)
		for (i = 0; i < m->n_snapshots; i++)
			qbk_restore_full_members(
			    m->snapshots[i], qbk_restore_collect_member, mn);
	if (choose_plans(m, o, mn, &plans, &n, err) != 0)
		goto err;
	if (n == 0) {
		qbk_err_set(err, QBK_E_USAGE, "backup '%s' holds no "
		    "collection to restore", m->backup_id);
		goto err;
	}
	if (o->as != NULL && o->prefix != NULL) {
		qbk_err_set(err, QBK_E_USAGE, "a new name and a name prefix "
		    "exclude each other");
		goto err;
	}
	if (o->as != NULL && n != 1) {
		qbk_err_set(err, QBK_E_USAGE, "'--as' needs exactly one "
		    "collection, and %zu are chosen", n);
		qbk_err_hint(err, "choose it with --collection NAME");
		goto err;
	}
	for (i = 0; i < n; i++)
		if (fill_plan(m, o, &plans[i], err) != 0)
			goto err;
	*out = plans;
	*np = n;
	return 0;
err:
	for (i = 0; i < n; i++)
		free(plans[i].target_buf);
	free(plans);
	return -1;
}

void
qbk_restore_plans_free(struct plan *plans, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		qbk_qdrant_aliases_free(plans[i].old_aliases,
		    plans[i].n_old_aliases);
		free(plans[i].target_buf);
	}
	free(plans);
}

/* Qdrant supports a snapshot on the release that took it and on the next
 * minor one: refuse any other target before anything is changed on it. */
static int
refuse_version_skew(struct run *r, const char *target, struct qbk_err *err)
{
	const char *from;

	if (r->m->n_qdrant_versions == 0)
		return 0;
	from = r->m->qdrant_versions[0];
	if (!qbk_restore_version_skew(from, target))
		return 0;
	qbk_err_set(err, QBK_E_USAGE, "backup '%s' was taken from Qdrant %s "
	    "and '%s' runs %s: Qdrant recovers snapshots only on the same or "
	    "the next minor release", r->m->backup_id, from, r->url, target);
	qbk_err_hint(err, "restore into Qdrant of the release of the backup "
	    "or the next minor one, or write the snapshot with --to-file");
	return -1;
}

/* Ask the node about the targets: distributed? version? which exist? */
int
qbk_restore_check_target(struct run *r, struct plan *plans, size_t np,
    struct qbk_err *err)
{
	struct qbk_qdrant_version ver;
	struct qbk_buf names = QBK_BUF_INIT;
	size_t i, nexist = 0;

	if (qbk_qdrant_version(r->q, &ver, err) != 0 ||
	    refuse_version_skew(r, ver.version, err) != 0 ||
	    qbk_cluster_discover(r->q, r->o->nodes, r->o->nnodes, &r->cl,
	    err) != 0)
		return -1;
	for (i = 0; !r->cl->enabled && i < np; i++)
		if (plans[i].mc != NULL && qbk_restore_is_custom(&plans[i])) {
			/* Qdrant refuses shard keys on a standalone node, and
			 * recovers a collection snapshot of such a collection
			 * without its shards, answering success. */
			qbk_err_set(err, QBK_E_USAGE, "collection '%s' of "
			    "backup '%s' is sharded by shard keys, and '%s' "
			    "runs standalone: Qdrant creates shard keys only in "
			    "cluster mode (cluster.enabled)", plans[i].name,
			    r->m->backup_id, r->url);
			qbk_err_hint(err, "restore it into a Qdrant started "
			    "with cluster.enabled: true (a single node can run "
			    "so)");
			return -1;
		}
	for (i = 0; r->cl->enabled && i < np; i++)
		if (plans[i].mc == NULL || !plans[i].shards) {
			qbk_err_set(err, QBK_E_USAGE, "'%s' is a node of a "
			    "distributed deployment, and backup '%s' holds "
			    "collection '%s' as a %s snapshot: a restore "
			    "through one node would leave the shards held by "
			    "the other nodes empty", r->url, r->m->backup_id,
			    plans[i].name, plans[i].mc == NULL ?
			    "full storage" : "collection");
			qbk_err_hint(err, "restore it into a single-node "
			    "deployment, or write the snapshot with --to-file "
			    "and recover it on each node");
			return -1;
		}
	if (r->o->one_shard) {
		if (np != 1 || plans[0].mc == NULL)
			return qbk_err_set(err, QBK_E_USAGE, "'--shard' needs "
			    "exactly one collection of shard snapshots");
		if (qbk_qdrant_collection_exists(r->q, plans[0].target,
		    &plans[0].exists, err) != 0)
			return -1;
		if (!plans[0].exists) {
			qbk_err_set(err, QBK_E_USAGE, "no collection '%s' on "
			    "'%s': '--shard' restores one shard into an "
			    "existing collection", plans[0].target, r->url);
			qbk_err_hint(err, "restore the whole collection "
			    "without --shard");
			return -1;
		}
		return 0;
	}
	for (i = 0; i < np; i++) {
		if (qbk_qdrant_collection_exists(r->q, plans[i].target,
		    &plans[i].exists, err) != 0)
			return -1;
		plans[i].replaced = plans[i].exists;
		if (plans[i].exists) {
			qbk_buf_addf(&names, "%s'%s'", nexist > 0 ? ", " : "",
			    plans[i].target);
			nexist++;
		}
	}
	if (nexist > 0 && !r->o->force) {
		qbk_err_set(err, QBK_E_USAGE, "collection%s %s exist%s on "
		    "'%s': refusing to overwrite", nexist == 1 ? "" : "s",
		    names.buf, nexist == 1 ? "s" : "", r->url);
		qbk_err_hint(err, "restore beside it with --as NEWNAME, or "
		    "replace it with --force (a safety backup is taken "
		    "first)");
		qbk_buf_release(&names);
		return -1;
	}
	qbk_buf_release(&names);
	return 0;
}
