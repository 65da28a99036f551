/*
 * csv.c: the offline analysis' file parsers (see csv.h): a line splitter
 * and an RFC 4180 field tokenizer shared by the metric and event parsers,
 * bounded timestamp and number parsing, and the names a metric file may
 * use.
 */
#include "analysis/csv.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_PER_S 1000000000LL
/* Timestamps from 1970 up to 2200: nanoseconds fit an int64_t until 2262,
 * and a 13-digit Unix time (milliseconds) falls outside, with a hint. */
#define AN_TIME_MAX_S 7258118400LL /* 2200-01-01T00:00:00Z */
#define AN_NAME_HASH (2 * AN_CSV_MAX_NAMES) /* open addressing, half full */

/* ------------------------------------------------------------ lines */

typedef struct field {
	char *s;  /* NUL-terminated copy, unquoted */
	size_t n;
	int col;  /* 1-based byte column of the field's first character */
	bool quoted;
} field_t;

typedef struct reader {
	const char *buf;
	size_t len, pos;
	int line;          /* of the line just read */
	char *scratch;     /* AN_CSV_MAX_LINE + 1 */
	field_t f[AN_CSV_MAX_FIELDS];
	size_t nf;
	an_csv_err_t *err;
} reader_t;

static int fail(reader_t *r, int col, const char *why)
{
	r->err->line = r->line;
	r->err->col = col;
	r->err->why = why;
	return ERR_PARSE;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits line s[0..n-1] into r->f. 0 or ERR_PARSE. */
static int split(reader_t *r, const char *s, size_t n)
{
	char *out = r->scratch;
	size_t i = 0;
	r->nf = 0;
	for (;;) {
		while (i < n && blank(s[i]))
			i++;
		if (r->nf == AN_CSV_MAX_FIELDS)
			return fail(r, (int)i + 1, "too many fields (at most "
						   "1024)");
		field_t *f = &r->f[r->nf++];
		f->col = (int)i + 1;
		f->s = out;
		f->quoted = i < n && s[i] == '"';
		if (f->quoted) {
			i++;
			bool closed = false;
			while (i < n) {
				unsigned char c = (unsigned char)s[i];
				if (c == '"') {
					if (i + 1 < n && s[i + 1] == '"') {
						*out++ = '"';
						i += 2;
						continue;
					}
					i++;
					closed = true;
					break;
				}
				if (c == 0)
					return fail(r, (int)i + 1, "NUL byte");
				if (c < 0x20 && c != '\t')
					return fail(r, (int)i + 1,
						    "control character in a "
						    "field");
				*out++ = (char)c;
				i++;
			}
			if (!closed)
				return fail(r, f->col, "unterminated quoted "
						       "field (a field may "
						       "not span lines)");
			while (i < n && blank(s[i]))
				i++;
			if (i < n && s[i] != ',')
				return fail(r, (int)i + 1,
					    "text after a closing quote");
		} else {
			char *start = out;
			while (i < n && s[i] != ',') {
				unsigned char c = (unsigned char)s[i];
				if (c == 0)
					return fail(r, (int)i + 1, "NUL byte");
				if (c < 0x20 && c != '\t')
					return fail(r, (int)i + 1,
						    c == '\r'
							    ? "stray carriage "
							      "return"
							    : "control "
							      "character in a "
							      "field");
				if (c == '"')
					return fail(r, (int)i + 1,
						    "quote inside an unquoted "
						    "field");
				*out++ = (char)c;
				i++;
			}
			while (out > start && blank(out[-1]))
				out--;
		}
		f->n = (size_t)(out - f->s);
		*out++ = '\0';
		if (i < n && s[i] == ',') {
			i++;
			continue;
		}
		return 0;
	}
}

/* Reads the next non-blank line into r->f. 1 when a line was read, 0 at
 * the end, or ERR_PARSE / ERR_TOOBIG. */
static int next_line(reader_t *r)
{
	while (r->pos < r->len) {
		const char *s = r->buf + r->pos;
		size_t rest = r->len - r->pos;
		const char *nl = memchr(s, '\n', rest);
		size_t n = nl ? (size_t)(nl - s) : rest;
		r->line++;
		r->pos += n + (nl ? 1 : 0);
		if (n > AN_CSV_MAX_LINE) {
			fail(r, 1, "line too long (at most 65536 bytes)");
			return ERR_TOOBIG;
		}
		if (n && s[n - 1] == '\r')
			n--;
		size_t k = 0;
		while (k < n && blank(s[k]))
			k++;
		if (k == n)
			continue;
		int rc = split(r, s, n);
		return rc ? rc : 1;
	}
	return 0;
}

static int reader_init(reader_t *r, const char *buf, size_t len,
		       an_csv_err_t *err)
{
	memset(r, 0, offsetof(reader_t, f));
	r->buf = buf;
	r->len = len;
	r->err = err;
	err->line = err->col = 0;
	err->why = NULL;
	if ((long long)len > AN_CSV_MAX_BYTES) {
		err->line = 1;
		err->col = 1;
		err->why = "file too large (at most 1 GiB)";
		return ERR_TOOBIG;
	}
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		r->pos = 3; /* UTF-8 byte-order mark */
	r->scratch = xmalloc(AN_CSV_MAX_LINE + 1);
	return 0;
}

/* ------------------------------------------------------------ values */

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int64_t num(const char *s, size_t n)
{
	int64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant,
 * "chrono-Compatible Low-Level Date Algorithms", days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : d[m - 1];
}

/* Fraction digits s[0..n-1] (1..9) as nanoseconds. */
static int frac_ns(const char *s, size_t n, int64_t *out, const char **why)
{
	if (n == 0 || !all_digits(s, n)) {
		*why = "expected digits after the decimal point";
		return ERR_PARSE;
	}
	if (n > 9) {
		*why = "more than 9 decimals (nanoseconds at most)";
		return ERR_PARSE;
	}
	int64_t v = num(s, n);
	for (size_t i = n; i < 9; i++)
		v *= 10;
	*out = v;
	return 0;
}

static int iso_parse(const char *s, size_t n, int64_t *ns, const char **why)
{
	/* YYYY-MM-DD[T ]HH:MM */
	if (n < 16 || !all_digits(s, 4) || s[4] != '-' ||
	    !all_digits(s + 5, 2) || s[7] != '-' || !all_digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !all_digits(s + 11, 2) || s[13] != ':' || !all_digits(s + 14, 2)) {
		*why = "bad timestamp (expected YYYY-MM-DDTHH:MM[:SS[.frac]]"
		       "[Z|+HH:MM] or Unix seconds)";
		return ERR_PARSE;
	}
	int64_t y = num(s, 4);
	int mo = (int)num(s + 5, 2), d = (int)num(s + 8, 2);
	int h = (int)num(s + 11, 2), mi = (int)num(s + 14, 2), sec = 0;
	int64_t frac = 0;
	size_t i = 16;
	if (i < n && s[i] == ':') {
		if (i + 3 > n || !all_digits(s + i + 1, 2)) {
			*why = "bad seconds in timestamp";
			return ERR_PARSE;
		}
		sec = (int)num(s + i + 1, 2);
		i += 3;
		if (i < n && (s[i] == '.' || s[i] == ',')) {
			size_t j = ++i;
			while (j < n && isdigit((unsigned char)s[j]))
				j++;
			if (frac_ns(s + i, j - i, &frac, why))
				return ERR_PARSE;
			i = j;
		}
	}
	int64_t off = 0;
	if (i < n) {
		if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
			i++;
		} else if (s[i] == '+' || s[i] == '-') {
			int sign = s[i] == '-' ? -1 : 1;
			const char *z = s + i + 1;
			size_t zn = n - i - 1;
			int zh, zm = 0;
			if (zn == 2 && all_digits(z, 2)) {
				zh = (int)num(z, 2);
			} else if (zn == 4 && all_digits(z, 4)) {
				zh = (int)num(z, 2);
				zm = (int)num(z + 2, 2);
			} else if (zn == 5 && all_digits(z, 2) && z[2] == ':' &&
				   all_digits(z + 3, 2)) {
				zh = (int)num(z, 2);
				zm = (int)num(z + 3, 2);
			} else {
				*why = "bad time zone (expected Z, +HH, +HHMM "
				       "or +HH:MM)";
				return ERR_PARSE;
			}
			if (zh > 23 || zm > 59) {
				*why = "time zone offset out of range";
				return ERR_PARSE;
			}
			off = sign * (zh * 3600 + zm * 60);
			i = n;
		} else {
			*why = "unexpected text after the time";
			return ERR_PARSE;
		}
	}
	if (y < 1970 || y > 2199) {
		*why = "year out of range (1970..2199)";
		return ERR_PARSE;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
		*why = "no such date";
		return ERR_PARSE;
	}
	if (h > 23 || mi > 59 || sec > 59) {
		*why = "no such time of day";
		return ERR_PARSE;
	}
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
		       sec - off;
	if (secs < 0 || secs >= AN_TIME_MAX_S) {
		*why = "timestamp out of range (1970..2199)";
		return ERR_PARSE;
	}
	*ns = secs * NS_PER_S + frac;
	return 0;
}

int an_time_parse(const char *s, size_t n, int64_t *ns, const char **why)
{
	const char *w = NULL;
	if (!why)
		why = &w;
	if (n == 0) {
		*why = "empty timestamp";
		return ERR_PARSE;
	}
	if (n >= 5 && all_digits(s, 4) && s[4] == '-')
		return iso_parse(s, n, ns, why);
	const char *dot = memchr(s, '.', n);
	size_t in = dot ? (size_t)(dot - s) : n;
	if (!all_digits(s, in)) {
		*why = "bad timestamp (expected YYYY-MM-DDTHH:MM[:SS[.frac]]"
		       "[Z|+HH:MM] or Unix seconds)";
		return ERR_PARSE;
	}
	if (in > 10 || num(s, in) >= AN_TIME_MAX_S) {
		*why = "Unix time out of range (seconds expected, not "
		       "milliseconds; 1970..2199)";
		return ERR_PARSE;
	}
	int64_t frac = 0;
	if (dot && frac_ns(dot + 1, n - in - 1, &frac, why))
		return ERR_PARSE;
	*ns = num(s, in) * NS_PER_S + frac;
	return 0;
}

/* A finite decimal number: [+-]digits[.digits][e[+-]digits] (the digits
 * before or after the point may be missing, not both). */
static int number_parse(const field_t *f, double *out, const char **why)
{
	const char *s = f->s;
	size_t n = f->n, i = 0, digits = 0;
	if (n == 0) {
		*why = "empty value";
		return ERR_PARSE;
	}
	if (n > AN_CSV_MAX_NUMBER) {
		*why = "number too long (at most 64 characters)";
		return ERR_PARSE;
	}
	if (s[i] == '+' || s[i] == '-')
		i++;
	while (i < n && isdigit((unsigned char)s[i]))
		i++, digits++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && isdigit((unsigned char)s[i]))
			i++, digits++;
	}
	if (digits && i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t e = 0;
		while (i < n && isdigit((unsigned char)s[i]))
			i++, e++;
		if (!e) {
			*why = "bad exponent";
			return ERR_PARSE;
		}
	}
	if (!digits || i != n) {
		*why = "not a number";
		return ERR_PARSE;
	}
	double v = strtod(s, NULL); /* s is NUL-terminated at n */
	if (!isfinite(v)) {
		*why = "number out of range";
		return ERR_PARSE;
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------ names */

int an_input_parse(const char *name, an_input_t *out, const char **why)
{
	static const struct {
		const char *prefix;
		an_input_kind_t kind;
	} ep[] = {{"requests:", AN_IN_EP_REQUESTS},
		  {"cost:", AN_IN_EP_COST},
		  {"latency:", AN_IN_EP_LATENCY},
		  {"differ_rate:", AN_IN_EP_DIFFER}};
	memset(out, 0, sizeof(*out));
	int m = an_metric_by_name(name);
	if (m >= 0) {
		out->kind = AN_IN_METRIC;
		out->metric = (an_metric_t)m;
		return 0;
	}
	if (!strcmp(name, "rps")) {
		out->kind = AN_IN_RPS;
		return 0;
	}
	if (!strcmp(name, "connect_time")) {
		out->kind = AN_IN_CONNECT;
		return 0;
	}
	if (!strcmp(name, "ttfb")) {
		out->kind = AN_IN_TTFB;
		return 0;
	}
	for (size_t i = 0; i < sizeof(ep) / sizeof(ep[0]); i++) {
		size_t k = strlen(ep[i].prefix);
		if (!strncmp(name, ep[i].prefix, k)) {
			if (!name[k]) {
				*why = "endpoint series without an endpoint "
				       "(e.g. latency:/api/search)";
				return ERR_PARSE;
			}
			out->kind = ep[i].kind;
			out->endpoint = name + k;
			return 0;
		}
	}
	*why = "unknown series (expected a metric: cpu, memory, disk_read, "
	       "disk_write, net_rx, net_tx, latency_p50, latency_p90, "
	       "latency_p99, error_rate, diff_rate; or rps, connect_time, "
	       "ttfb, requests:PATH, cost:PATH, latency:PATH, "
	       "differ_rate:PATH)";
	return ERR_PARSE;
}

/* ------------------------------------------------------------ series */

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* The index of name f in s, added if new; -1 (with the error set) past
 * AN_CSV_MAX_NAMES or for a bad name. */
static long name_index(reader_t *r, an_csv_series_t *s, uint32_t *tab,
		       const field_t *f)
{
	if (f->n == 0) {
		fail(r, f->col, "empty series name");
		return -1;
	}
	if (f->n > AN_CSV_MAX_NAME) {
		fail(r, f->col, "series name too long (at most 256 bytes)");
		return -1;
	}
	uint32_t h = fnv1a(f->s, f->n) % AN_NAME_HASH;
	for (;; h = (h + 1) % AN_NAME_HASH) {
		uint32_t v = tab[h];
		if (v == 0)
			break;
		const char *nm = s->names[v - 1].name;
		if (strlen(nm) == f->n && !memcmp(nm, f->s, f->n))
			return (long)v - 1;
	}
	if (s->nnames == AN_CSV_MAX_NAMES) {
		fail(r, f->col, "too many distinct series (at most 4096)");
		return -1;
	}
	if (s->nnames == s->names_cap) {
		s->names_cap = s->names_cap ? 2 * s->names_cap : 16;
		s->names = xreallocarray(s->names, s->names_cap,
					 sizeof(*s->names));
	}
	an_csv_name_t *nm = &s->names[s->nnames];
	nm->name = xstrndup(f->s, f->n);
	nm->line = r->line;
	nm->col = f->col;
	tab[h] = (uint32_t)++s->nnames;
	return (long)s->nnames - 1;
}

static void add_point(an_csv_series_t *s, int64_t t, uint32_t name, double v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->pts = xreallocarray(s->pts, s->cap, sizeof(*s->pts));
	}
	s->pts[s->n++] = (an_csv_point_t){t, v, name};
}

static bool is_time_column(const field_t *f)
{
	return !strcasecmp(f->s, "timestamp") || !strcasecmp(f->s, "time");
}

static int series_body(reader_t *r, an_csv_series_t *s, uint32_t *tab)
{
	const char *why;
	int rc = next_line(r);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		r->line = r->line ? r->line : 1;
		return fail(r, 1, "empty file (expected a header: "
				  "timestamp,metric,value or "
				  "timestamp,<metric>,...)");
	}
	if (!is_time_column(&r->f[0]) || r->nf < 2)
		return fail(r, r->f[0].col,
			    "bad header (expected timestamp,metric,value or "
			    "timestamp,<metric>,...)");
	s->wide = !(r->nf == 3 && !strcasecmp(r->f[1].s, "metric") &&
		    !strcasecmp(r->f[2].s, "value"));
	size_t ncols = r->nf;
	uint32_t col_name[AN_CSV_MAX_FIELDS];
	if (s->wide) {
		for (size_t i = 1; i < ncols; i++) {
			size_t before = s->nnames;
			long k = name_index(r, s, tab, &r->f[i]);
			if (k < 0)
				return ERR_PARSE;
			if (s->nnames == before)
				return fail(r, r->f[i].col,
					    "duplicate column in the header");
			col_name[i] = (uint32_t)k;
		}
	}
	while ((rc = next_line(r)) == 1) {
		if (r->nf != ncols)
			return fail(r, r->nf > ncols ? r->f[ncols].col : 1,
				    r->nf > ncols ? "more fields than the "
						    "header has"
						  : "fewer fields than the "
						    "header has");
		int64_t t;
		if (an_time_parse(r->f[0].s, r->f[0].n, &t, &why))
			return fail(r, r->f[0].col, why);
		if (!s->wide) {
			long k = name_index(r, s, tab, &r->f[1]);
			if (k < 0)
				return ERR_PARSE;
			double v;
			if (number_parse(&r->f[2], &v, &why))
				return fail(r, r->f[2].col, why);
			add_point(s, t, (uint32_t)k, v);
			continue;
		}
		for (size_t i = 1; i < ncols; i++) {
			double v;
			if (r->f[i].n == 0 && !r->f[i].quoted)
				continue; /* not measured at this time */
			if (number_parse(&r->f[i], &v, &why))
				return fail(r, r->f[i].col, why);
			add_point(s, t, col_name[i], v);
		}
	}
	return rc;
}

void an_csv_series_free(an_csv_series_t *s)
{
	for (size_t i = 0; i < s->nnames; i++)
		free(s->names[i].name);
	free(s->names);
	free(s->pts);
	memset(s, 0, sizeof(*s));
}

int an_csv_series_parse(const char *buf, size_t len, an_csv_series_t *out,
			an_csv_err_t *err)
{
	memset(out, 0, sizeof(*out));
	reader_t *r = xmalloc(sizeof(*r));
	int rc = reader_init(r, buf, len, err);
	if (rc == 0) {
		uint32_t *tab = xcalloc(AN_NAME_HASH, sizeof(uint32_t));
		rc = series_body(r, out, tab);
		free(tab);
	}
	free(r->scratch);
	free(r);
	if (rc < 0) {
		an_csv_series_free(out);
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ events */

static int event_kind(const char *s, an_event_kind_t *k)
{
	static const struct {
		const char *name;
		an_event_kind_t kind;
	} t[] = {{"deploy", AN_EV_DEPLOY},
		 {"config_change", AN_EV_CONFIG_CHANGE},
		 {"config", AN_EV_CONFIG_CHANGE},
		 {"scheduled", AN_EV_SCHEDULED},
		 {"note", AN_EV_NOTE},
		 {"replay", AN_EV_REPLAY}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcasecmp(s, t[i].name)) {
			*k = t[i].kind;
			return 0;
		}
	return ERR_PARSE;
}

static int event_side(const char *s, an_side_t *side)
{
	if (!strcasecmp(s, "production") || !strcasecmp(s, "prod"))
		*side = AN_PROD;
	else if (!strcasecmp(s, "shadow"))
		*side = AN_SHADOW;
	else if (!strcasecmp(s, "both"))
		*side = AN_BOTH;
	else
		return ERR_PARSE;
	return 0;
}

static int events_body(reader_t *r, an_csv_events_t *e)
{
	static const char *const cols[] = {"start", "end", "type", "side",
					   "description"};
	const char *why;
	int rc = next_line(r);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		r->line = r->line ? r->line : 1;
		return fail(r, 1, "empty file (expected the header "
				  "start,end,type,side,description)");
	}
	for (size_t i = 0; i < 5; i++)
		if (i >= r->nf || strcasecmp(r->f[i].s, cols[i]))
			return fail(r, i < r->nf ? r->f[i].col : 1,
				    "bad header (expected "
				    "start,end,type,side,description)");
	if (r->nf != 5)
		return fail(r, r->f[5].col, "bad header (expected "
					    "start,end,type,side,description)");
	while ((rc = next_line(r)) == 1) {
		if (r->nf != 5)
			return fail(r, r->nf > 5 ? r->f[5].col : 1,
				    r->nf > 5 ? "more than 5 fields (quote a "
						"description with commas)"
					      : "fewer than 5 fields");
		an_csv_event_t ev = {.line = r->line};
		if (an_time_parse(r->f[0].s, r->f[0].n, &ev.ev.start_ns, &why))
			return fail(r, r->f[0].col, why);
		ev.ev.end_ns = ev.ev.start_ns;
		if (r->f[1].n &&
		    an_time_parse(r->f[1].s, r->f[1].n, &ev.ev.end_ns, &why))
			return fail(r, r->f[1].col, why);
		if (ev.ev.end_ns < ev.ev.start_ns)
			return fail(r, r->f[1].col, "end before start");
		if (event_kind(r->f[2].s, &ev.ev.kind))
			return fail(r, r->f[2].col,
				    "unknown type (expected deploy, "
				    "config_change, scheduled or note)");
		if (event_side(r->f[3].s, &ev.ev.side))
			return fail(r, r->f[3].col,
				    "unknown side (expected production, "
				    "shadow or both)");
		size_t n = r->f[4].n < AN_TEXT_MAX - 1 ? r->f[4].n
						       : AN_TEXT_MAX - 1;
		ev.text = xstrndup(r->f[4].s, n);
		if (e->n == e->cap) {
			e->cap = e->cap ? 2 * e->cap : 16;
			e->v = xreallocarray(e->v, e->cap, sizeof(*e->v));
		}
		e->v[e->n++] = ev;
	}
	return rc;
}

void an_csv_events_free(an_csv_events_t *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].text);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

int an_csv_events_parse(const char *buf, size_t len, an_csv_events_t *out,
			an_csv_err_t *err)
{
	memset(out, 0, sizeof(*out));
	reader_t *r = xmalloc(sizeof(*r));
	int rc = reader_init(r, buf, len, err);
	if (rc == 0)
		rc = events_body(r, out);
	free(r->scratch);
	free(r);
	if (rc < 0) {
		an_csv_events_free(out);
		return rc;
	}
	for (size_t i = 0; i < out->n; i++)
		out->v[i].ev.text = out->v[i].text;
	return 0;
}
