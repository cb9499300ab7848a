#ifndef QBK_CLI_H
#define QBK_CLI_H

/*
 * cli: the front end shared by every qbk program: option tables, --help and
 * --version, messages on stderr, error to exit code, signals.  Programs in
 * cmd/ stay thin: parse options here, call libqbk, print the result.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/qbk_err.h"

struct qbk_buf;
struct qbk_ctx;

enum cli_argtype {
	CLI_ARG_NONE = 0,	/* a flag */
	CLI_ARG_STR,		/* any string */
	CLI_ARG_UINT,		/* unsigned decimal integer */
	CLI_ARG_DURATION,	/* 30s, 15m, 1h30m, 2d: milliseconds in num */
	CLI_ARG_CHOICE		/* one of the words of argname "a|b|c": its
				 * index in num */
};

#define CLI_REPEAT	0x1	/* may be given more than once */

struct cli_opt {
	const char *name;	/* long name, without "--" */
	int shortopt;		/* one letter, or 0 */
	enum cli_argtype type;
	int id;			/* passed to the handler */
	const char *argname;	/* "N", "FILE", ... for --help */
	const char *help;	/* one line for --help */
	unsigned flags;		/* CLI_REPEAT */
};
#define CLI_OPT_END { NULL, 0, CLI_ARG_NONE, 0, NULL, NULL, 0 }

/* Options every program takes; the handler never sees them. */
struct cli_common {
	const char *config;	/* -c FILE, or NULL */
	const char *url;	/* --url URL, or NULL */
	const char *repo;	/* --repo LOCATION, or NULL */
	int json;		/* --json */
	int quiet;		/* -q */
	int verbose;		/* -v, counted */
};
#define CLI_COMMON_INIT { NULL, NULL, NULL, 0, 0, 0 }

/* Which of --url and --repo a program accepts. */
#define CLI_WITH_URL	0x1
#define CLI_WITH_REPO	0x2

struct cli_prog {
	const char *name;	/* "qbk-backup": lock records, user agent */
	const char *synopsis;	/* after the program name: "[options] ..." */
	const char *summary;	/* one sentence for --help */
	const struct cli_opt *opts;	/* sorted by name, ends with CLI_OPT_END */
	unsigned with;		/* CLI_WITH_* */
	/* Called for each option in order; return 0, or -1 after printing
	 * the problem with cli_usage_error(). */
	int (*handle)(void *ctx, int id, const char *arg, uint64_t num);
	void *ctx;
	/* Called by cli_start() once the options are parsed, or NULL: check
	 * how they go together; return 0, or -1 after cli_usage_error(). */
	int (*check)(void *ctx, const struct cli_common *common);
};

/* Set to 1 by SIGINT, SIGTERM and SIGHUP, and by a repository lock that is
 * lost (qbk_lock.h); libqbk polls it to stop early. */
extern volatile sig_atomic_t cli_interrupted;
/* The signal that stopped the program (re-raised at exit), or 0. */
extern volatile sig_atomic_t cli_signal;

/** cli_init(argv0): remember the program name, ignore SIGPIPE, catch
 * SIGINT/SIGTERM/SIGHUP into cli_interrupted, initialise libqbk and
 * install the stderr log sink.  Returns 0, or -1 after a message. */
int cli_init(const char *argv0);

/* What cli_start() returns when the program is to run. */
#define CLI_RUN	(-1)

/** cli_start(argc, argv, prog, common, ctx, err): the prologue of every
 * program: cli_init(), cli_parse() of ${prog} and ${common}, no operand
 * allowed, ${prog}'s check, then cli_open().  Returns CLI_RUN to run,
 * with ${ctx} the context, or NULL and ${err} set when it did not open
 * (the program reports that as the failure of its run); otherwise the
 * exit status for main() to return: 0 after --help or --version, 2 after
 * a usage error, 1 when the library did not start. */
int cli_start(int, char *[], const struct cli_prog *, struct cli_common *,
    struct qbk_ctx **, struct qbk_err *);

/** cli_start_command(argc, argv, prog, commands, common, cmd, rest): the
 * prologue of a program whose options may come before and after a command
 * word (qbk-key add --comment x): cli_init(), then cli_parse() of ${prog}
 * and ${common} on both sides of the word, an option given on both sides
 * refused.  Returns CLI_RUN to run, with ${cmd} the index of the command
 * word and ${rest} that of its first operand; otherwise the exit status
 * for main() to return, as cli_start(): also 2 after "missing command:
 * ${commands}" when there is no word. */
int cli_start_command(int, char *[], const struct cli_prog *, const char *,
    struct cli_common *, int *, int *);

/** cli_open(prog, common, ctx, err): open the context (qbk_ctx_open()) of
 * ${prog} with the configuration of -c, --url and --repo and the cancel
 * flag cli_interrupted.  The context is the program's until cli_exit(),
 * which frees it: its configuration is the one the alerts use.  0, or -1
 * with ${ctx} NULL and ${err} set. */
int cli_open(const struct cli_prog *, const struct cli_common *,
    struct qbk_ctx **, struct qbk_err *);

/** cli_progname(): "qbk-backup" etc. */
const char *cli_progname(void);

/** cli_parse(argc, argv, prog, common, &rest): parse the options of
 * ${prog} and the common ones into ${common}; set ${rest} to the index of
 * the first operand.  Prints --help/--version and returns 1 for them (exit
 * 0); on a usage error prints it with the synopsis and returns -1 (exit
 * 2); otherwise sets the log level from -q/-v and returns 0. */
int cli_parse(int argc, char *argv[], const struct cli_prog *,
    struct cli_common *, int *);

/* Room for the values of a repeated option (--collection, --tag). */
#define CLI_MAX_ARGS	256

/* The values of a repeated option, in the order given. */
struct cli_list {
	const char *v[CLI_MAX_ARGS];
	size_t n;
};

/** cli_list_add(list, name, arg): append ${arg}, a value of the repeated
 * option --${name}, to ${list}.  0, or -1 after the usage error "too many
 * '--NAME'". */
int cli_list_add(struct cli_list *, const char *, const char *);

/** cli_threads(num, name, out): ${num}, the value of --${name} (threads,
 * nodes at once), into ${out} if it is 1 to 64.  0, or -1 after a usage
 * error. */
int cli_threads(uint64_t, const char *, unsigned *);

/** cli_usage_error(fmt, ...): print "<prog>: <message>" and a hint to
 * run --help; returns -1. */
int cli_usage_error(const char *, ...) __attribute__((format(printf, 1, 2)));

/** cli_report(err): print "<prog>: <err->msg>" (and "hint: ..."). */
void cli_report(const struct qbk_err *);

/** cli_exit(code): clean up (close and free the context of cli_open());
 * if a signal stopped us, re-raise it so the caller sees 128+N; otherwise
 * return ${code} for main() to return. */
int cli_exit(int);

/** cli_fail(err): cli_report(err) then cli_exit(exit code of err). */
int cli_fail(const struct qbk_err *);

/*
 * Notifications ([notify] of qbk.conf(5), lib/notify/qbk_notify.h).  cli_fail()
 * and cli_exit() send an alert when a program ends with status 1 to 5,
 * once per run: the key is the program, the kind of the failure
 * (qbk_err_code_name() of the error, or "runtime", "usage", "data",
 * "locked", "objective" by exit status) and the repository (--repo, else
 * [repository] location).  A command line that does not parse (status 2
 * before anything ran) and runs stopped by a signal send nothing.  The
 * configuration is the one cli_open() loaded; a program whose
 * configuration did not load sends nothing.  Before sending, the
 * context's lock is released and its repository closed.  Sending never
 * changes the exit status.  cli_succeed() resolves the program's open
 * alerts for the repository.
 */

/** cli_notify(kind, collection, summary, exit_code): send one alert now
 * (qbk-report --check sends one per missed objective); afterwards
 * cli_exit() sends nothing more.  Returns the number of destinations that
 * took it. */
int cli_notify(const char *, const char *, const char *, int);

/** cli_alert_detail(fmt, ...): what the alert of a later cli_exit() with
 * a failing status says, instead of "exited with status N": the drill
 * and its first problem, say. */
void cli_alert_detail(const char *, ...) __attribute__((format(printf, 1,
    2)));

/** cli_succeed(): the run succeeded: resolve this program's open alerts
 * for this repository (qbk_notify_resolve()), then cli_exit(0). */
int cli_succeed(void);

/** cli_print(out): the program's result: put ${out} on stdout, then
 * release it. */
void cli_print(struct qbk_buf *);

/** cli_progress(text): a progress line for stderr, when the log level
 * shows warnings: put ${text} there, then release it. */
void cli_progress(struct qbk_buf *);

/** cli_stdout_write(cookie, data, len, err): a writer of the library's
 * kind that puts ${len} bytes on stdout (write(2), again after EINTR);
 * ${cookie} unused.  0 or -1 with ${err} set. */
int cli_stdout_write(void *, const void *, size_t, struct qbk_err *);

/** cli_write_metrics(path, text): replace the metrics file ${path} with
 * ${text} (cli_write_file()), logging an error if it cannot, then release
 * ${text}. */
void cli_write_metrics(const char *, struct qbk_buf *);

/** cli_write_file(path, data, len, err): replace the file ${path}
 * atomically (temporary file in the same folder, fsync, rename) with
 * ${len} bytes of ${data}, mode 0644 whatever the umask: metrics files for
 * a textfile collector, which runs as another user, and reports.  0 or -1
 * with ${err} set. */
int cli_write_file(const char *, const void *, size_t, struct qbk_err *);

#endif /* !QBK_CLI_H */
