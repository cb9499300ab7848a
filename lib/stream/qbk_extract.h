#ifndef QBK_EXTRACT_H
#define QBK_EXTRACT_H

/*
 * qbk_extract: reassemble one snapshot of a manifest as a byte stream.
 *
 * A small pool of worker threads fetches and decodes the snapshot's chunks
 * (qbk_repo_chunk_get(): read, authenticate, decompress, check the chunk id)
 * ahead of the consumer, at most a window of chunks in flight, so memory
 * stays flat whatever the snapshot size (window x largest chunk).  The
 * consumer receives the chunks strictly in stream order, either pushed to a
 * callback (qbk_extract_run()) or pulled (qbk_extract_open(), _read(),
 * _rewind(), _close()), the form qbk_http's streaming upload needs.
 *
 * Integrity: each chunk's length must be the one the manifest records; the
 * SHA-256 of the whole stream (OpenSSL) must be the manifest's.  That hash
 * is checked when the last chunk is taken, BEFORE any byte of it is handed
 * out, so a consumer that forwards the bytes (an HTTP upload) never sends a
 * complete stream that does not match.  A chunk that is missing or damaged,
 * or a stream that does not hash right, fails with QBK_E_INTEGRITY and a
 * message naming the chunk, the backup and the collection, e.g.
 *   backup '20261121T221500Z-3f9a', collection 'c1': chunk '9f3a...' is
 *   damaged: authentication failed
 * Storage errors stay QBK_E_IO (or the backend's code); the cancel flag
 * gives QBK_E_INTERRUPTED.  Errors are sticky: after one, every read
 * returns -1 with the same error until the stream is rewound.
 *
 * Thread safety: one handle is used by one consumer thread; the workers are
 * internal.  The repository's chunk functions are thread-safe.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct qbk_err;
struct qbk_extract;
struct qbk_manifest_snapshot;
struct qbk_repo;

/* Most worker threads used when the caller asks for "one per CPU". */
#define QBK_EXTRACT_MAX_AUTO_WORKERS	8
/* Chunks in flight per worker when the caller does not choose. */
#define QBK_EXTRACT_WINDOW_PER_WORKER	4

struct qbk_extract_opts {
	unsigned workers;	/* 0: one per CPU, at most 8 */
	unsigned window;	/* chunks decoded ahead; 0: 4 per worker */
	const char *backup_id;	/* for messages (copied); may be NULL */
	const char *collection;	/* for messages (copied); may be NULL */
	volatile sig_atomic_t *cancel;	/* non-zero: stop; NULL: never */
};
#define QBK_EXTRACT_OPTS_INIT { 0, 0, NULL, NULL, NULL }

/** qbk_extract_write_fn(cookie, data, len, err): receive the next ${len} > 0
 * bytes of the stream (borrowed until the function returns).  Return 0, or
 * -1 after filling ${err} to stop.  The same type as qbk_http_write_fn. */
typedef int qbk_extract_write_fn(void *, const void *, size_t,
    struct qbk_err *);

/** qbk_extract_run(repo, snap, write, cookie, opts, err): push the whole
 * snapshot ${snap} (borrowed) of ${repo} to ${write} in order, one piece
 * per chunk; ${opts} may be NULL.  Returns 0 once every byte was written
 * and the length and SHA-256 matched the manifest; -1 otherwise (the
 * callback's error, or the errors described above).  On a hash mismatch
 * the last chunk is never written. */
int qbk_extract_run(struct qbk_repo *, const struct qbk_manifest_snapshot *,
    qbk_extract_write_fn *, void *, const struct qbk_extract_opts *,
    struct qbk_err *);

/** qbk_extract_open(repo, snap, opts, out, err): start reading ${snap}
 * (which, like ${repo}, must outlive the handle) and start the workers.
 * ${opts} may be NULL.  Caller ends it with qbk_extract_close(); ${*out} is
 * NULL on failure (QBK_E_INTERNAL: no thread could be started; QBK_E_NOMEM
 * and the repository's errors otherwise). */
int qbk_extract_open(struct qbk_repo *, const struct qbk_manifest_snapshot *,
    const struct qbk_extract_opts *, struct qbk_extract **,
    struct qbk_err *);

/** qbk_extract_next(x, data, len, err): zero-copy read: 1 with the next
 * whole chunk in ${*data}, ${*len} (valid until the next call on ${x}),
 * 0 at the end of a stream that matched its hash, or -1. */
int qbk_extract_next(struct qbk_extract *, const void **, size_t *,
    struct qbk_err *);

/** qbk_extract_read(x, buf, len, err): copy up to ${len} bytes of the
 * stream into ${buf}; returns their number (> 0 unless ${len} is 0), 0 at
 * the end of a stream that matched its hash, or -1. */
ssize_t qbk_extract_read(struct qbk_extract *, void *, size_t,
    struct qbk_err *);

/** qbk_extract_rewind(x, err): start again from the first byte (the
 * workers are restarted; every chunk is read again).  Clears a previous
 * error.  0 or -1 (no thread could be started). */
int qbk_extract_rewind(struct qbk_extract *, struct qbk_err *);

/** qbk_extract_read_cb(cookie, buf, len, err), qbk_extract_rewind_cb(
 * cookie, err): qbk_extract_read() and qbk_extract_rewind() with the handle
 * as a void pointer, to pass directly as a qbk_http_read_fn and a
 * qbk_http_rewind_fn (struct qbk_http_upload). */
ssize_t qbk_extract_read_cb(void *, void *, size_t, struct qbk_err *);
int qbk_extract_rewind_cb(void *, struct qbk_err *);

/** qbk_extract_next_cb(cookie, data, len, err): qbk_extract_next() with the
 * handle as a void pointer, to pass directly as a qbk_tar_next_fn (with
 * qbk_extract_rewind_cb() as its qbk_tar_rewind_fn). */
int qbk_extract_next_cb(void *, const void **, size_t *, struct qbk_err *);

/** qbk_extract_offset(x): bytes handed to the consumer since the start (or
 * the last rewind). */
uint64_t qbk_extract_offset(const struct qbk_extract *);

/** qbk_extract_size(x): the snapshot size the manifest records. */
uint64_t qbk_extract_size(const struct qbk_extract *);

/** qbk_extract_sha256(x): the lowercase hex SHA-256 of the stream once its
 * last chunk was taken and matched the manifest; NULL before. */
const char *qbk_extract_sha256(const struct qbk_extract *);

/** qbk_extract_close(x): stop the workers and free ${x}; NULL is fine. */
void qbk_extract_close(struct qbk_extract *);

/** qbk_extract_default_workers(): the worker count used for workers == 0:
 * the number of online CPUs, 1 to QBK_EXTRACT_MAX_AUTO_WORKERS. */
unsigned qbk_extract_default_workers(void);

#endif /* !QBK_EXTRACT_H */
