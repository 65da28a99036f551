/*
 * det_record.h: the record detector's state, for the registry
 * (det_record.c) and the ensemble (det_ensemble.c). It reads the novelty
 * detector's windows (det_novelty.h) rather than keeping its own, so the
 * two together fit the per-series budget.
 */
#ifndef UMBRA_ANALYSIS_DET_RECORD_H
#define UMBRA_ANALYSIS_DET_RECORD_H

#include "analysis/det_novelty.h"

/* Features: the level of each novelty scale, and its change from one
 * day before (when the sampling has a daily period). */
#define REC_FEATURES (2 * NOV_SCALES)
/* Intervals whose median gives the sampling period. */
#define REC_DT_SAMPLES 16

typedef struct an_record {
	double dt[REC_DT_SAMPLES]; /* first intervals, for the period */
	unsigned ndt;
	double last_t;   /* previous timestamp */
	unsigned period; /* points per day; 0: none or not known yet */
	double med[NOV_SCALES], scale[NOV_SCALES]; /* daily-change location */
	uint64_t nday[NOV_SCALES];                 /* changes seen */
	double top1[REC_FEATURES], top2[REC_FEATURES]; /* largest z so far */
	uint64_t nz[REC_FEATURES];                     /* z values seen */
} an_record_t;

void an_record_init(an_record_t *r);
/* The record score of the point the novelty state has just observed
 * (between an_novelty_observe and an_novelty_commit), stamped t: the
 * largest ratio of a feature's robust z-score to the second-largest
 * z-score that feature reached before; 0 during warm-up. */
double an_record_raw(an_record_t *r, const det_novelty_t *nv, double t);

#endif
