#ifndef QBK_ERR_H
#define QBK_ERR_H

#include <stddef.h>

/*
 * Error records.  A failing function fills a caller-owned struct qbk_err once,
 * where the failure is found, and returns -1 (or NULL); callers may add
 * context in front with qbk_err_prefix().  The code selects the exit status.
 */
enum qbk_errcode {
	QBK_E_OK = 0,
	QBK_E_IO,		/* local file system, storage backend */
	QBK_E_NOSPACE,		/* disk full, quota */
	QBK_E_NET,		/* connection, DNS, TLS, timeout */
	QBK_E_HTTP,		/* unexpected HTTP status */
	QBK_E_QDRANT,		/* Qdrant reported an error */
	QBK_E_AUTH,		/* API key or credentials refused */
	QBK_E_NOTFOUND,		/* collection, backup, snapshot missing */
	QBK_E_NOMEM,
	QBK_E_INTERRUPTED,	/* a signal asked us to stop */
	QBK_E_USAGE,		/* bad command line */
	QBK_E_CONFIG,		/* bad configuration file or setting */
	QBK_E_INTEGRITY,	/* checksum, decryption, format damage */
	QBK_E_SHORT,		/* a stream that ended early but whole up to
				 * there: worth fetching again */
	QBK_E_CRYPTO,		/* wrong passphrase or key */
	QBK_E_LOCKED,		/* lock held by another process */
	QBK_E_OBJECTIVE,	/* RPO/RTO objective missed */
	QBK_E_INTERNAL		/* a bug: should not happen */
};

struct qbk_err {
	enum qbk_errcode code;
	int sys_errno;		/* errno when the failure came from the OS */
	long http_status;	/* HTTP status when one was involved, else 0 */
	char msg[512];
	char hint[256];		/* optional "what to do" for the operator */
};

#define QBK_ERR_INIT { QBK_E_OK, 0, 0, "", "" }

/** qbk_err_set(err, code, fmt, ...): record ${code} and a message built from
 * ${fmt}; returns -1 so that callers can write `return qbk_err_set(...)`.
 * ${err} may be NULL (the error is then dropped). */
int qbk_err_set(struct qbk_err *, enum qbk_errcode, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/** qbk_err_sys(err, code, fmt, ...): like qbk_err_set() and append
 * ": <strerror(errno)>"; records errno.  A code of QBK_E_IO becomes
 * QBK_E_NOSPACE for ENOSPC/EDQUOT/EFBIG.  Returns -1. */
int qbk_err_sys(struct qbk_err *, enum qbk_errcode, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/** qbk_err_prefix(err, fmt, ...): put "<fmt>: " in front of the message. */
void qbk_err_prefix(struct qbk_err *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/** qbk_err_hint(err, fmt, ...): set the operator hint. */
void qbk_err_hint(struct qbk_err *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/** qbk_err_clear(err): reset ${err} to QBK_ERR_INIT. */
void qbk_err_clear(struct qbk_err *);

/** qbk_err_exit_code(err): the QBK_EXIT_* status for ${err}'s code. */
int qbk_err_exit_code(const struct qbk_err *);

/** qbk_err_code_name(code): a short stable name ("io", "net", ...). */
const char *qbk_err_code_name(enum qbk_errcode);

#endif /* !QBK_ERR_H */
