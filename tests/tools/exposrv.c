/*
 * exposrv.c: serves umbra's Prometheus exposition (src/metrics/expo.h)
 * at /metrics for the end-to-end test in which a real Prometheus scrapes
 * it and umbra's Prometheus metric source reads the values back. The
 * /metrics endpoint of the daemon's API comes later; this program runs
 * the same writer over a known, synthetic load:
 *
 *   every 100 ms, through an SPSC ring into the aggregator:
 *     production  10 requests, 20 ms each, every 20th a 500
 *     shadow      1 request, 40 ms, compared; every 4th differs
 *   so rps 100 / 10, error_rate 0.05 / 0, diff_rate - / 0.25;
 *   counters that grow with wall time: cpu 0.4 s user + 0.1 s system per
 *   second (production), a tenth of that (shadow); disk read 1000 B/s
 *   (production); and gauges: memory 100000000 / 50000000 bytes.
 *
 *   exposrv --port N [--service NAME]
 * Prints "exposrv: listening on 127.0.0.1:PORT" once bound.
 */
#include "base/buf.h"
#include "base/clock.h"
#include "base/ring.h"
#include "base/strtab.h"
#include "metrics/agg.h"
#include "metrics/expo.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *service = "web";
static strtab_t *names;
static metrics_agg_t *agg;
static ring_t *ring;
static uint32_t ep;
static uint64_t nreq;
static int64_t t0;
static struct event_base *base;

static void load_cb(evutil_socket_t fd, short what, void *arg)
{
	for (int i = 0; i < 10; i++) {
		reqrec_t r = {.side = REQREC_PRODUCTION, .endpoint = ep,
			      .latency_us = 20000, .ttfb_us = 15000,
			      .req_bytes = 200, .resp_bytes = 2000};
		r.status = ++nreq % 20 == 0 ? 500 : 200;
		ring_push(ring, &r);
	}
	static uint64_t nsh;
	reqrec_t s = {.side = REQREC_SHADOW, .endpoint = ep,
		      .latency_us = 40000, .ttfb_us = 30000, .status = 200,
		      .req_bytes = 200, .resp_bytes = 2000};
	s.cls = ++nsh % 4 == 0 ? REQREC_DIFFER : REQREC_MATCH;
	ring_push(ring, &s);
	metrics_agg_drain(agg);
	metrics_agg_tick(agg, clock_mono_ns());
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
	double el = (double)(clock_mono_ns() - t0) / 1e9;
	metrics_sample_t sp, ss;
	metrics_sample_clear(&sp, clock_wall_ns());
	metrics_sample_clear(&ss, clock_wall_ns());
	sp.v[METRICS_MEMORY] = 100000000;
	ss.v[METRICS_MEMORY] = 50000000;
	metrics_agg_fill(agg, REQREC_PRODUCTION, true, &sp);
	metrics_agg_fill(agg, REQREC_SHADOW, true, &ss);
	const metrics_sample_t *sides[METRICS_SIDES] = {&sp, &ss, NULL};
	metrics_totals_t tp = {.cpu_user_s = 0.4 * el,
			       .cpu_system_s = 0.1 * el,
			       .disk_read_bytes = 1000 * el,
			       .has_proc = true};
	metrics_totals_t ts = {.cpu_user_s = 0.04 * el,
			       .cpu_system_s = 0.01 * el,
			       .has_proc = true};
	const metrics_totals_t *tots[METRICS_SIDES] = {&tp, &ts, NULL};
	buf_t b = BUF_INIT;
	metrics_expo_t e;
	metrics_expo_init(&e, &b);
	metrics_expose_samples(&e, service, sides);
	metrics_expose_totals(&e, service, tots);
	metrics_expose_requests(&e, service, agg);
	int rc = metrics_expo_done(&e);
	struct evbuffer *out = evbuffer_new();
	evbuffer_add(out, b.data, b.len);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, rc ? 500 : 200, rc ? "Error" : "OK", out);
	evbuffer_free(out);
	buf_free(&b);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(base, NULL);
}

int main(int argc, char **argv)
{
	int port = -1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--service"))
			service = argv[i + 1];
	}
	if (port < 0) {
		fprintf(stderr, "usage: exposrv --port N [--service NAME]\n");
		return 2;
	}
	names = strtab_new(16);
	ep = strtab_intern(names, "GET /users/:id", 14);
	t0 = clock_mono_ns();
	agg = metrics_agg_new(names, 16, t0);
	ring = ring_new(sizeof(reqrec_t), 1024);
	metrics_agg_add_ring(agg, ring);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	struct evhttp *http = evhttp_new(base);
	evhttp_set_cb(http, "/metrics", metrics_cb, NULL);
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(
		http, "127.0.0.1", (ev_uint16_t)port);
	if (!bs) {
		fprintf(stderr, "exposrv: cannot bind port %d\n", port);
		return 1;
	}
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa,
		    &len);
	printf("exposrv: listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	struct timeval tv = {0, 100000};
	struct event *tick = event_new(base, -1, EV_PERSIST, load_cb, NULL);
	event_add(tick, &tv);
	struct event *sigs[2] = {evsignal_new(base, SIGTERM, stop_cb, NULL),
				 evsignal_new(base, SIGINT, stop_cb, NULL)};
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	event_base_dispatch(base);
	event_free(tick);
	event_free(sigs[0]);
	event_free(sigs[1]);
	evhttp_free(http);
	event_base_free(base);
	metrics_agg_free(agg);
	ring_free(ring);
	strtab_free(names);
	return 0;
}
