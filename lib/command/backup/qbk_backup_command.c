/*
 * qbk-backup's run on an open context: the options the configuration
 * gives, Qdrant, the repository, and the record of a failed run.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "command/qbk_backup.h"
#include "command/qbk_ctx.h"
#include "command/qbk_options.h"
#include "common/qbk.h"
#include "common/qbk_err.h"
#include "common/qbk_exit.h"
#include "common/qbk_log.h"
#include "repo/qbk_failure.h"

/*
 * Record a failed run in the repository (failures/), for qbk-report's
 * success counts: not a usage error or an operator's ^C (a storage
 * failure may keep this from working too: the metrics file and the alert
 * still tell).
 */
static void
record_failure(struct qbk_repo *repo, const struct qbk_backup_opts *bo,
    int64_t now, const struct qbk_err *failure)
{
	struct qbk_failure f;
	struct qbk_err err = QBK_ERR_INIT;
	char host[256];

	if (failure->code == QBK_E_USAGE || failure->code == QBK_E_CONFIG ||
	    failure->code == QBK_E_INTERRUPTED)
		return;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	memset(&f, 0, sizeof(f));
	f.time = now;
	f.host = host;
	f.program = (char *)(uintptr_t)"qbk-backup";
	f.collections = (char **)(uintptr_t)bo->collections;
	f.n_collections = bo->ncollections;
	f.full_storage = bo->full_storage;
	f.exit_code = qbk_err_exit_code(failure);
	f.error = (char *)(uintptr_t)failure->msg;
	if (qbk_failure_record(repo, &f, &err) != 0)
		qbk_log(QBK_LOG_WARN, "cannot record the failure in the "
		    "repository: %s", err.msg);
}

int
qbk_backup_run_ctx(struct qbk_ctx *ctx, int type, struct qbk_backup_opts *bo,
    struct qbk_manifest **out, struct qbk_err *err)
{
	struct qbk_qdrant *q;
	struct qbk_repo *repo = NULL;
	int rc = -1;

	qbk_backup_opts_from(qbk_ctx_config(ctx), type, bo);
	if (qbk_ctx_qdrant(ctx, NULL, &q, err) == 0 &&
	    qbk_ctx_repo(ctx, 1, &repo, err) == 0) {
		bo->lock = qbk_ctx_lock(ctx);
		rc = qbk_backup_run(repo, q, bo, out, err);
		if (rc != 0)
			qbk_ctx_lost_lock(ctx, err);
	}
	if (rc != 0 && repo != NULL)
		record_failure(repo, bo, qbk_now(), err);
	return rc;
}
