/*
 * test_csv.c: the offline input parsers. What they accept (long and wide
 * metric files, ISO 8601 and Unix timestamps, RFC 4180 quoting, CRLF, a
 * byte-order mark, blank lines, empty wide cells; event files), and one
 * test per way of being malformed, each checking line, column and
 * reason.
 */
#include "analysis/csv.h"
#include "base/err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#define NS 1000000000LL
#define T0 1767225600LL /* 2026-01-01T00:00:00Z */

static an_csv_series_t parse_ok(const char *text)
{
	an_csv_series_t s;
	an_csv_err_t e;
	int rc = an_csv_series_parse(text, strlen(text), &s, &e);
	cr_assert_eq(rc, 0, "rejected at %d:%d: %s", e.line, e.col, e.why);
	return s;
}

/* Expects text to be rejected at line:col with a reason containing why. */
static void series_bad(const char *text, size_t len, int line, int col,
		       const char *why)
{
	an_csv_series_t s;
	an_csv_err_t e;
	int rc = an_csv_series_parse(text, len, &s, &e);
	cr_assert_neq(rc, 0, "accepted: %s", text);
	cr_assert_eq(s.n, 0);
	cr_assert_null(s.names);
	cr_assert(e.why && strstr(e.why, why), "reason '%s', wanted '%s'",
		  e.why, why);
	cr_assert_eq(e.line, line, "line %d, wanted %d (%s)", e.line, line,
		     e.why);
	cr_assert_eq(e.col, col, "col %d, wanted %d (%s)", e.col, col, e.why);
	an_csv_series_free(&s);
}
#define BAD(text, line, col, why) series_bad(text, strlen(text), line, col, why)

static void events_bad(const char *text, int line, int col, const char *why)
{
	an_csv_events_t ev;
	an_csv_err_t e;
	cr_assert_neq(an_csv_events_parse(text, strlen(text), &ev, &e), 0,
		      "accepted: %s", text);
	cr_assert_eq(ev.n, 0);
	cr_assert(e.why && strstr(e.why, why), "reason '%s', wanted '%s'",
		  e.why, why);
	cr_assert_eq(e.line, line, "line %d (%s)", e.line, e.why);
	cr_assert_eq(e.col, col, "col %d (%s)", e.col, e.why);
}

/* ------------------------------------------------------------ accepted */

Test(csv, long_format)
{
	an_csv_series_t s = parse_ok("timestamp,metric,value\n"
				     "1767225600,cpu,0.5\n"
				     "1767225600,memory,1e8\n"
				     "1767225601,cpu,-0.25\n");
	cr_assert(!s.wide);
	cr_assert_eq(s.n, 3);
	cr_assert_eq(s.nnames, 2);
	cr_assert_str_eq(s.names[0].name, "cpu");
	cr_assert_eq(s.names[1].line, 3);
	cr_assert_eq(s.names[1].col, 12);
	cr_assert_eq(s.pts[2].t_ns, (T0 + 1) * NS);
	cr_assert_eq(s.pts[2].name, 0);
	cr_assert_float_eq(s.pts[1].value, 1e8, 1e-6);
	an_csv_series_free(&s);
}

Test(csv, wide_format_with_gaps_quotes_crlf_bom_blank_lines)
{
	an_csv_series_t s = parse_ok("\xef\xbb\xbf"
				     "Timestamp, cpu ,\"latency:/a,b\"\r\n"
				     "\r\n"
				     "2026-01-01T00:00:00Z,0.5,0.010\r\n"
				     "2026-01-01T00:00:01Z,,\"0.020\"\r\n"
				     "   \n"
				     "2026-01-01T00:00:02Z, 0.7 ,\r\n");
	cr_assert(s.wide);
	cr_assert_eq(s.nnames, 2);
	cr_assert_str_eq(s.names[0].name, "cpu");
	cr_assert_str_eq(s.names[1].name, "latency:/a,b");
	cr_assert_eq(s.names[1].col, 17);
	cr_assert_eq(s.n, 4);
	cr_assert_eq(s.pts[2].name, 1);
	cr_assert_float_eq(s.pts[2].value, 0.020, 1e-12);
	cr_assert_eq(s.pts[3].t_ns, (T0 + 2) * NS);
	an_csv_series_free(&s);
}

Test(csv, escaped_quotes_and_no_final_newline)
{
	an_csv_series_t s = parse_ok("time,\"a\"\"b\"\n1767225600,1");
	cr_assert_str_eq(s.names[0].name, "a\"b");
	cr_assert_eq(s.n, 1);
	an_csv_series_free(&s);
}

Test(csv, timestamps)
{
	struct {
		const char *s;
		int64_t ns;
	} ok[] = {
		{"1767225600", T0 * NS},
		{"1767225600.25", T0 * NS + 250000000},
		{"1767225600.000000001", T0 * NS + 1},
		{"2026-01-01T00:00:00Z", T0 * NS},
		{"2026-01-01t00:00:00z", T0 * NS},
		{"2026-01-01 00:00", T0 * NS},
		{"2026-01-01T00:00:00", T0 * NS},
		{"2026-01-01T00:00:00.5Z", T0 * NS + 500000000},
		{"2026-01-01T00:00:00,5Z", T0 * NS + 500000000},
		{"2026-01-01T02:00:00+02:00", T0 * NS},
		{"2026-01-01T02:00:00+0200", T0 * NS},
		{"2026-01-01T02:00:00+02", T0 * NS},
		{"2025-12-31T23:00:00-01:00", T0 * NS},
		{"2024-02-29T00:00:00Z", 1709164800LL * NS},
		{"1970-01-01T00:00:00Z", 0},
		{"0", 0},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ns = -1;
		const char *why = NULL;
		cr_assert_eq(an_time_parse(ok[i].s, strlen(ok[i].s), &ns, &why),
			     0, "%s: %s", ok[i].s, why);
		cr_assert_eq(ns, ok[i].ns, "%s: %lld", ok[i].s, (long long)ns);
	}
}

Test(csv, bad_timestamps)
{
	struct {
		const char *s, *why;
	} bad[] = {
		{"", "empty"},
		{"yesterday", "bad timestamp"},
		{"2026-01-01", "bad timestamp"},
		{"2026-13-01T00:00Z", "no such date"},
		{"2026-02-29T00:00Z", "no such date"},
		{"2026-04-31T00:00Z", "no such date"},
		{"2026-01-01T24:00Z", "no such time"},
		{"2026-01-01T00:60Z", "no such time"},
		{"2026-01-01T00:00:60Z", "no such time"},
		{"2026-01-01T00:00:6Z", "bad seconds"},
		{"2026-01-01T00:00:00.Z", "digits after the decimal point"},
		{"2026-01-01T00:00:00.1234567891Z", "more than 9 decimals"},
		{"2026-01-01T00:00:00+2", "bad time zone"},
		{"2026-01-01T00:00:00+24:00", "offset out of range"},
		{"2026-01-01T00:00:00Zjunk", "unexpected text"},
		{"2026-01-01T00:00:00 Z", "unexpected text"},
		{"1969-12-31T23:59:59Z", "year out of range"},
		{"1970-01-01T00:00:00+01:00", "out of range"},
		{"2200-01-01T00:00:00Z", "year out of range"},
		{"1767225600000", "milliseconds"},
		{"7258118400", "out of range"},
		{"-1", "bad timestamp"},
		{"17672256e2", "bad timestamp"},
		{"1767225600.", "digits after the decimal point"},
		{"1767225600.1234567890", "more than 9 decimals"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ns = 42;
		const char *why = NULL;
		cr_assert_eq(an_time_parse(bad[i].s, strlen(bad[i].s), &ns, &why),
			     ERR_PARSE, "%s accepted", bad[i].s);
		cr_assert(why && strstr(why, bad[i].why), "%s: '%s'", bad[i].s,
			  why);
		cr_assert_eq(ns, 42, "output untouched on failure");
	}
}

Test(csv, input_names)
{
	an_input_t in;
	const char *why;
	cr_assert_eq(an_input_parse("latency_p99", &in, &why), 0);
	cr_assert_eq(in.kind, AN_IN_METRIC);
	cr_assert_eq(in.metric, AN_M_latency_p99);
	cr_assert_eq(an_input_parse("rps", &in, &why), 0);
	cr_assert_eq(in.kind, AN_IN_RPS);
	cr_assert_eq(an_input_parse("connect_time", &in, &why), 0);
	cr_assert_eq(in.kind, AN_IN_CONNECT);
	cr_assert_eq(an_input_parse("ttfb", &in, &why), 0);
	cr_assert_eq(in.kind, AN_IN_TTFB);
	cr_assert_eq(an_input_parse("latency:/api/x", &in, &why), 0);
	cr_assert_eq(in.kind, AN_IN_EP_LATENCY);
	cr_assert_str_eq(in.endpoint, "/api/x");
	cr_assert_eq(an_input_parse("differ_rate:GET /y", &in, &why), 0);
	cr_assert_eq(in.kind, AN_IN_EP_DIFFER);
	cr_assert_eq(an_input_parse("requests:a", &in, &why), 0);
	cr_assert_eq(an_input_parse("cost:a", &in, &why), 0);
	cr_assert_eq(an_input_parse("cpu_seconds", &in, &why), ERR_PARSE);
	cr_assert(strstr(why, "unknown series"));
	cr_assert_eq(an_input_parse("latency:", &in, &why), ERR_PARSE);
	cr_assert(strstr(why, "without an endpoint"));
}

/* ------------------------------------------------------------ malformed */

Test(csv_bad, empty_file)
{
	BAD("", 1, 1, "empty file");
	BAD("\n\n  \n", 3, 1, "empty file");
}

Test(csv_bad, header_without_timestamp)
{
	BAD("cpu,memory\n1,2\n", 1, 1, "bad header");
}

Test(csv_bad, header_with_one_column)
{
	BAD("timestamp\n1767225600\n", 1, 1, "bad header");
}

Test(csv_bad, duplicate_column)
{
	BAD("timestamp,cpu,memory,cpu\n", 1, 22, "duplicate column");
}

Test(csv_bad, empty_column_name)
{
	BAD("timestamp,cpu,,memory\n", 1, 15, "empty series name");
}

Test(csv_bad, empty_metric_name_in_long_format)
{
	BAD("timestamp,metric,value\n1767225600,,1\n", 2, 12,
	    "empty series name");
}

Test(csv_bad, series_name_too_long)
{
	char buf[600];
	int n = snprintf(buf, sizeof(buf), "timestamp,");
	memset(buf + n, 'x', 300);
	strcpy(buf + n + 300, "\n");
	BAD(buf, 1, 11, "name too long");
}

Test(csv_bad, more_fields_than_header)
{
	BAD("timestamp,cpu\n1767225600,1,2\n", 2, 14, "more fields");
}

Test(csv_bad, fewer_fields_than_header)
{
	BAD("timestamp,cpu,memory\n1767225600,1\n", 2, 1, "fewer fields");
}

Test(csv_bad, bad_timestamp_in_row)
{
	BAD("timestamp,cpu\n1767225600,1\nnoon,2\n", 3, 1, "bad timestamp");
}

Test(csv_bad, impossible_date_in_row)
{
	BAD("timestamp,cpu\n2026-02-30T00:00:00Z,1\n", 2, 1, "no such date");
}

Test(csv_bad, milliseconds_for_seconds)
{
	BAD("timestamp,cpu\n1767225600000,1\n", 2, 1, "milliseconds");
}

Test(csv_bad, not_a_number)
{
	BAD("timestamp,cpu\n1767225600,abc\n", 2, 12, "not a number");
	BAD("timestamp,cpu\n1767225600,0x10\n", 2, 12, "not a number");
	BAD("timestamp,cpu\n1767225600,1.2.3\n", 2, 12, "not a number");
	BAD("timestamp,cpu\n1767225600,.\n", 2, 12, "not a number");
	BAD("timestamp,cpu\n1767225600,-\n", 2, 12, "not a number");
}

Test(csv_bad, nan_and_infinity)
{
	BAD("timestamp,cpu\n1767225600,nan\n", 2, 12, "not a number");
	BAD("timestamp,cpu\n1767225600,inf\n", 2, 12, "not a number");
	BAD("timestamp,cpu\n1767225600,Infinity\n", 2, 12, "not a number");
}

Test(csv_bad, number_out_of_range)
{
	BAD("timestamp,cpu\n1767225600,1e999\n", 2, 12, "out of range");
}

Test(csv_bad, bad_exponent)
{
	BAD("timestamp,cpu\n1767225600,1e\n", 2, 12, "bad exponent");
	BAD("timestamp,cpu\n1767225600,1e+\n", 2, 12, "bad exponent");
}

Test(csv_bad, number_too_long)
{
	char buf[200];
	int n = snprintf(buf, sizeof(buf), "timestamp,cpu\n1767225600,");
	memset(buf + n, '1', 70);
	strcpy(buf + n + 70, "\n");
	BAD(buf, 2, 12, "number too long");
}

Test(csv_bad, empty_value_in_long_format)
{
	BAD("timestamp,metric,value\n1767225600,cpu,\n", 2, 16, "empty value");
}

Test(csv_bad, quoted_empty_value_in_wide_format)
{
	BAD("timestamp,cpu\n1767225600,\"\"\n", 2, 12, "empty value");
}

Test(csv_bad, unterminated_quote)
{
	BAD("timestamp,cpu\n1767225600,\"1\n2,3\n", 2, 12, "unterminated");
}

Test(csv_bad, text_after_closing_quote)
{
	BAD("timestamp,\"cpu\"x\n", 1, 16, "after a closing quote");
}

Test(csv_bad, quote_inside_unquoted_field)
{
	BAD("timestamp,cp\"u\n", 1, 13, "quote inside");
}

Test(csv_bad, nul_byte)
{
	series_bad("timestamp,cpu\n1767225600,1\0\n", 28, 2, 13, "NUL byte");
	series_bad("timestamp,\"c\0\"\n", 16, 1, 13, "NUL byte");
}

Test(csv_bad, control_character)
{
	BAD("timestamp,c\x01pu\n", 1, 12, "control character");
	BAD("timestamp,\"c\x1bpu\"\n", 1, 13, "control character");
}

Test(csv_bad, stray_carriage_return)
{
	BAD("timestamp,cpu\r\r\n", 1, 14, "stray carriage return");
}

Test(csv_bad, line_too_long)
{
	size_t n = AN_CSV_MAX_LINE + 100;
	char *buf = malloc(n + 1);
	memcpy(buf, "timestamp,cpu\n", 14);
	memset(buf + 14, '1', n - 14);
	buf[n] = 0;
	series_bad(buf, n, 2, 1, "line too long");
	free(buf);
}

Test(csv_bad, too_many_fields)
{
	size_t cap = 8 + (AN_CSV_MAX_FIELDS + 2) * 8;
	char *buf = malloc(cap);
	size_t n = (size_t)sprintf(buf, "time");
	for (int i = 0; i < AN_CSV_MAX_FIELDS + 1; i++)
		n += (size_t)sprintf(buf + n, ",m%d", i);
	buf[n++] = '\n';
	buf[n] = 0;
	an_csv_series_t s;
	an_csv_err_t e;
	cr_assert_eq(an_csv_series_parse(buf, n, &s, &e), ERR_PARSE);
	cr_assert(strstr(e.why, "too many fields"), "%s", e.why);
	cr_assert_eq(e.line, 1);
	free(buf);
}

Test(csv_bad, too_many_distinct_series)
{
	size_t cap = 64 + (AN_CSV_MAX_NAMES + 2) * 40;
	char *buf = malloc(cap);
	size_t n = (size_t)sprintf(buf, "timestamp,metric,value\n");
	for (int i = 0; i < AN_CSV_MAX_NAMES + 1; i++)
		n += (size_t)sprintf(buf + n, "1767225600,s%d,1\n", i);
	an_csv_series_t s;
	an_csv_err_t e;
	cr_assert_eq(an_csv_series_parse(buf, n, &s, &e), ERR_PARSE);
	cr_assert(strstr(e.why, "too many distinct series"), "%s", e.why);
	cr_assert_eq(e.line, AN_CSV_MAX_NAMES + 2);
	cr_assert_eq(e.col, 12);
	free(buf);
}

/* ------------------------------------------------------------ events */

Test(csv_events, accepted)
{
	const char *text =
		"start,end,type,side,description\n"
		"2026-01-01T00:10:00Z,,deploy,production,\"api v2, canary\"\n"
		"1767225600,1767227400,scheduled,both,nightly\n"
		"2026-01-01T00:20:00Z,2026-01-01T00:20:00Z,Config,prod,\n"
		"1767225601,,note,shadow,\"said \"\"hi\"\"\"\n";
	an_csv_events_t ev;
	an_csv_err_t e;
	cr_assert_eq(an_csv_events_parse(text, strlen(text), &ev, &e), 0,
		     "%d:%d %s", e.line, e.col, e.why);
	cr_assert_eq(ev.n, 4);
	cr_assert_eq(ev.v[0].ev.kind, AN_EV_DEPLOY);
	cr_assert_eq(ev.v[0].ev.side, AN_PROD);
	cr_assert_eq(ev.v[0].ev.end_ns, ev.v[0].ev.start_ns);
	cr_assert_str_eq(ev.v[0].ev.text, "api v2, canary");
	cr_assert_eq(ev.v[1].ev.kind, AN_EV_SCHEDULED);
	cr_assert_eq(ev.v[1].ev.side, AN_BOTH);
	cr_assert_eq(ev.v[1].ev.end_ns, 1767227400LL * NS);
	cr_assert_eq(ev.v[2].ev.kind, AN_EV_CONFIG_CHANGE);
	cr_assert_eq(ev.v[2].line, 4);
	cr_assert_str_eq(ev.v[3].ev.text, "said \"hi\"");
	an_csv_events_free(&ev);
}

Test(csv_events, long_description_is_cut)
{
	char buf[1000];
	int n = snprintf(buf, sizeof(buf),
			 "start,end,type,side,description\n1767225600,,note,"
			 "both,");
	memset(buf + n, 'd', 500);
	strcpy(buf + n + 500, "\n");
	an_csv_events_t ev;
	an_csv_err_t e;
	cr_assert_eq(an_csv_events_parse(buf, strlen(buf), &ev, &e), 0);
	cr_assert_eq(strlen(ev.v[0].ev.text), AN_TEXT_MAX - 1);
	an_csv_events_free(&ev);
}

#define EVH "start,end,type,side,description\n"

Test(csv_events_bad, empty_file)
{
	events_bad("", 1, 1, "empty file");
}

Test(csv_events_bad, wrong_header)
{
	events_bad("start,end,kind,side,description\n", 1, 11, "bad header");
	events_bad("start,end,type,side\n", 1, 1, "bad header");
	events_bad("start,end,type,side,description,extra\n", 1, 33,
		   "bad header");
}

Test(csv_events_bad, unquoted_comma_in_description)
{
	events_bad(EVH "1767225600,,note,both,a, b\n", 2, 26, "more than 5");
}

Test(csv_events_bad, too_few_fields)
{
	events_bad(EVH "1767225600,,note,both\n", 2, 1, "fewer than 5");
}

Test(csv_events_bad, bad_start)
{
	events_bad(EVH "soon,,note,both,x\n", 2, 1, "bad timestamp");
}

Test(csv_events_bad, bad_end)
{
	events_bad(EVH "1767225600,later,note,both,x\n", 2, 12,
		   "bad timestamp");
}

Test(csv_events_bad, end_before_start)
{
	events_bad(EVH "1767225600,1767225599,note,both,x\n", 2, 12,
		   "end before start");
}

Test(csv_events_bad, unknown_type)
{
	events_bad(EVH "1767225600,,rollout,both,x\n", 2, 13, "unknown type");
}

Test(csv_events_bad, unknown_side)
{
	events_bad(EVH "1767225600,,deploy,canary,x\n", 2, 20, "unknown side");
}

Test(csv_events_bad, control_character_in_description)
{
	events_bad(EVH "1767225600,,deploy,both,a\x02z\n", 2, 26,
		   "control character");
}
