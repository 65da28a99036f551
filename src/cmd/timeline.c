/*
 * timeline.c: `umbra timeline CONFIG [--after SEQ] [--follow] [--json]`:
 * what the running daemon's mitigation engine noted, numbered and in
 * order (GET /api/v1/timeline?after=SEQ): findings, decisions, actions
 * and their outcomes, alerts, snapshots, stress tests, scaling. The
 * daemon keeps the last RUN_NOTES of them in memory.
 *
 * --follow asks again every CMD_FOLLOW_INTERVAL_MS for the notes after
 * the last one seen (tail -f) until SIGINT or SIGTERM, then exits 0. A
 * daemon that restarted numbers from 1 again: the follower starts over.
 */
#include "cmd/client_cmd.h"

#include "base/units.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CMD_FOLLOW_INTERVAL_MS 1000 /* a person watching; the daemon ticks
				     * about as often */

static const cmd_opt_t opts[] = {
	{"after", 'a', "SEQ", "only the notes numbered after SEQ"},
	{"follow", 'f', NULL, "keep printing new notes until interrupted"},
	CMD_OPT_OUTPUT,
	{NULL},
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Sleeps ms unless a signal comes first. */
static void nap(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (!interrupted && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Prints one reply's notes; *header tells whether the header was
 * printed already. */
static void print_notes(cmd_args_t *a, json_t *reply, bool *header)
{
	json_t *notes = json_object_get(reply, "notes");
	if (cmd_out_format() != CMD_OUT_TABLE) {
		if (!cmd_flag(a, "follow")) {
			cmd_client_print_json(reply);
			return;
		}
		size_t i;
		json_t *n;
		json_array_foreach(notes, i, n)
			cmd_print_stream_item(n);
		return;
	}
	if (!json_array_size(notes))
		return;
	buf_t out = BUF_INIT;
	if (!*header)
		buf_printf(&out, "%6s  %-20s  %-9s %s\n", "SEQ", "TIME (UTC)",
			   "KIND", "WHAT");
	*header = true;
	cmd_render_notes(notes, &out);
	fputs(out.data, stdout);
	buf_free(&out);
}

static int exec(cmd_args_t *a)
{
	const char *after_s = cmd_opt(a, "after");
	int64_t after = 0;
	if (after_s && units_parse_i64(after_s, 0, INT64_MAX, &after, NULL))
		return cmd_usage_error(a->cmd,
				       "bad --after '%.64s' (expected a note's "
				       "number, 0 or more)",
				       after_s);
	bool follow = cmd_flag(a, "follow"), header = false;
	cmd_client_t c;
	int rc = cmd_client_open(a->cmd, a->pos[0], &c);
	if (rc)
		return rc;
	if (follow) {
		struct sigaction sa = {.sa_handler = on_signal};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	/* ours: after is the daemon's own number (not --after), so a
	 * smaller last means a new daemon */
	bool any = false, ours = false;
	while (!interrupted) {
		char path[96];
		snprintf(path, sizeof(path), "/api/v1/timeline?after=%" PRId64,
			 after);
		json_t *reply;
		rc = cmd_client_call(&c, path, NULL, &reply, NULL);
		if (rc)
			break;
		json_int_t last =
			json_integer_value(json_object_get(reply, "last"));
		if (last < after && ours) {
			/* a new daemon numbers from 1 again */
			fprintf(stderr, "umbra timeline: the daemon restarted; "
					"its timeline starts over\n");
			after = 0;
			ours = false;
			json_decref(reply);
			continue;
		}
		any |= json_array_size(json_object_get(reply, "notes")) > 0;
		print_notes(a, reply, &header);
		json_decref(reply);
		if (last > after) {
			after = last;
			ours = true;
		}
		if (!follow)
			break;
		fflush(stdout);
		nap(CMD_FOLLOW_INTERVAL_MS);
	}
	if (rc == 0 && !any && !follow && cmd_out_format() == CMD_OUT_TABLE)
		printf(after_s ? "no notes after %" PRId64 "\n"
			       : "no notes yet (the engine has noted nothing "
				 "since the daemon started)\n",
		       after);
	cmd_client_close(&c);
	return rc;
}

const cmd_entry_t cmd_timeline = {
	.name = "timeline",
	.usage = "CONFIG [--after SEQ] [--follow] [-o table|json|yaml]",
	.summary = "what the daemon's mitigation engine did, in order",
	.help = "Prints the timeline of the daemon that runs CONFIG: "
		"numbered notes of what\nits mitigation engine saw and did "
		"(findings, decisions, actions and their\noutcomes, alerts, "
		"config snapshots, stress tests, scaling), oldest first.\nThe "
		"daemon keeps the most recent ones in memory; the full audit "
		"is in\n`umbra actions` and `umbra findings`.\n\n"
		"--follow keeps asking every second for new notes and prints "
		"them as they\ncome, until Ctrl-C. --after SEQ starts after "
		"note SEQ.\n\n"
		"Exit status: 0 printed (or interrupted while following); 1 no "
		"daemon\nanswers or the API refused; 2 bad usage.",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.exec = exec,
};
