#ifndef QBK_FAILURE_H
#define QBK_FAILURE_H

/*
 * qbk_failure: failed backup runs, recorded in the repository.
 *
 * A backup that fails leaves no manifest, so the repository alone cannot
 * say that backups were attempted and failed.  qbk-backup records each
 * failure it can (the repository must be reachable) as a sealed object
 * failures/<id> (encrypted like a drill record; qbk-repository(5)):
 *   { "format": 1, "id", "time", "host", "program", "collections": [..]
 *     (as asked; [] for every collection), "full_storage": bool,
 *     "exit_code", "error" }
 * qbk-report counts them per collection against the backups that
 * succeeded; qbk-prune removes the ones older than every backup it keeps.
 */
#include <stddef.h>
#include <stdint.h>

#include "repo/qbk_manifest.h"

struct qbk_err;
struct qbk_repo;

#define QBK_FAILURE_MAX		65536	/* bytes of one sealed record */

struct qbk_failure {
	char id[QBK_MANIFEST_ID_LEN + 1];	/* sorts by time */
	int64_t time;
	char *host;
	char *program;
	char **collections;	/* as asked; none: every collection */
	size_t n_collections;
	int full_storage;
	int exit_code;
	char *error;		/* the one-line message */
};

/** qbk_failure_record(r, f, err): write ${f} as a new record; its id is
 * made from ${f}->time.  0 or -1. */
int qbk_failure_record(struct qbk_repo *, const struct qbk_failure *,
    struct qbk_err *);

/** qbk_failure_list(r, out, n, err): every record, oldest first, in
 * ${*out} (free with qbk_failure_list_free()).  A record that cannot be
 * read is left out with a warning.  0 or -1 (listing failed). */
int qbk_failure_list(struct qbk_repo *, struct qbk_failure **, size_t *,
    struct qbk_err *);

/** qbk_failure_list_free(v, n): free a list; NULL is fine. */
void qbk_failure_list_free(struct qbk_failure *, size_t);

/** qbk_failure_covers(f, collection): 1 if the run ${f} was to back up
 * ${collection} (every collection when it named none; the full storage
 * is the collection "full-storage"). */
int qbk_failure_covers(const struct qbk_failure *, const char *);

/** qbk_failure_prune(r, before, removed, err): remove the records older
 * than ${before} (seconds since the epoch); their number is added to
 * ${*removed} (may be NULL).  0 or -1. */
int qbk_failure_prune(struct qbk_repo *, int64_t, size_t *,
    struct qbk_err *);

#endif /* !QBK_FAILURE_H */
