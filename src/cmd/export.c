/*
 * export.c: `umbra export`: series out of the store, as CSV or JSON, for
 * spreadsheets, notebooks and `umbra analyze`. Reads the database
 * read-only (a running daemon keeps writing; WAL lets both be).
 *
 *   umbra export CONFIG|--db PATH --series SIDE/METRIC ... [--from T]
 *                [--to T] [--format csv|json] [--resolution raw|1m|auto]
 *   umbra export CONFIG|--db PATH --list
 *
 * Times: the one time grammar (cmd_time_parse in client_fmt.c): RFC 3339
 * (2026-11-27T04:00:00Z, offsets and fractions allowed), unix seconds
 * (1764216000.5), `now`, or a duration before now (90m or -90m).
 */
#include "cmd/cmd.h"
#include "cmd/client_cmd.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/units.h"
#include "base/xmalloc.h"
#include "metrics/metrics.h"
#include "metrics/store.h"

#include <ctype.h>
#include <jansson.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT_MAX_SPECS CMD_MAX_VALUES

static const cmd_opt_t opts[] = {
	{"db", 0, "PATH", "the store to read (default: the config's "
			  "store.path)"},
	{"series", 0, "SIDE/METRIC",
	 "series to export; globs allowed (shadow/latency_*, */cpu); "
	 "repeatable",
	 true},
	{"service", 0, "NAME", "only this service (default: the config's, or "
			       "all)"},
	{"endpoint", 0, "GLOB", "per-endpoint series matching GLOB (default: "
				"the side as a whole; * = all)"},
	{"from", 0, "TIME", "start (default -1h)"},
	{"to", 0, "TIME", "end (default now)"},
	{"format", 0, "FMT", "csv (default) or json"},
	CMD_OPT_OUTPUT,
	{"resolution", 0, "RES",
	 "raw, 1m (rollups) or auto (default: rollups where raw points have "
	 "expired)"},
	{"list", 'l', NULL, "list the stored series instead"},
	{NULL},
};

/* ------------------------------------------------------------ times */

/* ------------------------------------------------------------ output */

typedef struct out {
	bool json;
	bool first_series, first_point;
	const char *service, *side, *metric, *endpoint;
	uint64_t points;
} out_t;

static void csv_field(const char *s)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void out_json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* CSV's significant digits: more than any measurement here holds (the
 * collectors' resolution is far coarser), fewer than the 17 that
 * reproduce the binary double (0.0073609999999999995 prints 0.007361). */
#define EXPORT_CSV_DIGITS 15

/* JSON: the shortest text that reads back as v (JSON has no NaN: null);
 * CSV: EXPORT_CSV_DIGITS significant digits, for people and
 * spreadsheets. */
static void number(double v, bool json)
{
	if (!isfinite(v)) {
		fputs(json ? "null" : isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf",
		      stdout);
		return;
	}
	char s[40];
	if (!json) {
		snprintf(s, sizeof(s), "%.*g", EXPORT_CSV_DIGITS, v);
		fputs(s, stdout);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	fputs(s, stdout);
}

/* The catalogue's unit of a metric name ("" when unknown). */
static const char *unit_of(const char *metric)
{
	int m = metrics_by_name(metric);
	return m >= 0 ? metrics_info((metrics_id_t)m)->unit : "";
}

static int on_point(void *arg, const store_point_t *p)
{
	out_t *o = arg;
	char ts[CLOCK_ISO_LEN];
	clock_iso8601(p->ts_ns, ts);
	if (o->json) {
		printf("%s\n      {\"t\": \"%s\", \"v\": ",
		       o->first_point ? "" : ",", ts);
		number(p->mean, true);
		if (p->rollup) {
			fputs(", \"min\": ", stdout);
			number(p->min, true);
			fputs(", \"max\": ", stdout);
			number(p->max, true);
			printf(", \"count\": %llu", (unsigned long long)p->count);
		}
		putchar('}');
		o->first_point = false;
	} else {
		csv_field(o->service);
		putchar(',');
		csv_field(o->side);
		putchar(',');
		csv_field(o->metric);
		putchar(',');
		csv_field(unit_of(o->metric));
		putchar(',');
		csv_field(o->endpoint);
		printf(",%s,", ts);
		number(p->mean, false);
		putchar(',');
		number(p->min, false);
		putchar(',');
		number(p->max, false);
		printf(",%llu,%s\n", (unsigned long long)p->count,
		       p->rollup ? "1m" : "raw");
	}
	o->points++;
	return 0;
}

/* ------------------------------------------------------------ series */

typedef struct found {
	char **key; /* 4 strings per series */
	size_t n, cap;
} found_t;

static int on_series(void *arg, const store_series_info_t *s)
{
	found_t *f = arg;
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->key[4 * i], s->service) &&
		    !strcmp(f->key[4 * i + 1], s->side) &&
		    !strcmp(f->key[4 * i + 2], s->metric) &&
		    !strcmp(f->key[4 * i + 3], s->endpoint))
			return 0; /* matched by two specs */
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 32;
		f->key = xreallocarray(f->key, f->cap * 4, sizeof(char *));
	}
	f->key[4 * f->n] = xstrdup(s->service);
	f->key[4 * f->n + 1] = xstrdup(s->side);
	f->key[4 * f->n + 2] = xstrdup(s->metric);
	f->key[4 * f->n + 3] = xstrdup(s->endpoint);
	f->n++;
	return 0;
}

static void found_free(found_t *f)
{
	for (size_t i = 0; i < 4 * f->n; i++)
		free(f->key[i]);
	free(f->key);
}

/* Prints text as one shell word: as is when it is plain, else in single
 * quotes ('\'' for a quote). */
static void shell_word(const char *s)
{
	if (s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"
			      "UVWXYZ0123456789_./:-") == strlen(s)) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	putchar('\'');
}

typedef struct listing {
	const char *service; /* asked for, or NULL for all */
	json_t *rows;        /* -o json|yaml: the rows, else NULL */
} listing_t;

/* One series as the arguments that export it: SIDE/METRIC, which
 * --series takes, then --endpoint and --service when they are needed
 * to tell it apart; or as a row {series, endpoint, service, unit}. */
static int list_one(void *arg, const store_series_info_t *s)
{
	listing_t *l = arg;
	const char *service = l->service;
	if (l->rows) {
		char sm[512];
		snprintf(sm, sizeof(sm), "%s/%s", s->side, s->metric);
		json_array_append_new(
			l->rows,
			json_pack("{s:s,s:s,s:s,s:s}", "series", sm, "endpoint",
				  s->endpoint, "service", s->service, "unit",
				  unit_of(s->metric)));
		return 0;
	}
	printf("%s/%s", s->side, s->metric);
	if (s->endpoint[0]) {
		fputs(" --endpoint ", stdout);
		shell_word(s->endpoint);
	}
	if (!service) {
		fputs(" --service ", stdout);
		shell_word(s->service);
	}
	putchar('\n');
	return 0;
}

/* ------------------------------------------------------------ command */

static int exec(cmd_args_t *a)
{
	const cmd_entry_t *self = a->cmd;
	const char *dbpath = cmd_opt(a, "db");
	const char *service = cmd_opt(a, "service");
	config_t *cfg = NULL;
	if (a->npos == 1) {
		int rc = cmd_load_config(a->pos[0], &cfg);
		if (rc)
			return rc;
		if (!dbpath)
			dbpath = cfg->store.path;
		if (!service)
			service = cfg->service;
	}
	int rc = CMD_EXIT_OK;
	store_t *st = NULL;
	found_t found = {0};
	if (!dbpath) {
		rc = cmd_usage_error(self, "which store? give CONFIG or --db "
					   "PATH (usage: umbra export %s)",
				     self->usage);
		goto out;
	}
	const char *fmt = cmd_opt(a, "format");
	/* -o json (--json) is --format json; -o table is the CSV (--list:
	 * one series a line) */
	if (cmd_out_format() == CMD_OUT_YAML && !cmd_flag(a, "list")) {
		rc = cmd_usage_error(self, "points are CSV or JSON: -o table "
					   "or -o json (-o yaml is for --list)");
		goto out;
	}
	if (!fmt && cmd_out_format() == CMD_OUT_JSON)
		fmt = "json";
	bool json = fmt && !strcmp(fmt, "json");
	if (fmt && !json && strcmp(fmt, "csv")) {
		rc = cmd_usage_error(self, "bad --format '%s' (expected csv or "
					   "json)",
				     fmt);
		goto out;
	}
	const char *res_s = cmd_opt(a, "resolution");
	store_res_t res = STORE_AUTO;
	if (res_s && !strcmp(res_s, "raw"))
		res = STORE_RAW;
	else if (res_s && !strcmp(res_s, "1m"))
		res = STORE_ROLLUP;
	else if (res_s && strcmp(res_s, "auto")) {
		rc = cmd_usage_error(self, "bad --resolution '%s' (expected "
					   "raw, 1m or auto)",
				     res_s);
		goto out;
	}
	int64_t now = clock_wall_ns(), from = now - 3600 * NS_PER_S, to = now;
	const char *tf[2] = {cmd_opt(a, "from"), cmd_opt(a, "to")};
	int64_t *tv[2] = {&from, &to};
	for (int i = 0; i < 2; i++) {
		const char *why = "";
		if (tf[i] && cmd_time_parse(tf[i], now, tv[i], &why)) {
			rc = cmd_usage_error(self, "bad --%s '%s': %s",
					     i ? "to" : "from", tf[i], why);
			goto out;
		}
	}
	if (from > to) {
		rc = cmd_usage_error(self, "--from is after --to");
		goto out;
	}
	size_t nspec;
	const char *const *specs = cmd_opt_all(a, "series", &nspec);
	bool list = cmd_flag(a, "list");
	if (!list && nspec == 0) {
		rc = cmd_usage_error(self, "which series? give --series "
					   "SIDE/METRIC (or --list to see them)");
		goto out;
	}
	/* check the specs before touching the store */
	for (size_t i = 0; i < nspec; i++) {
		const char *sl = strchr(specs[i], '/');
		if (!specs[i][0] || (sl && (sl == specs[i] || !sl[1] ||
					    strchr(sl + 1, '/')))) {
			rc = cmd_usage_error(self,
					     "bad --series '%s' (expected "
					     "SIDE/METRIC or METRIC, e.g. "
					     "shadow/cpu or */latency_p99)",
					     specs[i]);
			goto out;
		}
	}

	store_opts_t so = {.path = dbpath, .readonly = true};
	int err = store_open(&so, &st);
	if (err) {
		rc = cmd_fail(self, "cannot read the store %s: %s", dbpath,
			      err_str(err));
		goto out;
	}
	if (list) {
		store_key_t pat = {service, NULL, NULL, NULL};
		listing_t l = {service, cmd_out_format() != CMD_OUT_TABLE
						? json_array()
						: NULL};
		err = store_series_find(st, &pat, list_one, &l);
		if (!err && l.rows)
			cmd_print_value(l.rows);
		json_decref(l.rows);
		if (err)
			rc = cmd_fail(self, "%s: %s", dbpath, err_str(err));
		goto out;
	}
	const char *ep = cmd_opt(a, "endpoint");
	for (size_t i = 0; i < nspec; i++) {
		char side[256], metric[256];
		const char *sl = strchr(specs[i], '/');
		if (sl) {
			snprintf(side, sizeof(side), "%.*s",
				 (int)(sl - specs[i]), specs[i]);
			snprintf(metric, sizeof(metric), "%s", sl + 1);
		} else {
			snprintf(side, sizeof(side), "*");
			snprintf(metric, sizeof(metric), "%s", specs[i]);
		}
		store_key_t pat = {service, side, metric, ep ? ep : ""};
		size_t before = found.n;
		err = store_series_find(st, &pat, on_series, &found);
		if (err) {
			rc = cmd_fail(self, "%s: %s", dbpath, err_str(err));
			goto out;
		}
		if (found.n == before) {
			rc = cmd_fail(self,
				      "no series match '%s'%s%s (see umbra "
				      "export --list)",
				      specs[i], service ? " of service " : "",
				      service ? service : "");
			goto out;
		}
	}

	out_t o = {.json = json, .first_series = true};
	char fs[CLOCK_ISO_LEN], ts[CLOCK_ISO_LEN];
	if (json)
		printf("{\n  \"from\": \"%s\",\n  \"to\": \"%s\",\n"
		       "  \"resolution\": \"%s\",\n  \"series\": [",
		       clock_iso8601(from, fs), clock_iso8601(to, ts),
		       res == STORE_RAW ? "raw" : res == STORE_ROLLUP ? "1m"
								      : "auto");
	else
		puts("service,side,metric,unit,endpoint,time,value,min,max,"
		     "count,resolution");
	for (size_t i = 0; i < found.n; i++) {
		store_key_t k = {found.key[4 * i], found.key[4 * i + 1],
				 found.key[4 * i + 2], found.key[4 * i + 3]};
		o.service = k.service;
		o.side = k.side;
		o.metric = k.metric;
		o.endpoint = k.endpoint;
		if (json) {
			printf("%s\n    {\"service\": ", i ? "," : "");
			out_json_string(k.service);
			fputs(", \"side\": ", stdout);
			out_json_string(k.side);
			fputs(", \"metric\": ", stdout);
			out_json_string(k.metric);
			fputs(", \"endpoint\": ", stdout);
			out_json_string(k.endpoint);
			int m = metrics_by_name(k.metric);
			fputs(", \"unit\": ", stdout);
			out_json_string(m >= 0 ? metrics_info(m)->unit : "");
			fputs(", \"points\": [", stdout);
			o.first_point = true;
		}
		err = store_query(st, &k, from, to, res, on_point, &o);
		if (json)
			fputs(o.first_point ? "]}" : "\n    ]}", stdout);
		if (err) {
			if (json)
				puts("]}");
			rc = cmd_fail(self, "%s: %s", dbpath, err_str(err));
			goto out;
		}
	}
	if (json)
		puts(found.n ? "\n  ]\n}" : "]\n}");
	if (fflush(stdout) != 0 || ferror(stdout))
		rc = cmd_fail(self, "writing the output: %s", strerror(errno));
out:
	found_free(&found);
	store_close(st);
	config_free(cfg);
	return rc;
}

const cmd_entry_t cmd_export = {
	.name = "export",
	.usage = "CONFIG|--db PATH --series SIDE/METRIC... [--from T] [--to T] "
		 "[--format csv|json]",
	.summary = "export stored series as CSV or JSON",
	.help = "Reads series from the store (store.path of CONFIG, or --db) "
		"and prints them.\nSIDE/METRIC may use globs; METRIC alone means "
		"every side. Times are RFC 3339\n(2026-11-27T04:00:00Z), unix "
		"seconds, now, or -DURATION before now (-90m).\nResolution auto "
		"gives 1-minute rollups (min, max, mean, count) where raw\npoints "
		"have expired, raw points after. CSV columns: service, side, "
		"metric,\nendpoint, time, value (the mean for a rollup), min, "
		"max, count, resolution.\nThe database is opened read-only; a "
		"running daemon may keep writing.",
	.opts = opts,
	.min_pos = 0,
	.max_pos = 1,
	.exec = exec,
};
