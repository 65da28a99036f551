/*
 * mask_form.c: fuzz target for the urlencoded walker. Invariants: it
 * fails (BAD_FORM) exactly when the body holds an invalid percent escape;
 * the output's escapes are all valid; pairs are only ever removed by the
 * drop rule; same input, same output; redacting reaches a fixed point.
 */
#include "mask_fuzz.h"

static bool hexd(char c)
{
	return (c >= '0' && c <= '9') ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static bool escapes_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '%' &&
		    !(i + 2 < n && hexd(s[i + 1]) && hexd(s[i + 2])))
			return false;
	return true;
}

static size_t pairs(const char *s, size_t n)
{
	size_t k = 1;
	for (size_t i = 0; i < n; i++)
		k += s[i] == '&';
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *hs[] = {"Content-Type: application/x-www-form-urlencoded"};
	fz_t *f = fz_hashing();
	buf_t out = BUF_INIT;
	int rc = fz_post(f, hs, 1, s, size, &out);
	bool ok = escapes_ok(s, size);
	if (size && (rc == 0) != ok)
		abort();
	if (rc && mask_ctx_reason(f->c) != MASK_R_BAD_FORM)
		abort();
	if (rc == 0 && size) {
		size_t bn;
		const char *b = fz_body(f, &out, &bn);
		if (!escapes_ok(b, bn))
			abort();
		/* rules[3] is the form drop rule */
		uint32_t dropped =
		    mask_ctx_report(f->c)->counts[CONFIG_MASK_DET__COUNT + 3];
		if (!dropped && mask_ctx_report(f->c)->body_changed &&
		    pairs(b, bn) != pairs(s, size))
			abort();
	}
	buf_free(&out);
	fz_same_twice(f, hs, 1, s, size);
	fz_fixed_point(hs, 1, s, size);
	return 0;
}
