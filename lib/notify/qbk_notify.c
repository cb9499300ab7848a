#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>

#include <jansson.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_fs.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"
#include "config/qbk_config.h"
#include "net/qbk_http.h"
#include "repo/qbk_manifest.h"
#include "notify/qbk_notify.h"

#define STATE_NAME	"notify.json"
#define LOCK_NAME	"notify.lock"
#define OPEN_MAX_AGE	(30 * 86400)	/* seconds an alert stays open */
#define STATE_MAX	(1024 * 1024)
#define PD_SUMMARY_MAX	1024

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

void
qbk_notify_key(const struct qbk_notify_event *ev, struct qbk_buf *out)
{
	qbk_buf_addf(out, "%s %s", nz(ev->program), nz(ev->kind));
	if (ev->collection != NULL)
		qbk_buf_addf(out, " %s", ev->collection);
	if (ev->scope != NULL)
		qbk_buf_addf(out, " @%s", ev->scope);
}

static json_t *
jstr(const char *s)
{
	json_t *v;

	if (s == NULL)
		return json_null();
	v = json_string(s);
	return v != NULL ? v : json_string("?");
}

static json_t *
jtime(int64_t t)
{
	char buf[QBK_TIME_LEN + 1];

	if (qbk_time_format(t, buf) != 0)
		return json_null();
	return json_string(buf);
}

static void
dump(json_t *doc, struct qbk_buf *out)
{
	qbk_json_dump(doc, out, 0);
	json_decref(doc);
}

void
qbk_notify_generic_json(const struct qbk_notify_event *ev,
    struct qbk_buf *out)
{
	struct qbk_buf key = QBK_BUF_INIT;
	json_t *doc = json_object();

	qbk_notify_key(ev, &key);
	json_object_set_new(doc, "source", json_string("qbk"));
	json_object_set_new(doc, "status", json_string(ev->resolved ?
	    "resolved" : "firing"));
	json_object_set_new(doc, "program", jstr(ev->program));
	json_object_set_new(doc, "kind", jstr(ev->kind));
	json_object_set_new(doc, "collection", jstr(ev->collection));
	json_object_set_new(doc, "summary", jstr(ev->summary));
	json_object_set_new(doc, "severity", jstr(ev->severity));
	json_object_set_new(doc, "exit_code", ev->exit_code >= 0 ?
	    json_integer(ev->exit_code) : json_null());
	json_object_set_new(doc, "time", jtime(ev->time));
	json_object_set_new(doc, "host", jstr(ev->host));
	json_object_set_new(doc, "environment", jstr(ev->environment));
	json_object_set_new(doc, "scope", jstr(ev->scope));
	json_object_set_new(doc, "key", jstr(key.buf));
	dump(doc, out);
	qbk_buf_release(&key);
}

static void
headline(const struct qbk_notify_event *ev, struct qbk_buf *out)
{
	qbk_buf_addf(out, "[qbk] %s on %s", ev->resolved ? "resolved" :
	    nz(ev->severity), nz(ev->host));
	if (ev->environment != NULL)
		qbk_buf_addf(out, " (%s)", ev->environment);
	qbk_buf_addf(out, ": %s: %s", nz(ev->program), nz(ev->summary));
}

void
qbk_notify_slack_json(const struct qbk_notify_event *ev, struct qbk_buf *out)
{
	struct qbk_buf text = QBK_BUF_INIT;
	json_t *doc = json_object();

	headline(ev, &text);
	json_object_set_new(doc, "text", jstr(text.buf));
	dump(doc, out);
	qbk_buf_release(&text);
}

/* PagerDuty accepts only these four severities. */
static const char *
pd_severity(const char *s)
{
	static const char *const ok[] = { "critical", "error", "warning",
	    "info" };
	size_t i;

	for (i = 0; s != NULL && i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(s, ok[i]) == 0)
			return ok[i];
	return "error";
}

void
qbk_notify_pagerduty_json(const struct qbk_notify_event *ev,
    const char *routing_key, struct qbk_buf *out)
{
	struct qbk_buf key = QBK_BUF_INIT, sum = QBK_BUF_INIT;
	json_t *doc = json_object(), *p = json_object(), *cd = json_object();

	qbk_buf_addf(&key, "qbk/%s/", nz(ev->host));
	qbk_notify_key(ev, &key);
	qbk_buf_addf(&sum, "%s: %s", nz(ev->program), nz(ev->summary));
	if (sum.len > PD_SUMMARY_MAX) {
		/* Cut on a UTF-8 character boundary. */
		size_t n = PD_SUMMARY_MAX - 3;

		while (n > 0 && ((unsigned char)sum.buf[n] & 0xc0) == 0x80)
			n--;
		qbk_buf_setlen(&sum, n);
		qbk_buf_addstr(&sum, "...");
	}
	json_object_set_new(doc, "routing_key", jstr(routing_key));
	json_object_set_new(doc, "event_action", json_string(ev->resolved ?
	    "resolve" : "trigger"));
	json_object_set_new(doc, "dedup_key", jstr(key.buf));
	if (ev->resolved) {
		/* A resolve event carries no payload. */
		json_decref(p);
		json_decref(cd);
		dump(doc, out);
		qbk_buf_release(&key);
		qbk_buf_release(&sum);
		return;
	}
	json_object_set_new(p, "summary", jstr(sum.buf));
	json_object_set_new(p, "source", jstr(ev->host));
	json_object_set_new(p, "severity", json_string(pd_severity(
	    ev->severity)));
	json_object_set_new(p, "timestamp", jtime(ev->time));
	json_object_set_new(p, "component", jstr(ev->collection != NULL ?
	    ev->collection : ev->program));
	json_object_set_new(p, "group", json_string("qbk"));
	json_object_set_new(p, "class", jstr(ev->kind));
	json_object_set_new(cd, "program", jstr(ev->program));
	json_object_set_new(cd, "exit_code", ev->exit_code >= 0 ?
	    json_integer(ev->exit_code) : json_null());
	json_object_set_new(cd, "environment", jstr(ev->environment));
	json_object_set_new(cd, "scope", jstr(ev->scope));
	json_object_set_new(p, "custom_details", cd);
	json_object_set_new(doc, "payload", p);
	dump(doc, out);
	qbk_buf_release(&key);
	qbk_buf_release(&sum);
}

int
qbk_notify_configured(const struct qbk_config *cfg)
{
	return cfg->notify.webhook_url != NULL ||
	    cfg->notify.slack_webhook_url != NULL ||
	    cfg->notify.pagerduty_routing_key_file != NULL;
}

int
qbk_notify_state_path(const struct qbk_config *cfg, struct qbk_buf *out,
    struct qbk_err *err)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (cfg->notify.state_dir != NULL)
		qbk_buf_addstr(out, cfg->notify.state_dir);
	else if (xdg != NULL && xdg[0] == '/')
		qbk_buf_addf(out, "%s/qbk", xdg);
	else if (home != NULL && home[0] != '\0')
		qbk_buf_addf(out, "%s/.local/state/qbk", home);
	else
		return qbk_err_set(err, QBK_E_CONFIG, "no folder for the "
		    "notification state: set [notify] state_dir");
	qbk_buf_addstr(out, "/" STATE_NAME);
	return 0;
}

/* The object ${name} ("sent" or "open") of a state text, or NULL (a new
 * reference). */
static json_t *
load_part(const char *state, size_t len, const char *name)
{
	json_t *doc, *part;

	if (state == NULL || len == 0)
		return NULL;
	doc = json_loadb(state, len, 0, NULL);
	if (doc == NULL)
		return NULL;
	part = json_object_get(doc, name);
	if (!json_is_object(part)) {
		json_decref(doc);
		return NULL;
	}
	json_incref(part);
	json_decref(doc);
	return part;
}

int
qbk_notify_due(const char *state, size_t len, const char *key, int64_t now,
    int64_t min_interval_ms)
{
	json_t *sent = load_part(state, len, "sent"), *t;
	int due = 1;

	if (sent == NULL)
		return 1;
	t = json_object_get(sent, key);
	if (json_is_integer(t)) {
		int64_t when = (int64_t)json_integer_value(t);

		/* A time in the future (clock set back) does not silence an
		 * alert forever: only [when, when + interval) does. */
		if (now >= when && (now - when) * 1000 < min_interval_ms)
			due = 0;
	}
	json_decref(sent);
	return due;
}

static int
same(const char *a, const json_t *b)
{
	if (a == NULL)
		return b == NULL || json_is_null(b);
	return json_is_string(b) && strcmp(a, json_string_value(b)) == 0;
}

void
qbk_notify_open(const char *state, size_t len, const char *program,
    const char *scope, struct qbk_buf *out)
{
	json_t *open = load_part(state, len, "open"), *v;
	const char *k, *kind, *coll;

	if (open == NULL)
		return;
	json_object_foreach(open, k, v) {
		if (!same(program, json_object_get(v, "program")) ||
		    !same(scope, json_object_get(v, "scope")) ||
		    (kind = qbk_json_str(v, "kind")) == NULL ||
		    strchr(k, '\n') != NULL || strchr(k, '\t') != NULL)
			continue;
		coll = qbk_json_str(v, "collection");
		qbk_buf_addf(out, "%s\t%s", k, kind);
		if (coll != NULL)
			qbk_buf_addf(out, "\t%s", coll);
		qbk_buf_addch(out, '\n');
	}
	json_decref(open);
}

void
qbk_notify_state_update(const char *state, size_t len,
    const struct qbk_notify_event *ev, int64_t now, int64_t keep_s,
    struct qbk_buf *out)
{
	json_t *old = load_part(state, len, "sent"), *sent = json_object(), *v;
	json_t *open = load_part(state, len, "open");
	json_t *doc = json_object();
	struct qbk_buf key = QBK_BUF_INIT;
	const char *k;
	void *tmp;

	qbk_notify_key(ev, &key);
	if (old != NULL) {
		json_object_foreach(old, k, v) {
			int64_t t;

			if (!json_is_integer(v))
				continue;
			t = (int64_t)json_integer_value(v);
			if (t <= now && now - t > keep_s)
				continue;
			json_object_set(sent, k, v);
		}
		json_decref(old);
	}
	if (open == NULL)
		open = json_object();
	json_object_foreach_safe(open, tmp, k, v) {
		json_t *t = json_object_get(v, "time");

		/* An alert whose program never succeeded again for its scope
		 * (a repository given up, say) is forgotten after a while. */
		if (!json_is_integer(t) || (json_integer_value(t) <= now &&
		    now - json_integer_value(t) > OPEN_MAX_AGE))
			json_object_del(open, k);
	}
	if (ev->resolved) {
		json_object_del(sent, key.buf);
		json_object_del(open, key.buf);
	} else {
		json_object_set_new(sent, key.buf,
		    json_integer((json_int_t)now));
		json_object_set_new(open, key.buf, json_pack("{s:s?, s:s?, "
		    "s:s?, s:s?, s:I}", "program", ev->program, "kind",
		    ev->kind, "collection", ev->collection, "scope",
		    ev->scope, "time", (json_int_t)now));
	}
	json_object_set_new(doc, "format", json_integer(2));
	json_object_set_new(doc, "sent", sent);
	json_object_set_new(doc, "open", open);
	dump(doc, out);
	qbk_buf_addch(out, '\n');
	qbk_buf_release(&key);
}

/* Remove ${url} (as given, and as redacted) from a message: webhook URLs
 * carry tokens in their paths. */
static void
scrub(char *msg, const char *url, const char *name)
{
	char *red = qbk_http_redact_url(url);
	const char *pat[2];
	size_t i;

	pat[0] = url;
	pat[1] = red;
	for (i = 0; i < 2; i++) {
		char *at;
		size_t n = pat[i] != NULL ? strlen(pat[i]) : 0;

		while (n > 0 && (at = strstr(msg, pat[i])) != NULL) {
			struct qbk_buf t = QBK_BUF_INIT;

			qbk_buf_add(&t, msg, (size_t)(at - msg));
			qbk_buf_addstr(&t, name);
			qbk_buf_addstr(&t, at + n);
			snprintf(msg, sizeof(((struct qbk_err *)0)->msg), "%s",
			    t.buf);
			qbk_buf_release(&t);
		}
	}
	free(red);
}

static int
post(const char *name, const char *url, const struct qbk_buf *body,
    int64_t deadline, volatile sig_atomic_t *cancel)
{
	struct qbk_http_opts o;
	struct qbk_http_req req = QBK_HTTP_REQ_INIT;
	struct qbk_http_resp resp;
	struct qbk_http *h = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	int64_t left = deadline - qbk_clock_ms();
	int rc = -1;

	if (left <= 0) {
		qbk_log(QBK_LOG_WARN, "notification to %s not sent: [notify] "
		    "timeout reached", name);
		return -1;
	}
	qbk_http_opts_init(&o);
	o.base_url = url;
	o.connect_timeout_ms = (long)left;
	o.timeout_ms = (long)left;
	o.retries = 0;
	o.cancel = cancel;
	qbk_http_resp_init(&resp);
	req.method = "POST";
	req.path = url;
	req.body = body->buf;
	req.body_len = body->len;
	req.content_type = "application/json";
	req.flags = QBK_HTTP_F_NORETRY;
	if (qbk_http_new(&h, &o, &err) == 0 &&
	    qbk_http_request(h, &req, &resp, &err) == 0) {
		qbk_log(QBK_LOG_INFO, "notification sent to %s (HTTP %ld)",
		    name, resp.status);
		rc = 0;
	} else {
		scrub(err.msg, url, name);
		qbk_log(QBK_LOG_WARN, "notification to %s failed: %s", name,
		    err.msg);
	}
	qbk_http_resp_release(&resp);
	qbk_http_free(h);
	return rc;
}

/* Post ${ev} to every destination of ${cfg} before ${deadline}; the
 * number that took it. */
static int
deliver(const struct qbk_config *cfg, const struct qbk_notify_event *ev,
    int64_t deadline, volatile sig_atomic_t *cancel)
{
	struct qbk_buf body = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	int sent = 0;

	if (cfg->notify.webhook_url != NULL) {
		qbk_buf_reset(&body);
		qbk_notify_generic_json(ev, &body);
		if (post("webhook", cfg->notify.webhook_url, &body, deadline,
		    cancel) == 0)
			sent++;
	}
	if (cfg->notify.slack_webhook_url != NULL) {
		qbk_buf_reset(&body);
		qbk_notify_slack_json(ev, &body);
		if (post("slack webhook", cfg->notify.slack_webhook_url, &body,
		    deadline, cancel) == 0)
			sent++;
	}
	if (cfg->notify.pagerduty_routing_key_file != NULL) {
		struct qbk_config_secret rk = QBK_CONFIG_SECRET_INIT;

		if (qbk_config_read_secret(cfg->notify.pagerduty_routing_key_file,
		    &rk, &err) != 0) {
			qbk_log(QBK_LOG_WARN, "notification to pagerduty "
			    "failed: %s", err.msg);
		} else {
			qbk_buf_reset(&body);
			qbk_notify_pagerduty_json(ev, rk.data, &body);
			if (post("pagerduty", cfg->notify.pagerduty_url, &body,
			    deadline, cancel) == 0)
				sent++;
			/* The body holds the routing key. */
			memset(body.buf, 0, body.len);
		}
		qbk_config_secret_release(&rk);
	}
	qbk_buf_release(&body);
	return sent;
}

/* The state file, held under an flock of notify.lock in its folder while
 * it is read and rewritten, so that two runs at once neither send the
 * same alert twice nor lose each other's entries. */
struct state {
	struct qbk_buf dir, text;
	int have;		/* text holds the file */
	int fd;			/* the lock file, or -1 */
};

static void
state_close(struct state *st)
{
	if (st->fd >= 0)
		close(st->fd);	/* releases the flock */
	qbk_buf_release(&st->dir);
	qbk_buf_release(&st->text);
}

/* Open and lock the state; without a usable state folder (warned
 * about), st->dir is empty and alerts go out without de-duplication. */
static void
state_open(const struct qbk_config *cfg, struct state *st)
{
	struct qbk_buf path = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	int64_t deadline = qbk_clock_ms() + cfg->notify.timeout;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	char *slash;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	if (qbk_notify_state_path(cfg, &path, &err) != 0) {
		qbk_log(QBK_LOG_WARN, "%s", err.msg);
		goto out;
	}
	slash = strrchr(path.buf, '/');
	qbk_buf_add(&st->dir, path.buf, (size_t)(slash - path.buf));
	if (qbk_fs_mkdir_p(st->dir.buf, 0, &err) != 0) {
		qbk_log(QBK_LOG_WARN, "cannot use the notification state: %s",
		    err.msg);
		qbk_buf_reset(&st->dir);
		goto out;
	}
	qbk_buf_reset(&path);
	qbk_buf_addf(&path, "%s/%s", st->dir.buf, LOCK_NAME);
	st->fd = open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (st->fd < 0)
		qbk_log(QBK_LOG_WARN, "cannot open '%s': %s", path.buf,
		    strerror(errno));
	while (st->fd >= 0 && flock(st->fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			qbk_log(QBK_LOG_WARN, "cannot lock '%s': %s", path.buf,
			    strerror(errno));
			break;
		}
		if (qbk_clock_ms() >= deadline) {
			qbk_log(QBK_LOG_WARN, "'%s' stays locked: going on "
			    "without it", path.buf);
			break;
		}
		nanosleep(&ts, NULL);
	}
	qbk_buf_reset(&path);
	qbk_buf_addf(&path, "%s/%s", st->dir.buf, STATE_NAME);
	if (qbk_fs_read_file(path.buf, STATE_MAX, &st->text, &err) == 0)
		st->have = 1;
	else if (err.code != QBK_E_NOTFOUND)
		qbk_log(QBK_LOG_WARN, "ignoring the notification state: %s",
		    err.msg);
out:
	qbk_buf_release(&path);
}

/* Record ${ev} (sent, or resolved) in the state file. */
static void
state_save(const struct qbk_config *cfg, struct state *st,
    const struct qbk_notify_event *ev)
{
	struct qbk_buf body = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	if (st->dir.len == 0)
		return;
	qbk_notify_state_update(st->have ? st->text.buf : NULL,
	    st->have ? st->text.len : 0, ev, ev->time,
	    cfg->notify.min_interval / 1000 + 86400, &body);
	if (qbk_fs_write_atomic(st->dir.buf, STATE_NAME, body.buf, body.len,
	    0, &err) < 0)
		qbk_log(QBK_LOG_WARN, "cannot save the notification state: %s",
		    err.msg);
	else {
		/* What follows in this run reads what was written. */
		qbk_buf_reset(&st->text);
		qbk_buf_add(&st->text, body.buf, body.len);
		st->have = 1;
	}
	qbk_buf_release(&body);
}

int
qbk_notify_send(const struct qbk_config *cfg,
    const struct qbk_notify_event *ev, volatile sig_atomic_t *cancel)
{
	struct qbk_buf key = QBK_BUF_INIT;
	struct state st;
	int sent = 0;

	if (!qbk_notify_configured(cfg))
		return 0;
	qbk_notify_key(ev, &key);
	if (qbk_config_in_maintenance(cfg, (time_t)ev->time)) {
		qbk_log(QBK_LOG_WARN, "notification suppressed during a "
		    "maintenance window: %s: %s", nz(ev->program),
		    nz(ev->summary));
		qbk_buf_release(&key);
		return 0;
	}
	state_open(cfg, &st);
	if (st.have && !qbk_notify_due(st.text.buf, st.text.len, key.buf,
	    ev->time, cfg->notify.min_interval)) {
		qbk_log(QBK_LOG_INFO, "notification '%s' not repeated within "
		    "[notify] min_interval", key.buf);
		goto out;
	}
	sent = deliver(cfg, ev, qbk_clock_ms() + cfg->notify.timeout, cancel);
	/* Remember only what reached somewhere: a failed alert is retried by
	 * the next failing run. */
	if (sent > 0)
		state_save(cfg, &st, ev);
out:
	state_close(&st);
	qbk_buf_release(&key);
	return sent;
}

int
qbk_notify_resolve(const struct qbk_config *cfg,
    const struct qbk_notify_event *ev, volatile sig_atomic_t *cancel)
{
	struct qbk_buf open = QBK_BUF_INIT;
	struct qbk_notify_event r;
	struct state st;
	int64_t deadline;
	char *line, *next, *kind, *coll;
	int n = 0;

	if (!qbk_notify_configured(cfg))
		return 0;
	state_open(cfg, &st);
	if (st.have)
		qbk_notify_open(st.text.buf, st.text.len, ev->program,
		    ev->scope, &open);
	deadline = qbk_clock_ms() + cfg->notify.timeout;
	for (line = open.buf; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		kind = strchr(line, '\t') + 1;
		coll = strchr(kind, '\t');
		if (coll != NULL)
			*coll++ = '\0';
		r = *ev;
		r.kind = kind;
		r.collection = coll;
		r.resolved = 1;
		r.severity = "info";
		if (deliver(cfg, &r, deadline, cancel) > 0)
			n++;
		/* Forgotten even when no destination took it: a later
		 * failure is a new alert, not a repeat. */
		state_save(cfg, &st, &r);
	}
	state_close(&st);
	qbk_buf_release(&open);
	return n;
}
