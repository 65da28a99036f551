/*
 * run_api.c: what the admin API shows of the daemon: its status (JSON),
 * the Prometheus exposition (per-side metrics, request counters,
 * deviations, the proxy's and the store's own counters, the engine's
 * state: open findings, hold, warm-up, known-good age), recent points
 * for the dashboard's charts, events posted by people or deploy
 * pipelines (which reach the store, the analysis and the engine), and
 * the mitigation engine's routes:
 *
 *   GET  /api/v1/timeline?after=SEQ  what the engine did, numbered
 *   POST /api/v1/release {"who","note"}  a person acted: actions resume
 *   POST /api/v1/stress {"why"}      a stress test of the shadow now
 *   GET  /api/v1/stress              the last one (curve, knee, capacity)
 *   GET|POST /api/v1/proposals       proposals (run_propose.c)
 */
#include "cmd/run_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/units.h"
#include "compare/compare.h"
#include "metrics/expo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static json_t *jnum(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static json_t *time_or_null(int64_t ns)
{
	char t[CLOCK_ISO_LEN];
	return ns ? json_string(clock_iso8601(ns, t)) : json_null();
}

static json_t *mitigation_status(run_t *r)
{
	mit_status_t st;
	mit_status(r->mit, &st);
	json_t *o = json_pack(
		"{s:b,s:b,s:s,s:b,s:s,s:o,s:b,s:s,s:s,s:o,s:i,s:b,s:o,s:i,"
		"s:I,s:I,s:I,s:I}",
		"dry_run", st.dry_run, "held", st.held, "hold_reason",
		st.hold_reason, "verifying", st.verifying, "verify_metric",
		st.verify_metric, "verify_deadline",
		time_or_null(st.verify_deadline_ns), "snapshots", st.snapshots,
		"snapshot", st.current, "known_good", st.known_good,
		"clean_since", time_or_null(st.clean_since_ns),
		"replicas_desired", st.replicas_desired, "forecast_trusted",
		st.forecast_trusted, "capacity_rps",
		st.capacity > 0 ? json_real(st.capacity) : json_null(),
		"actions_last_hour", st.actions_last_hour, "decisions",
		(json_int_t)st.decisions, "actions", (json_int_t)st.actions,
		"audit_errors", (json_int_t)st.audit_errors, "alerts_firing",
		(json_int_t)st.alerts_firing);
	static const char *const sn[] = {"idle", "running", "done",
					 "aborted"};
	json_object_set_new(o, "stress",
			    json_string((unsigned)st.stress < 4 ? sn[st.stress]
								 : "?"));
	return o;
}

/* The identity fields (compare.h): "identity_fields", learned and
 * pinned, as a list, and "identity" as a line the dashboard shows. */
static void identity_status(run_t *r, json_t *o)
{
	const char *learned[CMP_IDENT_FIELDS];
	bool learning;
	size_t n = proxy_identity_fields(r->px, learned, CMP_IDENT_FIELDS,
					 &learning);
	const config_strv_t *pin = &r->cfg->mirror.compare.identity_headers;
	json_t *list = json_array();
	buf_t line = BUF_INIT;
	for (size_t i = 0; i < pin->n; i++) {
		json_array_append_new(
			list, json_pack("{s:s,s:s}", "name", pin->v[i], "how",
					"pinned"));
		buf_printf(&line, "%s%s (pinned)", line.len ? ", " : "",
			   pin->v[i]);
	}
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list,
				      json_pack("{s:s,s:s}", "name", learned[i],
						"how", "learned"));
		buf_printf(&line, "%s%s (learned)", line.len ? ", " : "",
			   learned[i]);
	}
	if (learning)
		buf_printf(&line, "%slearning", line.len ? "; " : "");
	json_object_set_new(o, "identity_fields", list);
	json_object_set_new(o, "identity",
			    json_string(line.len ? line.data : "none"));
	buf_free(&line);
}

static void status(void *arg, json_t *o)
{
	run_t *r = arg;
	proxy_counters_t c;
	proxy_counters(r->px, &c);
	json_object_set_new(o, "uptime_s",
			    json_real((double)(clock_wall_ns() - r->started_ns) /
				      1e9));
	json_object_set_new(o, "ticks", json_integer((json_int_t)r->ticks));
	json_object_set_new(o, "findings", json_integer((json_int_t)r->findings));
	json_object_set_new(o, "drifting_files",
			    json_integer((json_int_t)r->ndrift));
	for (int side = 0; side < PROV_SIDES; side++) {
		/* the baseline's object only when umbra runs one */
		if (side == PROV_BASELINE &&
		    (!r->prov || !prov_spec(r->prov, PROV_BASELINE)->run))
			continue;
		json_t *s = json_object();
		int up = 0;
		json_t *pids = json_array();
		for (int i = 0; i < PROV_MAX_REPLICAS; i++) {
			if (!r->is_up[side][i])
				continue;
			up++;
			json_array_append_new(pids, json_integer(r->pid[side][i]));
		}
		json_object_set_new(s, "replicas_up", json_integer(up));
		/* what umbra keeps running: status is DEGRADED below it */
		if (r->prov && prov_spec(r->prov, (prov_side_t)side)->run)
			json_object_set_new(
			    s, "replicas_desired",
			    json_integer(
				prov_replica_count(r->prov, (prov_side_t)side)));
		json_object_set_new(s, "pids", pids);
		int rs = side == PROV_PRODUCTION  ? REQREC_PRODUCTION
			 : side == PROV_BASELINE ? REQREC_BASELINE
						 : REQREC_SHADOW;
		if (r->have_sample[rs]) {
			json_t *m = json_object();
			for (int id = 0; id < METRICS__COUNT; id++) {
				double v = r->sample[rs].v[id];
				if (isfinite(v))
					json_object_set_new(
						m, metrics_info((metrics_id_t)id)->name,
						json_real(v));
			}
			json_object_set_new(s, "metrics", m);
		}
		json_object_set_new(o, prov_side_name((prov_side_t)side), s);
		/* flat copies for the dashboard's table */
		char k[64];
		snprintf(k, sizeof(k), "%s_replicas_up",
			 prov_side_name((prov_side_t)side));
		json_object_set_new(o, k, json_integer(up));
	}
	json_t *px = json_pack(
		"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "requests",
		(json_int_t)c.requests, "production_errors",
		(json_int_t)c.prod_errors, "mirrored", (json_int_t)c.mirror_sent,
		"mirror_answered", (json_int_t)c.mirror_done, "matched",
		(json_int_t)c.matched, "differed", (json_int_t)c.differed, "noise",
		(json_int_t)c.noise, "shadow_errors", (json_int_t)c.shadow_errors,
		"shadow_timeouts", (json_int_t)c.shadow_timeouts);
	json_t *drops = json_object();
	for (int i = 0; i < PROXY_DROP__COUNT; i++)
		json_object_set_new(drops, proxy_drop_name((proxy_drop_t)i),
				    json_integer((json_int_t)c.dropped[i]));
	json_object_set_new(px, "dropped", drops);
	json_object_set_new(o, "proxy", px);
	json_object_set_new(o, "requests", json_integer((json_int_t)c.requests));
	json_object_set_new(o, "mirrored",
			    json_integer((json_int_t)c.mirror_sent));
	json_t *dev = json_object();
	for (int m = 0; r->out && m < AN_METRIC__COUNT; m++) {
		const an_metric_view_t *v = &r->out->metric[m];
		if (!v->valid)
			continue;
		json_object_set_new(
			dev, an_metric_name((an_metric_t)m),
			json_pack("{s:o,s:o,s:o,s:o,s:s,s:b,s:o}", "deviation",
				  jnum(v->deviation), "velocity", jnum(v->velocity),
				  "threshold", jnum(v->threshold), "envelope",
				  jnum(v->envelope), "open",
				  an_find_kind_name(v->open), "warming",
				  v->warming, "warmup_left_s",
				  jnum(v->warmup_left_s)));
	}
	json_object_set_new(o, "analysis", dev);
	json_object_set_new(o, "analysis_warming",
			    json_boolean(r->out && r->out->warming));
	identity_status(r, o);
	if (r->mit)
		json_object_set_new(o, "mitigation", mitigation_status(r));
}

/* The proxy's own counters as Prometheus counters. */
static void expose_proxy(metrics_expo_t *e, const char *service,
			 const proxy_counters_t *c)
{
	metrics_label_t svc[1] = {{"service", service}};
	static const struct {
		const char *name, *help;
		size_t off;
	} f[] = {
#define PF(n, field, h) {n, h, offsetof(proxy_counters_t, field)}
		PF("umbra_proxy_requests_total", requests,
		   "production requests started"),
		PF("umbra_proxy_bad_requests_total", bad_requests,
		   "requests refused by the parser"),
		PF("umbra_proxy_production_errors_total", prod_errors,
		   "502/504 answered by umbra"),
		PF("umbra_mirror_sampled_total", mirror_sampled,
		   "requests chosen for mirroring"),
		PF("umbra_mirror_sent_total", mirror_sent,
		   "copies sent to a shadow"),
		PF("umbra_mirror_answered_total", mirror_done,
		   "copies the shadow answered"),
		PF("umbra_shadow_errors_total", shadow_errors,
		   "copies that failed at the transport level"),
		PF("umbra_shadow_timeouts_total", shadow_timeouts,
		   "copies the shadow did not answer in time"),
		PF("umbra_pairs_compared_total", compared,
		   "response pairs compared"),
		PF("umbra_pairs_matched_total", matched, "pairs that matched"),
		PF("umbra_pairs_differed_total", differed,
		   "pairs whose responses differ"),
		PF("umbra_pairs_noise_total", noise,
		   "differences the baseline shows too"),
		PF("umbra_records_dropped_total", records_dropped,
		   "request records lost to full rings"),
		PF("umbra_proxy_too_large_total", too_large,
		   "requests refused with 413 (listen.max_body)"),
		PF("umbra_proxy_conn_limit_total", conn_limit,
		   "times accepting paused at listen.max_connections"),
		PF("umbra_proxy_fd_exhausted_total", fd_exhausted,
		   "accepts that failed for want of descriptors"),
		PF("umbra_proxy_conns_shed_total", conns_shed,
		   "connections accepted and closed at once, out of "
		   "descriptors"),
		PF("umbra_shadow_too_large_total", shadow_too_large,
		   "shadow responses cut at mirror.max_body"),
		PF("umbra_shadow_deadlines_total", shadow_deadlines,
		   "shadow responses cut at shadow.response_deadline"),
#undef PF
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(*f); i++) {
		metrics_expo_family(e, f[i].name, METRICS_EXPO_COUNTER,
				    f[i].help);
		metrics_expo_sample(e, "", svc, 1,
				    (double)*(const uint64_t *)((const char *)c +
								f[i].off));
	}
	metrics_expo_family(e, "umbra_mirror_dropped_total",
			    METRICS_EXPO_COUNTER, "copies not sent, by reason");
	for (int d = 0; d < PROXY_DROP__COUNT; d++) {
		metrics_label_t l[2] = {{"service", service},
					{"reason", proxy_drop_name(
							   (proxy_drop_t)d)}};
		metrics_expo_sample(e, "", l, 2, (double)c->dropped[d]);
	}
	metrics_expo_family(e, "umbra_proxy_timeouts_total",
			    METRICS_EXPO_COUNTER,
			    "client exchanges ended on a timer, by reason");
	for (int t = 0; t < PROXY_TIMEOUT__COUNT; t++) {
		metrics_label_t l[2] = {{"service", service},
					{"reason", proxy_timeout_name(
							   (proxy_timeout_t)t)}};
		metrics_expo_sample(e, "", l, 2, (double)c->timeouts[t]);
	}
	metrics_expo_family(e, "umbra_mirror_queue_requests",
			    METRICS_EXPO_GAUGE,
			    "copies waiting for a shadow connection");
	metrics_expo_sample(e, "", svc, 1, (double)c->queue_requests);
}

/* umbra's own state, for a Prometheus rule that watches umbra: open
 * findings by metric and severity, hold, warm-up, the known-good
 * snapshot's age, alerts firing. */
static void expose_engine(metrics_expo_t *e, const run_t *r)
{
	const char *service = r->cfg->service;
	metrics_label_t svc[1] = {{"service", service}};
	metrics_expo_family(e, "umbra_warming_up", METRICS_EXPO_GAUGE,
			    "1 while a metric of the analysis is in its "
			    "warm-up (analysis.warmup)");
	metrics_expo_sample(e, "", svc, 1, r->out && r->out->warming ? 1 : 0);
	if (!r->mit)
		return;
	mit_status_t st;
	mit_status(r->mit, &st);
	metrics_expo_family(e, "umbra_findings_open", METRICS_EXPO_GAUGE,
			    "1 for the open finding of a metric at its "
			    "severity (kind), 0 otherwise; test: 1 when a "
			    "deliberate test (proposal soak, stress) made it");
	for (int k = 0; k < AN_METRIC__COUNT; k++)
		for (int f = AN_FIND_PREDICTED; f <= AN_FIND_CRITICAL; f++) {
			bool test = st.open_test[k];
			metrics_label_t l[4] = {
			    {"service", service},
			    {"metric", an_metric_name((an_metric_t)k)},
			    {"severity", an_find_kind_name((an_find_kind_t)f)},
			    {"test", test ? "true" : "false"}};
			metrics_expo_sample(e, "", l, 4,
					    (int)st.open_kind[k] == f ? 1 : 0);
		}
	metrics_expo_family(e, "umbra_held", METRICS_EXPO_GAUGE,
			    "1 while automatic actions are held until a "
			    "person releases them");
	metrics_expo_sample(e, "", svc, 1, st.held ? 1 : 0);
	metrics_expo_family(e, "umbra_alerts_firing", METRICS_EXPO_GAUGE,
			    "alerts umbra has firing now");
	metrics_expo_sample(e, "", svc, 1, (double)st.alerts_firing);
	metrics_expo_family(e, "umbra_known_good", METRICS_EXPO_GAUGE,
			    "1 when a known-good snapshot of production's "
			    "config exists");
	metrics_expo_sample(e, "", svc, 1, st.known_good[0] ? 1 : 0);
	if (st.known_good[0] && st.known_good_ns > 0) {
		metrics_expo_family(e, "umbra_known_good_age_seconds",
				    METRICS_EXPO_GAUGE,
				    "seconds since the latest known-good "
				    "snapshot became known-good");
		double age = (double)(st.now_ns - st.known_good_ns) / 1e9;
		metrics_expo_sample(e, "", svc, 1, age > 0 ? age : 0);
	}
}

static void metrics_text(void *arg, buf_t *out)
{
	run_t *r = arg;
	metrics_expo_t e;
	metrics_expo_init(&e, out);
	const metrics_sample_t *sides[METRICS_SIDES] = {NULL};
	for (int s = 0; s < METRICS_SIDES; s++)
		if (r->have_sample[s])
			sides[s] = &r->sample[s];
	metrics_expose_samples(&e, r->cfg->service, sides);
	metrics_totals_t tot[METRICS_SIDES];
	const metrics_totals_t *tp[METRICS_SIDES] = {NULL};
	for (int s = 0; s < 2; s++)
		if (metrics_src_local_totals(r->src, s, &tot[s]) == 0)
			tp[s] = &tot[s];
	metrics_expose_totals(&e, r->cfg->service, tp);
	metrics_expose_requests(&e, r->cfg->service, r->agg);
	double dev[CONFIG_METRIC__COUNT];
	for (int m = 0; m < CONFIG_METRIC__COUNT; m++) {
		int am = -1;
		for (int k = 0; k < AN_METRIC__COUNT; k++)
			if (!strcmp(an_metric_name((an_metric_t)k),
				    config_metric_name((config_metric_t)m)))
				am = k;
		dev[m] = am >= 0 && r->out && r->out->metric[am].valid
				 ? r->out->metric[am].deviation
				 : NAN;
	}
	metrics_expose_deviations(&e, r->cfg->service, dev);
	proxy_counters_t c;
	proxy_counters(r->px, &c);
	expose_proxy(&e, r->cfg->service, &c);
	if (r->store)
		store_expose(&e, r->store, r->cfg->service);
	expose_engine(&e, r);
	metrics_expo_done(&e);
}

static size_t points(void *arg, int side, const char *metric,
		     int64_t since_ns, int64_t *ts, double *v, size_t max)
{
	run_t *r = arg;
	int id = metrics_by_name(metric);
	if (id < 0 || side < 0 || side >= METRICS_SIDES || !r->rec)
		return 0;
	uint32_t h = metrics_recorder_handle(r->rec, side, (metrics_id_t)id);
	const series_window_t *w = series_set_get(&r->win, h);
	return w ? series_window_since(w, since_ns, ts, v, max) : 0;
}

static int posted_event(void *arg, const store_event_t *ev)
{
	run_t *r = arg;
	int rc = run__event(r, ev);
	/* a deploy marker: production's files may have changed */
	if (r->mit && strcmp(ev->side, "shadow") &&
	    (!strcmp(ev->kind, "deploy") || !strcmp(ev->kind, "config_change")))
		mit_config_changed(r->mit, ev->start_ns, ev->text);
	return rc;
}

static json_t *timeline(run_t *r, uint64_t after)
{
	json_t *a = json_array();
	uint64_t first = r->nnotes_total > RUN_NOTES
				 ? r->nnotes_total - RUN_NOTES + 1
				 : 1;
	for (uint64_t seq = after + 1 > first ? after + 1 : first;
	     seq <= r->nnotes_total; seq++) {
		const run_note_t *n = &r->notes[(seq - 1) % RUN_NOTES];
		char t[CLOCK_ISO_LEN];
		json_array_append_new(
			a, json_pack("{s:I,s:s,s:I,s:s,s:s}", "seq",
				     (json_int_t)n->seq, "time",
				     clock_iso8601(n->t_ns, t), "unix_ms",
				     (json_int_t)(n->t_ns / 1000000), "kind",
				     mit_note_kind_name(n->note.kind), "text",
				     n->note.text));
	}
	return json_pack("{s:I,s:o}", "last", (json_int_t)r->nnotes_total,
			 "notes", a);
}

static const char *jstr(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s && s[0] ? s : dflt;
}

/* The engine's routes (see the header comment). */
static int route(void *arg, bool post, const char *path, const char *query,
		 json_t *body, json_t **reply)
{
	run_t *r = arg;
	if (!r->mit)
		return 0;
	int prc = run__propose_route(r, post, path, body, reply);
	if (prc)
		return prc;
	int64_t now = run__now(r);
	if (!post && !strcmp(path, "timeline")) {
		const char *p = strstr(query, "after=");
		int64_t after = 0;
		if (p) {
			char num[32];
			size_t n = strcspn(p + 6, "&");
			snprintf(num, sizeof(num), "%.*s",
				 (int)(n < sizeof(num) ? n : sizeof(num) - 1),
				 p + 6);
			const char *why = NULL;
			if (n >= sizeof(num) ||
			    units_parse_i64(num, 0, INT64_MAX, &after, &why)) {
				*reply = json_pack(
				    "{s:s}", "error",
				    "after: expected a whole number 0.."
				    "9223372036854775807 (the last entry "
				    "seen)");
				return 400;
			}
		}
		*reply = timeline(r, (uint64_t)after);
		return 200;
	}
	if (post && !strcmp(path, "release")) {
		int rc = mit_release(r->mit, now, jstr(body, "who", "api"),
				     jstr(body, "note", ""));
		*reply = json_pack("{s:s}", rc ? "error" : "status",
				   rc ? "nothing is held" : "released");
		return rc ? 409 : 200;
	}
	if (post && !strcmp(path, "stress")) {
		buf_t e = BUF_INIT;
		int rc = mit_stress_start(r->mit, now,
					  jstr(body, "why", "asked by the API"),
					  &e);
		*reply = json_pack("{s:s}", rc ? "error" : "status",
				   rc ? (e.data ? e.data
						: rc == ERR_BADSTATE
							? "a stress test runs "
							  "already, or actions "
							  "are held"
							: err_str(rc))
				      : "started");
		buf_free(&e);
		return rc == 0 ? 202 : rc == ERR_BADSTATE ? 409 : 400;
	}
	if (!post && !strcmp(path, "stress")) {
		const mit_stress_t *t = mit_stress_last(r->mit);
		if (!t) {
			*reply = json_pack("{s:s}", "state", "none");
			return 200;
		}
		*reply = cmd_stress_json(t, NAN);
		return 200;
	}
	return 0;
}

int run__api_setup(run_t *r, buf_t *err)
{
	api_hooks_t h = {r,	 status, metrics_text, posted_event,
			 points, route};
	return api_new(r->cfg, r->base, r->store, &h, &r->api, err);
}
