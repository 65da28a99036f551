/*
 * run.c: `umbra run CONFIG`, the daemon. It provisions and supervises
 * production and shadow (and, with shadow.baseline, a baseline: a copy
 * of production that follows production's config files), puts the
 * mirroring proxy between clients and them (replicas join and leave its
 * pools as they pass or fail their health checks), and watches the two sides for drift, until SIGTERM or
 * SIGINT; then the proxy drains in-flight requests and everything stops
 * (stop signal, grace, SIGKILL; whole process groups and cgroups). A
 * second signal kills what is left at once. SIGHUP reloads the proxy's
 * settings from the file without dropping connections. Every
 * analysis.interval the tick (run_tick.c) measures both sides, stores
 * the points and lets the analysis compare them; the admin API
 * (run_api.c) shows it all.
 *
 * setup() builds each module on the control thread's event loop and
 * wires their callbacks, the loop runs, teardown() frees in reverse
 * order.
 */
#include "cmd/run_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "capture/capture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cmd_opt_t opts[] = {
    {NULL},
};

/* ------------------------------------------------------------ callbacks */

/* Publishes the replicas of side that are up to the proxy's pool. */
static void publish_side(run_t *r, prov_side_t side)
{
	addr_t list[PROV_MAX_REPLICAS];
	size_t n = 0;
	for (int i = 0; i < PROV_MAX_REPLICAS; i++)
		if (r->is_up[side][i])
			list[n++] = r->live[side][i];
	proxy_side_t ps = side == PROV_PRODUCTION ? PROXY_PRODUCTION
			  : side == PROV_BASELINE ? PROXY_BASELINE
						  : PROXY_SHADOW;
	proxy_set_upstreams(r->px, ps, list, n);
}

/* Every replica's life; the proxy's pools follow it (UP: in; DOWN,
 * FAILED, REMOVED: out). In-flight requests to a replica that leaves
 * finish on their connection. */
static void on_replica(const prov_replica_ev_t *ev, void *arg)
{
	run_t *r = arg;
	if (r->px && !r->px_drained && ev->replica >= 0 &&
	    ev->replica < PROV_MAX_REPLICAS) {
		bool up = ev->kind == PROV_EV_UP;
		addr_t a;
		if (up && addr_parse(ev->addr, false, &a, NULL) != 0) {
			log_error("run", "replica address not understood",
				  LF_S("addr", ev->addr));
			up = false;
		}
		if (up) {
			r->live[ev->side][ev->replica] = a;
			r->pid[ev->side][ev->replica] = ev->pid;
		}
		if (r->is_up[ev->side][ev->replica] != up) {
			r->is_up[ev->side][ev->replica] = up;
			publish_side(r, ev->side);
			run__targets(r, ev->side);
		}
	}
	if (ev->kind == PROV_EV_UP && r->drift)
		prov_drift_check(r->drift, "replica up");
	if (ev->kind == PROV_EV_FAILED && ev->side == PROV_PRODUCTION &&
	    prov_side_failed(r->prov, PROV_PRODUCTION))
		event_active(r->ev_fatal, EV_TIMEOUT, 0);
}

/* Drift: the analysis learns which files differ (a cause it can name),
 * and each side's own changes become configuration-change events. */
static void on_drift(const prov_drift_finding_t *f, void *arg)
{
	run_t *r = arg;
	for (size_t i = 0; i < r->ndrift; i++) {
		free(r->drift_file[i]);
		free(r->drift_keys[i]);
	}
	r->ndrift = 0;
	for (size_t i = 0; f->report && i < f->report->n &&
			   r->ndrift < RUN_MAX_DRIFT;
	     i++) {
		const prov_drift_item_t *it = &f->report->v[i];
		r->drift_file[r->ndrift] = xstrdup(it->file ? it->file : it->key);
		r->drift_keys[r->ndrift] = xstrdup(it->key);
		r->ndrift++;
	}
}

static void on_change(const prov_change_ev_t *ev, void *arg)
{
	run_t *r = arg;
	char text[512];
	/* short: it becomes a root cause's subject (the drift finding
	 * has the file's path and diff) */
	snprintf(text, sizeof(text), "%s changed in %s", ev->item->key,
		 prov_side_name(ev->side));
	store_event_t se = {0, r->cfg->service, "config_change",
			    prov_side_name(ev->side), text, "drift",
			    ev->wall_ns, ev->wall_ns};
	run__event(r, &se);
	/* a new snapshot of production's config, if its files changed */
	if (ev->side == PROV_PRODUCTION && r->mit)
		mit_config_changed(r->mit, ev->wall_ns, text);
	/* the baseline follows production's files (a no-op unless they
	 * changed; the tick checks too, for changes drift does not see) */
	if (ev->side == PROV_PRODUCTION)
		prov_baseline_sync(r->prov);
}

static void on_stopped(void *arg)
{
	run_t *r = arg;
	event_base_loopexit(r->base, NULL);
}

static void stop_all(run_t *r)
{
	/* Production's in-flight requests finish before production stops.
	 * The proxy is freed at teardown (the aggregator reads its rings). */
	if (r->px && !r->px_drained) {
		proxy_drain(r->px, r->signals <= 1
					   ? r->cfg->listen.drain_timeout
					   : 0);
		r->px_drained = true;
	}
	prov_stop(r->prov, on_stopped, r);
}

/* SIGHUP: the proxy's settings from the file, the live pools kept. */
static void reload(run_t *r)
{
	config_t *nc = NULL;
	if (cmd_load_config(r->cfg->file, &nc) != 0) {
		log_error("run", "reload failed; keeping the running settings");
		return;
	}
	if (r->px && !r->px_drained) {
		int rc = proxy_reload(r->px, nc);
		if (rc) {
			log_error("run", "proxy reload failed",
				  LF_ERR("err", rc));
			config_free(nc);
			return;
		}
		for (int side = 0; side < PROV_SIDES; side++)
			if (prov_spec(r->prov, (prov_side_t)side)->run)
				publish_side(r, (prov_side_t)side);
	}
	log_info("run", "reloaded the proxy settings; provisioning changes "
			"(commands, replicas, limits) take effect on restart");
	/* the provisioner borrows the old config: keep it, free the new */
	config_free(nc);
}

static void on_fatal(evutil_socket_t fd, short what, void *arg)
{
	run_t *r = arg;
	log_error("run", "every production replica gave up; stopping umbra "
			 "(see the crash-loop errors above)");
	r->exit_code = CMD_EXIT_FAIL;
	if (!r->signals++)
		stop_all(r);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	run_t *r = arg;
	if (sig == SIGHUP) {
		reload(r);
		return;
	}
	log_info("run",
		 r->signals ? "second stop signal: killing what is "
			      "left"
			    : "stop signal: stopping gracefully",
		 LF_S("signal", strsignal((int)sig)));
	r->signals++;
	stop_all(r);
}

/* ------------------------------------------------------------ phases */

static int setup(run_t *r, buf_t *err)
{
	r->base = event_base_new();
	if (!r->base) {
		buf_puts(err, "cannot create the event loop");
		return ERR_NOMEM;
	}
	r->ev_term = evsignal_new(r->base, SIGTERM, on_signal, r);
	r->ev_int = evsignal_new(r->base, SIGINT, on_signal, r);
	r->ev_hup = evsignal_new(r->base, SIGHUP, on_signal, r);
	r->ev_fatal = event_new(r->base, -1, 0, on_fatal, r);
	event_add(r->ev_term, NULL);
	event_add(r->ev_int, NULL);
	event_add(r->ev_hup, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The proxy first, so that replicas coming up join its pools. */
	int rc = 0;
	r->px = proxy_new(r->cfg, &rc);
	if (!r->px) {
		buf_printf(err, "cannot start the proxy: %s", err_str(rc));
		return rc;
	}
	if ((rc = cmd_tap_masker(r->px, r->cfg, &r->tap_masker, err)) != 0)
		return rc;
	if ((rc = proxy_start(r->px)) != 0) {
		buf_printf(err, "cannot start proxy workers: %s", err_str(rc));
		return rc;
	}
	if ((rc = run__tick_setup(r, err)) != 0)
		return rc;
	/* production's files whole (before or target of an interrupted
	 * rollback) before production starts on them */
	if ((rc = run__recover(r, err)) != 0)
		return rc;

	prov_hooks_t hooks = {on_replica, r};
	rc = prov_new(r->cfg, r->base, &hooks, &r->prov, err);
	if (rc)
		return rc;
	rc = prov_start(r->prov, err);
	if (rc)
		return rc;
	if ((rc = run__mitigate_setup(r, err)) != 0)
		return rc;
	run__propose_setup(r);
	prov_drift_hooks_t dh = {on_drift, on_change, r};
	rc = prov_drift_new(r->prov, &dh, &r->drift, err);
	if (rc)
		return rc;
	if ((rc = run__api_setup(r, err)) != 0)
		return rc;
	const prov_spec_t *p = prov_spec(r->prov, PROV_PRODUCTION);
	const prov_spec_t *s = prov_spec(r->prov, PROV_SHADOW);
	const prov_spec_t *b = prov_spec(r->prov, PROV_BASELINE);
	char la[ADDR_TEXT_MAX];
	addr_t bound = r->cfg->listen.address;
	bound.port = (uint16_t)proxy_listen_port(r->px);
	log_info(
	    "run", "running", LF_S("service", r->cfg->service),
	    LF_S("listen", addr_format(&bound, la)),
	    LF_S("production", p->run	     ? "run by umbra"
			       : p->attached ? "attached"
					     : "not run by umbra"),
	    LF_I("production_replicas",
		 prov_replica_count(r->prov, PROV_PRODUCTION)),
	    LF_S("shadow", s->run ? "run by umbra" : "not run by umbra"),
	    LF_I("shadow_replicas", prov_replica_count(r->prov, PROV_SHADOW)),
	    LF_S("baseline", b->run			  ? "run by umbra"
			     : r->cfg->shadow.baseline.enabled ? "not run by umbra"
							       : "off"));
	return 0;
}

static void teardown(run_t *r)
{
	api_free(r->api);
	r->api = NULL;
	if (r->px && !r->px_drained)
		proxy_drain(r->px, 0);
	/* the engine acts through the proxy, the provisioner and the store;
	 * a proposal acts through the engine */
	run__propose_teardown(r);
	run__mitigate_teardown(r);
	/* the aggregator reads the proxy's rings: it goes first */
	run__tick_teardown(r);
	if (r->px) {
		proxy_free(r->px);
		r->px = NULL;
	}
	cap_masker_free(r->tap_masker);
	prov_drift_free(r->drift);
	prov_free(r->prov);
	struct event *evs[] = {r->ev_term, r->ev_int, r->ev_hup, r->ev_fatal};
	for (size_t i = 0; i < sizeof(evs) / sizeof(*evs); i++)
		if (evs[i])
			event_free(evs[i]);
	if (r->base)
		event_base_free(r->base);
}

static int exec(cmd_args_t *a)
{
	run_t r = {.cmd = a->cmd, .exit_code = CMD_EXIT_OK,
		   .started_ns = clock_wall_ns(), .clk_mono0 = clock_mono_ns()};
	r.clk_wall0 = r.started_ns;
	int rc = cmd_load_config(a->pos[0], &r.cfg);
	if (rc)
		return rc;
	buf_t err = BUF_INIT;
	rc = setup(&r, &err);
	if (rc) {
		cmd_fail(a->cmd, "%s", err.data ? err.data : err_str(rc));
		teardown(&r);
		buf_free(&err);
		config_free(r.cfg);
		return rc == ERR_CONFIG ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
	}
	buf_free(&err);
	event_base_dispatch(r.base);
	teardown(&r);
	config_free(r.cfg);
	log_info("run", "exiting", LF_I("status", r.exit_code));
	return r.exit_code;
}

const cmd_entry_t cmd_run = {
    .name = "run",
    .usage = "CONFIG",
    .summary = "the daemon: production and shadow, the proxy, "
	       "analysis, and the closed loop",
    .help = "Listens on listen.address and proxies to production, "
	    "mirroring a share of\nthe traffic to the shadow (see umbra "
	    "proxy). Starts production\n(production.command, or watches "
	    "production.attach) and the\nshadow (the same command on its "
	    "own port, a rendered copy of the config,\nratio x "
	    "production's CPU and memory in cgroups, optionally in its "
	    "own network\nnamespace) and, with shadow.baseline.enabled, a "
	    "baseline (production's command and\nconfig in the shadow's "
	    "conditions, restarted when production's config files\n"
	    "change), restarts replicas that crash (with "
	    "backoff, up to a crash-loop\nlimit), and compares their "
	    "fingerprints every drift.interval and on config\nfile "
	    "changes. Every analysis.interval it collects both sides' metrics "
	    "(stored in\nstore.path), compares production with the shadow "
	    "(docs/analysis.md) and\nacts on mitigation.policy: rollback to "
	    "the known-good config snapshot and\nverification, scaling ahead "
	    "of the forecast load, shadow stress tests,\nalerts; every "
	    "finding, decision, action and outcome is audited in the "
	    "store\n(docs/mitigation.md). The admin API on api.listen serves "
	    "umbra status,\nfindings, actions, events, timeline, release "
	    "and propose (docs/api.md).\nSIGHUP reloads the proxy's "
	    "settings. SIGTERM or SIGINT stops everything\ngracefully (stop "
	    "signal, grace, then SIGKILL, whole process groups); a second "
	    "one kills at once.\nExit status: 0 after a clean stop, 1 when "
	    "setup fails or every production\nreplica gave up, 2 for a "
	    "bad config. Limits and isolation need root.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .exec = exec,
};
