#ifndef QBK_KEY_H
#define QBK_KEY_H

/*
 * qbk_key: the jobs of qbk-key, and the new key file of qbk-init: list
 * the key slots of a repository, add one (a passphrase, an existing key
 * file or a new one), write a new key file.
 */
struct qbk_buf;
struct qbk_err;
struct qbk_repo;

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

#endif /* !QBK_KEY_H */
