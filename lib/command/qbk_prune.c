#include <pwd.h>
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
#include "common/qbk_idset.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"
#include "repo/qbk_failure.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "repo/qbk_retention.h"
#include "storage/qbk_store.h"
#include "command/qbk_prune.h"

/*
 * Holds.
 */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
collect_key(void *cookie, const char *key, const struct qbk_store_stat *st,
    struct qbk_err *err)
{
	struct qbk_buf *list = cookie;
	char *dup = qbk_xstrdup(key);

	(void)st;
	(void)err;
	qbk_buf_add(list, &dup, sizeof(dup));
	return 0;
}

/* Keys under ${prefix}, sorted, in ${*keys} (free each and the array). */
static int
list_keys(struct qbk_store *s, const char *prefix, char ***keys, size_t *n,
    struct qbk_err *err)
{
	struct qbk_buf list = QBK_BUF_INIT;
	size_t i;

	*keys = NULL;
	*n = 0;
	if (qbk_store_list(s, prefix, 0, collect_key, &list, err) < 0) {
		for (i = 0; i < list.len / sizeof(char *); i++)
			free(((char **)(void *)list.buf)[i]);
		qbk_buf_release(&list);
		return -1;
	}
	*n = list.len / sizeof(char *);
	*keys = qbk_xcalloc(*n ? *n : 1, sizeof(char *));
	if (*n > 0)
		memcpy(*keys, list.buf, list.len);
	qbk_buf_release(&list);
	qsort(*keys, *n, sizeof(char *), cmp_str);
	return 0;
}

static void
free_keys(char **keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

static void
who_am_i(char *out, size_t size)
{
	char host[256] = "";
	const char *user = getenv("USER");
	struct passwd *pw;

	if (user == NULL || user[0] == '\0') {
		pw = getpwuid(geteuid());
		user = pw != NULL ? pw->pw_name : "?";
	}
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "?");
	snprintf(out, size, "%s@%s", user, host);
}

int
qbk_prune_hold_set(struct qbk_repo *r, const char *id, const char *reason,
    struct qbk_err *err)
{
	struct qbk_manifest *m = NULL;
	struct qbk_buf text = QBK_BUF_INIT, obj = QBK_BUF_INIT;
	char key[128], who[512], when[QBK_TIME_LEN + 1];
	json_t *o;
	int rc = -1;

	if (qbk_repo_manifest_read(r, id, &m, err) != 0)
		return -1;
	qbk_manifest_free(m);
	who_am_i(who, sizeof(who));
	qbk_time_format(qbk_now(), when);
	o = json_pack("{s:s, s:s, s:s, s:s}", "backup_id", id, "who", who,
	    "when", when, "reason", reason != NULL ? reason : "");
	if (o == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot build hold "
		    "record of '%s'", id);
	qbk_json_dump(o, &text, 0);
	json_decref(o);
	snprintf(key, sizeof(key), "holds/%s", id);
	if (qbk_repo_seal(r, key, text.buf, text.len, &obj, err) != 0 ||
	    qbk_store_put(qbk_repo_store(r), key, obj.buf, obj.len, 0,
	    err) != 0)
		goto out;
	rc = 0;
out:
	qbk_buf_release(&text);
	qbk_buf_release(&obj);
	return rc;
}

int
qbk_prune_hold_release(struct qbk_repo *r, const char *id,
    struct qbk_err *err)
{
	char key[128];
	int e;

	if (!qbk_manifest_id_valid(id))
		return qbk_err_set(err, QBK_E_USAGE, "'%s' is not a backup id",
		    id);
	snprintf(key, sizeof(key), "holds/%s", id);
	if ((e = qbk_store_exists(qbk_repo_store(r), key, err)) < 0)
		return -1;
	if (e == 0)
		return qbk_err_set(err, QBK_E_NOTFOUND, "backup '%s' is not "
		    "held", id);
	return qbk_store_delete(qbk_repo_store(r), key, 0, err);
}

static int
hold_read(struct qbk_repo *r, const char *key, struct qbk_prune_hold *h,
    struct qbk_err *err)
{
	struct qbk_buf obj = QBK_BUF_INIT, text = QBK_BUF_INIT;
	json_t *o = NULL;
	const char *id, *who, *when, *reason;
	int rc = -1;

	if (qbk_store_get(qbk_repo_store(r), key, QBK_PRUNE_HOLD_MAX, &obj,
	    err) != 0 ||
	    qbk_repo_unseal(r, key, obj.buf, obj.len, &text, err) != 0)
		goto out;
	if ((o = qbk_json_parse(text.buf, text.len, key, err)) == NULL)
		goto out;
	id = qbk_json_str(o, "backup_id");
	who = qbk_json_str(o, "who");
	when = qbk_json_str(o, "when");
	reason = qbk_json_str(o, "reason");
	if (id == NULL || who == NULL || when == NULL || reason == NULL ||
	    strcmp(id, h->backup_id) != 0) {
		qbk_err_set(err, QBK_E_INTEGRITY, "hold '%s' is malformed",
		    key);
		goto out;
	}
	h->who = qbk_xstrdup(who);
	h->when = qbk_xstrdup(when);
	h->reason = qbk_xstrdup(reason);
	rc = 0;
out:
	qbk_json_decref(o);
	qbk_buf_release(&obj);
	qbk_buf_release(&text);
	return rc;
}

int
qbk_prune_holds(struct qbk_repo *r, struct qbk_prune_hold **out, size_t *n,
    struct qbk_err *err)
{
	char **keys;
	size_t nkeys, i;
	struct qbk_prune_hold *h;

	*out = NULL;
	*n = 0;
	if (list_keys(qbk_repo_store(r), "holds/", &keys, &nkeys, err) != 0)
		return -1;
	h = qbk_xcalloc(nkeys ? nkeys : 1, sizeof(*h));
	for (i = 0; i < nkeys; i++) {
		struct qbk_prune_hold *x = &h[*n];
		struct qbk_err e2 = QBK_ERR_INIT;
		const char *id = keys[i] + strlen("holds/");

		if (!qbk_manifest_id_valid(id))
			continue;
		snprintf(x->backup_id, sizeof(x->backup_id), "%s", id);
		if (hold_read(r, keys[i], x, &e2) != 0) {
			/* Unreadable, but its name still holds the backup:
			 * removing data on a damaged hold is the wrong way
			 * to fail. */
			qbk_warn("%s", e2.msg);
			x->who = qbk_xstrdup("?");
			x->when = qbk_xstrdup("?");
			x->reason = qbk_xstrdup("");
		}
		(*n)++;
	}
	free_keys(keys, nkeys);
	*out = h;
	return 0;
}

void
qbk_prune_holds_free(struct qbk_prune_hold *h, size_t n)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(h[i].who);
		free(h[i].when);
		free(h[i].reason);
	}
	free(h);
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

static int
check_cancel(const struct qbk_prune_opts *o, struct qbk_err *err)
{
	if (o->cancel != NULL && *o->cancel)
		return qbk_err_set(err, QBK_E_INTERRUPTED, "interrupted");
	if (o->lock != NULL && qbk_lock_refresh(o->lock, 0, err) != 0)
		return -1;
	return 0;
}

struct unref {
	const struct qbk_idset *keep;
	int64_t young_after;	/* objects modified after this are kept */
	struct qbk_buf keys;	/* char * each */
	uint64_t bytes;
	uint64_t n;
	uint64_t young;
};

/* data/<2 hex>/<64 hex> not in the kept set: remember it. */
static int
unref_chunk(void *cookie, const char *key, const struct qbk_store_stat *st,
    struct qbk_err *err)
{
	struct unref *u = cookie;
	uint8_t id[QBK_ID_LEN];
	const char *slash = strrchr(key, '/');
	char *dup;

	(void)err;
	if (slash == NULL || strlen(slash + 1) != 2 * QBK_ID_LEN ||
	    qbk_id_from_hex(slash + 1, id) != 0 ||
	    strncmp(key + strlen("data/"), slash + 1, 2) != 0)
		return 0;	/* not a chunk object: not ours to judge */
	if (qbk_idset_has(u->keep, id))
		return 0;
	if (st == NULL || st->mtime > u->young_after) {
		u->young++;	/* a running backup may name it yet */
		return 0;
	}
	dup = qbk_xstrdup(key);
	qbk_buf_add(&u->keys, &dup, sizeof(dup));
	u->bytes += st != NULL ? st->size : 0;
	u->n++;
	return 0;
}

int
qbk_prune_run(struct qbk_repo *r, const struct qbk_prune_opts *o,
    struct qbk_prune_result **out, struct qbk_err *err)
{
	struct qbk_store *s = qbk_repo_store(r);
	struct qbk_prune_result *res;
	struct qbk_retention_item *items = NULL;
	struct qbk_prune_hold *holds = NULL;
	struct qbk_idset *keep = NULL;
	struct unref u = { NULL, 0, QBK_BUF_INIT, 0, 0, 0 };
	char **ids = NULL, **keys = NULL;
	size_t nids = 0, nholds = 0, nkeys = 0, i, j;
	int64_t oldest;
	int rc = -1;

	*out = res = qbk_xcalloc(1, sizeof(*res));
	res->dry_run = o->dry_run;
	res->policy = o->policy;

	/* 1. Every manifest and every hold. */
	if (qbk_repo_backup_ids(r, &ids, &nids, err) != 0 ||
	    qbk_prune_holds(r, &holds, &nholds, err) != 0)
		goto out;
	res->backups = qbk_xcalloc(nids ? nids : 1, sizeof(*res->backups));
	items = qbk_xcalloc(nids ? nids : 1, sizeof(*items));
	for (i = 0; i < nids; i++) {
		struct qbk_prune_backup *b = &res->backups[i];
		struct qbk_manifest *m;

		if (check_cancel(o, err) != 0)
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

	/* 2. Manifests first: once gone, the backup is gone, and every
	 * chunk it shared with a kept backup is still there. */
	for (i = 0; i < nids && !o->dry_run; i++) {
		if (res->backups[i].keep != 0)
			continue;
		if (check_cancel(o, err) != 0 ||
		    qbk_repo_manifest_delete(r, res->backups[i].id, err) != 0)
			goto out;
		qbk_info("removed backup %s", res->backups[i].id);
	}

	/* 3. Orphan twins of interrupted commits. */
	if (list_keys(s, "backups/", &keys, &nkeys, err) != 0)
		goto out;
	for (i = 0; i < nkeys; i++) {
		size_t len = strlen(keys[i]);
		char main_key[128];
		int e;

		if (len < 5 || strcmp(keys[i] + len - 5, ".copy") != 0 ||
		    len - 5 >= sizeof(main_key))
			continue;
		memcpy(main_key, keys[i], len - 5);
		main_key[len - 5] = '\0';
		if ((e = qbk_store_exists(s, main_key, err)) < 0)
			goto out;
		if (e == 0) {
			/* A kept backup's main manifest exists; in a dry run
			 * the removed ones' twins do not count here. */
			res->copies_removed++;
			if (!o->dry_run &&
			    qbk_store_delete(s, keys[i], 0, err) != 0)
				goto out;
		}
	}

	/* 4. Chunks that no kept backup references. */
	keep = qbk_idset_new(1024);
	for (i = 0; i < nids; i++) {
		struct qbk_manifest *m;

		if (res->backups[i].keep == 0)
			continue;
		if (check_cancel(o, err) != 0 ||
		    qbk_repo_manifest_read(r, res->backups[i].id, &m, err) != 0)
			goto out;
		add_chunks(keep, m);
		qbk_manifest_free(m);
	}
	u.keep = keep;
	u.young_after = (int64_t)time(NULL) - o->grace_s;
	if (qbk_store_list(s, "data/", QBK_STORE_LIST_STAT, unref_chunk, &u,
	    err) < 0)
		goto out;
	for (i = 0; i < u.keys.len / sizeof(char *) && !o->dry_run; i++) {
		if ((i % 1024) == 0 && check_cancel(o, err) != 0)
			goto out;
		if (qbk_store_delete(s, ((char **)(void *)u.keys.buf)[i],
		    QBK_STORE_F_LAZY, err) != 0)
			goto out;
	}
	if (!o->dry_run && qbk_store_flush(s, err) != 0)
		goto out;
	res->chunks_removed = u.n;
	res->bytes_freed = u.bytes;
	res->chunks_young = u.young;
	if (u.young > 0)
		qbk_info("kept %llu unreferenced chunk%s younger than %llds "
		    "([repository] lock_stale): a backup may still name %s",
		    (unsigned long long)u.young, u.young == 1 ? "" : "s",
		    (long long)o->grace_s, u.young == 1 ? "it" : "them");

	/* 5. Leftovers of interrupted writers. */
	if (!o->dry_run && qbk_store_remove_stale(s, QBK_PRUNE_STALE_AGE,
	    &res->stale_removed, err) != 0)
		goto out;

	/* 6. Failed runs older than every backup kept: history nobody
	 * reports on any more (with no backup kept, those older than
	 * QBK_PRUNE_FAILURE_AGE). */
	oldest = qbk_now() - QBK_PRUNE_FAILURE_AGE;
	for (i = 0; i < nids; i++)
		if (res->backups[i].keep != 0 && res->backups[i].time > 0) {
			oldest = res->backups[i].time;
			break;
		}
	if (!o->dry_run && qbk_failure_prune(r, oldest,
	    &res->failures_removed, err) != 0)
		goto out;
	rc = 0;
out:
	for (i = 0; i < u.keys.len / sizeof(char *); i++)
		free(((char **)(void *)u.keys.buf)[i]);
	qbk_buf_release(&u.keys);
	qbk_idset_free(keep);
	free_keys(keys, nkeys);
	qbk_prune_holds_free(holds, nholds);
	qbk_repo_free_ids(ids, nids);
	free(items);
	return rc;
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
