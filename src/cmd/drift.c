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

#include <stdio.h>

static const cmd_opt_t opts[] = {
    {"diff-only", 0, NULL,
     "print only the differences, not the fingerprints"},
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
	if (!cmd_flag(a, "diff-only")) {
		for (int s = 0; s < PROV_DRIFT_SIDES; s++) {
			print_side(&fps[s], &out);
			buf_putc(&out, '\n');
		}
	}
	if (rep.n) {
		buf_printf(&out, "%zu difference%s:\n", rep.n,
			   rep.n == 1 ? "" : "s");
		prov_drift_report_print(&rep, &out);
	} else {
		buf_puts(&out, "no differences: production and shadow are "
			       "twins\n");
	}
	fputs(out.data, stdout);
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
    .usage = "CONFIG [--diff-only]",
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
