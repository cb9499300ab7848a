#ifndef QBK_TIME_H
#define QBK_TIME_H

#include <stdint.h>

/*
 * Civil dates and ISO 8601, the one way qbk turns seconds since the epoch
 * (UTC) into dates and back, without the C library's time zones.  Times
 * outside 1970..9999 are refused: nothing qbk records lies there.
 */

#define QBK_TIME_LEN	20	/* "YYYY-MM-DDTHH:MM:SSZ" */

struct qbk_time_civil {		/* a date and time of day, UTC */
	int64_t y, m, d;	/* year, month 1..12, day 1..31 */
	int64_t hh, mm, ss;	/* 0..23, 0..59, 0..59 */
};

/** qbk_time_to_civil(t, c): the date and time of day of ${t} into ${c}; 0,
 * or -1 if ${t} is outside 1970..9999. */
int qbk_time_to_civil(int64_t, struct qbk_time_civil *);

/** qbk_time_from_civil(c, t): the seconds since the epoch of ${c} into
 * ${t}; 0, or -1 if ${c} is not a real date and time in 1970..9999 (no leap
 * second). */
int qbk_time_from_civil(const struct qbk_time_civil *, int64_t *);

/** qbk_time_digits(s, n): the value of the ${n} decimal digits at ${s}, or
 * -1 if one of them is not a digit. */
int64_t qbk_time_digits(const char *, int);

/** qbk_time_format(t, out): "YYYY-MM-DDTHH:MM:SSZ" for ${t} into
 * ${out}[QBK_TIME_LEN + 1]; 0, or -1 (out set to "") if ${t} is outside
 * 1970..9999. */
int qbk_time_format(int64_t, char *);

/** qbk_time_parse(s, t): parse exactly "YYYY-MM-DDTHH:MM:SSZ" (a real date,
 * 1970..9999, no leap second); 0 or -1. */
int qbk_time_parse(const char *, int64_t *);

/** qbk_time_parse_iso(s, t): parse the ISO 8601 forms an operator types:
 * "YYYY-MM-DD", optionally followed by 'T', 't' or ' ' and "HH:MM", ":SS",
 * a fraction (dropped), and 'Z' or an offset "+HH[:MM]" (none: UTC); 0 or
 * -1. */
int qbk_time_parse_iso(const char *, int64_t *);

#endif /* !QBK_TIME_H */
