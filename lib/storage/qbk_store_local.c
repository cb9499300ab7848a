#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_fs.h"
#include "common/qbk_log.h"
#include "storage/qbk_store.h"
#include "storage/qbk_store_driver.h"

/*
 * The local folder backend.  An object is the file <root>/<key>, mode 0600,
 * written with qbk_fs_write_atomic(); its folders are created on demand with
 * mode 0700.  Files whose names start with '.' are the backend's own: atomic
 * writes' temporary files, locks/.lock, the flock(2) file of qbk_lock, and
 * the space reserve.
 *
 * The space reserve (when the caller names its folder, reserve_dir: the
 * repository's "locks"): <reserve_dir>/.reserve, RESERVE_SIZE bytes written
 * for real, made after a put under <reserve_dir>/ (a lock record) whenever
 * it is missing.  A put with
 * QBK_STORE_F_RESERVE (an exclusive lock's record) that cannot be written
 * for lack of space (ENOSPC, EDQUOT) is written again after the reserve is
 * removed, so that qbk-prune can take its lock on a full file system and
 * free space.  The next lock record written with space to spare makes the
 * reserve again.
 *
 * Lazy operations (QBK_STORE_F_LAZY) in FILE mode fsync each file before
 * its rename, and remember the folders they changed in a set; flush fsyncs
 * each of them once.  The data/<xx> folders of a backup are thus fsync'd 256
 * times at most per flush instead of once per chunk.
 *
 * In BATCH mode lazy puts are group-committed: the finished temporary files
 * (not fsync'd) queue in a qbk_fs_batch; every BATCH_MAX objects, and at
 * flush, one syncfs(2) writes their data back, then they are renamed; flush
 * ends with another syncfs(2) for the renames.  No file is renamed before its
 * data is on disk.  A failed group commit loses the queued objects, so it is
 * remembered: every later flush (and so every non-lazy put) fails too.
 */

/* The space reserve for lock records (above). */
#define RESERVE_NAME	".reserve"
#define RESERVE_SIZE	(64 * 1024)

/* BATCH mode: group-commit after this many queued objects. */
#define BATCH_MAX	1024

/* Deepest folder nesting that list descends into (keys have 3 levels). */
#define LIST_DEPTH_MAX	8

/* A set of folder paths, open addressing with linear probing. */
struct dirset {
	char **slot;
	size_t cap;		/* 0 or a power of two */
	size_t n;
};

struct local {
	struct qbk_store base;	/* first: a store points here */
	char *root;		/* no trailing '/' (unless it is "/") */
	enum qbk_store_sync sync;
	char *reserve_dir;	/* "<reserve_dir>/", or NULL: no reserve */
	pthread_mutex_t mu;	/* guards the fields below */
	struct dirset dirty;	/* FILE: folders to fsync at flush */
	int batch_dirty;	/* BATCH: a syncfs is due at flush */
	struct qbk_fs_batch *batch;	/* BATCH: queued lazy puts */
	struct qbk_err batch_err;	/* BATCH: a group commit failed */
};

static const struct qbk_store_ops local_ops;

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 14695981039346656037u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211u;
	}
	return h;
}

static void
dirset_insert(struct dirset *d, char *path)
{
	size_t i = (size_t)hash_str(path) & (d->cap - 1);

	while (d->slot[i] != NULL) {
		if (strcmp(d->slot[i], path) == 0) {
			free(path);
			return;
		}
		i = (i + 1) & (d->cap - 1);
	}
	d->slot[i] = path;
	d->n++;
}

/* Add a copy of ${path} unless it is there already. */
static void
dirset_add(struct dirset *d, const char *path)
{
	if (2 * (d->n + 1) > d->cap) {
		struct dirset bigger;
		size_t i;

		bigger.cap = d->cap != 0 ? 2 * d->cap : 64;
		bigger.slot = qbk_xcalloc(bigger.cap, sizeof(char *));
		bigger.n = 0;
		for (i = 0; i < d->cap; i++)
			if (d->slot[i] != NULL)
				dirset_insert(&bigger, d->slot[i]);
		free(d->slot);
		*d = bigger;
	}
	dirset_insert(d, qbk_xstrdup(path));
}

static void
dirset_clear(struct dirset *d)
{
	size_t i;

	for (i = 0; i < d->cap; i++) {
		free(d->slot[i]);
		d->slot[i] = NULL;
	}
	d->n = 0;
}

/* Path of ${key}: "<root>/<key>"; ${*name} points to its last component. */
static char *
key_path(const struct local *l, const char *key, const char **name)
{
	struct qbk_buf b = QBK_BUF_INIT;
	char *path;
	const char *slash;

	qbk_buf_addstr(&b, l->root);
	if (b.buf[b.len - 1] != '/')
		qbk_buf_addch(&b, '/');
	qbk_buf_addstr(&b, key);
	path = qbk_buf_detach(&b, NULL);
	if (name != NULL) {
		slash = strrchr(path, '/');
		*name = slash + 1;
	}
	return path;
}

/* Split "<dir>/<name>" in place: returns the folder, ${name} the rest. */
static const char *
split_dir(char *path, const char *name)
{
	path[name - path - 1] = '\0';
	return path[0] == '\0' ? "/" : path;
}

static void
mark_dirty(struct local *l, const char *dir)
{
	pthread_mutex_lock(&l->mu);
	if (l->sync == QBK_STORE_SYNC_BATCH)
		l->batch_dirty = 1;
	else
		dirset_add(&l->dirty, dir);
	pthread_mutex_unlock(&l->mu);
}

static int
local_flush(struct qbk_store *s, struct qbk_err *err)
{
	struct local *l = (struct local *)s;
	int rc = 0;
	size_t i;

	pthread_mutex_lock(&l->mu);
	if (l->batch != NULL && qbk_fs_batch_count(l->batch) > 0 &&
	    l->batch_err.code == QBK_E_OK) {
		if (qbk_fs_batch_commit(l->batch, l->root, &l->batch_err) == 0)
			l->batch_dirty = 1;
	}
	if (l->batch_err.code != QBK_E_OK) {
		/* Lazy objects were lost: nothing may rely on them. */
		if (err != NULL)
			*err = l->batch_err;
		qbk_err_prefix(err, "lazy writes to '%s' were lost", l->root);
		rc = -1;
	} else if (l->batch_dirty) {
		rc = qbk_fs_syncfs(l->root, err);
		if (rc == 0)
			l->batch_dirty = 0;
	}
	for (i = 0; rc == 0 && i < l->dirty.cap; i++) {
		if (l->dirty.slot[i] == NULL)
			continue;
		if (qbk_fs_fsync_dir(l->dirty.slot[i], err))
			rc = -1;
	}
	/* After a failure everything stays dirty: a retry syncs it all. */
	if (rc == 0)
		dirset_clear(&l->dirty);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

static int
not_found(const struct local *l, const char *key, struct qbk_err *err)
{
	int e = errno;

	qbk_err_set(err, QBK_E_NOTFOUND, "object '%s' not found in '%s'",
	    key, l->root);
	if (err != NULL)
		err->sys_errno = e;
	return -1;
}

/* BATCH mode lazy put: write the temporary file and queue its rename. */
static int
put_batched(struct local *l, char *path, const char *name, const void *data,
    size_t len, unsigned fsflags, struct qbk_err *err)
{
	struct qbk_fs_atomic *a;
	int rc;

	if (qbk_fs_atomic_open(split_dir(path, name), name,
	    fsflags | QBK_FS_NOSYNC, &a, err))
		return -1;
	if (qbk_fs_atomic_write(a, data, len, err)) {
		qbk_fs_atomic_abort(a);
		return -1;
	}
	pthread_mutex_lock(&l->mu);
	rc = qbk_fs_atomic_defer(a, l->batch, err);
	if (rc == 0 && qbk_fs_batch_count(l->batch) >= BATCH_MAX &&
	    l->batch_err.code == QBK_E_OK) {
		if (qbk_fs_batch_commit(l->batch, l->root,
		    &l->batch_err) == 0) {
			l->batch_dirty = 1;
		} else {
			if (err != NULL)
				*err = l->batch_err;
			rc = -1;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

static int put_object(struct qbk_store *, const char *, const void *,
    size_t, unsigned, struct qbk_err *);

/* <root>/<reserve_dir>/.reserve */
static char *
reserve_path(const struct local *l)
{
	struct qbk_buf b = QBK_BUF_INIT;

	qbk_buf_addstr(&b, l->root);
	if (b.buf[b.len - 1] != '/')
		qbk_buf_addch(&b, '/');
	qbk_buf_addstr(&b, l->reserve_dir);
	qbk_buf_addstr(&b, RESERVE_NAME);
	return qbk_buf_detach(&b, NULL);
}

/* Make the reserve if it is missing; quietly nothing if there is no room
 * for it (a partial one is removed). */
static void
make_reserve(struct local *l)
{
	static const char zeros[4096];
	char *path = reserve_path(l);
	size_t done = 0;
	int fd, ok = 1;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		free(path);
		return;		/* there already, or no room for it */
	}
	while (ok && done < RESERVE_SIZE) {
		ssize_t n = write(fd, zeros, sizeof(zeros));

		if (n <= 0 && errno != EINTR)
			ok = 0;
		else if (n > 0)
			done += (size_t)n;
	}
	if (ok && l->sync != QBK_STORE_SYNC_NONE && fsync(fd) == -1)
		ok = 0;
	close(fd);
	if (!ok)
		(void)unlink(path);
	free(path);
}

static int
local_put(struct qbk_store *s, const char *key, const void *data, size_t len,
    unsigned flags, struct qbk_err *err)
{
	struct local *l = (struct local *)s;
	struct qbk_err e = QBK_ERR_INIT;
	char *path;
	int rc;

	if (l->reserve_dir == NULL ||
	    strncmp(key, l->reserve_dir, strlen(l->reserve_dir)) != 0)
		return put_object(s, key, data, len, flags, err);
	rc = put_object(s, key, data, len, flags, &e);
	if (rc == -1 && e.code == QBK_E_NOSPACE &&
	    (flags & QBK_STORE_F_RESERVE)) {
		/* A full file system: spend the reserve on the lock. */
		path = reserve_path(l);
		if (unlink(path) == 0) {
			qbk_warn("'%s' is full: used its space reserve to "
			    "write lock record '%s'", l->root, key);
			e = (struct qbk_err)QBK_ERR_INIT;
			rc = put_object(s, key, data, len, flags, &e);
		}
		free(path);
	}
	if (rc == -1) {
		if (err != NULL)
			*err = e;
		return -1;
	}
	make_reserve(l);
	return rc;
}

static int
put_object(struct qbk_store *s, const char *key, const void *data, size_t len,
    unsigned flags, struct qbk_err *err)
{
	struct local *l = (struct local *)s;
	int lazy = (flags & QBK_STORE_F_LAZY) != 0;
	unsigned fsflags = QBK_FS_MKDIR;
	const char *name;
	const char *dir;
	char *path;
	struct stat st;
	int rc;

	/* Earlier lazy objects become durable before this one is visible. */
	if (!lazy && !(flags & QBK_STORE_F_ALONE) && local_flush(s, err))
		return -1;
	path = key_path(l, key, &name);
	if (flags & QBK_STORE_F_IFABSENT) {
		if (lstat(path, &st) == 0) {
			free(path);
			return 1;
		}
		if (errno != ENOENT && errno != ENOTDIR) {
			qbk_err_sys(err, QBK_E_IO, "cannot stat '%s'", path);
			free(path);
			return -1;
		}
		fsflags |= QBK_FS_NOREPLACE;
	}
	if (lazy && l->sync == QBK_STORE_SYNC_BATCH) {
		rc = put_batched(l, path, name, data, len, fsflags, err);
		free(path);
		return rc;
	}
	if (l->sync == QBK_STORE_SYNC_NONE)
		fsflags |= QBK_FS_NOSYNC;
	else if (lazy)
		fsflags |= QBK_FS_NODIRSYNC;
	dir = split_dir(path, name);
	rc = qbk_fs_write_atomic(dir, name, data, len, fsflags, err);
	if (rc == 0 && lazy && l->sync != QBK_STORE_SYNC_NONE)
		mark_dirty(l, dir);
	free(path);
	return rc;
}

static int
local_get(struct qbk_store *s, const char *key, size_t max,
    struct qbk_buf *out, struct qbk_err *err)
{
	struct local *l = (struct local *)s;
	char *path = key_path(l, key, NULL);
	int rc;

	rc = qbk_fs_read_file(path, max, out, err);
	if (rc != 0 && err != NULL && err->code == QBK_E_NOTFOUND)
		not_found(l, key, err);
	free(path);
	return rc;
}

static int
local_get_range(struct qbk_store *s, const char *key, uint64_t offset,
    size_t len, struct qbk_buf *out, struct qbk_err *err)
{
	struct local *l = (struct local *)s;
	char *path = key_path(l, key, NULL);
	struct stat st;
	size_t done = 0;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			not_found(l, key, err);
		else
			qbk_err_sys(err, QBK_E_IO, "cannot open '%s'", path);
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		qbk_err_sys(err, QBK_E_IO, "cannot stat '%s'", path);
		goto out;
	}
	if (offset > (uint64_t)st.st_size ||
	    len > (uint64_t)st.st_size - offset) {
		qbk_store_past_end(key, offset, len, (uint64_t)st.st_size, err);
		goto out;
	}
	qbk_buf_grow(out, len);
	while (done < len) {
		ssize_t n = pread(fd, out->buf + done, len - done,
		    (off_t)(offset + done));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			qbk_err_sys(err, QBK_E_IO, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0) {	/* shrunk since fstat: not a stored object */
			qbk_err_set(err, QBK_E_IO, "'%s' ended early", path);
			goto out;
		}
		done += (size_t)n;
	}
	qbk_buf_setlen(out, len);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(path);
	return rc;
}

static int
local_get_stream(struct qbk_store *s, const char *key, qbk_store_read_fn *fn,
    void *cookie, struct qbk_err *err)
{
	struct local *l = (struct local *)s;
	struct qbk_err e = QBK_ERR_INIT;
	char *path = key_path(l, key, NULL);
	int rc;

	rc = qbk_fs_read_stream(path, fn, cookie, &e);
	if (rc != 0) {
		if (e.code == QBK_E_NOTFOUND && e.sys_errno == ENOENT)
			not_found(l, key, &e);
		if (err != NULL)
			*err = e;
	}
	free(path);
	return rc;
}

static int
local_stat(struct qbk_store *s, const char *key, struct qbk_store_stat *out,
    struct qbk_err *err)
{
	struct local *l = (struct local *)s;
	char *path = key_path(l, key, NULL);
	struct stat st;

	if (stat(path, &st) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			not_found(l, key, err);
		else
			qbk_err_sys(err, QBK_E_IO, "cannot stat '%s'", path);
		free(path);
		return -1;
	}
	free(path);
	if (!S_ISREG(st.st_mode)) {
		errno = EISDIR;
		return not_found(l, key, err);
	}
	out->size = (uint64_t)st.st_size;
	out->mtime = (int64_t)st.st_mtime;
	return 0;
}

struct walk {
	struct local *l;
	unsigned flags;
	qbk_store_list_fn *fn;
	void *cookie;
	struct qbk_buf key;	/* key of the current folder, with '/' */
	struct qbk_buf path;	/* its path */
};

/*
 * List the folder w->path (key prefix w->key).  At the top level only names
 * starting with ${namepfx} count; below it everything does.
 */
static int
walk_dir(struct walk *w, const char *namepfx, int depth, struct qbk_err *err)
{
	size_t keylen = w->key.len, pathlen = w->path.len;
	size_t pfxlen = strlen(namepfx);
	struct dirent *de;
	int rc = 0;
	DIR *d;

	if ((d = opendir(w->path.buf)) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return qbk_err_sys(err, QBK_E_IO, "cannot open folder '%s'",
		    w->path.buf);
	}
	for (;;) {
		struct qbk_store_stat sst;
		struct stat st;
		int isdir, isreg;

		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				rc = qbk_err_sys(err, QBK_E_IO,
				    "cannot read folder '%s'", w->path.buf);
			break;
		}
		/* Skips ".", "..", temporary files and locks/.lock. */
		if (de->d_name[0] == '.' ||
		    strncmp(de->d_name, namepfx, pfxlen) != 0)
			continue;
		qbk_buf_setlen(&w->key, keylen);
		qbk_buf_setlen(&w->path, pathlen);
		qbk_buf_addstr(&w->key, de->d_name);
		if (pathlen == 0 || w->path.buf[pathlen - 1] != '/')
			qbk_buf_addch(&w->path, '/');
		qbk_buf_addstr(&w->path, de->d_name);
		isdir = de->d_type == DT_DIR;
		isreg = de->d_type == DT_REG;
		if (de->d_type == DT_UNKNOWN || de->d_type == DT_LNK ||
		    (isreg && (w->flags & QBK_STORE_LIST_STAT))) {
			/* Follows symbolic links to files; a link to a
			 * folder is not descended into (no loops). */
			if (stat(w->path.buf, &st) == -1) {
				if (errno == ENOENT)
					continue;
				rc = qbk_err_sys(err, QBK_E_IO,
				    "cannot stat '%s'", w->path.buf);
				break;
			}
			isreg = S_ISREG(st.st_mode);
			isdir = S_ISDIR(st.st_mode) && de->d_type != DT_LNK;
			sst.size = (uint64_t)st.st_size;
			sst.mtime = (int64_t)st.st_mtime;
		}
		if (isdir) {
			if (depth >= LIST_DEPTH_MAX)
				continue;
			qbk_buf_addch(&w->key, '/');
			if ((rc = walk_dir(w, "", depth + 1, err)) != 0)
				break;
			continue;
		}
		if (!isreg)
			continue;
		if (!qbk_store_key_valid(w->key.buf)) {
			qbk_detail("ignoring '%s': not a repository object",
			    w->path.buf);
			continue;
		}
		rc = w->fn(w->cookie, w->key.buf,
		    (w->flags & QBK_STORE_LIST_STAT) ? &sst : NULL, err);
		if (rc != 0) {
			if (rc < 0)
				rc = -1;
			break;
		}
	}
	qbk_buf_setlen(&w->key, keylen);
	qbk_buf_setlen(&w->path, pathlen);
	closedir(d);
	return rc;
}

static int
local_list(struct qbk_store *s, const char *prefix, unsigned flags,
    qbk_store_list_fn *fn, void *cookie, struct qbk_err *err)
{
	struct local *l = (struct local *)s;
	const char *slash = strrchr(prefix, '/');
	size_t dirlen = slash != NULL ? (size_t)(slash - prefix) + 1 : 0;
	struct walk w;
	int rc;

	w.l = l;
	w.flags = flags;
	w.fn = fn;
	w.cookie = cookie;
	qbk_buf_init(&w.key);
	qbk_buf_init(&w.path);
	qbk_buf_add(&w.key, prefix, dirlen);
	qbk_buf_addstr(&w.path, l->root);
	if (dirlen > 0) {
		if (w.path.buf[w.path.len - 1] != '/')
			qbk_buf_addch(&w.path, '/');
		qbk_buf_add(&w.path, prefix, dirlen - 1);
	}
	rc = walk_dir(&w, prefix + dirlen, 0, err);
	qbk_buf_release(&w.key);
	qbk_buf_release(&w.path);
	return rc;
}

static int
local_del(struct qbk_store *s, const char *key, unsigned flags,
    struct qbk_err *err)
{
	struct local *l = (struct local *)s;
	int lazy = (flags & QBK_STORE_F_LAZY) != 0;
	const char *name;
	const char *dir;
	char *path;
	int rc = 0;

	if (!lazy && !(flags & QBK_STORE_F_ALONE) && local_flush(s, err))
		return -1;
	path = key_path(l, key, &name);
	if (unlink(path) == -1) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = qbk_err_sys(err, QBK_E_IO, "cannot remove '%s'",
			    path);
		free(path);
		return rc;
	}
	dir = split_dir(path, name);
	if (l->sync == QBK_STORE_SYNC_NONE)
		;
	else if (lazy)
		mark_dirty(l, dir);
	else
		rc = qbk_fs_fsync_dir(dir, err);
	free(path);
	return rc;
}

static int
local_remove_stale(struct qbk_store *s, time_t max_age, size_t *removed,
    struct qbk_err *err)
{
	struct local *l = (struct local *)s;

	return qbk_fs_remove_stale_temps(l->root, max_age, 1, removed, err);
}

static int
local_host_lock(struct qbk_store *s, int exclusive, void **token,
    struct qbk_err *err)
{
	struct local *l = (struct local *)s;
	struct qbk_buf path = QBK_BUF_INIT;
	int fd, rc;

	*token = NULL;
	qbk_buf_addstr(&path, l->root);
	if (path.buf[path.len - 1] != '/')
		qbk_buf_addch(&path, '/');
	qbk_buf_addstr(&path, "locks");
	if (qbk_fs_mkdir_p(path.buf, l->sync == QBK_STORE_SYNC_NONE ?
	    QBK_FS_NOSYNC : 0, err))
		goto err0;
	qbk_buf_addstr(&path, "/.lock");
	do
		fd = open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	while (fd == -1 && errno == EINTR);
	/* A read-only repository (mount, snapshot, permissions): flock(2)
	 * works on a descriptor open for reading too. */
	if (fd == -1 && (errno == EROFS || errno == EACCES ||
	    errno == EPERM || errno == ENOSPC || errno == EDQUOT)) {
		do
			fd = open(path.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		while (fd == -1 && errno == EINTR);
	}
	if (fd == -1) {
		qbk_err_sys(err, QBK_E_IO, "cannot open lock file '%s'",
		    path.buf);
		goto err0;
	}
	do
		rc = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
	while (rc == -1 && errno == EINTR);
	if (rc == -1) {
		if (errno == EWOULDBLOCK) {
			rc = 1;
		} else if (errno == ENOLCK || errno == EOPNOTSUPP ||
		    errno == ENOSYS) {
			/* Lock records alone still protect the repository. */
			qbk_warn("cannot flock '%s' (%s): relying on lock "
			    "records only", path.buf, strerror(errno));
			rc = 0;
		} else {
			qbk_err_sys(err, QBK_E_IO, "cannot flock '%s'",
			    path.buf);
		}
		close(fd);
		qbk_buf_release(&path);
		return rc;
	}
	*token = qbk_xmalloc(sizeof(int));
	*(int *)*token = fd;
	qbk_buf_release(&path);
	return 0;

err0:
	qbk_buf_release(&path);
	return -1;
}

static void
local_host_unlock(struct qbk_store *s, void *token)
{
	(void)s;
	/* Closing the only descriptor of the open file releases the flock. */
	close(*(int *)token);
	free(token);
}

static int
local_close(struct qbk_store *s, struct qbk_err *err)
{
	struct local *l = (struct local *)s;

	(void)err;
	if (l->dirty.n != 0 || l->batch_dirty ||
	    (l->batch != NULL && qbk_fs_batch_count(l->batch) > 0))
		qbk_debug("closing '%s' with lazy changes not flushed",
		    l->root);
	/* Queued objects are dropped: nothing committed them. */
	qbk_fs_batch_free(l->batch);
	dirset_clear(&l->dirty);
	free(l->dirty.slot);
	pthread_mutex_destroy(&l->mu);
	free(l->root);
	free(l->reserve_dir);
	free(l->base.location);
	free(l);
	return 0;
}

static const struct qbk_store_ops local_ops = {
	"local",
	local_put,
	local_get,
	local_get_range,
	local_get_stream,
	local_stat,
	local_list,
	local_del,
	local_flush,
	local_remove_stale,
	local_host_lock,
	local_host_unlock,
	local_close,
	NULL,
};

int
qbk_store_local_parse(const char *path, struct qbk_store_loc *loc,
    struct qbk_err *err)
{
	struct qbk_buf b = QBK_BUF_INIT;
	size_t n = strlen(path);

	(void)err;
	while (n > 1 && path[n - 1] == '/')
		n--;
	qbk_buf_add(&b, path, n);
	loc->text = qbk_buf_detach(&b, NULL);
	return 0;
}

int
qbk_store_local_open(const char *path, const struct qbk_store_opts *opts,
    struct qbk_store **out, struct qbk_err *err)
{
	struct qbk_store_opts defaults = QBK_STORE_OPTS_INIT;
	struct local *l;
	struct stat st;
	size_t len;

	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if (path == NULL || *path == '\0')
		return qbk_err_set(err, QBK_E_CONFIG,
		    "no repository location given");
	if (stat(path, &st) == -1) {
		/* A location that cannot be a folder is the operator's
		 * mistake (exit 2), like one that does not exist. */
		if (errno == ENOTDIR)
			return qbk_err_set(err, QBK_E_CONFIG,
			    "repository '%s' is not a folder: part of its "
			    "path is a file", path);
		if (errno != ENOENT)
			return qbk_err_sys(err, QBK_E_IO,
			    "cannot access repository '%s'", path);
		if (!opts->create) {
			qbk_err_sys(err, QBK_E_NOTFOUND,
			    "repository '%s' does not exist", path);
			qbk_err_hint(err, "check the location, or create a "
			    "repository with qbk-init");
			return -1;
		}
		if (qbk_fs_mkdir_p(path, opts->sync == QBK_STORE_SYNC_NONE ?
		    QBK_FS_NOSYNC : 0, err))
			return -1;
	} else if (!S_ISDIR(st.st_mode)) {
		return qbk_err_set(err, QBK_E_CONFIG,
		    "repository '%s' is not a folder", path);
	}
	l = qbk_xcalloc(1, sizeof(*l));
	l->base.ops = &local_ops;
	l->base.location = qbk_xstrdup(path);
	l->root = qbk_xstrdup(path);
	len = strlen(l->root);
	while (len > 1 && l->root[len - 1] == '/')
		l->root[--len] = '\0';
	l->sync = opts->sync;
	if (opts->reserve_dir != NULL) {
		struct qbk_buf b = QBK_BUF_INIT;

		qbk_buf_addf(&b, "%s/", opts->reserve_dir);
		l->reserve_dir = qbk_buf_detach(&b, NULL);
	}
	if (l->sync == QBK_STORE_SYNC_BATCH)
		l->batch = qbk_fs_batch_new();
	qbk_err_clear(&l->batch_err);
	pthread_mutex_init(&l->mu, NULL);
	*out = &l->base;
	return 0;
}
