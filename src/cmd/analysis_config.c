/*
 * analysis_config.c: config_t -> an_params_t (see analysis_config.h).
 * Metrics are matched by name, so the two metric lists (config.h's
 * CONFIG_METRICS and analysis.h's AN_METRICS) may not drift apart
 * silently: a unit test checks that every config metric has its
 * analysis twin.
 */
#include "cmd/analysis_config.h"

#include "base/xmalloc.h"

#include <stdio.h>
#include <string.h>

static an_direction_t direction(int d)
{
	switch (d) {
	case CONFIG_DIR_INCREASE:
		return AN_DIR_INCREASE;
	case CONFIG_DIR_DECREASE:
		return AN_DIR_DECREASE;
	default:
		return AN_DIR_EITHER;
	}
}

static an_side_t side(int s)
{
	switch (s) {
	case CONFIG_SIDE_PRODUCTION:
		return AN_PROD;
	case CONFIG_SIDE_SHADOW:
		return AN_SHADOW;
	default:
		return AN_BOTH;
	}
}

static an_fc_kind_t forecaster(int f)
{
	switch (f) {
	case CONFIG_FC_HOLT_WINTERS:
		return AN_FC_HOLT_WINTERS;
	case CONFIG_FC_PROPHET:
		return AN_FC_PROPHET;
	case CONFIG_FC_LSTM:
		return AN_FC_LSTM;
	case CONFIG_FC_ENSEMBLE:
		return AN_FC_ENSEMBLE;
	default:
		return AN_FC_HOLT;
	}
}

void cmd_analysis_params(const config_t *cfg, an_params_t *p,
			 an_sched_t **sched)
{
	const config_analysis_t *a = &cfg->analysis;
	an_params_default(p);
	p->interval_ns = a->interval;
	p->warmup_ns = a->warmup;
	p->history_ns = a->window;
	p->smoothing = a->smoothing;
	p->velocity_window_ns = a->velocity_window;
	p->velocity_threshold = a->velocity_threshold;
	p->envelope = a->envelope.enabled;
	p->envelope_quantile = a->envelope.quantile;
	p->envelope_half_life_ns = a->envelope.half_life;
	p->horizon_ns = a->horizon;
	p->forecaster = forecaster(a->forecaster);
	p->verdict_window_ns = a->verdict.window;
	p->verdict_pass = a->verdict.pass;
	p->verdict_marginal = a->verdict.marginal;
	p->verdict_alpha = a->verdict.alpha;
	p->after_change_ns = cfg->events.after_change;
	p->ratio = cfg->shadow.ratio > 0 ? cfg->shadow.ratio : 1;
	for (int i = 0; i < CONFIG_METRIC__COUNT; i++) {
		int m = an_metric_by_name(config_metric_name((config_metric_t)i));
		if (m < 0)
			continue;
		const config_metric_cfg_t *c = &a->metrics[i];
		an_metric_params_t *mp = &p->metric[m];
		mp->threshold = c->threshold;
		mp->critical = c->critical;
		mp->weight = c->weight;
		mp->floor = c->floor;
		mp->direction = direction(c->direction);
		mp->critical_metric = c->critical_metric;
		snprintf(mp->group, sizeof(mp->group), "%.*s",
			 (int)sizeof(mp->group) - 1, c->group ? c->group : "");
	}
	size_t n = cfg->events.scheduled.n;
	*sched = n ? xcalloc(n, sizeof(an_sched_t)) : NULL;
	for (size_t i = 0; i < n; i++) {
		const config_sched_t *c = &cfg->events.scheduled.v[i];
		an_sched_t *s = &(*sched)[i];
		snprintf(s->name, sizeof(s->name), "%.*s",
			 (int)sizeof(s->name) - 1, c->name ? c->name : "");
		s->cron = c->cron.expr;
		s->duration_ns = c->duration;
		s->side = side(c->side);
	}
	p->sched = *sched;
	p->nsched = n;
}
