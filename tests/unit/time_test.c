/* Unit tests of lib/common/qbk_time.c: civil dates, the manifest's time
 * format and the ISO 8601 forms an operator types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/qbk_time.h"

static void
civil_round_trip(void **state)
{
	static const int64_t times[] = { 0, 951782400 /* 2000-02-29 */,
		1795299000, INT64_C(253402300799) };
	struct qbk_time_civil c;
	int64_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		assert_int_equal(qbk_time_to_civil(times[i], &c), 0);
		assert_int_equal(qbk_time_from_civil(&c, &t), 0);
		assert_int_equal(t, times[i]);
	}
	assert_int_equal(qbk_time_to_civil(951782400, &c), 0);
	assert_int_equal(c.y, 2000);
	assert_int_equal(c.m, 2);
	assert_int_equal(c.d, 29);
	assert_int_equal(qbk_time_to_civil(-1, &c), -1);
	assert_int_equal(qbk_time_to_civil(INT64_C(253402300800), &c), -1);
	c.y = 2026;
	c.m = 2;
	c.d = 29;
	assert_int_equal(qbk_time_from_civil(&c, &t), -1);
	assert_int_equal(qbk_time_digits("2026", 4), 2026);
	assert_int_equal(qbk_time_digits("2x", 2), -1);
}

static void
format_and_parse(void **state)
{
	char s[QBK_TIME_LEN + 1];
	int64_t t;

	(void)state;
	assert_int_equal(qbk_time_format(1795299000, s), 0);
	assert_string_equal(s, "2026-11-21T22:10:00Z");
	assert_int_equal(qbk_time_parse(s, &t), 0);
	assert_int_equal(t, 1795299000);
	assert_int_equal(qbk_time_format(-1, s), -1);
	assert_string_equal(s, "");
	assert_int_equal(qbk_time_parse("2026-11-21T22:10:00", &t), -1);
	assert_int_equal(qbk_time_parse("2026-11-21 22:10:00Z", &t), -1);
	assert_int_equal(qbk_time_parse("2026-11-31T22:10:00Z", &t), -1);
	assert_int_equal(qbk_time_parse("2026-11-21T22:10:60Z", &t), -1);
}

static void
parse_iso(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(qbk_time_parse_iso("2026-11-21", &t), 0);
	assert_int_equal(t, 1795219200);
	assert_int_equal(qbk_time_parse_iso("2026-11-21 22:10", &t), 0);
	assert_int_equal(t, 1795299000);
	assert_int_equal(qbk_time_parse_iso("2026-11-21t22:10:00.123z", &t),
	    0);
	assert_int_equal(t, 1795299000);
	assert_int_equal(qbk_time_parse_iso("2026-11-22T00:10:00+02:00", &t),
	    0);
	assert_int_equal(t, 1795299000);
	assert_int_equal(qbk_time_parse_iso("2026-11-21T20:40-0130", &t), 0);
	assert_int_equal(t, 1795299000);
	assert_int_equal(qbk_time_parse_iso("2026-11-21T22:10:00.", &t), -1);
	assert_int_equal(qbk_time_parse_iso("2026-11-21T24:00", &t), -1);
	assert_int_equal(qbk_time_parse_iso("2026-11-21T22:10+24", &t), -1);
	assert_int_equal(qbk_time_parse_iso("1969-12-31", &t), -1);
	assert_int_equal(qbk_time_parse_iso("2026-11-21X", &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(civil_round_trip),
		cmocka_unit_test(format_and_parse),
		cmocka_unit_test(parse_iso),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
