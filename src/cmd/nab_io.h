/*
 * nab_io.h: reading the Numenta Anomaly Benchmark's files for `umbra
 * analyze --nab`: a data file (CSV "timestamp,value"), the label windows
 * (labels/combined_windows.json), and mapping windows to row indices.
 * Both inputs are untrusted: the parsers take the caller's buffer, bound
 * everything, and reject with one reason string per kind of malformation
 * (and a 1-based line for the CSV). Scoring itself is pure and lives in
 * analysis/nab.h.
 */
#ifndef UMBRA_CMD_NAB_IO_H
#define UMBRA_CMD_NAB_IO_H

#include "analysis/nab.h"

#include <stddef.h>
#include <stdint.h>

/* 16 M rows: 45 times NAB's whole corpus in one file; bounds memory at
 * 256 MiB for the arrays of the largest accepted file. */
#define NAB_CSV_MAX_ROWS (16u * 1024 * 1024)
/* A row is a timestamp (at most 26 characters) and a number; 512 bytes
 * leaves room for any double strtod accepts in plain notation. */
#define NAB_CSV_MAX_LINE 512
/* NAB has 58 files; 100 000 allows corpora 1700 times larger. */
#define NAB_LABELS_MAX_FILES 100000
/* NAB has at most 5 windows per file; 100 000 bounds one file's list. */
#define NAB_LABELS_MAX_WINDOWS 100000
/* Relative paths "<category>/<file>.csv"; PATH_MAX-like bound. */
#define NAB_LABELS_MAX_PATH 1024
/* Timestamps from year 1900 to 2999: anything else is a typo. */
#define NAB_TIME_MIN_YEAR 1900
#define NAB_TIME_MAX_YEAR 2999

/* A parsed data file. Arrays owned (cmd_nab_series_free). */
typedef struct cmd_nab_series {
	size_t n;
	int64_t *t_us; /* timestamp, microseconds since 1970-01-01 (no zone) */
	double *v;     /* finite values */
} cmd_nab_series_t;

/* A parse failure: reason (static string) and 1-based line (0: none). */
typedef struct cmd_nab_err {
	const char *why;
	size_t line;
} cmd_nab_err_t;

/* Parses "YYYY-MM-DD HH:MM:SS[.f{1,6}]" (or 'T' for the space) of exactly
 * len bytes into microseconds since the epoch. Returns 0 or ERR_PARSE. */
int cmd_nab_time_parse(const char *s, size_t len, int64_t *out);
/* Formats t as NAB does ("YYYY-MM-DD HH:MM:SS", ".ffffff" when there are
 * microseconds) into buf (>= 32 bytes). Returns buf. */
char *cmd_nab_time_format(int64_t t_us, char *buf, size_t size);

/* Parses a NAB data file held in buf[0..len): a header "timestamp,value"
 * then one row per line, LF or CRLF. Timestamps need not increase (NAB's
 * own files repeat and step back); values must be finite. At least one row.
 * Returns 0 and fills *out (owned by the caller), or ERR_PARSE /
 * ERR_TOOBIG with *err set and *out untouched. */
int cmd_nab_csv_parse(const char *buf, size_t len, cmd_nab_series_t *out,
		      cmd_nab_err_t *err);
void cmd_nab_series_free(cmd_nab_series_t *s);

/* Windows of one file as timestamps. */
typedef struct cmd_nab_label_file {
	char *path;        /* "<category>/<file>.csv", owned */
	size_t nwin;
	int64_t (*win)[2]; /* [start, end] microseconds, owned */
} cmd_nab_label_file_t;

typedef struct cmd_nab_labels {
	size_t n;
	cmd_nab_label_file_t *file; /* sorted by path, paths unique */
} cmd_nab_labels_t;

/* Parses combined_windows.json from buf[0..len): one object mapping each
 * relative path (no "..", not absolute, ending ".csv") to a list of
 * [start, end] timestamp string pairs, start <= end, in increasing order
 * and disjoint. Returns 0 and fills *out (owned: cmd_nab_labels_free), or
 * ERR_PARSE / ERR_TOOBIG with *err set (line: the JSON error's line). */
int cmd_nab_labels_parse(const char *buf, size_t len, cmd_nab_labels_t *out,
			 cmd_nab_err_t *err);
void cmd_nab_labels_free(cmd_nab_labels_t *l);
/* The entry for path, or NULL. Borrowed. */
const cmd_nab_label_file_t *cmd_nab_labels_find(const cmd_nab_labels_t *l,
						const char *path);

/* Maps a file's timestamp windows onto its rows as NAB does: a window
 * starts at the first row stamped exactly its start (else the first row at
 * or after it) and ends at the first row stamped exactly its end (else the
 * last row at or before it). out has room for lf->nwin. Returns 0, or
 * ERR_RANGE with *why set when a window holds no row or the mapped windows
 * overlap or are out of order. */
int cmd_nab_windows_map(const cmd_nab_series_t *s,
			const cmd_nab_label_file_t *lf, an_nab_window_t *out,
			const char **why);

/* ------------------------------------------------------------- corpus */

/* A data file of at most 1 GiB: NAB's largest is 700 KiB. */
#define NAB_FILE_MAX_BYTES (1024L * 1024 * 1024)
/* The labels file: NAB's is 14 KiB. */
#define NAB_LABELS_MAX_BYTES (64L * 1024 * 1024)

/* One file of a corpus: its path relative to DIR/data, its rows, and its
 * windows as row indices. */
typedef struct cmd_nab_entry {
	char *path; /* "<category>/<file>.csv" */
	cmd_nab_series_t s;
	double *t;  /* timestamps in seconds, for the detectors */
	an_nab_window_t *win;
	size_t nwin;
} cmd_nab_entry_t;

typedef struct cmd_nab_corpus {
	size_t n;
	cmd_nab_entry_t *f; /* sorted by path */
	size_t rows;        /* over all files */
	size_t windows;     /* over all files */
} cmd_nab_corpus_t;

/* Loads DIR/data/<category>/<file>.csv and DIR/labels/combined_windows.json
 * (NAB's layout). Every data file needs a labels entry and every entry a
 * data file. Returns 0 and fills *out (owned: cmd_nab_corpus_free), or a
 * negative error with a message in *msg (new string, caller frees). */
int cmd_nab_corpus_load(const char *dir, cmd_nab_corpus_t *out, char **msg);
void cmd_nab_corpus_free(cmd_nab_corpus_t *c);

#endif
