#ifndef QBK_NOTIFY_H
#define QBK_NOTIFY_H

/*
 * qbk_notify: alerts to the destinations of [notify] (qbk.conf(5)) when a
 * program fails or an objective is missed.
 *
 *   webhook_url                  POST of the generic JSON document
 *   slack_webhook_url            POST of {"text": "..."} (Slack-compatible)
 *   pagerduty_routing_key_file   POST of a PagerDuty Events API v2 "trigger"
 *                                event to pagerduty_url
 *
 * An alert is identified by its key: program, reason kind, collection and
 * scope, the repository it is about ("qbk-backup net @/srv/qbk",
 * "qbk-report rpo c1 @s3://b/p"), so that two jobs on one host do not
 * silence each other.  An alert whose key was sent less than min_interval
 * ago is not sent again; the times of the last sending, and which alerts
 * are open, are kept in "<state_dir>/notify.json" (written atomically
 * under an flock of "<state_dir>/notify.lock"; a missing or damaged file
 * counts as empty).  When the same program later succeeds for the same
 * scope, qbk_notify_resolve() sends a "resolved" message for each of its
 * open alerts (a PagerDuty "resolve" event with the same dedup_key) and
 * forgets them, so that the next failure alerts at once.  During a
 * maintenance window nothing is sent (a warning says so).  Sending never
 * fails the caller: each destination gets at most what is left of
 * [notify] timeout, without retries, and a failure is logged as a
 * warning.
 *
 * The payload builders are pure functions of the event, for tests.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct qbk_buf;
struct qbk_config;
struct qbk_err;

struct qbk_notify_event {
	const char *program;	/* "qbk-backup" */
	const char *kind;	/* reason kind: qbk_err_code_name(), or "rpo",
				 * "rto", "drill", "data", ... */
	const char *collection;	/* or NULL */
	const char *summary;	/* one line: what happened */
	const char *severity;	/* "critical", "error", "warning" or "info" */
	int exit_code;		/* the program's exit status, or -1 */
	int64_t time;		/* seconds since the epoch */
	const char *host;	/* where it happened */
	const char *environment;	/* [environment] name, or NULL */
	const char *scope;	/* the repository location, or NULL */
	int resolved;		/* 1: the alert's problem is over */
};

/** qbk_notify_key(ev, out): append the de-duplication key of ${ev}
 * ("program kind collection @scope", collection and scope left out when
 * NULL). */
void qbk_notify_key(const struct qbk_notify_event *, struct qbk_buf *);

/** qbk_notify_generic_json(ev, out): append the generic webhook document
 * {"source": "qbk", "status": "firing"|"resolved", "program", "kind",
 * "collection", "summary", "severity", "exit_code", "time" (ISO 8601
 * UTC), "host", "environment", "scope", "key"}. */
void qbk_notify_generic_json(const struct qbk_notify_event *,
    struct qbk_buf *);

/** qbk_notify_slack_json(ev, out): append {"text": "..."}: one line
 * "[qbk] <severity> on <host>: <program>: <summary>" ("resolved" for the
 * severity of a resolved alert). */
void qbk_notify_slack_json(const struct qbk_notify_event *,
    struct qbk_buf *);

/** qbk_notify_pagerduty_json(ev, routing_key, out): append a PagerDuty
 * Events API v2 trigger: {"routing_key", "event_action": "trigger",
 * "dedup_key": "qbk/<host>/<key>", "payload": {"summary" (at most 1024
 * bytes), "source": host, "severity", "timestamp", "component":
 * collection or program, "group": "qbk", "class": kind,
 * "custom_details": {"program", "exit_code", "environment", "scope"}}};
 * for a resolved alert {"routing_key", "event_action": "resolve",
 * "dedup_key"}. */
void qbk_notify_pagerduty_json(const struct qbk_notify_event *, const char *,
    struct qbk_buf *);

/** qbk_notify_configured(cfg): nonzero if ${cfg} names any destination. */
int qbk_notify_configured(const struct qbk_config *);

/** qbk_notify_state_path(cfg, out, err): append the state file's path to
 * ${out}: <state_dir>/notify.json, state_dir defaulting to
 * $XDG_STATE_HOME/qbk, else $HOME/.local/state/qbk.  0, or -1
 * (QBK_E_CONFIG) when neither variable is set. */
int qbk_notify_state_path(const struct qbk_config *, struct qbk_buf *,
    struct qbk_err *);

/** qbk_notify_open(state, len, program, scope, out): append to ${out}
 * the keys of the open alerts of ${program} and ${scope} (may be NULL) in
 * the state text, one per line, each followed by a TAB and its kind and
 * collection ("kind" or "kind<TAB>collection"). */
void qbk_notify_open(const char *, size_t, const char *, const char *,
    struct qbk_buf *);

/** qbk_notify_due(state, len, key, now, min_interval_ms): 1 if the alert
 * ${key} may be sent at ${now} according to the state file text ${state}
 * (${len} bytes; NULL, empty or damaged: 1), 0 if it was sent less than
 * ${min_interval_ms} before. */
int qbk_notify_due(const char *, size_t, const char *, int64_t, int64_t);

/** qbk_notify_state_update(state, len, ev, now, keep_s, out): append to
 * ${out} the new state text: ${state} with the alert ${ev} sent (and open)
 * at ${now}, or with a resolved ${ev} forgotten; times sent older than
 * ${keep_s} seconds and open alerts older than 30 days dropped. */
void qbk_notify_state_update(const char *, size_t,
    const struct qbk_notify_event *, int64_t, int64_t, struct qbk_buf *);

/** qbk_notify_send(cfg, ev, cancel): send ${ev} to every destination of
 * ${cfg}, unless a maintenance window is open at ${ev}->time or the same
 * alert was sent within min_interval.  Returns the number of destinations
 * that accepted it (0 when nothing was due or configured); never fails:
 * problems are logged as warnings. */
int qbk_notify_send(const struct qbk_config *, const struct qbk_notify_event *,
    volatile sig_atomic_t *);

/** qbk_notify_resolve(cfg, ev, cancel): ${ev} names a program and scope
 * that just succeeded: send a resolved message for each of their open
 * alerts (with that alert's kind and collection) and forget them.  Returns
 * the number of alerts resolved; never fails. */
int qbk_notify_resolve(const struct qbk_config *,
    const struct qbk_notify_event *, volatile sig_atomic_t *);

#endif /* !QBK_NOTIFY_H */
