/*
 * test_stats.c: the statistics primitives against known answers: values
 * worked out by hand or from the definitions (the Mann-Whitney U of a
 * sample is also checked against the pair count it is defined by).
 */
#include "analysis/stats.h"
#include "base/err.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

static uint64_t rng = 12345;
static double unif(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void)
{
	return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif());
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

Test(stats, select_matches_sorting_with_ties)
{
	for (int trial = 0; trial < 200; trial++) {
		size_t n = 1 + (size_t)(unif() * 60);
		double v[64] = {0}, s[64], w[64];
		for (size_t i = 0; i < n; i++)
			v[i] = floor(unif() * 8); /* many ties */
		memcpy(s, v, sizeof(v));
		qsort(s, n, sizeof(double), cmp_d);
		for (size_t k = 0; k < n; k++) {
			memcpy(w, v, sizeof(v));
			cr_assert_eq(an_select(w, n, k), s[k], "n=%zu k=%zu", n, k);
		}
		memcpy(w, v, sizeof(v));
		double med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
		cr_assert_eq(an_median(w, n), med);
	}
	cr_assert(isnan(an_median(NULL, 0)));
}

Test(stats, theil_sen_line_and_outliers)
{
	double t[20], y[20];
	for (int i = 0; i < 20; i++) {
		t[i] = i;
		y[i] = 3 + 0.5 * i;
	}
	cr_assert_float_eq(an_theil_sen(t, y, 20), 0.5, 1e-12);
	/* 5 wild points of 20 (25%, under the 29% breakdown) */
	y[2] = 1e6;
	y[7] = -1e6;
	y[11] = 5e5;
	y[15] = 9e9;
	y[18] = -3e3;
	double s = an_theil_sen(t, y, 20);
	cr_assert(fabs(s - 0.5) < 0.2, "slope %g", s);
	/* irregular times */
	double t2[4] = {0, 1, 3, 7}, y2[4] = {1, 3, 7, 15};
	cr_assert_float_eq(an_theil_sen(t2, y2, 4), 2, 1e-12);
	/* one distinct time: no slope */
	double t3[3] = {5, 5, 5}, y3[3] = {1, 2, 3};
	cr_assert(isnan(an_theil_sen(t3, y3, 3)));
	cr_assert(isnan(an_theil_sen(t3, y3, 1)));
}

Test(stats, decayhist_quantiles_of_uniform)
{
	an_decayhist_t h;
	an_decayhist_init(&h, 1e12); /* effectively no decay */
	cr_assert_eq(an_decayhist_quantile(&h, 0.5), 0);
	for (int i = 0; i < 100000; i++) {
		an_decayhist_advance(&h, i);
		an_decayhist_add(&h, 0.01 + 0.99 * unif());
	}
	double q50 = an_decayhist_quantile(&h, 0.5);
	double q99 = an_decayhist_quantile(&h, 0.99);
	/* bins are 15% wide; interpolation keeps the error well inside */
	cr_assert(fabs(q50 - 0.505) / 0.505 < 0.05, "q50 %g", q50);
	cr_assert(fabs(q99 - 0.9901) / 0.99 < 0.05, "q99 %g", q99);
	cr_assert_float_eq(an_decayhist_count(&h), 100000, 1);
	/* negatives and NaN are ignored */
	an_decayhist_add(&h, -1);
	an_decayhist_add(&h, NAN);
	cr_assert_float_eq(an_decayhist_count(&h), 100000, 1);
}

Test(stats, decayhist_forgets_by_half_life)
{
	an_decayhist_t h;
	an_decayhist_init(&h, 100);
	int64_t k = 0;
	for (; k < 1000; k++) {
		an_decayhist_advance(&h, k);
		an_decayhist_add(&h, 0.1);
	}
	/* 2 half-lives of 1.0: old mass is 1/4 of new weight... the new
	 * values hold 75% of the weight, so the median is 1.0 */
	for (; k < 1200; k++) {
		an_decayhist_advance(&h, k);
		an_decayhist_add(&h, 1.0);
	}
	double q = an_decayhist_quantile(&h, 0.5);
	cr_assert(q > 0.85 && q < 1.2, "median %g", q);
	double q10 = an_decayhist_quantile(&h, 0.1);
	cr_assert(q10 > 0.08 && q10 < 0.12, "q10 %g", q10);
	/* nothing learned for one half-life: the count halves */
	double c = an_decayhist_count(&h); /* at tick k - 1 */
	an_decayhist_advance(&h, k - 1 + 100);
	cr_assert_float_eq(an_decayhist_count(&h) * 2, c, c * 1e-9);
	/* a jump so long that weights overflow leaves it empty, not NaN */
	an_decayhist_advance(&h, k + 100 + 100000000);
	cr_assert(an_decayhist_count(&h) < 1e-6);
	cr_assert(isfinite(an_decayhist_quantile(&h, 0.5)));
}

Test(stats, decayhist_rescales_without_changing_quantiles)
{
	an_decayhist_t h;
	an_decayhist_init(&h, 10); /* grows 2x every 10 ticks: rescales */
	for (int64_t k = 0; k < 20000; k++) {
		an_decayhist_advance(&h, k);
		an_decayhist_add(&h, k % 2 ? 0.2 : 0.4);
	}
	cr_assert(isfinite(h.total) && h.unit <= 1e150);
	double q = an_decayhist_quantile(&h, 0.25);
	cr_assert(q > 0.17 && q < 0.23, "q25 %g", q);
}

Test(stats, mwu_separated_samples)
{
	double x[] = {1, 2, 3, 4, 5}, y[] = {6, 7, 8, 9, 10};
	an_mwu_t u;
	cr_assert_eq(an_mwu(x, 5, y, 5, &u), 0);
	cr_assert_float_eq(u.u, 25, 1e-12);
	cr_assert_float_eq(u.z, 2.5067182457620487, 1e-9);
	cr_assert_float_eq(u.p, 0.012185780355344818, 1e-9);
	cr_assert_eq(u.sign, 1);
	/* swapped: same p, other sign */
	cr_assert_eq(an_mwu(y, 5, x, 5, &u), 0);
	cr_assert_float_eq(u.u, 0, 1e-12);
	cr_assert_eq(u.sign, -1);
	cr_assert_float_eq(u.p, 0.012185780355344818, 1e-9);
}

Test(stats, mwu_ties_corrected)
{
	double x[] = {1, 1, 2, 2, 3}, y[] = {2, 2, 3, 3, 4, 4};
	an_mwu_t u;
	cr_assert_eq(an_mwu(x, 5, y, 6, &u), 0);
	/* U counts pairs y > x plus half the ties: 25 */
	cr_assert_float_eq(u.u, 25, 1e-12);
	cr_assert_float_eq(u.z, 1.8011887868159833, 1e-9);
	cr_assert_float_eq(u.p, 0.07167312914446343, 1e-9);
	/* all equal: no evidence at all */
	double a[] = {7, 7, 7}, b[] = {7, 7};
	cr_assert_eq(an_mwu(a, 3, b, 2, &u), 0);
	cr_assert_eq(u.p, 1);
	cr_assert_eq(an_mwu(a, 0, b, 2, &u), ERR_INVAL);
	cr_assert_eq(an_mwu(a, AN_MWU_MAX + 1, b, 2, &u), ERR_INVAL);
}

Test(stats, mwu_false_positive_rate_near_alpha)
{
	/* same distribution: about 5% of tests reject at 0.05 */
	int reject = 0, trials = 2000;
	for (int t = 0; t < trials; t++) {
		double x[30], y[30];
		for (int i = 0; i < 30; i++) {
			x[i] = gauss();
			y[i] = gauss();
		}
		an_mwu_t u;
		an_mwu(x, 30, y, 30, &u);
		reject += u.p < 0.05;
	}
	double rate = (double)reject / trials;
	cr_assert(rate > 0.025 && rate < 0.075, "rate %g", rate);
}

Test(stats, hodges_lehmann_small_example)
{
	double x[] = {1, 2, 3}, y[] = {4, 6, 8}, scratch[9];
	an_hl_t hl;
	cr_assert_eq(an_hodges_lehmann(x, 3, y, 3, 0.05, scratch, &hl), 0);
	/* differences 1 2 3 3 4 5 5 6 7: median 4; with 9 pairs the 95%
	 * interval is the whole range */
	cr_assert_float_eq(hl.shift, 4, 1e-12);
	cr_assert_float_eq(hl.lo, 1, 1e-12);
	cr_assert_float_eq(hl.hi, 7, 1e-12);
	cr_assert_eq(an_hodges_lehmann(x, 3, y, 3, 0, scratch, &hl), ERR_INVAL);
}

Test(stats, hodges_lehmann_interval_covers_true_shift)
{
	int covered = 0, trials = 400;
	static double scratch[40 * 40];
	for (int t = 0; t < trials; t++) {
		double x[40], y[40];
		for (int i = 0; i < 40; i++) {
			x[i] = 10 + gauss();
			y[i] = 12 + gauss(); /* true shift 2 */
		}
		an_hl_t hl;
		cr_assert_eq(an_hodges_lehmann(x, 40, y, 40, 0.05, scratch,
					       &hl),
			     0);
		cr_assert(hl.lo <= hl.shift && hl.shift <= hl.hi);
		covered += hl.lo <= 2 && 2 <= hl.hi;
	}
	double rate = (double)covered / trials;
	cr_assert(rate > 0.91 && rate < 0.99, "coverage %g", rate);
}

Test(stats, lagged_correlation_finds_the_lead)
{
	double x[100], y[100];
	for (int i = 0; i < 100; i++)
		y[i] = gauss();
	for (int i = 0; i < 100; i++)
		x[i] = i >= 5 ? y[i - 5] : NAN; /* y leads x by 5 */
	cr_assert_float_eq(an_lagged_corr(x, y, 100, 5, 10), 1, 1e-12);
	cr_assert(fabs(an_lagged_corr(x, y, 100, 0, 10)) < 0.4);
	cr_assert(isnan(an_lagged_corr(x, y, 100, 5, 1000)), "too few pairs");
	double c[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	cr_assert(isnan(an_lagged_corr(c, y, 10, 0, 2)), "constant side");
}

Test(stats, hodges_lehmann_matches_brute_force)
{
	static double scratch[40 * 40], all[40 * 40];
	for (int trial = 0; trial < 300; trial++) {
		size_t n = 1 + (size_t)(unif() * 40), m = 1 + (size_t)(unif() * 40);
		double x[40], y[40];
		for (size_t i = 0; i < n; i++)
			x[i] = floor(unif() * 20); /* ties on purpose */
		for (size_t j = 0; j < m; j++)
			y[j] = floor(unif() * 20) + 3;
		double alpha = trial % 2 ? 0.05 : 0.2;
		an_hl_t hl;
		cr_assert_eq(an_hodges_lehmann(x, n, y, m, alpha, scratch, &hl), 0);
		size_t nm = 0;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < m; j++)
				all[nm++] = y[j] - x[i];
		qsort(all, nm, sizeof(double), cmp_d);
		double med = nm % 2 ? all[nm / 2]
				    : (all[nm / 2 - 1] + all[nm / 2]) / 2;
		double z = an_norm_quantile(1 - alpha / 2);
		double c = floor((double)nm / 2 -
				 z * sqrt((double)nm * (double)(n + m + 1) / 12));
		size_t k = c < 1 ? 0 : (size_t)c - 1;
		if (k > (nm - 1) / 2)
			k = (nm - 1) / 2;
		cr_assert_eq(hl.shift, med, "n=%zu m=%zu", n, m);
		cr_assert_eq(hl.lo, all[k], "n=%zu m=%zu", n, m);
		cr_assert_eq(hl.hi, all[nm - 1 - k], "n=%zu m=%zu", n, m);
	}
}
