/* Unit tests of lib/repo/qbk_retention.c: each rule keeps exactly the right
 * set, restic's semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/qbk_buf.h"
#include "repo/qbk_retention.h"

#define MAXN 32

/* A set of backups "YYYY-MM-DD HH:MM" (group g) and their results. */
struct set {
	struct qbk_retention_item it[MAXN];
	char ids[MAXN][32];
	size_t n;
};

static int64_t
utc(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi;

	assert_int_equal(sscanf(s, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi),
	    5);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm);
}

static void
add(struct set *s, const char *when, const char *group)
{
	assert_true(s->n < MAXN);
	snprintf(s->ids[s->n], sizeof(s->ids[0]), "b%02zu", s->n);
	s->it[s->n].id = s->ids[s->n];
	s->it[s->n].time = utc(when);
	s->it[s->n].group = group;
	s->it[s->n].held = 0;
	s->n++;
}

/* The indices kept, as "0,3,4". */
static void
kept(const struct set *s, char *out, size_t size)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < s->n; i++)
		if (s->it[i].keep != 0)
			len += (size_t)snprintf(out + len, size - len, "%s%zu",
			    len ? "," : "", i);
}

static void
check(struct set *s, const struct qbk_retention_policy *p, const char *want)
{
	char got[256];

	qbk_retention_apply(p, s->it, s->n);
	kept(s, got, sizeof(got));
	assert_string_equal(got, want);
}

static void
test_keep_last(void **state)
{
	struct set s = { .n = 0 };
	struct qbk_retention_policy p = QBK_RETENTION_POLICY_INIT;

	(void)state;
	add(&s, "2026-11-01 10:00", "c1");
	add(&s, "2026-11-03 10:00", "c1");
	add(&s, "2026-11-02 10:00", "c1");	/* out of order on purpose */
	add(&s, "2026-11-05 10:00", "c1");
	add(&s, "2026-11-04 10:00", "c1");
	p.keep_last = 2;
	check(&s, &p, "3,4");
	assert_int_equal(s.it[3].keep, 1u << QBK_RETENTION_LAST);
	p.keep_last = 10;
	check(&s, &p, "0,1,2,3,4");
}

static void
test_keep_hourly(void **state)
{
	struct set s = { .n = 0 };
	struct qbk_retention_policy p = QBK_RETENTION_POLICY_INIT;

	(void)state;
	add(&s, "2026-11-01 10:05", "c1");
	add(&s, "2026-11-01 10:50", "c1");
	add(&s, "2026-11-01 11:10", "c1");
	add(&s, "2026-11-01 11:40", "c1");
	add(&s, "2026-11-01 13:00", "c1");
	p.keep_hourly = 2;
	check(&s, &p, "3,4");
	p.keep_hourly = 3;
	check(&s, &p, "1,3,4");
	assert_int_equal(s.it[1].keep, 1u << QBK_RETENTION_HOURLY);
}

static void
test_keep_daily(void **state)
{
	struct set s = { .n = 0 };
	struct qbk_retention_policy p = QBK_RETENTION_POLICY_INIT;

	(void)state;
	/* Days with backups: 1, 2, 4 (two), 6; days 3 and 5 have none, so
	 * keep-daily 3 reaches back to day 2 (restic counts days that have
	 * backups, not calendar days). */
	add(&s, "2026-11-01 10:00", "c1");
	add(&s, "2026-11-01 12:00", "c1");
	add(&s, "2026-11-02 08:00", "c1");
	add(&s, "2026-11-04 09:00", "c1");
	add(&s, "2026-11-04 23:59", "c1");
	add(&s, "2026-11-06 00:00", "c1");
	p.keep_daily = 3;
	check(&s, &p, "2,4,5");
	p.keep_daily = 4;
	check(&s, &p, "1,2,4,5");
	/* The day boundary is UTC midnight. */
	p.keep_daily = 1;
	check(&s, &p, "5");
}

static void
test_keep_weekly(void **state)
{
	struct set s = { .n = 0 };
	struct qbk_retention_policy p = QBK_RETENTION_POLICY_INIT;

	(void)state;
	/* 2026-11-16 is a Monday; ISO weeks run Monday to Sunday. */
	add(&s, "2026-11-09 12:00", "c1");	/* week 46 */
	add(&s, "2026-11-16 00:00", "c1");	/* week 47, Monday */
	add(&s, "2026-11-22 23:00", "c1");	/* week 47, Sunday */
	add(&s, "2026-11-23 01:00", "c1");	/* week 48, Monday */
	p.keep_weekly = 2;
	check(&s, &p, "2,3");
	p.keep_weekly = 3;
	check(&s, &p, "0,2,3");
	/* A week across the new year is one week: 2026-12-31 (Thursday)
	 * and 2027-01-03 (Sunday) are both in 2026-W53. */
	s.n = 0;
	add(&s, "2026-12-31 10:00", "c1");
	add(&s, "2027-01-03 10:00", "c1");
	add(&s, "2027-01-04 10:00", "c1");
	p.keep_weekly = 2;
	check(&s, &p, "1,2");
}

static void
test_keep_monthly_yearly(void **state)
{
	struct set s = { .n = 0 };
	struct qbk_retention_policy p = QBK_RETENTION_POLICY_INIT;

	(void)state;
	add(&s, "2024-06-01 00:00", "c1");
	add(&s, "2025-01-31 23:59", "c1");
	add(&s, "2025-12-15 00:00", "c1");
	add(&s, "2026-01-01 00:00", "c1");
	add(&s, "2026-01-20 00:00", "c1");
	add(&s, "2026-02-01 00:00", "c1");
	p.keep_monthly = 3;
	check(&s, &p, "2,4,5");
	p.keep_monthly = -1;
	p.keep_yearly = 2;
	check(&s, &p, "2,5");
	p.keep_yearly = 5;
	check(&s, &p, "0,2,5");
	assert_int_equal(s.it[0].keep, 1u << QBK_RETENTION_YEARLY);
}

static void
test_keep_within(void **state)
{
	struct set s = { .n = 0 };
	struct qbk_retention_policy p = QBK_RETENTION_POLICY_INIT;

	(void)state;
	add(&s, "2026-11-01 10:00", "c1");
	add(&s, "2026-11-02 09:59", "c1");
	add(&s, "2026-11-02 10:00", "c1");
	add(&s, "2026-11-03 10:00", "c1");
	p.keep_within_s = 86400;	/* of the newest backup */
	check(&s, &p, "2,3");
	p.keep_within_s = 0;
	check(&s, &p, "3");
}

static void
test_groups(void **state)
{
	struct set s = { .n = 0 };
	struct qbk_retention_policy p = QBK_RETENTION_POLICY_INIT;

	(void)state;
	add(&s, "2026-11-01 10:00", "c1");
	add(&s, "2026-11-02 10:00", "c1,c2");
	add(&s, "2026-11-03 10:00", "c1");
	add(&s, "2026-11-04 10:00", "c1,c2");
	add(&s, "2026-11-05 10:00", "c1");
	p.keep_last = 1;
	check(&s, &p, "3,4");
	p.keep_last = -1;
	p.keep_within_s = 86400 * 2;	/* inclusive: exactly 2 days kept */
	check(&s, &p, "1,2,3,4");
	p.keep_within_s = 86400 * 2 - 1;
	check(&s, &p, "3,4");
}

static void
test_hold_and_union(void **state)
{
	struct set s = { .n = 0 };
	struct qbk_retention_policy p = QBK_RETENTION_POLICY_INIT;
	struct qbk_buf b = QBK_BUF_INIT;

	(void)state;
	add(&s, "2026-10-01 10:00", "c1");
	add(&s, "2026-11-01 10:00", "c1");
	add(&s, "2026-11-05 09:00", "c1");
	add(&s, "2026-11-05 10:00", "c1");
	s.it[0].held = 1;
	p.keep_last = 1;
	p.keep_daily = 2;
	check(&s, &p, "0,1,3");
	assert_int_equal(s.it[0].keep, 1u << QBK_RETENTION_HOLD);
	assert_int_equal(s.it[3].keep, (1u << QBK_RETENTION_LAST) |
	    (1u << QBK_RETENTION_DAILY));
	qbk_retention_describe(s.it[3].keep, &b);
	assert_string_equal(b.buf, "last, daily");
	qbk_buf_release(&b);
	qbk_retention_policy_describe(&p, &b);
	assert_string_equal(b.buf, "--keep-last 1 --keep-daily 2");
	qbk_buf_release(&b);
}

static void
test_empty_policy(void **state)
{
	struct set s = { .n = 0 };
	struct qbk_retention_policy p = QBK_RETENTION_POLICY_INIT;

	(void)state;
	assert_true(qbk_retention_policy_empty(&p));
	add(&s, "2026-11-01 10:00", "c1");
	add(&s, "2026-11-02 10:00", "c1");
	check(&s, &p, "0,1");
	assert_int_equal(s.it[0].keep, 1u << QBK_RETENTION_ALL);
	p.keep_daily = 0;	/* zero turns a rule off */
	assert_true(qbk_retention_policy_empty(&p));
	p.keep_within_s = 0;
	assert_false(qbk_retention_policy_empty(&p));
	qbk_retention_apply(&p, s.it, 0);	/* nothing to do */
	assert_string_equal(qbk_retention_rule_name(QBK_RETENTION_WEEKLY),
	    "weekly");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keep_last),
		cmocka_unit_test(test_keep_hourly),
		cmocka_unit_test(test_keep_daily),
		cmocka_unit_test(test_keep_weekly),
		cmocka_unit_test(test_keep_monthly_yearly),
		cmocka_unit_test(test_keep_within),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_hold_and_union),
		cmocka_unit_test(test_empty_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
