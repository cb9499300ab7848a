#include <stdarg.h>
#include <stddef.h>

#include "common/qbk_buf.h"
#include "common/qbk_metrics.h"

void
qbk_metrics_gauge(struct qbk_buf *out, const char *name, const char *help)
{
	qbk_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help,
	    name);
}

void
qbk_metrics_sample(struct qbk_buf *out, const char *name, const char *label,
    const char *lvalue, const char *fmt, ...)
{
	va_list ap;

	qbk_buf_addstr(out, name);
	if (label != NULL) {
		qbk_buf_addf(out, "{%s=\"", label);
		qbk_metrics_label(out, lvalue);
		qbk_buf_addstr(out, "\"}");
	}
	qbk_buf_addch(out, ' ');
	va_start(ap, fmt);
	qbk_buf_vaddf(out, fmt, ap);
	va_end(ap);
	qbk_buf_addch(out, '\n');
}

void
qbk_metrics_one(struct qbk_buf *out, const char *name, const char *help,
    const char *fmt, ...)
{
	va_list ap;

	qbk_metrics_gauge(out, name, help);
	qbk_buf_addf(out, "%s ", name);
	va_start(ap, fmt);
	qbk_buf_vaddf(out, fmt, ap);
	va_end(ap);
	qbk_buf_addch(out, '\n');
}

void
qbk_metrics_label(struct qbk_buf *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			qbk_buf_addstr(out, "\\\\");
		else if (*v == '"')
			qbk_buf_addstr(out, "\\\"");
		else if (*v == '\n')
			qbk_buf_addstr(out, "\\n");
		else
			qbk_buf_addch(out, *v);
	}
}
