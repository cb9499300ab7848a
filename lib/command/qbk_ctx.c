#include <stdlib.h>
#include <string.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "net/qbk_http.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_repo.h"
#include "command/qbk_ctx.h"

struct qbk_ctx {
	struct qbk_config cfg;
	struct qbk_ctx_opts opts;
	struct qbk_qdrant *qdrant;
	struct qbk_repo *repo;
	struct qbk_lock *lock;
};

int
qbk_ctx_open(struct qbk_ctx **out, const struct qbk_ctx_opts *opts,
    struct qbk_err *err)
{
	struct qbk_ctx *ctx = qbk_xcalloc(1, sizeof(*ctx));

	*out = NULL;
	ctx->opts = *opts;
	qbk_config_init(&ctx->cfg);
	if (qbk_config_load(&ctx->cfg, opts->config, err) != 0)
		goto err;
	if (opts->url != NULL &&
	    qbk_config_set(&ctx->cfg, "qdrant", "url", opts->url, err) != 0)
		goto err;
	if (opts->repo != NULL && qbk_config_set(&ctx->cfg, "repository",
	    "location", opts->repo, err) != 0)
		goto err;
	*out = ctx;
	return 0;
err:
	qbk_ctx_free(ctx);
	return -1;
}

void
qbk_ctx_close(struct qbk_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->lock != NULL)
		qbk_lock_release(ctx->lock, NULL);
	ctx->lock = NULL;
	qbk_repo_close(ctx->repo);
	ctx->repo = NULL;
	qbk_qdrant_free(ctx->qdrant);
	ctx->qdrant = NULL;
}

void
qbk_ctx_free(struct qbk_ctx *ctx)
{
	if (ctx == NULL)
		return;
	qbk_ctx_close(ctx);
	qbk_config_release(&ctx->cfg);
	free(ctx);
}

struct qbk_config *
qbk_ctx_config(struct qbk_ctx *ctx)
{
	return &ctx->cfg;
}

struct qbk_lock *
qbk_ctx_lock(struct qbk_ctx *ctx)
{
	return ctx->lock;
}

int
qbk_qdrant_open(const struct qbk_config *cfg, const char *url,
    const char *api_key, volatile sig_atomic_t *cancel,
    struct qbk_qdrant **out, struct qbk_err *err)
{
	struct qbk_http_opts ho;

	qbk_http_opts_init(&ho);
	ho.base_url = url;
	ho.api_key = api_key;
	ho.ca_file = cfg->qdrant.ca_file;
	ho.insecure = !cfg->qdrant.tls_verify;
	if (cfg->qdrant.connect_timeout > 0)
		ho.connect_timeout_ms = (long)cfg->qdrant.connect_timeout;
	if (cfg->qdrant.timeout > 0)
		ho.timeout_ms = (long)cfg->qdrant.timeout;
	if (cfg->qdrant.stall_timeout > 0)
		ho.low_speed_time = (long)(cfg->qdrant.stall_timeout / 1000);
	if (cfg->qdrant.retries >= 0)
		ho.retries = (unsigned)cfg->qdrant.retries;
	if (cfg->qdrant.retry_delay > 0)
		ho.retry_base_ms = cfg->qdrant.retry_delay;
	ho.cancel = cancel;
	return qbk_qdrant_new(out, &ho, err);
}

int
qbk_ctx_qdrant(struct qbk_ctx *ctx, const char *url, struct qbk_qdrant **out,
    struct qbk_err *err)
{
	struct qbk_config_secret key = QBK_CONFIG_SECRET_INIT;
	int rc;

	*out = NULL;
	if (url == NULL && ctx->qdrant != NULL) {
		*out = ctx->qdrant;
		return 0;
	}
	if (qbk_config_api_key(&ctx->cfg, &key, err) != 0)
		return -1;
	rc = qbk_qdrant_open(&ctx->cfg, url != NULL ? url :
	    ctx->cfg.qdrant.url, key.data, ctx->opts.cancel, out, err);
	qbk_config_secret_release(&key);
	if (rc == 0 && url == NULL)
		ctx->qdrant = *out;
	return rc;
}

int
qbk_ctx_qdrant_cleanup(struct qbk_ctx *ctx, struct qbk_qdrant **out,
    struct qbk_err *err)
{
	volatile sig_atomic_t *cancel = ctx->opts.cancel;
	int rc;

	ctx->opts.cancel = NULL;
	rc = qbk_ctx_qdrant(ctx, ctx->cfg.qdrant.url, out, err);
	ctx->opts.cancel = cancel;
	return rc;
}

int
qbk_ctx_peers(struct qbk_ctx *ctx, struct qbk_qdrant **peers, size_t max,
    size_t *n, struct qbk_err *err)
{
	size_t i;

	*n = 0;
	for (i = 0; i < ctx->cfg.qdrant.nnodes && i < max; i++) {
		if (qbk_ctx_qdrant(ctx, ctx->cfg.qdrant.nodes[i], &peers[i],
		    err) != 0)
			return -1;
		(*n)++;
	}
	return 0;
}

int
qbk_ctx_lost_lock(struct qbk_ctx *ctx, struct qbk_err *err)
{
	return ctx != NULL && qbk_lock_lost(ctx->lock, err);
}

const char *
qbk_ctx_repo_location(struct qbk_ctx *ctx, struct qbk_err *err)
{
	if (ctx->cfg.repo.location == NULL) {
		qbk_err_set(err, QBK_E_CONFIG, "no repository given");
		qbk_err_hint(err, "set [repository] location in the config, "
		    "or use --repo");
		return NULL;
	}
	return ctx->cfg.repo.location;
}

int
qbk_ctx_store_init(struct qbk_ctx *ctx, struct qbk_ctx_store *cs,
    struct qbk_err *err)
{
	const struct qbk_config_repo *c = &ctx->cfg.repo;
	struct qbk_store_opts init = QBK_STORE_OPTS_INIT;

	memset(cs, 0, sizeof(*cs));
	cs->opts = init;
	cs->opts.cancel = ctx->opts.cancel;
	cs->opts.s3 = &cs->s3;
	qbk_store_s3_init(&cs->s3);
	if (!c->is_s3)
		return 0;
	if (qbk_config_s3_credentials(&ctx->cfg, &cs->access_key,
	    &cs->secret_key, &cs->session_token, err) != 0)
		return -1;
	cs->s3.access_key = cs->access_key.data;
	cs->s3.secret_key = cs->secret_key.data;
	cs->s3.session_token = cs->session_token.data;
	cs->s3.endpoint = c->s3_endpoint;
	cs->s3.region = c->s3_region;
	cs->s3.host_style = c->s3_uri_style == QBK_CONFIG_URI_STYLE_HOST;
	cs->s3.ca_file = c->s3_ca_file;
	cs->s3.insecure = !c->s3_tls_verify;
	cs->s3.transfers = c->s3_transfers > 0 ? (unsigned)c->s3_transfers : 0;
	cs->s3.lock_days = c->s3_object_lock_days > 0 ?
	    (unsigned)c->s3_object_lock_days : 0;
	cs->s3.lock_mode = c->s3_object_lock_mode == 1 ? "COMPLIANCE" :
	    "GOVERNANCE";
	cs->s3.timeout_s = c->s3_timeout > 0 ?
	    (unsigned)((c->s3_timeout + 999) / 1000) : 0;
	cs->s3.cache_dir = c->cache_dir;
	cs->s3.cache_max_age = c->cache_max_age / 1000;
	cs->s3.cache_sample = c->cache_sample > 0 ?
	    (unsigned)c->cache_sample : 0;
	return 0;
}

void
qbk_ctx_store_release(struct qbk_ctx_store *cs)
{
	qbk_config_secret_release(&cs->access_key);
	qbk_config_secret_release(&cs->secret_key);
	qbk_config_secret_release(&cs->session_token);
	cs->s3.access_key = cs->s3.secret_key = cs->s3.session_token = NULL;
}

int
qbk_ctx_repo(struct qbk_ctx *ctx, int lock, struct qbk_repo **out,
    struct qbk_err *err)
{
	struct qbk_config_secret sec = QBK_CONFIG_SECRET_INIT;
	struct qbk_repo_secret rs = { NULL, NULL };
	struct qbk_lock_opts lo = QBK_LOCK_OPTS_INIT;
	struct qbk_ctx_store cs;
	const char *loc;
	int rc;

	*out = NULL;
	if (ctx->repo != NULL) {
		*out = ctx->repo;
		return 0;
	}
	if ((loc = qbk_ctx_repo_location(ctx, err)) == NULL)
		return -1;
	if (qbk_config_repo_key(&ctx->cfg, &sec, err) != 0)
		return -1;
	if (sec.raw_key)
		rs.key_file = ctx->cfg.repo.key_file;
	else
		rs.passphrase = sec.data;
	rc = qbk_ctx_store_init(ctx, &cs, err);
	if (rc == 0)
		rc = qbk_repo_open_with(loc, &cs.opts, &rs, &ctx->repo, err);
	qbk_ctx_store_release(&cs);
	qbk_config_secret_release(&sec);
	if (rc != 0)
		return -1;
	if (lock != 0) {
		lo.program = ctx->opts.program != NULL ? ctx->opts.program :
		    "qbk";
		lo.cancel = ctx->opts.cancel;
		lo.stale_s = (unsigned)(ctx->cfg.repo.lock_stale / 1000);
		if (ctx->cfg.repo.lock_timeout > 0)
			lo.wait_s = (unsigned)(ctx->cfg.repo.lock_timeout /
			    1000);
		lo.read_only_ok = lock == QBK_CTX_LOCK_READ;
		if (qbk_repo_lock(ctx->repo,
		    lock == QBK_CTX_LOCK_EXCLUSIVE ? QBK_LOCK_EXCLUSIVE :
		    QBK_LOCK_SHARED, &lo,
		    &ctx->lock, err) != 0)
			return -1;
	}
	*out = ctx->repo;
	return 0;
}
