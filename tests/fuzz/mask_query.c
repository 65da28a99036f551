/*
 * mask_query.c: fuzz target for the request target (path segments and
 * query). Invariants: a target with a space or control byte is refused
 * (BAD_MESSAGE); any other is masked, never refused; the masked target
 * has no space or control byte, as many path segments, and as many query
 * pairs unless the drop rule fired; same input, same output.
 */
#include "mask_fuzz.h"

static size_t count(const char *s, size_t n, char c, size_t *at)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == c && i >= *at;
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	fz_t *f = fz_hashing();
	bool bad = size == 0;
	for (size_t i = 0; i < size; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			bad = true;
	mask_request_t r = {"GET", 3, s, size, NULL, 0, NULL, 0};
	buf_t out = BUF_INIT, out2 = BUF_INIT;
	int rc = mask_request(f->c, &r, &out);
	if (bad != (rc != 0))
		abort();
	if (rc) {
		if (mask_ctx_reason(f->c) != MASK_R_BAD_MESSAGE || out.len)
			abort();
		return 0;
	}
	if (out.len < 4 + 11 || memcmp(out.data, "GET ", 4) != 0)
		abort();
	const char *t = out.data + 4;
	const char *end = strstr(t, " HTTP/1.1\r\n");
	if (!end || strcmp(end, " HTTP/1.1\r\n\r\n") != 0)
		abort();
	size_t tn = (size_t)(end - t);
	for (size_t i = 0; i < tn; i++)
		if ((unsigned char)t[i] <= 0x20 || t[i] == 0x7f)
			abort();
	/* Segments and pairs: the path ends at '?' or '#'. */
	const char *q1 = memchr(s, '?', size), *q2 = memchr(t, '?', tn);
	const char *h1 = memchr(s, '#', size);
	if (s[0] == '/' && (!h1 || !q1 || q1 < h1)) {
		size_t p1 = q1 ? (size_t)(q1 - s) : size;
		size_t p2 = q2 ? (size_t)(q2 - t) : tn;
		size_t z = 0;
		if (count(s, p1, '/', &z) != count(t, p2, '/', &z))
			abort();
		uint32_t dropped =
		    mask_ctx_report(f->c)->counts[CONFIG_MASK_DET__COUNT + 4];
		if (q1 && !dropped && !memchr(s, '#', size)) {
			size_t a = 0;
			if (!q2 || count(q1, size - p1, '&', &a) !=
				       count(q2, tn - p2, '&', &a))
				abort();
		}
	}
	rc = mask_request(f->c, &r, &out2);
	if (rc || out.len != out2.len || memcmp(out.data, out2.data, out.len))
		abort();
	buf_free(&out);
	buf_free(&out2);
	return 0;
}
