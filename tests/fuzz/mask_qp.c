/*
 * mask_qp.c: fuzz target for multipart transfer encodings (nested.c):
 * the input is a part's raw content, sent as a multipart part whose
 * Content-Transfer-Encoding the first byte picks (quoted-printable,
 * base64, or none with Content-Encoding gzip) and whose Content-Type it
 * picks (text, JSON). Invariants: masking succeeds or fails closed with
 * bad_multipart, bad_gzip, bad_json or too_big and the output untouched;
 * the body never grows past its bound; redacting reaches a fixed point
 * (no detected value left in the decoded part); same input, same output.
 */
#include "mask_fuzz.h"

#define GROWTH 4
#define SLACK 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 16384)
		return 0;
	static const char *const cte[] = {
	    "Content-Transfer-Encoding: quoted-printable\r\n",
	    "Content-Transfer-Encoding: base64\r\n",
	    "Content-Encoding: gzip\r\n"};
	static const char *const ct[] = {"Content-Type: text/plain\r\n",
					 "Content-Type: application/json\r\n"};
	buf_t body = BUF_INIT;
	buf_printf(&body,
		   "--zz\r\nContent-Disposition: form-data; name=\"f\"\r\n"
		   "%s%s\r\n",
		   cte[data[0] % 3], ct[(data[0] >> 2) & 1]);
	buf_append(&body, data + 1, size - 1);
	buf_puts(&body, "\r\n--zz--\r\n");
	const char *hs[] = {"Content-Type: multipart/form-data; boundary=zz"};
	fz_t *f = fz_hashing();
	buf_t out = BUF_INIT;
	int rc = fz_post(f, hs, 1, body.data, body.len, &out);
	if (rc) {
		mask_reason_t r = mask_ctx_reason(f->c);
		if (r != MASK_R_BAD_MULTIPART && r != MASK_R_BAD_GZIP &&
		    r != MASK_R_BAD_JSON && r != MASK_R_TOO_BIG &&
		    r != MASK_R_TOO_DEEP)
			abort();
	} else {
		size_t bn;
		fz_body(f, &out, &bn);
		if (bn > GROWTH * body.len + SLACK)
			abort();
	}
	fz_same_twice(f, hs, 1, body.data, body.len);
	fz_fixed_point(hs, 1, body.data, body.len);
	buf_free(&out);
	buf_free(&body);
	return 0;
}
