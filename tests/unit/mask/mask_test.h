/*
 * mask_test.h: helpers shared by the masking tests: a masker from YAML
 * with a fixed key, one-call request/response masking, base64 and
 * gzip/deflate decoding of outputs. Static functions: each test binary
 * includes what it uses.
 */
#ifndef UMBRA_TESTS_MASK_TEST_H
#define UMBRA_TESTS_MASK_TEST_H

#include "base/buf.h"
#include "config/config.h"
#include "mask/mask.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The key every test uses unless it says otherwise. */
static const uint8_t test_key[32] = "umbra-test-key-0123456789abcdef";

typedef struct tmask {
	config_t *cfg;
	mask_t *m;
	mask_ctx_t *c;
	buf_t out;
} tmask_t;

/* A masker from a YAML mask section body ("" for the defaults), e.g.
 * "  disable: [ip]\n". */
__attribute__((unused)) static tmask_t *
tm_new_key(const char *mask_yaml, const uint8_t *key, size_t keylen)
{
	tmask_t *t = calloc(1, sizeof(*t));
	char yaml[8192];
	snprintf(yaml, sizeof(yaml),
		 "service: t\nproduction:\n  upstreams: [127.0.0.1:1]\n"
		 "mask:\n  key_file: /nonexistent/k\n%s",
		 mask_yaml);
	config_errors_t errs = {0};
	int rc = config_load_string("t.yaml", yaml, strlen(yaml), "/tmp",
				    &t->cfg, &errs);
	if (rc) {
		buf_t b = BUF_INIT;
		config_errors_format(&errs, &b);
		cr_assert_fail("config: %s", b.data);
	}
	config_errors_free(&errs);
	buf_t err = BUF_INIT;
	rc = mask_new_with_key(&t->cfg->mask, key, keylen, &t->m, &err);
	cr_assert_eq(rc, 0, "mask_new: %s", err.data ? err.data : "");
	buf_free(&err);
	t->c = mask_ctx_new(t->m);
	return t;
}

__attribute__((unused)) static tmask_t *tm_new(const char *mask_yaml)
{
	return tm_new_key(mask_yaml, test_key, sizeof(test_key));
}

__attribute__((unused)) static void tm_free(tmask_t *t)
{
	buf_free(&t->out);
	mask_ctx_free(t->c);
	mask_free(t->m);
	config_free(t->cfg);
	free(t);
}

/* Headers as "Name: value" strings, NULL-terminated. */
__attribute__((unused)) static size_t tm_headers(const char *const *hs,
						 mask_header_t *out)
{
	size_t n = 0;
	for (; hs && hs[n]; n++) {
		const char *colon = strchr(hs[n], ':');
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		out[n] = (mask_header_t){hs[n], (size_t)(colon - hs[n]), v,
					 strlen(v)};
	}
	return n;
}

/* Masks a request; returns the rc; the output is in t->out (reset). */
__attribute__((unused)) static int tm_req_n(tmask_t *t, const char *method,
					    const char *target,
					    const char *const *hs,
					    const char *body, size_t blen)
{
	mask_header_t h[64];
	size_t nh = tm_headers(hs, h);
	mask_request_t r = {method, strlen(method), target, strlen(target), h,
			    nh,	    body,	    blen};
	buf_reset(&t->out);
	return mask_request(t->c, &r, &t->out);
}

__attribute__((unused)) static int tm_req(tmask_t *t, const char *method,
					  const char *target,
					  const char *const *hs,
					  const char *body)
{
	return tm_req_n(t, method, target, hs, body, body ? strlen(body) : 0);
}

/* The body part of t->out. */
__attribute__((unused)) static const char *tm_body(tmask_t *t)
{
	return t->out.data + mask_ctx_report(t->c)->head_len;
}

/* Masks text as a text/plain body and returns the masked body. */
__attribute__((unused)) static const char *tm_text(tmask_t *t, const char *text)
{
	const char *hs[] = {"Content-Type: text/plain", NULL};
	int rc = tm_req(t, "POST", "/", hs, text);
	cr_assert_eq(rc, 0, "%s", mask_ctx_error(t->c));
	return tm_body(t);
}

__attribute__((unused)) static bool b64_dec(const char *s, buf_t *out)
{
	static const char *t =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	    "+/";
	uint32_t acc = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		const char *p = strchr(t, *s);
		if (!p)
			return false;
		acc = acc << 6 | (uint32_t)(p - t);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (char)(acc >> bits & 0xff));
		}
	}
	return true;
}

/* gzip or zlib (auto-detected) or raw deflate into out. */
__attribute__((unused)) static bool inflate_any(const char *s, size_t n,
						buf_t *out)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		z_stream z = {0};
		inflateInit2(&z, attempt ? -15 : 15 + 32);
		z.next_in = (Bytef *)s;
		z.avail_in = (uInt)n;
		buf_reset(out);
		int rc;
		do {
			buf_reserve(out, 65536);
			z.next_out = (Bytef *)out->data + out->len;
			z.avail_out = 65536;
			rc = inflate(&z, Z_NO_FLUSH);
			out->len += 65536 - z.avail_out;
		} while (rc == Z_OK);
		inflateEnd(&z);
		if (out->data)
			out->data[out->len] = '\0';
		if (rc == Z_STREAM_END)
			return true;
	}
	return false;
}

#endif
