/*
 * det_season.c: the seasonality-break channel (det_shape.h) and the
 * "season" detector. A metric that loses its daily cycle (a dead
 * dependency, a cache that stopped expiring, a load balancer sending
 * nothing) or runs it hours late stays inside its range, and each of its
 * points is a value seen before; what is wrong is the value for the time
 * of day. The channel learns two profiles from the timestamps, the mean
 * per 15 minutes of the day and per 15 minutes of the week (exponentially
 * weighted per bin: about three days of visits for the daily one, one
 * week for the weekly one), and follows three quarter-day means of
 * signed residuals (exponential, a quarter day of points), each residual
 * clipped at three times the mean absolute residual (Huber):
 *
 *   fit_d   x - daily profile,  fit_w   x - weekly profile,
 *   flat    x - the level of the last day
 *
 * Noise averages out of a quarter-day mean (by the root of 72 points at
 * 5-minute sampling); a lost or shifted cycle does not: it leaves a bias
 * of the cycle's size for hours (a matched filter for the profile's
 * absence). fit = the smaller |fit_d|, |fit_w| once a week has been
 * seen (so weekends do not break a daily profile), else |fit_d|. The
 * series is seasonal when the usual |fit| (three-day mean) is clearly
 * below the usual |flat|; then the score is |fit| over its usual size.
 *
 * Profiles are predictions: a point is compared with the profile before
 * it updates it, so the score at t uses data before t and the point.
 */
#include "analysis/anomaly_int.h"
#include "analysis/det_shape.h"
#include "analysis/stream.h"

#include <math.h>
#include <string.h>

#define SEAS_DAY_S 86400.0
#define SEAS_WEEK_S (7 * SEAS_DAY_S)
/* The interval is smoothed with weight 0.01 (a hundred intervals): one
 * missing sample moves it 1 %. */
#define SEAS_DT_ETA 0.01
/* Days of memory: the daily profile and the usual sizes, three days (a
 * weekend does not rewrite them); the weekly profile, one week of
 * visits. */
#define SEAS_DAY_MEMORY 3.0
/* No score before eight days: a week for the weekly profile, a day for
 * the usual sizes to see it. */
#define SEAS_WARM_S (8 * SEAS_DAY_S)
/* Seasonal: the profiles' usual distance at most 1/1.2 of a flat
 * line's (they explain a sixth of the movement or more). */
#define SEAS_STRENGTH 1.5
/* Robust learning: a distance counts at most 1.5 times the usual one
 * (Huber's clipping at a small multiple of the scale), so a day without
 * its cycle moves the usual size by at most half its own rate. */
#define SEAS_CLIP 1.5
/* The usual fit counts as at least a tenth of the usual flat distance: a
 * noiseless cycle fits its profile almost exactly, and rounding would
 * otherwise look like a break (a lost cycle then scores about 10). */
#define SEAS_FIT_FLOOR 0.03
/* The seasonal test takes the usual fit as at least a tenth of the point
 * scale (the mean absolute residual): a quarter-day mean of pure noise
 * is about a twelfth of it at 5-minute sampling, and the smaller of two
 * noisy fits is smaller still, so without the floor white noise would
 * pass for a cycle. */
#define SEAS_NOISE_FLOOR 0.1
/* A residual counts at most three point scales (mean absolute residuals;
 * 3.8 normal standard deviations). */
#define SEAS_RES_CLIP 3.0

void an_season_init(an_season_t *s)
{
	memset(s, 0, sizeof(*s));
}

static double clip(double r, double lim)
{
	return r > lim ? lim : r < -lim ? -lim : r;
}

/* Moves a profile bin towards x, clipped to within lim of the bin's
 * mean once it has one, with weight max(1/visits, eta). */
static void learn(float *m, uint16_t *cnt, double x, double eta,
		  double lim)
{
	double e = *cnt ? x - *m : x;
	if (*cnt && e > lim)
		e = lim;
	if (*cnt && e < -lim)
		e = -lim;
	if (*cnt < UINT16_MAX)
		(*cnt)++;
	double w = 1.0 / *cnt;
	if (w < eta)
		w = eta;
	*m = *cnt == 1 ? (float)x : (float)(*m + w * e);
}

double an_season_update(an_season_t *s, double t, double x)
{
	if (s->n == 0) {
		s->t0 = t;
		s->mean = x;
	} else if (t > s->last_t) {
		double d = t - s->last_t;
		s->dt = s->dt > 0 ? s->dt + SEAS_DT_ETA * (d - s->dt) : d;
	}
	s->last_t = t;
	s->n++;
	double per_day = s->dt > 0 ? SEAS_DAY_S / s->dt : 0;
	if (per_day < SEAS_PERIOD_MIN || per_day > SEAS_PERIOD_MAX ||
	    !(t >= s->t0))
		return 0;
	double q = 4 / per_day; /* a quarter day of points */
	double base = 1 / (SEAS_DAY_MEMORY * per_day);
	double visits = per_day / SEAS_DAY_BINS; /* per bin per day */
	size_t bd = (size_t)(fmod(t, SEAS_DAY_S) / SEAS_DAY_S * SEAS_DAY_BINS);
	size_t bw = (size_t)(fmod(t, SEAS_WEEK_S) / SEAS_WEEK_S *
			     SEAS_WEEK_BINS);
	bd = bd < SEAS_DAY_BINS ? bd : SEAS_DAY_BINS - 1;
	bw = bw < SEAS_WEEK_BINS ? bw : SEAS_WEEK_BINS - 1;
	bool week_seen = t - s->t0 >= SEAS_WEEK_S;
	/* Residuals count at most SEAS_RES_CLIP point scales (once the
	 * scale has a day behind it): one wild value moves a quarter-day
	 * mean little. */
	double lim = s->nsc > per_day ? SEAS_RES_CLIP * s->scale : INFINITY;
	if (s->nday[bd]) {
		double r = clip(x - s->day[bd], lim);
		s->fit_d += q * (r - s->fit_d);
		s->nsc++;
		double w = base > 1.0 / s->nsc ? base : 1.0 / s->nsc;
		s->scale += w * (fabs(r) - s->scale);
	}
	/* The weekly profile is judged from its second week on (in the
	 * first, a bin is compared only with its own earlier points); its
	 * mean is the plain mean of its residuals until it holds a quarter
	 * day. */
	if (week_seen && s->nweek[bw]) {
		s->nw++;
		double w = q > 1.0 / s->nw ? q : 1.0 / s->nw;
		s->fit_w += w * (clip(x - s->week[bw], lim) - s->fit_w);
	}
	s->flat += q * (clip(x - s->mean, lim) - s->flat);
	s->mean += (1 / per_day) * (x - s->mean);
	double fit = fabs(s->fit_d);
	if (week_seen && fabs(s->fit_w) < fit)
		fit = fabs(s->fit_w);
	/* The usual fit restarts when the weekly profile joins: before, it
	 * held the weekends' distance from the daily profile. Until a day
	 * has passed it is the plain mean since the restart. */
	if (week_seen && !s->week_on) {
		s->week_on = true;
		s->nb = 0;
	}
	s->nb++;
	bool settled = s->nb > per_day;
	double base_w = base > 1.0 / s->nb ? base : 1.0 / s->nb;
	double score = 0;
	if (t - s->t0 >= SEAS_WARM_S && settled && s->base_fit > 0 &&
	    s->base_flat >= SEAS_STRENGTH * fmax(s->base_fit,
						 SEAS_NOISE_FLOOR * s->scale))
		score = fit / fmax(s->base_fit, SEAS_FIT_FLOOR * s->base_flat);
	/* The usual sizes learn robustly: a distance counts at most
	 * SEAS_CLIP times the usual one, so an anomalous day moves them
	 * little (a lasting change is learnt over days). */
	double cap = settled ? SEAS_CLIP * s->base_fit : INFINITY;
	s->base_fit += base_w * ((fit < cap ? fit : cap) - s->base_fit);
	s->base_flat += base * (fabs(s->flat) - s->base_flat);
	learn(&s->day[bd], &s->nday[bd], x, 1 / (SEAS_DAY_MEMORY * visits),
	      lim);
	learn(&s->week[bw], &s->nweek[bw], x, 1 / visits, lim);
	return score;
}

/* ------------------------------------------------------ the detector */

/* The detector's alarm: the quarter-day distance three times its usual
 * size; one alarm per event as the other detectors (rest 100 points or
 * 3 % of those seen, escape at 8 times). */
#define SEAS_ALARM 2.0
#define SEAS_REST 100
#define SEAS_REST_FRAC 0.03
#define SEAS_ESCAPE 8.0

typedef struct det_season {
	an_season_t se;
	an_suppress_t sup;
} det_season_t;

static void season_init(void *p)
{
	det_season_t *d = p;
	an_season_init(&d->se);
	an_suppress_init(&d->sup, SEAS_ALARM, SEAS_REST, SEAS_REST_FRAC,
			 SEAS_ESCAPE);
}

static double season_update(void *p, double t, double x)
{
	det_season_t *d = p;
	double r = an_season_update(&d->se, t, x) - 1;
	double s = an_suppress(&d->sup, r > 0 ? r : 0);
	return s / (1 + s);
}

const an_det_ops_t an_det_season_ops = {
	{"season",
	 "the last quarter day's mean residual from the learned daily and weekly "
	 "profiles, against its usual size",
	 sizeof(det_season_t)},
	season_init,
	season_update,
};
