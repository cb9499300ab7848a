#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_idset.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"
#include "repo/qbk_failure.h"
#include "repo/qbk_hold.h"
#include "repo/qbk_job.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "repo/qbk_retention.h"
#include "command/qbk_ctx.h"
#include "command/qbk_options.h"
#include "command/qbk_prune.h"

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Prune.
 */

void
qbk_prune_result_free(struct qbk_prune_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; i < res->n_backups; i++)
		free(res->backups[i].group);
	free(res->backups);
	free(res);
}

static int
cmp_tag(const void *a, const void *b)
{
	const struct qbk_manifest_tag *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/* The group of ${m}: its collection names, sorted, joined by ","; with
 * ${tags}, then ";" and its tags "key=value", sorted, joined by ",". */
static char *
group_of(const struct qbk_manifest *m, int tags)
{
	struct qbk_buf b = QBK_BUF_INIT;
	char **names;
	size_t i;

	if (m->kind == QBK_MANIFEST_KIND_FULL_STORAGE) {
		qbk_buf_addstr(&b, "full-storage");
	} else {
		names = qbk_xcalloc(m->n_collections ? m->n_collections : 1,
		    sizeof(char *));
		for (i = 0; i < m->n_collections; i++)
			names[i] = m->collections[i]->name;
		qsort(names, m->n_collections, sizeof(char *), cmp_str);
		for (i = 0; i < m->n_collections; i++)
			qbk_buf_addf(&b, "%s%s", i ? "," : "", names[i]);
		free(names);
	}
	if (tags) {
		struct qbk_manifest_tag *t = qbk_xcalloc(m->n_tags ?
		    m->n_tags : 1, sizeof(*t));

		if (m->n_tags > 0) {
			memcpy(t, m->tags, m->n_tags * sizeof(*t));
			qsort(t, m->n_tags, sizeof(*t), cmp_tag);
		}
		qbk_buf_addch(&b, ';');
		for (i = 0; i < m->n_tags; i++)
			qbk_buf_addf(&b, "%s%s=%s", i ? "," : "", t[i].key,
			    t[i].value);
		free(t);
	}
	return qbk_buf_detach(&b, NULL);
}

static int
add_chunks(struct qbk_idset *set, const struct qbk_manifest *m)
{
	size_t i, j, k;

	for (i = 0; i < m->n_collections; i++)
		for (j = 0; j < m->collections[i]->n_snapshots; j++) {
			const struct qbk_manifest_snapshot *s =
			    m->collections[i]->snapshots[j];

			for (k = 0; k < s->n_chunks; k++)
				qbk_idset_add(set, s->chunks[k].id);
		}
	for (j = 0; j < m->n_snapshots; j++)
		for (k = 0; k < m->snapshots[j]->n_chunks; k++)
			qbk_idset_add(set, m->snapshots[j]->chunks[k].id);
	return 0;
}

struct unref {
	const struct qbk_idset *keep;
	int64_t young_after;	/* objects modified after this are kept */
	struct qbk_buf ids;	/* uint8_t[QBK_ID_LEN] each */
	uint64_t bytes;
	uint64_t n;
	uint64_t young;
};

/* A chunk not in the kept set: remember it. */
static int
unref_chunk(void *cookie, const uint8_t *id,
    const struct qbk_repo_chunk_stat *st, struct qbk_err *err)
{
	struct unref *u = cookie;

	(void)err;
	if (qbk_idset_has(u->keep, id))
		return 0;
	if (st == NULL || st->mtime > u->young_after) {
		u->young++;	/* a running backup may name it yet */
		return 0;
	}
	qbk_buf_add(&u->ids, id, QBK_ID_LEN);
	u->bytes += st->size;
	u->n++;
	return 0;
}

/* 1. Every manifest and every hold: what the policy keeps of the backups
 * ${ids}, in ${res}; refused past --max-delete. */
static int
decide(struct qbk_repo *r, const struct qbk_prune_opts *o, char **ids,
    size_t nids, struct qbk_prune_result *res, struct qbk_err *err)
{
	struct qbk_retention_item *items;
	struct qbk_hold *holds = NULL;
	size_t nholds = 0, i, j;
	int rc = -1;

	if (qbk_hold_list(r, &holds, &nholds, err) != 0)
		return -1;
	res->backups = qbk_xcalloc(nids ? nids : 1, sizeof(*res->backups));
	items = qbk_xcalloc(nids ? nids : 1, sizeof(*items));
	for (i = 0; i < nids; i++) {
		struct qbk_prune_backup *b = &res->backups[i];
		struct qbk_manifest *m;

		if (qbk_job_check(o->cancel, o->lock, err) != 0)
			goto out;
		if (qbk_repo_manifest_read(r, ids[i], &m, err) != 0) {
			qbk_err_prefix(err, "cannot prune");
			if (err->code == QBK_E_NOTFOUND)
				err->code = QBK_E_IO;	/* raced: retry */
			goto out;
		}
		snprintf(b->id, sizeof(b->id), "%s", ids[i]);
		b->time = m->start;
		if (b->time <= 0 && qbk_manifest_id_time(ids[i], &b->time) != 0)
			b->time = 0;
		b->group = group_of(m, o->group_by_tags);
		res->n_backups++;
		qbk_manifest_free(m);
		items[i].id = b->id;
		items[i].time = b->time;
		items[i].group = b->group;
		for (j = 0; j < nholds; j++)
			if (strcmp(holds[j].backup_id, b->id) == 0)
				items[i].held = 1;
	}
	qbk_retention_apply(&o->policy, items, nids);
	for (i = 0; i < nids; i++) {
		res->backups[i].keep = items[i].keep;
		if (items[i].keep == 0)
			res->n_remove++;
	}
	if (!o->dry_run && !o->force && o->max_delete >= 0 &&
	    (long long)res->n_remove > o->max_delete) {
		qbk_err_set(err, QBK_E_USAGE, "refusing to remove %zu backups "
		    "(more than --max-delete %lld)", res->n_remove,
		    o->max_delete);
		qbk_err_hint(err, "check the policy, then rerun with --force "
		    "or a higher --max-delete");
		goto out;
	}
	rc = 0;
out:
	qbk_hold_list_free(holds, nholds);
	free(items);
	return rc;
}

/* 4. Chunks that no kept backup references. */
static int
remove_chunks(struct qbk_repo *r, const struct qbk_prune_opts *o,
    struct qbk_prune_result *res, struct qbk_err *err)
{
	struct unref u = { NULL, 0, QBK_BUF_INIT, 0, 0, 0 };
	struct qbk_idset *keep = qbk_idset_new(1024);
	size_t i;
	int rc = -1;

	for (i = 0; i < res->n_backups; i++) {
		struct qbk_manifest *m;

		if (res->backups[i].keep == 0)
			continue;
		if (qbk_job_check(o->cancel, o->lock, err) != 0 ||
		    qbk_repo_manifest_read(r, res->backups[i].id, &m, err) != 0)
			goto out;
		add_chunks(keep, m);
		qbk_manifest_free(m);
	}
	u.keep = keep;
	u.young_after = (int64_t)time(NULL) - o->grace_s;
	if (qbk_repo_chunk_list(r, unref_chunk, &u, err) < 0)
		goto out;
	for (i = 0; i < u.n && !o->dry_run; i++) {
		if ((i % 1024) == 0 && qbk_job_check(o->cancel, o->lock, err) != 0)
			goto out;
		if (qbk_repo_chunk_delete(r, (const uint8_t *)u.ids.buf +
		    i * QBK_ID_LEN, err) != 0)
			goto out;
	}
	if (!o->dry_run && qbk_repo_flush(r, err) != 0)
		goto out;
	res->chunks_removed = u.n;
	res->bytes_freed = u.bytes;
	res->chunks_young = u.young;
	if (u.young > 0)
		qbk_info("kept %llu unreferenced chunk%s younger than %llds "
		    "([repository] lock_stale): a backup may still name %s",
		    (unsigned long long)u.young, u.young == 1 ? "" : "s",
		    (long long)o->grace_s, u.young == 1 ? "it" : "them");
	rc = 0;
out:
	qbk_buf_release(&u.ids);
	qbk_idset_free(keep);
	return rc;
}

/* 6. Failed runs older than every backup kept: history nobody reports on
 * any more (with no backup kept, those older than QBK_PRUNE_FAILURE_AGE). */
static int
remove_failures(struct qbk_repo *r, const struct qbk_prune_opts *o,
    struct qbk_prune_result *res, struct qbk_err *err)
{
	int64_t oldest = qbk_now() - QBK_PRUNE_FAILURE_AGE;
	size_t i;

	for (i = 0; i < res->n_backups; i++)
		if (res->backups[i].keep != 0 && res->backups[i].time > 0) {
			oldest = res->backups[i].time;
			break;
		}
	if (o->dry_run)
		return 0;
	return qbk_failure_prune(r, oldest, &res->failures_removed, err);
}

int
qbk_prune_run(struct qbk_repo *r, const struct qbk_prune_opts *o,
    struct qbk_prune_result **out, struct qbk_err *err)
{
	struct qbk_prune_result *res;
	char **ids = NULL;
	size_t nids = 0, i;
	int rc = -1;

	*out = res = qbk_xcalloc(1, sizeof(*res));
	res->dry_run = o->dry_run;
	res->policy = o->policy;

	if (qbk_repo_backup_ids(r, &ids, &nids, err) != 0 ||
	    decide(r, o, ids, nids, res, err) != 0)
		goto out;

	/* 2. Manifests first: once gone, the backup is gone, and every
	 * chunk it shared with a kept backup is still there. */
	for (i = 0; i < res->n_backups && !o->dry_run; i++) {
		if (res->backups[i].keep != 0)
			continue;
		if (qbk_job_check(o->cancel, o->lock, err) != 0 ||
		    qbk_repo_manifest_delete(r, res->backups[i].id, err) != 0)
			goto out;
		qbk_info("removed backup %s", res->backups[i].id);
	}

	/* 3. Orphan twins of interrupted commits (a kept backup's main
	 * manifest exists; in a dry run the removed ones' twins do not
	 * count here). */
	if (qbk_repo_manifest_orphans(r, !o->dry_run, &res->copies_removed,
	    err) != 0)
		goto out;

	if (remove_chunks(r, o, res, err) != 0)
		goto out;

	/* 5. Leftovers of interrupted writers. */
	if (!o->dry_run && qbk_repo_remove_stale(r, QBK_PRUNE_STALE_AGE,
	    &res->stale_removed, err) != 0)
		goto out;

	if (remove_failures(r, o, res, err) != 0)
		goto out;
	rc = 0;
out:
	qbk_repo_free_ids(ids, nids);
	return rc;
}

int
qbk_prune_ctx_run(struct qbk_ctx *ctx, int have_keep,
    struct qbk_prune_opts *o, struct qbk_prune_result **out,
    struct qbk_err *err)
{
	struct qbk_repo *repo;

	*out = NULL;
	qbk_prune_opts_from(qbk_ctx_config(ctx), have_keep, o);
	if (qbk_ctx_repo(ctx, o->dry_run ? QBK_CTX_LOCK_SHARED :
	    QBK_CTX_LOCK_EXCLUSIVE, &repo, err) != 0)
		return -1;
	o->lock = qbk_ctx_lock(ctx);
	if (qbk_prune_run(repo, o, out, err) != 0) {
		qbk_ctx_lost_lock(ctx, err);
		return -1;
	}
	return 0;
}

int
qbk_prune_hold_ctx(struct qbk_ctx *ctx, const char *hold, const char *release,
    const char *reason, struct qbk_err *err)
{
	struct qbk_repo *repo;

	if (qbk_ctx_repo(ctx, QBK_CTX_LOCK_SHARED, &repo, err) != 0)
		return -1;
	return hold != NULL ? qbk_hold_set(repo, hold, reason, err) :
	    qbk_hold_release(repo, release, err);
}

int
qbk_prune_parse_group_by(const char *text, struct qbk_prune_opts *o,
    struct qbk_err *err)
{
	if (strcmp(text, "collections") == 0)
		o->group_by_tags = 0;
	else if (strcmp(text, "collections,tags") == 0 ||
	    strcmp(text, "tags,collections") == 0)
		o->group_by_tags = 1;
	else
		return qbk_err_set(err, QBK_E_USAGE, "bad value '%s' for "
		    "'--group-by': expected collections or collections,tags",
		    text);
	return 0;
}

void
qbk_prune_report_json(const struct qbk_prune_result *res, int ok,
    const struct qbk_err *err, struct qbk_buf *out)
{
	json_t *o = json_object(), *list = json_array(), *probs = json_array();
	struct qbk_buf pol = QBK_BUF_INIT;
	char when[QBK_TIME_LEN + 1];
	size_t i, kept = 0;
	unsigned rule;

	json_object_set_new(o, "ok", json_boolean(ok));
	json_object_set_new(o, "dry_run", json_boolean(res != NULL &&
	    res->dry_run));
	if (res != NULL)
		qbk_retention_policy_describe(&res->policy, &pol);
	qbk_buf_addstr(&pol, "");
	json_object_set_new(o, "policy", json_string(pol.buf));
	qbk_buf_release(&pol);
	for (i = 0; res != NULL && i < res->n_backups; i++) {
		const struct qbk_prune_backup *b = &res->backups[i];
		json_t *reasons = json_array();

		for (rule = 0; rule < QBK_RETENTION_NRULES; rule++)
			if (b->keep & (1u << rule))
				json_array_append_new(reasons, json_string(
				    qbk_retention_rule_name(
				    (enum qbk_retention_rule)rule)));
		if (qbk_time_format(b->time, when) != 0)
			when[0] = '\0';
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:b, "
		    "s:o}", "backup_id", b->id, "time", when, "group",
		    b->group, "keep", b->keep != 0, "reasons", reasons));
		kept += b->keep != 0;
	}
	json_object_set_new(o, "backups", list);
	json_object_set_new(o, "kept", json_integer((json_int_t)kept));
	json_object_set_new(o, "removed", json_integer(res != NULL ?
	    (json_int_t)res->n_remove : 0));
	json_object_set_new(o, "chunks_removed", json_integer(res != NULL ?
	    (json_int_t)res->chunks_removed : 0));
	json_object_set_new(o, "chunks_young", json_integer(res != NULL ?
	    (json_int_t)res->chunks_young : 0));
	json_object_set_new(o, "bytes_freed", json_integer(res != NULL ?
	    (json_int_t)res->bytes_freed : 0));
	json_object_set_new(o, "copies_removed", json_integer(res != NULL ?
	    (json_int_t)res->copies_removed : 0));
	json_object_set_new(o, "stale_removed", json_integer(res != NULL ?
	    (json_int_t)res->stale_removed : 0));
	json_object_set_new(o, "failures_removed", json_integer(res != NULL ?
	    (json_int_t)res->failures_removed : 0));
	if (!ok && err != NULL)
		json_array_append_new(probs, json_string(err->msg));
	json_object_set_new(o, "problems", probs);
	qbk_json_dump(o, out, 1);
	qbk_buf_addch(out, '\n');
	json_decref(o);
}

void
qbk_prune_report_text(const struct qbk_prune_result *res, struct qbk_buf *out)
{
	struct qbk_buf b = QBK_BUF_INIT;
	char size[32];
	size_t i;

	if (qbk_retention_policy_empty(&res->policy))
		qbk_buf_addstr(out, "no retention policy configured: keeping "
		    "every backup\n");
	for (i = 0; i < res->n_backups; i++) {
		const struct qbk_prune_backup *k = &res->backups[i];

		b.len = 0;
		qbk_buf_addstr(&b, "");
		qbk_retention_describe(k->keep, &b);
		qbk_buf_addf(out, "%s %s  [%s]%s%s%s\n", k->keep ? "keep  " :
		    "remove", k->id, k->group, k->keep ? "  (" : "", b.buf,
		    k->keep ? ")" : "");
	}
	qbk_buf_release(&b);
	qbk_buf_size_text(res->bytes_freed, size, sizeof(size));
	qbk_buf_addf(out, "%s %zu of %zu backups, %llu chunks, %s%s\n",
	    res->dry_run ? "would remove" : "removed", res->n_remove,
	    res->n_backups, (unsigned long long)res->chunks_removed, size,
	    res->dry_run ? "" : " freed");
	if (res->chunks_young > 0)
		qbk_buf_addf(out, "kept %llu unreferenced chunk%s younger than "
		    "the lock stale limit\n",
		    (unsigned long long)res->chunks_young,
		    res->chunks_young == 1 ? "" : "s");
}

void
qbk_prune_hold_json(const char *id, int ok, struct qbk_buf *out)
{
	qbk_buf_addf(out, "{\"ok\": %s, \"backup_id\": ", ok ? "true" :
	    "false");
	qbk_json_quote(out, id);
	qbk_buf_addstr(out, "}\n");
}
