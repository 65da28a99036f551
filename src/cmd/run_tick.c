/*
 * run_tick.c: the daemon's tick, every analysis.interval on the control
 * loop (DESIGN.md "the loop"): the proxy's request records are drained
 * into the aggregator (every RUN_DRAIN_EVERY_MS, so the rings never fill),
 * each side is sampled (process trees of its replicas, the proxy's
 * request metrics), the samples go to the store and the in-memory
 * windows, and the analysis compares the sides and raises findings,
 * which are logged and stored with their evidence.
 */
#include "cmd/analysis_config.h"
#include "cmd/run_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <gsl/gsl_errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RUN_WINDOW_MIN_POINTS 60 /* charts and forecasts want a minute */

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	run_t *r = arg;
	if (r->agg)
		metrics_agg_drain(r->agg);
}

void run__targets(run_t *r, prov_side_t side)
{
	if (!r->src)
		return;
	pid_t pids[PROV_MAX_REPLICAS];
	size_t n = 0;
	for (int i = 0; i < PROV_MAX_REPLICAS; i++)
		if (r->is_up[side][i] && r->pid[side][i] > 0)
			pids[n++] = r->pid[side][i];
	const prov_spec_t *spec = prov_spec(r->prov, side);
	metrics_target_t t = {pids, n, NULL,
			      spec && spec->isolate && n ? pids[0] : 0};
	/* (an attached production is measured through its pid: its replica
	 * event carries it like the others) */
	metrics_src_local_target(r->src, side == PROV_PRODUCTION
						 ? REQREC_PRODUCTION
						 : REQREC_SHADOW,
				 &t);
}

int run__event(run_t *r, const store_event_t *ev)
{
	an_event_kind_t kind = !strcmp(ev->kind, "deploy") ? AN_EV_DEPLOY
			       : !strcmp(ev->kind, "config_change")
				       ? AN_EV_CONFIG_CHANGE
			       : !strcmp(ev->kind, "scheduled") ? AN_EV_SCHEDULED
								: AN_EV_NOTE;
	an_side_t side = !strcmp(ev->side, "production") ? AN_PROD
			 : !strcmp(ev->side, "shadow")	   ? AN_SHADOW
							   : AN_BOTH;
	an_event_t ae = {ev->start_ns, ev->end_ns, kind, side, ev->text};
	if (r->an)
		an_analyzer_event(r->an, &ae);
	log_info("run", "event", LF_S("type", ev->kind), LF_S("side", ev->side),
		 LF_S("text", ev->text));
	return r->store ? store_event_add(r->store, ev, NULL) : 0;
}

/* The analysis' metric values from a side's sample. */
static void fill_values(const metrics_sample_t *s, double *out)
{
	for (int m = 0; m < AN_METRIC__COUNT; m++) {
		int id = metrics_by_name(an_metric_name((an_metric_t)m));
		out[m] = id >= 0 ? s->v[id] : NAN;
	}
}

static void record_finding(run_t *r, const an_finding_t *f)
{
	json_t *j = cmd_finding_json(f);
	char *ev = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(j);
	const char *sev = f->severity >= 80   ? "critical"
			  : f->severity >= 50 ? "high"
			  : f->severity >= 20 ? "medium"
					      : "low";
	char summary[AN_TEXT_MAX + 160];
	snprintf(summary, sizeof(summary),
		 "%s %s: deviation %.3f (threshold %.3f), velocity %.4f/s; "
		 "%s%s%s",
		 an_metric_name(f->metric), an_find_kind_name(f->kind),
		 f->deviation, f->threshold, f->velocity,
		 f->ncauses ? "cause: " : "",
		 f->ncauses ? f->cause[0].subject : "",
		 f->suppressed ? " (explained, not acted on)" : "");
	log_level_t lvl = f->suppressed ? LOG_INFO
			  : f->severity >= 50 ? LOG_ERROR
					      : LOG_WARN;
	if (log_enabled(lvl))
		log_emit(lvl, "analysis", "finding",
			 (const log_field_t[]){
				 LF_S("metric", an_metric_name(f->metric)),
				 LF_S("kind", an_find_kind_name(f->kind)),
				 LF_F("deviation", f->deviation),
				 LF_F("velocity", f->velocity),
				 LF_F("threshold", f->threshold),
				 LF_F("severity", f->severity),
				 LF_B("predicted", f->predicted),
				 LF_F("lead_s", f->lead_s),
				 LF_S("cause", f->ncauses ? f->cause[0].subject
							  : ""),
				 LF_S("action", an_action_name(f->action)),
				 LF_S("reason", f->reason),
				 {NULL, LOG_F_END, {0}}});
	if (r->store) {
		store_finding_t sf = {0, f->t_ns, r->cfg->service,
				      an_metric_name(f->metric), sev, summary,
				      ev};
		store_finding_add(r->store, &sf, NULL);
	}
	free(ev);
	r->findings++;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	run_t *r = arg;
	int64_t now = clock_wall_ns();
	metrics_agg_drain(r->agg);
	metrics_agg_tick(r->agg, clock_mono_ns());
	an_tick_t t;
	an_tick_clear(&t, now);
	for (int side = 0; side < 2; side++) {
		int rs = side == 0 ? REQREC_PRODUCTION : REQREC_SHADOW;
		r->have_sample[rs] =
			metrics_src_sample(r->src, rs, now, &r->sample[rs]) == 0;
		if (!r->have_sample[rs])
			continue;
		metrics_recorder_sample(r->rec, rs, &r->sample[rs]);
		fill_values(&r->sample[rs], t.value[side]);
		t.rps[side] = r->sample[rs].v[METRICS_RPS];
		t.connect_s[side] = r->sample[rs].v[METRICS_CONNECT_TIME];
		t.ttfb_s[side] = r->sample[rs].v[METRICS_TTFB_P50];
	}
	metrics_recorder_endpoints(r->rec, r->agg, now);

	/* Per endpoint: where a regression lives (the "component"). */
	uint32_t limit = metrics_agg_endpoint_limit(r->agg);
	an_endpoint_in_t *eps = xcalloc(limit ? limit : 1, sizeof(*eps));
	size_t ne = 0;
	for (uint32_t id = 0; id < limit; id++) {
		const metrics_req_stats_t *p =
			metrics_agg_endpoint(r->agg, REQREC_PRODUCTION, id);
		const metrics_req_stats_t *s =
			metrics_agg_endpoint(r->agg, REQREC_SHADOW, id);
		if (!p || !s || (!p->requests && !s->requests))
			continue;
		eps[ne] = (an_endpoint_in_t){
			id,
			metrics_agg_endpoint_name(r->agg, id),
			{(double)p->requests, (double)s->requests},
			{NAN, NAN},
			{p->latency[0], s->latency[0]},
			s->diff_rate};
		ne++;
	}
	t.endpoints = eps;
	t.nendpoints = ne;
	an_drift_in_t drift[RUN_MAX_DRIFT];
	for (size_t i = 0; i < r->ndrift; i++)
		drift[i] = (an_drift_in_t){r->drift_file[i], r->drift_keys[i]};
	t.drift = drift;
	t.ndrift = r->ndrift;
	t.config_differs = r->ndrift > 0;

	an_analyzer_update(r->an, &t, r->out);
	free(eps);
	for (size_t i = 0; i < r->out->nfindings; i++)
		record_finding(r, &r->out->finding[i]);
	for (int m = 0; m < AN_METRIC__COUNT; m++)
		if (r->out->resolved >> m & 1)
			log_info("analysis", "finding resolved",
				 LF_S("metric", an_metric_name((an_metric_t)m)));
	r->ticks++;
}

int run__tick_setup(run_t *r, buf_t *err)
{
	const config_t *cfg = r->cfg;
	/* GSL's default handler aborts; every caller checks returns. */
	gsl_set_error_handler_off();
	store_opts_t so;
	store_opts_from_config(&so, cfg);
	so.degraded_start = true; /* a broken disk never stops the proxy */
	int rc = store_open(&so, &r->store);
	if (rc) {
		buf_printf(err, "cannot open the store %s: %s", cfg->store.path,
			   err_str(rc));
		return rc;
	}
	r->agg = metrics_agg_new(proxy_endpoints(r->px),
				 (size_t)cfg->mirror.max_endpoints,
				 clock_mono_ns());
	for (size_t i = 0; i < proxy_ring_count(r->px); i++)
		metrics_agg_add_ring(r->agg, proxy_ring(r->px, i));
	const char *why = NULL;
	rc = metrics_src_from_config(cfg, r->agg, &r->src, &why);
	if (rc) {
		buf_printf(err, "metrics source: %s", why ? why : err_str(rc));
		return rc;
	}
	size_t pts = (size_t)(cfg->analysis.window / cfg->analysis.interval);
	series_set_init(&r->win, pts < RUN_WINDOW_MIN_POINTS
					 ? RUN_WINDOW_MIN_POINTS
					 : pts);
	r->rec = metrics_recorder_new(cfg->service, r->store, &r->win);
	an_params_t p;
	cmd_analysis_params(cfg, &p, &r->sched);
	rc = an_analyzer_init(&r->an, &p, &why);
	if (rc) {
		buf_printf(err, "analysis: %s", why ? why : err_str(rc));
		return rc;
	}
	r->out = xcalloc(1, sizeof(*r->out));
	r->ev_drain = event_new(r->base, -1, EV_PERSIST, on_drain, r);
	struct timeval dv = {0, RUN_DRAIN_EVERY_MS * 1000};
	event_add(r->ev_drain, &dv);
	r->ev_tick = event_new(r->base, -1, EV_PERSIST, on_tick, r);
	struct timeval tv = {(time_t)(cfg->analysis.interval / NS_PER_S),
			     (suseconds_t)(cfg->analysis.interval % NS_PER_S /
					   1000)};
	event_add(r->ev_tick, &tv);
	return 0;
}

void run__tick_teardown(run_t *r)
{
	if (r->ev_tick)
		event_free(r->ev_tick);
	if (r->ev_drain)
		event_free(r->ev_drain);
	r->ev_tick = r->ev_drain = NULL;
	if (r->an)
		an_analyzer_free(r->an);
	free(r->sched);
	free(r->out);
	if (r->rec)
		metrics_recorder_free(r->rec);
	series_set_free(&r->win);
	if (r->src)
		metrics_src_free(r->src);
	if (r->agg)
		metrics_agg_free(r->agg);
	if (r->store)
		store_close(r->store);
	r->an = NULL;
	r->out = NULL;
	r->rec = NULL;
	r->src = NULL;
	r->agg = NULL;
	r->store = NULL;
	for (size_t i = 0; i < r->ndrift; i++) {
		free(r->drift_file[i]);
		free(r->drift_keys[i]);
	}
	r->ndrift = 0;
}
