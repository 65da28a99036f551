/*
 * http_chunked.c: fuzz target for the chunked decoder. Invariants: the
 * decoded data is never longer than the input; decoding in one call and in
 * slices of every size chosen by the first byte gives the same data, the
 * same consumed length and the same verdict.
 */
#include "base/err.h"
#include "http/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	size_t used, out_len;
	int rc;
	http_err_t err;
	bool done;
} result_t;

static result_t run(const char *s, size_t len, size_t step, char *out)
{
	http_chunked_t c;
	http_chunked_init(&c, 256);
	result_t r = {0};
	size_t i = 0;
	while (i < len && !c.done) {
		size_t avail = len - i < step ? len - i : step;
		const char *d;
		size_t dl;
		ssize_t n = http_chunked_step(&c, s + i, avail, &d, &dl, &r.err);
		if (n < 0) {
			r.rc = (int)n;
			break;
		}
		if (dl) {
			if (d < s + i || d + dl > s + i + avail)
				abort();
			memcpy(out + r.out_len, d, dl);
			r.out_len += dl;
		}
		if (n == 0)
			abort(); /* no progress with bytes available */
		i += (size_t)n;
	}
	r.used = i;
	r.done = c.done;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = data[0] % 17 + 1;
	const char *s = (const char *)data + 1;
	size -= 1;
	char *a = malloc(size + 1), *b = malloc(size + 1);
	result_t ra = run(s, size, size ? size : 1, a);
	result_t rb = run(s, size, step, b);
	if (ra.out_len > size || ra.rc != rb.rc || ra.done != rb.done ||
	    ra.out_len != rb.out_len || memcmp(a, b, ra.out_len) ||
	    (ra.rc == 0 && ra.used != rb.used) ||
	    (ra.rc && ra.err != rb.err))
		abort();
	free(a);
	free(b);
	return 0;
}
