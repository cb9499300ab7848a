#ifndef QBK_IDSET_H
#define QBK_IDSET_H

#include <stddef.h>
#include <stdint.h>

/*
 * A set of 32-byte chunk ids: open addressing, linear probing.  The ids are
 * keyed BLAKE2b outputs, so their first bytes are already uniform and serve
 * as the hash.  Not thread-safe; callers lock around it.
 */
#define QBK_ID_LEN 32

struct qbk_idset;

/** qbk_idset_new(hint): an empty set sized for about ${hint} ids. */
struct qbk_idset *qbk_idset_new(size_t);

/** qbk_idset_free(set): free ${set}; NULL is fine. */
void qbk_idset_free(struct qbk_idset *);

/** qbk_idset_add(set, id): add ${id}; returns 1 if it was new, 0 if it was
 * already there. */
int qbk_idset_add(struct qbk_idset *, const uint8_t *);

/** qbk_idset_has(set, id): nonzero if ${id} is in ${set}. */
int qbk_idset_has(const struct qbk_idset *, const uint8_t *);

/** qbk_idset_remove(set, id): remove ${id}; returns 1 if it was there. */
int qbk_idset_remove(struct qbk_idset *, const uint8_t *);

/** qbk_idset_count(set): how many ids ${set} holds. */
size_t qbk_idset_count(const struct qbk_idset *);

/** qbk_idset_foreach(set, fn, cookie): call ${fn}(cookie, id) for each id
 * (unspecified order) until it returns nonzero; returns that value or 0. */
int qbk_idset_foreach(const struct qbk_idset *,
    int (*)(void *, const uint8_t *), void *);

/** qbk_id_from_hex(hex, id): parse 64 hex digits; 0 or -1. */
int qbk_id_from_hex(const char *, uint8_t *);

/** qbk_id_to_hex(id, hex): write 64 hex digits and a NUL into ${hex}[65]. */
void qbk_id_to_hex(const uint8_t *, char *);

#endif /* !QBK_IDSET_H */
