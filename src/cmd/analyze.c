/*
 * analyze.c: `umbra analyze`: offline analysis of metric series. The
 * option table and the dispatch to one mode per file:
 *
 *   --nab DIR   the Numenta Anomaly Benchmark (analyze_nab.c)
 */
#include "cmd/analyze.h"

#include <stdio.h>

static const cmd_opt_t opts[] = {
	/* NAB mode (analyze_nab.c) */
	{"nab", 0, "DIR",
	 "run detectors over the NAB corpus in DIR (data/, labels/)"},
	{"out", 'o', "OUT", "NAB mode: write NAB's result layout under OUT"},
	{"detector", 'd', "NAME",
	 "NAB mode: detector, comma list or 'all' (default: ensemble)"},
	{"list-detectors", 0, NULL, "list the detectors and exit"},
	{NULL},
};

static int exec(cmd_args_t *a)
{
	if (cmd_opt(a, "nab") || cmd_flag(a, "list-detectors"))
		return analyze_nab_run(a);
	return cmd_usage_error(a->cmd, "nothing to analyse: give --nab DIR "
				       "(see 'umbra analyze --help')");
}

const cmd_entry_t cmd_analyze = {
	.name = "analyze",
	.usage = "--nab DIR --out OUT [--detector NAME]",
	.summary = "offline analysis: anomaly detectors on the NAB benchmark",
	.help = "--nab runs anomaly detectors over every series of a Numenta "
		"Anomaly\nBenchmark corpus (DIR/data/<category>/<file>.csv "
		"and\nDIR/labels/combined_windows.json; the repository ships "
		"one in data/nab),\nwrites "
		"OUT/<detector>/<category>/<detector>_<file>.csv with "
		"the\ncolumns timestamp,value,anomaly_score,label (NAB's own "
		"scorer reads them),\nand prints NAB's three scores per "
		"detector: standard, reward_low_FP_rate\nand "
		"reward_low_FN_rate, each with its corpus-wide best threshold. "
		"Every\ndetector is causal and runs with one configuration "
		"for all series.",
	.opts = opts,
	.min_pos = 0,
	.max_pos = 0,
	.exec = exec,
};
