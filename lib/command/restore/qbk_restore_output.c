#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "command/restore/qbk_restore_internal.h"
#include "common/qbk_err.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"

/* ---- reports --------------------------------------------------------- */

void
qbk_restore_report_init(struct qbk_restore_report *r)
{
	memset(r, 0, sizeof(*r));
}

static void
item_release(struct qbk_restore_item *it)
{
	size_t k;

	free(it->name);
	free(it->target);
	for (k = 0; k < it->nsnaps; k++)
		free(it->snaps[k].name);
	free(it->snaps);
}

void
qbk_restore_report_release(struct qbk_restore_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nitems; i++)
		item_release(&r->items[i]);
	free(r->items);
	for (i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	memset(r, 0, sizeof(*r));
}

struct qbk_restore_item *
qbk_restore_add_item(
    struct qbk_restore_report *r, const char *name, const char *target)
{
	struct qbk_restore_item *it;

	r->items = qbk_xrealloc(r->items, (r->nitems + 1) * sizeof(*it));
	it = &r->items[r->nitems++];
	memset(it, 0, sizeof(*it));
	it->name = qbk_xstrdup(name);
	it->target = qbk_xstrdup(target);
	return it;
}

/* Forget the last item (its collection failed). */
void
qbk_restore_drop_item(struct qbk_restore_report *r)
{
	if (r->nitems == 0)
		return;
	item_release(&r->items[--r->nitems]);
}

void
qbk_restore_item_add_snap(struct qbk_restore_item *it, const char *name,
    int64_t shard_id, uint64_t bytes, const char *sha)
{
	struct qbk_restore_snap *s;

	it->snaps = qbk_xrealloc(it->snaps, (it->nsnaps + 1) * sizeof(*s));
	s = &it->snaps[it->nsnaps++];
	s->name = qbk_xstrdup(name != NULL ? name : "");
	s->shard_id = shard_id;
	s->bytes = bytes;
	snprintf(s->sha256, sizeof(s->sha256), "%s", sha != NULL ? sha : "");
	it->bytes += bytes;
	if (it->nsnaps == 1)
		memcpy(it->sha256, s->sha256, sizeof(it->sha256));
}

/* Log a warning and keep it for the report. */
void
qbk_restore_warning(struct qbk_restore_report *r, const char *fmt, ...)
{
	struct qbk_buf b = QBK_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	qbk_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	qbk_warn("%s", b.buf);
	r->warnings = qbk_xrealloc(r->warnings,
	    (r->nwarnings + 1) * sizeof(char *));
	r->warnings[r->nwarnings++] = qbk_buf_detach(&b, NULL);
}

void
qbk_restore_report_json(const struct qbk_restore_report *r, int ok,
    const struct qbk_err *e, struct qbk_buf *out)
{
	json_t *doc = json_object(), *colls = json_array(), *probs =
	    json_array(), *warns = json_array();
	size_t i, k;

	json_object_set_new(doc, "ok", json_boolean(ok));
	json_object_set_new(doc, "backup_id", r->backup_id[0] != '\0' ?
	    json_string(r->backup_id) : json_null());
	if (!ok && e != NULL)
		json_array_append_new(probs, json_string(e->msg[0] != '\0' ?
		    e->msg : "unknown error"));
	json_object_set_new(doc, "problems", probs);
	for (i = 0; i < r->nwarnings; i++)
		json_array_append_new(warns, json_string(r->warnings[i]));
	json_object_set_new(doc, "warnings", warns);
	if (r->safety_backup_id[0] != '\0')
		json_object_set_new(doc, "safety_backup_id",
		    json_string(r->safety_backup_id));
	for (i = 0; i < r->nitems; i++) {
		const struct qbk_restore_item *it = &r->items[i];
		json_t *snaps = json_array();

		for (k = 0; k < it->nsnaps; k++) {
			const struct qbk_restore_snap *s = &it->snaps[k];
			json_t *js = json_pack("{s:s, s:I, s:I, s:s}", "name",
			    s->name, "shard_id", (json_int_t)s->shard_id,
			    "bytes", (json_int_t)s->bytes, "sha256",
			    s->sha256);

			json_array_append_new(snaps, js);
		}
		json_array_append_new(colls, json_pack("{s:s, s:s, s:I, s:s, "
		    "s:I, s:b, s:o}", "name", it->name, "target", it->target,
		    "bytes", (json_int_t)it->bytes, "sha256", it->sha256,
		    "duration_ms", (json_int_t)it->duration_ms, "replaced",
		    it->replaced, "snapshots", snaps));
	}
	json_object_set_new(doc, "collections", colls);
	qbk_json_dump(doc, out, 1);
	qbk_buf_addch(out, '\n');
	json_decref(doc);
}

void
qbk_restore_summary_text(const struct qbk_restore_report *r,
    struct qbk_buf *out)
{
	size_t i;

	for (i = 0; i < r->nitems; i++) {
		const struct qbk_restore_item *it = &r->items[i];

		qbk_buf_addf(out, "restored %s%s%s from backup %s: %llu bytes, "
		    "sha256 %s, %.1f s\n", it->name[0] != '\0' ? it->name :
		    "snapshot", strcmp(it->name, it->target) != 0 ? " to " : "",
		    strcmp(it->name, it->target) != 0 ? it->target : "",
		    r->backup_id, (unsigned long long)it->bytes, it->sha256,
		    (double)it->duration_ms / 1000.0);
	}
	if (r->safety_backup_id[0] != '\0')
		qbk_buf_addf(out, "safety backup of the replaced collections: "
		    "%s\n", r->safety_backup_id);
}

void
qbk_restore_progress_text(const struct qbk_restore_progress *p,
    const char *progname, struct qbk_buf *out)
{
	if (p->event == QBK_RESTORE_EV_BYTES && p->total > 0)
		qbk_buf_addf(out, "\r%s: %-30.30s %5.1f%%", progname,
		    p->collection, 100.0 * (double)p->bytes /
		    (double)p->total);
	else if (p->event == QBK_RESTORE_EV_DONE)
		qbk_buf_addstr(out, "\r\033[K");
}

/* ---- listing --------------------------------------------------------- */

static const char *
snapkind_name(enum qbk_manifest_snapkind k)
{
	switch (k) {
	case QBK_MANIFEST_SNAP_SHARD:
		return "shard";
	case QBK_MANIFEST_SNAP_FULL:
		return "full";
	default:
		return "collection";
	}
}

static json_t *
snap_json(const struct qbk_manifest_snapshot *s)
{
	char peer[32], start[QBK_TIME_LEN + 1];

	snprintf(peer, sizeof(peer), "%llu", (unsigned long long)s->peer_id);
	qbk_time_format(s->start, start);
	return json_pack("{s:s, s:I, s:s?, s:I, s:s, s:s, s:s?, s:s, s:I, "
	    "s:I}", "kind", snapkind_name(s->kind), "shard_id",
	    (json_int_t)s->shard_id, "name", s->name, "size",
	    (json_int_t)s->size, "sha256", s->sha256, "peer_id", peer,
	    "node_url", s->node_url, "start", start, "chunks",
	    (json_int_t)s->n_chunks, "duration_ms",
	    (json_int_t)s->duration_ms);
}

/* The shard layout of a distributed collection, or null. */
static json_t *
cluster_json(const struct qbk_manifest_cluster *cl)
{
	json_t *o, *shards, *peers;
	char id[32];
	size_t i, k;

	if (cl == NULL)
		return json_null();
	shards = json_array();
	peers = json_array();
	for (i = 0; i < cl->n_peers; i++) {
		snprintf(id, sizeof(id), "%llu", (unsigned long long)
		    cl->peers[i]);
		json_array_append_new(peers, json_string(id));
	}
	for (i = 0; i < cl->n_shards; i++) {
		const struct qbk_manifest_shard *sh = &cl->shards[i];
		json_t *reps = json_array();

		for (k = 0; k < sh->n_replicas; k++) {
			snprintf(id, sizeof(id), "%llu", (unsigned long long)
			    sh->replicas[k].peer_id);
			json_array_append_new(reps, json_pack("{s:s, s:s, "
			    "s:I}", "peer_id", id, "state",
			    sh->replicas[k].state != NULL ?
			    sh->replicas[k].state : "", "points_count",
			    (json_int_t)sh->replicas[k].points_count));
		}
		snprintf(id, sizeof(id), "%llu", (unsigned long long)
		    sh->peer_id);
		json_array_append_new(shards, json_pack("{s:I, s:s?, s:s, "
		    "s:I, s:o}", "shard_id", (json_int_t)sh->shard_id,
		    "shard_key", sh->shard_key, "peer_id", id, "points_count",
		    (json_int_t)sh->points_count, "replicas", reps));
	}
	o = json_pack("{s:I, s:I, s:I, s:s, s:o, s:o}", "shard_number",
	    (json_int_t)cl->shard_number, "replication_factor",
	    (json_int_t)cl->replication_factor, "write_consistency_factor",
	    (json_int_t)cl->write_consistency_factor, "sharding_method",
	    cl->sharding_method != NULL ? cl->sharding_method : "auto",
	    "peers", peers, "shards", shards);
	return o != NULL ? o : json_null();
}

struct list_ctx {
	struct qbk_buf *out;
	json_t *arr;
	const struct qbk_manifest *m;
};

static void
aliases_of(const struct qbk_manifest *m, const char *coll, json_t *arr,
    struct qbk_buf *text)
{
	size_t i, n = 0;

	for (i = 0; i < m->n_aliases; i++) {
		if (strcmp(m->aliases[i].collection, coll) != 0)
			continue;
		if (arr != NULL)
			json_array_append_new(arr,
			    json_string(m->aliases[i].alias));
		if (text != NULL)
			qbk_buf_addf(text, "%s%s", n++ ? ", " : "",
			    m->aliases[i].alias);
	}
}

static void
list_member(void *cookie, const char *coll, const char *path, uint64_t size)
{
	struct list_ctx *l = cookie;
	char h[32];

	if (l->arr != NULL) {
		json_t *al = json_array();

		aliases_of(l->m, coll, al, NULL);
		json_array_append_new(l->arr, json_pack("{s:s, s:n, s:o, s:[{"
		    "s:s, s:I, s:s, s:I}]}", "name", coll, "points_count",
		    "aliases", al, "snapshots", "kind", "member", "shard_id",
		    (json_int_t)-1, "name", path, "size", (json_int_t)size));
		return;
	}
	qbk_buf_size_text(size, h, sizeof(h));
	qbk_buf_addf(l->out, "  collection %s: %s in '%s'", coll, h, path);
	if (l->m->n_aliases > 0) {
		struct qbk_buf a = QBK_BUF_INIT;

		aliases_of(l->m, coll, NULL, &a);
		if (a.len > 0)
			qbk_buf_addf(l->out, ", aliases %s", a.buf);
		qbk_buf_release(&a);
	}
	qbk_buf_addch(l->out, '\n');
}

static void
list_json(const struct qbk_manifest *m, struct qbk_buf *out)
{
	json_t *doc = json_object(), *colls = json_array(), *tags =
	    json_object(), *aliases = json_object(), *vers = json_array(),
	    *fulls = json_array(), *missing = json_array();
	char start[QBK_TIME_LEN + 1], end[QBK_TIME_LEN + 1];
	struct list_ctx l = { out, colls, m };
	size_t i, k;

	qbk_time_format(m->start, start);
	qbk_time_format(m->end, end);
	json_object_set_new(doc, "ok", json_true());
	json_object_set_new(doc, "problems", json_array());
	json_object_set_new(doc, "backup_id", json_string(m->backup_id));
	json_object_set_new(doc, "time", json_string(start));
	json_object_set_new(doc, "end", json_string(end));
	json_object_set_new(doc, "type", json_string(m->type ==
	    QBK_MANIFEST_TYPE_FULL ? "full" : "incremental"));
	json_object_set_new(doc, "kind", json_string(m->kind ==
	    QBK_MANIFEST_KIND_FULL_STORAGE ? "full-storage" : "collections"));
	json_object_set_new(doc, "host", json_string(m->host != NULL ?
	    m->host : ""));
	json_object_set_new(doc, "tool_version", json_string(
	    m->tool_version != NULL ? m->tool_version : ""));
	for (i = 0; i < m->n_qdrant_versions; i++)
		json_array_append_new(vers, json_string(m->qdrant_versions[i]));
	json_object_set_new(doc, "qdrant_versions", vers);
	for (i = 0; i < m->n_tags; i++)
		json_object_set_new(tags, m->tags[i].key,
		    json_string(m->tags[i].value));
	json_object_set_new(doc, "tags", tags);
	for (i = 0; i < m->n_aliases; i++)
		json_object_set_new(aliases, m->aliases[i].alias,
		    json_string(m->aliases[i].collection));
	json_object_set_new(doc, "aliases", aliases);
	for (i = 0; i < m->n_collections; i++) {
		const struct qbk_manifest_collection *c = m->collections[i];
		json_t *snaps = json_array(), *al = json_array();
		uint64_t size = 0;

		for (k = 0; k < c->n_aliases; k++)
			json_array_append_new(al, json_string(c->aliases[k]));
		for (k = 0; k < c->n_snapshots; k++) {
			json_array_append_new(snaps,
			    snap_json(c->snapshots[k]));
			size += c->snapshots[k]->size;
		}
		json_array_append_new(colls, json_pack("{s:s, s:I, s:I, s:o, "
		    "s:o, s:O?, s:o}", "name", c->name, "points_count",
		    (json_int_t)c->points_count, "size", (json_int_t)size,
		    "aliases", al, "snapshots", snaps, "vectors", c->vectors,
		    "cluster", cluster_json(c->cluster)));
	}
	for (i = 0; i < m->n_missing; i++)
		json_array_append_new(missing, json_pack("{s:s, s:I, s:s}",
		    "collection", m->missing[i].collection, "shard_id",
		    (json_int_t)m->missing[i].shard_id, "reason",
		    m->missing[i].reason != NULL ? m->missing[i].reason : ""));
	json_object_set_new(doc, "missing_shards", missing);
	missing = json_array();
	for (i = 0; i < m->n_unreachable; i++) {
		char id[32];

		snprintf(id, sizeof(id), "%llu", (unsigned long long)
		    m->unreachable[i].peer_id);
		json_array_append_new(missing, json_pack("{s:s, s:s, s:s}",
		    "peer_id", id, "url", m->unreachable[i].url, "reason",
		    m->unreachable[i].reason));
	}
	json_object_set_new(doc, "unreachable_peers", missing);
	for (i = 0; i < m->n_snapshots; i++) {
		json_array_append_new(fulls, snap_json(m->snapshots[i]));
		qbk_restore_full_members(m->snapshots[i], list_member, &l);
	}
	json_object_set_new(doc, "collections", colls);
	json_object_set_new(doc, "snapshots", fulls);
	json_object_set_new(doc, "totals", json_pack("{s:I, s:I, s:I, s:I}",
	    "snapshots", (json_int_t)m->totals.snapshots, "size",
	    (json_int_t)m->totals.size, "chunks",
	    (json_int_t)m->totals.chunks, "bytes_new",
	    (json_int_t)m->totals.bytes_new));
	qbk_json_dump(doc, out, 1);
	qbk_buf_addch(out, '\n');
	json_decref(doc);
}

static void
list_snap_text(const struct qbk_manifest_snapshot *s, struct qbk_buf *out)
{
	char h[32];

	qbk_buf_size_text(s->size, h, sizeof(h));
	if (s->kind == QBK_MANIFEST_SNAP_SHARD && s->peer_id != 0)
		qbk_buf_addf(out, "    shard %lld (peer %llu): ",
		    (long long)s->shard_id, (unsigned long long)s->peer_id);
	else if (s->kind == QBK_MANIFEST_SNAP_SHARD)
		qbk_buf_addf(out, "    shard %lld: ", (long long)s->shard_id);
	else
		qbk_buf_addf(out, "    %s: ", snapkind_name(s->kind));
	qbk_buf_addf(out, "%s, %s (%llu bytes), sha256 %s\n",
	    s->name != NULL ? s->name : "(unnamed)", h,
	    (unsigned long long)s->size, s->sha256);
}

void
qbk_restore_list(const struct qbk_manifest *m, int json, struct qbk_buf *out)
{
	char start[QBK_TIME_LEN + 1], h[32];
	struct list_ctx l = { out, NULL, m };
	size_t i, k;

	if (json) {
		list_json(m, out);
		return;
	}
	qbk_time_format(m->start, start);
	qbk_buf_size_text(m->totals.size, h, sizeof(h));
	qbk_buf_addf(out, "backup %s: %s, %s, taken %s on %s by %s\n",
	    m->backup_id, m->type == QBK_MANIFEST_TYPE_FULL ? "full" :
	    "incremental", m->kind == QBK_MANIFEST_KIND_FULL_STORAGE ?
	    "full storage" : "collections", start,
	    m->host != NULL ? m->host : "?",
	    m->tool_version != NULL ? m->tool_version : "?");
	qbk_buf_addf(out, "  %llu snapshot%s, %s", (unsigned long long)
	    m->totals.snapshots, m->totals.snapshots == 1 ? "" : "s", h);
	for (i = 0; i < m->n_qdrant_versions; i++)
		qbk_buf_addf(out, "%s%s", i == 0 ? ", Qdrant " : ", ",
		    m->qdrant_versions[i]);
	qbk_buf_addch(out, '\n');
	if (m->n_tags > 0) {
		qbk_buf_addstr(out, "  tags:");
		for (i = 0; i < m->n_tags; i++)
			qbk_buf_addf(out, " %s=%s", m->tags[i].key,
			    m->tags[i].value);
		qbk_buf_addch(out, '\n');
	}
	for (i = 0; i < m->n_collections; i++) {
		const struct qbk_manifest_collection *c = m->collections[i];
		uint64_t size = 0;

		for (k = 0; k < c->n_snapshots; k++)
			size += c->snapshots[k]->size;
		qbk_buf_size_text(size, h, sizeof(h));
		qbk_buf_addf(out, "  collection %s: %llu points, %zu "
		    "snapshot%s, %s", c->name,
		    (unsigned long long)c->points_count, c->n_snapshots,
		    c->n_snapshots == 1 ? "" : "s", h);
		for (k = 0; k < c->n_aliases; k++)
			qbk_buf_addf(out, "%s%s", k == 0 ? ", aliases " : ", ",
			    c->aliases[k]);
		qbk_buf_addch(out, '\n');
		if (c->cluster != NULL)
			qbk_buf_addf(out, "    cluster: %llu shards, replication "
			    "factor %llu, write consistency factor %llu, %s "
			    "sharding, %zu peers\n", (unsigned long long)
			    c->cluster->shard_number, (unsigned long long)
			    c->cluster->replication_factor,
			    (unsigned long long)
			    c->cluster->write_consistency_factor,
			    c->cluster->sharding_method != NULL ?
			    c->cluster->sharding_method : "auto",
			    c->cluster->n_peers);
		for (k = 0; k < c->n_snapshots; k++)
			list_snap_text(c->snapshots[k], out);
	}
	for (i = 0; i < m->n_snapshots; i++) {
		list_snap_text(m->snapshots[i], out);
		qbk_restore_full_members(m->snapshots[i], list_member, &l);
	}
	for (i = 0; i < m->n_missing; i++)
		qbk_buf_addf(out, "  missing: shard %lld of %s%s%s\n",
		    (long long)m->missing[i].shard_id,
		    m->missing[i].collection,
		    m->missing[i].reason[0] != '\0' ? ": " : "",
		    m->missing[i].reason);
	for (i = 0; i < m->n_unreachable; i++)
		qbk_buf_addf(out, "  unreachable: peer %llu at %s%s%s\n",
		    (unsigned long long)m->unreachable[i].peer_id,
		    m->unreachable[i].url[0] != '\0' ? m->unreachable[i].url :
		    "(no URL)", m->unreachable[i].reason[0] != '\0' ? ": " :
		    "", m->unreachable[i].reason);
}
