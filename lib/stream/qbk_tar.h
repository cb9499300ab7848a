#ifndef QBK_TAR_H
#define QBK_TAR_H

/*
 * qbk_tar: the one tar reader, a libarchive adapter.  It checks that a byte
 * stream is a whole tar archive and lists its entries (qbk_tar_check()), or
 * hands out its members one by one with their data (qbk_tar_open() and
 * the rest), without writing anything anywhere.  The stream is pulled from
 * a callback, a piece at a time, so memory stays flat whatever its size.
 */
#include <stddef.h>
#include <stdint.h>

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

/* ---- pulling members one by one ---------------------------------- */

struct qbk_tar;

/** qbk_tar_rewind_fn(cookie, err): start the stream of a qbk_tar_next_fn
 * again from its first byte; 0, or -1 after filling ${err}. */
typedef int qbk_tar_rewind_fn(void *, struct qbk_err *);

struct qbk_tar_member {
	const char *path;	/* without leading "./"; borrowed until the
				 * next qbk_tar_next() */
	char type;		/* 'f' file, 's' sparse file, 'd' folder,
				 * 'o' other (links too), as qbk_ingest */
	uint64_t size;		/* of its data */
};

/** qbk_tar_open(next, rewind, cookie, out, err): start reading the tar
 * archive that ${next} hands out (${rewind}, which may be NULL, starts it
 * again for qbk_tar_restart()).  Caller ends it with qbk_tar_close();
 * ${*out} is NULL on failure: the callback's error, or QBK_E_INTEGRITY
 * when the stream is no tar archive. */
int qbk_tar_open(qbk_tar_next_fn *, qbk_tar_rewind_fn *, void *,
    struct qbk_tar **, struct qbk_err *);

/** qbk_tar_next(t, mb, err): go to the next member (what is left of the
 * data of the current one is skipped): 1, described in ${mb}; 0 at the
 * end of the archive (also where the stream stops at a member boundary,
 * as tar accepts); -1: the callback's error, or QBK_E_INTEGRITY. */
int qbk_tar_next(struct qbk_tar *, struct qbk_tar_member *,
    struct qbk_err *);

/** qbk_tar_data(t, data, len, err): the next piece of the data of the
 * current member in ${*data}, ${*len} (borrowed until the next call on
 * ${t}; a sparse file's holes are left out): 1; 0 after its last byte;
 * -1: the callback's error, or QBK_E_INTEGRITY naming the member (the
 * archive ends inside it, or is damaged). */
int qbk_tar_data(struct qbk_tar *, const void **, size_t *,
    struct qbk_err *);

/** qbk_tar_restart(t, err): read the data of the current member again
 * from its first byte (an upload retry): rewind the stream and read the
 * archive again up to that member, whose description stays valid.  0, or
 * -1: the rewind's error, or an archive that changed. */
int qbk_tar_restart(struct qbk_tar *, struct qbk_err *);

/** qbk_tar_close(t): free ${t}; NULL is fine.  The stream is not read to
 * its end. */
void qbk_tar_close(struct qbk_tar *);

#endif /* !QBK_TAR_H */
