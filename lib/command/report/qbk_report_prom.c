/*
 * The report as Prometheus metrics (--prometheus).
 */

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include "command/qbk_report.h"
#include "common/qbk_buf.h"
#include "common/qbk_metrics.h"

/* The gauges per collection, each family with a line per collection. */
static void
collections_prometheus(const struct qbk_report *r, struct qbk_buf *out)
{
	const struct qbk_report_collection *c = r->collections;
	size_t i, n = r->n_collections;

	qbk_metrics_gauge(out, "qbk_collection_last_backup_timestamp_seconds",
	    "Start of the newest usable backup of the collection.");
	for (i = 0; i < n; i++)
		if (c[i].last >= 0)
			qbk_metrics_sample(out, "qbk_collection_last_backup_"
			    "timestamp_seconds", "collection", c[i].name,
			    "%" PRId64, c[i].last);
	qbk_metrics_gauge(out, "qbk_collection_rpo_seconds", "Report time "
	    "minus the newest usable backup of the collection.");
	for (i = 0; i < n; i++) {
		if (c[i].rpo < 0)
			qbk_metrics_sample(out, "qbk_collection_rpo_seconds",
			    "collection", c[i].name, "+Inf");
		else
			qbk_metrics_sample(out, "qbk_collection_rpo_seconds",
			    "collection", c[i].name, "%" PRId64, c[i].rpo);
	}
	if (r->opts.rpo_target >= 0) {
		qbk_metrics_gauge(out, "qbk_collection_rpo_met", "1 if the "
		    "collection meets the recovery point objective.");
		for (i = 0; i < n; i++)
			qbk_metrics_sample(out, "qbk_collection_rpo_met",
			    "collection", c[i].name, "%d",
			    c[i].rpo_met > 0 ? 1 : 0);
	}
	qbk_metrics_gauge(out, "qbk_collection_max_gap_seconds", "Longest time "
	    "between consecutive usable backups in the window.");
	for (i = 0; i < n; i++)
		qbk_metrics_sample(out, "qbk_collection_max_gap_seconds",
		    "collection", c[i].name, "%" PRId64, c[i].max_gap);
	qbk_metrics_gauge(out, "qbk_collection_backups", "Usable backups of "
	    "the collection in the window.");
	for (i = 0; i < n; i++)
		qbk_metrics_sample(out, "qbk_collection_backups", "collection",
		    c[i].name, "%zu", c[i].backups);
	qbk_metrics_gauge(out, "qbk_collection_partial_backups", "Backups of "
	    "the collection in the window that lack some of its shards.");
	for (i = 0; i < n; i++)
		qbk_metrics_sample(out, "qbk_collection_partial_backups",
		    "collection", c[i].name, "%zu", c[i].partial);
	qbk_metrics_gauge(out, "qbk_collection_failed_backups", "Failed "
	    "backup runs of the collection in the window.");
	for (i = 0; i < n; i++)
		qbk_metrics_sample(out, "qbk_collection_failed_backups",
		    "collection", c[i].name, "%zu", c[i].failed);
	qbk_metrics_gauge(out, "qbk_collection_size_bytes", "Snapshot bytes "
	    "of the newest usable backup of the collection.");
	for (i = 0; i < n; i++)
		qbk_metrics_sample(out, "qbk_collection_size_bytes",
		    "collection", c[i].name, "%" PRIu64, c[i].size);
}

/* The gauges of the newest drill. */
static void
drill_prometheus(const struct qbk_report *r, struct qbk_buf *out)
{
	const struct qbk_report_drill *d = &r->drills[r->last_drill];

	qbk_metrics_one(out, "qbk_drill_last_timestamp_seconds",
	    "Start of the newest drill.", "%" PRId64, d->start);
	qbk_metrics_one(out, "qbk_drill_last_success", "1 if the newest drill "
	    "passed.", "%d", d->pass ? 1 : 0);
	qbk_metrics_one(out, "qbk_drill_last_rto_seconds", "Restore time "
	    "measured by the newest drill.", "%.6g",
	    (double)d->rto_ms / 1000.0);
	if (d->green_ms >= 0)
		qbk_metrics_one(out, "qbk_drill_last_green_seconds", "Time "
		    "until green measured by the newest drill.", "%.6g",
		    (double)d->green_ms / 1000.0);
	if (r->rto_met >= 0)
		qbk_metrics_one(out, "qbk_drill_last_rto_met", "1 if the "
		    "newest drill met the recovery time objective.", "%d",
		    r->rto_met);
}

void
qbk_report_prometheus(const struct qbk_report *r, struct qbk_buf *out)
{
	qbk_metrics_one(out, "qbk_report_timestamp_seconds",
	    "Time the report describes (its end).", "%" PRId64, r->opts.now);
	if (r->opts.rpo_target >= 0)
		qbk_metrics_one(out, "qbk_objective_rpo_seconds",
		    "Recovery point objective.", "%" PRId64,
		    r->opts.rpo_target);
	if (r->opts.rto_target >= 0)
		qbk_metrics_one(out, "qbk_objective_rto_seconds",
		    "Recovery time objective.", "%" PRId64,
		    r->opts.rto_target);
	if (r->n_collections > 0)
		collections_prometheus(r, out);
	qbk_metrics_one(out, "qbk_repository_backups",
	    "Backups in the repository.", "%" PRId64, (int64_t)r->n_backups);
	qbk_metrics_one(out, "qbk_failed_backups", "Failed backup runs in the "
	    "window.", "%" PRId64, (int64_t)r->failures_in_window);
	qbk_metrics_one(out, "qbk_repository_stored_bytes", "Bytes of the "
	    "chunk objects in the repository.", "%" PRId64,
	    (int64_t)r->stored_bytes);
	qbk_metrics_one(out, "qbk_repository_logical_bytes", "Snapshot bytes "
	    "of every backup in the repository.", "%" PRId64,
	    (int64_t)r->logical_bytes);
	qbk_metrics_one(out, "qbk_repository_dedup_ratio", "Logical bytes "
	    "divided by stored bytes.", "%.6g", r->dedup_ratio);
	qbk_metrics_one(out, "qbk_repository_growth_bytes_per_week", "New "
	    "chunk bytes per week over the window.", "%.6g",
	    r->growth_per_week);
	if (r->last_drill >= 0)
		drill_prometheus(r, out);
	qbk_metrics_gauge(out, "qbk_drills", "Drills in the window by result.");
	qbk_metrics_sample(out, "qbk_drills", "result", "pass", "%zu",
	    r->drills_pass);
	qbk_metrics_sample(out, "qbk_drills", "result", "fail", "%zu",
	    r->drills_fail);
	qbk_metrics_one(out, "qbk_objectives_met", "1 if every objective is "
	    "met.", "%d", r->objectives_met ? 1 : 0);
}
