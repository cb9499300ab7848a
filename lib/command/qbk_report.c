#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "command/qbk_prune.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_idset.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"
#include "config/qbk_config.h"
#include "repo/qbk_failure.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "storage/qbk_store.h"
#include "command/qbk_report.h"

#define WEEK	(7.0 * 86400.0)

struct qbk_report *
qbk_report_new(const struct qbk_report_opts *opts)
{
	struct qbk_report *r = qbk_xcalloc(1, sizeof(*r));

	r->opts = *opts;
	r->last_drill = -1;
	r->last_failure = -1;
	r->rto_met = -1;
	r->objectives_met = 1;
	return r;
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
free_derived(struct qbk_report *r)
{
	size_t i;

	for (i = 0; i < r->n_collections; i++)
		free(r->collections[i].name);
	free(r->collections);
	r->collections = NULL;
	r->n_collections = 0;
	for (i = 0; i < r->n_misses; i++) {
		free(r->misses[i].kind);
		free(r->misses[i].collection);
		free(r->misses[i].text);
	}
	free(r->misses);
	r->misses = NULL;
	r->n_misses = 0;
}

void
qbk_report_free(struct qbk_report *r)
{
	size_t i, k;

	if (r == NULL)
		return;
	free_derived(r);
	for (i = 0; i < r->n_backups; i++) {
		struct qbk_report_backup *b = &r->backups[i];

		for (k = 0; k < b->n_parts; k++)
			free(b->parts[k].name);
		free(b->parts);
		free_strv(b->tags, b->n_tags);
		free(b->problem);
	}
	free(r->backups);
	for (i = 0; i < r->n_drills; i++) {
		free(r->drills[i].level);
		free(r->drills[i].scenario);
		free_strv(r->drills[i].problems, r->drills[i].n_problems);
	}
	free(r->drills);
	qbk_failure_list_free(r->failures, r->n_failures);
	free(r);
}

static struct qbk_report_backup *
new_backup(struct qbk_report *r)
{
	struct qbk_report_backup *b;

	r->backups = qbk_xrealloc(r->backups,
	    (r->n_backups + 1) * sizeof(*r->backups));
	b = &r->backups[r->n_backups++];
	memset(b, 0, sizeof(*b));
	return b;
}

struct qbk_report_backup *
qbk_report_add_backup(struct qbk_report *r, const struct qbk_manifest *m,
    int held, const char *problem)
{
	struct qbk_report_backup *b = new_backup(r);
	struct qbk_buf t = QBK_BUF_INIT;
	size_t i, k;

	snprintf(b->id, sizeof(b->id), "%s", m->backup_id);
	b->start = m->start;
	b->end = m->end;
	b->full = m->type == QBK_MANIFEST_TYPE_FULL;
	b->full_storage = m->kind == QBK_MANIFEST_KIND_FULL_STORAGE;
	b->selection = m->selection;
	b->size = m->totals.size;
	b->bytes_new = m->totals.bytes_new;
	b->held = held;
	b->usable = problem == NULL;
	b->problem = problem != NULL ? qbk_xstrdup(problem) : NULL;
	if (b->full_storage) {
		b->parts = qbk_xcalloc(1, sizeof(*b->parts));
		b->n_parts = 1;
		b->parts[0].name = qbk_xstrdup(QBK_REPORT_FULL_STORAGE);
		b->parts[0].bytes = m->totals.size;
		b->parts[0].bytes_new = m->totals.bytes_new;
	} else if (m->n_collections > 0) {
		b->parts = qbk_xcalloc(m->n_collections, sizeof(*b->parts));
		b->n_parts = m->n_collections;
		for (i = 0; i < m->n_collections; i++) {
			const struct qbk_manifest_collection *c =
			    m->collections[i];
			struct qbk_report_part *p = &b->parts[i];

			p->name = qbk_xstrdup(c->name);
			p->points = c->points_count;
			for (k = 0; k < m->n_missing; k++)
				if (strcmp(m->missing[k].collection,
				    c->name) == 0)
					p->missing_shards++;
			for (k = 0; k < c->n_snapshots; k++) {
				p->bytes += c->snapshots[k]->size;
				p->bytes_new += c->snapshots[k]->bytes_new;
			}
		}
	}
	if (m->n_tags > 0) {
		b->tags = qbk_xcalloc(m->n_tags, sizeof(*b->tags));
		for (i = 0; i < m->n_tags; i++) {
			qbk_buf_reset(&t);
			qbk_buf_addf(&t, "%s=%s", m->tags[i].key,
			    m->tags[i].value);
			b->tags[i] = qbk_buf_detach(&t, NULL);
		}
		b->n_tags = m->n_tags;
	}
	qbk_buf_release(&t);
	return b;
}

struct qbk_report_backup *
qbk_report_add_broken(struct qbk_report *r, const char *id, int held,
    const char *problem)
{
	struct qbk_report_backup *b = new_backup(r);
	int64_t t = 0;

	snprintf(b->id, sizeof(b->id), "%s", id);
	if (qbk_manifest_id_time(id, &t) != 0)
		t = 0;
	b->start = t;
	b->held = held;
	b->usable = 0;
	b->problem = qbk_xstrdup(problem != NULL ? problem :
	    "manifest cannot be read");
	return b;
}

void
qbk_report_add_failure(struct qbk_report *r, const struct qbk_failure *from)
{
	struct qbk_failure *f;
	size_t i;

	r->failures = qbk_xrealloc(r->failures,
	    (r->n_failures + 1) * sizeof(*r->failures));
	f = &r->failures[r->n_failures++];
	*f = *from;
	f->host = qbk_xstrdup(from->host != NULL ? from->host : "");
	f->program = qbk_xstrdup(from->program != NULL ? from->program : "");
	f->error = qbk_xstrdup(from->error != NULL ? from->error : "");
	f->collections = qbk_xcalloc(from->n_collections + 1, sizeof(char *));
	for (i = 0; i < from->n_collections; i++)
		f->collections[i] = qbk_xstrdup(from->collections[i]);
}

static int
cmp_failure(const void *a, const void *b)
{
	const struct qbk_failure *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(x->id, y->id);
}

void
qbk_report_add_drill(struct qbk_report *r, const struct qbk_manifest_drill *d)
{
	struct qbk_report_drill *x;
	size_t i;

	r->drills = qbk_xrealloc(r->drills,
	    (r->n_drills + 1) * sizeof(*r->drills));
	x = &r->drills[r->n_drills++];
	memset(x, 0, sizeof(*x));
	snprintf(x->id, sizeof(x->id), "%s", d->drill_id);
	snprintf(x->backup_id, sizeof(x->backup_id), "%s", d->backup_id);
	x->start = d->start;
	x->end = d->end;
	x->level = qbk_xstrdup(d->level != NULL ? d->level : "");
	x->scenario = qbk_xstrdup(d->scenario != NULL ? d->scenario : "");
	x->pass = d->pass;
	x->rto_ms = d->rto_ms;
	x->rto_target_ms = d->rto_target_ms;
	x->green_ms = d->green_ms;
	if (d->n_problems > 0) {
		x->problems = qbk_xcalloc(d->n_problems, sizeof(char *));
		for (i = 0; i < d->n_problems; i++)
			x->problems[i] = qbk_xstrdup(d->problems[i]);
		x->n_problems = d->n_problems;
	}
}

static int
cmp_backup(const void *a, const void *b)
{
	const struct qbk_report_backup *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
cmp_drill(const void *a, const void *b)
{
	const struct qbk_report_drill *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const struct qbk_report_part *
find_part(const struct qbk_report_backup *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->n_parts; i++)
		if (strcmp(b->parts[i].name, name) == 0)
			return &b->parts[i];
	return NULL;
}

static void
add_miss(struct qbk_report *r, const char *kind, const char *collection,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
add_miss(struct qbk_report *r, const char *kind, const char *collection,
    const char *fmt, ...)
{
	struct qbk_report_miss *m;
	struct qbk_buf t = QBK_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	qbk_buf_vaddf(&t, fmt, ap);
	va_end(ap);
	r->misses = qbk_xrealloc(r->misses,
	    (r->n_misses + 1) * sizeof(*r->misses));
	m = &r->misses[r->n_misses++];
	m->kind = qbk_xstrdup(kind);
	m->collection = collection != NULL ? qbk_xstrdup(collection) : NULL;
	m->text = qbk_buf_detach(&t, NULL);
}

static char *
dur(int64_t s, char *buf, size_t size)
{
	return qbk_config_format_duration(s * 1000, buf, size);
}

static void
compute_collection(struct qbk_report *r, struct qbk_report_collection *c)
{
	int64_t now = r->opts.now, since = r->opts.since, prev = -1;
	int64_t first_t = -1, last_t = -1;
	uint64_t first_b = 0, last_b = 0;
	size_t i;

	c->last = -1;
	c->rpo = -1;
	c->rpo_met = -1;
	for (i = 0; i < r->n_backups; i++) {
		const struct qbk_report_backup *b = &r->backups[i];
		const struct qbk_report_part *p;
		int in = b->start >= since && b->start <= now;

		if (b->start > now || (p = find_part(b, c->name)) == NULL)
			continue;
		if (!b->usable) {
			if (in)
				c->unusable++;
			continue;
		}
		if (p->missing_shards > 0) {
			if (in)
				c->partial++;
			continue;
		}
		if (in) {
			c->backups++;
			if (prev >= 0 && b->start - prev > c->max_gap)
				c->max_gap = b->start - prev;
			if (first_t < 0) {
				first_t = b->start;
				first_b = p->bytes;
			}
			last_t = b->start;
			last_b = p->bytes;
		}
		prev = b->start;
		c->last = b->start;
		snprintf(c->last_id, sizeof(c->last_id), "%s", b->id);
		c->size = p->bytes;
	}
	for (i = 0; i < r->n_failures; i++)
		if (r->failures[i].time >= since && r->failures[i].time <= now &&
		    qbk_failure_covers(&r->failures[i], c->name))
			c->failed++;
	if (c->last >= 0)
		c->rpo = now - c->last;
	if (r->opts.rpo_target >= 0)
		c->rpo_met = c->last >= 0 && c->rpo <= r->opts.rpo_target;
	if (last_t > first_t)
		c->growth_per_week = ((double)last_b - (double)first_b) /
		    ((double)(last_t - first_t) / WEEK);
}

void
qbk_report_compute(struct qbk_report *r)
{
	int64_t now = r->opts.now, since = r->opts.since;
	int64_t first_t = -1, last_t = -1;
	uint64_t grown = 0;
	char **names = NULL;
	size_t i, k, nnames = 0;
	char a[48], b[48], t[QBK_TIME_LEN + 1];

	free_derived(r);
	if (r->n_backups > 1)
		qsort(r->backups, r->n_backups, sizeof(*r->backups),
		    cmp_backup);
	if (r->n_drills > 1)
		qsort(r->drills, r->n_drills, sizeof(*r->drills), cmp_drill);
	if (r->n_failures > 1)
		qsort(r->failures, r->n_failures, sizeof(*r->failures),
		    cmp_failure);
	r->failures_in_window = 0;
	r->last_failure = -1;
	for (i = 0; i < r->n_failures; i++) {
		if (r->failures[i].time > now)
			continue;
		r->last_failure = (long)i;
		if (r->failures[i].time >= since)
			r->failures_in_window++;
	}

	/* Repository figures over every backup, window counts, growth. */
	r->logical_bytes = 0;
	r->backups_in_window = 0;
	for (i = 0; i < r->n_backups; i++) {
		const struct qbk_report_backup *x = &r->backups[i];

		r->logical_bytes += x->size;
		if (x->start > now)
			continue;
		for (k = 0; k < x->n_parts; k++) {
			names = qbk_xrealloc(names,
			    (nnames + 1) * sizeof(*names));
			names[nnames++] = x->parts[k].name;
		}
		if (x->start < since)
			continue;
		r->backups_in_window++;
		if (!x->usable)
			continue;
		if (first_t < 0)
			first_t = x->start;
		else
			grown += x->bytes_new;
		last_t = x->start;
	}
	r->dedup_ratio = r->stored_bytes > 0 ?
	    (double)r->logical_bytes / (double)r->stored_bytes : 0.0;
	r->growth_per_week = last_t > first_t ? (double)grown /
	    ((double)(last_t - first_t) / WEEK) : 0.0;

	/* Collections: every name any backup up to now holds, and every one
	 * that a failed run up to now was asked to back up (one that never
	 * had a backup must not go unnoticed). */
	for (i = 0; i < r->n_failures; i++) {
		const struct qbk_failure *f = &r->failures[i];

		if (f->time > now)
			continue;
		for (k = 0; k < f->n_collections; k++) {
			names = qbk_xrealloc(names,
			    (nnames + 1) * sizeof(*names));
			names[nnames++] = f->collections[k];
		}
		if (f->full_storage) {
			names = qbk_xrealloc(names,
			    (nnames + 1) * sizeof(*names));
			names[nnames++] = (char *)(uintptr_t)
			    QBK_REPORT_FULL_STORAGE;
		}
	}
	if (nnames > 1)
		qsort(names, nnames, sizeof(*names), cmp_str);
	for (i = 0; i < nnames; i++) {
		struct qbk_report_collection *c;

		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;
		r->collections = qbk_xrealloc(r->collections,
		    (r->n_collections + 1) * sizeof(*r->collections));
		c = &r->collections[r->n_collections++];
		memset(c, 0, sizeof(*c));
		c->name = qbk_xstrdup(names[i]);
		compute_collection(r, c);
	}
	free(names);

	/* Drills. */
	r->drills_pass = r->drills_fail = 0;
	r->last_drill = -1;
	r->rto_met = -1;
	for (i = 0; i < r->n_drills; i++) {
		const struct qbk_report_drill *d = &r->drills[i];

		if (d->start > now)
			continue;
		r->last_drill = (long)i;
		if (d->start < since)
			continue;
		if (d->pass)
			r->drills_pass++;
		else
			r->drills_fail++;
	}
	if (r->last_drill >= 0) {
		const struct qbk_report_drill *d = &r->drills[r->last_drill];
		int64_t target = r->opts.rto_target;

		if (target < 0 && d->rto_target_ms > 0)
			target = (int64_t)((d->rto_target_ms + 999) / 1000);
		if (target >= 0)
			r->rto_met = d->rto_ms <= (uint64_t)target * 1000;
	}

	/* Misses. */
	if (r->opts.rpo_target >= 0) {
		if (r->n_collections == 0)
			add_miss(r, "rpo", NULL, "no backup in the repository "
			    "(rpo target %s)", dur(r->opts.rpo_target, a,
			    sizeof(a)));
		for (i = 0; i < r->n_collections; i++) {
			const struct qbk_report_collection *c =
			    &r->collections[i];

			if (c->rpo_met != 0)
				continue;
			if (c->last < 0) {
				add_miss(r, "rpo", c->name, "collection '%s': "
				    "no usable backup (rpo target %s)",
				    c->name, dur(r->opts.rpo_target, a,
				    sizeof(a)));
				continue;
			}
			qbk_time_format(c->last, t);
			add_miss(r, "rpo", c->name, "collection '%s': rpo %s "
			    "exceeds the target %s (newest usable backup %s "
			    "at %s)", c->name, dur(c->rpo, a, sizeof(a)),
			    dur(r->opts.rpo_target, b, sizeof(b)), c->last_id,
			    t);
		}
	}
	if (r->last_drill >= 0) {
		const struct qbk_report_drill *d = &r->drills[r->last_drill];

		if (!d->pass)
			add_miss(r, "drill", NULL, "last drill %s (backup %s) "
			    "failed%s%s", d->id, d->backup_id,
			    d->n_problems > 0 ? ": " : "",
			    d->n_problems > 0 ? d->problems[0] : "");
		if (r->rto_met == 0) {
			int64_t target = r->opts.rto_target >= 0 ?
			    r->opts.rto_target :
			    (int64_t)((d->rto_target_ms + 999) / 1000);

			add_miss(r, "rto", NULL, "last drill %s: restore took "
			    "%s, more than the rto target %s", d->id,
			    qbk_config_format_duration((int64_t)d->rto_ms, a,
			    sizeof(a)), dur(target, b, sizeof(b)));
		}
	}
	r->objectives_met = r->n_misses == 0;
}

/*
 * Loading from a repository.
 */

struct listing {
	struct qbk_idset *chunks;
	uint64_t bytes, count;
};

static int
on_chunk(void *cookie, const char *key, const struct qbk_store_stat *st,
    struct qbk_err *err)
{
	struct listing *l = cookie;
	const char *slash = strrchr(key, '/');
	uint8_t id[QBK_ID_LEN];

	(void)err;
	if (slash == NULL || qbk_id_from_hex(slash + 1, id) != 0)
		return 0;
	if (qbk_idset_add(l->chunks, id)) {
		l->count++;
		if (st != NULL)
			l->bytes += st->size;
	}
	return 0;
}

struct chunk_check {
	struct qbk_repo *repo;
	struct listing *l;
	struct qbk_idset *missing;
	uint64_t n_missing;
	char first[QBK_ID_LEN * 2 + 1];
	int failed;
	struct qbk_err *err;
};

static int
check_chunk(void *cookie, const struct qbk_manifest_collection *c,
    const struct qbk_manifest_snapshot *s, const struct qbk_manifest_chunk *ch)
{
	struct chunk_check *cc = cookie;
	char key[QBK_REPO_CHUNK_KEY_LEN];
	int rc;

	(void)c;
	(void)s;
	if (qbk_idset_has(cc->l->chunks, ch->id))
		return 0;
	if (!qbk_idset_has(cc->missing, ch->id)) {
		/* Written after the listing by a backup that runs now? */
		qbk_repo_chunk_key(ch->id, key);
		rc = qbk_store_exists(qbk_repo_store(cc->repo), key, cc->err);
		if (rc < 0) {
			cc->failed = 1;
			return 1;
		}
		if (rc == 1) {
			qbk_idset_add(cc->l->chunks, ch->id);
			return 0;
		}
		qbk_idset_add(cc->missing, ch->id);
	}
	if (cc->n_missing++ == 0)
		qbk_id_to_hex(ch->id, cc->first);
	return 0;
}

static int
is_held(const struct qbk_prune_hold *holds, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(holds[i].backup_id, id) == 0)
			return 1;
	return 0;
}

static int
cancelled(const struct qbk_report_opts *o, struct qbk_err *err)
{
	if (o->cancel != NULL && *o->cancel)
		return qbk_err_set(err, QBK_E_INTERRUPTED, "interrupted");
	return 0;
}

int
qbk_report_load(struct qbk_repo *repo, const struct qbk_report_opts *opts,
    struct qbk_report **out, struct qbk_err *err)
{
	struct qbk_report *r = qbk_report_new(opts);
	struct listing l = { NULL, 0, 0 };
	struct qbk_prune_hold *holds = NULL;
	struct qbk_idset *missing = NULL;
	struct qbk_err e2 = QBK_ERR_INIT;
	struct qbk_failure *fails = NULL;
	char **ids = NULL, **dids = NULL;
	size_t nholds = 0, nids = 0, ndids = 0, nfails = 0, i;

	*out = NULL;
	l.chunks = qbk_idset_new(1024);
	missing = qbk_idset_new(16);
	/* Chunks first: a prune removes manifests before their chunks. */
	if (opts->check_chunks && qbk_store_list(qbk_repo_store(repo), "data/",
	    QBK_STORE_LIST_STAT, on_chunk, &l, err) < 0)
		goto err;
	r->stored_bytes = l.bytes;
	r->stored_chunks = l.count;
	if (qbk_prune_holds(repo, &holds, &nholds, err) != 0)
		goto err;
	if (qbk_repo_backup_ids(repo, &ids, &nids, err) != 0)
		goto err;
	for (i = 0; i < nids; i++) {
		struct qbk_manifest *m = NULL;
		int held = is_held(holds, nholds, ids[i]);

		if (cancelled(opts, err) != 0)
			goto err;
		qbk_err_clear(&e2);
		if (qbk_repo_manifest_read(repo, ids[i], &m, &e2) != 0) {
			if (e2.code != QBK_E_NOTFOUND &&
			    e2.code != QBK_E_INTEGRITY &&
			    e2.code != QBK_E_CRYPTO) {
				*err = e2;
				goto err;
			}
			if (e2.code == QBK_E_NOTFOUND)
				continue;	/* pruned meanwhile */
			qbk_log(QBK_LOG_WARN, "backup '%s': %s", ids[i],
			    e2.msg);
			qbk_report_add_broken(r, ids[i], held, e2.msg);
			continue;
		}
		if (opts->check_chunks) {
			struct chunk_check cc = { repo, &l, missing, 0, "", 0,
			    err };
			struct qbk_buf p = QBK_BUF_INIT;

			qbk_manifest_foreach_chunk(m, check_chunk, &cc);
			if (cc.failed) {
				qbk_manifest_free(m);
				goto err;
			}
			if (cc.n_missing > 0)
				qbk_buf_addf(&p, "%" PRIu64 " chunk "
				    "reference%s missing (first %s)",
				    cc.n_missing, cc.n_missing == 1 ? "" : "s",
				    cc.first);
			qbk_report_add_backup(r, m, held,
			    p.len > 0 ? p.buf : NULL);
			qbk_buf_release(&p);
		} else {
			qbk_report_add_backup(r, m, held, NULL);
		}
		qbk_manifest_free(m);
	}
	if (qbk_failure_list(repo, &fails, &nfails, err) != 0)
		goto err;
	for (i = 0; i < nfails; i++)
		qbk_report_add_failure(r, &fails[i]);
	qbk_failure_list_free(fails, nfails);
	fails = NULL;
	if (qbk_repo_drill_ids(repo, &dids, &ndids, err) != 0)
		goto err;
	for (i = 0; i < ndids; i++) {
		struct qbk_manifest_drill *d = NULL;

		if (cancelled(opts, err) != 0)
			goto err;
		qbk_err_clear(&e2);
		if (qbk_repo_drill_read(repo, dids[i], &d, &e2) != 0) {
			if (e2.code != QBK_E_NOTFOUND)
				qbk_log(QBK_LOG_WARN, "drill '%s': %s",
				    dids[i], e2.msg);
			continue;
		}
		qbk_report_add_drill(r, d);
		qbk_manifest_drill_free(d);
	}
	qbk_report_compute(r);
	qbk_repo_free_ids(ids, nids);
	qbk_repo_free_ids(dids, ndids);
	qbk_prune_holds_free(holds, nholds);
	qbk_idset_free(l.chunks);
	qbk_idset_free(missing);
	*out = r;
	return 0;
err:
	qbk_repo_free_ids(ids, nids);
	qbk_repo_free_ids(dids, ndids);
	qbk_prune_holds_free(holds, nholds);
	qbk_idset_free(l.chunks);
	qbk_idset_free(missing);
	qbk_report_free(r);
	return -1;
}

/*
 * Output.
 */

static const char *
iso(int64_t t, char *buf)
{
	if (qbk_time_format(t, buf) != 0)
		snprintf(buf, QBK_TIME_LEN + 1, "-");
	return buf;
}

static json_t *
jiso(int64_t t)
{
	char buf[QBK_TIME_LEN + 1];

	if (qbk_time_format(t, buf) != 0)
		return json_null();
	return json_string(buf);
}

static json_t *
jstr(const char *s)
{
	json_t *v = s != NULL ? json_string(s) : NULL;

	/* json_string() refuses invalid UTF-8: keep the document whole. */
	return v != NULL ? v : json_null();
}

static void
collections_text(const struct qbk_report_backup *b, struct qbk_buf *out)
{
	size_t i;

	for (i = 0; i < b->n_parts; i++)
		qbk_buf_addf(out, "%s%s", i > 0 ? "," : "", b->parts[i].name);
	if (b->n_parts == 0)
		qbk_buf_addch(out, '-');
}

void
qbk_report_list_text(const struct qbk_report *r, struct qbk_buf *out)
{
	struct qbk_buf cols = QBK_BUF_INIT, tags = QBK_BUF_INIT;
	char t[QBK_TIME_LEN + 1], a[32], b[32];
	size_t i, k;

	qbk_buf_addf(out, "%-21s  %-20s  %-11s  %9s  %9s  %-4s  %-20s  %s\n",
	    "BACKUP", "TIME", "TYPE", "SIZE", "NEW", "HELD", "COLLECTIONS",
	    "TAGS");
	for (i = 0; i < r->n_backups; i++) {
		const struct qbk_report_backup *x = &r->backups[i];

		qbk_buf_reset(&cols);
		qbk_buf_reset(&tags);
		collections_text(x, &cols);
		for (k = 0; k < x->n_tags; k++)
			qbk_buf_addf(&tags, "%s%s", k > 0 ? "," : "",
			    x->tags[k]);
		if (!x->usable)
			qbk_buf_addf(&tags, "%sUNUSABLE: %s",
			    tags.len > 0 ? " " : "", x->problem);
		for (k = 0; k < x->n_parts; k++)
			if (x->parts[k].missing_shards > 0)
				qbk_buf_addf(&tags, "%sPARTIAL: %zu shard%s of "
				    "%s missing", tags.len > 0 ? " " : "",
				    x->parts[k].missing_shards,
				    x->parts[k].missing_shards == 1 ? "" : "s",
				    x->parts[k].name);
		qbk_buf_size_text(x->size, a, sizeof(a));
		qbk_buf_size_text(x->bytes_new, b, sizeof(b));
		qbk_buf_addf(out, "%-21s  %-20s  %-11s  %9s  %9s  %-4s  %-20s  "
		    "%s\n", x->id, iso(x->start, t), x->end == 0 ? "?" :
		    x->full ? "full" : "incremental", a, b,
		    x->held ? "yes" : "no", cols.buf,
		    tags.len > 0 ? tags.buf : "-");
	}
	qbk_buf_addf(out, "%zu backup%s\n", r->n_backups,
	    r->n_backups == 1 ? "" : "s");
	if (r->n_drills > 0) {
		qbk_buf_addf(out, "\n%-21s  %-20s  %-21s  %-6s  %9s  %s\n",
		    "DRILL", "TIME", "BACKUP", "RESULT", "RTO", "LEVEL");
		for (i = 0; i < r->n_drills; i++) {
			const struct qbk_report_drill *d = &r->drills[i];
			char rto[48];

			qbk_buf_addf(out, "%-21s  %-20s  %-21s  %-6s  %9s  %s\n",
			    d->id, iso(d->start, t), d->backup_id,
			    d->pass ? "pass" : "fail",
			    qbk_config_format_duration((int64_t)d->rto_ms, rto,
			    sizeof(rto)), d->level);
		}
	}
	qbk_buf_addf(out, "%zu drill%s\n", r->n_drills,
	    r->n_drills == 1 ? "" : "s");
	if (r->n_failures > 0) {
		qbk_buf_addf(out, "\n%-21s  %-20s  %-20s  %s\n", "FAILED RUN",
		    "TIME", "COLLECTIONS", "ERROR");
		for (i = 0; i < r->n_failures; i++) {
			const struct qbk_failure *f = &r->failures[i];

			qbk_buf_reset(&cols);
			for (k = 0; k < f->n_collections; k++)
				qbk_buf_addf(&cols, "%s%s", k > 0 ? "," : "",
				    f->collections[k]);
			qbk_buf_addf(out, "%-21s  %-20s  %-20s  %s\n", f->id,
			    iso(f->time, t), f->full_storage ?
			    QBK_REPORT_FULL_STORAGE : cols.len > 0 ?
			    cols.buf : "(all)", f->error);
		}
		qbk_buf_addf(out, "%zu failed run%s\n", r->n_failures,
		    r->n_failures == 1 ? "" : "s");
	}
	qbk_buf_release(&cols);
	qbk_buf_release(&tags);
}

static json_t *
failure_json(const struct qbk_failure *f)
{
	json_t *o = json_object(), *cs = json_array();
	size_t i;

	for (i = 0; i < f->n_collections; i++)
		json_array_append_new(cs, jstr(f->collections[i]));
	json_object_set_new(o, "id", json_string(f->id));
	json_object_set_new(o, "time", jiso(f->time));
	json_object_set_new(o, "host", jstr(f->host));
	json_object_set_new(o, "collections", cs);
	json_object_set_new(o, "full_storage", json_boolean(f->full_storage));
	json_object_set_new(o, "exit_code", json_integer(f->exit_code));
	json_object_set_new(o, "error", jstr(f->error));
	return o;
}

static json_t *
drill_json(const struct qbk_report_drill *d)
{
	json_t *o = json_object(), *p = json_array();
	size_t i;

	json_object_set_new(o, "drill_id", json_string(d->id));
	json_object_set_new(o, "backup_id", json_string(d->backup_id));
	json_object_set_new(o, "time", jiso(d->start));
	json_object_set_new(o, "end", jiso(d->end));
	json_object_set_new(o, "result", json_string(d->pass ? "pass" :
	    "fail"));
	json_object_set_new(o, "rto_seconds",
	    json_real((double)d->rto_ms / 1000.0));
	json_object_set_new(o, "rto_target_seconds", d->rto_target_ms > 0 ?
	    json_real((double)d->rto_target_ms / 1000.0) : json_null());
	json_object_set_new(o, "green_seconds", d->green_ms >= 0 ?
	    json_real((double)d->green_ms / 1000.0) : json_null());
	json_object_set_new(o, "level", jstr(d->level));
	json_object_set_new(o, "scenario", jstr(d->scenario));
	for (i = 0; i < d->n_problems; i++)
		json_array_append_new(p, jstr(d->problems[i]));
	json_object_set_new(o, "problems", p);
	return o;
}

static void
dump(json_t *doc, struct qbk_buf *out)
{
	qbk_json_dump(doc, out, 0);
	qbk_buf_addch(out, '\n');
	json_decref(doc);
}

void
qbk_report_list_json(const struct qbk_report *r, struct qbk_buf *out)
{
	json_t *doc = json_object(), *bs = json_array(), *ds = json_array();
	json_t *fs;
	size_t i, k;

	for (i = 0; i < r->n_backups; i++) {
		const struct qbk_report_backup *x = &r->backups[i];
		json_t *o = json_object(), *cs = json_array(),
		    *tags = json_object();

		json_object_set_new(o, "backup_id", json_string(x->id));
		json_object_set_new(o, "time", jiso(x->start));
		json_object_set_new(o, "end", x->end != 0 ? jiso(x->end) :
		    json_null());
		json_object_set_new(o, "type", x->end == 0 ? json_null() :
		    json_string(x->full ? "full" : "incremental"));
		json_object_set_new(o, "kind", x->end == 0 ? json_null() :
		    json_string(x->full_storage ? "full-storage" :
		    "collections"));
		json_object_set_new(o, "selection", x->selection ==
		    QBK_MANIFEST_SELECTION_ALL ? json_string("all") :
		    x->selection == QBK_MANIFEST_SELECTION_NAMED ?
		    json_string("named") : json_null());
		for (k = 0; k < x->n_parts; k++)
			json_array_append_new(cs, jstr(x->parts[k].name));
		json_object_set_new(o, "collections", cs);
		json_object_set_new(o, "size", json_integer((json_int_t)
		    x->size));
		json_object_set_new(o, "bytes_new", json_integer((json_int_t)
		    x->bytes_new));
		for (k = 0; k < x->n_tags; k++) {
			const char *eq = strchr(x->tags[k], '=');
			char key[QBK_MANIFEST_MAX_TOKEN + 1];

			if (eq == NULL)
				continue;
			snprintf(key, sizeof(key), "%.*s",
			    (int)(eq - x->tags[k]), x->tags[k]);
			json_object_set_new(tags, key, jstr(eq + 1));
		}
		json_object_set_new(o, "tags", tags);
		json_object_set_new(o, "held", json_boolean(x->held));
		json_object_set_new(o, "usable", json_boolean(x->usable));
		json_object_set_new(o, "problem", jstr(x->problem));
		cs = json_object();
		for (k = 0; k < x->n_parts; k++)
			if (x->parts[k].missing_shards > 0)
				json_object_set_new(cs, x->parts[k].name,
				    json_integer((json_int_t)
				    x->parts[k].missing_shards));
		json_object_set_new(o, "missing_shards", cs);
		json_array_append_new(bs, o);
	}
	for (i = 0; i < r->n_drills; i++)
		json_array_append_new(ds, drill_json(&r->drills[i]));
	json_object_set_new(doc, "ok", json_true());
	json_object_set_new(doc, "problems", json_array());
	json_object_set_new(doc, "backups", bs);
	json_object_set_new(doc, "drills", ds);
	fs = json_array();
	for (i = 0; i < r->n_failures; i++)
		json_array_append_new(fs, failure_json(&r->failures[i]));
	json_object_set_new(doc, "failures", fs);
	dump(doc, out);
}

static json_t *
jsecs(int64_t s)
{
	return s >= 0 ? json_integer((json_int_t)s) : json_null();
}

static json_t *
jmet(int met)
{
	return met < 0 ? json_null() : json_boolean(met);
}

void
qbk_report_json(const struct qbk_report *r, struct qbk_buf *out)
{
	json_t *doc = json_object(), *cs = json_array(), *ms = json_array();
	json_t *o;
	size_t i;

	json_object_set_new(doc, "ok", json_true());
	json_object_set_new(doc, "problems", json_array());
	json_object_set_new(doc, "time", jiso(r->opts.now));
	json_object_set_new(doc, "since", jiso(r->opts.since));
	json_object_set_new(doc, "objectives", json_pack("{s:o, s:o}",
	    "rpo_seconds", jsecs(r->opts.rpo_target),
	    "rto_seconds", jsecs(r->opts.rto_target)));
	for (i = 0; i < r->n_collections; i++) {
		const struct qbk_report_collection *c = &r->collections[i];

		o = json_object();
		json_object_set_new(o, "name", jstr(c->name));
		json_object_set_new(o, "last_backup_id", c->last >= 0 ?
		    json_string(c->last_id) : json_null());
		json_object_set_new(o, "last_backup_time", c->last >= 0 ?
		    jiso(c->last) : json_null());
		json_object_set_new(o, "rpo_seconds", jsecs(c->rpo));
		json_object_set_new(o, "rpo_met", jmet(c->rpo_met));
		json_object_set_new(o, "max_gap_seconds",
		    json_integer((json_int_t)c->max_gap));
		json_object_set_new(o, "backups",
		    json_integer((json_int_t)c->backups));
		json_object_set_new(o, "unusable_backups",
		    json_integer((json_int_t)c->unusable));
		json_object_set_new(o, "partial_backups",
		    json_integer((json_int_t)c->partial));
		json_object_set_new(o, "failed_backups",
		    json_integer((json_int_t)c->failed));
		json_object_set_new(o, "size",
		    json_integer((json_int_t)c->size));
		json_object_set_new(o, "growth_bytes_per_week",
		    json_real(c->growth_per_week));
		json_array_append_new(cs, o);
	}
	json_object_set_new(doc, "collections", cs);
	o = json_object();
	json_object_set_new(o, "backups", json_integer((json_int_t)
	    r->n_backups));
	json_object_set_new(o, "backups_in_window", json_integer((json_int_t)
	    r->backups_in_window));
	json_object_set_new(o, "stored_bytes", json_integer((json_int_t)
	    r->stored_bytes));
	json_object_set_new(o, "stored_chunks", json_integer((json_int_t)
	    r->stored_chunks));
	json_object_set_new(o, "logical_bytes", json_integer((json_int_t)
	    r->logical_bytes));
	json_object_set_new(o, "dedup_ratio", json_real(r->dedup_ratio));
	json_object_set_new(o, "growth_bytes_per_week",
	    json_real(r->growth_per_week));
	json_object_set_new(doc, "repository", o);
	o = json_object();
	json_object_set_new(o, "pass", json_integer((json_int_t)
	    r->drills_pass));
	json_object_set_new(o, "fail", json_integer((json_int_t)
	    r->drills_fail));
	if (r->last_drill >= 0) {
		json_t *d = drill_json(&r->drills[r->last_drill]);

		json_object_set_new(d, "rto_met", jmet(r->rto_met));
		json_object_set_new(o, "last", d);
	} else {
		json_object_set_new(o, "last", json_null());
	}
	json_object_set_new(doc, "drills", o);
	o = json_object();
	json_object_set_new(o, "in_window", json_integer((json_int_t)
	    r->failures_in_window));
	json_object_set_new(o, "last", r->last_failure >= 0 ?
	    failure_json(&r->failures[r->last_failure]) : json_null());
	json_object_set_new(doc, "failed_backups", o);
	for (i = 0; i < r->n_misses; i++)
		json_array_append_new(ms, json_pack("{s:s, s:o, s:o}",
		    "kind", r->misses[i].kind,
		    "collection", jstr(r->misses[i].collection),
		    "text", jstr(r->misses[i].text)));
	json_object_set_new(doc, "misses", ms);
	json_object_set_new(doc, "objectives_met",
	    json_boolean(r->objectives_met));
	dump(doc, out);
}

void
qbk_report_error_json(const struct qbk_err *e, struct qbk_buf *out)
{
	json_t *doc = json_object(), *p = json_array();

	json_array_append_new(p, jstr(e->msg[0] != '\0' ? e->msg :
	    "unknown error"));
	json_object_set_new(doc, "ok", json_false());
	json_object_set_new(doc, "problems", p);
	dump(doc, out);
}

static const char *
met_text(int met)
{
	return met < 0 ? "-" : met ? "met" : "MISSED";
}

void
qbk_report_text(const struct qbk_report *r, struct qbk_buf *out)
{
	char t1[QBK_TIME_LEN + 1], t2[QBK_TIME_LEN + 1];
	char a[48], b[48], c[48];
	size_t i;

	qbk_buf_addf(out, "report at %s, window from %s\n",
	    iso(r->opts.now, t1), iso(r->opts.since, t2));
	qbk_buf_addf(out, "objectives: rpo %s, rto %s\n\n",
	    r->opts.rpo_target >= 0 ? dur(r->opts.rpo_target, a, sizeof(a)) :
	    "none", r->opts.rto_target >= 0 ? dur(r->opts.rto_target, b,
	    sizeof(b)) : "none");
	qbk_buf_addf(out, "%-20s  %-20s  %9s  %-6s  %9s  %7s  %9s  %s\n",
	    "COLLECTION", "LAST BACKUP", "RPO", "TARGET", "MAX GAP",
	    "BACKUPS", "SIZE", "GROWTH/WEEK");
	for (i = 0; i < r->n_collections; i++) {
		const struct qbk_report_collection *x = &r->collections[i];
		double g = x->growth_per_week;

		qbk_buf_size_text(x->size, c, sizeof(c));
		qbk_buf_addf(out, "%-20s  %-20s  %9s  %-6s  %9s  %7zu  %9s  ",
		    x->name, x->last >= 0 ? iso(x->last, t1) : "none",
		    x->rpo >= 0 ? dur(x->rpo, a, sizeof(a)) : "-",
		    met_text(x->rpo_met), dur(x->max_gap, b, sizeof(b)),
		    x->backups, c);
		qbk_buf_size_text((uint64_t)(g < 0 ? -g : g), c, sizeof(c));
		qbk_buf_addf(out, "%s%s\n", g < 0 ? "-" : "", c);
		if (x->unusable > 0)
			qbk_buf_addf(out, "%-20s  (%zu unusable backup%s in the "
			    "window)\n", "", x->unusable,
			    x->unusable == 1 ? "" : "s");
		if (x->partial > 0)
			qbk_buf_addf(out, "%-20s  (%zu partial backup%s in the "
			    "window: shards missing, not counted)\n", "",
			    x->partial, x->partial == 1 ? "" : "s");
		if (x->failed > 0)
			qbk_buf_addf(out, "%-20s  (%zu failed backup run%s in "
			    "the window)\n", "", x->failed,
			    x->failed == 1 ? "" : "s");
	}
	if (r->n_collections == 0)
		qbk_buf_addstr(out, "(no backups)\n");
	qbk_buf_size_text(r->stored_bytes, a, sizeof(a));
	qbk_buf_size_text(r->logical_bytes, b, sizeof(b));
	qbk_buf_size_text((uint64_t)r->growth_per_week, c, sizeof(c));
	qbk_buf_addf(out, "\nstorage: %s in %" PRIu64 " chunk%s for %s of "
	    "snapshots in %zu backup%s (dedup %.2fx); growth %s/week; %zu "
	    "in the window\n", a, r->stored_chunks,
	    r->stored_chunks == 1 ? "" : "s", b, r->n_backups,
	    r->n_backups == 1 ? "" : "s", r->dedup_ratio, c,
	    r->backups_in_window);
	qbk_buf_addf(out, "failed backup runs in the window: %zu\n",
	    r->failures_in_window);
	if (r->last_failure >= 0) {
		const struct qbk_failure *f =
		    &r->failures[r->last_failure];

		qbk_buf_addf(out, "last failed run: %s on %s (exit %d): %s\n",
		    iso(f->time, t1), f->host, f->exit_code, f->error);
	}
	qbk_buf_addf(out, "drills in the window: %zu passed, %zu failed\n",
	    r->drills_pass, r->drills_fail);
	if (r->last_drill >= 0) {
		const struct qbk_report_drill *d = &r->drills[r->last_drill];

		qbk_buf_addf(out, "last drill: %s at %s of backup %s: %s, rto "
		    "%s (%s)\n", d->id, iso(d->start, t1), d->backup_id,
		    d->pass ? "pass" : "FAIL",
		    qbk_config_format_duration((int64_t)d->rto_ms, a,
		    sizeof(a)), r->rto_met < 0 ? "no target" :
		    r->rto_met ? "target met" : "target MISSED");
		if (d->green_ms >= 0)
			qbk_buf_addf(out, "last drill green after %s\n",
			    qbk_config_format_duration(d->green_ms, a,
			    sizeof(a)));
		else if (d->green_ms == QBK_MANIFEST_GREEN_NOT_YET)
			qbk_buf_addstr(out, "last drill green: not within "
			    "its wait (readable, optimizations pending or "
			    "running)\n");
	} else {
		qbk_buf_addstr(out, "last drill: none\n");
	}
	for (i = 0; i < r->n_misses; i++)
		qbk_buf_addf(out, "missed: %s\n", r->misses[i].text);
	qbk_buf_addf(out, "objectives: %s\n", r->objectives_met ? "met" :
	    "MISSED");
}

void
qbk_report_prom_label(struct qbk_buf *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			qbk_buf_addstr(out, "\\\\");
		else if (*v == '"')
			qbk_buf_addstr(out, "\\\"");
		else if (*v == '\n')
			qbk_buf_addstr(out, "\\n");
		else
			qbk_buf_addch(out, *v);
	}
}

static void
family(struct qbk_buf *out, const char *name, const char *help)
{
	qbk_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help,
	    name);
}

static void
gauge_i(struct qbk_buf *out, const char *name, const char *help, int64_t v)
{
	family(out, name, help);
	qbk_buf_addf(out, "%s %" PRId64 "\n", name, v);
}

static void
gauge_d(struct qbk_buf *out, const char *name, const char *help, double v)
{
	family(out, name, help);
	qbk_buf_addf(out, "%s %.6g\n", name, v);
}

static void
coll_line(struct qbk_buf *out, const char *name, const char *coll,
    const char *value)
{
	qbk_buf_addf(out, "%s{collection=\"", name);
	qbk_report_prom_label(out, coll);
	qbk_buf_addf(out, "\"} %s\n", value);
}

void
qbk_report_prometheus(const struct qbk_report *r, struct qbk_buf *out)
{
	char v[64];
	size_t i;

	gauge_i(out, "qbk_report_timestamp_seconds",
	    "Time the report describes (its end).", r->opts.now);
	if (r->opts.rpo_target >= 0)
		gauge_i(out, "qbk_objective_rpo_seconds",
		    "Recovery point objective.", r->opts.rpo_target);
	if (r->opts.rto_target >= 0)
		gauge_i(out, "qbk_objective_rto_seconds",
		    "Recovery time objective.", r->opts.rto_target);
	if (r->n_collections > 0) {
		family(out, "qbk_collection_last_backup_timestamp_seconds",
		    "Start of the newest usable backup of the collection.");
		for (i = 0; i < r->n_collections; i++) {
			if (r->collections[i].last < 0)
				continue;
			snprintf(v, sizeof(v), "%" PRId64,
			    r->collections[i].last);
			coll_line(out, "qbk_collection_last_backup_timestamp_"
			    "seconds", r->collections[i].name, v);
		}
		family(out, "qbk_collection_rpo_seconds", "Report time minus "
		    "the newest usable backup of the collection.");
		for (i = 0; i < r->n_collections; i++) {
			if (r->collections[i].rpo < 0)
				snprintf(v, sizeof(v), "+Inf");
			else
				snprintf(v, sizeof(v), "%" PRId64,
				    r->collections[i].rpo);
			coll_line(out, "qbk_collection_rpo_seconds",
			    r->collections[i].name, v);
		}
		if (r->opts.rpo_target >= 0) {
			family(out, "qbk_collection_rpo_met", "1 if the "
			    "collection meets the recovery point objective.");
			for (i = 0; i < r->n_collections; i++)
				coll_line(out, "qbk_collection_rpo_met",
				    r->collections[i].name,
				    r->collections[i].rpo_met > 0 ? "1" : "0");
		}
		family(out, "qbk_collection_max_gap_seconds", "Longest time "
		    "between consecutive usable backups in the window.");
		for (i = 0; i < r->n_collections; i++) {
			snprintf(v, sizeof(v), "%" PRId64,
			    r->collections[i].max_gap);
			coll_line(out, "qbk_collection_max_gap_seconds",
			    r->collections[i].name, v);
		}
		family(out, "qbk_collection_backups", "Usable backups of the "
		    "collection in the window.");
		for (i = 0; i < r->n_collections; i++) {
			snprintf(v, sizeof(v), "%zu",
			    r->collections[i].backups);
			coll_line(out, "qbk_collection_backups",
			    r->collections[i].name, v);
		}
		family(out, "qbk_collection_partial_backups", "Backups of the "
		    "collection in the window that lack some of its shards.");
		for (i = 0; i < r->n_collections; i++) {
			snprintf(v, sizeof(v), "%zu",
			    r->collections[i].partial);
			coll_line(out, "qbk_collection_partial_backups",
			    r->collections[i].name, v);
		}
		family(out, "qbk_collection_failed_backups", "Failed backup "
		    "runs of the collection in the window.");
		for (i = 0; i < r->n_collections; i++) {
			snprintf(v, sizeof(v), "%zu",
			    r->collections[i].failed);
			coll_line(out, "qbk_collection_failed_backups",
			    r->collections[i].name, v);
		}
		family(out, "qbk_collection_size_bytes", "Snapshot bytes of "
		    "the newest usable backup of the collection.");
		for (i = 0; i < r->n_collections; i++) {
			snprintf(v, sizeof(v), "%" PRIu64,
			    r->collections[i].size);
			coll_line(out, "qbk_collection_size_bytes",
			    r->collections[i].name, v);
		}
	}
	gauge_i(out, "qbk_repository_backups", "Backups in the repository.",
	    (int64_t)r->n_backups);
	gauge_i(out, "qbk_failed_backups", "Failed backup runs in the "
	    "window.", (int64_t)r->failures_in_window);
	gauge_i(out, "qbk_repository_stored_bytes", "Bytes of the chunk "
	    "objects in the repository.", (int64_t)r->stored_bytes);
	gauge_i(out, "qbk_repository_logical_bytes", "Snapshot bytes of "
	    "every backup in the repository.", (int64_t)r->logical_bytes);
	gauge_d(out, "qbk_repository_dedup_ratio", "Logical bytes divided by "
	    "stored bytes.", r->dedup_ratio);
	gauge_d(out, "qbk_repository_growth_bytes_per_week", "New chunk bytes "
	    "per week over the window.", r->growth_per_week);
	if (r->last_drill >= 0) {
		const struct qbk_report_drill *d = &r->drills[r->last_drill];

		gauge_i(out, "qbk_drill_last_timestamp_seconds",
		    "Start of the newest drill.", d->start);
		gauge_i(out, "qbk_drill_last_success", "1 if the newest drill "
		    "passed.", d->pass ? 1 : 0);
		gauge_d(out, "qbk_drill_last_rto_seconds", "Restore time "
		    "measured by the newest drill.", (double)d->rto_ms /
		    1000.0);
		if (d->green_ms >= 0)
			gauge_d(out, "qbk_drill_last_green_seconds", "Time "
			    "until green measured by the newest drill.",
			    (double)d->green_ms / 1000.0);
		if (r->rto_met >= 0)
			gauge_i(out, "qbk_drill_last_rto_met", "1 if the newest "
			    "drill met the recovery time objective.",
			    r->rto_met);
	}
	family(out, "qbk_drills", "Drills in the window by result.");
	qbk_buf_addf(out, "qbk_drills{result=\"pass\"} %zu\n", r->drills_pass);
	qbk_buf_addf(out, "qbk_drills{result=\"fail\"} %zu\n", r->drills_fail);
	gauge_i(out, "qbk_objectives_met", "1 if every objective is met.",
	    r->objectives_met ? 1 : 0);
}
