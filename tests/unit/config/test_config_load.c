/*
 * test_config_load.c: configs that load, and what they load to: defaults,
 * types, relative paths, overrides, and the emit/load round trip.
 */
#include "base/buf.h"
#include "base/clock.h"
#include "config/config.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static config_t *load_ok(const char *text)
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

Test(config_load, minimal_defaults)
{
	config_t *c = load_ok("service: checkout\nproduction:\n  upstreams: "
			      "[127.0.0.1:9000]\n");
	cr_assert_str_eq(c->service, "checkout");
	cr_assert_eq(c->production.upstreams.n, 1);
	cr_assert_str_eq(c->production.upstreams.v[0].host, "127.0.0.1");
	cr_assert_eq(c->production.upstreams.v[0].port, 9000);
	cr_assert_eq(c->listen.address.port, 8080);
	cr_assert_str_eq(c->listen.address.host, "");
	cr_assert_float_eq(c->shadow.ratio, 0.1, 1e-12);
	cr_assert_eq(c->listen.header_timeout, 10 * NS_PER_S);
	cr_assert_eq(c->mirror.max_body, 8u << 20);
	cr_assert_eq(c->shadow.pipeline, 8);
	cr_assert_eq(c->mirror.methods.n, 3);
	cr_assert_str_eq(c->mirror.methods.v[0], "GET");
	cr_assert(c->mask.enabled);
	cr_assert_float_eq(c->analysis.metrics[CONFIG_METRIC_cpu].threshold,
			   0.10, 1e-12);
	cr_assert_float_eq(
		c->analysis.metrics[CONFIG_METRIC_memory].threshold, 0.15,
		1e-12);
	cr_assert_float_eq(c->analysis.velocity_threshold, 0.05, 1e-12);
	cr_assert_eq(c->production.stop_signal, SIGTERM);
	cr_assert_eq(c->events.after_change, 600 * NS_PER_S);
	cr_assert_str_eq(c->store.path, "/etc/umbra/umbra-data/umbra.db");
	cr_assert_str_eq(c->api.listen.host, "127.0.0.1");
	config_free(c);
}

Test(config_load, relative_paths_against_the_config_dir)
{
	config_t *c = load_ok(
		"service: s\nproduction:\n  upstreams: [127.0.0.1:9000]\n"
		"  config_dir: ../app/conf\n  cwd: ..\n"
		"  data_dir: ./data\nstore:\n  path: ../../../db\n"
		"api:\n  token_file: a/../t\n");
	cr_assert_str_eq(c->production.config_dir, "/etc/app/conf");
	cr_assert_str_eq(c->production.cwd, "/etc");
	cr_assert_str_eq(c->production.data_dir, "/etc/umbra/data");
	cr_assert_str_eq(c->store.path, "/db", "no higher than the root");
	cr_assert_str_eq(c->api.token_file, "/etc/umbra/a/../t",
			 "later ones are the kernel's (symlinks)");
	config_free(c);
}

Test(config_load, types_and_forms)
{
	config_t *c = load_ok(
		"service: api.v2\n"
		"production:\n"
		"  command: ./app --port {port} --config '{config_dir}/a b'\n"
		"  port: 9000\n"
		"  replicas: 3\n"
		"  env: {LOG_LEVEL: debug, EMPTY: }\n"
		"  stop_signal: SIGINT\n"
		"  reload: {signal: HUP}\n"
		"  cpu_limit: 1.5\n"
		"  memory_limit: 512MiB\n"
		"shadow:\n"
		"  ratio: 25%\n"
		"  upstreams: 127.0.0.1:9100, [::1]:9101\n"
		"mirror:\n"
		"  methods: [get, post, PURGE]\n"
		"  sample: {by: cookie, key: session}\n"
		"  mark_header: 'X-Shadow: yes'\n"
		"listen:\n"
		"  address: '[::1]:8443'\n"
		"  idle_timeout: 1h30m\n"
		"  max_header_bytes: 32KB\n"
		"mask:\n"
		"  disable: [ip, PHONE]\n"
		"  rules:\n"
		"    - {where: json, name: $.user.email, action: hash}\n"
		"    - where: pattern\n"
		"      pattern: 'ORD-\\d+'\n"
		"      replacement: ORD-x\n"
		"events:\n"
		"  scheduled:\n"
		"    - {name: backup, cron: '@daily', duration: 30m, side: "
		"production}\n"
		"mitigation:\n"
		"  policy:\n"
		"    - name: cpu\n"
		"      when: cpu.deviation > 0.1\n"
		"      then: [rollback, alert]\n"
		"  alert:\n"
		"    alertmanager: http://127.0.0.1:9093\n");
	cr_assert_eq(c->production.command.n, 5);
	cr_assert_str_eq(c->production.command.v[2], "{port}");
	cr_assert_str_eq(c->production.command.v[4], "{config_dir}/a b");
	cr_assert_eq(c->production.env.n, 2);
	cr_assert_str_eq(c->production.env.v[1].key, "EMPTY");
	cr_assert_str_eq(c->production.env.v[1].value, "");
	cr_assert_eq(c->production.stop_signal, SIGINT);
	cr_assert_eq(c->production.reload.signal, SIGHUP);
	cr_assert_float_eq(c->production.cpu_limit, 1.5, 1e-12);
	cr_assert_eq(c->production.memory_limit, 512ull << 20);
	cr_assert_float_eq(c->shadow.ratio, 0.25, 1e-12);
	cr_assert_eq(c->shadow.upstreams.n, 2);
	cr_assert_str_eq(c->shadow.upstreams.v[1].host, "::1");
	cr_assert_str_eq(c->mirror.methods.v[0], "GET");
	cr_assert_str_eq(c->mirror.methods.v[2], "PURGE");
	cr_assert_eq(c->mirror.sample.by, CONFIG_SAMPLE_COOKIE);
	cr_assert_eq(c->listen.idle_timeout, 5400 * NS_PER_S);
	cr_assert_eq(c->listen.max_header_bytes, 32000);
	cr_assert_str_eq(c->mask.disable.v[1], "phone");
	cr_assert_eq(c->mask.rules.n, 2);
	cr_assert_eq(c->mask.rules.v[0].action, CONFIG_ACT_HASH);
	cr_assert_eq(c->mask.rules.v[1].where, CONFIG_MASK_PATTERN);
	cr_assert_eq(c->mask.rules.v[1].action, CONFIG_ACT_REDACT);
	cr_assert_eq(c->events.scheduled.n, 1);
	cr_assert_str_eq(c->events.scheduled.v[0].cron.text, "@daily");
	cr_assert_eq(c->events.scheduled.v[0].side, CONFIG_SIDE_PRODUCTION);
	cr_assert_eq(c->mitigation.policy.v[0].then.n, 2);
	cr_assert_eq(c->mitigation.policy.v[0].cooldown, 600 * NS_PER_S);
	config_free(c);
}

Test(config_load, emit_round_trip)
{
	config_t *c = load_ok(
		"service: api\nproduction:\n  command: [./app, '{port}', "
		"'a: b', 'x\"y']\nmask:\n  rules:\n    - {where: header, name: "
		"X-Token}\nshadow:\n  env: {A: 'true', B: '10'}\n");
	buf_t a = BUF_INIT, b = BUF_INIT;
	config_emit(c, CONFIG_OUT_YAML, &a);
	config_t *again = NULL;
	config_errors_t errs = {0};
	int rc = config_load_string("again.yaml", a.data, a.len, "/etc/umbra",
				    &again, &errs);
	if (rc) {
		buf_t e = BUF_INIT;
		config_errors_format(&errs, &e);
		cr_assert_fail("reload of emitted YAML failed:\n%s\n--\n%s", e.data,
			 a.data);
	}
	config_emit(again, CONFIG_OUT_YAML, &b);
	cr_assert_str_eq(a.data, b.data);
	cr_assert_str_eq(again->production.command.v[3], "x\"y");
	cr_assert_str_eq(again->shadow.env.v[0].value, "true");
	buf_free(&a);
	buf_free(&b);
	config_free(c);
	config_free(again);
}

Test(config_load, json_output_is_json)
{
	config_t *c = load_ok("service: api\nproduction:\n  upstreams: "
			      "[127.0.0.1:1]\n");
	buf_t a = BUF_INIT;
	config_emit(c, CONFIG_OUT_JSON, &a);
	cr_assert(strstr(a.data, "\"service\": \"api\"") != NULL);
	cr_assert(strstr(a.data, "\"ratio\": 0.1,") != NULL, "%s", a.data);
	buf_free(&a);
	config_free(c);
}

Test(config_load, set_overrides_and_validate)
{
	config_t *c = config_new_default("web");
	config_errors_t errs = {0};
	cr_assert_eq(config_set(c, "production.upstreams",
				"127.0.0.1:1,127.0.0.1:2", &errs),
		     0);
	cr_assert_eq(config_set(c, "shadow.ratio", "50%", &errs), 0);
	cr_assert_eq(c->production.upstreams.n, 2);
	cr_assert_float_eq(c->shadow.ratio, 0.5, 1e-12);
	cr_assert_eq(config_validate(c, &errs), 0);
	cr_assert_neq(config_set(c, "shadow.ratio", "2", &errs), 0);
	cr_assert_neq(config_set(c, "no.such", "2", &errs), 0);
	cr_assert_eq(errs.n, 2);
	buf_t b = BUF_INIT;
	config_error_format(&errs.v[0], &b);
	cr_assert_str_eq(b.data, "shadow.ratio: out of range: \"2\" (expected a "
				 "ratio from 0 to 1, or a percentage)");
	buf_free(&b);
	config_errors_free(&errs);
	config_free(c);
}

Test(config_load, empty_sections_are_fine)
{
	config_t *c = load_ok("service: api\nproduction:\n  upstreams: "
			      "[127.0.0.1:1]\nmirror:\nanalysis: {}\n");
	cr_assert(c->mirror.enabled);
	config_free(c);
}

Test(config_load, inactive_report_names_fields)
{
	config_t *c = load_ok("service: api\nproduction:\n  upstreams: "
			      "[127.0.0.1:1]\napi:\n  dashboard: false\n"
			      "shadow:\n  baseline:\n    port: 9000\n"
			      "analysis:\n  interval: 2s\n  horizon: 1m\n");
	buf_t b = BUF_INIT;
	config_inactive_report(c, &b);
	/* every section and field runs (shadow.baseline.port too, since
	 * umbra runs the baseline): nothing to report */
	cr_assert_eq(b.len, 0, "%s", b.data);
	buf_free(&b);
	config_free(c);
}

Test(config_load, reference_lists_every_section)
{
	buf_t b = BUF_INIT;
	config_reference(&b);
	const char *sections[] = {"service", "listen", "production", "shadow",
				  "mirror", "mask", "analysis", "events",
				  "drift", "mitigation", "capture", "store",
				  "api"};
	for (size_t i = 0; i < sizeof(sections) / sizeof(*sections); i++) {
		char h[64];
		snprintf(h, sizeof(h), "\n## `%s`\n", sections[i]);
		cr_assert(strstr(b.data, h) != NULL, "missing %s", h);
	}
	cr_assert(strstr(b.data, "| `mask.rules[].action` |") != NULL);
	buf_free(&b);
}

Test(config_load, limits_and_timeouts_of_the_production_path)
{
	config_t *c = load_ok("service: s\nproduction:\n  upstreams: "
			      "[127.0.0.1:9000]\n");
	cr_assert_eq(c->listen.max_connections, 10000);
	cr_assert_eq(c->listen.max_body, 64u << 20);
	cr_assert_eq(c->listen.body_min_rate, 256);
	cr_assert_eq(c->listen.body_deadline, 600 * NS_PER_S);
	cr_assert_eq(c->listen.send_timeout, 60 * NS_PER_S);
	cr_assert_eq(c->shadow.response_deadline, 30 * NS_PER_S);
	config_free(c);
	c = load_ok("service: s\nproduction:\n  upstreams: [127.0.0.1:9000]\n"
		    "listen:\n  max_body: 1GiB\n  body_min_rate: 0\n"
		    "  body_deadline: 2m\n  send_timeout: 5s\n"
		    "shadow:\n  response_deadline: 1500ms\n");
	cr_assert_eq(c->listen.max_body, 1u << 30);
	cr_assert_eq(c->listen.body_min_rate, 0, "0 turns the rate off");
	cr_assert_eq(c->listen.body_deadline, 120 * NS_PER_S);
	cr_assert_eq(c->listen.send_timeout, 5 * NS_PER_S);
	cr_assert_eq(c->shadow.response_deadline, 1500 * NS_PER_MS);
	config_free(c);
}
