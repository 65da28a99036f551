/*
 * worker.c: a proxy worker thread: its event loop, its listener
 * (SO_REUSEPORT, so the kernel spreads connections; paused at
 * listen.max_connections and, with a back-off, when out of descriptors),
 * the eventfd through
 * which the control side wakes it (new settings, drain, stop), and the
 * deferred freeing of objects closed inside their own callbacks.
 */
#include "proxy/proxy_int.h"

#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 64 /* accepts per wakeup: fairness with the rest */
#define ACCEPT_LIMIT_POLL_NS (50LL * 1000000) /* at max_connections, a
	worker also looks again this often: a connection another worker
	closed frees a slot without telling it */
#define ACCEPT_BACKOFF_MIN_NS (50LL * 1000000)  /* out of descriptors: */
#define ACCEPT_BACKOFF_MAX_NS (1000LL * 1000000) /* pause accepting this
	long, doubling while it lasts (nginx pauses 500 ms, HAProxy until a
	connection closes): the listener would otherwise be readable
	forever and the loop spin on EMFILE */

void proxy__worker_notify(worker_t *w)
{
	uint64_t one = 1;
	(void)!write(w->notify_fd, &one, sizeof(one));
}

void proxy__reap_later(worker_t *w)
{
	event_active(w->ev_reap, 0, 0);
}

/* Copies queued during this pass of the loop go out together at its end:
 * ev_mirror has the only priority there is, so event_active appends it to
 * the tail of the active queue that libevent is running, after every I/O
 * callback of the pass (and libevent polls again only once that queue is
 * empty). A lower priority would cost an extra epoll_wait per pass and
 * could starve the shadow under load; a zero timeout would wait for the
 * next pass. Activating an already active event does nothing, so a pass
 * dispatches once however many copies it queues. */
void proxy__mirror_later(worker_t *w)
{
	if (w->qhead)
		event_active(w->ev_mirror, EV_TIMEOUT, 0);
}

static void on_mirror(evutil_socket_t fd, short what, void *arg)
{
	proxy__mirror_dispatch(arg);
}

static void on_refill(evutil_socket_t fd, short what, void *arg)
{
	proxy__mirror_refill(arg);
}

struct timeval proxy__tv(int64_t ns)
{
	return (struct timeval){(time_t)(ns / 1000000000),
				(suseconds_t)(ns % 1000000000 / 1000)};
}

const struct timeval *proxy__timeout(worker_t *w, int64_t ns)
{
	struct timeval tv = {(time_t)(ns / 1000000000),
			     (suseconds_t)(ns % 1000000000 / 1000)};
	/* libevent's common timeouts make add/del O(1) for the few
	 * durations a worker uses; keep one per distinct duration. */
	for (int i = 0; i < 8; i++) {
		const struct timeval *c = w->tv_common[i];
		if (!c) {
			c = event_base_init_common_timeout(w->base, &tv);
			w->tv_common[i] = c;
			if (c)
				return c;
			break;
		}
		/* common timeouts carry a magic in tv_usec's high bits:
		 * compare seconds and the low 20 bits */
		if (c->tv_sec == tv.tv_sec &&
		    (c->tv_usec & 0xfffff) == tv.tv_usec)
			return c;
	}
	w->tv_tmp = tv;
	return &w->tv_tmp;
}

/* Stops accepting for ns (or until a connection of this worker closes,
 * proxy__accept_resume). */
static void accept_pause(worker_t *w, int64_t ns)
{
	if (!w->ev_listen)
		return;
	if (!w->accept_paused) {
		event_del(w->ev_listen);
		w->accept_paused = true;
	}
	struct timeval tv = proxy__tv(ns);
	event_add(w->ev_resume, &tv);
}

void proxy__accept_resume(worker_t *w)
{
	if (!w->accept_paused || !w->ev_listen || w->draining)
		return;
	event_del(w->ev_resume);
	event_add(w->ev_listen, NULL);
	w->accept_paused = false;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	proxy__accept_resume(arg);
}

/* Out of descriptors: what waits in the backlog is shed (accepted on
 * the reserve descriptor and closed at once, so those clients learn it
 * now instead of timing out), and accepting pauses with a back-off. */
static void accept_exhausted(worker_t *w, int lfd)
{
	WC_INC(w, fd_exhausted);
	log_warn_limited("proxy",
			 "accept: out of file descriptors; shedding new "
			 "connections",
			 LF_I("worker", w->id));
	if (w->reserve_fd >= 0) {
		close(w->reserve_fd);
		for (int i = 0; i < ACCEPT_BATCH; i++) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				break;
			close(fd);
			WC_INC(w, conns_shed);
		}
		w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	w->accept_backoff = w->accept_backoff
				    ? w->accept_backoff * 2
				    : ACCEPT_BACKOFF_MIN_NS;
	if (w->accept_backoff > ACCEPT_BACKOFF_MAX_NS)
		w->accept_backoff = ACCEPT_BACKOFF_MAX_NS;
	accept_pause(w, w->accept_backoff);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	worker_t *w = arg;
	proxy_t *px = w->px;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		/* A slot is taken before accept(2), so that workers
		 * accepting at once cannot pass the limit together. */
		if (atomic_fetch_add(&px->nconns, 1) >= w->rt->max_conns) {
			atomic_fetch_sub(&px->nconns, 1);
			if (!w->at_limit) {
				w->at_limit = true;
				WC_INC(w, conn_limit);
				log_warn_limited(
					"proxy",
					"listen.max_connections reached: "
					"not accepting until one closes",
					LF_I("max", w->rt->max_conns));
			}
			accept_pause(w, ACCEPT_LIMIT_POLL_NS);
			return;
		}
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			atomic_fetch_sub(&px->nconns, 1);
			if (errno == EMFILE || errno == ENFILE)
				accept_exhausted(w, lfd);
			return;
		}
		w->at_limit = false;
		w->accept_backoff = 0;
		if (w->reserve_fd < 0) /* lost to a race when last shed */
			w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		WC_INC(w, accepted);
		proxy__client_accept(w, fd, (struct sockaddr *)&ss);
	}
}

void proxy__worker_apply_rt(worker_t *w)
{
	const proxy_rt_t *rt = atomic_load(&w->px->rt);
	if (rt == w->rt)
		return;
	w->rt = rt;
	if (w->hdrs_cap < rt->limits.max_headers) {
		free(w->hdrs);
		free(w->mhdrs);
		w->hdrs_cap = rt->limits.max_headers;
		w->hdrs = xcalloc(w->hdrs_cap, sizeof(http_header_t));
		w->mhdrs = xcalloc(w->hdrs_cap, sizeof(mask_header_t));
	}
	/* A context belongs to one masker: a new masker, a new context,
	 * before this worker acknowledges (so the old masker can go). */
	const mask_t *m = rt->mask ? rt->mask->m : NULL;
	if (m != w->mctx_of) {
		mask_ctx_free(w->mctx);
		w->mctx = m ? mask_ctx_new(m) : NULL;
		w->mctx_of = m;
	}
	if (w->tokens > rt->burst)
		w->tokens = rt->burst;
	proxy__replicas_reconcile(w);
	atomic_store(&w->seen_gen, rt->gen);
}

static void start_drain(worker_t *w)
{
	if (w->draining)
		return;
	w->draining = true;
	if (w->ev_listen) {
		event_free(w->ev_listen);
		w->ev_listen = NULL;
	}
	event_del(w->ev_resume);
	if (w->listen_fd >= 0) {
		close(w->listen_fd);
		w->listen_fd = -1;
	}
	proxy__mirror_drop_all(w, PROXY_DROP_DRAINING);
	proxy__client_drain(w);
	if (w->nclients == 0)
		event_base_loopbreak(w->base);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	worker_t *w = arg;
	uint64_t v;
	(void)!read(fd, &v, sizeof(v));
	proxy__worker_apply_rt(w);
	if (w->stopping) {
		event_base_loopbreak(w->base);
		return;
	}
	if (atomic_load(&w->px->draining))
		start_drain(w);
	proxy__mirror_dispatch(w);
}

void proxy__client_free(cconn_t *c);
void proxy__uconn_free(uconn_t *u);

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	worker_t *w = arg;
	while (w->dead_clients) {
		cconn_t *c = w->dead_clients;
		w->dead_clients = c->next;
		proxy__client_free(c);
	}
	while (w->dead_uconns) {
		uconn_t *u = w->dead_uconns;
		w->dead_uconns = u->next;
		proxy__uconn_free(u);
	}
	if (w->draining && w->nclients == 0)
		event_base_loopbreak(w->base);
}

int proxy__worker_init(worker_t *w, proxy_t *px, int id, int listen_fd);
int proxy__worker_init(worker_t *w, proxy_t *px, int id, int listen_fd)
{
	w->px = px;
	w->id = id;
	w->listen_fd = listen_fd;
	struct event_config *ec = event_config_new();
	/* Each base is used by its own thread only: no locks. */
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
	w->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (!w->base)
		xmalloc_oom("event_base_new");
	w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->ev_notify = event_new(w->base, w->notify_fd, EV_READ | EV_PERSIST,
				 on_notify, w);
	event_add(w->ev_notify, NULL);
	w->ev_listen = event_new(w->base, listen_fd, EV_READ | EV_PERSIST,
				 on_accept, w);
	event_add(w->ev_listen, NULL);
	w->ev_resume = event_new(w->base, -1, 0, on_resume, w);
	w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	w->ev_reap = event_new(w->base, -1, 0, on_reap, w);
	w->ev_mirror = event_new(w->base, -1, 0, on_mirror, w);
	w->ev_refill = event_new(w->base, -1, 0, on_refill, w);
	w->shadow_budget = PROXY_SHADOW_PASS_BUDGET;
	w->ring = ring_new(sizeof(reqrec_t), PROXY_RING_RECORDS);
	w->rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)id << 32) ^
		 (uint64_t)proxy__now();
	proxy__worker_apply_rt(w);
	w->tokens = w->rt->burst;
	w->tokens_at = proxy__now();
	w->capture_budget = PROXY_CAPTURE_BUDGET;
	cmp_ident_init(&w->ident, w->rt->ident_learn_ns);
	return 0;
}

static void *worker_main(void *arg)
{
	worker_t *w = arg;
	if (w->px->sandbox) {
		/* never fatal: the production path runs on, unfiltered */
		int rc = proxy__sandbox_enter();
		if (rc)
			log_error("proxy",
				  "cannot install the worker's seccomp filter; "
				  "it runs without",
				  LF_I("worker", w->id), LF_ERR("err", rc));
	}
	event_base_dispatch(w->base);
	return NULL;
}

int proxy__worker_start(worker_t *w);
int proxy__worker_start(worker_t *w)
{
	int rc = pthread_create(&w->thread, NULL, worker_main, w);
	return rc ? -rc : 0;
}

bool proxy__worker_join(worker_t *w, int64_t deadline_ns);
bool proxy__worker_join(worker_t *w, int64_t deadline_ns)
{
	if (deadline_ns == INT64_MAX)
		return pthread_join(w->thread, NULL) == 0;
	int64_t now = proxy__now();
	int64_t wall;
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	wall = (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec +
	       (deadline_ns > now ? deadline_ns - now : 0);
	struct timespec ts = {(time_t)(wall / 1000000000),
			      (long)(wall % 1000000000)};
	return pthread_timedjoin_np(w->thread, NULL, &ts) == 0;
}

void proxy__worker_stop(worker_t *w);
void proxy__worker_stop(worker_t *w)
{
	w->stopping = true;
	proxy__worker_notify(w);
}

void proxy__worker_fini(worker_t *w);
void proxy__worker_fini(worker_t *w)
{
	while (w->clients)
		proxy__client_free(w->clients);
	on_reap(-1, 0, w);
	proxy__mirror_drop_all(w, PROXY_DROP_DRAINING);
	proxy__replicas_free(w);
	on_reap(-1, 0, w);
	if (w->ev_listen)
		event_free(w->ev_listen);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	event_free(w->ev_notify);
	event_free(w->ev_resume);
	if (w->reserve_fd >= 0)
		close(w->reserve_fd);
	event_free(w->ev_reap);
	event_free(w->ev_mirror);
	event_free(w->ev_refill);
	close(w->notify_fd);
	event_base_free(w->base);
	ring_free(w->ring);
	free(w->hdrs);
	free(w->mhdrs);
	mask_ctx_free(w->mctx);
	buf_free(&w->scratch);
	buf_free(&w->mscratch);
}
