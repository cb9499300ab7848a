#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_json.h"
#include "config/qbk_config.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_repo.h"
#include "command/qbk_options.h"
#include "command/qbk_key.h"

int
qbk_key_list(struct qbk_repo *r, int json, struct qbk_buf *out,
    struct qbk_err *err)
{
	struct qbk_repo_slot_info *v;
	size_t n, i;

	if (qbk_repo_slots(r, &v, &n, err) != 0)
		return -1;
	if (json)
		qbk_buf_addstr(out, "{\"slots\":[");
	else
		qbk_buf_addf(out, "  %-16s  %-10s  %-20s  %-16s  %s\n", "ID",
		    "KIND", "CREATED", "HOST", "COMMENT");
	for (i = 0; i < n; i++) {
		if (!json) {
			qbk_buf_addf(out, "%c %-16s  %-10s  %-20s  %-16s  %s\n",
			    v[i].opened ? '*' : ' ', v[i].id, v[i].kind,
			    v[i].created, v[i].host, v[i].comment);
			continue;
		}
		qbk_buf_addstr(out, i > 0 ? ",{\"id\":" : "{\"id\":");
		qbk_json_quote(out, v[i].id);
		qbk_buf_addstr(out, ",\"kind\":");
		qbk_json_quote(out, v[i].kind);
		qbk_buf_addstr(out, ",\"created\":");
		qbk_json_quote(out, v[i].created);
		qbk_buf_addstr(out, ",\"host\":");
		qbk_json_quote(out, v[i].host);
		qbk_buf_addstr(out, ",\"comment\":");
		qbk_json_quote(out, v[i].comment);
		qbk_buf_addf(out, ",\"opened\":%s}",
		    v[i].opened ? "true" : "false");
	}
	if (json)
		qbk_buf_addstr(out, "]}\n");
	free(v);
	return 0;
}

int
qbk_key_generate(const char *path, struct qbk_err *err)
{
	struct qbk_crypto_keyfile *kf = NULL;
	int rc;

	if (access(path, F_OK) == 0 || errno != ENOENT)
		return qbk_err_set(err, QBK_E_USAGE, "refusing to overwrite "
		    "'%s': '--generate-key-file' writes a new file", path);
	if (qbk_crypto_keyfile_generate(&kf, err) != 0)
		return -1;
	rc = qbk_crypto_keyfile_write(kf, path, err);
	qbk_crypto_keyfile_free(kf);
	return rc;
}

int
qbk_key_add(struct qbk_repo *r, const struct qbk_key_add *a, int json,
    struct qbk_buf *out, struct qbk_err *err)
{
	struct qbk_config_secret sec = QBK_CONFIG_SECRET_INIT;
	const char *pass = a->passphrase, *key_file = a->key_file;
	char id[QBK_REPO_SLOT_ID_LEN + 1];
	int rc;

	if (pass != NULL && *pass == '\0')
		pass = NULL;
	if ((pass != NULL) + (a->pass_file != NULL) + (a->key_file != NULL) +
	    (a->gen_key_file != NULL) != 1)
		return qbk_err_set(err, QBK_E_USAGE, "give exactly one new "
		    "key: $QBK_NEW_PASSPHRASE, '--new-passphrase-file', "
		    "'--key-file' or '--generate-key-file'");
	if (a->key_file != NULL && access(a->key_file, R_OK) != 0)
		return qbk_err_sys(err, QBK_E_USAGE, "cannot read key file "
		    "'%s'", a->key_file);
	if (a->pass_file != NULL &&
	    qbk_config_read_secret(a->pass_file, &sec, err) != 0)
		return -1;
	if (a->gen_key_file != NULL) {
		if (qbk_key_generate(a->gen_key_file, err) != 0)
			return -1;
		key_file = a->gen_key_file;
	}
	rc = qbk_repo_slot_add(r, pass != NULL ? pass : sec.data, key_file,
	    a->opslimit, a->memlimit, a->comment, id, err);
	qbk_config_secret_release(&sec);
	if (rc != 0) {
		if (a->gen_key_file != NULL)
			unlink(a->gen_key_file);
		return -1;
	}
	if (json)
		qbk_buf_addf(out, "{\"slot_id\":\"%s\",\"kind\":\"%s\"}\n", id,
		    key_file != NULL ? "keyfile" : "passphrase");
	else
		qbk_buf_addf(out, "added key slot %s (%s)\n", id,
		    key_file != NULL ? "keyfile" : "passphrase");
	return 0;
}

int
qbk_key_remove(struct qbk_repo *r, const char *slot, int json,
    struct qbk_buf *out, struct qbk_err *err)
{
	if (qbk_repo_slot_remove(r, slot, err) != 0)
		return -1;
	qbk_buf_addf(out, json ? "{\"removed\":\"%s\"}\n" :
	    "removed key slot %s\n", slot);
	return 0;
}

int
qbk_key_first(const struct qbk_config *cfg, const char *gen_key_file,
    struct qbk_repo_create_opts *c, struct qbk_config_secret *sec,
    struct qbk_err *err)
{
	if (c->aead == QBK_CRYPTO_AEAD_NONE) {
		if (gen_key_file != NULL)
			return qbk_err_set(err, QBK_E_USAGE, "'--generate-key-"
			    "file' needs encryption: this repository has none");
		return 0;
	}
	if (gen_key_file == NULL)
		return qbk_init_key_from(cfg, c, sec, err);
	c->key_file = gen_key_file;
	return qbk_key_generate(gen_key_file, err);
}

void
qbk_key_created_report(const struct qbk_repo_create_opts *c, const char *id,
    int json, struct qbk_buf *out)
{
	struct qbk_chunk_params p = QBK_CHUNK_PARAMS_DEFAULT;
	char comp[16];

	snprintf(comp, sizeof(comp), c->zstd_level == 0 ? "none" : "zstd:%d",
	    c->zstd_level);
	if (!json) {
		qbk_buf_addf(out, "created repository %s at %s (%s, %s)\n", id,
		    c->location, qbk_crypto_aead_name(c->aead), comp);
		return;
	}
	qbk_buf_addstr(out, "{\"repository_id\":");
	qbk_json_quote(out, id);
	qbk_buf_addstr(out, ",\"location\":");
	qbk_json_quote(out, c->location);
	qbk_buf_addf(out, ",\"encryption\":\"%s\",\"compression\":"
	    "\"%s\",\"chunker\":{\"algorithm\":\"fastcdc\",\"min\":%u,"
	    "\"avg\":%u,\"max\":%u}", qbk_crypto_aead_name(c->aead), comp,
	    (unsigned)p.min, (unsigned)p.avg, (unsigned)p.max);
	if (c->key_file != NULL) {
		qbk_buf_addstr(out, ",\"key_file\":");
		qbk_json_quote(out, c->key_file);
	}
	qbk_buf_addstr(out, "}\n");
}
