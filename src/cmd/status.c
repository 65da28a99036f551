/*
 * status.c: `umbra status CONFIG [--json]`: the running daemon's state as
 * an operator reads it in a few seconds (GET /api/v1/status): replicas up
 * and desired, traffic, the open findings, each compared metric's
 * deviation against its threshold (the ones that need a look flagged),
 * and the mitigation engine (dry run, a hold and how to lift it, a
 * rollback being verified, the last action from GET /api/v1/actions,
 * snapshots, capacity, alerts, the stress test's state).
 *
 * Its exit status is for scripts and monitoring checks: 0 healthy, 3 the
 * daemon needs a person (held, a critical finding open, or DEGRADED: a
 * side with fewer replicas up than desired), 1 it could not be asked, 2
 * bad usage.
 */
#include "cmd/client_cmd.h"

#include <stdio.h>

static const cmd_opt_t opts[] = {
	CMD_OPT_OUTPUT,
	{NULL},
};

static int exec(cmd_args_t *a)
{
	cmd_client_t c;
	int rc = cmd_client_open(a->cmd, a->pos[0], &c);
	if (rc)
		return rc;
	json_t *st;
	rc = cmd_client_call(&c, "/api/v1/status", NULL, &st, NULL);
	if (rc) {
		cmd_client_close(&c);
		return rc;
	}
	/* the last action, from the audit (the status has counts only) */
	json_t *acts = NULL;
	if (cmd_out_format() == CMD_OUT_TABLE && json_is_object(json_object_get(st, "mitigation")))
		rc = cmd_client_call(&c,
				     "/api/v1/actions?since=" CMD_LAST_ACTION_WINDOW,
				     NULL, &acts, NULL);
	if (rc) {
		json_decref(st);
		cmd_client_close(&c);
		return rc;
	}
	buf_t out = BUF_INIT;
	bool attention = cmd_render_status(st, cmd_last_action(acts), a->pos[0],
					   &out);
	json_decref(acts);
	if (cmd_out_format() != CMD_OUT_TABLE)
		cmd_client_print_json(st);
	else
		fputs(out.data, stdout);
	buf_free(&out);
	json_decref(st);
	cmd_client_close(&c);
	return attention ? CMD_EXIT_ATTENTION : CMD_EXIT_OK;
}

const cmd_entry_t cmd_status = {
	.name = "status",
	.usage = "CONFIG [-o table|json|yaml]",
	.summary = "the running daemon's state: replicas, deviations, holds",
	.help = "Asks the daemon that runs CONFIG (umbra run, on api.listen "
		"with the token in\napi.token_file) for its state and prints "
		"a summary: uptime, production\nreplicas up and desired, shadow "
		"replicas up, requests mirrored and compared,\nthe open "
		"findings, each compared metric's deviation against its "
		"threshold\n('!' marks the ones open or over threshold), and "
		"the mitigation engine: dry\nrun, a hold and how to release "
		"it, a rollback being verified, the last\naction of the last "
		CMD_LAST_ACTION_WINDOW ", the current and known-good config "
		"snapshots, capacity,\nalerts firing, the stress test's "
		"state.\n\n"
		"Exit status: 0 healthy; 3 it needs a person (automatic actions "
		"are held,\nor a critical finding is open); 1 no daemon answers "
		"or the API refused;\n2 bad usage. --json prints the API's "
		"reply and keeps the exit status.",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.exec = exec,
};
