/*
 * test_anomaly.c: the streaming building blocks (extremes, value
 * histogram, suppression) against brute force, and every registered
 * detector on series with known answers: scores in [0, 1], causality,
 * a spike and a step found where they are, noise left quiet.
 */
#include "analysis/anomaly.h"
#include "analysis/det_novelty.h"
#include "analysis/stream.h"
#include "base/err.h"

#include <criterion/criterion.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double noise(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return ((*s >> 8) & 0xffff) / 65536.0 - 0.5;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ----------------------------------------------------------- building blocks */

Test(stream, extremes_quantile_matches_sorted_array)
{
	an_extremes_t e;
	an_extremes_init(&e);
	unsigned s = 1;
	double v[5000];
	for (int i = 0; i < 5000; i++) {
		v[i] = 100 * noise(&s);
		an_extremes_add(&e, v[i]);
	}
	qsort(v, 5000, sizeof(double), cmp_double);
	for (double q = 0.0; q <= 0.0061; q += 0.0005) {
		double p = q * 4999;
		size_t i = (size_t)p;
		double want_lo = v[i] * (1 - (p - i)) + v[i + 1] * (p - i);
		double ph = (1 - q) * 4999;
		size_t j = (size_t)ph;
		double want_hi = j + 1 < 5000 ? v[j] * (1 - (ph - j)) +
							v[j + 1] * (ph - j)
					      : v[j];
		cr_assert_float_eq(an_extremes_quantile(&e, q), want_lo, 1e-9,
				   "q %f", q);
		cr_assert_float_eq(an_extremes_quantile(&e, 1 - q), want_hi,
				   1e-9, "q %f", 1 - q);
	}
}

Test(stream, vhist_nearest_and_quantile_match_brute_force)
{
	static an_vhist_t h;
	an_vhist_reset(&h, 0, 1.0 / 64); /* grid [0, 64) */
	double held[3000];
	size_t n = 0;
	unsigned s = 2;
	for (int i = 0; i < 3000; i++) {
		/* mostly on the grid, a few far outside */
		double x = 64 * (noise(&s) + 0.5);
		if (i % 97 == 0)
			x = 1000 + i;
		if (i % 89 == 0)
			x = -50 - i;
		cr_assert(an_vhist_add(&h, x));
		held[n++] = x;
		if (i % 3 == 0) { /* remove an older value */
			size_t k = (size_t)i / 2;
			an_vhist_del(&h, held[k]);
			held[k] = NAN;
		}
	}
	double live[3000];
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!isnan(held[i]))
			live[m++] = held[i];
	cr_assert_eq(h.n, m);
	qsort(live, m, sizeof(double), cmp_double);
	for (int i = 0; i < 200; i++) {
		double x = 200 * noise(&s) + 32;
		double best = INFINITY;
		for (size_t k = 0; k < m; k++)
			best = fmin(best, fabs(live[k] - x));
		/* binned values are resolved to their bin: one bin width */
		cr_assert_float_eq(an_vhist_nearest(&h, x), best, 1.0 / 64 + 1e-9,
				   "x %f", x);
	}
	double q = an_vhist_quantile(&h, 0.5);
	double want = (live[(m - 1) / 2] + live[m / 2]) / 2;
	cr_assert_float_eq(q, want, 1.0 / 32, "median %f vs %f", q, want);
	cr_assert_float_eq(an_vhist_quantile(&h, 1), live[m - 1], 1e-3);
	cr_assert_float_eq(an_vhist_quantile(&h, 0), live[0], 1e-3);
}

Test(stream, vhist_outside_list_fills)
{
	static an_vhist_t h;
	an_vhist_reset(&h, 0, 1);
	for (int i = 0; i < AN_VH_OUT; i++)
		cr_assert(an_vhist_add(&h, -1 - i));
	cr_assert_not(an_vhist_add(&h, -1000), "full: the caller regrids");
	cr_assert(an_vhist_add(&h, 5), "the grid still takes values");
	cr_assert_float_eq(an_vhist_nearest(&h, 5.5), 0, 0);
	cr_assert_float_eq(an_vhist_nearest(&h, -70), 70 - AN_VH_OUT, 1e-6);
}

Test(stream, suppression)
{
	an_suppress_t s;
	an_suppress_init(&s, 1.0, 3, 0, 10);
	cr_assert_float_eq(an_suppress(&s, 0.5), 0.5, 0, "below the alarm");
	cr_assert_float_eq(an_suppress(&s, 2), 2, 0, "alarm");
	cr_assert_float_eq(an_suppress(&s, 5), 0, 0, "resting");
	cr_assert_float_eq(an_suppress(&s, 25), 25, 0, "ten times larger");
	cr_assert_float_eq(an_suppress(&s, 3), 0, 0);
	cr_assert_float_eq(an_suppress(&s, 3), 0, 0);
	cr_assert_float_eq(an_suppress(&s, 3), 0, 0);
	cr_assert_float_eq(an_suppress(&s, 3), 3, 0, "rest over");
}

/* -------------------------------------------------------------- detectors */

#define LEN 4000
#define DT 300.0 /* 5-minute samples: a day is 288 */

static void setup(void)
{
	gsl_set_error_handler_off();
}

TestSuite(det, .init = setup);

/* A noisy daily cycle, 5-minute samples. */
static void daily(double *t, double *x, unsigned seed)
{
	for (int i = 0; i < LEN; i++) {
		t[i] = 1.4e9 + DT * i;
		x[i] = 50 + 10 * sin(2 * M_PI * i / 288.0) + 2 * noise(&seed);
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

Test(det, registry)
{
	cr_assert_geq(an_det_count(), 12);
	for (size_t i = 0; i < an_det_count(); i++) {
		const an_det_info_t *d = an_det_at(i);
		cr_assert_leq(d->state_bytes, AN_DET_MAX_STATE, "%s", d->name);
		cr_assert_null(strchr(d->name, '_'), "%s", d->name);
		cr_assert_eq(an_det_find(d->name), d);
	}
	cr_assert_null(an_det_at(an_det_count()));
	cr_assert_null(an_det_find("nope"));
	cr_assert_null(an_det_new("nope"));
	double t = 0, x = 0, s;
	cr_assert_eq(an_det_run("nope", &t, &x, 1, &s), ERR_NOTFOUND);
	cr_assert_not_null(an_det_find("ensemble"));
}

Test(det, scores_in_unit_interval_and_batch_equals_stream)
{
	static double t[LEN], x[LEN], s[LEN];
	unsigned seed = 4;
	for (int i = 0; i < LEN; i++) {
		t[i] = 1.4e9 + DT * i;
		/* wild: huge, tiny, negative, steps and spikes */
		x[i] = (i / 700 % 2 ? 1e9 : -3) + noise(&seed) * (i % 5 ? 1 : 1e6);
	}
	for (size_t k = 0; k < an_det_count(); k++) {
		const char *name = an_det_at(k)->name;
		cr_assert_eq(an_det_run(name, t, x, LEN, s), 0);
		an_det_t *d = an_det_new(name);
		for (int i = 0; i < LEN; i++) {
			double v = an_det_update(d, t[i], x[i]);
			cr_assert(v >= 0 && v <= 1, "%s: %f at %d", name, v, i);
			cr_assert_eq(v, s[i], "%s: batch differs at %d", name, i);
		}
		an_det_free(d);
	}
}

Test(det, causal)
{
	static double t[LEN], x[LEN], y[LEN], a[LEN], b[LEN];
	daily(t, x, 5);
	memcpy(y, x, sizeof(x));
	for (int i = 2500; i < LEN; i++)
		y[i] = -x[i] * 3; /* a different future */
	for (size_t k = 0; k < an_det_count(); k++) {
		const char *name = an_det_at(k)->name;
		an_det_run(name, t, x, LEN, a);
		an_det_run(name, t, y, LEN, b);
		for (int i = 0; i < 2500; i++)
			cr_assert_eq(a[i], b[i], "%s looked ahead at %d", name, i);
	}
}

/* Detectors expected to find the events below; the reference and
 * forecast-residual detectors are scored on NAB, not held to these. */
static const char *const finders[] = {"novelty",	"record",
				      "ensemble",	"ensemble2",
				      "zscore",		"holtwinters",
				      "forecast"};

Test(det, spike_is_the_top_score)
{
	static double t[LEN], x[LEN], s[LEN];
	daily(t, x, 6);
	x[3000] += 60; /* 30 noise widths */
	for (size_t k = 0; k < sizeof(finders) / sizeof(finders[0]); k++) {
		an_det_run(finders[k], t, x, LEN, s);
		int at = -1;
		double m = max_in(s, 300, LEN, &at);
		cr_assert_gt(m, 0, "%s", finders[k]);
		cr_assert(at >= 3000 && at <= 3001, "%s: top score %f at %d",
			  finders[k], m, at);
	}
}

Test(det, step_is_found_within_a_few_points)
{
	static double t[LEN], x[LEN], s[LEN];
	daily(t, x, 7);
	for (int i = 3000; i < LEN; i++)
		x[i] += 40; /* a new level, twice the daily swing */
	for (size_t k = 0; k < sizeof(finders) / sizeof(finders[0]); k++) {
		an_det_run(finders[k], t, x, LEN, s);
		int at = -1;
		double m = max_in(s, 300, LEN, &at);
		cr_assert(at >= 3000 && at <= 3005, "%s: top score %f at %d",
			  finders[k], m, at);
	}
}

Test(det, umbra_detectors_stay_quiet_on_a_clean_cycle)
{
	static double t[LEN], x[LEN], s[LEN];
	daily(t, x, 8);
	/* The same series with a spike: the quiet run's top score must
	 * be well below the spike's. */
	static double xs[LEN], ss[LEN];
	memcpy(xs, x, sizeof(x));
	xs[3000] += 60;
	const char *umbra[] = {"novelty", "ensemble", "ensemble2"};
	for (size_t k = 0; k < 3; k++) {
		an_det_run(umbra[k], t, x, LEN, s);
		an_det_run(umbra[k], t, xs, LEN, ss);
		double quiet = max_in(s, 300, LEN, NULL);
		double spike = max_in(ss, 300, LEN, NULL);
		cr_assert_lt(quiet, spike / 3, "%s: quiet %f spike %f", umbra[k],
			     quiet, spike);
	}
}

Test(det, seasonal_break_is_found_within_a_day)
{
	static double t[LEN], x[LEN], s[LEN];
	daily(t, x, 9);
	/* From 3000 on the cycle runs in antiphase: every value stays inside
	 * the range seen, only the time of day is wrong. */
	unsigned seed = 10;
	for (int i = 3000; i < LEN; i++)
		x[i] = 50 - 10 * sin(2 * M_PI * i / 288.0) + 2 * noise(&seed);
	/* (record alone breaks its young records on noise early on) */
	const char *names[] = {"ensemble", "ensemble2"};
	for (size_t k = 0; k < 2; k++) {
		an_det_run(names[k], t, x, LEN, s);
		int at = -1;
		double m = max_in(s, 300, LEN, &at);
		cr_assert(at >= 3000 && at < 3000 + 288,
			  "%s: top score %f at %d", names[k], m, at);
	}
}

/* A noisy cycle that, from 3000 on, slides 0.1 per point (a noise
 * width every 20 points) for 300 points, 30 below anything seen, then
 * stays there. */
static void sliding(double *t, double *x, unsigned seed)
{
	daily(t, x, seed);
	for (int i = 3000; i < LEN; i++)
		x[i] -= 0.1 * (i < 3300 ? i - 3000 : 300);
}

Test(det, slow_drift_to_new_levels_is_found_by_ensemble2)
{
	static double t[LEN], x[LEN], s[LEN], e[LEN];
	sliding(t, x, 11);
	an_det_run("ensemble2", t, x, LEN, s);
	an_det_run("ensemble", t, x, LEN, e);
	int at = -1;
	double m = max_in(s, 300, LEN, &at);
	/* Found within two cycles of the slide's start: the lowest levels
	 * are new at the cycle's troughs (3096, 3384). */
	cr_assert(at >= 3000 && at < 3000 + 2 * 288, "top score %f at %d", m,
		  at);
	double before = max_in(s, 300, 3000, NULL);
	cr_assert_gt(m, 3 * before, "drift %f, before it %f", m, before);
	/* The lag makes the slide more novel than the ensemble's one-point
	 * windows do. */
	double plain = max_in(e, 3000, LEN, NULL);
	cr_assert_gt(m, 1.5 * plain, "ensemble2 %f, ensemble %f", m, plain);
}

Test(det, drift_lag_scales_the_novelty_of_a_slide)
{
	/* A clean ramp into new territory: each new 16-point mean is the
	 * slope times the lag away from the window's nearest mean. */
	static det_novelty_t a, b;
	an_novelty_init(&a);
	an_novelty_init_opts(&b, NOV_QUIET_EARLY, NOV_DRIFT_LAG);
	cr_assert_eq(a.lag[NOV_SCALES - 1], 1);
	cr_assert_eq(b.lag[NOV_SCALES - 1], NOV_DRIFT_LAG);
	cr_assert_eq(b.lag[0], 1, "only the longest scale lags");
	double ra = 0, rb = 0;
	for (int i = 0; i < 1000; i++) {
		/* 400 points of a square wave between 0 and 10, then a ramp
		 * of 0.01 per point upwards from 10 */
		double x = i < 400 ? (i / 10 % 2) * 10.0 : 10 + 0.01 * (i - 399);
		ra = an_novelty_raw(&a, x);
		rb = an_novelty_raw(&b, x);
	}
	/* Range at the end: 0 .. about 16; raw of the long scale is half
	 * weight: 0.5 * slope * lag / range against 0.5 * slope * 1 / range,
	 * while the one-point scale sees slope * 1 / range in both. */
	double range = an_novelty_range(&a);
	cr_assert_float_eq(rb, 0.5 * 0.01 * NOV_DRIFT_LAG / range, 0.2 * rb,
			   "lagged %f, range %f", rb, range);
	cr_assert_lt(ra, 0.02 / range, "unlagged %f", ra);
}

Test(det, quiet_period_of_the_early_start)
{
	/* A spike at point 199 is not reported, one at 200 is. */
	static det_novelty_t d;
	for (int at = 199; at <= 200; at++) {
		an_novelty_init_opts(&d, NOV_QUIET_EARLY, NOV_DRIFT_LAG);
		unsigned seed = 12;
		double r = 0;
		for (int i = 0; i <= at; i++)
			r = an_novelty_raw(&d, i == at ? 100 : noise(&seed));
		if (at < NOV_QUIET_EARLY)
			cr_assert_eq(r, 0, "spike at %d scored %f", at, r);
		else
			cr_assert_gt(r, 10, "spike at %d scored %f", at, r);
	}
}
