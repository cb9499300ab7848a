#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command/qbk_backup.h"
#include "command/qbk_verify.h"
#include "command/restore/qbk_restore_internal.h"
#include "common/qbk.h"
#include "common/qbk_hex.h"
#include "common/qbk_log.h"
#include "common/qbk_sha256.h"
#include "qdrant/qbk_cluster.h"
#include "repo/qbk_job.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_repo.h"
#include "stream/qbk_extract.h"
#include "stream/qbk_tar.h"

/* Progress is reported every this many bytes. */
#define PROGRESS_STEP	((uint64_t)4 << 20)

/* Start hashing what ${s} sends (members: the manifest has no hash). */
void
qbk_restore_source_hash_start(struct source *s)
{
	if (s->sha == NULL)
		s->sha = qbk_sha256_new();
	else
		qbk_sha256_reset(s->sha);
}

void
qbk_restore_source_hash(struct source *s, const void *data, size_t len)
{
	if (s->sha != NULL)
		qbk_sha256_update(s->sha, data, len);
}

/* The hex SHA-256 of what ${s} sent into ${hex}[65], and free it. */
void
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

int
qbk_restore_source_tick(struct source *s, struct qbk_err *err)
{
	struct qbk_restore_progress p;
	int rc = 0;

	if (s->o->lock != NULL) {
		if (s->mu != NULL)
			pthread_mutex_lock(s->mu);
		rc = qbk_job_check(NULL, s->o->lock, err);
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

/* Copy up to ${len} bytes of the member ${s} is at into ${buf}: their
 * number, 0 after its last byte, -1. */
static ssize_t
member_read(struct source *s, void *buf, size_t len, struct qbk_err *err)
{
	int r;

	if (s->piece_len == 0) {
		r = qbk_tar_data(s->tar, &s->piece, &s->piece_len, err);
		if (r <= 0)
			return r;
	}
	if (len > s->piece_len)
		len = s->piece_len;
	memcpy(buf, s->piece, len);
	s->piece = (const char *)s->piece + len;
	s->piece_len -= len;
	return (ssize_t)len;
}

static ssize_t
source_read(void *cookie, void *buf, size_t len, struct qbk_err *err)
{
	struct source *s = cookie;
	ssize_t n;

	if (s->tar != NULL)
		n = member_read(s, buf, len, err);
	else
		n = qbk_extract_read(s->x, buf, len, err);
	if (n < 0)
		return -1;
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

	if (s->tar != NULL) {
		/* Read up to the member again: the workers decode ahead, so
		 * this costs about as much as reading the chunks. */
		if (qbk_tar_restart(s->tar, err) != 0)
			return -1;
		s->piece_len = 0;
	} else if (qbk_extract_rewind(s->x, err) != 0)
		return -1;
	if (s->sha != NULL)
		qbk_restore_source_hash_start(s);
	s->sent = s->reported = 0;
	return 0;
}

void
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

void
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
void
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
void
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
int
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
		if (qbk_job_check(r->o->cancel, NULL, err) != 0 ||
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
	struct qbk_extract *x;
	struct qbk_tar *t;
	struct qbk_tar_member mb;
	struct source src;
	char sha[2 * 32 + 1];
	size_t left = 0, i;
	int rc = -1, n = 0;

	qbk_restore_extract_opts(r, NULL, &eo);
	for (i = 0; i < np; i++)
		if (plans[i].mc == NULL && !plans[i].done)
			left++;
	if (qbk_extract_open(r->repo, s, &eo, &x, err) != 0)
		return -1;
	if (qbk_tar_open(qbk_extract_next_cb, qbk_extract_rewind_cb, x, &t,
	    err) != 0) {
		qbk_extract_close(x);
		return -1;
	}
	while (left > 0 && (n = qbk_tar_next(t, &mb, err)) > 0) {
		struct qbk_restore_item *it;
		char *coll;
		int64_t t0;

		if (mb.type != 'f' ||
		    (coll = qbk_restore_member_collection(mb.path)) == NULL)
			continue;
		for (i = 0; i < np; i++)
			if (plans[i].mc == NULL && !plans[i].done &&
			    strcmp(plans[i].name, coll) == 0)
				break;
		free(coll);
		if (i == np)
			continue;
		if (qbk_job_check(r->o->cancel, NULL, err) != 0)
			goto out;
		t0 = qbk_clock_ms();
		it = qbk_restore_add_item(
		    r->rep, plans[i].name, plans[i].target);
		it->replaced = plans[i].replaced;
		qbk_restore_progress(r->o, QBK_RESTORE_EV_START, plans[i].name,
		    plans[i].target, 0, mb.size, 0);
		memset(&src, 0, sizeof(src));
		src.o = r->o;
		src.x = x;
		src.tar = t;
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
	qbk_tar_close(t);
	qbk_extract_close(x);
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
int
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
	    qbk_job_check(o->cancel, NULL, err) != 0)
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
		if (qbk_job_check(o->cancel, NULL, err) != 0 ||
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
