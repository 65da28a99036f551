/*
 * gor.c: GoReplay .gor import and export (see gor.h).
 *
 * Import is a stream: bytes accumulate until a separator, each item is
 * parsed (header line, then the HTTP message with the http module's
 * parser), requests wait in a table keyed by ID until their response
 * comes, and pairs are emitted as umbra records. Bounded everywhere: an
 * item by GOR_ITEM_MAX, the table by GOR_PENDING_MAX (oldest out first),
 * bodies by max_body.
 */
#include "capture/gor.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOR_MAX_HEADERS 256
#define GOR_HEAD_MAX (256 * 1024) /* as the reassembler's */
#define GOR_READ (1 << 20)

/* --------------------------------------------------------------- items */

static int parse_i64(const char *s, size_t n, int64_t *out)
{
	if (n == 0 || n > 20)
		return -1;
	bool neg = s[0] == '-';
	size_t i = neg ? 1 : 0;
	if (i == n)
		return -1;
	uint64_t v = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int cap_gor_item_parse(const char *p, size_t n, cap_gor_item_t *it,
		       const char **why)
{
	memset(it, 0, sizeof(*it));
	const char *nl = memchr(p, '\n', n);
	if (!nl) {
		*why = "no header line";
		return ERR_PARSE;
	}
	size_t hl = (size_t)(nl - p);
	/* up to four space-separated fields */
	const char *f[5];
	size_t fl[5], nf = 0, i = 0;
	while (i < hl && nf < 5) {
		while (i < hl && p[i] == ' ')
			i++;
		if (i == hl)
			break;
		f[nf] = p + i;
		while (i < hl && p[i] != ' ')
			i++;
		fl[nf] = (size_t)(p + i - f[nf]);
		nf++;
	}
	if (nf < 3 || nf > 4) {
		*why = "header line needs TYPE ID TIMESTAMP [LATENCY]";
		return ERR_PARSE;
	}
	if (fl[0] != 1 || (f[0][0] != '1' && f[0][0] != '2' && f[0][0] != '3')) {
		*why = "payload type is not 1, 2 or 3";
		return ERR_PARSE;
	}
	if (fl[1] > GOR_ID_MAX) {
		*why = "id too long";
		return ERR_PARSE;
	}
	for (size_t k = 0; k < fl[1]; k++) {
		unsigned char c = (unsigned char)f[1][k];
		if (c < 0x21 || c > 0x7e) {
			*why = "id has bad characters";
			return ERR_PARSE;
		}
	}
	it->type = f[0][0];
	it->id = f[1];
	it->id_len = fl[1];
	if (parse_i64(f[2], fl[2], &it->ts)) {
		*why = "bad timestamp";
		return ERR_PARSE;
	}
	it->latency = -1;
	if (nf == 4 && parse_i64(f[3], fl[3], &it->latency)) {
		*why = "bad latency";
		return ERR_PARSE;
	}
	it->payload = nl + 1;
	it->payload_len = n - hl - 1;
	return 0;
}

/* --------------------------------------------------------------- import */

typedef struct pend {
	struct pend *hnext, *next, *prev; /* hash chain; FIFO */
	char id[GOR_ID_MAX];
	size_t id_len;
	buf_t req; /* head then kept body */
	size_t head_len;
	uint64_t total;
	uint16_t flags;
	int64_t ts;
	http_method_t method;
	uint32_t seq;
} pend_t;

#define GOR_BUCKETS 16384

struct cap_gor {
	uint64_t max_body;
	cap_emit_fn emit;
	void *arg;
	buf_t in;
	size_t searched; /* bytes of in already searched for a separator */
	bool failed;
	pend_t *tab[GOR_BUCKETS];
	pend_t *oldest, *newest;
	size_t npend;
	uint32_t seq;
	http_header_t hdrs[GOR_MAX_HEADERS];
	buf_t body;      /* scratch: de-chunked response body */
	cap_gor_stats_t st;
};

static size_t id_hash(const char *id, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)id[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 29)) & (GOR_BUCKETS - 1);
}

static pend_t *pend_find(cap_gor_t *g, const char *id, size_t n)
{
	for (pend_t *p = g->tab[id_hash(id, n)]; p; p = p->hnext)
		if (p->id_len == n && memcmp(p->id, id, n) == 0)
			return p;
	return NULL;
}

static void pend_remove(cap_gor_t *g, pend_t *p)
{
	pend_t **pp = &g->tab[id_hash(p->id, p->id_len)];
	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	if (p->prev)
		p->prev->next = p->next;
	else
		g->oldest = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		g->newest = p->prev;
	g->npend--;
}

static void pend_free(pend_t *p)
{
	buf_free(&p->req);
	free(p);
}

/* Appends a body to b, keeping at most max; returns the flags to add. */
static uint16_t keep_body(cap_gor_t *g, buf_t *b, size_t kept_before,
			  const char *d, size_t n, uint16_t cut)
{
	size_t kept = b->len - kept_before;
	size_t room = kept < g->max_body ? (size_t)(g->max_body - kept) : 0;
	size_t take = n < room ? n : room;
	buf_append(b, d, take);
	return take < n ? cut : 0;
}

/* Reads the body of a message at p[0..n) framed by body/cl into out
 * (kept up to max_body after out's len at call). Returns 0 or -1 on a
 * malformed chunked body; *total is the body length seen. */
static int read_body(cap_gor_t *g, http_body_t body, uint64_t cl,
		     const char *p, size_t n, buf_t *out, uint64_t *total,
		     uint16_t *flags, uint16_t cut, uint16_t chunked_flag)
{
	size_t base = out->len;
	*total = 0;
	switch (body) {
	case HTTP_BODY_NONE:
	case HTTP_BODY_TUNNEL:
		return 0;
	case HTTP_BODY_LENGTH: {
		size_t take = cl < n ? (size_t)cl : n;
		*total = take;
		*flags |= keep_body(g, out, base, p, take, cut);
		if (take < cl) /* GoReplay cut it short */
			*flags |= cut;
		return 0;
	}
	case HTTP_BODY_UNTIL_CLOSE:
		*total = n;
		*flags |= keep_body(g, out, base, p, n, cut);
		return 0;
	case HTTP_BODY_CHUNKED: {
		*flags |= chunked_flag;
		http_chunked_t c;
		http_chunked_init(&c, GOR_HEAD_MAX);
		size_t i = 0;
		while (i < n && !c.done) {
			const char *d;
			size_t dl;
			http_err_t e;
			ssize_t k = http_chunked_step(&c, p + i, n - i, &d, &dl,
						      &e);
			if (k < 0)
				return -1;
			*total += dl;
			*flags |= keep_body(g, out, base, d, dl, cut);
			i += (size_t)k;
		}
		if (!c.done)
			*flags |= cut; /* cut short by the recorder */
		return 0;
	}
	}
	return 0;
}

static void emit_pair(cap_gor_t *g, pend_t *p, const cap_gor_item_t *resp)
{
	cap_rec_t rec = {0};
	rec.kind = CAP_KIND_EXCHANGE;
	rec.source = CAP_SRC_GOR;
	rec.seq = p->seq;
	rec.req_ns = p->ts;
	rec.tag = p->id;
	rec.tag_len = p->id_len;
	rec.flags = p->flags;
	rec.req_head = p->req.data;
	rec.req_head_len = p->head_len;
	rec.req_body = p->req.data + p->head_len;
	rec.req_body_len = p->req.len - p->head_len;
	rec.req_body_total = p->total;
	/* a body cut short by the recorder: its total is what we have */
	if ((rec.flags & CAP_RF_REQ_TRUNC) && rec.req_body_total <=
						      rec.req_body_len)
		rec.req_body_total = rec.req_body_len + 1;
	bool have_resp = false;
	if (resp) {
		http_response_t r = {.headers = g->hdrs, .cap = GOR_MAX_HEADERS};
		http_limits_t lim = {GOR_HEAD_MAX, GOR_HEAD_MAX,
				     GOR_MAX_HEADERS};
		size_t sc = 0;
		http_err_t e;
		int rc = http_parse_response(resp->payload, resp->payload_len,
					     &sc, &lim, p->method, &r, &e);
		g->body.len = 0;
		uint64_t total = 0;
		uint16_t fl = 0;
		if (rc > 0 &&
		    read_body(g, r.body, r.content_length, resp->payload + rc,
			      resp->payload_len - (size_t)rc, &g->body, &total,
			      &fl, CAP_RF_RESP_TRUNC, CAP_RF_RESP_CHUNKED) == 0) {
			have_resp = true;
			rec.resp_head = resp->payload;
			rec.resp_head_len = (size_t)rc;
			rec.resp_body = g->body.data ? g->body.data : "";
			rec.resp_body_len = g->body.len;
			rec.resp_body_total = total;
			if ((fl & CAP_RF_RESP_TRUNC) && total <= g->body.len)
				rec.resp_body_total = g->body.len + 1;
			rec.flags |= fl;
			if (r.body == HTTP_BODY_TUNNEL)
				rec.flags |= CAP_RF_TUNNEL;
			/* GoReplay's response line: a timestamp, or in
			 * some versions the round trip itself */
			if (resp->ts >= p->ts / 2) {
				rec.resp_ns = resp->ts;
				rec.latency_ns = resp->latency > 0
							 ? resp->latency
							 : resp->ts - p->ts;
			} else {
				rec.latency_ns = resp->ts;
				rec.resp_ns = p->ts + resp->ts;
			}
			if (rec.latency_ns < 0)
				rec.latency_ns = 0;
		} else {
			g->st.bad_responses++;
		}
	}
	if (!have_resp) {
		rec.flags |= CAP_RF_NO_RESPONSE;
		g->st.no_response++;
	}
	const char *why;
	if (cap_rec_check(&rec, &why) == 0) {
		g->st.exchanges++;
		g->emit(g->arg, &rec);
	} else {
		g->st.lost[CAP_LOSS_PARSE]++;
	}
}

static void on_request(cap_gor_t *g, const cap_gor_item_t *it)
{
	g->st.requests++;
	http_request_t req = {.headers = g->hdrs, .cap = GOR_MAX_HEADERS};
	http_limits_t lim = {GOR_HEAD_MAX, GOR_HEAD_MAX, GOR_MAX_HEADERS};
	size_t sc = 0;
	http_err_t e;
	int rc = http_parse_request(it->payload, it->payload_len, &sc, &lim,
				    &req, &e);
	if (rc <= 0) {
		g->st.lost[CAP_LOSS_PARSE]++;
		return;
	}
	pend_t *old = pend_find(g, it->id, it->id_len);
	if (old) {
		/* the same id again before a response: the first one goes
		 * without */
		pend_remove(g, old);
		emit_pair(g, old, NULL);
		pend_free(old);
	}
	pend_t *p = xcalloc(1, sizeof(*p));
	memcpy(p->id, it->id, it->id_len);
	p->id_len = it->id_len;
	size_t lead = (size_t)(req.method - it->payload);
	p->head_len = (size_t)rc - lead;
	buf_append(&p->req, req.method, p->head_len);
	p->method = req.method_id;
	p->ts = it->ts;
	p->seq = g->seq++;
	if (read_body(g, req.body, req.content_length, it->payload + rc,
		      it->payload_len - (size_t)rc, &p->req, &p->total,
		      &p->flags, CAP_RF_REQ_TRUNC, CAP_RF_REQ_CHUNKED)) {
		g->st.lost[CAP_LOSS_PARSE]++;
		pend_free(p);
		return;
	}
	size_t h = id_hash(p->id, p->id_len);
	p->hnext = g->tab[h];
	g->tab[h] = p;
	p->prev = g->newest;
	if (g->newest)
		g->newest->next = p;
	else
		g->oldest = p;
	g->newest = p;
	if (++g->npend > GOR_PENDING_MAX) {
		pend_t *o = g->oldest;
		pend_remove(g, o);
		emit_pair(g, o, NULL);
		pend_free(o);
	}
}

static void on_item(cap_gor_t *g, const char *p, size_t n)
{
	if (n == 0)
		return;
	g->st.items++;
	cap_gor_item_t it;
	const char *why;
	if (cap_gor_item_parse(p, n, &it, &why)) {
		g->st.bad_items++;
		return;
	}
	if (it.type == '1') {
		on_request(g, &it);
	} else if (it.type == '3') {
		g->st.replayed++;
	} else {
		g->st.responses++;
		pend_t *q = pend_find(g, it.id, it.id_len);
		if (!q) {
			g->st.orphan_responses++;
			return;
		}
		pend_remove(g, q);
		emit_pair(g, q, &it);
		pend_free(q);
	}
}

cap_gor_t *cap_gor_new(uint64_t max_body, cap_emit_fn emit, void *arg)
{
	cap_gor_t *g = xcalloc(1, sizeof(*g));
	g->max_body = max_body;
	g->emit = emit;
	g->arg = arg;
	return g;
}

int cap_gor_feed(cap_gor_t *g, const char *p, size_t n)
{
	if (g->failed)
		return ERR_TOOBIG;
	g->st.bytes += n;
	buf_append(&g->in, p, n);
	size_t start = 0;
	for (;;) {
		size_t from = g->searched > start ? g->searched : start;
		const char *s = g->in.len - from >= GOR_SEPARATOR_LEN
					? memmem(g->in.data + from,
						 g->in.len - from, GOR_SEPARATOR,
						 GOR_SEPARATOR_LEN)
					: NULL;
		if (!s) {
			/* a separator may straddle the next piece */
			g->searched = g->in.len >= GOR_SEPARATOR_LEN
					      ? g->in.len - GOR_SEPARATOR_LEN + 1
					      : 0;
			if (g->searched < start)
				g->searched = start;
			break;
		}
		size_t end = (size_t)(s - g->in.data);
		on_item(g, g->in.data + start, end - start);
		start = end + GOR_SEPARATOR_LEN;
	}
	buf_consume(&g->in, start);
	g->searched = g->searched >= start ? g->searched - start : 0;
	if (g->in.len > GOR_ITEM_MAX) {
		g->failed = true;
		return ERR_TOOBIG;
	}
	return 0;
}

void cap_gor_finish(cap_gor_t *g)
{
	if (!g->failed && g->in.len) {
		/* GoReplay ends every payload with the separator; an
		 * unterminated last one was cut mid-write */
		on_item(g, g->in.data, g->in.len);
	}
	g->in.len = 0;
	while (g->oldest) {
		pend_t *o = g->oldest;
		pend_remove(g, o);
		emit_pair(g, o, NULL);
		pend_free(o);
	}
}

const cap_gor_stats_t *cap_gor_stats(const cap_gor_t *g)
{
	return &g->st;
}

void cap_gor_free(cap_gor_t *g)
{
	if (!g)
		return;
	while (g->oldest) {
		pend_t *o = g->oldest;
		pend_remove(g, o);
		pend_free(o);
	}
	buf_free(&g->in);
	buf_free(&g->body);
	free(g);
}

typedef struct import_ctx {
	cap_writer_t *w;
	int err;
} import_ctx_t;

static void import_emit(void *arg, cap_rec_t *rec)
{
	import_ctx_t *x = arg;
	if (!x->err) {
		int rc = cap_writer_write(x->w, rec);
		if (rc < 0)
			x->err = rc;
	}
}

int cap_gor_import(const char *path, uint64_t max_body, cap_writer_t *w,
		   cap_gor_stats_t *st, char *err, size_t errcap)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		snprintf(err, errcap, "%s: %s", path, err_str(e));
		return e;
	}
	import_ctx_t x = {w, 0};
	cap_gor_t *g = cap_gor_new(max_body, import_emit, &x);
	char *buf = xmalloc(GOR_READ);
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf, GOR_READ);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errcap, "%s: %s", path, err_str(rc));
			break;
		}
		if (n == 0)
			break;
		if (cap_gor_feed(g, buf, (size_t)n)) {
			rc = ERR_TOOBIG;
			snprintf(err, errcap,
				 "%s: byte %llu: a payload longer than %u bytes "
				 "(or no separator)",
				 path, (unsigned long long)g->st.bytes,
				 (unsigned)GOR_ITEM_MAX);
			break;
		}
		if (x.err)
			break;
	}
	if (!rc)
		cap_gor_finish(g);
	*st = g->st;
	cap_rec_t l = {.kind = CAP_KIND_LOSS};
	bool any = false;
	for (int i = 0; i < CAP_LOSS__COUNT; i++) {
		l.loss[i] = st->lost[i];
		any = any || l.loss[i];
	}
	if (any && !x.err)
		import_emit(&x, &l);
	if (!x.err)
		x.err = cap_writer_flush(w);
	if (x.err && !rc) {
		rc = x.err;
		snprintf(err, errcap, "writing the capture: %s", err_str(rc));
	}
	cap_gor_free(g);
	free(buf);
	if (fd)
		close(fd);
	return rc;
}

/* --------------------------------------------------------------- export */

/* A head that says chunked gets its body as one chunk. */
static void body_out(buf_t *out, const char *head, size_t hl,
		     const char *body, size_t bl, bool chunked)
{
	buf_append(out, head, hl);
	if (!chunked) {
		buf_append(out, body, bl);
		return;
	}
	if (bl)
		buf_printf(out, "%zx\r\n", bl);
	if (bl) {
		buf_append(out, body, bl);
		buf_puts(out, "\r\n");
	}
	buf_puts(out, "0\r\n\r\n");
}

static bool id_ok(const char *id, size_t n)
{
	if (n == 0 || n > GOR_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
			return false;
	return true;
}

void cap_gor_encode(const cap_rec_t *rec, buf_t *out)
{
	if (rec->kind != CAP_KIND_EXCHANGE)
		return;
	char id[GOR_ID_MAX + 1];
	if (id_ok(rec->tag, rec->tag_len))
		snprintf(id, sizeof(id), "%.*s", (int)rec->tag_len, rec->tag);
	else
		snprintf(id, sizeof(id), "%016llx%08x",
			 (unsigned long long)rec->conn_id, rec->seq);
	buf_printf(out, "1 %s %lld -1\n", id, (long long)rec->req_ns);
	body_out(out, rec->req_head, rec->req_head_len, rec->req_body,
		 rec->req_body_len, rec->flags & CAP_RF_REQ_CHUNKED);
	buf_append(out, GOR_SEPARATOR, GOR_SEPARATOR_LEN);
	if (rec->flags & CAP_RF_NO_RESPONSE)
		return;
	buf_printf(out, "2 %s %lld %lld\n", id, (long long)rec->resp_ns,
		   (long long)rec->latency_ns);
	body_out(out, rec->resp_head, rec->resp_head_len, rec->resp_body,
		 rec->resp_body_len, rec->flags & CAP_RF_RESP_CHUNKED);
	buf_append(out, GOR_SEPARATOR, GOR_SEPARATOR_LEN);
}
