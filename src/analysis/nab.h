/*
 * nab.h: the Numenta Anomaly Benchmark's scoring rules, implemented from
 * their description (Lavin & Ahmad, "Evaluating Real-time Anomaly
 * Detection Algorithms -- the Numenta Anomaly Benchmark", ICMLA 2015, and
 * NAB v1.1's documentation). Pure: anomaly scores and label windows (as row
 * indices) in, scores out; reading the corpus is the command layer's job.
 *
 * The rules, as implemented here:
 *  - A file's first min(floor(0.15 n), 750) rows are probationary: nothing
 *    there counts.
 *  - A row is a detection when its anomaly score is >= the threshold.
 *  - Inside a window [s, e] (width w = e - s + 1) a detection at row i has
 *    relative position y = -(e - i + 1) / w; only the earliest detection of
 *    a window counts, with value tp * sigma(y) / sigma(-1), where
 *    sigma(y) = 2 / (1 + exp(5 y)) - 1 (the scaled sigmoid).
 *  - A window without a detection costs -fn.
 *  - A detection outside every window costs fp * sigma(y) (sigma < 0):
 *    before the first window y = 3 (full cost); after a window ending at e
 *    of width w, y = (i - e) / (w - 1), so detections just after a window
 *    cost little. sigma(y) = -1 for y >= 3.
 *  - One threshold for the whole corpus: the one that maximises the summed
 *    raw score, searched over every distinct anomaly score (ties: the
 *    highest threshold). Each profile has its own.
 *  - Normalised score = 100 (raw - null) / (perfect - null), where null is
 *    the raw score of the constant detector (0.5 everywhere) and perfect is
 *    tp times the number of windows.
 */
#ifndef UMBRA_ANALYSIS_NAB_H
#define UMBRA_ANALYSIS_NAB_H

#include <stddef.h>

/* NAB's probationary period: 15 % of a file, at most 750 rows (0.15 *
 * 5000). */
#define AN_NAB_PROBATION_FRACTION 0.15
#define AN_NAB_PROBATION_MAX 750

/* A cost matrix (NAB's config/profiles.json). */
typedef struct an_nab_profile {
	const char *name;
	double tp, fp, fn;
} an_nab_profile_t;

#define AN_NAB_PROFILES 3
/* standard (1, 0.11, 1), reward_low_FP_rate (1, 0.22, 1),
 * reward_low_FN_rate (1, 0.11, 2). Constant table. */
extern const an_nab_profile_t an_nab_profile[AN_NAB_PROFILES];

/* A label window as row indices, both ends included. */
typedef struct an_nab_window {
	size_t start, end;
} an_nab_window_t;

/* One scored file: everything borrowed. Windows sorted, disjoint, inside
 * [0, n). */
typedef struct an_nab_file {
	size_t n;
	const double *score; /* anomaly scores in [0, 1], n of them */
	const an_nab_window_t *win;
	size_t nwin;
} an_nab_file_t;

/* What a threshold does to one file or the corpus. */
typedef struct an_nab_counts {
	double raw;      /* summed weighted score */
	size_t tp;       /* windows detected */
	size_t fn;       /* windows missed */
	size_t fp;       /* detections outside windows (after probation) */
	double tp_value; /* sum of the detected windows' values */
	double fp_cost;  /* sum of the false positives' (negative) values */
} an_nab_counts_t;

typedef struct an_nab_result {
	double threshold;
	an_nab_counts_t c;
	double null_raw, perfect_raw;
	double score; /* normalised: null 0, perfect 100 */
} an_nab_result_t;

/* Rows of a file of n rows that do not count. */
size_t an_nab_probation(size_t n);

/* NAB's scaled sigmoid of a relative position. */
double an_nab_sigmoid(double y);

/* Scores files at one threshold under profile p into *out. */
void an_nab_score_at(const an_nab_file_t *files, size_t nfiles,
		     const an_nab_profile_t *p, double threshold,
		     an_nab_counts_t *out);

/* The corpus-wide threshold optimisation and normalisation for profile p.
 * Returns 0, or ERR_INVAL when a file's windows are malformed (out of
 * range, unsorted or overlapping) or a score is not a number; then *out is
 * untouched. O(N log N) in the total number of rows. */
int an_nab_score(const an_nab_file_t *files, size_t nfiles,
		 const an_nab_profile_t *p, an_nab_result_t *out);

#endif
