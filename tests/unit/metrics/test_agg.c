/*
 * test_agg.c: request metrics from synthetic records pushed into the
 * proxy's SPSC rings: counts, rates, quantiles within 1% of the exact
 * ones, error and differ rates, per endpoint, totals and the exposed
 * histogram buckets.
 */
#include "base/clock.h"
#include "base/strtab.h"
#include "metrics/agg.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

static reqrec_t rec(int side, uint32_t ep, uint32_t lat_us, uint16_t status)
{
	reqrec_t r = {0};
	r.side = (uint8_t)side;
	r.endpoint = ep;
	r.latency_us = lat_us;
	r.ttfb_us = lat_us / 2;
	r.status = status;
	r.req_bytes = 100;
	r.resp_bytes = 1000;
	return r;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double exact_q(uint32_t *v, size_t n, double q)
{
	qsort(v, n, sizeof(uint32_t), cmp_u32);
	size_t k = (size_t)ceil(q * (double)n);
	return v[(k ? k : 1) - 1] * 1e-6;
}

Test(agg, rings_to_side_and_endpoint_stats)
{
	strtab_t *names = strtab_new(10);
	uint32_t a = strtab_intern(names, "GET /a", 6);
	uint32_t b = strtab_intern(names, "GET /b", 6);
	metrics_agg_t *agg = metrics_agg_new(names, 10, 0);
	ring_t *r1 = ring_new(sizeof(reqrec_t), 4096);
	ring_t *r2 = ring_new(sizeof(reqrec_t), 4096);
	cr_assert_eq(metrics_agg_add_ring(agg, r1), 0);
	cr_assert_eq(metrics_agg_add_ring(agg, r2), 0);

	uint32_t lat[3000], lat_a[3000];
	size_t nl = 0, na = 0;
	unsigned s = 7;
	for (int i = 0; i < 3000; i++) {
		s = s * 1103515245u + 12345u;
		uint32_t us = 200 + (s >> 8) % 500000; /* 0.2 ms .. 0.5 s */
		uint32_t ep = i % 3 ? a : b;
		reqrec_t r = rec(REQREC_PRODUCTION, ep, us,
				 i % 10 == 0 ? 503 : 200);
		if (i % 100 == 0)
			r.connect_us = 400;
		cr_assert(ring_push(i % 2 ? r1 : r2, &r));
		lat[nl++] = us;
		if (ep == a)
			lat_a[na++] = us;
	}
	/* shadow: 80 match, 15 differ, 5 noise; one connect error */
	for (int i = 0; i < 100; i++) {
		reqrec_t r = rec(REQREC_SHADOW, a, 1000, 200);
		r.cls = i < 80 ? REQREC_MATCH
			: i < 95 ? REQREC_DIFFER
				 : REQREC_NOISE;
		if (i == 99) {
			r.error = REQREC_ERR_CONNECT;
			r.latency_us = 3;
			r.status = 0;
		}
		cr_assert(ring_push(r1, &r));
	}
	reqrec_t bad = rec(7, a, 1, 200);
	cr_assert(ring_push(r2, &bad));
	reqrec_t far = rec(REQREC_SHADOW, 999, 1000, 200);
	cr_assert(ring_push(r2, &far));

	cr_assert_eq(metrics_agg_drain(agg), 3000 + 100 + 2);
	cr_assert_eq(ring_count(r1) + ring_count(r2), 0);
	metrics_agg_tick(agg, 2 * NS_PER_S);

	const metrics_req_stats_t *p = metrics_agg_side(agg, REQREC_PRODUCTION);
	cr_assert_eq(p->requests, 3000);
	cr_assert_float_eq(p->interval_s, 2.0, 1e-12);
	cr_assert_float_eq(p->rps, 1500, 1e-9);
	cr_assert_eq(p->errors, 300);
	cr_assert_float_eq(p->error_rate, 0.1, 1e-12);
	cr_assert(isnan(p->diff_rate), "production is not compared");
	cr_assert_eq(p->new_conns, 30);
	cr_assert_float_eq(p->connect_s, 400e-6, 1e-12);
	cr_assert_float_eq(p->req_bytes_per_s, 3000 * 100 / 2.0, 1e-9);
	cr_assert_float_eq(p->resp_bytes_per_s, 3000 * 1000 / 2.0, 1e-9);
	static const double qs[3] = {0.5, 0.9, 0.99};
	for (int i = 0; i < 3; i++) {
		double ex = exact_q(lat, nl, qs[i]);
		cr_assert_leq(fabs(p->latency[i] - ex) / ex, 0.01,
			      "p%g %.6f vs %.6f", qs[i] * 100, p->latency[i],
			      ex);
	}
	const metrics_req_stats_t *pa =
		metrics_agg_endpoint(agg, REQREC_PRODUCTION, a);
	cr_assert_not_null(pa);
	cr_assert_eq(pa->requests, 2000);
	double ex = exact_q(lat_a, na, 0.99);
	cr_assert_leq(fabs(pa->latency[2] - ex) / ex, 0.01);
	cr_assert_eq(metrics_agg_endpoint(agg, REQREC_PRODUCTION, b)->requests,
		     1000);

	const metrics_req_stats_t *sh = metrics_agg_side(agg, REQREC_SHADOW);
	cr_assert_eq(sh->requests, 101);
	cr_assert_eq(sh->compared, 100);
	cr_assert_eq(sh->differ, 15);
	cr_assert_eq(sh->noise, 5);
	cr_assert_float_eq(sh->diff_rate, 0.15, 1e-12);
	cr_assert_eq(sh->errors, 1);
	cr_assert_float_eq(sh->latency[0], 1e-3, 1e-3 * 0.01,
			   "the refused connection's 3 us is not ranked");
	cr_assert_not_null(metrics_agg_endpoint(agg, REQREC_SHADOW,
						STRTAB_OTHER),
			   "id 999 > max is counted as other");
	cr_assert_eq(metrics_agg_invalid(agg), 1);
	cr_assert_str_eq(metrics_agg_endpoint_name(agg, a), "GET /a");
	cr_assert_str_eq(metrics_agg_endpoint_name(agg, 0), "other");

	metrics_sample_t smp;
	metrics_sample_clear(&smp, 0);
	metrics_agg_fill(agg, REQREC_PRODUCTION, true, &smp);
	cr_assert_float_eq(smp.v[METRICS_RPS], 1500, 1e-9);
	cr_assert_float_eq(smp.v[METRICS_NET_RX], 150000, 1e-9);
	cr_assert_float_eq(smp.v[METRICS_ERROR_RATE], 0.1, 1e-12);
	cr_assert_float_eq(smp.v[METRICS_LATENCY_P99], p->latency[2], 0);

	/* an empty interval: zero requests, no quantiles, totals kept */
	metrics_agg_tick(agg, 3 * NS_PER_S);
	p = metrics_agg_side(agg, REQREC_PRODUCTION);
	cr_assert_eq(p->requests, 0);
	cr_assert_float_eq(p->rps, 0, 0);
	cr_assert(isnan(p->latency[1]));
	cr_assert(isnan(p->error_rate));
	cr_assert_null(metrics_agg_endpoint(agg, REQREC_PRODUCTION, a));
	const metrics_req_totals_t *t =
		metrics_agg_totals(agg, REQREC_PRODUCTION, UINT32_MAX);
	cr_assert_eq(t->requests, 3000);
	cr_assert_eq(t->errors, 300);
	cr_assert_eq(t->latency_count, 3000);
	uint64_t in_buckets = 0;
	for (int i = 0; i < METRICS_AGG_NPROM; i++)
		in_buckets += t->buckets[i];
	cr_assert_eq(in_buckets, 3000, "all latencies are <= 0.5 s <= 10 s");
	cr_assert_eq(metrics_agg_totals(agg, REQREC_SHADOW, UINT32_MAX)
			     ->latency_count,
		     101 - 1);
	cr_assert_null(metrics_agg_totals(agg, REQREC_BASELINE, UINT32_MAX));

	ring_free(r1);
	ring_free(r2);
	metrics_agg_free(agg);
	strtab_free(names);
}

Test(agg, drains_more_than_a_batch_and_bounds_rings)
{
	metrics_agg_t *agg = metrics_agg_new(NULL, 4, 0);
	ring_t *r = ring_new(sizeof(reqrec_t), 1024);
	metrics_agg_add_ring(agg, r);
	size_t pushed = 0;
	reqrec_t x = rec(REQREC_PRODUCTION, 1, 5000, 200);
	while (ring_push(r, &x))
		pushed++;
	cr_assert_eq(pushed, 1024, "a full ring refuses, never blocks");
	cr_assert_eq(metrics_agg_drain(agg), 1024);
	metrics_agg_tick(agg, NS_PER_S);
	cr_assert_eq(metrics_agg_side(agg, 0)->requests, 1024);
	cr_assert_null(metrics_agg_endpoint_name(agg, 1), "no names table");
	for (int i = 0; i < METRICS_AGG_MAX_RINGS - 1; i++)
		cr_assert_eq(metrics_agg_add_ring(agg, r), 0);
	cr_assert_lt(metrics_agg_add_ring(agg, r), 0);
	ring_free(r);
	metrics_agg_free(agg);
}

/* A client that leaves before its response ends (wrk stopping) is a
 * request and a client abort, not a production error: 100 requests, 10
 * answered 503, 20 aborted by their clients: error rate 0.1, not 0.3. */
Test(agg, client_aborts_are_their_own_counter)
{
	metrics_agg_t *agg = metrics_agg_new(NULL, 10, 0);
	ring_t *r1 = ring_new(sizeof(reqrec_t), 4096);
	cr_assert_eq(metrics_agg_add_ring(agg, r1), 0);
	for (int i = 0; i < 100; i++) {
		reqrec_t r = rec(REQREC_PRODUCTION, 0, 1000, i < 10 ? 503 : 200);
		if (i >= 80) {
			r.error = REQREC_ERR_CLIENT;
			r.status = 0;
		}
		cr_assert(ring_push(r1, &r));
	}
	cr_assert_eq(metrics_agg_drain(agg), 100);
	metrics_agg_tick(agg, NS_PER_S);
	const metrics_req_stats_t *p = metrics_agg_side(agg, REQREC_PRODUCTION);
	cr_assert_eq(p->requests, 100);
	cr_assert_eq(p->errors, 10);
	cr_assert_eq(p->client_aborts, 20);
	cr_assert_float_eq(p->error_rate, 0.1, 1e-12, "%g", p->error_rate);
	const metrics_req_totals_t *t =
		metrics_agg_totals(agg, REQREC_PRODUCTION, UINT32_MAX);
	cr_assert_eq(t->client_aborts, 20);
	cr_assert_eq(t->errors, 10);
	ring_free(r1);
	metrics_agg_free(agg);
}
