/*
 * anomaly.h: streaming anomaly detectors for one series. A detector sees
 * (timestamp, value) pairs in order and answers each with an anomaly
 * score in [0, 1]; the score at t uses data up to t only. Detectors are
 * named (`umbra analyze --detector NAME`), and every one runs with one
 * configuration for every series: nothing is tuned per series.
 *
 * Each detector keeps its whole state in one fixed-size struct (no
 * allocation after creation), at most AN_DET_MAX_STATE bytes.
 *
 * Pure: no I/O, no clocks, no globals (the random detector carries its
 * own generator).
 */
#ifndef UMBRA_ANALYSIS_ANOMALY_H
#define UMBRA_ANALYSIS_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The per-series state budget (issue 8): 64 KiB. */
#define AN_DET_MAX_STATE (64 * 1024)

typedef struct an_det an_det_t;

/* What the registry knows of a detector. */
typedef struct an_det_info {
	const char *name;    /* no '_': NAB's own scripts split on it */
	const char *summary; /* one line */
	size_t state_bytes;  /* per series */
} an_det_info_t;

/* The registered detectors: i < an_det_count(), in table order. */
size_t an_det_count(void);
const an_det_info_t *an_det_at(size_t i);
/* The detector called name, or NULL. */
const an_det_info_t *an_det_find(const char *name);

/* A new detector (a registered name); NULL for an unknown name.
 * Caller owns it (an_det_free). */
an_det_t *an_det_new(const char *name);
void an_det_free(an_det_t *d);
/* Feeds one point (t in seconds since any fixed origin, increasing or
 * not; x finite) and returns its anomaly score in [0, 1]. */
double an_det_update(an_det_t *d, double t, double x);
const an_det_info_t *an_det_info(const an_det_t *d);
/* What raised d's last nonzero score, for detectors that fuse channels:
 * "level" (a level or deviation: novelty, record), "stuck" (a run of
 * identical values), "season" (a broken daily or weekly cycle); NULL
 * before any nonzero score and for detectors that do not say. Static
 * string. */
const char *an_det_kind(const an_det_t *d);

/* Batch form: scores[i] for the series (t[i], x[i]), i < n, through a
 * fresh detector; a loop over an_det_update. Returns 0 or ERR_NOTFOUND
 * for an unknown name. */
int an_det_run(const char *name, const double *t, const double *x, size_t n,
	       double *scores);

/* ----------------------------------------------- the default detector */

/* The detector umbra uses when none is named: `umbra analyze --nab`, the
 * daemon's per-metric anomaly scores, the bench. */
#define AN_DET_DEFAULT "ensemble3"
/* The default detector's alarm on its [0, 1) scale: a fused raw score of
 * 0.035 (3.5 % of the range for a level; the stuck channel's report; the
 * season channel at its alarm), squashed as s / (1 + s). NAB's threshold
 * search lands there (0.0338). */
#define AN_DET_ALARM_RAW 0.035
#define AN_DET_ALARM (AN_DET_ALARM_RAW / (1 + AN_DET_ALARM_RAW))

/* The default detector's constants that were chosen on data. Each is
 * searched by cross-validation over the grid an_ens_grid_at lists
 * (`umbra analyze --nab DIR --cv K`, docs/anomaly.md). */
typedef struct an_ens_params {
	unsigned window; /* past means per novelty scale (points) */
	unsigned quiet;  /* the first point that may score */
	unsigned lag;    /* the 16-point scale's drift lag (points) */
	double escape;   /* a score this many times the last alarm's breaks
			  * the rest after it */
	double stuck;    /* alarm at a run of (near-)identical values this
			  * many times the series' record; 0: off */
	double season;   /* alarm at a quarter day's distance from the daily
			  * and weekly profiles this many times its usual
			  * size; 0: off */
} an_ens_params_t;

/* The default detector's constants. */
extern const an_ens_params_t an_ens_default;

/* The candidate grid: an_ens_grid_size() points, the product of each
 * constant's candidates. Writes point i (< size) into *out. */
size_t an_ens_grid_size(void);
void an_ens_grid_at(size_t i, an_ens_params_t *out);
/* Grid points i and j differ only in escape, stuck and season (the
 * fusion's constants) when i / block == j / block. */
size_t an_ens_grid_fuse_block(void);
/* Prints p as "window=W quiet=Q lag=L escape=E stuck=S season=R" into
 * buf. Returns buf. */
char *an_ens_params_str(const an_ens_params_t *p, char *buf, size_t size);

/* The default detector in two stages, for searching its constants
 * cheaply: the channels' raw values per point (they depend on window,
 * quiet and lag only), then their fusion into scores (escape, stuck and
 * season). an_ens_fuse(p, an_ens_channels(p, ...)) gives exactly the
 * scores of an_det_new_ens(p). */
typedef struct an_ens_chan {
	double nov, rec, stuck, season;
} an_ens_chan_t;
void an_ens_channels(const an_ens_params_t *p, const double *t,
		     const double *x, size_t n, an_ens_chan_t *out);
void an_ens_fuse(const an_ens_params_t *p, const an_ens_chan_t *ch,
		 size_t n, double *scores);

/* A new default detector with constants p (values outside their ranges
 * are clamped). Caller owns it (an_det_free). */
an_det_t *an_det_new_ens(const an_ens_params_t *p);

#endif
