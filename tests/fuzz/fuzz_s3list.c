/*
 * fuzz_s3list: parse arbitrary bytes as an S3 ListObjectsV2 response and as
 * an S3 error body.  A page that parses has sane entries (non-empty keys
 * without NUL, a token when truncated); a rejection always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "storage/s3/qbk_s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf code = QBK_BUF_INIT, msg = QBK_BUF_INIT;
	struct qbk_s3_page pg;
	size_t i;

	if (qbk_s3_parse_list((const char *)data, size, &pg, &err) == 0) {
		for (i = 0; i < pg.n; i++)
			if (pg.entries[i].key == NULL ||
			    pg.entries[i].key[0] == '\0')
				abort();
		if (pg.truncated && pg.next_token == NULL)
			abort();
		qbk_s3_page_release(&pg);
	} else if (err.code != QBK_E_HTTP || err.msg[0] == '\0' ||
	    pg.n != 0 || pg.entries != NULL) {
		abort();
	}
	qbk_s3_parse_error((const char *)data, size, &code, &msg);
	qbk_buf_release(&code);
	qbk_buf_release(&msg);
	return 0;
}
