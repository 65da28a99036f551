/*
 * mask_gzip.c: fuzz target for Content-Encoding. The first byte picks
 * gzip or deflate, the rest is the encoded body. Invariants: we accept
 * exactly what zlib itself decodes (concatenated gzip members allowed,
 * nothing after the end, within max_scan); the masked output decodes to
 * what masking the decoded text directly gives; failures are BAD_GZIP,
 * BAD_DEFLATE or TOO_BIG with the output untouched.
 */
#include "mask_fuzz.h"

#include <zlib.h>

/* Reference decoder. Returns 1 decoded, 0 invalid, -1 over max. */
static int ref_decode(const char *s, size_t n, bool gzip, size_t max,
		      buf_t *out)
{
	for (int raw = 0; raw < 2; raw++) {
		if (gzip && raw)
			return 0;
		buf_reset(out);
		size_t off = 0;
		for (;;) {
			z_stream z = {0};
			inflateInit2(&z, gzip ? 31 : raw ? -15 : 15);
			z.next_in = (Bytef *)(s + off);
			z.avail_in = (uInt)(n - off);
			int rc;
			do {
				buf_reserve(out, 4096);
				z.next_out = (Bytef *)out->data + out->len;
				z.avail_out = 4096;
				rc = inflate(&z, Z_NO_FLUSH);
				out->len += 4096 - z.avail_out;
				if (out->len > max) {
					inflateEnd(&z);
					return -1;
				}
			} while (rc == Z_OK);
			off = n - z.avail_in;
			inflateEnd(&z);
			if (rc != Z_STREAM_END)
				break;
			if (off == n)
				return 1;
			if (!gzip || n - off < 2 ||
			    (unsigned char)s[off] != 0x1f ||
			    (unsigned char)s[off + 1] != 0x8b)
				break;
		}
		if (gzip || out->len)
			return 0;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool gzip = !(data[0] & 1);
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	const char *hs[] = {"Content-Type: text/plain",
			    gzip ? "Content-Encoding: gzip"
				 : "Content-Encoding: deflate"};
	fz_t *f = fz_hashing();
	buf_t out = BUF_INIT, ref = BUF_INIT, direct = BUF_INIT, dec = BUF_INIT;
	int rc = fz_post(f, hs, 2, s, n, &out);
	int want = n ? ref_decode(s, n, gzip, 256 * 1024, &ref) : 1;
	if (want == 1 && rc != 0) {
		fprintf(stderr, "zlib decodes it, we said: %s\n",
			mask_ctx_error(f->c));
		abort();
	}
	if (want == 0 && (rc != ERR_PARSE ||
			  mask_ctx_reason(f->c) !=
			      (gzip ? MASK_R_BAD_GZIP : MASK_R_BAD_DEFLATE)))
		abort();
	if (want == -1 && mask_ctx_reason(f->c) != MASK_R_TOO_BIG)
		abort();
	if (rc == 0 && n) {
		size_t bn;
		const char *b = fz_body(f, &out, &bn);
		char *copy = malloc(bn + 1);
		memcpy(copy, b, bn);
		bool changed = mask_ctx_report(f->c)->body_changed;
		/* The same text masked without the coding. */
		const char *ht[] = {"Content-Type: text/plain"};
		if (fz_post(f, ht, 1, ref.data ? ref.data : "", ref.len,
			    &direct) != 0)
			abort();
		size_t dn;
		const char *db = fz_body(f, &direct, &dn);
		if (changed) {
			if (ref_decode(copy, bn, gzip, 1 << 30, &dec) != 1)
				abort();
			if (dec.len != dn || memcmp(dec.data, db, dn) != 0)
				abort();
		} else if (mask_ctx_report(f->c)->body_changed) {
			abort(); /* text changed, coded body did not */
		}
		free(copy);
	}
	buf_free(&out);
	buf_free(&ref);
	buf_free(&direct);
	buf_free(&dec);
	return 0;
}
