/*
 * analysis.h: the deviation analysis, umbra's brain. Per tick it takes
 * what production and the shadow measured (metrics, per-endpoint stats,
 * network timing, drift, events) and returns findings: which metric is
 * off, by how much, how fast it moves, whether it will cross its
 * threshold soon, how severe that is, the ranked candidate causes with
 * their evidence, the context (deploys, config changes, scheduled tasks,
 * notes) and a recommended action. docs/analysis.md gives every formula.
 *
 * Pure: numbers in, findings out; no I/O, no clocks, no globals. Time is
 * the tick's timestamp. One streaming implementation (an_analyzer_*): the
 * live loop calls an_analyzer_update once per tick, and the offline
 * command (`umbra analyze`, an_offline_run in offline.h) is a loop over
 * the same call, so the two cannot disagree.
 *
 * Sides: production is the reference (the seed's p) and the shadow the
 * compared side (s); a `baseline` shadow, when present, runs production's
 * config and gives the A/A noise envelope directly.
 */
#ifndef UMBRA_ANALYSIS_ANALYSIS_H
#define UMBRA_ANALYSIS_ANALYSIS_H

#include "analysis/forecast.h"
#include "base/cron.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ metrics */

/* How a metric is normalised before production and shadow are compared
 * (DESIGN.md): load-driven metrics per request, levels as they are, and
 * shares (diff_rate) as absolute shares. */
typedef enum an_norm {
	AN_NORM_LOAD,  /* per request: the shadow scaled to production's load */
	AN_NORM_LEVEL, /* as measured */
	AN_NORM_SHARE, /* a share of pairs; production counts as 0 when absent */
} an_norm_t;

/* The compared metrics, in config.h's CONFIG_METRICS order: X(name, norm,
 * floor). The floor is the production value below which |p - s| / p is
 * not trusted: the denominator becomes the floor, in the metric's own
 * unit (docs/analysis.md gives the reason for each):
 *   cpu 0.05 cores: below 5% of a core a process is idle and its per-request
 *       cost is scheduler and accounting noise;
 *   memory 16 MiB: an RSS below that is the runtime and allocator arenas,
 *       not the service's working set;
 *   disk and network 64 KiB/s: below that, one page of writeback or one
 *       health check is a large relative change;
 *   latency 1 ms: below a millisecond, loopback scheduling jitter dominates;
 *   error_rate 1%: with fewer errors, one failed request on either side
 *       is a large relative change;
 *   diff_rate 1 (a share): production never differs from itself, so the
 *       deviation is the share of pairs that differ. */
#define AN_METRICS(X)                                                      \
	X(cpu, AN_NORM_LOAD, 0.05)                                        \
	X(memory, AN_NORM_LEVEL, 16777216.0)                              \
	X(disk_read, AN_NORM_LOAD, 65536.0)                               \
	X(disk_write, AN_NORM_LOAD, 65536.0)                              \
	X(net_rx, AN_NORM_LOAD, 65536.0)                                  \
	X(net_tx, AN_NORM_LOAD, 65536.0)                                  \
	X(latency_p50, AN_NORM_LEVEL, 0.001)                              \
	X(latency_p90, AN_NORM_LEVEL, 0.001)                              \
	X(latency_p99, AN_NORM_LEVEL, 0.001)                              \
	X(error_rate, AN_NORM_LEVEL, 0.01)                                \
	X(diff_rate, AN_NORM_SHARE, 1.0)

typedef enum an_metric {
#define AN__METRIC_ENUM(name, norm, floor) AN_M_##name,
	AN_METRICS(AN__METRIC_ENUM)
#undef AN__METRIC_ENUM
	AN_METRIC__COUNT
} an_metric_t;

const char *an_metric_name(an_metric_t m);
/* The metric called name, or -1. */
int an_metric_by_name(const char *name);
an_norm_t an_metric_norm(an_metric_t m);
double an_metric_default_floor(an_metric_t m);

/* ------------------------------------------------------------ enums */

typedef enum an_side {
	AN_PROD = 0,
	AN_SHADOW = 1,
	AN_BASELINE = 2,
	AN_BOTH = 3, /* events and scheduled tasks only */
} an_side_t;
#define AN_SIDES 3 /* sides that carry values: production, shadow, baseline */

const char *an_side_name(an_side_t s);

typedef enum an_direction {
	AN_DIR_EITHER = 0,
	AN_DIR_INCREASE,
	AN_DIR_DECREASE,
} an_direction_t;

typedef enum an_event_kind {
	AN_EV_DEPLOY = 0,
	AN_EV_CONFIG_CHANGE,
	AN_EV_SCHEDULED,
	AN_EV_NOTE,
	AN_EV_REPLAY, /* recorded traffic replayed into a side (umbra replay
			 --announce): load the proxy does not see */
	AN_EV__COUNT
} an_event_kind_t;

const char *an_event_kind_name(an_event_kind_t k);
/* The kind called name ("deploy", "config_change", ...), or -1. */
int an_event_kind_by_name(const char *name);

/* ------------------------------------------------------------ parameters */

#define AN_NAME_MAX 64 /* group and task names; longer ones are cut */

typedef struct an_metric_params {
	double threshold; /* deviation over which the metric is off */
	double critical;  /* deviation that is a finding on its own */
	double weight;    /* in the verdict score; 0 leaves it out */
	double floor;     /* denominator floor, in the metric's unit */
	an_direction_t direction; /* which way of moving is bad */
	bool critical_metric;     /* failing it fails the whole verdict */
	char group[AN_NAME_MAX];  /* verdict group */
} an_metric_params_t;

/* A scheduled task (cron job) that explains load while it runs. */
typedef struct an_sched {
	char name[AN_NAME_MAX];
	cron_t cron;      /* when it starts (UTC minutes) */
	int64_t duration_ns;
	an_side_t side;   /* AN_PROD, AN_SHADOW or AN_BOTH */
} an_sched_t;

/* Everything the analysis needs from configuration (config.h's analysis.*
 * and events.* sections, shadow.ratio); src/cmd/analysis_config.c fills
 * it from a config_t. Durations in nanoseconds. an_params_default() gives
 * the same defaults as the config table. */
typedef struct an_params {
	int64_t interval_ns;     /* the tick */
	int64_t warmup_ns;       /* a metric is judged only after this much
				    of its data (docs/analysis.md) */
	int64_t history_ns;      /* deviation history kept for root cause */
	double smoothing;        /* EWMA weight of the newest deviation */
	int64_t velocity_window_ns;
	double velocity_threshold; /* 1/s */
	bool envelope;             /* learn the A/A noise envelope */
	double envelope_quantile;
	int64_t envelope_half_life_ns;
	int64_t horizon_ns;        /* how far ahead deviations are forecast */
	an_fc_kind_t forecaster;   /* AN_FC_HOLT by default */
	int64_t verdict_window_ns;
	double verdict_pass, verdict_marginal; /* scores 0..100 */
	double verdict_alpha;
	int64_t after_change_ns;   /* attribution window after a change */
	double ratio;              /* shadow's share of traffic (0, 1] */
	an_metric_params_t metric[AN_METRIC__COUNT];
	const an_sched_t *sched;   /* borrowed; copied by an_analyzer_init */
	size_t nsched;
	/* Run the default anomaly detector on each side's values
	 * (an_anomaly_t, an_metric_view_t.anomaly): true by default; it
	 * costs about a microsecond per metric and side per tick, which
	 * only simulations of months of ticks notice. */
	bool anomalies;
} an_params_t;

/* Bounds that keep every product of ticks and nanoseconds inside an
 * int64_t: a tick of at most a day, windows of at most a year (the config
 * table's bounds are tighter). */
#define AN_MAX_INTERVAL_NS (86400LL * 1000000000LL)
#define AN_MAX_SPAN_NS (366LL * 86400 * 1000000000LL)

void an_params_default(an_params_t *p);
/* 0, or ERR_INVAL with *why naming the bad field. */
int an_params_validate(const an_params_t *p, const char **why);

/* ------------------------------------------------------------ tick input */

/* One endpoint's numbers for this tick (from the proxy's records). */
typedef struct an_endpoint_in {
	uint32_t id;        /* stable id, e.g. the proxy's strtab id */
	const char *name;   /* borrowed for the call; copied on first sight */
	double requests[2]; /* requests this tick: [AN_PROD], [AN_SHADOW] */
	double cost[2];     /* cpu seconds (or any cost) per request */
	double latency[2];  /* mean latency, seconds */
	double differ_rate; /* share of this tick's pairs that differ */
} an_endpoint_in_t;

/* A configuration file that differs between the sides, and its keys. */
typedef struct an_drift_in {
	const char *file; /* borrowed */
	const char *keys; /* borrowed, e.g. "workers, cache.size"; may be "" */
} an_drift_in_t;

/* What one tick measured. Every double that was not measured is NaN
 * (an_tick_clear sets them all so). */
typedef struct an_tick {
	int64_t t_ns; /* wall-clock time of the tick, increasing */
	double value[AN_SIDES][AN_METRIC__COUNT];
	/* The resolution of each value, in its unit (metrics_sample_t.res):
	 * the largest error the counters' quantum may put in it. A difference
	 * between the sides within the sum of their resolutions is no
	 * difference (docs/analysis.md, "Significance floor"). 0: exact or
	 * unknown (an_tick_clear). */
	double resolution[AN_SIDES][AN_METRIC__COUNT];
	double rps[AN_SIDES];   /* requests per second: normalises load */
	double connect_s[2];    /* mean upstream connect time, seconds */
	double ttfb_s[2];       /* mean time to first byte, seconds */
	bool config_differs;    /* the sides run different configs */
	const an_endpoint_in_t *endpoints; /* borrowed */
	size_t nendpoints;
	const an_drift_in_t *drift; /* borrowed: the current drift */
	size_t ndrift;
} an_tick_t;

/* Sets t_ns, every value to NaN, every resolution to 0, every pointer to
 * NULL. */
void an_tick_clear(an_tick_t *t, int64_t t_ns);

/* An event: deploy, config change, scheduled task run, or note. */
#define AN_TEXT_MAX 160 /* descriptions and evidence; longer is cut */
typedef struct an_event {
	int64_t start_ns, end_ns; /* end == start for an instant */
	an_event_kind_t kind;
	an_side_t side;           /* AN_PROD, AN_SHADOW or AN_BOTH */
	const char *text;         /* borrowed; copied */
} an_event_t;

/* ------------------------------------------------------------ verdict */

typedef enum an_vresult {
	AN_V_NODATA = 0,
	AN_V_PASS,
	AN_V_HIGH, /* experiment significantly higher than control */
	AN_V_LOW,
} an_vresult_t;

typedef enum an_verdict_result {
	AN_VERDICT_NODATA = 0,
	AN_VERDICT_PASS,
	AN_VERDICT_MARGINAL,
	AN_VERDICT_FAIL,
} an_verdict_result_t;

const char *an_vresult_name(an_vresult_t r);
const char *an_verdict_result_name(an_verdict_result_t r);

typedef struct an_metric_verdict {
	an_vresult_t result;
	bool failed;      /* result in the metric's bad direction */
	size_t n;         /* samples (block means) per side */
	double p_value;   /* two-sided Mann-Whitney */
	double shift;     /* Hodges-Lehmann, experiment - control, relative to
			     the control's median (floored) */
	double lo, hi;    /* its confidence interval at 1 - alpha, relative */
} an_metric_verdict_t;

typedef struct an_group_score {
	char name[AN_NAME_MAX];
	double score; /* 0..100 */
} an_group_score_t;

typedef struct an_verdict {
	an_verdict_result_t result;
	double score;          /* 0..100 */
	an_side_t experiment;  /* the side judged; the other is the control */
	bool critical_failed;  /* a critical metric failed */
	an_metric_verdict_t metric[AN_METRIC__COUNT];
	an_group_score_t group[AN_METRIC__COUNT];
	size_t ngroups;
} an_verdict_t;

/* ------------------------------------------------------------ findings */

typedef enum an_find_kind {
	AN_FIND_NONE = 0,
	AN_FIND_PREDICTED, /* a forecast crosses the threshold within horizon */
	AN_FIND_DEVIATION, /* over threshold and velocity over its threshold */
	AN_FIND_SUSTAINED, /* the verdict over its window fails the metric */
	AN_FIND_CRITICAL,  /* over the critical threshold */
} an_find_kind_t;

const char *an_find_kind_name(an_find_kind_t k);

typedef enum an_cause_kind {
	AN_CAUSE_CHANGE = 0,  /* a deploy or config change shortly before */
	AN_CAUSE_SCHEDULED,   /* a scheduled task covering the onset */
	AN_CAUSE_DRIFT,       /* a configuration file that differs */
	AN_CAUSE_ENDPOINT,    /* the component: an endpoint that deviates */
	AN_CAUSE_NETWORK,     /* upstream connect time moved */
	AN_CAUSE_APPLICATION, /* time to first byte moved, connect did not */
	AN_CAUSE_LEADING,     /* another metric moved first */
	AN_CAUSE_COMOVING,    /* metrics that move with it */
	AN_CAUSE_NOTE,        /* an operator's note */
	AN_CAUSE_SIDE,        /* the side that moved from its own baseline */
	AN_CAUSE_REPLAY,      /* traffic replayed into the side that moved */
	AN_CAUSE__COUNT
} an_cause_kind_t;

const char *an_cause_kind_name(an_cause_kind_t k);

typedef struct an_cause {
	an_cause_kind_t kind;
	double score; /* 0..1; the list is sorted by it, highest first */
	char subject[AN_NAME_MAX * 2]; /* endpoint, file, event, metrics */
	char evidence[AN_TEXT_MAX];
} an_cause_t;

typedef struct an_context {
	an_event_kind_t kind; /* drift: AN_EV_CONFIG_CHANGE with drift set */
	bool drift;      /* a config file that differs now (no time span) */
	an_side_t side;
	int64_t start_ns, end_ns;
	bool attributed; /* the finding is attributed to this change */
	bool explains;   /* a scheduled task that explains the deviation */
	char name[AN_NAME_MAX];
	char text[AN_TEXT_MAX];
} an_context_t;

typedef enum an_action {
	AN_ACT_NONE = 0, /* explained (scheduled task on both sides, a
			    replay into the side that moved) */
	AN_ACT_OBSERVE,  /* record; below the alerting severity */
	AN_ACT_ALERT,
	AN_ACT_ROLLBACK, /* production moved after its own change or drift */
	AN_ACT_HOLD,     /* the shadow's change is worse: do not promote it */
} an_action_t;

const char *an_action_name(an_action_t a);

#define AN_MAX_CAUSES 8
#define AN_MAX_CONTEXT 8

typedef struct an_finding {
	int64_t t_ns;       /* the tick that raised it */
	int64_t onset_ns;   /* when the deviation started */
	an_metric_t metric;
	an_find_kind_t kind;
	double deviation;   /* smoothed |p - s| / p, normalised */
	double velocity;    /* 1/s, positive when getting worse */
	double threshold;   /* effective: max(configured, envelope); for
			       predicted findings the one predicted crossed */
	double severity;    /* 0..100, docs/analysis.md */
	bool predicted;
	double lead_s;      /* predicted: seconds until the crossing */
	double confidence;  /* predicted: P(over threshold at the horizon) */
	an_side_t mover;    /* the side that moved from its own baseline */
	double change[2];   /* relative move of each side from its baseline */
	bool suppressed;    /* explained by a scheduled task: not acted on */
	an_action_t action;
	char reason[AN_TEXT_MAX]; /* why that action */
	an_verdict_t verdict;     /* experiment: the mover */
	double load_forecast;     /* production rps at the horizon, or NaN */
	an_cause_t cause[AN_MAX_CAUSES];
	size_t ncauses;
	an_context_t context[AN_MAX_CONTEXT];
	size_t ncontext;
} an_finding_t;

/* Per-metric state after a tick, for dashboards and the policy engine. */
typedef struct an_metric_view {
	bool valid;        /* this tick had both sides' values */
	double deviation;  /* smoothed, |.| */
	double signed_dev; /* smoothed (s - p) / max(p, floor) */
	double velocity;   /* 1/s, positive when |deviation| grows */
	double threshold;  /* effective */
	double envelope;   /* learned A/A quantile, 0 until warm */
	an_find_kind_t open; /* kind of the open finding, or NONE */
	double anomaly[2];   /* each side's own anomaly score this tick
				(the default detector, anomaly.h), [AN_PROD],
				[AN_SHADOW]; NaN when not measured */
	bool warming;      /* in its warm-up: learned from, not judged */
	double warmup_left_s; /* seconds of data still to learn, 0 once
				 judged */
} an_metric_view_t;

/* One side's metric that stopped behaving like itself, found by the
 * default anomaly detector (AN_DET_DEFAULT) on that side's values alone:
 * the kinds the comparison of the sides cannot see when both sides, or
 * only the reference, break the same way, or that stay inside the
 * threshold (a frozen value, a lost daily cycle). */
typedef struct an_anomaly {
	an_metric_t metric;
	an_side_t side;   /* AN_PROD or AN_SHADOW */
	const char *kind; /* "stuck" or "season" (an_det_kind); static */
	double score;     /* the detector's score, >= AN_DET_ALARM */
	double value;     /* the value that raised it */
} an_anomaly_t;

/* What an_analyzer_update returns. Findings are emitted when they open
 * and when they escalate (predicted < deviation = sustained < critical),
 * at most one per metric per tick. */
typedef struct an_out {
	an_metric_view_t metric[AN_METRIC__COUNT];
	/* Some metric that has had data is still in its warm-up (metrics
	 * that never had any, say error_rate without traffic, do not
	 * count): what status and the dashboard show as "warming up". */
	bool warming;
	double load_forecast; /* production rps at the horizon, or NaN */
	uint32_t resolved;    /* bit m: metric m's finding closed this tick */
	an_finding_t finding[AN_METRIC__COUNT];
	size_t nfindings;
	/* Single-side anomalies raised this tick: at most one per metric
	 * and side (the detector rests after an alarm). */
	an_anomaly_t anomaly[2 * AN_METRIC__COUNT];
	size_t nanomalies;
} an_out_t;

/* ------------------------------------------------------------ analyzer */

/* One analyzer per service pair, used by one thread at a time (the
 * control thread's tick); it holds no locks and shares nothing. */
typedef struct an_analyzer an_analyzer_t;

/* A new analyzer for params (copied, with the scheduled tasks). 0 and
 * *out, or ERR_INVAL with *why (when not NULL) naming the bad field, or
 * ERR_UNSUPPORTED when params->forecaster is not in this build. The
 * caller owns *out (an_analyzer_free). */
int an_analyzer_init(an_analyzer_t **out, const an_params_t *params,
		     const char **why);
void an_analyzer_free(an_analyzer_t *a);

/* Records an event (copied; the text is cut at AN_TEXT_MAX). Events are
 * kept while they can still matter (the last AN_MAX_EVENTS). Call it when
 * the event happens, before the tick at its start: the offline loop adds
 * each event at the first tick at or after its start, as the live loop
 * would learn of it. 0 or ERR_INVAL (end before start, bad kind/side). */
int an_analyzer_event(an_analyzer_t *a, const an_event_t *ev);

/* Feeds one tick (borrowed for the call). Ticks must come in increasing
 * t_ns; a tick at or before the previous one is ERR_INVAL and changes
 * nothing. Gaps are fine. Fills *out (overwritten whole). */
int an_analyzer_update(an_analyzer_t *a, const an_tick_t *tick,
		       an_out_t *out);

/* Closes the findings open on metrics (bit m: metric m) whose deviation
 * is back within its threshold now, without waiting for the hysteresis
 * (AN_CLEAR_S): the engine verified a rollback that brought them back.
 * A metric still outside keeps its finding. Returns the bits closed;
 * they are not reported again in an out's resolved. */
uint32_t an_analyzer_close(an_analyzer_t *a, uint32_t metrics);

/* The verdict over the last verdict window with experiment (AN_SHADOW,
 * or AN_PROD when production is the side that moved) judged against the
 * other side. 0 (result NODATA until each side has enough samples). */
int an_analyzer_verdict(const an_analyzer_t *a, an_side_t experiment,
			an_verdict_t *out);

#define AN_MAX_EVENTS 256 /* events remembered; older ones are forgotten */
#define AN_MAX_ENDPOINTS 768 /* endpoints tracked for root cause: above
				the proxy's default cap of 500
				(mirror.max_endpoints); more are ignored */

#endif
