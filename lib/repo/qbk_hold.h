#ifndef QBK_HOLD_H
#define QBK_HOLD_H

/*
 * qbk_hold: legal holds.  A hold is the object "holds/<backup-id>", sealed
 * like a manifest (the key is the associated data), JSON {"backup_id","who",
 * "when","reason"}.  A held backup is never removed by a prune.
 */
#include <stddef.h>

struct qbk_err;
struct qbk_repo;

#define QBK_HOLD_MAX		65536	/* bytes of a hold object */

struct qbk_hold {
	char backup_id[32];
	char *who;		/* user@host */
	char *when;		/* "YYYY-MM-DDTHH:MM:SSZ" */
	char *reason;		/* may be "" */
};

/** qbk_hold_set(repo, id, reason, err): put backup ${id} (which must
 * exist: QBK_E_NOTFOUND) under legal hold, recording the user, host, time
 * and ${reason} (may be NULL).  An existing hold is replaced.  0 or -1. */
int qbk_hold_set(struct qbk_repo *, const char *, const char *,
    struct qbk_err *);

/** qbk_hold_release(repo, id, err): remove the hold of ${id};
 * QBK_E_NOTFOUND if it has none.  0 or -1. */
int qbk_hold_release(struct qbk_repo *, const char *,
    struct qbk_err *);

/** qbk_hold_list(repo, out, n, err): every hold, sorted by backup id, in
 * ${*out} (${*n}; free with qbk_hold_list_free()).  A hold object that
 * cannot be read is listed with who "?" and a warning (it still holds).
 * 0 or -1. */
int qbk_hold_list(struct qbk_repo *, struct qbk_hold **, size_t *,
    struct qbk_err *);

/** qbk_hold_list_free(holds, n): free a hold list; NULL is fine. */
void qbk_hold_list_free(struct qbk_hold *, size_t);

#endif /* !QBK_HOLD_H */
