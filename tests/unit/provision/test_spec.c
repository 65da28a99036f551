/*
 * test_spec.c: building production's and the shadow's specs from
 * configs: command mode, shadow.command, environment and UMBRA_SIDE,
 * config and data copies, isolation address, upstreams mode, attach
 * mode from a fixture /proc (tests/data/provision/proc), and the
 * baseline (production's command, env and config in the shadow's place).
 */
#include "base/err.h"
#include "config/config.h"
#include "provision/provision.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static config_t *load(const char *text)
{
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	int rc = config_load_string("t.yaml", text, strlen(text), "/etc/umbra",
				    &cfg, &errs);
	if (rc) {
		buf_t b = BUF_INIT;
		config_errors_format(&errs, &b);
		cr_assert_fail("load failed: %s", b.data);
	}
	config_errors_free(&errs);
	return cfg;
}

static const char *proc_root(void)
{
	static char p[512];
	const char *d = getenv("UMBRA_TEST_DATA");
	snprintf(p, sizeof(p), "%s/provision/proc", d ? d : "tests/data");
	return p;
}

static const char *env_of(const prov_spec_t *s, const char *key)
{
	for (size_t i = 0; i < s->nenv; i++)
		if (!strcmp(s->env_keys[i], key))
			return s->env_vals[i];
	return NULL;
}

static void build(const config_t *cfg, prov_spec_t sp[2])
{
	buf_t err = BUF_INIT;
	cr_assert_eq(prov_spec_build(cfg, PROV_PRODUCTION, NULL, proc_root(),
				     &sp[0], &err),
		     0, "%s", err.data);
	cr_assert_eq(prov_spec_build(cfg, PROV_SHADOW, &sp[0], proc_root(),
				     &sp[1], &err),
		     0, "%s", err.data);
	buf_free(&err);
}

Test(spec, command_mode_shadow_is_production_copy)
{
	config_t *cfg = load(
	    "service: api\nproduction:\n"
	    "  command: [/usr/bin/api, --port, '{port}', --conf, "
	    "'{config_dir}/api.toml']\n"
	    "  config_dir: conf\n  data_dir: /var/lib/api\n"
	    "  port: 9000\n  replicas: 3\n  cwd: /srv\n"
	    "  env: {LOG: info, CFG: '{config_dir}'}\n"
	    "  cpu_limit: 2\n  memory_limit: 1GiB\n"
	    "shadow:\n  port: 9100\n  env: {PAYMENTS: sandbox, LOG: debug}\n"
	    "  copy_data: true\n");
	prov_spec_t sp[2];
	build(cfg, sp);
	const prov_spec_t *p = &sp[0], *s = &sp[1];
	cr_assert(p->run);
	cr_assert(!p->attached);
	cr_assert_eq(p->argc, 5);
	cr_assert_str_eq(p->argv[2], "{port}");
	cr_assert_eq(p->port, 9000);
	cr_assert_eq(p->replicas, 3);
	cr_assert_str_eq(p->config_dir, "/etc/umbra/conf");
	cr_assert_str_eq(p->cwd, "/srv");
	cr_assert_str_eq(env_of(p, "UMBRA_SIDE"), "production");
	cr_assert_str_eq(env_of(p, "LOG"), "info");
	cr_assert_float_eq(p->cpu, 2.0, 1e-12);

	cr_assert(s->run);
	cr_assert_eq(s->argc, 5);
	cr_assert_str_eq(s->argv[4], "{config_dir}/api.toml");
	cr_assert_eq(s->port, 9100);
	cr_assert_eq(s->replicas, 1);
	cr_assert_str_eq(s->cwd, "/srv");
	cr_assert_str_eq(env_of(s, "UMBRA_SIDE"), "shadow");
	cr_assert_str_eq(env_of(s, "LOG"), "debug"); /* shadow.env wins */
	cr_assert_str_eq(env_of(s, "PAYMENTS"), "sandbox");
	cr_assert_str_eq(env_of(s, "CFG"), "{config_dir}");
	cr_assert(s->copy_config);
	cr_assert_str_eq(s->config_src, "/etc/umbra/conf");
	cr_assert_str_eq(s->config_dir, "/etc/umbra/umbra-shadow/config");
	cr_assert(s->copy_data);
	cr_assert_str_eq(s->data_dir, "/etc/umbra/umbra-shadow/data");
	cr_assert_str_eq(s->host, "127.0.0.1");

	prov_vars_t v = prov_spec_vars(s, 0, 9100);
	char *r = prov_render_str(s->argv[4], &v);
	cr_assert_str_eq(r, "/etc/umbra/umbra-shadow/config/api.toml");
	free(r);
	prov_spec_free(&sp[0]);
	prov_spec_free(&sp[1]);
	config_free(cfg);
}

Test(spec, shadow_command_candidate_and_isolation)
{
	config_t *cfg =
	    load("service: api\nproduction:\n  command: /usr/bin/api {port}\n"
		 "  data_dir: /var/lib/api\n"
		 "shadow:\n  command: /opt/new/api {port}\n  config_dir: cand\n"
		 "  isolate_network: true\n  netns_subnet: 10.9.8.4/30\n");
	prov_spec_t sp[2];
	build(cfg, sp);
	cr_assert_str_eq(sp[1].argv[0], "/opt/new/api");
	cr_assert_str_eq(sp[1].config_src, "/etc/umbra/cand");
	cr_assert(sp[1].isolate);
	cr_assert_str_eq(sp[1].host, "10.9.8.6");
	/* no copy_data: a fresh dir, never production's */
	cr_assert(!sp[1].copy_data);
	cr_assert_str_eq(sp[1].data_dir, "/etc/umbra/umbra-shadow/data");
	prov_spec_free(&sp[0]);
	prov_spec_free(&sp[1]);
	config_free(cfg);
}

/* The baseline: production's software and config, never the shadow's
 * candidate (shadow.command, shadow.env, shadow.config_dir). */
Test(spec, baseline_is_production_in_the_shadows_place)
{
	config_t *cfg = load(
	    "service: api\nproduction:\n"
	    "  command: [/usr/bin/api, --port, '{port}']\n"
	    "  config_dir: conf\n  data_dir: /var/lib/api\n  replicas: 4\n"
	    "  env: {LOG: info}\n  cwd: /srv\n"
	    "shadow:\n  command: /opt/new/api {port}\n  config_dir: cand\n"
	    "  env: {LOG: debug, PAYMENTS: sandbox}\n  replicas: 2\n"
	    "  copy_data: true\n"
	    "  isolate_network: true\n  netns_subnet: 10.9.8.4/30\n"
	    "  baseline:\n    enabled: true\n    port: 9200\n");
	prov_spec_t sp[2], b;
	build(cfg, sp);
	buf_t err = BUF_INIT;
	cr_assert_eq(prov_spec_build(cfg, PROV_BASELINE, &sp[0], NULL, &b,
				     &err),
		     0, "%s", err.data);
	buf_free(&err);
	cr_assert_eq(b.side, PROV_BASELINE);
	cr_assert(b.run);
	cr_assert_eq(b.argc, 3);
	cr_assert_str_eq(b.argv[0], "/usr/bin/api");
	cr_assert_str_eq(b.argv[2], "{port}");
	cr_assert_eq(b.port, 9200);
	cr_assert_eq(b.replicas, PROV_BASELINE_REPLICAS);
	cr_assert_str_eq(b.cwd, "/srv");
	cr_assert_str_eq(env_of(&b, "UMBRA_SIDE"), "baseline");
	cr_assert_str_eq(env_of(&b, "LOG"), "info");
	cr_assert_null(env_of(&b, "PAYMENTS"));
	cr_assert(b.copy_config);
	cr_assert_str_eq(b.config_src, "/etc/umbra/conf");
	cr_assert_str_eq(b.work_dir, "/etc/umbra/umbra-shadow/baseline");
	cr_assert_str_eq(b.config_dir,
			 "/etc/umbra/umbra-shadow/baseline/config");
	cr_assert(b.copy_data);
	cr_assert_str_eq(b.data_dir,
			 "/etc/umbra/umbra-shadow/baseline/data");
	cr_assert(b.isolate);
	cr_assert_str_eq(b.host, sp[1].host); /* the shadow's namespace */
	cr_assert_str_eq(prov_side_name(b.side), "baseline");
	prov_spec_free(&b);
	prov_spec_free(&sp[0]);
	prov_spec_free(&sp[1]);
	config_free(cfg);
}

Test(spec, baseline_not_run_when_off_or_given)
{
	static const char *const tails[] = {
	    "",
	    "shadow:\n  baseline:\n    enabled: false\n",
	    ("shadow:\n  baseline:\n    enabled: true\n"
	     "    upstreams: [127.0.0.1:9300]\n"),
	};
	for (size_t i = 0; i < sizeof(tails) / sizeof(*tails); i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "service: api\nproduction:\n  command: /bin/api\n%s",
			 tails[i]);
		config_t *cfg = load(text);
		prov_spec_t sp[2], b;
		build(cfg, sp);
		buf_t err = BUF_INIT;
		cr_assert_eq(prov_spec_build(cfg, PROV_BASELINE, &sp[0], NULL,
					     &b, &err),
			     0);
		buf_free(&err);
		cr_assert(!b.run, "case %zu", i);
		prov_spec_free(&b);
		prov_spec_free(&sp[0]);
		prov_spec_free(&sp[1]);
		config_free(cfg);
	}
}

Test(spec, upstreams_mode_runs_nothing)
{
	config_t *cfg = load("service: api\nproduction:\n  upstreams: "
			     "[127.0.0.1:9000]\n");
	prov_spec_t sp[2];
	build(cfg, sp);
	cr_assert(!sp[0].run);
	cr_assert(!sp[0].attached);
	cr_assert(!sp[1].run);
	prov_spec_free(&sp[0]);
	prov_spec_free(&sp[1]);
	config_free(cfg);
}

Test(spec, attach_reads_proc_and_templates_the_port)
{
	config_t *cfg = load("service: api\nproduction:\n  attach:\n"
			     "    pid: 4242\n    url: http://127.0.0.1:9000/\n"
			     "  config_dir: /etc/app\n"
			     "shadow:\n  port: 9100\n");
	prov_spec_t sp[2];
	build(cfg, sp);
	const prov_spec_t *p = &sp[0], *s = &sp[1];
	cr_assert(p->attached);
	cr_assert(!p->run);
	cr_assert_eq(p->attach_pid, 4242);
	cr_assert_eq(p->port, 9000);
	cr_assert_str_eq(p->cwd, "/srv/app");
	cr_assert_str_eq(p->argv[2], "127.0.0.1:9000");
	cr_assert_str_eq(p->base_env[2], "DB_URL=postgres://db/app");
	cr_assert(s->run);
	cr_assert_str_eq(s->argv[0], "/usr/bin/app");
	cr_assert_str_eq(s->argv[2], "127.0.0.1:{port}");
	cr_assert_str_eq(s->argv[4], "{config_dir}/app.toml");
	cr_assert_str_eq(s->cwd, "/srv/app");
	cr_assert_str_eq(s->base_env[1], "LANG=C.UTF-8");
	cr_assert_str_eq(env_of(s, "UMBRA_SIDE"), "shadow");
	prov_spec_free(&sp[0]);
	prov_spec_free(&sp[1]);
	config_free(cfg);
}

Test(spec, attach_errors_are_clear)
{
	prov_spec_t sp[2];
	buf_t err = BUF_INIT;
	config_t *cfg = load("service: api\nproduction:\n  attach:\n"
			     "    pid: 4242\n");
	cr_assert_eq(prov_spec_build(cfg, PROV_PRODUCTION, NULL, proc_root(),
				     &sp[0], &err),
		     0);
	cr_assert_eq(prov_spec_build(cfg, PROV_SHADOW, &sp[0], proc_root(),
				     &sp[1], &err),
		     ERR_CONFIG);
	cr_assert(strstr(err.data, "production.attach.url or "
				   "production.port"),
		  "%s", err.data);
	prov_spec_free(&sp[0]);
	config_free(cfg);

	buf_reset(&err);
	cfg = load("service: api\nproduction:\n  attach:\n    pid: 4343\n");
	cr_assert_eq(prov_spec_build(cfg, PROV_PRODUCTION, NULL, proc_root(),
				     &sp[0], &err),
		     ERR_NOTFOUND);
	cr_assert(strstr(err.data, "empty (a kernel thread or a zombie)"), "%s",
		  err.data);
	config_free(cfg);

	buf_reset(&err);
	cfg = load("service: api\nproduction:\n  attach:\n    pid: 99999\n");
	cr_assert_lt(prov_spec_build(cfg, PROV_PRODUCTION, NULL, proc_root(),
				     &sp[0], &err),
		     0);
	cr_assert(strstr(err.data, "cannot read the command of process 99999"),
		  "%s", err.data);
	config_free(cfg);
	buf_free(&err);
}

/* ------------------------------------------------ attach: unit commands */
Test(spec, unit_exec_start_keeps_quoted_words)
{
	const char *unit = "[Unit]\nDescription=nginx\nExecStart=/bin/false\n"
			   "[Service]\nType=forking\n"
			   "ExecStartPre=/usr/sbin/nginx -t -q\n"
			   "ExecStart=-/usr/sbin/nginx -g 'daemon on; "
			   "master_process on;' -c \"/etc/my nginx/n.conf\"\n"
			   "[Install]\nWantedBy=multi-user.target\n";
	char **v = NULL;
	size_t n = 0;
	cr_assert_eq(prov_unit_exec_start(unit, &v, &n), 0);
	cr_assert_eq(n, 5);
	cr_assert_str_eq(v[0], "/usr/sbin/nginx");
	cr_assert_str_eq(v[2], "daemon on; master_process on;");
	cr_assert_str_eq(v[4], "/etc/my nginx/n.conf");
	cr_assert_null(v[5]);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	/* @path name args: the path runs, with argv[0] = name */
	cr_assert_eq(prov_unit_exec_start("[Service]\nExecStart=@/usr/bin/x "
					  "x-title --a\n",
					  &v, &n),
		     0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0], "/usr/bin/x");
	cr_assert_str_eq(v[1], "--a");
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	cr_assert_eq(prov_unit_exec_start("[Service]\nType=simple\n", &v, &n),
		     ERR_NOTFOUND);
	cr_assert_eq(prov_split_command("a 'b", &v, &n), ERR_PARSE);
}
