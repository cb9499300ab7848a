#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_time.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_manifest.h"
#include "storage/qbk_store.h"
#include "testutil.h"

struct fixture {
	char *dir;
	struct qbk_store *store;
	char host[256];
};

static int
setup(void **state)
{
	struct qbk_store_opts o = QBK_STORE_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = tu_tmpdir("lock")) == NULL)
		return -1;
	o.create = 1;
	o.sync = QBK_STORE_SYNC_NONE;
	if (qbk_store_open(f->dir, &o, &f->store, &err) != 0)
		return -1;
	gethostname(f->host, sizeof(f->host));
	tu_log_capture();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	qbk_store_close(f->store, NULL);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

static int
count_cb(void *cookie, const struct qbk_lock_info *i)
{
	(void)i;
	(*(int *)cookie)++;
	return 0;
}

static int
records(struct fixture *f)
{
	struct qbk_err err = QBK_ERR_INIT;
	int n = 0;

	assert_int_equal(qbk_lock_list(f->store, count_cb, &n, &err), 0);
	return n;
}

static struct qbk_lock *
take(struct fixture *f, enum qbk_lock_kind kind, const char *program)
{
	struct qbk_lock_opts o = QBK_LOCK_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_lock *l = NULL;

	o.program = program;
	if (qbk_lock_acquire(f->store, kind, &o, &l, &err) != 0)
		fail_msg("cannot lock: %s", err.msg);
	return l;
}

/*
 * A child process that takes a lock of ${kind}, writes "ok" or its error
 * message to the parent, then waits until the parent closes ${go} (or
 * leaves at once, without releasing, if ${crash}).
 */
struct child {
	pid_t pid;
	int from;		/* read end: the child's report */
	int go;		/* write end: closing it lets the child go */
};

static void
child_start(struct child *c, struct fixture *f, enum qbk_lock_kind kind,
    const char *program, int crash)
{
	int up[2], down[2];

	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		struct qbk_lock_opts o = QBK_LOCK_OPTS_INIT;
		struct qbk_err err = QBK_ERR_INIT;
		struct qbk_lock *l;
		char buf[1024], ch;
		int n;

		close(up[0]);
		close(down[1]);
		o.program = program;
		if (qbk_lock_acquire(f->store, kind, &o, &l, &err) == 0)
			n = snprintf(buf, sizeof(buf), "ok");
		else
			n = snprintf(buf, sizeof(buf), "%s|%s",
			    qbk_err_code_name(err.code), err.msg);
		if (write(up[1], buf, (size_t)n) != n)
			_exit(3);
		close(up[1]);
		if (crash)
			_exit(0);
		while (read(down[0], &ch, 1) > 0)
			;
		if (l != NULL && qbk_lock_release(l, &err) != 0)
			_exit(4);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	c->from = up[0];
	c->go = down[1];
}

/* The child's report (caller frees). */
static char *
child_report(struct child *c)
{
	char buf[1024];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 &&
	    (n = read(c->from, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(c->from);
	return strdup(buf);
}

static void
child_finish(struct child *c)
{
	int st;

	close(c->go);
	assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
shared_with_shared(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_lock *a, *b;
	struct child c;
	char *r;

	a = take(f, QBK_LOCK_SHARED, "qbk-backup");
	b = take(f, QBK_LOCK_SHARED, "qbk-drill");
	assert_string_not_equal(qbk_lock_id(a), qbk_lock_id(b));
	child_start(&c, f, QBK_LOCK_SHARED, "qbk-restore", 0);
	r = child_report(&c);
	assert_string_equal(r, "ok");
	free(r);
	assert_int_equal(records(f), 3);
	child_finish(&c);
	assert_int_equal(records(f), 2);
	assert_int_equal(qbk_lock_release(a, &err), 0);
	assert_int_equal(qbk_lock_release(b, &err), 0);
	assert_int_equal(qbk_lock_release(NULL, &err), 0);
	assert_int_equal(records(f), 0);
}

static void
shared_blocks_exclusive(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_lock *l = (struct qbk_lock *)&err;
	struct qbk_buf want = QBK_BUF_INIT;
	struct child c;
	char *r;

	child_start(&c, f, QBK_LOCK_SHARED, "qbk-backup", 0);
	r = child_report(&c);
	assert_string_equal(r, "ok");
	free(r);
	assert_int_equal(qbk_lock_acquire(f->store, QBK_LOCK_EXCLUSIVE, NULL,
	    &l, &err), -1);
	assert_null(l);
	assert_int_equal(err.code, QBK_E_LOCKED);
	assert_int_equal(qbk_err_exit_code(&err), 4);
	qbk_buf_addf(&want, "repository is locked (shared) by qbk-backup "
	    "(pid %ld on host %s, since ", (long)c.pid, f->host);
	assert_int_equal(strncmp(err.msg, want.buf, want.len), 0);
	assert_non_null(strstr(err.hint, "removed automatically"));
	/* The failed attempt left no record behind. */
	assert_int_equal(records(f), 1);
	child_finish(&c);
	l = take(f, QBK_LOCK_EXCLUSIVE, "qbk-prune");
	assert_int_equal(records(f), 1);
	assert_int_equal(qbk_lock_release(l, &err), 0);
	qbk_buf_release(&want);
}

static void
exclusive_blocks_everyone(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf want = QBK_BUF_INIT;
	struct qbk_lock *l;
	struct child c;
	char since[QBK_TIME_LEN + 1];
	int64_t t = (int64_t)time(NULL);
	char *r;

	l = take(f, QBK_LOCK_EXCLUSIVE, "qbk-prune");
	qbk_time_format(t, since);
	child_start(&c, f, QBK_LOCK_SHARED, "qbk-backup", 0);
	r = child_report(&c);
	qbk_buf_addf(&want, "locked|repository is locked exclusively by "
	    "qbk-prune (pid %ld on host %s, since %s)", (long)getpid(),
	    f->host, since);
	/* The second may have ticked between take() and time(). */
	if (strcmp(r, want.buf) != 0) {
		qbk_buf_reset(&want);
		qbk_time_format(t - 1, since);
		qbk_buf_addf(&want, "locked|repository is locked exclusively "
		    "by qbk-prune (pid %ld on host %s, since %s)",
		    (long)getpid(), f->host, since);
	}
	assert_string_equal(r, want.buf);
	free(r);
	child_finish(&c);
	child_start(&c, f, QBK_LOCK_EXCLUSIVE, "qbk-prune", 0);
	r = child_report(&c);
	assert_int_equal(strncmp(r, "locked|repository is locked "
	    "exclusively by qbk-prune (pid ", 58), 0);
	free(r);
	child_finish(&c);
	assert_int_equal(records(f), 1);
	assert_int_equal(qbk_lock_release(l, &err), 0);
	qbk_buf_release(&want);
}

static void
dead_holder_is_stale(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf want = QBK_BUF_INIT;
	struct qbk_lock *l;
	struct child c;
	char *r;
	int st;

	/* A prune that dies holding its lock (no release). */
	child_start(&c, f, QBK_LOCK_EXCLUSIVE, "qbk-prune", 1);
	r = child_report(&c);
	assert_string_equal(r, "ok");
	free(r);
	close(c.go);
	assert_int_equal(waitpid(c.pid, &st, 0), c.pid);
	assert_int_equal(records(f), 1);
	tu_log_reset();
	l = take(f, QBK_LOCK_SHARED, "qbk-backup");
	qbk_buf_addf(&want, "of qbk-prune (pid %ld on host %s, since ",
	    (long)c.pid, f->host);
	assert_non_null(strstr(tu_log_text(), "removed stale lock 'locks/"));
	assert_non_null(strstr(tu_log_text(), want.buf));
	assert_non_null(strstr(tu_log_text(), "its process is gone"));
	assert_int_equal(records(f), 1);
	assert_int_equal(qbk_lock_release(l, &err), 0);
	assert_int_equal(records(f), 0);
	qbk_buf_release(&want);
}

/* What proves a record was written under this kernel: ", \"boot_id\":
 * ..., \"pid_ns\": ..." as qbk writes it, with our PID namespace, or with
 * ${ns} if it is not 0. */
static void
our_proof_ns(struct qbk_buf *out, unsigned long long ns)
{
	char boot[64] = "";
	struct stat st;
	FILE *fp;

	fp = fopen("/proc/sys/kernel/random/boot_id", "r");
	assert_non_null(fp);
	assert_non_null(fgets(boot, sizeof(boot), fp));
	fclose(fp);
	boot[strcspn(boot, "\n")] = '\0';
	assert_int_equal(stat("/proc/self/ns/pid", &st), 0);
	qbk_buf_addf(out, ",\"boot_id\":\"%s\",\"pid_ns\":%llu", boot,
	    ns != 0 ? ns : (unsigned long long)st.st_ino);
}

static void
our_proof(struct qbk_buf *out)
{
	our_proof_ns(out, 0);
}

/* A record as another process writes it; ${proof}: with our boot id and
 * PID namespace (a process of this kernel and namespace), or "" (none, as
 * older qbk wrote), or another string to append. */
static void
put_record_as(struct fixture *f, const char *id, const char *kind,
    const char *program, const char *host, long pid, int64_t refreshed,
    const char *proof)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	char t[QBK_TIME_LEN + 1], key[64];

	qbk_time_format(refreshed, t);
	qbk_buf_addf(&b, "{\"format\":1,\"id\":\"%s\",\"kind\":\"%s\","
	    "\"program\":\"%s\",\"host\":\"%s\",\"pid\":%ld,\"time\":\"%s\","
	    "\"refreshed\":\"%s\",\"future\":true", id, kind, program, host,
	    pid, t, t);
	if (proof == NULL)
		our_proof(&b);
	else
		qbk_buf_addstr(&b, proof);
	qbk_buf_addch(&b, '}');
	snprintf(key, sizeof(key), "locks/%s", id);
	assert_int_equal(qbk_store_put(f->store, key, b.buf, b.len, 0, &err),
	    0);
	qbk_buf_release(&b);
}

static void
put_record(struct fixture *f, const char *id, const char *kind,
    const char *program, const char *host, long pid, int64_t refreshed)
{
	put_record_as(f, id, kind, program, host, pid, refreshed, NULL);
}

static void
other_host_records(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_lock *l;
	int64_t now = (int64_t)time(NULL);

	/* Another host's exclusive lock, fresh: a conflict. */
	put_record(f, "00000000000000aa", "exclusive", "qbk-prune",
	    "db-other", 4242, now - 60);
	assert_int_equal(qbk_lock_acquire(f->store, QBK_LOCK_SHARED, NULL, &l,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_LOCKED);
	assert_non_null(strstr(err.msg, "repository is locked exclusively by "
	    "qbk-prune (pid 4242 on host db-other, since "));
	assert_int_equal(records(f), 1);

	/* Not refreshed for two hours: stale, removed. */
	put_record(f, "00000000000000aa", "exclusive", "qbk-prune",
	    "db-other", 4242, now - 7200);
	tu_log_reset();
	l = take(f, QBK_LOCK_SHARED, "qbk-backup");
	assert_non_null(strstr(tu_log_text(), "removed stale lock "
	    "'locks/00000000000000aa' of qbk-prune (pid 4242 on host "
	    "db-other"));
	assert_non_null(strstr(tu_log_text(), "not refreshed for too long"));
	assert_int_equal(records(f), 1);

	/* Shared locks of other hosts: fine for shared, not exclusive. */
	put_record(f, "00000000000000bb", "shared", "qbk-backup", "h2", 99,
	    now - 100);
	put_record(f, "00000000000000cc", "shared", "qbk-drill", "h3", 98,
	    now - 50);
	assert_int_equal(qbk_lock_release(l, &err), 0);
	l = take(f, QBK_LOCK_SHARED, "qbk-backup");
	assert_int_equal(qbk_lock_release(l, &err), 0);
	assert_int_equal(qbk_lock_acquire(f->store, QBK_LOCK_EXCLUSIVE, NULL,
	    &l, &err), -1);
	/* The oldest holder is named, and the others counted. */
	assert_non_null(strstr(err.msg, "repository is locked (shared) by "
	    "qbk-backup (pid 99 on host h2, since "));
	assert_non_null(strstr(err.msg, "), and by 1 more"));
	assert_int_equal(records(f), 2);
}

static void
live_pid_without_host_lock_is_stale(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_lock *l;

	/* An exclusive record of this host whose pid exists (pid 1, or a
	 * recycled pid) but that holds no host lock: its process is gone. */
	put_record(f, "00000000000000dd", "exclusive", "qbk-prune", f->host, 1,
	    (int64_t)time(NULL));
	tu_log_reset();
	l = take(f, QBK_LOCK_SHARED, "qbk-backup");
	assert_non_null(strstr(tu_log_text(), "removed stale lock "
	    "'locks/00000000000000dd'"));
	assert_non_null(strstr(tu_log_text(), "no longer holds the host "
	    "lock"));
	/* A shared record of this host with a live pid stays: it could be
	 * a holder that shares the host lock with us. */
	put_record(f, "00000000000000ee", "shared", "qbk-backup", f->host, 1,
	    (int64_t)time(NULL));
	assert_int_equal(qbk_lock_release(l, &err), 0);
	l = take(f, QBK_LOCK_SHARED, "qbk-drill");
	assert_int_equal(records(f), 2);
	assert_int_equal(qbk_lock_release(l, &err), 0);
	/* But an exclusive locker on this host takes it for stale. */
	l = take(f, QBK_LOCK_EXCLUSIVE, "qbk-prune");
	assert_int_equal(records(f), 1);
	assert_int_equal(qbk_lock_release(l, &err), 0);
}

static void
unreadable_record(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_lock *l;
	struct timespec ts[2];
	char *p;

	assert_int_equal(qbk_store_put(f->store, "locks/garbage", "{\"x\":",
	    5, 0, &err), 0);
	assert_int_equal(qbk_lock_acquire(f->store, QBK_LOCK_SHARED, NULL, &l,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_LOCKED);
	assert_string_equal(err.msg, "repository is locked by an unreadable "
	    "lock record 'locks/garbage'");
	/* Once its file is old enough it is removed. */
	p = malloc(strlen(f->dir) + 32);
	sprintf(p, "%s/locks/garbage", f->dir);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 7200;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
	tu_log_reset();
	l = take(f, QBK_LOCK_SHARED, "qbk-backup");
	assert_non_null(strstr(tu_log_text(), "removed stale lock "
	    "'locks/garbage' of unknown holder"));
	assert_int_equal(qbk_lock_release(l, &err), 0);
	assert_int_equal(records(f), 0);
}

static int
check_info(void *cookie, const struct qbk_lock_info *i)
{
	struct fixture *f = cookie;

	assert_int_equal(i->kind, QBK_LOCK_EXCLUSIVE);
	assert_string_equal(i->program, "qbk-prune");
	assert_string_equal(i->host, f->host);
	assert_int_equal(i->pid, getpid());
	assert_true(i->time >= (int64_t)time(NULL) - 5);
	assert_int_equal(i->time, i->refreshed);
	return 5;
}

static void
record_format(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_lock_info info;
	struct qbk_lock *l;
	char key[64];

	l = take(f, QBK_LOCK_EXCLUSIVE, "qbk-prune");
	assert_int_equal(strlen(qbk_lock_id(l)), QBK_LOCK_ID_LEN);
	snprintf(key, sizeof(key), "locks/%s", qbk_lock_id(l));
	assert_int_equal(qbk_store_get(f->store, key, 4096, &b, &err), 0);
	assert_int_equal(strncmp(b.buf, "{\"format\":1,\"id\":\"", 18), 0);
	assert_non_null(strstr(b.buf, "\",\"kind\":\"exclusive\",\"program\":"
	    "\"qbk-prune\",\"host\":\""));
	assert_int_equal(qbk_lock_parse(b.buf, b.len, &info, &err), 0);
	assert_string_equal(info.id, qbk_lock_id(l));
	assert_int_equal(qbk_lock_list(f->store, check_info, f, &err), 5);
	qbk_buf_reset(&b);
	qbk_lock_describe(&info, &b);
	assert_int_equal(strncmp(b.buf, "qbk-prune (pid ", 15), 0);

	assert_int_equal(qbk_lock_parse("{}", 2, &info, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "'format'"));
	assert_int_equal(qbk_lock_parse("{\"format\":1,\"id\":\"xyz\"}", 23,
	    &info, &err), -1);
	assert_non_null(strstr(err.msg, "'id'"));
	assert_int_equal(qbk_lock_release(l, &err), 0);
	assert_int_equal(qbk_store_exists(f->store, key, &err), 0);
	qbk_buf_release(&b);
}

/* A pid of this host proves nothing without the same boot and PID
 * namespace: a container with host networking has our host name and pids
 * of its own. */
static void
pid_test_needs_same_boot_and_namespace(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf other = QBK_BUF_INIT;
	struct qbk_lock *l;
	int64_t now = (int64_t)time(NULL);

	/* pid 2^31-2 exists nowhere here. */
	put_record_as(f, "00000000000000a1", "shared", "qbk-backup", f->host,
	    2147483646L, now, "");
	put_record_as(f, "00000000000000a2", "shared", "qbk-backup", f->host,
	    2147483646L, now, ",\"boot_id\":\"00000000-0000-0000-0000-"
	    "000000000000\",\"pid_ns\":1");
	/* Our boot, another PID namespace. */
	our_proof_ns(&other, 1);
	put_record_as(f, "00000000000000a3", "shared", "qbk-backup", f->host,
	    2147483646L, now, other.buf);
	tu_log_reset();
	l = take(f, QBK_LOCK_SHARED, "qbk-drill");
	assert_null(strstr(tu_log_text(), "removed stale lock"));
	assert_int_equal(records(f), 4);
	assert_int_equal(qbk_lock_release(l, &err), 0);
	/* Proven: same boot, same namespace, no such process. */
	put_record(f, "00000000000000a4", "shared", "qbk-backup", f->host,
	    2147483646L, now);
	tu_log_reset();
	l = take(f, QBK_LOCK_SHARED, "qbk-drill");
	assert_non_null(strstr(tu_log_text(), "removed stale lock "
	    "'locks/00000000000000a4'"));
	assert_non_null(strstr(tu_log_text(), "its process is gone"));
	assert_int_equal(records(f), 4);
	assert_int_equal(qbk_lock_release(l, &err), 0);
	/* The unproven ones expire by time, by their own stale_after when
	 * that is longer than ours. */
	put_record_as(f, "00000000000000a5", "shared", "qbk-backup", "h9",
	    7, now - 2000, ",\"stale_after\":3600");
	put_record_as(f, "00000000000000a1", "shared", "qbk-backup", f->host,
	    2147483646L, now - 2000, "");
	tu_log_reset();
	l = take(f, QBK_LOCK_SHARED, "qbk-drill");
	assert_non_null(strstr(tu_log_text(), "removed stale lock "
	    "'locks/00000000000000a1'"));
	assert_null(strstr(tu_log_text(), "00000000000000a5"));
	assert_int_equal(records(f), 4);
	assert_int_equal(qbk_lock_release(l, &err), 0);
	qbk_buf_release(&other);
}

/* Poll ${fn} for up to 30 s: a test of a thread's work that does not
 * depend on how busy the machine is. */
static int
eventually(int (*fn)(struct fixture *, struct qbk_lock *), struct fixture *f,
    struct qbk_lock *l)
{
	int i;

	for (i = 0; i < 300; i++) {
		struct timespec ts = { 0, 100000000L };

		if (fn(f, l))
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int64_t refreshed_at;

static int
refreshed_later(struct fixture *f, struct qbk_lock *l)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_lock_info info;
	char key[64];
	int rc;

	snprintf(key, sizeof(key), "locks/%s", qbk_lock_id(l));
	assert_int_equal(qbk_store_get(f->store, key, 4096, &b, &err), 0);
	assert_int_equal(qbk_lock_parse(b.buf, b.len, &info, &err), 0);
	rc = info.refreshed > refreshed_at;
	assert_int_equal(info.stale_after, 3);
	assert_true(info.boot_id[0] != '\0');
	assert_true(info.pid_ns != 0);
	qbk_buf_release(&b);
	return rc;
}

static int
lost(struct fixture *f, struct qbk_lock *l)
{
	struct qbk_err err = QBK_ERR_INIT;

	(void)f;
	return qbk_lock_refresh(l, 0, &err) == -1 && err.code == QBK_E_LOCKED;
}

/* The record is refreshed by the lock's own thread, without any call by
 * the holder; once it is removed, the holder is cancelled and every
 * qbk_lock_refresh() says the lock is lost. */
static void
refresher_thread(void **state)
{
	struct fixture *f = *state;
	struct qbk_lock_opts o = QBK_LOCK_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	volatile sig_atomic_t cancel = 0;
	struct qbk_lock *l;
	char key[64];

	o.stale_s = 3;
	o.cancel = &cancel;
	assert_int_equal(qbk_lock_acquire(f->store, QBK_LOCK_SHARED, &o, &l,
	    &err), 0);
	refreshed_at = (int64_t)time(NULL);
	assert_true(eventually(refreshed_later, f, l));
	assert_int_equal(cancel, 0);
	assert_int_equal(qbk_lock_refresh(l, 0, &err), 0);
	assert_int_equal(qbk_lock_lost(l, &err), 0);
	snprintf(key, sizeof(key), "locks/%s", qbk_lock_id(l));
	tu_log_reset();
	assert_int_equal(qbk_store_delete(f->store, key, 0, &err), 0);
	assert_true(eventually(lost, f, l));
	assert_int_equal(cancel, 1);
	assert_int_equal(qbk_lock_lost(l, &err), 1);
	assert_int_equal(err.code, QBK_E_LOCKED);
	assert_non_null(strstr(err.msg, "lost the repository lock: another "
	    "process removed"));
	assert_non_null(strstr(tu_log_text(), "lost the repository lock"));
	assert_int_equal(qbk_lock_release(l, &err), 0);
	assert_int_equal(records(f), 0);
}

static void
refresh_and_lost(void **state)
{
	struct fixture *f = *state;
	struct qbk_lock_opts o = QBK_LOCK_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_lock_info info;
	struct qbk_lock *l;
	char key[64];

	o.refresh_s = 3600;
	assert_int_equal(qbk_lock_acquire(f->store, QBK_LOCK_SHARED, &o, &l,
	    &err), 0);
	snprintf(key, sizeof(key), "locks/%s", qbk_lock_id(l));
	/* Make the record look old, then refresh. */
	put_record(f, qbk_lock_id(l), "shared", "qbk", f->host,
	    (long)getpid(), (int64_t)time(NULL) - 600);
	assert_int_equal(qbk_lock_refresh(l, 0, &err), 0);	/* not due */
	assert_int_equal(qbk_store_get(f->store, key, 4096, &b, &err), 0);
	assert_int_equal(qbk_lock_parse(b.buf, b.len, &info, &err), 0);
	assert_true(info.refreshed < (int64_t)time(NULL) - 500);
	assert_int_equal(qbk_lock_refresh(l, 1, &err), 0);
	assert_int_equal(qbk_store_get(f->store, key, 4096, &b, &err), 0);
	assert_int_equal(qbk_lock_parse(b.buf, b.len, &info, &err), 0);
	assert_true(info.refreshed >= (int64_t)time(NULL) - 5);
	/* Someone took us for stale. */
	assert_int_equal(qbk_store_delete(f->store, key, 0, &err), 0);
	assert_int_equal(qbk_lock_refresh(l, 1, &err), -1);
	assert_int_equal(err.code, QBK_E_LOCKED);
	assert_non_null(strstr(err.msg, "lost the repository lock"));
	assert_int_equal(qbk_lock_release(l, &err), 0);
	qbk_buf_release(&b);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
wait_for_release(void **state)
{
	struct fixture *f = *state;
	struct qbk_lock_opts o = QBK_LOCK_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_lock *l;
	struct child c;
	double t0;
	char *r;
	pid_t pid;
	int st;

	child_start(&c, f, QBK_LOCK_EXCLUSIVE, "qbk-prune", 0);
	r = child_report(&c);
	assert_string_equal(r, "ok");
	free(r);

	/* Waiting 1 s is not enough: fails after about 1 s. */
	o.program = "qbk-backup";
	o.wait_s = 1;
	t0 = now_s();
	assert_int_equal(qbk_lock_acquire(f->store, QBK_LOCK_SHARED, &o, &l,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_LOCKED);
	assert_true(now_s() - t0 >= 0.9);
	assert_true(now_s() - t0 < 5);
	assert_non_null(strstr(tu_log_text(), "waiting up to 1s"));

	/* Let the holder go in 1.5 s, from a helper process. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec ts = { 1, 500000000 };

		nanosleep(&ts, NULL);
		close(c.go);
		_exit(0);
	}
	close(c.go);	/* our copy; the helper's copy holds the child */
	c.go = -1;
	o.wait_s = 20;
	t0 = now_s();
	assert_int_equal(qbk_lock_acquire(f->store, QBK_LOCK_SHARED, &o, &l,
	    &err), 0);
	assert_true(now_s() - t0 >= 1.2);
	assert_true(now_s() - t0 < 15);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(waitpid(c.pid, &st, 0), c.pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(records(f), 1);
	assert_int_equal(qbk_lock_release(l, &err), 0);
}

static void
wait_cancelled(void **state)
{
	struct fixture *f = *state;
	struct qbk_lock_opts o = QBK_LOCK_OPTS_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	volatile sig_atomic_t cancel = 1;
	struct qbk_lock *held, *l;

	held = take(f, QBK_LOCK_EXCLUSIVE, "qbk-prune");
	o.wait_s = 60;
	o.cancel = &cancel;
	assert_int_equal(qbk_lock_acquire(f->store, QBK_LOCK_SHARED, &o, &l,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_INTERRUPTED);
	assert_int_equal(qbk_lock_release(held, &err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(shared_with_shared, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(shared_blocks_exclusive, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(exclusive_blocks_everyone,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    pid_test_needs_same_boot_and_namespace, setup, teardown),
		cmocka_unit_test_setup_teardown(refresher_thread, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(dead_holder_is_stale, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(other_host_records, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    live_pid_without_host_lock_is_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(unreadable_record, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(record_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(refresh_and_lost, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(wait_for_release, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(wait_cancelled, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
