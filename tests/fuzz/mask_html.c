/*
 * mask_html.c: fuzz target for the HTML character reference decoder
 * (value.c's HTML view: "&#64;", "&#x40;", "&commat;") on text/html
 * bodies. Invariants: an HTML body never fails (but for one starting
 * with a UTF-16 BOM that does not decode: bad_charset); masking never grows the
 * body past its bound (each value's replacement is at most four times
 * the shortest value it replaces, plus a constant, escaped: see below);
 * redacting reaches a fixed point, so no detected value is left in any
 * view (references decoded); with nothing found the body is byte
 * identical; same input, same output.
 */
#include "mask_fuzz.h"

/* A 6-byte e-mail address "a@b.co" hashes to 24 bytes (12 hex digits
 * "@example.com"): no replacement is longer than 4x what it replaces,
 * and the redact marker escaped for HTML is 18 bytes for at least 6. */
#define GROWTH 4
#define SLACK 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *hs[] = {"Content-Type: text/html; charset=utf-8"};
	fz_t *f = fz_hashing();
	buf_t out = BUF_INIT;
	int rc = fz_post(f, hs, 1, s, size, &out);
	/* A UTF-16 BOM decides over the declared charset (as browsers do);
	 * UTF-16 that does not decode fails closed. */
	bool bom = size >= 2 && ((data[0] == 0xff && data[1] == 0xfe) ||
				 (data[0] == 0xfe && data[1] == 0xff));
	if (rc && !(bom && mask_ctx_reason(f->c) == MASK_R_BAD_CHARSET))
		abort();
	if (rc) {
		buf_free(&out);
		return 0;
	}
	size_t bn;
	fz_body(f, &out, &bn);
	if (bn > GROWTH * size + SLACK)
		abort();
	if (!mask_ctx_report(f->c)->total &&
	    mask_ctx_report(f->c)->body_changed)
		abort();
	fz_same_twice(f, hs, 1, s, size);
	if (fz_fixed_point(hs, 1, s, size) != 0)
		abort();
	buf_free(&out);
	return 0;
}
