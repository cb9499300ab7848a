#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
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
#include "common/qbk_fs.h"
#include "testutil.h"

static char *
path2(const char *a, const char *b)
{
	struct qbk_buf p = QBK_BUF_INIT;

	qbk_buf_addf(&p, "%s/%s", a, b);
	return qbk_buf_detach(&p, NULL);
}

/* The names in ${dir}, sorted, separated by spaces ("" if empty). */
static char *
names_in(const char *dir)
{
	struct qbk_buf b = QBK_BUF_INIT;
	char *v[64];
	size_t n = 0, i, j;
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL && n < 64)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			v[n++] = strdup(de->d_name);
	closedir(d);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(v[i], v[j]) > 0) {
				char *t = v[i];

				v[i] = v[j];
				v[j] = t;
			}
	for (i = 0; i < n; i++) {
		qbk_buf_addf(&b, "%s%s", i > 0 ? " " : "", v[i]);
		free(v[i]);
	}
	return qbk_buf_detach(&b, NULL);
}

static void
assert_names(const char *dir, const char *want)
{
	char *got = names_in(dir);

	assert_string_equal(got, want);
	free(got);
}

static void
assert_file(const char *path, const char *content, mode_t mode)
{
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct stat st;

	assert_int_equal(qbk_fs_read_file(path, 1 << 20, &b, &err), 0);
	assert_int_equal(b.len, strlen(content));
	assert_memory_equal(b.buf, content, b.len);
	qbk_buf_release(&b);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
}

static int
setup(void **state)
{
	umask(022);
	*state = tu_tmpdir("fs");
	return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	tu_rmrf(*state);
	return 0;
}

static void
write_atomic_creates_and_replaces(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	char *p = path2(dir, "config");

	assert_int_equal(qbk_fs_write_atomic(dir, "config", "hello", 5, 0,
	    &err), 0);
	assert_file(p, "hello", 0600);
	assert_names(dir, "config");
	/* Replacing goes through a new inode, never a rewrite in place. */
	assert_int_equal(qbk_fs_write_atomic(dir, "config", "bye!!!", 6, 0,
	    &err), 0);
	assert_file(p, "bye!!!", 0600);
	assert_names(dir, "config");
	/* Empty files are fine too. */
	assert_int_equal(qbk_fs_write_atomic(dir, "empty", "", 0,
	    QBK_FS_NOSYNC, &err), 0);
	free(p);
	p = path2(dir, "empty");
	assert_file(p, "", 0600);
	assert_names(dir, "config empty");
	free(p);
}

static void
write_atomic_noreplace(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	char *p = path2(dir, "chunk");

	assert_int_equal(qbk_fs_write_atomic(dir, "chunk", "first", 5,
	    QBK_FS_NOREPLACE, &err), 0);
	assert_int_equal(qbk_fs_write_atomic(dir, "chunk", "second", 6,
	    QBK_FS_NOREPLACE, &err), 1);
	assert_file(p, "first", 0600);
	assert_names(dir, "chunk");
	free(p);
}

static void
write_atomic_mkdir(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	char *sub = path2(dir, "data/ab");
	char *p = path2(sub, "x");
	struct stat st;

	assert_int_equal(qbk_fs_write_atomic(sub, "x", "1", 1, 0, &err), -1);
	assert_int_equal(err.code, QBK_E_IO);
	assert_int_equal(err.sys_errno, ENOENT);
	assert_non_null(strstr(err.msg, "cannot create"));
	assert_names(dir, "");
	assert_int_equal(qbk_fs_write_atomic(sub, "x", "1", 1, QBK_FS_MKDIR,
	    &err), 0);
	assert_file(p, "1", 0600);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	free(p);
	p = path2(dir, "data");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	free(p);
	free(sub);
}

static void
write_atomic_readable(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	char *p = path2(dir, "qbk_backup.prom");
	mode_t old = umask(077);

	/* Metrics for a collector that runs as another user: 0644 even
	 * under the umask of qbk's systemd units. */
	assert_int_equal(qbk_fs_write_atomic(dir, "qbk_backup.prom", "x 1\n",
	    4, QBK_FS_READABLE, &err), 0);
	assert_file(p, "x 1\n", 0644);
	/* Without the flag the umask still only takes bits away. */
	assert_int_equal(qbk_fs_write_atomic(dir, "qbk_backup.prom", "x 2\n",
	    4, 0, &err), 0);
	assert_file(p, "x 2\n", 0600);
	assert_names(dir, "qbk_backup.prom");
	umask(old);
	free(p);
}

static void
invalid_names_refused(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	char longname[300];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(qbk_fs_write_atomic(dir, "a/b", "x", 1, 0, &err), -1);
	assert_int_equal(qbk_fs_write_atomic(dir, "..", "x", 1, 0, &err), -1);
	assert_int_equal(qbk_fs_write_atomic(dir, "", "x", 1, 0, &err), -1);
	assert_int_equal(qbk_fs_write_atomic(dir, longname, "x", 1, 0, &err),
	    -1);
	assert_names(dir, "");
}

static void
streaming_commit_and_abort(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_fs_atomic *a;
	char *p = path2(dir, "manifest");
	const char *tmp, *base;

	assert_int_equal(qbk_fs_atomic_open(dir, "manifest", 0, &a, &err), 0);
	tmp = qbk_fs_atomic_path(a);
	base = strrchr(tmp, '/') + 1;
	assert_true(qbk_fs_is_temp_name(base));
	assert_int_equal(strncmp(base, ".manifest.tmp.", 14), 0);
	assert_int_equal(access(tmp, F_OK), 0);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(qbk_fs_atomic_write(a, "abc", 3, &err), 0);
	assert_int_equal(qbk_fs_atomic_write(a, "", 0, &err), 0);
	assert_int_equal(qbk_fs_atomic_write(a, "defg", 4, &err), 0);
	/* Nothing visible under the final name before the commit. */
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(qbk_fs_atomic_commit(a, &err), 0);
	assert_file(p, "abcdefg", 0600);
	assert_names(dir, "manifest");

	assert_int_equal(qbk_fs_atomic_open(dir, "other", 0, &a, &err), 0);
	assert_int_equal(qbk_fs_atomic_write(a, "zz", 2, &err), 0);
	qbk_fs_atomic_abort(a);
	qbk_fs_atomic_abort(NULL);
	assert_names(dir, "manifest");
	free(p);
}

static void
batch_commit(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_fs_batch *b = qbk_fs_batch_new();
	struct qbk_fs_atomic *a;
	char name[16], *p;
	int i;

	assert_int_equal(qbk_fs_write_atomic(dir, "f1", "old", 3, 0, &err), 0);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(qbk_fs_atomic_open(dir, name, QBK_FS_NOSYNC |
		    QBK_FS_NOREPLACE, &a, &err), 0);
		assert_int_equal(qbk_fs_atomic_write(a, name, 2, &err), 0);
		assert_int_equal(qbk_fs_atomic_defer(a, b, &err), 0);
	}
	assert_int_equal(qbk_fs_batch_count(b), 3);
	/* Nothing renamed yet: three temporary files wait. */
	p = names_in(dir);
	assert_int_equal(strncmp(p, ".f0.tmp.", 8), 0);
	free(p);
	assert_int_equal(qbk_fs_batch_commit(b, dir, &err), 0);
	assert_int_equal(qbk_fs_batch_count(b), 0);
	assert_names(dir, "f0 f1 f2");
	p = path2(dir, "f1");
	assert_file(p, "old", 0600);	/* NOREPLACE kept it */
	free(p);
	p = path2(dir, "f2");
	assert_file(p, "f2", 0600);
	free(p);
	assert_int_equal(qbk_fs_batch_commit(b, dir, &err), 0);

	/* Freeing a batch drops what it holds. */
	assert_int_equal(qbk_fs_atomic_open(dir, "f3", 0, &a, &err), 0);
	assert_int_equal(qbk_fs_atomic_defer(a, b, &err), 0);
	qbk_fs_batch_free(b);
	qbk_fs_batch_free(NULL);
	assert_names(dir, "f0 f1 f2");

	/* A failing commit removes what it could not rename. */
	b = qbk_fs_batch_new();
	assert_int_equal(qbk_fs_atomic_open(dir, "f4", 0, &a, &err), 0);
	assert_int_equal(qbk_fs_atomic_defer(a, b, &err), 0);
	p = path2(dir, "nope");
	assert_int_equal(qbk_fs_batch_commit(b, p, &err), -1);
	assert_non_null(strstr(err.msg, "cannot open"));
	assert_int_equal(qbk_fs_batch_count(b), 0);
	assert_names(dir, "f0 f1 f2");
	assert_int_equal(qbk_fs_syncfs(dir, &err), 0);
	free(p);
	qbk_fs_batch_free(b);
}

/*
 * Run ${fn} in a child process (so that setuid and setrlimit do not touch
 * the test runner) and return what it wrote to the pipe: "<code> <msg>".
 */
static char *
in_child(void (*fn)(const char *, int), const char *dir)
{
	char buf[1024];
	size_t len = 0;
	ssize_t n;
	int fds[2], st;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		fn(dir, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	while (len < sizeof(buf) - 1 &&
	    (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	return strdup(buf);
}

static void
report(int fd, int rc, const struct qbk_err *err)
{
	char buf[700];
	int n = snprintf(buf, sizeof(buf), "%d %s %s", rc,
	    qbk_err_code_name(err->code), err->msg);

	if (write(fd, buf, (size_t)n) != n)
		_exit(3);
}

static void
child_unwritable(const char *dir, int fd)
{
	struct qbk_err err = QBK_ERR_INIT;
	char *ro = path2(dir, "ro");
	int rc;

	/* Root may write anywhere: drop to nobody first. */
	if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
		_exit(2);
	rc = qbk_fs_write_atomic(ro, "config", "data", 4, 0, &err);
	report(fd, rc, &err);
	free(ro);
}

static void
unwritable_folder_fails_cleanly(void **state)
{
	const char *dir = *state;
	char *ro = path2(dir, "ro");
	char *out;

	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(mkdir(ro, 0555), 0);
	out = in_child(child_unwritable, dir);
	assert_int_equal(strncmp(out, "-1 io cannot create '", 21), 0);
	assert_non_null(strstr(out, "/ro/.config.tmp."));
	assert_non_null(strstr(out, "': Permission denied"));
	free(out);
	assert_names(ro, "");
	free(ro);
}

static void
child_fsize(const char *dir, int fd)
{
	struct qbk_err err = QBK_ERR_INIT, err2 = QBK_ERR_INIT;
	struct rlimit rl = { 4096, 4096 };
	struct qbk_fs_atomic *a;
	static char big[65536];
	int rc;

	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		_exit(2);
	memset(big, 'v', sizeof(big));
	rc = qbk_fs_write_atomic(dir, "snapshot", big, sizeof(big), 0, &err);
	if (rc != -1 || err.code != QBK_E_NOSPACE)
		_exit(4);
	/* The streaming variant fails the same way and aborts cleanly. */
	if (qbk_fs_atomic_open(dir, "stream", 0, &a, &err2) != 0)
		_exit(5);
	if (qbk_fs_atomic_write(a, big, 1000, &err2) != 0)
		_exit(6);
	if (qbk_fs_atomic_write(a, big, sizeof(big), &err2) != -1 ||
	    err2.code != QBK_E_NOSPACE || strstr(err2.msg, "/stream'") == NULL)
		_exit(7);
	if (qbk_fs_atomic_commit(a, NULL) != -1)	/* also frees a */
		_exit(8);
	report(fd, rc, &err);
}

static void
file_size_limit_is_nospace(void **state)
{
	const char *dir = *state;
	char *out = in_child(child_fsize, dir);

	assert_int_equal(strncmp(out, "-1 nospace cannot write '", 25), 0);
	assert_non_null(strstr(out, "/snapshot': File too large"));
	free(out);
	/* Neither a temporary file nor a partial final file is left. */
	assert_names(dir, "");
}

static void
touch(const char *dir, const char *name, time_t age)
{
	char *p = path2(dir, name);
	struct timespec ts[2];

	assert_int_equal(tu_write_file(p, "x"), 0);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
}

static void
stale_temps_removed(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	char *sub = path2(dir, "data/ab");
	char *data = path2(dir, "data");
	size_t removed = 0;

	assert_int_equal(qbk_fs_mkdir_p(sub, 0, &err), 0);
	touch(dir, ".config.tmp.123.0badc0de", 7200);	/* stale */
	touch(dir, ".config.tmp.124.0badc0df", 10);	/* fresh */
	touch(dir, "config", 7200);			/* not a temp */
	touch(dir, ".lock", 7200);			/* not a temp */
	touch(dir, ".x.tmp.12.0BADC0DE", 7200);		/* upper case */
	touch(sub, ".abcd.tmp.1.00000000", 7200);	/* stale, deeper */
	touch(sub, ".abcd.tmp.x.00000000", 7200);	/* no pid */
	assert_int_equal(qbk_fs_remove_stale_temps(dir, 3600, 0, &removed,
	    &err), 0);
	assert_int_equal(removed, 1);
	assert_names(dir, ".config.tmp.124.0badc0df .lock .x.tmp.12.0BADC0DE "
	    "config data");
	assert_names(sub, ".abcd.tmp.1.00000000 .abcd.tmp.x.00000000");
	assert_int_equal(qbk_fs_remove_stale_temps(dir, 3600, 1, &removed,
	    &err), 0);
	assert_int_equal(removed, 2);
	assert_names(sub, ".abcd.tmp.x.00000000");
	assert_int_equal(qbk_fs_remove_stale_temps(dir, 5, 1, NULL, &err), 0);
	assert_names(dir, ".lock .x.tmp.12.0BADC0DE config data");
	/* A missing folder is not an error. */
	free(sub);
	sub = path2(dir, "nope");
	assert_int_equal(qbk_fs_remove_stale_temps(sub, 5, 1, NULL, &err), 0);
	free(sub);
	free(data);
}

static void
temp_names(void **state)
{
	(void)state;
	assert_true(qbk_fs_is_temp_name(".a.tmp.1.00000000"));
	assert_true(qbk_fs_is_temp_name(".config.tmp.4242.deadbeef"));
	assert_true(qbk_fs_is_temp_name(".a.tmp.b.tmp.1.0123abcd"));
	assert_false(qbk_fs_is_temp_name("a.tmp.1.00000000"));
	assert_false(qbk_fs_is_temp_name("..tmp.1.00000000"));
	assert_false(qbk_fs_is_temp_name(".a.tmp..00000000"));
	assert_false(qbk_fs_is_temp_name(".a.tmp.1.0000000"));
	assert_false(qbk_fs_is_temp_name(".a.tmp.1.000000000"));
	assert_false(qbk_fs_is_temp_name(".a.tmp.1.0000000g"));
	assert_false(qbk_fs_is_temp_name(".a.tmq.1.00000000"));
	assert_false(qbk_fs_is_temp_name(".lock"));
	assert_false(qbk_fs_is_temp_name(""));
}

static void
registry_cleanup(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_fs_temp *t1, *t2, *t3;
	struct qbk_fs_atomic *a;
	char *p1 = path2(dir, "one"), *p2 = path2(dir, "two");
	char *p3 = path2(dir, "three");
	char longpath[QBK_FS_PATH_MAX + 10];
	int i;

	assert_int_equal(tu_write_file(p1, "1"), 0);
	assert_int_equal(tu_write_file(p2, "2"), 0);
	assert_int_equal(qbk_fs_temp_register(p1, &t1, &err), 0);
	assert_int_equal(qbk_fs_temp_register(p2, &t2, &err), 0);
	qbk_fs_temp_unregister(t2);
	qbk_fs_cleanup_temps();
	assert_int_equal(access(p1, F_OK), -1);
	assert_int_equal(access(p2, F_OK), 0);
	/* The owner of a cleaned-up registration still unregisters it. */
	qbk_fs_temp_unregister(t1);
	qbk_fs_temp_unregister(NULL);
	/* Registrations are reused, and a second cleanup works. */
	for (i = 0; i < 100; i++) {
		assert_int_equal(qbk_fs_temp_register(p3, &t3, &err), 0);
		qbk_fs_temp_unregister(t3);
	}
	assert_int_equal(tu_write_file(p3, "3"), 0);
	assert_int_equal(qbk_fs_temp_register(p3, &t3, &err), 0);
	qbk_fs_cleanup_temps();
	assert_int_equal(access(p3, F_OK), -1);
	qbk_fs_temp_unregister(t3);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(qbk_fs_temp_register(longpath, &t3, &err), -1);
	assert_null(t3);

	/* An interrupted writer's temp file disappears and its commit fails
	 * without creating the final name. */
	assert_int_equal(qbk_fs_atomic_open(dir, "four", 0, &a, &err), 0);
	assert_int_equal(qbk_fs_atomic_write(a, "data", 4, &err), 0);
	qbk_fs_cleanup_temps();
	assert_int_equal(qbk_fs_atomic_commit(a, &err), -1);
	assert_non_null(strstr(err.msg, "cannot rename"));
	assert_names(dir, "two");
	free(p1);
	free(p2);
	free(p3);
}

static void
read_file_limits(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	char *p = path2(dir, "f"), *missing = path2(dir, "missing");

	assert_int_equal(tu_write_file(p, "0123456789"), 0);
	assert_int_equal(qbk_fs_read_file(p, 10, &b, &err), 0);
	assert_string_equal(b.buf, "0123456789");
	assert_int_equal(qbk_fs_read_file(p, 9, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "larger than 9 bytes"));
	assert_int_equal(b.len, 0);
	assert_int_equal(qbk_fs_read_file(missing, 10, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_int_equal(qbk_fs_read_file(dir, 10, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_IO);
	assert_non_null(strstr(err.msg, "not a regular file"));
	qbk_buf_release(&b);
	free(p);
	free(missing);
}

static int
count_cb(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	struct qbk_buf *b = cookie;

	(void)err;
	qbk_buf_add(b, data, len);
	return 0;
}

static int
fail_cb(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	(void)cookie;
	(void)data;
	(void)len;
	return qbk_err_set(err, QBK_E_INTEGRITY, "stop here");
}

static void
read_stream(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b = QBK_BUF_INIT;
	size_t len = 3 * 1024 * 1024 + 17, i;
	char *data = malloc(len), *missing = path2(dir, "nope");
	char *p = path2(dir, "big");

	for (i = 0; i < len; i++)
		data[i] = (char)(i * 7);
	assert_int_equal(qbk_fs_write_atomic(dir, "big", data, len,
	    QBK_FS_NOSYNC, &err), 0);
	assert_int_equal(qbk_fs_read_stream(p, count_cb, &b, &err), 0);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.buf, data, len);
	assert_int_equal(qbk_fs_read_stream(p, fail_cb, NULL, &err), -1);
	assert_string_equal(err.msg, "stop here");
	assert_int_equal(qbk_fs_read_stream(missing, count_cb, &b, &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	qbk_buf_release(&b);
	free(data);
	free(p);
	free(missing);
}

static void
mkdir_p_cases(void **state)
{
	const char *dir = *state;
	struct qbk_err err = QBK_ERR_INIT;
	char *deep = path2(dir, "a//b/c/");
	char *file = path2(dir, "file");
	char *under = path2(dir, "file/sub");
	char *c = path2(dir, "a/b/c");
	struct stat st;

	assert_int_equal(qbk_fs_mkdir_p(deep, 0, &err), 0);
	assert_int_equal(stat(c, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(qbk_fs_mkdir_p(deep, 0, &err), 0);
	assert_int_equal(qbk_fs_mkdir_p(c, QBK_FS_NOSYNC, &err), 0);
	assert_int_equal(tu_write_file(file, "x"), 0);
	assert_int_equal(qbk_fs_mkdir_p(file, 0, &err), -1);
	assert_int_equal(err.sys_errno, ENOTDIR);
	assert_non_null(strstr(err.msg, "cannot create folder"));
	assert_int_equal(qbk_fs_mkdir_p(under, 0, &err), -1);
	assert_int_equal(err.code, QBK_E_IO);
	assert_int_equal(qbk_fs_fsync_dir(c, &err), 0);
	assert_int_equal(qbk_fs_fsync_dir(under, &err), -1);
	free(deep);
	free(file);
	free(under);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    write_atomic_creates_and_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(write_atomic_noreplace, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(write_atomic_mkdir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(write_atomic_readable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(invalid_names_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(streaming_commit_and_abort,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(batch_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    unwritable_folder_fails_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(file_size_limit_is_nospace,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(stale_temps_removed, setup,
		    teardown),
		cmocka_unit_test(temp_names),
		cmocka_unit_test_setup_teardown(registry_cleanup, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(read_file_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(read_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(mkdir_p_cases, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
