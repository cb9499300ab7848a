#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/qbk_buf.h"
#include "repo/qbk_retention.h"

static const char *const rule_names[QBK_RETENTION_NRULES] = {
	"last", "hourly", "daily", "weekly", "monthly", "yearly", "within",
	"hold", "all"
};

const char *
qbk_retention_rule_name(enum qbk_retention_rule r)
{
	if ((unsigned)r >= QBK_RETENTION_NRULES)
		return "?";
	return rule_names[r];
}

int
qbk_retention_policy_empty(const struct qbk_retention_policy *p)
{
	return p->keep_last <= 0 && p->keep_hourly <= 0 &&
	    p->keep_daily <= 0 && p->keep_weekly <= 0 &&
	    p->keep_monthly <= 0 && p->keep_yearly <= 0 &&
	    p->keep_within_s < 0;
}

/* a / b rounded towards minus infinity. */
static int64_t
floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b) != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

/* The bucket of ${t} for a time rule, in UTC. */
static int64_t
bucket(enum qbk_retention_rule r, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	int64_t days, wday, monday;

	switch (r) {
	case QBK_RETENTION_HOURLY:
		return floordiv(t, 3600);
	case QBK_RETENTION_DAILY:
		return floordiv(t, 86400);
	case QBK_RETENTION_WEEKLY:
		/* ISO weeks start on Monday; 1970-01-01 was a Thursday.
		 * Numbering weeks by their Monday gives one value per ISO
		 * week without needing the ISO year. */
		days = floordiv(t, 86400);
		wday = ((days % 7) + 7 + 3) % 7;	/* 0 = Monday */
		monday = days - wday;
		return monday;
	case QBK_RETENTION_MONTHLY:
	case QBK_RETENTION_YEARLY:
		if (gmtime_r(&tt, &tm) == NULL)
			return t;
		if (r == QBK_RETENTION_YEARLY)
			return (int64_t)tm.tm_year;
		return (int64_t)tm.tm_year * 12 + tm.tm_mon;
	default:
		return 0;
	}
}

/* Newest first within a group; groups in name order. */
static int
cmp_item(const void *a, const void *b)
{
	const struct qbk_retention_item *x =
	    *(struct qbk_retention_item *const *)a;
	const struct qbk_retention_item *y =
	    *(struct qbk_retention_item *const *)b;
	int c;

	c = strcmp(x->group != NULL ? x->group : "",
	    y->group != NULL ? y->group : "");
	if (c != 0)
		return c;
	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return -strcmp(x->id != NULL ? x->id : "", y->id != NULL ? y->id : "");
}

static int
same_group(const struct qbk_retention_item *a,
    const struct qbk_retention_item *b)
{
	return strcmp(a->group != NULL ? a->group : "",
	    b->group != NULL ? b->group : "") == 0;
}

void
qbk_retention_apply(const struct qbk_retention_policy *p,
    struct qbk_retention_item *items, size_t n)
{
	struct qbk_retention_item **v;
	static const enum qbk_retention_rule timed[] = {
		QBK_RETENTION_HOURLY, QBK_RETENTION_DAILY,
		QBK_RETENTION_WEEKLY, QBK_RETENTION_MONTHLY,
		QBK_RETENTION_YEARLY
	};
	int counts[5];
	int left[5], have[5];
	int64_t last[5], newest = 0;
	int nlast = 0;
	size_t i, k;
	int empty = qbk_retention_policy_empty(p);

	counts[0] = p->keep_hourly;
	counts[1] = p->keep_daily;
	counts[2] = p->keep_weekly;
	counts[3] = p->keep_monthly;
	counts[4] = p->keep_yearly;
	if (n == 0)
		return;
	v = qbk_xcalloc(n, sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i] = &items[i];
		items[i].keep = 0;
		if (items[i].held)
			items[i].keep |= 1u << QBK_RETENTION_HOLD;
		if (empty)
			items[i].keep |= 1u << QBK_RETENTION_ALL;
	}
	qsort(v, n, sizeof(*v), cmp_item);
	for (i = 0; i < n; i++) {
		struct qbk_retention_item *it = v[i];

		if (i == 0 || !same_group(v[i - 1], it)) {
			/* A new group starts with its newest backup. */
			nlast = 0;
			newest = it->time;
			for (k = 0; k < 5; k++) {
				left[k] = counts[k];
				have[k] = 0;
				last[k] = 0;
			}
		}
		if (p->keep_last > 0 && nlast < p->keep_last) {
			it->keep |= 1u << QBK_RETENTION_LAST;
			nlast++;
		}
		for (k = 0; k < 5; k++) {
			int64_t b;

			if (left[k] <= 0)
				continue;
			b = bucket(timed[k], it->time);
			if (have[k] && b == last[k])
				continue;
			it->keep |= 1u << timed[k];
			last[k] = b;
			have[k] = 1;
			left[k]--;
		}
		if (p->keep_within_s >= 0 &&
		    newest - it->time <= p->keep_within_s)
			it->keep |= 1u << QBK_RETENTION_WITHIN;
	}
	free(v);
}

void
qbk_retention_describe(unsigned keep, struct qbk_buf *out)
{
	unsigned r;
	int first = 1;

	for (r = 0; r < QBK_RETENTION_NRULES; r++) {
		if ((keep & (1u << r)) == 0)
			continue;
		if (!first)
			qbk_buf_addstr(out, ", ");
		qbk_buf_addstr(out, rule_names[r]);
		first = 0;
	}
}

void
qbk_retention_policy_describe(const struct qbk_retention_policy *p,
    struct qbk_buf *out)
{
	const char *names[6] = { "last", "hourly", "daily", "weekly",
	    "monthly", "yearly" };
	int vals[6];
	size_t i;
	int first = 1;

	vals[0] = p->keep_last;
	vals[1] = p->keep_hourly;
	vals[2] = p->keep_daily;
	vals[3] = p->keep_weekly;
	vals[4] = p->keep_monthly;
	vals[5] = p->keep_yearly;
	for (i = 0; i < 6; i++) {
		if (vals[i] <= 0)
			continue;
		qbk_buf_addf(out, "%s--keep-%s %d", first ? "" : " ", names[i],
		    vals[i]);
		first = 0;
	}
	if (p->keep_within_s >= 0)
		qbk_buf_addf(out, "%s--keep-within %llds", first ? "" : " ",
		    (long long)p->keep_within_s);
}
