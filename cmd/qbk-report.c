/* qbk-report: backups, drills and recovery objectives. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "command/qbk_ctx.h"
#include "command/qbk_options.h"
#include "command/qbk_report.h"
#include "command/qbk_restore.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_exit.h"

enum {
	OPT_CHECK = 1,
	OPT_FORMAT,
	OPT_LIST,
	OPT_OUTPUT,
	OPT_SINCE,
	OPT_UNTIL
};

static const struct cli_opt options[] = {
	{ "check", 0, CLI_ARG_NONE, OPT_CHECK, NULL,
	    "exit 5 if an objective is missed (one line each on stderr)", 0 },
	{ "format", 0, CLI_ARG_CHOICE, OPT_FORMAT, "text|json|prometheus",
	    "output format (default text)", 0 },
	{ "list", 0, CLI_ARG_NONE, OPT_LIST, NULL,
	    "list backups and drills instead of the compliance report", 0 },
	{ "output", 0, CLI_ARG_STR, OPT_OUTPUT, "PATH",
	    "write the output to PATH atomically, not to stdout", 0 },
	{ "since", 0, CLI_ARG_STR, OPT_SINCE, "TIME",
	    "start of the window: ISO 8601 or 7d back (default 30d)", 0 },
	{ "until", 0, CLI_ARG_STR, OPT_UNTIL, "TIME",
	    "end of the window and time of the report (default now)", 0 },
	CLI_OPT_END
};

struct opts {
	int check, list;
	enum qbk_report_format format;
	const char *output, *since, *until;
	struct qbk_report_opts ro;	/* the window */
};

static int
handle(void *cookie, int id, const char *arg, uint64_t num)
{
	struct opts *o = cookie;

	(void)num;
	switch (id) {
	case OPT_CHECK:
		o->check = 1;
		break;
	case OPT_FORMAT:
		o->format = (enum qbk_report_format)
		    (QBK_REPORT_FORMAT_TEXT + num);
		break;
	case OPT_LIST:
		o->list = 1;
		break;
	case OPT_OUTPUT:
		o->output = arg;
		break;
	case OPT_SINCE:
		o->since = arg;
		break;
	case OPT_UNTIL:
		o->until = arg;
		break;
	}
	return 0;
}

/* Resolve the options that depend on each other; -1 after a message. */
static int
settle(void *cookie, const struct cli_common *common)
{
	struct opts *o = cookie;
	struct qbk_report_opts *ro = &o->ro;
	struct qbk_err err = QBK_ERR_INIT;
	int64_t now = qbk_now();

	if (common->json) {
		if (o->format != QBK_REPORT_FORMAT_NONE &&
		    o->format != QBK_REPORT_FORMAT_JSON)
			return cli_usage_error("'--json' and '--format' "
			    "exclude each other");
		o->format = QBK_REPORT_FORMAT_JSON;
	}
	if (o->list && o->check)
		return cli_usage_error("'--list' and '--check' exclude each "
		    "other");
	if (o->list && o->format == QBK_REPORT_FORMAT_PROMETHEUS)
		return cli_usage_error("'--list' has no prometheus format");
	if (o->until != NULL &&
	    qbk_restore_parse_time(o->until, now, &now, &err) != 0)
		return cli_usage_error("bad value '%s' for '--until': %s",
		    o->until, err.msg);
	ro->now = now;
	ro->since = now - 30 * 86400;
	if (o->since != NULL &&
	    qbk_restore_parse_time(o->since, now, &ro->since, &err) != 0)
		return cli_usage_error("bad value '%s' for '--since': %s",
		    o->since, err.msg);
	if (ro->since > ro->now)
		return cli_usage_error("'--since' is after '--until'");
	/* Plain --check is silent on stdout: a line in cron. */
	if (o->format == QBK_REPORT_FORMAT_NONE &&
	    !(o->check && o->output == NULL))
		o->format = QBK_REPORT_FORMAT_TEXT;
	return 0;
}

static int
emit(const struct opts *o, const struct qbk_buf *out, struct qbk_err *err)
{
	if (o->output != NULL)
		return cli_write_file(o->output, out->buf, out->len, err);
	fputs(out->buf, stdout);
	return 0;
}

/* --check: one line and one alert per missed objective. */
static int
check_objectives(const struct qbk_report *r)
{
	struct qbk_buf lines = QBK_BUF_INIT;
	size_t i;

	if (r->objectives_met)
		return QBK_EXIT_OK;
	qbk_report_misses_text(r, cli_progname(), &lines);
	if (lines.len > 0)
		fputs(lines.buf, stderr);
	qbk_buf_release(&lines);
	for (i = 0; i < r->n_misses; i++)
		cli_notify(r->misses[i].kind, r->misses[i].collection,
		    r->misses[i].text, QBK_EXIT_OBJECTIVE);
	return QBK_EXIT_OBJECTIVE;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	struct cli_common common = CLI_COMMON_INIT;
	struct cli_prog prog = { "qbk-report", "[options]",
		"List backups and drills, and report on the recovery point "
		"and recovery time objectives.",
		options, CLI_WITH_REPO, handle, &o, settle
	};
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_report *r = NULL;
	struct qbk_ctx *ctx;
	struct qbk_repo *repo;
	struct qbk_buf out = QBK_BUF_INIT;
	int rc;

	memset(&o, 0, sizeof(o));
	if ((rc = cli_start(argc, argv, &prog, &common, &ctx, &err)) !=
	    CLI_RUN)
		return rc;
	o.ro.check_chunks = !o.list;
	o.ro.cancel = &cli_interrupted;

	rc = -1;
	if (ctx != NULL && qbk_ctx_repo(ctx, 0, &repo, &err) == 0) {
		qbk_report_opts_from(qbk_ctx_config(ctx), &o.ro);
		rc = qbk_report_load(repo, &o.ro, &r, &err);
	}
	if (rc != 0) {
		if (o.format == QBK_REPORT_FORMAT_JSON && o.output == NULL) {
			qbk_report_error_json(&err, &out);
			cli_print(&out);
		}
		return cli_fail(&err);
	}

	qbk_report_render(r, o.list, o.format, &out);
	if (out.len > 0 && emit(&o, &out, &err) != 0) {
		qbk_buf_release(&out);
		qbk_report_free(r);
		return cli_fail(&err);
	}
	qbk_buf_release(&out);
	rc = o.check ? check_objectives(r) : QBK_EXIT_OK;
	qbk_report_free(r);
	/* Only a check that passed resolves the alerts of missed ones. */
	return o.check && rc == QBK_EXIT_OK ? cli_succeed() : cli_exit(rc);
}
