/*
 * snapshots.c: `umbra snapshots list|show|diff CONFIG`: the known-good
 * snapshots of production's config files that `umbra run` takes (at
 * start and on every change) and rolls back to. Reads the store
 * (mitigation.snapshots.dir) directly; works while the daemon runs.
 *
 *   list CONFIG           every snapshot, newest first
 *   show CONFIG [SNAP]    one snapshot's files (default: current)
 *   diff CONFIG [A [B]]   unified diff, A (default: good) to B (default:
 *                         current); "live" is production's files now
 *
 * SNAP is an id prefix (4+ hex digits), "current" or "good". Values of
 * keys named in mask.sensitive_keys are redacted in diffs.
 */
#include "cmd/cmd.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/units.h"
#include "base/xmalloc.h"
#include "mitigate/mitigate.h"
#include "mitigate/snapshot.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cmd_opt_t opts[] = {
    CMD_OPT_OUTPUT,
    {NULL},
};

/* A time as JSON: RFC 3339 UTC, or null for none. */
static json_t *time_json(int64_t ns)
{
	char t[CLOCK_ISO_LEN];
	return ns ? json_string(clock_iso8601(ns, t)) : json_null();
}

static json_t *info_json(const mit_snap_info_t *x)
{
	return json_pack("{s:s,s:o,s:o,s:o,s:I,s:I,s:s}", "id", x->id, "taken",
			 time_json(x->taken_ns), "last_current",
			 time_json(x->seen_ns), "known_good_since",
			 time_json(x->good_ns), "files", (json_int_t)x->nfiles,
			 "bytes", (json_int_t)x->bytes, "reason", x->reason);
}

static void when(int64_t ns, char out[CLOCK_ISO_LEN])
{
	if (ns)
		clock_iso8601(ns, out);
	else
		snprintf(out, CLOCK_ISO_LEN, "-");
}

static int list(mit_snaps_t *s)
{
	size_t n = mit_snaps_count(s);
	if (!n && cmd_out_format() == CMD_OUT_TABLE) {
		printf("no snapshots yet\n");
		return CMD_EXIT_OK;
	}
	mit_snap_info_t good;
	buf_t e = BUF_INIT;
	bool have_good = mit_snaps_find(s, "good", &good, &e) == 0;
	buf_free(&e);
	if (cmd_out_format() != CMD_OUT_TABLE) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			const mit_snap_info_t *x = mit_snaps_at(s, i);
			json_t *o = info_json(x);
			json_object_set_new(o, "current", json_boolean(i == 0));
			json_object_set_new(o, "rollback_target",
					    json_boolean(have_good &&
							 !strcmp(x->id, good.id)));
			json_array_append_new(arr, o);
		}
		cmd_print_value(arr);
		json_decref(arr);
		return CMD_EXIT_OK;
	}
	printf("%-14s %-24s %-24s %-24s %6s %10s  %s\n", "ID", "TAKEN",
	       "LAST CURRENT", "KNOWN-GOOD SINCE", "FILES", "BYTES", "REASON");
	for (size_t i = 0; i < n; i++) {
		const mit_snap_info_t *x = mit_snaps_at(s, i);
		char t[CLOCK_ISO_LEN], c[CLOCK_ISO_LEN], g[CLOCK_ISO_LEN];
		when(x->taken_ns, t);
		when(x->seen_ns, c);
		when(x->good_ns, g);
		const char *mark = i == 0 ? "*"
				   : have_good && !strcmp(x->id, good.id)
				       ? "+"
				       : " ";
		printf("%.12s %s %-24s %-24s %-24s %6llu %10llu  %s\n", x->id,
		       mark, t, c, g, (unsigned long long)x->nfiles,
		       (unsigned long long)x->bytes, x->reason);
	}
	printf("\n* current (what production runs as far as umbra saw)\n"
	       "+ latest known-good (the rollback target)%s\n",
	       have_good && !strcmp(mit_snaps_at(s, 0)->id, good.id)
		   ? "; the current one is also the latest known-good"
		   : "");
	return CMD_EXIT_OK;
}

static int show(const cmd_entry_t *self, mit_snaps_t *s, const char *ref)
{
	mit_snap_info_t x;
	buf_t err = BUF_INIT;
	if (mit_snaps_find(s, ref, &x, &err)) {
		/* a bad or unknown id is bad usage: nothing to show */
		int rc = cmd_usage_error(self, "%s", err.data);
		buf_free(&err);
		return rc;
	}
	mit_snap_file_t *f;
	size_t n;
	if (mit_snaps_files(s, x.id, &f, &n, &err)) {
		int rc = cmd_fail(self, "%s", err.data);
		buf_free(&err);
		return rc;
	}
	if (cmd_out_format() != CMD_OUT_TABLE) {
		json_t *o = info_json(&x), *fa = json_array();
		json_object_set_new(o, "source",
				    json_string(mit_snaps_source(s)));
		for (size_t i = 0; i < n; i++)
			json_array_append_new(
				fa, json_pack("{s:s,s:i,s:I,s:s,s:s}", "type",
					      f[i].link ? "link" : "file",
					      "mode", (int)f[i].mode, "size",
					      (json_int_t)f[i].size, "sha256",
					      f[i].sha, "path", f[i].rel));
		json_object_set_new(o, "contents", fa);
		cmd_print_value(o);
		json_decref(o);
		mit_snap_files_free(f, n);
		buf_free(&err);
		return CMD_EXIT_OK;
	}
	char t[CLOCK_ISO_LEN], g[CLOCK_ISO_LEN];
	when(x.taken_ns, t);
	when(x.good_ns, g);
	printf("snapshot %s\ntaken:      %s (%s)\nknown-good: %s\nsource:     "
	       "%s\nfiles:      %zu\n\n",
	       x.id, t, x.reason, g, mit_snaps_source(s), n);
	for (size_t i = 0; i < n; i++)
		printf("%s %04o %10llu %.16s  %s\n", f[i].link ? "l" : "f",
		       f[i].mode, (unsigned long long)f[i].size, f[i].sha,
		       f[i].rel);
	mit_snap_files_free(f, n);
	buf_free(&err);
	return CMD_EXIT_OK;
}

static int diff(const cmd_entry_t *self, const config_t *cfg, mit_snaps_t *s,
		const char *a, const char *b)
{
	buf_t out = BUF_INIT, err = BUF_INIT;
	int rc = mit_snaps_diff(s, strcmp(a, "live") ? a : "",
				strcmp(b, "live") ? b : "",
				&cfg->mask.sensitive_keys,
				cfg->mask.redact_marker, &out, &err);
	if (rc < 0) {
		/* diff(1): 1 means different, so trouble (a bad or unknown
		 * id, an unreadable snapshot) is 2 */
		int code = cmd_usage_error(self, "%s",
					   err.data ? err.data : err_str(rc));
		buf_free(&out);
		buf_free(&err);
		return code;
	}
	if (out.len)
		fputs(out.data, stdout);
	buf_free(&out);
	buf_free(&err);
	return rc ? CMD_EXIT_FAIL : CMD_EXIT_OK;
}

static int exec(cmd_args_t *a)
{
	const cmd_entry_t *self = a->cmd;
	const char *sub = a->pos[0];
	bool is_list = !strcmp(sub, "list"), is_show = !strcmp(sub, "show"),
	     is_diff = !strcmp(sub, "diff");
	if (!is_list && !is_show && !is_diff)
		return cmd_usage_error(self,
				       "unknown subcommand '%s' (expected list, "
				       "show or diff)",
				       sub);
	if ((is_list && a->npos > 2) || (is_show && a->npos > 3))
		return cmd_usage_error(self, "unexpected argument '%s'",
				       a->pos[is_list ? 2 : 3]);
	if (is_diff && cmd_out_format() != CMD_OUT_TABLE)
		return cmd_usage_error(self, "diff prints a unified diff; -o is "
					     "for list and show");
	config_t *cfg;
	int rc = cmd_load_config(a->pos[1], &cfg);
	if (rc)
		return rc;
	if (!cfg->production.config_dir[0]) {
		config_free(cfg);
		return cmd_fail(self, "production.config_dir is not set: umbra "
				      "takes no snapshots for this service");
	}
	char *dir = mit_snapshot_dir(cfg);
	mit_snaps_t *s;
	buf_t err = BUF_INIT;
	rc = mit_snaps_open(dir, cfg->production.config_dir,
			    (int)cfg->mitigation.snapshots.keep, false, &s,
			    &err);
	if (rc) {
		int code = cmd_fail(self, "%s%s", err.data,
				    rc == ERR_NOTFOUND
					? " (umbra run takes the first snapshot "
					  "at start)"
					: "");
		buf_free(&err);
		free(dir);
		config_free(cfg);
		return code;
	}
	buf_free(&err);
	if (is_list)
		rc = list(s);
	else if (is_show)
		rc = show(self, s, a->npos > 2 ? a->pos[2] : "current");
	else
		rc = diff(self, cfg, s, a->npos > 2 ? a->pos[2] : "good",
			  a->npos > 3 ? a->pos[3] : "current");
	mit_snaps_close(s);
	free(dir);
	config_free(cfg);
	return rc;
}

const cmd_entry_t cmd_snapshots = {
    .name = "snapshots",
    .usage = "list|show|diff CONFIG [SNAP [SNAP]] [-o table|json|yaml]",
    .summary = "list, show and diff the known-good config snapshots",
    .help = "umbra run snapshots production's config files "
	    "(production.config_dir) at start\nand on every change, "
	    "content-addressed, into mitigation.snapshots.dir; a\n"
	    "snapshot becomes known-good after mitigation.soak without a "
	    "critical\nfinding, and a rollback restores the latest "
	    "known-good one.\n\n"
	    "  list CONFIG           every snapshot, newest first\n"
	    "  show CONFIG [SNAP]    one snapshot's files (default: "
	    "current)\n"
	    "  diff CONFIG [A [B]]   unified diff from A (default: good) to "
	    "B (default:\n"
	    "                        current); \"live\" is the files as they "
	    "are now\n\n"
	    "SNAP is an id prefix of 4 or more hex digits, current or good. "
	    "Values of\nkeys in mask.sensitive_keys are redacted. Exit status "
	    "of diff as diff(1):\n0 same, 1 different, 2 bad usage or a bad or unknown "
	    "SNAP.",
    .opts = opts,
    .min_pos = 2,
    .max_pos = 4,
    .exec = exec,
};
