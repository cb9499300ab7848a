#ifndef QBK_H
#define QBK_H

#include <stdint.h>

#include "common/qbk_err.h"

#define QBK_VERSION "0.1.0"

/** qbk_init(err): one-time library set-up (libsodium, libcurl).  Call once
 * from main() before any thread starts.  Returns 0 or -1. */
int qbk_init(struct qbk_err *);

/** qbk_version_text(): "qbk 0.1.0 (libcurl x, jansson y, ...)"; static. */
const char *qbk_version_text(void);

/** qbk_clock_ms(): milliseconds of the monotonic clock, for durations. */
int64_t qbk_clock_ms(void);

/** qbk_now(): the wall clock in seconds since the epoch, UTC.  For tests,
 * $QBK_TEST_NOW (decimal seconds since the epoch) replaces it; documented in
 * qbk(7) as never to be set in production. */
int64_t qbk_now(void);

#endif /* !QBK_H */
