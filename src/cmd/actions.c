/*
 * actions.c: `umbra actions CONFIG [--since 1h] [--limit N] [--json]`: the
 * mitigation engine's audit chain from the running daemon (GET
 * /api/v1/actions): each decision (a policy rule that fired, a release, a
 * scheduled test) with the actions it started and each action's outcomes
 * under it, newest decision first. The daemon stores them as rows told
 * apart by detail.record (decision, action, outcome) and chained by
 * engine ids (run_audit.c); this command puts the chain back together.
 */
#include "cmd/client_cmd.h"

static const cmd_opt_t opts[] = {
	{"since", 's', "DURATION|TIME",
	 "how far back (default 1h; e.g. 30m, 7d, 2026-01-31T12:00:00Z)"},
	{"limit", 'n', "N", "at most N rows, the newest (1 to 1000)"},
	CMD_OPT_OUTPUT,
	{NULL},
};

static int exec(cmd_args_t *a)
{
	cmd_client_t c;
	json_t *arr;
	char window[CMD_WINDOW_LEN];
	size_t limit;
	int rc = cmd_client_fetch_list(a, 0, "/api/v1/actions", &c, &arr,
				       window, &limit);
	if (rc)
		return rc;
	json_t *rows = cmd_list_select(arr, "time", limit, NULL, NULL);
	cmd_client_print_list(a, rows, window, cmd_render_actions);
	json_decref(rows);
	json_decref(arr);
	cmd_client_close(&c);
	return CMD_EXIT_OK;
}

const cmd_entry_t cmd_actions = {
	.name = "actions",
	.usage = "CONFIG [--since DURATION|TIME] [--limit N] "
		 "[-o table|json|yaml]",
	.summary = "the audit chain: decisions, actions, outcomes",
	.help = "Asks the daemon that runs CONFIG for the audit records of "
		"the last --since\n(default 1h; a duration or a time) and "
		"prints them as chains, the newest\ndecision first:\n\n"
		"  decision   the rule that fired and its condition with the "
		"values seen\n"
		"    action   what was started (or recommended in dry run, "
		"held, skipped)\n"
		"      outcome  how it ended (applied, verified, "
		"verify_failed, ...)\n\n"
		"A row's time is shown when it differs from its decision's "
		"(a verification\ncomes minutes later). Rows whose decision is "
		"older than the window (or\nbeyond --limit rows) stand alone. "
		"--json prints the API's rows as they are.\n\n"
		"Exit status: 0 listed (also when there are none); 1 no daemon "
		"answers or\nthe API refused; 2 bad usage (a bad --since or "
		"--limit).",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.exec = exec,
};
