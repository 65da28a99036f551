/*
 * store.c: store ingest throughput (src/metrics/store.h), against raw
 * SQLite in the same run as the anchor.
 *
 *   store      N points over S series appended as fast as the caller can,
 *              then store_flush(): points per wall second, and per CPU
 *              second of the process (caller + writer thread together:
 *              "on one core")
 *   append     the caller's cost per store_append (what a tick pays)
 *   anchor     the same rows inserted into the same table by one thread,
 *              one prepared statement, STORE_BATCH_MAX rows per
 *              transaction, WAL + synchronous=NORMAL: what SQLite itself
 *              does on this disk
 *
 * Each figure is the median of RUNS runs, each on a fresh database.
 *
 *   store [DIR] [POINTS] [SERIES]
 */
#include "base/clock.h"
#include "base/log.h"
#include "metrics/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUNS 3

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

static void rm_db(const char *path)
{
	char p[600];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

/* One run of the store; fills wall/cpu throughput and append cost. */
static void run_store(const char *path, long n, long ns, double *wall_pps,
		      double *cpu_pps, double *append_ns)
{
	rm_db(path);
	store_opts_t o = {.path = path,
			  .flush_interval_ns = NS_PER_S,
			  .raw_retention_ns = 86400 * NS_PER_S,
			  .rollup_retention_ns = 86400 * NS_PER_S,
			  .memory_limit = 1u << 30};
	store_t *st;
	if (store_open(&o, &st)) {
		fprintf(stderr, "store: cannot open %s\n", path);
		exit(1);
	}
	store_sid_t *sid = malloc(sizeof(*sid) * (size_t)ns);
	for (long s = 0; s < ns; s++) {
		char m[32];
		snprintf(m, sizeof(m), "metric%ld", s);
		store_key_t k = {"bench", s % 2 ? "shadow" : "production", m, ""};
		store_series(st, &k, &sid[s]);
	}
	int64_t ts0 = 1764216000LL * NS_PER_S;
	int64_t w0 = clock_mono_ns(), c0 = cpu_ns();
	for (long i = 0; i < n; i++)
		store_append(st, sid[i % ns], ts0 + (i / ns) * NS_PER_S,
			     (double)i);
	int64_t w1 = clock_mono_ns();
	if (store_flush(st)) {
		fprintf(stderr, "store: flush failed\n");
		exit(1);
	}
	int64_t w2 = clock_mono_ns(), c2 = cpu_ns();
	*wall_pps = (double)n / ((double)(w2 - w0) / 1e9);
	*cpu_pps = (double)n / ((double)(c2 - c0) / 1e9);
	*append_ns = (double)(w1 - w0) / (double)n;
	store_close(st);
	free(sid);
}

static double run_anchor(const char *path, long n, long ns, double *wall)
{
	rm_db(path);
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
		     0, 0, 0);
	sqlite3_exec(db, store_migration_sql(1), 0, 0, 0);
	sqlite3_stmt *q;
	sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO points(series, ts, value)"
			       " VALUES(?1, ?2, ?3)",
			   -1, &q, NULL);
	int64_t ts0 = 1764216000LL * NS_PER_S;
	int64_t c0 = cpu_ns(), w0 = clock_mono_ns();
	for (long i = 0; i < n;) {
		sqlite3_exec(db, "BEGIN", 0, 0, 0);
		for (long k = 0; k < STORE_BATCH_MAX && i < n; k++, i++) {
			sqlite3_bind_int64(q, 1, i % ns + 1);
			sqlite3_bind_int64(q, 2, ts0 + (i / ns) * NS_PER_S);
			sqlite3_bind_double(q, 3, (double)i);
			sqlite3_step(q);
			sqlite3_reset(q);
		}
		sqlite3_exec(db, "COMMIT", 0, 0, 0);
	}
	int64_t c1 = cpu_ns();
	*wall = (double)n / ((double)(clock_mono_ns() - w0) / 1e9);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return (double)n / ((double)(c1 - c0) / 1e9);
}

int main(int argc, char **argv)
{
	log_setup(LOG_WARN, LOG_FMT_LOGFMT);
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	long n = argc > 2 ? atol(argv[2]) : 2000000;
	long ns = argc > 3 ? atol(argv[3]) : 200;
	char path[512];
	snprintf(path, sizeof(path), "%s/umbra-bench-store-%d.db", dir,
		 (int)getpid());
	double wall[RUNS], cpu[RUNS], app[RUNS], anchor[RUNS], ratio[RUNS];
	double awall[RUNS];
	for (int r = 0; r < RUNS; r++) {
		run_store(path, n, ns, &wall[r], &cpu[r], &app[r]);
		anchor[r] = run_anchor(path, n, ns, &awall[r]);
		ratio[r] = cpu[r] / anchor[r];
	}
	rm_db(path);
	printf("store ingest, %ld points over %ld series, median of %d runs\n",
	       n, ns, RUNS);
	printf("  %-34s %12.0f points/s\n", "store, per wall second",
	       median(wall, RUNS));
	printf("  %-34s %12.0f points/s   (target >= 500000)\n",
	       "store, per CPU second (one core)", median(cpu, RUNS));
	printf("  %-34s %12.0f points/s\n", "anchor: raw SQLite, per CPU second",
	       median(anchor, RUNS));
	printf("  %-34s %12.0f points/s\n", "anchor: raw SQLite, per wall second",
	       median(awall, RUNS));
	printf("  %-34s %12.2f\n", "ratio store / anchor (CPU)",
	       median(ratio, RUNS));
	printf("  %-34s %12.0f ns\n", "caller's cost per store_append",
	       median(app, RUNS));
	return 0;
}
