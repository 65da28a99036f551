/*
 * test_store.c: the SQLite store: schema and its checks, series handles,
 * points in and out, records, rollups and retention, reopening, read-only
 * use, and the failure paths (write and open faults through fault_sim,
 * the memory bound) with recovery.
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/fault.h"
#include "base/log.h"
#include "metrics/store.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_NS STORE_ROLLUP_NS
#define T0 (1700000000LL * NS_PER_S) /* a minute boundary: 1700000000 % 60 = 20 */

static char dir[64], db[128];

static void setup(void)
{
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
	snprintf(dir, sizeof(dir), "/tmp/umbra-store-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/a/b/umbra.db", dir);
	for (int i = 0; i < FAULT__COUNT; i++)
		fault_arm((fault_id_t)i, 0);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(store, .init = setup, .fini = teardown);

static store_t *open_store(int64_t flush_ms, uint64_t mem)
{
	store_opts_t o = {.path = db,
			  .flush_interval_ns = flush_ms * NS_PER_MS,
			  .raw_retention_ns = 3600 * NS_PER_S,
			  .rollup_retention_ns = 86400 * NS_PER_S,
			  .memory_limit = mem};
	store_t *st;
	int rc = store_open(&o, &st);
	cr_assert_eq(rc, 0, "store_open: %d", rc);
	return st;
}

static const store_key_t K_CPU = {"web", "shadow", "cpu", ""};

typedef struct got {
	store_point_t p[4096];
	size_t n;
} got_t;

static int collect(void *arg, const store_point_t *p)
{
	got_t *g = arg;
	if (g->n < 4096)
		g->p[g->n++] = *p;
	return 0;
}

static int64_t sql_int(const char *sql)
{
	sqlite3 *d;
	cr_assert_eq(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL),
		     SQLITE_OK);
	sqlite3_stmt *q;
	cr_assert_eq(sqlite3_prepare_v2(d, sql, -1, &q, NULL), SQLITE_OK, "%s",
		     sql);
	cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(d);
	return v;
}

static const char *sql_text(const char *sql, char *out, size_t cap)
{
	sqlite3 *d;
	cr_assert_eq(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL),
		     SQLITE_OK);
	sqlite3_stmt *q;
	cr_assert_eq(sqlite3_prepare_v2(d, sql, -1, &q, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
	snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(d);
	return out;
}

Test(store, schema_wal_and_points_round_trip)
{
	store_t *st = open_store(100, 1 << 20);
	store_sid_t a, b, a2;
	cr_assert_eq(store_series(st, &K_CPU, &a), 0);
	store_key_t kb = {"web", "shadow", "cpu", "GET /x"};
	cr_assert_eq(store_series(st, &kb, &b), 0);
	cr_assert_eq(store_series(st, &K_CPU, &a2), 0);
	cr_assert_eq(a, a2);
	cr_assert_neq(a, b);
	store_key_t bad = {"web", "", "cpu", NULL};
	cr_assert_eq(store_series(st, &bad, &a2), ERR_INVAL);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(store_append(st, a, T0 + i * NS_PER_S, i * 0.5), 0);
		cr_assert_eq(store_append(st, b, T0 + i * NS_PER_S, -i), 0);
	}
	cr_assert_eq(store_append(st, a, T0, NAN), ERR_INVAL);
	cr_assert_eq(store_append(st, 99, T0, 1), ERR_INVAL);
	cr_assert_eq(store_flush(st), 0);

	got_t g = {0};
	cr_assert_eq(store_query(st, &K_CPU, T0 + 10 * NS_PER_S,
				 T0 + 19 * NS_PER_S, STORE_RAW, collect, &g),
		     0);
	cr_assert_eq(g.n, 10);
	cr_assert_eq(g.p[0].ts_ns, T0 + 10 * NS_PER_S);
	cr_assert_float_eq(g.p[9].mean, 9.5, 0);
	cr_assert_eq(g.p[9].count, 1);
	store_key_t none = {"web", "shadow", "nope", ""};
	g.n = 0;
	cr_assert_eq(store_query(st, &none, 0, INT64_MAX, STORE_AUTO, collect,
				 &g),
		     0);
	cr_assert_eq(g.n, 0);

	store_stats_t s;
	store_get_stats(st, &s);
	cr_assert_eq(s.appended, 200);
	cr_assert_eq(s.written, 200);
	cr_assert_eq(s.pending, 0);
	cr_assert_eq(s.series, 2);
	cr_assert_not(s.degraded);
	store_close(st);

	char t[32];
	cr_assert_str_eq(sql_text("PRAGMA journal_mode", t, sizeof(t)), "wal");
	cr_assert_eq(sql_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(sql_int("PRAGMA application_id"), STORE_APP_ID);
	cr_assert_eq(sql_int("SELECT count(*) FROM points"), 200);
	cr_assert_eq(sql_int("SELECT count(*) FROM series"), 2);
}

Test(store, reopen_keeps_series_and_points)
{
	store_t *st = open_store(50, 1 << 20);
	store_sid_t a;
	store_series(st, &K_CPU, &a);
	store_append(st, a, T0, 1);
	cr_assert_eq(store_flush(st), 0);
	store_close(st);
	st = open_store(50, 1 << 20);
	cr_assert_eq(store_series(st, &K_CPU, &a), 0);
	store_append(st, a, T0 + NS_PER_S, 2);
	store_append(st, a, T0, 3); /* same timestamp: replaces */
	cr_assert_eq(store_flush(st), 0);
	got_t g = {0};
	store_query(st, &K_CPU, 0, INT64_MAX, STORE_RAW, collect, &g);
	cr_assert_eq(g.n, 2);
	cr_assert_float_eq(g.p[0].mean, 3, 0);
	store_close(st);
	cr_assert_eq(sql_int("SELECT count(*) FROM series"), 1);
}

static int count_series(void *arg, const store_series_info_t *s)
{
	(*(int *)arg)++;
	cr_assert_str_eq(s->service, "web");
	return 0;
}

Test(store, series_find_by_glob)
{
	store_t *st = open_store(50, 1 << 20);
	const char *metrics[] = {"cpu", "memory", "latency_p99"};
	for (int side = 0; side < 2; side++)
		for (int m = 0; m < 3; m++) {
			store_key_t k = {"web", side ? "shadow" : "production",
					 metrics[m], ""};
			store_sid_t sid;
			store_series(st, &k, &sid);
			store_append(st, sid, T0, 1);
		}
	cr_assert_eq(store_flush(st), 0);
	int n = 0;
	store_key_t pat = {NULL, "shadow", "*", NULL};
	cr_assert_eq(store_series_find(st, &pat, count_series, &n), 0);
	cr_assert_eq(n, 3);
	n = 0;
	store_key_t lat = {"w*", NULL, "latency_*", NULL};
	store_series_find(st, &lat, count_series, &n);
	cr_assert_eq(n, 2);
	n = 0;
	store_series_find(st, NULL, count_series, &n);
	cr_assert_eq(n, 6);
	store_close(st);
}

static int ev_cb(void *arg, const store_event_t *e)
{
	store_event_t *out = arg;
	out->id = e->id;
	cr_assert_str_eq(e->kind, "deploy");
	cr_assert_str_eq(e->detail, "{\"version\":\"1.2\"}");
	cr_assert_eq(e->end_ns, T0 + 60 * NS_PER_S);
	return 0;
}
static int fi_cb(void *arg, const store_finding_t *f)
{
	(*(int *)arg)++;
	cr_assert_str_eq(f->severity, "critical");
	cr_assert_str_eq(f->evidence, "{}");
	return 0;
}
static int ac_cb(void *arg, const store_action_t *a)
{
	store_action_t *out = arg;
	*out = *a;
	out->kind = out->reason = out->outcome = out->detail = NULL;
	out->service = NULL;
	cr_assert_str_eq(a->kind, "rollback");
	return 0;
}
static int sn_cb(void *arg, const store_snapshot_t *s)
{
	int64_t *good = arg;
	*good = s->good_ns;
	cr_assert_str_eq(s->manifest, "{\"files\":[]}");
	return 0;
}

Test(store, records_round_trip)
{
	store_t *st = open_store(50, 1 << 20);
	store_event_t ev = {.service = "web", .kind = "deploy", .side =
			    "production", .text = "v1.2", .detail =
			    "{\"version\":\"1.2\"}", .start_ns = T0,
			    .end_ns = T0 + 60 * NS_PER_S};
	int64_t eid, fid, fid2, aid;
	cr_assert_eq(store_event_add(st, &ev, &eid), 0);
	store_finding_t f = {.ts_ns = T0 + NS_PER_S, .service = "web",
			     .metric = "cpu", .severity = "critical",
			     .summary = "cpu +40%"};
	cr_assert_eq(store_finding_add(st, &f, &fid), 0);
	cr_assert_eq(store_finding_add(st, &f, &fid2), 0);
	cr_assert_gt(fid2, fid, "ids increase");
	store_action_t a = {.ts_ns = T0 + 2 * NS_PER_S, .service = "web",
			    .kind = "rollback", .reason = "cpu finding",
			    .finding_id = fid, .dry_run = true};
	cr_assert_eq(store_action_add(st, &a, &aid), 0);
	store_snapshot_t sn = {.id = "ab12", .service = "web",
			       .manifest = "{\"files\":[]}", .created_ns = T0};
	cr_assert_eq(store_snapshot_put(st, &sn), 0);
	sn.note = "again";
	cr_assert_eq(store_snapshot_put(st, &sn), 0);
	cr_assert_eq(store_snapshot_mark_good(st, "ab12", T0 + 600), 0);
	cr_assert_eq(store_flush(st), 0);

	store_event_t got = {0};
	cr_assert_eq(store_events(st, "web", T0 + 30 * NS_PER_S,
				  T0 + 90 * NS_PER_S, ev_cb, &got),
		     0);
	cr_assert_eq(got.id, eid, "an event overlapping the span");
	int nf = 0;
	store_findings(st, "", T0, T0 + 10 * NS_PER_S, fi_cb, &nf);
	cr_assert_eq(nf, 2);
	store_action_t ga = {0};
	store_actions(st, "web", T0, T0 + 10 * NS_PER_S, ac_cb, &ga);
	cr_assert_eq(ga.id, aid);
	cr_assert_eq(ga.finding_id, fid);
	cr_assert(ga.dry_run);
	int64_t good = 0;
	store_snapshots(st, "web", "ab12", sn_cb, &good);
	cr_assert_eq(good, T0 + 600);
	store_close(st);
	cr_assert_eq(sql_int("SELECT count(*) FROM snapshots"), 1);
	char t[32];
	cr_assert_str_eq(sql_text("SELECT note FROM snapshots", t, sizeof(t)),
			 "", "content-addressed: stored once");
	/* ids go on after a restart */
	st = open_store(50, 1 << 20);
	int64_t next;
	cr_assert_eq(store_finding_add(st, &f, &next), 0);
	cr_assert_gt(next, fid2);
	store_close(st);
}

Test(store, rollups_retention_and_auto)
{
	store_t *st = open_store(50, 1 << 20);
	store_sid_t a;
	store_series(st, &K_CPU, &a);
	int64_t m0 = T0 - 20 * NS_PER_S; /* 1699999980 s: a minute start */
	/* three minutes, 6 points each: minute k holds k*10 + 0..5 */
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 6; i++)
			store_append(st, a, m0 + k * MIN_NS + i * 10 * NS_PER_S,
				     k * 10 + i);
	cr_assert_eq(store_flush(st), 0);
	/* now in minute 2: minutes 0 and 1 are complete */
	cr_assert_eq(store_maintain(st, m0 + 2 * MIN_NS + 5 * NS_PER_S), 0);
	got_t g = {0};
	store_query(st, &K_CPU, 0, INT64_MAX, STORE_ROLLUP, collect, &g);
	cr_assert_eq(g.n, 2);
	cr_assert_eq(g.p[1].ts_ns, m0 + MIN_NS);
	cr_assert_float_eq(g.p[1].min, 10, 0);
	cr_assert_float_eq(g.p[1].max, 15, 0);
	cr_assert_float_eq(g.p[1].mean, 12.5, 1e-12);
	cr_assert_eq(g.p[1].count, 6);
	cr_assert(g.p[1].rollup);

	/* a late point in minute 0 is rolled up again */
	store_append(st, a, m0 + 59 * NS_PER_S, 100);
	cr_assert_eq(store_flush(st), 0);
	/* an hour and 3.5 minutes later: minute 2 is rolled up, raw points
	 * older than the raw retention (1 h) are gone */
	int64_t later = m0 + 63 * MIN_NS + 30 * NS_PER_S;
	cr_assert_eq(store_maintain(st, later), 0);
	g.n = 0;
	store_query(st, &K_CPU, 0, INT64_MAX, STORE_ROLLUP, collect, &g);
	cr_assert_eq(g.n, 3);
	cr_assert_float_eq(g.p[0].max, 100, 0);
	cr_assert_eq(g.p[0].count, 7);
	g.n = 0;
	store_query(st, &K_CPU, 0, INT64_MAX, STORE_RAW, collect, &g);
	cr_assert_eq(g.n, 0, "raw points expired");
	store_stats_t s;
	store_get_stats(st, &s);
	cr_assert_eq(s.expired_points, 19);

	/* AUTO: rollups where raw is gone, raw after */
	store_append(st, a, later, 7);
	cr_assert_eq(store_flush(st), 0);
	g.n = 0;
	store_query(st, &K_CPU, 0, INT64_MAX, STORE_AUTO, collect, &g);
	cr_assert_eq(g.n, 4);
	cr_assert(g.p[2].rollup);
	cr_assert_not(g.p[3].rollup);
	cr_assert_float_eq(g.p[3].mean, 7, 0);

	/* past the rollup retention (1 day): rollups go too */
	cr_assert_eq(store_maintain(st, later + 2 * 86400 * NS_PER_S), 0);
	g.n = 0;
	store_query(st, &K_CPU, 0, INT64_MAX, STORE_AUTO, collect, &g);
	cr_assert_eq(g.n, 0);
	store_close(st);
}

Test(store, write_fault_keeps_points_then_recovers)
{
	store_t *st = open_store(20, 1 << 20);
	store_sid_t a;
	store_series(st, &K_CPU, &a);
	store_append(st, a, T0, 1);
	cr_assert_eq(store_flush(st), 0);
	fault_arm(FAULT_STORE_WRITE, -ENOSPC);
	for (int i = 1; i <= 1000; i++)
		cr_assert_eq(store_append(st, a, T0 + i, i), 0,
			     "collection goes on");
	store_event_t ev = {.service = "web", .kind = "note", .start_ns = T0,
			    .end_ns = T0};
	cr_assert_eq(store_event_add(st, &ev, NULL), 0);
	cr_assert_eq(store_flush(st), -ENOSPC);
	store_stats_t s;
	store_get_stats(st, &s);
	cr_assert(s.degraded);
	cr_assert_eq(s.last_error, -ENOSPC);
	cr_assert_eq(s.pending, 1000);
	cr_assert_eq(s.written, 1);
	cr_assert_geq(s.write_errors, 1);
	cr_assert_eq(s.dropped, 0);
	fault_arm(FAULT_STORE_WRITE, 0);
	cr_assert_eq(store_flush(st), 0);
	store_get_stats(st, &s);
	cr_assert_not(s.degraded);
	cr_assert_eq(s.written, 1001);
	cr_assert_eq(s.pending, 0);
	cr_assert_eq(s.records_written, 1);
	store_close(st);
	cr_assert_eq(sql_int("SELECT count(*) FROM points"), 1001);
	cr_assert_eq(sql_int("SELECT count(*) FROM events"), 1);
}

Test(store, memory_bound_drops_and_counts)
{
	/* room for ~1000 points of 24 bytes */
	store_t *st = open_store(20, 24000);
	store_sid_t a;
	store_series(st, &K_CPU, &a);
	fault_arm(FAULT_STORE_WRITE, -EROFS);
	int ok = 0, full = 0;
	for (int i = 0; i < 3000; i++) {
		int rc = store_append(st, a, T0 + i, i);
		ok += rc == 0;
		full += rc == ERR_FULL;
	}
	cr_assert_eq(ok + full, 3000);
	cr_assert_leq(ok, 1000);
	cr_assert_geq(ok, 990);
	store_event_t ev = {.service = "web", .kind = "note", .start_ns = T0,
			    .end_ns = T0};
	cr_assert_eq(store_event_add(st, &ev, NULL), ERR_FULL);
	store_stats_t s;
	store_get_stats(st, &s);
	cr_assert_eq(s.dropped, (uint64_t)full);
	cr_assert_eq(s.records_dropped, 1);
	cr_assert_leq(s.memory_bytes, 24000);
	fault_arm(FAULT_STORE_WRITE, 0);
	cr_assert_eq(store_flush(st), 0);
	store_get_stats(st, &s);
	cr_assert_eq(s.written, (uint64_t)ok, "every kept point is written");
	cr_assert_eq(store_append(st, a, T0 + 5000, 1), 0, "room again");
	store_close(st);
}

Test(store, open_fault_and_degraded_start)
{
	fault_arm(FAULT_STORE_OPEN, -EROFS);
	store_opts_t o = {.path = db, .flush_interval_ns = 20 * NS_PER_MS,
			  .memory_limit = 1 << 20};
	store_t *st;
	cr_assert_eq(store_open(&o, &st), -EROFS);
	cr_assert_null(st);
	o.degraded_start = true;
	cr_assert_eq(store_open(&o, &st), 0);
	store_sid_t a;
	cr_assert_eq(store_series(st, &K_CPU, &a), 0);
	cr_assert_eq(store_append(st, a, T0, 5), 0);
	cr_assert_eq(store_flush(st), -EROFS);
	fault_arm(FAULT_STORE_OPEN, 0);
	cr_assert_eq(store_flush(st), 0, "opened on retry, points written");
	got_t g = {0};
	store_query(st, &K_CPU, 0, INT64_MAX, STORE_RAW, collect, &g);
	cr_assert_eq(g.n, 1);
	store_close(st);
}

Test(store, refuses_foreign_and_newer_databases)
{
	store_t *st = open_store(50, 1 << 20);
	store_close(st);
	sqlite3 *d;
	cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(d, "PRAGMA user_version=99", 0, 0, 0),
		     SQLITE_OK);
	sqlite3_close(d);
	store_opts_t o = {.path = db, .degraded_start = true};
	cr_assert_eq(store_open(&o, &st), ERR_UNSUPPORTED,
		     "never degraded: a newer schema is a hard error");
	o.readonly = true;
	cr_assert_eq(store_open(&o, &st), ERR_UNSUPPORTED);

	char other[160];
	snprintf(other, sizeof(other), "%s/other.db", dir);
	cr_assert_eq(sqlite3_open(other, &d), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(d, "CREATE TABLE t(x)", 0, 0, 0), SQLITE_OK);
	sqlite3_close(d);
	cr_assert_eq(chmod(other, 0600), 0);
	store_opts_t o2 = {.path = other};
	cr_assert_eq(store_open(&o2, &st), ERR_CORRUPT);
	snprintf(other, sizeof(other), "%s/missing.db", dir);
	store_opts_t o3 = {.path = other, .readonly = true};
	cr_assert_lt(store_open(&o3, &st), 0);
}

Test(store, files_are_private_and_an_open_store_is_refused)
{
	store_t *st = open_store(50, 1 << 20);
	store_sid_t a;
	store_series(st, &K_CPU, &a);
	store_append(st, a, T0, 1);
	store_close(st);
	struct stat sb;
	cr_assert_eq(stat(db, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600, "store mode %o",
		     sb.st_mode & 0777);
	char side[200];
	snprintf(side, sizeof(side), "%s-wal", db);
	if (stat(side, &sb) == 0)
		cr_assert_eq(sb.st_mode & 0777, 0600, "wal mode %o",
			     sb.st_mode & 0777);
	cr_assert_eq(chmod(db, 0644), 0);
	store_opts_t o = {.path = db, .degraded_start = true};
	cr_assert_eq(store_open(&o, &st), ERR_INSECURE,
		     "never degraded: a readable store is refused");
	cr_assert_eq(chmod(db, 0600), 0);
	int fd = open(side, O_WRONLY | O_CREAT, 0640);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(chmod(side, 0640), 0);
	cr_assert_eq(store_open(&o, &st), ERR_INSECURE, "a readable WAL");
}

Test(store, migrates_a_version_zero_database)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/a/b", dir);
	cr_assert_eq(system(cmd), 0);
	sqlite3 *d;
	cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
	sqlite3_close(d); /* an empty file: version 0 */
	cr_assert_eq(chmod(db, 0600), 0);
	store_t *st = open_store(50, 1 << 20);
	store_close(st);
	cr_assert_eq(sql_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(sql_int("SELECT count(*) FROM sqlite_master WHERE "
			     "type = 'table'"),
		     8);
	cr_assert_not_null(store_migration_sql(1));
	cr_assert_null(store_migration_sql(STORE_SCHEMA_VERSION + 1));
}

Test(store, readonly_reads_and_refuses_writes)
{
	store_t *st = open_store(50, 1 << 20);
	store_sid_t a;
	store_series(st, &K_CPU, &a);
	store_append(st, a, T0, 1);
	store_close(st);
	store_opts_t o = {.path = db, .readonly = true};
	cr_assert_eq(store_open(&o, &st), 0);
	got_t g = {0};
	cr_assert_eq(store_query(st, &K_CPU, 0, INT64_MAX, STORE_AUTO, collect,
				 &g),
		     0);
	cr_assert_eq(g.n, 1, "close committed the last point");
	cr_assert_eq(store_series(st, &K_CPU, &a), ERR_INVAL);
	cr_assert_eq(store_append(st, 0, T0, 1), ERR_INVAL);
	cr_assert_eq(store_flush(st), ERR_BADSTATE);
	store_event_t ev = {0};
	cr_assert_eq(store_event_add(st, &ev, NULL), ERR_INVAL);
	store_close(st);
}

Test(store, many_points_while_the_writer_runs)
{
	store_t *st = open_store(10, 64 << 20);
	store_sid_t sid[50];
	for (int s = 0; s < 50; s++) {
		char m[16];
		snprintf(m, sizeof(m), "m%d", s);
		store_key_t k = {"web", "production", m, ""};
		cr_assert_eq(store_series(st, &k, &sid[s]), 0);
	}
	for (int i = 0; i < 4000; i++)
		for (int s = 0; s < 50; s++)
			cr_assert_eq(store_append(st, sid[s], T0 + i, i), 0);
	cr_assert_eq(store_flush(st), 0);
	store_stats_t s;
	store_get_stats(st, &s);
	cr_assert_eq(s.written, 200000);
	cr_assert_geq(s.batches, 4, "in batches of at most %d", STORE_BATCH_MAX);
	store_close(st);
	cr_assert_eq(sql_int("SELECT count(*) FROM points"), 200000);
}
