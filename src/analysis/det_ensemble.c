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

#include <stdio.h>

/* Fusion weights (see above). */
#define ENS_RECORD_FROM 1.2
#define ENS_RECORD_WEIGHT 0.05
/* Suppression, as novelty's (rest 100 points or 3 % of those seen),
 * with the alarm level at 3.5 % of the range (where NAB's threshold
 * search settles for the fused score). */
#define ENS_ALARM 0.035
#define ENS_REST 100
#define ENS_ESCAPE 10.0
/* ensemble2's constants (an_ens_params_t), each the value the
 * cross-validation (`umbra analyze --nab DIR --cv K`) picks on the whole
 * corpus from the candidates below; docs/anomaly.md gives the held-out
 * scores of that choice. The candidates are the ranges the first rounds
 * explored: a window of one to four thousand means (the ring holds no
 * more), a first scored point from NAB's shortest probation (169 rows) to
 * the plain ensemble's 300, a drift lag of none to the ring's 64-point
 * limit, an escape of 6 to 10 times the last alarm. */
static const unsigned ens_grid_window[] = {1000, 2000, 4000};
static const unsigned ens_grid_quiet[] = {170, 200, 300};
static const unsigned ens_grid_lag[] = {1, 32, 64};
static const double ens_grid_escape[] = {6, 8, 10};
#define GRID_N(a) (sizeof(a) / sizeof((a)[0]))

const an_ens_params_t an_ens_default = {
	.window = NOV_WINDOW,
	.quiet = NOV_QUIET_EARLY,
	.lag = NOV_DRIFT_LAG,
	.escape = 8,
};

size_t an_ens_grid_size(void)
{
	return GRID_N(ens_grid_window) * GRID_N(ens_grid_quiet) *
	       GRID_N(ens_grid_lag) * GRID_N(ens_grid_escape);
}

void an_ens_grid_at(size_t i, an_ens_params_t *out)
{
	*out = an_ens_default;
	out->escape = ens_grid_escape[i % GRID_N(ens_grid_escape)];
	i /= GRID_N(ens_grid_escape);
	out->lag = ens_grid_lag[i % GRID_N(ens_grid_lag)];
	i /= GRID_N(ens_grid_lag);
	out->quiet = ens_grid_quiet[i % GRID_N(ens_grid_quiet)];
	i /= GRID_N(ens_grid_quiet);
	out->window = ens_grid_window[i % GRID_N(ens_grid_window)];
}

char *an_ens_params_str(const an_ens_params_t *p, char *buf, size_t size)
{
	snprintf(buf, size, "window=%u quiet=%u lag=%u escape=%g", p->window,
		 p->quiet, p->lag, p->escape);
	return buf;
}

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

void an__ens_init_params(void *st, const an_ens_params_t *p)
{
	det_ensemble_t *d = st;
	an_novelty_init_opts(&d->nv, p->quiet, p->lag);
	an_novelty_set_window(&d->nv, p->window);
	an_record_init(&d->rec);
	an_suppress_init(&d->sup, ENS_ALARM, ENS_REST, NOV_REST_FRAC,
			 p->escape >= 1 ? p->escape : 1);
}

static void ensemble2_init(void *st)
{
	an__ens_init_params(st, &an_ens_default);
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
