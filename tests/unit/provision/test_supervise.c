/*
 * test_supervise.c: the supervisor on a real event loop with real child
 * processes (sleep): replica events in order, scaling production up and
 * down at run time with the shadow's limits following (ratio x
 * production's total), new per-replica limits, and a stop that ends
 * every child and reports each replica removed. The cgroup files are
 * checked too when this host lets the test write cgroups (root).
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "config/config.h"
#include "provision/prov_int.h"

#include <criterion/criterion.h>
#include <sys/stat.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct seen {
	char log[8192];
	int up[PROV_SIDES], down[PROV_SIDES], removed[PROV_SIDES],
	    failed[PROV_SIDES];
	bool done;
} seen_t;

static void on_replica(const prov_replica_ev_t *ev, void *arg)
{
	seen_t *s = arg;
	size_t l = strlen(s->log);
	snprintf(s->log + l, sizeof(s->log) - l, "%s %s %d;",
		 prov_ev_name(ev->kind), prov_side_name(ev->side), ev->replica);
	int *c[] = {s->up, s->down, s->failed, s->removed};
	c[ev->kind][ev->side]++;
	cr_assert_not_null(ev->addr);
	cr_assert_gt(ev->salen, 0);
}

static void on_done(void *arg)
{
	((seen_t *)arg)->done = true;
}

/* Runs the loop until *flag reaches want (or 10 s pass). */
static void run_until(struct event_base *b, const int *flag, int want)
{
	int64_t until = clock_mono_ns() + 10 * NS_PER_S;
	while (*flag < want && clock_mono_ns() < until)
		event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(2000);
	cr_assert_geq(*flag, want, "waited for %d, got %d", want, *flag);
}

static bool cg_writable(void)
{
	cgroup_sys_t sys;
	if (geteuid() != 0 || cgroup_discover(&sys, NULL))
		return false;
	return cgroup_version_for(&sys, CGROUP_CPU) &&
	       cgroup_version_for(&sys, CGROUP_MEMORY);
}

Test(supervise, scale_and_limits_follow_then_stop)
{
	log_setup(LOG_WARN, LOG_FMT_LOGFMT);
	char dir[] = "/tmp/umbra-sup-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	/* as root the shadow runs as umbra-shadow: it must pass through */
	chmod(dir, 0711);
	bool cg = cg_writable();
	char text[1024];
	snprintf(text, sizeof(text),
		 "service: unit-sup-%d\nproduction:\n"
		 "  command: [/bin/sh, -c, 'exec sleep 30', '{port}']\n"
		 "  health: {type: none}\n  stop_grace: 2s\n%s"
		 "shadow:\n  ratio: 0.5\n",
		 (int)getpid(),
		 cg ? "  cpu_limit: 1\n  memory_limit: 64MiB\n" : "");
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	cr_assert_eq(
	    config_load_string("t.yaml", text, strlen(text), dir, &cfg, &errs),
	    0);
	config_errors_free(&errs);
	struct event_base *base = event_base_new();
	seen_t s = {0};
	prov_hooks_t hooks = {on_replica, &s};
	prov_t *p;
	buf_t err = BUF_INIT;
	cr_assert_eq(prov_new(cfg, base, &hooks, &p, &err), 0, "%s", err.data);
	cr_assert_eq(prov_start(p, &err), 0, "%s", err.data);
	run_until(base, &s.up[PROV_SHADOW], 1);
	run_until(base, &s.up[PROV_PRODUCTION], 1);
	int pid0 = p->rep[PROV_PRODUCTION][0]->pid;
	cr_assert_gt(pid0, 0);
	cr_assert_eq(kill(pid0, 0), 0);

	/* scale production up: two more replicas; the shadow follows */
	cr_assert_eq(prov_set_replicas(p, PROV_PRODUCTION, 3), 0);
	run_until(base, &s.up[PROV_PRODUCTION], 3);
	cr_assert_eq(prov_replica_count(p, PROV_PRODUCTION), 3);
	if (cg) {
		cr_assert_float_eq(prov_side_limits(p, PROV_SHADOW).cpu, 1.5,
				   1e-9);
		prov_limits_t l;
		cr_assert_eq(prov__cg_read_limits(
				 p->cg[PROV_SHADOW].side[CGROUP_CPU],
				 p->cg[PROV_SHADOW].ver[CGROUP_CPU],
				 p->cg[PROV_SHADOW].side[CGROUP_MEMORY],
				 p->cg[PROV_SHADOW].ver[CGROUP_MEMORY], &l),
			     0);
		cr_assert_float_eq(l.cpu, 1.5, 1e-9);
		cr_assert_eq(l.mem, 96u << 20);
	}
	cr_assert_eq(prov_set_replicas(p, PROV_PRODUCTION, 0), ERR_RANGE);
	cr_assert_eq(prov_set_replicas(p, PROV_PRODUCTION, 65), ERR_RANGE);

	/* and down again: replicas 1 and 2 go, gracefully */
	int pid2 = p->rep[PROV_PRODUCTION][2]->pid;
	cr_assert_eq(prov_set_replicas(p, PROV_PRODUCTION, 1), 0);
	run_until(base, &s.removed[PROV_PRODUCTION], 2);
	cr_assert_neq(kill(pid2, 0), 0);
	cr_assert_eq(kill(pid0, 0), 0);
	if (cg) {
		cr_assert_float_eq(prov_side_limits(p, PROV_SHADOW).cpu, 0.5,
				   1e-9);
		cr_assert_eq(prov_set_limits(p, (prov_limits_t){2, 128u << 20}),
			     0);
		cr_assert_float_eq(prov_side_limits(p, PROV_SHADOW).cpu, 1.0,
				   1e-9);
		cr_assert_eq(prov_side_limits(p, PROV_SHADOW).mem, 64u << 20);
	}

	/* stop: everything down, removed, gone */
	int spid = p->rep[PROV_SHADOW][0]->pid;
	prov_stop(p, on_done, &s);
	int done = 0;
	while (!s.done && done < 5000) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
		done++;
	}
	cr_assert(s.done, "stop did not finish: %s", s.log);
	cr_assert_neq(kill(pid0, 0), 0);
	cr_assert_neq(kill(spid, 0), 0);
	cr_assert_eq(s.removed[PROV_PRODUCTION], 3, "%s", s.log);
	cr_assert_eq(s.removed[PROV_SHADOW], 1, "%s", s.log);
	cr_assert_eq(s.down[PROV_PRODUCTION], 3, "%s", s.log);
	cr_assert_eq(s.failed[0] + s.failed[1], 0, "%s", s.log);
	/* every up is matched by a down before its removal */
	const char *d2 = strstr(s.log, "down production 2;");
	const char *r2 = strstr(s.log, "removed production 2;");
	cr_assert(d2 && r2 && d2 < r2, "%s", s.log);
	prov_free(p);
	event_base_free(base);
	config_free(cfg);
	buf_free(&err);
	prov__rmtree(dir);
}
