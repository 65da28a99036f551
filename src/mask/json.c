/*
 * json.c: the JSON body walker. A strict RFC 8259 recursive-descent
 * scanner over the caller's bytes that copies the input through and
 * rewrites only what it masks: whitespace, key order, number spelling and
 * untouched escapes stay byte for byte, so the shadow parses what
 * production parsed. (jansson would re-serialise every number and escape,
 * and was 5-10x slower round-trip on the benchmark bodies; see
 * bench/mask.c.)
 *
 * For each value the walker decides, in this order: a JSON-path rule that
 * matches exactly here; else what an enclosing rule or sensitive key
 * passed down (redact, hash and keep cover a whole subtree); else a
 * sensitive key name (mask.sensitive_keys); else the detectors (strings
 * through mask__text; numbers of any form whose whole value is a card
 * number by its digits, or a phone or account number by its key, through
 * those detectors).
 * Keys are scanned by the detectors too (maps keyed by e-mail exist).
 *
 * JSON-path rules ($.a.b, $.items[*].card, $['x'], $[0], $..email) are
 * compiled into component lists; each rule's state at a depth is the set
 * of components matched so far (a 64-bit set, NFA-style, so ".." costs no
 * backtracking), updated once per level.
 *
 * Drop removes a member or element with its comma. Redact makes a string
 * the marker and a number 0; hash gives a string its shaped pseudonym and
 * a number a number of the same form. true, false and null stay.
 */
#include "mask/mask_int.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <string.h>

typedef struct jlevel {
	size_t key_off, key_len; /* current member's decoded key, in c->keys */
	uint64_t index;		 /* current element's index */
	bool array;
	int act, src;	 /* passed down to the children; act -1: none */
	size_t emitted;	 /* members/elements kept so far */
	size_t prev_end; /* end of the last kept one's value */
	bool key_masked; /* the key matched a detector: hide it in reports */
} jlevel_t;

typedef struct jwalk {
	mask_ctx_t *c;
	const char *s;
	size_t n, p;
	buf_t *out;
	size_t copied; /* s[copied..] is not in out yet */
	int depth;
	int suppress;  /* inside a dropped value: write nothing */
	size_t safe;   /* input before it is whole and masked (c->prefix) */
	size_t nrules; /* JSON-path rules */
	uint64_t *st;  /* st[depth * nrules + r] */
	jlevel_t lv[MASK_JSON_MAX_DEPTH + 1];
} jwalk_t;

#define ACT_NONE (-1)

static int jfail(jwalk_t *w, const char *what)
{
	return mask__fail(w->c, MASK_R_BAD_JSON, ERR_PARSE, "%s at byte %zu",
			  what, w->p);
}

static void flush(jwalk_t *w, size_t upto)
{
	if (upto > w->copied) {
		buf_append(w->out, w->s + w->copied, upto - w->copied);
		w->copied = upto;
	}
}

/* Replaces s[a..b) with what is in r. */
static void splice(jwalk_t *w, size_t a, size_t b, const char *r, size_t rn)
{
	flush(w, a);
	buf_append(w->out, r, rn);
	w->copied = b;
}

static inline void skip_ws(jwalk_t *w)
{
	while (w->p < w->n) {
		char ch = w->s[w->p];
		if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t')
			return;
		w->p++;
	}
}

/* ----------------------------------------------------------- path */

void mask__json_path(const jwalk_t *w, buf_t *out)
{
	buf_putc(out, '$');
	const mask_ctx_t *c = w->c;
	for (int d = 1; d <= w->depth; d++) {
		const jlevel_t *l = &w->lv[d - 1];
		if (l->array) {
			buf_printf(out, "[%llu]", (unsigned long long)l->index);
			continue;
		}
		if (l->key_masked) {
			buf_puts(out, ".<masked key>");
			continue;
		}
		const char *k = c->keys.data + l->key_off;
		bool plain = l->key_len > 0;
		for (size_t i = 0; i < l->key_len && plain; i++)
			plain = k[i] == '_' || (k[i] >= '0' && k[i] <= '9') ||
				((k[i] | 0x20) >= 'a' && (k[i] | 0x20) <= 'z');
		if (plain) {
			buf_putc(out, '.');
			buf_append(out, k, l->key_len);
		} else {
			buf_puts(out, "[\"");
			mask__json_escape(out, k, l->key_len);
			buf_puts(out, "\"]");
		}
	}
}

/* The path element of level d-1's current child matches component k. */
static bool comp_match(const jwalk_t *w, const jp_comp_t *k, int d)
{
	const jlevel_t *l = &w->lv[d - 1];
	switch (k->type) {
	case JP_ANY:
		return true;
	case JP_INDEX:
		return l->array && l->index == k->index;
	default:
		return !l->array && l->key_len == k->key_len &&
		       memcmp(w->c->keys.data + l->key_off, k->key,
			      k->key_len) == 0;
	}
}

/* Rule states at depth d from depth d-1 (the child just entered). */
static void step_rules(jwalk_t *w, int d)
{
	const mask_t *m = w->c->m;
	for (size_t r = 0; r < w->nrules; r++) {
		uint64_t in = w->st[(size_t)(d - 1) * w->nrules + r], outs = 0;
		const mrule_t *rule =
		    &m->rules[m->by_where[CONFIG_MASK_JSON][r]];
		while (in) {
			int j = __builtin_ctzll(in);
			in &= in - 1;
			if ((size_t)j >= rule->npath)
				continue;
			const jp_comp_t *k = &rule->path[j];
			if (k->desc)
				outs |= 1ull << j;
			if (comp_match(w, k, d))
				outs |= 1ull << (j + 1);
		}
		w->st[(size_t)d * w->nrules + r] = outs;
	}
}

/* The first rule whose whole path matches at depth d, or -1. */
static long rule_here(const jwalk_t *w, int d)
{
	const mask_t *m = w->c->m;
	for (size_t r = 0; r < w->nrules; r++) {
		size_t i = m->by_where[CONFIG_MASK_JSON][r];
		if (w->st[(size_t)d * w->nrules + r] >> m->rules[i].npath & 1)
			return (long)i;
	}
	return -1;
}

/* ----------------------------------------------------------- scalars */

/* Scans the string token at p (the opening quote); sets [*a, *b) to its
 * contents and moves past the closing quote. *esc: it has escapes. */
static int scan_string(jwalk_t *w, size_t *a, size_t *b, bool *esc)
{
	const char *s = w->s;
	size_t p = ++w->p;
	*a = p;
	*esc = false;
	for (;;) {
		p += mask__json_plain(s + p, w->n - p);
		if (p >= w->n) {
			w->p = p;
			return jfail(w, "unterminated string");
		}
		if (s[p] == '"')
			break;
		if ((unsigned char)s[p] < 0x20) {
			w->p = p;
			return jfail(w, "control character in string");
		}
		*esc = true;
		if (p + 1 >= w->n) {
			w->p = p;
			return jfail(w, "unterminated string");
		}
		char e = s[p + 1];
		if (e == 'u') {
			for (int j = 2; j < 6; j++) {
				char h = p + (size_t)j < w->n ? s[p + j] : 0;
				if (!((h >= '0' && h <= '9') ||
				      ((h | 0x20) >= 'a' &&
				       (h | 0x20) <= 'f'))) {
					w->p = p;
					return jfail(w, "bad \\u escape");
				}
			}
			p += 6;
		} else if (e && strchr("\"\\/bfnrt", e)) {
			p += 2;
		} else {
			w->p = p;
			return jfail(w, "bad escape");
		}
	}
	*b = p;
	w->p = p + 1;
	return 0;
}

static unsigned hexv(char h)
{
	return h <= '9' ? (unsigned)(h - '0')
			: (unsigned)((h | 0x20) - 'a' + 10);
}

/* Decodes a scanned (valid) string body into out. Lone surrogates are
 * encoded as they are (WTF-8), as the bytes must go somewhere. */
static void decode_string(buf_t *out, const char *s, size_t n)
{
	buf_reset(out);
	buf_reserve(out, n);
	for (size_t i = 0; i < n;) {
		const char *bs = memchr(s + i, '\\', n - i);
		size_t run = bs ? (size_t)(bs - s) - i : n - i;
		buf_append(out, s + i, run);
		i += run;
		if (i >= n)
			break;
		char e = s[i + 1];
		if (e != 'u') {
			buf_putc(out,
				 "\"\\/\b\f\n\r\t"[strchr("\"\\/bfnrt", e) -
						   "\"\\/bfnrt"]);
			i += 2;
			continue;
		}
		uint32_t cp = hexv(s[i + 2]) << 12 | hexv(s[i + 3]) << 8 |
			      hexv(s[i + 4]) << 4 | hexv(s[i + 5]);
		i += 6;
		if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= n && s[i] == '\\' &&
		    s[i + 1] == 'u') {
			uint32_t lo = hexv(s[i + 2]) << 12 |
				      hexv(s[i + 3]) << 8 |
				      hexv(s[i + 4]) << 4 | hexv(s[i + 5]);
			if (lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				i += 6;
			}
		}
		mask__put_utf8(out, cp);
	}
}

static mpos_t jpos(const jwalk_t *w)
{
	return (mpos_t){.where = MASK_AT_JSON, .jw = w};
}

/* A string value at w->p under action act (from rule/key src). */
static int string_value(jwalk_t *w, int act, int src)
{
	size_t q = w->p, a, b;
	bool esc;
	int rc = scan_string(w, &a, &b, &esc);
	if (rc || w->suppress || act == CONFIG_ACT_KEEP)
		return rc;
	mask_ctx_t *c = w->c;
	const char *v = w->s + a;
	size_t vn = b - a;
	if (esc) {
		decode_string(&c->jdec, v, vn);
		v = c->jdec.data;
		vn = c->jdec.len;
	}
	mpos_t pos = jpos(w);
	buf_reset(&c->vout);
	if (act == ACT_NONE) {
		if (!mask__text(c, v, vn, &pos, &c->vout))
			return 0;
	} else {
		mask__whole(c, src, act, MK_GENERIC, v, vn, &pos, &c->vout);
	}
	flush(w, q);
	buf_putc(w->out, '"');
	mask__json_escape(w->out, c->vout.data, c->vout.len);
	buf_putc(w->out, '"');
	w->copied = w->p;
	return 0;
}

/* The most digits a number is read as for the detectors: 19, a card's
 * longest; phone (15) and account numbers fit too. */
#define JNUM_DIGITS_MAX 19

/* The integer a non-negative number token t[0..n) spells, in any form
 * ("4111111111111111", "4111111111111111.0", "4.111111111111111e15",
 * "41111111111111110e-1"), as its decimal digits without leading zeros
 * into d. Returns how many, or 0 when it is negative, not a whole
 * number, zero, or longer than JNUM_DIGITS_MAX digits. */
static size_t jnum_digits(const char *t, size_t n, char d[JNUM_DIGITS_MAX])
{
	char m[2 * JNUM_DIGITS_MAX + 2]; /* mantissa digits, no point */
	size_t nm = 0, p = 0, frac = 0;
	bool point = false;
	if (n == 0 || t[0] == '-')
		return 0;
	for (; p < n && t[p] != 'e' && t[p] != 'E'; p++) {
		if (t[p] == '.') {
			point = true;
			continue;
		}
		if (nm == 0 && t[p] == '0')
			continue; /* leading zeros */
		if (nm == sizeof(m))
			return 0;
		m[nm++] = t[p];
		frac += point;
	}
	long e = 0;
	if (p < n) { /* exponent: bounded, since a long one is no card */
		bool neg = t[++p] == '-';
		if (t[p] == '+' || t[p] == '-')
			p++;
		for (; p < n; p++) {
			e = e * 10 + (t[p] - '0');
			if (e > 2 * JNUM_DIGITS_MAX + 2)
				return 0;
		}
		if (neg)
			e = -e;
	}
	/* value = m * 10^(e - frac): whole when the digits shifted out
	 * are zeros. */
	long shift = e - (long)frac;
	size_t keep = nm;
	if (shift < 0) {
		if ((size_t)-shift > nm)
			return 0;
		keep = nm - (size_t)-shift;
		for (size_t k = keep; k < nm; k++)
			if (m[k] != '0')
				return 0;
	}
	size_t total = keep + (shift > 0 ? (size_t)shift : 0);
	if (keep == 0 || total > JNUM_DIGITS_MAX)
		return 0;
	memcpy(d, m, keep);
	memset(d + keep, '0', total - keep);
	return total;
}

/* Writes the digits r[0..rn) (a pseudonym of a whole number) in the form
 * of the token t[0..n): as they are for an integer, with t's zero
 * fraction for "N.0", and as "D.DDDeE" for an exponent form. */
static void jnum_render(buf_t *out, const char *t, size_t n, const char *r,
			size_t rn)
{
	const char *dot = memchr(t, '.', n);
	bool expo = memchr(t, 'e', n) || memchr(t, 'E', n);
	if (expo && rn > 1) {
		buf_putc(out, r[0]);
		buf_putc(out, '.');
		buf_append(out, r + 1, rn - 1);
		buf_printf(out, "e%zu", rn - 1);
	} else if (expo || !dot) {
		buf_append(out, r, rn);
	} else {
		buf_append(out, r, rn);
		buf_append(out, dot, (size_t)(t + n - dot));
	}
}

/* The key of the member a number at depth d belongs to (for an array
 * element, the array's key), or NULL. */
static const char *jnum_key(const jwalk_t *w, size_t *kn)
{
	for (int d = w->depth; d > 0; d--) {
		const jlevel_t *l = &w->lv[d - 1];
		if (!l->array) {
			*kn = l->key_len;
			return w->c->keys.data + l->key_off;
		}
	}
	return NULL;
}

/* Which detector owns the whole number with digits d[0..nd): a card by
 * its digits (issuer prefix and Luhn), a phone or account number by the
 * key it is under (jnum_key, mask__key_hint). -1: none. */
static int jnum_detector(const jwalk_t *w, const char *d, size_t nd,
			 mask_kind_t *kind)
{
	const mask_t *m = w->c->m;
	if (nd >= 13 && m->det_on[CONFIG_MASK_DET_card] &&
	    mask__card_prefix_ok(d, nd) && mask__luhn_ok(d, nd)) {
		*kind = MK_CARD;
		return CONFIG_MASK_DET_card;
	}
	size_t kn = 0;
	const char *k = jnum_key(w, &kn);
	if (!k)
		return -1;
	/* E.164 numbers have at most 15 digits; 7 is a local number
	 * without its area code, the shortest worth hiding. Account
	 * numbers run from 6 (some banks) to the JSON-safe 19. */
	switch (mask__key_hint(k, kn)) {
	case MASK_HINT_PHONE:
		if (nd < 7 || nd > 15 || !m->det_on[CONFIG_MASK_DET_phone])
			return -1;
		*kind = MK_PHONE;
		return CONFIG_MASK_DET_phone;
	case MASK_HINT_ACCOUNT:
		if (nd < 6 || !m->det_on[CONFIG_MASK_DET_iban])
			return -1;
		*kind = MK_NUMBER;
		return CONFIG_MASK_DET_iban;
	default:
		return -1;
	}
}

/* A number token at w->p. *drop: the detector's action is drop. */
static int number_value(jwalk_t *w, int act, int src, bool *drop)
{
	const char *s = w->s;
	size_t q = w->p, p = q;
	if (p < w->n && s[p] == '-')
		p++;
	if (p >= w->n || s[p] < '0' || s[p] > '9') {
		w->p = p;
		return jfail(w, "bad number");
	}
	if (s[p] == '0')
		p++;
	else
		while (p < w->n && s[p] >= '0' && s[p] <= '9')
			p++;
	if (p < w->n && s[p] == '.') {
		if (++p >= w->n || s[p] < '0' || s[p] > '9') {
			w->p = p;
			return jfail(w, "bad number");
		}
		while (p < w->n && s[p] >= '0' && s[p] <= '9')
			p++;
	}
	if (p < w->n && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < w->n && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= w->n || s[p] < '0' || s[p] > '9') {
			w->p = p;
			return jfail(w, "bad number");
		}
		while (p < w->n && s[p] >= '0' && s[p] <= '9')
			p++;
	}
	w->p = p;
	if (p == w->n && w->c->prefix)
		return jfail(w, "number cut by the end of a cut body");
	if (w->suppress || act == CONFIG_ACT_KEEP)
		return 0;
	mask_ctx_t *c = w->c;
	const mask_t *m = c->m;
	mpos_t pos = jpos(w);
	size_t len = p - q;
	char dg[JNUM_DIGITS_MAX];
	/* Fewer than 6 characters spell no number a detector takes (an
	 * account number's shortest; a card or phone number in exponent
	 * form has more): most numbers (counts, small ids, prices) stop
	 * here. */
	size_t nd = len >= 6 ? jnum_digits(s + q, len, dg) : 0;
	mask_kind_t kind = MK_NUMBER;
	buf_reset(&c->vout);
	if (act == ACT_NONE) {
		int det = nd ? jnum_detector(w, dg, nd, &kind) : -1;
		if (det < 0)
			return 0;
		src = det;
		act = m->det_action[det];
		if (act == CONFIG_ACT_KEEP)
			return 0;
		if (act == CONFIG_ACT_DROP) {
			*drop = true;
			mask__hit(c, &pos, src, act, 0);
			return 0;
		}
	} else if (nd >= 13 && mask__card_prefix_ok(dg, nd) &&
		   mask__luhn_ok(dg, nd)) {
		kind = MK_CARD; /* under a sensitive key it stays a card */
	}
	if (act != CONFIG_ACT_HASH) {
		buf_putc(&c->vout, '0');
	} else if (nd && kind != MK_NUMBER) {
		/* The pseudonym of the whole number, as the string form of
		 * the same number gets it, in the token's form. */
		buf_reset(&c->vtmp);
		mask__pseudo(c, kind, dg, nd, &c->vtmp);
		jnum_render(&c->vout, s + q, len, c->vtmp.data, c->vtmp.len);
	} else {
		mask__pseudo(c, MK_NUMBER, s + q, len, &c->vout);
	}
	mask__hit(c, &pos, src, act, 0);
	splice(w, q, p, c->vout.data, c->vout.len);
	return 0;
}

static int literal(jwalk_t *w, const char *lit, size_t k)
{
	if (w->n - w->p < k || memcmp(w->s + w->p, lit, k) != 0)
		return jfail(w, "bad literal");
	w->p += k;
	return 0;
}

/* ----------------------------------------------------------- values */

static int value(jwalk_t *w, int act, int src, bool *drop);

/* What the child entered at depth d gets: its own rule, or what the
 * parent passes down, or its key's sensitivity (sens: known from
 * mask__key, or -1). */
static void child_action(jwalk_t *w, int d, const char *key, size_t kn,
			 int sens, int *act, int *src)
{
	const jlevel_t *l = &w->lv[d - 1];
	const mask_t *m = w->c->m;
	if (w->nrules) {
		step_rules(w, d);
		long r = rule_here(w, d);
		if (r >= 0) {
			*act = m->rules[r].action;
			*src = m->rules[r].src;
			return;
		}
	}
	*act = l->act;
	*src = l->src;
	if (*act == ACT_NONE && key &&
	    (sens >= 0 ? sens : mask__key_sensitive(m, key, kn))) {
		*act = m->det_action[CONFIG_MASK_DET_keys];
		*src = CONFIG_MASK_DET_keys;
	}
}

/* Parses a member/element value at depth d with (act, src) and drops it
 * from the output when act is drop (start: the member's first byte). */
static int child(jwalk_t *w, int d, int act, int src, size_t start)
{
	jlevel_t *l = &w->lv[d - 1];
	bool drop = act == CONFIG_ACT_DROP;
	if (drop) {
		if (!w->suppress) {
			mpos_t pos = jpos(w);
			mask__hit(w->c, &pos, src, act, 0);
		}
		w->suppress++;
	}
	int rc = value(w, drop ? CONFIG_ACT_KEEP : act, src, &drop);
	if (act == CONFIG_ACT_DROP)
		w->suppress--;
	if (rc)
		return rc;
	if (drop && !w->suppress) {
		if (l->emitted) {
			flush(w, l->prev_end);
		} else {
			flush(w, start);
		}
		w->copied = w->p;
		return 1; /* dropped */
	}
	l->emitted++;
	l->prev_end = w->p;
	return 0;
}

static int object(jwalk_t *w, int act, int src)
{
	if (w->depth >= MASK_JSON_MAX_DEPTH)
		return jfail(w, "nested too deep");
	mask_ctx_t *c = w->c;
	int d = ++w->depth;
	jlevel_t *l = &w->lv[d - 1];
	*l = (jlevel_t){.array = false, .act = act, .src = src};
	size_t keys_mark = c->keys.len;
	w->p++; /* { */
	skip_ws(w);
	if (w->p < w->n && w->s[w->p] == '}') {
		w->p++;
		w->depth--;
		return 0;
	}
	bool dropped_first = false;
	for (;;) {
		skip_ws(w);
		if (w->p >= w->n || w->s[w->p] != '"')
			return jfail(w, "expected a key");
		size_t start = w->p, a, b;
		bool esc;
		int rc = scan_string(w, &a, &b, &esc);
		if (rc)
			return rc;
		c->keys.len = keys_mark;
		l->key_off = c->keys.len;
		if (esc) {
			decode_string(&c->jdec, w->s + a, b - a);
			buf_append(&c->keys, c->jdec.data, c->jdec.len);
		} else {
			buf_append(&c->keys, w->s + a, b - a);
		}
		l->key_len = c->keys.len - l->key_off;
		l->key_masked = false;
		int sens = -1;
		/* Keys are scanned too (maps keyed by e-mail), also under
		 * a key or rule that owns the values: it does not own the
		 * keys. Only keep leaves them. */
		if (!w->suppress && act != CONFIG_ACT_KEEP) {
			mpos_t pos = jpos(w);
			buf_reset(&c->vout);
			w->depth--; /* report the key at its parent's path */
			bool ks;
			bool ch = mask__key(c, c->keys.data + l->key_off,
					    l->key_len, &pos, &c->vout, &ks);
			sens = ks;
			w->depth++;
			if (ch) {
				l->key_masked = true;
				flush(w, start);
				buf_putc(w->out, '"');
				mask__json_escape(w->out, c->vout.data,
						  c->vout.len);
				buf_putc(w->out, '"');
				w->copied = w->p;
			}
		}
		skip_ws(w);
		if (w->p >= w->n || w->s[w->p] != ':')
			return jfail(w, "expected ':'");
		w->p++;
		skip_ws(w);
		int cact, csrc;
		child_action(w, d, c->keys.data + l->key_off, l->key_len, sens,
			     &cact, &csrc);
		rc = child(w, d, cact, csrc, start);
		if (rc < 0)
			return rc;
		dropped_first = rc == 1 && l->emitted == 0;
		skip_ws(w);
		if (w->p < w->n && w->s[w->p] == ',') {
			w->p++;
			skip_ws(w);
			if (dropped_first && !w->suppress)
				w->copied = w->p; /* its comma goes too */
			continue;
		}
		if (w->p < w->n && w->s[w->p] == '}') {
			w->p++;
			break;
		}
		return jfail(w, "expected ',' or '}'");
	}
	c->keys.len = keys_mark;
	w->depth--;
	return 0;
}

static int array(jwalk_t *w, int act, int src)
{
	if (w->depth >= MASK_JSON_MAX_DEPTH)
		return jfail(w, "nested too deep");
	int d = ++w->depth;
	jlevel_t *l = &w->lv[d - 1];
	*l = (jlevel_t){.array = true, .act = act, .src = src};
	w->p++; /* [ */
	skip_ws(w);
	if (w->p < w->n && w->s[w->p] == ']') {
		w->p++;
		w->depth--;
		return 0;
	}
	for (;; l->index++) {
		skip_ws(w);
		size_t start = w->p;
		int cact, csrc;
		child_action(w, d, NULL, 0, -1, &cact, &csrc);
		int rc = child(w, d, cact, csrc, start);
		if (rc < 0)
			return rc;
		bool dropped_first = rc == 1 && l->emitted == 0;
		skip_ws(w);
		if (w->p < w->n && w->s[w->p] == ',') {
			w->p++;
			skip_ws(w);
			if (dropped_first && !w->suppress)
				w->copied = w->p;
			continue;
		}
		if (w->p < w->n && w->s[w->p] == ']') {
			w->p++;
			break;
		}
		return jfail(w, "expected ',' or ']'");
	}
	w->depth--;
	return 0;
}

static int value_at(jwalk_t *w, int act, int src, bool *drop);

/* A value; in a cut body, what precedes its end is whole and masked
 * (unless inside a dropped value, whose bytes must not come out). */
static int value(jwalk_t *w, int act, int src, bool *drop)
{
	int rc = value_at(w, act, src, drop);
	if (!rc && !w->suppress)
		w->safe = w->p;
	return rc;
}

static int value_at(jwalk_t *w, int act, int src, bool *drop)
{
	if (w->p >= w->n)
		return jfail(w, "expected a value");
	switch (w->s[w->p]) {
	case '{':
		return object(w, act, src);
	case '[':
		return array(w, act, src);
	case '"':
		return string_value(w, act, src);
	case 't':
		return literal(w, "true", 4);
	case 'f':
		return literal(w, "false", 5);
	case 'n':
		return literal(w, "null", 4);
	default:
		return number_value(w, act, src, drop);
	}
}

/* ----------------------------------------------------------- entry */

struct jwalk *mask__jwalk_new(void)
{
	return xcalloc(1, sizeof(jwalk_t));
}

int mask__json(mask_ctx_t *c, const char *s, size_t n, bool seq, buf_t *out)
{
	const mask_t *m = c->m;
	jwalk_t *w = c->jwalk;
	w->c = c;
	w->s = s;
	w->n = n;
	w->p = 0;
	w->out = out;
	w->copied = 0;
	w->depth = 0;
	w->suppress = 0;
	w->safe = 0;
	w->nrules = m->nby_where[CONFIG_MASK_JSON];
	w->st = c->jstate;
	buf_reset(&c->keys);
	size_t values = 0;
	for (;;) {
		skip_ws(w);
		if (w->p >= n)
			break;
		if (values && !seq)
			return jfail(w, "data after the value");
		int act = ACT_NONE, src = 0;
		for (size_t r = 0; r < w->nrules; r++)
			w->st[r] = 1; /* component 0 next */
		long rule = w->nrules ? rule_here(w, 0) : -1;
		if (rule >= 0) {
			act = m->rules[rule].action;
			src = m->rules[rule].src;
		}
		size_t start = w->p;
		bool drop = act == CONFIG_ACT_DROP;
		if (drop) {
			mpos_t pos = jpos(w);
			mask__hit(c, &pos, src, act, 0);
			w->suppress++;
		}
		int rc = value(w, drop ? CONFIG_ACT_KEEP : act, src, &drop);
		if (act == CONFIG_ACT_DROP)
			w->suppress--;
		if (rc && c->prefix) {
			/* cut short: what is whole is masked, the rest goes */
			if (w->copied < w->safe)
				flush(w, w->safe);
			return 0;
		}
		if (rc)
			return rc;
		if (drop)
			splice(w, start, w->p, "null", 4);
		values++;
	}
	if (!values && !seq)
		return jfail(w, "empty body");
	flush(w, n);
	return 0;
}
