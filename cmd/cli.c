#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "command/qbk_ctx.h"
#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_exit.h"
#include "common/qbk_fs.h"
#include "common/qbk_log.h"
#include "config/qbk_config.h"
#include "notify/qbk_notify.h"

volatile sig_atomic_t cli_interrupted;
volatile sig_atomic_t cli_signal;

static const char *progname = "qbk";
static struct qbk_ctx *run_ctx;	/* of cli_open(), until cli_exit() */
static char open_error[512];	/* why it did not open */
static const char *repo_path;	/* --repo LOCATION, for their scope */
static int notified;		/* an alert was sent (or tried) this run */
static char alert_detail[512];	/* what the exit status alert says */

enum {
	OPT_C_CONFIG = -100,
	OPT_C_HELP,
	OPT_C_JSON,
	OPT_C_QUIET,
	OPT_C_REPO,
	OPT_C_URL,
	OPT_C_VERBOSE,
	OPT_C_VERSION
};

static const struct cli_opt common_opts[] = {
	{ "config", 'c', CLI_ARG_STR, OPT_C_CONFIG, "FILE",
	    "configuration file (default $QBK_CONFIG or /etc/qbk/qbk.conf)", 0 },
	{ "help", 'h', CLI_ARG_NONE, OPT_C_HELP, NULL,
	    "show this help and exit", 0 },
	{ "json", 0, CLI_ARG_NONE, OPT_C_JSON, NULL,
	    "print one JSON document on stdout", 0 },
	{ "quiet", 'q', CLI_ARG_NONE, OPT_C_QUIET, NULL,
	    "print errors only", 0 },
	{ "repo", 0, CLI_ARG_STR, OPT_C_REPO, "LOCATION",
	    "repository folder or s3://bucket/prefix (overrides the config)",
	    0 },
	{ "url", 0, CLI_ARG_STR, OPT_C_URL, "URL",
	    "Qdrant URL (overrides the config)", 0 },
	{ "verbose", 'v', CLI_ARG_NONE, OPT_C_VERBOSE, NULL,
	    "say more (repeat for debug output)", CLI_REPEAT },
	{ "version", 'V', CLI_ARG_NONE, OPT_C_VERSION, NULL,
	    "show version and library versions and exit", 0 },
	CLI_OPT_END
};

static void
on_signal(int sig)
{
	cli_signal = sig;
	cli_interrupted = 1;
}

static void
log_sink(void *cookie, enum qbk_log_level level, const char *msg)
{
	(void)cookie;
	switch (level) {
	case QBK_LOG_ERROR:
		fprintf(stderr, "%s: error: %s\n", progname, msg);
		break;
	case QBK_LOG_WARN:
		fprintf(stderr, "%s: warning: %s\n", progname, msg);
		break;
	default:
		fprintf(stderr, "%s: %s\n", progname, msg);
		break;
	}
}

int
cli_init(const char *argv0)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct sigaction sa;
	const char *slash;

	if (argv0 != NULL && *argv0 != '\0') {
		slash = strrchr(argv0, '/');
		progname = slash != NULL ? slash + 1 : argv0;
	}
	signal(SIGPIPE, SIG_IGN);
	/* A file-size limit (ulimit -f) must fail a write with EFBIG, which
	 * is reported, rather than kill the process half-way. */
	signal(SIGXFSZ, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	qbk_log_set_sink(log_sink, NULL);
	qbk_log_set_level(QBK_LOG_WARN);
	if (qbk_init(&err) != 0) {
		cli_report(&err);
		return -1;
	}
	return 0;
}

int
cli_open(const struct cli_prog *prog, const struct cli_common *common,
    struct qbk_ctx **ctx, struct qbk_err *err)
{
	struct qbk_ctx_opts co = { common->config, common->url, common->repo,
	    prog->name, &cli_interrupted };

	*ctx = NULL;
	if (qbk_ctx_open(&run_ctx, &co, err) != 0) {
		snprintf(open_error, sizeof(open_error), "%s", err->msg);
		return -1;
	}
	*ctx = run_ctx;
	return 0;
}

int
cli_start(int argc, char *argv[], const struct cli_prog *prog,
    struct cli_common *common, struct qbk_ctx **ctx, struct qbk_err *err)
{
	int rc, rest;

	*ctx = NULL;
	if (cli_init(argv[0]) != 0)
		return QBK_EXIT_RUNTIME;
	if ((rc = cli_parse(argc, argv, prog, common, &rest)) != 0)
		return rc > 0 ? QBK_EXIT_OK : QBK_EXIT_USAGE;
	if (rest < argc) {
		cli_usage_error("unexpected argument '%s'", argv[rest]);
		return QBK_EXIT_USAGE;
	}
	if (prog->check != NULL && prog->check(prog->ctx, common) != 0)
		return QBK_EXIT_USAGE;
	cli_open(prog, common, ctx, err);
	return CLI_RUN;
}

const char *
cli_progname(void)
{
	return progname;
}

int
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nhint: run '%s --help' for the options\n", progname);
	return -1;
}

/* The log level of -q and -v. */
static void
set_log_level(const struct cli_common *common)
{
	if (common->quiet)
		qbk_log_set_level(QBK_LOG_ERROR);
	else if (common->verbose == 1)
		qbk_log_set_level(QBK_LOG_INFO);
	else if (common->verbose == 2)
		qbk_log_set_level(QBK_LOG_DETAIL);
	else if (common->verbose >= 3)
		qbk_log_set_level(QBK_LOG_DEBUG);
}

/* Merge ${b}, the common options of a second cli_parse() (options after a
 * command word), into ${a}, and set the log level of the merged -q/-v.
 * 0, or -1 after a usage error: an option given in both, or '--quiet'
 * with '--verbose'. */
static int
common_merge(struct cli_common *a, const struct cli_common *b)
{
	const char *twice = a->config != NULL && b->config != NULL ? "config" :
	    a->repo != NULL && b->repo != NULL ? "repo" :
	    a->json && b->json ? "json" : a->quiet && b->quiet ? "quiet" : NULL;

	if (twice != NULL) {
		cli_usage_error("option '--%s' given more than once", twice);
		return -1;
	}
	if ((a->quiet || b->quiet) && (a->verbose || b->verbose)) {
		cli_usage_error("'--quiet' and '--verbose' exclude each other");
		return -1;
	}
	if (b->config != NULL)
		a->config = b->config;
	if (b->repo != NULL)
		a->repo = b->repo;
	a->json |= b->json;
	a->quiet |= b->quiet;
	a->verbose += b->verbose;
	set_log_level(a);
	return 0;
}

int
cli_start_command(int argc, char *argv[], const struct cli_prog *prog,
    const char *commands, struct cli_common *common, int *cmd, int *rest)
{
	struct cli_common c2 = CLI_COMMON_INIT;
	int rc, rest2;

	if (cli_init(argv[0]) != 0)
		return QBK_EXIT_RUNTIME;
	if ((rc = cli_parse(argc, argv, prog, common, cmd)) != 0)
		return rc > 0 ? QBK_EXIT_OK : QBK_EXIT_USAGE;
	if (*cmd == argc) {
		cli_usage_error("missing command: %s", commands);
		return QBK_EXIT_USAGE;
	}
	if ((rc = cli_parse(argc - *cmd, argv + *cmd, prog, &c2,
	    &rest2)) != 0)
		return rc > 0 ? QBK_EXIT_OK : QBK_EXIT_USAGE;
	if (common_merge(common, &c2) != 0)
		return QBK_EXIT_USAGE;
	*rest = *cmd + rest2;
	return CLI_RUN;
}

int
cli_list_add(struct cli_list *list, const char *name, const char *arg)
{
	if (list->n == CLI_MAX_ARGS)
		return cli_usage_error("too many '--%s'", name);
	list->v[list->n++] = arg;
	return 0;
}

int
cli_threads(uint64_t num, const char *name, unsigned *out)
{
	if (num < 1 || num > 64)
		return cli_usage_error("'--%s' must be 1 to 64", name);
	*out = (unsigned)num;
	return 0;
}

void
cli_report(const struct qbk_err *err)
{
	fprintf(stderr, "%s: %s\n", progname,
	    err->msg[0] != '\0' ? err->msg : "unknown error");
	if (err->hint[0] != '\0')
		fprintf(stderr, "hint: %s\n", err->hint);
}

static const char *
severity_of(int code)
{
	switch (code) {
	case QBK_EXIT_DATA:
	case QBK_EXIT_OBJECTIVE:
		return "critical";
	case QBK_EXIT_LOCKED:
		return "warning";
	default:
		return "error";
	}
}

/* Exit 2 from cli_fail() is a failure at run time (a missing repository,
 * a wrong passphrase, an unknown collection) that a cron job must not
 * hide; a command line that does not parse never gets here. */
static int
notify_wanted(int code)
{
	return !notified && cli_signal == 0 &&
	    (code == QBK_EXIT_RUNTIME || code == QBK_EXIT_USAGE ||
	    code == QBK_EXIT_DATA || code == QBK_EXIT_LOCKED ||
	    code == QBK_EXIT_OBJECTIVE);
}

/* The configuration the program loaded, and the event's common part:
 * program, host, environment, and the scope (the repository: --repo,
 * else [repository] location).  NULL when nothing is to be sent. */
static const struct qbk_config *
notify_setup(struct qbk_notify_event *ev, char *host, size_t hostlen)
{
	const struct qbk_config *cfg;

	qbk_ctx_close(run_ctx);
	if (run_ctx == NULL) {
		qbk_log(QBK_LOG_DEBUG, "no notification: %s", open_error);
		return NULL;
	}
	cfg = qbk_ctx_config(run_ctx);
	if (!qbk_notify_configured(cfg))
		return NULL;
	if (gethostname(host, hostlen) != 0)
		snprintf(host, hostlen, "unknown");
	host[hostlen - 1] = '\0';
	memset(ev, 0, sizeof(*ev));
	ev->program = progname;
	ev->time = qbk_now();
	ev->host = host;
	ev->environment = cfg->environment.name;
	ev->scope = repo_path != NULL ? repo_path : cfg->repo.location;
	return cfg;
}

int
cli_notify(const char *kind, const char *collection, const char *summary,
    int code)
{
	const struct qbk_config *cfg;
	struct qbk_notify_event ev;
	char host[256];
	int sent = 0;

	notified = 1;
	if ((cfg = notify_setup(&ev, host, sizeof(host))) != NULL) {
		ev.kind = kind;
		ev.collection = collection;
		ev.summary = summary;
		ev.severity = severity_of(code);
		ev.exit_code = code;
		sent = qbk_notify_send(cfg, &ev, &cli_signal);
	}
	return sent;
}

void
cli_alert_detail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(alert_detail, sizeof(alert_detail), fmt, ap);
	va_end(ap);
}

int
cli_succeed(void)
{
	const struct qbk_config *cfg;
	struct qbk_notify_event ev;
	char host[256], msg[128];

	if (cli_signal == 0 &&
	    (cfg = notify_setup(&ev, host, sizeof(host))) != NULL) {
		snprintf(msg, sizeof(msg), "%s succeeded", progname);
		ev.summary = msg;
		ev.exit_code = QBK_EXIT_OK;
		qbk_notify_resolve(cfg, &ev, &cli_signal);
	}
	return cli_exit(QBK_EXIT_OK);
}

void
cli_print(struct qbk_buf *out)
{
	if (out->buf != NULL)
		fputs(out->buf, stdout);
	qbk_buf_release(out);
}

void
cli_progress(struct qbk_buf *text)
{
	if (text->len > 0 && qbk_log_level() >= QBK_LOG_WARN)
		fputs(text->buf, stderr);
	qbk_buf_release(text);
}

int
cli_stdout_write(void *cookie, const void *data, size_t len,
    struct qbk_err *err)
{
	const char *p = data;
	ssize_t n;

	(void)cookie;
	while (len > 0) {
		if ((n = write(STDOUT_FILENO, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return qbk_err_sys(err, QBK_E_IO, "cannot write to "
			    "standard output");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
cli_write_file(const char *path, const void *data, size_t len,
    struct qbk_err *err)
{
	struct qbk_buf dir = QBK_BUF_INIT;
	const char *slash = strrchr(path, '/');
	int rc;

	if (slash == NULL)
		qbk_buf_addstr(&dir, ".");
	else
		qbk_buf_add(&dir, path, slash == path ? 1 :
		    (size_t)(slash - path));
	rc = qbk_fs_write_atomic(dir.buf, slash != NULL ? slash + 1 : path,
	    data, len, QBK_FS_READABLE, err) < 0 ? -1 : 0;
	qbk_buf_release(&dir);
	return rc;
}

void
cli_write_metrics(const char *path, struct qbk_buf *text)
{
	struct qbk_err err = QBK_ERR_INIT;

	if (cli_write_file(path, text->buf, text->len, &err) != 0)
		qbk_log(QBK_LOG_ERROR, "cannot write metrics file: %s",
		    err.msg);
	qbk_buf_release(text);
}

int
cli_exit(int code)
{
	int sig = cli_signal;

	fflush(stdout);
	qbk_ctx_close(run_ctx);
	if (notify_wanted(code)) {
		static const char *const kinds[] = { "ok", "runtime", "usage",
		    "data", "locked", "objective" };
		static const char *const what[] = { "", "runtime failure",
		    "", "data problem found", "repository locked",
		    "objective missed" };
		char msg[128];

		snprintf(msg, sizeof(msg), "exited with status %d (%s)", code,
		    what[code]);
		cli_notify(kinds[code], NULL, alert_detail[0] != '\0' ?
		    alert_detail : msg, code);
	}
	qbk_ctx_free(run_ctx);
	run_ctx = NULL;
	if (sig != 0) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	return code;
}

int
cli_fail(const struct qbk_err *err)
{
	int code = qbk_err_exit_code(err);

	qbk_ctx_close(run_ctx);
	cli_report(err);
	if (err->code == QBK_E_INTERRUPTED)
		notified = 1;	/* an operator stopped it: no alert */
	if (notify_wanted(code))
		cli_notify(qbk_err_code_name(err->code), NULL,
		    err->msg[0] != '\0' ? err->msg : "unknown error", code);
	return cli_exit(code);
}

/* Options of the program and the common ones, merged in name order. */
struct merged {
	const struct cli_opt *v[128];
	size_t n;
};

static int
wanted_common(const struct cli_prog *prog, const struct cli_opt *o)
{
	if (o->id == OPT_C_URL)
		return (prog->with & CLI_WITH_URL) != 0;
	if (o->id == OPT_C_REPO)
		return (prog->with & CLI_WITH_REPO) != 0;
	return 1;
}

static void
merge(const struct cli_prog *prog, struct merged *m)
{
	const struct cli_opt *a = prog->opts, *b = common_opts;

	m->n = 0;
	while (m->n < sizeof(m->v) / sizeof(m->v[0]) - 1) {
		while (b->name != NULL && !wanted_common(prog, b))
			b++;
		if (a != NULL && a->name != NULL &&
		    (b->name == NULL || strcmp(a->name, b->name) < 0))
			m->v[m->n++] = a++;
		else if (b->name != NULL)
			m->v[m->n++] = b++;
		else
			break;
	}
}

static void
print_help(const struct cli_prog *prog, const struct merged *m)
{
	struct qbk_buf left = QBK_BUF_INIT;
	size_t i;

	printf("usage: %s %s\n\n%s\n\noptions:\n", progname, prog->synopsis,
	    prog->summary);
	for (i = 0; i < m->n; i++) {
		const struct cli_opt *o = m->v[i];

		qbk_buf_reset(&left);
		if (o->shortopt != 0)
			qbk_buf_addf(&left, "-%c, ", o->shortopt);
		else
			qbk_buf_addstr(&left, "    ");
		qbk_buf_addf(&left, "--%s", o->name);
		if (o->type != CLI_ARG_NONE)
			qbk_buf_addf(&left, " %s", o->argname);
		if (left.len <= 26)
			printf("  %-26s %s\n", left.buf, o->help);
		else
			printf("  %s\n  %-26s %s\n", left.buf, "", o->help);
	}
	printf("\nexit status: 0 ok, 1 runtime failure, 2 usage or "
	    "configuration error,\n3 data problem found, 4 repository "
	    "locked, 5 objective missed.\nSee %s(1) and qbk(7).\n", progname);
	qbk_buf_release(&left);
}

static int
parse_uint(const struct cli_opt *o, const char *arg, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (arg[0] < '0' || arg[0] > '9')
		goto bad;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || *end != '\0')
		goto bad;
	*out = v;
	return 0;
bad:
	return cli_usage_error("bad value '%s' for '--%s': expected a "
	    "whole number", arg, o->name);
}

/* ${arg} as the index of one of the words "a|b|c" of ${o}'s argname. */
static int
parse_choice(const struct cli_opt *o, const char *arg, uint64_t *out)
{
	struct qbk_buf words = QBK_BUF_INIT;
	const char *p = o->argname, *bar;
	size_t len, n, count = 1;
	int rc = -1;

	for (bar = p; (bar = strchr(bar, '|')) != NULL; bar++)
		count++;
	for (n = 0; n < count; n++) {
		bar = strchr(p, '|');
		len = bar != NULL ? (size_t)(bar - p) : strlen(p);
		if (strlen(arg) == len && strncmp(arg, p, len) == 0) {
			*out = n;
			rc = 0;
			break;
		}
		qbk_buf_addf(&words, "%s%.*s", n == 0 ? "" : n + 1 == count ?
		    " or " : ", ", (int)len, p);
		p = bar + 1;
	}
	if (rc != 0)
		cli_usage_error("bad value '%s' for '--%s': expected %s", arg,
		    o->name, words.buf);
	qbk_buf_release(&words);
	return rc;
}

/* The getopt_long() arrays of the options ${m}: ${longopts} (room for
 * m->n + 1) and ${shortopts}. */
static void
getopt_arrays(const struct merged *m, struct option *longopts,
    struct qbk_buf *shortopts)
{
	size_t i;

	/* '+': stop at the first operand; ':': report a missing argument. */
	qbk_buf_addstr(shortopts, "+:");
	for (i = 0; i < m->n; i++) {
		longopts[i].name = m->v[i]->name;
		longopts[i].has_arg = m->v[i]->type == CLI_ARG_NONE ?
		    no_argument : required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 1000 + (int)i;
		if (m->v[i]->shortopt != 0) {
			qbk_buf_addch(shortopts, m->v[i]->shortopt);
			if (m->v[i]->type != CLI_ARG_NONE)
				qbk_buf_addch(shortopts, ':');
		}
	}
	memset(&longopts[m->n], 0, sizeof(longopts[0]));
}

/* The index in ${m} of the option getopt_long() returned as ${c}, given
 * as ${text}; m->n after a usage error. */
static size_t
find_opt(const struct merged *m, int c, const char *text)
{
	size_t i;

	if (c >= 1000) {
		i = (size_t)(c - 1000);
		/* glibc accepts unambiguous prefixes; refuse them so that a
		 * new option never breaks a script. */
		if (strncmp(text, "--", 2) == 0) {
			size_t len = strcspn(text + 2, "=");

			if (len != strlen(m->v[i]->name) ||
			    strncmp(text + 2, m->v[i]->name, len) != 0) {
				cli_usage_error("unknown option '%.*s' (did "
				    "you mean '--%s'?)", (int)len + 2, text,
				    m->v[i]->name);
				return m->n;
			}
		}
		return i;
	}
	for (i = 0; i < m->n; i++)
		if (m->v[i]->shortopt == c)
			break;
	if (i == m->n)
		cli_usage_error("unknown option '-%c'", c);
	return i;
}

/* The value ${arg} of ${o} as a number into ${num}, for the types that
 * have one.  0, or -1 after a usage error. */
static int
parse_value(const struct cli_opt *o, const char *arg, uint64_t *num)
{
	struct qbk_err err = QBK_ERR_INIT;
	int64_t ms;

	switch (o->type) {
	case CLI_ARG_UINT:
		return parse_uint(o, arg, num);
	case CLI_ARG_CHOICE:
		return parse_choice(o, arg, num);
	case CLI_ARG_DURATION:
		if (qbk_config_parse_duration(arg, &ms, &err) != 0)
			return cli_usage_error("bad value '%s' for '--%s': %s",
			    arg, o->name, err.msg);
		*num = (uint64_t)ms;
		return 0;
	default:
		return 0;
	}
}

int
cli_parse(int argc, char *argv[], const struct cli_prog *prog,
    struct cli_common *common, int *rest)
{
	struct option longopts[129];
	unsigned char seen[129];
	struct qbk_buf shortopts = QBK_BUF_INIT;
	struct merged m;
	size_t i;
	int c, idx, prev, rc = -1;

	merge(prog, &m);
	memset(seen, 0, sizeof(seen));
	getopt_arrays(&m, longopts, &shortopts);

	opterr = 0;
	optind = 1;
	for (;;) {
		const struct cli_opt *o = NULL;
		const char *text;
		uint64_t num = 0;

		prev = optind;
		idx = -1;
		c = getopt_long(argc, argv, shortopts.buf, longopts, &idx);
		if (c == -1)
			break;
		text = prev < argc ? argv[prev] : "";
		if (c == '?') {
			if (optopt != 0)
				cli_usage_error("unknown option '-%c'", optopt);
			else
				cli_usage_error("unknown option '%s'", text);
			goto out;
		}
		if (c == ':') {
			cli_usage_error("option '%s' needs a value", text);
			goto out;
		}
		if ((i = find_opt(&m, c, text)) == m.n)
			goto out;
		o = m.v[i];
		if (seen[i] && !(o->flags & CLI_REPEAT)) {
			cli_usage_error("option '--%s' given more than once",
			    o->name);
			goto out;
		}
		seen[i] = 1;
		if (parse_value(o, optarg, &num) != 0)
			goto out;
		switch (o->id) {
		case OPT_C_CONFIG:
			common->config = optarg;
			break;
		case OPT_C_HELP:
			print_help(prog, &m);
			rc = 1;
			goto out;
		case OPT_C_JSON:
			common->json = 1;
			break;
		case OPT_C_QUIET:
			common->quiet = 1;
			break;
		case OPT_C_REPO:
			common->repo = optarg;
			repo_path = optarg;
			break;
		case OPT_C_URL:
			common->url = optarg;
			break;
		case OPT_C_VERBOSE:
			common->verbose++;
			break;
		case OPT_C_VERSION:
			printf("%s %s\n", progname, qbk_version_text());
			rc = 1;
			goto out;
		default:
			if (prog->handle(prog->ctx, o->id,
			    o->type == CLI_ARG_NONE ? NULL : optarg, num) != 0)
				goto out;
			break;
		}
	}
	*rest = optind;
	if (common->quiet && common->verbose) {
		cli_usage_error("'--quiet' and '--verbose' exclude each other");
		goto out;
	}
	set_log_level(common);
	rc = 0;
out:
	qbk_buf_release(&shortopts);
	return rc;
}
