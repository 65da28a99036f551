/*
 * det_novelty.h: the novelty detector's state and raw score, for the
 * registry (det_novelty.c) and the ensemble (det_ensemble.c), which
 * embeds it. See det_novelty.c for the method.
 */
#ifndef UMBRA_ANALYSIS_DET_NOVELTY_H
#define UMBRA_ANALYSIS_DET_NOVELTY_H

#include "analysis/anomaly_int.h"
#include "analysis/stream.h"

/* Past means searched per scale, at most: two weeks at 5-minute
 * sampling, one day of NAB's 1-minute series; the largest the ring below
 * holds within the per-series budget. The window actually used is a
 * parameter (det_novelty_t.window), chosen by cross-validation among
 * 1000, 2000 and 4000 (docs/anomaly.md). */
#define NOV_WINDOW 4000
#define NOV_SCALES 3
/* Raw values kept: the window plus the longest scale plus the longest
 * lag (NOV_LAG_MAX). */
#define NOV_RING 4096
/* The drift lag: a scale may compare its mean with the means of at
 * least this many points before rather than one (an_novelty_init_opts).
 * A slow slide into levels never visited then scores slope x lag instead
 * of slope x 1. NOV_DRIFT_LAG is the default detector's, chosen by
 * cross-validation (det_ensemble.c). At most NOV_LAG_MAX, which the ring
 * holds. */
#define NOV_DRIFT_LAG 64
#define NOV_LAG_MAX 79
/* Points seen before scores are computed, and before any is reported:
 * NAB's shortest file has 169 probationary points; ranges settle in
 * a few hundred. */
#define NOV_WARM 150
#define NOV_QUIET 300
/* The default detector's first scored point, chosen by cross-validation
 * (det_ensemble.c): NAB's shortest probation is 169 points. */
#define NOV_QUIET_EARLY 200
/* Tails cut from the range: 0.1 % each side, so a single wild value
 * does not shrink every later score. */
#define NOV_TAIL 0.001
/* Longer scales confirm shifts and count half: a sustained new level
 * also shows at K = 1. */
#define NOV_LONG_WEIGHT 0.5
/* Suppression: alarms at raw 0.04 (4 % of the range, where NAB's
 * threshold search lands) silence the next 100 points, or 3 % of the
 * points seen if more, unless ten times larger. (The growing rest took
 * 0.5 points off NAB's false positives: a long history's events come in
 * longer bursts; 2 % and 5 % did less.) */
#define NOV_ALARM 0.04
#define NOV_REST 100
#define NOV_REST_FRAC 0.03
#define NOV_ESCAPE 10.0

/* A grid whose range has grown eight times wider than the data's is
 * redrawn, keeping distances resolved to 1/170 of the range or better. */
#define NOV_REGRID_SHRINK 8

typedef struct det_novelty {
	float ring[NOV_RING]; /* raw values, index t % NOV_RING */
	uint64_t n;           /* points seen */
	unsigned lag[NOV_SCALES]; /* scale j's window ends lag[j] points back */
	unsigned quiet;           /* points before any score is reported */
	unsigned window;          /* past means per scale (<= NOV_WINDOW) */
	an_extremes_t ext;
	an_vhist_t h[NOV_SCALES]; /* m_K(s) for the window */
	an_suppress_t sup;
} det_novelty_t;

_Static_assert(sizeof(det_novelty_t) <= AN_DET_MAX_STATE,
	       "novelty state within the per-series budget");
_Static_assert(NOV_RING >= NOV_WINDOW + 16 + NOV_LAG_MAX,
	       "ring covers the window at the longest lag");
_Static_assert(NOV_DRIFT_LAG <= NOV_LAG_MAX, "drift lag within the ring");

/* The scales K, shortest first. */
extern const unsigned an_novelty_k[NOV_SCALES];

/* Sets the window (points of past means searched per scale) of a state
 * just initialised, before any point: 16 <= window <= NOV_WINDOW
 * (clamped). The cross-validation (an_ens_params_t) searches it. */
void an_novelty_set_window(det_novelty_t *d, unsigned window);
/* The novelty detector's state as the "novelty" detector uses it: every
 * scale's window ends one point back, quiet for NOV_QUIET points. */
void an_novelty_init(det_novelty_t *d);
/* The same with the longest scale's window ending long_lag points back
 * (1 <= long_lag <= NOV_LAG_MAX; clamped) and quiet for quiet points
 * (at least NOV_WARM; clamped). */
void an_novelty_init_opts(det_novelty_t *d, unsigned quiet,
			  unsigned long_lag);
/* Feeds x; returns its raw novelty (>= 0; 0 during warm-up), before
 * suppression. Same as observe then commit. */
double an_novelty_raw(det_novelty_t *d, double x);
/* The two halves of an_novelty_raw, so that another detector can read
 * the state in between: observe stores x as point d->n and scores it
 * against the windows of the points before; commit adds it to them. */
double an_novelty_observe(det_novelty_t *d, double x);
void an_novelty_commit(det_novelty_t *d);
/* m_K(t), the mean of points t - K + 1 .. t, for t within the ring
 * (t <= d->n, and d->n - t <= NOV_RING - K). */
double an_novelty_mean(const det_novelty_t *d, uint64_t t, unsigned k);
/* The robust range (0.1 % to 99.9 %) of the committed values. */
double an_novelty_range(const det_novelty_t *d);

#endif
