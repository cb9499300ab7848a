#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/qbk_log.h"
#include "common/qbk_buf.h"

char qbk_buf_empty[1];

static void
oom(size_t n)
{
	qbk_log(QBK_LOG_ERROR, "out of memory allocating %zu bytes", n);
	abort();
}

void *
qbk_xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
qbk_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n != 0 ? n : 1, size != 0 ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

void *
qbk_xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n != 0 ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

char *
qbk_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(qbk_xmalloc(n), s, n);
}

void
qbk_buf_init(struct qbk_buf *b)
{
	b->buf = qbk_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

void
qbk_buf_release(struct qbk_buf *b)
{
	if (b->alloc != 0)
		free(b->buf);
	qbk_buf_init(b);
}

void
qbk_buf_reset(struct qbk_buf *b)
{
	qbk_buf_setlen(b, 0);
}

void
qbk_buf_grow(struct qbk_buf *b, size_t extra)
{
	size_t want, n;

	if (extra > (size_t)-1 - b->len - 1)
		oom((size_t)-1);
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return;
	n = b->alloc != 0 ? b->alloc : 64;
	while (n < want)
		n = n < ((size_t)-1) / 2 ? n * 2 : want;
	if (b->alloc == 0) {
		b->buf = qbk_xmalloc(n);
		b->buf[0] = '\0';
	} else {
		b->buf = qbk_xrealloc(b->buf, n);
	}
	b->alloc = n;
}

void
qbk_buf_setlen(struct qbk_buf *b, size_t len)
{
	if (len > b->len)
		qbk_buf_grow(b, len - b->len);
	b->len = len;
	if (b->alloc != 0)
		b->buf[len] = '\0';
}

void
qbk_buf_add(struct qbk_buf *b, const void *data, size_t len)
{
	if (len == 0)
		return;
	qbk_buf_grow(b, len);
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->buf[b->len] = '\0';
}

void
qbk_buf_addstr(struct qbk_buf *b, const char *s)
{
	qbk_buf_add(b, s, strlen(s));
}

void
qbk_buf_addch(struct qbk_buf *b, int c)
{
	char ch = (char)c;

	qbk_buf_add(b, &ch, 1);
}

void
qbk_buf_vaddf(struct qbk_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	qbk_buf_grow(b, 64);
	va_copy(cp, ap);
	n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= b->alloc - b->len) {
		qbk_buf_grow(b, (size_t)n);
		n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, ap);
		if (n < 0)
			return;
	}
	b->len += (size_t)n;
}

void
qbk_buf_addf(struct qbk_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qbk_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

char *
qbk_buf_detach(struct qbk_buf *b, size_t *len)
{
	char *s;

	if (b->alloc == 0)
		qbk_buf_grow(b, 0);
	s = b->buf;
	if (len != NULL)
		*len = b->len;
	qbk_buf_init(b);
	return s;
}

void
qbk_buf_size_text(uint64_t n, char *out, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, i == 0 ? "%.0f %s" : "%.1f %s", v, unit[i]);
}
