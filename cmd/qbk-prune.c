/* qbk-prune: apply retention and legal holds, remove unreferenced chunks. */
#include <stdint.h>

#include "cli.h"
#include "command/qbk_ctx.h"
#include "command/qbk_options.h"
#include "command/qbk_prune.h"
#include "common/qbk_buf.h"
#include "repo/qbk_retention.h"

enum {
	OPT_DRY_RUN = 1,
	OPT_FORCE,
	OPT_GROUP_BY,
	OPT_HOLD,
	OPT_KEEP_DAILY,
	OPT_KEEP_HOURLY,
	OPT_KEEP_LAST,
	OPT_KEEP_MONTHLY,
	OPT_KEEP_WEEKLY,
	OPT_KEEP_WITHIN,
	OPT_KEEP_YEARLY,
	OPT_MAX_DELETE,
	OPT_REASON,
	OPT_RELEASE
};

static const struct cli_opt options[] = {
	{ "dry-run", 'n', CLI_ARG_NONE, OPT_DRY_RUN, NULL,
	    "show what would be kept and removed, and why; change nothing", 0 },
	{ "force", 0, CLI_ARG_NONE, OPT_FORCE, NULL,
	    "remove more backups than --max-delete allows", 0 },
	{ "group-by", 0, CLI_ARG_STR, OPT_GROUP_BY, "collections[,tags]",
	    "apply the policy per group of backups (default collections)", 0 },
	{ "hold", 0, CLI_ARG_STR, OPT_HOLD, "ID",
	    "put backup ID under legal hold (never removed), then stop", 0 },
	{ "keep-daily", 0, CLI_ARG_UINT, OPT_KEEP_DAILY, "N",
	    "keep the newest backup of each of the last N days", 0 },
	{ "keep-hourly", 0, CLI_ARG_UINT, OPT_KEEP_HOURLY, "N",
	    "keep the newest backup of each of the last N hours", 0 },
	{ "keep-last", 0, CLI_ARG_UINT, OPT_KEEP_LAST, "N",
	    "keep the N newest backups", 0 },
	{ "keep-monthly", 0, CLI_ARG_UINT, OPT_KEEP_MONTHLY, "N",
	    "keep the newest backup of each of the last N months", 0 },
	{ "keep-weekly", 0, CLI_ARG_UINT, OPT_KEEP_WEEKLY, "N",
	    "keep the newest backup of each of the last N weeks", 0 },
	{ "keep-within", 0, CLI_ARG_DURATION, OPT_KEEP_WITHIN, "DURATION",
	    "keep backups taken within DURATION of the newest one", 0 },
	{ "keep-yearly", 0, CLI_ARG_UINT, OPT_KEEP_YEARLY, "N",
	    "keep the newest backup of each of the last N years", 0 },
	{ "max-delete", 0, CLI_ARG_UINT, OPT_MAX_DELETE, "N",
	    "refuse to remove more than N backups in one run", 0 },
	{ "reason", 0, CLI_ARG_STR, OPT_REASON, "TEXT",
	    "why a --hold is placed (recorded with it)", 0 },
	{ "release", 0, CLI_ARG_STR, OPT_RELEASE, "ID",
	    "release the legal hold of backup ID, then stop", 0 },
	CLI_OPT_END
};

struct opts {
	struct qbk_prune_opts run;
	int have_keep;
	const char *hold, *release, *reason;
};

static int
handle(void *cookie, int id, const char *arg, uint64_t num)
{
	struct opts *o = cookie;
	struct qbk_retention_policy *p = &o->run.policy;
	struct qbk_err err = QBK_ERR_INIT;
	int n = num > 1000000 ? 1000000 : (int)num;

	switch (id) {
	case OPT_DRY_RUN:
		o->run.dry_run = 1;
		return 0;
	case OPT_FORCE:
		o->run.force = 1;
		return 0;
	case OPT_GROUP_BY:
		if (qbk_prune_parse_group_by(arg, &o->run, &err) != 0)
			return cli_usage_error("%s", err.msg);
		return 0;
	case OPT_HOLD:
		o->hold = arg;
		return 0;
	case OPT_RELEASE:
		o->release = arg;
		return 0;
	case OPT_REASON:
		o->reason = arg;
		return 0;
	case OPT_MAX_DELETE:
		o->run.max_delete = num > 1000000000 ? 1000000000 :
		    (long long)num;
		return 0;
	case OPT_KEEP_DAILY:
		p->keep_daily = n;
		break;
	case OPT_KEEP_HOURLY:
		p->keep_hourly = n;
		break;
	case OPT_KEEP_LAST:
		p->keep_last = n;
		break;
	case OPT_KEEP_MONTHLY:
		p->keep_monthly = n;
		break;
	case OPT_KEEP_WEEKLY:
		p->keep_weekly = n;
		break;
	case OPT_KEEP_YEARLY:
		p->keep_yearly = n;
		break;
	case OPT_KEEP_WITHIN:
		p->keep_within_s = (int64_t)(num / 1000);
		break;
	}
	o->have_keep = 1;
	return 0;
}

static int
check(void *cookie, const struct cli_common *common)
{
	const struct opts *o = cookie;
	int holds = (o->hold != NULL) + (o->release != NULL);

	(void)common;
	if (holds > 1 || (holds && (o->have_keep || o->run.dry_run)) ||
	    (o->reason != NULL && o->hold == NULL))
		return cli_usage_error("'--hold' or '--release' go alone "
		    "('--reason' only with '--hold')");
	return 0;
}

int
main(int argc, char *argv[])
{
	struct opts o = { .run = { .policy = QBK_RETENTION_POLICY_INIT,
	    .max_delete = -1 } };
	struct cli_common common = CLI_COMMON_INIT;
	struct cli_prog prog = { "qbk-prune", "[options]",
		"Remove backups that the retention policy no longer keeps, "
		"and the data only they used.",
		options, CLI_WITH_REPO, handle, &o, check
	};
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_ctx *ctx;
	struct qbk_prune_result *res = NULL;
	struct qbk_buf out = QBK_BUF_INIT;
	int rc, holds;

	if ((rc = cli_start(argc, argv, &prog, &common, &ctx, &err)) !=
	    CLI_RUN)
		return rc;
	holds = o.hold != NULL || o.release != NULL;
	o.run.cancel = &cli_interrupted;

	rc = -1;
	if (ctx != NULL && holds)
		rc = qbk_prune_hold_ctx(ctx, o.hold, o.release, o.reason, &err);
	else if (ctx != NULL)
		rc = qbk_prune_ctx_run(ctx, o.have_keep, &o.run, &res, &err);
	if (common.json && !holds)
		qbk_prune_report_json(res, rc == 0, &err, &out);
	else if (common.json)
		qbk_prune_hold_json(o.hold != NULL ? o.hold : o.release,
		    rc == 0, &out);
	else if (rc == 0 && !holds && (!common.quiet || o.run.dry_run))
		qbk_prune_report_text(res, &out);
	cli_print(&out);
	qbk_prune_result_free(res);
	return rc != 0 ? cli_fail(&err) : cli_succeed();
}
