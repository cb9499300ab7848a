#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "storage/qbk_store_driver.h"
#include "storage/qbk_store.h"

/*
 * The drivers, by location: the first whose scheme starts the location;
 * the last one (no scheme) takes paths.  A new backend is one more entry
 * (lib/README).
 */
static const struct qbk_store_driver drivers[] = {
	{ "s3", "s3://", qbk_store_s3_parse, qbk_store_s3_open },
	{ "local", NULL, qbk_store_local_parse, qbk_store_local_open },
};
#define NDRIVERS	(sizeof(drivers) / sizeof(drivers[0]))

int
qbk_store_key_valid(const char *key)
{
	size_t len = 0;
	int start = 1;		/* at the start of a component */
	const char *p;

	for (p = key; *p != '\0'; p++, len++) {
		unsigned char c = (unsigned char)*p;

		if (c == '/') {
			if (start)
				return 0;	/* leading '/' or "a//b" */
			start = 1;
			continue;
		}
		if (start && c == '.')
			return 0;		/* ".", "..", ".hidden" */
		start = 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return 0;
	}
	return len > 0 && len <= QBK_STORE_KEY_MAX && !start;
}

static int
check_key(const char *key, struct qbk_err *err)
{
	if (!qbk_store_key_valid(key))
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "invalid repository key '%.80s'", key);
	return 0;
}

/* A prefix is a key prefix: empty, or a valid key optionally ending in '/'. */
static int
check_prefix(const char *prefix, struct qbk_err *err)
{
	struct qbk_buf b = QBK_BUF_INIT;
	int ok;

	if (*prefix == '\0')
		return 0;
	qbk_buf_addstr(&b, prefix);
	if (b.len > 0 && b.buf[b.len - 1] == '/')
		qbk_buf_setlen(&b, b.len - 1);
	ok = qbk_store_key_valid(b.buf);
	qbk_buf_release(&b);
	if (!ok)
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "invalid repository key prefix '%.80s'", prefix);
	return 0;
}

/* The length of the "scheme://" that starts ${location}, or 0 (a path:
 * "/a/b://c" is one). */
static size_t
scheme_len(const char *location)
{
	const char *p;

	for (p = location; isalnum((unsigned char)*p) || *p == '+' ||
	    *p == '.' || *p == '-'; p++)
		;
	if (p > location && strncmp(p, "://", 3) == 0)
		return (size_t)(p - location) + 3;
	return 0;
}

/* The driver of ${location}, or NULL with ${*n} the length of its unknown
 * "scheme://". */
static const struct qbk_store_driver *
find_driver(const char *location, size_t *n)
{
	size_t i;

	*n = scheme_len(location);
	for (i = 0; i < NDRIVERS; i++) {
		const char *sc = drivers[i].scheme;

		if (sc == NULL ? *n == 0 : strncmp(location, sc,
		    strlen(sc)) == 0)
			return &drivers[i];
	}
	return NULL;
}

int
qbk_store_location_parse(const char *location, struct qbk_store_loc *out,
    struct qbk_err *err)
{
	const struct qbk_store_driver *d;
	size_t n;

	memset(out, 0, sizeof(*out));
	if ((d = find_driver(location, &n)) == NULL)
		return qbk_err_set(err, QBK_E_CONFIG,
		    "unsupported location type '%.*s': expected a path or "
		    "s3://bucket/prefix", (int)n, location);
	out->driver = d->name;
	out->is_path = d->scheme == NULL;
	if (d->parse(location, out, err) != 0) {
		qbk_store_loc_release(out);
		return -1;
	}
	return 0;
}

void
qbk_store_loc_release(struct qbk_store_loc *loc)
{
	free(loc->text);
	free(loc->bucket);
	free(loc->prefix);
	memset(loc, 0, sizeof(*loc));
}

int
qbk_store_open(const char *location, const struct qbk_store_opts *opts,
    struct qbk_store **out, struct qbk_err *err)
{
	const struct qbk_store_driver *d;
	size_t n;

	*out = NULL;
	if (location == NULL || *location == '\0')
		return qbk_err_set(err, QBK_E_CONFIG,
		    "no repository location given");
	if ((d = find_driver(location, &n)) == NULL)
		return qbk_err_set(err, QBK_E_CONFIG,
		    "unsupported repository location '%s': "
		    "expected a path or s3://bucket/prefix", location);
	return d->open(location, opts, out, err);
}

int
qbk_store_close(struct qbk_store *s, struct qbk_err *err)
{
	if (s == NULL)
		return 0;
	return s->ops->close(s, err);
}

int
qbk_store_put(struct qbk_store *s, const char *key, const void *data,
    size_t len, unsigned flags, struct qbk_err *err)
{
	if (check_key(key, err))
		return -1;
	return s->ops->put(s, key, data, len, flags, err);
}

int
qbk_store_get(struct qbk_store *s, const char *key, size_t max,
    struct qbk_buf *out, struct qbk_err *err)
{
	if (check_key(key, err)) {
		qbk_buf_release(out);
		return -1;
	}
	return s->ops->get(s, key, max, out, err);
}

int
qbk_store_past_end(const char *key, uint64_t offset, size_t len,
    uint64_t size, struct qbk_err *err)
{
	if (size == UINT64_MAX)
		return qbk_err_set(err, QBK_E_INTEGRITY, "object '%s': bytes "
		    "%llu to %llu are past its end", key,
		    (unsigned long long)offset,
		    (unsigned long long)(offset + len));
	return qbk_err_set(err, QBK_E_INTEGRITY, "object '%s' has %llu "
	    "bytes: bytes %llu to %llu are past its end", key,
	    (unsigned long long)size, (unsigned long long)offset,
	    (unsigned long long)(offset + len));
}

int
qbk_store_get_range(struct qbk_store *s, const char *key, uint64_t offset,
    size_t len, struct qbk_buf *out, struct qbk_err *err)
{
	struct qbk_store_stat st;

	qbk_buf_reset(out);
	if (check_key(key, err) != 0)
		goto fail;
	if (len == 0) {
		/* Nothing to read: the offset must still be in the object. */
		if (qbk_store_stat(s, key, &st, err) != 0)
			goto fail;
		if (offset <= st.size)
			return 0;
		qbk_store_past_end(key, offset, len, st.size, err);
		goto fail;
	}
	if (s->ops->get_range(s, key, offset, len, out, err) == 0)
		return 0;
fail:
	qbk_buf_release(out);
	return -1;
}

int
qbk_store_get_stream(struct qbk_store *s, const char *key,
    qbk_store_read_fn *fn, void *cookie, struct qbk_err *err)
{
	if (check_key(key, err))
		return -1;
	return s->ops->get_stream(s, key, fn, cookie, err);
}

int
qbk_store_stat(struct qbk_store *s, const char *key,
    struct qbk_store_stat *st, struct qbk_err *err)
{
	if (check_key(key, err))
		return -1;
	return s->ops->stat(s, key, st, err);
}

int
qbk_store_exists(struct qbk_store *s, const char *key, struct qbk_err *err)
{
	struct qbk_store_stat st;
	struct qbk_err e = QBK_ERR_INIT;

	if (qbk_store_stat(s, key, &st, &e) == 0)
		return 1;
	if (e.code == QBK_E_NOTFOUND)
		return 0;
	if (err != NULL)
		*err = e;
	return -1;
}

int
qbk_store_list(struct qbk_store *s, const char *prefix, unsigned flags,
    qbk_store_list_fn *fn, void *cookie, struct qbk_err *err)
{
	if (check_prefix(prefix, err))
		return -1;
	return s->ops->list(s, prefix, flags, fn, cookie, err);
}

int
qbk_store_delete(struct qbk_store *s, const char *key, unsigned flags,
    struct qbk_err *err)
{
	if (check_key(key, err))
		return -1;
	return s->ops->del(s, key, flags, err);
}

int
qbk_store_flush(struct qbk_store *s, struct qbk_err *err)
{
	return s->ops->flush(s, err);
}

int
qbk_store_remove_stale(struct qbk_store *s, time_t max_age, size_t *removed,
    struct qbk_err *err)
{
	return s->ops->remove_stale(s, max_age, removed, err);
}

int
qbk_store_host_lock(struct qbk_store *s, int exclusive, void **token,
    struct qbk_err *err)
{
	*token = NULL;
	if (s->ops->host_lock == NULL)
		return 0;
	return s->ops->host_lock(s, exclusive, token, err);
}

void
qbk_store_host_unlock(struct qbk_store *s, void *token)
{
	if (token != NULL && s->ops->host_unlock != NULL)
		s->ops->host_unlock(s, token);
}

void
qbk_store_touch(struct qbk_store *s, const char *key)
{
	if (s->ops->touch != NULL && qbk_store_key_valid(key))
		s->ops->touch(s, key);
}

const char *
qbk_store_location(const struct qbk_store *s)
{
	return s->location;
}
