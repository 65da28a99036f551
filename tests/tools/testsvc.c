/*
 * testsvc.c: a small HTTP/1.1 service for the end-to-end tests, demos and
 * benchmarks, built on libevent's evhttp. Its knobs change the cost of a
 * request so that tests can create known differences between production
 * and shadow: CPU per request, memory per request (and leaks), latency,
 * error rate, response size. Knobs come from flags or from a key=value
 * config file re-read on SIGHUP (the way real services reload).
 *
 *   testsvc --port N [--host H] [--config FILE] [--cpu-ms X]
 *           [--latency-ms X] [--mem-kib X] [--leak-kib X]
 *           [--body-bytes N] [--error-rate R] [--name NAME]
 *           [--exit-after-ms X] [--exit-code N]
 *
 * Endpoints: /healthz, /echo (the request as JSON), /work and every
 * path under /api/ (cost the knobs: the demo's load generator asks for
 * /api/products..., so it can drive this service too), /status/NNN, /users/ID, /chunked, /big?bytes=N, /stats,
 * /connect?to=IP:PORT (opens a TCP connection there, as a service calling
 * a payment provider or a database would: 200 "connected" or 502 with
 * the error; for network isolation tests). --exit-after-ms makes it exit
 * (with --exit-code, default 1) that long after start: a crashing
 * service. A config file with `crash_at_start = N` (N > 0) makes it exit
 * with status N right after reading it: a config that crash-loops it.
 * Prints "testsvc: listening on HOST:PORT" once bound (port 0 picks one).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

typedef struct knobs {
	double cpu_ms, latency_ms, error_rate;
	long mem_kib, leak_kib, body_bytes;
	long crash_at_start; /* exit status at start, 0 = none */
} knobs_t;

static knobs_t knobs = {0, 0, 0, 0, 0, 64, 0};
static knobs_t flag_knobs;
static const char *config_path;
static const char *name = "testsvc";
static struct event_base *base;
static unsigned long served, leaked_kib;
static unsigned rng = 12345;

static void load_config(void)
{
	knobs = flag_knobs;
	if (!config_path)
		return;
	FILE *f = fopen(config_path, "r");
	if (!f) {
		fprintf(stderr, "testsvc: %s: %s\n", config_path,
			strerror(errno));
		return;
	}
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		char k[64];
		double v;
		if (line[0] == '#' || sscanf(line, " %63[a-z_] = %lf", k, &v) != 2)
			continue;
		if (!strcmp(k, "cpu_ms"))
			knobs.cpu_ms = v;
		else if (!strcmp(k, "latency_ms"))
			knobs.latency_ms = v;
		else if (!strcmp(k, "error_rate"))
			knobs.error_rate = v;
		else if (!strcmp(k, "mem_kib"))
			knobs.mem_kib = (long)v;
		else if (!strcmp(k, "leak_kib"))
			knobs.leak_kib = (long)v;
		else if (!strcmp(k, "body_bytes"))
			knobs.body_bytes = (long)v;
		else if (!strcmp(k, "crash_at_start"))
			knobs.crash_at_start = (long)v;
	}
	fclose(f);
}

static double thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The whole process's CPU time (every thread, user and system) in
 * seconds: what /stats reports so that a test can compare umbra's
 * collectors with the service's own account. */
static double process_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile unsigned long sink;

/* Burns ms of CPU time (not wall time): the cost is real CPU per
 * request, the thing umbra compares. */
static void burn(double ms)
{
	double until = thread_cpu_ms() + ms;
	while (thread_cpu_ms() < until)
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i * 2654435761u;
}

static void touch_memory(long kib, int keep)
{
	if (kib <= 0)
		return;
	size_t n = (size_t)kib * 1024;
	char *p = malloc(n);
	if (!p)
		return;
	for (size_t i = 0; i < n; i += 4096)
		p[i] = (char)i;
	sink += (unsigned char)p[n / 2];
	if (keep)
		leaked_kib += (unsigned long)kib; /* never freed: a leak */
	else
		free(p);
}

static void json_string(struct evbuffer *b, const char *s, size_t n)
{
	evbuffer_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			evbuffer_add_printf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			evbuffer_add_printf(b, "\\u%04x", c);
		else
			evbuffer_add(b, &c, 1);
	}
	evbuffer_add(b, "\"", 1);
}

typedef struct delayed {
	struct evhttp_request *req;
	int code;
	struct evbuffer *body;
} delayed_t;

static void send_now(struct evhttp_request *req, int code,
		     struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Served-By",
			  name);
	const char *side = getenv("UMBRA_SIDE");
	if (side)
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "X-Side", side);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Status", body);
	served++;
}

static void delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	delayed_t *d = arg;
	send_now(d->req, d->code, d->body);
	evbuffer_free(d->body);
	free(d);
}

static void reply(struct evhttp_request *req, int code, struct evbuffer *body,
		  double latency_ms)
{
	if (latency_ms <= 0) {
		send_now(req, code, body);
		return;
	}
	delayed_t *d = malloc(sizeof(*d));
	d->req = req;
	d->code = code;
	d->body = evbuffer_new();
	evbuffer_add_buffer(d->body, body);
	struct timeval tv = {(time_t)(latency_ms / 1000),
			     (suseconds_t)((long)(latency_ms * 1000) % 1000000)};
	event_base_once(base, -1, EV_TIMEOUT, delayed_cb, d, &tv);
}

static const char *method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "?";
	}
}

/* /connect?to=IP:PORT: a blocking connect bounded by 2 s (a test tool:
 * one call at a time is fine). 0 connected, else an errno. */
static int try_connect(const char *to)
{
	char host[64];
	const char *colon = strrchr(to, ':');
	if (!colon || colon == to || (size_t)(colon - to) >= sizeof(host))
		return EINVAL;
	memcpy(host, to, (size_t)(colon - to));
	host[colon - to] = '\0';
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errno;
	int e = 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
		e = errno;
	} else {
		struct pollfd pf = {fd, POLLOUT, 0};
		if (poll(&pf, 1, 2000) != 1) {
			e = ETIMEDOUT;
		} else {
			socklen_t l = sizeof(e);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
		}
	}
	close(fd);
	return e;
}

static void handle(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *out = evbuffer_new();
	char path[1024];
	snprintf(path, sizeof(path), "%s", uri);
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	int code = 200;
	double latency = 0;

	if (!strcmp(path, "/healthz")) {
		evbuffer_add_printf(out, "ok\n");
	} else if (!strcmp(path, "/echo")) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		const char *body = (const char *)evbuffer_pullup(in, -1);
		evbuffer_add_printf(out, "{\"method\":\"%s\",\"uri\":",
				    method_name(req));
		json_string(out, uri, strlen(uri));
		evbuffer_add_printf(out, ",\"headers\":[");
		struct evkeyvalq *h = evhttp_request_get_input_headers(req);
		int first = 1;
		for (struct evkeyval *kv = h->tqh_first; kv;
		     kv = kv->next.tqe_next) {
			evbuffer_add_printf(out, "%s[", first ? "" : ",");
			json_string(out, kv->key, strlen(kv->key));
			evbuffer_add(out, ",", 1);
			json_string(out, kv->value, strlen(kv->value));
			evbuffer_add(out, "]", 1);
			first = 0;
		}
		evbuffer_add_printf(out, "],\"body\":");
		json_string(out, body ? body : "", n);
		evbuffer_add_printf(out, ",\"side\":\"%s\"}\n",
				    getenv("UMBRA_SIDE") ? getenv("UMBRA_SIDE")
							 : "");
	} else if (!strcmp(path, "/work") || !strncmp(path, "/api/", 5)) {
		burn(knobs.cpu_ms);
		touch_memory(knobs.mem_kib, 0);
		touch_memory(knobs.leak_kib, 1);
		rng = rng * 1103515245u + 12345u;
		if (knobs.error_rate > 0 &&
		    ((rng >> 8) & 0xffff) / 65536.0 < knobs.error_rate)
			code = 500;
		for (long i = 0; i < knobs.body_bytes; i++)
			evbuffer_add(out, "x", 1);
		latency = knobs.latency_ms;
	} else if (!strncmp(path, "/status/", 8)) {
		code = atoi(path + 8);
		if (code < 100 || code > 599)
			code = 400;
		evbuffer_add_printf(out, "status %d\n", code);
	} else if (!strncmp(path, "/users/", 7)) {
		evbuffer_add_printf(out, "{\"id\":");
		json_string(out, path + 7, strlen(path + 7));
		evbuffer_add_printf(out, ",\"name\":\"user-%s\"}\n", path + 7);
		latency = knobs.latency_ms;
	} else if (!strcmp(path, "/chunked")) {
		evhttp_send_reply_start(req, 200, "OK");
		for (int i = 0; i < 3; i++) {
			struct evbuffer *c = evbuffer_new();
			evbuffer_add_printf(c, "chunk %d\n", i);
			evhttp_send_reply_chunk(req, c);
			evbuffer_free(c);
		}
		evhttp_send_reply_end(req);
		evbuffer_free(out);
		served++;
		return;
	} else if (!strcmp(path, "/big")) {
		long n = q ? atol(q + 1 + strcspn(q + 1, "=") + 1) : 1024;
		static char blk[4096];
		memset(blk, 'b', sizeof(blk));
		while (n > 0) {
			long k = n > 4096 ? 4096 : n;
			evbuffer_add(out, blk, (size_t)k);
			n -= k;
		}
	} else if (!strcmp(path, "/connect")) {
		const char *to = q ? strstr(q + 1, "to=") : NULL;
		int e = to ? try_connect(to + 3) : EINVAL;
		if (e) {
			code = 502;
			evbuffer_add_printf(out, "failed: %s\n", strerror(e));
		} else {
			evbuffer_add_printf(out, "connected\n");
		}
	} else if (!strcmp(path, "/stats")) {
		evbuffer_add_printf(out,
				    "{\"served\":%lu,\"leaked_kib\":%lu,"
				    "\"cpu_ms\":%g,\"latency_ms\":%g,"
				    "\"cpu_s\":%.6f}\n",
				    served, leaked_kib, knobs.cpu_ms,
				    knobs.latency_ms, process_cpu_s());
	} else {
		code = 404;
		evbuffer_add_printf(out, "not found\n");
	}
	reply(req, code, out, latency);
	evbuffer_free(out);
}

static void on_exit_timer(evutil_socket_t fd, short what, void *arg)
{
	int code = *(int *)arg;
	fprintf(stderr, "testsvc: exiting with status %d as asked\n", code);
	exit(code);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		load_config();
		fprintf(stderr, "testsvc: reloaded: cpu_ms=%g latency_ms=%g\n",
			knobs.cpu_ms, knobs.latency_ms);
		return;
	}
	event_base_loopexit(base, NULL);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = -1, exit_code = 1;
	double exit_after_ms = -1;
	/* Flags come in pairs: --name VALUE. */
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "testsvc: %s needs a value\n", a);
			return 2;
		}
		if (!strcmp(a, "--port"))
			port = atoi(v);
		else if (!strcmp(a, "--host"))
			host = v;
		else if (!strcmp(a, "--config"))
			config_path = v;
		else if (!strcmp(a, "--cpu-ms"))
			flag_knobs.cpu_ms = atof(v);
		else if (!strcmp(a, "--latency-ms"))
			flag_knobs.latency_ms = atof(v);
		else if (!strcmp(a, "--mem-kib"))
			flag_knobs.mem_kib = atol(v);
		else if (!strcmp(a, "--leak-kib"))
			flag_knobs.leak_kib = atol(v);
		else if (!strcmp(a, "--body-bytes"))
			flag_knobs.body_bytes = atol(v);
		else if (!strcmp(a, "--error-rate"))
			flag_knobs.error_rate = atof(v);
		else if (!strcmp(a, "--name"))
			name = v;
		else if (!strcmp(a, "--exit-after-ms"))
			exit_after_ms = atof(v);
		else if (!strcmp(a, "--exit-code"))
			exit_code = atoi(v);
		else {
			fprintf(stderr, "testsvc: unknown flag %s\n", a);
			return 2;
		}
	}
	if (port < 0) {
		fprintf(stderr, "usage: testsvc --port N [...]\n");
		return 2;
	}
	if (!flag_knobs.body_bytes)
		flag_knobs.body_bytes = 64;
	load_config();
	if (knobs.crash_at_start > 0) {
		fprintf(stderr, "testsvc: crash_at_start = %ld in %s\n",
			knobs.crash_at_start, config_path);
		return (int)knobs.crash_at_start;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	struct evhttp *http = evhttp_new(base);
	evhttp_set_allowed_methods(http, 0x3ff);
	evhttp_set_gencb(http, handle, NULL);
	struct evhttp_bound_socket *bs =
		evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
	if (!bs) {
		fprintf(stderr, "testsvc: cannot bind %s:%d: %s\n", host, port,
			strerror(errno));
		return 1;
	}
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
		    &len);
	int bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	printf("testsvc: listening on %s:%d\n", host, bound);
	fflush(stdout);
	struct event *sigs[3];
	int signos[3] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(base, signos[i], on_signal, NULL);
		event_add(sigs[i], NULL);
	}
	struct event *ex = NULL;
	if (exit_after_ms >= 0) {
		struct timeval tv = {(time_t)(exit_after_ms / 1000),
				     (suseconds_t)((long)(exit_after_ms * 1000) %
						   1000000)};
		ex = evtimer_new(base, on_exit_timer, &exit_code);
		evtimer_add(ex, &tv);
	}
	event_base_dispatch(base);
	if (ex)
		event_free(ex);
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
