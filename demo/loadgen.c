/*
 * loadgen.c: the demo's load generator: keep-alive HTTP/1.1 requests at
 * a rate that follows a day compressed into --day seconds, so that a
 * demo of a few minutes has a morning ramp, a midday peak and an
 * evening fall for the forecaster to see coming.
 *
 *   loadgen --target HOST:PORT --base RPS --peak RPS --day SECONDS
 *           [--duration SECONDS] [--connections N] [--quiet]
 *
 * rate(t) = base + (peak - base) * ((1 - cos(2 pi t / day)) / 2)^2:
 * quiet at t = 0, peak at day / 2. The mix is the demo service's
 * catalogue: 40% product list, 40% one product, 20% search. Every
 * second it prints "t rate sent ok errors" unless --quiet; at the end a
 * summary. Open loop: requests due while every connection is busy are
 * counted as late, not queued without bound.
 */
#include "base/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LG_TICK_US 2000     /* scheduling granularity */
#define LG_MAX_CONNS 512
#define LG_BUF 65536

typedef struct conn {
	int fd;
	struct event *ev;
	bool busy;
	char buf[LG_BUF];
	size_t len;
	struct conn *next_idle;
} conn_t;

static struct event_base *base;
static struct sockaddr_storage ss;
static socklen_t sslen;
static conn_t conns[LG_MAX_CONNS];
static int nconns = 16;
static double rate_base = 20, rate_peak = 200, day_s = 120, duration_s = 0;
static bool quiet;
static double t0, due;
static unsigned long sent, ok, errors, late, sec_sent, sec_ok;
static unsigned rng = 7;
static char host_hdr[ADDR_TEXT_MAX];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double rate_at(double t)
{
	double x = (1 - cos(2 * M_PI * t / day_s)) / 2;
	return rate_base + (rate_peak - rate_base) * x * x;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg);

static bool conn_open(conn_t *c)
{
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (c->fd < 0)
		return false;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&ss, sslen) != 0 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return false;
	}
	c->ev = event_new(base, c->fd, EV_READ | EV_PERSIST, conn_cb, c);
	event_add(c->ev, NULL);
	c->busy = false;
	c->len = 0;
	return true;
}

static void conn_reset(conn_t *c)
{
	if (c->ev)
		event_free(c->ev);
	if (c->fd >= 0)
		close(c->fd);
	c->ev = NULL;
	c->fd = -1;
	c->busy = false;
	c->len = 0;
}

/* A complete response in c->buf: returns its length, 0 if not yet. */
static size_t response_len(conn_t *c, int *status)
{
	c->buf[c->len < LG_BUF ? c->len : LG_BUF - 1] = '\0';
	char *end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return 0;
	size_t head = (size_t)(end - c->buf) + 4;
	*status = atoi(c->buf + 9);
	const char *cl = strcasestr(c->buf, "\r\nContent-Length:");
	size_t body = cl && cl < end ? (size_t)atol(cl + 17) : 0;
	return c->len >= head + body ? head + body : 0;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_t *c = arg;
	ssize_t n = read(fd, c->buf + c->len, LG_BUF - 1 - c->len);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		if (c->busy)
			errors++;
		conn_reset(c);
		return;
	}
	c->len += (size_t)n;
	int status = 0;
	size_t used = response_len(c, &status);
	if (!used) {
		if (c->len >= LG_BUF - 1) { /* too big for us: drop it */
			errors++;
			conn_reset(c);
		}
		return;
	}
	if (status >= 200 && status < 400) {
		ok++;
		sec_ok++;
	} else {
		errors++;
	}
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	c->busy = false;
}

static void send_one(void)
{
	conn_t *c = NULL;
	for (int i = 0; i < nconns && !c; i++)
		if (!conns[i].busy)
			c = &conns[i];
	if (!c) {
		late++;
		return;
	}
	if (c->fd < 0 && !conn_open(c)) {
		errors++;
		return;
	}
	rng = rng * 1103515245u + 12345u;
	unsigned r = (rng >> 8) % 100;
	char path[64];
	if (r < 40)
		snprintf(path, sizeof(path), "/api/products");
	else if (r < 80)
		snprintf(path, sizeof(path), "/api/products/%u", r % 10 + 1);
	else
		snprintf(path, sizeof(path), "/api/search?q=term%u", r % 13);
	char req[256];
	int len = snprintf(req, sizeof(req),
			   "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
			   "umbra-demo-loadgen\r\n\r\n",
			   path, host_hdr);
	if (write(c->fd, req, (size_t)len) != len) {
		/* a connection still connecting: try again next tick */
		if (errno == EAGAIN || errno == ENOTCONN) {
			late++;
			return;
		}
		errors++;
		conn_reset(c);
		return;
	}
	c->busy = true;
	sent++;
	sec_sent++;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	static double last_print;
	double t = now_s() - t0;
	if (duration_s > 0 && t >= duration_s) {
		event_base_loopexit(base, NULL);
		return;
	}
	due += rate_at(t) * LG_TICK_US / 1e6;
	while (due >= 1) {
		send_one();
		due -= 1;
	}
	if (!quiet && t - last_print >= 1) {
		printf("%6.1f %7.1f %6lu %6lu %5lu\n", t, rate_at(t), sec_sent,
		       sec_ok, errors);
		fflush(stdout);
		sec_sent = sec_ok = 0;
		last_print = t;
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(base, NULL);
}

int main(int argc, char **argv)
{
	const char *target = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--quiet")) {
			quiet = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "loadgen: %s needs a value\n", a);
			return 2;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--target"))
			target = v;
		else if (!strcmp(a, "--base"))
			rate_base = atof(v);
		else if (!strcmp(a, "--peak"))
			rate_peak = atof(v);
		else if (!strcmp(a, "--day"))
			day_s = atof(v);
		else if (!strcmp(a, "--duration"))
			duration_s = atof(v);
		else if (!strcmp(a, "--connections"))
			nconns = atoi(v);
		else {
			fprintf(stderr, "loadgen: unknown flag %s\n", a);
			return 2;
		}
	}
	addr_t ad;
	if (!target || addr_parse(target, false, &ad, NULL) ||
	    addr_resolve(&ad, &ss, &sslen) || nconns < 1 ||
	    nconns > LG_MAX_CONNS || day_s <= 0) {
		fprintf(stderr, "usage: loadgen --target HOST:PORT --base RPS "
				"--peak RPS --day SECONDS [--duration S] "
				"[--connections N<=%d] [--quiet]\n",
			LG_MAX_CONNS);
		return 2;
	}
	addr_format(&ad, host_hdr);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	for (int i = 0; i < nconns; i++)
		conns[i].fd = -1;
	struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	struct timeval tv = {0, LG_TICK_US};
	event_add(tick, &tv);
	struct event *sig[2] = {evsignal_new(base, SIGTERM, on_signal, NULL),
				evsignal_new(base, SIGINT, on_signal, NULL)};
	event_add(sig[0], NULL);
	event_add(sig[1], NULL);
	t0 = now_s();
	event_base_dispatch(base);
	printf("loadgen: sent %lu, ok %lu, errors %lu, late %lu\n", sent, ok,
	       errors, late);
	for (int i = 0; i < nconns; i++)
		conn_reset(&conns[i]);
	event_free(tick);
	event_free(sig[0]);
	event_free(sig[1]);
	event_base_free(base);
	return 0;
}
