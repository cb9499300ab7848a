#include <stddef.h>
#include <stdint.h>

#include "command/qbk_verify.h"
#include "common/qbk_buf.h"
#include "command/qbk_verify_metrics.h"

void
qbk_verify_metrics(const struct qbk_verify_result *res, int failed,
    int64_t duration_ms, int64_t now, struct qbk_buf *t)
{
	size_t problems = res->n_problems + (failed ? 1 : 0);

	qbk_buf_addf(t, "# HELP qbk_verify_last_run_timestamp_seconds "
	    "End of the last qbk-verify run.\n"
	    "# TYPE qbk_verify_last_run_timestamp_seconds gauge\n"
	    "qbk_verify_last_run_timestamp_seconds %lld\n", (long long)now);
	qbk_buf_addf(t, "# HELP qbk_verify_last_run_success "
	    "1 if the last qbk-verify run found no problem.\n"
	    "# TYPE qbk_verify_last_run_success gauge\n"
	    "qbk_verify_last_run_success %d\n", problems == 0 ? 1 : 0);
	qbk_buf_addf(t, "# HELP qbk_verify_problems "
	    "Problems found by the last qbk-verify run.\n"
	    "# TYPE qbk_verify_problems gauge\n"
	    "qbk_verify_problems %zu\n", problems);
	qbk_buf_addf(t, "# HELP qbk_verify_duration_seconds "
	    "Duration of the last qbk-verify run.\n"
	    "# TYPE qbk_verify_duration_seconds gauge\n"
	    "qbk_verify_duration_seconds %.3f\n",
	    (double)duration_ms / 1000.0);
}
