/*
 * agg.h: request metrics from the proxy's per-request records (reqrec.h).
 * The proxy's workers publish records into one SPSC ring each (ring.h);
 * once per tick the control thread drains every ring into the aggregator
 * and closes the interval. Per side and per endpoint (strtab.h ids) it
 * yields requests/s, latency and time-to-first-byte quantiles from a
 * log-bucket histogram (hist.h, <= 1% relative error), error rate,
 * comparison-differ rate, bytes, and upstream connect time; plus
 * cumulative totals and a Prometheus histogram per side for the
 * exposition.
 *
 * Definitions:
 *   error     no usable response (record error != OK) or a 5xx status
 *   compared  a shadow or baseline record with cls MATCH, DIFFER or NOISE
 *   differ    cls DIFFER (NOISE differs but the baseline differs alike,
 *             so it is not counted as a difference)
 *   connect   mean connect_us of records that opened a new connection
 *   latency   over requests that got a response or timed out (a refused
 *             connection's few microseconds would hide real slowness)
 *
 * One owner thread (the control thread); the rings are the only thing
 * shared with the proxy.
 */
#ifndef UMBRA_METRICS_AGG_H
#define UMBRA_METRICS_AGG_H

#include "base/reqrec.h"
#include "base/ring.h"
#include "base/strtab.h"
#include "metrics/metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_AGG_MAX_RINGS 256 /* proxy workers; 64 cores x 4 is plenty */
#define METRICS_AGG_DRAIN_BATCH 256 /* records copied per ring_pop */

/* Bucket bounds (seconds) of the exposed latency histogram: the Prometheus
 * client default (5 ms .. 10 s) plus 1 ms and 2.5 ms for fast services.
 * Few buckets on purpose: one series per bucket per side. */
#define METRICS_AGG_PROM_BUCKETS                                           \
	{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,  \
	 5, 10}
#define METRICS_AGG_NPROM 13

/* One side or one endpoint over the last closed tick. */
typedef struct metrics_req_stats {
	double interval_s;
	uint64_t requests, errors, compared, differ, noise, new_conns;
	uint64_t client_aborts; /* the client left before the response
				   ended: counted in requests, not errors */
	uint64_t req_bytes, resp_bytes;
	double rps, error_rate, diff_rate; /* NaN when nothing to divide */
	double latency[3], ttfb[3];        /* p50 p90 p99, s; NaN when none */
	double latency_res[3];             /* their resolutions, s
					      (metrics_hist_quantile_res) */
	double connect_s;                  /* mean; NaN when no new conns */
	double req_bytes_per_s, resp_bytes_per_s;
} metrics_req_stats_t;

/* Cumulative since the aggregator was made. */
typedef struct metrics_req_totals {
	uint64_t requests, errors, compared, differ, noise;
	uint64_t client_aborts;
	uint64_t req_bytes, resp_bytes;
	/* The exposed histogram: requests with a latency (a response, or a
	 * timeout), their sum, and the count per bucket (not cumulative;
	 * those above the last bound only in latency_count). */
	uint64_t latency_count;
	double latency_sum_s;
	uint64_t buckets[METRICS_AGG_NPROM];
} metrics_req_totals_t;

typedef struct metrics_agg metrics_agg_t;

/* An aggregator for endpoint ids 0..max_endpoints (ids beyond are counted
 * as STRTAB_OTHER). names is borrowed (may be NULL: endpoints then have
 * no names). The first interval starts at start_ns (monotonic clock).
 * Returns new memory. */
metrics_agg_t *metrics_agg_new(const strtab_t *names, size_t max_endpoints,
			       int64_t start_ns);
void metrics_agg_free(metrics_agg_t *a);

/* Registers a ring (borrowed; records of reqrec_t) to drain. 0 or
 * ERR_FULL past METRICS_AGG_MAX_RINGS. */
int metrics_agg_add_ring(metrics_agg_t *a, ring_t *r);

/* Pops every ring empty into the current interval; returns the number of
 * records. */
size_t metrics_agg_drain(metrics_agg_t *a);

/* Adds one record to the current interval. Records with an unknown side
 * are counted (metrics_agg_invalid) and ignored. */
void metrics_agg_add(metrics_agg_t *a, const reqrec_t *r);

/* Closes the current interval at now_ns (monotonic): computes the stats
 * of every side and endpoint, and starts the next interval. */
void metrics_agg_tick(metrics_agg_t *a, int64_t now_ns);

/* Stats of side over the last closed interval (borrowed, valid until the
 * next tick; zero requests if the side saw none). NULL for a bad side. */
const metrics_req_stats_t *metrics_agg_side(const metrics_agg_t *a,
					    int side);

/* Stats of one endpoint of side over the last closed interval, or NULL
 * when it had no requests in it. */
const metrics_req_stats_t *metrics_agg_endpoint(const metrics_agg_t *a,
						int side, uint32_t id);

/* Endpoint ids are 0..metrics_agg_endpoint_limit()-1. */
uint32_t metrics_agg_endpoint_limit(const metrics_agg_t *a);

/* The name of endpoint id ("other" for 0), or NULL when unknown. */
const char *metrics_agg_endpoint_name(const metrics_agg_t *a, uint32_t id);

/* Cumulative totals of side (endpoint UINT32_MAX) or of one endpoint;
 * NULL when never seen. */
const metrics_req_totals_t *metrics_agg_totals(const metrics_agg_t *a,
					       int side, uint32_t endpoint);

/* Records ignored for a bad side byte. */
uint64_t metrics_agg_invalid(const metrics_agg_t *a);

/* Writes side's request metrics (rps, latency, ttfb, connect time, error
 * and diff rate) of the last interval into s; leaves the others alone.
 * When net is true also net_rx/net_tx from the proxy's byte counts. */
void metrics_agg_fill(const metrics_agg_t *a, int side, bool net,
		      metrics_sample_t *s);

#endif
