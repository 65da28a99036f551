/*
 * test_restart.c: what the supervisor offers mitigation, on a real loop
 * with real children: reload signals reach each replica's main process;
 * a rolling restart that meets a replica which will not come back stops
 * there (the others keep their processes) and says why; the shadow's
 * limits squeezed and restored (cgroup files checked when this host lets
 * the test write cgroups); the up count.
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "config/config.h"
#include "provision/prov_int.h"

#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S 1000000000LL

static int ups[PROV_SIDES];
static bool roll_done, roll_ok;
static char roll_why[256];

static void on_replica(const prov_replica_ev_t *ev, void *arg)
{
	if (ev->kind == PROV_EV_UP)
		ups[ev->side]++;
}

static void on_roll(bool ok, const char *why, void *arg)
{
	roll_done = true;
	roll_ok = ok;
	snprintf(roll_why, sizeof(roll_why), "%s", why);
}

static void loop_until(struct event_base *b, bool (*cond)(void), int64_t ns)
{
	int64_t until = clock_mono_ns() + ns;
	while (!cond() && clock_mono_ns() < until) {
		event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
	}
}

/* Waits (polling, 10 s at most) until path exists. */
static void wait_file(const char *path)
{
	int64_t until = clock_mono_ns() + 10 * S;
	while (access(path, F_OK) && clock_mono_ns() < until)
		usleep(10000);
	cr_assert_eq(access(path, F_OK), 0, "waited 10 s for %s", path);
}

static bool all_up(void)
{
	return ups[PROV_PRODUCTION] >= 2 && ups[PROV_SHADOW] >= 1;
}

static bool is_roll_done(void)
{
	return roll_done;
}

static bool cg_writable(void)
{
	cgroup_sys_t sys;
	if (geteuid() != 0 || cgroup_discover(&sys, NULL))
		return false;
	return cgroup_version_for(&sys, CGROUP_CPU) &&
	       cgroup_version_for(&sys, CGROUP_MEMORY);
}

static char dir[64];

/* build/tests/unit/provision/test_x -> build/tools/testsvc */
static void find_testsvc(char *out, size_t n)
{
	char exe[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	cr_assert_gt(k, 0);
	exe[k] = '\0';
	snprintf(out, n, "%s/../../../tools/testsvc", dirname(exe));
	cr_assert_eq(access(out, X_OK), 0, "%s not built", out);
}

/* Two production replicas. With http, each is testsvc (ready when it
 * answers /healthz) and will not start again once <dir>/broken exists;
 * otherwise a shell that touches sig-<port> on SIGUSR1. */
static prov_t *start(struct event_base *base, config_t **cfg, bool cg,
		     bool http)
{
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
	snprintf(dir, sizeof(dir), "/tmp/umbra-restart-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	/* as root the shadow runs as umbra-shadow: it must pass through */
	chmod(dir, 0711);
	char cmd[3 * PATH_MAX], svc[PATH_MAX];
	if (http) {
		find_testsvc(svc, sizeof(svc));
		snprintf(cmd, sizeof(cmd),
			 "[/bin/sh, -c, 'test -e %s/broken && exec %s --port $0 "
			 "--exit-after-ms 0 --exit-code 3; exec %s --port $0', "
			 "'{port}']\n  health: {type: http, path: /healthz}",
			 dir, svc, svc);
	} else {
		snprintf(cmd, sizeof(cmd),
			 "[/bin/sh, -c, 'trap \"touch %s/sig-$0\" USR1; "
			 "touch %s/ready-$0; while :; do sleep 0.05; done', "
			 "'{port}']\n"
			 "  health: {type: none}",
			 dir, dir);
	}
	char text[4 * PATH_MAX];
	snprintf(text, sizeof(text),
		 "service: unit-restart-%d\nproduction:\n  command: %s\n"
		 "  replicas: 2\n  stop_grace: 2s\n"
		 "  restart: {max: 2, backoff: 10ms}\n%s"
		 "shadow:\n  ratio: 0.5\n",
		 (int)getpid(), cmd,
		 cg ? "  cpu_limit: 1\n  memory_limit: 64MiB\n" : "");
	config_errors_t errs = {0};
	cr_assert_eq(config_load_string("t.yaml", text, strlen(text), dir, cfg,
					&errs),
		     0);
	config_errors_free(&errs);
	prov_t *p;
	buf_t err = BUF_INIT;
	prov_hooks_t hooks = {on_replica, NULL};
	cr_assert_eq(prov_new(*cfg, base, &hooks, &p, &err), 0, "%s", err.data);
	cr_assert_eq(prov_start(p, &err), 0, "%s", err.data);
	buf_free(&err);
	memset(ups, 0, sizeof(ups));
	loop_until(base, all_up, 10 * S);
	cr_assert(all_up());
	return p;
}

static void finish(struct event_base *base, prov_t *p, config_t *cfg)
{
	prov_free(p);
	event_base_free(base);
	config_free(cfg);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(restart, signal_reaches_every_replica)
{
	struct event_base *base = event_base_new();
	config_t *cfg;
	prov_t *p = start(base, &cfg, false, false);
	cr_assert_eq(prov_replica_up_count(p, PROV_PRODUCTION), 2);
	for (int i = 0; i < 2; i++) { /* each shell has set its trap */
		char f[128];
		snprintf(f, sizeof(f), "%s/ready-%d", dir,
			 p->rep[PROV_PRODUCTION][i]->port);
		wait_file(f);
	}
	cr_assert_eq(prov_signal(p, PROV_PRODUCTION, SIGUSR1), 2);
	for (int i = 0; i < 2; i++) {
		char f[128];
		snprintf(f, sizeof(f), "%s/sig-%d", dir,
			 p->rep[PROV_PRODUCTION][i]->port);
		wait_file(f);
	}
	finish(base, p, cfg);
}

Test(restart, roll_stops_at_a_replica_that_does_not_come_back)
{
	struct event_base *base = event_base_new();
	config_t *cfg;
	prov_t *p = start(base, &cfg, false, true);
	int pid1 = p->rep[PROV_PRODUCTION][1]->pid;
	cr_assert_eq(prov_rolling_restart(p, PROV_PRODUCTION, on_roll, NULL), 0);
	cr_assert_eq(prov_rolling_restart(p, PROV_PRODUCTION, on_roll, NULL),
		     ERR_BADSTATE, "one roll at a time");
	cr_assert(prov_restart_rolling(p));
	/* replica 0 is stopping; it will not start again */
	char b[128];
	snprintf(b, sizeof(b), "%s/broken", dir);
	FILE *f = fopen(b, "w");
	fclose(f);
	loop_until(base, is_roll_done, 20 * S);
	cr_assert(roll_done);
	cr_assert_not(roll_ok);
	cr_assert(strstr(roll_why, "replica 0 did not come back: crash loop"),
		  "%s", roll_why);
	cr_assert_not(prov_restart_rolling(p));
	cr_assert_eq(p->rep[PROV_PRODUCTION][1]->pid, pid1,
		     "the rest keep their processes");
	cr_assert_eq(prov_replica_up_count(p, PROV_PRODUCTION), 1);
	finish(base, p, cfg);
}

Test(restart, squeeze_the_shadow)
{
	bool cg = cg_writable();
	struct event_base *base = event_base_new();
	config_t *cfg;
	prov_t *p = start(base, &cfg, cg, false);
	cr_assert_eq(prov_squeeze_shadow(p, 0, 1), ERR_RANGE);
	cr_assert_eq(prov_squeeze_shadow(p, 1.5, 1), ERR_RANGE);
	if (!cg) {
		cr_assert_eq(prov_squeeze_shadow(p, 0.5, 1), ERR_BADSTATE,
			     "no cgroup to squeeze");
		finish(base, p, cfg);
		return;
	}
	/* shadow: 0.5 x 2 replicas x 1 core = 1 core, 64 MiB */
	cr_assert_float_eq(prov_side_limits(p, PROV_SHADOW).cpu, 1.0, 1e-9);
	cr_assert_eq(prov_squeeze_shadow(p, 0.25, 0.5), 0);
	prov_limits_t l;
	cr_assert_eq(prov__cg_read_limits(p->cg[PROV_SHADOW].side[CGROUP_CPU],
					  p->cg[PROV_SHADOW].ver[CGROUP_CPU],
					  p->cg[PROV_SHADOW].side[CGROUP_MEMORY],
					  p->cg[PROV_SHADOW].ver[CGROUP_MEMORY],
					  &l),
		     0);
	cr_assert_float_eq(l.cpu, 0.25, 1e-9);
	cr_assert_eq(l.mem, 32u << 20);
	/* production is not squeezed */
	cr_assert_float_eq(prov_side_limits(p, PROV_PRODUCTION).cpu, 2.0, 1e-9);
	/* the squeeze stays when production scales */
	cr_assert_eq(prov_set_replicas(p, PROV_PRODUCTION, 4), 0);
	cr_assert_float_eq(prov_side_limits(p, PROV_SHADOW).cpu, 0.5, 1e-9);
	cr_assert_eq(prov_squeeze_shadow(p, 1, 1), 0);
	cr_assert_float_eq(prov_side_limits(p, PROV_SHADOW).cpu, 2.0, 1e-9);
	finish(base, p, cfg);
}
