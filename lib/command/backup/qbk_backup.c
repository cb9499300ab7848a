#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "command/backup/qbk_backup_internal.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_spool.h"
#include "net/qbk_http.h"
#include "qdrant/qbk_points.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_job.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "stream/qbk_ingest.h"
#include "command/qbk_backup.h"

/* One snapshot stream on its way into the repository. */
struct stream {
	struct qbk_ingest *in;
	const struct qbk_backup_opts *opts;
	const char *collection;
	uint64_t bytes;
	uint64_t reported;
	int64_t total;
	pthread_mutex_t *mu;	/* several streams at once: guards the lock
				 * record and the progress callback */
};

void
qbk_backup_report_progress(const struct qbk_backup_opts *o,
    enum qbk_backup_event ev, const char *coll, uint64_t bytes, int64_t total,
    uint64_t bytes_new, uint64_t ms)
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

	/* A stored snapshot has the size Qdrant announced when it made it:
	 * a body that goes on past it is refused before it costs storage. */
	if (s->total >= 0 && len > (uint64_t)s->total - s->bytes)
		return qbk_err_set(err, QBK_E_QDRANT, "snapshot of '%s' goes on "
		    "past the %lld bytes Qdrant announced", s->collection,
		    (long long)s->total);
	if (qbk_ingest_write(s->in, data, len, err) != 0)
		return -1;
	s->bytes += len;
	if (s->bytes - s->reported >= ((uint64_t)4 << 20)) {
		int rc = 0;

		s->reported = s->bytes;
		if (s->mu != NULL)
			pthread_mutex_lock(s->mu);
		/* Stop if the lock was lost (its own thread keeps it
		 * fresh). */
		if (qbk_job_check(NULL, s->opts->lock, err) != 0)
			rc = -1;
		else
			qbk_backup_report_progress(s->opts, QBK_BACKUP_EV_BYTES,
			    s->collection, s->bytes, s->total, 0, 0);
		if (s->mu != NULL)
			pthread_mutex_unlock(s->mu);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/*
 * A shard stream goes through a spool (qbk_spool): Qdrant 1.18.2 and later
 * end a shard stream whose client has read nothing for five minutes, and
 * the ingest pipeline waits for the repository (back pressure).  So the
 * stream is read at the network's pace into a local temporary file that
 * holds at most QBK_SPOOL_MAX bytes waiting for the repository; only a
 * repository that falls that far behind makes the reading wait again.
 */
struct spool_stream {
	struct qbk_spool *sp;
};

static int
on_spool(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	struct spool_stream *ss = cookie;

	return qbk_spool_put(ss->sp, data, len, err);
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

/* Stream one snapshot (${name} NULL: a shard stream of ${shard}; else the
 * stored snapshot ${name} of ${shard} of ${coll}, of ${coll} if ${shard} is
 * QBK_QDRANT_NO_SHARD, or of the storage if ${coll} is NULL) into the
 * repository and describe it in ${ms}.  ${mu} (may be NULL) when several
 * streams run at once. */
int
qbk_backup_stream_one(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, const char *coll, long shard,
    const char *name, int64_t total, enum qbk_ingest_layout layout,
    struct qbk_manifest_snapshot *ms, pthread_mutex_t *mu,
    struct qbk_err *err)
{
	struct qbk_ingest_opts io = QBK_INGEST_OPTS_INIT;
	struct qbk_ingest_result res;
	struct qbk_http_resp resp;
	struct stream s;
	struct spool_stream ss;
	int64_t start = (int64_t)time(NULL), t0 = qbk_clock_ms();
	int rc;

	memset(&s, 0, sizeof(s));
	s.opts = o;
	s.collection = coll != NULL ? coll : "(full storage)";
	s.total = total;
	s.mu = mu;
	io.workers = o->workers;
	io.layout = layout;
	io.verify_existing = o->full;
	io.cancel = o->cancel;
	if (qbk_ingest_start(repo, &io, &s.in, err) != 0)
		return -1;
	qbk_http_resp_init(&resp);
	if (name == NULL) {
		/* Through a spool: a slow repository must not stop the
		 * reading, or Qdrant ends the stream (see spool_stream). */
		ss.sp = NULL;
		if (qbk_spool_start(QBK_SPOOL_MAX, on_data, &s, &ss.sp,
		    err) != 0) {
			qbk_ingest_abort(s.in);
			return -1;
		}
		rc = qbk_qdrant_shard_snapshot_stream(q, coll, shard,
		    on_spool, &ss, &resp, err);
		if (rc == 0)
			rc = qbk_spool_finish(ss.sp, err);
		else
			qbk_spool_abort(ss.sp);
	} else
		rc = qbk_qdrant_snapshot_download(q, coll, shard, name,
		    on_data, &s, &resp, err);
	if (rc != 0) {
		/* A failing write callback leaves the pipeline's own error
		 * (damaged tar, full disk) in err already. */
		qbk_ingest_abort(s.in);
		qbk_http_resp_release(&resp);
		return -1;
	}
	if (name == NULL) {
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


/*
 * Did the stream end early?  Qdrant ends a shard stream it cannot finish
 * (an error while it builds the snapshot; a client that read nothing for
 * five minutes) as a clean end of the body: an archive without its end or
 * without the members Qdrant writes last, that qbk_tar and qbk_ingest
 * refuse with QBK_E_SHORT.  Such a stream is worth taking again; a damaged
 * one (QBK_E_INTEGRITY) is not.
 */
int
qbk_backup_cut_short(const struct qbk_err *err)
{
	return err->code == QBK_E_SHORT;
}

int
qbk_backup_check_checksum(const struct qbk_manifest_snapshot *ms,
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
	rc = qbk_backup_stream_one(repo, q, o, coll, QBK_QDRANT_NO_SHARD,
	    desc.name, desc.size, coll != NULL ? QBK_INGEST_COLLECTION :
	    QBK_INGEST_FULL, ms, NULL, err);
	if (rc == 0)
		rc = qbk_backup_check_checksum(ms, &desc, err);
	if (qbk_qdrant_snapshot_delete(q, coll, QBK_QDRANT_NO_SHARD, desc.name,
	    &derr) != 0)
		qbk_warn("cannot delete snapshot '%s' from the node: %s",
		    desc.name, derr.msg);
	qbk_qdrant_snapshot_release(&desc);
	return rc;
}

/* Record collection ${name} in ${m}: its aliases, configuration, vector
 * parameters and points count as ${info} gives them. */
struct qbk_manifest_collection *
qbk_backup_add_collection(struct qbk_manifest *m, const char *name,
    const struct qbk_qdrant_collection *info,
    const struct qbk_qdrant_alias *aliases, size_t naliases)
{
	struct qbk_manifest_collection *mc = qbk_manifest_add_collection(m,
	    name);
	size_t i;

	for (i = 0; i < naliases; i++)
		if (strcmp(aliases[i].collection, name) == 0)
			qbk_manifest_collection_add_alias(mc,
			    aliases[i].alias);
	mc->points_count = info->points_count > 0 ?
	    (uint64_t)info->points_count : 0;
	qbk_manifest_collection_set_config(mc, info->config);
	qbk_manifest_collection_set_vectors(mc, info->vectors);
	return mc;
}

/* Read the points before the snapshot (a random sample and, with
 * --content-hash, the content of every point), for the fingerprint that
 * qbk_backup_record_fingerprint() finishes after it. */
int
qbk_backup_begin_fingerprint(struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, const char *name, struct qbk_points_fp *fp,
    struct qbk_err *err)
{
	/* Its messages name the collection already. */
	return qbk_points_fp_begin(fp, q, name, o->sample_points,
	    o->content_hash, o->cancel, err);
}

/* Read them again after the snapshot and record in ${mc} what did not
 * change meanwhile, which is what the snapshot holds (qbk_points.h). */
int
qbk_backup_record_fingerprint(struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, struct qbk_manifest_collection *mc,
    struct qbk_points_fp *fp, struct qbk_err *err)
{
	size_t i;

	if (qbk_points_fp_end(fp, q, mc->name, o->cancel, err) != 0)
		return -1;
	mc->points_count = fp->count_before;
	if (fp->count_after != fp->count_before) {
		mc->has_count_after = 1;
		mc->points_count_after = fp->count_after;
		qbk_detail("'%s': %llu points before the snapshot, %llu after",
		    mc->name, (unsigned long long)fp->count_before,
		    (unsigned long long)fp->count_after);
	}
	for (i = 0; i < fp->nsamples; i++)
		qbk_manifest_collection_add_sample(mc, fp->samples[i].id,
		    fp->samples[i].hash);
	if (fp->changed > 0)
		qbk_detail("'%s': %zu sampled points changed while it was "
		    "backed up: left out of the sample", mc->name,
		    fp->changed);
	if (!fp->content)
		return 0;
	if (fp->nknown == 0) {
		qbk_warn("every point bucket of '%s' changed while it was "
		    "backed up: no content hash recorded", mc->name);
		return 0;
	}
	if (fp->nknown < QBK_POINTS_BUCKETS)
		qbk_info("'%s' changed while it was backed up: content hash "
		    "of %zu of %d buckets (%llu points) recorded", mc->name,
		    fp->nknown, QBK_POINTS_BUCKETS,
		    (unsigned long long)fp->points);
	mc->has_content = 1;
	for (i = 0; i < QBK_POINTS_BUCKETS; i++) {
		mc->content[i].known = fp->known[i];
		if (!fp->known[i])
			continue;
		mc->content[i].points = fp->buckets[i].points;
		qbk_hex(fp->buckets[i].sum, 32, mc->content[i].hash);
	}
	return 0;
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
	struct qbk_points_fp fp;
	uint64_t before_new = m->totals.bytes_new;
	int64_t t0 = qbk_clock_ms();
	int indexed, whole = 0, rc = -1;

	qbk_points_fp_init(&fp);

	if (qbk_qdrant_collection_info(q, name, &info, err) != 0 ||
	    qbk_qdrant_collection_cluster(q, name, &cc, err) != 0)
		goto out;
	mc = qbk_backup_add_collection(m, name, info, aliases, naliases);
	if (qbk_backup_begin_fingerprint(q, o, name, &fp, err) != 0)
		goto out;
	qbk_backup_report_progress(o, QBK_BACKUP_EV_START, name, 0, -1, 0, 0);

	/* Shard snapshots carry no payload index definitions (a collection
	 * snapshot has payload_index.json), so a collection with payload
	 * indexes is backed up whole unless streams were asked for.  The
	 * manifest records them either way: recovery over an existing
	 * collection keeps that collection's indexes, and a restore
	 * re-creates the recorded ones. */
	indexed = json_object_size(json_object_get(info->info,
	    "payload_schema")) > 0;
	if (indexed)
		mc->payload_schema = json_incref(json_object_get(info->info,
		    "payload_schema"));
	if (indexed && o->mode == QBK_BACKUP_MODE_AUTO)
		whole = 1;
	if (*mode != QBK_BACKUP_MODE_SNAPSHOT && !whole) {
		uint32_t shard;

		for (shard = 0; shard < info->shard_number; shard++) {
			struct qbk_manifest_snapshot *ms =
			    qbk_manifest_add_snapshot(m, mc,
			    QBK_MANIFEST_SNAP_SHARD);
			int again = 0, rc1;

			ms->shard_id = shard;
			ms->peer_id = cc->peer_id;
			qbk_manifest_strset(&ms->node_url, qbk_qdrant_url(q));
			while ((rc1 = qbk_backup_stream_one(repo, q, o, name,
			    (long)shard, NULL, -1, QBK_INGEST_SHARD, ms, NULL,
			    err)) != 0 && qbk_backup_cut_short(err) && again <
			    QBK_BACKUP_STREAM_AGAIN && (o->cancel == NULL ||
			    *o->cancel == 0)) {
				again++;
				qbk_warn("shard %u of '%s': %s; streaming it "
				    "again", shard, name, err->msg);
				qbk_err_clear(err);
				qbk_manifest_strset(&ms->name, NULL);
			}
			if (rc1 == 0) {
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
	if (qbk_backup_record_fingerprint(q, o, mc, &fp, err) != 0)
		goto out;
	qbk_manifest_compute_totals(m);
	qbk_backup_report_progress(o, QBK_BACKUP_EV_DONE, name, m->totals.bytes,
	    -1, m->totals.bytes_new - before_new,
	    (uint64_t)(qbk_clock_ms() - t0));
	rc = 0;
out:
	qbk_points_fp_release(&fp);
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

int
qbk_backup_wanted(const struct qbk_backup_opts *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->ncollections; i++)
		if (strcmp(o->collections[i], name) == 0)
			return 1;
	return 0;
}

/* A single node's collection sharded by shard keys goes into a collection
 * snapshot, which carries the key mapping (shard_key_mapping.json): shard
 * streams would lose it, as no layout is recorded there.  Sets ${*mode}
 * (for that collection only) to snapshots if so. */
static int
custom_sharded(struct qbk_qdrant *q, const struct qbk_backup_opts *o,
    const char *name, enum qbk_backup_mode *mode, struct qbk_err *err)
{
	struct qbk_qdrant_collection *info = NULL;
	const char *method;

	if (qbk_qdrant_collection_info(q, name, &info, err) != 0)
		return -1;
	method = qbk_json_str(info->config, "params.sharding_method");
	if (method != NULL && strcmp(method, "custom") == 0) {
		if (o->mode == QBK_BACKUP_MODE_STREAM)
			qbk_warn("collection '%s' is sharded by shard keys, "
			    "which shard streams of a single node do not "
			    "record: backing it up as a collection snapshot",
			    name);
		*mode = QBK_BACKUP_MODE_SNAPSHOT;
	}
	qbk_qdrant_collection_free(info);
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

/* Describe the backup in ${m}: its type, kind and selection, where it
 * comes from (${q}, Qdrant ${version}), its tags and the aliases. */
static int
describe(struct qbk_manifest *m, struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, const char *version,
    const struct qbk_qdrant_alias *aliases, size_t naliases,
    struct qbk_err *err)
{
	char host[256];
	size_t i;

	m->type = o->full ? QBK_MANIFEST_TYPE_FULL :
	    QBK_MANIFEST_TYPE_INCREMENTAL;
	m->kind = o->full_storage ? QBK_MANIFEST_KIND_FULL_STORAGE :
	    QBK_MANIFEST_KIND_COLLECTIONS;
	m->selection = o->full_storage || o->ncollections == 0 ?
	    QBK_MANIFEST_SELECTION_ALL : QBK_MANIFEST_SELECTION_NAMED;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	qbk_manifest_strset(&m->host, host);
	qbk_manifest_strset(&m->tool_version, "qbk " QBK_VERSION);
	qbk_manifest_add_qdrant_version(m, version);
	qbk_manifest_add_source(m, qbk_qdrant_url(q));
	if (add_tags(m, o, err) != 0)
		return -1;
	for (i = 0; i < naliases; i++)
		qbk_manifest_add_alias(m, aliases[i].alias,
		    aliases[i].collection);
	return 0;
}

/* Back up the full storage of a single node into ${m}. */
static int
backup_full_storage(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, struct qbk_manifest *m,
    struct qbk_err *err)
{
	struct qbk_manifest_snapshot *ms = qbk_manifest_add_snapshot(m, NULL,
	    QBK_MANIFEST_SNAP_FULL);

	qbk_manifest_strset(&ms->node_url, qbk_qdrant_url(q));
	qbk_backup_report_progress(o, QBK_BACKUP_EV_START, "(full storage)",
	    0, -1, 0, 0);
	if (stored_snapshot(repo, q, o, NULL, ms, err) != 0)
		return -1;
	qbk_manifest_compute_totals(m);
	qbk_backup_report_progress(o, QBK_BACKUP_EV_DONE, "(full storage)",
	    ms->bytes, -1, ms->bytes_new, ms->duration_ms);
	return 0;
}

/* Back up the chosen collections ${names} of a single node into ${m}. */
static int
backup_node(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, struct qbk_manifest *m, char **names,
    const struct qbk_qdrant_alias *aliases, size_t naliases,
    struct qbk_err *err)
{
	enum qbk_backup_mode mode = o->mode;
	size_t i;

	for (i = 0; names[i] != NULL; i++) {
		enum qbk_backup_mode cmode = mode;

		if (o->ncollections > 0 && !qbk_backup_wanted(o, names[i]))
			continue;
		if (o->cancel != NULL && *o->cancel != 0)
			return qbk_err_set(err, QBK_E_INTERRUPTED,
			    "interrupted");
		if (custom_sharded(q, o, names[i], &cmode, err) != 0 ||
		    backup_collection(repo, q, o, m, names[i], aliases,
		    naliases, cmode != mode ? &cmode : &mode, err) != 0) {
			qbk_err_prefix(err, "cannot back up collection '%s'",
			    names[i]);
			return -1;
		}
	}
	return 0;
}

/* Close the backup ${m} and write its manifest, the commit point. */
static int
commit(struct qbk_repo *repo, const struct qbk_backup_opts *o,
    struct qbk_manifest *m, struct qbk_err *err)
{
	m->end = qbk_now();
	if (m->end < m->start)
		m->end = m->start;
	qbk_manifest_compute_totals(m);
	/* Every chunk is stored; prove that the lock is still ours, so that
	 * no prune can have taken the chunks meanwhile, then commit. */
	if (qbk_repo_flush(repo, err) != 0) {
		qbk_err_prefix(err, "cannot store the chunks");
		return -1;
	}
	if (o->lock != NULL && qbk_lock_refresh(o->lock, 1, err) != 0) {
		qbk_err_prefix(err, "not writing the manifest");
		return -1;
	}
	if (qbk_repo_manifest_write(repo, m, err) != 0) {
		qbk_err_prefix(err, "cannot write the manifest");
		return -1;
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
	char **names = NULL;
	size_t naliases = 0, i;
	int64_t t = o->now != 0 ? o->now : qbk_now();

	*out = NULL;
	if (qbk_qdrant_version(q, &ver, err) != 0 ||
	    qbk_qdrant_cluster(q, &cl, err) != 0)
		goto err;
	if (cl->enabled && o->full_storage) {
		qbk_err_set(err, QBK_E_USAGE, "'%s' is a node of a distributed "
		    "deployment: a full storage snapshot of one node would "
		    "miss the shards held by the others", qbk_qdrant_url(q));
		qbk_err_hint(err, "back up the collections instead (without "
		    "--full-storage): each shard is taken from one of its "
		    "replicas");
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
	m->start = t;
	if (describe(m, q, o, ver.version, aliases, naliases, err) != 0)
		goto err;

	if (o->full_storage) {
		if (backup_full_storage(repo, q, o, m, err) != 0)
			goto err;
	} else if (cl->enabled) {
		if (qbk_backup_cluster(repo, q, o, m, names, aliases, naliases,
		    err) != 0)
			goto err;
	} else if (backup_node(repo, q, o, m, names, aliases, naliases,
	    err) != 0)
		goto err;
	if (commit(repo, o, m, err) != 0)
		goto err;
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
