#ifndef QBK_BUF_H
#define QBK_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Growable byte buffers, always NUL-terminated (git's strbuf).  Allocation
 * failure aborts the process through qbk_xmalloc(): running out of memory
 * while building a string leaves nothing sensible to unwind to.
 */
struct qbk_buf {
	char *buf;	/* never NULL after qbk_buf_init() */
	size_t len;	/* bytes used, not counting the terminating NUL */
	size_t alloc;	/* bytes allocated; 0 while buf points at a static "" */
};

extern char qbk_buf_empty[];
#define QBK_BUF_INIT { qbk_buf_empty, 0, 0 }

/** qbk_buf_init(b): make ${b} an empty buffer. */
void qbk_buf_init(struct qbk_buf *);

/** qbk_buf_release(b): free ${b}'s memory and make it empty again. */
void qbk_buf_release(struct qbk_buf *);

/** qbk_buf_reset(b): set the length to 0, keeping the memory. */
void qbk_buf_reset(struct qbk_buf *);

/** qbk_buf_grow(b, extra): make room for ${extra} more bytes. */
void qbk_buf_grow(struct qbk_buf *, size_t);

/** qbk_buf_add(b, data, len): append ${len} bytes. */
void qbk_buf_add(struct qbk_buf *, const void *, size_t);

/** qbk_buf_addstr(b, s): append the string ${s}. */
void qbk_buf_addstr(struct qbk_buf *, const char *);

/** qbk_buf_addch(b, c): append one byte. */
void qbk_buf_addch(struct qbk_buf *, int);

/** qbk_buf_addf(b, fmt, ...): append printf-formatted text. */
void qbk_buf_addf(struct qbk_buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/** qbk_buf_vaddf(b, fmt, ap): append printf-formatted text. */
void qbk_buf_vaddf(struct qbk_buf *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

/** qbk_buf_setlen(b, len): truncate (or extend into grown space) to ${len}. */
void qbk_buf_setlen(struct qbk_buf *, size_t);

/** qbk_buf_detach(b, len): hand the string over to the caller, who frees it
 * with free(); ${b} is empty afterwards.  ${len} may be NULL. */
char *qbk_buf_detach(struct qbk_buf *, size_t *);

/** qbk_buf_size_text(n, out, len): ${n} bytes for people ("512 B",
 * "1.5 MiB") into ${out}, ${len} bytes long. */
void qbk_buf_size_text(uint64_t, char *, size_t);

/** qbk_xmalloc(n), qbk_xcalloc(n, size), qbk_xrealloc(p, n), qbk_xstrdup(s):
 * allocate or abort() with a message on the log sink. */
void *qbk_xmalloc(size_t);
void *qbk_xcalloc(size_t, size_t);
void *qbk_xrealloc(void *, size_t);
char *qbk_xstrdup(const char *);

#endif /* !QBK_BUF_H */
