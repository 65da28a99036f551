/*
 * multipart.c: multipart/form-data (RFC 7578) and the other multipart types
 * bodies (RFC 2046 5.1), which share the syntax.
 *
 *   preamble CRLF --boundary CRLF headers CRLF CRLF content
 *            CRLF --boundary CRLF ... CRLF --boundary-- epilogue
 *
 * Each part's field name (Content-Disposition name=) is a form key: a
 * `where: form` rule or a sensitive name owns the content whole. Else the
 * content is masked by its own Content-Type: JSON and urlencoded parts by
 * their walkers, anything else as text (file uploads included: a CSV of
 * e-mail addresses is masked; a binary file with nothing that looks
 * sensitive passes unchanged). A part with Content-Transfer-Encoding
 * base64 or quoted-printable, or Content-Encoding gzip/deflate, is
 * decoded, masked and re-encoded (nested.c). Part header values (a filename holding an
 * e-mail address) are scanned too. Preamble and epilogue are text.
 *
 * Fails closed without a boundary, without the closing delimiter, with
 * more than MASK_MULTIPART_MAX_PARTS parts, a part header block over
 * MASK_PART_HEADER_MAX, or a part that fails its own walker. Bare LF line
 * ends are accepted where CRLF is due (some clients send them).
 */
#include "mask/mask_int.h"

#include "base/err.h"

#include <string.h>
#include <strings.h>

typedef struct mwriter {
	const char *s;
	buf_t *out;
	size_t copied;
} mwriter_t;

static void mw_flush(mwriter_t *f, size_t upto)
{
	if (upto > f->copied) {
		buf_append(f->out, f->s + f->copied, upto - f->copied);
		f->copied = upto;
	}
}

/* The value of parameter name in a header value like
 * `form-data; name="x"; filename=y` (quoted-string or token). Returns
 * false when absent. Quoted values are returned raw (escapes kept). */
static bool param(const char *v, size_t n, const char *name, const char **pv,
		  size_t *pn)
{
	size_t nl = strlen(name);
	size_t i = 0;
	/* skip the leading type: parameters follow ';' */
	while (i < n) {
		const char *semi = memchr(v + i, ';', n - i);
		if (!semi)
			return false;
		i = (size_t)(semi - v) + 1;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (n - i > nl && strncasecmp(v + i, name, nl) == 0) {
			size_t j = i + nl;
			while (j < n && (v[j] == ' ' || v[j] == '\t'))
				j++;
			if (j >= n || v[j] != '=')
				continue;
			j++;
			while (j < n && (v[j] == ' ' || v[j] == '\t'))
				j++;
			if (j < n && v[j] == '"') {
				size_t k = ++j;
				while (k < n && v[k] != '"') {
					if (v[k] == '\\' && k + 1 < n)
						k++;
					k++;
				}
				*pv = v + j;
				*pn = k - j;
				return k < n;
			}
			size_t k = j;
			while (k < n && v[k] != ';' && v[k] != ' ' &&
			       v[k] != '\t')
				k++;
			*pv = v + j;
			*pn = k - j;
			return true;
		}
	}
	return false;
}

/* Finds the next delimiter ("--boundary" at a line start) at or after
 * from; returns its offset or n. */
static size_t next_delim(const char *s, size_t n, size_t from, const char *d,
			 size_t dn)
{
	size_t p = from;
	while (p + dn <= n) {
		const char *hit = memmem(s + p, n - p, d, dn);
		if (!hit)
			return n;
		size_t h = (size_t)(hit - s);
		if (h == 0 || s[h - 1] == '\n')
			return h;
		p = h + 1;
	}
	return n;
}

/* Where the content before the delimiter at h ends: before its CRLF or
 * LF. */
static size_t content_end(const char *s, size_t from, size_t h)
{
	if (h > from && s[h - 1] == '\n')
		h--;
	if (h > from && s[h - 1] == '\r')
		h--;
	return h;
}

/* Masks one part's header lines in s[a..b) in place through f. Returns
 * the field name and content type found. */
typedef struct pcoding {
	const char *cte, *cenc; /* Content-Transfer-Encoding, -Encoding */
	size_t cte_len, cenc_len;
} pcoding_t;

static void part_headers(mask_ctx_t *c, mwriter_t *f, size_t a, size_t b,
			 const char **name, size_t *name_len,
			 const char **ctype, size_t *ctype_len, pcoding_t *pc)
{
	const char *s = f->s;
	*name = NULL;
	*name_len = 0;
	*ctype = NULL;
	*ctype_len = 0;
	*pc = (pcoding_t){0};
	for (size_t i = a; i < b;) {
		const char *nl = memchr(s + i, '\n', b - i);
		size_t e = nl ? (size_t)(nl - s) : b;
		size_t le = e > i && s[e - 1] == '\r' ? e - 1 : e;
		const char *colon = memchr(s + i, ':', le - i);
		if (colon) {
			size_t hn = (size_t)(colon - s) - i;
			size_t v = (size_t)(colon - s) + 1;
			while (v < le && (s[v] == ' ' || s[v] == '\t'))
				v++;
			if (hn == 19 &&
			    strncasecmp(s + i, "content-disposition", 19) == 0)
				param(s + v, le - v, "name", name, name_len);
			else if (hn == 12 &&
				 strncasecmp(s + i, "content-type", 12) == 0) {
				*ctype = s + v;
				*ctype_len = le - v;
			} else if (hn == 25 &&
				   strncasecmp(s + i,
					       "content-transfer-encoding",
					       25) == 0) {
				pc->cte = s + v;
				pc->cte_len = le - v;
			} else if (hn == 16 &&
				   strncasecmp(s + i, "content-encoding",
					       16) == 0) {
				pc->cenc = s + v;
				pc->cenc_len = le - v;
			}
			mpos_t pos = {.where = MASK_AT_MULTIPART,
				      .name = s + i,
				      .name_len = hn};
			buf_reset(&c->vout);
			if (mask__text(c, s + v, le - v, &pos, &c->vout)) {
				mw_flush(f, v);
				buf_append(f->out, c->vout.data, c->vout.len);
				f->copied = le;
			}
		}
		i = e + 1;
	}
}

/* Preamble or epilogue: text. */
static void side_text(mask_ctx_t *c, mwriter_t *f, size_t a, size_t b)
{
	if (b <= a)
		return;
	mpos_t pos = {.where = MASK_AT_TEXT, .off = a};
	buf_reset(&c->vout);
	if (mask__text(c, f->s + a, b - a, &pos, &c->vout)) {
		mw_flush(f, a);
		buf_append(f->out, c->vout.data, c->vout.len);
		f->copied = b;
	}
}

int mask__multipart(mask_ctx_t *c, const char *ctype, size_t ctype_len,
		    const char *s, size_t n, buf_t *out)
{
	const mask_t *m = c->m;
	const char *bv;
	size_t bn;
	if (!param(ctype, ctype_len, "boundary", &bv, &bn) || bn == 0 ||
	    bn > MASK_BOUNDARY_MAX)
		return mask__fail(c, MASK_R_BAD_MULTIPART, ERR_PARSE,
				  "no boundary of 1 to %d characters in the "
				  "Content-Type",
				  MASK_BOUNDARY_MAX);
	char delim[MASK_BOUNDARY_MAX + 2];
	delim[0] = delim[1] = '-';
	memcpy(delim + 2, bv, bn);
	size_t dn = bn + 2;

	mwriter_t f = {s, out, 0};
	size_t d = next_delim(s, n, 0, delim, dn);
	if (d >= n)
		return mask__fail(c, MASK_R_BAD_MULTIPART, ERR_PARSE,
				  "no boundary delimiter in the body");
	side_text(c, &f, 0, content_end(s, 0, d));
	size_t parts = 0;
	for (;;) {
		size_t p = d + dn;
		if (n - p >= 2 && s[p] == '-' && s[p + 1] == '-') {
			side_text(c, &f, p + 2, n); /* epilogue */
			break;
		}
		if (++parts > MASK_MULTIPART_MAX_PARTS)
			return mask__fail(c, MASK_R_BAD_MULTIPART, ERR_PARSE,
					  "more than %d parts",
					  MASK_MULTIPART_MAX_PARTS);
		while (p < n && (s[p] == ' ' || s[p] == '\t'))
			p++;
		if (p < n && s[p] == '\r')
			p++;
		if (p >= n || s[p] != '\n')
			return mask__fail(c, MASK_R_BAD_MULTIPART, ERR_PARSE,
					  "no line break after the delimiter "
					  "at byte %zu",
					  d);
		size_t h = ++p, hend, body;
		if (p < n && (s[p] == '\n' || (s[p] == '\r' && p + 1 < n &&
					       s[p + 1] == '\n'))) {
			hend = p; /* no headers */
			body = p + (s[p] == '\r' ? 2 : 1);
		} else {
			/* The blank line must come before the next
			 * delimiter: headers never span parts. */
			size_t lim = next_delim(s, n, h, delim, dn);
			if (lim - h > MASK_PART_HEADER_MAX)
				lim = h + MASK_PART_HEADER_MAX;
			const char *crlf =
			    memmem(s + h, lim - h, "\r\n\r\n", 4);
			const char *lflf = memmem(s + h, lim - h, "\n\n", 2);
			if (!crlf && !lflf)
				return mask__fail(
				    c, MASK_R_BAD_MULTIPART, ERR_PARSE,
				    "part %zu: no end of its headers "
				    "before the next delimiter or within "
				    "%d bytes",
				    parts, MASK_PART_HEADER_MAX);
			if (crlf && (!lflf || crlf < lflf)) {
				hend = (size_t)(crlf - s) + 2;
				body = hend + 2;
			} else {
				hend = (size_t)(lflf - s) + 1;
				body = hend + 1;
			}
		}
		size_t nd = next_delim(s, n, body, delim, dn);
		if (nd >= n)
			return mask__fail(c, MASK_R_BAD_MULTIPART, ERR_PARSE,
					  "part %zu: no closing delimiter",
					  parts);
		size_t cend = content_end(s, body, nd);
		const char *name, *pct;
		size_t name_len, pct_len;
		size_t out_mark = out->len, copied_mark = f.copied;
		pcoding_t pc;
		part_headers(c, &f, h, hend, &name, &name_len, &pct, &pct_len,
			     &pc);

		int act = -1, src = 0;
		long r = name ? mask__rule_by_name(m, CONFIG_MASK_FORM, name,
						   name_len)
			      : -1;
		if (r >= 0) {
			act = m->rules[r].action;
			src = m->rules[r].src;
		} else if (name && mask__key_sensitive(m, name, name_len)) {
			act = m->det_action[CONFIG_MASK_DET_keys];
			src = CONFIG_MASK_DET_keys;
		}
		mpos_t pos = {.where = MASK_AT_MULTIPART,
			      .name = name,
			      .name_len = name_len};
		if (act == CONFIG_ACT_DROP) {
			mask__hit(c, &pos, src, act, 0);
			out->len = out_mark; /* header edits go too */
			f.copied = copied_mark;
			mw_flush(&f, d);
			f.copied = nd;
			d = nd;
			continue;
		}
		if (act == CONFIG_ACT_KEEP) {
			d = nd;
			continue;
		}
		buf_t *po = &c->part;
		buf_reset(po);
		bool changed = true;
		if (cend == body) {
			/* Empty: nothing to mask, and no line break before
			 * the next delimiter to write anything in front of. */
			changed = false;
		} else if (act != -1) {
			mask__whole(c, src, act, MK_GENERIC, s + body,
				    cend - body, &pos, po);
		} else {
			int rc = mask__part_encoded(
			    c, pct, pct_len, pc.cte, pc.cte_len, pc.cenc,
			    pc.cenc_len, s + body, cend - body, &pos, po,
			    &changed);
			if (rc)
				return rc;
		}
		if (changed) {
			if (memmem(po->data, po->len, delim, dn))
				return mask__fail(c, MASK_R_BAD_MULTIPART,
						  ERR_PARSE,
						  "part %zu: masked content "
						  "would contain the boundary",
						  parts);
			mw_flush(&f, body);
			buf_append(out, po->data, po->len);
			f.copied = cend;
		}
		d = nd;
	}
	mw_flush(&f, n);
	return 0;
}
