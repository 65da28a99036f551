/*
 * test_chunked.c: the strict chunked decoder that request bodies go
 * through (RFC 9112 7.1), one test per malformed framing, the tolerant
 * grammar kept for responses, and the canonical chunks bodies are
 * re-framed in. Every input is also decoded one byte at a time, so a
 * verdict cannot depend on how the bytes arrive.
 */
#include "base/buf.h"
#include "base/err.h"
#include "http/http.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

/* Decodes s[0..len) in pieces of `step` bytes with the strict (or the
 * tolerant) grammar. Returns 1 when the body is complete (data in out),
 * 0 when more is needed, -1 on a rejection (*err set). */
static int decode(const char *s, size_t len, size_t step, bool strict,
		  buf_t *out, http_err_t *err)
{
	http_chunked_t c;
	if (strict)
		http_chunked_init_strict(&c, 1024);
	else
		http_chunked_init(&c, 1024);
	size_t i = 0;
	while (i < len && !c.done) {
		size_t avail = len - i < step ? len - i : step;
		const char *d = NULL;
		size_t dl;
		ssize_t n = http_chunked_step(&c, s + i, avail, &d, &dl, err);
		if (n < 0)
			return -1;
		if (dl)
			buf_append(out, d, dl);
		i += (size_t)n;
	}
	return c.done ? 1 : 0;
}

/* s is rejected with `want` by the strict grammar, whole and byte by
 * byte. */
static void strict_bad(const char *s, http_err_t want)
{
	for (size_t step = 1; step <= strlen(s); step += strlen(s) - 1) {
		buf_t out = {0};
		http_err_t e = HTTP_E_NONE;
		int rc = decode(s, strlen(s), step, true, &out, &e);
		cr_assert_eq(rc, -1, "step %zu: %s accepted", step, s);
		cr_assert_eq(e, want, "step %zu: %s: got %s, want %s", step, s,
			     http_err_name(e), http_err_name(want));
		cr_assert_eq(http_err_status(e), 400);
		buf_free(&out);
		if (strlen(s) < 2)
			break;
	}
}

/* s is a complete body with data `want` for the strict grammar. */
static void strict_ok(const char *s, const char *want)
{
	for (size_t step = 1; step <= strlen(s); step++) {
		buf_t out = {0};
		http_err_t e = HTTP_E_NONE;
		int rc = decode(s, strlen(s), step, true, &out, &e);
		cr_assert_eq(rc, 1, "step %zu: %s: %d %s", step, s, rc,
			     http_err_name(e));
		cr_assert_eq(out.len, strlen(want));
		cr_assert(out.len == 0 || memcmp(out.data, want, out.len) == 0,
			  "%s: got %.*s", s, (int)out.len, out.data);
		buf_free(&out);
	}
}

/* --------------------------------------------------------------- lines */

Test(strict, space_before_crlf)
{
	strict_bad("5 \r\nhello\r\n0\r\n\r\n", HTTP_E_CHUNK_LINE_WS);
	strict_bad("5\t\r\nhello\r\n0\r\n\r\n", HTTP_E_CHUNK_LINE_WS);
}
Test(strict, space_after_ext_name)
{
	strict_bad("5;a \r\nhello\r\n0\r\n\r\n", HTTP_E_CHUNK_LINE_WS);
}
Test(strict, space_after_ext_value)
{
	strict_bad("5;a=b \r\nhello\r\n0\r\n\r\n", HTTP_E_CHUNK_LINE_WS);
	strict_bad("5;a=\"b\" \r\nhello\r\n0\r\n\r\n", HTTP_E_CHUNK_LINE_WS);
}
Test(strict, lf_after_size)
{
	strict_bad("5\nhello\r\n0\r\n\r\n", HTTP_E_CHUNK_BARE_LF);
}
Test(strict, lf_after_ext)
{
	strict_bad("5;a=b\nhello\r\n0\r\n\r\n", HTTP_E_CHUNK_BARE_LF);
}
Test(strict, lf_after_data)
{
	strict_bad("5\r\nhello\n0\r\n\r\n", HTTP_E_CHUNK_BARE_LF);
}
Test(strict, lf_after_last_chunk)
{
	strict_bad("5\r\nhello\r\n0\n\r\n", HTTP_E_CHUNK_BARE_LF);
}
Test(strict, lf_final_line)
{
	strict_bad("5\r\nhello\r\n0\r\n\n", HTTP_E_CHUNK_BARE_LF);
}
Test(strict, lf_after_trailer)
{
	strict_bad("0\r\nX-T: 1\n\r\n", HTTP_E_CHUNK_BARE_LF);
}
Test(strict, bare_cr)
{
	strict_bad("5\rhello\r\n0\r\n\r\n", HTTP_E_BARE_CR);
	strict_bad("0\r\nX-T: 1\rX\r\n\r\n", HTTP_E_BARE_CR);
	strict_bad("0\r\n\rX", HTTP_E_BARE_CR);
}
Test(strict, data_not_followed_by_crlf)
{
	strict_bad("2\r\nhello\r\n", HTTP_E_BAD_CHUNK_END);
	strict_bad("5\r\nhello\rX", HTTP_E_BAD_CHUNK_END);
}

/* --------------------------------------------------------------- sizes */

Test(strict, bad_sizes)
{
	strict_bad("\r\n", HTTP_E_BAD_CHUNK_SIZE);
	strict_bad(" 5\r\n", HTTP_E_BAD_CHUNK_SIZE);
	strict_bad("-1\r\n", HTTP_E_BAD_CHUNK_SIZE);
	strict_bad("0x5\r\n", HTTP_E_BAD_CHUNK_SIZE);
	strict_bad("+5\r\n", HTTP_E_BAD_CHUNK_SIZE);
	strict_bad("5 x\r\n", HTTP_E_BAD_CHUNK_SIZE);
	strict_bad("5,6\r\n", HTTP_E_BAD_CHUNK_SIZE);
}
Test(strict, size_2_63)
{
	strict_bad("8000000000000000\r\n", HTTP_E_CHUNK_TOO_LARGE);
	strict_bad("ffffffffffffffff\r\n", HTTP_E_CHUNK_TOO_LARGE);
	strict_bad("10000000000000000\r\n", HTTP_E_CHUNK_TOO_LARGE);
}
Test(strict, size_limit_exact)
{
	/* 2^63 - 1 is the largest size taken */
	http_chunked_t c;
	http_chunked_init_strict(&c, 1024);
	const char *s = "7fffffffffffffff\r\n";
	const char *d;
	size_t dl;
	http_err_t e;
	cr_assert_eq(http_chunked_step(&c, s, strlen(s), &d, &dl, &e),
		     (ssize_t)strlen(s));
	cr_assert_eq(c.remaining, (uint64_t)INT64_MAX);
}
Test(strict, sixteen_plus_digits)
{
	/* 17 digits, small value: leading zeros past the limit */
	strict_bad("00000000000000005\r\nhello\r\n0\r\n\r\n",
		   HTTP_E_CHUNK_SIZE_TOO_LONG);
	/* 16 digits that fit are fine */
	strict_ok("0000000000000005\r\nhello\r\n0\r\n\r\n", "hello");
}

/* --------------------------------------------------------------- extensions */

Test(strict, unterminated_quote)
{
	strict_bad("3;a=\"x\r\nabc\r\n0\r\n\r\n", HTTP_E_CHUNK_EXT_UNCLOSED);
	strict_bad("3;a=\"x\\\r\nabc\r\n0\r\n\r\n", HTTP_E_CHUNK_EXT_UNCLOSED);
}
Test(strict, nameless_extension)
{
	strict_bad("3;=x\r\nabc\r\n0\r\n\r\n", HTTP_E_CHUNK_EXT_NO_NAME);
	strict_bad("3;\r\nabc\r\n0\r\n\r\n", HTTP_E_CHUNK_EXT_NO_NAME);
	strict_bad("3;a;;b\r\nabc\r\n0\r\n\r\n", HTTP_E_CHUNK_EXT_NO_NAME);
}
Test(strict, extension_without_value)
{
	strict_bad("3;a=\r\nabc\r\n0\r\n\r\n", HTTP_E_CHUNK_EXT_NO_VALUE);
	strict_bad("3;a=;b\r\nabc\r\n0\r\n\r\n", HTTP_E_CHUNK_EXT_NO_VALUE);
}
Test(strict, bad_extension_bytes)
{
	strict_bad("3;a=\x01\r\nabc\r\n0\r\n\r\n", HTTP_E_BAD_CHUNK_EXT);
	strict_bad("3;a@b\r\nabc\r\n0\r\n\r\n", HTTP_E_BAD_CHUNK_EXT);
	strict_bad("3;a=b\"c\"\r\nabc\r\n0\r\n\r\n", HTTP_E_BAD_CHUNK_EXT);
	strict_bad("3;a=\"b\"c\r\nabc\r\n0\r\n\r\n", HTTP_E_BAD_CHUNK_EXT);
	strict_bad("3;a=\"\x7f\"\r\nabc\r\n0\r\n\r\n", HTTP_E_BAD_CHUNK_EXT);
	strict_bad("3;a b\r\nabc\r\n0\r\n\r\n", HTTP_E_BAD_CHUNK_EXT);
}
Test(strict, extension_too_long)
{
	char s[HTTP_CHUNK_EXT_MAX + 64];
	strcpy(s, "3;a=");
	memset(s + 4, 'x', HTTP_CHUNK_EXT_MAX);
	strcpy(s + 4 + HTTP_CHUNK_EXT_MAX, "\r\nabc\r\n0\r\n\r\n");
	strict_bad(s, HTTP_E_CHUNK_EXT_TOO_LONG);
}
Test(strict, valid_extensions_accepted)
{
	strict_ok("3;a\r\nabc\r\n0\r\n\r\n", "abc");
	strict_ok("3;a=b\r\nabc\r\n0\r\n\r\n", "abc");
	strict_ok("3 ; a = b ;c\r\nabc\r\n0;last\r\n\r\n", "abc");
	strict_ok("3;a=\"x y;\\\"z\\\\\"\r\nabc\r\n0\r\n\r\n", "abc");
	strict_ok("3;a=\"\";b=\"\xc3\xa9\"\r\nabc\r\n0\r\n\r\n", "abc");
	strict_ok("3\t;\ta\r\nabc\r\n000\r\n\r\n", "abc");
}

/* --------------------------------------------------------------- trailers */

Test(strict, trailers)
{
	strict_ok("3\r\nabc\r\n0\r\nX-A: 1\r\nX-B:2\r\n\r\n", "abc");
	strict_bad("0\r\n folded\r\n\r\n", HTTP_E_BAD_TRAILER);
	strict_bad("0\r\nnocolon\r\n\r\n", HTTP_E_BAD_TRAILER);
}

/* --------------------------------------------------------------- tolerant */

/* The tolerant grammar (responses) still takes the LF line ends,
 * trailing whitespace and loose extensions that servers send; the size
 * limit holds. */
Test(tolerant, lf_ws_and_loose_extensions)
{
	const char *s = "5 \nhello\n6;a=b \r\n world\r\n3;a=\"x\r\nabc\r\n"
			"2;=x\r\nde\r\n0\n\n";
	buf_t out = {0};
	http_err_t e = HTTP_E_NONE;
	cr_assert_eq(decode(s, strlen(s), 1, false, &out, &e), 1, "%s",
		     http_err_name(e));
	cr_assert_eq(out.len, 16);
	cr_assert(memcmp(out.data, "hello worldabcde", 16) == 0);
	buf_free(&out);
}
Test(tolerant, limits_hold)
{
	const char *bad[] = {"8000000000000000\r\n", "3;a=\x01\r\n",
			     "00000000000000003\r\n"};
	http_err_t want[] = {HTTP_E_CHUNK_TOO_LARGE, HTTP_E_BAD_CHUNK_EXT,
			     HTTP_E_CHUNK_SIZE_TOO_LONG};
	for (int i = 0; i < 3; i++) {
		buf_t out = {0};
		http_err_t e = HTTP_E_NONE;
		cr_assert_eq(decode(bad[i], strlen(bad[i]), 64, false, &out,
				    &e),
			     -1, "%s", bad[i]);
		cr_assert_eq(e, want[i], "%s: %s", bad[i], http_err_name(e));
		buf_free(&out);
	}
}

/* --------------------------------------------------------------- re-framing */

Test(reframe, canonical_chunks)
{
	buf_t b = {0};
	http_write_chunk(&b, "hello", 5);
	http_write_chunk(&b, "", 0); /* nothing: 0 would end the body */
	char big[300];
	memset(big, 'x', sizeof(big));
	http_write_chunk(&b, big, sizeof(big));
	http_write_last_chunk(&b);
	const char *head = "5\r\nhello\r\n12c\r\n";
	cr_assert_eq(memcmp(b.data, head, strlen(head)), 0, "%.*s",
		     (int)b.len, b.data);
	cr_assert_eq(b.len, strlen(head) + 300 + 2 + 5);
	cr_assert_eq(memcmp(b.data + b.len - 7, "\r\n0\r\n\r\n", 7), 0);
	buf_free(&b);
}

/* A body with extensions and trailers, decoded strictly and re-framed,
 * reads back as the same data in umbra's own lines only. */
Test(reframe, extensions_and_trailers_dropped)
{
	const char *s = "3;a=\"q\";b\r\nabc\r\n2 ;c=d\r\nde\r\n0;z\r\n"
			"X-T: 1\r\n\r\n";
	http_chunked_t c;
	http_chunked_init_strict(&c, 1024);
	buf_t out = {0};
	size_t i = 0, len = strlen(s);
	while (i < len && !c.done) {
		const char *d;
		size_t dl;
		http_err_t e;
		ssize_t n = http_chunked_step(&c, s + i, len - i, &d, &dl, &e);
		cr_assert_geq(n, 0, "%s", http_err_name(e));
		http_write_chunk(&out, d, dl);
		i += (size_t)n;
	}
	cr_assert(c.done);
	http_write_last_chunk(&out);
	const char *want = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
	cr_assert_eq(out.len, strlen(want));
	cr_assert_eq(memcmp(out.data, want, out.len), 0, "%.*s", (int)out.len,
		     out.data);
	buf_free(&out);
}
