/*
 * test_rollback.c: rollback against a real service. Two production
 * replicas of tests/tools/testsvc (which re-reads its --config file on
 * SIGHUP) run under the real supervisor on a real loop; a bad config
 * reaches them; the engine, given a critical finding, restores the
 * known-good file and the replicas' behaviour changes back (their /stats
 * say so), then the recovery is verified with both replicas up. The same
 * with a rolling restart instead of a reload: the replicas restart one at
 * a time, never both down.
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "cmd/mitigate_ops.h"
#include "config/config.h"
#include "mitigate/mitigate.h"
#include "provision/prov_int.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <event2/event.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define S 1000000000LL
#define T0 (1800000000LL * S)

static char testsvc[PATH_MAX];

/* build/tests/unit/mitigate/test_x -> build/tools/testsvc */
static void find_testsvc(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	cr_assert_gt(n, 0);
	exe[n] = '\0';
	char *d = dirname(exe);
	snprintf(testsvc, sizeof(testsvc), "%s/../../../tools/testsvc", d);
	cr_assert_eq(access(testsvc, X_OK), 0,
		     "%s not built (make builds tools before unit tests)",
		     testsvc);
}

/* GET path from 127.0.0.1:port; the body into out. */
static int get(int port, const char *path, char *out, size_t n)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	char req[256];
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 path);
	if (write(fd, req, strlen(req)) < 0) {
		close(fd);
		return -1;
	}
	size_t len = 0;
	struct pollfd p = {fd, POLLIN, 0};
	while (len + 1 < n && poll(&p, 1, 2000) == 1) {
		ssize_t k = read(fd, out + len, n - 1 - len);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	out[len] = '\0';
	close(fd);
	return 0;
}

typedef struct world {
	char dir[64], conf[128];
	config_t *cfg;
	struct event_base *base;
	prov_t *prov;
	cmd_mit_live_t live;
	mit_t *eng;
	mit_audit_t audit;
	mit_report_t rep;
	int up, min_up_after_start, downs;
	bool started;
} world_t;

static world_t w;

static void on_replica(const prov_replica_ev_t *ev, void *arg)
{
	if (ev->side != PROV_PRODUCTION)
		return;
	if (ev->kind == PROV_EV_UP)
		w.up++;
	else if (ev->kind == PROV_EV_DOWN) {
		w.up--;
		w.downs++;
	}
	if (w.started && w.up < w.min_up_after_start)
		w.min_up_after_start = w.up;
}

static void loop_for(int64_t ns)
{
	int64_t until = clock_mono_ns() + ns;
	while (clock_mono_ns() < until) {
		event_base_loop(w.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
	}
}

static void loop_until(bool (*cond)(void), int64_t max_ns, const char *what)
{
	int64_t until = clock_mono_ns() + max_ns;
	while (!cond() && clock_mono_ns() < until) {
		event_base_loop(w.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
	}
	cr_assert(cond(), "waited for %s", what);
}

static bool two_up(void)
{
	return w.up == 2 && prov_replica_up_count(w.prov, PROV_PRODUCTION) == 2;
}

static void write_conf(const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/app.conf", w.conf);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static int port_of(int i)
{
	return w.prov->rep[PROV_PRODUCTION][i]->port;
}

/* The latency knob replica i reports. */
static double latency_of(int i)
{
	char body[2048];
	if (get(port_of(i), "/stats", body, sizeof(body)))
		return -1;
	const char *k = strstr(body, "\"latency_ms\":");
	return k ? atof(k + 13) : -1;
}

static void setup_world(const char *reload)
{
	log_setup(LOG_ERROR, LOG_FMT_LOGFMT);
	find_testsvc();
	memset(&w, 0, sizeof(w));
	snprintf(w.dir, sizeof(w.dir), "/tmp/umbra-rb-XXXXXX");
	cr_assert_not_null(mkdtemp(w.dir));
	chmod(w.dir, 0711); /* as root the shadow runs as umbra-shadow */
	snprintf(w.conf, sizeof(w.conf), "%s/conf", w.dir);
	mkdir(w.conf, 0755);
	write_conf("latency_ms = 0\n");
	char text[8192];
	snprintf(text, sizeof(text),
		 "service: unit-rb-%d\nproduction:\n"
		 "  command: [%s, --port, '{port}', --config, "
		 "'{config_dir}/app.conf']\n"
		 "  config_dir: %s\n  replicas: 2\n"
		 "  health: {type: http, path: /healthz, interval: 100ms}\n"
		 "  stop_grace: 2s\n%s"
		 "shadow:\n  ratio: 1\n  work_dir: %s/shadow\n"
		 "store:\n  path: %s/data/umbra.db\n"
		 "mitigation:\n  soak: 10s\n  verify: 30s\n"
		 "  scale: {enabled: false}\n",
		 (int)getpid(), testsvc, w.conf, reload, w.dir, w.dir);
	config_errors_t errs = {0};
	int rc = config_load_string("t.yaml", text, strlen(text), w.dir, &w.cfg,
				    &errs);
	buf_t b = BUF_INIT;
	config_errors_format(&errs, &b);
	cr_assert_eq(rc, 0, "%s", b.data);
	config_errors_free(&errs);
	w.base = event_base_new();
	prov_hooks_t hooks = {on_replica, NULL};
	cr_assert_eq(prov_new(w.cfg, w.base, &hooks, &w.prov, &b), 0, "%s",
		     b.data);
	cr_assert_eq(prov_start(w.prov, &b), 0, "%s", b.data);
	loop_until(two_up, 10 * S, "two production replicas up");
	w.live.prov = w.prov;
	mit_ops_t ops = cmd_mit_ops(&w.live);
	w.audit = mit_audit_memory_new(0);
	cr_assert_eq(mit_new(w.cfg, &ops, &w.audit, &w.eng, &b), 0, "%s",
		     b.data);
	cr_assert_eq(mit_start(w.eng, T0, &b), 0, "%s", b.data);
	buf_free(&b);
	cr_assert_eq(latency_of(0), 0);
}

static void done(void *arg)
{
	*(bool *)arg = true;
}

static void teardown_world(void)
{
	mit_free(w.eng);
	mit_audit_memory_free(&w.audit);
	bool stopped = false;
	prov_stop(w.prov, done, &stopped);
	int64_t until = clock_mono_ns() + 10 * S;
	while (!stopped && clock_mono_ns() < until) {
		event_base_loop(w.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
	}
	prov_free(w.prov);
	event_base_free(w.base);
	config_free(w.cfg);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", w.dir);
	cr_assert_eq(system(cmd), 0);
}

static an_out_t out;

static void tick(double secs, double dev, bool finding)
{
	memset(&out, 0, sizeof(out));
	an_metric_view_t *v = &out.metric[AN_M_latency_p99];
	v->valid = true;
	v->deviation = dev;
	v->velocity = 0.3;
	v->threshold = 0.25;
	if (finding) {
		an_finding_t *f = &out.finding[out.nfindings++];
		f->metric = AN_M_latency_p99;
		f->kind = AN_FIND_CRITICAL;
		f->deviation = dev;
		f->threshold = 0.25;
		f->severity = 95;
		f->mover = AN_PROD;
	}
	mit_input_t in = {T0 + (int64_t)(secs * S), &out, NAN};
	mit_tick(w.eng, &in, &w.rep);
}

static bool note_has(const char *needle)
{
	for (size_t i = 0; i < w.rep.nnotes; i++)
		if (strstr(w.rep.note[i].text, needle))
			return true;
	return false;
}

static bool both_fast(void)
{
	return latency_of(0) == 0 && latency_of(1) == 0;
}

static bool both_slow(void)
{
	return latency_of(0) == 300 && latency_of(1) == 300;
}

static bool deployed;
static void deploy_done(bool ok, const char *why, void *arg)
{
	cr_assert(ok, "%s", why);
	deployed = true;
}
static bool is_deployed(void)
{
	return deployed;
}

/* The bad deploy: soak the good config, then write and reload a bad
 * one (as a deploy would), and see production slow down. */
static void bad_deploy(bool reload)
{
	tick(11, 0.01, false);
	mit_status_t st;
	mit_status(w.eng, &st);
	cr_assert(st.known_good[0], "the start snapshot is known-good");
	write_conf("latency_ms = 300\n");
	mit_config_changed(w.eng, T0 + 12 * S, "deploy");
	if (reload) {
		cr_assert_eq(prov_signal(w.prov, PROV_PRODUCTION, SIGHUP), 2);
		loop_until(both_slow, 10 * S, "both replicas reloaded");
	} else {
		/* a deploy that restarts the replicas */
		deployed = false;
		cr_assert_eq(prov_rolling_restart(w.prov, PROV_PRODUCTION,
						  deploy_done, NULL),
			     0);
		loop_until(is_deployed, 20 * S, "the deploy's restart");
		deployed = false;
		cr_assert_eq(prov_rolling_restart(w.prov, PROV_PRODUCTION,
						  deploy_done, NULL),
			     0);
		cr_assert_eq(prov_rolling_restart(w.prov, PROV_PRODUCTION,
						  deploy_done, NULL),
			     ERR_BADSTATE, "one roll at a time");
		loop_until(is_deployed, 20 * S, "the second restart");
	}
	cr_assert_eq(latency_of(0), 300);
	cr_assert_eq(latency_of(1), 300);
}

Test(rollback, reload_by_signal_restores_behaviour)
{
	setup_world("  reload: {signal: HUP}\n");
	bad_deploy(true);
	tick(13, 2.0, true);
	cr_assert(note_has("rollback: restore known-good snapshot"));
	char p[256], body[64] = "";
	snprintf(p, sizeof(p), "%s/app.conf", w.conf);
	FILE *f = fopen(p, "r");
	cr_assert_gt(fread(body, 1, sizeof(body) - 1, f), 0);
	fclose(f);
	cr_assert_str_eq(body, "latency_ms = 0\n", "the file is restored");
	loop_until(both_fast, 5 * S, "both replicas fast again");
	/* recovered: verified with both replicas up */
	tick(14, 0.05, false);
	tick(15, 0.04, false);
	tick(16, 0.03, false);
	cr_assert(note_has("rollback verified"), "%s",
		  w.rep.nnotes ? w.rep.note[0].text : "");
	cr_assert(note_has("2/2 replicas up"));
	teardown_world();
}

Test(rollback, rolling_restart_one_at_a_time)
{
	setup_world("");
	bad_deploy(false);
	int pid0 = w.prov->rep[PROV_PRODUCTION][0]->pid;
	int pid1 = w.prov->rep[PROV_PRODUCTION][1]->pid;
	w.downs = 0;
	w.started = true;
	w.min_up_after_start = w.up;
	tick(13, 2.0, true);
	cr_assert(note_has("then a rolling restart"), "%s",
		  w.rep.nnotes ? w.rep.note[0].text : "");
	double s = 13;
	for (int i = 0; i < 2000 && !note_has("rollback verified"); i++) {
		loop_for(S / 100);
		if (i % 10 == 0)
			tick(s += 0.1, w.live.rolling ? 2.0 : 0.01, false);
	}
	cr_assert(note_has("rollback verified"));
	cr_assert_eq(w.downs, 2, "each replica went down once");
	cr_assert_eq(w.min_up_after_start, 1, "never both down");
	cr_assert_neq(w.prov->rep[PROV_PRODUCTION][0]->pid, pid0);
	cr_assert_neq(w.prov->rep[PROV_PRODUCTION][1]->pid, pid1);
	cr_assert(both_fast());
	teardown_world();
}
