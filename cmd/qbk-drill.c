/* qbk-drill: restore a backup into scratch collections and validate it. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "command/qbk_ctx.h"
#include "command/qbk_drill.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_exit.h"
#include "repo/qbk_manifest.h"

enum {
	OPT_AT = 1,
	OPT_BACKUP,
	OPT_COLLECTION,
	OPT_LIST,
	OPT_METRICS_FILE,
	OPT_SCENARIO,
	OPT_VALIDATE_ONLY,
	OPT_VALIDATION,
	OPT_WORKERS
};

static const struct cli_opt options[] = {
	{ "at", 0, CLI_ARG_STR, OPT_AT, "TIME",
	    "newest backup taken at or before TIME (ISO 8601, or 2h, 3d)", 0 },
	{ "backup", 0, CLI_ARG_STR, OPT_BACKUP, "ID",
	    "drill this backup (default: by scenario)", 0 },
	{ "collection", 0, CLI_ARG_STR, OPT_COLLECTION, "NAME",
	    "restore only this collection (repeatable; default: all)",
	    CLI_REPEAT },
	{ "list", 0, CLI_ARG_NONE, OPT_LIST, NULL,
	    "list the drills recorded in the repository and exit", 0 },
	{ "metrics-file", 0, CLI_ARG_STR, OPT_METRICS_FILE, "PATH",
	    "write Prometheus metrics of the run to PATH", 0 },
	{ "scenario", 0, CLI_ARG_CHOICE, OPT_SCENARIO,
	    "latest|pitr|all-collections", "what to restore (default latest)",
	    0 },
	{ "validate-only", 0, CLI_ARG_NONE, OPT_VALIDATE_ONLY, NULL,
	    "validate the live collections; restore nothing", 0 },
	{ "validation", 0, CLI_ARG_CHOICE, OPT_VALIDATION,
	    "basic|comprehensive|exhaustive",
	    "validation level (default: [drill] validation)", 0 },
	{ "workers", 0, CLI_ARG_UINT, OPT_WORKERS, "N",
	    "chunk reader threads (default: one per CPU, at most 8)", 0 },
	CLI_OPT_END
};

struct opts {
	struct cli_list collections;
	const char *at, *metrics_file;
	struct qbk_drill_opts d;
	int level_set, list;
};

static int
handle(void *cookie, int id, const char *arg, uint64_t num)
{
	struct opts *o = cookie;

	switch (id) {
	case OPT_AT:
		o->at = arg;
		break;
	case OPT_BACKUP:
		if (!qbk_manifest_id_valid(arg))
			return cli_usage_error("'%s' is not a backup id", arg);
		o->d.backup_id = arg;
		break;
	case OPT_COLLECTION:
		return cli_list_add(&o->collections, "collection", arg);
	case OPT_LIST:
		o->list = 1;
		break;
	case OPT_METRICS_FILE:
		o->metrics_file = arg;
		break;
	case OPT_SCENARIO:	/* enum qbk_drill_scenario, in its order */
		o->d.scenario = (enum qbk_drill_scenario)num;
		break;
	case OPT_VALIDATE_ONLY:
		o->d.validate_only = 1;
		break;
	case OPT_VALIDATION:	/* enum qbk_drill_level, in its order */
		o->d.level = (enum qbk_drill_level)num;
		o->level_set = 1;
		break;
	case OPT_WORKERS:
		return cli_threads(num, "workers", &o->d.workers);
	}
	return 0;
}

static int
check(void *cookie, const struct cli_common *common)
{
	const struct opts *o = cookie;

	(void)common;
	if (o->d.backup_id != NULL && o->at != NULL)
		return cli_usage_error("'--backup' and '--at' exclude each "
		    "other");
	if (o->d.scenario == QBK_DRILL_ALL_COLLECTIONS && o->collections.n > 0)
		return cli_usage_error("'--scenario all-collections' takes no "
		    "'--collection'");
	if (o->d.scenario == QBK_DRILL_PITR &&
	    (o->d.backup_id != NULL || o->at != NULL))
		return cli_usage_error("'--scenario pitr' chooses the backup: "
		    "not with '--backup' or '--at'");
	return 0;
}

/* --list: the drills recorded in the repository. */
static int
list(struct qbk_ctx *ctx, int json, struct qbk_drill_result *res,
    struct qbk_err *err)
{
	struct qbk_buf out = QBK_BUF_INIT;
	struct qbk_repo *repo;

	if (ctx != NULL && qbk_ctx_repo(ctx, 0, &repo, err) == 0 &&
	    qbk_drill_list(repo, json, &out, err) == 0)
		cli_print(&out);
	else if (json) {
		qbk_buf_reset(&out);
		qbk_drill_report_json(res, err, &out);
		cli_print(&out);
	}
	qbk_buf_release(&out);
	return err->code == QBK_E_OK ? cli_exit(QBK_EXIT_OK) : cli_fail(err);
}

int
main(int argc, char *argv[])
{
	struct opts o = { .d = QBK_DRILL_OPTS_INIT };
	struct cli_common common = CLI_COMMON_INIT;
	struct cli_prog prog = { "qbk-drill", "[options]",
		"Restore a backup into scratch collections, validate it, "
		"measure the recovery time, record the drill and clean up.",
		options, CLI_WITH_URL | CLI_WITH_REPO, handle, &o, check
	};
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_drill_result res;
	struct qbk_ctx *ctx;
	struct qbk_buf out = QBK_BUF_INIT;
	int rc, code;

	qbk_drill_result_init(&res);
	if ((rc = cli_start(argc, argv, &prog, &common, &ctx, &err)) !=
	    CLI_RUN)
		return rc;
	o.d.collections = o.collections.v;
	o.d.ncollections = o.collections.n;
	o.d.cancel = &cli_interrupted;
	if (o.list)
		return list(ctx, common.json, &res, &err);
	rc = ctx != NULL ? qbk_drill_run_ctx(ctx, o.at, o.level_set, &o.d,
	    &res, &err) : -1;
	if (common.json)
		qbk_drill_report_json(&res, rc == 0 ? NULL : &err, &out);
	else if (rc == 0)
		qbk_drill_text(&res, common.quiet, &out);
	cli_print(&out);
	if (o.metrics_file != NULL) {
		qbk_drill_metrics(&res, rc == 0 && res.rec->pass, qbk_now(),
		    &out);
		cli_write_metrics(o.metrics_file, &out);
	}
	if (rc != 0) {
		qbk_drill_result_release(&res);
		return cli_fail(&err);
	}
	code = qbk_drill_exit_code(&res);
	qbk_drill_alert_text(&res, &out);
	if (out.len > 0)
		cli_alert_detail("%s", out.buf);
	qbk_buf_release(&out);
	qbk_drill_result_release(&res);
	return code == QBK_EXIT_OK ? cli_succeed() : cli_exit(code);
}
