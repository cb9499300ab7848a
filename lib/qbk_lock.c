#include <sys/random.h>
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "qbk.h"
#include "qbk_buf.h"
#include "qbk_err.h"
#include "qbk_log.h"
#include "qbk_manifest.h"
#include "qbk_store.h"
#include "qbk_lock.h"

#define BACKOFF_FIRST_MS	200
#define BACKOFF_MAX_MS		5000

struct qbk_lock {
	struct qbk_store *store;
	struct qbk_lock_info me;
	char key[6 + QBK_LOCK_ID_LEN + 1];	/* "locks/<id>" */
	unsigned stale_s, refresh_s;
	void *token;		/* host lock, NULL if none */
	int host_held;		/* the backend's host lock is ours */
};

/* What a scan of locks/ found. */
struct scan {
	size_t conflicts;
	int have_holder;
	struct qbk_lock_info holder;	/* the one to name */
	char unreadable[QBK_STORE_KEY_MAX + 1];	/* a bad record */
};

static uint64_t
random64(void)
{
	struct timespec ts;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_nsec * 6364136223846793005u ^
	    (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_sec;
}

void
qbk_lock_describe(const struct qbk_lock_info *i, struct qbk_buf *out)
{
	char since[QBK_MANIFEST_TIME_LEN + 1];

	if (qbk_manifest_time_format(i->time, since))
		snprintf(since, sizeof(since), "?");
	qbk_buf_addf(out, "%s (pid %lld on host %s, since %s)", i->program,
	    (long long)i->pid, i->host, since);
}

static int
record_json(const struct qbk_lock_info *i, struct qbk_buf *out,
    struct qbk_err *err)
{
	char t[QBK_MANIFEST_TIME_LEN + 1], r[QBK_MANIFEST_TIME_LEN + 1];
	json_t *j;
	char *s;

	qbk_manifest_time_format(i->time, t);
	qbk_manifest_time_format(i->refreshed, r);
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:s}",
	    "format", 1, "id", i->id,
	    "kind", i->kind == QBK_LOCK_EXCLUSIVE ? "exclusive" : "shared",
	    "program", i->program, "host", i->host, "pid", (json_int_t)i->pid,
	    "time", t, "refreshed", r);
	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "cannot build lock record (host or program name not "
		    "UTF-8?)");
	}
	json_decref(j);
	qbk_buf_reset(out);
	qbk_buf_addstr(out, s);
	free(s);
	return 0;
}

static int
get_text(json_t *o, const char *key, char *out, size_t size)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n, k;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= size)
		return -1;
	for (k = 0; k < n; k++)
		if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
			return -1;
	memcpy(out, s, n + 1);
	return 0;
}

int
qbk_lock_parse(const void *text, size_t len, struct qbk_lock_info *i,
    struct qbk_err *err)
{
	char kind[16], t[32];
	json_error_t jerr;
	const char *bad;
	json_t *j, *v;
	size_t k;

	memset(i, 0, sizeof(*i));
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return qbk_err_set(err, QBK_E_INTEGRITY,
		    "invalid lock record: %s at line %d, column %d",
		    jerr.text, jerr.line, jerr.column);
	/* Unknown fields are ignored so that newer versions can add some. */
	bad = "format";
	v = json_object_get(j, "format");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		goto err0;
	bad = "id";
	if (get_text(j, "id", i->id, sizeof(i->id)) ||
	    strlen(i->id) != QBK_LOCK_ID_LEN)
		goto err0;
	for (k = 0; k < QBK_LOCK_ID_LEN; k++)
		if (strchr("0123456789abcdef", i->id[k]) == NULL)
			goto err0;
	bad = "kind";
	if (get_text(j, "kind", kind, sizeof(kind)))
		goto err0;
	if (strcmp(kind, "shared") == 0)
		i->kind = QBK_LOCK_SHARED;
	else if (strcmp(kind, "exclusive") == 0)
		i->kind = QBK_LOCK_EXCLUSIVE;
	else
		goto err0;
	bad = "program";
	if (get_text(j, "program", i->program, sizeof(i->program)))
		goto err0;
	bad = "host";
	if (get_text(j, "host", i->host, sizeof(i->host)))
		goto err0;
	bad = "pid";
	v = json_object_get(j, "pid");
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > INT32_MAX)
		goto err0;
	i->pid = (int64_t)json_integer_value(v);
	bad = "time";
	if (get_text(j, "time", t, sizeof(t)) ||
	    qbk_manifest_time_parse(t, &i->time))
		goto err0;
	bad = "refreshed";
	if (get_text(j, "refreshed", t, sizeof(t)) ||
	    qbk_manifest_time_parse(t, &i->refreshed))
		goto err0;
	json_decref(j);
	return 0;

err0:
	json_decref(j);
	return qbk_err_set(err, QBK_E_INTEGRITY,
	    "invalid lock record: field '%s' missing or malformed", bad);
}

static int
write_record(struct qbk_lock *l, struct qbk_err *err)
{
	struct qbk_buf b = QBK_BUF_INIT;
	int rc;

	if (record_json(&l->me, &b, err))
		return -1;
	rc = qbk_store_put(l->store, l->key, b.buf, b.len, 0, err);
	qbk_buf_release(&b);
	return rc;
}

static int
collect_key(void *cookie, const char *key, const struct qbk_store_stat *st,
    struct qbk_err *err)
{
	struct qbk_buf *keys = cookie;

	(void)st;
	(void)err;
	qbk_buf_add(keys, key, strlen(key) + 1);
	return 0;
}

/* Why ${i} is stale, or NULL if it is live. */
static const char *
stale_reason(const struct qbk_lock *l, const struct qbk_lock_info *i,
    int64_t now)
{
	if (now - i->refreshed > (int64_t)l->stale_s)
		return "not refreshed for too long";
	if (strcmp(i->host, l->me.host) != 0)
		return NULL;
	if (kill((pid_t)i->pid, 0) == -1 && errno == ESRCH)
		return "its process is gone";
	if (l->host_held && (l->me.kind == QBK_LOCK_EXCLUSIVE ||
	    i->kind == QBK_LOCK_EXCLUSIVE))
		return "its process no longer holds the host lock";
	return NULL;
}

static void
remove_stale(struct qbk_lock *l, const char *key,
    const struct qbk_lock_info *i, const char *why)
{
	struct qbk_err e = QBK_ERR_INIT;
	struct qbk_buf d = QBK_BUF_INIT;

	if (i != NULL)
		qbk_lock_describe(i, &d);
	else
		qbk_buf_addstr(&d, "unknown holder (unreadable record)");
	if (qbk_store_delete(l->store, key, 0, &e))
		qbk_warn("cannot remove stale lock '%s': %s", key, e.msg);
	else
		qbk_warn("removed stale lock '%s' of %s: %s", key, d.buf, why);
	qbk_buf_release(&d);
}

/* Prefer naming an exclusive holder, then the oldest. */
static void
consider_holder(struct scan *sc, const struct qbk_lock_info *i)
{
	sc->conflicts++;
	if (!sc->have_holder ||
	    (i->kind == QBK_LOCK_EXCLUSIVE &&
	    sc->holder.kind != QBK_LOCK_EXCLUSIVE) ||
	    (i->kind == sc->holder.kind && i->time < sc->holder.time)) {
		sc->holder = *i;
		sc->have_holder = 1;
	}
}

/*
 * Read every other record under locks/, remove the stale ones and count the
 * live ones that conflict with ${l}.
 */
static int
scan_locks(struct qbk_lock *l, struct scan *sc, struct qbk_err *err)
{
	struct qbk_buf keys = QBK_BUF_INIT, text = QBK_BUF_INIT;
	int64_t now = (int64_t)time(NULL);
	const char *key;
	int rc = -1;

	memset(sc, 0, sizeof(*sc));
	if (qbk_store_list(l->store, "locks/", 0, collect_key, &keys, err))
		goto out;
	for (key = keys.buf; key < keys.buf + keys.len;
	    key += strlen(key) + 1) {
		struct qbk_lock_info info;
		struct qbk_err e = QBK_ERR_INIT;
		struct qbk_store_stat st;
		const char *why;

		if (strcmp(key, l->key) == 0)
			continue;
		if (qbk_store_get(l->store, key, QBK_LOCK_RECORD_MAX, &text,
		    &e)) {
			if (e.code == QBK_E_NOTFOUND)
				continue;	/* released meanwhile */
			if (e.code != QBK_E_INTEGRITY) {
				if (err != NULL)
					*err = e;
				goto out;
			}
		} else if (qbk_lock_parse(text.buf, text.len, &info, &e) ==
		    0) {
			if ((why = stale_reason(l, &info, now)) != NULL) {
				remove_stale(l, key, &info, why);
				continue;
			}
			if (l->me.kind == QBK_LOCK_EXCLUSIVE ||
			    info.kind == QBK_LOCK_EXCLUSIVE)
				consider_holder(sc, &info);
			continue;
		}
		/* Unreadable (too large or malformed): exclusive until its
		 * object is stale_s old. */
		qbk_debug("lock record '%s': %s", key, e.msg);
		if (qbk_store_stat(l->store, key, &st, &e) == 0 &&
		    now - st.mtime > (int64_t)l->stale_s) {
			remove_stale(l, key, NULL, "unreadable and old");
			continue;
		}
		sc->conflicts++;
		snprintf(sc->unreadable, sizeof(sc->unreadable), "%s", key);
	}
	rc = 0;
out:
	qbk_buf_release(&keys);
	qbk_buf_release(&text);
	return rc;
}

static void
conflict_error(const struct qbk_lock *l, const struct scan *sc,
    struct qbk_err *err)
{
	struct qbk_buf d = QBK_BUF_INIT;

	if (sc->have_holder) {
		qbk_lock_describe(&sc->holder, &d);
		if (sc->conflicts > 1)
			qbk_buf_addf(&d, ", and by %zu more",
			    sc->conflicts - 1);
		qbk_err_set(err, QBK_E_LOCKED, "repository is locked %sby %s",
		    sc->holder.kind == QBK_LOCK_EXCLUSIVE ? "exclusively " :
		    "(shared) ", d.buf);
	} else if (sc->unreadable[0] != '\0') {
		qbk_err_set(err, QBK_E_LOCKED, "repository is locked by an "
		    "unreadable lock record '%s'", sc->unreadable);
	} else {
		qbk_err_set(err, QBK_E_LOCKED, "repository is locked by "
		    "another process on this host");
	}
	qbk_err_hint(err, "retry when it has finished; the locks of dead "
	    "processes, and locks not refreshed for %us, are removed "
	    "automatically", l->stale_s);
	qbk_buf_release(&d);
}

/* One attempt: 0 locked, 1 conflict (${err} says with whom), -1 error. */
static int
try_once(struct qbk_lock *l, struct qbk_err *err)
{
	struct scan sc;
	int rc;

	rc = qbk_store_host_lock(l->store, l->me.kind == QBK_LOCK_EXCLUSIVE,
	    &l->token, err);
	if (rc == -1)
		return -1;
	if (rc == 1) {
		/* Busy on this host: name the holder, write nothing. */
		l->host_held = 0;
		if (scan_locks(l, &sc, err))
			return -1;
		conflict_error(l, &sc, err);
		return 1;
	}
	l->host_held = l->token != NULL;
	l->me.time = l->me.refreshed = (int64_t)time(NULL);
	if (write_record(l, err))
		goto err0;
	if (scan_locks(l, &sc, err))
		goto err1;
	if (sc.conflicts == 0)
		return 0;
	conflict_error(l, &sc, err);
	rc = 1;
	/* FALLTHROUGH */
err1:
	{
		struct qbk_err e = QBK_ERR_INIT;

		if (qbk_store_delete(l->store, l->key, 0, &e))
			qbk_warn("cannot remove lock record '%s': %s", l->key,
			    e.msg);
	}
err0:
	qbk_store_host_unlock(l->store, l->token);
	l->token = NULL;
	l->host_held = 0;
	return rc == 1 ? 1 : -1;
}

/* Sleep ${ms} milliseconds unless cancelled; -1 if cancelled. */
static int
nap(int64_t ms, volatile sig_atomic_t *cancel)
{
	while (ms > 0) {
		int64_t step = ms < 100 ? ms : 100;
		struct timespec ts = { 0, (long)(step * 1000000) };

		if (cancel != NULL && *cancel)
			return -1;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return cancel != NULL && *cancel ? -1 : 0;
}

int
qbk_lock_acquire(struct qbk_store *store, enum qbk_lock_kind kind,
    const struct qbk_lock_opts *opts, struct qbk_lock **out,
    struct qbk_err *err)
{
	struct qbk_lock_opts defaults = QBK_LOCK_OPTS_INIT;
	int64_t deadline, backoff = BACKOFF_FIRST_MS;
	struct qbk_lock *l;
	uint64_t r;
	int rc;

	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	l = qbk_xcalloc(1, sizeof(*l));
	l->store = store;
	l->stale_s = opts->stale_s != 0 ? opts->stale_s :
	    QBK_LOCK_STALE_DEFAULT;
	l->refresh_s = opts->refresh_s != 0 ? opts->refresh_s :
	    QBK_LOCK_REFRESH_DEFAULT;
	r = random64();
	snprintf(l->me.id, sizeof(l->me.id), "%016llx", (unsigned long long)r);
	snprintf(l->key, sizeof(l->key), "locks/%s", l->me.id);
	l->me.kind = kind;
	snprintf(l->me.program, sizeof(l->me.program), "%s",
	    opts->program != NULL && *opts->program != '\0' ? opts->program :
	    "qbk");
	if (gethostname(l->me.host, sizeof(l->me.host)) == -1 ||
	    l->me.host[0] == '\0')
		snprintf(l->me.host, sizeof(l->me.host), "unknown");
	l->me.host[sizeof(l->me.host) - 1] = '\0';
	l->me.pid = (int64_t)getpid();

	deadline = qbk_clock_ms() + (int64_t)opts->wait_s * 1000;
	for (;;) {
		int64_t left, delay;

		if ((rc = try_once(l, err)) != 1)
			break;
		left = deadline - qbk_clock_ms();
		if (left <= 0)
			break;
		if (opts->wait_s != 0 && backoff == BACKOFF_FIRST_MS)
			qbk_info("%s; waiting up to %us", err != NULL ?
			    err->msg : "repository is locked", opts->wait_s);
		/* Full jitter between half and all of the backoff. */
		delay = backoff / 2 + (int64_t)(random64() %
		    (uint64_t)(backoff / 2 + 1));
		if (delay > left)
			delay = left;
		if (nap(delay, opts->cancel)) {
			rc = qbk_err_set(err, QBK_E_INTERRUPTED,
			    "interrupted while waiting for the repository "
			    "lock");
			break;
		}
		backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 :
		    BACKOFF_MAX_MS;
	}
	if (rc != 0) {
		free(l);
		return -1;
	}
	qbk_debug("locked repository %s (%s, lock '%s')",
	    qbk_store_location(store),
	    kind == QBK_LOCK_EXCLUSIVE ? "exclusive" : "shared", l->key);
	*out = l;
	return 0;
}

int
qbk_lock_refresh(struct qbk_lock *l, int force, struct qbk_err *err)
{
	int64_t now = (int64_t)time(NULL);
	int64_t old = l->me.refreshed;
	int rc;

	if (!force && now - l->me.refreshed < (int64_t)l->refresh_s)
		return 0;
	rc = qbk_store_exists(l->store, l->key, err);
	if (rc == -1)
		return -1;
	if (rc == 0) {
		qbk_err_set(err, QBK_E_LOCKED, "lost the repository lock: "
		    "another process removed '%s' as stale", l->key);
		qbk_err_hint(err, "check for slow or stuck qbk processes and "
		    "the clocks of the hosts that share the repository");
		return -1;
	}
	l->me.refreshed = now;
	if (write_record(l, err)) {
		l->me.refreshed = old;
		return -1;
	}
	return 0;
}

int
qbk_lock_release(struct qbk_lock *l, struct qbk_err *err)
{
	int rc;

	if (l == NULL)
		return 0;
	rc = qbk_store_delete(l->store, l->key, 0, err);
	qbk_store_host_unlock(l->store, l->token);
	free(l);
	return rc;
}

const char *
qbk_lock_id(const struct qbk_lock *l)
{
	return l->me.id;
}

int
qbk_lock_list(struct qbk_store *store,
    int (*fn)(void *, const struct qbk_lock_info *), void *cookie,
    struct qbk_err *err)
{
	struct qbk_buf keys = QBK_BUF_INIT, text = QBK_BUF_INIT;
	const char *key;
	int rc = 0;

	if (qbk_store_list(store, "locks/", 0, collect_key, &keys, err)) {
		rc = -1;
		goto out;
	}
	for (key = keys.buf; key < keys.buf + keys.len;
	    key += strlen(key) + 1) {
		struct qbk_err e = QBK_ERR_INIT;
		struct qbk_lock_info info;

		if (qbk_store_get(store, key, QBK_LOCK_RECORD_MAX, &text,
		    &e) == 0 &&
		    qbk_lock_parse(text.buf, text.len, &info, &e) == 0) {
			if ((rc = fn(cookie, &info)) != 0)
				break;
		} else if (e.code != QBK_E_NOTFOUND) {
			qbk_warn("lock '%s': %s", key, e.msg);
		}
	}
out:
	qbk_buf_release(&keys);
	qbk_buf_release(&text);
	return rc;
}
