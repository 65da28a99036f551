/*
 * analyze.c: `umbra analyze`, offline analysis of metric files. The
 * option table and the dispatch to a mode live here; each mode is its own
 * file (analyze.h).
 */
#include "cmd/analyze.h"

#include <stdio.h>

static const cmd_opt_t opts[] = {
	{"prod", 'p', "FILE", "production's metrics (CSV, long or wide)"},
	{"shadow", 's', "FILE", "the shadow's metrics (CSV, long or wide)"},
	{"events", 'e', "FILE",
	 "events: start,end,type,side,description (CSV)"},
	{"config", 'c', "FILE",
	 "thresholds and the rest of analysis.* and events.* from a config"},
	{"format", 'f', "FMT", "output: jsonl (default) or table"},
	{NULL},
};

static int exec(cmd_args_t *a)
{
	if (a->npos)
		return cmd_usage_error(a->cmd, "unexpected argument '%s' (usage: "
					       "umbra analyze %s)",
				       a->pos[0], a->cmd->usage);
	return analyze_pair_run(a);
}

const cmd_entry_t cmd_analyze = {
	.name = "analyze",
	.usage = "--prod P.csv --shadow S.csv [--events E.csv] [--config C] "
		 "[--format jsonl|table]",
	.summary = "offline analysis of production and shadow metric files",
	.help =
		"Runs the deviation analysis that `umbra run` runs live over two "
		"metric files,\nproduction's and the shadow's, tick by tick, "
		"and prints every finding: metric,\ndeviation |p - s| / p, "
		"velocity, effective threshold, severity, prediction and\nlead "
		"time, verdict, ranked root causes, context and the "
		"recommended action.\n\n"
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
		"shadow or both.\n\n"
		"Output: one JSON object per finding (jsonl) or a table; a "
		"summary on stderr.\nMalformed input is reported as "
		"FILE:LINE:COL: reason, and the exit status is 2.\n"
		"Formulas: docs/analysis.md.",
	.opts = opts,
	.min_pos = 0,
	.max_pos = -1,
	.exec = exec,
};
