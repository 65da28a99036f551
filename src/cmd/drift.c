/*
 * drift.c: `umbra drift CONFIG`: production's and the shadow's
 * fingerprints side by side, and what differs, with unified diffs of
 * config files. When `umbra run` is running the replicas, their live
 * processes are read (libraries, limits, listening sockets included);
 * otherwise what the config says they would run. Exit status like
 * diff(1): 0 twins, 1 different, 2 bad usage or config.
 */
#include "cmd/cmd.h"

#include "base/err.h"
#include "provision/drift.h"

#include <jansson.h>
#include <stdio.h>

static const cmd_opt_t opts[] = {
    {"diff-only", 0, NULL,
     "print only the differences, not the fingerprints"},
    CMD_OPT_OUTPUT,
    {NULL},
};

static void print_side(const prov_fp_t *fp, buf_t *out)
{
	buf_printf(out, "%s", prov_side_name(fp->side));
	if (fp->pid)
		buf_printf(out, " (pid %d, running)", fp->pid);
	else
		buf_puts(out, " (not running: from the config; libraries, "
			      "limits and sockets need a running replica)");
	buf_puts(out, ":\n");
	prov_fp_print(fp, out);
}

static int exec(cmd_args_t *a)
{
	config_t *cfg;
	int rc = cmd_load_config(a->pos[0], &cfg);
	if (rc)
		return rc;
	prov_fp_t fps[PROV_DRIFT_SIDES];
	prov_drift_report_t rep;
	buf_t err = BUF_INIT, out = BUF_INIT;
	rc = prov_drift_snapshot(cfg, fps, &rep, &err);
	if (rc) {
		cmd_fail(a->cmd, "%s", err.data ? err.data : err_str(rc));
		buf_free(&err);
		config_free(cfg);
		return rc == ERR_CONFIG ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
	}
	if (cmd_out_format() != CMD_OUT_TABLE) {
		/* the differences as rows; the fingerprints are the table's */
		json_t *o = json_object(), *d = json_array();
		for (size_t i = 0; i < rep.n; i++) {
			const prov_drift_item_t *x = &rep.v[i];
			json_t *r = json_pack("{s:s}", "key", x->key);
			json_object_set_new(r, "production",
					    x->production
						? json_string(x->production)
						: json_null());
			json_object_set_new(r, "shadow",
					    x->shadow ? json_string(x->shadow)
						      : json_null());
			if (x->file)
				json_object_set_new(r, "file",
						    json_string(x->file));
			if (x->line)
				json_object_set_new(r, "line",
						    json_integer(x->line));
			if (x->diff)
				json_object_set_new(r, "diff",
						    json_string(x->diff));
			json_array_append_new(d, r);
		}
		json_object_set_new(o, "twins", json_boolean(rep.n == 0));
		json_object_set_new(o, "differences", d);
		cmd_print_value(o);
		json_decref(o);
	} else if (!cmd_flag(a, "diff-only")) {
		for (int s = 0; s < PROV_DRIFT_SIDES; s++) {
			print_side(&fps[s], &out);
			buf_putc(&out, '\n');
		}
	}
	if (cmd_out_format() != CMD_OUT_TABLE) {
		/* printed above */
	} else if (rep.n) {
		buf_printf(&out, "%zu difference%s:\n", rep.n,
			   rep.n == 1 ? "" : "s");
		prov_drift_report_print(&rep, &out);
	} else {
		buf_puts(&out, "no differences: production and shadow are "
			       "twins\n");
	}
	fputs(out.data ? out.data : "", stdout);
	int code = rep.n ? CMD_EXIT_FAIL : CMD_EXIT_OK;
	for (int s = 0; s < PROV_DRIFT_SIDES; s++)
		prov_fp_free(&fps[s]);
	prov_drift_report_free(&rep);
	buf_free(&out);
	buf_free(&err);
	config_free(cfg);
	return code;
}

const cmd_entry_t cmd_drift = {
    .name = "drift",
    .usage = "CONFIG [--diff-only] [-o table|json|yaml]",
    .summary = "print production vs shadow fingerprints and their diffs",
    .help = "Fingerprints both sides of CONFIG: executable and its "
	    "SHA-256, argv, config\nfiles (after rendering placeholders), "
	    "environment (minus drift.env_ignore),\nkernel, cgroup limits "
	    "(production's scaled by shadow.ratio) and, for replicas\nthat "
	    "`umbra run` is running, mapped libraries, resource limits and "
	    "listening\nsockets. Prints both and what differs, config files "
	    "as unified diffs.\nExit status as diff(1): 0 no differences, "
	    "1 differences, 2 bad usage.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .exec = exec,
};
