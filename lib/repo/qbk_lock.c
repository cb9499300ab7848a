#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"
#include "repo/qbk_layout.h"
#include "repo/qbk_manifest.h"
#include "storage/qbk_store.h"
#include "repo/qbk_lock.h"

#define BACKOFF_FIRST_MS	200
#define BACKOFF_MAX_MS		5000

struct qbk_lock {
	struct qbk_store *store;
	struct qbk_lock_info me;	/* me.refreshed under mu */
	char key[QBK_LAYOUT_KEY_MAX];		/* QBK_LAYOUT_LOCK */
	unsigned stale_s, refresh_s;
	void *token;		/* host lock, NULL if none */
	int host_held;		/* the backend's host lock is ours */
	int read_only_ok;	/* opts->read_only_ok */
	int lockless;		/* no record: the repository is read-only */
	volatile sig_atomic_t *cancel;	/* set when the lock is lost */

	/* The refresher thread (qbk_lock_refresh() in qbk_lock.h). */
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* CLOCK_MONOTONIC */
	pthread_t thread;
	int have_thread;
	int parked;		/* the thread waits on cv for the first time */
	int stop;		/* release asks the thread to end */
	int lost;		/* the lock is gone: lost_err says why */
	struct qbk_err lost_err;
	int64_t ok_ms;		/* qbk_clock_ms() of the last refresh */
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
	char since[QBK_TIME_LEN + 1];

	if (qbk_time_format(i->time, since))
		snprintf(since, sizeof(since), "?");
	qbk_buf_addf(out, "%s (pid %lld on host %s, since %s)", i->program,
	    (long long)i->pid, i->host, since);
}

static int
record_json(const struct qbk_lock_info *i, struct qbk_buf *out,
    struct qbk_err *err)
{
	char t[QBK_TIME_LEN + 1], r[QBK_TIME_LEN + 1];
	json_t *j;
	char *s;

	qbk_time_format(i->time, t);
	qbk_time_format(i->refreshed, r);
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I}",
	    "format", 1, "id", i->id,
	    "kind", i->kind == QBK_LOCK_EXCLUSIVE ? "exclusive" : "shared",
	    "program", i->program, "host", i->host, "pid", (json_int_t)i->pid,
	    "time", t, "refreshed", r, "stale_after",
	    (json_int_t)i->stale_after);
	if (j != NULL && i->boot_id[0] != '\0')
		json_object_set_new(j, "boot_id", json_string(i->boot_id));
	if (j != NULL && i->pid_ns != 0)
		json_object_set_new(j, "pid_ns", json_integer(
		    (json_int_t)i->pid_ns));
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
	    qbk_time_parse(t, &i->time))
		goto err0;
	bad = "refreshed";
	if (get_text(j, "refreshed", t, sizeof(t)) ||
	    qbk_time_parse(t, &i->refreshed))
		goto err0;
	/* Added later, so optional: a record without them proves no
	 * machine, boot or PID namespace, and expires by time alone. */
	bad = "stale_after";
	v = json_object_get(j, "stale_after");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > QBK_LOCK_STALE_MAX)
			goto err0;
		i->stale_after = (int64_t)json_integer_value(v);
	}
	bad = "boot_id";
	if (json_object_get(j, "boot_id") != NULL &&
	    get_text(j, "boot_id", i->boot_id, sizeof(i->boot_id)))
		goto err0;
	bad = "pid_ns";
	v = json_object_get(j, "pid_ns");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			goto err0;
		i->pid_ns = (uint64_t)json_integer_value(v);
	}
	json_decref(j);
	return 0;

err0:
	json_decref(j);
	return qbk_err_set(err, QBK_E_INTEGRITY,
	    "invalid lock record: field '%s' missing or malformed", bad);
}

/* Write ${i} as our record.  ALONE: a record says nothing of the chunks
 * in flight, so it neither waits for them nor fails with them. */
static int
write_record(struct qbk_lock *l, const struct qbk_lock_info *i,
    struct qbk_err *err)
{
	struct qbk_buf b = QBK_BUF_INIT;
	int rc;

	if (record_json(i, &b, err))
		return -1;
	/* An exclusive holder (prune) may spend the space reserve: it is
	 * the one that frees space. */
	rc = qbk_store_put(l->store, l->key, b.buf, b.len, QBK_STORE_F_ALONE |
	    (i->kind == QBK_LOCK_EXCLUSIVE ? QBK_STORE_F_RESERVE : 0), err);
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

/*
 * Why ${i} is stale, or NULL if it is live.  Time decides for every record:
 * not refreshed within our stale limit or the longer one it asks for.  The
 * process tests need proof that the holder runs under this very kernel:
 * the same host name and boot id (for the host lock, which only the same
 * kernel shares), and for kill(2) also the same PID namespace, since a pid
 * means nothing in another one (a container with host networking has our
 * host name and its own pids).
 */
static const char *
stale_reason(const struct qbk_lock *l, const struct qbk_lock_info *i,
    int64_t now)
{
	int64_t limit = i->stale_after > (int64_t)l->stale_s ?
	    i->stale_after : (int64_t)l->stale_s;

	if (now - i->refreshed > limit)
		return "not refreshed for too long";
	if (strcmp(i->host, l->me.host) != 0 || i->boot_id[0] == '\0' ||
	    strcmp(i->boot_id, l->me.boot_id) != 0)
		return NULL;
	if (i->pid_ns != 0 && i->pid_ns == l->me.pid_ns &&
	    kill((pid_t)i->pid, 0) == -1 && errno == ESRCH)
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
	if (qbk_store_delete(l->store, key, QBK_STORE_F_ALONE, &e))
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
	if (qbk_store_list(l->store, qbk_layout_prefix(QBK_LAYOUT_LOCK), 0,
	    collect_key, &keys, err))
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
	if (write_record(l, &l->me, err)) {
		if (!l->read_only_ok)
			goto err0;
		/* A reader of a repository that cannot be written: without
		 * a record, but never beside an exclusive holder. */
		qbk_warn("cannot lock the repository, reading it without a "
		    "lock (a prune that starts meanwhile may remove what this "
		    "run has yet to read, and the run then fails): %s",
		    err != NULL ? err->msg : "cannot write a lock record");
		l->lockless = 1;
		if (scan_locks(l, &sc, err))
			goto err0;
		if (sc.conflicts == 0)
			return 0;
		conflict_error(l, &sc, err);
		rc = 1;
		goto err0;
	}
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

		if (qbk_store_delete(l->store, l->key, QBK_STORE_F_ALONE,
		    &e))
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

/* The boot id of the running kernel (a random UUID per boot), or "". */
static void
read_boot_id(char *out, size_t size)
{
	ssize_t n;
	int fd;

	out[0] = '\0';
	if ((fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY |
	    O_CLOEXEC)) == -1)
		return;
	n = read(fd, out, size - 1);
	close(fd);
	if (n <= 0) {
		out[0] = '\0';
		return;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (strspn(out, "0123456789abcdef-") != strlen(out))
		out[0] = '\0';
}

/* The inode of our PID namespace, or 0 if /proc does not tell. */
static uint64_t
read_pid_ns(void)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st) == -1)
		return 0;
	return (uint64_t)st.st_ino;
}

/*
 * The refresher: a thread of the holder's own, so that the record stays
 * fresh whatever the holder waits on (a slow Qdrant, a long download, a
 * read of every point).  Every refresh_s it proves the record is still
 * ours and rewrites it.  A failed refresh is retried every
 * refresh_s / 5; once the record is gone or another's, or no refresh has
 * worked for stale_s - refresh_s (so before anybody may take the record
 * for stale), the lock is lost: the thread sets *cancel and ends, and
 * every later qbk_lock_refresh() fails with why.
 */

/* Prove the record at l->key is ours, then rewrite it refreshed at
 * ${now}.  QBK_E_LOCKED: it is gone or not ours (the lock is lost). */
static int
refresh_record(struct qbk_lock *l, int64_t now, struct qbk_err *err)
{
	struct qbk_buf text = QBK_BUF_INIT;
	struct qbk_lock_info seen, next;
	struct qbk_err e = QBK_ERR_INIT;
	int rc = -1;

	if (qbk_store_get(l->store, l->key, QBK_LOCK_RECORD_MAX, &text,
	    &e) != 0) {
		if (e.code != QBK_E_NOTFOUND) {
			if (err != NULL)
				*err = e;
			goto out;
		}
		qbk_err_set(err, QBK_E_LOCKED, "lost the repository lock: "
		    "another process removed '%s' as stale", l->key);
		goto lost;
	}
	if (qbk_lock_parse(text.buf, text.len, &seen, &e) != 0 ||
	    strcmp(seen.id, l->me.id) != 0 || seen.pid != l->me.pid ||
	    strcmp(seen.host, l->me.host) != 0) {
		qbk_err_set(err, QBK_E_LOCKED, "lost the repository lock: "
		    "'%s' is no longer this process's record", l->key);
		goto lost;
	}
	pthread_mutex_lock(&l->mu);
	next = l->me;
	pthread_mutex_unlock(&l->mu);
	next.refreshed = now;
	if (write_record(l, &next, err) != 0)
		goto out;
	pthread_mutex_lock(&l->mu);
	l->me.refreshed = now;
	pthread_mutex_unlock(&l->mu);
	rc = 0;
	goto out;
lost:
	qbk_err_hint(err, "check for slow or stuck qbk processes, the "
	    "[repository] lock_stale of every host, and the clocks of the "
	    "hosts that share the repository");
out:
	qbk_buf_release(&text);
	return rc;
}

/* The lock is lost: remember why (under l->mu), stop the holder. */
static void
lose(struct qbk_lock *l, const struct qbk_err *why)
{
	if (l->lost)
		return;
	l->lost = 1;
	l->lost_err = *why;
	if (l->lost_err.code != QBK_E_LOCKED)
		l->lost_err.code = QBK_E_LOCKED;
	qbk_warn("%s; stopping", l->lost_err.msg);
	if (l->cancel != NULL)
		*l->cancel = 1;
}

static void
deadline_in(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
refresher(void *arg)
{
	struct qbk_lock *l = arg;
	int64_t every = (int64_t)l->refresh_s * 1000;
	int64_t retry = every / 5 > 200 ? every / 5 : 200;
	int64_t give_up = ((int64_t)l->stale_s - (int64_t)l->refresh_s) *
	    1000;
	int64_t wait_ms = every;
	unsigned failures = 0;

	pthread_mutex_lock(&l->mu);
	l->parked = 1;
	pthread_cond_broadcast(&l->cv);
	while (!l->stop && !l->lost) {
		struct qbk_err e = QBK_ERR_INIT;
		struct timespec ts;
		int64_t now;
		int rc;

		deadline_in(&ts, wait_ms);
		while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu,
		    &ts) != ETIMEDOUT)
			;
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mu);
		rc = refresh_record(l, (int64_t)time(NULL), &e);
		now = qbk_clock_ms();
		pthread_mutex_lock(&l->mu);
		if (rc == 0) {
			if (failures > 0)
				qbk_info("repository lock refreshed again");
			l->ok_ms = now;
			failures = 0;
			wait_ms = every;
			continue;
		}
		if (e.code == QBK_E_LOCKED) {
			lose(l, &e);
			break;
		}
		if (now - l->ok_ms >= give_up) {
			struct qbk_err why = QBK_ERR_INIT;

			qbk_err_set(&why, QBK_E_LOCKED, "lost the repository "
			    "lock: cannot refresh '%s' for %llds, and other "
			    "hosts may take it for stale after %us: %s",
			    l->key, (long long)((now - l->ok_ms) / 1000),
			    l->stale_s, e.msg);
			lose(l, &why);
			break;
		}
		if (failures++ == 0)
			qbk_warn("cannot refresh the repository lock '%s' "
			    "(retrying): %s", l->key, e.msg);
		wait_ms = retry;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static int
start_refresher(struct qbk_lock *l, struct qbk_err *err)
{
	sigset_t all, old;
	int rc;

	l->ok_ms = qbk_clock_ms();
	/* Signals stay with the threads that wait on them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->thread, NULL, refresher, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return qbk_err_sys(err, QBK_E_NOMEM, "cannot start the thread "
		    "that refreshes the repository lock");
	}
	l->have_thread = 1;
	/* Return only once the thread waits: it then holds no lock of the C
	 * library or of a sanitizer's allocator, so that a fork(2) of the
	 * holder (tests do) gives the child a usable heap. */
	pthread_mutex_lock(&l->mu);
	while (!l->parked)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

static void
stop_refresher(struct qbk_lock *l)
{
	if (!l->have_thread)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	l->have_thread = 0;
}

static void
free_lock(struct qbk_lock *l)
{
	stop_refresher(l);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
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
	l->cancel = opts->cancel;
	l->read_only_ok = opts->read_only_ok && kind == QBK_LOCK_SHARED;
	pthread_mutex_init(&l->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&l->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	l->stale_s = opts->stale_s != 0 ? opts->stale_s :
	    QBK_LOCK_STALE_DEFAULT;
	l->refresh_s = opts->refresh_s != 0 ? opts->refresh_s :
	    qbk_lock_refresh_interval(l->stale_s);
	if (l->refresh_s >= l->stale_s)
		l->refresh_s = qbk_lock_refresh_interval(l->stale_s);
	r = random64();
	snprintf(l->me.id, sizeof(l->me.id), "%016llx", (unsigned long long)r);
	qbk_layout_key(QBK_LAYOUT_LOCK, l->me.id, l->key);
	l->me.kind = kind;
	snprintf(l->me.program, sizeof(l->me.program), "%s",
	    opts->program != NULL && *opts->program != '\0' ? opts->program :
	    "qbk");
	if (gethostname(l->me.host, sizeof(l->me.host)) == -1 ||
	    l->me.host[0] == '\0')
		snprintf(l->me.host, sizeof(l->me.host), "unknown");
	l->me.host[sizeof(l->me.host) - 1] = '\0';
	l->me.pid = (int64_t)getpid();
	l->me.stale_after = (int64_t)l->stale_s;
	read_boot_id(l->me.boot_id, sizeof(l->me.boot_id));
	l->me.pid_ns = read_pid_ns();

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
		free_lock(l);
		return -1;
	}
	if (l->lockless) {
		*out = l;
		return 0;
	}
	if (start_refresher(l, err) != 0) {
		(void)qbk_store_delete(store, l->key, QBK_STORE_F_ALONE, NULL);
		qbk_store_host_unlock(store, l->token);
		free_lock(l);
		return -1;
	}
	qbk_debug("locked repository %s (%s, lock '%s', refreshed every %us, "
	    "stale after %us)", qbk_store_location(store),
	    kind == QBK_LOCK_EXCLUSIVE ? "exclusive" : "shared", l->key,
	    l->refresh_s, l->stale_s);
	*out = l;
	return 0;
}

unsigned
qbk_lock_refresh_interval(unsigned stale_s)
{
	unsigned r = stale_s / 6;

	if (r > QBK_LOCK_REFRESH_DEFAULT)
		r = QBK_LOCK_REFRESH_DEFAULT;
	return r > 0 ? r : 1;
}

int
qbk_lock_refresh(struct qbk_lock *l, int force, struct qbk_err *err)
{
	struct qbk_err e = QBK_ERR_INIT;
	int rc;

	if (l->lockless)
		return 0;
	pthread_mutex_lock(&l->mu);
	if (l->lost) {
		if (err != NULL)
			*err = l->lost_err;
		pthread_mutex_unlock(&l->mu);
		return -1;
	}
	pthread_mutex_unlock(&l->mu);
	if (!force)
		return 0;	/* the refresher keeps it fresh */
	rc = refresh_record(l, (int64_t)time(NULL), &e);
	pthread_mutex_lock(&l->mu);
	if (rc == 0)
		l->ok_ms = qbk_clock_ms();
	else if (e.code == QBK_E_LOCKED)
		lose(l, &e);
	pthread_mutex_unlock(&l->mu);
	if (rc != 0 && err != NULL)
		*err = e;
	return rc;
}

int
qbk_lock_lost(struct qbk_lock *l, struct qbk_err *err)
{
	int lost;

	if (l == NULL || l->lockless)
		return 0;
	pthread_mutex_lock(&l->mu);
	lost = l->lost;
	if (lost && err != NULL)
		*err = l->lost_err;
	pthread_mutex_unlock(&l->mu);
	return lost;
}

int
qbk_lock_release(struct qbk_lock *l, struct qbk_err *err)
{
	int rc;

	if (l == NULL)
		return 0;
	stop_refresher(l);
	/* Ours even when lost: its key is our own random id. */
	rc = l->lockless ? 0 : qbk_store_delete(l->store, l->key,
	    QBK_STORE_F_ALONE, err);
	qbk_store_host_unlock(l->store, l->token);
	free_lock(l);
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

	if (qbk_store_list(store, qbk_layout_prefix(QBK_LAYOUT_LOCK), 0,
	    collect_key, &keys, err)) {
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
