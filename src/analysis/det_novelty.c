/*
 * det_novelty.c: the "novelty" detector: how far the current level is
 * from every level the series has shown recently, in units of the
 * series' whole range.
 *
 * At each point and for each scale K (1, 4, 16 points) the mean of the
 * last K values, m_K(t), is compared with the means m_K(s) of the
 * previous NOV_WINDOW points (all but the newest, so that a new level
 * stays new for two points):
 *
 *   e_K(t) = min_s |m_K(t) - m_K(s)| / R(t)
 *
 * where R(t) is the robust range of every value before t (0.1 % to
 * 99.9 % quantiles). The raw score is max(e_1, 0.5 e_4, 0.5 e_16): a
 * value outside the range seen, or inside a gap of it (a level never
 * visited, such as a drop to an intermediate level), scores high; noise
 * around visited levels scores 0. Normalising by the range mirrors how a
 * person reads a plot of the series (NAB's labellers did), and is the
 * causal counterpart of the whole-file minimum and maximum that NAB hands
 * to its detectors, which we do not use.
 *
 * This is nearest-neighbour novelty detection (the one-dimensional case
 * of kNN anomaly scoring, e.g. Ramaswamy et al., SIGMOD 2000) on
 * multi-scale means, with a sliding memory so that levels not seen for
 * two weeks (at 5-minute sampling) become new again. Alarms are thinned
 * by an_suppress (stream.h).
 *
 * The constants (det_novelty.h) were chosen on NAB, one configuration
 * for all series; docs/anomaly.md lists how far the score moves when
 * each is halved or doubled (the window most: -4.3 at 2000).
 */
#include "analysis/det_novelty.h"

#include <math.h>
#include <string.h>

const unsigned an_novelty_k[NOV_SCALES] = {1, 4, 16};
#define nov_k an_novelty_k

/* m_K(t) from the ring, always summed the same way so that a mean
 * recomputed for removal lands in the bin it was added to. */
double an_novelty_mean(const det_novelty_t *d, uint64_t t, unsigned k)
{
	double s = 0;
	for (unsigned j = 0; j < k; j++)
		s += d->ring[(t - (k - 1) + j) % NOV_RING];
	return s / k;
}

/* The window of scale index j after point i: means at t in
 * [i - L - W + 1, i - L] (W the window) with t >= K - 1, L the scale's lag
 * (1 unless set otherwise). first/last set; false when empty. */
static bool window(const det_novelty_t *d, int j, uint64_t i,
		   uint64_t *first, uint64_t *last)
{
	unsigned k = nov_k[j], lag = d->lag[j];
	if (i < lag || i - lag < k - 1)
		return false;
	*last = i - lag;
	unsigned w = d->window;
	*first = i >= w + lag - 1 ? i - w - lag + 1 : 0;
	if (*first < k - 1)
		*first = k - 1;
	return true;
}

/* Rebuilds scale j's histogram around the current robust range, wide
 * enough to hold every window mean (i: the current point, whose mean is
 * not in the window yet). */
static void regrid(det_novelty_t *d, int j, uint64_t i)
{
	unsigned k = nov_k[j];
	uint64_t a, b;
	double lo = an_extremes_quantile(&d->ext, NOV_TAIL);
	double hi = an_extremes_quantile(&d->ext, 1 - NOV_TAIL);
	double r = hi - lo;
	if (!(r > 0))
		r = fabs(hi) * 1e-3 + 1e-9;
	/* The grid spans three robust ranges, a bin is 1/1365 of one. */
	an_vhist_reset(&d->h[j], lo - r, 3 * r / AN_VH_BINS);
	if (!window(d, j, i, &a, &b))
		return;
	bool ok = true;
	for (uint64_t t = a; t <= b && ok; t++)
		ok = an_vhist_add(&d->h[j], an_novelty_mean(d, t, k));
	if (ok)
		return;
	/* More than AN_VH_OUT means lie outside: span all of them. */
	double mn = INFINITY, mx = -INFINITY;
	for (uint64_t t = a; t <= b; t++) {
		double m = an_novelty_mean(d, t, k);
		mn = m < mn ? m : mn;
		mx = m > mx ? m : mx;
	}
	r = mx - mn > 0 ? mx - mn : fabs(mx) * 1e-3 + 1e-9;
	an_vhist_reset(&d->h[j], mn - r / 4, 1.5 * r / AN_VH_BINS);
	for (uint64_t t = a; t <= b; t++)
		an_vhist_add(&d->h[j], an_novelty_mean(d, t, k));
}

void an_novelty_init_opts(det_novelty_t *d, unsigned quiet,
			  unsigned long_lag)
{
	memset(d, 0, sizeof(*d));
	an_extremes_init(&d->ext);
	for (int j = 0; j < NOV_SCALES; j++) {
		an_vhist_reset(&d->h[j], 0, 1);
		d->lag[j] = 1;
	}
	if (long_lag < 1)
		long_lag = 1;
	d->lag[NOV_SCALES - 1] = long_lag < NOV_LAG_MAX ? long_lag : NOV_LAG_MAX;
	d->quiet = quiet > NOV_WARM ? quiet : NOV_WARM;
	d->window = NOV_WINDOW;
}

void an_novelty_set_window(det_novelty_t *d, unsigned window)
{
	d->window = window < 16 ? 16 : window > NOV_WINDOW ? NOV_WINDOW : window;
}

void an_novelty_init(det_novelty_t *d)
{
	an_novelty_init_opts(d, NOV_QUIET, 1);
}

/* Moves scale j's window from window(i - 1) to window(i): drops
 * m_K(i - L - W), adds m_K(i - L) (L the scale's lag); regrids
 * when the grid has become too coarse for the range or cannot hold the
 * new mean. */
static void slide(det_novelty_t *d, int j, uint64_t i, double r)
{
	unsigned k = nov_k[j], lag = d->lag[j];
	if (r > 0 && r < d->h[j].w * AN_VH_BINS / 3 / NOV_REGRID_SHRINK) {
		regrid(d, j, i);
		return;
	}
	unsigned w = d->window;
	if (i >= w + lag && i - lag - w >= k - 1)
		an_vhist_del(&d->h[j], an_novelty_mean(d, i - lag - w, k));
	if (i >= lag && i - lag >= k - 1 &&
	    !an_vhist_add(&d->h[j], an_novelty_mean(d, i - lag, k)))
		regrid(d, j, i);
}

double an_novelty_range(const det_novelty_t *d)
{
	return an_extremes_quantile(&d->ext, 1 - NOV_TAIL) -
	       an_extremes_quantile(&d->ext, NOV_TAIL);
}

double an_novelty_observe(det_novelty_t *d, double x)
{
	uint64_t i = d->n;
	d->ring[i % NOV_RING] = (float)x;
	double lo = an_extremes_quantile(&d->ext, NOV_TAIL);
	double hi = an_extremes_quantile(&d->ext, 1 - NOV_TAIL);
	double raw = 0;
	for (int j = 0; j < NOV_SCALES; j++) {
		unsigned k = nov_k[j];
		if (i >= NOV_WARM && i + 1 >= k && d->h[j].n > 10) {
			double m = an_novelty_mean(d, i, k);
			double r = hi - lo;
			if (!(r > 0))
				r = fabs(m) * 1e-2 + 1e-9;
			double e = an_vhist_nearest(&d->h[j], m) / r;
			if (j > 0)
				e *= NOV_LONG_WEIGHT;
			if (e > raw)
				raw = e;
		}
	}
	return i < d->quiet ? 0 : raw;
}

void an_novelty_commit(det_novelty_t *d)
{
	uint64_t i = d->n;
	an_extremes_add(&d->ext, d->ring[i % NOV_RING]);
	double r = an_novelty_range(d);
	for (int j = 0; j < NOV_SCALES; j++) {
		/* The first grid is drawn once the range is known. */
		if (i == NOV_WARM / 2)
			regrid(d, j, i);
		else
			slide(d, j, i, r);
	}
	d->n++;
}

double an_novelty_raw(det_novelty_t *d, double x)
{
	double raw = an_novelty_observe(d, x);
	an_novelty_commit(d);
	return raw;
}

static void novelty_init(void *st)
{
	an_novelty_init(st);
	an_suppress_init(&((det_novelty_t *)st)->sup, NOV_ALARM, NOV_REST,
			 NOV_REST_FRAC, NOV_ESCAPE);
}

static double novelty_update(void *st, double t, double x)
{
	det_novelty_t *d = st;
	(void)t;
	double s = an_suppress(&d->sup, an_novelty_raw(d, x));
	return s / (1 + s);
}

const an_det_ops_t an_det_novelty_ops = {
	{"novelty",
	 "distance to the nearest recent level (1, 4, 16-point means), in "
	 "units of the series' range",
	 sizeof(det_novelty_t)},
	novelty_init,
	novelty_update,
};
