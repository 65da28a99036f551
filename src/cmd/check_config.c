/*
 * check_config.c: `umbra check-config`: validate a config and print the
 * effective configuration (every default filled in), or the field
 * reference. Validation only: nothing is started (relayd -n).
 */
#include "cmd/cmd.h"

#include "mask/mask.h"

#include <stdio.h>
#include <string.h>

static const cmd_opt_t opts[] = {
	{"format", 0, "FMT", "output: yaml (default) or json"},
	CMD_OPT_OUTPUT,
	{"quiet", 'q', NULL, "print nothing; only the exit status tells"},
	{"reference", 0, NULL,
	 "print the field reference (Markdown) instead; no CONFIG"},
	{NULL},
};

static int exec(cmd_args_t *a)
{
	const cmd_entry_t *self = a->cmd;
	if (cmd_flag(a, "reference")) {
		if (a->npos)
			return cmd_usage_error(self,
					       "--reference takes no CONFIG");
		buf_t b = BUF_INIT;
		config_reference(&b);
		fputs(b.data, stdout);
		buf_free(&b);
		return CMD_EXIT_OK;
	}
	if (a->npos != 1)
		return cmd_usage_error(self, "expected one CONFIG file (usage: "
					     "umbra check-config CONFIG)");
	const char *fmt = cmd_opt(a, "format");
	/* -o json|yaml (and --json) say the same as --format; the table of
	 * a config is its YAML */
	if (!fmt && cmd_out_format() == CMD_OUT_JSON)
		fmt = "json";
	config_out_t out;
	if (!fmt || !strcmp(fmt, "yaml"))
		out = CONFIG_OUT_YAML;
	else if (!strcmp(fmt, "json"))
		out = CONFIG_OUT_JSON;
	else
		return cmd_usage_error(self,
				       "bad --format '%s' (expected yaml or json)",
				       fmt);
	config_t *cfg;
	int rc = cmd_load_config(a->pos[0], &cfg);
	if (rc)
		return rc;
	/* The mask rules compile (JSON paths, markers) the way the daemon
	 * compiles them; a dummy key, so no key file is read or made. */
	static const uint8_t dummy[MASK_KEY_MIN];
	mask_t *m = NULL;
	buf_t merr = BUF_INIT;
	if (mask_new_with_key(&cfg->mask, dummy, sizeof(dummy), &m, &merr)) {
		fprintf(stderr, "%s: %s", a->pos[0], merr.data ? merr.data : "\n");
		buf_free(&merr);
		config_free(cfg);
		return CMD_EXIT_USAGE;
	}
	mask_free(m);
	buf_free(&merr);
	if (!cmd_flag(a, "quiet")) {
		buf_t b = BUF_INIT;
		config_emit(cfg, out, &b);
		fputs(b.data, stdout);
		buf_reset(&b);
		config_inactive_report(cfg, &b);
		if (b.len)
			fprintf(stderr, "%s", b.data);
		fprintf(stderr, "umbra check-config: %s: ok\n", a->pos[0]);
		buf_free(&b);
	}
	config_free(cfg);
	return CMD_EXIT_OK;
}

const cmd_entry_t cmd_check_config = {
	.name = "check-config",
	.usage = "CONFIG [--format yaml|json] | --reference",
	.summary = "validate a config and print the effective configuration",
	.help = "Loads CONFIG, checks every field and the rules between them, "
		"and prints the\nconfiguration umbra would run with, defaults "
		"filled in. Every error is\nreported as FILE:LINE:COL: "
		"field.path: message; then the exit status is 2.\nSections this "
		"build does not act on yet are listed on stderr.",
	.opts = opts,
	.min_pos = 0,
	.max_pos = 1,
	.exec = exec,
};
