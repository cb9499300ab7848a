#ifndef QBK_INGEST_H
#define QBK_INGEST_H

/*
 * qbk_ingest: turn one snapshot byte stream into stored chunks.
 *
 * The caller (an HTTP download callback) hands bytes to qbk_ingest_write();
 * they are copied into a small ring of blocks and the caller returns at once
 * unless the ring is full (back pressure slows the download, memory stays
 * flat).  A scanner thread takes the blocks in order, feeds SHA-256, the
 * FastCDC chunker and libarchive (which checks that the stream is a whole
 * tar and lists its entries); each chunk is copied into a job for a pool of
 * worker threads, which compute its keyed id, skip it if the repository has
 * it, and otherwise compress, encrypt and store it.  Nothing of the snapshot
 * touches local disk except the chunk objects themselves.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct qbk_err;
struct qbk_repo;

/* What kind of Qdrant archive the stream should be (its layout check). */
enum qbk_ingest_layout {
	QBK_INGEST_ANY = 0,		/* any tar */
	QBK_INGEST_COLLECTION,		/* collection snapshot */
	QBK_INGEST_SHARD,		/* shard snapshot (stored or streamed) */
	QBK_INGEST_FULL			/* full storage snapshot */
};

struct qbk_ingest_opts {
	unsigned workers;	/* chunk workers; 0: one per CPU, at most 8 */
	size_t block_size;	/* ring block bytes; 0: 1 MiB */
	unsigned blocks;	/* ring blocks; 0: 8 */
	enum qbk_ingest_layout layout;
	int verify_existing;	/* --type full: read back every reused chunk
				 * and rewrite it if it does not decode */
	volatile sig_atomic_t *cancel;	/* non-zero: stop; may be NULL */
};
#define QBK_INGEST_OPTS_INIT { 0, 0, 0, QBK_INGEST_ANY, 0, NULL }

/* One entry of the archive, as libarchive saw it. */
struct qbk_ingest_entry {
	char *path;		/* without a leading "./" */
	char type;		/* 'f' file, 'd' folder, 's' sparse file,
				 * 'o' other */
	uint64_t size;		/* logical size */
};

/* The result of one stream. */
struct qbk_ingest_result {
	uint64_t bytes;		/* stream length */
	uint8_t sha256[32];
	char sha256_hex[65];
	size_t nchunks;
	uint8_t (*ids)[32];	/* chunk ids in stream order */
	uint32_t *lens;		/* their plaintext lengths */
	uint64_t chunks_new;	/* chunks stored by this stream */
	uint64_t bytes_new;	/* plaintext bytes of those chunks */
	uint64_t stored_new;	/* object bytes written for them */
	uint64_t chunks_healed;	/* damaged chunks rewritten (verify) */
	size_t nentries;
	struct qbk_ingest_entry *entries;
};

struct qbk_ingest;

/** qbk_ingest_start(repo, opts, out, err): start the threads of one stream
 * into ${repo} (which must outlive it) in ${*out}.  Returns 0, or -1 with
 * ${*out} NULL. */
int qbk_ingest_start(struct qbk_repo *, const struct qbk_ingest_opts *,
    struct qbk_ingest **, struct qbk_err *);

/** qbk_ingest_write(in, data, len, err): the next ${len} bytes of the
 * stream.  Returns 0, or -1 when the pipeline has failed (the error is
 * reported by qbk_ingest_finish(); ${err} gets a copy). */
int qbk_ingest_write(struct qbk_ingest *, const void *, size_t,
    struct qbk_err *);

/** qbk_ingest_finish(in, res, err): end of stream: wait for every chunk to
 * be stored, check the archive, fill ${res} (release it with
 * qbk_ingest_result_release()) and free ${in}.  Returns 0, or -1:
 * QBK_E_INTEGRITY when the stream is not a whole tar of the expected
 * layout, or the storage/crypto error of a worker. */
int qbk_ingest_finish(struct qbk_ingest *, struct qbk_ingest_result *,
    struct qbk_err *);

/** qbk_ingest_abort(in): stop the threads and free ${in}; the chunks
 * already stored stay (the next backup reuses them).  NULL is fine. */
void qbk_ingest_abort(struct qbk_ingest *);

/** qbk_ingest_result_release(res): free what ${res} holds. */
void qbk_ingest_result_release(struct qbk_ingest_result *);

/** qbk_ingest_check_layout(entries, n, layout, err): 0 if the entry list
 * has the files a Qdrant archive of ${layout} must have, else -1
 * (QBK_E_INTEGRITY) naming what is missing. */
int qbk_ingest_check_layout(const struct qbk_ingest_entry *, size_t,
    enum qbk_ingest_layout, struct qbk_err *);

#endif /* !QBK_INGEST_H */
