/* qbk-init: create a repository and its first key. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "command/qbk_ctx.h"
#include "command/qbk_key.h"
#include "command/qbk_options.h"
#include "common/qbk_buf.h"
#include "common/qbk_exit.h"
#include "config/qbk_config.h"
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

int
main(int argc, char *argv[])
{
	struct opts o;
	struct cli_common common = CLI_COMMON_INIT;
	struct cli_prog prog = { "qbk-init", "[options]",
		"Create a repository and its first key.",
		options, CLI_WITH_REPO, handle, &o, NULL
	};
	struct qbk_config_secret sec = QBK_CONFIG_SECRET_INIT;
	struct qbk_repo_create_opts c;
	struct qbk_ctx_store cs;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_ctx *ctx;
	struct qbk_buf out = QBK_BUF_INIT;
	char id[QBK_REPO_ID_HEX + 1];
	int rc, made_key = 0;

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	memset(&cs, 0, sizeof(cs));
	if ((rc = cli_start(argc, argv, &prog, &common, &ctx, &err)) !=
	    CLI_RUN)
		return rc;
	c.opslimit = o.opslimit;
	c.memlimit = o.memlimit;
	c.comment = o.comment;
	rc = -1;
	if (ctx != NULL && qbk_init_opts_from(ctx, o.compression,
	    o.encryption, &c, &err) == 0 &&
	    qbk_ctx_store_init(ctx, &cs, &err) == 0 &&
	    qbk_key_first(qbk_ctx_config(ctx), o.gen_key_file, &c, &sec,
	    &err) == 0) {
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
	if (rc != 0)
		return cli_fail(&err);
	qbk_key_created_report(&c, id, common.json, &out);
	cli_print(&out);
	if (!common.quiet && c.aead != QBK_CRYPTO_AEAD_NONE)
		fprintf(stderr, "%s: keep the %s safe: without it no backup in "
		    "this repository can be read\n", cli_progname(),
		    c.key_file != NULL ? "key file" : "passphrase");
	return cli_exit(QBK_EXIT_OK);
}
