/*
 * det_shape.h: two channels that see what the level detectors (novelty,
 * record) cannot, because the values stay inside their usual range:
 *
 *   stuck    (det_stuck.c)  a signal that stopped moving: the current run
 *            of identical or near-identical values against the longest
 *            run the series has produced before;
 *   season   (det_season.c) a broken daily or weekly cycle: the last
 *            quarter day's mean residual from the learned time-of-day
 *            and time-of-week profiles, against its usual size.
 *
 * Each is a small fixed-size state with init and update, causal, used on
 * its own by the "stuck" and "season" detectors and inside the default
 * ensemble (det_ensemble.c), which reads the novelty detector's robust
 * range for the stuck channel's tolerance.
 */
#ifndef UMBRA_ANALYSIS_DET_SHAPE_H
#define UMBRA_ANALYSIS_DET_SHAPE_H

#include <stdbool.h>
#include <stdint.h>

/* ------------------------------------------------------------- stuck */

/* Values within this fraction of the robust range of each other are
 * "the same": far below any real movement (a 0.1 % range step is 1e3
 * times larger), far above the rounding of a repeated sample. */
#define STUCK_EPS 1e-6
/* Runs that must have ended before the channel speaks: a series that has
 * changed value fewer times has no history of runs (a constant series
 * never alarms). */
#define STUCK_MIN_RUNS 100
/* The shortest run that can be "longer than usual": in a series whose
 * values always change, a run of 6 points (30 minutes at 5-minute
 * sampling) is already unusual, but shorter repeats happen by rounding. */
#define STUCK_MIN_BASE 6

typedef struct an_stuck {
	double last;     /* the run's value */
	uint64_t run;    /* points in the current run */
	uint64_t top1, top2; /* the two longest runs that have ended */
	uint64_t nruns;  /* runs ended */
} an_stuck_t;

void an_stuck_init(an_stuck_t *s);
/* Feeds x; range: the series' robust range so far (the tolerance's
 * unit). Returns the ratio of the current run's length to the
 * second-longest run that has ended (at least STUCK_MIN_BASE points; the
 * second, so that the first repeat of a stuck stretch still counts); 0
 * before STUCK_MIN_RUNS runs have ended. */
double an_stuck_update(an_stuck_t *s, double x, double range);

/* A report once per run: the ratio at the first point where it reaches
 * factor (> 0), else 0. prev: the ratio of the point before (the caller
 * keeps it). */
double an_stuck_once(double ratio, double prev, double factor);

/* ------------------------------------------------------------ season */

/* Profiles: the time of day in 96 bins (15 minutes) and the time of week
 * in 7 x 96; a 5-minute series visits each daily bin 3 times a day. */
#define SEAS_DAY_BINS 96
#define SEAS_WEEK_BINS (7 * SEAS_DAY_BINS)
/* Sampling outside 24 .. 2880 points per day (1 hour to 30 seconds) has
 * no daily profile worth the name at 15-minute bins. */
#define SEAS_PERIOD_MIN 24
#define SEAS_PERIOD_MAX 2880

typedef struct an_season {
	float day[SEAS_DAY_BINS], week[SEAS_WEEK_BINS]; /* profile means */
	uint16_t nday[SEAS_DAY_BINS], nweek[SEAS_WEEK_BINS]; /* visits */
	double t0, last_t; /* first and previous timestamps */
	double dt;         /* smoothed sampling interval (s) */
	uint64_t n;        /* points seen */
	double mean;       /* the series' level over the last day */
	double fit_d, fit_w, flat; /* quarter-day mean residuals (signed) */
	double scale;              /* mean |daily residual| (three days) */
	uint64_t nsc;              /* residuals in scale */
	double base_fit, base_flat; /* their usual sizes (three days) */
	bool week_on;               /* the weekly profile is in use */
	uint64_t nw, nb; /* points in fit_w; in base_fit since its restart */
} an_season_t;

void an_season_init(an_season_t *s);
/* Feeds (t, x). Returns the ratio of the last quarter day's mean
 * residual from the better of the two profiles to its usual size, when the series is
 * seasonal (the profiles fit it clearly better than a flat line) and at
 * least eight days have been seen; 0 otherwise. */
double an_season_update(an_season_t *s, double t, double x);

#endif
