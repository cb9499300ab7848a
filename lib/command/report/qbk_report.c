#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command/report/qbk_report_internal.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_time.h"
#include "config/qbk_config.h"
#include "repo/qbk_failure.h"
#include "repo/qbk_manifest.h"
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

/* The failed runs up to now, and those in the window. */
static void
compute_failures(struct qbk_report *r)
{
	int64_t now = r->opts.now, since = r->opts.since;
	size_t i;

	r->failures_in_window = 0;
	r->last_failure = -1;
	for (i = 0; i < r->n_failures; i++) {
		if (r->failures[i].time > now)
			continue;
		r->last_failure = (long)i;
		if (r->failures[i].time >= since)
			r->failures_in_window++;
	}
}

/* Repository figures over every backup, window counts, growth; the names
 * of the collections of the backups up to now go to ${*names}. */
static void
compute_repository(struct qbk_report *r, char ***names, size_t *nnames)
{
	int64_t now = r->opts.now, since = r->opts.since;
	int64_t first_t = -1, last_t = -1;
	uint64_t grown = 0;
	size_t i, k;

	r->logical_bytes = 0;
	r->backups_in_window = 0;
	for (i = 0; i < r->n_backups; i++) {
		const struct qbk_report_backup *x = &r->backups[i];

		r->logical_bytes += x->size;
		if (x->start > now)
			continue;
		for (k = 0; k < x->n_parts; k++) {
			*names = qbk_xrealloc(*names,
			    (*nnames + 1) * sizeof(**names));
			(*names)[(*nnames)++] = x->parts[k].name;
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
}

/* Collections: every name any backup up to now holds (${names}, freed
 * here), and every one that a failed run up to now was asked to back up
 * (one that never had a backup must not go unnoticed). */
static void
compute_collections(struct qbk_report *r, char **names, size_t nnames)
{
	int64_t now = r->opts.now;
	size_t i, k;

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
}

/* Drills in the window, the newest, and its recovery time. */
static void
compute_drills(struct qbk_report *r)
{
	int64_t now = r->opts.now, since = r->opts.since;
	size_t i;

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
}

/* What misses the objectives. */
static void
compute_misses(struct qbk_report *r)
{
	char a[48], b[48], t[QBK_TIME_LEN + 1];
	size_t i;

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
}

void
qbk_report_compute(struct qbk_report *r)
{
	char **names = NULL;
	size_t nnames = 0;

	free_derived(r);
	if (r->n_backups > 1)
		qsort(r->backups, r->n_backups, sizeof(*r->backups),
		    cmp_backup);
	if (r->n_drills > 1)
		qsort(r->drills, r->n_drills, sizeof(*r->drills), cmp_drill);
	if (r->n_failures > 1)
		qsort(r->failures, r->n_failures, sizeof(*r->failures),
		    cmp_failure);
	compute_failures(r);
	compute_repository(r, &names, &nnames);
	compute_collections(r, names, nnames);
	compute_drills(r);
	compute_misses(r);
	r->objectives_met = r->n_misses == 0;
}
