/*
 * codec.c: gzip and deflate Content-Encodings. A body is decoded before
 * masking, never beyond mask.max_scan bytes (a zip bomb fails closed
 * after max_scan bytes of work, not after gigabytes), and re-encoded the
 * same way afterwards, only when masking changed it.
 *
 * "deflate" means zlib-wrapped deflate (RFC 9110 8.4.1.2), but some
 * servers send raw deflate; both are accepted and the re-encoding uses
 * the wrapping that came in. Concatenated gzip members (RFC 1952 2.2) are
 * one body. Re-encoding uses level 1: the shadow needs a valid stream,
 * not a small one, and level 1 is several times faster than the default.
 *
 * The zlib streams live in the per-thread context and are reset, not
 * re-created, so a request costs no allocation here.
 */
#include "mask/mask_int.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define ZLEVEL	  1    /* see above */
#define TOO_BIG	  1000 /* inflate_once: output over max (not a zlib code) */
#define ZMEMLEVEL 8    /* zlib's default */

static int wbits_of(int coding)
{
	switch (coding) {
	case MASK_CODING_GZIP:
		return 15 + 16;
	case MASK_CODING_DEFLATE:
		return 15;
	default:
		return -15;
	}
}

static const char *coding_name(int coding)
{
	return coding == MASK_CODING_GZIP ? "gzip" : "deflate";
}

/* One inflate pass of s[0..n) with wbits into out; *used gets the bytes
 * consumed. Returns Z_STREAM_END, or a zlib error / Z_BUF_ERROR
 * (truncated), or TOO_BIG when the output would pass max. */
static int inflate_once(mask_ctx_t *c, int wbits, const char *s, size_t n,
			size_t max, buf_t *out, size_t *used)
{
	z_stream *z = &c->zin;
	if (!c->zin_ok) {
		memset(z, 0, sizeof(*z));
		if (inflateInit2(z, wbits) != Z_OK)
			xmalloc_oom("inflateInit2");
		c->zin_ok = true;
	} else if (inflateReset2(z, wbits) != Z_OK) {
		return Z_STREAM_ERROR;
	}
	z->next_in = (Bytef *)(uintptr_t)s;
	z->avail_in = 0;
	size_t left = n;
	int rc = Z_OK;
	while (rc == Z_OK) {
		if (z->avail_in == 0 && left) {
			z->avail_in =
			    left > UINT32_MAX ? UINT32_MAX : (uInt)left;
			left -= z->avail_in;
		}
		/* One byte of room past max tells "exactly max" (fine) from
		 * "more than max" (too big). */
		if (out->len > max)
			return TOO_BIG;
		size_t room = max + 1 - out->len;
		buf_reserve(out, room < 65536 ? room : 65536);
		size_t avail = out->cap - out->len - 1;
		if (avail > room)
			avail = room;
		if (avail > UINT32_MAX)
			avail = UINT32_MAX;
		z->next_out = (Bytef *)out->data + out->len;
		z->avail_out = (uInt)avail;
		rc = inflate(z, Z_NO_FLUSH);
		out->len += avail - z->avail_out;
		out->data[out->len] = '\0';
		if (rc == Z_BUF_ERROR && z->avail_in == 0 && !left)
			break; /* input ended before the stream did */
		if (rc == Z_BUF_ERROR && z->avail_out == 0)
			rc = Z_OK; /* output full: go round and grow */
	}
	*used = n - left - z->avail_in;
	if (out->len > max)
		return TOO_BIG;
	return rc;
}

int mask__inflate(mask_ctx_t *c, int coding, const char *s, size_t n,
		  size_t max, buf_t *out, int *detected)
{
	mask_reason_t reason =
	    coding == MASK_CODING_GZIP ? MASK_R_BAD_GZIP : MASK_R_BAD_DEFLATE;
	buf_reset(out);
	*detected = coding;
	size_t off = 0, used = 0;
	int rc = inflate_once(c, wbits_of(coding), s, n, max, out, &used);
	if (coding == MASK_CODING_DEFLATE && rc != Z_STREAM_END &&
	    rc != TOO_BIG && out->len == 0) {
		/* Not zlib-wrapped: raw deflate, as some servers send. */
		*detected = MASK_CODING_RAWDEFLATE;
		rc =
		    inflate_once(c, wbits_of(*detected), s, n, max, out, &used);
	}
	for (;;) {
		if (rc == TOO_BIG)
			return mask__fail(c, MASK_R_TOO_BIG, ERR_TOOBIG,
					  "%s body decodes to more than "
					  "mask.max_scan (%zu bytes)",
					  coding_name(coding), max);
		if (rc != Z_STREAM_END)
			return mask__fail(
			    c, reason, ERR_PARSE, "%s: %s", coding_name(coding),
			    rc == Z_BUF_ERROR ? "truncated stream"
					      : (c->zin.msg ? c->zin.msg
							    : "corrupt "
							      "stream"));
		off += used;
		if (off == n)
			return 0;
		/* Another gzip member, or trailing bytes. */
		if (coding != MASK_CODING_GZIP || n - off < 2 ||
		    (unsigned char)s[off] != 0x1f ||
		    (unsigned char)s[off + 1] != 0x8b)
			return mask__fail(c, reason, ERR_PARSE,
					  "%s: %zu bytes after the end of the "
					  "stream",
					  coding_name(coding), n - off);
		rc = inflate_once(c, wbits_of(coding), s + off, n - off, max,
				  out, &used);
	}
}

void mask__deflate(mask_ctx_t *c, int coding, const char *s, size_t n,
		   buf_t *out)
{
	z_stream *z = &c->zout[coding];
	if (!c->zout_ok[coding]) {
		memset(z, 0, sizeof(*z));
		if (deflateInit2(z, ZLEVEL, Z_DEFLATED, wbits_of(coding),
				 ZMEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
			xmalloc_oom("deflateInit2");
		c->zout_ok[coding] = true;
	} else {
		deflateReset(z);
	}
	buf_reset(out);
	size_t bound = deflateBound(z, n > UINT32_MAX ? UINT32_MAX : (uLong)n);
	buf_reserve(out, bound + 64);
	z->next_in = (Bytef *)(uintptr_t)s;
	size_t left = n;
	int rc;
	do {
		if (z->avail_in == 0 && left) {
			z->avail_in =
			    left > UINT32_MAX ? UINT32_MAX : (uInt)left;
			left -= z->avail_in;
		}
		if (out->cap - out->len - 1 < 64)
			buf_reserve(out, 65536);
		size_t avail = out->cap - out->len - 1;
		if (avail > UINT32_MAX)
			avail = UINT32_MAX;
		z->next_out = (Bytef *)out->data + out->len;
		z->avail_out = (uInt)avail;
		rc = deflate(z, left ? Z_NO_FLUSH : Z_FINISH);
		out->len += avail - z->avail_out;
		if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END)
			abort(); /* valid parameters: only a bug gets here */
	} while (rc != Z_STREAM_END);
	out->data[out->len] = '\0';
}
