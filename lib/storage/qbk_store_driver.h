#ifndef QBK_STORE_DRIVER_H
#define QBK_STORE_DRIVER_H

/*
 * qbk_store_driver: what the store drivers (qbk_store_local.c,
 * qbk_store_s3.c) implement, for qbk_store.c only.  qbk_store.c reaches the
 * drivers through its table of them (struct qbk_store_driver), never by
 * name; the drivers include this header and qbk_store.h, never each other.
 */
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "storage/qbk_store.h"

/*
 * The driver interface.  A driver's handle starts with a struct qbk_store
 * whose ops point to its table; the qbk_store_* functions of qbk_store.h
 * check arguments (keys) and dispatch.  The callers never call the ops
 * directly.
 */
struct qbk_store_ops {
	const char *name;	/* "local", "s3" */
	int (*put)(struct qbk_store *, const char *, const void *, size_t,
	    unsigned, struct qbk_err *);
	int (*get)(struct qbk_store *, const char *, size_t, struct qbk_buf *,
	    struct qbk_err *);
	/* A range within the object; never of length 0. */
	int (*get_range)(struct qbk_store *, const char *, uint64_t, size_t,
	    struct qbk_buf *, struct qbk_err *);
	int (*get_stream)(struct qbk_store *, const char *,
	    qbk_store_read_fn *, void *, struct qbk_err *);
	int (*stat)(struct qbk_store *, const char *, struct qbk_store_stat *,
	    struct qbk_err *);
	int (*list)(struct qbk_store *, const char *, unsigned,
	    qbk_store_list_fn *, void *, struct qbk_err *);
	int (*del)(struct qbk_store *, const char *, unsigned,
	    struct qbk_err *);
	int (*flush)(struct qbk_store *, struct qbk_err *);
	int (*remove_stale)(struct qbk_store *, time_t, size_t *,
	    struct qbk_err *);
	/* Same-host mutual exclusion for qbk_lock (local: flock(2) on
	 * locks/.lock); NULL when the backend has none (S3).  host_lock
	 * returns 0 (held; *token set), 1 (held elsewhere) or -1. */
	int (*host_lock)(struct qbk_store *, int, void **, struct qbk_err *);
	void (*host_unlock)(struct qbk_store *, void *);
	int (*close)(struct qbk_store *, struct qbk_err *);
	/* NULL when the backend keeps every object anyway (local). */
	void (*touch)(struct qbk_store *, const char *);
};

struct qbk_store {
	const struct qbk_store_ops *ops;
	char *location;		/* as given to qbk_store_open() */
};

/* One entry of the driver table (qbk_store.c). */
struct qbk_store_driver {
	const char *name;	/* "local", "s3" */
	const char *scheme;	/* "s3://"; NULL: a path (the last entry) */
	/* Check and normalize a location of this driver (the caller has set
	 * ${loc}->driver and ${loc}->is_path); 0 or -1 (QBK_E_CONFIG). */
	int (*parse)(const char *, struct qbk_store_loc *, struct qbk_err *);
	int (*open)(const char *, const struct qbk_store_opts *,
	    struct qbk_store **, struct qbk_err *);
};

/** qbk_store_past_end(key, offset, len, size, err): the error of a range
 * [offset, offset + len) that reaches past the end of object ${key} of
 * ${size} bytes (UINT64_MAX: unknown): QBK_E_INTEGRITY.  Returns -1. */
int qbk_store_past_end(const char *, uint64_t, size_t, uint64_t,
    struct qbk_err *);

/** qbk_store_local_parse(path, loc, err): the local driver's parse: the
 * path without the '/' at its end. */
int qbk_store_local_parse(const char *, struct qbk_store_loc *,
    struct qbk_err *);

/** qbk_store_local_open(path, opts, out, err): qbk_store_open() for a local
 * folder, whatever ${path} looks like. */
int qbk_store_local_open(const char *, const struct qbk_store_opts *,
    struct qbk_store **, struct qbk_err *);

/** qbk_store_s3_parse(location, loc, err): the S3 driver's parse of
 * "s3://bucket/prefix" (qbk_store_location_parse). */
int qbk_store_s3_parse(const char *, struct qbk_store_loc *,
    struct qbk_err *);

/** qbk_store_s3_open(location, opts, out, err): qbk_store_open() for
 * "s3://bucket/prefix".  The bucket must exist (QBK_E_NOTFOUND otherwise;
 * qbk never creates buckets).  0 or -1. */
int qbk_store_s3_open(const char *, const struct qbk_store_opts *,
    struct qbk_store **, struct qbk_err *);

#endif /* !QBK_STORE_DRIVER_H */
