/*
 * analysis.c: the streaming deviation analysis, one tick at a time:
 * normalise, deviation, smoothing, velocity, envelope, forecast, and the
 * life of a finding (open, escalate, close) with its severity and action.
 * Root cause and context are in explain.c, the judge in verdict.c; the
 * formulas are collected in docs/analysis.md.
 */
#include "analysis/analysis_int.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS 1e9

/* A condition must hold this many consecutive ticks before it opens a
 * finding: longer than the one- or two-tick glitch a GC pause or a late
 * scrape makes, short enough to cost almost no lead time. */
#define AN_CONFIRM_TICKS 3
/* A finding closes after nothing held it for this long (and the
 * deviation sat below AN_HYSTERESIS of its threshold), so that a
 * deviation hovering around its threshold is one finding, not many. */
#define AN_CLEAR_S 30.0
#define AN_HYSTERESIS 0.8
/* The forecaster sees the deviation in steps of horizon / AN_FC_STEPS:
 * forecasting 300 one-second points ahead multiplies the trend's noise by
 * 300; on 30 steps of 10-s means the noise of each point shrinks by
 * sqrt(10) and the multiplier by 10. */
#define AN_FC_STEPS 30
/* The forecaster must have seen one horizon of steps before it predicts:
 * Holt's first trend is the difference of two noisy points, and with
 * beta = 0.1 it takes some 30 steps to forget it (0.9^30 = 4%). */
#define AN_FC_MIN_STEPS AN_FC_STEPS
#define AN_FC_LEVEL 0.95    /* the forecaster's interval level */
/* After a gap longer than this in a metric's data its smoothing,
 * velocity and confirmation restart: the old state describes another
 * time. */
#define AN_STALE_S 30.0
/* A predicted crossing counts when the forecast at the horizon is over
 * the threshold with this probability (from the forecaster's interval),
 * on this many consecutive steps: one noisy step is not a trend. */
#define AN_PRED_MIN_CONF 0.8
#define AN_PRED_CONFIRM 3
/* The trend check looks at the last third of the forecaster's horizon
 * of steps (100 s at the defaults): long enough for a slope through
 * 10-s means, short enough that a step 100 s old no longer tilts it. */
#define AN_PRED_TREND_STEPS (AN_FC_STEPS / 3)
/* The envelope applies once it holds this many points' worth of weight
 * (5 minutes at 1 s): a 0.99 quantile needs a few hundred points. */
#define AN_ENV_MIN_COUNT 300.0
/* A point is learned as noise only under AN_ENV_ADMIT times the effective
 * threshold and under the critical one: the envelope may grow step by
 * step with real noise but cannot swallow a regression in one go. */
#define AN_ENV_ADMIT 2.0
#define AN_ENV_REFRESH 10 /* ticks between quantile recomputations */
/* Each side's own baseline (to tell which side moved) forgets with this
 * half-life while the metric is quiet, and is frozen otherwise. */
#define AN_REF_HALF_LIFE_S 300.0
/* A deviation is pre-existing, and no side moved into it, when the
 * deviation between the two baselines has its sign and at least this
 * share of the larger of its size and the threshold. Half, because the
 * baselines learn only while the metric is quiet (D < T/2): baselines
 * learned in a quiet period stay under T/2 apart, so only baselines that
 * held the deviation from the first tick pass, and then only while the
 * current deviation is less than twice theirs (more is a new move). */
#define AN_MOVER_PREEXISTING 0.5
/* A side moved from its own baseline when its relative change is over
 * this many times its mean |change| while quiet: for normal noise the
 * mean |x| is 0.8 sigma, so 4 is about 3.2 sigma, which noise passes on
 * one tick in a thousand. */
#define AN_MOVER_NOISE_K 4.0
/* An event that loads both sides is judged on the sides' raw difference
 * in windows of this length: the scheduled-job case of issue 22 never
 * left 10 % over 10-s windows while single ticks did; ten ticks at 1 s
 * average the per-tick noise down by three, and a one-sided effect the
 * size of the threshold still shows in full. */
#define AN_ALIKE_WINDOW_S 10.0
/* Below this many requests per second a per-request cost is the noise of
 * a handful of requests: load-driven metrics are not compared. */
#define AN_RPS_FLOOR 0.5
#define AN_VEL_MIN_POINTS 3 /* Theil-Sen on two points is no guard */
#define AN_HIST_MIN 64      /* ticks of history for root cause, at least */
#define AN_HIST_MAX 3600    /* and at most (memory: 8 bytes each) */
/* Severity at or over which the recommended action is an alert. */
#define AN_ALERT_SEVERITY 50.0

static inline double median3(double a, double b, double c)
{
	return a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
}

/* max/min for values that are never NaN here: inline, where libm's
 * fmax/fmin are calls (they honour NaN). */
static inline double dmax(double a, double b)
{
	return a > b ? a : b;
}

static inline double clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* ------------------------------------------------------------ lifecycle */

int an_analyzer_init(an_analyzer_t **out, const an_params_t *params,
		     const char **why)
{
	int rc = an_params_validate(params, why);
	if (rc)
		return rc;
	an_analyzer_t *a = xcalloc(1, sizeof(*a));
	a->p = *params;
	if (params->nsched) {
		a->sched = xreallocarray(NULL, params->nsched, sizeof(an_sched_t));
		memcpy(a->sched, params->sched,
		       params->nsched * sizeof(an_sched_t));
	}
	a->p.sched = a->sched;

	const an_params_t *p = &a->p;
	double iv = (double)p->interval_ns;
	a->interval_s = iv / NS;
	double vp = round((double)p->velocity_window_ns / iv);
	a->vel_pts = vp < AN_VEL_MIN_POINTS  ? AN_VEL_MIN_POINTS
		     : vp > AN_TS_MAX_POINTS ? AN_TS_MAX_POINTS
					     : (size_t)vp;
	a->clear_ticks = (int64_t)ceil(AN_CLEAR_S / a->interval_s);
	a->stale_ticks = (int64_t)ceil(AN_STALE_S / a->interval_s);
	a->warmup_ticks = (uint64_t)ceil((double)p->warmup_ns / iv);
	if (a->clear_ticks < AN_CONFIRM_TICKS)
		a->clear_ticks = AN_CONFIRM_TICKS;
	double h = round((double)p->horizon_ns / iv);
	a->fc_step_ticks = (uint32_t)fmax(1, round(h / AN_FC_STEPS));
	a->fc_steps_h = (uint32_t)fmax(1, ceil(h / a->fc_step_ticks));
	double vw = round((double)p->verdict_window_ns / iv);
	a->vb_ticks = (uint32_t)fmax(1, floor(vw / AN_VBLOCKS));
	double hl = round((double)p->history_ns / iv);
	a->hist_len = hl < AN_HIST_MIN   ? AN_HIST_MIN
		      : hl > AN_HIST_MAX ? AN_HIST_MAX
					 : (size_t)hl;
	a->ref_alpha = 1 - exp2(-a->interval_s / AN_REF_HALF_LIFE_S);
	a->fc_z = an_norm_quantile(0.5 + AN_FC_LEVEL / 2);

	an_fc_params_t fp = {.level = AN_FC_LEVEL};
	for (int m = 0; m < AN_METRIC__COUNT; m++) {
		an_mstate_t *s = &a->m[m];
		s->fc = an_forecaster_new(p->forecaster, &fp);
		if (!s->fc) {
			an_analyzer_free(a);
			if (why)
				*why = "forecaster not available in this build";
			return ERR_UNSUPPORTED;
		}
		an_decayhist_init(&s->env, (double)p->envelope_half_life_ns / iv);
		s->hist = xreallocarray(NULL, a->hist_len, sizeof(double));
		s->rawh = xreallocarray(NULL, a->hist_len, sizeof(double));
		for (size_t i = 0; i < a->hist_len; i++)
			s->hist[i] = s->rawh[i] = NAN;
		s->vhigh_tick = INT64_MIN / 2;
		s->fc_step = -1;
		s->vb_idx = -1;
		s->thr_eff = p->metric[m].threshold;
		s->crit_eff = p->metric[m].critical;
	}
	a->load_fc = an_forecaster_new(p->forecaster, &fp);
	a->load_step = -1;
	a->load_forecast = a->load_now = NAN;
	a->ep = xcalloc(AN_EP_SLOTS, sizeof(an_ep_t));
	for (int side = 0; side < 2 && p->anomalies; side++)
		for (int m = 0; m < AN_METRIC__COUNT; m++)
			a->det[side][m] = an_det_new(AN_DET_DEFAULT);
	*out = a;
	return 0;
}

void an_analyzer_free(an_analyzer_t *a)
{
	if (!a)
		return;
	for (int m = 0; m < AN_METRIC__COUNT; m++) {
		an_forecaster_free(a->m[m].fc);
		free(a->m[m].hist);
		free(a->m[m].rawh);
	}
	an_forecaster_free(a->load_fc);
	for (int side = 0; side < 2; side++)
		for (int m = 0; m < AN_METRIC__COUNT; m++)
			an_det_free(a->det[side][m]);
	free(a->ep);
	free(a->sched);
	free(a);
}

int an_analyzer_event(an_analyzer_t *a, const an_event_t *ev)
{
	if (ev->end_ns < ev->start_ns || (unsigned)ev->kind >= AN_EV__COUNT ||
	    (ev->side != AN_PROD && ev->side != AN_SHADOW &&
	     ev->side != AN_BOTH))
		return ERR_INVAL;
	size_t i = (a->ev_head + a->ev_count) % AN_MAX_EVENTS;
	if (a->ev_count == AN_MAX_EVENTS)
		a->ev_head = (a->ev_head + 1) % AN_MAX_EVENTS;
	else
		a->ev_count++;
	an_ev_t *e = &a->ev[i];
	e->start_ns = ev->start_ns;
	e->end_ns = ev->end_ns;
	e->kind = ev->kind;
	e->side = ev->side;
	an__textf(e->text, sizeof(e->text), "%s", ev->text ? ev->text : "");
	return 0;
}

/* ------------------------------------------------------------ normalise */

/* Per-unit values of production and side x (shadow or baseline) for
 * metric m: per request for load-driven metrics when both rates are
 * known, otherwise the shadow divided by its traffic ratio; *scale is the
 * factor back to production's load; *res the resolution of the
 * difference between the two on production's scale (the tick's
 * resolutions, see deviation()). False when a value is missing or the
 * load too low to divide by. */
static bool normalise(const an_analyzer_t *a, an_metric_t m,
		      const an_tick_t *t, int x, double *up, double *ux,
		      double *scale, double *res)
{
	/* the resolution of the difference x - p on production's scale:
	 * the sum of the sides', each brought to production's load as its
	 * value is (below) */
	double res_p = t->resolution[AN_PROD][m], res_x = t->resolution[x][m];
	res_p = res_p > 0 && isfinite(res_p) ? res_p : 0;
	res_x = res_x > 0 && isfinite(res_x) ? res_x : 0;
	*res = res_p + res_x;
	double p = t->value[AN_PROD][m], v = t->value[x][m];
	an_norm_t n = an_metric_norm(m);
	if (n == AN_NORM_SHARE && !isfinite(p))
		p = 0; /* production does not differ from itself */
	if (!isfinite(p) || !isfinite(v))
		return false;
	*scale = 1;
	if (n == AN_NORM_LOAD) {
		double rp = t->rps[AN_PROD], rx = t->rps[x];
		if (isfinite(rp) && isfinite(rx)) {
			if (rp < AN_RPS_FLOOR || rx < AN_RPS_FLOOR * a->p.ratio)
				return false;
			*up = p / rp;
			*ux = v / rx;
			*scale = rp;
			*res = res_p + res_x * rp / rx;
			return true;
		}
		*up = p;
		*ux = v / a->p.ratio;
		*res = res_p + res_x / a->p.ratio;
		return true;
	}
	*up = p;
	*ux = v;
	return true;
}

/* The seed's deviation |p - s| / p, signed (s - p) and with the
 * denominator floored, made symmetric: the difference is relative to
 * the smaller side, so that a side twice the other reads 1 whichever side
 * it is. When the shadow is the larger this is the seed's formula; when
 * production is, its mirror image (the seed's would be bounded by 1, and
 * a critical level over 1 could never catch a production regression,
 * which is what rollbacks are for). On production's scale:
 * (ux - up) * scale / max(min(|up|, |ux|) * scale, floor).
 *
 * Significance floor: the difference is first shrunk towards zero by res,
 * the resolution of the difference (soft thresholding, Donoho and
 * Johnstone 1994): a difference the counters cannot resolve (a CPU tick
 * more on one side) is 0, and a larger one counts only by what the
 * measurement can vouch for, so quantisation never makes a finding. */
static inline double deviation(double up, double ux, double scale,
			       double floor, double res)
{
	double small = fabs(up) < fabs(ux) ? fabs(up) : fabs(ux);
	double d = small * scale;
	double diff = (ux - up) * scale;
	double mag = fabs(diff) - res;
	if (!(mag > 0))
		return 0;
	return (diff < 0 ? -mag : mag) / (d > floor ? d : floor);
}

/* ------------------------------------------------------------ findings */

/* The tick at which metric m's deviation started: going back from now,
 * the tick after the last one under half the effective threshold. */
static int64_t onset_tick(const an_analyzer_t *a, const an_mstate_t *s)
{
	double half = s->thr_eff / 2;
	int64_t k = a->tick, stop = a->tick - (int64_t)a->hist_len + 1;
	if (stop < 0)
		stop = 0;
	for (; k > stop; k--) {
		double h = s->hist[(size_t)(k - 1) % a->hist_len];
		if (isfinite(h) && fabs(h) < half)
			return k;
	}
	return stop;
}

/* Which side moved from its own baseline, and which way: sets
 * s->mover, s->mover_dir and s->change (each side's relative change
 * from its baseline, always reported).
 *
 * Each side's move is judged against its own noise: it moved when its
 * change is over sig = max(AN_MOVER_NOISE_K x its mean |change| while
 * quiet, a quarter of the deviation). Then, in order:
 *   1. A deploy or config change on one side only, within after_change
 *      (events.after_change), weighs towards that side: it is the mover
 *      when it moved, or when the other side did not (nothing else can
 *      explain the deviation), or for a share (diff_rate: the share of
 *      pairs that differ belongs to the pair, and production's own value
 *      is 0). A side that did not change cannot be moved by the other's
 *      config; only when the changed side stayed within its noise and
 *      the other did not is the other the mover.
 *   2. A deviation already present between the two baselines (their
 *      deviation, by the same formula, has the current one's sign and
 *      at least AN_MOVER_PREEXISTING of the larger of its size and the
 *      threshold) is pre-existing: neither side moved into it, e.g. a
 *      shadow whose config differed from the first tick. Production
 *      wandering afterwards (load) must not make it the mover. The
 *      threshold term keeps out an offset under T/2 that both baselines
 *      learned while quiet: a drift on top of it is a move (else a
 *      prediction would wait until the drift doubled the offset).
 *   3. Otherwise the side that moved; when both did, the one further
 *      over its own noise (change / sig).
 * When no side moved (pre-existing, noise, or no baselines yet), the
 * shadow is taken as the side under test, as Kayenta takes the canary.
 * The direction is the mover's own change when it moved, else the
 * deviation's, seen from the mover (production above the shadow is
 * production increasing; a share is bad as it grows). */
static void find_mover(const an_analyzer_t *a, an_metric_t m, an_mstate_t *s)
{
	double fl = a->p.metric[m].floor;
	double floor_u = fl / (s->scale > 0 ? s->scale : 1);
	bool moved[2];
	double z[2];
	for (int i = 0; i < 2; i++) {
		double r = s->ref[i];
		s->change[i] = s->ref_ok ? (s->u[i] - r) /
						   fmax(fabs(r), floor_u)
					 : 0;
		double sig = fmax(AN_MOVER_NOISE_K * s->ref_noise[i], s->dev / 4);
		double c = fabs(s->change[i]);
		moved[i] = s->ref_ok && c > sig;
		z[i] = sig > 0 ? c / sig : c > 0 ? INFINITY : 0;
	}
	bool share = an_metric_norm(m) == AN_NORM_SHARE;
	double dref = s->ref_ok ? deviation(s->ref[AN_PROD], s->ref[AN_SHADOW],
					    s->scale, fl, 0)
				: 0;
	bool preexisting =
		dref * s->ewma > 0 &&
		fabs(dref) >= AN_MOVER_PREEXISTING * fmax(s->dev, s->thr_eff);
	unsigned ev = an__recent_change_sides(a, a->cur->t_ns);
	int side = -1;
	if (ev == 1u << AN_PROD || ev == 1u << AN_SHADOW) {
		int e = ev == 1u << AN_PROD ? AN_PROD : AN_SHADOW;
		if (share || moved[e] || (!moved[1 - e] && !preexisting))
			side = e;
		else if (moved[1 - e])
			side = 1 - e;
	}
	if (side < 0 && !preexisting && s->ref_ok) {
		if (moved[AN_PROD] && moved[AN_SHADOW])
			side = z[AN_SHADOW] >= z[AN_PROD] ? AN_SHADOW : AN_PROD;
		else if (moved[AN_PROD] || moved[AN_SHADOW])
			side = moved[AN_PROD] ? AN_PROD : AN_SHADOW;
	}
	if (side < 0)
		side = AN_SHADOW;
	s->mover = (an_side_t)side;
	int dev_dir = s->ewma >= 0 ? 1 : -1; /* the shadow's view */
	if (!share && moved[side])
		s->mover_dir = s->change[side] >= 0 ? 1 : -1;
	else
		s->mover_dir = share || side == AN_SHADOW ? dev_dir : -dev_dir;
}

/* ------------------------------------------------------------ alike */

bool an__alike_over(const an_analyzer_t *a, an_metric_t m, int64_t start_ns,
		    bool *judged)
{
	const an_mstate_t *s = &a->m[m];
	*judged = false;
	int64_t w = (int64_t)ceil(AN_ALIKE_WINDOW_S / a->interval_s);
	if (w < 1)
		w = 1;
	double k0 = ceil((double)(start_ns - a->t0_ns) /
			 (double)a->p.interval_ns);
	int64_t first = k0 < 0 ? 0 : (int64_t)k0;
	if (first < a->tick - (int64_t)a->hist_len + 1)
		first = a->tick - (int64_t)a->hist_len + 1;
	/* windows end at this tick and go back to the task's start; the
	 * oldest, if cut short by the start, counts with half a window */
	for (int64_t end = a->tick; end >= first; end -= w) {
		int64_t lo = end - w + 1 < first ? first : end - w + 1;
		double sum = 0;
		int64_t n = 0;
		for (int64_t k = lo; k <= end; k++) {
			double r = s->rawh[(size_t)k % a->hist_len];
			if (isfinite(r)) {
				sum += r;
				n++;
			}
		}
		if (n == 0 || (n < (w + 1) / 2 && lo == first))
			continue;
		*judged = true;
		if (fabs(sum / (double)n) > s->thr_eff)
			return false;
	}
	return true;
}

static bool direction_bad(an_direction_t d, int dir)
{
	return d == AN_DIR_EITHER || (d == AN_DIR_INCREASE && dir > 0) ||
	       (d == AN_DIR_DECREASE && dir < 0);
}

/* Severity, 0..100 (docs/analysis.md):
 *   base = 40 + 40 s_dev + 20 s_vel, with
 *     s_dev = clamp((D - T) / (C - T)), 0 at the threshold T and 1 at the
 *             critical threshold C (0 for a predicted finding),
 *     s_vel = clamp(V / (2 V_T)), saturating at twice the velocity
 *             threshold;
 *   times 1.25 for a critical metric, times confidence * (1 - lead /
 *   (2 horizon)) for a prediction (sure and soon counts most), times 1.25
 *   when attributed to a change, 0.5 when a one-sided scheduled task
 *   explains it, 0 when suppressed; capped at 100. */
static double severity(const an_analyzer_t *a, const an_finding_t *f,
		       bool attributed, bool task_explains)
{
	const an_metric_params_t *mp = &a->p.metric[f->metric];
	const an_mstate_t *s = &a->m[f->metric];
	double span = s->crit_eff - s->thr_eff;
	double sdev = f->predicted ? 0
		      : span > 0   ? clamp01((f->deviation - s->thr_eff) / span)
				   : 1;
	double svel = a->p.velocity_threshold > 0
			      ? clamp01(f->velocity /
					(2 * a->p.velocity_threshold))
			      : 0;
	double sev = 40 + 40 * sdev + 20 * svel;
	if (mp->critical_metric)
		sev *= 1.25;
	if (f->predicted)
		sev *= f->confidence *
		       (1 - f->lead_s / (2 * (double)a->p.horizon_ns / NS));
	if (attributed)
		sev *= 1.25;
	else if (task_explains)
		sev *= 0.5;
	if (f->suppressed)
		sev = 0;
	return sev > 100 ? 100 : sev < 0 ? 0 : sev;
}

/* Severity and the recommended action (with its reason) of f, from its
 * context (attribution, explaining task, drift) and mover. */
static void decide(const an_analyzer_t *a, an_finding_t *f)
{
	const an_context_t *attr = NULL, *task = NULL, *drift = NULL;
	for (size_t i = 0; i < f->ncontext; i++) {
		const an_context_t *c = &f->context[i];
		if (c->attributed && !attr)
			attr = c;
		if (c->explains && !task)
			task = c;
		if (c->drift && !drift)
			drift = c;
	}
	f->severity = severity(a, f, attr != NULL, task != NULL);
	if (f->suppressed && task && task->kind == AN_EV_REPLAY) {
		f->action = AN_ACT_NONE;
		an__textf(f->reason, sizeof(f->reason),
			 "explained by traffic replayed into %s ('%s'): its "
			 "load is not production's; not acted on",
			 an_side_name(task->side), task->name);
	} else if (f->suppressed) {
		f->action = AN_ACT_NONE;
		an__textf(f->reason, sizeof(f->reason),
			 "explained by scheduled task '%s' loading both sides "
			 "alike; not acted on",
			 task ? task->name : "?");
	} else if (attr && f->mover == AN_PROD) {
		f->action = AN_ACT_ROLLBACK;
		an__textf(f->reason, sizeof(f->reason),
			 "production moved %.0f s after its %s '%s': roll "
			 "production back to its last known-good snapshot",
			 (double)(f->onset_ns - attr->start_ns) / NS,
			 an_event_kind_name(attr->kind), attr->name);
	} else if (attr) {
		f->action = AN_ACT_HOLD;
		an__textf(f->reason, sizeof(f->reason),
			 "the shadow moved %.0f s after its %s '%s': do not "
			 "promote that change",
			 (double)(f->onset_ns - attr->start_ns) / NS,
			 an_event_kind_name(attr->kind), attr->name);
	} else if (drift && f->mover == AN_PROD) {
		f->action = AN_ACT_ROLLBACK;
		an__textf(f->reason, sizeof(f->reason),
			 "production moved while its configuration differs "
			 "from the shadow's (%s): roll back to the last "
			 "known-good snapshot",
			 drift->name);
	} else if (f->severity >= AN_ALERT_SEVERITY) {
		f->action = AN_ACT_ALERT;
		an__textf(f->reason, sizeof(f->reason),
			 "severity %.0f >= %.0f", f->severity,
			 AN_ALERT_SEVERITY);
	} else {
		f->action = AN_ACT_OBSERVE;
		an__textf(f->reason, sizeof(f->reason),
			 "severity %.0f < %.0f: recorded, no action",
			 f->severity, AN_ALERT_SEVERITY);
	}
}

/* Fills f for metric m opening (or escalating to) kind at this tick.
 * onset_ns, when not INT64_MIN, overrides the onset found in history. */
static void build_finding(an_analyzer_t *a, an_metric_t m,
			  an_find_kind_t kind, int64_t onset_ns, an_finding_t *f)
{
	an_mstate_t *s = &a->m[m];
	memset(f, 0, sizeof(*f));
	f->t_ns = a->cur->t_ns;
	f->onset_ns = a->t0_ns + (int64_t)((double)onset_tick(a, s) *
					   (double)a->p.interval_ns);
	if (onset_ns != INT64_MIN && onset_ns > f->onset_ns)
		f->onset_ns = onset_ns;
	if (f->onset_ns > f->t_ns)
		f->onset_ns = f->t_ns;
	f->metric = m;
	f->kind = kind;
	f->deviation = s->dev;
	/* a deviation finding reports the velocity that raised it */
	f->velocity = kind == AN_FIND_DEVIATION ? fmax(s->vel, s->vhigh_val)
						: s->vel;
	f->threshold = kind == AN_FIND_CRITICAL ? s->crit_eff : s->thr_eff;
	f->predicted = kind == AN_FIND_PREDICTED;
	f->lead_s = NAN;
	f->confidence = NAN;
	if (f->predicted) {
		f->threshold = s->pred_target;
		f->lead_s = s->pred_lead_s;
		f->confidence = s->pred_conf;
	}
	f->mover = s->mover;
	f->change[0] = s->change[0];
	f->change[1] = s->change[1];
	f->load_forecast = a->load_forecast;
	an_analyzer_verdict(a, s->mover, &f->verdict);
	an__explain(a, m, f);
	decide(a, f);
}

/* ------------------------------------------------------------ prediction */

/* At the end of each forecast step: does the forecast cross the next
 * threshold within the horizon? Updates pred_streak, pred_conf,
 * pred_lead_s, pred_target. */
static void predict_step(an_analyzer_t *a, an_mstate_t *s)
{
	double target = s->dev < s->thr_eff    ? s->thr_eff
			: s->dev < s->crit_eff ? s->crit_eff
					       : NAN;
	an_forecast_t f;
	if (s->fc_fed < AN_FC_MIN_STEPS || !isfinite(target) || target <= 0 ||
	    an_forecaster_predict(s->fc, (int)a->fc_steps_h, &f) != 0 ||
	    !isfinite(f.mean)) {
		s->pred_streak = 0;
		return;
	}
	/* Only a deviation that grows counts: a forecast that crosses zero
	 * to the other side is a recovery overshooting, not a trend. */
	if ((f.mean >= 0) != (s->ewma >= 0) || fabs(f.mean) <= s->dev) {
		s->pred_streak = 0;
		return;
	}
	/* P(|x_H| > target) from the interval's spread, normal errors */
	double sd = (f.hi - f.lo) / (2 * a->fc_z);
	double gap = fabs(f.mean) - target;
	double conf = sd > 0 ? an_norm_upper(-gap / sd) : gap >= 0;
	if (conf < AN_PRED_MIN_CONF) {
		s->pred_streak = 0;
		return;
	}
	uint32_t k = 1;
	for (; k < a->fc_steps_h; k++) {
		an_forecast_t g;
		if (an_forecaster_predict(s->fc, (int)k, &g) == 0 &&
		    fabs(g.mean) >= target)
			break;
	}
	/* Holt's trend outlives a level shift (a step looks like a trend
	 * for a while, and the level rings after it): a crossing counts only
	 * when a Theil-Sen line through the last AN_PRED_TREND_STEPS step
	 * means, projected to the horizon, crosses too (Sen 1968: slope the
	 * median of pairwise slopes, intercept the median of y_i - slope
	 * t_i). A finished step is flat there; a leak is not. */
	double ty[AN_TS_MAX_POINTS], tt[AN_TS_MAX_POINTS];
	size_t n = s->fc_hn < AN_PRED_TREND_STEPS ? s->fc_hn
						  : AN_PRED_TREND_STEPS;
	size_t cap = AN_TS_MAX_POINTS, first = s->fc_hhead + s->fc_hn - n;
	for (size_t i = 0; i < n; i++) {
		ty[i] = s->fc_y[(first + i) % cap];
		tt[i] = s->fc_t[(first + i) % cap];
	}
	double slope = an_theil_sen(tt, ty, n);
	/* A trend shows in both halves of the window; a step tilts the
	 * line through the whole window but leaves each half flat. */
	size_t h = n / 2;
	double older = an_theil_sen(tt, ty, h);
	double newer = an_theil_sen(tt + h, ty + h, n - h);
	double dir = f.mean >= 0 ? 1 : -1;
	if (!(older * dir >= slope * dir / 3) || !(newer * dir >= slope * dir / 3) ||
	    !(slope * dir > 0)) {
		s->pred_streak = 0;
		return;
	}
	for (size_t i = 0; i < n; i++)
		ty[i] -= slope * tt[i];
	double icpt = an_median(ty, n);
	double line = icpt + slope * (tt[n - 1] + (double)a->fc_steps_h);
	double start = icpt + slope * tt[0];
	/* ... and a growing deviation stays on its side of zero: a line
	 * that starts on the other side is a deviation collapsing through
	 * zero (a task ending), not one growing */
	if (!isfinite(line) || (line >= 0) != (f.mean >= 0) ||
	    (start >= 0) != (f.mean >= 0) || fabs(line) < target) {
		s->pred_streak = 0;
		return;
	}
	s->pred_streak++;
	s->pred_conf = conf;
	s->pred_target = target;
	s->pred_lead_s = (double)k * a->fc_step_ticks * a->interval_s;
}

/* Adds the tick's raw deviation to the current forecast step; at a step
 * boundary feeds the finished step's mean and re-predicts. */
static void forecast_tick(an_analyzer_t *a, an_mstate_t *s, double r)
{
	int64_t step = a->tick / a->fc_step_ticks;
	if (step != s->fc_step) {
		if (s->fc_n) {
			double mean = s->fc_sum / s->fc_n;
			an_forecaster_update(s->fc, mean);
			s->fc_fed++;
			size_t cap = AN_TS_MAX_POINTS;
			size_t i = (s->fc_hhead + s->fc_hn) % cap;
			if (s->fc_hn == cap)
				s->fc_hhead = (s->fc_hhead + 1) % cap;
			else
				s->fc_hn++;
			s->fc_y[i] = mean;
			s->fc_t[i] = (double)s->fc_step;
			predict_step(a, s);
		}
		s->fc_step = step;
		s->fc_sum = 0;
		s->fc_n = 0;
	}
	s->fc_sum += r;
	s->fc_n++;
}

/* Production's load, forecast on the same steps as the deviations: the
 * horizon's value goes to an_out_t.load_forecast (for the scaler). */
static void load_tick(an_analyzer_t *a, const an_tick_t *t)
{
	double r = t->rps[AN_PROD];
	if (!isfinite(r))
		return;
	a->load_now = r;
	int64_t step = a->tick / a->fc_step_ticks;
	if (step != a->load_step) {
		if (a->load_n) {
			an_forecaster_update(a->load_fc, a->load_sum / a->load_n);
			a->load_fed++;
			an_forecast_t f;
			if (a->load_fed >= AN_FC_MIN_STEPS &&
			    an_forecaster_predict(a->load_fc, (int)a->fc_steps_h,
						  &f) == 0)
				a->load_forecast = f.mean > 0 ? f.mean : 0;
		}
		a->load_step = step;
		a->load_sum = 0;
		a->load_n = 0;
	}
	a->load_sum += r;
	a->load_n++;
}

/* ------------------------------------------------------------ per metric */

/* Teaches the envelope this tick's deviation when it may be noise (see
 * docs/analysis.md, "Thresholds and the A/A noise envelope"), and
 * refreshes its quantile every AN_ENV_REFRESH ticks. */
static void learn_envelope(an_analyzer_t *a, an_mstate_t *s, bool same_config,
			   bool baseline)
{
	if (!a->p.envelope)
		return;
	if (baseline) {
		/* production vs a baseline on production's config: A/A by
		 * construction, every point is noise */
		an_decayhist_add(&s->env, fabs(s->ewma_b));
	} else if (same_config && (s->open == AN_FIND_NONE || s->env_q <= 0) &&
		   s->dev < s->crit_eff && s->dev <= AN_ENV_ADMIT * s->thr_eff) {
		/* An open finding stops learning (a regression must not become
		 * noise), except while the envelope is still cold: a pair
		 * noisier than its configured threshold raises findings until
		 * the envelope has learned that noise, and must not stop it
		 * from learning. */
		an_decayhist_add(&s->env, s->dev);
	}
	if (++s->env_refresh >= AN_ENV_REFRESH) {
		s->env_refresh = 0;
		double q = an_decayhist_count(&s->env) >= AN_ENV_MIN_COUNT
				   ? an_decayhist_quantile(
					     &s->env, a->p.envelope_quantile)
				   : 0;
		/* Once warm, the envelope moves at most by 2x per half-life:
		 * the tail quantile of a decayed histogram follows a new level
		 * within a minute (1% of the weight), and "slowly adapting"
		 * means a regression under the same config is not noise by
		 * the time the verdict window has judged it. A pair that
		 * differs from the start is learned in the warm-up. */
		if (q > 0 && s->env_q > 0) {
			double lim = exp2((double)AN_ENV_REFRESH * a->interval_s /
					  ((double)a->p.envelope_half_life_ns /
					   NS));
			q = fmin(fmax(q, s->env_q / lim), s->env_q * lim);
		}
		s->env_q = q;
	}
}

/* Velocity: the Theil-Sen slope of the raw signed deviation over the
 * last vel_pts points, turned to "positive when |deviation| grows".
 * Theil-Sen rather than a least-squares slope or a difference of EWMAs:
 * one wild point (a GC pause, a late scrape) moves a least-squares slope
 * by its full size / window, while the median of pairwise slopes ignores
 * it (breakdown 29%); rather than on the smoothed series, because EWMA
 * smoothing spreads a single spike over several points and adds lag. */
static void velocity_tick(an_analyzer_t *a, an_mstate_t *s, double r)
{
	/* the window is short (5 points by default): shifting it is cheaper
	 * than a ring's index arithmetic, and Theil-Sen wants it in order */
	if (s->vn == a->vel_pts) {
		memmove(s->vt, s->vt + 1, (s->vn - 1) * sizeof(double));
		memmove(s->vy, s->vy + 1, (s->vn - 1) * sizeof(double));
		s->vn--;
	}
	s->vt[s->vn] = (double)(a->cur->t_ns - a->t0_ns) / NS;
	s->vy[s->vn] = r;
	s->vn++;
	double slope = s->vn >= AN_VEL_MIN_POINTS
			       ? an_theil_sen(s->vt, s->vy, s->vn)
			       : NAN;
	if (!isfinite(slope))
		slope = 0;
	s->vel = s->ewma >= 0 ? slope : -slope;
}

/* The warm-up part of metric s's view; a metric that has had data and
 * is still warming makes the whole output warming. */
static void warmup_view(const an_analyzer_t *a, const an_mstate_t *s,
			an_metric_view_t *v, an_out_t *out)
{
	v->warming = s->nlearned < a->warmup_ticks;
	v->warmup_left_s = v->warming ? (double)(a->warmup_ticks - s->nlearned) *
						a->interval_s
				      : 0;
	if (v->warming && s->nlearned > 0)
		out->warming = true;
}

/* One metric's tick: deviation, smoothing, velocity, thresholds,
 * envelope, baselines, forecast, verdict blocks, then the finding's
 * life. Writes the metric's view and any finding into out. */
static void metric_tick(an_analyzer_t *a, an_metric_t m, bool same_config,
			an_out_t *out)
{
	an_mstate_t *s = &a->m[m];
	const an_metric_params_t *mp = &a->p.metric[m];
	const an_tick_t *t = a->cur;
	an_metric_view_t *v = &out->metric[m];
	double up, us, scale, res, r;
	size_t hi = (size_t)a->tick % a->hist_len;

	s->valid = normalise(a, m, t, AN_SHADOW, &up, &us, &scale, &res);
	if (!s->valid) {
		s->hist[hi] = s->rawh[hi] = NAN;
		*v = (an_metric_view_t){.valid = false,
					.deviation = s->dev,
					.signed_dev = s->ewma,
					.velocity = s->vel,
					.threshold = s->thr_eff,
					.envelope = s->env_q,
					.open = s->open};
		warmup_view(a, s, v, out);
		return;
	}
	s->nlearned++;
	double raw = deviation(up, us, scale, mp->floor, res);
	if (s->nupd && a->tick - s->last_tick > a->stale_ticks) {
		s->nupd = 0;
		s->started = false;
		s->vn = 0;
		s->dev_streak = s->crit_streak = 0;
		s->sustained = false;
	}
	s->last_tick = a->tick;
	/* Running median of three (Tukey 1977) before smoothing: a single
	 * wild point (a GC pause, a late scrape) is removed outright instead
	 * of being spread over the next ticks by the EWMA; a real step passes
	 * one tick later. */
	s->med3[0] = s->med3[1];
	s->med3[1] = s->med3[2];
	s->med3[2] = raw;
	r = s->nupd >= 2 ? median3(s->med3[0], s->med3[1], s->med3[2]) : raw;
	s->u[AN_PROD] = up;
	s->u[AN_SHADOW] = us;
	s->scale = scale;
	s->nupd++;

	/* EWMA smoothing (Roberts 1959): e += alpha (r - e) */
	s->ewma = s->started ? s->ewma + a->p.smoothing * (r - s->ewma) : r;
	s->started = true;
	s->dev = fabs(s->ewma);
	s->hist[hi] = s->ewma;
	s->rawh[hi] = r;

	bool baseline = false;
	double ub, upb, sb, resb;
	if (normalise(a, m, t, AN_BASELINE, &upb, &ub, &sb, &resb)) {
		double rb = deviation(upb, ub, sb, mp->floor, resb);
		s->ewma_b = s->started_b
				    ? s->ewma_b + a->p.smoothing * (rb - s->ewma_b)
				    : rb;
		s->started_b = baseline = true;
	}

	velocity_tick(a, s, r);

	/* thresholds: the larger of configured and learned */
	s->thr_eff = dmax(mp->threshold, s->env_q);
	s->crit_eff = dmax(mp->critical, s->env_q);
	learn_envelope(a, s, same_config, baseline);
	s->thr_eff = dmax(mp->threshold, s->env_q); /* env_q may have moved */
	s->crit_eff = dmax(mp->critical, s->env_q);

	/* each side's own baseline, while quiet */
	bool quiet_now = s->dev < s->thr_eff / 2 && s->open == AN_FIND_NONE;
	if (!s->ref_ok) {
		s->ref[0] = up;
		s->ref[1] = us;
		s->ref_ok = true;
	} else if (quiet_now) {
		/* each side's noise: how far it strays from its own baseline
		 * while nothing is wrong (a running mean until the baseline's
		 * rate is the slower) */
		double floor_u = mp->floor / (scale > 0 ? scale : 1);
		double w = fmax(a->ref_alpha, 1.0 / (double)(s->ref_nq + 1));
		const double u[2] = {up, us};
		for (int i = 0; i < 2; i++) {
			double c = (u[i] - s->ref[i]) /
				   fmax(fabs(s->ref[i]), floor_u);
			s->ref_noise[i] += w * (fabs(c) - s->ref_noise[i]);
		}
		s->ref_nq++;
		s->ref[0] += a->ref_alpha * (up - s->ref[0]);
		s->ref[1] += a->ref_alpha * (us - s->ref[1]);
	}

	/* conditions */
	/* A tick counts towards confirmation when the smoothed deviation and
	 * the tick's own (median-filtered) one are both over: the EWMA alone
	 * stays over for several ticks after a two-tick blip. */
	double rr = fabs(r);
	s->dev_streak = s->dev > s->thr_eff && rr > s->thr_eff
				? s->dev_streak + 1
				: 0;
	s->crit_streak = s->dev > s->crit_eff && rr > s->crit_eff
				 ? s->crit_streak + 1
				 : 0;
	if (s->dev < AN_SUSTAIN_GATE * s->thr_eff)
		s->sustained = false;
	if (s->vel > a->p.velocity_threshold) {
		bool recent = a->tick - s->vhigh_tick < (int64_t)a->vel_pts;
		if (!recent || s->vel > s->vhigh_val)
			s->vhigh_val = s->vel;
		s->vhigh_tick = a->tick;
	}

	find_mover(a, m, s);
	forecast_tick(a, s, r);
	an__block_add(a, s);
	/* Judged only after the warm-up (and once velocity has its points):
	 * until then the metric only teaches the envelope, the baselines and
	 * the forecaster what normal looks like. */
	bool warm = s->nupd >= a->vel_pts && s->nlearned >= a->warmup_ticks;
	an_find_kind_t kind = AN_FIND_NONE;
	if (warm && direction_bad(mp->direction, s->mover_dir)) {
		if (s->pred_streak >= AN_PRED_CONFIRM)
			kind = AN_FIND_PREDICTED;
		if (s->dev_streak >= AN_CONFIRM_TICKS &&
		    a->tick - s->vhigh_tick < (int64_t)a->vel_pts)
			kind = AN_FIND_DEVIATION;
		if (s->sustained && kind < AN_FIND_SUSTAINED)
			kind = AN_FIND_SUSTAINED;
		if (s->crit_streak >= AN_CONFIRM_TICKS)
			kind = AN_FIND_CRITICAL;
	}

	/* Open, escalate, close. A suppressed finding that outlives its task
	 * by the settling time (a deviation fading after a task is the task's)
	 * is raised again as a finding of its own, its onset the task's end. */
	int64_t settle = (a->clear_ticks + (int64_t)a->vel_pts) *
			 a->p.interval_ns;
	bool reopen = s->open != AN_FIND_NONE && s->suppressed &&
		      kind != AN_FIND_NONE &&
		      t->t_ns > s->suppress_until_ns + settle;
	if (kind > s->open || reopen) {
		an_finding_t *f = &out->finding[out->nfindings++];
		build_finding(a, m, kind,
			      reopen ? s->suppress_until_ns : INT64_MIN, f);
		s->open = kind > s->open ? kind : s->open;
		s->suppressed = f->suppressed;
		s->suppress_until_ns = INT64_MIN;
		for (size_t i = 0; i < f->ncontext; i++)
			if (f->context[i].explains &&
			    f->context[i].end_ns > s->suppress_until_ns)
				s->suppress_until_ns = f->context[i].end_ns;
		s->quiet = 0;
	} else if (s->open != AN_FIND_NONE) {
		bool holding = kind != AN_FIND_NONE ||
			       s->dev >= AN_HYSTERESIS * s->thr_eff;
		s->quiet = holding ? 0 : s->quiet + 1;
		if (s->quiet >= a->clear_ticks) {
			s->open = AN_FIND_NONE;
			s->suppressed = false;
			out->resolved |= 1u << m;
		}
	}

	*v = (an_metric_view_t){.valid = true,
				.deviation = s->dev,
				.signed_dev = s->ewma,
				.velocity = s->vel,
				.threshold = s->thr_eff,
				.envelope = s->env_q,
				.open = s->open};
	warmup_view(a, s, v, out);
}

uint32_t an_analyzer_close(an_analyzer_t *a, uint32_t metrics)
{
	uint32_t closed = 0;
	for (int m = 0; m < AN_METRIC__COUNT; m++) {
		an_mstate_t *s = &a->m[m];
		if (!(metrics & (1u << m)) || s->open == AN_FIND_NONE ||
		    !(s->dev <= s->thr_eff))
			continue;
		s->open = AN_FIND_NONE;
		s->suppressed = false;
		s->quiet = 0;
		closed |= 1u << m;
	}
	return closed;
}

/* ------------------------------------------------------------ the tick */

/* Each side's raw values through its own default detector (anomaly.h):
 * the scores into the views, and the alarms of a kind the comparison
 * cannot see (a stuck value, a broken cycle) into out->anomaly. A value
 * not measured this tick is skipped: the detector sees the series
 * without the gap. */
static void anomaly_tick(an_analyzer_t *a, const an_tick_t *t, an_out_t *out)
{
	out->nanomalies = 0;
	for (int m = 0; m < AN_METRIC__COUNT; m++)
		for (int side = 0; side < 2; side++) {
			double v = t->value[side][m];
			an_det_t *d = a->det[side][m];
			out->metric[m].anomaly[side] = NAN;
			if (!d || !isfinite(v))
				continue;
			double sc = an_det_update(d, (double)t->t_ns / NS, v);
			out->metric[m].anomaly[side] = sc;
			const char *k = an_det_kind(d);
			if (sc < AN_DET_ALARM || !k || !strcmp(k, "level"))
				continue;
			out->anomaly[out->nanomalies++] = (an_anomaly_t){
				(an_metric_t)m, (an_side_t)side, k, sc, v};
		}
}

int an_analyzer_update(an_analyzer_t *a, const an_tick_t *t, an_out_t *out)
{
	if (a->started && t->t_ns <= a->last_ns)
		return ERR_INVAL;
	if (!a->started) {
		a->started = true;
		a->t0_ns = t->t_ns;
		a->tick = 0;
	} else {
		double k = round((double)(t->t_ns - a->t0_ns) /
				 (double)a->p.interval_ns);
		int64_t next = k > (double)(INT64_MAX / 4) ? INT64_MAX / 4
							    : (int64_t)k;
		if (next <= a->tick)
			next = a->tick + 1;
		/* ticks skipped: their history is unknown */
		int64_t gap = next - a->tick - 1;
		if (gap > (int64_t)a->hist_len)
			gap = (int64_t)a->hist_len;
		for (int64_t g = 1; g <= gap; g++)
			for (int m = 0; m < AN_METRIC__COUNT; m++) {
				size_t i = (size_t)(a->tick + g) % a->hist_len;
				a->m[m].hist[i] = a->m[m].rawh[i] = NAN;
			}
		a->tick = next;
	}
	a->last_ns = t->t_ns;
	a->cur = t;
	out->nfindings = 0;
	out->resolved = 0;
	out->warming = false;

	for (int m = 0; m < AN_METRIC__COUNT; m++)
		an_decayhist_advance(&a->m[m].env, a->tick);
	bool same_config = !t->config_differs &&
			   !an__recent_change(a, t->t_ns);
	an__endpoints_update(a, t);
	an__network_update(a, t);
	load_tick(a, t);
	for (int m = 0; m < AN_METRIC__COUNT; m++)
		metric_tick(a, (an_metric_t)m, same_config, out);
	anomaly_tick(a, t, out);
	out->load_forecast = a->load_forecast;
	a->cur = NULL;
	return 0;
}
