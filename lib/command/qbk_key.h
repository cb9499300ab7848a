#ifndef QBK_KEY_H
#define QBK_KEY_H

/*
 * qbk_key: the jobs of qbk-key, and the first key of qbk-init: list
 * the key slots of a repository, add one (a passphrase, an existing key
 * file or a new one), remove one, write a new key file, choose the first
 * key of a new repository and report the repository made.
 */
struct qbk_buf;
struct qbk_config;
struct qbk_config_secret;
struct qbk_err;
struct qbk_repo;
struct qbk_repo_create_opts;

/* The new key of qbk_key_add(): exactly one of the first four. */
struct qbk_key_add {
	const char *passphrase;	/* $QBK_NEW_PASSPHRASE, or NULL */
	const char *pass_file;	/* read the passphrase from this file */
	const char *key_file;	/* an existing key file */
	const char *gen_key_file;	/* a new key file, written here */
	unsigned long long opslimit, memlimit;	/* Argon2id; 0: default */
	const char *comment;	/* recorded with the slot, or NULL */
};

/** qbk_key_list(r, json, out, err): the key slots of ${r}, a table (the
 * opened one marked '*') or the --json document, appended to ${out}.  0
 * or -1. */
int qbk_key_list(struct qbk_repo *, int, struct qbk_buf *, struct qbk_err *);

/** qbk_key_add(r, a, json, out, err): add the new key ${a} to ${r} and
 * append what was added (text or JSON) to ${out}.  0, or -1: QBK_E_USAGE
 * unless ${a} names exactly one key or when its file cannot be read or,
 * to be generated, exists; a key file generated here is removed again
 * when the slot is not added. */
int qbk_key_add(struct qbk_repo *, const struct qbk_key_add *, int,
    struct qbk_buf *, struct qbk_err *);

/** qbk_key_generate(path, err): write a new key file (0600) at ${path},
 * which must not exist yet (QBK_E_USAGE).  0 or -1. */
int qbk_key_generate(const char *, struct qbk_err *);

/** qbk_key_remove(r, slot, json, out, err): remove the key slot ${slot}
 * of ${r} (qbk_repo_slot_remove()) and append what was removed (text or
 * JSON) to ${out}.  0 or -1. */
int qbk_key_remove(struct qbk_repo *, const char *, int, struct qbk_buf *,
    struct qbk_err *);

/** qbk_key_first(cfg, gen_key_file, c, sec, err): the first key of the
 * repository ${c} describes, into ${c}: none when it has no encryption
 * (then ${gen_key_file} must be NULL: QBK_E_USAGE), a new key file written
 * at ${gen_key_file} (qbk_key_generate()), else the key ${cfg} configures
 * (qbk_init_key_from(): the caller releases ${sec}, also on failure).  0
 * or -1. */
int qbk_key_first(const struct qbk_config *, const char *,
    struct qbk_repo_create_opts *, struct qbk_config_secret *,
    struct qbk_err *);

/** qbk_key_created_report(c, id, json, out): append the line of text, or
 * the --json document, of the repository ${id} that qbk_repo_create()
 * made from ${c} to ${out}. */
void qbk_key_created_report(const struct qbk_repo_create_opts *,
    const char *, int, struct qbk_buf *);

#endif /* !QBK_KEY_H */
