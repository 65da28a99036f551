/*
 * run_propose.c: proposals in the daemon (`umbra propose`, mitigate/
 * propose.h): the machine's shadow ops on the provisioner, its tick after
 * the engine's, and its API routes:
 *
 *   POST /api/v1/proposals {"config_dir", "soak", "stress", "who"}
 *        starts one: 202 and the proposal; 409 when one runs or actions
 *        are held; 400 for a bad request or a setup that cannot try it
 *   GET  /api/v1/proposals   the current or last one ({"state":"none"})
 *
 * "soak" is a duration ("30s", "5m") or a number of seconds; absent: the
 * mitigation.soak.
 */
#include "cmd/run_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/units.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ shadow ops */

static int install(void *arg, const char *dir, buf_t *err)
{
	run_t *r = arg;
	return prov_shadow_config(r->prov, dir, err);
}

static void restarted(bool ok, const char *why, void *arg)
{
	run_t *r = arg;
	r->sroll.rolling = false;
	r->sroll.ok = ok;
	snprintf(r->sroll.why, sizeof(r->sroll.why), "%s", why);
}

static int restart(void *arg)
{
	run_t *r = arg;
	if (prov_restart_rolling(r->prov))
		return ERR_AGAIN; /* production's (a rollback): after it */
	int rc = prov_rolling_restart(r->prov, PROV_SHADOW, restarted, r);
	if (rc == 0) {
		r->sroll.rolling = true;
		r->sroll.ok = false;
		r->sroll.why[0] = '\0';
	}
	return rc;
}

static int restart_status(void *arg, char *why, size_t n)
{
	run_t *r = arg;
	if (r->sroll.rolling)
		return ERR_AGAIN;
	snprintf(why, n, "%s", r->sroll.why);
	return r->sroll.ok ? 0 : ERR_BADSTATE;
}

static int health(void *arg, int *wanted, int *up)
{
	run_t *r = arg;
	*wanted = prov_replica_count(r->prov, PROV_SHADOW);
	*up = prov_replica_up_count(r->prov, PROV_SHADOW);
	return 0;
}

int run__propose_setup(run_t *r)
{
	mit_prop_ops_t ops = {r, install, restart, restart_status, health};
	r->prop = mit_prop_new(r->cfg, r->mit, &ops);
	return 0;
}

void run__propose_tick(run_t *r, int64_t now)
{
	if (r->prop)
		mit_prop_tick(r->prop, now, r->out, &r->report);
}

void run__propose_teardown(run_t *r)
{
	mit_prop_free(r->prop, run__now(r));
	r->prop = NULL;
}

/* ------------------------------------------------------------ API */

static json_t *jnum(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static json_t *jtime(int64_t ns)
{
	char t[CLOCK_ISO_LEN];
	return ns ? json_string(clock_iso8601(ns, t)) : json_null();
}

json_t *run__proposal_json(const mit_prop_info_t *i)
{
	if (i->state == MIT_PROP_NONE)
		return json_pack("{s:s}", "state", "none");
	json_t *ev = json_array();
	for (size_t k = 0; k < i->nevidence; k++) {
		const mit_prop_evidence_t *e = &i->evidence[k];
		json_t *o = json_pack(
		    "{s:s,s:o,s:o,s:o,s:o,s:o,s:s}", "kind",
		    mit_prop_ev_kind_name(e->kind), "time", jtime(e->t_ns),
		    "metric",
		    e->metric >= 0
			? json_string(an_metric_name((an_metric_t)e->metric))
			: json_null(),
		    "value", jnum(e->value), "threshold", jnum(e->threshold),
		    "severity", jnum(e->severity), "text", e->text);
		if (e->finding_id)
			json_object_set_new(
			    o, "finding_id",
			    json_integer((json_int_t)e->finding_id));
		if (e->side[0])
			json_object_set_new(o, "side", json_string(e->side));
		json_array_append_new(ev, o);
	}
	return json_pack(
	    "{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:f,s:b,s:b,s:o,s:o,s:o,s:o,"
	    "s:i,s:s,s:o}",
	    "id", (json_int_t)i->id, "state", mit_prop_state_name(i->state),
	    "verdict", mit_prop_verdict_name(i->verdict), "config_dir",
	    i->config_dir, "who", i->who, "snapshot", i->snapshot, "files",
	    (json_int_t)i->files, "bytes", (json_int_t)i->bytes, "soak_s",
	    (double)i->soak_ns / 1e9, "stress", i->stress, "dry_run",
	    i->dry_run, "started", jtime(i->started_ns), "soak_started",
	    jtime(i->soak_started_ns), "decided", jtime(i->decided_ns),
	    "ended", jtime(i->ended_ns), "data_ticks", i->data_ticks,
	    "summary", i->summary, "evidence", ev);
}

static int bad(json_t **reply, int status, const char *msg)
{
	*reply = json_pack("{s:s}", "error", msg);
	return status;
}

int run__propose_route(run_t *r, bool post, const char *path, json_t *body,
		       json_t **reply)
{
	if (strcmp(path, "proposals") || !r->prop)
		return 0;
	if (!post) {
		*reply = run__proposal_json(mit_prop_info(r->prop));
		return 200;
	}
	mit_prop_request_t rq = {0};
	rq.config_dir = json_string_value(json_object_get(body, "config_dir"));
	if (!rq.config_dir)
		return bad(reply, 400, "config_dir (a string) is required");
	json_t *soak = json_object_get(body, "soak");
	if (json_is_string(soak)) {
		const char *why = NULL;
		if (units_parse_duration(json_string_value(soak), &rq.soak_ns,
					 &why) ||
		    rq.soak_ns <= 0)
			return bad(reply, 400,
				   "soak: expected a duration such as 30s");
	} else if (json_is_number(soak)) {
		if (units_secs_to_ns(json_number_value(soak), 1e-9, 86400,
				     &rq.soak_ns, NULL))
			return bad(reply, 400,
				   "soak: seconds out of range (0..86400)");
	} else if (soak && !json_is_null(soak)) {
		return bad(reply, 400, "soak: a duration or seconds");
	}
	json_t *st = json_object_get(body, "stress");
	if (st && !json_is_boolean(st))
		return bad(reply, 400, "stress: true or false");
	rq.stress = json_is_true(st);
	rq.who = json_string_value(json_object_get(body, "who"));
	if (!rq.who)
		rq.who = "api";
	buf_t err = BUF_INIT;
	int rc = mit_prop_start(r->prop, run__now(r), &rq, &err);
	if (rc) {
		int status = rc == ERR_BADSTATE ? 409 : 400;
		bad(reply, status, err.data ? err.data : err_str(rc));
		buf_free(&err);
		return status;
	}
	buf_free(&err);
	*reply = run__proposal_json(mit_prop_info(r->prop));
	return 202;
}
