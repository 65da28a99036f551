/*
 * agg.c: the request aggregator (see agg.h). Each (side, endpoint) pair
 * has a slot, made on first use: the current interval's counters and two
 * histograms, the last closed interval's stats, and the totals. Each side
 * also has a slot for all its endpoints together.
 */
#include "metrics/agg.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/xmalloc.h"
#include "metrics/hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
	/* current interval */
	uint64_t requests, errors, compared, differ, noise, new_conns;
	uint64_t client_aborts;
	uint64_t req_bytes, resp_bytes;
	double connect_sum_s;
	metrics_hist_t lat, ttfb;
	/* last closed interval */
	metrics_req_stats_t last;
	metrics_req_totals_t tot;
} slot_t;

struct metrics_agg {
	const strtab_t *names;
	uint32_t nep; /* endpoint ids 0..nep-1 */
	slot_t **ep[METRICS_SIDES]; /* [side][id], NULL until used */
	slot_t side[METRICS_SIDES];
	bool side_seen[METRICS_SIDES];
	ring_t *rings[METRICS_AGG_MAX_RINGS];
	size_t nrings;
	int64_t start_ns;
	uint64_t invalid;
};

static const double prom_bounds[METRICS_AGG_NPROM] = METRICS_AGG_PROM_BUCKETS;

static void slot_init(slot_t *s)
{
	memset(s, 0, sizeof(*s));
	metrics_hist_init(&s->lat);
	metrics_hist_init(&s->ttfb);
}

static void slot_free(slot_t *s)
{
	metrics_hist_free(&s->lat);
	metrics_hist_free(&s->ttfb);
}

metrics_agg_t *metrics_agg_new(const strtab_t *names, size_t max_endpoints,
			       int64_t start_ns)
{
	metrics_agg_t *a = xcalloc(1, sizeof(*a));
	a->names = names;
	/* ids 0 ("other") .. max_endpoints, as strtab hands them out */
	a->nep = (uint32_t)(max_endpoints + 1);
	for (int s = 0; s < METRICS_SIDES; s++) {
		a->ep[s] = xcalloc(a->nep, sizeof(slot_t *));
		slot_init(&a->side[s]);
	}
	a->start_ns = start_ns;
	return a;
}

void metrics_agg_free(metrics_agg_t *a)
{
	if (!a)
		return;
	for (int s = 0; s < METRICS_SIDES; s++) {
		for (uint32_t i = 0; i < a->nep; i++) {
			if (a->ep[s][i]) {
				slot_free(a->ep[s][i]);
				free(a->ep[s][i]);
			}
		}
		free(a->ep[s]);
		slot_free(&a->side[s]);
	}
	free(a);
}

int metrics_agg_add_ring(metrics_agg_t *a, ring_t *r)
{
	if (a->nrings >= METRICS_AGG_MAX_RINGS)
		return ERR_FULL;
	a->rings[a->nrings++] = r;
	return 0;
}

size_t metrics_agg_drain(metrics_agg_t *a)
{
	reqrec_t batch[METRICS_AGG_DRAIN_BATCH];
	size_t total = 0;
	for (size_t i = 0; i < a->nrings; i++) {
		size_t n;
		/* bounded: a ring holds at most its capacity, and records
		 * pushed while we drain wait for the next tick */
		size_t left = ring_count(a->rings[i]);
		while (left > 0 &&
		       (n = ring_pop(a->rings[i], batch,
				     METRICS_AGG_DRAIN_BATCH)) > 0) {
			for (size_t k = 0; k < n; k++)
				metrics_agg_add(a, &batch[k]);
			total += n;
			left = n < left ? left - n : 0;
		}
	}
	return total;
}

static void slot_add(slot_t *s, const reqrec_t *r, bool err, double lat_s,
		     int bucket)
{
	s->requests++;
	s->tot.requests++;
	if (err) {
		s->errors++;
		s->tot.errors++;
	}
	if (r->error == REQREC_ERR_CLIENT) {
		s->client_aborts++;
		s->tot.client_aborts++;
	}
	if (r->side != REQREC_PRODUCTION && r->cls != REQREC_UNCOMPARED &&
	    r->cls <= REQREC_NOISE) {
		s->compared++;
		s->tot.compared++;
		if (r->cls == REQREC_DIFFER) {
			s->differ++;
			s->tot.differ++;
		} else if (r->cls == REQREC_NOISE) {
			s->noise++;
			s->tot.noise++;
		}
	}
	if (r->connect_us) {
		s->new_conns++;
		s->connect_sum_s += r->connect_us * 1e-6;
	}
	s->req_bytes += r->req_bytes;
	s->resp_bytes += r->resp_bytes;
	s->tot.req_bytes += r->req_bytes;
	s->tot.resp_bytes += r->resp_bytes;
	/* A refused connection or a reset has no latency worth ranking (it
	 * would pull the quantiles down); a timeout's is real slowness. */
	if (r->error == REQREC_OK || r->error == REQREC_ERR_TIMEOUT) {
		metrics_hist_add(&s->lat, lat_s);
		s->tot.latency_count++;
		s->tot.latency_sum_s += lat_s;
		if (bucket < METRICS_AGG_NPROM)
			s->tot.buckets[bucket]++;
		if (r->error == REQREC_OK)
			metrics_hist_add(&s->ttfb, r->ttfb_us * 1e-6);
	}
}

void metrics_agg_add(metrics_agg_t *a, const reqrec_t *r)
{
	if (r->side >= METRICS_SIDES) {
		a->invalid++;
		return;
	}
	uint32_t id = r->endpoint < a->nep ? r->endpoint : STRTAB_OTHER;
	slot_t **ps = &a->ep[r->side][id];
	if (!*ps) {
		*ps = xmalloc(sizeof(slot_t));
		slot_init(*ps);
	}
	/* A client that leaves (wrk stopping, a user closing the tab) is
	 * not production failing: its own counter, not an error. */
	bool err = r->error != REQREC_ERR_CLIENT &&
		   (r->error != REQREC_OK || r->status >= 500);
	double lat_s = r->latency_us * 1e-6;
	int b = 0;
	while (b < METRICS_AGG_NPROM && lat_s > prom_bounds[b])
		b++;
	slot_add(*ps, r, err, lat_s, b);
	slot_add(&a->side[r->side], r, err, lat_s, b);
	a->side_seen[r->side] = true;
}

static double ratio(uint64_t num, uint64_t den)
{
	return den ? (double)num / (double)den : NAN;
}

/* Computes s->last from the current interval and starts the next. */
static void slot_close(slot_t *s, double interval_s)
{
	metrics_req_stats_t *o = &s->last;
	o->interval_s = interval_s;
	o->requests = s->requests;
	o->errors = s->errors;
	o->client_aborts = s->client_aborts;
	o->compared = s->compared;
	o->differ = s->differ;
	o->noise = s->noise;
	o->new_conns = s->new_conns;
	o->req_bytes = s->req_bytes;
	o->resp_bytes = s->resp_bytes;
	o->rps = interval_s > 0 ? (double)s->requests / interval_s : NAN;
	o->req_bytes_per_s =
		interval_s > 0 ? (double)s->req_bytes / interval_s : NAN;
	o->resp_bytes_per_s =
		interval_s > 0 ? (double)s->resp_bytes / interval_s : NAN;
	o->error_rate = ratio(s->errors, s->requests);
	o->diff_rate = ratio(s->differ, s->compared);
	static const double qs[3] = {0.5, 0.9, 0.99};
	for (int i = 0; i < 3; i++) {
		o->latency[i] = metrics_hist_quantile(&s->lat, qs[i]);
		o->latency_res[i] = metrics_hist_quantile_res(&s->lat, qs[i]);
		o->ttfb[i] = metrics_hist_quantile(&s->ttfb, qs[i]);
	}
	o->connect_s = s->new_conns ? s->connect_sum_s / (double)s->new_conns
				    : NAN;
	s->requests = s->errors = s->compared = s->differ = s->noise = 0;
	s->client_aborts = 0;
	s->new_conns = s->req_bytes = s->resp_bytes = 0;
	s->connect_sum_s = 0;
	metrics_hist_reset(&s->lat);
	metrics_hist_reset(&s->ttfb);
}

void metrics_agg_tick(metrics_agg_t *a, int64_t now_ns)
{
	double interval_s = (double)(now_ns - a->start_ns) / NS_PER_S;
	a->start_ns = now_ns;
	for (int s = 0; s < METRICS_SIDES; s++) {
		slot_close(&a->side[s], interval_s);
		for (uint32_t i = 0; i < a->nep; i++)
			if (a->ep[s][i])
				slot_close(a->ep[s][i], interval_s);
	}
}

const metrics_req_stats_t *metrics_agg_side(const metrics_agg_t *a, int side)
{
	if (side < 0 || side >= METRICS_SIDES)
		return NULL;
	return &a->side[side].last;
}

const metrics_req_stats_t *metrics_agg_endpoint(const metrics_agg_t *a,
						int side, uint32_t id)
{
	if (side < 0 || side >= METRICS_SIDES || id >= a->nep ||
	    !a->ep[side][id] || a->ep[side][id]->last.requests == 0)
		return NULL;
	return &a->ep[side][id]->last;
}

uint32_t metrics_agg_endpoint_limit(const metrics_agg_t *a)
{
	return a->nep;
}

const char *metrics_agg_endpoint_name(const metrics_agg_t *a, uint32_t id)
{
	if (id == STRTAB_OTHER)
		return "other";
	return a->names ? strtab_name(a->names, id) : NULL;
}

const metrics_req_totals_t *metrics_agg_totals(const metrics_agg_t *a,
					       int side, uint32_t endpoint)
{
	if (side < 0 || side >= METRICS_SIDES)
		return NULL;
	if (endpoint == UINT32_MAX)
		return a->side_seen[side] ? &a->side[side].tot : NULL;
	if (endpoint >= a->nep || !a->ep[side][endpoint])
		return NULL;
	return &a->ep[side][endpoint]->tot;
}

uint64_t metrics_agg_invalid(const metrics_agg_t *a)
{
	return a->invalid;
}

void metrics_agg_fill(const metrics_agg_t *a, int side, bool net,
		      metrics_sample_t *s)
{
	const metrics_req_stats_t *st = metrics_agg_side(a, side);
	if (!st)
		return;
	s->v[METRICS_RPS] = st->rps;
	s->v[METRICS_LATENCY_P50] = st->latency[0];
	s->v[METRICS_LATENCY_P90] = st->latency[1];
	s->v[METRICS_LATENCY_P99] = st->latency[2];
	/* a quantile of a few requests is as good as its neighbours */
	static const metrics_id_t lat[3] = {METRICS_LATENCY_P50,
					    METRICS_LATENCY_P90,
					    METRICS_LATENCY_P99};
	for (int i = 0; i < 3; i++)
		s->res[lat[i]] = isfinite(st->latency_res[i])
					 ? st->latency_res[i]
					 : 0;
	s->v[METRICS_TTFB_P50] = st->ttfb[0];
	s->v[METRICS_TTFB_P90] = st->ttfb[1];
	s->v[METRICS_TTFB_P99] = st->ttfb[2];
	s->v[METRICS_CONNECT_TIME] = st->connect_s;
	s->v[METRICS_ERROR_RATE] = st->error_rate;
	s->v[METRICS_DIFF_RATE] = st->diff_rate;
	if (net) {
		s->v[METRICS_NET_RX] = st->req_bytes_per_s;
		s->v[METRICS_NET_TX] = st->resp_bytes_per_s;
	}
}
