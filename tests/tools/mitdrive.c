/*
 * mitdrive.c: drives the mitigation engine end to end for the e2e tests,
 * until the daemon's tick (`umbra run`) calls it: production and shadow
 * run under the real supervisor from CONFIG, the engine acts on them
 * through the same ops the daemon uses (src/cmd/mitigate_ops.h), with
 * real files, signals, commands and alerts. What the analysis would say
 * comes from stdin, one command per line:
 *
 *   view METRIC DEV [THRESHOLD]     the metric's deviation from now on
 *   finding METRIC KIND MOVER [SEV] a finding on the next tick (kind:
 *                                   predicted, deviation, sustained,
 *                                   critical; mover: production, shadow)
 *   resolve METRIC                  the finding closes on the next tick
 *   changed                         production's config may have changed
 *   signal SIG                      signal production (a deploy's reload)
 *   release WHO                     a person lifts a hold
 *   promote SNAP                    promote snapshot SNAP of the store
 *                                   (read through a second handle, as
 *                                   a proposal's store is)
 *   status | audit | quit
 *
 * It ticks every analysis.interval and prints, one per line on stdout:
 * "ready" once production is up and the start snapshot taken, "note
 * KIND TEXT" for every note of the engine's report, "status JSON" (the
 * engine's status and "ticks", the engine ticks run so far: a test
 * waits for more of them to know that time passed with nothing done),
 * "audit KIND SUBJECT STATE TEXT", "error TEXT".
 *
 *   mitdrive CONFIG
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/fault.h"
#include "base/log.h"
#include "cmd/mitigate_ops.h"
#include "config/config.h"
#include "mitigate/mitigate.h"
#include "mitigate/snapshot.h"
#include "provision/provision.h"

#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct drive {
	config_t *cfg;
	struct event_base *base;
	struct event *ev_tick, *ev_in, *ev_term;
	prov_t *prov;
	cmd_mit_live_t live;
	mit_t *eng;
	mit_audit_t audit;
	bool ready, quitting;
	uint64_t ticks; /* mit_tick calls */
	an_metric_view_t view[AN_METRIC__COUNT];
	an_out_t out; /* the next tick's analysis */
	char in[4096];
	size_t inlen;
} drive_t;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void on_stopped(void *arg)
{
	drive_t *d = arg;
	event_base_loopexit(d->base, NULL);
}

static void quit(drive_t *d)
{
	if (d->quitting)
		return;
	d->quitting = true;
	mit_free(d->eng);
	d->eng = NULL;
	prov_stop(d->prov, on_stopped, d);
}

static int kind_of(const char *s)
{
	const char *k[] = {"none", "predicted", "deviation", "sustained",
			   "critical"};
	for (int i = 1; i < 5; i++)
		if (!strcmp(s, k[i]))
			return i;
	return -1;
}

static void status(drive_t *d)
{
	mit_status_t st;
	mit_status(d->eng, &st);
	json_t *j = json_pack(
	    "{s:b, s:b, s:s, s:b, s:s, s:s, s:i, s:f, s:I, s:I, s:I, s:I}",
	    "dry_run", st.dry_run, "held", st.held, "hold_reason",
	    st.hold_reason, "verifying", st.verifying, "current", st.current,
	    "known_good", st.known_good, "replicas_desired",
	    st.replicas_desired, "capacity", st.capacity, "decisions",
	    (json_int_t)st.decisions, "actions", (json_int_t)st.actions,
	    "alerts_firing", (json_int_t)st.alerts_firing, "ticks",
	    (json_int_t)d->ticks);
	char *t = json_dumps(j, JSON_COMPACT);
	say("status %s", t);
	free(t);
	json_decref(j);
}

static void audit(drive_t *d)
{
	static mit_audit_entry_t e[4096];
	size_t n = mit_audit_memory_all(&d->audit, e, 4096);
	for (size_t i = 0; i < n; i++)
		say("audit %s %s %s %s", mit_rec_kind_name(e[i].kind),
		    e[i].subject, e[i].state[0] ? e[i].state : "-", e[i].text);
	say("audit end");
}

static void command(drive_t *d, char *line)
{
	char w[6][128] = {{0}};
	int n = sscanf(line, "%127s %127s %127s %127s %127s %127s", w[0], w[1],
		       w[2], w[3], w[4], w[5]);
	if (n <= 0)
		return;
	int64_t now = clock_wall_ns();
	int m = n > 1 ? an_metric_by_name(w[1]) : -1;
	if (!strcmp(w[0], "view") && m >= 0 && n >= 3) {
		an_metric_view_t *v = &d->view[m];
		v->valid = true;
		v->deviation = atof(w[2]);
		v->signed_dev = -v->deviation;
		v->velocity = 0.2;
		v->threshold = n >= 4 ? atof(w[3]) : 0.1;
	} else if (!strcmp(w[0], "finding") && m >= 0 && n >= 4) {
		int k = kind_of(w[2]);
		if (k < 0 || d->out.nfindings >= AN_METRIC__COUNT) {
			say("error bad finding");
			return;
		}
		an_finding_t *f = &d->out.finding[d->out.nfindings++];
		memset(f, 0, sizeof(*f));
		f->t_ns = now;
		f->metric = (an_metric_t)m;
		f->kind = (an_find_kind_t)k;
		f->deviation = d->view[m].deviation;
		f->threshold = d->view[m].threshold;
		f->velocity = d->view[m].velocity;
		f->severity = n >= 5 ? atof(w[4]) : k == AN_FIND_CRITICAL ? 95 : 60;
		f->predicted = k == AN_FIND_PREDICTED;
		f->mover = !strcmp(w[3], "shadow") ? AN_SHADOW : AN_PROD;
		f->ncauses = 1;
		f->cause[0].kind = AN_CAUSE_CHANGE;
		f->cause[0].score = 0.9;
		snprintf(f->cause[0].subject, sizeof(f->cause[0].subject),
			 "config change");
		snprintf(f->cause[0].evidence, sizeof(f->cause[0].evidence),
			 "production's config changed before the onset");
	} else if (!strcmp(w[0], "resolve") && m >= 0) {
		d->out.resolved |= 1u << m;
	} else if (!strcmp(w[0], "changed")) {
		mit_config_changed(d->eng, now, "test deploy");
	} else if (!strcmp(w[0], "signal") && n >= 2) {
		int sig = !strcmp(w[1], "HUP") ? SIGHUP : atoi(w[1]);
		int rc = prov_signal(d->prov, PROV_PRODUCTION, sig);
		say("signalled %d", rc);
	} else if (!strcmp(w[0], "release")) {
		int rc = mit_release(d->eng, now, n > 1 ? w[1] : "test",
				     "released by the test");
		say("released %s", rc ? err_str(rc) : "ok");
	} else if (!strcmp(w[0], "promote") && n >= 2) {
		char *dir = mit_snapshot_dir(d->cfg);
		mit_snaps_t *s;
		buf_t err = BUF_INIT;
		mit_snap_info_t info;
		int rc = mit_snaps_open(dir, d->cfg->production.config_dir, 100,
					false, &s, &err);
		free(dir);
		if (!rc) {
			rc = mit_snaps_find(s, w[1], &info, &err);
			mit_report_t rep = {0};
			if (!rc)
				rc = mit_promote(d->eng, now, s, info.id,
						 "test promotion", "", &rep,
						 &err);
			for (size_t i = 0; i < rep.nnotes; i++)
				say("note %s %s",
				    mit_note_kind_name(rep.note[i].kind),
				    rep.note[i].text);
			mit_snaps_close(s);
		}
		say("promoted %s %s", rc ? err_str(rc) : "ok",
		    err.data ? err.data : "");
		buf_free(&err);
	} else if (!strcmp(w[0], "status")) {
		status(d);
	} else if (!strcmp(w[0], "audit")) {
		audit(d);
	} else if (!strcmp(w[0], "quit")) {
		quit(d);
	} else {
		say("error unknown command: %s", line);
	}
}

static void on_input(evutil_socket_t fd, short what, void *arg)
{
	drive_t *d = arg;
	ssize_t r = read(0, d->in + d->inlen, sizeof(d->in) - 1 - d->inlen);
	if (r <= 0) {
		event_del(d->ev_in);
		quit(d);
		return;
	}
	d->inlen += (size_t)r;
	d->in[d->inlen] = '\0';
	char *nl;
	while ((nl = strchr(d->in, '\n'))) {
		*nl = '\0';
		if (d->eng)
			command(d, d->in);
		size_t used = (size_t)(nl - d->in) + 1;
		memmove(d->in, nl + 1, d->inlen - used + 1);
		d->inlen -= used;
	}
	if (d->inlen >= sizeof(d->in) - 1)
		d->inlen = 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	drive_t *d = arg;
	if (!d->eng || d->quitting)
		return;
	int64_t now = clock_wall_ns();
	if (!d->ready) {
		if (prov_replica_up_count(d->prov, PROV_PRODUCTION) <
		    prov_replica_count(d->prov, PROV_PRODUCTION))
			return;
		buf_t err = BUF_INIT;
		if (mit_start(d->eng, now, &err)) {
			say("error %s", err.data);
			buf_free(&err);
			quit(d);
			return;
		}
		buf_free(&err);
		d->ready = true;
		say("ready");
		event_add(d->ev_in, NULL);
	}
	memcpy(d->out.metric, d->view, sizeof(d->view));
	d->out.load_forecast = NAN;
	mit_input_t in = {now, &d->out, NAN};
	mit_report_t rep;
	mit_tick(d->eng, &in, &rep);
	d->ticks++;
	memset(&d->out, 0, sizeof(d->out));
	for (size_t i = 0; i < rep.nnotes; i++)
		say("note %s %s", mit_note_kind_name(rep.note[i].kind),
		    rep.note[i].text);
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
	quit(arg);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mitdrive CONFIG\n");
		return 2;
	}
	log_setup(LOG_INFO, LOG_FMT_LOGFMT);
	signal(SIGPIPE, SIG_IGN);
	drive_t d = {0};
	config_errors_t errs = {0};
	if (config_load_file(argv[1], &d.cfg, &errs)) {
		buf_t b = BUF_INIT;
		config_errors_format(&errs, &b);
		fprintf(stderr, "%s", b.data);
		return 2;
	}
	config_errors_free(&errs);
	d.base = event_base_new();
	buf_t err = BUF_INIT;
	if (fault_arm_from_env())
		return 2;
	d.audit = mit_audit_memory_new(0);
	/* as umbra run: an interrupted restore first, before production */
	if (mit_recover(d.cfg, &d.audit, &err)) {
		fprintf(stderr, "mitdrive: %s\n", err.data);
		return 1;
	}
	mit_audit_entry_t rec[8];
	size_t nrec = mit_audit_memory_all(&d.audit, rec, 8);
	for (size_t i = 0; i < nrec; i++)
		say("recovered %s %llu %s %s", rec[i].subject,
		    (unsigned long long)rec[i].ref, rec[i].state, rec[i].text);
	if (prov_new(d.cfg, d.base, NULL, &d.prov, &err) ||
	    prov_start(d.prov, &err)) {
		fprintf(stderr, "mitdrive: %s\n", err.data);
		return 1;
	}
	d.live.prov = d.prov;
	mit_ops_t ops = cmd_mit_ops(&d.live);
	if (mit_new(d.cfg, &ops, &d.audit, &d.eng, &err)) {
		fprintf(stderr, "mitdrive: %s\n", err.data);
		return 1;
	}
	buf_free(&err);
	d.ev_in = event_new(d.base, 0, EV_READ | EV_PERSIST, on_input, &d);
	d.ev_tick = event_new(d.base, -1, EV_PERSIST, on_tick, &d);
	d.ev_term = evsignal_new(d.base, SIGTERM, on_term, &d);
	event_add(d.ev_term, NULL);
	int64_t iv = d.cfg->analysis.interval;
	struct timeval tv = {(time_t)(iv / NS_PER_S),
			     (suseconds_t)(iv % NS_PER_S / 1000)};
	event_add(d.ev_tick, &tv);
	event_base_dispatch(d.base);
	mit_free(d.eng);
	mit_audit_memory_free(&d.audit);
	prov_free(d.prov);
	event_free(d.ev_in);
	event_free(d.ev_tick);
	event_free(d.ev_term);
	event_base_free(d.base);
	config_free(d.cfg);
	return 0;
}
