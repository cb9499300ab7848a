#ifndef QBK_CTX_H
#define QBK_CTX_H

/*
 * qbk_ctx: what every program sets up from its configuration: the config
 * itself (with --url and --repo applied), a Qdrant client and the opened
 * repository, each made on first use so that a program that needs no Qdrant
 * never reads an API key.
 */
#include <signal.h>
#include <stddef.h>

#include "config/qbk_config.h"
#include "storage/qbk_store.h"

struct qbk_err;
struct qbk_qdrant;
struct qbk_repo;
struct qbk_store;
struct qbk_lock;

struct qbk_ctx_opts {
	const char *config;	/* -c FILE, or NULL for the default */
	const char *url;	/* --url, or NULL */
	const char *repo;	/* --repo, or NULL */
	const char *program;	/* "qbk-backup": lock records, user agent */
	volatile sig_atomic_t *cancel;	/* set by signals; may be NULL */
};

/* The context: its configuration, clients, repository and lock, opaque;
 * read through the functions below. */
struct qbk_ctx;

/** qbk_ctx_open(out, opts, err): load the configuration (QBK_E_CONFIG on a
 * bad file) and apply ${opts}' overrides.  Caller frees with
 * qbk_ctx_free(). */
int qbk_ctx_open(struct qbk_ctx **, const struct qbk_ctx_opts *,
    struct qbk_err *);

/** qbk_ctx_free(ctx): release the lock, close the repository and the
 * Qdrant client, free ${ctx}; NULL is fine. */
void qbk_ctx_free(struct qbk_ctx *);

/** qbk_ctx_close(ctx): release the lock, close the repository and the
 * Qdrant client of ${ctx}; its configuration stays, for qbk_ctx_config(),
 * until qbk_ctx_free().  NULL is fine. */
void qbk_ctx_close(struct qbk_ctx *);

/** qbk_ctx_config(ctx): the configuration of ${ctx}, with --url and --repo
 * applied; it lives as long as ${ctx}. */
struct qbk_config *qbk_ctx_config(struct qbk_ctx *);

/** qbk_ctx_lock(ctx): the repository lock that qbk_ctx_repo() took, or NULL
 * (none asked, or a read-only repository). */
struct qbk_lock *qbk_ctx_lock(struct qbk_ctx *);

/** qbk_qdrant_open(cfg, url, api_key, cancel, out, err): a Qdrant client
 * for ${url} with ${api_key} (NULL: none) and the TLS, timeout and retry
 * settings of ${cfg}'s [qdrant] section; the caller frees it with
 * qbk_qdrant_free().  0 or -1. */
int qbk_qdrant_open(const struct qbk_config *, const char *, const char *,
    volatile sig_atomic_t *, struct qbk_qdrant **, struct qbk_err *);

/** qbk_ctx_qdrant(ctx, url, out, err): a Qdrant client for ${url} (NULL:
 * the configured one) with the API key, TLS and retry settings of the
 * config; the default one is kept in ${ctx}, others are the caller's to
 * free with qbk_qdrant_free(). */
int qbk_ctx_qdrant(struct qbk_ctx *, const char *, struct qbk_qdrant **,
    struct qbk_err *);

/** qbk_ctx_qdrant_cleanup(ctx, out, err): a second client for the
 * configured Qdrant that ignores the cancel flag, to undo a half-done
 * change after ^C; the caller frees it with qbk_qdrant_free().  0 or -1. */
int qbk_ctx_qdrant_cleanup(struct qbk_ctx *, struct qbk_qdrant **,
    struct qbk_err *);

/** qbk_ctx_peers(ctx, peers, max, n, err): a client in ${peers} for each
 * node of [qdrant] nodes (at most ${max}), to compare replicas; ${n} is
 * how many were opened, also on failure.  The caller frees each with
 * qbk_qdrant_free().  0 or -1. */
int qbk_ctx_peers(struct qbk_ctx *, struct qbk_qdrant **, size_t, size_t *,
    struct qbk_err *);

/* Locks of qbk_ctx_repo(). */
#define QBK_CTX_LOCK_NONE	0
#define QBK_CTX_LOCK_SHARED	1
#define QBK_CTX_LOCK_EXCLUSIVE	2
#define QBK_CTX_LOCK_READ	3	/* shared, or none if the repository
					 * cannot be written (the run must
					 * write nothing to it) */

/** qbk_ctx_repo(ctx, lock, out, err): open the configured repository with
 * the configured secret, and take its lock of kind ${lock} (QBK_CTX_LOCK_*).
 * The repository stays in ${ctx}. */
int qbk_ctx_repo(struct qbk_ctx *, int, struct qbk_repo **, struct qbk_err *);

/*
 * How the configured repository's storage is opened: the config's S3
 * settings and the S3 credentials (qbk_config_s3_credentials), read only
 * for an s3:// location, so that a folder repository never needs them.
 */
struct qbk_ctx_store {
	struct qbk_store_opts opts;	/* opts.s3 points to s3 below */
	struct qbk_store_s3 s3;
	struct qbk_config_secret access_key, secret_key, session_token;
};

/** qbk_ctx_store_init(ctx, cs, err): fill ${cs} from ${ctx}'s config (its
 * strings are borrowed from the config, the secrets owned by ${cs}).
 * Release with qbk_ctx_store_release(), also after a failure.  0 or -1
 * (QBK_E_CONFIG: unreadable or incomplete S3 credentials). */
int qbk_ctx_store_init(struct qbk_ctx *, struct qbk_ctx_store *,
    struct qbk_err *);

/** qbk_ctx_store_release(cs): zero and free the secrets of ${cs}. */
void qbk_ctx_store_release(struct qbk_ctx_store *);

/** qbk_ctx_lost_lock(ctx, err): if the repository lock of ${ctx} was lost
 * (qbk_lock.h), put why into ${err} (QBK_E_LOCKED), replacing the
 * interruption it caused, and return 1; else 0.  For a program whose run
 * failed. */
int qbk_ctx_lost_lock(struct qbk_ctx *, struct qbk_err *);

/** qbk_ctx_repo_location(ctx, err): the repository location, or NULL with
 * QBK_E_CONFIG when none is configured. */
const char *qbk_ctx_repo_location(struct qbk_ctx *, struct qbk_err *);

#endif /* !QBK_CTX_H */
