/*
 * cron.c: crontab(5) expressions (see cron.h).
 */
#include "base/cron.h"

#include "base/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SET_WHY(w) (why ? (void)(*why = (w)) : (void)0)
#define CRON_FIELD_MAX 128 /* longest field text we accept */

static const char *const month_names[] = {"jan", "feb", "mar", "apr",
					  "may", "jun", "jul", "aug",
					  "sep", "oct", "nov", "dec"};
static const char *const wday_names[] = {"sun", "mon", "tue", "wed",
					 "thu", "fri", "sat"};

/* A number or (for months and weekdays) a three-letter name. */
static bool read_value(const char **p, int field, int *v)
{
	const char *s = *p;
	if (isdigit((unsigned char)*s)) {
		int x = 0;
		while (isdigit((unsigned char)*s) && x < 1000)
			x = x * 10 + (*s++ - '0');
		*v = x;
		*p = s;
		return true;
	}
	const char *const *names = field == 3 ? month_names
				   : field == 4 ? wday_names
						: NULL;
	int n = field == 3 ? 12 : 7, base = field == 3 ? 1 : 0;
	if (!names)
		return false;
	for (int i = 0; i < n; i++) {
		if (strncasecmp(s, names[i], 3) == 0) {
			*v = i + base;
			*p = s + 3;
			return true;
		}
	}
	return false;
}

/* Parses one field into a bitmask; field 0..4, bounds lo..hi. */
static int parse_field(const char *s, int field, int lo, int hi,
		       uint64_t *mask, bool *any, const char **why)
{
	static const char *const bad[] = {
		"bad minute field (0-59)",
		"bad hour field (0-23)",
		"bad day-of-month field (1-31)",
		"bad month field (1-12 or jan-dec)",
		"bad day-of-week field (0-7 or sun-sat)",
	};
	uint64_t m = 0;
	*any = strcmp(s, "*") == 0 || strcmp(s, "?") == 0;
	const char *p = s;
	for (;;) {
		int a, b, step = 1;
		bool star = *p == '*' || *p == '?';
		if (star) {
			a = lo;
			b = hi;
			p++;
		} else {
			if (!read_value(&p, field, &a))
				goto fail;
			b = a;
			if (*p == '-') {
				p++;
				if (!read_value(&p, field, &b))
					goto fail;
			}
		}
		if (*p == '/') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto fail;
			step = 0;
			while (isdigit((unsigned char)*p) && step < 1000)
				step = step * 10 + (*p++ - '0');
			if (step == 0)
				goto fail;
			if (a == b && !star)
				b = hi; /* "5/15" means 5-hi/15 */
		}
		int top = field == 4 ? 7 : hi;
		if (a < lo || b > top || a > b)
			goto fail;
		for (int v = a; v <= b; v += step)
			m |= 1ULL << (field == 4 && v == 7 ? 0 : v);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		goto fail;
	}
	*mask = m;
	return 0;
fail:
	SET_WHY(bad[field]);
	return ERR_PARSE;
}

int cron_parse(const char *expr, cron_t *out, const char **why)
{
	static const struct {
		const char *name, *expansion;
	} macros[] = {
		{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
		{"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
		{"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"},
	};
	if (!expr) {
		SET_WHY("empty cron expression");
		return ERR_PARSE;
	}
	while (isspace((unsigned char)*expr))
		expr++;
	if (expr[0] == '@') {
		for (size_t i = 0; i < sizeof(macros) / sizeof(*macros); i++)
			if (strcasecmp(expr, macros[i].name) == 0)
				return cron_parse(macros[i].expansion, out, why);
		SET_WHY("unknown macro");
		return ERR_PARSE;
	}
	char fields[5][CRON_FIELD_MAX];
	int nf = 0;
	const char *p = expr;
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		if (nf == 5) {
			SET_WHY("too many fields");
			return ERR_PARSE;
		}
		size_t n = 0;
		while (*p && !isspace((unsigned char)*p)) {
			if (n + 1 >= CRON_FIELD_MAX) {
				SET_WHY("field too long");
				return ERR_PARSE;
			}
			fields[nf][n++] = *p++;
		}
		fields[nf++][n] = '\0';
	}
	if (nf != 5) {
		SET_WHY("too few fields");
		return ERR_PARSE;
	}
	static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 6};
	uint64_t m[5];
	bool any[5];
	for (int i = 0; i < 5; i++) {
		int rc = parse_field(fields[i], i, lo[i], hi[i], &m[i], &any[i],
				     why);
		if (rc)
			return rc;
	}
	out->minutes = m[0];
	out->hours = (uint32_t)m[1];
	out->mdays = (uint32_t)m[2];
	out->months = (uint16_t)m[3];
	out->wdays = (uint8_t)m[4];
	out->mday_any = any[2];
	out->wday_any = any[4];
	return 0;
}

static bool day_matches(const cron_t *c, const struct tm *tm)
{
	bool md = c->mdays >> tm->tm_mday & 1;
	bool wd = c->wdays >> tm->tm_wday & 1;
	if (c->mday_any && c->wday_any)
		return true;
	if (c->mday_any)
		return wd;
	if (c->wday_any)
		return md;
	return md || wd;
}

bool cron_matches(const cron_t *c, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	return (c->months >> (tm.tm_mon + 1) & 1) && day_matches(c, &tm) &&
	       (c->hours >> tm.tm_hour & 1) && (c->minutes >> tm.tm_min & 1);
}

time_t cron_next(const cron_t *c, time_t t)
{
	time_t cur = t - t % 60 + 60;
	time_t limit = t + 5LL * 366 * 86400;
	while (cur <= limit) {
		struct tm tm;
		gmtime_r(&cur, &tm);
		if (!(c->months >> (tm.tm_mon + 1) & 1)) {
			/* first minute of next month */
			tm.tm_mon += 1;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			cur = timegm(&tm);
			continue;
		}
		if (!day_matches(c, &tm)) {
			cur += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60);
			continue;
		}
		if (!(c->hours >> tm.tm_hour & 1)) {
			cur += 3600 - tm.tm_min * 60;
			continue;
		}
		if (!(c->minutes >> tm.tm_min & 1)) {
			cur += 60;
			continue;
		}
		return cur;
	}
	return -1;
}
