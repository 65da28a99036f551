/*
 * test_engine.c: the decide-and-act engine with fake actuators and real
 * files: a rollback that restores the known-good config, reloads and is
 * verified; one that is not verified and holds actions until released;
 * dry run doing nothing but recommending; cooldowns and the hourly cap;
 * a shadow that moved (no rollback); no known-good snapshot yet; a
 * rolling restart; a failing reload command; the scaler; a stress test
 * through the engine. Every step is checked in the audit.
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "config/config.h"
#include "mitigate/mitigate.h"

#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S 1000000000LL
#define T0 (1800000000LL * S)

/* ---------------------------------------------------------- fakes */

typedef struct fake {
	int signals, last_signal;
	int restarts;
	int restart_polls; /* restart_status says ERR_AGAIN this often */
	int set_to[16], nset;
	int wanted, up;
	unsigned amp;
	double cpu_share;
	uint64_t dropped;
} fake_t;

static fake_t fk;

static int f_health(void *a, int *wanted, int *up)
{
	*wanted = fk.wanted;
	*up = fk.up;
	return 0;
}
static int f_signal(void *a, int sig)
{
	fk.signals++;
	fk.last_signal = sig;
	return 1;
}
static int f_restart(void *a)
{
	fk.restarts++;
	return 0;
}
static int f_restart_status(void *a, char *why, size_t n)
{
	return fk.restart_polls-- > 0 ? ERR_AGAIN : 0;
}
static int f_set_replicas(void *a, int n)
{
	fk.set_to[fk.nset++ % 16] = n;
	fk.wanted = fk.up = n;
	return 0;
}
static int f_amp(void *a, unsigned k)
{
	fk.amp = k;
	return 0;
}
static int f_squeeze(void *a, double c, double m)
{
	fk.cpu_share = c;
	return 0;
}
static int f_limits(void *a, double *cpu, uint64_t *mem, int *rep)
{
	*cpu = 1;
	*mem = 0;
	*rep = 1;
	return 0;
}
static uint64_t f_dropped(void *a)
{
	return fk.dropped;
}

static const mit_ops_t ops = {
    .production_health = f_health,
    .signal_production = f_signal,
    .rolling_restart = f_restart,
    .restart_status = f_restart_status,
    .set_replicas = f_set_replicas,
    .set_amplification = f_amp,
    .squeeze_shadow = f_squeeze,
    .shadow_limits = f_limits,
    .mirror_dropped = f_dropped,
};

/* ---------------------------------------------------------- fixture */

static char dir[64], conf[128];
static config_t *cfg;
static mit_audit_t audit;
static mit_t *eng;
static mit_report_t rep;

static void write_conf(const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/app.conf", conf);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static char *read_conf(void)
{
	static char buf[256];
	char p[256];
	snprintf(p, sizeof(p), "%s/app.conf", conf);
	FILE *f = fopen(p, "r");
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

#define GOOD "cpu_ms = 1\n"
#define BAD "cpu_ms = 50\n"

/* Loads a config: the common head plus extra (under mitigation:). */
static void start(const char *production_extra, const char *mitigation)
{
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
	memset(&fk, 0, sizeof(fk));
	fk.wanted = fk.up = 1;
	snprintf(dir, sizeof(dir), "/tmp/umbra-eng-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	mkdir(conf, 0755);
	write_conf(GOOD);
	char text[4096];
	snprintf(text, sizeof(text),
		 "service: t\nproduction:\n  command: [/bin/true, '{port}']\n"
		 "  config_dir: %s\n%s"
		 "store:\n  path: %s/data/umbra.db\n"
		 "mitigation:\n  soak: 10s\n  verify: 5s\n  cooldown: 60s\n"
		 "  alert:\n    repeat: 1m\n%s",
		 conf, production_extra, dir, mitigation);
	config_errors_t errs = {0};
	int rc = config_load_string("t.yaml", text, strlen(text), dir, &cfg,
				    &errs);
	buf_t b = BUF_INIT;
	config_errors_format(&errs, &b);
	cr_assert_eq(rc, 0, "%s\n%s", b.data, text);
	buf_free(&b);
	config_errors_free(&errs);
	audit = mit_audit_memory_new(0);
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_new(cfg, &ops, &audit, &eng, &err), 0, "%s", err.data);
	cr_assert_eq(mit_start(eng, T0, &err), 0, "%s", err.data);
	buf_free(&err);
}

static void stop(void)
{
	mit_free(eng);
	mit_audit_memory_free(&audit);
	config_free(cfg);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static an_out_t out;

/* A tick at T0 + secs: cpu's view at dev (NaN: no data); with kind != 0
 * a cpu finding of that kind moved by mover. */
static void tick(double secs, double dev, an_find_kind_t kind,
		 an_side_t mover)
{
	memset(&out, 0, sizeof(out));
	out.load_forecast = NAN;
	if (!isnan(dev)) {
		an_metric_view_t *v = &out.metric[AN_M_cpu];
		v->valid = true;
		v->deviation = dev;
		v->signed_dev = -dev;
		v->velocity = 0.2;
		v->threshold = 0.1;
	}
	if (kind) {
		an_finding_t *f = &out.finding[out.nfindings++];
		f->t_ns = T0 + (int64_t)(secs * S);
		f->metric = AN_M_cpu;
		f->kind = kind;
		f->deviation = dev;
		f->velocity = 0.2;
		f->threshold = 0.1;
		f->severity = kind == AN_FIND_CRITICAL ? 95 : 60;
		f->mover = mover;
		f->change[0] = 0.5;
		f->ncauses = 1;
		f->cause[0].kind = AN_CAUSE_CHANGE;
		f->cause[0].score = 0.9;
		snprintf(f->cause[0].subject, sizeof(f->cause[0].subject),
			 "config change app.conf");
		snprintf(f->cause[0].evidence, sizeof(f->cause[0].evidence),
			 "production changed 5 s before the onset");
	}
	mit_input_t in = {T0 + (int64_t)(secs * S), &out, NAN};
	mit_tick(eng, &in, &rep);
}

static void resolve_tick(double secs)
{
	memset(&out, 0, sizeof(out));
	out.resolved = 1u << AN_M_cpu;
	out.metric[AN_M_cpu] = (an_metric_view_t){.valid = true,
						  .deviation = 0.01,
						  .threshold = 0.1};
	mit_input_t in = {T0 + (int64_t)(secs * S), &out, NAN};
	mit_tick(eng, &in, &rep);
}

/* The audit, oldest first, as "kind subject state" lines. */
static char *trail(void)
{
	static mit_audit_entry_t e[256];
	static char buf[16384];
	size_t n = mit_audit_memory_all(&audit, e, 256);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, sizeof(buf) - l, "%s %s %s\n",
			 mit_rec_kind_name(e[i].kind), e[i].subject,
			 e[i].state);
	}
	return buf;
}

static bool has_note(const char *needle)
{
	for (size_t i = 0; i < rep.nnotes; i++)
		if (strstr(rep.note[i].text, needle))
			return true;
	return false;
}

/* Takes the bad config live and makes the good one known-good first. */
static void bad_deploy(void)
{
	tick(11, 0.01, 0, 0); /* soak passed: known-good */
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert_str_eq(st.known_good, st.current);
	write_conf(BAD);
	/* as the drift watcher reports it: once per changed file; the
	 * next tick takes one snapshot for all */
	mit_config_changed(eng, T0 + 12 * S, "test deploy");
	mit_config_changed(eng, T0 + 12 * S, "test deploy, again");
}

/* ---------------------------------------------------------- tests */

Test(engine, rollback_restores_reloads_and_verifies)
{
	start("  reload:\n    signal: HUP\n", "");
	bad_deploy();
	tick(13, 0.5, AN_FIND_CRITICAL, AN_PROD);
	cr_assert_str_eq(read_conf(), GOOD, "the known-good file is back");
	cr_assert_eq(fk.signals, 1);
	cr_assert_eq(fk.last_signal, SIGHUP);
	cr_assert_eq(fk.nset, 1, "the default cpu rule also scales");
	cr_assert_eq(fk.set_to[0], 2);
	cr_assert(has_note("alert sent: deviation/cpu critical"));
	cr_assert_eq(rep.nevents, 1, "the analyzer hears of the rollback");
	cr_assert_eq(rep.event[0].kind, AN_EV_CONFIG_CHANGE);
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert(st.verifying);
	cr_assert_str_eq(st.current, st.known_good);
	/* recovery: 3 good ticks */
	tick(14, 0.04, 0, 0);
	tick(15, 0.03, 0, 0);
	cr_assert(!has_note("rollback verified"));
	tick(16, 0.02, 0, 0);
	cr_assert(has_note("rollback verified: recovered after 3 s: cpu "
			   "deviation 0.02 within threshold 0.1; 2/2 replicas "
			   "up"),
		  "%s", rep.note[0].text);
	mit_status(eng, &st);
	cr_assert_not(st.verifying);
	cr_assert_not(st.held);
	resolve_tick(17);
	cr_assert(has_note("alert resolved: deviation/cpu"));
	cr_assert_str_eq(trail(), "finding cpu/critical 95\n"
				  "decision default-cpu \n"
				  "action rollback started\n"
				  "outcome rollback intent\n"
				  "outcome rollback staged\n"
				  "outcome rollback switched\n"
				  "outcome rollback reloaded\n"
				  "outcome rollback applied\n"
				  "action scale started\n"
				  "outcome scale ok\n"
				  "action alert started\n"
				  "outcome alert ok\n"
				  "outcome rollback verified\n");
	/* the action carries the evidence */
	mit_audit_entry_t e[16];
	size_t n = mit_audit_memory_all(&audit, e, 16);
	cr_assert_geq(n, 3);
	cr_assert(strstr(e[2].text, "restore known-good snapshot"), "%s",
		  e[2].text);
	cr_assert(strstr(e[2].text, "because rule default-cpu: cpu.critical"
				    "(true) or (cpu.deviating(true) and "
				    "cpu.velocity(0.2) > 0.05)"),
		  "%s", e[2].text);
	cr_assert(strstr(e[2].text, "cause change 0.90 config change app.conf"),
		  "%s", e[2].text);
	stop();
}

Test(engine, failed_verification_holds_until_released)
{
	start("  reload:\n    signal: HUP\n", "  max_actions_per_hour: 100\n");
	bad_deploy();
	tick(13, 0.5, AN_FIND_CRITICAL, AN_PROD);
	cr_assert_eq(fk.signals, 1);
	for (int s = 14; s <= 18; s++)
		tick(s, 0.5, 0, 0);
	cr_assert(has_note("rollback verify_failed: not recovered within "
			   "mitigation.verify (5 s): cpu deviation 0.5 over "
			   "threshold 0.1"),
		  "%s", rep.nnotes ? rep.note[0].text : "");
	cr_assert(has_note("automatic actions held"));
	cr_assert(has_note("alert sent: UmbraActionsHeld (critical)"));
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert(st.held);
	char hp[256];
	snprintf(hp, sizeof(hp), "%s/data/snapshots/hold", dir);
	cr_assert_eq(access(hp, F_OK), 0, "the hold survives a restart");
	/* a new bad config, a new finding after the cooldown: held */
	write_conf(BAD "x = 1\n");
	mit_config_changed(eng, T0 + 80 * S, "deploy 2");
	tick(81, 0.6, AN_FIND_CRITICAL, AN_PROD);
	cr_assert_eq(fk.signals, 1, "nothing done while held");
	cr_assert(strstr(trail(), "action rollback held\noutcome rollback "
				  "held\n"),
		  "%s", trail());
	cr_assert(has_note("alert sent: deviation/cpu critical") ||
		      has_note("alert ok"),
		  "alerts still go out while held");
	/* a person acts */
	cr_assert_eq(mit_release(eng, T0 + 90 * S, "alice", "fixed by hand"), 0);
	cr_assert_eq(mit_release(eng, T0 + 91 * S, "bob", ""), ERR_BADSTATE);
	cr_assert_neq(access(hp, F_OK), 0);
	mit_status(eng, &st);
	cr_assert_not(st.held);
	stop();
}

Test(engine, hold_is_read_back_at_start)
{
	start("  reload:\n    signal: HUP\n", "");
	mit_free(eng);
	char hp[256];
	snprintf(hp, sizeof(hp), "%s/data/snapshots/hold", dir);
	FILE *f = fopen(hp, "w");
	fputs("an earlier run\n", f);
	fclose(f);
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_new(cfg, &ops, &audit, &eng, &err), 0);
	cr_assert_eq(mit_start(eng, T0, &err), 0);
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert(st.held);
	cr_assert_str_eq(st.hold_reason, "an earlier run");
	buf_free(&err);
	stop();
}

Test(engine, dry_run_acts_on_nothing)
{
	start("  reload:\n    signal: HUP\n", "  dry_run: true\n");
	bad_deploy();
	tick(13, 0.5, AN_FIND_CRITICAL, AN_PROD);
	cr_assert_str_eq(read_conf(), BAD, "files untouched");
	cr_assert_eq(fk.signals, 0);
	cr_assert_eq(fk.nset, 0);
	cr_assert(has_note("recommendation: rollback: restore known-good "
			   "snapshot"));
	cr_assert(has_note("recommendation: scale: production replicas 1 -> "
			   "2"));
	cr_assert(has_note("recommendation: alert: critical alert "
			   "deviation/cpu"));
	cr_assert_str_eq(trail(), "finding cpu/critical 95\n"
				  "decision default-cpu dry_run\n"
				  "action rollback recommended\n"
				  "outcome rollback dry_run\n"
				  "action scale recommended\n"
				  "outcome scale dry_run\n"
				  "action alert recommended\n"
				  "outcome alert dry_run\n");
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert(st.dry_run);
	cr_assert_eq(st.alerts_firing, 0);
	cr_assert_not(st.verifying);
	stop();
}

Test(engine, cooldown_and_hourly_cap)
{
	start("",
	      "  max_actions_per_hour: 2\n  policy:\n"
	      "    - name: hot\n      when: cpu.deviation > 0.2\n"
	      "      then: [scale]\n      cooldown: 0s\n");
	/* the rule's cooldown is 0: it fires once per episode, so each
	 * episode is a quiet tick followed by a hot one */
	tick(1, 0.5, 0, 0);
	cr_assert_eq(fk.nset, 1);
	tick(1.5, 0.5, 0, 0);
	cr_assert_not(has_note("rule hot"), "the same episode");
	tick(1.7, 0.0, 0, 0);
	tick(2, 0.5, 0, 0); /* mitigation.cooldown 60 s */
	cr_assert_eq(fk.nset, 1);
	cr_assert(has_note("scale skipped: scale cooldown: the last one was "
			   "1 s ago (mitigation.cooldown 60 s)"),
		  "%s", rep.nnotes ? rep.note[rep.nnotes - 1].text : "");
	tick(60, 0.0, 0, 0);
	tick(61, 0.5, 0, 0);
	cr_assert_eq(fk.nset, 2);
	tick(121, 0.0, 0, 0);
	tick(122, 0.5, 0, 0); /* two in the last hour already */
	cr_assert_eq(fk.nset, 2);
	cr_assert(has_note("scale skipped: hourly cap: 2 automatic actions in "
			   "the last hour (mitigation.max_actions_per_hour "
			   "2)"));
	tick(3601, 0.0, 0, 0);
	tick(3602, 0.5, 0, 0); /* the first left the hour */
	cr_assert_eq(fk.nset, 3);
	cr_assert(!has_note("rollback"), "the rule has only scale");
	stop();
}

Test(engine, rule_cooldown_limits_decisions)
{
	start("",
	      "  policy:\n    - name: warn\n      when: cpu.deviation > 0.2\n"
	      "      then: [alert]\n      cooldown: 30s\n");
	tick(1, 0.5, 0, 0);
	cr_assert(has_note("rule warn"));
	cr_assert(has_note("alert sent: deviation/cpu warning"));
	tick(2, 0.5, 0, 0);
	cr_assert_not(has_note("rule warn"), "in its cooldown");
	tick(31, 0.5, 0, 0);
	cr_assert(has_note("rule warn"));
	cr_assert_not(has_note("alert sent"), "already firing: deduplicated");
	stop();
}

Test(engine, a_rule_repeats_on_new_findings_only)
{
	start("",
	      "  policy:\n    - name: warn\n      when: cpu.deviating and "
	      "cpu.deviation > 0.3\n      then: [alert]\n      cooldown: 30s\n");
	tick(1, 0.5, AN_FIND_DEVIATION, AN_PROD);
	cr_assert(has_note("rule warn"));
	tick(40, 0.05, 0, 0); /* the condition breaks, the finding stays open */
	cr_assert_not(has_note("rule warn"));
	/* ... and holds again, outside the threshold: a new edge, but on the
	 * same finding (being handled): no repeat */
	for (int t = 41; t < 45; t++) {
		tick(t, 0.5, 0, 0);
		cr_assert_not(has_note("rule warn"), "the same finding");
	}
	tick(70, 0.5, 0, 0);
	cr_assert_not(has_note("rule warn"), "the same finding, later");
	/* an escalation is a new finding: the rule acts on it */
	tick(75, 0.9, AN_FIND_CRITICAL, AN_PROD);
	cr_assert(has_note("rule warn"), "escalated: the repeat fires");
	stop();
}

Test(engine, a_rule_on_values_repeats_while_outside)
{
	start("",
	      "  policy:\n    - name: warn\n      when: cpu.deviation > 0.01\n"
	      "      then: [alert]\n      cooldown: 30s\n");
	tick(1, 0.5, 0, 0);
	cr_assert(has_note("rule warn"));
	tick(2, 0.3, 0, 0);
	tick(31, 0.05, 0, 0); /* holds, but inside the threshold (0.1) */
	tick(32, 0.3, 0, 0);
	tick(33, 0.3, 0, 0);
	cr_assert_not(has_note("rule warn"), "two ticks outside may be noise");
	tick(34, 0.3, 0, 0);
	cr_assert(has_note("rule warn"), "outside three ticks: it repeats");
	stop();
}

Test(engine, notes_between_ticks_reach_the_next_report)
{
	start("", "");
	bad_deploy(); /* mit_config_changed outside a tick */
	tick(13, 0.01, 0, 0); /* queued to the worker at its end */
	cr_assert_not(has_note("taken (test deploy)"));
	mit_settle(eng);      /* (the test does not wait for the worker) */
	tick(14, 0.01, 0, 0);
	cr_assert(has_note("taken (test deploy)"),
		  "the change reported between ticks is in a later report");
	size_t taken = 0;
	for (size_t i = 0; i < rep.nnotes; i++)
		taken += strstr(rep.note[i].text, " taken ") != NULL;
	cr_assert_eq(taken, 1, "two reports, one snapshot");
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert_str_neq(st.known_good, st.current);
	tick(15, 0.01, 0, 0);
	cr_assert_not(has_note("taken (test deploy)"), "once");
	stop();
}

Test(engine, shadow_mover_is_not_rolled_back)
{
	start("  reload:\n    signal: HUP\n", "");
	bad_deploy();
	tick(13, 0.5, AN_FIND_CRITICAL, AN_SHADOW);
	cr_assert_eq(fk.signals, 0);
	cr_assert_str_eq(read_conf(), BAD);
	cr_assert(has_note("rollback skipped: the shadow moved, not production: "
			   "rolling production back would not help"));
	cr_assert(has_note("scale skipped: the shadow moved, not production: "
			   "more replicas would not help"));
	cr_assert_eq(fk.nset, 0);
	cr_assert(has_note("alert sent: deviation/cpu critical"));
	stop();
}

Test(engine, no_known_good_yet)
{
	start("  reload:\n    signal: HUP\n", "");
	write_conf(BAD);
	mit_config_changed(eng, T0 + 2 * S, "deploy");
	tick(3, 0.5, AN_FIND_CRITICAL, AN_PROD);
	cr_assert_eq(fk.signals, 0);
	cr_assert(has_note("rollback skipped: no known-good snapshot yet (one "
			   "becomes known-good after mitigation.soak, 10 s, "
			   "without a critical finding)"));
	/* a critical finding keeps the soak from completing */
	for (int s = 4; s < 30; s++)
		tick(s, 0.5, 0, 0);
	tick(30, 0.5, AN_FIND_CRITICAL, AN_PROD);
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert_str_eq(st.known_good, "");
	stop();
}

Test(engine, rolling_restart_when_no_reload)
{
	start("", "");
	fk.restart_polls = 2;
	bad_deploy();
	tick(13, 0.5, AN_FIND_CRITICAL, AN_PROD);
	cr_assert_eq(fk.restarts, 1);
	cr_assert_eq(fk.signals, 0);
	tick(14, 0.01, 0, 0); /* still rolling */
	tick(15, 0.01, 0, 0);
	tick(16, 0.01, 0, 0); /* done now: good ticks count from here */
	tick(17, 0.01, 0, 0);
	cr_assert_not(has_note("rollback verified"));
	tick(18, 0.01, 0, 0);
	cr_assert(has_note("rollback verified"));
	stop();
}

Test(engine, reload_command_failure_holds)
{
	start("  reload:\n    command: [/bin/sh, -c, 'echo cannot reload "
	      "{service}; exit 3']\n",
	      "");
	bad_deploy();
	tick(13, 0.5, AN_FIND_CRITICAL, AN_PROD);
	mit_status_t st;
	/* the reload command runs beside the engine: poll, 10 s at most */
	for (int64_t until = clock_mono_ns() + 10 * NS_PER_S;
	     clock_mono_ns() < until;) {
		usleep(10000);
		tick(13.5, 0.5, 0, 0);
		mit_status(eng, &st);
		if (st.held)
			break;
	}
	cr_assert(st.held);
	cr_assert(strstr(st.hold_reason, "the reload command failed (status "
					 "3): cannot reload t"),
		  "%s", st.hold_reason);
	stop();
}

Test(engine, scaler_reactive_with_configured_capacity)
{
	start("", "  scale:\n    capacity: 10\n    max: 6\n");
	memset(&out, 0, sizeof(out));
	mit_input_t in = {T0 + S, &out, 50};
	mit_tick(eng, &in, &rep);
	cr_assert_eq(fk.nset, 1);
	cr_assert_eq(fk.set_to[0], 6, "ceil(50 / 7) = 8, capped at 6");
	cr_assert(has_note("scaler: reactive (no trusted forecast yet)"));
	cr_assert(has_note("production replicas 1 -> 6"));
	stop();
}

Test(engine, stress_through_the_engine)
{
	start("",
	      "  stress:\n    levers: [amplify]\n    max_amplification: 4\n"
	      "    step: 1s\n    p99_target: 100ms\n");
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_stress_start(eng, T0, "test", &err), 0, "%s",
		     err.data);
	cr_assert_eq(fk.amp, 1);
	cr_assert_eq(mit_stress_start(eng, T0, "again", &err), ERR_BADSTATE);
	/* a shadow that holds x2 and is slow at x4 */
	int64_t now = T0;
	for (int i = 0; i < 100; i++) {
		now += S / 10;
		reqrec_t r[40];
		int n = (int)(5 * fk.amp);
		for (int k = 0; k < n; k++)
			r[k] = (reqrec_t){.start_ns = now, .side = REQREC_SHADOW,
					  .latency_us = fk.amp >= 4 ? 400000
								    : 2000,
					  .status = 200};
		mit_observe(eng, r, (size_t)n);
		memset(&out, 0, sizeof(out));
		mit_input_t in = {now, &out, 20};
		mit_tick(eng, &in, &rep);
		if (has_note("stress ok"))
			break;
	}
	cr_assert(has_note("stress ok: amplify: knee at x4"), "%s",
		  rep.nnotes ? rep.note[0].text : "");
	cr_assert_eq(fk.amp, 1, "restored");
	const mit_stress_t *st = mit_stress_last(eng);
	cr_assert_not_null(st);
	mit_status_t s;
	mit_status(eng, &s);
	cr_assert_gt(s.capacity, 0, "the scaler learned a capacity");
	buf_free(&err);
	stop();
}

Test(engine, evidence_sentence)
{
	an_finding_t f = {.metric = AN_M_memory,
			  .kind = AN_FIND_PREDICTED,
			  .deviation = 0.12,
			  .threshold = 0.15,
			  .velocity = 0.001,
			  .severity = 40,
			  .predicted = true,
			  .lead_s = 230,
			  .confidence = 0.9,
			  .mover = AN_SHADOW,
			  .change = {0.01, 0.13}};
	char out_[512];
	mit_finding_evidence(&f, out_, sizeof(out_));
	cr_assert_str_eq(out_, "memory predicted: deviation 0.12 (threshold "
			       "0.15), velocity 0.001/s, severity 40, predicted "
			       "to cross in 230 s (confidence 0.90); shadow "
			       "moved (production +1%, shadow +13%)");
	char small[16];
	mit_finding_evidence(&f, small, sizeof(small));
	cr_assert_str_eq(small, "memory predi...");
}

Test(engine, shadow_findings_during_a_stress_test_are_the_test)
{
	start("  reload:\n    signal: HUP\n",
	      "  stress:\n    levers: [amplify]\n    step: 10s\n");
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_stress_start(eng, T0 + S, "test", &err), 0, "%s",
		     err.data);
	tick(2, 0.9, AN_FIND_CRITICAL, AN_SHADOW);
	cr_assert_not(has_note("rule default-cpu"),
		      "the shadow under stress is not a finding to act on");
	tick(3, 0.9, AN_FIND_CRITICAL, AN_PROD);
	cr_assert(has_note("rule default-cpu"), "production still is");
	buf_free(&err);
	stop();
}

static int snaps_taken, snaps_good;
static char snap_manifest[512];

static int count_snapshot(void *ctx, const mit_rec_snapshot_t *r)
{
	if (r->good_ns)
		snaps_good++;
	else
		snaps_taken++;
	snprintf(snap_manifest, sizeof(snap_manifest), "%s", r->manifest);
	return 0;
}

Test(engine, snapshots_reach_the_audit)
{
	start("  reload:\n    signal: HUP\n", "");
	mit_free(eng);
	audit.snapshot = count_snapshot;
	snaps_taken = snaps_good = 0;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_new(cfg, &ops, &audit, &eng, &err), 0);
	cr_assert_eq(mit_start(eng, T0, &err), 0);
	cr_assert_eq(snaps_taken, 0, "the start snapshot existed already");
	bad_deploy();
	tick(12.5, 0.01, 0, 0);
	mit_settle(eng);
	cr_assert_eq(snaps_good, 1);
	cr_assert_eq(snaps_taken, 1, "the bad config");
	cr_assert_eq(access(snap_manifest, R_OK), 0, "%s", snap_manifest);
	buf_free(&err);
	stop();
}

Test(engine, an_unreported_change_is_seen_before_deciding)
{
	start("  reload:\n    signal: HUP\n", "");
	tick(11, 0.01, 0, 0); /* known-good */
	write_conf(BAD);      /* nobody called mit_config_changed */
	tick(12, 0.5, AN_FIND_CRITICAL, AN_PROD);
	cr_assert_str_eq(read_conf(), GOOD);
	cr_assert_eq(fk.signals, 1);
	stop();
}
