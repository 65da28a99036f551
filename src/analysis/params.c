/*
 * params.c: the analysis' names (metrics, sides, kinds, actions), its
 * default parameters and their validation. The defaults are the config
 * table's (src/config/config_table.c); a unit test checks that the two
 * agree, since analysis may not depend on config.
 */
#include "analysis/analysis_int.h"

#include "base/err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NS 1000000000LL

static const char *const metric_names[] = {
#define AN__METRIC_NAME(name, norm, floor) #name,
	AN_METRICS(AN__METRIC_NAME)
#undef AN__METRIC_NAME
};
static const an_norm_t metric_norms[] = {
#define AN__METRIC_NORM(name, norm, floor) norm,
	AN_METRICS(AN__METRIC_NORM)
#undef AN__METRIC_NORM
};
static const double metric_floors[] = {
#define AN__METRIC_FLOOR(name, norm, floor) floor,
	AN_METRICS(AN__METRIC_FLOOR)
#undef AN__METRIC_FLOOR
};

const char *an_metric_name(an_metric_t m)
{
	return (unsigned)m < AN_METRIC__COUNT ? metric_names[m] : "?";
}

int an_metric_by_name(const char *name)
{
	for (int i = 0; i < AN_METRIC__COUNT; i++)
		if (strcmp(metric_names[i], name) == 0)
			return i;
	return -1;
}

an_norm_t an_metric_norm(an_metric_t m)
{
	return metric_norms[m];
}

double an_metric_default_floor(an_metric_t m)
{
	return metric_floors[m];
}

#define NAME_OF(arr, i)                                                    \
	((unsigned)(i) < sizeof(arr) / sizeof(arr[0]) ? arr[i] : "?")

const char *an_side_name(an_side_t s)
{
	static const char *const n[] = {"production", "shadow", "baseline",
					"both"};
	return NAME_OF(n, s);
}

const char *an_event_kind_name(an_event_kind_t k)
{
	static const char *const n[] = {"deploy", "config_change",
					"scheduled", "note", "replay"};
	return NAME_OF(n, k);
}

int an_event_kind_by_name(const char *name)
{
	for (int k = 0; k < AN_EV__COUNT; k++)
		if (strcmp(an_event_kind_name((an_event_kind_t)k), name) == 0)
			return k;
	return -1;
}

const char *an_find_kind_name(an_find_kind_t k)
{
	static const char *const n[] = {"none", "predicted", "deviation",
					"sustained", "critical"};
	return NAME_OF(n, k);
}

const char *an_cause_kind_name(an_cause_kind_t k)
{
	static const char *const n[] = {
		"change",       "scheduled", "drift",    "endpoint",
		"network",      "application", "leading_metric",
		"comoving_metrics", "note", "side", "replay"};
	return NAME_OF(n, k);
}

const char *an_action_name(an_action_t a)
{
	static const char *const n[] = {"none", "observe", "alert",
					"rollback", "hold"};
	return NAME_OF(n, a);
}

const char *an_vresult_name(an_vresult_t r)
{
	static const char *const n[] = {"nodata", "pass", "high", "low"};
	return NAME_OF(n, r);
}

const char *an_verdict_result_name(an_verdict_result_t r)
{
	static const char *const n[] = {"nodata", "pass", "marginal", "fail"};
	return NAME_OF(n, r);
}

/* ------------------------------------------------------------ defaults */

/* Thresholds, critical levels, directions and groups per metric: the
 * config table's defaults (config.h CONFIG_METRICS). */
static const struct {
	double thr, crit;
	an_direction_t dir;
	const char *group;
} metric_defaults[AN_METRIC__COUNT] = {
	[AN_M_cpu] = {0.10, 0.30, AN_DIR_INCREASE, "resources"},
	[AN_M_memory] = {0.15, 0.40, AN_DIR_INCREASE, "resources"},
	[AN_M_disk_read] = {0.25, 1.0, AN_DIR_INCREASE, "resources"},
	[AN_M_disk_write] = {0.25, 1.0, AN_DIR_INCREASE, "resources"},
	[AN_M_net_rx] = {0.25, 1.0, AN_DIR_EITHER, "network"},
	[AN_M_net_tx] = {0.25, 1.0, AN_DIR_EITHER, "network"},
	[AN_M_latency_p50] = {0.20, 0.50, AN_DIR_INCREASE, "latency"},
	[AN_M_latency_p90] = {0.20, 0.50, AN_DIR_INCREASE, "latency"},
	[AN_M_latency_p99] = {0.25, 1.0, AN_DIR_INCREASE, "latency"},
	[AN_M_error_rate] = {0.50, 2.0, AN_DIR_INCREASE, "correctness"},
	[AN_M_diff_rate] = {0.05, 0.20, AN_DIR_INCREASE, "correctness"},
};

void an_params_default(an_params_t *p)
{
	memset(p, 0, sizeof(*p));
	p->interval_ns = 1 * NS;
	p->warmup_ns = 300 * NS;
	p->history_ns = 600 * NS;
	p->smoothing = 0.3;
	p->velocity_window_ns = 5 * NS;
	p->velocity_threshold = 0.05;
	p->envelope = true;
	p->anomalies = true;
	p->envelope_quantile = 0.99;
	p->envelope_half_life_ns = 3600 * NS;
	p->horizon_ns = 300 * NS;
	p->forecaster = AN_FC_HOLT;
	p->verdict_window_ns = 300 * NS;
	p->verdict_pass = 80;
	p->verdict_marginal = 60;
	p->verdict_alpha = 0.05;
	p->after_change_ns = 600 * NS;
	p->ratio = 0.1; /* shadow.ratio's default */
	for (int m = 0; m < AN_METRIC__COUNT; m++) {
		an_metric_params_t *mp = &p->metric[m];
		mp->threshold = metric_defaults[m].thr;
		mp->critical = metric_defaults[m].crit;
		mp->direction = metric_defaults[m].dir;
		mp->weight = 1;
		mp->floor = metric_floors[m];
		snprintf(mp->group, sizeof(mp->group), "%s",
			 metric_defaults[m].group);
	}
}

int an_params_validate(const an_params_t *p, const char **why)
{
#define BAD(w)                                                            \
	do {                                                              \
		if (why)                                                  \
			*why = (w);                                       \
		return ERR_INVAL;                                         \
	} while (0)
	if (p->interval_ns <= 0 || p->interval_ns > AN_MAX_INTERVAL_NS)
		BAD("interval must be positive and at most a day");
	const int64_t spans[] = {p->history_ns, p->velocity_window_ns,
				 p->warmup_ns,
				 p->envelope_half_life_ns, p->horizon_ns,
				 p->verdict_window_ns, p->after_change_ns};
	for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++)
		if (spans[i] > AN_MAX_SPAN_NS)
			BAD("windows, horizon and half-life must be at most "
			    "a year");
	if (!(p->smoothing > 0 && p->smoothing <= 1))
		BAD("smoothing must be in (0, 1]");
	if (p->velocity_window_ns < p->interval_ns)
		BAD("velocity window must be at least one interval");
	if (!(p->velocity_threshold >= 0) || !isfinite(p->velocity_threshold))
		BAD("velocity threshold must be >= 0");
	if (!(p->envelope_quantile > 0 && p->envelope_quantile < 1))
		BAD("envelope quantile must be in (0, 1)");
	if (p->envelope_half_life_ns < p->interval_ns)
		BAD("envelope half-life must be at least one interval");
	if (p->horizon_ns < p->interval_ns)
		BAD("horizon must be at least one interval");
	if (p->verdict_window_ns < p->interval_ns)
		BAD("verdict window must be at least one interval");
	if (!(p->verdict_pass >= 0 && p->verdict_pass <= 100) ||
	    !(p->verdict_marginal >= 0 && p->verdict_marginal <= 100))
		BAD("verdict pass and marginal must be in 0..100");
	if (p->verdict_marginal > p->verdict_pass)
		BAD("verdict marginal must not exceed pass");
	if (!(p->verdict_alpha > 0 && p->verdict_alpha < 1))
		BAD("verdict alpha must be in (0, 1)");
	if (p->after_change_ns < 0 || p->history_ns < 0 || p->warmup_ns < 0)
		BAD("after_change, history and warmup must be >= 0");
	if (!(p->ratio > 0 && p->ratio <= 1))
		BAD("ratio must be in (0, 1]");
	if ((unsigned)p->forecaster >= AN_FC__COUNT)
		BAD("unknown forecaster");
	for (int m = 0; m < AN_METRIC__COUNT; m++) {
		const an_metric_params_t *mp = &p->metric[m];
		if (!(mp->threshold >= 0) || !isfinite(mp->threshold))
			BAD("metric threshold must be >= 0");
		if (!(mp->critical >= mp->threshold) || !isfinite(mp->critical))
			BAD("metric critical must be >= its threshold");
		if (!(mp->weight >= 0) || !isfinite(mp->weight))
			BAD("metric weight must be >= 0");
		if (!(mp->floor > 0) || !isfinite(mp->floor))
			BAD("metric floor must be > 0");
		if ((unsigned)mp->direction > AN_DIR_DECREASE)
			BAD("bad metric direction");
	}
	for (size_t i = 0; i < p->nsched; i++) {
		if (p->sched[i].duration_ns <= 0)
			BAD("scheduled task duration must be positive");
		if (p->sched[i].side != AN_PROD &&
		    p->sched[i].side != AN_SHADOW && p->sched[i].side != AN_BOTH)
			BAD("scheduled task side must be production, shadow "
			    "or both");
	}
	return 0;
#undef BAD
}

void an_tick_clear(an_tick_t *t, int64_t t_ns)
{
	memset(t, 0, sizeof(*t));
	t->t_ns = t_ns;
	for (int s = 0; s < AN_SIDES; s++) {
		for (int m = 0; m < AN_METRIC__COUNT; m++)
			t->value[s][m] = NAN;
		t->rps[s] = NAN;
	}
	for (int s = 0; s < 2; s++)
		t->connect_s[s] = t->ttfb_s[s] = NAN;
}

void an__textf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}
