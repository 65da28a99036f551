/*
 * replay.c: the replay engine (replay.h).
 *
 * Records are read ahead into a min-heap by recorded time (files come in
 * completion order, which differs from start order by up to a latency),
 * bounded by REPLAY_LOOKAHEAD records and bytes. A timer releases each
 * one at t0 + (recorded - first recorded) / speed onto an idle
 * connection, a new one (up to --connections), or a backlog when all are
 * busy; how late each went out is the lag. At --speed max the heap is
 * drained as fast as connections free up. Responses are parsed with the
 * http module, captured and compared with the recorded ones with the
 * compare module, and their latency is measured from the first byte sent
 * to the last byte received. A pooled connection the target closed while
 * idle is retried once on a fresh one, as the proxy does.
 */
#include "capture/replay.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define REPLAY_LOOKAHEAD 4096            /* records read ahead */
#define REPLAY_LOOKAHEAD_BYTES (64 << 20) /* and their bytes */
#define REPLAY_READ 65536                /* bytes per read(2) */
#define REPLAY_TICK_MS 250               /* progress and stop checks */
#define REPLAY_MAX_HEADERS 256
#define REPLAY_HEAD_MAX (256 * 1024)

/* --------------------------------------------------------------- wire */

int cap_replay_parse_speed(const char *s, double *speed)
{
	if (strcasecmp(s, "max") == 0) {
		*speed = 0;
		return 0;
	}
	char *end;
	double v = strtod(s, &end);
	if (end == s || !isfinite(v) || v <= 0)
		return ERR_PARSE;
	if (*end == '%') {
		v /= 100;
		end++;
	} else if (*end == 'x' || *end == 'X') {
		end++;
	}
	if (*end || v < 0.001 || v > 100000)
		return ERR_PARSE;
	*speed = v;
	return 0;
}

int cap_replay_wire(const cap_rec_t *rec, const char *host, buf_t *out,
		    bool *adjusted)
{
	http_header_t hdrs[REPLAY_MAX_HEADERS];
	http_request_t req;
	*adjusted = false;
	if (cap_parse_req(rec, &req, hdrs, REPLAY_MAX_HEADERS))
		return ERR_PARSE;
	const char *h = rec->req_head;
	size_t at = 0; /* copied up to here */
	bool cut = (rec->flags & CAP_RF_REQ_TRUNC) &&
		   req.body == HTTP_BODY_LENGTH;
	for (size_t i = 0; i < req.nheaders; i++) {
		const http_header_t *f = &hdrs[i];
		bool is_host = host && f->name_len == 4 &&
			       strncasecmp(f->name, "Host", 4) == 0;
		bool is_cl = cut && f->name_len == 14 &&
			     strncasecmp(f->name, "Content-Length", 14) == 0;
		if (!is_host && !is_cl)
			continue;
		size_t vs = (size_t)(f->value - h);
		buf_append(out, h + at, vs - at);
		if (is_host)
			buf_puts(out, host);
		else
			buf_printf(out, "%zu", rec->req_body_len);
		at = vs + f->value_len;
	}
	if (host && !req.host) {
		/* HTTP/1.0 without Host: add it before the blank line */
		size_t end = rec->req_head_len;
		size_t blank = end >= 2 && h[end - 2] == '\r' ? end - 2 : end - 1;
		buf_append(out, h + at, blank - at);
		buf_printf(out, "Host: %s\r\n", host);
		at = blank;
	}
	buf_append(out, h + at, rec->req_head_len - at);
	if (req.body == HTTP_BODY_CHUNKED) {
		if (rec->req_body_len) {
			buf_printf(out, "%zx\r\n", rec->req_body_len);
			buf_append(out, rec->req_body, rec->req_body_len);
			buf_puts(out, "\r\n");
		}
		buf_puts(out, "0\r\n\r\n");
	} else {
		buf_append(out, rec->req_body, rec->req_body_len);
	}
	*adjusted = cut;
	return 0;
}

/* --------------------------------------------------------------- types */

typedef struct job {
	buf_t wire;
	buf_t resp; /* the recorded response: head then body */
	size_t resp_head_len;
	uint16_t flags;
	http_method_t method;
	int rec_status;
	int64_t req_ns; /* recorded, plus the loop offset */
	int64_t due;    /* monotonic */
	char label[160];
	struct job *next;
} job_t;

typedef struct replay replay_t;

typedef struct rconn {
	replay_t *rp;
	int fd;
	bool connecting, busy;
	struct event *ev_r, *ev_w, *ev_t;
	job_t *job;
	size_t woff;
	buf_t in;
	size_t in_start, scanned;
	bool head_done, keep_alive, got_any;
	http_body_t body;
	uint64_t remaining;
	http_chunked_t chunk;
	int status;
	cmp_capture_t cap;
	uint64_t cap_limit, cap_fed;
	int64_t t_send;
	unsigned served;
	int attempts;
} rconn_t;

struct replay {
	const cap_replay_opts_t *o;
	cap_replay_result_t *res;
	struct event_base *base;
	struct sockaddr_storage ss;
	socklen_t sslen;
	cap_reader_t *rd;
	bool eof;
	int64_t offset;              /* added to recorded times (loops) */
	int64_t pass_first, pass_last;
	uint64_t pass_count;
	job_t **heap;
	size_t nheap, heap_cap, heap_bytes;
	job_t *bl_head, *bl_tail;    /* waiting for a connection */
	rconn_t *conns;
	int nconns;
	int nbusy;
	bool started;
	int64_t t0_mono, t0_rec;
	int64_t first_send, last_send, last_done;
	int64_t rec_first_sent, rec_last_sent;
	struct event *ev_timer, *ev_tick;
	bool stopping, cancel;
	bool in_sched, resched;
	/* the per-request timeout as a libevent common timeout: every
	 * request has the same one, so adding and removing it is O(1) */
	const struct timeval *tv_timeout;
	uint64_t total;
	char errbuf[640];
};

static void schedule(replay_t *rp);
static void conn_cb(evutil_socket_t fd, short what, void *arg);

/* --------------------------------------------------------------- heap */

static void heap_push(replay_t *rp, job_t *j)
{
	if (rp->nheap == rp->heap_cap) {
		rp->heap_cap = rp->heap_cap ? rp->heap_cap * 2 : 256;
		rp->heap = xreallocarray(rp->heap, rp->heap_cap, sizeof(job_t *));
	}
	size_t i = rp->nheap++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (rp->heap[p]->req_ns <= j->req_ns)
			break;
		rp->heap[i] = rp->heap[p];
		i = p;
	}
	rp->heap[i] = j;
	rp->heap_bytes += j->wire.len + j->resp.len;
}

static job_t *heap_pop(replay_t *rp)
{
	job_t *top = rp->heap[0];
	job_t *last = rp->heap[--rp->nheap];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= rp->nheap)
			break;
		if (c + 1 < rp->nheap && rp->heap[c + 1]->req_ns < rp->heap[c]->req_ns)
			c++;
		if (last->req_ns <= rp->heap[c]->req_ns)
			break;
		rp->heap[i] = rp->heap[c];
		i = c;
	}
	if (rp->nheap)
		rp->heap[i] = last;
	rp->heap_bytes -= top->wire.len + top->resp.len;
	return top;
}

static void job_free(job_t *j)
{
	buf_free(&j->wire);
	buf_free(&j->resp);
	free(j);
}

/* --------------------------------------------------------------- reading */

static job_t *make_job(replay_t *rp, const cap_rec_t *rec)
{
	job_t *j = xcalloc(1, sizeof(*j));
	bool adjusted;
	if (cap_replay_wire(rec, rp->o->host, &j->wire, &adjusted)) {
		job_free(j);
		return NULL;
	}
	if (adjusted)
		rp->res->bodies_adjusted++;
	http_header_t hdrs[REPLAY_MAX_HEADERS];
	http_request_t req;
	cap_parse_req(rec, &req, hdrs, REPLAY_MAX_HEADERS);
	j->method = req.method_id;
	size_t tl = req.target_len < 120 ? req.target_len : 120;
	snprintf(j->label, sizeof(j->label), "%.*s %.*s", (int)req.method_len,
		 req.method, (int)tl, req.target);
	j->flags = rec->flags;
	j->rec_status = cap_resp_status(rec);
	if (!(rec->flags & CAP_RF_NO_RESPONSE)) {
		buf_append(&j->resp, rec->resp_head, rec->resp_head_len);
		buf_append(&j->resp, rec->resp_body, rec->resp_body_len);
		j->resp_head_len = rec->resp_head_len;
	}
	j->req_ns = rec->req_ns + rp->offset;
	return j;
}

static int open_reader(replay_t *rp)
{
	return cap_reader_open(rp->o->file, &rp->rd, rp->errbuf,
			       sizeof(rp->errbuf));
}

/* Reads ahead; at the end starts over (--loop) or marks eof. */
static void fill(replay_t *rp)
{
	while (!rp->eof && rp->nheap < REPLAY_LOOKAHEAD &&
	       rp->heap_bytes < REPLAY_LOOKAHEAD_BYTES) {
		cap_rec_t rec;
		int rc = cap_reader_next(rp->rd, &rec);
		if (rc == 1) {
			if (rec.kind == CAP_KIND_LOSS && !rp->res->loops)
				for (int i = 0; i < CAP_LOSS__COUNT; i++)
					rp->res->capture_lost[i] +=
					    rec.loss[i];
			if (rec.kind != CAP_KIND_EXCHANGE)
				continue;
			rp->res->read++;
			if (!cap_filter_match(rp->o->filter, &rec)) {
				rp->res->filtered++;
				continue;
			}
			job_t *j = make_job(rp, &rec);
			if (!j) {
				rp->res->skipped++;
				continue;
			}
			if (!rp->pass_count || rec.req_ns < rp->pass_first)
				rp->pass_first = rec.req_ns;
			if (!rp->pass_count || rec.req_ns > rp->pass_last)
				rp->pass_last = rec.req_ns;
			rp->pass_count++;
			heap_push(rp, j);
			continue;
		}
		if (rc < 0 && !rp->res->file_error[0])
			snprintf(rp->res->file_error,
				 sizeof(rp->res->file_error), "%s",
				 cap_reader_error(rp->rd));
		cap_reader_close(rp->rd);
		rp->rd = NULL;
		if (rp->o->loop && !rp->stopping && rc == 0 &&
		    rp->pass_count > 0) {
			/* the next pass starts one mean gap after this one */
			int64_t span = rp->pass_last - rp->pass_first;
			int64_t gap = rp->pass_count > 1
					      ? span / (int64_t)(rp->pass_count - 1)
					      : 1000000;
			rp->offset += span + gap;
			rp->pass_count = 0;
			rp->res->loops++;
			if (open_reader(rp) == 0)
				continue;
		}
		rp->eof = true;
	}
}

/* --------------------------------------------------------------- conns */

static void conn_close(rconn_t *c)
{
	if (c->fd < 0)
		return;
	event_free(c->ev_r);
	event_free(c->ev_w);
	event_free(c->ev_t);
	c->ev_r = c->ev_w = c->ev_t = NULL;
	close(c->fd);
	c->fd = -1;
	c->connecting = false;
	c->served = 0;
	c->in.len = 0;
	c->in_start = 0;
}

static int conn_open(rconn_t *c)
{
	replay_t *rp = c->rp;
	int fd = socket(rp->ss.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&rp->ss, rp->sslen) != 0 &&
	    errno != EINPROGRESS) {
		int e = -errno;
		close(fd);
		return e;
	}
	c->fd = fd;
	c->connecting = true;
	c->ev_r = event_new(rp->base, fd, EV_READ | EV_PERSIST, conn_cb, c);
	c->ev_w = event_new(rp->base, fd, EV_WRITE, conn_cb, c);
	c->ev_t = event_new(rp->base, -1, 0, conn_cb, c);
	event_add(c->ev_r, NULL);
	event_add(c->ev_w, NULL);
	return 0;
}

static void reset_response(rconn_t *c)
{
	c->head_done = false;
	c->scanned = 0;
	c->status = 0;
	c->got_any = false;
	c->cap_fed = 0;
	cmp_capture_free(&c->cap);
	memset(&c->cap, 0, sizeof(c->cap));
}

/* Compares the response on c with the recorded one. */
static void compare(replay_t *rp, rconn_t *c)
{
	job_t *j = c->job;
	cap_replay_result_t *res = rp->res;
	if (j->flags & (CAP_RF_NO_RESPONSE | CAP_RF_RESP_PARTIAL |
			CAP_RF_TUNNEL)) {
		res->uncompared++;
		return;
	}
	http_header_t hdrs[REPLAY_MAX_HEADERS];
	http_response_t r = {.headers = hdrs, .cap = REPLAY_MAX_HEADERS};
	http_limits_t lim = {REPLAY_HEAD_MAX, REPLAY_HEAD_MAX,
			     REPLAY_MAX_HEADERS};
	size_t sc = 0;
	http_err_t e;
	if (http_parse_response(j->resp.data, j->resp_head_len, &sc, &lim,
				j->method, &r, &e) <= 0) {
		res->uncompared++;
		return;
	}
	cmp_capture_t rec = {0};
	cmp_capture_head(&rec, &rp->o->rules, &r);
	cmp_capture_body(&rec, &rp->o->rules, j->resp.data + j->resp_head_len,
			 j->resp.len - j->resp_head_len, NULL);
	cmp_capture_finish(&rec);
	cmp_capture_finish(&c->cap);
	cmp_result_t out;
	cmp_diff(&rec, &c->cap, &rp->o->rules, &out);
	cmp_capture_free(&rec);
	res->compared++;
	if (!out.mask) {
		res->matched++;
		return;
	}
	res->differed++;
	for (int b = 0; b < 8; b++)
		if (out.mask & (1u << b))
			res->diff_reasons[b]++;
	if (res->nexamples < REPLAY_EXAMPLES) {
		cap_replay_example_t *x = &res->examples[res->nexamples++];
		snprintf(x->request, sizeof(x->request), "%s", j->label);
		cmp_mask_text(out.mask, x->reasons, sizeof(x->reasons));
		size_t o = 0;
		x->paths[0] = '\0';
		for (size_t i = 0; i < out.npaths && o < sizeof(x->paths); i++)
			o += (size_t)snprintf(x->paths + o, sizeof(x->paths) - o,
					      "%s%s", i ? " " : "", out.paths[i]);
		x->recorded = j->rec_status;
		x->got = c->status;
	}
}

/* The exchange on c is over (ok, or with err >= 0). */
static void finish(rconn_t *c, int err)
{
	replay_t *rp = c->rp;
	cap_replay_result_t *res = rp->res;
	job_t *j = c->job;
	int64_t now = clock_mono_ns();
	if (c->ev_t)
		event_del(c->ev_t);
	if (err < 0) {
		res->responses++;
		res->status[c->status < 600 ? c->status : 0]++;
		cap_hist_add(&res->latency_us,
			     (uint64_t)(now - c->t_send) / 1000);
		compare(rp, c);
	} else {
		res->errors[err]++;
		res->status[0]++;
	}
	rp->last_done = now;
	job_free(j);
	c->job = NULL;
	c->busy = false;
	rp->nbusy--;
	bool keep = err < 0 && c->keep_alive && c->in.len == c->in_start;
	reset_response(c);
	c->served++;
	if (!keep)
		conn_close(c);
	else
		event_del(c->ev_w);
	c->in.len = c->in_start = 0;
	schedule(rp);
}

static void send_some(rconn_t *c)
{
	job_t *j = c->job;
	while (c->woff < j->wire.len) {
		ssize_t n = send(c->fd, j->wire.data + c->woff,
				 j->wire.len - c->woff, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			event_add(c->ev_w, NULL);
			return;
		}
		if (n < 0) {
			/* the response (if any) decides; EOF or reset
			 * shows up on the read side */
			return;
		}
		c->woff += (size_t)n;
	}
	event_del(c->ev_w);
}

/* Starts j on c (connected or connecting). */
static void start(rconn_t *c, job_t *j)
{
	replay_t *rp = c->rp;
	int64_t now = clock_mono_ns();
	c->job = j;
	c->busy = true;
	rp->nbusy++;
	c->woff = 0;
	c->attempts = 0;
	reset_response(c);
	c->cap_limit = (j->flags & CAP_RF_RESP_TRUNC)
			       ? j->resp.len - j->resp_head_len
			       : UINT64_MAX;
	c->t_send = now;
	rp->res->sent++;
	if (!rp->first_send)
		rp->first_send = now;
	rp->last_send = now;
	if (!rp->rec_first_sent || j->req_ns < rp->rec_first_sent)
		rp->rec_first_sent = j->req_ns;
	if (j->req_ns > rp->rec_last_sent)
		rp->rec_last_sent = j->req_ns;
	if (rp->o->speed > 0) {
		int64_t lag = now - j->due;
		cap_hist_add(&rp->res->lag_us, lag > 0 ? (uint64_t)lag / 1000 : 0);
	}
	if (c->fd < 0) {
		int rc = conn_open(c);
		if (rc) {
			finish(c, CAP_RE_CONNECT);
			return;
		}
	}
	event_add(c->ev_t, rp->tv_timeout);
	if (!c->connecting)
		send_some(c);
}

/* A reused connection failed before any response byte: the target had
 * closed it while idle; once more on a fresh one. */
static bool retry_fresh(rconn_t *c)
{
	if (c->served == 0 || c->got_any || c->attempts > 0)
		return false;
	job_t *j = c->job;
	conn_close(c);
	c->attempts++;
	c->woff = 0;
	if (conn_open(c))
		return false;
	event_add(c->ev_t, c->rp->tv_timeout);
	(void)j;
	return true;
}

/* Parses what arrived; false when c's exchange ended. */
static bool on_data(rconn_t *c, bool eof)
{
	job_t *j = c->job;
	while (c->in.len > c->in_start || eof) {
		const char *p = c->in.data + c->in_start;
		size_t n = c->in.len - c->in_start;
		if (!c->head_done) {
			if (eof) {
				if (!retry_fresh(c))
					finish(c, CAP_RE_RESET);
				return false;
			}
			http_header_t hdrs[REPLAY_MAX_HEADERS];
			http_response_t r = {.headers = hdrs,
					     .cap = REPLAY_MAX_HEADERS};
			http_limits_t lim = {REPLAY_HEAD_MAX, REPLAY_HEAD_MAX,
					     REPLAY_MAX_HEADERS};
			http_err_t e;
			int rc = http_parse_response(p, n, &c->scanned, &lim,
						     j->method, &r, &e);
			if (rc == ERR_AGAIN)
				return true;
			if (rc < 0) {
				c->keep_alive = false;
				finish(c, CAP_RE_PROTOCOL);
				return false;
			}
			c->in_start += (size_t)rc;
			c->scanned = 0;
			if (r.status < 200 && r.status != 101)
				continue; /* interim */
			c->head_done = true;
			c->status = r.status;
			c->body = r.body;
			c->remaining = r.content_length;
			c->keep_alive = r.keep_alive;
			cmp_capture_head(&c->cap, &c->rp->o->rules, &r);
			if (r.body == HTTP_BODY_CHUNKED)
				http_chunked_init(&c->chunk, REPLAY_HEAD_MAX);
			if (r.body == HTTP_BODY_NONE ||
			    r.body == HTTP_BODY_TUNNEL ||
			    (r.body == HTTP_BODY_LENGTH && r.content_length == 0)) {
				if (r.body == HTTP_BODY_TUNNEL)
					c->keep_alive = false;
				finish(c, -1);
				return false;
			}
			continue;
		}
		const char *d = p;
		size_t dl = 0, used = 0;
		bool done = false;
		switch (c->body) {
		case HTTP_BODY_LENGTH:
			used = dl = n < c->remaining ? n : (size_t)c->remaining;
			c->remaining -= dl;
			done = c->remaining == 0;
			break;
		case HTTP_BODY_CHUNKED: {
			http_err_t e;
			ssize_t k = http_chunked_step(&c->chunk, p, n, &d, &dl,
						      &e);
			if (k < 0) {
				c->keep_alive = false;
				finish(c, CAP_RE_PROTOCOL);
				return false;
			}
			used = (size_t)k;
			done = c->chunk.done;
			break;
		}
		default: /* until close */
			used = dl = n;
			done = eof;
			break;
		}
		if (dl && c->cap_fed < c->cap_limit) {
			size_t feed = dl;
			if (c->cap_limit - c->cap_fed < feed)
				feed = (size_t)(c->cap_limit - c->cap_fed);
			cmp_capture_body(&c->cap, &c->rp->o->rules, d, feed,
					 NULL);
			c->cap_fed += feed;
		}
		c->in_start += used;
		if (done) {
			finish(c, -1);
			return false;
		}
		if (eof) {
			finish(c, CAP_RE_RESET);
			return false;
		}
		if (used == 0)
			return true;
	}
	return true;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
	rconn_t *c = arg;
	(void)fd;
	if (what & EV_TIMEOUT) {
		c->keep_alive = false;
		finish(c, CAP_RE_TIMEOUT);
		return;
	}
	if (what & EV_WRITE) {
		if (c->connecting) {
			int so = 0;
			socklen_t sl = sizeof(so);
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so, &sl);
			if (so) {
				conn_close(c);
				if (c->job)
					finish(c, CAP_RE_CONNECT);
				return;
			}
			c->connecting = false;
		}
		if (c->job)
			send_some(c);
		return;
	}
	if (!(what & EV_READ))
		return;
	for (;;) {
		buf_reserve(&c->in, REPLAY_READ);
		ssize_t n = read(c->fd, c->in.data + c->in.len,
				 c->in.cap - c->in.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (!c->job) {
			/* an idle connection closed (or chattered) */
			conn_close(c);
			return;
		}
		if (n <= 0) {
			on_data(c, true);
			return;
		}
		c->in.len += (size_t)n;
		c->got_any = true;
		if (!on_data(c, false))
			return;
	}
}

/* --------------------------------------------------------------- schedule */

static rconn_t *free_conn(replay_t *rp)
{
	rconn_t *closed = NULL;
	for (int i = 0; i < rp->nconns; i++) {
		rconn_t *c = &rp->conns[i];
		if (c->busy)
			continue;
		if (c->fd >= 0)
			return c; /* idle keep-alive first */
		if (!closed)
			closed = c;
	}
	return closed;
}

static void stop_now(replay_t *rp)
{
	rp->stopping = true;
	if (rp->cancel) {
		for (int i = 0; i < rp->nconns; i++) {
			rconn_t *c = &rp->conns[i];
			if (c->busy) {
				rp->res->cancelled++;
				job_free(c->job);
				c->job = NULL;
				c->busy = false;
				rp->nbusy--;
				conn_close(c);
			}
		}
	}
}

static void schedule_once(replay_t *rp)
{
	const cap_replay_opts_t *o = rp->o;
	for (;;) {
		if (o->max_requests && rp->res->sent >= o->max_requests)
			rp->stopping = true;
		if (!rp->stopping)
			fill(rp);
		/* the backlog goes first */
		while (rp->bl_head && !rp->stopping) {
			rconn_t *c = free_conn(rp);
			if (!c)
				break;
			job_t *j = rp->bl_head;
			rp->bl_head = j->next;
			if (!rp->bl_head)
				rp->bl_tail = NULL;
			start(c, j);
			if (o->max_requests && rp->res->sent >= o->max_requests)
				rp->stopping = true;
		}
		if (rp->stopping || rp->nheap == 0)
			break;
		int64_t now = clock_mono_ns();
		job_t *top = rp->heap[0];
		if (!rp->started) {
			rp->started = true;
			rp->t0_mono = now;
			rp->t0_rec = top->req_ns;
		}
		if (o->speed > 0) {
			double off = (double)(top->req_ns - rp->t0_rec) / o->speed;
			int64_t due = rp->t0_mono + (int64_t)(off > 0 ? off : 0);
			if (due > now) {
				int64_t d = due - now;
				struct timeval tv = {(time_t)(d / 1000000000),
						     (suseconds_t)(d % 1000000000 /
								   1000)};
				event_add(rp->ev_timer, &tv);
				break;
			}
			job_t *j = heap_pop(rp);
			j->due = due;
			rconn_t *c = free_conn(rp);
			if (c && !rp->bl_head) {
				start(c, j);
			} else {
				j->next = NULL;
				if (rp->bl_tail)
					rp->bl_tail->next = j;
				else
					rp->bl_head = j;
				rp->bl_tail = j;
			}
			continue;
		}
		rconn_t *c = free_conn(rp);
		if (!c)
			break;
		job_t *j = heap_pop(rp);
		j->due = now;
		start(c, j);
	}
	bool idle = rp->nbusy == 0;
	if (idle && (rp->stopping || (rp->eof && rp->nheap == 0 &&
				      !rp->bl_head)))
		event_base_loopbreak(rp->base);
}

/* Runs the scheduler; calls made from inside it (a request that failed
 * at once) only ask for another round, so failures cannot recurse. */
static void schedule(replay_t *rp)
{
	if (rp->in_sched) {
		rp->resched = true;
		return;
	}
	rp->in_sched = true;
	do {
		rp->resched = false;
		schedule_once(rp);
	} while (rp->resched);
	rp->in_sched = false;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	schedule(arg);
}

static void fill_rates(replay_t *rp)
{
	cap_replay_result_t *res = rp->res;
	res->speed = rp->o->speed;
	res->elapsed_ns = rp->last_done > rp->first_send
				  ? rp->last_done - rp->first_send
				  : 0;
	res->send_span_ns = rp->last_send - rp->first_send;
	res->recorded_span_ns = rp->rec_last_sent - rp->rec_first_sent;
	uint64_t n = res->sent > 1 ? res->sent - 1 : 0;
	res->achieved_rate = res->send_span_ns > 0
				     ? (double)n * 1e9 / (double)res->send_span_ns
				     : 0;
	res->target_rate = rp->o->speed > 0 && res->recorded_span_ns > 0
				   ? (double)n * 1e9 * rp->o->speed /
					     (double)res->recorded_span_ns
				   : 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	replay_t *rp = arg;
	(void)fd;
	(void)what;
	int64_t now = clock_mono_ns();
	if (rp->o->stop && *rp->o->stop && !rp->stopping) {
		rp->cancel = true;
		stop_now(rp);
	}
	if (rp->o->duration && rp->first_send &&
	    now - rp->first_send >= rp->o->duration && !rp->stopping)
		stop_now(rp);
	if (rp->o->progress) {
		fill_rates(rp);
		int64_t eta = -1;
		if (rp->total && rp->res->sent && rp->first_send) {
			double rate = (double)rp->res->sent * 1e9 /
				      (double)(now - rp->first_send + 1);
			uint64_t left = rp->total > rp->res->sent
						? rp->total - rp->res->sent
						: 0;
			eta = rate > 0 ? (int64_t)((double)left / rate * 1e9) : -1;
		}
		rp->o->progress(rp->o->progress_arg, rp->res, rp->total, eta);
	}
	schedule(rp);
}

/* --------------------------------------------------------------- run */

/* Counts the records replay would send (for the progress bar). */
static uint64_t count_records(const cap_replay_opts_t *o)
{
	cap_reader_t *r;
	char err[640];
	if (cap_reader_open(o->file, &r, err, sizeof(err)))
		return 0;
	cap_rec_t rec;
	uint64_t n = 0;
	while (cap_reader_next(r, &rec) == 1)
		if (rec.kind == CAP_KIND_EXCHANGE &&
		    cap_filter_match(o->filter, &rec))
			n++;
	cap_reader_close(r);
	if (o->max_requests && n > o->max_requests)
		n = o->max_requests;
	return n;
}

int cap_replay_run(const cap_replay_opts_t *o, cap_replay_result_t *res,
		   char *err, size_t errcap)
{
	memset(res, 0, sizeof(*res));
	replay_t rp = {.o = o, .res = res};
	int rc = addr_resolve(&o->target, &rp.ss, &rp.sslen);
	if (rc) {
		char t[ADDR_TEXT_MAX];
		snprintf(err, errcap, "cannot resolve target %s",
			 addr_format(&o->target, t));
		return rc;
	}
	if (open_reader(&rp)) {
		snprintf(err, errcap, "%s", rp.errbuf);
		return ERR_CORRUPT;
	}
	if (o->count_first && !o->loop)
		rp.total = count_records(o);
	struct event_config *ec = event_config_new();
	/* one thread; timers to the microsecond (timerfd), since the
	 * schedule is what replay is judged on */
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK |
					  EVENT_BASE_FLAG_PRECISE_TIMER);
	rp.base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (!rp.base)
		xmalloc_oom("event_base_new");
	struct timeval tvt = {(time_t)(o->timeout / 1000000000),
			      (suseconds_t)(o->timeout % 1000000000 / 1000)};
	rp.tv_timeout = event_base_init_common_timeout(rp.base, &tvt);
	if (!rp.tv_timeout)
		rp.tv_timeout = &tvt;
	rp.nconns = o->connections > 0 ? o->connections : 1;
	if (rp.nconns > REPLAY_MAX_CONNECTIONS)
		rp.nconns = REPLAY_MAX_CONNECTIONS;
	rp.conns = xcalloc((size_t)rp.nconns, sizeof(rconn_t));
	for (int i = 0; i < rp.nconns; i++) {
		rp.conns[i].rp = &rp;
		rp.conns[i].fd = -1;
	}
	rp.ev_timer = event_new(rp.base, -1, 0, on_timer, &rp);
	rp.ev_tick = event_new(rp.base, -1, EV_PERSIST, on_tick, &rp);
	struct timeval tick = {0, REPLAY_TICK_MS * 1000};
	event_add(rp.ev_tick, &tick);
	schedule(&rp);
	if (!(rp.eof && rp.nheap == 0 && rp.nbusy == 0 && !rp.bl_head))
		event_base_dispatch(rp.base);
	fill_rates(&rp);
	if (o->progress)
		o->progress(o->progress_arg, res, rp.total, 0);
	/* what was read ahead but not sent */
	while (rp.nheap)
		job_free(heap_pop(&rp));
	while (rp.bl_head) {
		job_t *j = rp.bl_head;
		rp.bl_head = j->next;
		job_free(j);
	}
	for (int i = 0; i < rp.nconns; i++) {
		rconn_t *c = &rp.conns[i];
		if (c->job) {
			res->cancelled++;
			job_free(c->job);
		}
		conn_close(c);
		cmp_capture_free(&c->cap);
		buf_free(&c->in);
	}
	free(rp.conns);
	free(rp.heap);
	if (rp.rd)
		cap_reader_close(rp.rd);
	event_free(rp.ev_timer);
	event_free(rp.ev_tick);
	event_base_free(rp.base);
	return 0;
}
