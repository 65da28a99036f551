/*
 * offline.h: the offline analysis, `umbra analyze --prod P --shadow S`:
 * production's and the shadow's parsed metric files (csv.h) become ticks
 * on one time grid, and each tick goes through an_analyzer_update exactly
 * as the live loop's would; events are handed to the analyzer at the
 * first tick at or after their start, as the live loop learns of them.
 * So offline and online cannot disagree.
 *
 * The grid: the interval is production's typical spacing (the mean of
 * the spacings near their median: jitter and gaps do not move it; the
 * file's own tick, whatever the configured one); each
 * point goes to the nearest grid time from the earliest timestamp of the
 * two files; points of one series in one slot are averaged. A slot with
 * no point from either file is a gap: no tick.
 */
#ifndef UMBRA_ANALYSIS_OFFLINE_H
#define UMBRA_ANALYSIS_OFFLINE_H

#include "analysis/analysis.h"
#include "analysis/csv.h"

#define AN_OFFLINE_MAX_ENDPOINTS AN_MAX_ENDPOINTS
/* Ticks one run may span (grid slots from first to last): a year of
 * 1-second ticks; more is a unit mistake (milliseconds as seconds). */
#define AN_OFFLINE_MAX_TICKS (366LL * 86400)

typedef enum an_offline_file {
	AN_OFF_PROD = 0,
	AN_OFF_SHADOW,
	AN_OFF_EVENTS,
} an_offline_file_t;

/* Why a run was refused before it started: which file, where (line and
 * col 1-based; 0 when the problem is the file as a whole), why. */
typedef struct an_offline_err {
	an_offline_file_t file;
	int line, col;
	const char *why;
} an_offline_err_t;

typedef struct an_offline_stats {
	int64_t interval_ns; /* the grid's */
	size_t ticks;
	size_t findings, suppressed;
} an_offline_stats_t;

/* Called with each finding, in order; a non-zero return stops the run and
 * is returned. The finding is borrowed for the call. */
typedef int (*an_offline_cb)(const an_finding_t *f, void *ctx);

/* Runs the analysis with params (its interval replaced by the grid's)
 * over prod and shadow (borrowed; points are reordered by time) and
 * events (borrowed; may be NULL). Everything is checked before the first
 * tick, so on a refusal cb was never called. Returns 0, the callback's
 * non-zero value, or ERR_PARSE / ERR_INVAL with *err filled. */
int an_offline_run(const an_params_t *params, an_csv_series_t *prod,
		   an_csv_series_t *shadow, const an_csv_events_t *events,
		   an_offline_cb cb, void *ctx, an_offline_stats_t *st,
		   an_offline_err_t *err);

#endif
