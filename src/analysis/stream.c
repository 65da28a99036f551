/*
 * stream.c: extremes, the value histogram and alarm suppression (see
 * stream.h).
 */
#include "analysis/stream.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ extremes */

void an_extremes_init(an_extremes_t *e)
{
	memset(e, 0, sizeof(*e));
}

/* Inserts x into a list of at most AN_EXT_K kept in order: a descending
 * list when desc, ascending otherwise. k: entries held before. */
static void keep_top(double *v, size_t k, double x, bool desc)
{
	size_t len = k < AN_EXT_K ? k : AN_EXT_K;
	if (len == AN_EXT_K && (desc ? x <= v[len - 1] : x >= v[len - 1]))
		return;
	size_t i = len < AN_EXT_K ? len : AN_EXT_K - 1;
	while (i > 0 && (desc ? v[i - 1] < x : v[i - 1] > x)) {
		v[i] = v[i - 1];
		i--;
	}
	v[i] = x;
}

void an_extremes_add(an_extremes_t *e, double x)
{
	keep_top(e->hi, e->n, x, true);
	keep_top(e->lo, e->n, x, false);
	e->n++;
}

double an_extremes_quantile(const an_extremes_t *e, double q)
{
	if (e->n == 0)
		return 0;
	size_t held = e->n < AN_EXT_K ? e->n : AN_EXT_K;
	const double *v = q < 0.5 ? e->lo : e->hi;
	double tail = q < 0.5 ? q : 1 - q;
	/* A sorted array of n would be read at position tail (n - 1) from
	 * its end, interpolating between neighbours. */
	double p = tail * (double)(e->n - 1);
	size_t i = (size_t)p;
	double f = p - (double)i;
	if (i + 1 >= held)
		return v[held - 1];
	return v[i] * (1 - f) + v[i + 1] * f;
}

/* ------------------------------------------------------ value histogram */

void an_vhist_reset(an_vhist_t *h, double lo, double w)
{
	memset(h, 0, sizeof(*h));
	h->lo = lo;
	h->w = w;
}

/* The bin of x, or -1 when x is off the grid. */
static long bin_of(const an_vhist_t *h, double x)
{
	double b = floor((x - h->lo) / h->w);
	if (!(b >= 0 && b < AN_VH_BINS))
		return -1;
	return (long)b;
}

static size_t out_lower_bound(const an_vhist_t *h, float x)
{
	size_t lo = 0, hi = h->nout;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		if (h->out[m] < x)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

bool an_vhist_add(an_vhist_t *h, double x)
{
	long b = bin_of(h, x);
	if (b >= 0) {
		h->cnt[b]++;
		h->grp[b / 64]++;
		h->occ[b / 64] |= UINT64_C(1) << (b % 64);
	} else {
		if (h->nout == AN_VH_OUT)
			return false;
		float fx = (float)x;
		size_t i = out_lower_bound(h, fx);
		memmove(h->out + i + 1, h->out + i,
			(h->nout - i) * sizeof(float));
		h->out[i] = fx;
		h->nout++;
	}
	h->n++;
	return true;
}

void an_vhist_del(an_vhist_t *h, double x)
{
	long b = bin_of(h, x);
	if (b >= 0) {
		if (h->cnt[b] == 0)
			return;
		h->grp[b / 64]--;
		if (--h->cnt[b] == 0)
			h->occ[b / 64] &= ~(UINT64_C(1) << (b % 64));
	} else {
		float fx = (float)x;
		size_t i = out_lower_bound(h, fx);
		if (i == h->nout || h->out[i] != fx)
			return;
		memmove(h->out + i, h->out + i + 1,
			(h->nout - i - 1) * sizeof(float));
		h->nout--;
	}
	h->n--;
}

/* The smallest occupied bin >= from, or -1. */
static long next_set(const an_vhist_t *h, long from)
{
	if (from < 0)
		from = 0;
	if (from >= AN_VH_BINS)
		return -1;
	long wi = from / 64;
	uint64_t word = h->occ[wi] & (~UINT64_C(0) << (from % 64));
	for (;;) {
		if (word)
			return wi * 64 + __builtin_ctzll(word);
		if (++wi == AN_VH_WORDS)
			return -1;
		word = h->occ[wi];
	}
}

/* The largest occupied bin <= from, or -1. */
static long prev_set(const an_vhist_t *h, long from)
{
	if (from < 0)
		return -1;
	if (from >= AN_VH_BINS)
		from = AN_VH_BINS - 1;
	long wi = from / 64;
	int sh = 63 - (int)(from % 64);
	uint64_t word = h->occ[wi] & (~UINT64_C(0) >> sh);
	for (;;) {
		if (word)
			return wi * 64 + 63 - __builtin_clzll(word);
		if (--wi < 0)
			return -1;
		word = h->occ[wi];
	}
}

double an_vhist_nearest(const an_vhist_t *h, double x)
{
	double best = INFINITY;
	double pos = (x - h->lo) / h->w;
	long b = pos < 0 ? -1 : pos >= AN_VH_BINS ? AN_VH_BINS : (long)pos;
	if (b >= 0 && b < AN_VH_BINS && (h->cnt[b] > 0))
		return 0;
	long l = prev_set(h, b - 1), r = next_set(h, b + 1);
	if (l >= 0)
		best = x - (h->lo + (double)(l + 1) * h->w);
	if (r >= 0) {
		double d = h->lo + (double)r * h->w - x;
		if (d < best)
			best = d;
	}
	if (h->nout) {
		size_t i = out_lower_bound(h, (float)x);
		if (i < h->nout && fabs((double)h->out[i] - x) < best)
			best = fabs((double)h->out[i] - x);
		if (i > 0 && fabs(x - (double)h->out[i - 1]) < best)
			best = fabs(x - (double)h->out[i - 1]);
	}
	return best < 0 ? 0 : best;
}

/* The value of rank r (0-based, r < h->n) in sorted order: outside
 * values below the grid, binned values, outside values above. */
static double vhist_rank(const an_vhist_t *h, uint32_t r)
{
	uint32_t below = 0;
	while (below < h->nout && (double)h->out[below] < h->lo)
		below++;
	if (r < below)
		return h->out[r];
	r -= below;
	uint32_t binned = h->n - h->nout;
	if (r >= binned)
		return h->out[below + (r - binned)];
	size_t g = 0;
	while (r >= h->grp[g])
		r -= h->grp[g++];
	size_t b = g * 64;
	while (r >= h->cnt[b])
		r -= h->cnt[b++];
	return h->lo + ((double)b + 0.5) * h->w;
}

double an_vhist_quantile(const an_vhist_t *h, double q)
{
	if (h->n == 0)
		return 0;
	q = q < 0 ? 0 : q > 1 ? 1 : q;
	/* Interpolated like a sorted array read at q (n - 1). */
	double p = q * (double)(h->n - 1);
	uint32_t i = (uint32_t)p;
	double f = p - (double)i;
	double v = vhist_rank(h, i);
	if (f > 0 && i + 1 < h->n)
		v = v * (1 - f) + vhist_rank(h, i + 1) * f;
	return v;
}

/* --------------------------------------------------------- suppression */

void an_suppress_init(an_suppress_t *s, double level, uint32_t rest,
		      double rest_frac, double escape)
{
	s->level = level;
	s->rest = rest;
	s->rest_frac = rest_frac;
	s->escape = escape;
	s->since = UINT32_MAX;
	s->n = 0;
	s->last = 0;
}

double an_suppress(an_suppress_t *s, double raw)
{
	double out = raw;
	double rest = s->rest_frac * (double)s->n;
	if (rest < s->rest)
		rest = s->rest;
	s->n++;
	if (s->since < rest && !(raw > s->escape * s->last))
		out = 0;
	if (out > 0 && raw >= s->level) {
		s->since = 0;
		s->last = raw;
	} else if (s->since < UINT32_MAX) {
		s->since++;
	}
	return out;
}
