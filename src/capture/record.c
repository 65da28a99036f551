/*
 * record.c: the capture file's byte layout (docs/capture.md): the
 * versioned header with its metadata lines, and the record payload
 * (a fixed 116-byte part, then the tag, heads and bodies). Pure: bytes
 * in, bytes out, every length checked against the payload and the named
 * limits before it is used. Also the mask hook's pass-through and small
 * helpers over records (names, addresses, endpoint templates).
 *
 * All integers are little-endian, written byte by byte, so files move
 * between hosts.
 */
#include "capture/capture.h"

#include "base/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* --------------------------------------------------------------- names */

static const char *const source_names[] = {
#define CAP__SRC_NAME(n, s) s,
	CAP_SOURCE_MAP(CAP__SRC_NAME)
#undef CAP__SRC_NAME
};

const char *cap_source_name(int src)
{
	return src >= 0 && src < CAP_SRC__COUNT ? source_names[src] : "?";
}

static const char *const loss_names[] = {
#define CAP__LOSS_NAME(n, s, t) s,
	CAP_LOSS_MAP(CAP__LOSS_NAME)
#undef CAP__LOSS_NAME
};
static const char *const loss_texts[] = {
#define CAP__LOSS_TEXT(n, s, t) t,
	CAP_LOSS_MAP(CAP__LOSS_TEXT)
#undef CAP__LOSS_TEXT
};

const char *cap_loss_name(int l)
{
	return l >= 0 && l < CAP_LOSS__COUNT ? loss_names[l] : "?";
}

const char *cap_loss_text(int l)
{
	return l >= 0 && l < CAP_LOSS__COUNT ? loss_texts[l] : "?";
}

const char *cap_addr_format(const cap_addr_t *a, char *out, size_t cap)
{
	if (a->family == 4)
		snprintf(out, cap, "%u.%u.%u.%u:%u", a->ip[0], a->ip[1],
			 a->ip[2], a->ip[3], a->port);
	else if (a->family == 6) {
		char t[48];
		size_t o = 0;
		for (int i = 0; i < 16; i += 2)
			o += (size_t)snprintf(t + o, sizeof(t) - o, "%s%x",
					      i ? ":" : "",
					      (a->ip[i] << 8) | a->ip[i + 1]);
		snprintf(out, cap, "[%s]:%u", t, a->port);
	} else
		snprintf(out, cap, "-");
	return out;
}

/* --------------------------------------------------------------- bytes */

static void put16(buf_t *b, uint16_t v)
{
	unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
	buf_append(b, x, 2);
}

static void put32(buf_t *b, uint32_t v)
{
	unsigned char x[4];
	for (int i = 0; i < 4; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	buf_append(b, x, 4);
}

static void put64(buf_t *b, uint64_t v)
{
	unsigned char x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	buf_append(b, x, 8);
}

static uint16_t get16(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint16_t)(u[0] | u[1] << 8);
}

static uint32_t get32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
	       (uint32_t)u[3] << 24;
}

static uint64_t get64(const char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put_addr(buf_t *b, const cap_addr_t *a)
{
	unsigned char x[4] = {a->family, 0, (unsigned char)a->port,
			      (unsigned char)(a->port >> 8)};
	buf_append(b, x, 4);
	buf_append(b, a->ip, 16);
}

static int get_addr(const char *p, cap_addr_t *a)
{
	a->family = (uint8_t)p[0];
	if (a->family != 0 && a->family != 4 && a->family != 6)
		return -1;
	a->port = get16(p + 2);
	memcpy(a->ip, p + 4, 16);
	return 0;
}

/* --------------------------------------------------------------- records */

int cap_rec_check(const cap_rec_t *r, const char **why)
{
#define BAD(w)                                                             \
	do {                                                              \
		*why = (w);                                               \
		return ERR_INVAL;                                         \
	} while (0)
	if (r->source >= CAP_SRC__COUNT)
		BAD("unknown source");
	if (r->side > CAP_SIDE_BASELINE)
		BAD("unknown side");
	if (r->client.family != 0 && r->client.family != 4 &&
	    r->client.family != 6)
		BAD("bad client address family");
	if (r->server.family != 0 && r->server.family != 4 &&
	    r->server.family != 6)
		BAD("bad server address family");
	if (r->kind == CAP_KIND_LOSS) {
		if (r->flags || r->tag_len || r->req_head_len ||
		    r->req_body_len || r->resp_head_len || r->resp_body_len)
			BAD("loss record with exchange fields");
		return 0;
	}
	if (r->kind != CAP_KIND_EXCHANGE)
		BAD("unknown record kind");
	if (r->flags & ~CAP_RF__ALL)
		BAD("unknown flags");
	if (r->tag_len > CAP_TAG_MAX)
		BAD("tag too long");
	if (r->req_head_len == 0)
		BAD("no request head");
	if (r->req_head_len > CAP_HEAD_MAX || r->resp_head_len > CAP_HEAD_MAX)
		BAD("head too long");
	if (r->req_body_len > CAP_BODY_MAX || r->resp_body_len > CAP_BODY_MAX)
		BAD("body too long");
	if (r->req_body_len > r->req_body_total ||
	    (!(r->flags & CAP_RF_REQ_TRUNC) &&
	     r->req_body_len != r->req_body_total))
		BAD("request body length disagrees with its total");
	if (r->resp_body_len > r->resp_body_total ||
	    (!(r->flags & CAP_RF_RESP_TRUNC) &&
	     r->resp_body_len != r->resp_body_total))
		BAD("response body length disagrees with its total");
	if (r->flags & CAP_RF_NO_RESPONSE) {
		if (r->resp_head_len || r->resp_body_len || r->resp_body_total)
			BAD("response bytes in a record without response");
	} else if (r->resp_head_len == 0) {
		BAD("no response head (and no NO_RESPONSE flag)");
	}
	return 0;
#undef BAD
}

void cap_rec_encode(const cap_rec_t *r, buf_t *out)
{
	buf_reserve(out, CAP_REC_FIXED + r->tag_len + r->req_head_len +
				 r->req_body_len + r->resp_head_len +
				 r->resp_body_len + 1 + 9 * CAP_LOSS__COUNT);
	buf_putc(out, (char)r->kind);
	buf_putc(out, (char)r->source);
	put16(out, r->flags);
	put32(out, r->seq);
	put64(out, r->conn_id);
	put64(out, (uint64_t)r->req_ns);
	put64(out, (uint64_t)r->resp_ns);
	put64(out, (uint64_t)r->latency_ns);
	put64(out, r->req_body_total);
	put64(out, r->resp_body_total);
	put_addr(out, &r->client);
	put_addr(out, &r->server);
	put16(out, (uint16_t)r->tag_len);
	buf_putc(out, (char)r->side);
	buf_putc(out, 0);
	put32(out, (uint32_t)r->req_head_len);
	put32(out, (uint32_t)r->req_body_len);
	put32(out, (uint32_t)r->resp_head_len);
	put32(out, (uint32_t)r->resp_body_len);
	if (r->kind == CAP_KIND_LOSS) {
		unsigned char n = 0;
		for (int i = 0; i < CAP_LOSS__COUNT; i++)
			n += r->loss[i] != 0;
		buf_putc(out, (char)n);
		for (int i = 0; i < CAP_LOSS__COUNT; i++) {
			if (!r->loss[i])
				continue;
			buf_putc(out, (char)i);
			put64(out, r->loss[i]);
		}
		return;
	}
	buf_append(out, r->tag, r->tag_len);
	buf_append(out, r->req_head, r->req_head_len);
	buf_append(out, r->req_body, r->req_body_len);
	buf_append(out, r->resp_head, r->resp_head_len);
	buf_append(out, r->resp_body, r->resp_body_len);
}

int cap_rec_decode(const char *p, size_t len, cap_rec_t *r, const char **why)
{
	memset(r, 0, sizeof(*r));
	if (len < CAP_REC_FIXED) {
		*why = "record shorter than its fixed part";
		return ERR_CORRUPT;
	}
	r->kind = (uint8_t)p[0];
	r->source = (uint8_t)p[1];
	r->flags = get16(p + 2);
	r->seq = get32(p + 4);
	r->conn_id = get64(p + 8);
	r->req_ns = (int64_t)get64(p + 16);
	r->resp_ns = (int64_t)get64(p + 24);
	r->latency_ns = (int64_t)get64(p + 32);
	r->req_body_total = get64(p + 40);
	r->resp_body_total = get64(p + 48);
	if (get_addr(p + 56, &r->client) || get_addr(p + 76, &r->server)) {
		*why = "bad address family";
		return ERR_CORRUPT;
	}
	r->tag_len = get16(p + 96);
	r->side = (uint8_t)p[98];
	if (p[99] != 0) {
		*why = "reserved bytes not zero";
		return ERR_CORRUPT;
	}
	r->req_head_len = get32(p + 100);
	r->req_body_len = get32(p + 104);
	r->resp_head_len = get32(p + 108);
	r->resp_body_len = get32(p + 112);
	size_t rest = len - CAP_REC_FIXED;
	const char *v = p + CAP_REC_FIXED;
	if (r->kind == CAP_KIND_LOSS) {
		if (rest < 1 || rest != 1 + 9 * (size_t)(unsigned char)v[0]) {
			*why = "loss record length disagrees with its count";
			return ERR_CORRUPT;
		}
		size_t n = (unsigned char)v[0];
		for (size_t i = 0; i < n; i++) {
			unsigned reason = (unsigned char)v[1 + 9 * i];
			if (reason >= CAP_LOSS__COUNT || r->loss[reason]) {
				*why = "unknown or repeated loss reason";
				return ERR_CORRUPT;
			}
			r->loss[reason] = get64(v + 2 + 9 * i);
		}
	} else {
		/* each length is at most 32 bits: the sum fits 64 */
		uint64_t sum = (uint64_t)r->tag_len + r->req_head_len +
			       r->req_body_len + r->resp_head_len +
			       r->resp_body_len;
		if (sum != rest) {
			*why = "record lengths disagree with its size";
			return ERR_CORRUPT;
		}
		r->tag = v;
		r->req_head = r->tag + r->tag_len;
		r->req_body = r->req_head + r->req_head_len;
		r->resp_head = r->req_body + r->req_body_len;
		r->resp_body = r->resp_head + r->resp_head_len;
	}
	if (cap_rec_check(r, why))
		return ERR_CORRUPT;
	return 0;
}

/* --------------------------------------------------------------- header */

static void meta_line(buf_t *b, const char *k, const char *v)
{
	if (!v || !v[0])
		return;
	buf_printf(b, "%s=", k);
	for (const char *s = v; *s; s++)
		buf_putc(b, *s == '\n' || *s == '\r' ? ' ' : *s);
	buf_putc(b, '\n');
}

void cap_header_encode(const cap_meta_t *m, buf_t *out)
{
	buf_t meta = BUF_INIT;
	meta_line(&meta, "source", m->source);
	meta_line(&meta, "service", m->service);
	meta_line(&meta, "masking", m->masking);
	meta_line(&meta, "created", m->created);
	meta_line(&meta, "umbra", m->umbra);
	meta_line(&meta, "error", m->error);
	size_t start = out->len;
	buf_append(out, CAP_MAGIC, 8);
	put16(out, CAP_VERSION);
	put16(out, m->zstd ? 1 : 0);
	put32(out, (uint32_t)meta.len);
	put32(out, 0);
	uint32_t crc = cap_crc32c(0, out->data + start, 20);
	crc = cap_crc32c(crc, meta.data, meta.len);
	put32(out, crc);
	buf_append(out, meta.data, meta.len);
	buf_free(&meta);
}

static void meta_set(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

int cap_header_decode(const char *p, size_t len, cap_meta_t *m,
		      const char **why)
{
	memset(m, 0, sizeof(*m));
	size_t magic = len < 8 ? len : 8;
	if (memcmp(p, CAP_MAGIC, magic) != 0) {
		*why = "not an umbra capture file (bad magic)";
		return ERR_CORRUPT;
	}
	if (len < CAP_HEADER_FIXED)
		return ERR_AGAIN;
	m->version = get16(p + 8);
	if (m->version != CAP_VERSION) {
		*why = m->version > CAP_VERSION
			       ? "written by a newer umbra (unsupported "
				 "version)"
			       : "unsupported version";
		return ERR_CORRUPT;
	}
	uint16_t flags = get16(p + 10);
	if (flags & ~1u) {
		*why = "unknown header flags";
		return ERR_CORRUPT;
	}
	m->zstd = flags & 1;
	uint32_t mlen = get32(p + 12);
	if (mlen > CAP_META_MAX) {
		*why = "header metadata too long";
		return ERR_CORRUPT;
	}
	if (get32(p + 16) != 0) {
		*why = "reserved header bytes not zero";
		return ERR_CORRUPT;
	}
	if (len < CAP_HEADER_FIXED + (size_t)mlen)
		return ERR_AGAIN;
	const char *meta = p + CAP_HEADER_FIXED;
	uint32_t crc = cap_crc32c(0, p, 20);
	crc = cap_crc32c(crc, meta, mlen);
	if (crc != get32(p + 20)) {
		*why = "header checksum mismatch";
		return ERR_CORRUPT;
	}
	size_t i = 0;
	while (i < mlen) {
		const char *nl = memchr(meta + i, '\n', mlen - i);
		size_t end = nl ? (size_t)(nl - meta) : mlen;
		const char *line = meta + i;
		size_t ll = end - i;
		const char *eq = memchr(line, '=', ll);
		if (eq) {
			size_t kl = (size_t)(eq - line);
			const char *v = eq + 1;
			size_t vl = ll - kl - 1;
#define META(key, field)                                                   \
	if (kl == sizeof(key) - 1 && memcmp(line, key, kl) == 0)          \
		meta_set(m->field, sizeof(m->field), v, vl);
			META("source", source)
			META("service", service)
			META("masking", masking)
			META("created", created)
			META("umbra", umbra)
			META("error", error)
#undef META
		}
		i = end + 1;
	}
	return CAP_HEADER_FIXED + (int)mlen;
}

/* --------------------------------------------------------------- masking */

static int passthrough(void *ctx, cap_rec_t *rec, buf_t *scratch,
		       const char **why)
{
	(void)ctx;
	(void)rec;
	(void)scratch;
	(void)why;
	return 0;
}

const cap_masker_t cap_mask_passthrough = {"none", false, passthrough, NULL};

int cap_mask_apply(const cap_masker_t *m, cap_rec_t *rec, buf_t *scratch,
		   const char **why)
{
	if (!m)
		m = &cap_mask_passthrough;
	if (rec->kind != CAP_KIND_EXCHANGE || (rec->flags & CAP_RF_MASKED))
		return 0;
	scratch->len = 0;
	*why = "";
	int rc = m->mask(m->ctx, rec, scratch, why);
	if (rc)
		return rc;
	/* A masker may change body lengths: keep the totals consistent. */
	if (!(rec->flags & CAP_RF_REQ_TRUNC) ||
	    rec->req_body_len > rec->req_body_total)
		rec->req_body_total = rec->req_body_len;
	if (!(rec->flags & CAP_RF_RESP_TRUNC) ||
	    rec->resp_body_len > rec->resp_body_total)
		rec->resp_body_total = rec->resp_body_len;
	if (m->real)
		rec->flags |= CAP_RF_MASKED;
	return 0;
}

/* --------------------------------------------------------------- helpers */

int cap_parse_req(const cap_rec_t *rec, http_request_t *req,
		  http_header_t *hdrs, size_t cap)
{
	if (rec->kind != CAP_KIND_EXCHANGE)
		return ERR_PARSE;
	memset(req, 0, sizeof(*req));
	req->headers = hdrs;
	req->cap = cap;
	size_t scanned = 0;
	http_limits_t lim = {CAP_HEAD_MAX, CAP_HEAD_MAX, cap};
	http_err_t e;
	int rc = http_parse_request(rec->req_head, rec->req_head_len, &scanned,
				    &lim, req, &e);
	return rc > 0 ? 0 : ERR_PARSE;
}

int cap_resp_status(const cap_rec_t *rec)
{
	if (rec->kind != CAP_KIND_EXCHANGE || rec->resp_head_len < 12)
		return 0;
	const char *s = rec->resp_head;
	if (memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ')
		return 0;
	int v = 0;
	for (int i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

