#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_idset.h"
#include "common/qbk_log.h"
#include "common/qbk_sha256.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_job.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "stream/qbk_extract.h"

/* How often a waiting consumer looks at the cancel flag. */
#define CANCEL_POLL_NS	100000000L

enum slot_state {
	SLOT_FREE = 0,
	SLOT_BUSY,		/* a worker is fetching it */
	SLOT_READY,
	SLOT_FAILED
};

/* One chunk in flight: chunk number i lives in slot i % window. */
struct slot {
	size_t index;
	enum slot_state state;
	struct qbk_buf data;	/* the plaintext */
	struct qbk_err err;	/* SLOT_FAILED */
};

struct worker {
	struct qbk_extract *x;
	pthread_t thread;
	int started;
	struct qbk_chunk_work *w;
	struct qbk_buf obj;	/* the chunk object as stored */
};

struct qbk_extract {
	struct qbk_repo *repo;
	const struct qbk_manifest_snapshot *snap;
	char *backup_id;
	char *collection;
	volatile sig_atomic_t *cancel;
	unsigned nworkers;
	size_t window;
	struct worker *workers;
	struct slot *slots;

	pthread_mutex_t mu;
	pthread_cond_t work_cv;	/* to workers: a slot is free, or stop */
	pthread_cond_t ready_cv;	/* to the consumer: a slot is done */
	size_t next_fetch;	/* next chunk number to give a worker */
	size_t consumed;	/* chunks released by the consumer */
	size_t fail_index;	/* lowest failed chunk number, or SIZE_MAX */
	int stop;

	/* Consumer side, outside the lock. */
	struct slot *cur;	/* chunk being read, or NULL */
	size_t cur_off;
	uint64_t offset;
	struct qbk_sha256 *sha;
	int finished;		/* the hash was checked and matched */
	char sha_hex[2 * 32 + 1];
	int failed;		/* sticky error in ferr */
	struct qbk_err ferr;
};

unsigned
qbk_extract_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	if (n > QBK_EXTRACT_MAX_AUTO_WORKERS)
		return QBK_EXTRACT_MAX_AUTO_WORKERS;
	return (unsigned)n;
}

/* Put the backup, collection and snapshot in front of ${err}. */
static void
add_context(const struct qbk_extract *x, struct qbk_err *err)
{
	const char *name = x->snap->name != NULL ? x->snap->name : "";

	if (x->backup_id != NULL && x->collection != NULL)
		qbk_err_prefix(err, "backup '%s', collection '%s'",
		    x->backup_id, x->collection);
	else if (x->backup_id != NULL)
		qbk_err_prefix(err, "backup '%s', snapshot '%s'",
		    x->backup_id, name);
	else if (x->collection != NULL)
		qbk_err_prefix(err, "collection '%s'", x->collection);
	else
		qbk_err_prefix(err, "snapshot '%s'", name);
}

/* Fetch and decode chunk ${i} into ${s}; 0 or -1 with s->err. */
static int
fetch(struct worker *wk, size_t i, struct slot *s)
{
	struct qbk_extract *x = wk->x;
	const struct qbk_manifest_chunk *c = &x->snap->chunks[i];
	const uint8_t *plain;
	size_t len;
	char hex[2 * QBK_ID_LEN + 1];

	qbk_err_clear(&s->err);
	if (qbk_repo_chunk_get(x->repo, wk->w, c->id, &wk->obj, &plain, &len,
	    &s->err) != 0) {
		/* A chunk the manifest names but the repository lacks is
		 * damage to the backup, like a chunk that does not decode. */
		if (s->err.code == QBK_E_NOTFOUND)
			s->err.code = QBK_E_INTEGRITY;
		add_context(x, &s->err);
		return -1;
	}
	if (len != c->len) {
		qbk_id_to_hex(c->id, hex);
		qbk_err_set(&s->err, QBK_E_INTEGRITY, "chunk '%s' holds %zu "
		    "bytes but the manifest records %lu", hex, len,
		    (unsigned long)c->len);
		add_context(x, &s->err);
		return -1;
	}
	qbk_buf_reset(&s->data);
	qbk_buf_add(&s->data, plain, len);
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *wk = arg;
	struct qbk_extract *x = wk->x;
	size_t n = x->snap->n_chunks;

	pthread_mutex_lock(&x->mu);
	for (;;) {
		struct slot *s;
		size_t i;
		int rc;

		if (x->stop)
			break;
		if (qbk_job_stopped(x->cancel)) {
			/* The consumer notices the flag on its own. */
			x->stop = 1;
			pthread_cond_broadcast(&x->ready_cv);
			break;
		}
		if (x->next_fetch >= n ||
		    x->next_fetch >= x->consumed + x->window) {
			pthread_cond_wait(&x->work_cv, &x->mu);
			continue;
		}
		i = x->next_fetch++;
		s = &x->slots[i % x->window];
		s->index = i;
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&x->mu);
		rc = fetch(wk, i, s);
		pthread_mutex_lock(&x->mu);
		if (rc == 0)
			s->state = SLOT_READY;
		else {
			s->state = SLOT_FAILED;
			if (x->fail_index == SIZE_MAX || i < x->fail_index)
				x->fail_index = i;
			/* Nothing after a failure is of use. */
			x->stop = 1;
			pthread_cond_broadcast(&x->work_cv);
		}
		pthread_cond_broadcast(&x->ready_cv);
	}
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

static void
stop_workers(struct qbk_extract *x)
{
	unsigned i;

	pthread_mutex_lock(&x->mu);
	x->stop = 1;
	pthread_cond_broadcast(&x->work_cv);
	pthread_mutex_unlock(&x->mu);
	for (i = 0; i < x->nworkers; i++)
		if (x->workers[i].started) {
			pthread_join(x->workers[i].thread, NULL);
			x->workers[i].started = 0;
		}
}

/* Reset the stream to its first byte and start the workers. */
static int
start(struct qbk_extract *x, struct qbk_err *err)
{
	unsigned i, running = 0;
	size_t k;

	x->next_fetch = 0;
	x->consumed = 0;
	x->fail_index = SIZE_MAX;
	x->stop = 0;
	for (k = 0; k < x->window; k++)
		x->slots[k].state = SLOT_FREE;
	x->cur = NULL;
	x->cur_off = 0;
	x->offset = 0;
	x->finished = 0;
	x->sha_hex[0] = '\0';
	x->failed = 0;
	qbk_err_clear(&x->ferr);
	qbk_sha256_reset(x->sha);
	if (x->snap->n_chunks == 0)
		return 0;
	for (i = 0; i < x->nworkers; i++) {
		if (pthread_create(&x->workers[i].thread, NULL, worker_main,
		    &x->workers[i]) != 0)
			continue;
		x->workers[i].started = 1;
		running++;
	}
	if (running == 0)
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "cannot start a reader thread");
	if (running < x->nworkers)
		qbk_debug("extract: only %u of %u reader threads started",
		    running, x->nworkers);
	return 0;
}

int
qbk_extract_open(struct qbk_repo *repo,
    const struct qbk_manifest_snapshot *snap,
    const struct qbk_extract_opts *opts, struct qbk_extract **out,
    struct qbk_err *err)
{
	struct qbk_extract *x;
	pthread_condattr_t ca;
	uint32_t max = QBK_CHUNK_SIZE_LIMIT;
	size_t n = snap->n_chunks, k;
	unsigned i;

	*out = NULL;
	x = qbk_xcalloc(1, sizeof(*x));
	x->repo = repo;
	x->snap = snap;
	if (opts != NULL) {
		if (opts->backup_id != NULL)
			x->backup_id = qbk_xstrdup(opts->backup_id);
		if (opts->collection != NULL)
			x->collection = qbk_xstrdup(opts->collection);
		x->cancel = opts->cancel;
		x->nworkers = opts->workers;
		x->window = opts->window;
	}
	if (x->nworkers == 0)
		x->nworkers = qbk_extract_default_workers();
	if (n > 0 && x->nworkers > n)
		x->nworkers = (unsigned)n;
	if (x->window == 0)
		x->window = (size_t)x->nworkers *
		    QBK_EXTRACT_WINDOW_PER_WORKER;
	if (x->window < 2)
		x->window = 2;
	if (n > 0 && x->window > n)
		x->window = n;
	if (x->window == 0)
		x->window = 1;
	/* Decode scratch for the largest chunk this snapshot names (no
	 * larger than any decoder accepts). */
	if (n > 0) {
		max = 1;
		for (k = 0; k < n; k++)
			if (snap->chunks[k].len > max)
				max = snap->chunks[k].len;
		if (max > QBK_CHUNK_SIZE_LIMIT)
			max = QBK_CHUNK_SIZE_LIMIT;
	}
	x->workers = qbk_xcalloc(x->nworkers, sizeof(*x->workers));
	x->slots = qbk_xcalloc(x->window, sizeof(*x->slots));
	for (k = 0; k < x->window; k++)
		qbk_buf_init(&x->slots[k].data);
	for (i = 0; i < x->nworkers; i++) {
		x->workers[i].x = x;
		qbk_buf_init(&x->workers[i].obj);
	}
	pthread_mutex_init(&x->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->ready_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&x->work_cv, NULL);
	x->sha = qbk_sha256_new();
	if (n > 0)
		for (i = 0; i < x->nworkers; i++)
			if (qbk_chunk_work_new(max, &x->workers[i].w,
			    err) != 0)
				goto err;
	if (start(x, err) != 0)
		goto err;
	*out = x;
	return 0;
err:
	qbk_extract_close(x);
	return -1;
}

void
qbk_extract_close(struct qbk_extract *x)
{
	unsigned i;
	size_t k;

	if (x == NULL)
		return;
	stop_workers(x);
	for (i = 0; i < x->nworkers; i++) {
		qbk_chunk_work_free(x->workers[i].w);
		qbk_buf_release(&x->workers[i].obj);
	}
	for (k = 0; k < x->window; k++)
		qbk_buf_release(&x->slots[k].data);
	qbk_sha256_free(x->sha);
	pthread_cond_destroy(&x->work_cv);
	pthread_cond_destroy(&x->ready_cv);
	pthread_mutex_destroy(&x->mu);
	free(x->workers);
	free(x->slots);
	free(x->backup_id);
	free(x->collection);
	free(x);
}

int
qbk_extract_rewind(struct qbk_extract *x, struct qbk_err *err)
{
	stop_workers(x);
	if (start(x, err) != 0) {
		x->failed = 1;
		x->ferr = *err;
		return -1;
	}
	return 0;
}

/* Record a sticky failure (in ${x->ferr}) and return -1. */
static int
fail(struct qbk_extract *x, struct qbk_err *err)
{
	x->failed = 1;
	if (err != NULL)
		*err = x->ferr;
	/* Workers have nothing more to do. */
	pthread_mutex_lock(&x->mu);
	x->stop = 1;
	pthread_cond_broadcast(&x->work_cv);
	pthread_mutex_unlock(&x->mu);
	return -1;
}

/* The whole stream was hashed: compare with the manifest. */
static int
check_hash(struct qbk_extract *x)
{
	uint8_t md[QBK_SHA256_LEN];

	qbk_sha256_final(x->sha, md);
	qbk_hex(md, sizeof(md), x->sha_hex);
	if (strcmp(x->sha_hex, x->snap->sha256) != 0) {
		qbk_err_set(&x->ferr, QBK_E_INTEGRITY, "snapshot '%s' does "
		    "not match its SHA-256: the manifest records %s, the "
		    "chunks give %s", x->snap->name != NULL ? x->snap->name :
		    "", x->snap->sha256, x->sha_hex);
		x->sha_hex[0] = '\0';
		add_context(x, &x->ferr);
		return -1;
	}
	x->finished = 1;
	return 0;
}

/* Release the current chunk's slot to the workers. */
static void
release_cur(struct qbk_extract *x)
{
	if (x->cur == NULL)
		return;
	pthread_mutex_lock(&x->mu);
	x->cur->state = SLOT_FREE;
	x->consumed++;
	pthread_cond_broadcast(&x->work_cv);
	pthread_mutex_unlock(&x->mu);
	x->cur = NULL;
	x->cur_off = 0;
}

/* Wait for the next chunk in order and make it current: 1, 0 at the end,
 * or -1 (sticky error set). */
static int
take(struct qbk_extract *x)
{
	size_t n = x->snap->n_chunks, i;
	struct slot *s;
	struct timespec ts;

	release_cur(x);
	if (qbk_job_stopped(x->cancel)) {
		qbk_err_set(&x->ferr, QBK_E_INTERRUPTED, "interrupted");
		return -1;
	}
	i = x->consumed;
	if (i >= n) {
		if (!x->finished) {
			/* Only for a snapshot without chunks: the last
			 * chunk of any other was checked when taken. */
			if (check_hash(x) != 0)
				return -1;
		}
		if (x->offset != x->snap->size) {
			qbk_err_set(&x->ferr, QBK_E_INTEGRITY, "snapshot is "
			    "%llu bytes but the manifest records %llu",
			    (unsigned long long)x->offset,
			    (unsigned long long)x->snap->size);
			add_context(x, &x->ferr);
			return -1;
		}
		return 0;
	}
	s = &x->slots[i % x->window];
	pthread_mutex_lock(&x->mu);
	for (;;) {
		if (s->index == i && s->state == SLOT_READY)
			break;
		if (x->fail_index != SIZE_MAX) {
			/* Report the earliest failure now rather than after
			 * the chunks before it were delivered. */
			x->ferr = x->slots[x->fail_index % x->window].err;
			pthread_mutex_unlock(&x->mu);
			return -1;
		}
		if (qbk_job_stopped(x->cancel)) {
			pthread_mutex_unlock(&x->mu);
			qbk_err_set(&x->ferr, QBK_E_INTERRUPTED,
			    "interrupted");
			return -1;
		}
		if (x->cancel == NULL)
			pthread_cond_wait(&x->ready_cv, &x->mu);
		else {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += CANCEL_POLL_NS;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&x->ready_cv, &x->mu, &ts);
		}
	}
	pthread_mutex_unlock(&x->mu);
	x->cur = s;
	x->cur_off = 0;
	qbk_sha256_update(x->sha, s->data.buf, s->data.len);
	/* The last chunk: check the hash before handing out any of it. */
	if (i + 1 == n && check_hash(x) != 0)
		return -1;
	return 1;
}

int
qbk_extract_next(struct qbk_extract *x, const void **data, size_t *len,
    struct qbk_err *err)
{
	int rc;

	*data = NULL;
	*len = 0;
	if (x->failed) {
		if (err != NULL)
			*err = x->ferr;
		return -1;
	}
	/* Hand out what a read() left of the current chunk first. */
	if (x->cur != NULL && x->cur_off < x->cur->data.len) {
		*data = x->cur->data.buf + x->cur_off;
		*len = x->cur->data.len - x->cur_off;
		x->cur_off = x->cur->data.len;
		x->offset += *len;
		return 1;
	}
	for (;;) {
		if ((rc = take(x)) < 0)
			return fail(x, err);
		if (rc == 0)
			return 0;
		if (x->cur->data.len > 0)
			break;
	}
	*data = x->cur->data.buf;
	*len = x->cur->data.len;
	x->cur_off = x->cur->data.len;
	x->offset += *len;
	return 1;
}

ssize_t
qbk_extract_read(struct qbk_extract *x, void *buf, size_t len,
    struct qbk_err *err)
{
	size_t n;
	int rc;

	if (x->failed) {
		if (err != NULL)
			*err = x->ferr;
		return -1;
	}
	if (len == 0)
		return 0;
	while (x->cur == NULL || x->cur_off >= x->cur->data.len) {
		if ((rc = take(x)) < 0)
			return fail(x, err);
		if (rc == 0)
			return 0;
	}
	n = x->cur->data.len - x->cur_off;
	if (n > len)
		n = len;
	if (n > (size_t)SSIZE_MAX)
		n = (size_t)SSIZE_MAX;
	memcpy(buf, x->cur->data.buf + x->cur_off, n);
	x->cur_off += n;
	x->offset += n;
	return (ssize_t)n;
}

ssize_t
qbk_extract_read_cb(void *cookie, void *buf, size_t len, struct qbk_err *err)
{
	return qbk_extract_read(cookie, buf, len, err);
}

int
qbk_extract_rewind_cb(void *cookie, struct qbk_err *err)
{
	return qbk_extract_rewind(cookie, err);
}

int
qbk_extract_next_cb(void *cookie, const void **data, size_t *len,
    struct qbk_err *err)
{
	return qbk_extract_next(cookie, data, len, err);
}

uint64_t
qbk_extract_offset(const struct qbk_extract *x)
{
	return x->offset;
}

uint64_t
qbk_extract_size(const struct qbk_extract *x)
{
	return x->snap->size;
}

const char *
qbk_extract_sha256(const struct qbk_extract *x)
{
	return x->finished ? x->sha_hex : NULL;
}

int
qbk_extract_run(struct qbk_repo *repo,
    const struct qbk_manifest_snapshot *snap, qbk_extract_write_fn *write,
    void *cookie, const struct qbk_extract_opts *opts, struct qbk_err *err)
{
	struct qbk_extract *x;
	const void *data;
	size_t len;
	int rc;

	if (qbk_extract_open(repo, snap, opts, &x, err) != 0)
		return -1;
	while ((rc = qbk_extract_next(x, &data, &len, err)) > 0)
		if (write(cookie, data, len, err) != 0) {
			rc = -1;
			break;
		}
	qbk_extract_close(x);
	return rc;
}
