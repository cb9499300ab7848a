/*
 * qbk_config: qbk.conf(5), the inih adapter.
 *
 * inih (Debian's libinih 55) reports line numbers to the handler only when
 * it is built with INI_HANDLER_LINENO, which the shared library is not.  So
 * every line goes through our own reader for ini_parse_stream(): it counts
 * lines, which makes the handler's "current line" exact, and it normalises
 * what inih sees:
 *   - leading white space is dropped, so an indented key is a key and never
 *     inih's configparser-style continuation of the previous value (which
 *     would silently swallow "  api_key_file = x" into the previous key);
 *   - section headers are checked here, where their own line is known,
 *     because inih calls the handler for key lines only;
 *   - a key line longer than inih's line buffer (200 bytes in the packaged
 *     build; a long `nodes` list easily exceeds it) is parsed here the way
 *     inih would, and inih gets "name=" with the value kept aside.
 * The first error stops the parse: the reader then reports end of input.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>
#include <sodium.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_log.h"
#include "storage/qbk_store.h"
#include "config/qbk_config.h"

#define MS_S	INT64_C(1000)
#define MS_M	(60 * MS_S)
#define MS_H	(60 * MS_M)
#define MS_D	(24 * MS_H)
#define MS_W	(7 * MS_D)

_Static_assert(sizeof(enum qbk_config_preset) == sizeof(int), "enum size");
_Static_assert(sizeof(enum qbk_config_priority) == sizeof(int), "enum size");
_Static_assert(sizeof(enum qbk_config_encryption) == sizeof(int), "enum");
_Static_assert(sizeof(enum qbk_config_uri_style) == sizeof(int), "enum");
_Static_assert(sizeof(enum qbk_config_backup_type) == sizeof(int), "enum");
_Static_assert(sizeof(enum qbk_config_validation) == sizeof(int), "enum");

static const char *const sections[] = {
	"environment", "qdrant", "repository", "backup", "retention",
	"objectives", "drill", "notify", NULL
};

enum ktype {
	T_STR,		/* any non-empty text */
	T_PATH,		/* a file or folder; relative to qbk.conf's folder */
	T_URL,		/* http:// or https:// */
	T_NODES,	/* list of URLs */
	T_DUR,		/* duration in ms, range [min, max] */
	T_UINT,		/* int, range [min, max] */
	T_BOOL,
	T_ENUM,		/* enum stored as int; names[] in order */
	T_PRESET,	/* T_ENUM that re-applies preset defaults */
	T_COMPRESSION,
	T_LOCATION,
	T_WINDOWS
};

#define K_SECRET	0x01	/* never echo the value in messages */
#define K_PRESET	0x02	/* defaulted by [environment] preset */
#define K_SLASH		0x04	/* URL: drop trailing '/' */

struct key {
	const char *section;
	const char *name;
	enum ktype type;
	size_t off;
	int64_t min, max;
	const char *const *names;
	unsigned flags;
};

static const char *const preset_names[] = {
	"none", "development", "staging", "production", NULL
};
static const char *const priority_names[] = {
	"snapshot", "replica", "no_sync", NULL
};
static const char *const encryption_names[] = {
	"auto", "xchacha20-poly1305", "aes256-gcm", "none", NULL
};
static const char *const uri_style_names[] = { "host", "path", NULL };
static const char *const lock_mode_names[] = { "governance", "compliance",
	NULL };
static const char *const backup_type_names[] = {
	"incremental", "full", NULL
};
static const char *const validation_names[] = {
	"basic", "comprehensive", "exhaustive", NULL
};

#define OFF(m)	offsetof(struct qbk_config, m)
#define KEEPMAX	1000000

static const struct key keys[] = {
	{ "environment", "preset", T_PRESET, OFF(environment.preset), 0, 0,
	    preset_names, 0 },
	{ "environment", "name", T_STR, OFF(environment.name), 0, 0, NULL, 0 },

	{ "qdrant", "url", T_URL, OFF(qdrant.url), 0, 0, NULL, K_SLASH },
	{ "qdrant", "api_key_file", T_PATH, OFF(qdrant.api_key_file), 0, 0,
	    NULL, 0 },
	{ "qdrant", "nodes", T_NODES, OFF(qdrant.nodes), 0, 0, NULL, K_SLASH },
	{ "qdrant", "timeout", T_DUR, OFF(qdrant.timeout), MS_S, MS_W, NULL,
	    0 },
	{ "qdrant", "connect_timeout", T_DUR, OFF(qdrant.connect_timeout), 100,
	    10 * MS_M, NULL, 0 },
	{ "qdrant", "stall_timeout", T_DUR, OFF(qdrant.stall_timeout), MS_S,
	    MS_H, NULL, 0 },
	{ "qdrant", "retries", T_UINT, OFF(qdrant.retries), 0, 100, NULL, 0 },
	{ "qdrant", "retry_delay", T_DUR, OFF(qdrant.retry_delay), 0,
	    10 * MS_M, NULL, 0 },
	{ "qdrant", "ca_file", T_PATH, OFF(qdrant.ca_file), 0, 0, NULL, 0 },
	{ "qdrant", "tls_verify", T_BOOL, OFF(qdrant.tls_verify), 0, 0, NULL,
	    0 },
	{ "qdrant", "priority", T_ENUM, OFF(qdrant.priority), 0, 0,
	    priority_names, 0 },
	{ "qdrant", "replica_timeout", T_DUR, OFF(qdrant.replica_timeout), 0,
	    MS_D, NULL, 0 },

	{ "repository", "location", T_LOCATION, OFF(repo.location), 0, 0,
	    NULL, 0 },
	{ "repository", "passphrase_file", T_PATH, OFF(repo.passphrase_file),
	    0, 0, NULL, 0 },
	{ "repository", "key_file", T_PATH, OFF(repo.key_file), 0, 0, NULL,
	    0 },
	{ "repository", "compression", T_COMPRESSION, OFF(repo.compression),
	    0, 0, NULL, 0 },
	{ "repository", "encryption", T_ENUM, OFF(repo.encryption), 0, 0,
	    encryption_names, 0 },
	{ "repository", "s3_endpoint", T_URL, OFF(repo.s3_endpoint), 0, 0,
	    NULL, K_SLASH },
	{ "repository", "s3_region", T_STR, OFF(repo.s3_region), 0, 0, NULL,
	    0 },
	{ "repository", "s3_uri_style", T_ENUM, OFF(repo.s3_uri_style), 0, 0,
	    uri_style_names, 0 },
	{ "repository", "s3_access_key_file", T_PATH,
	    OFF(repo.s3_access_key_file), 0, 0, NULL, 0 },
	{ "repository", "s3_secret_key_file", T_PATH,
	    OFF(repo.s3_secret_key_file), 0, 0, NULL, 0 },
	{ "repository", "s3_session_token_file", T_PATH,
	    OFF(repo.s3_session_token_file), 0, 0, NULL, 0 },
	{ "repository", "s3_transfers", T_UINT, OFF(repo.s3_transfers), 1, 64,
	    NULL, 0 },
	{ "repository", "cache_dir", T_PATH, OFF(repo.cache_dir), 0, 0, NULL,
	    0 },
	{ "repository", "cache_max_age", T_DUR, OFF(repo.cache_max_age), 0,
	    365 * MS_D, NULL, 0 },
	{ "repository", "cache_sample", T_UINT, OFF(repo.cache_sample), 0,
	    1000000, NULL, 0 },
	{ "repository", "lock_timeout", T_DUR, OFF(repo.lock_timeout), 0,
	    MS_D, NULL, 0 },
	{ "repository", "lock_stale", T_DUR, OFF(repo.lock_stale), 2 * MS_S,
	    MS_D, NULL, 0 },
	{ "repository", "s3_ca_file", T_PATH, OFF(repo.s3_ca_file), 0, 0,
	    NULL, 0 },
	{ "repository", "s3_tls_verify", T_BOOL, OFF(repo.s3_tls_verify), 0,
	    0, NULL, 0 },
	{ "repository", "s3_object_lock_days", T_UINT,
	    OFF(repo.s3_object_lock_days), 0, 36500, NULL, 0 },
	{ "repository", "s3_timeout", T_DUR, OFF(repo.s3_timeout), MS_S,
	    MS_H, NULL, 0 },
	{ "repository", "s3_object_lock_mode", T_ENUM,
	    OFF(repo.s3_object_lock_mode), 0, 0, lock_mode_names, 0 },

	{ "backup", "workers", T_UINT, OFF(backup.workers), 0, 256, NULL, 0 },
	{ "backup", "sample_points", T_UINT, OFF(backup.sample_points), 0,
	    1000000, NULL, 0 },
	{ "backup", "type", T_ENUM, OFF(backup.type), 0, 0, backup_type_names,
	    0 },
	{ "backup", "content_hash", T_BOOL, OFF(backup.content_hash), 0, 0,
	    NULL, 0 },
	{ "backup", "node_parallelism", T_UINT, OFF(backup.node_parallelism),
	    0, 64, NULL, 0 },

	{ "retention", "keep_last", T_UINT, OFF(retention.keep_last), 0,
	    KEEPMAX, NULL, K_PRESET },
	{ "retention", "keep_hourly", T_UINT, OFF(retention.keep_hourly), 0,
	    KEEPMAX, NULL, K_PRESET },
	{ "retention", "keep_daily", T_UINT, OFF(retention.keep_daily), 0,
	    KEEPMAX, NULL, K_PRESET },
	{ "retention", "keep_weekly", T_UINT, OFF(retention.keep_weekly), 0,
	    KEEPMAX, NULL, K_PRESET },
	{ "retention", "keep_monthly", T_UINT, OFF(retention.keep_monthly), 0,
	    KEEPMAX, NULL, K_PRESET },
	{ "retention", "keep_yearly", T_UINT, OFF(retention.keep_yearly), 0,
	    KEEPMAX, NULL, K_PRESET },
	{ "retention", "keep_within", T_DUR, OFF(retention.keep_within), 0,
	    3650 * MS_D, NULL, K_PRESET },

	{ "objectives", "rpo", T_DUR, OFF(objectives.rpo), MS_S, 365 * MS_D,
	    NULL, K_PRESET },
	{ "objectives", "rto", T_DUR, OFF(objectives.rto), MS_S, 365 * MS_D,
	    NULL, K_PRESET },

	{ "drill", "url", T_URL, OFF(drill.url), 0, 0, NULL, K_SLASH },
	{ "drill", "nodes", T_NODES, OFF(drill.nodes), 0, 0, NULL, K_SLASH },
	{ "drill", "api_key_file", T_PATH, OFF(drill.api_key_file), 0, 0, NULL,
	    0 },
	{ "drill", "validation", T_ENUM, OFF(drill.validation), 0, 0,
	    validation_names, 0 },
	{ "drill", "sample_points", T_UINT, OFF(drill.sample_points), 0,
	    1000000, NULL, 0 },
	{ "drill", "green_wait", T_DUR, OFF(drill.green_wait), 0, MS_D, NULL,
	    0 },

	{ "notify", "webhook_url", T_URL, OFF(notify.webhook_url), 0, 0, NULL,
	    K_SECRET },
	{ "notify", "slack_webhook_url", T_URL, OFF(notify.slack_webhook_url),
	    0, 0, NULL, K_SECRET },
	{ "notify", "pagerduty_routing_key_file", T_PATH,
	    OFF(notify.pagerduty_routing_key_file), 0, 0, NULL, 0 },
	{ "notify", "min_interval", T_DUR, OFF(notify.min_interval), 0,
	    30 * MS_D, NULL, 0 },
	{ "notify", "maintenance", T_WINDOWS, OFF(notify.maintenance), 0, 0,
	    NULL, 0 },
	{ "notify", "timeout", T_DUR, OFF(notify.timeout), MS_S, 10 * MS_M,
	    NULL, 0 },
	{ "notify", "pagerduty_url", T_URL, OFF(notify.pagerduty_url), 0, 0,
	    NULL, 0 },
	{ "notify", "state_dir", T_PATH, OFF(notify.state_dir), 0, 0, NULL,
	    0 },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= sizeof(((struct qbk_config *)0)->explicit_),
    "explicit_ too small");

/* Values of the settings that [environment] preset governs. */
static const struct preset {
	int keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly,
	    keep_yearly;
	int64_t keep_within, rpo, rto;
} presets[] = {
	[QBK_CONFIG_PRESET_NONE] = { -1, -1, -1, -1, -1, -1, -1, -1, -1 },
	[QBK_CONFIG_PRESET_DEVELOPMENT] = { 6, -1, 7, -1, -1, -1, -1,
	    4 * MS_H, 30 * MS_M },
	[QBK_CONFIG_PRESET_STAGING] = { 12, -1, 14, 4, -1, -1, -1, 2 * MS_H,
	    15 * MS_M },
	[QBK_CONFIG_PRESET_PRODUCTION] = { -1, 48, 30, 12, 12, 3, -1,
	    1 * MS_H, 10 * MS_M },
};

/* Parse state shared by the reader and the handler. */
struct pctx {
	struct qbk_config *cfg;
	const char *name;	/* file name for messages */
	const char *base;	/* folder for relative paths, or NULL */
	const char *p;		/* start of the next line */
	int lineno;		/* line handed to inih last */
	int err_line;		/* line of the first error, 0 if none */
	struct qbk_err *err;
	int failed;		/* an error was found (err may be NULL) */
	int keyline[NKEYS];	/* line where each key was set, 0 if not */
	struct qbk_buf stash;	/* value of an over-long line */
	int stash_line;
};

/* ---- small helpers ----------------------------------------------------- */

static int
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f';
}

/* A list of nodes is a pair of members: char **nodes, then size_t
 * nnodes right after it; the key's offset names the first. */
struct nodes_slot {
	char ***v;
	size_t *n;
};

_Static_assert(offsetof(struct qbk_config, qdrant.nnodes) ==
    offsetof(struct qbk_config, qdrant.nodes) + sizeof(char **),
    "[qdrant] nodes: count right after the list");
_Static_assert(offsetof(struct qbk_config, drill.nnodes) ==
    offsetof(struct qbk_config, drill.nodes) + sizeof(char **),
    "[drill] nodes: count right after the list");

static struct nodes_slot
nodes_at(struct qbk_config *cfg, const struct key *k)
{
	struct nodes_slot ns;
	char *base = (char *)cfg + k->off;

	ns.v = (char ***)(void *)base;
	ns.n = (size_t *)(void *)(base + sizeof(char **));
	return ns;
}

static void *
field(struct qbk_config *cfg, const struct key *k)
{
	return (char *)cfg + k->off;
}

static const void *
cfield(const struct qbk_config *cfg, const struct key *k)
{
	return (const char *)cfg + k->off;
}

static void
put_int(struct qbk_config *cfg, const struct key *k, int v)
{
	memcpy(field(cfg, k), &v, sizeof(v));
}

static int
get_int(const struct qbk_config *cfg, const struct key *k)
{
	int v;

	memcpy(&v, cfield(cfg, k), sizeof(v));
	return v;
}

static void
put_str(struct qbk_config *cfg, const struct key *k, char *s)
{
	char **slot = field(cfg, k);

	free(*slot);
	*slot = s;
}

static const struct key *
find_key(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static const struct key *
find_key_off(size_t off)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].off == off)
			return &keys[i];
	return NULL;
}

static int
is_explicit(const struct qbk_config *cfg, size_t off)
{
	const struct key *k = find_key_off(off);

	return k != NULL && cfg->explicit_[k - keys] != 0;
}

static int
is_section(const char *name)
{
	size_t i;

	for (i = 0; sections[i] != NULL; i++)
		if (strcmp(sections[i], name) == 0)
			return 1;
	return 0;
}

/* Optimal string alignment distance, for "did you mean" hints. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t d[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], v;

			v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* The closest of the NULL-terminated ${names} to ${s}, if a likely typo. */
static const char *
closest(const char *s, const char *const *names)
{
	const char *best = NULL;
	size_t bestd = 3, i, dd;

	for (i = 0; names[i] != NULL; i++) {
		dd = distance(s, names[i]);
		if (dd < bestd && dd < strlen(names[i])) {
			bestd = dd;
			best = names[i];
		}
	}
	return best;
}

static void
hint_key(struct qbk_err *err, const char *section, const char *name)
{
	const char *best = NULL;
	size_t bestd = 3, i, dd;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0 && section != NULL &&
		    strcmp(keys[i].section, section) != 0) {
			qbk_err_hint(err, "'%s' belongs in [%s]", name,
			    keys[i].section);
			return;
		}
	for (i = 0; i < NKEYS; i++) {
		if (section != NULL && strcmp(keys[i].section, section) != 0)
			continue;
		dd = distance(name, keys[i].name);
		if (dd < bestd && dd < strlen(keys[i].name)) {
			bestd = dd;
			best = keys[i].name;
		}
	}
	if (best != NULL)
		qbk_err_hint(err, "did you mean '%s'?", best);
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = qbk_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ${base}/${path} for a relative ${path} and a ${base}, else a copy. */
static char *
resolve_path(const char *path, const char *base)
{
	struct qbk_buf b = QBK_BUF_INIT;

	if (base == NULL || path[0] == '/')
		return qbk_xstrdup(path);
	qbk_buf_addf(&b, "%s/%s", base, path);
	return qbk_buf_detach(&b, NULL);
}

static int
has_ctrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* ---- value parsers ---------------------------------------------------- */

static const char dur_expected[] =
    "expected a duration like 30s, 15m, 1h, 2d";

int
qbk_config_parse_duration(const char *s, int64_t *ms, struct qbk_err *err)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {
		{ "w", MS_W }, { "d", MS_D }, { "h", MS_H }, { "ms", 1 },
		{ "m", MS_M }, { "s", MS_S },
	};
	/* Rank of each unit, largest first, to refuse "30m1h" and "1m1m". */
	static const int rank[] = { 0, 1, 2, 5, 3, 4 };
	int64_t total = 0;
	const char *p = s;
	int last = -1;

	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (*p == '\0')
		return qbk_err_set(err, QBK_E_CONFIG, "%s", dur_expected);
	while (*p != '\0') {
		uint64_t n = 0;
		size_t u;

		if (!isdigit((unsigned char)*p))
			return qbk_err_set(err, QBK_E_CONFIG, "%s",
			    dur_expected);
		for (; isdigit((unsigned char)*p); p++) {
			if (n > (UINT64_MAX - 9) / 10)
				return qbk_err_set(err, QBK_E_CONFIG,
				    "duration is too long");
			n = n * 10 + (uint64_t)(*p - '0');
		}
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (strncmp(p, units[u].unit,
			    strlen(units[u].unit)) == 0)
				break;
		if (u == sizeof(units) / sizeof(units[0]) || rank[u] <= last)
			return qbk_err_set(err, QBK_E_CONFIG, "%s",
			    dur_expected);
		last = rank[u];
		p += strlen(units[u].unit);
		if (n > (uint64_t)(INT64_MAX / units[u].ms) ||
		    (int64_t)n * units[u].ms > INT64_MAX - total)
			return qbk_err_set(err, QBK_E_CONFIG,
			    "duration is too long");
		total += (int64_t)n * units[u].ms;
	}
	*ms = total;
	return 0;
}

char *
qbk_config_format_duration(int64_t ms, char *buf, size_t size)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {
		{ "w", MS_W }, { "d", MS_D }, { "h", MS_H }, { "m", MS_M },
		{ "s", MS_S }, { "ms", 1 },
	};
	uint64_t v;
	size_t i, len = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	if (ms < 0) {
		snprintf(buf, size, "-");
		len = strlen(buf);
		v = (uint64_t)(-(ms + 1)) + 1;
	} else
		v = (uint64_t)ms;
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && len < size; i++) {
		uint64_t n = v / (uint64_t)units[i].ms;

		/* Weeks only for whole weeks: "8d" reads better than "1w1d". */
		if (n == 0 || (units[i].ms == MS_W && v % (uint64_t)MS_W != 0))
			continue;
		v -= n * (uint64_t)units[i].ms;
		snprintf(buf + len, size - len, "%llu%s",
		    (unsigned long long)n, units[i].unit);
		len += strlen(buf + len);
	}
	return buf;
}

int
qbk_config_parse_bool(const char *s, int *out, struct qbk_err *err)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return qbk_err_set(err, QBK_E_CONFIG,
	    "expected yes or no (or true/false, on/off, 1/0)");
}

int
qbk_config_parse_uint(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out, struct qbk_err *err)
{
	unsigned long long v = 0;
	const char *p;

	for (p = s; isdigit((unsigned char)*p); p++) {
		if (v > (ULLONG_MAX - 9) / 10) {
			v = ULLONG_MAX;
			break;
		}
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (p == s || (*p != '\0' && v != ULLONG_MAX) || v < min || v > max)
		return qbk_err_set(err, QBK_E_CONFIG,
		    "expected a number from %llu to %llu", min, max);
	*out = v;
	return 0;
}

/* ---- maintenance windows ---------------------------------------------- */

static const char *const day_names[] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
	"saturday"
};

static const char win_expected[] =
    "expected windows like 'Sun 02:00-04:00' or 'daily 01:00-01:30', "
    "separated by commas";

static int
parse_day(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < 7; i++)
		if ((n == 3 || n == strlen(day_names[i])) &&
		    strncasecmp(s, day_names[i], n) == 0)
			return (int)i;
	return -1;
}

static int
parse_days(const char *s, size_t n, unsigned *days, struct qbk_err *err)
{
	const char *dash = memchr(s, '-', n);
	int a, b;

	if (n == 5 && strncasecmp(s, "daily", 5) == 0) {
		*days = 0x7f;
		return 0;
	}
	if (n == 8 && strncasecmp(s, "weekdays", 8) == 0) {
		*days = 0x3e;
		return 0;
	}
	if (n == 8 && strncasecmp(s, "weekends", 8) == 0) {
		*days = 0x41;
		return 0;
	}
	if (dash == NULL) {
		if ((a = parse_day(s, n)) == -1)
			goto bad;
		*days = 1u << a;
		return 0;
	}
	if ((a = parse_day(s, (size_t)(dash - s))) == -1 ||
	    (b = parse_day(dash + 1, n - (size_t)(dash - s) - 1)) == -1)
		goto bad;
	*days = 0;
	for (;;) {
		*days |= 1u << a;
		if (a == b)
			break;
		a = (a + 1) % 7;
	}
	return 0;
bad:
	return qbk_err_set(err, QBK_E_CONFIG,
	    "unknown day '%.*s': expected daily, weekdays, weekends, a day "
	    "like Sun or a range like Mon-Fri", (int)n, s);
}

static int
parse_hhmm(const char *s, size_t n, int *min)
{
	int h, m;

	if (n == 4 && isdigit((unsigned char)s[0]) && s[1] == ':' &&
	    isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3])) {
		h = s[0] - '0';
		m = (s[2] - '0') * 10 + (s[3] - '0');
	} else if (n == 5 && isdigit((unsigned char)s[0]) &&
	    isdigit((unsigned char)s[1]) && s[2] == ':' &&
	    isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4])) {
		h = (s[0] - '0') * 10 + (s[1] - '0');
		m = (s[3] - '0') * 10 + (s[4] - '0');
	} else
		return -1;
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*min = h * 60 + m;
	return 0;
}

static int
parse_window(const char *s, size_t n, struct qbk_config_window *w,
    struct qbk_err *err)
{
	const char *tok[4];
	size_t len[4], ntok = 0, i;
	const char *dash;

	/* Split on white space into at most 3 words. */
	for (i = 0; i < n;) {
		if (is_blank(s[i])) {
			i++;
			continue;
		}
		if (ntok == 4)
			break;
		tok[ntok] = s + i;
		while (i < n && !is_blank(s[i]))
			i++;
		len[ntok] = (size_t)(s + i - tok[ntok]);
		ntok++;
	}
	if (ntok < 2 || ntok > 3)
		return qbk_err_set(err, QBK_E_CONFIG, "%s", win_expected);
	memset(w, 0, sizeof(*w));
	if (parse_days(tok[0], len[0], &w->days, err) != 0)
		return -1;
	dash = memchr(tok[1], '-', len[1]);
	if (dash == NULL || parse_hhmm(tok[1], (size_t)(dash - tok[1]),
	    &w->start) != 0 || parse_hhmm(dash + 1,
	    len[1] - (size_t)(dash - tok[1]) - 1, &w->end) != 0 ||
	    w->start == 1440)
		return qbk_err_set(err, QBK_E_CONFIG,
		    "bad time range '%.*s': expected HH:MM-HH:MM, from 00:00 "
		    "to 24:00", (int)len[1], tok[1]);
	if (w->start == w->end || (w->start == 0 && w->end == 0))
		return qbk_err_set(err, QBK_E_CONFIG,
		    "empty time range '%.*s'", (int)len[1], tok[1]);
	if (w->end == 0)
		w->end = 1440;
	if (ntok == 3) {
		if (len[2] == 3 && strncasecmp(tok[2], "utc", 3) == 0)
			w->local = 0;
		else if (len[2] == 5 && strncasecmp(tok[2], "local", 5) == 0)
			w->local = 1;
		else
			return qbk_err_set(err, QBK_E_CONFIG,
			    "unknown time zone '%.*s': expected UTC or local",
			    (int)len[2], tok[2]);
	}
	return 0;
}

int
qbk_config_parse_windows(const char *s, struct qbk_config_window **out,
    size_t *np, struct qbk_err *err)
{
	struct qbk_config_window *w = NULL;
	size_t n = 0;
	const char *p = s, *comma;

	do {
		size_t len;

		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		w = qbk_xrealloc(w, (n + 1) * sizeof(*w));
		if (parse_window(p, len, &w[n], err) != 0) {
			free(w);
			return -1;
		}
		n++;
		if (comma != NULL)
			p = comma + 1;
	} while (comma != NULL);
	*out = w;
	*np = n;
	return 0;
}

int
qbk_config_in_window(const struct qbk_config_window *w, size_t n, time_t t)
{
	struct tm tm_utc, tm_local, *tm;
	int have_utc = 0, have_local = 0, m, day, prev;
	size_t i;

	for (i = 0; i < n; i++) {
		if (w[i].local) {
			if (!have_local && localtime_r(&t, &tm_local) == NULL)
				continue;
			have_local = 1;
			tm = &tm_local;
		} else {
			if (!have_utc && gmtime_r(&t, &tm_utc) == NULL)
				continue;
			have_utc = 1;
			tm = &tm_utc;
		}
		m = tm->tm_hour * 60 + tm->tm_min;
		day = tm->tm_wday;
		prev = (day + 6) % 7;
		if (w[i].start < w[i].end) {
			if ((w[i].days & (1u << day)) && m >= w[i].start &&
			    m < w[i].end)
				return 1;
		} else {
			/* Crosses midnight: the tail is on the next day. */
			if ((w[i].days & (1u << day)) && m >= w[i].start)
				return 1;
			if ((w[i].days & (1u << prev)) && m < w[i].end)
				return 1;
		}
	}
	return 0;
}

int
qbk_config_in_maintenance(const struct qbk_config *cfg, time_t t)
{
	return qbk_config_in_window(cfg->notify.windows, cfg->notify.nwindows,
	    t);
}

/* ---- typed setters ---------------------------------------------------- */

/* Check an http(s) URL; returns a copy (trailing '/' dropped if asked). */
static char *
parse_url(const char *s, size_t n, int trim, struct qbk_err *err)
{
	size_t skip;

	if (n >= 7 && strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else if (n >= 8 && strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	else
		skip = 0;
	if (skip == 0 || n == skip || s[skip] == '/' || s[skip] == ':') {
		qbk_err_set(err, QBK_E_CONFIG,
		    "expected an http:// or https:// URL");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) {
			qbk_err_set(err, QBK_E_CONFIG,
			    "a URL cannot hold spaces or control characters");
			return NULL;
		}
	while (trim && n > skip + 1 && s[n - 1] == '/')
		n--;
	return xstrndup(s, n);
}

static void
free_nodes(char **nodes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(nodes[i]);
	free(nodes);
}

static int
parse_nodes(const char *s, char ***out, size_t *np, struct qbk_err *err)
{
	char **nodes = NULL;
	size_t n = 0, i;
	const char *p = s;

	for (;;) {
		const char *start;
		char *url;

		while (*p == ',' || is_blank((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ',' && !is_blank((unsigned char)*p))
			p++;
		if ((url = parse_url(start, (size_t)(p - start), 1,
		    err)) == NULL) {
			qbk_err_prefix(err, "node '%.*s'", (int)(p - start),
			    start);
			goto fail;
		}
		for (i = 0; i < n; i++)
			if (strcmp(nodes[i], url) == 0) {
				qbk_err_set(err, QBK_E_CONFIG,
				    "node '%s' is listed twice", url);
				free(url);
				goto fail;
			}
		nodes = qbk_xrealloc(nodes, (n + 1) * sizeof(*nodes));
		nodes[n++] = url;
	}
	if (n == 0) {
		qbk_err_set(err, QBK_E_CONFIG, "expected one or more "
		    "http:// or https:// URLs separated by commas or spaces");
		goto fail;
	}
	*out = nodes;
	*np = n;
	return 0;
fail:
	free_nodes(nodes, n);
	return -1;
}

struct location {
	char *text;
	int is_s3;
	char *bucket, *prefix;
};

static int
parse_location(const char *s, const char *base, struct location *loc,
    struct qbk_err *err)
{
	struct qbk_store_loc sl;

	memset(loc, 0, sizeof(*loc));
	if (*s == '\0')
		return qbk_err_set(err, QBK_E_CONFIG,
		    "expected a path or s3://bucket/prefix");
	if (has_ctrl(s))
		return qbk_err_set(err, QBK_E_CONFIG,
		    "a location cannot hold control characters");
	if (qbk_store_location_parse(s, &sl, err) != 0)
		return -1;
	loc->is_s3 = !sl.is_path;
	loc->bucket = sl.bucket;
	loc->prefix = sl.prefix;
	if (!sl.is_path) {
		loc->text = sl.text;
		return 0;
	}
	loc->text = resolve_path(sl.text, base);
	free(sl.text);
	return 0;
}

static int
parse_compression(const char *s, int *kind, int *level, struct qbk_err *err)
{
	unsigned long long v;

	if (strcmp(s, "auto") == 0) {
		*kind = QBK_CONFIG_COMPRESSION_AUTO;
		*level = 3;
		return 0;
	}
	if (strcmp(s, "none") == 0) {
		*kind = QBK_CONFIG_COMPRESSION_NONE;
		*level = 0;
		return 0;
	}
	if (strcmp(s, "zstd") == 0) {
		*kind = QBK_CONFIG_COMPRESSION_ZSTD;
		*level = 3;
		return 0;
	}
	if (strncmp(s, "zstd:", 5) == 0 &&
	    qbk_config_parse_uint(s + 5, 1, 19, &v, NULL) == 0) {
		*kind = QBK_CONFIG_COMPRESSION_ZSTD;
		*level = (int)v;
		return 0;
	}
	return qbk_err_set(err, QBK_E_CONFIG,
	    "expected auto, none, zstd or zstd:N with N from 1 to 19");
}

static int
parse_enum(const char *s, const char *const *names, int *out,
    struct qbk_err *err)
{
	struct qbk_buf b = QBK_BUF_INIT;
	size_t i, n;

	for (n = 0; names[n] != NULL; n++)
		if (strcasecmp(s, names[n]) == 0) {
			*out = (int)n;
			return 0;
		}
	qbk_buf_addstr(&b, "expected ");
	for (i = 0; i < n; i++)
		qbk_buf_addf(&b, "%s%s", i == 0 ? "" : i + 1 == n ? " or " :
		    ", ", names[i]);
	qbk_err_set(err, QBK_E_CONFIG, "%s", b.buf);
	qbk_buf_release(&b);
	return -1;
}

/* The node list ${s} into the list field of ${k}. */
static int
set_nodes(struct qbk_config *cfg, const struct key *k, const char *s,
    struct qbk_err *err)
{
	struct nodes_slot ns = nodes_at(cfg, k);
	char **nodes;
	size_t n;

	if (parse_nodes(s, &nodes, &n, err) != 0)
		return -1;
	free_nodes(*ns.v, *ns.n);
	*ns.v = nodes;
	*ns.n = n;
	return 0;
}

/* The duration ${s}, within the bounds of ${k}, into its field. */
static int
set_duration(struct qbk_config *cfg, const struct key *k, const char *s,
    struct qbk_err *err)
{
	int64_t ms;

	if (qbk_config_parse_duration(s, &ms, err) != 0)
		return -1;
	if (ms < k->min || ms > k->max) {
		char a[48], b[48];

		return qbk_err_set(err, QBK_E_CONFIG,
		    "expected a duration from %s to %s",
		    qbk_config_format_duration(k->min, a, sizeof(a)),
		    qbk_config_format_duration(k->max, b, sizeof(b)));
	}
	memcpy(field(cfg, k), &ms, sizeof(ms));
	return 0;
}

/* The repository location ${s} (relative to ${base}) and its S3 parts. */
static int
set_location(struct qbk_config *cfg, const char *s, const char *base,
    struct qbk_err *err)
{
	struct location loc;

	if (parse_location(s, base, &loc, err) != 0)
		return -1;
	free(cfg->repo.location);
	free(cfg->repo.s3_bucket);
	free(cfg->repo.s3_prefix);
	cfg->repo.location = loc.text;
	cfg->repo.is_s3 = loc.is_s3;
	cfg->repo.s3_bucket = loc.bucket;
	cfg->repo.s3_prefix = loc.prefix;
	return 0;
}

/* The time windows ${s}, parsed, and ${s} itself as the key's text: on
 * success ${cfg} owns ${s}. */
static int
set_windows(struct qbk_config *cfg, const struct key *k, char *s,
    struct qbk_err *err)
{
	struct qbk_config_window *w;
	size_t n;

	if (qbk_config_parse_windows(s, &w, &n, err) != 0)
		return -1;
	free(cfg->notify.windows);
	cfg->notify.windows = w;
	cfg->notify.nwindows = n;
	put_str(cfg, k, s);
	return 0;
}

/*
 * Parse ${value} for ${k} and store it in ${cfg}; ${cfg} is untouched on
 * failure.  Messages: "bad value 'v' for 'key': <why>".
 */
static int
set_value(struct qbk_config *cfg, const struct key *k, const char *value,
    const char *base, struct qbk_err *err)
{
	unsigned long long u;
	size_t n;
	char *s;
	int v = 0, lvl = 0;

	/* One pair of surrounding quotes is not part of the value. */
	n = strlen(value);
	if (n >= 2 && (value[0] == '"' || value[0] == '\'') &&
	    value[n - 1] == value[0])
		s = xstrndup(value + 1, n - 2);
	else
		s = qbk_xstrdup(value);

	switch (k->type) {
	case T_STR:
		if (*s == '\0' || has_ctrl(s)) {
			qbk_err_set(err, QBK_E_CONFIG, "expected a non-empty "
			    "value without control characters");
			goto bad;
		}
		put_str(cfg, k, s);
		return 0;
	case T_PATH:
		if (*s == '\0' || has_ctrl(s)) {
			qbk_err_set(err, QBK_E_CONFIG, "expected a path");
			goto bad;
		}
		put_str(cfg, k, resolve_path(s, base));
		break;
	case T_URL: {
		char *url = parse_url(s, strlen(s), k->flags & K_SLASH, err);

		if (url == NULL)
			goto bad;
		put_str(cfg, k, url);
		break;
	}
	case T_NODES:
		if (set_nodes(cfg, k, s, err) != 0)
			goto bad;
		break;
	case T_DUR:
		if (set_duration(cfg, k, s, err) != 0)
			goto bad;
		break;
	case T_UINT:
		if (qbk_config_parse_uint(s, (unsigned long long)k->min,
		    (unsigned long long)k->max, &u, err) != 0)
			goto bad;
		put_int(cfg, k, (int)u);
		break;
	case T_BOOL:
		if (qbk_config_parse_bool(s, &v, err) != 0)
			goto bad;
		put_int(cfg, k, v);
		break;
	case T_ENUM:
	case T_PRESET:
		if (parse_enum(s, k->names, &v, err) != 0)
			goto bad;
		put_int(cfg, k, v);
		break;
	case T_COMPRESSION:
		if (parse_compression(s, &v, &lvl, err) != 0)
			goto bad;
		cfg->repo.compression = (enum qbk_config_compression)v;
		cfg->repo.compression_level = lvl;
		break;
	case T_LOCATION:
		if (set_location(cfg, s, base, err) != 0)
			goto bad;
		break;
	case T_WINDOWS:
		if (set_windows(cfg, k, s, err) != 0)
			goto bad;
		return 0;	/* ${s} is the stored text now */
	}
	free(s);
	return 0;
bad:
	if (k->flags & K_SECRET)
		qbk_err_prefix(err, "bad value for '%s'", k->name);
	else
		qbk_err_prefix(err, "bad value '%s' for '%s'", value, k->name);
	if (strstr(value, " #") != NULL || strstr(value, "\t#") != NULL)
		qbk_err_hint(err, "a comment after a value starts with ';' "
		    "after a space, not '#'");
	free(s);
	return -1;
}

/* Fill what the preset governs and was not given; derive the rest. */
static void
apply_derived(struct qbk_config *cfg)
{
	const struct preset *p = &presets[cfg->environment.preset];

#define PRESET(member, value) \
	if (!is_explicit(cfg, OFF(member))) \
		cfg->member = (value)
	PRESET(retention.keep_last, p->keep_last);
	PRESET(retention.keep_hourly, p->keep_hourly);
	PRESET(retention.keep_daily, p->keep_daily);
	PRESET(retention.keep_weekly, p->keep_weekly);
	PRESET(retention.keep_monthly, p->keep_monthly);
	PRESET(retention.keep_yearly, p->keep_yearly);
	PRESET(retention.keep_within, p->keep_within);
	PRESET(objectives.rpo, p->rpo);
	PRESET(objectives.rto, p->rto);
#undef PRESET

	/* url defaults to the first node. */
	if (!is_explicit(cfg, OFF(qdrant.url))) {
		free(cfg->qdrant.url);
		cfg->qdrant.url = qbk_xstrdup(cfg->qdrant.nnodes > 0 ?
		    cfg->qdrant.nodes[0] : QBK_CONFIG_DEFAULT_URL);
	}
	/* Path-style addressing is what S3-compatible stores expect. */
	if (!is_explicit(cfg, OFF(repo.s3_uri_style)))
		cfg->repo.s3_uri_style = cfg->repo.s3_endpoint != NULL ?
		    QBK_CONFIG_URI_STYLE_PATH : QBK_CONFIG_URI_STYLE_HOST;
}

/* ---- public set-up ---------------------------------------------------- */

void
qbk_config_init(struct qbk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->environment.preset = QBK_CONFIG_PRESET_NONE;
	cfg->qdrant.url = qbk_xstrdup(QBK_CONFIG_DEFAULT_URL);
	cfg->qdrant.timeout = 5 * MS_M;
	cfg->qdrant.connect_timeout = 10 * MS_S;
	cfg->qdrant.stall_timeout = MS_M;
	cfg->qdrant.retries = 5;
	cfg->qdrant.retry_delay = MS_S;
	cfg->qdrant.tls_verify = 1;
	cfg->qdrant.priority = QBK_CONFIG_PRIORITY_SNAPSHOT;
	cfg->repo.compression = QBK_CONFIG_COMPRESSION_AUTO;
	cfg->repo.compression_level = 3;
	cfg->repo.encryption = QBK_CONFIG_ENCRYPTION_AUTO;
	cfg->repo.s3_region = qbk_xstrdup("us-east-1");
	cfg->repo.s3_uri_style = QBK_CONFIG_URI_STYLE_HOST;
	cfg->repo.s3_transfers = 4;
	cfg->repo.s3_tls_verify = 1;
	cfg->repo.s3_timeout = MS_M;
	cfg->repo.cache_max_age = MS_D;
	cfg->repo.cache_sample = 128;
	cfg->repo.lock_timeout = 0;
	cfg->repo.lock_stale = 30 * 60 * MS_S;
	cfg->backup.workers = 0;
	cfg->backup.sample_points = 100;
	cfg->backup.node_parallelism = 0;
	cfg->qdrant.replica_timeout = 120 * MS_S;
	cfg->backup.type = QBK_CONFIG_BACKUP_INCREMENTAL;
	cfg->drill.validation = QBK_CONFIG_VALIDATION_COMPREHENSIVE;
	cfg->drill.sample_points = 100;
	cfg->drill.green_wait = 60 * 1000;
	cfg->notify.min_interval = MS_H;
	cfg->notify.timeout = 10 * MS_S;
	cfg->notify.pagerduty_url = qbk_xstrdup(
	    "https://events.pagerduty.com/v2/enqueue");
	apply_derived(cfg);
}

void
qbk_config_release(struct qbk_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		switch (keys[i].type) {
		case T_STR:
		case T_PATH:
		case T_URL:
		case T_LOCATION:
		case T_WINDOWS:
			put_str(cfg, &keys[i], NULL);
			break;
		default:
			break;
		}
	free_nodes(cfg->qdrant.nodes, cfg->qdrant.nnodes);
	free_nodes(cfg->drill.nodes, cfg->drill.nnodes);
	free(cfg->repo.s3_bucket);
	free(cfg->repo.s3_prefix);
	free(cfg->notify.windows);
	free(cfg->file);
	memset(cfg, 0, sizeof(*cfg));
}

const char *
qbk_config_preset_name(enum qbk_config_preset p)
{
	if ((unsigned)p < sizeof(preset_names) / sizeof(preset_names[0]) - 1)
		return preset_names[p];
	return "none";
}

int
qbk_config_set(struct qbk_config *cfg, const char *section, const char *name,
    const char *value, struct qbk_err *err)
{
	const struct key *k = find_key(section, name);

	if (value == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "no value for '%s' in [%s]", name, section);
	if (!is_section(section)) {
		qbk_err_set(err, QBK_E_CONFIG, "unknown section [%s]",
		    section);
		return -1;
	}
	if (k == NULL) {
		qbk_err_set(err, QBK_E_CONFIG, "unknown key '%s' in [%s]", name,
		    section);
		hint_key(err, section, name);
		return -1;
	}
	if (set_value(cfg, k, value, NULL, err) != 0)
		return -1;
	cfg->explicit_[k - keys] = 1;
	apply_derived(cfg);
	return 0;
}

int
qbk_config_is_set(const struct qbk_config *cfg, const char *section,
    const char *name)
{
	const struct key *k = find_key(section, name);

	return k != NULL && cfg->explicit_[k - keys] != 0;
}

int
qbk_config_has_retention(const struct qbk_config *cfg)
{
	const struct qbk_config_retention *r = &cfg->retention;

	return r->keep_last >= 0 || r->keep_hourly >= 0 ||
	    r->keep_daily >= 0 || r->keep_weekly >= 0 ||
	    r->keep_monthly >= 0 || r->keep_yearly >= 0 ||
	    r->keep_within >= 0;
}

/* ---- the parser ------------------------------------------------------- */

/* Record the first error, at the current line: ${c}->err already holds
 * its message, without the location.  Returns 0 for inih. */
static int
fail_here(struct pctx *c)
{
	if (c->failed)
		return 0;
	qbk_err_prefix(c->err, "%s:%d", c->name, c->lineno);
	c->failed = 1;
	c->err_line = c->lineno;
	return 0;
}

/* Record the first error, at the current line, with this message. */
static int
fail(struct pctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct pctx *c, const char *fmt, ...)
{
	struct qbk_buf b = QBK_BUF_INIT;
	va_list ap;

	if (c->failed)
		return 0;
	va_start(ap, fmt);
	qbk_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	qbk_err_set(c->err, QBK_E_CONFIG, "%s", b.buf);
	qbk_buf_release(&b);
	return fail_here(c);
}

/* Check a "[section]" line; write "[name]\n" for inih into ${str}. */
static int
section_line(struct pctx *c, const char *s, size_t len, char *str, int num)
{
	const char *rb = memchr(s, ']', len), *name, *end, *rest;
	size_t n;

	if (rb == NULL)
		return fail(c, "syntax error: expected ']' at the end of "
		    "the section header");
	name = s + 1;
	end = rb;
	while (name < end && is_blank((unsigned char)*name))
		name++;
	while (end > name && is_blank((unsigned char)end[-1]))
		end--;
	n = (size_t)(end - name);
	for (rest = rb + 1; rest < s + len && is_blank((unsigned char)*rest);
	    rest++)
		;
	if (rest < s + len && *rest != ';' && *rest != '#')
		return fail(c, "syntax error: unexpected text after the "
		    "section header");
	{
		char *sec = xstrndup(name, n);
		int ok = is_section(sec);

		if (!ok) {
			const char *best = closest(sec, sections);

			fail(c, "unknown section [%s]", sec);
			if (best != NULL)
				qbk_err_hint(c->err, "did you mean [%s]?",
				    best);
			free(sec);
			return 0;
		}
		snprintf(str, (size_t)num, "[%s]\n", sec);
		free(sec);
	}
	return 1;
}

/* inih's find_chars_or_comment(): the first of ${chars}, or of an inline
 * ';' comment after white space; the end of ${s} if none. */
static const char *
find_sep(const char *s, const char *e, const char *chars)
{
	int was_space = 0;

	for (; s < e; s++) {
		if (chars != NULL && strchr(chars, *s) != NULL)
			break;
		if (was_space && *s == ';')
			break;
		was_space = is_blank((unsigned char)*s);
	}
	return s;
}

/*
 * A key line too long for inih's buffer: split it here as inih would, give
 * inih "name=" and keep the value for the handler.
 */
static int
long_line(struct pctx *c, const char *s, const char *e, char *str, int num)
{
	const char *sep = find_sep(s, e, "=:"), *ne = sep, *v, *ve;

	if (sep == e || *sep == ';')
		return fail(c, "syntax error: expected 'key = value', "
		    "'[section]' or a comment");
	while (ne > s && is_blank((unsigned char)ne[-1]))
		ne--;
	if ((size_t)(ne - s) + 3 > (size_t)num)
		return fail(c, "unknown key '%.*s'", (int)(ne - s), s);
	/* As inih: the comment is cut before white space is skipped. */
	ve = find_sep(sep + 1, e, NULL);
	for (v = sep + 1; v < ve && is_blank((unsigned char)*v); v++)
		;
	while (ve > v && is_blank((unsigned char)ve[-1]))
		ve--;
	qbk_buf_reset(&c->stash);
	qbk_buf_add(&c->stash, v, (size_t)(ve - v));
	c->stash_line = c->lineno;
	memcpy(str, s, (size_t)(ne - s));
	memcpy(str + (ne - s), "=\n", 3);
	return 1;
}

static char *
reader(char *str, int num, void *stream)
{
	struct pctx *c = stream;
	const char *s, *e, *next;
	size_t len;

	if (c->failed || *c->p == '\0')
		return NULL;
	if (num < 32) {
		/* Not inih as packaged: refuse rather than misparse. */
		fail(c, "inih's line buffer is too small (%d bytes)", num);
		return NULL;
	}
	s = c->p;
	if ((e = strchr(s, '\n')) != NULL)
		next = e + 1;
	else
		next = e = s + strlen(s);
	c->p = next;
	c->lineno++;
	if (c->lineno == 1 && e - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (s < e && is_blank((unsigned char)*s))
		s++;
	while (e > s && is_blank((unsigned char)e[-1]))
		e--;
	len = (size_t)(e - s);
	str[0] = '\0';
	if (len == 0 || *s == '#' || *s == ';')
		return str;
	if (*s == '[')
		return section_line(c, s, len, str, num) ? str : NULL;
	if (len + 2 > (size_t)num)
		return long_line(c, s, e, str, num) ? str : NULL;
	memcpy(str, s, len);
	memcpy(str + len, "\n", 2);
	return str;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct pctx *c = user;
	const struct key *k;
	size_t i;

	if (c->failed)
		return 0;
	if (value == NULL || *name == '\0')
		return fail(c, "syntax error: expected 'key = value', "
		    "'[section]' or a comment");
	if (c->stash_line == c->lineno)
		value = c->stash.buf;
	if (*section == '\0') {
		fail(c, "key '%s' is outside any section", name);
		for (i = 0; i < NKEYS; i++)
			if (strcmp(keys[i].name, name) == 0) {
				qbk_err_hint(c->err, "put it under [%s]",
				    keys[i].section);
				break;
			}
		return 0;
	}
	if ((k = find_key(section, name)) == NULL) {
		fail(c, "unknown key '%s' in [%s]", name, section);
		hint_key(c->err, section, name);
		return 0;
	}
	i = (size_t)(k - keys);
	if (c->keyline[i] != 0)
		return fail(c, "duplicate key '%s' in [%s] (first set on line "
		    "%d)", name, section, c->keyline[i]);
	if (set_value(c->cfg, k, value, c->base, c->err) != 0)
		return fail_here(c);
	c->keyline[i] = c->lineno;
	c->cfg->explicit_[i] = 1;
	return 1;
}

/* The line that holds the first NUL byte of ${text} (of length ${len}). */
static int
nul_line(const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len), *p;
	int line = 1;

	if (nul == NULL)
		return 0;
	for (p = text; p < nul; p++)
		if (*p == '\n')
			line++;
	return line;
}

static int
parse_text(struct qbk_config *cfg, const char *text, const char *name,
    const char *base, struct qbk_err *err)
{
	struct pctx c;
	const struct key *pf, *kf;
	int rc;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.name = name;
	c.base = base;
	c.p = text;
	c.err = err;
	qbk_buf_init(&c.stash);
	rc = ini_parse_stream(reader, &c, handler, &c);
	qbk_buf_release(&c.stash);
	if (rc == -2)
		return qbk_err_set(err, QBK_E_NOMEM,
		    "%s: out of memory while parsing", name);
	if (rc > 0 && (!c.failed || rc < c.err_line)) {
		/* inih's own complaint: a line it could not split. */
		qbk_err_set(err, QBK_E_CONFIG, "%s:%d: syntax error: expected "
		    "'key = value', '[section]' or a comment", name, rc);
		return -1;
	}
	if (c.failed || rc != 0) {
		if (!c.failed)
			qbk_err_set(err, QBK_E_CONFIG, "%s: cannot parse",
			    name);
		return -1;
	}
	pf = find_key("repository", "passphrase_file");
	kf = find_key("repository", "key_file");
	if (c.keyline[pf - keys] != 0 && c.keyline[kf - keys] != 0) {
		int a = c.keyline[pf - keys], b = c.keyline[kf - keys];

		qbk_err_set(err, QBK_E_CONFIG, "%s:%d: set either "
		    "'passphrase_file' (line %d) or 'key_file' (line %d) in "
		    "[repository], not both", name, a > b ? a : b, a, b);
		return -1;
	}
	apply_derived(cfg);
	return 0;
}

int
qbk_config_load_string(struct qbk_config *cfg, const char *text,
    const char *name, struct qbk_err *err)
{
	return parse_text(cfg, text, name != NULL ? name : "qbk.conf", NULL,
	    err);
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static int
apply_env(struct qbk_config *cfg, struct qbk_err *err)
{
	static const struct {
		const char *var, *section, *key;
	} vars[] = {
		{ "QBK_URL", "qdrant", "url" },
		{ "QBK_NODES", "qdrant", "nodes" },
		{ "QBK_REPOSITORY", "repository", "location" },
	};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = env(vars[i].var);

		if (v != NULL && qbk_config_set(cfg, vars[i].section,
		    vars[i].key, v, err) != 0) {
			qbk_err_prefix(err, "$%s", vars[i].var);
			return -1;
		}
	}
	/*
	 * Other nodes are another deployment: the file's url, which may name
	 * one of its old nodes, gives way to the first of them (runbooks that
	 * restore into a standby set $QBK_NODES).
	 */
	if (env("QBK_NODES") != NULL && env("QBK_URL") == NULL &&
	    cfg->qdrant.nnodes > 0 && qbk_config_set(cfg, "qdrant", "url",
	    cfg->qdrant.nodes[0], err) != 0)
		return -1;
	return 0;
}

/* Read the whole file ${path} into ${b}; 1 if it does not exist. */
static int
read_file(const char *path, int must_exist, struct qbk_buf *b,
    struct qbk_err *err)
{
	struct stat st;
	char chunk[8192];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT && !must_exist)
			return 1;
		return qbk_err_sys(err, QBK_E_CONFIG,
		    "cannot open configuration file '%s'", path);
	}
	if (fstat(fd, &st) != 0) {
		qbk_err_sys(err, QBK_E_IO, "cannot stat '%s'", path);
		goto err0;
	}
	if (S_ISDIR(st.st_mode)) {
		qbk_err_set(err, QBK_E_CONFIG,
		    "configuration file '%s' is a folder", path);
		goto err0;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			qbk_err_sys(err, QBK_E_IO, "cannot read '%s'", path);
			goto err0;
		}
		if (n == 0)
			break;
		if (b->len + (size_t)n > QBK_CONFIG_MAX_SIZE) {
			qbk_err_set(err, QBK_E_CONFIG, "configuration file "
			    "'%s' is larger than %d bytes", path,
			    QBK_CONFIG_MAX_SIZE);
			goto err0;
		}
		qbk_buf_add(b, chunk, (size_t)n);
	}
	close(fd);
	return 0;
err0:
	close(fd);
	return -1;
}

int
qbk_config_load(struct qbk_config *cfg, const char *path,
    struct qbk_err *err)
{
	struct qbk_buf text = QBK_BUF_INIT;
	const char *slash;
	char *base = NULL;
	int must_exist = 1, rc, line;

	if (path == NULL && (path = env("QBK_CONFIG")) == NULL) {
		path = QBK_CONFIG_DEFAULT_PATH;
		must_exist = 0;
	}
	if ((rc = read_file(path, must_exist, &text, err)) == -1)
		goto err0;
	if (rc == 1) {
		qbk_detail("no configuration file '%s': using defaults", path);
	} else {
		if ((line = nul_line(text.buf, text.len)) != 0) {
			qbk_err_set(err, QBK_E_CONFIG, "%s:%d: NUL byte: "
			    "this is not a text file", path, line);
			goto err0;
		}
		if ((slash = strrchr(path, '/')) != NULL)
			base = xstrndup(path, slash == path ? 1 :
			    (size_t)(slash - path));
		if (parse_text(cfg, text.buf, path, base, err) != 0)
			goto err1;
		free(cfg->file);
		cfg->file = qbk_xstrdup(path);
	}
	if (apply_env(cfg, err) != 0)
		goto err1;
	free(base);
	qbk_buf_release(&text);
	return 0;
err1:
	free(base);
err0:
	qbk_buf_release(&text);
	return -1;
}

/* ---- writing ---------------------------------------------------------- */

/* "name = value", quoted if reading would otherwise take quotes or white
 * space off the ends, or see a comment in " ;". */
static void
write_str(struct qbk_buf *out, const char *name, const char *v)
{
	size_t n = strlen(v);

	if ((n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) ||
	    v[0] == ';' ||
	    (n > 0 && (is_blank((unsigned char)v[0]) ||
	    is_blank((unsigned char)v[n - 1]))))
		qbk_buf_addf(out, "%s = \"%s\"\n", name, v);
	else
		qbk_buf_addf(out, "%s = %s\n", name, v);
}

void
qbk_config_write(const struct qbk_config *cfg, struct qbk_buf *out)
{
	const char *section = NULL;
	char d[48];
	size_t i, j;

	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const void *f = cfield(cfg, k);
		int64_t ms;
		int v;

		if (section == NULL || strcmp(section, k->section) != 0) {
			qbk_buf_addf(out, "%s[%s]\n", section == NULL ? "" :
			    "\n", k->section);
			section = k->section;
		}
		switch (k->type) {
		case T_STR:
		case T_PATH:
		case T_URL:
		case T_LOCATION:
		case T_WINDOWS:
			if (*(char *const *)f != NULL)
				write_str(out, k->name, *(char *const *)f);
			break;
		case T_NODES: {
			struct nodes_slot ns = nodes_at(
			    (struct qbk_config *)(uintptr_t)cfg, k);

			if (*ns.n == 0)
				break;
			qbk_buf_addf(out, "%s =", k->name);
			for (j = 0; j < *ns.n; j++)
				qbk_buf_addf(out, "%s %s", j == 0 ? "" : ",",
				    (*ns.v)[j]);
			qbk_buf_addch(out, '\n');
			break;
		}
		case T_DUR:
			memcpy(&ms, f, sizeof(ms));
			if (ms >= 0)
				qbk_buf_addf(out, "%s = %s\n", k->name,
				    qbk_config_format_duration(ms, d,
				    sizeof(d)));
			break;
		case T_UINT:
			if ((v = get_int(cfg, k)) >= 0)
				qbk_buf_addf(out, "%s = %d\n", k->name, v);
			break;
		case T_BOOL:
			qbk_buf_addf(out, "%s = %s\n", k->name,
			    get_int(cfg, k) ? "yes" : "no");
			break;
		case T_PRESET:
			if (get_int(cfg, k) == QBK_CONFIG_PRESET_NONE)
				break;
			/* FALLTHROUGH */
		case T_ENUM:
			qbk_buf_addf(out, "%s = %s\n", k->name,
			    k->names[get_int(cfg, k)]);
			break;
		case T_COMPRESSION:
			if (cfg->repo.compression == QBK_CONFIG_COMPRESSION_ZSTD)
				qbk_buf_addf(out, "%s = zstd:%d\n", k->name,
				    cfg->repo.compression_level);
			else
				qbk_buf_addf(out, "%s = %s\n", k->name,
				    cfg->repo.compression ==
				    QBK_CONFIG_COMPRESSION_NONE ? "none" :
				    "auto");
			break;
		}
	}
}

/* ---- secrets ---------------------------------------------------------- */

void
qbk_config_secret_release(struct qbk_config_secret *s)
{
	if (s == NULL)
		return;
	if (s->data != NULL) {
		sodium_memzero(s->data, s->len);
		free(s->data);
	}
	free(s->origin);
	s->data = NULL;
	s->len = 0;
	s->raw_key = 0;
	s->origin = NULL;
}

static void
secret_from_env(struct qbk_config_secret *out, const char *var,
    const char *v)
{
	out->len = strlen(v);
	out->data = qbk_xmalloc(out->len + 1);
	memcpy(out->data, v, out->len + 1);
	out->raw_key = 0;
	out->origin = qbk_xstrdup(var);
}

int
qbk_config_read_secret(const char *path, struct qbk_config_secret *out,
    struct qbk_err *err)
{
	size_t cap = QBK_CONFIG_SECRET_MAX + 3, len = 0;
	struct qbk_buf origin = QBK_BUF_INIT;
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return qbk_err_sys(err, QBK_E_CONFIG,
		    "cannot open secret file '%s'", path);
	if (fstat(fd, &st) != 0) {
		qbk_err_sys(err, QBK_E_IO, "cannot stat '%s'", path);
		goto err0;
	}
	if (S_ISDIR(st.st_mode)) {
		qbk_err_set(err, QBK_E_CONFIG, "secret file '%s' is a folder",
		    path);
		goto err0;
	}
	if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
		qbk_warn("secret file '%s' is readable by %s (mode %04o); "
		    "chmod 600 it", path, (st.st_mode & S_IROTH) != 0 ?
		    "everyone" : "its group", (unsigned)(st.st_mode & 07777));
	buf = qbk_xmalloc(cap);
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			qbk_err_sys(err, QBK_E_IO, "cannot read secret file "
			    "'%s'", path);
			goto err1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	/* One trailing newline is the editor's, not the secret's. */
	if (len < cap && len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	if (len > QBK_CONFIG_SECRET_MAX) {
		qbk_err_set(err, QBK_E_CONFIG, "secret file '%s' is larger "
		    "than %d bytes", path, QBK_CONFIG_SECRET_MAX);
		goto err1;
	}
	if (len == 0) {
		qbk_err_set(err, QBK_E_CONFIG, "secret file '%s' is empty",
		    path);
		goto err1;
	}
	qbk_config_secret_release(out);
	out->data = qbk_xmalloc(len + 1);
	memcpy(out->data, buf, len);
	out->data[len] = '\0';
	out->len = len;
	qbk_buf_addf(&origin, "file '%s'", path);
	out->origin = qbk_buf_detach(&origin, NULL);
	sodium_memzero(buf, cap);
	free(buf);
	close(fd);
	return 0;
err1:
	sodium_memzero(buf, cap);
	free(buf);
err0:
	close(fd);
	return -1;
}

int
qbk_config_api_key(const struct qbk_config *cfg,
    struct qbk_config_secret *out, struct qbk_err *err)
{
	const char *v;

	qbk_config_secret_release(out);
	if ((v = env("QBK_API_KEY")) != NULL) {
		secret_from_env(out, "QBK_API_KEY", v);
		return 0;
	}
	if (cfg->qdrant.api_key_file != NULL)
		return qbk_config_read_secret(cfg->qdrant.api_key_file, out,
		    err);
	return 0;
}

int
qbk_config_drill_api_key(const struct qbk_config *cfg,
    struct qbk_config_secret *out, struct qbk_err *err)
{
	const char *v;

	qbk_config_secret_release(out);
	if ((v = env("QBK_DRILL_API_KEY")) != NULL) {
		secret_from_env(out, "QBK_DRILL_API_KEY", v);
		return 0;
	}
	if (cfg->drill.api_key_file != NULL)
		return qbk_config_read_secret(cfg->drill.api_key_file, out,
		    err);
	return qbk_config_api_key(cfg, out, err);
}

int
qbk_config_repo_key(const struct qbk_config *cfg,
    struct qbk_config_secret *out, struct qbk_err *err)
{
	const char *v;

	qbk_config_secret_release(out);
	if ((v = env("QBK_PASSPHRASE")) != NULL) {
		secret_from_env(out, "QBK_PASSPHRASE", v);
		return 0;
	}
	if (cfg->repo.passphrase_file != NULL)
		return qbk_config_read_secret(cfg->repo.passphrase_file, out,
		    err);
	if (cfg->repo.key_file != NULL) {
		if (qbk_config_read_secret(cfg->repo.key_file, out, err) != 0)
			return -1;
		out->raw_key = 1;
	}
	return 0;
}

static int
one_credential(const char *var, const char *file,
    struct qbk_config_secret *out, struct qbk_err *err)
{
	const char *v;

	qbk_config_secret_release(out);
	if ((v = env(var)) != NULL) {
		secret_from_env(out, var, v);
		return 0;
	}
	if (file != NULL)
		return qbk_config_read_secret(file, out, err);
	return 0;
}

int
qbk_config_s3_credentials(const struct qbk_config *cfg,
    struct qbk_config_secret *id, struct qbk_config_secret *secret,
    struct qbk_config_secret *token, struct qbk_err *err)
{
	if (one_credential("AWS_ACCESS_KEY_ID", cfg->repo.s3_access_key_file,
	    id, err) != 0)
		goto err0;
	if (one_credential("AWS_SECRET_ACCESS_KEY",
	    cfg->repo.s3_secret_key_file, secret, err) != 0)
		goto err1;
	if ((id->data == NULL) != (secret->data == NULL)) {
		qbk_err_set(err, QBK_E_CONFIG, "S3 credentials: %s is set "
		    "but no %s", id->data != NULL ? "the access key id" :
		    "the secret key", id->data != NULL ? "secret key "
		    "($AWS_SECRET_ACCESS_KEY or s3_secret_key_file)" :
		    "access key id ($AWS_ACCESS_KEY_ID or "
		    "s3_access_key_file)");
		goto err2;
	}
	if (token != NULL && one_credential("AWS_SESSION_TOKEN",
	    cfg->repo.s3_session_token_file, token, err) != 0)
		goto err2;
	return 0;
err2:
	qbk_config_secret_release(secret);
err1:
	qbk_config_secret_release(id);
err0:
	return -1;
}
