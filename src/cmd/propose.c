/*
 * propose.c: `umbra propose CONFIG --config-dir NEW`: a candidate config
 * tried on the shadow before production gets it. The running daemon
 * (`umbra run CONFIG`) owns the proposal (mitigate/propose.h); this
 * command checks the candidate directory, compares its files with
 * production's (files production has that NEW lacks would be removed by
 * a promotion: a warning), posts it to POST /api/v1/proposals, and with
 * --wait (the default) polls GET /api/v1/proposals until the verdict,
 * printing the steps and then the evidence. --status shows the current
 * or last proposal.
 *
 * Exit status: 0 promoted (or, in dry run, would be), 1 rejected, rolled
 * back, cancelled or the daemon refused or is unreachable, 2 bad usage.
 */
#include "cmd/cmd.h"

#include "api/client.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/units.h"
#include "base/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROPOSE_POLL_US 250000	 /* a daemon tick is ~1 s by default */
#define PROPOSE_MAX_FILES 10000	 /* a config dir, as snapshots bound it */
#define PROPOSE_MAX_DEPTH 16

static const cmd_opt_t opts[] = {
    {"config-dir", 0, "DIR", "the candidate config directory"},
    {"soak", 0, "DURATION",
     "how long it soaks on the shadow (default mitigation.soak)"},
    {"stress", 0, NULL, "a stress test of the shadow after the soak"},
    {"wait", 0, NULL, "wait for the verdict (the default)"},
    {"no-wait", 0, NULL, "return once the daemon accepted it"},
    {"status", 0, NULL, "show the current or last proposal"},
    CMD_OPT_OUTPUT,
    {NULL},
};

/* ------------------------------------------------------------ files */

typedef struct flist {
	char **v;
	size_t n, cap;
	bool truncated;
} flist_t;

static void flist_free(flist_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* The regular files and symlinks under root/rel, relative paths. */
static int walk(const char *root, const char *rel, int depth, flist_t *l)
{
	char *dir = rel[0] ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	DIR *d = opendir(dir);
	int rc = d ? 0 : -errno;
	struct dirent *e;
	while (d && !rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *r = rel[0] ? xasprintf("%s/%s", rel, e->d_name)
				 : xstrdup(e->d_name);
		char *full = xasprintf("%s/%s", root, r);
		struct stat st;
		if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode) &&
		    depth < PROPOSE_MAX_DEPTH) {
			rc = walk(root, r, depth + 1, l);
			free(r);
		} else if (l->n >= PROPOSE_MAX_FILES) {
			l->truncated = true;
			free(r);
		} else {
			if (l->n == l->cap) {
				l->cap = l->cap ? l->cap * 2 : 16;
				l->v = xreallocarray(l->v, l->cap, sizeof(char *));
			}
			l->v[l->n++] = r;
		}
		free(full);
	}
	if (d)
		closedir(d);
	free(dir);
	return rc;
}

static bool has(const flist_t *l, const char *rel)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], rel))
			return true;
	return false;
}

/* Checks NEW (abs: its absolute path) and warns about production's files
 * it lacks. 0, or an exit code. */
static int check_candidate(const cmd_args_t *a, const config_t *cfg,
			   const char *dir, char *abs)
{
	struct stat st;
	if (!realpath(dir, abs) || stat(abs, &st))
		return cmd_usage_error(a->cmd, "--config-dir %s: %s", dir,
				       strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cmd_usage_error(a->cmd, "--config-dir %s is not a "
					       "directory",
				       dir);
	flist_t cand = {0}, prod = {0};
	int rc = walk(abs, "", 0, &cand);
	if (rc) {
		flist_free(&cand);
		return cmd_usage_error(a->cmd, "--config-dir %s cannot be "
					       "read: %s",
				       dir, err_str(rc));
	}
	for (size_t i = 0; i < cand.n; i++) {
		char *full = xasprintf("%s/%s", abs, cand.v[i]);
		if (access(full, R_OK)) {
			int e = errno;
			free(full);
			flist_free(&cand);
			return cmd_usage_error(a->cmd, "%s/%s cannot be read: %s",
					       dir, cand.v[i], strerror(e));
		}
		free(full);
	}
	if (!cand.n) {
		flist_free(&cand);
		return cmd_usage_error(a->cmd, "--config-dir %s holds no files",
				       dir);
	}
	const char *pd = cfg->production.config_dir;
	if (pd && pd[0] && walk(pd, "", 0, &prod) == 0) {
		for (size_t i = 0; i < prod.n; i++)
			if (!has(&cand, prod.v[i]))
				fprintf(stderr,
					"umbra propose: warning: %s lacks %s "
					"(production has it; a promotion "
					"removes it)\n",
					dir, prod.v[i]);
		for (size_t i = 0; i < cand.n; i++)
			if (!has(&prod, cand.v[i]))
				fprintf(stderr,
					"umbra propose: note: %s is new (not "
					"in production's %s)\n",
					cand.v[i], pd);
	}
	flist_free(&cand);
	flist_free(&prod);
	return 0;
}

/* ------------------------------------------------------------ output */

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void print_human(json_t *p)
{
	if (!strcmp(jstr(p, "state"), "none")) {
		printf("no proposal yet\n");
		return;
	}
	printf("proposal %lld: %s (%s)\n",
	       (long long)json_integer_value(json_object_get(p, "id")),
	       jstr(p, "verdict"), jstr(p, "state"));
	printf("  candidate  %s (snapshot %.12s, %lld files)\n",
	       jstr(p, "config_dir"), jstr(p, "snapshot"),
	       (long long)json_integer_value(json_object_get(p, "files")));
	printf("  soak       %.0f s%s%s\n",
	       json_number_value(json_object_get(p, "soak_s")),
	       json_is_true(json_object_get(p, "stress")) ? ", then stress"
							  : "",
	       json_is_true(json_object_get(p, "dry_run")) ? " (dry run)"
							   : "");
	if (jstr(p, "summary")[0])
		printf("  verdict    %s\n", jstr(p, "summary"));
	json_t *ev = json_object_get(p, "evidence");
	size_t i;
	json_t *e;
	if (json_array_size(ev))
		printf("  evidence\n");
	json_array_foreach(ev, i, e)
	{
		json_t *fid = json_object_get(e, "finding_id");
		if (fid)
			printf("    - [%s, finding %lld] %s\n", jstr(e, "kind"),
			       (long long)json_integer_value(fid),
			       jstr(e, "text"));
		else
			printf("    - [%s] %s\n", jstr(e, "kind"),
			       jstr(e, "text"));
	}
}

static void print(const cmd_args_t *a, json_t *p)
{
	if (cmd_out_format() != CMD_OUT_TABLE) {
		cmd_print_value(p);
	} else {
		print_human(p);
	}
	fflush(stdout);
}

static int verdict_exit(json_t *p)
{
	const char *v = jstr(p, "verdict");
	return !strcmp(v, "promoted") || !strcmp(v, "would_promote")
		   ? CMD_EXIT_OK
		   : CMD_EXIT_FAIL;
}

/* ------------------------------------------------------------ command */

static int exec(cmd_args_t *a)
{
	const char *dir = cmd_opt(a, "config-dir");
	bool status = cmd_flag(a, "status");
	if (cmd_flag(a, "wait") && cmd_flag(a, "no-wait"))
		return cmd_usage_error(a->cmd, "--wait or --no-wait, not both");
	if (!status && !dir)
		return cmd_usage_error(a->cmd, "--config-dir DIR is required "
					       "(or --status)");
	if (status && (dir || cmd_opt(a, "soak") || cmd_flag(a, "stress")))
		return cmd_usage_error(a->cmd, "--status takes no candidate");
	int64_t soak = 0;
	const char *why = NULL;
	if (cmd_opt(a, "soak") &&
	    (units_parse_duration(cmd_opt(a, "soak"), &soak, &why) ||
	     soak <= 0))
		return cmd_usage_error(a->cmd, "--soak %s: %s",
				       cmd_opt(a, "soak"),
				       why ? why : "must be positive");
	config_t *cfg = NULL;
	int rc = cmd_load_config(a->pos[0], &cfg);
	if (rc)
		return rc;
	int ex = CMD_EXIT_OK;
	char abs[PATH_MAX];
	api_client_t *c = NULL;
	buf_t err = BUF_INIT;
	json_t *reply = NULL, *body = NULL;
	long code = 0;
	if (!status && (ex = check_candidate(a, cfg, dir, abs)))
		goto out;
	if ((rc = api_client_new(cfg, &c, &err))) {
		ex = cmd_fail(a->cmd, "%s", err.data ? err.data : err_str(rc));
		goto out;
	}
	if (status) {
		rc = api_client_call(c, "/api/v1/proposals", NULL, &reply,
				     &code, &err);
		if (rc) {
			ex = cmd_fail(a->cmd, "%s", err.data);
			goto out;
		}
		print(a, reply);
		goto out;
	}
	const char *user = getenv("USER");
	char who[96];
	snprintf(who, sizeof(who), "umbra propose (%s)",
		 user && user[0] ? user : "uid");
	body = json_pack("{s:s,s:b,s:s}", "config_dir", abs, "stress",
			 cmd_flag(a, "stress"), "who", who);
	if (soak)
		json_object_set_new(body, "soak", json_real((double)soak / 1e9));
	rc = api_client_call(c, "/api/v1/proposals", body, &reply, &code, &err);
	if (rc) {
		fprintf(stderr, "umbra propose: %s\n", err.data);
		ex = code == 400 ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
		goto out;
	}
	json_int_t id = json_integer_value(json_object_get(reply, "id"));
	if (cmd_flag(a, "no-wait")) {
		print(a, reply);
		goto out;
	}
	if (cmd_out_format() == CMD_OUT_TABLE)
		printf("proposal %lld: %s on the shadow, soaking %.0f s\n",
		       (long long)id, abs,
		       json_number_value(json_object_get(reply, "soak_s")));
	char last[32] = "";
	for (;;) {
		const char *st = jstr(reply, "state");
		if (strcmp(st, last) && cmd_out_format() == CMD_OUT_TABLE) {
			snprintf(last, sizeof(last), "%s", st);
			printf("  %s\n", st);
			fflush(stdout);
		}
		if (!strcmp(st, "done"))
			break;
		usleep(PROPOSE_POLL_US);
		json_decref(reply);
		reply = NULL;
		rc = api_client_call(c, "/api/v1/proposals", NULL, &reply,
				     &code, &err);
		if (rc) {
			ex = cmd_fail(a->cmd, "lost the daemon while waiting: %s",
				      err.data);
			goto out;
		}
		if (json_integer_value(json_object_get(reply, "id")) != id) {
			ex = cmd_fail(a->cmd, "the daemon no longer knows "
					      "proposal %lld (restarted?)",
				      (long long)id);
			goto out;
		}
	}
	print(a, reply);
	ex = verdict_exit(reply);
out:
	json_decref(body);
	json_decref(reply);
	api_client_free(c);
	buf_free(&err);
	config_free(cfg);
	return ex;
}

const cmd_entry_t cmd_propose = {
    .name = "propose",
    .usage = "CONFIG --config-dir NEW [--soak DURATION] [--stress] "
	     "[--wait|--no-wait] [--json] | CONFIG --status",
    .summary = "try a candidate config on the shadow, then promote or "
	       "reject it",
    .help = "Asks the running daemon (umbra run CONFIG) to try the config "
	    "directory NEW\non the shadow first: NEW is snapshotted, put in "
	    "the shadow's config and\nthe shadow restarts (production is "
	    "untouched); it soaks for --soak\n(default mitigation.soak), "
	    "optionally followed by a stress test; a critical\nfinding or an "
	    "unhealthy shadow rejects it. Otherwise it is promoted: its\n"
	    "files replace production's (atomically), the configured reload "
	    "or a rolling\nrestart applies them, and it is verified as a "
	    "rollback is; a failed\nverification rolls back to the latest "
	    "known-good snapshot. In dry run\n(mitigation.dry_run) nothing is "
	    "promoted. Files production has that NEW\nlacks are warned about: "
	    "a promotion removes them. With --wait (the\ndefault) waits for "
	    "the verdict and prints the evidence. --status shows the\ncurrent "
	    "or last proposal.\nExit status: 0 promoted (or would be, in dry "
	    "run), 1 rejected, rolled back\nor refused, 2 bad usage.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .exec = exec,
};
