/*
 * store.h: umbra's embedded store, one SQLite database in WAL mode at
 * store.path. It keeps the metric series (raw points, and 1-minute
 * rollups with min, max, mean and count), and the records the analysis,
 * mitigation and API produce: events, findings, actions, snapshots.
 *
 * Writes never wait on disk. store_append() and the record functions
 * copy into memory and return; a writer thread commits what has
 * accumulated every flush_interval / 2, in batched transactions, and a
 * checkpointer thread moves the WAL into the database (with the fsyncs)
 * off the commit path. A crash (kill -9) loses at most the points of the
 * last flush_interval while a write round takes under half of it, never
 * the database (WAL, synchronous=NORMAL: a committed transaction survives
 * a process crash). When writes fail (disk full, read-only file system),
 * the failure is logged loudly, points stay in memory up to memory_limit
 * and are written when the disk comes back; beyond the bound new points
 * are dropped and counted. Collection never stops for the store.
 *
 * Reads (queries, listings) use their own connection and see what is
 * committed; store_flush() waits until everything appended is.
 *
 * Retention: raw points for raw_retention, rollups (and events, findings,
 * actions) for rollup_retention; snapshots are kept. The writer rolls up
 * and expires once a minute (store_maintain() runs it on demand).
 *
 * Schema: versioned with PRAGMA user_version; store_open() migrates an
 * older database in one transaction per step and refuses a newer one.
 * docs/metrics.md describes the tables.
 */
#ifndef UMBRA_METRICS_STORE_H
#define UMBRA_METRICS_STORE_H

#include "config/config.h"
#include "metrics/expo.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 1
#define STORE_APP_ID 0x756d6272 /* "umbr": PRAGMA application_id */
#define STORE_MAX_SERIES 1000000 /* handles; a runaway label is bounded */
#define STORE_BATCH_MAX 65536    /* points per transaction: a long
				    backlog commits in steps */
#define STORE_TEXT_MAX 65536     /* bytes of one text field of a record */
#define STORE_ROLLUP_NS (60 * 1000000000LL) /* rollup width: 1 minute */
#define STORE_MAINTAIN_NS (60 * 1000000000LL) /* rollup + expiry period */
#define STORE_LOG_REPEAT_NS (60 * 1000000000LL) /* failing: re-log this
						    often */

typedef struct store store_t;
typedef uint32_t store_sid_t; /* series handle, dense from 0 */

typedef struct store_opts {
	const char *path;
	int64_t flush_interval_ns;
	int64_t raw_retention_ns, rollup_retention_ns;
	uint64_t memory_limit; /* bytes of points and records held */
	/* Readers only (umbra export): no writer, no schema change. */
	bool readonly;
	/* When the database cannot be opened at start, run anyway: keep
	 * points in memory and retry each flush. Otherwise store_open
	 * fails. */
	bool degraded_start;
	/* Rollup and expiry period; 0: STORE_MAINTAIN_NS. */
	int64_t maintain_interval_ns;
} store_opts_t;

/* Fills o from cfg's store section (path borrowed from cfg). */
void store_opts_from_config(store_opts_t *o, const config_t *cfg);

/* Opens (creating, migrating) the database and starts the writer.
 * Returns 0 and a new store; or -errno / ERR_CORRUPT (not an umbra
 * store) / ERR_UNSUPPORTED (schema newer than this build) and *out NULL.
 * With degraded_start, open errors other than those two are logged and
 * retried by the writer instead. */
int store_open(const store_opts_t *o, store_t **out);

/* Commits what it can (one attempt), stops the writer, closes. Points
 * that could not be written are counted and logged as lost. */
void store_close(store_t *st);

/* ------------------------------------------------------------ series */

typedef struct store_key {
	const char *service, *side, *metric;
	const char *endpoint; /* "" or NULL: the side as a whole */
} store_key_t;

/* The handle of a series, made on first use (in memory; the writer adds
 * it to the database with its first points). 0, ERR_INVAL (empty field,
 * readonly store), ERR_FULL past STORE_MAX_SERIES. */
int store_series(store_t *st, const store_key_t *key, store_sid_t *out);

/* Appends a point. Never blocks on disk. 0; ERR_FULL when the memory
 * bound is reached (the point is dropped and counted); ERR_INVAL for a
 * bad handle or a NaN value (nothing measured: not stored). */
int store_append(store_t *st, store_sid_t sid, int64_t ts_ns, double v);

/* Waits until every point and record appended before the call is
 * committed. 0, or the error of the write that failed (they stay in
 * memory). */
int store_flush(store_t *st);

/* Rolls up completed minutes before now_ns and expires what is past
 * retention as of now_ns, on the writer thread; waits. 0 or the error. */
int store_maintain(store_t *st, int64_t now_ns);

/* ------------------------------------------------------------ records */

/* Strings are copied; NULL reads as "". detail/evidence/manifest hold
 * JSON text (stored as given). ids: set by the add functions, unique and
 * increasing. */
typedef struct store_event {
	int64_t id;
	const char *service, *kind, *side, *text, *detail;
	int64_t start_ns, end_ns;
} store_event_t;

typedef struct store_finding {
	int64_t id, ts_ns;
	const char *service, *metric, *severity, *summary, *evidence;
} store_finding_t;

typedef struct store_action {
	int64_t id, ts_ns;
	const char *service, *kind, *reason, *outcome, *detail;
	int64_t finding_id; /* 0 = none */
	bool dry_run;
} store_action_t;

typedef struct store_snapshot {
	const char *id; /* content hash (hex) */
	const char *service, *manifest, *note;
	int64_t created_ns, good_ns; /* good_ns 0: not known-good */
} store_snapshot_t;

/* Queue a record for the writer. 0 with *id set (may be NULL); ERR_FULL
 * when the memory bound is reached (dropped, counted, and logged with its
 * content so that the audit trail keeps it); ERR_TOOBIG for a field over
 * STORE_TEXT_MAX; ERR_INVAL on a readonly store. */
int store_event_add(store_t *st, const store_event_t *ev, int64_t *id);
int store_finding_add(store_t *st, const store_finding_t *f, int64_t *id);
int store_action_add(store_t *st, const store_action_t *a, int64_t *id);
/* A snapshot is stored once per id (content-addressed; later puts of the
 * same id change nothing). */
int store_snapshot_put(store_t *st, const store_snapshot_t *s);
int store_snapshot_mark_good(store_t *st, const char *id, int64_t good_ns);

/* ------------------------------------------------------------ reads */

typedef enum store_res {
	STORE_RAW,    /* raw points */
	STORE_ROLLUP, /* 1-minute rollups */
	STORE_AUTO,   /* rollups where raw points have expired, then raw */
} store_res_t;

typedef struct store_point {
	int64_t ts_ns; /* raw: the point; rollup: the minute's start */
	double min, max, mean;
	uint64_t count; /* 1 for a raw point */
	bool rollup;
} store_point_t;

typedef struct store_series_info {
	int64_t id;
	const char *service, *side, *metric, *endpoint;
} store_series_info_t;

/* Callbacks return 0 to go on, non-zero to stop (that value is then
 * returned). Strings are valid during the call only. */
typedef int (*store_series_cb)(void *arg, const store_series_info_t *s);
typedef int (*store_point_cb)(void *arg, const store_point_t *p);
typedef int (*store_event_cb)(void *arg, const store_event_t *e);
typedef int (*store_finding_cb)(void *arg, const store_finding_t *f);
typedef int (*store_action_cb)(void *arg, const store_action_t *a);
typedef int (*store_snapshot_cb)(void *arg, const store_snapshot_t *s);

/* Series whose fields match the GLOB patterns of pat (SQLite GLOB: * ? [..];
 * NULL field = any), ordered by service, side, metric, endpoint. 0 or an
 * error. */
int store_series_find(store_t *st, const store_key_t *pat, store_series_cb cb,
		      void *arg);

/* Points of one series (exact key) with from <= ts <= to, in time order.
 * 0 (also when the series does not exist), or an error. */
int store_query(store_t *st, const store_key_t *key, int64_t from,
		int64_t to, store_res_t res, store_point_cb cb, void *arg);

/* Records of service ("" or NULL: all) in [from, to], in time order
 * (events: those overlapping the span). */
int store_events(store_t *st, const char *service, int64_t from, int64_t to,
		 store_event_cb cb, void *arg);
int store_findings(store_t *st, const char *service, int64_t from,
		   int64_t to, store_finding_cb cb, void *arg);
int store_actions(store_t *st, const char *service, int64_t from, int64_t to,
		  store_action_cb cb, void *arg);
/* Snapshots of service, newest first; id non-NULL: that one only. */
int store_snapshots(store_t *st, const char *service, const char *id,
		    store_snapshot_cb cb, void *arg);

/* ------------------------------------------------------------ health */

typedef struct store_stats {
	uint64_t appended;       /* points accepted */
	uint64_t written;        /* points committed */
	uint64_t dropped;        /* points dropped at the memory bound */
	uint64_t lost;           /* points unwritten at close */
	uint64_t records_written, records_dropped;
	uint64_t pending;        /* points in memory, not yet committed */
	uint64_t memory_bytes;   /* held for the writer */
	uint64_t batches, write_errors;
	uint64_t slow_batches;   /* took longer than flush_interval / 2 */
	uint64_t rollups, expired_points, expired_rollups;
	bool degraded;           /* the last write failed */
	int last_error;          /* 0 or the last write's error */
	uint64_t series;         /* handles */
} store_stats_t;

void store_get_stats(store_t *st, store_stats_t *out);

/* umbra_store_* families: points by result (written, dropped, lost),
 * records, pending points, memory, write errors, degraded, batches. */
void store_expose(metrics_expo_t *e, store_t *st, const char *service);

/* The schema, for tests: the SQL of migration to version v (1-based), or
 * NULL past the last. */
const char *store_migration_sql(int v);

#endif
