/*
 * http_request.c: fuzz target for the request parser. Invariants: slices
 * lie inside the input; names are tokens and values hold no CR/LF; feeding
 * the bytes one at a time (with `scanned` carried over) gives the same
 * outcome as all at once; a parsed head, rewritten by the proxy's writer,
 * parses again to the same method, target and framing, except that an
 * absolute-form target comes back in origin-form with Host its
 * authority; a target never holds '#', an authority never '@'.
 */
#include "base/buf.h"
#include "base/err.h"
#include "http/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAP 128

static void check_slice(const char *p, size_t n, const uint8_t *d, size_t len)
{
	if (n && ((const uint8_t *)p < d || (const uint8_t *)p + n > d + len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static http_header_t h1[CAP], h2[CAP], h3[CAP];
	http_limits_t lim = {512, 4096, 32};
	http_request_t r = {.headers = h1, .cap = CAP};
	http_err_t e1 = HTTP_E_NONE, e2 = HTTP_E_NONE;
	size_t sc = 0;
	const char *s = (const char *)data;
	int rc = http_parse_request(s, size, &sc, &lim, &r, &e1);
	if (rc > 0) {
		if ((size_t)rc > size || r.nheaders > lim.max_headers)
			abort();
		check_slice(r.method, r.method_len, data, size);
		check_slice(r.target, r.target_len, data, size);
		for (size_t i = 0; i < r.nheaders; i++) {
			check_slice(r.headers[i].name, r.headers[i].name_len,
				    data, size);
			check_slice(r.headers[i].value, r.headers[i].value_len,
				    data, size);
			if (!r.headers[i].name_len ||
			    memchr(r.headers[i].value, '\r',
				   r.headers[i].value_len) ||
			    memchr(r.headers[i].value, '\n',
				   r.headers[i].value_len))
				abort();
		}
		if (r.body == HTTP_BODY_CHUNKED && r.content_length)
			abort();
		if (memchr(r.target, '#', r.target_len) ||
		    (r.authority && memchr(r.authority, '@', r.authority_len)))
			abort();
		if (r.target_form == HTTP_TARGET_ABSOLUTE) {
			check_slice(r.authority, r.authority_len, data, size);
			check_slice(r.origin, r.origin_len, data, size);
			if (!r.authority_len)
				abort();
		}
	} else if (rc != ERR_AGAIN && rc != ERR_PARSE) {
		abort();
	}

	/* Incremental feeding must agree. */
	http_request_t r2 = {.headers = h2, .cap = CAP};
	size_t sc2 = 0;
	int rc2 = ERR_AGAIN;
	for (size_t len = 0; len <= size && rc2 == ERR_AGAIN; len++)
		rc2 = http_parse_request(s, len, &sc2, &lim, &r2, &e2);
	if (rc2 == ERR_PARSE && rc == ERR_PARSE && e1 != e2) {
		/* An early refusal (line too long, bare CR) may name the
		 * first problem seen; both must be refusals. */
	} else if (rc2 != rc && !(rc2 == ERR_PARSE && rc == ERR_PARSE)) {
		/* A prefix may be refused for length before the whole is:
		 * both outcomes must then be refusals. */
		if (!(rc2 == ERR_PARSE && (e2 == HTTP_E_LINE_TOO_LONG ||
					    e2 == HTTP_E_HEAD_TOO_LARGE ||
					    e2 == HTTP_E_BARE_CR)))
			abort();
	}

	/* Rewrite and re-parse. */
	if (rc > 0) {
		buf_t b = BUF_INIT;
		http_fwd_t f = {.client_ip = "10.0.0.1", .xff = true,
				.forwarded = true, .body = r.body,
				.content_length = r.content_length,
				.default_host = "up"};
		http_write_request_head(&b, &r, &f);
		http_limits_t big = {1 << 20, 1 << 20, CAP};
		http_request_t r3 = {.headers = h3, .cap = CAP};
		size_t sc3 = 0;
		http_err_t e3;
		int rc3 = http_parse_request(b.data, b.len, &sc3, &big, &r3,
					     &e3);
		/* the target production gets */
		buf_t want = BUF_INIT;
		if (r.target_form == HTTP_TARGET_ABSOLUTE && !r.origin_len &&
		    r.method_id == HTTP_M_OPTIONS) {
			buf_putc(&want, '*');
		} else if (r.target_form == HTTP_TARGET_ABSOLUTE) {
			if (r.origin_len == 0 || r.origin[0] != '/')
				buf_putc(&want, '/');
			buf_append(&want, r.origin, r.origin_len);
		} else {
			buf_append(&want, r.target, r.target_len);
		}
		if (rc3 != (int)b.len || r3.body != r.body ||
		    r3.content_length != r.content_length ||
		    r3.method_len != r.method_len ||
		    memcmp(r3.method, r.method, r.method_len) ||
		    r3.target_len != want.len ||
		    memcmp(r3.target, want.data, want.len) ||
		    r3.target_form == HTTP_TARGET_ABSOLUTE)
			abort();
		if (r.target_form == HTTP_TARGET_ABSOLUTE &&
		    (!r3.host || r3.host->value_len != r.authority_len ||
		     memcmp(r3.host->value, r.authority, r.authority_len)))
			abort();
		buf_free(&want);
		buf_free(&b);
	}
	return 0;
}
