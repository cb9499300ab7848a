#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/qbk_time.h"

/* 9999-12-31T23:59:59Z */
#define TIME_MAX	INT64_C(253402300799)

static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
qbk_time_to_civil(int64_t t, struct qbk_time_civil *c)
{
	int64_t z, era, doe, yoe, doy, mp;

	if (t < 0 || t > TIME_MAX)
		return -1;
	c->ss = t % 60;
	c->mm = t / 60 % 60;
	c->hh = t / 3600 % 24;
	z = t / 86400 + 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	c->d = doy - (153 * mp + 2) / 5 + 1;
	c->m = mp < 10 ? mp + 3 : mp - 9;
	c->y = yoe + era * 400 + (c->m <= 2);
	return 0;
}

static int
days_in_month(int64_t y, int64_t m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

int64_t
qbk_time_digits(const char *s, int n)
{
	int64_t v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
qbk_time_from_civil(const struct qbk_time_civil *c, int64_t *t)
{
	if (c->y < 1970 || c->y > 9999 || c->m < 1 || c->m > 12 ||
	    c->d < 1 || c->d > days_in_month(c->y, c->m) || c->hh < 0 ||
	    c->hh > 23 || c->mm < 0 || c->mm > 59 || c->ss < 0 || c->ss > 59)
		return -1;
	*t = days_from_civil(c->y, c->m, c->d) * 86400 + c->hh * 3600 +
	    c->mm * 60 + c->ss;
	return 0;
}

int
qbk_time_format(int64_t t, char *out)
{
	struct qbk_time_civil c;

	out[0] = '\0';
	if (qbk_time_to_civil(t, &c))
		return -1;
	snprintf(out, QBK_TIME_LEN + 1, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    (int)c.y, (int)c.m, (int)c.d, (int)c.hh, (int)c.mm, (int)c.ss);
	return 0;
}

int
qbk_time_parse(const char *s, int64_t *t)
{
	struct qbk_time_civil c;

	if (strlen(s) != QBK_TIME_LEN || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -1;
	c.y = qbk_time_digits(s, 4);
	c.m = qbk_time_digits(s + 5, 2);
	c.d = qbk_time_digits(s + 8, 2);
	c.hh = qbk_time_digits(s + 11, 2);
	c.mm = qbk_time_digits(s + 14, 2);
	c.ss = qbk_time_digits(s + 17, 2);
	return qbk_time_from_civil(&c, t);
}

/* Parse exactly ${n} digits at ${*p} into ${*out}; advance.  0 or -1. */
static int
take(const char **p, int n, int64_t *out)
{
	if ((*out = qbk_time_digits(*p, n)) < 0)
		return -1;
	*p += n;
	return 0;
}

/* The zone after a time of day: none or 'Z' (0), or "+HH[:MM]" and
 * "-HH[:MM]" (seconds east of UTC); advance.  0 or -1. */
static int
zone(const char **p, int64_t *east)
{
	int64_t oh = 0, om = 0, sign;

	*east = 0;
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return 0;
	sign = *(*p)++ == '-' ? -1 : 1;
	if (take(p, 2, &oh) != 0)
		return -1;
	if (**p == ':')
		(*p)++;
	if (**p != '\0' && take(p, 2, &om) != 0)
		return -1;
	if (oh > 23 || om > 59)
		return -1;
	*east = sign * (oh * 3600 + om * 60);
	return 0;
}

int
qbk_time_parse_iso(const char *s, int64_t *t)
{
	struct qbk_time_civil c = { 0, 0, 0, 0, 0, 0 };
	const char *p = s;
	int64_t east = 0, v;

	if (take(&p, 4, &c.y) != 0 || *p++ != '-' || take(&p, 2, &c.m) != 0 ||
	    *p++ != '-' || take(&p, 2, &c.d) != 0)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (take(&p, 2, &c.hh) != 0 || *p++ != ':' ||
		    take(&p, 2, &c.mm) != 0)
			return -1;
		if (*p == ':') {
			p++;
			if (take(&p, 2, &c.ss) != 0)
				return -1;
			if (*p == '.' || *p == ',') {
				/* Fractions are dropped: ids have seconds. */
				p++;
				if (*p < '0' || *p > '9')
					return -1;
				while (*p >= '0' && *p <= '9')
					p++;
			}
		}
		if (zone(&p, &east) != 0)
			return -1;
	}
	if (*p != '\0' || qbk_time_from_civil(&c, &v) != 0)
		return -1;
	*t = v - east;
	return 0;
}
