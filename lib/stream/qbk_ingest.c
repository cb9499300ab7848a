#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_log.h"
#include "common/qbk_sha256.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_job.h"
#include "repo/qbk_repo.h"
#include "stream/qbk_tar.h"
#include "stream/qbk_ingest.h"

/*
 * Threads and hand-overs:
 *
 *   writer (caller) --blocks--> scanner --jobs--> workers
 *
 * blocks: a ring of opts.blocks buffers; `full` holds filled ones in stream
 * order, `free_blocks` empty ones.  jobs: a FIFO of chunk copies, bounded by
 * the number of job buffers.  Chunk results are written by the workers into
 * slots that the scanner allocated in stream order; slots live in fixed
 * segments that never move, so no lock is needed to fill one.
 *
 * Every wait loop also wakes on `failed`, which any thread sets (with the
 * first error) under the lock; the other threads then stop at once.
 */

#define SEG_SHIFT	12
#define SEG_LEN		((size_t)1 << SEG_SHIFT)

struct slot {
	uint8_t id[32];
	uint32_t len;
};

struct block {
	uint8_t *data;
	size_t len;
};

struct job {
	uint8_t *data;		/* a buffer of the chunker's max size */
	size_t len;
	struct slot *slot;
};

struct qbk_ingest {
	struct qbk_repo *repo;
	struct qbk_ingest_opts opts;
	const struct qbk_chunk_codec *codec;

	pthread_mutex_t lock;
	pthread_cond_t cond;	/* any state change; few threads, so one */
	int failed;
	struct qbk_err err;	/* the first error */

	/* Ring of blocks. */
	struct block *blocks;
	size_t *full;		/* FIFO of block indices */
	size_t full_head, full_n;
	size_t *free_blocks;	/* stack of block indices */
	size_t free_n;
	size_t cur;		/* block being filled by the writer, or -1 */
	int eof;		/* writer is done */

	/* Jobs. */
	struct job *jobs;	/* FIFO storage, njobs entries */
	size_t jobs_head, jobs_n, njobs;
	uint8_t **job_bufs;	/* stack of free chunk buffers */
	size_t job_bufs_n;
	int scan_done;		/* no more jobs will come */
	size_t busy;		/* jobs taken by workers, not done */

	/* Results. */
	struct slot **segs;
	size_t nsegs, segs_alloc;
	size_t nchunks;
	uint64_t chunks_new, bytes_new, stored_new, chunks_healed;
	uint64_t bytes;
	uint8_t sha256[32];
	struct qbk_ingest_entry *entries;
	size_t nentries;

	/* Scanner state. */
	struct qbk_chunk_cdc *cdc;
	struct qbk_sha256 *sha;
	size_t held;		/* block lent to libarchive, or -1 */
	int tar_failed;
	struct qbk_err tar_err;

	pthread_t scanner;
	pthread_t *workers;
	unsigned nworkers, started_workers;
	int scanner_started;
};

static int
fail(struct qbk_ingest *in, const struct qbk_err *err)
{
	pthread_mutex_lock(&in->lock);
	if (!in->failed) {
		in->failed = 1;
		in->err = *err;
	}
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	return -1;
}

static int
cancelled(struct qbk_ingest *in)
{
	struct qbk_err err = QBK_ERR_INIT;

	if (!qbk_job_stopped(in->opts.cancel))
		return 0;
	qbk_err_set(&err, QBK_E_INTERRUPTED, "interrupted");
	fail(in, &err);
	return 1;
}

/* Writer side. */

int
qbk_ingest_write(struct qbk_ingest *in, const void *data, size_t len,
    struct qbk_err *err)
{
	const uint8_t *p = data;

	while (len > 0) {
		struct block *b;
		size_t n;

		if (in->cur == (size_t)-1) {
			pthread_mutex_lock(&in->lock);
			while (in->free_n == 0 && !in->failed)
				pthread_cond_wait(&in->cond, &in->lock);
			if (in->failed) {
				if (err != NULL)
					*err = in->err;
				pthread_mutex_unlock(&in->lock);
				return -1;
			}
			in->cur = in->free_blocks[--in->free_n];
			pthread_mutex_unlock(&in->lock);
			in->blocks[in->cur].len = 0;
		}
		b = &in->blocks[in->cur];
		n = in->opts.block_size - b->len;
		if (n > len)
			n = len;
		memcpy(b->data + b->len, p, n);
		b->len += n;
		p += n;
		len -= n;
		if (b->len == in->opts.block_size) {
			pthread_mutex_lock(&in->lock);
			in->full[(in->full_head + in->full_n) %
			    in->opts.blocks] = in->cur;
			in->full_n++;
			in->cur = (size_t)-1;
			pthread_cond_broadcast(&in->cond);
			pthread_mutex_unlock(&in->lock);
		}
	}
	if (qbk_job_stopped(in->opts.cancel)) {
		cancelled(in);
		if (err != NULL)
			*err = in->err;
		return -1;
	}
	return 0;
}

/* Scanner side. */

static struct slot *
new_slot(struct qbk_ingest *in)
{
	size_t seg = in->nchunks >> SEG_SHIFT;

	if (seg == in->nsegs) {
		if (in->nsegs == in->segs_alloc) {
			in->segs_alloc = in->segs_alloc ? in->segs_alloc * 2 : 16;
			in->segs = qbk_xrealloc(in->segs,
			    in->segs_alloc * sizeof(*in->segs));
		}
		in->segs[in->nsegs++] = qbk_xmalloc(SEG_LEN * sizeof(struct slot));
	}
	return &in->segs[seg][in->nchunks++ & (SEG_LEN - 1)];
}

static int
submit(struct qbk_ingest *in, const uint8_t *data, size_t len)
{
	struct job *j;
	uint8_t *buf;

	pthread_mutex_lock(&in->lock);
	while (in->job_bufs_n == 0 && !in->failed)
		pthread_cond_wait(&in->cond, &in->lock);
	if (in->failed) {
		pthread_mutex_unlock(&in->lock);
		return -1;
	}
	buf = in->job_bufs[--in->job_bufs_n];
	pthread_mutex_unlock(&in->lock);

	/* Copy outside the lock; the chunker's pointer dies at its next call. */
	memcpy(buf, data, len);

	pthread_mutex_lock(&in->lock);
	j = &in->jobs[(in->jobs_head + in->jobs_n) % in->njobs];
	j->data = buf;
	j->len = len;
	j->slot = new_slot(in);
	in->jobs_n++;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	return 0;
}

static int
drain_chunks(struct qbk_ingest *in)
{
	const uint8_t *p;
	size_t len;

	while (qbk_chunk_cdc_next(in->cdc, &p, &len))
		if (submit(in, p, len) != 0)
			return -1;
	return 0;
}

/* Take the next filled block (or the writer's last partial one at EOF),
 * hash and chunk it.  Returns its index, or -1 at the end of the stream or
 * on failure. */
static size_t
scan_next_block(struct qbk_ingest *in)
{
	struct block *b;
	size_t i;

	pthread_mutex_lock(&in->lock);
	if (in->held != (size_t)-1) {
		in->free_blocks[in->free_n++] = in->held;
		in->held = (size_t)-1;
		pthread_cond_broadcast(&in->cond);
	}
	while (in->full_n == 0 && !in->eof && !in->failed)
		pthread_cond_wait(&in->cond, &in->lock);
	if (in->failed || in->full_n == 0) {
		pthread_mutex_unlock(&in->lock);
		return (size_t)-1;
	}
	i = in->full[in->full_head];
	in->full_head = (in->full_head + 1) % in->opts.blocks;
	in->full_n--;
	pthread_mutex_unlock(&in->lock);

	b = &in->blocks[i];
	in->bytes += b->len;
	qbk_sha256_update(in->sha, b->data, b->len);
	qbk_chunk_cdc_feed(in->cdc, b->data, b->len);
	if (drain_chunks(in) != 0)
		return (size_t)-1;
	in->held = i;
	return i;
}

/* The scanner hands qbk_tar each block once it has hashed and chunked it. */
static int
scan_next(void *cookie, const void **data, size_t *len, struct qbk_err *err)
{
	struct qbk_ingest *in = cookie;
	size_t i;

	if (cancelled(in) || (i = scan_next_block(in)) == (size_t)-1) {
		if (!in->failed)
			return 0;
		pthread_mutex_lock(&in->lock);
		*err = in->err;
		pthread_mutex_unlock(&in->lock);
		return -1;
	}
	*data = in->blocks[i].data;
	*len = in->blocks[i].len;
	return 1;
}

static void *
scanner_main(void *cookie)
{
	struct qbk_ingest *in = cookie;
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_tar_check(scan_next, in, &in->entries, &in->nentries,
	    &err) != 0) {
		/* Damaged (unless the pipeline failed first): stop the
		 * download and the workers now rather than store the rest
		 * of a snapshot that will be refused. */
		if (!in->failed) {
			in->tar_err = err;
			in->tar_failed = 1;
			fail(in, &in->tar_err);
		}
	} else {
		qbk_chunk_cdc_finish(in->cdc);
		drain_chunks(in);
	}
	pthread_mutex_lock(&in->lock);
	in->scan_done = 1;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	return NULL;
}

/* Workers. */

static int
process(struct qbk_ingest *in, struct qbk_chunk_work *w, struct job *j,
    uint64_t *stored, int *healed, struct qbk_err *err)
{
	const uint8_t *obj;
	size_t objlen;
	int claim;

	*stored = 0;
	*healed = 0;
	qbk_chunk_id(in->codec, j->data, j->len, j->slot->id);
	j->slot->len = (uint32_t)j->len;
	claim = qbk_repo_chunk_claim(in->repo, j->slot->id);
	if (claim == 0 && in->opts.verify_existing) {
		int ok = qbk_repo_chunk_check(in->repo, w, j->slot->id, err);

		if (ok < 0)
			return -1;
		if (ok == 1)
			return 0;
		qbk_warn("%s: storing the chunk again", err->msg);
		*healed = 1;
	} else if (claim == 0) {
		return 0;
	}
	if (qbk_chunk_encode(in->codec, w, j->data, j->len, j->slot->id,
	    &obj, &objlen, NULL, err) != 0)
		return -1;
	if (qbk_repo_chunk_put(in->repo, j->slot->id, obj, objlen, *healed,
	    err) < 0)
		return -1;
	*stored = objlen;
	return 1;
}

static void *
worker_main(void *cookie)
{
	struct qbk_ingest *in = cookie;
	struct qbk_chunk_work *w = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	struct job j;

	if (qbk_chunk_work_new(in->codec->max_plain, &w, &err) != 0) {
		fail(in, &err);
		return NULL;
	}
	for (;;) {
		uint64_t stored;
		int healed, r;

		pthread_mutex_lock(&in->lock);
		while (in->jobs_n == 0 && !in->scan_done && !in->failed)
			pthread_cond_wait(&in->cond, &in->lock);
		if (in->failed || in->jobs_n == 0) {
			pthread_mutex_unlock(&in->lock);
			break;
		}
		j = in->jobs[in->jobs_head];
		in->jobs_head = (in->jobs_head + 1) % in->njobs;
		in->jobs_n--;
		in->busy++;
		pthread_mutex_unlock(&in->lock);

		r = process(in, w, &j, &stored, &healed, &err);

		pthread_mutex_lock(&in->lock);
		in->busy--;
		in->job_bufs[in->job_bufs_n++] = j.data;
		if (r == 1) {
			in->chunks_new++;
			in->bytes_new += j.len;
			in->stored_new += stored;
			in->chunks_healed += (uint64_t)healed;
		}
		pthread_cond_broadcast(&in->cond);
		pthread_mutex_unlock(&in->lock);
		if (r < 0) {
			fail(in, &err);
			break;
		}
		if (cancelled(in))
			break;
	}
	qbk_chunk_work_free(w);
	return NULL;
}

/* Life cycle. */

static unsigned
cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > 8 ? 8 : (unsigned)n;
}

static void
destroy(struct qbk_ingest *in)
{
	size_t i;

	if (in == NULL)
		return;
	for (i = 0; i < in->opts.blocks && in->blocks != NULL; i++)
		free(in->blocks[i].data);
	free(in->blocks);
	free(in->full);
	free(in->free_blocks);
	for (i = 0; i < in->job_bufs_n; i++)
		free(in->job_bufs[i]);
	/* After a failure, jobs left in the queue still own their buffers. */
	for (i = 0; i < in->jobs_n; i++)
		free(in->jobs[(in->jobs_head + i) % in->njobs].data);
	free(in->job_bufs);
	free(in->jobs);
	for (i = 0; i < in->nsegs; i++)
		free(in->segs[i]);
	free(in->segs);
	qbk_tar_entries_free(in->entries, in->nentries);
	free(in->workers);
	qbk_chunk_cdc_free(in->cdc);
	qbk_sha256_free(in->sha);
	pthread_cond_destroy(&in->cond);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

static void
stop_threads(struct qbk_ingest *in)
{
	unsigned i;

	pthread_mutex_lock(&in->lock);
	in->eof = 1;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	if (in->scanner_started)
		pthread_join(in->scanner, NULL);
	in->scanner_started = 0;
	pthread_mutex_lock(&in->lock);
	in->scan_done = 1;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	for (i = 0; i < in->started_workers; i++)
		pthread_join(in->workers[i], NULL);
	in->started_workers = 0;
}

int
qbk_ingest_start(struct qbk_repo *repo, const struct qbk_ingest_opts *opts,
    struct qbk_ingest **out, struct qbk_err *err)
{
	struct qbk_ingest *in;
	size_t i;

	*out = NULL;
	in = qbk_xcalloc(1, sizeof(*in));
	in->repo = repo;
	in->opts = *opts;
	if (in->opts.workers == 0)
		in->opts.workers = cpu_count();
	if (in->opts.block_size == 0)
		in->opts.block_size = (size_t)1 << 20;
	if (in->opts.blocks < 2)
		in->opts.blocks = 8;
	in->codec = qbk_repo_codec(repo);
	in->cur = (size_t)-1;
	in->held = (size_t)-1;
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);

	in->blocks = qbk_xcalloc(in->opts.blocks, sizeof(*in->blocks));
	in->full = qbk_xcalloc(in->opts.blocks, sizeof(*in->full));
	in->free_blocks = qbk_xcalloc(in->opts.blocks, sizeof(size_t));
	for (i = 0; i < in->opts.blocks; i++) {
		in->blocks[i].data = qbk_xmalloc(in->opts.block_size);
		in->free_blocks[in->free_n++] = i;
	}
	/* Two jobs per worker keep them busy while the scanner copies. */
	in->njobs = 2 * (size_t)in->opts.workers + 2;
	in->jobs = qbk_xcalloc(in->njobs, sizeof(*in->jobs));
	in->job_bufs = qbk_xcalloc(in->njobs, sizeof(*in->job_bufs));
	for (i = 0; i < in->njobs; i++)
		in->job_bufs[in->job_bufs_n++] =
		    qbk_xmalloc(in->codec->max_plain);

	if (qbk_chunk_cdc_new(qbk_repo_chunk_params(repo), qbk_repo_gear(repo),
	    &in->cdc, err) != 0)
		goto err0;
	in->sha = qbk_sha256_new();

	in->workers = qbk_xcalloc(in->opts.workers, sizeof(*in->workers));
	for (i = 0; i < in->opts.workers; i++) {
		if (pthread_create(&in->workers[i], NULL, worker_main, in)) {
			qbk_err_set(err, QBK_E_INTERNAL,
			    "cannot start a worker thread");
			goto err1;
		}
		in->started_workers++;
	}
	if (pthread_create(&in->scanner, NULL, scanner_main, in) != 0) {
		qbk_err_set(err, QBK_E_INTERNAL, "cannot start a thread");
		goto err1;
	}
	in->scanner_started = 1;
	*out = in;
	return 0;

err1:
	pthread_mutex_lock(&in->lock);
	in->failed = 1;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	stop_threads(in);
err0:
	destroy(in);
	return -1;
}

void
qbk_ingest_abort(struct qbk_ingest *in)
{
	struct qbk_err err = QBK_ERR_INIT;

	if (in == NULL)
		return;
	qbk_err_set(&err, QBK_E_INTERRUPTED, "aborted");
	fail(in, &err);
	stop_threads(in);
	destroy(in);
}

int
qbk_ingest_finish(struct qbk_ingest *in, struct qbk_ingest_result *res,
    struct qbk_err *err)
{
	size_t i;

	memset(res, 0, sizeof(*res));
	/* Hand over the last, partial block. */
	pthread_mutex_lock(&in->lock);
	if (in->cur != (size_t)-1 && !in->failed) {
		in->full[(in->full_head + in->full_n) % in->opts.blocks] =
		    in->cur;
		in->full_n++;
		in->cur = (size_t)-1;
	}
	pthread_mutex_unlock(&in->lock);
	stop_threads(in);

	if (in->failed) {
		*err = in->err;
		goto err;
	}
	if (in->tar_failed) {
		*err = in->tar_err;
		goto err;
	}
	if (qbk_ingest_check_layout(in->entries, in->nentries,
	    in->opts.layout, err) != 0)
		goto err;

	qbk_sha256_final(in->sha, res->sha256);
	qbk_hex(res->sha256, 32, res->sha256_hex);
	res->bytes = in->bytes;
	res->nchunks = in->nchunks;
	res->ids = qbk_xmalloc((in->nchunks ? in->nchunks : 1) * 32);
	res->lens = qbk_xmalloc((in->nchunks ? in->nchunks : 1) *
	    sizeof(uint32_t));
	for (i = 0; i < in->nchunks; i++) {
		const struct slot *s = &in->segs[i >> SEG_SHIFT][i & (SEG_LEN - 1)];

		memcpy(res->ids[i], s->id, 32);
		res->lens[i] = s->len;
	}
	res->chunks_new = in->chunks_new;
	res->bytes_new = in->bytes_new;
	res->stored_new = in->stored_new;
	res->chunks_healed = in->chunks_healed;
	res->entries = in->entries;
	res->nentries = in->nentries;
	in->entries = NULL;
	in->nentries = 0;
	destroy(in);
	return 0;

err:
	destroy(in);
	return -1;
}

void
qbk_ingest_result_release(struct qbk_ingest_result *res)
{
	size_t i;

	free(res->ids);
	free(res->lens);
	for (i = 0; i < res->nentries; i++)
		free(res->entries[i].path);
	free(res->entries);
	memset(res, 0, sizeof(*res));
}

static int
has(const struct qbk_ingest_entry *e, size_t n, const char *path)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(e[i].path, path) == 0)
			return 1;
	return 0;
}

/* A shard folder "<digits>/<name>" at the top of a collection snapshot. */
static int
has_shard_file(const struct qbk_ingest_entry *e, size_t n, const char *name)
{
	size_t i, d;

	for (i = 0; i < n; i++) {
		const char *p = e[i].path;

		for (d = 0; p[d] >= '0' && p[d] <= '9'; d++)
			;
		if (d > 0 && p[d] == '/' && strcmp(p + d + 1, name) == 0)
			return 1;
	}
	return 0;
}

/* An entry "<dir>" or "<dir>/..." at the top of the archive. */
static int
has_dir(const struct qbk_ingest_entry *e, size_t n, const char *dir)
{
	size_t i, len = strlen(dir);

	for (i = 0; i < n; i++)
		if (strncmp(e[i].path, dir, len) == 0 &&
		    (e[i].path[len] == '\0' || e[i].path[len] == '/'))
			return 1;
	return 0;
}

/*
 * What Qdrant needs to recover a shard snapshot: its segments and its WAL
 * (LocalShard::check_data: without both the recovery fails with "Invalid
 * snapshot"), replica_state.json (without it the replica is not local and
 * its data is not restored) and shard_config.json.  Qdrant writes the two
 * files last (ShardReplicaSet::create_snapshot), so a stream that ended
 * early lacks them.
 */
static int
check_shard(const struct qbk_ingest_entry *e, size_t n, struct qbk_err *err)
{
	static const char *const files[] = {
		"replica_state.json", "shard_config.json"
	};
	static const char *const dirs[] = { "segments", "wal" };
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!has_dir(e, n, dirs[i]))
			return qbk_err_set(err, QBK_E_SHORT,
			    "snapshot is not a whole Qdrant shard snapshot: "
			    "no '%s/'", dirs[i]);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!has(e, n, files[i]))
			return qbk_err_set(err, QBK_E_SHORT,
			    "snapshot is not a whole Qdrant shard snapshot: "
			    "no '%s'", files[i]);
	return 0;
}

int
qbk_ingest_check_layout(const struct qbk_ingest_entry *e, size_t n,
    enum qbk_ingest_layout layout, struct qbk_err *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (e[i].path[0] == '/' || strstr(e[i].path, "../") != NULL ||
		    strcmp(e[i].path, "..") == 0)
			return qbk_err_set(err, QBK_E_INTEGRITY,
			    "snapshot has an entry outside its tree: '%s'",
			    e[i].path);
	switch (layout) {
	case QBK_INGEST_ANY:
		return 0;
	case QBK_INGEST_COLLECTION:
		if (!has(e, n, "config.json"))
			return qbk_err_set(err, QBK_E_INTEGRITY,
			    "snapshot is not a Qdrant collection snapshot: "
			    "no 'config.json'");
		if (!has_shard_file(e, n, "shard_config.json"))
			return qbk_err_set(err, QBK_E_INTEGRITY,
			    "snapshot is not a Qdrant collection snapshot: "
			    "no '<shard>/shard_config.json'");
		return 0;
	case QBK_INGEST_SHARD:
		return check_shard(e, n, err);
	case QBK_INGEST_FULL:
		if (!has(e, n, "config.json"))
			return qbk_err_set(err, QBK_E_INTEGRITY,
			    "snapshot is not a Qdrant full snapshot: "
			    "no 'config.json'");
		return 0;
	}
	return 0;
}
