/*
 * test_request.c: the request parser. One test per malformed input, each
 * asserting its own reason and status (Redis tests/unit/protocol.tcl),
 * then the valid forms and the incremental behaviour.
 */
#include "base/err.h"
#include "http/http.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static http_header_t hdrs[128];

static int parse(const char *s, http_request_t *r, http_err_t *e)
{
	http_limits_t lim = HTTP_LIMITS_DEFAULT;
	memset(r, 0, sizeof(*r));
	r->headers = hdrs;
	r->cap = 128;
	size_t scanned = 0;
	return http_parse_request(s, strlen(s), &scanned, &lim, r, e);
}

static void bad(const char *s, http_err_t want, int status)
{
	http_request_t r;
	http_err_t e = HTTP_E_NONE;
	int rc = parse(s, &r, &e);
	cr_assert_eq(rc, ERR_PARSE, "rc %d for %s", rc, s);
	cr_assert_eq(e, want, "got %s, want %s", http_err_name(e),
		     http_err_name(want));
	cr_assert_eq(http_err_status(e), status);
}

#define H "Host: a\r\n"

/* ------------------------------------------------------------ smuggling */
Test(request_bad, cl_and_te)
{
	bad("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n",
	    HTTP_E_CL_AND_TE, 400);
}
Test(request_bad, te_then_cl)
{
	bad("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n",
	    HTTP_E_CL_AND_TE, 400);
}
Test(request_bad, differing_cl_fields)
{
	bad("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: "
	    "6\r\n\r\n",
	    HTTP_E_MULTIPLE_CL, 400);
}
Test(request_bad, differing_cl_list)
{
	bad("POST / HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n",
	    HTTP_E_MULTIPLE_CL, 400);
}
Test(request_bad, cl_not_a_number)
{
	bad("POST / HTTP/1.1\r\n" H "Content-Length: 5x\r\n\r\n",
	    HTTP_E_BAD_CL, 400);
}
Test(request_bad, cl_signed)
{
	bad("POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n",
	    HTTP_E_BAD_CL, 400);
}
Test(request_bad, cl_empty)
{
	bad("POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", HTTP_E_BAD_CL,
	    400);
}
Test(request_bad, cl_overflow)
{
	bad("POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999\r\n"
	    "\r\n",
	    HTTP_E_BAD_CL, 400);
}
Test(request_bad, te_not_chunked_last)
{
	bad("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n",
	    HTTP_E_BAD_TE, 400);
}
Test(request_bad, te_unknown_coding)
{
	bad("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n",
	    HTTP_E_TE_NOT_IMPLEMENTED, 501);
}
Test(request_bad, te_chunked_twice)
{
	bad("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	    HTTP_E_BAD_TE, 400);
}
Test(request_bad, te_with_params)
{
	bad("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;q=1\r\n\r\n",
	    HTTP_E_BAD_TE, 400);
}
Test(request_bad, te_empty)
{
	bad("POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n", HTTP_E_BAD_TE,
	    400);
}
Test(request_bad, te_in_http10)
{
	bad("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	    HTTP_E_TE_IN_HTTP10, 400);
}
Test(request_bad, obs_fold)
{
	bad("GET / HTTP/1.1\r\n" H "X-A: one\r\n two\r\n\r\n", HTTP_E_OBS_FOLD,
	    400);
}
Test(request_bad, obs_fold_tab)
{
	bad("GET / HTTP/1.1\r\n" H "X-A: one\r\n\ttwo\r\n\r\n", HTTP_E_OBS_FOLD,
	    400);
}
Test(request_bad, bare_cr_in_value)
{
	bad("GET / HTTP/1.1\r\n" H "X-A: o\rne\r\n\r\n", HTTP_E_BARE_CR, 400);
}
Test(request_bad, bare_cr_in_request_line)
{
	bad("GET /a\rb HTTP/1.1\r\n" H "\r\n", HTTP_E_BARE_CR, 400);
}
Test(request_bad, bare_cr_partial)
{
	/* visible before the head is complete */
	bad("GET / HTTP/1.1\r\nX-A: a\rb", HTTP_E_BARE_CR, 400);
}
Test(request_bad, space_before_colon)
{
	bad("GET / HTTP/1.1\r\n" H "Content-Length : 5\r\n\r\n",
	    HTTP_E_SPACE_BEFORE_COLON, 400);
}
Test(request_bad, header_without_colon)
{
	bad("GET / HTTP/1.1\r\n" H "NoColon\r\n\r\n", HTTP_E_BAD_HEADER_NAME,
	    400);
}
Test(request_bad, empty_header_name)
{
	bad("GET / HTTP/1.1\r\n" H ": v\r\n\r\n", HTTP_E_BAD_HEADER_NAME, 400);
}
Test(request_bad, bad_header_name_char)
{
	bad("GET / HTTP/1.1\r\n" H "X(A): v\r\n\r\n", HTTP_E_BAD_HEADER_NAME,
	    400);
}
Test(request_bad, nul_in_value)
{
	http_request_t r;
	http_err_t e;
	const char s[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
	http_limits_t lim = HTTP_LIMITS_DEFAULT;
	memset(&r, 0, sizeof(r));
	r.headers = hdrs;
	r.cap = 128;
	size_t sc = 0;
	cr_assert_eq(http_parse_request(s, sizeof(s) - 1, &sc, &lim, &r, &e),
		     ERR_PARSE);
	cr_assert_eq(e, HTTP_E_BAD_HEADER_VALUE);
}
Test(request_bad, ctl_in_value)
{
	bad("GET / HTTP/1.1\r\n" H "X: a\x01" "b\r\n\r\n",
	    HTTP_E_BAD_HEADER_VALUE, 400);
}
Test(request_bad, no_host_http11)
{
	bad("GET / HTTP/1.1\r\nX: y\r\n\r\n", HTTP_E_NO_HOST, 400);
}
Test(request_bad, two_hosts)
{
	bad("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HTTP_E_MULTIPLE_HOST,
	    400);
}
Test(request_bad, lowercase_version)
{
	bad("GET / http/1.1\r\n" H "\r\n", HTTP_E_BAD_VERSION, 400);
}
Test(request_bad, http2_version)
{
	bad("GET / HTTP/2.0\r\n" H "\r\n", HTTP_E_VERSION_NOT_SUPPORTED, 505);
}
Test(request_bad, missing_version)
{
	bad("GET /\r\n" H "\r\n", HTTP_E_BAD_REQUEST_LINE, 400);
}
Test(request_bad, double_space)
{
	bad("GET  / HTTP/1.1\r\n" H "\r\n", HTTP_E_BAD_TARGET, 400);
}
Test(request_bad, trailing_space)
{
	bad("GET / HTTP/1.1 \r\n" H "\r\n", HTTP_E_BAD_VERSION, 400);
}
Test(request_bad, bad_method_char)
{
	bad("G(ET / HTTP/1.1\r\n" H "\r\n", HTTP_E_BAD_METHOD, 400);
}
Test(request_bad, empty_method)
{
	bad(" / HTTP/1.1\r\n" H "\r\n", HTTP_E_BAD_METHOD, 400);
}
Test(request_bad, target_ctl)
{
	bad("GET /a\x01 HTTP/1.1\r\n" H "\r\n", HTTP_E_BAD_TARGET, 400);
}
Test(request_bad, target_relative)
{
	bad("GET a/b HTTP/1.1\r\n" H "\r\n", HTTP_E_BAD_TARGET, 400);
}
Test(request_bad, connect_origin_form)
{
	bad("CONNECT /x HTTP/1.1\r\n" H "\r\n", HTTP_E_BAD_TARGET, 400);
}
Test(request_bad, asterisk_not_options)
{
	bad("GET * HTTP/1.1\r\n" H "\r\n", HTTP_E_BAD_TARGET, 400);
}
Test(request_bad, too_many_leading_empty_lines)
{
	bad("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n",
	    HTTP_E_BAD_REQUEST_LINE, 400);
}

Test(request_bad, request_line_too_long)
{
	char s[10000];
	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', 9000);
	strcpy(s + 9005, " HTTP/1.1\r\nHost: a\r\n\r\n");
	bad(s, HTTP_E_LINE_TOO_LONG, 414);
	/* also refused while still incomplete */
	s[9005] = '\0';
	bad(s, HTTP_E_LINE_TOO_LONG, 414);
}

Test(request_bad, head_too_large)
{
	static char s[80000];
	strcpy(s, "GET / HTTP/1.1\r\nHost: a\r\n");
	size_t p = strlen(s);
	for (int i = 0; i < 80; i++) {
		memcpy(s + p, "X-Long: ", 8);
		memset(s + p + 8, 'v', 900);
		memcpy(s + p + 908, "\r\n", 2);
		p += 910;
	}
	s[p] = '\0';
	bad(s, HTTP_E_HEAD_TOO_LARGE, 431); /* incomplete and over */
	strcpy(s + p, "\r\n");
	bad(s, HTTP_E_HEAD_TOO_LARGE, 431);
}

Test(request_bad, too_many_headers)
{
	char s[8000];
	strcpy(s, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 120; i++)
		sprintf(s + strlen(s), "X-%d: v\r\n", i);
	strcat(s, "\r\n");
	bad(s, HTTP_E_TOO_MANY_HEADERS, 431);
}

/* ------------------------------------------------------------ valid */
Test(request_ok, simple_get)
{
	http_request_t r;
	http_err_t e;
	const char *s = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept:  */*  \r\n\r\n";
	int n = parse(s, &r, &e);
	cr_assert_eq(n, (int)strlen(s));
	cr_assert_eq(r.method_id, HTTP_M_GET);
	cr_assert_eq(r.target_len, 6);
	cr_assert(strncmp(r.target, "/a?b=1", 6) == 0);
	cr_assert_eq(r.version, 11);
	cr_assert_eq(r.nheaders, 2);
	cr_assert_eq(r.headers[1].value_len, 3, "OWS trimmed");
	cr_assert_eq(r.body, HTTP_BODY_NONE);
	cr_assert(r.keep_alive);
	cr_assert_not_null(r.host);
}

Test(request_ok, lf_only_and_leading_crlf)
{
	http_request_t r;
	http_err_t e;
	const char *s = "\r\nGET / HTTP/1.1\nHost: x\n\n";
	cr_assert_eq(parse(s, &r, &e), (int)strlen(s));
	cr_assert_eq(r.nheaders, 1);
}

Test(request_ok, framing)
{
	http_request_t r;
	http_err_t e;
	cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, "
			   "5\r\n\r\n",
			   &r, &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_LENGTH);
	cr_assert_eq(r.content_length, 5);
	cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
			   "Chunked\r\n\r\n",
			   &r, &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_CHUNKED);
	cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
			   "0\r\n\r\n",
			   &r, &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_NONE);
}

Test(request_ok, http10_and_connection)
{
	http_request_t r;
	http_err_t e;
	cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n", &r, &e), 0);
	cr_assert_eq(r.version, 10);
	cr_assert(!r.keep_alive);
	cr_assert_null(r.host);
	cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			   &r, &e),
		     0);
	cr_assert(r.keep_alive);
	cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, "
			   "close\r\n\r\n",
			   &r, &e),
		     0);
	cr_assert(!r.keep_alive);
}

Test(request_ok, expect_upgrade_connect_options)
{
	http_request_t r;
	http_err_t e;
	cr_assert_gt(parse("PUT /x HTTP/1.1\r\nHost: x\r\nExpect: "
			   "100-continue\r\nContent-Length: 3\r\n\r\n",
			   &r, &e),
		     0);
	cr_assert(r.expect_continue);
	cr_assert_gt(parse("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: "
			   "Upgrade\r\nUpgrade: websocket\r\n\r\n",
			   &r, &e),
		     0);
	cr_assert(r.upgrade);
	cr_assert_gt(parse("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", &r,
			   &e),
		     0);
	cr_assert_eq(r.method_id, HTTP_M_CONNECT);
	cr_assert_gt(parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", &r, &e), 0);
	cr_assert_gt(parse("GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n", &r,
			   &e),
		     0);
	cr_assert_gt(parse("PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n", &r, &e), 0);
	cr_assert_eq(r.method_id, HTTP_M_OTHER);
}

Test(request_ok, incremental_byte_by_byte)
{
	const char *s = "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"
			"hi";
	size_t head = strlen(s) - 2;
	http_limits_t lim = HTTP_LIMITS_DEFAULT;
	http_request_t r = {.headers = hdrs, .cap = 128};
	http_err_t e;
	size_t scanned = 0;
	for (size_t len = 0; len < head; len++) {
		int rc = http_parse_request(s, len, &scanned, &lim, &r, &e);
		cr_assert_eq(rc, ERR_AGAIN, "at %zu: %d", len, rc);
		cr_assert_leq(scanned, len);
	}
	cr_assert_eq(http_parse_request(s, head, &scanned, &lim, &r, &e),
		     (int)head);
	cr_assert_eq(http_parse_request(s, strlen(s), &scanned, &lim, &r, &e),
		     (int)head, "pipelined bytes after the head are not eaten");
}

Test(request_ok, header_helpers)
{
	cr_assert(http_value_has_token("a, Close ,b", 11, "close"));
	cr_assert(!http_value_has_token("closed", 6, "close"));
	http_request_t r;
	http_err_t e;
	parse("GET / HTTP/1.1\r\nhost: x\r\n\r\n", &r, &e);
	cr_assert_not_null(http_header_find(r.headers, r.nheaders, "HOST"));
}
