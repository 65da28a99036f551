/*
 * mask_text.c: fuzz target for the text scan (detectors over the value
 * and its percent-decoded, JSON-unescaped and HTML-unescaped views, and
 * PCRE2 rules).
 * Invariants: text never fails; with nothing found the body is byte
 * identical; redacting, each hit becomes exactly one marker and a second
 * pass finds nothing (fixed point); same input, same output.
 */
#include "mask_fuzz.h"

static size_t markers(const char *s, size_t n)
{
	size_t k = 0;
	for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), MARK, 5));
	     p += 5)
		k++;
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *hs[] = {"Content-Type: text/plain"};
	fz_t *f = fz_hashing();
	buf_t out = BUF_INIT;
	if (fz_post(f, hs, 1, s, size, &out) != 0)
		abort();
	if (!mask_ctx_report(f->c)->total &&
	    mask_ctx_report(f->c)->body_changed)
		abort();
	fz_same_twice(f, hs, 1, s, size);
	if (fz_fixed_point(hs, 1, s, size) != 0)
		abort();
	/* One marker per hit (when the input had none of its own). */
	if (!memmem(s, size, "<<", 2) && !memmem(s, size, "%3C", 3) &&
	    !memmem(s, size, "&lt;", 4)) {
		fz_t *r = fz_redacting();
		if (fz_post(r, hs, 1, s, size, &out) != 0)
			abort();
		size_t bn;
		const char *b = fz_body(r, &out, &bn);
		/* Markers in a view are escaped ("%3C%3CM%3E%3E"), so count
		 * both spellings. */
		size_t k = markers(b, bn);
		static const char *const escs[] = {"%3C%3CM%3E%3E",
						   "&lt;&lt;M&gt;&gt;"};
		for (int e = 0; e < 2; e++)
			for (const char *p = b;
			     (p = memmem(p, bn - (size_t)(p - b), escs[e],
					 strlen(escs[e])));
			     p += strlen(escs[e]))
				k++;
		if (k != mask_ctx_report(r->c)->total) {
			fprintf(stderr, "%zu markers, %u hits\n", k,
				mask_ctx_report(r->c)->total);
			abort();
		}
	}
	buf_free(&out);
	return 0;
}
