/*
 * analyze.c: `umbra analyze`, offline analysis. The option table and the
 * dispatch to a mode live here; each mode is its own file (analyze.h):
 *
 *   --prod P --shadow S   production against the shadow (analyze_pair.c)
 *   --nab DIR             the Numenta Anomaly Benchmark (analyze_nab.c)
 */
#include "cmd/analyze.h"

#include <stdio.h>

static const cmd_opt_t opts[] = {
	/* production vs shadow (analyze_pair.c) */
	{"prod", 'p', "FILE", "production's metrics (CSV, long or wide)"},
	{"shadow", 0, "FILE", "the shadow's metrics (CSV, long or wide)"},
	{"events", 'e', "FILE",
	 "events: start,end,type,side,description (CSV)"},
	{"config", 'c', "FILE",
	 "thresholds and the rest of analysis.* and events.* from a config"},
	{"format", 0, "FMT", "output: jsonl (default) or table"},
	CMD_OPT_OUTPUT,
	/* NAB (analyze_nab.c) */
	{"nab", 0, "DIR",
	 "run detectors over the NAB corpus in DIR (data/, labels/)"},
	{"out", 0, "OUT", "NAB mode: write NAB's result layout under OUT"},
	{"detector", 0, "NAME",
	 "NAB mode: detector, comma list or 'all' (default: ensemble3)"},
	{"cv", 0, "K",
	 "NAB mode: cross-validate the default detector's constants over K "
	 "folds of files, or 'category' (one fold per category)"},
	{"per-file", 0, NULL,
	 "NAB mode: also print each file's TP, FN and FP at the standard "
	 "profile's threshold"},
	{"list-detectors", 0, NULL, "list the detectors and exit"},
	{NULL},
};

static int exec(cmd_args_t *a)
{
	if (a->npos)
		return cmd_usage_error(a->cmd, "unexpected argument '%s' (usage: "
					       "umbra analyze %s)",
				       a->pos[0], a->cmd->usage);
	if (cmd_opt(a, "nab") || cmd_flag(a, "list-detectors")) {
		if (cmd_opt(a, "prod") || cmd_opt(a, "shadow"))
			return cmd_usage_error(a->cmd,
					       "--nab and --prod/--shadow are "
					       "separate modes");
		if (cmd_opt(a, "output") || cmd_flag(a, "json"))
			return cmd_usage_error(a->cmd,
					       "-o is for --prod/--shadow (--nab "
					       "writes NAB's layout under --out)");
		return analyze_nab_run(a);
	}
	if (!cmd_opt(a, "prod") && !cmd_opt(a, "shadow"))
		return cmd_usage_error(a->cmd,
				       "nothing to analyse: give --prod P.csv "
				       "--shadow S.csv, or --nab DIR (see "
				       "'umbra analyze --help')");
	return analyze_pair_run(a);
}

const cmd_entry_t cmd_analyze = {
	.name = "analyze",
	.usage = "--prod P.csv --shadow S.csv [--events E.csv] [--config C] "
		 "[-o json|table] | --nab DIR --out OUT [--detector "
		 "NAME] [--per-file] | --nab DIR --cv K|category",
	.summary = "offline analysis: production vs shadow files, or the NAB "
		   "benchmark",
	.help =
		"--prod/--shadow runs the deviation analysis that `umbra run` "
		"runs live over two\nmetric files, production's and the "
		"shadow's, tick by tick, and prints every\nfinding: metric, "
		"deviation |p - s| / p, velocity, effective threshold,\n"
		"severity, prediction and lead time, verdict, ranked root "
		"causes, context and\nthe recommended action.\n\n"
		"Metric files: a header `timestamp,metric,value` (long) or "
		"`timestamp,cpu,memory,...`\n(wide); timestamps ISO 8601 "
		"(UTC unless a zone is given) or Unix seconds.\nSeries: cpu "
		"memory disk_read disk_write net_rx net_tx latency_p50 "
		"latency_p90\nlatency_p99 error_rate diff_rate; rps (normalises "
		"load-driven metrics per\nrequest); connect_time and ttfb "
		"(seconds); per endpoint requests:PATH,\ncost:PATH, "
		"latency:PATH and differ_rate:PATH.\n"
		"Events file: start,end,type,side,description with type deploy, "
		"config_change,\nscheduled or note and side production, "
		"shadow or both.\n"
		"Output: one JSON object per finding (jsonl) or a table; a "
		"summary on stderr.\nMalformed input is reported as "
		"FILE:LINE:COL: reason, and the exit status is 2.\n"
		"Formulas: docs/analysis.md.\n\n"
		"--nab runs anomaly detectors over every series of a Numenta "
		"Anomaly\nBenchmark corpus (DIR/data/<category>/<file>.csv "
		"and\nDIR/labels/combined_windows.json; the repository ships "
		"one in data/nab),\nwrites "
		"OUT/<detector>/<category>/<detector>_<file>.csv with "
		"the\ncolumns timestamp,value,anomaly_score,label (NAB's own "
		"scorer reads them),\nand prints NAB's three scores per "
		"detector: standard, reward_low_FP_rate\nand "
		"reward_low_FN_rate, each with its corpus-wide best threshold. "
		"Every\ndetector is causal and runs with one configuration "
		"for all series\n(docs/anomaly.md).\n\n"
		"--cv K (or --cv category) instead cross-validates the default "
		"detector:\nfor each of K folds of files its constants are "
		"chosen from their candidate\ngrid on the other folds, and the "
		"fold is scored at the other folds'\nthreshold; prints each "
		"fold's choice and the pooled held-out scores beside\nthe "
		"in-sample ones.",
	.opts = opts,
	.min_pos = 0,
	.max_pos = -1,
	.exec = exec,
};
