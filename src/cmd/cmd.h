/*
 * cmd.h: the command table and what every command shares: option parsing
 * from a per-command table of options (tmux's cmd_entry), help text, exit
 * codes, and loading a config with its errors printed.
 *
 * A command is one file, src/cmd/<name>.c, exporting a cmd_entry_t that is
 * listed once in cmd_table[] (cmd.c). Only commands that work are listed.
 */
#ifndef UMBRA_CMD_CMD_H
#define UMBRA_CMD_CMD_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>

#define CMD_EXIT_OK 0
#define CMD_EXIT_FAIL 1  /* the command ran and failed */
#define CMD_EXIT_USAGE 2 /* bad usage, bad config: nothing was done */
/* `umbra status`: the daemon answers but needs a person (actions held,
 * or a critical finding open). Apart from 1 (could not ask) and 2
 * (usage), so a script or a monitoring check tells them apart. */
#define CMD_EXIT_ATTENTION 3

#define CMD_MAX_OPTS 32 /* options one command may declare */
#define CMD_MAX_VALUES 64 /* values of one repeatable option */

typedef struct cmd_opt {
	const char *name; /* long name without "--" */
	char short_name;  /* 0 for none */
	const char *arg;  /* metavariable ("FILE"), NULL for a flag */
	const char *help;
	bool repeat; /* may be given several times; all values kept */
} cmd_opt_t;

typedef struct cmd_entry cmd_entry_t;

typedef struct cmd_args {
	const cmd_entry_t *cmd;
	const char *vals[CMD_MAX_OPTS]; /* last value (or "" for a flag) */
	const char **multi[CMD_MAX_OPTS];
	size_t nmulti[CMD_MAX_OPTS];
	char **pos; /* positional arguments, borrowed from argv */
	int npos;
} cmd_args_t;

struct cmd_entry {
	const char *name;
	const char *usage;   /* after "umbra NAME ", e.g. "CONFIG [options]" */
	const char *summary; /* one line for `umbra --help` */
	const char *help;    /* paragraphs for `umbra help NAME` */
	const cmd_opt_t *opts; /* terminated by {NULL} */
	int min_pos, max_pos;  /* positional arguments; max -1 = any */
	int (*exec)(cmd_args_t *args); /* returns an exit code */
};

/* -o / --output of every read command: a table for people (the
 * default), or the API's JSON, or the same as YAML. --json is -o json.
 * A stream (timeline --follow) is JSON Lines, or YAML documents. */
typedef enum { CMD_OUT_TABLE, CMD_OUT_JSON, CMD_OUT_YAML } cmd_out_t;
#define CMD_OPT_OUTPUT                                                        \
	{"output", 'o', "FMT", "table (default), json or yaml"},               \
	{                                                                      \
		"json", 0, NULL, "the same as -o json"                         \
	}
/* The output format asked for (set by cmd_main before the command runs;
 * one command per process). */
cmd_out_t cmd_out_format(void);
/* Prints v in the asked format (json or yaml; table prints JSON too). */
void cmd_print_value(const struct json_t *v);
/* One item of a stream: a JSON line, or a YAML document. */
void cmd_print_stream_item(const struct json_t *v);

/* The value of option name, or NULL when not given. */
const char *cmd_opt(const cmd_args_t *a, const char *name);
bool cmd_flag(const cmd_args_t *a, const char *name);
/* All values of a repeatable option; *n set to their count. */
const char *const *cmd_opt_all(const cmd_args_t *a, const char *name,
			       size_t *n);

/* Prints "umbra CMD: msg" to stderr; returns CMD_EXIT_USAGE. */
int cmd_usage_error(const cmd_entry_t *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints "umbra CMD: msg" to stderr; returns CMD_EXIT_FAIL. */
int cmd_fail(const cmd_entry_t *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Loads file; on failure prints "umbra CMD: cannot load the config FILE"
 * and every error to stderr and returns CMD_EXIT_USAGE (a missing or
 * unreadable file included: nothing was done). */
int cmd_load_config(const char *file, config_t **out);

/* The proxy's capture tap masks what it sends (capture.h): when the tap
 * is on and mask.enabled, a real masker is made and given to px; *out
 * (NULL when none) is freed with cap_masker_free after proxy_free. 0, or
 * a negative error with err set (the key cannot be loaded). */
struct proxy;
struct cap_masker;
int cmd_tap_masker(struct proxy *px, const config_t *cfg,
		   struct cap_masker **out, buf_t *err);

/* The command table in `umbra --help` order (*n set to its length), and
 * the options every command takes ({NULL}-terminated): what `umbra
 * completion` is generated from. */
const cmd_entry_t *const *cmd_commands(size_t *n);
const cmd_opt_t *cmd_common_opts(void);

/* Entry point: argv as main() has it. Returns the process exit code. */
int cmd_main(int argc, char **argv);

extern const cmd_entry_t cmd_actions;
extern const cmd_entry_t cmd_analyze;
extern const cmd_entry_t cmd_capture;
extern const cmd_entry_t cmd_check_config;
extern const cmd_entry_t cmd_completion;
extern const cmd_entry_t cmd_drift;
extern const cmd_entry_t cmd_events;
extern const cmd_entry_t cmd_export;
extern const cmd_entry_t cmd_findings;
extern const cmd_entry_t cmd_mask;
extern const cmd_entry_t cmd_propose;
extern const cmd_entry_t cmd_proxy;
extern const cmd_entry_t cmd_release;
extern const cmd_entry_t cmd_replay;
extern const cmd_entry_t cmd_run;
extern const cmd_entry_t cmd_snapshots;
extern const cmd_entry_t cmd_status;
extern const cmd_entry_t cmd_stress;
extern const cmd_entry_t cmd_timeline;

#endif
