/*
 * tap.c: the proxy's capture tap (capture.tap). One local client
 * (`umbra capture --from-proxy`) connects to a Unix socket (mode 0600,
 * same user or root only); while it is attached, every worker copies each
 * production exchange it completes (the request as received: head bytes
 * and de-chunked body; the response head as received and its de-chunked
 * body; timestamps, latency, connection id) and pushes it into its own
 * bounded SPSC ring. The tap thread drains the rings, runs the mask hook,
 * encodes capture records (capture.h) and streams them to the client.
 *
 * The production path is sacred (DESIGN.md): with no client attached a
 * worker pays one relaxed atomic load per request and nothing else. With
 * one, copies are bounded per worker by capture.tap_queue exchanges and
 * capture.tap_bytes bytes (queued plus being assembled); over either the
 * exchange is dropped and counted, never waited for. A slow client fills
 * the tap thread's output bound (capture.tap_bytes too), which stops it
 * draining the rings, which makes workers drop: back-pressure ends in counted drops, never in a
 * worker blocking. Drops reach the client as LOSS records, so the file
 * says what it is missing.
 *
 * Threads: workers touch only their own tap_worker (ring producer side,
 * their counters, assembling bytes); the tap thread is the ring consumer
 * and owns the sockets. They share the queued-bytes counter (atomic) and
 * the attached flag (px->tap_attached).
 */
#include "proxy/proxy_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "capture/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define TAP_POLL_MS 10            /* attached: how often rings are drained */
#define TAP_IDLE_POLL_MS 200      /* detached: leftovers freed this often */
#define TAP_LOSS_EVERY_NS (1000LL * 1000000) /* loss records, 1 a second */
#define TAP_FINAL_FLUSH_NS (1000LL * 1000000) /* at shutdown, at most */
#define TAP_DRAIN_BATCH 256       /* exchanges per ring per turn */

/* Per-worker counters, written by their worker only. */
enum {
	TC_CAPTURED,      /* pushed to the ring */
	TC_DROP_QUEUE,    /* ring full */
	TC_DROP_BYTES,    /* byte bound */
	TC_CLIENT_ABORT,  /* the client left before its request was whole */
	TC_INCOMPLETE,    /* the request was not read whole (umbra answered
			     502 before its body, a parse error mid-body) */
	TC__COUNT
};

/* An exchange being copied, then queued. Owned by the worker until
 * pushed, by the tap thread after. */
struct tap_ex {
	buf_t req, resp;  /* head then kept body */
	size_t req_head_len, resp_head_len;
	uint64_t req_total, resp_total;
	uint16_t flags;
	uint32_t seq;
	uint64_t conn;
	int64_t t_start, t_first; /* monotonic */
	int64_t req_ns, resp_ns, latency_ns; /* set when pushed */
	bool resp_head;
	size_t held; /* bytes counted in the worker's assembling */
};

struct tap_worker {
	ring_t *ring; /* of struct tap_ex * */
	_Atomic uint64_t queued;      /* bytes in the ring */
	uint64_t assembling;          /* worker-local */
	uint64_t conn_seq;
	_Atomic uint64_t cnt[TC__COUNT];
};

struct proxy_tap {
	proxy_t *px;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd, cfd, wake;
	pthread_t thread;
	bool running;
	_Atomic bool stop;
	uint64_t max_body, max_bytes;
	char service[128];
	_Atomic(const cap_masker_t *) masker;
	buf_t out;
	size_t out_off;
	buf_t payload, frame, scratch;
	uint64_t base[TC__COUNT];     /* totals when losses were last sent */
	uint64_t base_mask_refused;   /* likewise, mask_refused */
	int64_t next_loss;
	_Atomic uint64_t sent, clients, mask_refused;
};

/* --------------------------------------------------------------- counters */

static void tc_inc(struct tap_worker *t, int k)
{
	atomic_store_explicit(&t->cnt[k],
			      atomic_load_explicit(&t->cnt[k],
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static uint64_t tc_total(const proxy_t *px, int k)
{
	uint64_t n = 0;
	for (int i = 0; i < px->nworkers; i++)
		if (px->workers[i].tap)
			n += atomic_load_explicit(&px->workers[i].tap->cnt[k],
						  memory_order_relaxed);
	return n;
}

/* =============================================================== workers */

static void ex_free(struct tap_ex *x)
{
	buf_free(&x->req);
	buf_free(&x->resp);
	free(x);
}

/* Drops the exchange being copied on c (counted under k, or not when
 * k < 0). */
static void drop(cconn_t *c, int k)
{
	struct tap_worker *t = c->w->tap;
	struct tap_ex *x = c->tap;
	c->tap = NULL;
	t->assembling -= x->held;
	if (k >= 0)
		tc_inc(t, k);
	ex_free(x);
}

/* Accounts n more bytes held for x; false (and x dropped) over the
 * bound. */
static bool hold(cconn_t *c, size_t n)
{
	struct tap_worker *t = c->w->tap;
	uint64_t queued = atomic_load_explicit(&t->queued,
					       memory_order_relaxed);
	if (queued + t->assembling + n > c->w->px->tap->max_bytes) {
		drop(c, TC_DROP_BYTES);
		return false;
	}
	t->assembling += n;
	c->tap->held += n;
	return true;
}

void proxy__tap_begin(cconn_t *c, const http_request_t *req)
{
	worker_t *w = c->w;
	if (!w->tap || c->tap)
		return;
	/* the head as received: process() has moved c->in.start past it */
	size_t hl = (size_t)(c->in.data + c->in.start - req->method);
	struct tap_ex *x = xcalloc(1, sizeof(*x));
	c->tap = x;
	if (!hold(c, hl + sizeof(*x)))
		return;
	if (!c->tap_conn)
		c->tap_conn = ((uint64_t)w->id << 48) | ++w->tap->conn_seq;
	x->conn = c->tap_conn;
	x->seq = c->tap_nreq++;
	x->t_start = c->t_start;
	buf_append(&x->req, req->method, hl);
	x->req_head_len = hl;
	if (req->body == HTTP_BODY_CHUNKED)
		x->flags |= CAP_RF_REQ_CHUNKED;
}

/* Appends body bytes, keeping at most max_body. */
static void body(cconn_t *c, buf_t *b, size_t head, uint64_t *total,
		 uint16_t cut, const char *d, size_t n)
{
	struct tap_ex *x = c->tap;
	*total += n;
	uint64_t kept = b->len - head;
	uint64_t max = c->w->px->tap->max_body;
	size_t take = kept >= max ? 0 : (max - kept < n ? (size_t)(max - kept)
							: n);
	if (take < n)
		x->flags |= cut;
	if (take && hold(c, take))
		buf_append(b, d, take);
}

void proxy__tap_req_body(cconn_t *c, const char *d, size_t n)
{
	struct tap_ex *x = c->tap;
	body(c, &x->req, x->req_head_len, &x->req_total, CAP_RF_REQ_TRUNC, d,
	     n);
}

static void push(cconn_t *c);

void proxy__tap_resp_head(cconn_t *c, const char *head, size_t len,
			  const http_response_t *r)
{
	struct tap_ex *x = c->tap;
	if (!hold(c, len))
		return;
	x->resp_head = true;
	x->t_first = proxy__now();
	buf_append(&x->resp, head, len);
	x->resp_head_len = len;
	if (r->body == HTTP_BODY_CHUNKED)
		x->flags |= CAP_RF_RESP_CHUNKED;
	if (r->body == HTTP_BODY_TUNNEL) {
		/* a tunnel follows: the exchange is its request and the
		 * 101 (or 2xx to CONNECT) */
		x->flags |= CAP_RF_TUNNEL;
		push(c);
	}
}

void proxy__tap_resp_body(cconn_t *c, const char *d, size_t n)
{
	struct tap_ex *x = c->tap;
	body(c, &x->resp, x->resp_head_len, &x->resp_total, CAP_RF_RESP_TRUNC,
	     d, n);
}

/* Hands the exchange to the tap thread, or drops it (counted). */
static void push(cconn_t *c)
{
	struct tap_worker *t = c->w->tap;
	struct tap_ex *x = c->tap;
	int64_t mono = proxy__now(), wall = clock_wall_ns();
	x->req_ns = wall - (mono - x->t_start);
	if (x->resp_head)
		x->resp_ns = wall - (mono - x->t_first);
	x->latency_ns = mono - x->t_start;
	size_t held = x->held;
	/* counted as queued first: once pushed, x is the tap thread's,
	 * which subtracts it when done */
	atomic_fetch_add_explicit(&t->queued, held, memory_order_relaxed);
	if (!ring_push(t->ring, &x)) {
		atomic_fetch_sub_explicit(&t->queued, held,
					  memory_order_relaxed);
		drop(c, TC_DROP_QUEUE);
		return;
	}
	c->tap = NULL;
	t->assembling -= held;
	tc_inc(t, TC_CAPTURED);
}

void proxy__tap_end(cconn_t *c, uint8_t err)
{
	struct tap_ex *x = c->tap;
	bool whole = c->req_body == HTTP_BODY_NONE ||
		     (c->req_body == HTTP_BODY_LENGTH &&
		      c->req_remaining == 0) ||
		     (c->req_body == HTTP_BODY_CHUNKED && c->req_chunk.done) ||
		     (x->flags & CAP_RF_TUNNEL);
	if (!whole) {
		/* the request itself was never read whole */
		drop(c, err == REQREC_ERR_CLIENT ? TC_CLIENT_ABORT
						  : TC_INCOMPLETE);
		return;
	}
	if (!x->resp_head) {
		x->flags |= CAP_RF_NO_RESPONSE; /* umbra answered (502/504) */
		x->flags &= (uint16_t)~(CAP_RF_RESP_TRUNC | CAP_RF_RESP_CHUNKED);
	} else if (err != REQREC_OK && err != REQREC_ERR_CLIENT) {
		x->flags |= CAP_RF_RESP_PARTIAL;
	} else if (err == REQREC_ERR_CLIENT && c->resp_body != HTTP_BODY_NONE &&
		   !(c->resp_body == HTTP_BODY_LENGTH &&
		     c->resp_remaining == 0) &&
		   !(c->resp_body == HTTP_BODY_CHUNKED && c->resp_chunk.done)) {
		x->flags |= CAP_RF_RESP_PARTIAL; /* the client left mid-body */
	}
	push(c);
}

void proxy__tap_abort(cconn_t *c)
{
	/* the connection closes mid-exchange: a whole request is still
	 * recorded (without its response, or with what came of it) */
	if (c->tap)
		proxy__tap_end(c, REQREC_ERR_CLIENT);
}

/* =============================================================== thread */

/* Builds the capture record for x. Slices point into x. */
static void ex_record(const struct tap_ex *x, cap_rec_t *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = CAP_KIND_EXCHANGE;
	r->source = CAP_SRC_PROXY;
	r->side = CAP_SIDE_PRODUCTION;
	r->flags = x->flags;
	r->seq = x->seq;
	r->conn_id = x->conn;
	r->req_ns = x->req_ns;
	r->req_head = x->req.data;
	r->req_head_len = x->req_head_len;
	r->req_body = x->req.data + x->req_head_len;
	r->req_body_len = x->req.len - x->req_head_len;
	r->req_body_total = x->req_total;
	if (x->flags & CAP_RF_NO_RESPONSE)
		return;
	r->resp_ns = x->resp_ns;
	r->latency_ns = x->latency_ns;
	r->resp_head = x->resp.data;
	r->resp_head_len = x->resp_head_len;
	r->resp_body = x->resp.data + x->resp_head_len;
	r->resp_body_len = x->resp.len - x->resp_head_len;
	r->resp_body_total = x->resp_total;
}

static void frame_out(struct proxy_tap *tp, const cap_rec_t *r)
{
	tp->payload.len = 0;
	cap_rec_encode(r, &tp->payload);
	unsigned char h[CAP_FRAME_HEAD] = {0};
	uint32_t n = (uint32_t)tp->payload.len;
	for (int i = 0; i < 4; i++)
		h[i] = (unsigned char)(n >> (8 * i));
	h[4] = 1; /* a record frame */
	uint32_t crc = cap_crc32c(cap_crc32c(0, h, 8), tp->payload.data, n);
	for (int i = 0; i < 4; i++)
		h[8 + i] = (unsigned char)(crc >> (8 * i));
	buf_append(&tp->out, h, sizeof(h));
	buf_append(&tp->out, tp->payload.data, n);
}

/* Sends x to the client (masked first), or counts the refusal. */
static void ex_send(struct proxy_tap *tp, struct tap_ex *x)
{
	cap_rec_t r;
	ex_record(x, &r);
	const char *why;
	const cap_masker_t *m = atomic_load(&tp->masker);
	if (cap_mask_apply(m, &r, &tp->scratch, &why)) {
		atomic_fetch_add(&tp->mask_refused, 1);
		log_debug_limited("proxy", "tap: masking refused a record",
				  LF_S("reason", why));
		return;
	}
	const char *bad;
	if (cap_rec_check(&r, &bad)) {
		log_warn_limited("proxy", "tap: record not encodable",
				 LF_S("reason", bad));
		return;
	}
	frame_out(tp, &r);
	atomic_fetch_add(&tp->sent, 1);
}

/* Moves queued exchanges to the output (attached) or frees them. */
static void drain(struct proxy_tap *tp, bool attached)
{
	proxy_t *px = tp->px;
	for (int i = 0; i < px->nworkers; i++) {
		struct tap_worker *t = px->workers[i].tap;
		struct tap_ex *batch[TAP_DRAIN_BATCH];
		for (;;) {
			/* the client is slow: past capture.tap_bytes
			 * waiting for it, the rings are left to fill (and
			 * their workers to drop) */
			if (attached &&
			    tp->out.len - tp->out_off >= tp->max_bytes)
				break;
			size_t n = ring_pop(t->ring, batch, TAP_DRAIN_BATCH);
			for (size_t k = 0; k < n; k++) {
				struct tap_ex *x = batch[k];
				if (attached)
					ex_send(tp, x);
				atomic_fetch_sub_explicit(&t->queued, x->held,
							  memory_order_relaxed);
				ex_free(x);
			}
			if (n < TAP_DRAIN_BATCH)
				break;
		}
	}
}

/* Losses since the last report, as one LOSS record. */
static void send_losses(struct proxy_tap *tp)
{
	static const struct {
		int tc;
		cap_loss_t loss;
	} map[] = {{TC_DROP_QUEUE, CAP_LOSS_TAP_QUEUE},
		   {TC_DROP_BYTES, CAP_LOSS_TAP_BYTES},
		   {TC_CLIENT_ABORT, CAP_LOSS_CLIENT_ABORT},
		   {TC_INCOMPLETE, CAP_LOSS_TRUNCATED}};
	cap_rec_t l = {.kind = CAP_KIND_LOSS, .req_ns = clock_wall_ns()};
	bool any = false;
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
		uint64_t now = tc_total(tp->px, map[i].tc);
		l.loss[map[i].loss] = now - tp->base[map[i].tc];
		tp->base[map[i].tc] = now;
		any = any || l.loss[map[i].loss];
	}
	/* refused by masking (ex_send): fails closed, counted */
	uint64_t refused = atomic_load(&tp->mask_refused);
	l.loss[CAP_LOSS_MASK] = refused - tp->base_mask_refused;
	tp->base_mask_refused = refused;
	any = any || l.loss[CAP_LOSS_MASK];
	if (any)
		frame_out(tp, &l);
}

static void detach(struct proxy_tap *tp)
{
	if (tp->cfd < 0)
		return;
	atomic_store(&tp->px->tap_attached, false);
	close(tp->cfd);
	tp->cfd = -1;
	tp->out.len = tp->out_off = 0;
	log_info("proxy", "capture client detached",
		 LF_U("exchanges", atomic_load(&tp->sent)));
}

/* Writes what it can; false when the client is gone. */
static bool flush_out(struct proxy_tap *tp)
{
	while (tp->out_off < tp->out.len) {
		ssize_t n = send(tp->cfd, tp->out.data + tp->out_off,
				 tp->out.len - tp->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return false;
		tp->out_off += (size_t)n;
	}
	if (tp->out_off == tp->out.len) {
		tp->out.len = tp->out_off = 0;
	} else if (tp->out_off > (1u << 20)) {
		buf_consume(&tp->out, tp->out_off);
		tp->out_off = 0;
	}
	return true;
}

static void header_into(struct proxy_tap *tp, buf_t *b, const char *error)
{
	cap_meta_t m = {0};
	m.version = CAP_VERSION;
	snprintf(m.source, sizeof(m.source), "proxy");
	snprintf(m.service, sizeof(m.service), "%s", tp->service);
	snprintf(m.masking, sizeof(m.masking), "%s",
		 atomic_load(&tp->masker)->name);
	clock_iso8601(clock_wall_ns(), m.created);
	if (error)
		snprintf(m.error, sizeof(m.error), "%s", error);
	cap_header_encode(&m, b);
}

static void on_accept(struct proxy_tap *tp)
{
	int fd = accept4(tp->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	const char *refuse = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 ||
	    (cr.uid != geteuid() && cr.uid != 0))
		refuse = "not the proxy's user";
	else if (tp->cfd >= 0)
		refuse = "another capture client is attached";
	if (refuse) {
		buf_t b = BUF_INIT;
		header_into(tp, &b, refuse);
		(void)!send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		buf_free(&b);
		close(fd);
		log_warn("proxy", "capture client refused",
			 LF_S("reason", refuse));
		return;
	}
	tp->cfd = fd;
	tp->out.len = tp->out_off = 0;
	header_into(tp, &tp->out, NULL);
	for (int k = 0; k < TC__COUNT; k++)
		tp->base[k] = tc_total(tp->px, k);
	tp->base_mask_refused = atomic_load(&tp->mask_refused);
	tp->next_loss = proxy__now() + TAP_LOSS_EVERY_NS;
	atomic_fetch_add(&tp->clients, 1);
	/* exchanges that begin from now on are copied */
	atomic_store(&tp->px->tap_attached, true);
	log_info("proxy", "capture client attached", LF_S("socket", tp->path));
}

static void *tap_main(void *arg)
{
	struct proxy_tap *tp = arg;
	while (!atomic_load(&tp->stop)) {
		struct pollfd p[3] = {{tp->lfd, POLLIN, 0},
				      {tp->wake, POLLIN, 0},
				      {tp->cfd, POLLIN, 0}};
		if (tp->cfd >= 0 && tp->out_off < tp->out.len)
			p[2].events |= POLLOUT;
		int n = tp->cfd >= 0 ? 3 : 2;
		poll(p, (nfds_t)n, tp->cfd >= 0 ? TAP_POLL_MS : TAP_IDLE_POLL_MS);
		if (p[1].revents) {
			uint64_t v;
			(void)!read(tp->wake, &v, sizeof(v));
		}
		if (p[0].revents & POLLIN)
			on_accept(tp);
		bool attached = tp->cfd >= 0;
		if (attached && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			char junk[256];
			ssize_t r = recv(tp->cfd, junk, sizeof(junk),
					 MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN &&
				       errno != EINTR)) {
				detach(tp);
				attached = false;
			}
		}
		drain(tp, attached);
		if (attached && proxy__now() >= tp->next_loss) {
			send_losses(tp);
			tp->next_loss = proxy__now() + TAP_LOSS_EVERY_NS;
		}
		if (attached && !flush_out(tp))
			detach(tp);
	}
	/* shutdown: what is queued goes out, briefly, then the client is
	 * told by EOF */
	if (tp->cfd >= 0) {
		atomic_store(&tp->px->tap_attached, false);
		int64_t deadline = proxy__now() + TAP_FINAL_FLUSH_NS;
		drain(tp, true);
		send_losses(tp);
		while (tp->out_off < tp->out.len && proxy__now() < deadline) {
			if (!flush_out(tp))
				break;
			struct pollfd p = {tp->cfd, POLLOUT, 0};
			poll(&p, 1, 50);
		}
		detach(tp);
	}
	return NULL;
}

/* =============================================================== setup */

/* Binds the socket: refuses one a live process answers on, replaces a
 * stale one. Returns the fd or a negative error (logged). */
static int bind_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* the directory: made private if missing */
	char dir[sizeof(sun.sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -errno;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int e = errno;
		if (e != EADDRINUSE) {
			close(fd);
			return -e;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 &&
			    connect(probe, (struct sockaddr *)&sun,
				    sizeof(sun)) == 0;
		if (probe >= 0)
			close(probe);
		if (live) {
			close(fd);
			return -EADDRINUSE;
		}
		unlink(path); /* left by a proxy that died */
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			e = errno;
			close(fd);
			return -e;
		}
	}
	/* connect(2) needs write permission: owner only */
	if (chmod(path, 0600) != 0 || listen(fd, 4) != 0) {
		int e = -errno;
		close(fd);
		unlink(path);
		return e;
	}
	return fd;
}

void proxy__tap_new(proxy_t *px, const config_t *cfg)
{
	if (!cfg->capture.tap)
		return;
	const char *path = cfg->capture.tap_socket;
	struct proxy_tap *tp = xcalloc(1, sizeof(*tp));
	if (strlen(path) >= sizeof(tp->path)) {
		log_warn("proxy", "capture tap off: socket path too long",
			 LF_S("path", path), LF_U("max", sizeof(tp->path) - 1));
		free(tp);
		return;
	}
	int fd = bind_socket(path);
	if (fd < 0) {
		log_warn("proxy", "capture tap off: cannot listen",
			 LF_S("path", path), LF_ERR("err", fd));
		free(tp);
		return;
	}
	snprintf(tp->path, sizeof(tp->path), "%s", path);
	tp->px = px;
	tp->lfd = fd;
	tp->cfd = -1;
	tp->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	tp->max_body = cfg->capture.max_body;
	tp->max_bytes = cfg->capture.tap_bytes;
	snprintf(tp->service, sizeof(tp->service), "%s", cfg->service);
	atomic_store(&tp->masker, &cap_mask_passthrough);
	for (int i = 0; i < px->nworkers; i++) {
		struct tap_worker *t = xcalloc(1, sizeof(*t));
		t->ring = ring_new(sizeof(struct tap_ex *),
				   (size_t)cfg->capture.tap_queue);
		px->workers[i].tap = t;
	}
	px->tap = tp;
	if (pthread_create(&tp->thread, NULL, tap_main, tp) == 0) {
		tp->running = true;
		log_info("proxy", "capture tap listening", LF_S("socket", path));
	}
}

void proxy__tap_stop(proxy_t *px)
{
	struct proxy_tap *tp = px->tap;
	if (!tp || !tp->running)
		return;
	atomic_store(&tp->stop, true);
	uint64_t one = 1;
	(void)!write(tp->wake, &one, sizeof(one));
	pthread_join(tp->thread, NULL);
	tp->running = false;
	close(tp->lfd);
	unlink(tp->path);
}

void proxy__tap_free(proxy_t *px)
{
	struct proxy_tap *tp = px->tap;
	if (!tp)
		return;
	proxy__tap_stop(px);
	for (int i = 0; i < px->nworkers; i++) {
		struct tap_worker *t = px->workers[i].tap;
		if (!t)
			continue;
		struct tap_ex *x;
		while (ring_pop(t->ring, &x, 1))
			ex_free(x);
		ring_free(t->ring);
		free(t);
		px->workers[i].tap = NULL;
	}
	close(tp->wake);
	buf_free(&tp->out);
	buf_free(&tp->payload);
	buf_free(&tp->frame);
	buf_free(&tp->scratch);
	free(tp);
	px->tap = NULL;
}

/* =============================================================== api */

void proxy_tap_set_masker(proxy_t *px, const struct cap_masker *m)
{
	if (px->tap)
		atomic_store(&px->tap->masker, m ? m : &cap_mask_passthrough);
}

const char *proxy_tap_socket(const proxy_t *px)
{
	return px->tap ? px->tap->path : NULL;
}

void proxy_tap_counters(const proxy_t *px, proxy_tap_counters_t *out)
{
	memset(out, 0, sizeof(*out));
	struct proxy_tap *tp = px->tap;
	if (!tp)
		return;
	out->attached = atomic_load(&((proxy_t *)px)->tap_attached);
	out->clients = atomic_load(&tp->clients);
	out->captured = tc_total(px, TC_CAPTURED);
	out->sent = atomic_load(&tp->sent);
	out->dropped_queue = tc_total(px, TC_DROP_QUEUE);
	out->dropped_bytes = tc_total(px, TC_DROP_BYTES);
	out->client_aborts = tc_total(px, TC_CLIENT_ABORT);
	out->incomplete = tc_total(px, TC_INCOMPLETE);
	out->mask_refused = atomic_load(&tp->mask_refused);
}
