/*
 * test_analysis_config.c: the config -> analysis parameters translation.
 * The analysis keeps its own defaults (it may not depend on config); here
 * the two sets are checked to be the same, metric by metric, and a
 * config's values to arrive where they belong.
 */
#include "cmd/analysis_config.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(analysis_config, every_config_metric_has_its_twin)
{
	cr_assert_eq((int)CONFIG_METRIC__COUNT, (int)AN_METRIC__COUNT);
	for (int i = 0; i < CONFIG_METRIC__COUNT; i++) {
		const char *n = config_metric_name((config_metric_t)i);
		cr_assert_eq(an_metric_by_name(n), i, "%s", n);
	}
}

Test(analysis_config, defaults_agree)
{
	config_t *c = config_new_default("t");
	an_params_t got, want;
	an_sched_t *sched;
	cmd_analysis_params(c, &got, &sched);
	an_params_default(&want);
	cr_assert_eq(got.interval_ns, want.interval_ns);
	cr_assert_eq(got.history_ns, want.history_ns);
	cr_assert_eq(got.warmup_ns, want.warmup_ns);
	cr_assert_float_eq(got.smoothing, want.smoothing, 1e-12);
	cr_assert_eq(got.velocity_window_ns, want.velocity_window_ns);
	cr_assert_float_eq(got.velocity_threshold, want.velocity_threshold,
			   1e-12);
	cr_assert_eq(got.envelope, want.envelope);
	cr_assert_float_eq(got.envelope_quantile, want.envelope_quantile, 1e-12);
	cr_assert_eq(got.envelope_half_life_ns, want.envelope_half_life_ns);
	cr_assert_eq(got.horizon_ns, want.horizon_ns);
	cr_assert_eq(got.forecaster, want.forecaster);
	cr_assert_eq(got.verdict_window_ns, want.verdict_window_ns);
	cr_assert_float_eq(got.verdict_pass, want.verdict_pass, 1e-12);
	cr_assert_float_eq(got.verdict_marginal, want.verdict_marginal, 1e-12);
	cr_assert_float_eq(got.verdict_alpha, want.verdict_alpha, 1e-12);
	cr_assert_eq(got.after_change_ns, want.after_change_ns);
	cr_assert_float_eq(got.ratio, want.ratio, 1e-12);
	for (int m = 0; m < AN_METRIC__COUNT; m++) {
		const an_metric_params_t *g = &got.metric[m], *w = &want.metric[m];
		const char *n = an_metric_name((an_metric_t)m);
		cr_assert_float_eq(g->threshold, w->threshold, 1e-12, "%s", n);
		cr_assert_float_eq(g->critical, w->critical, 1e-12, "%s", n);
		cr_assert_float_eq(g->weight, w->weight, 1e-12, "%s", n);
		cr_assert_float_eq(g->floor, w->floor, 1e-12, "%s", n);
		cr_assert_float_eq(g->floor, an_metric_default_floor(m), 1e-12);
		cr_assert_eq(g->direction, w->direction, "%s", n);
		cr_assert_eq(g->critical_metric, w->critical_metric, "%s", n);
		cr_assert_str_eq(g->group, w->group, "%s", n);
	}
	cr_assert_eq(got.nsched, 0);
	cr_assert_null(sched);
	config_free(c);
}

Test(analysis_config, values_arrive)
{
	const char *y = "service: api\n"
			"production:\n  upstreams: [127.0.0.1:1]\n"
			"shadow:\n  ratio: 25%\n"
			"analysis:\n"
			"  velocity_window: 10s\n"
			"  horizon: 2m\n"
			"  verdict: {window: 10m, pass: 90, marginal: 70}\n"
			"  metrics:\n"
			"    cpu: {threshold: 0.2, critical: 0.5, floor: 0.1,\n"
			"          critical_metric: true, group: compute}\n"
			"    net_rx: {direction: decrease, weight: 3}\n"
			"events:\n"
			"  after_change: 2m\n"
			"  scheduled:\n"
			"    - {name: backup, cron: '30 3 * * 0', duration: 1h,\n"
			"       side: production}\n";
	config_t *c = NULL;
	config_errors_t errs = {0};
	cr_assert_eq(config_load_string("t.yaml", y, strlen(y), NULL, &c, &errs),
		     0, "%s", errs.n ? errs.v[0].msg : "");
	config_errors_free(&errs);
	an_params_t p;
	an_sched_t *sched;
	cmd_analysis_params(c, &p, &sched);
	cr_assert_float_eq(p.ratio, 0.25, 1e-12);
	cr_assert_eq(p.velocity_window_ns, 10000000000LL);
	cr_assert_eq(p.horizon_ns, 120000000000LL);
	cr_assert_eq(p.verdict_window_ns, 600000000000LL);
	cr_assert_float_eq(p.verdict_pass, 90, 1e-12);
	cr_assert_eq(p.after_change_ns, 120000000000LL);
	cr_assert_float_eq(p.metric[AN_M_cpu].threshold, 0.2, 1e-12);
	cr_assert_float_eq(p.metric[AN_M_cpu].floor, 0.1, 1e-12);
	cr_assert(p.metric[AN_M_cpu].critical_metric);
	cr_assert_str_eq(p.metric[AN_M_cpu].group, "compute");
	cr_assert_eq(p.metric[AN_M_net_rx].direction, AN_DIR_DECREASE);
	cr_assert_float_eq(p.metric[AN_M_net_rx].weight, 3, 1e-12);
	cr_assert_eq(p.nsched, 1);
	cr_assert_str_eq(p.sched[0].name, "backup");
	cr_assert_eq(p.sched[0].side, AN_PROD);
	cr_assert_eq(p.sched[0].duration_ns, 3600000000000LL);
	/* Sunday 2026-01-04 03:30 UTC matches */
	cr_assert(cron_matches(&p.sched[0].cron, 1767497400));
	cr_assert_eq(an_params_validate(&p, NULL), 0);
	free(sched);
	config_free(c);
}
