/*
 * collect.c: the cost of one collector tick (src/metrics/collect.h) over
 * a process tree of 100 processes, in CPU time of the collecting process
 * (CLOCK_PROCESS_CPUTIME_ID: user and kernel, so the /proc reads count),
 * against the anchor of reading only each member's /proc/PID/stat in the
 * same run; and the request aggregator's cost per record drained from a
 * ring. Medians of several ticks.
 *
 *   collect [PROCS]
 */
#include "base/clock.h"
#include "base/ring.h"
#include "metrics/agg.h"
#include "metrics/collect.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICKS 31

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	int procs = argc > 1 ? atoi(argv[1]) : 100;
	/* a root that forks procs-1 children, all asleep; a pipe reports
	 * their pids */
	int fds[2];
	if (pipe(fds))
		return 1;
	pid_t root = fork();
	if (root == 0) {
		close(fds[0]);
		for (int i = 0; i < procs - 1; i++) {
			pid_t c = fork();
			if (c == 0) {
				pause();
				_exit(0);
			}
			if (write(fds[1], &c, sizeof(c)) != sizeof(c))
				_exit(1);
		}
		close(fds[1]);
		pause();
		_exit(0);
	}
	close(fds[1]);
	pid_t *kids = calloc((size_t)procs, sizeof(pid_t));
	kids[0] = root;
	for (int i = 1; i < procs; i++)
		if (read(fds[0], &kids[i], sizeof(pid_t)) != sizeof(pid_t))
			return 1;
	close(fds[0]);

	metrics_proc_t *p = metrics_proc_new(NULL);
	metrics_proc_set_roots(p, &root, 1);
	metrics_proc_stat_t s;
	metrics_proc_tick(p, &s); /* warm: the tracker's first tick */
	double tick[TICKS], anchor[TICKS];
	for (int t = 0; t < TICKS; t++) {
		int64_t c0 = cpu_ns();
		metrics_proc_tick(p, &s);
		tick[t] = (double)(cpu_ns() - c0) / 1e6;
		c0 = cpu_ns();
		for (int i = 0; i < procs; i++) {
			char path[64], buf[1024];
			snprintf(path, sizeof(path), "/proc/%d/stat",
				 (int)kids[i]);
			int fd = open(path, O_RDONLY);
			if (fd >= 0) {
				if (read(fd, buf, sizeof(buf)) < 0)
					buf[0] = 0;
				close(fd);
			}
		}
		anchor[t] = (double)(cpu_ns() - c0) / 1e6;
	}
	int members = (int)s.procs;
	metrics_proc_free(p);
	kill(-root, SIGKILL);
	for (int i = 0; i < procs; i++)
		kill(kids[i], SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0 || waitpid(root, NULL, 0) > 0)
		;

	/* aggregator: records through a ring */
	metrics_agg_t *agg = metrics_agg_new(NULL, 100, 0);
	ring_t *r = ring_new(sizeof(reqrec_t), 65536);
	metrics_agg_add_ring(agg, r);
	double per_rec[7];
	for (int k = 0; k < 7; k++) {
		int64_t spent = 0;
		long n = 0;
		for (int round = 0; round < 16; round++) {
			for (int i = 0; i < 65536; i++) {
				reqrec_t x = {.side = (uint8_t)(i % 2),
					      .endpoint = (uint32_t)(i % 100),
					      .latency_us = (uint32_t)(100 + i % 50000),
					      .ttfb_us = 50,
					      .status = 200};
				ring_push(r, &x);
			}
			int64_t c0 = cpu_ns();
			n += (long)metrics_agg_drain(agg);
			spent += cpu_ns() - c0;
		}
		metrics_agg_tick(agg, (k + 1) * NS_PER_S);
		per_rec[k] = (double)spent / (double)n;
	}
	metrics_agg_free(agg);
	ring_free(r);

	printf("collector tick over a tree of %d processes (%d measured), "
	       "median of %d ticks\n",
	       procs, members, TICKS);
	printf("  %-40s %8.3f ms CPU   (target < 5)\n",
	       "one tick: stat+status+io+fd per member", median(tick, TICKS));
	printf("  %-40s %8.3f ms CPU\n", "anchor: read each member's stat",
	       median(anchor, TICKS));
	printf("  %-40s %8.2f\n", "ratio tick / anchor",
	       median(tick, TICKS) / median(anchor, TICKS));
	printf("request aggregator, median of 7 rounds of 1M records\n");
	printf("  %-40s %8.0f ns CPU per record\n", "ring drain + histograms",
	       median(per_rec, 7));
	return 0;
}
