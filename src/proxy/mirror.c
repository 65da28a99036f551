/*
 * mirror.c: the shadow side. A sampled request's copy is assembled while
 * the request streams to production (head at once, de-chunked body as it
 * comes), and handed to the worker's mirror queue when complete. The
 * queue is bounded in requests and bytes and fed through a token bucket;
 * over any bound the copy is dropped and counted by reason, never waited
 * for. A per-worker pool of shadow connections (at most shadow.pool_size
 * per replica) drains the queue once per pass of the event loop, several
 * copies pipelined on a connection in one write (see "sending" below); a
 * shadow that refuses connections trips a circuit breaker so a dead
 * shadow costs one connect per period, not one per request. Responses
 * are read to the end (so connections are reused) and streamed through
 * the comparison as they arrive (never buffered whole: past the
 * capture budget it keeps a digest). Reads are bounded per callback, and
 * a response that runs past mirror.max_body or shadow.response_deadline
 * closes its connection (counted): a shadow that sends without end
 * costs neither memory nor the worker.
 *
 * Sampling: random (per-worker xorshift), or consistent on a header,
 * cookie or query parameter: hash(value) < ratio, so one user is mirrored
 * wholly or not at all. Requests without the key fall back to random.
 */
#include "proxy/proxy_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* --------------------------------------------------------------- sampling */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* 64-bit FNV-1a then a murmur3 finaliser: stable across runs and
 * workers, well spread in its top bits. */
static uint64_t key_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The value of name in a "a=1; b=2" cookie list or "a=1&b=2" query. */
static bool find_pair(const char *s, size_t n, char sep, const char *name,
		      const char **v, size_t *vlen)
{
	size_t nl = strlen(name), i = 0;
	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == sep))
			i++;
		size_t k = i;
		while (i < n && s[i] != '=' && s[i] != sep)
			i++;
		size_t klen = i - k;
		size_t vs = i < n && s[i] == '=' ? i + 1 : i;
		size_t ve = vs;
		while (ve < n && s[ve] != sep)
			ve++;
		if (klen == nl && memcmp(s + k, name, nl) == 0) {
			*v = s + vs;
			*vlen = ve - vs;
			return true;
		}
		i = ve;
	}
	return false;
}

static bool sample_key(const proxy_rt_t *rt, const http_request_t *req,
		       const char **v, size_t *vlen)
{
	const http_header_t *h;
	switch (rt->sample_by) {
	case CONFIG_SAMPLE_HEADER:
		h = http_header_find(req->headers, req->nheaders,
				     rt->sample_key);
		if (!h)
			return false;
		*v = h->value;
		*vlen = h->value_len;
		return true;
	case CONFIG_SAMPLE_COOKIE:
		for (size_t i = 0; i < req->nheaders; i++) {
			h = &req->headers[i];
			if (h->name_len == 6 &&
			    strncasecmp(h->name, "Cookie", 6) == 0 &&
			    find_pair(h->value, h->value_len, ';',
				      rt->sample_key, v, vlen))
				return true;
		}
		return false;
	case CONFIG_SAMPLE_QUERY: {
		const char *q = memchr(req->target, '?', req->target_len);
		if (!q)
			return false;
		size_t qn = req->target_len - (size_t)(q + 1 - req->target);
		return find_pair(q + 1, qn, '&', rt->sample_key, v, vlen);
	}
	default:
		return false;
	}
}

bool proxy__mirror_sample(worker_t *w, const http_request_t *req)
{
	const proxy_rt_t *rt = w->rt;
	bool method_ok = false;
	for (size_t i = 0; i < rt->nmethods && !method_ok; i++)
		method_ok = strlen(rt->methods[i]) == req->method_len &&
			    memcmp(rt->methods[i], req->method,
				   req->method_len) == 0;
	if (!method_ok) {
		WC_INC(w, mirror_skipped_method);
		return false;
	}
	if (rt->ratio >= 1.0) {
		WC_INC(w, mirror_sampled);
		return true;
	}
	const char *v;
	size_t vlen;
	uint64_t x = sample_key(rt, req, &v, &vlen) ? key_hash(v, vlen)
						    : xorshift(&w->rng);
	/* compare the top 53 bits with ratio as a binary fraction */
	bool yes = (double)(x >> 11) < rt->ratio * 9007199254740992.0;
	if (yes)
		WC_INC(w, mirror_sampled);
	return yes;
}

/* --------------------------------------------------------------- jobs */

static void wire_unref(buf_t *wire, unsigned *refs)
{
	if (--*refs == 0) {
		buf_free(wire);
		free(wire);
		free(refs);
	}
}

static void job_free(mjob_t *j)
{
	worker_t *w = j->w;
	if (j->pair)
		proxy__pair_unref(w, j->pair);
	wire_unref(j->wire, j->wire_refs);
	free(j);
}

static void mconn_link(worker_t *w, uconn_t *u)
{
	u->mprev = NULL;
	u->mnext = w->mconns;
	if (w->mconns)
		w->mconns->mprev = u;
	w->mconns = u;
}

static void mconn_unlink(worker_t *w, uconn_t *u)
{
	if (u->mprev)
		u->mprev->mnext = u->mnext;
	else
		w->mconns = u->mnext;
	if (u->mnext)
		u->mnext->mprev = u->mprev;
	u->mprev = u->mnext = NULL;
}

static bool shadow_available(worker_t *w)
{
	int64_t now = proxy__now();
	for (int s = PROXY_SHADOW; s <= PROXY_BASELINE; s++)
		for (size_t i = 0; i < w->nside[s]; i++)
			if (w->side[s][i]->down_until <= now)
				return true;
	return false;
}

void proxy__mirror_begin(cconn_t *c, const http_request_t *req)
{
	worker_t *w = c->w;
	const proxy_rt_t *rt = w->rt;
	/* Cheap refusals first: nothing is copied for a copy that would
	 * be dropped anyway. */
	if (w->draining) {
		WC_DROP(w, PROXY_DROP_DRAINING);
		return;
	}
	if (!shadow_available(w)) {
		WC_DROP(w, PROXY_DROP_SHADOW_DOWN);
		return;
	}
	if (w->qlen >= rt->queue_requests) {
		WC_DROP(w, PROXY_DROP_QUEUE_FULL);
		return;
	}
	if (req->body == HTTP_BODY_LENGTH && req->content_length > rt->max_body) {
		WC_DROP(w, PROXY_DROP_BODY_TOO_LARGE);
		return;
	}
	c->mirroring = true;
	/* Keep the head as received (process() has moved c->in.start to
	 * its end); it is re-read when the copy is built, once the body is
	 * complete. The body follows it in the same buffer. */
	size_t hl = (size_t)(c->in.data + c->in.start - req->method);
	c->mbody.len = 0;
	buf_append(&c->mbody, req->method, hl);
	c->mhead_len = hl;
	c->pair = proxy__pair_new(w, c->endpoint, req->method_id,
				  clock_wall_ns());
	c->pair->want[PROXY_PRODUCTION] = true;
	c->pair->want[PROXY_SHADOW] = w->nside[PROXY_SHADOW] > 0;
	c->pair->want[PROXY_BASELINE] = w->nside[PROXY_BASELINE] > 0;
}

void proxy__mirror_body(cconn_t *c, const char *data, size_t len)
{
	worker_t *w = c->w;
	if (c->mbody.len - c->mhead_len + len > w->rt->max_body) {
		proxy__mirror_abort(c, PROXY_DROP_BODY_TOO_LARGE);
		return;
	}
	/* Copies being assembled count against the queue's byte bound
	 * too: many clients uploading at once cannot grow memory past
	 * it. */
	if (w->qbytes + w->assembling + len > w->rt->queue_bytes) {
		proxy__mirror_abort(c, PROXY_DROP_QUEUE_BYTES);
		return;
	}
	buf_append(&c->mbody, data, len);
	w->assembling += len;
	c->massembled += len;
}

/* Releases the assembly accounting of c's copy. */
static void assembled_done(cconn_t *c)
{
	c->w->assembling -= c->massembled;
	c->massembled = 0;
	/* A large copy should not pin its buffer on a keep-alive
	 * connection. */
	if (c->mbody.cap > 64 * 1024)
		buf_free(&c->mbody);
	else
		c->mbody.len = 0;
}

void proxy__mirror_abort(cconn_t *c, proxy_drop_t why)
{
	if (!c->mirroring)
		return;
	WC_DROP(c->w, why);
	c->mirroring = false;
	assembled_done(c);
	if (c->pair) {
		c->pair->want[PROXY_SHADOW] = false;
		c->pair->want[PROXY_BASELINE] = false;
	}
}

/* Token bucket (refilled lazily): true when a copy may go now. */
static bool take_token(worker_t *w)
{
	const proxy_rt_t *rt = w->rt;
	if (rt->rate <= 0)
		return true;
	int64_t now = proxy__now();
	w->tokens += rt->rate * (double)(now - w->tokens_at) / 1e9;
	w->tokens_at = now;
	if (w->tokens > rt->burst)
		w->tokens = rt->burst;
	if (w->tokens < 1)
		return false;
	w->tokens -= 1;
	return true;
}

/* The queue's length and bytes, and their gauges, as j joins it (in)
 * or leaves it. */
static void queue_account(worker_t *w, const mjob_t *j, bool in)
{
	uint64_t len = j->wire->len;
	if (in) {
		w->qlen++;
		w->qbytes += len;
		WC_INC(w, queue_requests);
		WC_ADD(w, queue_bytes, len);
	} else {
		w->qlen--;
		w->qbytes -= len;
		WC_ADD(w, queue_requests, (uint64_t)-1); /* unsigned: minus 1 */
		WC_ADD(w, queue_bytes, -len);
	}
}

static void enqueue(worker_t *w, mjob_t *j)
{
	j->enqueued_ns = proxy__now();
	j->next = NULL;
	if (w->qtail)
		w->qtail->next = j;
	else
		w->qhead = j;
	w->qtail = j;
	queue_account(w, j, true);
}

static mjob_t *dequeue(worker_t *w)
{
	mjob_t *j = w->qhead;
	if (!j)
		return NULL;
	w->qhead = j->next;
	if (!w->qhead)
		w->qtail = NULL;
	queue_account(w, j, false);
	j->next = NULL;
	return j;
}

/* Masks the copy in wire in place (DESIGN.md: mirrored traffic is masked
 * before it leaves the proxy; the forwarding fields are masked too). 0,
 * or the masker's error, with wire unchanged. */
static int mask_copy(worker_t *w, buf_t *wire)
{
	http_request_t req = {.headers = w->hdrs, .cap = w->hdrs_cap};
	http_err_t e;
	size_t sc = 0;
	http_limits_t lim = {wire->len, wire->len, w->hdrs_cap};
	int hl = http_parse_request(wire->data, wire->len, &sc, &lim, &req, &e);
	if (hl <= 0)
		return ERR_PARSE;
	for (size_t i = 0; i < req.nheaders; i++)
		w->mhdrs[i] = (mask_header_t){req.headers[i].name,
					      req.headers[i].name_len,
					      req.headers[i].value,
					      req.headers[i].value_len};
	mask_request_t mr = {req.method,
			     req.method_len,
			     req.target,
			     req.target_len,
			     w->mhdrs,
			     req.nheaders,
			     wire->data + hl,
			     wire->len - (size_t)hl,
			     false};
	buf_reset(&w->mscratch);
	int rc = mask_request(w->mctx, &mr, &w->mscratch);
	if (rc)
		return rc;
	/* swap: the masked bytes become the wire */
	buf_t t = *wire;
	*wire = w->mscratch;
	w->mscratch = t;
	return 0;
}

void proxy__mirror_finish(cconn_t *c)
{
	worker_t *w = c->w;
	const proxy_rt_t *rt = w->rt;
	if (!c->mirroring)
		return;
	c->mirroring = false;
	unsigned k = atomic_load_explicit(&w->px->amplification,
					  memory_order_relaxed);
	size_t body_len = c->mbody.len - c->mhead_len;
	bool base = c->pair && c->pair->want[PROXY_BASELINE];
	size_t copies = (c->pair && c->pair->want[PROXY_SHADOW] ? k : 0) +
			(base ? 1 : 0);
	if (w->qlen + copies > rt->queue_requests) {
		WC_DROP(w, PROXY_DROP_QUEUE_FULL);
		goto refused;
	}
	/* Re-read the head we kept and write the copy: same request, Host
	 * kept, Expect dropped (the body goes at once), the mark header
	 * added, framed by Content-Length. */
	http_header_t *hdrs = w->hdrs;
	http_request_t req = {.headers = hdrs, .cap = w->hdrs_cap};
	http_err_t e;
	size_t sc = 0;
	http_limits_t lim = rt->limits;
	if (http_parse_request(c->mbody.data, c->mhead_len, &sc, &lim, &req,
			       &e) <= 0) {
		WC_DROP(w, PROXY_DROP_MASK_FAILED);
		goto refused;
	}
	buf_t *wire = xcalloc(1, sizeof(*wire));
	unsigned *refs = xcalloc(1, sizeof(*refs));
	http_fwd_t f = {
		.client_ip = c->ip[0] ? c->ip : NULL,
		.xff = rt->forwarded == CONFIG_FWD_BOTH ||
		       rt->forwarded == CONFIG_FWD_XFF,
		.forwarded = rt->forwarded == CONFIG_FWD_BOTH ||
			     rt->forwarded == CONFIG_FWD_FORWARDED,
		.drop_expect = true,
		.extra = rt->mark_header,
		.body = body_len ? HTTP_BODY_LENGTH : HTTP_BODY_NONE,
		.content_length = body_len,
	};
	http_write_request_head(wire, &req, &f);
	buf_append(wire, c->mbody.data + c->mhead_len, body_len);
	if (w->mctx && mask_copy(w, wire) != 0) {
		/* Masking fails closed: nothing unmasked leaves. */
		WC_DROP(w, PROXY_DROP_MASK_FAILED);
		log_debug_limited("proxy", "copy not masked: dropped",
				  LF_S("reason", mask_ctx_error(w->mctx)));
		buf_free(wire);
		free(wire);
		free(refs);
		goto refused;
	}
	if (w->qbytes + wire->len * copies > rt->queue_bytes) {
		WC_DROP(w, PROXY_DROP_QUEUE_BYTES);
		buf_free(wire);
		free(wire);
		free(refs);
		goto refused;
	}
	for (int s = PROXY_SHADOW; s <= PROXY_BASELINE; s++) {
		unsigned n = s == PROXY_SHADOW
				     ? (c->pair->want[PROXY_SHADOW] ? k : 0)
				     : (base ? 1 : 0);
		for (unsigned i = 0; i < n; i++) {
			if (!take_token(w)) {
				WC_DROP(w, PROXY_DROP_RATE_LIMITED);
				if (i == 0)
					c->pair->want[s] = false;
				break;
			}
			mjob_t *j = xcalloc(1, sizeof(*j));
			j->w = w;
			j->side = (proxy_side_t)s;
			j->wire = wire;
			j->wire_refs = refs;
			(*refs)++;
			j->method = req.method_id;
			j->req_bytes = (uint32_t)wire->len;
			if (i == 0) {
				j->pair = c->pair;
				c->pair->refs++;
			}
			enqueue(w, j);
		}
	}
	if (*refs == 0) {
		buf_free(wire);
		free(wire);
		free(refs);
	}
	assembled_done(c);
	proxy__mirror_later(w);
	return;
refused:
	assembled_done(c);
	if (c->pair) {
		c->pair->want[PROXY_SHADOW] = false;
		c->pair->want[PROXY_BASELINE] = false;
	}
}

/* Detaches and returns a connection's in-flight copies (oldest first). */
static mjob_t *mconn_take_jobs(uconn_t *u)
{
	mjob_t *j = u->job;
	u->job = u->jtail = NULL;
	u->njobs = 0;
	return j;
}

void proxy__mirror_drop_all(worker_t *w, proxy_drop_t why)
{
	/* Copies on the wire are abandoned: the shadow's answer no longer
	 * matters once the worker stops. */
	while (w->mconns) {
		uconn_t *u = w->mconns;
		mconn_unlink(w, u);
		if (u->rep)
			u->rep->nbusy--;
		mjob_t *aj = mconn_take_jobs(u);
		while (aj) {
			mjob_t *next = aj->next;
			WC_DROP(w, why);
			if (aj->pair)
				proxy__pair_unwant(w, aj->pair, aj->side);
			job_free(aj);
			aj = next;
		}
		proxy__uconn_release(u, false);
	}
	mjob_t *j;
	while ((j = dequeue(w))) {
		WC_DROP(w, why);
		if (j->pair)
			proxy__pair_unwant(w, j->pair, j->side);
		job_free(j);
	}
}

/* --------------------------------------------------------------- sending
 *
 * Batching. proxy__mirror_finish only queues; the queue is dispatched
 * once per pass of the event loop (proxy__mirror_later), so the copies of
 * every request that arrived in one pass leave together. Each shadow
 * connection taken from the pool (or opened) in a dispatch carries up to
 * shadow.pipeline copies, written with one write(2): HTTP/1.1
 * pipelining. Responses come back in order and are parsed one after the
 * other from the connection's read buffer (several may arrive in one
 * read). A connection gets copies only while it is being filled in one
 * dispatch, never while copies it carries are unanswered: a shadow that
 * stalls holds at most shadow.pipeline copies per connection, and the
 * queue, not the connection, is where copies wait.
 *
 * Failures: a connection that fails (connect, reset, timeout, garbage)
 * fails every copy it carries, each counted once as a shadow error or
 * timeout; the breaker hears of it once. A response that closes the
 * connection (Connection: close, HTTP/1.0) with copies behind it: the
 * server has not processed them (RFC 9112 9.6), so they go back to the
 * head of the queue, once, and that replica gets one copy per connection
 * from then on (in this worker); a re-sent copy lost again is an error.
 */

static unsigned pipeline_depth(const worker_t *w, const replica_t *rep)
{
	return rep && rep->no_pipeline ? 1 : w->rt->shadow_pipeline;
}

static void job_record(worker_t *w, mjob_t *j, int status, uint8_t err)
{
	int64_t now = proxy__now();
	uint32_t lat = (uint32_t)((now - j->sent_ns) / 1000);
	if (j->pair) {
		capture_t *cap = &j->pair->side[j->side];
		cap->c.status = status;
		cap->req_bytes = j->req_bytes;
		cap->resp_bytes = j->resp_bytes;
		cap->connect_us = j->connect_us;
		cap->ttfb_us = j->ttfb_us;
		proxy__pair_side_done(w, j->pair, j->side, err != 0, err, lat);
		return;
	}
	/* an amplification copy: load only, recorded as such */
	reqrec_t r = {0};
	r.start_ns = clock_wall_ns() - (now - j->sent_ns);
	r.latency_us = lat;
	r.ttfb_us = j->ttfb_us;
	r.connect_us = j->connect_us;
	r.req_bytes = j->req_bytes;
	r.resp_bytes = (uint32_t)j->resp_bytes;
	r.status = (uint16_t)status;
	r.side = j->side == PROXY_BASELINE ? REQREC_BASELINE : REQREC_SHADOW;
	r.error = err;
	r.method = (uint8_t)j->method;
	r.worker = (uint8_t)w->id;
	proxy__record(w, &r);
}

/* Ends one copy: counts it (answered, or failed with err), records it
 * and frees it. Takes j. */
static void job_end(worker_t *w, mjob_t *j, bool ok, uint8_t err)
{
	if (ok)
		WC_INC(w, mirror_done);
	else if (err == REQREC_ERR_TIMEOUT)
		WC_INC(w, shadow_timeouts);
	else
		WC_INC(w, shadow_errors);
	job_record(w, j, j->status, ok ? REQREC_OK : err);
	job_free(j);
}

/* Ends a list of copies (linked by next) that all failed with err. */
static void jobs_fail(worker_t *w, mjob_t *j, uint8_t err)
{
	while (j) {
		mjob_t *next = j->next;
		job_end(w, j, false, err);
		j = next;
	}
}

/* The connection carries no copy any more: it leaves the mirror's list
 * and goes back to the pool (reusable) or is closed. Queued copies may
 * use its slot, at the end of this pass. */
static void mconn_end(uconn_t *u, bool reusable)
{
	worker_t *w = u->w;
	mconn_unlink(w, u);
	if (u->rep)
		u->rep->nbusy--;
	mconn_take_jobs(u);
	proxy__uconn_release(u, reusable);
	proxy__mirror_later(w);
}

/* The connection failed with copies in flight: each is counted once
 * (err), the breaker hears of one failure (protocol errors are not
 * transport failures), the connection is closed. */
static void mconn_fail(uconn_t *u, uint8_t err)
{
	worker_t *w = u->w;
	proxy__replica_result(u->rep, err == REQREC_ERR_PROTOCOL);
	mjob_t *j = mconn_take_jobs(u);
	mconn_end(u, false);
	jobs_fail(w, j, err);
}

/* The shadow sent a response past mirror.max_body: its copies fail as
 * protocol errors, but unlike other protocol errors this one counts
 * toward the breaker, so that a shadow that floods every connection is
 * given copies as rarely as a dead one. */
static void mconn_fail_flood(uconn_t *u)
{
	worker_t *w = u->w;
	proxy__replica_result(u->rep, false);
	mjob_t *j = mconn_take_jobs(u);
	mconn_end(u, false);
	jobs_fail(w, j, REQREC_ERR_PROTOCOL);
}

/* Puts copies (a list, oldest first) back at the head of the queue, in
 * order: the shadow closed the connection before answering them. Each
 * goes back once; one already re-sent fails as a reset. */
static void requeue_front(worker_t *w, mjob_t *j)
{
	mjob_t *first = NULL, *last = NULL;
	while (j) {
		mjob_t *next = j->next;
		if (j->resent) {
			job_end(w, j, false, REQREC_ERR_RESET);
		} else {
			j->resent = true;
			j->next = NULL;
			if (last)
				last->next = j;
			else
				first = j;
			last = j;
			queue_account(w, j, true);
		}
		j = next;
	}
	if (!first)
		return;
	last->next = w->qhead;
	w->qhead = first;
	if (!w->qtail)
		w->qtail = last;
	proxy__mirror_later(w);
}

/* Arms a busy connection's timer: shadow.response_timeout of silence,
 * or what is left of the oldest copy's shadow.response_deadline if that
 * comes first. */
static void mconn_arm(uconn_t *u)
{
	const proxy_rt_t *rt = u->w->rt;
	int64_t left = u->job ? u->job->sent_ns +
					rt->shadow_response_deadline -
					proxy__now()
			      : INT64_MAX;
	u->late = left < rt->shadow_response_timeout;
	if (!u->late) {
		proxy__uconn_arm(u, rt->shadow_response_timeout);
		return;
	}
	struct timeval tv = proxy__tv(left > 0 ? left : 1);
	event_add(u->tev, &tv);
}

/* Writes a filled connection's batch (or, while it connects, arms the
 * connect timeout: the write follows the connect). On a write error the
 * copies are counted and the connection is gone. */
static void mconn_start(uconn_t *u)
{
	worker_t *w = u->w;
	if (u->state == U_CONNECTING) {
		proxy__uconn_arm(u, w->rt->shadow_connect_timeout);
		return;
	}
	mconn_arm(u);
	int rc = obuf_flush(&u->out, u->fd, NULL);
	if (rc == ERR_AGAIN)
		event_add(u->wev, NULL);
	else if (rc < 0)
		/* a stale pooled connection: the copies are lost (never
		 * retried blindly: best effort) */
		mconn_fail(u, REQREC_ERR_RESET);
}

static void drop_queued(worker_t *w, mjob_t *j)
{
	dequeue(w);
	WC_DROP(w, PROXY_DROP_SHADOW_DOWN);
	if (j->pair)
		proxy__pair_unwant(w, j->pair, j->side);
	job_free(j);
}

void proxy__mirror_dispatch(worker_t *w)
{
	const proxy_rt_t *rt = w->rt;
	/* per side, the connection being filled in this dispatch */
	uconn_t *open[PROXY_SIDE__COUNT] = {0};
	while (w->qhead) {
		mjob_t *j = w->qhead;
		proxy_side_t s = j->side;
		uconn_t *u = open[s];
		if (u && u->njobs >= pipeline_depth(w, u->rep)) {
			open[s] = NULL;
			mconn_start(u);
			u = NULL;
		}
		if (!u) {
			if (w->nside[s] == 0) {
				drop_queued(w, j);
				continue;
			}
			replica_t *rep = proxy__replica_pick(w, s);
			if (!rep) {
				/* breaker open on every replica of that side */
				drop_queued(w, j);
				continue;
			}
			if (!rep->idle && rep->nbusy >= rt->shadow_pool)
				break; /* all connections busy: the queue waits */
			bool reused;
			int err = 0;
			u = proxy__uconn_get(rep, true, &reused, &err);
			if (!u) {
				proxy__replica_result(rep, false);
				dequeue(w);
				WC_INC(w, shadow_errors);
				if (j->pair)
					proxy__pair_side_done(w, j->pair,
							      j->side, true,
							      REQREC_ERR_CONNECT,
							      0);
				job_free(j);
				continue;
			}
			rep->nbusy++;
			mconn_link(w, u);
			open[s] = u;
		}
		dequeue(w);
		if (u->jtail)
			u->jtail->next = j;
		else
			u->job = j;
		u->jtail = j;
		u->njobs++;
		j->sent_ns = proxy__now();
		j->head_done = false;
		j->scanned = 0;
		j->status = 0;
		j->ttfb_us = 0;
		j->connect_us = 0;
		j->resp_bytes = 0;
		j->body_bytes = 0;
		buf_append(&u->out.b, j->wire->data, j->wire->len);
		if (!j->resent)
			WC_INC(w, mirror_sent);
		WC_ADD(w, bytes_shadow_out, j->wire->len);
	}
	for (int s = 0; s < PROXY_SIDE__COUNT; s++)
		if (open[s])
			mconn_start(open[s]);
}

/* Passes a piece of a copy's response body to the comparison. Once the
 * body is longer than production's complete one, the pair differs in
 * size whatever follows (cmp_diff compares lengths before any digest),
 * so the rest is only counted: a shadow that streams megabytes costs
 * no hashing. */
static void capture_body(worker_t *w, mjob_t *j, capture_t *cap,
			 const char *d, size_t n)
{
	const capture_t *prod = &j->pair->side[PROXY_PRODUCTION];
	if (prod->done && !prod->failed && cap->c.body_len > prod->c.body_len) {
		cap->c.body_len += n;
		cap->c.body_truncated = true; /* kept bytes are a prefix */
		return;
	}
	proxy__capture_body(w, cap, d, n);
}

/* Parses and consumes the response to the connection's oldest copy: 1
 * when it is complete, 0 when more bytes are needed, ERR_PARSE, or
 * ERR_TOOBIG past mirror.max_body. */
static int read_response(uconn_t *u)
{
	mjob_t *j = u->job;
	worker_t *w = u->w;
	capture_t *cap = j->pair ? &j->pair->side[j->side] : NULL;
	while (iobuf_len(&u->in)) {
		const char *p = u->in.data + u->in.start;
		size_t avail = iobuf_len(&u->in);
		if (!j->head_done) {
			http_response_t r = {.headers = w->hdrs,
					     .cap = w->hdrs_cap};
			http_err_t e;
			int rc = http_parse_response(p, avail, &j->scanned,
						     &w->rt->limits, j->method,
						     &r, &e);
			if (rc == ERR_AGAIN)
				return 0;
			if (rc < 0)
				return ERR_PARSE;
			u->in.start += (size_t)rc;
			j->scanned = 0;
			if (!j->ttfb_us)
				j->ttfb_us = (uint32_t)((proxy__now() -
							 j->sent_ns) /
							1000);
			if (r.status < 200)
				continue; /* interim */
			j->status = r.status;
			j->body = r.body == HTTP_BODY_TUNNEL ? HTTP_BODY_NONE
							     : r.body;
			j->remaining = r.content_length;
			j->keep_alive = r.keep_alive;
			j->head_done = true;
			j->resp_bytes += (uint64_t)rc;
			if (r.body == HTTP_BODY_CHUNKED)
				http_chunked_init(&j->chunk,
						  w->rt->limits.max_head);
			if (cap)
				proxy__capture_head(w, cap, &r);
			if (j->body == HTTP_BODY_NONE)
				return 1;
			continue;
		}
		if (j->body_bytes > w->rt->max_body)
			return ERR_TOOBIG;
		if (j->body == HTTP_BODY_LENGTH) {
			size_t take = avail < j->remaining ? avail
							   : (size_t)j->remaining;
			j->body_bytes += take;
			if (cap)
				capture_body(w, j, cap, p, take);
			u->in.start += take;
			j->remaining -= take;
			j->resp_bytes += take;
			if (j->remaining == 0)
				return 1;
		} else if (j->body == HTTP_BODY_CHUNKED) {
			const char *d;
			size_t dl;
			http_err_t e;
			ssize_t n = http_chunked_step(&j->chunk, p, avail, &d,
						      &dl, &e);
			if (n < 0)
				return ERR_PARSE;
			j->body_bytes += dl;
			if (dl && cap)
				capture_body(w, j, cap, d, dl);
			u->in.start += (size_t)n;
			j->resp_bytes += (uint64_t)n;
			if (j->chunk.done)
				return 1;
		} else { /* until close */
			j->body_bytes += avail;
			if (cap)
				capture_body(w, j, cap, p, avail);
			u->in.start += avail;
			j->resp_bytes += avail;
		}
	}
	return 0;
}

/* The oldest copy on u was answered in full: pops, counts and frees it.
 * Returns whether the shadow keeps the connection open. */
static bool pop_answered(uconn_t *u)
{
	mjob_t *j = u->job;
	u->job = j->next;
	if (!u->job)
		u->jtail = NULL;
	u->njobs--;
	j->next = NULL;
	bool keep = j->keep_alive;
	proxy__replica_result(u->rep, true);
	job_end(u->w, j, true, REQREC_OK);
	return keep;
}

/* The shadow ended the connection after an answer (Connection: close,
 * HTTP/1.0, or a body delimited by the close) with copies still on it:
 * it has not processed them, so they are queued again, and the replica
 * gets one copy per connection from now on. */
static void closed_with_pending(uconn_t *u)
{
	worker_t *w = u->w;
	if (u->rep && !u->rep->no_pipeline) {
		u->rep->no_pipeline = true;
		log_info("proxy",
			 "shadow closes pipelined connections: one copy per "
			 "connection from now on",
			 LF_S("addr", u->rep->name), LF_I("worker", w->id));
	}
	mjob_t *rest = mconn_take_jobs(u);
	mconn_end(u, false);
	requeue_front(w, rest);
}

/* Parses every complete response in u's buffer. Returns false when the
 * connection is gone (all copies answered, a failure, or a close). */
static bool parse_responses(uconn_t *u)
{
	worker_t *w = u->w;
	for (;;) {
		int rc = read_response(u);
		if (rc == ERR_TOOBIG) {
			WC_INC(w, shadow_too_large);
			log_info_limited("proxy",
					 "shadow response past mirror.max_body: "
					 "connection closed",
					 LF_S("addr", u->rep ? u->rep->name
							     : "?"));
			mconn_fail_flood(u);
			return false;
		}
		if (rc < 0) {
			mconn_fail(u, REQREC_ERR_PROTOCOL);
			return false;
		}
		if (rc == 0)
			return true;
		bool keep = pop_answered(u);
		if (!u->job) {
			bool reusable = keep && iobuf_len(&u->in) == 0;
			u->in.start = u->in.end = 0;
			mconn_end(u, reusable);
			return false;
		}
		if (!keep) {
			closed_with_pending(u);
			return false;
		}
		/* progress: the next copy gets its own timers */
		mconn_arm(u);
	}
}

/* The end of a pass that used up the shadow budget: the budget is back
 * for the next pass. */
void proxy__mirror_refill(worker_t *w)
{
	w->shadow_budget = PROXY_SHADOW_PASS_BUDGET;
}

void proxy__mirror_credit(worker_t *w, size_t n)
{
	w->shadow_budget += n;
	if (w->shadow_budget > PROXY_SHADOW_BUDGET_MAX)
		w->shadow_budget = PROXY_SHADOW_BUDGET_MAX;
}

void proxy__mirror_uconn_event(uconn_t *u, short what)
{
	worker_t *w = u->w;
	if (what & EV_TIMEOUT) {
		if (u->state != U_CONNECTING && u->late)
			WC_INC(w, shadow_deadlines);
		mconn_fail(u, u->state == U_CONNECTING ? REQREC_ERR_CONNECT
						       : REQREC_ERR_TIMEOUT);
		return;
	}
	if (what & EV_WRITE) {
		if (u->state == U_CONNECTING) {
			int so = 0;
			socklen_t sl = sizeof(so);
			getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &so, &sl);
			if (so) {
				mconn_fail(u, REQREC_ERR_CONNECT);
				return;
			}
			u->state = U_BUSY;
			uint32_t cus = (uint32_t)((proxy__now() - u->t_connect) /
						  1000);
			for (mjob_t *j = u->job; j; j = j->next)
				j->connect_us = cus;
			mconn_arm(u);
		}
		int rc = obuf_flush(&u->out, u->fd, NULL);
		if (rc == ERR_AGAIN) {
			event_add(u->wev, NULL);
		} else if (rc < 0) {
			mconn_fail(u, REQREC_ERR_RESET);
			return;
		} else {
			event_del(u->wev);
		}
	}
	if (!(what & EV_READ) || u->state == U_CONNECTING)
		return;
	/* One bounded read, then parse: the buffer never holds more than a
	 * read and a partial head. All shadow connections together read at
	 * most PROXY_SHADOW_PASS_BUDGET per pass of the loop; past it they
	 * wait for the next pass, so a shadow that sends without end gets a
	 * bounded share of the worker, and its own sockets fill up. They
	 * stay readable (level-triggered): no epoll_ctl churn, the next
	 * poll reports them again. */
	if (w->shadow_budget == 0)
		return;
	bool eof = false, got = false;
	for (;;) {
		iobuf_reserve(&u->in, PROXY_READ_CHUNK);
		size_t want = u->in.cap - u->in.end;
		if (want > w->shadow_budget)
			want = w->shadow_budget;
		ssize_t n = read(u->fd, u->in.data + u->in.end, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			eof = true;
			break;
		}
		u->in.end += (size_t)n;
		WC_ADD(w, bytes_shadow_in, (uint64_t)n);
		w->shadow_budget -= (size_t)n;
		if (w->shadow_budget == 0) /* runs after this pass's events */
			event_active(w->ev_refill, EV_TIMEOUT, 0);
		got = true;
		break;
	}
	/* responses that arrived before the close count */
	unsigned before = u->njobs;
	if (!parse_responses(u))
		return;
	if (got && u->njobs == before) /* answers re-armed it already */
		mconn_arm(u); /* not silent: the deadline still runs */
	if (!eof)
		return;
	mjob_t *j = u->job;
	if (j->head_done && j->body == HTTP_BODY_UNTIL_CLOSE) {
		pop_answered(u);
		if (u->job)
			closed_with_pending(u);
		else
			mconn_end(u, false);
		return;
	}
	/* closed or reset with copies unanswered */
	mconn_fail(u, REQREC_ERR_RESET);
}
