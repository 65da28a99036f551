/*
 * nested.c: encodings that carry whole documents inside a message, decoded,
 * masked and re-encoded (issue 24):
 *
 *   - a value that is base64 (standard or URL-safe) of UTF-8 text: the
 *     text is masked as JSON, form data or text (mask__b64_value, called
 *     by mask__text for every value the walkers hand it);
 *   - a multipart part with Content-Transfer-Encoding base64 or
 *     quoted-printable, and/or Content-Encoding gzip/deflate
 *     (mask__part_encoded);
 *   - a body that is a compressed file (application/gzip, application/
 *     zstd) or text in UTF-16 (charset or BOM) or ISO-8859-1
 *     (mask__typed_special, called by mask__typed_body).
 *
 * Each layer is masked by a context one level down (c->child, made on
 * first use and then reused, with its own scratch, so that the walker a
 * layer interrupts keeps its buffers), and its counts and hits are added
 * to the caller's. Depth is bounded by MASK_NEST_MAX and size by
 * mask.max_scan (decoders stop there): past either the message fails
 * closed. A layer that decodes but whose masking changed nothing leaves
 * the original bytes as they were; one that changed is re-encoded the
 * way it came (alphabet and padding, line length, BOM, compression).
 */
#include "mask/mask_int.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <string.h>
#include <strings.h>
#include <zstd.h>

#define B64_LINE   76 /* RFC 2045 6.8: encoded lines at most 76 chars */
#define QP_LINE	   76 /* RFC 2045 6.7 (5) */
#define ZSTD_LEVEL 1  /* as gzip's level 1 in codec.c: valid, fast */

/* ----------------------------------------------------------- layers */

/* The context one layer down, reset for a new layer; NULL (and c's
 * too_deep set) past MASK_NEST_MAX. */
static mask_ctx_t *child_of(mask_ctx_t *c)
{
	if (c->depth >= MASK_NEST_MAX) {
		c->too_deep = true;
		return NULL;
	}
	if (!c->child) {
		c->child = mask_ctx_new(c->m);
		c->child->depth = c->depth + 1;
		c->child->no_memo = true;
	}
	mask_ctx_t *k = c->child;
	memset(k->counts, 0, c->m->nsrc * sizeof(*k->counts));
	k->rep = (mask_report_t){.counts = k->counts};
	k->nhits = 0;
	buf_reset(&k->hit_text);
	k->reason = MASK_R_NONE;
	k->err[0] = '\0';
	k->detail = c->detail;
	k->in_multipart = c->in_multipart;
	k->too_deep = false;
	k->charset_done = false;
	k->prefix = false; /* a value in a cut body is whole */
	return k;
}

/* Adds what layer k found to c: the counts, and with detail each hit at
 * pos followed by " <what>:" and where it was inside the layer. */
static void merge(mask_ctx_t *c, mask_ctx_t *k, const mpos_t *pos,
		  const char *what)
{
	c->too_deep |= k->too_deep;
	if (!c->detail) {
		for (size_t i = 0; i < c->m->nsrc; i++)
			c->counts[i] += k->counts[i];
		c->rep.total += k->rep.total;
		return;
	}
	mpos_t text = {.where = MASK_AT_TEXT};
	for (size_t i = 0; i < k->nhits; i++) {
		const mask_hit_t *h = &k->hits[i];
		mask__hit(c, pos ? pos : &text, h->source, h->action, 0);
		mask_hit_t *ph = &c->hits[c->nhits - 1];
		buf_printf(&c->hit_text, " %s:", what);
		buf_append(&c->hit_text, k->hit_text.data + h->loc_off,
			   h->loc_len);
		ph->loc_len = (uint32_t)(c->hit_text.len - ph->loc_off);
	}
}

/* The failure of layer k as c's. */
static int fail_from(mask_ctx_t *c, mask_ctx_t *k, int rc, const char *what)
{
	c->too_deep |= k->too_deep;
	return mask__fail(c, k->reason, rc, "%s: %s", what, k->err);
}

/* ----------------------------------------------------------- base64 */

static int b64_val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Decodes base64 s[0..n) into out, skipping whitespace when lax (MIME
 * bodies break lines); both alphabets (the caller checks which). False
 * on any other byte, bad padding or a dangling sextet. */
static bool b64_decode(const char *s, size_t n, bool lax, buf_t *out)
{
	buf_reset(out);
	buf_reserve(out, n / 4 * 3 + 3);
	uint32_t acc = 0;
	int bits = 0;
	size_t pad = 0, k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (lax && (ch == '\r' || ch == '\n' || ch == ' ' || ch == '\t'))
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		int v = b64_val(ch);
		if (v < 0 || pad)
			return false;
		k++;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (char)(acc >> bits & 0xff));
		}
	}
	if (k % 4 == 1 || pad > 2 || (pad && (k + pad) % 4))
		return false;
	return true;
}

static void b64_encode(buf_t *out, const unsigned char *s, size_t n, bool url,
		       bool pad, size_t line)
{
	const char *al = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			       "0123456789-_"
			     : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			       "0123456789+/";
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		size_t r = n - i;
		if (r > 1)
			v |= (uint32_t)s[i + 1] << 8;
		if (r > 2)
			v |= s[i + 2];
		char q[4] = {al[v >> 18], al[v >> 12 & 63], al[v >> 6 & 63],
			     al[v & 63]};
		size_t k = r >= 3 ? 4 : r + 1;
		if (line && col + 4 > line) {
			buf_append(out, "\r\n", 2);
			col = 0;
		}
		buf_append(out, q, k);
		if (k < 4 && pad)
			buf_append(out, "==", 4 - k);
		col += 4;
	}
}

/* Valid UTF-8 without control bytes other than tab, CR and LF: text a
 * person or a program wrote, not bytes that happen to decode. */
static bool is_text(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char ch = s[i];
		if (ch < 0x80) {
			if ((ch < 0x20 && ch != '\t' && ch != '\r' &&
			     ch != '\n') ||
			    ch == 0x7f)
				return false;
			i++;
			continue;
		}
		size_t k = ch >= 0xf0 && ch < 0xf5   ? 3
			   : ch >= 0xe0 && ch < 0xf0 ? 2
			   : ch >= 0xc2 && ch < 0xe0 ? 1
						     : 0;
		if (!k || n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		i += k + 1;
	}
	return true;
}

/* What decoded text is: JSON (starts with '{' or '['), form data
 * (pairs joined by '&', no spaces), else text. */
static const char *sniff_type(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
			 s[i] == '\n'))
		i++;
	if (i < n && (s[i] == '{' || s[i] == '['))
		return "application/json";
	if (n && s[0] != '=' && memchr(s, '=', n) && !memchr(s, ' ', n) &&
	    !memchr(s, '\n', n))
		return "application/x-www-form-urlencoded";
	return NULL;
}

/* Masks decoded text d[0..dn) one layer down as its sniffed type (as
 * text when it does not parse as that). k's body holds the result when
 * *changed. */
static int mask_sniffed(mask_ctx_t *k, const char *d, size_t dn,
			bool *changed)
{
	const char *t = sniff_type(d, dn);
	buf_reset(&k->body);
	int rc = mask__typed_body(k, t, t ? strlen(t) : 0, d, dn, NULL,
				  &k->body, changed);
	if (rc && t && !k->too_deep) {
		/* only a guess: as text then */
		k->reason = MASK_R_NONE;
		buf_reset(&k->body);
		rc = mask__typed_body(k, NULL, 0, d, dn, NULL, &k->body,
				      changed);
	}
	return rc;
}

bool mask__b64_value(mask_ctx_t *c, const char *s, size_t n,
		     const mpos_t *pos, buf_t *out)
{
	if (n < MASK_B64_MIN)
		return false;
	bool std = false, url = false;
	size_t e = n;
	while (e > 0 && s[e - 1] == '=' && n - e < 2)
		e--;
	bool pad = e < n;
	for (size_t i = 0; i < e; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9'))
			continue;
		if (ch == '+' || ch == '/')
			std = true;
		else if (ch == '-' || ch == '_')
			url = true;
		else
			return false;
	}
	if ((std && url) || (pad && n % 4) || (!pad && e % 4 == 1))
		return false;
	/* Most values in this alphabet are identifiers (UUIDs, order
	 * numbers, hex digests) whose first three decoded bytes already
	 * are no text: a control byte, a UTF-8 continuation byte first, or
	 * a lead byte not followed by one. Decided before decoding. */
	unsigned char q[3];
	int v0 = b64_val((unsigned char)s[0]), v1 = b64_val((unsigned char)s[1]),
	    v2 = b64_val((unsigned char)s[2]), v3 = b64_val((unsigned char)s[3]);
	q[0] = (unsigned char)(v0 << 2 | v1 >> 4);
	q[1] = (unsigned char)((v1 & 15) << 4 | v2 >> 2);
	q[2] = (unsigned char)((v2 & 3) << 6 | v3);
	for (int i = 0; i < 3; i++) {
		bool cont = (q[i] & 0xc0) == 0x80;
		if ((q[i] < 0x20 && q[i] != '\t' && q[i] != '\r' &&
		     q[i] != '\n') ||
		    q[i] == 0x7f || (i == 0 && cont) ||
		    (i > 0 && q[i - 1] >= 0xc0 && !cont) ||
		    (i > 0 && q[i - 1] < 0x80 && cont))
			return false;
	}
	if (!b64_decode(s, n, false, &c->b64) ||
	    !is_text((const unsigned char *)c->b64.data, c->b64.len) ||
	    c->b64.len == 0)
		return false;
	mask_ctx_t *k = child_of(c);
	if (!k)
		return false; /* too deep: the message fails closed */
	bool changed;
	int rc = mask_sniffed(k, c->b64.data, c->b64.len, &changed);
	if (rc) {
		/* text never fails; only a layer too deep gets here */
		c->too_deep = true;
		return false;
	}
	merge(c, k, pos, "base64");
	if (!changed)
		return false;
	b64_encode(out, (const unsigned char *)k->body.data, k->body.len, url,
		   pad, 0);
	return true;
}

/* ----------------------------------------------------------- MIME */

static int hexv(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Quoted-printable (RFC 2045 6.7): "=XX" a byte, "=" at a line end a
 * soft break. False on any other '='. */
static bool qp_decode(const char *s, size_t n, buf_t *out)
{
	buf_reset(out);
	buf_reserve(out, n);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '=') {
			buf_putc(out, s[i]);
			continue;
		}
		size_t j = i + 1;
		while (j < n && (s[j] == ' ' || s[j] == '\t'))
			j++; /* transport padding before a soft break */
		if (j < n && s[j] == '\n') {
			i = j;
			continue;
		}
		if (j + 1 < n && s[j] == '\r' && s[j + 1] == '\n') {
			i = j + 1;
			continue;
		}
		if (j == n) {
			i = j;
			continue; /* a soft break at the very end */
		}
		int a, b;
		if (i + 2 >= n || (a = hexv((unsigned char)s[i + 1])) < 0 ||
		    (b = hexv((unsigned char)s[i + 2])) < 0)
			return false;
		buf_putc(out, (char)(a << 4 | b));
		i += 2;
	}
	return true;
}

static void qp_encode(buf_t *out, const char *s, size_t n)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\r' && i + 1 < n && s[i + 1] == '\n') {
			buf_append(out, "\r\n", 2);
			col = 0;
			i++;
			continue;
		}
		if (ch == '\n') {
			buf_putc(out, '\n');
			col = 0;
			continue;
		}
		bool lit = (ch >= 33 && ch <= 126 && ch != '=') ||
			   ((ch == ' ' || ch == '\t') && i + 1 < n &&
			    s[i + 1] != '\r' && s[i + 1] != '\n');
		size_t w = lit ? 1 : 3;
		if (col + w > QP_LINE - 1) {
			buf_append(out, "=\r\n", 3);
			col = 0;
		}
		if (lit) {
			buf_putc(out, (char)ch);
		} else {
			static const char hx[] = "0123456789ABCDEF";
			char e[3] = {'=', hx[ch >> 4], hx[ch & 15]};
			buf_append(out, e, 3);
		}
		col += w;
	}
}

static bool tok_is(const char *t, size_t n, const char *want)
{
	while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--;
	return strlen(want) == n && strncasecmp(t, want, n) == 0;
}

int mask__part_encoded(mask_ctx_t *c, const char *ct, size_t ctl,
		       const char *cte, size_t ctel, const char *cenc,
		       size_t cencl, const char *s, size_t n,
		       const mpos_t *pos, buf_t *out, bool *changed)
{
	enum { T_NONE, T_B64, T_QP } te = T_NONE;
	int coding = -1;
	*changed = false;
	if (cte && !(tok_is(cte, ctel, "7bit") || tok_is(cte, ctel, "8bit") ||
		     tok_is(cte, ctel, "binary"))) {
		if (tok_is(cte, ctel, "base64"))
			te = T_B64;
		else if (tok_is(cte, ctel, "quoted-printable"))
			te = T_QP;
		else
			return mask__fail(c, MASK_R_BAD_MULTIPART, ERR_PARSE,
					  "Content-Transfer-Encoding "
					  "\"%.*s\" not supported",
					  (int)(ctel > 40 ? 40 : ctel), cte);
	}
	if (cenc && !tok_is(cenc, cencl, "identity")) {
		if (tok_is(cenc, cencl, "gzip") || tok_is(cenc, cencl, "x-gzip"))
			coding = MASK_CODING_GZIP;
		else if (tok_is(cenc, cencl, "deflate"))
			coding = MASK_CODING_DEFLATE;
		else
			return mask__fail(c, MASK_R_BAD_ENCODING,
					  ERR_UNSUPPORTED,
					  "part Content-Encoding \"%.*s\"",
					  (int)(cencl > 40 ? 40 : cencl), cenc);
	}
	if (te == T_NONE && coding < 0)
		return mask__typed_body(c, ct, ctl, s, n, pos, out, changed);
	mask_ctx_t *k = child_of(c);
	if (!k)
		return mask__fail(c, MASK_R_TOO_DEEP, ERR_TOOBIG,
				  "a multipart part nested more than %d "
				  "encodings deep",
				  MASK_NEST_MAX);
	const char *cur = s;
	size_t curn = n;
	if (te != T_NONE) {
		bool ok = te == T_B64 ? b64_decode(s, n, true, &k->dec[0])
				      : qp_decode(s, n, &k->dec[0]);
		if (!ok)
			return mask__fail(c, MASK_R_BAD_MULTIPART, ERR_PARSE,
					  "a part's %s content does not "
					  "decode",
					  te == T_B64 ? "base64"
						      : "quoted-printable");
		cur = k->dec[0].data ? k->dec[0].data : "";
		curn = k->dec[0].len;
	}
	int det = coding;
	if (coding >= 0) {
		int rc = mask__inflate(k, coding, cur, curn, c->m->max_scan,
				       &k->dec[1], &det);
		if (rc)
			return fail_from(c, k, rc, "multipart part");
		cur = k->dec[1].data ? k->dec[1].data : "";
		curn = k->dec[1].len;
	}
	bool ch;
	buf_reset(&k->body);
	int rc = mask__typed_body(k, ct, ctl, cur, curn, NULL, &k->body, &ch);
	if (rc)
		return fail_from(c, k, rc, "multipart part");
	merge(c, k, pos, "part");
	if (!ch)
		return 0;
	cur = k->body.data;
	curn = k->body.len;
	if (coding >= 0) {
		mask__deflate(k, det, cur, curn, &k->enc[0]);
		cur = k->enc[0].data;
		curn = k->enc[0].len;
	}
	if (te == T_B64)
		b64_encode(out, (const unsigned char *)cur, curn, false, true,
			   B64_LINE);
	else if (te == T_QP)
		qp_encode(out, cur, curn);
	else
		buf_append(out, cur, curn);
	*changed = true;
	return 0;
}

/* ----------------------------------------------------------- charsets */

enum { CS_NONE, CS_UTF16LE, CS_UTF16BE, CS_LATIN1 };

/* The charset parameter of a Content-Type, or NULL. */
static const char *charset_of(const char *ct, size_t n, size_t *len)
{
	for (size_t i = 0; ct && i + 8 <= n; i++) {
		if (strncasecmp(ct + i, "charset=", 8) != 0 ||
		    (i > 0 && ct[i - 1] != ';' && ct[i - 1] != ' ' &&
		     ct[i - 1] != '\t'))
			continue;
		size_t a = i + 8, b = a;
		if (a < n && ct[a] == '"')
			a++, b++;
		while (b < n && ct[b] != ';' && ct[b] != '"' && ct[b] != ' ')
			b++;
		*len = b - a;
		return ct + a;
	}
	return NULL;
}

/* A media type whose bytes are text: text/..., JSON, XML, forms. */
static bool media_text(const char *ct, size_t n)
{
	size_t a = 0;
	while (a < n && (ct[a] == ' ' || ct[a] == '\t'))
		a++;
	size_t b = a;
	while (b < n && ct[b] != ';')
		b++;
	const char *t = ct + a;
	size_t tn = b - a;
	return (tn >= 5 && strncasecmp(t, "text/", 5) == 0) ||
	       memmem(t, tn, "json", 4) || memmem(t, tn, "xml", 3) ||
	       tok_is(t, tn, "application/x-www-form-urlencoded");
}

/* Which conversion the body needs, and how many BOM bytes it has. */
static int charset_kind(const char *ct, size_t ctl, const char *s, size_t n,
			size_t *bom)
{
	*bom = 0;
	size_t cl = 0;
	const char *cs = charset_of(ct, ctl, &cl);
	const unsigned char *u = (const unsigned char *)s;
	/* A BOM decides only for text: a binary upload may start with
	 * those bytes. */
	bool textual = !ct || ctl == 0 || media_text(ct, ctl);
	if (textual && n >= 2 && u[0] == 0xff && u[1] == 0xfe && !(n >= 4 && !u[2] && !u[3])) {
		*bom = 2;
		return CS_UTF16LE;
	}
	if (textual && n >= 2 && u[0] == 0xfe && u[1] == 0xff) {
		*bom = 2;
		return CS_UTF16BE;
	}
	if (!cs)
		return CS_NONE;
	if (tok_is(cs, cl, "utf-16le"))
		return CS_UTF16LE;
	if (tok_is(cs, cl, "utf-16be") || tok_is(cs, cl, "utf-16"))
		return CS_UTF16BE; /* RFC 2781 4.3: big-endian without BOM */
	if (tok_is(cs, cl, "iso-8859-1") || tok_is(cs, cl, "latin1") ||
	    tok_is(cs, cl, "latin-1") || tok_is(cs, cl, "iso8859-1") ||
	    tok_is(cs, cl, "l1"))
		return CS_LATIN1;
	return CS_NONE;
}

/* Appends code point cp as UTF-8 (mask_int.h). */
void mask__put_utf8(buf_t *out, uint32_t cp)
{
	char u[4];
	size_t k;
	if (cp < 0x80) {
		u[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	buf_append(out, u, k);
}

/* To UTF-8. False on an odd length or a lone surrogate (UTF-16). */
static bool to_utf8(int cs, const unsigned char *s, size_t n, buf_t *out)
{
	buf_reset(out);
	buf_reserve(out, n * 2);
	if (cs == CS_LATIN1) {
		for (size_t i = 0; i < n; i++)
			mask__put_utf8(out, s[i]);
		return true;
	}
	if (n % 2)
		return false;
	bool le = cs == CS_UTF16LE;
	for (size_t i = 0; i < n; i += 2) {
		uint32_t u = le ? (uint32_t)(s[i] | s[i + 1] << 8)
				: (uint32_t)(s[i] << 8 | s[i + 1]);
		if (u >= 0xdc00 && u < 0xe000)
			return false;
		if (u >= 0xd800 && u < 0xdc00) {
			if (i + 3 >= n)
				return false;
			uint32_t l = le ? (uint32_t)(s[i + 2] | s[i + 3] << 8)
					: (uint32_t)(s[i + 2] << 8 | s[i + 3]);
			if (l < 0xdc00 || l >= 0xe000)
				return false;
			u = 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00);
			i += 2;
		}
		mask__put_utf8(out, u);
	}
	return true;
}

/* Back from UTF-8. False on invalid UTF-8 or a character Latin-1 lacks. */
static bool from_utf8(int cs, const unsigned char *s, size_t n, buf_t *out)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		unsigned char ch = s[i];
		size_t k;
		if (ch < 0x80)
			k = 0;
		else if (ch >= 0xc2 && ch < 0xe0)
			k = 1;
		else if (ch >= 0xe0 && ch < 0xf0)
			k = 2;
		else if (ch >= 0xf0 && ch < 0xf5)
			k = 3;
		else
			return false;
		if (n - i <= k)
			return false;
		cp = k == 0 ? ch
		     : k == 1 ? ch & 0x1f
		     : k == 2 ? ch & 0x0f
			      : ch & 0x07;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		i += k + 1;
		if (cs == CS_LATIN1) {
			if (cp > 0xff)
				return false;
			buf_putc(out, (char)cp);
			continue;
		}
		bool le = cs == CS_UTF16LE;
		uint32_t units[2];
		size_t nu = 1;
		if (cp >= 0x10000) {
			units[0] = 0xd800 + ((cp - 0x10000) >> 10);
			units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
			nu = 2;
		} else {
			units[0] = cp;
		}
		for (size_t q = 0; q < nu; q++) {
			char b[2] = {(char)(le ? units[q] & 0xff : units[q] >> 8),
				     (char)(le ? units[q] >> 8 : units[q] & 0xff)};
			buf_append(out, b, 2);
		}
	}
	return true;
}

/* ----------------------------------------------------------- files */

static bool media_is(const char *ct, size_t n, const char *want)
{
	size_t a = 0;
	while (a < n && (ct[a] == ' ' || ct[a] == '\t'))
		a++;
	size_t b = a;
	while (b < n && ct[b] != ';')
		b++;
	return tok_is(ct + a, b - a, want);
}

/* zstd frames s[0..n) into out, at most max bytes. 0, ERR_TOOBIG or
 * ERR_PARSE. */
static int unzstd(const char *s, size_t n, size_t max, buf_t *out)
{
	buf_reset(out);
	ZSTD_DCtx *z = ZSTD_createDCtx();
	if (!z)
		xmalloc_oom("ZSTD_createDCtx");
	ZSTD_inBuffer in = {s, n, 0};
	size_t last = 1;
	int rc = 0;
	while (in.pos < in.size || last != 0) {
		buf_reserve(out, 65536);
		size_t room = out->cap - out->len - 1;
		ZSTD_outBuffer ob = {out->data + out->len, room, 0};
		last = ZSTD_decompressStream(z, &ob, &in);
		if (ZSTD_isError(last)) {
			rc = ERR_PARSE;
			break;
		}
		out->len += ob.pos;
		if (out->len > max) {
			rc = ERR_TOOBIG;
			break;
		}
		if (in.pos == in.size && ob.pos == 0 && last != 0) {
			rc = ERR_PARSE; /* truncated */
			break;
		}
	}
	ZSTD_freeDCtx(z);
	if (out->data)
		out->data[out->len] = '\0';
	return rc;
}

int mask__typed_special(mask_ctx_t *c, const char *ct, size_t ctl,
			const char *s, size_t n, const mpos_t *tpos,
			buf_t *out, bool *changed, int *rc)
{
	*rc = 0;
	*changed = false;
	size_t bom = 0;
	int cs = c->charset_done ? CS_NONE : charset_kind(ct, ctl, s, n, &bom);
	bool gz = ct && (media_is(ct, ctl, "application/gzip") ||
			 media_is(ct, ctl, "application/x-gzip"));
	bool zs = ct && (media_is(ct, ctl, "application/zstd") ||
			 media_is(ct, ctl, "application/x-zstd"));
	if (cs == CS_NONE && !gz && !zs)
		return 0;
	mask_ctx_t *k = child_of(c);
	if (!k) {
		*rc = mask__fail(c, MASK_R_TOO_DEEP, ERR_TOOBIG,
				 "a body nested more than %d encodings deep",
				 MASK_NEST_MAX);
		return 1;
	}
	const mask_t *m = c->m;
	bool ch = false;
	if (gz || zs) {
		int det = MASK_CODING_GZIP;
		int r = gz ? mask__inflate(k, MASK_CODING_GZIP, s, n,
					   m->max_scan, &k->dec[0], &det)
			   : unzstd(s, n, m->max_scan, &k->dec[0]);
		if (r) {
			*rc = gz ? fail_from(c, k, r, "application/gzip")
				 : mask__fail(c,
					      r == ERR_TOOBIG ? MASK_R_TOO_BIG
							      : MASK_R_BAD_ZSTD,
					      r,
					      "application/zstd: %s",
					      r == ERR_TOOBIG
						  ? "decodes to more than "
						    "mask.max_scan"
						  : "not a zstd stream");
			return 1;
		}
		/* the file inside: what it is, by its bytes */
		int r2 = mask_sniffed(k, k->dec[0].data ? k->dec[0].data : "",
				      k->dec[0].len, &ch);
		if (r2) {
			*rc = fail_from(c, k, r2, "compressed file");
			return 1;
		}
		merge(c, k, tpos, gz ? "gzip" : "zstd");
		if (!ch)
			return 1;
		if (gz) {
			mask__deflate(k, det, k->body.data, k->body.len,
				      &k->enc[0]);
			buf_append(out, k->enc[0].data, k->enc[0].len);
		} else {
			size_t bound = ZSTD_compressBound(k->body.len);
			buf_reserve(out, bound + 1);
			size_t z = ZSTD_compress(out->data + out->len, bound,
						 k->body.data, k->body.len,
						 ZSTD_LEVEL);
			if (ZSTD_isError(z))
				xmalloc_oom("ZSTD_compress");
			out->len += z;
			out->data[out->len] = '\0';
		}
		*changed = true;
		return 1;
	}
	if (!to_utf8(cs, (const unsigned char *)s + bom, n - bom, &k->dec[0])) {
		*rc = mask__fail(c, MASK_R_BAD_CHARSET, ERR_PARSE,
				 "body is not valid UTF-16 (odd length or a "
				 "lone surrogate)");
		return 1;
	}
	k->charset_done = true;
	k->prefix = c->prefix; /* the same text, converted */
	buf_reset(&k->body);
	int r = mask__typed_body(k, ct, ctl, k->dec[0].data ? k->dec[0].data : "",
				 k->dec[0].len, tpos, &k->body, &ch);
	if (r) {
		*rc = fail_from(c, k, r, "converted body");
		return 1;
	}
	merge(c, k, tpos, cs == CS_LATIN1 ? "latin1" : "utf16");
	if (!ch)
		return 1;
	size_t mark = out->len;
	buf_append(out, s, bom);
	if (!from_utf8(cs, (const unsigned char *)k->body.data, k->body.len,
		       out)) {
		out->len = mark;
		*rc = mask__fail(c, MASK_R_BAD_CHARSET, ERR_PARSE,
				 "a replacement is not representable in the "
				 "body's charset");
		return 1;
	}
	*changed = true;
	return 1;
}
