/*
 * fuzz_manifest: parse arbitrary bytes as a backup manifest and as a drill
 * record.  Whatever parses must also write, and what it writes must parse
 * back and write again byte for byte (the round trip is exact).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "repo/qbk_manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
manifest_round_trip(const uint8_t *data, size_t size)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b1 = QBK_BUF_INIT, b2 = QBK_BUF_INIT;
	struct qbk_manifest *m, *m2;

	if (qbk_manifest_from_json(data, size, &m, &err) != 0) {
		/* A rejection always says why. */
		if (m != NULL || err.code != QBK_E_INTEGRITY ||
		    err.msg[0] == '\0')
			abort();
		return;
	}
	if (qbk_manifest_to_json(m, &b1, &err) != 0)
		abort();
	if (qbk_manifest_from_json(b1.buf, b1.len, &m2, &err) != 0)
		abort();
	if (qbk_manifest_to_json(m2, &b2, &err) != 0)
		abort();
	if (b1.len != b2.len || memcmp(b1.buf, b2.buf, b1.len) != 0)
		abort();
	if (memcmp(&m->totals, &m2->totals, sizeof(m->totals)) != 0 ||
	    m->n_collections != m2->n_collections)
		abort();
	qbk_manifest_free(m);
	qbk_manifest_free(m2);
	qbk_buf_release(&b1);
	qbk_buf_release(&b2);
}

static void
drill_round_trip(const uint8_t *data, size_t size)
{
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf b1 = QBK_BUF_INIT, b2 = QBK_BUF_INIT;
	struct qbk_manifest_drill *d, *d2;

	if (qbk_manifest_drill_from_json(data, size, &d, &err) != 0) {
		if (d != NULL || err.code != QBK_E_INTEGRITY)
			abort();
		return;
	}
	if (qbk_manifest_drill_to_json(d, &b1, &err) != 0 ||
	    qbk_manifest_drill_from_json(b1.buf, b1.len, &d2, &err) != 0 ||
	    qbk_manifest_drill_to_json(d2, &b2, &err) != 0)
		abort();
	if (b1.len != b2.len || memcmp(b1.buf, b2.buf, b1.len) != 0)
		abort();
	qbk_manifest_drill_free(d);
	qbk_manifest_drill_free(d2);
	qbk_buf_release(&b1);
	qbk_buf_release(&b2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	manifest_round_trip(data, size);
	drill_round_trip(data, size);
	return 0;
}
