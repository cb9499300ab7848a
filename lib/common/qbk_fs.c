/* renameat2(2) with RENAME_NOREPLACE is a GNU extension. */
#define _GNU_SOURCE

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_log.h"
#include "common/qbk_fs.h"

/* Deepest folder nesting that qbk_fs_remove_stale_temps() descends into. */
#define WALK_DEPTH_MAX	16

/* Size of the pieces qbk_fs_read_stream() reads. */
#define STREAM_PIECE	(1024 * 1024)

struct qbk_fs_atomic {
	int fd;
	unsigned flags;
	int failed;		/* a write failed: only abort is possible */
	char *dir;
	char *tmp;		/* "<dir>/.<name>.tmp.<pid>.<rand>" */
	char *final;		/* "<dir>/<name>" */
	struct qbk_fs_temp *reg;
};

/*
 * The temp-file registry.  Nodes are never freed: a registration takes a
 * free node (or pushes a new one on the lock-free list) and gives it back
 * when done.  qbk_fs_cleanup_temps() may run in a signal handler, so the
 * list is walked with atomics only, and each node has a state:
 *   FREE -> BUSY (the owner is writing the path) -> LIVE (registered)
 *   LIVE -> FREE (unregistered by its owner)
 *   LIVE -> CLEANING (cleanup is unlinking the path) -> DONE (unlinked)
 *   DONE -> FREE (by the owner's unregister, the only one who may reuse it)
 * Cleanup reads a path only after moving the node from LIVE to CLEANING, so
 * the path cannot be rewritten under it.
 */
enum { T_FREE, T_BUSY, T_LIVE, T_CLEANING, T_DONE };

struct qbk_fs_temp {
	atomic_int state;
	struct qbk_fs_temp *next;	/* set once, before publication */
	char path[QBK_FS_PATH_MAX + 1];
};

static _Atomic(struct qbk_fs_temp *) temps;
static atomic_uint tmp_counter;

int
qbk_fs_temp_register(const char *path, struct qbk_fs_temp **out,
    struct qbk_err *err)
{
	struct qbk_fs_temp *t;
	size_t len = strlen(path);

	*out = NULL;
	if (len > QBK_FS_PATH_MAX)
		return qbk_err_set(err, QBK_E_IO, "path too long: '%.64s...'",
		    path);
	for (t = atomic_load(&temps); t != NULL; t = t->next) {
		int expect = T_FREE;

		if (atomic_compare_exchange_strong(&t->state, &expect,
		    T_BUSY))
			break;
	}
	if (t == NULL) {
		t = qbk_xmalloc(sizeof(*t));
		atomic_init(&t->state, T_BUSY);
		t->next = atomic_load(&temps);
		while (!atomic_compare_exchange_weak(&temps, &t->next, t))
			;
	}
	memcpy(t->path, path, len + 1);
	atomic_store(&t->state, T_LIVE);
	*out = t;
	return 0;
}

void
qbk_fs_temp_unregister(struct qbk_fs_temp *t)
{
	int expect;

	if (t == NULL)
		return;
	for (;;) {
		expect = T_LIVE;
		if (atomic_compare_exchange_strong(&t->state, &expect, T_FREE))
			return;
		if (expect == T_DONE) {
			atomic_store(&t->state, T_FREE);
			return;
		}
		if (expect != T_CLEANING)
			return;	/* not registered: nothing to do */
		/* Another thread is unlinking it right now. */
		sched_yield();
	}
}

void
qbk_fs_cleanup_temps(void)
{
	struct qbk_fs_temp *t;
	int saved = errno;

	for (t = atomic_load(&temps); t != NULL; t = t->next) {
		int expect = T_LIVE;

		if (!atomic_compare_exchange_strong(&t->state, &expect,
		    T_CLEANING))
			continue;
		(void)unlink(t->path);
		atomic_store(&t->state, T_DONE);
	}
	errno = saved;
}

static char *
join(const char *dir, const char *name)
{
	struct qbk_buf b = QBK_BUF_INIT;

	qbk_buf_addstr(&b, dir);
	if (b.len > 0 && b.buf[b.len - 1] != '/')
		qbk_buf_addch(&b, '/');
	qbk_buf_addstr(&b, name);
	return qbk_buf_detach(&b, NULL);
}

static uint32_t
random32(void)
{
	uint32_t r;
	struct timespec ts;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* No entropy yet (early boot): a unique-enough fallback; O_EXCL
	 * catches collisions anyway. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec * 2654435761u ^
	    atomic_fetch_add(&tmp_counter, 1) * 40503u;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
name_ok(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= QBK_FS_NAME_MAX && strchr(name, '/') == NULL &&
	    strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static void
atomic_free(struct qbk_fs_atomic *a)
{
	free(a->dir);
	free(a->tmp);
	free(a->final);
	free(a);
}

int
qbk_fs_atomic_open(const char *dir, const char *name, unsigned flags,
    struct qbk_fs_atomic **out, struct qbk_err *err)
{
	struct qbk_fs_atomic *a;
	int tries, mkdir_done = 0;

	*out = NULL;
	if (!name_ok(name)) {
		qbk_err_set(err, QBK_E_INTERNAL, "invalid file name '%s'",
		    name);
		return -1;
	}
	a = qbk_xcalloc(1, sizeof(*a));
	a->fd = -1;
	a->flags = flags;
	a->dir = qbk_xstrdup(dir);
	a->final = join(dir, name);

	for (tries = 0; tries < 16; tries++) {
		struct qbk_buf b = QBK_BUF_INIT;

		qbk_buf_addstr(&b, dir);
		if (b.len > 0 && b.buf[b.len - 1] != '/')
			qbk_buf_addch(&b, '/');
		qbk_buf_addf(&b, ".%s.tmp.%ld.%08x", name, (long)getpid(),
		    (unsigned)random32());
		free(a->tmp);
		a->tmp = qbk_buf_detach(&b, NULL);
		a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (a->fd != -1)
			break;
		if (errno == EINTR || errno == EEXIST)
			continue;
		if (errno == ENOENT && (flags & QBK_FS_MKDIR) && !mkdir_done) {
			mkdir_done = 1;
			if (qbk_fs_mkdir_p(dir, flags & QBK_FS_NOSYNC, err))
				goto err0;
			continue;
		}
		break;
	}
	if (a->fd == -1) {
		qbk_err_sys(err, QBK_E_IO, "cannot create '%s'", a->tmp);
		goto err0;
	}
	/* fchmod, not open's mode: the umask (0077 in qbk's units) would
	 * take the read bits away again. */
	if ((flags & QBK_FS_READABLE) && fchmod(a->fd, 0644) != 0) {
		qbk_err_sys(err, QBK_E_IO, "cannot chmod '%s'", a->tmp);
		goto err1;
	}
	if (qbk_fs_temp_register(a->tmp, &a->reg, err))
		goto err1;
	*out = a;
	return 0;

err1:
	close(a->fd);
	unlink(a->tmp);
err0:
	atomic_free(a);
	return -1;
}

int
qbk_fs_atomic_write(struct qbk_fs_atomic *a, const void *data, size_t len,
    struct qbk_err *err)
{
	if (a->failed)
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "write to '%s' after a failure", a->final);
	if (write_all(a->fd, data, len) == -1) {
		a->failed = 1;
		return qbk_err_sys(err, QBK_E_IO, "cannot write '%s'",
		    a->final);
	}
	return 0;
}

void
qbk_fs_atomic_abort(struct qbk_fs_atomic *a)
{
	int saved = errno;

	if (a == NULL)
		return;
	if (a->fd != -1)
		close(a->fd);
	if (unlink(a->tmp) == -1 && errno != ENOENT)
		qbk_warn("cannot remove temporary file '%s': %s", a->tmp,
		    strerror(errno));
	qbk_fs_temp_unregister(a->reg);
	atomic_free(a);
	errno = saved;
}

const char *
qbk_fs_atomic_path(const struct qbk_fs_atomic *a)
{
	return a->tmp;
}

/*
 * Move the temporary file to its final name without replacing an existing
 * file.  renameat2(RENAME_NOREPLACE) does it in one step where the file
 * system supports it; link(2) + unlink(2) elsewhere; and on a file system
 * without hard links (some FUSE and SMB mounts) a check followed by a plain
 * rename, whose race can only replace a file by one with the same name,
 * which for content-addressed objects means the same content.  Returns 0
 * (moved), 1 (the name existed) or -1 with errno.
 */
static int
rename_noreplace(const char *tmp, const char *final)
{
	struct stat st;

	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		goto exists;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -1;
	if (link(tmp, final) == 0) {
		(void)unlink(tmp);
		return 0;
	}
	if (errno == EEXIST)
		goto exists;
	if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
		return -1;
	if (lstat(final, &st) == 0)
		goto exists;
	return rename(tmp, final);

exists:
	(void)unlink(tmp);
	return 1;
}

int
qbk_fs_atomic_commit(struct qbk_fs_atomic *a, struct qbk_err *err)
{
	int rc;

	if (a->failed) {
		qbk_err_set(err, QBK_E_INTERNAL,
		    "cannot commit '%s' after a failed write", a->final);
		goto err0;
	}
	if (!(a->flags & QBK_FS_NOSYNC) && fsync(a->fd) == -1) {
		qbk_err_sys(err, QBK_E_IO, "cannot fsync '%s'", a->tmp);
		goto err0;
	}
	rc = close(a->fd);
	a->fd = -1;
	/* Linux closes the descriptor even when close() says EINTR. */
	if (rc == -1 && errno != EINTR) {
		qbk_err_sys(err, QBK_E_IO, "cannot close '%s'", a->tmp);
		goto err0;
	}
	if (a->flags & QBK_FS_NOREPLACE)
		rc = rename_noreplace(a->tmp, a->final);
	else
		rc = rename(a->tmp, a->final);
	if (rc == -1) {
		qbk_err_sys(err, QBK_E_IO, "cannot rename '%s' to '%s'",
		    a->tmp, a->final);
		goto err0;
	}
	qbk_fs_temp_unregister(a->reg);
	a->reg = NULL;
	if (rc == 0 && !(a->flags & (QBK_FS_NOSYNC | QBK_FS_NODIRSYNC)) &&
	    qbk_fs_fsync_dir(a->dir, err)) {
		atomic_free(a);
		return -1;
	}
	atomic_free(a);
	return rc;

err0:
	qbk_fs_atomic_abort(a);
	return -1;
}

struct batch_entry {
	char *tmp, *final;
	unsigned flags;
	struct qbk_fs_temp *reg;
};

struct qbk_fs_batch {
	struct batch_entry *v;
	size_t n, cap;
};

struct qbk_fs_batch *
qbk_fs_batch_new(void)
{
	return qbk_xcalloc(1, sizeof(struct qbk_fs_batch));
}

size_t
qbk_fs_batch_count(const struct qbk_fs_batch *b)
{
	return b->n;
}

int
qbk_fs_atomic_defer(struct qbk_fs_atomic *a, struct qbk_fs_batch *b,
    struct qbk_err *err)
{
	struct batch_entry *e;
	int rc;

	if (a->failed) {
		qbk_err_set(err, QBK_E_INTERNAL,
		    "cannot commit '%s' after a failed write", a->final);
		goto err0;
	}
	if (!(a->flags & QBK_FS_NOSYNC) && fsync(a->fd) == -1) {
		qbk_err_sys(err, QBK_E_IO, "cannot fsync '%s'", a->tmp);
		goto err0;
	}
	rc = close(a->fd);
	a->fd = -1;
	if (rc == -1 && errno != EINTR) {
		qbk_err_sys(err, QBK_E_IO, "cannot close '%s'", a->tmp);
		goto err0;
	}
	if (b->n == b->cap) {
		b->cap = b->cap != 0 ? 2 * b->cap : 256;
		b->v = qbk_xrealloc(b->v, b->cap * sizeof(*b->v));
	}
	e = &b->v[b->n++];
	/* Hand-over: the paths and the registration now belong to ${b}. */
	e->tmp = a->tmp;
	e->final = a->final;
	e->flags = a->flags;
	e->reg = a->reg;
	free(a->dir);
	free(a);
	return 0;

err0:
	qbk_fs_atomic_abort(a);
	return -1;
}

static void
entry_drop(struct batch_entry *e)
{
	if (unlink(e->tmp) == -1 && errno != ENOENT)
		qbk_warn("cannot remove temporary file '%s': %s", e->tmp,
		    strerror(errno));
	qbk_fs_temp_unregister(e->reg);
	free(e->tmp);
	free(e->final);
}

static void
batch_drop_from(struct qbk_fs_batch *b, size_t i)
{
	for (; i < b->n; i++)
		entry_drop(&b->v[i]);
	b->n = 0;
}

int
qbk_fs_syncfs(const char *path, struct qbk_err *err)
{
	int fd;

	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd == -1 && errno == EINTR);
	if (fd == -1)
		return qbk_err_sys(err, QBK_E_IO, "cannot open '%s'", path);
	if (syncfs(fd) == -1) {
		qbk_err_sys(err, QBK_E_IO,
		    "cannot sync the file system of '%s'", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
qbk_fs_batch_commit(struct qbk_fs_batch *b, const char *sync_path,
    struct qbk_err *err)
{
	size_t i;
	int rc;

	if (b->n == 0)
		return 0;
	/* Every file's data reaches the disk before any name does. */
	if (sync_path != NULL && qbk_fs_syncfs(sync_path, err)) {
		batch_drop_from(b, 0);
		return -1;
	}
	for (i = 0; i < b->n; i++) {
		struct batch_entry *e = &b->v[i];

		if (e->flags & QBK_FS_NOREPLACE)
			rc = rename_noreplace(e->tmp, e->final);
		else
			rc = rename(e->tmp, e->final);
		if (rc == -1) {
			qbk_err_sys(err, QBK_E_IO,
			    "cannot rename '%s' to '%s'", e->tmp, e->final);
			batch_drop_from(b, i);
			return -1;
		}
		qbk_fs_temp_unregister(e->reg);
		free(e->tmp);
		free(e->final);
	}
	b->n = 0;
	return 0;
}

void
qbk_fs_batch_free(struct qbk_fs_batch *b)
{
	if (b == NULL)
		return;
	batch_drop_from(b, 0);
	free(b->v);
	free(b);
}

int
qbk_fs_write_atomic(const char *dir, const char *name, const void *data,
    size_t len, unsigned flags, struct qbk_err *err)
{
	struct qbk_fs_atomic *a;

	if (qbk_fs_atomic_open(dir, name, flags, &a, err))
		return -1;
	if (qbk_fs_atomic_write(a, data, len, err)) {
		qbk_fs_atomic_abort(a);
		return -1;
	}
	return qbk_fs_atomic_commit(a, err);
}

int
qbk_fs_fsync_dir(const char *path, struct qbk_err *err)
{
	int fd, rc;

	do
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (fd == -1 && errno == EINTR);
	if (fd == -1)
		return qbk_err_sys(err, QBK_E_IO, "cannot open folder '%s'",
		    path);
	rc = fsync(fd);
	if (rc == -1 && errno == EINVAL)
		rc = 0;	/* this file system cannot sync folders */
	if (rc == -1) {
		qbk_err_sys(err, QBK_E_IO, "cannot fsync folder '%s'", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
qbk_fs_mkdir_p(const char *path, unsigned flags, struct qbk_err *err)
{
	char *p, *s;
	size_t len;

	if (is_dir(path))
		return 0;
	p = qbk_xstrdup(path);
	len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	/* Create each component in turn, skipping the leading '/'. */
	for (s = p + 1;; s++) {
		int last = (*s == '\0');

		if (!last && *s != '/')
			continue;
		if (s[-1] == '/') {	/* "a//b" */
			if (last)
				break;
			continue;
		}
		*s = '\0';
		if (mkdir(p, 0700) == 0) {
			if (!(flags & QBK_FS_NOSYNC)) {
				char *slash = strrchr(p, '/');
				int rc;

				if (slash == NULL) {
					rc = qbk_fs_fsync_dir(".", err);
				} else if (slash == p) {
					rc = qbk_fs_fsync_dir("/", err);
				} else {
					*slash = '\0';
					rc = qbk_fs_fsync_dir(p, err);
					*slash = '/';
				}
				if (rc)
					goto err0;
			}
		} else if (errno != EEXIST || !is_dir(p)) {
			if (errno == EEXIST)
				errno = ENOTDIR;
			qbk_err_sys(err, QBK_E_IO, "cannot create folder '%s'",
			    p);
			goto err0;
		}
		if (last)
			break;
		*s = '/';
	}
	free(p);
	return 0;

err0:
	free(p);
	return -1;
}

static int
open_read(const char *path, struct stat *st, struct qbk_err *err)
{
	int fd;

	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd == -1 && errno == EINTR);
	if (fd == -1) {
		if (errno == ENOENT)
			return qbk_err_sys(err, QBK_E_NOTFOUND,
			    "cannot open '%s'", path);
		return qbk_err_sys(err, QBK_E_IO, "cannot open '%s'", path);
	}
	if (fstat(fd, st) == -1) {
		qbk_err_sys(err, QBK_E_IO, "cannot stat '%s'", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		qbk_err_set(err, QBK_E_IO, "'%s' is not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

static ssize_t
read_some(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n == -1 && errno == EINTR);
	return n;
}

int
qbk_fs_read_file(const char *path, size_t max, struct qbk_buf *out,
    struct qbk_err *err)
{
	struct stat st;
	int fd;

	qbk_buf_reset(out);
	if ((fd = open_read(path, &st, err)) == -1)
		return -1;
	if ((uint64_t)st.st_size > max) {
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "'%s' is larger than %zu bytes", path, max);
		goto err0;
	}
	qbk_buf_grow(out, (size_t)st.st_size + 1);
	for (;;) {
		ssize_t n;

		/* Read one byte past the end to see growth. */
		if (out->alloc - out->len < 2)
			qbk_buf_grow(out, 4096);
		n = read_some(fd, out->buf + out->len,
		    out->alloc - out->len - 1);
		if (n == -1) {
			qbk_err_sys(err, QBK_E_IO, "cannot read '%s'", path);
			goto err0;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		if (out->len > max) {
			qbk_err_set(err, QBK_E_INTEGRITY,
			    "'%s' is larger than %zu bytes", path, max);
			goto err0;
		}
	}
	out->buf[out->len] = '\0';
	close(fd);
	return 0;

err0:
	close(fd);
	qbk_buf_release(out);
	return -1;
}

int
qbk_fs_read_stream(const char *path,
    int (*fn)(void *, const void *, size_t, struct qbk_err *), void *cookie,
    struct qbk_err *err)
{
	struct stat st;
	char *buf;
	int fd;

	if ((fd = open_read(path, &st, err)) == -1)
		return -1;
	buf = qbk_xmalloc(STREAM_PIECE);
	for (;;) {
		ssize_t n = read_some(fd, buf, STREAM_PIECE);

		if (n == -1) {
			qbk_err_sys(err, QBK_E_IO, "cannot read '%s'", path);
			goto err0;
		}
		if (n == 0)
			break;
		if (fn(cookie, buf, (size_t)n, err))
			goto err0;
	}
	free(buf);
	close(fd);
	return 0;

err0:
	free(buf);
	close(fd);
	return -1;
}

int
qbk_fs_is_temp_name(const char *name)
{
	size_t len = strlen(name), i, digits;
	const char *p;

	/* ".x" + ".tmp." + "1" + "." + 8 hex */
	if (name[0] != '.' || len < 2 + 5 + 1 + 1 + 8)
		return 0;
	p = name + len - 8;
	for (i = 0; i < 8; i++)
		if (strchr("0123456789abcdef", p[i]) == NULL || p[i] == '\0')
			return 0;
	if (*--p != '.')
		return 0;
	for (digits = 0; p > name && p[-1] >= '0' && p[-1] <= '9'; digits++)
		p--;
	if (digits == 0 || (size_t)(p - name) < 2 + 5)
		return 0;
	return memcmp(p - 5, ".tmp.", 5) == 0;
}

static int
remove_stale(struct qbk_buf *path, time_t cutoff, int recursive, int depth,
    size_t *removed, struct qbk_err *err)
{
	struct dirent *de;
	size_t base;
	DIR *d;

	if ((d = opendir(path->buf)) == NULL) {
		if (errno == ENOENT && depth == 0)
			return 0;
		return qbk_err_sys(err, QBK_E_IO, "cannot open folder '%s'",
		    path->buf);
	}
	base = path->len;
	for (;;) {
		struct stat st;

		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				qbk_err_sys(err, QBK_E_IO,
				    "cannot read folder '%s'", path->buf);
				goto err0;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* Chunk folders hold many files: stat only what may be a
		 * temporary file or a folder. */
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN &&
		    !qbk_fs_is_temp_name(de->d_name))
			continue;
		if (de->d_type == DT_DIR && !recursive)
			continue;
		qbk_buf_setlen(path, base);
		if (base > 0 && path->buf[base - 1] != '/')
			qbk_buf_addch(path, '/');
		qbk_buf_addstr(path, de->d_name);
		if (lstat(path->buf, &st) == -1) {
			if (errno == ENOENT)
				continue;
			qbk_err_sys(err, QBK_E_IO, "cannot stat '%s'",
			    path->buf);
			goto err0;
		}
		if (S_ISDIR(st.st_mode)) {
			if (recursive && depth < WALK_DEPTH_MAX &&
			    remove_stale(path, cutoff, recursive, depth + 1,
			    removed, err))
				goto err0;
			continue;
		}
		if (!S_ISREG(st.st_mode) || !qbk_fs_is_temp_name(de->d_name) ||
		    st.st_mtime >= cutoff)
			continue;
		if (unlink(path->buf) == -1 && errno != ENOENT) {
			qbk_err_sys(err, QBK_E_IO, "cannot remove '%s'",
			    path->buf);
			goto err0;
		}
		qbk_detail("removed stale temporary file '%s'", path->buf);
		if (removed != NULL)
			(*removed)++;
	}
	qbk_buf_setlen(path, base);
	closedir(d);
	return 0;

err0:
	qbk_buf_setlen(path, base);
	closedir(d);
	return -1;
}

int
qbk_fs_remove_stale_temps(const char *dir, time_t max_age, int recursive,
    size_t *removed, struct qbk_err *err)
{
	struct qbk_buf path = QBK_BUF_INIT;
	int rc;

	qbk_buf_addstr(&path, dir);
	rc = remove_stale(&path, time(NULL) - max_age, recursive, 0, removed,
	    err);
	qbk_buf_release(&path);
	return rc;
}
