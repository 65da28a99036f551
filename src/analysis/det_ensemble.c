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
 *
 * "ensemble3", the default, adds the shape channels of det_shape.h to
 * the largest-of: a stuck run's report at the alarm level times its
 * ratio, and the season channel's excess over 1 scaled to reach the
 * alarm at p.season. an_det_kind names the channel of each alarm.
 */
#include "analysis/det_record.h"
#include "analysis/det_shape.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>

/* Fusion weights (see above). */
#define ENS_RECORD_FROM 1.2
#define ENS_RECORD_WEIGHT 0.05
/* Suppression, as novelty's (rest 100 points or 3 % of those seen),
 * with the alarm level at 3.5 % of the range (where NAB's threshold
 * search settles for the fused score). */
#define ENS_ALARM AN_DET_ALARM_RAW
#define ENS_REST 100
#define ENS_ESCAPE 10.0
/* The default detector's constants (an_ens_params_t) are searched by
 * cross-validation (`umbra analyze --nab DIR --cv K`) over the
 * candidates below; docs/anomaly.md gives the held-out scores of that
 * procedure. The candidates are the ranges the first rounds
 * explored: a window of one to four thousand means (the ring holds no
 * more), a first scored point from NAB's shortest probation (169 rows) to
 * the plain ensemble's 300, a drift lag of none to the ring's 64-point
 * limit, an escape of 6 to 10 times the last alarm; and for the shape
 * channels (det_shape.h), off or an alarm at a run 1.5 to 3 times the
 * record, off or at a quarter-day bias 4 to 8 times its usual size.
 *
 * The grid's order puts the fusion's constants (escape, stuck, season)
 * innermost: consecutive points share the channels' constants (window,
 * quiet, lag), so the cross-validation computes each channel run once
 * (an_ens_channels) and fuses it many times (an_ens_fuse). */
static const unsigned ens_grid_window[] = {1000, 2000, 4000};
static const unsigned ens_grid_quiet[] = {170, 200, 300};
static const unsigned ens_grid_lag[] = {1, 32, 64};
static const double ens_grid_escape[] = {6, 8, 10};
static const double ens_grid_stuck[] = {0, 1.5, 2, 3};
static const double ens_grid_season[] = {0, 4, 6, 8};
#define GRID_N(a) (sizeof(a) / sizeof((a)[0]))

/* ensemble2's constants: the first rounds' choice on the whole corpus,
 * without the shape channels. */
static const an_ens_params_t ens2_params = {
	.window = NOV_WINDOW,
	.quiet = NOV_QUIET_EARLY,
	.lag = NOV_DRIFT_LAG,
	.escape = 8,
	.stuck = 0,
	.season = 0,
};

/* ensemble's: the plain fusion. */
static const an_ens_params_t ens1_params = {
	.window = NOV_WINDOW,
	.quiet = NOV_QUIET,
	.lag = 1,
	.escape = ENS_ESCAPE,
	.stuck = 0,
	.season = 0,
};

/* ensemble3's: window, first point, lag, escape and stuck are the
 * cross-validation's choice on the whole of NAB (`--cv`, any split: the
 * in-sample best of the grid; 170 ties with 200 to 250 there and comes
 * first). The season alarm is the one constant chosen on both
 * benchmarks: NAB alone picks it off (8 costs 0.03 points there), the
 * operational benchmark wants it as low as 4; 8 is the lowest that
 * costs NAB nothing measurable (docs/anomaly.md). */
const an_ens_params_t an_ens_default = {
	.window = NOV_WINDOW,
	.quiet = 170,
	.lag = NOV_DRIFT_LAG,
	.escape = 8,
	.stuck = 2,
	.season = 8,
};

size_t an_ens_grid_size(void)
{
	return GRID_N(ens_grid_window) * GRID_N(ens_grid_quiet) *
	       GRID_N(ens_grid_lag) * an_ens_grid_fuse_block();
}

size_t an_ens_grid_fuse_block(void)
{
	return GRID_N(ens_grid_escape) * GRID_N(ens_grid_stuck) *
	       GRID_N(ens_grid_season);
}

void an_ens_grid_at(size_t i, an_ens_params_t *out)
{
	*out = an_ens_default;
	out->season = ens_grid_season[i % GRID_N(ens_grid_season)];
	i /= GRID_N(ens_grid_season);
	out->stuck = ens_grid_stuck[i % GRID_N(ens_grid_stuck)];
	i /= GRID_N(ens_grid_stuck);
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
	snprintf(buf, size,
		 "window=%u quiet=%u lag=%u escape=%g stuck=%g season=%g",
		 p->window, p->quiet, p->lag, p->escape, p->stuck, p->season);
	return buf;
}

/* The channels' state: the level detectors on shared windows, and the
 * shape channels. */
typedef struct ens_chan_state {
	det_novelty_t nv;
	an_record_t rec;
	an_stuck_t st;
	an_season_t se;
} ens_chan_state_t;

/* The fusion's state: suppression and the stuck ratio of the point
 * before (for its once-per-run report). */
typedef struct ens_fuse_state {
	an_ens_params_t p;
	an_suppress_t sup;
	double prev_stuck;
	const char *kind; /* the channel of the last nonzero score */
} ens_fuse_state_t;

typedef struct det_ensemble {
	ens_chan_state_t ch;
	ens_fuse_state_t fu;
} det_ensemble_t;

_Static_assert(sizeof(det_ensemble_t) <= AN_DET_MAX_STATE,
	       "ensemble state within the per-series budget");

static void chan_init(ens_chan_state_t *c, const an_ens_params_t *p)
{
	an_novelty_init_opts(&c->nv, p->quiet, p->lag);
	an_novelty_set_window(&c->nv, p->window);
	an_record_init(&c->rec);
	an_stuck_init(&c->st);
	an_season_init(&c->se);
}

/* Every channel's raw value for (t, x). */
static an_ens_chan_t chan_step(ens_chan_state_t *c, double t, double x)
{
	an_ens_chan_t o;
	o.nov = an_novelty_observe(&c->nv, x);
	o.rec = an_record_raw(&c->rec, &c->nv, t);
	/* The tolerance's unit: the range before this point. */
	o.stuck = an_stuck_update(&c->st, x, an_novelty_range(&c->nv));
	an_novelty_commit(&c->nv);
	o.season = an_season_update(&c->se, t, x);
	return o;
}

static void fuse_init(ens_fuse_state_t *f, const an_ens_params_t *p)
{
	f->p = *p;
	an_suppress_init(&f->sup, ENS_ALARM, ENS_REST, NOV_REST_FRAC,
			 p->escape >= 1 ? p->escape : 1);
	f->prev_stuck = 0;
	f->kind = NULL;
}

/* The fusion: the largest of novelty, the record's excess, a stuck run
 * once it reaches p.stuck times the record (at the alarm level times the
 * ratio: an alarm whenever it speaks), and the season channel's excess
 * over 1 (at the alarm level when the distance is p.season times its
 * usual size); then suppression and the squash into [0, 1). */
static double fuse_step(ens_fuse_state_t *f, const an_ens_chan_t *c)
{
	double r = ENS_RECORD_WEIGHT * (c->rec - ENS_RECORD_FROM);
	double raw = c->nov > r ? c->nov : r;
	const char *kind = "level";
	double st = an_stuck_once(c->stuck, f->prev_stuck, f->p.stuck);
	f->prev_stuck = c->stuck;
	if (ENS_ALARM * st > raw) {
		raw = ENS_ALARM * st;
		kind = "stuck";
	}
	if (f->p.season > 1 && c->season > 1) {
		double se = ENS_ALARM * (c->season - 1) / (f->p.season - 1);
		if (se > raw) {
			raw = se;
			kind = "season";
		}
	}
	double s = an_suppress(&f->sup, raw);
	if (s > 0)
		f->kind = kind;
	return s / (1 + s);
}

void an_ens_channels(const an_ens_params_t *p, const double *t,
		     const double *x, size_t n, an_ens_chan_t *out)
{
	ens_chan_state_t *c = xmalloc(sizeof(*c));
	chan_init(c, p);
	for (size_t i = 0; i < n; i++)
		out[i] = chan_step(c, t[i], x[i]);
	free(c);
}

void an_ens_fuse(const an_ens_params_t *p, const an_ens_chan_t *ch,
		 size_t n, double *scores)
{
	ens_fuse_state_t f;
	fuse_init(&f, p);
	for (size_t i = 0; i < n; i++)
		scores[i] = fuse_step(&f, &ch[i]);
}

void an__ens_init_params(void *st, const an_ens_params_t *p)
{
	det_ensemble_t *d = st;
	chan_init(&d->ch, p);
	fuse_init(&d->fu, p);
}

static void ensemble_init(void *st)
{
	an__ens_init_params(st, &ens1_params);
}

static void ensemble2_init(void *st)
{
	an__ens_init_params(st, &ens2_params);
}

static void ensemble3_init(void *st)
{
	an__ens_init_params(st, &an_ens_default);
}

static const char *ensemble_kind(const void *st)
{
	return ((const det_ensemble_t *)st)->fu.kind;
}

static double ensemble_update(void *st, double t, double x)
{
	det_ensemble_t *d = st;
	an_ens_chan_t c = chan_step(&d->ch, t, x);
	return fuse_step(&d->fu, &c);
}

const an_det_ops_t an_det_ensemble_ops = {
	{"ensemble", "novelty and record fused, one alarm per event",
	 sizeof(det_ensemble_t)},
	ensemble_init,
	ensemble_update,
	ensemble_kind,
};

const an_det_ops_t an_det_ensemble2_ops = {
	{"ensemble2",
	 "ensemble with a drift-aware long scale, an earlier start and a "
	 "lower escape",
	 sizeof(det_ensemble_t)},
	ensemble2_init,
	ensemble_update,
	ensemble_kind,
};

const an_det_ops_t an_det_ensemble3_ops = {
	{"ensemble3",
	 "ensemble2 with the stuck-signal and seasonality-break channels "
	 "(the default)",
	 sizeof(det_ensemble_t)},
	ensemble3_init,
	ensemble_update,
	ensemble_kind,
};
