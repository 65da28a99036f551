/*
 * test_walkers.c: what masking does in each position, exactly: JSON
 * (byte-preserving rewrite, JSON-path rules, drop with commas, sensitive
 * keys and their subtrees), forms and query strings, path segments,
 * multipart parts, text and its decoded views, gzip/deflate round trips,
 * headers (auth, cookies, framing, digests), responses, PCRE2 rules,
 * per-detector actions, and the report.
 */
#include "base/err.h"
#include "mask/mask_int.h"
#include "unit/mask/mask_test.h"

#define HDR_JSON "Content-Type: application/json"
#define HDR_FORM "Content-Type: application/x-www-form-urlencoded"

static const char *json_out(tmask_t *t, const char *body)
{
	const char *hs[] = {HDR_JSON, NULL};
	int rc = tm_req(t, "POST", "/", hs, body);
	cr_assert_eq(rc, 0, "%s", mask_ctx_error(t->c));
	return tm_body(t);
}

static const char *form_out(tmask_t *t, const char *body)
{
	const char *hs[] = {HDR_FORM, NULL};
	int rc = tm_req(t, "POST", "/", hs, body);
	cr_assert_eq(rc, 0, "%s", mask_ctx_error(t->c));
	return tm_body(t);
}

/* The request line's target after masking. */
static const char *target_out(tmask_t *t, const char *target)
{
	static char res[1024];
	cr_assert_eq(tm_req(t, "GET", target, NULL, NULL), 0);
	const char *sp = strchr(t->out.data, ' ') + 1;
	const char *end = strstr(sp, " HTTP/1.1\r\n");
	snprintf(res, sizeof(res), "%.*s", (int)(end - sp), sp);
	return res;
}

/* The value of header name in t->out, or NULL. */
static const char *header_out(tmask_t *t, const char *name)
{
	static char res[1024];
	char pat[128];
	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	const char *p = strstr(t->out.data, pat);
	if (!p || p > t->out.data + mask_ctx_report(t->c)->head_len)
		return NULL;
	p += strlen(pat);
	const char *e = strstr(p, "\r\n");
	snprintf(res, sizeof(res), "%.*s", (int)(e - p), p);
	return res;
}

#define ANN "6a1384febc96@example.com" /* ann@example.org, test key */

/* ----------------------------------------------------------- JSON */

Test(json, untouched_body_is_byte_identical)
{
	tmask_t *t = tm_new("");
	const char *b = "{ \"a\" : [1, 2.50, -0.0e+1, \"x\\u0041\\/\"] ,"
			"\n\t\"b\":null, \"c\": true, \"d\": {}}";
	cr_expect_str_eq(json_out(t, b), b);
	cr_expect_not(mask_ctx_report(t->c)->body_changed);
	tm_free(t);
}

Test(json, only_the_masked_string_changes)
{
	tmask_t *t = tm_new("");
	cr_expect_str_eq(json_out(t,
				  "{\"a\": \"x\",  \"e\": \"ann@example.org\""
				  ", \"n\": 1.50}"),
			 "{\"a\": \"x\",  \"e\": \"" ANN "\", \"n\": 1.50}");
	/* An escaped value is decoded, masked and written plainly. */
	cr_expect_str_eq(json_out(t, "[\"ann\\u0040example.org\"]"),
			 "[\"" ANN "\"]");
	/* Text around the value inside the string is kept. */
	cr_expect_str_eq(
	    json_out(t, "{\"m\":\"mail ann@example.org \\\"now\\\"\"}"),
	    "{\"m\":\"mail " ANN " \\\"now\\\"\"}");
	tm_free(t);
}

Test(json, keys_are_scanned_too)
{
	tmask_t *t = tm_new("");
	mask_ctx_detail(t->c, true);
	cr_expect_str_eq(json_out(t, "{\"ann@example.org\": {\"x\": 1}}"),
			 "{\"" ANN "\": {\"x\": 1}}");
	buf_t r = BUF_INIT;
	mask_report_format(t->m, mask_ctx_report(t->c), &r);
	cr_expect_str_eq(r.data, "json      $: email -> hash\n");
	buf_free(&r);
	tm_free(t);
}

/* Found by fuzzing: a rule or sensitive key owns values, not keys. */
Test(json, keys_scanned_under_owned_subtrees)
{
	tmask_t *t = tm_new("  actions: {keys: redact}\n");
	const char *o = json_out(t, "{\"secret\": {\"203.0.113.7\": \"x\"}}");
	cr_expect_null(strstr(o, "203.0.113.7"), "%s", o);
	cr_expect_eq(strncmp(o, "{\"secret\": {\"10.", 16), 0, "%s", o);
	cr_expect_not_null(strstr(o, "\": \"[REDACTED]\"}}"), "%s", o);
	tm_free(t);
}

Test(json, card_numbers_as_numbers)
{
	tmask_t *t = tm_new("");
	const char *o = json_out(t, "{\"n\": 4111111111111111, \"m\": 12345}");
	cr_expect_str_eq(o, "{\"n\": 4181766242803988, \"m\": 12345}");
	/* Not Luhn, negative, not a whole number: numbers */
	const char *b =
	    "[4111111111111112, 4111111111111111.5, -4111111111111111]";
	cr_expect_str_eq(json_out(t, b), b);
	/* A whole number written as a float is the same card */
	cr_expect_str_eq(json_out(t, "[4111111111111111.0]"),
			 "[4181766242803988.0]");
	tm_free(t);
}

Test(json, sensitive_keys_own_their_subtree)
{
	tmask_t *t = tm_new("  actions: {keys: redact}\n");
	cr_expect_str_eq(
	    json_out(t, "{\"Password\": \"hunter2\", \"user_api-key\": 42,"
			" \"secret\": {\"a\": [\"x\", 7, true, null]},"
			" \"ok\": \"fine\"}"),
	    "{\"Password\": \"[REDACTED]\", \"user_api-key\": 0,"
	    " \"secret\": {\"a\": [\"[REDACTED]\", 0, true, null]},"
	    " \"ok\": \"fine\"}");
	tm_free(t);
}

Test(json, hash_under_keys_keeps_types)
{
	tmask_t *t = tm_new("");
	const char *o = json_out(t, "{\"token\": 1234, \"card\": "
				    "\"5555 5555 5555 4444\"}");
	int tok;
	char card[64];
	cr_assert_eq(
	    sscanf(o, "{\"token\": %d, \"card\": \"%19[0-9 ]\"}", &tok, card),
	    2, "%s", o);
	cr_expect_geq(tok, 1000);
	cr_expect_neq(tok, 1234);
	cr_expect_str_neq(card, "5555 5555 5555 4444");
	cr_expect_eq(strlen(card), 19);
	tm_free(t);
}

static tmask_t *rules(const char *r)
{
	char y[2048];
	snprintf(y, sizeof(y), "  rules:\n%s", r);
	return tm_new(y);
}

Test(json, drop_removes_member_and_one_comma)
{
	tmask_t *t = rules("    - {where: json, name: $.b, action: drop}\n");
	cr_expect_str_eq(json_out(t, "{\"a\":1,\"b\":2,\"c\":3}"),
			 "{\"a\":1,\"c\":3}");
	cr_expect_str_eq(json_out(t, "{\"b\":2,\"c\":3}"), "{\"c\":3}");
	cr_expect_str_eq(json_out(t, "{\"a\":1,\"b\":2}"), "{\"a\":1}");
	cr_expect_str_eq(json_out(t, "{ \"b\" : [1, {\"x\": 2}] }"), "{  }");
	cr_expect_str_eq(
	    json_out(t, "{ \"a\": 1, \"b\": 2, \"b\": 3, \"c\": 4 }"),
	    "{ \"a\": 1, \"c\": 4 }");
	cr_expect_str_eq(json_out(t, "{\"b\":1,\"b\":2,\"c\":3}"), "{\"c\":3}");
	tm_free(t);
}

Test(json, drop_array_elements)
{
	tmask_t *t =
	    rules("    - {where: json, name: '$.x[1]', action: drop}\n"
		  "    - {where: json, name: '$.y[*]', action: drop}\n");
	cr_expect_str_eq(json_out(t, "{\"x\": [1, 2, 3], \"y\": [1, 2]}"),
			 "{\"x\": [1, 3], \"y\": []}");
	cr_expect_str_eq(json_out(t, "{\"x\": [1, 2]}"), "{\"x\": [1]}");
	tm_free(t);
}

Test(json, path_forms)
{
	tmask_t *t = rules(
	    "    - {where: json, name: '$.items[*].card', action: redact}\n"
	    "    - {where: json, name: \"$['full name']\", action: redact}\n"
	    "    - {where: json, name: '$..email', action: redact}\n"
	    "    - {where: json, name: '$.a[0]', action: redact}\n"
	    "    - {where: json, name: '$.w.*', action: redact}\n");
	cr_expect_str_eq(
	    json_out(t, "{\"items\": [{\"card\": \"x\", \"id\": 1}, "
			"{\"card\": \"y\"}], \"full name\": \"Ann\", "
			"\"deep\": {\"er\": [{\"email\": \"q\"}]}, "
			"\"a\": [\"p\", \"q\"], \"w\": {\"k\": \"v\"}}"),
	    "{\"items\": [{\"card\": \"[REDACTED]\", \"id\": 1}, "
	    "{\"card\": \"[REDACTED]\"}], \"full name\": \"[REDACTED]\", "
	    "\"deep\": {\"er\": [{\"email\": \"[REDACTED]\"}]}, "
	    "\"a\": [\"[REDACTED]\", \"q\"], \"w\": {\"k\": \"[REDACTED]\"}}");
	tm_free(t);
}

Test(json, root_rule)
{
	tmask_t *t = rules("    - {where: json, name: $, action: drop}\n");
	cr_expect_str_eq(json_out(t, " {\"a\": 1} "), " null ");
	tm_free(t);
}

Test(json, keep_rule_protects_a_subtree)
{
	tmask_t *t =
	    rules("    - {where: json, name: $.audit, action: keep}\n"
		  "    - {where: json, name: $.audit.ip, action: redact}\n");
	cr_expect_str_eq(
	    json_out(t, "{\"audit\": {\"by\": \"ann@example.org\", "
			"\"password\": \"x\", \"ip\": \"1.2.3.4\"}, "
			"\"e\": \"ann@example.org\"}"),
	    "{\"audit\": {\"by\": \"ann@example.org\", \"password\": \"x\", "
	    "\"ip\": \"[REDACTED]\"}, \"e\": \"" ANN "\"}");
	tm_free(t);
}

Test(json, ndjson_lines)
{
	tmask_t *t = tm_new("");
	const char *hs[] = {"Content-Type: application/x-ndjson", NULL};
	cr_assert_eq(tm_req(t, "POST", "/", hs,
			    "{\"e\":\"ann@example.org\"}\n{\"e\":\"x\"}\n"),
		     0);
	cr_expect_str_eq(tm_body(t), "{\"e\":\"" ANN "\"}\n{\"e\":\"x\"}\n");
	tm_free(t);
}

Test(json, deep_nesting_within_the_limit)
{
	tmask_t *t = tm_new("");
	char b[600];
	memset(b, '[', 256);
	memset(b + 256, ']', 256);
	b[512] = '\0';
	cr_expect_str_eq(json_out(t, b), b);
	tm_free(t);
}

/* ----------------------------------------------------------- form */

Test(form, values_and_keys)
{
	tmask_t *t = tm_new("");
	cr_expect_str_eq(form_out(t, "a=1&email=ann%40example.org&b=x+y"),
			 "a=1&email=6a1384febc96%40example.com&b=x+y");
	cr_expect_str_eq(form_out(t, "ann%40example.org&x=1"),
			 "6a1384febc96%40example.com&x=1");
	const char *o = form_out(t, "q=hello+world&c=4111+1111+1111+1111");
	cr_expect_str_eq(o, "q=hello+world&c=4181+7662+4280+3988");
	/* Untouched bodies pass as they came, odd escapes included. */
	const char *b = "a=%7e&b=&&c=%20";
	cr_expect_str_eq(form_out(t, b), b);
	tm_free(t);
}

Test(form, sensitive_names_and_rules)
{
	tmask_t *t = rules("    - {where: form, name: token, action: drop}\n"
			   "    - {where: form, name: note, action: redact}\n"
			   "    - {where: form, name: bio, action: keep}\n");
	cr_expect_str_eq(form_out(t, "a=1&token=abc&b=2"), "a=1&b=2");
	cr_expect_str_eq(form_out(t, "token=abc&b=2"), "b=2");
	cr_expect_str_eq(form_out(t, "b=2&token=abc"), "b=2");
	cr_expect_str_eq(form_out(t, "token=1&token=2"), "");
	cr_expect_str_eq(form_out(t, "note=hi+there&x=1"),
			 "note=%5BREDACTED%5D&x=1");
	cr_expect_str_eq(form_out(t, "bio=ann%40example.org"),
			 "bio=ann%40example.org");
	const char *o = form_out(t, "passwd=Hunter2");
	cr_expect_eq(strncmp(o, "passwd=", 7), 0);
	cr_expect_eq(strlen(o), 14);
	cr_expect_str_neq(o, "passwd=Hunter2");
	tm_free(t);
}

/* ----------------------------------------------------------- target */

Test(target, path_segments_and_query)
{
	tmask_t *t = tm_new("");
	cr_expect_str_eq(target_out(t, "/u/ann%40example.org/x?email=ann@"
				       "example.org&page=2"),
			 "/u/" ANN
			 "/x?email=6a1384febc96%40example.com&page=2");
	cr_expect_str_eq(target_out(t, "/a/b?x=1&y=%zz"), "/a/b?x=1&y=%zz");
	cr_expect_str_eq(target_out(t, "*"), "*");
	cr_expect_str_eq(target_out(t, "/only/path"), "/only/path");
	cr_expect_str_eq(target_out(t, "/?ann@example.org"),
			 "/?6a1384febc96%40example.com");
	cr_expect_str_eq(target_out(t, "/p#frag"), "/p#frag");
	tm_free(t);
}

Test(target, absolute_form_userinfo)
{
	tmask_t *t = tm_new("  actions: {auth: redact}\n");
	cr_expect_str_eq(target_out(t, "http://bob:pw@shop.example/p?q=1"),
			 "http://%5BREDACTED%5D@shop.example/p?q=1");
	cr_expect_str_eq(target_out(t, "http://shop.example/ann@example.org"),
			 "http://shop.example/" ANN);
	tm_free(t);
}

Test(target, query_rules)
{
	tmask_t *t = rules("    - {where: query, name: sig, action: drop}\n");
	cr_expect_str_eq(target_out(t, "/x?a=1&sig=abc&b=2"), "/x?a=1&b=2");
	cr_expect_str_eq(target_out(t, "/x?sig=abc"), "/x?");
	tm_free(t);
}

/* ----------------------------------------------------------- multipart */

static const char *mp_out(tmask_t *t, const char *boundary, const char *body)
{
	char ct[128];
	snprintf(ct, sizeof(ct), "Content-Type: multipart/form-data; %s",
		 boundary);
	const char *hs[] = {ct, NULL};
	int rc = tm_req(t, "POST", "/", hs, body);
	cr_assert_eq(rc, 0, "%s", mask_ctx_error(t->c));
	return tm_body(t);
}

Test(multipart, fields_files_and_json_parts)
{
	tmask_t *t = tm_new("");
	const char *b =
	    "preamble ann@example.org\r\n"
	    "--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n"
	    "ann@example.org\r\n"
	    "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; "
	    "filename=\"ann@example.org.csv\"\r\nContent-Type: text/csv\r\n"
	    "\r\nid,mail\r\n1,ann@example.org\r\n"
	    "--XyZ\r\nContent-Disposition: form-data; name=\"j\"\r\n"
	    "Content-Type: application/json\r\n\r\n{\"e\": "
	    "\"ann@example.org\"}\r\n"
	    "--XyZ--\r\nepilogue";
	const char *want =
	    "preamble " ANN "\r\n"
	    "--XyZ\r\nContent-Disposition: form-data; "
	    "name=\"email\"\r\n\r\n" ANN "\r\n"
	    /* "ann@example.org.csv" reads as an address at example.org.csv
	     * (csv could be a top-level domain): masked whole. */
	    "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; "
	    "filename=\"ab12979b1d05@example.com\"\r\nContent-Type: "
	    "text/csv\r\n"
	    "\r\nid,mail\r\n1," ANN "\r\n"
	    "--XyZ\r\nContent-Disposition: form-data; name=\"j\"\r\n"
	    "Content-Type: application/json\r\n\r\n{\"e\": \"" ANN "\"}\r\n"
	    "--XyZ--\r\nepilogue";
	cr_expect_str_eq(mp_out(t, "boundary=XyZ", b), want);
	tm_free(t);
}

Test(multipart, names_rules_and_lf_only)
{
	tmask_t *t =
	    rules("    - {where: form, name: drop_me, action: drop}\n");
	const char *b = "--b\nContent-Disposition: form-data; name=\"a\"\n\nx\n"
			"--b\nContent-Disposition: form-data; name=drop_me\n\n"
			"gone\n--b\nContent-Disposition: form-data; "
			"name=\"password\"\n\nhunter2\n--b--\n";
	const char *o = mp_out(t, "boundary=\"b\"", b);
	cr_expect_null(strstr(o, "gone"));
	cr_expect_null(strstr(o, "drop_me"));
	cr_expect_null(strstr(o, "hunter2"));
	cr_expect_not_null(strstr(o, "name=\"a\"\n\nx\n--b\nContent"));
	cr_expect_not_null(strstr(o, "--b--\n"));
	tm_free(t);
}

Test(multipart, untouched_is_identical)
{
	tmask_t *t = tm_new("");
	const char *b = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n"
			"\r\n\x01\x02\xff binary\r\n--b--";
	mp_out(t, "boundary=b", b);
	cr_expect_not(mask_ctx_report(t->c)->body_changed);
	cr_expect_str_eq(tm_body(t), b);
	tm_free(t);
}

/* ----------------------------------------------------------- text */

Test(text, plain_and_decoded_views)
{
	tmask_t *t = tm_new("");
	cr_expect_str_eq(tm_text(t, "to ann@example.org."), "to " ANN ".");
	cr_expect_str_eq(tm_text(t, "GET /x?e=ann%40example.org&y=1"),
			 "GET /x?e=6a1384febc96%40example.com&y=1");
	cr_expect_str_eq(tm_text(t, "{\"e\":\"ann\\u0040example.org\"}"),
			 "{\"e\":\"" ANN "\"}");
	cr_expect_str_eq(tm_text(t, "card=4111%201111%201111%201111!"),
			 "card=4181%207662%204280%203988!");
	cr_expect_str_eq(tm_text(t, "nothing 100% here \\o/"),
			 "nothing 100% here \\o/");
	tm_free(t);
}

/* A replacement changes its neighbours' context: another round runs
 * unless the text beside it can hold no match (mask__detect_inert). */
Test(text, rounds_settle_only_beside_inert_text)
{
	tmask_t *t = tm_new("");
	/* the phone after the (percent-encoded) e-mail is found in the
	 * second round, once the e-mail is a boundary */
	cr_expect_str_eq(tm_text(t, "ann%40example.org+396090950)"),
			 "6a1384febc96%40example.com+396409438)");
	cr_expect_str_eq(tm_text(t, "4111 1111 1111 1111 2345@example.com"),
			 "4181 7662 4280 3988 bd19a079c7dd@example.com");
	/* nothing to find beside it: one round, same answer */
	cr_expect_str_eq(tm_text(t, "gift wrap, call ann@example.org"),
			 "gift wrap, call " ANN);
	cr_expect_str_eq(tm_text(t, "call 555 0100 ann@example.org"),
			 "call 555 0100 " ANN);
	cr_expect(mask__detect_inert("gift wrap, call ", 16));
	cr_expect_not(mask__detect_inert("call 555 ", 9));
	cr_expect_not(mask__detect_inert("x\\u0040y", 8));
	cr_expect_not(mask__detect_inert("x%40y", 5));
	cr_expect_not(mask__detect_inert("eyJ", 3));
	tm_free(t);
}

Test(text, detector_actions_and_disable)
{
	tmask_t *t =
	    tm_new("  redact_marker: '***'\n"
		   "  actions: {email: redact, phone: drop, ip: keep}\n"
		   "  disable: [card]\n");
	cr_expect_str_eq(tm_text(t, "a ann@example.org b +44 20 7946 0958 c "
				    "203.0.113.7 d 4111111111111111"),
			 "a *** b  c 203.0.113.7 d 4111111111111111");
	tm_free(t);
}

Test(text, pattern_rules)
{
	tmask_t *t =
	    rules("    - {where: pattern, pattern: '203\\.0\\.113\\.\\d+', "
		  "action: keep}\n"
		  "    - {where: pattern, pattern: 'acct-(\\d+)', replacement: "
		  "'acct-<$1>'}\n"
		  "    - {where: pattern, pattern: 'EMP\\d{6}', action: hash}\n"
		  "    - {where: pattern, pattern: 'DROPME ', action: drop}\n"
		  "    - {where: pattern, pattern: 'sec\\w+'}\n");
	const char *o = tm_text(t, "ip 203.0.113.7 and 198.51.100.7, acct-42, "
				   "EMP123456, DROPME x, secret");
	cr_expect_eq(strncmp(o, "ip 203.0.113.7 and 10.", 22), 0, "%s", o);
	cr_expect_not_null(strstr(o, ", acct-<42>, "), "%s", o);
	cr_expect_null(strstr(o, "EMP123456"), "%s", o);
	cr_expect_not_null(strstr(o, ", x, [REDACTED]"), "%s", o);
	char emp[16];
	cr_assert_not_null(strstr(o, ">, "));
	snprintf(emp, sizeof(emp), "%.9s", strstr(o, ">, ") + 3);
	cr_expect_eq(strspn(emp, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), 9,
		     "%s", emp);
	tm_free(t);
}

/* ----------------------------------------------------------- codings */

static size_t gz(const char *s, int wbits, char *out, size_t cap)
{
	z_stream z = {0};
	deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)s;
	z.avail_in = (uInt)strlen(s);
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	size_t n = cap - z.avail_out;
	deflateEnd(&z);
	return n;
}

static void coding_round_trip(const char *coding, int wbits)
{
	tmask_t *t = tm_new("");
	char z[512];
	size_t n = gz("{\"e\": \"ann@example.org\"}", wbits, z, sizeof(z));
	char ce[64];
	snprintf(ce, sizeof(ce), "Content-Encoding: %s", coding);
	const char *hs[] = {HDR_JSON, ce, NULL};
	cr_assert_eq(tm_req_n(t, "POST", "/", hs, z, n), 0, "%s",
		     mask_ctx_error(t->c));
	const mask_report_t *r = mask_ctx_report(t->c);
	buf_t dec = BUF_INIT;
	cr_assert(inflate_any(tm_body(t), r->body_len, &dec));
	cr_expect_str_eq(dec.data, "{\"e\": \"" ANN "\"}");
	cr_expect_str_eq(header_out(t, "Content-Encoding"), coding);
	/* The same wrapping as came in. */
	const unsigned char *b = (const unsigned char *)tm_body(t);
	if (wbits > 15)
		cr_expect(b[0] == 0x1f && b[1] == 0x8b);
	else if (wbits > 0)
		cr_expect_eq(b[0] & 0x0f, 8);
	buf_free(&dec);
	/* Untouched coded bodies pass byte for byte. */
	n = gz("{\"e\": \"nothing\"}", wbits, z, sizeof(z));
	cr_assert_eq(tm_req_n(t, "POST", "/", hs, z, n), 0);
	cr_expect_eq(mask_ctx_report(t->c)->body_len, n);
	cr_expect_eq(memcmp(tm_body(t), z, n), 0);
	tm_free(t);
}

Test(codings, gzip)
{
	coding_round_trip("gzip", 15 + 16);
}

Test(codings, deflate_zlib)
{
	coding_round_trip("deflate", 15);
}

Test(codings, deflate_raw)
{
	coding_round_trip("deflate", -15);
}

Test(codings, two_gzip_members_and_stacked_codings)
{
	tmask_t *t = tm_new("");
	char z[1024], z2[1024];
	size_t a = gz("to ann@", 31, z, sizeof(z));
	size_t b = gz("example.org", 31, z + a, sizeof(z) - a);
	const char *hs[] = {"Content-Type: text/plain",
			    "Content-Encoding: gzip", NULL};
	cr_assert_eq(tm_req_n(t, "POST", "/", hs, z, a + b), 0, "%s",
		     mask_ctx_error(t->c));
	buf_t dec = BUF_INIT;
	cr_assert(
	    inflate_any(tm_body(t), mask_ctx_report(t->c)->body_len, &dec));
	cr_expect_str_eq(dec.data, "to " ANN);
	/* gzip, then deflate on top: undone in reverse. */
	size_t n = gz("ann@example.org", 31, z, sizeof(z));
	z[n] = '\0';
	z_stream s = {0};
	deflateInit2(&s, 6, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY);
	s.next_in = (Bytef *)z;
	s.avail_in = (uInt)n;
	s.next_out = (Bytef *)z2;
	s.avail_out = sizeof(z2);
	deflate(&s, Z_FINISH);
	size_t n2 = sizeof(z2) - s.avail_out;
	deflateEnd(&s);
	const char *hs2[] = {"Content-Type: text/plain",
			     "Content-Encoding: gzip, deflate", NULL};
	cr_assert_eq(tm_req_n(t, "POST", "/", hs2, z2, n2), 0, "%s",
		     mask_ctx_error(t->c));
	buf_t d1 = BUF_INIT, d2 = BUF_INIT;
	cr_assert(
	    inflate_any(tm_body(t), mask_ctx_report(t->c)->body_len, &d1));
	cr_assert(inflate_any(d1.data, d1.len, &d2));
	cr_expect_str_eq(d2.data, ANN);
	buf_free(&dec);
	buf_free(&d1);
	buf_free(&d2);
	tm_free(t);
}

/* ----------------------------------------------------------- headers */

Test(headers, framing)
{
	tmask_t *t = tm_new("");
	const char *hs[] = {
	    "Host: 203.0.113.7:8080",	"Transfer-Encoding: chunked",
	    "Trailer: X-Sum",		"Content-Length: 99",
	    "Content-Type: text/plain", NULL};
	cr_assert_eq(tm_req(t, "POST", "/p", hs, "mail ann@example.org"), 0);
	char want[512];
	snprintf(
	    want, sizeof(want),
	    "POST /p HTTP/1.1\r\nHost: 203.0.113.7:8080\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\nmail " ANN,
	    strlen("mail " ANN));
	cr_expect_str_eq(t->out.data, want);
	/* No body, no framing: no Content-Length. */
	cr_assert_eq(tm_req(t, "GET", "/", NULL, NULL), 0);
	cr_expect_str_eq(t->out.data, "GET / HTTP/1.1\r\n\r\n");
	/* An empty body that was framed keeps a Content-Length: 0. */
	const char *hs2[] = {"Content-Length: 0", NULL};
	cr_assert_eq(tm_req(t, "POST", "/", hs2, ""), 0);
	cr_expect_str_eq(t->out.data,
			 "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	tm_free(t);
}

Test(headers, digests_dropped_only_when_the_body_changed)
{
	tmask_t *t = tm_new("");
	const char *hs[] = {"Content-MD5: abc", "Digest: sha-256=x",
			    "Content-Type: text/plain", NULL};
	cr_assert_eq(tm_req(t, "POST", "/", hs, "ann@example.org"), 0);
	cr_expect_null(header_out(t, "Content-MD5"));
	cr_expect_null(header_out(t, "Digest"));
	cr_assert_eq(tm_req(t, "POST", "/", hs, "nothing"), 0);
	cr_expect_str_eq(header_out(t, "Content-MD5"), "abc");
	tm_free(t);
}

Test(headers, authorization)
{
	tmask_t *t = tm_new("");
	const char *hs[] = {"Authorization: Bearer abcDEF123.xyz",
			    "Proxy-Authorization: Basic dXNlcjpwYXNz",
			    "X-Api-Key: sk_live_0123456789", NULL};
	cr_assert_eq(tm_req(t, "GET", "/", hs, NULL), 0);
	const char *a = header_out(t, "Authorization");
	cr_expect_eq(strncmp(a, "Bearer ", 7), 0);
	cr_expect_eq(strlen(a), strlen("Bearer abcDEF123.xyz"));
	cr_expect_str_neq(a, "Bearer abcDEF123.xyz");
	cr_expect_eq(a[16], '.');
	cr_expect_eq(strncmp(header_out(t, "Proxy-Authorization"), "Basic ", 6),
		     0);
	cr_expect_str_neq(header_out(t, "Proxy-Authorization"),
			  "Basic dXNlcjpwYXNz");
	const char *k = header_out(t, "X-Api-Key");
	cr_expect_eq(strlen(k), strlen("sk_live_0123456789"));
	cr_expect_eq(k[2], '_');
	tm_free(t);

	t = tm_new("  actions: {auth: redact}\n");
	cr_assert_eq(tm_req(t, "GET", "/", hs, NULL), 0);
	cr_expect_str_eq(header_out(t, "Authorization"), "Bearer [REDACTED]");
	cr_expect_str_eq(header_out(t, "X-Api-Key"), "[REDACTED]");
	tm_free(t);

	t = tm_new("  actions: {auth: drop}\n");
	cr_assert_eq(tm_req(t, "GET", "/", hs, NULL), 0);
	cr_expect_str_eq(t->out.data, "GET / HTTP/1.1\r\n\r\n");
	tm_free(t);
}

Test(headers, cookies)
{
	tmask_t *t = tm_new("");
	const char *hs[] = {"Cookie: sid=abc123; theme=\"dark\"; flag", NULL};
	cr_assert_eq(tm_req(t, "GET", "/", hs, NULL), 0);
	const char *c = header_out(t, "Cookie");
	char sid[8], theme[8];
	cr_assert_eq(
	    sscanf(c, "sid=%6[a-z0-9]; theme=\"%4[a-z]\"; flag", sid, theme), 2,
	    "%s", c);
	cr_expect_str_neq(sid, "abc123");
	cr_expect_str_neq(theme, "dark");
	tm_free(t);

	t = tm_new("  actions: {cookie: drop}\n");
	cr_assert_eq(tm_req(t, "GET", "/", hs, NULL), 0);
	cr_expect_null(header_out(t, "Cookie"));
	tm_free(t);

	/* A header rule overrides the built-in. */
	t = rules("    - {where: header, name: cookie, action: keep}\n");
	cr_assert_eq(tm_req(t, "GET", "/", hs, NULL), 0);
	cr_expect_str_eq(header_out(t, "Cookie"),
			 "sid=abc123; theme=\"dark\"; flag");
	tm_free(t);
}

Test(headers, others)
{
	tmask_t *t =
	    rules("    - {where: header, name: X-Customer-Id, action: hash}\n"
		  "    - {where: header, name: X-Drop, action: drop}\n");
	const char *hs[] = {"X-Forwarded-For: 203.0.113.7, 198.51.100.2",
			    "X-Auth-Token: t0k3n",
			    "X-Customer-Id: C-1001",
			    "X-Drop: x",
			    "Accept-Language: en-US",
			    "User-Agent: Mozilla/5.0 Chrome/120.0.0.0",
			    NULL};
	cr_assert_eq(tm_req(t, "GET", "/", hs, NULL), 0);
	const char *x = header_out(t, "X-Forwarded-For");
	cr_expect_eq(strncmp(x, "10.", 3), 0, "%s", x);
	cr_expect_not_null(strstr(x, ", 10."), "%s", x);
	cr_expect_str_neq(header_out(t, "X-Auth-Token"), "t0k3n");
	cr_expect_eq(strlen(header_out(t, "X-Customer-Id")), 6);
	cr_expect_str_neq(header_out(t, "X-Customer-Id"), "C-1001");
	cr_expect_null(header_out(t, "X-Drop"));
	cr_expect_str_eq(header_out(t, "User-Agent"),
			 "Mozilla/5.0 Chrome/120.0.0.0");
	tm_free(t);
}

/* ----------------------------------------------------------- response */

Test(response, status_line_set_cookie_and_body)
{
	tmask_t *t = tm_new("");
	mask_header_t h[3];
	const char *hs[] = {"Set-Cookie: sid=abc123; Path=/; HttpOnly",
			    "Content-Type: application/json",
			    "Transfer-Encoding: chunked", NULL};
	size_t nh = tm_headers(hs, h);
	const char *body = "{\"email\":\"ann@example.org\"}";
	mask_response_t r = {404,  "Not Found",	 9,    h, nh,
			     body, strlen(body), false};
	cr_assert_eq(mask_response(t->c, &r, &t->out), 0);
	const char *o = t->out.data;
	cr_expect_eq(
	    strncmp(o, "HTTP/1.1 404 Not Found\r\nSet-Cookie: sid=", 40), 0,
	    "%s", o);
	cr_expect_not_null(strstr(o, "; Path=/; HttpOnly\r\n"));
	cr_expect_null(strstr(o, "abc123"));
	cr_expect_null(strstr(o, "chunked"));
	cr_expect_not_null(strstr(o, "{\"email\":\"" ANN "\"}"));
	tm_free(t);
}

Test(response, head_response_keeps_its_length)
{
	tmask_t *t = tm_new("");
	mask_header_t h[2];
	const char *hs[] = {"Content-Length: 1234", "X-Ip: 203.0.113.7", NULL};
	size_t nh = tm_headers(hs, h);
	mask_response_t r = {200, "OK", 2, h, nh, NULL, 0, true};
	cr_assert_eq(mask_response(t->c, &r, &t->out), 0);
	cr_expect_not_null(strstr(t->out.data, "\r\nContent-Length: 1234\r\n"));
	cr_expect_null(strstr(t->out.data, "203.0.113.7"));
	/* A bodiless 200 that is not HEAD says Content-Length: 0. */
	r.no_body = false;
	cr_assert_eq(mask_response(t->c, &r, &t->out), 0);
	tm_free(t);
}

/* ----------------------------------------------------------- report */

Test(report, counts_and_hits_in_message_order)
{
	tmask_t *t = tm_new("");
	mask_ctx_detail(t->c, true);
	const char *hs[] = {"Authorization: Bearer x", HDR_JSON, NULL};
	cr_assert_eq(tm_req(t, "POST", "/u/ann@example.org?p=203.0.113.9", hs,
			    "{\"a\": [{\"b\": \"4111111111111111\"}], "
			    "\"password\": \"x\"}"),
		     0);
	const mask_report_t *r = mask_ctx_report(t->c);
	cr_expect_eq(r->total, 5);
	cr_expect_eq(r->counts[CONFIG_MASK_DET_email], 1);
	cr_expect_eq(r->counts[CONFIG_MASK_DET_ip], 1);
	cr_expect_eq(r->counts[CONFIG_MASK_DET_auth], 1);
	cr_expect_eq(r->counts[CONFIG_MASK_DET_card], 1);
	cr_expect_eq(r->counts[CONFIG_MASK_DET_keys], 1);
	cr_expect(r->body_changed);
	buf_t s = BUF_INIT;
	mask_report_format(t->m, r, &s);
	cr_expect_str_eq(s.data, "path      /2: email -> hash\n"
				 "query     p: ip -> hash\n"
				 "header    Authorization: auth -> hash\n"
				 "json      $.a[0].b: card -> hash\n"
				 "json      $.password: keys -> hash\n");
	buf_free(&s);
	/* Rules name themselves. */
	tm_free(t);
	t = rules("    - {where: json, name: $.x, action: redact}\n");
	mask_ctx_detail(t->c, true);
	json_out(t, "{\"x\": 1}");
	buf_t s2 = BUF_INIT;
	mask_report_format(t->m, mask_ctx_report(t->c), &s2);
	cr_expect_str_eq(s2.data,
			 "json      $.x: rules[0] (json $.x) -> redact\n");
	cr_expect_eq(mask_nsources(t->m), CONFIG_MASK_DET__COUNT + 1);
	cr_expect_str_eq(mask_source_name(t->m, CONFIG_MASK_DET__COUNT),
			 "rules[0]");
	buf_free(&s2);
	tm_free(t);
}

Test(report, appends_to_what_the_buffer_holds)
{
	tmask_t *t = tm_new("");
	buf_puts(&t->out, "PREFIX");
	mask_request_t r = {"GET", 3, "/", 1, NULL, 0, NULL, 0};
	cr_assert_eq(mask_request(t->c, &r, &t->out), 0);
	cr_expect_str_eq(t->out.data, "PREFIXGET / HTTP/1.1\r\n\r\n");
	cr_expect_eq(mask_ctx_report(t->c)->head_len, 18);
	tm_free(t);
}

/* ----------------------------------------------------------- compile */

static void bad_config(const char *mask_yaml, const char *msg)
{
	char yaml[2048];
	snprintf(yaml, sizeof(yaml),
		 "service: t\nproduction:\n  upstreams: [127.0.0.1:1]\n"
		 "mask:\n%s",
		 mask_yaml);
	config_t *cfg;
	config_errors_t errs = {0};
	int rc = config_load_string("t.yaml", yaml, strlen(yaml), "/tmp", &cfg,
				    &errs);
	cr_assert_eq(rc, 0);
	mask_t *m = NULL;
	buf_t err = BUF_INIT;
	cr_expect_eq(mask_new_with_key(&cfg->mask, test_key, 32, &m, &err),
		     ERR_CONFIG);
	cr_expect_null(m);
	cr_expect_not_null(err.data && strstr(err.data, msg), "%s", err.data);
	buf_free(&err);
	config_free(cfg);
}

Test(compile, bad_rules_are_named)
{
	bad_config(
	    "  rules:\n    - {where: json, name: '$.a[', action: drop}\n",
	    "mask.rules[0].name: bad JSON path \"$.a[\"");
	bad_config("  rules:\n    - {where: json, name: '$..', action: drop}\n",
		   "empty name");
	bad_config(
	    "  rules:\n    - {where: json, name: \"$['x\", action: drop}\n",
	    "unterminated quoted name");
	bad_config("  rules:\n    - {where: json, name: '$a', action: drop}\n",
		   "expected '.' or '['");
	bad_config(
	    "  rules:\n    - {where: header, name: 'X Y', action: drop}\n",
	    "is not a header name");
	bad_config("  rules:\n    - {where: pattern, pattern: 'a', "
		   "replacement: \"x\\ny\"}\n",
		   "mask.rules[0].replacement");
	bad_config("  redact_marker: \"a\\r\\nb\"\n", "mask.redact_marker");
}

Test(compile, key_size_is_checked)
{
	config_t *cfg = config_new_default("t");
	mask_t *m;
	cr_expect_eq(mask_new_with_key(&cfg->mask, test_key, 8, &m, NULL),
		     ERR_RANGE);
	config_free(cfg);
}

Test(text, replacement_syntax)
{
	tmask_t *t =
	    rules("    - {where: pattern, pattern: 'id=(?<num>\\d+)(x)?', "
		  "replacement: '$$ ${num} ${1} $2 $9 $x ${nope}'}\n");
	cr_expect_str_eq(tm_text(t, "a id=42 b"), "a $ 42 42   $x ${nope} b");
	tm_free(t);
}

/* Found by fuzzing: a rule's match is a boundary for the detectors, not
 * a reason to drop what runs into it. */
Test(text, rule_matches_bound_detector_matches)
{
	tmask_t *t = rules("    - {where: pattern, pattern: 'acct-\\d+'}\n");
	cr_expect_str_eq(tm_text(t, "ann@example.orgacct-42"),
			 ANN "[REDACTED]");
	tm_free(t);
}

/* Found by fuzzing: "://" inside the query is not an absolute-form. */
Test(target, scheme_only_at_the_start)
{
	tmask_t *t = tm_new("");
	cr_expect_str_eq(
	    target_out(t, "/a/ann@example.org?next=https://u:p@x/"),
	    "/a/" ANN "?next=https://u:p@x/");
	tm_free(t);
}

/* Found by fuzzing: a key of any length is checked for sensitive names. */
Test(form, long_keys_are_names_too)
{
	tmask_t *t = tm_new("  actions: {keys: redact}\n");
	char b[600];
	memset(b, 'x', 300);
	strcpy(b + 300, "_Pass-Word=secret1");
	char want[600];
	memset(want, 'x', 300);
	strcpy(want + 300, "_Pass-Word=%5BREDACTED%5D");
	cr_expect_str_eq(form_out(t, b), want);
	tm_free(t);
}

Test(codings, decoded_output_for_comparing)
{
	tmask_t *t = tm_new("");
	char z[512];
	size_t n = gz("{\"e\": \"ann@example.org\"}", 31, z, sizeof(z));
	mask_header_t h[2] = {{"Content-Type", 12, "application/json", 16},
			      {"Content-Encoding", 16, "gzip", 4}};
	mask_response_t r = {200, "OK", 2, h, 2, z, n, false, true};
	cr_assert_eq(mask_response(t->c, &r, &t->out), 0);
	cr_expect_null(strstr(t->out.data, "Content-Encoding"));
	cr_expect_str_eq(tm_body(t), "{\"e\": \"" ANN "\"}");
	/* Decoded even when nothing was masked. */
	n = gz("{\"e\": 1}", 31, z, sizeof(z));
	r.body_len = n;
	buf_reset(&t->out);
	cr_assert_eq(mask_response(t->c, &r, &t->out), 0);
	cr_expect_str_eq(tm_body(t), "{\"e\": 1}");
	tm_free(t);
}
