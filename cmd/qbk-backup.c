/* qbk-backup: stream Qdrant snapshots into the repository. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "command/qbk_backup.h"
#include "command/qbk_ctx.h"
#include "command/qbk_options.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_exit.h"
#include "common/qbk_fs.h"
#include "common/qbk_log.h"
#include "repo/qbk_failure.h"
#include "repo/qbk_manifest.h"

enum {
	OPT_ALLOW_PARTIAL = 1,
	OPT_COLLECTION,
	OPT_CONTENT_HASH,
	OPT_FULL_STORAGE,
	OPT_METHOD,
	OPT_METRICS_FILE,
	OPT_PARALLEL,
	OPT_TAG,
	OPT_TYPE,
	OPT_WORKERS
};

static const struct cli_opt options[] = {
	{ "allow-partial", 0, CLI_ARG_NONE, OPT_ALLOW_PARTIAL, NULL,
	    "cluster: record shards without an active replica as missing",
	    0 },
	{ "collection", 0, CLI_ARG_STR, OPT_COLLECTION, "NAME",
	    "back up this collection (repeatable; default: all)", CLI_REPEAT },
	{ "content-hash", 0, CLI_ARG_NONE, OPT_CONTENT_HASH, NULL,
	    "hash every point too (for qbk-drill --validation exhaustive)",
	    0 },
	{ "full-storage", 0, CLI_ARG_NONE, OPT_FULL_STORAGE, NULL,
	    "back up Qdrant's full storage snapshot and every alias", 0 },
	{ "method", 0, CLI_ARG_CHOICE, OPT_METHOD, "auto|stream|snapshot",
	    "shard streams or collection snapshots (default auto)", 0 },
	{ "metrics-file", 0, CLI_ARG_STR, OPT_METRICS_FILE, "PATH",
	    "write Prometheus metrics of the run to PATH", 0 },
	{ "parallel", 0, CLI_ARG_UINT, OPT_PARALLEL, "N",
	    "cluster: stream from N nodes at once (default min(nodes, 4))",
	    0 },
	{ "tag", 0, CLI_ARG_STR, OPT_TAG, "KEY=VALUE",
	    "record a tag in the backup (repeatable)", CLI_REPEAT },
	{ "type", 0, CLI_ARG_CHOICE, OPT_TYPE, "full|incremental",
	    "full re-checks every reused chunk (default incremental)", 0 },
	{ "workers", 0, CLI_ARG_UINT, OPT_WORKERS, "N",
	    "chunk worker threads (default: one per CPU)", 0 },
	CLI_OPT_END
};

struct opts {
	struct cli_list collections;
	struct cli_list tags;
	int full_storage;
	int allow_partial;
	unsigned parallel;
	int content_hash;	/* --content-hash */
	int type;		/* -1 config, 0 incremental, 1 full */
	int method;
	const char *metrics_file;
	unsigned workers;
};

static int
handle(void *cookie, int id, const char *arg, uint64_t num)
{
	struct opts *o = cookie;

	switch (id) {
	case OPT_COLLECTION:
		return cli_list_add(&o->collections, "collection", arg);
	case OPT_CONTENT_HASH:
		o->content_hash = 1;
		break;
	case OPT_ALLOW_PARTIAL:
		o->allow_partial = 1;
		break;
	case OPT_FULL_STORAGE:
		o->full_storage = 1;
		break;
	case OPT_PARALLEL:
		return cli_threads(num, "parallel", &o->parallel);
	case OPT_METHOD:	/* enum qbk_backup_mode, in its order */
		o->method = (int)num;
		break;
	case OPT_METRICS_FILE:
		o->metrics_file = arg;
		break;
	case OPT_TAG:
		if (strchr(arg, '=') == NULL || arg[0] == '=')
			return cli_usage_error("bad value '%s' for '--tag': "
			    "expected KEY=VALUE", arg);
		return cli_list_add(&o->tags, "tag", arg);
	case OPT_TYPE:
		o->type = num == 0;	/* full */
		break;
	case OPT_WORKERS:
		return cli_threads(num, "workers", &o->workers);
	}
	return 0;
}

/* Progress on stderr: a redrawn line on a terminal, a line per collection
 * otherwise (cron mails show what was done). */
static void
on_progress(void *cookie, const struct qbk_backup_progress *p)
{
	const int *tty = cookie;
	char a[32], b[32];

	if (qbk_log_level() < QBK_LOG_WARN)
		return;
	qbk_buf_size_text(p->bytes, a, sizeof(a));
	switch (p->event) {
	case QBK_BACKUP_EV_START:
		break;
	case QBK_BACKUP_EV_BYTES:
		if (*tty)
			fprintf(stderr, "\r%s: %-30.30s %12s", cli_progname(),
			    p->collection, a);
		break;
	case QBK_BACKUP_EV_DONE:
		qbk_buf_size_text(p->bytes_new, b, sizeof(b));
		fprintf(stderr, "%s%s: %s: %s read, %s new, %.1f s\n",
		    *tty ? "\r\033[K" : "", cli_progname(), p->collection, a, b,
		    (double)p->duration_ms / 1000.0);
		break;
	}
}

/* The metrics of this run replace those of the last; the time of the last
 * success is carried over from the file being replaced. */
static void
write_metrics(const char *path, const struct qbk_manifest *m, int ok,
    const char *msg)
{
	struct qbk_buf text = QBK_BUF_INIT, prev = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_fs_read_file(path, 1 << 20, &prev, &err) != 0 &&
	    err.code != QBK_E_NOTFOUND)
		qbk_log(QBK_LOG_WARN, "cannot read the last metrics: %s",
		    err.msg);
	qbk_err_clear(&err);
	qbk_backup_metrics(m, ok, msg, qbk_now(), prev.len > 0 ? prev.buf :
	    NULL, &text);
	qbk_buf_release(&prev);
	cli_write_metrics(path, &text);
}

/* Record a failed run in the repository (failures/), for qbk-report's
 * success counts: not a usage error or an operator's ^C, and only when
 * the repository is open (a storage failure may keep this from working
 * too: the metrics file and the alert still tell). */
static void
record_failure(struct qbk_repo *repo, const struct opts *o,
    const struct qbk_err *failure)
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
	f.time = qbk_now();
	f.host = host;
	f.program = (char *)(uintptr_t)"qbk-backup";
	f.collections = (char **)(uintptr_t)o->collections.v;
	f.n_collections = o->collections.n;
	f.full_storage = o->full_storage;
	f.exit_code = qbk_err_exit_code(failure);
	f.error = (char *)(uintptr_t)failure->msg;
	if (qbk_failure_record(repo, &f, &err) != 0)
		qbk_log(QBK_LOG_WARN, "cannot record the failure in the "
		    "repository: %s", err.msg);
}

static int
check(void *cookie, const struct cli_common *common)
{
	const struct opts *o = cookie;

	(void)common;
	if (o->full_storage && o->collections.n > 0)
		return cli_usage_error("'--full-storage' and '--collection' "
		    "exclude each other");
	return 0;
}

int
main(int argc, char *argv[])
{
	struct opts o = { .type = -1 };
	struct cli_common common = CLI_COMMON_INIT;
	struct cli_prog prog = { "qbk-backup", "[options]",
		"Back up Qdrant collections (or the full storage) into the "
		"repository.",
		options, CLI_WITH_URL | CLI_WITH_REPO, handle, &o, check
	};
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_backup_opts bo;
	struct qbk_ctx *ctx;
	struct qbk_qdrant *q;
	struct qbk_repo *repo = NULL;
	struct qbk_manifest *m = NULL;
	struct qbk_buf out = QBK_BUF_INIT;
	int tty = isatty(2), rc;

	if ((rc = cli_start(argc, argv, &prog, &common, &ctx, &err)) !=
	    CLI_RUN)
		return rc;
	memset(&bo, 0, sizeof(bo));
	bo.collections = o.collections.v;
	bo.ncollections = o.collections.n;
	bo.full_storage = o.full_storage;
	bo.tags = o.tags.v;
	bo.ntags = o.tags.n;
	bo.mode = (enum qbk_backup_mode)o.method;
	bo.workers = o.workers;
	bo.content_hash = o.content_hash;
	bo.allow_partial = o.allow_partial;
	bo.node_parallelism = o.parallel;
	bo.cancel = &cli_interrupted;
	bo.progress = common.json ? NULL : on_progress;
	bo.progress_cookie = &tty;

	rc = -1;
	if (ctx != NULL) {
		qbk_backup_opts_from(qbk_ctx_config(ctx), o.type, &bo);
		if (qbk_ctx_qdrant(ctx, NULL, &q, &err) == 0 &&
		    qbk_ctx_repo(ctx, 1, &repo, &err) == 0) {
			bo.lock = qbk_ctx_lock(ctx);
			rc = qbk_backup_run(repo, q, &bo, &m, &err);
			if (rc != 0)
				qbk_ctx_lost_lock(ctx, &err);
		}
	}
	if (rc != 0 && repo != NULL)
		record_failure(repo, &o, &err);
	if (o.metrics_file != NULL)
		write_metrics(o.metrics_file, m, rc == 0, err.msg);
	if (common.json) {
		qbk_backup_report_json(m, rc == 0, &err, &out);
		cli_print(&out);
	} else if (rc == 0 && !common.quiet) {
		char a[32], b[32];

		qbk_buf_size_text(m->totals.bytes, a, sizeof(a));
		qbk_buf_size_text(m->totals.bytes_new, b, sizeof(b));
		printf("backup %s: %zu collection%s, %s read, %s new\n",
		    m->backup_id, m->n_collections,
		    m->n_collections == 1 ? "" : "s", a, b);
	}
	qbk_manifest_free(m);
	return rc != 0 ? cli_fail(&err) : cli_succeed();
}
