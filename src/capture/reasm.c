/*
 * reasm.c: TCP reassembly and HTTP/1.x stream parsing (see reasm.h).
 *
 * A flow is one TCP connection: two directions (0: client to server, 1:
 * server to client), each a byte stream positioned by sequence numbers
 * relative to its first byte (64-bit positions, so wraparound and streams
 * past 4 GiB need no care). A segment at the expected position is parsed
 * at once (no copy when it holds whole messages); one beyond it waits in
 * a sorted list (bounded), one before it is a retransmission and is
 * trimmed. When a hole cannot be filled (the list is over its bound, or
 * the connection ends) it becomes a gap: the message it cut is counted
 * lost and the parser resynchronises on the next request line (or status
 * line).
 *
 * Exchanges queue in request order per flow; the server direction fills
 * the oldest one still waiting for a response (HTTP/1.1 answers in
 * order). An exchange is emitted once its request and response are both
 * complete (or known lost), from the head of the queue, so records of a
 * connection come out in order.
 */
#include "capture/reasm.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASM_HEAD_MAX (256 * 1024) /* a message head: 4x the proxy's
				       limit; longer is not HTTP we replay */
#define REASM_LINE_MAX (64 * 1024)  /* a request line (long query strings) */
#define REASM_MAX_HEADERS 256       /* header fields per message */
#define REASM_TOKEN_MAX 20          /* a method token at resync */
#define REASM_ORPHAN_MAX (256 * 1024) /* response bytes held while their
					 request has not been seen yet */
#define REASM_EXPIRE_EVERY (1000000000LL) /* idle check, capture time */

enum {
	ST_HEAD,
	ST_BODY_LEN,
	ST_BODY_CHUNKED,
	ST_BODY_CLOSE,
	ST_RESYNC,
	ST_HOLD,   /* client: after an Upgrade/CONNECT request, until the
		      response says tunnel or not */
	ST_TUNNEL,
};

typedef struct ooo {
	struct ooo *next;
	uint64_t pos;
	uint32_t len, cut; /* cut: missing bytes after (snap length) */
	int64_t ts;
	int64_t ack; /* the segment's ack as a position (see dir.cur_ack) */
	uint8_t data[];
} ooo_t;

typedef struct xch {
	struct xch *next;
	buf_t req, resp; /* head then kept body */
	size_t req_head_len, resp_head_len;
	uint64_t req_total, resp_total;
	uint16_t flags;
	int64_t req_ns, resp_ns, end_ns;
	http_method_t method;
	uint32_t seq;
	uint64_t req_pos; /* client stream position of its first byte */
	bool req_done, resp_started, resp_done;
	bool dead;      /* request lost: still absorbs its response */
	uint8_t lost;   /* cap_loss_t when dead */
	bool resp_lost; /* response (or its end) lost: written without */
	bool upgrade;
} xch_t;

typedef struct dir {
	bool started, syn, closed, fin;
	bool finished;       /* closed and everything it held released */
	uint32_t isn;
	uint64_t next, fin_pos;
	ooo_t *ooo;
	size_t ooo_bytes;
	buf_t in; /* bytes not parsed yet (partial head, resync tail) */
	size_t scanned;
	int st;
	uint64_t remaining;
	http_chunked_t chunk;
	xch_t *cur;          /* the exchange this direction's body fills */
	int64_t msg_ts, in_ts;
	bool head_started;
	bool resync_try;     /* this head is a resync candidate */
	bool midstream;      /* joined without SYN, nothing parsed yet */
	bool skipped;        /* resync dropped bytes while midstream */
	bool unhold;         /* client: a refused upgrade left bytes held */
	bool had_gap;        /* client: a gap hid bytes (whole requests) */
	/* Server: the ack of the segment being delivered, as a position in
	 * the client's stream (-1: unknown), and that of the segment a
	 * head began in. TCP acks what the server received, so a response
	 * whose ack does not pass a request's first byte cannot answer
	 * it (head_response). */
	int64_t cur_ack, msg_ack;
} dir_t;

typedef struct flow flow_t;
struct flow {
	cap_addr_t cli, srv;
	dir_t d[2];
	xch_t *qh, *qt;
	uint32_t nreq;
	bool joined; /* a direction started without its SYN: mid-stream */
	uint64_t id;
	int64_t last_ts;
	flow_t *hnext;
	flow_t *lprev, *lnext; /* activity list, most recent first */
};

struct cap_reasm {
	cap_reasm_opts_t o;
	cap_emit_fn emit;
	void *arg;
	flow_t **tab;
	size_t tab_mask;
	size_t nflows;
	flow_t *lru_head, *lru_tail;
	uint64_t next_id;
	int64_t next_expire;
	http_limits_t limits;
	http_header_t hdrs[REASM_MAX_HEADERS];
	cap_reasm_stats_t st;
};

static size_t parse(cap_reasm_t *r, flow_t *f, int dir, const char *p,
		    size_t n, int64_t ts);

/* --------------------------------------------------------------- memory */

static void mem_add(cap_reasm_t *r, size_t n)
{
	r->st.mem += n;
	if (r->st.mem > r->st.mem_peak)
		r->st.mem_peak = r->st.mem;
}

static void mem_sub(cap_reasm_t *r, size_t n)
{
	r->st.mem = r->st.mem >= n ? r->st.mem - n : 0;
}

static void in_append(cap_reasm_t *r, dir_t *d, const void *p, size_t n)
{
	buf_append(&d->in, p, n);
	mem_add(r, n);
}

static void in_consume(cap_reasm_t *r, dir_t *d, size_t n)
{
	buf_consume(&d->in, n);
	mem_sub(r, n);
}

static void in_clear(cap_reasm_t *r, dir_t *d)
{
	mem_sub(r, d->in.len);
	d->in.len = 0;
	d->scanned = 0;
	d->head_started = false;
}

/* --------------------------------------------------------------- flows */

static bool addr_eq(const cap_addr_t *a, const cap_addr_t *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

static uint64_t addr_hash(const cap_addr_t *a)
{
	uint64_t h = 1469598103934665603ULL ^ a->port;
	size_t n = a->family == 4 ? 4 : 16;
	for (size_t i = 0; i < n; i++) {
		h ^= a->ip[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Symmetric: both directions of a connection hash alike. */
static size_t flow_hash(const cap_reasm_t *r, const cap_addr_t *a,
			const cap_addr_t *b)
{
	uint64_t h = addr_hash(a) + addr_hash(b);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & r->tab_mask;
}

static flow_t *flow_find(cap_reasm_t *r, const cap_seg_t *s)
{
	flow_t *f = r->tab[flow_hash(r, &s->src, &s->dst)];
	for (; f; f = f->hnext)
		if ((addr_eq(&f->cli, &s->src) && addr_eq(&f->srv, &s->dst)) ||
		    (addr_eq(&f->cli, &s->dst) && addr_eq(&f->srv, &s->src)))
			return f;
	return NULL;
}

static void lru_unlink(cap_reasm_t *r, flow_t *f)
{
	if (f->lprev)
		f->lprev->lnext = f->lnext;
	else
		r->lru_head = f->lnext;
	if (f->lnext)
		f->lnext->lprev = f->lprev;
	else
		r->lru_tail = f->lprev;
	f->lprev = f->lnext = NULL;
}

static void lru_front(cap_reasm_t *r, flow_t *f)
{
	if (r->lru_head == f)
		return;
	if (f->lprev || f->lnext || r->lru_tail == f)
		lru_unlink(r, f);
	f->lnext = r->lru_head;
	if (r->lru_head)
		r->lru_head->lprev = f;
	r->lru_head = f;
	if (!r->lru_tail)
		r->lru_tail = f;
}

/* Which side of a new connection is the client. */
static bool src_is_client(const cap_reasm_t *r, const cap_seg_t *s)
{
	if (s->flags & CAP_TCP_SYN)
		return !(s->flags & CAP_TCP_ACK);
	if (r->o.server_port) {
		if (s->dst.port == r->o.server_port)
			return true;
		if (s->src.port == r->o.server_port)
			return false;
	}
	if (s->len >= 5 && memcmp(s->data, "HTTP/", 5) == 0)
		return false;
	if (s->len >= 2 && s->data[0] >= 'A' && s->data[0] <= 'Z')
		return true;
	/* the ephemeral port is usually the higher one */
	return s->src.port > s->dst.port;
}

static void flow_end(cap_reasm_t *r, flow_t *f, cap_loss_t why);

static flow_t *flow_new(cap_reasm_t *r, const cap_seg_t *s)
{
	if (r->nflows >= r->o.max_flows && r->lru_tail) {
		r->st.flows_evicted++;
		flow_end(r, r->lru_tail, CAP_LOSS_LIMIT);
	}
	flow_t *f = xcalloc(1, sizeof(*f));
	if (src_is_client(r, s)) {
		f->cli = s->src;
		f->srv = s->dst;
	} else {
		f->cli = s->dst;
		f->srv = s->src;
	}
	f->id = ++r->next_id;
	f->d[0].st = f->d[1].st = ST_HEAD;
	f->d[1].cur_ack = f->d[1].msg_ack = -1;
	size_t h = flow_hash(r, &f->cli, &f->srv);
	f->hnext = r->tab[h];
	r->tab[h] = f;
	r->nflows++;
	r->st.flows++;
	lru_front(r, f);
	mem_add(r, sizeof(*f));
	return f;
}

static void flow_unlink(cap_reasm_t *r, flow_t *f)
{
	flow_t **pp = &r->tab[flow_hash(r, &f->cli, &f->srv)];
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	lru_unlink(r, f);
	r->nflows--;
}

/* --------------------------------------------------------------- exchanges */

static xch_t *xch_new(cap_reasm_t *r, flow_t *f)
{
	xch_t *x = xcalloc(1, sizeof(*x));
	x->seq = f->nreq++;
	if (f->qt)
		f->qt->next = x;
	else
		f->qh = x;
	f->qt = x;
	mem_add(r, sizeof(*x));
	return x;
}

static void xch_free(cap_reasm_t *r, xch_t *x)
{
	mem_sub(r, sizeof(*x) + x->req.len + x->resp.len);
	buf_free(&x->req);
	buf_free(&x->resp);
	free(x);
}

/* Keeps up to max_body bytes of a body (less when memory is short). */
static void body_add(cap_reasm_t *r, xch_t *x, int dir, const char *p,
		     size_t n)
{
	if (!n)
		return;
	buf_t *b = dir == 0 ? &x->req : &x->resp;
	size_t head = dir == 0 ? x->req_head_len : x->resp_head_len;
	uint64_t *total = dir == 0 ? &x->req_total : &x->resp_total;
	uint16_t cutf = dir == 0 ? CAP_RF_REQ_TRUNC : CAP_RF_RESP_TRUNC;
	*total += n;
	uint64_t kept = b->len - head;
	uint64_t room = kept < r->o.max_body ? r->o.max_body - kept : 0;
	if (r->st.mem >= r->o.memory_limit)
		room = 0;
	size_t take = n < room ? n : (size_t)room;
	if (take) {
		buf_append(b, p, take);
		mem_add(r, take);
	}
	if (take < n && !(x->flags & cutf)) {
		x->flags |= cutf;
		r->st.bodies_cut++;
	}
}

static void emit(cap_reasm_t *r, flow_t *f, xch_t *x)
{
	cap_rec_t rec = {0};
	rec.kind = CAP_KIND_EXCHANGE;
	rec.source = r->o.source;
	rec.flags = x->flags;
	rec.seq = x->seq;
	rec.conn_id = f->id;
	rec.req_ns = x->req_ns;
	rec.client = f->cli;
	rec.server = f->srv;
	rec.req_head = x->req.data;
	rec.req_head_len = x->req_head_len;
	rec.req_body = x->req.data + x->req_head_len;
	rec.req_body_len = x->req.len - x->req_head_len;
	rec.req_body_total = x->req_total;
	if (x->resp_lost && !x->resp_started) {
		rec.flags |= CAP_RF_NO_RESPONSE;
		rec.flags &= (uint16_t)~(CAP_RF_RESP_TRUNC |
					 CAP_RF_RESP_CHUNKED);
	} else {
		if (x->resp_lost)
			rec.flags |= CAP_RF_RESP_PARTIAL;
		/* A pair's times are ordered: a response the capture
		 * showed before its request (packets reordered between
		 * capture queues; held by head_response) is dated with
		 * the request. */
		rec.resp_ns = x->resp_ns < x->req_ns ? x->req_ns : x->resp_ns;
		rec.latency_ns = x->end_ns > x->req_ns ? x->end_ns - x->req_ns
						       : 0;
		rec.resp_head = x->resp.data;
		rec.resp_head_len = x->resp_head_len;
		rec.resp_body = x->resp.data + x->resp_head_len;
		rec.resp_body_len = x->resp.len - x->resp_head_len;
		rec.resp_body_total = x->resp_total;
	}
	if (x->resp_lost) {
		r->st.lost[CAP_LOSS_RESPONSE_LOST]++;
		if (!x->resp_started)
			r->st.no_response++;
	}
	r->st.exchanges++;
	r->emit(r->arg, &rec);
}

/* Emits (or counts) the exchanges at the head of the queue that are
 * complete. */
static void drain_queue(cap_reasm_t *r, flow_t *f)
{
	while (f->qh) {
		xch_t *x = f->qh;
		bool req = x->req_done || x->dead;
		bool resp = x->resp_done || x->resp_lost;
		if (!req || !resp)
			return;
		f->qh = x->next;
		if (!f->qh)
			f->qt = NULL;
		for (int i = 0; i < 2; i++)
			if (f->d[i].cur == x)
				f->d[i].cur = NULL;
		if (x->dead)
			r->st.lost[x->lost]++;
		else
			emit(r, f, x);
		xch_free(r, x);
	}
}

/* The oldest exchange still waiting for its response. */
static xch_t *waiting(flow_t *f)
{
	for (xch_t *x = f->qh; x; x = x->next)
		if (!x->resp_started && !x->resp_lost)
			return x;
	return NULL;
}

/* A request that will never be whole: counted (when it is drained). */
static void kill_req(flow_t *f, xch_t *x, cap_loss_t why)
{
	if (!x || x->req_done || x->dead)
		return;
	x->dead = true;
	x->lost = (uint8_t)why;
	if (f->d[0].cur == x)
		f->d[0].cur = NULL;
}

/* A partial request head that will never complete: seen and lost. */
static void lose_partial_head(cap_reasm_t *r, dir_t *d, cap_loss_t why)
{
	if (d->st != ST_HEAD || d->in.len == 0)
		return;
	for (size_t i = 0; i < d->in.len; i++) {
		char c = d->in.data[i];
		if (c != '\r' && c != '\n') {
			r->st.requests++;
			r->st.lost[why]++;
			break;
		}
	}
}

/* --------------------------------------------------------------- parsing */

static bool blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n' && p[i] != ' ')
			return false;
	return true;
}

static bool upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Where a message may start in p[0..n), for resynchronising after a gap
 * or a join mid-stream: a request line ("TOKEN SP ... SP HTTP/1.x" and
 * a line end, at a token boundary) for the client, a status line
 * ("HTTP/1.x NNN") for the server. Requests follow bodies without a
 * separator, so any position counts, and the line is checked whole
 * before the full parse is tried. Returns the offset, or -1 with *keep
 * = bytes at the end that may still become one. Linear: the next line
 * end is found once per line. */
static long resync_scan(int dir, const char *p, size_t n, size_t *keep)
{
	*keep = 0;
	size_t nl = 0; /* index of the next '\n' at or after j, or n */
	bool have_nl = false;
	for (size_t j = 0; j < n; j++) {
		if (dir == 1) {
			static const char st[] = "HTTP/1.";
			if (p[j] != 'H')
				continue;
			size_t k = 0;
			while (j + k < n && k < 12) {
				char c = p[j + k];
				bool ok = k < 7    ? c == st[k]
					  : k == 7 ? digit(c)
					  : k == 8 ? c == ' '
						   : digit(c);
				if (!ok)
					break;
				k++;
			}
			if (k == 12)
				return (long)j;
			if (j + k == n) {
				*keep = n - j;
				return -1;
			}
			continue;
		}
		if (!upper(p[j]) || (j > 0 && upper(p[j - 1])))
			continue;
		size_t k = 0;
		while (j + k < n && k <= REASM_TOKEN_MAX && upper(p[j + k]))
			k++;
		if (j + k == n) {
			*keep = n - j;
			return -1;
		}
		if (k > REASM_TOKEN_MAX || p[j + k] != ' ')
			continue;
		if (!have_nl || nl < j) {
			const char *q = memchr(p + j, '\n', n - j);
			nl = q ? (size_t)(q - p) : n;
			have_nl = true;
		}
		if (nl == n) {
			/* the line is not complete yet */
			if (n - j <= REASM_LINE_MAX) {
				*keep = n - j;
				return -1;
			}
			continue;
		}
		size_t e = nl;
		if (e > j && p[e - 1] == '\r')
			e--;
		if (e - j >= k + 10 && memcmp(p + e - 9, " HTTP/1.", 8) == 0 &&
		    digit(p[e - 1]))
			return (long)j;
	}
	return -1;
}

/* A request head at p[0..n). Returns bytes used, 0 to wait for more. */
static size_t head_request(cap_reasm_t *r, flow_t *f, const char *p,
			   size_t n, bool *again)
{
	dir_t *d = &f->d[0];
	http_request_t req = {.headers = r->hdrs, .cap = REASM_MAX_HEADERS};
	http_err_t e;
	int rc = http_parse_request(p, n, &d->scanned, &r->limits, &req, &e);
	*again = false;
	if (rc == ERR_AGAIN) {
		*again = true;
		return 0;
	}
	if (rc < 0) {
		d->head_started = false;
		d->scanned = 0;
		if (!d->resync_try) {
			r->st.requests++;
			r->st.lost[CAP_LOSS_PARSE]++;
		}
		d->resync_try = false;
		d->st = ST_RESYNC;
		return 1; /* step past it and look for the next one */
	}
	if (d->midstream && d->skipped) {
		/* the capture joined this connection mid-request */
		r->st.requests++;
		r->st.lost[CAP_LOSS_MIDSTREAM]++;
	}
	d->midstream = d->skipped = false;
	d->resync_try = false;
	xch_t *x = xch_new(r, f);
	r->st.requests++;
	size_t lead = (size_t)(req.method - p);
	/* p[0..n) ends at the stream's next position (parse's callers) */
	x->req_pos = d->next - n + lead;
	x->req_head_len = (size_t)rc - lead;
	buf_append(&x->req, req.method, x->req_head_len);
	mem_add(r, x->req_head_len);
	x->method = req.method_id;
	x->req_ns = d->msg_ts;
	x->upgrade = req.upgrade || req.method_id == HTTP_M_CONNECT;
	d->head_started = false;
	d->scanned = 0;
	switch (req.body) {
	case HTTP_BODY_LENGTH:
		if (req.content_length) {
			d->remaining = req.content_length;
			d->st = ST_BODY_LEN;
			d->cur = x;
			break;
		}
		/* fall through */
	default:
		x->req_done = true;
		d->st = x->upgrade ? ST_HOLD : ST_HEAD;
		break;
	case HTTP_BODY_CHUNKED:
		x->flags |= CAP_RF_REQ_CHUNKED;
		http_chunked_init(&d->chunk, REASM_HEAD_MAX);
		d->st = ST_BODY_CHUNKED;
		d->cur = x;
		break;
	}
	return (size_t)rc;
}

/* Whether the response whose head begins now cannot answer x (the
 * oldest request waiting), so that pairing it would shift every later
 * pair on the connection by one:
 *  - its segment's ack does not pass x's first byte: the server had not
 *    received x when it sent this (TCP semantics, any connection; after
 *    a gap hid whole requests, this is the answer to one of those);
 *  - on a connection joined mid-stream, it began before x was captured,
 *    or no request is waiting at all: it answers a request sent before
 *    the capture started. */
static bool stray_response(const flow_t *f, const xch_t *x)
{
	const dir_t *d = &f->d[1];
	if (!x)
		return f->joined;
	if (d->msg_ack >= 0 && (uint64_t)d->msg_ack <= x->req_pos)
		return true;
	return f->joined && d->msg_ts < x->req_ns;
}

/* Skips a stray response (stray_response) by its framing, so that its
 * body is not searched for the next status line, and counts the request
 * it answered as lost: MIDSTREAM on a connection joined mid-stream, GAP
 * after a gap in the client's stream, else an orphan response. A head
 * that does not parse is left to resynchronisation. */
static size_t skip_response(cap_reasm_t *r, flow_t *f, const char *p,
			    size_t n, bool *again)
{
	dir_t *d = &f->d[1];
	http_response_t resp = {.headers = r->hdrs, .cap = REASM_MAX_HEADERS};
	http_err_t e;
	int rc = http_parse_response(p, n, &d->scanned, &r->limits, HTTP_M_GET,
				     &resp, &e);
	if (rc == ERR_AGAIN) {
		if (n <= REASM_HEAD_MAX) {
			*again = true;
			return 0;
		}
		rc = -1;
	}
	d->scanned = 0;
	d->head_started = false;
	d->resync_try = false;
	if (rc < 0) {
		d->st = ST_RESYNC;
		return 1;
	}
	if (resp.status < 200 && resp.status != 101)
		return (size_t)rc; /* interim: the final one follows */
	if (f->joined && f->d[0].midstream && f->d[0].skipped) {
		/* the request the client was sending when the capture
		 * joined: counted here, once */
		f->d[0].skipped = false;
		r->st.requests++;
		r->st.lost[CAP_LOSS_MIDSTREAM]++;
	} else if (f->joined || f->d[0].had_gap) {
		r->st.requests++;
		r->st.lost[f->joined ? CAP_LOSS_MIDSTREAM : CAP_LOSS_GAP]++;
	} else {
		r->st.orphan_responses++;
	}
	r->st.stray_responses++;
	d->cur = NULL; /* the body goes nowhere */
	switch (resp.body) {
	case HTTP_BODY_LENGTH:
		d->remaining = resp.content_length;
		d->st = resp.content_length ? ST_BODY_LEN : ST_HEAD;
		break;
	case HTTP_BODY_CHUNKED:
		http_chunked_init(&d->chunk, REASM_HEAD_MAX);
		d->st = ST_BODY_CHUNKED;
		break;
	case HTTP_BODY_UNTIL_CLOSE:
	case HTTP_BODY_TUNNEL:
		d->st = ST_BODY_CLOSE;
		break;
	default:
		d->st = ST_HEAD;
		break;
	}
	return (size_t)rc;
}

/* A response head at p[0..n) for the oldest waiting exchange. */
static size_t head_response(cap_reasm_t *r, flow_t *f, const char *p,
			    size_t n, bool *again, int64_t ts)
{
	dir_t *d = &f->d[1];
	*again = false;
	xch_t *x = waiting(f);
	if (stray_response(f, x))
		return skip_response(r, f, p, n, again);
	if (!x) {
		/* No request for it (yet): hold a little, in case the
		 * capture shows the response first; past that, orphan. */
		if (n <= REASM_ORPHAN_MAX && !f->d[0].closed) {
			*again = true;
			return 0;
		}
		r->st.orphan_responses++;
		d->head_started = false;
		d->scanned = 0;
		d->resync_try = false;
		d->st = ST_RESYNC;
		return 1;
	}
	http_response_t resp = {.headers = r->hdrs, .cap = REASM_MAX_HEADERS};
	http_err_t e;
	int rc = http_parse_response(p, n, &d->scanned, &r->limits, x->method,
				     &resp, &e);
	if (rc == ERR_AGAIN) {
		*again = true;
		return 0;
	}
	if (rc < 0) {
		d->scanned = 0;
		d->head_started = false;
		if (!d->resync_try)
			x->resp_lost = true; /* garbage where it should be */
		d->resync_try = false;
		d->st = ST_RESYNC;
		drain_queue(r, f);
		return 1;
	}
	d->resync_try = false;
	d->scanned = 0;
	d->head_started = false;
	if (resp.status < 200 && resp.status != 101)
		return (size_t)rc; /* interim: the final one follows */
	x->resp_started = true;
	x->resp_head_len = (size_t)rc;
	buf_append(&x->resp, p, (size_t)rc);
	mem_add(r, (size_t)rc);
	x->resp_ns = d->msg_ts;
	x->end_ns = ts;
	if (resp.body == HTTP_BODY_TUNNEL) {
		x->flags |= CAP_RF_TUNNEL;
		x->resp_done = true;
		r->st.tunnels++;
		d->st = ST_TUNNEL;
		f->d[0].st = ST_TUNNEL;
		in_clear(r, &f->d[0]);
		kill_req(f, f->d[0].cur, CAP_LOSS_TRUNCATED);
		drain_queue(r, f);
		return n; /* the rest is not HTTP */
	}
	if (x->upgrade && f->d[0].st == ST_HOLD) {
		/* the upgrade was refused: the client speaks HTTP again */
		f->d[0].st = ST_HEAD;
		f->d[0].unhold = true;
	}
	switch (resp.body) {
	case HTTP_BODY_LENGTH:
		if (resp.content_length) {
			d->remaining = resp.content_length;
			d->st = ST_BODY_LEN;
			d->cur = x;
			break;
		}
		/* fall through */
	default:
		x->resp_done = true;
		d->st = ST_HEAD;
		break;
	case HTTP_BODY_CHUNKED:
		x->flags |= CAP_RF_RESP_CHUNKED;
		http_chunked_init(&d->chunk, REASM_HEAD_MAX);
		d->st = ST_BODY_CHUNKED;
		d->cur = x;
		break;
	case HTTP_BODY_UNTIL_CLOSE:
		d->st = ST_BODY_CLOSE;
		d->cur = x;
		break;
	}
	return (size_t)rc;
}

/* The body of d->cur is complete. */
static void body_done(cap_reasm_t *r, flow_t *f, int dir, int64_t ts)
{
	dir_t *d = &f->d[dir];
	xch_t *x = d->cur;
	d->cur = NULL;
	d->st = ST_HEAD;
	if (!x)
		return;
	if (dir == 0) {
		x->req_done = true;
		if (x->upgrade)
			d->st = ST_HOLD;
	} else {
		x->resp_done = true;
		x->end_ns = ts;
	}
	drain_queue(r, f);
}

/* Parses held server bytes once a request they may answer is known. */
static void kick_server(cap_reasm_t *r, flow_t *f)
{
	dir_t *d = &f->d[1];
	if (d->in.len == 0 || d->st != ST_HEAD || !waiting(f))
		return;
	size_t used = parse(r, f, 1, d->in.data, d->in.len, d->in_ts);
	in_consume(r, d, used);
}

/* Parses stream bytes p[0..n) of direction dir; returns how many were
 * used (the rest waits in d->in for more). */
static size_t parse(cap_reasm_t *r, flow_t *f, int dir, const char *p,
		    size_t n, int64_t ts)
{
	dir_t *d = &f->d[dir];
	size_t i = 0;
	while (i < n) {
		switch (d->st) {
		case ST_RESYNC: {
			size_t keep;
			long k = resync_scan(dir, p + i, n - i, &keep);
			if (k < 0) {
				size_t drop = n - i - keep;
				d->skipped |= !blank(p + i, drop);
				return i + drop;
			}
			d->skipped |= !blank(p + i, (size_t)k);
			i += (size_t)k;
			d->st = ST_HEAD;
			d->resync_try = true;
			d->scanned = 0;
			d->head_started = false;
			break;
		}
		case ST_HEAD: {
			if (!d->head_started) {
				d->msg_ts = ts;
				d->msg_ack = d->cur_ack;
				d->head_started = true;
			}
			bool again;
			size_t used = dir == 0 ? head_request(r, f, p + i, n - i,
							      &again)
					       : head_response(r, f, p + i,
							       n - i, &again, ts);
			if (again)
				return i;
			i += used;
			if (dir == 0 && d->st != ST_RESYNC) {
				drain_queue(r, f);
				kick_server(r, f);
			}
			break;
		}
		case ST_BODY_LEN: {
			size_t take = n - i < d->remaining ? n - i
							   : (size_t)d->remaining;
			if (d->cur)
				body_add(r, d->cur, dir, p + i, take);
			d->remaining -= take;
			i += take;
			if (d->remaining == 0)
				body_done(r, f, dir, ts);
			break;
		}
		case ST_BODY_CHUNKED: {
			const char *data;
			size_t dl;
			http_err_t e;
			ssize_t used = http_chunked_step(&d->chunk, p + i, n - i,
							 &data, &dl, &e);
			if (used < 0) {
				if (dir == 0) {
					kill_req(f, d->cur, CAP_LOSS_PARSE);
				} else if (d->cur) {
					d->cur->resp_lost = true;
					d->cur = NULL;
				}
				d->cur = NULL;
				d->st = ST_RESYNC;
				drain_queue(r, f);
				i++;
				break;
			}
			if (dl && d->cur)
				body_add(r, d->cur, dir, data, dl);
			i += (size_t)used;
			if (d->chunk.done)
				body_done(r, f, dir, ts);
			break;
		}
		case ST_BODY_CLOSE:
			if (d->cur)
				body_add(r, d->cur, dir, p + i, n - i);
			if (d->cur)
				d->cur->end_ns = ts;
			return n;
		case ST_HOLD:
			/* wait for the response to say what these are; a
			 * client that pushes on without one is tunnelling */
			if (n - i > REASM_ORPHAN_MAX) {
				d->st = ST_TUNNEL;
				return n;
			}
			return i;
		case ST_TUNNEL:
		default:
			return n;
		}
	}
	return i;
}

/* Stream bytes in order for direction dir. */
static void deliver_one(cap_reasm_t *r, flow_t *f, int dir,
			const uint8_t *data, size_t len, int64_t ts)
{
	dir_t *d = &f->d[dir];
	d->in_ts = ts;
	if (d->st == ST_TUNNEL)
		return;
	if (d->in.len == 0) {
		size_t used = parse(r, f, dir, (const char *)data, len, ts);
		if (used < len && d->st != ST_TUNNEL)
			in_append(r, d, data + used, len - used);
		return;
	}
	in_append(r, d, data, len);
	size_t used = parse(r, f, dir, d->in.data, d->in.len, ts);
	if (d->st == ST_TUNNEL)
		in_clear(r, d);
	else
		in_consume(r, d, used);
}

/* Stream bytes in order for direction dir, then what they unblocked on
 * the other side. */
static void deliver(cap_reasm_t *r, flow_t *f, int dir, const uint8_t *data,
		    size_t len, int64_t ts)
{
	deliver_one(r, f, dir, data, len, ts);
	dir_t *c = &f->d[0];
	if (dir == 1 && c->unhold) {
		c->unhold = false;
		if (c->in.len && c->st == ST_HEAD) {
			size_t used = parse(r, f, 0, c->in.data, c->in.len,
					    c->in_ts);
			if (c->st == ST_TUNNEL)
				in_clear(r, c);
			else
				in_consume(r, c, used);
		}
	}
}

/* --------------------------------------------------------------- gaps */

/* n stream bytes of dir will never be seen. */
static void gap(cap_reasm_t *r, flow_t *f, int dir, uint64_t n)
{
	if (!n)
		return;
	dir_t *d = &f->d[dir];
	r->st.gaps++;
	r->st.gap_bytes += n;
	d->next += n;
	if (dir == 0) {
		d->had_gap = true;
		lose_partial_head(r, d, CAP_LOSS_GAP);
		if (d->st == ST_BODY_LEN || d->st == ST_BODY_CHUNKED)
			kill_req(f, d->cur, CAP_LOSS_GAP);
	} else {
		/* the response being read is cut, and any the gap hid
		 * cannot be told apart: every exchange waiting goes
		 * without */
		if (d->cur)
			d->cur->resp_lost = true;
		for (xch_t *x = f->qh; x; x = x->next)
			if (!x->resp_done)
				x->resp_lost = true;
	}
	if (d->st != ST_TUNNEL) {
		in_clear(r, d);
		d->cur = NULL;
		d->st = ST_RESYNC;
	}
	drain_queue(r, f);
}

/* Delivers held segments that are now in order. */
static void drain_ooo(cap_reasm_t *r, flow_t *f, int dir)
{
	dir_t *d = &f->d[dir];
	while (d->ooo && d->ooo->pos <= d->next) {
		ooo_t *o = d->ooo;
		d->ooo = o->next;
		d->ooo_bytes -= o->len;
		mem_sub(r, sizeof(*o) + o->len);
		uint64_t end = o->pos + o->len;
		if (end > d->next) {
			size_t skip = (size_t)(d->next - o->pos);
			r->st.retrans_bytes += skip;
			d->next = end;
			d->cur_ack = o->ack;
			deliver(r, f, dir, o->data + skip, o->len - skip, o->ts);
		} else {
			r->st.retrans_bytes += o->len;
		}
		if (o->cut && d->next == end)
			gap(r, f, dir, o->cut);
		free(o);
	}
}

static void ooo_insert(cap_reasm_t *r, dir_t *d, uint64_t pos,
		       const uint8_t *data, size_t len, size_t cut, int64_t ts)
{
	ooo_t **pp = &d->ooo;
	while (*pp && (*pp)->pos < pos)
		pp = &(*pp)->next;
	if (*pp && (*pp)->pos == pos && (*pp)->len >= len) {
		r->st.retrans_bytes += len; /* the same segment again */
		return;
	}
	ooo_t *o = xmalloc(sizeof(*o) + (len ? len : 1));
	o->pos = pos;
	o->len = (uint32_t)len;
	o->cut = (uint32_t)cut;
	o->ts = ts;
	o->ack = d->cur_ack;
	memcpy(o->data, data, len);
	o->next = *pp;
	*pp = o;
	d->ooo_bytes += len;
	mem_add(r, sizeof(*o) + len);
	r->st.ooo_segments++;
}

/* Gives up on the hole before the first held segment. */
static void skip_hole(cap_reasm_t *r, flow_t *f, int dir)
{
	dir_t *d = &f->d[dir];
	if (!d->ooo)
		return;
	gap(r, f, dir, d->ooo->pos - d->next);
	drain_ooo(r, f, dir);
}

/* The direction ended (FIN reached), or, with final, the connection
 * did. A server direction that still holds bytes waiting for a request
 * the client's stream has not delivered yet (a hole there) keeps them
 * until the connection ends. */
static void dir_close(cap_reasm_t *r, flow_t *f, int dir, bool final)
{
	dir_t *d = &f->d[dir];
	if (d->finished || (d->closed && !final))
		return;
	if (!final && dir == 1 && d->st == ST_HEAD && d->in.len &&
	    !waiting(f) && !f->d[0].closed) {
		d->closed = true; /* finished when the connection ends */
		return;
	}
	d->closed = d->finished = true;
	while (d->ooo) {
		ooo_t *o = d->ooo;
		d->ooo = o->next;
		mem_sub(r, sizeof(*o) + o->len);
		free(o);
	}
	d->ooo_bytes = 0;
	if (dir == 0) {
		if (d->midstream && d->skipped) {
			r->st.requests++;
			r->st.lost[CAP_LOSS_MIDSTREAM]++;
		}
		d->midstream = d->skipped = false;
		lose_partial_head(r, d, CAP_LOSS_TRUNCATED);
		if (d->st == ST_BODY_LEN || d->st == ST_BODY_CHUNKED)
			kill_req(f, d->cur, CAP_LOSS_TRUNCATED);
	} else if (d->st == ST_HEAD && d->in.len && !waiting(f) &&
		   !blank(d->in.data, d->in.len)) {
		r->st.orphan_responses++;
	} else if (d->st == ST_BODY_CLOSE && d->cur) {
		d->cur->resp_done = true;
	} else if (d->cur) {
		d->cur->resp_lost = true; /* closed mid-body */
	}
	in_clear(r, d);
	d->cur = NULL;
	d->st = ST_TUNNEL; /* nothing more is parsed */
	drain_queue(r, f);
}

/* Ends a connection: holes become gaps, what is incomplete is counted
 * (why: TRUNCATED, or LIMIT when evicted), the rest emitted. */
static void flow_end(cap_reasm_t *r, flow_t *f, cap_loss_t why)
{
	for (int dir = 0; dir < 2; dir++) {
		dir_t *d = &f->d[dir];
		while (d->ooo && !d->closed)
			skip_hole(r, f, dir);
	}
	if (why == CAP_LOSS_LIMIT && !f->d[0].closed) {
		dir_t *d = &f->d[0];
		lose_partial_head(r, d, CAP_LOSS_LIMIT);
		in_clear(r, d);
		if (d->st == ST_BODY_LEN || d->st == ST_BODY_CHUNKED)
			kill_req(f, d->cur, CAP_LOSS_LIMIT);
	}
	dir_close(r, f, 0, true);
	dir_close(r, f, 1, true);
	for (xch_t *x = f->qh; x; x = x->next) {
		if (!x->req_done)
			kill_req(f, x, why);
		if (!x->resp_done)
			x->resp_lost = true;
	}
	drain_queue(r, f);
	flow_unlink(r, f);
	for (int i = 0; i < 2; i++) {
		mem_sub(r, f->d[i].in.len);
		buf_free(&f->d[i].in);
	}
	mem_sub(r, sizeof(*f));
	free(f);
}

/* --------------------------------------------------------------- segments */

static void data_in(cap_reasm_t *r, flow_t *f, int dir, int64_t pos,
		    const uint8_t *data, size_t len, size_t cut, int64_t ts)
{
	dir_t *d = &f->d[dir];
	if (d->closed)
		return;
	int64_t next = (int64_t)d->next;
	int64_t end = pos + (int64_t)len + (int64_t)cut;
	if (end <= next) {
		r->st.retrans_bytes += len;
		return;
	}
	if (pos < next) {
		size_t skip = (size_t)(next - pos);
		if (skip >= len) {
			/* only the missing tail is new */
			r->st.retrans_bytes += len;
			gap(r, f, dir, (uint64_t)(end - next));
			drain_ooo(r, f, dir);
			return;
		}
		r->st.retrans_bytes += skip;
		data += skip;
		len -= skip;
		pos = next;
	}
	if (pos == next) {
		d->next += len;
		deliver(r, f, dir, data, len, ts);
		if (cut)
			gap(r, f, dir, cut);
		drain_ooo(r, f, dir);
		return;
	}
	ooo_insert(r, d, (uint64_t)pos, data, len, cut, ts);
	while (d->ooo && (d->ooo_bytes > r->o.reorder_bytes ||
			  r->st.mem > r->o.memory_limit))
		skip_hole(r, f, dir);
}

#ifdef REASM_CHECK_MEM
/* Debug builds: what is really held, to check the accounting. */
static uint64_t mem_actual(const cap_reasm_t *r)
{
	uint64_t n = 0;
	for (const flow_t *f = r->lru_head; f; f = f->lnext) {
		n += sizeof(*f);
		for (int i = 0; i < 2; i++) {
			n += f->d[i].in.len;
			for (const ooo_t *o = f->d[i].ooo; o; o = o->next)
				n += sizeof(*o) + o->len;
		}
		for (const xch_t *x = f->qh; x; x = x->next)
			n += sizeof(*x) + x->req.len + x->resp.len;
	}
	return n;
}
#endif

static void segment(cap_reasm_t *r, int64_t ts, const cap_seg_t *s);

void cap_reasm_segment(cap_reasm_t *r, int64_t ts, const cap_seg_t *s)
{
	segment(r, ts, s);
#ifdef REASM_CHECK_MEM
	if (mem_actual(r) != r->st.mem) {
		fprintf(stderr, "reasm: mem %llu, really %llu\n",
			(unsigned long long)r->st.mem,
			(unsigned long long)mem_actual(r));
		abort();
	}
#endif
}

static void segment(cap_reasm_t *r, int64_t ts, const cap_seg_t *s)
{
	r->st.tcp_packets++;
	r->st.payload_bytes += s->wire_len;
	if (!r->st.first_ns || ts < r->st.first_ns)
		r->st.first_ns = ts;
	if (ts > r->st.last_ns)
		r->st.last_ns = ts;
	if (ts >= r->next_expire) {
		cap_reasm_expire(r, ts);
		r->next_expire = ts + REASM_EXPIRE_EVERY;
	}
	flow_t *f = flow_find(r, s);
	if (f && (s->flags & CAP_TCP_SYN) && !(s->flags & CAP_TCP_ACK) &&
	    addr_eq(&s->src, &f->cli) && f->d[0].started &&
	    s->seq + 1 != f->d[0].isn) {
		/* the 4-tuple is reused by a new connection */
		flow_end(r, f, CAP_LOSS_TRUNCATED);
		f = NULL;
	}
	if (!f) {
		if (!s->wire_len && !(s->flags & CAP_TCP_SYN))
			return; /* a bare ACK, FIN or RST of nothing we know */
		if (s->flags & CAP_TCP_RST)
			return;
		f = flow_new(r, s);
	}
	f->last_ts = ts;
	lru_front(r, f);
	if (s->flags & CAP_TCP_RST) {
		flow_end(r, f, CAP_LOSS_TRUNCATED);
		return;
	}
	int dir = addr_eq(&s->src, &f->cli) ? 0 : 1;
	dir_t *d = &f->d[dir];
	uint32_t seq = s->seq;
	if (s->flags & CAP_TCP_SYN) {
		seq++; /* the SYN takes one sequence number */
		if (!d->started || (!d->syn && d->next == 0)) {
			d->started = d->syn = true;
			d->isn = seq;
			d->next = 0;
			d->midstream = false;
		}
	}
	if (!d->started) {
		d->started = true;
		d->isn = seq;
		d->next = 0;
		d->midstream = true;
		d->st = ST_RESYNC;
		if (!f->joined)
			r->st.flows_joined++;
		f->joined = true;
	}
	if (dir == 1) {
		/* what the server had received, in the client's stream */
		const dir_t *c = &f->d[0];
		d->cur_ack = -1;
		if (c->started && (s->flags & CAP_TCP_ACK)) {
			int64_t a = (int64_t)c->next +
				    (int32_t)(s->ack -
					      (c->isn + (uint32_t)c->next));
			d->cur_ack = a > 0 ? a : 0;
		}
	}
	uint32_t expect = d->isn + (uint32_t)d->next;
	int64_t pos = (int64_t)d->next + (int32_t)(seq - expect);
	if (s->wire_len)
		data_in(r, f, dir, pos, s->data, s->len, s->wire_len - s->len,
			ts);
	if (s->flags & CAP_TCP_FIN) {
		d->fin = true;
		d->fin_pos = pos >= 0 ? (uint64_t)pos + s->wire_len : d->next;
	}
	if (d->fin && !d->closed && d->next >= d->fin_pos)
		dir_close(r, f, dir, false);
	if (f->d[0].closed && f->d[1].closed)
		flow_end(r, f, CAP_LOSS_TRUNCATED);
}

void cap_reasm_packet(cap_reasm_t *r, int64_t ts, int linktype,
		      const uint8_t *p, size_t caplen)
{
	r->st.packets++;
	cap_seg_t s;
	cap_pkt_t k = cap_packet_decode(linktype, p, caplen, &s);
	if (k != CAP_PKT_TCP) {
		r->st.skipped[k]++;
		return;
	}
	cap_reasm_segment(r, ts, &s);
}

void cap_reasm_expire(cap_reasm_t *r, int64_t now)
{
	while (r->lru_tail && r->lru_tail->last_ts + r->o.flow_timeout < now) {
		r->st.flows_expired++;
		flow_end(r, r->lru_tail, CAP_LOSS_TRUNCATED);
	}
}

void cap_reasm_finish(cap_reasm_t *r)
{
	while (r->lru_tail)
		flow_end(r, r->lru_tail, CAP_LOSS_TRUNCATED);
}

/* --------------------------------------------------------------- api */

cap_reasm_t *cap_reasm_new(const cap_reasm_opts_t *o, cap_emit_fn fn,
			   void *arg)
{
	cap_reasm_t *r = xcalloc(1, sizeof(*r));
	r->o = *o;
	if (!r->o.max_flows)
		r->o.max_flows = 1;
	r->emit = fn;
	r->arg = arg;
	size_t n = 1024;
	while (n < r->o.max_flows * 2 && n < (1u << 22))
		n <<= 1;
	r->tab = xcalloc(n, sizeof(flow_t *));
	r->tab_mask = n - 1;
	r->limits = (http_limits_t){REASM_LINE_MAX, REASM_HEAD_MAX,
				    REASM_MAX_HEADERS};
	return r;
}

const cap_reasm_stats_t *cap_reasm_stats(const cap_reasm_t *r)
{
	return &r->st;
}

void cap_reasm_free(cap_reasm_t *r)
{
	if (!r)
		return;
	cap_reasm_finish(r);
	free(r->tab);
	free(r);
}
