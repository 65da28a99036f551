/*
 * series.h: in-memory windows of recent points per series, for the
 * analysis (deviation, velocity and forecasts look back analysis.window).
 * A window is a bounded ring buffer of (timestamp, value): pushing onto a
 * full one drops the oldest point. A set holds one window per series
 * handle (store.h's dense ids), made on first push, up to a bound.
 * One owner thread (the control thread).
 */
#ifndef UMBRA_METRICS_SERIES_H
#define UMBRA_METRICS_SERIES_H

#include <stddef.h>
#include <stdint.h>

/* Series one set holds: 3 sides x ~40 metrics x (1 + endpoints); 64k
 * windows of 600 points is ~600 MiB, so the bound is what a config with
 * mirror.max_endpoints at its default needs, with room. */
#define SERIES_SET_MAX 65536

typedef struct series_window {
	int64_t *ts;
	double *v;
	size_t cap, head, len; /* head: slot of the next push */
} series_window_t;

/* A window of cap points (cap >= 1). */
void series_window_init(series_window_t *w, size_t cap);
void series_window_free(series_window_t *w);
/* Appends a point; drops the oldest when full. Points must come in time
 * order; an older timestamp than the newest is ignored (returns -1),
 * an equal one replaces the newest value. Returns 0. */
int series_window_push(series_window_t *w, int64_t ts, double v);
size_t series_window_len(const series_window_t *w);
/* Point i, 0 = oldest. i < len. */
void series_window_at(const series_window_t *w, size_t i, int64_t *ts,
		      double *v);
/* Copies the points with ts >= since (oldest first) into ts/v, up to max
 * (either array may be NULL); returns how many. */
size_t series_window_since(const series_window_t *w, int64_t since,
			   int64_t *ts, double *v, size_t max);

typedef struct series_set {
	series_window_t **w; /* by handle, NULL until first push */
	size_t n;            /* handles addressable */
	size_t cap_points;   /* points per window */
} series_set_t;

/* Windows of cap_points each (analysis.window / analysis.interval). */
void series_set_init(series_set_t *s, size_t cap_points);
void series_set_free(series_set_t *s);
/* Pushes onto handle's window, making it. 0, or ERR_FULL when handle >=
 * SERIES_SET_MAX. */
int series_set_push(series_set_t *s, uint32_t handle, int64_t ts, double v);
/* The window of handle, or NULL if it has none. */
const series_window_t *series_set_get(const series_set_t *s,
				      uint32_t handle);

#endif
