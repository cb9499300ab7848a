#ifndef QBK_POINTS_H
#define QBK_POINTS_H

/*
 * Point fingerprints: what qbk records of a collection's points at backup
 * time and compares after a restore or drill.
 *
 * The hash of one point is the SHA-256 of the canonical JSON text (keys
 * sorted, no spaces) of the object {"payload": <payload or {}>, "vector":
 * <vector(s) or null>} built from the point record Qdrant returns, where a
 * sparse vector {"indices": [...], "values": [...]} has its (index, value)
 * pairs sorted by index and a multivector stays the list of its vectors in
 * order.
 *
 * Content hashes cover every point.  A point falls into one of
 * QBK_POINTS_BUCKETS buckets by its id (qbk_points_bucket_of()); a
 * bucket's hash is the sum modulo 2^256 of SHA-256(id || '\0' || hash)
 * over its points, each digest read as a big-endian 256-bit number, so the
 * order in which points come does not matter.
 *
 * A snapshot is taken while the collection may be written to, and Qdrant
 * cannot be asked what the snapshot holds.  So a fingerprint reads the
 * points before the snapshot (qbk_points_fp_begin()) and again after it
 * (qbk_points_fp_end()), and keeps only what did not change in between:
 * sampled points whose hash is the same both times, and buckets whose
 * point count and hash are the same both times.  What stayed the same
 * from before to after the snapshot is what the snapshot holds.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct qbk_err;
struct qbk_qdrant;

#define QBK_POINTS_BUCKETS	64
#define QBK_POINTS_ID_MAX	64	/* id text, with its NUL */

/** qbk_points_hash(record, hex): the fingerprint of the point ${record}
 * into ${hex}[65].  Returns 0, or -1 if ${record} is not an object. */
int qbk_points_hash(const struct json_t *, char *);

/** qbk_points_id_text(id, out, len): the point id (integer or UUID string)
 * as text ("42" or the UUID) into ${out}.  Returns 0 or -1. */
int qbk_points_id_text(const struct json_t *, char *, size_t);

/** qbk_points_bucket_of(id): the content bucket of the point id text
 * ${id}: the 64-bit FNV-1a hash of its bytes modulo QBK_POINTS_BUCKETS. */
unsigned qbk_points_bucket_of(const char *);

/** qbk_points_sample(q, coll, n, out, err): up to ${n} points of ${coll}
 * drawn at random across the whole collection (qbk_qdrant_sample()), with
 * vectors and payloads, as a JSON array in ${*out} owned by the caller.
 * On a server without random sampling (before Qdrant 1.11), the first
 * ${n} points in id order.  0 or -1. */
int qbk_points_sample(struct qbk_qdrant *, const char *, unsigned,
    struct json_t **, struct qbk_err *);

struct qbk_points_bucket {
	uint64_t points;
	unsigned char sum[32];	/* big-endian */
};

/** qbk_points_content(q, coll, cancel, buckets, count, err): scroll every
 * point of ${coll} (with vectors and payloads, a page at a time: memory
 * stays flat) and fill the QBK_POINTS_BUCKETS ${buckets}; the number of
 * points into ${*count}.  ${cancel} (may be NULL) stops it between pages
 * (QBK_E_INTERRUPTED).  0 or -1 (a record without a valid id:
 * QBK_E_QDRANT). */
int qbk_points_content(struct qbk_qdrant *, const char *,
    volatile sig_atomic_t *, struct qbk_points_bucket *, uint64_t *,
    struct qbk_err *);

/** qbk_points_content_add(b, id, hash): add the term of one point (id
 * text and 64 hex point hash) to the bucket ${b}. */
void qbk_points_content_add(struct qbk_points_bucket *, const char *,
    const char *);

/* ---- fingerprints across a snapshot ------------------------------------ */

struct qbk_points_sampled {
	char id[QBK_POINTS_ID_MAX];
	char hash[65];
};

struct qbk_points_fp {
	/* After qbk_points_fp_end(): the sampled points that did not change
	 * (samples, nsamples) and how many did (changed). */
	struct qbk_points_sampled *samples;
	size_t nsamples;
	size_t changed;
	/* The exact points count before and after the snapshot. */
	uint64_t count_before, count_after;
	/* With content: the buckets, and which of them kept their count
	 * and hash from before to after the snapshot (known). */
	int content;
	struct qbk_points_bucket buckets[QBK_POINTS_BUCKETS];
	unsigned char known[QBK_POINTS_BUCKETS];
	size_t nknown;
	uint64_t points;	/* in the known buckets */
	/* Private. */
	struct json_t *ids;
	struct qbk_points_bucket before[QBK_POINTS_BUCKETS];
};

/** qbk_points_fp_init(fp), qbk_points_fp_release(fp): an empty
 * fingerprint; free what it holds. */
void qbk_points_fp_init(struct qbk_points_fp *);
void qbk_points_fp_release(struct qbk_points_fp *);

/** qbk_points_fp_begin(fp, q, coll, nsample, content, cancel, err): read
 * before the snapshot: the exact points count, ${nsample} random points
 * (qbk_points_sample()) and, with ${content}, the content of every point.
 * 0 or -1. */
int qbk_points_fp_begin(struct qbk_points_fp *, struct qbk_qdrant *,
    const char *, unsigned, int, volatile sig_atomic_t *, struct qbk_err *);

/** qbk_points_fp_end(fp, q, coll, cancel, err): read again after the
 * snapshot and keep what did not change (see above).  0 or -1. */
int qbk_points_fp_end(struct qbk_points_fp *, struct qbk_qdrant *,
    const char *, volatile sig_atomic_t *, struct qbk_err *);

#endif /* !QBK_POINTS_H */
