/*
 * upstream.c: replicas as a worker sees them (round robin, passive health,
 * the shadow's circuit breaker) and their keep-alive connection pools.
 * Every replica object, pool and connection belongs to one worker, so
 * none of this takes a lock. A replica removed from the list keeps its
 * object until its last connection is gone, so in-flight requests finish.
 */
#include "proxy/proxy_int.h"

#include "base/err.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void uconn_cb(evutil_socket_t fd, short what, void *arg);

static bool addr_eq(const addr_t *a, const addr_t *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* --------------------------------------------------------------- replicas */

static replica_t *replica_new(worker_t *w, proxy_side_t side,
			      const addr_t *a)
{
	replica_t *r = xcalloc(1, sizeof(*r));
	r->w = w;
	r->side = side;
	r->addr = *a;
	addr_format(a, r->name);
	r->resolved = addr_resolve(a, &r->ss, &r->sslen) == 0;
	r->next = w->replicas;
	w->replicas = r;
	return r;
}

static void replica_maybe_free(replica_t *r)
{
	if (!r->removed || r->refs || r->nidle)
		return;
	worker_t *w = r->w;
	for (replica_t **p = &w->replicas; *p; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	free(r);
}

void proxy__replicas_reconcile(worker_t *w)
{
	const proxy_rt_t *rt = w->rt;
	for (int s = 0; s < PROXY_SIDE__COUNT; s++) {
		const rt_side_t *want = &rt->side[s];
		replica_t **list = xcalloc(want->n ? want->n : 1,
					   sizeof(replica_t *));
		for (size_t i = 0; i < want->n; i++) {
			replica_t *found = NULL;
			for (size_t k = 0; k < w->nside[s]; k++)
				if (addr_eq(&w->side[s][k]->addr,
					    &want->addrs[i]))
					found = w->side[s][k];
			list[i] = found ? found
					: replica_new(w, (proxy_side_t)s,
						      &want->addrs[i]);
		}
		/* Replicas no longer listed: no new work; idle connections
		 * go now, busy ones when their exchange ends. */
		for (size_t k = 0; k < w->nside[s]; k++) {
			replica_t *r = w->side[s][k];
			bool kept = false;
			for (size_t i = 0; i < want->n; i++)
				kept |= list[i] == r;
			if (kept)
				continue;
			r->removed = true;
			while (r->idle) {
				uconn_t *u = r->idle;
				r->idle = u->next;
				r->nidle--;
				u->rep = NULL;
				r->refs--;
				proxy__uconn_release(u, false);
			}
			replica_maybe_free(r);
		}
		free(w->side[s]);
		w->side[s] = list;
		w->nside[s] = want->n;
		if (w->rr[s] >= want->n)
			w->rr[s] = 0;
	}
}

void proxy__replicas_free(worker_t *w)
{
	for (int s = 0; s < PROXY_SIDE__COUNT; s++) {
		free(w->side[s]);
		w->side[s] = NULL;
		w->nside[s] = 0;
	}
	for (replica_t *r = w->replicas; r; r = r->next) {
		while (r->idle) {
			uconn_t *u = r->idle;
			r->idle = u->next;
			r->nidle--;
			u->rep = NULL;
			r->refs--;
			proxy__uconn_release(u, false);
		}
	}
	while (w->replicas) {
		replica_t *r = w->replicas;
		w->replicas = r->next;
		free(r);
	}
}

replica_t *proxy__replica_pick(worker_t *w, proxy_side_t side)
{
	size_t n = w->nside[side];
	if (n == 0)
		return NULL;
	int64_t now = proxy__now();
	replica_t *soonest = NULL;
	for (size_t i = 0; i < n; i++) {
		replica_t *r = w->side[side][(w->rr[side] + i) % n];
		if (r->down_until <= now && r->resolved) {
			w->rr[side] = (w->rr[side] + i + 1) % n;
			return r;
		}
		if (!soonest || r->down_until < soonest->down_until)
			soonest = r;
	}
	/* All ejected: production tries the one back soonest (a replica
	 * that is really down fails fast; refusing would fail for sure).
	 * The shadow waits for its breaker. */
	return side == PROXY_PRODUCTION ? soonest : NULL;
}

void proxy__replica_result(replica_t *rep, bool ok)
{
	if (!rep)
		return;
	const proxy_rt_t *rt = rep->w->rt;
	if (ok) {
		if (rep->down_for)
			log_info("proxy", "upstream back",
				 LF_S("addr", rep->name),
				 LF_I("worker", rep->w->id));
		rep->fails = 0;
		rep->down_for = 0;
		return;
	}
	rep->fails++;
	int64_t now = proxy__now();
	if (rep->side == PROXY_PRODUCTION) {
		if (rep->fails >= rt->eject_after) {
			if (rep->down_until <= now)
				log_warn("proxy", "replica ejected",
					 LF_S("addr", rep->name),
					 LF_U("failures", rep->fails));
			rep->down_until = now + rt->eject_for;
			rep->down_for = rt->eject_for;
		}
	} else if (rep->fails >= PROXY_SHADOW_DOWN_AFTER) {
		/* Circuit breaker: a dead shadow costs one failed connect
		 * per period, not one per mirrored request. */
		int64_t d = rep->down_for ? rep->down_for * 2
					  : PROXY_SHADOW_DOWN_MIN_NS;
		if (d > PROXY_SHADOW_DOWN_MAX_NS)
			d = PROXY_SHADOW_DOWN_MAX_NS;
		if (!rep->down_for)
			log_warn("proxy", "shadow unreachable: breaker open",
				 LF_S("addr", rep->name),
				 LF_I("worker", rep->w->id));
		rep->down_for = d;
		rep->down_until = now + d;
	}
}

/* --------------------------------------------------------------- conns */

static uconn_t *uconn_new(replica_t *rep, int fd)
{
	worker_t *w = rep->w;
	uconn_t *u = xcalloc(1, sizeof(*u));
	u->w = w;
	u->rep = rep;
	rep->refs++;
	u->fd = fd;
	u->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, uconn_cb, u);
	u->wev = event_new(w->base, fd, EV_WRITE, uconn_cb, u);
	u->tev = event_new(w->base, -1, 0, uconn_cb, u);
	return u;
}

uconn_t *proxy__uconn_get(replica_t *rep, bool allow_pooled, bool *reused,
			  int *err)
{
	*reused = false;
	if (allow_pooled && rep->idle) {
		uconn_t *u = rep->idle;
		rep->idle = u->next;
		rep->nidle--;
		u->next = NULL;
		u->state = U_BUSY;
		u->reused = true;
		event_del(u->tev);
		*reused = true;
		return u;
	}
	int fault = fault_sim(rep->side == PROXY_PRODUCTION
				      ? FAULT_UPSTREAM_CONNECT
				      : FAULT_SHADOW_CONNECT);
	if (fault) {
		*err = fault;
		return NULL;
	}
	int fd = socket(rep->ss.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	uconn_t *u = uconn_new(rep, fd);
	u->t_connect = proxy__now();
	if (connect(fd, (struct sockaddr *)&rep->ss, rep->sslen) != 0 &&
	    errno != EINPROGRESS) {
		*err = -errno;
		proxy__uconn_release(u, false);
		return NULL;
	}
	u->state = U_CONNECTING;
	event_add(u->rev, NULL);
	event_add(u->wev, NULL);
	return u;
}

/* Arms (ns > 0) or clears the connection's single timer. */
void proxy__uconn_arm(uconn_t *u, int64_t ns)
{
	if (ns > 0)
		event_add(u->tev, proxy__timeout(u->w, ns));
	else
		event_del(u->tev);
}

void proxy__uconn_free(uconn_t *u);
void proxy__uconn_free(uconn_t *u)
{
	iobuf_free(&u->in);
	buf_free(&u->out.b);
	free(u);
}

void proxy__uconn_release(uconn_t *u, bool reusable)
{
	worker_t *w = u->w;
	replica_t *rep = u->rep;
	u->client = NULL;
	u->job = NULL;
	if (reusable && rep && !rep->removed && !w->draining &&
	    iobuf_len(&u->in) == 0 && obuf_pending(&u->out) == 0 &&
	    rep->nidle < (rep->side == PROXY_PRODUCTION ? w->rt->pool_size
							: w->rt->shadow_pool)) {
		u->state = U_IDLE;
		u->t_idle = proxy__now();
		u->in.start = u->in.end = 0;
		event_del(u->wev);
		u->next = rep->idle;
		rep->idle = u;
		rep->nidle++;
		u->served++;
		proxy__uconn_arm(u, w->rt->pool_idle);
		return;
	}
	if (u->fd >= 0) {
		event_free(u->rev);
		event_free(u->wev);
		event_free(u->tev);
		close(u->fd);
		u->fd = -1;
	}
	if (rep) {
		rep->refs--;
		u->rep = NULL;
		replica_maybe_free(rep);
	}
	u->next = w->dead_uconns;
	w->dead_uconns = u;
	proxy__reap_later(w);
}

/* An idle pooled connection woke up: the upstream closed it, sent junk,
 * or it idled out. Either way it leaves the pool. */
static void idle_event(uconn_t *u, short what)
{
	replica_t *rep = u->rep;
	if (what & EV_READ) {
		char b[64];
		ssize_t n = read(u->fd, b, sizeof(b));
		if (n < 0 && errno == EAGAIN)
			return;
	}
	for (uconn_t **p = &rep->idle; *p; p = &(*p)->next) {
		if (*p == u) {
			*p = u->next;
			rep->nidle--;
			break;
		}
	}
	proxy__uconn_release(u, false);
}

static void uconn_cb(evutil_socket_t fd, short what, void *arg)
{
	uconn_t *u = arg;
	if (u->fd < 0)
		return;
	if (u->state == U_IDLE) {
		idle_event(u, what);
		return;
	}
	if (u->client)
		proxy__client_upstream_event(u->client, u, what);
	else if (u->job)
		proxy__mirror_uconn_event(u, what);
	else
		proxy__uconn_release(u, false);
}
