#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command/restore/qbk_restore_internal.h"
#include "common/qbk_err.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"
#include "config/qbk_config.h"
#include "repo/qbk_repo.h"

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

/* Collection name of a member "<collection>-<peer id>-YYYY-MM-DD-HH-MM-SS
 * .snapshot" of a full storage snapshot (NOTES 4.5), or NULL.  Caller
 * frees. */
char *
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
void
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

void
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

void
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

void
qbk_restore_member_names_release(struct member_names *mn)
{
	size_t i;

	for (i = 0; i < mn->n; i++)
		free((char *)(uintptr_t)mn->v[i]);
	free(mn->v);
	qbk_buf_release(&mn->list);
}

/* The names the backup holds, for messages. */
void
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
