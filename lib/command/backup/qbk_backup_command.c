/*
 * qbk-backup's run on an open context: the options the configuration
 * gives, Qdrant, the repository, and the record of a failed run.
 */

#include <stdint.h>

#include "command/qbk_backup.h"
#include "command/qbk_ctx.h"
#include "command/qbk_options.h"
#include "common/qbk.h"
#include "common/qbk_err.h"

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
		qbk_backup_record_failure(repo, bo, qbk_now(), err);
	return rc;
}
