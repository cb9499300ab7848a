#ifndef QBK_POINTS_H
#define QBK_POINTS_H

/*
 * Point fingerprints: the hash qbk records for sampled points at backup time
 * and compares after a restore or drill.  The hash is the SHA-256 of the
 * canonical JSON text (keys sorted, no spaces) of the object
 * {"payload": <payload or {}>, "vector": <vector(s) or null>} built from the
 * point record Qdrant returns.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct qbk_err;
struct qbk_qdrant;

/** qbk_points_hash(record, hex): the fingerprint of the point ${record}
 * into ${hex}[65].  Returns 0, or -1 if ${record} is not an object. */
int qbk_points_hash(const struct json_t *, char *);

/** qbk_points_id_text(id, out, len): the point id (integer or UUID string)
 * as text ("42" or the UUID) into ${out}.  Returns 0 or -1. */
int qbk_points_id_text(const struct json_t *, char *, size_t);

/** qbk_points_sample(q, coll, n, out, err): up to ${n} points of ${coll}
 * with vectors and payloads (the first ${n} in id order) as a JSON array
 * in ${*out}, owned by the caller.  0 or -1. */
int qbk_points_sample(struct qbk_qdrant *, const char *, unsigned,
    struct json_t **, struct qbk_err *);

/** qbk_points_content_hash(q, coll, cancel, hex, count, err): scroll every
 * point of ${coll} (with vectors and payloads, a page at a time: memory
 * stays flat) and write its content hash into ${hex}[65] and the number of
 * points into ${*count}.  The content hash is independent of the order in
 * which points come: the sum modulo 2^256 of SHA-256(id || '\0' || hash)
 * over every point, where id is qbk_points_id_text() and hash the 64 hex
 * digits of qbk_points_hash(), each digest read as a big-endian 256-bit
 * number, written as 64 lowercase hex digits (no points: 64 zeros).
 * ${cancel} (may be NULL) stops it between pages (QBK_E_INTERRUPTED).
 * 0 or -1 (a record without a valid id: QBK_E_QDRANT). */
int qbk_points_content_hash(struct qbk_qdrant *, const char *,
    volatile sig_atomic_t *, char *, uint64_t *, struct qbk_err *);

/** qbk_points_content_add(sum, id, hash): add the term of one point (id
 * text and 64 hex point hash) to the 32-byte big-endian ${sum}: the
 * building block of qbk_points_content_hash(), exposed for tests. */
void qbk_points_content_add(unsigned char *, const char *, const char *);

#endif /* !QBK_POINTS_H */
