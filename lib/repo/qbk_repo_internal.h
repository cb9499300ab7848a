#ifndef QBK_REPO_INTERNAL_H
#define QBK_REPO_INTERNAL_H

/*
 * qbk_repo_internal: for lib/repo/ (and white-box tests) only.  The
 * repository is the only door to its stored objects: nothing above
 * lib/repo/ reaches the store (scripts/check-layers).
 */
struct qbk_repo;
struct qbk_store;

/** qbk_repo_store(r): the store that holds the objects of ${r}. */
struct qbk_store *qbk_repo_store(struct qbk_repo *);

#endif /* !QBK_REPO_INTERNAL_H */
