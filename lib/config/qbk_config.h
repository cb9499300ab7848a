#ifndef QBK_CONFIG_H
#define QBK_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct qbk_buf;
struct qbk_err;

/*
 * Configuration: qbk.conf(5).  One struct holds every setting, resolved in
 * the order of STYLE R7:
 *
 *   defaults < [environment] preset < qbk.conf < QBK_* variables < options
 *
 * qbk_config_init() sets the defaults; qbk_config_load() reads the file,
 * fills what the preset governs and the file left unset, then applies the
 * environment (QBK_URL, QBK_REPOSITORY); the front end then overrides single
 * settings with qbk_config_set(), which parses and checks a value exactly as
 * the file would.  All members are public and may be read freely.  Change
 * them through qbk_config_set(): strings are owned by the struct, some
 * settings have derived members (repo.s3_bucket, qdrant.url from nodes,
 * repo.s3_uri_style), and a preset fills only what was not set explicitly.
 *
 * Secrets never live in the configuration: it names files that hold them
 * (api_key_file, passphrase_file, key_file, ...).  The qbk_config_*_key()
 * and qbk_config_read_secret() functions read them on demand into a
 * struct qbk_config_secret, whose memory is zeroed when it is released.
 *
 * Durations are int64_t milliseconds; -1 means "unset" where a setting may
 * be unset.  Counts are int; -1 means "unset" where 0 is meaningful.
 */

/* Where qbk looks when neither -c FILE nor $QBK_CONFIG names a file. */
#define QBK_CONFIG_DEFAULT_PATH	"/etc/qbk/qbk.conf"
#define QBK_CONFIG_DEFAULT_URL	"http://localhost:6333"

/* Largest qbk.conf and largest secret file that qbk reads. */
#define QBK_CONFIG_MAX_SIZE	(1024 * 1024)
#define QBK_CONFIG_SECRET_MAX	(64 * 1024)

enum qbk_config_preset {
	QBK_CONFIG_PRESET_NONE = 0,	/* no objectives, no retention */
	QBK_CONFIG_PRESET_DEVELOPMENT,
	QBK_CONFIG_PRESET_STAGING,
	QBK_CONFIG_PRESET_PRODUCTION
};

/* Qdrant's snapshot recovery priority (NOTES.md section 5). */
enum qbk_config_priority {
	QBK_CONFIG_PRIORITY_SNAPSHOT = 0,	/* the snapshot wins (default) */
	QBK_CONFIG_PRIORITY_REPLICA,	/* the cluster's replicas win */
	QBK_CONFIG_PRIORITY_NO_SYNC	/* activate, touch no other replica */
};

enum qbk_config_compression {
	QBK_CONFIG_COMPRESSION_AUTO = 0,	/* zstd where it pays (default) */
	QBK_CONFIG_COMPRESSION_ZSTD,	/* zstd on every chunk */
	QBK_CONFIG_COMPRESSION_NONE
};

enum qbk_config_encryption {
	QBK_CONFIG_ENCRYPTION_AUTO = 0,	/* qbk-init chooses (default) */
	QBK_CONFIG_ENCRYPTION_XCHACHA20_POLY1305,
	QBK_CONFIG_ENCRYPTION_AES256_GCM,
	QBK_CONFIG_ENCRYPTION_NONE
};

enum qbk_config_uri_style {
	QBK_CONFIG_URI_STYLE_HOST = 0,	/* https://bucket.endpoint/key */
	QBK_CONFIG_URI_STYLE_PATH	/* https://endpoint/bucket/key */
};

enum qbk_config_backup_type {
	QBK_CONFIG_BACKUP_INCREMENTAL = 0,	/* trust chunks already stored */
	QBK_CONFIG_BACKUP_FULL	/* re-read and check every reused chunk */
};

enum qbk_config_validation {
	QBK_CONFIG_VALIDATION_BASIC = 0,
	QBK_CONFIG_VALIDATION_COMPREHENSIVE,
	QBK_CONFIG_VALIDATION_EXHAUSTIVE
};

/* One maintenance window, e.g. "Mon-Fri 22:00-02:00 UTC". */
struct qbk_config_window {
	unsigned days;	/* bit N set: starts on weekday N (0 = Sunday) */
	int start;	/* minutes after midnight, 0..1439 */
	int end;	/* 1..1440; end <= start: ends on the next day */
	int local;	/* times are local time, not UTC */
};

struct qbk_config {
	char *file;		/* the file that was read, or NULL */

	struct qbk_config_environment {
		enum qbk_config_preset preset;
		char *name;	/* label for reports; NULL: host name */
	} environment;

	struct qbk_config_qdrant {
		char *url;	/* never NULL after qbk_config_init() */
		char *api_key_file;
		char **nodes;	/* REST URL of every node, or NULL */
		size_t nnodes;
		int64_t timeout;	/* longest API request (not transfers) */
		int64_t connect_timeout;
		int64_t stall_timeout;	/* a transfer slower than 1 KiB/s
					 * this long is stalled */
		int retries;
		int64_t retry_delay;	/* base of the exponential backoff */
		char *ca_file;
		int tls_verify;
		enum qbk_config_priority priority;
		int64_t replica_timeout;	/* restore: wait this long for
						 * replicas to become Active */
	} qdrant;

	struct qbk_config_repo {
		char *location;	/* as set (relative paths resolved); or NULL */
		int is_s3;	/* location is s3://bucket/prefix */
		char *s3_bucket;	/* from location, or NULL */
		char *s3_prefix;	/* from location, "" for none, or NULL */
		char *passphrase_file;
		char *key_file;
		enum qbk_config_compression compression;
		int compression_level;	/* zstd level 1..19 (3 by default) */
		enum qbk_config_encryption encryption;
		char *s3_endpoint;	/* NULL: AWS */
		char *s3_region;
		enum qbk_config_uri_style s3_uri_style;
		char *s3_access_key_file;
		char *s3_secret_key_file;
		char *s3_session_token_file;
		int s3_transfers;
		char *cache_dir;	/* NULL: the default folder */
		int64_t cache_max_age;	/* list the bucket again when the
					 * chunk-index cache is this old */
		int cache_sample;	/* cached chunks checked at open */
		int64_t lock_timeout;	/* wait this long for a lock */
		int64_t lock_stale;	/* lock records expire after this
					 * without a refresh; prune keeps
					 * chunks younger than it */
		char *s3_ca_file;	/* PEM bundle for S3's TLS; NULL:
					 * the system's */
		int s3_tls_verify;	/* 1 (default) */
		int s3_object_lock_days;	/* 0: no object lock */
		int s3_object_lock_mode;	/* 0 governance, 1 compliance */
		int64_t s3_timeout;	/* abort an S3 transfer that moves no
					 * byte for this long (then retry) */
	} repo;

	struct qbk_config_backup {
		int workers;	/* 0: one per CPU core, at most 8 */
		int sample_points;
		enum qbk_config_backup_type type;
		int content_hash;	/* hash every point (qbk-drill
					 * exhaustive); default 0 */
		int node_parallelism;	/* cluster: nodes streamed at once;
					 * 0: min(nodes, 4) */
	} backup;

	struct qbk_config_retention {	/* -1: unset */
		int keep_last;
		int keep_hourly;
		int keep_daily;
		int keep_weekly;
		int keep_monthly;
		int keep_yearly;
		int64_t keep_within;
	} retention;

	struct qbk_config_objectives {	/* -1: no objective */
		int64_t rpo;
		int64_t rto;
	} objectives;

	struct qbk_config_drill {
		char *url;	/* NULL: the [qdrant] deployment */
		char **nodes;	/* REST URL of every node of url's
				 * deployment, or NULL */
		size_t nnodes;
		char *api_key_file;
		enum qbk_config_validation validation;
		int sample_points;
		int64_t green_wait;	/* ms to wait for green after the
					 * validation; 0: none */
	} drill;

	struct qbk_config_notify {
		char *webhook_url;
		char *slack_webhook_url;
		char *pagerduty_routing_key_file;
		int64_t min_interval;	/* 0: send every notification */
		char *maintenance;	/* as written, or NULL */
		struct qbk_config_window *windows;
		size_t nwindows;
		int64_t timeout;
		char *pagerduty_url;	/* Events API v2 endpoint */
		char *state_dir;	/* NULL: $XDG_STATE_HOME/qbk or
					 * ~/.local/state/qbk */
	} notify;

	/* Private: which settings were given explicitly (not defaults). */
	unsigned char explicit_[64];
};

/* A secret read from the environment or a file.  Zeroed on release. */
struct qbk_config_secret {
	char *data;	/* NUL-terminated; NULL when none is configured */
	size_t len;	/* bytes in ${data}, not counting the NUL */
	int raw_key;	/* repository secret: raw key (key_file) */
	char *origin;	/* "QBK_API_KEY", "file '/etc/...'", or NULL */
};

#define QBK_CONFIG_SECRET_INIT { NULL, 0, 0, NULL }

/** qbk_config_init(cfg): set every setting of ${cfg} to its default (no
 * preset, no file).  Release with qbk_config_release(). */
void qbk_config_init(struct qbk_config *);

/** qbk_config_release(cfg): free what ${cfg} holds; it must be
 * initialised again before reuse.  Does nothing for NULL. */
void qbk_config_release(struct qbk_config *);

/** qbk_config_load(cfg, path, err): read the configuration file into the
 * initialised ${cfg}, then apply the environment (QBK_URL, QBK_REPOSITORY).
 * The file is ${path} if not NULL, else $QBK_CONFIG if set and not empty;
 * either must exist.  Otherwise it is QBK_CONFIG_DEFAULT_PATH, which may be
 * missing: then defaults apply and ${cfg}->file stays NULL, which is how the
 * caller tells "no file" from "file read".  Errors (QBK_E_CONFIG, or QBK_E_IO
 * when reading fails) name the file and line:
 * "/etc/qbk/qbk.conf:12: unknown key 'keep_dialy' in [retention]".  On
 * failure ${cfg} holds a mix of defaults and settings; release it. */
int qbk_config_load(struct qbk_config *, const char *, struct qbk_err *);

/** qbk_config_load_string(cfg, text, name, err): like qbk_config_load() on
 * the NUL-terminated ${text}, with ${name} (e.g. "qbk.conf") in messages; no
 * environment variable is consulted and relative paths stay as written.
 * ${cfg}->file stays NULL. */
int qbk_config_load_string(struct qbk_config *, const char *, const char *,
    struct qbk_err *);

/** qbk_config_set(cfg, section, key, value, err): set one setting as if
 * the file said "key = value" in [section] (all three strings borrowed,
 * not NULL); for command-line options (--url, --repo, --keep-daily, ...),
 * which win over file and environment.  Relative paths stay as given.
 * A preset's defaults are re-applied if it changes.  Errors (QBK_E_CONFIG):
 * "bad value 'x' for 'keep_daily': expected a number from 0 to 1000000",
 * "unknown key 'k' in [s]".  ${cfg} is unchanged on failure. */
int qbk_config_set(struct qbk_config *, const char *, const char *,
    const char *, struct qbk_err *);

/** qbk_config_is_set(cfg, section, key): 1 if the setting was given in the
 * file, the environment or by qbk_config_set(); 0 if it holds a default or
 * a preset's value, or the key does not exist. */
int qbk_config_is_set(const struct qbk_config *, const char *, const char *);

/** qbk_config_has_retention(cfg): nonzero if any keep_* setting is set
 * (explicitly or by a preset). */
int qbk_config_has_retention(const struct qbk_config *);

/** qbk_config_write(cfg, out): append the effective configuration to
 * ${out} in qbk.conf syntax, every section, unset settings left out.  It
 * names secret files but holds no secret (slack_webhook_url aside, which
 * embeds a token: treat the text like the file). */
void qbk_config_write(const struct qbk_config *, struct qbk_buf *);

/** qbk_config_preset_name(preset): "development", ..., or "none". */
const char *qbk_config_preset_name(enum qbk_config_preset);

/*
 * Value parsers shared with the option parser and other modules.  Their
 * messages state what was expected without the value, so that callers put
 * the value and the setting in front:
 *   qbk_err_prefix(err, "bad value '%s' for '--max-age'", arg);
 * gives "bad value 'fast' for '--max-age': expected a duration like 30s,
 * 15m, 1h, 2d".  Codes are QBK_E_CONFIG.
 */

/** qbk_config_parse_duration(s, ms, err): parse a duration: one or more
 * <number><unit> with units ms, s, m, h, d (24h), w (7d), e.g. "500ms",
 * "90s", "1h30m", "2w"; or "0".  Stores milliseconds in ${ms}. */
int qbk_config_parse_duration(const char *, int64_t *, struct qbk_err *);

/** qbk_config_format_duration(ms, buf, size): write ${ms} as the shortest
 * duration text qbk_config_parse_duration() reads back ("1h30m", "500ms",
 * "0s"; "-1h" for negatives) into ${buf}; returns ${buf}.  48 bytes always
 * suffice. */
char *qbk_config_format_duration(int64_t, char *, size_t);

/** qbk_config_parse_bool(s, out, err): yes/no, true/false, on/off, 1/0
 * (any case) to 1 or 0 in ${out}. */
int qbk_config_parse_bool(const char *, int *, struct qbk_err *);

/** qbk_config_parse_uint(s, min, max, out, err): a decimal number (digits
 * only) from ${min} to ${max} into ${out}. */
int qbk_config_parse_uint(const char *, unsigned long long,
    unsigned long long, unsigned long long *, struct qbk_err *);

/** qbk_config_parse_windows(s, out, n, err): parse maintenance windows,
 * comma separated, each "DAYS HH:MM-HH:MM [UTC|local]" with DAYS one of
 * daily, weekdays, weekends, a day (Mon, monday, ...) or a range (Mon-Fri);
 * see qbk.conf(5).  Stores a new array the caller frees with free() in
 * ${out}, its length in ${n}; on failure they are left alone. */
int qbk_config_parse_windows(const char *, struct qbk_config_window **,
    size_t *, struct qbk_err *);

/** qbk_config_in_window(w, n, t): nonzero if the time ${t} falls within
 * one of the ${n} windows ${w}. */
int qbk_config_in_window(const struct qbk_config_window *, size_t, time_t);

/** qbk_config_in_maintenance(cfg, t): qbk_config_in_window() on
 * ${cfg}'s [notify] maintenance windows. */
int qbk_config_in_maintenance(const struct qbk_config *, time_t);

/*
 * Secrets.  Each function fills a caller-owned struct qbk_config_secret,
 * initialised with QBK_CONFIG_SECRET_INIT, and returns 0 or -1.  When no
 * secret is configured it returns 0 with ${out}->data NULL: the caller
 * decides whether that is an error.  Environment variables that are set but
 * empty count as unset.
 */

/** qbk_config_read_secret(path, out, err): read the secret file ${path}:
 * its content less one trailing newline ("\n" or "\r\n").  Refuses an empty
 * file, a folder and anything larger than QBK_CONFIG_SECRET_MAX
 * (QBK_E_CONFIG; QBK_E_IO when reading fails).  Logs a warning when the
 * file is readable by group or others. */
int qbk_config_read_secret(const char *, struct qbk_config_secret *,
    struct qbk_err *);

/** qbk_config_api_key(cfg, out, err): the Qdrant API key: $QBK_API_KEY,
 * else the [qdrant] api_key_file, else none. */
int qbk_config_api_key(const struct qbk_config *, struct qbk_config_secret *,
    struct qbk_err *);

/** qbk_config_drill_api_key(cfg, out, err): the API key of the drill
 * deployment: $QBK_DRILL_API_KEY, else the [drill] api_key_file, else
 * qbk_config_api_key(). */
int qbk_config_drill_api_key(const struct qbk_config *,
    struct qbk_config_secret *, struct qbk_err *);

/** qbk_config_repo_key(cfg, out, err): the repository secret:
 * $QBK_PASSPHRASE, else the passphrase_file, else the key_file (then
 * ${out}->raw_key is 1), else none. */
int qbk_config_repo_key(const struct qbk_config *, struct qbk_config_secret *,
    struct qbk_err *);

/** qbk_config_s3_credentials(cfg, id, secret, token, err): S3 credentials:
 * the access key id from $AWS_ACCESS_KEY_ID else s3_access_key_file, the
 * secret key from $AWS_SECRET_ACCESS_KEY else s3_secret_key_file, and the
 * session token from $AWS_SESSION_TOKEN else s3_session_token_file
 * (${token} may be NULL).  Neither id
 * nor secret: none (anonymous); only one of them: QBK_E_CONFIG. */
int qbk_config_s3_credentials(const struct qbk_config *,
    struct qbk_config_secret *, struct qbk_config_secret *,
    struct qbk_config_secret *, struct qbk_err *);

/** qbk_config_secret_release(s): zero and free ${s}'s memory; ${s} is then
 * like QBK_CONFIG_SECRET_INIT.  Does nothing for NULL. */
void qbk_config_secret_release(struct qbk_config_secret *);

#endif /* !QBK_CONFIG_H */
