/*
 * test_client_fmt.c: the pure half of the client commands (client_cmd.h):
 * --since, --limit and event time parsing (one test per kind of bad
 * value), event kinds and text, the value formats, choosing rows (newest
 * first, limit, open findings, the last action), and the renderers on
 * crafted API replies, including replies with fields missing.
 */
#include "base/clock.h"
#include "base/err.h"
#include "cmd/client_cmd.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

/* 2026-01-31T12:00:00Z */
#define NOW_S 1769860800LL
#define NOW (NOW_S * NS_PER_S)

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	cr_assert_not_null(j, "bad test JSON: %s: %s", text, e.text);
	return j;
}

/* ------------------------------------------------------------ --since */

Test(since, durations)
{
	int64_t w;
	bool t;
	const char *why = NULL;
	cr_assert_eq(cmd_since_parse(NULL, NOW, &w, &t, &why), 0);
	cr_assert_eq(w, 3600 * NS_PER_S);
	cr_assert_not(t);
	cr_assert_eq(cmd_since_parse("30m", NOW, &w, &t, &why), 0);
	cr_assert_eq(w, 1800 * NS_PER_S);
	cr_assert_eq(cmd_since_parse("1h30m", NOW, &w, &t, &why), 0);
	cr_assert_eq(w, 5400 * NS_PER_S);
	cr_assert_eq(cmd_since_parse("7d", NOW, &w, &t, &why), 0);
	cr_assert_eq(w, 7 * 86400 * NS_PER_S);
}

Test(since, times)
{
	int64_t w;
	bool t;
	const char *why = NULL;
	cr_assert_eq(cmd_since_parse("2026-01-31T11:00:00Z", NOW, &w, &t, &why),
		     0);
	cr_assert_eq(w, 3600 * NS_PER_S);
	cr_assert(t);
	cr_assert_eq(cmd_since_parse("2026-01-30T13:00:00+01:00", NOW, &w, &t,
				     &why),
		     0);
	cr_assert_eq(w, 86400 * NS_PER_S);
	/* "-1h" is one hour ago, as "1h" */
	cr_assert_eq(cmd_since_parse("-1h", NOW, &w, &t, &why), 0);
	cr_assert_eq(w, 3600 * NS_PER_S);
	cr_assert_not(t);
	cr_assert_eq(cmd_since_parse("1769857200", NOW, &w, &t, &why), 0);
	cr_assert_eq(w, 3600 * NS_PER_S);
	cr_assert(t);
}

static void since_bad(const char *s, int rc, const char *why_part)
{
	int64_t w = -1;
	bool t;
	const char *why = NULL;
	cr_assert_eq(cmd_since_parse(s, NOW, &w, &t, &why), rc, "%s", s);
	cr_assert_not_null(why, "%s", s);
	cr_assert(strstr(why, why_part), "%s: '%s'", s, why);
}

Test(since, zero_window) { since_bad("0", ERR_RANGE, "longer than 0"); }
Test(since, future) { since_bad("2026-02-01T00:00:00Z", ERR_RANGE, "not in the past"); }
Test(since, now_is_not_a_window) { since_bad("now", ERR_RANGE, "not in the past"); }
Test(since, ahead) { since_bad("+1h", ERR_RANGE, "not in the past"); }
Test(since, no_zone) { since_bad("2026-01-30T12:00:00", ERR_PARSE, "time zone"); }
Test(since, words) { since_bad("yesterday", ERR_PARSE, "expected"); }
Test(since, empty) { since_bad("", ERR_PARSE, "empty"); }
Test(since, trailing_junk) { since_bad("2026-01-31T11:00:00Zx", ERR_PARSE, "junk"); }
Test(since, bad_unit) { since_bad("5y", ERR_PARSE, "expected"); }
Test(since, too_long)
{
	char s[CMD_SINCE_MAX_LEN + 8];
	memset(s, '1', sizeof(s) - 2);
	s[sizeof(s) - 2] = 's';
	s[sizeof(s) - 1] = '\0';
	since_bad(s, ERR_PARSE, "too long");
}
Test(since, before_1970) { since_bad("1969-12-31T00:00:00Z", ERR_RANGE, "1970"); }

/* ------------------------------------------------------------ --limit */

Test(limit, values)
{
	size_t n;
	const char *why = NULL;
	cr_assert_eq(cmd_limit_parse("1", &n, &why), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(cmd_limit_parse("1000", &n, &why), 0);
	cr_assert_eq(n, 1000);
	cr_assert_eq(cmd_limit_parse("0", &n, &why), ERR_RANGE);
	cr_assert_eq(cmd_limit_parse("1001", &n, &why), ERR_RANGE);
	cr_assert_eq(cmd_limit_parse("-3", &n, &why), ERR_RANGE);
	cr_assert_eq(cmd_limit_parse("ten", &n, &why), ERR_PARSE);
	cr_assert_eq(cmd_limit_parse("5x", &n, &why), ERR_PARSE);
	cr_assert_eq(cmd_limit_parse("", &n, &why), ERR_PARSE);
}

/* ------------------------------------------------------------ events */

Test(time_parse, forms)
{
	int64_t ns;
	const char *why = NULL;
	cr_assert_eq(cmd_time_parse("now", NOW, &ns, &why), 0);
	cr_assert_eq(ns, NOW);
	cr_assert_eq(cmd_time_parse("-10m", NOW, &ns, &why), 0);
	cr_assert_eq(ns, NOW - 600 * NS_PER_S);
	cr_assert_eq(cmd_time_parse("+5m", NOW, &ns, &why), 0);
	cr_assert_eq(ns, NOW + 300 * NS_PER_S);
	cr_assert_eq(cmd_time_parse("1769860800", NOW, &ns, &why), 0);
	cr_assert_eq(ns, NOW);
	cr_assert_eq(cmd_time_parse("1769860800.5", NOW, &ns, &why), 0);
	cr_assert_eq(ns, NOW + NS_PER_S / 2);
	cr_assert_eq(cmd_time_parse("2026-01-31T12:00:00Z", NOW, &ns, &why), 0);
	cr_assert_eq(ns, NOW);
	/* one grammar: a bare duration is that long ago, as with the minus */
	cr_assert_eq(cmd_time_parse("1h", NOW, &ns, &why), 0);
	cr_assert_eq(ns, NOW - 3600 * NS_PER_S);
	cr_assert_eq(cmd_time_parse("-1h", NOW, &ns, &why), 0);
	cr_assert_eq(ns, NOW - 3600 * NS_PER_S);
	/* RFC 3339 with a fraction and an offset */
	cr_assert_eq(cmd_time_parse("2026-01-31T13:00:00.25+01:00", NOW, &ns,
				    &why),
		     0);
	cr_assert_eq(ns, NOW + NS_PER_S / 4);
	cr_assert_eq(cmd_time_parse("2026-01-31T11:30:00-00:30", NOW, &ns, &why),
		     0);
	cr_assert_eq(ns, NOW);
}

Test(time_parse, malformed)
{
	int64_t ns;
	const char *why = NULL;
	cr_assert_eq(cmd_time_parse("", NOW, &ns, &why), ERR_PARSE);
	cr_assert_eq(cmd_time_parse("-", NOW, &ns, &why), ERR_PARSE);
	cr_assert_eq(cmd_time_parse("-10", NOW, &ns, &why), ERR_PARSE);
	cr_assert_eq(cmd_time_parse("+ten", NOW, &ns, &why), ERR_PARSE);
	cr_assert_eq(cmd_time_parse("tomorrow", NOW, &ns, &why), ERR_PARSE);
	cr_assert_eq(cmd_time_parse("2026-13-01T00:00:00Z", NOW, &ns, &why),
		     ERR_PARSE);
	cr_assert_eq(cmd_time_parse("2026-01-31 12:00:00", NOW, &ns, &why),
		     ERR_PARSE);
	cr_assert_eq(cmd_time_parse("2026-01-31T12:00:00+01", NOW, &ns, &why),
		     ERR_PARSE);
	cr_assert_eq(cmd_time_parse("2026-01-31T12:00:00", NOW, &ns, &why),
		     ERR_PARSE, "RFC 3339 has a zone");
	cr_assert_eq(cmd_time_parse("2026-01-31T12:00:00.Z", NOW, &ns, &why),
		     ERR_PARSE);
	cr_assert_eq(cmd_time_parse("2026-01-31T12:00:00+25:00", NOW, &ns,
				    &why),
		     ERR_PARSE);
	cr_assert_eq(cmd_time_parse("1.2.3", NOW, &ns, &why), ERR_PARSE);
	cr_assert_eq(cmd_time_parse("9999999999", NOW, &ns, &why), ERR_RANGE);
	cr_assert_eq(cmd_time_parse("2101-01-01T00:00:00Z", NOW, &ns, &why),
		     ERR_RANGE);
}

Test(event, kinds)
{
	cr_assert_str_eq(cmd_event_kind("deploy"), "deploy");
	cr_assert_str_eq(cmd_event_kind("config"), "config_change");
	cr_assert_str_eq(cmd_event_kind("config_change"), "config_change");
	cr_assert_str_eq(cmd_event_kind("note"), "note");
	cr_assert_str_eq(cmd_event_kind("scheduled"), "scheduled");
	cr_assert_null(cmd_event_kind("party"));
	cr_assert_null(cmd_event_kind("Deploy"));
	cr_assert_null(cmd_event_kind(""));
	cr_assert_null(cmd_event_kind(NULL));
}

Test(event, text)
{
	buf_t b = BUF_INIT;
	cmd_event_text("rolled out", "v2.3.1", &b);
	cr_assert_str_eq(b.data, "v2.3.1: rolled out");
	cmd_event_text(NULL, "v2.3.1", &b);
	cr_assert_str_eq(b.data, "v2.3.1");
	cmd_event_text("a note", NULL, &b);
	cr_assert_str_eq(b.data, "a note");
	cmd_event_text("a note", "", &b);
	cr_assert_str_eq(b.data, "a note");
	buf_free(&b);
}

/* ------------------------------------------------------------ formats */

Test(fmt, api_time)
{
	char t[CMD_TIME_LEN];
	cr_assert_str_eq(cmd_fmt_api_time("2026-11-27T07:44:56.532Z", t),
			 "2026-11-27T07:44:56Z");
	cr_assert_str_eq(cmd_fmt_api_time("2026-11-27T07:44:56Z", t),
			 "2026-11-27T07:44:56Z");
	cr_assert_str_eq(cmd_fmt_api_time("yesterday", t), "yesterday");
	cr_assert_str_eq(cmd_fmt_api_time("", t), "-");
	cr_assert_str_eq(cmd_fmt_api_time(NULL, t), "-");
}

Test(fmt, age)
{
	char a[CMD_AGE_LEN];
	cr_assert_str_eq(cmd_fmt_age(0.4, a), "0.4s");
	cr_assert_str_eq(cmd_fmt_age(42, a), "42s");
	cr_assert_str_eq(cmd_fmt_age(307, a), "5m07s");
	cr_assert_str_eq(cmd_fmt_age(3 * 3600 + 120, a), "3h02m");
	cr_assert_str_eq(cmd_fmt_age(4 * 86400 + 3 * 3600, a), "4d03h");
	cr_assert_str_eq(cmd_fmt_age(-1, a), "-");
	cr_assert_str_eq(cmd_fmt_age(NAN, a), "-");
}

Test(fmt, pct)
{
	char p[CMD_PCT_LEN];
	cr_assert_str_eq(cmd_fmt_pct(1.5, p), "150%");
	cr_assert_str_eq(cmd_fmt_pct(0.12, p), "12%");
	cr_assert_str_eq(cmd_fmt_pct(0.035, p), "3.5%");
	cr_assert_str_eq(cmd_fmt_pct(0.0005, p), "0.05%");
	cr_assert_str_eq(cmd_fmt_pct(0, p), "0%");
	cr_assert_str_eq(cmd_fmt_pct(-0.2, p), "-20%");
	cr_assert_str_eq(cmd_fmt_pct(INFINITY, p), "-");
}

/* ------------------------------------------------------------ rows */

Test(rows, newest_first_limit_keep)
{
	json_t *arr = J("[{\"id\":1,\"time\":\"2026-01-31T10:00:00.000Z\"},"
			"{\"id\":3,\"time\":\"2026-01-31T11:00:00.000Z\"},"
			"7,"
			"{\"id\":2,\"time\":\"2026-01-31T11:00:00.000Z\"}]");
	json_t *all = cmd_list_select(arr, "time", 0, NULL, NULL);
	cr_assert_eq(json_array_size(all), 3); /* 7 is not a row */
	json_int_t want[] = {3, 2, 1};
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(json_integer_value(json_object_get(
				     json_array_get(all, i), "id")),
			     want[i]);
	json_t *two = cmd_list_select(arr, "time", 2, NULL, NULL);
	cr_assert_eq(json_array_size(two), 2);
	json_t *empty = json_array();
	json_t *none = cmd_list_select(empty, "time", 5, NULL, NULL);
	cr_assert_eq(json_array_size(none), 0);
	json_decref(none);
	json_decref(empty);
	json_decref(two);
	json_decref(all);
	json_decref(arr);
}

Test(rows, open_findings)
{
	json_t *f = J("[{\"metric\":\"cpu\",\"time\":\"t3\",\"id\":3},"
		      "{\"metric\":\"memory\",\"time\":\"t2\",\"id\":2},"
		      "{\"metric\":\"cpu\",\"time\":\"t1\",\"id\":1},"
		      "{\"time\":\"t0\",\"id\":0}]");
	json_t *st = J("{\"analysis\":{\"cpu\":{\"open\":\"critical\"},"
		       "\"memory\":{\"open\":\"none\"}}}");
	json_t *o = cmd_findings_open(f, st);
	cr_assert_eq(json_array_size(o), 1);
	cr_assert_eq(json_integer_value(
			     json_object_get(json_array_get(o, 0), "id")),
		     3);
	json_decref(o);
	json_t *empty = J("{}"); /* a status without analysis: none open */
	o = cmd_findings_open(f, empty);
	cr_assert_eq(json_array_size(o), 0);
	json_decref(o);
	json_decref(empty);
	json_decref(st);
	json_decref(f);
}

Test(rows, last_action)
{
	json_t *a = J("[{\"id\":1,\"time\":\"t1\",\"detail\":{\"record\":"
		      "\"decision\"}},"
		      "{\"id\":4,\"time\":\"t2\",\"detail\":{\"record\":"
		      "\"outcome\"}},"
		      "{\"id\":3,\"time\":\"t2\",\"detail\":{\"record\":"
		      "\"action\"}},"
		      "{\"id\":9,\"time\":\"t9\",\"detail\":{\"record\":"
		      "\"decision\"}}]");
	json_t *l = cmd_last_action(a);
	cr_assert_not_null(l);
	cr_assert_eq(json_integer_value(json_object_get(l, "id")), 4);
	json_t *d = J("[{\"id\":1,\"time\":\"t1\",\"detail\":\"text\"}]");
	cr_assert_null(cmd_last_action(d));
	json_decref(d);
	json_decref(a);
}

/* ------------------------------------------------------------ renderers */

Test(render, status_ok_and_held)
{
	json_t *st = J(
		"{\"service\":\"shop\",\"uptime_s\":307,\"ticks\":12,"
		"\"findings\":1,\"production\":{\"replicas_up\":2},"
		"\"shadow\":{\"replicas_up\":1},\"analysis\":{\"cpu\":"
		"{\"deviation\":0.05,\"threshold\":0.1,\"velocity\":0.01,"
		"\"open\":\"none\"}},\"mitigation\":{\"held\":false,"
		"\"replicas_desired\":3,\"stress\":\"idle\"}}");
	json_t *last = J("{\"time\":\"2026-01-31T11:59:00.000Z\",\"kind\":"
			 "\"scale\",\"outcome\":\"ok\",\"detail\":{\"record\":"
			 "\"outcome\",\"detail\":\"set replicas: ok\"}}");
	buf_t b = BUF_INIT;
	cr_assert_not(cmd_render_status(st, last, "u.yaml", &b));
	cr_assert(strstr(b.data, "shop: OK\n") == b.data, "%s", b.data);
	cr_assert(strstr(b.data, "uptime      5m07s (12 analysis ticks"),
		  "%s", b.data);
	cr_assert(strstr(b.data, "production  2 replicas up, 3 desired\n"),
		  "%s", b.data);
	cr_assert(strstr(b.data, "shadow      1 replica up\n"), "%s", b.data);
	cr_assert(strstr(b.data, "findings    none open\n"), "%s", b.data);
	cr_assert(strstr(b.data, "last action 2026-01-31T11:59:00Z: scale ok "
				 "(set replicas: ok)"),
		  "%s", b.data);
	cr_assert(strstr(b.data, "stress test idle"), "%s", b.data);
	json_object_set_new(json_object_get(st, "mitigation"), "held",
			    json_true());
	json_object_set_new(json_object_get(st, "mitigation"), "hold_reason",
			    json_string("verification failed"));
	json_object_set_new(json_object_get(json_object_get(st, "analysis"),
					    "cpu"),
			    "open", json_string("critical"));
	buf_reset(&b);
	cr_assert(cmd_render_status(st, NULL, "u.yaml", &b));
	cr_assert(strstr(b.data, "shop: ATTENTION: automatic actions held; "
				 "critical finding on cpu\n") == b.data,
		  "%s", b.data);
	cr_assert(strstr(b.data, "HELD: verification failed"), "%s", b.data);
	cr_assert(strstr(b.data, "umbra release u.yaml"), "%s", b.data);
	cr_assert(strstr(b.data, "findings    1 open: cpu (critical)"), "%s",
		  b.data);
	cr_assert(strstr(b.data, "no action in the last 24h"), "%s", b.data);
	buf_free(&b);
	json_decref(last);
	json_decref(st);
}

/* The warm-up and the identity fields: a metric over its threshold in
 * its warm-up is not flagged (nothing is judged yet). */
Test(render, status_while_warming_up)
{
	json_t *st = J("{\"service\":\"shop\",\"analysis_warming\":true,"
		       "\"identity\":\"x-side (learned)\",\"analysis\":{"
		       "\"cpu\":{\"deviation\":0.5,\"threshold\":0.1,"
		       "\"open\":\"none\",\"warming\":true,"
		       "\"warmup_left_s\":42},\"memory\":{\"deviation\":"
		       "0.01,\"threshold\":0.15,\"open\":\"none\","
		       "\"warming\":true,\"warmup_left_s\":40}}}");
	buf_t b = BUF_INIT;
	cr_assert_not(cmd_render_status(st, NULL, "u.yaml", &b));
	cr_assert(strstr(b.data, "shop: OK\n") == b.data, "%s", b.data);
	cr_assert(strstr(b.data, "warm-up     learning what normal looks like: "
				 "no finding for up to 42 s more\n"),
		  "%s", b.data);
	cr_assert(strstr(b.data, "identity    x-side (learned): left out"),
		  "%s", b.data);
	cr_assert(strstr(b.data, "  cpu"), "%s", b.data);
	cr_assert(strstr(b.data, "warming up"), "%s", b.data);
	cr_assert_null(strstr(b.data, "over threshold"), "%s", b.data);
	cr_assert_null(strstr(b.data, "!"), "%s", b.data);
	buf_free(&b);
	json_decref(st);
}

Test(render, status_of_an_empty_reply)
{
	json_t *st = J("{}");
	buf_t b = BUF_INIT;
	cr_assert_not(cmd_render_status(st, NULL, "u.yaml", &b));
	cr_assert(strstr(b.data, "?: OK\n") == b.data, "%s", b.data);
	cr_assert(strstr(b.data, "production  -\n"), "%s", b.data);
	buf_free(&b);
	json_decref(st);
}

Test(render, findings)
{
	buf_t b = BUF_INIT;
	json_t *none = json_array();
	cmd_render_findings(none, "in the last 30m", &b);
	cr_assert_str_eq(b.data, "no findings in the last 30m\n");
	json_t *f = J("[{\"time\":\"2026-01-31T11:00:00.123Z\",\"metric\":"
		      "\"cpu\",\"severity\":\"critical\",\"summary\":\"cpu "
		      "up\"},{\"time\":\"2026-01-31T10:00:00.000Z\"}]");
	buf_reset(&b);
	cmd_render_findings(f, "in the last 1h", &b);
	cr_assert_str_eq(b.data,
			 "TIME (UTC)            METRIC        SEVERITY  SUMMARY\n"
			 "2026-01-31T11:00:00Z  cpu           critical  cpu up\n"
			 "2026-01-31T10:00:00Z  -             -         -\n");
	buf_free(&b);
	json_decref(f);
	json_decref(none);
}

Test(render, events)
{
	json_t *e = J("[{\"start\":\"2026-01-31T11:00:00.000Z\",\"end\":"
		      "\"2026-01-31T11:00:00.000Z\",\"type\":\"deploy\","
		      "\"side\":\"production\",\"text\":\"v2: out\"},"
		      "{\"start\":\"2026-01-31T09:00:00.000Z\",\"end\":"
		      "\"2026-01-31T10:00:00.000Z\",\"type\":\"scheduled\","
		      "\"side\":\"both\",\"text\":\"batch\"}]");
	buf_t b = BUF_INIT;
	cmd_render_events(e, "in the last 1h", &b);
	cr_assert_str_eq(
		b.data,
		"START (UTC)           END                   TYPE          SIDE "
		"       TEXT\n"
		"2026-01-31T11:00:00Z  -                     deploy        "
		"production  v2: out\n"
		"2026-01-31T09:00:00Z  2026-01-31T10:00:00Z  scheduled     both "
		"       batch\n");
	buf_reset(&b);
	cmd_render_event(json_array_get(e, 1), &b);
	cr_assert_str_eq(b.data, "recorded scheduled on both at 2026-01-31T"
				 "09:00:00Z until 2026-01-31T10:00:00Z: batch\n");
	buf_free(&b);
	json_decref(e);
}

Test(render, actions_chain)
{
	/* newest first as the API gives them; the outcome came later */
	json_t *a = J(
		"[{\"id\":4,\"time\":\"2026-01-31T11:02:00.000Z\",\"kind\":"
		"\"rollback\",\"outcome\":\"verified\",\"detail\":{\"record\":"
		"\"outcome\",\"id\":30,\"action\":20,\"detail\":\"recovered\"}},"
		"{\"id\":3,\"time\":\"2026-01-31T11:00:00.000Z\",\"kind\":"
		"\"rollback\",\"outcome\":\"started\",\"detail\":{\"record\":"
		"\"action\",\"id\":20,\"decision\":10,\"detail\":\"restore\"}},"
		"{\"id\":2,\"time\":\"2026-01-31T11:00:00.000Z\",\"kind\":"
		"\"decision\",\"reason\":\"rule cpu\",\"finding\":7,\"detail\":"
		"{\"record\":\"decision\",\"id\":10,\"actions\":\"rollback\"}},"
		"{\"id\":1,\"time\":\"2026-01-31T10:00:00.000Z\",\"kind\":"
		"\"alert\",\"outcome\":\"ok\",\"detail\":{\"record\":"
		"\"outcome\",\"id\":5,\"action\":4}}]");
	buf_t b = BUF_INIT;
	cmd_render_actions(a, "in the last 1h", &b);
	const char *want =
		"TIME (UTC)            RECORD       WHAT (newest decision first; "
		"its actions and their outcomes below it)\n"
		"2026-01-31T11:00:00Z  decision     rule cpu -> rollback  "
		"(finding 7)\n"
		"                        action     rollback started: restore\n"
		"2026-01-31T11:02:00Z      outcome  rollback verified: "
		"recovered\n"
		"                      (its action is older than the window)\n"
		"2026-01-31T10:00:00Z      outcome  alert ok\n";
	cr_assert_str_eq(b.data, want);
	buf_reset(&b);
	json_t *none = json_array();
	cmd_render_actions(none, "since 2026-01-31T10:00:00Z", &b);
	cr_assert_str_eq(b.data, "no decisions or actions since 2026-01-31T"
				 "10:00:00Z\n");
	json_decref(none);
	buf_free(&b);
	json_decref(a);
}

Test(render, notes)
{
	json_t *n = J("[{\"seq\":7,\"time\":\"2026-01-31T11:00:00.000Z\","
		      "\"kind\":\"finding\",\"text\":\"cpu critical\"}]");
	buf_t b = BUF_INIT;
	cmd_render_notes(n, &b);
	cr_assert_str_eq(b.data, "     7  2026-01-31T11:00:00Z  finding   cpu "
				 "critical\n");
	buf_free(&b);
	json_decref(n);
}

Test(render, status_degraded_while_a_side_is_short)
{
	json_t *st = J("{\"service\":\"shop\",\"production\":{\"replicas_up\":"
		       "1,\"replicas_desired\":1},\"shadow\":{\"replicas_up\":"
		       "0,\"replicas_desired\":1}}");
	buf_t b = BUF_INIT;
	cr_assert(cmd_render_status(st, NULL, "u.yaml", &b), "exit 3");
	cr_assert(strstr(b.data, "shop: DEGRADED: shadow 0/1 replicas up\n") ==
		      b.data,
		  "%s", b.data);
	buf_free(&b);
	json_decref(st);
}
