/*
 * The report and the list as JSON (--json).
 */

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "command/qbk_report.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_json.h"
#include "common/qbk_time.h"
#include "repo/qbk_failure.h"
#include "repo/qbk_manifest.h"

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
