/* qbk-key: list, add and remove the key slots of a repository. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "command/qbk_ctx.h"
#include "common/qbk_buf.h"
#include "common/qbk_exit.h"
#include "common/qbk_json.h"
#include "common/qbk_log.h"
#include "config/qbk_config.h"
#include "repo/qbk_crypto.h"
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
	const char *comment;
	const char *gen_key_file;
	const char *key_file;
	const char *pass_file;
	unsigned long long memlimit, opslimit;
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
		o->comment = arg;
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
	case OPT_KEY_FILE:
		o->key_file = arg;
		break;
	case OPT_NEW_PASSPHRASE_FILE:
		o->pass_file = arg;
		break;
	}
	return 0;
}

static int
list(struct qbk_repo *r, int json, struct qbk_err *err)
{
	struct qbk_repo_slot_info *v;
	struct qbk_buf out = QBK_BUF_INIT;
	size_t n, i;

	if (qbk_repo_slots(r, &v, &n, err) != 0)
		return -1;
	if (json)
		qbk_buf_addstr(&out, "{\"slots\":[");
	else
		qbk_buf_addf(&out, "  %-16s  %-10s  %-20s  %-16s  %s\n", "ID",
		    "KIND", "CREATED", "HOST", "COMMENT");
	for (i = 0; i < n; i++) {
		if (!json) {
			qbk_buf_addf(&out, "%c %-16s  %-10s  %-20s  %-16s  %s\n",
			    v[i].opened ? '*' : ' ', v[i].id, v[i].kind,
			    v[i].created, v[i].host, v[i].comment);
			continue;
		}
		qbk_buf_addstr(&out, i > 0 ? ",{\"id\":" : "{\"id\":");
		qbk_json_quote(&out, v[i].id);
		qbk_buf_addstr(&out, ",\"kind\":");
		qbk_json_quote(&out, v[i].kind);
		qbk_buf_addstr(&out, ",\"created\":");
		qbk_json_quote(&out, v[i].created);
		qbk_buf_addstr(&out, ",\"host\":");
		qbk_json_quote(&out, v[i].host);
		qbk_buf_addstr(&out, ",\"comment\":");
		qbk_json_quote(&out, v[i].comment);
		qbk_buf_addf(&out, ",\"opened\":%s}",
		    v[i].opened ? "true" : "false");
	}
	if (json)
		qbk_buf_addstr(&out, "]}\n");
	fputs(out.buf, stdout);
	qbk_buf_release(&out);
	free(v);
	return 0;
}

static int
add(struct qbk_repo *r, const struct opts *o, int json, struct qbk_err *err)
{
	struct qbk_config_secret sec = QBK_CONFIG_SECRET_INIT;
	struct qbk_crypto_keyfile *kf = NULL;
	const char *env = getenv("QBK_NEW_PASSPHRASE"), *key_file = o->key_file;
	char id[QBK_REPO_SLOT_ID_LEN + 1];
	int rc;

	if (env != NULL && *env == '\0')
		env = NULL;
	if ((env != NULL) + (o->pass_file != NULL) + (o->key_file != NULL) +
	    (o->gen_key_file != NULL) != 1)
		return qbk_err_set(err, QBK_E_USAGE, "give exactly one new "
		    "key: $QBK_NEW_PASSPHRASE, '--new-passphrase-file', "
		    "'--key-file' or '--generate-key-file'");
	if (o->key_file != NULL && access(o->key_file, R_OK) != 0)
		return qbk_err_sys(err, QBK_E_USAGE, "cannot read key file "
		    "'%s'", o->key_file);
	if (o->pass_file != NULL &&
	    qbk_config_read_secret(o->pass_file, &sec, err) != 0)
		return -1;
	if (o->gen_key_file != NULL) {
		if (access(o->gen_key_file, F_OK) == 0 || errno != ENOENT)
			return qbk_err_set(err, QBK_E_USAGE, "refusing to "
			    "overwrite '%s': '--generate-key-file' writes a new "
			    "file", o->gen_key_file);
		if (qbk_crypto_keyfile_generate(&kf, err) != 0)
			return -1;
		rc = qbk_crypto_keyfile_write(kf, o->gen_key_file, err);
		qbk_crypto_keyfile_free(kf);
		if (rc != 0)
			return -1;
		key_file = o->gen_key_file;
	}
	rc = qbk_repo_slot_add(r, env != NULL ? env : sec.data, key_file,
	    o->opslimit, o->memlimit, o->comment, id, err);
	qbk_config_secret_release(&sec);
	if (rc != 0) {
		if (o->gen_key_file != NULL)
			unlink(o->gen_key_file);
		return -1;
	}
	if (json)
		printf("{\"slot_id\":\"%s\",\"kind\":\"%s\"}\n", id,
		    key_file != NULL ? "keyfile" : "passphrase");
	else
		printf("added key slot %s (%s)\n", id,
		    key_file != NULL ? "keyfile" : "passphrase");
	return 0;
}

/* Merge the common options of the second parse into ${a}. */
static int
merge_common(struct cli_common *a, const struct cli_common *b)
{
	const char *twice = a->config != NULL && b->config != NULL ? "config" :
	    a->repo != NULL && b->repo != NULL ? "repo" :
	    a->json && b->json ? "json" : a->quiet && b->quiet ? "quiet" : NULL;

	if (twice != NULL) {
		cli_usage_error("option '--%s' given more than once", twice);
		return -1;
	}
	if ((a->quiet || b->quiet) && (a->verbose || b->verbose)) {
		cli_usage_error("'--quiet' and '--verbose' exclude each other");
		return -1;
	}
	if (b->config != NULL)
		a->config = b->config;
	if (b->repo != NULL)
		a->repo = b->repo;
	a->json |= b->json;
	a->quiet |= b->quiet;
	a->verbose += b->verbose;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	struct cli_common common = CLI_COMMON_INIT, c2 = CLI_COMMON_INIT;
	struct cli_prog prog = {
		"[options] list | add | remove ID",
		"List, add and remove the keys of a repository.",
		options, CLI_WITH_REPO, handle, &o
	};
	struct qbk_ctx_opts co = { NULL, NULL, NULL, "qbk-key",
	    &cli_interrupted };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_ctx *ctx = NULL;
	struct qbk_repo *r;
	const char *cmd, *slot = NULL;
	int rest, rest2, rc;

	memset(&o, 0, sizeof(o));
	if (cli_init(argv[0]) != 0)
		return QBK_EXIT_RUNTIME;
	if ((rc = cli_parse(argc, argv, &prog, &common, &rest)) != 0)
		return rc > 0 ? QBK_EXIT_OK : QBK_EXIT_USAGE;
	if (rest == argc) {
		cli_usage_error("missing command: list, add or remove");
		return QBK_EXIT_USAGE;
	}
	/* Options may follow the command word too: qbk-key add --comment x. */
	cmd = argv[rest];
	if ((rc = cli_parse(argc - rest, argv + rest, &prog, &c2,
	    &rest2)) != 0)
		return rc > 0 ? QBK_EXIT_OK : QBK_EXIT_USAGE;
	if (merge_common(&common, &c2) != 0)
		return QBK_EXIT_USAGE;
	if (common.verbose > 0)
		qbk_log_set_level(common.verbose == 1 ? QBK_LOG_INFO :
		    common.verbose == 2 ? QBK_LOG_DETAIL : QBK_LOG_DEBUG);
	rest += rest2;
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
	co.config = common.config;
	co.repo = common.repo;
	rc = -1;
	if (qbk_ctx_open(&ctx, &co, &err) == 0 &&
	    qbk_ctx_repo(ctx, 0, &r, &err) == 0) {
		if (strcmp(cmd, "list") == 0)
			rc = list(r, common.json, &err);
		else if (strcmp(cmd, "add") == 0)
			rc = add(r, &o, common.json, &err);
		else if ((rc = qbk_repo_slot_remove(r, slot, &err)) == 0)
			printf(common.json ? "{\"removed\":\"%s\"}\n" :
			    "removed key slot %s\n", slot);
	}
	qbk_ctx_free(ctx);
	if (rc != 0)
		return cli_fail(&err);
	return cli_exit(QBK_EXIT_OK);
}
