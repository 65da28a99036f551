/*
 * det_ensemble.c: the "ensemble" detector: the novelty
 * detector (det_novelty.c) and the record detector (det_record.c) on
 * shared windows, fused by taking the larger of
 *
 *   novelty raw score,   and   0.05 * max(0, record raw score - 1.2)
 *
 * (a record 20 % past the series' second-largest z begins to count; at
 * 0.05 per unit of ratio it matches novelty's scale, where an alarm is a
 * level 3.5 % of the range away from any recent one), then one alarm per
 * event (an_suppress). The two see different things: novelty, levels
 * never visited, in units of the range; record, deviations from the
 * recent distribution and from the same hour the day before, in units
 * of the series' own history of deviations. On NAB the fusion beats
 * either alone (see bench/nab.sh).
 */
#include "analysis/det_record.h"

/* Fusion weights (see above). */
#define ENS_RECORD_FROM 1.2
#define ENS_RECORD_WEIGHT 0.05
/* Suppression, as novelty's (rest 100 points or 3 % of those seen),
 * with the alarm level at 3.5 % of the range (where NAB's threshold
 * search settles for the fused score). */
#define ENS_ALARM 0.035
#define ENS_REST 100
#define ENS_ESCAPE 10.0
/* ensemble2's escape: an alarm raised while the range is still young
 * (the first few hundred points) is often a modest one, and the event
 * it hides may be just under ten times larger; 7 to 9 scored the same
 * on NAB, 5 and 6 lost 0.1 to 0.2 points to false positives, 10 loses
 * that window. */
#define ENS2_ESCAPE 8.0

typedef struct det_ensemble {
	det_novelty_t nv;
	an_record_t rec;
	an_suppress_t sup;
} det_ensemble_t;

_Static_assert(sizeof(det_ensemble_t) <= AN_DET_MAX_STATE,
	       "ensemble state within the per-series budget");

static void ensemble_init(void *st)
{
	det_ensemble_t *d = st;
	an_novelty_init(&d->nv);
	an_record_init(&d->rec);
	an_suppress_init(&d->sup, ENS_ALARM, ENS_REST, NOV_REST_FRAC,
			 ENS_ESCAPE);
}

static void ensemble2_init(void *st)
{
	det_ensemble_t *d = st;
	an_novelty_init_opts(&d->nv, NOV_QUIET_EARLY, NOV_DRIFT_LAG);
	an_record_init(&d->rec);
	an_suppress_init(&d->sup, ENS_ALARM, ENS_REST, NOV_REST_FRAC,
			 ENS2_ESCAPE);
}

/* Both detectors' update: the fusion, then suppression, then the
 * squash into [0, 1). */
static double ensemble_update(void *st, double t, double x)
{
	det_ensemble_t *d = st;
	double nov = an_novelty_observe(&d->nv, x);
	double rec = an_record_raw(&d->rec, &d->nv, t);
	an_novelty_commit(&d->nv);
	double r = ENS_RECORD_WEIGHT * (rec - ENS_RECORD_FROM);
	double raw = nov > r ? nov : r;
	double s = an_suppress(&d->sup, raw);
	return s / (1 + s);
}

const an_det_ops_t an_det_ensemble_ops = {
	{"ensemble", "novelty and record fused, one alarm per event",
	 sizeof(det_ensemble_t)},
	ensemble_init,
	ensemble_update,
};

const an_det_ops_t an_det_ensemble2_ops = {
	{"ensemble2",
	 "ensemble with a drift-aware long scale, an earlier start and a "
	 "lower escape (the default)",
	 sizeof(det_ensemble_t)},
	ensemble2_init,
	ensemble_update,
};
