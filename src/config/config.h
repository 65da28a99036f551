/*
 * config.h: umbra's configuration: one YAML file, typed into config_t.
 *
 * Every field is declared once, in the table of config_table.c: its path,
 * type, default, bounds, unit and one-line doc. That table drives loading,
 * validation, the effective-config output of `umbra check-config`, and the
 * reference in docs/config.md, so the four cannot disagree.
 *
 * Loading is two passes (OpenBSD load_config): parse the YAML and type
 * every value, then validate the whole (cross-field rules, secret file
 * modes). All errors of a file are collected (up to CONFIG_MAX_ERRORS),
 * each naming FILE:LINE:COL and the field path:
 *
 *   umbra.yaml:12:10: mirror.ratio: out of range (expected 0..1 or 0%..100%)
 *
 * Ownership: a config_t owns everything it points to (one arena); free it
 * with config_free(). It is immutable once loaded: reloads build a new one.
 */
#ifndef UMBRA_CONFIG_CONFIG_H
#define UMBRA_CONFIG_CONFIG_H

#include "base/addr.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/cron.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_BYTES (1024 * 1024) /* a config is text, not data */
#define CONFIG_MAX_DEPTH 32  /* the schema nests 4 deep; YAML bombs nest more */
#define CONFIG_MAX_ERRORS 20 /* after that the rest are only counted */
#define CONFIG_MAX_LIST 1024 /* items in one list */

/* A vector: v[0..n-1], in the config's arena. */
#define CONFIG_VEC(T)                                                      \
	struct {                                                          \
		T *v;                                                     \
		size_t n;                                                 \
	}

typedef struct config_kv {
	char *key, *value;
} config_kv_t;

/* A cron expression with its text ("" = none). */
typedef struct config_cron {
	char *text;
	cron_t expr;
} config_cron_t;

typedef CONFIG_VEC(char *) config_strv_t;
typedef CONFIG_VEC(addr_t) config_addrv_t;
typedef CONFIG_VEC(config_kv_t) config_map_t;

/* --------------------------------------------------------------- enums */
/* Each enum's names live in config_table.c, in this order. */
typedef enum { CONFIG_FWD_BOTH, CONFIG_FWD_XFF, CONFIG_FWD_FORWARDED,
	       CONFIG_FWD_NONE } config_forwarded_t;
typedef enum { CONFIG_HEALTH_TCP, CONFIG_HEALTH_HTTP,
	       CONFIG_HEALTH_NONE } config_health_type_t;
typedef enum { CONFIG_SAMPLE_RANDOM, CONFIG_SAMPLE_HEADER,
	       CONFIG_SAMPLE_COOKIE, CONFIG_SAMPLE_QUERY } config_sample_t;
typedef enum { CONFIG_MASK_HEADER, CONFIG_MASK_QUERY, CONFIG_MASK_JSON,
	       CONFIG_MASK_FORM, CONFIG_MASK_PATTERN } config_mask_where_t;
typedef enum { CONFIG_ACT_REDACT, CONFIG_ACT_HASH, CONFIG_ACT_DROP,
	       CONFIG_ACT_KEEP } config_mask_action_t;
typedef enum { CONFIG_DIR_EITHER, CONFIG_DIR_INCREASE,
	       CONFIG_DIR_DECREASE } config_direction_t;
typedef enum { CONFIG_SIDE_BOTH, CONFIG_SIDE_PRODUCTION,
	       CONFIG_SIDE_SHADOW } config_side_t;
typedef enum { CONFIG_FC_HOLT, CONFIG_FC_HOLT_WINTERS, CONFIG_FC_PROPHET,
	       CONFIG_FC_LSTM, CONFIG_FC_ENSEMBLE } config_forecaster_t;
typedef enum { CONFIG_ROLLBACK_AUTO, CONFIG_ROLLBACK_RELOAD,
	       CONFIG_ROLLBACK_RESTART } config_rollback_mode_t;

/* Metrics compared between production and shadow (DESIGN.md data model),
 * with their default thresholds: X(name, threshold, critical, direction,
 * group). cpu 0.10 and memory 0.15 are the seed's; the rest are ours, set
 * so that an A/A pair on a quiet host stays well below them. */
#define CONFIG_METRICS(X)                                                  \
	X(cpu, "0.10", "0.30", "increase", "resources")                   \
	X(memory, "0.15", "0.40", "increase", "resources")                \
	X(disk_read, "0.25", "1.0", "increase", "resources")              \
	X(disk_write, "0.25", "1.0", "increase", "resources")             \
	X(net_rx, "0.25", "1.0", "either", "network")                     \
	X(net_tx, "0.25", "1.0", "either", "network")                     \
	X(latency_p50, "0.20", "0.50", "increase", "latency")             \
	X(latency_p90, "0.20", "0.50", "increase", "latency")             \
	X(latency_p99, "0.25", "1.0", "increase", "latency")              \
	X(error_rate, "0.50", "2.0", "increase", "correctness")           \
	X(diff_rate, "0.05", "0.20", "increase", "correctness")

typedef enum {
#define CONFIG__METRIC_ENUM(name, t, c, d, g) CONFIG_METRIC_##name,
	CONFIG_METRICS(CONFIG__METRIC_ENUM)
#undef CONFIG__METRIC_ENUM
	CONFIG_METRIC__COUNT
} config_metric_t;

/* --------------------------------------------------------------- sections */
typedef struct config_listen {
	addr_t address;
	int64_t workers, backlog, max_connections;
	int64_t header_timeout, body_timeout, idle_timeout, drain_timeout;
	int64_t send_timeout, body_deadline;
	uint64_t body_min_rate; /* bytes/s; 0 = off */
	uint64_t max_body;      /* request body bytes; more gets 413 */
	uint64_t max_request_line, max_header_bytes;
	int64_t max_headers;
	int forwarded; /* config_forwarded_t */
	bool sandbox;  /* seccomp filter on the proxy's worker threads */
} config_listen_t;

typedef struct config_health {
	int type; /* config_health_type_t */
	char *path;
	int64_t interval, timeout;
	int64_t eject_after; /* passive: consecutive failures */
	int64_t eject_for;
} config_health_t;

typedef struct config_restart {
	int64_t backoff, backoff_max, max, window;
} config_restart_t;

typedef struct config_production {
	config_addrv_t upstreams;
	config_strv_t command;
	config_map_t env;
	config_map_t vars; /* placeholders of the operator's own */
	char *cwd, *config_dir, *data_dir;
	int64_t port, replicas;
	config_health_t health;
	int64_t start_timeout;
	int stop_signal;
	int64_t stop_grace;
	config_restart_t restart;
	double cpu_limit;      /* cores, 0 = none */
	uint64_t memory_limit; /* bytes, 0 = none */
	struct {
		config_strv_t command;
		int signal; /* 0 = none */
	} reload;
	config_strv_t validate; /* checks a config dir ({config_dir}) */
	struct {
		int64_t pid;
		char *cgroup, *url;
		config_strv_t command; /* how to start a copy; [] = found */
		char *unit;	       /* systemd unit to read it from */
	} attach;
	char *cgroup_parent; /* "" = below umbra's own group */
	char *user, *group;  /* "" = umbra's own */
	config_strv_t capabilities; /* kept in the bounding set */
	int64_t connect_timeout, response_timeout, pool_size, pool_idle;
} config_production_t;

typedef struct config_shadow {
	config_addrv_t upstreams;
	config_strv_t command;
	config_map_t env;
	char *config_dir;
	int64_t port, replicas;
	double ratio;
	uint64_t memory_min; /* floor of the shadow's memory limit */
	char *work_dir;
	char *netns_subnet;
	bool copy_data, isolate_network;
	config_strv_t allow_outbound;
	char *user, *group; /* "" = umbra-shadow (nobody) as root */
	config_strv_t capabilities;
	int64_t connect_timeout, response_timeout, pool_size;
	int64_t response_deadline; /* a copy's whole response, from sending */
	int64_t pipeline; /* copies written per shadow connection at once */
	struct {
		bool enabled;
		config_addrv_t upstreams;
		int64_t port;
	} baseline;
} config_shadow_t;

typedef struct config_mirror {
	bool enabled;
	config_strv_t methods;
	struct {
		int by; /* config_sample_t */
		char *key;
	} sample;
	uint64_t max_body;
	int64_t amplification;
	int64_t queue_requests;
	uint64_t queue_bytes;
	double rate, burst;
	char *mark_header; /* "Name: value", "" = none */
	struct {
		config_strv_t ignore_headers, ignore_json_paths, unordered_arrays;
		config_strv_t identity_headers; /* pinned identity fields */
		uint64_t max_body;
	} compare;
	int64_t max_endpoints;
} config_mirror_t;

typedef struct config_mask_rule {
	int where; /* config_mask_where_t */
	char *name, *pattern, *replacement;
	int action; /* config_mask_action_t */
} config_mask_rule_t;

/* Built-in masking detectors, in this order everywhere (mask.disable
 * names, mask.actions.*, the masker's sources): X(name, default action).
 * Pseudonyms by default, so that the shadow sees one user as one user
 * (DESIGN.md, secure by default). */
#define CONFIG_MASK_DETECTORS(X)                                           \
	X(email, "hash")                                                  \
	X(card, "hash")                                                   \
	X(ssn, "hash")                                                    \
	X(iban, "hash")                                                   \
	X(phone, "hash")                                                  \
	X(ip, "hash")                                                     \
	X(jwt, "hash")                                                    \
	X(auth, "hash")                                                   \
	X(cookie, "hash")                                                 \
	X(keys, "hash")

typedef enum {
#define CONFIG__MASK_DET_ENUM(name, act) CONFIG_MASK_DET_##name,
	CONFIG_MASK_DETECTORS(CONFIG__MASK_DET_ENUM)
#undef CONFIG__MASK_DET_ENUM
	CONFIG_MASK_DET__COUNT
} config_mask_det_t;

typedef struct config_mask {
	bool enabled;
	char *key_file;
	config_strv_t disable;
	config_strv_t sensitive_keys;
	uint64_t max_scan;
	char *redact_marker;
	int64_t memo; /* value memo slots per thread (0: none) */
	int actions[CONFIG_MASK_DET__COUNT]; /* config_mask_action_t */
	CONFIG_VEC(config_mask_rule_t) rules;
} config_mask_t;

typedef struct config_metric {
	double threshold, critical, weight, floor;
	int direction; /* config_direction_t */
	char *group;
	bool critical_metric; /* a failure fails the whole verdict */
} config_metric_cfg_t;

typedef struct config_analysis {
	int64_t interval, window;
	int64_t warmup; /* a metric is judged only after this much data */
	double smoothing;
	int64_t velocity_window;
	double velocity_threshold;
	struct {
		bool enabled;
		double quantile;
		int64_t half_life;
	} envelope;
	int64_t horizon;
	int forecaster; /* config_forecaster_t */
	struct {
		int64_t window;
		double pass, marginal, alpha;
	} verdict;
	config_metric_cfg_t metrics[CONFIG_METRIC__COUNT];
} config_analysis_t;

typedef struct config_sched {
	char *name;
	config_cron_t cron;
	int64_t duration;
	int side; /* config_side_t */
} config_sched_t;

typedef struct config_events {
	int64_t after_change;
	CONFIG_VEC(config_sched_t) scheduled;
} config_events_t;

typedef struct config_drift {
	int64_t interval;
	bool watch;
	config_strv_t env_ignore;
	config_strv_t ignore; /* drift.ignore: key patterns */
} config_drift_t;

typedef struct config_policy {
	char *name, *when;
	config_strv_t then;
	int64_t cooldown;
} config_policy_t;

typedef struct config_mitigation {
	bool dry_run;
	int64_t soak, verify, cooldown, max_actions_per_hour;
	CONFIG_VEC(config_policy_t) policy;
	struct {
		int mode; /* config_rollback_mode_t */
	} rollback;
	struct {
		bool enabled;
		int64_t min, max, lead, cooldown;
		double capacity, target_utilization;
		config_strv_t hook;
	} scale;
	struct {
		bool enabled;
		config_cron_t schedule;
		int64_t max_amplification, step;
		int64_t p99_target;
		double error_target, min_cpu, min_memory;
		config_strv_t levers; /* "amplify", "cpu", "memory" */
	} stress;
	struct {
		char *alertmanager, *webhook;
		int64_t repeat;
		config_map_t labels;
	} alert;
	struct {
		char *dir; /* "" = <dir of store.path>/snapshots */
		int64_t keep;
	} snapshots;
	struct {
		config_strv_t roots; /* absolute dirs candidates may lie in */
	} propose;
} config_mitigation_t;

/* Metric queries of the Prometheus source, by metric name: the compared
 * metrics plus rps (normalisation needs it). Defaults read what umbra's
 * own /metrics exposes, summed over every umbra instance that Prometheus
 * scrapes; {service}, {side} and {range} are filled in per query. */
#define CONFIG_PROM_SEL "{service=\"{service}\",side=\"{side}\"}"
#define CONFIG_PROM_RATE(m) "sum(rate(" m CONFIG_PROM_SEL "[{range}]))"
#define CONFIG_PROM_P(q)                                                   \
	"histogram_quantile(" q ", sum by (le) (rate("                    \
	"umbra_request_duration_seconds_bucket" CONFIG_PROM_SEL            \
	"[{range}])))"
#define CONFIG_PROM_QUERIES(X)                                             \
	X(cpu, CONFIG_PROM_RATE("umbra_cpu_seconds_total"))               \
	X(memory, "sum(umbra_memory_bytes" CONFIG_PROM_SEL ")")           \
	X(disk_read, CONFIG_PROM_RATE("umbra_disk_read_bytes_total"))     \
	X(disk_write, CONFIG_PROM_RATE("umbra_disk_written_bytes_total")) \
	X(net_rx, CONFIG_PROM_RATE("umbra_network_receive_bytes_total")   \
		  " or " CONFIG_PROM_RATE("umbra_request_bytes_total"))   \
	X(net_tx, CONFIG_PROM_RATE("umbra_network_transmit_bytes_total")  \
		  " or " CONFIG_PROM_RATE("umbra_response_bytes_total"))  \
	X(rps, CONFIG_PROM_RATE("umbra_requests_total"))                  \
	X(latency_p50, CONFIG_PROM_P("0.5"))                              \
	X(latency_p90, CONFIG_PROM_P("0.9"))                              \
	X(latency_p99, CONFIG_PROM_P("0.99"))                             \
	X(error_rate, CONFIG_PROM_RATE("umbra_request_errors_total")      \
		      " / " CONFIG_PROM_RATE("umbra_requests_total"))     \
	X(diff_rate, CONFIG_PROM_RATE("umbra_responses_differ_total")     \
		     " / " CONFIG_PROM_RATE("umbra_responses_compared_total"))

typedef enum {
#define CONFIG__PQ_ENUM(name, def) CONFIG_PQ_##name,
	CONFIG_PROM_QUERIES(CONFIG__PQ_ENUM)
#undef CONFIG__PQ_ENUM
	CONFIG_PQ__COUNT
} config_prom_query_t;

typedef enum { CONFIG_MSRC_LOCAL, CONFIG_MSRC_PROMETHEUS } config_msource_t;

typedef struct config_metrics {
	int source; /* config_msource_t */
	char *proc_root;
	struct {
		char *url;
		int64_t timeout, range;
		char *queries[CONFIG_PQ__COUNT];
	} prometheus;
} config_metrics_t;

typedef struct config_capture {
	bool tap;            /* the proxy offers a capture tap */
	char *tap_socket;
	int64_t tap_queue;   /* exchanges per worker */
	uint64_t tap_bytes;  /* per worker, queued and assembling */
	uint64_t max_body;   /* kept per message */
	bool compress;
	int64_t max_connections;
	uint64_t reorder_bytes, memory_limit;
	int64_t flow_timeout;
} config_capture_t;

typedef struct config_store {
	char *path;
	int64_t flush_interval, raw_retention, rollup_retention;
	uint64_t memory_limit;
} config_store_t;

typedef struct config_api {
	addr_t listen;
	char *token_file;
	bool allow_remote, dashboard;
} config_api_t;

typedef struct config {
	arena_t arena;
	char *file;    /* the file it was loaded from, or "" */
	char *basedir; /* relative paths were resolved against it */
	char *service;
	config_listen_t listen;
	config_production_t production;
	config_shadow_t shadow;
	config_mirror_t mirror;
	config_mask_t mask;
	config_analysis_t analysis;
	config_events_t events;
	config_drift_t drift;
	config_mitigation_t mitigation;
	config_metrics_t metrics;
	config_capture_t capture;
	config_store_t store;
	config_api_t api;
	/* Root fields the file (or a flag) set explicitly: one flag per
	 * entry of the field table. */
	bool *set;
	struct config_marks *marks; /* positions, for validation errors */
} config_t;

/* --------------------------------------------------------------- errors */
typedef struct config_error {
	char *file;
	int line, col; /* 1-based; 0 when the error has no place in the file */
	char *path;    /* "mirror.ratio", "" for file-level errors */
	char *msg;
} config_error_t;

typedef struct config_errors {
	config_error_t v[CONFIG_MAX_ERRORS];
	size_t n;
	size_t dropped; /* errors beyond CONFIG_MAX_ERRORS */
} config_errors_t;

/* "FILE:LINE:COL: path: msg" for error i, into out. */
void config_error_format(const config_error_t *e, buf_t *out);
/* Every error, one per line, plus "... and N more" when some were
 * dropped. */
void config_errors_format(const config_errors_t *errs, buf_t *out);
void config_errors_free(config_errors_t *errs);

/* --------------------------------------------------------------- loading */

/* Loads and validates file. On success returns 0 and a new config in
 * *out. On failure returns ERR_CONFIG (or a read error such as -ENOENT),
 * leaves *out NULL, and errs holds at least one error; the caller frees
 * errs with config_errors_free() either way. */
int config_load_file(const char *file, config_t **out, config_errors_t *errs);

/* The same from memory; name is used in messages, basedir resolves
 * relative paths (NULL: the current directory). */
int config_load_string(const char *name, const char *text, size_t len,
		       const char *basedir, config_t **out,
		       config_errors_t *errs);

/* A config with every default and no file; service is set to name. Used
 * by commands run from flags alone. Validation is left to
 * config_validate(). */
config_t *config_new_default(const char *service);

/* Sets the field at path (e.g. "listen.address") from text, as if the file
 * had said it: for flags that override a config. List fields take
 * comma-separated text. Returns 0 or ERR_CONFIG with errs filled. */
int config_set(config_t *cfg, const char *path, const char *text,
	       config_errors_t *errs);

/* Cross-field validation, as config_load_* do it after parsing. */
int config_validate(config_t *cfg, config_errors_t *errs);

void config_free(config_t *cfg);

/* --------------------------------------------------------------- output */
typedef enum { CONFIG_OUT_YAML, CONFIG_OUT_JSON } config_out_t;

/* The effective config (defaults filled in) as YAML or JSON. */
void config_emit(const config_t *cfg, config_out_t fmt, buf_t *out);

/* Any JSON value as block YAML, in the style of config_emit (what
 * `umbra CMD -o yaml` prints). */
struct json_t;
void config_yaml_value(const struct json_t *v, buf_t *out);

/* The field reference as Markdown (docs/config.md). */
void config_reference(buf_t *out);

/* Sections and fields whose features this build does not run yet, that
 * cfg sets or enables: one line each, for check-config. */
void config_inactive_report(const config_t *cfg, buf_t *out);

/* Names of the metric and enum tables, for modules that print them. */
const char *config_metric_name(config_metric_t m);
/* The metric name of a Prometheus query slot ("cpu", "rps"). */
const char *config_prom_query_name(config_prom_query_t q);

#endif
