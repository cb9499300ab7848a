/*
 * qbk-drill's run on an open context: the time asked for, the options the
 * configuration gives, the repository and the two Qdrant clients.
 */

#include <stdint.h>

#include "command/qbk_ctx.h"
#include "command/qbk_drill.h"
#include "command/qbk_options.h"
#include "command/qbk_restore.h"
#include "common/qbk.h"
#include "common/qbk_err.h"
#include "qdrant/qbk_qdrant.h"

int
qbk_drill_run_ctx(struct qbk_ctx *ctx, const char *at, int level_set,
    struct qbk_drill_opts *d, struct qbk_drill_result *res,
    struct qbk_err *err)
{
	const struct qbk_config *cfg = qbk_ctx_config(ctx);
	struct qbk_qdrant *q = NULL, *cq = NULL;
	struct qbk_repo *repo;
	int rc = -1;

	if (at != NULL && qbk_restore_parse_time(at, qbk_now(), &d->at,
	    err) != 0)
		goto done;
	qbk_drill_opts_from(cfg, level_set, d);
	if (qbk_ctx_repo(ctx, 1, &repo, err) != 0)
		goto done;
	d->lock = qbk_ctx_lock(ctx);
	/* Removing scratch collections must still work after ^C: a second
	 * client that ignores the cancel flag. */
	if (qbk_drill_target(cfg, d->validate_only, d->cancel, &q, err) == 0 &&
	    qbk_drill_target(cfg, d->validate_only, NULL, &cq, err) == 0) {
		d->cleanup = cq;
		rc = qbk_drill_run(repo, q, d, res, err);
	}
	qbk_qdrant_free(cq);
	qbk_qdrant_free(q);
done:
	if (rc != 0)
		qbk_ctx_lost_lock(ctx, err);
	return rc;
}
