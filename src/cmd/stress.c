/*
 * stress.c: `umbra stress CONFIG`: a stress test of the shadow on demand.
 * It brings up what `umbra run` would (production and shadow from the
 * config, the mirroring proxy between clients and them), sends its own
 * load through the proxy (--rate; 0 relies on outside clients), then runs
 * the mitigation engine's stress test: mirror amplification x1, x2, x4
 * ... and the shadow's CPU (or memory) squeezed 1, 1/2, 1/4 ..., each
 * step held mitigation.stress.step, until the shadow's p99 or error rate
 * crosses its target. Production only serves the load; the levers act on
 * mirror copies and the shadow's cgroups. Prints the curve, the knee, the
 * capacity per production replica and the headroom, then stops
 * everything. Beside a running `umbra run` of the same service (its work
 * dir locked, or its listen address taken) it asks that daemon instead
 * (POST, then GET /api/v1/stress until done): a test of the running
 * shadow on the daemon's own traffic and mitigation.stress settings.
 */
#include "cmd/cmd.h"
#include "cmd/client_cmd.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/units.h"
#include "base/xmalloc.h"
#include "cmd/mitigate_ops.h"
#include "mitigate/mitigate.h"
#include "provision/provision.h"
#include "proxy/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STRESS_TICK_MS 100	  /* the stress machine's tick */
#define STRESS_RECORDS 4096	  /* records drained per call */
#define STRESS_LOAD_CONNS 8	  /* keep-alive connections of the load */
#define STRESS_LOAD_TIMEOUT_MS 5000
#define STRESS_RATE_MAX 100000.0  /* req/s of the built-in load */

static const cmd_opt_t opts[] = {
    {"rate", 'r', "R",
     "requests/s this command sends through the proxy (default 20; 0 = "
     "only outside clients)"},
    {"path", 0, "PATH",
     "request path of that load (default /, or production.health.path "
     "when the service does not answer / with 2xx or 3xx)"},
    {"lever", 'L', "LEVER",
     "amplify, cpu or memory; repeatable (default mitigation.stress."
     "levers)",
     true},
    {"step", 0, "DURATION", "time at each step (mitigation.stress.step)"},
    {"max-amplification", 0, "K", "highest amplification tried"},
    {"json", 0, NULL, "print the result as JSON"},
    {NULL},
};

/* ------------------------------------------------------------ load */

typedef struct load {
	pthread_t th;
	bool on;
	atomic_bool stop;
	int port;
	double rate;
	char path[256];
	atomic_uint_fast64_t sent, ok, failed;
} load_t;

static int connect_to(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Reads one response (headers and a Content-Length body) from fd;
 * returns its status, or -1 (the connection is then closed). */
static int read_response(int fd)
{
	char buf[65536];
	size_t len = 0;
	char *end = NULL;
	struct pollfd p = {fd, POLLIN, 0};
	while (!end) {
		if (poll(&p, 1, STRESS_LOAD_TIMEOUT_MS) != 1)
			return -1;
		ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (k <= 0)
			return -1;
		len += (size_t)k;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end && len >= sizeof(buf) - 1)
			return -1;
	}
	int status = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	const char *cl = strcasestr(buf, "\ncontent-length:");
	size_t want = cl ? (size_t)strtoull(cl + 16, NULL, 10) : 0;
	size_t have = len - (size_t)(end + 4 - buf);
	while (have < want) {
		if (poll(&p, 1, STRESS_LOAD_TIMEOUT_MS) != 1)
			return -1;
		ssize_t k = read(fd, buf, sizeof(buf));
		if (k <= 0)
			return -1;
		have += (size_t)k;
	}
	return status;
}

/* Open loop at `rate`, over a few keep-alive connections in turn. */
static void *load_run(void *arg)
{
	load_t *l = arg;
	int fds[STRESS_LOAD_CONNS];
	for (int i = 0; i < STRESS_LOAD_CONNS; i++)
		fds[i] = -1;
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: umbra-stress\r\nUser-Agent: "
			 "umbra-stress\r\n\r\n",
			 l->path);
	int64_t gap = (int64_t)(1e9 / l->rate), next = clock_mono_ns();
	for (int i = 0; !atomic_load(&l->stop); i = (i + 1) % STRESS_LOAD_CONNS) {
		int64_t now = clock_mono_ns();
		if (next > now) {
			struct timespec ts = {(time_t)((next - now) / NS_PER_S),
					      (long)((next - now) % NS_PER_S)};
			nanosleep(&ts, NULL);
		}
		next += gap;
		if (clock_mono_ns() - next > NS_PER_S)
			next = clock_mono_ns(); /* fell behind: no burst */
		if (fds[i] < 0)
			fds[i] = connect_to(l->port);
		atomic_fetch_add(&l->sent, 1);
		int st = -1;
		if (fds[i] >= 0 && write(fds[i], req, (size_t)n) == n)
			st = read_response(fds[i]);
		if (st >= 200 && st < 500) {
			atomic_fetch_add(&l->ok, 1);
		} else {
			atomic_fetch_add(&l->failed, 1);
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
		}
	}
	for (int i = 0; i < STRESS_LOAD_CONNS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

/* ------------------------------------------------------------ state */

typedef struct st {
	const cmd_entry_t *cmd;
	config_t *cfg;
	struct event_base *base;
	struct event *ev_tick, *ev_term, *ev_int;
	proxy_t *px;
	prov_t *prov;
	cmd_mit_live_t live;
	mit_t *eng;
	load_t load;
	reqrec_t *recs;
	addr_t addr[PROV_SIDES][PROV_MAX_REPLICAS];
	bool up[PROV_SIDES][PROV_MAX_REPLICAS];
	int64_t ready_deadline;
	bool started; /* the stress machine runs */
	bool finished, stopping;
	int signals;
	int exit_code;
	/* production's load, measured from its records */
	uint64_t prod_recs;
	int64_t prod_since;
	double prod_rps;
	bool json;
	bool path_default; /* no --path: pick_path */
	char fail[1100];   /* what stopped it; holds a stress test's why */
} st_t;

static void publish(st_t *s, prov_side_t side)
{
	addr_t list[PROV_MAX_REPLICAS];
	size_t n = 0;
	for (int i = 0; i < PROV_MAX_REPLICAS; i++)
		if (s->up[side][i])
			list[n++] = s->addr[side][i];
	proxy_side_t ps = side == PROV_PRODUCTION ? PROXY_PRODUCTION
			  : side == PROV_BASELINE ? PROXY_BASELINE
						  : PROXY_SHADOW;
	proxy_set_upstreams(s->px, ps, list, n);
}

static void on_replica(const prov_replica_ev_t *ev, void *arg)
{
	st_t *s = arg;
	if (!s->px || ev->replica < 0 || ev->replica >= PROV_MAX_REPLICAS)
		return;
	bool up = ev->kind == PROV_EV_UP;
	addr_t a;
	if (up && addr_parse(ev->addr, false, &a, NULL) == 0)
		s->addr[ev->side][ev->replica] = a;
	else
		up = false;
	if (s->up[ev->side][ev->replica] != up) {
		s->up[ev->side][ev->replica] = up;
		publish(s, ev->side);
	}
}

static void on_stopped(void *arg)
{
	st_t *s = arg;
	event_base_loopexit(s->base, NULL);
}

static void stop_all(st_t *s)
{
	if (s->stopping) {
		prov_stop(s->prov, on_stopped, s); /* second: kill now */
		return;
	}
	s->stopping = true;
	if (s->load.on) {
		atomic_store(&s->load.stop, true);
		pthread_join(s->load.th, NULL);
		s->load.on = false;
	}
	if (s->eng) {
		mit_free(s->eng); /* a running test restores its settings */
		s->eng = NULL;
	}
	if (s->px) {
		proxy_drain(s->px, s->cfg->listen.drain_timeout);
		proxy_free(s->px);
		s->px = NULL;
		s->live.px = NULL;
	}
	if (s->prov)
		prov_stop(s->prov, on_stopped, s);
	else
		event_base_loopexit(s->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	st_t *s = arg;
	log_warn("stress", "stop signal: the stress test is cancelled and the "
			   "settings restored",
		 LF_S("signal", strsignal((int)sig)));
	if (!s->exit_code)
		s->exit_code = CMD_EXIT_FAIL;
	snprintf(s->fail, sizeof(s->fail), "cancelled by %s",
		 strsignal((int)sig));
	stop_all(s);
}

/* ------------------------------------------------------------ output */

static void print_text(const mit_stress_t *t, double prod_rps)
{
	printf("%-8s %7s %12s %10s %8s %8s  %s\n", "LEVER", "LEVEL",
	       "SHADOW REQ/S", "P99 MS", "ERRORS", "N", "");
	for (int i = 0; i < t->npoints; i++) {
		const mit_stress_point_t *p = &t->point[i];
		char lv[16];
		if (p->lever == MIT_LEVER_AMPLIFY)
			snprintf(lv, sizeof(lv), "x%.0f", p->level);
		else
			snprintf(lv, sizeof(lv), "%.1f%%", p->level * 100);
		printf("%-8s %7s %12.1f %10.1f %7.1f%% %8llu  %s%s\n",
		       mit_lever_name(p->lever), lv, p->rps,
		       isnan(p->p99_s) ? 0 : p->p99_s * 1000,
		       p->error_rate * 100, (unsigned long long)p->n,
		       p->over ? "over: " : "", p->why);
	}
	printf("\n");
	for (int i = 0; i < t->nresults; i++)
		printf("%s: %s\n", mit_lever_name(t->result[i].lever),
		       t->result[i].note);
	if (!isnan(prod_rps))
		printf("production load during the test: %.1f req/s\n",
		       prod_rps);
	if (!isnan(t->capacity))
		printf("capacity for the scaler: %.1f req/s per production "
		       "replica\n",
		       t->capacity);
}

static void print_json(const mit_stress_t *t, double prod_rps)
{
	json_t *top = cmd_stress_json(t, prod_rps);
	char *txt = json_dumps(top, JSON_INDENT(2));
	printf("%s\n", txt);
	free(txt);
	json_decref(top);
}

/* ------------------------------------------------------------ tick */

static bool side_ready(st_t *s, prov_side_t side)
{
	if (!prov_spec(s->prov, side)->run)
		return true; /* reached through upstreams: assumed there */
	return prov_replica_up_count(s->prov, side) > 0;
}

/* One GET of path through the proxy: its status, or -1. */
static int probe(int port, const char *path)
{
	int fd = connect_to(port);
	if (fd < 0)
		return -1;
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: umbra-stress\r\nUser-Agent: "
			 "umbra-stress\r\nConnection: close\r\n\r\n",
			 path);
	int st = write(fd, req, (size_t)n) == n ? read_response(fd) : -1;
	close(fd);
	return st;
}

/* Without --path: a path the service answers (2xx or 3xx): "/" when it
 * does, else production's HTTP health path, said on stderr; false (fail
 * set) when neither does: a load of errors measures nothing. */
static bool pick_path(st_t *s)
{
	int port = proxy_listen_port(s->px);
	int st = probe(port, "/");
	if (st >= 200 && st < 400)
		return true;
	const config_health_t *h = &s->cfg->production.health;
	if (h->type == CONFIG_HEALTH_HTTP && h->path && h->path[0] == '/') {
		int hs = probe(port, h->path);
		if (hs >= 200 && hs < 400) {
			fprintf(stderr,
				"umbra stress: --path not given and the service "
				"answers %d at /: the load asks for %s "
				"(production.health.path); give --path a "
				"representative one\n",
				st, h->path);
			snprintf(s->load.path, sizeof(s->load.path), "%s",
				 h->path);
			return true;
		}
	}
	snprintf(s->fail, sizeof(s->fail),
		 "--path not given and the service answers %d at /: give "
		 "--path a path it serves (a load of errors measures nothing)",
		 st);
	return false;
}

static void begin(st_t *s, int64_t now)
{
	if (s->load.rate > 0 && s->path_default && !pick_path(s)) {
		s->exit_code = CMD_EXIT_FAIL;
		stop_all(s);
		return;
	}
	if (s->load.rate > 0) {
		s->load.port = proxy_listen_port(s->px);
		if (pthread_create(&s->load.th, NULL, load_run, &s->load) == 0)
			s->load.on = true;
	}
	buf_t err = BUF_INIT;
	int rc = mit_stress_start(s->eng, now, "umbra stress", &err);
	if (rc) {
		snprintf(s->fail, sizeof(s->fail), "%s", err.data);
		s->exit_code = CMD_EXIT_FAIL;
		stop_all(s);
	} else {
		s->started = true;
		s->prod_since = now;
	}
	buf_free(&err);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	st_t *s = arg;
	if (s->stopping)
		return;
	int64_t now = clock_wall_ns();
	if (!s->started) {
		if (side_ready(s, PROV_PRODUCTION) && side_ready(s, PROV_SHADOW)) {
			begin(s, now);
		} else if (clock_mono_ns() > s->ready_deadline) {
			snprintf(s->fail, sizeof(s->fail),
				 "production or shadow did not come up (see "
				 "the log)");
			s->exit_code = CMD_EXIT_FAIL;
			stop_all(s);
		}
		return;
	}
	size_t n;
	while ((n = proxy_take_records(s->px, s->recs, STRESS_RECORDS)) > 0) {
		mit_observe(s->eng, s->recs, n);
		for (size_t i = 0; i < n; i++)
			s->prod_recs += s->recs[i].side == REQREC_PRODUCTION;
		if (n < STRESS_RECORDS)
			break;
	}
	double secs = (double)(now - s->prod_since) / 1e9;
	s->prod_rps = secs > 1 ? (double)s->prod_recs / secs : NAN;
	mit_input_t in = {now, NULL, s->prod_rps};
	mit_report_t rep;
	mit_tick(s->eng, &in, &rep);
	for (size_t i = 0; i < rep.nnotes; i++)
		log_info("stress", rep.note[i].text);
	const mit_stress_t *t = mit_stress_last(s->eng);
	if (t && t->state != MIT_STRESS_RUNNING && !s->finished) {
		s->finished = true;
		if (s->json)
			print_json(t, s->prod_rps);
		else
			print_text(t, s->prod_rps);
		fflush(stdout);
		if (t->state != MIT_STRESS_DONE) {
			snprintf(s->fail, sizeof(s->fail), "%s", t->why);
			s->exit_code = CMD_EXIT_FAIL;
		}
		stop_all(s);
	}
}

/* ------------------------------------------------------------ main */

static int apply_flags(cmd_args_t *a, config_t *cfg)
{
	config_errors_t errs = {0};
	/* This command tests the shadow: it never scales production (the
	 * capacity it learns would let the scaler do so), and runs no
	 * scheduled test beside its own. */
	int rc = config_set(cfg, "mitigation.scale.enabled", "false", &errs);
	if (!rc)
		rc = config_set(cfg, "mitigation.stress.enabled", "false", &errs);
	size_t nl;
	const char *const *lv = cmd_opt_all(a, "lever", &nl);
	if (nl) {
		buf_t b = BUF_INIT;
		for (size_t i = 0; i < nl; i++)
			buf_printf(&b, "%s%s", i ? "," : "", lv[i]);
		rc = config_set(cfg, "mitigation.stress.levers", b.data, &errs);
		buf_free(&b);
	}
	if (!rc && cmd_opt(a, "step"))
		rc = config_set(cfg, "mitigation.stress.step", cmd_opt(a, "step"),
				&errs);
	if (!rc && cmd_opt(a, "max-amplification"))
		rc = config_set(cfg, "mitigation.stress.max_amplification",
				cmd_opt(a, "max-amplification"), &errs);
	if (rc) {
		buf_t b = BUF_INIT;
		config_errors_format(&errs, &b);
		fprintf(stderr, "umbra stress: %s", b.data);
		buf_free(&b);
	}
	config_errors_free(&errs);
	return rc;
}

static void teardown(st_t *s)
{
	if (s->load.on) {
		atomic_store(&s->load.stop, true);
		pthread_join(s->load.th, NULL);
	}
	mit_free(s->eng);
	if (s->px) {
		proxy_drain(s->px, 0);
		proxy_free(s->px);
	}
	prov_free(s->prov);
	free(s->recs);
	struct event *evs[] = {s->ev_tick, s->ev_term, s->ev_int};
	for (size_t i = 0; i < 3; i++)
		if (evs[i])
			event_free(evs[i]);
	if (s->base)
		event_base_free(s->base);
	config_free(s->cfg);
}

/* ------------------------------------------------------------ remote */

#define STRESS_POLL_MS 500 /* the daemon's test is polled this often: its
			      steps last seconds */

/* `umbra run` serves this service already (its proxy holds
 * listen.address): the daemon's own stress test of the running shadow,
 * on real traffic, through POST and GET /api/v1/stress. */
static int stress_remote(cmd_args_t *a)
{
	if (cmd_opt(a, "rate") || cmd_opt(a, "lever") || cmd_opt(a, "step") ||
	    cmd_opt(a, "max-amplification") || cmd_opt(a, "path"))
		fprintf(stderr,
			"umbra stress: the daemon tests its running shadow on "
			"its own traffic with its mitigation.stress settings; "
			"--rate, --path, --lever, --step and "
			"--max-amplification apply to a stand-alone test only\n");
	cmd_client_t c;
	int rc = cmd_client_open(a->cmd, a->pos[0], &c);
	if (rc)
		return rc;
	json_t *body = json_pack("{s:s}", "why", "umbra stress (command line)");
	json_t *reply = NULL;
	rc = cmd_client_call(&c, "/api/v1/stress", body, &reply, NULL);
	json_decref(body);
	json_decref(reply);
	if (rc) {
		cmd_client_close(&c);
		return rc;
	}
	fprintf(stderr, "umbra stress: the running daemon started a stress "
			"test of its shadow; waiting for it\n");
	json_t *st = NULL;
	for (;;) {
		rc = cmd_client_call(&c, "/api/v1/stress", NULL, &st, NULL);
		if (rc)
			break;
		const char *state = json_string_value(json_object_get(st, "state"));
		if (!state || strcmp(state, "running"))
			break;
		json_decref(st);
		st = NULL;
		poll(NULL, 0, STRESS_POLL_MS);
	}
	cmd_client_close(&c);
	if (rc)
		return rc;
	const char *state = json_string_value(json_object_get(st, "state"));
	if (cmd_flag(a, "json")) {
		char *t = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", t);
		free(t);
	} else {
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(st, "levers"), i, r)
			printf("%s: %s\n",
			       json_string_value(json_object_get(r, "lever")),
			       json_string_value(json_object_get(r, "note")));
		json_t *cap = json_object_get(st, "capacity");
		if (json_is_number(cap))
			printf("capacity for the scaler: %.1f req/s per "
			       "production replica\n",
			       json_number_value(cap));
	}
	fflush(stdout);
	bool done = state && !strcmp(state, "done");
	if (!done)
		fprintf(stderr, "umbra stress: %s\n",
			json_string_value(json_object_get(st, "summary"))
			    ? json_string_value(json_object_get(st, "summary"))
			    : "the test did not finish");
	json_decref(st);
	return done ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}

static int exec(cmd_args_t *a)
{
	st_t s = {.cmd = a->cmd, .prod_rps = NAN};
	const char *rate = cmd_opt(a, "rate");
	s.load.rate = 20;
	if (rate) {
		const char *why;
		if (units_parse_double(rate, 0, STRESS_RATE_MAX, &s.load.rate,
				       &why))
			return cmd_usage_error(a->cmd, "bad --rate '%s': %s",
					       rate, why);
	}
	const char *path = cmd_opt(a, "path");
	if (path && path[0] != '/')
		return cmd_usage_error(a->cmd, "--path must start with '/'");
	snprintf(s.load.path, sizeof(s.load.path), "%s", path ? path : "/");
	s.path_default = !path;
	s.json = cmd_flag(a, "json");
	int rc = cmd_load_config(a->pos[0], &s.cfg);
	if (rc)
		return rc;
	if (apply_flags(a, s.cfg)) {
		config_free(s.cfg);
		return CMD_EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	s.base = event_base_new();
	s.ev_term = evsignal_new(s.base, SIGTERM, on_signal, &s);
	s.ev_int = evsignal_new(s.base, SIGINT, on_signal, &s);
	event_add(s.ev_term, NULL);
	event_add(s.ev_int, NULL);
	buf_t err = BUF_INIT;
	int e = 0;
	s.px = proxy_new(s.cfg, &e);
	if (!s.px && e == -EADDRINUSE) {
		/* umbra run serves this service: ask it */
		teardown(&s);
		buf_free(&err);
		return stress_remote(a);
	}
	if (!s.px) {
		buf_printf(&err, "cannot start the proxy on listen.address: %s "
				 "(is umbra run running for this service?)",
			   err_str(e));
		rc = e;
	} else if ((rc = proxy_start(s.px)) != 0) {
		buf_printf(&err, "cannot start proxy workers: %s", err_str(rc));
	}
	prov_hooks_t hooks = {on_replica, &s};
	if (!rc)
		rc = prov_new(s.cfg, s.base, &hooks, &s.prov, &err);
	if (!rc)
		rc = prov_start(s.prov, &err);
	if (rc == ERR_EXISTS) {
		/* the work dir is locked: umbra run serves this service */
		buf_free(&err);
		teardown(&s);
		return stress_remote(a);
	}
	if (!rc) {
		s.live.prov = s.prov;
		s.live.px = s.px;
		mit_ops_t ops = cmd_mit_ops(&s.live);
		rc = mit_new(s.cfg, &ops, NULL, &s.eng, &err);
	}
	if (rc) {
		int code = cmd_fail(a->cmd, "%s", err.data ? err.data
							: err_str(rc));
		buf_free(&err);
		teardown(&s);
		return code;
	}
	buf_free(&err);
	s.recs = xcalloc(STRESS_RECORDS, sizeof(reqrec_t));
	s.ready_deadline = clock_mono_ns() +
			   s.cfg->production.start_timeout + 5 * NS_PER_S;
	s.ev_tick = event_new(s.base, -1, EV_PERSIST, on_tick, &s);
	struct timeval tv = {0, STRESS_TICK_MS * 1000};
	event_add(s.ev_tick, &tv);
	log_info("stress", "waiting for production and shadow, then the test",
		 LF_F("rate", s.load.rate), LF_S("path", s.load.path));
	event_base_dispatch(s.base);
	if (s.fail[0])
		fprintf(stderr, "umbra stress: %s\n", s.fail);
	rc = s.exit_code;
	teardown(&s);
	return rc;
}

const cmd_entry_t cmd_stress = {
    .name = "stress",
    .usage = "CONFIG [--rate R] [--lever L]... [--step D] [--json]",
    .summary = "stress the shadow to find its knee, capacity and headroom",
    .help = "Starts production and the shadow as umbra run would, with the "
	    "mirroring\nproxy between clients and them, sends --rate "
	    "requests/s of its own\nthrough the proxy, and turns the levers "
	    "of mitigation.stress.levers one\nafter the other: mirror "
	    "amplification x1, x2, x4 ... up to\nstress.max_amplification; "
	    "the shadow's CPU quota (or memory limit) 1,\n1/2, 1/4 ... down "
	    "to stress.min_cpu (min_memory). Each step is held\n"
	    "stress.step; a lever stops at its knee, the first step where "
	    "the shadow's\np99 is over stress.p99_target or its error rate "
	    "(drops included) over\nstress.error_target. Prints the curve, "
	    "the knee, the capacity per\nproduction replica (scaled by "
	    "shadow.ratio) and the headroom, restores\nthe settings and "
	    "stops everything. Production is never squeezed or\namplified. "
	    "The cpu and memory levers need cgroup limits "
	    "(production.cpu_limit,\nmemory_limit; root). Exit status: 0 "
	    "test done, 1 aborted or failed, 2\nbad usage.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .exec = exec,
};
