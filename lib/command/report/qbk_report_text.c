/*
 * The report and the list as text for people, and the choice of format.
 */

#include <inttypes.h>
#include <stdio.h>

#include "command/qbk_report.h"
#include "command/report/qbk_report_internal.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_time.h"
#include "config/qbk_config.h"
#include "repo/qbk_failure.h"
#include "repo/qbk_manifest.h"

static const char *
iso(int64_t t, char *buf)
{
	if (qbk_time_format(t, buf) != 0)
		snprintf(buf, QBK_TIME_LEN + 1, "-");
	return buf;
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
qbk_report_render(const struct qbk_report *r, int list,
    enum qbk_report_format format, struct qbk_buf *out)
{
	if (list && format == QBK_REPORT_FORMAT_JSON)
		qbk_report_list_json(r, out);
	else if (list)
		qbk_report_list_text(r, out);
	else if (format == QBK_REPORT_FORMAT_JSON)
		qbk_report_json(r, out);
	else if (format == QBK_REPORT_FORMAT_PROMETHEUS)
		qbk_report_prometheus(r, out);
	else if (format == QBK_REPORT_FORMAT_TEXT)
		qbk_report_text(r, out);
}

void
qbk_report_misses_text(const struct qbk_report *r, const char *progname,
    struct qbk_buf *out)
{
	size_t i;

	for (i = 0; i < r->n_misses; i++)
		qbk_buf_addf(out, "%s: objective missed: %s\n", progname,
		    r->misses[i].text);
}
