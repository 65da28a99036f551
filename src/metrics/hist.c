/*
 * hist.c: the log-bucket histogram (see hist.h). The index of x is
 * ceil(ln x / ln g); the array of counts is contiguous over [lo, lo+cap)
 * and grows (doubling) to take a new index at either end.
 */
#include "metrics/hist.h"

#include "base/xmalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* g = (1 + a) / (1 - a) and ln g for a = METRICS_HIST_ALPHA (a constant
 * so that no thread races to compute it; test_hist checks it). */
#define HIST_GAMMA ((1 + METRICS_HIST_ALPHA) / (1 - METRICS_HIST_ALPHA))
#define HIST_LN_GAMMA 0.018000486023620893

int32_t metrics_hist_index(double x)
{
	if (x < METRICS_HIST_MIN)
		x = METRICS_HIST_MIN;
	if (x > METRICS_HIST_MAX)
		x = METRICS_HIST_MAX;
	return (int32_t)ceil(log(x) / HIST_LN_GAMMA);
}

double metrics_hist_value(int32_t i)
{
	return 2 * exp((double)i * HIST_LN_GAMMA) / (HIST_GAMMA + 1);
}

void metrics_hist_init(metrics_hist_t *h)
{
	memset(h, 0, sizeof(*h));
	h->min_i = INT32_MAX;
	h->max_i = INT32_MIN;
}

void metrics_hist_free(metrics_hist_t *h)
{
	free(h->counts);
	metrics_hist_init(h);
}

void metrics_hist_reset(metrics_hist_t *h)
{
	if (h->n > h->zero && h->counts)
		memset(h->counts + (h->min_i - h->lo), 0,
		       (size_t)(h->max_i - h->min_i + 1) * sizeof(uint64_t));
	h->min_i = INT32_MAX;
	h->max_i = INT32_MIN;
	h->zero = h->n = 0;
	h->sum = h->min = h->max = 0;
}

/* Makes index i addressable. */
static void cover(metrics_hist_t *h, int32_t i)
{
	if (h->counts && i >= h->lo && i < h->lo + (int32_t)h->cap)
		return;
	if (!h->counts) {
		h->cap = 64;
		h->lo = i - 32;
		h->counts = xcalloc(h->cap, sizeof(uint64_t));
		return;
	}
	int32_t lo = i < h->lo ? i : h->lo;
	int32_t hi = i >= h->lo + (int32_t)h->cap ? i + 1
						   : h->lo + (int32_t)h->cap;
	uint32_t cap = h->cap;
	while ((int32_t)cap < hi - lo + 16)
		cap *= 2;
	/* leave room on the side that grew */
	int32_t nlo = i < h->lo ? hi - (int32_t)cap : lo;
	uint64_t *c = xcalloc(cap, sizeof(uint64_t));
	memcpy(c + (h->lo - nlo), h->counts, h->cap * sizeof(uint64_t));
	free(h->counts);
	h->counts = c;
	h->cap = cap;
	h->lo = nlo;
}

void metrics_hist_add_n(metrics_hist_t *h, double x, uint64_t count)
{
	if (!(x >= 0) || count == 0)
		return;
	if (h->n == 0 || x < h->min)
		h->min = x;
	if (h->n == 0 || x > h->max)
		h->max = x;
	h->n += count;
	h->sum += x * (double)count;
	if (x == 0) {
		h->zero += count;
		return;
	}
	int32_t i = metrics_hist_index(x);
	cover(h, i);
	h->counts[i - h->lo] += count;
	if (i < h->min_i)
		h->min_i = i;
	if (i > h->max_i)
		h->max_i = i;
}

void metrics_hist_merge(metrics_hist_t *dst, const metrics_hist_t *src)
{
	if (src->n == 0)
		return;
	if (dst->n == 0 || src->min < dst->min)
		dst->min = src->min;
	if (dst->n == 0 || src->max > dst->max)
		dst->max = src->max;
	dst->n += src->n;
	dst->zero += src->zero;
	dst->sum += src->sum;
	if (src->n == src->zero)
		return;
	cover(dst, src->min_i);
	cover(dst, src->max_i);
	for (int32_t i = src->min_i; i <= src->max_i; i++)
		dst->counts[i - dst->lo] += src->counts[i - src->lo];
	if (src->min_i < dst->min_i)
		dst->min_i = src->min_i;
	if (src->max_i > dst->max_i)
		dst->max_i = src->max_i;
}

/* The estimate of the k-th smallest value, 1 <= k <= n. */
static double rank_value(const metrics_hist_t *h, uint64_t k)
{
	if (k <= h->zero)
		return 0;
	/* the extremes are known exactly */
	if (k >= h->n)
		return h->max;
	if (k == 1)
		return h->min;
	uint64_t seen = h->zero;
	double v = h->max;
	for (int32_t i = h->min_i; i <= h->max_i; i++) {
		seen += h->counts[i - h->lo];
		if (seen >= k) {
			v = metrics_hist_value(i);
			break;
		}
	}
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

/* Nearest rank of the q-quantile of n values. */
static uint64_t rank_of(double q, uint64_t n)
{
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	uint64_t k = (uint64_t)ceil(q * (double)n);
	return k < 1 ? 1 : k;
}

double metrics_hist_quantile(const metrics_hist_t *h, double q)
{
	if (h->n == 0)
		return NAN;
	return rank_value(h, rank_of(q, h->n));
}

double metrics_hist_quantile_res(const metrics_hist_t *h, double q)
{
	if (h->n == 0)
		return NAN;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	uint64_t k = rank_of(q, h->n);
	/* the rank's standard deviation, sqrt(n q (1 - q)) (the count of
	 * values under the true quantile is binomial), at least one rank */
	uint64_t d = (uint64_t)ceil(sqrt((double)h->n * q * (1 - q)));
	if (d < 1)
		d = 1;
	uint64_t lo = k > d ? k - d : 1;
	uint64_t hi = k + d < h->n ? k + d : h->n;
	double v = rank_value(h, k);
	double spread = (rank_value(h, hi) - rank_value(h, lo)) / 2;
	double bucket = METRICS_HIST_ALPHA * v;
	return spread > bucket ? spread : bucket;
}
