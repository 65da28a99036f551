/*
 * test_compare.c: response captures and their comparison.
 */
#include "compare/compare.h"

#include <criterion/criterion.h>
#include <string.h>

static http_header_t hdrs[32];

/* Captures a raw response (head + the given body). */
static void capture(cmp_capture_t *c, const cmp_rules_t *r, const char *head,
		    const char *body, uint64_t *kept)
{
	http_limits_t lim = HTTP_LIMITS_DEFAULT;
	http_response_t resp = {.headers = hdrs, .cap = 32};
	http_err_t e;
	size_t sc = 0;
	memset(c, 0, sizeof(*c));
	cr_assert_gt(http_parse_response(head, strlen(head), &sc, &lim,
					 HTTP_M_GET, &resp, &e),
		     0);
	cmp_capture_head(c, r, &resp);
	/* in two pieces, as a stream would */
	size_t n = strlen(body), half = n / 2;
	cmp_capture_body(c, r, body, half, kept);
	cmp_capture_body(c, r, body + half, n - half, kept);
	cmp_capture_finish(c);
}

static uint8_t diff(const cmp_rules_t *r, const char *ha, const char *ba,
		    const char *hb, const char *bb, cmp_result_t *out)
{
	cmp_capture_t a, b;
	capture(&a, r, ha, ba, NULL);
	capture(&b, r, hb, bb, NULL);
	cmp_diff(&a, &b, r, out);
	cmp_capture_free(&a);
	cmp_capture_free(&b);
	return out->mask;
}

#define JSON "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
#define TEXT "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"

Test(compare, status_headers_and_ignored)
{
	char *ign[] = {"Date", "X-Id"};
	cmp_rules_t r = {.ignore_headers = ign, .nignore_headers = 2,
			 .max_body = 1024};
	cmp_result_t res;
	cr_assert_eq(diff(&r, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nDate: x\r\n"
			      "X-Id: 1\r\nConnection: keep-alive\r\n\r\n",
			  "", "HTTP/1.1 200 OK\r\nb: 2\r\na: 1\r\nDate: y\r\nX-Id: 2"
			      "\r\n\r\n",
			  "", &res),
		     0, "order, case, ignored and hop-by-hop fields do not count");
	cr_assert_eq(diff(&r, "HTTP/1.1 200 OK\r\nA: 1\r\n\r\n", "",
			  "HTTP/1.1 500 Oops\r\nA: 2\r\n\r\n", "", &res),
		     REQREC_DIFF_STATUS | REQREC_DIFF_HEADERS);
}

Test(compare, bodies)
{
	cmp_rules_t r = {.max_body = 1024};
	cmp_result_t res;
	cr_assert_eq(diff(&r, TEXT, "hello", TEXT, "hello", &res), 0);
	cr_assert_eq(diff(&r, TEXT, "hello", TEXT, "hellO", &res),
		     REQREC_DIFF_BODY);
	cr_assert_eq(diff(&r, TEXT, "hello", TEXT, "hello!", &res),
		     REQREC_DIFF_BODY | REQREC_DIFF_SIZE);
}

Test(compare, json_structure_paths_unordered)
{
	char *ign[] = {"$.meta.t", "$.items[*].rev"};
	char *uno[] = {"$.tags"};
	cmp_rules_t r = {.ignore_json = ign, .nignore_json = 2,
			 .unordered = uno, .nunordered = 1, .max_body = 4096};
	cmp_result_t res;
	cr_assert_eq(diff(&r, JSON, "{\"a\":1,\"b\":[1,2]}", JSON,
			  "{\"b\":[1,2], \"a\":1.0}", &res),
		     0, "key order, spacing and 1 vs 1.0 are equal");
	cr_assert_eq(diff(&r, JSON,
			  "{\"meta\":{\"t\":1},\"items\":[{\"id\":1,\"rev\":3}],"
			  "\"tags\":[\"x\",\"y\"]}",
			  JSON,
			  "{\"meta\":{\"t\":2},\"items\":[{\"id\":1,\"rev\":9}],"
			  "\"tags\":[\"y\",\"x\"]}",
			  &res),
		     0, "ignored paths and an unordered array");
	cr_assert_eq(diff(&r, JSON, "{\"a\":{\"b\":[1,2,3]},\"c\":1}", JSON,
			  "{\"a\":{\"b\":[1,5,3]},\"d\":1}", &res),
		     REQREC_DIFF_JSON);
	cr_assert(res.json_compared);
	cr_assert_eq(res.npaths, 3);
	cr_assert_str_eq(res.paths[0], "$.a.b[1]");
	cr_assert_str_eq(res.paths[1], "$.c");
	cr_assert_str_eq(res.paths[2], "$.d");
	/* not JSON after all: compared as bytes */
	cr_assert_eq(diff(&r, JSON, "{oops", JSON, "{oops", &res), 0);
	cr_assert(!res.json_compared);
}

Test(compare, long_bodies_by_digest_and_budget)
{
	cmp_rules_t r = {.max_body = 8};
	cmp_result_t res;
	cr_assert_eq(diff(&r, TEXT, "0123456789abcdef", TEXT,
			  "0123456789abcdef", &res),
		     0);
	cr_assert_eq(diff(&r, TEXT, "0123456789abcdef", TEXT,
			  "0123456789abcdeX", &res),
		     REQREC_DIFF_BODY);
	/* a budget forces the digest even under max_body, and one side
	 * kept, the other hashed, still compare equal */
	r.max_body = 1024;
	uint64_t budget = 3;
	cmp_capture_t a, b;
	capture(&a, &r, TEXT, "same body", &budget);
	capture(&b, &r, TEXT, "same body", NULL);
	cr_assert(a.body_truncated);
	cr_assert(!b.body_truncated);
	cmp_diff(&a, &b, &r, &res);
	cr_assert_eq(res.mask, 0);
	cr_assert_eq(budget, 3, "nothing kept, nothing taken");
	cmp_capture_free(&a);
	cmp_capture_free(&b);
}

Test(compare, paths_within_and_text)
{
	cmp_result_t a = {.npaths = 1}, b = {.npaths = 2};
	strcpy(a.paths[0], "$.x");
	strcpy(b.paths[0], "$.y");
	strcpy(b.paths[1], "$.x");
	cr_assert(cmp_paths_within(&a, &b));
	cr_assert(!cmp_paths_within(&b, &a));
	char t[64];
	cr_assert_str_eq(cmp_mask_text(REQREC_DIFF_STATUS | REQREC_DIFF_JSON, t,
				       sizeof(t)),
			 "status,json");
}

Test(compare, gzip_body_equals_its_plain_copy)
{
	/* "hello" gzip-compressed (RFC 1952), as a service would send it */
	static const unsigned char gz[] = {
		0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
		0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x86, 0xa6, 0x10,
		0x36, 0x05, 0x00, 0x00, 0x00};
	cmp_rules_t r = {.max_body = 1024};
	cmp_capture_t a, b;
	capture(&a, &r, TEXT, "hello", NULL);
	http_limits_t lim = HTTP_LIMITS_DEFAULT;
	const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			"Content-Encoding: gzip\r\n\r\n";
	http_response_t resp = {.headers = hdrs, .cap = 32};
	http_err_t e;
	size_t sc = 0;
	memset(&b, 0, sizeof(b));
	cr_assert_gt(http_parse_response(h, strlen(h), &sc, &lim, HTTP_M_GET,
					 &resp, &e),
		     0);
	cmp_capture_head(&b, &r, &resp);
	cr_assert_eq(b.encoding, CMP_ENC_GZIP);
	cmp_capture_body(&b, &r, (const char *)gz, sizeof(gz), NULL);
	cmp_capture_finish(&b);
	cmp_result_t res;
	cmp_diff(&a, &b, &r, &res);
	cr_assert_eq(res.mask, 0, "mask %x", res.mask);
	cmp_capture_free(&a);
	cmp_capture_free(&b);
}
