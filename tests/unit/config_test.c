#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_exit.h"
#include "common/qbk_log.h"
#include "config/qbk_config.h"
#include "testutil.h"

#define H	(3600 * 1000LL)
#define M	(60 * 1000LL)

static const char *const env_vars[] = {
	"QBK_CONFIG", "QBK_URL", "QBK_NODES", "QBK_REPOSITORY", "QBK_API_KEY",
	"QBK_DRILL_API_KEY", "QBK_PASSPHRASE", "AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", NULL
};

static int
setup(void **state)
{
	size_t i;

	for (i = 0; env_vars[i] != NULL; i++)
		unsetenv(env_vars[i]);
	*state = tu_tmpdir("config");
	return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	size_t i;

	for (i = 0; env_vars[i] != NULL; i++)
		unsetenv(env_vars[i]);
	tu_rmrf(*state);
	qbk_log_set_sink(NULL, NULL);
	return 0;
}

/* A path inside the test's scratch folder (static buffer per slot). */
static const char *
path_in(void **state, int slot, const char *name)
{
	static char paths[4][1024];

	snprintf(paths[slot], sizeof(paths[slot]), "%s/%s",
	    (const char *)*state, name);
	return paths[slot];
}

/* Load ${text} as "qbk.conf"; returns the error text, "" on success. */
static const char *
load_err(struct qbk_config *cfg, const char *text)
{
	static struct qbk_err err;

	qbk_err_clear(&err);
	qbk_config_init(cfg);
	if (qbk_config_load_string(cfg, text, "qbk.conf", &err) == 0) {
		assert_int_equal(err.code, QBK_E_OK);
		return "";
	}
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_int_equal(qbk_err_exit_code(&err), QBK_EXIT_USAGE);
	return err.msg;
}

/* Assert that ${text} fails with exactly ${msg}. */
static void
expect_error(const char *text, const char *msg)
{
	struct qbk_config cfg;

	assert_string_equal(load_err(&cfg, text), msg);
	qbk_config_release(&cfg);
}

static const char full[] =
    "# every section and key\n"
    "[environment]\n"
    "preset = production\n"
    "name = prod-eu-1\n"
    "\n"
    "[qdrant]\n"
    "url = https://qdrant.example.com:6333/\n"
    "api_key_file = /etc/qbk/api-key\n"
    "nodes = http://q0:6333, http://q1:6333 http://q2:6333/\n"
    "timeout = 5m\n"
    "connect_timeout = 1500ms\n"
    "stall_timeout = 90s\n"
    "retries = 7\n"
    "retry_delay = 2s\n"
    "ca_file = /etc/ssl/qdrant-ca.pem\n"
    "tls_verify = off\n"
    "priority = replica\n"
    "\n"
    "[repository]\n"
    "location = s3://qbk-backups/prod/eu-1/\n"
    "passphrase_file = /etc/qbk/passphrase\n"
    "compression = zstd:7\n"
    "encryption = aes256-gcm\n"
    "s3_endpoint = https://minio.example.com:9000/\n"
    "s3_region = eu-central-1\n"
    "s3_uri_style = host\n"
    "s3_access_key_file = /etc/qbk/s3-id\n"
    "s3_secret_key_file = /etc/qbk/s3-secret\n"
    "s3_transfers = 16\n"
    "cache_dir = /var/cache/qbk\n"
    "lock_timeout = 1h30m\n"
    "\n"
    "[backup]\n"
    "workers = 6\n"
    "sample_points = 250\n"
    "type = full\n"
    "\n"
    "[retention]\n"
    "keep_last = 3\n"
    "keep_hourly = 24\n"
    "keep_daily = 60\n"
    "keep_weekly = 0\n"
    "keep_monthly = 24\n"
    "keep_yearly = 10\n"
    "keep_within = 2d12h\n"
    "\n"
    "[objectives]\n"
    "rpo = 30m\n"
    "rto = 1h\n"
    "\n"
    "[drill]\n"
    "url = http://drill.example.com:6333\n"
    "nodes = http://d0:6333, http://d1:6333/\n"
    "api_key_file = /etc/qbk/drill-key\n"
    "validation = exhaustive\n"
    "sample_points = 500\n"
    "\n"
    "[notify]\n"
    "webhook_url = https://hooks.example.com/qbk?token=x\n"
    "slack_webhook_url = https://hooks.slack.com/services/T0/B0/XX\n"
    "pagerduty_routing_key_file = /etc/qbk/pd-key\n"
    "min_interval = 4h\n"
    "maintenance = Sun 02:00-04:00, weekdays 23:30-00:30 local\n"
    "timeout = 20s\n";

static void
good_file_every_section(void **state)
{
	struct qbk_config cfg;

	(void)state;
	assert_string_equal(load_err(&cfg, full), "");
	assert_null(cfg.file);
	assert_int_equal(cfg.environment.preset, QBK_CONFIG_PRESET_PRODUCTION);
	assert_string_equal(cfg.environment.name, "prod-eu-1");

	assert_string_equal(cfg.qdrant.url, "https://qdrant.example.com:6333");
	assert_string_equal(cfg.qdrant.api_key_file, "/etc/qbk/api-key");
	assert_int_equal(cfg.qdrant.nnodes, 3);
	assert_string_equal(cfg.qdrant.nodes[0], "http://q0:6333");
	assert_string_equal(cfg.qdrant.nodes[1], "http://q1:6333");
	assert_string_equal(cfg.qdrant.nodes[2], "http://q2:6333");
	assert_int_equal(cfg.qdrant.timeout, 5 * M);
	assert_int_equal(cfg.qdrant.connect_timeout, 1500);
	assert_int_equal(cfg.qdrant.stall_timeout, 90000);
	assert_int_equal(cfg.qdrant.retries, 7);
	assert_int_equal(cfg.qdrant.retry_delay, 2000);
	assert_string_equal(cfg.qdrant.ca_file, "/etc/ssl/qdrant-ca.pem");
	assert_int_equal(cfg.qdrant.tls_verify, 0);
	assert_int_equal(cfg.qdrant.priority, QBK_CONFIG_PRIORITY_REPLICA);

	assert_string_equal(cfg.repo.location, "s3://qbk-backups/prod/eu-1");
	assert_int_equal(cfg.repo.is_s3, 1);
	assert_string_equal(cfg.repo.s3_bucket, "qbk-backups");
	assert_string_equal(cfg.repo.s3_prefix, "prod/eu-1");
	assert_string_equal(cfg.repo.passphrase_file, "/etc/qbk/passphrase");
	assert_null(cfg.repo.key_file);
	assert_int_equal(cfg.repo.compression, QBK_CONFIG_COMPRESSION_ZSTD);
	assert_int_equal(cfg.repo.compression_level, 7);
	assert_int_equal(cfg.repo.encryption, QBK_CONFIG_ENCRYPTION_AES256_GCM);
	assert_string_equal(cfg.repo.s3_endpoint,
	    "https://minio.example.com:9000");
	assert_string_equal(cfg.repo.s3_region, "eu-central-1");
	/* Explicit: the endpoint would otherwise imply path style. */
	assert_int_equal(cfg.repo.s3_uri_style, QBK_CONFIG_URI_STYLE_HOST);
	assert_string_equal(cfg.repo.s3_access_key_file, "/etc/qbk/s3-id");
	assert_string_equal(cfg.repo.s3_secret_key_file, "/etc/qbk/s3-secret");
	assert_int_equal(cfg.repo.s3_transfers, 16);
	assert_string_equal(cfg.repo.cache_dir, "/var/cache/qbk");
	assert_int_equal(cfg.repo.lock_timeout, 90 * M);

	assert_int_equal(cfg.backup.workers, 6);
	assert_int_equal(cfg.backup.sample_points, 250);
	assert_int_equal(cfg.backup.type, QBK_CONFIG_BACKUP_FULL);

	assert_int_equal(cfg.retention.keep_last, 3);
	assert_int_equal(cfg.retention.keep_hourly, 24);
	assert_int_equal(cfg.retention.keep_daily, 60);
	assert_int_equal(cfg.retention.keep_weekly, 0);
	assert_int_equal(cfg.retention.keep_monthly, 24);
	assert_int_equal(cfg.retention.keep_yearly, 10);
	assert_int_equal(cfg.retention.keep_within, 60 * H);
	assert_int_equal(cfg.objectives.rpo, 30 * M);
	assert_int_equal(cfg.objectives.rto, H);

	assert_string_equal(cfg.drill.url, "http://drill.example.com:6333");
	assert_int_equal(cfg.drill.nnodes, 2);
	assert_string_equal(cfg.drill.nodes[0], "http://d0:6333");
	assert_string_equal(cfg.drill.nodes[1], "http://d1:6333");
	assert_int_equal(cfg.qdrant.nnodes, 3);
	assert_string_equal(cfg.drill.api_key_file, "/etc/qbk/drill-key");
	assert_int_equal(cfg.drill.validation,
	    QBK_CONFIG_VALIDATION_EXHAUSTIVE);
	assert_int_equal(cfg.drill.sample_points, 500);

	assert_string_equal(cfg.notify.webhook_url,
	    "https://hooks.example.com/qbk?token=x");
	assert_string_equal(cfg.notify.slack_webhook_url,
	    "https://hooks.slack.com/services/T0/B0/XX");
	assert_string_equal(cfg.notify.pagerduty_routing_key_file,
	    "/etc/qbk/pd-key");
	assert_int_equal(cfg.notify.min_interval, 4 * H);
	assert_string_equal(cfg.notify.maintenance,
	    "Sun 02:00-04:00, weekdays 23:30-00:30 local");
	assert_int_equal(cfg.notify.nwindows, 2);
	assert_int_equal(cfg.notify.windows[0].days, 1);
	assert_int_equal(cfg.notify.windows[0].start, 120);
	assert_int_equal(cfg.notify.windows[0].end, 240);
	assert_int_equal(cfg.notify.windows[0].local, 0);
	assert_int_equal(cfg.notify.windows[1].days, 0x3e);
	assert_int_equal(cfg.notify.windows[1].local, 1);
	assert_int_equal(cfg.notify.timeout, 20000);

	assert_true(qbk_config_is_set(&cfg, "retention", "keep_daily"));
	assert_false(qbk_config_is_set(&cfg, "backup", "nope"));
	qbk_config_release(&cfg);
}

static void
defaults_without_file(void **state)
{
	struct qbk_config cfg;

	(void)state;
	qbk_config_init(&cfg);
	assert_string_equal(cfg.qdrant.url, QBK_CONFIG_DEFAULT_URL);
	assert_int_equal(cfg.qdrant.tls_verify, 1);
	assert_int_equal(cfg.qdrant.retries, 5);
	assert_int_equal(cfg.qdrant.timeout, 5 * M);
	assert_int_equal(cfg.qdrant.stall_timeout, M);
	assert_int_equal(cfg.qdrant.priority, QBK_CONFIG_PRIORITY_SNAPSHOT);
	assert_null(cfg.repo.location);
	assert_int_equal(cfg.repo.compression, QBK_CONFIG_COMPRESSION_AUTO);
	assert_int_equal(cfg.repo.compression_level, 3);
	assert_string_equal(cfg.repo.s3_region, "us-east-1");
	assert_int_equal(cfg.repo.s3_transfers, 4);
	assert_int_equal(cfg.backup.type, QBK_CONFIG_BACKUP_INCREMENTAL);
	assert_int_equal(cfg.drill.validation,
	    QBK_CONFIG_VALIDATION_COMPREHENSIVE);
	/* No preset: no objectives and no retention. */
	assert_int_equal(cfg.environment.preset, QBK_CONFIG_PRESET_NONE);
	assert_int_equal(cfg.objectives.rpo, -1);
	assert_int_equal(cfg.objectives.rto, -1);
	assert_int_equal(cfg.retention.keep_last, -1);
	assert_int_equal(cfg.retention.keep_daily, -1);
	assert_int_equal(cfg.retention.keep_within, -1);
	assert_false(qbk_config_has_retention(&cfg));
	assert_false(qbk_config_is_set(&cfg, "qdrant", "url"));
	qbk_config_release(&cfg);
	qbk_config_release(NULL);
}

static void
presets_set_objectives_and_retention(void **state)
{
	static const struct {
		const char *text;
		int64_t rpo, rto;
		int keep[6];	/* last hourly daily weekly monthly yearly */
	} t[] = {
		{ "[environment]\npreset = development\n", 4 * H, 30 * M,
		    { 6, -1, 7, -1, -1, -1 } },
		{ "[environment]\npreset = staging\n", 2 * H, 15 * M,
		    { 12, -1, 14, 4, -1, -1 } },
		{ "[environment]\npreset = production\n", H, 10 * M,
		    { -1, 48, 30, 12, 12, 3 } },
		{ "[environment]\npreset = none\n", -1, -1,
		    { -1, -1, -1, -1, -1, -1 } },
	};
	struct qbk_config cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_string_equal(load_err(&cfg, t[i].text), "");
		assert_int_equal(cfg.objectives.rpo, t[i].rpo);
		assert_int_equal(cfg.objectives.rto, t[i].rto);
		assert_int_equal(cfg.retention.keep_last, t[i].keep[0]);
		assert_int_equal(cfg.retention.keep_hourly, t[i].keep[1]);
		assert_int_equal(cfg.retention.keep_daily, t[i].keep[2]);
		assert_int_equal(cfg.retention.keep_weekly, t[i].keep[3]);
		assert_int_equal(cfg.retention.keep_monthly, t[i].keep[4]);
		assert_int_equal(cfg.retention.keep_yearly, t[i].keep[5]);
		assert_int_equal(cfg.retention.keep_within, -1);
		assert_int_equal(qbk_config_has_retention(&cfg),
		    t[i].keep[2] != -1);
		/* A preset's values are not "set" by the operator. */
		assert_false(qbk_config_is_set(&cfg, "objectives", "rpo"));
		qbk_config_release(&cfg);
	}
	assert_string_equal(qbk_config_preset_name(QBK_CONFIG_PRESET_STAGING),
	    "staging");
	assert_string_equal(qbk_config_preset_name(QBK_CONFIG_PRESET_NONE),
	    "none");
}

static void
explicit_settings_beat_preset_in_any_order(void **state)
{
	static const char *const texts[] = {
		/* preset first */
		"[environment]\npreset = production\n"
		"[retention]\nkeep_daily = 90\nkeep_hourly = 0\n"
		"[objectives]\nrpo = 15m\n",
		/* preset last, after the keys it would default */
		"[retention]\nkeep_daily = 90\nkeep_hourly = 0\n"
		"[objectives]\nrpo = 15m\n"
		"[environment]\npreset = production\n",
	};
	struct qbk_config cfg;
	struct qbk_err err = QBK_ERR_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_string_equal(load_err(&cfg, texts[i]), "");
		assert_int_equal(cfg.retention.keep_daily, 90);
		assert_int_equal(cfg.retention.keep_hourly, 0);
		assert_int_equal(cfg.retention.keep_weekly, 12);
		assert_int_equal(cfg.retention.keep_yearly, 3);
		assert_int_equal(cfg.objectives.rpo, 15 * M);
		assert_int_equal(cfg.objectives.rto, 10 * M);
		assert_true(qbk_config_is_set(&cfg, "retention",
		    "keep_hourly"));

		/* The command line switches the preset: explicit values
		 * stay, the preset's own values follow the new preset. */
		assert_int_equal(qbk_config_set(&cfg, "environment", "preset",
		    "development", &err), 0);
		assert_int_equal(cfg.retention.keep_daily, 90);
		assert_int_equal(cfg.retention.keep_hourly, 0);
		assert_int_equal(cfg.retention.keep_last, 6);
		assert_int_equal(cfg.retention.keep_weekly, -1);
		assert_int_equal(cfg.retention.keep_yearly, -1);
		assert_int_equal(cfg.objectives.rpo, 15 * M);
		assert_int_equal(cfg.objectives.rto, 30 * M);
		qbk_config_release(&cfg);
	}
}

static void
duration_parser(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = {
		{ "0", 0 }, { "0s", 0 }, { "500ms", 500 }, { "30s", 30000 },
		{ "15m", 15 * M }, { "1h", H }, { "2d", 48 * H },
		{ "1w", 168 * H }, { "1h30m", 90 * M },
		{ "1d2h3m4s5ms", 26 * H + 3 * M + 4005 },
		{ "1w1d", 192 * H }, { "90s", 90000 }, { "36h", 36 * H },
	};
	static const char *const bad[] = {
		"", "fast", "1", "10", "1.5h", "-1h", "1H", "h", "1h 30m",
		" 1h", "1h ", "30m1h", "1m1m", "1y", "1hh", "1msx", "ms",
		"99999999999999999999s", "9223372036854775807w",
	};
	struct qbk_err err = QBK_ERR_INIT;
	char buf[48];
	int64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -2;
		assert_int_equal(qbk_config_parse_duration(good[i].s, &ms,
		    &err), 0);
		assert_int_equal(ms, good[i].ms);
		/* Formatting gives text that parses back to the same. */
		qbk_config_format_duration(ms, buf, sizeof(buf));
		assert_int_equal(qbk_config_parse_duration(buf, &ms, &err), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = -2;
		assert_int_equal(qbk_config_parse_duration(bad[i], &ms, &err),
		    -1);
		assert_int_equal(ms, -2);
		assert_int_equal(err.code, QBK_E_CONFIG);
	}
	qbk_config_parse_duration("fast", &ms, &err);
	assert_string_equal(err.msg,
	    "expected a duration like 30s, 15m, 1h, 2d");
	assert_string_equal(qbk_config_format_duration(90 * M, buf,
	    sizeof(buf)), "1h30m");
	assert_string_equal(qbk_config_format_duration(500, buf, sizeof(buf)),
	    "500ms");
	assert_string_equal(qbk_config_format_duration(0, buf, sizeof(buf)),
	    "0s");
	assert_string_equal(qbk_config_format_duration(8 * 24 * H + 1001,
	    buf, sizeof(buf)), "8d1s1ms");
	assert_string_equal(qbk_config_format_duration(14 * 24 * H, buf,
	    sizeof(buf)), "2w");
	assert_string_equal(qbk_config_format_duration(-H, buf, sizeof(buf)),
	    "-1h");
	qbk_config_format_duration(INT64_MIN, buf, sizeof(buf));
	assert_true(buf[0] == '-' && strlen(buf) < sizeof(buf));
	qbk_config_format_duration(H, buf, 3);
	assert_string_equal(buf, "1h");
}

static void
bool_and_uint_parsers(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "On", "1" };
	static const char *const no[] = { "no", "False", "off", "0" };
	struct qbk_err err = QBK_ERR_INIT;
	unsigned long long u;
	size_t i;
	int b;

	(void)state;
	for (i = 0; i < 5; i++) {
		b = -1;
		assert_int_equal(qbk_config_parse_bool(yes[i], &b, &err), 0);
		assert_int_equal(b, 1);
	}
	for (i = 0; i < 4; i++) {
		b = -1;
		assert_int_equal(qbk_config_parse_bool(no[i], &b, &err), 0);
		assert_int_equal(b, 0);
	}
	assert_int_equal(qbk_config_parse_bool("y", &b, &err), -1);
	assert_int_equal(qbk_config_parse_bool("", &b, &err), -1);
	assert_string_equal(err.msg,
	    "expected yes or no (or true/false, on/off, 1/0)");

	assert_int_equal(qbk_config_parse_uint("42", 0, 100, &u, &err), 0);
	assert_int_equal(u, 42);
	assert_int_equal(qbk_config_parse_uint("0", 0, 100, &u, &err), 0);
	assert_int_equal(u, 0);
	assert_int_equal(qbk_config_parse_uint("100", 0, 100, &u, &err), 0);
	u = 7;
	assert_int_equal(qbk_config_parse_uint("101", 0, 100, &u, &err), -1);
	assert_string_equal(err.msg, "expected a number from 0 to 100");
	assert_int_equal(qbk_config_parse_uint("0", 1, 64, &u, &err), -1);
	assert_int_equal(qbk_config_parse_uint("-1", 0, 100, &u, &err), -1);
	assert_int_equal(qbk_config_parse_uint("+1", 0, 100, &u, &err), -1);
	assert_int_equal(qbk_config_parse_uint("1x", 0, 100, &u, &err), -1);
	assert_int_equal(qbk_config_parse_uint("", 0, 100, &u, &err), -1);
	assert_int_equal(qbk_config_parse_uint(" 1", 0, 100, &u, &err), -1);
	assert_int_equal(qbk_config_parse_uint(
	    "99999999999999999999999", 0, 100, &u, &err), -1);
	assert_int_equal(u, 7);
}

static void
bad_files_name_file_line_and_key(void **state)
{
	(void)state;
	expect_error("[retention]\nkeep_daily = 7\n\n[retenton]\n",
	    "qbk.conf:4: unknown section [retenton]");
	expect_error("[retention]\nkeep_daily = 7\n# x\nkeep_dialy = 7\n",
	    "qbk.conf:4: unknown key 'keep_dialy' in [retention]");
	expect_error("[qdrant]\nurl = http://a\n[environment]\n\n\n\n"
	    "[objectives]\nrpo = fast\n",
	    "qbk.conf:8: bad value 'fast' for 'rpo': expected a duration "
	    "like 30s, 15m, 1h, 2d");
	expect_error("[objectives]\nrto = 500ms\n",
	    "qbk.conf:2: bad value '500ms' for 'rto': expected a duration "
	    "from 1s to 365d");
	expect_error("[backup]\nworkers = 1000\n",
	    "qbk.conf:2: bad value '1000' for 'workers': expected a number "
	    "from 0 to 256");
	expect_error("[repository]\ns3_transfers = 0\n",
	    "qbk.conf:2: bad value '0' for 's3_transfers': expected a number "
	    "from 1 to 64");
	expect_error("[retention]\nkeep_last = -1\n",
	    "qbk.conf:2: bad value '-1' for 'keep_last': expected a number "
	    "from 0 to 1000000");
	expect_error("[qdrant]\npriority = fast\n",
	    "qbk.conf:2: bad value 'fast' for 'priority': expected snapshot, "
	    "replica or no_sync");
	expect_error("[environment]\npreset = prod\n",
	    "qbk.conf:2: bad value 'prod' for 'preset': expected none, "
	    "development, staging or production");
	expect_error("[repository]\ncompression = zstd:20\n",
	    "qbk.conf:2: bad value 'zstd:20' for 'compression': expected "
	    "auto, none, zstd or zstd:N with N from 1 to 19");
	expect_error("[qdrant]\ntls_verify = maybe\n",
	    "qbk.conf:2: bad value 'maybe' for 'tls_verify': expected yes or "
	    "no (or true/false, on/off, 1/0)");
	expect_error("[objectives]\nrpo = 1h\n\n[retention]\nkeep_last = 1\n"
	    "[objectives]\nrpo = 2h\n",
	    "qbk.conf:7: duplicate key 'rpo' in [objectives] (first set on "
	    "line 2)");
	expect_error("url = http://a\n",
	    "qbk.conf:1: key 'url' is outside any section");
	expect_error("[qdrant]\nretries 5\n",
	    "qbk.conf:2: syntax error: expected 'key = value', '[section]' "
	    "or a comment");
	expect_error("[qdrant\nurl = http://a\n",
	    "qbk.conf:1: syntax error: expected ']' at the end of the section "
	    "header");
	expect_error("[qdrant] url = http://a\n",
	    "qbk.conf:1: syntax error: unexpected text after the section "
	    "header");
	expect_error("[qdrant]\n= x\n",
	    "qbk.conf:2: syntax error: expected 'key = value', '[section]' "
	    "or a comment");
	expect_error("[qdrant]\nurl = ftp://a\n",
	    "qbk.conf:2: bad value 'ftp://a' for 'url': expected an http:// "
	    "or https:// URL");
	expect_error("[qdrant]\nurl =\n",
	    "qbk.conf:2: bad value '' for 'url': expected an http:// or "
	    "https:// URL");
	expect_error("[qdrant]\nnodes = http://a, http://a/\n",
	    "qbk.conf:2: bad value 'http://a, http://a/' for 'nodes': node "
	    "'http://a' is listed twice");
	expect_error("[qdrant]\nnodes = http://a, b:6333\n",
	    "qbk.conf:2: bad value 'http://a, b:6333' for 'nodes': node "
	    "'b:6333': expected an http:// or https:// URL");
	expect_error("[qdrant]\nnodes = ,\n",
	    "qbk.conf:2: bad value ',' for 'nodes': expected one or more "
	    "http:// or https:// URLs separated by commas or spaces");
	expect_error("[repository]\npassphrase_file = /a\n\nkey_file = /b\n",
	    "qbk.conf:4: set either 'passphrase_file' (line 2) or 'key_file' "
	    "(line 4) in [repository], not both");
	expect_error("[environment]\nname =\n",
	    "qbk.conf:2: bad value '' for 'name': expected a non-empty value "
	    "without control characters");
	/* Secrets in URLs are not echoed. */
	expect_error("[notify]\nslack_webhook_url = hooks.slack.com/T0/B0/XX\n",
	    "qbk.conf:2: bad value for 'slack_webhook_url': expected an "
	    "http:// or https:// URL");
	/* The first error wins, a syntax error included. */
	expect_error("[qdrant]\nbroken\nretries = x\n",
	    "qbk.conf:2: syntax error: expected 'key = value', '[section]' "
	    "or a comment");
	expect_error("[qdrant]\nretries = x\nbroken\n",
	    "qbk.conf:2: bad value 'x' for 'retries': expected a number from "
	    "0 to 100");
}

static void
error_hints(void **state)
{
	struct qbk_config cfg;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load_string(&cfg,
	    "[retention]\nkeep_dialy = 7\n", "qbk.conf", &err), -1);
	assert_string_equal(err.hint, "did you mean 'keep_daily'?");
	assert_int_equal(qbk_config_load_string(&cfg,
	    "[qdrant]\nrpo = 1h\n", "qbk.conf", &err), -1);
	assert_string_equal(err.msg, "qbk.conf:2: unknown key 'rpo' in [qdrant]");
	assert_string_equal(err.hint, "'rpo' belongs in [objectives]");
	assert_int_equal(qbk_config_load_string(&cfg, "[retenton]\n",
	    "qbk.conf", &err), -1);
	assert_string_equal(err.hint, "did you mean [retention]?");
	assert_int_equal(qbk_config_load_string(&cfg, "keep_daily = 7\n",
	    "qbk.conf", &err), -1);
	assert_string_equal(err.hint, "put it under [retention]");
	assert_int_equal(qbk_config_load_string(&cfg,
	    "[retention]\nkeep_daily = 7 # a week\n", "qbk.conf", &err), -1);
	assert_string_equal(err.msg, "qbk.conf:2: bad value '7 # a week' for "
	    "'keep_daily': expected a number from 0 to 1000000");
	assert_string_equal(err.hint, "a comment after a value starts with "
	    "';' after a space, not '#'");
	qbk_config_release(&cfg);
}

static void
syntax_details(void **state)
{
	struct qbk_config cfg;
	struct qbk_buf text = QBK_BUF_INIT;
	int i;

	(void)state;
	/* BOM, CRLF, comments, inline ';' comments, indentation, quotes. */
	assert_string_equal(load_err(&cfg,
	    "\xEF\xBB\xBF; comment\r\n"
	    "# comment\r\n"
	    "  [ qdrant ]  ; the cluster\r\n"
	    "    url = http://a:6333   ; inline\r\n"
	    "    api_key_file = \"/etc/qbk/key file\"\r\n"
	    "\tretries: 3\r\n"
	    "[retention]\n"
	    "keep_last = 2"), "");
	assert_string_equal(cfg.qdrant.url, "http://a:6333");
	/* An indented key is a key, not a continuation of 'url'. */
	assert_string_equal(cfg.qdrant.api_key_file, "/etc/qbk/key file");
	assert_int_equal(cfg.qdrant.retries, 3);
	assert_int_equal(cfg.retention.keep_last, 2);
	qbk_config_release(&cfg);

	/* Lines longer than inih's 200-byte buffer, and a long value. */
	qbk_buf_addstr(&text, "[qdrant]\nnodes =");
	for (i = 0; i < 20; i++)
		qbk_buf_addf(&text, " http://qdrant-%d.qdrant-headless.qdrant."
		    "svc.cluster.local:6333,", i);
	qbk_buf_addstr(&text, "   ; twenty nodes\nretries = 2\n"
	    "# a long comment ");
	for (i = 0; i < 50; i++)
		qbk_buf_addstr(&text, "xxxxxxxxxx");
	qbk_buf_addstr(&text, "\n[notify]\nwebhook_url = https://example.com/");
	for (i = 0; i < 40; i++)
		qbk_buf_addstr(&text, "abcdefghij");
	qbk_buf_addstr(&text, "\n");
	assert_string_equal(load_err(&cfg, text.buf), "");
	assert_int_equal(cfg.qdrant.nnodes, 20);
	assert_string_equal(cfg.qdrant.nodes[19],
	    "http://qdrant-19.qdrant-headless.qdrant.svc.cluster.local:6333");
	assert_string_equal(cfg.qdrant.url, cfg.qdrant.nodes[0]);
	assert_int_equal(cfg.qdrant.retries, 2);
	assert_int_equal(strlen(cfg.notify.webhook_url), 20 + 400);
	qbk_config_release(&cfg);

	/* Line numbers stay right after a long line. */
	qbk_buf_reset(&text);
	qbk_buf_addstr(&text, "[qdrant]\nnodes =");
	for (i = 0; i < 10; i++)
		qbk_buf_addf(&text, " http://node-%d.example.com:6333", i);
	qbk_buf_addstr(&text, "\n\nretries = many\n");
	assert_string_equal(load_err(&cfg, text.buf), "qbk.conf:4: bad value "
	    "'many' for 'retries': expected a number from 0 to 100");
	qbk_config_release(&cfg);

	/* A long line with an unknown key or no '=' is still an error. */
	qbk_buf_reset(&text);
	qbk_buf_addstr(&text, "[qdrant]\nurls = ");
	for (i = 0; i < 30; i++)
		qbk_buf_addstr(&text, "http://x.example.com:6333 ");
	assert_string_equal(load_err(&cfg, text.buf),
	    "qbk.conf:2: unknown key 'urls' in [qdrant]");
	qbk_config_release(&cfg);
	qbk_buf_reset(&text);
	qbk_buf_addstr(&text, "[qdrant]\n\n");
	for (i = 0; i < 30; i++)
		qbk_buf_addstr(&text, "http//x.example.com/6333 ");
	assert_string_equal(load_err(&cfg, text.buf),
	    "qbk.conf:3: syntax error: expected 'key = value', '[section]' "
	    "or a comment");
	qbk_config_release(&cfg);
	qbk_buf_release(&text);

	/* Empty input and only comments are fine. */
	assert_string_equal(load_err(&cfg, ""), "");
	qbk_config_release(&cfg);
	assert_string_equal(load_err(&cfg, "\n# nothing\n;\n\n"), "");
	assert_string_equal(cfg.qdrant.url, QBK_CONFIG_DEFAULT_URL);
	qbk_config_release(&cfg);
}

static void
repository_locations(void **state)
{
	struct qbk_config cfg;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	assert_string_equal(load_err(&cfg,
	    "[repository]\nlocation = s3://my-bucket\n"), "");
	assert_int_equal(cfg.repo.is_s3, 1);
	assert_string_equal(cfg.repo.location, "s3://my-bucket");
	assert_string_equal(cfg.repo.s3_bucket, "my-bucket");
	assert_string_equal(cfg.repo.s3_prefix, "");
	/* No endpoint: AWS, virtual-host addressing. */
	assert_int_equal(cfg.repo.s3_uri_style, QBK_CONFIG_URI_STYLE_HOST);
	qbk_config_release(&cfg);

	assert_string_equal(load_err(&cfg, "[repository]\n"
	    "location = s3://b.example-1/a/b/c//\n"
	    "s3_endpoint = http://127.0.0.1:9000\n"), "");
	assert_string_equal(cfg.repo.s3_prefix, "a/b/c");
	assert_string_equal(cfg.repo.location, "s3://b.example-1/a/b/c");
	/* An endpoint (S3-compatible store): path style by default. */
	assert_int_equal(cfg.repo.s3_uri_style, QBK_CONFIG_URI_STYLE_PATH);
	qbk_config_release(&cfg);

	assert_string_equal(load_err(&cfg,
	    "[repository]\nlocation = /srv/qbk/repo/\n"), "");
	assert_int_equal(cfg.repo.is_s3, 0);
	assert_string_equal(cfg.repo.location, "/srv/qbk/repo");
	assert_null(cfg.repo.s3_bucket);
	/* A later s3:// location replaces it entirely (--repo). */
	assert_int_equal(qbk_config_set(&cfg, "repository", "location",
	    "s3://other/x", &err), 0);
	assert_int_equal(cfg.repo.is_s3, 1);
	assert_string_equal(cfg.repo.s3_bucket, "other");
	assert_string_equal(cfg.repo.s3_prefix, "x");
	qbk_config_release(&cfg);

	expect_error("[repository]\nlocation = s3://My_Bucket/x\n",
	    "qbk.conf:2: bad value 's3://My_Bucket/x' for 'location': "
	    "'My_Bucket' is not an S3 bucket name (3 to 63 lowercase letters, "
	    "digits, dots and hyphens)");
	expect_error("[repository]\nlocation = s3://\n",
	    "qbk.conf:2: bad value 's3://' for 'location': '' is not an S3 "
	    "bucket name (3 to 63 lowercase letters, digits, dots and "
	    "hyphens)");
	expect_error("[repository]\nlocation = s3://bucket/a/../b\n",
	    "qbk.conf:2: bad value 's3://bucket/a/../b' for 'location': the "
	    "S3 prefix 'a/../b' has an empty, '.' or '..' part");
	expect_error("[repository]\nlocation = gs://bucket/x\n",
	    "qbk.conf:2: bad value 'gs://bucket/x' for 'location': "
	    "unsupported location type 'gs://': expected a path or "
	    "s3://bucket/prefix");
}

static void
windows_parse_and_match(void **state)
{
	struct qbk_config_window *w = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	struct tm tm;
	size_t n = 0;
	time_t sun;

	(void)state;
	/* 2024-01-07 was a Sunday. */
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 124;
	tm.tm_mon = 0;
	tm.tm_mday = 7;
	sun = timegm(&tm);

	assert_int_equal(qbk_config_parse_windows("Sun 02:00-04:00", &w, &n,
	    &err), 0);
	assert_int_equal(n, 1);
	assert_false(qbk_config_in_window(w, n, sun + 2 * 3600 - 1));
	assert_true(qbk_config_in_window(w, n, sun + 2 * 3600));
	assert_true(qbk_config_in_window(w, n, sun + 4 * 3600 - 1));
	assert_false(qbk_config_in_window(w, n, sun + 4 * 3600));
	assert_false(qbk_config_in_window(w, n, sun + 86400 + 3 * 3600));
	free(w);

	/* Crossing midnight: Friday 23:00 to Saturday 01:00 only. */
	assert_int_equal(qbk_config_parse_windows("fri 23:00-01:00", &w, &n,
	    &err), 0);
	assert_true(qbk_config_in_window(w, n, sun - 86400 - 3600 / 2));
	assert_true(qbk_config_in_window(w, n, sun - 2 * 86400 + 3600 * 23));
	assert_true(qbk_config_in_window(w, n, sun - 86400 + 3600 / 2));
	assert_false(qbk_config_in_window(w, n, sun - 86400 + 3600));
	assert_false(qbk_config_in_window(w, n, sun + 3600 / 2));
	assert_false(qbk_config_in_window(w, n, sun - 86400 + 3600 * 23));
	free(w);

	assert_int_equal(qbk_config_parse_windows(
	    "daily 01:00-01:30,Sat-Mon 00:00-24:00 UTC", &w, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(w[0].days, 0x7f);
	assert_int_equal(w[1].days, 0x43);
	assert_int_equal(w[1].end, 1440);
	assert_true(qbk_config_in_window(w, n, sun + 86400 * 3 + 3600 + 60));
	assert_false(qbk_config_in_window(w, n, sun + 86400 * 3 + 7200));
	assert_true(qbk_config_in_window(w, n, sun + 86400 + 7200));
	free(w);

	assert_int_equal(qbk_config_parse_windows("weekends 9:00-17:00 local",
	    &w, &n, &err), 0);
	assert_int_equal(w[0].days, 0x41);
	assert_int_equal(w[0].start, 540);
	assert_int_equal(w[0].local, 1);
	free(w);

	w = NULL;
	n = 99;
	assert_int_equal(qbk_config_parse_windows("Sonday 02:00-04:00", &w,
	    &n, &err), -1);
	assert_string_equal(err.msg, "unknown day 'Sonday': expected daily, "
	    "weekdays, weekends, a day like Sun or a range like Mon-Fri");
	assert_null(w);
	assert_int_equal(n, 99);
	assert_int_equal(qbk_config_parse_windows("Sun 25:00-26:00", &w, &n,
	    &err), -1);
	assert_string_equal(err.msg, "bad time range '25:00-26:00': expected "
	    "HH:MM-HH:MM, from 00:00 to 24:00");
	assert_int_equal(qbk_config_parse_windows("Sun 02:00-02:00", &w, &n,
	    &err), -1);
	assert_string_equal(err.msg, "empty time range '02:00-02:00'");
	assert_int_equal(qbk_config_parse_windows("Sun 02:00-03:00 CET", &w,
	    &n, &err), -1);
	assert_string_equal(err.msg,
	    "unknown time zone 'CET': expected UTC or local");
	assert_int_equal(qbk_config_parse_windows("Sun", &w, &n, &err), -1);
	assert_int_equal(qbk_config_parse_windows("Sun 02:00-03:00,", &w, &n,
	    &err), -1);
	assert_int_equal(qbk_config_parse_windows("", &w, &n, &err), -1);
	assert_string_equal(err.msg, "expected windows like 'Sun 02:00-04:00' "
	    "or 'daily 01:00-01:30', separated by commas");
	assert_null(w);
	expect_error("[notify]\nmaintenance = Sun 2am-4am\n",
	    "qbk.conf:2: bad value 'Sun 2am-4am' for 'maintenance': bad time "
	    "range '2am-4am': expected HH:MM-HH:MM, from 00:00 to 24:00");
}

static void
load_files_and_missing_files(void **state)
{
	struct qbk_config cfg;
	struct qbk_err err = QBK_ERR_INIT;
	const char *conf = path_in(state, 0, "qbk.conf");
	const char *missing = path_in(state, 1, "missing.conf");
	char want[2048];

	assert_int_equal(tu_write_file(conf, "[qdrant]\nurl = http://a\n"
	    "api_key_file = keys/api\n[repository]\nlocation = repo\n"
	    "[retention]\nkeep_daily = 7\n\n\n\n\n"
	    "keep_dialy = 7\n"), 0);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, conf, &err), -1);
	snprintf(want, sizeof(want),
	    "%s:12: unknown key 'keep_dialy' in [retention]", conf);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.code, QBK_E_CONFIG);
	qbk_config_release(&cfg);

	/* Relative paths are relative to the file's folder. */
	assert_int_equal(tu_write_file(conf, "[qdrant]\nurl = http://a\n"
	    "api_key_file = keys/api\n[repository]\nlocation = repo/\n"), 0);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, conf, &err), 0);
	assert_string_equal(cfg.file, conf);
	snprintf(want, sizeof(want), "%s/keys/api", (const char *)*state);
	assert_string_equal(cfg.qdrant.api_key_file, want);
	snprintf(want, sizeof(want), "%s/repo", (const char *)*state);
	assert_string_equal(cfg.repo.location, want);
	qbk_config_release(&cfg);

	/* $QBK_CONFIG names the file when no path is given. */
	setenv("QBK_CONFIG", conf, 1);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, NULL, &err), 0);
	assert_string_equal(cfg.file, conf);
	assert_string_equal(cfg.qdrant.url, "http://a");
	qbk_config_release(&cfg);

	/* A file named explicitly, or by $QBK_CONFIG, must exist. */
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, missing, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	snprintf(want, sizeof(want), "cannot open configuration file '%s': "
	    "No such file or directory", missing);
	assert_string_equal(err.msg, want);
	qbk_config_release(&cfg);
	setenv("QBK_CONFIG", missing, 1);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, NULL, &err), -1);
	assert_string_equal(err.msg, want);
	qbk_config_release(&cfg);

	/* The default path may be missing: defaults, and no file. */
	unsetenv("QBK_CONFIG");
	qbk_config_init(&cfg);
	qbk_err_clear(&err);
	if (access(QBK_CONFIG_DEFAULT_PATH, F_OK) != 0) {
		assert_int_equal(qbk_config_load(&cfg, NULL, &err), 0);
		assert_null(cfg.file);
		assert_string_equal(cfg.qdrant.url, QBK_CONFIG_DEFAULT_URL);
	} else {
		/* This machine has one: it is read. */
		qbk_config_load(&cfg, NULL, &err);
		if (err.code == QBK_E_OK)
			assert_string_equal(cfg.file,
			    QBK_CONFIG_DEFAULT_PATH);
		else
			assert_non_null(strstr(err.msg,
			    QBK_CONFIG_DEFAULT_PATH));
	}
	qbk_config_release(&cfg);

	/* A folder or a binary file is refused. */
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, (const char *)*state, &err),
	    -1);
	snprintf(want, sizeof(want), "configuration file '%s' is a folder",
	    (const char *)*state);
	assert_string_equal(err.msg, want);
	qbk_config_release(&cfg);
	{
		FILE *f = fopen(conf, "wb");

		assert_non_null(f);
		fwrite("[qdrant]\n\nurl\0= x\n", 1, 18, f);
		fclose(f);
	}
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, conf, &err), -1);
	snprintf(want, sizeof(want), "%s:3: NUL byte: this is not a text file",
	    conf);
	assert_string_equal(err.msg, want);
	qbk_config_release(&cfg);
}

static void
environment_and_command_line_precedence(void **state)
{
	struct qbk_config cfg;
	struct qbk_err err = QBK_ERR_INIT;
	const char *conf = path_in(state, 0, "qbk.conf");

	assert_int_equal(tu_write_file(conf, "[qdrant]\n"
	    "url = http://from-file:6333\n[repository]\n"
	    "location = /srv/from-file\n"), 0);

	/* File beats defaults. */
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, conf, &err), 0);
	assert_string_equal(cfg.qdrant.url, "http://from-file:6333");
	qbk_config_release(&cfg);

	/* Environment beats the file; empty variables count as unset. */
	setenv("QBK_URL", "http://from-env:6333/", 1);
	setenv("QBK_REPOSITORY", "", 1);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, conf, &err), 0);
	assert_string_equal(cfg.qdrant.url, "http://from-env:6333");
	assert_string_equal(cfg.repo.location, "/srv/from-file");
	setenv("QBK_REPOSITORY", "s3://env-bucket/p", 1);
	qbk_config_release(&cfg);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, conf, &err), 0);
	assert_string_equal(cfg.repo.s3_bucket, "env-bucket");

	/* The command line beats the environment. */
	assert_int_equal(qbk_config_set(&cfg, "qdrant", "url",
	    "https://from-cli", &err), 0);
	assert_string_equal(cfg.qdrant.url, "https://from-cli");
	assert_int_equal(qbk_config_set(&cfg, "retention", "keep_daily", "9",
	    &err), 0);
	assert_int_equal(cfg.retention.keep_daily, 9);

	/* A bad option value leaves the struct alone. */
	assert_int_equal(qbk_config_set(&cfg, "retention", "keep_daily", "x",
	    &err), -1);
	assert_string_equal(err.msg, "bad value 'x' for 'keep_daily': "
	    "expected a number from 0 to 1000000");
	assert_int_equal(cfg.retention.keep_daily, 9);
	assert_int_equal(qbk_config_set(&cfg, "qdrant", "url", "nope", &err),
	    -1);
	assert_string_equal(cfg.qdrant.url, "https://from-cli");
	assert_int_equal(qbk_config_set(&cfg, "retention", "keep_dayly", "1",
	    &err), -1);
	assert_string_equal(err.msg, "unknown key 'keep_dayly' in [retention]");
	assert_string_equal(err.hint, "did you mean 'keep_daily'?");
	assert_int_equal(qbk_config_set(&cfg, "retentions", "keep_daily", "1",
	    &err), -1);
	assert_string_equal(err.msg, "unknown section [retentions]");
	qbk_config_release(&cfg);

	/* $QBK_NODES replaces the nodes, and the url with the first of them
	 * unless $QBK_URL names one. */
	assert_int_equal(tu_write_file(conf, "[qdrant]\n"
	    "url = http://old-0:6333\n"
	    "nodes = http://old-0:6333, http://old-1:6333\n"), 0);
	unsetenv("QBK_URL");
	setenv("QBK_NODES", "http://new-0:6333 http://new-1:6333", 1);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, conf, &err), 0);
	assert_int_equal(cfg.qdrant.nnodes, 2);
	assert_string_equal(cfg.qdrant.nodes[0], "http://new-0:6333");
	assert_string_equal(cfg.qdrant.nodes[1], "http://new-1:6333");
	assert_string_equal(cfg.qdrant.url, "http://new-0:6333");
	qbk_config_release(&cfg);
	setenv("QBK_URL", "http://new-1:6333", 1);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, conf, &err), 0);
	assert_string_equal(cfg.qdrant.url, "http://new-1:6333");
	qbk_config_release(&cfg);
	setenv("QBK_NODES", "new-0:6333", 1);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, conf, &err), -1);
	assert_non_null(strstr(err.msg, "$QBK_NODES: bad value"));
	qbk_config_release(&cfg);
	unsetenv("QBK_NODES");

	/* A bad environment value is named as such. */
	setenv("QBK_URL", "localhost:6333", 1);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, conf, &err), -1);
	assert_string_equal(err.msg, "$QBK_URL: bad value 'localhost:6333' "
	    "for 'url': expected an http:// or https:// URL");
	qbk_config_release(&cfg);

	/* load_string() never looks at the environment. */
	setenv("QBK_URL", "http://from-env", 1);
	assert_string_equal(load_err(&cfg, "[qdrant]\nretries = 1\n"), "");
	assert_string_equal(cfg.qdrant.url, QBK_CONFIG_DEFAULT_URL);
	qbk_config_release(&cfg);
}

static void
write_round_trip(void **state)
{
	struct qbk_buf a = QBK_BUF_INIT, b = QBK_BUF_INIT;
	struct qbk_config cfg, again;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	assert_string_equal(load_err(&cfg, full), "");
	qbk_config_write(&cfg, &a);
	assert_non_null(strstr(a.buf, "[retention]\nkeep_last = 3\n"));
	assert_non_null(strstr(a.buf, "lock_timeout = 1h30m\n"));
	assert_non_null(strstr(a.buf, "nodes = http://q0:6333, "
	    "http://q1:6333, http://q2:6333\n"));
	assert_non_null(strstr(a.buf, "compression = zstd:7\n"));
	assert_non_null(strstr(a.buf, "preset = production\n"));
	qbk_config_init(&again);
	assert_int_equal(qbk_config_load_string(&again, a.buf, "written",
	    &err), 0);
	qbk_config_write(&again, &b);
	assert_string_equal(a.buf, b.buf);
	qbk_config_release(&again);
	qbk_config_release(&cfg);

	/* Defaults only: unset settings are left out. */
	qbk_buf_reset(&a);
	qbk_config_init(&cfg);
	qbk_config_write(&cfg, &a);
	assert_null(strstr(a.buf, "location"));
	assert_null(strstr(a.buf, "keep_"));
	assert_null(strstr(a.buf, "preset"));
	assert_non_null(strstr(a.buf, "[qdrant]\nurl = http://localhost:6333\n"));
	assert_non_null(strstr(a.buf, "compression = auto\n"));
	qbk_config_release(&cfg);
	qbk_buf_release(&a);
	qbk_buf_release(&b);
}

static void
secret_files(void **state)
{
	struct qbk_config_secret s = QBK_CONFIG_SECRET_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	const char *p = path_in(state, 0, "secret");
	char want[2048];

	tu_log_capture();
	assert_int_equal(tu_write_file(p, "s3cr3t\n"), 0);
	chmod(p, 0600);
	assert_int_equal(qbk_config_read_secret(p, &s, &err), 0);
	assert_string_equal(s.data, "s3cr3t");
	assert_int_equal(s.len, 6);
	snprintf(want, sizeof(want), "file '%s'", p);
	assert_string_equal(s.origin, want);
	assert_string_equal(tu_log_text(), "");

	/* Only one newline goes; CRLF counts as one. */
	assert_int_equal(tu_write_file(p, "two\n\n"), 0);
	assert_int_equal(qbk_config_read_secret(p, &s, &err), 0);
	assert_string_equal(s.data, "two\n");
	assert_int_equal(tu_write_file(p, "dos\r\n"), 0);
	assert_int_equal(qbk_config_read_secret(p, &s, &err), 0);
	assert_string_equal(s.data, "dos");
	assert_int_equal(tu_write_file(p, "no newline"), 0);
	assert_int_equal(qbk_config_read_secret(p, &s, &err), 0);
	assert_string_equal(s.data, "no newline");
	qbk_config_secret_release(&s);
	assert_null(s.data);
	assert_null(s.origin);
	qbk_config_secret_release(NULL);

	/* Empty files are refused, a lone newline too. */
	assert_int_equal(tu_write_file(p, ""), 0);
	assert_int_equal(qbk_config_read_secret(p, &s, &err), -1);
	snprintf(want, sizeof(want), "secret file '%s' is empty", p);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_null(s.data);
	assert_int_equal(tu_write_file(p, "\n"), 0);
	assert_int_equal(qbk_config_read_secret(p, &s, &err), -1);
	assert_string_equal(err.msg, want);

	/* Readable by others: read, with a warning. */
	assert_int_equal(tu_write_file(p, "open\n"), 0);
	chmod(p, 0644);
	tu_log_reset();
	assert_int_equal(qbk_config_read_secret(p, &s, &err), 0);
	snprintf(want, sizeof(want), "1 secret file '%s' is readable by "
	    "everyone (mode 0644); chmod 600 it\n", p);
	assert_string_equal(tu_log_text(), want);
	chmod(p, 0640);
	tu_log_reset();
	assert_int_equal(qbk_config_read_secret(p, &s, &err), 0);
	assert_non_null(strstr(tu_log_text(), "readable by its group"));
	qbk_config_secret_release(&s);

	/* Missing files, folders and huge files are errors. */
	assert_int_equal(qbk_config_read_secret(path_in(state, 1, "nope"), &s,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_non_null(strstr(err.msg, "No such file or directory"));
	assert_int_equal(qbk_config_read_secret((const char *)*state, &s,
	    &err), -1);
	assert_non_null(strstr(err.msg, "is a folder"));
	{
		char *big = malloc(QBK_CONFIG_SECRET_MAX + 2);

		assert_non_null(big);
		memset(big, 'k', QBK_CONFIG_SECRET_MAX + 1);
		big[QBK_CONFIG_SECRET_MAX + 1] = '\0';
		assert_int_equal(tu_write_file(p, big), 0);
		chmod(p, 0600);
		assert_int_equal(qbk_config_read_secret(p, &s, &err), -1);
		assert_non_null(strstr(err.msg, "is larger than 65536 bytes"));
		/* Exactly the limit, plus its newline, is fine. */
		big[QBK_CONFIG_SECRET_MAX] = '\n';
		assert_int_equal(tu_write_file(p, big), 0);
		assert_int_equal(qbk_config_read_secret(p, &s, &err), 0);
		assert_int_equal(s.len, QBK_CONFIG_SECRET_MAX);
		qbk_config_secret_release(&s);
		free(big);
	}
}

static void
secret_resolution(void **state)
{
	struct qbk_config_secret s = QBK_CONFIG_SECRET_INIT;
	struct qbk_config_secret id = QBK_CONFIG_SECRET_INIT;
	struct qbk_config_secret key = QBK_CONFIG_SECRET_INIT;
	struct qbk_config_secret tok = QBK_CONFIG_SECRET_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf text = QBK_BUF_INIT;
	struct qbk_config cfg;
	const char *api = path_in(state, 0, "api");
	const char *pass = path_in(state, 1, "pass");
	const char *raw = path_in(state, 2, "raw");
	const char *s3id = path_in(state, 3, "s3id");

	assert_int_equal(tu_write_file(api, "file-api-key\n"), 0);
	assert_int_equal(tu_write_file(pass, "file passphrase\n"), 0);
	assert_int_equal(tu_write_file(raw, "0123456789abcdef\n"), 0);
	assert_int_equal(tu_write_file(s3id, "AKIAFILE\n"), 0);
	chmod(api, 0600);
	chmod(pass, 0600);
	chmod(raw, 0600);
	chmod(s3id, 0600);

	/* Nothing configured: no secret, no error. */
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_api_key(&cfg, &s, &err), 0);
	assert_null(s.data);
	assert_int_equal(qbk_config_repo_key(&cfg, &s, &err), 0);
	assert_null(s.data);
	assert_int_equal(qbk_config_s3_credentials(&cfg, &id, &key, &tok,
	    &err), 0);
	assert_null(id.data);
	assert_null(key.data);
	assert_null(tok.data);
	qbk_config_release(&cfg);

	qbk_buf_addf(&text, "[qdrant]\napi_key_file = %s\n"
	    "[repository]\nkey_file = %s\ns3_access_key_file = %s\n", api, raw,
	    s3id);
	assert_string_equal(load_err(&cfg, text.buf), "");

	assert_int_equal(qbk_config_api_key(&cfg, &s, &err), 0);
	assert_string_equal(s.data, "file-api-key");
	setenv("QBK_API_KEY", "env-api-key", 1);
	assert_int_equal(qbk_config_api_key(&cfg, &s, &err), 0);
	assert_string_equal(s.data, "env-api-key");
	assert_string_equal(s.origin, "QBK_API_KEY");
	/* The drill deployment uses the same key unless told otherwise. */
	assert_int_equal(qbk_config_drill_api_key(&cfg, &s, &err), 0);
	assert_string_equal(s.data, "env-api-key");
	setenv("QBK_DRILL_API_KEY", "drill-key", 1);
	assert_int_equal(qbk_config_drill_api_key(&cfg, &s, &err), 0);
	assert_string_equal(s.data, "drill-key");

	assert_int_equal(qbk_config_repo_key(&cfg, &s, &err), 0);
	assert_string_equal(s.data, "0123456789abcdef");
	assert_int_equal(s.raw_key, 1);
	assert_int_equal(qbk_config_set(&cfg, "repository", "passphrase_file",
	    pass, &err), 0);
	assert_int_equal(qbk_config_repo_key(&cfg, &s, &err), 0);
	assert_string_equal(s.data, "file passphrase");
	assert_int_equal(s.raw_key, 0);
	setenv("QBK_PASSPHRASE", "env passphrase", 1);
	assert_int_equal(qbk_config_repo_key(&cfg, &s, &err), 0);
	assert_string_equal(s.data, "env passphrase");
	assert_int_equal(s.raw_key, 0);
	qbk_config_secret_release(&s);

	/* S3: an id without a secret key is an error. */
	assert_int_equal(qbk_config_s3_credentials(&cfg, &id, &key, &tok,
	    &err), -1);
	assert_string_equal(err.msg, "S3 credentials: the access key id is "
	    "set but no secret key ($AWS_SECRET_ACCESS_KEY or "
	    "s3_secret_key_file)");
	assert_null(id.data);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
	setenv("AWS_SESSION_TOKEN", "env-token", 1);
	assert_int_equal(qbk_config_s3_credentials(&cfg, &id, &key, &tok,
	    &err), 0);
	assert_string_equal(id.data, "AKIAFILE");
	assert_string_equal(key.data, "env-secret");
	assert_string_equal(tok.data, "env-token");
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	assert_int_equal(qbk_config_s3_credentials(&cfg, &id, &key, NULL,
	    &err), 0);
	assert_string_equal(id.data, "AKIAENV");
	/* The session token from its file, unless the variable is set. */
	assert_int_equal(tu_write_file(s3id, "file-token\n"), 0);
	assert_int_equal(qbk_config_set(&cfg, "repository",
	    "s3_session_token_file", s3id, &err), 0);
	assert_int_equal(qbk_config_s3_credentials(&cfg, &id, &key, &tok,
	    &err), 0);
	assert_string_equal(tok.data, "env-token");
	unsetenv("AWS_SESSION_TOKEN");
	assert_int_equal(qbk_config_s3_credentials(&cfg, &id, &key, &tok,
	    &err), 0);
	assert_string_equal(tok.data, "file-token");
	qbk_config_secret_release(&id);
	qbk_config_secret_release(&key);
	qbk_config_secret_release(&tok);

	/* A configured but missing file is an error. */
	unsetenv("QBK_API_KEY");
	unlink(api);
	assert_int_equal(qbk_config_api_key(&cfg, &s, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_null(s.data);
	qbk_config_release(&cfg);
	qbk_buf_release(&text);
}

/* etc/qbk.conf loads as shipped, and with every example key enabled. */
static void
example_file_parses(void **state)
{
	static const char *const all[][2] = {
		{ "environment", "preset" }, { "environment", "name" },
		{ "qdrant", "url" }, { "qdrant", "nodes" },
		{ "qdrant", "api_key_file" }, { "qdrant", "timeout" },
		{ "qdrant", "connect_timeout" }, { "qdrant", "stall_timeout" },
		{ "qdrant", "retries" },
		{ "qdrant", "retry_delay" }, { "qdrant", "ca_file" },
		{ "qdrant", "tls_verify" }, { "qdrant", "priority" },
		{ "repository", "location" },
		{ "repository", "passphrase_file" },
		{ "repository", "compression" },
		{ "repository", "encryption" },
		{ "repository", "s3_endpoint" }, { "repository", "s3_region" },
		{ "repository", "s3_uri_style" },
		{ "repository", "s3_access_key_file" },
		{ "repository", "s3_secret_key_file" },
		{ "repository", "s3_transfers" }, { "repository", "cache_dir" },
		{ "repository", "lock_timeout" }, { "backup", "workers" },
		{ "backup", "sample_points" }, { "backup", "type" },
		{ "retention", "keep_last" }, { "retention", "keep_hourly" },
		{ "retention", "keep_daily" }, { "retention", "keep_weekly" },
		{ "retention", "keep_monthly" }, { "retention", "keep_yearly" },
		{ "retention", "keep_within" }, { "objectives", "rpo" },
		{ "objectives", "rto" }, { "drill", "url" },
		{ "drill", "api_key_file" }, { "drill", "validation" },
		{ "drill", "sample_points" }, { "notify", "webhook_url" },
		{ "notify", "slack_webhook_url" },
		{ "notify", "pagerduty_routing_key_file" },
		{ "notify", "min_interval" }, { "notify", "maintenance" },
		{ "notify", "timeout" },
	};
	const char *top = getenv("QBK_TOP");
	struct qbk_buf path = QBK_BUF_INIT, text = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_config cfg;
	char line[1024];
	size_t i;
	FILE *f;

	(void)state;
	qbk_buf_addf(&path, "%s/etc/qbk.conf", top != NULL && *top != '\0' ?
	    top : ".");
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, path.buf, &err), 0);
	assert_string_equal(cfg.repo.location, "/var/backups/qbk");
	assert_int_equal(cfg.environment.preset, QBK_CONFIG_PRESET_NONE);
	qbk_config_release(&cfg);

	/* Uncomment "#key = value" lines; key_file excludes passphrase_file. */
	assert_non_null(f = fopen(path.buf, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *l = line;

		if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' &&
		    strstr(line, " = ") != NULL &&
		    strncmp(line, "#key_file", 9) != 0)
			l = line + 1;
		qbk_buf_addstr(&text, l);
	}
	fclose(f);
	assert_string_equal(load_err(&cfg, text.buf), "");
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!qbk_config_is_set(&cfg, all[i][0], all[i][1]))
			fail_msg("etc/qbk.conf lacks [%s] %s", all[i][0],
			    all[i][1]);
	assert_int_equal(cfg.qdrant.nnodes, 3);
	assert_int_equal(cfg.notify.nwindows, 2);
	qbk_config_release(&cfg);
	qbk_buf_release(&text);
	qbk_buf_release(&path);
}

static void
more_edges(void **state)
{
	struct qbk_config_secret sec = QBK_CONFIG_SECRET_INIT;
	struct qbk_config_window *w = NULL;
	struct qbk_buf a = QBK_BUF_INIT, b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_config cfg, again;
	const char *big = path_in(state, 0, "big.conf");
	const char *dkey = path_in(state, 1, "drill-key");
	struct tm tm;
	time_t sun;
	size_t n, i;
	FILE *f;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 124;
	tm.tm_mday = 7;
	sun = timegm(&tm);

	/* Compression spellings. */
	assert_string_equal(load_err(&cfg,
	    "[repository]\ncompression = none\n"), "");
	assert_int_equal(cfg.repo.compression, QBK_CONFIG_COMPRESSION_NONE);
	qbk_config_release(&cfg);
	assert_string_equal(load_err(&cfg,
	    "[repository]\ncompression = zstd\n"), "");
	assert_int_equal(cfg.repo.compression, QBK_CONFIG_COMPRESSION_ZSTD);
	assert_int_equal(cfg.repo.compression_level, 3);
	qbk_config_release(&cfg);

	/* Maintenance through the config, in local time (TZ pinned). */
	setenv("TZ", "UTC", 1);
	tzset();
	assert_string_equal(load_err(&cfg, "[notify]\n"
	    "maintenance = Sat 22:00-00:00 local\n"), "");
	assert_int_equal(cfg.notify.windows[0].end, 1440);
	assert_true(qbk_config_in_maintenance(&cfg, sun - 3600));
	assert_false(qbk_config_in_maintenance(&cfg, sun));
	assert_false(qbk_config_in_maintenance(&cfg, sun - 3 * 3600));
	qbk_config_release(&cfg);
	unsetenv("TZ");
	tzset();
	assert_int_equal(qbk_config_parse_windows("Mon-Xyz 01:00-02:00", &w,
	    &n, &err), -1);
	assert_null(w);

	/* Values that need quotes to read back the same. */
	assert_string_equal(load_err(&cfg, "[environment]\n"
	    "name = \"\"quoted\"\"\n[qdrant]\nca_file = \"  padded \"\n"
	    "api_key_file =;semi\n"), "");
	assert_string_equal(cfg.environment.name, "\"quoted\"");
	assert_string_equal(cfg.qdrant.ca_file, "  padded ");
	assert_string_equal(cfg.qdrant.api_key_file, ";semi");
	qbk_config_write(&cfg, &a);
	qbk_config_init(&again);
	assert_int_equal(qbk_config_load_string(&again, a.buf, "w", &err), 0);
	qbk_config_write(&again, &b);
	assert_string_equal(a.buf, b.buf);
	assert_string_equal(again.qdrant.ca_file, "  padded ");
	qbk_config_release(&again);
	qbk_config_release(&cfg);
	qbk_buf_release(&a);
	qbk_buf_release(&b);

	expect_error("[qdrant]\nurl = http://a b\n",
	    "qbk.conf:2: bad value 'http://a b' for 'url': a URL cannot hold "
	    "spaces or control characters");
	expect_error("[repository]\nlocation =\n",
	    "qbk.conf:2: bad value '' for 'location': expected a path or "
	    "s3://bucket/prefix");
	expect_error("[qdrant]\napi_key_file = \"\"\n",
	    "qbk.conf:2: bad value '\"\"' for 'api_key_file': expected a "
	    "path");

	/* A key name too long for inih's buffer. */
	qbk_buf_addstr(&a, "[qdrant]\n");
	for (i = 0; i < 30; i++)
		qbk_buf_addstr(&a, "key_name__");
	qbk_buf_addstr(&a, " = 1\n");
	assert_non_null(strstr(load_err(&cfg, a.buf),
	    "qbk.conf:2: unknown key 'key_name__key_name__"));
	qbk_config_release(&cfg);
	qbk_buf_release(&a);

	/* Larger than QBK_CONFIG_MAX_SIZE. */
	assert_non_null(f = fopen(big, "w"));
	for (i = 0; i <= QBK_CONFIG_MAX_SIZE / 16; i++)
		fputs("# comment line.\n", f);
	fclose(f);
	qbk_config_init(&cfg);
	assert_int_equal(qbk_config_load(&cfg, big, &err), -1);
	assert_non_null(strstr(err.msg, "is larger than 1048576 bytes"));
	qbk_config_release(&cfg);

	/* A drill key file beats the Qdrant key. */
	assert_int_equal(tu_write_file(dkey, "dk\n"), 0);
	chmod(dkey, 0600);
	qbk_config_init(&cfg);
	setenv("QBK_API_KEY", "main", 1);
	assert_int_equal(qbk_config_set(&cfg, "drill", "api_key_file", dkey,
	    &err), 0);
	assert_int_equal(qbk_config_drill_api_key(&cfg, &sec, &err), 0);
	assert_string_equal(sec.data, "dk");
	qbk_config_secret_release(&sec);
	qbk_config_release(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(good_file_every_section, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(defaults_without_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    presets_set_objectives_and_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    explicit_settings_beat_preset_in_any_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(duration_parser, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(bool_and_uint_parsers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    bad_files_name_file_line_and_key, setup, teardown),
		cmocka_unit_test_setup_teardown(error_hints, setup, teardown),
		cmocka_unit_test_setup_teardown(syntax_details, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(repository_locations, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(windows_parse_and_match, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(load_files_and_missing_files,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    environment_and_command_line_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(write_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(secret_files, setup, teardown),
		cmocka_unit_test_setup_teardown(secret_resolution, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(example_file_parses, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(more_edges, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
