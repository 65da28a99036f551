/*
 * scale.c: the replica-count decision of scale.h: a load forecaster fed
 * in steps, its track record, the preemptive and reactive rules, and the
 * scale-down stabilisation window.
 */
#include "mitigate/scale.h"

#include "base/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int mit_scaler_init(mit_scaler_t *s, const mit_scale_params_t *p)
{
	memset(s, 0, sizeof(*s));
	s->p = *p;
	if (s->p.min < 1)
		s->p.min = 1;
	if (s->p.max < s->p.min)
		s->p.max = s->p.min;
	s->fc = an_forecaster_new(p->forecaster, NULL);
	if (!s->fc)
		return ERR_UNSUPPORTED;
	/* Forecast steps of lead/30, as the analysis does: each step a
	 * mean of its ticks, so the forecast of 30 steps ahead multiplies
	 * less noise (docs/analysis.md, "Prediction"). */
	s->step_ns = p->lead_ns / MIT_SCALE_STEPS;
	if (s->step_ns < p->tick_ns)
		s->step_ns = p->tick_ns;
	if (s->step_ns <= 0)
		s->step_ns = 1000000000LL;
	s->horizon = (int)((p->lead_ns + s->step_ns - 1) / s->step_ns);
	if (s->horizon < 1)
		s->horizon = 1;
	s->err_ewma = NAN;
	s->last_load = NAN;
	return 0;
}

void mit_scaler_free(mit_scaler_t *s)
{
	an_forecaster_free(s->fc);
	s->fc = NULL;
}

void mit_scaler_set_capacity(mit_scaler_t *s, double capacity)
{
	if (s->p.capacity <= 0 && capacity > 0)
		s->p.capacity = capacity;
}

bool mit_scaler_trusted(const mit_scaler_t *s)
{
	return s->steps >= MIT_SCALE_WARM_STEPS &&
	       s->checks >= MIT_SCALE_TRUST_CHECKS &&
	       s->err_ewma <= MIT_SCALE_TRUST_ERROR;
}

/* One finished step: check earlier predictions made for it, feed the
 * forecaster, and predict `horizon` steps ahead for a later check. */
static void step_done(mit_scaler_t *s, double mean)
{
	uint64_t now_step = s->steps;
	int k = 0;
	for (int i = 0; i < s->npending; i++) {
		if (s->pending[i].at_step != now_step) {
			s->pending[k++] = s->pending[i];
			continue;
		}
		double denom = mean > MIT_SCALE_LOAD_FLOOR ? mean
							   : MIT_SCALE_LOAD_FLOOR;
		double e = fabs(s->pending[i].value - mean) / denom;
		s->err_ewma = isnan(s->err_ewma)
				  ? e
				  : s->err_ewma +
					MIT_SCALE_ERROR_ALPHA * (e - s->err_ewma);
		s->checks++;
	}
	s->npending = k;
	an_forecaster_update(s->fc, mean);
	s->steps++;
	an_forecast_t f;
	if (s->steps >= MIT_SCALE_WARM_STEPS &&
	    an_forecaster_predict(s->fc, s->horizon, &f) == 0 &&
	    s->npending < MIT_SCALE_MAX_PENDING) {
		s->pending[s->npending].at_step =
		    s->steps - 1 + (uint64_t)s->horizon;
		s->pending[s->npending].value = f.mean;
		s->npending++;
	}
}

void mit_scaler_observe(mit_scaler_t *s, int64_t t_ns, double rps)
{
	if (isnan(rps) || rps < 0)
		return;
	s->last_load = rps;
	if (!s->step_start)
		s->step_start = t_ns;
	/* Close every step that ended before this point; a gap repeats
	 * the last mean (the load did not vanish because we missed it). */
	while (t_ns - s->step_start >= s->step_ns) {
		double mean = s->step_n ? s->step_sum / s->step_n : rps;
		step_done(s, mean);
		s->step_start += s->step_ns;
		s->step_sum = 0;
		s->step_n = 0;
		if (t_ns - s->step_start > 100 * s->step_ns)
			s->step_start = t_ns; /* a long gap: start afresh */
	}
	s->step_sum += rps;
	s->step_n++;
}

static int need_for(const mit_scaler_t *s, double load)
{
	double per = s->p.capacity * s->p.target;
	double n = ceil(load / per - 1e-9);
	if (n < 1)
		n = 1;
	if (n > 1e6)
		n = 1e6;
	return (int)n;
}

static int clamp(const mit_scaler_t *s, int n)
{
	return n < s->p.min ? s->p.min : n > s->p.max ? s->p.max : n;
}

void mit_scaler_decide(mit_scaler_t *s, int64_t now, int current,
		       mit_scale_decision_t *out)
{
	memset(out, 0, sizeof(*out));
	out->desired = current;
	out->forecast = NAN;
	out->load = s->last_load;
	out->trusted = mit_scaler_trusted(s);
	if (s->p.capacity <= 0) {
		snprintf(out->reason, sizeof(out->reason),
			 "capacity per replica unknown (set "
			 "mitigation.scale.capacity or run a stress test)");
		return;
	}
	if (isnan(s->last_load)) {
		snprintf(out->reason, sizeof(out->reason),
			 "no load measured yet");
		return;
	}
	double load = s->last_load;
	int want;
	an_forecast_t f;
	if (out->trusted && an_forecaster_predict(s->fc, s->horizon, &f) == 0) {
		out->forecast = f.mean > 0 ? f.mean : 0;
		double peak = out->forecast > load ? out->forecast : load;
		want = clamp(s, need_for(s, peak));
		out->preemptive = need_for(s, out->forecast) > need_for(s, load);
		snprintf(out->reason, sizeof(out->reason),
			 "forecast %.1f req/s in %.0f s (now %.1f); %.1f req/s "
			 "per replica at %.0f%% of capacity %.1f: %d replicas",
			 out->forecast, (double)s->p.lead_ns / 1e9, load,
			 s->p.capacity * s->p.target, s->p.target * 100,
			 s->p.capacity, want);
	} else {
		/* HPA: desired = ceil(current * utilisation / target). */
		double util = load / ((current > 0 ? current : 1) *
				      s->p.capacity);
		double ratio = util / s->p.target;
		if (fabs(ratio - 1) <= MIT_SCALE_TOLERANCE)
			want = current;
		else
			want = clamp(s, need_for(s, load));
		snprintf(out->reason, sizeof(out->reason),
			 "reactive (no trusted forecast yet): %.1f req/s on %d "
			 "replicas is %.0f%% of capacity %.1f each (target "
			 "%.0f%%): %d replicas",
			 load, current, util * 100, s->p.capacity,
			 s->p.target * 100, want);
	}
	if (current < s->p.min)
		want = want > s->p.min ? want : s->p.min;
	if (want > current) {
		s->low_since_ns = 0;
		out->desired = want;
		return;
	}
	if (want == current) {
		s->low_since_ns = 0;
		return;
	}
	/* Lower: only after the stabilisation window, to its highest. */
	if (!s->low_since_ns) {
		s->low_since_ns = now;
		s->low_max = want;
	} else if (want > s->low_max) {
		s->low_max = want;
	}
	int64_t since_change = now - s->last_change_ns;
	if (now - s->low_since_ns >= s->p.cooldown_ns &&
	    (!s->last_change_ns || since_change >= s->p.cooldown_ns)) {
		out->desired = clamp(s, s->low_max);
		size_t l = strlen(out->reason);
		snprintf(out->reason + l, sizeof(out->reason) - l,
			 "; below %d for %.0f s (scale.cooldown)", current,
			 (double)(now - s->low_since_ns) / 1e9);
	}
}

void mit_scaler_changed(mit_scaler_t *s, int64_t now, int from, int to)
{
	s->last_change_ns = now;
	if (to > from)
		s->last_up_ns = now;
	s->low_since_ns = 0;
}
