/*
 * value.c: the one pipeline every value goes through once its walker has
 * decoded it (a JSON string, a query or form value, a path segment, a
 * header value, a whole text body).
 *
 *   1. PCRE2 rules, in config order; a later rule never matches inside an
 *      earlier rule's match, and a `keep` match protects its bytes.
 *   2. The built-in detectors over the value as it is.
 *   3. The same over its percent-decoded view (a URL inside JSON, a
 *      Referer, "email=ann%40example.org" in a text body) and over its
 *      JSON-unescaped view ("ann\u0040example.org" in a text body), when
 *      the value holds such escapes. A view keeps, for each decoded byte,
 *      the offset it came from, so a match found in a view replaces
 *      exactly the escaped bytes it came from, with a replacement encoded
 *      the same way.
 *
 * Matches never overlap; each pass skips what earlier ones took. The
 * output is the value with every match replaced, or nothing when nothing
 * matched (the walker then keeps the original bytes).
 */
#include "mask/mask_int.h"

#include "base/xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- report */

int mask__fail(mask_ctx_t *c, mask_reason_t reason, int code, const char *fmt,
	       ...)
{
	c->reason = reason;
	int k =
	    snprintf(c->err, sizeof(c->err), "%s: ", mask_reason_name(reason));
	va_list ap;
	va_start(ap, fmt);
	if (k > 0 && (size_t)k < sizeof(c->err))
		vsnprintf(c->err + k, sizeof(c->err) - (size_t)k, fmt, ap);
	va_end(ap);
	return code;
}

void mask__hit(mask_ctx_t *c, const mpos_t *pos, int src, int action, size_t at)
{
	c->counts[src]++;
	c->rep.total++;
	if (c->memo_rec) {
		if (c->memo_nsrc < MASK_MEMO_SOURCES)
			c->memo_src[c->memo_nsrc] = (uint16_t)src;
		c->memo_nsrc++;
	}
	if (!c->detail)
		return;
	if (c->nhits == c->hits_cap) {
		c->hits_cap = c->hits_cap ? 2 * c->hits_cap : 16;
		c->hits = xreallocarray(c->hits, c->hits_cap, sizeof(*c->hits));
	}
	size_t off = c->hit_text.len;
	switch (pos->where) {
	case MASK_AT_JSON:
		mask__json_path(pos->jw, &c->hit_text);
		break;
	case MASK_AT_PATH:
		buf_printf(&c->hit_text, "/%ld", pos->seg);
		break;
	case MASK_AT_TEXT:
		buf_printf(&c->hit_text, "@%zu", pos->off + at);
		break;
	default:
		buf_append(&c->hit_text, pos->name, pos->name_len);
		break;
	}
	c->hits[c->nhits++] =
	    (mask_hit_t){(uint16_t)src, (uint8_t)action, pos->where,
			 (uint32_t)off, (uint32_t)(c->hit_text.len - off)};
}

/* ----------------------------------------------------------- keys */

/* Lower-case ASCII; '-', '_', '.' and ' ' do not count ("API-Key",
 * "api_key" and "apiKey" are one name). */
static int norm_char(unsigned char ch)
{
	if (ch == '-' || ch == '_' || ch == '.' || ch == ' ')
		return -1;
	return (ch >= 'A' && ch <= 'Z') ? ch + 32 : ch;
}

/* Does the normalised k contain the (normalised) word w? For keys too
 * long for the buffer below: slower, same answer. */
static bool norm_contains(const char *k, size_t n, const char *w)
{
	for (size_t i = 0; i < n; i++) {
		if (norm_char((unsigned char)k[i]) != (unsigned char)w[0])
			continue;
		size_t j = i, q = 0;
		while (w[q] && j < n) {
			int ch = norm_char((unsigned char)k[j++]);
			if (ch < 0)
				continue;
			if (ch != (unsigned char)w[q])
				break;
			q++;
		}
		if (!w[q])
			return true;
	}
	return false;
}

bool mask__key_sensitive(const mask_t *m, const char *k, size_t n)
{
	if (!m->det_on[CONFIG_MASK_DET_keys])
		return false;
	/* Normalise once into a buffer that holds any sensible name. */
	enum { KEY_NORM_MAX = 128 };
	char nk[KEY_NORM_MAX];
	size_t nn = 0;
	for (size_t i = 0; i < n; i++) {
		int ch = norm_char((unsigned char)k[i]);
		if (ch < 0)
			continue;
		if (nn == sizeof(nk)) {
			for (size_t j = 0; j < m->nsens; j++)
				if (norm_contains(k, n, m->sens[j]))
					return true;
			return false;
		}
		nk[nn++] = (char)ch;
	}
	/* Names are short: a first-byte filter beats memmem's setup. */
	for (size_t i = 0; i < nn; i++) {
		if (!(m->sens_first[(unsigned char)nk[i] >> 6] >>
			  ((unsigned char)nk[i] & 63) &
		      1))
			continue;
		for (size_t j = 0; j < m->nsens; j++) {
			size_t sl = m->sens_len[j];
			if (nk[i] == m->sens[j][0] && sl <= nn - i &&
			    memcmp(nk + i, m->sens[j], sl) == 0)
				return true;
		}
	}
	return false;
}

/* Words that make a key name a phone or account-number key, and
 * endings that make it something about one (a time, a count, an id of a
 * record): "phone_verified_at" holds a timestamp, "phone" a number. */
static const char *const hint_phone[] = {"phone", "mobile", "msisdn",
					 "fax", NULL};
static const char *const hint_account[] = {
    "accountnumber", "accountno", "acctnumber", "acctno", "bankaccount",
    "iban", "routingnumber", NULL};
static const char *const hint_not[] = {"at",	"time",	 "ts",	    "date",
				       "count", "id",	 "version", "type",
				       "code",	"status", NULL};

mask_key_hint_t mask__key_hint(const char *k, size_t n)
{
	enum { KEY_HINT_MAX = 64 }; /* longer names are not such keys */
	char nk[KEY_HINT_MAX];
	size_t nn = 0;
	for (size_t i = 0; i < n; i++) {
		int ch = norm_char((unsigned char)k[i]);
		if (ch < 0)
			continue;
		if (nn == sizeof(nk))
			return MASK_HINT_NONE;
		nk[nn++] = (char)ch;
	}
	for (const char *const *e = hint_not; *e; e++) {
		size_t el = strlen(*e);
		if (nn > el && memcmp(nk + nn - el, *e, el) == 0 &&
		    !(nn >= 7 && memcmp(nk + nn - 7, "account", 7) == 0))
			return MASK_HINT_NONE;
	}
	if ((nn == 3 && memcmp(nk, "tel", 3) == 0) ||
	    (nn == 4 && memcmp(nk, "cell", 4) == 0))
		return MASK_HINT_PHONE;
	for (const char *const *w = hint_phone; *w; w++)
		if (memmem(nk, nn, *w, strlen(*w)))
			return MASK_HINT_PHONE;
	for (const char *const *w = hint_account; *w; w++)
		if (memmem(nk, nn, *w, strlen(*w)))
			return MASK_HINT_ACCOUNT;
	return MASK_HINT_NONE;
}

long mask__rule_by_name(const mask_t *m, int where, const char *k, size_t n)
{
	for (size_t j = 0; j < m->nby_where[where]; j++) {
		const mrule_t *r = &m->rules[m->by_where[where][j]];
		if (r->name_len != n)
			continue;
		if (where == CONFIG_MASK_HEADER
			? strncasecmp(r->name, k, n) == 0
			: memcmp(r->name, k, n) == 0)
			return (long)m->by_where[where][j];
	}
	return -1;
}

/* ----------------------------------------------------------- encoders */

static const char hexu[] = "0123456789ABCDEF";

void mask__json_escape(buf_t *out, const char *s, size_t n)
{
	size_t run = 0;
	buf_reserve(out, n);
	for (size_t i = 0;; i++) {
		i += mask__json_plain(s + i, n - i);
		if (i >= n)
			break;
		unsigned char ch = (unsigned char)s[i];
		buf_append(out, s + run, i - run);
		run = i + 1;
		switch (ch) {
		case '"':
			buf_append(out, "\\\"", 2);
			break;
		case '\\':
			buf_append(out, "\\\\", 2);
			break;
		case '\n':
			buf_append(out, "\\n", 2);
			break;
		case '\r':
			buf_append(out, "\\r", 2);
			break;
		case '\t':
			buf_append(out, "\\t", 2);
			break;
		case '\b':
			buf_append(out, "\\b", 2);
			break;
		case '\f':
			buf_append(out, "\\f", 2);
			break;
		default: {
			char u[6] = {'\\', 'u',		  '0',
				     '0',  hexu[ch >> 4], hexu[ch & 15]};
			buf_append(out, u, 6);
		}
		}
	}
	buf_append(out, s + run, n - run);
}

static bool unreserved(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
	       ch == '_' || ch == '~';
}

void mask__pct_encode(buf_t *out, const char *s, size_t n, bool plus)
{
	buf_reserve(out, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (unreserved(ch)) {
			buf_putc(out, (char)ch);
		} else if (ch == ' ' && plus) {
			buf_putc(out, '+');
		} else {
			char e[3] = {'%', hexu[ch >> 4], hexu[ch & 15]};
			buf_append(out, e, 3);
		}
	}
}

void mask__pct_encode_path(buf_t *out, const char *s, size_t n)
{
	buf_reserve(out, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (unreserved(ch) || (ch && strchr("!$&'()*+,;=:@", ch))) {
			buf_putc(out, (char)ch);
		} else {
			char e[3] = {'%', hexu[ch >> 4], hexu[ch & 15]};
			buf_append(out, e, 3);
		}
	}
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

bool mask__pct_decode(buf_t *out, const char *s, size_t n, bool plus,
		      bool strict)
{
	buf_reserve(out, n);
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch != '%' && !(plus && ch == '+'))
			continue;
		buf_append(out, s + run, i - run);
		run = i + 1;
		if (ch == '+') {
			buf_putc(out, ' ');
			continue;
		}
		int a = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
		int b = a >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
		if (b < 0) {
			if (strict)
				return false;
			buf_putc(out, '%');
			continue;
		}
		buf_putc(out, (char)(a << 4 | b));
		i += 2;
		run = i + 1;
	}
	buf_append(out, s + run, n - run);
	return true;
}

/* ----------------------------------------------------------- views */

enum { VIEW_PLAIN, VIEW_PCT, VIEW_JSON, VIEW_HTML };

static void map_reserve(mask_ctx_t *c, size_t n)
{
	if (n + 1 <= c->map_cap)
		return;
	size_t cap = c->map_cap ? c->map_cap : 256;
	while (cap < n + 1)
		cap *= 2;
	c->map = xreallocarray(c->map, cap, sizeof(*c->map));
	c->map_cap = cap;
}

/* Percent-decoded view ('+' as space), or false when s has no valid
 * escape (the view would say nothing new). */
static bool view_pct(mask_ctx_t *c, const char *s, size_t n)
{
	const char *p = memchr(s, '%', n);
	bool any = false;
	while (p && !any) {
		size_t i = (size_t)(p - s);
		any = i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
		      hexval((unsigned char)s[i + 2]) >= 0;
		p = i + 1 < n ? memchr(p + 1, '%', n - i - 1) : NULL;
	}
	if (!any)
		return false;
	buf_reset(&c->view);
	buf_reserve(&c->view, n);
	map_reserve(c, n);
	char *v = c->view.data;
	size_t k = 0;
	for (size_t i = 0; i < n; k++) {
		c->map[k] = (uint32_t)i;
		int a, b;
		if (s[i] == '%' && i + 2 < n &&
		    (a = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (b = hexval((unsigned char)s[i + 2])) >= 0) {
			v[k] = (char)(a << 4 | b);
			i += 3;
		} else {
			v[k] = s[i] == '+' ? ' ' : s[i];
			i++;
		}
	}
	c->map[k] = (uint32_t)n;
	c->view.len = k;
	v[k] = '\0';
	return true;
}

static void put_utf8(char *v, size_t *k, uint32_t cp)
{
	if (cp < 0x80) {
		v[(*k)++] = (char)cp;
	} else if (cp < 0x800) {
		v[(*k)++] = (char)(0xc0 | cp >> 6);
		v[(*k)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		v[(*k)++] = (char)(0xe0 | cp >> 12);
		v[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		v[(*k)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		v[(*k)++] = (char)(0xf0 | cp >> 18);
		v[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		v[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		v[(*k)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static long hex4(const char *s)
{
	long v = 0;
	for (int j = 0; j < 4; j++) {
		int h = hexval((unsigned char)s[j]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* JSON-unescaped view, or false when s has no backslash escape. Escapes
 * that are not JSON's stay as they are. */
static bool view_json(mask_ctx_t *c, const char *s, size_t n)
{
	const char *bs = memchr(s, '\\', n);
	if (!bs || (size_t)(bs - s) + 1 >= n)
		return false;
	buf_reset(&c->view);
	buf_reserve(&c->view, n);
	map_reserve(c, n);
	char *v = c->view.data;
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		size_t from = i, before = k;
		if (s[i] != '\\' || i + 1 >= n) {
			v[k++] = s[i++];
		} else {
			char e = s[i + 1];
			const char *simple = strchr("\"\\/bfnrt", e);
			long cp;
			if (e && simple) {
				v[k++] =
				    "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
				i += 2;
			} else if (e == 'u' && i + 6 <= n &&
				   (cp = hex4(s + i + 2)) >= 0) {
				i += 6;
				long lo;
				if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= n &&
				    s[i] == '\\' && s[i + 1] == 'u' &&
				    (lo = hex4(s + i + 2)) >= 0xdc00 &&
				    lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     (lo - 0xdc00);
					i += 6;
				}
				put_utf8(v, &k, (uint32_t)cp);
			} else {
				v[k++] = s[i++];
			}
		}
		for (size_t j = before; j < k; j++)
			c->map[j] = (uint32_t)from;
	}
	c->map[k] = (uint32_t)n;
	c->view.len = k;
	v[k] = '\0';
	return true;
}

/* HTML character references (HTML 5 13.2.5.72): "&#64;", "&#x40;" and
 * the named ones a value would hide a detector's characters behind. More
 * names exist (2231); these are the ASCII punctuation, digits and
 * letters' spellings that e-mail addresses, phone numbers, cards and
 * IBANs are made of, and the markup's own. */
static const struct {
	const char *name;
	char ch;
} html_names[] = {
    {"amp", '&'},     {"lt", '<'},	{"gt", '>'},	  {"quot", '"'},
    {"apos", '\''},   {"commat", '@'},	{"period", '.'}, {"plus", '+'},
    {"hyphen", '-'},  {"dash", '-'},	{"lpar", '('},	  {"rpar", ')'},
    {"colon", ':'},   {"lowbar", '_'},	{"nbsp", ' '},	  {"sol", '/'},
    {"num", '#'},     {"percnt", '%'},	{"equals", '='}, {"excl", '!'},
};

/* Decodes one reference at s[i..n) ('&' at i) into *cp; returns its
 * length, or 0 when it is not one. The ';' is required (a bare "&amp"
 * in a query string is a parameter, not a reference). */
static size_t html_ref(const char *s, size_t n, size_t i, uint32_t *cp)
{
	enum { HTML_REF_MAX = 12 }; /* "&#x10FFFF;" and the longest name */
	size_t lim = n - i < HTML_REF_MAX ? n - i : HTML_REF_MAX;
	const char *semi = memchr(s + i, ';', lim);
	if (!semi)
		return 0;
	size_t e = (size_t)(semi - s);
	if (e - i < 3)
		return 0;
	if (s[i + 1] == '#') {
		bool hex = s[i + 2] == 'x' || s[i + 2] == 'X';
		size_t a = i + 2 + hex;
		if (a >= e)
			return 0;
		uint32_t v = 0;
		for (size_t k = a; k < e; k++) {
			int h = hex ? hexval((unsigned char)s[k])
				    : (s[k] >= '0' && s[k] <= '9' ? s[k] - '0'
								  : -1);
			if (h < 0 || v > 0x10ffff)
				return 0;
			v = v * (hex ? 16 : 10) + (uint32_t)h;
		}
		if (v == 0 || v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
			return 0;
		*cp = v;
		return e - i + 1;
	}
	for (size_t k = 0; k < sizeof(html_names) / sizeof(*html_names); k++) {
		size_t l = strlen(html_names[k].name);
		if (l == e - i - 1 && memcmp(s + i + 1, html_names[k].name, l) == 0) {
			*cp = (unsigned char)html_names[k].ch;
			return e - i + 1;
		}
	}
	return 0;
}

/* HTML-unescaped view, or false when s has no character reference. */
static bool view_html(mask_ctx_t *c, const char *s, size_t n)
{
	const char *amp = memchr(s, '&', n);
	bool any = false;
	uint32_t cp;
	while (amp && !any) {
		size_t i = (size_t)(amp - s);
		any = html_ref(s, n, i, &cp) > 0;
		amp = i + 1 < n ? memchr(amp + 1, '&', n - i - 1) : NULL;
	}
	if (!any)
		return false;
	buf_reset(&c->view);
	buf_reserve(&c->view, n);
	map_reserve(c, n);
	char *v = c->view.data;
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		size_t from = i, before = k, l;
		if (s[i] == '&' && (l = html_ref(s, n, i, &cp)) > 0) {
			put_utf8(v, &k, cp); /* never longer than the ref */
			i += l;
		} else {
			v[k++] = s[i++];
		}
		for (size_t j = before; j < k; j++)
			c->map[j] = (uint32_t)from;
	}
	c->map[k] = (uint32_t)n;
	c->view.len = k;
	v[k] = '\0';
	return true;
}

/* A replacement found in the HTML view, written so that it reads back as
 * itself: the markup's characters as references. */
static void html_escape(buf_t *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			buf_puts(out, "&amp;");
			break;
		case '<':
			buf_puts(out, "&lt;");
			break;
		case '>':
			buf_puts(out, "&gt;");
			break;
		case '"':
			buf_puts(out, "&quot;");
			break;
		default:
			buf_putc(out, s[i]);
		}
	}
}

/* ----------------------------------------------------------- matches */

static mmatch_t *add_match(mask_ctx_t *c)
{
	if (c->nmt == c->mt_cap) {
		c->mt_cap = c->mt_cap ? 2 * c->mt_cap : 32;
		c->mt = xreallocarray(c->mt, c->mt_cap, sizeof(*c->mt));
	}
	return &c->mt[c->nmt++];
}

/* Does [s, e) overlap one of the sorted matches mt[0..k)? Returns the
 * overlapping one or NULL. */
static const mmatch_t *overlap(const mmatch_t *mt, size_t k, size_t s, size_t e)
{
	size_t lo = 0, hi = k;
	while (lo < hi) { /* first with end > s */
		size_t mid = (lo + hi) / 2;
		if (mt[mid].end > s)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo < k && mt[lo].start < e ? &mt[lo] : NULL;
}

/* mt[0..base) and mt[base..nmt) are each sorted by start and do not
 * overlap: merge them (into the spare array, then swap). glibc's qsort
 * would allocate for more than a few dozen matches. */
static void merge_pass(mask_ctx_t *c, size_t base)
{
	size_t n = c->nmt;
	if (base == 0 || base == n ||
	    c->mt[base - 1].start <= c->mt[base].start)
		return;
	if (c->mt2_cap < n) {
		c->mt2_cap = c->mt_cap;
		c->mt2 = xreallocarray(c->mt2, c->mt2_cap, sizeof(*c->mt2));
	}
	size_t i = 0, j = base, k = 0;
	while (i < base && j < n)
		c->mt2[k++] =
		    c->mt[i].start <= c->mt[j].start ? c->mt[i++] : c->mt[j++];
	while (i < base)
		c->mt2[k++] = c->mt[i++];
	while (j < n)
		c->mt2[k++] = c->mt[j++];
	mmatch_t *t = c->mt;
	size_t tc = c->mt_cap;
	c->mt = c->mt2;
	c->mt_cap = c->mt2_cap;
	c->mt2 = t;
	c->mt2_cap = tc;
}

/* Appends to c->repl what replaces text t[0..n) for (src, action,
 * kind), encoded for the view it was found in. */
static void make_repl(mask_ctx_t *c, mmatch_t *mm, int view, int action,
		      mask_kind_t kind, const char *t, size_t n)
{
	const mask_t *m = c->m;
	mm->repl_off = c->repl.len;
	if (action == CONFIG_ACT_DROP || action == CONFIG_ACT_KEEP) {
		mm->repl_len = 0;
		return;
	}
	buf_t *dst = view == VIEW_PLAIN ? &c->repl : &c->vtmp;
	if (dst != &c->repl)
		buf_reset(dst);
	if (action == CONFIG_ACT_HASH)
		mask__pseudo(c, kind, t, n, dst);
	else
		buf_append(dst, m->marker, m->marker_len);
	if (view == VIEW_PCT)
		mask__pct_encode(&c->repl, dst->data, dst->len, false);
	else if (view == VIEW_JSON)
		mask__json_escape(&c->repl, dst->data, dst->len);
	else if (view == VIEW_HTML)
		html_escape(&c->repl, dst->data, dst->len);
	mm->repl_len = c->repl.len - mm->repl_off;
}

/* Appends a rule's replacement for the match in ov to c->repl: "$n" and
 * "${n}" are capture group n, "${name}" a named group, "$$" a dollar;
 * groups that did not take part are empty; any other '$' is itself.
 * (pcre2_substitute would copy the match data into a block it allocates,
 * on every call.) */
static void expand(mask_ctx_t *c, const mrule_t *r, const char *s,
		   const PCRE2_SIZE *ov, uint32_t pairs)
{
	const char *p = r->repl, *end = r->repl + r->repl_len;
	while (p < end) {
		const char *dollar = memchr(p, '$', (size_t)(end - p));
		if (!dollar) {
			buf_append(&c->repl, p, (size_t)(end - p));
			return;
		}
		buf_append(&c->repl, p, (size_t)(dollar - p));
		p = dollar + 1;
		long g = -1;
		if (p < end && *p == '$') {
			buf_putc(&c->repl, '$');
			p++;
			continue;
		}
		if (p < end && *p >= '0' && *p <= '9') {
			g = 0;
			while (p < end && *p >= '0' && *p <= '9' && g < 100000)
				g = g * 10 + (*p++ - '0');
		} else if (p < end && *p == '{') {
			const char *close = memchr(p, '}', (size_t)(end - p));
			if (close && close > p + 1) {
				char name[64];
				size_t nl = (size_t)(close - p - 1);
				if (nl < sizeof(name)) {
					memcpy(name, p + 1, nl);
					name[nl] = '\0';
					if (name[0] >= '0' && name[0] <= '9')
						g = strtol(name, NULL, 10);
					else
						g = pcre2_substring_number_from_name(
						    r->re, (PCRE2_SPTR)name);
					if (g >= 0)
						p = close + 1;
				}
			}
		}
		if (g < 0) {
			buf_putc(&c->repl, '$');
			continue;
		}
		if ((uint32_t)g < pairs && ov[2 * g] != PCRE2_UNSET)
			buf_append(&c->repl, s + ov[2 * g],
				   ov[2 * g + 1] - ov[2 * g]);
	}
}

/* Pattern rules over s, in config order. */
static void run_patterns(mask_ctx_t *c, const char *s, size_t n)
{
	const mask_t *m = c->m;
	for (size_t j = 0; j < m->nby_where[CONFIG_MASK_PATTERN]; j++) {
		const mrule_t *r =
		    &m->rules[m->by_where[CONFIG_MASK_PATTERN][j]];
		size_t start = 0, base = c->nmt;
		while (start <= n) {
			size_t from = start;
			int rc = pcre2_match(r->re, (PCRE2_SPTR)s, n, from, 0,
					     c->md, NULL);
			if (rc < 0)
				break; /* no match, or a match limit hit */
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
			size_t ms = ov[0], me = ov[1];
			if (me <= ms || ms < start) {
				start = (me > start ? me : start) + 1;
				continue; /* empty matches change nothing */
			}
			start = me;
			if (overlap(c->mt, base, ms, me))
				continue;
			mmatch_t *mm = add_match(c);
			mm->start = ms;
			mm->end = me;
			mm->src = r->src;
			mm->action = (uint8_t)r->action;
			mm->protect = r->action == CONFIG_ACT_KEEP;
			if (r->repl && r->action == CONFIG_ACT_REDACT) {
				mm->repl_off = c->repl.len;
				expand(c, r, s, ov, (uint32_t)rc);
				mm->repl_len = c->repl.len - mm->repl_off;
			} else {
				make_repl(c, mm, VIEW_PLAIN, r->action,
					  MK_GENERIC, s + ms, me - ms);
			}
		}
		merge_pass(c, base); /* a rule's matches come in order */
	}
}

/* The first view index whose byte comes from source offset >= off. */
static size_t view_at(const mask_ctx_t *c, int view, size_t dn, size_t off)
{
	if (view == VIEW_PLAIN)
		return off < dn ? off : dn;
	size_t lo = 0, hi = dn;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->map[mid] >= off)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Scans the view bytes that come from source gap [g0, g1): nothing
 * found here may reach into an earlier match. */
static void scan_gap(mask_ctx_t *c, int view, const char *d, size_t dn,
		     size_t g0, size_t g1)
{
	const mask_t *m = c->m;
	size_t v0 = view_at(c, view, dn, g0), v1 = view_at(c, view, dn, g1);
	/* A decoded byte whose escape runs past g1 is not in the gap. */
	if (view != VIEW_PLAIN && v1 > v0 && c->map[v1] > g1)
		v1--;
	size_t pos = v0, lo = v0;
	mdet_t hit;
	while (mask__detect_next(m->det_on, d, v1, lo, &pos, &hit)) {
		int action = m->det_action[hit.det];
		mmatch_t *mm = add_match(c);
		mm->start = view == VIEW_PLAIN ? hit.start : c->map[hit.start];
		mm->end = view == VIEW_PLAIN ? hit.end : c->map[hit.end];
		mm->src = hit.det;
		mm->action = (uint8_t)action;
		mm->protect = action == CONFIG_ACT_KEEP;
		make_repl(c, mm, view, action, (mask_kind_t)hit.kind,
			  d + hit.start, hit.end - hit.start);
		lo = hit.end;
	}
}

/* One detector pass over view bytes d[0..dn) of the value s[0..n) (d is
 * s for the plain view; c->map maps the others back). Earlier matches
 * are hard boundaries: each gap between them is scanned on its own, as
 * if the earlier matches had already been replaced. */
static void run_detectors(mask_ctx_t *c, int view, const char *d, size_t dn,
			  size_t n)
{
	size_t base = c->nmt, g0 = 0;
	for (size_t k = 0;; k++) {
		size_t g1 = k < base ? c->mt[k].start : n;
		if (g1 > g0)
			scan_gap(c, view, d, dn, g0, g1);
		if (k >= base)
			break;
		if (c->mt[k].end > g0)
			g0 = c->mt[k].end;
	}
	merge_pass(c, base); /* each gap's matches come in order */
}

/* Rounds of masking one value. A replacement changes its neighbours'
 * context ("05-112078-05-1120::" is no phone number until the address
 * after it is replaced), so a round that replaced something is followed
 * by another over its result, with every replaced or kept span a hard
 * boundary (pseudonyms are never masked again). Two rounds settle all
 * but contrived input; the bound keeps contrived input linear. */
#define MASK_ROUNDS_MAX 4

/* No detector reads across these bytes or looks at what follows them:
 * a replacement between two of them (or at the value's edges) changes
 * no other match, and another round would find nothing. Space is not
 * one: card, phone and IBAN groups join across it. A replacement next
 * to another byte is settled too when the text between it and the
 * neighbouring match (or the edge) is inert (mask__detect_inert): no
 * context makes a match there ("call ann@example.org" is one round). */
static bool hard_sep(unsigned char ch)
{
	return ch && strchr("\n\r\t\"'<>,;{}[]|&?!#$*^`~", ch) != NULL;
}

static bool scan_text(mask_ctx_t *c, const char *s, size_t n,
		      const mpos_t *pos, buf_t *out)
{
	const char *cur = s;
	size_t curn = n, nb = 0;
	bool changed = false;
	/* pattern rules match anything: their neighbours never settle */
	bool inert = c->m->nby_where[CONFIG_MASK_PATTERN] == 0;
	for (int round = 0; round < MASK_ROUNDS_MAX; round++) {
		c->nmt = 0;
		buf_reset(&c->repl);
		for (size_t i = 0; i < nb; i++) {
			mmatch_t *mm = add_match(c);
			*mm = (mmatch_t){.start = c->bd[i].start,
					 .end = c->bd[i].end,
					 .protect = 1};
		}
		run_patterns(c, cur, curn);
		run_detectors(c, VIEW_PLAIN, cur, curn, curn);
		if (view_pct(c, cur, curn))
			run_detectors(c, VIEW_PCT, c->view.data, c->view.len,
				      curn);
		if (view_json(c, cur, curn))
			run_detectors(c, VIEW_JSON, c->view.data, c->view.len,
				      curn);
		if (view_html(c, cur, curn))
			run_detectors(c, VIEW_HTML, c->view.data, c->view.len,
				      curn);
		size_t real = 0;
		for (size_t i = 0; i < c->nmt; i++)
			real += !c->mt[i].protect;
		if (!real)
			break;
		/* Apply into the round buffer not holding cur; every match
		 * becomes a boundary of the next round. */
		buf_t *dst = &c->rnd[round & 1];
		buf_reset(dst);
		buf_reserve(dst, curn + c->repl.len);
		if (c->bd_cap < c->nmt) {
			c->bd_cap = c->mt_cap;
			c->bd = xreallocarray(c->bd, c->bd_cap, sizeof(*c->bd));
		}
		size_t at = 0;
		bool settled = true;
		nb = 0;
		for (size_t i = 0; i < c->nmt && settled; i++) {
			const mmatch_t *q = &c->mt[i];
			if (q->protect)
				continue;
			size_t g0 = i > 0 ? c->mt[i - 1].end : 0;
			size_t g1 = i + 1 < c->nmt ? c->mt[i + 1].start : curn;
			if (q->start > 0 &&
			    !hard_sep((unsigned char)cur[q->start - 1]))
				settled = inert && mask__detect_inert(
						       cur + g0, q->start - g0);
			if (settled && q->end < curn &&
			    !hard_sep((unsigned char)cur[q->end]))
				settled = inert && mask__detect_inert(
						       cur + q->end, g1 - q->end);
		}
		for (size_t i = 0; i < c->nmt; i++) {
			const mmatch_t *mm = &c->mt[i];
			buf_append(dst, cur + at, mm->start - at);
			size_t b0 = dst->len;
			if (mm->protect) {
				buf_append(dst, cur + mm->start,
					   mm->end - mm->start);
			} else {
				buf_append(dst, c->repl.data + mm->repl_off,
					   mm->repl_len);
				mask__hit(c, pos, mm->src, mm->action,
					  mm->start);
			}
			c->bd[nb].start = b0;
			c->bd[nb++].end = dst->len;
			at = mm->end;
		}
		buf_append(dst, cur + at, curn - at);
		cur = dst->data;
		curn = dst->len;
		changed = true;
		if (settled)
			break;
	}
	if (changed)
		buf_append(out, cur, curn);
	return changed;
}

/* mask__text, and with sens (a key) mask__key. */
static bool text_memo(mask_ctx_t *c, const char *s, size_t n,
		      const mpos_t *pos, buf_t *out, bool *sens)
{
	if (n == 0) {
		if (sens)
			*sens = false;
		return false;
	}
	uint8_t tag = sens ? MASK_MEMO_KEY : MASK_MEMO_TEXT, flags;
	uint64_t key;
	if (mask__memo_get(c, tag, s, n, out, &flags, &key)) {
		if (sens)
			*sens = flags & MASK_MEMO_SENSITIVE;
		return flags & MASK_MEMO_CHANGED;
	}
	size_t mark = out->len;
	c->memo_nsrc = 0;
	c->memo_rec = key != 0;
	bool changed = scan_text(c, s, n, pos, out);
	c->memo_rec = false;
	flags = changed ? MASK_MEMO_CHANGED : 0;
	if (sens && (*sens = mask__key_sensitive(c->m, s, n)))
		flags |= MASK_MEMO_SENSITIVE;
	mask__memo_put(c, key, tag, s, n, out->data ? out->data + mark : NULL,
		       out->len - mark, flags, c->memo_src, c->memo_nsrc);
	return changed;
}

bool mask__text(mask_ctx_t *c, const char *s, size_t n, const mpos_t *pos,
		buf_t *out)
{
	/* base64 of a document first: its contents, re-encoded (nested.c);
	 * a value that is not one is scanned as it is */
	if (n >= MASK_B64_MIN && mask__b64_value(c, s, n, pos, out))
		return true;
	return text_memo(c, s, n, pos, out, NULL);
}

bool mask__key(mask_ctx_t *c, const char *k, size_t n, const mpos_t *pos,
	       buf_t *out, bool *sensitive)
{
	return text_memo(c, k, n, pos, out, sensitive);
}

void mask__whole(mask_ctx_t *c, int src, int action, mask_kind_t kind,
		 const char *s, size_t n, const mpos_t *pos, buf_t *out)
{
	if (action == CONFIG_ACT_HASH)
		mask__pseudo(c, kind, s, n, out);
	else if (action == CONFIG_ACT_REDACT)
		buf_append(out, c->m->marker, c->m->marker_len);
	mask__hit(c, pos, src, action, 0);
}
