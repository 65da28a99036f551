/*
 * client_cmd.h: what the commands that talk to a running daemon share
 * (`umbra status`, `findings`, `actions`, `events`, `release`,
 * `timeline`): opening the admin API client of a config with errors an
 * operator can act on, one call with its failure printed as one line,
 * option parsers, and the renderers that turn the API's JSON
 * (docs/api.md) into text.
 *
 * The renderers are pure (JSON in, text appended to a buf_t out; no I/O,
 * no clock) so that tests/unit/cmd/test_client_fmt.c checks them on
 * crafted replies. They accept what a daemon of another version may send:
 * a missing field renders as "-" or is left out, never a crash.
 *
 * Ownership: cmd_client_open fills a cmd_client_t that cmd_client_close
 * releases (the config and the API client); replies are new JSON
 * references the caller releases.
 */
#ifndef UMBRA_CMD_CLIENT_CMD_H
#define UMBRA_CMD_CLIENT_CMD_H

#include "api/client.h"
#include "base/buf.h"
#include "cmd/cmd.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define CMD_SINCE_DEFAULT "1h" /* the API's own default window */
#define CMD_SINCE_MAX_LEN 64    /* a duration or a time is short */
#define CMD_WINDOW_LEN 96       /* "in the last 1h", "since 2026-..." */
#define CMD_LIST_LIMIT_MAX 1000 /* the API answers at most this many rows */
/* How far back `umbra status` looks for the last action: a day covers
 * an incident that still matters. */
#define CMD_LAST_ACTION_WINDOW "24h"
#define CMD_EVENT_TEXT_MAX 1000 /* the API refuses longer event text */
/* Unix seconds an event may name: 1970 .. 2100 (beyond is a typo). */
#define CMD_EVENT_MAX_UNIX 4102444800LL

/* ------------------------------------------------------------ I/O */

typedef struct cmd_client {
	const cmd_entry_t *cmd; /* for "umbra NAME: ..." messages */
	config_t *cfg;
	api_client_t *api;
} cmd_client_t;

/* Loads config_file and makes the client of the daemon that runs it.
 * Returns CMD_EXIT_OK with *c filled, or an exit code after printing one
 * line: the config's errors (CMD_EXIT_USAGE), the API off in this config,
 * no token file (no daemon ever started with this config), a token file
 * others may read (CMD_EXIT_FAIL). */
int cmd_client_open(const cmd_entry_t *cmd, const char *config_file,
		    cmd_client_t *c);
void cmd_client_close(cmd_client_t *c);

/* GET path (body NULL) or POST body (borrowed). CMD_EXIT_OK with *reply
 * set (new reference), or CMD_EXIT_FAIL after printing one line naming
 * what failed and where (no daemon answers on URL, a refusal with the
 * API's reason and HTTP status). *status (may be NULL) gets the HTTP
 * status, 0 when none came back. */
int cmd_client_call(cmd_client_t *c, const char *path, json_t *body,
		    json_t **reply, long *status);

/* Reports a failed api_client_call (rc, HTTP status st, its err text)
 * as one line, with a hint for a wrong token (401) or an unknown route
 * (404). Returns CMD_EXIT_FAIL. */
int cmd_client_report(cmd_client_t *c, int rc, long st, const buf_t *err);

/* A list command's request (`findings`, `actions`, `events list`):
 * --since and --limit checked (CMD_EXIT_USAGE after printing why), the
 * client of CONFIG (a->pos[cfg_pos]) opened into *c, route fetched with
 * ?since= into *arr (a new reference to an array). window gets the
 * phrase naming the window ("in the last 1h", "since 2026-01-31
 * 12:00:00Z"), *limit the --limit (0: all). On CMD_EXIT_OK the caller
 * closes c and releases *arr; on failure nothing is left open. */
int cmd_client_fetch_list(cmd_args_t *a, int cfg_pos, const char *route,
			  cmd_client_t *c, json_t **arr,
			  char window[CMD_WINDOW_LEN], size_t *limit);

/* Prints a list: --json gives rows as JSON (newest first), else render
 * does. */
void cmd_client_print_list(cmd_args_t *a, json_t *rows, const char *window,
			   void (*render)(json_t *arr, const char *window,
					  buf_t *out));

/* Prints j as the API sent it (indented, the API's precision). */
void cmd_client_print_json(const json_t *j);

/* ------------------------------------------------------------ formats */

/* RFC 3339 UTC to the second, "2026-11-27T07:44:56Z", from the API's
 * "2026-11-27T07:44:56.532Z"
 * (seconds are enough to read; UTC stays marked). Anything else is
 * copied as is; NULL gives "-". Returns out. */
#define CMD_TIME_LEN 32
const char *cmd_fmt_api_time(const char *iso, char out[CMD_TIME_LEN]);

/* A span for people: "0.4s", "42s", "5m07s", "3h02m", "4d03h"; "-" for
 * a negative or non-finite value. Returns out. */
#define CMD_AGE_LEN 24
const char *cmd_fmt_age(double seconds, char out[CMD_AGE_LEN]);

/* A ratio as a percentage with the digits that matter: "150%", "12%",
 * "3.5%", "0.05%"; "-" when not finite. Returns out. */
#define CMD_PCT_LEN 24
const char *cmd_fmt_pct(double ratio, char out[CMD_PCT_LEN]);

/* A --since value: a duration back from now_ns ("30m", "-1h30m", "7d"),
 * or a time in the past (cmd_time_parse). NULL is the
 * default (CMD_SINCE_DEFAULT). 0 with *window_ns (> 0) and *is_time
 * set, or ERR_PARSE / ERR_RANGE (a zero window, a time in the future)
 * with *why a short reason. */
int cmd_since_parse(const char *s, int64_t now_ns, int64_t *window_ns,
		    bool *is_time, const char **why);

/* A --limit value: 1 .. CMD_LIST_LIMIT_MAX. 0 with *n set, or ERR_PARSE
 * / ERR_RANGE with *why. */
int cmd_limit_parse(const char *s, size_t *n, const char **why);

/* The rows of a list reply (objects only) newest first by the time
 * field key (ISO times sort as text; ties by id, higher first), at most
 * limit of them (0: all). keep (NULL: all) chooses rows. Returns a new
 * array. */
json_t *cmd_list_select(json_t *arr, const char *key, size_t limit,
			bool (*keep)(json_t *row, void *arg), void *arg);

/* The open findings: of findings (newest first, as cmd_list_select
 * gives them), the newest of each metric whose analysis in status (GET
 * /api/v1/status) has an open finding ("open" other than "none").
 * Returns a new array, newest first. */
json_t *cmd_findings_open(json_t *findings, json_t *status);

/* An event kind as `umbra events` takes it (deploy, config, note,
 * scheduled; the API's config_change too) to the API's type, or NULL. */
const char *cmd_event_kind(const char *kind);

/* The text of an added event: the message, with the version when given
 * ("v2.3.1: rolled out", or "v2.3.1" alone). out is reset. */
void cmd_event_text(const char *message, const char *version, buf_t *out);

/* The one time grammar of every time flag (--since, export's --from and
 * --to, events' --start and --end): "now"; a duration ago, with or
 * without the minus ("1h" and "-1h" are both one hour ago); "+DURATION"
 * (ahead); Unix seconds ("1769860800.5"); RFC 3339 with a fraction and
 * a zone ("2026-01-31T12:00:00Z", "...T13:00:00.5+01:00"). 0 with *ns
 * set, or ERR_PARSE / ERR_RANGE (before 1970, after 2100) with *why a
 * short reason. */
int cmd_time_parse(const char *s, int64_t now_ns, int64_t *ns,
		   const char **why);

/* ------------------------------------------------------------ renderers */

/* GET /api/v1/status as the summary an operator reads in seconds, with
 * last (may be NULL) the newest row of GET /api/v1/actions whose
 * detail.record is "action" or "outcome" (cmd_last_action). config_file
 * names the config in the hint how to release a hold. Returns true when
 * it needs attention (CMD_EXIT_ATTENTION): actions are held, a metric's
 * open finding is critical, or a side has fewer replicas up than desired
 * (DEGRADED). */
bool cmd_render_status(json_t *st, json_t *last, const char *config_file,
		       buf_t *out);

/* The newest action or outcome row of an actions list (any order), or
 * NULL. Borrowed from arr. */
json_t *cmd_last_action(json_t *arr);

/* GET /api/v1/findings: newest first, one line each (time, metric,
 * severity, summary). window ("in the last 1h") completes the message
 * when there are none. The list renderers take rows already in display
 * order (cmd_list_select). */
void cmd_render_findings(json_t *arr, const char *window, buf_t *out);

/* GET /api/v1/actions: the audit chain, newest decision first, each
 * followed by its actions and each action by its outcomes (the rows'
 * detail.record, detail.decision, detail.action). Rows whose decision or
 * action is outside the window stand alone. */
void cmd_render_actions(json_t *arr, const char *window, buf_t *out);

/* GET /api/v1/events: newest first (start time). */
void cmd_render_events(json_t *arr, const char *window, buf_t *out);

/* One event as recorded ("recorded deploy on production at ...: TEXT"). */
void cmd_render_event(json_t *ev, buf_t *out);

/* The "notes" array of GET /api/v1/timeline, one line each, in order. */
void cmd_render_notes(json_t *notes, buf_t *out);

#endif
