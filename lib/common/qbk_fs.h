#ifndef QBK_FS_H
#define QBK_FS_H

/*
 * qbk_fs: files written so that a crash never leaves a partial file under
 * its final name (STYLE.md R11), and the small file-system helpers around
 * that: mkdir -p, fsync of a folder, reading a small file, a registry of
 * temporary files that an exit path can remove, and removal of stale
 * temporary files by prune.
 *
 * An atomic write creates "<dir>/.<name>.tmp.<pid>.<8 hex>" with
 * O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW and mode 0600, writes all
 * the data (short writes and EINTR handled), fsyncs it, closes it (checked),
 * renames it to "<dir>/<name>" and fsyncs <dir>.  The temporary file stays in
 * the target folder because rename(2) is atomic only within one file system.
 * While it exists it is registered in the temp-file registry, so that
 * qbk_fs_cleanup_temps() removes it when the process is interrupted.
 *
 * Every function is thread-safe.  Errors: QBK_E_IO, or QBK_E_NOSPACE when the
 * cause is ENOSPC, EDQUOT or EFBIG (qbk_err_sys()).
 */
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct qbk_buf;
struct qbk_err;

/*
 * Flags of the atomic writes:
 *   NOSYNC     opt out of every fsync (scratch data, or a caller that syncs
 *              the file system itself, e.g. with syncfs)
 *   NODIRSYNC  fsync the file but not the folder after the rename: the
 *              caller fsyncs the folder later (batched commits)
 *   NOREPLACE  never replace an existing <name>: the write then returns 1
 *              and leaves <name> untouched
 *   MKDIR      create <dir> (qbk_fs_mkdir_p) if it does not exist
 *   READABLE   mode 0644 whatever the umask, instead of 0600: files that
 *              another user must read (the metrics files that Prometheus'
 *              node exporter collects); never for repository data
 */
#define QBK_FS_NOSYNC		0x01
#define QBK_FS_NODIRSYNC	0x02
#define QBK_FS_NOREPLACE	0x04
#define QBK_FS_MKDIR		0x08
#define QBK_FS_READABLE		0x10

/* Longest path the temp-file registry keeps. */
#define QBK_FS_PATH_MAX		4096

/* Longest <name> accepted, so that the temporary name fits in NAME_MAX. */
#define QBK_FS_NAME_MAX		200

struct qbk_fs_atomic;
struct qbk_fs_temp;

/** qbk_fs_write_atomic(dir, name, data, len, flags, err): replace (or create)
 * "${dir}/${name}" with the ${len} bytes at ${data} as described above; the
 * QBK_FS_* ${flags} change the steps.  Returns 0 once the file is in place,
 * 1 if QBK_FS_NOREPLACE was given and ${name} already existed (nothing is
 * changed), or -1 with ${err} set.  On failure no temporary file is left and
 * ${name} is unchanged.  File mode 0600 (less if the umask says so), or 0644
 * with QBK_FS_READABLE. */
int qbk_fs_write_atomic(const char *, const char *, const void *, size_t,
    unsigned, struct qbk_err *);

/** qbk_fs_atomic_open(dir, name, flags, out, err): start a streaming atomic
 * write of "${dir}/${name}": create and register the temporary file.  On
 * success ${*out} is a handle that must end with exactly one call of
 * qbk_fs_atomic_commit() or qbk_fs_atomic_abort(); on failure ${*out} is NULL
 * and nothing is left behind. */
int qbk_fs_atomic_open(const char *, const char *, unsigned,
    struct qbk_fs_atomic **, struct qbk_err *);

/** qbk_fs_atomic_write(a, data, len, err): append ${len} bytes.  Returns 0 or
 * -1; after a failure the handle can only be aborted (commit fails too). */
int qbk_fs_atomic_write(struct qbk_fs_atomic *, const void *, size_t,
    struct qbk_err *);

/** qbk_fs_atomic_commit(a, err): fsync, close, rename into place, fsync the
 * folder (as the flags given to qbk_fs_atomic_open() allow) and free ${a}.
 * Returns 0, 1 (QBK_FS_NOREPLACE and the name existed; the temporary file is
 * removed) or -1 (the temporary file is removed, the final name unchanged;
 * except that a failing fsync of the folder is reported after the rename).
 * ${a} is freed in every case. */
int qbk_fs_atomic_commit(struct qbk_fs_atomic *, struct qbk_err *);

/** qbk_fs_atomic_abort(a): close and remove the temporary file, free ${a}.
 * NULL is a no-op. */
void qbk_fs_atomic_abort(struct qbk_fs_atomic *);

/** qbk_fs_atomic_path(a): the temporary file's path (for messages). */
const char *qbk_fs_atomic_path(const struct qbk_fs_atomic *);

/*
 * Group commit.  Instead of an fsync per file, a writer may queue finished
 * temporary files in a batch and commit the batch with one syncfs(2): all
 * their data is on disk before any of them is renamed, so a crash still never
 * leaves a partial file under a final name.  A batch is not thread-safe.
 */
struct qbk_fs_batch;

/** qbk_fs_batch_new(): an empty batch; free it with qbk_fs_batch_free(). */
struct qbk_fs_batch *qbk_fs_batch_new(void);

/** qbk_fs_atomic_defer(a, batch, err): close the temporary file of ${a} (after
 * an fsync unless QBK_FS_NOSYNC) and queue its rename in ${batch} instead of
 * renaming it now; the file stays registered.  ${a} is freed in every case.
 * 0, or -1 (the temporary file is removed). */
int qbk_fs_atomic_defer(struct qbk_fs_atomic *, struct qbk_fs_batch *,
    struct qbk_err *);

/** qbk_fs_batch_count(batch): how many renames are queued. */
size_t qbk_fs_batch_count(const struct qbk_fs_batch *);

/** qbk_fs_batch_commit(batch, sync_path, err): syncfs(2) the file system that
 * holds ${sync_path} (skipped if NULL), then rename every queued file into
 * place (not replacing existing names when it was opened with
 * QBK_FS_NOREPLACE; the temporary file is then removed) and empty ${batch}.
 * The renames are durable only after a later sync of the file system or the
 * folders.  On failure the files not yet renamed are removed, ${batch} is
 * empty, and -1 is returned; else 0. */
int qbk_fs_batch_commit(struct qbk_fs_batch *, const char *,
    struct qbk_err *);

/** qbk_fs_batch_free(batch): remove every queued temporary file, free
 * ${batch}.  NULL is a no-op. */
void qbk_fs_batch_free(struct qbk_fs_batch *);

/** qbk_fs_syncfs(path, err): syncfs(2) the file system that holds ${path}
 * (reports writeback errors since Linux 5.8).  0 or -1. */
int qbk_fs_syncfs(const char *, struct qbk_err *);

/** qbk_fs_mkdir_p(path, flags, err): create ${path} and any missing parents
 * with mode 0700; an existing folder is fine.  Unless ${flags} has
 * QBK_FS_NOSYNC, the parent of every folder created is fsync'd so that the
 * new folder survives a crash.  Returns 0 or -1 (e.g. a file is in the
 * way: ENOTDIR). */
int qbk_fs_mkdir_p(const char *, unsigned, struct qbk_err *);

/** qbk_fs_fsync_dir(path, err): open the folder ${path} and fsync it.  A file
 * system that cannot fsync folders (EINVAL) counts as success.  0 or -1. */
int qbk_fs_fsync_dir(const char *, struct qbk_err *);

/** qbk_fs_read_file(path, max, out, err): read the whole file ${path} into
 * ${out} (replacing its contents).  A missing file fails with
 * QBK_E_NOTFOUND; a file larger than ${max} bytes with QBK_E_INTEGRITY,
 * without reading it.  ${out} is empty after a failure.  0 or -1. */
int qbk_fs_read_file(const char *, size_t, struct qbk_buf *,
    struct qbk_err *);

/** qbk_fs_read_stream(path, fn, cookie, err): read ${path} in pieces of up to
 * 1 MiB, calling ${fn}(cookie, data, len, err) for each; a missing file fails
 * with QBK_E_NOTFOUND.  ${fn} returns 0 to go on or -1 with ${err} set to
 * stop; returns 0 or -1. */
int qbk_fs_read_stream(const char *,
    int (*)(void *, const void *, size_t, struct qbk_err *), void *,
    struct qbk_err *);

/** qbk_fs_is_temp_name(name): nonzero if ${name} (a last path component) has
 * the form of an atomic write's temporary file ".<x>.tmp.<digits>.<8 hex>". */
int qbk_fs_is_temp_name(const char *);

/** qbk_fs_remove_stale_temps(dir, max_age, recursive, removed, err): remove
 * the temporary files of atomic writes (qbk_fs_is_temp_name) in ${dir} (and
 * in its sub-folders if ${recursive}) whose modification time is more than
 * ${max_age} seconds ago, as left by a crashed writer; prune calls this.
 * Symbolic links are neither followed nor removed.  Adds the number of files
 * removed to ${*removed} (may be NULL).  A missing ${dir} is not an error.
 * Returns 0 or -1 (stops at the first failure). */
int qbk_fs_remove_stale_temps(const char *, time_t, int, size_t *,
    struct qbk_err *);

/** qbk_fs_temp_register(path, out, err): remember ${path} as a temporary file
 * to remove in qbk_fs_cleanup_temps().  ${*out} is the registration, to pass
 * to qbk_fs_temp_unregister() once the file is gone or renamed.  Fails only
 * when ${path} is longer than QBK_FS_PATH_MAX.  0 or -1. */
int qbk_fs_temp_register(const char *, struct qbk_fs_temp **,
    struct qbk_err *);

/** qbk_fs_temp_unregister(t): forget the registration ${t} (the file itself
 * is not touched).  NULL is a no-op. */
void qbk_fs_temp_unregister(struct qbk_fs_temp *);

/** qbk_fs_cleanup_temps(): unlink every registered temporary file and forget
 * it.  Async-signal-safe (atomics and unlink(2) only, no locks, no memory
 * allocation), so that a signal handler or an atexit path may call it; the
 * writers that still use those files then fail, which is the point. */
void qbk_fs_cleanup_temps(void);

#endif /* !QBK_FS_H */
