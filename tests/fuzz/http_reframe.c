/*
 * http_reframe.c: fuzz target for the proxy's re-framing of chunked
 * request bodies (http_chunked_init_strict, http_write_chunk,
 * http_write_last_chunk). The input, after a first byte that picks the
 * slice size, is a chunked body as a client might send it. Invariants:
 *  - the re-framed output is canonical: each size line is lowercase hex
 *    without leading zeros or extensions, every line ends in CRLF, no
 *    empty chunk but the last, no trailers (checked here by a separate,
 *    simpler reader, not by the decoder under test);
 *  - the strict decoder reads the re-framed output back to the same body
 *    bytes, in one call and consuming all of it, done exactly when the
 *    input was complete; a body cut short or rejected re-frames to a
 *    clean prefix (no error, not done, the same bytes so far);
 *  - whatever the strict grammar accepts, the tolerant one accepts with
 *    the same data and length used.
 */
#include "base/buf.h"
#include "base/err.h"
#include "http/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	size_t used;
	int rc; /* 0, or ERR_PARSE */
	bool done;
} result_t;

/* Decodes s[0..len) in slices of step; data to *body, the re-framed
 * chunks to *wire (when wire is not NULL). */
static result_t decode(const char *s, size_t len, size_t step, bool strict,
		       buf_t *body, buf_t *wire)
{
	http_chunked_t c;
	if (strict)
		http_chunked_init_strict(&c, 256);
	else
		http_chunked_init(&c, 256);
	result_t r = {0};
	size_t i = 0;
	while (i < len && !c.done) {
		size_t avail = len - i < step ? len - i : step;
		const char *d;
		size_t dl;
		http_err_t e;
		ssize_t n = http_chunked_step(&c, s + i, avail, &d, &dl, &e);
		if (n < 0) {
			r.rc = (int)n;
			break;
		}
		if (n == 0)
			abort(); /* no progress with bytes available */
		if (dl) {
			if (d < s + i || d + dl > s + i + avail)
				abort();
			buf_append(body, d, dl);
		}
		if (wire) {
			http_write_chunk(wire, d, dl);
			if (c.done)
				http_write_last_chunk(wire);
		}
		i += (size_t)n;
	}
	r.used = i;
	r.done = c.done;
	return r;
}

/* The canonical form, read without the decoder: appends the data to
 * *body; returns 1 for a complete body that ends exactly at len, 0 for a
 * clean prefix that ends after a whole chunk, -1 for anything else. */
static int read_canonical(const char *s, size_t len, buf_t *body)
{
	size_t p = 0;
	while (p < len) {
		size_t q = p, size = 0;
		while (q < len && ((s[q] >= '0' && s[q] <= '9') ||
				   (s[q] >= 'a' && s[q] <= 'f'))) {
			if (q - p >= 2 * sizeof(size_t))
				return -1;
			size = size << 4 |
			       (size_t)(s[q] <= '9' ? s[q] - '0'
						    : s[q] - 'a' + 10);
			q++;
		}
		if (q == p || (s[p] == '0' && q - p > 1)) /* leading zero */
			return -1;
		if (len - q < 2 || s[q] != '\r' || s[q + 1] != '\n')
			return -1;
		q += 2;
		if (size == 0)
			return len - q == 2 && s[q] == '\r' && s[q + 1] == '\n'
				       ? 1
				       : -1;
		if (len - q < size + 2 || s[q + size] != '\r' ||
		    s[q + size + 1] != '\n')
			return -1;
		buf_append(body, s + q, size);
		p = q + size + 2;
	}
	return 0;
}

static bool same(const buf_t *a, const buf_t *b)
{
	return a->len == b->len && (a->len == 0 ||
				    memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = data[0] % 17 + 1;
	const char *s = (const char *)data + 1;
	size -= 1;
	buf_t body = {0}, wire = {0}, canon = {0}, back = {0}, tol = {0};
	result_t r = decode(s, size, step, true, &body, &wire);
	if (body.len > size)
		abort();

	/* canonical, and the same bytes */
	int cr = read_canonical(wire.data, wire.len, &canon);
	if (cr < 0 || (cr == 1) != r.done || !same(&canon, &body))
		abort();

	/* read back by the decoder under test, in one call */
	result_t b = decode(wire.data, wire.len, wire.len ? wire.len : 1,
			    true, &back, NULL);
	if (b.rc != 0 || b.done != r.done || b.used != wire.len ||
	    !same(&back, &body))
		abort();

	/* strict acceptance implies tolerant acceptance, the same way */
	if (r.rc == 0) {
		result_t t = decode(s, size, step, false, &tol, NULL);
		if (t.rc != 0 || t.done != r.done || t.used != r.used ||
		    !same(&tol, &body))
			abort();
	}
	buf_free(&body);
	buf_free(&wire);
	buf_free(&canon);
	buf_free(&back);
	buf_free(&tol);
	return 0;
}
