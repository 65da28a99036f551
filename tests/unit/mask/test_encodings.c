/*
 * test_encodings.c: issue 24 point 2, encodings that carry documents:
 * base64 values (standard and URL-safe) of JSON, form data and text;
 * multipart parts with Content-Transfer-Encoding base64 or
 * quoted-printable and gzip parts; application/gzip and application/zstd
 * uploads; HTML character references; UTF-16 (BOM or charset) and
 * ISO-8859-1 bodies. Each sensitive case asserts the value is not in the
 * output once the output is decoded the way it came; each look-alike set
 * (base64 images and tokens, plain base64 text, ordinary UTF-16 and
 * HTML) asserts <= 1 % altered; past the bounds the message fails closed.
 */
#include "base/err.h"
#include "mask/mask_int.h"
#include "unit/mask/mask_test.h"

#include <zstd.h>

#define EMAIL "ann@example.org"
#define CARD  "4111111111111111"

static const char b64s[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64(buf_t *o, const char *s, size_t n, bool url, bool pad)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		size_t k = n - i >= 3 ? 4 : n - i + 1;
		for (size_t j = 0; j < 4; j++) {
			char ch = b64s[v >> (18 - 6 * j) & 63];
			if (url && ch == '+')
				ch = '-';
			if (url && ch == '/')
				ch = '_';
			if (j < k)
				buf_putc(o, ch);
			else if (pad)
				buf_putc(o, '=');
		}
	}
}

static int post(tmask_t *t, const char *ct, const char *body, size_t n)
{
	char h[256];
	snprintf(h, sizeof(h), "Content-Type: %s", ct);
	const char *hs[] = {h, NULL};
	return tm_req_n(t, "POST", "/", hs, body, n);
}

static const char *body_of(tmask_t *t, size_t *n)
{
	*n = mask_ctx_report(t->c)->body_len;
	return tm_body(t);
}

static bool has(const char *s, size_t n, const char *want)
{
	return memmem(s, n, want, strlen(want)) != NULL;
}

/* ----------------------------------------------------------- base64 */

Test(base64, json_form_and_text_in_values)
{
	tmask_t *t = tm_new("");
	const char *docs[] = {"{\"email\":\"" EMAIL "\",\"n\":" CARD "}",
			      "email=ann%40example.org&x=1",
			      "note for " EMAIL " and card " CARD};
	for (int d = 0; d < 3; d++)
		for (int url = 0; url < 2; url++) {
			buf_t enc = BUF_INIT, body = BUF_INIT;
			b64(&enc, docs[d], strlen(docs[d]), url, !url);
			buf_printf(&body, "{\"blob\": \"%s\"}", enc.data);
			cr_assert_eq(post(t, "application/json", body.data,
					  body.len),
				     0, "%s", mask_ctx_error(t->c));
			size_t n;
			const char *o = body_of(t, &n);
			/* the masked value decodes, and holds neither */
			const char *q = strstr(o, "\": \"") + 4;
			buf_t v = BUF_INIT, dec = BUF_INIT;
			buf_append(&v, q, strcspn(q, "\""));
			for (size_t i = 0; url && i < v.len; i++)
				v.data[i] = v.data[i] == '-'   ? '+'
					    : v.data[i] == '_' ? '/'
							       : v.data[i];
			while (v.len % 4)
				buf_putc(&v, '=');
			cr_assert(b64_dec(v.data, &dec), "%s", o);
			cr_expect(!has(dec.data, dec.len, EMAIL) &&
				      !has(dec.data, dec.len, "ann%40example") &&
				      !has(dec.data, dec.len, CARD),
				  "%s -> %s", docs[d], dec.data);
			cr_expect(url ? !strchr(o, '=') : true, "%s", o);
			buf_free(&enc);
			buf_free(&body);
			buf_free(&v);
			buf_free(&dec);
		}
	/* a form field holding base64 JSON */
	buf_t enc = BUF_INIT, body = BUF_INIT;
	b64(&enc, docs[0], strlen(docs[0]), true, false);
	buf_printf(&body, "payload=%s&z=1", enc.data);
	cr_assert_eq(post(t, "application/x-www-form-urlencoded", body.data,
			  body.len),
		     0);
	cr_expect(!strstr(tm_body(t), enc.data));
	cr_expect_eq(mask_ctx_report(t->c)->total, 2);
	buf_free(&enc);
	buf_free(&body);
	tm_free(t);
}

Test(base64, lookalikes_untouched)
{
	tmask_t *t = tm_new("");
	int altered = 0, total = 0;
	unsigned seed = 1;
	for (int i = 0; i < 300; i++) {
		buf_t raw = BUF_INIT, enc = BUF_INIT, body = BUF_INIT;
		if (i % 3 == 0) { /* an image: PNG header and noise */
			buf_append(&raw, "\x89PNG\r\n\x1a\n", 8);
			for (int k = 0; k < 40 + i; k++) {
				seed = seed * 1103515245u + 12345u;
				buf_putc(&raw, (char)(seed >> 16));
			}
		} else if (i % 3 == 1) { /* a random token */
			for (int k = 0; k < 24; k++) {
				seed = seed * 1103515245u + 12345u;
				buf_putc(&raw, (char)(seed >> 16));
			}
		} else { /* text without anything sensitive */
			buf_printf(&raw, "{\"status\":\"ok\",\"page\":%d,"
					 "\"sku\":\"SKU-%d\"}",
				   i, i * 7);
		}
		b64(&enc, raw.data, raw.len, i % 2, true);
		buf_printf(&body, "{\"data\": \"%s\"}", enc.data);
		cr_assert_eq(post(t, "application/json", body.data, body.len),
			     0);
		total++;
		if (strcmp(tm_body(t), body.data) != 0) {
			altered++;
			cr_log_info("altered: %s", body.data);
		}
		buf_free(&raw);
		buf_free(&enc);
		buf_free(&body);
	}
	cr_expect_leq(altered * 100, total, "%d of %d altered", altered,
		      total);
	tm_free(t);
}

Test(base64, nested_too_deep_fails_closed)
{
	tmask_t *t = tm_new("");
	buf_t a = BUF_INIT, b = BUF_INIT;
	buf_puts(&a, "mail " EMAIL " now");
	for (int i = 0; i < MASK_NEST_MAX + 1; i++) {
		buf_reset(&b);
		b64(&b, a.data, a.len, false, true);
		buf_reset(&a);
		buf_append(&a, b.data, b.len);
	}
	int rc = post(t, "text/plain", a.data, a.len);
	cr_expect_eq(rc, ERR_TOOBIG);
	cr_expect_eq(mask_ctx_reason(t->c), MASK_R_TOO_DEEP);
	cr_expect_eq(t->out.len, 0);
	/* within the bound it is masked */
	buf_reset(&a);
	buf_puts(&a, "mail " EMAIL " now");
	for (int i = 0; i < 2; i++) {
		buf_reset(&b);
		b64(&b, a.data, a.len, false, true);
		buf_reset(&a);
		buf_append(&a, b.data, b.len);
	}
	cr_expect_eq(post(t, "text/plain", a.data, a.len), 0);
	cr_expect_eq(mask_ctx_report(t->c)->counts[CONFIG_MASK_DET_email], 1);
	buf_free(&a);
	buf_free(&b);
	tm_free(t);
}

/* ----------------------------------------------------------- multipart */

Test(multipart, transfer_encodings_and_gzip_parts)
{
	tmask_t *t = tm_new("");
	const char *json = "{\"email\":\"" EMAIL "\"}";
	buf_t enc = BUF_INIT, body = BUF_INIT, gz = BUF_INIT;
	b64(&enc, json, strlen(json), false, true);
	/* gzip of the JSON, by zlib */
	z_stream z = {0};
	deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	buf_reserve(&gz, 256);
	z.next_in = (Bytef *)json;
	z.avail_in = (uInt)strlen(json);
	z.next_out = (Bytef *)gz.data;
	z.avail_out = 256;
	deflate(&z, Z_FINISH);
	gz.len = 256 - z.avail_out;
	deflateEnd(&z);
	buf_printf(&body,
		   "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n"
		   "Content-Type: application/json\r\n"
		   "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
		   "--B\r\nContent-Disposition: form-data; name=\"b\"\r\n"
		   "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		   "to ann=40example=2Eorg and=\r\n more\r\n"
		   "--B\r\nContent-Disposition: form-data; name=\"c\"\r\n"
		   "Content-Type: application/json\r\n"
		   "Content-Encoding: gzip\r\n\r\n",
		   enc.data);
	buf_append(&body, gz.data, gz.len);
	buf_puts(&body, "\r\n--B--\r\n");
	cr_assert_eq(post(t, "multipart/form-data; boundary=B", body.data,
			  body.len),
		     0, "%s", mask_ctx_error(t->c));
	size_t n;
	const char *o = body_of(t, &n);
	cr_expect(!has(o, n, enc.data));
	cr_expect(!has(o, n, "ann=40example=2Eorg"));
	cr_expect_eq(mask_ctx_report(t->c)->counts[CONFIG_MASK_DET_email], 3);
	/* the gzip part still inflates, to a masked document */
	const char *gp = (const char *)memmem(o, n, "gzip\r\n\r\n", 8) + 8;
	buf_t plain = BUF_INIT;
	cr_assert(inflate_any(gp, n - (size_t)(gp - o) - 9, &plain));
	cr_expect(strstr(plain.data, "@example.com"), "%s", plain.data);
	cr_expect(!strstr(plain.data, EMAIL));
	buf_free(&plain);
	/* a bad transfer encoding fails closed */
	const char *bad = "--B\r\nContent-Transfer-Encoding: base64\r\n\r\n"
			  "!!!not base64!!!\r\n--B--\r\n";
	cr_expect_eq(post(t, "multipart/form-data; boundary=B", bad,
			  strlen(bad)),
		     ERR_PARSE);
	cr_expect_eq(mask_ctx_reason(t->c), MASK_R_BAD_MULTIPART);
	const char *odd = "--B\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
			  "x\r\n--B--\r\n";
	cr_expect_neq(post(t, "multipart/form-data; boundary=B", odd,
			   strlen(odd)),
		      0);
	buf_free(&enc);
	buf_free(&body);
	buf_free(&gz);
	tm_free(t);
}

/* ----------------------------------------------------------- files */

Test(files, gzip_and_zstd_uploads)
{
	tmask_t *t = tm_new("  max_scan: 64KiB\n");
	const char *doc = "name,email\nann," EMAIL "\nbob,bob@example.net\n";
	size_t dn = strlen(doc);
	char zs[512];
	size_t zn = ZSTD_compress(zs, sizeof(zs), doc, dn, 3);
	cr_assert(!ZSTD_isError(zn));
	cr_assert_eq(post(t, "application/zstd", zs, zn), 0, "%s",
		     mask_ctx_error(t->c));
	size_t n;
	const char *o = body_of(t, &n);
	char back[512];
	size_t bn = ZSTD_decompress(back, sizeof(back), o, n);
	cr_assert(!ZSTD_isError(bn));
	cr_expect(!memmem(back, bn, EMAIL, strlen(EMAIL)));
	cr_expect(!memmem(back, bn, "bob@example.net", 15));
	/* a bomb past max_scan fails closed */
	size_t big = 1 << 20;
	char *zeros = calloc(1, big);
	size_t cap = ZSTD_compressBound(big);
	char *bz = malloc(cap);
	size_t bzn = ZSTD_compress(bz, cap, zeros, big, 3);
	cr_expect_eq(post(t, "application/zstd", bz, bzn), ERR_TOOBIG);
	cr_expect_eq(mask_ctx_reason(t->c), MASK_R_TOO_BIG);
	cr_expect_eq(post(t, "application/zstd", "garbage!", 8), ERR_PARSE);
	cr_expect_eq(mask_ctx_reason(t->c), MASK_R_BAD_ZSTD);
	free(zeros);
	free(bz);
	/* gzip, by the test's own deflate */
	buf_t gz = BUF_INIT;
	z_stream z = {0};
	deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	buf_reserve(&gz, 512);
	z.next_in = (Bytef *)doc;
	z.avail_in = (uInt)dn;
	z.next_out = (Bytef *)gz.data;
	z.avail_out = 512;
	deflate(&z, Z_FINISH);
	gz.len = 512 - z.avail_out;
	deflateEnd(&z);
	cr_assert_eq(post(t, "application/gzip", gz.data, gz.len), 0);
	o = body_of(t, &n);
	buf_t plain = BUF_INIT;
	cr_assert(inflate_any(o, n, &plain));
	cr_expect(!strstr(plain.data, EMAIL), "%s", plain.data);
	cr_expect(strstr(plain.data, "name,email\nann,"), "%s", plain.data);
	buf_free(&plain);
	buf_free(&gz);
	tm_free(t);
}

/* ----------------------------------------------------------- HTML */

Test(html, character_references)
{
	tmask_t *t = tm_new("");
	const char *cases[] = {
	    "<p>ann&#64;example.org</p>", "<p>ann&#x40;example&#46;org</p>",
	    "<a>ann&commat;example&period;org</a>",
	    "card 4111&#32;1111&#32;1111&#32;1111",
	    "call 555&#45;234&hyphen;5678"};
	const char *secret[] = {"ann", "ann", "ann", "4111", "234"};
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(post(t, "text/html", cases[i], strlen(cases[i])),
			     0);
		const char *o = tm_body(t);
		cr_expect(mask_ctx_report(t->c)->total == 1 &&
			      !strstr(o, secret[i]),
			  "%s -> %s", cases[i], o);
	}
	/* in a form value too */
	const char *f = "msg=ann%26%2364%3Bexample.org";
	cr_assert_eq(post(t, "application/x-www-form-urlencoded", f,
			  strlen(f)),
		     0);
	cr_expect_eq(mask_ctx_report(t->c)->counts[CONFIG_MASK_DET_email], 1,
		     "%s", tm_body(t));
	/* ordinary HTML stays byte for byte */
	int altered = 0;
	for (int i = 0; i < 200; i++) {
		char h[256];
		snprintf(h, sizeof(h),
			 "<p>AT&amp;T &copy; 20%02d &lt;b&gt; price &#36;%d."
			 "%02d &nbsp; ref&#58; %d &mdash; p&#46;%d</p>",
			 i % 30, i * 3, i % 100, 1000 + i, i);
		cr_assert_eq(post(t, "text/html", h, strlen(h)), 0);
		altered += strcmp(tm_body(t), h) != 0;
	}
	cr_expect_leq(altered * 100, 200, "%d of 200 altered", altered);
	tm_free(t);
}

/* ----------------------------------------------------------- charsets */

static void to16(buf_t *o, const char *s, bool le, bool bom)
{
	if (bom)
		buf_append(o, le ? "\xff\xfe" : "\xfe\xff", 2);
	for (; *s; s++) {
		char z = 0;
		if (le) {
			buf_putc(o, *s);
			buf_append(o, &z, 1);
		} else {
			buf_append(o, &z, 1);
			buf_putc(o, *s);
		}
	}
}

Test(charset, utf16_and_latin1)
{
	tmask_t *t = tm_new("");
	const char *text = "{\"email\": \"" EMAIL "\", \"n\": \"a\"}";
	struct {
		const char *ct;
		bool le, bom;
	} v[] = {{"application/json", true, true},
		 {"application/json", false, true},
		 {"application/json; charset=utf-16le", true, false},
		 {"application/json; charset=UTF-16", false, false},
		 {"text/plain; charset=utf-16be", false, false}};
	for (size_t i = 0; i < 5; i++) {
		buf_t b = BUF_INIT, e16 = BUF_INIT;
		to16(&b, text, v[i].le, v[i].bom);
		to16(&e16, EMAIL, v[i].le, false);
		cr_assert_eq(post(t, v[i].ct, b.data, b.len), 0, "%s: %s",
			     v[i].ct, mask_ctx_error(t->c));
		size_t n;
		const char *o = body_of(t, &n);
		cr_expect(!memmem(o, n, e16.data, e16.len), "%s", v[i].ct);
		cr_expect_eq(n % 2, 0);
		cr_expect_eq(mask_ctx_report(t->c)->counts[CONFIG_MASK_DET_email],
			     1, "%s", v[i].ct);
		if (v[i].bom)
			cr_expect_eq(memcmp(o, b.data, 2), 0);
		buf_free(&b);
		buf_free(&e16);
	}
	/* Latin-1: é stays one byte */
	const char *l1 = "caf\xe9 " EMAIL;
	cr_assert_eq(post(t, "text/plain; charset=iso-8859-1", l1, strlen(l1)),
		     0);
	size_t n;
	const char *o = body_of(t, &n);
	cr_expect(!memmem(o, n, EMAIL, strlen(EMAIL)));
	cr_expect_eq(memcmp(o, "caf\xe9 ", 5), 0);
	/* broken UTF-16 fails closed */
	cr_expect_eq(post(t, "text/plain; charset=utf-16le", "abc", 3),
		     ERR_PARSE);
	cr_expect_eq(mask_ctx_reason(t->c), MASK_R_BAD_CHARSET);
	cr_expect_eq(post(t, "text/plain; charset=utf-16le", "\x00\xdc", 2),
		     ERR_PARSE);
	/* a binary upload starting like a BOM is not text */
	cr_expect_eq(post(t, "application/octet-stream", "\xff\xfe\x01", 3),
		     0);
	tm_free(t);
}

Test(charset, ordinary_utf16_untouched)
{
	tmask_t *t = tm_new("");
	int altered = 0;
	for (int i = 0; i < 200; i++) {
		char s[200];
		snprintf(s, sizeof(s),
			 "Order %d shipped on 2024-0%d-1%d, total %d.%02d EUR,"
			 " version 1.%d.%d, ref ORD-%06d",
			 1000 + i, 1 + i % 9, i % 10, i * 13, i % 100, i % 7,
			 i % 5, i * 31);
		buf_t b = BUF_INIT;
		to16(&b, s, i % 2, i % 3 != 0);
		cr_assert_eq(post(t, i % 3 ? "text/plain"
					   : "text/plain; charset=utf-16le",
				  b.data, b.len),
			     0, "%s", mask_ctx_error(t->c));
		size_t n;
		const char *o = body_of(t, &n);
		altered += n != b.len || memcmp(o, b.data, n) != 0;
		buf_free(&b);
	}
	cr_expect_leq(altered * 100, 200, "%d of 200 altered", altered);
	tm_free(t);
}
