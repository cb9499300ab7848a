/* qbk-init: create a repository and its first key. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "command/qbk_ctx.h"
#include "common/qbk_buf.h"
#include "common/qbk_exit.h"
#include "common/qbk_json.h"
#include "config/qbk_config.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_repo.h"

enum {
	OPT_COMMENT = 1,
	OPT_COMPRESSION,
	OPT_ENCRYPTION,
	OPT_GENERATE_KEY_FILE,
	OPT_KDF_MEMLIMIT,
	OPT_KDF_OPSLIMIT
};

static const struct cli_opt options[] = {
	{ "comment", 0, CLI_ARG_STR, OPT_COMMENT, "TEXT",
	    "note recorded with the first key (default: none)", 0 },
	{ "compression", 0, CLI_ARG_STR, OPT_COMPRESSION, "auto|zstd[:N]|none",
	    "compression of new chunks (default: config, else auto)", 0 },
	{ "encryption", 0, CLI_ARG_STR, OPT_ENCRYPTION,
	    "auto|xchacha20-poly1305|aes256-gcm|none",
	    "cipher (default: config, else auto = xchacha20-poly1305)", 0 },
	{ "generate-key-file", 0, CLI_ARG_STR, OPT_GENERATE_KEY_FILE, "FILE",
	    "write a new key file (0600) and make it the first key", 0 },
	{ "kdf-memlimit", 0, CLI_ARG_UINT, OPT_KDF_MEMLIMIT, "BYTES",
	    "Argon2id memory of a passphrase key (default 128 MiB)", 0 },
	{ "kdf-opslimit", 0, CLI_ARG_UINT, OPT_KDF_OPSLIMIT, "N",
	    "Argon2id passes of a passphrase key (default 3)", 0 },
	CLI_OPT_END
};

struct opts {
	const char *comment;
	const char *compression;
	const char *encryption;
	const char *gen_key_file;
	unsigned long long memlimit, opslimit;
};

static int
handle(void *cookie, int id, const char *arg, uint64_t num)
{
	struct opts *o = cookie;

	switch (id) {
	case OPT_COMMENT:
		o->comment = arg;
		break;
	case OPT_COMPRESSION:
		o->compression = arg;
		break;
	case OPT_ENCRYPTION:
		o->encryption = arg;
		break;
	case OPT_GENERATE_KEY_FILE:
		o->gen_key_file = arg;
		break;
	case OPT_KDF_MEMLIMIT:
		o->memlimit = num;
		break;
	case OPT_KDF_OPSLIMIT:
		o->opslimit = num;
		break;
	}
	return 0;
}

/* Settings of the config (with the options applied) into ${c}. */
static int
settings(struct qbk_ctx *ctx, const struct opts *o,
    struct qbk_repo_create_opts *c, struct qbk_err *err)
{
	struct qbk_config *cfg = &ctx->cfg;

	if ((o->compression != NULL && qbk_config_set(cfg, "repository",
	    "compression", o->compression, err) != 0) ||
	    (o->encryption != NULL && qbk_config_set(cfg, "repository",
	    "encryption", o->encryption, err) != 0))
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
	c->opslimit = o->opslimit;
	c->memlimit = o->memlimit;
	c->comment = o->comment;
	return 0;
}

/* The first key: a new key file, the configured passphrase or key file, or
 * none at all for encryption = none. */
static int
first_key(struct qbk_ctx *ctx, const struct opts *o,
    struct qbk_repo_create_opts *c, struct qbk_config_secret *sec,
    struct qbk_err *err)
{
	struct qbk_crypto_keyfile *kf = NULL;
	int rc;

	if (c->aead == QBK_CRYPTO_AEAD_NONE) {
		if (o->gen_key_file != NULL)
			return qbk_err_set(err, QBK_E_USAGE, "'--generate-key-"
			    "file' needs encryption: this repository has none");
		return 0;
	}
	if (o->gen_key_file == NULL) {
		if (qbk_config_repo_key(&ctx->cfg, sec, err) != 0)
			return -1;
		if (sec->raw_key)
			c->key_file = ctx->cfg.repo.key_file;
		else
			c->passphrase = sec->data;
		return 0;
	}
	if (access(o->gen_key_file, F_OK) == 0 || errno != ENOENT)
		return qbk_err_set(err, QBK_E_USAGE, "refusing to overwrite "
		    "'%s': '--generate-key-file' writes a new file",
		    o->gen_key_file);
	if (qbk_crypto_keyfile_generate(&kf, err) != 0)
		return -1;
	rc = qbk_crypto_keyfile_write(kf, o->gen_key_file, err);
	qbk_crypto_keyfile_free(kf);
	c->key_file = o->gen_key_file;
	return rc;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	struct cli_common common = CLI_COMMON_INIT;
	struct cli_prog prog = {
		"[options]",
		"Create a repository and its first key.",
		options, CLI_WITH_REPO, handle, &o
	};
	struct qbk_ctx_opts co = { NULL, NULL, NULL, "qbk-init",
	    &cli_interrupted };
	struct qbk_chunk_params p = QBK_CHUNK_PARAMS_DEFAULT;
	struct qbk_config_secret sec = QBK_CONFIG_SECRET_INIT;
	struct qbk_repo_create_opts c;
	struct qbk_ctx_store cs;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_ctx *ctx = NULL;
	struct qbk_buf out = QBK_BUF_INIT;
	char id[QBK_REPO_ID_HEX + 1], comp[16];
	int rest, rc, made_key = 0;

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	if (cli_init(argv[0]) != 0)
		return QBK_EXIT_RUNTIME;
	if ((rc = cli_parse(argc, argv, &prog, &common, &rest)) != 0)
		return rc > 0 ? QBK_EXIT_OK : QBK_EXIT_USAGE;
	if (rest < argc) {
		cli_usage_error("unexpected argument '%s'", argv[rest]);
		return QBK_EXIT_USAGE;
	}
	co.config = common.config;
	co.repo = common.repo;
	rc = -1;
	memset(&cs, 0, sizeof(cs));
	if (qbk_ctx_open(&ctx, &co, &err) == 0 &&
	    settings(ctx, &o, &c, &err) == 0 &&
	    qbk_ctx_store_init(ctx, &cs, &err) == 0 &&
	    first_key(ctx, &o, &c, &sec, &err) == 0) {
		c.store = &cs.opts;
		made_key = o.gen_key_file != NULL;
		if (c.aead == QBK_CRYPTO_AEAD_NONE)
			fprintf(stderr, "%s: WARNING: the repository '%s' is NOT "
			    "ENCRYPTED (encryption = none): anyone who can read "
			    "it can read every backup\n", cli_progname(),
			    c.location);
		rc = qbk_repo_create(&c, id, &err);
	}
	if (rc != 0 && made_key)
		unlink(o.gen_key_file);	/* it belongs to no repository */
	qbk_ctx_store_release(&cs);
	qbk_config_secret_release(&sec);
	if (rc != 0) {
		qbk_ctx_free(ctx);
		return cli_fail(&err);
	}
	snprintf(comp, sizeof(comp), c.zstd_level == 0 ? "none" : "zstd:%d",
	    c.zstd_level);
	if (common.json) {
		qbk_buf_addstr(&out, "{\"repository_id\":");
		qbk_json_quote(&out, id);
		qbk_buf_addstr(&out, ",\"location\":");
		qbk_json_quote(&out, c.location);
		qbk_buf_addf(&out, ",\"encryption\":\"%s\",\"compression\":"
		    "\"%s\",\"chunker\":{\"algorithm\":\"fastcdc\",\"min\":%u,"
		    "\"avg\":%u,\"max\":%u}", qbk_crypto_aead_name(c.aead), comp,
		    (unsigned)p.min, (unsigned)p.avg, (unsigned)p.max);
		if (c.key_file != NULL) {
			qbk_buf_addstr(&out, ",\"key_file\":");
			qbk_json_quote(&out, c.key_file);
		}
		qbk_buf_addstr(&out, "}\n");
		fputs(out.buf, stdout);
	} else {
		printf("created repository %s at %s (%s, %s)\n", id, c.location,
		    qbk_crypto_aead_name(c.aead), comp);
	}
	if (!common.quiet && c.aead != QBK_CRYPTO_AEAD_NONE)
		fprintf(stderr, "%s: keep the %s safe: without it no backup in "
		    "this repository can be read\n", cli_progname(),
		    c.key_file != NULL ? "key file" : "passphrase");
	qbk_buf_release(&out);
	qbk_ctx_free(ctx);
	return cli_exit(QBK_EXIT_OK);
}
