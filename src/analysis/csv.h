/*
 * csv.h: parsers for the offline analysis' input files, which are
 * untrusted: pure functions over the caller's buffer, every limit named,
 * every rejection a reason string with its line and column, no I/O.
 *
 * Metric series, long or wide (the header decides):
 *
 *   timestamp,metric,value          timestamp,cpu,memory,latency_p99
 *   2026-01-01T00:00:00Z,cpu,0.42   1767225600,0.42,3.1e8,0.031
 *
 * Events:
 *
 *   start,end,type,side,description
 *   2026-01-01T02:00:00Z,,deploy,production,"api v2.4.1, canary off"
 *
 * Timestamps are ISO 8601 (YYYY-MM-DD, 'T' or ' ', HH:MM[:SS[.frac]],
 * then Z, +HH, +HHMM or +HH:MM; no zone means UTC) or Unix seconds
 * (decimals allowed). Fields are RFC 4180: comma-separated, optionally
 * double-quoted with "" for a quote; no newline inside a field; spaces
 * around unquoted fields are ignored; LF or CRLF ends a line; blank lines
 * and a UTF-8 byte-order mark are skipped.
 */
#ifndef UMBRA_ANALYSIS_CSV_H
#define UMBRA_ANALYSIS_CSV_H

#include "analysis/analysis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AN_CSV_MAX_BYTES (1024LL * 1024 * 1024) /* 1 GiB: a day of 1-s
	points for 100 series in long form is about 0.5 GiB */
#define AN_CSV_MAX_LINE 65536  /* bytes in one line (a wide header) */
#define AN_CSV_MAX_FIELDS 1024 /* columns of a wide file */
#define AN_CSV_MAX_NAMES 4096  /* distinct series in one file */
#define AN_CSV_MAX_NUMBER 64   /* characters of one number */
#define AN_CSV_MAX_NAME 256    /* characters of one series name */

/* Where and why a file was rejected. line and col are 1-based; col counts
 * bytes. why is a static string. */
typedef struct an_csv_err {
	int line, col;
	const char *why;
} an_csv_err_t;

typedef struct an_csv_name {
	char *name; /* as written (unquoted) */
	int line, col; /* where it first appears */
} an_csv_name_t;

typedef struct an_csv_point {
	int64_t t_ns;
	double value;
	uint32_t name; /* index into names */
} an_csv_point_t;

/* A parsed metric file; owns everything (an_csv_series_free). Points are
 * in file order. */
typedef struct an_csv_series {
	an_csv_point_t *pts;
	size_t n, cap;
	an_csv_name_t *names;
	size_t nnames, names_cap;
	bool wide;
} an_csv_series_t;

/* Parses buf[0..len-1]. 0 with *out filled, or ERR_PARSE / ERR_TOOBIG
 * with *err set and *out empty (nothing to free, but freeing is
 * harmless). */
int an_csv_series_parse(const char *buf, size_t len, an_csv_series_t *out,
			an_csv_err_t *err);
void an_csv_series_free(an_csv_series_t *s);

typedef struct an_csv_event {
	an_event_t ev; /* ev.text points to text */
	char *text;
	int line;
} an_csv_event_t;

typedef struct an_csv_events {
	an_csv_event_t *v;
	size_t n, cap;
} an_csv_events_t;

/* Parses an events file, as an_csv_series_parse. Types: deploy,
 * config_change (or config), scheduled, note; sides: production (or
 * prod), shadow, both. An empty end is the start (an instant). */
int an_csv_events_parse(const char *buf, size_t len, an_csv_events_t *out,
			an_csv_err_t *err);
void an_csv_events_free(an_csv_events_t *e);

/* Timestamp s[0..n-1] (no surrounding space) to nanoseconds since the
 * epoch, 1970 to 2199. 0, or ERR_PARSE with *why. */
int an_time_parse(const char *s, size_t n, int64_t *ns, const char **why);

/* ------------------------------------------------------------ names */

/* What a series name in a metric file feeds. */
typedef enum an_input_kind {
	AN_IN_METRIC = 0,   /* one of AN_METRICS */
	AN_IN_RPS,          /* requests per second (normalises load) */
	AN_IN_CONNECT,      /* connect_time: mean upstream connect, s */
	AN_IN_TTFB,         /* ttfb: mean time to first byte, s */
	AN_IN_EP_REQUESTS,  /* requests:PATH  requests in the tick */
	AN_IN_EP_COST,      /* cost:PATH      cpu seconds per request */
	AN_IN_EP_LATENCY,   /* latency:PATH   mean latency, s */
	AN_IN_EP_DIFFER,    /* differ_rate:PATH share of pairs that differ */
} an_input_kind_t;

typedef struct an_input {
	an_input_kind_t kind;
	an_metric_t metric;   /* AN_IN_METRIC */
	const char *endpoint; /* AN_IN_EP_*: points into the name */
} an_input_t;

/* 0, or ERR_PARSE with *why for a name that feeds nothing. */
int an_input_parse(const char *name, an_input_t *out, const char **why);

#endif
