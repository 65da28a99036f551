/*
 * test_series.c: bounded in-memory windows per series.
 */
#include "base/err.h"
#include "metrics/series.h"

#include <criterion/criterion.h>

Test(series, window_wraps_and_keeps_the_newest)
{
	series_window_t w;
	series_window_init(&w, 4);
	for (int i = 1; i <= 10; i++)
		cr_assert_eq(series_window_push(&w, i * 10, i), 0);
	cr_assert_eq(series_window_len(&w), 4);
	int64_t ts;
	double v;
	series_window_at(&w, 0, &ts, &v);
	cr_assert_eq(ts, 70);
	cr_assert_float_eq(v, 7, 0);
	series_window_at(&w, 3, &ts, &v);
	cr_assert_eq(ts, 100);
	/* older than the newest: ignored; equal: replaces */
	cr_assert_eq(series_window_push(&w, 95, 0), -1);
	cr_assert_eq(series_window_push(&w, 100, 42), 0);
	series_window_at(&w, 3, &ts, &v);
	cr_assert_float_eq(v, 42, 0);
	cr_assert_eq(series_window_len(&w), 4);
	int64_t t[8];
	double vs[8];
	cr_assert_eq(series_window_since(&w, 85, t, vs, 8), 2);
	cr_assert_eq(t[0], 90);
	cr_assert_eq(series_window_since(&w, 0, t, vs, 2), 2, "max honoured");
	cr_assert_eq(series_window_since(&w, 1000, t, vs, 8), 0);
	series_window_free(&w);
}

Test(series, set_makes_windows_on_demand)
{
	series_set_t s;
	series_set_init(&s, 3);
	cr_assert_null(series_set_get(&s, 5));
	cr_assert_eq(series_set_push(&s, 5, 1, 1.5), 0);
	cr_assert_eq(series_set_push(&s, 700, 1, 2.5), 0);
	cr_assert_eq(series_window_len(series_set_get(&s, 5)), 1);
	cr_assert_null(series_set_get(&s, 6));
	for (int i = 0; i < 10; i++)
		series_set_push(&s, 700, 2 + i, i);
	cr_assert_eq(series_window_len(series_set_get(&s, 700)), 3);
	cr_assert_eq(series_set_push(&s, SERIES_SET_MAX, 1, 1), ERR_FULL);
	series_set_free(&s);
}
