/*
 * client.c: client connections and the production exchange, the sacred
 * path (DESIGN.md). One request at a time per connection: its head is
 * parsed, rewritten and sent to a production replica at once, its body is
 * streamed as it arrives (never buffered whole), and the response is
 * streamed back. Pipelined requests wait in the input buffer, in order.
 * Each read callback takes at most PROXY_READ_BUDGET and passes it on
 * before reading more; output on either side pauses reading on the other
 * past PROXY_OUT_HIGH (backpressure: client bodies to production,
 * responses to a slow client, the next pipelined request of a client
 * that does not read), so a slow or greedy peer costs bounded memory and
 * a bounded share of the worker. Every wait has a timer, counted by
 * reason (docs/proxy.md "Limits and timeouts"): header, body gap, body
 * deadline and rate, send (a client that does not read), idle. A client
 * that half-closes after its requests gets their responses.
 *
 * Nothing here waits for the mirror: the copy is assembled on the side
 * (mirror.c) and handed off once the request is complete; the response
 * is captured for comparison as it streams by.
 *
 * Objects closed inside a callback are freed on the next loop turn
 * (proxy__reap_later), so a callback may still look at what it closed
 * (fd < 0 means closed) but does nothing more with it.
 */
#include "proxy/proxy_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void client_cb(evutil_socket_t fd, short what, void *arg);
static void on_send_timeout(evutil_socket_t fd, short what, void *arg);
static void process(cconn_t *c);
static void process_response(cconn_t *c, uconn_t *u);
static void upstream_failed(cconn_t *c, uint8_t err);

/* --------------------------------------------------------------- lifecycle */

void proxy__client_accept(worker_t *w, int fd, const struct sockaddr *sa)
{
	cconn_t *c = xcalloc(1, sizeof(*c));
	c->w = w;
	c->fd = fd;
	c->state = C_HEAD;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  c->ip, sizeof(c->ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, c->ip,
			  sizeof(c->ip));
	c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, client_cb, c);
	c->wev = event_new(w->base, fd, EV_WRITE, client_cb, c);
	c->tev = event_new(w->base, -1, 0, client_cb, c);
	c->sev = event_new(w->base, -1, 0, on_send_timeout, c);
	event_add(c->rev, NULL);
	event_add(c->tev, proxy__timeout(w, w->rt->idle_timeout));
	c->next = w->clients;
	if (w->clients)
		w->clients->prev = c;
	w->clients = c;
	c->in_list = true;
	w->nclients++;
	WC_INC(w, conns_open);
	if (w->draining)
		c->close_after = true;
}

static void unlink_client(cconn_t *c)
{
	worker_t *w = c->w;
	if (!c->in_list)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->in_list = false;
	c->prev = c->next = NULL;
	w->nclients--;
	atomic_store_explicit(&WC(w, conns_open),
			      atomic_load_explicit(&WC(w, conns_open),
						   memory_order_relaxed) -
				      1,
			      memory_order_relaxed);
	atomic_fetch_sub(&w->px->nconns, 1);
	proxy__accept_resume(w);
}

/* Ends the exchange's use of its upstream connection. */
static void drop_upstream(cconn_t *c, bool reusable)
{
	if (!c->up)
		return;
	uconn_t *u = c->up;
	c->up = NULL;
	u->client = NULL;
	proxy__uconn_release(u, reusable);
}

static void reset_exchange(cconn_t *c)
{
	worker_t *w = c->w;
	if (c->tap) /* capture tap: closed mid-exchange */
		proxy__tap_abort(c);
	if (c->mirroring)
		proxy__mirror_abort(c, PROXY_DROP_CLIENT_ABORTED);
	if (c->pair) {
		proxy__pair_unref(w, c->pair);
		c->pair = NULL;
	}
	c->busy = false;
	c->rep = NULL;
	c->resp_head_done = false;
	c->resp_scanned = 0;
	c->sent_any = false;
	c->up_paused = false;
	c->req_done = false;
	c->attempts = 0;
	c->replay.len = 0;
	c->replayable = false;
	c->dechunk = false;
	c->status = 0;
	c->req_bytes = c->resp_bytes = 0;
	c->connect_us = 0;
}

void proxy__client_close(cconn_t *c)
{
	if (c->fd < 0)
		return;
	worker_t *w = c->w;
	drop_upstream(c, false);
	reset_exchange(c);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->tev);
	event_free(c->sev);
	close(c->fd);
	c->fd = -1;
	unlink_client(c);
	c->next = w->dead_clients;
	w->dead_clients = c;
	proxy__reap_later(w);
}

void proxy__client_free(cconn_t *c);
void proxy__client_free(cconn_t *c)
{
	if (c->fd >= 0) {
		/* worker teardown: close without deferring */
		drop_upstream(c, false);
		reset_exchange(c);
		event_free(c->rev);
		event_free(c->wev);
		event_free(c->tev);
		event_free(c->sev);
		close(c->fd);
		c->fd = -1;
		unlink_client(c);
	}
	iobuf_free(&c->in);
	buf_free(&c->out.b);
	buf_free(&c->replay);
	buf_free(&c->mbody);
	free(c);
}

/* Drain: idle connections close now, busy ones after their response. */
void proxy__client_drain(worker_t *w)
{
	cconn_t *c = w->clients;
	while (c) {
		cconn_t *next = c->next;
		c->close_after = true;
		if (!c->busy && c->state == C_HEAD && iobuf_len(&c->in) == 0 &&
		    obuf_pending(&c->out) == 0)
			proxy__client_close(c);
		c = next;
	}
}

/* --------------------------------------------------------------- output */

/* Counts a timer that ended a client's exchange or connection. */
static void count_timeout(worker_t *w, proxy_timeout_t why)
{
	WC_INC(w, timeouts_client);
	WC_INC(w, timeouts[why]);
}

/* Stops reading the client. While a body is read, its timers stop too:
 * the pause is the proxy's (production reads slowly), not the
 * client's. */
static void pause_read(cconn_t *c)
{
	if (!c->read_paused) {
		event_del(c->rev);
		c->read_paused = true;
		c->t_paused = proxy__now();
		if (c->state == C_BODY)
			event_del(c->tev);
	}
}

static void arm_body_timer(cconn_t *c);

/* Reads the client again, unless it has shut its write side. */
static void resume_read(cconn_t *c)
{
	if (c->read_paused && c->fd >= 0 && !c->rd_eof) {
		event_add(c->rev, NULL);
		c->read_paused = false;
		if (c->state == C_BODY) {
			c->t_body += proxy__now() - c->t_paused;
			arm_body_timer(c);
		}
	}
}

/* Flushes output to the client. false when the connection was closed. */
static bool flush_client(cconn_t *c)
{
	uint64_t n = 0;
	int rc = obuf_flush(&c->out, c->fd, &n);
	if (n)
		WC_ADD(c->w, bytes_client_out, n);
	if (rc == ERR_AGAIN) {
		event_add(c->wev, NULL);
		/* listen.send_timeout runs from the last write that made
		 * progress (nginx send_timeout) */
		if (n || !event_pending(c->sev, EV_TIMEOUT, NULL))
			event_add(c->sev, proxy__timeout(c->w,
							 c->w->rt->send_timeout));
		return true;
	}
	if (rc < 0) {
		proxy__client_close(c);
		return false;
	}
	event_del(c->wev);
	event_del(c->sev);
	if (c->state == C_CLOSING) {
		proxy__client_close(c);
		return false;
	}
	return true;
}

/* Flushes the request bytes queued for the upstream. */
static bool flush_upstream(cconn_t *c)
{
	uconn_t *u = c->up;
	if (!u || u->state == U_CONNECTING)
		return true;
	int rc = obuf_flush(&u->out, u->fd, NULL);
	if (rc == ERR_AGAIN) {
		event_add(u->wev, NULL);
		if (obuf_pending(&u->out) > PROXY_OUT_HIGH) {
			/* Production does not take the body as fast as the
			 * client sends it: the client waits, and production
			 * has production.response_timeout to take more. */
			pause_read(c);
			proxy__uconn_arm(u, c->w->rt->response_timeout);
		}
		return true;
	}
	if (rc < 0) {
		upstream_failed(c, REQREC_ERR_RESET);
		return false;
	}
	event_del(u->wev);
	return true;
}

/* Queues a response umbra makes itself (parse errors, 502, 504); with
 * close, the connection closes once it is out. The caller flushes (or
 * ends the exchange, which does). */
static void respond_error(cconn_t *c, int status, const char *text,
			  bool close)
{
	http_write_simple_response(&c->out.b, status, text, close);
	c->sent_any = true;
	if (close)
		c->close_after = true;
}

/* Outside an exchange: answer and close (bad request, header timeout). */
static void close_with_error(cconn_t *c, int status, const char *text)
{
	respond_error(c, status, text, true);
	c->state = C_CLOSING;
	pause_read(c);
	flush_client(c);
}

/* --------------------------------------------------------------- records */

/* Wall-clock time of a monotonic instant (records carry wall time). */
static int64_t wall_of(int64_t mono)
{
	return clock_wall_ns() - (proxy__now() - mono);
}

static void record_production(cconn_t *c, uint8_t err)
{
	worker_t *w = c->w;
	int64_t now = proxy__now();
	reqrec_t r = {0};
	r.start_ns = wall_of(c->t_start);
	r.pair_id = c->pair ? c->pair->id : 0;
	r.endpoint = c->endpoint;
	r.latency_us = (uint32_t)((now - c->t_start) / 1000);
	r.ttfb_us = c->t_first ? (uint32_t)((c->t_first - c->t_start) / 1000)
			       : 0;
	r.connect_us = c->connect_us;
	r.req_bytes = (uint32_t)(c->req_bytes > UINT32_MAX ? UINT32_MAX
							   : c->req_bytes);
	r.resp_bytes = (uint32_t)(c->resp_bytes > UINT32_MAX ? UINT32_MAX
							     : c->resp_bytes);
	r.status = (uint16_t)c->status;
	r.side = REQREC_PRODUCTION;
	r.error = err;
	r.method = (uint8_t)c->method;
	r.worker = (uint8_t)w->id;
	proxy__record(w, &r);
	if (c->pair)
		proxy__pair_side_done(w, c->pair, PROXY_PRODUCTION, err != 0,
				      err, r.latency_us);
}

/* --------------------------------------------------------------- exchange */

/* Ends the current exchange: records it, releases the upstream
 * connection (to the pool when reusable), and readies the client for the
 * next request, or closes it once its output is flushed. Never parses the
 * next request itself: process() loops, so pipelining cannot recurse. */
static void end_exchange(cconn_t *c, bool upstream_reusable, uint8_t err)
{
	worker_t *w = c->w;
	if (c->rep)
		proxy__replica_result(c->rep, err == REQREC_OK ||
						      err == REQREC_ERR_CLIENT);
	drop_upstream(c, upstream_reusable && err == REQREC_OK);
	if (err == REQREC_OK)
		WC_INC(w, responses);
	record_production(c, err);
	if (c->tap) /* capture tap: the exchange is complete */
		proxy__tap_end(c, err);
	bool keep = c->keep_alive && c->resp_keep_alive && c->req_done &&
		    !c->close_after && !w->draining && c->state != C_CLOSING;
	reset_exchange(c);
	if (c->fd < 0)
		return;
	if (!keep) {
		c->state = C_CLOSING;
		pause_read(c);
		flush_client(c);
		return;
	}
	c->state = C_HEAD;
	c->scanned = 0;
	c->t_head = 0;
	if (!flush_client(c))
		return;
	resume_read(c);
	event_add(c->tev, proxy__timeout(w, w->rt->idle_timeout));
}

/* Connects (or takes from the pool) a connection for the exchange and
 * queues the bytes to send: the head, or the replay of all sent so far. */
static bool attach_upstream(cconn_t *c, bool allow_pooled)
{
	worker_t *w = c->w;
	for (int tries = 0; tries < 2; tries++) {
		replica_t *rep = proxy__replica_pick(w, PROXY_PRODUCTION);
		if (!rep)
			return false;
		bool reused;
		int err = 0;
		uconn_t *u = proxy__uconn_get(rep, allow_pooled, &reused, &err);
		if (!u) {
			proxy__replica_result(rep, false);
			continue;
		}
		c->rep = rep;
		c->up = u;
		u->client = c;
		if (!reused) {
			proxy__uconn_arm(u, w->rt->connect_timeout);
		} else {
			c->connect_us = 0;
		}
		return true;
	}
	return false;
}

/* Begins an exchange for the parsed request at the head of c->in. */
static void start_exchange(cconn_t *c, http_request_t *req)
{
	worker_t *w = c->w;
	const proxy_rt_t *rt = w->rt;
	c->busy = true;
	c->t_start = c->t_head ? c->t_head : proxy__now();
	c->t_first = 0;
	c->method = req->method_id;
	c->version = req->version;
	c->keep_alive = req->keep_alive;
	c->expect_continue = req->expect_continue;
	c->upgrade = req->upgrade || req->method_id == HTTP_M_CONNECT;
	c->req_body = req->body;
	c->req_remaining = req->content_length;
	c->req_done = req->body == HTTP_BODY_NONE;
	if (req->body == HTTP_BODY_CHUNKED) /* re-framed: see forward_body */
		http_chunked_init_strict(&c->req_chunk, rt->limits.max_head);
	c->endpoint = proxy__endpoint(w, req->method_id, req->method,
				      req->method_len, req->target,
				      req->target_len);
	c->t_body = proxy__now();
	c->body_wire = c->body_data = 0;
	WC_INC(w, requests);
	if (proxy__tap_on(w)) /* capture tap: a client is attached */
		proxy__tap_begin(c, req);

	/* listen.max_body: a declared length over it is refused before
	 * anything goes anywhere (the body is not read: close after). */
	if (req->body == HTTP_BODY_LENGTH &&
	    req->content_length > rt->max_req_body) {
		WC_INC(w, too_large);
		respond_error(c, 413, "request body too large", true);
		c->req_done = true;
		c->resp_keep_alive = true;
		c->status = 413;
		end_exchange(c, false, REQREC_ERR_CLIENT);
		return;
	}

	/* The mirror copy is decided and begun before anything else, but
	 * never waited for. */
	if (rt->mirror && !c->upgrade) {
		if (proxy__mirror_sample(w, req))
			proxy__mirror_begin(c, req);
	}

	if (!attach_upstream(c, true)) {
		/* The body (if any) will not be read: close after. */
		respond_error(c, 502, "no production replica available",
			      req->body != HTTP_BODY_NONE);
		c->req_done = true;
		c->resp_keep_alive = true;
		c->status = 502;
		WC_INC(w, prod_errors);
		end_exchange(c, false, REQREC_ERR_CONNECT);
		return;
	}
	uconn_t *u = c->up;
	http_fwd_t f = {
		.client_ip = c->ip[0] ? c->ip : NULL,
		.xff = rt->forwarded == CONFIG_FWD_BOTH ||
		       rt->forwarded == CONFIG_FWD_XFF,
		.forwarded = rt->forwarded == CONFIG_FWD_BOTH ||
			     rt->forwarded == CONFIG_FWD_FORWARDED,
		.keep_upgrade = req->upgrade,
		.body = req->body,
		.content_length = req->content_length,
		.default_host = c->rep->name,
	};
	size_t before = u->out.b.len;
	http_write_request_head(&u->out.b, req, &f);
	size_t head = u->out.b.len - before;
	c->req_bytes = head;
	c->replay.len = 0;
	c->replayable = head <= PROXY_REPLAY_MAX;
	if (c->replayable)
		buf_append(&c->replay, u->out.b.data + before, head);
	c->state = c->upgrade ? C_WAIT : (c->req_done ? C_WAIT : C_BODY);
	if (c->req_done && c->mirroring)
		proxy__mirror_finish(c);
	event_del(c->tev);
	if (c->req_done && u->state != U_CONNECTING)
		proxy__uconn_arm(u, rt->response_timeout);
	flush_upstream(c);
}

/* Arms the body's timer: listen.body_timeout from now, or the rest of
 * listen.body_deadline if that ends first. */
static void arm_body_timer(cconn_t *c)
{
	worker_t *w = c->w;
	int64_t left = c->t_body + w->rt->body_deadline - proxy__now();
	c->body_late = left < w->rt->body_timeout;
	if (!c->body_late) {
		event_add(c->tev, proxy__timeout(w, w->rt->body_timeout));
		return;
	}
	struct timeval tv = proxy__tv(left > 0 ? left : 1);
	event_add(c->tev, &tv);
}

/* The request (body) is refused mid-way: status and reason to the client
 * if nothing was answered yet, the production connection (which has the
 * head) dropped, the client closed after. */
static void refuse_body(cconn_t *c, int status, const char *text)
{
	drop_upstream(c, false);
	c->status = status;
	if (!c->sent_any)
		respond_error(c, status, text, true);
	c->close_after = true;
	end_exchange(c, false, REQREC_ERR_CLIENT);
}

/* listen.body_deadline and listen.body_min_rate, checked as body bytes
 * arrive (the timer catches a client that sends nothing). true when the
 * exchange was ended. */
static bool body_too_slow(cconn_t *c)
{
	worker_t *w = c->w;
	const proxy_rt_t *rt = w->rt;
	int64_t el = proxy__now() - c->t_body;
	proxy_timeout_t why;
	if (el >= rt->body_deadline)
		why = PROXY_TIMEOUT_BODY_DEADLINE;
	else if (rt->body_min_rate && el >= PROXY_BODY_RATE_GRACE_NS &&
		 (double)c->body_wire * 1e9 <
			 (double)rt->body_min_rate * (double)el)
		why = PROXY_TIMEOUT_BODY_RATE;
	else
		return false;
	count_timeout(w, why);
	refuse_body(c, 408, why == PROXY_TIMEOUT_BODY_RATE
				    ? "request body too slow"
				    : "request body timeout");
	return true;
}

/* Moves request body bytes from c->in toward the upstream. A chunked body
 * is decoded strictly and re-framed: production gets umbra's own chunk
 * lines around the data (http_write_chunk), never the client's, so a
 * framing that production might read differently cannot reach it. */
static void forward_body(cconn_t *c)
{
	worker_t *w = c->w;
	uconn_t *u = c->up;
	while (!c->req_done && iobuf_len(&c->in)) {
		const char *p = c->in.data + c->in.start;
		size_t avail = iobuf_len(&c->in), take;
		size_t queued = u ? u->out.b.len : 0;
		if (c->req_body == HTTP_BODY_LENGTH) {
			take = avail < c->req_remaining ? avail
							: (size_t)c->req_remaining;
			if (c->mirroring)
				proxy__mirror_body(c, p, take);
			if (c->tap) /* capture tap */
				proxy__tap_req_body(c, p, take);
			c->req_remaining -= take;
			if (c->req_remaining == 0)
				c->req_done = true;
			if (u)
				buf_append(&u->out.b, p, take);
		} else {
			const char *d;
			size_t dl;
			http_err_t e;
			ssize_t n = http_chunked_step(&c->req_chunk, p, avail,
						      &d, &dl, &e);
			if (n < 0) {
				/* The head already went upstream: that
				 * connection cannot be reused. */
				WC_INC(w, bad_requests);
				refuse_body(c, http_err_status(e),
					    http_err_text(e));
				return;
			}
			take = (size_t)n;
			c->body_data += dl;
			if (c->body_data > w->rt->max_req_body) {
				WC_INC(w, too_large);
				refuse_body(c, 413, "request body too large");
				return;
			}
			if (dl && c->mirroring)
				proxy__mirror_body(c, d, dl);
			if (dl && c->tap) /* capture tap */
				proxy__tap_req_body(c, d, dl);
			if (c->req_chunk.done)
				c->req_done = true;
			if (u) {
				http_write_chunk(&u->out.b, d, dl);
				if (c->req_done)
					http_write_last_chunk(&u->out.b);
			}
		}
		if (u) {
			/* what this pass queued upstream, kept for a replay */
			size_t sent = u->out.b.len - queued;
			if (c->replayable) {
				if (c->replay.len + sent <= PROXY_REPLAY_MAX)
					buf_append(&c->replay,
						   u->out.b.data + queued, sent);
				else
					c->replayable = false;
			}
			c->req_bytes += sent;
		}
		/* The body's clock starts at its first byte: a client that
		 * waited for production's 100 Continue was not slow. */
		if (c->body_wire == 0 && take)
			c->t_body = proxy__now();
		c->body_wire += take;
		c->in.start += take;
	}
	if (c->req_done) {
		c->state = C_WAIT;
		event_del(c->tev);
		if (c->mirroring)
			proxy__mirror_finish(c);
		if (u && u->state != U_CONNECTING)
			proxy__uconn_arm(u, w->rt->response_timeout);
	} else {
		if (body_too_slow(c))
			return;
		arm_body_timer(c);
	}
	if (!flush_upstream(c) || c->fd < 0)
		return;
	/* While production connects nothing is written: bound what waits
	 * for it all the same. */
	if (c->up && obuf_pending(&c->up->out) > PROXY_OUT_HIGH)
		pause_read(c);
}

/* Parses and starts requests while the connection is free. */
static void process(cconn_t *c)
{
	worker_t *w = c->w;
	while (c->fd >= 0) {
		if (c->state == C_BODY) {
			forward_body(c);
			return;
		}
		if (c->state == C_TUNNEL) {
			if (c->up && iobuf_len(&c->in)) {
				buf_append(&c->up->out.b, c->in.data + c->in.start,
					   iobuf_len(&c->in));
				c->in.start = c->in.end;
				flush_upstream(c);
			}
			return;
		}
		if (c->state != C_HEAD || c->busy) {
			/* Pipelined bytes wait; not too many. */
			if (iobuf_len(&c->in) > PROXY_PIPELINE_MAX)
				pause_read(c);
			return;
		}
		if (iobuf_len(&c->in) == 0) {
			if (c->rd_eof) { /* all it sent is answered */
				c->state = C_CLOSING;
				flush_client(c);
			}
			return;
		}
		if (obuf_pending(&c->out) > PROXY_OUT_HIGH) {
			/* A client that sends requests but does not read
			 * the responses: the next one waits (and so does
			 * reading) until it catches up. */
			pause_read(c);
			return;
		}
		http_request_t req = {.headers = w->hdrs, .cap = w->hdrs_cap};
		http_err_t e;
		int rc = http_parse_request(c->in.data + c->in.start,
					    iobuf_len(&c->in), &c->scanned,
					    &w->rt->limits, &req, &e);
		if (rc == ERR_AGAIN) {
			if (c->rd_eof) { /* a partial request, then EOF */
				proxy__client_close(c);
				return;
			}
			if (!c->t_head) {
				c->t_head = proxy__now();
				event_add(c->tev, proxy__timeout(
							  w, w->rt->header_timeout));
			}
			return;
		}
		if (rc < 0) {
			WC_INC(w, bad_requests);
			log_debug_limited("proxy", "bad request",
					  LF_S("client", c->ip),
				  LF_S("reason", http_err_text(e)));
			close_with_error(c, http_err_status(e), http_err_text(e));
			return;
		}
		if (!c->t_head)
			c->t_head = proxy__now();
		/* The slices stay valid: nothing moves c->in's bytes until
		 * the next read. */
		c->in.start += (size_t)rc;
		c->scanned = 0;
		start_exchange(c, &req);
	}
}

/* --------------------------------------------------------------- upstream */

/* Upstream gone before any response byte reached the client: replay on a
 * fresh connection when safe, else answer 502/504. */
static void upstream_failed(cconn_t *c, uint8_t err)
{
	worker_t *w = c->w;
	if (c->fd < 0)
		return;
	bool was_reused = c->up && c->up->reused;
	if (c->rep)
		proxy__replica_result(c->rep, false);
	drop_upstream(c, false);
	c->rep = NULL;
	if (!c->sent_any && !c->resp_head_done && c->replayable &&
	    c->attempts < 2 && c->state != C_TUNNEL &&
	    (was_reused || err == REQREC_ERR_CONNECT)) {
		/* A pooled connection the upstream had closed, or a
		 * replica that refused: nothing was processed, send it
		 * again elsewhere. */
		c->attempts++;
		WC_INC(w, prod_retries);
		if (attach_upstream(c, false)) {
			buf_append(&c->up->out.b, c->replay.data, c->replay.len);
			if (c->req_done && c->up->state != U_CONNECTING)
				proxy__uconn_arm(c->up, w->rt->response_timeout);
			flush_upstream(c);
			return;
		}
	}
	WC_INC(w, prod_errors);
	if (!c->sent_any) {
		bool timeout = err == REQREC_ERR_TIMEOUT;
		c->status = timeout ? 504 : 502;
		c->resp_keep_alive = true;
		respond_error(c, c->status,
			      timeout ? "production timed out"
				      : "production failed",
			      !c->req_done);
	} else {
		/* Part of the response is out: the client cannot be told
		 * otherwise; close. */
		c->close_after = true;
	}
	end_exchange(c, false, err);
}

/* The connection finished connecting (EV_WRITE while U_CONNECTING). */
static bool upstream_connected(cconn_t *c, uconn_t *u)
{
	int so = 0;
	socklen_t sl = sizeof(so);
	getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &so, &sl);
	if (so) {
		upstream_failed(c, REQREC_ERR_CONNECT);
		return false;
	}
	u->state = U_BUSY;
	c->connect_us = (uint32_t)((proxy__now() - u->t_connect) / 1000);
	proxy__uconn_arm(u, c->req_done ? c->w->rt->response_timeout : 0);
	return true;
}

void proxy__client_upstream_event(cconn_t *c, uconn_t *u, short what)
{
	worker_t *w = c->w;
	if (what & EV_TIMEOUT) {
		/* A connect that timed out is a failed connect (502, and
		 * the request, which never reached the replica, is tried
		 * on another: nginx's proxy_next_upstream error timeout);
		 * only a response that does not come is a 504. */
		upstream_failed(c, u->state == U_CONNECTING
				       ? REQREC_ERR_CONNECT
				       : REQREC_ERR_TIMEOUT);
		return;
	}
	if (what & EV_WRITE) {
		if (u->state == U_CONNECTING && !upstream_connected(c, u))
			return;
		if (!flush_upstream(c) || c->fd < 0)
			return;
		if (c->read_paused && obuf_pending(&u->out) < PROXY_OUT_HIGH / 2 &&
		    (c->state == C_BODY || c->state == C_TUNNEL)) {
			/* production took the body: its timer (armed when
			 * it did not) stops until the request is whole */
			if (c->state == C_BODY)
				proxy__uconn_arm(u, 0);
			resume_read(c);
			process(c);
		}
		if (c->fd < 0 || c->up != u)
			return;
	}
	if (!(what & EV_READ))
		return;
	if (u->state == U_CONNECTING)
		return; /* an error shows up as EV_WRITE too */
	/* A bounded read, then the bytes are passed on: a fast production
	 * cannot keep the worker, and what waits for a slow client is
	 * bounded (process_response pauses reading past PROXY_OUT_HIGH). */
	for (size_t got = 0; got < PROXY_READ_BUDGET;) {
		iobuf_reserve(&u->in, PROXY_READ_CHUNK);
		size_t want = u->in.cap - u->in.end;
		ssize_t n = read(u->fd, u->in.data + u->in.end, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* EOF ends a close-delimited body or a tunnel;
			 * anything else is a failure. */
			if (c->resp_head_done &&
			    (c->resp_body == HTTP_BODY_UNTIL_CLOSE ||
			     c->state == C_TUNNEL)) {
				process_response(c, u);
				if (c->fd < 0 || c->up != u)
					return;
				if (c->state == C_TUNNEL) {
					c->state = C_CLOSING;
					drop_upstream(c, false);
					flush_client(c);
					return;
				}
				c->close_after = true;
				end_exchange(c, false, REQREC_OK);
				return;
			}
			upstream_failed(c, REQREC_ERR_RESET);
			return;
		}
		u->in.end += (size_t)n;
		got += (size_t)n;
		if (c->pair) /* the shadow may read what production sent */
			proxy__mirror_credit(w, (size_t)n);
		if ((size_t)n < want)
			break;
	}
	process_response(c, u);
	if (c->fd >= 0 && c->state == C_HEAD && !c->busy)
		process(c); /* the next pipelined request */
	(void)w;
}

/* Appends response body bytes for the client (and the comparison). */
static void emit_body(cconn_t *c, const char *p, size_t n, const char *data,
		      size_t dlen)
{
	if (c->dechunk) {
		if (dlen)
			buf_append(&c->out.b, data, dlen);
	} else if (n) {
		buf_append(&c->out.b, p, n);
	}
	c->resp_bytes += n;
	if (dlen && c->tap) /* capture tap */
		proxy__tap_resp_body(c, data, dlen);
	if (dlen && c->pair && (c->pair->want[PROXY_SHADOW] ||
				c->pair->want[PROXY_BASELINE]))
		proxy__capture_body(c->w, &c->pair->side[PROXY_PRODUCTION], data,
				    dlen);
}

static void process_response(cconn_t *c, uconn_t *u)
{
	worker_t *w = c->w;
	while (c->fd >= 0 && c->up == u) {
		if (c->state == C_TUNNEL) {
			if (iobuf_len(&u->in)) {
				buf_append(&c->out.b, u->in.data + u->in.start,
					   iobuf_len(&u->in));
				u->in.start = u->in.end;
			}
			break;
		}
		if (!c->resp_head_done) {
			http_response_t r = {.headers = w->hdrs,
					     .cap = w->hdrs_cap};
			http_err_t e;
			int rc = http_parse_response(u->in.data + u->in.start,
						     iobuf_len(&u->in),
						     &c->resp_scanned,
						     &w->rt->limits, c->method,
						     &r, &e);
			if (rc == ERR_AGAIN)
				return;
			if (rc < 0) {
				log_warn_limited("proxy",
						 "bad response from production",
					 LF_S("replica", c->rep ? c->rep->name
								: "?"),
					 LF_S("reason", http_err_text(e)));
				upstream_failed(c, REQREC_ERR_PROTOCOL);
				return;
			}
			if (!c->t_first)
				c->t_first = proxy__now();
			if (r.status < 200 && r.status != 101) {
				/* Interim (100 Continue, 103): forward to
				 * HTTP/1.1 clients, then wait for the final
				 * one (RFC 9110 15.2). */
				if (c->version == 11)
					http_write_response_head(&c->out.b, &r,
								 HTTP_BODY_NONE,
								 true, false);
				u->in.start += (size_t)rc;
				c->resp_scanned = 0;
				c->sent_any = c->version == 11;
				continue;
			}
			c->status = r.status;
			c->resp_body = r.body;
			c->resp_remaining = r.content_length;
			bool tunnel = r.body == HTTP_BODY_TUNNEL;
			c->dechunk = r.body == HTTP_BODY_CHUNKED &&
				     c->version == 10;
			/* The upstream connection is reusable when its
			 * response is framed and it did not say close; the
			 * client's may stay open when what it gets is
			 * framed, whatever the upstream does. */
			c->up_reusable = r.keep_alive &&
					 r.body != HTTP_BODY_UNTIL_CLOSE;
			c->resp_keep_alive = r.body != HTTP_BODY_UNTIL_CLOSE &&
					     !c->dechunk && !tunnel;
			bool client_ka = c->keep_alive && c->resp_keep_alive &&
					 !c->close_after && c->req_done &&
					 !w->draining;
			if (tunnel && c->upgrade) {
				http_write_response_head(
					&c->out.b, &r, HTTP_BODY_TUNNEL, false,
					c->method != HTTP_M_CONNECT);
			} else {
				http_write_response_head(
					&c->out.b, &r,
					c->dechunk ? HTTP_BODY_UNTIL_CLOSE
						   : r.body,
					client_ka, false);
				if (client_ka && c->version == 10) {
					/* HTTP/1.0 keeps the connection only
					 * when told so */
					c->out.b.len -= 2;
					buf_puts(&c->out.b,
						 "Connection: keep-alive\r\n\r\n");
				}
			}
			if (r.body == HTTP_BODY_CHUNKED)
				http_chunked_init(&c->resp_chunk,
						  w->rt->limits.max_head);
			if (c->pair)
				proxy__capture_head(
					w, &c->pair->side[PROXY_PRODUCTION], &r);
			if (c->tap) /* capture tap: the head as received */
				proxy__tap_resp_head(c, u->in.data + u->in.start,
						     (size_t)rc, &r);
			c->resp_bytes = (uint64_t)rc;
			u->in.start += (size_t)rc;
			c->resp_head_done = true;
			c->sent_any = true;
			proxy__uconn_arm(u, tunnel ? w->rt->idle_timeout
						   : w->rt->response_timeout);
			if (tunnel) {
				if (!c->upgrade) {
					/* 101 without asking: refuse. */
					upstream_failed(c, REQREC_ERR_PROTOCOL);
					return;
				}
				WC_INC(w, tunnels);
				c->state = C_TUNNEL;
				c->req_done = true;
				event_add(c->tev,
					  proxy__timeout(w, w->rt->idle_timeout));
				resume_read(c);
				process(c);
				continue;
			}
		}
		/* body */
		bool complete = false;
		size_t avail = iobuf_len(&u->in);
		const char *p = u->in.data + u->in.start;
		switch (c->resp_body) {
		case HTTP_BODY_NONE:
			complete = true;
			break;
		case HTTP_BODY_LENGTH: {
			size_t take = avail < c->resp_remaining
					      ? avail
					      : (size_t)c->resp_remaining;
			emit_body(c, p, take, p, take);
			u->in.start += take;
			c->resp_remaining -= take;
			complete = c->resp_remaining == 0;
			break;
		}
		case HTTP_BODY_CHUNKED:
			while (iobuf_len(&u->in) && !c->resp_chunk.done) {
				const char *d;
				size_t dl;
				http_err_t e;
				const char *q = u->in.data + u->in.start;
				ssize_t n = http_chunked_step(&c->resp_chunk, q,
							      iobuf_len(&u->in),
							      &d, &dl, &e);
				if (n < 0) {
					upstream_failed(c, REQREC_ERR_PROTOCOL);
					return;
				}
				emit_body(c, q, (size_t)n, d, dl);
				u->in.start += (size_t)n;
			}
			complete = c->resp_chunk.done;
			break;
		case HTTP_BODY_UNTIL_CLOSE:
			emit_body(c, p, avail, p, avail);
			u->in.start += avail;
			break;
		case HTTP_BODY_TUNNEL:
			break;
		}
		if (!flush_client(c))
			return;
		if (complete) {
			if (u->in.start == u->in.end)
				u->in.start = u->in.end = 0;
			bool reusable = c->up_reusable && c->req_done &&
					iobuf_len(&u->in) == 0;
			end_exchange(c, reusable, REQREC_OK);
			return;
		}
		if (obuf_pending(&c->out) > PROXY_OUT_HIGH && !c->up_paused) {
			/* The client reads slowly: stop reading the
			 * upstream until it catches up. Production's timer
			 * stops too (it is not the one waiting): the
			 * client's listen.send_timeout runs instead. */
			event_del(u->rev);
			proxy__uconn_arm(u, 0);
			c->up_paused = true;
		}
		return;
	}
	if (c->fd >= 0 && c->state == C_TUNNEL && flush_client(c) &&
	    c->up == u && obuf_pending(&c->out) > PROXY_OUT_HIGH &&
	    !c->up_paused) {
		/* a tunnelled client that reads slowly: as for bodies */
		event_del(u->rev);
		proxy__uconn_arm(u, 0);
		c->up_paused = true;
	}
}

/* --------------------------------------------------------------- client io */

static void on_client_read(cconn_t *c)
{
	worker_t *w = c->w;
	/* A bounded read per callback: one client cannot keep the worker,
	 * and process() consumes (or pauses) before more is read. */
	for (size_t got = 0; got < PROXY_READ_BUDGET;) {
		iobuf_reserve(&c->in, PROXY_READ_CHUNK);
		size_t want = c->in.cap - c->in.end;
		ssize_t n = read(c->fd, c->in.data + c->in.end, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n == 0 && c->state != C_BODY && c->state != C_TUNNEL &&
		    c->state != C_CLOSING &&
		    (c->busy || iobuf_len(&c->in))) {
			/* Half-close (shutdown(SHUT_WR)) after whole
			 * requests: they are answered, then the
			 * connection closes (RFC 9112 9.6). */
			c->rd_eof = true;
			pause_read(c);
			break;
		}
		if (n <= 0) {
			/* The client went away (or half-closed mid-body).
			 * The exchange is recorded as a client error. */
			if (c->busy && c->state != C_TUNNEL) {
				c->close_after = true;
				end_exchange(c, false, REQREC_ERR_CLIENT);
			}
			proxy__client_close(c);
			return;
		}
		c->in.end += (size_t)n;
		got += (size_t)n;
		WC_ADD(w, bytes_client_in, (uint64_t)n);
		if ((size_t)n < want)
			break;
	}
	if (c->state == C_TUNNEL)
		event_add(c->tev, proxy__timeout(w, w->rt->idle_timeout));
	process(c);
}

/* listen.send_timeout: the client read nothing of what waits for it
 * for that long. The exchange (if any) is recorded as the client's
 * failure and the connection closed. */
static void on_send_timeout(evutil_socket_t fd, short what, void *arg)
{
	cconn_t *c = arg;
	if (c->fd < 0)
		return;
	count_timeout(c->w, PROXY_TIMEOUT_SEND);
	if (c->busy) {
		c->close_after = true;
		end_exchange(c, false, REQREC_ERR_CLIENT);
	}
	proxy__client_close(c);
}

static void client_cb(evutil_socket_t fd, short what, void *arg)
{
	cconn_t *c = arg;
	worker_t *w = c->w;
	if (c->fd < 0)
		return;
	if (what & EV_TIMEOUT) {
		if (c->state == C_HEAD && iobuf_len(&c->in) && !c->busy) {
			count_timeout(w, PROXY_TIMEOUT_HEADER);
			close_with_error(c, 408, "request header timeout");
		} else if (c->state == C_BODY) {
			count_timeout(w, c->body_late
						 ? PROXY_TIMEOUT_BODY_DEADLINE
						 : PROXY_TIMEOUT_BODY_GAP);
			refuse_body(c, 408, "request body timeout");
		} else {
			count_timeout(w, PROXY_TIMEOUT_IDLE);
			proxy__client_close(c); /* idle or stuck */
		}
		return;
	}
	if (what & EV_WRITE) {
		if (!flush_client(c))
			return;
		if (c->up && c->up_paused &&
		    obuf_pending(&c->out) < PROXY_OUT_HIGH / 2 &&
		    c->up->fd >= 0 && c->up->state != U_CONNECTING) {
			uconn_t *u = c->up;
			c->up_paused = false;
			event_add(u->rev, NULL);
			proxy__uconn_arm(u, c->state == C_TUNNEL
						    ? w->rt->idle_timeout
						    : w->rt->response_timeout);
			process_response(c, u);
		}
		if (c->fd >= 0 && c->state == C_HEAD && !c->busy &&
		    obuf_pending(&c->out) < PROXY_OUT_HIGH / 2) {
			resume_read(c);
			process(c);
		}
		return;
	}
	if (what & EV_READ)
		on_client_read(c);
}
