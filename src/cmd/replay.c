/*
 * replay.c: `umbra replay FILE --target ADDR`: send recorded traffic to a
 * target at a chosen speed, compare each response with the recorded one
 * (the config's mirror.compare rules, the proxy's comparator), show
 * progress on a terminal and print a summary (text or JSON).
 */
#include "cmd/cmd.h"
#include "cmd/client_cmd.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/units.h"
#include "capture/replay.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONNECTIONS 64
#define DEFAULT_TIMEOUT_NS (10LL * NS_PER_S)
#define BAR_WIDTH 24

static const cmd_opt_t opts[] = {
	{"target", 't', "ADDR", "where to send the requests (host:port)"},
	{"speed", 0, "SPEED",
	 "2x, 0.5x, 50%, or max (default 1x: as recorded)"},
	{"loop", 0, NULL, "start over at the end, until stopped"},
	{"connections", 'C', "N", "connections at most (default 64)"},
	{"filter", 0, "KEY=VALUE",
	 "replay matching records only (method, path, host, status, "
	 "endpoint); repeatable",
	 true},
	{"host", 'H', "NAME", "send Host: NAME instead of the recorded one"},
	{"format", 0, "FMT", "summary as text (default) or json"},
	CMD_OPT_OUTPUT,
	{"timeout", 0, "DURATION", "per request (default 10s)"},
	{"duration", 'd', "DURATION", "stop after this long"},
	{"count", 0, "N", "stop after N requests"},
	{"config", 'c', "FILE", "comparison rules (mirror.compare.*)"},
	{"announce", 0, "SIDE",
	 "tell the daemon of --config that this traffic goes into SIDE "
	 "(shadow, production or both) for --duration: a replay event the "
	 "analysis judges as such"},
	{NULL},
};

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void fmt_dur(int64_t ns, char *out, size_t cap)
{
	int64_t s = ns / NS_PER_S;
	if (s >= 3600)
		snprintf(out, cap, "%lld:%02lld:%02lld", (long long)(s / 3600),
			 (long long)(s / 60 % 60), (long long)(s % 60));
	else
		snprintf(out, cap, "%lld:%02lld", (long long)(s / 60),
			 (long long)(s % 60));
}

static uint64_t errors(const cap_replay_result_t *r)
{
	uint64_t n = 0;
	for (int i = 0; i < CAP_RE__COUNT; i++)
		n += r->errors[i];
	return n;
}

/* The progress line, redrawn in place on a terminal. */
static void progress(void *arg, const cap_replay_result_t *r, uint64_t total,
		     int64_t eta)
{
	(void)arg;
	double rate = r->send_span_ns > 0 ? r->achieved_rate : 0;
	char e[32] = "-";
	if (eta >= 0)
		fmt_dur(eta, e, sizeof(e));
	if (total) {
		double f = (double)r->sent / (double)total;
		if (f > 1)
			f = 1;
		int fill = (int)(f * BAR_WIDTH);
		char bar[BAR_WIDTH + 1];
		for (int i = 0; i < BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[BAR_WIDTH] = '\0';
		fprintf(stderr,
			"\r[%s] %3.0f%% %llu/%llu  %.0f req/s  err %llu  differ "
			"%llu  ETA %s   ",
			bar, f * 100, (unsigned long long)r->sent,
			(unsigned long long)total, rate,
			(unsigned long long)errors(r),
			(unsigned long long)r->differed, e);
	} else {
		fprintf(stderr,
			"\r%llu sent  %.0f req/s  err %llu  differ %llu  "
			"loops %llu   ",
			(unsigned long long)r->sent, rate,
			(unsigned long long)errors(r),
			(unsigned long long)r->differed,
			(unsigned long long)r->loops);
	}
	fflush(stderr);
}

static const char *const err_names[CAP_RE__COUNT] = {"connect", "timeout",
						     "reset", "protocol"};
static const char *const reason_names[8] = {"status", "headers", "body",
					    "size",   "json",    "error",
					    "bit6",   "bit7"};

static double ms(uint64_t us)
{
	return (double)us / 1e3;
}

static void speed_text(double speed, char *out, size_t cap)
{
	if (speed <= 0)
		snprintf(out, cap, "max");
	else
		snprintf(out, cap, "%gx", speed);
}

static void summary_text(const cap_replay_opts_t *o,
			 const cap_replay_result_t *r)
{
	char t[ADDR_TEXT_MAX], sp[32];
	speed_text(o->speed, sp, sizeof(sp));
	printf("replayed   %s -> %s at %s%s\n", o->file,
	       addr_format(&o->target, t), sp,
	       o->loop ? " (loop)" : "");
	printf("sent       %llu requests in %.2f s; %llu responses, %llu "
	       "errors (",
	       (unsigned long long)r->sent, (double)r->elapsed_ns / 1e9,
	       (unsigned long long)r->responses, (unsigned long long)errors(r));
	for (int i = 0; i < CAP_RE__COUNT; i++)
		printf("%s%s %llu", i ? ", " : "", err_names[i],
		       (unsigned long long)r->errors[i]);
	printf(")%s\n", r->cancelled ? "" : "");
	if (r->cancelled)
		printf("cancelled  %llu in flight when stopped\n",
		       (unsigned long long)r->cancelled);
	if (o->speed > 0)
		printf("rate       achieved %.1f req/s, target %.1f req/s "
		       "(%.1f%%)\n",
		       r->achieved_rate, r->target_rate,
		       r->target_rate > 0
			       ? 100 * r->achieved_rate / r->target_rate
			       : 0);
	else
		printf("rate       achieved %.1f req/s (as fast as possible)\n",
		       r->achieved_rate);
	printf("latency    p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f "
	       "ms\n",
	       ms(cap_hist_quantile(&r->latency_us, 0.5)),
	       ms(cap_hist_quantile(&r->latency_us, 0.9)),
	       ms(cap_hist_quantile(&r->latency_us, 0.99)),
	       ms(r->latency_us.max));
	if (o->speed > 0)
		printf("lag        p50 %.3f ms, p99 %.3f ms, max %.3f ms "
		       "(sent after the schedule)\n",
		       ms(cap_hist_quantile(&r->lag_us, 0.5)),
		       ms(cap_hist_quantile(&r->lag_us, 0.99)),
		       ms(r->lag_us.max));
	printf("status    ");
	for (int i = 1; i < 600; i++)
		if (r->status[i])
			printf(" %d:%llu", i, (unsigned long long)r->status[i]);
	if (r->status[0])
		printf(" none:%llu", (unsigned long long)r->status[0]);
	printf("\ncompared   %llu: %llu match, %llu differ", 
	       (unsigned long long)r->compared, (unsigned long long)r->matched,
	       (unsigned long long)r->differed);
	const char *sep = " (";
	for (int b = 0; b < 6; b++)
		if (r->diff_reasons[b]) {
			printf("%s%s %llu", sep, reason_names[b],
			       (unsigned long long)r->diff_reasons[b]);
			sep = ", ";
		}
	printf("%s; %llu without a recorded response to compare\n",
	       r->differed ? ")" : "", (unsigned long long)r->uncompared);
	for (size_t i = 0; i < r->nexamples; i++) {
		const cap_replay_example_t *x = &r->examples[i];
		printf("  differ   %s: %s (recorded %d, got %d)%s%s\n",
		       x->request, x->reasons, x->recorded, x->got,
		       x->paths[0] ? " at " : "", x->paths);
	}
	if (r->filtered || r->skipped || r->bodies_adjusted)
		printf("records    %llu read, %llu filtered out, %llu unusable, "
		       "%llu sent with a cut body\n",
		       (unsigned long long)r->read,
		       (unsigned long long)r->filtered,
		       (unsigned long long)r->skipped,
		       (unsigned long long)r->bodies_adjusted);
	if (r->file_error[0])
		printf("damaged    %s (replayed the records before it)\n",
		       r->file_error);
	/* What the capture itself lost: seen by the source, never in the
	 * file, so never replayed. */
	uint64_t lost = 0;
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		if (i != CAP_LOSS_RESPONSE_LOST)
			lost += r->capture_lost[i];
	uint64_t recorded = r->read / (r->loops + 1);
	printf("capture    %llu requests seen = %llu recorded + %llu lost "
	       "when captured",
	       (unsigned long long)(recorded + lost),
	       (unsigned long long)recorded, (unsigned long long)lost);
	const char *sep2 = " (";
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		if (r->capture_lost[i] && i != CAP_LOSS_RESPONSE_LOST) {
			printf("%s%s %llu", sep2, cap_loss_name(i),
			       (unsigned long long)r->capture_lost[i]);
			sep2 = ", ";
		}
	printf("%s", lost ? ")" : "");
	if (r->capture_lost[CAP_LOSS_RESPONSE_LOST])
		printf("; %llu recorded without their response",
		       (unsigned long long)
			   r->capture_lost[CAP_LOSS_RESPONSE_LOST]);
	printf("\n");
}

static json_t *quantiles(const cap_hist_t *h)
{
	json_t *o = json_object();
	json_object_set_new(o, "p50_ms", json_real(ms(cap_hist_quantile(h, 0.5))));
	json_object_set_new(o, "p90_ms", json_real(ms(cap_hist_quantile(h, 0.9))));
	json_object_set_new(o, "p99_ms",
			    json_real(ms(cap_hist_quantile(h, 0.99))));
	json_object_set_new(o, "max_ms", json_real(ms(h->max)));
	return o;
}

#define JI(x) json_integer((json_int_t)(x))

static void summary_json(const cap_replay_opts_t *o,
			 const cap_replay_result_t *r)
{
	char t[ADDR_TEXT_MAX], sp[32];
	speed_text(o->speed, sp, sizeof(sp));
	json_t *j = json_object();
	json_object_set_new(j, "file", json_string(o->file));
	json_object_set_new(j, "target", json_string(addr_format(&o->target, t)));
	json_object_set_new(j, "speed", json_string(sp));
	json_object_set_new(j, "loops", JI(r->loops));
	json_object_set_new(j, "read", JI(r->read));
	json_object_set_new(j, "filtered", JI(r->filtered));
	json_object_set_new(j, "unusable", JI(r->skipped));
	json_t *cl = json_object();
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		json_object_set_new(cl, cap_loss_name(i),
				    JI(r->capture_lost[i]));
	json_object_set_new(j, "capture_lost", cl);
	json_object_set_new(j, "sent", JI(r->sent));
	json_object_set_new(j, "responses", JI(r->responses));
	json_object_set_new(j, "cancelled", JI(r->cancelled));
	json_t *e = json_object();
	for (int i = 0; i < CAP_RE__COUNT; i++)
		json_object_set_new(e, err_names[i], JI(r->errors[i]));
	json_object_set_new(j, "errors", e);
	json_object_set_new(j, "elapsed_s", json_real((double)r->elapsed_ns / 1e9));
	json_object_set_new(j, "target_rate",
			    o->speed > 0 ? json_real(r->target_rate)
					 : json_null());
	json_object_set_new(j, "achieved_rate", json_real(r->achieved_rate));
	json_object_set_new(j, "latency", quantiles(&r->latency_us));
	json_object_set_new(j, "lag", quantiles(&r->lag_us));
	json_t *st = json_object();
	for (int i = 0; i < 600; i++)
		if (r->status[i]) {
			char k[16];
			snprintf(k, sizeof(k), "%d", i);
			json_object_set_new(st, i ? k : "none", JI(r->status[i]));
		}
	json_object_set_new(j, "status", st);
	json_t *c = json_object();
	json_object_set_new(c, "compared", JI(r->compared));
	json_object_set_new(c, "matched", JI(r->matched));
	json_object_set_new(c, "differed", JI(r->differed));
	json_object_set_new(c, "uncompared", JI(r->uncompared));
	json_t *rs = json_object();
	for (int b = 0; b < 6; b++)
		json_object_set_new(rs, reason_names[b], JI(r->diff_reasons[b]));
	json_object_set_new(c, "reasons", rs);
	json_t *ex = json_array();
	for (size_t i = 0; i < r->nexamples; i++) {
		const cap_replay_example_t *x = &r->examples[i];
		json_t *xo = json_object();
		json_object_set_new(xo, "request", json_string(x->request));
		json_object_set_new(xo, "reasons", json_string(x->reasons));
		json_object_set_new(xo, "paths", json_string(x->paths));
		json_object_set_new(xo, "recorded_status", json_integer(x->recorded));
		json_object_set_new(xo, "status", json_integer(x->got));
		json_array_append_new(ex, xo);
	}
	json_object_set_new(c, "examples", ex);
	json_object_set_new(j, "comparison", c);
	json_object_set_new(j, "bodies_adjusted", JI(r->bodies_adjusted));
	json_object_set_new(j, "file_error", r->file_error[0]
						     ? json_string(r->file_error)
						     : json_null());
	cmd_print_value(j);
	json_decref(j);
}

/* Posts the replay event to the daemon of config_file: side, from now
 * for duration (docs/analysis.md: the replayed side's load-driven
 * metrics are not judged against production meanwhile). CMD_EXIT_OK or
 * an exit code after one line saying why. */
static int announce(const cmd_entry_t *self, const char *config_file,
		    const char *side, const char *file, const char *target,
		    int64_t duration)
{
	cmd_client_t c;
	int rc = cmd_client_open(self, config_file, &c);
	if (rc)
		return rc;
	int64_t now = clock_wall_ns();
	char text[512];
	snprintf(text, sizeof(text), "umbra replay %s into %s", file, target);
	json_t *body = json_pack("{s:s,s:s,s:s,s:f,s:f}", "type", "replay",
				 "side", side, "text", text, "start",
				 (double)now / 1e9, "end",
				 (double)(now + duration) / 1e9);
	json_t *reply = NULL;
	rc = cmd_client_call(&c, "/api/v1/events", body, &reply, NULL);
	json_decref(body);
	json_decref(reply);
	cmd_client_close(&c);
	return rc;
}

static int exec(cmd_args_t *a)
{
	cap_replay_opts_t o = {0};
	o.file = a->pos[0];
	const char *tgt = cmd_opt(a, "target");
	if (!tgt)
		return cmd_usage_error(a->cmd, "give --target ADDR (host:port)");
	const char *why;
	if (addr_parse(tgt, false, &o.target, &why))
		return cmd_usage_error(a->cmd, "bad --target '%s': %s", tgt, why);
	o.speed = 1;
	const char *sp = cmd_opt(a, "speed");
	if (sp && cap_replay_parse_speed(sp, &o.speed))
		return cmd_usage_error(a->cmd,
				       "bad --speed '%s' (2x, 0.5x, 50%%, max)",
				       sp);
	o.loop = cmd_flag(a, "loop");
	o.connections = DEFAULT_CONNECTIONS;
	const char *cs = cmd_opt(a, "connections");
	int64_t v;
	if (cs) {
		if (units_parse_i64(cs, 1, REPLAY_MAX_CONNECTIONS, &v, NULL))
			return cmd_usage_error(a->cmd,
					       "bad --connections '%s' (1..%d)",
					       cs, REPLAY_MAX_CONNECTIONS);
		o.connections = (int)v;
	}
	o.host = cmd_opt(a, "host");
	const char *fmt = cmd_opt(a, "format");
	/* -o json|yaml (or --json): the summary as the value; --format
	 * json is the older spelling of -o json */
	bool json = cmd_out_format() != CMD_OUT_TABLE;
	if (fmt && strcmp(fmt, "json") == 0)
		json = true;
	else if (fmt && strcmp(fmt, "text") != 0)
		return cmd_usage_error(a->cmd, "bad --format '%s' (text or json)",
				       fmt);
	o.timeout = DEFAULT_TIMEOUT_NS;
	const char *ts = cmd_opt(a, "timeout");
	if (ts && (units_parse_duration(ts, &o.timeout, NULL) || o.timeout <= 0))
		return cmd_usage_error(a->cmd, "bad --timeout '%s'", ts);
	const char *d = cmd_opt(a, "duration");
	if (d && units_parse_duration(d, &o.duration, NULL))
		return cmd_usage_error(a->cmd, "bad --duration '%s'", d);
	const char *n = cmd_opt(a, "count");
	if (n) {
		if (units_parse_i64(n, 1, INT64_MAX, &v, NULL))
			return cmd_usage_error(a->cmd, "bad --count '%s'", n);
		o.max_requests = (uint64_t)v;
	}
	const char *ann = cmd_opt(a, "announce");
	if (ann && strcmp(ann, "shadow") && strcmp(ann, "production") &&
	    strcmp(ann, "both"))
		return cmd_usage_error(a->cmd,
				       "bad --announce '%s' (shadow, production "
				       "or both)",
				       ann);
	if (ann && (!cmd_opt(a, "config") || !o.duration))
		return cmd_usage_error(a->cmd,
				       "--announce needs --config (the daemon "
				       "to tell) and --duration (how long the "
				       "replay's load lasts)");
	config_t *cfg = NULL;
	const char *cf = cmd_opt(a, "config");
	if (cf) {
		int rc = cmd_load_config(cf, &cfg);
		if (rc)
			return rc;
	} else {
		cfg = config_new_default("replay");
	}
	const config_mirror_t *m = &cfg->mirror;
	o.rules = (cmp_rules_t){m->compare.ignore_headers.v,
				m->compare.ignore_headers.n,
				m->compare.ignore_json_paths.v,
				m->compare.ignore_json_paths.n,
				m->compare.unordered_arrays.v,
				m->compare.unordered_arrays.n,
				m->compare.max_body,
				m->compare.identity_headers.v,
				m->compare.identity_headers.n,
				NULL};
	cap_filter_t *filter = NULL;
	size_t nf;
	const char *const *fs = cmd_opt_all(a, "filter", &nf);
	for (size_t i = 0; i < nf; i++) {
		char err[256];
		if (cap_filter_add(&filter, fs[i], err, sizeof(err))) {
			cap_filter_free(filter);
			config_free(cfg);
			return cmd_usage_error(a->cmd, "%s", err);
		}
	}
	o.filter = filter;
	o.stop = &stop_flag;
	bool tty = isatty(2);
	if (tty) {
		o.progress = progress;
		o.count_first = true;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (ann) {
		int arc = announce(a->cmd, cf, ann, o.file, tgt, o.duration);
		if (arc) {
			cap_filter_free(filter);
			config_free(cfg);
			return arc;
		}
	}
	cap_replay_result_t *res = calloc(1, sizeof(*res));
	char err[700];
	int rc = cap_replay_run(&o, res, err, sizeof(err));
	if (tty)
		fputc('\n', stderr);
	int ex = CMD_EXIT_OK;
	if (rc) {
		ex = cmd_fail(a->cmd, "%s", err);
	} else {
		if (json)
			summary_json(&o, res);
		else
			summary_text(&o, res);
		if (res->file_error[0]) {
			fprintf(stderr, "umbra replay: %s\n", res->file_error);
			ex = CMD_EXIT_FAIL;
		}
		if (res->sent && !res->responses) {
			fprintf(stderr, "umbra replay: no response from %s\n",
				tgt);
			ex = CMD_EXIT_FAIL;
		}
	}
	free(res);
	cap_filter_free(filter);
	config_free(cfg);
	return ex;
}

const cmd_entry_t cmd_replay = {
	.name = "replay",
	.usage = "FILE --target ADDR [--speed 2x|50%|max] [--loop] "
		 "[--connections N] [--filter KEY=VALUE] [--host NAME] "
		 "[--format text|json] [--config C [--announce SIDE --duration D]]",
	.summary = "send recorded traffic to a target at a chosen speed",
	.help = "Sends the requests of a capture file to ADDR keeping their "
		"recorded spacing\ndivided by --speed (or as fast as the "
		"connections allow with --speed max),\ncompares each response "
		"with the recorded one (mirror.compare rules from\n--config), "
		"and prints a summary: sent, achieved vs target rate, latency\n"
		"quantiles, how late requests left, statuses, differences. "
		"Heads are sent\nbyte for byte as recorded (Host rewritten "
		"with --host). On a terminal a\nprogress line shows rate, errors "
		"and ETA. SIGINT stops at once. Exit 1 when\nthe file is "
		"damaged (its good part is replayed) or nothing answered.\n"
		"Replaying into a running shadow loads it with traffic the "
		"proxy does not\nsee: --announce shadow (with --config and "
		"--duration) posts a replay event\nso that the analysis does "
		"not take that load for a regression.",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.exec = exec,
};
