#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/qbk_exit.h"
#include "common/qbk_err.h"

static const struct {
	enum qbk_errcode code;
	const char *name;
	int exit_code;
} codes[] = {
	{ QBK_E_OK, "ok", QBK_EXIT_OK },
	{ QBK_E_IO, "io", QBK_EXIT_RUNTIME },
	{ QBK_E_NOSPACE, "nospace", QBK_EXIT_RUNTIME },
	{ QBK_E_NET, "net", QBK_EXIT_RUNTIME },
	{ QBK_E_HTTP, "http", QBK_EXIT_RUNTIME },
	{ QBK_E_QDRANT, "qdrant", QBK_EXIT_RUNTIME },
	{ QBK_E_AUTH, "auth", QBK_EXIT_RUNTIME },
	{ QBK_E_NOTFOUND, "notfound", QBK_EXIT_RUNTIME },
	{ QBK_E_NOMEM, "nomem", QBK_EXIT_RUNTIME },
	{ QBK_E_INTERRUPTED, "interrupted", QBK_EXIT_RUNTIME },
	{ QBK_E_USAGE, "usage", QBK_EXIT_USAGE },
	{ QBK_E_CONFIG, "config", QBK_EXIT_USAGE },
	{ QBK_E_INTEGRITY, "integrity", QBK_EXIT_DATA },
	{ QBK_E_SHORT, "short", QBK_EXIT_DATA },
	{ QBK_E_CRYPTO, "crypto", QBK_EXIT_USAGE },
	{ QBK_E_LOCKED, "locked", QBK_EXIT_LOCKED },
	{ QBK_E_OBJECTIVE, "objective", QBK_EXIT_OBJECTIVE },
	{ QBK_E_INTERNAL, "internal", QBK_EXIT_RUNTIME },
};

static void vformat(struct qbk_err *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
vformat(struct qbk_err *err, const char *fmt, va_list ap)
{
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int
qbk_err_set(struct qbk_err *err, enum qbk_errcode code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	err->sys_errno = 0;
	err->hint[0] = '\0';
	va_start(ap, fmt);
	vformat(err, fmt, ap);
	va_end(ap);
	return -1;
}

int
qbk_err_sys(struct qbk_err *err, enum qbk_errcode code, const char *fmt, ...)
{
	int e = errno;
	size_t len;
	va_list ap;

	if (err == NULL)
		return -1;
	if (code == QBK_E_IO && (e == ENOSPC || e == EDQUOT || e == EFBIG))
		code = QBK_E_NOSPACE;
	err->code = code;
	err->sys_errno = e;
	err->hint[0] = '\0';
	va_start(ap, fmt);
	vformat(err, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(e));
	errno = e;
	return -1;
}

void
qbk_err_prefix(struct qbk_err *err, const char *fmt, ...)
{
	char old[sizeof(err->msg)];
	size_t len;
	va_list ap;

	if (err == NULL)
		return;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", old);
}

void
qbk_err_hint(struct qbk_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void
qbk_err_clear(struct qbk_err *err)
{
	struct qbk_err init = QBK_ERR_INIT;

	if (err != NULL)
		*err = init;
}

int
qbk_err_exit_code(const struct qbk_err *err)
{
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == err->code)
			return codes[i].exit_code;
	return QBK_EXIT_RUNTIME;
}

const char *
qbk_err_code_name(enum qbk_errcode code)
{
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].name;
	return "unknown";
}
