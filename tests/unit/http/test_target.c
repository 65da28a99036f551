/*
 * test_target.c: request targets and Host values (RFC 9112 3.2): the
 * forms accepted, each refusal with its own reason, the rewrite of an
 * absolute-form target to origin-form with Host from its authority; and
 * endpoint templates (the rule the proxy and the capture tools share),
 * including a cut to the buffer.
 */
#include "base/buf.h"
#include "base/err.h"
#include "http/http.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static http_header_t hdrs[64];

static int parse(const char *s, http_request_t *r, http_err_t *e)
{
	http_limits_t lim = HTTP_LIMITS_DEFAULT;
	memset(r, 0, sizeof(*r));
	r->headers = hdrs;
	r->cap = 64;
	size_t scanned = 0;
	*e = HTTP_E_NONE;
	return http_parse_request(s, strlen(s), &scanned, &lim, r, e);
}

static void bad(const char *s, http_err_t want)
{
	http_request_t r;
	http_err_t e;
	int rc = parse(s, &r, &e);
	cr_assert_eq(rc, ERR_PARSE, "rc %d for %s", rc, s);
	cr_assert_eq(e, want, "%s: got %s, want %s", s, http_err_name(e),
		     http_err_name(want));
	cr_assert_eq(http_err_status(e), 400);
}

/* The head the proxy writes for s (no forwarding fields). */
static void rewrites(const char *s, const char *want)
{
	http_request_t r;
	http_err_t e;
	cr_assert_gt(parse(s, &r, &e), 0, "%s: %s", s, http_err_name(e));
	buf_t b = BUF_INIT;
	http_fwd_t f = {.body = r.body, .content_length = r.content_length,
			.default_host = "replica"};
	http_write_request_head(&b, &r, &f);
	cr_assert_str_eq(b.data, want);
	buf_free(&b);
}

/* ------------------------------------------------------------ absolute */

Test(absolute, rewritten_to_origin_form)
{
	rewrites("GET http://example.com/path?q=1 HTTP/1.1\r\n"
		 "Host: other\r\nAccept: a\r\n\r\n",
		 "GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\n"
		 "Accept: a\r\n\r\n");
	rewrites("GET HTTPS://Example.com:8443 HTTP/1.1\r\nHost: x\r\n\r\n",
		 "GET / HTTP/1.1\r\nHost: Example.com:8443\r\n\r\n");
	rewrites("GET http://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
		 "GET /?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
	rewrites("GET http://[::1]:80/a HTTP/1.1\r\nHost: h\r\n\r\n",
		 "GET /a HTTP/1.1\r\nHost: [::1]:80\r\n\r\n");
	/* OPTIONS to an empty path is about the server (RFC 9112 3.2.4) */
	rewrites("OPTIONS http://h:8080 HTTP/1.1\r\nHost: h\r\n\r\n",
		 "OPTIONS * HTTP/1.1\r\nHost: h:8080\r\n\r\n");
	rewrites("OPTIONS http://h?x HTTP/1.1\r\nHost: h\r\n\r\n",
		 "OPTIONS /?x HTTP/1.1\r\nHost: h\r\n\r\n");
}

Test(absolute, http10_without_host_gets_the_authority)
{
	rewrites("GET http://a.example/x HTTP/1.0\r\n\r\n",
		 "GET /x HTTP/1.1\r\nHost: a.example\r\n\r\n");
	/* origin-form without Host: the replica's name, as before */
	rewrites("GET /x HTTP/1.0\r\n\r\n",
		 "GET /x HTTP/1.1\r\nHost: replica\r\n\r\n");
}

Test(absolute, split)
{
	http_request_t r;
	http_err_t e;
	cr_assert_gt(parse("POST http://h:81/a/b?c HTTP/1.1\r\nHost: h\r\n"
			   "Content-Length: 0\r\n\r\n",
			   &r, &e),
		     0);
	cr_assert_eq(r.target_form, HTTP_TARGET_ABSOLUTE);
	cr_assert_eq(r.authority_len, 4);
	cr_assert(memcmp(r.authority, "h:81", 4) == 0);
	cr_assert_eq(r.origin_len, 6);
	cr_assert(memcmp(r.origin, "/a/b?c", 6) == 0);
	cr_assert_gt(parse("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", &r, &e), 0);
	cr_assert_eq(r.target_form, HTTP_TARGET_ORIGIN);
	cr_assert_null(r.authority);
	cr_assert_gt(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &r, &e),
		     0);
	cr_assert_eq(r.target_form, HTTP_TARGET_ASTERISK);
	cr_assert_gt(parse("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
			   &r, &e),
		     0);
	cr_assert_eq(r.target_form, HTTP_TARGET_AUTHORITY);
}

/* ------------------------------------------------------------ refused */

Test(target_bad, fragment)
{
	bad("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_TARGET_FRAGMENT);
	bad("GET /a?b#c HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_TARGET_FRAGMENT);
	bad("GET http://h/a#f HTTP/1.1\r\nHost: h\r\n\r\n",
	    HTTP_E_TARGET_FRAGMENT);
	bad("GET http://h#f HTTP/1.1\r\nHost: h\r\n\r\n",
	    HTTP_E_TARGET_FRAGMENT);
}

Test(target_bad, userinfo)
{
	bad("GET http://user@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    HTTP_E_TARGET_USERINFO);
	bad("GET http://u:p@h:80/x HTTP/1.1\r\nHost: h\r\n\r\n",
	    HTTP_E_TARGET_USERINFO);
	bad("CONNECT u@h:443 HTTP/1.1\r\nHost: h\r\n\r\n",
	    HTTP_E_TARGET_USERINFO);
}

Test(target_bad, authority)
{
	bad("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_AUTHORITY);
	bad("GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_AUTHORITY);
	bad("GET http://:80/x HTTP/1.1\r\nHost: h\r\n\r\n",
	    HTTP_E_BAD_AUTHORITY);
	bad("GET http://h:99999/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    HTTP_E_BAD_AUTHORITY);
	bad("GET http://h\"x/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    HTTP_E_BAD_AUTHORITY);
	bad("GET http://[zz]/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    HTTP_E_BAD_AUTHORITY);
	bad("CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_AUTHORITY);
	bad("CONNECT h: HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_AUTHORITY);
	bad("CONNECT :443 HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_AUTHORITY);
}

Test(target_bad, form)
{
	bad("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_TARGET);
	bad("GET x/y HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_TARGET);
	bad("GET * HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_TARGET);
	bad("CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_TARGET);
}

/* ------------------------------------------------------------ Host */

Test(host, bad_values)
{
	const char *vals[] = {"a b",  "a/b",    "a?b",   "a@b",  "a\\b",
			      "h:x",  "h:80:1", "h:65536", "[::1", "[]",
			      "[::g]", "a%zz",  "a%4",   "\"h\"",  "h,]",
			      "[v1]"};
	for (size_t i = 0; i < sizeof(vals) / sizeof(*vals); i++) {
		char s[256];
		snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
			 vals[i]);
		bad(s, HTTP_E_BAD_HOST);
	}
}

Test(host, good_values)
{
	const char *vals[] = {"",
			      "example.com",
			      "example.com:8080",
			      "EXAMPLE.com:0",
			      "10.0.0.1:65535",
			      "[::1]",
			      "[2001:db8::7]:443",
			      "[::ffff:10.0.0.1]",
			      "[v1.x:y]",
			      "a%20b",
			      "a-b_c~d!$&'()*+,;=",
			      "h:"};
	for (size_t i = 0; i < sizeof(vals) / sizeof(*vals); i++) {
		char s[256];
		snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
			 vals[i]);
		http_request_t r;
		http_err_t e;
		cr_assert_gt(parse(s, &r, &e), 0, "%s: %s", vals[i],
			     http_err_name(e));
		cr_assert(http_host_valid(vals[i], strlen(vals[i]), false));
	}
	cr_assert_not(http_host_valid("h", 1, true));
	cr_assert(http_host_valid("h:1", 3, true));
}

/* ------------------------------------------------------------ templates */

Test(target, templates)
{
	char out[128];
	struct {
		const char *in, *want;
	} cases[] = {
		{"/users/42/orders?x=1", "/users/:id/orders"},
		{"/a/0123abcd/b", "/a/:id/b"},
		{"/a/deadbeef", "/a/deadbeef"}, /* hex without a digit: a word */
		{"/a/deadbeef9", "/a/:id"},
		{"/a/beef", "/a/beef"},
		{"/i/123e4567-e89b-12d3-a456-426614174000", "/i/:id"},
		{"http://h:80/x/7", "/x/:id"},
		{"*", "*"},
		{"?q", "/"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		http_target_template(cases[i].in, strlen(cases[i].in), out,
				     sizeof(out));
		cr_assert_str_eq(out, cases[i].want, "%s", cases[i].in);
	}
}

Test(target, cut_to_the_buffer)
{
	char out[8];
	size_t n = http_target_template("/users/42/orders", 16, out,
					sizeof(out));
	cr_assert_eq(n, 7);
	cr_assert_str_eq(out, "/users/");
	cr_assert_eq(http_target_template("/x", 2, out, 0), 0);
}
