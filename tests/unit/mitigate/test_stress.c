/*
 * test_stress.c: the stress state machine against a model shadow (a
 * queue with a capacity: under it latency stays low, over it the queue
 * grows, p99 explodes and copies are dropped). Checks the knee, the
 * capacity and headroom in production's terms, the CPU squeeze, the
 * plateau rule, skipped levers, an abort without traffic, restores at
 * the end, and the latency histogram.
 */
#include "mitigate/stress.h"

#include "base/err.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define S 1000000000LL
#define TICK (S / 10)

/* The model: base_rps mirrored copies per second at k = 1; the shadow
 * handles capacity req/s at full CPU (cpu_share scales it). */
typedef struct model {
	double base_rps, capacity;
	unsigned amp;
	double cpu_share;
	bool plateau_only; /* saturates without latency (a rate limit) */
	int sets, squeezes;
} model_t;

static void feed(model_t *m, mit_hist_t *h, double secs)
{
	double offered = m->base_rps * m->amp;
	double cap = m->capacity * m->cpu_share;
	double served = offered < cap ? offered : cap;
	if (m->plateau_only) {
		cap = m->capacity;
		served = offered < cap ? offered : cap;
		for (int i = 0; i < (int)(served * secs); i++)
			mit_hist_add(h, 5000, false);
		return;
	}
	double rho = offered / cap;
	uint32_t lat = rho < 0.9 ? (uint32_t)(10000 / (1 - rho))
				 : 3000000; /* 3 s: the queue grew */
	for (int i = 0; i < (int)(served * secs + 0.5); i++)
		mit_hist_add(h, i % 100 == 0 ? lat * 2 : lat, false);
	if (offered > cap)
		h->dropped += (uint64_t)((offered - cap) * secs);
}

static mit_stress_params_t params(void)
{
	mit_stress_params_t p = {
	    .lever = {MIT_LEVER_AMPLIFY, MIT_LEVER_CPU},
	    .nlevers = 2,
	    .normal_amp = 1,
	    .max_amp = 16,
	    .min_cpu = 0.1,
	    .min_mem = 0.25,
	    .step_ns = S,
	    .p99_target_s = 0.5,
	    .error_target = 0.01,
	    .ratio = 0.5,
	    .prod_replicas = 2,
	    .prod_rps = 40,
	    .shadow_cpu = 1,
	    .shadow_mem = 256u << 20,
	    .can_amplify = true,
	    .can_squeeze = true,
	};
	return p;
}

static void apply(model_t *m, const mit_stress_cmd_t *c, mit_hist_t *h)
{
	if (c->set_amp) {
		m->amp = c->amp;
		m->sets++;
	}
	if (c->set_squeeze) {
		m->cpu_share = c->cpu_share;
		m->squeezes++;
	}
	if (c->reset)
		mit_hist_reset(h);
}

/* Runs the machine to the end; returns the number of ticks. */
static int run(mit_stress_t *st, const mit_stress_params_t *p, model_t *m,
	       mit_stress_cmd_t *last)
{
	mit_hist_t h = {0};
	mit_stress_cmd_t c;
	int64_t now = 1000 * S;
	int rc = mit_stress_begin(st, p, now, &c);
	cr_assert_eq(rc, 0, "%s", st->why);
	apply(m, &c, &h);
	int ticks = 0;
	while (st->state == MIT_STRESS_RUNNING && ticks < 10000) {
		now += TICK;
		feed(m, &h, 0.1);
		mit_stress_tick(st, now, &h, &c);
		apply(m, &c, &h);
		if (c.finished)
			*last = c;
		ticks++;
	}
	cr_assert_neq(st->state, MIT_STRESS_RUNNING);
	cr_assert_leq((int64_t)ticks * TICK, mit_stress_max_duration(p));
	return ticks;
}

Test(stress, finds_the_knee_and_capacity)
{
	/* 40 req/s mirrored; the shadow handles 200: x4 = 160 holds, x8 =
	 * 320 is over */
	model_t m = {.base_rps = 40, .capacity = 200, .amp = 1, .cpu_share = 1};
	mit_stress_params_t p = params();
	mit_stress_t st;
	mit_stress_cmd_t last = {0};
	run(&st, &p, &m, &last);
	cr_assert_eq(st.state, MIT_STRESS_DONE, "%s", st.why);
	const mit_stress_lever_result_t *a = &st.result[0];
	cr_assert_eq(a->lever, MIT_LEVER_AMPLIFY);
	cr_assert(a->knee);
	cr_assert_eq(a->knee_level, 8);
	cr_assert_eq(a->good_level, 4);
	/* 160 req/s on a shadow with half of 2 replicas' resources: one
	 * production replica handles 160 / (0.5 * 2) = 160 */
	cr_assert_float_eq(a->capacity_lo, 160, 5);
	cr_assert_float_eq(a->headroom, 160.0 * 2 / 40 - 1, 0.3);
	cr_assert(strstr(a->note, "knee at x8"), "%s", a->note);
	/* points: x1 x2 x4 x8 */
	int amp_points = 0;
	for (int i = 0; i < st.npoints; i++)
		amp_points += st.point[i].lever == MIT_LEVER_AMPLIFY;
	cr_assert_eq(amp_points, 4);
	cr_assert(st.point[3].over);
	/* CPU: at 40 req/s, 200 at full CPU; share 1/8 = 25 is over, 1/4
	 * = 50 holds (rho 0.8): full CPU handles about 40 / 0.25 = 160 */
	const mit_stress_lever_result_t *c = &st.result[1];
	cr_assert_eq(c->lever, MIT_LEVER_CPU);
	cr_assert(c->knee);
	cr_assert_float_eq(c->good_level, 0.25, 1e-9);
	cr_assert_float_eq(c->knee_level, 0.125, 1e-9);
	cr_assert_float_eq(c->capacity_lo, 40 / 0.25 / (0.5 * 2), 5);
	/* ranges read low..high (issue 23: "capacity 225.6..188.5") */
	for (int i = 0; i < st.nresults; i++)
		if (!isnan(st.result[i].capacity_hi))
			cr_assert_leq(st.result[i].capacity_lo,
				      st.result[i].capacity_hi, "%s",
				      st.result[i].note);
	/* the scaler gets the smaller lower bound */
	cr_assert_float_eq(st.capacity, fmin(a->capacity_lo, c->capacity_lo),
			   1e-9);
	/* restored at the end */
	cr_assert(last.finished);
	cr_assert(last.set_amp && last.amp == 1);
	cr_assert(last.set_squeeze && last.cpu_share == 1 && last.mem_share == 1);
	cr_assert_eq(m.amp, 1);
	cr_assert_eq(m.cpu_share, 1);
}

Test(stress, no_knee_reports_a_lower_bound)
{
	model_t m = {.base_rps = 40, .capacity = 10000, .amp = 1,
		     .cpu_share = 1};
	mit_stress_params_t p = params();
	p.nlevers = 1;
	p.max_amp = 5; /* 1 2 4 5 */
	mit_stress_t st;
	mit_stress_cmd_t last;
	run(&st, &p, &m, &last);
	const mit_stress_lever_result_t *a = &st.result[0];
	cr_assert_not(a->knee);
	cr_assert_eq(a->good_level, 5);
	cr_assert_float_eq(a->capacity_lo, 200, 5);
	cr_assert(isnan(a->capacity_hi));
	cr_assert(strstr(a->note, "no knee up to the last step: capacity at "
				  "least"),
		  "%s", a->note);
}

Test(stress, plateau_is_a_knee)
{
	model_t m = {.base_rps = 40, .capacity = 90, .amp = 1, .cpu_share = 1,
		     .plateau_only = true};
	mit_stress_params_t p = params();
	p.nlevers = 1;
	mit_stress_t st;
	mit_stress_cmd_t last;
	run(&st, &p, &m, &last);
	const mit_stress_lever_result_t *a = &st.result[0];
	cr_assert(a->knee);
	cr_assert_eq(a->knee_level, 4, "x2 = 80 grew; x4 = 90 barely did");
	cr_assert(strstr(st.point[2].why, "throughput plateau"), "%s",
		  st.point[2].why);
}

Test(stress, levers_that_cannot_run_are_skipped)
{
	model_t m = {.base_rps = 40, .capacity = 1000, .amp = 1,
		     .cpu_share = 1};
	mit_stress_params_t p = params();
	p.lever[0] = MIT_LEVER_MEMORY;
	p.lever[1] = MIT_LEVER_AMPLIFY;
	p.shadow_mem = 0;
	p.max_amp = 2;
	mit_stress_t st;
	mit_stress_cmd_t last;
	run(&st, &p, &m, &last);
	cr_assert_eq(st.nresults, 2);
	cr_assert_not(st.result[0].ran);
	cr_assert_str_eq(st.result[0].note,
			 "skipped: the shadow has no memory limit to squeeze "
			 "(set production.memory_limit)");
	cr_assert(st.result[1].ran);
	/* nothing can run at all */
	p.nlevers = 1;
	p.can_squeeze = false;
	mit_stress_cmd_t c;
	cr_assert_eq(mit_stress_begin(&st, &p, 0, &c), ERR_INVAL);
	cr_assert_eq(st.state, MIT_STRESS_ABORTED);
	cr_assert(c.finished);
	cr_assert(strstr(st.why, "no lever can run"), "%s", st.why);
}

Test(stress, no_traffic_aborts_and_restores)
{
	model_t m = {.base_rps = 0, .capacity = 100, .amp = 1, .cpu_share = 1};
	mit_stress_params_t p = params();
	p.normal_amp = 2;
	mit_stress_t st;
	mit_stress_cmd_t last;
	run(&st, &p, &m, &last);
	cr_assert_eq(st.state, MIT_STRESS_ABORTED);
	cr_assert(strstr(st.why, "not enough traffic: the shadow got 0 "
				 "requests"),
		  "%s", st.why);
	cr_assert_eq(last.amp, 2, "back to mirror.amplification");
	cr_assert(isnan(st.capacity));
}

Test(stress, cancel_restores)
{
	model_t m = {.base_rps = 20, .capacity = 100, .amp = 1, .cpu_share = 1};
	mit_stress_params_t p = params();
	mit_stress_t st;
	mit_stress_cmd_t c;
	mit_hist_t h = {0};
	cr_assert_eq(mit_stress_begin(&st, &p, 0, &c), 0);
	apply(&m, &c, &h);
	mit_stress_cancel(&st, "umbra is stopping", &c);
	cr_assert_eq(st.state, MIT_STRESS_ABORTED);
	cr_assert(c.finished && c.set_amp && c.set_squeeze);
	cr_assert_str_eq(st.why, "umbra is stopping");
}

Test(stress, histogram)
{
	mit_hist_t h;
	mit_hist_reset(&h);
	cr_assert(isnan(mit_hist_quantile(&h, 0.99)));
	for (int i = 0; i < 99; i++)
		mit_hist_add(&h, 1000, false); /* 1 ms */
	mit_hist_add(&h, 2000000, true);       /* 2 s */
	cr_assert_eq(h.n, 100);
	cr_assert_eq(h.errors, 1);
	double p99 = mit_hist_quantile(&h, 0.99);
	cr_assert(p99 >= 0.001 && p99 <= 0.001 * 1.1, "%g", p99);
	double p100 = mit_hist_quantile(&h, 1.0);
	cr_assert(p100 >= 2.0 && p100 <= 2.2, "%g", p100);
	mit_hist_add(&h, 0, false);
	mit_hist_add(&h, UINT32_MAX, false);
	cr_assert_eq(h.n, 102);
}
