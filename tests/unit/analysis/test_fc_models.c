/*
 * test_fc_models.c: Holt-Winters, the Prophet-style model, the LSTM and
 * the forecaster ensemble on series with known answers: pure
 * seasonality, a linear trend, a step and a spike; and the interface.
 */
#include "analysis/fc_models.h"
#include "analysis/forecast.h"
#include "base/err.h"

#include <criterion/criterion.h>
#include <gsl/gsl_errno.h>
#include <math.h>

#define TAU (2 * M_PI)

static double sine24(long t)
{
	return 10 + 5 * sin(TAU * (double)t / 24);
}

/* Deterministic noise in [-0.5, 0.5). */
static double noise(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return ((*s >> 8) & 0xffff) / 65536.0 - 0.5;
}

static void setup(void)
{
	gsl_set_error_handler_off();
}

TestSuite(fc, .init = setup);

Test(fc, acf_finds_the_period)
{
	double x[600];
	unsigned s = 7;
	for (int t = 0; t < 600; t++)
		x[t] = sine24(t) + noise(&s);
	cr_assert_eq(an_acf_period(x, 600, 4, 300), 24);
	for (int t = 0; t < 600; t++)
		x[t] = noise(&s);
	cr_assert_eq(an_acf_period(x, 600, 4, 300), 0, "white noise");
}

Test(fc, period_from_params)
{
	an_fc_params_t p = {0};
	cr_assert_eq(an_fc_period(&p, 1000), 0);
	p.dt = 300;
	cr_assert_eq(an_fc_period(&p, 1000), 288);
	cr_assert_eq(an_fc_period(&p, 100), 0, "too long to keep");
	p.period = 7;
	cr_assert_eq(an_fc_period(&p, 100), 7);
}

/* ----------------------------------------------------------- Holt-Winters */

/* The defaults are tuned for NAB's weakly seasonal series (seasonal
 * weight 0.05 from zero indices, about 200 cycles to converge); these
 * tests set the smoothing weights to check the equations. */
Test(fc, hw_learns_pure_seasonality)
{
	an_hw_t h;
	an_fc_params_t p = {.period = 24, .gamma = 0.3};
	an_hw_init(&h, &p);
	for (long t = 0; t < 2400; t++)
		an_hw_update(&h, sine24(t));
	for (int k = 1; k <= 24; k++) {
		an_forecast_t f;
		cr_assert_eq(an_hw_predict(&h, k, &f), 0);
		cr_assert_float_eq(f.mean, sine24(2399 + k), 0.2, "h=%d: %f vs %f",
				   k, f.mean, sine24(2399 + k));
	}
}

Test(fc, hw_detects_period_without_params)
{
	an_hw_t h;
	an_fc_params_t p = {.gamma = 0.3};
	an_hw_init(&h, &p);
	unsigned s = 3;
	for (long t = 0; t < 3000; t++)
		an_hw_update(&h, sine24(t) + 0.2 * noise(&s));
	cr_assert_eq(h.m, 24);
	an_forecast_t f;
	cr_assert_eq(an_hw_predict(&h, 6, &f), 0);
	cr_assert_float_eq(f.mean, sine24(2999 + 6), 0.5);
}

Test(fc, hw_damped_trend)
{
	an_hw_t h;
	an_fc_params_t p = {.alpha = 0.5, .beta = 0.3, .phi = 0.9};
	an_hw_init(&h, &p);
	for (long t = 0; t < 1000; t++)
		an_hw_update(&h, 3 + 0.5 * (double)t);
	cr_assert_eq(h.m, 1, "a trend has no period");
	/* Steady state on y = c + 0.5 t (solve the two smoothing
	 * equations for a constant trend b and a constant lag of the
	 * level behind y): b = 0.5 beta / (1 - phi + beta phi),
	 * lag = (1 - alpha)(0.5 - phi b) / alpha. */
	double b = 0.5 * 0.3 / (1 - 0.9 + 0.3 * 0.9);
	double lag = 0.5 * (0.5 - 0.9 * b) / 0.5;
	double last = 3 + 0.5 * 999;
	cr_assert_float_eq(h.trend, b, 1e-6);
	cr_assert_float_eq(h.level, last - lag, 1e-6);
	an_forecast_t f1, f10, f1000;
	an_hw_predict(&h, 1, &f1);
	an_hw_predict(&h, 10, &f10);
	an_hw_predict(&h, 1000, &f1000);
	cr_assert_float_eq(f1.mean, last - lag + 0.9 * b, 1e-6);
	cr_assert_gt(f10.mean, f1.mean);
	/* damping: the trend adds at most phi / (1 - phi) = 9 slopes */
	cr_assert_float_eq(f1000.mean, last - lag + 9 * b, 1e-6);
}

Test(fc, hw_follows_a_step_and_forgets_a_spike)
{
	an_hw_t h;
	an_fc_params_t p = {0};
	an_hw_init(&h, &p);
	an_forecast_t f;
	for (long t = 0; t < 700; t++)
		an_hw_update(&h, t == 650 ? 110 : 10);
	an_hw_predict(&h, 1, &f);
	cr_assert_float_eq(f.mean, 10, 0.2, "spike forgotten: %f", f.mean);
	for (long t = 0; t < 100; t++)
		an_hw_update(&h, 20);
	an_hw_predict(&h, 1, &f);
	cr_assert_float_eq(f.mean, 20, 0.5, "step followed: %f", f.mean);
}

Test(fc, hw_interval_widens_with_noise_and_horizon)
{
	an_hw_t h;
	an_fc_params_t p = {.period = 24};
	an_hw_init(&h, &p);
	unsigned s = 11;
	for (long t = 0; t < 2000; t++)
		an_hw_update(&h, sine24(t) + 2 * noise(&s));
	an_forecast_t a, b;
	an_hw_predict(&h, 1, &a);
	an_hw_predict(&h, 48, &b);
	cr_assert_gt(a.hi - a.lo, 0.5);
	cr_assert_gt(b.hi - b.lo, a.hi - a.lo);
	cr_assert(a.lo < a.mean && a.mean < a.hi);
}

/* ---------------------------------------------------------------- Prophet */

Test(fc, prophet_daily_seasonality)
{
	an_prophet_t p;
	an_fc_params_t params = {.dt = 3600}; /* 24 samples a day */
	an_prophet_init(&p, &params);
	cr_assert_float_eq(p.day, 24, 0);
	cr_assert_float_eq(p.week, 168, 0);
	an_forecast_t f;
	cr_assert_eq(an_prophet_predict(&p, 1, &f), ERR_AGAIN);
	for (long t = 0; t < 2000; t++)
		an_prophet_update(&p, sine24(t));
	for (int k = 1; k <= 48; k += 7) {
		cr_assert_eq(an_prophet_predict(&p, k, &f), 0);
		cr_assert_float_eq(f.mean, sine24(1999 + k), 0.1, "h=%d: %f vs %f",
				   k, f.mean, sine24(1999 + k));
	}
}

Test(fc, prophet_trend_and_interval)
{
	an_prophet_t p;
	an_fc_params_t params = {.dt = 3600};
	an_prophet_init(&p, &params);
	unsigned s = 5;
	for (long t = 0; t < 2000; t++)
		an_prophet_update(&p, 2 + 0.01 * (double)t + noise(&s));
	an_forecast_t f1, f60, f500;
	an_prophet_predict(&p, 1, &f1);
	an_prophet_predict(&p, 60, &f60);
	an_prophet_predict(&p, 500, &f500);
	cr_assert_float_eq(f60.mean, 2 + 0.01 * (1999 + 60), 0.3, "%f",
			   f60.mean);
	cr_assert_gt(f1.hi - f1.lo, 0.5, "noise of width 1 gives an interval");
	cr_assert_geq(f500.hi - f500.lo, f1.hi - f1.lo,
		      "trend uncertainty grows with the horizon");
}

Test(fc, prophet_follows_a_step)
{
	an_prophet_t p;
	an_fc_params_t params = {.dt = 300};
	an_prophet_init(&p, &params);
	for (long t = 0; t < 1600; t++)
		an_prophet_update(&p, t < 1000 ? 10 : 20);
	an_forecast_t f;
	an_prophet_predict(&p, 1, &f);
	cr_assert_lt(fabs(f.mean - 20), fabs(f.mean - 10), "%f", f.mean);
}

Test(fc, prophet_spike_does_not_break_the_fit)
{
	an_prophet_t p;
	an_fc_params_t params = {.dt = 3600};
	an_prophet_init(&p, &params);
	for (long t = 0; t < 1500; t++)
		an_prophet_update(&p, t == 700 ? 1e6 : sine24(t));
	an_forecast_t f;
	cr_assert_eq(an_prophet_predict(&p, 1, &f), 0);
	cr_assert(isfinite(f.mean) && isfinite(f.hi));
	/* least squares is not robust: the spike leaks in, but bounded */
	cr_assert_lt(fabs(f.mean - sine24(1500)), 1e6 / 100);
}

/* ------------------------------------------------------------------- LSTM */

Test(fc, lstm_beats_naive_on_seasonality)
{
	an_lstm_t l;
	an_fc_params_t params = {.period = 24};
	an_lstm_init(&l, &params);
	double se = 0, se_naive = 0;
	for (long t = 0; t < 4000; t++) {
		double x = sine24(t);
		if (t >= 3500) {
			an_forecast_t f;
			cr_assert_eq(an_lstm_predict(&l, 1, &f), 0);
			se += (f.mean - x) * (f.mean - x);
			se_naive += (sine24(t - 1) - x) * (sine24(t - 1) - x);
		}
		an_lstm_update(&l, x);
	}
	cr_assert_lt(se, 0.5 * se_naive, "lstm %f naive %f", se, se_naive);
}

Test(fc, lstm_constant_and_non_finite)
{
	an_lstm_t l;
	an_fc_params_t params = {0};
	an_lstm_init(&l, &params);
	for (long t = 0; t < 500; t++) {
		an_lstm_update(&l, 42);
		an_lstm_update(&l, NAN);
	}
	an_forecast_t f;
	cr_assert_eq(an_lstm_predict(&l, 10, &f), 0);
	cr_assert_float_eq(f.mean, 42, 0.1, "%f", f.mean);
}

Test(fc, lstm_rollout_stays_bounded_after_a_spike)
{
	an_lstm_t l;
	an_fc_params_t params = {.period = 24};
	an_lstm_init(&l, &params);
	for (long t = 0; t < 2000; t++)
		an_lstm_update(&l, t == 1990 ? 1e4 : sine24(t));
	an_forecast_t f;
	cr_assert_eq(an_lstm_predict(&l, 60, &f), 0);
	cr_assert(isfinite(f.mean));
	/* within the clip: 6 standard deviations of the EW distribution */
	cr_assert_lt(fabs(f.mean - l.mean), 6.01 * sqrt(l.var));
}

Test(fc, lstm_follows_a_step)
{
	an_lstm_t l;
	an_fc_params_t params = {0};
	an_lstm_init(&l, &params);
	for (long t = 0; t < 1500; t++)
		an_lstm_update(&l, t < 1000 ? 10 : 20);
	an_forecast_t f;
	an_lstm_predict(&l, 1, &f);
	cr_assert_float_eq(f.mean, 20, 1.0, "%f", f.mean);
}

/* ------------------------------------------------- ensemble and interface */

Test(fc, every_kind_through_the_interface)
{
	for (int k = 0; k < AN_FC__COUNT; k++) {
		an_fc_params_t params = {.dt = 3600};
		an_forecaster_t *f = an_forecaster_new((an_fc_kind_t)k, &params);
		cr_assert_not_null(f, "%s", an_fc_kind_name((an_fc_kind_t)k));
		an_forecast_t o;
		cr_assert_eq(an_forecaster_predict(f, 1, &o), ERR_AGAIN);
		for (long t = 0; t < 1500; t++)
			an_forecaster_update(f, sine24(t));
		cr_assert_eq(an_forecaster_predict(f, 1, &o), 0);
		cr_assert(isfinite(o.mean) && o.lo <= o.mean && o.mean <= o.hi,
			  "%s", an_fc_kind_name((an_fc_kind_t)k));
		an_forecaster_free(f);
	}
	cr_assert_null(an_forecaster_new(AN_FC__COUNT, NULL));
	cr_assert_str_eq(an_fc_kind_name(AN_FC_HOLT_WINTERS), "holt_winters");
}

Test(fc, ensemble_is_as_good_as_its_best_member)
{
	an_fcens_t e;
	an_fc_params_t params = {.dt = 3600};
	an_fcens_init(&e, &params);
	unsigned s = 9;
	double se = 0, se_holt = 0;
	for (long t = 0; t < 3000; t++) {
		double x = sine24(t) + 0.3 * noise(&s);
		if (t >= 2500) {
			an_forecast_t f, fh;
			cr_assert_eq(an_fcens_predict(&e, 12, &f), 0);
			an_holt_predict(&e.holt, 12, &fh);
			double truth = sine24(t + 11);
			se += (f.mean - truth) * (f.mean - truth);
			se_holt += (fh.mean - truth) * (fh.mean - truth);
		}
		an_fcens_update(&e, x);
	}
	/* Holt cannot follow a cycle 12 steps ahead; the ensemble leans on
	 * the seasonal members. */
	cr_assert_lt(se, 0.2 * se_holt, "ensemble %f holt %f", se, se_holt);
}

Test(fc, lstm_learns_a_trend)
{
	an_lstm_t l;
	an_fc_params_t params = {0};
	an_lstm_init(&l, &params);
	for (long t = 0; t < 3000; t++)
		an_lstm_update(&l, 0.5 * (double)t);
	an_forecast_t f;
	an_lstm_predict(&l, 1, &f);
	/* better than the naive forecast, which is 0.5 behind */
	cr_assert_lt(fabs(f.mean - 0.5 * 3000), 0.25, "%f", f.mean);
}

Test(fc, ensemble_follows_trend_and_step)
{
	an_fcens_t e;
	an_fc_params_t params = {.dt = 300};
	an_fcens_init(&e, &params);
	for (long t = 0; t < 2000; t++)
		an_fcens_update(&e, 100 + 0.1 * (double)t);
	an_forecast_t f;
	cr_assert_eq(an_fcens_predict(&e, 12, &f), 0);
	cr_assert_float_eq(f.mean, 100 + 0.1 * (1999 + 12), 1.0, "%f", f.mean);
	for (long t = 0; t < 600; t++)
		an_fcens_update(&e, 500);
	cr_assert_eq(an_fcens_predict(&e, 1, &f), 0);
	cr_assert_float_eq(f.mean, 500, 5.0, "%f", f.mean);
	cr_assert(f.lo <= f.mean && f.mean <= f.hi);
}
