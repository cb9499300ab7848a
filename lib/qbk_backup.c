#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "qbk.h"
#include "qbk_buf.h"
#include "qbk_err.h"
#include "qbk_http.h"
#include "qbk_ingest.h"
#include "qbk_json.h"
#include "qbk_lock.h"
#include "qbk_log.h"
#include "qbk_manifest.h"
#include "qbk_points.h"
#include "qbk_qdrant.h"
#include "qbk_repo.h"
#include "qbk_backup.h"

/* One snapshot stream on its way into the repository. */
struct stream {
	struct qbk_ingest *in;
	const struct qbk_backup_opts *opts;
	const char *collection;
	uint64_t bytes;
	uint64_t reported;
	int64_t total;
};

static void
progress(const struct qbk_backup_opts *o, enum qbk_backup_event ev,
    const char *coll, uint64_t bytes, int64_t total, uint64_t bytes_new,
    uint64_t ms)
{
	struct qbk_backup_progress p;

	if (o->progress == NULL)
		return;
	p.event = ev;
	p.collection = coll;
	p.bytes = bytes;
	p.total = total;
	p.bytes_new = bytes_new;
	p.duration_ms = ms;
	o->progress(o->progress_cookie, &p);
}

static int
on_data(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	struct stream *s = cookie;

	if (qbk_ingest_write(s->in, data, len, err) != 0)
		return -1;
	s->bytes += len;
	if (s->bytes - s->reported >= ((uint64_t)4 << 20)) {
		s->reported = s->bytes;
		/* Keep our lock record fresh on long backups (the lock module
		 * rewrites it only every few minutes). */
		if (s->opts->lock != NULL &&
		    qbk_lock_refresh(s->opts->lock, 0, err) != 0)
			return -1;
		progress(s->opts, QBK_BACKUP_EV_BYTES, s->collection, s->bytes,
		    s->total, 0, 0);
	}
	return 0;
}

static enum qbk_manifest_entrytype
entry_type(char t)
{
	switch (t) {
	case 'f':
	case 's':
		return QBK_MANIFEST_ENTRY_FILE;
	case 'd':
		return QBK_MANIFEST_ENTRY_DIR;
	default:
		return QBK_MANIFEST_ENTRY_OTHER;
	}
}

static void
record(struct qbk_manifest_snapshot *ms, const struct qbk_ingest_result *res,
    int64_t start, int64_t t0)
{
	size_t i;

	for (i = 0; i < res->nentries; i++)
		qbk_manifest_snapshot_add_entry(ms, res->entries[i].path,
		    entry_type(res->entries[i].type), res->entries[i].size);
	for (i = 0; i < res->nchunks; i++)
		qbk_manifest_snapshot_add_chunk(ms, res->ids[i], res->lens[i]);
	memcpy(ms->sha256, res->sha256_hex, sizeof(ms->sha256));
	ms->start = start;
	ms->end = (int64_t)time(NULL);
	if (ms->end < ms->start)
		ms->end = ms->start;
	ms->duration_ms = (uint64_t)(qbk_clock_ms() - t0);
	ms->bytes = res->bytes;
	ms->bytes_new = res->bytes_new;
	ms->chunks_new = res->chunks_new;
	if (res->chunks_healed > 0)
		qbk_warn("%llu damaged chunks of the repository were stored "
		    "again", (unsigned long long)res->chunks_healed);
}

/* Stream one snapshot (shard >= 0: a shard stream; else the stored
 * snapshot ${name} of ${coll}, or of the storage if ${coll} is NULL) into
 * the repository and describe it in ${ms}. */
static int
stream_one(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, const char *coll, long shard,
    const char *name, int64_t total, enum qbk_ingest_layout layout,
    struct qbk_manifest_snapshot *ms, struct qbk_err *err)
{
	struct qbk_ingest_opts io = QBK_INGEST_OPTS_INIT;
	struct qbk_ingest_result res;
	struct qbk_http_resp resp;
	struct stream s;
	int64_t start = (int64_t)time(NULL), t0 = qbk_clock_ms();
	int rc;

	memset(&s, 0, sizeof(s));
	s.opts = o;
	s.collection = coll != NULL ? coll : "(full storage)";
	s.total = total;
	io.workers = o->workers;
	io.layout = layout;
	io.verify_existing = o->full;
	io.cancel = o->cancel;
	if (qbk_ingest_start(repo, &io, &s.in, err) != 0)
		return -1;
	qbk_http_resp_init(&resp);
	if (shard >= 0)
		rc = qbk_qdrant_shard_snapshot_stream(q, coll, shard, on_data,
		    &s, &resp, err);
	else
		rc = qbk_qdrant_snapshot_download(q, coll, QBK_QDRANT_NO_SHARD,
		    name, on_data, &s, &resp, err);
	if (rc != 0) {
		/* A failing write callback leaves the pipeline's own error
		 * (damaged tar, full disk) in err already. */
		qbk_ingest_abort(s.in);
		qbk_http_resp_release(&resp);
		return -1;
	}
	if (shard >= 0) {
		char *n = qbk_qdrant_disposition_name(resp.content_disposition);

		if (n != NULL) {
			qbk_manifest_strset(&ms->name, n);
			free(n);
		}
	}
	qbk_http_resp_release(&resp);
	if (qbk_ingest_finish(s.in, &res, err) != 0) {
		qbk_err_prefix(err, "snapshot of '%s'", s.collection);
		return -1;
	}
	record(ms, &res, start, t0);
	qbk_ingest_result_release(&res);
	return 0;
}

static int
check_checksum(const struct qbk_manifest_snapshot *ms,
    const struct qbk_qdrant_snapshot *desc, struct qbk_err *err)
{
	if (desc->checksum[0] != '\0' &&
	    strcmp(desc->checksum, ms->sha256) != 0) {
		qbk_err_set(err, QBK_E_INTEGRITY, "snapshot '%s' does not match "
		    "its checksum: Qdrant reported %s, qbk received %s",
		    desc->name, desc->checksum, ms->sha256);
		return -1;
	}
	if (desc->size >= 0 && (uint64_t)desc->size != ms->size) {
		qbk_err_set(err, QBK_E_INTEGRITY, "snapshot '%s' is %llu bytes "
		    "but Qdrant reported %lld", desc->name,
		    (unsigned long long)ms->size, (long long)desc->size);
		return -1;
	}
	return 0;
}

/* Create a stored snapshot (collection, or full storage when ${coll} is
 * NULL), stream it in, and delete it from the node whatever happened. */
static int
stored_snapshot(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, const char *coll,
    struct qbk_manifest_snapshot *ms, struct qbk_err *err)
{
	struct qbk_qdrant_snapshot desc;
	struct qbk_err derr = QBK_ERR_INIT;
	int rc;

	memset(&desc, 0, sizeof(desc));
	if (qbk_qdrant_snapshot_create(q, coll, QBK_QDRANT_NO_SHARD, &desc,
	    err) != 0)
		return -1;
	qbk_manifest_strset(&ms->name, desc.name);
	rc = stream_one(repo, q, o, coll, -1, desc.name, desc.size,
	    coll != NULL ? QBK_INGEST_COLLECTION : QBK_INGEST_FULL, ms, err);
	if (rc == 0)
		rc = check_checksum(ms, &desc, err);
	if (qbk_qdrant_snapshot_delete(q, coll, QBK_QDRANT_NO_SHARD, desc.name,
	    &derr) != 0)
		qbk_warn("cannot delete snapshot '%s' from the node: %s",
		    desc.name, derr.msg);
	qbk_qdrant_snapshot_release(&desc);
	return rc;
}

static int
backup_collection(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, struct qbk_manifest *m,
    const char *name, const struct qbk_qdrant_alias *aliases,
    size_t naliases, enum qbk_backup_mode *mode, struct qbk_err *err)
{
	struct qbk_qdrant_collection *info = NULL;
	struct qbk_qdrant_coll_cluster *cc = NULL;
	struct qbk_manifest_collection *mc;
	json_t *sample = NULL, *p;
	uint64_t before_new = m->totals.bytes_new;
	int64_t t0 = qbk_clock_ms();
	size_t i, k;
	int indexed, whole = 0, rc = -1;

	if (qbk_qdrant_collection_info(q, name, &info, err) != 0 ||
	    qbk_qdrant_collection_cluster(q, name, &cc, err) != 0)
		goto out;
	mc = qbk_manifest_add_collection(m, name);
	for (i = 0; i < naliases; i++)
		if (strcmp(aliases[i].collection, name) == 0)
			qbk_manifest_collection_add_alias(mc,
			    aliases[i].alias);
	mc->points_count = info->points_count > 0 ?
	    (uint64_t)info->points_count : 0;
	qbk_manifest_collection_set_config(mc, info->config);
	qbk_manifest_collection_set_vectors(mc, info->vectors);
	if (qbk_points_sample(q, name, o->sample_points, &sample, err) != 0)
		goto out;
	json_array_foreach(sample, k, p) {
		char id[64], hash[65];

		if (qbk_points_id_text(json_object_get(p, "id"), id,
		    sizeof(id)) == 0 && qbk_points_hash(p, hash) == 0)
			qbk_manifest_collection_add_sample(mc, id, hash);
	}
	progress(o, QBK_BACKUP_EV_START, name, 0, -1, 0, 0);

	/* Shard snapshots carry no payload index definitions (a collection
	 * snapshot has payload_index.json), so a collection with payload
	 * indexes is backed up whole unless streams were asked for. */
	indexed = json_object_size(json_object_get(info->info,
	    "payload_schema")) > 0;
	if (indexed && o->mode == QBK_BACKUP_MODE_STREAM)
		qbk_warn("collection '%s' has payload indexes, which shard "
		    "streams do not record: a restore will not re-create them",
		    name);
	if (indexed && o->mode == QBK_BACKUP_MODE_AUTO)
		whole = 1;
	if (*mode != QBK_BACKUP_MODE_SNAPSHOT && !whole) {
		uint32_t shard;

		for (shard = 0; shard < info->shard_number; shard++) {
			struct qbk_manifest_snapshot *ms =
			    qbk_manifest_add_snapshot(m, mc,
			    QBK_MANIFEST_SNAP_SHARD);

			ms->shard_id = shard;
			ms->peer_id = cc->peer_id;
			qbk_manifest_strset(&ms->node_url, qbk_qdrant_url(q));
			if (stream_one(repo, q, o, name, (long)shard, NULL, -1,
			    QBK_INGEST_SHARD, ms, err) == 0) {
				if (ms->name == NULL) {
					char n[128];

					snprintf(n, sizeof(n), "%s-shard-%u",
					    name, shard);
					qbk_manifest_strset(&ms->name, n);
				}
				continue;
			}
			/* A server without the streaming endpoint answers
			 * 404 for the route: use collection snapshots. */
			if (*mode == QBK_BACKUP_MODE_AUTO && shard == 0 &&
			    err->http_status == 404) {
				qbk_detail("no shard snapshot streaming on "
				    "this server: using collection "
				    "snapshots");
				*mode = QBK_BACKUP_MODE_SNAPSHOT;
				qbk_manifest_collection_drop_snapshots(mc);
				break;
			}
			goto out;
		}
		if (*mode == QBK_BACKUP_MODE_AUTO)
			*mode = QBK_BACKUP_MODE_STREAM;
	}
	if ((*mode == QBK_BACKUP_MODE_SNAPSHOT || whole) &&
	    mc->n_snapshots == 0) {
		struct qbk_manifest_snapshot *ms = qbk_manifest_add_snapshot(m,
		    mc, QBK_MANIFEST_SNAP_COLLECTION);

		ms->peer_id = cc->peer_id;
		qbk_manifest_strset(&ms->node_url, qbk_qdrant_url(q));
		if (stored_snapshot(repo, q, o, name, ms, err) != 0)
			goto out;
	}
	qbk_manifest_compute_totals(m);
	progress(o, QBK_BACKUP_EV_DONE, name, m->totals.bytes, -1,
	    m->totals.bytes_new - before_new, (uint64_t)(qbk_clock_ms() - t0));
	rc = 0;
out:
	json_decref(sample);
	qbk_qdrant_coll_cluster_free(cc);
	qbk_qdrant_collection_free(info);
	return rc;
}

static int
contains(char **v, const char *s)
{
	for (; v != NULL && *v != NULL; v++)
		if (strcmp(*v, s) == 0)
			return 1;
	return 0;
}

static int
wanted(const struct qbk_backup_opts *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->ncollections; i++)
		if (strcmp(o->collections[i], name) == 0)
			return 1;
	return 0;
}

/* A backup id that sorts after every existing one, so that "the newest
 * backup" is never ambiguous: ids of the same second differ only in their
 * random suffix, so draw until it is larger, or move to the next second. */
static int
make_backup_id(struct qbk_repo *repo, int64_t *t, char *id,
    struct qbk_err *err)
{
	char **ids = NULL;
	size_t n = 0;
	int tries;

	if (qbk_repo_backup_ids(repo, &ids, &n, err) != 0)
		return -1;
	for (tries = 0;; tries++) {
		if (qbk_manifest_make_id(*t, id) != 0) {
			qbk_repo_free_ids(ids, n);
			return qbk_err_set(err, QBK_E_INTERNAL,
			    "cannot make a backup id");
		}
		if (n == 0 || strcmp(id, ids[n - 1]) > 0)
			break;
		if (tries >= 64) {
			int64_t last;

			if (qbk_manifest_id_time(ids[n - 1], &last) == 0 &&
			    last >= *t)
				*t = last + 1;
			tries = 0;
		}
	}
	qbk_repo_free_ids(ids, n);
	return 0;
}

static int
add_tags(struct qbk_manifest *m, const struct qbk_backup_opts *o,
    struct qbk_err *err)
{
	size_t i;

	for (i = 0; i < o->ntags; i++) {
		const char *eq = strchr(o->tags[i], '=');
		char key[128];

		if (eq == NULL || eq == o->tags[i] ||
		    (size_t)(eq - o->tags[i]) >= sizeof(key))
			return qbk_err_set(err, QBK_E_USAGE, "bad tag '%s': "
			    "expected KEY=VALUE", o->tags[i]);
		memcpy(key, o->tags[i], (size_t)(eq - o->tags[i]));
		key[eq - o->tags[i]] = '\0';
		qbk_manifest_add_tag(m, key, eq + 1);
	}
	return 0;
}

int
qbk_backup_run(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, struct qbk_manifest **out,
    struct qbk_err *err)
{
	struct qbk_qdrant_version ver;
	struct qbk_qdrant_cluster *cl = NULL;
	struct qbk_qdrant_alias *aliases = NULL;
	struct qbk_manifest *m = NULL;
	enum qbk_backup_mode mode = o->mode;
	char **names = NULL, host[256];
	size_t naliases = 0, i;
	int64_t t = o->now != 0 ? o->now : qbk_now();

	*out = NULL;
	if (qbk_qdrant_version(q, &ver, err) != 0 ||
	    qbk_qdrant_cluster(q, &cl, err) != 0)
		goto err;
	if (cl->enabled) {
		qbk_err_set(err, QBK_E_USAGE, "'%s' is a node of a distributed "
		    "deployment: a snapshot from one node would miss the "
		    "shards held by the others", qbk_qdrant_url(q));
		qbk_err_hint(err, "cluster backups are not supported by this "
		    "version of qbk");
		goto err;
	}
	if (qbk_qdrant_collections(q, &names, err) != 0 ||
	    qbk_qdrant_aliases(q, NULL, &aliases, &naliases, err) != 0)
		goto err;
	for (i = 0; i < o->ncollections; i++)
		if (!contains(names, o->collections[i])) {
			qbk_err_set(err, QBK_E_USAGE, "no collection '%s' on "
			    "'%s'", o->collections[i], qbk_qdrant_url(q));
			goto err;
		}
	if (o->zstd_level >= 0)
		qbk_repo_set_compression(repo, o->zstd_level);
	if (qbk_repo_load_index(repo, err) != 0)
		goto err;

	m = qbk_manifest_new();
	if (make_backup_id(repo, &t, m->backup_id, err) != 0)
		goto err;
	m->type = o->full ? QBK_MANIFEST_TYPE_FULL :
	    QBK_MANIFEST_TYPE_INCREMENTAL;
	m->kind = o->full_storage ? QBK_MANIFEST_KIND_FULL_STORAGE :
	    QBK_MANIFEST_KIND_COLLECTIONS;
	m->start = t;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	qbk_manifest_strset(&m->host, host);
	qbk_manifest_strset(&m->tool_version, "qbk " QBK_VERSION);
	qbk_manifest_add_qdrant_version(m, ver.version);
	qbk_manifest_add_source(m, qbk_qdrant_url(q));
	if (add_tags(m, o, err) != 0)
		goto err;
	for (i = 0; i < naliases; i++)
		qbk_manifest_add_alias(m, aliases[i].alias,
		    aliases[i].collection);

	if (o->full_storage) {
		struct qbk_manifest_snapshot *ms = qbk_manifest_add_snapshot(m,
		    NULL, QBK_MANIFEST_SNAP_FULL);

		qbk_manifest_strset(&ms->node_url, qbk_qdrant_url(q));
		progress(o, QBK_BACKUP_EV_START, "(full storage)", 0, -1, 0, 0);
		if (stored_snapshot(repo, q, o, NULL, ms, err) != 0)
			goto err;
		qbk_manifest_compute_totals(m);
		progress(o, QBK_BACKUP_EV_DONE, "(full storage)", ms->bytes,
		    -1, ms->bytes_new, ms->duration_ms);
	} else {
		for (i = 0; names[i] != NULL; i++) {
			if (o->ncollections > 0 && !wanted(o, names[i]))
				continue;
			if (o->cancel != NULL && *o->cancel != 0) {
				qbk_err_set(err, QBK_E_INTERRUPTED,
				    "interrupted");
				goto err;
			}
			if (backup_collection(repo, q, o, m, names[i],
			    aliases, naliases, &mode, err) != 0) {
				qbk_err_prefix(err, "cannot back up "
				    "collection '%s'", names[i]);
				goto err;
			}
		}
	}
	m->end = qbk_now();
	if (m->end < m->start)
		m->end = m->start;
	qbk_manifest_compute_totals(m);
	if (qbk_repo_manifest_write(repo, m, err) != 0) {
		qbk_err_prefix(err, "cannot write the manifest");
		goto err;
	}
	qbk_qdrant_strv_free(names);
	qbk_qdrant_aliases_free(aliases, naliases);
	qbk_qdrant_cluster_free(cl);
	*out = m;
	return 0;
err:
	qbk_manifest_free(m);
	qbk_qdrant_strv_free(names);
	qbk_qdrant_aliases_free(aliases, naliases);
	qbk_qdrant_cluster_free(cl);
	return -1;
}

void
qbk_backup_metrics(const struct qbk_manifest *m, int ok, const char *errtext,
    int64_t now, struct qbk_buf *out)
{
	size_t i;

	(void)errtext;
	qbk_buf_addstr(out, "# HELP qbk_backup_last_run_timestamp_seconds "
	    "End of the last qbk-backup run.\n"
	    "# TYPE qbk_backup_last_run_timestamp_seconds gauge\n");
	qbk_buf_addf(out, "qbk_backup_last_run_timestamp_seconds %lld\n",
	    (long long)now);
	qbk_buf_addstr(out, "# HELP qbk_backup_last_run_success "
	    "1 if the last qbk-backup run succeeded.\n"
	    "# TYPE qbk_backup_last_run_success gauge\n");
	qbk_buf_addf(out, "qbk_backup_last_run_success %d\n", ok ? 1 : 0);
	if (m == NULL)
		return;
	qbk_buf_addstr(out, "# HELP qbk_backup_last_success_timestamp_seconds "
	    "Start of the last successful backup.\n"
	    "# TYPE qbk_backup_last_success_timestamp_seconds gauge\n");
	qbk_buf_addf(out, "qbk_backup_last_success_timestamp_seconds %lld\n",
	    (long long)m->start);
	qbk_buf_addstr(out, "# HELP qbk_backup_duration_seconds "
	    "Duration of the last successful backup.\n"
	    "# TYPE qbk_backup_duration_seconds gauge\n");
	qbk_buf_addf(out, "qbk_backup_duration_seconds %lld\n",
	    (long long)(m->end - m->start));
	qbk_buf_addstr(out, "# HELP qbk_backup_bytes Snapshot bytes read by "
	    "the last backup, per collection.\n"
	    "# TYPE qbk_backup_bytes gauge\n");
	for (i = 0; i < m->n_collections; i++) {
		const struct qbk_manifest_collection *c = m->collections[i];
		uint64_t bytes = 0, bnew = 0;
		size_t k;

		for (k = 0; k < c->n_snapshots; k++) {
			bytes += c->snapshots[k]->bytes;
			bnew += c->snapshots[k]->bytes_new;
		}
		qbk_buf_addf(out, "qbk_backup_bytes{collection=\"%s\"} %llu\n",
		    c->name, (unsigned long long)bytes);
		qbk_buf_addf(out, "qbk_backup_new_bytes{collection=\"%s\"} "
		    "%llu\n", c->name, (unsigned long long)bnew);
		qbk_buf_addf(out, "qbk_backup_points{collection=\"%s\"} %llu\n",
		    c->name, (unsigned long long)c->points_count);
	}
	qbk_buf_addstr(out, "# HELP qbk_backup_total_new_bytes Bytes of new "
	    "chunks stored by the last backup.\n"
	    "# TYPE qbk_backup_total_new_bytes gauge\n");
	qbk_buf_addf(out, "qbk_backup_total_new_bytes %llu\n",
	    (unsigned long long)m->totals.bytes_new);
}

void
qbk_backup_report_json(const struct qbk_manifest *m, int ok,
    const struct qbk_err *e, struct qbk_buf *out)
{
	json_t *doc = json_object(), *colls = json_array(), *probs = json_array();
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
				json_array_append_new(snaps, json_pack(
				    "{s:s?, s:I, s:I, s:I, s:s}", "name",
				    s->name, "shard_id", (json_int_t)s->shard_id,
				    "bytes", (json_int_t)s->bytes, "new_bytes",
				    (json_int_t)s->bytes_new, "sha256",
				    s->sha256));
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
	qbk_json_dump(doc, out, 1);
	qbk_buf_addch(out, '\n');
	json_decref(doc);
}
