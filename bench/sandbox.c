/*
 * sandbox.c: what the proxy workers' seccomp filter (listen.sandbox,
 * src/proxy/sandbox.c) costs per system call. A thread makes the calls a
 * worker makes most (an eventfd write and read, a recv on an empty
 * non-blocking socket, as on EAGAIN), first unfiltered, then after
 * installing the worker's filter on itself; CPU time of the thread
 * (CLOCK_THREAD_CPUTIME_ID, so other processes on a shared host cost
 * nothing), median of RUNS rounds of CALLS calls each.
 *
 *   build/bench/sandbox [CALLS [RUNS]]    (defaults 200000, 21)
 *
 * Prints ns per call without and with the filter and the difference; the
 * proxy's overhead is that difference times its calls per request
 * (count them with strace -c -f on `umbra proxy` under load) over its
 * CPU time per request.
 */
#include "base/units.h"
#include "proxy/proxy_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long calls = 200000, runs = 21;

static int64_t cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median ns per call of `calls` syscalls (a third each of eventfd
 * write, eventfd read, recv EAGAIN). */
static double round_median(int efd, int sock)
{
	double *v = calloc((size_t)runs, sizeof(double));
	char b[16];
	for (long r = 0; r < runs; r++) {
		int64_t t0 = cpu_ns();
		for (long i = 0; i < calls / 3; i++) {
			uint64_t one = 1;
			(void)!write(efd, &one, sizeof(one));
			(void)!read(efd, &one, sizeof(one));
			(void)!recv(sock, b, sizeof(b), MSG_DONTWAIT);
		}
		v[r] = (double)(cpu_ns() - t0) / (double)(calls / 3 * 3);
	}
	qsort(v, (size_t)runs, sizeof(double), cmp);
	double m = v[runs / 2];
	free(v);
	return m;
}

static void *run(void *arg)
{
	(void)arg;
	int efd = eventfd(0, EFD_NONBLOCK);
	int sp[2];
	if (efd < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp)) {
		perror("setup");
		exit(1);
	}
	double off = round_median(efd, sp[0]);
	int rc = proxy__sandbox_enter();
	if (rc) {
		fprintf(stderr, "sandbox: cannot install the filter (%d)\n", rc);
		exit(1);
	}
	double on = round_median(efd, sp[0]);
	printf("| calls | unfiltered ns/call | filtered ns/call | "
	       "difference |\n| --- | --- | --- | --- |\n");
	printf("| %ld x %ld | %.1f | %.1f | %+.1f ns |\n", calls, runs, off,
	       on, on - off);
	return NULL;
}

int main(int argc, char **argv)
{
	int64_t c = calls, r = runs;
	if ((argc > 1 && units_parse_i64(argv[1], 3, 100000000, &c, NULL)) ||
	    (argc > 2 && units_parse_i64(argv[2], 1, 1001, &r, NULL))) {
		fprintf(stderr, "usage: sandbox [CALLS>=3 [RUNS 1..1001]]\n");
		return 2;
	}
	calls = (long)c;
	runs = (long)r;
	pthread_t t;
	pthread_create(&t, NULL, run, NULL);
	pthread_join(t, NULL);
	return 0;
}
