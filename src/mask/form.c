/*
 * form.c: application/x-www-form-urlencoded bodies and request targets.
 *
 * A form body and a query string are the same grammar: pairs split by
 * '&', key and value split by the first '=', percent-encoded, '+' a
 * space. Each pair's decoded key picks its fate: a custom rule (where:
 * form for bodies and multipart fields, where: query for the target), a
 * sensitive key name, or the detectors over the decoded value (and the
 * key). Only pairs that change are re-encoded; the rest are copied byte
 * for byte. Drop removes the pair and one '&'.
 *
 * A form body with an invalid percent escape cannot be parsed as its type
 * and fails closed. A request target never fails: the proxy forwards
 * whatever production accepted, so escapes that do not decode are
 * scanned as they are. Path segments are decoded and scanned one by one.
 */
#include "mask/mask_int.h"

#include "base/err.h"

#include <string.h>

typedef struct fwriter {
	const char *s;
	buf_t *out;
	size_t copied;
} fwriter_t;

static void fw_flush(fwriter_t *f, size_t upto)
{
	if (upto > f->copied) {
		buf_append(f->out, f->s + f->copied, upto - f->copied);
		f->copied = upto;
	}
}

/* The pairs of s[0..n), writing through f. where is MASK_AT_FORM or
 * MASK_AT_QUERY; strict fails on invalid escapes. base: offset of s in
 * the body, for error messages. */
static int pairs(mask_ctx_t *c, fwriter_t *f, size_t from, size_t to, int where,
		 bool strict)
{
	const mask_t *m = c->m;
	const char *s = f->s;
	int rwhere =
	    where == MASK_AT_FORM ? CONFIG_MASK_FORM : CONFIG_MASK_QUERY;
	size_t emitted = 0, prev_end = from;
	for (size_t i = from; i <= to;) {
		const char *amp = memchr(s + i, '&', to - i);
		size_t e = amp ? (size_t)(amp - s) : to;
		const char *eq = memchr(s + i, '=', e - i);
		size_t ke = eq ? (size_t)(eq - s) : e;
		buf_reset(&c->fdec);
		if (!mask__pct_decode(&c->fdec, s + i, ke - i, true, strict))
			return mask__fail(c, MASK_R_BAD_FORM, ERR_PARSE,
					  "bad percent escape in the key at "
					  "byte %zu",
					  i);
		const char *k = c->fdec.data ? c->fdec.data : "";
		size_t kn = c->fdec.len;
		mpos_t pos = {
		    .where = (uint8_t)where, .name = k, .name_len = kn};
		int act = -1, src = 0;
		long r = mask__rule_by_name(m, rwhere, k, kn);
		if (r >= 0) {
			act = m->rules[r].action;
			src = m->rules[r].src;
		} else if (eq && mask__key_sensitive(m, k, kn)) {
			act = m->det_action[CONFIG_MASK_DET_keys];
			src = CONFIG_MASK_DET_keys;
		}
		buf_reset(&c->fdec2);
		if (eq && !mask__pct_decode(&c->fdec2, eq + 1, e - ke - 1, true,
					    strict))
			return mask__fail(c, MASK_R_BAD_FORM, ERR_PARSE,
					  "bad percent escape in the value "
					  "at byte %zu",
					  ke + 1);
		if (act == CONFIG_ACT_DROP) {
			mask__hit(c, &pos, src, act, 0);
			if (emitted) {
				fw_flush(f, prev_end);
				f->copied = e;
			} else {
				fw_flush(f, i);
				f->copied = e < to ? e + 1 : e;
			}
		} else {
			if (act == -1) {
				/* The key itself ("?ann@example.org"). */
				buf_reset(&c->vout);
				if (mask__text(c, k, kn, &pos, &c->vout)) {
					fw_flush(f, i);
					mask__pct_encode(f->out, c->vout.data,
							 c->vout.len,
							 where == MASK_AT_FORM);
					f->copied = ke;
				}
			}
			if (eq && act != CONFIG_ACT_KEEP) {
				const char *v =
				    c->fdec2.data ? c->fdec2.data : "";
				size_t vn = c->fdec2.len;
				bool changed = true;
				buf_reset(&c->vout);
				if (act == -1)
					changed = mask__text(c, v, vn, &pos,
							     &c->vout);
				else
					mask__whole(c, src, act, MK_GENERIC, v,
						    vn, &pos, &c->vout);
				if (changed) {
					fw_flush(f, ke + 1);
					mask__pct_encode(f->out, c->vout.data,
							 c->vout.len,
							 where == MASK_AT_FORM);
					f->copied = e;
				}
			}
			emitted++;
			prev_end = e;
		}
		if (e == to)
			break;
		i = e + 1;
	}
	return 0;
}

int mask__form(mask_ctx_t *c, const char *s, size_t n, buf_t *out)
{
	fwriter_t f = {s, out, 0};
	int rc = pairs(c, &f, 0, n, MASK_AT_FORM, true);
	if (rc)
		return rc;
	fw_flush(&f, n);
	return 0;
}

/* Path segments of s[from..to): each decoded (leniently), scanned, and
 * re-encoded when it changed. */
static void path(mask_ctx_t *c, fwriter_t *f, size_t from, size_t to)
{
	const char *s = f->s;
	long seg = 0;
	for (size_t i = from; i < to;) {
		if (s[i] == '/') {
			i++;
			continue;
		}
		seg++;
		const char *sl = memchr(s + i, '/', to - i);
		size_t e = sl ? (size_t)(sl - s) : to;
		const char *v = s + i;
		size_t vn = e - i;
		if (memchr(v, '%', vn)) {
			buf_reset(&c->fdec);
			mask__pct_decode(&c->fdec, v, vn, false, false);
			v = c->fdec.data;
			vn = c->fdec.len;
		}
		mpos_t pos = {.where = MASK_AT_PATH, .seg = seg};
		buf_reset(&c->vout);
		if (mask__text(c, v, vn, &pos, &c->vout)) {
			fw_flush(f, i);
			mask__pct_encode_path(f->out, c->vout.data,
					      c->vout.len);
			f->copied = e;
		}
		i = e;
	}
}

void mask__target(mask_ctx_t *c, const char *s, size_t n, buf_t *out)
{
	fwriter_t f = {s, out, 0};
	size_t p = 0;
	/* absolute-form: scheme://authority then the path. Credentials in
	 * the authority are the auth detector's. */
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986) */
	size_t sl = 0;
	if (n && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
		while (sl < n &&
		       (((s[sl] | 0x20) >= 'a' && (s[sl] | 0x20) <= 'z') ||
			(s[sl] >= '0' && s[sl] <= '9') || s[sl] == '+' ||
			s[sl] == '-' || s[sl] == '.'))
			sl++;
	const char *colon = sl && sl + 2 < n && s[sl] == ':' ? s + sl : NULL;
	if (colon && colon[1] == '/' && colon[2] == '/') {
		size_t a = (size_t)(colon - s) + 3, e = a;
		while (e < n && s[e] != '/' && s[e] != '?' && s[e] != '#')
			e++;
		const char *at = memchr(s + a, '@', e - a);
		const mask_t *m = c->m;
		int act = m->det_action[CONFIG_MASK_DET_auth];
		if (at && m->det_on[CONFIG_MASK_DET_auth] &&
		    act != CONFIG_ACT_KEEP) {
			size_t ue = (size_t)(at - s);
			mpos_t pos = {.where = MASK_AT_PATH, .seg = -1};
			buf_reset(&c->vout);
			fw_flush(&f, a);
			if (act != CONFIG_ACT_DROP) {
				mask__whole(c, CONFIG_MASK_DET_auth, act,
					    MK_TOKEN, s + a, ue - a, &pos,
					    &c->vout);
				mask__pct_encode(out, c->vout.data, c->vout.len,
						 false);
				f.copied = ue;
			} else {
				mask__hit(c, &pos, CONFIG_MASK_DET_auth, act,
					  0);
				f.copied = ue + 1;
			}
		}
		p = e;
	} else if (n == 0 || s[0] != '/') {
		/* authority-form (CONNECT) or '*': names a server. */
		buf_append(out, s, n);
		return;
	}
	size_t q = p;
	while (q < n && s[q] != '?' && s[q] != '#')
		q++;
	path(c, &f, p, q);
	if (q < n && s[q] == '?') {
		size_t h = q + 1;
		while (h < n && s[h] != '#')
			h++;
		pairs(c, &f, q + 1, h, MASK_AT_QUERY, false);
	}
	fw_flush(&f, n);
}
