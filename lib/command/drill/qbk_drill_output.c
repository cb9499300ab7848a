/*
 * What qbk-drill tells: the list of drill records, the text and --json
 * reports of a drill, its exit code and alert, and its Prometheus metrics.
 */

#include <stdint.h>

#include <jansson.h>

#include "command/qbk_drill.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_exit.h"
#include "common/qbk_json.h"
#include "common/qbk_metrics.h"
#include "common/qbk_time.h"
#include "config/qbk_config.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"

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

	qbk_metrics_one(out, "qbk_drill_last_run_timestamp_seconds",
	    "End of the last qbk-drill run.", "%lld", (long long)now);
	qbk_metrics_one(out, "qbk_drill_last_run_success",
	    "1 if the last drill's validation passed.", "%d", ok ? 1 : 0);
	if (d == NULL || d->n_phases == 0)
		return;
	if (!res->validate_only)
		qbk_metrics_one(out, "qbk_drill_rto_seconds", "Measured "
		    "recovery time of the last drill (restore and "
		    "validation).", "%.3f", (double)d->rto_ms / 1000.0);
	if (!res->validate_only && d->green_ms >= 0)
		qbk_metrics_one(out, "qbk_drill_green_seconds", "Time from "
		    "the start of the restore until every restored "
		    "collection was green (optimizations done).", "%.3f",
		    (double)d->green_ms / 1000.0);
	if (!res->validate_only && d->rto_target_ms > 0) {
		qbk_metrics_one(out, "qbk_drill_rto_target_seconds",
		    "Recovery time objective ([objectives] rto).", "%.3f",
		    (double)d->rto_target_ms / 1000.0);
		qbk_metrics_one(out, "qbk_drill_rto_met", "1 if the last "
		    "drill's recovery time met the objective.", "%d",
		    d->rto_ms <= d->rto_target_ms ? 1 : 0);
	}
	qbk_metrics_gauge(out, "qbk_drill_phase_seconds", "Duration of each "
	    "phase of the last drill.");
	for (i = 0; i < d->n_phases; i++)
		qbk_metrics_sample(out, "qbk_drill_phase_seconds", "phase",
		    d->phases[i].name, "%.3f",
		    (double)d->phases[i].ms / 1000.0);
}

void
qbk_drill_text(const struct qbk_drill_result *res, int quiet,
    struct qbk_buf *out)
{
	const struct qbk_manifest_drill *d = res->rec;
	char target[48];
	size_t i;

	for (i = 0; i < d->n_problems; i++)
		qbk_buf_addf(out, "problem: %s\n", d->problems[i]);
	if (quiet && d->pass && res->rto_met != 0)
		return;
	if (res->validate_only)
		qbk_buf_addf(out, "validation of %zu collection%s against "
		    "backup %s (%s): %s\n", res->ncollections,
		    res->ncollections == 1 ? "" : "s", d->backup_id, d->level,
		    d->pass ? "passed" : "FAILED");
	else
		qbk_buf_addf(out, "drill %s of backup %s (%s, %s, %zu "
		    "collection%s): %s, recovery time %.1f s%s%s%s\n",
		    d->drill_id, d->backup_id, d->scenario, d->level,
		    res->ncollections, res->ncollections == 1 ? "" : "s",
		    d->pass ? "passed" : "FAILED", (double)d->rto_ms / 1000.0,
		    d->rto_target_ms > 0 ? " (target " : "",
		    d->rto_target_ms > 0 ? qbk_config_format_duration(
		    (int64_t)d->rto_target_ms, target, sizeof(target)) : "",
		    d->rto_target_ms > 0 ? (res->rto_met ? ", met)" :
		    ", MISSED)") : "");
	if (!res->validate_only && res->ran && d->green_ms >= 0)
		qbk_buf_addf(out, "green after %.1f s\n",
		    (double)d->green_ms / 1000.0);
	else if (!res->validate_only && res->ran &&
	    d->green_ms == QBK_MANIFEST_GREEN_NOT_YET)
		qbk_buf_addstr(out, "not green yet (optimizations pending or "
		    "running): readable, restored\n");
}

int
qbk_drill_exit_code(const struct qbk_drill_result *res)
{
	if (!res->rec->pass)
		return QBK_EXIT_DATA;
	return res->rto_met == 0 ? QBK_EXIT_OBJECTIVE : QBK_EXIT_OK;
}

void
qbk_drill_alert_text(const struct qbk_drill_result *res,
    struct qbk_buf *out)
{
	const struct qbk_manifest_drill *d = res->rec;
	char target[48];
	int code = qbk_drill_exit_code(res);

	if (code == QBK_EXIT_DATA)
		qbk_buf_addf(out, "%s%s of backup %s (%s) failed: %s%s",
		    res->validate_only ? "validation" : "drill ",
		    res->validate_only ? "" : d->drill_id, d->backup_id,
		    d->level, d->n_problems > 0 ? d->problems[0] :
		    "no verdict", d->n_problems > 1 ? " (and more)" : "");
	else if (code == QBK_EXIT_OBJECTIVE)
		qbk_buf_addf(out, "drill %s of backup %s passed, but recovery "
		    "took %.1f s, more than the target %s", d->drill_id,
		    d->backup_id, (double)d->rto_ms / 1000.0,
		    qbk_config_format_duration((int64_t)d->rto_target_ms,
		    target, sizeof(target)));
}
