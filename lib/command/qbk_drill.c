#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "command/qbk_ctx.h"
#include "command/qbk_restore.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"
#include "config/qbk_config.h"
#include "net/qbk_http.h"
#include "qdrant/qbk_cluster.h"
#include "qdrant/qbk_points.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "command/qbk_drill.h"

/* At most this many problem lines per collection and check; the rest are
 * counted in one line. */
#define MAX_POINT_PROBLEMS	10
#define RETRIEVE_BATCH		256
#define SEARCH_LIMIT		5

static const char *const level_names[] = { "basic", "comprehensive",
	"exhaustive" };
static const char *const scenario_names[] = { "latest", "pitr",
	"all-collections" };

const char *
qbk_drill_level_name(enum qbk_drill_level l)
{
	return (unsigned)l < 3 ? level_names[l] : "basic";
}

const char *
qbk_drill_scenario_name(enum qbk_drill_scenario s)
{
	return (unsigned)s < 3 ? scenario_names[s] : "latest";
}

int
qbk_drill_parse_level(const char *s, enum qbk_drill_level *out)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum qbk_drill_level)i;
			return 0;
		}
	return -1;
}

int
qbk_drill_parse_scenario(const char *s, enum qbk_drill_scenario *out)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, scenario_names[i]) == 0) {
			*out = (enum qbk_drill_scenario)i;
			return 0;
		}
	return -1;
}

void
qbk_drill_scratch_name(const char *id, const char *name, struct qbk_buf *out)
{
	qbk_buf_addf(out, "%s%s-%s", QBK_DRILL_PREFIX, id, name);
}

int
qbk_drill_scratch_parse(const char *name, char *id)
{
	size_t pl = strlen(QBK_DRILL_PREFIX);
	char tmp[QBK_MANIFEST_ID_LEN + 1];

	if (strncmp(name, QBK_DRILL_PREFIX, pl) != 0 ||
	    strlen(name) < pl + QBK_MANIFEST_ID_LEN + 2 ||
	    name[pl + QBK_MANIFEST_ID_LEN] != '-')
		return 0;
	memcpy(tmp, name + pl, QBK_MANIFEST_ID_LEN);
	tmp[QBK_MANIFEST_ID_LEN] = '\0';
	if (!qbk_manifest_id_valid(tmp))
		return 0;
	memcpy(id, tmp, sizeof(tmp));
	return 1;
}

int64_t
qbk_drill_pitr_time(int64_t first, int64_t last, int64_t now,
    int64_t keep_within_ms, uint64_t rnd)
{
	int64_t lo = first, hi = last;

	if (keep_within_ms > 0 && now - keep_within_ms / 1000 > lo)
		lo = now - keep_within_ms / 1000;
	if (hi < lo)
		return hi;	/* nothing within retention: the newest */
	return lo + (int64_t)(rnd % ((uint64_t)(hi - lo) + 1));
}

void
qbk_drill_result_init(struct qbk_drill_result *r)
{
	memset(r, 0, sizeof(*r));
	r->rto_met = -1;
	r->pitr_time = -1;
}

void
qbk_drill_result_release(struct qbk_drill_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	qbk_manifest_drill_free(r->rec);
	for (i = 0; i < r->ncollections; i++)
		free(r->collections[i]);
	free(r->collections);
	qbk_drill_result_init(r);
}

int
qbk_drill_target(const struct qbk_config *cfg, int validate_only,
    volatile sig_atomic_t *cancel, struct qbk_qdrant **out,
    struct qbk_err *err)
{
	struct qbk_config_secret key = QBK_CONFIG_SECRET_INIT;
	int staging = !validate_only && cfg->drill.url != NULL, rc;

	*out = NULL;
	if ((staging ? qbk_config_drill_api_key(cfg, &key, err) :
	    qbk_config_api_key(cfg, &key, err)) != 0)
		return -1;
	rc = qbk_qdrant_open(cfg, staging ? cfg->drill.url : cfg->qdrant.url,
	    key.data, cancel, out, err);
	qbk_config_secret_release(&key);
	return rc;
}

/* ---- problems ------------------------------------------------------- */

static void
problem(struct qbk_drill_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct qbk_drill_result *res, const char *fmt, ...)
{
	struct qbk_buf b = QBK_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	qbk_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (b.len > QBK_MANIFEST_MAX_STR) {
		size_t n = QBK_MANIFEST_MAX_STR;

		/* Never cut a UTF-8 sequence in two. */
		while (n > 0 && ((unsigned char)b.buf[n] & 0xc0) == 0x80)
			n--;
		qbk_buf_setlen(&b, n);
	}
	qbk_detail("problem: %s", b.buf);
	if (res->rec->n_problems < QBK_MANIFEST_MAX_LIST)
		qbk_manifest_drill_add_problem(res->rec, b.buf);
	qbk_buf_release(&b);
}

static int
cancelled(const struct qbk_drill_opts *o, struct qbk_err *err)
{
	if (o->cancel != NULL && *o->cancel != 0)
		return qbk_err_set(err, QBK_E_INTERRUPTED, "interrupted");
	return 0;
}

/* Refresh our repository lock (when due) during long validations, so
 * that nobody takes it for stale; losing it stops the drill. */
static int
keep_lock(const struct qbk_drill_opts *o, struct qbk_err *err)
{
	return o->lock != NULL ? qbk_lock_refresh(o->lock, 0, err) : 0;
}

/* ---- validation ----------------------------------------------------- */

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
		problem(res, "collection '%s' does not exist", target);
		return 0;
	}
	*exists = 1;
	/* Grey (optimizations pending) and yellow (optimizing) are
	 * restored and readable; red is not. */
	if (strcmp(info->status, "green") != 0 &&
	    strcmp(info->status, "grey") != 0 &&
	    strcmp(info->status, "yellow") != 0)
		problem(res, "collection '%s' is %s (failed operations or an "
		    "optimizer error)", target, info->status);
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
				problem(res, "collection '%s' has %llu points, "
				    "the backup recorded %llu", target,
				    (unsigned long long)n,
				    (unsigned long long)lo);
			else
				problem(res, "collection '%s' has %llu points, "
				    "the backup recorded %llu to %llu", target,
				    (unsigned long long)n,
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

		problem(res, "vector parameters of '%s' differ from the "
		    "backup: %s, recorded %s", target,
		    have != NULL ? have : "none", want != NULL ? want : "?");
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
			problem(res, "shard %u of '%s' has no replica", sh->id,
			    target);
		for (k = 0; k < sh->nreplicas; k++) {
			const struct qbk_cluster_replica *r = &sh->replicas[k];

			if (!qbk_cluster_replica_active(r)) {
				problem(res, "shard %u of '%s': the replica on "
				    "peer %llu is %s, not Active", sh->id,
				    target, (unsigned long long)r->peer_id,
				    r->state);
				continue;
			}
			if (r->points_count < 0)
				continue;
			if (count < 0) {
				count = r->points_count;
				agree = r->peer_id;
			} else if (r->points_count != count)
				problem(res, "shard %u of '%s': the replica on "
				    "peer %llu has %lld points, the one on "
				    "peer %llu %lld", sh->id, target,
				    (unsigned long long)r->peer_id,
				    (long long)r->points_count,
				    (unsigned long long)agree,
				    (long long)count);
		}
		res->shards_checked++;
		if (msh != NULL && !mc->has_count_after && count >= 0 &&
		    (uint64_t)count != msh->points_count)
			problem(res, "shard %u of '%s' has %lld points, the "
			    "backup recorded %llu", sh->id, target,
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
			problem(res, "shard %lld of '%s' is missing from backup "
			    "%s (%s): its points are not in '%s'",
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
		problem(res, "no vector to search '%s' with", target);
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
		problem(res, "search on '%s' failed: %s", target, err->msg);
		return 0;
	}
	if (json_array_size(hits) == 0)
		problem(res, "search on '%s' returned no results", target);
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

		if (cancelled(o, err) != 0 || keep_lock(o, err) != 0)
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
					problem(res, "point %s of '%s' is "
					    "missing", s->id, target);
				continue;
			}
			if (first == NULL)
				first = json_incref((json_t *)(uintptr_t)
				    found);
			if (qbk_points_hash(found, hash) != 0 ||
			    strcmp(hash, s->hash) != 0) {
				if (bad++ < MAX_POINT_PROBLEMS)
					problem(res, "point %s of '%s' differs "
					    "from the backup: its vector or "
					    "payload changed", s->id, target);
			}
		}
		json_decref(recs);
		recs = NULL;
		json_decref(ids);
		ids = NULL;
	}
	if (bad > MAX_POINT_PROBLEMS)
		problem(res, "%zu more sampled points of '%s' are missing or "
		    "differ", bad - MAX_POINT_PROBLEMS, target);
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
			problem(res, "collection '%s' returns no points",
			    target);
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
		problem(res, "content of '%s' differs from the backup in %zu "
		    "of %zu point buckets (%s): %llu points there, %llu at "
		    "backup time", target, bad, known, which.buf,
		    (unsigned long long)have, (unsigned long long)want);
	qbk_buf_release(&which);
	return 0;
}

/* A backup and the collections drilled from it: res->collections[first]
 * up to [first + n - 1]. */
struct dset {
	struct qbk_manifest *m;
	size_t first, n;
};

static int
validate_set(struct qbk_qdrant *q, const struct qbk_cluster *cl,
    const struct dset *ds, const char *prefix, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, struct qbk_err *err)
{
	struct qbk_buf target = QBK_BUF_INIT;
	size_t i;
	int exists, rc = -1;

	for (i = ds->first; i < ds->first + ds->n; i++) {
		const struct qbk_manifest_collection *mc =
		    qbk_manifest_find_collection(ds->m, res->collections[i]);

		if (cancelled(o, err) != 0 || keep_lock(o, err) != 0)
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
all_green(struct qbk_qdrant *q, const struct dset *sets, size_t nsets,
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
static int
wait_green(struct qbk_qdrant *q, const struct dset *sets, size_t nsets,
    const char *prefix, const struct qbk_drill_opts *o, int64_t trestore,
    struct qbk_drill_result *res, struct qbk_err *err)
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
		if (cancelled(o, err) != 0 || keep_lock(o, err) != 0)
			return -1;
		nanosleep(&ts, NULL);
	}
}

/* Validate every set; shards are checked on a distributed target only. */
static int
validate(struct qbk_qdrant *q, const struct dset *sets, size_t nsets,
    const char *prefix, const struct qbk_drill_opts *o,
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

/* ---- scratch collections --------------------------------------------- */

struct lockscan {
	const char *own;	/* our lock id, or NULL */
	int64_t *times;		/* acquisition times of other drills */
	size_t n;
};

static int
scan_lock(void *cookie, const struct qbk_lock_info *li)
{
	struct lockscan *s = cookie;

	if (s->own != NULL && strcmp(li->id, s->own) == 0)
		return 0;
	if (strcmp(li->program, "qbk-drill") != 0)
		return 0;
	s->times = qbk_xrealloc(s->times, (s->n + 1) * sizeof(*s->times));
	s->times[s->n++] = li->time;
	return 0;
}

/* Remove scratch collections of drills that are not running any more. */
static int
remove_leftovers(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_drill_opts *o, const char *own_id, int64_t start,
    struct qbk_drill_result *res, struct qbk_err *err)
{
	struct lockscan ls = { NULL, NULL, 0 };
	char **names = NULL, id[QBK_MANIFEST_ID_LEN + 1];
	size_t i, k;
	int64_t t;
	int rc = -1, running;

	if (qbk_qdrant_collections(q, &names, err) != 0)
		return -1;
	for (i = 0; names[i] != NULL; i++)
		if (qbk_drill_scratch_parse(names[i], id))
			break;
	if (names[i] == NULL) {
		rc = 0;
		goto out;
	}
	ls.own = o->lock != NULL ? qbk_lock_id(o->lock) : NULL;
	if (repo != NULL && qbk_lock_list(qbk_repo_store(repo), scan_lock,
	    &ls, err) < 0)
		goto out;
	for (i = 0; names[i] != NULL; i++) {
		if (!qbk_drill_scratch_parse(names[i], id) ||
		    strcmp(id, own_id) == 0 ||
		    qbk_manifest_id_time(id, &t) != 0 || t > start)
			continue;
		/* A drill that locked the repository before this one was
		 * made may still be at work on it. */
		for (running = 0, k = 0; k < ls.n; k++)
			if (ls.times[k] <= t)
				running = 1;
		if (running) {
			qbk_detail("'%s' may belong to a running drill: kept",
			    names[i]);
			continue;
		}
		qbk_info("removing '%s', left over by drill %s", names[i], id);
		if (qbk_qdrant_collection_delete(q, names[i], NULL, err) != 0) {
			qbk_err_prefix(err, "cannot remove leftover '%s'",
			    names[i]);
			goto out;
		}
		res->leftovers++;
	}
	rc = 0;
out:
	free(ls.times);
	qbk_qdrant_strv_free(names);
	return rc;
}

/* Remove every collection named with ${prefix} (ours only). */
static int
remove_scratch(struct qbk_qdrant *q, const char *prefix, struct qbk_err *err)
{
	char **names = NULL;
	size_t i, pl = strlen(prefix);
	int rc = 0;

	if (qbk_qdrant_collections(q, &names, err) != 0)
		return -1;
	for (i = 0; names[i] != NULL; i++) {
		if (strncmp(names[i], prefix, pl) != 0)
			continue;
		qbk_detail("removing scratch collection '%s'", names[i]);
		if (qbk_qdrant_collection_delete(q, names[i], NULL, err) != 0) {
			qbk_err_prefix(err, "cannot remove scratch collection "
			    "'%s'", names[i]);
			rc = -1;
			break;
		}
	}
	qbk_qdrant_strv_free(names);
	return rc;
}

/* ---- the run ---------------------------------------------------------- */

/* The backup ${id}, or the newest (at or before ${at}) that holds the
 * collections of --collection as collection snapshots: a backup that is
 * not the newest of each is drilled all the same, with a warning (a drill
 * checks a backup, it brings back no data). */
static int
select_holding(struct qbk_repo *repo, const struct qbk_drill_opts *o,
    const char *id, int64_t at, char *out, struct qbk_err *err)
{
	return qbk_restore_choose(repo, id, at, o->collections,
	    o->ncollections, QBK_RESTORE_CHOOSE_SNAPSHOTS, out, err);
}

static int
choose_backup(struct qbk_repo *repo, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, char *id, struct qbk_err *err)
{
	char **ids = NULL;
	size_t n = 0;
	int64_t first, last, at;
	uint64_t rnd;
	int rc;

	if (o->backup_id != NULL || o->at >= 0 ||
	    o->scenario != QBK_DRILL_PITR)
		return select_holding(repo, o, o->backup_id, o->at, id, err);
	if (qbk_repo_backup_ids(repo, &ids, &n, err) != 0)
		return -1;
	if (n == 0 || qbk_manifest_id_time(ids[0], &first) != 0 ||
	    qbk_manifest_id_time(ids[n - 1], &last) != 0) {
		qbk_repo_free_ids(ids, n);
		return select_holding(repo, o, NULL, -1, id, err);
	}
	qbk_repo_free_ids(ids, n);
	qbk_crypto_random(&rnd, sizeof(rnd));
	at = qbk_drill_pitr_time(first, last, qbk_now(), o->keep_within_ms,
	    rnd);
	res->pitr_time = at;
	rc = select_holding(repo, o, NULL, at, id, err);
	if (rc != 0 && err->code == QBK_E_USAGE) {
		/* Only safety backups before ${at}: the newest will do. */
		qbk_err_clear(err);
		rc = select_holding(repo, o, NULL, -1, id, err);
	}
	if (rc == 0) {
		char t[QBK_TIME_LEN + 1];

		qbk_time_format(at, t);
		qbk_info("point in time %s: backup %s", t, id);
	}
	return rc;
}

static int
chosen(const struct qbk_drill_result *res, const char *name)
{
	size_t i;

	for (i = 0; i < res->ncollections; i++)
		if (strcmp(res->collections[i], name) == 0)
			return 1;
	return 0;
}

static void
add_collection(struct qbk_drill_result *res, const char *name,
    const char *backup_id)
{
	res->collections = qbk_xrealloc(res->collections,
	    (res->ncollections + 1) * sizeof(*res->collections));
	res->collections[res->ncollections++] = qbk_xstrdup(name);
	qbk_manifest_drill_add_drilled(res->rec, name, backup_id);
}

/* Add ${m} (owned from now on) as the set of collections
 * res->collections[${first}] up to [${first} + ${n} - 1]. */
static void
add_set(struct dset **sets, size_t *nsets, struct qbk_manifest *m,
    size_t first, size_t n)
{
	*sets = qbk_xrealloc(*sets, (*nsets + 1) * sizeof(**sets));
	(*sets)[*nsets].m = m;
	(*sets)[*nsets].first = first;
	(*sets)[*nsets].n = n;
	(*nsets)++;
}

/* all-collections: every collection any backup holds, each from the
 * newest backup that holds it (not a restore's safety backup, not a
 * full-storage one): what an operator would restore after losing the
 * whole deployment.  A collection that only backups older than the newest
 * backup of every collection hold had been deleted by then: left out. */
static int
choose_each(struct qbk_repo *repo, struct qbk_drill_result *res,
    struct dset **sets, size_t *nsets, struct qbk_err *err)
{
	struct qbk_manifest *m = NULL;
	const char *all = NULL;	/* newest backup of every collection */
	char **ids = NULL;
	size_t n = 0, i, k, first;
	int rc = -1;

	if (qbk_repo_backup_ids(repo, &ids, &n, err) != 0)
		return -1;
	for (i = n; i > 0; i--) {
		if (qbk_repo_manifest_read(repo, ids[i - 1], &m, err) != 0) {
			qbk_err_prefix(err, "cannot read backup %s",
			    ids[i - 1]);
			goto out;
		}
		first = res->ncollections;
		if (!qbk_restore_is_safety(m) && m->kind == QBK_MANIFEST_KIND_COLLECTIONS)
			for (k = 0; k < m->n_collections; k++) {
				const char *name = m->collections[k]->name;

				if (chosen(res, name))
					continue;
				if (all != NULL) {
					qbk_detail("collection '%s' left out: "
					    "backup %s of every collection "
					    "no longer had it", name, all);
					continue;
				}
				add_collection(res, name, m->backup_id);
			}
		if (all == NULL && !qbk_restore_is_safety(m) &&
		    m->kind == QBK_MANIFEST_KIND_COLLECTIONS &&
		    m->selection == QBK_MANIFEST_SELECTION_ALL)
			all = ids[i - 1];
		if (res->ncollections > first) {
			add_set(sets, nsets, m, first,
			    res->ncollections - first);
			m = NULL;	/* handed over */
		}
		qbk_manifest_free(m);
		m = NULL;
	}
	if (*nsets == 0) {
		qbk_err_set(err, QBK_E_NOTFOUND, "the repository holds no "
		    "backup of a collection");
		qbk_err_hint(err, "take one with qbk-backup");
		goto out;
	}
	rc = 0;
out:
	qbk_repo_free_ids(ids, n);
	return rc;
}

/* The backup of --backup, --at or the scenario, and the collections of
 * it that --collection names (all of them by default). */
static int
choose_one(struct qbk_repo *repo, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, struct dset **sets, size_t *nsets,
    struct qbk_err *err)
{
	struct qbk_manifest *m = NULL;
	char id[QBK_MANIFEST_ID_LEN + 1];
	size_t i, k;

	if (choose_backup(repo, o, res, id, err) != 0 ||
	    qbk_repo_manifest_read(repo, id, &m, err) != 0)
		return -1;
	if (m->n_collections == 0) {
		qbk_err_set(err, QBK_E_USAGE, "backup %s holds no collection "
		    "snapshots to drill", m->backup_id);
		qbk_manifest_free(m);
		return -1;
	}
	for (i = 0; i < o->ncollections; i++)
		if (qbk_manifest_find_collection(m, o->collections[i]) ==
		    NULL) {
			qbk_err_set(err, QBK_E_USAGE, "backup %s has no "
			    "collection '%s'", m->backup_id,
			    o->collections[i]);
			qbk_manifest_free(m);
			return -1;
		}
	for (i = 0; i < m->n_collections; i++) {
		const char *name = m->collections[i]->name;
		int want = o->ncollections == 0;

		for (k = 0; !want && k < o->ncollections; k++)
			want = strcmp(o->collections[k], name) == 0;
		if (want)
			add_collection(res, name, m->backup_id);
	}
	add_set(sets, nsets, m, 0, res->ncollections);
	return 0;
}

static int
choose(struct qbk_repo *repo, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, struct dset **sets, size_t *nsets,
    struct qbk_err *err)
{
	size_t i, k;

	if (o->scenario == QBK_DRILL_ALL_COLLECTIONS &&
	    o->backup_id == NULL && o->at < 0) {
		if (choose_each(repo, res, sets, nsets, err) != 0)
			return -1;
	} else if (choose_one(repo, o, res, sets, nsets, err) != 0)
		return -1;
	if (o->level < QBK_DRILL_EXHAUSTIVE)
		return 0;
	for (i = 0; i < *nsets; i++)
		for (k = (*sets)[i].first; k < (*sets)[i].first +
		    (*sets)[i].n; k++) {
			const struct qbk_manifest_collection *mc =
			    qbk_manifest_find_collection((*sets)[i].m,
			    res->collections[k]);

			if (mc->has_content)
				continue;
			qbk_err_set(err, QBK_E_USAGE, "backup %s has no "
			    "content hash of collection '%s': exhaustive "
			    "validation needs a backup taken with "
			    "--content-hash", (*sets)[i].m->backup_id,
			    mc->name);
			qbk_err_hint(err, "back up with 'qbk-backup "
			    "--content-hash' (or [backup] content_hash = yes)");
			return -1;
		}
	return 0;
}

static void
phase(struct qbk_drill_result *res, const char *name, int64_t t0)
{
	int64_t ms = qbk_clock_ms() - t0;

	qbk_manifest_drill_add_phase(res->rec, name, ms > 0 ? (uint64_t)ms :
	    0);
}

static void
set_host(struct qbk_manifest_drill *d)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	qbk_manifest_strset(&d->host, host);
	qbk_manifest_strset(&d->tool_version, "qbk " QBK_VERSION);
}

static int
restore(struct qbk_repo *repo, struct qbk_qdrant *q, const struct dset *ds,
    const char *prefix, const struct qbk_drill_opts *o,
    struct qbk_drill_result *res, struct qbk_err *err)
{
	struct qbk_restore_opts ro;
	struct qbk_restore_report rep;
	int rc;

	memset(&ro, 0, sizeof(ro));
	ro.collections = (const char *const *)res->collections + ds->first;
	ro.ncollections = ds->n;
	ro.prefix = prefix;
	ro.no_aliases = 1;
	ro.priority = o->priority;
	ro.workers = o->workers;
	ro.cancel = o->cancel;
	ro.lock = o->lock;
	ro.cleanup = o->cleanup;
	ro.nodes = o->nodes;
	ro.nnodes = o->nnodes;
	ro.node_parallelism = o->node_parallelism;
	ro.replica_timeout_ms = o->replica_timeout_ms;
	/* Replicas that do not become Active in time are a finding of the
	 * validation (check_shards), not a failure to restore. */
	ro.allow_inactive = 1;
	qbk_restore_report_init(&rep);
	rc = qbk_restore_run(repo, q, ds->m, &ro, &rep, err);
	qbk_restore_report_release(&rep);
	if (rc != 0 && (err->code == QBK_E_INTEGRITY ||
	    err->code == QBK_E_NOTFOUND)) {
		/* Damaged or missing data is what a drill is there to find:
		 * a verdict, not an error. */
		problem(res, "restore of backup %s failed: %s",
		    ds->m->backup_id, err->msg);
		qbk_err_clear(err);
		return 1;
	}
	return rc;
}

int
qbk_drill_run(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_drill_opts *o, struct qbk_drill_result *res,
    struct qbk_err *err)
{
	struct qbk_manifest_drill *d;
	struct qbk_qdrant *cq = o->cleanup != NULL ? o->cleanup : q;
	struct qbk_buf prefix = QBK_BUF_INIT;
	struct qbk_err cerr = QBK_ERR_INIT;
	struct dset *sets = NULL, *ok = NULL;
	size_t nsets = 0, nok = 0, i;
	int64_t t0, trestore = 0, now = qbk_now();
	int rc = -1, failed = 0, scratch = 0;

	res->validate_only = o->validate_only;
	res->rec = d = qbk_manifest_drill_new();
	qbk_manifest_strset(&d->level, qbk_drill_level_name(o->level));
	qbk_manifest_strset(&d->scenario,
	    qbk_drill_scenario_name(o->scenario));
	set_host(d);
	d->start = d->end = now;
	if (o->rto_target_ms > 0)
		d->rto_target_ms = (uint64_t)o->rto_target_ms;

	t0 = qbk_clock_ms();
	if (choose(repo, o, res, &sets, &nsets, err) != 0)
		goto out;
	/* The newest backup drilled stands for the drill. */
	memcpy(d->backup_id, sets[0].m->backup_id, sizeof(d->backup_id));
	phase(res, "select", t0);

	if (o->validate_only) {
		t0 = qbk_clock_ms();
		if (validate(q, sets, nsets, "", o, res, err) != 0)
			goto out;
		phase(res, "validate", t0);
		res->ran = 1;
		rc = 0;
		goto out;
	}

	if (qbk_manifest_make_id(now, d->drill_id) != 0) {
		qbk_err_set(err, QBK_E_INTERNAL, "cannot make a drill id");
		goto out;
	}
	qbk_buf_addf(&prefix, "%s%s-", QBK_DRILL_PREFIX, d->drill_id);
	if (nsets == 1)
		qbk_info("drill %s of backup %s (%s, %s)", d->drill_id,
		    d->backup_id, d->level, d->scenario);
	else
		qbk_info("drill %s of %zu collections from %zu backups (%s, "
		    "%s)", d->drill_id, res->ncollections, nsets, d->level,
		    d->scenario);

	t0 = qbk_clock_ms();
	if (remove_leftovers(repo, q, o, d->drill_id, now, res, err) != 0) {
		failed = 1;	/* the drill target failed: worth a record */
		goto out;
	}
	phase(res, "leftovers", t0);

	/* From here on scratch collections may exist: remove them below
	 * whatever happens.  A set whose data turns out damaged is a
	 * problem found; the others are restored and validated still. */
	scratch = 1;
	trestore = t0 = qbk_clock_ms();
	ok = qbk_xcalloc(nsets, sizeof(*ok));
	for (i = 0; i < nsets; i++) {
		if ((rc = restore(repo, q, &sets[i], prefix.buf, o, res,
		    err)) < 0)
			goto fail;
		if (rc == 0)
			ok[nok++] = sets[i];
	}
	phase(res, "restore", t0);
	t0 = qbk_clock_ms();
	if (nok > 0 && validate(q, ok, nok, prefix.buf, o, res, err) != 0)
		goto fail;
	if (nok > 0)
		phase(res, "validate", t0);
	d->rto_ms = (uint64_t)(qbk_clock_ms() - trestore);
	/* Readable is restored (the RTO); green may take the optimizers
	 * minutes more: measured, not waited for by the RTO. */
	if (nok > 0 && wait_green(q, ok, nok, prefix.buf, o, trestore, res,
	    err) != 0)
		goto fail;
	res->ran = 1;
	rc = 0;
	goto clean;
fail:
	rc = -1;
	failed = 1;
	d->rto_ms = (uint64_t)(qbk_clock_ms() - trestore);
clean:
	t0 = qbk_clock_ms();
	if (remove_scratch(cq, prefix.buf, rc == 0 ? err : &cerr) != 0) {
		if (rc == 0) {
			rc = -1;
			failed = 1;
		} else
			qbk_warn("%s", cerr.msg);
	}
	phase(res, "cleanup", t0);
	scratch = 0;
out:
	if (scratch && remove_scratch(cq, prefix.buf, &cerr) != 0)
		qbk_warn("%s", cerr.msg);
	d->pass = rc == 0 && d->n_problems == 0;
	d->end = qbk_now();
	if (d->end < d->start)
		d->end = d->start;
	if (res->ran && !o->validate_only && d->rto_target_ms > 0)
		res->rto_met = d->rto_ms <= d->rto_target_ms;
	/* Record drills that got to a verdict or failed on their way; not
	 * one that was interrupted or never chose its backup. */
	if (!o->validate_only && o->record && d->drill_id[0] != '\0' &&
	    (rc == 0 || (failed && err->code != QBK_E_INTERRUPTED)) &&
	    (o->cancel == NULL || *o->cancel == 0)) {
		int added = failed && d->n_problems < QBK_MANIFEST_MAX_LIST;

		if (added)
			qbk_manifest_drill_add_problem(d, err->msg);
		if (qbk_repo_drill_write(repo, d, rc == 0 ? err : &cerr) != 0) {
			if (rc == 0)
				rc = -1;
			else
				qbk_warn("cannot record drill: %s", cerr.msg);
		} else
			res->recorded = 1;
		if (added) {
			/* The error stays in ${err}; keep it out of the
			 * in-memory problem list (the JSON adds it). */
			free(d->problems[--d->n_problems]);
			d->problems[d->n_problems] = NULL;
		}
	}
	for (i = 0; i < nsets; i++)
		qbk_manifest_free(sets[i].m);
	free(sets);
	free(ok);
	qbk_buf_release(&prefix);
	return rc;
}

/* ---- output ------------------------------------------------------------ */

/* {"<collection>": "<backup id>"} of a drill record; {} for records
 * written before drills said so. */
static json_t *
drilled_json(const struct qbk_manifest_drill *d)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; d != NULL && i < d->n_drilled; i++)
		json_object_set_new(o, d->drilled[i].name,
		    json_string(d->drilled[i].backup_id));
	return o;
}

static json_t *
drill_json(const struct qbk_manifest_drill *d)
{
	char start[QBK_TIME_LEN + 1], end[QBK_TIME_LEN + 1];
	json_t *o = json_object(), *a = json_array(), *ph = json_object();
	size_t i;

	qbk_time_format(d->start, start);
	qbk_time_format(d->end, end);
	json_object_set_new(o, "drill_id", json_string(d->drill_id));
	json_object_set_new(o, "backup_id", json_string(d->backup_id));
	json_object_set_new(o, "level", json_string(d->level));
	json_object_set_new(o, "scenario", json_string(d->scenario));
	json_object_set_new(o, "start", json_string(start));
	json_object_set_new(o, "end", json_string(end));
	json_object_set_new(o, "result", json_string(d->pass ? "pass" :
	    "fail"));
	json_object_set_new(o, "rto_ms", json_integer((json_int_t)d->rto_ms));
	json_object_set_new(o, "rto_target_ms", d->rto_target_ms > 0 ?
	    json_integer((json_int_t)d->rto_target_ms) : json_null());
	if (d->green_ms != QBK_MANIFEST_GREEN_UNKNOWN)
		json_object_set_new(o, "green_ms", d->green_ms >= 0 ?
		    json_integer((json_int_t)d->green_ms) : json_null());
	for (i = 0; i < d->n_phases; i++)
		json_object_set_new(ph, d->phases[i].name,
		    json_integer((json_int_t)d->phases[i].ms));
	json_object_set_new(o, "phases", ph);
	for (i = 0; i < d->n_problems; i++)
		json_array_append_new(a, json_string(d->problems[i]));
	json_object_set_new(o, "problems", a);
	json_object_set_new(o, "backups", drilled_json(d));
	return o;
}

int
qbk_drill_list(struct qbk_repo *repo, int json, struct qbk_buf *out,
    struct qbk_err *err)
{
	struct qbk_manifest_drill *d = NULL;
	json_t *doc = NULL, *a = NULL;
	char **ids = NULL;
	size_t n = 0, i, k;
	int rc = -1;

	if (qbk_repo_drill_ids(repo, &ids, &n, err) != 0)
		return -1;
	if (json) {
		doc = json_object();
		a = json_array();
		json_object_set_new(doc, "ok", json_true());
		json_object_set_new(doc, "drills", a);
		json_object_set_new(doc, "problems", json_array());
	}
	for (i = 0; i < n; i++) {
		if (qbk_repo_drill_read(repo, ids[i], &d, err) != 0) {
			qbk_err_prefix(err, "cannot read drill %s", ids[i]);
			goto out;
		}
		if (json)
			json_array_append_new(a, drill_json(d));
		else {
			qbk_buf_addf(out, "%s backup %s %s %s %s rto %.1f s",
			    d->drill_id, d->backup_id, d->level, d->scenario,
			    d->pass ? "pass" : "FAIL",
			    (double)d->rto_ms / 1000.0);
			if (d->rto_target_ms > 0)
				qbk_buf_addf(out, " target %.1f s",
				    (double)d->rto_target_ms / 1000.0);
			if (d->green_ms >= 0)
				qbk_buf_addf(out, " green %.1f s",
				    (double)d->green_ms / 1000.0);
			else if (d->green_ms == QBK_MANIFEST_GREEN_NOT_YET)
				qbk_buf_addstr(out, " not green");
			qbk_buf_addch(out, '\n');
			for (k = 0; k < d->n_problems; k++)
				qbk_buf_addf(out, "  problem: %s\n",
				    d->problems[k]);
		}
		qbk_manifest_drill_free(d);
		d = NULL;
	}
	if (json) {
		qbk_json_dump(doc, out, 1);
		qbk_buf_addch(out, '\n');
	}
	rc = 0;
out:
	json_decref(doc);
	qbk_repo_free_ids(ids, n);
	return rc;
}

void
qbk_drill_report_json(const struct qbk_drill_result *res,
    const struct qbk_err *err, struct qbk_buf *out)
{
	const struct qbk_manifest_drill *d = res->rec;
	json_t *doc = json_object(), *a = json_array(), *ph = json_object();
	size_t i;
	int ok = d != NULL && res->ran && d->pass &&
	    (err == NULL || err->code == QBK_E_OK);

	json_object_set_new(doc, "ok", json_boolean(ok));
	json_object_set_new(doc, "drill_id", d != NULL &&
	    d->drill_id[0] != '\0' ? json_string(d->drill_id) : json_null());
	json_object_set_new(doc, "backup_id", d != NULL &&
	    d->backup_id[0] != '\0' ? json_string(d->backup_id) :
	    json_null());
	json_object_set_new(doc, "level", d != NULL && d->level != NULL ?
	    json_string(d->level) : json_null());
	json_object_set_new(doc, "scenario", d != NULL && d->scenario != NULL ?
	    json_string(d->scenario) : json_null());
	json_object_set_new(doc, "validate_only",
	    json_boolean(res->validate_only));
	for (i = 0; i < res->ncollections; i++)
		json_array_append_new(a, json_string(res->collections[i]));
	json_object_set_new(doc, "collections", a);
	json_object_set_new(doc, "backups", drilled_json(d));
	for (i = 0; d != NULL && i < d->n_phases; i++)
		json_object_set_new(ph, d->phases[i].name,
		    json_integer((json_int_t)d->phases[i].ms));
	json_object_set_new(doc, "phases", ph);
	json_object_set_new(doc, "rto_ms", json_integer(d != NULL ?
	    (json_int_t)d->rto_ms : 0));
	json_object_set_new(doc, "rto_target_ms", d != NULL &&
	    d->rto_target_ms > 0 ? json_integer((json_int_t)d->rto_target_ms) :
	    json_null());
	json_object_set_new(doc, "rto_met", res->rto_met >= 0 ?
	    json_boolean(res->rto_met) : json_null());
	json_object_set_new(doc, "green_ms", d != NULL && d->green_ms >= 0 ?
	    json_integer((json_int_t)d->green_ms) : json_null());
	if (res->pitr_time >= 0) {
		char t[QBK_TIME_LEN + 1];

		qbk_time_format(res->pitr_time, t);
		json_object_set_new(doc, "pitr_time", json_string(t));
	}
	json_object_set_new(doc, "leftovers_removed",
	    json_integer((json_int_t)res->leftovers));
	json_object_set_new(doc, "points_checked",
	    json_integer((json_int_t)res->points_checked));
	json_object_set_new(doc, "shards_checked",
	    json_integer((json_int_t)res->shards_checked));
	json_object_set_new(doc, "recorded", json_boolean(res->recorded));
	a = json_array();
	for (i = 0; d != NULL && i < d->n_problems; i++)
		json_array_append_new(a, json_string(d->problems[i]));
	if (err != NULL && err->code != QBK_E_OK)
		json_array_append_new(a, json_string(err->msg));
	json_object_set_new(doc, "problems", a);
	qbk_json_dump(doc, out, 1);
	qbk_buf_addch(out, '\n');
	json_decref(doc);
}

void
qbk_drill_metrics(const struct qbk_drill_result *res, int ok, int64_t now,
    struct qbk_buf *out)
{
	const struct qbk_manifest_drill *d = res->rec;
	size_t i;

	qbk_buf_addstr(out, "# HELP qbk_drill_last_run_timestamp_seconds "
	    "End of the last qbk-drill run.\n"
	    "# TYPE qbk_drill_last_run_timestamp_seconds gauge\n");
	qbk_buf_addf(out, "qbk_drill_last_run_timestamp_seconds %lld\n",
	    (long long)now);
	qbk_buf_addstr(out, "# HELP qbk_drill_last_run_success "
	    "1 if the last drill's validation passed.\n"
	    "# TYPE qbk_drill_last_run_success gauge\n");
	qbk_buf_addf(out, "qbk_drill_last_run_success %d\n", ok ? 1 : 0);
	if (d == NULL || d->n_phases == 0)
		return;
	if (!res->validate_only) {
		qbk_buf_addstr(out, "# HELP qbk_drill_rto_seconds Measured "
		    "recovery time of the last drill (restore and "
		    "validation).\n"
		    "# TYPE qbk_drill_rto_seconds gauge\n");
		qbk_buf_addf(out, "qbk_drill_rto_seconds %.3f\n",
		    (double)d->rto_ms / 1000.0);
	}
	if (!res->validate_only && d->green_ms >= 0) {
		qbk_buf_addstr(out, "# HELP qbk_drill_green_seconds Time from "
		    "the start of the restore until every restored "
		    "collection was green (optimizations done).\n"
		    "# TYPE qbk_drill_green_seconds gauge\n");
		qbk_buf_addf(out, "qbk_drill_green_seconds %.3f\n",
		    (double)d->green_ms / 1000.0);
	}
	if (!res->validate_only && d->rto_target_ms > 0) {
		qbk_buf_addstr(out, "# HELP qbk_drill_rto_target_seconds "
		    "Recovery time objective ([objectives] rto).\n"
		    "# TYPE qbk_drill_rto_target_seconds gauge\n");
		qbk_buf_addf(out, "qbk_drill_rto_target_seconds %.3f\n",
		    (double)d->rto_target_ms / 1000.0);
		qbk_buf_addstr(out, "# HELP qbk_drill_rto_met 1 if the last "
		    "drill's recovery time met the objective.\n"
		    "# TYPE qbk_drill_rto_met gauge\n");
		qbk_buf_addf(out, "qbk_drill_rto_met %d\n",
		    d->rto_ms <= d->rto_target_ms ? 1 : 0);
	}
	qbk_buf_addstr(out, "# HELP qbk_drill_phase_seconds Duration of each "
	    "phase of the last drill.\n"
	    "# TYPE qbk_drill_phase_seconds gauge\n");
	for (i = 0; i < d->n_phases; i++)
		qbk_buf_addf(out, "qbk_drill_phase_seconds{phase=\"%s\"} "
		    "%.3f\n", d->phases[i].name,
		    (double)d->phases[i].ms / 1000.0);
}
