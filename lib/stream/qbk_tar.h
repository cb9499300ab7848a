#ifndef QBK_TAR_H
#define QBK_TAR_H

/*
 * qbk_tar: the libarchive adapter that checks that a byte stream is a whole
 * tar archive and lists its entries, without writing anything anywhere.
 * The stream is pulled from a callback, a piece at a time, so memory stays
 * flat whatever its size.
 */
#include <stddef.h>

struct qbk_err;
struct qbk_ingest_entry;

/** qbk_tar_next_fn(cookie, data, len, err): hand out the next piece of the
 * stream in ${*data}, ${*len} (borrowed until the next call): return 1, 0
 * at the end of the stream, or -1 after filling ${err}. */
typedef int qbk_tar_next_fn(void *, const void **, size_t *,
    struct qbk_err *);

/** qbk_tar_check(next, cookie, entries, n, err): read the whole stream
 * through ${next} (every byte, also after the end-of-archive marker, so
 * that the source sees its end) and check that it is one whole tar archive.
 * On success ${*entries} (${*n} of them; free with qbk_tar_entries_free())
 * lists its members as qbk_ingest lists them.  Returns 0, or -1: the
 * callback's error, or QBK_E_INTEGRITY naming what is wrong with the tar;
 * ${*entries} is then NULL. */
int qbk_tar_check(qbk_tar_next_fn *, void *, struct qbk_ingest_entry **,
    size_t *, struct qbk_err *);

/** qbk_tar_entries_free(entries, n): free an entry list; NULL is fine. */
void qbk_tar_entries_free(struct qbk_ingest_entry *, size_t);

#endif /* !QBK_TAR_H */
