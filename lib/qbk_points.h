#ifndef QBK_POINTS_H
#define QBK_POINTS_H

/*
 * Point fingerprints: the hash qbk records for sampled points at backup time
 * and compares after a restore or drill.  The hash is the SHA-256 of the
 * canonical JSON text (keys sorted, no spaces) of the object
 * {"payload": <payload or {}>, "vector": <vector(s) or null>} built from the
 * point record Qdrant returns.
 */
#include <stddef.h>

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

#endif /* !QBK_POINTS_H */
