#ifndef QBK_LOG_H
#define QBK_LOG_H

#include <stdarg.h>

/*
 * Logging.  lib/ never writes to stdout or stderr itself: every message goes
 * through the sink that the front end installs (cmd/cli.c prints it on
 * stderr; unit tests capture it).  Without a sink messages are dropped.
 */
enum qbk_log_level {
	QBK_LOG_ERROR = 0,
	QBK_LOG_WARN,
	QBK_LOG_INFO,
	QBK_LOG_DETAIL,
	QBK_LOG_DEBUG
};

typedef void qbk_log_sink_fn(void *, enum qbk_log_level, const char *);

/** qbk_log_set_sink(fn, cookie): send messages to ${fn}(${cookie}, ...). */
void qbk_log_set_sink(qbk_log_sink_fn *, void *);

/** qbk_log_set_level(level): drop messages above ${level} (default INFO). */
void qbk_log_set_level(enum qbk_log_level);

/** qbk_log_level(): the current level. */
enum qbk_log_level qbk_log_level(void);

/** qbk_log_enabled(level): nonzero if a message at ${level} would be kept. */
int qbk_log_enabled(enum qbk_log_level);

/** qbk_log(level, fmt, ...): format and send a message (thread-safe). */
void qbk_log(enum qbk_log_level, const char *, ...)
    __attribute__((format(printf, 2, 3)));

#define qbk_warn(...)	qbk_log(QBK_LOG_WARN, __VA_ARGS__)
#define qbk_info(...)	qbk_log(QBK_LOG_INFO, __VA_ARGS__)
#define qbk_detail(...)	qbk_log(QBK_LOG_DETAIL, __VA_ARGS__)
#define qbk_debug(...)	qbk_log(QBK_LOG_DEBUG, __VA_ARGS__)

#endif /* !QBK_LOG_H */
