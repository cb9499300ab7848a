#include <stddef.h>
#include <stdint.h>

#include "command/qbk_backup.h"
#include "command/qbk_ctx.h"
#include "command/qbk_drill.h"
#include "command/qbk_prune.h"
#include "command/qbk_report.h"
#include "command/qbk_restore.h"
#include "common/qbk_err.h"
#include "config/qbk_config.h"
#include "qdrant/qbk_qdrant.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_repo.h"
#include "repo/qbk_retention.h"
#include "command/qbk_options.h"

/* [qdrant] priority, in the order of qbk.conf(5)'s names. */
static const enum qbk_qdrant_priority priorities[] = {
	QBK_QDRANT_PRIORITY_SNAPSHOT,
	QBK_QDRANT_PRIORITY_REPLICA,
	QBK_QDRANT_PRIORITY_NO_SYNC
};

void
qbk_backup_opts_from(const struct qbk_config *cfg, int full,
    struct qbk_backup_opts *bo)
{
	bo->sample_points = (unsigned)cfg->backup.sample_points;
	bo->content_hash = bo->content_hash || cfg->backup.content_hash;
	if (bo->node_parallelism == 0)
		bo->node_parallelism =
		    (unsigned)cfg->backup.node_parallelism;
	bo->nodes = (const char *const *)cfg->qdrant.nodes;
	bo->nnodes = cfg->qdrant.nnodes;
	if (bo->workers == 0 && cfg->backup.workers > 0)
		bo->workers = (unsigned)cfg->backup.workers;
	bo->full = full >= 0 ? full :
	    cfg->backup.type == QBK_CONFIG_BACKUP_FULL;
	bo->zstd_level = -1;
	if (qbk_config_is_set(cfg, "repository", "compression"))
		bo->zstd_level = cfg->repo.compression ==
		    QBK_CONFIG_COMPRESSION_NONE ? 0 :
		    cfg->repo.compression_level;
}

void
qbk_restore_opts_from(const struct qbk_config *cfg, int priority,
    struct qbk_restore_opts *ro)
{
	ro->priority = priority >= 0 ? (enum qbk_qdrant_priority)priority :
	    priorities[cfg->qdrant.priority];
	if (ro->workers == 0 && cfg->backup.workers > 0)
		ro->workers = (unsigned)cfg->backup.workers;
	ro->sample_points = (unsigned)cfg->backup.sample_points;
	ro->nodes = (const char *const *)cfg->qdrant.nodes;
	ro->nnodes = cfg->qdrant.nnodes;
	if (ro->node_parallelism == 0)
		ro->node_parallelism =
		    (unsigned)cfg->backup.node_parallelism;
	ro->replica_timeout_ms = cfg->qdrant.replica_timeout > 0 ?
	    cfg->qdrant.replica_timeout : -1;
}

void
qbk_drill_opts_from(const struct qbk_config *cfg, int level_set,
    struct qbk_drill_opts *d)
{
	if (!level_set)
		d->level = (enum qbk_drill_level)cfg->drill.validation;
	d->sample_points = cfg->drill.sample_points;
	d->green_timeout_ms = cfg->drill.green_wait > 0 ?
	    cfg->drill.green_wait : -1;
	d->rto_target_ms = cfg->objectives.rto;
	d->keep_within_ms = cfg->retention.keep_within;
	d->priority = priorities[cfg->qdrant.priority];
	if (d->workers == 0 && cfg->backup.workers > 0)
		d->workers = (unsigned)cfg->backup.workers;
	/* The nodes of the deployment the drill restores into. */
	if (cfg->drill.url != NULL && !d->validate_only) {
		d->nodes = (const char *const *)cfg->drill.nodes;
		d->nnodes = cfg->drill.nnodes;
	} else {
		d->nodes = (const char *const *)cfg->qdrant.nodes;
		d->nnodes = cfg->qdrant.nnodes;
	}
	d->node_parallelism = (unsigned)cfg->backup.node_parallelism;
	d->replica_timeout_ms = cfg->qdrant.replica_timeout > 0 ?
	    cfg->qdrant.replica_timeout : -1;
}

void
qbk_prune_opts_from(const struct qbk_config *cfg, int have_keep,
    struct qbk_prune_opts *po)
{
	const struct qbk_config_retention *c = &cfg->retention;
	struct qbk_retention_policy *p = &po->policy;

	if (!have_keep) {
		p->keep_last = c->keep_last;
		p->keep_hourly = c->keep_hourly;
		p->keep_daily = c->keep_daily;
		p->keep_weekly = c->keep_weekly;
		p->keep_monthly = c->keep_monthly;
		p->keep_yearly = c->keep_yearly;
		p->keep_within_s = c->keep_within < 0 ? -1 :
		    c->keep_within / 1000;
	}
	po->grace_s = cfg->repo.lock_stale / 1000;
}

void
qbk_report_opts_from(const struct qbk_config *cfg, struct qbk_report_opts *ro)
{
	const struct qbk_config_objectives *ob = &cfg->objectives;

	ro->rpo_target = ob->rpo >= 0 ? ob->rpo / 1000 : -1;
	ro->rto_target = ob->rto >= 0 ? ob->rto / 1000 : -1;
}

int
qbk_init_opts_from(struct qbk_ctx *ctx, const char *compression,
    const char *encryption, struct qbk_repo_create_opts *c,
    struct qbk_err *err)
{
	struct qbk_config *cfg = qbk_ctx_config(ctx);

	if ((compression != NULL && qbk_config_set(cfg, "repository",
	    "compression", compression, err) != 0) ||
	    (encryption != NULL && qbk_config_set(cfg, "repository",
	    "encryption", encryption, err) != 0))
		return -1;
	if ((c->location = qbk_ctx_repo_location(ctx, err)) == NULL)
		return -1;
	switch (cfg->repo.encryption) {
	case QBK_CONFIG_ENCRYPTION_NONE:
		c->aead = QBK_CRYPTO_AEAD_NONE;
		break;
	case QBK_CONFIG_ENCRYPTION_AES256_GCM:
		c->aead = QBK_CRYPTO_AEAD_AESGCM;
		break;
	default:
		c->aead = QBK_CRYPTO_AEAD_XCHACHA;
		break;
	}
	c->zstd_level = cfg->repo.compression == QBK_CONFIG_COMPRESSION_NONE ?
	    0 : cfg->repo.compression_level;
	return 0;
}

int
qbk_init_key_from(const struct qbk_config *cfg,
    struct qbk_repo_create_opts *c, struct qbk_config_secret *sec,
    struct qbk_err *err)
{
	if (qbk_config_repo_key(cfg, sec, err) != 0)
		return -1;
	if (sec->raw_key)
		c->key_file = cfg->repo.key_file;
	else
		c->passphrase = sec->data;
	return 0;
}
