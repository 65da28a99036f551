/*
 * units.h: bounded parsing and canonical formatting of the value types that
 * configs and command lines share: integers and reals with bounds (OpenBSD
 * strtonum), durations ("250ms", "1h30m", "7d"), sizes ("64KiB", "1MB"),
 * ratios ("0.1", "10%"), percentages ("50%", "50").
 *
 * Parsers take the whole string (no leading or trailing junk, no spaces),
 * write *out only on success and return 0 or a negative ERR_* code; on
 * failure *why (when not NULL) points to a short static reason ("unknown
 * unit", "out of range") that the caller completes with what it expects.
 */
#ifndef UMBRA_BASE_UNITS_H
#define UMBRA_BASE_UNITS_H

#include <stddef.h>
#include <stdint.h>

int units_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out,
		    const char **why);
int units_parse_double(const char *s, double min, double max, double *out,
		       const char **why);
/* Nanoseconds; units ns us ms s m h d, combinable ("1h30m"), decimals
 * allowed per term ("1.5s"). A bare "0" is accepted. */
int units_parse_duration(const char *s, int64_t *ns, const char **why);
/* Bytes; B, KiB MiB GiB TiB (1024^n), KB MB GB TB (1000^n), or a bare
 * integer. */
int units_parse_size(const char *s, uint64_t *bytes, const char **why);
/* 0..1, as a real or a percentage ("10%"). */
int units_parse_ratio(const char *s, double *out, const char **why);
/* 0..100, with or without '%'. */
int units_parse_percent(const char *s, double *out, const char **why);

/* Seconds given as a number (JSON, where there is no text to parse)
 * into nanoseconds: finite and within min_s..max_s, else ERR_RANGE and
 * *why "out of range" (or "not a finite number"). The bounds keep the
 * product inside int64 (|s| <= 9223372036 s, the year 2262): a cast of
 * an out-of-range double is undefined behaviour. */
#define UNITS_NS_MAX_S 9223372035.0 /* INT64_MAX ns, in whole seconds */
int units_secs_to_ns(double s, double min_s, double max_s, int64_t *ns,
		     const char **why);

/* Canonical text, the shortest exact form: "1h30m", "250ms", "0s";
 * "64KiB", "1000000B". Write into out (at least UNITS_FMT_LEN bytes) and
 * return it. */
#define UNITS_FMT_LEN 48
char *units_fmt_duration(int64_t ns, char *out);
char *units_fmt_size(uint64_t bytes, char *out);

#endif
