#ifndef QBK_DRILL_INTERNAL_H
#define QBK_DRILL_INTERNAL_H

/*
 * qbk_drill_internal: what the files of lib/command/drill/ share.
 * qbk_drill.c chooses, restores and runs a drill, qbk_drill_validate.c
 * validates what it restored, qbk_drill_scratch.c removes scratch
 * collections, qbk_drill_output.c renders lists, reports and metrics.
 */

#include <stddef.h>
#include <stdint.h>

#include "command/qbk_drill.h"

struct qbk_err;
struct qbk_manifest;
struct qbk_qdrant;
struct qbk_repo;

/* A backup and the collections drilled from it: res->collections[first]
 * up to [first + n - 1]. */
struct qbk_drill_set {
	struct qbk_manifest *m;
	size_t first, n;
};

/** qbk_drill_problem(res, fmt, ...): record a problem found by the drill
 * in its record ${res}->rec (cut to QBK_MANIFEST_MAX_STR bytes; at most
 * QBK_MANIFEST_MAX_LIST of them) and log it. */
void qbk_drill_problem(struct qbk_drill_result *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/** qbk_drill_validate(q, sets, nsets, prefix, o, res, err): validate the
 * collections of every set, restored under names starting with ${prefix}
 * ("" for --validate-only); shards are checked on a distributed target
 * only.  Problems go to ${res}; returns -1 with ${err} set only when the
 * validation itself cannot go on. */
int qbk_drill_validate(struct qbk_qdrant *, const struct qbk_drill_set *,
    size_t, const char *, const struct qbk_drill_opts *,
    struct qbk_drill_result *, struct qbk_err *);

/** qbk_drill_wait_green(q, sets, nsets, prefix, o, trestore, res, err):
 * wait (up to green_timeout_ms) until every restored collection is green;
 * record the time since ${trestore} in green_ms, or that it did not come.
 * Returns 0, or -1 with ${err} set. */
int qbk_drill_wait_green(struct qbk_qdrant *, const struct qbk_drill_set *,
    size_t, const char *, const struct qbk_drill_opts *, int64_t,
    struct qbk_drill_result *, struct qbk_err *);

/** qbk_drill_remove_leftovers(repo, q, o, own_id, start, res, err): remove
 * the scratch collections of drills that are not running any more.
 * Returns 0, or -1 with ${err} set. */
int qbk_drill_remove_leftovers(struct qbk_repo *, struct qbk_qdrant *,
    const struct qbk_drill_opts *, const char *, int64_t,
    struct qbk_drill_result *, struct qbk_err *);

/** qbk_drill_remove_scratch(q, prefix, err): remove every collection named
 * with ${prefix} (this drill's).  Returns 0, or -1 with ${err} set. */
int qbk_drill_remove_scratch(struct qbk_qdrant *, const char *,
    struct qbk_err *);

#endif /* QBK_DRILL_INTERNAL_H */
