/*
 * test_config_errors.c: one test per malformed config. Each asserts the
 * exact first error, FILE:LINE:COL: path: message, so a change in wording
 * or position is a visible, reviewed change.
 */
#include "base/buf.h"
#include "base/err.h"
#include "config/config.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Loads text; asserts failure and returns the first error, formatted
 * (caller frees). *count gets the number of errors. */
static char *first_error_n(const char *text, size_t len, size_t *count)
{
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	int rc = config_load_string("t.yaml", text, len, "/base", &cfg, &errs);
	cr_assert_eq(rc, ERR_CONFIG, "expected ERR_CONFIG, got %d", rc);
	cr_assert_null(cfg);
	cr_assert_gt(errs.n, 0);
	buf_t b = BUF_INIT;
	config_error_format(&errs.v[0], &b);
	if (count)
		*count = errs.n + errs.dropped;
	config_errors_free(&errs);
	return buf_steal(&b);
}

static void expect(const char *text, const char *want)
{
	char *got = first_error_n(text, strlen(text), NULL);
	cr_assert_str_eq(got, want);
	free(got);
}

#define PROD "production:\n  upstreams: [127.0.0.1:9000]\n"
#define HEAD "service: api\n" PROD

/* ---------------------------------------------------------- file level */
Test(config_errors, empty_file)
{
	expect("", "t.yaml:1:1: empty configuration (expected at least "
		   "\"service: NAME\" and where production is)");
}

Test(config_errors, only_comments)
{
	expect("# nothing\n# here\n",
	       "t.yaml:1:1: empty configuration (expected at least "
	       "\"service: NAME\" and where production is)");
}

Test(config_errors, binary_garbage)
{
	char *got = first_error_n("\x00\x01\x02\xff", 4, NULL);
	cr_assert_str_eq(got, "t.yaml:1:1: not a text file: byte 0x00 at "
			      "offset 0 (a config is UTF-8 YAML)");
	free(got);
}

Test(config_errors, bad_utf8_on_line_two)
{
	expect("service: api\nx: \xc3\x28\n",
	       "t.yaml:2:4: not a text file: byte 0xc3 at offset 16 (a "
	       "config is UTF-8 YAML)");
}

Test(config_errors, ten_megabyte_string)
{
	size_t n = 10 * 1024 * 1024;
	char *big = malloc(n);
	memset(big, '#', n);
	char *got = first_error_n(big, n, NULL);
	cr_assert_str_eq(got, "t.yaml:1:1: file too large: 10485760 bytes "
			      "(limit 1MiB)");
	free(got);
	free(big);
}

Test(config_errors, ten_megabyte_file)
{
	char path[] = "/tmp/umbra-test-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 10 * 1024 * 1024), 0);
	close(fd);
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	int rc = config_load_file(path, &cfg, &errs);
	unlink(path);
	cr_assert_eq(rc, ERR_CONFIG);
	buf_t b = BUF_INIT;
	config_error_format(&errs.v[0], &b);
	char want[256];
	snprintf(want, sizeof(want),
		 "%s:1:1: file too large: 10485760 bytes (limit 1MiB)", path);
	cr_assert_str_eq(b.data, want);
	buf_free(&b);
	config_errors_free(&errs);
}

Test(config_errors, missing_file)
{
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	int rc = config_load_file("/nonexistent/umbra.yaml", &cfg, &errs);
	cr_assert_eq(rc, -2 /* -ENOENT */);
	buf_t b = BUF_INIT;
	config_error_format(&errs.v[0], &b);
	cr_assert_str_eq(b.data, "/nonexistent/umbra.yaml: cannot open: No "
				 "such file or directory");
	buf_free(&b);
	config_errors_free(&errs);
}

Test(config_errors, directory_not_file)
{
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	int rc = config_load_file("/tmp", &cfg, &errs);
	cr_assert_eq(rc, ERR_CONFIG);
	buf_t b = BUF_INIT;
	config_error_format(&errs.v[0], &b);
	cr_assert_str_eq(b.data, "/tmp: not a regular file (a config is a file, "
				 "not a FIFO, device or directory)");
	buf_free(&b);
	config_errors_free(&errs);
}

/* ---------------------------------------------------------- YAML syntax */
Test(config_errors, tab_indentation)
{
	expect("service: api\nlisten:\n\taddress: :80\n",
	       "t.yaml:3:1: YAML syntax: tab character may not be used as "
	       "indentation");
}

Test(config_errors, unclosed_flow_sequence)
{
	expect("service: api\nproduction:\n  upstreams: [127.0.0.1:1\n",
	       "t.yaml:4:1: YAML syntax: flow sequence without a closing "
	       "bracket");
}

Test(config_errors, unterminated_quote)
{
	expect("service: \"api\n",
	       "t.yaml:1:11: YAML syntax: double-quoted scalar without "
	       "closing quote");
}

Test(config_errors, duplicate_key)
{
	expect("service: api\nservice: web\n",
	       "t.yaml:2:1: service: duplicate key (first at line 1)");
}

Test(config_errors, duplicate_nested_key)
{
	expect(HEAD "listen:\n  workers: 1\n  workers: 2\n",
	       "t.yaml:6:3: listen.workers: duplicate key (first at line 5)");
}

Test(config_errors, deep_nesting)
{
	buf_t b = BUF_INIT;
	buf_puts(&b, "service: ");
	for (int i = 0; i < 40; i++)
		buf_putc(&b, '[');
	for (int i = 0; i < 40; i++)
		buf_putc(&b, ']');
	buf_putc(&b, '\n');
	/* the root mapping is the first level */
	expect(b.data, "t.yaml:1:41: YAML syntax: nesting too deep (limit 32 "
		       "levels)");
	buf_free(&b);
}

Test(config_errors, alias)
{
	expect("service: &n api\nproduction:\n  upstreams: *n\n",
	       "t.yaml:3:14: YAML syntax: aliases (*name) are not supported "
	       "in a config; write the value out");
}

Test(config_errors, two_documents)
{
	expect("service: a\n---\nservice: b\n",
	       "t.yaml:2:1: YAML syntax: more than one YAML document (a "
	       "config is a single document)");
}

Test(config_errors, root_is_list)
{
	expect("- service: api\n",
	       "t.yaml:1:1: expected a mapping of sections (service, listen, "
	       "production, ...), found a list");
}

Test(config_errors, root_is_scalar)
{
	expect("hello\n", "t.yaml:1:1: expected a mapping of sections "
			  "(service, listen, production, ...), found a value");
}

Test(config_errors, complex_key)
{
	expect(HEAD "? [a, b]\n: 1\n",
	       "t.yaml:4:1: YAML syntax: explicit keys (\"? key\") are not "
	       "supported in a config; write \"key: value\"");
}

Test(config_errors, flow_mapping_key)
{
	expect(HEAD "listen: {[a]: 1}\n",
	       "t.yaml:4:10: listen: keys must be plain names, found a list");
}

Test(config_errors, explicit_key_next_to_tab)
{
	/* libfyaml 0.7.12 frees twice on this one: refused before it */
	expect("? b:\t? d:\n",
	       "t.yaml:1:1: YAML syntax: explicit keys (\"? key\") are not "
	       "supported in a config; write \"key: value\"");
}

Test(config_errors, question_marks_in_values_are_fine)
{
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	const char *t = HEAD "mask:\n  redact_marker: 'who? me'\n"
			     "  rules:\n    - where: pattern\n"
			     "      pattern: \"a? b\"\n      replacement: |\n"
			     "        ? not a key\n";
	int rc = config_load_string("t.yaml", t, strlen(t), "/", &cfg, &errs);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(cfg->mask.redact_marker, "who? me");
	cr_assert_str_eq(cfg->mask.rules.v[0].replacement, "? not a key\n");
	config_free(cfg);
}

/* ---------------------------------------------------------- keys */
Test(config_errors, unknown_top_key_suggests)
{
	expect("servce: api\n" PROD,
	       "t.yaml:1:1: servce: unknown key (did you mean \"service\"?)");
}

Test(config_errors, unknown_nested_key_suggests)
{
	expect(HEAD "shadow:\n  ratoi: 0.5\n",
	       "t.yaml:5:3: shadow.ratoi: unknown key (did you mean "
	       "\"ratio\"?)");
}

Test(config_errors, unknown_key_lists_valid_ones)
{
	expect(HEAD "store:\n  zzzzzz: 1\n",
	       "t.yaml:5:3: store.zzzzzz: unknown key (expected one of: path, "
	       "flush_interval, raw_retention, rollup_retention, "
	       "memory_limit)");
}

Test(config_errors, section_given_a_value)
{
	expect(HEAD "mirror: 5\n", "t.yaml:4:9: mirror: is a section: "
				   "expected a mapping, found a value");
}

Test(config_errors, missing_service)
{
	expect(PROD, "t.yaml:1:1: service: required field missing (expected "
		     "a non-empty string)");
}

Test(config_errors, empty_value)
{
	expect(HEAD "listen:\n  workers:\n",
	       "t.yaml:5:3: listen.workers: no value; remove the key to use "
	       "the default (expected an integer from 0 to 256)");
}

/* ---------------------------------------------------------- scalar types */
Test(config_errors, bool_not_bool)
{
	expect(HEAD "mirror:\n  enabled: maybe\n",
	       "t.yaml:5:12: mirror.enabled: not a boolean: \"maybe\" "
	       "(expected true or false)");
}

Test(config_errors, int_out_of_range)
{
	expect(HEAD "listen:\n  workers: 300\n",
	       "t.yaml:5:12: listen.workers: out of range: \"300\" (expected "
	       "an integer from 0 to 256)");
}

Test(config_errors, shadow_pipeline_zero)
{
	expect(HEAD "shadow:\n  pipeline: 0\n",
	       "t.yaml:5:13: shadow.pipeline: out of range: \"0\" (expected "
	       "an integer from 1 to 64)");
}

Test(config_errors, shadow_pipeline_too_deep)
{
	expect(HEAD "shadow:\n  pipeline: 65\n",
	       "t.yaml:5:13: shadow.pipeline: out of range: \"65\" (expected "
	       "an integer from 1 to 64)");
}

Test(config_errors, int_not_integer)
{
	expect(HEAD "listen:\n  workers: 2.5\n",
	       "t.yaml:5:12: listen.workers: not an integer: \"2.5\" "
	       "(expected an integer from 0 to 256)");
}

Test(config_errors, int_given_mapping)
{
	expect(HEAD "listen:\n  workers: {a: 1}\n",
	       "t.yaml:5:12: listen.workers: found a mapping (expected an "
	       "integer from 0 to 256)");
}

Test(config_errors, duration_bad_unit)
{
	expect(HEAD "listen:\n  header_timeout: 10 seconds\n",
	       "t.yaml:5:19: listen.header_timeout: unknown unit: \"10 "
	       "seconds\" (expected a duration from 1ms to 1h, e.g. 250ms, "
	       "30s, 5m, 1h)");
}

Test(config_errors, duration_missing_unit)
{
	expect(HEAD "listen:\n  header_timeout: 10\n",
	       "t.yaml:5:19: listen.header_timeout: missing unit: \"10\" "
	       "(expected a duration from 1ms to 1h, e.g. 250ms, 30s, 5m, "
	       "1h)");
}

Test(config_errors, duration_out_of_range)
{
	expect(HEAD "listen:\n  header_timeout: 2h\n",
	       "t.yaml:5:19: listen.header_timeout: out of range: \"2h\" "
	       "(expected a duration from 1ms to 1h, e.g. 250ms, 30s, 5m, "
	       "1h)");
}

Test(config_errors, duration_negative)
{
	expect(HEAD "listen:\n  header_timeout: -1s\n",
	       "t.yaml:5:19: listen.header_timeout: not a duration: \"-1s\" "
	       "(expected a duration from 1ms to 1h, e.g. 250ms, 30s, 5m, "
	       "1h)");
}

Test(config_errors, size_bad_unit)
{
	expect(HEAD "mirror:\n  max_body: 8 megabytes\n",
	       "t.yaml:5:13: mirror.max_body: unknown unit: \"8 megabytes\" "
	       "(expected a size from 0B to 1GiB, e.g. 64KiB, 8MiB)");
}

Test(config_errors, size_out_of_range)
{
	expect(HEAD "mirror:\n  max_body: 2GiB\n",
	       "t.yaml:5:13: mirror.max_body: out of range: \"2GiB\" (expected "
	       "a size from 0B to 1GiB, e.g. 64KiB, 8MiB)");
}

Test(config_errors, ratio_out_of_range)
{
	expect(HEAD "shadow:\n  ratio: 1.5\n",
	       "t.yaml:5:10: shadow.ratio: out of range: \"1.5\" (expected a "
	       "ratio from 0 to 1, or a percentage)");
}

Test(config_errors, percent_ratio_out_of_range)
{
	expect(HEAD "shadow:\n  ratio: 150%\n",
	       "t.yaml:5:10: shadow.ratio: out of range: \"150%\" (expected a "
	       "ratio from 0 to 1, or a percentage)");
}

Test(config_errors, enum_suggests)
{
	expect(HEAD "mirror:\n  sample:\n    by: hedaer\n    key: X-User\n",
	       "t.yaml:6:9: mirror.sample.by: unknown value \"hedaer\" (did "
	       "you mean \"header\"?)");
}

Test(config_errors, enum_lists_values)
{
	expect(HEAD "mirror:\n  sample:\n    by: xyzzy\n",
	       "t.yaml:6:9: mirror.sample.by: unknown value: \"xyzzy\" "
	       "(expected one of: random, header, cookie, query)");
}

Test(config_errors, address_missing_port)
{
	expect(HEAD "listen:\n  address: localhost\n",
	       "t.yaml:5:12: listen.address: missing port: \"localhost\" "
	       "(expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080)");
}

Test(config_errors, address_port_too_big)
{
	expect(HEAD "listen:\n  address: 127.0.0.1:70000\n",
	       "t.yaml:5:12: listen.address: bad port (1..65535): "
	       "\"127.0.0.1:70000\" (expected host:port, e.g. 127.0.0.1:8080 "
	       "or [::1]:8080)");
}

Test(config_errors, address_ipv6_without_brackets)
{
	expect(HEAD "listen:\n  address: \"::1:8080\"\n",
	       "t.yaml:5:12: listen.address: IPv6 address without brackets: "
	       "\"::1:8080\" (expected host:port, e.g. 127.0.0.1:8080 or "
	       "[::1]:8080)");
}

Test(config_errors, upstream_bad_in_list)
{
	expect("service: api\nproduction:\n  upstreams: [127.0.0.1:1, "
	       "nohost]\n",
	       "t.yaml:3:28: production.upstreams: missing port: \"nohost\" "
	       "(expected a list of host:port addresses)");
}

Test(config_errors, duplicate_section)
{
	expect(HEAD "production:\n  stop_signal: TERMINATE\n",
	       "t.yaml:4:1: production: duplicate key (first at line 2)");
}

Test(config_errors, signal_unknown_in_section)
{
	expect("service: api\nproduction:\n  upstreams: [127.0.0.1:9]\n  "
	       "stop_signal: TERMINATE\n",
	       "t.yaml:4:16: production.stop_signal: unknown signal: "
	       "\"TERMINATE\" (expected a signal name such as TERM, INT, HUP, "
	       "QUIT, USR1)");
}

Test(config_errors, header_without_colon)
{
	expect(HEAD "mirror:\n  mark_header: no colon here\n",
	       "t.yaml:5:16: mirror.mark_header: not a header: \"no colon "
	       "here\" (expected \"Name: value\")");
}

Test(config_errors, url_wrong_scheme)
{
	expect(HEAD "mitigation:\n  alert:\n    webhook: ftp://example\n",
	       "t.yaml:6:14: mitigation.alert.webhook: not an http(s) URL: "
	       "\"ftp://example\" (expected an http:// or https:// URL)");
}

Test(config_errors, method_not_token)
{
	expect(HEAD "mirror:\n  methods: [GET, \"GE T\"]\n",
	       "t.yaml:5:18: mirror.methods: not an HTTP method: \"GE T\" "
	       "(expected a list of HTTP methods such as GET, HEAD)");
}

Test(config_errors, list_given_mapping)
{
	expect(HEAD "mirror:\n  methods: {a: 1}\n",
	       "t.yaml:5:12: mirror.methods: found a mapping (expected a list "
	       "of HTTP methods such as GET, HEAD)");
}

Test(config_errors, detector_unknown)
{
	expect(HEAD "mask:\n  disable: [emial]\n",
	       "t.yaml:5:13: mask.disable: unknown value \"emial\" (did you "
	       "mean \"email\"?)");
}

Test(config_errors, argv_unknown_placeholder)
{
	expect("service: api\nproduction:\n  command: [./app, --port, "
	       "\"{prot}\"]\n",
	       "t.yaml:3:28: production.command: unknown placeholder "
	       "\"{prot}\" (expected {port} {config_dir} {data_dir} {replica} "
	       "{side} {service})");
}

Test(config_errors, argv_unterminated_quote)
{
	expect("service: api\nproduction:\n  command: ./app 'oops\n",
	       "t.yaml:3:12: production.command: unterminated quote: \"./app "
	       "'oops\" (expected a command: a list of arguments)");
}

Test(config_errors, env_bad_name)
{
	expect(HEAD "shadow:\n  env:\n    1BAD: x\n",
	       "t.yaml:6:5: shadow.env: bad environment variable name: "
	       "\"1BAD\" (expected letters, digits and _)");
}

Test(config_errors, regex_bad)
{
	expect(HEAD "mask:\n  rules:\n    - where: pattern\n      pattern: "
		    "\"(abc\"\n",
	       "t.yaml:7:16: mask.rules[0].pattern: bad pattern at offset 4: "
	       "missing closing parenthesis (expected a PCRE2 pattern)");
}

Test(config_errors, cron_bad_minute)
{
	expect(HEAD "events:\n  scheduled:\n    - name: backup\n      cron: "
		    "\"61 * * * *\"\n",
	       "t.yaml:7:13: events.scheduled[0].cron: bad minute field "
	       "(0-59): \"61 * * * *\" (expected five cron fields, minute hour "
	       "day-of-month month day-of-week, e.g. \"0 2 * * *\")");
}

Test(config_errors, cron_too_few_fields)
{
	expect(HEAD "events:\n  scheduled:\n    - name: backup\n      cron: "
		    "\"0 2 *\"\n",
	       "t.yaml:7:13: events.scheduled[0].cron: too few fields: \"0 2 "
	       "*\" (expected five cron fields, minute hour day-of-month month "
	       "day-of-week, e.g. \"0 2 * * *\")");
}

Test(config_errors, list_item_not_mapping)
{
	expect(HEAD "events:\n  scheduled: [nightly]\n",
	       "t.yaml:5:15: events.scheduled[0]: item is not a mapping "
	       "(expected a list of mappings)");
}

Test(config_errors, list_item_missing_required)
{
	expect(HEAD "events:\n  scheduled:\n    - cron: \"0 2 * * *\"\n",
	       "t.yaml:6:7: events.scheduled[0].name: required field missing "
	       "(expected a non-empty string)");
}

Test(config_errors, service_bad_name)
{
	expect("service: my service\n" PROD,
	       "t.yaml:1:10: service: bad name \"my service\" (expected 1 to "
	       "64 letters, digits, '_', '.' or '-', starting with a letter or "
	       "digit)");
}

/* ---------------------------------------------------------- validation */
Test(config_errors, production_nothing)
{
	expect("service: api\n",
	       "t.yaml:1:1: production: nothing to run or reach (expected "
	       "production.command, production.upstreams or "
	       "production.attach)");
}

Test(config_errors, production_both)
{
	expect("service: api\nproduction:\n  upstreams: [127.0.0.1:9]\n  "
	       "command: [./app]\n",
	       "t.yaml:3:14: production.upstreams: set either "
	       "production.upstreams (umbra reaches it) or production.command "
	       "(umbra runs it), not both");
}

Test(config_errors, verdict_marginal_above_pass)
{
	expect(HEAD "analysis:\n  verdict:\n    marginal: 90\n",
	       "t.yaml:6:15: analysis.verdict.marginal: 90 is above "
	       "analysis.verdict.pass 80");
}

Test(config_errors, sample_key_missing)
{
	expect(HEAD "mirror:\n  sample:\n    by: cookie\n",
	       "t.yaml:5:3: mirror.sample.key: required when mirror.sample.by "
	       "is not random (expected the header, cookie or parameter name)");
}

Test(config_errors, api_not_loopback)
{
	expect(HEAD "api:\n  listen: 0.0.0.0:9900\n",
	       "t.yaml:5:11: api.listen: not a loopback address; the admin API "
	       "stays on loopback unless api.allow_remote is true");
}

Test(config_errors, scale_min_above_max)
{
	expect(HEAD "mitigation:\n  scale:\n    min: 9\n    max: 4\n",
	       "t.yaml:6:10: mitigation.scale.min: 9 is above scale.max 4");
}

Test(config_errors, secret_file_world_readable)
{
	char path[] = "/tmp/umbra-key-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	chmod(path, 0644);
	char text[512], want[512];
	snprintf(text, sizeof(text), HEAD "mask:\n  key_file: %s\n", path);
	snprintf(want, sizeof(want),
		 "t.yaml:5:13: mask.key_file: \"%s\" is accessible by group "
		 "or others (mode 0644); a secret must be private: chmod 600 it",
		 path);
	expect(text, want);
	chmod(path, 0600);
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	cr_assert_eq(config_load_string("t.yaml", text, strlen(text), "/",
					&cfg, &errs),
		     0);
	config_free(cfg);
	unlink(path);
}

/* ---------------------------------------------------------- collection */
Test(config_errors, all_errors_reported)
{
	size_t n;
	char *got = first_error_n(HEAD "listen:\n  workers: -1\n  backlog: "
				       "0\nmirror:\n  enabled: 7\n",
				  strlen(HEAD) + 50, &n);
	free(got);
	cr_assert_eq(n, 3, "expected 3 errors, got %zu", n);
}

Test(config_errors, errors_beyond_the_limit_are_counted)
{
	buf_t b = BUF_INIT;
	buf_puts(&b, HEAD);
	for (int i = 0; i < 30; i++)
		buf_printf(&b, "bogus%d: 1\n", i);
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	cr_assert_eq(config_load_string("t.yaml", b.data, b.len, "/", &cfg,
					&errs),
		     ERR_CONFIG);
	cr_assert_eq(errs.n, CONFIG_MAX_ERRORS);
	cr_assert_eq(errs.dropped, 30 - CONFIG_MAX_ERRORS);
	buf_t out = BUF_INIT;
	config_errors_format(&errs, &out);
	cr_assert(strstr(out.data, "... and 10 more errors\n") != NULL);
	buf_free(&out);
	buf_free(&b);
	config_errors_free(&errs);
}

/* ------------------------------------------------------------ issue 19 */

/* A FIFO named as the config is refused at once, checked on the open
 * descriptor (opened non-blocking: no writer is waited for). The
 * timeout only turns a hang into a failure. */
Test(config_errors, fifo_is_refused_without_blocking, .timeout = 10)
{
	char dir[] = "/tmp/umbra-cfgfifo-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/umbra.yaml", dir);
	cr_assert_eq(mkfifo(path, 0644), 0);
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	cr_assert_eq(config_load_file(path, &cfg, &errs), ERR_CONFIG);
	cr_assert_null(cfg);
	buf_t b = BUF_INIT;
	config_errors_format(&errs, &b);
	cr_assert(strstr(b.data, path) && strstr(b.data, "not a regular file"),
		  "%s", b.data);
	buf_free(&b);
	config_errors_free(&errs);
	unlink(path);
	rmdir(dir);
}

/* 70,000 keys in a file under 1 MiB: every one reported or counted,
 * duplicates found by a hash set, not by comparing each key with every
 * earlier one (which took a minute). Linear time is what is tested: the
 * quadratic loader needs over 15 s here, the linear one a fifth of a
 * second, so the timeout below (a hang guard, not a benchmark) fails
 * only the former. */
#define MANY_KEYS 70000
Test(config_errors, seventy_thousand_keys_are_linear, .timeout = 5)
{
	buf_t t = BUF_INIT;
	buf_puts(&t, "service: x\n");
	for (int i = 0; i < MANY_KEYS; i++)
		buf_printf(&t, "k%d: 1\n", i);
	cr_assert_lt(t.len, 1 << 20);
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	cr_assert_eq(config_load_string("t.yaml", t.data, t.len, "/", &cfg,
					&errs),
		     ERR_CONFIG);
	cr_assert_eq(errs.n + errs.dropped, MANY_KEYS, "%zu + %zu", errs.n,
		     errs.dropped);
	config_errors_free(&errs);

	/* the same key 70,000 times: one first, the rest duplicates */
	buf_reset(&t);
	buf_puts(&t, "service: x\n");
	for (int i = 0; i < MANY_KEYS; i++)
		buf_puts(&t, "service: y\n");
	memset(&errs, 0, sizeof(errs));
	cr_assert_eq(config_load_string("t.yaml", t.data, t.len, "/", &cfg,
					&errs),
		     ERR_CONFIG);
	cr_assert_eq(errs.n + errs.dropped, MANY_KEYS);
	cr_assert(strstr(errs.v[0].msg, "duplicate key (first at line 1)"),
		  "%s", errs.v[0].msg);
	config_errors_free(&errs);
	buf_free(&t);
}

Test(config_errors, users_groups_and_capabilities)
{
	expect("service: api\nproduction:\n  upstreams: [127.0.0.1:1]\n"
	       "  capabilities: [CAP_NET_BIND_SERVICE, CAP_FLY]\n",
	       "t.yaml:4:17: production.capabilities: unknown capability "
	       "\"CAP_FLY\" (expected a name such as CAP_NET_BIND_SERVICE)");
	expect("service: api\nproduction:\n  upstreams: [127.0.0.1:1]\n"
	       "shadow:\n  group: nogroup\n",
	       "t.yaml:5:10: shadow.group: set shadow.user too");
	expect("service: api\nproduction:\n  upstreams: [127.0.0.1:1]\n"
	       "mitigation:\n  propose:\n    roots: [relative/dir]\n",
	       "t.yaml:6:12: mitigation.propose.roots: \"relative/dir\" is not "
	       "an absolute path");
}

/* ------------------------------------------- placeholders in config files */
Test(config_errors, config_file_unknown_placeholder)
{
	char dir[] = "/tmp/umbra-cfgph-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/nginx.conf", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("events {}\nhttp {\n  server { listen 127.0.0.1:{port};\n"
	      "    root {web_root}; set $a ${b}; proxy_pass http://{up}; }\n}\n",
	      f);
	fclose(f);
	char *yaml = NULL;
	cr_assert_gt(asprintf(&yaml,
			      "service: api\nproduction:\n  command: [nginx]\n"
			      "  config_dir: %s\n  vars:\n    up: 10.0.0.1:80\n",
			      dir),
		     0);
	size_t n = 0;
	char *got = first_error_n(yaml, strlen(yaml), &n);
	char *want = NULL;
	cr_assert_gt(asprintf(&want,
			      "%s:4:10: production.config_dir: unknown "
			      "placeholder {web_root} (built in: {port} "
			      "{replica} {data_dir} {config_dir} {side} "
			      "{service}; define others in production.vars)",
			      path),
		     0);
	cr_assert_str_eq(got, want);
	cr_assert_eq(n, 1); /* {up} is the spec's, ${b} nginx's */
	free(got);
	free(want);
	free(yaml);
	unlink(path);
	rmdir(dir);
}

Test(config_errors, vars_bad_name)
{
	expect(HEAD "  vars:\n    port: 1\n",
	       "t.yaml:5:5: production.vars: bad placeholder name \"port\" "
	       "(expected lowercase letters, digits and '_', starting with a "
	       "letter, and not a built-in name)");
}
