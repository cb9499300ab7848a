#ifndef QBK_SPOOL_H
#define QBK_SPOOL_H

/*
 * qbk_spool: a bounded local temporary file between a producer that must
 * keep reading (a Qdrant shard stream, which Qdrant ends when its client
 * reads nothing for five minutes) and a consumer that may be slow (the
 * ingest pipeline, as slow as the repository).  The producer appends with
 * qbk_spool_put(), which waits only when QBK_SPOOL_MAX bytes are waiting
 * already; a feeder thread hands the bytes on, in order, to the consumer's
 * callback.  The file is unlinked from the start, and the parts handed on
 * are released from it (hole punching), so it holds on disk at most what
 * waits.
 */
#include <stddef.h>
#include <stdint.h>

struct qbk_err;

/* Bytes that may wait in one spool (the stream waits beyond that). */
#define QBK_SPOOL_MAX	((uint64_t)1 << 30)

/** qbk_spool_fn(cookie, data, len, err): the consumer: take ${len} bytes;
 * 0, or -1 with ${err} filled. */
typedef int qbk_spool_fn(void *, const void *, size_t, struct qbk_err *);

struct qbk_spool;

/** qbk_spool_start(max, fn, cookie, out, err): a spool of at most ${max}
 * waiting bytes in $TMPDIR (default /tmp), feeding ${fn}.  Returns 0, or
 * -1 (QBK_E_IO: the file; QBK_E_INTERNAL: the thread). */
int qbk_spool_start(uint64_t, qbk_spool_fn *, void *, struct qbk_spool **,
    struct qbk_err *);

/** qbk_spool_put(sp, data, len, err): append ${len} bytes.  Returns 0, or
 * -1: the consumer's error (once it has failed), or the file's. */
int qbk_spool_put(struct qbk_spool *, const void *, size_t,
    struct qbk_err *);

/** qbk_spool_finish(sp, err): wait until every byte is handed on, then
 * free ${sp}.  Returns 0, or -1 with the consumer's or the file's error. */
int qbk_spool_finish(struct qbk_spool *, struct qbk_err *);

/** qbk_spool_abort(sp): stop handing on (after the piece in hand) and free
 * ${sp}.  NULL is fine. */
void qbk_spool_abort(struct qbk_spool *);

#endif /* !QBK_SPOOL_H */
