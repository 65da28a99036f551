/*
 * client_cmd.c: the I/O half of client_cmd.h: opening a config's API
 * client and making one call, each failure printed as one line that says
 * what failed, where, and what to do about it.
 */
#include "cmd/client_cmd.h"

#include "base/clock.h"
#include "base/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_client_open(const cmd_entry_t *cmd, const char *config_file,
		    cmd_client_t *c)
{
	*c = (cmd_client_t){.cmd = cmd};
	int rc = cmd_load_config(config_file, &c->cfg);
	if (rc)
		return rc;
	buf_t err = BUF_INIT;
	rc = api_client_new(c->cfg, &c->api, &err);
	if (rc == 0) {
		buf_free(&err);
		return CMD_EXIT_OK;
	}
	if (rc == -ENOENT) {
		/* Said as what it is: the daemon was not asked at all. */
		cmd_fail(cmd,
			 "the API token file %s does not exist (api.token_file; "
			 "umbra run makes it at its first start: is `umbra run "
			 "%s` going, as a user that lets you read it?)",
			 c->cfg->api.token_file, config_file);
	}
	else if (rc == ERR_UNSUPPORTED)
		cmd_fail(cmd, "%s: %s; there is no daemon to ask", config_file,
			 err.data);
	else
		cmd_fail(cmd, "%s", err.data ? err.data : err_str(rc));
	buf_free(&err);
	config_free(c->cfg);
	c->cfg = NULL;
	return CMD_EXIT_FAIL;
}

void cmd_client_close(cmd_client_t *c)
{
	api_client_free(c->api);
	config_free(c->cfg);
	*c = (cmd_client_t){0};
}

int cmd_client_report(cmd_client_t *c, int rc, long st, const buf_t *err)
{
	const char *hint = "";
	if (st == 401)
		hint = " (the token in api.token_file is not the running "
		       "daemon's: is it another config's daemon?)";
	else if (st == 404)
		hint = " (a daemon of another version, or one without this "
		       "route)";
	return cmd_fail(c->cmd, "%s%s", err->data ? err->data : err_str(rc),
			hint);
}

int cmd_client_call(cmd_client_t *c, const char *path, json_t *body,
		    json_t **reply, long *status)
{
	long st = 0;
	buf_t err = BUF_INIT;
	int rc = api_client_call(c->api, path, body, reply, &st, &err);
	if (status)
		*status = st;
	if (rc)
		rc = cmd_client_report(c, rc, st, &err);
	buf_free(&err);
	return rc ? CMD_EXIT_FAIL : CMD_EXIT_OK;
}

int cmd_client_fetch_list(cmd_args_t *a, int cfg_pos, const char *route,
			  cmd_client_t *c, json_t **arr,
			  char window[CMD_WINDOW_LEN], size_t *limit)
{
	*arr = NULL;
	*limit = 0;
	const char *since = cmd_opt(a, "since"), *lim = cmd_opt(a, "limit");
	const char *why = NULL;
	int64_t now = clock_wall_ns(), win;
	bool is_time;
	if (cmd_since_parse(since, now, &win, &is_time, &why))
		return cmd_usage_error(a->cmd,
				       "bad --since '%.64s': %s (e.g. 30m, 7d, "
				       "2026-01-31T12:00:00Z)",
				       since ? since : "", why);
	if (lim && cmd_limit_parse(lim, limit, &why))
		return cmd_usage_error(a->cmd, "bad --limit '%.64s': %s", lim,
				       why);
	if (is_time) {
		char iso[CLOCK_ISO_LEN], t[CMD_TIME_LEN];
		snprintf(window, CMD_WINDOW_LEN, "since %s",
			 cmd_fmt_api_time(clock_iso8601(now - win, iso), t));
	} else {
		snprintf(window, CMD_WINDOW_LEN, "in the last %s",
			 since ? since : CMD_SINCE_DEFAULT);
	}
	int rc = cmd_client_open(a->cmd, a->pos[cfg_pos], c);
	if (rc)
		return rc;
	/* whole seconds, rounded up: the window covers the time asked */
	char path[192];
	snprintf(path, sizeof(path), "%s?since=%llds", route,
		 (long long)((win + NS_PER_S - 1) / NS_PER_S));
	rc = cmd_client_call(c, path, NULL, arr, NULL);
	if (rc == 0 && !json_is_array(*arr))
		rc = cmd_fail(a->cmd, "%s: the daemon's reply is not a list",
			      route);
	if (rc) {
		json_decref(*arr);
		*arr = NULL;
		cmd_client_close(c);
	}
	return rc;
}

void cmd_client_print_list(cmd_args_t *a, json_t *rows, const char *window,
			   void (*render)(json_t *arr, const char *window,
					  buf_t *out))
{
	if (cmd_out_format() != CMD_OUT_TABLE) {
		cmd_client_print_json(rows);
		return;
	}
	buf_t out = BUF_INIT;
	render(rows, window, &out);
	fputs(out.data ? out.data : "", stdout);
	buf_free(&out);
}

void cmd_client_print_json(const json_t *j)
{
	cmd_print_value(j);
}
