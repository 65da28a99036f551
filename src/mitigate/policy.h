/*
 * policy.h: the rules that turn findings into actions. A rule says
 * `when: <condition>` and `then: [actions]`; the condition is a small
 * expression language over the analysis's per-metric state:
 *
 *   cpu.deviation > 0.10 and cpu.velocity > 0.05
 *   diff_rate.deviation > 0.2 or error_rate.predicted
 *   not memory.sustained and (latency_p99.severity >= 80 or cpu.critical)
 *
 * A reference is METRIC.FIELD, with the metrics of DESIGN.md's data model
 * (cpu, memory, disk_read, disk_write, net_rx, net_tx, latency_p50/p90/p99,
 * error_rate, diff_rate) and the fields below. Numbers may end in % (10% is
 * 0.10). Operators: and, or, not, parentheses, < <= > >= == !=.
 *
 * The parser is the picohttpparser shape: the caller's text in, a
 * fixed-size compiled form out, no allocation, every limit named, one
 * reason per rejection with the byte offset where it happened (config
 * validation turns that into FILE:LINE:COL). Evaluation is pure.
 *
 * The second half is the governor: per-rule and per-action cooldowns and
 * the hourly cap on automatic actions, as a small pure state struct.
 * Cooldowns and the cap apply per finding: an action taken for one
 * finding does not delay one for another (a different metric, or the
 * same metric after its finding closed), so that noise acted on once
 * never swallows a real regression's decision.
 */
#ifndef UMBRA_MITIGATE_POLICY_H
#define UMBRA_MITIGATE_POLICY_H

#include "analysis/analysis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ fields */

/* X(name, is_bool, doc). Numbers are NaN when the metric has no data
 * this tick (every comparison with NaN is false). */
#define MIT_FIELDS(X)                                                      \
	X(deviation, false, "smoothed deviation |p - s| / p")             \
	X(velocity, false, "rate of change of the deviation, 1/s")        \
	X(severity, false, "severity 0..100 of the open finding, 0 none")  \
	X(threshold, false, "effective threshold (configured or envelope)") \
	X(lead_s, false, "seconds until a predicted crossing, NaN none")  \
	X(predicted, true, "the open finding is a prediction")            \
	X(deviating, true,                                                \
	  "a confirmed finding is open (deviation, sustained, critical)") \
	X(sustained, true, "the open finding is sustained (the judge failed it)") \
	X(critical, true, "the open finding is critical (over critical)")

typedef enum mit_field {
#define MIT__FIELD_ENUM(name, b, doc) MIT_F_##name,
	MIT_FIELDS(MIT__FIELD_ENUM)
#undef MIT__FIELD_ENUM
	MIT_F__COUNT
} mit_field_t;

const char *mit_field_name(mit_field_t f);
bool mit_field_is_bool(mit_field_t f);

/* ------------------------------------------------------------ expressions */

#define MIT_EXPR_MAX_LEN 1024  /* a condition is a line, not a program */
#define MIT_EXPR_MAX_NODES 128 /* ~40 comparisons: more is not readable */
#define MIT_EXPR_MAX_DEPTH 32  /* nesting of parentheses and not; the
				  recursive parser's stack stays small */
#define MIT_EXPR_MAX_NUMBER 1e12 /* numbers are ratios, seconds, 0..100 */

typedef enum mit_node_kind {
	MIT_N_NUM,  /* v */
	MIT_N_BOOL, /* v != 0 */
	MIT_N_REF,  /* metric.field */
	MIT_N_NOT,  /* !a */
	MIT_N_AND,  /* a and b */
	MIT_N_OR,   /* a or b */
	MIT_N_CMP,  /* a op b */
} mit_node_kind_t;

typedef enum mit_cmp {
	MIT_LT,
	MIT_LE,
	MIT_GT,
	MIT_GE,
	MIT_EQ,
	MIT_NE,
} mit_cmp_t;

typedef struct mit_node {
	uint8_t kind;	/* mit_node_kind_t */
	uint8_t op;	/* mit_cmp_t */
	uint8_t metric; /* an_metric_t */
	uint8_t field;	/* mit_field_t */
	int16_t a, b;	/* operands (node indexes), -1 none */
	double v;
} mit_node_t;

/* A compiled condition: plain data, copyable. */
typedef struct mit_expr {
	mit_node_t node[MIT_EXPR_MAX_NODES];
	int n;
	int root;
	uint32_t metrics; /* bit m: the condition refers to metric m */
} mit_expr_t;

/* Why a condition was rejected: the byte offset in the text where the
 * problem is, and one sentence. */
typedef struct mit_expr_err {
	size_t offset;
	char msg[192];
} mit_expr_err_t;

/* Compiles text[0..len) into *out. 0, or ERR_PARSE with err filled
 * (then *out is unspecified). No allocation. */
int mit_expr_parse(const char *text, size_t len, mit_expr_t *out,
		   mit_expr_err_t *err);

/* What a condition reads: val[metric][field] (booleans as 0 or 1,
 * unknown numbers NaN). */
typedef struct mit_eval_ctx {
	double val[AN_METRIC__COUNT][MIT_F__COUNT];
} mit_eval_ctx_t;

/* Sets every number to NaN and every boolean to false. */
void mit_eval_ctx_clear(mit_eval_ctx_t *c);

/* Fills one metric's fields from the analysis's view of it and, when a
 * finding is open for it, that finding (NULL: none). */
void mit_eval_ctx_set(mit_eval_ctx_t *c, an_metric_t m,
		      const an_metric_view_t *view, const an_finding_t *open);

bool mit_expr_eval(const mit_expr_t *e, const mit_eval_ctx_t *c);

/* The condition in canonical form (fully parenthesised where needed,
 * numbers with %.17g): parsing it again gives the same form. Appended
 * to out (size bytes, always NUL-terminated; cut when short). */
void mit_expr_format(const mit_expr_t *e, char *out, size_t size);

/* The condition with every reference followed by its value now, e.g.
 * "cpu.deviation(0.45) > 0.1 and cpu.velocity(0.12) > 0.05": the
 * evidence of a decision. Same conventions as mit_expr_format. */
void mit_expr_explain(const mit_expr_t *e, const mit_eval_ctx_t *c, char *out,
		      size_t size);

/* ------------------------------------------------------------ actions */

/* The action kinds of `then:` (config_table.c's action_kinds, in order). */
typedef enum mit_act {
	MIT_ACT_ROLLBACK = 0, /* restore the latest known-good snapshot */
	MIT_ACT_SCALE,	      /* one more production replica, within max */
	MIT_ACT_STRESS,	      /* a stress test of the shadow */
	MIT_ACT_ALERT,	      /* Alertmanager, webhook, log */
	MIT_ACT_HOLD,	      /* stop automatic actions until released */
	MIT_ACT__COUNT
} mit_act_t;

const char *mit_act_name(mit_act_t a);
/* The action called name, or -1. */
int mit_act_by_name(const char *name);

/* ------------------------------------------------------------ rules */

#define MIT_RULE_NAME_MAX 64
#define MIT_MAX_RULES 64 /* rules in one policy; a policy is read by people */

typedef struct mit_rule {
	char name[MIT_RULE_NAME_MAX];
	char when[MIT_EXPR_MAX_LEN + 1];
	mit_expr_t expr;
	mit_act_t then[MIT_ACT__COUNT];
	int nthen;
	int64_t cooldown_ns; /* between two firings of this rule */
} mit_rule_t;

typedef struct mit_policy {
	mit_rule_t rule[MIT_MAX_RULES];
	int n;
	bool is_default; /* the config had none: the built-in policy */
} mit_policy_t;

/* The built-in policy, used when the config has no rules: the seed's
 * rule (rollback, scale, alert on a critical CPU deviation, or a
 * confirmed one with high velocity) for cpu, memory, latency_p99,
 * error_rate and diff_rate (scale only where more replicas help: cpu and
 * latency), plus an early alert on every predicted crossing of those.
 * velocity is the velocity threshold (analysis.velocity_threshold);
 * cooldown_ns each rule's cooldown. Fills *out. */
void mit_policy_default(mit_policy_t *out, double velocity,
			int64_t cooldown_ns);

/* Adds one rule; then names are action names. 0, or ERR_PARSE with err
 * (offset into when), ERR_INVAL (an unknown action: err->offset 0), or
 * ERR_RANGE (MIT_MAX_RULES reached). */
int mit_policy_add(mit_policy_t *p, const char *name, const char *when,
		   const char *const *then, size_t nthen, int64_t cooldown_ns,
		   mit_expr_err_t *err);

/* ------------------------------------------------------------ governor */

#define MIT_HOUR_NS (3600LL * 1000000000LL)
#define MIT_GOV_MAX_HOUR 1000 /* the config's bound on max_actions_per_hour */

/* Cooldowns and the hourly cap, per finding. A finding is named by a
 * key (the engine's id of its episode: it stays through escalations and
 * changes when the metric's finding closed and a new one opened); key 0
 * is everything not on a finding (the scaler's forecast, a rule on raw
 * values), which shares one cooldown per kind and one cap. Times are the
 * decision clock (ns). */
#define MIT_GOV_KEYS 32 /* findings remembered per kind: more than can be
			   open at once (one per metric) with room for the
			   recently closed ones whose cooldown still runs */

typedef struct mit_gov_last {
	uint64_t key;
	int64_t t; /* 0: free */
} mit_gov_last_t;

typedef struct mit_gov {
	int64_t rule_last[MIT_MAX_RULES]; /* 0 = never fired */
	bool rule_was[MIT_MAX_RULES];	  /* the condition last tick */
	bool rule_edge[MIT_MAX_RULES];	  /* it became true since firing */
	mit_gov_last_t act_last[MIT_ACT__COUNT][MIT_GOV_KEYS];
	int64_t hour[MIT_GOV_MAX_HOUR]; /* ring of action times */
	uint64_t hour_key[MIT_GOV_MAX_HOUR]; /* the finding of each */
	int nhour, head;
	int64_t act_cooldown_ns; /* between two actions of one kind */
	int max_per_hour;	 /* 0: no automatic actions at all */
} mit_gov_t;

void mit_gov_init(mit_gov_t *g, int64_t act_cooldown_ns, int max_per_hour);

/* Whether rule r fires at now, given its condition's value this tick
 * (call once per tick per rule). It fires when the condition holds, its
 * cooldown since the last firing has passed, and either the cooldown is
 * positive (while the condition holds, the rule fires again each
 * cooldown) or the condition became true since the rule last fired
 * (cooldown 0: once per episode, not every tick). fresh: the condition
 * holds on findings the rule has not fired on (a new finding, an
 * escalation): it fires whatever its cooldown, which only paces
 * repeats on the same findings. */
bool mit_gov_rule_check(mit_gov_t *g, const mit_rule_t *rules, int r,
			bool cond, bool fresh, int64_t now);
void mit_gov_rule_fired(mit_gov_t *g, int r, int64_t now);

/* Whether an automatic action of kind a may run at now for finding key:
 * the cooldown since the last one of that kind for that finding has
 * passed and fewer than max_per_hour ran for it in the last hour.
 * Alerts are never limited here (they are deduplicated and repeated by
 * the alert sink; a cap that silenced them would hide what it protects
 * against). *why is a sentence into why_buf when not. */
bool mit_gov_act_ready(const mit_gov_t *g, mit_act_t a, uint64_t key,
		       int64_t now, char *why_buf, size_t why_size);
/* Counts an action taken at now for finding key (toward its cooldown
 * and the cap). */
void mit_gov_act_taken(mit_gov_t *g, mit_act_t a, uint64_t key, int64_t now);
/* Actions counted in the hour before now, all findings together. */
int mit_gov_hour_count(const mit_gov_t *g, int64_t now);

#endif
