/*
 * test_response.c: the response parser, chunked decoding and the head
 * writers.
 */
#include "base/buf.h"
#include "base/err.h"
#include "http/http.h"

#include <criterion/criterion.h>
#include <string.h>

static http_header_t hdrs[64];

static int parse(const char *s, http_method_t m, http_response_t *r,
		 http_err_t *e)
{
	http_limits_t lim = HTTP_LIMITS_DEFAULT;
	memset(r, 0, sizeof(*r));
	r->headers = hdrs;
	r->cap = 64;
	size_t sc = 0;
	return http_parse_response(s, strlen(s), &sc, &lim, m, r, e);
}

Test(response, framing_by_status_and_method)
{
	http_response_t r;
	http_err_t e;
	cr_assert_gt(parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
			   HTTP_M_GET, &r, &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_LENGTH);
	cr_assert_eq(r.content_length, 3);
	cr_assert(r.keep_alive);
	cr_assert_gt(parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
			   HTTP_M_HEAD, &r, &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_NONE);
	cr_assert_gt(parse("HTTP/1.1 204 No Content\r\n\r\n", HTTP_M_GET, &r,
			   &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_NONE);
	cr_assert_gt(parse("HTTP/1.1 304 Not Modified\r\n\r\n", HTTP_M_GET, &r,
			   &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_NONE);
	cr_assert_gt(parse("HTTP/1.1 100 Continue\r\n\r\n", HTTP_M_PUT, &r,
			   &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_NONE);
	cr_assert_gt(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
			   "ws\r\n\r\n",
			   HTTP_M_GET, &r, &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_TUNNEL);
	cr_assert_gt(parse("HTTP/1.1 200 OK\r\n\r\n", HTTP_M_CONNECT, &r, &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_TUNNEL);
	cr_assert_gt(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, "
			   "chunked\r\nContent-Length: 9\r\n\r\n",
			   HTTP_M_GET, &r, &e),
		     0);
	cr_assert_eq(r.body, HTTP_BODY_CHUNKED);
	cr_assert_gt(parse("HTTP/1.1 200 OK\r\n\r\n", HTTP_M_GET, &r, &e), 0);
	cr_assert_eq(r.body, HTTP_BODY_UNTIL_CLOSE);
	cr_assert(!r.keep_alive);
	cr_assert_gt(parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
			   HTTP_M_GET, &r, &e),
		     0);
	cr_assert(!r.keep_alive);
	cr_assert_gt(parse("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n",
			   HTTP_M_GET, &r, &e),
		     0, "reason phrase may be missing");
	cr_assert_eq(r.status, 200);
}

Test(response, malformed)
{
	http_response_t r;
	http_err_t e;
	cr_assert_eq(parse("HTTP/1.1 2000 OK\r\n\r\n", HTTP_M_GET, &r, &e),
		     ERR_PARSE);
	cr_assert_eq(e, HTTP_E_BAD_STATUS);
	cr_assert_eq(parse("HTTP/1.1 099 X\r\n\r\n", HTTP_M_GET, &r, &e),
		     ERR_PARSE);
	cr_assert_eq(e, HTTP_E_BAD_STATUS);
	cr_assert_eq(parse("HTTX/1.1 200 OK\r\n\r\n", HTTP_M_GET, &r, &e),
		     ERR_PARSE);
	cr_assert_eq(e, HTTP_E_BAD_STATUS_LINE);
	cr_assert_eq(parse("garbage\r\n\r\n", HTTP_M_GET, &r, &e), ERR_PARSE);
	cr_assert_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
			   "Content-Length: 2\r\n\r\n",
			   HTTP_M_GET, &r, &e),
		     ERR_PARSE);
	cr_assert_eq(e, HTTP_E_MULTIPLE_CL);
	cr_assert_eq(parse("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", HTTP_M_GET, &r,
			   &e),
		     ERR_PARSE);
	cr_assert_eq(e, HTTP_E_BARE_CR);
	cr_assert_eq(parse("HTTP/1.1 200 OK\r\nX: y", HTTP_M_GET, &r, &e),
		     ERR_AGAIN);
}

/* Decodes s in pieces of `step` bytes; returns the data or NULL on error
 * (*err set). */
static char *dechunk(const char *s, size_t step, http_err_t *err,
		     size_t *consumed)
{
	static char out[4096];
	size_t o = 0, i = 0, len = strlen(s);
	http_chunked_t c;
	http_chunked_init(&c, 1024);
	while (i < len && !c.done) {
		size_t avail = len - i < step ? len - i : step;
		size_t off = 0;
		while (off < avail && !c.done) {
			const char *d;
			size_t dl;
			ssize_t n = http_chunked_step(&c, s + i + off,
						      avail - off, &d, &dl, err);
			if (n < 0)
				return NULL;
			if (dl)
				memcpy(out + o, d, dl);
			o += dl;
			off += (size_t)n;
			if (n == 0)
				break;
		}
		i += off;
	}
	out[o] = '\0';
	*consumed = i;
	return c.done ? out : NULL;
}

Test(chunked, decodes_in_any_split)
{
	const char *s = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
			"NEXT";
	for (size_t step = 1; step < 60; step++) {
		http_err_t e = HTTP_E_NONE;
		size_t used;
		char *d = dechunk(s, step, &e, &used);
		cr_assert_not_null(d, "step %zu: %s", step, http_err_name(e));
		cr_assert_str_eq(d, "hello world");
		cr_assert_eq(used, strlen(s) - 4, "stops before the next message");
	}
}

static void chunk_bad(const char *s, http_err_t want)
{
	http_err_t e = HTTP_E_NONE;
	size_t used;
	cr_assert_null(dechunk(s, 1000, &e, &used), "%s", s);
	cr_assert_eq(e, want, "%s: got %s", s, http_err_name(e));
}

Test(chunked, bad_size) { chunk_bad("zz\r\n", HTTP_E_BAD_CHUNK_SIZE); }
Test(chunked, empty_size) { chunk_bad("\r\n", HTTP_E_BAD_CHUNK_SIZE); }
Test(chunked, negative_size) { chunk_bad("-1\r\n", HTTP_E_BAD_CHUNK_SIZE); }
Test(chunked, size_overflow)
{
	chunk_bad("10000000000000000\r\n", HTTP_E_CHUNK_TOO_LARGE);
}
Test(chunked, size_then_junk) { chunk_bad("5 x\r\n", HTTP_E_BAD_CHUNK_SIZE); }
Test(chunked, bare_cr_after_size)
{
	chunk_bad("5\rhello\r\n0\r\n\r\n", HTTP_E_BARE_CR);
}
Test(chunked, data_too_long) { chunk_bad("2\r\nhello\r\n", HTTP_E_BAD_CHUNK_END); }
Test(chunked, ext_control_char)
{
	chunk_bad("1;a=\x01\r\nx\r\n0\r\n\r\n", HTTP_E_BAD_CHUNK_EXT);
}
Test(chunked, trailer_fold) { chunk_bad("0\r\n folded\r\n\r\n", HTTP_E_BAD_TRAILER); }
Test(chunked, trailer_without_colon)
{
	chunk_bad("0\r\nnocolon\r\n\r\n", HTTP_E_BAD_TRAILER);
}
Test(chunked, trailer_too_large)
{
	char s[3000] = "0\r\nX: ";
	memset(s + 6, 'a', 2000);
	strcpy(s + 2006, "\r\n\r\n");
	chunk_bad(s, HTTP_E_TRAILER_TOO_LARGE);
}

Test(write, request_head_drops_hop_by_hop_and_adds_forwarding)
{
	http_header_t h[32];
	http_request_t r = {.headers = h, .cap = 32};
	http_limits_t lim = HTTP_LIMITS_DEFAULT;
	http_err_t e;
	size_t sc = 0;
	const char *s = "POST /p HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, "
			"X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nTransfer-"
			"Encoding: chunked\r\nX-Forwarded-For: 9.9.9.9\r\n"
			"Accept: a\r\n\r\n";
	cr_assert_gt(http_parse_request(s, strlen(s), &sc, &lim, &r, &e), 0);
	buf_t b = BUF_INIT;
	http_fwd_t f = {.client_ip = "1.2.3.4", .xff = true, .forwarded = true,
			.body = HTTP_BODY_CHUNKED,
			.extra = "X-Umbra-Shadow: 1\r\n"};
	http_write_request_head(&b, &r, &f);
	cr_assert_str_eq(b.data,
			 "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
			 "chunked\r\nX-Forwarded-For: 9.9.9.9, 1.2.3.4\r\n"
			 "Accept: a\r\nForwarded: for=1.2.3.4\r\n"
			 "X-Umbra-Shadow: 1\r\n\r\n");
	buf_free(&b);
}

Test(write, response_head_keeps_order_and_framing)
{
	http_response_t r;
	http_err_t e;
	parse("HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Length: 3\r\n"
	      "Connection: keep-alive\r\nX-B: 2\r\n\r\n",
	      HTTP_M_GET, &r, &e);
	buf_t b = BUF_INIT;
	http_write_response_head(&b, &r, r.body, true, false);
	cr_assert_str_eq(b.data, "HTTP/1.1 200 OK\r\nContent-Type: a\r\n"
				 "Content-Length: 3\r\nX-B: 2\r\n\r\n");
	buf_reset(&b);
	http_write_response_head(&b, &r, r.body, false, false);
	cr_assert(strstr(b.data, "Connection: close\r\n\r\n") != NULL);
	buf_reset(&b);
	http_write_simple_response(&b, 502, "upstream failed", true);
	cr_assert_str_eq(b.data, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: "
				 "text/plain\r\nContent-Length: 16\r\nConnection:"
				 " close\r\n\r\nupstream failed\n");
	buf_free(&b);
}
