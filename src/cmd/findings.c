/*
 * findings.c: `umbra findings CONFIG [--open] [--since 1h] [--limit N]
 * [--json]`: what the running daemon found (GET /api/v1/findings), newest
 * first, one line each: time, metric, severity, and the evidence
 * sentence. --open keeps the findings still open: the newest of each
 * metric whose analysis has an open finding in GET /api/v1/status (the
 * store records a finding when it opens; the daemon knows which are open
 * now).
 */
#include "cmd/client_cmd.h"

static const cmd_opt_t opts[] = {
	{"open", 0, NULL, "only the findings still open"},
	{"since", 's', "DURATION|TIME",
	 "how far back (default 1h; e.g. 30m, 7d, 2026-01-31T12:00:00Z)"},
	{"limit", 'n', "N", "at most N findings, the newest (1 to 1000)"},
	CMD_OPT_OUTPUT,
	{NULL},
};

static int exec(cmd_args_t *a)
{
	cmd_client_t c;
	json_t *arr;
	char window[CMD_WINDOW_LEN];
	size_t limit;
	int rc = cmd_client_fetch_list(a, 0, "/api/v1/findings", &c, &arr,
				       window, &limit);
	if (rc)
		return rc;
	json_t *rows = cmd_list_select(arr, "time", 0, NULL, NULL);
	if (cmd_flag(a, "open")) {
		json_t *st;
		rc = cmd_client_call(&c, "/api/v1/status", NULL, &st, NULL);
		if (rc == 0) {
			json_t *open = cmd_findings_open(rows, st);
			json_decref(rows);
			rows = open;
			json_decref(st);
		}
	}
	if (rc == 0) {
		json_t *shown = cmd_list_select(rows, "time", limit, NULL, NULL);
		cmd_client_print_list(a, shown, window, cmd_render_findings);
		json_decref(shown);
	}
	json_decref(rows);
	json_decref(arr);
	cmd_client_close(&c);
	return rc;
}

const cmd_entry_t cmd_findings = {
	.name = "findings",
	.usage = "CONFIG [--open] [--since DURATION|TIME] [--limit N] "
		 "[-o table|json|yaml]",
	.summary = "the running daemon's findings, newest first",
	.help = "Asks the daemon that runs CONFIG (umbra run, on api.listen "
		"with the token in\napi.token_file) for the findings of the "
		"last --since (default 1h; a\nduration, or a time: Unix seconds "
		"or 2026-01-31T12:00:00Z, UTC) and prints\nthem newest first, "
		"one line each: time (UTC), metric, severity and the\nevidence: "
		"the deviation, the side that moved, the likely causes.\n"
		"--open keeps the ones still open (the newest finding of each "
		"metric the\nanalysis has open now). --json prints the API's "
		"rows, each finding with its\nfull evidence object.\n\n"
		"Exit status: 0 listed (also when there are none); 1 no daemon "
		"answers or\nthe API refused; 2 bad usage (a bad --since or "
		"--limit).",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.exec = exec,
};
