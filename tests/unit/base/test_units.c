/*
 * test_units.c: bounded parsing and canonical formatting of durations,
 * sizes, ratios, percentages and integers.
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/units.h"

#include <criterion/criterion.h>

Test(units, durations)
{
	struct {
		const char *in;
		int64_t ns;
	} ok[] = {{"0", 0},
		  {"250ms", 250 * NS_PER_MS},
		  {"30s", 30 * NS_PER_S},
		  {"5m", 300 * NS_PER_S},
		  {"1h30m", 5400 * NS_PER_S},
		  {"7d", 7 * 86400 * NS_PER_S},
		  {"1.5s", 1500 * NS_PER_MS},
		  {"10us", 10000},
		  {"\xc2\xb5s", 0}, /* no number: rejected below */
		  {"3ns", 3}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		int64_t v = -1;
		int rc = units_parse_duration(ok[i].in, &v, NULL);
		if (i == 8) {
			cr_assert_neq(rc, 0);
			continue;
		}
		cr_assert_eq(rc, 0, "%s", ok[i].in);
		cr_assert_eq(v, ok[i].ns, "%s: %lld", ok[i].in, (long long)v);
	}
	const char *bad[] = {"", "10", "s", "10 s", "-1s", "10sec", "1h30",
			     "1e3s", "99999999999999d"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int64_t v = 42;
		const char *why = NULL;
		cr_assert_neq(units_parse_duration(bad[i], &v, &why), 0, "%s",
			      bad[i]);
		cr_assert_eq(v, 42, "output changed on failure");
		cr_assert_not_null(why);
	}
}

Test(units, duration_format_is_canonical)
{
	char b[UNITS_FMT_LEN];
	cr_assert_str_eq(units_fmt_duration(0, b), "0s");
	cr_assert_str_eq(units_fmt_duration(250 * NS_PER_MS, b), "250ms");
	cr_assert_str_eq(units_fmt_duration(5400 * NS_PER_S, b), "1h30m");
	cr_assert_str_eq(units_fmt_duration(86400 * NS_PER_S + 1 * NS_PER_S, b),
			 "1d1s");
	cr_assert_str_eq(units_fmt_duration(1500 * NS_PER_MS, b), "1500ms");
	cr_assert_str_eq(units_fmt_duration(7, b), "7ns");
	/* round trip */
	int64_t v;
	cr_assert_eq(units_parse_duration(units_fmt_duration(93784 * NS_PER_S,
							     b),
					  &v, NULL),
		     0);
	cr_assert_eq(v, 93784 * NS_PER_S);
}

Test(units, sizes)
{
	uint64_t v;
	cr_assert_eq(units_parse_size("512", &v, NULL), 0);
	cr_assert_eq(v, 512);
	cr_assert_eq(units_parse_size("64KiB", &v, NULL), 0);
	cr_assert_eq(v, 65536);
	cr_assert_eq(units_parse_size("1.5MiB", &v, NULL), 0);
	cr_assert_eq(v, 1572864);
	cr_assert_eq(units_parse_size("2GB", &v, NULL), 0);
	cr_assert_eq(v, 2000000000ull);
	const char *why;
	cr_assert_eq(units_parse_size("1.3B", &v, &why), ERR_PARSE);
	cr_assert_str_eq(why, "not a whole number of bytes");
	cr_assert_eq(units_parse_size("8mb", &v, &why), ERR_PARSE);
	cr_assert_str_eq(why, "unknown unit");
	cr_assert_eq(units_parse_size("-1", &v, &why), ERR_PARSE);
	cr_assert_eq(units_parse_size("99999999TiB", &v, &why), ERR_RANGE);
	char b[UNITS_FMT_LEN];
	cr_assert_str_eq(units_fmt_size(65536, b), "64KiB");
	cr_assert_str_eq(units_fmt_size(1000, b), "1000B");
	cr_assert_str_eq(units_fmt_size(3ull << 30, b), "3GiB");
}

Test(units, ratios_and_percents)
{
	double v;
	cr_assert_eq(units_parse_ratio("0.25", &v, NULL), 0);
	cr_assert_float_eq(v, 0.25, 1e-12);
	cr_assert_eq(units_parse_ratio("25%", &v, NULL), 0);
	cr_assert_float_eq(v, 0.25, 1e-12);
	cr_assert_eq(units_parse_ratio("1.01", &v, NULL), ERR_RANGE);
	cr_assert_eq(units_parse_ratio("%", &v, NULL), ERR_PARSE);
	cr_assert_eq(units_parse_ratio("nan", &v, NULL), ERR_PARSE);
	cr_assert_eq(units_parse_percent("75", &v, NULL), 0);
	cr_assert_float_eq(v, 75, 1e-12);
	cr_assert_eq(units_parse_percent("75%", &v, NULL), 0);
	cr_assert_eq(units_parse_percent("101", &v, NULL), ERR_RANGE);
}

Test(units, integers)
{
	int64_t v;
	cr_assert_eq(units_parse_i64("42", 0, 100, &v, NULL), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(units_parse_i64(" 42", 0, 100, &v, NULL), ERR_PARSE);
	cr_assert_eq(units_parse_i64("42x", 0, 100, &v, NULL), ERR_PARSE);
	cr_assert_eq(units_parse_i64("101", 0, 100, &v, NULL), ERR_RANGE);
	cr_assert_eq(units_parse_i64("99999999999999999999", 0, INT64_MAX, &v,
				     NULL),
		     ERR_RANGE);
	double d;
	cr_assert_eq(units_parse_double("0x10", 0, 100, &d, NULL), ERR_PARSE);
	cr_assert_eq(units_parse_double("inf", 0, 1e300, &d, NULL), ERR_PARSE);
	cr_assert_eq(units_parse_double("1e-3", 0, 1, &d, NULL), 0);
}
