/*
 * cmd.c: the command table, global options, help, and option parsing.
 *
 *   umbra [--log-level L] [--log-format F] COMMAND [ARGS] [OPTIONS]
 *   umbra --help | --version | help [COMMAND]
 *
 * Options may come before or after positional arguments; "--" ends them.
 * Unknown commands and options get a one-line error with the closest
 * valid name, and exit 2.
 */
#include "cmd/cmd.h"

#include "base/err.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/suggest.h"
#include "base/xmalloc.h"
#include "version.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Listed in `umbra --help` order. */
static const cmd_entry_t *const cmd_table[] = {
	&cmd_run,
	&cmd_status,
	&cmd_findings,
	&cmd_actions,
	&cmd_events,
	&cmd_timeline,
	&cmd_release,
	&cmd_propose,
	&cmd_proxy,
	&cmd_capture,
	&cmd_replay,
	&cmd_analyze,
	&cmd_drift,
	&cmd_export,
	&cmd_mask,
	&cmd_stress,
	&cmd_snapshots,
	&cmd_check_config,
	&cmd_completion,
};
#define CMD_COUNT (sizeof(cmd_table) / sizeof(cmd_table[0]))

/* Options every command takes. */
static const cmd_opt_t global_opts[] = {
	{"log-level", 0, "LEVEL", "debug, info, warn, error or off (info)"},
	{"log-format", 0, "FMT", "logfmt or json (logfmt)"},
	{"help", 'h', NULL, "show help"},
	{"version", 'V', NULL, "print umbra's version and exit"},
	{NULL},
};

const cmd_entry_t *const *cmd_commands(size_t *n)
{
	*n = CMD_COUNT;
	return cmd_table;
}

const cmd_opt_t *cmd_common_opts(void)
{
	return global_opts;
}

/* --------------------------------------------------------------- messages */

static void vmsg(const cmd_entry_t *cmd, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void vmsg(const cmd_entry_t *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "umbra%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cmd_usage_error(const cmd_entry_t *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(cmd, fmt, ap);
	va_end(ap);
	return CMD_EXIT_USAGE;
}

int cmd_fail(const cmd_entry_t *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(cmd, fmt, ap);
	va_end(ap);
	return CMD_EXIT_FAIL;
}

/* The command cmd_main runs, so that what every command shares (loading
 * a config) names it in its messages. */
static const cmd_entry_t *cmd_running;

int cmd_load_config(const char *file, config_t **out)
{
	config_errors_t errs = {0};
	int rc = config_load_file(file, out, &errs);
	if (rc) {
		buf_t b = BUF_INIT;
		config_errors_format(&errs, &b);
		/* A file that cannot be read gets one line naming the
		 * command; errors inside a config are FILE:LINE:COL lines. */
		if (rc != ERR_CONFIG)
			fprintf(stderr,
				"umbra%s%s: cannot load the config %s\n",
				cmd_running ? " " : "",
				cmd_running ? cmd_running->name : "", file);
		fputs(b.data ? b.data : "", stderr);
		buf_free(&b);
	}
	config_errors_free(&errs);
	/* A missing or unreadable config is bad usage like a bad one:
	 * nothing was done (README: exit 2). */
	return rc == 0 ? CMD_EXIT_OK : CMD_EXIT_USAGE;
}

/* --------------------------------------------------------------- help */

static void print_opts(FILE *f, const cmd_opt_t *opts)
{
	for (const cmd_opt_t *o = opts; o && o->name; o++) {
		char left[64];
		snprintf(left, sizeof(left), "%s%c%s--%s%s%s",
			 o->short_name ? "-" : "",
			 o->short_name ? o->short_name : ' ',
			 o->short_name ? ", " : " ", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s\n", o->short_name ? left : left + 2,
			o->help);
	}
}

static void print_command_help(FILE *f, const cmd_entry_t *c)
{
	fprintf(f, "usage: umbra %s%s%s\n\n%s\n", c->name,
		c->usage[0] ? " " : "", c->usage, c->summary);
	if (c->help && c->help[0])
		fprintf(f, "\n%s\n", c->help);
	if (c->opts && c->opts[0].name) {
		fputs("\noptions:\n", f);
		print_opts(f, c->opts);
	}
	fputs("\ncommon options:\n", f);
	print_opts(f, global_opts);
}

static void print_main_help(FILE *f)
{
	fputs("umbra: run a shadow of a production service, mirror masked "
	      "traffic to it,\ncompare the two, predict drift, and act before "
	      "users notice.\n\n"
	      "usage: umbra [--log-level LEVEL] [--log-format FMT] COMMAND "
	      "[ARGS]\n       umbra help COMMAND | umbra COMMAND --help\n"
	      "       umbra --version\n\ncommands:\n",
	      f);
	for (size_t i = 0; i < CMD_COUNT; i++)
		fprintf(f, "  %-14s %s\n", cmd_table[i]->name,
			cmd_table[i]->summary);
	fputs("  help           show help for a command\n\n"
	      "Configuration reference: docs/config.md; an annotated example: "
	      "examples/umbra.yaml.\n",
	      f);
}

/* --------------------------------------------------------------- lookup */

static const cmd_entry_t *find_command(const char *name)
{
	for (size_t i = 0; i < CMD_COUNT; i++)
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
	return NULL;
}

static int unknown_command(const char *name)
{
	const char *names[CMD_COUNT + 1];
	for (size_t i = 0; i < CMD_COUNT; i++)
		names[i] = cmd_table[i]->name;
	names[CMD_COUNT] = "help";
	const char *s = suggest_closest(name, names, CMD_COUNT + 1);
	if (s)
		return cmd_usage_error(NULL,
				       "unknown command '%s'; did you mean "
				       "'%s'? (see 'umbra --help')",
				       name, s);
	return cmd_usage_error(NULL,
			       "unknown command '%s' (see 'umbra --help')",
			       name);
}

/* Index into the concatenation [cmd opts..., global opts...], or -1. */
static int find_opt(const cmd_entry_t *c, const char *name, size_t len,
		    char short_name, const cmd_opt_t **out)
{
	int idx = 0;
	const cmd_opt_t *tables[2] = {c ? c->opts : NULL, global_opts};
	for (int t = 0; t < 2; t++) {
		for (const cmd_opt_t *o = tables[t]; o && o->name; o++, idx++) {
			bool hit = short_name ? o->short_name == short_name
					      : strlen(o->name) == len &&
							!strncmp(o->name, name, len);
			if (hit) {
				*out = o;
				return idx;
			}
		}
	}
	return -1;
}

static int unknown_option(const cmd_entry_t *c, const char *arg)
{
	const char *names[CMD_MAX_OPTS + 8];
	char buf[CMD_MAX_OPTS + 8][48];
	size_t n = 0;
	const cmd_opt_t *tables[2] = {c ? c->opts : NULL, global_opts};
	for (int t = 0; t < 2; t++)
		for (const cmd_opt_t *o = tables[t]; o && o->name; o++) {
			snprintf(buf[n], sizeof(buf[n]), "--%s", o->name);
			names[n] = buf[n];
			n++;
		}
	char word[64];
	snprintf(word, sizeof(word), "%.*s", (int)strcspn(arg, "="), arg);
	const char *s = suggest_closest(word, names, n);
	const char *see = c ? c->name : "";
	if (s)
		return cmd_usage_error(c,
				       "unknown option '%s'; did you mean "
				       "'%s'? (see 'umbra %s%s--help')",
				       word, s, see, c ? " " : "");
	return cmd_usage_error(c, "unknown option '%s' (see 'umbra %s%s--help')",
			       word, see, c ? " " : "");
}

/* --------------------------------------------------------------- parsing */

static void set_opt(cmd_args_t *a, int idx, const cmd_opt_t *o,
		    const char *val)
{
	a->vals[idx] = val;
	if (o->repeat && a->nmulti[idx] < CMD_MAX_VALUES) {
		if (!a->multi[idx])
			a->multi[idx] = xcalloc(CMD_MAX_VALUES, sizeof(char *));
		a->multi[idx][a->nmulti[idx]++] = val;
	}
}

/* Parses argv[0..argc-1] (after the command name) into a. Returns 0 or an
 * exit code after printing the error. */
static int parse_args(const cmd_entry_t *c, int argc, char **argv,
		      cmd_args_t *a)
{
	bool opts_done = false;
	a->pos = xcalloc((size_t)argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++) {
		char *arg = argv[i];
		if (opts_done || arg[0] != '-' || arg[1] == '\0') {
			a->pos[a->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			opts_done = true;
			continue;
		}
		const cmd_opt_t *o = NULL;
		int idx;
		const char *val = NULL;
		if (arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			idx = find_opt(c, name, len, 0, &o);
			if (idx < 0)
				return unknown_option(c, arg);
			if (eq) {
				if (!o->arg)
					return cmd_usage_error(
						c, "option '--%s' takes no value",
						o->name);
				val = eq + 1;
			}
		} else {
			if (arg[2] != '\0')
				return unknown_option(c, arg);
			idx = find_opt(c, NULL, 0, arg[1], &o);
			if (idx < 0)
				return unknown_option(c, arg);
		}
		if (o->arg && !val) {
			if (i + 1 >= argc)
				return cmd_usage_error(
					c, "option '--%s' needs a value (%s)",
					o->name, o->arg);
			val = argv[++i];
		}
		set_opt(a, idx, o, o->arg ? val : "");
	}
	return 0;
}

static int opt_index(const cmd_args_t *a, const char *name)
{
	const cmd_opt_t *o;
	return find_opt(a->cmd, name, strlen(name), 0, &o);
}

const char *cmd_opt(const cmd_args_t *a, const char *name)
{
	int i = opt_index(a, name);
	return i >= 0 ? a->vals[i] : NULL;
}

bool cmd_flag(const cmd_args_t *a, const char *name)
{
	return cmd_opt(a, name) != NULL;
}

const char *const *cmd_opt_all(const cmd_args_t *a, const char *name,
			       size_t *n)
{
	int i = opt_index(a, name);
	*n = i >= 0 ? a->nmulti[i] : 0;
	return i >= 0 ? a->multi[i] : NULL;
}

static void free_args(cmd_args_t *a)
{
	for (int i = 0; i < CMD_MAX_OPTS; i++)
		free(a->multi[i]);
	free(a->pos);
}

/* Applies --log-level/--log-format; 0 or an exit code. */
static int apply_logging(const cmd_entry_t *c, const char *level,
			 const char *format)
{
	log_level_t lv = log_get_level();
	log_format_t fm = LOG_FMT_LOGFMT;
	if (level && log_level_parse(level, &lv))
		return cmd_usage_error(c,
				       "bad --log-level '%s' (expected debug, "
				       "info, warn, error or off)",
				       level);
	if (format && log_format_parse(format, &fm))
		return cmd_usage_error(
			c, "bad --log-format '%s' (expected logfmt or json)",
			format);
	log_setup(lv, fm);
	return 0;
}

/* --------------------------------------------------------------- output */

static cmd_out_t out_fmt = CMD_OUT_TABLE;

cmd_out_t cmd_out_format(void)
{
	return out_fmt;
}

void cmd_print_value(const json_t *v)
{
	if (out_fmt == CMD_OUT_YAML) {
		buf_t b = BUF_INIT;
		config_yaml_value(v, &b);
		fputs(b.data ? b.data : "", stdout);
		buf_free(&b);
		return;
	}
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_REAL_PRECISION(10) |
					JSON_ENCODE_ANY);
	printf("%s\n", s ? s : "null");
	free(s);
}

void cmd_print_stream_item(const json_t *v)
{
	if (out_fmt == CMD_OUT_YAML) {
		fputs("---\n", stdout);
		cmd_print_value(v);
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(10) |
						JSON_ENCODE_ANY);
		printf("%s\n", s ? s : "null");
		free(s);
	}
	fflush(stdout);
}

/* -o / --output and its alias --json, for the commands that declare
 * them (CMD_OPT_OUTPUT). 0 or an exit code after the error. */
static int set_output(const cmd_args_t *a)
{
	const cmd_opt_t *o;
	int i = find_opt(a->cmd, "output", 6, 0, &o);
	if (i < 0 || o->short_name != 'o')
		return 0;
	const char *v = a->vals[i];
	bool json = cmd_flag(a, "json");
	out_fmt = json ? CMD_OUT_JSON : CMD_OUT_TABLE;
	if (!v)
		return 0;
	cmd_out_t f;
	if (!strcmp(v, "table"))
		f = CMD_OUT_TABLE;
	else if (!strcmp(v, "json"))
		f = CMD_OUT_JSON;
	else if (!strcmp(v, "yaml"))
		f = CMD_OUT_YAML;
	else
		return cmd_usage_error(a->cmd,
				       "bad -o '%s' (expected table, json or "
				       "yaml)",
				       v);
	if (json && f != CMD_OUT_JSON)
		return cmd_usage_error(a->cmd, "--json and -o %s disagree", v);
	out_fmt = f;
	return 0;
}

/* --------------------------------------------------------------- main */

int cmd_main(int argc, char **argv)
{
	const char *level = NULL, *format = NULL;
	int i = 1;
	/* Global options before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			print_main_help(stdout);
			return CMD_EXIT_OK;
		}
		if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("umbra %s\n", UMBRA_VERSION);
			return CMD_EXIT_OK;
		}
		const char **slot = !strncmp(a, "--log-level", 11) ? &level
				    : !strncmp(a, "--log-format", 12) ? &format
								       : NULL;
		if (!slot)
			return unknown_option(NULL, a);
		const char *eq = strchr(a, '=');
		if (eq) {
			*slot = eq + 1;
		} else if (i + 1 < argc) {
			*slot = argv[++i];
		} else {
			return cmd_usage_error(NULL, "option '%s' needs a value",
					       a);
		}
	}
	if (i >= argc) {
		print_main_help(stderr);
		return CMD_EXIT_USAGE;
	}
	const char *name = argv[i++];
	if (!strcmp(name, "help")) {
		if (i >= argc) {
			print_main_help(stdout);
			return CMD_EXIT_OK;
		}
		const cmd_entry_t *c = find_command(argv[i]);
		if (!c)
			return unknown_command(argv[i]);
		print_command_help(stdout, c);
		return CMD_EXIT_OK;
	}
	const cmd_entry_t *c = find_command(name);
	if (!c)
		return unknown_command(name);

	cmd_args_t args = {.cmd = c};
	int rc = parse_args(c, argc - i, argv + i, &args);
	if (rc == 0 && cmd_flag(&args, "version")) {
		printf("umbra %s\n", UMBRA_VERSION);
		free_args(&args);
		return CMD_EXIT_OK;
	}
	if (rc == 0 && cmd_flag(&args, "help")) {
		print_command_help(stdout, c);
		free_args(&args);
		return CMD_EXIT_OK;
	}
	if (rc == 0) {
		const char *lv = cmd_opt(&args, "log-level");
		const char *fm = cmd_opt(&args, "log-format");
		rc = apply_logging(c, lv ? lv : level, fm ? fm : format);
	}
	if (rc == 0)
		rc = set_output(&args);
	if (rc == 0 && fault_arm_from_env())
		rc = cmd_usage_error(c, "bad UMBRA_FAULTS (see the log)");
	if (rc == 0 && args.npos < c->min_pos)
		rc = cmd_usage_error(c, "missing argument (usage: umbra %s %s)",
				     c->name, c->usage);
	if (rc == 0 && c->max_pos >= 0 && args.npos > c->max_pos)
		rc = cmd_usage_error(c,
				     "unexpected argument '%s' (usage: umbra "
				     "%s %s)",
				     args.pos[c->max_pos], c->name, c->usage);
	if (rc == 0) {
		cmd_running = c;
		rc = c->exec(&args);
		cmd_running = NULL;
	}
	free_args(&args);
	return rc;
}
