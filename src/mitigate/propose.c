/*
 * propose.c: the proposal state machine of propose.h. mit_prop_start
 * does the synchronous part (checks, the candidate's snapshot, the
 * shadow's files); mit_prop_tick moves the rest along, one step per tick
 * at most, and never waits: restarts, the stress test and the
 * promotion's verification are polled.
 */
#include "mitigate/propose.h"

#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct mit_prop {
	const config_t *cfg;
	mit_t *eng;
	mit_prop_ops_t ops;
	mit_prop_info_t info;
	mit_snaps_t *store; /* <snapshots dir>/proposals, while one runs */
	char *staged;	    /* the candidate's files, restored from it */
	uint64_t action_id; /* the "propose" action */
	bool restart_asked; /* the shadow's restart started */
	int64_t step_deadline;
	int unhealthy;	     /* ticks in a row */
	int64_t applied_ns;  /* the candidate went to the shadow's config */
	int far[AN_METRIC__COUNT]; /* data ticks in a row at or over
				      MIT_PROP_FAR_FACTOR x its threshold */
	double far_prev[AN_METRIC__COUNT]; /* the last tick's deviation */
	double capacity_before;
	/* the soak's largest deviation per metric, and its threshold */
	double max_dev[AN_METRIC__COUNT], thr[AN_METRIC__COUNT];
	char soak_text[MIT_PROP_TEXT_MAX * 2]; /* the soak, as decided */
	mit_prop_evidence_t scratch; /* evidence past the limit: dropped */
	/* what this tick or start produced, for the next report */
	mit_note_t note[MIT_MAX_NOTES];
	size_t nnotes;
	mit_event_out_t event[MIT_MAX_EVENTS];
	size_t nevents;
};

const char *mit_prop_state_name(mit_prop_state_t s)
{
	static const char *const n[] = {"none",	     "applying",  "soaking",
					"stressing", "promoting", "restoring",
					"done"};
	return (unsigned)s < sizeof(n) / sizeof(*n) ? n[s] : "?";
}

const char *mit_prop_verdict_name(mit_prop_verdict_t v)
{
	static const char *const n[] = {"pending",	 "promoted",
					"rejected",	 "would_promote",
					"rolled_back", "cancelled"};
	return (unsigned)v < sizeof(n) / sizeof(*n) ? n[v] : "?";
}

const char *mit_prop_ev_kind_name(mit_prop_ev_kind_t k)
{
	static const char *const n[] = {"finding", "metric", "health",
					"stress", "step", "older_finding"};
	return (unsigned)k < sizeof(n) / sizeof(*n) ? n[k] : "?";
}

/* ------------------------------------------------------------ records */

static void note(mit_prop_t *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(mit_prop_t *p, const char *fmt, ...)
{
	if (p->nnotes >= MIT_MAX_NOTES)
		return;
	mit_note_t *n = &p->note[p->nnotes++];
	n->kind = MIT_NOTE_PROPOSAL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof(n->text), fmt, ap);
	va_end(ap);
}

/* The shadow's config changed: the analysis hears of it (a cause it can
 * name), the store keeps it. */
static void event(mit_prop_t *p, int64_t now, const char *text)
{
	if (p->nevents >= MIT_MAX_EVENTS)
		return;
	mit_event_out_t *e = &p->event[p->nevents++];
	e->kind = AN_EV_CONFIG_CHANGE;
	e->side = AN_SHADOW;
	e->start_ns = e->end_ns = now;
	snprintf(e->text, sizeof(e->text), "%s", text);
}

static void outcome(mit_prop_t *p, int64_t now, const char *result,
		    const char *detail)
{
	const mit_audit_t *a = mit_audit(p->eng);
	mit_rec_outcome_t r = {mit_next_id(p->eng), p->action_id, now,
			       p->cfg->service,	    "propose",	  result,
			       detail};
	log_info("propose", "outcome", LF_U("proposal", p->info.id),
		 LF_S("result", result), LF_S("detail", detail));
	if (a->outcome && a->outcome(a->ctx, &r))
		log_error("propose", "the audit refused a record");
	note(p, "proposal %s: %s", result, detail);
}

static mit_prop_evidence_t *evidence(mit_prop_t *p, mit_prop_ev_kind_t kind,
				     int64_t now, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static mit_prop_evidence_t *evidence(mit_prop_t *p, mit_prop_ev_kind_t kind,
				     int64_t now, const char *fmt, ...)
{
	mit_prop_info_t *i = &p->info;
	mit_prop_evidence_t *e = i->nevidence < MIT_PROP_MAX_EVIDENCE
					 ? &i->evidence[i->nevidence++]
					 : &p->scratch;
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->t_ns = now;
	e->metric = -1;
	e->value = e->threshold = e->severity = NAN;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	return e;
}

/* ------------------------------------------------------------ steps */

static void done(mit_prop_t *p, int64_t now)
{
	p->info.state = MIT_PROP_DONE;
	p->info.ended_ns = now;
	mit_shadow_test(p->eng, false);
	mit_snaps_close(p->store);
	p->store = NULL;
	log_info("propose", "proposal ended", LF_U("proposal", p->info.id),
		 LF_S("verdict", mit_prop_verdict_name(p->info.verdict)));
}

/* The shadow goes back to its usual config (and restarts, next tick). */
static void restore_shadow(mit_prop_t *p, int64_t now)
{
	p->info.state = MIT_PROP_RESTORING;
	p->restart_asked = false;
	p->step_deadline = now + p->cfg->mitigation.verify;
	buf_t err = BUF_INIT;
	int rc = p->ops.shadow_install(p->ops.arg, NULL, &err);
	if (rc) {
		char d[MIT_PROP_TEXT_MAX];
		snprintf(d, sizeof(d),
			 "cannot put the shadow's usual config back: %s",
			 err.data ? err.data : err_str(rc));
		evidence(p, MIT_PROP_EV_STEP, now, "%s", d);
		outcome(p, now, "restore_failed", d);
		buf_free(&err);
		done(p, now);
		return;
	}
	buf_free(&err);
	char ev[AN_TEXT_MAX];
	snprintf(ev, sizeof(ev), "umbra proposal %.12s withdrawn: the shadow "
				 "back on its usual config",
		 p->info.snapshot);
	event(p, now, ev);
}

/* The verdict: audited, in the summary, and what follows. */
static void verdict(mit_prop_t *p, int64_t now, mit_prop_verdict_t v,
		    const char *why)
{
	mit_prop_info_t *i = &p->info;
	i->verdict = v;
	i->decided_ns = now;
	snprintf(i->summary, sizeof(i->summary), "%s: %s",
		 mit_prop_verdict_name(v), why);
	static const char *const result[] = {"", "promoted", "rejected",
					     "dry_run", "rolled_back",
					     "cancelled"};
	outcome(p, now, result[v], why);
	if (v == MIT_PROP_REJECTED || v == MIT_PROP_WOULD_PROMOTE ||
	    v == MIT_PROP_ROLLED_BACK)
		restore_shadow(p, now);
	else
		done(p, now);
}

static void reject(mit_prop_t *p, int64_t now, const char *why)
{
	verdict(p, now, MIT_PROP_REJECTED, why);
}

/* The soak's numbers, one sentence: its length, the ticks compared, the
 * largest deviations against their thresholds. */
static void soak_summary(mit_prop_t *p, int64_t now, char *out, size_t n)
{
	size_t l = (size_t)snprintf(
	    out, n, "soaked %.0f s, %d tick%s compared, no critical finding",
	    (double)(now - p->info.soak_started_ns) / 1e9, p->info.data_ticks,
	    p->info.data_ticks == 1 ? "" : "s");
	/* the three closest to their thresholds */
	bool used[AN_METRIC__COUNT] = {false};
	for (int r = 0; r < 3 && l < n; r++) {
		int best = -1;
		for (int k = 0; k < AN_METRIC__COUNT; k++)
			if (!used[k] && !isnan(p->max_dev[k]) && p->thr[k] > 0 &&
			    (best < 0 || p->max_dev[k] / p->thr[k] >
					     p->max_dev[best] / p->thr[best]))
				best = k;
		if (best < 0)
			break;
		used[best] = true;
		l += (size_t)snprintf(out + l, n - l,
				      "%s %s deviation at most %.3g "
				      "(threshold %.3g)",
				      r ? "," : "; closest:",
				      an_metric_name((an_metric_t)best),
				      p->max_dev[best], p->thr[best]);
	}
	size_t older = 0;
	for (size_t i = 0; i < p->info.nevidence; i++)
		older += p->info.evidence[i].kind == MIT_PROP_EV_OLDER;
	if (l < n && older)
		l += (size_t)snprintf(out + l, n - l,
				      "; %zu older finding%s shown, not counted",
				      older, older == 1 ? "" : "s");
	if (l < n)
		snprintf(out + l, n - l,
			 "; none at %.0f times its threshold (that rejects)",
			 MIT_PROP_FAR_FACTOR);
}

/* The metrics' largest deviations as evidence. */
static void metric_evidence(mit_prop_t *p, int64_t now)
{
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		if (isnan(p->max_dev[k]))
			continue;
		mit_prop_evidence_t *e = evidence(
		    p, MIT_PROP_EV_METRIC, now,
		    "%s: largest deviation in the soak %.3g (threshold %.3g)",
		    an_metric_name((an_metric_t)k), p->max_dev[k], p->thr[k]);
		e->metric = k;
		e->value = p->max_dev[k];
		e->threshold = p->thr[k];
	}
}

/* The soak passed (and the stress test, if asked): promote, or say what
 * would be done. */
static void decide(mit_prop_t *p, int64_t now, mit_report_t *rep)
{
	char why[MIT_PROP_TEXT_MAX * 2];
	soak_summary(p, now, why, sizeof(why));
	snprintf(p->soak_text, sizeof(p->soak_text), "%s", why);
	metric_evidence(p, now);
	if (mit_dry_run(p->eng)) {
		size_t l = strlen(why);
		snprintf(why + l, sizeof(why) - l,
			 "; mitigation.dry_run: would promote snapshot %.12s "
			 "to production, nothing done",
			 p->info.snapshot);
		verdict(p, now, MIT_PROP_WOULD_PROMOTE, why);
		return;
	}
	buf_t verr = BUF_INIT;
	if (mit_validate(p->cfg, p->staged, "the candidate", &verr)) {
		char *w = xasprintf("passed the soak, but not promoted: %s",
				    verr.data);
		evidence(p, MIT_PROP_EV_STEP, now, "%s", w);
		reject(p, now, w);
		free(w);
		buf_free(&verr);
		return;
	}
	buf_free(&verr);
	char *reason = xasprintf("proposal %.12s from %s passed: %s",
				 p->info.snapshot, p->info.config_dir, why);
	buf_t err = BUF_INIT;
	int rc = mit_promote(p->eng, now, p->store, p->info.snapshot, reason,
			     why, rep, &err);
	free(reason);
	if (rc) {
		char w[MIT_PROP_TEXT_MAX];
		snprintf(w, sizeof(w), "passed, but not promoted: %s",
			 err.data ? err.data : err_str(rc));
		evidence(p, MIT_PROP_EV_STEP, now, "%s", w);
		buf_free(&err);
		reject(p, now, w);
		return;
	}
	buf_free(&err);
	evidence(p, MIT_PROP_EV_STEP, now,
		 "promoting snapshot %.12s to production", p->info.snapshot);
	outcome(p, now, "promoting", why);
	p->info.state = MIT_PROP_PROMOTING;
}

/* The shadow's replicas now: evidence and a rejection after
 * MIT_PROP_UNHEALTHY_TICKS bad ticks in a row. true when rejected. */
static bool health_check(mit_prop_t *p, int64_t now)
{
	int wanted = 0, up = 0;
	if (p->ops.shadow_health(p->ops.arg, &wanted, &up))
		return false;
	if (up >= wanted && wanted > 0) {
		p->unhealthy = 0;
		return false;
	}
	if (++p->unhealthy < MIT_PROP_UNHEALTHY_TICKS)
		return false;
	char w[MIT_PROP_TEXT_MAX];
	snprintf(w, sizeof(w),
		 "the shadow is unhealthy with the candidate: %d/%d replicas "
		 "up for %d ticks",
		 up, wanted, p->unhealthy);
	mit_prop_evidence_t *e = evidence(p, MIT_PROP_EV_HEALTH, now, "%s", w);
	e->value = up;
	e->threshold = wanted;
	reject(p, now, w);
	return true;
}

/* The findings open when the candidate was applied: older than it, so
 * not its evidence. Shown with their side and age, not counted. */
static void older_findings(mit_prop_t *p, int64_t now)
{
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		int64_t opened = 0;
		const an_finding_t *f =
		    mit_open_finding(p->eng, (an_metric_t)k, &opened);
		if (!f)
			continue;
		mit_prop_evidence_t *e = evidence(
		    p, MIT_PROP_EV_OLDER, now,
		    "older finding, not counted: %s %s on the %s side, opened "
		    "%.0f s before the candidate, deviation %.3g (threshold "
		    "%.3g)",
		    an_metric_name((an_metric_t)k), an_find_kind_name(f->kind),
		    an_side_name(f->mover), (double)(now - opened) / 1e9,
		    f->deviation, f->threshold);
		e->metric = k;
		e->finding_id = mit_finding_id(p->eng, (an_metric_t)k);
		e->value = f->deviation;
		e->threshold = f->threshold;
		e->severity = f->severity;
		snprintf(e->side, sizeof(e->side), "%s",
			 an_side_name(f->mover));
	}
}

/* The candidate's own critical finding: opened after it was applied, not
 * explained by a scheduled task, not production's move (the shadow is
 * judged against production's baseline of the same period), and still
 * over its threshold now that the soak has had MIT_PROP_MIN_DATA_TICKS
 * ticks of data. A finding takes the analysis's confirmation ticks to
 * open and its smoothed deviation lags the data: one that opens in the
 * first ticks after the candidate was applied may stand on the previous
 * config's requests (a deviation the shadow had before, surfacing on
 * another quantile); once the candidate's own data has come in, such a
 * deviation is back under its threshold and the finding does not count.
 * -1 none. */
static int candidate_critical(const mit_prop_t *p, const an_out_t *an)
{
	if (!an || p->info.data_ticks < MIT_PROP_MIN_DATA_TICKS)
		return -1;
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		int64_t opened = 0;
		const an_finding_t *f =
		    mit_open_finding(p->eng, (an_metric_t)k, &opened);
		const an_metric_view_t *v = &an->metric[k];
		if (f && f->kind == AN_FIND_CRITICAL && !f->suppressed &&
		    opened >= p->applied_ns && f->mover != AN_PROD &&
		    v->valid && v->deviation >= v->threshold)
			return k;
	}
	return -1;
}

/* A metric whose deviation stayed far over its threshold: -1 none. */
static int far_over(mit_prop_t *p, const an_out_t *an)
{
	int worst = -1;
	/* The soak's first MIT_PROP_MIN_DATA_TICKS data ticks are the
	 * shadow's restart on the candidate: its errors while it comes up
	 * (and the smoothed deviations' lag behind the data) are the
	 * restart's, not the candidate's. The streak counts after them. */
	if (p->info.data_ticks <= MIT_PROP_MIN_DATA_TICKS) {
		memset(p->far, 0, sizeof(p->far));
		return -1;
	}
	for (int k = 0; k < AN_METRIC__COUNT; k++) {
		const an_metric_view_t *v = &an->metric[k];
		/* warming included: a deviation 4 times the configured
		 * threshold is far whatever the envelope will learn */
		if (!v->valid || isnan(v->deviation) || !(v->threshold > 0)) {
			p->far[k] = 0;
			continue;
		}
		bool receding =
		    v->deviation < MIT_PROP_FAR_RECEDING * p->far_prev[k];
		p->far_prev[k] = v->deviation;
		p->far[k] = v->deviation >= MIT_PROP_FAR_FACTOR * v->threshold &&
				    !receding
				? p->far[k] + 1
				: 0;
		if (p->far[k] >= MIT_PROP_FAR_TICKS &&
		    (worst < 0 ||
		     v->deviation / v->threshold >
			 an->metric[worst].deviation / an->metric[worst].threshold))
			worst = k;
	}
	return worst;
}

/* One tick of the soak: the candidate's critical findings and
 * deviations far over their thresholds reject; deviations are kept. */
static void soak_tick(mit_prop_t *p, int64_t now, const an_out_t *an,
		      mit_report_t *rep)
{
	if (health_check(p, now))
		return;
	if (an) {
		bool data = false;
		for (int k = 0; k < AN_METRIC__COUNT; k++) {
			const an_metric_view_t *v = &an->metric[k];
			if (!v->valid || isnan(v->deviation))
				continue;
			data = true;
			if (isnan(p->max_dev[k]) || v->deviation > p->max_dev[k]) {
				p->max_dev[k] = v->deviation;
				p->thr[k] = v->threshold;
			}
		}
		if (data)
			p->info.data_ticks++;
		int far = far_over(p, an);
		if (far >= 0) {
			const an_metric_view_t *v = &an->metric[far];
			mit_prop_evidence_t *e = evidence(
			    p, MIT_PROP_EV_METRIC, now,
			    "%s deviation %.3g is %.1f times its threshold %.3g "
			    "for %d ticks (%.0f times rejects, whatever else "
			    "is true)",
			    an_metric_name((an_metric_t)far), v->deviation,
			    v->deviation / v->threshold, v->threshold, p->far[far],
			    MIT_PROP_FAR_FACTOR);
			e->metric = far;
			e->value = v->deviation;
			e->threshold = v->threshold;
			char *w = xasprintf("deviation far over its threshold "
					    "during the soak: %s",
					    e->text);
			metric_evidence(p, now);
			reject(p, now, w);
			free(w);
			return;
		}
	}
	int crit = candidate_critical(p, an);
	if (crit >= 0) {
		int64_t opened = 0;
		const an_finding_t *f =
		    mit_open_finding(p->eng, (an_metric_t)crit, &opened);
		buf_t evb = BUF_INIT;
		mit_finding_evidence_buf(f, &evb);
		const char *ev = evb.data;
		mit_prop_evidence_t *e =
		    evidence(p, MIT_PROP_EV_FINDING, now, "%s", ev);
		e->metric = crit;
		e->finding_id = mit_finding_id(p->eng, (an_metric_t)crit);
		e->value = f->deviation;
		e->threshold = f->threshold;
		e->severity = f->severity;
		snprintf(e->side, sizeof(e->side), "%s", an_side_name(f->mover));
		metric_evidence(p, now);
		char *w = xasprintf("critical finding during the soak (finding "
				    "%llu, opened %.0f s after the candidate "
				    "was applied): %s",
				    (unsigned long long)e->finding_id,
				    (double)(opened - p->applied_ns) / 1e9, ev);
		buf_free(&evb);
		reject(p, now, w);
		free(w);
		return;
	}
	if (now - p->info.soak_started_ns < p->info.soak_ns)
		return;
	if (p->info.data_ticks < MIT_PROP_MIN_DATA_TICKS) {
		char w[MIT_PROP_TEXT_MAX];
		snprintf(w, sizeof(w),
			 "the soak compared the sides on %d tick%s (at least "
			 "%d needed): no traffic reached both?",
			 p->info.data_ticks, p->info.data_ticks == 1 ? "" : "s",
			 MIT_PROP_MIN_DATA_TICKS);
		evidence(p, MIT_PROP_EV_STEP, now, "%s", w);
		reject(p, now, w);
		return;
	}
	if (!p->info.stress) {
		decide(p, now, rep);
		return;
	}
	mit_status_t st;
	mit_status(p->eng, &st);
	p->capacity_before = st.capacity;
	char why[128];
	snprintf(why, sizeof(why), "proposal %.12s: the candidate under stress",
		 p->info.snapshot);
	buf_t err = BUF_INIT;
	int rc = mit_stress_start(p->eng, now, why, &err);
	if (rc) {
		char w[MIT_PROP_TEXT_MAX];
		snprintf(w, sizeof(w), "the stress test could not start: %s",
			 err.data ? err.data : err_str(rc));
		buf_free(&err);
		evidence(p, MIT_PROP_EV_STRESS, now, "%s", w);
		reject(p, now, w);
		return;
	}
	buf_free(&err);
	outcome(p, now, "soaked", "soak passed; stress test started");
	p->info.state = MIT_PROP_STRESSING;
}

static void stress_tick(mit_prop_t *p, int64_t now, mit_report_t *rep)
{
	const mit_stress_t *t = mit_stress_last(p->eng);
	if (!t || t->state == MIT_STRESS_RUNNING)
		return;
	if (t->state != MIT_STRESS_DONE) {
		char *w = xasprintf("the stress test did not finish: %s",
				    t->why);
		evidence(p, MIT_PROP_EV_STRESS, now, "%s", w);
		reject(p, now, w);
		free(w);
		return;
	}
	mit_prop_evidence_t *e =
	    evidence(p, MIT_PROP_EV_STRESS, now, "stress test: %s", t->why);
	e->value = t->capacity;
	e->threshold = p->capacity_before > 0
			   ? p->capacity_before * MIT_PROP_STRESS_MIN_SHARE
			   : NAN;
	if (p->capacity_before > 0 && !isnan(t->capacity) &&
	    t->capacity < p->capacity_before * MIT_PROP_STRESS_MIN_SHARE) {
		char w[MIT_PROP_TEXT_MAX];
		snprintf(w, sizeof(w),
			 "under stress the candidate handles %.1f req/s per "
			 "replica, below %.0f%% of the %.1f in use",
			 t->capacity, MIT_PROP_STRESS_MIN_SHARE * 100,
			 p->capacity_before);
		reject(p, now, w);
		return;
	}
	decide(p, now, rep);
}

static void promote_tick(mit_prop_t *p, int64_t now)
{
	char why[480];
	int rc = mit_promote_status(p->eng, why, sizeof(why));
	if (rc == ERR_AGAIN)
		return;
	evidence(p, MIT_PROP_EV_STEP, now, "production: %s", why);
	char *w = rc == 0 ? xasprintf("%s; production %s", p->soak_text, why)
			  : xasprintf("promoted, then failed verification: %s",
				      why);
	verdict(p, now, rc == 0 ? MIT_PROP_PROMOTED : MIT_PROP_ROLLED_BACK, w);
	free(w);
}

/* The shadow's restart (APPLYING or RESTORING): true once it is done
 * (*ok says how; why filled when not). */
static bool restart_tick(mit_prop_t *p, int64_t now, bool *ok, char *why,
			 size_t n)
{
	*ok = false;
	if (!p->restart_asked) {
		int rc = p->ops.shadow_restart(p->ops.arg);
		if (rc == 0) {
			p->restart_asked = true;
		} else if (rc != ERR_AGAIN) {
			snprintf(why, n, "cannot restart the shadow: %s",
				 err_str(rc));
			return true;
		}
	}
	if (p->restart_asked) {
		char w[256] = "";
		int rc = p->ops.shadow_restart_status(p->ops.arg, w, sizeof(w));
		if (rc == 0) {
			*ok = true;
			return true;
		}
		if (rc != ERR_AGAIN) {
			snprintf(why, n, "the shadow's restart failed: %s", w);
			return true;
		}
	}
	if (now >= p->step_deadline) {
		snprintf(why, n,
			 "the shadow's restart did not finish within "
			 "mitigation.verify (%.0f s)",
			 (double)p->cfg->mitigation.verify / 1e9);
		return true;
	}
	return false;
}

static void flush(mit_prop_t *p, mit_report_t *rep)
{
	for (size_t i = 0; rep && i < p->nnotes; i++) {
		if (rep->nnotes < MIT_MAX_NOTES)
			rep->note[rep->nnotes++] = p->note[i];
		else
			rep->dropped++;
	}
	for (size_t i = 0; rep && i < p->nevents; i++)
		if (rep->nevents < MIT_MAX_EVENTS)
			rep->event[rep->nevents++] = p->event[i];
	p->nnotes = p->nevents = 0;
}

void mit_prop_tick(mit_prop_t *p, int64_t now, const an_out_t *an,
		   mit_report_t *rep)
{
	char why[MIT_PROP_TEXT_MAX];
	bool ok;
	switch (p->info.state) {
	case MIT_PROP_APPLYING:
		if (!restart_tick(p, now, &ok, why, sizeof(why)))
			break;
		if (!ok) {
			evidence(p, MIT_PROP_EV_HEALTH, now, "%s", why);
			reject(p, now, why);
			break;
		}
		p->info.state = MIT_PROP_SOAKING;
		p->info.soak_started_ns = now;
		evidence(p, MIT_PROP_EV_STEP, now,
			 "the shadow runs the candidate");
		snprintf(why, sizeof(why),
			 "the shadow runs candidate %.12s; soaking %.0f s%s",
			 p->info.snapshot, (double)p->info.soak_ns / 1e9,
			 p->info.stress ? ", then a stress test" : "");
		outcome(p, now, "applied", why);
		break;
	case MIT_PROP_SOAKING:
		soak_tick(p, now, an, rep);
		break;
	case MIT_PROP_STRESSING:
		stress_tick(p, now, rep);
		break;
	case MIT_PROP_PROMOTING:
		promote_tick(p, now);
		break;
	case MIT_PROP_RESTORING:
		if (!restart_tick(p, now, &ok, why, sizeof(why)))
			break;
		if (!ok) {
			evidence(p, MIT_PROP_EV_STEP, now, "%s", why);
			outcome(p, now, "restore_failed", why);
		} else {
			outcome(p, now, "restored",
				"the shadow runs its usual config again");
		}
		done(p, now);
		break;
	default:
		break;
	}
	flush(p, rep);
}

/* ------------------------------------------------------------ start */

/* Whether this setup can try a candidate on its shadow; why not. */
static const char *unsupported(const config_t *c)
{
	if (!c->production.config_dir || !c->production.config_dir[0])
		return "production.config_dir is not set: there is no config "
		       "to propose a change to";
	if (c->shadow.config_dir && c->shadow.config_dir[0])
		return "shadow.config_dir is set: the shadow does not run "
		       "production's config, so it cannot try a candidate for "
		       "it";
	if (c->shadow.upstreams.n)
		return "the shadow is not run by umbra (shadow.upstreams)";
	return NULL;
}

mit_prop_t *mit_prop_new(const config_t *cfg, mit_t *eng,
			 const mit_prop_ops_t *ops)
{
	mit_prop_t *p = xcalloc(1, sizeof(*p));
	p->cfg = cfg;
	p->eng = eng;
	p->ops = *ops;
	char *dir = mit_snapshot_dir(cfg);
	p->staged = xasprintf("%s/proposals/candidate", dir);
	free(dir);
	return p;
}

bool mit_prop_busy(const mit_prop_t *p)
{
	return p->info.state != MIT_PROP_NONE && p->info.state != MIT_PROP_DONE;
}

const mit_prop_info_t *mit_prop_info(const mit_prop_t *p)
{
	return &p->info;
}

/* ------------------------------------------------------------ candidates */

/* The walk's refusal, for nftw's callback (the control thread's only). */
static __thread buf_t *cand_err;

static int cand_entry(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)ftw;
	const char *what = NULL;
	if (flag == FTW_SL || flag == FTW_SLN)
		what = "is a symlink";
	else if (flag == FTW_DNR || flag == FTW_NS)
		what = "cannot be read";
	else if (flag == FTW_F && !S_ISREG(st->st_mode))
		what = S_ISFIFO(st->st_mode)   ? "is a FIFO"
		       : S_ISSOCK(st->st_mode) ? "is a socket"
					       : "is a device";
	if (!what)
		return 0;
	buf_printf(cand_err,
		   "%s %s: a candidate holds only regular files and "
		   "directories",
		   path, what);
	return 1;
}

/* Whether the candidate directory d may be proposed: it lies under one
 * of mitigation.propose.roots (symlinks resolved on both sides), and
 * holds nothing but regular files and directories (a symlink would be
 * promoted into production's config dir pointing anywhere, a FIFO
 * would block, a device is not config). 0 with *real the resolved path
 * (new string), or ERR_INVAL with err naming the path; nothing is read
 * or written before this passes. */
static int candidate_ok(const config_t *c, const char *d, char **real,
			buf_t *err)
{
	const config_strv_t *roots = &c->mitigation.propose.roots;
	*real = NULL;
	if (!roots->n) {
		buf_puts(err, "proposals are off: mitigation.propose.roots "
			      "names no directory a candidate may come from");
		return ERR_INVAL;
	}
	char *r = realpath(d, NULL);
	if (!r) {
		buf_printf(err, "%s: %s", d, strerror(errno));
		return ERR_INVAL;
	}
	bool in = false;
	for (size_t i = 0; i < roots->n && !in; i++) {
		char *rr = realpath(roots->v[i], NULL);
		size_t n = rr ? strlen(rr) : 0;
		if (n > 1 && rr[n - 1] == '/')
			n--;
		in = rr && !strncmp(r, rr, n) &&
		     (r[n] == '\0' || r[n] == '/' || n == 1);
		free(rr);
	}
	if (!in) {
		buf_printf(err,
			   "%s lies outside mitigation.propose.roots: a "
			   "candidate must come from one of them",
			   d);
		free(r);
		return ERR_INVAL;
	}
	cand_err = err;
	int w = nftw(r, cand_entry, 16, FTW_PHYS);
	cand_err = NULL;
	if (w) {
		if (w < 0)
			buf_printf(err, "cannot read %s: %s", r,
				   strerror(errno));
		free(r);
		return ERR_INVAL;
	}
	*real = r;
	return 0;
}

/* The snapshot as taken holds no symlink (one swapped in after the
 * walk): 0, or ERR_INVAL naming it. */
static int snapshot_plain(mit_snaps_t *store, const char *id, const char *d,
			  buf_t *err)
{
	mit_snap_file_t *f = NULL;
	size_t n = 0;
	int rc = mit_snaps_files(store, id, &f, &n, err);
	for (size_t i = 0; !rc && i < n; i++)
		if (f[i].link) {
			buf_printf(err,
				   "%s/%s is a symlink: a candidate holds "
				   "only regular files and directories",
				   d, f[i].rel);
			rc = ERR_INVAL;
		}
	mit_snap_files_free(f, n);
	return rc;
}

int mit_prop_start(mit_prop_t *p, int64_t now, const mit_prop_request_t *req,
		   buf_t *err)
{
	const config_t *c = p->cfg;
	const char *no;
	if (mit_prop_busy(p)) {
		buf_printf(err, "proposal %llu is %s; one at a time",
			   (unsigned long long)p->info.id,
			   mit_prop_state_name(p->info.state));
		return ERR_BADSTATE;
	}
	if (mit_held(p->eng)) {
		buf_puts(err, "automatic actions are held; release them first");
		return ERR_BADSTATE;
	}
	if ((no = unsupported(c))) {
		buf_puts(err, no);
		return ERR_UNSUPPORTED;
	}
	const char *d = req->config_dir;
	struct stat st;
	if (!d || d[0] != '/' || strlen(d) >= PATH_MAX) {
		buf_puts(err, "config_dir must be an absolute path");
		return ERR_INVAL;
	}
	if (stat(d, &st) || !S_ISDIR(st.st_mode)) {
		buf_printf(err, "%s is not a directory", d);
		return ERR_INVAL;
	}
	char *real = NULL;
	int rc = candidate_ok(c, d, &real, err);
	if (rc)
		return rc;
	int64_t soak = req->soak_ns ? req->soak_ns : c->mitigation.soak;
	int64_t min_soak = MIT_PROP_MIN_DATA_TICKS * c->analysis.interval;
	if (soak < min_soak || soak > MIT_PROP_MAX_SOAK_NS) {
		buf_printf(err,
			   "soak must be between %.3g s (%d analysis "
			   "intervals) and 24 h",
			   (double)min_soak / 1e9, MIT_PROP_MIN_DATA_TICKS);
		free(real);
		return ERR_RANGE;
	}
	/* The candidate, content-addressed: what soaks is what is promoted,
	 * whatever happens to the directory meanwhile. */
	char *sd = mit_snapshot_dir(c);
	char *store_dir = xasprintf("%s/proposals", sd);
	free(sd);
	mit_snaps_t *store = NULL;
	rc = mit_snaps_open(store_dir, real, (int)c->mitigation.snapshots.keep,
			    true, &store, err);
	free(store_dir);
	free(real);
	if (rc)
		return rc;
	mit_snap_info_t si;
	bool is_new;
	char reason[MIT_SNAP_REASON_MAX];
	snprintf(reason, sizeof(reason), "proposed by %.40s",
		 req->who && req->who[0] ? req->who : "?");
	rc = mit_snaps_take(store, now, reason, &si, &is_new, err);
	if (!rc && si.nfiles == 0) {
		buf_printf(err, "%s holds no files", d);
		rc = ERR_INVAL;
	}
	if (!rc)
		rc = snapshot_plain(store, si.id, d, err);
	size_t changed;
	/* the staged copy is what the shadow reads */
	if (!rc)
		rc = mit_snaps_restore(store, si.id, p->staged, &changed, err);
	/* the service's own check, before anything changes */
	if (!rc)
		rc = mit_validate(c, p->staged, "the candidate", err);
	if (rc) {
		mit_snaps_close(store);
		return rc;
	}
	mit_snaps_close(p->store);
	p->store = store;

	/* A new proposal. */
	memset(&p->info, 0, sizeof(p->info));
	for (int k = 0; k < AN_METRIC__COUNT; k++)
		p->max_dev[k] = p->thr[k] = NAN;
	p->unhealthy = 0;
	memset(p->far, 0, sizeof(p->far));
	p->applied_ns = now;
	p->restart_asked = false;
	mit_prop_info_t *i = &p->info;
	snprintf(i->config_dir, sizeof(i->config_dir), "%s", d);
	snprintf(i->who, sizeof(i->who), "%s",
		 req->who && req->who[0] ? req->who : "?");
	snprintf(i->snapshot, sizeof(i->snapshot), "%s", si.id);
	i->files = si.nfiles;
	i->bytes = si.bytes;
	i->soak_ns = soak;
	i->stress = req->stress;
	i->dry_run = mit_dry_run(p->eng);
	i->started_ns = now;
	i->state = MIT_PROP_APPLYING;
	p->step_deadline = now + c->mitigation.verify;

	const mit_audit_t *a = mit_audit(p->eng);
	char cond[PATH_MAX + 256];
	snprintf(cond, sizeof(cond),
		 "proposed by %s: %s (snapshot %.12s, %llu file%s); soak %.0f "
		 "s%s%s",
		 i->who, d, si.id, (unsigned long long)si.nfiles,
		 si.nfiles == 1 ? "" : "s", (double)soak / 1e9,
		 i->stress ? ", then a stress test" : "",
		 i->dry_run ? "; dry run" : "");
	i->id = mit_next_id(p->eng);
	mit_rec_decision_t dr = {i->id, now,	 c->service, "proposal", cond,
				 0,	"",	 "propose",  i->dry_run};
	if (a->decision)
		a->decision(a->ctx, &dr);
	char detail[256];
	snprintf(detail, sizeof(detail),
		 "candidate snapshot %.12s to the shadow, restart it, soak",
		 si.id);
	p->action_id = mit_next_id(p->eng);
	mit_rec_action_t ar = {p->action_id, i->id,   now,    c->service,
			       "propose",     "started", detail, cond,
			       ""};
	if (a->action)
		a->action(a->ctx, &ar);
	log_info("propose", "proposal", LF_U("id", i->id), LF_S("who", i->who),
		 LF_S("config_dir", d), LF_S("snapshot", si.id),
		 LF_U("files", si.nfiles), LF_B("dry_run", i->dry_run));
	note(p, "proposal %llu: %s", (unsigned long long)i->id, cond);

	older_findings(p, now);
	mit_shadow_test(p->eng, true);
	rc = p->ops.shadow_install(p->ops.arg, p->staged, err);
	if (rc) {
		char w[MIT_PROP_TEXT_MAX];
		snprintf(w, sizeof(w), "cannot put the candidate in the "
				       "shadow's config: %s",
			 err->data ? err->data : err_str(rc));
		evidence(p, MIT_PROP_EV_STEP, now, "%s", w);
		i->verdict = MIT_PROP_REJECTED;
		i->decided_ns = now;
		snprintf(i->summary, sizeof(i->summary), "rejected: %s", w);
		outcome(p, now, "failed", w);
		/* the shadow's config is as it was: nothing to restore */
		done(p, now);
		return rc;
	}
	char ev[AN_TEXT_MAX];
	snprintf(ev, sizeof(ev), "umbra proposal %.12s: candidate config on "
				 "the shadow",
		 si.id);
	event(p, now, ev);
	/* The restart is asked now; a restart in progress (a rollback)
	 * makes it wait for the next tick. */
	bool ok;
	char why[MIT_PROP_TEXT_MAX];
	if (restart_tick(p, now, &ok, why, sizeof(why)) && !ok) {
		evidence(p, MIT_PROP_EV_HEALTH, now, "%s", why);
		reject(p, now, why);
	}
	return 0;
}

void mit_prop_free(mit_prop_t *p, int64_t now)
{
	if (!p)
		return;
	if (mit_prop_busy(p)) {
		p->info.verdict = MIT_PROP_CANCELLED;
		p->info.decided_ns = now;
		snprintf(p->info.summary, sizeof(p->info.summary),
			 "cancelled: umbra stopped during %s",
			 mit_prop_state_name(p->info.state));
		outcome(p, now, "cancelled", p->info.summary);
		done(p, now);
	}
	mit_snaps_close(p->store);
	free(p->staged);
	free(p);
}
