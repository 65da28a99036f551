/*
 * test_analysis.c: the analyzer's rules one at a time, on hand-made
 * series: parameters and their validation, normalisation and floors,
 * direction, the envelope (learned and from a baseline), the verdict,
 * closing, drift, one-sided tasks, the leading metric, and bad calls.
 */
#include "analysis/analysis.h"
#include "analysis/anomaly.h"
#include "base/err.h"
#include "unit/analysis/sim.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#define S(k) ((SIM_T0 + (k)) * 1000000000LL)

static uint64_t seed = 7;
static double noise(double rel)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	double u = ((seed >> 11) + 0.5) / 9007199254740992.0;
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	double v = ((seed >> 11) + 0.5) / 9007199254740992.0;
	return 1 + rel * sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static an_analyzer_t *make(const an_params_t *p)
{
	an_analyzer_t *a;
	const char *why = NULL;
	cr_assert_eq(an_analyzer_init(&a, p, &why), 0, "%s", why);
	return a;
}

/* One metric only: production p, shadow s. */
static void one(an_tick_t *t, int64_t k, an_metric_t m, double p, double s)
{
	an_tick_clear(t, S(k));
	t->value[AN_PROD][m] = p;
	t->value[AN_SHADOW][m] = s;
}

/* ------------------------------------------------------------ params */

Test(analysis, default_params_validate)
{
	an_params_t p;
	an_params_default(&p);
	cr_assert_eq(an_params_validate(&p, NULL), 0);
	cr_assert_float_eq(p.metric[AN_M_cpu].threshold, 0.10, 1e-12);
	cr_assert_float_eq(p.metric[AN_M_memory].threshold, 0.15, 1e-12);
	cr_assert_float_eq(p.velocity_threshold, 0.05, 1e-12);
	cr_assert_str_eq(an_metric_name(AN_M_latency_p99), "latency_p99");
	cr_assert_eq(an_metric_by_name("diff_rate"), AN_M_diff_rate);
	cr_assert_eq(an_metric_by_name("rps"), -1);
}

Test(analysis, bad_params_refused_with_reason)
{
	an_params_t p;
	const char *why;
#define BAD(stmt, word)                                                    \
	do {                                                              \
		an_params_default(&p);                                    \
		stmt;                                                     \
		why = NULL;                                               \
		cr_assert_eq(an_params_validate(&p, &why), ERR_INVAL, #stmt); \
		cr_assert(why && strstr(why, word), "%s: %s", #stmt, why); \
		an_analyzer_t *a = NULL;                                  \
		cr_assert_eq(an_analyzer_init(&a, &p, NULL), ERR_INVAL);  \
		cr_assert_null(a);                                        \
	} while (0)
	BAD(p.interval_ns = 0, "interval");
	BAD(p.interval_ns = AN_MAX_INTERVAL_NS + 1, "at most a day");
	BAD(p.horizon_ns = AN_MAX_SPAN_NS + 1, "at most a year");
	BAD(p.after_change_ns = AN_MAX_SPAN_NS + 1, "at most a year");
	BAD(p.smoothing = 0, "smoothing");
	BAD(p.smoothing = 1.5, "smoothing");
	BAD(p.velocity_window_ns = 1, "velocity window");
	BAD(p.velocity_threshold = NAN, "velocity threshold");
	BAD(p.envelope_quantile = 1, "quantile");
	BAD(p.horizon_ns = 0, "horizon");
	BAD(p.verdict_marginal = 90, "marginal");
	BAD(p.verdict_alpha = 0, "alpha");
	BAD(p.ratio = 0, "ratio");
	BAD(p.forecaster = AN_FC__COUNT, "forecaster");
	BAD(p.metric[AN_M_cpu].critical = 0.05, "critical");
	BAD(p.metric[AN_M_cpu].floor = 0, "floor");
	BAD(p.metric[AN_M_cpu].weight = -1, "weight");
	an_sched_t s = {.name = "x", .duration_ns = 0, .side = AN_BOTH};
	BAD((p.sched = &s, p.nsched = 1), "duration");
	s.duration_ns = 1;
	s.side = AN_BASELINE;
	BAD((p.sched = &s, p.nsched = 1), "side");
}

/* ------------------------------------------------------------ input */

Test(analysis, ticks_must_advance_and_nan_is_missing)
{
	an_params_t p;
	an_params_default(&p);
	an_analyzer_t *a = make(&p);
	an_out_t *out = malloc(sizeof(*out));
	an_tick_t t;
	one(&t, 0, AN_M_memory, 1e9, 1e9);
	cr_assert_eq(an_analyzer_update(a, &t, out), 0);
	cr_assert(out->metric[AN_M_memory].valid);
	cr_assert(!out->metric[AN_M_cpu].valid, "cpu was not measured");
	cr_assert_eq(an_analyzer_update(a, &t, out), ERR_INVAL, "same time");
	one(&t, -5, AN_M_memory, 1e9, 1e9);
	cr_assert_eq(an_analyzer_update(a, &t, out), ERR_INVAL, "backwards");
	one(&t, 1, AN_M_memory, 1e9, NAN);
	cr_assert_eq(an_analyzer_update(a, &t, out), 0);
	cr_assert(!out->metric[AN_M_memory].valid);
	/* a gap of an hour is fine */
	one(&t, 3600, AN_M_memory, 1e9, 1.1e9);
	cr_assert_eq(an_analyzer_update(a, &t, out), 0);
	cr_assert_float_eq(out->metric[AN_M_memory].deviation, 0.1, 1e-9);
	free(out);
	an_analyzer_free(a);
}

Test(analysis, seed_formula_floor_and_normalisation)
{
	an_params_t p;
	an_params_default(&p);
	p.ratio = 0.5;
	an_analyzer_t *a = make(&p);
	an_out_t *out = malloc(sizeof(*out));
	an_tick_t t;
	/* level: |p - s| / p on the first tick (no smoothing yet) */
	one(&t, 0, AN_M_latency_p50, 0.010, 0.012);
	/* production under the floor (1 ms): divide by the floor */
	t.value[AN_PROD][AN_M_latency_p90] = 0.0001;
	t.value[AN_SHADOW][AN_M_latency_p90] = 0.0006;
	/* load: per request with rps on both sides (shadow half traffic) */
	t.value[AN_PROD][AN_M_cpu] = 1.0;
	t.value[AN_SHADOW][AN_M_cpu] = 0.5;
	t.rps[AN_PROD] = 200;
	t.rps[AN_SHADOW] = 100;
	/* diff_rate: production absent counts as 0, floor 1: the share */
	t.value[AN_SHADOW][AN_M_diff_rate] = 0.03;
	/* load without rps: the shadow divided by the ratio */
	t.value[AN_PROD][AN_M_disk_write] = 1e6;
	t.value[AN_SHADOW][AN_M_disk_write] = 0.6e6;
	cr_assert_eq(an_analyzer_update(a, &t, out), 0);
	cr_assert_float_eq(out->metric[AN_M_latency_p50].signed_dev, 0.2, 1e-9);
	cr_assert_float_eq(out->metric[AN_M_latency_p90].signed_dev, 0.5, 1e-9);
	cr_assert_float_eq(out->metric[AN_M_cpu].deviation, 0, 1e-9);
	cr_assert_float_eq(out->metric[AN_M_diff_rate].deviation, 0.03, 1e-9);
	cr_assert_float_eq(out->metric[AN_M_disk_write].signed_dev, 0.2, 1e-9);
	/* too little traffic to divide by: not compared */
	an_tick_clear(&t, S(1));
	t.value[AN_PROD][AN_M_cpu] = 0.01;
	t.value[AN_SHADOW][AN_M_cpu] = 0.01;
	t.rps[AN_PROD] = 0.1;
	t.rps[AN_SHADOW] = 0.1;
	cr_assert_eq(an_analyzer_update(a, &t, out), 0);
	cr_assert(!out->metric[AN_M_cpu].valid);
	free(out);
	an_analyzer_free(a);
}

/* Feeds metric m: p constant with noise, s = p * f(k). Returns the number
 * of findings on m; *first gets the first. */
typedef double (*shape_fn)(int64_t k);
static size_t feed(an_analyzer_t *a, an_metric_t m, int64_t n, shape_fn f,
		   an_finding_t *first, an_out_t *out)
{
	an_tick_t t;
	size_t found = 0;
	for (int64_t k = 0; k < n; k++) {
		double base = 1e8;
		one(&t, k, m, base * noise(0.005), base * f(k) * noise(0.005));
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
		for (size_t i = 0; i < out->nfindings; i++)
			if (out->finding[i].metric == m && found++ == 0 && first)
				*first = out->finding[i];
	}
	return found;
}

static double drop_at_600(int64_t k)
{
	return k >= 600 ? 0.5 : 1;
}
static double rise_at_600(int64_t k)
{
	return k >= 600 ? 1.5 : 1;
}
static double blip_600_to_700(int64_t k)
{
	return k >= 600 && k < 700 ? 1.5 : 1;
}

Test(analysis, direction_decides_what_is_bad)
{
	an_params_t p;
	an_params_default(&p);
	an_out_t *out = malloc(sizeof(*out));
	an_finding_t f;
	/* memory: increase only; a drop of half is not a finding */
	an_analyzer_t *a = make(&p);
	cr_assert_eq(feed(a, AN_M_memory, 900, drop_at_600, NULL, out), 0);
	an_analyzer_free(a);
	a = make(&p);
	cr_assert_gt(feed(a, AN_M_memory, 900, rise_at_600, &f, out), 0);
	cr_assert_eq(f.kind, AN_FIND_DEVIATION);
	an_analyzer_free(a);
	/* decrease: the drop is the finding */
	p.metric[AN_M_memory].direction = AN_DIR_DECREASE;
	a = make(&p);
	cr_assert_gt(feed(a, AN_M_memory, 900, drop_at_600, &f, out), 0);
	cr_assert_eq(f.mover, AN_SHADOW);
	cr_assert_lt(f.change[AN_SHADOW], 0);
	an_analyzer_free(a);
	free(out);
}

Test(analysis, finding_closes_after_the_deviation_goes)
{
	an_params_t p;
	an_params_default(&p);
	an_out_t *out = malloc(sizeof(*out));
	an_analyzer_t *a = make(&p);
	an_tick_t t;
	int64_t opened = -1, closed = -1;
	for (int64_t k = 0; k < 900; k++) {
		double b = 1e8;
		one(&t, k, AN_M_memory, b * noise(0.005),
		    b * blip_600_to_700(k) * noise(0.005));
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
		if (out->nfindings && opened < 0)
			opened = k;
		if (out->resolved & (1u << AN_M_memory))
			closed = k;
	}
	cr_assert(opened >= 600 && opened < 610, "opened %lld",
		  (long long)opened);
	/* back at 700, then 30 s of quiet */
	cr_assert(closed >= 725 && closed < 745, "closed %lld",
		  (long long)closed);
	cr_assert_eq(out->metric[AN_M_memory].open, AN_FIND_NONE);
	free(out);
	an_analyzer_free(a);
}

/* Issue 22: the engine closes a finding at once after a verified
 * rollback; the analysis follows (an_analyzer_close) only for a metric
 * back within its threshold, and does not report it again. */
Test(analysis, close_on_request_once_back)
{
	an_params_t p;
	an_params_default(&p);
	an_out_t *out = malloc(sizeof(*out));
	an_analyzer_t *a = make(&p);
	an_tick_t t;
	int64_t opened = -1;
	bool asked_inside = false, asked_outside = false;
	for (int64_t k = 0; k < 900; k++) {
		double b = 1e8;
		one(&t, k, AN_M_memory, b * noise(0.005),
		    b * blip_600_to_700(k) * noise(0.005));
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
		if (out->nfindings && opened < 0)
			opened = k;
		cr_assert_not(asked_inside &&
				      (out->resolved & (1u << AN_M_memory)),
			      "closed on request: not resolved again");
		if (opened >= 0 && k == opened + 5) {
			cr_assert_eq(an_analyzer_close(a, ~0u), 0,
				     "still outside: stays open");
			asked_outside = true;
		}
		const an_metric_view_t *v = &out->metric[AN_M_memory];
		if (k > 700 && !asked_inside && v->open != AN_FIND_NONE &&
		    v->deviation <= v->threshold) {
			cr_assert_eq(an_analyzer_close(a, 1u << AN_M_memory),
				     1u << AN_M_memory);
			asked_inside = true;
		}
	}
	cr_assert(asked_outside && asked_inside);
	cr_assert_eq(out->metric[AN_M_memory].open, AN_FIND_NONE);
	free(out);
	an_analyzer_free(a);
}

/* ------------------------------------------------------------ mover */

/* CPU per request, production at 100 req/s and the shadow at its default
 * share (0.1): cost(k, side) in seconds of CPU per request. Returns the
 * first CPU finding in *first (true if there was one within n ticks). */
typedef double (*cost_fn)(int64_t k, int side);
static bool feed_cpu(an_analyzer_t *a, int64_t n, cost_fn cost,
		     an_finding_t *first, an_out_t *out)
{
	an_tick_t t;
	for (int64_t k = 0; k < n; k++) {
		an_tick_clear(&t, S(k));
		t.rps[AN_PROD] = 100;
		t.rps[AN_SHADOW] = 10;
		for (int side = 0; side < 2; side++)
			t.value[side][AN_M_cpu] =
				t.rps[side] * cost(k, side) * noise(0.01);
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
		for (size_t i = 0; i < out->nfindings; i++)
			if (out->finding[i].metric == AN_M_cpu) {
				*first = out->finding[i];
				return true;
			}
	}
	return false;
}

/* The shadow costs 8x production from the first tick; from tick 2
 * production's cost triples (load, a slow build) and the shadow's grows
 * 2.7x: the ratio stays about 7x. */
static double cost_8x_ratio_kept(int64_t k, int side)
{
	double c = side == AN_PROD ? 0.005 : 0.040;
	return k < 2 ? c : c * (side == AN_PROD ? 3 : 2.7);
}
/* The same, but both sides gain the same 10 ms per request. */
static double cost_8x_same_overhead(int64_t k, int side)
{
	double c = side == AN_PROD ? 0.005 : 0.040;
	return k < 2 ? c : c + 0.010;
}

Test(analysis, a_deviation_from_the_first_tick_is_the_shadows)
{
	an_params_t p;
	an_params_default(&p);
	an_out_t *out = malloc(sizeof(*out));
	const cost_fn cases[] = {cost_8x_ratio_kept, cost_8x_same_overhead};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		an_analyzer_t *a = make(&p);
		an_finding_t f;
		/* present from the start: found once the warm-up (300
		 * ticks at the defaults) is over, not before */
		cr_assert(feed_cpu(a, 360, cases[c], &f, out), "case %zu", c);
		cr_assert_geq(f.t_ns, S(299), "case %zu: t %lld", c,
			      (long long)f.t_ns);
		cr_assert_leq(f.t_ns, S(305), "case %zu: t %lld", c,
			      (long long)f.t_ns);
		/* production moved more from its first value, but the
		 * deviation was there before it moved */
		cr_assert_gt(f.change[AN_PROD], f.change[AN_SHADOW],
			     "case %zu", c);
		cr_assert_eq(f.mover, AN_SHADOW, "case %zu: mover %s", c,
			     an_side_name(f.mover));
		cr_assert_gt(f.deviation, 1.0, "case %zu", c);
		an_analyzer_free(a);
	}
	free(out);
}

/* Equal costs for ten minutes, then production's doubles. */
static double cost_prod_doubles_at_600(int64_t k, int side)
{
	return k >= 600 && side == AN_PROD ? 0.010 : 0.005;
}

Test(analysis, production_regressing_after_a_stable_baseline_is_the_mover)
{
	an_params_t p;
	an_params_default(&p);
	an_out_t *out = malloc(sizeof(*out));
	an_analyzer_t *a = make(&p);
	an_finding_t f;
	cr_assert(feed_cpu(a, 700, cost_prod_doubles_at_600, &f, out));
	cr_assert_geq(f.onset_ns, S(600));
	cr_assert_eq(f.mover, AN_PROD, "mover %s", an_side_name(f.mover));
	cr_assert_gt(f.change[AN_PROD], 0.5);
	cr_assert_lt(fabs(f.change[AN_SHADOW]), 0.1);
	an_analyzer_free(a);
	free(out);
}

/* Production's memory steps up 7% (under half the 15% threshold: quiet,
 * so both baselines learn it within half an hour), then grows 0.02% a
 * second. The baselines' deviation (about 0.07) is more than half the
 * current one until the current one doubles it; the prediction must not
 * wait for that: a learned offset is not a pre-existing deviation. */
Test(analysis, a_prediction_over_a_learned_offset_is_productions)
{
	an_params_t p;
	an_params_default(&p);
	an_out_t *out = malloc(sizeof(*out));
	an_analyzer_t *a = make(&p);
	an_tick_t t;
	an_finding_t f;
	bool got = false;
	for (int64_t k = 0; k < 3600 && !got; k++) {
		double g = k < 600 ? 1 : 1.07;
		if (k >= 2400)
			g += 0.0002 * (double)(k - 2400);
		one(&t, k, AN_M_memory, 1e8 * g * noise(0.002),
		    1e8 * noise(0.002));
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
		for (size_t i = 0; i < out->nfindings; i++)
			if (out->finding[i].metric == AN_M_memory) {
				f = out->finding[i];
				got = true;
			}
	}
	cr_assert(got);
	cr_assert_eq(f.kind, AN_FIND_PREDICTED);
	cr_assert_eq(f.mover, AN_PROD, "mover %s", an_side_name(f.mover));
	cr_assert_lt(f.deviation, 0.125, "waited for %.3f", f.deviation);
	free(out);
	an_analyzer_free(a);
}

/* ------------------------------------------------------------ envelope */

static size_t noisy_aa(an_analyzer_t *a, int64_t from, int64_t to,
		       double rel, bool baseline, bool differs,
		       an_out_t *out)
{
	an_tick_t t;
	size_t found = 0;
	for (int64_t k = from; k < to; k++) {
		double b = 1.0;
		one(&t, k, AN_M_latency_p50, b * noise(rel), b * noise(rel));
		if (baseline)
			t.value[AN_BASELINE][AN_M_latency_p50] = b * noise(rel);
		t.config_differs = differs;
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
		found += out->nfindings;
	}
	return found;
}

Test(analysis, envelope_lifts_the_threshold_over_a_noisy_pair)
{
	an_params_t p;
	an_params_default(&p);
	p.metric[AN_M_latency_p50].threshold = 0.02; /* under the noise */
	p.metric[AN_M_latency_p50].critical = 10;
	p.envelope_quantile = 0.999;
	an_out_t *out = malloc(sizeof(*out));
	an_analyzer_t *a = make(&p);
	noisy_aa(a, 0, 3600, 0.05, false, false, out);
	const an_metric_view_t *v = &out->metric[AN_M_latency_p50];
	cr_assert_gt(v->envelope, 0.02, "envelope %g", v->envelope);
	cr_assert_float_eq(v->threshold, v->envelope, 1e-12);
	/* learned: the next two hours of the same noise raise nothing */
	cr_assert_eq(noisy_aa(a, 3600, 3 * 3600, 0.05, false, false, out), 0);
	an_analyzer_free(a);

	/* without the envelope the same pair keeps raising findings */
	p.envelope = false;
	a = make(&p);
	cr_assert_gt(noisy_aa(a, 0, 3 * 3600, 0.05, false, false, out), 0);
	an_analyzer_free(a);

	/* configs differ and no baseline: nothing is learned */
	p.envelope = true;
	a = make(&p);
	noisy_aa(a, 0, 3600, 0.05, false, true, out);
	cr_assert_eq(out->metric[AN_M_latency_p50].envelope, 0);
	an_analyzer_free(a);

	/* configs differ but a baseline runs production's: learned from it */
	a = make(&p);
	noisy_aa(a, 0, 3600, 0.05, true, true, out);
	cr_assert_gt(out->metric[AN_M_latency_p50].envelope, 0.02);
	an_analyzer_free(a);
	free(out);
}

/* ------------------------------------------------------------ verdict */

Test(analysis, verdict_judges_the_window)
{
	an_params_t p;
	an_params_default(&p);
	p.metric[AN_M_cpu].critical_metric = true;
	p.ratio = 1; /* cpu without rps: compared through the ratio */
	an_out_t *out = malloc(sizeof(*out));
	an_analyzer_t *a = make(&p);
	an_verdict_t v;
	an_tick_t t;
	cr_assert_eq(an_analyzer_verdict(a, AN_SHADOW, &v), 0);
	cr_assert_eq(v.result, AN_VERDICT_NODATA);
	cr_assert_eq(an_analyzer_verdict(a, AN_BOTH, &v), ERR_INVAL);
	/* 5 minutes alike: pass */
	for (int64_t k = 0; k < 320; k++) {
		an_tick_clear(&t, S(k));
		t.value[AN_PROD][AN_M_cpu] = noise(0.05);
		t.value[AN_SHADOW][AN_M_cpu] = noise(0.05);
		t.value[AN_PROD][AN_M_memory] = 1e8 * noise(0.01);
		t.value[AN_SHADOW][AN_M_memory] = 1e8 * noise(0.01);
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
	}
	cr_assert_eq(an_analyzer_verdict(a, AN_SHADOW, &v), 0);
	cr_assert_eq(v.result, AN_VERDICT_PASS, "%s %g",
		     an_verdict_result_name(v.result), v.score);
	cr_assert_float_eq(v.score, 100, 1e-9);
	cr_assert_eq(v.metric[AN_M_cpu].result, AN_V_PASS);
	cr_assert_eq(v.metric[AN_M_cpu].n, 30);
	cr_assert_eq(v.metric[AN_M_latency_p50].result, AN_V_NODATA);
	cr_assert_eq(v.ngroups, 1);
	cr_assert_str_eq(v.group[0].name, "resources");
	/* the shadow's cpu 40% higher for 5 more minutes */
	for (int64_t k = 320; k < 640; k++) {
		an_tick_clear(&t, S(k));
		t.value[AN_PROD][AN_M_cpu] = noise(0.05);
		t.value[AN_SHADOW][AN_M_cpu] = 1.4 * noise(0.05);
		t.value[AN_PROD][AN_M_memory] = 1e8 * noise(0.01);
		t.value[AN_SHADOW][AN_M_memory] = 1e8 * noise(0.01);
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
	}
	cr_assert_eq(an_analyzer_verdict(a, AN_SHADOW, &v), 0);
	const an_metric_verdict_t *c = &v.metric[AN_M_cpu];
	cr_assert_eq(c->result, AN_V_HIGH);
	cr_assert(c->failed);
	cr_assert_lt(c->p_value, 1e-6);
	cr_assert(c->lo < 0.4 && 0.4 < c->hi, "CI [%g, %g]", c->lo, c->hi);
	cr_assert(fabs(c->shift - 0.4) < 0.05, "shift %g", c->shift);
	cr_assert(v.critical_failed);
	cr_assert_eq(v.result, AN_VERDICT_FAIL);
	cr_assert_float_eq(v.score, 50, 1e-9, "one of two metrics passes");
	/* production as the experiment: it is lower, which cpu allows */
	cr_assert_eq(an_analyzer_verdict(a, AN_PROD, &v), 0);
	cr_assert_eq(v.metric[AN_M_cpu].result, AN_V_LOW);
	cr_assert(!v.metric[AN_M_cpu].failed);
	cr_assert_eq(v.result, AN_VERDICT_PASS);
	free(out);
	an_analyzer_free(a);
}

/* ------------------------------------------------------------ context */

static void mod_cost_prod(int64_t k, sim_mod_t *m)
{
	if (k >= 1800)
		m->cost[AN_PROD] = 1.4;
}

Test(analysis, drift_is_context_and_production_rolls_back)
{
	an_params_t p;
	an_params_default(&p);
	an_analyzer_t *a = make(&p);
	an_out_t *out = malloc(sizeof(*out));
	sim_t s;
	sim_init(&s, 3, 1.0);
	an_drift_in_t drift = {"/etc/api/app.yaml", "workers, cache.size"};
	const an_finding_t *f = NULL;
	for (int64_t k = 0; k < 1900 && !f; k++) {
		sim_mod_t m;
		sim_mod_none(&m);
		mod_cost_prod(k, &m);
		an_tick_t *t = (an_tick_t *)sim_step(&s, k, &m);
		t->drift = &drift;
		t->ndrift = 1;
		cr_assert_eq(an_analyzer_update(a, t, out), 0);
		for (size_t i = 0; i < out->nfindings; i++)
			if (out->finding[i].metric == AN_M_cpu)
				f = &out->finding[i];
	}
	cr_assert(f);
	cr_assert_eq(f->mover, AN_PROD);
	cr_assert_eq(f->action, AN_ACT_ROLLBACK, "%s", f->reason);
	bool ctx = false, cause = false;
	for (size_t i = 0; i < f->ncontext; i++)
		ctx |= f->context[i].drift &&
		       !strcmp(f->context[i].name, "/etc/api/app.yaml");
	for (size_t i = 0; i < f->ncauses; i++)
		cause |= f->cause[i].kind == AN_CAUSE_DRIFT &&
			 strstr(f->cause[i].evidence, "cache.size");
	cr_assert(ctx && cause);
	free(out);
	an_analyzer_free(a);
}

static void mod_job_prod(int64_t k, sim_mod_t *m)
{
	int64_t d = k % 86400;
	if (d >= 7200 && d < 9000)
		m->cpu_add[AN_PROD] = 0.3;
}

Test(analysis, one_sided_task_annotates_but_does_not_suppress)
{
	an_params_t p;
	an_params_default(&p);
	p.metric[AN_M_cpu].direction = AN_DIR_EITHER;
	an_sched_t task = {.name = "backup", .duration_ns = 1800000000000LL,
			   .side = AN_PROD};
	const char *why;
	cr_assert_eq(cron_parse("0 2 * * *", &task.cron, &why), 0);
	p.sched = &task;
	p.nsched = 1;
	an_analyzer_t *a = make(&p);
	an_out_t *out = malloc(sizeof(*out));
	sim_t s;
	sim_init(&s, 5, 1.0);
	an_finding_t f = {0};
	bool got = false;
	for (int64_t k = 5400; k < 7500 && !got; k++) {
		sim_mod_t m;
		sim_mod_none(&m);
		mod_job_prod(k, &m);
		cr_assert_eq(an_analyzer_update(a, sim_step(&s, k, &m), out), 0);
		for (size_t i = 0; i < out->nfindings; i++)
			if (out->finding[i].metric == AN_M_cpu) {
				f = out->finding[i];
				got = true;
			}
	}
	cr_assert(got);
	cr_assert(!f.suppressed);
	cr_assert_eq(f.mover, AN_PROD);
	bool explains = false;
	for (size_t i = 0; i < f.ncontext; i++)
		explains |= f.context[i].explains &&
			    !strcmp(f.context[i].name, "backup");
	cr_assert(explains);
	cr_assert_eq(f.cause[0].kind, AN_CAUSE_SCHEDULED);
	cr_assert_leq(f.severity, 50, "halved by the task");
	free(out);
	an_analyzer_free(a);
}

static void mod_memory_then_cpu(int64_t k, sim_mod_t *m)
{
	if (k >= 1800)
		m->mem[AN_SHADOW] = 1.3;
	if (k >= 1812)
		m->cost[AN_SHADOW] = 1.3;
}

Test(analysis, the_metric_that_moved_first_leads)
{
	an_params_t p;
	an_params_default(&p);
	an_analyzer_t *a = make(&p);
	an_out_t *out = malloc(sizeof(*out));
	sim_t s;
	sim_init(&s, 11, 1.0);
	an_finding_t f = {0};
	bool got = false;
	for (int64_t k = 0; k < 1900 && !got; k++) {
		sim_mod_t m;
		sim_mod_none(&m);
		mod_memory_then_cpu(k, &m);
		cr_assert_eq(an_analyzer_update(a, sim_step(&s, k, &m), out), 0);
		for (size_t i = 0; i < out->nfindings; i++)
			if (out->finding[i].metric == AN_M_cpu) {
				f = out->finding[i];
				got = true;
			}
	}
	cr_assert(got);
	const an_cause_t *lead = NULL;
	for (size_t i = 0; i < f.ncauses; i++)
		if (f.cause[i].kind == AN_CAUSE_LEADING)
			lead = &f.cause[i];
	cr_assert(lead, "no leading metric");
	cr_assert_str_eq(lead->subject, "memory");
	cr_assert(strstr(lead->evidence, "by 12 s") != NULL, "%s",
		  lead->evidence);
	free(out);
	an_analyzer_free(a);
}

/* ------------------------------------------------------------ bounds */

Test(analysis, events_and_endpoints_are_bounded)
{
	an_params_t p;
	an_params_default(&p);
	an_analyzer_t *a = make(&p);
	an_event_t ev = {.start_ns = S(0), .end_ns = S(-1),
			 .kind = AN_EV_NOTE, .side = AN_PROD, .text = "x"};
	cr_assert_eq(an_analyzer_event(a, &ev), ERR_INVAL, "end before start");
	ev.end_ns = S(0);
	ev.side = AN_BASELINE;
	cr_assert_eq(an_analyzer_event(a, &ev), ERR_INVAL);
	ev.side = AN_PROD;
	ev.kind = AN_EV__COUNT;
	cr_assert_eq(an_analyzer_event(a, &ev), ERR_INVAL);
	ev.kind = AN_EV_NOTE;
	char big[1000];
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ev.text = big;
	for (int i = 0; i < AN_MAX_EVENTS * 3; i++)
		cr_assert_eq(an_analyzer_event(a, &ev), 0);
	an_endpoint_in_t *eps = calloc(AN_MAX_ENDPOINTS * 2, sizeof(*eps));
	for (size_t i = 0; i < AN_MAX_ENDPOINTS * 2; i++) {
		eps[i].id = (uint32_t)i * 7919;
		eps[i].name = big;
		eps[i].requests[0] = eps[i].requests[1] = 1;
		eps[i].latency[0] = eps[i].latency[1] = 0.01;
		eps[i].cost[0] = eps[i].cost[1] = NAN;
		eps[i].differ_rate = NAN;
	}
	an_out_t *out = malloc(sizeof(*out));
	an_tick_t t;
	for (int64_t k = 0; k < 10; k++) {
		one(&t, k, AN_M_cpu, 1, 1);
		t.endpoints = eps;
		t.nendpoints = AN_MAX_ENDPOINTS * 2;
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
	}
	free(eps);
	free(out);
	an_analyzer_free(a);
}

/* ------------------------------------------------------------ resolution */

/* CPU read in 10 ms clock ticks: the cumulative time truncated to a tick,
 * per 1-s interval, the way /proc/PID/stat gives it (one member per side,
 * so the collector's resolution is two ticks: 0.02 cores). */
typedef struct ticker {
	double used; /* true CPU seconds so far */
} ticker_t;

/* The next 1-s reading of a side using cores on average (5% jitter in
 * what it really uses): the tick count's growth, in cores. */
static double ticked(ticker_t *tk, double cores)
{
	double before = floor(tk->used * 100);
	tk->used += cores * noise(0.05);
	return (floor(tk->used * 100) - before) / 100;
}

Test(analysis, sub_resolution_cpu_noise_is_never_a_finding)
{
	/* Production 0.053 cores at 100 req/s, the shadow 0.0265 at 50
	 * (ratio 0.5): the same cost per request. Read in ticks, production
	 * reads 0.05 or 0.06 and the shadow 0.02 or 0.03; per request on
	 * production's scale the difference swings between -0.02 and +0.01
	 * cores, up to 0.4 of the 0.053-core side: without the significance
	 * floor that is noise over the 0.10 threshold (the control below,
	 * with no envelope to learn it). The difference's resolution is
	 * 0.02 + 0.02 * 100 / 50 = 0.06 cores, more than any swing: the
	 * deviation is exactly 0 on every tick. */
	an_params_t p;
	an_params_default(&p);
	p.ratio = 0.5;
	p.warmup_ns = 0;
	p.envelope = false;
	for (int pass = 0; pass < 2; pass++) {
		bool floored = pass == 0;
		an_analyzer_t *a = make(&p);
		an_out_t out;
		size_t findings = 0;
		double maxdev = 0;
		ticker_t tp = {0}, ts = {0};
		for (int64_t k = 0; k < 900; k++) {
			an_tick_t t;
			one(&t, k, AN_M_cpu, ticked(&tp, 0.053),
			    ticked(&ts, 0.0265));
			t.rps[AN_PROD] = 100;
			t.rps[AN_SHADOW] = 50;
			if (floored) {
				t.resolution[AN_PROD][AN_M_cpu] = 0.02;
				t.resolution[AN_SHADOW][AN_M_cpu] = 0.02;
			}
			cr_assert_eq(an_analyzer_update(a, &t, &out), 0);
			findings += out.nfindings;
			if (out.metric[AN_M_cpu].deviation > maxdev)
				maxdev = out.metric[AN_M_cpu].deviation;
		}
		if (floored) {
			cr_assert_eq(findings, 0, "%zu findings", findings);
			cr_assert_eq(maxdev, 0, "deviation %g", maxdev);
		} else {
			cr_assert_gt(findings, 0, "the control: ticks are noise "
				     "(max deviation %g)", maxdev);
			cr_assert_gt(maxdev, 0.1, "control deviation %g", maxdev);
		}
		an_analyzer_free(a);
	}
}

Test(analysis, the_resolution_is_taken_out_of_the_difference)
{
	/* Production 0.10 cores at 100 req/s, the shadow 0.08 at 50: on
	 * production's scale the shadow costs 0.16, 0.06 more. Resolutions
	 * 0.01 each: the difference's is 0.01 + 0.01 * 100 / 50 = 0.03, so
	 * 0.03 is vouched for, over the smaller side 0.10: deviation 0.3. */
	an_params_t p;
	an_params_default(&p);
	p.ratio = 0.5;
	p.warmup_ns = 0;
	an_analyzer_t *a = make(&p);
	an_tick_t t;
	an_out_t out;
	one(&t, 0, AN_M_cpu, 0.10, 0.08);
	t.rps[AN_PROD] = 100;
	t.rps[AN_SHADOW] = 50;
	t.resolution[AN_PROD][AN_M_cpu] = 0.01;
	t.resolution[AN_SHADOW][AN_M_cpu] = 0.01;
	cr_assert_eq(an_analyzer_update(a, &t, &out), 0);
	cr_assert_float_eq(out.metric[AN_M_cpu].signed_dev, 0.3, 1e-12,
			   "%g", out.metric[AN_M_cpu].signed_dev);
	/* a resolution of NaN or below 0 is none */
	one(&t, 1, AN_M_cpu, 0.10, 0.08);
	t.rps[AN_PROD] = 100;
	t.rps[AN_SHADOW] = 50;
	t.resolution[AN_PROD][AN_M_cpu] = NAN;
	t.resolution[AN_SHADOW][AN_M_cpu] = -1;
	cr_assert_eq(an_analyzer_update(a, &t, &out), 0);
	/* raw 0.6; the EWMA (0.3) from 0.3: 0.39 */
	cr_assert_float_eq(out.metric[AN_M_cpu].signed_dev, 0.39, 1e-12,
			   "%g", out.metric[AN_M_cpu].signed_dev);
	an_analyzer_free(a);
}

/* ------------------------------------------------------------ the mover */

/* A bad production config at tick 1800: production's CPU per request
 * 1.6x, every endpoint 1.5x slower, its responses 40 % smaller (error
 * pages), and 30 % of the pairs differ. With the config change posted
 * (production's side), every finding it causes names production as the
 * mover: the side that changed is the one that moved, and a share of
 * differing pairs is the pair's, not the shadow's. Without the event,
 * the diff_rate finding names the shadow (its value is the only one
 * that moved): the event is what decides it. */
static size_t bad_prod_config(bool posted, an_metric_t *metrics,
			      an_side_t *movers, size_t cap)
{
	an_params_t p;
	an_params_default(&p);
	p.metric[AN_M_net_tx].direction = AN_DIR_EITHER;
	an_analyzer_t *a = make(&p);
	an_out_t *out = malloc(sizeof(*out));
	sim_t s;
	sim_init(&s, 11, 1.0);
	size_t n = 0;
	for (int64_t k = 0; k < 2100; k++) {
		sim_mod_t m;
		sim_mod_none(&m);
		if (k >= 1800) {
			m.cost[AN_PROD] = 1.6;
			for (int e = 0; e < SIM_NEP; e++)
				m.ep_lat[e][AN_PROD] = 1.5;
		}
		an_tick_t *t = (an_tick_t *)sim_step(&s, k, &m);
		if (k >= 1800) {
			t->value[AN_PROD][AN_M_net_tx] *= 0.6;
			t->value[AN_SHADOW][AN_M_diff_rate] = 0.3;
		}
		if (k == 1800 && posted) {
			an_event_t ev = {S(k), S(k), AN_EV_CONFIG_CHANGE,
					 AN_PROD, "app.yaml: cache off"};
			cr_assert_eq(an_analyzer_event(a, &ev), 0);
		}
		cr_assert_eq(an_analyzer_update(a, t, out), 0);
		for (size_t i = 0; i < out->nfindings && n < cap; i++) {
			const an_finding_t *f = &out->finding[i];
			cr_assert_geq(f->t_ns, S(1800), "%s before the change",
				      an_metric_name(f->metric));
			metrics[n] = f->metric;
			movers[n++] = f->mover;
		}
	}
	free(out);
	an_analyzer_free(a);
	return n;
}

Test(analysis, a_bad_production_config_names_production_in_every_finding)
{
	an_metric_t metric[64];
	an_side_t mover[64];
	size_t n = bad_prod_config(true, metric, mover, 64);
	bool seen[AN_METRIC__COUNT] = {0};
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(mover[i], AN_PROD, "%s: %s moved",
			     an_metric_name(metric[i]), an_side_name(mover[i]));
		seen[metric[i]] = true;
	}
	cr_assert(seen[AN_M_cpu] && seen[AN_M_latency_p90] &&
		  seen[AN_M_net_tx] && seen[AN_M_diff_rate],
		  "cpu %d p90 %d net_tx %d diff_rate %d", seen[AN_M_cpu],
		  seen[AN_M_latency_p90], seen[AN_M_net_tx],
		  seen[AN_M_diff_rate]);
	/* the control: unposted, the differing pairs are the shadow's */
	n = bad_prod_config(false, metric, mover, 64);
	bool shadow_diff = false;
	for (size_t i = 0; i < n; i++)
		shadow_diff |= metric[i] == AN_M_diff_rate &&
			       mover[i] == AN_SHADOW;
	cr_assert(shadow_diff, "without the event diff_rate is the shadow's");
}

/* The scheduled job of issue 22: both sides carry it (+15 % from tick
 * 600 for ten minutes), and the shadow answers it unevenly: in every 10 s
 * it runs 10 % under production for 4 ticks, then 20 % over for 6. At
 * the findings the sides' moves from their own baselines are about
 * production +15 % and the shadow +38 %: "the smaller at least half the
 * larger" does not hold, which made it an alert. The raw difference
 * between the sides never passes the 10 % threshold over a 10-s window
 * ((6 x 20 % - 4 x 10 %) / 10 = 8 %, and less in any shorter start of
 * the job): alike, so every finding is suppressed, and none is an
 * alert. */
Test(analysis, a_job_on_both_sides_alike_over_its_run_is_no_alert)
{
	an_params_t p;
	an_params_default(&p);
	p.warmup_ns = 0;
	p.ratio = 1;
	an_analyzer_t *a = make(&p);
	an_out_t *out = malloc(sizeof(*out));
	an_event_t job = {S(600), S(1200), AN_EV_SCHEDULED, AN_BOTH,
			  "nightly-reindex"};
	size_t findings = 0, not_alike_by_baselines = 0;
	for (int64_t k = 0; k < 1300; k++) {
		double base = 1.0 * noise(0.005), load = 1;
		double burst = 1;
		if (k >= 600 && k < 1200) {
			load = 1.15;
			burst = (k - 600) % 10 < 4 ? 0.9 : 1.2;
		}
		an_tick_t t;
		one(&t, k, AN_M_cpu, base * load,
		    base * load * burst * noise(0.005));
		t.rps[AN_PROD] = t.rps[AN_SHADOW] = 100;
		if (k == 600)
			cr_assert_eq(an_analyzer_event(a, &job), 0);
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
		for (size_t i = 0; i < out->nfindings; i++) {
			const an_finding_t *f = &out->finding[i];
			findings++;
			cr_log_info("t=%lld %s dev %.3f p %+.3f s %+.3f",
				    (long long)(f->t_ns / 1000000000LL - SIM_T0),
				    an_find_kind_name(f->kind), f->deviation,
				    f->change[AN_PROD], f->change[AN_SHADOW]);
			cr_assert_geq(f->t_ns, S(600));
			cr_assert(f->suppressed, "%s at %lld not suppressed: %s",
				  an_find_kind_name(f->kind),
				  (long long)(f->t_ns / 1000000000LL - SIM_T0),
				  f->reason);
			cr_assert_eq(f->action, AN_ACT_NONE, "%s", f->reason);
			double cp = fabs(f->change[AN_PROD]);
			double cs = fabs(f->change[AN_SHADOW]);
			if (fmin(cp, cs) < 0.5 * fmax(cp, cs))
				not_alike_by_baselines++;
		}
	}
	cr_assert_gt(findings, 0, "the bursts raise findings");
	cr_assert_gt(not_alike_by_baselines, 0,
		     "the baselines' moves alone would not call it alike");
	free(out);
	an_analyzer_free(a);
}

/* ------------------------------------------------------------ replay */

/* A capture replayed into the shadow from tick 1800 for five minutes
 * (umbra replay --announce shadow): the replayed requests load the
 * shadow without passing the proxy, so its CPU per request doubles. That
 * is the replay's, not a regression: the cpu finding is suppressed and
 * not acted on, with the replay in its context. Its errors are still the
 * shadow's own: an error_rate finding during the replay is judged as
 * usual. Control: unannounced, the same cpu data is an alert. */
static void replay_run(bool announced, an_finding_t *cpu, an_finding_t *err)
{
	an_params_t p;
	an_params_default(&p);
	an_analyzer_t *a = make(&p);
	an_out_t *out = malloc(sizeof(*out));
	sim_t s;
	sim_init(&s, 5, 1.0);
	memset(cpu, 0, sizeof(*cpu));
	memset(err, 0, sizeof(*err));
	for (int64_t k = 0; k < 2100; k++) {
		sim_mod_t m;
		sim_mod_none(&m);
		if (k >= 1800)
			m.cost[AN_SHADOW] = 2.0;
		an_tick_t *t = (an_tick_t *)sim_step(&s, k, &m);
		if (k >= 1900) {
			t->value[AN_PROD][AN_M_error_rate] = 0.01;
			t->value[AN_SHADOW][AN_M_error_rate] = 0.2;
		}
		if (k == 1800 && announced) {
			an_event_t ev = {S(k), S(k + 300), AN_EV_REPLAY,
					 AN_SHADOW, "umbra replay day.ucap"};
			cr_assert_eq(an_analyzer_event(a, &ev), 0);
		}
		cr_assert_eq(an_analyzer_update(a, t, out), 0);
		for (size_t i = 0; i < out->nfindings; i++) {
			const an_finding_t *f = &out->finding[i];
			if (f->metric == AN_M_cpu && !cpu->t_ns)
				*cpu = *f;
			if (f->metric == AN_M_error_rate && !err->t_ns)
				*err = *f;
		}
	}
	free(out);
	an_analyzer_free(a);
}

Test(analysis, a_replay_into_the_shadow_is_judged_as_such)
{
	an_finding_t cpu, err;
	replay_run(true, &cpu, &err);
	cr_assert(cpu.t_ns, "the cpu deviation is reported");
	cr_assert_eq(cpu.mover, AN_SHADOW);
	cr_assert(cpu.suppressed && cpu.action == AN_ACT_NONE, "%s",
		  cpu.reason);
	cr_assert(strstr(cpu.reason, "replayed"), "%s", cpu.reason);
	bool ctx = false;
	for (size_t i = 0; i < cpu.ncontext; i++)
		ctx |= cpu.context[i].kind == AN_EV_REPLAY &&
		       cpu.context[i].explains;
	cr_assert(ctx, "the replay is the context that explains it");
	cr_assert(err.t_ns, "the shadow's errors are found");
	cr_assert(!err.suppressed && err.action != AN_ACT_NONE, "%s",
		  err.reason);
	replay_run(false, &cpu, &err);
	cr_assert(cpu.t_ns && !cpu.suppressed &&
			  cpu.action >= AN_ACT_ALERT,
		  "unannounced: %s", cpu.reason);
}

/* ------------------------------------------------ single-side anomalies */

Test(analysis, a_frozen_shadow_metric_is_an_anomaly_named_stuck)
{
	an_params_t p;
	an_params_default(&p);
	an_analyzer_t *a = make(&p);
	an_out_t *out = malloc(sizeof(*out));
	/* 400 ticks of memory moving on both sides, then the shadow's value
	 * freezes (an exporter repeating its last sample) while production
	 * keeps moving: the deviation stays small, the run does not. */
	double frozen = 0;
	int64_t at = -1;
	size_t n = 0;
	for (int64_t k = 0; k < 500; k++) {
		an_tick_t t;
		double v = 2e8 * noise(0.01);
		if (k == 400)
			frozen = v;
		one(&t, k, AN_M_memory, 2e8 * noise(0.01), k >= 400 ? frozen : v);
		cr_assert_eq(an_analyzer_update(a, &t, out), 0);
		cr_assert(isfinite(out->metric[AN_M_memory].anomaly[AN_SHADOW]));
		cr_assert(isnan(out->metric[AN_M_cpu].anomaly[AN_SHADOW]));
		for (size_t i = 0; i < out->nanomalies; i++) {
			const an_anomaly_t *an = &out->anomaly[i];
			cr_assert_eq(an->metric, AN_M_memory);
			cr_assert_eq(an->side, AN_SHADOW, "production moves");
			cr_assert_str_eq(an->kind, "stuck");
			cr_assert_geq(an->score, AN_DET_ALARM);
			cr_assert_eq(an->value, frozen);
			if (at < 0)
				at = k;
			n++;
		}
	}
	/* Runs of one point before: the alarm at twice the floor of 6. */
	cr_assert_eq(at, 400 + 11, "first anomaly at tick %ld", (long)at);
	cr_assert_eq(n, 1, "one alarm per frozen run");
	free(out);
	an_analyzer_free(a);
}
