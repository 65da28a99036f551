/*
 * mitigate.c: the decide-and-act engine of mitigate.h. One tick:
 *
 *   absorb    the analysis's findings (audited), resolutions, views;
 *   snapshot  check production's config dir now and then; mark the
 *             current snapshot known-good after the soak;
 *   progress  a rollback's reload/restart and its verification, the
 *             scale hook, a stress test;
 *   policy    every rule whose condition holds and whose cooldown has
 *             passed fires: a decision, then its actions in order, each
 *             through the gate (hold, cooldown, hourly cap, dry run);
 *   scaler    the preemptive/reactive replica decision;
 *   alerts    repeats of what is still firing.
 */
#include "mitigate/mitigate.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "mitigate/alert.h"
#include "mitigate/mit_int.h"
#include "mitigate/scale.h"
#include "mitigate/txn.h"
#include "mitigate/worker.h"
#include "provision/provision.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIT_VERIFY_TICKS 3 /* consecutive good ticks: as the analysis
			      confirms a finding */
#define MIT_ALERT_SEVERE 80 /* a finding's severity that alerts critical:
			       critical findings start at 80 */
#define MIT_SNAP_CHECK_MIN_NS NS_PER_S

typedef enum gate { GATE_GO, GATE_STOP } gate_t;

typedef enum apply_how { APPLY_SIGNAL, APPLY_COMMAND, APPLY_RESTART } apply_how_t;

/* A routine snapshot on the worker; its fields are the worker's while
 * busy and job.done is not set. */
typedef struct snap_job {
	mit_job_t job;
	mit_snaps_t *snaps;
	int64_t now;
	char why[128];
	mit_snap_info_t info;
	bool is_new, busy;
	int rc;
	buf_t err;
} snap_job_t;

typedef struct open_finding {
	bool open;
	an_finding_t f; /* as last emitted (opened or escalated) */
	uint64_t id;	  /* this finding's record (new on escalation) */
	uint64_t episode; /* its first record: the same until it closes;
			     what cooldowns and the cap count per */
	int64_t opened; /* the tick it opened at; kept through escalations */
	/* A deliberate test made its latest record (the shadow moved
	 * during a proposal's soak or a stress test): the test's evidence,
	 * never acted on nor alerted, also after the test while it stays
	 * open unchanged. Static text, NULL when not. */
	const char *deliberate;
} open_finding_t;

/* Whether rules may act and alert on o. */
static bool actionable(const open_finding_t *o)
{
	return o->open && !o->f.suppressed && !o->deliberate;
}

struct mit {
	const config_t *cfg;
	mit_ops_t ops;
	mit_audit_t own_audit;
	const mit_audit_t *audit;
	mit_policy_t *policy;
	mit_gov_t gov;
	mit_scaler_t scaler;
	bool scale_on;
	mit_alerter_t *alerter;
	mit_snaps_t *snaps;
	bool dry_run;
	uint64_t next_id;
	int64_t rec_off; /* wall clock - decision clock, for records */
	int64_t last_now; /* the last tick's decision time */
	/* the analysis, as last seen */
	open_finding_t open[AN_METRIC__COUNT];
	an_metric_view_t view[AN_METRIC__COUNT];
	int outside[AN_METRIC__COUNT]; /* consecutive ticks over threshold */
	uint64_t rule_sig[MIT_MAX_RULES]; /* findings a rule last fired on */
	/* per rule and metric: the finding (record id) it last fired on */
	uint64_t rule_seen[MIT_MAX_RULES][AN_METRIC__COUNT];
	uint64_t deciding; /* while a rule's actions run: the episode of the
			      finding they are for (0 none), the governor's
			      key */
	/* snapshots */
	int64_t snap_every, last_snap_check;
	mit_snap_info_t cur;
	bool have_cur;
	int64_t clean_since;
	char snap_err[256]; /* the last error, logged once */
	char snap_why[128]; /* a change reported since the last tick: one
			       snapshot for a burst ("" none) */
	mit_worker_t *worker; /* disk work off the loop (worker.h) */
	snap_job_t sj;	      /* the routine snapshot, one in flight */
	char good_id[MIT_SNAP_ID_LEN + 1]; /* the latest known-good, for
					      status without the store */
	int64_t good_ns; /* since when it is known-good (decision clock) */
	/* hold */
	bool held;
	char hold_reason[256];
	/* the rollback being applied and verified */
	struct {
		bool on;
		uint64_t action_id;
		an_metric_t metric;
		char to[MIT_SNAP_ID_LEN + 1], from[MIT_SNAP_ID_LEN + 1];
		int64_t started, deadline;
		int ok_ticks;
		apply_how_t how;
		bool applied;
		mit_cmd_t cmd;
		char health[96];
		bool promote; /* a proposal's promotion, not a rollback */
		mit_txn_t txn; /* the restore (txn.h); open until verified */
		bool txn_open;
	} rb;
	/* the last promotion (mit_promote): its result for the proposal */
	struct {
		bool started;
		int result; /* ERR_AGAIN, 0 verified, ERR_BADSTATE failed */
		char why[480];
	} prom;
	bool shadow_test; /* mit_shadow_test */
	/* scaling */
	int replicas_known; /* when umbra does not run production */
	int last_desired;
	int skip_desired;   /* a gated scaler decision audited once */
	mit_cmd_t hook;
	uint64_t hook_action;
	/* stress */
	mit_stress_t stress;
	bool stress_ever;
	uint64_t stress_action;
	mit_hist_t meas;
	int64_t meas_since;
	uint64_t drop_base;
	int64_t stress_minute; /* the cron minute last started */
	int64_t stress_end;    /* when the last test ended */
	double last_rps;
	/* bookkeeping */
	mit_report_t *rep;
	/* notes and events made between ticks (a config change the drift
	 * watcher reported, a release over the API): the next tick's */
	mit_report_t pending;
	uint64_t ndecisions, nactions, audit_errors;
};

const char *mit_note_kind_name(mit_note_kind_t k)
{
	static const char *const n[] = {"finding", "decision", "action",
					"outcome", "alert",    "snapshot",
					"stress",  "scale",    "proposal"};
	return (unsigned)k < sizeof(n) / sizeof(*n) ? n[k] : "?";
}

/* ------------------------------------------------------------ notes */

static void note(mit_t *m, mit_note_kind_t k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(mit_t *m, mit_note_kind_t k, const char *fmt, ...)
{
	mit_report_t *r = m->rep ? m->rep : &m->pending;
	if (r->nnotes >= MIT_MAX_NOTES) {
		r->dropped++;
		return;
	}
	mit_note_t *n = &r->note[r->nnotes++];
	n->kind = k;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof(n->text), fmt, ap);
	va_end(ap);
}

static void event_out(mit_t *m, an_event_kind_t kind, an_side_t side,
		      int64_t start, int64_t end, const char *text)
{
	mit_report_t *r = m->rep ? m->rep : &m->pending;
	if (r->nevents >= MIT_MAX_EVENTS)
		return;
	mit_event_out_t *e = &r->event[r->nevents++];
	e->kind = kind;
	e->side = side;
	e->start_ns = start;
	e->end_ns = end;
	snprintf(e->text, sizeof(e->text), "%s", text);
}

/* ------------------------------------------------------------ audit */

static void audit_rc(mit_t *m, int rc, const char *what)
{
	if (!rc)
		return;
	m->audit_errors++;
	log_error("mitigate", "the audit refused a record; acting anyway",
		  LF_S("record", what), LF_ERR("err", rc));
}

static uint64_t audit_decision(mit_t *m, int64_t now, const char *rule,
			       const char *cond, uint64_t finding_id,
			       const char *metric, const char *actions)
{
	uint64_t id = m->next_id++;
	mit_rec_decision_t r = {id,	 now + m->rec_off, m->cfg->service, rule,
				cond,	 finding_id, metric, actions,
				m->dry_run};
	m->ndecisions++;
	log_info("mitigate", "decision", LF_S("rule", rule),
		 LF_S("condition", cond), LF_S("metric", metric),
		 LF_S("actions", actions), LF_B("dry_run", m->dry_run),
		 LF_U("id", id));
	if (m->audit->decision)
		audit_rc(m, m->audit->decision(m->audit->ctx, &r), "decision");
	return id;
}

static uint64_t audit_action_n(mit_t *m, int64_t now, uint64_t decision,
			       const char *act, const char *state,
			       const char *detail, const char *reason,
			       const char *evidence)
{
	uint64_t id = m->next_id++;
	mit_rec_action_t r = {id,     decision, now + m->rec_off, m->cfg->service,
			      act,    state,	detail, reason,
			      evidence};
	if (!strcmp(state, "started"))
		m->nactions++;
	if (m->audit->action)
		audit_rc(m, m->audit->action(m->audit->ctx, &r), "action");
	return id;
}

static uint64_t audit_action(mit_t *m, int64_t now, uint64_t decision,
			     mit_act_t act, const char *state,
			     const char *detail, const char *reason,
			     const char *evidence)
{
	return audit_action_n(m, now, decision, mit_act_name(act), state,
			      detail, reason, evidence);
}

static void audit_outcome_n(mit_t *m, int64_t now, uint64_t action,
			    const char *act, const char *result,
			    const char *detail)
{
	mit_rec_outcome_t r = {m->next_id++, action, now + m->rec_off,
			       m->cfg->service,
			       act, result, detail};
	bool bad = !strcmp(result, "failed") || !strcmp(result, "verify_failed");
	if (bad)
		log_error("mitigate", "outcome", LF_S("action", act),
			  LF_S("result", result), LF_S("detail", detail),
			  LF_U("action_id", action));
	else
		log_info("mitigate", "outcome", LF_S("action", act),
			 LF_S("result", result), LF_S("detail", detail),
			 LF_U("action_id", action));
	if (m->audit->outcome)
		audit_rc(m, m->audit->outcome(m->audit->ctx, &r), "outcome");
	note(m, MIT_NOTE_OUTCOME, "%s %s: %s", act, result, detail);
}

static void audit_outcome(mit_t *m, int64_t now, uint64_t action, mit_act_t act,
			  const char *result, const char *detail)
{
	audit_outcome_n(m, now, action, mit_act_name(act), result, detail);
}

/* ------------------------------------------------------------ evidence */

void mit_finding_evidence_buf(const an_finding_t *f, buf_t *out)
{
	buf_printf(out,
		   "%s %s: deviation %.3g (threshold %.3g), velocity %.3g/s, "
		   "severity %.0f",
		   an_metric_name(f->metric), an_find_kind_name(f->kind),
		   f->deviation, f->threshold, f->velocity, f->severity);
	if (f->predicted)
		buf_printf(out, ", predicted to cross in %.0f s (confidence "
				"%.2f)",
			   f->lead_s, f->confidence);
	buf_printf(out, "; %s moved (production %+.0f%%, shadow %+.0f%%)",
		   an_side_name(f->mover), f->change[0] * 100,
		   f->change[1] * 100);
	for (size_t i = 0; i < f->ncauses && i < 2; i++)
		buf_printf(out, "; cause %s %.2f %s: %s",
			   an_cause_kind_name(f->cause[i].kind),
			   f->cause[i].score, f->cause[i].subject,
			   f->cause[i].evidence);
	for (size_t i = 0; i < f->ncontext && i < 2; i++) {
		const an_context_t *c = &f->context[i];
		if (!c->attributed && !c->explains && !c->drift)
			continue;
		/* the name, unless it is the text cut to AN_NAME_MAX (an
		 * event's text serves as its name): then the whole text */
		size_t nl = strlen(c->name);
		const char *what = !nl || (strlen(c->text) > nl &&
					   !strncmp(c->text, c->name, nl))
				       ? c->text
				       : c->name;
		buf_printf(out, "; context %s %s (%s)",
			   an_event_kind_name(c->kind), what,
			   an_side_name(c->side));
	}
	if (f->suppressed)
		buf_printf(out, "; suppressed: %s", f->reason);
}

void mit_finding_evidence(const an_finding_t *f, char *out, size_t size)
{
	if (!size)
		return;
	buf_t b = BUF_INIT;
	mit_finding_evidence_buf(f, &b);
	snprintf(out, size, "%s", b.data ? b.data : "");
	if (b.len >= size && size > 4)
		memcpy(out + size - 4, "...", 4);
	buf_free(&b);
}

/* The root cause line of a finding, for alerts. */
static void root_cause(const an_finding_t *f, char *out, size_t n)
{
	if (!f || !f->ncauses) {
		snprintf(out, n, "%s", "");
		return;
	}
	snprintf(out, n, "%s %s (score %.2f): %s",
		 an_cause_kind_name(f->cause[0].kind), f->cause[0].subject,
		 f->cause[0].score, f->cause[0].evidence);
}

/* ------------------------------------------------------------ hold */

static void hold(mit_t *m, int64_t now, const char *reason)
{
	if (m->held)
		return;
	m->held = true;
	snprintf(m->hold_reason, sizeof(m->hold_reason), "%s", reason);
	if (m->snaps) {
		int rc = mit_snaps_hold_set(m->snaps, reason);
		if (rc)
			log_error("mitigate", "cannot persist the hold; it lasts "
					      "until umbra stops",
				  LF_ERR("err", rc));
	}
	log_error("mitigate",
		  "automatic actions held until a person releases them",
		  LF_S("service", m->cfg->service), LF_S("why", reason));
	note(m, MIT_NOTE_OUTCOME, "automatic actions held: %s", reason);
	if (!m->dry_run) {
		char summary[320];
		snprintf(summary, sizeof(summary),
			 "%s: automatic actions held until a person acts",
			 m->cfg->service);
		mit_alert_t a = {
		    .key = "hold",
		    .name = "UmbraActionsHeld",
		    .metric = "",
		    .side = "production",
		    .severity = MIT_SEV_CRITICAL,
		    .summary = summary,
		    .description = reason,
		    .action = "investigate, then release the hold (umbra "
			      "release, or the API)",
		};
		mit_alert_fire(m->alerter, now, &a);
		note(m, MIT_NOTE_ALERT, "alert sent: UmbraActionsHeld (critical)");
	}
}

int mit_release(mit_t *m, int64_t now, const char *who, const char *why)
{
	if (!m->held)
		return ERR_BADSTATE;
	char cond[512];
	snprintf(cond, sizeof(cond), "released by %s: %s", who ? who : "?",
		 why ? why : "");
	uint64_t d = audit_decision(m, now, "release", cond, 0, "", "hold");
	uint64_t a = audit_action(m, now, d, MIT_ACT_HOLD, "started",
				  "lift the hold", cond, m->hold_reason);
	m->held = false;
	m->hold_reason[0] = '\0';
	if (m->snaps)
		mit_snaps_hold_clear(m->snaps);
	audit_outcome(m, now, a, MIT_ACT_HOLD, "released", cond);
	mit_alert_resolve(m->alerter, now, "hold", cond);
	log_info("mitigate", "hold released; automatic actions resume",
		 LF_S("by", who ? who : "?"));
	return 0;
}

/* ------------------------------------------------------------ gate */

/* An action refused before it could be tried: audited as skipped. */
static void act_skip(mit_t *m, int64_t now, uint64_t dec, mit_act_t act,
		     const char *detail, const char *reason,
		     const char *evidence, const char *why)
{
	uint64_t a = audit_action(m, now, dec, act, "skipped", detail, reason,
				  evidence);
	audit_outcome(m, now, a, act, "skipped", why);
}

/* Hold, cooldown, hourly cap, dry run. GATE_GO: do it (counted, audited
 * as started, *action_id set); GATE_STOP: audited and done. */
static gate_t act_gate(mit_t *m, int64_t now, uint64_t dec, mit_act_t act,
		       const char *detail, const char *reason,
		       const char *evidence, uint64_t *action_id)
{
	char why[256];
	if (m->held && act != MIT_ACT_ALERT && act != MIT_ACT_HOLD) {
		uint64_t a = audit_action(m, now, dec, act, "held", detail,
					  reason, evidence);
		snprintf(why, sizeof(why), "automatic actions are held: %.200s",
			 m->hold_reason);
		audit_outcome(m, now, a, act, "held", why);
		return GATE_STOP;
	}
	if (!mit_gov_act_ready(&m->gov, act, m->deciding, now, why,
			       sizeof(why))) {
		act_skip(m, now, dec, act, detail, reason, evidence, why);
		return GATE_STOP;
	}
	mit_gov_act_taken(&m->gov, act, m->deciding, now);
	if (m->dry_run) {
		uint64_t a = audit_action(m, now, dec, act, "recommended",
					  detail, reason, evidence);
		log_warn("mitigate", "recommendation (dry run: nothing done)",
			 LF_S("action", mit_act_name(act)),
			 LF_S("detail", detail), LF_S("reason", reason));
		audit_outcome(m, now, a, act, "dry_run",
			      "mitigation.dry_run: recommended, not done");
		note(m, MIT_NOTE_ACTION, "recommendation: %s: %s",
		     mit_act_name(act), detail);
		return GATE_STOP;
	}
	*action_id = audit_action(m, now, dec, act, "started", detail, reason,
				  evidence);
	log_warn("mitigate", "action", LF_S("action", mit_act_name(act)),
		 LF_S("detail", detail), LF_S("reason", reason),
		 LF_U("id", *action_id));
	note(m, MIT_NOTE_ACTION, "%s: %s", mit_act_name(act), detail);
	return GATE_GO;
}

/* ------------------------------------------------------------ snapshots */

static void audit_snapshot(mit_t *m, int64_t now, const mit_snap_info_t *i)
{
	if (!m->audit->snapshot)
		return;
	char *man = xasprintf("%s/manifests/%s", mit_snaps_dir(m->snaps),
			      i->id);
	mit_rec_snapshot_t r = {now + m->rec_off, m->cfg->service, i->id,
				i->reason, man,		    i->nfiles,
				i->bytes,  i->taken_ns,	    i->good_ns};
	audit_rc(m, m->audit->snapshot(m->audit->ctx, &r), "snapshot");
	free(man);
}

/* What a snapshot of production's files found (on the loop). */
static void snapshot_taken(mit_t *m, int64_t now, const char *why, int rc,
			   const mit_snap_info_t *info, bool is_new,
			   const buf_t *err)
{
	if (rc) {
		if (strcmp(m->snap_err, err->data ? err->data : "")) {
			snprintf(m->snap_err, sizeof(m->snap_err), "%s",
				 err->data ? err->data : err_str(rc));
			log_error("mitigate", "cannot snapshot production's config",
				  LF_S("why", m->snap_err));
		}
		return;
	}
	m->snap_err[0] = '\0';
	if (m->have_cur && !strcmp(m->cur.id, info->id)) {
		m->cur = *info;
		return;
	}
	m->cur = *info;
	m->have_cur = true;
	if (is_new)
		audit_snapshot(m, now, info);
	/* A new current config soaks from now. */
	m->clean_since = now;
	log_info("mitigate",
		 is_new ? "config snapshot taken" : "config is a known snapshot",
		 LF_S("id", info->id), LF_U("files", info->nfiles),
		 LF_B("known_good", info->good_ns != 0), LF_S("why", why));
	note(m, MIT_NOTE_SNAPSHOT, "snapshot %.12s %s (%s)%s", info->id,
	     is_new ? "taken" : "current again", why,
	     info->good_ns ? ", known-good" : "");
}

/* On the worker thread: the routine snapshot. */
static void snap_job_run(void *arg)
{
	snap_job_t *j = arg;
	buf_reset(&j->err);
	j->rc = mit_snaps_take(j->snaps, j->now, j->why, &j->info, &j->is_new,
			       &j->err);
}

static void snap_job_apply(mit_t *m)
{
	snap_job_t *j = &m->sj;
	j->busy = false;
	snapshot_taken(m, j->now, j->why, j->rc, &j->info, j->is_new, &j->err);
}

/* The store is the loop's again: the routine snapshot in flight (if
 * any) is waited for and its result applied. Every use of m->snaps on
 * the loop comes after this. */
static void snaps_quiet(mit_t *m)
{
	if (!m->sj.busy)
		return;
	mit_worker_wait(m->worker, &m->sj.job);
	snap_job_apply(m);
}

/* A routine snapshot (a reported change, the periodic check) on the
 * worker; its result is applied at a later tick. */
static void check_snapshot_async(mit_t *m, int64_t now, const char *why)
{
	if (!m->snaps || m->sj.busy)
		return;
	m->last_snap_check = now;
	snap_job_t *j = &m->sj;
	j->snaps = m->snaps;
	j->now = now;
	snprintf(j->why, sizeof(j->why), "%s", why);
	j->job.fn = snap_job_run;
	j->job.arg = j;
	j->busy = true;
	if (!m->worker || !mit_worker_submit(m->worker, &j->job)) {
		snap_job_run(j); /* no worker: on the loop */
		snap_job_apply(m);
	}
}

/* A snapshot now, on the loop (before a rollback or a promotion, and to
 * confirm a known-good mark): what production's files are at this
 * moment. */
static void check_snapshot(mit_t *m, int64_t now, const char *why)
{
	if (!m->snaps)
		return;
	snaps_quiet(m);
	m->last_snap_check = now;
	mit_snap_info_t info;
	bool is_new;
	buf_t err = BUF_INIT;
	int rc = mit_snaps_take(m->snaps, now, why, &info, &is_new, &err);
	snapshot_taken(m, now, why, rc, &info, is_new, &err);
	buf_free(&err);
}

/* At the end of a tick: a reported change or the periodic check goes
 * to the worker (one at a time; a change reported meanwhile waits). */
static void snapshots_submit(mit_t *m, int64_t now)
{
	/* (while a restore is open its journal and pin are the loop's: the
	 * change waits until it closes) */
	if (!m->snaps || m->sj.busy || m->rb.txn_open)
		return;
	if (m->snap_why[0]) {
		char why[sizeof(m->snap_why)];
		memcpy(why, m->snap_why, sizeof(why));
		m->snap_why[0] = '\0';
		check_snapshot_async(m, now, why);
	} else if (now - m->last_snap_check >= m->snap_every) {
		check_snapshot_async(m, now, "periodic check");
	}
}

static void snapshots_tick(mit_t *m, int64_t now)
{
	if (!m->snaps)
		return;
	if (m->sj.busy && atomic_load_explicit(&m->sj.job.done,
					       memory_order_acquire))
		snap_job_apply(m);
	if (!m->sj.busy) {
		mit_snap_info_t g;
		buf_t e = BUF_INIT;
		if (mit_snaps_find(m->snaps, "good", &g, &e) == 0) {
			memcpy(m->good_id, g.id, sizeof(m->good_id));
			m->good_ns = g.good_ns;
		}
		buf_free(&e);
	}
	if (!m->have_cur || m->cur.good_ns)
		return;
	/* What is being verified is not known-good until it passed; a
	 * snapshot on its way may change what is current. */
	if (m->rb.on || m->sj.busy)
		return;
	if (now - m->clean_since < m->cfg->mitigation.soak)
		return;
	/* Known-good only what production's files are at this moment:
	 * hashed again now (a change not reported yet starts a new soak). */
	check_snapshot(m, now, "before marking known-good");
	if (!m->have_cur || m->cur.good_ns || m->snap_err[0] ||
	    now - m->clean_since < m->cfg->mitigation.soak)
		return;
	int rc = mit_snaps_mark_good(m->snaps, m->cur.id, now);
	if (rc) {
		log_error("mitigate", "cannot mark the snapshot known-good",
			  LF_S("id", m->cur.id), LF_ERR("err", rc));
		return;
	}
	m->cur.good_ns = now;
	memcpy(m->good_id, m->cur.id, sizeof(m->good_id));
	m->good_ns = now;
	audit_snapshot(m, now, &m->cur);
	char d[32];
	snprintf(d, sizeof(d), "%.0f s",
		 (double)m->cfg->mitigation.soak / 1e9);
	log_info("mitigate", "snapshot is known-good", LF_S("id", m->cur.id),
		 LF_S("soak", d));
	note(m, MIT_NOTE_SNAPSHOT,
	     "snapshot %.12s is known-good (%s without a critical finding)",
	     m->cur.id, d);
}

void mit_config_changed(mit_t *m, int64_t now, const char *why)
{
	(void)now;
	/* A change of n files is reported n times: one snapshot at the
	 * next tick covers them all. */
	if (!m->snap_why[0])
		snprintf(m->snap_why, sizeof(m->snap_why), "%s",
			 why && why[0] ? why : "config change");
}

/* ------------------------------------------------------------ findings */

/* Closes the finding open on k (why: a sentence) and resolves its
 * alert. */
static void close_finding(mit_t *m, int64_t now, an_metric_t k,
			  const char *why)
{
	m->open[k].open = false;
	m->open[k].deliberate = NULL;
	char key[64];
	snprintf(key, sizeof(key), "deviation/%s", an_metric_name(k));
	note(m, MIT_NOTE_FINDING, "resolved: %s", why);
	if (mit_alert_resolve(m->alerter, now, key, why))
		note(m, MIT_NOTE_ALERT, "alert resolved: %s", key);
}

/* The deliberate test the shadow is under at now (a proposal's soak, a
 * stress test and one step after it, while its load drains), or NULL. */
static const char *deliberate_test(const mit_t *m, int64_t now)
{
	if (m->shadow_test)
		return "a proposal's soak";
	if (m->stress.state == MIT_STRESS_RUNNING ||
	    (m->stress_ever &&
	     now - m->stress_end < m->cfg->mitigation.stress.step))
		return "a stress test";
	return NULL;
}

static void absorb(mit_t *m, const an_out_t *an, int64_t now)
{
	const char *test = deliberate_test(m, now);
	memcpy(m->view, an->metric, sizeof(m->view));
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		const an_metric_view_t *v = &m->view[k];
		m->outside[k] = v->valid && v->deviation > v->threshold
					? m->outside[k] + 1
					: 0;
	}
	for (size_t i = 0; i < an->nfindings; i++) {
		const an_finding_t *f = &an->finding[i];
		if ((unsigned)f->metric >= AN_METRIC__COUNT)
			continue;
		open_finding_t *o = &m->open[f->metric];
		o->id = m->next_id++;
		if (!o->open) {
			o->episode = o->id;
			o->opened = now;
		}
		o->open = true;
		o->f = *f;
		/* as its latest record says: an escalation on production's
		 * side, or after the test, is real */
		o->deliberate = test && f->mover == AN_SHADOW ? test : NULL;
		/* whole: the store keeps all of it; a deliberate test's
		 * finding says so first */
		buf_t ev = BUF_INIT;
		if (o->deliberate)
			buf_printf(&ev,
				   "during %s (the test's evidence, not "
				   "alerted): ",
				   o->deliberate);
		mit_finding_evidence_buf(f, &ev);
		mit_rec_finding_t r = {o->id, now + m->rec_off, m->cfg->service,
				       f, ev.data};
		if (m->audit->finding)
			audit_rc(m, m->audit->finding(m->audit->ctx, &r),
				 "finding");
		note(m, MIT_NOTE_FINDING, "%s", ev.data);
		buf_free(&ev);
	}
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		if (!(an->resolved & (1u << k)) || !m->open[k].open)
			continue;
		char why[160];
		snprintf(why, sizeof(why),
			 "%s deviation %.3g back under its threshold %.3g",
			 an_metric_name((an_metric_t)k), m->view[k].deviation,
			 m->view[k].threshold);
		close_finding(m, now, (an_metric_t)k, why);
	}
	/* A critical finding open now restarts the soak. */
	for (int k = 0; k < AN_METRIC__COUNT; k++)
		if (m->open[k].open && !m->open[k].f.suppressed &&
		    m->open[k].f.kind == AN_FIND_CRITICAL)
			m->clean_since = now;
}

/* After a verified rollback: every open finding whose metric is back
 * within its threshold closes now, not after the analysis's hysteresis;
 * the report asks the caller to close it in the analysis too. */
static void close_recovered(mit_t *m, int64_t now)
{
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		const an_metric_view_t *v = &m->view[k];
		if (!m->open[k].open || !v->valid || v->deviation > v->threshold)
			continue;
		char why[200];
		snprintf(why, sizeof(why),
			 "%s deviation %.3g within its threshold %.3g after "
			 "the verified rollback",
			 an_metric_name((an_metric_t)k), v->deviation,
			 v->threshold);
		close_finding(m, now, (an_metric_t)k, why);
		if (m->rep)
			m->rep->closed |= 1u << k;
	}
}

/* ------------------------------------------------------------ alert */

static void act_alert(mit_t *m, int64_t now, uint64_t dec,
		      const mit_rule_t *rule, an_metric_t primary,
		      const char *reason)
{
	/* One alert per metric of the rule with a finding open; the
	 * primary one when none is (a condition on raw numbers). */
	int fired = 0;
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		bool mine = rule->expr.metrics & (1u << k);
		const open_finding_t *o = &m->open[k];
		bool use = mine && actionable(o);
		if (!use)
			continue;
		fired++;
		const an_finding_t *f = &o->f;
		mit_sev_t sev = f->kind == AN_FIND_CRITICAL ||
					f->severity >= MIT_ALERT_SEVERE
				    ? MIT_SEV_CRITICAL
				    : MIT_SEV_WARNING;
		char key[64], summary[256], ev[AN_TEXT_MAX * 4], rc[400],
		    action[256], detail[320];
		snprintf(key, sizeof(key), "deviation/%s",
			 an_metric_name((an_metric_t)k));
		snprintf(summary, sizeof(summary),
			 "%s: %s %s, deviation %.0f%% between production and "
			 "shadow (%s moved)",
			 m->cfg->service, an_metric_name((an_metric_t)k),
			 an_find_kind_name(f->kind), f->deviation * 100,
			 an_side_name(f->mover));
		mit_finding_evidence(f, ev, sizeof(ev));
		root_cause(f, rc, sizeof(rc));
		snprintf(action, sizeof(action), "rule %s: %.*s", rule->name,
			 (int)(sizeof(action) / 2), reason);
		snprintf(detail, sizeof(detail), "%s alert %s", mit_sev_name(sev),
			 key);
		uint64_t aid;
		if (act_gate(m, now, dec, MIT_ACT_ALERT, detail, reason, ev,
			     &aid) != GATE_GO)
			continue;
		mit_alert_t a = {
		    .key = key,
		    .name = "UmbraDeviation",
		    .metric = an_metric_name((an_metric_t)k),
		    .side = an_side_name(f->mover),
		    .severity = sev,
		    .summary = summary,
		    .description = ev,
		    .root_cause = rc,
		    .action = action,
		};
		int sent = mit_alert_fire(m->alerter, now, &a);
		audit_outcome(m, now, aid, MIT_ACT_ALERT, "ok",
			      sent ? "sent (Alertmanager, webhook and log as "
				     "configured)"
				   : "already firing: refreshed, not re-sent");
		if (sent)
			note(m, MIT_NOTE_ALERT, "alert sent: %s %s", key,
			     mit_sev_name(sev));
	}
	if (!fired) {
		char detail[160];
		snprintf(detail, sizeof(detail), "alert on %s",
			 an_metric_name(primary));
		uint64_t aid;
		if (act_gate(m, now, dec, MIT_ACT_ALERT, detail, reason, reason,
			     &aid) != GATE_GO)
			return;
		char key[64], summary[256];
		snprintf(key, sizeof(key), "deviation/%s",
			 an_metric_name(primary));
		snprintf(summary, sizeof(summary), "%s: rule %s holds",
			 m->cfg->service, rule->name);
		mit_alert_t a = {
		    .key = key,
		    .name = "UmbraDeviation",
		    .metric = an_metric_name(primary),
		    .side = "",
		    .severity = MIT_SEV_WARNING,
		    .summary = summary,
		    .description = reason,
		    .action = rule->name,
		};
		int sent = mit_alert_fire(m->alerter, now, &a);
		audit_outcome(m, now, aid, MIT_ACT_ALERT, "ok",
			      sent ? "sent" : "already firing: refreshed");
		if (sent)
			note(m, MIT_NOTE_ALERT, "alert sent: %s warning", key);
	}
}

/* ------------------------------------------------------------ rollback */

static int production_replicas(mit_t *m, int *up)
{
	int wanted = 0, u = 0;
	if (m->ops.production_health &&
	    m->ops.production_health(m->ops.arg, &wanted, &u) == 0) {
		if (up)
			*up = u;
		return wanted;
	}
	if (up)
		*up = -1;
	return m->replicas_known;
}

static void act_rollback(mit_t *m, int64_t now, uint64_t dec,
			 an_metric_t metric, const char *reason,
			 const char *evidence, bool forced);
static an_metric_t primary_metric(const mit_t *m, uint32_t metrics);

/* ------------------------------------------------------------ restore */

/* Each journaled step of a restore transaction is an outcome record of
 * its action in the audit (intent, staged, switched, reloaded). */
static void txn_step(void *arg, const mit_txn_t *t)
{
	mit_t *m = arg;
	char d[512];
	snprintf(d, sizeof(d), "transaction %s of %.12s over %.12s in %s (%s%s%s)",
		 mit_txn_state_name(t->state), t->to, t->from, t->live,
		 mit_txn_method_name(t->method), t->why[0] ? ": " : "",
		 t->why);
	audit_outcome_n(m, m->last_now, t->id, t->kind,
			mit_txn_state_name(t->state), d);
}

/* Restores snapshot to (in src) over production's config dir as a
 * transaction whose undo is the current snapshot; m->rb.txn stays open
 * (switched) until txn_end. 0, or an error with err set and production's
 * files as they were. */
static int txn_restore(mit_t *m, int64_t now, const char *kind, uint64_t aid,
		       const mit_snaps_t *src, const char *to, size_t *changed,
		       buf_t *err)
{
	*changed = 0;
	if (!m->have_cur) {
		buf_printf(err, "no snapshot of production's files now (%s): "
				"the restore could not be undone",
			   m->snap_err[0] ? m->snap_err : "none taken");
		return ERR_BADSTATE;
	}
	int rc = mit_txn_begin(m->snaps, kind, aid, m->cur.id, to, now, false,
			       txn_step, m, &m->rb.txn, err);
	if (rc)
		return rc;
	rc = mit_txn_apply(m->snaps, &m->rb.txn, src, changed, err);
	if (rc) {
		mit_txn_free(&m->rb.txn);
		return rc;
	}
	m->rb.txn_open = true;
	return 0;
}

/* Journals that the restored files took effect. */
static void txn_reloaded(mit_t *m)
{
	if (m->rb.txn_open && m->rb.txn.state == MIT_TXN_SWITCHED &&
	    mit_txn_mark(m->snaps, &m->rb.txn, MIT_TXN_RELOADED))
		log_error("mitigate", "cannot journal the reload",
			  LF_U("txn", m->rb.txn.id));
}

/* Closes the open restore transaction: verified, or finished (the files
 * stay; its verification failed). The engine audits that itself. */
static void txn_end(mit_t *m, mit_txn_state_t final)
{
	if (!m->rb.txn_open)
		return;
	m->rb.txn.on_step = NULL;
	int rc = mit_txn_close(m->snaps, &m->rb.txn, final);
	if (rc)
		log_error("mitigate", "cannot remove the transaction journal",
			  LF_ERR("err", rc));
	m->rb.txn_open = false;
}

/* The name of what rb applies: a rollback or a proposal's promotion. */
static const char *rb_name(const mit_t *m)
{
	return m->rb.promote ? "promote" : mit_act_name(MIT_ACT_ROLLBACK);
}

/* A failed promotion: production goes back to the latest known-good
 * snapshot through the rollback path (held when that cannot start). */
static void promotion_failed(mit_t *m, int64_t now, const char *why)
{
	char cond[600];
	snprintf(cond, sizeof(cond),
		 "the promotion of snapshot %.12s failed: %.480s", m->rb.to,
		 why);
	uint64_t dec = audit_decision(m, now, "verify", cond, 0, "",
				      "rollback");
	note(m, MIT_NOTE_DECISION, "verify: %s -> rollback", cond);
	an_metric_t pm = primary_metric(m, (1u << AN_METRIC__COUNT) - 1);
	act_rollback(m, now, dec, pm, cond, cond, true);
	bool started = m->rb.on;
	snprintf(m->prom.why, sizeof(m->prom.why), "%.400s; %s", why,
		 started ? "rolling back to the latest known-good snapshot"
		 : m->held ? "the rollback did not start: actions held"
			   : "the rollback did not start");
	m->prom.result = ERR_BADSTATE;
	if (!started && !m->held)
		hold(m, now, cond);
}

/* A failed rollback: audited, alerted, and automatic actions held. A
 * failed promotion rolls back instead. */
static void rollback_failed(mit_t *m, int64_t now, const char *why)
{
	audit_outcome_n(m, now, m->rb.action_id, rb_name(m),
			m->rb.applied ? "verify_failed" : "failed", why);
	m->rb.on = false;
	txn_end(m, MIT_TXN_FINISHED);
	mit__cmd_free(&m->rb.cmd);
	if (m->rb.promote) {
		m->rb.promote = false;
		promotion_failed(m, now, why);
		return;
	}
	char reason[320];
	snprintf(reason, sizeof(reason), "rollback to snapshot %.12s: %s",
		 m->rb.to, why);
	hold(m, now, reason);
}

/* How restored files take effect (*how), or why they cannot (static
 * text). */
static const char *apply_choose(const mit_t *m, apply_how_t *how)
{
	const config_t *c = m->cfg;
	*how = APPLY_RESTART;
	bool reload = c->production.reload.command.n || c->production.reload.signal;
	if (c->mitigation.rollback.mode == CONFIG_ROLLBACK_RELOAD ||
	    (c->mitigation.rollback.mode == CONFIG_ROLLBACK_AUTO && reload))
		*how = c->production.reload.command.n ? APPLY_COMMAND
						      : APPLY_SIGNAL;
	if (*how == APPLY_SIGNAL && !m->ops.signal_production)
		return "production.reload.signal needs a production umbra runs "
		       "or attaches to";
	if (*how == APPLY_RESTART &&
	    (!m->ops.rolling_restart || !c->production.command.n))
		return "no way to apply restored files: production.reload is "
		       "not set and umbra does not run production (no rolling "
		       "restart)";
	return NULL;
}

static const char *apply_name(apply_how_t how)
{
	return how == APPLY_COMMAND  ? "the reload command"
	       : how == APPLY_SIGNAL ? "the reload signal"
				     : "a rolling restart";
}

/* Starts applying production's restored files (m->rb set up): the
 * reload signal, command, or a rolling restart. 0 or a negative error. */
static int apply_start(mit_t *m)
{
	const config_t *c = m->cfg;
	int rc = 0;
	switch (m->rb.how) {
	case APPLY_SIGNAL:
		rc = m->ops.signal_production(m->ops.arg,
					      c->production.reload.signal);
		m->rb.applied = rc >= 0;
		break;
	case APPLY_COMMAND: {
		const config_strv_t *cmd = &c->production.reload.command;
		char **argv = xcalloc(cmd->n + 1, sizeof(char *));
		prov_vars_t v = {c->service, "production",
				 c->production.config_dir,
				 c->production.data_dir, (int)c->production.port,
				 0};
		for (size_t i = 0; i < cmd->n; i++)
			argv[i] = prov_render_str(cmd->v[i], &v);
		char svc[128];
		snprintf(svc, sizeof(svc), "UMBRA_SERVICE=%s", c->service);
		char *env[] = {svc, NULL};
		rc = mit__cmd_start(&m->rb.cmd, "reload", argv, env);
		for (size_t i = 0; i < cmd->n; i++)
			free(argv[i]);
		free(argv);
		break;
	}
	case APPLY_RESTART:
		rc = m->ops.rolling_restart(m->ops.arg);
		break;
	}
	return rc;
}

/* production.validate on snapshot id of production's store, restored
 * into <snapshot dir>/validate-target first: 0 passed (or none is set),
 * or an error with err saying why. */
static int validate_target(mit_t *m, const char *id, buf_t *err)
{
	if (!mit_validate_set(m->cfg))
		return 0;
	char *sd = mit_snapshot_dir(m->cfg);
	char *dst = xasprintf("%s/validate-target", sd);
	free(sd);
	size_t changed = 0;
	int rc = mit_snaps_restore(m->snaps, id, dst, &changed, err);
	if (rc) {
		free(dst);
		return rc;
	}
	char what[64];
	snprintf(what, sizeof(what), "rollback target %.12s", id);
	rc = mit_validate(m->cfg, dst, what, err);
	free(dst);
	return rc;
}

static void act_rollback(mit_t *m, int64_t now, uint64_t dec, an_metric_t metric,
			 const char *reason, const char *evidence, bool forced)
{
	const config_t *c = m->cfg;
	const open_finding_t *o = &m->open[metric];
	char detail[512], why[320];
	mit_snap_info_t good;
	buf_t err = BUF_INIT;
	const char *skip = NULL;
	/* What production has now (a change may not have been reported
	 * yet): a snapshot of it, which also keeps it reversible. */
	if (m->snaps && !m->rb.on)
		check_snapshot(m, now, "before rollback");
	if (!forced && o->open && o->f.mover != AN_PROD) {
		skip = "the shadow moved, not production: rolling production "
		       "back would not help";
	} else if (!m->snaps) {
		skip = "production has no config_dir: nothing to snapshot or "
		       "restore";
	} else if (m->rb.on) {
		skip = "a rollback is being verified";
	} else if (mit_snaps_find(m->snaps, "good", &good, &err)) {
		snprintf(why, sizeof(why),
			 "no known-good snapshot yet (one becomes known-good "
			 "after mitigation.soak, %.0f s, without a critical "
			 "finding)",
			 (double)c->mitigation.soak / 1e9);
		skip = why;
	} else if (m->have_cur && !strcmp(good.id, m->cur.id)) {
		snprintf(why, sizeof(why),
			 "production already runs the latest known-good "
			 "snapshot %.12s: the cause is not its config",
			 good.id);
		skip = why;
	}
	buf_free(&err);
	/* How the restored files take effect. */
	apply_how_t how;
	const char *no_apply = apply_choose(m, &how);
	if (!skip)
		skip = no_apply;
	const char *how_s = apply_name(how);
	/* The target passes the service's own check before it is written. */
	buf_t verr = BUF_INIT;
	if (!skip && validate_target(m, good.id, &verr))
		skip = verr.data ? verr.data : "production.validate failed";
	if (skip) {
		snprintf(detail, sizeof(detail), "restore the latest known-good "
						 "config");
		act_skip(m, now, dec, MIT_ACT_ROLLBACK, detail, reason,
			 evidence, skip);
		buf_free(&verr);
		return;
	}
	buf_free(&verr);
	snprintf(detail, sizeof(detail),
		 "restore known-good snapshot %.12s over %.12s in %s, then %s",
		 good.id, m->have_cur ? m->cur.id : "?", c->production.config_dir,
		 how_s);
	uint64_t aid;
	if (act_gate(m, now, dec, MIT_ACT_ROLLBACK, detail, reason, evidence,
		     &aid) != GATE_GO)
		return;
	memset(&m->rb, 0, sizeof(m->rb));
	m->rb.cmd.out_fd = -1;
	m->rb.on = true;
	m->rb.action_id = aid;
	m->rb.metric = metric;
	m->rb.how = how;
	m->rb.started = now;
	m->rb.deadline = now + c->mitigation.verify;
	snprintf(m->rb.to, sizeof(m->rb.to), "%s", good.id);
	snprintf(m->rb.from, sizeof(m->rb.from), "%s",
		 m->have_cur ? m->cur.id : "");
	size_t changed = 0;
	int rc = txn_restore(m, now, "rollback", aid, m->snaps, good.id,
			     &changed, &err);
	if (rc) {
		snprintf(why, sizeof(why), "restore failed: %s",
			 err.data ? err.data : err_str(rc));
		buf_free(&err);
		rollback_failed(m, now, why);
		return;
	}
	buf_free(&err);
	if (m->have_cur && m->rb.from[0]) {
		buf_t diff = BUF_INIT, derr = BUF_INIT;
		if (mit_snaps_diff(m->snaps, m->rb.from, good.id,
				   &c->mask.sensitive_keys,
				   c->mask.redact_marker, &diff, &derr) > 0)
			log_info("mitigate", "rollback: what changed back",
				 LF_S("diff", diff.data));
		buf_free(&diff);
		buf_free(&derr);
	}
	check_snapshot(m, now, "rollback");
	rc = apply_start(m);
	if (rc < 0) {
		snprintf(why, sizeof(why), "%s failed: %s%s%s", how_s,
			 err_str(rc), m->rb.cmd.out.len ? ": " : "",
			 m->rb.cmd.out.data ? m->rb.cmd.out.data : "");
		rollback_failed(m, now, why);
		return;
	}
	if (m->rb.applied)
		txn_reloaded(m);
	char ev[AN_TEXT_MAX];
	snprintf(ev, sizeof(ev), "umbra rollback to snapshot %.12s", good.id);
	event_out(m, AN_EV_CONFIG_CHANGE, AN_PROD, now, now, ev);
	char res[256];
	snprintf(res, sizeof(res),
		 "%zu file%s restored; %s; verifying %s within %.0f s",
		 changed, changed == 1 ? "" : "s", how_s,
		 an_metric_name(metric), (double)c->mitigation.verify / 1e9);
	audit_outcome(m, now, aid, MIT_ACT_ROLLBACK, "applied", res);
}

static void rollback_tick(mit_t *m, int64_t now)
{
	if (!m->rb.on)
		return;
	if (m->rb.applied)
		txn_reloaded(m);
	char why[400];
	if (!m->rb.applied && m->rb.how == APPLY_COMMAND &&
	    mit__cmd_poll(&m->rb.cmd, clock_mono_ns())) {
		if (m->rb.cmd.status != 0) {
			snprintf(why, sizeof(why),
				 "the reload command failed (status %d): %.200s",
				 m->rb.cmd.status,
				 m->rb.cmd.out.data ? m->rb.cmd.out.data : "");
			rollback_failed(m, now, why);
			return;
		}
		m->rb.applied = true;
		log_info("mitigate", "reload command done");
	}
	if (!m->rb.applied && m->rb.how == APPLY_RESTART) {
		char w[256] = "";
		int rc = m->ops.restart_status
			     ? m->ops.restart_status(m->ops.arg, w, sizeof(w))
			     : 0;
		if (rc == 0) {
			m->rb.applied = true;
		} else if (rc != ERR_AGAIN) {
			snprintf(why, sizeof(why), "the rolling restart failed: %s",
				 w);
			rollback_failed(m, now, why);
			return;
		}
	}
	int up = -1;
	int wanted = production_replicas(m, &up);
	bool healthy = up < 0 || (wanted > 0 && up >= wanted);
	if (up < 0)
		snprintf(m->rb.health, sizeof(m->rb.health),
			 "health not checked (umbra does not run production)");
	else
		snprintf(m->rb.health, sizeof(m->rb.health),
			 "%d/%d replicas up", up, wanted);
	const an_metric_view_t *v = &m->view[m->rb.metric];
	bool inside = v->valid && v->deviation <= v->threshold;
	int critical = -1; /* a promotion: a metric with a critical finding */
	if (m->rb.promote) {
		/* one the shadow moved in does not judge production (say a
		 * finding older than the proposal, on the shadow's own copy) */
		for (int k = 0; k < AN_METRIC__COUNT && critical < 0; k++)
			if (m->open[k].open && !m->open[k].f.suppressed &&
			    m->open[k].f.kind == AN_FIND_CRITICAL &&
			    m->open[k].f.mover != AN_SHADOW)
				critical = k;
		inside = critical < 0;
	}
	m->rb.ok_ticks = m->rb.applied && healthy && inside ? m->rb.ok_ticks + 1
							    : 0;
	const char *mn = an_metric_name(m->rb.metric);
	if (m->rb.ok_ticks >= MIT_VERIFY_TICKS) {
		if (m->rb.promote)
			snprintf(why, sizeof(why),
				 "verified after %.0f s: no critical finding; "
				 "%s",
				 (double)(now - m->rb.started) / 1e9,
				 m->rb.health);
		else
			snprintf(why, sizeof(why),
				 "recovered after %.0f s: %s deviation %.3g "
				 "within threshold %.3g; %s",
				 (double)(now - m->rb.started) / 1e9, mn,
				 v->deviation, v->threshold, m->rb.health);
		audit_outcome_n(m, now, m->rb.action_id, rb_name(m),
				"verified", why);
		if (!m->rb.promote)
			close_recovered(m, now);
		if (m->rb.promote) {
			m->prom.result = 0;
			snprintf(m->prom.why, sizeof(m->prom.why), "%s", why);
		}
		m->rb.on = false;
		m->rb.promote = false;
		txn_reloaded(m);
		txn_end(m, MIT_TXN_VERIFIED);
		mit__cmd_free(&m->rb.cmd);
		return;
	}
	if (now < m->rb.deadline)
		return;
	size_t l = (size_t)snprintf(why, sizeof(why),
				    "not recovered within mitigation.verify "
				    "(%.0f s):",
				    (double)m->cfg->mitigation.verify / 1e9);
	if (!m->rb.applied)
		l += (size_t)snprintf(why + l, sizeof(why) - l,
				      " the reload/restart did not finish;");
	if (!healthy)
		l += (size_t)snprintf(why + l, sizeof(why) - l, " %s;",
				      m->rb.health);
	if (!inside && l < sizeof(why) && critical >= 0) {
		const an_finding_t *f = &m->open[critical].f;
		snprintf(why + l, sizeof(why) - l,
			 " a critical %s finding is open (deviation %.3g, "
			 "threshold %.3g, %s moved)",
			 an_metric_name((an_metric_t)critical), f->deviation,
			 f->threshold, an_side_name(f->mover));
	} else if (!inside && l < sizeof(why)) {
		if (v->valid)
			snprintf(why + l, sizeof(why) - l,
				 " %s deviation %.3g over threshold %.3g", mn,
				 v->deviation, v->threshold);
		else
			snprintf(why + l, sizeof(why) - l, " no %s data", mn);
	}
	rollback_failed(m, now, why);
}

/* ------------------------------------------------------------ scaling */

static bool can_scale(const mit_t *m)
{
	return (m->ops.set_replicas && m->cfg->production.command.n) ||
	       m->cfg->mitigation.scale.hook.n;
}

/* {replicas} and {service} in one hook word. New string. */
static char *render_hook(const char *w, int n, const char *service)
{
	buf_t b = BUF_INIT;
	for (const char *p = w; *p;) {
		if (!strncmp(p, "{replicas}", 10)) {
			buf_printf(&b, "%d", n);
			p += 10;
		} else if (!strncmp(p, "{service}", 9)) {
			buf_puts(&b, service);
			p += 9;
		} else {
			buf_putc(&b, *p++);
		}
	}
	if (!b.data)
		buf_puts(&b, "");
	return buf_steal(&b);
}

static void apply_scale(mit_t *m, int64_t now, uint64_t dec, int to,
			const char *reason, const char *evidence)
{
	const config_t *c = m->cfg;
	int from = production_replicas(m, NULL);
	char detail[160];
	snprintf(detail, sizeof(detail), "production replicas %d -> %d", from,
		 to);
	if (!can_scale(m)) {
		act_skip(m, now, dec, MIT_ACT_SCALE, detail, reason, evidence,
			 "umbra does not run production and no "
			 "mitigation.scale.hook is set");
		return;
	}
	if (!c->mitigation.scale.enabled) {
		act_skip(m, now, dec, MIT_ACT_SCALE, detail, reason, evidence,
			 "mitigation.scale.enabled is false");
		return;
	}
	if (to == from) {
		act_skip(m, now, dec, MIT_ACT_SCALE, detail, reason, evidence,
			 to >= c->mitigation.scale.max
			     ? "already at mitigation.scale.max"
			     : "already at that count");
		return;
	}
	uint64_t aid;
	if (act_gate(m, now, dec, MIT_ACT_SCALE, detail, reason, evidence,
		     &aid) != GATE_GO)
		return;
	char res[400] = "";
	size_t l = 0;
	bool ok = false;
	if (m->ops.set_replicas && c->production.command.n) {
		int rc = m->ops.set_replicas(m->ops.arg, to);
		l += (size_t)snprintf(res + l, sizeof(res) - l, "set replicas: %s",
				      rc ? err_str(rc) : "ok");
		ok = rc == 0;
	}
	if (c->mitigation.scale.hook.n) {
		if (m->hook.pid > 0) {
			l += (size_t)snprintf(res + l, sizeof(res) - l,
					      "%shook still running from the "
					      "last change: not started",
					      l ? "; " : "");
		} else {
			const config_strv_t *h = &c->mitigation.scale.hook;
			char **argv = xcalloc(h->n + 1, sizeof(char *));
			for (size_t i = 0; i < h->n; i++)
				argv[i] = render_hook(h->v[i], to, c->service);
			char e1[64], e2[128];
			snprintf(e1, sizeof(e1), "UMBRA_REPLICAS=%d", to);
			snprintf(e2, sizeof(e2), "UMBRA_SERVICE=%s", c->service);
			char *env[] = {e1, e2, NULL};
			mit__cmd_free(&m->hook);
			int rc = mit__cmd_start(&m->hook, "scale hook", argv, env);
			for (size_t i = 0; i < h->n; i++)
				free(argv[i]);
			free(argv);
			l += (size_t)snprintf(res + l, sizeof(res) - l,
					      "%shook %s", l ? "; " : "",
					      rc ? err_str(rc) : "started");
			if (!rc) {
				m->hook_action = aid;
				ok = true;
			}
		}
	}
	if (ok) {
		mit_scaler_changed(&m->scaler, now, from, to);
		m->replicas_known = to;
		note(m, MIT_NOTE_SCALE, "production replicas %d -> %d", from, to);
	}
	audit_outcome(m, now, aid, MIT_ACT_SCALE, ok ? "ok" : "failed", res);
}

static void hook_tick(mit_t *m, int64_t now)
{
	if (m->hook.pid <= 0 || !mit__cmd_poll(&m->hook, clock_mono_ns()))
		return;
	char d[MIT_CMD_OUTPUT_MAX + 64];
	snprintf(d, sizeof(d), "scale hook exited with status %d%s%s",
		 m->hook.status, m->hook.out.len ? ": " : "",
		 m->hook.out.data ? m->hook.out.data : "");
	audit_outcome(m, now, m->hook_action, MIT_ACT_SCALE,
		      m->hook.status == 0 ? "ok" : "failed", d);
	mit__cmd_free(&m->hook);
	m->hook.pid = 0;
}

static void scaler_tick(mit_t *m, int64_t now, double rps)
{
	if (!m->scale_on)
		return;
	mit_scaler_observe(&m->scaler, now, rps);
	int current = production_replicas(m, NULL);
	mit_scale_decision_t d;
	mit_scaler_decide(&m->scaler, now, current, &d);
	m->last_desired = d.desired;
	if (d.desired == current) {
		m->skip_desired = 0;
		return;
	}
	char why[256];
	if (m->held || !mit_gov_act_ready(&m->gov, MIT_ACT_SCALE, 0, now, why,
					  sizeof(why))) {
		/* Audited once per wanted count, not every tick. */
		if (m->skip_desired == d.desired)
			return;
		m->skip_desired = d.desired;
	}
	char cond[320];
	snprintf(cond, sizeof(cond), "%s%s", d.preemptive ? "preemptive: " : "",
		 d.reason);
	char acts[] = "scale";
	uint64_t dec = audit_decision(m, now, "scaler", cond, 0, "rps", acts);
	note(m, MIT_NOTE_DECISION, "scaler: %s", cond);
	apply_scale(m, now, dec, d.desired, cond, cond);
}

/* A rule's scale: one replica more, unless the finding behind it is the
 * shadow's (production's load did not change: more replicas would not
 * help, as a rollback would not). */
static void act_scale_rule(mit_t *m, int64_t now, uint64_t dec,
			   an_metric_t metric, const char *reason,
			   const char *evidence)
{
	int cur = production_replicas(m, NULL);
	int to = cur + 1;
	if (to > m->cfg->mitigation.scale.max)
		to = (int)m->cfg->mitigation.scale.max;
	const open_finding_t *o = &m->open[metric];
	if (o->open && o->f.mover == AN_SHADOW) {
		char detail[80];
		snprintf(detail, sizeof(detail),
			 "production replicas %d -> %d", cur, to);
		act_skip(m, now, dec, MIT_ACT_SCALE, detail, reason, evidence,
			 "the shadow moved, not production: more replicas "
			 "would not help");
		return;
	}
	apply_scale(m, now, dec, to, reason, evidence);
}

/* ------------------------------------------------------------ stress */

static void stress_apply(mit_t *m, int64_t now, const mit_stress_cmd_t *cmd)
{
	int rc = 0;
	if (cmd->set_amp && m->ops.set_amplification)
		rc = m->ops.set_amplification(m->ops.arg, cmd->amp);
	if (!rc && cmd->set_squeeze && m->ops.squeeze_shadow)
		rc = m->ops.squeeze_shadow(m->ops.arg, cmd->cpu_share,
					   cmd->mem_share);
	if (cmd->reset) {
		mit_hist_reset(&m->meas);
		m->meas_since = now;
		m->drop_base = m->ops.mirror_dropped
				   ? m->ops.mirror_dropped(m->ops.arg)
				   : 0;
	}
	if (rc && !cmd->finished) {
		char why[160];
		snprintf(why, sizeof(why), "cannot apply a stress step: %s",
			 err_str(rc));
		mit_stress_cmd_t c2;
		mit_stress_cancel(&m->stress, why, &c2);
		stress_apply(m, now, &c2);
		return;
	}
	if (!cmd->finished)
		return;
	const mit_stress_t *st = &m->stress;
	bool ok = st->state == MIT_STRESS_DONE;
	m->stress_end = now;
	if (ok && !m->shadow_test && !isnan(st->capacity) && st->capacity > 0) {
		mit_scaler_set_capacity(&m->scaler, st->capacity);
	}
	audit_outcome(m, now, m->stress_action, MIT_ACT_STRESS,
		      ok ? "ok" : "failed", st->why);
}

static int stress_begin(mit_t *m, int64_t now, uint64_t action, buf_t *err)
{
	const config_t *c = m->cfg;
	mit_stress_params_t p = {0};
	for (size_t i = 0; i < c->mitigation.stress.levers.n &&
			   p.nlevers < MIT_LEVER__COUNT;
	     i++) {
		int l = mit_lever_by_name(c->mitigation.stress.levers.v[i]);
		if (l >= 0)
			p.lever[p.nlevers++] = (mit_lever_t)l;
	}
	p.normal_amp = (unsigned)c->mirror.amplification;
	p.max_amp = (unsigned)c->mitigation.stress.max_amplification;
	p.min_cpu = c->mitigation.stress.min_cpu;
	p.min_mem = c->mitigation.stress.min_memory;
	p.step_ns = c->mitigation.stress.step;
	p.p99_target_s = (double)c->mitigation.stress.p99_target / 1e9;
	p.error_target = c->mitigation.stress.error_target;
	p.ratio = c->shadow.ratio;
	p.prod_replicas = production_replicas(m, NULL);
	p.prod_rps = m->last_rps;
	p.can_amplify = m->ops.set_amplification != NULL;
	int srep = 0;
	p.can_squeeze = m->ops.squeeze_shadow && m->ops.shadow_limits &&
			m->ops.shadow_limits(m->ops.arg, &p.shadow_cpu,
					     &p.shadow_mem, &srep) == 0;
	mit_stress_cmd_t cmd;
	int rc = mit_stress_begin(&m->stress, &p, now, &cmd);
	m->stress_ever = true;
	m->stress_action = action;
	if (rc) {
		buf_puts(err, m->stress.why);
		return rc;
	}
	char ev[AN_TEXT_MAX];
	snprintf(ev, sizeof(ev), "umbra stress test of the shadow");
	event_out(m, AN_EV_SCHEDULED, AN_SHADOW, now,
		  now + mit_stress_max_duration(&p), ev);
	note(m, MIT_NOTE_STRESS, "stress test started (%d lever%s)",
	     p.nlevers, p.nlevers == 1 ? "" : "s");
	stress_apply(m, now, &cmd);
	return 0;
}

static void act_stress(mit_t *m, int64_t now, uint64_t dec,
		       const char *reason, const char *evidence)
{
	if (m->stress.state == MIT_STRESS_RUNNING) {
		act_skip(m, now, dec, MIT_ACT_STRESS, "stress the shadow", reason,
			 evidence, "a stress test is already running");
		return;
	}
	uint64_t aid;
	if (act_gate(m, now, dec, MIT_ACT_STRESS, "stress the shadow", reason,
		     evidence, &aid) != GATE_GO)
		return;
	buf_t err = BUF_INIT;
	if (stress_begin(m, now, aid, &err))
		audit_outcome(m, now, aid, MIT_ACT_STRESS, "failed",
			      err.data ? err.data : "");
	buf_free(&err);
}

int mit_stress_start(mit_t *m, int64_t now, const char *why, buf_t *err)
{
	if (m->stress.state == MIT_STRESS_RUNNING) {
		buf_puts(err, "a stress test is already running");
		return ERR_BADSTATE;
	}
	char cond[256];
	snprintf(cond, sizeof(cond), "on demand: %s", why ? why : "");
	uint64_t dec = audit_decision(m, now, "manual", cond, 0, "", "stress");
	uint64_t aid = audit_action(m, now, dec, MIT_ACT_STRESS, "started",
				    "stress the shadow", cond, "");
	int rc = stress_begin(m, now, aid, err);
	if (rc)
		audit_outcome(m, now, aid, MIT_ACT_STRESS, "failed",
			      err->data ? err->data : "");
	return rc;
}

const mit_stress_t *mit_stress_last(const mit_t *m)
{
	return m->stress_ever ? &m->stress : NULL;
}

static void stress_tick(mit_t *m, int64_t now)
{
	if (m->stress.state != MIT_STRESS_RUNNING)
		return;
	if (m->ops.mirror_dropped)
		m->meas.dropped = m->ops.mirror_dropped(m->ops.arg) - m->drop_base;
	/* Headroom is judged against production's load as it is now. */
	if (!isnan(m->last_rps))
		m->stress.p.prod_rps = m->last_rps;
	mit_stress_cmd_t cmd;
	mit_stress_tick(&m->stress, now, &m->meas, &cmd);
	stress_apply(m, now, &cmd);
}

void mit_observe(mit_t *m, const reqrec_t *recs, size_t n)
{
	if (m->stress.state != MIT_STRESS_RUNNING)
		return;
	for (size_t i = 0; i < n; i++) {
		const reqrec_t *r = &recs[i];
		if (r->side != REQREC_SHADOW || r->start_ns < m->meas_since)
			continue;
		mit_hist_add(&m->meas, r->latency_us,
			     r->error != REQREC_OK || r->status >= 500);
	}
}

/* A scheduled stress test, at the first tick of a matching minute. */
static void stress_schedule(mit_t *m, int64_t now)
{
	const config_t *c = m->cfg;
	if (!c->mitigation.stress.enabled || !c->mitigation.stress.schedule.text[0])
		return;
	int64_t minute = now / (60 * NS_PER_S);
	if (minute == m->stress_minute ||
	    !cron_matches(&c->mitigation.stress.schedule.expr,
			  (time_t)(now / NS_PER_S)))
		return;
	m->stress_minute = minute;
	char cond[160];
	snprintf(cond, sizeof(cond), "mitigation.stress.schedule \"%s\"",
		 c->mitigation.stress.schedule.text);
	uint64_t dec = audit_decision(m, now, "schedule", cond, 0, "", "stress");
	act_stress(m, now, dec, cond, "");
}

/* ------------------------------------------------------------ policy */

/* The metric a rule is about: of the metrics it names, the one with the
 * most severe open finding, else the one furthest over its threshold,
 * else the first. */
/* The metrics (a bit set, of metrics) whose open finding rule r has not
 * fired on yet. */
static uint32_t unseen_metrics(const mit_t *m, int r, uint32_t metrics)
{
	uint32_t out = 0;
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		const open_finding_t *o = &m->open[k];
		if ((metrics & (1u << k)) && actionable(o) &&
		    o->id != m->rule_seen[r][k])
			out |= 1u << k;
	}
	return out;
}

static an_metric_t primary_metric(const mit_t *m, uint32_t metrics)
{
	int best = -1;
	double score = -1;
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		if (!(metrics & (1u << k)))
			continue;
		const open_finding_t *o = &m->open[k];
		double s = -1;
		if (actionable(o))
			s = 1000 + o->f.severity;
		else if (m->view[k].valid && m->view[k].threshold > 0)
			s = m->view[k].deviation / m->view[k].threshold;
		if (best < 0 || s > score) {
			best = k;
			score = s;
		}
	}
	return (an_metric_t)(best < 0 ? 0 : best);
}

/* Whether any of the metrics (a bit set) has been over its threshold
 * for MIT_VERIFY_TICKS ticks in a row (one noisy tick is not a relapse);
 * a rule without metrics (a constant condition) counts as outside. */
static bool still_outside(const mit_t *m, uint32_t metrics)
{
	if (!metrics)
		return true;
	for (int k = 0; k < AN_METRIC__COUNT; k++)
		if ((metrics & (1u << k)) && m->outside[k] >= MIT_VERIFY_TICKS)
			return true;
	return false;
}

/* The open findings of the metrics (a bit set), as one number: 0 when
 * none is open, else a mix of their ids (a new finding or an escalation
 * has a new id). */
static uint64_t findings_sig(const mit_t *m, uint32_t metrics)
{
	uint64_t sig = 0;
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		const open_finding_t *o = &m->open[k];
		if ((metrics & (1u << k)) && actionable(o))
			sig = (sig ^ o->id) * 0x100000001b3ull;
	}
	return sig;
}

/* Whether a rule whose condition holds (its cooldown passed) acts now.
 * On findings: only on new ones (an escalation included), whether the
 * condition held all along or came back (a velocity hovering at its
 * threshold makes new edges): the findings it acted on are being
 * handled (a rollback verified, a replica added) even while the analysis
 * keeps them open through its hysteresis, and acting on them again would
 * scale or alert in a loop. On values alone: on a new edge, or while a
 * metric it names is still outside its threshold. */
static bool rule_acts(const mit_t *m, int r, uint32_t metrics, uint64_t sig)
{
	if (sig)
		return sig != m->rule_sig[r];
	return m->gov.rule_edge[r] || still_outside(m, metrics);
}

static void policy_tick(mit_t *m, int64_t now)
{
	mit_eval_ctx_t ctx;
	mit_eval_ctx_clear(&ctx);
	/* While the shadow is under a deliberate test (a stress test and a
	 * step after, a proposal's candidate), what the shadow does is the
	 * test, not a finding to act on; a finding the test made stays
	 * the test's after it ended, until it closes. */
	bool testing = deliberate_test(m, now) != NULL;
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		const open_finding_t *o = &m->open[k];
		if (o->open && (o->deliberate ||
				(testing && o->f.mover == AN_SHADOW)))
			continue; /* unknown: no rule fires on it */
		mit_eval_ctx_set(&ctx, (an_metric_t)k, &m->view[k],
				 o->open ? &o->f : NULL);
	}
	const mit_policy_t *p = m->policy;
	for (int r = 0; r < p->n; r++) {
		const mit_rule_t *rule = &p->rule[r];
		bool holds = mit_expr_eval(&rule->expr, &ctx);
		/* Findings the rule has not fired on are decided on their
		 * own merits: its cooldown paces repeats on the same ones. */
		uint64_t sig = findings_sig(m, rule->expr.metrics);
		bool fresh = sig && sig != m->rule_sig[r];
		if (!mit_gov_rule_check(&m->gov, p->rule, r, holds, fresh, now))
			continue;
		if (!rule_acts(m, r, rule->expr.metrics, sig))
			continue;
		m->rule_sig[r] = sig;
		mit_gov_rule_fired(&m->gov, r, now);
		/* The finding the rule acts for: a new one first (an older
		 * one is being handled already). */
		uint32_t unseen = unseen_metrics(m, r, rule->expr.metrics);
		an_metric_t pm = primary_metric(
		    m, unseen ? unseen : rule->expr.metrics);
		for (int k = 0; k < AN_METRIC__COUNT; k++)
			m->rule_seen[r][k] = m->open[k].open ? m->open[k].id
							     : 0;
		char cond[MIT_EXPR_MAX_LEN * 2], acts[128] = "";
		mit_expr_explain(&rule->expr, &ctx, cond, sizeof(cond));
		for (int i = 0; i < rule->nthen; i++) {
			size_t l = strlen(acts);
			snprintf(acts + l, sizeof(acts) - l, "%s%s",
				 i ? ", " : "", mit_act_name(rule->then[i]));
		}
		const open_finding_t *o = &m->open[pm];
		bool has = actionable(o);
		m->deciding = has ? o->episode : 0;
		uint64_t dec = audit_decision(m, now, rule->name, cond,
					      has ? o->id : 0, an_metric_name(pm),
					      acts);
		note(m, MIT_NOTE_DECISION, "rule %s: %s -> %s", rule->name, cond,
		     acts);
		char reason[MIT_EXPR_MAX_LEN * 2 + 80];
		snprintf(reason, sizeof(reason), "rule %s: %s", rule->name, cond);
		buf_t evb = BUF_INIT; /* whole, for the audit */
		if (has)
			mit_finding_evidence_buf(&o->f, &evb);
		else
			buf_puts(&evb, cond);
		const char *ev = evb.data;
		for (int i = 0; i < rule->nthen; i++) {
			switch (rule->then[i]) {
			case MIT_ACT_ROLLBACK:
				act_rollback(m, now, dec, pm, reason, ev,
					     false);
				break;
			case MIT_ACT_SCALE:
				act_scale_rule(m, now, dec, pm, reason, ev);
				break;
			case MIT_ACT_STRESS:
				act_stress(m, now, dec, reason, ev);
				break;
			case MIT_ACT_ALERT:
				act_alert(m, now, dec, rule, pm, reason);
				break;
			case MIT_ACT_HOLD: {
				uint64_t aid;
				if (act_gate(m, now, dec, MIT_ACT_HOLD,
					     "hold automatic actions", reason,
					     ev, &aid) != GATE_GO)
					break;
				hold(m, now, reason);
				audit_outcome(m, now, aid, MIT_ACT_HOLD, "ok",
					      "held until released");
				break;
			}
			default:
				break;
			}
		}
		m->deciding = 0;
		buf_free(&evb);
	}
}

/* ------------------------------------------------------------ public */

char *mit_snapshot_dir(const config_t *cfg)
{
	if (cfg->mitigation.snapshots.dir && cfg->mitigation.snapshots.dir[0])
		return xstrdup(cfg->mitigation.snapshots.dir);
	const char *sp = cfg->store.path;
	const char *slash = strrchr(sp, '/');
	if (!slash)
		return xstrdup("snapshots");
	return xasprintf("%.*s/snapshots", (int)(slash - sp), sp);
}

int mit_new(const config_t *cfg, const mit_ops_t *ops, const mit_audit_t *audit,
	    mit_t **out, buf_t *err)
{
	*out = NULL;
	mit_t *m = xcalloc(1, sizeof(*m));
	m->cfg = cfg;
	if (ops)
		m->ops = *ops;
	if (audit) {
		m->audit = audit;
	} else {
		m->own_audit = mit_audit_memory_new(0);
		m->audit = &m->own_audit;
	}
	m->dry_run = cfg->mitigation.dry_run;
	/* Ids increase across restarts: microseconds at start, then +1. */
	m->next_id = (uint64_t)(clock_wall_ns() / 1000);
	m->rb.cmd.out_fd = -1;
	m->hook.out_fd = -1;
	m->last_rps = NAN;
	m->policy = xcalloc(1, sizeof(*m->policy));
	const config_mitigation_t *mc = &cfg->mitigation;
	if (mc->policy.n == 0) {
		mit_policy_default(m->policy, cfg->analysis.velocity_threshold,
				   mc->cooldown);
	} else {
		for (size_t i = 0; i < mc->policy.n; i++) {
			const config_policy_t *r = &mc->policy.v[i];
			mit_expr_err_t e;
			int rc = mit_policy_add(
			    m->policy, r->name, r->when,
			    (const char *const *)r->then.v, r->then.n,
			    r->cooldown, &e);
			if (rc) {
				buf_printf(err,
					   "mitigation.policy[%zu] (%s): %s at "
					   "character %zu",
					   i, r->name, e.msg, e.offset + 1);
				mit_free(m);
				return rc;
			}
		}
	}
	mit_gov_init(&m->gov, mc->cooldown, (int)mc->max_actions_per_hour);
	mit_scale_params_t sp = {
	    .min = (int)mc->scale.min,
	    .max = (int)mc->scale.max,
	    .lead_ns = mc->scale.lead,
	    .cooldown_ns = mc->scale.cooldown,
	    .tick_ns = cfg->analysis.interval,
	    .capacity = mc->scale.capacity,
	    .target = mc->scale.target_utilization,
	    .forecaster = AN_FC_HOLT,
	};
	if (mit_scaler_init(&m->scaler, &sp)) {
		buf_puts(err, "the load forecaster is not available");
		mit_free(m);
		return ERR_UNSUPPORTED;
	}
	m->scale_on = mc->scale.enabled && can_scale(m);
	m->replicas_known = (int)cfg->production.replicas;
	mit_alert_params_t ap = {
	    .service = cfg->service,
	    .alertmanager = m->dry_run ? "" : mc->alert.alertmanager,
	    .webhook = m->dry_run ? "" : mc->alert.webhook,
	    .repeat_ns = mc->alert.repeat,
	    .labels = &mc->alert.labels,
	};
	m->alerter = mit_alerter_new(&ap);
	m->snap_every = cfg->drift.interval > MIT_SNAP_CHECK_MIN_NS
			    ? cfg->drift.interval
			    : MIT_SNAP_CHECK_MIN_NS;
	log_info("mitigate", "policy",
		 LF_S("rules", m->policy->is_default ? "default" : "config"),
		 LF_I("count", m->policy->n), LF_B("dry_run", m->dry_run));
	*out = m;
	return 0;
}

int mit_recover(const config_t *c, const mit_audit_t *audit, buf_t *err)
{
	if (!c->production.config_dir || !c->production.config_dir[0])
		return 0;
	char *dir = mit_snapshot_dir(c);
	mit_snaps_t *s;
	int rc = mit_snaps_open(dir, c->production.config_dir,
				(int)c->mitigation.snapshots.keep, true, &s, err);
	free(dir);
	if (rc)
		return rc;
	mit_txn_t t;
	rc = mit_txn_recover(s, &t, err);
	if (rc == 1) {
		char d[512];
		snprintf(d, sizeof(d),
			 "at start: transaction %llu (%s, %.12s over %.12s in "
			 "%s) was interrupted %s: %s",
			 (unsigned long long)t.id, mit_txn_method_name(t.method),
			 t.to, t.from, t.live, mit_txn_state_name(t.was), t.why);
		log_warn("mitigate", "interrupted restore recovered",
			 LF_S("action", t.kind), LF_U("txn", t.id),
			 LF_S("result", mit_txn_state_name(t.state)),
			 LF_S("detail", d));
		mit_rec_outcome_t r = {(uint64_t)(clock_wall_ns() / 1000), t.id,
				       clock_wall_ns(), c->service, t.kind,
				       mit_txn_state_name(t.state), d};
		int arc = audit && audit->outcome
			      ? audit->outcome(audit->ctx, &r)
			      : 0;
		if (!arc && audit && audit->flush)
			arc = audit->flush(audit->ctx);
		if (arc)
			log_error("mitigate", "the audit refused the recovery's "
					      "outcome; the journal stays",
				  LF_ERR("err", arc));
		/* the journal goes once its outcome is durable (or not
		 * kept): a crash before then audits it again */
		if (arc)
			mit_txn_free(&t);
		else
			mit_txn_close(s, &t, t.state);
		rc = 0;
	}
	mit_snaps_close(s);
	return rc;
}

int mit_start(mit_t *m, int64_t now, buf_t *err)
{
	const config_t *c = m->cfg;
	if (!c->production.config_dir || !c->production.config_dir[0]) {
		log_warn("mitigate",
			 "production.config_dir is not set: no snapshots, no "
			 "rollback");
		return 0;
	}
	char *dir = mit_snapshot_dir(c);
	int rc = mit_snaps_open(dir, c->production.config_dir,
				(int)c->mitigation.snapshots.keep, true,
				&m->snaps, err);
	free(dir);
	if (rc)
		return rc;
	buf_t h = BUF_INIT;
	if (mit_snaps_hold_get(m->snaps, &h) == 0) {
		m->held = true;
		snprintf(m->hold_reason, sizeof(m->hold_reason), "%s",
			 h.data ? h.data : "");
		log_error("mitigate",
			  "automatic actions are held (from an earlier run) "
			  "until a person releases them",
			  LF_S("why", m->hold_reason));
	}
	buf_free(&h);
	check_snapshot(m, now, "start");
	mit_snap_info_t g;
	buf_t ge = BUF_INIT;
	if (mit_snaps_find(m->snaps, "good", &g, &ge) == 0) {
		memcpy(m->good_id, g.id, sizeof(m->good_id));
		m->good_ns = g.good_ns;
	}
	buf_free(&ge);
	rc = mit_worker_new(&m->worker);
	if (rc)
		log_error("mitigate", "no disk worker thread: snapshots are "
				      "taken on the control loop",
			  LF_ERR("err", rc));
	if (!m->have_cur) {
		buf_printf(err, "cannot snapshot production's config: %s",
			   m->snap_err);
		return ERR_INVAL;
	}
	return 0;
}

void mit_tick(mit_t *m, const mit_input_t *in, mit_report_t *out)
{
	*out = m->pending;
	memset(&m->pending, 0, sizeof(m->pending));
	m->rep = out;
	int64_t now = in->t_ns;
	m->last_now = now;
	m->rec_off = in->wall_ns ? in->wall_ns - in->t_ns : 0;
	if (!isnan(in->prod_rps))
		m->last_rps = in->prod_rps;
	if (in->an)
		absorb(m, in->an, now);
	else {
		memset(m->view, 0, sizeof(m->view));
		memset(m->outside, 0, sizeof(m->outside));
	}
	snapshots_tick(m, now);
	rollback_tick(m, now);
	hook_tick(m, now);
	stress_tick(m, now);
	policy_tick(m, now);
	scaler_tick(m, now, in->prod_rps);
	stress_schedule(m, now);
	mit_alert_tick(m->alerter, now);
	snapshots_submit(m, now);
	m->rep = NULL;
}

void mit_settle(mit_t *m)
{
	snaps_quiet(m);
}

void mit_status(const mit_t *m, mit_status_t *out)
{
	memset(out, 0, sizeof(*out));
	out->dry_run = m->dry_run;
	out->held = m->held;
	snprintf(out->hold_reason, sizeof(out->hold_reason), "%s",
		 m->hold_reason);
	out->verifying = m->rb.on;
	if (m->rb.on) {
		snprintf(out->verify_metric, sizeof(out->verify_metric), "%s",
			 an_metric_name(m->rb.metric));
		out->verify_deadline_ns = m->rb.deadline;
	}
	out->snapshots = m->snaps != NULL;
	if (m->have_cur)
		snprintf(out->current, sizeof(out->current), "%s", m->cur.id);
	snprintf(out->known_good, sizeof(out->known_good), "%s", m->good_id);
	out->known_good_ns = m->good_id[0] ? m->good_ns : 0;
	out->now_ns = m->last_now;
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		const open_finding_t *o = &m->open[k];
		out->open_kind[k] = o->open && !o->f.suppressed ? o->f.kind
								: AN_FIND_NONE;
		out->open_test[k] = o->open && o->deliberate;
	}
	out->clean_since_ns = m->clean_since;
	out->replicas_desired = m->last_desired;
	out->forecast_trusted = mit_scaler_trusted(&m->scaler);
	out->capacity = m->scaler.p.capacity;
	out->stress = m->stress.state;
	out->actions_last_hour = mit_gov_hour_count(&m->gov, m->last_now);
	out->decisions = m->ndecisions;
	out->actions = m->nactions;
	out->audit_errors = m->audit_errors;
	mit_alert_stats_t as;
	mit_alert_stats(m->alerter, &as);
	out->alerts_firing = as.firing;
}

const mit_audit_t *mit_audit(const mit_t *m)
{
	return m->audit;
}

void mit_free(mit_t *m)
{
	if (!m)
		return;
	if (m->stress.state == MIT_STRESS_RUNNING) {
		mit_stress_cmd_t cmd;
		mit_stress_cancel(&m->stress, "umbra is stopping", &cmd);
		stress_apply(m, m->last_now, &cmd);
	}
	/* an open restore's journal stays: the next start finishes it */
	if (m->rb.txn_open)
		mit_txn_free(&m->rb.txn);
	mit__cmd_free(&m->rb.cmd);
	mit__cmd_free(&m->hook);
	/* A clean stop leaves nothing firing at Alertmanager or the webhook:
	 * what is still wrong is found and sent again by the next run. The
	 * alerter's free then waits (bounded) for these to go out. */
	if (m->alerter) {
		size_t n = mit_alert_resolve_all(m->alerter, m->last_now,
						 "umbra stopped");
		if (n)
			log_info("mitigate", "alerts resolved at stop",
				 LF_U("count", n));
	}
	mit_alerter_free(m->alerter);
	mit_scaler_free(&m->scaler);
	if (m->sj.busy)
		mit_worker_wait(m->worker, &m->sj.job);
	mit_worker_free(m->worker);
	buf_free(&m->sj.err);
	mit_snaps_close(m->snaps);
	free(m->policy);
	if (m->audit == &m->own_audit)
		mit_audit_memory_free(&m->own_audit);
	free(m);
}

/* ------------------------------------------------------------ proposals */

void mit_shadow_test(mit_t *m, bool on)
{
	m->shadow_test = on;
}

uint64_t mit_next_id(mit_t *m)
{
	return m->next_id++;
}

uint64_t mit_finding_id(const mit_t *m, an_metric_t k)
{
	return (unsigned)k < AN_METRIC__COUNT && m->open[k].open ? m->open[k].id
								 : 0;
}

const an_finding_t *mit_open_finding(const mit_t *m, an_metric_t k,
				     int64_t *opened_ns)
{
	if ((unsigned)k >= AN_METRIC__COUNT || !m->open[k].open)
		return NULL;
	if (opened_ns)
		*opened_ns = m->open[k].opened;
	return &m->open[k].f;
}

bool mit_held(const mit_t *m)
{
	return m->held;
}

bool mit_dry_run(const mit_t *m)
{
	return m->dry_run;
}

static int promote(mit_t *m, int64_t now, const mit_snaps_t *from,
		   const char *id, const char *reason, const char *evidence,
		   buf_t *err);

int mit_promote(mit_t *m, int64_t now, const mit_snaps_t *from, const char *id,
		const char *reason, const char *evidence, mit_report_t *rep,
		buf_t *err)
{
	m->rep = rep;
	int rc = promote(m, now, from, id, reason, evidence, err);
	m->rep = NULL;
	return rc;
}

static int promote(mit_t *m, int64_t now, const mit_snaps_t *from,
		   const char *id, const char *reason, const char *evidence,
		   buf_t *err)
{
	const config_t *c = m->cfg;
	apply_how_t how;
	const char *no = NULL;
	if (m->dry_run)
		no = "mitigation.dry_run: nothing is promoted";
	else if (m->held)
		no = "automatic actions are held; release them first";
	else if (m->rb.on)
		no = m->rb.promote ? "a promotion is being verified"
				   : "a rollback is being verified";
	if (no) {
		buf_puts(err, no);
		return ERR_BADSTATE;
	}
	if (!m->snaps)
		no = "production has no config_dir: nothing to promote into";
	else
		no = apply_choose(m, &how);
	if (no) {
		buf_puts(err, no);
		return ERR_UNSUPPORTED;
	}
	/* What production runs now, so that it stays reversible. */
	check_snapshot(m, now, "before promotion");
	char detail[512];
	snprintf(detail, sizeof(detail),
		 "restore candidate snapshot %.12s over %.12s in %s, then %s",
		 id, m->have_cur ? m->cur.id : "?", c->production.config_dir,
		 apply_name(how));
	uint64_t dec = audit_decision(m, now, "proposal", reason, 0, "",
				      "promote");
	note(m, MIT_NOTE_DECISION, "proposal: %s -> promote", reason);
	uint64_t aid = audit_action_n(m, now, dec, "promote", "started",
				      detail, reason, evidence);
	m->nactions++;
	log_warn("mitigate", "action", LF_S("action", "promote"),
		 LF_S("detail", detail), LF_S("reason", reason),
		 LF_U("id", aid));
	note(m, MIT_NOTE_ACTION, "promote: %s", detail);
	memset(&m->rb, 0, sizeof(m->rb));
	m->rb.cmd.out_fd = -1;
	size_t changed = 0;
	buf_t rerr = BUF_INIT;
	int rc = txn_restore(m, now, "promote", aid, from, id, &changed, &rerr);
	if (rc) {
		/* undone: production's files are as they were */
		buf_printf(err, "cannot write the candidate into %s: %s",
			   c->production.config_dir,
			   rerr.data ? rerr.data : err_str(rc));
		audit_outcome_n(m, now, aid, "promote", "failed",
				err->data ? err->data : "");
		buf_free(&rerr);
		return rc;
	}
	m->rb.on = true;
	m->rb.promote = true;
	m->rb.action_id = aid;
	m->rb.metric = primary_metric(m, (1u << AN_METRIC__COUNT) - 1);
	m->rb.how = how;
	m->rb.started = now;
	m->rb.deadline = now + c->mitigation.verify;
	snprintf(m->rb.to, sizeof(m->rb.to), "%s", id);
	snprintf(m->rb.from, sizeof(m->rb.from), "%s",
		 m->have_cur ? m->cur.id : "");
	m->prom.started = true;
	m->prom.result = ERR_AGAIN;
	snprintf(m->prom.why, sizeof(m->prom.why), "applying");
	char why[400];
	buf_free(&rerr);
	check_snapshot(m, now, "proposal promoted");
	rc = apply_start(m);
	if (rc < 0) {
		snprintf(why, sizeof(why), "%s failed: %s%s%.200s",
			 apply_name(how), err_str(rc),
			 m->rb.cmd.out.len ? ": " : "",
			 m->rb.cmd.out.data ? m->rb.cmd.out.data : "");
		rollback_failed(m, now, why);
		return 0;
	}
	if (m->rb.applied)
		txn_reloaded(m);
	char ev[AN_TEXT_MAX];
	snprintf(ev, sizeof(ev), "umbra promoted proposal snapshot %.12s", id);
	event_out(m, AN_EV_CONFIG_CHANGE, AN_PROD, now, now, ev);
	char res[256];
	snprintf(res, sizeof(res),
		 "%zu file%s written; %s; verifying within %.0f s", changed,
		 changed == 1 ? "" : "s", apply_name(how),
		 (double)c->mitigation.verify / 1e9);
	audit_outcome_n(m, now, aid, "promote", "applied", res);
	return 0;
}

int mit_promote_status(const mit_t *m, char *why, size_t n)
{
	if (!m->prom.started)
		return ERR_NOTFOUND;
	snprintf(why, n, "%s", m->prom.why);
	return m->prom.result;
}
