#ifndef QBK_RETENTION_H
#define QBK_RETENTION_H

/*
 * qbk_retention: the retention policy of qbk-prune, as a pure function of
 * the backups' times (restic's "forget" semantics).  No I/O.
 *
 * Backups are grouped (qbk-prune groups them by their set of collection
 * names); each group is handled on its own, newest backup first (ties by id,
 * higher first).  Within a group:
 *   keep_last N     the N newest backups
 *   keep_hourly N   the newest backup of each of the N newest hours that
 *                   have backups; likewise keep_daily (days), keep_weekly
 *                   (ISO 8601 weeks), keep_monthly and keep_yearly
 *   keep_within D   every backup at most D seconds older than the newest
 *                   backup of its group (not of the current time, as in
 *                   restic, so that a stopped backup job never lets the
 *                   last backups expire)
 * Buckets are in UTC.  A backup kept by any rule is kept; a held backup
 * (legal hold) is always kept.  An empty policy (no rule set) keeps every
 * backup, with the reason QBK_RETENTION_ALL.
 */
#include <stddef.h>
#include <stdint.h>

struct qbk_buf;

/* Reasons to keep a backup: bits (1u << rule) of qbk_retention_item.keep. */
enum qbk_retention_rule {
	QBK_RETENTION_LAST = 0,
	QBK_RETENTION_HOURLY,
	QBK_RETENTION_DAILY,
	QBK_RETENTION_WEEKLY,
	QBK_RETENTION_MONTHLY,
	QBK_RETENTION_YEARLY,
	QBK_RETENTION_WITHIN,
	QBK_RETENTION_HOLD,
	QBK_RETENTION_ALL,	/* no policy: everything is kept */
	QBK_RETENTION_NRULES
};

/* Counts: 0 or less means the rule is off; keep_within_s < 0: off. */
struct qbk_retention_policy {
	int keep_last;
	int keep_hourly;
	int keep_daily;
	int keep_weekly;
	int keep_monthly;
	int keep_yearly;
	int64_t keep_within_s;	/* seconds */
};
#define QBK_RETENTION_POLICY_INIT { -1, -1, -1, -1, -1, -1, -1 }

struct qbk_retention_item {
	const char *id;		/* backup id (borrowed; ties and output) */
	int64_t time;		/* start time, seconds since the epoch */
	const char *group;	/* group name (borrowed); NULL: "" */
	int held;		/* under legal hold */
	unsigned keep;		/* out: bits 1u << rule; 0: remove */
};

/** qbk_retention_policy_empty(p): nonzero if no rule of ${p} is on. */
int qbk_retention_policy_empty(const struct qbk_retention_policy *);

/** qbk_retention_apply(p, items, n): set the keep bits of every item. */
void qbk_retention_apply(const struct qbk_retention_policy *,
    struct qbk_retention_item *, size_t);

/** qbk_retention_rule_name(rule): "last", "hourly", "daily", "weekly",
 * "monthly", "yearly", "within", "hold", "all". */
const char *qbk_retention_rule_name(enum qbk_retention_rule);

/** qbk_retention_describe(keep, out): append the names of the rules in
 * ${keep}, separated by ", " ("daily, weekly"), to ${out}. */
void qbk_retention_describe(unsigned, struct qbk_buf *);

/** qbk_retention_policy_describe(p, out): append the policy in option form
 * ("--keep-last 2 --keep-daily 7") to ${out}; "" if empty. */
void qbk_retention_policy_describe(const struct qbk_retention_policy *,
    struct qbk_buf *);

#endif /* !QBK_RETENTION_H */
