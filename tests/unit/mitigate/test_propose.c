/*
 * test_propose.c: the proposal state machine with a real engine (fake
 * production actuators, as test_engine.c), a fake shadow (its config
 * directory and restarts recorded) and real files: a candidate that
 * soaks clean is promoted (production's file becomes the candidate's,
 * reloaded and verified); a critical finding or an unhealthy shadow
 * rejects it (production untouched, the shadow back on its usual
 * config); one at a time; dry run promotes nothing; a promotion that
 * fails verification rolls production back to the known-good snapshot.
 */
#include "base/err.h"
#include "base/log.h"
#include "config/config.h"
#include "mitigate/mitigate.h"
#include "mitigate/propose.h"

#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define S 1000000000LL
#define T0 (1800000000LL * S)

/* ---------------------------------------------------------- fakes */

static struct {
	int signals, last_signal;
	int wanted, up;
} fk;

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

static const mit_ops_t ops = {
    .production_health = f_health,
    .signal_production = f_signal,
};

/* The shadow: what it was given, how often it restarted. */
static struct {
	char installed[512]; /* "" = its usual config */
	char conf[256];	     /* app.conf it would read */
	int installs, restarts, restart_polls, wanted, up;
	int restart_rc;
} sh;

static int s_install(void *a, const char *dir, buf_t *err)
{
	sh.installs++;
	snprintf(sh.installed, sizeof(sh.installed), "%s", dir ? dir : "");
	sh.conf[0] = '\0';
	if (dir) {
		char p[600];
		snprintf(p, sizeof(p), "%s/app.conf", dir);
		FILE *f = fopen(p, "r");
		if (f) {
			size_t n = fread(sh.conf, 1, sizeof(sh.conf) - 1, f);
			sh.conf[n] = '\0';
			fclose(f);
		}
	}
	return 0;
}
static int s_restart(void *a)
{
	if (sh.restart_rc)
		return sh.restart_rc;
	sh.restarts++;
	sh.restart_polls = 2;
	return 0;
}
static int s_restart_status(void *a, char *why, size_t n)
{
	return sh.restart_polls-- > 0 ? ERR_AGAIN : 0;
}
static int s_health(void *a, int *wanted, int *up)
{
	*wanted = sh.wanted;
	*up = sh.up;
	return 0;
}

static const mit_prop_ops_t sops = {
    .shadow_install = s_install,
    .shadow_restart = s_restart,
    .shadow_restart_status = s_restart_status,
    .shadow_health = s_health,
};

/* ---------------------------------------------------------- fixture */

static char dir[64], conf[128], cand[128];
static config_t *cfg;
static mit_audit_t audit;
static mit_t *eng;
static mit_prop_t *prop;
static mit_report_t rep;
static an_out_t out;

#define GOOD "latency_ms = 20\n"
#define CAND "latency_ms = 25\n"

static void write_file(const char *d, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/app.conf", d);
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

static void start(const char *extra, const char *mitigation)
{
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
	memset(&fk, 0, sizeof(fk));
	memset(&sh, 0, sizeof(sh));
	fk.wanted = fk.up = 1;
	sh.wanted = sh.up = 1;
	snprintf(dir, sizeof(dir), "/tmp/umbra-prop-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	snprintf(cand, sizeof(cand), "%s/cand", dir);
	mkdir(conf, 0755);
	mkdir(cand, 0755);
	write_file(conf, GOOD);
	write_file(cand, CAND);
	char text[4096];
	snprintf(text, sizeof(text),
		 "service: t\nproduction:\n  command: [/bin/true, '{port}']\n"
		 "  config_dir: %s\n  reload:\n    signal: HUP\n%s"
		 "store:\n  path: %s/data/umbra.db\n"
		 "analysis:\n  interval: 1s\n"
		 "mitigation:\n  soak: 10s\n  verify: 5s\n  cooldown: 60s\n"
		 "  scale: {enabled: false}\n  propose: {roots: [%s]}\n%s",
		 conf, extra, dir, cand, mitigation);
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
	prop = mit_prop_new(cfg, eng, &sops);
}

static void stop(void)
{
	mit_prop_free(prop, T0);
	mit_free(eng);
	mit_audit_memory_free(&audit);
	config_free(cfg);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A tick at T0 + secs: every latency_p99 view at dev; with kind a
 * latency_p99 finding of that kind moved by mover. Engine, then the
 * proposal, as the daemon does. */
static void tick(double secs, double dev, an_find_kind_t kind,
		 an_side_t mover)
{
	memset(&out, 0, sizeof(out));
	out.load_forecast = NAN;
	an_metric_view_t *v = &out.metric[AN_M_latency_p99];
	v->valid = !isnan(dev);
	v->deviation = dev;
	v->threshold = 0.25;
	v->open = kind;
	if (kind) {
		an_finding_t *f = &out.finding[out.nfindings++];
		f->t_ns = T0 + (int64_t)(secs * S);
		f->metric = AN_M_latency_p99;
		f->kind = kind;
		f->deviation = dev;
		f->threshold = 0.25;
		f->severity = kind == AN_FIND_CRITICAL ? 95 : 60;
		f->mover = mover;
	}
	int64_t now = T0 + (int64_t)(secs * S);
	mit_input_t in = {now, &out, NAN};
	mit_tick(eng, &in, &rep);
	mit_prop_tick(prop, now, &out, &rep);
}

static int propose(double secs, int64_t soak, buf_t *err)
{
	mit_prop_request_t rq = {cand, soak, false, "test"};
	return mit_prop_start(prop, T0 + (int64_t)(secs * S), &rq, err);
}

/* The audit's propose/promote/rollback records, as "subject state". */
static char *trail(void)
{
	static mit_audit_entry_t e[256];
	static char buf[16384];
	size_t n = mit_audit_memory_all(&audit, e, 256);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (e[i].kind == MIT_REC_FINDING ||
		    !strcmp(e[i].subject, "alert"))
			continue;
		size_t l = strlen(buf);
		snprintf(buf + l, sizeof(buf) - l, "%s %s %s\n",
			 mit_rec_kind_name(e[i].kind), e[i].subject,
			 e[i].state);
	}
	return buf;
}

static const mit_prop_info_t *info(void)
{
	return mit_prop_info(prop);
}

/* Soaks clean from secs for n ticks of one second. */
static double clean(double secs, int n)
{
	for (int i = 0; i < n; i++)
		tick(secs + i, 0.02, 0, 0);
	return secs + n;
}

/* The original config known-good first (soak 10 s). */
static void known_good(void)
{
	tick(11, 0.01, 0, 0);
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert_str_eq(st.known_good, st.current);
}

/* ---------------------------------------------------------- tests */

Test(propose, clean_soak_is_promoted_and_verified)
{
	start("", "");
	known_good();
	buf_t err = BUF_INIT;
	cr_assert_eq(propose(12, 4 * S, &err), 0, "%s", err.data);
	buf_free(&err);
	cr_assert_eq(info()->state, MIT_PROP_APPLYING);
	cr_assert_eq(sh.installs, 1);
	cr_assert_str_eq(sh.conf, CAND, "the shadow reads the candidate");
	cr_assert_eq(sh.restarts, 1);
	cr_assert_str_eq(read_conf(), GOOD, "production untouched");
	tick(13, 0.02, 0, 0); /* restart still rolling */
	cr_assert_eq(info()->state, MIT_PROP_APPLYING);
	tick(14, 0.02, 0, 0);
	cr_assert_eq(info()->state, MIT_PROP_SOAKING);
	clean(15, 3);
	cr_assert_eq(info()->state, MIT_PROP_SOAKING);
	cr_assert_str_eq(read_conf(), GOOD);
	tick(18, 0.03, 0, 0); /* 4 s of soak */
	cr_assert_eq(info()->state, MIT_PROP_PROMOTING, "%s",
		     info()->summary);
	cr_assert_str_eq(read_conf(), CAND, "production has the candidate");
	cr_assert_eq(fk.signals, 1);
	cr_assert_eq(fk.last_signal, SIGHUP);
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert(st.verifying);
	cr_assert_str_neq(st.current, st.known_good,
			  "production's new config is snapshotted, not yet "
			  "known-good");
	clean(19, 3);
	cr_assert_eq(info()->state, MIT_PROP_DONE);
	cr_assert_eq(info()->verdict, MIT_PROP_PROMOTED, "%s",
		     info()->summary);
	cr_assert(strstr(info()->summary, "soaked 4 s, 4 ticks compared, no "
					  "critical finding; closest: "
					  "latency_p99 deviation at most 0.03 "
					  "(threshold 0.25)"),
		  "%s", info()->summary);
	cr_assert(strstr(info()->summary, "verified after"), "%s",
		  info()->summary);
	cr_assert_eq(sh.installs, 1, "the shadow already runs production's "
				     "new config");
	cr_assert_str_eq(trail(), "decision proposal \n"
				  "action propose started\n"
				  "outcome propose applied\n"
				  "decision proposal \n"
				  "action promote started\n"
				  "outcome promote intent\n"
				  "outcome promote staged\n"
				  "outcome promote switched\n"
				  "outcome promote reloaded\n"
				  "outcome promote applied\n"
				  "outcome propose promoting\n"
				  "outcome promote verified\n"
				  "outcome propose promoted\n");
	stop();
}

Test(propose, critical_finding_rejects_with_evidence)
{
	start("", "");
	known_good();
	buf_t err = BUF_INIT;
	cr_assert_eq(propose(12, 10 * S, &err), 0, "%s", err.data);
	buf_free(&err);
	tick(13, 0.02, 0, 0);
	tick(14, 0.02, 0, 0);
	cr_assert_eq(info()->state, MIT_PROP_SOAKING);
	tick(14.3, 0.02, 0, 0); /* the candidate's own data comes in */
	tick(14.6, 0.02, 0, 0);
	tick(15, 9.0, AN_FIND_CRITICAL, AN_SHADOW);
	cr_assert_eq(info()->verdict, MIT_PROP_REJECTED);
	cr_assert_eq(info()->state, MIT_PROP_RESTORING);
	cr_assert(strstr(info()->summary,
			 "critical finding during the soak (finding "),
		  "%s", info()->summary);
	cr_assert(strstr(info()->summary, "latency_p99 critical: deviation 9 "
					  "(threshold 0.25)"),
		  "%s", info()->summary);
	const mit_prop_evidence_t *e = &info()->evidence[1];
	cr_assert_eq(e->kind, MIT_PROP_EV_FINDING);
	cr_assert_eq(e->metric, AN_M_latency_p99);
	cr_assert_gt(e->finding_id, 0, "the engine's finding id");
	cr_assert_float_eq(e->value, 9.0, 1e-9);
	cr_assert_str_eq(e->side, "shadow");
	cr_assert_str_eq(read_conf(), GOOD, "production untouched");
	cr_assert_eq(fk.signals, 0);
	cr_assert_eq(sh.installs, 2);
	cr_assert_str_eq(sh.installed, "", "the shadow's usual config back");
	/* the engine did not act on the shadow's finding: it is evidence */
	cr_assert_not(strstr(trail(), "rollback"), "%s", trail());
	tick(16, 0.02, 0, 0); /* the restart rolls */
	tick(17, 0.02, 0, 0);
	tick(18, 0.02, 0, 0);
	cr_assert_eq(info()->state, MIT_PROP_DONE);
	cr_assert_eq(sh.restarts, 2);
	cr_assert(strstr(trail(), "outcome propose rejected\n"
				  "outcome propose restored\n"),
		  "%s", trail());
	stop();
}

Test(propose, unhealthy_shadow_rejects)
{
	start("", "");
	buf_t err = BUF_INIT;
	cr_assert_eq(propose(1, 10 * S, &err), 0, "%s", err.data);
	buf_free(&err);
	tick(2, 0.02, 0, 0);
	tick(3, 0.02, 0, 0);
	cr_assert_eq(info()->state, MIT_PROP_SOAKING);
	sh.up = 0;
	tick(4, NAN, 0, 0);
	tick(5, NAN, 0, 0);
	cr_assert_eq(info()->state, MIT_PROP_SOAKING);
	tick(6, NAN, 0, 0);
	cr_assert_eq(info()->verdict, MIT_PROP_REJECTED);
	cr_assert(strstr(info()->summary, "the shadow is unhealthy with the "
					  "candidate: 0/1 replicas up for 3 "
					  "ticks"),
		  "%s", info()->summary);
	cr_assert_str_eq(read_conf(), GOOD);
	stop();
}

Test(propose, one_at_a_time_and_checked)
{
	start("", "");
	buf_t err = BUF_INIT;
	cr_assert_eq(propose(1, 10 * S, &err), 0, "%s", err.data);
	buf_free(&err);
	cr_assert(mit_prop_busy(prop));
	cr_assert_eq(propose(2, 10 * S, &err), ERR_BADSTATE);
	cr_assert(strstr(err.data, "one at a time"), "%s", err.data);
	buf_free(&err);
	stop();

	start("", "");
	mit_prop_request_t rel = {"cand", 0, false, "t"};
	cr_assert_eq(mit_prop_start(prop, T0, &rel, &err), ERR_INVAL);
	buf_free(&err);
	cr_assert_eq(propose(1, S, &err), ERR_RANGE, "a 1 s soak is 1 tick");
	buf_free(&err);
	cr_assert_eq(propose(1, 90000 * S, &err), ERR_RANGE);
	buf_free(&err);
	write_file(cand, "");
	char p[256];
	snprintf(p, sizeof(p), "%s/app.conf", cand);
	unlink(p);
	cr_assert_eq(propose(1, 10 * S, &err), ERR_INVAL);
	cr_assert(strstr(err.data, "holds no files"), "%s", err.data);
	buf_free(&err);
	cr_assert_not(mit_prop_busy(prop));
	cr_assert_eq(info()->state, MIT_PROP_NONE);
	stop();

	/* the shadow runs its own config: a candidate cannot be tried */
	char own[64] = "/tmp/umbra-prop-own-XXXXXX", sc[128];
	cr_assert_not_null(mkdtemp(own));
	snprintf(sc, sizeof(sc), "shadow:\n  config_dir: %s\n", own);
	start(sc, "");
	cr_assert_eq(propose(1, 10 * S, &err), ERR_UNSUPPORTED);
	cr_assert(strstr(err.data, "shadow.config_dir"), "%s", err.data);
	buf_free(&err);
	stop();
	rmdir(own);
}

/* Issue 19: a candidate outside mitigation.propose.roots, reached
 * through a symlink that leads out, or holding a symlink, a FIFO or a
 * device is refused with the path, and nothing starts. */
static void refused(const char *d, const char *want)
{
	buf_t err = BUF_INIT;
	mit_prop_request_t rq = {d, 10 * S, false, "test"};
	cr_assert_eq(mit_prop_start(prop, T0, &rq, &err), ERR_INVAL, "%s",
		     d);
	cr_assert(strstr(err.data, want), "want \"%s\" in: %s", want,
		  err.data);
	buf_free(&err);
	cr_assert_not(mit_prop_busy(prop));
	cr_assert_eq(info()->state, MIT_PROP_NONE);
}

Test(propose, candidates_outside_the_roots_or_not_plain_are_refused)
{
	start("", "");
	char other[200], p[256];
	snprintf(other, sizeof(other), "%s/other", dir);
	mkdir(other, 0755);
	write_file(other, CAND);
	refused(other, "outside mitigation.propose.roots");
	snprintf(p, sizeof(p), "%s/alias", cand);
	cr_assert_eq(symlink(other, p), 0);
	refused(p, "outside mitigation.propose.roots");
	unlink(p);
	snprintf(p, sizeof(p), "%s/leak", cand);
	cr_assert_eq(symlink("/etc/passwd", p), 0);
	refused(cand, p);
	refused(cand, "is a symlink");
	unlink(p);
	snprintf(p, sizeof(p), "%s/pipe", cand);
	cr_assert_eq(mkfifo(p, 0644), 0);
	refused(cand, p);
	refused(cand, "is a FIFO");
	unlink(p);
	if (geteuid() == 0) {
		snprintf(p, sizeof(p), "%s/null", cand);
		cr_assert_eq(mknod(p, S_IFCHR | 0644, makedev(1, 3)), 0);
		refused(cand, "is a device");
		unlink(p);
	}
	buf_t err = BUF_INIT;
	cr_assert_eq(propose(1, 10 * S, &err), 0, "plain again: %s",
		     err.data);
	buf_free(&err);
	stop();
}

Test(propose, dry_run_promotes_nothing)
{
	start("", "  dry_run: true\n");
	buf_t err = BUF_INIT;
	cr_assert_eq(propose(1, 3 * S, &err), 0, "%s", err.data);
	buf_free(&err);
	cr_assert(info()->dry_run);
	tick(2, 0.02, 0, 0);
	tick(3, 0.02, 0, 0);
	cr_assert_eq(info()->state, MIT_PROP_SOAKING);
	clean(4, 3);
	cr_assert_eq(info()->verdict, MIT_PROP_WOULD_PROMOTE, "%s",
		     info()->summary);
	cr_assert(strstr(info()->summary, "mitigation.dry_run: would promote "
					  "snapshot"),
		  "%s", info()->summary);
	cr_assert_str_eq(read_conf(), GOOD);
	cr_assert_eq(fk.signals, 0);
	cr_assert_str_eq(sh.installed, "", "the shadow back on its config");
	cr_assert(strstr(trail(), "outcome propose dry_run\n"), "%s", trail());
	cr_assert_not(strstr(trail(), "promote started"), "%s", trail());
	stop();
}

Test(propose, failed_verification_rolls_back_to_known_good)
{
	start("", "");
	known_good();
	buf_t err = BUF_INIT;
	cr_assert_eq(propose(12, 3 * S, &err), 0, "%s", err.data);
	buf_free(&err);
	tick(13, 0.02, 0, 0);
	tick(14, 0.02, 0, 0);
	double t = clean(15, 3);
	cr_assert_eq(info()->state, MIT_PROP_PROMOTING, "%s",
		     info()->summary);
	cr_assert_str_eq(read_conf(), CAND);
	/* production at full load does worse: a critical finding stays
	 * open until mitigation.verify (5 s) runs out */
	tick(t, 2.0, AN_FIND_CRITICAL, AN_PROD);
	for (int i = 1; i <= 5; i++)
		tick(t + i, 2.0, 0, 0);
	cr_assert_eq(info()->verdict, MIT_PROP_ROLLED_BACK, "%s",
		     info()->summary);
	cr_assert(strstr(info()->summary,
			 "promoted, then failed verification: not recovered "
			 "within mitigation.verify (5 s): a critical "
			 "latency_p99 finding is open"),
		  "%s", info()->summary);
	cr_assert(strstr(info()->summary, "rolling back to the latest "
					  "known-good snapshot"),
		  "%s", info()->summary);
	cr_assert_str_eq(read_conf(), GOOD, "the known-good file is back");
	cr_assert_eq(fk.signals, 2, "promotion, then rollback: reloaded");
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert(st.verifying, "the rollback is being verified");
	cr_assert_not(st.held);
	cr_assert(strstr(trail(), "outcome promote verify_failed\n"
				  "decision verify \n"
				  "action rollback started\n"
				  "outcome rollback intent\n"
				  "outcome rollback staged\n"
				  "outcome rollback switched\n"
				  "outcome rollback reloaded\n"
				  "outcome rollback applied\n"),
		  "%s", trail());
	cr_assert_eq(info()->state, MIT_PROP_RESTORING, "%s",
		     mit_prop_state_name(info()->state));
	stop();
}

Test(propose, held_actions_refuse_a_proposal)
{
	start("", "");
	known_good();
	/* a failed rollback holds actions */
	mit_prop_request_t rq = {cand, 3 * S, false, "t"};
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_prop_start(prop, T0 + 12 * S, &rq, &err), 0);
	tick(13, 0.02, 0, 0);
	tick(14, 0.02, 0, 0);
	double t = clean(15, 3);
	tick(t, 2.0, AN_FIND_CRITICAL, AN_PROD);
	for (int i = 1; i <= 11; i++)
		tick(t + i, 2.0, 0, 0); /* the rollback fails too */
	mit_status_t st;
	mit_status(eng, &st);
	cr_assert(st.held, "%s", trail());
	cr_assert_not(mit_prop_busy(prop));
	cr_assert_eq(mit_prop_start(prop, T0 + 40 * S, &rq, &err),
		     ERR_BADSTATE);
	cr_assert(strstr(err.data, "held"), "%s", err.data);
	buf_free(&err);
	stop();
}

Test(propose, far_over_threshold_rejects_without_a_finding)
{
	start("", "");
	known_good();
	buf_t err = BUF_INIT;
	cr_assert_eq(propose(12, 10 * S, &err), 0, "%s", err.data);
	buf_free(&err);
	tick(13, 0.02, 0, 0);
	tick(14, 0.02, 0, 0);
	cr_assert_eq(info()->state, MIT_PROP_SOAKING);
	/* the restart's ticks do not count, however far over */
	tick(14.3, 9.0, 0, 0);
	tick(14.6, 9.0, 0, 0);
	tick(14.8, 2.5, 0, 0);
	cr_assert_eq(info()->state, MIT_PROP_SOAKING);
	tick(15, 2.5, 0, 0); /* 10 times 0.25: one tick is not enough */
	cr_assert_eq(info()->state, MIT_PROP_SOAKING);
	tick(16, 2.5, 0, 0);
	cr_assert_eq(info()->verdict, MIT_PROP_REJECTED, "%s",
		     info()->summary);
	cr_assert(strstr(info()->summary,
			 "latency_p99 deviation 2.5 is 10.0 times its "
			 "threshold 0.25 for 2 ticks (4 times rejects"),
		  "%s", info()->summary);
	stop();
}

Test(propose, older_finding_is_shown_not_counted)
{
	start("", "");
	known_good();
	/* a critical finding on production, open before the proposal */
	tick(11.5, 0.5, AN_FIND_CRITICAL, AN_PROD);
	buf_t err = BUF_INIT;
	cr_assert_eq(propose(12, 4 * S, &err), 0, "%s", err.data);
	buf_free(&err);
	const mit_prop_evidence_t *e = &info()->evidence[0];
	cr_assert_eq(e->kind, MIT_PROP_EV_OLDER);
	cr_assert_str_eq(e->side, "production");
	cr_assert(strstr(e->text, "older finding, not counted: latency_p99 "
				  "critical on the production side, opened "
				  "0 s before"),
		  "%s", e->text);
	/* still open during the soak, even escalated again: not counted */
	for (int i = 13; i <= 19; i++)
		tick(i, 0.5, i == 15 ? AN_FIND_CRITICAL : 0, AN_PROD);
	cr_assert_eq(info()->state, MIT_PROP_PROMOTING,
		     "passed: promoting (%s)", info()->summary);
	for (size_t i = 0; i < info()->nevidence; i++)
		cr_assert_neq(info()->evidence[i].kind, MIT_PROP_EV_FINDING);
	stop();
}

Test(propose, finding_evidence_is_never_cut)
{
	an_finding_t f;
	memset(&f, 0, sizeof(f));
	f.metric = AN_M_latency_p99;
	f.kind = AN_FIND_CRITICAL;
	f.mover = AN_SHADOW;
	f.ncauses = 2;
	for (int i = 0; i < 2; i++) {
		snprintf(f.cause[i].subject, sizeof(f.cause[i].subject),
			 "subject-%d", i);
		memset(f.cause[i].evidence, 'e', AN_TEXT_MAX - 2);
		f.cause[i].evidence[AN_TEXT_MAX - 2] = 's';
	}
	f.ncontext = 1;
	f.context[0].attributed = true;
	f.context[0].kind = AN_EV_CONFIG_CHANGE;
	const char *t = "umbra proposal 424c645c6f9d withdrawn: the shadow "
			"back on its usual config";
	snprintf(f.context[0].text, sizeof(f.context[0].text), "%s", t);
	memcpy(f.context[0].name, t, sizeof(f.context[0].name) - 1); /* cut */
	buf_t b = BUF_INIT;
	mit_finding_evidence_buf(&f, &b);
	cr_assert_gt(b.len, 2 * AN_TEXT_MAX, "%s", b.data);
	cr_assert(strstr(b.data, "eeeeeeeeeeeeeeeeeeeeeees; cause"), "%s",
		  b.data);
	cr_assert(strstr(b.data, "back on its usual config ("), "%s", b.data);
	buf_free(&b);
}

Test(propose, failing_validate_changes_nothing)
{
	start("  validate: [/bin/sh, -c, 'echo \"bad line 1\" >&2; exit 3']\n",
	      "");
	known_good();
	buf_t err = BUF_INIT;
	cr_assert_eq(propose(12, 4 * S, &err), ERR_INVAL);
	cr_assert(strstr(err.data, "production.validate (/bin/sh) rejected "
				   "the candidate (status 3): bad line 1"),
		  "%s", err.data);
	buf_free(&err);
	cr_assert_eq(info()->state, MIT_PROP_NONE, "nothing started");
	cr_assert_eq(sh.installs, 0, "the shadow untouched");
	cr_assert_eq(sh.restarts, 0);
	cr_assert_str_eq(read_conf(), GOOD, "production untouched");
	stop();
}
