#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/qbk_log.h"

/* The sink and level are set once by the front end before threads start. */
static qbk_log_sink_fn *sink;
static void *sink_cookie;
static enum qbk_log_level level = QBK_LOG_INFO;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void
qbk_log_set_sink(qbk_log_sink_fn *fn, void *cookie)
{
	sink = fn;
	sink_cookie = cookie;
}

void
qbk_log_set_level(enum qbk_log_level l)
{
	level = l;
}

enum qbk_log_level
qbk_log_level(void)
{
	return level;
}

int
qbk_log_enabled(enum qbk_log_level l)
{
	return sink != NULL && l <= level;
}

void
qbk_log(enum qbk_log_level l, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!qbk_log_enabled(l))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&lock);
	sink(sink_cookie, l, msg);
	pthread_mutex_unlock(&lock);
}
