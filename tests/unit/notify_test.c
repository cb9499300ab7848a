#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "config/qbk_config.h"
#include "notify/qbk_notify.h"
#include "testutil.h"

#define T0	INT64_C(1795299300)	/* 2026-11-21T22:15:00Z, a Saturday */

static struct qbk_notify_event
event(void)
{
	struct qbk_notify_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.program = "qbk-backup";
	ev.kind = "net";
	ev.summary = "cannot connect to 'http://q:6333': refused";
	ev.severity = "error";
	ev.exit_code = 1;
	ev.time = T0;
	ev.host = "db1";
	ev.environment = "prod";
	return ev;
}

static json_t *
parse(const struct qbk_buf *b)
{
	json_error_t je;
	json_t *v = json_loadb(b->buf, b->len, 0, &je);

	if (v == NULL)
		fail_msg("not JSON: %s: %s", je.text, b->buf);
	return v;
}

static const char *
str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
key_and_generic(void **state)
{
	struct qbk_notify_event ev = event();
	struct qbk_buf b = QBK_BUF_INIT;
	json_t *d;

	(void)state;
	qbk_notify_key(&ev, &b);
	assert_string_equal(b.buf, "qbk-backup net");
	ev.collection = "c1";
	qbk_buf_reset(&b);
	qbk_notify_key(&ev, &b);
	assert_string_equal(b.buf, "qbk-backup net c1");

	qbk_buf_reset(&b);
	qbk_notify_generic_json(&ev, &b);
	d = parse(&b);
	assert_string_equal(str(d, "source"), "qbk");
	assert_string_equal(str(d, "program"), "qbk-backup");
	assert_string_equal(str(d, "kind"), "net");
	assert_string_equal(str(d, "collection"), "c1");
	assert_string_equal(str(d, "summary"), ev.summary);
	assert_string_equal(str(d, "severity"), "error");
	assert_int_equal(json_integer_value(json_object_get(d, "exit_code")),
	    1);
	assert_string_equal(str(d, "time"), "2026-11-21T22:15:00Z");
	assert_string_equal(str(d, "host"), "db1");
	assert_string_equal(str(d, "environment"), "prod");
	assert_string_equal(str(d, "key"), "qbk-backup net c1");
	assert_string_equal(str(d, "status"), "firing");
	assert_true(json_is_null(json_object_get(d, "scope")));
	json_decref(d);

	/* The scope (the repository) is part of the key. */
	ev.scope = "s3://bkp/prod";
	qbk_buf_reset(&b);
	qbk_notify_key(&ev, &b);
	assert_string_equal(b.buf, "qbk-backup net c1 @s3://bkp/prod");
	ev.resolved = 1;
	qbk_buf_reset(&b);
	qbk_notify_generic_json(&ev, &b);
	d = parse(&b);
	assert_string_equal(str(d, "status"), "resolved");
	assert_string_equal(str(d, "scope"), "s3://bkp/prod");
	json_decref(d);
	ev.scope = NULL;
	ev.resolved = 0;

	/* No collection, no exit code: JSON nulls. */
	ev.collection = NULL;
	ev.exit_code = -1;
	ev.environment = NULL;
	qbk_buf_reset(&b);
	qbk_notify_generic_json(&ev, &b);
	d = parse(&b);
	assert_true(json_is_null(json_object_get(d, "collection")));
	assert_true(json_is_null(json_object_get(d, "exit_code")));
	assert_true(json_is_null(json_object_get(d, "environment")));
	json_decref(d);
	qbk_buf_release(&b);
}

static void
slack(void **state)
{
	struct qbk_notify_event ev = event();
	struct qbk_buf b = QBK_BUF_INIT;
	json_t *d;

	(void)state;
	ev.summary = "quote \" and newline\n";
	qbk_notify_slack_json(&ev, &b);
	d = parse(&b);
	assert_int_equal(json_object_size(d), 1);
	assert_string_equal(str(d, "text"), "[qbk] error on db1 (prod): "
	    "qbk-backup: quote \" and newline\n");
	json_decref(d);
	ev.resolved = 1;
	ev.summary = "succeeded";
	qbk_buf_reset(&b);
	qbk_notify_slack_json(&ev, &b);
	d = parse(&b);
	assert_string_equal(str(d, "text"), "[qbk] resolved on db1 (prod): "
	    "qbk-backup: succeeded");
	json_decref(d);
	qbk_buf_release(&b);
}

static void
pagerduty(void **state)
{
	struct qbk_notify_event ev = event();
	struct qbk_buf b = QBK_BUF_INIT, big = QBK_BUF_INIT;
	json_t *d, *p;
	size_t i;

	(void)state;
	ev.severity = "bogus";
	qbk_notify_pagerduty_json(&ev, "ROUTING", &b);
	d = parse(&b);
	assert_string_equal(str(d, "routing_key"), "ROUTING");
	assert_string_equal(str(d, "event_action"), "trigger");
	assert_string_equal(str(d, "dedup_key"), "qbk/db1/qbk-backup net");
	p = json_object_get(d, "payload");
	assert_string_equal(str(p, "severity"), "error");
	assert_string_equal(str(p, "source"), "db1");
	assert_string_equal(str(p, "timestamp"), "2026-11-21T22:15:00Z");
	assert_string_equal(str(p, "component"), "qbk-backup");
	assert_string_equal(str(p, "group"), "qbk");
	assert_string_equal(str(p, "class"), "net");
	assert_non_null(strstr(str(p, "summary"), ev.summary));
	assert_string_equal(str(json_object_get(p, "custom_details"),
	    "program"), "qbk-backup");
	json_decref(d);

	/* A resolve: the same dedup key, no payload. */
	ev.resolved = 1;
	qbk_buf_reset(&b);
	qbk_notify_pagerduty_json(&ev, "ROUTING", &b);
	d = parse(&b);
	assert_string_equal(str(d, "event_action"), "resolve");
	assert_string_equal(str(d, "dedup_key"), "qbk/db1/qbk-backup net");
	assert_null(json_object_get(d, "payload"));
	json_decref(d);
	ev.resolved = 0;

	/* A long summary is cut to 1024 bytes, on a character boundary. */
	for (i = 0; i < 600; i++)
		qbk_buf_addstr(&big, "\xc3\xa9");	/* e acute */
	ev.summary = big.buf;
	ev.severity = "critical";
	qbk_buf_reset(&b);
	qbk_notify_pagerduty_json(&ev, "R", &b);
	d = parse(&b);
	p = json_object_get(d, "payload");
	assert_true(strlen(str(p, "summary")) <= 1024);
	assert_non_null(strstr(str(p, "summary"), "..."));
	assert_string_equal(str(p, "severity"), "critical");
	json_decref(d);
	qbk_buf_release(&b);
	qbk_buf_release(&big);
}

/* Is ${key} in the object ${part} ("sent" or "open") of a state text? */
static int
in_part(const struct qbk_buf *st, const char *part, const char *key)
{
	json_t *d = parse(st);
	int yes = json_object_get(json_object_get(d, part), key) != NULL;

	json_decref(d);
	return yes;
}

/* An event with ${kind} (program "qbk-backup") at ${scope}. */
static struct qbk_notify_event
ev_of(const char *kind, const char *coll, const char *scope)
{
	struct qbk_notify_event ev = event();

	ev.kind = kind;
	ev.collection = coll;
	ev.scope = scope;
	return ev;
}

static void
dedup_state(void **state)
{
	struct qbk_buf s1 = QBK_BUF_INIT, s2 = QBK_BUF_INIT,
	    open = QBK_BUF_INIT;
	struct qbk_notify_event a = ev_of("net", NULL, "/r1"),
	    c = ev_of("io", "c1", "/r1"), d = ev_of("net", NULL, "/r2");
	const int64_t MIN = 3600 * 1000;
	const char *ka = "qbk-backup net @/r1", *kc = "qbk-backup io c1 @/r1",
	    *kd = "qbk-backup net @/r2";

	(void)state;
	/* Nothing recorded, empty or damaged: due. */
	assert_int_equal(qbk_notify_due(NULL, 0, "k", T0, MIN), 1);
	assert_int_equal(qbk_notify_due("{bad", 4, "k", T0, MIN), 1);
	assert_int_equal(qbk_notify_due("[1]", 3, "k", T0, MIN), 1);

	qbk_notify_state_update(NULL, 0, &a, T0, 86400, &s1);
	assert_int_equal(qbk_notify_due(s1.buf, s1.len, ka, T0, MIN), 0);
	assert_int_equal(qbk_notify_due(s1.buf, s1.len, ka, T0 + 3599, MIN),
	    0);
	assert_int_equal(qbk_notify_due(s1.buf, s1.len, ka, T0 + 3600, MIN),
	    1);
	assert_int_equal(qbk_notify_due(s1.buf, s1.len, "other", T0, MIN), 1);
	/* The same failure of another repository is another alert. */
	assert_int_equal(qbk_notify_due(s1.buf, s1.len, kd, T0, MIN), 1);
	/* A clock set back does not silence the alert. */
	assert_int_equal(qbk_notify_due(s1.buf, s1.len, ka, T0 - 10, MIN), 1);
	/* min_interval 0 sends every one. */
	assert_int_equal(qbk_notify_due(s1.buf, s1.len, ka, T0, 0), 1);

	/* Update keeps other keys, drops old ones. */
	qbk_notify_state_update(s1.buf, s1.len, &c, T0 + 100, 86400, &s2);
	assert_int_equal(qbk_notify_due(s2.buf, s2.len, ka, T0 + 200, MIN), 0);
	assert_int_equal(qbk_notify_due(s2.buf, s2.len, kc, T0 + 200, MIN), 0);
	qbk_buf_reset(&s1);
	qbk_notify_state_update(s2.buf, s2.len, &d, T0 + 86450, 86400, &s1);
	assert_int_equal(in_part(&s1, "sent", ka), 0);
	assert_int_equal(in_part(&s1, "sent", kc), 1);
	assert_int_equal(in_part(&s1, "sent", kd), 1);
	/* Open alerts stay open while young, whatever min_interval says. */
	assert_int_equal(in_part(&s1, "open", ka), 1);

	/* Open alerts by program and scope, with their kind and collection. */
	qbk_notify_open(s1.buf, s1.len, "qbk-backup", "/r1", &open);
	assert_non_null(strstr(open.buf, "qbk-backup net @/r1\tnet\n"));
	assert_non_null(strstr(open.buf, "qbk-backup io c1 @/r1\tio\tc1\n"));
	assert_null(strstr(open.buf, "/r2"));
	qbk_buf_reset(&open);
	qbk_notify_open(s1.buf, s1.len, "qbk-drill", "/r1", &open);
	assert_int_equal(open.len, 0);

	/* A resolved alert is forgotten: open no more, due again. */
	c.resolved = 1;
	qbk_buf_reset(&s2);
	qbk_notify_state_update(s1.buf, s1.len, &c, T0 + 86500, 86400, &s2);
	assert_int_equal(qbk_notify_due(s2.buf, s2.len, kc, T0 + 86501, MIN),
	    1);
	assert_int_equal(in_part(&s2, "open", kc), 0);
	/* An alert never resolved is forgotten after 30 days. */
	qbk_buf_reset(&s1);
	qbk_notify_state_update(s2.buf, s2.len, &d, T0 + 31 * 86400, 86400,
	    &s1);
	assert_int_equal(in_part(&s1, "open", ka), 0);
	assert_int_equal(in_part(&s1, "open", kd), 1);
	qbk_buf_reset(&open);
	qbk_notify_open(s2.buf, s2.len, "qbk-backup", "/r1", &open);
	assert_null(strstr(open.buf, kc));
	qbk_buf_release(&s1);
	qbk_buf_release(&s2);
	qbk_buf_release(&open);
}

/* Nothing configured, or a maintenance window: nothing is sent (and no
 * network is touched: the URL below would fail). */
static void
send_suppressed(void **state)
{
	struct qbk_notify_event ev = event();
	struct qbk_config cfg;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf p = QBK_BUF_INIT;
	char *dir = tu_tmpdir("notify");

	(void)state;
	tu_log_capture();
	qbk_config_init(&cfg);
	assert_int_equal(qbk_notify_configured(&cfg), 0);
	assert_int_equal(qbk_notify_send(&cfg, &ev, NULL), 0);
	assert_non_null(cfg.notify.pagerduty_url);
	assert_string_equal(cfg.notify.pagerduty_url,
	    "https://events.pagerduty.com/v2/enqueue");

	assert_int_equal(qbk_config_set(&cfg, "notify", "webhook_url",
	    "http://127.0.0.1:1/x", &err), 0);
	assert_int_equal(qbk_config_set(&cfg, "notify", "state_dir", dir,
	    &err), 0);
	assert_int_equal(qbk_config_set(&cfg, "notify", "maintenance",
	    "Sat 22:00-23:00 UTC", &err), 0);
	assert_int_equal(qbk_notify_configured(&cfg), 1);
	tu_log_reset();
	assert_int_equal(qbk_notify_send(&cfg, &ev, NULL), 0);
	assert_non_null(strstr(tu_log_text(), "suppressed during a "
	    "maintenance window"));

	/* Outside the window the refused connection is a warning. */
	ev.time = T0 + 7200;
	tu_log_reset();
	assert_int_equal(qbk_notify_send(&cfg, &ev, NULL), 0);
	assert_non_null(strstr(tu_log_text(), "notification to webhook "
	    "failed"));
	/* The warning does not repeat the webhook's path (tokens). */
	{
		const char *w = strstr(tu_log_text(), "notification to webhook");
		const char *nl = strchr(w, '\n');
		const char *x = strstr(w, "1/x");

		if (x != NULL && (nl == NULL || x < nl))
			fail_msg("the warning names the URL: %s", w);
	}

	assert_int_equal(qbk_notify_state_path(&cfg, &p, &err), 0);
	assert_non_null(strstr(p.buf, "/notify.json"));
	qbk_buf_release(&p);
	qbk_config_release(&cfg);
	tu_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_and_generic),
		cmocka_unit_test(slack),
		cmocka_unit_test(pagerduty),
		cmocka_unit_test(dedup_state),
		cmocka_unit_test(send_suppressed),
	};
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_init(&err) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
