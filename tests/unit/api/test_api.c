/*
 * test_api.c: the API's number parsing (issue 19): a time given as a
 * JSON number or text is bounded before it becomes int64 nanoseconds,
 * and every rejection says why, for the caller to name the field.
 */
#include "api/api_int.h"
#include "base/err.h"
#include "base/units.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static int parse(const char *json, int64_t *ns, const char **why)
{
	json_error_t je;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &je);
	cr_assert_not_null(v, "%s: %s", json, je.text);
	int rc = api__parse_time(v, ns, why);
	json_decref(v);
	return rc;
}

Test(api, times_in_range_are_taken)
{
	int64_t ns = -1;
	const char *why;
	cr_assert_eq(parse("1700000000.5", &ns, &why), 0);
	cr_assert_eq(ns, 1700000000500000000LL);
	cr_assert_eq(parse("\"2023-11-14T22:13:20Z\"", &ns, &why), 0);
	cr_assert_eq(ns, 1700000000LL * 1000000000LL);
	cr_assert_eq(parse("0", &ns, &why), 0);
	cr_assert_eq(ns, 0);
	cr_assert_eq(api__parse_time(NULL, &ns, &why), ERR_NOTFOUND);
}

Test(api, out_of_range_times_are_refused_not_wrapped)
{
	static const char *const bad[] = {
	    "1e308", "-1e308", "-1", "9223372037", "1e19",
	    "\"9999-12-31T23:59:59Z\"", "\"1969-12-31T23:59:59Z\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int64_t ns = 42;
		const char *why = NULL;
		cr_assert_eq(parse(bad[i], &ns, &why), ERR_RANGE, "%s", bad[i]);
		cr_assert_eq(ns, 42, "%s: unchanged on error", bad[i]);
		cr_assert_str_eq(why, "out of range");
	}
	int64_t ns = 42;
	const char *why = NULL;
	cr_assert_eq(parse("\"yesterday\"", &ns, &why), ERR_PARSE);
	cr_assert_eq(parse("[1]", &ns, &why), ERR_PARSE);
	cr_assert_eq(parse("\"2023-11-14T22:13:20Zjunk\"", &ns, &why),
		     ERR_PARSE);
}

Test(api, seconds_to_ns_bounds_every_double)
{
	int64_t ns = 7;
	const char *why = NULL;
	cr_assert_eq(units_secs_to_ns(NAN, 0, 10, &ns, &why), ERR_RANGE);
	cr_assert_str_eq(why, "not a finite number");
	cr_assert_eq(units_secs_to_ns(INFINITY, 0, INFINITY, &ns, &why),
		     ERR_RANGE);
	cr_assert_eq(units_secs_to_ns(1e308, 0, HUGE_VAL, &ns, &why), ERR_RANGE,
		     "a wide max is cut to what int64 ns hold");
	cr_assert_eq(units_secs_to_ns(10.5, 0, 10, &ns, &why), ERR_RANGE);
	cr_assert_eq(ns, 7);
	cr_assert_eq(units_secs_to_ns(UNITS_NS_MAX_S, 0, 1e300, &ns, &why), 0);
	cr_assert_gt(ns, 0);
}
