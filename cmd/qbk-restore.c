/* qbk-restore: put a backup back into Qdrant, or into a snapshot file. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "command/qbk_ctx.h"
#include "command/qbk_restore.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_exit.h"
#include "qdrant/qbk_qdrant.h"

enum {
	OPT_ALLOW_INACTIVE = 1,
	OPT_AS,
	OPT_AT,
	OPT_BACKUP,
	OPT_COLLECTION,
	OPT_FORCE,
	OPT_LIST,
	OPT_NO_ALIASES,
	OPT_PARALLEL,
	OPT_PRIORITY,
	OPT_SHARD,
	OPT_TO_FILE,
	OPT_WORKERS
};

static const struct cli_opt options[] = {
	{ "allow-inactive-replicas", 0, CLI_ARG_NONE, OPT_ALLOW_INACTIVE, NULL,
	    "cluster: replicas not active in time only warn", 0 },
	{ "as", 0, CLI_ARG_STR, OPT_AS, "NEWNAME",
	    "restore the one chosen collection under this name", 0 },
	{ "at", 0, CLI_ARG_STR, OPT_AT, "TIME",
	    "newest backup taken at or before TIME (ISO 8601, or 2h, 3d)", 0 },
	{ "backup", 0, CLI_ARG_STR, OPT_BACKUP, "ID",
	    "restore this backup (default: the newest)", 0 },
	{ "collection", 0, CLI_ARG_STR, OPT_COLLECTION, "NAME",
	    "restore this collection (repeatable; default: all)", CLI_REPEAT },
	{ "force", 0, CLI_ARG_NONE, OPT_FORCE, NULL,
	    "replace existing collections (after a safety backup) or files",
	    0 },
	{ "list", 0, CLI_ARG_NONE, OPT_LIST, NULL,
	    "show what the backup holds and exit", 0 },
	{ "no-aliases", 0, CLI_ARG_NONE, OPT_NO_ALIASES, NULL,
	    "do not restore the aliases the backup recorded", 0 },
	{ "parallel", 0, CLI_ARG_UINT, OPT_PARALLEL, "N",
	    "cluster: upload to N nodes at once (default min(nodes, 4))", 0 },
	{ "priority", 0, CLI_ARG_CHOICE, OPT_PRIORITY,
	    "no_sync|snapshot|replica",
	    "Qdrant's recovery priority (default snapshot)", 0 },
	{ "shard", 0, CLI_ARG_UINT, OPT_SHARD, "N",
	    "restore only shard N into the existing collection", 0 },
	{ "to-file", 0, CLI_ARG_STR, OPT_TO_FILE, "PATH",
	    "write the snapshot file to PATH ('-': stdout) instead", 0 },
	{ "workers", 0, CLI_ARG_UINT, OPT_WORKERS, "N",
	    "chunk reader threads (default: one per CPU, at most 8)", 0 },
	CLI_OPT_END
};

struct opts {
	struct cli_list collections;
	struct qbk_restore_request rq;
	struct qbk_restore_opts ro;
};

static int
handle(void *cookie, int id, const char *arg, uint64_t num)
{
	struct opts *o = cookie;

	switch (id) {
	case OPT_ALLOW_INACTIVE:
		o->ro.allow_inactive = 1;
		break;
	case OPT_AS:
		o->ro.as = arg;
		break;
	case OPT_AT:
		o->rq.at = arg;
		break;
	case OPT_BACKUP:
		o->rq.backup = arg;
		break;
	case OPT_COLLECTION:
		return cli_list_add(&o->collections, "collection", arg);
	case OPT_FORCE:
		o->ro.force = 1;
		break;
	case OPT_LIST:
		o->rq.list = 1;
		break;
	case OPT_NO_ALIASES:
		o->ro.no_aliases = 1;
		break;
	case OPT_PRIORITY:	/* enum qbk_qdrant_priority, after DEFAULT */
		o->rq.priority = QBK_QDRANT_PRIORITY_NO_SYNC + (int)num;
		break;
	case OPT_PARALLEL:
		return cli_threads(num, "parallel", &o->ro.node_parallelism);
	case OPT_SHARD:
		if (num > UINT32_MAX)
			return cli_usage_error("bad value for '--shard'");
		o->ro.one_shard = 1;
		o->ro.shard = (uint32_t)num;
		break;
	case OPT_TO_FILE:
		o->rq.to_file = arg;
		break;
	case OPT_WORKERS:
		return cli_threads(num, "workers", &o->ro.workers);
	}
	return 0;
}

static int
check(void *cookie, const struct cli_common *common)
{
	const struct opts *o = cookie;
	int json = common->json;

	if (o->rq.backup != NULL && o->rq.at != NULL)
		return cli_usage_error("'--backup' and '--at' exclude each "
		    "other");
	if (o->rq.list && (o->rq.to_file != NULL || o->ro.as != NULL ||
	    o->ro.force))
		return cli_usage_error("'--list' takes no '--to-file', '--as' "
		    "or '--force'");
	if (o->rq.to_file != NULL && o->ro.as != NULL)
		return cli_usage_error("'--to-file' takes no '--as'");
	if (o->ro.one_shard && (o->collections.n != 1 ||
	    o->rq.to_file != NULL ||
	    o->rq.list))
		return cli_usage_error("'--shard' needs one '--collection' "
		    "and no '--to-file' or '--list'");
	if (o->rq.to_file != NULL && strcmp(o->rq.to_file, "-") == 0 && json)
		return cli_usage_error("'--json' needs stdout: not with "
		    "'--to-file -'");
	return 0;
}

/* Progress on stderr: a redrawn line on a terminal only. */
static void
on_progress(void *cookie, const struct qbk_restore_progress *p)
{
	const int *tty = cookie;
	struct qbk_buf text = QBK_BUF_INIT;

	if (*tty) {
		qbk_restore_progress_text(p, cli_progname(), &text);
		cli_progress(&text);
	}
}

int
main(int argc, char *argv[])
{
	struct opts o = { .rq.priority = -1 };
	struct cli_common common = CLI_COMMON_INIT;
	struct cli_prog prog = { "qbk-restore", "[options]",
		"Restore a backup into Qdrant (every collection, or those "
		"chosen), or write its snapshot file.",
		options, CLI_WITH_URL | CLI_WITH_REPO, handle, &o, check
	};
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_restore_report rep;
	struct qbk_ctx *ctx;
	struct qbk_buf out = QBK_BUF_INIT;
	int tty = isatty(2), rc;

	if ((rc = cli_start(argc, argv, &prog, &common, &ctx, &err)) !=
	    CLI_RUN)
		return rc;
	o.ro.collections = o.collections.v;
	o.ro.ncollections = o.collections.n;
	o.ro.cancel = &cli_interrupted;
	o.ro.progress = common.json ? NULL : on_progress;
	o.ro.progress_cookie = &tty;
	qbk_restore_report_init(&rep);

	o.rq.json = common.json;
	if (o.rq.to_file != NULL && strcmp(o.rq.to_file, "-") == 0)
		o.rq.write = cli_stdout_write;
	rc = ctx != NULL ? qbk_restore_run_ctx(ctx, &o.rq, &o.ro, &rep, &out,
	    &err) : -1;
	/* A --list that worked has its listing in out already. */
	if (common.json && (rc != 0 || !o.rq.list))
		qbk_restore_report_json(&rep, rc == 0, &err, &out);
	else if (!common.json && rc == 0 && !o.rq.list &&
	    o.rq.write == NULL)
		qbk_restore_summary_text(&rep, &out);
	cli_print(&out);
	qbk_restore_report_release(&rep);
	return rc != 0 ? cli_fail(&err) : cli_succeed();
}
