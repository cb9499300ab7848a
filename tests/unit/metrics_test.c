/* Unit tests of lib/common/qbk_metrics.c: the Prometheus text format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/qbk_buf.h"
#include "common/qbk_metrics.h"

static void
gauge_and_samples(void **state)
{
	struct qbk_buf b = QBK_BUF_INIT;

	(void)state;
	qbk_metrics_gauge(&b, "qbk_x_points", "Points, per collection.");
	qbk_metrics_sample(&b, "qbk_x_points", "collection", "c1", "%llu",
	    12ULL);
	qbk_metrics_sample(&b, "qbk_x_points", NULL, NULL, "%.3f", 1.5);
	assert_string_equal(b.buf, "# HELP qbk_x_points Points, per "
	    "collection.\n# TYPE qbk_x_points gauge\n"
	    "qbk_x_points{collection=\"c1\"} 12\n"
	    "qbk_x_points 1.500\n");
	qbk_buf_release(&b);
}

static void
one(void **state)
{
	struct qbk_buf b = QBK_BUF_INIT;

	(void)state;
	qbk_metrics_one(&b, "qbk_x_ok", "1 if it worked.", "%d", 1);
	assert_string_equal(b.buf, "# HELP qbk_x_ok 1 if it worked.\n"
	    "# TYPE qbk_x_ok gauge\nqbk_x_ok 1\n");
	qbk_buf_release(&b);
}

static void
label_escaped(void **state)
{
	struct qbk_buf b = QBK_BUF_INIT;

	(void)state;
	qbk_metrics_sample(&b, "m", "collection", "a\"b\\c\nd", "%s", "+Inf");
	assert_string_equal(b.buf, "m{collection=\"a\\\"b\\\\c\\nd\"} +Inf\n");
	qbk_buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gauge_and_samples),
		cmocka_unit_test(one),
		cmocka_unit_test(label_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
