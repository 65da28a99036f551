/*
 * run.c: `umbra run CONFIG`, the daemon. For now it provisions and
 * supervises production and shadow and watches them for drift, until
 * SIGTERM or SIGINT; then it stops everything (stop signal, grace,
 * SIGKILL; the whole process group and cgroup) and exits 0. A second
 * signal kills what is left at once.
 *
 * The shape is the one the later modules join: setup() builds each
 * module on the control thread's event loop and wires their callbacks,
 * the loop runs, teardown() frees in reverse order. The proxy's upstream
 * pool will hang off on_replica(); metrics, analysis and actions will be
 * more modules in setup() and teardown().
 */
#include "cmd/cmd.h"

#include "base/err.h"
#include "base/log.h"
#include "provision/drift.h"
#include "provision/provision.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct run {
	const cmd_entry_t *cmd;
	config_t *cfg;
	struct event_base *base;
	struct event *ev_term, *ev_int, *ev_hup;
	struct event *ev_fatal; /* production gave up: stop, exit 1 */
	prov_t *prov;
	prov_drift_t *drift;
	int signals; /* stop signals received */
	int exit_code;
} run_t;

static const cmd_opt_t opts[] = {
    {NULL},
};

/* ------------------------------------------------------------ callbacks */

/* Every replica's life. The proxy's upstream pool is updated from here
 * (UP: add ev->sa; DOWN, FAILED, REMOVED: remove). */
static void on_replica(const prov_replica_ev_t *ev, void *arg)
{
	run_t *r = arg;
	if (ev->kind == PROV_EV_UP && r->drift)
		prov_drift_check(r->drift, "replica up");
	if (ev->kind == PROV_EV_FAILED && ev->side == PROV_PRODUCTION &&
	    prov_side_failed(r->prov, PROV_PRODUCTION))
		event_active(r->ev_fatal, EV_TIMEOUT, 0);
}

static void on_stopped(void *arg)
{
	run_t *r = arg;
	event_base_loopexit(r->base, NULL);
}

static void stop_all(run_t *r)
{
	prov_stop(r->prov, on_stopped, r);
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
		log_warn("run", "SIGHUP: reloading the configuration is not "
				"implemented yet; ignored");
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

	prov_hooks_t hooks = {on_replica, r};
	int rc = prov_new(r->cfg, r->base, &hooks, &r->prov, err);
	if (rc)
		return rc;
	rc = prov_start(r->prov, err);
	if (rc)
		return rc;
	rc = prov_drift_new(r->prov, NULL, &r->drift, err);
	if (rc)
		return rc;
	const prov_spec_t *p = prov_spec(r->prov, PROV_PRODUCTION);
	const prov_spec_t *s = prov_spec(r->prov, PROV_SHADOW);
	log_info(
	    "run", "running", LF_S("service", r->cfg->service),
	    LF_S("production", p->run	     ? "run by umbra"
			       : p->attached ? "attached"
					     : "not run by umbra"),
	    LF_I("production_replicas",
		 prov_replica_count(r->prov, PROV_PRODUCTION)),
	    LF_S("shadow", s->run ? "run by umbra" : "not run by umbra"),
	    LF_I("shadow_replicas", prov_replica_count(r->prov, PROV_SHADOW)));
	return 0;
}

static void teardown(run_t *r)
{
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
	run_t r = {.cmd = a->cmd, .exit_code = CMD_EXIT_OK};
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
    .summary = "provision and supervise production and shadow, watch "
	       "drift",
    .help = "Starts production (production.command, or watches "
	    "production.attach) and the\nshadow (the same command on its "
	    "own port, a rendered copy of the config,\nratio x "
	    "production's CPU and memory in cgroups, optionally in its "
	    "own network\nnamespace), restarts replicas that crash (with "
	    "backoff, up to a crash-loop\nlimit), and compares their "
	    "fingerprints every drift.interval and on config\nfile "
	    "changes. SIGTERM or SIGINT stops everything gracefully (stop "
	    "signal,\ngrace, then SIGKILL, whole process groups); a second "
	    "one kills at once.\nExit status: 0 after a clean stop, 1 when "
	    "setup fails or every production\nreplica gave up, 2 for a "
	    "bad config. Limits and isolation need root.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .exec = exec,
};
