/*
 * test_nab_io.c: the NAB file parsers (untrusted input): one test per
 * kind of malformed data file and labels file, timestamps, and the
 * mapping of label windows onto rows.
 */
#include "base/err.h"
#include "cmd/nab_io.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int csv(const char *text, cmd_nab_series_t *s, cmd_nab_err_t *e)
{
	return cmd_nab_csv_parse(text, strlen(text), s, e);
}

/* Asserts text is rejected for reason why at line. */
static void csv_bad(const char *text, const char *why, size_t line)
{
	cmd_nab_series_t s = {0};
	cmd_nab_err_t e = {0};
	int rc = csv(text, &s, &e);
	cr_assert_neq(rc, 0, "accepted: %s", text);
	cr_assert_str_eq(e.why, why, "input %s", text);
	cr_assert_eq(e.line, line, "line %zu, want %zu for %s", e.line, line,
		     text);
	cr_assert_null(s.v);
}

/* ------------------------------------------------------------ timestamps */

Test(nab_time, parse_and_format)
{
	int64_t t;
	char buf[40];
	cr_assert_eq(cmd_nab_time_parse("1970-01-01 00:00:00", 19, &t), 0);
	cr_assert_eq(t, 0);
	cr_assert_eq(cmd_nab_time_parse("2014-04-01 00:05:00", 19, &t), 0);
	cr_assert_eq(t, INT64_C(1396310700) * 1000000);
	cr_assert_str_eq(cmd_nab_time_format(t, buf, sizeof(buf)),
			 "2014-04-01 00:05:00");
	cr_assert_eq(cmd_nab_time_parse("2014-04-10 07:15:00.000000", 26, &t), 0);
	cr_assert_str_eq(cmd_nab_time_format(t, buf, sizeof(buf)),
			 "2014-04-10 07:15:00");
	cr_assert_eq(cmd_nab_time_parse("2016-02-29T23:59:59.5", 21, &t), 0);
	cr_assert_str_eq(cmd_nab_time_format(t, buf, sizeof(buf)),
			 "2016-02-29 23:59:59.500000");
	cr_assert_eq(cmd_nab_time_parse("1950-06-01 12:00:00", 19, &t), 0);
	cr_assert_lt(t, 0);
	cr_assert_str_eq(cmd_nab_time_format(t, buf, sizeof(buf)),
			 "1950-06-01 12:00:00");
}

Test(nab_time, rejects)
{
	static const char *bad[] = {
		"2014-04-01",                 /* too short */
		"2014-04-01 00:00:00.",       /* empty fraction */
		"2014-04-01 00:00:00.1234567", /* 7 fraction digits */
		"2014/04/01 00:00:00",        /* separators */
		"2014-13-01 00:00:00",        /* month */
		"2015-02-29 00:00:00",        /* not a leap year */
		"2014-04-31 00:00:00",        /* April has 30 days */
		"2014-04-01 24:00:00",        /* hour */
		"2014-04-01 00:60:00",        /* minute */
		"2014-04-01 00:00:60",        /* leap seconds are not used */
		"1899-12-31 23:59:59",        /* year range */
		"3000-01-01 00:00:00",        /* year range */
		"2014-04-01 0a:00:00",        /* digits */
		"2014-04-01 00:00:00Z",       /* zones are not used */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t;
		cr_assert_eq(cmd_nab_time_parse(bad[i], strlen(bad[i]), &t),
			     ERR_PARSE, "accepted %s", bad[i]);
	}
}

/* ------------------------------------------------------------------ CSV */

Test(nab_csv, parses_rows)
{
	cmd_nab_series_t s;
	cmd_nab_err_t e;
	cr_assert_eq(csv("timestamp,value\n2014-04-01 00:00:00,20.5\n"
			 "2014-04-01 00:05:00,-1e3\n2014-04-01 00:05:00,0\n",
			 &s, &e),
		     0);
	cr_assert_eq(s.n, 3);
	cr_assert_float_eq(s.v[0], 20.5, 0);
	cr_assert_float_eq(s.v[1], -1000, 0);
	cr_assert_eq(s.t_us[1], s.t_us[2], "repeated timestamps are kept");
	cmd_nab_series_free(&s);
}

Test(nab_csv, crlf_bom_and_no_final_newline)
{
	cmd_nab_series_t s;
	cmd_nab_err_t e;
	cr_assert_eq(csv("\xef\xbb\xbftimestamp,value\r\n2014-04-01 00:00:00,1\r\n"
			 "2014-04-01 00:00:01,2",
			 &s, &e),
		     0);
	cr_assert_eq(s.n, 2);
	cr_assert_float_eq(s.v[1], 2, 0);
	cmd_nab_series_free(&s);
}

Test(nab_csv, time_may_step_back)
{
	cmd_nab_series_t s;
	cmd_nab_err_t e;
	/* machine_temperature_system_failure.csv does this */
	cr_assert_eq(csv("timestamp,value\n2014-04-01 01:00:00,1\n"
			 "2014-04-01 00:05:00,2\n",
			 &s, &e),
		     0);
	cr_assert_gt(s.t_us[0], s.t_us[1]);
	cmd_nab_series_free(&s);
}

Test(nab_csv, empty_input)
{
	csv_bad("", "empty input", 0);
}

Test(nab_csv, bad_header)
{
	csv_bad("time,value\n2014-04-01 00:00:00,1\n",
		"header is not \"timestamp,value\"", 1);
	csv_bad("timestamp,value,label\n", "header is not \"timestamp,value\"",
		1);
}

Test(nab_csv, no_rows)
{
	csv_bad("timestamp,value\n", "no data rows", 1);
}

Test(nab_csv, empty_line_inside)
{
	csv_bad("timestamp,value\n\n2014-04-01 00:00:00,1\n", "empty line", 2);
}

Test(nab_csv, missing_comma)
{
	csv_bad("timestamp,value\n2014-04-01 00:00:00 1\n", "missing comma", 2);
}

Test(nab_csv, extra_column)
{
	csv_bad("timestamp,value\n2014-04-01 00:00:00,1,2\n",
		"more than two columns", 2);
}

Test(nab_csv, bad_timestamp)
{
	csv_bad("timestamp,value\n2014-04-01 00:00:00,1\nyesterday,2\n",
		"bad timestamp", 3);
}

Test(nab_csv, bad_values)
{
	static const char *bad[] = {"nan", "inf", "-infinity", "0x10", "",
				    "1e", "1.2.3", " 1", "1 ", "+", "e5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text),
			 "timestamp,value\n2014-04-01 00:00:00,%s\n", bad[i]);
		csv_bad(text, "bad value", 2);
	}
}

Test(nab_csv, value_out_of_range)
{
	csv_bad("timestamp,value\n2014-04-01 00:00:00,1e999\n",
		"value out of range", 2);
}

Test(nab_csv, line_too_long)
{
	char text[2048];
	int k = snprintf(text, sizeof(text), "timestamp,value\n2014-04-01 00:00:00,");
	memset(text + k, '1', NAB_CSV_MAX_LINE);
	strcpy(text + k + NAB_CSV_MAX_LINE, "\n");
	csv_bad(text, "line too long", 2);
}

Test(nab_csv, nul_byte)
{
	static const char text[] = "timestamp,value\n2014-04-01 00:00:00,1\0\n";
	cmd_nab_series_t s;
	cmd_nab_err_t e;
	cr_assert_neq(cmd_nab_csv_parse(text, sizeof(text) - 1, &s, &e), 0);
	cr_assert_str_eq(e.why, "bad value");
}

/* --------------------------------------------------------------- labels */

static int labels(const char *text, cmd_nab_labels_t *l, cmd_nab_err_t *e)
{
	return cmd_nab_labels_parse(text, strlen(text), l, e);
}

static void labels_bad(const char *text, const char *why)
{
	cmd_nab_labels_t l = {0};
	cmd_nab_err_t e = {0};
	cr_assert_neq(labels(text, &l, &e), 0, "accepted %s", text);
	cr_assert_str_eq(e.why, why, "input %s", text);
	cr_assert_null(l.file);
}

Test(nab_labels, parses_and_sorts)
{
	cmd_nab_labels_t l;
	cmd_nab_err_t e;
	cr_assert_eq(labels("{\"b/y.csv\": [[\"2014-04-01 00:00:00.000000\", "
			    "\"2014-04-01 01:00:00.000000\"], [\"2014-04-02 "
			    "00:00:00\", \"2014-04-02 00:00:00\"]], \"a/x.csv\": []}",
			    &l, &e),
		     0);
	cr_assert_eq(l.n, 2);
	cr_assert_str_eq(l.file[0].path, "a/x.csv");
	cr_assert_eq(l.file[0].nwin, 0);
	cr_assert_eq(l.file[1].nwin, 2);
	cr_assert_eq(l.file[1].win[0][1] - l.file[1].win[0][0],
		     INT64_C(3600) * 1000000);
	cr_assert_not_null(cmd_nab_labels_find(&l, "b/y.csv"));
	cr_assert_null(cmd_nab_labels_find(&l, "c/z.csv"));
	cmd_nab_labels_free(&l);
}

Test(nab_labels, not_json)
{
	labels_bad("{\"a/x.csv\": [", "not valid JSON");
}

Test(nab_labels, not_object)
{
	labels_bad("[]", "top level is not an object");
}

Test(nab_labels, duplicate_key)
{
	labels_bad("{\"a/x.csv\": [], \"a/x.csv\": []}", "not valid JSON");
}

Test(nab_labels, bad_paths)
{
	static const char *bad[] = {"../x.csv", "/etc/x.csv", "a/x.txt",
				    "a//x.csv", "a/./x.csv", "a\\\\x.csv",
				    ".csv"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "{\"%s\": []}", bad[i]);
		labels_bad(text, "bad file path (want CATEGORY/NAME.csv, no "
				 "'..')");
	}
}

Test(nab_labels, windows_not_list)
{
	labels_bad("{\"a/x.csv\": {}}", "windows of a file are not a list");
}

Test(nab_labels, window_not_pair)
{
	labels_bad("{\"a/x.csv\": [[\"2014-04-01 00:00:00\"]]}",
		   "a window is not a [start, end] pair");
}

Test(nab_labels, window_bad_time)
{
	labels_bad("{\"a/x.csv\": [[\"2014-04-01 00:00:00\", 5]]}",
		   "bad window timestamp");
}

Test(nab_labels, window_backwards)
{
	labels_bad("{\"a/x.csv\": [[\"2014-04-02 00:00:00\", "
		   "\"2014-04-01 00:00:00\"]]}",
		   "window ends before it starts");
}

Test(nab_labels, windows_overlap)
{
	labels_bad("{\"a/x.csv\": [[\"2014-04-01 00:00:00\", \"2014-04-03 "
		   "00:00:00\"], [\"2014-04-02 00:00:00\", \"2014-04-04 "
		   "00:00:00\"]]}",
		   "windows out of order or overlapping");
}

/* -------------------------------------------------------------- windows */

Test(nab_windows, maps_exact_and_nearest_rows)
{
	cmd_nab_series_t s;
	cmd_nab_err_t e;
	cr_assert_eq(csv("timestamp,value\n2014-04-01 00:00:00,1\n"
			 "2014-04-01 00:05:00,1\n2014-04-01 00:10:00,1\n"
			 "2014-04-01 00:15:00,1\n2014-04-01 00:20:00,1\n",
			 &s, &e),
		     0);
	cmd_nab_labels_t l;
	cr_assert_eq(labels("{\"a/x.csv\": [[\"2014-04-01 00:05:00\", "
			    "\"2014-04-01 00:10:00\"], [\"2014-04-01 00:12:00\", "
			    "\"2014-04-01 00:30:00\"]]}",
			    &l, &e),
		     0);
	an_nab_window_t w[2];
	const char *why;
	cr_assert_eq(cmd_nab_windows_map(&s, &l.file[0], w, &why), 0);
	cr_assert_eq(w[0].start, 1);
	cr_assert_eq(w[0].end, 2);
	cr_assert_eq(w[1].start, 3, "first row at or after the start");
	cr_assert_eq(w[1].end, 4, "last row at or before the end");
	cmd_nab_labels_free(&l);
	cr_assert_eq(labels("{\"a/x.csv\": [[\"2015-01-01 00:00:00\", "
			    "\"2015-01-02 00:00:00\"]]}",
			    &l, &e),
		     0);
	cr_assert_eq(cmd_nab_windows_map(&s, &l.file[0], w, &why), ERR_RANGE);
	cr_assert_str_eq(why, "a label window holds no row of the file");
	cmd_nab_labels_free(&l);
	cmd_nab_series_free(&s);
}
