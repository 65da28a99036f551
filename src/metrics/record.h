/*
 * record.h: what the daemon does with each tick's samples: every value
 * that was measured becomes a point of its series, in the store (for
 * history, export and the API) and in the in-memory windows (for the
 * analysis). A recorder names the series of one service, caches their
 * store handles, and gives each series a window handle that the analysis
 * uses to find the window again:
 *
 *   side series      (service, side, metric, "") for every catalogue
 *                    metric of metrics.h
 *   endpoint series  (service, side, metric, endpoint name) for the
 *                    request metrics of METRICS_ENDPOINT_SERIES, per
 *                    endpoint that had requests in the interval
 *
 * Either sink may be absent (no store: windows only). One owner thread.
 */
#ifndef UMBRA_METRICS_RECORD_H
#define UMBRA_METRICS_RECORD_H

#include "metrics/agg.h"
#include "metrics/metrics.h"
#include "metrics/series.h"
#include "metrics/store.h"

#include <stddef.h>
#include <stdint.h>

/* The request metrics kept per endpoint (each one series per side and
 * endpoint: 6 x 3 x mirror.max_endpoints at most). */
#define METRICS_ENDPOINT_SERIES(X)                                         \
	X(RPS)                                                             \
	X(LATENCY_P50)                                                     \
	X(LATENCY_P90)                                                     \
	X(LATENCY_P99)                                                     \
	X(ERROR_RATE)                                                      \
	X(DIFF_RATE)
#define METRICS_NEP_SERIES 6

typedef struct metrics_recorder metrics_recorder_t;

/* A recorder for service (copied). st and win are borrowed and may be
 * NULL. Returns new memory. */
metrics_recorder_t *metrics_recorder_new(const char *service, store_t *st,
					 series_set_t *win);
void metrics_recorder_free(metrics_recorder_t *r);

/* Appends every non-NaN value of s (side's sample) at s->ts_ns. Returns
 * the number of points the store refused (its memory bound; counted
 * there too), 0 when all went in. */
size_t metrics_recorder_sample(metrics_recorder_t *r, int side,
			       const metrics_sample_t *s);

/* Appends the per-endpoint request metrics of the aggregator's last
 * interval, for every side and endpoint with requests, at ts_ns. Returns
 * what the store refused. */
size_t metrics_recorder_endpoints(metrics_recorder_t *r,
				  const metrics_agg_t *agg, int64_t ts_ns);

/* The window handle of a side series, or of an endpoint series (endpoint
 * id from the aggregator's names); UINT32_MAX for a metric that is not
 * kept per endpoint. The window itself: series_set_get(win, handle). */
uint32_t metrics_recorder_handle(const metrics_recorder_t *r, int side,
				 metrics_id_t m);
uint32_t metrics_recorder_endpoint_handle(const metrics_recorder_t *r,
					  int side, uint32_t endpoint,
					  metrics_id_t m);

#endif
