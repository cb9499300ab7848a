/*
 * The drill's validation of restored collections: points count, vector
 * parameters and payload indexes, shards, sampled points and searches, the
 * content hash, and the wait until they are green.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "command/drill/qbk_drill_internal.h"
#include "command/qbk_drill.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "qdrant/qbk_cluster.h"
#include "qdrant/qbk_points.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_job.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_manifest.h"

/* At most this many problem lines per collection and check; the rest are
 * counted in one line. */
#define MAX_POINT_PROBLEMS	10
#define RETRIEVE_BATCH		256
#define SEARCH_LIMIT		5

static int
check_basic(struct qbk_qdrant *q, const struct qbk_manifest_collection *mc,
    const char *target, struct qbk_drill_result *res, int *exists,
    struct qbk_err *err)
{
	struct qbk_qdrant_collection *info = NULL;
	uint64_t n, lo, hi;

	*exists = 0;
	if (qbk_qdrant_collection_info(q, target, &info, err) != 0) {
		if (err->code != QBK_E_NOTFOUND)
			return -1;
		qbk_err_clear(err);
		qbk_drill_problem(res, "collection '%s' does not exist",
		    target);
		return 0;
	}
	*exists = 1;
	/* Grey (optimizations pending) and yellow (optimizing) are
	 * restored and readable; red is not. */
	if (strcmp(info->status, "green") != 0 &&
	    strcmp(info->status, "grey") != 0 &&
	    strcmp(info->status, "yellow") != 0)
		qbk_drill_problem(res, "collection '%s' is %s (failed "
		    "operations or an optimizer error)", target, info->status);
	else if (strcmp(info->status, "green") != 0)
		qbk_detail("'%s' is %s: readable, optimizations %s", target,
		    info->status, strcmp(info->status, "grey") == 0 ?
		    "pending" : "running");
	/* The count moved while the backup ran: the snapshot holds one
	 * between the two (unless points were both added and removed). */
	lo = hi = mc->points_count;
	if (mc->has_count_after) {
		if (mc->points_count_after < lo)
			lo = mc->points_count_after;
		else
			hi = mc->points_count_after;
	}
	if (info->points_count < 0 || (uint64_t)info->points_count < lo ||
	    (uint64_t)info->points_count > hi) {
		/* The info count may lag; the exact count decides. */
		if (qbk_qdrant_count(q, target, NULL, &n, err) != 0)
			goto err;
		if (n < lo || n > hi) {
			if (lo == hi)
				qbk_drill_problem(res, "collection '%s' has "
				    "%llu points, the backup recorded %llu",
				    target, (unsigned long long)n,
				    (unsigned long long)lo);
			else
				qbk_drill_problem(res, "collection '%s' has "
				    "%llu points, the backup recorded %llu to "
				    "%llu", target, (unsigned long long)n,
				    (unsigned long long)lo,
				    (unsigned long long)hi);
		}
	}
	if (mc->vectors != NULL &&
	    (info->vectors == NULL || !json_equal(info->vectors,
	    mc->vectors))) {
		char *have = info->vectors != NULL ? json_dumps(info->vectors,
		    JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		char *want = json_dumps(mc->vectors, JSON_COMPACT |
		    JSON_SORT_KEYS);

		qbk_drill_problem(res, "vector parameters of '%s' differ from "
		    "the backup: %s, recorded %s", target, have != NULL ? have :
		    "none", want != NULL ? want : "?");
		free(have);
		free(want);
	}
	qbk_qdrant_collection_free(info);
	return 0;
err:
	qbk_qdrant_collection_free(info);
	return -1;
}

/* The recorded shard of ${mc} that each shard of ${l} restores, by
 * qbk_cluster_map_shards() as the restore placed them (the same id, or
 * the same rank under the same shard key): an array of ${l}->nshards,
 * NULL where none; free it. */
static const struct qbk_manifest_shard **
recorded_shards(const struct qbk_manifest_collection *mc,
    const struct qbk_cluster_layout *l)
{
	const struct qbk_manifest_shard **by;
	struct qbk_cluster_keyed *from, *to;
	int64_t *map;
	size_t i, j, n;

	by = qbk_xcalloc(l->nshards + 1, sizeof(*by));
	if (mc->cluster == NULL)
		return by;
	n = mc->cluster->n_shards;
	from = qbk_xcalloc(n + 1, sizeof(*from));
	to = qbk_xcalloc(l->nshards + 1, sizeof(*to));
	map = qbk_xcalloc(n + 1, sizeof(*map));
	for (j = 0; j < n; j++) {
		from[j].id = (uint32_t)mc->cluster->shards[j].shard_id;
		from[j].key = mc->cluster->shards[j].shard_key;
	}
	for (i = 0; i < l->nshards; i++) {
		to[i].id = l->shards[i].id;
		to[i].key = l->shards[i].shard_key;
	}
	qbk_cluster_map_shards(from, n, to, l->nshards, map);
	for (j = 0; j < n; j++)
		for (i = 0; map[j] >= 0 && i < l->nshards; i++)
			if ((int64_t)l->shards[i].id == map[j])
				by[i] = &mc->cluster->shards[j];
	free(from);
	free(to);
	free(map);
	return by;
}

/* On a distributed target: every replica of every shard of ${target}
 * Active, the replicas of a shard agreeing on their count, and that count
 * the one recorded for the shard when the collection did not change while
 * it was backed up. */
static int
check_shards(const struct qbk_cluster *cl, struct qbk_qdrant *q,
    const struct qbk_manifest_collection *mc, const char *target,
    struct qbk_drill_result *res, struct qbk_err *err)
{
	const struct qbk_manifest_shard **recorded;
	struct qbk_cluster_layout *l = NULL;
	size_t i, k;

	if (qbk_cluster_layout(cl, q, target, &l, err) != 0)
		return -1;
	recorded = recorded_shards(mc, l);
	for (i = 0; i < l->nshards; i++) {
		const struct qbk_cluster_shard *sh = &l->shards[i];
		const struct qbk_manifest_shard *msh = recorded[i];
		int64_t count = -1;
		uint64_t agree = 0;

		if (sh->nreplicas == 0)
			qbk_drill_problem(res, "shard %u of '%s' has no "
			    "replica", sh->id, target);
		for (k = 0; k < sh->nreplicas; k++) {
			const struct qbk_cluster_replica *r = &sh->replicas[k];

			if (!qbk_cluster_replica_active(r)) {
				qbk_drill_problem(res, "shard %u of '%s': the "
				    "replica on peer %llu is %s, not Active",
				    sh->id, target,
				    (unsigned long long)r->peer_id, r->state);
				continue;
			}
			if (r->points_count < 0)
				continue;
			if (count < 0) {
				count = r->points_count;
				agree = r->peer_id;
			} else if (r->points_count != count)
				qbk_drill_problem(res, "shard %u of '%s': the "
				    "replica on peer %llu has %lld points, the "
				    "one on peer %llu %lld", sh->id, target,
				    (unsigned long long)r->peer_id,
				    (long long)r->points_count,
				    (unsigned long long)agree,
				    (long long)count);
		}
		res->shards_checked++;
		if (msh != NULL && !mc->has_count_after && count >= 0 &&
		    (uint64_t)count != msh->points_count)
			qbk_drill_problem(res, "shard %u of '%s' has %lld "
			    "points, the backup recorded %llu", sh->id, target,
			    (long long)count,
			    (unsigned long long)msh->points_count);
	}
	free(recorded);
	qbk_cluster_layout_free(l);
	return 0;
}

/* A backup taken with --allow-partial lacks some shards: whatever the
 * restore gives, it cannot give their points. */
static void
missing_shards(const struct qbk_manifest *m,
    const struct qbk_manifest_collection *mc, const char *target,
    struct qbk_drill_result *res)
{
	size_t i;

	for (i = 0; i < m->n_missing; i++)
		if (strcmp(m->missing[i].collection, mc->name) == 0)
			qbk_drill_problem(res, "shard %lld of '%s' is missing "
			    "from backup %s (%s): its points are not in '%s'",
			    (long long)m->missing[i].shard_id, mc->name,
			    m->backup_id, m->missing[i].reason != NULL &&
			    m->missing[i].reason[0] != '\0' ?
			    m->missing[i].reason : "not backed up", target);
}

/* A point id of the manifest as JSON: a number, or a UUID string. */
static json_t *
id_json(const char *id)
{
	if (id[0] >= '0' && id[0] <= '9' && strchr(id, '-') == NULL)
		return qbk_json_u64_new((uint64_t)strtoull(id, NULL, 10));
	return json_string(id);
}

/* The kind of a vector of a point record. */
enum vector_kind { VEC_NONE, VEC_DENSE, VEC_SPARSE, VEC_MULTI };

static enum vector_kind
vector_kind(const json_t *x)
{
	if (json_is_array(x) && json_array_size(x) > 0)
		return json_is_number(json_array_get(x, 0)) ? VEC_DENSE :
		    json_is_array(json_array_get(x, 0)) ? VEC_MULTI : VEC_NONE;
	if (json_is_object(x) && json_is_array(json_object_get(x, "indices")) &&
	    json_array_size(json_object_get(x, "indices")) > 0)
		return VEC_SPARSE;
	return VEC_NONE;
}

/* A vector of a point record to search with: the first dense one, else
 * the first sparse vector or multivector; ${*using} NULL for the unnamed
 * one, ${*kind} its kind.  Returns the JSON value or NULL. */
static const json_t *
record_vector(const json_t *rec, const char **using, enum vector_kind *kind)
{
	const json_t *v = json_object_get(rec, "vector"), *x, *found = NULL;
	const char *k;

	*using = NULL;
	if ((*kind = vector_kind(v)) != VEC_NONE)
		return v;
	if (!json_is_object(v))
		return NULL;
	json_object_foreach((json_t *)(uintptr_t)v, k, x) {
		enum vector_kind xk = vector_kind(x);

		if (xk == VEC_NONE || (found != NULL && xk != VEC_DENSE))
			continue;
		*using = k;
		*kind = xk;
		found = x;
		if (xk == VEC_DENSE)
			break;
	}
	return found;
}

static int
check_search(struct qbk_qdrant *q, const char *target, const json_t *rec,
    struct qbk_drill_result *res, struct qbk_err *err)
{
	const json_t *vec, *x;
	const char *using;
	enum vector_kind kind;
	json_t *hits = NULL;
	float *f;
	size_t i, n;
	int rc;

	if ((vec = record_vector(rec, &using, &kind)) == NULL) {
		qbk_drill_problem(res, "no vector to search '%s' with", target);
		return 0;
	}
	if (kind != VEC_DENSE) {
		rc = qbk_qdrant_search_json(q, target, using, vec,
		    SEARCH_LIMIT, &hits, err);
	} else {
		n = json_array_size(vec);
		f = qbk_xcalloc(n > 0 ? n : 1, sizeof(*f));
		json_array_foreach(vec, i, x)
			f[i] = (float)json_number_value(x);
		rc = qbk_qdrant_search(q, target, using, f, n, SEARCH_LIMIT, 0,
		    &hits, err);
		free(f);
	}
	if (rc != 0) {
		if (err->code != QBK_E_QDRANT && err->code != QBK_E_HTTP)
			return -1;
		qbk_drill_problem(res, "search on '%s' failed: %s", target,
		    err->msg);
		return 0;
	}
	if (json_array_size(hits) == 0)
		qbk_drill_problem(res, "search on '%s' returned no results",
		    target);
	json_decref(hits);
	return 0;
}

static int
check_samples(struct qbk_qdrant *q, const struct qbk_manifest_collection *mc,
    const char *target, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, struct qbk_err *err)
{
	json_t *ids = NULL, *recs = NULL, *first = NULL, *p;
	size_t i, start, k, bad = 0, ns = mc->n_samples;
	int rc = -1;

	if (o->sample_points >= 0 && (size_t)o->sample_points < ns)
		ns = (size_t)o->sample_points;
	for (start = 0; start < ns; start += RETRIEVE_BATCH) {
		size_t end = start + RETRIEVE_BATCH < ns ?
		    start + RETRIEVE_BATCH : ns;

		if (qbk_job_check(o->cancel, o->lock, err) != 0)
			goto out;
		ids = json_array();
		for (i = start; i < end; i++)
			json_array_append_new(ids, id_json(mc->samples[i].id));
		if (qbk_qdrant_retrieve(q, target, ids, 1, 1, &recs, err) != 0)
			goto out;
		for (i = start; i < end; i++) {
			const struct qbk_manifest_sample *s = &mc->samples[i];
			const json_t *found = NULL;
			char id[64], hash[65];

			json_array_foreach(recs, k, p)
				if (qbk_points_id_text(json_object_get(p,
				    "id"), id, sizeof(id)) == 0 &&
				    strcmp(id, s->id) == 0) {
					found = p;
					break;
				}
			res->points_checked++;
			if (found == NULL) {
				if (bad++ < MAX_POINT_PROBLEMS)
					qbk_drill_problem(res, "point %s of "
					    "'%s' is missing", s->id, target);
				continue;
			}
			if (first == NULL)
				first = json_incref((json_t *)(uintptr_t)
				    found);
			if (qbk_points_hash(found, hash) != 0 ||
			    strcmp(hash, s->hash) != 0) {
				if (bad++ < MAX_POINT_PROBLEMS)
					qbk_drill_problem(res, "point %s of "
					    "'%s' differs from the backup: its "
					    "vector or payload changed", s->id,
					    target);
			}
		}
		json_decref(recs);
		recs = NULL;
		json_decref(ids);
		ids = NULL;
	}
	if (bad > MAX_POINT_PROBLEMS)
		qbk_drill_problem(res, "%zu more sampled points of '%s' are "
		    "missing or differ", bad - MAX_POINT_PROBLEMS, target);
	if (mc->points_count > 0) {
		if (first == NULL) {
			struct qbk_qdrant_scroll so = { 1, 0, 1, NULL };
			json_t *next = NULL;

			if (qbk_qdrant_scroll_page(q, target, &so, NULL, &recs,
			    &next, err) != 0)
				goto out;
			json_decref(next);
			if (json_array_size(recs) > 0)
				first = json_incref(json_array_get(recs, 0));
			json_decref(recs);
			recs = NULL;
		}
		if (first == NULL)
			qbk_drill_problem(res, "collection '%s' returns no "
			    "points", target);
		else if (check_search(q, target, first, res, err) != 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(first);
	json_decref(recs);
	json_decref(ids);
	return rc;
}

/* Exhaustive: scroll every point of ${target} and compare the content
 * hash of each bucket recorded at backup time.  Buckets that changed
 * while the backup ran were not recorded and are not compared. */
static int
check_content(struct qbk_qdrant *q, const struct qbk_manifest_collection *mc,
    const char *target, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, struct qbk_err *err)
{
	struct qbk_points_bucket b[QBK_POINTS_BUCKETS];
	struct qbk_buf which = QBK_BUF_INIT;
	uint64_t n, want = 0, have = 0, skipped = 0;
	size_t i, bad = 0, known = 0;

	if (qbk_points_content(q, target, o->cancel, b, &n, err) != 0)
		return -1;
	for (i = 0; i < QBK_POINTS_BUCKETS; i++) {
		const struct qbk_manifest_bucket *mb = &mc->content[i];
		char hex[QBK_MANIFEST_HEX_LEN + 1];

		if (!mb->known) {
			skipped += b[i].points;
			continue;
		}
		known++;
		want += mb->points;
		have += b[i].points;
		qbk_hex(b[i].sum, sizeof(b[i].sum), hex);
		if (b[i].points == mb->points && strcmp(hex, mb->hash) == 0)
			continue;
		qbk_buf_addf(&which, "%s%zu", bad > 0 ? ", " : "", i);
		bad++;
	}
	res->points_checked += have;
	if (known < QBK_POINTS_BUCKETS)
		qbk_detail("'%s': %zu of %d content buckets (%llu points) "
		    "changed during the backup and are not compared", target,
		    QBK_POINTS_BUCKETS - known, QBK_POINTS_BUCKETS,
		    (unsigned long long)skipped);
	if (bad > 0)
		qbk_drill_problem(res, "content of '%s' differs from the "
		    "backup in %zu of %zu point buckets (%s): %llu points "
		    "there, %llu at backup time", target, bad, known, which.buf,
		    (unsigned long long)have, (unsigned long long)want);
	qbk_buf_release(&which);
	return 0;
}

static int
validate_set(struct qbk_qdrant *q, const struct qbk_cluster *cl,
    const struct qbk_drill_set *ds, const char *prefix,
    const struct qbk_drill_opts *o, struct qbk_drill_result *res,
    struct qbk_err *err)
{
	struct qbk_buf target = QBK_BUF_INIT;
	size_t i;
	int exists, rc = -1;

	for (i = ds->first; i < ds->first + ds->n; i++) {
		const struct qbk_manifest_collection *mc =
		    qbk_manifest_find_collection(ds->m, res->collections[i]);

		if (qbk_job_check(o->cancel, o->lock, err) != 0)
			goto out;
		qbk_buf_reset(&target);
		qbk_buf_addf(&target, "%s%s", prefix, mc->name);
		qbk_detail("validating '%s' (%s)", target.buf,
		    qbk_drill_level_name(o->level));
		if (check_basic(q, mc, target.buf, res, &exists, err) != 0)
			goto fail;
		if (!exists)
			continue;
		missing_shards(ds->m, mc, target.buf, res);
		if (cl->enabled &&
		    check_shards(cl, q, mc, target.buf, res, err) != 0)
			goto fail;
		if (o->level >= QBK_DRILL_COMPREHENSIVE &&
		    check_samples(q, mc, target.buf, o, res, err) != 0)
			goto fail;
		if (o->level >= QBK_DRILL_EXHAUSTIVE &&
		    check_content(q, mc, target.buf, o, res, err) != 0)
			goto fail;
	}
	rc = 0;
	goto out;
fail:
	qbk_err_prefix(err, "cannot validate '%s'", target.buf);
out:
	qbk_buf_release(&target);
	return rc;
}

/* Is every restored collection of ${sets} green?  1 yes, 0 no, -1 error. */
static int
all_green(struct qbk_qdrant *q, const struct qbk_drill_set *sets, size_t nsets,
    const char *prefix, struct qbk_drill_result *res, struct qbk_err *err)
{
	struct qbk_qdrant_collection *info;
	struct qbk_buf target = QBK_BUF_INIT;
	size_t i, k;
	int rc = 1;

	for (k = 0; rc == 1 && k < nsets; k++)
		for (i = sets[k].first; rc == 1 &&
		    i < sets[k].first + sets[k].n; i++) {
			qbk_buf_reset(&target);
			qbk_buf_addf(&target, "%s%s", prefix,
			    res->collections[i]);
			info = NULL;
			if (qbk_qdrant_collection_info(q, target.buf, &info,
			    err) != 0) {
				if (err->code != QBK_E_NOTFOUND)
					rc = -1;
				else
					qbk_err_clear(err);
				continue;
			}
			if (strcmp(info->status, "green") != 0)
				rc = 0;
			qbk_qdrant_collection_free(info);
		}
	qbk_buf_release(&target);
	return rc;
}

/* Wait (up to green_timeout_ms) until every restored collection is green;
 * record the time since ${trestore} in green_ms, or that it did not come. */
int
qbk_drill_wait_green(struct qbk_qdrant *q, const struct qbk_drill_set *sets,
    size_t nsets, const char *prefix, const struct qbk_drill_opts *o,
    int64_t trestore, struct qbk_drill_result *res, struct qbk_err *err)
{
	int64_t limit = o->green_timeout_ms == 0 ? 60000 :
	    o->green_timeout_ms, t0 = qbk_clock_ms();
	struct timespec ts = { 0, 250 * 1000 * 1000 };
	int rc;

	for (;;) {
		if ((rc = all_green(q, sets, nsets, prefix, res, err)) < 0)
			return -1;
		if (rc == 1) {
			res->rec->green_ms = qbk_clock_ms() - trestore;
			return 0;
		}
		if (qbk_clock_ms() - t0 >= limit) {
			res->rec->green_ms = QBK_MANIFEST_GREEN_NOT_YET;
			qbk_info("the restored collections were not green "
			    "within %.1f s (readable; optimizations pending "
			    "or running)", limit > 0 ? (double)limit /
			    1000.0 : 0.0);
			return 0;
		}
		if (qbk_job_check(o->cancel, o->lock, err) != 0)
			return -1;
		nanosleep(&ts, NULL);
	}
}

/* Validate every set; shards are checked on a distributed target only. */
int
qbk_drill_validate(struct qbk_qdrant *q, const struct qbk_drill_set *sets,
    size_t nsets, const char *prefix, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, struct qbk_err *err)
{
	struct qbk_cluster *cl = NULL;
	size_t i;
	int rc = 0;

	if (qbk_cluster_discover(q, o->nodes, o->nnodes, &cl, err) != 0) {
		qbk_err_prefix(err, "cannot validate the restore");
		return -1;
	}
	for (i = 0; rc == 0 && i < nsets; i++)
		rc = validate_set(q, cl, &sets[i], prefix, o, res, err);
	qbk_cluster_free(cl);
	return rc;
}
