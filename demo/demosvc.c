/*
 * demosvc.c: the demo's service: a small product catalogue over HTTP,
 * with a config file whose knobs change what a request costs, the way a
 * real service's config does. `make demo` runs it as production (two
 * replicas) and shadow under umbra, then ships a bad config to
 * production and lets umbra notice and roll it back.
 *
 *   demosvc --port N --config FILE
 *
 * Endpoints: GET /healthz, GET /api/products, GET /api/products/ID,
 * GET /api/search?q=..., POST /api/cart. The config (key = value,
 * re-read on SIGHUP):
 *
 *   cache = on|off        search results cache; off makes /api/search
 *                         burn search_cpu_ms x cache_miss_factor
 *   search_cpu_ms = 2     CPU per search on a cache hit
 *   cache_miss_factor = 6 cost multiplier on a miss
 *   product_cpu_ms = 0.3  CPU per product request
 *   leak_kib = 0          memory kept per request (a leak)
 *   latency_ms = 0        added latency
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct knobs {
	bool cache;
	double search_cpu_ms, miss_factor, product_cpu_ms, latency_ms;
	long leak_kib;
} knobs_t;

static knobs_t k;
static const char *config_path;
static struct event_base *base;
static volatile unsigned long sink;
static unsigned long served;

static const char *const products[] = {
	"espresso machine", "burr grinder", "milk frother", "kettle",
	"pour-over cone",   "scale",        "tamper",       "knock box",
	"cups (6)",         "beans 1kg",
};
#define NPRODUCTS (sizeof(products) / sizeof(*products))

static void load_config(void)
{
	knobs_t n = {true, 2, 6, 0.3, 0, 0};
	FILE *f = config_path ? fopen(config_path, "r") : NULL;
	if (config_path && !f) {
		fprintf(stderr, "demosvc: %s: %s\n", config_path,
			strerror(errno));
		exit(1);
	}
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		char key[64], val[64];
		if (line[0] == '#' ||
		    sscanf(line, " %63[a-z_] = %63s", key, val) != 2)
			continue;
		double v = atof(val);
		if (!strcmp(key, "cache"))
			n.cache = strcmp(val, "off") != 0;
		else if (!strcmp(key, "search_cpu_ms"))
			n.search_cpu_ms = v;
		else if (!strcmp(key, "cache_miss_factor"))
			n.miss_factor = v;
		else if (!strcmp(key, "product_cpu_ms"))
			n.product_cpu_ms = v;
		else if (!strcmp(key, "latency_ms"))
			n.latency_ms = v;
		else if (!strcmp(key, "leak_kib"))
			n.leak_kib = (long)v;
	}
	if (f)
		fclose(f);
	k = n;
	fprintf(stderr, "demosvc: config: cache=%s search_cpu_ms=%g "
			"leak_kib=%ld latency_ms=%g\n",
		k.cache ? "on" : "off", k.search_cpu_ms, k.leak_kib,
		k.latency_ms);
}

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void burn(double ms)
{
	double until = cpu_ms() + ms;
	while (cpu_ms() < until)
		for (int i = 0; i < 2000; i++)
			sink += (unsigned long)i * 2654435761u;
}

static void leak(long kib)
{
	if (kib <= 0)
		return;
	char *p = malloc((size_t)kib * 1024);
	if (p)
		for (long i = 0; i < kib * 1024; i += 4096)
			p[i] = 1; /* touched, kept: RSS grows */
}

typedef struct pending {
	struct evhttp_request *req;
	struct evbuffer *body;
} pending_t;

static void send_later(evutil_socket_t fd, short what, void *arg)
{
	pending_t *p = arg;
	evhttp_send_reply(p->req, 200, "OK", p->body);
	evbuffer_free(p->body);
	free(p);
}

static void reply_json(struct evhttp_request *req, struct evbuffer *b)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	served++;
	if (k.latency_ms <= 0) {
		evhttp_send_reply(req, 200, "OK", b);
		return;
	}
	pending_t *p = malloc(sizeof(*p));
	p->req = req;
	p->body = evbuffer_new();
	evbuffer_add_buffer(p->body, b);
	struct timeval tv = {(time_t)(k.latency_ms / 1000),
			     (suseconds_t)fmod(k.latency_ms * 1000, 1e6)};
	event_base_once(base, -1, EV_TIMEOUT, send_later, p, &tv);
}

static void handle(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *b = evbuffer_new();
	leak(k.leak_kib);
	if (!strncmp(uri, "/healthz", 8)) {
		evbuffer_add_printf(b, "{\"ok\":true}\n");
		reply_json(req, b);
	} else if (!strcmp(uri, "/api/products")) {
		burn(k.product_cpu_ms);
		evbuffer_add_printf(b, "{\"products\":[");
		for (size_t i = 0; i < NPRODUCTS; i++)
			evbuffer_add_printf(b, "%s{\"id\":%zu,\"name\":\"%s\"}",
					    i ? "," : "", i + 1, products[i]);
		evbuffer_add_printf(b, "]}\n");
		reply_json(req, b);
	} else if (!strncmp(uri, "/api/products/", 14)) {
		burn(k.product_cpu_ms);
		long id = atol(uri + 14);
		if (id < 1 || id > (long)NPRODUCTS) {
			evhttp_send_reply(req, 404, "Not Found", NULL);
		} else {
			evbuffer_add_printf(b,
					    "{\"id\":%ld,\"name\":\"%s\","
					    "\"price\":%ld.%02ld}\n",
					    id, products[id - 1], 10 + id * 7,
					    id * 13 % 100);
			reply_json(req, b);
		}
	} else if (!strncmp(uri, "/api/search", 11)) {
		const char *q = strstr(uri, "q=");
		unsigned h = 0;
		for (const char *p = q ? q + 2 : ""; *p && *p != '&'; p++)
			h = h * 31 + (unsigned char)*p;
		burn(k.search_cpu_ms * (k.cache ? 1 : k.miss_factor));
		evbuffer_add_printf(b, "{\"hits\":[{\"id\":%u},{\"id\":%u}]}\n",
				    h % NPRODUCTS + 1, (h / 7) % NPRODUCTS + 1);
		reply_json(req, b);
	} else if (!strcmp(uri, "/api/cart") &&
		   evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		burn(k.product_cpu_ms);
		evbuffer_add_printf(b, "{\"added\":true}\n");
		reply_json(req, b);
	} else {
		evhttp_send_reply(req, 404, "Not Found", NULL);
	}
	evbuffer_free(b);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP)
		load_config();
	else
		event_base_loopexit(base, NULL);
}

int main(int argc, char **argv)
{
	int port = -1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--config"))
			config_path = argv[i + 1];
	}
	if (port < 0) {
		fprintf(stderr, "usage: demosvc --port N [--config FILE]\n");
		return 2;
	}
	load_config();
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	struct evhttp *http = evhttp_new(base);
	evhttp_set_gencb(http, handle, NULL);
	if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) != 0) {
		fprintf(stderr, "demosvc: cannot bind 127.0.0.1:%d: %s\n", port,
			strerror(errno));
		return 1;
	}
	int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	struct event *ev[3];
	for (int i = 0; i < 3; i++) {
		ev[i] = evsignal_new(base, sigs[i], on_signal, NULL);
		event_add(ev[i], NULL);
	}
	event_base_dispatch(base);
	for (int i = 0; i < 3; i++)
		event_free(ev[i]);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
