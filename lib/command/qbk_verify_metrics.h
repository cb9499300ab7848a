#ifndef QBK_VERIFY_METRICS_H
#define QBK_VERIFY_METRICS_H

/*
 * qbk_verify_metrics: the Prometheus text of a qbk-verify run, for a
 * textfile collector.
 */
#include <stdint.h>

struct qbk_buf;
struct qbk_verify_result;

/** qbk_verify_metrics(res, failed, duration_ms, now, out): append the
 * qbk_verify_* metrics of a run to ${out}: end time ${now}, success, the
 * problems of ${res} (plus one when ${failed}: a failure that stopped the
 * checks counts as one problem) and the duration ${duration_ms}. */
void qbk_verify_metrics(const struct qbk_verify_result *, int, int64_t,
    int64_t, struct qbk_buf *);

#endif /* !QBK_VERIFY_METRICS_H */
