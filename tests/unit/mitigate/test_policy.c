/*
 * test_policy.c: the policy condition language (one test per malformed
 * condition, with its exact message and offset), evaluation, canonical
 * printing, explanation, the default policy, and the governor
 * (cooldowns, hourly cap). Conditions in config files get FILE:LINE:COL
 * errors: checked at the end through config_load_string.
 */
#include "base/err.h"
#include "config/config.h"
#include "mitigate/policy.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mit_expr_t *parse_ok(const char *s)
{
	static mit_expr_t e;
	mit_expr_err_t err;
	int rc = mit_expr_parse(s, strlen(s), &e, &err);
	cr_assert_eq(rc, 0, "\"%s\": %s at %zu", s, err.msg, err.offset);
	return &e;
}

/* Asserts that s is rejected at offset with msg. */
static void bad(const char *s, size_t offset, const char *msg)
{
	mit_expr_t e;
	mit_expr_err_t err;
	int rc = mit_expr_parse(s, strlen(s), &e, &err);
	cr_assert_eq(rc, ERR_PARSE, "\"%s\" parsed", s);
	cr_assert_str_eq(err.msg, msg, "\"%s\"", s);
	cr_assert_eq(err.offset, offset, "\"%s\": offset %zu, want %zu (%s)", s,
		     err.offset, offset, err.msg);
}

/* ---------------------------------------------------------- malformed */

Test(policy_bad, empty)
{
	bad("", 0, "empty condition (expected e.g. \"cpu.deviation > 0.1\")");
}

Test(policy_bad, only_spaces)
{
	bad("  \t\n", 0,
	    "empty condition (expected e.g. \"cpu.deviation > 0.1\")");
}

Test(policy_bad, unknown_metric_suggests)
{
	bad("cpux.deviation > 1", 0,
	    "unknown metric \"cpux\"; did you mean \"cpu\"?");
}

Test(policy_bad, unknown_metric_no_suggestion)
{
	bad("zzzzzz.deviation > 1", 0,
	    "unknown metric \"zzzzzz\" (expected cpu, memory, disk_read, "
	    "disk_write, net_rx, net_tx, latency_p50, latency_p90, "
	    "latency_p99, error_rate or diff_rate)");
}

Test(policy_bad, unknown_field_suggests)
{
	bad("cpu.devation > 1", 4,
	    "unknown field \"devation\"; did you mean \"deviation\"?");
}

Test(policy_bad, unknown_field_no_suggestion)
{
	bad("cpu.qqqqqqqq > 1", 4,
	    "unknown field \"qqqqqqqq\" (expected deviation, velocity, "
	    "severity, threshold, lead_s, predicted, deviating, sustained or "
	    "critical)");
}

Test(policy_bad, metric_without_field)
{
	bad("cpu > 0.1", 0,
	    "\"cpu\" is a metric: name a field too (e.g. cpu.deviation)");
}

Test(policy_bad, field_without_metric)
{
	bad("deviation > 0.1", 0,
	    "\"deviation\" is a field: say whose (e.g. cpu.deviation)");
}

Test(policy_bad, unknown_bare_name)
{
	bad("cpu.deviation > 0.1 and frobnicate", 24,
	    "unknown name \"frobnicate\" (expected METRIC.FIELD, a number, "
	    "true or false)");
}

Test(policy_bad, dot_without_field)
{
	bad("cpu. > 1", 4,
	    "expected a field after \"cpu.\" (e.g. cpu.deviation)");
}

Test(policy_bad, two_dots)
{
	bad("cpu.deviation.x > 1", 13,
	    "a reference is METRIC.FIELD: one dot only");
}

Test(policy_bad, lone_dot)
{
	bad(". > 1", 0,
	    "a '.' belongs between a metric and a field (e.g. cpu.deviation)");
}

Test(policy_bad, double_ampersand)
{
	bad("cpu.critical && memory.critical", 13, "use 'and' instead of '&&'");
}

Test(policy_bad, single_ampersand)
{
	bad("cpu.critical & memory.critical", 13, "use 'and' instead of '&'");
}

Test(policy_bad, double_pipe)
{
	bad("cpu.critical || memory.critical", 13, "use 'or' instead of '||'");
}

Test(policy_bad, bang)
{
	bad("!cpu.critical", 0, "use 'not' instead of '!'");
}

Test(policy_bad, single_equals)
{
	bad("cpu.severity = 80", 13, "'=' is not a comparison: use == (equal)");
}

Test(policy_bad, unexpected_character)
{
	bad("cpu.deviation > 0.1 ; rm", 20, "unexpected character ';'");
}

Test(policy_bad, non_ascii_byte)
{
	bad("cpu.deviation > 0.1 \xc3\xa9", 20,
	    "unexpected byte 0xc3 (a condition is ASCII text)");
}

Test(policy_bad, nul_byte)
{
	mit_expr_t e;
	mit_expr_err_t err;
	const char s[] = "cpu.critical\0or memory.critical";
	cr_assert_eq(mit_expr_parse(s, sizeof(s) - 1, &e, &err), ERR_PARSE);
	cr_assert_str_eq(err.msg, "unexpected byte 0x00 (a condition is ASCII "
				  "text)");
	cr_assert_eq(err.offset, 12);
}

Test(policy_bad, number_with_letters)
{
	bad("cpu.deviation > 0.1x", 19, "unexpected 'x' in a number");
}

Test(policy_bad, number_two_points)
{
	bad("cpu.deviation > 1.2.3", 19, "unexpected '.' in a number");
}

Test(policy_bad, minus_alone)
{
	bad("cpu.velocity > -", 15, "unexpected character '-'");
}

Test(policy_bad, number_too_long)
{
	bad("cpu.deviation > 0.000000000000000000000000000000000000000001",
	    16, "number too long (at most 40 characters)");
}

Test(policy_bad, number_out_of_range)
{
	bad("cpu.deviation > 1e13", 16, "number out of range (at most 1e+12)");
}

Test(policy_bad, missing_operand)
{
	bad("cpu.deviation >", 15,
	    "expected a value (METRIC.FIELD, a number, true, false or '('), "
	    "found the end");
}

Test(policy_bad, missing_right_of_and)
{
	bad("cpu.critical and", 16,
	    "expected a value (METRIC.FIELD, a number, true, false or '('), "
	    "found the end");
}

Test(policy_bad, leading_and)
{
	bad("and cpu.critical", 0,
	    "expected a value (METRIC.FIELD, a number, true, false or '('), "
	    "found 'and'");
}

Test(policy_bad, missing_close_paren)
{
	bad("(cpu.critical or memory.critical", 32,
	    "missing ')' for the '(' at offset 0");
}

Test(policy_bad, extra_close_paren)
{
	bad("cpu.critical)", 12, "unexpected ')' (no '(' to close)");
}

Test(policy_bad, empty_parens)
{
	bad("()", 1,
	    "expected a value (METRIC.FIELD, a number, true, false or '('), "
	    "found ')'");
}

Test(policy_bad, trailing_term)
{
	bad("cpu.critical memory.critical", 13,
	    "unexpected \"memory.critical\" after a complete condition (join "
	    "conditions with 'and' or 'or')");
}

Test(policy_bad, chained_comparison)
{
	bad("0.1 < cpu.deviation < 0.5", 20,
	    "comparisons do not chain: join them with 'and' (a < b and b < c)");
}

Test(policy_bad, number_and_bool_compared)
{
	bad("cpu.deviation > cpu.critical", 16,
	    "'>' compares a number with true/false (cpu.critical is "
	    "true/false)");
}

Test(policy_bad, bool_ordered)
{
	bad("cpu.critical < memory.critical", 13,
	    "'<' needs numbers; true/false compare with == or !=");
}

Test(policy_bad, and_with_number)
{
	bad("cpu.deviation and cpu.critical", 0,
	    "'and' needs true/false on both sides, but cpu.deviation is a "
	    "number (compare it, e.g. > 0.1)");
}

Test(policy_bad, or_with_number_right)
{
	bad("cpu.critical or 3", 16,
	    "'or' needs true/false on both sides, but 3 is a number (compare "
	    "it, e.g. > 0.1)");
}

Test(policy_bad, not_of_number)
{
	bad("not cpu.velocity", 4,
	    "'not' needs true/false on both sides, but cpu.velocity is a "
	    "number (compare it, e.g. > 0.1)");
}

Test(policy_bad, bare_number_condition)
{
	bad("cpu.deviation", 0,
	    "a condition must be true or false, but cpu.deviation is a number "
	    "(compare it, e.g. > 0.1)");
}

Test(policy_bad, no_metric)
{
	bad("true or 1 > 2", 0,
	    "the condition names no metric (expected e.g. cpu.deviation > "
	    "0.1)");
}

Test(policy_bad, too_long)
{
	char s[MIT_EXPR_MAX_LEN + 20];
	memset(s, ' ', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	memcpy(s, "cpu.critical", 12);
	bad(s, MIT_EXPR_MAX_LEN, "condition too long (1043 bytes; at most 1024)");
}

Test(policy_bad, nested_too_deeply)
{
	char s[256] = "";
	for (int i = 0; i < 40; i++)
		strcat(s, "(");
	strcat(s, "cpu.critical");
	for (int i = 0; i < 40; i++)
		strcat(s, ")");
	bad(s, 32, "nested too deeply (more than 32 levels)");
}

Test(policy_bad, too_many_nots)
{
	char s[512] = "";
	for (int i = 0; i < 40; i++)
		strcat(s, "not ");
	strcat(s, "cpu.critical");
	bad(s, 128, "nested too deeply (more than 32 levels)");
}

Test(policy_bad, too_many_terms)
{
	char s[MIT_EXPR_MAX_LEN + 1] = "cpu.critical";
	while (strlen(s) + 7 < MIT_EXPR_MAX_LEN)
		strcat(s, " or 1<2");
	mit_expr_t e;
	mit_expr_err_t err;
	cr_assert_eq(mit_expr_parse(s, strlen(s), &e, &err), ERR_PARSE);
	cr_assert_str_eq(err.msg, "condition too complex (more than 128 terms)");
}

/* ---------------------------------------------------------- valid */

static mit_eval_ctx_t ctx;

static void set(an_metric_t m, mit_field_t f, double v)
{
	ctx.val[m][f] = v;
}

Test(policy, seed_rule_and_precedence)
{
	mit_eval_ctx_clear(&ctx);
	mit_expr_t *e = parse_ok("cpu.deviation > 0.10 and cpu.velocity > "
				 "0.05");
	cr_assert_eq(e->metrics, 1u << AN_M_cpu);
	cr_assert_not(mit_expr_eval(e, &ctx), "unknown values are false");
	set(AN_M_cpu, MIT_F_deviation, 0.2);
	set(AN_M_cpu, MIT_F_velocity, 0.01);
	cr_assert_not(mit_expr_eval(e, &ctx));
	set(AN_M_cpu, MIT_F_velocity, 0.06);
	cr_assert(mit_expr_eval(e, &ctx));
	/* and binds tighter than or */
	e = parse_ok("memory.critical or cpu.deviation > 0.5 and "
		     "cpu.velocity > 0.05");
	cr_assert_not(mit_expr_eval(e, &ctx));
	set(AN_M_memory, MIT_F_critical, 1);
	cr_assert(mit_expr_eval(e, &ctx));
	char out[256];
	mit_expr_format(e, out, sizeof(out));
	cr_assert_str_eq(out, "memory.critical or (cpu.deviation > 0.5 and "
			      "cpu.velocity > 0.050000000000000003)");
}

Test(policy, issue_examples)
{
	mit_eval_ctx_clear(&ctx);
	mit_expr_t *e = parse_ok("diff_rate.deviation > 0.2 or "
				 "error_rate.predicted");
	cr_assert_eq(e->metrics, (1u << AN_M_diff_rate) | (1u << AN_M_error_rate));
	cr_assert_not(mit_expr_eval(e, &ctx));
	set(AN_M_error_rate, MIT_F_predicted, 1);
	cr_assert(mit_expr_eval(e, &ctx));
}

Test(policy, not_parens_percent_negative)
{
	mit_eval_ctx_clear(&ctx);
	mit_expr_t *e = parse_ok("not (latency_p99.severity >= 80) and "
				 "cpu.velocity < -5% and cpu.lead_s != 3");
	set(AN_M_latency_p99, MIT_F_severity, 10);
	set(AN_M_cpu, MIT_F_velocity, -0.06);
	cr_assert_not(mit_expr_eval(e, &ctx), "lead_s unknown: != is false too");
	set(AN_M_cpu, MIT_F_lead_s, 4);
	cr_assert(mit_expr_eval(e, &ctx));
	set(AN_M_latency_p99, MIT_F_severity, 80);
	cr_assert_not(mit_expr_eval(e, &ctx));
	char out[256];
	mit_expr_format(e, out, sizeof(out));
	cr_assert_str_eq(out, "not latency_p99.severity >= 80 and cpu.velocity "
			      "< -0.050000000000000003 and cpu.lead_s != 3");
}

Test(policy, bool_equality_and_constants)
{
	mit_eval_ctx_clear(&ctx);
	mit_expr_t *e = parse_ok("cpu.critical == false and true");
	cr_assert(mit_expr_eval(e, &ctx));
	set(AN_M_cpu, MIT_F_critical, 1);
	cr_assert_not(mit_expr_eval(e, &ctx));
	e = parse_ok("(cpu.deviation > 1) != (memory.deviation > 1)");
	set(AN_M_cpu, MIT_F_deviation, 2);
	set(AN_M_memory, MIT_F_deviation, 0);
	cr_assert(mit_expr_eval(e, &ctx));
}

Test(policy, format_round_trips)
{
	const char *cases[] = {
	    "a_metric_free_placeholder",
	    "cpu.critical or (memory.deviating and memory.velocity > 0.05)",
	    "not not cpu.critical",
	    "(cpu.critical or memory.critical) and diff_rate.deviation >= 1e-3",
	    "cpu.critical or (memory.critical or disk_read.critical)",
	    "(not cpu.critical) == memory.critical",
	    "net_rx.threshold <= .5 and net_tx.sustained",
	};
	for (size_t i = 1; i < sizeof(cases) / sizeof(*cases); i++) {
		mit_expr_t a, b;
		mit_expr_err_t err;
		char fa[512], fb[512];
		cr_assert_eq(mit_expr_parse(cases[i], strlen(cases[i]), &a, &err),
			     0, "%s: %s", cases[i], err.msg);
		mit_expr_format(&a, fa, sizeof(fa));
		cr_assert_eq(mit_expr_parse(fa, strlen(fa), &b, &err), 0,
			     "%s: %s", fa, err.msg);
		mit_expr_format(&b, fb, sizeof(fb));
		cr_assert_str_eq(fa, fb);
	}
}

Test(policy, explain_shows_values)
{
	mit_eval_ctx_clear(&ctx);
	mit_expr_t *e = parse_ok("cpu.deviation > 0.1 and cpu.velocity > 0.05 "
				 "or cpu.critical");
	set(AN_M_cpu, MIT_F_deviation, 0.45);
	char out[512];
	mit_expr_explain(e, &ctx, out, sizeof(out));
	cr_assert_str_eq(out, "(cpu.deviation(0.45) > 0.1 and cpu.velocity"
			      "(unknown) > 0.05) or cpu.critical(false)");
	char small[10];
	mit_expr_explain(e, &ctx, small, sizeof(small));
	cr_assert_eq(strlen(small), 9, "cut, NUL-terminated");
}

Test(policy, ctx_from_view_and_finding)
{
	an_metric_view_t v = {.valid = true, .deviation = 0.4, .velocity = 0.1,
			      .threshold = 0.1};
	an_finding_t f = {.metric = AN_M_cpu, .kind = AN_FIND_CRITICAL,
			  .severity = 90};
	mit_eval_ctx_clear(&ctx);
	mit_eval_ctx_set(&ctx, AN_M_cpu, &v, &f);
	cr_assert_eq(ctx.val[AN_M_cpu][MIT_F_critical], 1);
	cr_assert_eq(ctx.val[AN_M_cpu][MIT_F_deviating], 1);
	cr_assert_eq(ctx.val[AN_M_cpu][MIT_F_predicted], 0);
	cr_assert_eq(ctx.val[AN_M_cpu][MIT_F_severity], 90);
	cr_assert(isnan(ctx.val[AN_M_cpu][MIT_F_lead_s]));
	f.suppressed = true; /* explained by a scheduled task: not acted on */
	mit_eval_ctx_set(&ctx, AN_M_cpu, &v, &f);
	cr_assert_eq(ctx.val[AN_M_cpu][MIT_F_critical], 0);
	cr_assert_eq(ctx.val[AN_M_cpu][MIT_F_severity], 0);
	f = (an_finding_t){.kind = AN_FIND_PREDICTED, .predicted = true,
			   .lead_s = 120, .severity = 30};
	mit_eval_ctx_set(&ctx, AN_M_cpu, &v, &f);
	cr_assert_eq(ctx.val[AN_M_cpu][MIT_F_predicted], 1);
	cr_assert_eq(ctx.val[AN_M_cpu][MIT_F_deviating], 0);
	cr_assert_eq(ctx.val[AN_M_cpu][MIT_F_lead_s], 120);
	v.valid = false;
	mit_eval_ctx_set(&ctx, AN_M_cpu, &v, NULL);
	cr_assert(isnan(ctx.val[AN_M_cpu][MIT_F_deviation]));
}

Test(policy, default_policy)
{
	static mit_policy_t p;
	mit_policy_default(&p, 0.05, 600000000000LL);
	cr_assert(p.is_default);
	cr_assert_eq(p.n, 14);
	cr_assert_str_eq(p.rule[0].name, "default-cpu");
	cr_assert_str_eq(p.rule[0].when, "cpu.critical or (cpu.deviating and "
					 "cpu.velocity > "
					 "0.050000000000000003)");
	cr_assert_eq(p.rule[0].nthen, 3);
	cr_assert_eq(p.rule[0].then[0], MIT_ACT_ROLLBACK);
	cr_assert_eq(p.rule[0].then[1], MIT_ACT_SCALE);
	cr_assert_eq(p.rule[0].then[2], MIT_ACT_ALERT);
	cr_assert_str_eq(p.rule[2].name, "default-memory");
	cr_assert_eq(p.rule[2].nthen, 2, "scaling does not fix a leak");
	cr_assert_str_eq(p.rule[1].name, "default-cpu-predicted");
	cr_assert_eq(p.rule[1].then[0], MIT_ACT_ALERT);
	const char *names[] = {"latency_p50", "latency_p90", "latency_p99",
			       "error_rate", "diff_rate"};
	for (int i = 0; i < 5; i++) {
		char want[64];
		snprintf(want, sizeof(want), "default-%s", names[i]);
		cr_assert_str_eq(p.rule[4 + 2 * i].name, want);
	}
	/* it fires on a critical cpu finding */
	mit_eval_ctx_clear(&ctx);
	set(AN_M_cpu, MIT_F_critical, 1);
	cr_assert(mit_expr_eval(&p.rule[0].expr, &ctx));
	cr_assert_not(mit_expr_eval(&p.rule[2].expr, &ctx));
}

Test(policy, add_rejects_unknown_action_and_dedups)
{
	static mit_policy_t p;
	mit_expr_err_t err;
	const char *bad_then[] = {"alert", "page"};
	cr_assert_eq(mit_policy_add(&p, "r", "cpu.critical", bad_then, 2, 0,
				    &err),
		     ERR_INVAL);
	cr_assert_str_eq(err.msg, "unknown action \"page\" (expected rollback, "
				  "scale, stress, alert or hold)");
	const char *twice[] = {"alert", "alert", "hold"};
	cr_assert_eq(mit_policy_add(&p, "r", "cpu.critical", twice, 3, 0, &err),
		     0);
	cr_assert_eq(p.rule[0].nthen, 2);
}

/* ---------------------------------------------------------- governor */

#define S 1000000000LL

Test(governor, cooldown_per_kind_and_rule)
{
	mit_gov_t g;
	mit_gov_init(&g, 600 * S, 6);
	char why[256];
	int64_t t = 1000 * S;
	cr_assert(mit_gov_act_ready(&g, MIT_ACT_ROLLBACK, 0, t, why, sizeof(why)));
	mit_gov_act_taken(&g, MIT_ACT_ROLLBACK, 0, t);
	cr_assert_not(mit_gov_act_ready(&g, MIT_ACT_ROLLBACK, 0, t + 599 * S, why,
					sizeof(why)));
	cr_assert_str_eq(why, "rollback cooldown: the last one not on a finding was 599 s ago "
			      "(mitigation.cooldown 600 s)");
	cr_assert(mit_gov_act_ready(&g, MIT_ACT_SCALE, 0, t + S, why, sizeof(why)),
		  "kinds have their own cooldown");
	cr_assert(mit_gov_act_ready(&g, MIT_ACT_ROLLBACK, 0, t + 600 * S, why,
				    sizeof(why)));
	/* alerts and holds are never limited */
	for (int i = 0; i < 10; i++)
		mit_gov_act_taken(&g, MIT_ACT_ALERT, 0, t);
	cr_assert(mit_gov_act_ready(&g, MIT_ACT_ALERT, 0, t, why, sizeof(why)));
	cr_assert_eq(mit_gov_hour_count(&g, t), 1);

	/* a positive cooldown: again each cooldown while it holds */
	mit_rule_t rules[2] = {{.cooldown_ns = 60 * S}, {.cooldown_ns = 0}};
	cr_assert_not(mit_gov_rule_check(&g, rules, 0, false, false, t));
	cr_assert(mit_gov_rule_check(&g, rules, 0, true, false, t));
	mit_gov_rule_fired(&g, 0, t);
	cr_assert_not(mit_gov_rule_check(&g, rules, 0, true, false, t + 59 * S));
	cr_assert(mit_gov_rule_check(&g, rules, 0, true, false, t + 60 * S));
	/* cooldown 0: once per episode */
	cr_assert(mit_gov_rule_check(&g, rules, 1, true, false, t));
	mit_gov_rule_fired(&g, 1, t);
	cr_assert_not(mit_gov_rule_check(&g, rules, 1, true, false, t + S),
		      "still the same episode");
	cr_assert_not(mit_gov_rule_check(&g, rules, 1, false, false, t + 2 * S));
	cr_assert(mit_gov_rule_check(&g, rules, 1, true, false, t + 3 * S),
		  "a new episode");
}

Test(governor, cooldowns_and_cap_per_finding)
{
	mit_gov_t g;
	mit_gov_init(&g, 600 * S, 1);
	char why[256];
	int64_t t = 1000 * S;
	mit_gov_act_taken(&g, MIT_ACT_ROLLBACK, 7, t);
	cr_assert_not(mit_gov_act_ready(&g, MIT_ACT_ROLLBACK, 7, t + S, why,
					sizeof(why)));
	cr_assert_str_eq(why, "rollback cooldown: the last one for this "
			      "finding was 1 s ago (mitigation.cooldown 600 s)");
	cr_assert(mit_gov_act_ready(&g, MIT_ACT_ROLLBACK, 8, t + S, why,
				    sizeof(why)),
		  "another finding has its own cooldown and cap");
	cr_assert_not(mit_gov_act_ready(&g, MIT_ACT_SCALE, 7, t + S, why,
					sizeof(why)),
		      "the cap of finding 7 is used");
	cr_assert(mit_gov_act_ready(&g, MIT_ACT_SCALE, 0, t + S, why,
				    sizeof(why)));
	cr_assert_eq(mit_gov_hour_count(&g, t + S), 1);
	/* more findings than remembered: the oldest is forgotten */
	for (uint64_t k = 100; k < 100 + MIT_GOV_KEYS; k++)
		mit_gov_act_taken(&g, MIT_ACT_ROLLBACK, k, t + 2 * S);
	cr_assert_not(mit_gov_act_ready(&g, MIT_ACT_ROLLBACK, 100, t + 3 * S,
					why, sizeof(why)));
	cr_assert_eq(mit_gov_hour_count(&g, t + 3 * S), 1 + MIT_GOV_KEYS);

	/* a fresh condition (new findings) fires within the cooldown */
	mit_rule_t rules[1] = {{.cooldown_ns = 600 * S}};
	cr_assert(mit_gov_rule_check(&g, rules, 0, true, false, t));
	mit_gov_rule_fired(&g, 0, t);
	cr_assert_not(mit_gov_rule_check(&g, rules, 0, true, false, t + S));
	cr_assert(mit_gov_rule_check(&g, rules, 0, true, true, t + 2 * S));
	cr_assert_not(mit_gov_rule_check(&g, rules, 0, false, true, t + 3 * S),
		      "never when the condition does not hold");
}

Test(governor, hourly_cap)
{
	mit_gov_t g;
	mit_gov_init(&g, 0, 3);
	char why[256];
	int64_t t = 5000 * S;
	for (int i = 0; i < 3; i++) {
		cr_assert(mit_gov_act_ready(&g, MIT_ACT_SCALE, 0, t + i * S, why,
					    sizeof(why)));
		mit_gov_act_taken(&g, MIT_ACT_SCALE, 0, t + i * S);
	}
	cr_assert_not(mit_gov_act_ready(&g, MIT_ACT_ROLLBACK, 0, t + 10 * S, why,
					sizeof(why)),
		      "the cap counts all kinds");
	cr_assert_str_eq(why, "hourly cap: 3 automatic actions not on a finding "
			      "in the last hour "
			      "(mitigation.max_actions_per_hour 3)");
	cr_assert(mit_gov_act_ready(&g, MIT_ACT_ROLLBACK, 0, t + 3600 * S, why,
				    sizeof(why)),
		  "the first one left the hour");
	mit_gov_init(&g, 0, 0);
	cr_assert_not(mit_gov_act_ready(&g, MIT_ACT_SCALE, 0, t, why, sizeof(why)),
		      "a cap of 0 allows no automatic action");
	cr_assert(mit_gov_act_ready(&g, MIT_ACT_ALERT, 0, t, why, sizeof(why)));
}

/* ---------------------------------------------------------- in config */

static char *config_error(const char *text)
{
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	int rc = config_load_string("t.yaml", text, strlen(text), "/base", &cfg,
				    &errs);
	cr_assert_eq(rc, ERR_CONFIG);
	buf_t b = BUF_INIT;
	config_error_format(&errs.v[0], &b);
	config_errors_free(&errs);
	return buf_steal(&b);
}

#define HEAD "service: api\nproduction:\n  upstreams: [127.0.0.1:9000]\n"

Test(policy_config, error_points_into_plain_scalar)
{
	char *e = config_error(HEAD "mitigation:\n  policy:\n    - name: a\n"
				    "      when: cpu.deviation > 0.1 and "
				    "cpu.velocty > 0.05\n");
	cr_assert_str_eq(e, "t.yaml:7:41: mitigation.policy[0].when: unknown "
			    "field \"velocty\"; did you mean \"velocity\"?");
	free(e);
}

Test(policy_config, error_points_into_quoted_scalar)
{
	char *e = config_error(HEAD "mitigation:\n  policy:\n    - name: a\n"
				    "      when: \"memory.critical && "
				    "cpu.critical\"\n");
	cr_assert_str_eq(e, "t.yaml:7:30: mitigation.policy[0].when: use 'and' "
			    "instead of '&&'");
	free(e);
}

Test(policy_config, multi_line_scalar_says_where)
{
	char *e = config_error(HEAD "mitigation:\n  policy:\n    - name: a\n"
				    "      when: |\n        cpu.critical or\n"
				    "        (memory.critical\n");
	cr_assert(strstr(e, "mitigation.policy[0].when: missing ')' for the '(' "
			    "at offset 16 (at character 34 of the condition)"),
		  "%s", e);
	free(e);
}

Test(policy_config, duplicate_rule_names)
{
	char *e = config_error(HEAD "mitigation:\n  policy:\n    - name: a\n"
				    "      when: cpu.critical\n    - name: a\n"
				    "      when: memory.critical\n");
	cr_assert_str_eq(e, "t.yaml:8:13: mitigation.policy[1].name: duplicate "
			    "rule name \"a\" (also mitigation.policy[0]; names "
			    "identify rules in the audit log)");
	free(e);
}

Test(policy_config, reload_mode_needs_reload)
{
	char *e = config_error(HEAD "mitigation:\n  rollback:\n    mode: "
				    "reload\n");
	cr_assert_str_eq(e, "t.yaml:6:11: mitigation.rollback.mode: reload "
			    "needs production.reload.command or "
			    "production.reload.signal (or use restart or auto)");
	free(e);
}

Test(policy_config, hook_placeholders)
{
	char *e = config_error(HEAD "mitigation:\n  scale:\n    hook: [kubectl, "
				    "scale, \"--replicas={port}\"]\n");
	cr_assert_str_eq(e, "t.yaml:6:28: mitigation.scale.hook: unknown "
			    "placeholder \"{port}\" (expected {replicas} "
			    "{service})");
	free(e);
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	const char *ok = HEAD "mitigation:\n  scale:\n    hook: [kubectl, scale, "
			      "\"--replicas={replicas}\", \"{service}\"]\n";
	cr_assert_eq(config_load_string("t.yaml", ok, strlen(ok), "/base", &cfg,
					&errs),
		     0);
	config_errors_free(&errs);
	config_free(cfg);
}
