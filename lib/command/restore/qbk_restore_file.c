#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command/restore/qbk_restore_internal.h"
#include "common/qbk.h"
#include "common/qbk_fs.h"
#include "stream/qbk_extract.h"
#include "stream/qbk_tar.h"

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
	struct qbk_extract *x;
	struct qbk_tar *t;
	struct qbk_tar_member mb;
	const void *data;
	size_t len;
	int rc = -1, n;

	eo.workers = o->workers;
	eo.backup_id = m->backup_id;
	eo.collection = pk->coll;
	eo.cancel = o->cancel;
	if (!pk->member)
		return qbk_extract_run(repo, pk->s, file_write, f, &eo, err);
	eo.collection = NULL;
	if (qbk_extract_open(repo, pk->s, &eo, &x, err) != 0)
		return -1;
	if (qbk_tar_open(qbk_extract_next_cb, NULL, x, &t, err) != 0) {
		qbk_extract_close(x);
		return -1;
	}
	while ((n = qbk_tar_next(t, &mb, err)) > 0) {
		char *c;
		int hit;

		if (mb.type != 'f' ||
		    (c = qbk_restore_member_collection(mb.path)) == NULL)
			continue;
		hit = strcmp(c, pk->coll) == 0;
		free(c);
		if (!hit)
			continue;
		while ((n = qbk_tar_data(t, &data, &len, err)) > 0)
			if (file_write(f, data, len, err) != 0)
				goto out;
		if (n == 0)
			rc = 0;
		goto out;
	}
	if (n == 0)
		qbk_err_set(err, QBK_E_INTEGRITY, "the full storage snapshot "
		    "of backup '%s' holds no snapshot of collection '%s'",
		    m->backup_id, pk->coll);
out:
	qbk_tar_close(t);
	qbk_extract_close(x);
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
