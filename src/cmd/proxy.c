/*
 * proxy.c: `umbra proxy`: the mirroring proxy alone, from flags or a
 * config (flags win). The calling thread is the control side: it waits
 * for signals (SIGTERM/SIGINT drain and exit, SIGHUP reloads the config
 * without dropping connections), drains the request records and prints
 * the counters every --stats-interval.
 */
#include "cmd/cmd.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/units.h"
#include "base/xmalloc.h"
#include "capture/capture.h"
#include "proxy/proxy.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORD_BATCH 4096 /* records moved per call; the rings hold 64Ki */

static const cmd_opt_t opts[] = {
	{"config", 'c', "FILE", "read settings from FILE (flags override it)"},
	{"listen", 0, "ADDR", "listen address (listen.address)"},
	{"prod", 'p', "ADDR[,ADDR...]", "production replicas"},
	{"shadow", 0, "ADDR[,ADDR...]", "shadow replicas"},
	{"baseline", 0, "ADDR[,ADDR...]",
	 "a second shadow on production's config (noise detection)"},
	{"ratio", 0, "R", "share of requests mirrored, 0..1 or N%"},
	{"methods", 0, "LIST", "mirrored methods (default GET,HEAD,OPTIONS)"},
	{"amplification", 0, "K", "copies per sampled request (1..64)"},
	{"workers", 0, "N", "worker threads (0 = one per core)"},
	{"service", 0, "NAME", "service name when there is no config"},
	{"stats-interval", 0, "DURATION",
	 "print counters this often (e.g. 5s); 0 = never"},
	{"tap-socket", 0, "PATH",
	 "capture tap socket (capture.tap_socket); without a config the tap "
	 "is on only with this"},
	{NULL},
};

/* Flag -> config field; applied over the file at start and on reload. */
static const struct {
	const char *flag, *field;
} flag_fields[] = {
	{"listen", "listen.address"},
	{"prod", "production.upstreams"},
	{"shadow", "shadow.upstreams"},
	{"baseline", "shadow.baseline.upstreams"},
	{"ratio", "shadow.ratio"},
	{"methods", "mirror.methods"},
	{"amplification", "mirror.amplification"},
	{"workers", "listen.workers"},
	{"tap-socket", "capture.tap_socket"},
};

/* Loads the config (file or defaults) with the flags on top. Prints the
 * errors; returns NULL and sets *rc on failure. */
static config_t *build_config(cmd_args_t *a, int *rc)
{
	const char *file = cmd_opt(a, "config");
	config_t *cfg = NULL;
	if (file) {
		*rc = cmd_load_config(file, &cfg);
		if (*rc)
			return NULL;
	} else {
		const char *svc = cmd_opt(a, "service");
		cfg = config_new_default(svc ? svc : "proxy");
	}
	config_errors_t errs = {0};
	int bad = 0;
	for (size_t i = 0; i < sizeof(flag_fields) / sizeof(*flag_fields);
	     i++) {
		const char *v = cmd_opt(a, flag_fields[i].flag);
		if (v && config_set(cfg, flag_fields[i].field, v, &errs))
			bad = 1;
	}
	if (cmd_opt(a, "baseline") &&
	    config_set(cfg, "shadow.baseline.enabled", "true", &errs))
		bad = 1;
	/* capture tap: flags alone name no data directory, so the tap is
	 * on there only when its socket is given */
	if (!file && !cmd_opt(a, "tap-socket") &&
	    config_set(cfg, "capture.tap", "false", &errs))
		bad = 1;
	if (!bad && !file && config_validate(cfg, &errs))
		bad = 1;
	if (!bad && cfg->production.upstreams.n == 0) {
		fprintf(stderr,
			"umbra proxy: no production replicas: give --prod "
			"ADDR or production.upstreams (umbra run starts "
			"production itself)\n");
		config_free(cfg);
		*rc = CMD_EXIT_USAGE;
		return NULL;
	}
	if (bad) {
		buf_t b = BUF_INIT;
		config_errors_format(&errs, &b);
		/* flag errors carry the field; name the flag too */
		fprintf(stderr, "umbra proxy: %s", b.data ? b.data : "\n");
		buf_free(&b);
		config_errors_free(&errs);
		config_free(cfg);
		*rc = CMD_EXIT_USAGE;
		return NULL;
	}
	*rc = 0;
	return cfg;
}

static void print_stats(const proxy_counters_t *now,
			const proxy_counters_t *then, double secs)
{
	char drops[512] = "";
	size_t o = 0;
	for (int i = 0; i < PROXY_DROP__COUNT; i++)
		if (now->dropped[i])
			o += (size_t)snprintf(drops + o, sizeof(drops) - o,
					      "%s%s=%llu", o ? "," : "",
					      proxy_drop_name((proxy_drop_t)i),
					      (unsigned long long)now->dropped[i]);
	char touts[256] = "";
	size_t t = 0;
	for (int i = 0; i < PROXY_TIMEOUT__COUNT; i++)
		if (now->timeouts[i])
			t += (size_t)snprintf(touts + t, sizeof(touts) - t,
					      "%s%s=%llu", t ? "," : "",
					      proxy_timeout_name(
						      (proxy_timeout_t)i),
					      (unsigned long long)now->timeouts[i]);
	log_info("proxy", "stats",
		 LF_U("requests", now->requests),
		 LF_F("rps", (double)(now->requests - then->requests) / secs),
		 LF_U("conns", now->conns_open),
		 LF_U("bad_requests", now->bad_requests),
		 LF_U("too_large", now->too_large),
		 LF_S("timeouts", t ? touts : "0"),
		 LF_U("conn_limit", now->conn_limit),
		 LF_U("fd_exhausted", now->fd_exhausted),
		 LF_U("conns_shed", now->conns_shed),
		 LF_U("prod_errors", now->prod_errors),
		 LF_U("mirrored", now->mirror_sent),
		 LF_U("mirror_done", now->mirror_done),
		 LF_S("dropped", o ? drops : "0"),
		 LF_U("shadow_errors", now->shadow_errors),
		 LF_U("shadow_timeouts", now->shadow_timeouts),
		 LF_U("shadow_too_large", now->shadow_too_large),
		 LF_U("shadow_deadlines", now->shadow_deadlines),
		 LF_U("compared", now->compared),
		 LF_U("matched", now->matched), LF_U("differed", now->differed),
		 LF_U("noise", now->noise), LF_U("queue", now->queue_requests),
		 LF_U("records_dropped", now->records_dropped));
}

static int exec(cmd_args_t *a)
{
	int rc;
	const char *si = cmd_opt(a, "stats-interval");
	int64_t stats_ns = 0;
	if (si && units_parse_duration(si, &stats_ns, NULL))
		return cmd_usage_error(a->cmd,
				       "bad --stats-interval '%s' (expected a "
				       "duration such as 5s)",
				       si);
	config_t *cfg = build_config(a, &rc);
	if (!cfg)
		return rc;

	/* Signals go to this thread only: block them before the workers
	 * exist so they inherit the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	int err = 0;
	proxy_t *px = proxy_new(cfg, &err);
	if (!px) {
		config_free(cfg);
		return cmd_fail(a->cmd, "cannot start: %s", err_str(err));
	}
	cap_masker_t *tap_masker = NULL;
	buf_t merr = BUF_INIT;
	if (cmd_tap_masker(px, cfg, &tap_masker, &merr) != 0) {
		proxy_free(px);
		config_free(cfg);
		int ex = cmd_fail(a->cmd, "capture tap masking: %s", merr.data);
		buf_free(&merr);
		return ex;
	}
	buf_free(&merr);
	if ((err = proxy_start(px)) != 0) {
		proxy_free(px);
		cap_masker_free(tap_masker);
		config_free(cfg);
		return cmd_fail(a->cmd, "cannot start workers: %s",
				err_str(err));
	}
	char la[ADDR_TEXT_MAX];
	addr_t bound = cfg->listen.address;
	bound.port = (uint16_t)proxy_listen_port(px);
	log_info("proxy", "listening", LF_S("addr", addr_format(&bound, la)),
		 LF_U("production", cfg->production.upstreams.n),
		 LF_U("shadow", cfg->shadow.upstreams.n),
		 LF_F("ratio", cfg->shadow.ratio),
		 LF_I("workers", cfg->listen.workers),
		 LF_B("masking", cfg->mask.enabled));

	reqrec_t *recs = xcalloc(RECORD_BATCH, sizeof(reqrec_t));
	proxy_counters_t last = {0}, cur;
	int64_t last_stats = clock_mono_ns();
	int64_t drain_ns = cfg->listen.drain_timeout;
	for (;;) {
		struct timespec ts = {0, 200 * 1000000}; /* 200 ms tick */
		int sig = sigtimedwait(&set, NULL, &ts);
		/* Nobody consumes records in this command but the stats:
		 * keep the rings from filling. */
		while (proxy_take_records(px, recs, RECORD_BATCH) ==
		       RECORD_BATCH)
			;
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("proxy", "draining",
				 LF_S("signal", sig == SIGTERM ? "TERM" : "INT"));
			break;
		}
		if (sig == SIGHUP) {
			config_t *nc = build_config(a, &rc);
			if (!nc) {
				log_error("proxy", "reload failed; keeping the "
						   "running settings");
			} else if ((err = proxy_reload(px, nc)) != 0) {
				log_error("proxy", "reload failed",
					  LF_ERR("err", err));
				config_free(nc);
			} else {
				if (nc->listen.address.port !=
					    cfg->listen.address.port ||
				    nc->listen.workers != cfg->listen.workers)
					log_warn("proxy",
						 "listen address and workers "
						 "change only on restart");
				config_free(cfg);
				cfg = nc;
				drain_ns = cfg->listen.drain_timeout;
				log_info("proxy", "reloaded");
			}
		}
		int64_t now = clock_mono_ns();
		if (stats_ns > 0 && now - last_stats >= stats_ns) {
			proxy_counters(px, &cur);
			print_stats(&cur, &last,
				    (double)(now - last_stats) / 1e9);
			last = cur;
			last_stats = now;
		}
	}
	proxy_drain(px, drain_ns);
	proxy_counters(px, &cur);
	if (stats_ns > 0)
		print_stats(&cur, &last, 1);
	log_info("proxy", "stopped", LF_U("requests", cur.requests));
	proxy_free(px);
	cap_masker_free(tap_masker);
	free(recs);
	config_free(cfg);
	return CMD_EXIT_OK;
}

const cmd_entry_t cmd_proxy = {
	.name = "proxy",
	.usage = "--listen ADDR --prod ADDR[,ADDR...] [--shadow ADDR[,...]] "
		 "[--ratio R] [--methods LIST] [--workers N] [--config FILE]",
	.summary = "run the mirroring proxy alone",
	.help = "Forwards every request to production and a sampled copy to "
		"the shadow, never\nletting the shadow delay or fail a "
		"production exchange: copies go through\nbounded queues that "
		"drop (and count) rather than wait. Responses of each\nmirrored "
		"pair are compared. SIGTERM drains in-flight requests and "
		"exits;\nSIGHUP reloads the config without dropping "
		"connections.",
	.opts = opts,
	.min_pos = 0,
	.max_pos = 0,
	.exec = exec,
};
