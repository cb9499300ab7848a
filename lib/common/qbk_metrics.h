#ifndef QBK_METRICS_H
#define QBK_METRICS_H

/*
 * qbk_metrics: Prometheus text exposition format, the one way qbk writes
 * metrics (the files of --metrics-file, qbk-report --prometheus).  Every
 * family qbk writes is a gauge:
 *   # HELP qbk_backup_points Points in each collection at the last backup.
 *   # TYPE qbk_backup_points gauge
 *   qbk_backup_points{collection="c1"} 1200
 */

struct qbk_buf;

/** qbk_metrics_gauge(out, name, help): append the "# HELP" and "# TYPE"
 * lines that start the gauge family ${name}. */
void qbk_metrics_gauge(struct qbk_buf *, const char *, const char *);

/** qbk_metrics_sample(out, name, label, lvalue, fmt, ...): append one
 * sample of ${name}: "name value", or "name{label="lvalue"} value" when
 * ${label} is not NULL, with ${lvalue} escaped; the value is formatted by
 * ${fmt} and what follows it. */
void qbk_metrics_sample(struct qbk_buf *, const char *, const char *,
    const char *, const char *, ...) __attribute__((format(printf, 5, 6)));

/** qbk_metrics_one(out, name, help, fmt, ...): append gauge family ${name}
 * with its one sample, unlabelled, whose value ${fmt} formats. */
void qbk_metrics_one(struct qbk_buf *, const char *, const char *,
    const char *, ...) __attribute__((format(printf, 4, 5)));

/** qbk_metrics_label(out, value): append ${value} escaped for a label
 * value (backslash, double quote and newline). */
void qbk_metrics_label(struct qbk_buf *, const char *);

#endif /* !QBK_METRICS_H */
