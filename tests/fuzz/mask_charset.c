/*
 * mask_charset.c: fuzz target for charset conversion (nested.c): the
 * input is a body sent as UTF-16LE, UTF-16BE (by charset or BOM) or
 * ISO-8859-1, as text or JSON (the first byte picks). Invariants: masking
 * succeeds or fails closed with bad_charset (odd length, lone surrogate,
 * a replacement the charset lacks), bad_json or too_deep, output
 * untouched; a body nothing matched is byte identical (fz_post); the
 * body never grows past its bound; redacting reaches a fixed point (no
 * detected value left once converted); same input, same output.
 */
#include "mask_fuzz.h"

/* UTF-16 doubles ASCII replacements: 4x what is replaced, twice. */
#define GROWTH 8
#define SLACK 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 16384)
		return 0;
	static const char *const cs[] = {
	    "charset=utf-16le", "charset=utf-16be", "charset=utf-16",
	    "charset=iso-8859-1", "charset=utf-8"};
	char h[128];
	snprintf(h, sizeof(h), "Content-Type: %s; %s",
		 data[0] & 8 ? "application/json" : "text/plain",
		 cs[(data[0] & 7) % 5]);
	const char *hs[] = {h};
	const char *body = (const char *)data + 1;
	size_t n = size - 1;
	fz_t *f = fz_hashing();
	buf_t out = BUF_INIT;
	int rc = fz_post(f, hs, 1, body, n, &out);
	if (rc) {
		mask_reason_t r = mask_ctx_reason(f->c);
		if (r != MASK_R_BAD_CHARSET && r != MASK_R_BAD_JSON &&
		    r != MASK_R_TOO_DEEP)
			abort();
	} else {
		size_t bn;
		fz_body(f, &out, &bn);
		if (bn > GROWTH * n + SLACK)
			abort();
	}
	fz_same_twice(f, hs, 1, body, n);
	fz_fixed_point(hs, 1, body, n);
	buf_free(&out);
	return 0;
}
