/*
 * The report as Prometheus metrics (--prometheus).
 */

#include <inttypes.h>
#include <stdio.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "command/qbk_report.h"

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
