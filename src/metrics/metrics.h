/*
 * metrics.h: what the analysis sees of each side, one tick at a time. The
 * catalogue of metrics (name, unit, Prometheus name, meaning), the sample
 * of one side at one tick, per-request normalisation (DESIGN.md), and the
 * metric source interface with its two implementations:
 *
 *   local       collectors over /proc and the cgroup trees (collect.h)
 *               plus the proxy's request records (agg.h)
 *   prometheus  one PromQL query per metric and side over the HTTP API,
 *               for services umbra does not run locally
 *
 * The daemon's tick is: metrics_agg_drain + metrics_agg_tick (requests),
 * then metrics_src_sample() for each side, then the points go to the
 * store (store.h) and the in-memory windows (series.h), and the
 * exposition (expo.h) shows the last samples. Everything here runs on the
 * control thread; nothing blocks the proxy.
 */
#ifndef UMBRA_METRICS_METRICS_H
#define UMBRA_METRICS_METRICS_H

#include "base/cgroup.h"
#include "base/reqrec.h"
#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Sides, indexed by reqrec_side_t: production, shadow, baseline. */
#define METRICS_SIDES 3

/* X(ID, name, unit, kind, prometheus name, doc).
 * kind: LOAD metrics grow with traffic and have a per-request version;
 * LEVEL metrics are compared as they are; PERREQ are derived (load / rps).
 * Names of the metrics the analysis compares match config.h's
 * CONFIG_METRICS (cpu, memory, ..., diff_rate). */
#define METRICS_MAP(X)                                                     \
	X(CPU, "cpu", "cores", LOAD, "umbra_cpu_cores",                    \
	  "CPU used (user + system), in cores")                            \
	X(CPU_USER, "cpu_user", "cores", LOAD, "umbra_cpu_user_cores",     \
	  "CPU used in user mode, in cores")                               \
	X(CPU_SYSTEM, "cpu_system", "cores", LOAD,                         \
	  "umbra_cpu_system_cores", "CPU used in the kernel, in cores")    \
	X(MEMORY, "memory", "bytes", LEVEL, "umbra_memory_bytes",          \
	  "resident memory (RSS summed over the process tree)")            \
	X(DISK_READ, "disk_read", "B/s", LOAD,                             \
	  "umbra_disk_read_bytes_per_second",                              \
	  "bytes read from storage per second")                            \
	X(DISK_WRITE, "disk_write", "B/s", LOAD,                           \
	  "umbra_disk_write_bytes_per_second",                             \
	  "bytes written to storage per second")                           \
	X(NET_RX, "net_rx", "B/s", LOAD, "umbra_net_rx_bytes_per_second",  \
	  "bytes received per second (namespace, else proxy requests)")    \
	X(NET_TX, "net_tx", "B/s", LOAD, "umbra_net_tx_bytes_per_second",  \
	  "bytes sent per second (namespace, else proxy responses)")       \
	X(PROCS, "procs", "", LEVEL, "umbra_processes",                    \
	  "processes in the tree")                                         \
	X(THREADS, "threads", "", LEVEL, "umbra_threads",                  \
	  "threads in the tree")                                           \
	X(FDS, "fds", "", LEVEL, "umbra_open_fds",                         \
	  "open file descriptors in the tree")                             \
	X(CTX_SWITCHES, "ctx_switches", "1/s", LOAD,                       \
	  "umbra_context_switches_per_second",                             \
	  "context switches (voluntary + involuntary) per second")         \
	X(CG_CPU, "cg_cpu", "cores", LOAD, "umbra_cgroup_cpu_cores",       \
	  "CPU used by the cgroup, in cores")                              \
	X(CG_THROTTLED, "cg_throttled", "ratio", LEVEL,                    \
	  "umbra_cgroup_throttled_periods_ratio",                          \
	  "share of CFS periods in which the cgroup was throttled")        \
	X(CG_THROTTLED_TIME, "cg_throttled_time", "ratio", LEVEL,          \
	  "umbra_cgroup_throttled_time_ratio",                             \
	  "seconds throttled per second of wall time")                     \
	X(CG_MEMORY, "cg_memory", "bytes", LEVEL,                          \
	  "umbra_cgroup_memory_bytes",                                     \
	  "cgroup memory in use (page cache included)")                    \
	X(CG_MEMORY_PEAK, "cg_memory_peak", "bytes", LEVEL,                \
	  "umbra_cgroup_memory_peak_bytes", "cgroup memory high-water mark") \
	X(CG_IO_READ, "cg_io_read", "B/s", LOAD,                           \
	  "umbra_cgroup_io_read_bytes_per_second",                         \
	  "cgroup block I/O read per second")                              \
	X(CG_IO_WRITE, "cg_io_write", "B/s", LOAD,                         \
	  "umbra_cgroup_io_write_bytes_per_second",                        \
	  "cgroup block I/O written per second")                           \
	X(PSI_CPU_SOME, "psi_cpu_some", "ratio", LEVEL,                    \
	  "umbra_psi_cpu_some_ratio",                                      \
	  "share of time some task waited for CPU (PSI)")                  \
	X(PSI_CPU_FULL, "psi_cpu_full", "ratio", LEVEL,                    \
	  "umbra_psi_cpu_full_ratio",                                      \
	  "share of time all tasks waited for CPU (PSI)")                  \
	X(PSI_MEMORY_SOME, "psi_memory_some", "ratio", LEVEL,              \
	  "umbra_psi_memory_some_ratio",                                   \
	  "share of time some task waited for memory (PSI)")               \
	X(PSI_MEMORY_FULL, "psi_memory_full", "ratio", LEVEL,              \
	  "umbra_psi_memory_full_ratio",                                   \
	  "share of time all tasks waited for memory (PSI)")               \
	X(PSI_IO_SOME, "psi_io_some", "ratio", LEVEL,                      \
	  "umbra_psi_io_some_ratio",                                       \
	  "share of time some task waited for I/O (PSI)")                  \
	X(PSI_IO_FULL, "psi_io_full", "ratio", LEVEL,                      \
	  "umbra_psi_io_full_ratio",                                       \
	  "share of time all tasks waited for I/O (PSI)")                  \
	X(RPS, "rps", "req/s", LEVEL, "umbra_requests_per_second",         \
	  "requests completed per second")                                 \
	X(LATENCY_P50, "latency_p50", "s", LEVEL,                          \
	  "umbra_latency_p50_seconds",                                     \
	  "median latency, first request byte to last response byte")     \
	X(LATENCY_P90, "latency_p90", "s", LEVEL,                          \
	  "umbra_latency_p90_seconds", "90th percentile latency")          \
	X(LATENCY_P99, "latency_p99", "s", LEVEL,                          \
	  "umbra_latency_p99_seconds", "99th percentile latency")          \
	X(TTFB_P50, "ttfb_p50", "s", LEVEL, "umbra_ttfb_p50_seconds",      \
	  "median time to the first response byte")                        \
	X(TTFB_P90, "ttfb_p90", "s", LEVEL, "umbra_ttfb_p90_seconds",      \
	  "90th percentile time to the first response byte")               \
	X(TTFB_P99, "ttfb_p99", "s", LEVEL, "umbra_ttfb_p99_seconds",      \
	  "99th percentile time to the first response byte")               \
	X(CONNECT_TIME, "connect_time", "s", LEVEL,                        \
	  "umbra_connect_time_seconds",                                    \
	  "mean upstream connect time of new connections")                 \
	X(ERROR_RATE, "error_rate", "ratio", LEVEL, "umbra_error_ratio",   \
	  "share of requests that failed (5xx or no response)")            \
	X(DIFF_RATE, "diff_rate", "ratio", LEVEL, "umbra_diff_ratio",      \
	  "share of compared request pairs whose responses differ")        \
	X(CPU_PER_REQ, "cpu_per_req", "s", PERREQ,                         \
	  "umbra_cpu_seconds_per_request", "CPU seconds per request")      \
	X(DISK_READ_PER_REQ, "disk_read_per_req", "bytes", PERREQ,         \
	  "umbra_disk_read_bytes_per_request", "bytes read per request")   \
	X(DISK_WRITE_PER_REQ, "disk_write_per_req", "bytes", PERREQ,       \
	  "umbra_disk_write_bytes_per_request",                            \
	  "bytes written per request")                                     \
	X(NET_RX_PER_REQ, "net_rx_per_req", "bytes", PERREQ,               \
	  "umbra_net_rx_bytes_per_request", "bytes received per request")  \
	X(NET_TX_PER_REQ, "net_tx_per_req", "bytes", PERREQ,               \
	  "umbra_net_tx_bytes_per_request", "bytes sent per request")

typedef enum metrics_id {
#define METRICS__ENUM(id, name, unit, kind, prom, doc) METRICS_##id,
	METRICS_MAP(METRICS__ENUM)
#undef METRICS__ENUM
	METRICS__COUNT
} metrics_id_t;

typedef enum metrics_kind {
	METRICS_LOAD,
	METRICS_LEVEL,
	METRICS_PERREQ
} metrics_kind_t;

typedef struct metrics_info {
	const char *name;      /* "cpu": the series' metric name */
	const char *unit;      /* "cores", "B/s", "s", "ratio", "" */
	metrics_kind_t kind;
	const char *prom;      /* Prometheus gauge name */
	const char *doc;
} metrics_info_t;

/* The catalogue entry of id (a static table). */
const metrics_info_t *metrics_info(metrics_id_t id);
/* The id of a metric name, or -1. */
int metrics_by_name(const char *name);
/* "production", "shadow", "baseline"; "?" out of range. */
const char *metrics_side_name(int side);
/* The side of a name, or -1. */
int metrics_side_by_name(const char *name);

/* --------------------------------------------------------------- sample */

/* One side at one tick. A value is NaN when the source could not measure
 * it this tick (no pids, no cgroup, no PSI, no requests, first tick of a
 * rate). */
typedef struct metrics_sample {
	int64_t ts_ns; /* wall clock of the tick */
	double v[METRICS__COUNT];
	/* The resolution of v[i], in its unit: the largest error the
	 * counters' quantum may have put into this tick's value (a rate over
	 * CPU clock ticks is off by up to a few ticks per interval). 0 when
	 * the reading is exact or its source does not say (Prometheus). The
	 * analysis never takes a difference under it for a finding. */
	double res[METRICS__COUNT];
} metrics_sample_t;

/* Every value NaN, every resolution 0, ts_ns set. */
void metrics_sample_clear(metrics_sample_t *s, int64_t ts_ns);

/* Fills the PERREQ metrics (and their resolutions) from the LOAD ones and
 * rps (DESIGN.md normalisation: the shadow gets `ratio` of the traffic,
 * so load-driven metrics are compared per request). NaN where rps is 0 or
 * NaN. */
void metrics_normalise(metrics_sample_t *s);

/* Monotonic counters of one side since the source started measuring it
 * (cumulative over processes that came and went): what the exposition
 * publishes as Prometheus counters. */
typedef struct metrics_totals {
	double cpu_user_s, cpu_system_s;
	double disk_read_bytes, disk_write_bytes;
	double net_rx_bytes, net_tx_bytes; /* namespace counters only */
	double ctx_switches;
	bool has_proc, has_net;
} metrics_totals_t;

/* --------------------------------------------------------------- sources */

typedef struct metrics_src metrics_src_t;

typedef struct metrics_src_ops {
	const char *name; /* "local", "prometheus" */
	/* One tick of side: fills out (clearing it first) and normalises.
	 * Returns 0 when at least one value was measured, else a negative
	 * error (the reason is logged). */
	int (*sample)(metrics_src_t *src, int side, int64_t now_ns,
		      metrics_sample_t *out);
	void (*free)(metrics_src_t *src);
} metrics_src_ops_t;

/* Implementations embed this first. */
struct metrics_src {
	const metrics_src_ops_t *ops;
};

/* Dispatch helpers. sample: see metrics_src_ops_t. */
int metrics_src_sample(metrics_src_t *src, int side, int64_t now_ns,
		       metrics_sample_t *out);
void metrics_src_free(metrics_src_t *src);

/* ---- local */

struct metrics_agg;

/* What to measure for one side. */
typedef struct metrics_target {
	const pid_t *pids; /* root processes (one per replica); their whole
			      trees are measured. May be empty. */
	size_t npids;
	/* Group path below each cgroup hierarchy's root ("/umbra/web/shadow"),
	 * NULL or "" for none. When set, the cg_* and psi_* metrics are read
	 * from it; when there are no pids, cpu, memory and disk come from it
	 * too. */
	const char *cgroup;
	/* Read <proc>/PID/net/dev (the namespace of PID) for net_rx/net_tx;
	 * 0: net_rx/net_tx are the proxy's request/response bytes. */
	pid_t netns_pid;
} metrics_target_t;

typedef struct metrics_local_opts {
	const char *proc_root;      /* NULL: "/proc" */
	const cgroup_sys_t *cgroups; /* copied; NULL: cgroup_discover() when a
					target names a cgroup */
	struct metrics_agg *agg;    /* borrowed, may be NULL (no request
				       metrics) */
	int64_t (*clock)(void);     /* monotonic ns for rates; NULL:
				       clock_mono_ns (tests pass their own) */
} metrics_local_opts_t;

/* A local source. Returns 0 and a new source in *out. */
int metrics_src_local_new(const metrics_local_opts_t *opts,
			  metrics_src_t **out);

/* Sets (replaces) what side measures; t is copied. Counters keep
 * accumulating across changes. 0, ERR_INVAL (not a local source, bad
 * side), or the error of discovering the cgroups. */
int metrics_src_local_target(metrics_src_t *src, int side,
			     const metrics_target_t *t);

/* Cumulative counters of side (see metrics_totals_t). 0 or ERR_INVAL. */
int metrics_src_local_totals(metrics_src_t *src, int side,
			     metrics_totals_t *out);

/* ---- prometheus */

#define METRICS_PROM_MAX_BODY (1 << 20) /* one instant-vector answer with a
					   few series is a few KiB */
#define METRICS_PROM_MAX_QUERY 4096     /* a PromQL expression, expanded */

typedef struct metrics_prom_opts {
	const char *url;      /* Prometheus base URL, "http://host:9090" */
	const char *service;  /* {service} in the queries */
	int64_t range_ns;     /* {range} in the queries, e.g. 1m */
	int64_t timeout_ns;   /* per query */
	/* Query templates by metric; NULL or "" = not queried. Placeholders
	 * {service}, {side} (escaped for PromQL strings) and {range}; any
	 * other "{word}" is an error, other braces (label matchers) are
	 * kept. */
	const char *queries[METRICS__COUNT];
} metrics_prom_opts_t;

/* A Prometheus source; opts and its strings are copied. 0, or ERR_INVAL
 * with *why naming the problem (no URL, unknown placeholder). */
int metrics_src_prom_new(const metrics_prom_opts_t *opts,
			 metrics_src_t **out, const char **why);

/* Expands a query template for side into out (cap bytes). 0, ERR_PARSE
 * (unknown placeholder, unterminated brace) or ERR_TOOBIG. */
int metrics_prom_expand(const char *tmpl, const char *service,
			const char *side, int64_t range_ns, char *out,
			size_t cap);

/* Parses a Prometheus /api/v1/query answer (untrusted: caller's buffer,
 * len bytes, at most METRICS_PROM_MAX_BODY). A scalar, or an instant
 * vector of exactly one series, gives *value. Returns 0; ERR_NOTFOUND for
 * an empty vector (no data: not an error); ERR_PARSE with *why for
 * anything else. When Prometheus reports an error, its message is copied
 * into errbuf (errcap bytes, may be 0). */
int metrics_prom_parse(const char *body, size_t len, double *value,
		       const char **why, char *errbuf, size_t errcap);

/* ---- from the config */

/* The source config asks for (metrics.source): local with proc_root and
 * agg, or prometheus with metrics.prometheus.*. 0 or ERR_CONFIG with *why. */
int metrics_src_from_config(const config_t *cfg, struct metrics_agg *agg,
			    metrics_src_t **out, const char **why);

#endif
