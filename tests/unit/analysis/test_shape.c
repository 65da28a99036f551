/*
 * test_shape.c: the stuck-signal and seasonality-break channels
 * (det_shape.h) with known answers, the detectors built on them
 * ("stuck", "season", the default "ensemble3"), their causality over a
 * series long enough for the seasonal channel to speak (three weeks), and
 * the two-stage form of the default detector (channels, then fusion)
 * against the streaming one.
 */
#include "analysis/anomaly.h"
#include "analysis/det_shape.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY 288          /* 5-minute samples */
#define LONG (21 * DAY)  /* three weeks */
#define DT 300.0
#define T0 1.4e9         /* a Thursday, 2014-05-13 16:53:20 UTC */

static double noise(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return ((*s >> 8) & 0xffff) / 65536.0 - 0.5;
}

/* A noisy daily cycle: 50 + 10 sin, noise width 2. */
static void daily(double *t, double *x, int n, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		t[i] = T0 + DT * i;
		x[i] = 50 + 10 * sin(2 * M_PI * i / DAY) + 2 * noise(&seed);
	}
}

static double max_in(const double *s, int a, int b, int *at)
{
	double m = -1;
	for (int i = a; i < b; i++)
		if (s[i] > m) {
			m = s[i];
			if (at)
				*at = i;
		}
	return m;
}

/* -------------------------------------------------------------- stuck */

Test(stuck, ratio_to_the_second_longest_run)
{
	an_stuck_t s;
	an_stuck_init(&s);
	/* 200 distinct values: runs of 1; the 101st value ends the 100th
	 * run (STUCK_MIN_RUNS); the base is the floor (STUCK_MIN_BASE = 6). */
	for (int i = 0; i < 200; i++)
		cr_assert_eq(an_stuck_update(&s, i, 200), i < 100 ? 0 : 1.0 / 6,
			     "at %d", i);
	/* Stuck at 7.5: the ratio is run / 6, and a report once at 2. */
	double prev = 0;
	int fired = 0, at = -1;
	for (int k = 1; k <= 30; k++) {
		/* near-identical: within 1e-6 of the range */
		double r = an_stuck_update(&s, 7.5 + (k % 2) * 1e-5, 200);
		cr_assert_float_eq(r, k / 6.0, 1e-12, "run %d", k);
		if (an_stuck_once(r, prev, 2)) {
			fired++;
			at = k;
		}
		prev = r;
	}
	cr_assert_eq(fired, 1);
	cr_assert_eq(at, 12);
	/* A clear change ends the run: 30 and 1 are now the longest ended
	 * runs, and a second stuck stretch is judged against 6 again (the
	 * second-longest, so the first repeat of a stuck stretch counts). */
	double r = an_stuck_update(&s, 100, 200);
	cr_assert_float_eq(r, 1.0 / 6, 1e-12);
	cr_assert_eq(s.top1, 30);
	cr_assert_eq(s.top2, 1);
}

Test(stuck, runs_are_judged_against_the_series_own_runs)
{
	an_stuck_t s;
	an_stuck_init(&s);
	/* Zeros in runs of 20 between single ones: 120 runs ended. */
	for (int r = 0; r < 60; r++) {
		for (int k = 0; k < 20; k++)
			an_stuck_update(&s, 0, 1);
		an_stuck_update(&s, 1, 1);
	}
	double r = 0;
	for (int k = 0; k < 39; k++)
		r = an_stuck_update(&s, 0, 1);
	cr_assert_float_eq(r, 39 / 20.0, 1e-12);
	cr_assert_eq(an_stuck_once(r, 38 / 20.0, 2), 0);
	r = an_stuck_update(&s, 0, 1);
	cr_assert_float_eq(an_stuck_once(r, 39 / 20.0, 2), 2.0, 1e-12);
}

Test(stuck, a_constant_series_never_scores)
{
	an_stuck_t s;
	an_stuck_init(&s);
	for (int i = 0; i < 10000; i++)
		cr_assert_eq(an_stuck_update(&s, 3, 0), 0);
}

Test(stuck, detector_reports_a_frozen_metric_once)
{
	static double t[LONG], x[LONG], s[LONG];
	daily(t, x, LONG, 11);
	for (int i = 3000; i < 3100; i++)
		x[i] = x[2999];
	an_det_run("stuck", t, x, LONG, s);
	int n = 0, at = -1;
	for (int i = 0; i < LONG; i++)
		if (s[i] > 0) {
			n++;
			at = i;
		}
	/* The run starts at 2999; 12 points is twice the base of 6. */
	cr_assert_eq(n, 1);
	cr_assert_eq(at, 2999 + 11);
}

/* ------------------------------------------------------------- season */

/* The channel's largest ratio over [a, b). */
static double season_max(const double *t, const double *x, int a, int b)
{
	an_season_t *se = malloc(sizeof(*se));
	an_season_init(se);
	double m = 0;
	for (int i = 0; i < b; i++) {
		double r = an_season_update(se, t[i], x[i]);
		if (i >= a && r > m)
			m = r;
	}
	free(se);
	return m;
}

Test(season, a_lost_day_stands_out)
{
	static double t[LONG], x[LONG];
	daily(t, x, LONG, 12);
	double quiet = season_max(t, x, 9 * DAY, LONG);
	unsigned seed = 13;
	/* Day 14 without its cycle (the level kept). */
	for (int i = 14 * DAY; i < 15 * DAY; i++)
		x[i] = 50 + 2 * noise(&seed);
	double lost = season_max(t, x, 14 * DAY, 15 * DAY);
	double before = season_max(t, x, 9 * DAY, 14 * DAY);
	/* The default alarms at 8 (an_ens_default.season). */
	cr_assert_lt(quiet, 8, "clean cycle: %f", quiet);
	cr_assert_lt(before, 8, "before the break: %f", before);
	cr_assert_gt(lost, 3 * quiet, "lost day %f, clean %f", lost, quiet);
}

Test(season, silent_for_a_week_and_on_series_without_a_cycle)
{
	static double t[LONG], x[LONG];
	unsigned seed = 14;
	for (int i = 0; i < LONG; i++) {
		t[i] = T0 + DT * i;
		x[i] = 50 + 2 * noise(&seed);
	}
	double flat = season_max(t, x, 0, LONG);
	cr_assert_lt(flat, 3, "no cycle: %f", flat);
	daily(t, x, LONG, 15);
	cr_assert_eq(season_max(t, x, 0, 8 * DAY - 1), 0);
	/* Hourly data has a profile; a sample a day has none. */
	for (int i = 0; i < LONG; i++)
		t[i] = T0 + 86400.0 * i;
	cr_assert_eq(season_max(t, x, 0, LONG), 0);
}

Test(season, weekends_are_learnt_not_flagged)
{
	static double t[LONG], x[LONG];
	daily(t, x, LONG, 16);
	/* Weekends at 60 %: after a week the weekly profile fits them. */
	for (int i = 0; i < LONG; i++) {
		time_t day = (time_t)(t[i] / 86400) + 4; /* 0 = Sunday */
		if (day % 7 == 0 || day % 7 == 6)
			x[i] *= 0.6;
	}
	double m = season_max(t, x, 9 * DAY, LONG);
	cr_assert_lt(m, 3, "weekends: %f", m);
}

/* ------------------------------------------- the default, ensemble3 */

Test(ensemble3, finds_a_frozen_metric_and_a_lost_day)
{
	static double t[LONG], x[LONG], s[LONG];
	daily(t, x, LONG, 17);
	for (int i = 4000; i < 4100; i++)
		x[i] = x[3999];
	an_det_run(AN_DET_DEFAULT, t, x, LONG, s);
	/* An alarm by the 12th frozen point (twice the base of 6 runs). */
	double frozen = max_in(s, 3999, 3999 + 12, NULL);
	cr_assert_gt(frozen, 0, "frozen: no alarm");
	cr_assert_geq(frozen, max_in(s, 9 * DAY, 3999, NULL));

	daily(t, x, LONG, 18);
	unsigned seed = 19;
	for (int i = 15 * DAY; i < 16 * DAY; i++)
		x[i] = 50 + 2 * noise(&seed);
	an_det_run(AN_DET_DEFAULT, t, x, LONG, s);
	double lost = max_in(s, 15 * DAY, 16 * DAY, NULL);
	double clean = max_in(s, 9 * DAY, 15 * DAY, NULL);
	cr_assert_gt(lost, 0, "the lost day alarms");
	cr_assert_gt(lost, 2 * clean, "lost %f, clean days %f", lost, clean);
}

Test(ensemble3, causal_over_three_weeks)
{
	static double t[LONG], x[LONG], y[LONG], a[LONG], b[LONG];
	daily(t, x, LONG, 20);
	memcpy(y, x, sizeof(x));
	for (int i = 12 * DAY; i < LONG; i++)
		y[i] = i % 50 < 25 ? 7 : -x[i]; /* stuck, then another future */
	const char *names[] = {AN_DET_DEFAULT, "stuck", "season"};
	for (size_t k = 0; k < 3; k++) {
		an_det_run(names[k], t, x, LONG, a);
		an_det_run(names[k], t, y, LONG, b);
		for (int i = 0; i < 12 * DAY; i++)
			cr_assert_eq(a[i], b[i], "%s looked ahead at %d",
				     names[k], i);
	}
}

Test(ensemble3, two_stages_equal_the_stream)
{
	static double t[LONG], x[LONG], s[LONG], f[LONG];
	static an_ens_chan_t ch[LONG];
	daily(t, x, LONG, 21);
	for (int i = 4000; i < 4100; i++)
		x[i] = x[3999];
	for (size_t g = 0; g < an_ens_grid_size();
	     g += an_ens_grid_size() / 7 + 1) {
		an_ens_params_t p;
		an_ens_grid_at(g, &p);
		an_det_t *d = an_det_new_ens(&p);
		for (int i = 0; i < LONG; i++)
			s[i] = an_det_update(d, t[i], x[i]);
		an_det_free(d);
		an_ens_channels(&p, t, x, LONG, ch);
		an_ens_fuse(&p, ch, LONG, f);
		for (int i = 0; i < LONG; i++)
			cr_assert_eq(s[i], f[i], "grid %zu differs at %d", g, i);
	}
	/* The default's name runs the default's constants. */
	an_ens_channels(&an_ens_default, t, x, LONG, ch);
	an_ens_fuse(&an_ens_default, ch, LONG, f);
	an_det_run(AN_DET_DEFAULT, t, x, LONG, s);
	cr_assert_arr_eq(s, f, sizeof(s));
}

Test(ensemble3, names_the_kind_of_its_alarms)
{
	static double t[LONG], x[LONG];
	daily(t, x, LONG, 22);
	for (int i = 4000; i < 4100; i++)
		x[i] = x[3999];
	unsigned seed = 23;
	for (int i = 17 * DAY; i < 18 * DAY; i++)
		x[i] = 50 + 2 * noise(&seed);
	an_det_t *d = an_det_new(AN_DET_DEFAULT);
	cr_assert_null(an_det_kind(d));
	bool stuck = false, season = false;
	for (int i = 0; i < LONG; i++) {
		if (an_det_update(d, t[i], x[i]) <= 0)
			continue;
		const char *k = an_det_kind(d);
		cr_assert_not_null(k);
		if (i >= 3999 && i < 4100)
			stuck |= !strcmp(k, "stuck");
		if (i >= 17 * DAY && i < 18 * DAY)
			season |= !strcmp(k, "season");
	}
	an_det_free(d);
	cr_assert(stuck, "the frozen stretch is named stuck");
	cr_assert(season, "the lost day is named season");
	/* Detectors that do not fuse channels do not say. */
	d = an_det_new("novelty");
	an_det_update(d, 0, 1);
	cr_assert_null(an_det_kind(d));
	an_det_free(d);
}
