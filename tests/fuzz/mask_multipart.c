/*
 * mask_multipart.c: fuzz target for the multipart walker (boundary
 * "BOUNDARY"). Invariants: success or a fail-closed reason of its own
 * (or of a part's walker); on success the output masks again and holds as
 * many delimiters as the input, less the dropped parts; same input, same
 * output; redacting reaches a fixed point.
 */
#include "mask_fuzz.h"

/* Delimiters up to and including the closing one (lines after it are
 * epilogue text, not structure). */
static size_t delims(const char *s, size_t n)
{
	size_t k = 0;
	const char *d = "--BOUNDARY";
	for (size_t i = 0; i + 10 <= n; i++)
		if ((i == 0 || s[i - 1] == '\n') && memcmp(s + i, d, 10) == 0) {
			k++;
			if (i + 12 <= n && s[i + 10] == '-' && s[i + 11] == '-')
				break;
		}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *hs[] = {
	    "Content-Type: multipart/form-data; boundary=BOUNDARY"};
	fz_t *f = fz_hashing();
	buf_t out = BUF_INIT;
	int rc = fz_post(f, hs, 1, s, size, &out);
	mask_reason_t why = mask_ctx_reason(f->c);
	if (rc && why != MASK_R_BAD_MULTIPART && why != MASK_R_BAD_JSON &&
	    why != MASK_R_BAD_FORM)
		abort();
	if (rc == 0 && size) {
		size_t bn;
		const char *b = fz_body(f, &out, &bn);
		uint32_t dropped =
		    mask_ctx_report(f->c)->counts[CONFIG_MASK_DET__COUNT + 3];
		if (delims(b, bn) + dropped != delims(s, size)) {
			fprintf(stderr, "delimiters %zu + %u != %zu\n",
				delims(b, bn), dropped, delims(s, size));
			abort();
		}
		char *copy = malloc(bn + 1);
		memcpy(copy, b, bn);
		buf_t again = BUF_INIT;
		if (fz_post(f, hs, 1, copy, bn, &again) != 0)
			abort();
		buf_free(&again);
		free(copy);
	}
	buf_free(&out);
	fz_same_twice(f, hs, 1, s, size);
	fz_fixed_point(hs, 1, s, size);
	return 0;
}
