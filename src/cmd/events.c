/*
 * events.c: `umbra events list|add CONFIG`: the running daemon's event
 * markers (GET/POST /api/v1/events). Events are the context the analysis
 * weighs causes with: a deploy or a config change on a side explains a
 * change there, a scheduled job explains load, a note is for people.
 *
 *   list CONFIG [--since 1h] [--kind K] [--limit N] [--json]
 *   add CONFIG --kind K (--message TEXT | --deploy-version V) [--side S]
 *              [--start T] [--end T] [--json]
 *
 * add checks what it sends as the API does (so a typo is exit 2 before
 * anything is recorded) and prints what the daemon recorded, defaults
 * filled in. A deploy or config change on production also makes the
 * daemon snapshot production's config files. The API has no version
 * field: --deploy-version leads the event's text ("v2.3.1: rolled out").
 */
#include "cmd/client_cmd.h"

#include "base/clock.h"

#include <stdio.h>
#include <string.h>

static const cmd_opt_t opts[] = {
	{"since", 's', "DURATION|TIME",
	 "list: how far back (default 1h; e.g. 30m, 7d)"},
	{"kind", 'k', "KIND",
	 "deploy, config (or config_change, as listed), note, scheduled or "
	 "replay (add: required; list: only these)"},
	{"limit", 'n', "N", "list: at most N events, the newest (1 to 1000)"},
	CMD_OPT_OUTPUT,
	{"message", 'm', "TEXT", "add: what happened (up to 1000 characters)"},
	{"deploy-version", 0, "V",
	 "add: the version deployed (leads the text)"},
	{"side", 0, "SIDE", "add: production, shadow or both (default both)"},
	{"start", 0, "TIME",
	 "add: when it began: now (default), -10m (ago), +5m, Unix seconds "
	 "or 2026-01-31T12:00:00Z"},
	{"end", 0, "TIME", "add: when it ended (default: the start)"},
	{NULL},
};

static const char *const sides[] = {"production", "shadow", "both", NULL};

static bool one_of(const char *v, const char *const *set)
{
	for (int i = 0; set[i]; i++)
		if (!strcmp(v, set[i]))
			return true;
	return false;
}

/* --start/--end into the body as Unix seconds; 0 or an exit code. */
static int put_time(cmd_args_t *a, const char *opt, int64_t now,
		    json_t *body, int64_t *ns)
{
	const char *v = cmd_opt(a, opt);
	if (!v)
		return 0;
	const char *why = NULL;
	if (cmd_time_parse(v, now, ns, &why))
		return cmd_usage_error(a->cmd, "bad --%s '%s': %s", opt, v, why);
	json_object_set_new(body, opt, json_real((double)*ns / 1e9));
	return 0;
}

static int bad_kind(const cmd_entry_t *self, const char *kind)
{
	return cmd_usage_error(self,
			       "unknown --kind '%s' (expected deploy, config "
			       "or config_change, note, scheduled or replay)",
			       kind);
}

static int add(cmd_args_t *a)
{
	const cmd_entry_t *self = a->cmd;
	static const char *const list_only[] = {"since", "limit"};
	for (size_t i = 0; i < sizeof(list_only) / sizeof(*list_only); i++)
		if (cmd_opt(a, list_only[i]))
			return cmd_usage_error(self, "--%s is for 'events list'",
					       list_only[i]);
	const char *kind = cmd_opt(a, "kind"), *side = cmd_opt(a, "side"),
		   *msg = cmd_opt(a, "message"), *ver = cmd_opt(a, "deploy-version");
	if (!kind)
		return cmd_usage_error(self, "events add needs --kind (deploy, "
					     "config, note, scheduled or "
					     "replay)");
	const char *type = cmd_event_kind(kind);
	if (!type)
		return bad_kind(self, kind);
	if (side && !one_of(side, sides))
		return cmd_usage_error(self,
				       "unknown --side '%s' (expected "
				       "production, shadow or both)",
				       side);
	if ((!msg || !msg[0]) && (!ver || !ver[0]))
		return cmd_usage_error(self, "events add needs --message (what "
					     "happened, for the people who "
					     "read it later) or --deploy-version");
	buf_t text = BUF_INIT;
	cmd_event_text(msg, ver, &text);
	if (text.len > CMD_EVENT_TEXT_MAX) {
		int e = cmd_usage_error(self,
					"the text is %zu characters; the "
					"daemon keeps at most %d",
					text.len, CMD_EVENT_TEXT_MAX);
		buf_free(&text);
		return e;
	}
	json_t *body = json_pack("{s:s,s:s,s:s}", "type", type, "side",
				 side ? side : "both", "text", text.data);
	buf_free(&text);
	int64_t now = clock_wall_ns(), start = now, end = now;
	int rc = put_time(a, "start", now, body, &start);
	if (!rc)
		rc = put_time(a, "end", now, body, &end);
	if (!rc && cmd_opt(a, "end") && end < start)
		rc = cmd_usage_error(self, "--end is before --start");
	cmd_client_t c;
	if (!rc)
		rc = cmd_client_open(self, a->pos[1], &c);
	if (rc) {
		json_decref(body);
		return rc;
	}
	json_t *reply;
	rc = cmd_client_call(&c, "/api/v1/events", body, &reply, NULL);
	json_decref(body);
	if (rc == 0) {
		if (cmd_out_format() != CMD_OUT_TABLE) {
			cmd_client_print_json(reply);
		} else {
			buf_t out = BUF_INIT;
			cmd_render_event(json_object_get(reply, "event"), &out);
			fputs(out.data, stdout);
			buf_free(&out);
		}
		json_decref(reply);
	}
	cmd_client_close(&c);
	return rc;
}

static bool kind_is(json_t *row, void *arg)
{
	const char *t = json_string_value(json_object_get(row, "type"));
	return t && !strcmp(t, arg);
}

static int list(cmd_args_t *a)
{
	const cmd_entry_t *self = a->cmd;
	static const char *const add_only[] = {"message", "deploy-version", "side",
					       "start", "end"};
	for (size_t i = 0; i < sizeof(add_only) / sizeof(*add_only); i++)
		if (cmd_opt(a, add_only[i]))
			return cmd_usage_error(self, "--%s is for 'events add'",
					       add_only[i]);
	const char *kind = cmd_opt(a, "kind"), *type = NULL;
	if (kind && !(type = cmd_event_kind(kind)))
		return bad_kind(self, kind);
	cmd_client_t c;
	json_t *arr;
	char window[CMD_WINDOW_LEN];
	size_t limit;
	int rc = cmd_client_fetch_list(a, 1, "/api/v1/events", &c, &arr,
				       window, &limit);
	if (rc)
		return rc;
	json_t *rows = cmd_list_select(arr, "start", limit,
				       type ? kind_is : NULL, (void *)type);
	cmd_client_print_list(a, rows, window, cmd_render_events);
	json_decref(rows);
	json_decref(arr);
	cmd_client_close(&c);
	return CMD_EXIT_OK;
}

static int exec(cmd_args_t *a)
{
	const char *sub = a->pos[0];
	if (!strcmp(sub, "add"))
		return add(a);
	if (!strcmp(sub, "list"))
		return list(a);
	return cmd_usage_error(a->cmd,
			       "unknown subcommand '%s' (expected list or add)",
			       sub);
}

const cmd_entry_t cmd_events = {
	.name = "events",
	.usage = "list|add CONFIG [options]",
	.summary = "list or add event markers (deploys, notes) on the daemon",
	.help = "  list CONFIG [--since D|T] [--kind K] [--limit N] [--json]\n"
		"      the events of the last --since (default 1h), newest "
		"first\n"
		"  add CONFIG --kind K (--message TEXT | --deploy-version V) [--side S]"
		"\n      [--start T] [--end T] [--json]\n"
		"      records an event with the daemon that runs CONFIG and "
		"prints it\n\n"
		"Kinds: deploy, config (a config change), note, scheduled. "
		"Events give the\nanalysis its context: a deploy or config "
		"change on a side explains a change\nthere (and one on "
		"production makes the daemon snapshot its config files),\na "
		"scheduled job explains load, a note is for people. --deploy-version "
		"leads the\ntext (\"v2.3.1: rolled out\"). Times: now, -10m "
		"(that long ago), +5m, Unix\nseconds, or 2026-01-31T12:00:00Z "
		"(UTC).\n\n"
		"Exit status: 0 done; 1 no daemon answers or the API refused; "
		"2 bad usage\n(an unknown --kind or --side, a bad time, a "
		"bad --since).",
	.opts = opts,
	.min_pos = 2,
	.max_pos = 2,
	.exec = exec,
};
