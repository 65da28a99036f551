/*
 * health.c: readiness checks of one replica, on the loop, non-blocking:
 * a TCP connect, or an HTTP/1.1 GET of health.path whose status must be
 * 2xx or 3xx. One check in flight per replica, bounded by health.timeout.
 */
#include "provision/prov_int.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROV_HEALTH_RESP_MAX 512 /* the status line is all we read */

struct prov_health {
	prov_replica_t *r;
	int fd;
	struct event *ev;
	bool http, connected;
	char req[512];
	size_t req_len, sent;
	char resp[PROV_HEALTH_RESP_MAX];
	size_t resp_len;
};

static void finish(prov_health_t *h, bool ok, const char *why)
{
	prov_replica_t *r = h->r;
	r->hc = NULL;
	event_free(h->ev);
	close(h->fd);
	free(h);
	prov__health_done(r, ok, why);
}

/* Parses "HTTP/1.x NNN" once the line is complete: 1 ok, 0 bad, -1 more. */
static int status_ok(const prov_health_t *h, int *code)
{
	const char *eol = memchr(h->resp, '\n', h->resp_len);
	if (!eol)
		return h->resp_len >= sizeof(h->resp) ? 0 : -1;
	if (h->resp_len < 12 || strncmp(h->resp, "HTTP/1.", 7) != 0)
		return 0;
	*code = atoi(h->resp + 9);
	return *code >= 200 && *code < 400;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	prov_health_t *h = arg;
	if (what & EV_TIMEOUT) {
		finish(h, false,
		       h->connected ? "timed out waiting for the "
				      "answer"
				    : "connect timed out");
		return;
	}
	if (!h->connected) {
		int e = 0;
		socklen_t l = sizeof(e);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
		if (e) {
			finish(h, false, strerror(e));
			return;
		}
		h->connected = true;
		if (!h->http) {
			finish(h, true, NULL);
			return;
		}
	}
	if (h->sent < h->req_len) {
		ssize_t n = send(fd, h->req + h->sent, h->req_len - h->sent,
				 MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			finish(h, false, strerror(errno));
			return;
		}
		if (n > 0)
			h->sent += (size_t)n;
		if (h->sent == h->req_len) {
			/* now wait for the answer, same deadline */
			event_del(h->ev);
			event_assign(h->ev, event_get_base(h->ev), fd, EV_READ,
				     on_event, h);
			struct timeval tv = {
			    (time_t)(h->r->p->spec[h->r->side].health_timeout /
				     1000000000),
			    (suseconds_t)(h->r->p->spec[h->r->side]
					      .health_timeout %
					  1000000000 / 1000)};
			event_add(h->ev, &tv);
		}
		return;
	}
	ssize_t n =
	    recv(fd, h->resp + h->resp_len, sizeof(h->resp) - h->resp_len, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		finish(h, false,
		       n == 0 ? "closed without an answer" : strerror(errno));
		return;
	}
	h->resp_len += (size_t)n;
	int code = 0;
	int st = status_ok(h, &code);
	if (st < 0)
		return;
	if (st) {
		finish(h, true, NULL);
		return;
	}
	char why[64];
	if (code)
		snprintf(why, sizeof(why), "HTTP status %d", code);
	else
		snprintf(why, sizeof(why), "not an HTTP answer");
	finish(h, false, why);
}

int prov__health_start(prov_replica_t *r)
{
	const prov_spec_t *s = &r->p->spec[r->side];
	if (r->hc)
		return ERR_BADSTATE;
	int fd = socket(r->sa.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	prov_health_t *h = xcalloc(1, sizeof(*h));
	h->r = r;
	h->fd = fd;
	h->http = s->health_type == CONFIG_HEALTH_HTTP;
	if (h->http)
		h->req_len = (size_t)snprintf(
		    h->req, sizeof(h->req),
		    "GET %.300s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
		    "umbra-health\r\nConnection: close\r\n\r\n",
		    s->health_path, r->addr);
	int rc = connect(fd, (struct sockaddr *)&r->sa, r->salen);
	if (rc && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		free(h);
		r->hc = NULL;
		/* Refused at once: report through the normal path. */
		prov__health_done(r, false, strerror(e));
		return 0;
	}
	h->ev = event_new(r->p->base, fd, EV_WRITE, on_event, h);
	struct timeval tv = {
	    (time_t)(s->health_timeout / 1000000000),
	    (suseconds_t)(s->health_timeout % 1000000000 / 1000)};
	event_add(h->ev, &tv);
	r->hc = h;
	return 0;
}

void prov__health_cancel(prov_replica_t *r)
{
	prov_health_t *h = r->hc;
	if (!h)
		return;
	r->hc = NULL;
	event_free(h->ev);
	close(h->fd);
	free(h);
}
