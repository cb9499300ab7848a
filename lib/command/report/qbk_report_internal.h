#ifndef QBK_REPORT_INTERNAL_H
#define QBK_REPORT_INTERNAL_H

/*
 * qbk_report_internal: what the files of lib/command/report/ share.
 * qbk_report.c holds the model and computes it, qbk_report_load.c loads
 * it from a repository, qbk_report_text.c, qbk_report_json.c and
 * qbk_report_prom.c render it.
 */

#include <stddef.h>
#include <stdint.h>

#include "config/qbk_config.h"

/* ${s} seconds as duration text ("1h30m") in ${buf} of ${size} bytes;
 * returns ${buf}.  The misses and the text report say durations alike. */
static inline char *
dur(int64_t s, char *buf, size_t size)
{
	return qbk_config_format_duration(s * 1000, buf, size);
}

#endif /* QBK_REPORT_INTERNAL_H */
