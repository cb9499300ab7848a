#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_spool.h"
#include "net/qbk_http.h"
#include "qdrant/qbk_cluster.h"
#include "qdrant/qbk_points.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_crypto.h"
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
		if (s->opts->lock != NULL &&
		    qbk_lock_refresh(s->opts->lock, 0, err) != 0)
			rc = -1;
		else
			progress(s->opts, QBK_BACKUP_EV_BYTES, s->collection,
			    s->bytes, s->total, 0, 0);
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
static int
stream_one(struct qbk_repo *repo, struct qbk_qdrant *q,
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

/* Times a shard stream that Qdrant ended before the end of its archive is
 * taken again (from another Active replica first, if there is one). */
#define STREAM_AGAIN	2

/*
 * Did the stream end early?  Qdrant ends a shard stream it cannot finish
 * (an error while it builds the snapshot; a client that read nothing for
 * five minutes) as a clean end of the body: an archive without its end or
 * without the members Qdrant writes last, that qbk_tar and qbk_ingest
 * refuse with QBK_E_SHORT.  Such a stream is worth taking again; a damaged
 * one (QBK_E_INTEGRITY) is not.
 */
static int
cut_short(const struct qbk_err *err)
{
	return err->code == QBK_E_SHORT;
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
	rc = stream_one(repo, q, o, coll, QBK_QDRANT_NO_SHARD, desc.name,
	    desc.size, coll != NULL ? QBK_INGEST_COLLECTION : QBK_INGEST_FULL,
	    ms, NULL, err);
	if (rc == 0)
		rc = check_checksum(ms, &desc, err);
	if (qbk_qdrant_snapshot_delete(q, coll, QBK_QDRANT_NO_SHARD, desc.name,
	    &derr) != 0)
		qbk_warn("cannot delete snapshot '%s' from the node: %s",
		    desc.name, derr.msg);
	qbk_qdrant_snapshot_release(&desc);
	return rc;
}

/* Record collection ${name} in ${m}: its aliases, configuration, vector
 * parameters and points count as ${info} gives them. */
static struct qbk_manifest_collection *
add_collection(struct qbk_manifest *m, const char *name,
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
 * record_fingerprint() finishes after it. */
static int
begin_fingerprint(struct qbk_qdrant *q, const struct qbk_backup_opts *o,
    const char *name, struct qbk_points_fp *fp, struct qbk_err *err)
{
	/* Its messages name the collection already. */
	return qbk_points_fp_begin(fp, q, name, o->sample_points,
	    o->content_hash, o->cancel, err);
}

/* Read them again after the snapshot and record in ${mc} what did not
 * change meanwhile, which is what the snapshot holds (qbk_points.h). */
static int
record_fingerprint(struct qbk_qdrant *q, const struct qbk_backup_opts *o,
    struct qbk_manifest_collection *mc, struct qbk_points_fp *fp,
    struct qbk_err *err)
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
	mc = add_collection(m, name, info, aliases, naliases);
	if (begin_fingerprint(q, o, name, &fp, err) != 0)
		goto out;
	progress(o, QBK_BACKUP_EV_START, name, 0, -1, 0, 0);

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
			while ((rc1 = stream_one(repo, q, o, name, (long)shard,
			    NULL, -1, QBK_INGEST_SHARD, ms, NULL, err)) != 0 &&
			    cut_short(err) && again < STREAM_AGAIN &&
			    (o->cancel == NULL || *o->cancel == 0)) {
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
	if (record_fingerprint(q, o, mc, &fp, err) != 0)
		goto out;
	qbk_manifest_compute_totals(m);
	progress(o, QBK_BACKUP_EV_DONE, name, m->totals.bytes, -1,
	    m->totals.bytes_new - before_new, (uint64_t)(qbk_clock_ms() - t0));
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

static int
wanted(const struct qbk_backup_opts *o, const char *name)
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

/* ---- distributed deployments ------------------------------------------ */

/* One shard to stream: from peer ${peer} into ${ms}. */
#define CJOB_ALT	8

struct cjob {
	const char *collection;
	uint32_t shard;
	uint64_t peer;
	struct qbk_manifest_snapshot *ms;
	struct qbk_manifest_collection *mc;
	int64_t points;		/* of the replica, -1 unknown */
	/* Other Active replicas on reachable peers, tried in turn when the
	 * stream from ${peer} fails (a node lost during the backup). */
	uint64_t alt[CJOB_ALT];
	int64_t alt_points[CJOB_ALT];
	size_t nalt;
};

struct cbackup {
	struct qbk_repo *repo;
	struct qbk_qdrant *q;
	const struct qbk_backup_opts *o;
	struct qbk_backup_opts so;	/* per stream: fewer workers */
	const struct qbk_cluster *cl;
	struct cjob *jobs;
	size_t njobs;
	pthread_mutex_t mu;
	/* Fingerprints begun before the shards are streamed, by index of
	 * the collection in the manifest; fp_begun[i] 0 if none. */
	struct qbk_points_fp *fps;
	unsigned char *fp_begun;
};

/* The stored shard snapshot way, for servers without the streaming
 * endpoint: create on the peer, download, check, delete. */
static int
stored_shard(struct cbackup *b, struct qbk_qdrant *pq, struct cjob *j,
    struct qbk_err *err)
{
	struct qbk_qdrant_snapshot desc;
	struct qbk_err derr = QBK_ERR_INIT;
	int rc;

	memset(&desc, 0, sizeof(desc));
	if (qbk_qdrant_snapshot_create(pq, j->collection, (long)j->shard,
	    &desc, err) != 0)
		return -1;
	qbk_manifest_strset(&j->ms->name, desc.name);
	rc = stream_one(b->repo, pq, &b->so, j->collection, (long)j->shard,
	    desc.name, desc.size, QBK_INGEST_SHARD, j->ms, &b->mu, err);
	if (rc == 0)
		rc = check_checksum(j->ms, &desc, err);
	if (qbk_qdrant_snapshot_delete(pq, j->collection, (long)j->shard,
	    desc.name, &derr) != 0)
		qbk_warn("cannot delete snapshot '%s' from '%s': %s",
		    desc.name, qbk_qdrant_url(pq), derr.msg);
	qbk_qdrant_snapshot_release(&desc);
	return rc;
}

static int
cluster_job_on(struct cbackup *b, struct cjob *j, struct qbk_err *err)
{
	struct qbk_qdrant *pq = NULL;
	int rc;

	if (qbk_cluster_connect(b->cl, b->q, j->peer, &pq, err) != 0)
		return -1;
	qbk_detail("collection '%s' shard %u: from peer %llu (%s)",
	    j->collection, j->shard, (unsigned long long)j->peer,
	    qbk_qdrant_url(pq));
	rc = b->o->mode == QBK_BACKUP_MODE_SNAPSHOT ? 1 :
	    stream_one(b->repo, pq, &b->so, j->collection, (long)j->shard,
	    NULL, -1, QBK_INGEST_SHARD, j->ms, &b->mu, err);
	/* A server without the streaming endpoint answers 404 for the
	 * route: take a stored shard snapshot. */
	if (rc > 0 || (rc != 0 && b->o->mode == QBK_BACKUP_MODE_AUTO &&
	    err->http_status == 404 && err->code == QBK_E_NOTFOUND &&
	    strstr(err->msg, "doesn't exist") == NULL)) {
		qbk_err_clear(err);
		rc = stored_shard(b, pq, j, err);
	}
	if (rc == 0 && j->ms->name == NULL) {
		char n[300];

		snprintf(n, sizeof(n), "%s-shard-%u", j->collection, j->shard);
		qbk_manifest_strset(&j->ms->name, n);
	}
	if (rc != 0)
		qbk_err_prefix(err, "cannot back up shard %u of collection "
		    "'%s' from peer %llu (%s)", j->shard, j->collection,
		    (unsigned long long)j->peer, qbk_qdrant_url(pq));
	qbk_qdrant_free(pq);
	return rc;
}

/* Record in the layout which replica the shard finally came from. */
static void
set_source(struct cjob *j)
{
	struct qbk_manifest_cluster *mcl = j->mc->cluster;
	size_t i;

	j->ms->peer_id = j->peer;
	for (i = 0; mcl != NULL && i < mcl->n_shards; i++)
		if (mcl->shards[i].shard_id == (int64_t)j->shard) {
			mcl->shards[i].peer_id = j->peer;
			mcl->shards[i].points_count = j->points > 0 ?
			    (uint64_t)j->points : 0;
		}
}

static int
cluster_job(void *cookie, size_t i, struct qbk_err *err)
{
	struct cbackup *b = cookie;
	struct cjob *j = &b->jobs[i];
	size_t next = 0;
	int again = 0;

	for (;;) {
		if (cluster_job_on(b, j, err) == 0) {
			set_source(j);
			return 0;
		}
		if (b->o->cancel != NULL && *b->o->cancel != 0)
			return -1;
		/* A stream Qdrant ended early, with no other replica left:
		 * the same one again. */
		if (next >= j->nalt && cut_short(err) &&
		    again < STREAM_AGAIN) {
			again++;
			qbk_warn("%s; streaming it again", err->msg);
			qbk_err_clear(err);
			qbk_manifest_strset(&j->ms->name, NULL);
			continue;
		}
		/* Another replica helps when the node or the network failed
		 * or Qdrant ended the stream early, not when the data or the
		 * repository did. */
		if (next >= j->nalt || (err->code != QBK_E_NET &&
		    err->code != QBK_E_HTTP && err->code != QBK_E_QDRANT &&
		    !cut_short(err)))
			return -1;
		qbk_warn("%s; trying the replica on peer %llu", err->msg,
		    (unsigned long long)j->alt[next]);
		qbk_err_clear(err);
		qbk_manifest_strset(&j->ms->name, NULL);
		j->peer = j->alt[next];
		j->points = j->alt_points[next];
		next++;
		qbk_manifest_strset(&j->ms->node_url,
		    qbk_cluster_peer(b->cl, j->peer)->url);
	}
}

static uint64_t
json_u64_or(const json_t *v, const char *path, uint64_t dflt)
{
	uint64_t x;

	return qbk_json_u64(v, path, &x) == 0 ? x : dflt;
}

/* Describe the replicas of a shard for messages: "peer 1: Dead, ...". */
static void
replicas_text(const struct qbk_cluster *cl, const struct qbk_cluster_shard *sh,
    struct qbk_buf *out)
{
	const struct qbk_cluster_peer *pe;
	size_t k;

	if (sh->nreplicas == 0)
		qbk_buf_addstr(out, "no replica");
	for (k = 0; k < sh->nreplicas; k++) {
		qbk_buf_addf(out, "%speer %llu: %s", k > 0 ? "; " : "",
		    (unsigned long long)sh->replicas[k].peer_id,
		    sh->replicas[k].state);
		pe = qbk_cluster_peer(cl, sh->replicas[k].peer_id);
		if (pe != NULL && !pe->reachable)
			qbk_buf_addf(out, ", not reachable at '%s'", pe->url);
	}
}

/* Plan collection ${name}: record it and its layout in ${m}, and add a job
 * per shard that has an Active replica; shards without one go to
 * ${missing} (text for the error) or, with allow_partial, to the
 * manifest's missing list. */
static int
cluster_collection(struct cbackup *b, struct qbk_manifest *m,
    const char *name, const struct qbk_qdrant_alias *aliases,
    size_t naliases, const uint64_t *order, size_t norder,
    struct qbk_buf *missing, struct qbk_err *err)
{
	const struct qbk_cluster *cl = b->cl;
	struct qbk_qdrant_collection *info = NULL;
	struct qbk_cluster_layout *l = NULL;
	struct qbk_manifest_collection *mc;
	struct qbk_manifest_cluster *mcl;
	uint64_t *usable = NULL, *pick = NULL;
	size_t nusable = 0, i, k;
	const char *method;
	size_t ci;
	int rc = -1;

	if (qbk_qdrant_collection_info(b->q, name, &info, err) != 0 ||
	    qbk_cluster_layout(cl, b->q, name, &l, err) != 0)
		goto out;
	ci = m->n_collections;
	mc = add_collection(m, name, info, aliases, naliases);
	b->fps = qbk_xrealloc(b->fps, (ci + 1) * sizeof(*b->fps));
	b->fp_begun = qbk_xrealloc(b->fp_begun, ci + 1);
	qbk_points_fp_init(&b->fps[ci]);
	b->fp_begun[ci] = 0;
	mcl = qbk_manifest_collection_set_cluster(mc);
	/* Shard snapshots carry no payload index definitions: record them
	 * beside the layout, for the restore to re-create. */
	if (json_object_size(json_object_get(info->info,
	    "payload_schema")) > 0)
		mcl->payload_schema = json_incref(json_object_get(info->info,
		    "payload_schema"));
	mcl->shard_number = l->shard_count;
	mcl->replication_factor = info->replication_factor;
	mcl->write_consistency_factor = json_u64_or(info->config,
	    "params.write_consistency_factor", 1);
	method = qbk_json_str(info->config, "params.sharding_method");
	qbk_manifest_strset(&mcl->sharding_method, method != NULL ? method :
	    "auto");
	for (i = 0; i < cl->npeers; i++)
		qbk_manifest_cluster_add_peer(mcl, cl->peers[i].id);

	/* Replicas on peers qbk cannot reach are passed over.  One that
	 * the cluster still calls Active is warned about (a wrong address
	 * must not pass unnoticed), and a shard whose only Active replicas
	 * are there fails the backup below with the peer named. */
	usable = qbk_xcalloc(cl->npeers + 1, sizeof(*usable));
	for (i = 0; i < cl->npeers; i++)
		if (cl->peers[i].reachable)
			usable[nusable++] = cl->peers[i].id;
	for (i = 0; i < l->nshards; i++)
		for (k = 0; k < l->shards[i].nreplicas; k++) {
			const struct qbk_cluster_replica *r =
			    &l->shards[i].replicas[k];
			const struct qbk_cluster_peer *pe =
			    qbk_cluster_peer(cl, r->peer_id);

			if (pe != NULL && !pe->reachable &&
			    qbk_cluster_replica_active(r))
				qbk_warn("shard %u of '%s': the active replica "
				    "on peer %llu is passed over: that peer "
				    "cannot be reached at '%s'",
				    l->shards[i].id, name,
				    (unsigned long long)r->peer_id, pe->url);
		}
	pick = qbk_xcalloc(l->nshards + 1, sizeof(*pick));
	qbk_cluster_pick(l, 0, usable, nusable, order, norder, pick);
	for (i = 0; i < l->nshards; i++) {
		const struct qbk_cluster_shard *sh = &l->shards[i];
		struct qbk_manifest_shard *msh =
		    qbk_manifest_cluster_add_shard(mcl, sh->id);
		struct cjob *j;

		if (sh->shard_key != NULL)
			qbk_manifest_strset(&msh->shard_key, sh->shard_key);
		for (k = 0; k < sh->nreplicas; k++)
			qbk_manifest_shard_add_replica(msh,
			    sh->replicas[k].peer_id, sh->replicas[k].state,
			    sh->replicas[k].points_count);
		if (pick[i] == 0) {
			struct qbk_buf why = QBK_BUF_INIT;

			qbk_buf_addstr(&why, "no active replica (");
			replicas_text(cl, sh, &why);
			qbk_buf_addch(&why, ')');
			if (b->o->allow_partial) {
				qbk_warn("shard %u of collection '%s' is not "
				    "backed up: %s", sh->id, name, why.buf);
				qbk_manifest_add_missing(m, name, sh->id,
				    why.buf);
			} else
				qbk_buf_addf(missing, "%sshard %u of "
				    "collection '%s' has %s",
				    missing->len > 0 ? "; " : "", sh->id, name,
				    why.buf);
			qbk_buf_release(&why);
			continue;
		}
		b->jobs = qbk_xrealloc(b->jobs, (b->njobs + 1) *
		    sizeof(*b->jobs));
		j = &b->jobs[b->njobs++];
		memset(j, 0, sizeof(*j));
		j->collection = mc->name;
		j->mc = mc;
		j->shard = sh->id;
		j->peer = pick[i];
		j->ms = qbk_manifest_add_snapshot(m, mc,
		    QBK_MANIFEST_SNAP_SHARD);
		j->ms->shard_id = sh->id;
		j->ms->peer_id = pick[i];
		qbk_manifest_strset(&j->ms->node_url,
		    qbk_cluster_peer(cl, pick[i])->url);
		j->points = -1;
		for (k = 0; k < sh->nreplicas; k++) {
			const struct qbk_cluster_replica *r = &sh->replicas[k];
			const struct qbk_cluster_peer *pe =
			    qbk_cluster_peer(cl, r->peer_id);

			if (r->peer_id == pick[i])
				j->points = r->points_count;
			else if (pe != NULL && pe->reachable &&
			    qbk_cluster_replica_readable(r) &&
			    j->nalt < CJOB_ALT) {
				j->alt_points[j->nalt] = r->points_count;
				j->alt[j->nalt++] = r->peer_id;
			}
		}
		msh->peer_id = pick[i];
		msh->points_count = j->points > 0 ? (uint64_t)j->points : 0;
	}

	/* Reading points needs every shard: with one missing, no sample
	 * (the backup fails anyway unless allow_partial). */
	if (qbk_cluster_pick(l, 0, usable, nusable, order, norder, pick) >
	    0) {
		if (b->o->allow_partial)
			qbk_warn("collection '%s' has shards without an "
			    "active replica: no point sample recorded", name);
		mc->points_count = 0;
		for (i = 0; i < mcl->n_shards; i++)
			mc->points_count += mcl->shards[i].points_count;
		rc = 0;
		goto out;
	}
	if (begin_fingerprint(b->q, b->o, name, &b->fps[ci], err) != 0)
		goto out;
	b->fp_begun[ci] = 1;
	rc = 0;
out:
	free(usable);
	free(pick);
	qbk_cluster_layout_free(l);
	qbk_qdrant_collection_free(info);
	return rc;
}

static int
has_missing(const struct qbk_manifest *m, const char *coll)
{
	size_t i;

	for (i = 0; i < m->n_missing; i++)
		if (strcmp(m->missing[i].collection, coll) == 0)
			return 1;
	return 0;
}

static unsigned
cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

/* Back up the chosen collections of a distributed deployment into ${m}. */
static int
backup_cluster(struct qbk_repo *repo, struct qbk_qdrant *q,
    const struct qbk_backup_opts *o, struct qbk_manifest *m, char **names,
    const struct qbk_qdrant_alias *aliases, size_t naliases,
    struct qbk_err *err)
{
	struct cbackup b;
	struct qbk_cluster *cl = NULL;
	struct qbk_buf missing = QBK_BUF_INIT;
	uint64_t *order = NULL, *node_of = NULL;
	size_t norder = 0, i, k;
	unsigned par, w;
	int64_t t0 = qbk_clock_ms();
	int rc = -1;

	memset(&b, 0, sizeof(b));
	if (qbk_cluster_discover(q, o->nodes, o->nnodes, &cl, err) != 0)
		return -1;
	pthread_mutex_init(&b.mu, NULL);
	b.repo = repo;
	b.q = q;
	b.o = o;
	b.cl = cl;
	order = qbk_xcalloc(o->nnodes + 1, sizeof(*order));
	for (k = 0; k < o->nnodes; k++)
		for (i = 0; i < cl->npeers; i++)
			if (strcmp(cl->peers[i].url, o->nodes[k]) == 0)
				order[norder++] = cl->peers[i].id;
	for (i = 0; i < cl->npeers; i++) {
		if (cl->peers[i].reachable && cl->peers[i].id != cl->self)
			qbk_manifest_add_source(m, cl->peers[i].url);
		if (!cl->peers[i].reachable) {
			qbk_warn("peer %llu (%s) cannot be reached at '%s': "
			    "%s", (unsigned long long)cl->peers[i].id,
			    cl->peers[i].uri, cl->peers[i].url,
			    cl->peers[i].error != NULL ? cl->peers[i].error :
			    "unknown");
			qbk_manifest_add_unreachable(m, cl->peers[i].id,
			    cl->peers[i].url, cl->peers[i].error);
		}
	}
	for (i = 0; names[i] != NULL; i++) {
		if (o->ncollections > 0 && !wanted(o, names[i]))
			continue;
		if (cluster_collection(&b, m, names[i], aliases, naliases,
		    order, norder, &missing, err) != 0) {
			qbk_err_prefix(err, "cannot back up collection '%s'",
			    names[i]);
			goto out;
		}
		progress(o, QBK_BACKUP_EV_START, names[i], 0, -1, 0, 0);
	}
	if (missing.len > 0) {
		qbk_err_set(err, QBK_E_QDRANT, "%s", missing.buf);
		qbk_err_hint(err, "bring the nodes holding them back (or give "
		    "every node's REST URL in [qdrant] nodes if a peer's "
		    "address is wrong), or back up the rest with "
		    "--allow-partial");
		goto out;
	}

	/* One stream per node at a time, on at most ${par} nodes; each
	 * stream gets its share of the chunk workers, so that memory stays
	 * that of about one stream per node. */
	par = o->node_parallelism > 0 ? o->node_parallelism :
	    (unsigned)(cl->npeers < 4 ? cl->npeers : 4);
	if (par == 0)
		par = 1;
	b.so = *o;
	w = o->workers > 0 ? o->workers : cpu_count();
	b.so.workers = w / par > 0 ? w / par : 1;
	node_of = qbk_xcalloc(b.njobs + 1, sizeof(*node_of));
	for (i = 0; i < b.njobs; i++)
		node_of[i] = b.jobs[i].peer;
	if (qbk_cluster_run(b.njobs, node_of, par, cluster_job, &b, o->cancel,
	    err) != 0)
		goto out;
	for (i = 0; i < m->n_collections; i++) {
		struct qbk_manifest_collection *mc = m->collections[i];
		uint64_t bytes = 0, bnew = 0;

		if (b.fp_begun[i] && !has_missing(m, mc->name) &&
		    record_fingerprint(q, o, mc, &b.fps[i], err) != 0)
			goto out;
		for (k = 0; k < mc->n_snapshots; k++) {
			bytes += mc->snapshots[k]->bytes;
			bnew += mc->snapshots[k]->bytes_new;
		}
		progress(o, QBK_BACKUP_EV_DONE, mc->name, bytes, -1, bnew,
		    (uint64_t)(qbk_clock_ms() - t0));
	}
	qbk_manifest_compute_totals(m);
	rc = 0;
out:
	qbk_buf_release(&missing);
	free(order);
	free(node_of);
	free(b.jobs);
	for (i = 0; b.fps != NULL && i < m->n_collections; i++)
		qbk_points_fp_release(&b.fps[i]);
	free(b.fps);
	free(b.fp_begun);
	pthread_mutex_destroy(&b.mu);
	qbk_cluster_free(cl);
	return rc;
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
	m->type = o->full ? QBK_MANIFEST_TYPE_FULL :
	    QBK_MANIFEST_TYPE_INCREMENTAL;
	m->kind = o->full_storage ? QBK_MANIFEST_KIND_FULL_STORAGE :
	    QBK_MANIFEST_KIND_COLLECTIONS;
	m->selection = o->full_storage || o->ncollections == 0 ?
	    QBK_MANIFEST_SELECTION_ALL : QBK_MANIFEST_SELECTION_NAMED;
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
	} else if (cl->enabled) {
		if (backup_cluster(repo, q, o, m, names, aliases, naliases,
		    err) != 0)
			goto err;
	} else {
		for (i = 0; names[i] != NULL; i++) {
			enum qbk_backup_mode cmode = mode;

			if (o->ncollections > 0 && !wanted(o, names[i]))
				continue;
			if (o->cancel != NULL && *o->cancel != 0) {
				qbk_err_set(err, QBK_E_INTERRUPTED,
				    "interrupted");
				goto err;
			}
			if (custom_sharded(q, o, names[i], &cmode, err) != 0 ||
			    backup_collection(repo, q, o, m, names[i],
			    aliases, naliases, cmode != mode ? &cmode : &mode,
			    err) != 0) {
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
	/* Every chunk is stored; prove that the lock is still ours, so that
	 * no prune can have taken the chunks meanwhile, then commit. */
	if (qbk_repo_flush(repo, err) != 0) {
		qbk_err_prefix(err, "cannot store the chunks");
		goto err;
	}
	if (o->lock != NULL && qbk_lock_refresh(o->lock, 1, err) != 0) {
		qbk_err_prefix(err, "not writing the manifest");
		goto err;
	}
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
	qbk_buf_addstr(out, "# HELP qbk_backup_last_run_timestamp_seconds "
	    "End of the last qbk-backup run.\n"
	    "# TYPE qbk_backup_last_run_timestamp_seconds gauge\n");
	qbk_buf_addf(out, "qbk_backup_last_run_timestamp_seconds %lld\n",
	    (long long)now);
	qbk_buf_addstr(out, "# HELP qbk_backup_last_run_success "
	    "1 if the last qbk-backup run succeeded.\n"
	    "# TYPE qbk_backup_last_run_success gauge\n");
	qbk_buf_addf(out, "qbk_backup_last_run_success %d\n", ok ? 1 : 0);
	/*
	 * The last success survives failed runs (and a full backup that ends
	 * after a newer hourly one): without it, the alert "no backup within
	 * the RPO" would lose its series exactly when backups fail.
	 */
	last = prev_success(prev);
	if (m != NULL && m->start > last)
		last = m->start;
	if (last > 0) {
		qbk_buf_addstr(out, "# HELP qbk_backup_last_success_timestamp_"
		    "seconds Start of the last successful backup.\n"
		    "# TYPE qbk_backup_last_success_timestamp_seconds gauge\n");
		qbk_buf_addf(out, "qbk_backup_last_success_timestamp_seconds "
		    "%lld\n", (long long)last);
	}
	if (m == NULL)
		return;
	qbk_buf_addstr(out, "# HELP qbk_backup_duration_seconds "
	    "Duration of the last successful backup.\n"
	    "# TYPE qbk_backup_duration_seconds gauge\n");
	qbk_buf_addf(out, "qbk_backup_duration_seconds %lld\n",
	    (long long)(m->end - m->start));
	for (f = 0; f < 3; f++) {
		qbk_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n",
		    family[f], help[f], family[f]);
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
			qbk_buf_addf(out, "%s{collection=\"%s\"} %llu\n",
			    family[f], c->name, (unsigned long long)v);
		}
	}
	qbk_buf_addstr(out, "# HELP qbk_backup_total_new_bytes Bytes of new "
	    "chunks stored by the last backup.\n"
	    "# TYPE qbk_backup_total_new_bytes gauge\n");
	qbk_buf_addf(out, "qbk_backup_total_new_bytes %llu\n",
	    (unsigned long long)m->totals.bytes_new);
	/* A partial backup (--allow-partial) succeeds: these say what it
	 * lacks, for an alert on > 0. */
	qbk_buf_addstr(out, "# HELP qbk_backup_missing_shards Shards the last "
	    "backup does not hold (no active replica could be read), per "
	    "collection.\n# TYPE qbk_backup_missing_shards gauge\n");
	for (i = 0; i < m->n_collections; i++)
		qbk_buf_addf(out, "qbk_backup_missing_shards{collection="
		    "\"%s\"} %zu\n", m->collections[i]->name,
		    qbk_manifest_missing_count(m, m->collections[i]->name));
	qbk_buf_addstr(out, "# HELP qbk_backup_unreachable_peers Peers of the "
	    "cluster the last backup could not reach.\n"
	    "# TYPE qbk_backup_unreachable_peers gauge\n");
	qbk_buf_addf(out, "qbk_backup_unreachable_peers %zu\n",
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
