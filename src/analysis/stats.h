/*
 * stats.h: the statistics the deviation analysis is built from, as pure
 * functions over caller-owned arrays and small state structs: selection
 * and medians, the Theil-Sen slope (velocity), a time-decayed log
 * histogram with quantiles (the A/A noise envelope), the two-sample
 * Mann-Whitney U test and the Hodges-Lehmann shift with its confidence
 * interval (the verdict), and lagged Pearson correlation (root cause).
 *
 * Pure: no I/O, no clocks, no globals, no allocation (callers pass
 * scratch space). Non-finite inputs are the caller's to filter unless a
 * function says otherwise.
 */
#ifndef UMBRA_ANALYSIS_STATS_H
#define UMBRA_ANALYSIS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ selection */

/* The k-th smallest (0-based) of v[0..n-1], k < n; v is reordered.
 * Hoare's FIND (CACM 1961) with median-of-three pivots: O(n) expected. */
double an_select(double *v, size_t n, size_t k);

/* The median of v[0..n-1] (the mean of the two middle values when n is
 * even); v is reordered. NaN when n == 0. */
double an_median(double *v, size_t n);

/* ------------------------------------------------------------ Theil-Sen */

/* The largest number of points an_theil_sen accepts: 32 points are 496
 * pairwise slopes, which bounds the per-tick cost of velocity. */
#define AN_TS_MAX_POINTS 32

/* Theil-Sen slope (Theil 1950; Sen 1968, JASA 63:1379): the median of the
 * pairwise slopes (y_j - y_i) / (t_j - t_i) over i < j with t_j > t_i.
 * Breakdown point 29%: a single wild point cannot move it, which is why
 * velocity uses it. n <= AN_TS_MAX_POINTS; NaN when fewer than two
 * distinct times. */
double an_theil_sen(const double *t, const double *y, size_t n);

/* ------------------------------------------------------------ envelope */

/* Bins of the envelope histogram: 16 per decade over 1e-4 .. 1e4 (8
 * decades). Adjacent bin edges differ by 15%; interpolation inside a bin
 * makes the quantile finer than that. Below 1e-4 a deviation is zero for
 * every purpose here; above 1e4 (a million percent) it is off the scale. */
#define AN_ENV_PER_DECADE 16
#define AN_ENV_LO 1e-4
#define AN_ENV_BINS (8 * AN_ENV_PER_DECADE + 1) /* + the underflow bin 0 */

/* A time-decayed histogram of non-negative values on a log scale. Decay
 * is forward decay (Cormode, Shkapenyuk, Srivastava, Xu 2009, "Forward
 * Decay: a practical time decay model for streaming systems"): a value
 * added at tick k weighs g^k with g = 2^(1/half_life), so a value's
 * weight relative to a newer one halves every half_life ticks, whatever
 * happens in between, and each update is O(1). Weights are rescaled when
 * they grow large, which changes no ratio. */
typedef struct an_decayhist {
	double w[AN_ENV_BINS];
	double total; /* sum of w */
	double unit;  /* the weight of a value added now */
	double g;     /* growth per tick */
	int64_t tick; /* the tick `unit` belongs to */
} an_decayhist_t;

void an_decayhist_init(an_decayhist_t *h, double half_life_ticks);
/* Moves the histogram's clock to tick (>= the last one). */
void an_decayhist_advance(an_decayhist_t *h, int64_t tick);
/* Adds x (>= 0; NaN and negatives are ignored) at the current tick. */
void an_decayhist_add(an_decayhist_t *h, double x);
/* The number of fresh points that would carry the same weight: the sum of
 * weights in units of a point added now. A histogram that learned nothing
 * for several half-lives has a small effective count. */
double an_decayhist_count(const an_decayhist_t *h);
/* The q-quantile (0 < q < 1), log-interpolated inside its bin; 0 when the
 * histogram is empty. */
double an_decayhist_quantile(const an_decayhist_t *h, double q);

/* ------------------------------------------------------------ Mann-Whitney */

typedef struct an_mwu {
	double u;       /* U of the experiment sample y */
	double z;       /* standardised, with continuity correction */
	double p;       /* two-sided p-value */
	int sign;       /* +1: y tends to be larger than x, -1 smaller, 0 */
} an_mwu_t;

/* The largest sample an_mwu and an_hodges_lehmann accept per side. */
#define AN_MWU_MAX 128

/* Two-sided Mann-Whitney U test of control x[0..n-1] against experiment
 * y[0..m-1] (Mann & Whitney 1947), normal approximation with the tie
 * correction of the variance, nm/12 * ((N+1) - sum(t^3 - t)/(N(N-1))),
 * and a continuity correction of 1/2 (Hollander, Wolfe & Chicken,
 * "Nonparametric Statistical Methods", 3rd ed. 2014, sec. 4.1). The
 * p-value comes from GSL's normal tail. 0, or ERR_INVAL when n or m is 0
 * or above AN_MWU_MAX. */
int an_mwu(const double *x, size_t n, const double *y, size_t m,
	   an_mwu_t *out);

typedef struct an_hl {
	double shift;  /* median of y_j - x_i */
	double lo, hi; /* confidence interval at 1 - alpha */
} an_hl_t;

/* Hodges-Lehmann estimate of the shift of y against x (Hodges & Lehmann
 * 1963): the median of the n*m differences y_j - x_i, with the
 * distribution-free interval [D_(k), D_(nm+1-k)], k = floor(nm/2 -
 * z_{1-alpha/2} sqrt(nm(n+m+1)/12)) (Hollander, Wolfe & Chicken 2014,
 * sec. 4.3, large-sample approximation). scratch holds n*m doubles. 0 or
 * ERR_INVAL. */
int an_hodges_lehmann(const double *x, size_t n, const double *y, size_t m,
		      double alpha, double *scratch, an_hl_t *out);

/* ------------------------------------------------------------ correlation */

/* Pearson correlation of x[i] with y[i - lag] over the indices where both
 * are finite (lag > 0: y leads x by lag samples). NaN when fewer than
 * min_pairs pairs or a side is constant. */
double an_lagged_corr(const double *x, const double *y, size_t n, int lag,
		      size_t min_pairs);

/* Standard normal quantile and upper tail (GSL). */
double an_norm_quantile(double p);
double an_norm_upper(double z);

#endif
