/*
 * What qbk-backup tells about a run: its progress, its summary, its
 * Prometheus metrics and its --json report.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "command/qbk_backup.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_fs.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_metrics.h"
#include "repo/qbk_manifest.h"

/*
 * The value of qbk_backup_last_success_timestamp_seconds in the metrics
 * text ${prev} (the file about to be replaced), or 0 when it has none.
 */
static int64_t
prev_success(const char *prev)
{
	static const char name[] = "qbk_backup_last_success_timestamp_seconds";
	const char *p = prev;
	size_t n = sizeof(name) - 1;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && (p[n] == ' ' || p[n] == '\t')) {
			char *end;
			long long v;

			v = strtoll(p + n + 1, &end, 10);
			if (end != p + n + 1 && (*end == '\n' || *end == '\0' ||
			    *end == ' ' || *end == '\r') && v > 0)
				return (int64_t)v;
			return 0;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return 0;
}

void
qbk_backup_metrics(const struct qbk_manifest *m, int ok, const char *errtext,
    int64_t now, const char *prev, struct qbk_buf *out)
{
	static const char *const family[3] = { "qbk_backup_bytes",
	    "qbk_backup_new_bytes", "qbk_backup_points" };
	static const char *const help[3] = {
	    "Snapshot bytes read by the last backup, per collection.",
	    "Bytes of the last backup in chunks new to the repository, "
	    "per collection.",
	    "Points in each collection at the last backup." };
	int64_t last;
	size_t i, f;

	(void)errtext;
	qbk_metrics_one(out, "qbk_backup_last_run_timestamp_seconds",
	    "End of the last qbk-backup run.", "%lld", (long long)now);
	qbk_metrics_one(out, "qbk_backup_last_run_success",
	    "1 if the last qbk-backup run succeeded.", "%d", ok ? 1 : 0);
	/*
	 * The last success survives failed runs (and a full backup that ends
	 * after a newer hourly one): without it, the alert "no backup within
	 * the RPO" would lose its series exactly when backups fail.
	 */
	last = prev_success(prev);
	if (m != NULL && m->start > last)
		last = m->start;
	if (last > 0)
		qbk_metrics_one(out, "qbk_backup_last_success_timestamp_"
		    "seconds", "Start of the last successful backup.", "%lld",
		    (long long)last);
	if (m == NULL)
		return;
	qbk_metrics_one(out, "qbk_backup_duration_seconds",
	    "Duration of the last successful backup.", "%lld",
	    (long long)(m->end - m->start));
	for (f = 0; f < 3; f++) {
		qbk_metrics_gauge(out, family[f], help[f]);
		for (i = 0; i < m->n_collections; i++) {
			const struct qbk_manifest_collection *c =
			    m->collections[i];
			uint64_t v = 0;
			size_t k;

			for (k = 0; k < c->n_snapshots; k++)
				v += f == 0 ? c->snapshots[k]->bytes :
				    c->snapshots[k]->bytes_new;
			if (f == 2)
				v = c->points_count;
			qbk_metrics_sample(out, family[f], "collection",
			    c->name, "%llu", (unsigned long long)v);
		}
	}
	qbk_metrics_one(out, "qbk_backup_total_new_bytes", "Bytes of new "
	    "chunks stored by the last backup.", "%llu",
	    (unsigned long long)m->totals.bytes_new);
	/* A partial backup (--allow-partial) succeeds: these say what it
	 * lacks, for an alert on > 0. */
	qbk_metrics_gauge(out, "qbk_backup_missing_shards", "Shards the last "
	    "backup does not hold (no active replica could be read), per "
	    "collection.");
	for (i = 0; i < m->n_collections; i++)
		qbk_metrics_sample(out, "qbk_backup_missing_shards",
		    "collection", m->collections[i]->name, "%zu",
		    qbk_manifest_missing_count(m, m->collections[i]->name));
	qbk_metrics_one(out, "qbk_backup_unreachable_peers", "Peers of the "
	    "cluster the last backup could not reach.", "%zu",
	    m->n_unreachable);
}

void
qbk_backup_report_json(const struct qbk_manifest *m, int ok,
    const struct qbk_err *e, struct qbk_buf *out)
{
	json_t *doc = json_object(), *colls = json_array(), *probs = json_array();
	json_t *warns = json_array();
	size_t i, k;

	json_object_set_new(doc, "ok", json_boolean(ok));
	if (m != NULL) {
		json_object_set_new(doc, "backup_id", json_string(m->backup_id));
		json_object_set_new(doc, "type", json_string(
		    m->type == QBK_MANIFEST_TYPE_FULL ? "full" :
		    "incremental"));
		for (i = 0; i < m->n_collections; i++) {
			const struct qbk_manifest_collection *c =
			    m->collections[i];
			json_t *jc = json_object(), *snaps = json_array();
			uint64_t bytes = 0, bnew = 0, ms = 0;

			for (k = 0; k < c->n_snapshots; k++) {
				const struct qbk_manifest_snapshot *s =
				    c->snapshots[k];

				bytes += s->bytes;
				bnew += s->bytes_new;
				ms += s->duration_ms;
				char peer[32];

				snprintf(peer, sizeof(peer), "%llu",
				    (unsigned long long)s->peer_id);
				json_array_append_new(snaps, json_pack(
				    "{s:s?, s:I, s:I, s:I, s:s, s:s, s:s?}",
				    "name", s->name, "shard_id",
				    (json_int_t)s->shard_id, "bytes",
				    (json_int_t)s->bytes, "new_bytes",
				    (json_int_t)s->bytes_new, "sha256",
				    s->sha256, "peer_id", peer, "node_url",
				    s->node_url));
			}
			json_object_set_new(jc, "name", json_string(c->name));
			json_object_set_new(jc, "snapshot_bytes",
			    json_integer((json_int_t)bytes));
			json_object_set_new(jc, "new_bytes",
			    json_integer((json_int_t)bnew));
			json_object_set_new(jc, "sha256", json_string(
			    c->n_snapshots > 0 ? c->snapshots[0]->sha256 : ""));
			json_object_set_new(jc, "duration_ms",
			    json_integer((json_int_t)ms));
			json_object_set_new(jc, "points_count",
			    json_integer((json_int_t)c->points_count));
			json_object_set_new(jc, "snapshots", snaps);
			json_array_append_new(colls, jc);
		}
		{
			json_t *miss = json_array(), *unr = json_array();
			char peer[32];

			for (i = 0; i < m->n_missing; i++) {
				json_array_append_new(miss, json_pack(
				    "{s:s, s:I, s:s}", "collection",
				    m->missing[i].collection, "shard_id",
				    (json_int_t)m->missing[i].shard_id,
				    "reason", m->missing[i].reason != NULL ?
				    m->missing[i].reason : ""));
				json_array_append_new(warns, json_sprintf(
				    "shard %lld of collection '%s' is not "
				    "backed up: %s", (long long)
				    m->missing[i].shard_id,
				    m->missing[i].collection,
				    m->missing[i].reason));
			}
			for (i = 0; i < m->n_unreachable; i++) {
				snprintf(peer, sizeof(peer), "%llu",
				    (unsigned long long)
				    m->unreachable[i].peer_id);
				json_array_append_new(unr, json_pack(
				    "{s:s, s:s, s:s}", "peer_id", peer, "url",
				    m->unreachable[i].url, "reason",
				    m->unreachable[i].reason));
				json_array_append_new(warns, json_sprintf(
				    "peer %s cannot be reached at '%s': %s",
				    peer, m->unreachable[i].url,
				    m->unreachable[i].reason));
			}
			json_object_set_new(doc, "partial", json_boolean(
			    m->n_missing > 0));
			json_object_set_new(doc, "missing_shards", miss);
			json_object_set_new(doc, "unreachable_peers", unr);
		}
		json_object_set_new(doc, "totals", json_pack(
		    "{s:I, s:I, s:I, s:I, s:I}", "snapshots",
		    (json_int_t)m->totals.snapshots, "bytes",
		    (json_int_t)m->totals.bytes, "new_bytes",
		    (json_int_t)m->totals.bytes_new, "chunks",
		    (json_int_t)m->totals.chunks, "new_chunks",
		    (json_int_t)m->totals.chunks_new));
	}
	json_object_set_new(doc, "collections", colls);
	if (!ok && e != NULL)
		json_array_append_new(probs, json_string(e->msg));
	json_object_set_new(doc, "problems", probs);
	json_object_set_new(doc, "warnings", warns);
	qbk_json_dump(doc, out, 1);
	qbk_buf_addch(out, '\n');
	json_decref(doc);
}

void
qbk_backup_progress_text(const struct qbk_backup_progress *p,
    const char *progname, int tty, struct qbk_buf *out)
{
	char a[32], b[32];

	qbk_buf_size_text(p->bytes, a, sizeof(a));
	switch (p->event) {
	case QBK_BACKUP_EV_START:
		break;
	case QBK_BACKUP_EV_BYTES:
		if (tty)
			qbk_buf_addf(out, "\r%s: %-30.30s %12s", progname,
			    p->collection, a);
		break;
	case QBK_BACKUP_EV_DONE:
		qbk_buf_size_text(p->bytes_new, b, sizeof(b));
		qbk_buf_addf(out, "%s%s: %s: %s read, %s new, %.1f s\n",
		    tty ? "\r\033[K" : "", progname, p->collection, a, b,
		    (double)p->duration_ms / 1000.0);
		break;
	}
}

void
qbk_backup_summary_text(const struct qbk_manifest *m, struct qbk_buf *out)
{
	char a[32], b[32];

	qbk_buf_size_text(m->totals.bytes, a, sizeof(a));
	qbk_buf_size_text(m->totals.bytes_new, b, sizeof(b));
	qbk_buf_addf(out, "backup %s: %zu collection%s, %s read, %s new\n",
	    m->backup_id, m->n_collections, m->n_collections == 1 ? "" : "s",
	    a, b);
}

void
qbk_backup_metrics_update(const char *path, const struct qbk_manifest *m,
    int ok, const char *errtext, int64_t now, struct qbk_buf *out)
{
	struct qbk_buf prev = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_fs_read_file(path, 1 << 20, &prev, &err) != 0 &&
	    err.code != QBK_E_NOTFOUND)
		qbk_log(QBK_LOG_WARN, "cannot read the last metrics: %s",
		    err.msg);
	qbk_backup_metrics(m, ok, errtext, now, prev.len > 0 ? prev.buf :
	    NULL, out);
	qbk_buf_release(&prev);
}
