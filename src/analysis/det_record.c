/*
 * det_record.c: the "record" detector: a robust z-score that breaks the
 * series' own record. For each novelty scale K (1, 4, 16 points) two
 * features are scored:
 *
 *   level   m_K(t), against the median and interquartile range of the
 *           means in the novelty window (two weeks at 5 minutes);
 *   daily   m_K(t) - m_K(t - P), P the points per day, against an
 *           exponentially weighted median and mean absolute deviation
 *           (the stochastic-approximation quantile of Tierney, "A space-
 *           efficient recursive procedure for estimating a quantile",
 *           SIAM J. Sci. Stat. Comput. 1983, with the current scale as
 *           the step).
 *
 *   z = |f - median| / max(IQR / 1.349, 1 % of the spread)
 *
 * (1.349 IQR is the normal standard deviation.) The raw score is the
 * largest z / z2 over the features, z2 the second-largest z the feature
 * reached before: a feature's own history calibrates it, so a series
 * whose spikes are routine needs a bigger spike than a quiet one. The
 * second-largest (not the largest) lets the first repeat of a past
 * anomaly still count.
 */
#include "analysis/det_record.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Feature values seen before a feature is scored. */
#define REC_WARM 150
/* No score before this many points (as the novelty detector). */
#define REC_QUIET 300
/* Daily-change location adapts with weight 0.003: a half-life of about
 * 230 points, most of a day at 5 minutes (0.01 and 0.03 scored the
 * same within 0.2 NAB points). */
#define REC_ETA 0.003
/* Scale floors: 1 % of the window's spread (level) or of the series'
 * robust range (daily change), so a flat stretch is not infinitely
 * surprising. */
#define REC_FLOOR 0.01
/* Sampling periods outside 4 .. 4000 points per day are not daily. */
#define REC_PERIOD_MIN 4
#define REC_PERIOD_MAX 4000
/* Mean absolute deviation to standard deviation for normal data. */
#define REC_MAD_SD 1.2533
/* z without a previous record: treat as this many records. */
#define REC_FIRST 100.0

_Static_assert(REC_PERIOD_MAX + 16 < NOV_RING, "ring holds a day back");

void an_record_init(an_record_t *r)
{
	memset(r, 0, sizeof(*r));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Learns the points per day from the median of the first intervals. */
static void learn_period(an_record_t *r, double t, uint64_t i)
{
	if (i > 0 && r->ndt < REC_DT_SAMPLES) {
		r->dt[r->ndt++] = t - r->last_t;
		if (r->ndt == REC_DT_SAMPLES) {
			double v[REC_DT_SAMPLES];
			memcpy(v, r->dt, sizeof(v));
			qsort(v, REC_DT_SAMPLES, sizeof(double), cmp_double);
			double dt = v[REC_DT_SAMPLES / 2];
			double p = dt > 0 ? floor(86400.0 / dt + 0.5) : 0;
			if (p >= REC_PERIOD_MIN && p <= REC_PERIOD_MAX)
				r->period = (unsigned)p;
		}
	}
	r->last_t = t;
}

/* The ratio of z to the feature's second-largest earlier z (when score
 * and the feature is warm); then z joins the feature's history. */
static double versus_record(an_record_t *r, int f, double z, bool score)
{
	double out = 0;
	if (score && r->nz[f] >= REC_WARM) {
		double ref = r->nz[f] >= 2 ? r->top2[f] : r->top1[f];
		out = ref > 0 ? z / ref : (z > 0 ? REC_FIRST : 0);
	}
	if (z > r->top1[f]) {
		r->top2[f] = r->top1[f];
		r->top1[f] = z;
	} else if (z > r->top2[f]) {
		r->top2[f] = z;
	}
	r->nz[f]++;
	return out;
}

/* Robust z of the level m against scale j's window. */
static double level_z(const an_vhist_t *h, double m)
{
	double md = an_vhist_quantile(h, 0.5);
	double iqr = an_vhist_quantile(h, 0.75) - an_vhist_quantile(h, 0.25);
	double spread = an_vhist_quantile(h, 1) - an_vhist_quantile(h, 0);
	double s = iqr / 1.349;
	if (s < REC_FLOOR * spread)
		s = REC_FLOOR * spread;
	if (!(s > 0))
		s = 1e-9;
	return fabs(m - md) / s;
}

/* Robust z of the daily change c of scale j, then the location learns
 * from c. */
static double daily_z(an_record_t *r, int j, double c, double range,
		      bool *ready)
{
	double z = 0;
	*ready = r->nday[j] >= REC_WARM;
	if (*ready) {
		double s = r->scale[j];
		if (s < REC_FLOOR * range)
			s = REC_FLOOR * range;
		if (!(s > 0))
			s = 1e-9;
		z = fabs(c - r->med[j]) / s;
	}
	if (r->nday[j] == 0) {
		r->med[j] = c;
		r->scale[j] = 0;
	} else {
		/* Early on, plain averaging (weight 1 / (n + 1)). */
		double e = r->nday[j] + 1 < 1 / REC_ETA
				   ? 1.0 / (double)(r->nday[j] + 1)
				   : REC_ETA;
		double step = r->scale[j] > 0 ? r->scale[j]
					      : fabs(c - r->med[j]) + 1e-12;
		r->med[j] += e * step * (c > r->med[j] ? 1 : c < r->med[j] ? -1 : 0);
		r->scale[j] = (1 - e) * r->scale[j] +
			      e * REC_MAD_SD * fabs(c - r->med[j]);
	}
	r->nday[j]++;
	return z;
}

double an_record_raw(an_record_t *r, const det_novelty_t *nv, double t)
{
	uint64_t i = nv->n;
	learn_period(r, t, i);
	bool score = i >= REC_QUIET;
	double range = an_novelty_range(nv);
	double raw = 0;
	for (int j = 0; j < NOV_SCALES; j++) {
		unsigned k = an_novelty_k[j];
		if (i + 1 < k)
			continue;
		double m = an_novelty_mean(nv, i, k);
		if (nv->h[j].n >= REC_WARM) {
			double v = versus_record(r, j, level_z(&nv->h[j], m),
						 score);
			raw = v > raw ? v : raw;
		}
		if (r->period && i + 1 >= (uint64_t)r->period + k) {
			double c = m - an_novelty_mean(nv, i - r->period, k);
			bool ready;
			double z = daily_z(r, j, c, range, &ready);
			if (ready) {
				double v = versus_record(r, NOV_SCALES + j, z,
							 score);
				raw = v > raw ? v : raw;
			}
		}
	}
	return raw;
}

/* ------------------------------------------------------------ detector */

/* Alarms at 1.1 (a z 10 % past the series' second record) rest as the
 * novelty detector's do. */
#define REC_ALARM 1.1
#define REC_REST 100
#define REC_ESCAPE 10.0

typedef struct det_record {
	det_novelty_t nv; /* windows and ring */
	an_record_t rec;
	an_suppress_t sup;
} det_record_t;

_Static_assert(sizeof(det_record_t) <= AN_DET_MAX_STATE,
	       "record state within the per-series budget");

static void record_init(void *st)
{
	det_record_t *d = st;
	an_novelty_init(&d->nv);
	an_record_init(&d->rec);
	an_suppress_init(&d->sup, REC_ALARM, REC_REST, NOV_REST_FRAC,
			 REC_ESCAPE);
}

static double record_update(void *st, double t, double x)
{
	det_record_t *d = st;
	an_novelty_observe(&d->nv, x);
	double raw = an_record_raw(&d->rec, &d->nv, t);
	an_novelty_commit(&d->nv);
	double s = an_suppress(&d->sup, raw);
	return s / (1 + s);
}

const an_det_ops_t an_det_record_ops = {
	{"record",
	 "robust z of levels and daily changes against the series' own "
	 "records",
	 sizeof(det_record_t)},
	record_init,
	record_update,
};
