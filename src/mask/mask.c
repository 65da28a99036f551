/*
 * mask.c: the masker's life cycle and the message level: compiling
 * config_mask_t (rules, JSON paths, PCRE2 with JIT, the HMAC key), the
 * per-thread context, and masking a request or response into wire format:
 * start line, headers, Content-Length, body (walkers in json.c, form.c,
 * multipart.c; codings in codec.c).
 *
 * Headers, in this order of precedence:
 *   - Transfer-Encoding, Trailer and Content-Length are replaced by one
 *     Content-Length for the masked body; digests of the body
 *     (Content-MD5, Digest, Content-Digest, Repr-Digest) are dropped when
 *     the body changed, since they would be wrong.
 *   - a `where: header` rule for the name;
 *   - Authorization and Proxy-Authorization (scheme kept, credentials
 *     masked), X-Api-Key (auth detector);
 *   - Cookie and Set-Cookie: each cookie's value, attributes kept
 *     (cookie detector); a cookie without a name ("Cookie: eyJ...") is
 *     all value;
 *   - protocol headers that carry no personal data (Host, Content-Type,
 *     Accept*, Date, ETag, Range ...) are copied;
 *   - a header named like a sensitive key (X-Auth-Token, X-Secret) is
 *     masked whole (keys detector);
 *   - any other value is scanned by the detectors (X-Forwarded-For,
 *     Referer, User-Agent ...).
 * Header names and cookie names are scanned by the detectors too
 * ("X-Card-4111111111111111: 1"); a masked name that is no longer a
 * token (a redact marker with brackets) takes its header or cookie with
 * it.
 */
#include "mask/mask_int.h"

#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ----------------------------------------------------------- names */

static const char *const det_names[] = {
#define MASK__DET_NAME(name, act) #name,
    CONFIG_MASK_DETECTORS(MASK__DET_NAME)
#undef MASK__DET_NAME
};

static const char *const reason_names[] = {
#define MASK__REASON_NAME(id, name) name,
    MASK_REASONS(MASK__REASON_NAME)
#undef MASK__REASON_NAME
};

static const char *const where_names[] = {
#define MASK__WHERE_NAME(id, name) name,
    MASK_WHERES(MASK__WHERE_NAME)
#undef MASK__WHERE_NAME
};

static const char *const rule_where_names[] = {"header", "query", "json",
					       "form", "pattern"};

const char *mask_reason_name(mask_reason_t r)
{
	return (unsigned)r < MASK_R__COUNT ? reason_names[r] : "unknown";
}

const char *mask_where_name(mask_where_t w)
{
	return (unsigned)w < MASK_AT__COUNT ? where_names[w] : "unknown";
}

const char *mask_action_name(int a)
{
	static const char *const n[] = {"redact", "hash", "drop", "keep"};
	return (unsigned)a < 4 ? n[a] : "unknown";
}

size_t mask_nsources(const mask_t *m)
{
	return m->nsrc;
}

const char *mask_source_name(const mask_t *m, size_t i)
{
	return i < m->nsrc ? m->src_names[i] : "unknown";
}

/* ----------------------------------------------------------- compile */

/* $.a.b, $['a b'], $.items[*].card, $[0], $..email, $.* */
static int compile_path(mrule_t *r, const char *p, buf_t *err, size_t idx)
{
	jp_comp_t comps[MASK_JPATH_MAX];
	size_t nc = 0, i = 1;
	size_t n = strlen(p);
	const char *why = NULL;
	if (n == 0 || p[0] != '$')
		why = "a JSON path starts with $";
	while (!why && i < n) {
		jp_comp_t k = {0};
		if (nc == MASK_JPATH_MAX) {
			why = "more than 63 components";
			break;
		}
		if (p[i] == '.' && i + 1 < n && p[i + 1] == '.') {
			k.desc = true;
			i += 2;
			if (i < n && p[i] == '[')
				goto bracket;
			goto name;
		}
		if (p[i] == '.') {
			i++;
		name:
			if (i < n && p[i] == '*') {
				k.type = JP_ANY;
				i++;
			} else {
				size_t s = i;
				while (i < n && p[i] != '.' && p[i] != '[')
					i++;
				if (i == s) {
					why = "empty name";
					break;
				}
				k.type = JP_KEY;
				k.key = xstrndup(p + s, i - s);
				k.key_len = i - s;
			}
			comps[nc++] = k;
			continue;
		}
		if (p[i] != '[') {
			why = "expected '.' or '['";
			break;
		}
	bracket:
		i++;
		if (i < n && p[i] == '*') {
			k.type = JP_ANY;
			i++;
		} else if (i < n && (p[i] == '\'' || p[i] == '"')) {
			char q = p[i++];
			buf_t key = BUF_INIT;
			while (i < n && p[i] != q) {
				if (p[i] == '\\' && i + 1 < n)
					i++;
				buf_putc(&key, p[i++]);
			}
			if (i >= n) {
				buf_free(&key);
				why = "unterminated quoted name";
				break;
			}
			i++;
			k.type = JP_KEY;
			k.key_len = key.len;
			k.key = key.data ? buf_steal(&key) : xstrdup("");
		} else if (i < n && p[i] >= '0' && p[i] <= '9') {
			uint64_t v = 0;
			while (i < n && p[i] >= '0' && p[i] <= '9') {
				if (v > (UINT64_MAX - 9) / 10) {
					why = "index too large";
					break;
				}
				v = v * 10 + (uint64_t)(p[i++] - '0');
			}
			k.type = JP_INDEX;
			k.index = v;
		} else {
			why = "expected *, an index or a quoted name in []";
		}
		if (!why && (i >= n || p[i] != ']'))
			why = "expected ']'";
		if (why) {
			free(k.key);
			break;
		}
		i++;
		comps[nc++] = k;
	}
	if (why) {
		for (size_t j = 0; j < nc; j++)
			free(comps[j].key);
		buf_printf(err,
			   "mask.rules[%zu].name: bad JSON path \"%s\": %s "
			   "(at character %zu)\n",
			   idx, p, why, i + 1);
		return ERR_CONFIG;
	}
	r->path = xcalloc(nc ? nc : 1, sizeof(*r->path));
	memcpy(r->path, comps, nc * sizeof(*comps));
	r->npath = nc;
	return 0;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return true;
	return false;
}

static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int compile_rule(mask_t *m, size_t i, const config_mask_rule_t *cr,
			buf_t *err)
{
	mrule_t *r = &m->rules[i];
	r->where = cr->where;
	r->action = cr->action;
	r->src = (uint16_t)(MASK_SRC_RULE0 + i);
	const char *name = cr->name ? cr->name : "";
	if (cr->where != CONFIG_MASK_PATTERN && !*name) {
		buf_printf(err,
			   "mask.rules[%zu].name: required when where is "
			   "%s\n",
			   i, rule_where_names[cr->where]);
		return ERR_CONFIG;
	}
	switch (cr->where) {
	case CONFIG_MASK_HEADER:
		for (const char *q = name; *q; q++)
			if (!is_tchar((unsigned char)*q)) {
				buf_printf(err,
					   "mask.rules[%zu].name: \"%s\" "
					   "is not a header name\n",
					   i, name);
				return ERR_CONFIG;
			}
		/* fall through */
	case CONFIG_MASK_QUERY:
	case CONFIG_MASK_FORM:
		r->name = xstrdup(name);
		r->name_len = strlen(name);
		break;
	case CONFIG_MASK_JSON:
		if (compile_path(r, name, err, i))
			return ERR_CONFIG;
		r->name = xstrdup(name);
		r->name_len = strlen(name);
		break;
	case CONFIG_MASK_PATTERN: {
		const char *pat = cr->pattern ? cr->pattern : "";
		if (!*pat) {
			buf_printf(err,
				   "mask.rules[%zu].pattern: required "
				   "when where is pattern\n",
				   i);
			return ERR_CONFIG;
		}
		int code;
		PCRE2_SIZE off;
		r->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
				      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
				      &code, &off, NULL);
		if (!r->re) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(code, msg, sizeof(msg));
			buf_printf(err,
				   "mask.rules[%zu].pattern: %s at "
				   "offset %zu\n",
				   i, (char *)msg, (size_t)off);
			return ERR_CONFIG;
		}
		/* No JIT (a platform without it) only costs speed. */
		if (pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE) != 0)
			log_warn("mask",
				 "PCRE2 JIT unavailable for a rule; "
				 "using the interpreter",
				 LF_U("rule", i));
		uint32_t caps = 0;
		pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &caps);
		if (caps + 1 > m->max_pairs)
			m->max_pairs = caps + 1;
		break;
	}
	default:
		return ERR_CONFIG;
	}
	const char *rep = cr->replacement ? cr->replacement : "";
	if (*rep) {
		if (has_ctl(rep) || strlen(rep) > MASK_MARKER_MAX) {
			buf_printf(err,
				   "mask.rules[%zu].replacement: at most "
				   "%d bytes and no line breaks\n",
				   i, MASK_MARKER_MAX);
			return ERR_CONFIG;
		}
		r->repl = xstrdup(rep);
		r->repl_len = strlen(rep);
	}
	return 0;
}

/* Sensitive key names as mask__key_sensitive compares them. */
static char *norm_key(const char *k)
{
	char *o = xstrdup(k);
	size_t j = 0;
	for (const char *p = k; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '-' || ch == '_' || ch == '.' || ch == ' ')
			continue;
		o[j++] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
	}
	o[j] = '\0';
	return o;
}

int mask_new_with_key(const config_mask_t *cfg, const uint8_t *key,
		      size_t key_len, mask_t **out, buf_t *err)
{
	*out = NULL;
	buf_t scratch = BUF_INIT;
	if (!err)
		err = &scratch;
	if (key_len < MASK_KEY_MIN || key_len > MASK_KEY_MAX) {
		buf_printf(err,
			   "mask key: %zu bytes; a key is %d to %d "
			   "bytes\n",
			   key_len, MASK_KEY_MIN, MASK_KEY_MAX);
		buf_free(&scratch);
		return ERR_RANGE;
	}
	mask_t *m = xcalloc(1, sizeof(*m));
	/* HMAC pads (RFC 2104): keys over one block are hashed first. */
	uint8_t k[64] = {0}, pad[64];
	if (key_len > sizeof(k))
		SHA256(key, key_len, k);
	else
		memcpy(k, key, key_len);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(&m->hmac_in);
	SHA256_Update(&m->hmac_in, pad, 64);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(&m->hmac_out);
	SHA256_Update(&m->hmac_out, pad, 64);
	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));

	int rc = 0;
	for (int d = 0; d < CONFIG_MASK_DET__COUNT; d++) {
		m->det_on[d] = true;
		m->det_action[d] = cfg->actions[d];
	}
	for (size_t i = 0; i < cfg->disable.n; i++) {
		int d = 0;
		while (d < CONFIG_MASK_DET__COUNT &&
		       strcmp(det_names[d], cfg->disable.v[i]) != 0)
			d++;
		if (d == CONFIG_MASK_DET__COUNT) {
			buf_printf(err, "mask.disable: no detector \"%s\"\n",
				   cfg->disable.v[i]);
			rc = ERR_CONFIG;
		} else {
			m->det_on[d] = false;
		}
	}
	m->sens = xcalloc(cfg->sensitive_keys.n + 1, sizeof(char *));
	m->sens_len = xcalloc(cfg->sensitive_keys.n + 1, sizeof(size_t));
	for (size_t i = 0; i < cfg->sensitive_keys.n; i++) {
		char *nk = norm_key(cfg->sensitive_keys.v[i]);
		if (!*nk) {
			free(nk);
			continue;
		}
		unsigned char f0 = (unsigned char)nk[0];
		m->sens_first[f0 >> 6] |= 1ull << (f0 & 63);
		m->sens_len[m->nsens] = strlen(nk);
		m->sens[m->nsens++] = nk;
	}
	const char *mk = cfg->redact_marker ? cfg->redact_marker : "";
	if (has_ctl(mk) || strlen(mk) > MASK_MARKER_MAX) {
		buf_printf(err,
			   "mask.redact_marker: at most %d bytes and no "
			   "line breaks\n",
			   MASK_MARKER_MAX);
		rc = ERR_CONFIG;
	}
	m->marker = xstrdup(mk);
	m->marker_len = strlen(mk);
	m->max_scan = cfg->max_scan;
	for (m->memo_slots = cfg->memo > 0 ? 1 : 0;
	     m->memo_slots && m->memo_slots * 2 <= (size_t)cfg->memo;)
		m->memo_slots *= 2;
	m->max_pairs = 1;
	m->nrules = cfg->rules.n;
	m->rules = xcalloc(m->nrules + 1, sizeof(*m->rules));
	for (int w = 0; w < 5; w++)
		m->by_where[w] = xcalloc(m->nrules + 1, sizeof(size_t));
	for (size_t i = 0; i < m->nrules; i++) {
		if (compile_rule(m, i, &cfg->rules.v[i], err)) {
			rc = ERR_CONFIG;
			continue;
		}
		int w = m->rules[i].where;
		m->by_where[w][m->nby_where[w]++] = i;
	}
	m->nsrc = CONFIG_MASK_DET__COUNT + m->nrules;
	m->src_names = xcalloc(m->nsrc, sizeof(char *));
	for (size_t i = 0; i < m->nsrc; i++)
		m->src_names[i] =
		    i < CONFIG_MASK_DET__COUNT
			? xstrdup(det_names[i])
			: xasprintf("rules[%zu]", i - CONFIG_MASK_DET__COUNT);
	buf_free(&scratch);
	if (rc) {
		mask_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int mask_new(const config_mask_t *cfg, mask_t **out, buf_t *err)
{
	uint8_t key[MASK_KEY_MAX];
	size_t len = 0;
	*out = NULL;
	int rc = mask_key_load(cfg->key_file, key, &len, err);
	if (rc)
		return rc;
	rc = mask_new_with_key(cfg, key, len, out, err);
	explicit_bzero(key, sizeof(key));
	return rc;
}

void mask_free(mask_t *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nrules; i++) {
		mrule_t *r = &m->rules[i];
		free(r->name);
		free(r->repl);
		if (r->re)
			pcre2_code_free(r->re);
		for (size_t j = 0; j < r->npath; j++)
			free(r->path[j].key);
		free(r->path);
	}
	free(m->rules);
	for (int w = 0; w < 5; w++)
		free(m->by_where[w]);
	for (size_t i = 0; i < m->nsens; i++)
		free(m->sens[i]);
	free(m->sens);
	free(m->sens_len);
	free(m->marker);
	for (size_t i = 0; m->src_names && i < m->nsrc; i++)
		free(m->src_names[i]);
	free(m->src_names);
	explicit_bzero(m, sizeof(*m));
	free(m);
}

/* ----------------------------------------------------------- context */

mask_ctx_t *mask_ctx_new(const mask_t *m)
{
	mask_ctx_t *c = xcalloc(1, sizeof(*c));
	c->m = m;
	c->md = pcre2_match_data_create(m->max_pairs, NULL);
	if (!c->md)
		xmalloc_oom("pcre2_match_data_create");
	c->counts = xcalloc(m->nsrc, sizeof(*c->counts));
	c->jwalk = mask__jwalk_new();
	size_t nj = m->nby_where[CONFIG_MASK_JSON];
	c->jstate = xcalloc((MASK_JSON_MAX_DEPTH + 1) * (nj ? nj : 1),
			    sizeof(uint64_t));
	c->rep.counts = c->counts;
	return c;
}

void mask_ctx_free(mask_ctx_t *c)
{
	if (!c)
		return;
	mask_ctx_free(c->child);
	pcre2_match_data_free(c->md);
	if (c->zin_ok)
		inflateEnd(&c->zin);
	for (int i = 0; i < 3; i++)
		if (c->zout_ok[i])
			deflateEnd(&c->zout[i]);
	buf_t *bufs[] = {&c->dec[0], &c->dec[1], &c->body,     &c->enc[0],
			 &c->enc[1], &c->part,	 &c->jdec,     &c->fdec,
			 &c->fdec2,  &c->vout,	 &c->view,     &c->repl,
			 &c->vtmp,   &c->tmp,	 &c->tmp2,     &c->tmp3,
			 &c->keys,   &c->hdr,	 &c->hit_text, &c->rnd[0],
			 &c->rnd[1], &c->hname,	 &c->cname,    &c->b64};
	for (size_t i = 0; i < sizeof(bufs) / sizeof(*bufs); i++)
		buf_free(bufs[i]);
	free(c->map);
	free(c->mt);
	free(c->mt2);
	free(c->bd);
	free(c->jwalk);
	free(c->jstate);
	mask__memo_free(c);
	free(c->counts);
	free(c->hits);
	free(c);
}

void mask_ctx_detail(mask_ctx_t *c, bool on)
{
	c->detail = on;
}

const mask_report_t *mask_ctx_report(const mask_ctx_t *c)
{
	return &c->rep;
}

mask_reason_t mask_ctx_reason(const mask_ctx_t *c)
{
	return c->reason;
}

const char *mask_ctx_error(const mask_ctx_t *c)
{
	return c->err;
}

/* Frees scratch that one large body grew past MASK_SCRATCH_KEEP (the
 * next one grows it again): what a worker keeps is bounded by ordinary
 * traffic, not by the largest body it ever masked. */
static void scratch_trim(mask_ctx_t *c)
{
	for (; c; c = c->child) {
		buf_t *bufs[] = {&c->dec[0], &c->dec[1], &c->body, &c->enc[0],
				 &c->enc[1], &c->part,	 &c->jdec, &c->fdec,
				 &c->fdec2,  &c->vout,	 &c->view, &c->repl,
				 &c->vtmp,   &c->rnd[0], &c->rnd[1], &c->b64,
				 &c->hit_text};
		for (size_t i = 0; i < sizeof(bufs) / sizeof(*bufs); i++)
			if (bufs[i]->cap > MASK_SCRATCH_KEEP)
				buf_free(bufs[i]);
		if (c->map_cap * sizeof(*c->map) > MASK_SCRATCH_KEEP) {
			free(c->map);
			c->map = NULL;
			c->map_cap = 0;
		}
	}
}

static void report_reset(mask_ctx_t *c)
{
	scratch_trim(c);
	memset(c->counts, 0, c->m->nsrc * sizeof(*c->counts));
	c->nhits = 0;
	buf_reset(&c->hit_text);
	c->reason = MASK_R_NONE;
	c->err[0] = '\0';
	c->too_deep = false;
	c->rep = (mask_report_t){.counts = c->counts};
}

/* A layer past MASK_NEST_MAX was met somewhere in the message (nested.c):
 * what it hid was not masked, so nothing of the message goes out. */
static int check_depth(mask_ctx_t *c, buf_t *out, size_t mark)
{
	if (!c->too_deep)
		return 0;
	out->len = mark;
	if (out->data)
		out->data[mark] = '\0';
	return mask__fail(c, MASK_R_TOO_DEEP, ERR_TOOBIG,
			  "encodings nested more than %d deep",
			  MASK_NEST_MAX);
}

static void report_finish(mask_ctx_t *c)
{
	c->rep.hits = c->hits;
	c->rep.nhits = c->nhits;
	c->rep.text = c->hit_text.data ? c->hit_text.data : "";
}

/* ----------------------------------------------------------- headers */

typedef enum hkind {
	H_OTHER,
	H_FRAMING, /* replaced by our Content-Length */
	H_DIGEST,  /* of the body: dropped when it changed */
	H_AUTH,
	H_APIKEY,
	H_COOKIE,
	H_SETCOOKIE,
	H_PROTO, /* protocol data, copied */
} hkind_t;

#define HK(name, kind) {name, sizeof(name) - 1, kind}
static const struct {
	const char *name;
	size_t len;
	hkind_t kind;
} header_kinds[] = {
    HK("transfer-encoding", H_FRAMING),
    HK("content-length", H_FRAMING),
    HK("trailer", H_FRAMING),
    HK("content-md5", H_DIGEST),
    HK("digest", H_DIGEST),
    HK("content-digest", H_DIGEST),
    HK("repr-digest", H_DIGEST),
    HK("authorization", H_AUTH),
    HK("proxy-authorization", H_AUTH),
    HK("x-api-key", H_APIKEY),
    HK("cookie", H_COOKIE),
    HK("set-cookie", H_SETCOOKIE),
    HK("host", H_PROTO),
    HK("content-type", H_PROTO),
    HK("content-encoding", H_PROTO),
    HK("content-language", H_PROTO),
    HK("accept", H_PROTO),
    HK("accept-encoding", H_PROTO),
    HK("accept-language", H_PROTO),
    HK("accept-charset", H_PROTO),
    HK("accept-ranges", H_PROTO),
    HK("connection", H_PROTO),
    HK("keep-alive", H_PROTO),
    HK("date", H_PROTO),
    HK("expires", H_PROTO),
    HK("last-modified", H_PROTO),
    HK("if-modified-since", H_PROTO),
    HK("if-unmodified-since", H_PROTO),
    HK("if-range", H_PROTO),
    HK("cache-control", H_PROTO),
    HK("pragma", H_PROTO),
    HK("etag", H_PROTO),
    HK("if-match", H_PROTO),
    HK("if-none-match", H_PROTO),
    HK("range", H_PROTO),
    HK("content-range", H_PROTO),
    HK("vary", H_PROTO),
    HK("upgrade", H_PROTO),
    HK("te", H_PROTO),
    HK("expect", H_PROTO),
    HK("age", H_PROTO),
};
#undef HK

static hkind_t header_kind(const char *n, size_t len)
{
	for (size_t i = 0; i < sizeof(header_kinds) / sizeof(*header_kinds);
	     i++)
		if (header_kinds[i].len == len &&
		    header_kinds[i].name[0] == (n[0] | 0x20) &&
		    strncasecmp(header_kinds[i].name, n, len) == 0)
			return header_kinds[i].kind;
	return H_OTHER;
}

static void put_header(buf_t *out, const mask_header_t *h, const char *v,
		       size_t vn)
{
	buf_reserve(out, h->name_len + vn + 4);
	buf_append(out, h->name, h->name_len);
	buf_append(out, ": ", 2);
	buf_append(out, v, vn);
	buf_append(out, "\r\n", 2);
}

/* Where a hit in a header or cookie name is reported: never the name
 * itself, which holds the value. */
static const char name_loc[] = "(name)";

/* Masks a header or cookie name s[0..n) into o (reset first) when the
 * detectors or pattern rules find something in it. Returns 1 when o holds
 * the masked name, 0 when the name stands, -1 when the masked name is
 * empty or no longer a token (the header or cookie must go; counted). */
static int mask_name(mask_ctx_t *c, const char *s, size_t n, buf_t *o)
{
	if (c->m->nby_where[CONFIG_MASK_PATTERN] == 0 &&
	    mask__detect_inert(s, n))
		return 0;
	mpos_t pos = {.where = MASK_AT_HEADER,
		      .name = name_loc,
		      .name_len = sizeof(name_loc) - 1};
	buf_reset(o);
	if (!mask__text(c, s, n, &pos, o))
		return 0;
	if (o->len == 0)
		return -1;
	for (size_t k = 0; k < o->len; k++)
		if (!is_tchar((unsigned char)o->data[k]))
			return -1;
	return 1;
}

/* Cookie: a=1; b=2 (every cookie) or Set-Cookie: a=1; Path=/ (the first
 * pair only). A piece without '=' is a value without a name (browsers
 * send "Cookie: eyJ..." for a cookie set as Set-Cookie: eyJ...). Names
 * are scanned by the detectors (mask_name). Writes the masked value to
 * o; false: drop the header. */
static bool mask_cookies(mask_ctx_t *c, const char *v, size_t n, bool set,
			 buf_t *o)
{
	const mask_t *m = c->m;
	int act = m->det_action[CONFIG_MASK_DET_cookie];
	size_t kept = 0;
	for (size_t i = 0; i < n;) {
		const char *semi = memchr(v + i, ';', n - i);
		size_t e = semi ? (size_t)(semi - v) : n;
		size_t a = i;
		while (a < e && (v[a] == ' ' || v[a] == '\t'))
			a++;
		size_t b = e;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (set && i > 0) { /* attributes of Set-Cookie */
			buf_append(o, v + i - 1, n - i + 1);
			break;
		}
		const char *eq = memchr(v + a, '=', b - a);
		if (a < b) {
			size_t nl = eq ? (size_t)(eq - v) - a : 0;
			const char *name = v + a;
			int nm = nl ? mask_name(c, name, nl, &c->cname) : 0;
			if (nm < 0) {
				if (set)
					return false;
				i = e + 1;
				continue;
			}
			if (nm > 0) {
				name = c->cname.data;
				nl = c->cname.len;
			}
			mpos_t pos = {.where = MASK_AT_HEADER,
				      .name = nl ? name : name_loc,
				      .name_len =
					  nl ? nl : sizeof(name_loc) - 1};
			if (act == CONFIG_ACT_DROP) {
				mask__hit(c, &pos, CONFIG_MASK_DET_cookie, act,
					  0);
				if (set)
					return false;
			} else {
				if (kept++)
					buf_append(o, "; ", 2);
				size_t vs = eq ? (size_t)(eq - v) + 1 : a;
				if (eq) {
					buf_append(o, name, nl);
					buf_putc(o, '=');
				}
				if (act == CONFIG_ACT_KEEP || vs == b) {
					buf_append(o, v + vs, b - vs);
				} else {
					size_t ve = b;
					bool q = ve - vs >= 2 && v[vs] == '"' &&
						 v[ve - 1] == '"';
					if (q)
						buf_putc(o, '"');
					mask__whole(c, CONFIG_MASK_DET_cookie,
						    act, MK_TOKEN, v + vs + q,
						    ve - vs - 2 * q, &pos, o);
					if (q)
						buf_putc(o, '"');
				}
			}
		}
		i = e + 1;
	}
	return kept > 0 || n == 0;
}

/* Masks one header into out (or leaves it out). */
static void mask_header(mask_ctx_t *c, const mask_header_t *h, hkind_t kind,
			buf_t *out)
{
	const mask_t *m = c->m;
	const char *v = h->value ? h->value : "";
	size_t vn = h->value_len;
	/* The name first: the value's hits are reported under the masked
	 * name, and it is what goes out. Its kind and sensitivity stay
	 * those of the name as sent. */
	mask_header_t mh = *h;
	if (kind == H_OTHER) {
		int nm = mask_name(c, h->name, h->name_len, &c->hname);
		if (nm < 0)
			return;
		if (nm > 0) {
			mh.name = c->hname.data;
			mh.name_len = c->hname.len;
		}
	}
	const mask_header_t *oh = h;
	h = &mh;
	mpos_t pos = {
	    .where = MASK_AT_HEADER, .name = h->name, .name_len = h->name_len};
	buf_t *o = &c->hdr;
	buf_reset(o);
	int act = -1, src = 0;
	long r =
	    mask__rule_by_name(m, CONFIG_MASK_HEADER, oh->name, oh->name_len);
	if (r >= 0) {
		act = m->rules[r].action;
		src = m->rules[r].src;
	} else if ((kind == H_AUTH || kind == H_APIKEY) &&
		   m->det_on[CONFIG_MASK_DET_auth]) {
		act = m->det_action[CONFIG_MASK_DET_auth];
		src = CONFIG_MASK_DET_auth;
		if (act == CONFIG_ACT_HASH && kind == H_AUTH) {
			mask__pseudo_auth(c, v, vn, o);
			mask__hit(c, &pos, src, act, 0);
			put_header(out, h, o->data, o->len);
			return;
		}
		if (act == CONFIG_ACT_REDACT && kind == H_AUTH) {
			const char *sp = memchr(v, ' ', vn);
			if (sp) /* keep the scheme */
				buf_append(o, v, (size_t)(sp - v) + 1);
		}
	} else if ((kind == H_COOKIE || kind == H_SETCOOKIE) &&
		   m->det_on[CONFIG_MASK_DET_cookie]) {
		if (mask_cookies(c, v, vn, kind == H_SETCOOKIE, o))
			put_header(out, h, o->data, o->len);
		return;
	} else if (kind == H_PROTO) {
		act = CONFIG_ACT_KEEP;
	} else if (mask__key_sensitive(m, oh->name, oh->name_len)) {
		act = m->det_action[CONFIG_MASK_DET_keys];
		src = CONFIG_MASK_DET_keys;
	}
	switch (act) {
	case CONFIG_ACT_KEEP:
		put_header(out, h, v, vn);
		return;
	case CONFIG_ACT_DROP:
		mask__hit(c, &pos, src, act, 0);
		return;
	case CONFIG_ACT_REDACT:
	case CONFIG_ACT_HASH:
		mask__whole(c, src, act,
			    kind == H_APIKEY ? MK_TOKEN : MK_GENERIC, v, vn,
			    &pos, o);
		put_header(out, h, o->data, o->len);
		return;
	default:
		if (mask__text(c, v, vn, &pos, o))
			put_header(out, h, o->data, o->len);
		else
			put_header(out, h, v, vn);
	}
}

/* ----------------------------------------------------------- messages */

static int bad_message(mask_ctx_t *c, const char *what)
{
	return mask__fail(c, MASK_R_BAD_MESSAGE, ERR_PARSE, "%s", what);
}

static int check_headers(mask_ctx_t *c, const mask_header_t *hs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const mask_header_t *h = &hs[i];
		if (h->name_len == 0)
			return bad_message(c, "empty header name");
		for (size_t k = 0; k < h->name_len; k++)
			if (!is_tchar((unsigned char)h->name[k]))
				return bad_message(c, "bad byte in a header "
						      "name");
		for (size_t k = 0; k < h->value_len; k++) {
			char ch = h->value[k];
			if (ch == '\r' || ch == '\n' || ch == '\0')
				return bad_message(c, "CR, LF or NUL in a "
						      "header value");
		}
	}
	return 0;
}

static bool header_is(const mask_header_t *h, const char *name)
{
	return strlen(name) == h->name_len &&
	       strncasecmp(h->name, name, h->name_len) == 0;
}

/* Decodes the body's codings, masks it by type, re-encodes it. On
 * success (*ob, *on) is the body to send: the input itself when nothing
 * changed. */
static int mask_body(mask_ctx_t *c, const mask_header_t *hs, size_t nh,
		     const char *body, size_t len, bool decoded,
		     const char **ob, size_t *on)
{
	const mask_t *m = c->m;
	*ob = body;
	*on = len;
	if (len == 0)
		return 0;
	if (len > m->max_scan)
		return mask__fail(c, MASK_R_TOO_BIG, ERR_TOOBIG,
				  "body of %zu bytes is over mask.max_scan "
				  "(%llu)",
				  len, (unsigned long long)m->max_scan);
	const char *ct = NULL;
	size_t ctl = 0;
	int cod[MASK_MAX_CODINGS], ncod = 0;
	for (size_t i = 0; i < nh; i++) {
		const mask_header_t *h = &hs[i];
		if (!ct && header_is(h, "content-type")) {
			ct = h->value ? h->value : "";
			ctl = h->value_len;
		}
		if (!header_is(h, "content-encoding"))
			continue;
		const char *v = h->value ? h->value : "";
		for (size_t k = 0; k < h->value_len;) {
			const char *comma =
			    memchr(v + k, ',', h->value_len - k);
			size_t e = comma ? (size_t)(comma - v) : h->value_len;
			size_t a = k, b = e;
			while (a < b && (v[a] == ' ' || v[a] == '\t'))
				a++;
			while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
				b--;
			k = e + 1;
			const char *t = v + a;
			size_t tn = b - a;
			int code;
			if (tn == 0 ||
			    (tn == 8 && !strncasecmp(t, "identity", 8)))
				continue;
			if ((tn == 4 && !strncasecmp(t, "gzip", 4)) ||
			    (tn == 6 && !strncasecmp(t, "x-gzip", 6)))
				code = MASK_CODING_GZIP;
			else if (tn == 7 && !strncasecmp(t, "deflate", 7))
				code = MASK_CODING_DEFLATE;
			else
				return mask__fail(c, MASK_R_BAD_ENCODING,
						  ERR_UNSUPPORTED,
						  "content-encoding \"%.*s\"",
						  (int)(tn > 40 ? 40 : tn), t);
			if (ncod == MASK_MAX_CODINGS)
				return mask__fail(
				    c, MASK_R_BAD_ENCODING, ERR_UNSUPPORTED,
				    "more than %d content codings",
				    MASK_MAX_CODINGS);
			cod[ncod++] = code;
		}
	}
	const char *cur = body;
	size_t curn = len;
	int det[MASK_MAX_CODINGS];
	for (int k = ncod; k-- > 0;) {
		int rc = mask__inflate(c, cod[k], cur, curn, m->max_scan,
				       &c->dec[k], &det[k]);
		if (rc)
			return rc;
		cur = c->dec[k].data ? c->dec[k].data : "";
		curn = c->dec[k].len;
	}
	bool changed;
	buf_reset(&c->body);
	int rc =
	    mask__typed_body(c, ct, ctl, cur, curn, NULL, &c->body, &changed);
	if (rc)
		return rc;
	c->rep.body_changed = changed || (decoded && ncod);
	if (changed) {
		cur = c->body.data;
		curn = c->body.len;
	}
	if (decoded) {
		*ob = cur;
		*on = curn;
		return 0;
	}
	if (!changed)
		return 0;
	for (int k = 0; k < ncod; k++) {
		mask__deflate(c, det[k], cur, curn, &c->enc[k]);
		cur = c->enc[k].data;
		curn = c->enc[k].len;
	}
	*ob = cur;
	*on = curn;
	return 0;
}

/* Headers of either message; then Content-Length, the blank line and
 * the body. keep_cl: a response without a body keeps its own. */
static void finish(mask_ctx_t *c, const mask_header_t *hs, size_t nh,
		   const char *body, size_t blen, bool keep_cl, bool force_cl,
		   bool decoded, size_t mark, buf_t *out)
{
	bool framed = false;
	for (size_t i = 0; i < nh; i++) {
		const mask_header_t *h = &hs[i];
		hkind_t k = header_kind(h->name, h->name_len);
		if (decoded && header_is(h, "content-encoding"))
			continue;
		if (k == H_FRAMING) {
			framed = true;
			if (keep_cl && header_is(h, "content-length"))
				put_header(out, h, h->value, h->value_len);
			continue;
		}
		if (k == H_DIGEST && c->rep.body_changed)
			continue; /* it would be wrong now */
		mask_header(c, h, k, out);
	}
	if (!keep_cl && (blen > 0 || framed || force_cl)) {
		buf_append(out, "Content-Length: ", 16);
		buf_put_u64(out, blen);
		buf_append(out, "\r\n", 2);
	}
	buf_append(out, "\r\n", 2);
	c->rep.head_len = out->len - mark;
	buf_append(out, body, blen);
	c->rep.body_len = blen;
	report_finish(c);
}

static void reverse_hits(mask_hit_t *h, size_t a, size_t b)
{
	while (a + 1 < b) {
		mask_hit_t t = h[a];
		h[a++] = h[--b];
		h[b] = t;
	}
}

/* The body is masked before the head (its length and whether it changed
 * decide headers), so its hits come first; the report lists a message in
 * order: rotate hits[0..first) behind the rest, in place. */
static void body_last(mask_ctx_t *c, size_t first)
{
	size_t n = c->nhits;
	if (!c->detail || first == 0 || first >= n)
		return;
	reverse_hits(c->hits, 0, first);
	reverse_hits(c->hits, first, n);
	reverse_hits(c->hits, 0, n);
	c->rep.hits = c->hits;
}

int mask_request(mask_ctx_t *c, const mask_request_t *req, buf_t *out)
{
	report_reset(c);
	size_t mark = out->len;
	if (req->method_len == 0)
		return bad_message(c, "empty method");
	for (size_t i = 0; i < req->method_len; i++)
		if (!is_tchar((unsigned char)req->method[i]))
			return bad_message(c, "bad byte in the method");
	if (req->target_len == 0)
		return bad_message(c, "empty request target");
	for (size_t i = 0; i < req->target_len; i++) {
		unsigned char ch = (unsigned char)req->target[i];
		if (ch <= 0x20 || ch == 0x7f)
			return bad_message(c, "space or control byte in the "
					      "request target");
	}
	int rc = check_headers(c, req->headers, req->nheaders);
	if (rc)
		return rc;
	const char *body;
	size_t blen;
	c->prefix = req->truncated;
	rc = mask_body(c, req->headers, req->nheaders, req->body, req->body_len,
		       req->decoded, &body, &blen);
	c->prefix = false;
	if (rc)
		return rc;
	size_t body_hits = c->nhits;
	buf_append(out, req->method, req->method_len);
	buf_putc(out, ' ');
	mask__target(c, req->target, req->target_len, out);
	buf_append(out, " HTTP/1.1\r\n", 11);
	finish(c, req->headers, req->nheaders, body, blen, req->truncated,
	       false, req->decoded, mark, out);
	body_last(c, body_hits);
	return check_depth(c, out, mark);
}

int mask_response(mask_ctx_t *c, const mask_response_t *resp, buf_t *out)
{
	report_reset(c);
	size_t mark = out->len;
	if (resp->status < 100 || resp->status > 999)
		return bad_message(c, "status outside 100..999");
	for (size_t i = 0; i < resp->reason_len; i++) {
		char ch = resp->reason[i];
		if (ch == '\r' || ch == '\n' || ch == '\0')
			return bad_message(c, "CR, LF or NUL in the reason "
					      "phrase");
	}
	int rc = check_headers(c, resp->headers, resp->nheaders);
	if (rc)
		return rc;
	const char *body = "";
	size_t blen = 0;
	if (!resp->no_body) {
		c->prefix = resp->truncated;
		rc = mask_body(c, resp->headers, resp->nheaders, resp->body,
			       resp->body_len, resp->decoded, &body, &blen);
		c->prefix = false;
		if (rc)
			return rc;
	}
	size_t body_hits = c->nhits;
	buf_printf(out, "HTTP/1.1 %03d ", resp->status);
	buf_append(out, resp->reason, resp->reason_len);
	buf_append(out, "\r\n", 2);
	finish(c, resp->headers, resp->nheaders, body, blen,
	       resp->no_body || resp->truncated, !resp->no_body, resp->decoded,
	       mark, out);
	body_last(c, body_hits);
	return check_depth(c, out, mark);
}

void mask_report_format(const mask_t *m, const mask_report_t *r, buf_t *out)
{
	for (size_t i = 0; i < r->nhits; i++) {
		const mask_hit_t *h = &r->hits[i];
		buf_printf(out, "%-9s %.*s: %s", mask_where_name(h->where),
			   (int)h->loc_len, r->text + h->loc_off,
			   mask_source_name(m, h->source));
		if (h->source >= MASK_SRC_RULE0) {
			const mrule_t *rule =
			    &m->rules[h->source - MASK_SRC_RULE0];
			buf_printf(
			    out, " (%s %s)", rule_where_names[rule->where],
			    rule->where == CONFIG_MASK_PATTERN ? "pattern"
			    : rule->name		       ? rule->name
							       : "");
		}
		buf_printf(out, " -> %s\n", mask_action_name(h->action));
	}
}
