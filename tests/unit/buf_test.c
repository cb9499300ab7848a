#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_exit.h"
#include "common/qbk_log.h"
#include "testutil.h"

static void
buf_grows_and_formats(void **state)
{
	struct qbk_buf b = QBK_BUF_INIT;
	char *s;
	size_t len;
	int i;

	(void)state;
	assert_string_equal(b.buf, "");
	for (i = 0; i < 1000; i++)
		qbk_buf_addf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.buf));
	assert_memory_equal(b.buf, "0,1,2,", 6);
	qbk_buf_setlen(&b, 2);
	assert_string_equal(b.buf, "0,");
	qbk_buf_addch(&b, 'x');
	qbk_buf_add(&b, "yz", 2);
	assert_string_equal(b.buf, "0,xyz");
	s = qbk_buf_detach(&b, &len);
	assert_int_equal(len, 5);
	assert_string_equal(s, "0,xyz");
	assert_int_equal(b.len, 0);
	free(s);
	qbk_buf_release(&b);
}

static void
err_set_prefix_and_exit_codes(void **state)
{
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	assert_int_equal(qbk_err_set(&err, QBK_E_INTEGRITY,
	    "chunk '%s' is damaged", "ab12"), -1);
	qbk_err_prefix(&err, "cannot restore '%s'", "c1");
	assert_string_equal(err.msg,
	    "cannot restore 'c1': chunk 'ab12' is damaged");
	assert_int_equal(qbk_err_exit_code(&err), QBK_EXIT_DATA);
	err.code = QBK_E_LOCKED;
	assert_int_equal(qbk_err_exit_code(&err), QBK_EXIT_LOCKED);
	err.code = QBK_E_CONFIG;
	assert_int_equal(qbk_err_exit_code(&err), QBK_EXIT_USAGE);
	err.code = QBK_E_NET;
	assert_int_equal(qbk_err_exit_code(&err), QBK_EXIT_RUNTIME);
	err.code = QBK_E_OBJECTIVE;
	assert_int_equal(qbk_err_exit_code(&err), QBK_EXIT_OBJECTIVE);
	errno = ENOSPC;
	qbk_err_sys(&err, QBK_E_IO, "cannot write '%s'", "x");
	assert_int_equal(err.code, QBK_E_NOSPACE);
	assert_string_equal(err.msg,
	    "cannot write 'x': No space left on device");
	qbk_err_clear(&err);
	assert_int_equal(err.code, QBK_E_OK);
}

static void
log_goes_to_sink_by_level(void **state)
{
	(void)state;
	tu_log_capture();
	qbk_log_set_level(QBK_LOG_WARN);
	qbk_info("hidden %d", 1);
	qbk_warn("shown %d", 2);
	assert_string_equal(tu_log_text(), "1 shown 2\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_grows_and_formats),
		cmocka_unit_test(err_set_prefix_and_exit_codes),
		cmocka_unit_test(log_goes_to_sink_by_level),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
