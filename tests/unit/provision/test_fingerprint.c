/*
 * test_fingerprint.c: fingerprints and their comparison, on temporary
 * config trees: the shadow's rendered copy compares equal to production's
 * files; an edit on either side is a difference naming the file and line
 * with a unified diff; sensitive values are masked; environment
 * allow-list; only parts both sides collected are compared. Also the
 * tree copy, the walk, the state file and /proc vector parsing.
 */
#include "base/err.h"
#include "base/fs.h"
#include "config/config.h"
#include "provision/prov_int.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[64];

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/umbra-fp-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void)
{
	prov__rmtree(tmp);
}

static void put(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	char d[256];
	snprintf(d, sizeof(d), "%s", p);
	*strrchr(d, '/') = '\0';
	fs_mkdirs(d, 0755);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f, "%s", p);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	buf_t b = BUF_INIT;
	cr_assert_eq(prov__read_file(p, 1 << 20, &b), 0, "%s", p);
	return buf_steal(&b);
}

static config_t *load(const char *text)
{
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	int rc =
	    config_load_string("t.yaml", text, strlen(text), tmp, &cfg, &errs);
	if (rc) {
		buf_t b = BUF_INIT;
		config_errors_format(&errs, &b);
		cr_assert_fail("load failed: %s", b.data);
	}
	config_errors_free(&errs);
	return cfg;
}

TestSuite(fingerprint, .init = setup, .fini = teardown);

/* Specs of both sides, and the shadow's copy made as `umbra run` does. */
static void provision(const config_t *cfg, prov_spec_t sp[2], int port)
{
	buf_t err = BUF_INIT;
	cr_assert_eq(
	    prov_spec_build(cfg, PROV_PRODUCTION, NULL, NULL, &sp[0], &err), 0);
	cr_assert_eq(
	    prov_spec_build(cfg, PROV_SHADOW, &sp[0], NULL, &sp[1], &err), 0);
	char src[256];
	snprintf(src, sizeof(src), "%s/source", sp[1].work_dir);
	fs_mkdirs(sp[1].work_dir, 0755);
	prov_vars_t v = prov_spec_vars(&sp[1], 0, port);
	cr_assert_eq(prov__copytree(sp[1].config_src, src, NULL, &err), 0, "%s",
		     err.data);
	cr_assert_eq(prov__copytree(src, sp[1].config_dir, &v, &err), 0, "%s",
		     err.data);
	buf_free(&err);
}

static void collect(const config_t *cfg, const prov_spec_t *s, int port,
		    prov_fp_t *fp)
{
	prov_fp_src_t src = {
	    .spec = s,
	    .port = port,
	    .scale = 1,
	    .env_ignore = &cfg->drift.env_ignore,
	    .sensitive = &cfg->mask.sensitive_keys,
	    .marker = cfg->mask.redact_marker,
	};
	prov_fp_collect(&src, fp);
}

static const char *CONF = "service: api\nproduction:\n"
			  "  command: [/bin/sh, -c, 'exec sleep 1', '{port}', "
			  "'{config_dir}/app.conf']\n"
			  "  config_dir: prod\n  port: 9000\n"
			  "  env: {MODE: live, API_TOKEN: abc123}\n"
			  "shadow:\n  port: 9100\n  work_dir: work\n";

Test(fingerprint, rendered_copy_equals_production)
{
	put("prod/app.conf", "listen = 127.0.0.1:{port}\nworkers = 4\n"
			     "password = hunter2\n");
	put("prod/sub/extra.conf", "x = 1\n");
	config_t *cfg = load(CONF);
	prov_spec_t sp[2];
	provision(cfg, sp, 9100);
	char *copy = get("work/config/app.conf");
	cr_assert_str_eq(copy, "listen = 127.0.0.1:9100\nworkers = 4\n"
			       "password = hunter2\n");
	free(copy);

	prov_fp_t a, b;
	collect(cfg, &sp[0], 9000, &a);
	collect(cfg, &sp[1], 9100, &b);
	cr_assert(a.parts & PROV_FP_CONFIG);
	cr_assert(a.parts & PROV_FP_ARGV);
	cr_assert_not_null(prov_fp_get(&a, "config:sub/extra.conf"));
	cr_assert_str_eq(prov_fp_get(&b, "argv[03]")->value, "{port}");
	cr_assert_str_eq(prov_fp_get(&b, "argv[04]")->value,
			 "{config_dir}/app.conf");
	/* sensitive environment values are never shown */
	cr_assert(strstr(prov_fp_get(&a, "env:API_TOKEN")->value, "(masked)"));
	cr_assert_null(prov_fp_get(&a, "env:UMBRA_SIDE")); /* env_ignore */
	prov_drift_report_t r = {0};
	prov_fp_compare(&a, &b, &r);
	buf_t out = BUF_INIT;
	prov_drift_report_print(&r, &out);
	cr_assert_eq(r.n, 0, "%s", out.data);
	buf_free(&out);
	prov_fp_free(&a);
	prov_fp_free(&b);
	prov_spec_free(&sp[0]);
	prov_spec_free(&sp[1]);
	config_free(cfg);
}

Test(fingerprint, production_edit_names_file_and_line)
{
	put("prod/app.conf", "a = 1\nb = 2\npassword = hunter2\nc = 3\n");
	config_t *cfg = load(CONF);
	prov_spec_t sp[2];
	provision(cfg, sp, 9100);
	put("prod/app.conf", "a = 1\nb = 20\npassword = swordfish\nc = 3\n");
	prov_fp_t a, b;
	collect(cfg, &sp[0], 9000, &a);
	collect(cfg, &sp[1], 9100, &b);
	prov_drift_report_t r = {0};
	prov_fp_compare(&a, &b, &r);
	cr_assert_eq(r.n, 1);
	cr_assert_str_eq(r.v[0].key, "config:app.conf");
	cr_assert_eq(r.v[0].line, 2);
	cr_assert(strstr(r.v[0].file, "/prod/app.conf"));
	cr_assert_str_eq(r.v[0].diff,
			 "--- production/app.conf\n"
			 "+++ shadow/app.conf\n"
			 "@@ -1,4 +1,4 @@\n a = 1\n-b = 20\n"
			 "+b = 2\n password = [REDACTED]\n c = 3\n");
	cr_assert_null(strstr(r.v[0].diff, "swordfish"));
	cr_assert_null(strstr(r.v[0].diff, "hunter2"));
	prov_drift_report_free(&r);
	/* the change against production's own previous fingerprint */
	prov_fp_t before;
	put("prod/app.conf", "a = 1\nb = 2\npassword = hunter2\nc = 3\n");
	collect(cfg, &sp[0], 9000, &before);
	prov_fp_changes(&before, &a, &r);
	cr_assert_eq(r.n, 1);
	cr_assert_eq(r.v[0].line, 2);
	prov_drift_report_free(&r);
	prov_fp_free(&before);
	prov_fp_free(&a);
	prov_fp_free(&b);
	prov_spec_free(&sp[0]);
	prov_spec_free(&sp[1]);
	config_free(cfg);
}

Test(fingerprint, edited_shadow_copy_and_new_files_differ)
{
	put("prod/app.conf", "listen = {port}\n");
	config_t *cfg = load(CONF);
	prov_spec_t sp[2];
	provision(cfg, sp, 9100);
	put("work/config/app.conf", "listen = 9999\n");
	put("prod/new.conf", "n = 1\n");
	prov_fp_t a, b;
	collect(cfg, &sp[0], 9000, &a);
	collect(cfg, &sp[1], 9100, &b);
	prov_drift_report_t r = {0};
	prov_fp_compare(&a, &b, &r);
	cr_assert_eq(r.n, 2);
	cr_assert_str_eq(r.v[0].key, "config:app.conf");
	cr_assert(strstr(r.v[0].diff, "-listen = {port}\n+listen = 9999\n"));
	cr_assert_str_eq(r.v[1].key, "config:new.conf");
	cr_assert_null(r.v[1].shadow);
	cr_assert(strstr(r.v[1].diff, "+++ /dev/null"));
	prov_drift_report_free(&r);
	prov_fp_free(&a);
	prov_fp_free(&b);
	prov_spec_free(&sp[0]);
	prov_spec_free(&sp[1]);
	config_free(cfg);
}

Test(fingerprint, compares_only_parts_both_collected)
{
	prov_fp_t a = {0}, b = {0};
	a.parts = PROV_FP_ARGV | PROV_FP_LIBS;
	b.parts = PROV_FP_ARGV;
	prov_fp_add(&a, PROV_FP_LIBS, "lib:/x.so", "sha256:1", NULL, 0, NULL);
	prov_fp_add(&a, PROV_FP_ARGV, "argv[00]", "/bin/x", NULL, 0, NULL);
	prov_fp_add(&b, PROV_FP_ARGV, "argv[00]", "/bin/y", NULL, 0, NULL);
	prov_fp_add(&b, PROV_FP_ARGV, "argv[00]", "/bin/z", NULL, 0, NULL);
	cr_assert_eq(b.n, 1); /* first value of a key wins */
	cr_assert_str_eq(a.v[0].key, "argv[00]"); /* sorted */
	prov_drift_report_t r = {0};
	prov_fp_compare(&a, &b, &r);
	cr_assert_eq(r.n, 1);
	cr_assert_str_eq(r.v[0].key, "argv[00]");
	cr_assert_str_eq(r.v[0].production, "/bin/x");
	cr_assert_str_eq(r.v[0].shadow, "/bin/y");
	cr_assert_null(r.v[0].diff);
	prov_drift_report_free(&r);
	prov_fp_free(&a);
	prov_fp_free(&b);
}

Test(fingerprint, copytree_renders_text_keeps_binary_and_links)
{
	put("src/a.conf", "p={port} s={side}\n");
	char bin[256];
	snprintf(bin, sizeof(bin), "%s/src/b.bin", tmp);
	FILE *f = fopen(bin, "wb");
	fwrite("{port}\0zz", 1, 9, f);
	fclose(f);
	char l[256], d[256], s[256];
	snprintf(l, sizeof(l), "%s/src/link", tmp);
	cr_assert_eq(symlink("a.conf", l), 0);
	snprintf(s, sizeof(s), "%s/src", tmp);
	snprintf(d, sizeof(d), "%s/dst", tmp);
	prov_vars_t v = {.port = 7, .side = "shadow"};
	buf_t err = BUF_INIT;
	cr_assert_eq(prov__copytree(s, d, &v, &err), 0, "%s", err.data);
	char *t = get("dst/a.conf");
	cr_assert_str_eq(t, "p=7 s=shadow\n");
	free(t);
	buf_t b = BUF_INIT;
	snprintf(bin, sizeof(bin), "%s/dst/b.bin", tmp);
	cr_assert_eq(prov__read_file(bin, 100, &b), 0);
	cr_assert_eq(b.len, 9);
	cr_assert(!memcmp(b.data, "{port}\0zz", 9));
	buf_free(&b);
	char target[64];
	snprintf(l, sizeof(l), "%s/dst/link", tmp);
	ssize_t n = readlink(l, target, sizeof(target) - 1);
	cr_assert_eq(n, 6);
	/* copying onto an existing tree fails and says where */
	cr_assert_lt(prov__copytree(s, d, &v, &err), 0);
	cr_assert(strstr(err.data, "/dst"), "%s", err.data);
	buf_free(&err);
}

static int collect_rel(const char *rel, const char *full, void *arg)
{
	buf_printf(arg, "%s;", rel);
	return 0;
}

Test(fingerprint, walk_is_sorted_and_recursive)
{
	put("w/b", "");
	put("w/a", "");
	put("w/c/z", "");
	put("w/c/a", "");
	char root[256];
	snprintf(root, sizeof(root), "%s/w", tmp);
	buf_t b = BUF_INIT;
	cr_assert_eq(prov__walk(root, collect_rel, &b), 0);
	cr_assert_str_eq(b.data, "a;b;c/a;c/z;");
	buf_free(&b);
	cr_assert_lt(prov__walk("/nonexistent", collect_rel, &b), 0);
}

Test(fingerprint, state_file_round_trip)
{
	prov_state_rec_t w[2] = {{PROV_PRODUCTION, 0, 100, 9000,
				  "127.0.0.1:9000"},
				 {PROV_SHADOW, 1, 200, 9101,
				  "169.254.213.2:9101"}},
			 r[4];
	cr_assert_eq(prov__state_write(tmp, w, 2), 0);
	cr_assert_eq(prov__state_read(tmp, r, 4), 2);
	cr_assert_eq(r[1].side, PROV_SHADOW);
	cr_assert_eq(r[1].replica, 1);
	cr_assert_eq(r[1].pid, 200);
	cr_assert_str_eq(r[1].addr, "169.254.213.2:9101");
	put("state", "# x\ngarbage\nshadow -1 5 5 a\nproduction 0 0 1 a\n"
		     "shadow 2 77 9 b:1\nother 0 1 1 a\n");
	cr_assert_eq(prov__state_read(tmp, r, 4), 1);
	cr_assert_eq(r[0].pid, 77);
}

Test(fingerprint, split_nul_vectors)
{
	size_t n;
	char **v = prov__split_nul("a\0bc\0", 5, &n);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[1], "bc");
	cr_assert_null(v[2]);
	prov__strv_free(v);
	v = prov__split_nul("a\0b", 3, &n); /* truncated last entry */
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[1], "b");
	prov__strv_free(v);
	v = prov__split_nul("", 0, &n);
	cr_assert_eq(n, 0);
	cr_assert_null(v[0]);
	prov__strv_free(v);
}

Test(fingerprint, drift_ignore_leaves_keys_out)
{
	put("prod/app.conf", "x = 1\n");
	put("prod/app.log", "noise\n");
	config_t *cfg = load("service: api\nproduction:\n"
			     "  command: [/bin/sh, -c, 'exec sleep 1']\n"
			     "  config_dir: prod\n  port: 9000\n"
			     "  env: {MODE: live, SSH_TTY: /dev/pts/3}\n"
			     "shadow:\n  port: 9100\n  work_dir: work\n"
			     "drift:\n  ignore: ['argv[00]', 'env:MODE', "
			     "'config:*.log']\n");
	prov_spec_t sp[2];
	provision(cfg, sp, 9100);
	prov_fp_t a;
	prov_fp_src_t src = {
	    .spec = &sp[0],
	    .port = 9000,
	    .scale = 1,
	    .env_ignore = &cfg->drift.env_ignore,
	    .ignore = &cfg->drift.ignore,
	};
	prov_fp_collect(&src, &a);
	cr_assert_null(prov_fp_get(&a, "argv[00]"));
	cr_assert_not_null(prov_fp_get(&a, "argv[01]"));
	cr_assert_null(prov_fp_get(&a, "env:MODE"));
	cr_assert_null(prov_fp_get(&a, "config:app.log"));
	cr_assert_not_null(prov_fp_get(&a, "config:app.conf"));
	cr_assert(prov_fp_ignored(&cfg->drift.ignore, "config:a/b/c.log"));
	/* the defaults: what a login shell sets, replaced by the list */
	config_t *def = load(CONF);
	cr_assert(prov_fp_ignored(&def->drift.ignore, "env:SSH_TTY"));
	cr_assert(prov_fp_ignored(&def->drift.ignore, "env:XDG_RUNTIME_DIR"));
	cr_assert_not(prov_fp_ignored(&def->drift.ignore, "env:MODE"));
	prov_fp_free(&a);
	prov_spec_free(&sp[0]);
	prov_spec_free(&sp[1]);
	config_free(cfg);
	config_free(def);
}
