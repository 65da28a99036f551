/*
 * units.c: parsers and formatters of units.h. Every number goes through
 * strtoll/strtod with full-string and range checks; arithmetic on
 * durations and sizes is overflow-checked.
 */
#include "base/units.h"

#include "base/clock.h"
#include "base/err.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SET_WHY(w) (why ? (void)(*why = (w)) : (void)0)

int units_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out,
		    const char **why)
{
	if (!s || !*s || isspace((unsigned char)*s)) {
		SET_WHY("not an integer");
		return ERR_PARSE;
	}
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0') {
		SET_WHY("not an integer");
		return ERR_PARSE;
	}
	if (errno == ERANGE || v < min || v > max) {
		SET_WHY("out of range");
		return ERR_RANGE;
	}
	*out = v;
	return 0;
}

int units_secs_to_ns(double s, double min_s, double max_s, int64_t *ns,
		     const char **why)
{
	if (!isfinite(s)) {
		SET_WHY("not a finite number");
		return ERR_RANGE;
	}
	if (min_s < -UNITS_NS_MAX_S)
		min_s = -UNITS_NS_MAX_S;
	if (max_s > UNITS_NS_MAX_S)
		max_s = UNITS_NS_MAX_S;
	if (s < min_s || s > max_s) {
		SET_WHY("out of range");
		return ERR_RANGE;
	}
	*ns = (int64_t)(s * 1e9);
	return 0;
}

int units_parse_double(const char *s, double min, double max, double *out,
		       const char **why)
{
	if (!s || !*s || isspace((unsigned char)*s)) {
		SET_WHY("not a number");
		return ERR_PARSE;
	}
	/* strtod accepts hex floats, "inf" and "nan": a config means none. */
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p)) {
			SET_WHY("not a number");
			return ERR_PARSE;
		}
	}
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (*end != '\0' || end == s) {
		SET_WHY("not a number");
		return ERR_PARSE;
	}
	if (errno == ERANGE || !isfinite(v) || v < min || v > max) {
		SET_WHY("out of range");
		return ERR_RANGE;
	}
	*out = v;
	return 0;
}

/* Reads an unsigned decimal "123" or "1.25" at *p; returns false when
 * there is no digit. */
static bool read_decimal(const char **p, double *v)
{
	const char *s = *p;
	double x = 0;
	bool any = false;
	while (isdigit((unsigned char)*s)) {
		x = x * 10 + (*s++ - '0');
		any = true;
	}
	if (*s == '.') {
		s++;
		double scale = 0.1;
		while (isdigit((unsigned char)*s)) {
			x += (*s++ - '0') * scale;
			scale /= 10;
			any = true;
		}
	}
	*p = s;
	*v = x;
	return any;
}

static const struct {
	const char *name;
	int64_t ns;
} dur_units[] = {
	{"ns", 1},
	{"us", 1000LL},
	{"\xc2\xb5s", 1000LL}, /* µs */
	{"ms", 1000000LL},
	{"s", 1000000000LL},
	{"m", 60LL * 1000000000LL},
	{"h", 3600LL * 1000000000LL},
	{"d", 86400LL * 1000000000LL},
};

int units_parse_duration(const char *s, int64_t *ns, const char **why)
{
	if (!s || !*s) {
		SET_WHY("empty duration");
		return ERR_PARSE;
	}
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	const char *p = s;
	double total = 0;
	while (*p) {
		double v;
		if (!read_decimal(&p, &v)) {
			SET_WHY("not a duration");
			return ERR_PARSE;
		}
		const char *u = p;
		while (*p && !isdigit((unsigned char)*p) && *p != '.')
			p++;
		size_t ulen = (size_t)(p - u);
		if (ulen == 0) {
			SET_WHY("missing unit");
			return ERR_PARSE;
		}
		int64_t mult = 0;
		for (size_t i = 0; i < sizeof(dur_units) / sizeof(*dur_units);
		     i++) {
			if (strlen(dur_units[i].name) == ulen &&
			    memcmp(dur_units[i].name, u, ulen) == 0)
				mult = dur_units[i].ns;
		}
		if (!mult) {
			SET_WHY("unknown unit");
			return ERR_PARSE;
		}
		total += v * (double)mult;
		if (total > (double)INT64_MAX / 2) {
			SET_WHY("duration too long");
			return ERR_RANGE;
		}
	}
	*ns = (int64_t)llround(total);
	return 0;
}

static const struct {
	const char *name;
	uint64_t mult;
} size_units[] = {
	{"B", 1},
	{"KiB", 1ULL << 10},
	{"MiB", 1ULL << 20},
	{"GiB", 1ULL << 30},
	{"TiB", 1ULL << 40},
	{"KB", 1000ULL},
	{"kB", 1000ULL},
	{"MB", 1000000ULL},
	{"GB", 1000000000ULL},
	{"TB", 1000000000000ULL},
};

int units_parse_size(const char *s, uint64_t *bytes, const char **why)
{
	const char *p = s;
	double v;
	if (!s || !read_decimal(&p, &v)) {
		SET_WHY("not a size");
		return ERR_PARSE;
	}
	uint64_t mult = 0;
	if (*p == '\0') {
		mult = 1;
	} else {
		for (size_t i = 0; i < sizeof(size_units) / sizeof(*size_units);
		     i++)
			if (strcmp(p, size_units[i].name) == 0)
				mult = size_units[i].mult;
	}
	if (!mult) {
		SET_WHY("unknown unit");
		return ERR_PARSE;
	}
	double b = v * (double)mult;
	if (b > 9.0e18) {
		SET_WHY("size too large");
		return ERR_RANGE;
	}
	if (b != floor(b)) {
		SET_WHY("not a whole number of bytes");
		return ERR_PARSE;
	}
	*bytes = (uint64_t)b;
	return 0;
}

int units_parse_ratio(const char *s, double *out, const char **why)
{
	size_t n = s ? strlen(s) : 0;
	double v;
	int rc;
	if (n > 1 && s[n - 1] == '%') {
		char tmp[64];
		if (n >= sizeof(tmp)) {
			SET_WHY("not a ratio");
			return ERR_PARSE;
		}
		memcpy(tmp, s, n - 1);
		tmp[n - 1] = '\0';
		rc = units_parse_double(tmp, 0, 100, &v, why);
		v /= 100;
	} else {
		rc = units_parse_double(s, 0, 1, &v, why);
	}
	if (rc == ERR_RANGE)
		SET_WHY("out of range");
	else if (rc)
		SET_WHY("not a ratio");
	if (rc == 0)
		*out = v;
	return rc;
}

int units_parse_percent(const char *s, double *out, const char **why)
{
	size_t n = s ? strlen(s) : 0;
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp)) {
		SET_WHY("not a percentage");
		return ERR_PARSE;
	}
	memcpy(tmp, s, n + 1);
	if (tmp[n - 1] == '%')
		tmp[n - 1] = '\0';
	int rc = units_parse_double(tmp, 0, 100, out, why);
	if (rc == ERR_RANGE)
		SET_WHY("out of range");
	else if (rc)
		SET_WHY("not a percentage");
	return rc;
}

char *units_fmt_duration(int64_t ns, char *out)
{
	static const struct {
		const char *name;
		int64_t ns;
	} big[] = {{"d", 86400LL * NS_PER_S}, {"h", 3600LL * NS_PER_S},
		   {"m", 60LL * NS_PER_S},    {"s", NS_PER_S}};
	char *p = out;
	size_t room = UNITS_FMT_LEN;
	if (ns < 0) {
		*p++ = '-';
		room--;
		ns = -ns;
	}
	if (ns == 0) {
		snprintf(p, room, "0s");
		return out;
	}
	if (ns % NS_PER_S != 0) {
		/* Sub-second remainder: the whole value in the largest unit
		 * that divides it exactly. */
		if (ns % 1000000 == 0)
			snprintf(p, room, "%lldms", (long long)(ns / 1000000));
		else if (ns % 1000 == 0)
			snprintf(p, room, "%lldus", (long long)(ns / 1000));
		else
			snprintf(p, room, "%lldns", (long long)ns);
		return out;
	}
	*p = '\0';
	for (size_t i = 0; i < sizeof(big) / sizeof(*big); i++) {
		if (ns >= big[i].ns) {
			int n = snprintf(p, room, "%lld%s",
					 (long long)(ns / big[i].ns), big[i].name);
			p += n;
			room -= (size_t)n;
			ns %= big[i].ns;
		}
	}
	return out;
}

char *units_fmt_size(uint64_t bytes, char *out)
{
	static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (i < 4 && bytes && bytes % 1024 == 0) {
		bytes /= 1024;
		i++;
	}
	snprintf(out, UNITS_FMT_LEN, "%llu%s", (unsigned long long)bytes,
		 names[i]);
	return out;
}
