/*
 * test_render.c: placeholder rendering, port rebasing of attached argv
 * words, restart backoff, and the allow-list address parser.
 */
#include "base/cidr.h"
#include "base/err.h"
#include "provision/provision.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const prov_vars_t V = {
    .service = "checkout",
    .side = "shadow",
    .config_dir = "/var/lib/umbra/config",
    .data_dir = "/var/lib/umbra/data",
    .port = 9100,
    .replica = 2,
};

static void expect(const char *in, const char *want)
{
	char *got = prov_render_str(in, &V);
	cr_assert_str_eq(got, want, "render(\"%s\")", in);
	free(got);
}

Test(render, every_placeholder)
{
	expect("{port}", "9100");
	expect("127.0.0.1:{port}", "127.0.0.1:9100");
	expect("{config_dir}/app.toml", "/var/lib/umbra/config/app.toml");
	expect("--data={data_dir}", "--data=/var/lib/umbra/data");
	expect("{service}-{side}-{replica}", "checkout-shadow-2");
	expect("", "");
}

Test(render, unknown_and_broken_braces_stay)
{
	expect("{nope}", "{nope}");
	expect("{Port}", "{Port}");
	expect("{port", "{port");
	expect("port}", "port}");
	expect("{}", "{}");
	expect("{{port}}", "{9100}");
	expect("json: {\"a\": 1}", "json: {\"a\": 1}");
	expect("{port}{port}", "91009100");
}

Test(render, length_bounded_input)
{
	buf_t b = BUF_INIT;
	const char *s = "{port}{port}";
	prov_render(s, 6, &V, &b); /* only the first placeholder */
	cr_assert_str_eq(b.data, "9100");
	buf_reset(&b);
	prov_render(s, 5, &V, &b); /* "{port" without its brace */
	cr_assert_str_eq(b.data, "{port");
	buf_free(&b);
}

static void rebase(const char *in, const char *want)
{
	char *got = prov_port_rebase(in, 9000, "{port}");
	cr_assert_str_eq(got, want, "rebase(\"%s\")", in);
	free(got);
}

Test(render, port_rebase_whole_tokens_only)
{
	rebase("9000", "{port}");
	rebase("127.0.0.1:9000", "127.0.0.1:{port}");
	rebase("--port=9000", "--port={port}");
	rebase("http://h:9000/x", "http://h:{port}/x");
	rebase("19000", "19000");
	rebase("90001", "90001");
	rebase("9000.5", "9000.5");
	rebase("a9000", "a9000");
	rebase("9000,9000", "{port},{port}");
	rebase("", "");
}

Test(backoff, doubles_and_caps)
{
	int64_t s = 1000000000;
	cr_assert_eq(prov_backoff(s, 30 * s, 1), s);
	cr_assert_eq(prov_backoff(s, 30 * s, 2), 2 * s);
	cr_assert_eq(prov_backoff(s, 30 * s, 3), 4 * s);
	cr_assert_eq(prov_backoff(s, 30 * s, 5), 16 * s);
	cr_assert_eq(prov_backoff(s, 30 * s, 6), 30 * s);
	cr_assert_eq(prov_backoff(s, 30 * s, 1000), 30 * s);
	cr_assert_eq(prov_backoff(s, 30 * s, 0), s);
	cr_assert_eq(prov_backoff(0, 30 * s, 4), 0);
	cr_assert_eq(prov_backoff(5 * s, s, 1), s); /* base above the cap */
	cr_assert_eq(prov_backoff(INT64_MAX / 2, INT64_MAX, 70), INT64_MAX);
}

Test(cidr, accepted_forms)
{
	cidr_t c;
	const char *why;
	char t[CIDR_TEXT_MAX];
	cr_assert_eq(cidr_parse("10.0.5.20", &c, &why), 0);
	cr_assert_eq(c.family, AF_INET);
	cr_assert_eq(c.prefix, 32);
	cr_assert_eq(c.port, 0);
	cr_assert_eq(cidr_parse("10.0.5.20:5432", &c, &why), 0);
	cr_assert_eq(c.port, 5432);
	cr_assert_str_eq(cidr_format(&c, t), "10.0.5.20");
	cr_assert_eq(cidr_parse("10.1.2.3/8", &c, &why), 0);
	cr_assert_str_eq(cidr_format(&c, t), "10.0.0.0/8");
	cr_assert_eq(cidr_parse("2001:db8::1", &c, &why), 0);
	cr_assert_eq(c.family, AF_INET6);
	cr_assert_eq(cidr_parse("[2001:db8::1]:443", &c, &why), 0);
	cr_assert_eq(c.port, 443);
	cr_assert_eq(cidr_parse("2001:db8:ffff::/32", &c, &why), 0);
	cr_assert_str_eq(cidr_format(&c, t), "2001:db8::/32");
	cr_assert_eq(cidr_parse("0.0.0.0/0", &c, &why), 0);
}

static void bad(const char *s, const char *reason)
{
	cidr_t c;
	const char *why = NULL;
	cr_assert_neq(cidr_parse(s, &c, &why), 0, "\"%s\" accepted", s);
	cr_assert_str_eq(why, reason, "\"%s\"", s);
}

Test(cidr, rejections_each_with_a_reason)
{
	bad("", "empty");
	bad("db.internal:5432", "not an IP address (names are not resolved)");
	bad("10.0.0.1:0", "bad port (expected 1..65535)");
	bad("10.0.0.1:65536", "bad port (expected 1..65535)");
	bad("10.0.0.1:x", "bad port (expected 1..65535)");
	bad("10.0.0.0/33", "bad prefix length");
	bad("10.0.0.0/", "bad prefix length");
	bad("[::1]", "brackets are for an address with a port");
	bad("[::1", "missing ']'");
	bad("[::1]x", "expected ':port' after ']'");
	bad("256.0.0.1", "not an IP address (names are not resolved)");
	bad("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aa",
	    "too long");
}

/* ------------------------------------------------ spec's own placeholders */

static config_kv_t KV[] = {{"upstream", "10.0.0.7:8080"}, {"tier2", "gold"}};

Test(render, spec_defined_placeholders)
{
	config_map_t m = {.v = KV, .n = 2};
	prov_vars_t v = V;
	v.extra = &m;
	char *got = prov_render_str("proxy_pass http://{upstream}; {tier2} "
				    "{port} {nope}",
				    &v);
	cr_assert_str_eq(got, "proxy_pass http://10.0.0.7:8080; gold 9100 "
			      "{nope}");
	free(got);
}

typedef struct {
	char names[4][32];
	int line[4], col[4], n;
} hits_t;

static void hit(const char *name, size_t nlen, int line, int col, void *arg)
{
	hits_t *h = arg;
	if (h->n < 4) {
		snprintf(h->names[h->n], sizeof(h->names[0]), "%.*s",
			 (int)nlen, name);
		h->line[h->n] = line;
		h->col[h->n] = col;
	}
	h->n++;
}

Test(render, unknown_placeholders_with_line_and_column)
{
	config_map_t m = {.v = KV, .n = 2};
	const char *text = "server {\n  listen 127.0.0.1:{port};\n"
			   "  root {webroot};  # ${shell} stays\n"
			   "  set $x \"{upstream}{bad_name2}\";\n}\n";
	hits_t h = {0};
	size_t n = prov_placeholders_unknown(text, strlen(text), &m, hit, &h);
	cr_assert_eq(n, 2);
	cr_assert_eq(h.n, 2);
	cr_assert_str_eq(h.names[0], "webroot");
	cr_assert_eq(h.line[0], 3);
	cr_assert_eq(h.col[0], 8);
	cr_assert_str_eq(h.names[1], "bad_name2");
	cr_assert_eq(h.line[1], 4);
	cr_assert_eq(h.col[1], 21);
	/* nginx blocks and JSON are not placeholders */
	const char *plain = "location / { return 200; }\n{\"a\": 1}\n";
	cr_assert_eq(prov_placeholders_unknown(plain, strlen(plain), NULL,
					       NULL, NULL),
		     0);
	cr_assert_not(prov_uses_placeholders(plain, strlen(plain), NULL));
	cr_assert(prov_uses_placeholders(text, strlen(text), NULL));
	cr_assert(prov_uses_placeholders("x {tier2}", 9, &m));
	cr_assert_not(prov_uses_placeholders("x {tier2}", 9, NULL));
}

Test(render, var_names)
{
	cr_assert(prov_var_name_ok("upstream"));
	cr_assert(prov_var_name_ok("web_root2"));
	cr_assert_not(prov_var_name_ok("port"));
	cr_assert_not(prov_var_name_ok("config_dir"));
	cr_assert_not(prov_var_name_ok("Upper"));
	cr_assert_not(prov_var_name_ok("2x"));
	cr_assert_not(prov_var_name_ok(""));
	cr_assert_not(prov_var_name_ok("a-b"));
}
