/*
 * mitigate_ops.c: mit_ops_t on prov_t and proxy_t. Every function runs on
 * the control thread, where the provisioner lives; the proxy's
 * amplification is an atomic the workers read.
 */
#include "cmd/mitigate_ops.h"

#include "base/err.h"
#include "base/log.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int health(void *arg, int *wanted, int *up)
{
	cmd_mit_live_t *l = arg;
	if (!l->prov)
		return ERR_UNSUPPORTED;
	const prov_spec_t *s = prov_spec(l->prov, PROV_PRODUCTION);
	if (!s->run && !s->attached)
		return ERR_UNSUPPORTED;
	*wanted = prov_replica_count(l->prov, PROV_PRODUCTION);
	*up = prov_replica_up_count(l->prov, PROV_PRODUCTION);
	return 0;
}

static int signal_production(void *arg, int sig)
{
	cmd_mit_live_t *l = arg;
	if (!l->prov)
		return ERR_UNSUPPORTED;
	return prov_signal(l->prov, PROV_PRODUCTION, sig);
}

static void restart_done(bool ok, const char *why, void *arg)
{
	cmd_mit_live_t *l = arg;
	l->rolling = false;
	l->restart_ok = ok;
	snprintf(l->restart_why, sizeof(l->restart_why), "%s", why);
}

static int rolling_restart(void *arg)
{
	cmd_mit_live_t *l = arg;
	if (!l->prov)
		return ERR_UNSUPPORTED;
	int rc =
	    prov_rolling_restart(l->prov, PROV_PRODUCTION, restart_done, l);
	if (rc == 0) {
		l->rolling = true;
		l->restart_ok = false;
		l->restart_why[0] = '\0';
	}
	return rc;
}

static int restart_status(void *arg, char *why, size_t n)
{
	cmd_mit_live_t *l = arg;
	if (l->rolling)
		return ERR_AGAIN;
	snprintf(why, n, "%s", l->restart_why);
	return l->restart_ok ? 0 : ERR_BADSTATE;
}

/* Production to n replicas, and the shadow's count with it, in the
 * configured proportion (shadow.replicas : production.replicas, rounded
 * up): the shadow takes its ratio of the traffic, and a shadow left at
 * its first count while production grows saturates and deviates from
 * production for no fault of the config under test. Its cgroup limits
 * follow in prov_set_replicas. */
static int set_replicas(void *arg, int n)
{
	cmd_mit_live_t *l = arg;
	if (!l->prov || !prov_spec(l->prov, PROV_PRODUCTION)->run)
		return ERR_UNSUPPORTED;
	int rc = prov_set_replicas(l->prov, PROV_PRODUCTION, n);
	const prov_spec_t *ps = prov_spec(l->prov, PROV_PRODUCTION);
	const prov_spec_t *ss = prov_spec(l->prov, PROV_SHADOW);
	if (rc || !ss->run || ps->replicas < 1)
		return rc;
	int sn = (n * ss->replicas + ps->replicas - 1) / ps->replicas;
	sn = sn < 1 ? 1 : sn > PROV_MAX_REPLICAS ? PROV_MAX_REPLICAS : sn;
	if (sn != prov_replica_count(l->prov, PROV_SHADOW) &&
	    prov_set_replicas(l->prov, PROV_SHADOW, sn) == 0)
		log_info("mitigate", "shadow follows production",
			 LF_I("production", n), LF_I("shadow", sn));
	return 0;
}

static int set_amplification(void *arg, unsigned k)
{
	cmd_mit_live_t *l = arg;
	if (!l->px)
		return ERR_UNSUPPORTED;
	proxy_set_amplification(l->px, k);
	return 0;
}

static int squeeze_shadow(void *arg, double cpu, double mem)
{
	cmd_mit_live_t *l = arg;
	if (!l->prov)
		return ERR_UNSUPPORTED;
	return prov_squeeze_shadow(l->prov, cpu, mem);
}

static int shadow_limits(void *arg, double *cpu, uint64_t *mem, int *replicas)
{
	cmd_mit_live_t *l = arg;
	if (!l->prov || !prov_spec(l->prov, PROV_SHADOW)->run)
		return ERR_UNSUPPORTED;
	if (!l->have_limits) {
		l->shadow_normal = prov_side_limits(l->prov, PROV_SHADOW);
		l->have_limits = true;
	}
	*cpu = l->shadow_normal.cpu;
	*mem = l->shadow_normal.mem;
	*replicas = prov_replica_count(l->prov, PROV_SHADOW);
	return 0;
}

static uint64_t mirror_dropped(void *arg)
{
	cmd_mit_live_t *l = arg;
	if (!l->px)
		return 0;
	proxy_counters_t c;
	proxy_counters(l->px, &c);
	return c.dropped[PROXY_DROP_QUEUE_FULL] +
	       c.dropped[PROXY_DROP_QUEUE_BYTES];
}

mit_ops_t cmd_mit_ops(cmd_mit_live_t *l)
{
	mit_ops_t o = {
	    .arg = l,
	    .production_health = health,
	    .signal_production = signal_production,
	    .rolling_restart = rolling_restart,
	    .restart_status = restart_status,
	    .set_replicas = set_replicas,
	    .set_amplification = set_amplification,
	    .squeeze_shadow = squeeze_shadow,
	    .shadow_limits = shadow_limits,
	    .mirror_dropped = mirror_dropped,
	};
	return o;
}

json_t *cmd_stress_json(const mit_stress_t *t, double prod_rps)
{
	json_t *pts = json_array(), *res = json_array();
	for (int i = 0; i < t->npoints; i++) {
		const mit_stress_point_t *p = &t->point[i];
		json_array_append_new(
		    pts,
		    json_pack("{s:s, s:f, s:f, s:f, s:f, s:I, s:b, s:s}",
			      "lever", mit_lever_name(p->lever), "level",
			      p->level, "shadow_rps", p->rps, "p99_s",
			      isnan(p->p99_s) ? 0.0 : p->p99_s, "error_rate",
			      p->error_rate, "n", (json_int_t)p->n, "over",
			      p->over, "why", p->why));
	}
	for (int i = 0; i < t->nresults; i++) {
		const mit_stress_lever_result_t *r = &t->result[i];
		json_t *o =
		    json_pack("{s:s, s:b, s:b, s:f, s:f, s:s}", "lever",
			      mit_lever_name(r->lever), "ran", r->ran, "knee",
			      r->knee, "knee_level", r->knee_level,
			      "good_level", r->good_level, "note", r->note);
		if (!isnan(r->capacity_lo))
			json_object_set_new(o, "capacity_lo",
					    json_real(r->capacity_lo));
		if (!isnan(r->capacity_hi))
			json_object_set_new(o, "capacity_hi",
					    json_real(r->capacity_hi));
		if (!isnan(r->headroom))
			json_object_set_new(o, "headroom",
					    json_real(r->headroom));
		if (r->lever == MIT_LEVER_MEMORY)
			json_object_set_new(
			    o, "memory_ok_bytes",
			    json_integer((json_int_t)r->mem_ok));
		json_array_append_new(res, o);
	}
	json_t *top =
	    json_pack("{s:s, s:o, s:o, s:s}", "state",
		      t->state == MIT_STRESS_DONE      ? "done"
		      : t->state == MIT_STRESS_RUNNING ? "running"
		      : t->state == MIT_STRESS_IDLE    ? "idle"
						       : "aborted",
		      "points", pts, "levers", res, "summary", t->why);
	if (!isnan(t->capacity))
		json_object_set_new(top, "capacity", json_real(t->capacity));
	if (!isnan(prod_rps))
		json_object_set_new(top, "production_rps", json_real(prod_rps));
	return top;
}
