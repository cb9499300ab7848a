#include <stddef.h>
#include <stdint.h>

#include "command/qbk_verify.h"
#include "common/qbk_buf.h"
#include "common/qbk_metrics.h"
#include "command/qbk_verify_metrics.h"

void
qbk_verify_metrics(const struct qbk_verify_result *res, int failed,
    int64_t duration_ms, int64_t now, struct qbk_buf *t)
{
	size_t problems = res->n_problems + (failed ? 1 : 0);

	qbk_metrics_one(t, "qbk_verify_last_run_timestamp_seconds",
	    "End of the last qbk-verify run.", "%lld", (long long)now);
	qbk_metrics_one(t, "qbk_verify_last_run_success",
	    "1 if the last qbk-verify run found no problem.", "%d",
	    problems == 0 ? 1 : 0);
	qbk_metrics_one(t, "qbk_verify_problems",
	    "Problems found by the last qbk-verify run.", "%zu", problems);
	qbk_metrics_one(t, "qbk_verify_duration_seconds",
	    "Duration of the last qbk-verify run.", "%.3f",
	    (double)duration_ms / 1000.0);
}
