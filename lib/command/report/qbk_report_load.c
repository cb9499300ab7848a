/*
 * Loading a report from a repository: its backups, failures and drills,
 * and the chunks each backup needs.
 */

#include <inttypes.h>
#include <string.h>

#include "command/qbk_prune.h"
#include "command/qbk_report.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_idset.h"
#include "common/qbk_log.h"
#include "repo/qbk_failure.h"
#include "repo/qbk_job.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"

struct listing {
	struct qbk_idset *chunks;
	uint64_t bytes, count;
};

static int
on_chunk(void *cookie, const uint8_t *id,
    const struct qbk_repo_chunk_stat *st, struct qbk_err *err)
{
	struct listing *l = cookie;

	(void)err;
	if (qbk_idset_add(l->chunks, id)) {
		l->count++;
		if (st != NULL)
			l->bytes += st->size;
	}
	return 0;
}

struct chunk_check {
	struct qbk_repo *repo;
	struct listing *l;
	struct qbk_idset *missing;
	uint64_t n_missing;
	char first[QBK_ID_LEN * 2 + 1];
	int failed;
	struct qbk_err *err;
};

static int
check_chunk(void *cookie, const struct qbk_manifest_collection *c,
    const struct qbk_manifest_snapshot *s, const struct qbk_manifest_chunk *ch)
{
	struct chunk_check *cc = cookie;
	int rc;

	(void)c;
	(void)s;
	if (qbk_idset_has(cc->l->chunks, ch->id))
		return 0;
	if (!qbk_idset_has(cc->missing, ch->id)) {
		/* Written after the listing by a backup that runs now? */
		rc = qbk_repo_chunk_exists(cc->repo, ch->id, cc->err);
		if (rc < 0) {
			cc->failed = 1;
			return 1;
		}
		if (rc == 1) {
			qbk_idset_add(cc->l->chunks, ch->id);
			return 0;
		}
		qbk_idset_add(cc->missing, ch->id);
	}
	if (cc->n_missing++ == 0)
		qbk_id_to_hex(ch->id, cc->first);
	return 0;
}

static int
is_held(const struct qbk_hold *holds, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(holds[i].backup_id, id) == 0)
			return 1;
	return 0;
}

int
qbk_report_load(struct qbk_repo *repo, const struct qbk_report_opts *opts,
    struct qbk_report **out, struct qbk_err *err)
{
	struct qbk_report *r = qbk_report_new(opts);
	struct listing l = { NULL, 0, 0 };
	struct qbk_hold *holds = NULL;
	struct qbk_idset *missing = NULL;
	struct qbk_err e2 = QBK_ERR_INIT;
	struct qbk_failure *fails = NULL;
	char **ids = NULL, **dids = NULL;
	size_t nholds = 0, nids = 0, ndids = 0, nfails = 0, i;

	*out = NULL;
	l.chunks = qbk_idset_new(1024);
	missing = qbk_idset_new(16);
	/* Chunks first: a prune removes manifests before their chunks. */
	if (opts->check_chunks && qbk_repo_chunk_list(repo, on_chunk, &l,
	    err) < 0)
		goto err;
	r->stored_bytes = l.bytes;
	r->stored_chunks = l.count;
	if (qbk_hold_list(repo, &holds, &nholds, err) != 0)
		goto err;
	if (qbk_repo_backup_ids(repo, &ids, &nids, err) != 0)
		goto err;
	for (i = 0; i < nids; i++) {
		struct qbk_manifest *m = NULL;
		int held = is_held(holds, nholds, ids[i]);

		if (qbk_job_check(opts->cancel, NULL, err) != 0)
			goto err;
		qbk_err_clear(&e2);
		if (qbk_repo_manifest_read(repo, ids[i], &m, &e2) != 0) {
			if (e2.code != QBK_E_NOTFOUND &&
			    e2.code != QBK_E_INTEGRITY &&
			    e2.code != QBK_E_CRYPTO) {
				*err = e2;
				goto err;
			}
			if (e2.code == QBK_E_NOTFOUND)
				continue;	/* pruned meanwhile */
			qbk_log(QBK_LOG_WARN, "backup '%s': %s", ids[i],
			    e2.msg);
			qbk_report_add_broken(r, ids[i], held, e2.msg);
			continue;
		}
		if (opts->check_chunks) {
			struct chunk_check cc = { repo, &l, missing, 0, "", 0,
			    err };
			struct qbk_buf p = QBK_BUF_INIT;

			qbk_manifest_foreach_chunk(m, check_chunk, &cc);
			if (cc.failed) {
				qbk_manifest_free(m);
				goto err;
			}
			if (cc.n_missing > 0)
				qbk_buf_addf(&p, "%" PRIu64 " chunk "
				    "reference%s missing (first %s)",
				    cc.n_missing, cc.n_missing == 1 ? "" : "s",
				    cc.first);
			qbk_report_add_backup(r, m, held,
			    p.len > 0 ? p.buf : NULL);
			qbk_buf_release(&p);
		} else {
			qbk_report_add_backup(r, m, held, NULL);
		}
		qbk_manifest_free(m);
	}
	if (qbk_failure_list(repo, &fails, &nfails, err) != 0)
		goto err;
	for (i = 0; i < nfails; i++)
		qbk_report_add_failure(r, &fails[i]);
	qbk_failure_list_free(fails, nfails);
	fails = NULL;
	if (qbk_repo_drill_ids(repo, &dids, &ndids, err) != 0)
		goto err;
	for (i = 0; i < ndids; i++) {
		struct qbk_manifest_drill *d = NULL;

		if (qbk_job_check(opts->cancel, NULL, err) != 0)
			goto err;
		qbk_err_clear(&e2);
		if (qbk_repo_drill_read(repo, dids[i], &d, &e2) != 0) {
			if (e2.code != QBK_E_NOTFOUND)
				qbk_log(QBK_LOG_WARN, "drill '%s': %s",
				    dids[i], e2.msg);
			continue;
		}
		qbk_report_add_drill(r, d);
		qbk_manifest_drill_free(d);
	}
	qbk_report_compute(r);
	qbk_repo_free_ids(ids, nids);
	qbk_repo_free_ids(dids, ndids);
	qbk_hold_list_free(holds, nholds);
	qbk_idset_free(l.chunks);
	qbk_idset_free(missing);
	*out = r;
	return 0;
err:
	qbk_repo_free_ids(ids, nids);
	qbk_repo_free_ids(dids, ndids);
	qbk_hold_list_free(holds, nholds);
	qbk_idset_free(l.chunks);
	qbk_idset_free(missing);
	qbk_report_free(r);
	return -1;
}
