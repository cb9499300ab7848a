/*
 * fuzz_config: qbk.conf text through inih and every value parser.  A parse
 * that succeeds is written out and parsed again: the result must parse and
 * must write back identically.  Errors are expected and stay silent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "config/qbk_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qbk_buf a = QBK_BUF_INIT, b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_config cfg, again;
	char *text;

	if (size > 64 * 1024)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	qbk_config_init(&cfg);
	if (qbk_config_load_string(&cfg, text, "fuzz.conf", &err) == 0) {
		qbk_config_write(&cfg, &a);
		qbk_config_init(&again);
		if (qbk_config_load_string(&again, a.buf, "written",
		    &err) != 0)
			abort();
		qbk_config_write(&again, &b);
		if (strcmp(a.buf, b.buf) != 0)
			abort();
		(void)qbk_config_in_maintenance(&again, 1700000000);
		qbk_config_release(&again);
	}
	qbk_config_release(&cfg);
	qbk_buf_release(&a);
	qbk_buf_release(&b);
	free(text);
	return 0;
}
