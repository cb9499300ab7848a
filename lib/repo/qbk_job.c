#include <signal.h>

#include "common/qbk_err.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_job.h"

int
qbk_job_stopped(const volatile sig_atomic_t *cancel)
{
	return cancel != NULL && *cancel != 0;
}

int
qbk_job_check(const volatile sig_atomic_t *cancel, struct qbk_lock *lock,
    struct qbk_err *err)
{
	if (qbk_job_stopped(cancel))
		return qbk_err_set(err, QBK_E_INTERRUPTED, "interrupted");
	if (lock != NULL && qbk_lock_refresh(lock, 0, err) != 0)
		return -1;
	return 0;
}
