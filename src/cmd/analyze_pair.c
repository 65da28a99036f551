/*
 * analyze_pair.c: `umbra analyze --prod P --shadow S`: reads the files,
 * parses them (src/analysis/csv.h), runs the offline loop over the
 * streaming analyzer (src/analysis/offline.h) with the parameters of the
 * config (or the defaults), and prints each finding as one JSON line or
 * one table row. All the analysis is in src/analysis; this file is I/O
 * and formatting.
 */
#include "analysis/csv.h"
#include "analysis/offline.h"
#include "base/err.h"
#include "base/xmalloc.h"
#include "cmd/analysis_config.h"
#include "cmd/analyze.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { FMT_JSONL, FMT_TABLE } fmt_t;

typedef struct out_ctx {
	fmt_t fmt;
	FILE *f;
	bool header_done;
} out_ctx_t;

/* ------------------------------------------------------------ input */

/* Reads all of path into *data (NUL-terminated). 0, ERR_TOOBIG past
 * AN_CSV_MAX_BYTES, or -errno. */
static int read_all(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 1 << 16, n = 0;
	char *b = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if ((long long)cap > AN_CSV_MAX_BYTES) {
				free(b);
				fclose(f);
				return ERR_TOOBIG;
			}
			cap *= 2;
			b = xreallocarray(b, cap + 1, 1);
		}
		size_t got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	int rc = ferror(f) ? -EIO : 0;
	fclose(f);
	if (rc == 0 && (long long)n > AN_CSV_MAX_BYTES)
		rc = ERR_TOOBIG;
	if (rc) {
		free(b);
		return rc;
	}
	b[n] = '\0';
	*data = b;
	*len = n;
	return 0;
}

/* Reads and parses one metric or events file; prints the error and
 * returns an exit code when it fails. */
static int load(const cmd_entry_t *self, const char *path,
		an_csv_series_t *series, an_csv_events_t *events)
{
	char *data = NULL;
	size_t len = 0;
	int rc = read_all(path, &data, &len);
	if (rc)
		return cmd_usage_error(self, "%s: %s", path, err_str(rc));
	an_csv_err_t e;
	rc = series ? an_csv_series_parse(data, len, series, &e)
		    : an_csv_events_parse(data, len, events, &e);
	free(data);
	if (rc) {
		fprintf(stderr, "%s:%d:%d: %s\n", path, e.line, e.col, e.why);
		return CMD_EXIT_USAGE;
	}
	return 0;
}

/* ------------------------------------------------------------ output */

static int print_finding(const an_finding_t *f, void *arg)
{
	out_ctx_t *o = arg;
	if (o->fmt == FMT_JSONL) {
		json_t *j = cmd_finding_json(f);
		int rc = json_dumpf(j, o->f,
				    JSON_COMPACT | JSON_PRESERVE_ORDER |
					    JSON_REAL_PRECISION(6));
		json_decref(j);
		if (rc || fputc('\n', o->f) == EOF)
			return CMD_EXIT_FAIL;
		return 0;
	}
	if (!o->header_done) {
		fprintf(o->f, "%-20s  %-11s  %-9s  %7s  %7s  %6s  %3s  %5s  "
			      "%-8s  %s\n",
			"TIME", "METRIC", "KIND", "DEV", "VEL", "THR", "SEV",
			"LEAD", "ACTION", "TOP CAUSE");
		o->header_done = true;
	}
	char t[40], lead[16] = "-";
	cmd_fmt_time(f->t_ns, t, sizeof(t));
	if (f->predicted)
		snprintf(lead, sizeof(lead), "%.0fs", f->lead_s);
	char cause[AN_NAME_MAX * 2 + 32] = "-";
	if (f->suppressed) {
		const char *task = "?";
		for (size_t i = 0; i < f->ncontext; i++)
			if (f->context[i].explains)
				task = f->context[i].name;
		snprintf(cause, sizeof(cause), "(explained: %s)", task);
	} else if (f->ncauses) {
		snprintf(cause, sizeof(cause), "%s %s",
			 an_cause_kind_name(f->cause[0].kind),
			 f->cause[0].subject);
	}
	if (fprintf(o->f,
		    "%-20s  %-11s  %-9s  %7.3f  %7.3f  %6.3f  %3.0f  %5s  %-8s  "
		    "%s\n",
		    t, an_metric_name(f->metric), an_find_kind_name(f->kind),
		    f->deviation, f->velocity, f->threshold, f->severity, lead,
		    an_action_name(f->action), cause) < 0)
		return CMD_EXIT_FAIL;
	return 0;
}

/* ------------------------------------------------------------ run */

static bool has_series(const an_csv_series_t *s, const char *name)
{
	for (size_t i = 0; i < s->nnames; i++)
		if (!strcmp(s->names[i].name, name))
			return true;
	return false;
}

/* Without rps on both sides, load-driven metrics are compared through
 * shadow.ratio: say so, since the default (0.1) is rarely what two
 * arbitrary files need. */
static void note_ratio(const an_csv_series_t *p, const an_csv_series_t *s,
		       double ratio)
{
	if (has_series(p, "rps") && has_series(s, "rps"))
		return;
	for (int m = 0; m < AN_METRIC__COUNT; m++) {
		const char *n = an_metric_name((an_metric_t)m);
		if (an_metric_norm((an_metric_t)m) == AN_NORM_LOAD &&
		    has_series(p, n) && has_series(s, n)) {
			fprintf(stderr,
				"umbra analyze: no rps series in both files: "
				"load-driven metrics (cpu, disk, network) are "
				"compared with the shadow scaled by 1/%g "
				"(shadow.ratio; set it with --config, or add "
				"rps)\n",
				ratio);
			return;
		}
	}
}

static const char *file_name(const cmd_args_t *a, an_offline_file_t f)
{
	return cmd_opt(a, f == AN_OFF_PROD     ? "prod"
			  : f == AN_OFF_SHADOW ? "shadow"
					       : "events");
}

int analyze_pair_run(cmd_args_t *a)
{
	const cmd_entry_t *self = a->cmd;
	const char *prod = cmd_opt(a, "prod"), *shadow = cmd_opt(a, "shadow");
	const char *events = cmd_opt(a, "events"), *conf = cmd_opt(a, "config");
	const char *fmt = cmd_opt(a, "format");
	if (!prod || !shadow)
		return cmd_usage_error(self, "--prod and --shadow are both "
					     "needed (see 'umbra analyze "
					     "--help')");
	out_ctx_t out = {.fmt = FMT_JSONL, .f = stdout};
	/* -o json (--json): JSON Lines, a stream of findings; -o table */
	if (!fmt && (cmd_opt(a, "output") || cmd_flag(a, "json"))) {
		if (cmd_out_format() == CMD_OUT_YAML)
			return cmd_usage_error(self, "findings are JSON Lines "
						     "(-o json) or a table (-o "
						     "table)");
		fmt = cmd_out_format() == CMD_OUT_TABLE ? "table" : "jsonl";
	}
	if (fmt && !strcmp(fmt, "table"))
		out.fmt = FMT_TABLE;
	else if (fmt && strcmp(fmt, "jsonl"))
		return cmd_usage_error(self,
				       "bad --format '%s' (expected jsonl or "
				       "table)",
				       fmt);

	config_t *cfg = NULL;
	int rc;
	if (conf) {
		rc = cmd_load_config(conf, &cfg);
		if (rc)
			return rc;
	} else {
		cfg = config_new_default("analyze");
	}
	an_params_t params;
	an_sched_t *sched = NULL;
	cmd_analysis_params(cfg, &params, &sched);
	config_free(cfg);

	an_csv_series_t ps = {0}, ss = {0};
	an_csv_events_t ev = {0};
	rc = load(self, prod, &ps, NULL);
	if (!rc)
		rc = load(self, shadow, &ss, NULL);
	if (!rc && events)
		rc = load(self, events, NULL, &ev);
	if (!rc)
		note_ratio(&ps, &ss, params.ratio);
	if (!rc) {
		an_offline_stats_t st;
		an_offline_err_t e;
		int r = an_offline_run(&params, &ps, &ss, events ? &ev : NULL,
				       print_finding, &out, &st, &e);
		if (r == ERR_PARSE) {
			const char *f = file_name(a, e.file);
			if (e.line)
				fprintf(stderr, "%s:%d:%d: %s\n", f, e.line,
					e.col, e.why);
			else
				fprintf(stderr, "%s: %s\n", f, e.why);
			rc = CMD_EXIT_USAGE;
		} else if (r == ERR_INVAL) {
			rc = cmd_usage_error(self, "bad analysis parameters: %s",
					     e.why);
		} else if (r) {
			rc = cmd_fail(self, "writing the output failed");
		} else if (fflush(stdout) != 0) {
			rc = cmd_fail(self, "writing the output failed: %s",
				      strerror(errno));
		} else {
			fprintf(stderr,
				"umbra analyze: %zu ticks at %gs, %zu "
				"findings (%zu suppressed)\n",
				st.ticks, (double)st.interval_ns / 1e9,
				st.findings, st.suppressed);
		}
	}
	an_csv_series_free(&ps);
	an_csv_series_free(&ss);
	an_csv_events_free(&ev);
	free(sched);
	return rc;
}
