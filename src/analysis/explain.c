/*
 * explain.c: root cause and context for a finding. The candidate causes
 * are scored 0..1 and ranked; each carries its evidence as text:
 *
 *   change       a deploy or config change on the side that moved, at most
 *                after_change before the onset: 0.9 - 0.4 age/after_change
 *                (one on the other side: 0.3, context only);
 *   scheduled    a task whose span covers the onset: 0.7 when it loads
 *                both sides alike (the raw difference between the sides
 *                stayed under the threshold in every 10-s window of its
 *                run, or both moved the same way from their baselines,
 *                the smaller at least half the larger), 0.6 on the side
 *                that moved, else 0.3;
 *   drift        a config file that differs between the sides: 0.6;
 *   endpoint     the component: 0.85 * concentration * magnitude, where
 *                concentration is the endpoint's share of the summed
 *                contributions (request share * relative deviation) and
 *                magnitude its relative deviation over the metric's
 *                threshold, capped at 1: one endpoint that explains it
 *                all scores high, a deviation spread evenly scores low;
 *   network /    upstream connect time against application time (time to
 *   application  first byte minus connect): 0.9 * f * magnitude for the
 *                network when f, the connect share of the latency change,
 *                is >= 1/2; otherwise 0.6 * (1 - f) * magnitude for the
 *                application;
 *   leading      another metric whose deviation series leads this one
 *                (lagged Pearson correlation >= 0.7 at a lag of >= 3
 *                ticks): 0.5 * |r|;
 *   comoving     metrics that move with it (|r| >= 0.7 at a smaller lag):
 *                0.3 * mean |r|;
 *   note         an operator's note around the onset: 0.3;
 *   side         the side that moved from its own baseline, the other
 *                not: 0.4 * (1 - |other's move| / |mover's move|); the
 *                least specific candidate, ranked below the others.
 *
 * Context lists the events around the onset; a scheduled task covering
 * the onset that loads both sides alike suppresses the finding (it is
 * reported, annotated, and not acted on); a change on the side that moved
 * is attributed (it raises severity and names the change).
 */
#include "analysis/analysis_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NS 1e9

/* Both sides moved alike when they moved the same way and the smaller
 * move is at least this share of the larger: a task that loads both sides
 * moves both by the same order, while a one-sided regression leaves the
 * other side within its noise. */
#define AN_ALIKE_RATIO 0.5
#define AN_XCORR_WINDOW 120 /* ticks of history correlated (2 min at 1 s) */
#define AN_XCORR_MAX_LAG 30 /* ticks; a lead longer than that is history */
#define AN_XCORR_MIN 0.7    /* |r| that counts as moving together */
#define AN_XCORR_MIN_PAIRS 20
#define AN_LEAD_MIN_TICKS 3 /* a lead shorter than this is simultaneity */
/* Per-request cost below a microsecond of CPU is free: the floor of an
 * endpoint's relative cost deviation. */
#define AN_EP_COST_FLOOR 1e-6
#define AN_MAX_EP_CAUSES 3

/* ------------------------------------------------------------ inputs */

/* The slot of endpoint id (linear probing on a multiplicative hash),
 * taken when create and fewer than AN_MAX_ENDPOINTS are tracked;
 * SIZE_MAX when absent or full. */
static size_t ep_slot(an_analyzer_t *a, uint32_t id, bool create)
{
	size_t h = (size_t)(id * 2654435761u) % AN_EP_SLOTS;
	for (size_t i = 0; i < AN_EP_SLOTS; i++) {
		size_t s = (h + i) % AN_EP_SLOTS;
		if (a->ep[s].used && a->ep[s].id == id)
			return s;
		if (!a->ep[s].used) {
			if (!create || a->nep >= AN_MAX_ENDPOINTS)
				return SIZE_MAX;
			a->ep[s].used = true;
			a->ep[s].id = id;
			a->nep++;
			return s;
		}
	}
	return SIZE_MAX;
}

static inline double ewma(double old, double x, double alpha, bool have)
{
	return have ? old + alpha * (x - old) : x;
}

void an__endpoints_update(an_analyzer_t *a, const an_tick_t *t)
{
	double total = 0, al = a->p.smoothing;
	for (size_t i = 0; i < t->nendpoints; i++) {
		double r = t->endpoints[i].requests[AN_PROD];
		if (isfinite(r) && r > 0)
			total += r;
	}
	for (size_t i = 0; i < t->nendpoints; i++) {
		const an_endpoint_in_t *in = &t->endpoints[i];
		size_t s = ep_slot(a, in->id, true);
		if (s == SIZE_MAX)
			continue;
		an_ep_t *e = &a->ep[s];
		if (!e->name[0])
			an__textf(e->name, sizeof(e->name), "%s",
				 in->name && in->name[0] ? in->name : "?");
		double r = in->requests[AN_PROD];
		if (total > 0 && isfinite(r) && r >= 0) {
			e->share = ewma(e->share, r / total, al, e->has_share);
			e->has_share = true;
		}
		if (isfinite(in->cost[0]) && isfinite(in->cost[1])) {
			for (int k = 0; k < 2; k++)
				e->cost[k] = ewma(e->cost[k], in->cost[k], al,
						  e->has_cost);
			e->has_cost = true;
		}
		if (isfinite(in->latency[0]) && isfinite(in->latency[1])) {
			for (int k = 0; k < 2; k++)
				e->latency[k] = ewma(e->latency[k],
						     in->latency[k], al,
						     e->has_latency);
			e->has_latency = true;
		}
		if (isfinite(in->differ_rate)) {
			e->differ = ewma(e->differ, in->differ_rate, al,
					 e->has_differ);
			e->has_differ = true;
		}
		e->last_tick = a->tick;
	}
}

void an__network_update(an_analyzer_t *a, const an_tick_t *t)
{
	for (int k = 0; k < 2; k++)
		if (!isfinite(t->connect_s[k]) || !isfinite(t->ttfb_s[k]))
			return;
	double al = a->p.smoothing;
	for (int k = 0; k < 2; k++) {
		a->net_connect[k] = ewma(a->net_connect[k], t->connect_s[k], al,
					 a->net_ok);
		a->net_ttfb[k] = ewma(a->net_ttfb[k], t->ttfb_s[k], al,
				      a->net_ok);
	}
	a->net_ok = true;
}

static const an_ev_t *event_at(const an_analyzer_t *a, size_t i)
{
	return &a->ev[(a->ev_head + i) % AN_MAX_EVENTS];
}

bool an__recent_change(const an_analyzer_t *a, int64_t t_ns)
{
	for (size_t i = 0; i < a->ev_count; i++) {
		const an_ev_t *e = event_at(a, i);
		if (e->kind == AN_EV_REPLAY && e->start_ns <= t_ns &&
		    e->end_ns >= t_ns)
			return true;
		if ((e->kind == AN_EV_DEPLOY || e->kind == AN_EV_CONFIG_CHANGE) &&
		    e->side != AN_BOTH && e->start_ns <= t_ns &&
		    t_ns - e->start_ns <= a->p.after_change_ns)
			return true;
	}
	return false;
}

unsigned an__recent_change_sides(const an_analyzer_t *a, int64_t t_ns)
{
	unsigned sides = 0;
	for (size_t i = 0; i < a->ev_count; i++) {
		const an_ev_t *e = event_at(a, i);
		if ((e->kind == AN_EV_DEPLOY || e->kind == AN_EV_CONFIG_CHANGE) &&
		    (e->side == AN_PROD || e->side == AN_SHADOW) &&
		    e->start_ns <= t_ns &&
		    t_ns - e->start_ns <= a->p.after_change_ns)
			sides |= 1u << e->side;
	}
	return sides;
}

bool an__sched_covers(const an_sched_t *s, int64_t t_ns, int64_t *start)
{
	/* cron_next works on seconds and minute boundaries: the first start
	 * at or after t - duration, if it is not after t, covers t */
	time_t t = (time_t)(t_ns / 1000000000LL);
	time_t from = t - (time_t)(s->duration_ns / 1000000000LL) - 1;
	time_t st = cron_next(&s->cron, from);
	if (st < 0 || st > t)
		return false;
	*start = (int64_t)st * 1000000000LL;
	return true;
}

/* ------------------------------------------------------------ building */

static void add_cause(an_finding_t *f, an_cause_kind_t kind, double score,
		      const char *subject, const char *evidence)
{
	/* keep the best AN_MAX_CAUSES: replace the weakest when full */
	size_t i = f->ncauses;
	if (i == AN_MAX_CAUSES) {
		size_t w = 0;
		for (size_t j = 1; j < AN_MAX_CAUSES; j++)
			if (f->cause[j].score < f->cause[w].score)
				w = j;
		if (f->cause[w].score >= score)
			return;
		i = w;
	} else {
		f->ncauses++;
	}
	an_cause_t *c = &f->cause[i];
	c->kind = kind;
	c->score = score < 0 ? 0 : score > 1 ? 1 : score;
	an__textf(c->subject, sizeof(c->subject), "%s", subject);
	an__textf(c->evidence, sizeof(c->evidence), "%s", evidence);
}

/* Appends a context item to f; NULL (and nothing added) when full. */
static an_context_t *add_context(an_finding_t *f, an_event_kind_t kind,
				 an_side_t side, int64_t start, int64_t end,
				 const char *name, const char *text)
{
	if (f->ncontext == AN_MAX_CONTEXT)
		return NULL;
	an_context_t *c = &f->context[f->ncontext++];
	c->kind = kind;
	c->side = side;
	c->start_ns = start;
	c->end_ns = end;
	an__textf(c->name, sizeof(c->name), "%s", name);
	an__textf(c->text, sizeof(c->text), "%s", text);
	return c;
}

/* Both sides moved the same way by the same order (from their
 * baselines). */
static bool moved_alike(const an_finding_t *f)
{
	double p = f->change[AN_PROD], s = f->change[AN_SHADOW];
	if (p * s <= 0)
		return false;
	double lo = fmin(fabs(p), fabs(s)), hi = fmax(fabs(p), fabs(s));
	return lo >= AN_ALIKE_RATIO * hi;
}

/* A task span covering the onset: context, cause, suppression. */
static void task_covers(an_analyzer_t *a, an_finding_t *f, const char *name,
			an_side_t side, int64_t start, int64_t end)
{
	bool both = side == AN_BOTH, judged = false;
	/* A task on both sides loads them alike when the sides, compared
	 * directly, stayed together over its run: each side's baseline
	 * soaks up part of a long task's load (it learns while the metric
	 * is quiet), so their moves from those baselines (+15 % against
	 * +35 %) can say "not alike" of sides whose raw difference never
	 * left the threshold. Moves of the same order from baselines that
	 * held (a task that started loud) are alike too. */
	bool alike = both && (an__alike_over(a, f->metric, start, &judged) &&
			      judged);
	if (both && !alike)
		alike = moved_alike(f);
	bool explains = (both && alike) || side == f->mover;
	an_context_t *c = add_context(f, AN_EV_SCHEDULED, side, start, end,
				      name, "");
	if (c) {
		c->explains = explains;
		an__textf(c->text, sizeof(c->text),
			 "scheduled task '%s' on %s, %.0f s into its run at "
			 "the onset%s",
			 name, an_side_name(side),
			 (double)(f->onset_ns - start) / NS,
			 both && alike ? "; both sides moved alike" : "");
	}
	if (both && alike && c) /* c: the annotation is there to say why */
		f->suppressed = true;
	char ev[AN_TEXT_MAX];
	an__textf(ev, sizeof(ev),
		 "running on %s since %.0f s before the onset; production "
		 "%+.0f%%, shadow %+.0f%% from their baselines",
		 an_side_name(side), (double)(f->onset_ns - start) / NS,
		 100 * f->change[AN_PROD], 100 * f->change[AN_SHADOW]);
	add_cause(f, AN_CAUSE_SCHEDULED,
		  both && alike ? 0.7 : explains ? 0.6 : 0.3, name, ev);
	(void)a;
}

/* A replay into side (umbra replay --announce) going on while f's
 * deviation grew: the replayed requests load that side without passing
 * the proxy, so its per-request costs, its latency and its memory say
 * what the replay costs, not what production's traffic does. A finding
 * on such a metric whose mover is the replayed side is explained by it:
 * suppressed, annotated, not acted on. Correctness (error_rate,
 * diff_rate, from the mirrored pairs alone) is judged as usual, with the
 * replay in its context. */
static void replay_covers(an_finding_t *f, const an_ev_t *e, const char *name)
{
	bool on_mover = e->side == f->mover || e->side == AN_BOTH;
	bool load = f->metric != AN_M_error_rate && f->metric != AN_M_diff_rate;
	bool explains = on_mover && load;
	an_context_t *c = add_context(f, AN_EV_REPLAY, e->side, e->start_ns,
				      e->end_ns, name, e->text);
	if (c)
		c->explains = explains;
	if (explains && c)
		f->suppressed = true;
	char ev[AN_TEXT_MAX];
	an__textf(ev, sizeof(ev),
		 "traffic replayed into %s since %.0f s before the onset%s",
		 an_side_name(e->side),
		 (double)(f->onset_ns - e->start_ns) / NS,
		 explains ? ": the side's load is not production's" : "");
	add_cause(f, AN_CAUSE_REPLAY, explains ? 0.8 : 0.3, name, ev);
}

/* Events and scheduled tasks around f's onset: context, causes,
 * attribution and suppression. */
static void explain_events(an_analyzer_t *a, an_finding_t *f)
{
	int64_t onset = f->onset_ns, win = a->p.after_change_ns;
	/* the onset estimate can run a little ahead of the change that
	 * caused it: allow one velocity window of slack */
	int64_t slack = (int64_t)((double)a->vel_pts * a->interval_s * NS);
	for (size_t i = 0; i < a->ev_count; i++) {
		const an_ev_t *e = event_at(a, i);
		char name[AN_NAME_MAX];
		an__textf(name, sizeof(name), "%s", e->text[0] ? e->text : "?");
		if (e->kind == AN_EV_SCHEDULED) {
			if (e->start_ns <= onset + slack && e->end_ns >= onset)
				task_covers(a, f, name, e->side, e->start_ns,
					    e->end_ns);
			continue;
		}
		if (e->kind == AN_EV_REPLAY) {
			if (e->start_ns <= f->t_ns && e->end_ns >= onset)
				replay_covers(f, e, name);
			continue;
		}
		if (e->start_ns > onset + slack || e->start_ns < onset - win)
			continue;
		double age = (double)(onset - e->start_ns) / NS;
		if (e->kind == AN_EV_NOTE) {
			add_context(f, e->kind, e->side, e->start_ns, e->end_ns,
				    name, e->text);
			char ev[AN_TEXT_MAX];
			an__textf(ev, sizeof(ev), "note on %s %.0f s before "
						 "the onset",
				 an_side_name(e->side), age);
			add_cause(f, AN_CAUSE_NOTE, 0.3, name, ev);
			continue;
		}
		bool attributed = e->side == f->mover || e->side == AN_BOTH;
		an_context_t *c = add_context(f, e->kind, e->side, e->start_ns,
					      e->end_ns, name, e->text);
		if (c)
			c->attributed = attributed;
		char ev[AN_TEXT_MAX];
		an__textf(ev, sizeof(ev),
			 "%s on %s %.0f s before the onset; %s moved %+.0f%% "
			 "from its baseline",
			 an_event_kind_name(e->kind), an_side_name(e->side),
			 age, an_side_name(f->mover),
			 100 * f->change[f->mover]);
		double sc = attributed ? 0.9 - 0.4 * fmax(0, age) /
						     fmax(1, (double)win / NS)
				       : 0.3;
		add_cause(f, AN_CAUSE_CHANGE, sc, name, ev);
	}
	for (size_t i = 0; i < a->p.nsched; i++) {
		const an_sched_t *s = &a->sched[i];
		int64_t start;
		if (an__sched_covers(s, onset, &start))
			task_covers(a, f, s->name, s->side, start,
				    start + s->duration_ns);
	}
}

/* The tick's drift (borrowed from the caller): the first three files. */
static void explain_drift(an_analyzer_t *a, an_finding_t *f)
{
	const an_tick_t *t = a->cur;
	for (size_t i = 0; i < t->ndrift && i < 3; i++) {
		const an_drift_in_t *d = &t->drift[i];
		const char *file = d->file ? d->file : "?";
		const char *keys = d->keys && d->keys[0] ? d->keys : "(content)";
		char ev[AN_TEXT_MAX];
		an__textf(ev, sizeof(ev), "differs between production and "
					 "shadow: %s",
			 keys);
		an_context_t *c = add_context(f, AN_EV_CONFIG_CHANGE, AN_BOTH,
					      a->cur->t_ns, a->cur->t_ns, file,
					      ev);
		if (c)
			c->drift = true;
		add_cause(f, AN_CAUSE_DRIFT, 0.6, file, ev);
	}
}

/* Endpoint numbers for metric m: which per-endpoint figure moves it. */
typedef enum { EP_NONE, EP_LATENCY, EP_COST, EP_DIFFER } ep_fig_t;

static ep_fig_t ep_figure(an_metric_t m)
{
	switch (m) {
	case AN_M_latency_p50:
	case AN_M_latency_p90:
	case AN_M_latency_p99:
		return EP_LATENCY;
	case AN_M_cpu:
		return EP_COST;
	case AN_M_diff_rate:
	case AN_M_error_rate:
		return EP_DIFFER;
	default:
		return EP_NONE;
	}
}

/* "The component": the endpoints whose figure for metric m deviates
 * most in the finding's direction (sign), weighted by their share of
 * requests; the top AN_MAX_EP_CAUSES become causes. */
static void explain_endpoints(an_analyzer_t *a, an_metric_t m,
			      an_finding_t *f, double sign)
{
	ep_fig_t fig = ep_figure(m);
	if (fig == EP_NONE || a->nep == 0)
		return;
	double thr = a->p.metric[m].threshold > 0 ? a->p.metric[m].threshold
						  : 0.1;
	double floor = fig == EP_LATENCY ? a->p.metric[AN_M_latency_p50].floor
				       : AN_EP_COST_FLOOR;
	struct {
		size_t slot;
		double rel, contrib;
	} top[AN_MAX_EP_CAUSES] = {{0}};
	size_t ntop = 0;
	double sum = 0;
	for (size_t i = 0; i < AN_EP_SLOTS; i++) {
		an_ep_t *e = &a->ep[i];
		if (!e->used || a->tick - e->last_tick > (int64_t)a->hist_len)
			continue;
		double rel;
		if (fig == EP_DIFFER) {
			if (!e->has_differ)
				continue;
			rel = e->differ;
		} else {
			const double *v = fig == EP_LATENCY ? e->latency : e->cost;
			if (!(fig == EP_LATENCY ? e->has_latency : e->has_cost))
				continue;
			rel = (v[1] - v[0]) / fmax(fabs(v[0]), floor) * sign;
		}
		double c = (e->has_share ? e->share : 0) * fmax(0, rel);
		if (c <= 0)
			continue;
		sum += c;
		/* insert into the top list, largest contribution first */
		size_t j = ntop < AN_MAX_EP_CAUSES ? ntop++ : AN_MAX_EP_CAUSES;
		while (j > 0 && top[j - 1].contrib < c) {
			if (j < AN_MAX_EP_CAUSES)
				top[j] = top[j - 1];
			j--;
		}
		if (j < AN_MAX_EP_CAUSES) {
			top[j].slot = i;
			top[j].rel = rel;
			top[j].contrib = c;
		}
	}
	for (size_t k = 0; k < ntop; k++) {
		const an_ep_t *e = &a->ep[top[k].slot];
		double conc = top[k].contrib / sum;
		double mag = fmin(1, top[k].rel / thr);
		if (top[k].rel < thr / 2)
			continue;
		char ev[AN_TEXT_MAX];
		if (fig == EP_DIFFER)
			an__textf(ev, sizeof(ev),
				 "%.1f%% of its pairs differ; %.0f%% of "
				 "requests; %.0f%% of the summed deviation",
				 100 * e->differ, 100 * e->share, 100 * conc);
		else
			an__textf(ev, sizeof(ev),
				 "%s %+.0f%% on shadow vs production (%.4g vs "
				 "%.4g%s); %.0f%% of requests; %.0f%% of the "
				 "summed deviation",
				 fig == EP_LATENCY ? "latency" : "cost per request",
				 100 * sign * top[k].rel,
				 fig == EP_LATENCY ? 1000 * e->latency[1]
						   : e->cost[1],
				 fig == EP_LATENCY ? 1000 * e->latency[0]
						   : e->cost[0],
				 fig == EP_LATENCY ? " ms" : " s",
				 100 * e->share, 100 * conc);
		add_cause(f, AN_CAUSE_ENDPOINT, 0.85 * conc * mag, e->name, ev);
	}
}

/* Network against application: how much of the latency change between
 * the sides is upstream connect time. */
static void explain_network(an_analyzer_t *a, an_metric_t m, an_finding_t *f,
			    double sign)
{
	bool lat = m == AN_M_latency_p50 || m == AN_M_latency_p90 ||
		   m == AN_M_latency_p99;
	if (!a->net_ok || !(lat || m == AN_M_net_rx || m == AN_M_net_tx))
		return;
	const double *c = a->net_connect, *t = a->net_ttfb;
	double dc = (c[1] - c[0]) * sign;
	double da = ((t[1] - c[1]) - (t[0] - c[0])) * sign;
	double pos = fmax(0, dc) + fmax(0, da);
	if (pos <= 0)
		return;
	double frac = fmax(0, dc) / pos;
	double base = fmax(t[0], a->p.metric[AN_M_latency_p50].floor);
	double thr = a->p.metric[m].threshold > 0 ? a->p.metric[m].threshold
						  : 0.1;
	double mag = fmin(1, pos / base / thr);
	const an_mstate_t *rx = &a->m[AN_M_net_rx], *tx = &a->m[AN_M_net_tx];
	char ev[AN_TEXT_MAX];
	an__textf(ev, sizeof(ev),
		 "upstream connect %+.1f ms, application time (ttfb - "
		 "connect) %+.1f ms, shadow vs production; net_rx/tx "
		 "deviation %.2f/%.2f",
		 1000 * (c[1] - c[0]), 1000 * ((t[1] - c[1]) - (t[0] - c[0])),
		 rx->dev, tx->dev);
	if (frac >= 0.5)
		add_cause(f, AN_CAUSE_NETWORK, 0.9 * frac * mag, "network", ev);
	else
		add_cause(f, AN_CAUSE_APPLICATION, 0.6 * (1 - frac) * mag,
			  "application", ev);
}

/* The last n history values of metric j ending at the current tick. */
static void hist_window(const an_analyzer_t *a, int j, double *out, size_t n)
{
	const an_mstate_t *s = &a->m[j];
	for (size_t i = 0; i < n; i++) {
		int64_t k = a->tick - (int64_t)(n - 1 - i);
		out[i] = k < 0 ? NAN : s->hist[(size_t)k % a->hist_len];
	}
}

/* Lagged correlation of m's deviation history with every other
 * metric's: the one that moved first, and those that move with it. */
static void explain_metrics(an_analyzer_t *a, an_metric_t m, an_finding_t *f)
{
	size_t n = a->hist_len < AN_XCORR_WINDOW ? a->hist_len : AN_XCORR_WINDOW;
	double x[AN_XCORR_WINDOW], y[AN_XCORR_WINDOW];
	hist_window(a, m, x, n);
	char co[AN_NAME_MAX * 2] = "";
	double co_r = 0;
	int nco = 0, lead = -1, lead_lag = 0;
	double lead_r = 0;
	for (int j = 0; j < AN_METRIC__COUNT; j++) {
		if (j == (int)m)
			continue;
		hist_window(a, j, y, n);
		double peak = 0;
		for (size_t i = 0; i < n; i++)
			if (isfinite(y[i]) && fabs(y[i]) > peak)
				peak = fabs(y[i]);
		if (peak < a->m[j].thr_eff / 2)
			continue; /* it did not move */
		double best = 0;
		int best_lag = 0;
		for (int lag = -AN_XCORR_MAX_LAG; lag <= AN_XCORR_MAX_LAG; lag++) {
			double r = an_lagged_corr(x, y, n, lag,
						  AN_XCORR_MIN_PAIRS);
			if (isfinite(r) && fabs(r) > fabs(best)) {
				best = r;
				best_lag = lag;
			}
		}
		if (fabs(best) < AN_XCORR_MIN)
			continue;
		if (best_lag >= AN_LEAD_MIN_TICKS) {
			if (fabs(best) > lead_r) {
				lead = j;
				lead_r = fabs(best);
				lead_lag = best_lag;
			}
		} else if (best_lag > -AN_LEAD_MIN_TICKS) {
			size_t l = strlen(co);
			an__textf(co + l, sizeof(co) - l, "%s%s", nco ? ", " : "",
				 an_metric_name((an_metric_t)j));
			co_r += fabs(best);
			nco++;
		}
	}
	char ev[AN_TEXT_MAX];
	if (lead >= 0) {
		an__textf(ev, sizeof(ev),
			 "its deviation leads %s's by %.0f s (r = %.2f)",
			 an_metric_name(m), lead_lag * a->interval_s, lead_r);
		add_cause(f, AN_CAUSE_LEADING, 0.5 * lead_r,
			  an_metric_name((an_metric_t)lead), ev);
	}
	if (nco) {
		an__textf(ev, sizeof(ev),
			 "deviations move with %s's (mean |r| = %.2f)",
			 an_metric_name(m), co_r / nco);
		add_cause(f, AN_CAUSE_COMOVING, 0.3 * co_r / nco, co, ev);
	}
}

/* Causes by score, highest first (insertion sort: at most 8). */
static void sort_causes(an_finding_t *f)
{
	for (size_t i = 1; i < f->ncauses; i++) {
		an_cause_t c = f->cause[i];
		size_t j = i;
		while (j > 0 && f->cause[j - 1].score < c.score) {
			f->cause[j] = f->cause[j - 1];
			j--;
		}
		f->cause[j] = c;
	}
}

/* The side that moved while the other did not. */
static void explain_side(an_finding_t *f)
{
	double mv = fabs(f->change[f->mover]);
	double other = fabs(f->change[f->mover == AN_PROD ? AN_SHADOW : AN_PROD]);
	if (mv <= 0 || other >= mv)
		return;
	char ev[AN_TEXT_MAX];
	an__textf(ev, sizeof(ev),
		  "%s moved %+.1f%% from its own baseline, %s %+.1f%%",
		  an_side_name(f->mover), 100 * f->change[f->mover],
		  an_side_name(f->mover == AN_PROD ? AN_SHADOW : AN_PROD),
		  100 * f->change[f->mover == AN_PROD ? AN_SHADOW : AN_PROD]);
	add_cause(f, AN_CAUSE_SIDE, 0.4 * (1 - other / mv),
		  an_side_name(f->mover), ev);
}

void an__explain(an_analyzer_t *a, an_metric_t m, an_finding_t *f)
{
	double sign = a->m[m].ewma >= 0 ? 1 : -1;
	explain_side(f);
	explain_events(a, f);
	explain_drift(a, f);
	explain_endpoints(a, m, f, sign);
	explain_network(a, m, f, sign);
	explain_metrics(a, m, f);
	sort_causes(f);
}
