/*
 * mask_base64.c: fuzz target for the base64 layer (nested.c): the input
 * is a document, sent base64-encoded (the first byte picks standard or
 * URL-safe, padded or not) as a JSON string value and as a form field.
 * Invariants: masking succeeds or fails closed only for nesting past
 * MASK_NEST_MAX (too_deep); the body never grows past its bound (4x the
 * encoded value plus a constant: no replacement is longer than 4x what
 * it replaces); redacting reaches a fixed point, so no detected value is
 * left inside the decoded layer; same input, same output.
 */
#include "mask_fuzz.h"

#define GROWTH 4
#define SLACK 256

static void enc(buf_t *o, const uint8_t *s, size_t n, bool url, bool pad)
{
	const char *al = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
			       "uvwxyz0123456789-_"
			     : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
			       "uvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		size_t k = n - i >= 3 ? 4 : n - i + 1;
		for (size_t j = 0; j < 4; j++)
			if (j < k)
				buf_putc(o, al[v >> (18 - 6 * j) & 63]);
			else if (pad)
				buf_putc(o, '=');
	}
}

static void check(const char *ct, const char *body, size_t n)
{
	const char *hs[] = {ct};
	fz_t *f = fz_hashing();
	buf_t out = BUF_INIT;
	int rc = fz_post(f, hs, 1, body, n, &out);
	if (rc && mask_ctx_reason(f->c) != MASK_R_TOO_DEEP)
		abort();
	if (!rc) {
		size_t bn;
		fz_body(f, &out, &bn);
		if (bn > GROWTH * n + SLACK)
			abort();
	}
	fz_same_twice(f, hs, 1, body, n);
	fz_fixed_point(hs, 1, body, n);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 16384)
		return 0;
	bool url = data[0] & 1, pad = data[0] & 2;
	buf_t v = BUF_INIT, body = BUF_INIT;
	enc(&v, data + 1, size - 1, url, pad);
	buf_printf(&body, "{\"v\": \"%s\"}", v.data ? v.data : "");
	check("Content-Type: application/json", body.data, body.len);
	buf_reset(&body);
	buf_printf(&body, "a=1&v=%s", v.data ? v.data : "");
	/* '+' and '/' are form syntax: percent-encode them as clients do */
	buf_t form = BUF_INIT;
	for (size_t i = 0; i < body.len; i++) {
		char ch = body.data[i];
		if (ch == '+' || ch == '/' || ch == '=')
			buf_printf(&form, "%%%02X", (unsigned char)ch);
		else
			buf_putc(&form, ch);
	}
	check("Content-Type: application/x-www-form-urlencoded", form.data,
	      form.len);
	buf_free(&v);
	buf_free(&body);
	buf_free(&form);
	return 0;
}
