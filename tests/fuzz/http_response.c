/*
 * http_response.c: fuzz target for the response parser. The first byte
 * picks the request method (HEAD and CONNECT change framing). Invariants:
 * slices inside the input; incremental feeding agrees with one call; the
 * head the proxy writes for the client parses to the same status and
 * framing.
 */
#include "base/buf.h"
#include "base/err.h"
#include "http/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static http_header_t h1[CAP], h2[CAP], h3[CAP];
	if (size < 1)
		return 0;
	http_method_t m = (http_method_t)(data[0] % HTTP_M__COUNT);
	const char *s = (const char *)data + 1;
	size -= 1;
	http_limits_t lim = {512, 4096, 32};
	http_response_t r = {.headers = h1, .cap = CAP};
	http_err_t e;
	size_t sc = 0;
	int rc = http_parse_response(s, size, &sc, &lim, m, &r, &e);
	if (rc > 0) {
		if ((size_t)rc > size || r.status < 100 || r.status > 599)
			abort();
		for (size_t i = 0; i < r.nheaders; i++)
			if ((const char *)r.headers[i].value < s ||
			    r.headers[i].value + r.headers[i].value_len >
				    s + size)
				abort();
	} else if (rc != ERR_AGAIN && rc != ERR_PARSE) {
		abort();
	}
	http_response_t r2 = {.headers = h2, .cap = CAP};
	size_t sc2 = 0;
	int rc2 = ERR_AGAIN;
	for (size_t len = 0; len <= size && rc2 == ERR_AGAIN; len++)
		rc2 = http_parse_response(s, len, &sc2, &lim, m, &r2, &e);
	if (rc2 != rc && !(rc2 == ERR_PARSE && rc == ERR_PARSE))
		abort();
	if (rc > 0 && r.body != HTTP_BODY_TUNNEL) {
		buf_t b = BUF_INIT;
		http_write_response_head(&b, &r, r.body, r.keep_alive, false);
		http_limits_t big = {1 << 20, 1 << 20, CAP};
		http_response_t r3 = {.headers = h3, .cap = CAP};
		size_t sc3 = 0;
		int rc3 = http_parse_response(b.data, b.len, &sc3, &big, m, &r3,
					      &e);
		if (rc3 != (int)b.len || r3.status != r.status ||
		    (r.body != HTTP_BODY_NONE && r3.body != r.body) ||
		    r3.content_length != r.content_length)
			abort();
		buf_free(&b);
	}
	return 0;
}
