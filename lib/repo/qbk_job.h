#ifndef QBK_JOB_H
#define QBK_JOB_H

/*
 * qbk_job: what a long job checks between its steps, one way for every
 * job: whether it was asked to stop (a signal sets the cancel flag), and
 * its repository lock, refreshed when due (qbk_lock_refresh(): losing the
 * lock stops the job).  The final refresh before a backup commits its
 * manifest (qbk_lock_refresh() forced, with its "still ours" check) is
 * not this: it stays with the backup.
 */
#include <signal.h>

struct qbk_err;
struct qbk_lock;

/** qbk_job_stopped(cancel): nonzero when ${cancel} (may be NULL: never)
 * asks the job to stop. */
int qbk_job_stopped(const volatile sig_atomic_t *);

/** qbk_job_check(cancel, lock, err): -1 with QBK_E_INTERRUPTED
 * ("interrupted") when the job is asked to stop; else refresh ${lock}
 * when due (NULL: no lock), -1 when that fails or the lock was lost;
 * else 0. */
int qbk_job_check(const volatile sig_atomic_t *, struct qbk_lock *,
    struct qbk_err *);

#endif /* !QBK_JOB_H */
