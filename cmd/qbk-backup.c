/* qbk-backup: stream Qdrant snapshots into the repository. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "command/qbk_backup.h"
#include "command/qbk_ctx.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
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

/* Progress on stderr: lib/ writes the text, cmd/ prints it. */
static void
on_progress(void *cookie, const struct qbk_backup_progress *p)
{
	const int *tty = cookie;
	struct qbk_buf text = QBK_BUF_INIT;

	qbk_backup_progress_text(p, cli_progname(), *tty, &text);
	cli_progress(&text);
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

	rc = ctx != NULL ? qbk_backup_run_ctx(ctx, o.type, &bo, &m, &err) : -1;
	if (o.metrics_file != NULL) {
		qbk_backup_metrics_update(o.metrics_file, m, rc == 0, err.msg,
		    qbk_now(), &out);
		cli_write_metrics(o.metrics_file, &out);
	}
	if (common.json)
		qbk_backup_report_json(m, rc == 0, &err, &out);
	else if (rc == 0 && !common.quiet)
		qbk_backup_summary_text(m, &out);
	cli_print(&out);
	qbk_manifest_free(m);
	return rc != 0 ? cli_fail(&err) : cli_succeed();
}
