/*
 * run_tick.c: the daemon's tick, every analysis.interval on the control
 * loop (DESIGN.md "the loop"): the proxy's request records are drained
 * into the aggregator (every RUN_DRAIN_EVERY_MS, so the rings never fill),
 * each side is sampled (process trees of its replicas, the proxy's
 * request metrics; the baseline too when there is one), the samples go to the store and the in-memory
 * windows, the analysis compares the sides and raises findings (logged),
 * and the mitigation engine decides and acts on them (mitigate.h): its
 * audit stores every finding, decision, action and outcome
 * (run_audit.c), and what it did to production (a rollback) or the
 * shadow (a stress test) becomes an event the analysis knows of.
 */
#include "cmd/analysis_config.h"
#include "cmd/run_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RUN_WINDOW_MIN_POINTS 60 /* charts and forecasts want a minute */

/* The proxy's request records into the aggregator, and to the engine (a
 * running stress test reads the shadow's). */
static void drain(run_t *r)
{
	size_t n;
	if (!r->agg || !r->px)
		return;
	do {
		n = proxy_take_records(r->px, r->recs, RUN_RECORDS);
		for (size_t i = 0; i < n; i++)
			metrics_agg_add(r->agg, &r->recs[i]);
		if (r->mit && n)
			mit_observe(r->mit, r->recs, n);
	} while (n == RUN_RECORDS);
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	drain(arg);
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
	metrics_src_local_target(r->src,
				 side == PROV_PRODUCTION  ? REQREC_PRODUCTION
				 : side == PROV_BASELINE ? REQREC_BASELINE
							 : REQREC_SHADOW,
				 &t);
}

int64_t run__now(const run_t *r)
{
	return r->clk_wall0 + (clock_mono_ns() - r->clk_mono0);
}

int64_t run__decision_time(const run_t *r, int64_t wall_ns)
{
	return wall_ns - (clock_wall_ns() - run__now(r));
}

int run__event(run_t *r, const store_event_t *ev)
{
	int k = an_event_kind_by_name(ev->kind);
	an_event_kind_t kind = k >= 0 ? (an_event_kind_t)k : AN_EV_NOTE;
	an_side_t side = !strcmp(ev->side, "production") ? AN_PROD
			 : !strcmp(ev->side, "shadow")	   ? AN_SHADOW
							   : AN_BOTH;
	an_event_t ae = {run__decision_time(r, ev->start_ns),
			 run__decision_time(r, ev->end_ns), kind, side, ev->text};
	int arc = r->an ? an_analyzer_event(r->an, &ae) : 0;
	if (arc)
		log_error("run", "the analysis refused an event",
			  LF_S("type", ev->kind), LF_S("text", ev->text),
			  LF_ERR("err", arc));
	log_info("run", "event", LF_S("type", ev->kind), LF_S("side", ev->side),
		 LF_S("text", ev->text));
	return r->store ? store_event_add(r->store, ev, NULL) : 0;
}

static int replicas_up(const run_t *r, prov_side_t side)
{
	int n = 0;
	for (int i = 0; i < PROV_MAX_REPLICAS; i++)
		n += r->is_up[side][i] && r->pid[side][i] > 0;
	return n;
}

/* The analysis' metric values and their resolutions from a side's
 * sample. */
static void fill_values(const metrics_sample_t *s, double *out, double *res)
{
	for (int m = 0; m < AN_METRIC__COUNT; m++) {
		int id = metrics_by_name(an_metric_name((an_metric_t)m));
		out[m] = id >= 0 ? s->v[id] : NAN;
		res[m] = id >= 0 ? s->res[id] : 0;
	}
}

/* The finding in the log; the engine's audit stores it (run_audit.c). */
static void log_finding(run_t *r, const an_finding_t *f)
{
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
	r->findings++;
}

/* A side's metric that froze or lost its cycle (analysis.h's
 * an_anomaly_t): logged as an "anomaly" finding naming its kind; the
 * comparison's findings stay the engine's input. */
static void log_anomaly(const an_anomaly_t *an)
{
	if (log_enabled(LOG_WARN))
		log_emit(LOG_WARN, "analysis", "anomaly",
			 (const log_field_t[]){
				 LF_S("metric", an_metric_name(an->metric)),
				 LF_S("side", an_side_name(an->side)),
				 LF_S("kind", an->kind),
				 LF_F("score", an->score),
				 LF_F("value", an->value),
				 {NULL, LOG_F_END, {0}}});
}

/* The engine's report: its events reach the store and the analysis, its
 * notes the timeline (the API's, and the log at debug level). */
static void act_report(run_t *r, int64_t now)
{
	const mit_report_t *rep = &r->report;
	int64_t to_wall = clock_wall_ns() - run__now(r);
	for (size_t i = 0; i < rep->nevents; i++) {
		const mit_event_out_t *e = &rep->event[i];
		store_event_t se = {0,
				    r->cfg->service,
				    an_event_kind_name(e->kind),
				    an_side_name(e->side),
				    e->text,
				    "mitigation",
				    e->start_ns + to_wall,
				    e->end_ns + to_wall};
		int rc = run__event(r, &se);
		if (rc)
			log_error("run", "the store refused an event",
				  LF_S("text", e->text), LF_ERR("err", rc));
	}
	for (size_t i = 0; i < rep->nnotes; i++) {
		run_note_t *n = &r->notes[r->nnotes_total % RUN_NOTES];
		n->t_ns = now + to_wall;
		n->seq = ++r->nnotes_total;
		n->note = rep->note[i];
		log_debug("mitigate", "timeline",
			  LF_S("kind", mit_note_kind_name(rep->note[i].kind)),
			  LF_S("text", rep->note[i].text));
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	run_t *r = arg;
	/* decisions on the decision clock (never back, steps ignored);
	 * stored points and records carry wall times */
	int64_t now = run__now(r), wall = clock_wall_ns();
	/* the baseline follows production's config files even when drift
	 * does not watch them (a shadow umbra does not run) */
	if (r->prov)
		prov_baseline_sync(r->prov);
	drain(r);
	metrics_agg_tick(r->agg, clock_mono_ns());
	an_tick_t t;
	an_tick_clear(&t, now);
	/* Production, shadow and (when it runs) the baseline, whose values
	 * let the analysis learn how far production's own copy strays (its
	 * noise envelope). */
	static const struct {
		int rs;
		an_side_t an;
		prov_side_t prov;
	} sides[] = {{REQREC_PRODUCTION, AN_PROD, PROV_PRODUCTION},
		     {REQREC_SHADOW, AN_SHADOW, PROV_SHADOW},
		     {REQREC_BASELINE, AN_BASELINE, PROV_BASELINE}};
	for (size_t i = 0; i < sizeof(sides) / sizeof(*sides); i++) {
		int rs = sides[i].rs, side = sides[i].an;
		r->have_sample[rs] =
			(side != AN_BASELINE || r->cfg->shadow.baseline.enabled) &&
			metrics_src_sample(r->src, rs, now, &r->sample[rs]) == 0;
		if (!r->have_sample[rs])
			continue;
		metrics_recorder_sample(r->rec, rs, &r->sample[rs]);
		fill_values(&r->sample[rs], t.value[side], t.resolution[side]);
		/* Memory is a level each replica holds: compared per replica,
		 * or production's total would grow with every replica the
		 * scaler adds (the shadow runs ratio x as many). */
		int up = replicas_up(r, sides[i].prov);
		if (up > 1)
			t.value[side][AN_M_memory] /= up;
		t.rps[side] = r->sample[rs].v[METRICS_RPS];
		if (side == AN_BASELINE)
			continue; /* connect and ttfb: production vs shadow */
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

	int arc = an_analyzer_update(r->an, &t, r->out);
	free(eps);
	if (arc) {
		/* *out is last tick's: neither logged nor acted on again */
		char e[sizeof(r->an_err)];
		snprintf(e, sizeof(e), "%s", err_str(arc));
		if (strcmp(e, r->an_err))
			log_error("analysis", "the analysis refused the tick; "
					      "this tick decides nothing",
				  LF_ERR("err", arc));
		memcpy(r->an_err, e, sizeof(e));
	} else {
		r->an_err[0] = '\0';
		for (size_t i = 0; i < r->out->nfindings; i++)
			log_finding(r, &r->out->finding[i]);
		for (size_t i = 0; i < r->out->nanomalies; i++)
			log_anomaly(&r->out->anomaly[i]);
		for (int m = 0; m < AN_METRIC__COUNT; m++)
			if (r->out->resolved >> m & 1)
				log_info("analysis", "finding resolved",
					 LF_S("metric",
					      an_metric_name((an_metric_t)m)));
	}
	if (r->mit && !r->signals) { /* stopping: no more actions */
		mit_input_t in = {now, arc ? NULL : r->out,
				  r->have_sample[REQREC_PRODUCTION]
					  ? t.rps[0]
					  : NAN,
				  wall};
		mit_tick(r->mit, &in, &r->report);
		if (r->report.closed)
			an_analyzer_close(r->an, r->report.closed);
		run__propose_tick(r, now);
		act_report(r, now);
	}
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
	r->recs = xcalloc(RUN_RECORDS, sizeof(*r->recs));
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
	free(r->recs);
	r->recs = NULL;
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

int run__recover(run_t *r, buf_t *err)
{
	if (!r->audit)
		r->audit = run_audit_new(r->store, &r->audit_if);
	return mit_recover(r->cfg, &r->audit_if, err);
}

int run__mitigate_setup(run_t *r, buf_t *err)
{
	r->mlive = (cmd_mit_live_t){.prov = r->prov, .px = r->px};
	mit_ops_t ops = cmd_mit_ops(&r->mlive);
	if (!r->audit)
		r->audit = run_audit_new(r->store, &r->audit_if);
	int rc = mit_new(r->cfg, &ops, &r->audit_if, &r->mit, err);
	if (rc)
		return rc;
	return mit_start(r->mit, run__now(r), err);
}

void run__mitigate_teardown(run_t *r)
{
	/* ends a stress test (the shadow's limits and the amplification
	 * restored) while the provisioner and the proxy still exist */
	if (r->mit)
		mit_free(r->mit);
	r->mit = NULL;
	run_audit_free(r->audit);
	r->audit = NULL;
}
