/*
 * test_malformed.c: masking fails closed. One test per malformed input:
 * each gives its error code, its reason (the counter name), its own
 * detail, and leaves the output buffer exactly as it was (nothing of the
 * message may reach a shadow).
 */
#include "base/err.h"
#include "unit/mask/mask_test.h"

/* Masks a request with content type ct (and more headers) and body
 * b[0..n); expects failure with code, reason and detail. */
static void fails_n(const char *ct, const char *extra, const char *b, size_t n,
		    int code, mask_reason_t reason, const char *detail)
{
	tmask_t *t = tm_new("  max_scan: 4KiB\n");
	char cth[256];
	snprintf(cth, sizeof(cth), "Content-Type: %s", ct);
	const char *hs[] = {cth, extra, NULL};
	buf_reset(&t->out);
	buf_puts(&t->out, "KEEP");
	mask_header_t h[4];
	size_t nh = tm_headers(hs, h);
	mask_request_t r = {"POST", 4, "/", 1, h, nh, b, n};
	int rc = mask_request(t->c, &r, &t->out);
	cr_expect_eq(rc, code, "rc %d (%s)", rc, mask_ctx_error(t->c));
	cr_expect_eq(mask_ctx_reason(t->c), reason, "%s", mask_ctx_error(t->c));
	cr_expect_not_null(strstr(mask_ctx_error(t->c), detail), "[%s]",
			   mask_ctx_error(t->c));
	cr_expect_eq(strncmp(mask_ctx_error(t->c), mask_reason_name(reason),
			     strlen(mask_reason_name(reason))),
		     0);
	cr_expect_eq(t->out.len, 4);
	cr_expect_str_eq(t->out.data, "KEEP");
	tm_free(t);
}

static void fails(const char *ct, const char *b, int code, mask_reason_t reason,
		  const char *detail)
{
	fails_n(ct, NULL, b, strlen(b), code, reason, detail);
}

#define JSON		   "application/json"
#define BADJ(body, detail) fails(JSON, body, ERR_PARSE, MASK_R_BAD_JSON, detail)

/* ----------------------------------------------------------- size */

Test(malformed, body_over_max_scan)
{
	char b[5000];
	memset(b, 'a', sizeof(b) - 1);
	b[sizeof(b) - 1] = '\0';
	fails("text/plain", b, ERR_TOOBIG, MASK_R_TOO_BIG,
	      "over mask.max_scan");
}

Test(malformed, gzip_bomb_over_max_scan)
{
	static char big[64 * 1024], z[1024];
	memset(big, 'a', sizeof(big));
	z_stream s = {0};
	deflateInit2(&s, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	s.next_in = (Bytef *)big;
	s.avail_in = sizeof(big);
	s.next_out = (Bytef *)z;
	s.avail_out = sizeof(z);
	deflate(&s, Z_FINISH);
	size_t n = sizeof(z) - s.avail_out;
	deflateEnd(&s);
	fails_n("text/plain", "Content-Encoding: gzip", z, n, ERR_TOOBIG,
		MASK_R_TOO_BIG, "decodes to more than mask.max_scan");
}

/* ----------------------------------------------------------- JSON */

Test(malformed, json_unterminated_string)
{
	BADJ("{\"a\": \"xyz", "unterminated string at byte 10");
}

Test(malformed, json_control_character)
{
	BADJ("[\"a\tb\"]", "control character in string");
}

Test(malformed, json_bad_escape)
{
	BADJ("[\"a\\qb\"]", "bad escape");
}

Test(malformed, json_bad_unicode_escape)
{
	BADJ("[\"\\u12G4\"]", "bad \\u escape");
}

Test(malformed, json_escape_at_end)
{
	BADJ("[\"\\", "unterminated string");
}

Test(malformed, json_bad_literal)
{
	BADJ("[tru]", "bad literal");
}

Test(malformed, json_bad_number_sign_only)
{
	BADJ("[-]", "bad number");
}

Test(malformed, json_bad_number_fraction)
{
	BADJ("[1.]", "bad number");
}

Test(malformed, json_bad_number_exponent)
{
	BADJ("[1e+]", "bad number");
}

Test(malformed, json_leading_zero)
{
	BADJ("[01]", "expected ',' or ']'");
}

Test(malformed, json_missing_key)
{
	BADJ("{1: 2}", "expected a key at byte 1");
}

Test(malformed, json_trailing_comma_in_object)
{
	BADJ("{\"a\": 1,}", "expected a key at byte 8");
}

Test(malformed, json_missing_colon)
{
	BADJ("{\"a\" 1}", "expected ':'");
}

Test(malformed, json_missing_comma_in_object)
{
	BADJ("{\"a\": 1 \"b\": 2}", "expected ',' or '}'");
}

Test(malformed, json_missing_comma_in_array)
{
	BADJ("[1 2]", "expected ',' or ']'");
}

Test(malformed, json_missing_value)
{
	BADJ("{\"a\": }", "bad number");
}

Test(malformed, json_truncated)
{
	BADJ("{\"a\": [1, 2", "expected ',' or ']'");
}

Test(malformed, json_value_missing_at_end)
{
	BADJ("{\"a\":", "expected a value");
}

Test(malformed, json_nested_too_deep)
{
	char b[600];
	memset(b, '[', 257);
	memset(b + 257, ']', 257);
	b[514] = '\0';
	BADJ(b, "nested too deep");
}

Test(malformed, json_data_after_the_value)
{
	BADJ("{} {}", "data after the value");
}

Test(malformed, json_whitespace_only)
{
	BADJ(" \n ", "empty body");
}

Test(malformed, json_utf16)
{
	fails_n(JSON, NULL, "{\0\"\0a\0\"\0:\0 \0001\0}\0", 18, ERR_PARSE,
		MASK_R_BAD_JSON, "expected a key");
}

/* ----------------------------------------------------------- form */

Test(malformed, form_bad_escape_in_value)
{
	fails("application/x-www-form-urlencoded", "a=1&b=%zz", ERR_PARSE,
	      MASK_R_BAD_FORM, "bad percent escape in the value at byte 6");
}

Test(malformed, form_bad_escape_in_key)
{
	fails("application/x-www-form-urlencoded", "a%4=1", ERR_PARSE,
	      MASK_R_BAD_FORM, "bad percent escape in the key at byte 0");
}

Test(malformed, form_truncated_escape)
{
	fails("application/x-www-form-urlencoded", "a=%", ERR_PARSE,
	      MASK_R_BAD_FORM, "in the value");
}

/* ----------------------------------------------------------- multipart */

#define MP(b) "multipart/form-data; boundary=" b

Test(malformed, multipart_without_boundary)
{
	fails("multipart/form-data", "--x\r\n\r\na\r\n--x--", ERR_PARSE,
	      MASK_R_BAD_MULTIPART, "no boundary of 1 to 70");
}

Test(malformed, multipart_boundary_too_long)
{
	char ct[200];
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%071d", 0);
	fails(ct, "x", ERR_PARSE, MASK_R_BAD_MULTIPART, "no boundary of");
}

Test(malformed, multipart_no_delimiter)
{
	fails(MP("b"), "just text", ERR_PARSE, MASK_R_BAD_MULTIPART,
	      "no boundary delimiter in the body");
}

Test(malformed, multipart_no_line_break_after_delimiter)
{
	fails(MP("b"), "--bX\r\n\r\nx\r\n--b--", ERR_PARSE,
	      MASK_R_BAD_MULTIPART, "no line break after the delimiter");
}

Test(malformed, multipart_headers_never_end)
{
	fails(MP("b"), "--b\r\nContent-Disposition: form-data; name=a\r\nx",
	      ERR_PARSE, MASK_R_BAD_MULTIPART, "no end of its headers");
}

Test(malformed, multipart_no_closing_delimiter)
{
	fails(MP("b"), "--b\r\nX: y\r\n\r\ncontent", ERR_PARSE,
	      MASK_R_BAD_MULTIPART, "part 1: no closing delimiter");
}

Test(malformed, multipart_too_many_parts)
{
	buf_t b = BUF_INIT;
	for (int i = 0; i < 10001; i++)
		buf_puts(&b, "--b\r\n\r\nx\r\n");
	buf_puts(&b, "--b--");
	tmask_t *t = tm_new("  max_scan: 1MiB\n");
	const char *hs[] = {"Content-Type: " MP("b"), NULL};
	cr_expect_eq(tm_req(t, "POST", "/", hs, b.data), ERR_PARSE);
	cr_expect_eq(mask_ctx_reason(t->c), MASK_R_BAD_MULTIPART);
	cr_expect_not_null(
	    strstr(mask_ctx_error(t->c), "more than 10000 parts"));
	buf_free(&b);
	tm_free(t);
}

Test(malformed, multipart_bad_json_part)
{
	fails(MP("b"),
	      "--b\r\nContent-Type: application/json\r\n\r\n{bad}\r\n--b--",
	      ERR_PARSE, MASK_R_BAD_JSON, "expected a key");
}

Test(malformed, multipart_masking_would_forge_the_boundary)
{
	tmask_t *t =
	    tm_new("  rules:\n    - {where: pattern, pattern: 'SECRET', "
		   "replacement: '--b'}\n");
	const char *hs[] = {"Content-Type: " MP("b"), NULL};
	cr_expect_eq(
	    tm_req(t, "POST", "/", hs, "--b\r\n\r\nmy SECRET\r\n--b--"),
	    ERR_PARSE);
	cr_expect_eq(mask_ctx_reason(t->c), MASK_R_BAD_MULTIPART);
	cr_expect_not_null(strstr(mask_ctx_error(t->c), "would contain the "
							"boundary"));
	cr_expect_eq(t->out.len, 0);
	tm_free(t);
}

/* ----------------------------------------------------------- codings */

Test(malformed, gzip_corrupt)
{
	fails_n("text/plain", "Content-Encoding: gzip", "\x1f\x8bnot gzip", 10,
		ERR_PARSE, MASK_R_BAD_GZIP, "gzip: ");
}

static size_t gzip_of(const char *s, char *z, size_t cap, int wbits)
{
	z_stream st = {0};
	deflateInit2(&st, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY);
	st.next_in = (Bytef *)s;
	st.avail_in = (uInt)strlen(s);
	st.next_out = (Bytef *)z;
	st.avail_out = (uInt)cap;
	deflate(&st, Z_FINISH);
	size_t n = cap - st.avail_out;
	deflateEnd(&st);
	return n;
}

Test(malformed, gzip_truncated)
{
	char z[256];
	size_t n = gzip_of("hello ann@example.org", z, sizeof(z), 31);
	fails_n("text/plain", "Content-Encoding: gzip", z, n - 5, ERR_PARSE,
		MASK_R_BAD_GZIP, "gzip: truncated stream");
}

Test(malformed, gzip_trailing_bytes)
{
	char z[256];
	size_t n = gzip_of("hello", z, sizeof(z), 31);
	memcpy(z + n, "junk", 4);
	fails_n("text/plain", "Content-Encoding: gzip", z, n + 4, ERR_PARSE,
		MASK_R_BAD_GZIP, "4 bytes after the end of the stream");
}

Test(malformed, gzip_bad_checksum)
{
	char z[256];
	size_t n = gzip_of("hello", z, sizeof(z), 31);
	z[n - 6] ^= 0x55; /* CRC-32 */
	fails_n("text/plain", "Content-Encoding: gzip", z, n, ERR_PARSE,
		MASK_R_BAD_GZIP, "incorrect data check");
}

Test(malformed, deflate_corrupt)
{
	fails_n("text/plain", "Content-Encoding: deflate", "\xff\xff\xff\xff",
		4, ERR_PARSE, MASK_R_BAD_DEFLATE, "deflate: ");
}

Test(malformed, unsupported_encoding)
{
	fails_n("text/plain", "Content-Encoding: br", "xyz", 3, ERR_UNSUPPORTED,
		MASK_R_BAD_ENCODING, "content-encoding \"br\"");
}

Test(malformed, too_many_codings)
{
	fails_n("text/plain", "Content-Encoding: gzip, gzip, gzip", "xyz", 3,
		ERR_UNSUPPORTED, MASK_R_BAD_ENCODING,
		"more than 2 content codings");
}

/* ----------------------------------------------------------- message */

static void bad_request(const char *method, const char *target,
			const char *hname, const char *hval, const char *detail)
{
	tmask_t *t = tm_new("");
	mask_header_t h = {hname, strlen(hname), hval, strlen(hval)};
	mask_request_t r = {method, strlen(method), target, strlen(target), &h,
			    1,	    NULL,	    0};
	cr_expect_eq(mask_request(t->c, &r, &t->out), ERR_PARSE);
	cr_expect_eq(mask_ctx_reason(t->c), MASK_R_BAD_MESSAGE);
	cr_expect_not_null(strstr(mask_ctx_error(t->c), detail), "%s",
			   mask_ctx_error(t->c));
	cr_expect_eq(t->out.len, 0);
	tm_free(t);
}

Test(malformed, message_empty_method)
{
	bad_request("", "/", "A", "b", "empty method");
}

Test(malformed, message_bad_method)
{
	bad_request("GE T", "/", "A", "b", "bad byte in the method");
}

Test(malformed, message_empty_target)
{
	bad_request("GET", "", "A", "b", "empty request target");
}

Test(malformed, message_space_in_target)
{
	bad_request("GET", "/a b", "A", "b", "space or control byte");
}

Test(malformed, message_bad_header_name)
{
	bad_request("GET", "/", "A:B", "b", "bad byte in a header name");
}

Test(malformed, message_empty_header_name)
{
	bad_request("GET", "/", "", "b", "empty header name");
}

Test(malformed, message_crlf_in_header_value)
{
	bad_request("GET", "/", "A", "b\r\nInjected: 1", "CR, LF or NUL");
}

Test(malformed, response_bad_status)
{
	tmask_t *t = tm_new("");
	mask_response_t r = {42, "X", 1, NULL, 0, NULL, 0, false};
	cr_expect_eq(mask_response(t->c, &r, &t->out), ERR_PARSE);
	cr_expect_not_null(strstr(mask_ctx_error(t->c), "status outside"));
	tm_free(t);
}

Test(malformed, response_crlf_in_reason)
{
	tmask_t *t = tm_new("");
	mask_response_t r = {200, "O\nK", 3, NULL, 0, NULL, 0, false};
	cr_expect_eq(mask_response(t->c, &r, &t->out), ERR_PARSE);
	cr_expect_not_null(strstr(mask_ctx_error(t->c), "reason phrase"));
	tm_free(t);
}

Test(malformed, response_body_fails_closed_too)
{
	tmask_t *t = tm_new("");
	mask_header_t h = {"Content-Type", 12, JSON, strlen(JSON)};
	mask_response_t r = {200, "OK", 2, &h, 1, "{", 1, false};
	cr_expect_eq(mask_response(t->c, &r, &t->out), ERR_PARSE);
	cr_expect_eq(mask_ctx_reason(t->c), MASK_R_BAD_JSON);
	cr_expect_eq(t->out.len, 0);
	tm_free(t);
}

/* A failure leaves nothing behind for the next message. */
Test(malformed, next_message_is_clean)
{
	tmask_t *t = tm_new("");
	const char *hs[] = {"Content-Type: " JSON, NULL};
	cr_expect_eq(
	    tm_req(t, "POST", "/", hs, "{\"a\": \"ann@example.org\", "),
	    ERR_PARSE);
	cr_expect_eq(tm_req(t, "POST", "/", hs, "{\"a\": 1}"), 0);
	cr_expect_eq(mask_ctx_reason(t->c), MASK_R_NONE);
	cr_expect_str_eq(mask_ctx_error(t->c), "");
	cr_expect_str_eq(tm_body(t), "{\"a\": 1}");
	tm_free(t);
}

/* Found by fuzzing: a header block may not run into the next part. */
Test(malformed, multipart_headers_span_a_delimiter)
{
	fails(MP("b"),
	      "--b\r\nX: y\r\n--b\r\nContent-Disposition: form-data; name=a"
	      "\r\n\r\nv\r\n--b--",
	      ERR_PARSE, MASK_R_BAD_MULTIPART,
	      "no end of its headers before the next delimiter");
}
