/*
 * det_stuck.c: the stuck-signal channel (det_shape.h) and the "stuck"
 * detector. A metric whose exporter repeats its last sample, or whose
 * source died behind a cache, stays inside its usual range, so neither
 * level nor deviation detectors see it; what changes is how long the
 * value stays the same. The channel keeps the length of the current run
 * of values within STUCK_EPS of the series' robust range of the run's
 * first value, and the two longest runs that have ended; a run that
 * grows to `factor` times the second-longest (or STUCK_MIN_BASE points,
 * if more) is reported once, with the ratio. The series' own history of runs
 * calibrates it: a count series whose zeros come in runs of 20 needs a
 * run of 20 x factor.
 */
#include "analysis/anomaly_int.h"
#include "analysis/det_shape.h"
#include "analysis/stream.h"

#include <math.h>
#include <string.h>

void an_stuck_init(an_stuck_t *s)
{
	memset(s, 0, sizeof(*s));
}

double an_stuck_update(an_stuck_t *s, double x, double range)
{
	double tol = range > 0 ? STUCK_EPS * range : 0;
	if (s->run > 0 && fabs(x - s->last) <= tol) {
		s->run++;
	} else {
		if (s->run > s->top1) {
			s->top2 = s->top1;
			s->top1 = s->run;
		} else if (s->run > s->top2) {
			s->top2 = s->run;
		}
		if (s->run > 0)
			s->nruns++;
		s->last = x;
		s->run = 1;
	}
	if (s->nruns < STUCK_MIN_RUNS)
		return 0;
	uint64_t base = s->top2 > STUCK_MIN_BASE ? s->top2 : STUCK_MIN_BASE;
	return (double)s->run / (double)base;
}

double an_stuck_once(double ratio, double prev, double factor)
{
	return factor > 0 && ratio >= factor && prev < factor ? ratio : 0;
}

/* ------------------------------------------------------ the detector */

/* The detector alarms at a run twice the record: a flat stretch as long
 * as the longest before is not yet news (the default ensemble's factor
 * is chosen by cross-validation instead, det_ensemble.c). */
#define STUCK_FACTOR 2.0
/* Tails cut from the range, as the novelty detector's. */
#define STUCK_TAIL 0.001

typedef struct det_stuck {
	an_extremes_t ext;
	an_stuck_t st;
	double prev; /* the ratio of the point before */
} det_stuck_t;

static void stuck_init(void *p)
{
	det_stuck_t *d = p;
	an_extremes_init(&d->ext);
	an_stuck_init(&d->st);
	d->prev = 0;
}

/* The ratio, squashed into [0, 1): 2/3 at the alarm. */
static double stuck_update(void *p, double t, double x)
{
	det_stuck_t *d = p;
	(void)t;
	double range = an_extremes_quantile(&d->ext, 1 - STUCK_TAIL) -
		       an_extremes_quantile(&d->ext, STUCK_TAIL);
	double ratio = an_stuck_update(&d->st, x, range);
	double r = an_stuck_once(ratio, d->prev, STUCK_FACTOR);
	d->prev = ratio;
	an_extremes_add(&d->ext, x);
	return r / (1 + r);
}

const an_det_ops_t an_det_stuck_ops = {
	{"stuck",
	 "a run of (near-)identical values twice the second-longest run "
	 "before",
	 sizeof(det_stuck_t)},
	stuck_init,
	stuck_update,
};
