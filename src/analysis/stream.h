/*
 * stream.h: bounded streaming building blocks shared by the anomaly
 * detectors (anomaly.h): a robust range of everything seen, a sliding
 * window of values that answers "how far is v from the nearest value in
 * the window" and quantiles in O(bins / 64), and the suppression of
 * repeated alarms. Every structure is a fixed-size struct with no
 * allocation; pure (no I/O, no clocks, no globals).
 */
#ifndef UMBRA_ANALYSIS_STREAM_H
#define UMBRA_ANALYSIS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ extremes */

/* The AN_EXT_K largest and smallest values seen, so that the
 * 0.1 % / 99.9 % quantiles of all values are exact for up to
 * AN_EXT_K / 0.001 = 32 000 values (NAB's longest file has 22 695) and
 * the 32nd-most-extreme value after that. */
#define AN_EXT_K 32

typedef struct an_extremes {
	double hi[AN_EXT_K]; /* largest first */
	double lo[AN_EXT_K]; /* smallest first */
	size_t n;            /* values seen */
} an_extremes_t;

void an_extremes_init(an_extremes_t *e);
void an_extremes_add(an_extremes_t *e, double x);
/* The q-quantile (q < 0.5: from the low end, else the high end) of the
 * values seen, interpolated like a sorted array would be, for
 * q <= AN_EXT_K / n or 1 - q <= AN_EXT_K / n; clamped to the most
 * extreme AN_EXT_K otherwise. 0 when nothing was seen. */
double an_extremes_quantile(const an_extremes_t *e, double q);

/* ------------------------------------------------------ value histogram */

/* A multiset of values on a grid of AN_VH_BINS bins, plus up to
 * AN_VH_OUT values outside the grid kept exactly. Adding and removing
 * are O(1); nearest-value distance and quantiles scan 64-bin words. The
 * grid is chosen by the caller (an_vhist_regrid); a value landing in a
 * bin is "equal" to every value of that bin, so the grid's bin width is
 * the resolution of distances. */
#define AN_VH_BINS 4096
#define AN_VH_WORDS (AN_VH_BINS / 64)
#define AN_VH_OUT 64

typedef struct an_vhist {
	double lo, w;      /* bin b holds [lo + b w, lo + (b + 1) w) */
	uint32_t n;        /* values held, in bins and outside */
	uint32_t nout;     /* values outside the grid, sorted */
	float out[AN_VH_OUT];
	uint64_t occ[AN_VH_WORDS];  /* bit b set: cnt[b] > 0 */
	uint16_t grp[AN_VH_WORDS];  /* values in bins 64 g .. 64 g + 63 */
	uint16_t cnt[AN_VH_BINS];
} an_vhist_t;

/* Empties h and sets its grid to [lo, lo + AN_VH_BINS w); w > 0. */
void an_vhist_reset(an_vhist_t *h, double lo, double w);
/* Adds x; returns false (and adds nothing) when x is off the grid and
 * the outside list is full: the caller must regrid. Bins hold at most
 * 65535 values, so windows must be shorter than that. */
bool an_vhist_add(an_vhist_t *h, double x);
/* Removes one x that was added with the same grid. */
void an_vhist_del(an_vhist_t *h, double x);
/* Distance from x to the nearest value held (0 when x's bin holds one;
 * distances to binned values are measured to the bin's nearer edge);
 * INFINITY when empty. */
double an_vhist_nearest(const an_vhist_t *h, double x);
/* The q-quantile of the values held (a binned value counts as its bin's
 * centre); 0 when empty. O(AN_VH_WORDS + 64). */
double an_vhist_quantile(const an_vhist_t *h, double q);

/* --------------------------------------------------------- suppression */

/* One alarm per event: after a raw score at or above level, the scores
 * of the next max(rest, rest_frac * points seen) points are reported as
 * 0 unless they exceed escape times the alarm's score (a much larger
 * event). The rest-period rule is the Contextual Anomaly Detector's
 * (Smirnov, NAB 2016); the escape and the rest growing with the history
 * are ours: an event in a long, busy history is followed by more of the
 * same before the series settles. */
typedef struct an_suppress {
	double level, escape, rest_frac;
	uint32_t rest;
	uint32_t since; /* points since the last alarm */
	uint64_t n;     /* points seen */
	double last;    /* raw score of the last alarm */
} an_suppress_t;

void an_suppress_init(an_suppress_t *s, double level, uint32_t rest,
		      double rest_frac, double escape);
/* Filters one raw score (>= 0); returns the score to report. */
double an_suppress(an_suppress_t *s, double raw);

#endif
