/* qbk-key: list, add and remove the key slots of a repository. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "command/qbk_ctx.h"
#include "command/qbk_key.h"
#include "common/qbk_buf.h"
#include "common/qbk_exit.h"
#include "repo/qbk_repo.h"

enum {
	OPT_COMMENT = 1,
	OPT_GENERATE_KEY_FILE,
	OPT_KDF_MEMLIMIT,
	OPT_KDF_OPSLIMIT,
	OPT_KEY_FILE,
	OPT_NEW_PASSPHRASE_FILE
};

static const struct cli_opt options[] = {
	{ "comment", 0, CLI_ARG_STR, OPT_COMMENT, "TEXT",
	    "add: note recorded with the new key", 0 },
	{ "generate-key-file", 0, CLI_ARG_STR, OPT_GENERATE_KEY_FILE, "FILE",
	    "add: write a new key file (0600) and add it", 0 },
	{ "kdf-memlimit", 0, CLI_ARG_UINT, OPT_KDF_MEMLIMIT, "BYTES",
	    "add: Argon2id memory of a passphrase (default 128 MiB)", 0 },
	{ "kdf-opslimit", 0, CLI_ARG_UINT, OPT_KDF_OPSLIMIT, "N",
	    "add: Argon2id passes of a passphrase (default 3)", 0 },
	{ "key-file", 0, CLI_ARG_STR, OPT_KEY_FILE, "FILE",
	    "add: add this existing key file", 0 },
	{ "new-passphrase-file", 0, CLI_ARG_STR, OPT_NEW_PASSPHRASE_FILE,
	    "FILE", "add: read the new passphrase from FILE", 0 },
	CLI_OPT_END
};

struct opts {
	struct qbk_key_add add;
	int nadd;		/* add-only options given */
	unsigned seen;		/* options given, across both parses */
};

static int
handle(void *cookie, int id, const char *arg, uint64_t num)
{
	struct opts *o = cookie;

	/* cli_parse() runs before and after the command word: catch an
	 * option given in both places. */
	if (o->seen & (1u << id)) {
		const struct cli_opt *p = options;

		while (p->name != NULL && p->id != id)
			p++;
		return cli_usage_error("option '--%s' given more than once",
		    p->name != NULL ? p->name : "?");
	}
	o->seen |= 1u << id;
	o->nadd++;
	switch (id) {
	case OPT_COMMENT:
		o->add.comment = arg;
		break;
	case OPT_GENERATE_KEY_FILE:
		o->add.gen_key_file = arg;
		break;
	case OPT_KDF_MEMLIMIT:
		o->add.memlimit = num;
		break;
	case OPT_KDF_OPSLIMIT:
		o->add.opslimit = num;
		break;
	case OPT_KEY_FILE:
		o->add.key_file = arg;
		break;
	case OPT_NEW_PASSPHRASE_FILE:
		o->add.pass_file = arg;
		break;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	struct cli_common common = CLI_COMMON_INIT;
	struct cli_prog prog = { "qbk-key", "[options] list | add | remove ID",
		"List, add and remove the keys of a repository.",
		options, CLI_WITH_REPO, handle, &o, NULL
	};
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_ctx *ctx;
	struct qbk_repo *r;
	struct qbk_buf out = QBK_BUF_INIT;
	const char *cmd, *slot = NULL;
	int word, rest, rc;

	memset(&o, 0, sizeof(o));
	if ((rc = cli_start_command(argc, argv, &prog, "list, add or remove",
	    &common, &word, &rest)) != CLI_RUN)
		return rc;
	cmd = argv[word];
	if (strcmp(cmd, "remove") == 0 && rest < argc)
		slot = argv[rest++];
	if (strcmp(cmd, "list") != 0 && strcmp(cmd, "add") != 0 &&
	    strcmp(cmd, "remove") != 0) {
		cli_usage_error("unknown command '%s': expected list, add or "
		    "remove", cmd);
		return QBK_EXIT_USAGE;
	}
	if (strcmp(cmd, "remove") == 0 && slot == NULL) {
		cli_usage_error("'remove' needs the id of a key slot (see "
		    "'qbk-key list')");
		return QBK_EXIT_USAGE;
	}
	if (rest < argc) {
		cli_usage_error("unexpected argument '%s'", argv[rest]);
		return QBK_EXIT_USAGE;
	}
	if (strcmp(cmd, "add") != 0 && o.nadd > 0) {
		cli_usage_error("'--comment', '--generate-key-file', '--kdf-*', "
		    "'--key-file' and '--new-passphrase-file' are for 'add'");
		return QBK_EXIT_USAGE;
	}
	rc = -1;
	o.add.passphrase = getenv("QBK_NEW_PASSPHRASE");
	if (cli_open(&prog, &common, &ctx, &err) == 0 &&
	    qbk_ctx_repo(ctx, 0, &r, &err) == 0) {
		if (strcmp(cmd, "list") == 0)
			rc = qbk_key_list(r, common.json, &out, &err);
		else if (strcmp(cmd, "add") == 0)
			rc = qbk_key_add(r, &o.add, common.json, &out, &err);
		else
			rc = qbk_key_remove(r, slot, common.json, &out, &err);
	}
	cli_print(&out);
	return rc != 0 ? cli_fail(&err) : cli_exit(QBK_EXIT_OK);
}
