/*
 * qbk-restore's run on an open context: the backup chosen, then its
 * listing, its snapshot file, or the restore into Qdrant.
 */

#include <stdint.h>
#include <string.h>

#include "command/qbk_ctx.h"
#include "command/qbk_options.h"
#include "command/qbk_restore.h"
#include "common/qbk.h"
#include "common/qbk_err.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"

static int
run(struct qbk_ctx *ctx, const struct qbk_restore_request *rq,
    struct qbk_restore_opts *ro, struct qbk_restore_report *rep,
    struct qbk_buf *out, struct qbk_err *err)
{
	struct qbk_repo *repo;
	struct qbk_qdrant *q, *cq = NULL;
	struct qbk_manifest *m = NULL;
	char id[QBK_MANIFEST_ID_LEN + 1];
	int64_t at = -1;
	int rc = -1;

	if (rq->at != NULL &&
	    qbk_restore_parse_time(rq->at, qbk_now(), &at, err) != 0)
		return -1;
	/* Only a safety backup (--force into Qdrant) writes to the
	 * repository: a restore without one, or --force with --to-file,
	 * works from a read-only repository too. */
	if (qbk_ctx_repo(ctx, ro->force && rq->to_file == NULL ?
	    QBK_CTX_LOCK_SHARED : QBK_CTX_LOCK_READ, &repo, err) != 0 ||
	    qbk_restore_choose(repo, rq->backup, at, ro->collections,
	    ro->ncollections, QBK_RESTORE_CHOOSE_NEWEST, id, err) != 0 ||
	    qbk_repo_manifest_read(repo, id, &m, err) != 0)
		return -1;
	memcpy(rep->backup_id, id, sizeof(id));
	ro->lock = qbk_ctx_lock(ctx);
	if (rq->list) {
		qbk_restore_list(m, rq->json, out);
		rc = 0;
	} else if (rq->to_file != NULL) {
		rc = qbk_restore_file(repo, m, ro, rq->to_file, rq->write,
		    rq->write_cookie, rep, err);
	} else if (qbk_ctx_qdrant(ctx, NULL, &q, err) == 0 &&
	    qbk_ctx_qdrant_cleanup(ctx, &cq, err) == 0) {
		/* Undoing a half-done restore must still work after ^C:
		 * a second client that ignores the cancel flag. */
		ro->cleanup = cq;
		rc = qbk_restore_run(repo, q, m, ro, rep, err);
	}
	qbk_qdrant_free(cq);
	qbk_manifest_free(m);
	return rc;
}

int
qbk_restore_run_ctx(struct qbk_ctx *ctx, const struct qbk_restore_request *rq,
    struct qbk_restore_opts *ro, struct qbk_restore_report *rep,
    struct qbk_buf *out, struct qbk_err *err)
{
	int rc;

	qbk_restore_opts_from(qbk_ctx_config(ctx), rq->priority, ro);
	if ((rc = run(ctx, rq, ro, rep, out, err)) != 0)
		qbk_ctx_lost_lock(ctx, err);
	return rc;
}
