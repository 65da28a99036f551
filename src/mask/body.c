/*
 * body.c: which walker masks a body, by its media type.
 *
 *   application/json, text/json, anything +json       JSON
 *   application/x-ndjson, application/jsonl (and x-)   JSON values in a row
 *   application/x-www-form-urlencoded                  form
 *   multipart/(any subtype)                            multipart
 *   everything else, and no Content-Type at all        text
 *
 * Text is the safe default: the detectors find what looks sensitive in
 * any bytes, including types we do not parse (XML, CSV, HTML, binary).
 */
#include "mask/mask_int.h"

#include <string.h>
#include <strings.h>

typedef enum { BT_TEXT, BT_JSON, BT_NDJSON, BT_FORM, BT_MULTIPART } btype_t;

static bool is(const char *t, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(t, want, n) == 0;
}

static btype_t body_type(const char *ct, size_t n)
{
	if (!ct)
		return BT_TEXT;
	size_t a = 0;
	while (a < n && (ct[a] == ' ' || ct[a] == '\t'))
		a++;
	size_t b = a;
	while (b < n && ct[b] != ';')
		b++;
	while (b > a && (ct[b - 1] == ' ' || ct[b - 1] == '\t'))
		b--;
	const char *t = ct + a;
	size_t tn = b - a;
	if (is(t, tn, "application/json") || is(t, tn, "text/json") ||
	    (tn > 5 && strncasecmp(t + tn - 5, "+json", 5) == 0))
		return BT_JSON;
	if (is(t, tn, "application/x-ndjson") ||
	    is(t, tn, "application/jsonl") ||
	    is(t, tn, "application/x-jsonlines") ||
	    is(t, tn, "application/jsonlines"))
		return BT_NDJSON;
	if (is(t, tn, "application/x-www-form-urlencoded"))
		return BT_FORM;
	if (tn > 10 && strncasecmp(t, "multipart/", 10) == 0)
		return BT_MULTIPART;
	return BT_TEXT;
}

void mask__textbody(mask_ctx_t *c, const char *s, size_t n, buf_t *out)
{
	mpos_t pos = {.where = MASK_AT_TEXT};
	if (!mask__text(c, s, n, &pos, out))
		buf_append(out, s, n);
}

int mask__typed_body(mask_ctx_t *c, const char *ctype, size_t ctype_len,
		     const char *s, size_t n, const mpos_t *tpos, buf_t *out,
		     bool *changed)
{
	*changed = false;
	if (n == 0)
		return 0;
	size_t mark = out->len, whole = n;
	int rc = 0;
	/* compressed files and other charsets: decoded one layer down */
	if (mask__typed_special(c, ctype, ctype_len, s, n, tpos, out, changed,
				&rc))
		return rc;
	btype_t t = body_type(ctype, ctype_len);
	if (t == BT_MULTIPART && c->in_multipart)
		t = BT_TEXT;
	switch (t) {
	case BT_JSON:
	case BT_NDJSON:
		rc = mask__json(c, s, n, t == BT_NDJSON, out);
		break;
	case BT_FORM:
		if (c->prefix) {
			/* the last pair may be cut: it goes */
			const char *amp = memrchr(s, '&', n);
			n = amp ? (size_t)(amp - s) : 0;
			if (n == 0) {
				*changed = true;
				return 0;
			}
		}
		rc = mask__form(c, s, n, out);
		break;
	case BT_MULTIPART:
		c->in_multipart = true;
		rc = mask__multipart(c, ctype, ctype_len, s, n, out);
		c->in_multipart = false;
		break;
	default: {
		mpos_t pos = {.where = MASK_AT_TEXT};
		size_t keep = n;
		if (c->prefix) {
			/* a value may be cut in the tail: it goes, back to a
			 * separator */
			keep = n > MASK_PREFIX_TAIL ? n - MASK_PREFIX_TAIL : 0;
			while (keep > 0 && !strchr(" \t\r\n,;<>\"'", s[keep - 1]))
				keep--;
		}
		*changed = mask__text(c, s, keep, tpos ? tpos : &pos, out);
		if (keep < n && !*changed)
			buf_append(out, s, keep);
		*changed |= keep < n;
		return 0;
	}
	}
	if (rc) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
		return rc;
	}
	*changed = !(out->len - mark == whole &&
		     memcmp(out->data + mark, s, whole) == 0);
	if (!*changed) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
	}
	return 0;
}
