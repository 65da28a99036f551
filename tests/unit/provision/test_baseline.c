/*
 * test_baseline.c: the baseline on a real loop with real children: it
 * starts with a rendered copy of production's config files (never the
 * shadow's), is left alone while production's files stay the same, and
 * is restarted on a new copy when they change, even while a rolling
 * restart of the shadow is in progress (which must end only when the
 * shadow's own replica is back, not when the baseline's is).
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "config/config.h"
#include "provision/prov_int.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S 1000000000LL

static int ups[PROV_SIDES];
static int ups_at_roll_end[PROV_SIDES];
static bool roll_done, roll_ok;
static char dir[64];

static void on_replica(const prov_replica_ev_t *ev, void *arg)
{
	if (ev->kind == PROV_EV_UP)
		ups[ev->side]++;
}

static void on_roll(bool ok, const char *why, void *arg)
{
	roll_done = true;
	roll_ok = ok;
	memcpy(ups_at_roll_end, ups, sizeof(ups));
}

static void loop_until(struct event_base *b, bool (*cond)(void), int64_t ns)
{
	int64_t until = clock_mono_ns() + ns;
	while (!cond() && clock_mono_ns() < until) {
		event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
	}
}

/* The shadow's shell has set its trap (it says so with a file). */
static bool shadow_trapped(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/marks/shadow-trapped", dir);
	return access(path, F_OK) == 0;
}

static bool all_up(void)
{
	return ups[PROV_PRODUCTION] >= 1 && ups[PROV_SHADOW] >= 1 &&
	       ups[PROV_BASELINE] >= 1;
}

static bool restarted(void)
{
	return roll_done && ups[PROV_BASELINE] >= 2;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static char *read_text(const char *path)
{
	buf_t b = BUF_INIT;
	cr_assert_eq(prov__read_file(path, 4096, &b), 0, "%s", path);
	buf_putc(&b, '\0');
	return buf_steal(&b);
}

Test(baseline, copies_production_and_follows_its_files)
{
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
	snprintf(dir, sizeof(dir), "/tmp/umbra-baseline-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	/* as root the shadow runs as umbra-shadow: it must pass through */
	chmod(dir, 0711);
	char path[PATH_MAX];
	/* where the shadow (another user) leaves its marks, as in /tmp */
	snprintf(path, sizeof(path), "%s/marks", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	cr_assert_eq(chmod(path, 01777), 0);
	snprintf(path, sizeof(path), "%s/conf", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/cand", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/conf/app.conf", dir);
	write_file(path, "port = {port}\nv = 1\n");
	snprintf(path, sizeof(path), "%s/cand/app.conf", dir);
	write_file(path, "port = {port}\nv = 2\n");
	char text[2048];
	snprintf(text, sizeof(text),
		 "service: unit-baseline-%d\nproduction:\n"
		 "  command: [/bin/sh, -c, 'while :; do sleep 0.05; done', "
		 "'{port}']\n"
		 "  health: {type: none}\n  config_dir: conf\n"
		 "  stop_grace: 300ms\n"
		 /* a shadow slow to stop (it ignores the stop signal until
		  * SIGKILL): the baseline is back long before it */
		 "shadow:\n  config_dir: cand\n"
		 "  command: [/bin/sh, -c, 'trap \"\" TERM; touch "
		 "%s/marks/shadow-trapped; while :; do sleep 0.05; done', "
		 "'{port}']\n"
		 "  baseline: {enabled: true, port: 0}\n",
		 (int)getpid(), dir);
	config_t *cfg;
	config_errors_t errs = {0};
	cr_assert_eq(config_load_string("t.yaml", text, strlen(text), dir,
					&cfg, &errs),
		     0);
	config_errors_free(&errs);
	struct event_base *base = event_base_new();
	prov_t *p;
	buf_t err = BUF_INIT;
	prov_hooks_t hooks = {on_replica, NULL};
	cr_assert_eq(prov_new(cfg, base, &hooks, &p, &err), 0, "%s", err.data);
	cr_assert_eq(prov_start(p, &err), 0, "%s", err.data);
	buf_free(&err);
	loop_until(base, all_up, 10 * S);
	cr_assert(all_up());
	cr_assert_eq(prov_replica_count(p, PROV_BASELINE), 1);
	cr_assert_eq(prov_set_replicas(p, PROV_BASELINE, 2), ERR_BADSTATE);

	/* production's files, rendered with the baseline's own port */
	const prov_spec_t *b = prov_spec(p, PROV_BASELINE);
	int port = p->rep[PROV_BASELINE][0]->port;
	cr_assert_neq(port, p->rep[PROV_SHADOW][0]->port);
	snprintf(path, sizeof(path), "%s/app.conf", b->config_dir);
	char want[128];
	snprintf(want, sizeof(want), "port = %d\nv = 1\n", port);
	char *got = read_text(path);
	cr_assert_str_eq(got, want);
	free(got);
	int pid = p->rep[PROV_BASELINE][0]->pid;

	/* unchanged files: nothing happens */
	cr_assert_eq(prov_baseline_sync(p), 0);
	cr_assert_eq(p->rep[PROV_BASELINE][0]->pid, pid);

	/* changed while the shadow rolls: the baseline restarts on the new
	 * copy, and the roll ends when the shadow's replica is back */
	loop_until(base, shadow_trapped, 10 * S);
	cr_assert(shadow_trapped(), "the shadow's shell has set its trap");
	cr_assert_eq(prov_rolling_restart(p, PROV_SHADOW, on_roll, NULL), 0);
	snprintf(path, sizeof(path), "%s/conf/app.conf", dir);
	write_file(path, "port = {port}\nv = 3\n");
	cr_assert_eq(prov_baseline_sync(p), 1);
	cr_assert_eq(prov_baseline_sync(p), 0); /* one restart per change */
	loop_until(base, restarted, 10 * S);
	cr_assert(restarted());
	cr_assert(roll_ok);
	cr_assert_geq(ups_at_roll_end[PROV_SHADOW], 2,
		      "the roll ended before the shadow came back");
	cr_assert_neq(p->rep[PROV_BASELINE][0]->pid, pid);
	snprintf(path, sizeof(path), "%s/app.conf", b->config_dir);
	snprintf(want, sizeof(want), "port = %d\nv = 3\n", port);
	got = read_text(path);
	cr_assert_str_eq(got, want);
	free(got);
	/* the shadow's copy is still the candidate's */
	snprintf(path, sizeof(path), "%s/app.conf",
		 prov_spec(p, PROV_SHADOW)->config_dir);
	got = read_text(path);
	cr_assert(strstr(got, "v = 2"), "%s", got);
	free(got);

	prov_free(p);
	event_base_free(base);
	config_free(cfg);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
