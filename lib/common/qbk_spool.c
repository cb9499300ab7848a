#define _GNU_SOURCE		/* O_TMPFILE, fallocate */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_spool.h"

#define PIECE	((size_t)1 << 20)	/* handed on at a time */

struct qbk_spool {
	int fd;
	uint64_t max;
	qbk_spool_fn *fn;
	void *cookie;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	uint64_t rd, wr;	/* file offsets: handed on, written */
	int done;		/* the producer has put everything */
	int stop;		/* abort: hand nothing more on */
	int failed;
	struct qbk_err err;
	uint8_t *buf;
	pthread_t feeder;
};

static int
open_file(struct qbk_err *err)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
		return fd;
	/* File systems without O_TMPFILE: a named file, unlinked at once. */
	if ((size_t)snprintf(path, sizeof(path), "%s/qbk-spool.XXXXXX",
	    dir) >= sizeof(path))
		return qbk_err_set(err, QBK_E_IO, "temporary folder name too "
		    "long: '%.100s...'", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
		return qbk_err_sys(err, QBK_E_IO, "cannot create a spool file "
		    "in '%s'", dir);
	unlink(path);
	return fd;
}

static void
set_failed(struct qbk_spool *sp, const struct qbk_err *err)
{
	pthread_mutex_lock(&sp->mu);
	if (!sp->failed) {
		sp->failed = 1;
		sp->err = *err;
	}
	pthread_cond_broadcast(&sp->cond);
	pthread_mutex_unlock(&sp->mu);
}

static void *
feed(void *arg)
{
	struct qbk_spool *sp = arg;
	struct qbk_err err = QBK_ERR_INIT;

	for (;;) {
		uint64_t off;
		size_t n, got = 0;

		pthread_mutex_lock(&sp->mu);
		while (sp->rd == sp->wr && !sp->done && !sp->stop &&
		    !sp->failed)
			pthread_cond_wait(&sp->cond, &sp->mu);
		if (sp->stop || sp->failed || sp->rd == sp->wr) {
			pthread_mutex_unlock(&sp->mu);
			return NULL;
		}
		off = sp->rd;
		n = sp->wr - sp->rd < PIECE ? (size_t)(sp->wr - sp->rd) : PIECE;
		pthread_mutex_unlock(&sp->mu);

		while (got < n) {
			ssize_t r = pread(sp->fd, sp->buf + got, n - got,
			    (off_t)(off + got));

			if (r <= 0) {
				if (r < 0 && errno == EINTR)
					continue;
				if (r == 0)
					errno = EIO;
				qbk_err_sys(&err, QBK_E_IO, "cannot read the "
				    "spool file");
				set_failed(sp, &err);
				return NULL;
			}
			got += (size_t)r;
		}
		if (sp->fn(sp->cookie, sp->buf, n, &err) != 0) {
			set_failed(sp, &err);
			return NULL;
		}
		/* Give the disk space back; where holes cannot be punched
		 * the file still starts over whenever it is drained. */
		(void)fallocate(sp->fd, FALLOC_FL_PUNCH_HOLE |
		    FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)n);
		pthread_mutex_lock(&sp->mu);
		sp->rd += n;
		if (sp->rd == sp->wr) {
			sp->rd = sp->wr = 0;
			if (ftruncate(sp->fd, 0) != 0) {
				pthread_mutex_unlock(&sp->mu);
				qbk_err_sys(&err, QBK_E_IO, "cannot empty the "
				    "spool file");
				set_failed(sp, &err);
				return NULL;
			}
		}
		pthread_cond_broadcast(&sp->cond);
		pthread_mutex_unlock(&sp->mu);
	}
}

int
qbk_spool_start(uint64_t max, qbk_spool_fn *fn, void *cookie,
    struct qbk_spool **out, struct qbk_err *err)
{
	struct qbk_spool *sp;

	*out = NULL;
	sp = qbk_xmalloc(sizeof(*sp));
	memset(sp, 0, sizeof(*sp));
	if ((sp->fd = open_file(err)) < 0) {
		free(sp);
		return -1;
	}
	sp->max = max > PIECE ? max : PIECE;
	sp->fn = fn;
	sp->cookie = cookie;
	sp->buf = qbk_xmalloc(PIECE);
	qbk_err_clear(&sp->err);
	pthread_mutex_init(&sp->mu, NULL);
	pthread_cond_init(&sp->cond, NULL);
	if (pthread_create(&sp->feeder, NULL, feed, sp) != 0) {
		pthread_mutex_destroy(&sp->mu);
		pthread_cond_destroy(&sp->cond);
		close(sp->fd);
		free(sp->buf);
		free(sp);
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot start a "
		    "thread");
	}
	*out = sp;
	return 0;
}

int
qbk_spool_put(struct qbk_spool *sp, const void *data, size_t len,
    struct qbk_err *err)
{
	const uint8_t *p = data;

	pthread_mutex_lock(&sp->mu);
	while (len > 0) {
		size_t n;

		while (sp->wr - sp->rd >= sp->max && !sp->failed)
			pthread_cond_wait(&sp->cond, &sp->mu);
		if (sp->failed)
			break;
		n = sp->max - (sp->wr - sp->rd) < len ?
		    (size_t)(sp->max - (sp->wr - sp->rd)) : len;
		/* Written under the lock: the feeder empties the file only
		 * when it has handed on all that is written. */
		while (n > 0) {
			ssize_t r = pwrite(sp->fd, p, n, (off_t)sp->wr);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				struct qbk_err e = QBK_ERR_INIT;

				if (r == 0)
					errno = EIO;
				qbk_err_sys(&e, QBK_E_IO, "cannot write the "
				    "spool file");
				sp->failed = 1;
				sp->err = e;
				pthread_cond_broadcast(&sp->cond);
				break;
			}
			sp->wr += (uint64_t)r;
			p += r;
			n -= (size_t)r;
			len -= (size_t)r;
		}
		pthread_cond_broadcast(&sp->cond);
	}
	if (sp->failed) {
		*err = sp->err;
		pthread_mutex_unlock(&sp->mu);
		return -1;
	}
	pthread_mutex_unlock(&sp->mu);
	return 0;
}

static int
destroy(struct qbk_spool *sp, struct qbk_err *err)
{
	int rc = 0;

	pthread_join(sp->feeder, NULL);
	if (sp->failed) {
		if (err != NULL)
			*err = sp->err;
		rc = -1;
	}
	pthread_mutex_destroy(&sp->mu);
	pthread_cond_destroy(&sp->cond);
	close(sp->fd);
	free(sp->buf);
	free(sp);
	return rc;
}

int
qbk_spool_finish(struct qbk_spool *sp, struct qbk_err *err)
{
	pthread_mutex_lock(&sp->mu);
	sp->done = 1;
	pthread_cond_broadcast(&sp->cond);
	pthread_mutex_unlock(&sp->mu);
	return destroy(sp, err);
}

void
qbk_spool_abort(struct qbk_spool *sp)
{
	if (sp == NULL)
		return;
	pthread_mutex_lock(&sp->mu);
	sp->stop = 1;
	pthread_cond_broadcast(&sp->cond);
	pthread_mutex_unlock(&sp->mu);
	(void)destroy(sp, NULL);
}
