/*
 * stats.c: selection, Theil-Sen, the decayed log histogram, Mann-Whitney
 * U, Hodges-Lehmann and lagged correlation (see stats.h for the sources).
 */
#include "analysis/stats.h"

#include "base/err.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>

/* ------------------------------------------------------------ selection */

static inline void swap_d(double *a, double *b)
{
	double t = *a;
	*a = *b;
	*b = t;
}

double an_select(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;
	while (hi > lo) {
		/* median of three as the pivot, moved to v[hi] */
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < v[lo])
			swap_d(&v[mid], &v[lo]);
		if (v[hi] < v[lo])
			swap_d(&v[hi], &v[lo]);
		if (v[mid] < v[hi])
			swap_d(&v[mid], &v[hi]);
		double pivot = v[hi];
		size_t store = lo;
		for (size_t i = lo; i < hi; i++)
			if (v[i] < pivot)
				swap_d(&v[i], &v[store++]);
		swap_d(&v[store], &v[hi]);
		/* Equal keys: everything in [store, eq) equals the pivot, so
		 * a run of ties ends the search at once. */
		size_t eq = store + 1;
		for (size_t i = eq; i <= hi; i++)
			if (v[i] == pivot)
				swap_d(&v[i], &v[eq++]);
		if (k < store)
			hi = store - 1;
		else if (k >= eq)
			lo = eq;
		else
			return pivot;
	}
	return v[k];
}

double an_median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	double hi = an_select(v, n, n / 2);
	if (n % 2)
		return hi;
	/* after selection every element below n/2 is <= hi: the lower
	 * middle is their maximum */
	double lo = v[0];
	for (size_t i = 1; i < n / 2; i++)
		if (v[i] > lo)
			lo = v[i];
	return (lo + hi) / 2;
}

/* ------------------------------------------------------------ Theil-Sen */

/* Up to this many slopes an insertion sort beats selection: the 10
 * slopes of the default 5-point velocity window sort in ~50 ns (measured
 * against a branchless odd-even transposition network, 80 ns, and rank
 * counting, 170 ns). */
#define TS_SORT_MAX 16

double an_theil_sen(const double *t, const double *y, size_t n)
{
	double s[AN_TS_MAX_POINTS * (AN_TS_MAX_POINTS - 1) / 2];
	size_t k = 0;
	if (n > AN_TS_MAX_POINTS)
		n = AN_TS_MAX_POINTS;
	for (size_t i = 0; i + 1 < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			double dt = t[j] - t[i];
			if (dt > 0)
				s[k++] = (y[j] - y[i]) / dt;
		}
	if (k == 0)
		return NAN;
	if (k > TS_SORT_MAX)
		return an_median(s, k);
	for (size_t i = 1; i < k; i++) {
		double v = s[i];
		size_t j = i;
		for (; j > 0 && s[j - 1] > v; j--)
			s[j] = s[j - 1];
		s[j] = v;
	}
	return k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}

/* ------------------------------------------------------------ envelope */

/* Weights are rescaled by this factor when `unit` passes it: far from
 * DBL_MAX (1.8e308) so that a sum of many weights cannot overflow, and
 * far from 1 so that rescaling is rare. */
#define DECAY_RESCALE 1e150

void an_decayhist_init(an_decayhist_t *h, double half_life_ticks)
{
	for (size_t i = 0; i < AN_ENV_BINS; i++)
		h->w[i] = 0;
	h->total = 0;
	h->unit = 1;
	h->g = half_life_ticks > 0 ? exp2(1.0 / half_life_ticks) : 1;
	h->tick = 0;
}

void an_decayhist_advance(an_decayhist_t *h, int64_t tick)
{
	if (tick <= h->tick)
		return;
	int64_t d = tick - h->tick;
	h->tick = tick;
	h->unit *= d == 1 ? h->g : pow(h->g, (double)d);
	if (h->unit > DECAY_RESCALE || !isfinite(h->unit)) {
		/* A jump so long that unit overflowed: everything learned is
		 * weightless now. */
		if (!isfinite(h->unit)) {
			for (size_t i = 0; i < AN_ENV_BINS; i++)
				h->w[i] = 0;
			h->total = 0;
			h->unit = 1;
			return;
		}
		double s = 1 / h->unit;
		for (size_t i = 0; i < AN_ENV_BINS; i++)
			h->w[i] *= s;
		h->total *= s;
		h->unit = 1;
	}
}

static size_t env_bin(double x)
{
	if (!(x >= AN_ENV_LO))
		return 0;
	double b = floor(log10(x / AN_ENV_LO) * AN_ENV_PER_DECADE) + 1;
	return b >= AN_ENV_BINS - 1 ? AN_ENV_BINS - 1 : (size_t)b;
}

void an_decayhist_add(an_decayhist_t *h, double x)
{
	if (!(x >= 0))
		return;
	h->w[env_bin(x)] += h->unit;
	h->total += h->unit;
}

double an_decayhist_count(const an_decayhist_t *h)
{
	return h->total / h->unit;
}

double an_decayhist_quantile(const an_decayhist_t *h, double q)
{
	if (h->total <= 0)
		return 0;
	double want = q * h->total, cum = 0;
	for (size_t i = 0; i < AN_ENV_BINS; i++) {
		if (h->w[i] <= 0 || cum + h->w[i] < want) {
			cum += h->w[i];
			continue;
		}
		if (i == 0)
			return 0;
		/* bin i covers [LO 10^((i-1)/k), LO 10^(i/k)): interpolate
		 * in log space by the share of the bin's weight needed */
		double frac = (want - cum) / h->w[i];
		return AN_ENV_LO *
		       pow(10, ((double)(i - 1) + frac) / AN_ENV_PER_DECADE);
	}
	return AN_ENV_LO * pow(10, (double)(AN_ENV_BINS - 1) /
					   AN_ENV_PER_DECADE);
}

/* ------------------------------------------------------------ Mann-Whitney */

typedef struct tagged {
	double v;
	int from_y;
} tagged_t;

static int cmp_tagged(const void *a, const void *b)
{
	double x = ((const tagged_t *)a)->v, y = ((const tagged_t *)b)->v;
	return (x > y) - (x < y);
}

int an_mwu(const double *x, size_t n, const double *y, size_t m,
	   an_mwu_t *out)
{
	if (n == 0 || m == 0 || n > AN_MWU_MAX || m > AN_MWU_MAX)
		return ERR_INVAL;
	tagged_t all[2 * AN_MWU_MAX];
	size_t N = n + m;
	for (size_t i = 0; i < n; i++)
		all[i] = (tagged_t){x[i], 0};
	for (size_t j = 0; j < m; j++)
		all[n + j] = (tagged_t){y[j], 1};
	qsort(all, N, sizeof(*all), cmp_tagged);
	/* midranks for ties; sum of t^3 - t for the variance */
	double ry = 0, ties = 0;
	for (size_t i = 0; i < N;) {
		size_t j = i;
		while (j + 1 < N && all[j + 1].v == all[i].v)
			j++;
		double rank = (double)(i + j + 2) / 2; /* 1-based mean rank */
		double t = (double)(j - i + 1);
		ties += t * t * t - t;
		for (size_t k = i; k <= j; k++)
			if (all[k].from_y)
				ry += rank;
		i = j + 1;
	}
	double dn = (double)n, dm = (double)m, dN = (double)N;
	double u = ry - dm * (dm + 1) / 2;
	double mean = dn * dm / 2;
	double var = dn * dm / 12 * ((dN + 1) - ties / (dN * (dN - 1)));
	out->u = u;
	double d = u - mean;
	out->sign = d > 0 ? 1 : d < 0 ? -1 : 0;
	if (var <= 0 || fabs(d) <= 0.5) {
		out->z = 0;
		out->p = 1;
		return 0;
	}
	out->z = (fabs(d) - 0.5) / sqrt(var) * out->sign;
	double p = 2 * gsl_cdf_ugaussian_Q(fabs(out->z));
	out->p = p > 1 ? 1 : p;
	return 0;
}

int an_hodges_lehmann(const double *x, size_t n, const double *y, size_t m,
		      double alpha, double *scratch, an_hl_t *out)
{
	if (n == 0 || m == 0 || n > AN_MWU_MAX || m > AN_MWU_MAX ||
	    !(alpha > 0 && alpha < 1))
		return ERR_INVAL;
	size_t nm = n * m, k = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < m; j++)
			scratch[k++] = y[j] - x[i];
	double dnm = (double)nm;
	double z = gsl_cdf_ugaussian_Qinv(alpha / 2);
	double c = floor(dnm / 2 - z * sqrt(dnm * (double)(n + m + 1) / 12));
	size_t lo_k = c < 1 ? 0 : (size_t)c - 1; /* 0-based D_(c) */
	if (lo_k > (nm - 1) / 2)
		lo_k = (nm - 1) / 2;
	size_t hi_k = nm - 1 - lo_k; /* 0-based D_(nm+1-c) */
	/* Order statistics in increasing order, each on what is left above
	 * the previous one: after an_select(v, n, k), v[k+1..n-1] holds the
	 * values at or above v[k] (lo_k <= nm/2 - 1 <= nm/2 <= hi_k). */
	size_t mid_lo = (nm - 1) / 2, mid_hi = nm / 2;
	out->lo = an_select(scratch, nm, lo_k);
	double *rest = scratch + lo_k + 1;
	size_t nrest = nm - lo_k - 1;
	double a = mid_lo == lo_k ? out->lo
				  : an_select(rest, nrest, mid_lo - lo_k - 1);
	double b = a;
	if (mid_hi != mid_lo) {
		/* mid_hi = mid_lo + 1 > lo_k */
		b = an_select(rest, nrest, mid_hi - lo_k - 1);
	}
	out->shift = (a + b) / 2;
	out->hi = hi_k == lo_k ? out->lo
			       : an_select(rest, nrest, hi_k - lo_k - 1);
	return 0;
}

/* ------------------------------------------------------------ correlation */

double an_lagged_corr(const double *x, const double *y, size_t n, int lag,
		      size_t min_pairs)
{
	double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		long j = (long)i - lag;
		if (j < 0 || (size_t)j >= n)
			continue;
		double a = x[i], b = y[j];
		if (!isfinite(a) || !isfinite(b))
			continue;
		sx += a;
		sy += b;
		sxx += a * a;
		syy += b * b;
		sxy += a * b;
		k++;
	}
	if (k < min_pairs || k < 2)
		return NAN;
	double dk = (double)k;
	double vx = sxx - sx * sx / dk, vy = syy - sy * sy / dk;
	if (vx <= 1e-300 || vy <= 1e-300)
		return NAN;
	return (sxy - sx * sy / dk) / sqrt(vx * vy);
}

double an_norm_quantile(double p)
{
	return gsl_cdf_ugaussian_Pinv(p);
}

double an_norm_upper(double z)
{
	return gsl_cdf_ugaussian_Q(z);
}
