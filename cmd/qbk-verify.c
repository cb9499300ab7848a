/* qbk-verify: check the repository and, with --live, the deployment. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "command/qbk_verify.h"
#include "command/qbk_verify_metrics.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_exit.h"
#include "repo/qbk_manifest.h"

enum {
	OPT_BACKUP = 1,
	OPT_LIVE,
	OPT_METRICS_FILE,
	OPT_READ_DATA,
	OPT_READ_DATA_SUBSET,
	OPT_WORKERS
};

static const struct cli_opt options[] = {
	{ "backup", 0, CLI_ARG_STR, OPT_BACKUP, "ID",
	    "check only this backup", 0 },
	{ "live", 0, CLI_ARG_NONE, OPT_LIVE, NULL,
	    "check the deployment against the newest backup", 0 },
	{ "metrics-file", 0, CLI_ARG_STR, OPT_METRICS_FILE, "PATH",
	    "write Prometheus metrics of the run to PATH", 0 },
	{ "read-data", 0, CLI_ARG_NONE, OPT_READ_DATA, NULL,
	    "read every chunk and reassemble every snapshot", 0 },
	{ "read-data-subset", 0, CLI_ARG_STR, OPT_READ_DATA_SUBSET, "N%|K/N",
	    "read only N% of the chunks, or slice K of N", 0 },
	{ "workers", 0, CLI_ARG_UINT, OPT_WORKERS, "N",
	    "chunk reader threads (default: one per CPU)", 0 },
	CLI_OPT_END
};

struct opts {
	struct qbk_verify_opts v;
	int live;
	const char *metrics_file;
};

static int
handle(void *cookie, int id, const char *arg, uint64_t num)
{
	struct opts *o = cookie;
	struct qbk_err err = QBK_ERR_INIT;

	switch (id) {
	case OPT_BACKUP:
		if (!qbk_manifest_id_valid(arg))
			return cli_usage_error("'%s' is not a backup id", arg);
		o->v.backup_id = arg;
		break;
	case OPT_LIVE:
		o->live = 1;
		break;
	case OPT_METRICS_FILE:
		o->metrics_file = arg;
		break;
	case OPT_READ_DATA:
		o->v.read_data = 1;
		break;
	case OPT_READ_DATA_SUBSET:
		if (qbk_verify_parse_subset(arg, &o->v, &err) != 0)
			return cli_usage_error("%s", err.msg);
		o->v.read_data = 1;
		break;
	case OPT_WORKERS:
		return cli_threads(num, "workers", &o->v.workers);
	}
	return 0;
}

/* The qbk_verify_* metrics of the run, written also when it failed. */
static void
write_metrics(const char *path, const struct qbk_verify_result *res, int rc,
    int64_t duration_ms)
{
	struct qbk_buf t = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	qbk_verify_metrics(res, rc != 0, duration_ms, qbk_now(), &t);
	if (cli_write_file(path, t.buf, t.len, &err) != 0)
		fprintf(stderr, "%s: cannot write metrics file: %s\n",
		    cli_progname(), err.msg);
	qbk_buf_release(&t);
}

int
main(int argc, char *argv[])
{
	struct opts o = { QBK_VERIFY_OPTS_INIT, 0, NULL };
	struct cli_common common = CLI_COMMON_INIT;
	struct cli_prog prog = { "qbk-verify", "[options]",
		"Check that the repository's backups are whole and readable, "
		"and that the deployment matches the newest one.",
		options, CLI_WITH_URL | CLI_WITH_REPO, handle, &o, NULL
	};
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_verify_result res;
	struct qbk_ctx *ctx;
	struct qbk_buf out = QBK_BUF_INIT;
	int64_t t0 = qbk_clock_ms();
	int rc;

	memset(&res, 0, sizeof(res));
	if ((rc = cli_start(argc, argv, &prog, &common, &ctx, &err)) !=
	    CLI_RUN)
		return rc;
	/* --live alone checks the deployment, not the repository. */
	o.v.repo = !o.live || o.v.read_data;
	o.v.cancel = &cli_interrupted;

	rc = ctx != NULL ? qbk_verify_ctx_run(ctx, o.live, &o.v, &res, &err) :
	    -1;
	if (o.metrics_file != NULL)
		write_metrics(o.metrics_file, &res, rc, qbk_clock_ms() - t0);
	if (common.json)
		qbk_verify_report_json(&res, rc == 0 ? NULL : &err, &out);
	else if (rc == 0 && (!common.quiet || res.n_problems > 0))
		qbk_verify_report_text(&res, &out);
	cli_print(&out);
	if (rc != 0) {
		qbk_verify_result_release(&res);
		return cli_fail(&err);
	}
	rc = res.n_problems > 0 ? QBK_EXIT_DATA : QBK_EXIT_OK;
	if (rc == QBK_EXIT_DATA) {
		qbk_verify_problems_summary(&res, &out);
		cli_alert_detail("%s", out.buf);
		qbk_buf_release(&out);
	}
	qbk_verify_result_release(&res);
	return rc == QBK_EXIT_OK ? cli_succeed() : cli_exit(rc);
}
