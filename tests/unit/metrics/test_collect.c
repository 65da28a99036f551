/*
 * test_collect.c: the collectors on fixture trees (tests/data/proc,
 * tests/data/cgroup/{v1,v2}): a process tree found by parent pids and by
 * children files, its counters across ticks while members come and go,
 * cgroup v1 and v2 statistics, and namespace byte counters.
 */
#include "base/err.h"
#include "metrics/collect.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *data(const char *rel)
{
	static char p[4][512];
	static int k;
	const char *d = getenv("UMBRA_TEST_DATA");
	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", d ? d : "tests/data", rel);
	return p[k];
}

/* A private copy of the proc fixture that a test may change. */
static char tmp[256];
static const char *copy_proc(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/umbra-proc-XXXXXX");
	cr_assert(mkdtemp(tmp));
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cp -r '%s'/. '%s'/", data("proc"), tmp);
	cr_assert_eq(system(cmd), 0);
	return tmp;
}

static void rm_tmp(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (tmp[0])
		cr_assert_eq(system(cmd), 0);
}

static void put(const char *root, int pid, const char *file, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%d/%s", root, pid, file);
	for (char *q = p + strlen(root) + 1; (q = strchr(q, '/')); q++) {
		*q = '\0';
		mkdir(p, 0755);
		*q = '/';
	}
	FILE *f = fopen(p, "w");
	cr_assert(f, "%s", p);
	fputs(text, f);
	fclose(f);
}

static void put_stat(const char *root, int pid, int ppid, int ut, int st,
		     int cut, int cst, int start)
{
	char s[512];
	snprintf(s, sizeof(s),
		 "%d (p%d) S %d %d %d 0 -1 4194560 1200 0 3 0 %d %d %d %d 20 0 "
		 "1 0 %d 12345678 100 18446744073709551615 1 1 0 0 0 0 0 0 0 "
		 "0 0 0 17 1 0 0 0 0 0\n",
		 pid, pid, ppid, pid, pid, ut, st, cut, cst, start);
	put(root, pid, "stat", s);
}

static void rm_proc(const char *root, int pid)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%d'", root, pid);
	cr_assert_eq(system(cmd), 0);
}

static void check_fixture_tree(const metrics_proc_stat_t *s)
{
	/* 100 -> 101 -> 102; 200 and 1 are not in the tree */
	cr_assert_eq(s->procs, 3);
	cr_assert_eq(s->threads, 7);
	cr_assert_eq(s->rss_bytes, (8000 + 4000 + 1000) * 1024ull);
	cr_assert_eq(s->fds, 9);
	cr_assert_eq(s->unreadable, 1, "102 has no io file");
	cr_assert_float_eq(s->cpu_user_s, 7.10, 1e-9);
	cr_assert_float_eq(s->cpu_system_s, 1.55, 1e-9);
	cr_assert_float_eq(s->read_bytes, 4096 + 1000, 1e-9);
	cr_assert_float_eq(s->write_bytes, 8192 + 2000, 1e-9);
	cr_assert_float_eq(s->ctx_switches, 340 + 110 + 6, 1e-9);
}

Test(proc, tree_by_parent_pids)
{
	cr_assert_eq(sysconf(_SC_CLK_TCK), 100, "fixtures assume USER_HZ 100");
	metrics_proc_t *p = metrics_proc_new(data("proc"));
	pid_t root = 100;
	metrics_proc_set_roots(p, &root, 1);
	metrics_proc_stat_t s;
	cr_assert_eq(metrics_proc_tick(p, &s), 0);
	check_fixture_tree(&s);
	/* nothing changed: the totals stay */
	cr_assert_eq(metrics_proc_tick(p, &s), 0);
	check_fixture_tree(&s);
	metrics_proc_free(p);
}

Test(proc, parents_are_relearnt_at_refresh, .fini = rm_tmp)
{
	const char *root = copy_proc();
	metrics_proc_t *p = metrics_proc_new(root);
	pid_t r = 100;
	metrics_proc_set_roots(p, &r, 1);
	metrics_proc_stat_t s;
	cr_assert_eq(metrics_proc_tick(p, &s), 0);
	cr_assert_eq(s.procs, 3);
	/* 200 (not a member) now claims 100 as its parent: a pid reused
	 * without the listing noticing. The remembered parent holds until
	 * the periodic refresh reads every stat again. */
	put_stat(root, 200, 100, 1, 1, 0, 0, 900);
	int ticks = 1;
	do {
		cr_assert_eq(metrics_proc_tick(p, &s), 0);
		ticks++;
	} while (s.procs == 3 && ticks < 100);
	cr_assert_eq(s.procs, 4);
	cr_assert_leq(ticks, 31, "refreshed within 30 ticks: %d", ticks);
	/* a process the listing has not seen is read at once */
	put_stat(root, 300, 101, 1, 1, 0, 0, 950);
	cr_assert_eq(metrics_proc_tick(p, &s), 0);
	cr_assert_eq(s.procs, 5);
	metrics_proc_free(p);
}

Test(proc, members_come_and_go, .fini = rm_tmp)
{
	const char *root = copy_proc();
	metrics_proc_t *p = metrics_proc_new(root);
	pid_t r = 100;
	metrics_proc_set_roots(p, &r, 1);
	metrics_proc_stat_t s;
	cr_assert_eq(metrics_proc_tick(p, &s), 0);
	check_fixture_tree(&s);

	/* 100 runs 1 s more; 102 runs 0.03 s more, exits, and 101 waits
	 * for it (101's cutime grows by 102's whole life, 0.13 s user,
	 * 0.05 s system); 103 is born under 100 and uses 0.08 s */
	put_stat(root, 100, 1, 600, 100, 20, 5, 1000);
	rm_proc(root, 102);
	put_stat(root, 101, 100, 200, 50, 13, 5, 1010);
	put_stat(root, 103, 100, 7, 1, 0, 0, 1100);
	put(root, 103, "status",
	    "Threads:\t1\nvoluntary_ctxt_switches:\t2\n"
	    "nonvoluntary_ctxt_switches:\t0\n");
	cr_assert_eq(metrics_proc_tick(p, &s), 0);
	cr_assert_eq(s.procs, 3);
	cr_assert_float_eq(s.cpu_user_s, 7.10 + 1.00 + 0.03 + 0.07, 1e-9);
	cr_assert_float_eq(s.cpu_system_s, 1.55 + 0.01, 1e-9);
	/* a fixture is read in clock ticks: 2 sqrt(n) of them for the
	 * members read (100, 101, 103) and gone (102), n = 4 */
	long hz = sysconf(_SC_CLK_TCK);
	cr_assert_float_eq(s.cpu_res_s, 2 * 2.0 / (double)(hz > 0 ? hz : 100),
			   1e-12, "resolution %g", s.cpu_res_s);

	/* pid 101 reused by another process (new start time): a new
	 * member, counted from zero; the old one's exit is not a negative
	 * delta */
	put_stat(root, 101, 100, 4, 2, 0, 0, 2000);
	cr_assert_eq(metrics_proc_tick(p, &s), 0);
	cr_assert_float_eq(s.cpu_user_s, 8.20 + 0.04, 1e-9);
	cr_assert_float_eq(s.cpu_system_s, 1.56 + 0.02, 1e-9);

	/* the root is gone: levels 0, totals kept */
	rm_proc(root, 100);
	cr_assert_eq(metrics_proc_tick(p, &s), ERR_NOTFOUND);
	cr_assert_eq(s.procs, 0);
	cr_assert_float_eq(s.cpu_user_s, 8.24, 1e-9);
	metrics_proc_free(p);
}

Test(proc, no_roots_and_missing_root)
{
	metrics_proc_t *p = metrics_proc_new(data("proc"));
	metrics_proc_stat_t s;
	cr_assert_eq(metrics_proc_tick(p, &s), ERR_NOTFOUND);
	pid_t r[2] = {99999, 200};
	metrics_proc_set_roots(p, r, 2);
	cr_assert_eq(metrics_proc_tick(p, &s), 0);
	cr_assert_eq(s.procs, 1, "the live root counts");
	metrics_proc_free(p);
}

Test(proc, own_process_is_readable)
{
	metrics_proc_t *p = metrics_proc_new(NULL);
	pid_t me = getpid();
	metrics_proc_set_roots(p, &me, 1);
	metrics_proc_stat_t s;
	cr_assert_eq(metrics_proc_tick(p, &s), 0);
	cr_assert_geq(s.procs, 1);
	cr_assert_gt(s.rss_bytes, 0);
	cr_assert_geq(s.fds, 3);
	cr_assert_eq(s.unreadable, 0);
	metrics_proc_free(p);
}

static cgroup_sys_t v2_sys(void)
{
	cgroup_sys_t s;
	memset(&s, 0, sizeof(s));
	snprintf(s.v2, sizeof(s.v2), "%s", data("cgroup/v2"));
	s.v2_has[CGROUP_CPU] = s.v2_has[CGROUP_CPUACCT] = true;
	s.v2_has[CGROUP_MEMORY] = s.v2_has[CGROUP_IO] = true;
	return s;
}

static cgroup_sys_t v1_sys(void)
{
	cgroup_sys_t s;
	memset(&s, 0, sizeof(s));
	snprintf(s.v1[CGROUP_CPU], CGROUP_PATH_MAX, "%s", data("cgroup/v1/cpu"));
	snprintf(s.v1[CGROUP_CPUACCT], CGROUP_PATH_MAX, "%s",
		 data("cgroup/v1/cpuacct"));
	snprintf(s.v1[CGROUP_MEMORY], CGROUP_PATH_MAX, "%s",
		 data("cgroup/v1/memory"));
	snprintf(s.v1[CGROUP_IO], CGROUP_PATH_MAX, "%s", data("cgroup/v1/blkio"));
	return s;
}

Test(cgroup_stat, v2)
{
	cgroup_sys_t sys = v2_sys();
	metrics_cg_t cg;
	cr_assert_eq(metrics_cg_open(&cg, &sys, "/umbra/shadow"), 0);
	metrics_cg_stat_t s;
	cr_assert_eq(metrics_cg_read(&cg, &s), 0);
	unsigned all = METRICS_CG_HAVE_CPU | METRICS_CG_HAVE_THROTTLE | METRICS_CG_HAVE_MEM |
		       METRICS_CG_HAVE_MEM_PEAK | METRICS_CG_HAVE_IO |
		       METRICS_CG_HAVE_PSI_CPU | METRICS_CG_HAVE_PSI_MEM |
		       METRICS_CG_HAVE_PSI_IO;
	cr_assert_eq(s.have, all, "have %#x", s.have);
	cr_assert_float_eq(s.cpu_s, 2.5, 1e-9);
	cr_assert_float_eq(s.cpu_user_s, 2.0, 1e-9);
	cr_assert_float_eq(s.cpu_system_s, 0.5, 1e-9);
	cr_assert_eq(s.nr_periods, 100);
	cr_assert_eq(s.nr_throttled, 25);
	cr_assert_float_eq(s.throttled_s, 0.4, 1e-9);
	cr_assert_eq(s.mem_current, 104857600);
	cr_assert_eq(s.mem_peak, 209715200);
	cr_assert_eq(s.io_read, 1048576 + 1024);
	cr_assert_eq(s.io_write, 2097152);
	cr_assert_eq(s.psi[0].some_us, 300000);
	cr_assert_eq(s.psi[0].full_us, 100000);
	cr_assert_eq(s.psi[1].some_us, 5000);
	cr_assert_eq(s.psi[2].full_us, 3000);
}

Test(cgroup_stat, v1)
{
	cgroup_sys_t sys = v1_sys();
	metrics_cg_t cg;
	cr_assert_eq(metrics_cg_open(&cg, &sys, "umbra/shadow"), 0);
	metrics_cg_stat_t s;
	cr_assert_eq(metrics_cg_read(&cg, &s), 0);
	cr_assert_eq(s.have, METRICS_CG_HAVE_CPU | METRICS_CG_HAVE_THROTTLE |
				     METRICS_CG_HAVE_MEM | METRICS_CG_HAVE_MEM_PEAK |
				     METRICS_CG_HAVE_IO,
		     "no PSI files in the v1 fixture: have %#x", s.have);
	cr_assert_float_eq(s.cpu_s, 3.0, 1e-9);
	cr_assert_float_eq(s.cpu_user_s, 2.5, 1e-9);
	cr_assert_float_eq(s.cpu_system_s, 0.5, 1e-9);
	cr_assert_eq(s.nr_periods, 200);
	cr_assert_eq(s.nr_throttled, 10);
	cr_assert_float_eq(s.throttled_s, 0.5, 1e-9);
	cr_assert_eq(s.mem_current, 52428800);
	cr_assert_eq(s.mem_peak, 73400320);
	cr_assert_eq(s.io_read, 4196);
	cr_assert_eq(s.io_write, 8192);
}

Test(cgroup_stat, by_pid_on_a_hybrid_host)
{
	cgroup_sys_t sys = v1_sys();
	metrics_cg_t cg;
	cr_assert_eq(metrics_cg_open_pid(&cg, &sys, 1,
					 data("cgroup/pid-hybrid")),
		     0);
	metrics_cg_stat_t s;
	cr_assert_eq(metrics_cg_read(&cg, &s), 0);
	/* cpu and memory are in /umbra/shadow; cpuacct at the fixture's
	 * root, which has no usage file */
	cr_assert_eq(s.have, METRICS_CG_HAVE_THROTTLE | METRICS_CG_HAVE_MEM |
				     METRICS_CG_HAVE_MEM_PEAK,
		     "have %#x", s.have);
	cr_assert_eq(s.mem_current, 52428800);
}

Test(cgroup_stat, missing_group)
{
	cgroup_sys_t sys = v2_sys();
	metrics_cg_t cg;
	cr_assert_eq(metrics_cg_open(&cg, &sys, "/nope"), ERR_NOTFOUND);
	cgroup_sys_t none;
	memset(&none, 0, sizeof(none));
	cr_assert_eq(metrics_cg_open(&cg, &none, "/umbra"), ERR_NOTFOUND);
}

Test(netdev, namespace_of_a_pid)
{
	metrics_netdev_t n;
	cr_assert_eq(metrics_netdev_read(data("proc"), 100, false, &n), 0);
	cr_assert_eq(n.rx_bytes, 60943161 + 1000);
	cr_assert_eq(n.tx_bytes, 56841 + 2000);
	cr_assert_lt(metrics_netdev_read(data("proc"), 101, false, &n), 0);
	/* the real one parses */
	cr_assert_eq(metrics_netdev_read(NULL, getpid(), true, &n), 0);
	cr_assert_geq(n.ifaces, 1);
}

/* A live process on the real /proc: its CPU time comes from its process
 * CPU clock, in nanoseconds, not from 10-ms ticks. The child burns about
 * 23 ms (not a whole number of ticks), says so, and blocks: the
 * collector's total is the clock's, and its resolution a nanosecond. */
Test(proc, live_cpu_is_read_in_nanoseconds)
{
	int ready[2], hold[2];
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	pid_t child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct timespec ts;
		volatile double x = 1;
		do {
			for (int i = 0; i < 10000; i++)
				x = x * 1.0000001 + 1e-9;
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
		} while (ts.tv_sec == 0 && ts.tv_nsec < 23000000);
		char c = 1, d;
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		(void)!read(hold[0], &d, 1);
		_exit(0);
	}
	char c;
	cr_assert_eq(read(ready[0], &c, 1), 1);
	metrics_proc_t *p = metrics_proc_new(NULL);
	metrics_proc_set_roots(p, &child, 1);
	metrics_proc_stat_t s;
	int rc = metrics_proc_tick(p, &s);
	clockid_t clk;
	struct timespec ts = {0};
	cr_assert_eq(clock_getcpuclockid(child, &clk), 0);
	cr_assert_eq(clock_gettime(clk, &ts), 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	metrics_proc_free(p);
	cr_assert_eq(rc, 0);
	double want = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
	double got = s.cpu_user_s + s.cpu_system_s;
	cr_assert_geq(want, 0.023, "the child burned %g s", want);
	/* the child may still be on its way into read() when read */
	cr_assert_float_eq(got, want, 1e-3, "collector %.9f, clock %.9f", got,
			   want);
	cr_assert_float_eq(s.cpu_res_s, 1e-9, 1e-15, "resolution %g",
			   s.cpu_res_s);
}
