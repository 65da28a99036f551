/*
 * release.c: `umbra release CONFIG [--note TEXT] [--who NAME] [--json]`: a
 * person acted after a failed verification (or another reason the
 * mitigation engine held its automatic actions): the hold is lifted and
 * actions resume (POST /api/v1/release). who and the note go to the
 * audit, so `umbra actions` shows who released what and why. When
 * nothing is held the daemon answers 409: this says so and exits 0 (the
 * state the caller wants is the state it is in).
 */
#include "cmd/client_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELEASE_NOTE_MAX 500 /* a sentence or two for the audit */

static const cmd_opt_t opts[] = {
	{"note", 0, "TEXT", "what was done about it (goes to the audit)"},
	{"who", 0, "NAME", "who releases it (default $USER)"},
	CMD_OPT_OUTPUT,
	{NULL},
};

static int exec(cmd_args_t *a)
{
	const char *note = cmd_opt(a, "note"), *who = cmd_opt(a, "who");
	if (!who || !who[0])
		who = getenv("USER");
	if (!who || !who[0])
		who = "cli";
	if (note && strlen(note) > RELEASE_NOTE_MAX)
		return cmd_usage_error(a->cmd,
				       "--note is %zu characters; at most %d",
				       strlen(note), RELEASE_NOTE_MAX);
	cmd_client_t c;
	int rc = cmd_client_open(a->cmd, a->pos[0], &c);
	if (rc)
		return rc;
	json_t *body = json_pack("{s:s,s:s}", "who", who, "note",
				 note ? note : "");
	json_t *reply = NULL;
	long st = 0;
	buf_t err = BUF_INIT;
	rc = api_client_call(c.api, "/api/v1/release", body, &reply, &st, &err);
	json_decref(body);
	if (rc == 0) {
		if (cmd_out_format() != CMD_OUT_TABLE)
			cmd_client_print_json(reply);
		else
			printf("released: automatic actions resume (by %s)\n",
			       who);
	} else if (st == 409) {
		/* nothing held: said on stdout, not an error */
		if (cmd_out_format() != CMD_OUT_TABLE) {
			json_t *j = json_pack("{s:s}", "status", "not held");
			cmd_client_print_json(j);
			json_decref(j);
		} else
			printf("nothing is held: automatic actions are running; "
			       "nothing to release\n");
		rc = 0;
	} else {
		rc = cmd_client_report(&c, rc, st, &err);
	}
	json_decref(reply);
	buf_free(&err);
	cmd_client_close(&c);
	return rc ? CMD_EXIT_FAIL : CMD_EXIT_OK;
}

const cmd_entry_t cmd_release = {
	.name = "release",
	.usage = "CONFIG [--note TEXT] [--who NAME] [-o table|json|yaml]",
	.summary = "lift the hold on automatic actions after a person acted",
	.help = "When a rollback's verification fails, the daemon that runs "
		"CONFIG alerts and\nholds its automatic actions until a person "
		"acts (umbra status shows HELD\nand why). Once production is "
		"sound again, this lifts the hold: actions\nresume, and the "
		"release (who, the note) is audited (umbra actions).\n\n"
		"Exit status: 0 released, or nothing was held (it says so); 1 "
		"no daemon\nanswers or the API refused; 2 bad usage.",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.exec = exec,
};
