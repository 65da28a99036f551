/*
 * test_forecast.c: forecasters on series with known answers.
 */
#include "analysis/forecast.h"
#include "base/err.h"

#include <criterion/criterion.h>
#include <math.h>

Test(holt, linear_trend_is_extrapolated)
{
	an_forecaster_t *f = an_forecaster_new(AN_FC_HOLT, NULL);
	an_forecast_t out;
	cr_assert_eq(an_forecaster_predict(f, 1, &out), ERR_AGAIN);
	for (int t = 0; t < 200; t++)
		an_forecaster_update(f, 5 + 0.5 * t);
	cr_assert_eq(an_forecaster_predict(f, 10, &out), 0);
	/* next value would be 5 + 0.5 * 209 */
	cr_assert_float_eq(out.mean, 5 + 0.5 * 209, 1e-6);
	cr_assert_float_eq(out.hi - out.lo, 0, 1e-6, "no noise, no width");
	an_forecaster_free(f);
}

Test(holt, noise_widens_interval_and_grows_with_horizon)
{
	an_holt_t h;
	an_holt_init(&h, 0, 0, 0, 0.95);
	unsigned s = 1;
	for (int t = 0; t < 2000; t++) {
		s = s * 1103515245u + 12345u;
		double u = ((s >> 8) & 0xffff) / 65536.0 - 0.5;
		an_holt_update(&h, 100 + u * 10);
	}
	an_forecast_t a, b;
	cr_assert_eq(an_holt_predict(&h, 1, &a), 0);
	cr_assert_eq(an_holt_predict(&h, 50, &b), 0);
	cr_assert(fabs(a.mean - 100) < 3, "mean %f", a.mean);
	cr_assert_gt(a.hi - a.lo, 1.0);
	cr_assert_gt(b.hi - b.lo, a.hi - a.lo);
}

Test(holt, damping_flattens)
{
	an_holt_t h;
	an_holt_init(&h, 0.5, 0.3, 0.8, 0.95);
	for (int t = 0; t < 100; t++)
		an_holt_update(&h, t);
	an_forecast_t a, b;
	an_holt_predict(&h, 100, &a);
	an_holt_predict(&h, 1000, &b);
	/* sum of phi^j converges to phi/(1-phi) = 4 trend units */
	cr_assert_float_eq(a.mean, b.mean, 1e-6);
	cr_assert_lt(a.mean, 99 + 4.5);
}

Test(holt, ignores_non_finite)
{
	an_holt_t h;
	an_holt_init(&h, 0, 0, 0, 0);
	for (int t = 0; t < 10; t++)
		an_holt_update(&h, t % 3 == 0 ? NAN : 1.0);
	an_forecast_t o;
	cr_assert_eq(an_holt_predict(&h, 1, &o), 0);
	cr_assert_float_eq(o.mean, 1.0, 1e-9);
}

Test(forecaster, unknown_kind_is_null)
{
	cr_assert_null(an_forecaster_new(AN_FC__COUNT, NULL));
}
