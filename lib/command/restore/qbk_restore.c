#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "command/qbk_backup.h"
#include "command/qbk_verify.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_fs.h"
#include "common/qbk_hex.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_sha256.h"
#include "common/qbk_time.h"
#include "config/qbk_config.h"
#include "qdrant/qbk_cluster.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "stream/qbk_extract.h"
#include "command/qbk_restore.h"

/* Progress is reported every this many bytes. */
#define PROGRESS_STEP	((uint64_t)4 << 20)
/* Longest tar member name accepted (GNU long names, pax paths). */
#define TAR_NAME_MAX	4096
#define TAR_BLOCK	512

/* ---- choosing a backup ----------------------------------------------- */

int
qbk_restore_parse_time(const char *s, int64_t now, int64_t *out,
    struct qbk_err *err)
{
	struct qbk_err e2 = QBK_ERR_INIT;
	int64_t ms;

	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	if (strlen(s) >= 10 && s[4] == '-') {
		if (qbk_time_parse_iso(s, out) == 0)
			return 0;
	} else if (qbk_config_parse_duration(s, &ms, &e2) == 0) {
		*out = now - ms / 1000;
		return 0;
	}
	qbk_err_set(err, QBK_E_USAGE, "bad time '%s': expected an ISO 8601 "
	    "time like 2026-11-21T22:15:00Z or 2026-11-21 22:15 (UTC), or a "
	    "duration back from now like 2h or 3d", s);
	return -1;
}

int
qbk_restore_is_safety(const struct qbk_manifest *m)
{
	size_t i;

	for (i = 0; i < m->n_tags; i++)
		if (strcmp(m->tags[i].key, QBK_RESTORE_SAFETY_KEY) == 0 &&
		    strcmp(m->tags[i].value, QBK_RESTORE_SAFETY_VALUE) == 0)
			return 1;
	return 0;
}

/* Is backup ${id} a safety backup taken by a restore?  -1 if its
 * manifest cannot be read. */
static int
is_safety_backup(struct qbk_repo *repo, const char *id, struct qbk_err *err)
{
	struct qbk_manifest *m = NULL;
	int yes;

	if (qbk_repo_manifest_read(repo, id, &m, err) != 0)
		return -1;
	yes = qbk_restore_is_safety(m);
	qbk_manifest_free(m);
	return yes;
}

/*
 * The repository's backup ids, oldest first; an empty repository is an
 * error, since there is nothing to restore from.
 */
static int
backup_ids(struct qbk_repo *repo, char ***ids, size_t *n, struct qbk_err *err)
{
	if (qbk_repo_backup_ids(repo, ids, n, err) != 0)
		return -1;
	if (*n > 0)
		return 0;
	qbk_repo_free_ids(*ids, *n);
	*ids = NULL;
	qbk_err_set(err, QBK_E_NOTFOUND, "the repository holds no backup");
	qbk_err_hint(err, "take one with qbk-backup");
	return -1;
}

int
qbk_restore_select(struct qbk_repo *repo, const char *id, int64_t at,
    char *out, struct qbk_err *err)
{
	char **ids = NULL, when[QBK_TIME_LEN + 1];
	size_t n = 0, i;
	int64_t t;
	int rc = -1;

	out[0] = '\0';
	if (id != NULL && !qbk_manifest_id_valid(id)) {
		qbk_err_set(err, QBK_E_USAGE, "'%s' is not a backup id", id);
		qbk_err_hint(err, "backup ids look like 20261121T221500Z-3f9a; "
		    "list them with 'qbk-report --list'");
		return -1;
	}
	if (backup_ids(repo, &ids, &n, err) != 0)
		return -1;
	if (id != NULL) {
		for (i = 0; i < n; i++)
			if (strcmp(ids[i], id) == 0)
				break;
		if (i == n) {
			qbk_err_set(err, QBK_E_USAGE, "no backup '%s' in the "
			    "repository", id);
			qbk_err_hint(err, "list the backups with 'qbk-report "
			    "--list'");
			goto out;
		}
	} else {
		/* The newest (at or before ${at}) that is not a restore's
		 * safety backup. */
		for (i = n; i > 0; i--) {
			int safety;

			if (at >= 0 && (qbk_manifest_id_time(ids[i - 1],
			    &t) != 0 || t > at))
				continue;
			if ((safety = is_safety_backup(repo, ids[i - 1],
			    err)) < 0)
				goto out;
			if (!safety)
				break;
			qbk_detail("skipping backup %s: a safety backup taken "
			    "by qbk-restore", ids[i - 1]);
		}
		if (i == 0 && at < 0) {
			qbk_err_set(err, QBK_E_NOTFOUND, "the repository holds "
			    "only safety backups taken by qbk-restore");
			qbk_err_hint(err, "choose one with --backup ID");
			goto out;
		}
		if (i == 0) {
			qbk_time_format(at, when);
			qbk_err_set(err, QBK_E_USAGE, "no backup was taken at "
			    "or before %s", when[0] != '\0' ? when : "then");
			if (qbk_manifest_id_time(ids[0], &t) == 0 &&
			    qbk_time_format(t, when) == 0)
				qbk_err_hint(err, "the oldest backup, %s, was "
				    "taken at %s", ids[0], when);
			goto out;
		}
		i--;
	}
	memcpy(out, ids[i], QBK_MANIFEST_ID_LEN + 1);
	rc = 0;
out:
	qbk_repo_free_ids(ids, n);
	return rc;
}

int
qbk_restore_version_skew(const char *from, const char *to)
{
	unsigned fa, fb, ta, tb;

	if (from == NULL || to == NULL ||
	    sscanf(from, "%u.%u", &fa, &fb) != 2 ||
	    sscanf(to, "%u.%u", &ta, &tb) != 2)
		return 0;
	if (fa != ta)
		return 1;
	return tb < fb || tb > fb + 1;
}

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

static struct qbk_restore_item *
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
static void
qbk_restore_drop_item(struct qbk_restore_report *r)
{
	if (r->nitems == 0)
		return;
	item_release(&r->items[--r->nitems]);
}

static void
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

static void qbk_restore_warning(struct qbk_restore_report *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Log a warning and keep it for the report. */
static void
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

/* Collection name of a member "<collection>-<peer id>-YYYY-MM-DD-HH-MM-SS
 * .snapshot" of a full storage snapshot (NOTES 4.5), or NULL.  Caller
 * frees. */
static char *
qbk_restore_member_collection(const char *path)
{
	static const char pat[] = "-dddd-dd-dd-dd-dd-dd.snapshot";
	size_t len = strlen(path), plen = sizeof(pat) - 1, i, end;

	if (strchr(path, '/') != NULL || len < plen + 3)
		return NULL;
	for (i = 0; i < plen; i++) {
		char c = path[len - plen + i];

		if (pat[i] == 'd' ? (c < '0' || c > '9') : c != pat[i])
			return NULL;
	}
	end = len - plen;
	i = end;
	while (i > 0 && path[i - 1] >= '0' && path[i - 1] <= '9')
		i--;
	if (i == end || i < 2 || path[i - 1] != '-')
		return NULL;
	return strndup(path, i - 1);
}

/* The collection snapshots inside the full storage snapshot ${s}, from
 * the entries the backup recorded. */
static void
qbk_restore_full_members(const struct qbk_manifest_snapshot *s,
    void (*fn)(void *, const char *, const char *, uint64_t), void *cookie)
{
	size_t i;

	for (i = 0; i < s->n_entries; i++) {
		const struct qbk_manifest_entry *e = &s->entries[i];
		const char *p = e->path;
		char *c;

		if (strncmp(p, "./", 2) == 0)
			p += 2;
		if (e->type != QBK_MANIFEST_ENTRY_FILE ||
		    (c = qbk_restore_member_collection(p)) == NULL)
			continue;
		fn(cookie, c, p, e->size);
		free(c);
	}
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

/* ---- reading a tar stream (full storage snapshots) -------------------- */

/*
 * Just enough of tar to find the collection snapshots inside a full storage
 * snapshot, which Qdrant writes as plain members of a GNU tar (NOTES 4.5):
 * ustar and GNU headers, GNU long names ('L'), pax path and size records,
 * base-256 sizes.  The data of a member is read by the caller.
 */
struct tar {
	struct qbk_extract *x;
	uint64_t left;		/* data bytes of the current member unread */
	uint64_t pad;		/* then padding to the block size */
	char *longname;		/* from a GNU 'L' or pax entry */
	int64_t paxsize;	/* from a pax entry, or -1 */
	char scratch[16384];
};

struct tar_member {
	char path[TAR_NAME_MAX + 1];
	char type;		/* '0' file, '5' folder, others as in tar */
	uint64_t size;
	uint64_t offset;	/* of its data in the stream */
};

/* Read exactly ${n} bytes: 1, 0 at a clean end before any byte, -1. */
static int
read_full(struct qbk_extract *x, void *buf, size_t n, struct qbk_err *err)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = qbk_extract_read(x, (char *)buf + got, n - got, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (got == 0)
				return 0;
			return qbk_err_set(err, QBK_E_INTEGRITY, "the archive "
			    "ends inside a tar block");
		}
		got += (size_t)r;
	}
	return 1;
}

static int
qbk_restore_skip_bytes(struct tar *t, uint64_t n, struct qbk_err *err)
{
	while (n > 0) {
		size_t k = n > sizeof(t->scratch) ? sizeof(t->scratch) :
		    (size_t)n;
		int r = read_full(t->x, t->scratch, k, err);

		if (r < 0)
			return -1;
		if (r == 0)
			return qbk_err_set(err, QBK_E_INTEGRITY, "the archive "
			    "ends inside a member");
		n -= k;
	}
	return 0;
}

static int
tar_number(const unsigned char *f, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		/* GNU base-256: the rest of the field, big-endian. */
		if (f[0] != 0x80)
			return -1;
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return -1;
			v = v << 8 | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v << 3 | (uint64_t)(f[i] - '0');
	}
	if (i < len && f[i] != ' ' && f[i] != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
tar_checksum_ok(const unsigned char *h)
{
	uint64_t want;
	unsigned long sum = 0;
	size_t i;

	if (tar_number(h + 148, 8, &want) != 0)
		return 0;
	for (i = 0; i < TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? (unsigned long)' ' :
		    (unsigned long)h[i];
	return sum == want;
}

/* Parse pax records "LEN key=value\n" for path and size. */
static int
tar_pax(struct tar *t, const char *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		const char *rec = p + off, *sp, *eq;
		unsigned long n = 0;
		size_t k;

		for (k = 0; off + k < len && rec[k] >= '0' && rec[k] <= '9';
		    k++)
			n = n * 10 + (unsigned long)(rec[k] - '0');
		sp = rec + k;
		if (k == 0 || n <= k + 1 || off + n > len || *sp != ' ' ||
		    rec[n - 1] != '\n')
			return -1;
		eq = memchr(sp, '=', n - k);
		if (eq == NULL)
			return -1;
		if ((size_t)(eq - sp - 1) == 4 && memcmp(sp + 1, "path",
		    4) == 0) {
			free(t->longname);
			t->longname = strndup(eq + 1,
			    (size_t)(rec + n - 1 - (eq + 1)));
		} else if ((size_t)(eq - sp - 1) == 4 &&
		    memcmp(sp + 1, "size", 4) == 0) {
			char num[32];
			size_t vl = (size_t)(rec + n - 1 - (eq + 1));
			char *end;

			if (vl == 0 || vl >= sizeof(num))
				return -1;
			memcpy(num, eq + 1, vl);
			num[vl] = '\0';
			t->paxsize = (int64_t)strtoll(num, &end, 10);
			if (*end != '\0' || t->paxsize < 0)
				return -1;
		}
		off += n;
	}
	return 0;
}

/* Read a member's data (up to TAR_NAME_MAX bytes) into a new string. */
static char *
tar_small(struct tar *t, uint64_t size, struct qbk_err *err)
{
	char *s;
	uint64_t pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
	int r;

	if (size > TAR_NAME_MAX * 4) {
		qbk_err_set(err, QBK_E_INTEGRITY, "the archive has a %llu-byte "
		    "extended header", (unsigned long long)size);
		return NULL;
	}
	s = qbk_xmalloc((size_t)size + 1);
	r = size > 0 ? read_full(t->x, s, (size_t)size, err) : 1;
	if (r == 0)
		qbk_err_set(err, QBK_E_INTEGRITY, "the archive ends inside a "
		    "header");
	if (r != 1 || qbk_restore_skip_bytes(t, pad, err) != 0) {
		free(s);
		return NULL;
	}
	s[size] = '\0';
	return s;
}

/* Go to the next member: 1 (described in ${mb}; its data follows), 0 at the
 * end of the archive, -1. */
static int
qbk_restore_tar_next(struct tar *t, struct tar_member *mb, struct qbk_err *err)
{
	unsigned char h[TAR_BLOCK];
	uint64_t size;
	int r;

	for (;;) {
		if (qbk_restore_skip_bytes(t, t->left + t->pad, err) != 0)
			return -1;
		t->left = t->pad = 0;
		if ((r = read_full(t->x, h, sizeof(h), err)) < 0)
			return -1;
		if (r == 0) {
			/* No end-of-archive blocks: accept, as tar does. */
			return 0;
		}
		if (h[0] == '\0') {
			size_t i;

			for (i = 0; i < sizeof(h) && h[i] == '\0'; i++)
				;
			if (i == sizeof(h))
				return 0;
		}
		if (!tar_checksum_ok(h) || tar_number(h + 124, 12, &size) != 0)
			return qbk_err_set(err, QBK_E_INTEGRITY, "the snapshot "
			    "is not a tar archive (bad header at byte %llu)",
			    (unsigned long long)(qbk_extract_offset(t->x) -
			    TAR_BLOCK));
		if (t->paxsize >= 0 && h[156] != 'x' && h[156] != 'L') {
			size = (uint64_t)t->paxsize;
			t->paxsize = -1;
		}
		if (h[156] == 'L' || h[156] == 'x' || h[156] == 'g') {
			char *s = tar_small(t, size, err);

			if (s == NULL)
				return -1;
			if (h[156] == 'L') {
				free(t->longname);
				t->longname = s;
			} else {
				if (h[156] == 'x' && tar_pax(t, s,
				    (size_t)size) != 0) {
					free(s);
					return qbk_err_set(err, QBK_E_INTEGRITY,
					    "the archive has a malformed pax "
					    "header");
				}
				free(s);
			}
			continue;
		}
		if (t->longname != NULL) {
			snprintf(mb->path, sizeof(mb->path), "%s", t->longname);
			free(t->longname);
			t->longname = NULL;
		} else if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345] != '\0')
			snprintf(mb->path, sizeof(mb->path), "%.155s/%.100s",
			    (const char *)h + 345, (const char *)h);
		else
			snprintf(mb->path, sizeof(mb->path), "%.100s",
			    (const char *)h);
		if (strncmp(mb->path, "./", 2) == 0)
			memmove(mb->path, mb->path + 2, strlen(mb->path) - 1);
		mb->type = h[156] == '\0' ? '0' : (char)h[156];
		mb->size = size;
		mb->offset = qbk_extract_offset(t->x);
		t->left = size;
		t->pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
		return 1;
	}
}

static void
qbk_restore_tar_release(struct tar *t)
{
	free(t->longname);
	t->longname = NULL;
}

/* ---- sources of upload bodies ---------------------------------------- */

struct run {
	struct qbk_repo *repo;
	struct qbk_qdrant *q;
	struct qbk_qdrant *cq;	/* for cleanup */
	const struct qbk_manifest *m;
	const struct qbk_restore_opts *o;
	struct qbk_restore_report *rep;
	const char *url;
	struct qbk_cluster *cl;	/* the target, when distributed */
	int prio_set;		/* use ${prio}, not the option */
	enum qbk_qdrant_priority prio;
	pthread_mutex_t mu;	/* uploads to several nodes at once: guards
				 * the report, progress and the lock */
	int threaded;
	struct qbk_buf inactive;	/* replicas not Active in the end */
};

/* The body of one upload: a whole snapshot, or one member of a tar. */
struct source {
	const struct qbk_restore_opts *o;
	struct qbk_extract *x;
	struct tar *tar;	/* member mode */
	uint64_t start, size;	/* member mode: data offset and size */
	uint64_t left;
	const char *collection, *target;
	uint64_t base, total;	/* progress: earlier bytes, all bytes */
	uint64_t sent, reported;
	struct qbk_sha256 *sha;	/* member mode: SHA-256 of what was sent */
	pthread_mutex_t *mu;	/* several uploads at once, or NULL */
	int lost_answer;	/* the upload's answer was lost; its outcome
				 * was read from the replica states */
};

/* Start hashing what ${s} sends (members: the manifest has no hash). */
static void
qbk_restore_source_hash_start(struct source *s)
{
	if (s->sha == NULL)
		s->sha = qbk_sha256_new();
	else
		qbk_sha256_reset(s->sha);
}

static void
qbk_restore_source_hash(struct source *s, const void *data, size_t len)
{
	if (s->sha != NULL)
		qbk_sha256_update(s->sha, data, len);
}

/* The hex SHA-256 of what ${s} sent into ${hex}[65], and free it. */
static void
qbk_restore_source_hash_end(struct source *s, char *hex)
{
	uint8_t md[QBK_SHA256_LEN];

	hex[0] = '\0';
	if (s->sha != NULL) {
		qbk_sha256_final(s->sha, md);
		qbk_hex(md, sizeof(md), hex);
	}
	qbk_sha256_free(s->sha);
	s->sha = NULL;
}

static int
qbk_restore_source_tick(struct source *s, struct qbk_err *err)
{
	struct qbk_restore_progress p;
	int rc = 0;

	if (s->o->lock != NULL) {
		if (s->mu != NULL)
			pthread_mutex_lock(s->mu);
		rc = qbk_lock_refresh(s->o->lock, 0, err);
		if (s->mu != NULL)
			pthread_mutex_unlock(s->mu);
		if (rc != 0)
			return -1;
	}
	if (s->o->progress == NULL || s->sent - s->reported < PROGRESS_STEP)
		return 0;
	s->reported = s->sent;
	memset(&p, 0, sizeof(p));
	p.event = QBK_RESTORE_EV_BYTES;
	p.collection = s->collection;
	p.target = s->target;
	p.bytes = s->base + s->sent;
	p.total = s->total;
	if (s->mu != NULL)
		pthread_mutex_lock(s->mu);
	s->o->progress(s->o->progress_cookie, &p);
	if (s->mu != NULL)
		pthread_mutex_unlock(s->mu);
	return 0;
}

static ssize_t
source_read(void *cookie, void *buf, size_t len, struct qbk_err *err)
{
	struct source *s = cookie;
	ssize_t n;

	if (s->tar != NULL) {
		if (s->left == 0)
			return 0;
		if (len > s->left)
			len = (size_t)s->left;
	}
	n = qbk_extract_read(s->x, buf, len, err);
	if (n < 0)
		return -1;
	if (s->tar != NULL) {
		if (n == 0)
			return qbk_err_set(err, QBK_E_INTEGRITY, "the archive "
			    "ends inside '%s'", s->collection);
		s->left -= (uint64_t)n;
		s->tar->left -= (uint64_t)n;
	}
	qbk_restore_source_hash(s, buf, (size_t)n);
	s->sent += (uint64_t)n;
	if (qbk_restore_source_tick(s, err) != 0)
		return -1;
	return n;
}

static int
source_rewind(void *cookie, struct qbk_err *err)
{
	struct source *s = cookie;

	if (qbk_extract_rewind(s->x, err) != 0)
		return -1;
	if (s->sha != NULL)
		qbk_restore_source_hash_start(s);
	s->sent = s->reported = 0;
	if (s->tar != NULL) {
		/* Read up to the member again: the workers decode ahead, so
		 * this costs about as much as reading the chunks. */
		struct tar skip;

		memset(&skip, 0, sizeof(skip));
		skip.x = s->x;
		if (qbk_restore_skip_bytes(&skip, s->start, err) != 0)
			return -1;
		s->left = s->size;
		s->tar->left = s->size;
	}
	return 0;
}

static void
qbk_restore_progress(const struct qbk_restore_opts *o,
    enum qbk_restore_event ev, const char *coll, const char *target,
    uint64_t bytes, uint64_t total, uint64_t ms)
{
	struct qbk_restore_progress p;

	if (o->progress == NULL)
		return;
	p.event = ev;
	p.collection = coll;
	p.target = target;
	p.bytes = bytes;
	p.total = total;
	p.duration_ms = ms;
	o->progress(o->progress_cookie, &p);
}

static void
qbk_restore_extract_opts(const struct run *r, const char *coll,
    struct qbk_extract_opts *eo)
{
	struct qbk_extract_opts init = QBK_EXTRACT_OPTS_INIT;

	*eo = init;
	eo->workers = r->o->workers;
	eo->backup_id = r->m->backup_id;
	eo->collection = coll;
	eo->cancel = r->o->cancel;
}

/* ---- talking to Qdrant ----------------------------------------------- */

static int
interrupted(const struct qbk_restore_opts *o, struct qbk_err *err)
{
	if (o->cancel != NULL && *o->cancel != 0)
		return qbk_err_set(err, QBK_E_INTERRUPTED, "interrupted");
	return 0;
}

/* Remove the file an upload left in the node's snapshot folder (Qdrant
 * keeps uploaded files: NOTES 7.9).  Best effort. */
static void
remove_upload(struct run *r, struct qbk_qdrant *cq, const char *target,
    long shard, const char *fname, int quiet)
{
	struct qbk_qdrant_snapshot *v = NULL;
	struct qbk_err e = QBK_ERR_INIT;
	size_t n = 0, i;

	if (r->threaded)
		pthread_mutex_lock(&r->mu);
	if (qbk_qdrant_snapshot_list(cq, target, shard, &v, &n, &e) != 0) {
		if (!quiet && e.code != QBK_E_NOTFOUND)
			qbk_restore_warning(r->rep,
			    "cannot list the snapshots of '%s' to "
			    "remove the uploaded file '%s': %s",
			    target, fname, e.msg);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, fname) == 0)
			break;
	/* Qdrant moves an uploaded collection snapshot into its local
	 * snapshots folder, but with snapshots_storage s3 lists and deletes
	 * in the bucket only: the file stays where no API call reaches it.
	 * (An uploaded shard snapshot is a temporary file.) */
	if (i == n && shard < 0 && !quiet)
		qbk_restore_warning(r->rep,
		    "the node keeps the uploaded snapshot file '%s' "
		    "in its local snapshots folder '%s/': its snapshot "
		    "listing does not show it (snapshots_storage s3?), so it "
		    "cannot be deleted through the API; delete it on the node",
		    fname, target);
	if (i < n && qbk_qdrant_snapshot_delete(cq, target, shard, fname,
	    &e) != 0 && !quiet && e.code != QBK_E_NOTFOUND)
		qbk_restore_warning(r->rep,
		    "cannot remove the uploaded snapshot file '%s' "
		    "from '%s': %s",
		    fname, target, e.msg);
	qbk_qdrant_snapshots_free(v, n);
out:
	if (r->threaded)
		pthread_mutex_unlock(&r->mu);
}

/* Stream ${src} into Qdrant: the snapshot of ${target} (shard -1) or of one
 * of its shards; ${sha} is the checksum Qdrant verifies (may be NULL). */
static int
upload(struct run *r, struct qbk_qdrant *q, const char *target, long shard,
    struct source *src, const char *sha, uint64_t size, struct qbk_err *err)
{
	struct qbk_qdrant_upload up;
	uint8_t rnd[4];
	char fname[96], hex[9];
	int rc;

	qbk_crypto_random(rnd, sizeof(rnd));
	qbk_hex(rnd, sizeof(rnd), hex);
	snprintf(fname, sizeof(fname), "qbk-restore-%s-%s.snapshot",
	    r->m->backup_id, hex);
	memset(&up, 0, sizeof(up));
	up.filename = fname;
	up.priority = r->prio_set ? r->prio : r->o->priority;
	up.checksum = sha;
	up.size = (int64_t)size;
	up.read = source_read;
	up.rewind = source_rewind;
	up.cookie = src;
	up.lost_answer = &src->lost_answer;
	rc = qbk_qdrant_snapshot_upload(q, target, shard, &up, err);
	if (rc == 0 && src->tar == NULL &&
	    qbk_extract_sha256(src->x) == NULL) {
		/* Qdrant took fewer bytes than the snapshot has. */
		qbk_err_set(err, QBK_E_INTERNAL, "the upload of '%s' ended "
		    "after %llu of %llu bytes", target,
		    (unsigned long long)qbk_extract_offset(src->x),
		    (unsigned long long)size);
		rc = -1;
	}
	remove_upload(r, q == r->q ? r->cq : q, target, shard, fname,
	    rc != 0);
	return rc;
}

/* Qdrant never triggers the optimizers of a recovered shard
 * (src/common/snapshots.rs): the collection stays grey, with its
 * optimizations pending, until something wakes them.  The data is whole
 * and readable either way: a failure here is a warning. */
static void
qbk_restore_wake_optimizers(struct run *r, const char *target)
{
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_qdrant_wake_optimizers(r->q, target, &err) != 0)
		qbk_restore_warning(r->rep,
		    "%s; '%s' stays grey until it is next written "
		    "to",
		    err.msg, target);
}

/* After a failed recovery: delete ${target} if the restore created it. */
static void
qbk_restore_undo_create(struct run *r, const char *target)
{
	struct qbk_err e = QBK_ERR_INIT;
	int exists = 0, deleted = 0;

	if (qbk_qdrant_collection_exists(r->cq, target, &exists, &e) != 0) {
		qbk_restore_warning(r->rep,
		    "cannot check whether the partly restored "
		    "collection '%s' exists: %s",
		    target, e.msg);
		return;
	}
	if (!exists)
		return;
	if (qbk_qdrant_collection_delete(r->cq, target, &deleted, &e) != 0)
		qbk_restore_warning(r->rep,
		    "cannot delete the partly restored collection "
		    "'%s': %s; delete it by hand",
		    target, e.msg);
	else
		qbk_restore_warning(r->rep,
		    "deleted the partly restored collection '%s'", target);
}

/* ---- restoring collections ------------------------------------------- */

/* What will happen to one collection. */
struct plan {
	const char *name;	/* in the backup */
	const char *target;
	char *target_buf;	/* owned target (prefix) */
	const struct qbk_manifest_collection *mc;	/* NULL: full member */
	int exists;		/* target exists on the node */
	int shards;		/* restored from shard snapshots */
	uint64_t total;		/* bytes to send */
	int done;
	int replaced;		/* it existed before the restore */
	struct qbk_qdrant_alias *old_aliases;	/* of a deleted target */
	size_t n_old_aliases;
};

static int
json_uint(const json_t *v, const char *path, uint64_t dflt)
{
	json_int_t n;
	json_t *x = qbk_json_path(v, path);

	if (x == NULL || !json_is_integer(x))
		return (int)dflt;
	n = json_integer_value(x);
	return n < 0 || n > 65536 ? (int)dflt : (int)n;
}

/* The sharding method of a config ("auto" when not given). */
static const char *
sharding_method(const json_t *config)
{
	const char *m = qbk_json_str(config, "params.sharding_method");

	return m != NULL ? m : "auto";
}

/* Was the collection of ${p} sharded by shard keys? */
static int
qbk_restore_is_custom(const struct plan *p)
{
	const struct qbk_manifest_cluster *cl = p->mc->cluster;

	if (cl != NULL && cl->sharding_method != NULL)
		return strcmp(cl->sharding_method, "custom") == 0;
	return strcmp(sharding_method(p->mc->config), "custom") == 0;
}

/* How many shards key ${key} has in the shard list ${v}. */
static size_t
key_shards(const struct qbk_cluster_keyed *v, size_t n, const char *key)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (v[i].key != NULL && strcmp(v[i].key, key) == 0)
			c++;
	return c;
}

/* The shards the backup of ${p} records, with their keys (borrowed from
 * the manifest): the cluster layout, or the shard snapshots of a single
 * node's backup.  Caller frees the array. */
static struct qbk_cluster_keyed *
qbk_restore_backup_shards(const struct plan *p, size_t *n)
{
	const struct qbk_manifest_cluster *cl = p->mc->cluster;
	struct qbk_cluster_keyed *v;
	size_t i;

	*n = 0;
	if (cl != NULL) {
		v = qbk_xcalloc(cl->n_shards + 1, sizeof(*v));
		for (i = 0; i < cl->n_shards; i++) {
			v[i].id = (uint32_t)cl->shards[i].shard_id;
			v[i].key = cl->shards[i].shard_key;
		}
		*n = cl->n_shards;
		return v;
	}
	v = qbk_xcalloc(p->mc->n_snapshots + 1, sizeof(*v));
	for (i = 0; i < p->mc->n_snapshots; i++)
		if (p->mc->snapshots[i]->kind == QBK_MANIFEST_SNAP_SHARD)
			v[(*n)++].id = (uint32_t)p->mc->snapshots[i]->shard_id;
	return v;
}

/* The shards of a layout with their keys (borrowed from ${l}). */
static struct qbk_cluster_keyed *
qbk_restore_layout_shards(const struct qbk_cluster_layout *l)
{
	struct qbk_cluster_keyed *v = qbk_xcalloc(l->nshards + 1,
	    sizeof(*v));
	size_t i;

	for (i = 0; i < l->nshards; i++) {
		v[i].id = l->shards[i].id;
		v[i].key = l->shards[i].shard_key;
	}
	return v;
}

/* Can the backup of ${p} be recovered over the existing collection (same
 * vectors, shard count and sharding method, as Qdrant requires, and for
 * custom sharding the same number of shards under every shard key both
 * have)? */
static int
qbk_restore_compatible(struct run *r, struct plan *p, struct qbk_err *err)
{
	struct qbk_qdrant_collection *info = NULL;
	struct qbk_cluster_layout *l = NULL;
	struct qbk_cluster_keyed *from = NULL, *to = NULL;
	size_t nfrom, i;
	int ok;

	if (p->mc == NULL)
		return 1;	/* full member: Qdrant checks */
	if (qbk_qdrant_collection_info(r->q, p->target, &info, err) != 0)
		return -1;
	ok = info->vectors != NULL && p->mc->vectors != NULL &&
	    json_equal(info->vectors, p->mc->vectors) &&
	    (int)info->shard_number ==
		json_uint(p->mc->config, "params.shard_number", 1) &&
	    strcmp(sharding_method(info->config),
		qbk_restore_is_custom(p) ? "custom" : "auto") == 0;
	qbk_qdrant_collection_free(info);
	if (!ok || !qbk_restore_is_custom(p))
		return ok;
	if (qbk_cluster_layout(r->cl, r->q, p->target, &l, err) != 0)
		return -1;
	from = qbk_restore_backup_shards(p, &nfrom);
	to = qbk_restore_layout_shards(l);
	for (i = 0; ok && i < nfrom; i++)
		if (from[i].key != NULL &&
		    key_shards(to, l->nshards, from[i].key) > 0 &&
		    key_shards(to, l->nshards, from[i].key) !=
		    key_shards(from, nfrom, from[i].key))
			ok = 0;
	free(from);
	free(to);
	qbk_cluster_layout_free(l);
	return ok;
}

static int
discard(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	(void)cookie;
	(void)data;
	(void)len;
	(void)err;
	return 0;
}

/* Make way for a collection whose backup does not fit the existing one:
 * read the whole backup of it first (a damaged chunk must not cost the
 * existing collection), keep its aliases, delete it. */
static int
qbk_restore_replace_incompatible(
    struct run *r, struct plan *p, struct qbk_err *err)
{
	struct qbk_extract_opts eo;
	size_t k;

	qbk_restore_extract_opts(r, p->name, &eo);
	for (k = 0; k < p->mc->n_snapshots; k++)
		if (qbk_extract_run(r->repo, p->mc->snapshots[k], discard, NULL,
		    &eo, err) != 0) {
			qbk_err_prefix(err, "collection '%s' was left as it "
			    "was", p->target);
			return -1;
		}
	qbk_restore_warning(r->rep,
	    "the backup of '%s' has other vectors or another shard "
	    "count than the existing collection '%s': deleting it and "
	    "creating it anew (safety backup %s)",
	    p->name, p->target,
	    r->rep->safety_backup_id[0] != '\0' ? r->rep->safety_backup_id :
	    "none");
	if (qbk_qdrant_aliases(r->q, p->target, &p->old_aliases,
	    &p->n_old_aliases, err) != 0 ||
	    qbk_qdrant_collection_delete(r->q, p->target, NULL, err) != 0) {
		qbk_err_prefix(err, "cannot replace collection '%s'",
		    p->target);
		return -1;
	}
	p->exists = 0;
	return 0;
}

/* The answer to the recovery of ${p} was lost and the replica states say
 * that it ended: Qdrant also leaves them as they were when it refuses a
 * snapshot before loading it, so the point count decides. */
static int
check_lost_recovery(struct qbk_qdrant *q, struct plan *p, struct qbk_err *err)
{
	uint64_t n;

	if (p->mc == NULL || p->mc->has_count_after)
		return 0;
	if (qbk_qdrant_count(q, p->target, NULL, &n, err) != 0)
		return -1;
	if (n != p->mc->points_count)
		return qbk_err_set(err, QBK_E_QDRANT, "the answer to the "
		    "recovery of '%s' was lost, and it holds %llu points "
		    "where the backup has %llu: the recovery did not happen "
		    "or failed", p->target, (unsigned long long)n,
		    (unsigned long long)p->mc->points_count);
	return 0;
}

/* Upload the snapshot ${s} of ${p} to ${q}: into shard ${shard} of the
 * target (a shard snapshot; custom sharding may give it another id than
 * it had), or as a collection snapshot (${shard} -1). */
static int
qbk_restore_restore_snapshot(struct run *r, struct qbk_qdrant *q,
    struct plan *p, const struct qbk_manifest_snapshot *s, long shard,
    uint64_t base, struct qbk_restore_item *it, struct qbk_err *err)
{
	struct qbk_extract_opts eo;
	struct source src;
	int rc;

	memset(&src, 0, sizeof(src));
	qbk_restore_extract_opts(r, p->name, &eo);
	if (qbk_extract_open(r->repo, s, &eo, &src.x, err) != 0)
		return -1;
	src.o = r->o;
	src.collection = p->name;
	src.target = p->target;
	src.base = base;
	src.total = p->total;
	src.mu = r->threaded ? &r->mu : NULL;
	rc = upload(r, q, p->target, shard, &src, s->sha256, s->size, err);
	qbk_extract_close(src.x);
	if (rc == 0 && src.lost_answer && shard == QBK_QDRANT_NO_SHARD)
		rc = check_lost_recovery(q, p, err);
	if (rc == 0) {
		if (r->threaded)
			pthread_mutex_lock(&r->mu);
		qbk_restore_item_add_snap(
		    it, s->name, s->shard_id, s->size, s->sha256);
		if (r->threaded)
			pthread_mutex_unlock(&r->mu);
	}
	return rc;
}

/* ---- shard by shard: distributed targets and --shard ------------------ */

struct rjob {
	const struct qbk_manifest_snapshot *s;
	uint32_t shard;		/* shard id in the target */
	uint64_t peer;		/* 0: the node of r->q */
	uint64_t base;		/* progress: bytes of the snapshots before */
};

struct rshards {
	struct run *r;
	struct plan *p;
	struct rjob *jobs;
	size_t njobs;
	struct qbk_restore_item *it;
};

static int
shard_job(void *cookie, size_t i, struct qbk_err *err)
{
	struct rshards *rs = cookie;
	struct run *r = rs->r;
	struct rjob *j = &rs->jobs[i];
	struct qbk_qdrant *pq = NULL;
	int rc;

	if (j->peer != 0 &&
	    qbk_cluster_connect(r->cl, r->q, j->peer, &pq, err) != 0)
		return -1;
	qbk_detail("shard %lld of '%s' to shard %u on %s",
	    (long long)j->s->shard_id, rs->p->target, j->shard,
	    pq != NULL ? qbk_qdrant_url(pq) : r->url);
	rc = qbk_restore_restore_snapshot(r, pq != NULL ? pq : r->q, rs->p,
	    j->s, (long)j->shard, j->base, rs->it, err);
	if (rc != 0) {
		if ((int64_t)j->shard != j->s->shard_id)
			qbk_err_prefix(err, "shard %lld (now %u) to '%s'",
			    (long long)j->s->shard_id, j->shard, pq != NULL ?
			    qbk_qdrant_url(pq) : r->url);
		else
			qbk_err_prefix(err, "shard %lld to '%s'",
			    (long long)j->s->shard_id, pq != NULL ?
			    qbk_qdrant_url(pq) : r->url);
	}
	qbk_qdrant_free(pq);
	return rc;
}

/* "shard 0: peer 1 Active, peer 2 Dead; ..." for the replicas that are not
 * Active (all if ${all}); returns how many are not Active. */
static size_t
replica_states(const struct qbk_cluster_layout *l, int all,
    struct qbk_buf *out)
{
	size_t i, k, bad = 0;

	for (i = 0; i < l->nshards; i++)
		for (k = 0; k < l->shards[i].nreplicas; k++) {
			const struct qbk_cluster_replica *x =
			    &l->shards[i].replicas[k];

			if (!qbk_cluster_replica_active(x))
				bad++;
			else if (!all)
				continue;
			qbk_buf_addf(out, "%sshard %u on peer %llu: %s",
			    out->len > 0 ? ", " : "", l->shards[i].id,
			    (unsigned long long)x->peer_id, x->state);
		}
	return bad;
}

/* Note that not every replica of a restored collection is Active: a
 * warning with allow_inactive, else a failure of the run once every
 * collection is restored (qbk_restore_run()). */
static void inactive(struct run *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
inactive(struct run *r, const char *fmt, ...)
{
	struct qbk_buf b = QBK_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	qbk_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (r->o->allow_inactive)
		qbk_restore_warning(r->rep, "%s", b.buf);
	else
		qbk_buf_addf(&r->inactive, "%s%s", r->inactive.len > 0 ?
		    "; " : "", b.buf);
	qbk_buf_release(&b);
}

/* Wait until every replica of ${target} is Active and no transfer runs
 * (replica_timeout_ms); say which are not, as inactive(). */
static void
wait_replicas(struct run *r, const char *target)
{
	int64_t limit = r->o->replica_timeout_ms == 0 ? 120000 :
	    r->o->replica_timeout_ms;
	int64_t t0 = qbk_clock_ms();
	struct qbk_buf b = QBK_BUF_INIT;

	if (limit < 0)
		return;
	for (;;) {
		struct qbk_cluster_layout *l = NULL;
		struct qbk_err e = QBK_ERR_INIT;
		size_t bad;

		if (qbk_cluster_layout(r->cl, r->cq, target, &l, &e) != 0) {
			inactive(r, "cannot check the replicas of '%s': %s",
			    target, e.msg);
			break;
		}
		qbk_buf_reset(&b);
		bad = replica_states(l, 0, &b);
		if (bad == 0 && l->ntransfers == 0) {
			qbk_info("every replica of '%s' is active (%.1f s)",
			    target, (double)(qbk_clock_ms() - t0) / 1000.0);
			qbk_cluster_layout_free(l);
			break;
		}
		if (qbk_clock_ms() - t0 >= limit ||
		    (r->o->cancel != NULL && *r->o->cancel != 0)) {
			inactive(r, "not every replica of '%s' is active "
			    "after %.0f s (%zu shard transfer%s running): %s",
			    target, (double)(qbk_clock_ms() - t0) / 1000.0,
			    l->ntransfers, l->ntransfers == 1 ? "" : "s",
			    b.len > 0 ? b.buf : "all active");
			qbk_cluster_layout_free(l);
			break;
		}
		qbk_cluster_layout_free(l);
		nanosleep(&(struct timespec){ 0, 200 * 1000 * 1000 }, NULL);
	}
	qbk_buf_release(&b);
}

/* The priorities that do not make the backup's data win where a shard
 * has other Active replicas in the existing collection: "replica" (Qdrant
 * re-syncs the restored replica from them: the cluster's data stays) and
 * "no_sync" (they keep their data: the replicas diverge).  Refused for
 * --shard without force (nothing else asks for force there), a warning
 * otherwise. */
static int
check_priority(struct run *r, struct plan *p, const struct rshards *rs,
    const struct qbk_cluster_layout *l, struct qbk_err *err)
{
	enum qbk_qdrant_priority prio = r->prio_set ? r->prio :
	    r->o->priority;
	struct qbk_buf b = QBK_BUF_INIT;
	size_t i, k, j, n;
	int rc = 0;

	if (prio != QBK_QDRANT_PRIORITY_REPLICA &&
	    prio != QBK_QDRANT_PRIORITY_NO_SYNC)
		return 0;
	for (k = 0; k < rs->njobs; k++) {
		struct qbk_buf peers = QBK_BUF_INIT;

		for (i = 0; i < l->nshards && l->shards[i].id !=
		    rs->jobs[k].shard; i++)
			;
		for (n = 0, j = 0; i < l->nshards &&
		    j < l->shards[i].nreplicas; j++) {
			const struct qbk_cluster_replica *x =
			    &l->shards[i].replicas[j];

			if (x->peer_id == rs->jobs[k].peer ||
			    !qbk_cluster_replica_active(x))
				continue;
			qbk_buf_addf(&peers, "%s%llu", n++ > 0 ? ", " : "",
			    (unsigned long long)x->peer_id);
		}
		if (n > 0)
			qbk_buf_addf(&b, "%sshard %u on peer%s %s", b.len > 0 ?
			    "; " : "", rs->jobs[k].shard, n == 1 ? "" : "s",
			    peers.buf);
		qbk_buf_release(&peers);
	}
	if (b.len == 0)
		goto out;
	if (prio == QBK_QDRANT_PRIORITY_REPLICA) {
		if (r->o->one_shard && !r->o->force) {
			qbk_err_set(err, QBK_E_USAGE, "priority 'replica' "
			    "keeps the cluster's data of '%s': Qdrant re-syncs "
			    "the restored replica from the other Active "
			    "replicas (%s), so the shard does not get the "
			    "backup's data", p->target, b.buf);
			qbk_err_hint(err, "use --priority snapshot to make the "
			    "backup win, or add --force to seed the replica "
			    "with 'replica' anyway");
			rc = -1;
		} else
			qbk_restore_warning(r->rep,
			    "priority 'replica': Qdrant re-syncs "
			    "the restored replicas of '%s' from the other "
			    "Active replicas (%s): those shards keep the "
			    "cluster's data, not the backup's",
			    p->target, b.buf);
	} else {
		if (r->o->one_shard && !r->o->force) {
			qbk_err_set(err, QBK_E_USAGE, "priority 'no_sync' "
			    "leaves the other Active replicas of '%s' (%s) as "
			    "they are: they would diverge from the restored "
			    "one", p->target, b.buf);
			qbk_err_hint(err, "use --priority snapshot to re-sync "
			    "them from the backup, or add --force to restore "
			    "with 'no_sync' anyway");
			rc = -1;
		} else
			qbk_restore_warning(r->rep,
			    "priority 'no_sync': the other Active "
			    "replicas of '%s' (%s) keep their data and may "
			    "diverge from the restored ones (qbk-verify --live "
			    "compares them)",
			    p->target, b.buf);
	}
out:
	qbk_buf_release(&b);
	return rc;
}

/* The CreateCollection body of ${p}, with replication_factor clamped to
 * the peers of the target. */
static json_t *
sharded_body(struct run *r, struct plan *p, struct qbk_err *err)
{
	json_t *body = qbk_qdrant_create_body(p->mc->config), *params;
	json_int_t rf;

	if (body == NULL) {
		qbk_err_set(err, QBK_E_INTEGRITY, "backup '%s' does not record "
		    "the vectors of collection '%s'", r->m->backup_id, p->name);
		return NULL;
	}
	params = json_object_get(body, "params");
	if (params == NULL)
		params = body;
	rf = json_integer_value(json_object_get(params,
	    "replication_factor"));
	if (r->cl->enabled && rf > (json_int_t)r->cl->npeers) {
		qbk_restore_warning(r->rep,
		    "collection '%s' had replication factor %lld; "
		    "the target has %zu peers: creating '%s' with %zu",
		    p->name, (long long)rf, r->cl->npeers, p->target,
		    r->cl->npeers);
		json_object_set_new(params, "replication_factor",
		    json_integer((json_int_t)r->cl->npeers));
	}
	return body;
}

/* Re-create the payload indexes the backup recorded (a cluster backup
 * beside its layout, a single node's with the collection). */
static int
qbk_restore_create_indexes(struct run *r, struct plan *p, struct qbk_err *err)
{
	const json_t *ps = p->mc->cluster != NULL ?
	    p->mc->cluster->payload_schema : p->mc->payload_schema;
	const char *field;
	json_t *schema;

	json_object_foreach((json_t *)(uintptr_t)ps, field, schema) {
		if (qbk_qdrant_index_create(r->q, p->target, field, schema,
		    err) != 0)
			return -1;
		qbk_detail("payload index '%s' of '%s' created", field,
		    p->target);
	}
	return 0;
}

/* Custom sharding: create the shard keys of the backup of ${p} that the
 * target lacks, each with as many shards as the backup records for it
 * and as many replicas as its shards had (clamped to the peers). */
static int
create_shard_keys(struct run *r, struct plan *p, struct qbk_err *err)
{
	const struct qbk_manifest_cluster *mcl = p->mc->cluster;
	struct qbk_qdrant_shard_key sk;
	char **have = NULL, **h;
	size_t i, k, npeers = r->cl->enabled ? r->cl->npeers : 1;
	int rc = -1;

	if (mcl == NULL)
		return qbk_err_set(err, QBK_E_INTEGRITY, "backup '%s' does not "
		    "record the shard keys of the custom-sharded collection "
		    "'%s'", r->m->backup_id, p->name);
	if (qbk_qdrant_shard_keys(r->q, p->target, &have, err) != 0)
		return -1;
	for (i = 0; i < mcl->n_shards; i++) {
		const char *key = mcl->shards[i].shard_key;
		uint32_t count = 0;
		size_t rf = 0;

		if (key == NULL) {
			qbk_err_set(err, QBK_E_INTEGRITY, "backup '%s' records "
			    "shard %lld of the custom-sharded collection '%s' "
			    "without a shard key", r->m->backup_id,
			    (long long)mcl->shards[i].shard_id, p->name);
			goto out;
		}
		for (k = 0; k < i; k++)
			if (strcmp(mcl->shards[k].shard_key, key) == 0)
				break;
		for (h = have; k == i && *h != NULL; h++)
			if (strcmp(*h, key) == 0)
				break;
		if (k < i || *h != NULL)
			continue;	/* done, or there already */
		for (k = i; k < mcl->n_shards; k++)
			if (mcl->shards[k].shard_key != NULL &&
			    strcmp(mcl->shards[k].shard_key, key) == 0) {
				count++;
				if (mcl->shards[k].n_replicas > rf)
					rf = mcl->shards[k].n_replicas;
			}
		if (rf > npeers) {
			qbk_restore_warning(r->rep,
			    "shard key %s of '%s' had %zu replicas "
			    "of each shard; the target has %zu peer%s: "
			    "creating it with %zu",
			    key, p->name, rf, npeers, npeers == 1 ? "" : "s",
			    npeers);
			rf = npeers;
		}
		memset(&sk, 0, sizeof(sk));
		sk.key = key;
		sk.shards_number = count;
		sk.replication_factor = rf > 0 ? (uint32_t)rf : 1;
		if (qbk_qdrant_shard_key_create(r->q, p->target, &sk, err) !=
		    0)
			goto out;
		qbk_detail("shard key %s of '%s' created: %u shard%s, %u "
		    "replica%s each", key, p->target, count, count == 1 ? "" :
		    "s", sk.replication_factor, sk.replication_factor == 1 ?
		    "" : "s");
	}
	rc = 0;
out:
	qbk_qdrant_strv_free(have);
	return rc;
}

/* After a failed recovery over the live collection ${p->target}: say what
 * state Qdrant left it in (a replica whose load failed is Dead and empty,
 * others may be stuck in ManualRecovery) and how to get its data back. */
static void
qbk_restore_describe_failed(
    struct run *r, const struct plan *p, struct qbk_err *err)
{
	struct qbk_qdrant_coll_cluster *cl = NULL;
	struct qbk_err e = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	size_t i, bad = 0;

	if (qbk_qdrant_collection_cluster(r->cq, p->target, &cl, &e) != 0)
		qbk_buf_addf(&b, "its state is unknown (%s)", e.msg);
	else {
		for (i = 0; i < cl->nlocal; i++) {
			if (strcmp(cl->local[i].state, "Active") == 0)
				continue;
			qbk_buf_addf(&b, "%sshard %u %s%s", bad++ ? ", " : "",
			    cl->local[i].shard_id, cl->local[i].state,
			    strcmp(cl->local[i].state, "Dead") == 0 ?
			    " (its data was cleared)" : "");
		}
		if (bad == 0)
			qbk_buf_addstr(&b, "every replica of it on this node is "
			    "Active");
	}
	qbk_restore_warning(r->rep,
	    "collection '%s' on '%s' after the failed recovery: "
	    "%s",
	    p->target, r->url, b.buf);
	if (r->rep->safety_backup_id[0] != '\0')
		qbk_err_hint(err, "its data from before the restore is in "
		    "safety backup %s: qbk-restore --backup %s --collection "
		    "%s --force brings it back", r->rep->safety_backup_id,
		    r->rep->safety_backup_id, p->target);
	qbk_buf_release(&b);
	qbk_qdrant_coll_cluster_free(cl);
}

/* Which shard of the target each job's shard goes to: the same id, or
 * for custom sharding the shard of the same rank under the same key. */
static int
map_jobs(struct plan *p, struct rshards *rs,
    const struct qbk_cluster_layout *l, struct qbk_err *err)
{
	struct qbk_cluster_keyed *from, *to;
	int64_t *map;
	size_t nfrom, i, k;
	int rc = 0;

	from = qbk_restore_backup_shards(p, &nfrom);
	to = qbk_restore_layout_shards(l);
	map = qbk_xcalloc(nfrom + 1, sizeof(*map));
	qbk_cluster_map_shards(from, nfrom, to, l->nshards, map);
	for (k = 0; k < rs->njobs && rc == 0; k++) {
		int64_t id = rs->jobs[k].s->shard_id;

		for (i = 0; i < nfrom && (int64_t)from[i].id != id; i++)
			;
		if (i < nfrom && map[i] >= 0) {
			rs->jobs[k].shard = (uint32_t)map[i];
			continue;
		}
		if (i < nfrom && from[i].key != NULL)
			qbk_err_set(err, QBK_E_QDRANT, "'%s' has no shard for "
			    "shard %lld (shard key %s) of the backup",
			    p->target, (long long)id, from[i].key);
		else
			qbk_err_set(err, QBK_E_QDRANT, "'%s' has no shard %lld",
			    p->target, (long long)id);
		rc = -1;
	}
	free(map);
	free(from);
	free(to);
	return rc;
}

/*
 * After a restore: does ${p}'s target hold as many points as the backup
 * recorded?  Qdrant can answer a recovery with success and still hold
 * none of the data (a collection snapshot of a custom-sharded collection
 * recovered into a new collection gets no shards), so the exact count
 * decides, not the answer.  Not checked where the backup cannot be the
 * whole story: shards the backup has no data of, or an existing
 * collection on a cluster restored with a priority under which the
 * cluster's data may win.  The count is qbk_qdrant_count()'s.
 */
static int
qbk_restore_check_count(
    struct run *r, struct plan *p, int existed, struct qbk_err *err)
{
	const struct qbk_manifest_collection *mc = p->mc;
	enum qbk_qdrant_priority prio = r->prio_set ? r->prio :
	    r->o->priority;
	uint64_t n, lo, hi;
	size_t k;

	if (existed && r->cl != NULL && r->cl->enabled &&
	    (prio == QBK_QDRANT_PRIORITY_REPLICA ||
	    prio == QBK_QDRANT_PRIORITY_NO_SYNC))
		return 0;
	for (k = 0; k < r->m->n_missing; k++)
		if (strcmp(r->m->missing[k].collection, p->name) == 0)
			return 0;
	lo = hi = mc->points_count;
	if (mc->has_count_after) {
		if (mc->points_count_after < lo)
			lo = mc->points_count_after;
		else
			hi = mc->points_count_after;
	}
	if (qbk_qdrant_count(r->q, p->target, NULL, &n, err) != 0)
		return -1;
	if (n >= lo && n <= hi)
		return 0;
	if (lo == hi)
		qbk_err_set(err, QBK_E_INTEGRITY, "collection '%s' holds %llu "
		    "points after the restore, backup '%s' recorded %llu",
		    p->target, (unsigned long long)n, r->m->backup_id,
		    (unsigned long long)lo);
	else
		qbk_err_set(err, QBK_E_INTEGRITY, "collection '%s' holds %llu "
		    "points after the restore, backup '%s' recorded %llu to "
		    "%llu", p->target, (unsigned long long)n, r->m->backup_id,
		    (unsigned long long)lo, (unsigned long long)hi);
	qbk_err_hint(err, "Qdrant accepted the snapshots without holding "
	    "their points, or something wrote into the collection during the "
	    "restore; the backup itself is unchanged");
	return -1;
}

static int qbk_restore_safety_backup(struct run *, struct plan *, size_t,
    struct qbk_err *);

static int
qbk_restore_restore_sharded(struct run *r, struct plan *p, struct qbk_err *err)
{
	const struct qbk_manifest_collection *mc = p->mc;
	struct rshards rs;
	struct qbk_cluster_layout *l = NULL;
	uint64_t *pick = NULL, *usable = NULL, *order = NULL, *node_of = NULL;
	uint64_t base = 0;
	size_t nusable = 0, norder = 0, i, k;
	int64_t t0 = qbk_clock_ms();
	int existed, c, custom = qbk_restore_is_custom(p), rc = -1;
	unsigned par;
	json_t *body;

	memset(&rs, 0, sizeof(rs));
	rs.r = r;
	rs.p = p;
	if (p->exists && !r->o->one_shard) {
		if ((c = qbk_restore_compatible(r, p, err)) < 0)
			return -1;
		if (c == 0 && qbk_restore_replace_incompatible(r, p, err) != 0)
			return -1;
	} else if (p->exists) {
		if ((c = qbk_restore_compatible(r, p, err)) < 0)
			return -1;
		if (c == 0)
			return qbk_err_set(err, QBK_E_USAGE, "collection '%s' "
			    "has other vectors, another shard count or "
			    "another sharding than the backup of '%s': cannot "
			    "restore one shard into it", p->target, p->name);
	}
	existed = p->exists;
	for (k = 0; k < mc->n_snapshots; k++) {
		const struct qbk_manifest_snapshot *s = mc->snapshots[k];

		if (r->o->one_shard && s->shard_id != (int64_t)r->o->shard) {
			base += s->size;
			continue;
		}
		rs.jobs = qbk_xrealloc(rs.jobs, (rs.njobs + 1) *
		    sizeof(*rs.jobs));
		rs.jobs[rs.njobs].s = s;
		rs.jobs[rs.njobs].shard = (uint32_t)s->shard_id;
		rs.jobs[rs.njobs].peer = 0;
		rs.jobs[rs.njobs++].base = base;
		base += s->size;
	}
	if (rs.njobs == 0) {
		if (r->o->one_shard)
			qbk_err_set(err, QBK_E_USAGE, "backup '%s' holds no "
			    "snapshot of shard %u of collection '%s'",
			    r->m->backup_id, r->o->shard, p->name);
		else
			qbk_err_set(err, QBK_E_INTEGRITY, "backup '%s' holds "
			    "no snapshot of collection '%s'", r->m->backup_id,
			    p->name);
		goto out;
	}
	qbk_restore_progress(
	    r->o, QBK_RESTORE_EV_START, p->name, p->target, 0, p->total, 0);
	if (!existed && r->cl->enabled &&
	    r->o->priority != QBK_QDRANT_PRIORITY_DEFAULT &&
	    r->o->priority != QBK_QDRANT_PRIORITY_SNAPSHOT) {
		/* The other replicas of a new collection are Active and
		 * empty: with "replica" they would win, with "no_sync" they
		 * would stay empty. */
		qbk_restore_warning(r->rep,
		    "priority '%s' does not fit a new collection, "
		    "whose other replicas are empty: restoring '%s' with "
		    "priority 'snapshot'",
		    r->o->priority == QBK_QDRANT_PRIORITY_REPLICA ? "replica" :
		    "no_sync",
		    p->target);
		r->prio_set = 1;
		r->prio = QBK_QDRANT_PRIORITY_SNAPSHOT;
	}
	if (!existed) {
		if ((body = sharded_body(r, p, err)) == NULL)
			goto out;
		c = qbk_qdrant_collection_create(r->q, p->target, body, err);
		qbk_json_decref(body);
		if (c != 0) {
			qbk_err_prefix(err, "cannot create collection '%s'",
			    p->target);
			goto out;
		}
		if (qbk_restore_create_indexes(r, p, err) != 0)
			goto fail;
	}
	if (custom && create_shard_keys(r, p, err) != 0)
		goto fail;

	/* Which shard each snapshot goes into (custom sharding: where its
	 * key's shards are now), and on which node: one holding a replica
	 * of it, spread. */
	if (custom || r->cl->enabled) {
		if (qbk_cluster_layout(r->cl, r->q, p->target, &l, err) != 0 ||
		    (custom && map_jobs(p, &rs, l, err) != 0))
			goto fail;
	}
	if (r->cl->enabled) {
		usable = qbk_xcalloc(r->cl->npeers + 1, sizeof(*usable));
		for (i = 0; i < r->cl->npeers; i++)
			if (r->cl->peers[i].reachable)
				usable[nusable++] = r->cl->peers[i].id;
		order = qbk_xcalloc(r->o->nnodes + 1, sizeof(*order));
		for (k = 0; k < r->o->nnodes; k++)
			for (i = 0; i < r->cl->npeers; i++)
				if (strcmp(r->cl->peers[i].url,
				    r->o->nodes[k]) == 0)
					order[norder++] = r->cl->peers[i].id;
		pick = qbk_xcalloc(l->nshards + 1, sizeof(*pick));
		qbk_cluster_pick(l, 1, usable, nusable, order, norder, pick);
		for (k = 0; k < rs.njobs; k++) {
			for (i = 0; i < l->nshards; i++)
				if (l->shards[i].id == rs.jobs[k].shard)
					break;
			if (i == l->nshards || pick[i] == 0) {
				qbk_err_set(err, QBK_E_QDRANT, "no reachable "
				    "node holds a replica of shard %u of "
				    "'%s'", rs.jobs[k].shard, p->target);
				goto fail;
			}
			rs.jobs[k].peer = pick[i];
		}
		if (existed && check_priority(r, p, &rs, l, err) != 0)
			goto fail;
	}
	/* --shard recovers over a live shard: save the collection first
	 * (after the checks above, which refuse without changing anything). */
	if (r->o->one_shard && qbk_restore_safety_backup(r, p, 1, err) != 0)
		goto out;
	rs.it = qbk_restore_add_item(r->rep, p->name, p->target);
	rs.it->replaced = p->replaced;
	node_of = qbk_xcalloc(rs.njobs + 1, sizeof(*node_of));
	for (k = 0; k < rs.njobs; k++)
		node_of[k] = rs.jobs[k].peer;
	par = r->o->node_parallelism > 0 ? r->o->node_parallelism :
	    (unsigned)(r->cl->npeers < 4 ? r->cl->npeers : 4);
	r->threaded = 1;
	c = qbk_cluster_run(rs.njobs, node_of, par, shard_job, &rs,
	    r->o->cancel, err);
	r->threaded = 0;
	if (c != 0) {
		qbk_restore_drop_item(r->rep);
		goto fail;
	}
	if (r->cl->enabled)
		wait_replicas(r, p->target);
	/* An existing collection keeps its own payload indexes. */
	if (existed && qbk_restore_create_indexes(r, p, err) != 0) {
		qbk_restore_drop_item(r->rep);
		goto fail;
	}
	qbk_restore_wake_optimizers(r, p->target);
	if (!r->o->one_shard &&
	    qbk_restore_check_count(r, p, existed, err) != 0) {
		qbk_restore_drop_item(r->rep);
		goto fail;
	}
	rs.it->duration_ms = (uint64_t)(qbk_clock_ms() - t0);
	p->done = 1;
	qbk_restore_progress(r->o, QBK_RESTORE_EV_DONE, p->name, p->target,
	    rs.it->bytes, p->total, rs.it->duration_ms);
	qbk_info("restored %s of collection '%s'%s%s: %llu bytes in %.1f s",
	    r->o->one_shard ? "one shard" : "every shard", p->name,
	    strcmp(p->name, p->target) != 0 ? " as " : "",
	    strcmp(p->name, p->target) != 0 ? p->target : "",
	    (unsigned long long)rs.it->bytes,
	    (double)rs.it->duration_ms / 1000.0);
	rc = 0;
	goto out;
fail:
	if (!existed)
		qbk_restore_undo_create(r, p->target);
	qbk_err_prefix(err, "cannot restore collection '%s' of backup '%s'%s%s",
	    p->name, r->m->backup_id, strcmp(p->name, p->target) != 0 ?
	    " as " : "", strcmp(p->name, p->target) != 0 ? p->target : "");
	if (existed)
		qbk_restore_describe_failed(r, p, err);
out:
	qbk_cluster_layout_free(l);
	free(pick);
	free(usable);
	free(order);
	free(node_of);
	free(rs.jobs);
	r->prio_set = 0;
	return rc;
}

static int
restore_collection(struct run *r, struct plan *p, struct qbk_err *err)
{
	const struct qbk_manifest_collection *mc = p->mc;
	struct qbk_restore_item *it;
	uint64_t base = 0;
	int64_t t0 = qbk_clock_ms();
	int existed, c;
	size_t k;

	if (r->o->one_shard || p->shards || (r->cl != NULL && r->cl->enabled))
		return qbk_restore_restore_sharded(r, p, err);
	if (p->exists) {
		if ((c = qbk_restore_compatible(r, p, err)) < 0)
			return -1;
		if (c == 0 && qbk_restore_replace_incompatible(r, p, err) != 0)
			return -1;
	}
	existed = p->exists;
	qbk_restore_progress(
	    r->o, QBK_RESTORE_EV_START, p->name, p->target, 0, p->total, 0);
	it = qbk_restore_add_item(r->rep, p->name, p->target);
	it->replaced = p->replaced;
	for (k = 0; k < mc->n_snapshots; k++) {
		if (interrupted(r->o, err) != 0 ||
		    qbk_restore_restore_snapshot(r, r->q, p, mc->snapshots[k],
		    QBK_QDRANT_NO_SHARD, base, it, err) != 0) {
			qbk_restore_drop_item(r->rep);
			if (!existed)
				qbk_restore_undo_create(r, p->target);
			qbk_err_prefix(err, "cannot restore collection '%s' "
			    "of backup '%s'%s%s", p->name, r->m->backup_id,
			    strcmp(p->name, p->target) != 0 ? " as " : "",
			    strcmp(p->name, p->target) != 0 ? p->target : "");
			if (existed)
				qbk_restore_describe_failed(r, p, err);
			return -1;
		}
		base += mc->snapshots[k]->size;
	}
	/* Qdrant registers the snapshot's payload indexes only when the
	 * recovery creates the collection, and before 1.14.1 not even then:
	 * re-create them (creating an index that exists changes nothing). */
	if (qbk_restore_create_indexes(r, p, err) != 0) {
		qbk_restore_drop_item(r->rep);
		if (!existed)
			qbk_restore_undo_create(r, p->target);
		qbk_err_prefix(err, "the payload indexes of collection '%s' "
		    "were not restored", p->target);
		return -1;
	}
	if (qbk_restore_check_count(r, p, existed, err) != 0) {
		qbk_restore_drop_item(r->rep);
		if (!existed)
			qbk_restore_undo_create(r, p->target);
		qbk_err_prefix(err, "cannot restore collection '%s' of backup "
		    "'%s'%s%s", p->name, r->m->backup_id,
		    strcmp(p->name, p->target) != 0 ? " as " : "",
		    strcmp(p->name, p->target) != 0 ? p->target : "");
		return -1;
	}
	it->duration_ms = (uint64_t)(qbk_clock_ms() - t0);
	p->done = 1;
	qbk_restore_progress(r->o, QBK_RESTORE_EV_DONE, p->name, p->target,
	    it->bytes, p->total, it->duration_ms);
	qbk_info("restored collection '%s'%s%s: %llu bytes in %.1f s",
	    p->name, strcmp(p->name, p->target) != 0 ? " as " : "",
	    strcmp(p->name, p->target) != 0 ? p->target : "",
	    (unsigned long long)it->bytes, (double)it->duration_ms / 1000.0);
	return 0;
}

/* Restore the chosen members of the full storage snapshot ${s} in one pass
 * over it. */
static int
restore_full(struct run *r, const struct qbk_manifest_snapshot *s,
    struct plan *plans, size_t np, struct qbk_err *err)
{
	struct qbk_extract_opts eo;
	struct tar t;
	struct tar_member mb;
	struct source src;
	char sha[2 * 32 + 1];
	size_t left = 0, i;
	int rc = -1, n = 0;

	memset(&t, 0, sizeof(t));
	t.paxsize = -1;
	qbk_restore_extract_opts(r, NULL, &eo);
	for (i = 0; i < np; i++)
		if (plans[i].mc == NULL && !plans[i].done)
			left++;
	if (qbk_extract_open(r->repo, s, &eo, &t.x, err) != 0)
		return -1;
	while (left > 0 && (n = qbk_restore_tar_next(&t, &mb, err)) > 0) {
		struct qbk_restore_item *it;
		char *coll;
		int64_t t0;

		if (mb.type != '0' ||
		    (coll = qbk_restore_member_collection(mb.path)) == NULL)
			continue;
		for (i = 0; i < np; i++)
			if (plans[i].mc == NULL && !plans[i].done &&
			    strcmp(plans[i].name, coll) == 0)
				break;
		free(coll);
		if (i == np)
			continue;
		if (interrupted(r->o, err) != 0)
			goto out;
		t0 = qbk_clock_ms();
		it = qbk_restore_add_item(
		    r->rep, plans[i].name, plans[i].target);
		it->replaced = plans[i].replaced;
		qbk_restore_progress(r->o, QBK_RESTORE_EV_START, plans[i].name,
		    plans[i].target, 0, mb.size, 0);
		memset(&src, 0, sizeof(src));
		src.o = r->o;
		src.x = t.x;
		src.tar = &t;
		src.start = mb.offset;
		src.size = src.left = mb.size;
		src.collection = plans[i].name;
		src.target = plans[i].target;
		src.total = mb.size;
		qbk_restore_source_hash_start(&src);
		if (upload(r, r->q, plans[i].target, QBK_QDRANT_NO_SHARD, &src,
		    NULL, mb.size, err) != 0) {
			qbk_restore_source_hash_end(&src, sha);
			qbk_restore_drop_item(r->rep);
			if (!plans[i].exists)
				qbk_restore_undo_create(r, plans[i].target);
			qbk_err_prefix(err, "cannot restore collection '%s' "
			    "of backup '%s'", plans[i].name, r->m->backup_id);
			goto out;
		}
		qbk_restore_source_hash_end(&src, sha);
		qbk_restore_item_add_snap(it, mb.path, -1, mb.size, sha);
		it->duration_ms = (uint64_t)(qbk_clock_ms() - t0);
		plans[i].done = 1;
		left--;
		qbk_restore_progress(r->o, QBK_RESTORE_EV_DONE, plans[i].name,
		    plans[i].target, mb.size, mb.size, it->duration_ms);
	}
	if (left > 0) {
		if (n == 0) {
			for (i = 0; i < np && (plans[i].mc != NULL ||
			    plans[i].done); i++)
				;
			qbk_err_set(err, QBK_E_INTEGRITY, "the full storage "
			    "snapshot of backup '%s' holds no snapshot of "
			    "collection '%s'", r->m->backup_id, plans[i].name);
		}
		goto out;
	}
	rc = 0;
out:
	qbk_restore_tar_release(&t);
	qbk_extract_close(t.x);
	return rc;
}

/* Create the aliases the backup recorded for restored collections, and
 * those of collections that were deleted to be replaced. */
static int
restore_aliases(struct run *r, struct plan *plans, size_t np,
    struct qbk_err *err)
{
	struct qbk_qdrant_alias *cur = NULL;
	size_t ncur = 0, i, k, j;
	struct qbk_err first = QBK_ERR_INIT;
	struct {
		const char *alias, *target;
	} *want = NULL;
	size_t nwant = 0;
	int rc = 0;

	for (i = 0; i < r->m->n_aliases; i++)
		for (k = 0; k < np; k++)
			if (plans[k].done && strcmp(r->m->aliases[i].collection,
			    plans[k].name) == 0) {
				want = qbk_xrealloc(want, (nwant + 1) *
				    sizeof(*want));
				want[nwant].alias = r->m->aliases[i].alias;
				want[nwant++].target = plans[k].target;
			}
	for (k = 0; k < np; k++)
		for (i = 0; i < plans[k].n_old_aliases; i++) {
			want = qbk_xrealloc(want, (nwant + 1) * sizeof(*want));
			want[nwant].alias = plans[k].old_aliases[i].alias;
			want[nwant++].target = plans[k].target;
		}
	if (nwant == 0)
		return 0;
	if (qbk_qdrant_aliases(r->q, NULL, &cur, &ncur, err) != 0) {
		free(want);
		qbk_err_prefix(err, "cannot restore aliases");
		return -1;
	}
	for (i = 0; i < nwant; i++) {
		struct qbk_err e = QBK_ERR_INIT;

		for (j = 0; j < i; j++)
			if (strcmp(want[j].alias, want[i].alias) == 0)
				break;
		if (j < i)
			continue;
		for (k = 0; k < ncur; k++)
			if (strcmp(cur[k].alias, want[i].alias) == 0)
				break;
		if (k < ncur && strcmp(cur[k].collection, want[i].target) == 0)
			continue;
		if (k < ncur && !r->o->force) {
			qbk_restore_warning(r->rep,
			    "alias '%s' points at '%s': not "
			    "re-pointed at '%s' without --force",
			    want[i].alias, cur[k].collection, want[i].target);
			continue;
		}
		if (qbk_qdrant_alias_create(r->q, want[i].alias,
		    want[i].target, &e) != 0) {
			qbk_err_prefix(&e, "cannot point alias '%s' at '%s'",
			    want[i].alias, want[i].target);
			qbk_warn("%s", e.msg);
			if (rc == 0)
				first = e;
			rc = -1;
			continue;
		}
		qbk_info("alias '%s' -> '%s'%s", want[i].alias, want[i].target,
		    k < ncur ? " (re-pointed)" : "");
	}
	qbk_qdrant_aliases_free(cur, ncur);
	free(want);
	if (rc != 0) {
		*err = first;
		qbk_err_hint(err, "the collections were restored; create the "
		    "alias by hand");
	}
	return rc;
}

/* Read the safety backup ${id} back whole (every chunk authenticated,
 * every snapshot reassembled against its SHA-256 and Qdrant's layout)
 * before anything is recovered over the live data it saved. */
static int
verify_safety(struct run *r, const char *id, struct qbk_err *err)
{
	struct qbk_verify_opts vo = QBK_VERIFY_OPTS_INIT;
	struct qbk_verify_result res;
	struct qbk_buf t = QBK_BUF_INIT;
	int rc = -1;

	memset(&res, 0, sizeof(res));
	vo.backup_id = id;
	vo.repo = 1;
	vo.read_data = 1;
	vo.workers = r->o->workers;
	vo.cancel = r->o->cancel;
	if (qbk_verify_run(r->repo, &vo, &res, err) != 0) {
		qbk_err_prefix(err, "cannot verify safety backup %s "
		    "(nothing was changed)", id);
		goto out;
	}
	if (res.n_problems > 0) {
		qbk_verify_problem_text(&res.problems[0], &t);
		qbk_err_set(err, QBK_E_INTEGRITY, "safety backup %s does not "
		    "read back whole: %s (nothing was changed)", id, t.buf);
		qbk_err_hint(err, "check the repository with qbk-verify "
		    "--read-data before replacing live collections");
		goto out;
	}
	rc = 0;
out:
	qbk_buf_release(&t);
	qbk_verify_result_release(&res);
	return rc;
}

/* Is this the restore of a safety backup over collections that a failed
 * recovery left with a replica that is not Active (a Dead one lost its
 * data, so no backup of them can be taken)?  Then the safety backup being
 * restored is the copy of them: no other is taken. */
static int
damaged_by_restore(struct run *r, const char **names, size_t n)
{
	struct qbk_qdrant_coll_cluster *cl;
	struct qbk_err e = QBK_ERR_INIT;
	size_t i, k;
	int damaged = 0;

	if (!qbk_restore_is_safety(r->m))
		return 0;
	for (i = 0; i < n && !damaged; i++) {
		if (qbk_qdrant_collection_cluster(r->q, names[i], &cl, &e) != 0)
			return 0;
		for (k = 0; k < cl->nlocal; k++)
			if (strcmp(cl->local[k].state, "Active") != 0)
				damaged = 1;
		qbk_qdrant_coll_cluster_free(cl);
	}
	if (damaged)
		qbk_restore_warning(r->rep,
		    "backup %s is a safety backup and '%s' has a "
		    "replica that is not Active (a failed recovery): restoring "
		    "it without another safety backup",
		    r->m->backup_id, names[i - 1]);
	return damaged;
}

/*
 * Does shard ${shard} of ${coll} hold live data, an Active replica on any
 * node?  A shard without one (Dead after a lost node or a failed recovery)
 * has nothing that a safety backup could save.  An error counts as yes:
 * the safety backup then says what is wrong.
 */
static int
shard_live(struct run *r, const char *coll, uint32_t shard)
{
	struct qbk_qdrant_coll_cluster *cl;
	struct qbk_err e = QBK_ERR_INIT;
	size_t k;
	int live = 0;

	if (qbk_qdrant_collection_cluster(r->q, coll, &cl, &e) != 0)
		return 1;
	for (k = 0; k < cl->nlocal; k++)
		if (cl->local[k].shard_id == shard &&
		    strcmp(cl->local[k].state, "Active") == 0)
			live = 1;
	for (k = 0; k < cl->nremote; k++)
		if (cl->remote[k].shard_id == shard &&
		    strcmp(cl->remote[k].state, "Active") == 0)
			live = 1;
	qbk_qdrant_coll_cluster_free(cl);
	return live;
}

/*
 * Take a safety backup of every collection about to be replaced, or of the
 * collection whose shard --shard replaces (the whole collection, with
 * whatever other shards have no Active replica recorded as missing).
 */
static int
qbk_restore_safety_backup(struct run *r, struct plan *plans, size_t np,
    struct qbk_err *err)
{
	struct qbk_backup_opts bo;
	struct qbk_manifest *sm = NULL;
	/* NULL-terminated as well as counted: qbk_backup_run() reads the
	 * list up to a NULL. */
	const char **names = qbk_xcalloc(np + 1, sizeof(char *));
	const char *tags[2];
	char tag2[64];
	size_t i, n = 0;

	for (i = 0; i < np; i++)
		if (plans[i].exists)
			names[n++] = plans[i].target;
	if (n == 0 || damaged_by_restore(r, names, n)) {
		free(names);
		return 0;
	}
	if (r->o->one_shard && !shard_live(r, names[0], r->o->shard)) {
		qbk_restore_warning(r->rep,
		    "shard %u of '%s' has no Active replica: it "
		    "holds no live data to save, so no safety backup is taken",
		    r->o->shard, names[0]);
		free(names);
		return 0;
	}
	snprintf(tag2, sizeof(tag2), "restore-of=%s", r->m->backup_id);
	tags[0] = QBK_RESTORE_SAFETY_KEY "=" QBK_RESTORE_SAFETY_VALUE;
	tags[1] = tag2;
	memset(&bo, 0, sizeof(bo));
	bo.collections = names;
	bo.ncollections = n;
	bo.tags = tags;
	bo.ntags = 2;
	bo.mode = QBK_BACKUP_MODE_AUTO;
	bo.sample_points = r->o->sample_points;
	bo.workers = r->o->workers;
	bo.zstd_level = -1;
	bo.cancel = r->o->cancel;
	bo.nodes = r->o->nodes;
	bo.nnodes = r->o->nnodes;
	bo.node_parallelism = r->o->node_parallelism;
	bo.allow_partial = r->o->one_shard;
	qbk_info("taking a safety backup of %zu collection%s before replacing "
	    "%s", n, n == 1 ? "" : "s", n == 1 ? "it" : "them");
	if (qbk_backup_run(r->repo, r->q, &bo, &sm, err) != 0) {
		free(names);
		qbk_err_prefix(err, "cannot take the safety backup of the "
		    "collections to replace (nothing was changed)");
		return -1;
	}
	qbk_info("safety backup %s taken; reading it back", sm->backup_id);
	if (verify_safety(r, sm->backup_id, err) != 0) {
		qbk_manifest_free(sm);
		free(names);
		return -1;
	}
	memcpy(r->rep->safety_backup_id, sm->backup_id,
	    sizeof(r->rep->safety_backup_id));
	qbk_info("safety backup %s taken and verified", sm->backup_id);
	qbk_manifest_free(sm);
	free(names);
	return 0;
}

struct member_find {
	const char *name;
	uint64_t size;
	int found;
	const char *path;	/* borrowed from the manifest */
};

static void
qbk_restore_find_member(
    void *cookie, const char *coll, const char *path, uint64_t size)
{
	struct member_find *f = cookie;

	if (f->name == NULL || strcmp(f->name, coll) == 0) {
		f->found++;
		f->size = size;
		f->path = path;
	}
}

struct member_names {
	const char **v;
	size_t n;
	struct qbk_buf list;
};

static void
qbk_restore_collect_member(void *cookie, const char *coll, const char *path,
    uint64_t size)
{
	struct member_names *mn = cookie;
	size_t i;

	(void)path;
	(void)size;
	for (i = 0; i < mn->n; i++)
		if (strcmp(mn->v[i], coll) == 0)
			return;
	mn->v = qbk_xrealloc(mn->v, (mn->n + 1) * sizeof(char *));
	mn->v[mn->n++] = qbk_xstrdup(coll);
	qbk_buf_addf(&mn->list, "%s%s", mn->list.len > 0 ? ", " : "", coll);
}

static void
qbk_restore_member_names_release(struct member_names *mn)
{
	size_t i;

	for (i = 0; i < mn->n; i++)
		free((char *)(uintptr_t)mn->v[i]);
	free(mn->v);
	qbk_buf_release(&mn->list);
}

/* The names the backup holds, for messages. */
static void
qbk_restore_held_names(const struct qbk_manifest *m, struct qbk_buf *out)
{
	struct member_names mn;
	size_t i;

	for (i = 0; i < m->n_collections; i++)
		qbk_buf_addf(out, "%s%s", i > 0 ? ", " : "",
		    m->collections[i]->name);
	memset(&mn, 0, sizeof(mn));
	qbk_buf_init(&mn.list);
	for (i = 0; i < m->n_snapshots; i++)
		qbk_restore_full_members(
		    m->snapshots[i], qbk_restore_collect_member, &mn);
	if (mn.list.len > 0)
		qbk_buf_addf(out, "%s%s", out->len > 0 ? ", " : "",
		    mn.list.buf);
	qbk_restore_member_names_release(&mn);
	if (out->len == 0)
		qbk_buf_addstr(out, "none");
}

/* ---- choosing a backup by the collections it holds ------------------ */

/* Does backup ${m} hold collection ${name}? */
static int
holds(const struct qbk_manifest *m, const char *name, int flags)
{
	struct member_find f = { name, 0, 0, NULL };
	size_t k;

	if (qbk_manifest_find_collection(m, name) != NULL)
		return 1;
	if ((flags & QBK_RESTORE_CHOOSE_SNAPSHOTS) ||
	    m->kind != QBK_MANIFEST_KIND_FULL_STORAGE)
		return 0;
	for (k = 0; k < m->n_snapshots && f.found == 0; k++)
		qbk_restore_full_members(
		    m->snapshots[k], qbk_restore_find_member, &f);
	return f.found > 0;
}

/* "'a'", "'a' and 'b'", "'a', 'b' and 'c'" */
static void
quoted_names(const char *const *names, size_t n, struct qbk_buf *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		qbk_buf_addf(out, "%s'%s'", i == 0 ? "" : i + 1 == n ?
		    " and " : ", ", names[i]);
}

int
qbk_restore_choose(struct qbk_repo *repo, const char *id, int64_t at,
    const char *const *names, size_t nnames, int flags, char *out,
    struct qbk_err *err)
{
	struct qbk_manifest *m = NULL;
	struct qbk_buf all = QBK_BUF_INIT, newer = QBK_BUF_INIT;
	char **ids = NULL, when[QBK_TIME_LEN + 1] = "";
	const char **newest = NULL;	/* per name, borrowed from ids */
	const char *chosen;
	size_t n = 0, i, j, held, nnewer = 0;
	int64_t t;
	int rc = -1;

	if (id != NULL || nnames == 0)
		return qbk_restore_select(repo, id, at, out, err);
	out[0] = '\0';
	if (backup_ids(repo, &ids, &n, err) != 0)
		return -1;
	if (at >= 0)
		qbk_time_format(at, when);
	newest = qbk_xcalloc(nnames, sizeof(*newest));
	for (i = n; i > 0; i--) {
		if (at >= 0 && (qbk_manifest_id_time(ids[i - 1], &t) != 0 ||
		    t > at))
			continue;
		if (qbk_repo_manifest_read(repo, ids[i - 1], &m, err) != 0)
			goto out;
		held = 0;
		if (!qbk_restore_is_safety(m))
			for (j = 0; j < nnames; j++)
				if (holds(m, names[j], flags)) {
					held++;
					if (newest[j] == NULL)
						newest[j] = ids[i - 1];
				}
		qbk_manifest_free(m);
		m = NULL;
		if (held == nnames)
			break;
	}
	quoted_names(names, nnames, &all);
	if (i == 0) {
		for (j = 0; j < nnames && newest[j] != NULL; j++)
			;
		if (j < nnames) {
			qbk_err_set(err, QBK_E_USAGE, "no backup%s%s holds "
			    "collection '%s'", when[0] != '\0' ?
			    " taken at or before " : "", when, names[j]);
			qbk_err_hint(err, "'qbk-report --list' shows the "
			    "backups and 'qbk-restore --list --backup ID' "
			    "what one holds");
			goto out;
		}
		for (j = 0; j < nnames; j++)
			qbk_buf_addf(&newer, "%s'%s' is %s", j > 0 ? ", of " :
			    "", names[j], newest[j]);
		qbk_err_set(err, QBK_E_USAGE, "no backup%s%s holds all of "
		    "%s", when[0] != '\0' ? " taken at or before " : "", when,
		    all.buf);
		qbk_err_hint(err, "the newest backup of %s: choose them one at "
		    "a time with --collection, or restore each from its "
		    "newest backup with qbk-emergency-recover", newer.buf);
		goto out;
	}
	chosen = ids[i - 1];
	for (j = 0; j < nnames; j++)
		if (strcmp(newest[j], chosen) != 0)
			qbk_buf_addf(&newer, "%sbackup %s of '%s'",
			    nnewer++ > 0 ? ", " : "", newest[j], names[j]);
	if (newer.len > 0 && (flags & QBK_RESTORE_CHOOSE_NEWEST)) {
		qbk_err_set(err, QBK_E_USAGE, "backup %s, the newest that "
		    "holds %s, is older than %s", chosen, all.buf, newer.buf);
		qbk_err_hint(err, "restore from it all the same with --backup "
		    "%s, choose the collections one at a time with "
		    "--collection, or restore each from its newest backup "
		    "with qbk-emergency-recover", chosen);
		goto out;
	}
	if (newer.len > 0)
		qbk_warn("%s %s newer than backup %s, the newest that holds "
		    "%s", newer.buf, nnewer > 1 ? "are" : "is", chosen,
		    all.buf);
	memcpy(out, chosen, QBK_MANIFEST_ID_LEN + 1);
	rc = 0;
out:
	free(newest);
	qbk_buf_release(&all);
	qbk_buf_release(&newer);
	qbk_repo_free_ids(ids, n);
	return rc;
}

/* Resolve the chosen collections into plans (without asking Qdrant). */
static int
qbk_restore_make_plans(const struct qbk_manifest *m,
    const struct qbk_restore_opts *o, struct plan **out, size_t *np,
    struct member_names *mn, struct qbk_err *err)
{
	struct plan *plans = NULL;
	struct qbk_buf held = QBK_BUF_INIT;
	size_t n = 0, i, k;
	int full = m->kind == QBK_MANIFEST_KIND_FULL_STORAGE;

	*out = NULL;
	*np = 0;
	memset(mn, 0, sizeof(*mn));
	qbk_buf_init(&mn->list);
	if (full)
		for (i = 0; i < m->n_snapshots; i++)
			qbk_restore_full_members(
			    m->snapshots[i], qbk_restore_collect_member, mn);
	if (o->ncollections > 0) {
		for (i = 0; i < o->ncollections; i++) {
			int found = qbk_manifest_find_collection(m,
			    o->collections[i]) != NULL;

			for (k = 0; !found && k < mn->n; k++)
				found = strcmp(mn->v[k],
				    o->collections[i]) == 0;
			if (!found) {
				qbk_restore_held_names(m, &held);
				qbk_err_set(err, QBK_E_USAGE, "backup '%s' "
				    "holds no collection '%s'", m->backup_id,
				    o->collections[i]);
				qbk_err_hint(err, "it holds: %.200s", held.buf);
				qbk_buf_release(&held);
				goto err;
			}
			for (k = 0; k < i; k++)
				if (strcmp(o->collections[k],
				    o->collections[i]) == 0)
					break;
			if (k < i)
				continue;
			plans = qbk_xrealloc(plans, (n + 1) * sizeof(*plans));
			memset(&plans[n], 0, sizeof(*plans));
			plans[n].name = o->collections[i];
			plans[n++].mc = qbk_manifest_find_collection(m,
			    o->collections[i]);
		}
	} else {
		for (i = 0; i < m->n_collections; i++) {
			plans = qbk_xrealloc(plans, (n + 1) * sizeof(*plans));
			memset(&plans[n], 0, sizeof(*plans));
			plans[n].name = m->collections[i]->name;
			plans[n++].mc = m->collections[i];
		}
		for (i = 0; i < mn->n; i++) {
			plans = qbk_xrealloc(plans, (n + 1) * sizeof(*plans));
			memset(&plans[n], 0, sizeof(*plans));
			plans[n++].name = mn->v[i];
		}
	}
	if (n == 0) {
		qbk_err_set(err, QBK_E_USAGE, "backup '%s' holds no "
		    "collection to restore", m->backup_id);
		goto err;
	}
	if (o->as != NULL && o->prefix != NULL) {
		qbk_err_set(err, QBK_E_USAGE, "a new name and a name prefix "
		    "exclude each other");
		goto err;
	}
	if (o->as != NULL && n != 1) {
		qbk_err_set(err, QBK_E_USAGE, "'--as' needs exactly one "
		    "collection, and %zu are chosen", n);
		qbk_err_hint(err, "choose it with --collection NAME");
		goto err;
	}
	for (i = 0; i < n; i++) {
		struct plan *p = &plans[i];

		if (o->as != NULL)
			p->target = o->as;
		else if (o->prefix != NULL) {
			struct qbk_buf t = QBK_BUF_INIT;

			qbk_buf_addf(&t, "%s%s", o->prefix, p->name);
			p->target = p->target_buf = qbk_buf_detach(&t, NULL);
		} else
			p->target = p->name;
		if (p->mc == NULL) {
			struct member_find f = { p->name, 0, 0, NULL };

			for (k = 0; k < m->n_snapshots; k++)
				qbk_restore_full_members(m->snapshots[k],
				    qbk_restore_find_member, &f);
			p->total = f.size;
			continue;
		}
		if (p->mc->n_snapshots == 0) {
			qbk_err_set(err, QBK_E_INTEGRITY, "backup '%s' holds "
			    "no snapshot of collection '%s'", m->backup_id,
			    p->name);
			goto err;
		}
		p->shards = p->mc->snapshots[0]->kind ==
		    QBK_MANIFEST_SNAP_SHARD;
		for (k = 0; k < p->mc->n_snapshots; k++) {
			const struct qbk_manifest_snapshot *s =
			    p->mc->snapshots[k];

			p->total += s->size;
			if ((s->kind == QBK_MANIFEST_SNAP_SHARD) != p->shards ||
			    (!p->shards && k > 0)) {
				qbk_err_set(err, QBK_E_USAGE, "backup '%s' "
				    "holds %zu snapshots of collection '%s' "
				    "taken on several nodes: restoring those "
				    "is not supported", m->backup_id,
				    p->mc->n_snapshots, p->name);
				goto err;
			}
		}
	}
	*out = plans;
	*np = n;
	return 0;
err:
	for (i = 0; i < n; i++)
		free(plans[i].target_buf);
	free(plans);
	return -1;
}

static void
qbk_restore_plans_free(struct plan *plans, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		qbk_qdrant_aliases_free(plans[i].old_aliases,
		    plans[i].n_old_aliases);
		free(plans[i].target_buf);
	}
	free(plans);
}

/* Qdrant supports a snapshot on the release that took it and on the next
 * minor one: refuse any other target before anything is changed on it. */
static int
refuse_version_skew(struct run *r, const char *target, struct qbk_err *err)
{
	const char *from;

	if (r->m->n_qdrant_versions == 0)
		return 0;
	from = r->m->qdrant_versions[0];
	if (!qbk_restore_version_skew(from, target))
		return 0;
	qbk_err_set(err, QBK_E_USAGE, "backup '%s' was taken from Qdrant %s "
	    "and '%s' runs %s: Qdrant recovers snapshots only on the same or "
	    "the next minor release", r->m->backup_id, from, r->url, target);
	qbk_err_hint(err, "restore into Qdrant of the release of the backup "
	    "or the next minor one, or write the snapshot with --to-file");
	return -1;
}

/* Ask the node about the targets: distributed? version? which exist? */
static int
qbk_restore_check_target(struct run *r, struct plan *plans, size_t np,
    struct qbk_err *err)
{
	struct qbk_qdrant_version ver;
	struct qbk_buf names = QBK_BUF_INIT;
	size_t i, nexist = 0;

	if (qbk_qdrant_version(r->q, &ver, err) != 0 ||
	    refuse_version_skew(r, ver.version, err) != 0 ||
	    qbk_cluster_discover(r->q, r->o->nodes, r->o->nnodes, &r->cl,
	    err) != 0)
		return -1;
	for (i = 0; !r->cl->enabled && i < np; i++)
		if (plans[i].mc != NULL && qbk_restore_is_custom(&plans[i])) {
			/* Qdrant refuses shard keys on a standalone node, and
			 * recovers a collection snapshot of such a collection
			 * without its shards, answering success. */
			qbk_err_set(err, QBK_E_USAGE, "collection '%s' of "
			    "backup '%s' is sharded by shard keys, and '%s' "
			    "runs standalone: Qdrant creates shard keys only in "
			    "cluster mode (cluster.enabled)", plans[i].name,
			    r->m->backup_id, r->url);
			qbk_err_hint(err, "restore it into a Qdrant started "
			    "with cluster.enabled: true (a single node can run "
			    "so)");
			return -1;
		}
	for (i = 0; r->cl->enabled && i < np; i++)
		if (plans[i].mc == NULL || !plans[i].shards) {
			qbk_err_set(err, QBK_E_USAGE, "'%s' is a node of a "
			    "distributed deployment, and backup '%s' holds "
			    "collection '%s' as a %s snapshot: a restore "
			    "through one node would leave the shards held by "
			    "the other nodes empty", r->url, r->m->backup_id,
			    plans[i].name, plans[i].mc == NULL ?
			    "full storage" : "collection");
			qbk_err_hint(err, "restore it into a single-node "
			    "deployment, or write the snapshot with --to-file "
			    "and recover it on each node");
			return -1;
		}
	if (r->o->one_shard) {
		if (np != 1 || plans[0].mc == NULL)
			return qbk_err_set(err, QBK_E_USAGE, "'--shard' needs "
			    "exactly one collection of shard snapshots");
		if (qbk_qdrant_collection_exists(r->q, plans[0].target,
		    &plans[0].exists, err) != 0)
			return -1;
		if (!plans[0].exists) {
			qbk_err_set(err, QBK_E_USAGE, "no collection '%s' on "
			    "'%s': '--shard' restores one shard into an "
			    "existing collection", plans[0].target, r->url);
			qbk_err_hint(err, "restore the whole collection "
			    "without --shard");
			return -1;
		}
		return 0;
	}
	for (i = 0; i < np; i++) {
		if (qbk_qdrant_collection_exists(r->q, plans[i].target,
		    &plans[i].exists, err) != 0)
			return -1;
		plans[i].replaced = plans[i].exists;
		if (plans[i].exists) {
			qbk_buf_addf(&names, "%s'%s'", nexist > 0 ? ", " : "",
			    plans[i].target);
			nexist++;
		}
	}
	if (nexist > 0 && !r->o->force) {
		qbk_err_set(err, QBK_E_USAGE, "collection%s %s exist%s on "
		    "'%s': refusing to overwrite", nexist == 1 ? "" : "s",
		    names.buf, nexist == 1 ? "s" : "", r->url);
		qbk_err_hint(err, "restore beside it with --as NEWNAME, or "
		    "replace it with --force (a safety backup is taken "
		    "first)");
		qbk_buf_release(&names);
		return -1;
	}
	qbk_buf_release(&names);
	return 0;
}

int
qbk_restore_run(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_manifest *m, const struct qbk_restore_opts *o,
    struct qbk_restore_report *rep, struct qbk_err *err)
{
	struct run r;
	struct plan *plans = NULL;
	struct member_names mn;
	size_t np = 0, i, k;
	int rc = -1;

	memcpy(rep->backup_id, m->backup_id, sizeof(rep->backup_id));
	memset(&r, 0, sizeof(r));
	r.repo = repo;
	r.q = q;
	r.cq = o->cleanup != NULL ? o->cleanup : q;
	r.m = m;
	r.o = o;
	r.rep = rep;
	r.url = qbk_qdrant_url(q);
	qbk_buf_init(&r.inactive);
	pthread_mutex_init(&r.mu, NULL);
	if (qbk_restore_make_plans(m, o, &plans, &np, &mn, err) != 0 ||
	    qbk_restore_check_target(&r, plans, np, err) != 0 ||
	    interrupted(o, err) != 0)
		goto out;
	for (i = 0; i < np; i++)
		for (k = 0; k < m->n_missing; k++)
			if (strcmp(m->missing[k].collection, plans[i].name) ==
			    0 && (!o->one_shard ||
			    m->missing[k].shard_id == (int64_t)o->shard))
				qbk_restore_warning(rep,
				    "backup '%s' has no data of shard "
				    "%lld of collection '%s' (%s): it stays "
				    "empty",
				    m->backup_id,
				    (long long)m->missing[k].shard_id,
				    plans[i].name, m->missing[k].reason);
	if (o->force && !o->one_shard &&
	    qbk_restore_safety_backup(&r, plans, np, err) != 0)
		goto out;
	for (i = 0; i < np; i++) {
		if (plans[i].mc == NULL)
			continue;
		if (interrupted(o, err) != 0 ||
		    restore_collection(&r, &plans[i], err) != 0)
			goto out;
	}
	for (k = 0; k < m->n_snapshots; k++) {
		for (i = 0; i < np; i++)
			if (plans[i].mc == NULL && !plans[i].done)
				break;
		if (i == np)
			break;
		/* Full members replace in place: Qdrant checks that they
		 * fit an existing collection. */
		if (restore_full(&r, m->snapshots[k], plans, np, err) != 0)
			goto out;
	}
	if (!o->no_aliases && !o->one_shard &&
	    restore_aliases(&r, plans, np, err) != 0)
		goto out;
	if (r.inactive.len > 0) {
		/* The data is in; the cluster is not whole yet. */
		qbk_err_set(err, QBK_E_QDRANT, "%s", r.inactive.buf);
		qbk_err_hint(err, "the restored data is on the Active "
		    "replicas; bring the nodes of the others back (Qdrant "
		    "re-syncs them) and check with qbk-verify --live, or allow "
		    "more time with [qdrant] replica_timeout; "
		    "--allow-inactive-replicas makes this a warning");
		goto out;
	}
	rc = 0;
out:
	qbk_buf_release(&r.inactive);
	qbk_cluster_free(r.cl);
	pthread_mutex_destroy(&r.mu);
	if (rc != 0 && rep->safety_backup_id[0] != '\0' &&
	    err->hint[0] == '\0')
		qbk_err_hint(err, "the collections as they were before are in "
		    "safety backup %s", rep->safety_backup_id);
	qbk_restore_plans_free(plans, np);
	qbk_restore_member_names_release(&mn);
	return rc;
}

/* ---- writing snapshot files ------------------------------------------ */

struct file_out {
	qbk_restore_write_fn *write;
	void *cookie;
	struct qbk_fs_atomic *a;
	int fd;			/* a device or pipe written in place, or -1 */
	struct source src;	/* progress */
};

static int
fd_write_all(int fd, const void *data, size_t len, const char *path,
    struct qbk_err *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return qbk_err_sys(err, QBK_E_IO, "cannot write '%s'",
			    path);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A target that exists and is not a regular file (/dev/null, a named
 * pipe, a tape) is written in place: replacing it with a temporary file
 * renamed over it would destroy it. */
static int
open_special(const char *path, int *fd, struct qbk_err *err)
{
	struct stat st;

	*fd = -1;
	if (stat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
		return 0;
	if ((*fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return qbk_err_sys(err, QBK_E_IO, "cannot open '%s'", path);
	return 1;
}

static int
file_write(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	struct file_out *f = cookie;

	if (f->write != NULL) {
		if (f->write(f->cookie, data, len, err) != 0)
			return -1;
	} else if (f->fd >= 0) {
		if (fd_write_all(f->fd, data, len, f->src.target, err) != 0)
			return -1;
	} else if (qbk_fs_atomic_write(f->a, data, len, err) != 0)
		return -1;
	qbk_restore_source_hash(&f->src, data, len);
	f->src.sent += len;
	return qbk_restore_source_tick(&f->src, err);
}

/* One thing to write: a snapshot, or a member of a full snapshot. */
struct pick {
	const char *coll;	/* for messages; may be NULL */
	const struct qbk_manifest_snapshot *s;
	int member;		/* s is a full snapshot; write member coll */
	const char *name;	/* file name */
	uint64_t size;
};

static int
is_dir(const char *path)
{
	struct stat st;

	return path != NULL && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A safe file name for ${name}: no folders, no dot files. */
static void
safe_name(const char *name, const char *fallback, struct qbk_buf *out)
{
	const char *p;

	qbk_buf_reset(out);
	if (name == NULL || name[0] == '\0' || name[0] == '.' ||
	    strlen(name) > QBK_FS_NAME_MAX)
		name = fallback;
	for (p = name; *p != '\0'; p++)
		qbk_buf_addch(out, *p == '/' || *p == '\\' ? '_' : *p);
}

/* Write the data of pick ${pk} to ${f} (open). */
static int
write_pick(struct qbk_repo *repo, const struct qbk_manifest *m,
    const struct qbk_restore_opts *o, const struct pick *pk,
    struct file_out *f, struct qbk_err *err)
{
	struct qbk_extract_opts eo = QBK_EXTRACT_OPTS_INIT;
	struct tar t;
	struct tar_member mb;
	const void *data;
	size_t len;
	int rc = -1, n;

	eo.workers = o->workers;
	eo.backup_id = m->backup_id;
	eo.collection = pk->coll;
	eo.cancel = o->cancel;
	if (!pk->member)
		return qbk_extract_run(repo, pk->s, file_write, f, &eo, err);
	memset(&t, 0, sizeof(t));
	t.paxsize = -1;
	eo.collection = NULL;
	if (qbk_extract_open(repo, pk->s, &eo, &t.x, err) != 0)
		return -1;
	while ((n = qbk_restore_tar_next(&t, &mb, err)) > 0) {
		char *c;
		int hit;

		if (mb.type != '0' ||
		    (c = qbk_restore_member_collection(mb.path)) == NULL)
			continue;
		hit = strcmp(c, pk->coll) == 0;
		free(c);
		if (!hit)
			continue;
		while (t.left > 0) {
			if (qbk_extract_next(t.x, &data, &len, err) < 0)
				goto out;
			if (len == 0)
				break;
			if (len > t.left) {
				/* The chunk runs past the member: take the
				 * member's part; the rest is not needed. */
				len = (size_t)t.left;
			}
			if (file_write(f, data, len, err) != 0)
				goto out;
			t.left -= len;
		}
		if (t.left > 0) {
			qbk_err_set(err, QBK_E_INTEGRITY, "the archive ends "
			    "inside '%s'", mb.path);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (n == 0)
		qbk_err_set(err, QBK_E_INTEGRITY, "the full storage snapshot "
		    "of backup '%s' holds no snapshot of collection '%s'",
		    m->backup_id, pk->coll);
out:
	qbk_restore_tar_release(&t);
	qbk_extract_close(t.x);
	return rc;
}

static int
pick_all(const struct qbk_manifest *m, const struct qbk_restore_opts *o,
    struct pick **out, size_t *np, struct member_names *mn,
    struct qbk_err *err)
{
	struct plan *plans = NULL;
	struct pick *v = NULL;
	size_t n = 0, nplans = 0, i, k;

	*out = NULL;
	*np = 0;
	memset(mn, 0, sizeof(*mn));
	qbk_buf_init(&mn->list);
	if (o->ncollections == 0 && m->kind == QBK_MANIFEST_KIND_FULL_STORAGE) {
		for (i = 0; i < m->n_snapshots; i++) {
			v = qbk_xrealloc(v, (n + 1) * sizeof(*v));
			memset(&v[n], 0, sizeof(*v));
			v[n].s = m->snapshots[i];
			v[n].name = m->snapshots[i]->name;
			v[n++].size = m->snapshots[i]->size;
		}
		*out = v;
		*np = n;
		return 0;
	}
	if (qbk_restore_make_plans(m, o, &plans, &nplans, mn, err) != 0)
		return -1;
	for (i = 0; i < nplans; i++) {
		const struct qbk_manifest_collection *mc = plans[i].mc;

		if (mc == NULL) {
			for (k = 0; k < m->n_snapshots; k++) {
				struct member_find f = { plans[i].name, 0, 0,
				    NULL };

				qbk_restore_full_members(m->snapshots[k],
				    qbk_restore_find_member, &f);
				if (f.found == 0)
					continue;
				v = qbk_xrealloc(v, (n + 1) * sizeof(*v));
				memset(&v[n], 0, sizeof(*v));
				v[n].coll = plans[i].name;
				v[n].s = m->snapshots[k];
				v[n].member = 1;
				v[n].name = f.path;
				v[n++].size = f.size;
				break;
			}
			continue;
		}
		for (k = 0; k < mc->n_snapshots; k++) {
			v = qbk_xrealloc(v, (n + 1) * sizeof(*v));
			memset(&v[n], 0, sizeof(*v));
			v[n].coll = mc->name;
			v[n].s = mc->snapshots[k];
			v[n].name = mc->snapshots[k]->name;
			v[n++].size = mc->snapshots[k]->size;
		}
	}
	qbk_restore_plans_free(plans, nplans);
	*out = v;
	*np = n;
	return 0;
}

/* Where a pick goes: the folder and name of the temporary file, the
 * whole path, and a scratch buffer. */
struct target {
	struct qbk_buf *dir, *name, *full, *fallback;
};

/* The target of pick ${pk} (number ${i}) of ${m} for --to-file ${path}:
 * into ${path} if ${folder}, standard output if ${out}. */
static int
target_path(const struct qbk_manifest *m, const char *path, int folder,
    int out, const struct pick *pk, size_t i, struct target *t,
    struct qbk_err *err)
{
	const char *slash;

	qbk_buf_reset(t->full);
	if (out)
		qbk_buf_addstr(t->full, "-");
	else if (folder) {
		qbk_buf_reset(t->fallback);
		qbk_buf_addf(t->fallback, "%s-%s-%zu.snapshot",
		    pk->coll != NULL ? pk->coll : "full", m->backup_id, i);
		safe_name(pk->name, t->fallback->buf, t->name);
		qbk_buf_reset(t->dir);
		qbk_buf_addstr(t->dir, path);
		qbk_buf_addf(t->full, "%s/%s", path, t->name->buf);
	} else {
		slash = strrchr(path, '/');
		qbk_buf_reset(t->dir);
		if (slash == NULL)
			qbk_buf_addstr(t->dir, ".");
		else
			qbk_buf_add(t->dir, path, slash == path ? 1 :
			    (size_t)(slash - path));
		qbk_buf_reset(t->name);
		qbk_buf_addstr(t->name, slash != NULL ? slash + 1 : path);
		qbk_buf_addstr(t->full, path);
		if (t->name->len == 0)
			return qbk_err_set(err, QBK_E_USAGE, "'%s' is not a "
			    "file name", path);
	}
	return 0;
}

/* A file (or a link that leads to none, or to a file) at ${path} would be
 * replaced: refused without force.  A device or pipe is written in place,
 * and a folder is written into. */
static int
refuse_existing(const char *path, struct qbk_err *err)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return 0;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return 0;
	return qbk_err_set(err, QBK_E_USAGE, "'%s' exists: give --force to "
	    "replace it", path);
}

int
qbk_restore_file(struct qbk_repo *repo, const struct qbk_manifest *m,
    const struct qbk_restore_opts *o, const char *path,
    qbk_restore_write_fn *write, void *cookie,
    struct qbk_restore_report *rep, struct qbk_err *err)
{
	struct pick *picks = NULL;
	struct member_names mn;
	struct qbk_buf dir = QBK_BUF_INIT, name = QBK_BUF_INIT,
	    full = QBK_BUF_INIT, fallback = QBK_BUF_INIT;
	struct target t = { &dir, &name, &full, &fallback };
	size_t n = 0, i;
	int folder = write == NULL && is_dir(path), rc = -1;

	memcpy(rep->backup_id, m->backup_id, sizeof(rep->backup_id));
	if (o->as != NULL)
		return qbk_err_set(err, QBK_E_USAGE, "'--as' names a "
		    "collection in Qdrant, not a file");
	if (pick_all(m, o, &picks, &n, &mn, err) != 0) {
		qbk_restore_member_names_release(&mn);
		return -1;
	}
	if (n == 0) {
		qbk_err_set(err, QBK_E_USAGE, "backup '%s' holds no snapshot "
		    "to write", m->backup_id);
		goto out;
	}
	if (n > 1 && !folder) {
		qbk_err_set(err, QBK_E_USAGE, "backup '%s' holds %zu snapshots "
		    "for this choice, and a file takes one", m->backup_id, n);
		qbk_err_hint(err, "choose one collection with --collection, or "
		    "give an existing folder to write them all into");
		goto out;
	}
	/* Refuse to replace a file before anything is written. */
	for (i = 0; write == NULL && !o->force && i < n; i++)
		if (target_path(m, path, folder, 0, &picks[i], i, &t,
		    err) != 0 || refuse_existing(full.buf, err) != 0)
			goto out;
	for (i = 0; i < n; i++) {
		struct file_out f;
		struct qbk_restore_item *it;
		char sha[2 * 32 + 1];
		int64_t t0 = qbk_clock_ms();

		memset(&f, 0, sizeof(f));
		f.fd = -1;
		f.write = write;
		f.cookie = cookie;
		f.src.o = o;
		f.src.collection = picks[i].coll != NULL ? picks[i].coll : "";
		f.src.total = picks[i].size;
		if (target_path(m, path, folder, write != NULL, &picks[i], i,
		    &t, err) != 0)
			goto out;
		f.src.target = full.buf;
		if (write == NULL && !folder &&
		    open_special(full.buf, &f.fd, err) < 0)
			goto out;
		if (write == NULL && f.fd < 0 && qbk_fs_atomic_open(dir.buf,
		    name.buf, 0, &f.a, err) != 0)
			goto out;
		qbk_restore_progress(o, QBK_RESTORE_EV_START, f.src.collection,
		    full.buf, 0, picks[i].size, 0);
		if (picks[i].member)
			qbk_restore_source_hash_start(&f.src);
		if (write_pick(repo, m, o, &picks[i], &f, err) != 0) {
			qbk_restore_source_hash_end(&f.src, sha);
			qbk_fs_atomic_abort(f.a);
			if (f.fd >= 0)
				close(f.fd);
			goto out;
		}
		qbk_restore_source_hash_end(&f.src, sha);
		if (f.a != NULL && qbk_fs_atomic_commit(f.a, err) < 0)
			goto out;
		if (f.fd >= 0 && close(f.fd) != 0) {
			qbk_err_sys(err, QBK_E_IO, "cannot write '%s'",
			    full.buf);
			goto out;
		}
		it = qbk_restore_add_item(
		    rep, picks[i].coll != NULL ? picks[i].coll : "", full.buf);
		qbk_restore_item_add_snap(it, picks[i].name,
		    picks[i].member ? -1 : picks[i].s->shard_id, f.src.sent,
		    picks[i].member ? sha : picks[i].s->sha256);
		it->duration_ms = (uint64_t)(qbk_clock_ms() - t0);
		qbk_restore_progress(o, QBK_RESTORE_EV_DONE, f.src.collection,
		    full.buf, f.src.sent, picks[i].size, it->duration_ms);
	}
	rc = 0;
out:
	free(picks);
	qbk_restore_member_names_release(&mn);
	qbk_buf_release(&dir);
	qbk_buf_release(&name);
	qbk_buf_release(&full);
	qbk_buf_release(&fallback);
	return rc;
}
