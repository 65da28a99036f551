/*
 * storeload.c: drives the store (src/metrics/store.h) for the end-to-end
 * tests.
 *
 *   storeload run DB --rate N [--flush-ms M] [--series S]
 *       appends N points/s (over S series) until killed; each point's
 *       timestamp is CLOCK_MONOTONIC at the append and its value a global
 *       sequence number, so that after a kill -9 the test can check that
 *       what survived is a prefix and how old its newest point is.
 *       Prints "storeload: running" once the store is open, then
 *       "storeload: written N" each time the writer has committed more:
 *       the points of values 0 .. N-1 are in the database and survive a
 *       crash (appends are committed in order; an append refused at the
 *       memory bound is retried, so the values have no gaps). A test
 *       that kills it checks what was acknowledged, not how fast.
 *   storeload fill DB --service NAME --start UNIX_S --points N
 *       writes known series for `umbra export` tests: per side
 *       (production, shadow) metrics cpu (= i / 10, shadow doubled) and
 *       memory (= 1000 + i), one point per second from START; an
 *       endpoint series latency_p99 of "GET /a,b" (CSV quoting); then
 *       rolls up and exits.
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "metrics/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
	fprintf(stderr, "usage: storeload run DB --rate N [--flush-ms M] "
			"[--series S]\n"
			"       storeload fill DB --service NAME --start UNIX_S "
			"--points N\n");
	return 2;
}

static int run(const char *db, long rate, long flush_ms, long nseries)
{
	store_opts_t o = {.path = db,
			  .flush_interval_ns = flush_ms * NS_PER_MS,
			  .raw_retention_ns = 86400 * NS_PER_S,
			  .rollup_retention_ns = 86400 * NS_PER_S,
			  .memory_limit = 256u << 20};
	store_t *st;
	int rc = store_open(&o, &st);
	if (rc) {
		fprintf(stderr, "storeload: %s: %s\n", db, err_str(rc));
		return 1;
	}
	store_sid_t *sid = calloc((size_t)nseries, sizeof(*sid));
	for (long s = 0; s < nseries; s++) {
		char m[32];
		snprintf(m, sizeof(m), "m%ld", s);
		store_key_t k = {"load", "production", m, ""};
		store_series(st, &k, &sid[s]);
	}
	printf("storeload: running\n");
	fflush(stdout);
	/* paced in 1 ms steps: rate/1000 points each */
	int64_t start = clock_mono_ns();
	uint64_t seq = 0, acked = 0;
	for (;;) {
		store_stats_t ss;
		store_get_stats(st, &ss);
		if (ss.written != acked) {
			acked = ss.written;
			printf("storeload: written %llu\n",
			       (unsigned long long)acked);
			fflush(stdout);
		}
		int64_t now = clock_mono_ns();
		uint64_t due = (uint64_t)((double)(now - start) / 1e9 *
					  (double)rate);
		while (seq < due) {
			int64_t ts = clock_mono_ns();
			if (store_append(st, sid[seq % (uint64_t)nseries], ts,
					 (double)seq) == 0)
				seq++;
			else
				break; /* memory bound: retry next step */
		}
		struct timespec d = {0, 1000000};
		nanosleep(&d, NULL);
	}
	return 0;
}

static int fill(const char *db, const char *service, long start, long n)
{
	store_opts_t o = {.path = db,
			  .flush_interval_ns = 100 * NS_PER_MS,
			  .raw_retention_ns = 365 * 86400 * NS_PER_S,
			  .rollup_retention_ns = 365 * 86400 * NS_PER_S,
			  .memory_limit = 64u << 20};
	store_t *st;
	int rc = store_open(&o, &st);
	if (rc) {
		fprintf(stderr, "storeload: %s: %s\n", db, err_str(rc));
		return 1;
	}
	const char *sides[2] = {"production", "shadow"};
	for (int s = 0; s < 2; s++) {
		store_key_t kc = {service, sides[s], "cpu", ""};
		store_key_t km = {service, sides[s], "memory", ""};
		store_key_t kl = {service, sides[s], "latency_p99", "GET /a,b"};
		store_sid_t c, m, l;
		store_series(st, &kc, &c);
		store_series(st, &km, &m);
		store_series(st, &kl, &l);
		for (long i = 0; i < n; i++) {
			int64_t ts = ((int64_t)start + i) * NS_PER_S;
			store_append(st, c, ts, i / 10.0 * (s + 1));
			store_append(st, m, ts, 1000.0 + (double)i);
			store_append(st, l, ts, 0.25);
		}
	}
	rc = store_flush(st);
	if (!rc)
		rc = store_maintain(st, ((int64_t)start + n) * NS_PER_S);
	store_close(st);
	if (rc) {
		fprintf(stderr, "storeload: %s: %s\n", db, err_str(rc));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	log_setup(LOG_WARN, LOG_FMT_LOGFMT);
	long rate = 100000, flush_ms = 1000, nseries = 10, start = 0, n = 0;
	const char *service = "web";
	for (int i = 3; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--rate"))
			rate = atol(v);
		else if (!strcmp(k, "--flush-ms"))
			flush_ms = atol(v);
		else if (!strcmp(k, "--series"))
			nseries = atol(v);
		else if (!strcmp(k, "--service"))
			service = v;
		else if (!strcmp(k, "--start"))
			start = atol(v);
		else if (!strcmp(k, "--points"))
			n = atol(v);
		else
			return usage();
	}
	if (!strcmp(argv[1], "run") && rate > 0 && flush_ms > 0 && nseries > 0)
		return run(argv[2], rate, flush_ms, nseries);
	if (!strcmp(argv[1], "fill") && n > 0)
		return fill(argv[2], service, start, n);
	return usage();
}
