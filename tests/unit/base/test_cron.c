/*
 * test_cron.c: crontab(5) expressions: parsing, matching, next firing.
 */
#include "base/cron.h"

#include <criterion/criterion.h>
#include <time.h>

static time_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi};
	return timegm(&tm);
}

Test(cron, next_daily)
{
	cron_t c;
	cr_assert_eq(cron_parse("0 2 * * *", &c, NULL), 0);
	cr_assert_eq(cron_next(&c, utc(2026, 11, 27, 4, 29)),
		     utc(2026, 11, 28, 2, 0));
	cr_assert_eq(cron_next(&c, utc(2026, 11, 27, 1, 59)),
		     utc(2026, 11, 27, 2, 0));
}

Test(cron, steps_ranges_lists_names)
{
	cron_t c;
	cr_assert_eq(cron_parse("*/15 9-17 * * mon-fri", &c, NULL), 0);
	/* 2026-11-28 is a Saturday */
	cr_assert_eq(cron_next(&c, utc(2026, 11, 27, 17, 45)),
		     utc(2026, 11, 30, 9, 0));
	cr_assert(cron_matches(&c, utc(2026, 11, 27, 9, 30)));
	cr_assert(!cron_matches(&c, utc(2026, 11, 27, 9, 31)));
	cr_assert_eq(cron_parse("0 0 1,15 jan,jul *", &c, NULL), 0);
	cr_assert_eq(cron_next(&c, utc(2026, 11, 27, 0, 0)),
		     utc(2027, 1, 1, 0, 0));
	cr_assert_eq(cron_parse("5/20 * * * *", &c, NULL), 0);
	cr_assert(cron_matches(&c, utc(2026, 1, 1, 0, 45)));
}

Test(cron, sunday_is_0_or_7_and_dom_dow_or)
{
	cron_t a, b;
	cr_assert_eq(cron_parse("0 0 * * 0", &a, NULL), 0);
	cr_assert_eq(cron_parse("0 0 * * 7", &b, NULL), 0);
	cr_assert_eq(a.wdays, b.wdays);
	cron_t c;
	/* the 13th or any Friday */
	cr_assert_eq(cron_parse("0 0 13 * fri", &c, NULL), 0);
	cr_assert(cron_matches(&c, utc(2026, 11, 13, 0, 0)));
	cr_assert(cron_matches(&c, utc(2026, 11, 6, 0, 0)));
	cr_assert(!cron_matches(&c, utc(2026, 11, 7, 0, 0)));
}

Test(cron, macros_and_impossible)
{
	cron_t c;
	cr_assert_eq(cron_parse("@hourly", &c, NULL), 0);
	cr_assert_eq(cron_next(&c, utc(2026, 1, 1, 0, 30)),
		     utc(2026, 1, 1, 1, 0));
	cr_assert_eq(cron_parse("0 0 30 2 *", &c, NULL), 0);
	cr_assert_eq(cron_next(&c, utc(2026, 1, 1, 0, 0)), -1);
}

Test(cron, rejects)
{
	const char *bad[] = {"",	  "* * * *",   "* * * * * *", "60 * * * *",
			     "* 24 * * *", "* * 0 * *", "* * * 13 *",  "* * * * 8",
			     "*/0 * * * *", "5-1 * * * *", "@sometimes", "a * * * *",
			     "1,,2 * * * *"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cron_t c;
		const char *why = NULL;
		cr_assert_neq(cron_parse(bad[i], &c, &why), 0, "%s", bad[i]);
		cr_assert_not_null(why);
	}
}
