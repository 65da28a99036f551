/*
 * test_scale.c: replica decisions on scripted load: unknown capacity,
 * the reactive HPA rule and its tolerance, a preemptive scale-up ahead of
 * a ramp once the forecast has earned trust, no trust on noise, and a
 * scale-down only after the stabilisation window, to its highest need.
 */
#include "mitigate/scale.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define S 1000000000LL

static mit_scale_params_t params(double capacity)
{
	return (mit_scale_params_t){.min = 1,
				    .max = 10,
				    .lead_ns = 60 * S,
				    .cooldown_ns = 120 * S,
				    .tick_ns = S,
				    .capacity = capacity,
				    .target = 0.7,
				    .forecaster = AN_FC_HOLT};
}

Test(scale, unknown_capacity_does_nothing)
{
	mit_scaler_t s;
	mit_scale_params_t p = params(0);
	cr_assert_eq(mit_scaler_init(&s, &p), 0);
	mit_scaler_observe(&s, S, 500);
	mit_scale_decision_t d;
	mit_scaler_decide(&s, S, 2, &d);
	cr_assert_eq(d.desired, 2);
	cr_assert_str_eq(d.reason, "capacity per replica unknown (set "
				   "mitigation.scale.capacity or run a stress "
				   "test)");
	mit_scaler_set_capacity(&s, 50); /* learned by a stress test */
	mit_scaler_decide(&s, S, 2, &d);
	cr_assert_eq(d.desired, 10, "500 req/s at 35 per replica, capped");
	mit_scaler_free(&s);
}

Test(scale, reactive_rule_and_tolerance)
{
	mit_scaler_t s;
	mit_scale_params_t p = params(50);
	mit_scaler_init(&s, &p);
	mit_scale_decision_t d;
	mit_scaler_observe(&s, S, 100);
	mit_scaler_decide(&s, S, 1, &d);
	cr_assert_eq(d.desired, 3, "ceil(100 / 35)");
	cr_assert_not(d.trusted);
	cr_assert_not(d.preemptive);
	cr_assert(strstr(d.reason, "reactive (no trusted forecast yet)"), "%s",
		  d.reason);
	/* 3 replicas at 101 req/s: 96% of target, inside the tolerance */
	mit_scaler_observe(&s, 2 * S, 101);
	mit_scaler_decide(&s, 2 * S, 3, &d);
	cr_assert_eq(d.desired, 3);
	mit_scaler_free(&s);
}

/* Runs load(t) for secs seconds from 1 replica; returns the time of the
 * first scale-up and the load then (per replica need). */
typedef double (*load_fn)(int t);

static double ramp(int t)
{
	/* flat 20 req/s for 5 minutes, then +1 req/s each second */
	return t < 300 ? 20 + (t % 3) : 20 + (t - 300) * 1.0 + (t % 3);
}

Test(scale, preemptive_ahead_of_a_ramp)
{
	mit_scaler_t s;
	mit_scale_params_t p = params(50); /* 35 req/s per replica planned */
	mit_scaler_init(&s, &p);
	int current = 1, first_up = -1;
	double load_at_up = 0;
	bool preemptive = false;
	for (int t = 1; t < 420; t++) {
		mit_scaler_observe(&s, t * S, ramp(t));
		mit_scale_decision_t d;
		mit_scaler_decide(&s, t * S, current, &d);
		if (t == 290)
			cr_assert(d.trusted, "trusted after warm-up and checks");
		if (d.desired > current) {
			if (first_up < 0) {
				first_up = t;
				load_at_up = ramp(t);
				preemptive = d.preemptive;
				cr_assert(!isnan(d.forecast));
			}
			mit_scaler_changed(&s, t * S, current, d.desired);
			current = d.desired;
		}
	}
	cr_assert_gt(first_up, 300, "nothing happens while the load is flat");
	cr_assert(preemptive, "the first scale-up came from the forecast");
	cr_assert_leq(load_at_up, 35,
		      "scaled up while one replica still had capacity "
		      "(load %.0f at t=%d)",
		      load_at_up, first_up);
	/* 20 + 120 at the end: 140 / 35 = 4 replicas, already there */
	cr_assert_geq(current, 4);
	mit_scaler_free(&s);
}

Test(scale, noise_is_not_trusted)
{
	mit_scaler_t s;
	mit_scale_params_t p = params(50);
	mit_scaler_init(&s, &p);
	uint32_t x = 1;
	for (int t = 1; t < 600; t++) {
		x = x * 1103515245u + 12345u;
		double load = (x >> 16) % 2 ? 5 : 60; /* wild swings */
		mit_scaler_observe(&s, t * S, load);
	}
	cr_assert_not(mit_scaler_trusted(&s));
	mit_scaler_free(&s);
}

Test(scale, down_after_the_window_to_its_highest_need)
{
	mit_scaler_t s;
	mit_scale_params_t p = params(50);
	mit_scaler_init(&s, &p);
	int current = 1;
	mit_scale_decision_t d;
	/* a burst: up to 5 at once */
	mit_scaler_observe(&s, S, 160);
	mit_scaler_decide(&s, S, current, &d);
	cr_assert_eq(d.desired, 5);
	mit_scaler_changed(&s, S, current, d.desired);
	current = 5;
	/* the load falls: 2 replicas' worth, then 3 for a moment */
	int changed_at = -1;
	for (int t = 2; t < 400 && changed_at < 0; t++) {
		double load = t == 50 ? 100 : 60;
		mit_scaler_observe(&s, t * S, load);
		mit_scaler_decide(&s, t * S, current, &d);
		if (d.desired != current) {
			changed_at = t;
			cr_assert_eq(d.desired, 3,
				     "the highest need in the window");
			cr_assert(strstr(d.reason, "scale.cooldown"), "%s",
				  d.reason);
		}
	}
	cr_assert_geq(changed_at, 122, "not before the 120 s cooldown");
	cr_assert_lt(changed_at, 130);
	mit_scaler_free(&s);
}

Test(scale, bounds)
{
	mit_scaler_t s;
	mit_scale_params_t p = params(50);
	p.min = 2;
	p.max = 3;
	mit_scaler_init(&s, &p);
	mit_scale_decision_t d;
	mit_scaler_observe(&s, S, 1000);
	mit_scaler_decide(&s, S, 1, &d);
	cr_assert_eq(d.desired, 3);
	mit_scaler_free(&s);
	mit_scaler_init(&s, &p);
	mit_scaler_observe(&s, S, 1);
	mit_scaler_decide(&s, S, 1, &d);
	cr_assert_eq(d.desired, 2, "never below min");
	mit_scaler_free(&s);
}
