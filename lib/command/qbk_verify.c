#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_idset.h"
#include "common/qbk_log.h"
#include "qdrant/qbk_cluster.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_job.h"
#include "repo/qbk_layout.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "stream/qbk_extract.h"
#include "stream/qbk_ingest.h"
#include "stream/qbk_tar.h"
#include "command/qbk_ctx.h"
#include "command/qbk_verify.h"

/* Object bytes around the payload: header and tag (qbk_chunk.h). */
#define OBJ_OVERHEAD	((uint64_t)QBK_CHUNK_HEADER_LEN + 16)
#define SEALED_MAX	((size_t)1 << 30)

struct obj {
	uint8_t id[QBK_ID_LEN];
	uint64_t size;
};

struct objmap {
	struct obj *v;
	size_t n, alloc;
};

struct bad {
	uint8_t id[QBK_ID_LEN];
	char *why;
};

struct badlist {
	struct bad *v;
	size_t n, alloc;
	struct qbk_idset *set;
};

struct verify {
	struct qbk_repo *repo;
	const struct qbk_verify_opts *opts;
	struct qbk_verify_result *res;
	struct qbk_manifest **m;	/* readable manifests, oldest first */
	size_t nm;
	struct objmap objs;
	struct badlist bad;		/* missing, implausible or damaged */
	struct qbk_idset *all;		/* every chunk referenced */
	struct qbk_cluster *cl;		/* --live on a cluster without a
					 * peer list: discovered */
};

static void problem(struct verify *, const char *, const char *,
    const uint8_t *, const char *, ...) __attribute__((format(printf, 5, 6)));

static void
problem(struct verify *v, const char *backup, const char *coll,
    const uint8_t *chunk, const char *fmt, ...)
{
	struct qbk_verify_result *res = v->res;
	struct qbk_verify_problem *p;
	struct qbk_buf text = QBK_BUF_INIT, msg = QBK_BUF_INIT;
	char hex[2 * QBK_ID_LEN + 1];
	va_list ap;

	va_start(ap, fmt);
	qbk_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	res->problems = qbk_xrealloc(res->problems,
	    (res->n_problems + 1) * sizeof(*res->problems));
	p = &res->problems[res->n_problems++];
	p->backup = backup != NULL ? qbk_xstrdup(backup) : NULL;
	p->collection = coll != NULL ? qbk_xstrdup(coll) : NULL;
	p->chunk = NULL;
	if (chunk != NULL) {
		qbk_id_to_hex(chunk, hex);
		p->chunk = qbk_xstrdup(hex);
	}
	p->problem = qbk_buf_detach(&msg, NULL);
	qbk_verify_problem_text(p, &text);
	qbk_log(QBK_LOG_DETAIL, "%s", text.buf);
	qbk_buf_release(&text);
}

static int
obj_cmp(const void *a, const void *b)
{
	return memcmp(a, b, QBK_ID_LEN);
}

static const struct obj *
obj_find(const struct objmap *m, const uint8_t *id)
{
	return bsearch(id, m->v, m->n, sizeof(*m->v), obj_cmp);
}

static int
list_obj(void *cookie, const uint8_t *id,
    const struct qbk_repo_chunk_stat *st, struct qbk_err *err)
{
	struct objmap *m = cookie;

	(void)err;
	if (m->n == m->alloc) {
		m->alloc = m->alloc ? m->alloc * 2 : 1024;
		m->v = qbk_xrealloc(m->v, m->alloc * sizeof(*m->v));
	}
	memcpy(m->v[m->n].id, id, QBK_ID_LEN);
	m->v[m->n].size = st != NULL ? st->size : 0;
	m->n++;
	return 0;
}

static void
bad_add(struct badlist *b, const uint8_t *id, const char *why)
{
	if (qbk_idset_add(b->set, id) == 0)
		return;		/* known already */
	if (b->n == b->alloc) {
		b->alloc = b->alloc ? b->alloc * 2 : 16;
		b->v = qbk_xrealloc(b->v, b->alloc * sizeof(*b->v));
	}
	memcpy(b->v[b->n].id, id, QBK_ID_LEN);
	b->v[b->n].why = qbk_xstrdup(why);
	b->n++;
}

static const char *
bad_why(const struct badlist *b, const uint8_t *id)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (memcmp(b->v[i].id, id, QBK_ID_LEN) == 0)
			return b->v[i].why;
	return "damaged";
}

/* Key slots: each must parse. */
static int
check_slots(struct verify *v, struct qbk_err *err)
{
	struct qbk_repo_slot_info *slots = NULL;
	size_t i, n = 0;

	if (qbk_repo_slots(v->repo, &slots, &n, err) != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(slots[i].kind, "damaged") == 0)
			problem(v, NULL, NULL, NULL, "key slot '%s' is "
			    "damaged: %s", slots[i].id, slots[i].comment);
	v->res->checked.key_slots = n;
	free(slots);
	return 0;
}

/* One sealed object of a manifest (${cls}: the manifest or its copy):
 * present (unless ${optional}) and it opens.  Returns 0, or -1 on a
 * storage failure. */
static int
check_sealed(struct verify *v, const char *id, enum qbk_layout_class cls,
    int optional, struct qbk_err *err)
{
	struct qbk_buf obj = QBK_BUF_INIT, json = QBK_BUF_INIT;
	struct qbk_err e = QBK_ERR_INIT;
	char name[QBK_LAYOUT_KEY_MAX], key[QBK_LAYOUT_KEY_MAX];
	int rc = 0;

	qbk_layout_key(QBK_LAYOUT_MANIFEST, id, name);
	qbk_layout_key(cls, id, key);
	if (qbk_repo_sealed_get(v->repo, cls, id, SEALED_MAX, &obj,
	    &e) != 0) {
		if (e.code == QBK_E_NOTFOUND) {
			if (!optional)
				problem(v, id, NULL, NULL, "manifest '%s' is "
				    "missing", key);
		} else if (e.code == QBK_E_INTEGRITY) {
			problem(v, id, NULL, NULL, "manifest '%s': %s", key,
			    e.msg);
		} else {
			*err = e;
			rc = -1;
		}
		goto out;
	}
	if (qbk_repo_unseal(v->repo, name, obj.buf, obj.len, &json, &e) != 0)
		problem(v, id, NULL, NULL, "manifest '%s' is damaged: %s", key,
		    e.msg);
out:
	qbk_buf_release(&obj);
	qbk_buf_release(&json);
	return rc;
}

static int
load_manifests(struct verify *v, int check, struct qbk_err *err)
{
	char **ids = NULL;
	size_t i, n = 0;
	int rc = -1;

	if (v->opts->backup_id != NULL) {
		ids = qbk_xcalloc(1, sizeof(*ids));
		ids[0] = qbk_xstrdup(v->opts->backup_id);
		n = 1;
	} else if (qbk_repo_backup_ids(v->repo, &ids, &n, err) != 0) {
		return -1;
	}
	v->m = qbk_xcalloc(n ? n : 1, sizeof(*v->m));
	/* Without the repository checks (--live alone) only the newest
	 * readable manifest is needed: start there. */
	for (i = check ? 0 : n - 1; i < n; i = check ? i + 1 : i - 1) {
		struct qbk_manifest *m = NULL;
		struct qbk_err e = QBK_ERR_INIT;

		if (!check && v->nm > 0)
			break;
		v->res->checked.backups++;

		if (qbk_job_check(v->opts->cancel, v->opts->lock, err) != 0)
			goto out;
		if (check) {
			if (check_sealed(v, ids[i], QBK_LAYOUT_MANIFEST,
			    v->opts->backup_id != NULL, err) != 0 ||
			    check_sealed(v, ids[i], QBK_LAYOUT_MANIFEST_COPY,
			    1, err) != 0)
				goto out;
		}
		if (qbk_repo_manifest_read(v->repo, ids[i], &m, &e) != 0) {
			if (e.code == QBK_E_NOTFOUND &&
			    v->opts->backup_id != NULL) {
				qbk_err_set(err, QBK_E_USAGE, "%s", e.msg);
				goto out;
			}
			if (e.code != QBK_E_INTEGRITY &&
			    e.code != QBK_E_NOTFOUND && e.code != QBK_E_CRYPTO) {
				*err = e;
				goto out;
			}
			problem(v, ids[i], NULL, NULL, "manifest cannot be "
			    "read: %s", e.msg);
			continue;
		}
		v->m[v->nm++] = m;
	}
	rc = 0;
out:
	qbk_repo_free_ids(ids, n);
	return rc;
}

/* Quick: every chunk reference against the listing of data/. */
struct refs {
	struct verify *v;
	const struct qbk_manifest *m;
	struct qbk_idset *seen;		/* reported in this backup */
	const struct qbk_idset *skip;	/* reported by the quick check */
};

static int
check_ref(void *cookie, const struct qbk_manifest_collection *c,
    const struct qbk_manifest_snapshot *s, const struct qbk_manifest_chunk *k)
{
	struct refs *r = cookie;
	struct verify *v = r->v;
	const struct obj *o;
	const char *coll = c != NULL ? c->name : NULL;
	char why[256];

	(void)s;
	v->res->checked.chunk_refs++;
	qbk_idset_add(v->all, k->id);
	o = obj_find(&v->objs, k->id);
	if (o == NULL)
		snprintf(why, sizeof(why), "chunk is missing");
	else if (o->size <= OBJ_OVERHEAD || o->size > OBJ_OVERHEAD + k->len)
		snprintf(why, sizeof(why), "chunk object has an implausible "
		    "size: %llu bytes for %lu plaintext bytes",
		    (unsigned long long)o->size, (unsigned long)k->len);
	else
		return 0;
	bad_add(&v->bad, k->id, why);
	if (qbk_idset_add(r->seen, k->id) == 1)
		problem(v, r->m->backup_id, coll, k->id, "%s", why);
	return 0;
}

static int
check_refs(struct verify *v, struct qbk_err *err)
{
	size_t i;
	int rc;

	rc = qbk_repo_chunk_list(v->repo, list_obj, &v->objs, err);
	if (rc < 0)
		return -1;
	if (v->objs.n > 0)	/* qsort(NULL, 0) is undefined */
		qsort(v->objs.v, v->objs.n, sizeof(*v->objs.v), obj_cmp);
	for (i = 0; i < v->nm; i++) {
		struct refs r = { v, v->m[i], qbk_idset_new(0), NULL };

		if (qbk_job_check(v->opts->cancel, v->opts->lock, err) != 0) {
			qbk_idset_free(r.seen);
			return -1;
		}
		qbk_manifest_foreach_chunk(v->m[i], check_ref, &r);
		qbk_idset_free(r.seen);
	}
	v->res->checked.chunks = qbk_idset_count(v->all);
	return 0;
}

/* read_data: the chosen chunks, by a pool of threads. */
struct pool {
	struct verify *v;
	uint8_t (*ids)[QBK_ID_LEN];
	size_t n, next;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* a reader finished */
	unsigned finished;
	int failed;
	struct qbk_err err;
	uint64_t read;
};

struct pick {
	struct verify *v;
	struct pool *p;
};

static int
chosen(const struct qbk_verify_opts *o, const uint8_t *id)
{
	uint64_t x;
	uint16_t rnd;

	if (o->slice_n > 0) {
		/* The K-th of N equal ranges of the 32-bit id prefix. */
		x = (uint64_t)id[0] << 24 | (uint64_t)id[1] << 16 |
		    (uint64_t)id[2] << 8 | id[3];
		return (x * o->slice_n) >> 32 == (uint64_t)(o->slice_k - 1);
	}
	if (o->percent > 0) {
		qbk_crypto_random(&rnd, sizeof(rnd));
		return (unsigned)(rnd % 10000) < o->percent * 100;
	}
	return 1;
}

static int
pick_one(void *cookie, const uint8_t *id)
{
	struct pick *k = cookie;
	struct pool *p = k->p;

	if (qbk_idset_has(k->v->bad.set, id) || !chosen(k->v->opts, id))
		return 0;
	memcpy(p->ids[p->n++], id, QBK_ID_LEN);
	return 0;
}

static void *
reader_main(void *cookie)
{
	struct pool *p = cookie;
	struct verify *v = p->v;
	struct qbk_chunk_work *w = NULL;
	struct qbk_err e = QBK_ERR_INIT;
	size_t i;
	int r;

	if (qbk_chunk_work_new(qbk_repo_chunk_params(v->repo)->max, &w,
	    &e) != 0) {
		pthread_mutex_lock(&p->lock);
		if (!p->failed) {
			p->failed = 1;
			p->err = e;
		}
		p->finished++;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&p->lock);
		if (p->failed || p->next == p->n ||
		    qbk_job_stopped(v->opts->cancel)) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		i = p->next++;
		pthread_mutex_unlock(&p->lock);
		qbk_err_clear(&e);
		r = qbk_repo_chunk_check(v->repo, w, p->ids[i], &e);
		pthread_mutex_lock(&p->lock);
		if (r < 0 && !p->failed) {
			p->failed = 1;
			p->err = e;
		} else if (r == 0) {
			bad_add(&v->bad, p->ids[i], e.msg);
		}
		if (r >= 0)
			p->read++;
		pthread_mutex_unlock(&p->lock);
	}
	qbk_chunk_work_free(w);
	pthread_mutex_lock(&p->lock);
	p->finished++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Report the chunks found damaged by the readers, once per backup and
 * chunk, with the collection that names it. */
static int
report_damaged(void *cookie, const struct qbk_manifest_collection *c,
    const struct qbk_manifest_snapshot *s, const struct qbk_manifest_chunk *k)
{
	struct refs *r = cookie;

	(void)s;
	if (!qbk_idset_has(r->v->bad.set, k->id) ||
	    qbk_idset_has(r->skip, k->id))
		return 0;	/* fine, or reported by the quick check */
	if (qbk_idset_add(r->seen, k->id) == 1)
		problem(r->v, r->m->backup_id, c != NULL ? c->name : NULL,
		    k->id, "chunk is damaged: %s", bad_why(&r->v->bad, k->id));
	return 0;
}

static int
mark_quick_bad(void *cookie, const uint8_t *id)
{
	return qbk_idset_add(cookie, id) < 0;
}

static int
read_chunks(struct verify *v, struct qbk_err *err)
{
	struct pool p;
	struct pick k;
	struct qbk_idset *quick;
	pthread_t th[QBK_EXTRACT_MAX_AUTO_WORKERS];
	unsigned i, nth;
	size_t j;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	p.v = v;
	p.ids = qbk_xcalloc(qbk_idset_count(v->all) + 1, QBK_ID_LEN);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	k.v = v;
	k.p = &p;
	qbk_idset_foreach(v->all, pick_one, &k);
	qsort(p.ids, p.n, QBK_ID_LEN, obj_cmp);
	nth = v->opts->workers ? v->opts->workers :
	    qbk_extract_default_workers();
	if (nth > QBK_EXTRACT_MAX_AUTO_WORKERS)
		nth = QBK_EXTRACT_MAX_AUTO_WORKERS;
	if (nth > p.n)
		nth = p.n > 0 ? (unsigned)p.n : 1;
	/* Chunks that the quick check reported stay as they were. */
	quick = qbk_idset_new(0);
	qbk_idset_foreach(v->bad.set, mark_quick_bad, quick);
	for (i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, reader_main, &p) != 0)
			break;
	if (i == 0) {
		qbk_err_set(err, QBK_E_INTERNAL, "cannot start a thread");
		goto out;
	}
	nth = i;
	/* Wait for the readers, refreshing the lock meanwhile; a lost lock
	 * stops them. */
	pthread_mutex_lock(&p.lock);
	while (p.finished < nth) {
		struct timespec ts;
		struct qbk_err e = QBK_ERR_INIT;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		pthread_cond_timedwait(&p.cond, &p.lock, &ts);
		if (p.failed || v->opts->lock == NULL)
			continue;
		pthread_mutex_unlock(&p.lock);
		if (qbk_job_check(NULL, v->opts->lock, &e) != 0) {
			pthread_mutex_lock(&p.lock);
			if (!p.failed) {
				p.failed = 1;
				p.err = e;
			}
			continue;
		}
		pthread_mutex_lock(&p.lock);
	}
	pthread_mutex_unlock(&p.lock);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (p.failed) {
		*err = p.err;
		goto out;
	}
	if (qbk_job_stopped(v->opts->cancel)) {
		qbk_err_set(err, QBK_E_INTERRUPTED, "interrupted");
		goto out;
	}
	v->res->checked.chunks_read = p.read;
	for (j = 0; j < v->nm; j++) {
		struct refs r = { v, v->m[j], qbk_idset_new(0), quick };

		qbk_manifest_foreach_chunk(v->m[j], report_damaged, &r);
		qbk_idset_free(r.seen);
	}
	rc = 0;
out:
	qbk_idset_free(quick);
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.lock);
	free(p.ids);
	return rc;
}

/* Reassembly of one snapshot through qbk_extract and qbk_tar. */
struct xsrc {
	struct verify *v;
	struct qbk_extract *x;
};

static int
extract_next(void *cookie, const void **data, size_t *len,
    struct qbk_err *err)
{
	struct xsrc *xs = cookie;

	if (qbk_job_check(xs->v->opts->cancel, xs->v->opts->lock,
	    err) != 0)
		return -1;
	return qbk_extract_next(xs->x, data, len, err);
}

static int
check_snapshot(struct verify *v, const struct qbk_manifest *m,
    const struct qbk_manifest_collection *c,
    const struct qbk_manifest_snapshot *s, struct qbk_idset *done,
    struct qbk_err *err)
{
	struct qbk_extract_opts xo = QBK_EXTRACT_OPTS_INIT;
	struct qbk_extract *x = NULL;
	struct xsrc xs;
	struct qbk_ingest_entry *ents = NULL;
	struct qbk_err e = QBK_ERR_INIT;
	enum qbk_ingest_layout layout;
	const char *coll = c != NULL ? c->name : NULL;
	uint8_t sha[32];
	size_t i, n = 0;

	for (i = 0; i < s->n_chunks; i++)
		if (qbk_idset_has(v->bad.set, s->chunks[i].id))
			return 0;	/* its bad chunks are reported */
	if (qbk_unhex(s->sha256, sha, sizeof(sha)) == 0 &&
	    qbk_idset_has(done, sha))
		return 0;		/* the same stream, checked */
	xo.workers = v->opts->workers;
	xo.backup_id = m->backup_id;
	xo.collection = coll;
	xo.cancel = v->opts->cancel;
	if (qbk_extract_open(v->repo, s, &xo, &x, &e) != 0)
		goto fail;
	xs.v = v;
	xs.x = x;
	if (qbk_tar_check(extract_next, &xs, &ents, &n, &e) != 0)
		goto fail;
	switch (s->kind) {
	case QBK_MANIFEST_SNAP_SHARD:
		layout = QBK_INGEST_SHARD;
		break;
	case QBK_MANIFEST_SNAP_FULL:
		layout = QBK_INGEST_FULL;
		break;
	default:
		layout = QBK_INGEST_COLLECTION;
		break;
	}
	if (qbk_ingest_check_layout(ents, n, layout, &e) != 0)
		goto fail;
	v->res->checked.snapshots++;
	v->res->checked.bytes += s->size;
	qbk_idset_add(done, sha);
	qbk_tar_entries_free(ents, n);
	qbk_extract_close(x);
	return 0;
fail:
	qbk_tar_entries_free(ents, n);
	qbk_extract_close(x);
	if (e.code == QBK_E_INTERRUPTED || e.code == QBK_E_NOMEM ||
	    e.code == QBK_E_INTERNAL || e.code == QBK_E_LOCKED) {
		*err = e;
		return -1;
	}
	problem(v, m->backup_id, coll, NULL, "snapshot '%s': %s",
	    s->name != NULL ? s->name : "", e.msg);
	return 0;
}

static int
reassemble(struct verify *v, struct qbk_err *err)
{
	struct qbk_idset *done = qbk_idset_new(0);
	size_t i, j, k;
	int rc = -1;

	for (i = 0; i < v->nm; i++) {
		const struct qbk_manifest *m = v->m[i];

		for (j = 0; j < m->n_collections; j++)
			for (k = 0; k < m->collections[j]->n_snapshots; k++)
				if (check_snapshot(v, m, m->collections[j],
				    m->collections[j]->snapshots[k], done,
				    err) != 0)
					goto out;
		for (k = 0; k < m->n_snapshots; k++)
			if (check_snapshot(v, m, NULL, m->snapshots[k], done,
			    err) != 0)
				goto out;
	}
	rc = 0;
out:
	qbk_idset_free(done);
	return rc;
}

/* --live */

/* Replicas of one shard must hold the same number of points: ask every
 * node for its local replicas of ${name} and compare. */
static int
live_replicas(struct verify *v, const char *name, struct qbk_err *err)
{
	struct qbk_qdrant_shard *seen = NULL;
	size_t nseen = 0, p, i, k;
	int rc = -1;

	for (p = 0; p < v->opts->npeers; p++) {
		struct qbk_qdrant_coll_cluster *cl = NULL;

		if (qbk_qdrant_collection_cluster(v->opts->peers[p], name, &cl,
		    err) != 0) {
			if (err->code != QBK_E_NET) {
				qbk_err_prefix(err, "node '%s'",
				    qbk_qdrant_url(v->opts->peers[p]));
				goto out;
			}
			/* A node that does not answer is a finding of the
			 * live check, not the end of it. */
			problem(v, NULL, name, NULL, "node '%s' does not "
			    "answer: %s", qbk_qdrant_url(v->opts->peers[p]),
			    err->msg);
			qbk_err_clear(err);
			continue;
		}
		for (i = 0; i < cl->nlocal; i++) {
			const struct qbk_qdrant_shard *s = &cl->local[i];

			if (strcmp(s->state, "Active") != 0 ||
			    s->points_count < 0)
				continue;
			for (k = 0; k < nseen; k++)
				if (seen[k].shard_id == s->shard_id &&
				    seen[k].points_count != s->points_count)
					problem(v, NULL, name, NULL, "shard %lu: "
					    "replica on peer %llu has %lld "
					    "points, replica on peer %llu has "
					    "%lld", (unsigned long)s->shard_id,
					    (unsigned long long)seen[k].peer_id,
					    (long long)seen[k].points_count,
					    (unsigned long long)s->peer_id,
					    (long long)s->points_count);
			seen = qbk_xrealloc(seen, (nseen + 1) * sizeof(*seen));
			seen[nseen] = *s;
			seen[nseen++].shard_key = NULL;
		}
		qbk_qdrant_coll_cluster_free(cl);
	}
	rc = 0;
out:
	free(seen);
	return rc;
}

/* The same with the discovered cluster: every peer's replicas of every
 * shard, and each shard's points against the backup's layout. */
static int
live_shards(struct verify *v, const struct qbk_manifest_collection *mc,
    const char *backup, const char *name, struct qbk_err *err)
{
	struct qbk_cluster_layout *l = NULL;
	struct qbk_cluster_keyed *from = NULL, *to = NULL;
	int64_t *map = NULL;
	size_t i, k, j;

	if (qbk_cluster_layout(v->cl, v->opts->live, name, &l, err) != 0)
		return -1;
	/* The shards of the backup as they are numbered here (custom
	 * sharding gives a restored key's shards new ids). */
	if (mc != NULL && mc->cluster != NULL) {
		from = qbk_xcalloc(mc->cluster->n_shards + 1, sizeof(*from));
		for (j = 0; j < mc->cluster->n_shards; j++) {
			from[j].id = (uint32_t)mc->cluster->shards[j].shard_id;
			from[j].key = mc->cluster->shards[j].shard_key;
		}
		to = qbk_xcalloc(l->nshards + 1, sizeof(*to));
		for (j = 0; j < l->nshards; j++) {
			to[j].id = l->shards[j].id;
			to[j].key = l->shards[j].shard_key;
		}
		map = qbk_xcalloc(mc->cluster->n_shards + 1, sizeof(*map));
		qbk_cluster_map_shards(from, mc->cluster->n_shards, to,
		    l->nshards, map);
	}
	for (i = 0; i < l->nshards; i++) {
		const struct qbk_cluster_shard *sh = &l->shards[i];
		const struct qbk_cluster_replica *ref = NULL;
		size_t active = 0;
		int agree = 1;

		if (sh->nreplicas == 0)
			problem(v, NULL, name, NULL, "shard %u has no replica",
			    sh->id);
		/* Active replicas with a known count must agree: each one
		 * that does not is named beside the first one counted. */
		for (k = 0; k < sh->nreplicas; k++) {
			const struct qbk_cluster_replica *r = &sh->replicas[k];

			if (!qbk_cluster_replica_active(r))
				continue;
			active++;
			if (r->points_count < 0)
				continue;
			if (ref == NULL)
				ref = r;
			else if (r->points_count != ref->points_count) {
				agree = 0;
				problem(v, NULL, name, NULL, "shard %u: "
				    "replica on peer %llu has %lld points, "
				    "replica on peer %llu has %lld", sh->id,
				    (unsigned long long)ref->peer_id,
				    (long long)ref->points_count,
				    (unsigned long long)r->peer_id,
				    (long long)r->points_count);
			}
		}
		if (sh->nreplicas > 0 && active == 0)
			problem(v, NULL, name, NULL, "shard %u has no active "
			    "replica", sh->id);
		if (map == NULL || ref == NULL ||
		    mc->cluster->shard_number != l->shard_count)
			continue;
		for (j = 0; j < mc->cluster->n_shards; j++) {
			const struct qbk_manifest_shard *ms =
			    &mc->cluster->shards[j];
			char as[48] = "";

			if (map[j] != (int64_t)sh->id || ms->peer_id == 0)
				continue;
			if (ms->shard_id != (int64_t)sh->id)
				snprintf(as, sizeof(as), " (as shard %lld)",
				    (long long)ms->shard_id);
			if (agree) {
				if (ms->points_count != (uint64_t)
				    ref->points_count)
					problem(v, backup, name, NULL,
					    "shard %u has %lld points, the "
					    "backup recorded %llu%s", sh->id,
					    (long long)ref->points_count,
					    (unsigned long long)
					    ms->points_count, as);
				continue;
			}
			/* Replicas that disagree: each against the backup. */
			for (k = 0; k < sh->nreplicas; k++) {
				const struct qbk_cluster_replica *r =
				    &sh->replicas[k];

				if (qbk_cluster_replica_active(r) &&
				    r->points_count >= 0 &&
				    (uint64_t)r->points_count !=
				    ms->points_count)
					problem(v, backup, name, NULL, "shard "
					    "%u: replica on peer %llu has %lld "
					    "points, the backup recorded "
					    "%llu%s", sh->id,
					    (unsigned long long)r->peer_id,
					    (long long)r->points_count,
					    (unsigned long long)
					    ms->points_count, as);
			}
		}
	}
	free(from);
	free(to);
	free(map);
	for (i = 0; i < v->cl->npeers; i++)
		if (!v->cl->peers[i].reachable)
			problem(v, NULL, name, NULL, "peer %llu does not answer "
			    "at '%s': %s", (unsigned long long)
			    v->cl->peers[i].id, v->cl->peers[i].url,
			    v->cl->peers[i].error != NULL ?
			    v->cl->peers[i].error : "unknown");
	qbk_cluster_layout_free(l);
	return 0;
}

/*
 * The points of ${name} against the backup's count.  The points_count of
 * the collection info is an estimate (Qdrant sums its segments' counts, so
 * a point being moved by the optimizer counts twice): when it differs, the
 * exact count (qbk_qdrant_count(), by scrolling where strict mode refuses
 * one) decides.
 */
static int
live_count(struct verify *v, const char *backup_id, const char *name,
    const struct qbk_qdrant_collection *info,
    const struct qbk_manifest_collection *mc, struct qbk_err *err)
{
	uint64_t n;

	if (info->points_count >= 0 &&
	    (uint64_t)info->points_count == mc->points_count)
		return 0;
	if (qbk_qdrant_count(v->opts->live, name, NULL, &n, err) != 0)
		return -1;
	if (n != mc->points_count)
		problem(v, backup_id, name, NULL, "collection has %llu "
		    "points, the backup recorded %llu", (unsigned long long)n,
		    (unsigned long long)mc->points_count);
	else
		qbk_info("collection '%s': %lld points by its estimate, "
		    "%llu counted exactly, as the backup recorded", name,
		    (long long)info->points_count, (unsigned long long)n);
	return 0;
}

static int
live_collection(struct verify *v, const struct qbk_manifest *m,
    const char *name, struct qbk_err *err)
{
	struct qbk_qdrant *q = v->opts->live;
	struct qbk_qdrant_collection *info = NULL;
	struct qbk_qdrant_coll_cluster *cl = NULL;
	const struct qbk_manifest_collection *mc;
	size_t i;
	int rc = -1;

	if (qbk_qdrant_collection_info(q, name, &info, err) != 0)
		goto out;
	v->res->checked.collections++;
	/* Grey (optimizations pending, e.g. after a shard recovery) and
	 * yellow (optimizing) are readable and whole; red is not. */
	if (strcmp(info->status, "green") != 0 &&
	    strcmp(info->status, "grey") != 0 &&
	    strcmp(info->status, "yellow") != 0)
		problem(v, NULL, name, NULL, "collection status is '%s' "
		    "(failed operations or an optimizer error)",
		    info->status);
	else if (strcmp(info->status, "green") != 0)
		qbk_info("collection '%s' is %s: readable, optimizations %s",
		    name, info->status, strcmp(info->status, "grey") == 0 ?
		    "pending" : "running");
	if (qbk_qdrant_collection_cluster(q, name, &cl, err) != 0)
		goto out;
	for (i = 0; i < cl->nlocal; i++)
		if (strcmp(cl->local[i].state, "Active") != 0)
			problem(v, NULL, name, NULL, "shard %lu on peer %llu "
			    "is %s, not Active", (unsigned long)
			    cl->local[i].shard_id, (unsigned long long)
			    cl->local[i].peer_id, cl->local[i].state);
	for (i = 0; i < cl->nremote; i++)
		if (strcmp(cl->remote[i].state, "Active") != 0)
			problem(v, NULL, name, NULL, "shard %lu on peer %llu "
			    "is %s, not Active", (unsigned long)
			    cl->remote[i].shard_id, (unsigned long long)
			    cl->remote[i].peer_id, cl->remote[i].state);
	if (v->opts->npeers > 1 && (v->cl == NULL || !v->cl->enabled) &&
	    live_replicas(v, name, err) != 0)
		goto out;
	if (v->cl != NULL && v->cl->enabled &&
	    live_shards(v, m != NULL ? qbk_manifest_find_collection(m, name) :
	    NULL, m != NULL ? m->backup_id : NULL, name, err) != 0)
		goto out;
	if (m != NULL) {
		mc = qbk_manifest_find_collection(m, name);
		if (mc == NULL)
			problem(v, m->backup_id, name, NULL, "collection is "
			    "not in the backup");
		else if (live_count(v, m->backup_id, name, info, mc,
		    err) != 0)
			goto out;
	}
	rc = 0;
out:
	qbk_qdrant_coll_cluster_free(cl);
	qbk_qdrant_collection_free(info);
	return rc;
}

static int
check_live(struct verify *v, struct qbk_err *err)
{
	const struct qbk_manifest *m = v->nm > 0 ? v->m[v->nm - 1] : NULL;
	char **names = NULL;
	size_t i, k;
	int rc = -1;

	if (m != NULL)
		snprintf(v->res->live_backup, sizeof(v->res->live_backup),
		    "%s", m->backup_id);
	else
		problem(v, NULL, NULL, NULL, "no readable backup to compare "
		    "the deployment with");
	if (qbk_qdrant_collections(v->opts->live, &names, err) != 0)
		return -1;
	{
		/* The peers' REST URLs, if the caller knows them. */
		const char **urls = qbk_xcalloc(v->opts->npeers + 1,
		    sizeof(*urls));

		for (i = 0; i < v->opts->npeers; i++)
			urls[i] = qbk_qdrant_url(v->opts->peers[i]);
		rc = qbk_cluster_discover(v->opts->live, urls,
		    v->opts->npeers, &v->cl, err);
		free(urls);
		if (rc != 0)
			goto out;
		rc = -1;
	}
	for (i = 0; names[i] != NULL; i++) {
		if (qbk_job_stopped(v->opts->cancel)) {
			qbk_err_set(err, QBK_E_INTERRUPTED, "interrupted");
			goto out;
		}
		if (live_collection(v, m, names[i], err) != 0)
			goto out;
	}
	for (k = 0; m != NULL && k < m->n_collections; k++) {
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], m->collections[k]->name) == 0)
				break;
		if (names[i] == NULL)
			problem(v, m->backup_id, m->collections[k]->name, NULL,
			    "collection of the backup is not in the "
			    "deployment");
	}
	rc = 0;
out:
	qbk_cluster_free(v->cl);
	v->cl = NULL;
	qbk_qdrant_strv_free(names);
	return rc;
}

int
qbk_verify_run(struct qbk_repo *repo, const struct qbk_verify_opts *opts,
    struct qbk_verify_result *res, struct qbk_err *err)
{
	struct verify v;
	size_t i;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&v, 0, sizeof(v));
	v.repo = repo;
	v.opts = opts;
	v.res = res;
	v.bad.set = qbk_idset_new(0);
	v.all = qbk_idset_new(0);
	if (opts->repo && check_slots(&v, err) != 0)
		goto out;
	if (load_manifests(&v, opts->repo, err) != 0)
		goto out;
	if (opts->repo && check_refs(&v, err) != 0)
		goto out;
	if (opts->repo && opts->read_data) {
		if (read_chunks(&v, err) != 0)
			goto out;
		if (opts->slice_n == 0 && opts->percent == 0 &&
		    reassemble(&v, err) != 0)
			goto out;
	}
	if (opts->live != NULL && check_live(&v, err) != 0)
		goto out;
	rc = 0;
out:
	for (i = 0; i < v.nm; i++)
		qbk_manifest_free(v.m[i]);
	free(v.m);
	free(v.objs.v);
	for (i = 0; i < v.bad.n; i++)
		free(v.bad.v[i].why);
	free(v.bad.v);
	qbk_idset_free(v.bad.set);
	qbk_idset_free(v.all);
	return rc;
}

void
qbk_verify_result_release(struct qbk_verify_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; i < res->n_problems; i++) {
		free(res->problems[i].backup);
		free(res->problems[i].collection);
		free(res->problems[i].chunk);
		free(res->problems[i].problem);
	}
	free(res->problems);
	memset(res, 0, sizeof(*res));
}

void
qbk_verify_problem_text(const struct qbk_verify_problem *p,
    struct qbk_buf *out)
{
	const char *sep = "";

	if (p->backup != NULL) {
		qbk_buf_addf(out, "backup '%s'", p->backup);
		sep = ", ";
	}
	if (p->collection != NULL) {
		qbk_buf_addf(out, "%scollection '%s'", sep, p->collection);
		sep = ", ";
	}
	if (p->chunk != NULL) {
		qbk_buf_addf(out, "%schunk '%s'", sep, p->chunk);
		sep = ", ";
	}
	qbk_buf_addf(out, "%s%s", *sep != '\0' ? ": " : "", p->problem);
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* Most nodes of [qdrant] nodes that qbk_verify_ctx_run() compares. */
#define MAX_PEERS 64

int
qbk_verify_ctx_run(struct qbk_ctx *ctx, int live, struct qbk_verify_opts *o,
    struct qbk_verify_result *res, struct qbk_err *err)
{
	struct qbk_qdrant *peers[MAX_PEERS];
	struct qbk_repo *repo;
	size_t i;
	int rc = -1;

	if ((!live || qbk_ctx_qdrant(ctx, NULL, &o->live, err) == 0) &&
	    (!live || qbk_ctx_peers(ctx, peers, MAX_PEERS, &o->npeers,
	    err) == 0) &&
	    qbk_ctx_repo(ctx, QBK_CTX_LOCK_READ, &repo, err) == 0) {
		o->peers = peers;
		o->lock = qbk_ctx_lock(ctx);
		rc = qbk_verify_run(repo, o, res, err);
		if (rc != 0)
			qbk_ctx_lost_lock(ctx, err);
	}
	for (i = 0; i < o->npeers; i++)
		qbk_qdrant_free(peers[i]);
	o->peers = NULL;
	o->npeers = 0;
	return rc;
}

void
qbk_verify_problems_summary(const struct qbk_verify_result *res,
    struct qbk_buf *out)
{
	qbk_buf_addf(out, "%zu problem%s found: ", res->n_problems,
	    res->n_problems == 1 ? "" : "s");
	qbk_verify_problem_text(&res->problems[0], out);
	if (res->n_problems > 1)
		qbk_buf_addstr(out, " (and more)");
}

void
qbk_verify_report_text(const struct qbk_verify_result *res,
    struct qbk_buf *out)
{
	const struct qbk_verify_checked *c = &res->checked;
	size_t i;

	for (i = 0; i < res->n_problems; i++) {
		qbk_buf_addstr(out, "problem: ");
		qbk_verify_problem_text(&res->problems[i], out);
		qbk_buf_addch(out, '\n');
	}
	qbk_buf_addf(out, "checked %llu backups, %llu chunks (%llu read), "
	    "%llu snapshots", (unsigned long long)c->backups,
	    (unsigned long long)c->chunks, (unsigned long long)c->chunks_read,
	    (unsigned long long)c->snapshots);
	if (c->collections > 0)
		qbk_buf_addf(out, ", %llu live collections",
		    (unsigned long long)c->collections);
	qbk_buf_addf(out, ": %zu problem%s\n", res->n_problems,
	    res->n_problems == 1 ? "" : "s");
}

void
qbk_verify_report_json(const struct qbk_verify_result *res,
    const struct qbk_err *e, struct qbk_buf *out)
{
	json_t *doc = json_object(), *probs = json_array(), *chk;
	const struct qbk_verify_checked *c = &res->checked;
	int failed = e != NULL && e->code != QBK_E_OK;
	char *text;
	size_t i;

	for (i = 0; i < res->n_problems; i++) {
		const struct qbk_verify_problem *p = &res->problems[i];
		json_t *jp = json_object();

		json_object_set_new(jp, "backup", str_or_null(p->backup));
		json_object_set_new(jp, "collection",
		    str_or_null(p->collection));
		json_object_set_new(jp, "chunk", str_or_null(p->chunk));
		json_object_set_new(jp, "problem", json_string(p->problem));
		json_array_append_new(probs, jp);
	}
	if (failed) {
		json_t *jp = json_object();

		json_object_set_new(jp, "backup", json_null());
		json_object_set_new(jp, "collection", json_null());
		json_object_set_new(jp, "chunk", json_null());
		json_object_set_new(jp, "problem", json_string(e->msg));
		json_array_append_new(probs, jp);
	}
	chk = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "key_slots", (json_int_t)c->key_slots,
	    "backups", (json_int_t)c->backups,
	    "chunk_refs", (json_int_t)c->chunk_refs,
	    "chunks", (json_int_t)c->chunks,
	    "chunks_read", (json_int_t)c->chunks_read,
	    "snapshots", (json_int_t)c->snapshots,
	    "bytes", (json_int_t)c->bytes,
	    "collections", (json_int_t)c->collections);
	json_object_set_new(doc, "ok", json_boolean(!failed &&
	    res->n_problems == 0));
	json_object_set_new(doc, "problems", probs);
	json_object_set_new(doc, "checked", chk);
	if (res->live_backup[0] != '\0')
		json_object_set_new(doc, "live_backup",
		    json_string(res->live_backup));
	text = json_dumps(doc, JSON_COMPACT);
	if (text != NULL) {
		qbk_buf_addstr(out, text);
		qbk_buf_addstr(out, "\n");
		free(text);
	}
	json_decref(doc);
}

int
qbk_verify_parse_subset(const char *s, struct qbk_verify_opts *o,
    struct qbk_err *err)
{
	unsigned long k, n;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		goto bad;
	k = strtoul(s, &end, 10);
	if (strcmp(end, "%") == 0) {
		if (k < 1 || k > 100)
			goto bad;
		o->percent = k == 100 ? 0 : (unsigned)k;
		o->slice_k = o->slice_n = 0;
		return 0;
	}
	if (*end != '/' || end[1] < '0' || end[1] > '9')
		goto bad;
	n = strtoul(end + 1, &end, 10);
	if (*end != '\0' || n < 1 || n > 1000000 || k < 1 || k > n)
		goto bad;
	o->slice_k = (unsigned)k;
	o->slice_n = (unsigned)n;
	o->percent = 0;
	return 0;
bad:
	return qbk_err_set(err, QBK_E_USAGE, "bad subset '%s': expected N%% "
	    "(1 to 100) or K/N (1 <= K <= N)", s);
}
