#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_fs.h"
#include "common/qbk_hex.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "storage/qbk_store.h"
#include "storage/qbk_store_driver.h"
#include "storage/s3/qbk_s3.h"

/*
 * The S3 backend: object <key> of the repository is object <prefix>/<key>
 * of the bucket.  Every request goes through qbk_s3 (SigV4, retries, ETag =
 * MD5 check).  Lazy puts and deletes are handed to qbk_s3's I/O thread,
 * which keeps "transfers" of them in flight; flush waits for them all and
 * fails with the first failure, so that no manifest is written before every
 * chunk it names is confirmed.  A non-lazy operation flushes first.
 *
 * S3 has no same-host lock (host_lock is NULL): qbk_lock relies on its lock
 * records alone, which expire by time (qbk-repository(5) "Locks").
 *
 * The chunk-index cache (qbk-repository(5) "S3"): a list of the cache prefix
 * (opts.cache_prefix, the repository's chunks) with
 * QBK_STORE_LIST_CACHED is answered from <root>/<repository-id>/chunks.
 * The store learns the repository id from the plaintext "config" object,
 * which it reads anyway for its ETag.  The file is trusted only when
 *   - every checksum in it holds: a header (repository id, location, the
 *     ETag of "config", the "index-generation" token, when it was listed)
 *     ends with "sum <BLAKE2b-256 of the header>", and each block of keys
 *     after it ends with "sum <BLAKE2b-256 of the header sum and the
 *     block>", so that a damaged, truncated or edited file is discarded;
 *   - its header matches the repository (config ETag, generation,
 *     location);
 *   - it was listed less than cache_max_age ago;
 *   - a random sample of cache_sample of its keys (all of them if it holds
 *     no more) all exist: HEAD requests, in parallel.
 * Otherwise the bucket is listed and the file written anew.  Chunks this
 * store PUTs are appended, as one more block, after a successful flush (so
 * only confirmed ones).  Before its first delete of a chunk, the store
 * writes a new "index-generation", which invalidates every cache.
 */

#define CACHE_MAGIC	"qbk-s3-chunk-index 2"
#define CACHE_MAX	((size_t)1 << 31)
#define CONFIG_MAX	65536
#define GEN_KEY		"index-generation"
#define GEN_MAX		256
#define SUM_HEX		64	/* BLAKE2b-256, hex */

/* What this process knows of a chunk's object lock. */
struct rent {
	char *key;		/* NULL: a free slot */
	int64_t until;		/* retained until, epoch seconds; 0: unknown */
	int touched;		/* reused by what is being written */
};

struct s3store {
	struct qbk_store base;	/* first: a store points here */
	struct qbk_s3 *s3;
	unsigned lock_days;
	int64_t lock_secs;	/* lock_days, in seconds */
	int64_t extend_secs;	/* an extension reaches this much further */
	int64_t opened;		/* qbk_now() at open: what is written must be
				 * kept until opened + lock_secs */
	char *lock_mode;
	pthread_mutex_t lock_mu;	/* the object-lock check, once */
	int lock_checked;	/* 1: the bucket has object lock enabled */
	char *cache_root;	/* <root> of the cache, or NULL: no cache */
	char *where;		/* "s3://bucket/prefix at <endpoint>" */
	char *cache_prefix;	/* opts.cache_prefix, or NULL */
	char *cache_guard;	/* opts.cache_guard, or NULL */
	size_t cache_plen;
	int64_t cache_max_age;
	unsigned cache_sample;
	pthread_mutex_t mu;	/* guards the fields below */
	char *cache_dir;	/* <root>/<repository-id>, once known */
	int cache_ok;		/* the cache file is current: append to it */
	char cache_sum[SUM_HEX + 1];	/* its header's sum */
	int gen_bumped;		/* index-generation rewritten already */
	struct qbk_buf pending;	/* "<chunk key>[ <until>]\n" of the chunks
				 * PUT since the last flush */
	struct rent *rmap;	/* open addressing, by key */
	size_t rcap, rn;
	char **touched;		/* keys of rmap touched since the last flush */
	size_t ntouched, atouched;
};

static const struct qbk_store_ops s3_ops;

void
qbk_store_s3_init(struct qbk_store_s3 *c)
{
	memset(c, 0, sizeof(*c));
	c->cache_max_age = QBK_STORE_S3_CACHE_MAX_AGE;
	c->cache_sample = QBK_STORE_S3_CACHE_SAMPLE;
}

/* A bucket name as S3 allows it (and as virtual-host addressing needs). */
static int
valid_bucket(const char *b, size_t n)
{
	size_t i;

	if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) ||
	    !isalnum((unsigned char)b[n - 1]))
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)b[i]) ||
		    isdigit((unsigned char)b[i]) || b[i] == '.' ||
		    b[i] == '-'))
			return 0;
	return 1;
}

int
qbk_store_s3_parse(const char *location, struct qbk_store_loc *loc,
    struct qbk_err *err)
{
	struct qbk_buf b = QBK_BUF_INIT;
	const char *bucket = location + 5, *slash = strchr(bucket, '/');
	const char *prefix, *end, *p;
	size_t n;

	n = slash != NULL ? (size_t)(slash - bucket) : strlen(bucket);
	if (!valid_bucket(bucket, n))
		return qbk_err_set(err, QBK_E_CONFIG,
		    "'%.*s' is not an S3 bucket name (3 to 63 "
		    "lowercase letters, digits, dots and hyphens)",
		    (int)n, bucket);
	prefix = slash != NULL ? slash + 1 : bucket + n;
	end = prefix + strlen(prefix);
	while (end > prefix && end[-1] == '/')
		end--;
	for (p = prefix; p < end;) {
		const char *seg = p;

		while (p < end && *p != '/')
			p++;
		if (p == seg || (p - seg == 1 && seg[0] == '.') ||
		    (p - seg == 2 && seg[0] == '.' && seg[1] == '.'))
			return qbk_err_set(err, QBK_E_CONFIG,
			    "the S3 prefix '%.*s' has an empty, '.' or "
			    "'..' part", (int)(end - prefix), prefix);
		if (p < end)
			p++;
	}
	qbk_buf_add(&b, bucket, n);
	loc->bucket = qbk_buf_detach(&b, NULL);
	qbk_buf_add(&b, prefix, (size_t)(end - prefix));
	loc->prefix = qbk_buf_detach(&b, NULL);
	if (end > prefix)
		qbk_buf_addf(&b, "s3://%s/%s", loc->bucket, loc->prefix);
	else
		qbk_buf_addf(&b, "s3://%s", loc->bucket);
	loc->text = qbk_buf_detach(&b, NULL);
	return 0;
}

/* Whether ${key} is under the cache prefix. */
static int
cached_key(const struct s3store *st, const char *key)
{
	return st->cache_prefix != NULL &&
	    strncmp(key, st->cache_prefix, st->cache_plen) == 0;
}

/*
 * The retention map (object lock): chunk key -> retained until, for the
 * chunks this process has written, extended or read from the cache.
 * All under st->mu.
 */

static uint64_t
hash_key(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static struct rent *
rmap_find(struct s3store *st, const char *key, int insert)
{
	size_t i;

	if (insert && 10 * (st->rn + 1) > 7 * st->rcap) {
		struct rent *old = st->rmap;
		size_t ocap = st->rcap, j;

		st->rcap = ocap != 0 ? 2 * ocap : 1024;
		st->rmap = qbk_xcalloc(st->rcap, sizeof(*st->rmap));
		for (j = 0; j < ocap; j++) {
			if (old[j].key == NULL)
				continue;
			i = (size_t)(hash_key(old[j].key) & (st->rcap - 1));
			while (st->rmap[i].key != NULL)
				i = (i + 1) & (st->rcap - 1);
			st->rmap[i] = old[j];
		}
		free(old);
	}
	if (st->rcap == 0)
		return NULL;
	i = (size_t)(hash_key(key) & (st->rcap - 1));
	while (st->rmap[i].key != NULL) {
		if (strcmp(st->rmap[i].key, key) == 0)
			return &st->rmap[i];
		i = (i + 1) & (st->rcap - 1);
	}
	if (!insert)
		return NULL;
	st->rmap[i].key = qbk_xstrdup(key);
	st->rn++;
	return &st->rmap[i];
}

/* ${key} is retained at least until ${until}. */
static void
rmap_note(struct s3store *st, const char *key, int64_t until)
{
	struct rent *e = rmap_find(st, key, 1);

	if (until > e->until)
		e->until = until;
}

static int64_t
rmap_until(struct s3store *st, const char *key)
{
	struct rent *e = rmap_find(st, key, 0);

	return e != NULL ? e->until : 0;
}

/* Note the untils of "<key> <until>" lines of [p, end). */
static void
note_lines(struct s3store *st, const char *p, const char *end)
{
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *sp;
		char key[QBK_STORE_KEY_MAX + 1];

		if (nl == NULL)
			nl = end;
		sp = memchr(p, ' ', (size_t)(nl - p));
		if (sp != NULL && (size_t)(sp - p) <= QBK_STORE_KEY_MAX) {
			memcpy(key, p, (size_t)(sp - p));
			key[sp - p] = '\0';
			rmap_note(st, key, (int64_t)strtoll(sp + 1, NULL, 10));
		}
		p = nl + 1;
	}
}

static void
store_touch(struct qbk_store *s, const char *key)
{
	struct s3store *st = (struct s3store *)s;
	struct rent *e;

	if (st->lock_days == 0 || !cached_key(st, key))
		return;
	pthread_mutex_lock(&st->mu);
	e = rmap_find(st, key, 1);
	if (!e->touched) {
		e->touched = 1;
		if (st->ntouched == st->atouched) {
			st->atouched = st->atouched != 0 ? 2 * st->atouched :
			    1024;
			st->touched = qbk_xrealloc(st->touched, st->atouched *
			    sizeof(*st->touched));
		}
		st->touched[st->ntouched++] = e->key;
	}
	pthread_mutex_unlock(&st->mu);
}

/*
 * Object lock on reused chunks: every chunk touched since the last flush
 * whose retention (as far as this process knows) ends before opened +
 * lock_secs gets a longer one, now + lock_secs + extend_secs, with
 * PutObjectRetention (in parallel).  The slack spares the next backups the
 * same requests for extend_secs.  Then the new untils go to the map and,
 * through st->pending, to the cache.
 */
static int
extend_retention(struct s3store *st, struct qbk_err *err)
{
	struct qbk_s3_op *ops;
	struct qbk_buf body = QBK_BUF_INIT;
	const char **keys;
	int64_t need = st->opened + st->lock_secs, until;
	char date[40];
	struct tm tm;
	time_t t;
	size_t n = 0, i;
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	keys = qbk_xcalloc(st->ntouched + 1, sizeof(*keys));
	for (i = 0; i < st->ntouched; i++) {
		struct rent *e = rmap_find(st, st->touched[i], 0);

		e->touched = 0;
		if (e->until < need)
			keys[n++] = e->key;
	}
	st->ntouched = 0;
	pthread_mutex_unlock(&st->mu);
	if (n == 0)
		goto out;
	until = qbk_now() + st->lock_secs + st->extend_secs;
	t = (time_t)until;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	qbk_buf_addf(&body, "<Retention xmlns=\"http://s3.amazonaws.com/doc/"
	    "2006-03-01/\"><Mode>%s</Mode><RetainUntilDate>%s"
	    "</RetainUntilDate></Retention>", st->lock_mode, date);
	qbk_detail("extending the object lock of %zu reused chunks to %s", n,
	    date);
	ops = qbk_xcalloc(n, sizeof(*ops));
	for (i = 0; i < n; i++) {
		ops[i].method = "PUT";
		ops[i].key = keys[i];
		ops[i].query = "retention";
		ops[i].body = body.buf;
		ops[i].len = body.len;
	}
	if (qbk_s3_batch(st->s3, ops, n, err) != 0) {
		qbk_err_prefix(err, "cannot extend the object lock of the "
		    "reused chunks");
		rc = -1;
	}
	for (i = 0; i < n && rc == 0; i++)
		if (ops[i].code == QBK_E_NOTFOUND) {
			qbk_err_set(err, QBK_E_NOTFOUND, "chunk '%s', which this "
			    "backup reuses, is missing from the repository",
			    keys[i]);
			qbk_err_hint(err, "run qbk-backup --type full, which "
			    "stores missing chunks again");
			rc = -1;
		}
	free(ops);
	if (rc == 0) {
		pthread_mutex_lock(&st->mu);
		for (i = 0; i < n; i++) {
			rmap_note(st, keys[i], until);
			if (st->cache_root != NULL)
				qbk_buf_addf(&st->pending, "%s %lld\n",
				    keys[i], (long long)until);
		}
		pthread_mutex_unlock(&st->mu);
	}
out:
	qbk_buf_release(&body);
	free(keys);
	return rc;
}

/* ${hex} = BLAKE2b-256 of ${prev} (may be NULL) followed by [p, p + n). */
static void
block_sum(const char *prev, const char *p, size_t n, char hex[SUM_HEX + 1])
{
	crypto_generichash_state st;
	unsigned char h[32];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	if (prev != NULL)
		crypto_generichash_update(&st, (const unsigned char *)prev,
		    SUM_HEX);
	crypto_generichash_update(&st, (const unsigned char *)p, n);
	crypto_generichash_final(&st, h, sizeof(h));
	qbk_hex(h, sizeof(h), hex);
}

/* Append the block of keys [p, p + n) and its sum line to ${out}. */
static void
add_block(struct qbk_buf *out, const char *hdrsum, const char *p, size_t n)
{
	char hex[SUM_HEX + 1];

	block_sum(hdrsum, p, n, hex);
	qbk_buf_add(out, p, n);
	qbk_buf_addf(out, "sum %s\n", hex);
}

/* With st->mu held: append the confirmed chunk keys to the cache file, as
 * one block (best effort: on any failure the cache is dropped).  Another
 * process may have rewritten the file meanwhile: then its header sum
 * differs from ours, and nothing is appended. */
static void
cache_append(struct s3store *st)
{
	struct qbk_buf path = QBK_BUF_INIT, blk = QBK_BUF_INIT;
	char head[512], want[SUM_HEX + 8];
	ssize_t n;
	int fd;

	qbk_buf_addf(&path, "%s/chunks", st->cache_dir);
	snprintf(want, sizeof(want), "\nsum %s\n", st->cache_sum);
	fd = open(path.buf, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		st->cache_ok = 0;
		goto out;
	}
	n = pread(fd, head, sizeof(head) - 1, 0);
	head[n > 0 ? n : 0] = '\0';
	if (n <= 0 || strstr(head, want) == NULL) {
		qbk_debug("the chunk-index cache '%s' was rewritten by "
		    "another process: not appending", path.buf);
		st->cache_ok = 0;
		close(fd);
		goto out;
	}
	add_block(&blk, st->cache_sum, st->pending.buf, st->pending.len);
	n = write(fd, blk.buf, blk.len);
	if (n < 0 || (size_t)n != blk.len) {
		qbk_debug("cannot append to '%s': dropping the cache",
		    path.buf);
		st->cache_ok = 0;
		(void)unlink(path.buf);
	}
	close(fd);
out:
	qbk_buf_release(&path);
	qbk_buf_release(&blk);
}

static int
s3_flush(struct qbk_store *s, struct qbk_err *err)
{
	struct s3store *st = (struct s3store *)s;
	int rc;

	rc = qbk_s3_wait(st->s3, err);
	if (rc == 0 && st->lock_days > 0) {
		/* The chunks just written are retained until then. */
		pthread_mutex_lock(&st->mu);
		note_lines(st, st->pending.buf, st->pending.buf +
		    st->pending.len);
		pthread_mutex_unlock(&st->mu);
		rc = extend_retention(st, err);
	}
	pthread_mutex_lock(&st->mu);
	if (rc == 0 && st->cache_ok && st->pending.len > 0)
		cache_append(st);
	qbk_buf_reset(&st->pending);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int small_sink(void *, const void *, size_t, struct qbk_err *);

/*
 * Before the first PUT with object-lock headers: the bucket must have
 * object lock enabled (GetObjectLockConfiguration).  A bucket without it
 * would refuse such PUTs (AWS) or, worse, store them without any lock
 * (stores that ignore the headers), so fail clearly instead.
 */
static int
check_object_lock(struct s3store *st, struct qbk_err *err)
{
	struct qbk_buf body = QBK_BUF_INIT;
	struct qbk_err e = QBK_ERR_INIT;
	int rc = 0;

	pthread_mutex_lock(&st->lock_mu);
	if (st->lock_checked)
		goto out;
	if (qbk_s3_request(st->s3, "GET", NULL, "object-lock", NULL, 0,
	    QBK_S3_F_RESTART, small_sink, &body, NULL, &e) != 0) {
		if (e.http_status == 404 || e.http_status == 501 ||
		    e.http_status == 400) {
			qbk_err_set(err, QBK_E_CONFIG, "s3_object_lock_days is "
			    "%u, but the bucket of '%s' %s: %s", st->lock_days,
			    st->base.location, e.http_status == 404 ?
			    "does not have object lock enabled" :
			    "does not support object lock", e.msg);
			qbk_err_hint(err, "use a bucket created with object "
			    "lock enabled, or set s3_object_lock_days = 0");
		} else {
			if (err != NULL)
				*err = e;
			qbk_err_prefix(err, "cannot read the object lock "
			    "configuration of '%s'", st->base.location);
			if (e.code == QBK_E_AUTH)
				qbk_err_hint(err, "allow "
				    "s3:GetBucketObjectLockConfiguration");
		}
		rc = -1;
		goto out;
	}
	if (strstr(body.buf, "<ObjectLockEnabled>Enabled<") == NULL) {
		qbk_err_set(err, QBK_E_CONFIG, "s3_object_lock_days is %u, but "
		    "the bucket of '%s' does not have object lock enabled",
		    st->lock_days, st->base.location);
		qbk_err_hint(err, "use a bucket created with object lock "
		    "enabled, or set s3_object_lock_days = 0");
		rc = -1;
		goto out;
	}
	qbk_detail("the bucket of '%s' has object lock enabled",
	    st->base.location);
	st->lock_checked = 1;
out:
	pthread_mutex_unlock(&st->lock_mu);
	qbk_buf_release(&body);
	return rc;
}

static int
s3_put(struct qbk_store *s, const char *key, const void *data, size_t len,
    unsigned flags, struct qbk_err *err)
{
	struct s3store *st = (struct s3store *)s;
	unsigned rf = st->lock_days > 0 && (flags & QBK_STORE_F_RETAIN) ?
	    QBK_S3_F_LOCK : 0;
	struct qbk_err e = QBK_ERR_INIT;

	if (rf != 0 && check_object_lock(st, err) != 0)
		return -1;

	if (flags & QBK_STORE_F_LAZY) {
		if (qbk_s3_submit(st->s3, "PUT", key, data, len, rf, err) != 0)
			return -1;
		if ((st->cache_root != NULL || rf != 0) &&
		    cached_key(st, key)) {
			pthread_mutex_lock(&st->mu);
			qbk_buf_addstr(&st->pending, key);
			if (rf != 0)	/* as qbk_s3 computes it, or later */
				qbk_buf_addf(&st->pending, " %lld", (long long)(
				    qbk_now() + st->lock_secs));
			qbk_buf_addch(&st->pending, '\n');
			pthread_mutex_unlock(&st->mu);
		}
		return 0;
	}
	if (!(flags & QBK_STORE_F_ALONE) && s3_flush(s, err) != 0)
		return -1;
	if (flags & QBK_STORE_F_IFABSENT) {
		if (qbk_s3_request(st->s3, "HEAD", key, NULL, NULL, 0, 0,
		    NULL, NULL, NULL, &e) == 0)
			return 1;
		if (e.code != QBK_E_NOTFOUND) {
			if (err != NULL)
				*err = e;
			return -1;
		}
	}
	return qbk_s3_request(st->s3, "PUT", key, NULL, data, len, rf, NULL,
	    NULL, NULL, err);
}

struct getbuf {
	struct qbk_buf *out;
	size_t max;
	const char *key;
};

static int
get_sink(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	struct getbuf *g = cookie;

	if (data == NULL) {	/* a retry starts over */
		qbk_buf_reset(g->out);
		return 0;
	}
	if (g->out->len + len > g->max)
		return qbk_err_set(err, QBK_E_INTEGRITY, "object '%s' is "
		    "larger than %zu bytes", g->key, g->max);
	qbk_buf_add(g->out, data, len);
	return 0;
}

static int
s3_get(struct qbk_store *s, const char *key, size_t max, struct qbk_buf *out,
    struct qbk_err *err)
{
	struct s3store *st = (struct s3store *)s;
	struct getbuf g;
	int rc;

	qbk_buf_reset(out);
	g.out = out;
	g.max = max;
	g.key = key;
	rc = qbk_s3_request(st->s3, "GET", key, NULL, NULL, 0, QBK_S3_F_RESTART,
	    get_sink, &g, NULL, err);
	if (rc != 0)
		qbk_buf_release(out);
	return rc;
}

static int
s3_get_range(struct qbk_store *s, const char *key, uint64_t offset,
    size_t len, struct qbk_buf *out, struct qbk_err *err)
{
	struct s3store *st = (struct s3store *)s;
	struct qbk_s3_resp r;
	struct getbuf g;
	int rc;

	g.out = out;
	g.max = len;
	g.key = key;
	rc = qbk_s3_get_range(st->s3, key, offset, len, get_sink, &g, &r, err);
	if (rc == 1)
		qbk_store_past_end(key, offset, len, r.range_total >= 0 ?
		    (uint64_t)r.range_total : UINT64_MAX, err);
	return rc == 0 ? 0 : -1;
}

static int
s3_get_stream(struct qbk_store *s, const char *key, qbk_store_read_fn *fn,
    void *cookie, struct qbk_err *err)
{
	struct s3store *st = (struct s3store *)s;

	return qbk_s3_request(st->s3, "GET", key, NULL, NULL, 0, 0, fn, cookie,
	    NULL, err);
}

static int
s3_stat(struct qbk_store *s, const char *key, struct qbk_store_stat *out,
    struct qbk_err *err)
{
	struct s3store *st = (struct s3store *)s;
	struct qbk_s3_resp r;

	if (qbk_s3_request(st->s3, "HEAD", key, NULL, NULL, 0, 0, NULL, NULL,
	    &r, err) != 0)
		return -1;
	out->size = r.length;
	out->mtime = r.mtime;
	return 0;
}

struct lister {
	unsigned flags;
	qbk_store_list_fn *fn;
	void *cookie;
};

static int
list_one(void *cookie, const char *key, uint64_t size, int64_t mtime,
    struct qbk_err *err)
{
	struct lister *l = cookie;
	struct qbk_store_stat st;

	if (!qbk_store_key_valid(key)) {
		qbk_detail("ignoring S3 object '%s': not a repository object",
		    key);
		return 0;
	}
	st.size = size;
	st.mtime = mtime;
	return l->fn(l->cookie, key, (l->flags & QBK_STORE_LIST_STAT) ?
	    &st : NULL, err);
}

static int
small_sink(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	struct qbk_buf *b = cookie;

	if (data == NULL) {	/* a retry starts over */
		qbk_buf_reset(b);
		return 0;
	}
	if (b->len + len > CONFIG_MAX)
		return qbk_err_set(err, QBK_E_INTEGRITY, "object larger than "
		    "%d bytes", CONFIG_MAX);
	qbk_buf_add(b, data, len);
	return 0;
}

/* What the cache must match: its header without the sum line, into
 * ${hdr}, and the repository id into ${id}. */
static int
cache_header(struct s3store *st, struct qbk_buf *hdr, char *id, size_t idsz,
    struct qbk_err *err)
{
	struct qbk_s3_resp r;
	struct qbk_buf cfg = QBK_BUF_INIT, gen = QBK_BUF_INIT;
	struct qbk_err e = QBK_ERR_INIT;
	struct json_t *j;
	const char *v;
	size_t i;
	int rc = -1;

	if (st->cache_guard == NULL)
		return qbk_err_set(err, QBK_E_INTERNAL, "the chunk-index "
		    "cache has no guard object");
	if (qbk_s3_request(st->s3, "GET", st->cache_guard, NULL, NULL, 0,
	    QBK_S3_F_RESTART, small_sink, &cfg, &r, err) != 0)
		goto out;
	if ((j = qbk_json_parse(cfg.buf, cfg.len, "the repository config",
	    err)) == NULL)
		goto out;
	v = qbk_json_str(j, "id");
	if (v == NULL || strlen(v) == 0 || strlen(v) >= idsz ||
	    strspn(v, "0123456789abcdef") != strlen(v)) {
		qbk_json_decref(j);
		qbk_err_set(err, QBK_E_INTEGRITY, "the repository config has "
		    "no valid id");
		goto out;
	}
	memcpy(id, v, strlen(v) + 1);
	qbk_json_decref(j);
	if (qbk_s3_request(st->s3, "GET", GEN_KEY, NULL, NULL, 0,
	    QBK_S3_F_RESTART, small_sink, &gen, NULL, &e) != 0) {
		if (e.code != QBK_E_NOTFOUND) {
			if (err != NULL)
				*err = e;
			goto out;
		}
		qbk_buf_reset(&gen);
		qbk_buf_addstr(&gen, "none");
	}
	if (gen.len > GEN_MAX) {
		qbk_err_set(err, QBK_E_INTEGRITY, "'%s' is too large", GEN_KEY);
		goto out;
	}
	for (i = 0; i < gen.len; i++)
		if (gen.buf[i] == '\n' || gen.buf[i] == '\r')
			gen.buf[i] = '_';
	qbk_buf_reset(hdr);
	qbk_buf_addf(hdr, CACHE_MAGIC "\nrepository %s\nlocation %s\n"
	    "config %s\ngeneration %s\n", id, st->where, r.etag, gen.buf);
	rc = 0;
out:
	qbk_buf_release(&cfg);
	qbk_buf_release(&gen);
	return rc;
}

/*
 * Check a cache file read into ${f}: every sum must hold.  Key lines (under
 * the cache prefix) are "<key>" or "<key> <retained until>".  Returns -1 if the file is damaged
 * (${why} "damaged"); else 0 with the time it was listed in ${listed}, its
 * header sum in ${sum}, the number of key lines in ${nkeys}, a uniform
 * random sample of up to ${k} keys in ${sample} (reservoir sampling), and
 * ${why} "out of date" if its header (up to "listed") is not ${hdr}.  Its
 * lines are then NUL-terminated in place, and so is each key before its
 * until.
 */
static int
cache_check(const struct s3store *st, struct qbk_buf *f,
    const struct qbk_buf *hdr, int64_t *listed, char sum[SUM_HEX + 1],
    size_t *nkeys, const char **sample, size_t k, const char **why)
{
	char *p = f->buf, *end = f->buf + f->len, *nl, *blk, *endp, *sp;
	char hex[SUM_HEX + 1];
	long long t;
	size_t n = 0;

	*nkeys = 0;
	/* The header: lines up to "listed <time>", then its sum. */
	for (;;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			goto damaged;
		if (strncmp(p, "listed ", 7) == 0)
			break;
		p = nl + 1;
	}
	errno = 0;
	t = strtoll(p + 7, &endp, 10);
	if (errno != 0 || endp == p + 7 || *endp != '\n')
		goto damaged;
	*listed = (int64_t)t;
	*why = (size_t)(p - f->buf) != hdr->len ||
	    memcmp(f->buf, hdr->buf, hdr->len) != 0 ? "out of date" : NULL;
	p = endp + 1;
	block_sum(NULL, f->buf, (size_t)(p - f->buf), hex);
	if ((size_t)(end - p) < 4 + SUM_HEX + 1 || memcmp(p, "sum ", 4) != 0 ||
	    memcmp(p + 4, hex, SUM_HEX) != 0 || p[4 + SUM_HEX] != '\n')
		goto damaged;
	memcpy(sum, hex, SUM_HEX + 1);
	p += 4 + SUM_HEX + 1;
	for (blk = p; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			goto damaged;	/* a torn last line */
		if (strncmp(p, "sum ", 4) == 0) {
			block_sum(sum, blk, (size_t)(p - blk), hex);
			if (nl - p != 4 + SUM_HEX ||
			    memcmp(p + 4, hex, SUM_HEX) != 0)
				goto damaged;
			blk = nl + 1;
			continue;
		}
		*nl = '\0';
		if ((sp = strchr(p, ' ')) != NULL) {
			if (sp[1] == '\0' || strspn(sp + 1, "0123456789") !=
			    strlen(sp + 1))
				goto damaged;
			*sp = '\0';
		}
		if (!cached_key(st, p) || !qbk_store_key_valid(p))
			goto damaged;
		if (n < k)
			sample[n] = p;
		else {
			uint32_t r = randombytes_uniform((uint32_t)(n + 1 >
			    UINT32_MAX ? UINT32_MAX : n + 1));

			if (r < k)
				sample[r] = p;
		}
		n++;
		if (sp != NULL)
			*sp = ' ';
		*nl = '\n';
	}
	if (blk != end)
		goto damaged;	/* keys after the last sum */
	/* Now that it checks, end the lines and keys in place. */
	for (p = f->buf; p < end; p++)
		if (*p == '\n' || *p == ' ')
			*p = '\0';
	*nkeys = n;
	return 0;
damaged:
	*why = "damaged";
	return -1;
}

/* HEAD the ${n} keys of ${keys}; 1 if all exist, 0 if one is missing
 * (named in ${missing}), -1 on a failure. */
static int
cache_probe(struct s3store *st, const char **keys, size_t n,
    const char **missing, struct qbk_err *err)
{
	struct qbk_s3_op *ops;
	size_t i;
	int rc = 1;

	if (n == 0)
		return 1;
	ops = qbk_xcalloc(n, sizeof(*ops));
	for (i = 0; i < n; i++) {
		ops[i].method = "HEAD";
		ops[i].key = keys[i];
	}
	if (qbk_s3_batch(st->s3, ops, n, err) != 0)
		rc = -1;
	for (i = 0; i < n && rc == 1; i++)
		if (ops[i].code == QBK_E_NOTFOUND) {
			*missing = keys[i];
			rc = 0;
		}
	free(ops);
	return rc;
}

struct collect {
	struct s3store *st;
	struct lister *l;
	struct qbk_buf *keys;
};

static int
collect_one(void *cookie, const char *key, uint64_t size, int64_t mtime,
    struct qbk_err *err)
{
	struct collect *c = cookie;
	int64_t until;

	if (qbk_store_key_valid(key)) {
		qbk_buf_addstr(c->keys, key);
		if (c->st->lock_days > 0) {
			/* What the old cache knew of its lock stays. */
			pthread_mutex_lock(&c->st->mu);
			until = rmap_until(c->st, key);
			pthread_mutex_unlock(&c->st->mu);
			if (until > 0)
				qbk_buf_addf(c->keys, " %lld",
				    (long long)until);
		}
		qbk_buf_addch(c->keys, '\n');
	}
	return list_one(c->l, key, size, mtime, err);
}

/* Note the "<key> <until>" entries of a checked cache file (its tokens
 * NUL-terminated by cache_check). */
static void
load_untils(struct s3store *st, const struct qbk_buf *f)
{
	const char *p, *end = f->buf + f->len, *key = NULL;

	pthread_mutex_lock(&st->mu);
	for (p = f->buf; p < end; p += strlen(p) + 1) {
		if (key != NULL && *p >= '0' && *p <= '9')
			rmap_note(st, key, (int64_t)strtoll(p, NULL, 10));
		key = cached_key(st, p) ? p : NULL;
	}
	pthread_mutex_unlock(&st->mu);
}

/* List the cache prefix through the chunk-index cache. */
static int
cached_list(struct s3store *st, struct lister *l, struct qbk_err *err)
{
	struct qbk_buf hdr = QBK_BUF_INIT, file = QBK_BUF_INIT,
	    path = QBK_BUF_INIT, keys = QBK_BUF_INIT, out = QBK_BUF_INIT;
	struct qbk_err e = QBK_ERR_INIT;
	char id[128], sum[SUM_HEX + 1];
	const char **sample = NULL, *why = NULL, *missing = NULL;
	size_t nkeys = 0, k = st->cache_sample;
	int64_t listed = 0, now = qbk_now();
	struct collect c;
	char *p;
	int rc = 0, probe;

	if (cache_header(st, &hdr, id, sizeof(id), err) != 0)
		return -1;
	pthread_mutex_lock(&st->mu);
	free(st->cache_dir);
	qbk_buf_addf(&path, "%s/%s", st->cache_root, id);
	st->cache_dir = qbk_buf_detach(&path, NULL);
	st->cache_ok = 0;
	qbk_buf_addf(&path, "%s/chunks", st->cache_dir);
	pthread_mutex_unlock(&st->mu);
	if (k > 0)
		sample = qbk_xcalloc(k, sizeof(*sample));
	if (qbk_fs_read_file(path.buf, CACHE_MAX, &file, &e) != 0) {
		why = e.code == QBK_E_NOTFOUND ? NULL : "unreadable";
	} else if (cache_check(st, &file, &hdr, &listed, sum, &nkeys, sample,
	    k, &why) == 0) {
		/* Even out of date, what it knows of locks still holds. */
		if (st->lock_days > 0)
			load_untils(st, &file);
		if (why != NULL) {
			/* out of date */
		} else if (st->cache_max_age <= 0 ||
		    now - listed >= st->cache_max_age || listed > now + 300) {
			why = "older than cache_max_age";
		} else if ((probe = cache_probe(st, sample, nkeys < k ? nkeys :
		    k, &missing, err)) < 0) {
			rc = -1;
			goto out;
		} else if (probe == 0) {
			qbk_warn("chunk '%s' of the chunk-index cache is "
			    "missing from the repository (removed by something "
			    "else than qbk-prune?): listing the bucket again",
			    missing);
			why = "wrong";
		}
	}
	if (why == NULL && file.len > 0) {
		qbk_detail("chunk index from the cache '%s' (%zu chunks, %zu "
		    "checked)", path.buf, nkeys, nkeys < k ? nkeys : k);
		for (p = file.buf; p < file.buf + file.len;
		    p += strlen(p) + 1) {
			if (!cached_key(st, p))
				continue;
			rc = l->fn(l->cookie, p, NULL, err);
			if (rc != 0) {
				if (rc < 0)
					rc = -1;
				break;
			}
		}
		pthread_mutex_lock(&st->mu);
		st->cache_ok = rc == 0;
		memcpy(st->cache_sum, sum, sizeof(sum));
		pthread_mutex_unlock(&st->mu);
		goto out;
	}
	if (why != NULL)
		qbk_detail("the chunk-index cache '%s' is %s: listing the "
		    "bucket", path.buf, why);
	/* List the bucket, and write the cache anew. */
	c.st = st;
	c.l = l;
	c.keys = &keys;
	if ((rc = qbk_s3_list(st->s3, st->cache_prefix, collect_one, &c,
	    err)) != 0)
		goto out;
	qbk_buf_addf(&hdr, "listed %lld\n", (long long)now);
	block_sum(NULL, hdr.buf, hdr.len, sum);
	qbk_buf_add(&out, hdr.buf, hdr.len);
	qbk_buf_addf(&out, "sum %s\n", sum);
	add_block(&out, sum, keys.buf, keys.len);
	qbk_err_clear(&e);
	if (qbk_fs_mkdir_p(st->cache_dir, QBK_FS_NOSYNC, &e) == 0 &&
	    qbk_fs_write_atomic(st->cache_dir, "chunks", out.buf, out.len,
	    QBK_FS_NOSYNC, &e) == 0) {
		pthread_mutex_lock(&st->mu);
		st->cache_ok = 1;
		memcpy(st->cache_sum, sum, sizeof(sum));
		pthread_mutex_unlock(&st->mu);
	} else {
		qbk_warn("cannot write the chunk-index cache: %s", e.msg);
	}
out:
	free(sample);
	qbk_buf_release(&hdr);
	qbk_buf_release(&file);
	qbk_buf_release(&path);
	qbk_buf_release(&keys);
	qbk_buf_release(&out);
	return rc;
}

static int
s3_list(struct qbk_store *s, const char *prefix, unsigned flags,
    qbk_store_list_fn *fn, void *cookie, struct qbk_err *err)
{
	struct s3store *st = (struct s3store *)s;
	struct lister l;

	l.flags = flags;
	l.fn = fn;
	l.cookie = cookie;
	if ((flags & QBK_STORE_LIST_CACHED) && !(flags & QBK_STORE_LIST_STAT) &&
	    st->cache_root != NULL && strcmp(prefix, st->cache_prefix) == 0)
		return cached_list(st, &l, err);
	return qbk_s3_list(st->s3, prefix, list_one, &l, err);
}

/* Before the first chunk delete: a new index-generation token, so that
 * every chunk-index cache made before is known to be out of date. */
static int
bump_generation(struct s3store *st, struct qbk_err *err)
{
	unsigned char rnd[16];
	char hex[33];

	if (st->gen_bumped)
		return 0;
	randombytes_buf(rnd, sizeof(rnd));
	qbk_hex(rnd, sizeof(rnd), hex);
	if (s3_flush(&st->base, err) != 0 ||
	    qbk_s3_request(st->s3, "PUT", GEN_KEY, NULL, hex, 32, 0, NULL,
	    NULL, NULL, err) != 0)
		return -1;
	st->gen_bumped = 1;
	pthread_mutex_lock(&st->mu);
	st->cache_ok = 0;
	pthread_mutex_unlock(&st->mu);
	return 0;
}

static int
s3_del(struct qbk_store *s, const char *key, unsigned flags,
    struct qbk_err *err)
{
	struct s3store *st = (struct s3store *)s;
	struct qbk_err e = QBK_ERR_INIT;

	if (cached_key(st, key) && bump_generation(st, err) != 0)
		return -1;
	if (flags & QBK_STORE_F_LAZY)
		return qbk_s3_submit(st->s3, "DELETE", key, NULL, 0, 0, err);
	/* Wait for earlier requests, but a failed upload does not stop a
	 * delete (a failed backup must still remove its lock record). */
	if (!(flags & QBK_STORE_F_ALONE))
		(void)s3_flush(s, NULL);
	if (qbk_s3_request(st->s3, "DELETE", key, NULL, NULL, 0, 0, NULL,
	    NULL, NULL, &e) == 0 || e.code == QBK_E_NOTFOUND)
		return 0;
	if (err != NULL)
		*err = e;
	return -1;
}

static int
s3_remove_stale(struct qbk_store *s, time_t max_age, size_t *removed,
    struct qbk_err *err)
{
	/* Objects are written with single PUTs: nothing is left behind. */
	(void)s;
	(void)max_age;
	(void)removed;
	(void)err;
	return 0;
}

static int
s3_close(struct qbk_store *s, struct qbk_err *err)
{
	struct s3store *st = (struct s3store *)s;
	size_t i;

	(void)err;
	qbk_s3_free(st->s3);
	qbk_buf_release(&st->pending);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->lock_mu);
	for (i = 0; i < st->rcap; i++)
		free(st->rmap[i].key);
	free(st->rmap);
	free(st->touched);
	free(st->lock_mode);
	free(st->cache_root);
	free(st->cache_dir);
	free(st->where);
	free(st->cache_prefix);
	free(st->cache_guard);
	free(st->base.location);
	free(st);
	return 0;
}

static const struct qbk_store_ops s3_ops = {
	"s3",
	s3_put,
	s3_get,
	s3_get_range,
	s3_get_stream,
	s3_stat,
	s3_list,
	s3_del,
	s3_flush,
	s3_remove_stale,
	NULL,
	NULL,
	s3_close,
	store_touch,
};

/* The root folder of the chunk-index caches; NULL when caching is off
 * ("" root) or no root is known. */
static char *
cache_root(const char *root)
{
	struct qbk_buf b = QBK_BUF_INIT;
	const char *env;

	if (root != NULL && *root == '\0')
		return NULL;
	if (root != NULL)
		qbk_buf_addstr(&b, root);
	else if ((env = getenv("XDG_CACHE_HOME")) != NULL && *env == '/')
		qbk_buf_addf(&b, "%s/qbk", env);
	else if ((env = getenv("HOME")) != NULL && *env == '/')
		qbk_buf_addf(&b, "%s/.cache/qbk", env);
	else
		return NULL;
	return qbk_buf_detach(&b, NULL);
}

int
qbk_store_s3_open(const char *location, const struct qbk_store_opts *opts,
    struct qbk_store **out, struct qbk_err *err)
{
	struct qbk_store_s3 none;
	const struct qbk_store_s3 *c;
	struct qbk_s3_opts so;
	struct qbk_buf bucket = QBK_BUF_INIT, where = QBK_BUF_INIT;
	struct s3store *st;
	const char *p, *slash;
	int ex, host_style;

	*out = NULL;
	qbk_store_s3_init(&none);
	c = opts != NULL && opts->s3 != NULL ? opts->s3 : &none;
	if (strncmp(location, "s3://", 5) != 0)
		return qbk_err_set(err, QBK_E_CONFIG, "not an S3 location: "
		    "'%s'", location);
	p = location + 5;
	slash = strchr(p, '/');
	qbk_buf_add(&bucket, p, slash != NULL ? (size_t)(slash - p) :
	    strlen(p));
	if (bucket.len == 0) {
		qbk_buf_release(&bucket);
		return qbk_err_set(err, QBK_E_CONFIG, "no bucket in S3 "
		    "location '%s': expected s3://bucket/prefix", location);
	}
	if ((c->access_key == NULL) != (c->secret_key == NULL)) {
		qbk_err_set(err, QBK_E_CONFIG, "S3 credentials: an access key "
		    "id without a secret key, or the reverse");
		goto err0;
	}
	memset(&so, 0, sizeof(so));
	so.endpoint = c->endpoint;
	host_style = c->host_style;
	if (so.endpoint == NULL || *so.endpoint == '\0') {
		/* The AWS SDKs' variables (S3-compatible stores: path style). */
		if ((so.endpoint = getenv("AWS_ENDPOINT_URL_S3")) == NULL ||
		    *so.endpoint == '\0')
			so.endpoint = getenv("AWS_ENDPOINT_URL");
		if (so.endpoint != NULL && *so.endpoint != '\0')
			host_style = 0;
		else
			so.endpoint = NULL;
	}
	so.region = c->region;
	so.bucket = bucket.buf;
	so.prefix = slash != NULL ? slash + 1 : "";
	so.host_style = host_style;
	so.access_key = c->access_key;
	so.secret_key = c->secret_key;
	so.session_token = c->session_token;
	so.ca_file = c->ca_file;
	so.insecure = c->insecure;
	so.transfers = c->transfers;
	so.retries = c->retries > 0 ? c->retries : 5;
	so.lock_days = c->lock_days;
	so.lock_mode = c->lock_mode;
	so.low_speed_time_s = (long)c->timeout_s;
	so.cancel = opts != NULL ? opts->cancel : NULL;
	st = qbk_xcalloc(1, sizeof(*st));
	st->base.ops = &s3_ops;
	st->base.location = qbk_xstrdup(location);
	st->lock_days = c->lock_days;
	st->lock_secs = (int64_t)c->lock_days * 86400;
	/* A quarter of the lock period, at least a day (qbk-repository(5)). */
	st->extend_secs = ((int64_t)c->lock_days + 3) / 4 * 86400;
	st->opened = qbk_now();
	st->lock_mode = qbk_xstrdup(c->lock_mode != NULL ? c->lock_mode :
	    "GOVERNANCE");
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->lock_mu, NULL);
	qbk_buf_init(&st->pending);
	if (opts != NULL && opts->cache_prefix != NULL) {
		st->cache_prefix = qbk_xstrdup(opts->cache_prefix);
		st->cache_plen = strlen(st->cache_prefix);
		if (opts->cache_guard != NULL) {
			st->cache_guard = qbk_xstrdup(opts->cache_guard);
			st->cache_root = cache_root(c->cache_dir);
		}
	}
	st->cache_max_age = c->cache_max_age;
	st->cache_sample = c->cache_sample;
	qbk_buf_addf(&where, "%s at %s", location, so.endpoint != NULL ?
	    so.endpoint : "AWS");
	st->where = qbk_buf_detach(&where, NULL);
	if (qbk_s3_new(&so, &st->s3, err) != 0) {
		s3_close(&st->base, NULL);
		goto err0;
	}
	if ((ex = qbk_s3_bucket_exists(st->s3, err)) != 1) {
		if (ex == 0) {
			qbk_err_set(err, QBK_E_NOTFOUND, "S3 bucket '%s' does "
			    "not exist", bucket.buf);
			qbk_err_hint(err, "create the bucket first (qbk never "
			    "creates buckets), or check s3_endpoint");
		} else {
			qbk_err_prefix(err, "cannot reach S3 repository '%s'",
			    location);
		}
		s3_close(&st->base, NULL);
		goto err0;
	}
	qbk_buf_release(&bucket);
	*out = &st->base;
	return 0;
err0:
	qbk_buf_release(&bucket);
	return -1;
}
