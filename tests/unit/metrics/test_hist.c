/*
 * test_hist.c: the log-bucket histogram and its error bound. The bound is
 * proved in two steps: every value's bucket representative is within
 * METRICS_HIST_ALPHA (< 1%) of it, checked exhaustively over integer
 * microseconds up to 10^6, over a dense logarithmic sweep of the whole
 * range, and on each bucket edge (where rounding bites); and quantiles of
 * samples from several shapes of distribution are within 1% of the exact
 * nearest-rank quantile of the same data.
 */
#include "metrics/hist.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#define BOUND 0.01

static double rel(double est, double exact)
{
	return exact == 0 ? fabs(est) : fabs(est - exact) / exact;
}

Test(hist, alpha_is_below_one_percent)
{
	cr_assert_lt(METRICS_HIST_ALPHA, BOUND);
}

Test(hist, representative_within_alpha_integers)
{
	double worst = 0;
	for (int us = 1; us <= 1000000; us++) {
		double r = rel(metrics_hist_value(metrics_hist_index(us)), us);
		if (r > worst)
			worst = r;
	}
	cr_assert_leq(worst, METRICS_HIST_ALPHA * (1 + 1e-9),
		      "worst relative error %.6f", worst);
}

Test(hist, representative_within_alpha_sweep_and_edges)
{
	double worst = 0;
	/* a dense sweep, 2 million points over 24 decades */
	for (int i = 0; i <= 2000000; i++) {
		double x = METRICS_HIST_MIN *
			   pow(METRICS_HIST_MAX / METRICS_HIST_MIN, i / 2e6);
		double r = rel(metrics_hist_value(metrics_hist_index(x)), x);
		if (r > worst)
			worst = r;
	}
	/* each bucket edge g^i and its neighbours one ulp away */
	double g = (1 + METRICS_HIST_ALPHA) / (1 - METRICS_HIST_ALPHA);
	for (int i = metrics_hist_index(METRICS_HIST_MIN);
	     i <= metrics_hist_index(METRICS_HIST_MAX) - 1; i++) {
		double edge = pow(g, i);
		double xs[3] = {nextafter(edge, 0), edge,
				nextafter(edge, INFINITY)};
		for (int k = 0; k < 3; k++) {
			double r = rel(metrics_hist_value(
					       metrics_hist_index(xs[k])),
				       xs[k]);
			if (r > worst)
				worst = r;
		}
	}
	cr_assert_lt(worst, BOUND, "worst relative error %.6f", worst);
	cr_assert_leq(worst, METRICS_HIST_ALPHA * (1 + 1e-6),
		      "rounding at the edges stays at alpha: %.8f", worst);
}

static uint64_t rng = 88172645463325252ULL;
static double uni(void) /* (0, 1) */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

typedef double (*gen_t)(int i);
static double g_uniform(int i) { (void)i; return 1 + 999 * uni(); }
static double g_lognormal(int i)
{
	(void)i;
	double z = sqrt(-2 * log(uni())) * cos(2 * M_PI * uni());
	return exp(-6 + 1.5 * z); /* latencies in seconds, ms-ish */
}
static double g_exp(int i) { (void)i; return -log(uni()) * 0.02; }
static double g_pareto(int i) { (void)i; return 1e-3 / pow(uni(), 1 / 1.2); }
static double g_bimodal(int i) { return i % 10 ? 0.002 + 1e-4 * uni() : 1.5 + uni(); }
static double g_const(int i) { (void)i; return 0.25; }
static double g_int_us(int i) { (void)i; return floor(1 + 20000 * uni()); }
static double g_with_zeros(int i) { return i % 3 ? 0 : 5 * uni(); }

static void check_dist(gen_t g, const char *name, int n)
{
	double *v = malloc(sizeof(double) * (size_t)n);
	metrics_hist_t h;
	metrics_hist_init(&h);
	for (int i = 0; i < n; i++) {
		v[i] = g(i);
		metrics_hist_add(&h, v[i]);
	}
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	static const double qs[] = {0,	  0.001, 0.01, 0.1,   0.25, 0.5,
				    0.75, 0.9,	 0.99, 0.999, 1};
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		uint64_t rank = (uint64_t)ceil(qs[k] * n);
		if (rank < 1)
			rank = 1;
		double exact = v[rank - 1];
		double est = metrics_hist_quantile(&h, qs[k]);
		cr_assert_leq(rel(est, exact), BOUND,
			      "%s n=%d q=%g: estimate %.9g, exact %.9g", name,
			      n, qs[k], est, exact);
	}
	cr_assert_eq(h.n, (uint64_t)n);
	metrics_hist_free(&h);
	free(v);
}

Test(hist, quantiles_within_one_percent)
{
	struct {
		gen_t g;
		const char *name;
	} d[] = {{g_uniform, "uniform"},   {g_lognormal, "lognormal"},
		 {g_exp, "exponential"},   {g_pareto, "pareto"},
		 {g_bimodal, "bimodal"},   {g_const, "constant"},
		 {g_int_us, "integer-us"}, {g_with_zeros, "zeros"}};
	int sizes[] = {1, 2, 3, 10, 101, 1000, 100000};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			check_dist(d[i].g, d[i].name, sizes[s]);
}

Test(hist, empty_zero_and_reset)
{
	metrics_hist_t h;
	metrics_hist_init(&h);
	cr_assert(isnan(metrics_hist_quantile(&h, 0.5)));
	metrics_hist_add(&h, 0);
	metrics_hist_add(&h, -1);  /* ignored */
	metrics_hist_add(&h, NAN); /* ignored */
	cr_assert_eq(h.n, 1);
	cr_assert_eq(metrics_hist_quantile(&h, 0.99), 0);
	metrics_hist_add(&h, 10);
	cr_assert_float_eq(metrics_hist_quantile(&h, 1), 10, 1e-9,
			   "the largest is exact");
	metrics_hist_reset(&h);
	cr_assert_eq(h.n, 0);
	cr_assert(isnan(metrics_hist_quantile(&h, 0.5)));
	metrics_hist_add(&h, 3);
	cr_assert_float_eq(metrics_hist_quantile(&h, 0.5), 3, 1e-9);
	metrics_hist_free(&h);
}

Test(hist, grows_both_ways_and_merges)
{
	metrics_hist_t a, b, all;
	metrics_hist_init(&a);
	metrics_hist_init(&b);
	metrics_hist_init(&all);
	for (int i = 0; i < 1000; i++) {
		double x = (i % 2 ? 1e-6 : 1e6) * (1 + i / 1000.0);
		metrics_hist_add(i < 500 ? &a : &b, x);
		metrics_hist_add(&all, x);
	}
	metrics_hist_t m;
	metrics_hist_init(&m);
	metrics_hist_merge(&m, &a);
	metrics_hist_merge(&m, &b);
	cr_assert_eq(m.n, all.n);
	for (double q = 0; q <= 1; q += 0.05)
		cr_assert_float_eq(metrics_hist_quantile(&m, q),
				   metrics_hist_quantile(&all, q), 1e-12,
				   "q=%g", q);
	cr_assert_leq(all.cap, 4096, "array covers only the used range");
	metrics_hist_free(&a);
	metrics_hist_free(&b);
	metrics_hist_free(&all);
	metrics_hist_free(&m);
}

Test(hist, clamped_range_is_bounded)
{
	metrics_hist_t h;
	metrics_hist_init(&h);
	metrics_hist_add(&h, 1e-300);
	metrics_hist_add(&h, 1e300);
	metrics_hist_add(&h, INFINITY);
	cr_assert_eq(h.n, 3);
	cr_assert_leq(h.cap, 8192);
	metrics_hist_free(&h);
}

/* The resolution of a quantile: ten values 1..10 ms resolve their p90
 * (the 9th) only to half the distance between the 8th and the 10th
 * (one rank either side: sqrt(10 * 0.9 * 0.1) rounds up to 1), 1 ms;
 * ten thousand 1..10000 us resolve their median to half the distance
 * between ranks 4950 and 5050 (sqrt(2500) = 50), 50 us; one value only
 * to the bucket error. */
Test(hist, quantile_resolution_follows_the_count)
{
	metrics_hist_t h;
	metrics_hist_init(&h);
	cr_assert(isnan(metrics_hist_quantile_res(&h, 0.9)));
	for (int i = 1; i <= 10; i++)
		metrics_hist_add(&h, i * 1e-3);
	double r = metrics_hist_quantile_res(&h, 0.9);
	cr_assert_float_eq(r, 1e-3, 2 * METRICS_HIST_ALPHA * 10e-3, "%g", r);
	metrics_hist_reset(&h);
	for (int i = 1; i <= 10000; i++)
		metrics_hist_add(&h, i * 1e-6);
	r = metrics_hist_quantile_res(&h, 0.5);
	cr_assert_float_eq(r, 50e-6, 2 * METRICS_HIST_ALPHA * 5e-3, "%g", r);
	cr_assert_lt(r, 0.02 * metrics_hist_quantile(&h, 0.5));
	metrics_hist_reset(&h);
	metrics_hist_add(&h, 0.004);
	r = metrics_hist_quantile_res(&h, 0.99);
	cr_assert_float_eq(r, METRICS_HIST_ALPHA * 0.004, 1e-12, "%g", r);
	metrics_hist_free(&h);
}
