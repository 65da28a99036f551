/*
 * stress.c: the stress-test state machine of stress.h and its latency
 * histogram. Each lever walks its levels (settle, measure, judge) until
 * a knee or its last level, recovers for a step, and hands over to the
 * next; the results turn into capacity and headroom.
 */
#include "mitigate/stress.h"

#include "base/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SETTLE_DIV 5 /* the first fifth of a step is not measured */

/* ------------------------------------------------------------ histogram */

void mit_hist_reset(mit_hist_t *h)
{
	memset(h, 0, sizeof(*h));
}

void mit_hist_add(mit_hist_t *h, uint32_t latency_us, bool error)
{
	int i = 0;
	if (latency_us > 1) {
		i = (int)(log2((double)latency_us) * MIT_HIST_PER_OCTAVE);
		if (i >= MIT_HIST_BUCKETS)
			i = MIT_HIST_BUCKETS - 1;
	}
	h->bucket[i]++;
	h->n++;
	if (error)
		h->errors++;
}

double mit_hist_quantile(const mit_hist_t *h, double q)
{
	if (!h->n)
		return NAN;
	uint64_t rank = (uint64_t)ceil(q * (double)h->n);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (int i = 0; i < MIT_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			return exp2((double)(i + 1) / MIT_HIST_PER_OCTAVE) / 1e6;
	}
	return exp2((double)MIT_HIST_BUCKETS / MIT_HIST_PER_OCTAVE) / 1e6;
}

/* ------------------------------------------------------------ names */

const char *mit_lever_name(mit_lever_t l)
{
	static const char *const n[] = {"amplify", "cpu", "memory"};
	return (unsigned)l < MIT_LEVER__COUNT ? n[l] : "?";
}

int mit_lever_by_name(const char *name)
{
	for (int i = 0; i < MIT_LEVER__COUNT; i++)
		if (!strcmp(mit_lever_name((mit_lever_t)i), name))
			return i;
	return -1;
}

/* ------------------------------------------------------------ machine */

static mit_lever_t cur_lever(const mit_stress_t *st)
{
	return st->p.lever[st->li];
}

static mit_stress_lever_result_t *cur_result(mit_stress_t *st)
{
	return &st->result[st->nresults - 1];
}

/* Why a lever cannot run here, or NULL. */
static const char *cannot(const mit_stress_params_t *p, mit_lever_t l)
{
	switch (l) {
	case MIT_LEVER_AMPLIFY:
		return p->can_amplify ? NULL
				      : "no mirroring proxy to amplify";
	case MIT_LEVER_CPU:
		if (!p->can_squeeze)
			return "umbra does not run the shadow: no cgroup to "
			       "squeeze";
		return p->shadow_cpu > 0 ? NULL
					 : "the shadow has no CPU limit to "
					   "squeeze (set production.cpu_limit)";
	case MIT_LEVER_MEMORY:
		if (!p->can_squeeze)
			return "umbra does not run the shadow: no cgroup to "
			       "squeeze";
		return p->shadow_mem > 0
			   ? NULL
			   : "the shadow has no memory limit to squeeze (set "
			     "production.memory_limit)";
	default:
		return "unknown lever";
	}
}

static void apply_level(const mit_stress_t *st, mit_stress_cmd_t *cmd)
{
	switch (cur_lever(st)) {
	case MIT_LEVER_AMPLIFY:
		cmd->set_amp = true;
		cmd->amp = (unsigned)st->level;
		break;
	case MIT_LEVER_CPU:
		cmd->set_squeeze = true;
		cmd->cpu_share = st->level;
		cmd->mem_share = 1;
		break;
	case MIT_LEVER_MEMORY:
		cmd->set_squeeze = true;
		cmd->cpu_share = 1;
		cmd->mem_share = st->level;
		break;
	default:
		break;
	}
}

static void restore(const mit_stress_t *st, mit_stress_cmd_t *cmd)
{
	if (st->p.can_amplify) {
		cmd->set_amp = true;
		cmd->amp = st->p.normal_amp ? st->p.normal_amp : 1;
	}
	if (st->p.can_squeeze) {
		cmd->set_squeeze = true;
		cmd->cpu_share = cmd->mem_share = 1;
	}
}

static void start_step(mit_stress_t *st, int64_t now, mit_stress_cmd_t *cmd)
{
	st->phase = 0;
	st->phase_start = st->step_start = now;
	apply_level(st, cmd);
	cmd->reset = true;
}

/* Starts lever index li, skipping those that cannot run. Returns false
 * when no lever is left. */
static bool start_lever(mit_stress_t *st, int li, int64_t now,
			mit_stress_cmd_t *cmd)
{
	for (; li < st->p.nlevers; li++) {
		mit_lever_t l = st->p.lever[li];
		mit_stress_lever_result_t *r = &st->result[st->nresults++];
		memset(r, 0, sizeof(*r));
		r->lever = l;
		r->capacity_lo = r->capacity_hi = r->headroom = NAN;
		const char *why = cannot(&st->p, l);
		if (why) {
			snprintf(r->note, sizeof(r->note), "skipped: %s", why);
			continue;
		}
		r->ran = true;
		st->li = li;
		st->level = 1;
		start_step(st, now, cmd);
		return true;
	}
	return false;
}

/* Production-equivalent req/s per replica from the shadow's req/s. */
static double per_replica(const mit_stress_t *st, double shadow_rps)
{
	double r = st->p.ratio > 0 ? st->p.ratio : 1;
	int n = st->p.prod_replicas > 0 ? st->p.prod_replicas : 1;
	return shadow_rps / (r * n);
}

static void summarise(mit_stress_t *st, mit_stress_lever_result_t *r)
{
	const mit_stress_point_t *knee = NULL;
	for (int i = 0; i < st->npoints; i++)
		if (st->point[i].lever == r->lever && st->point[i].over)
			knee = &st->point[i];
	double full_lo = NAN, full_hi = NAN; /* shadow req/s at full */
	if (r->lever == MIT_LEVER_CPU || r->lever == MIT_LEVER_MEMORY) {
		if (r->good_level > 0)
			full_lo = r->good_rps / r->good_level;
		if (knee)
			full_hi = knee->rps / knee->level;
	} else {
		if (r->good_level > 0)
			full_lo = r->good_rps;
		if (knee)
			full_hi = knee->rps;
	}
	if (r->lever == MIT_LEVER_MEMORY) {
		/* Memory is not throughput: report the floor only. */
		r->mem_ok = r->good_level > 0
				? (uint64_t)(st->p.shadow_mem * r->good_level)
				: 0;
		if (r->knee)
			snprintf(r->note, sizeof(r->note),
				 "knee at %.0f%% of the memory limit (%.100s); "
				 "targets held down to %.0f%% (%.1f MiB)",
				 r->knee_level * 100, knee ? knee->why : "",
				 r->good_level * 100, r->mem_ok / 1048576.0);
		else
			snprintf(r->note, sizeof(r->note),
				 "no knee down to %.0f%% of the memory limit "
				 "(%.1f MiB)",
				 r->good_level * 100, r->mem_ok / 1048576.0);
		return;
	}
	r->capacity_lo = isnan(full_lo) ? NAN : per_replica(st, full_lo);
	r->capacity_hi = isnan(full_hi) ? NAN : per_replica(st, full_hi);
	/* For the CPU lever both ends are extrapolated to a full CPU from
	 * different squeezes (the last good step, the knee), and the knee's
	 * can come out lower: the range is still the two, low..high, and
	 * the scaler gets the lower (the conservative one). */
	if (!isnan(r->capacity_lo) && !isnan(r->capacity_hi) &&
	    r->capacity_lo > r->capacity_hi) {
		double t = r->capacity_lo;
		r->capacity_lo = r->capacity_hi;
		r->capacity_hi = t;
	}
	if (!isnan(r->capacity_lo) && st->p.prod_rps > 0)
		r->headroom = r->capacity_lo * (st->p.prod_replicas > 0
						    ? st->p.prod_replicas
						    : 1) /
				  st->p.prod_rps -
			      1;
	char lv[32];
	if (r->lever == MIT_LEVER_AMPLIFY)
		snprintf(lv, sizeof(lv), "x%.0f", r->knee_level);
	else
		snprintf(lv, sizeof(lv), "%.0f%% CPU", r->knee_level * 100);
	char hr[48] = "";
	if (!isnan(r->headroom))
		snprintf(hr, sizeof(hr), ", headroom %.0f%%", r->headroom * 100);
	if (r->knee && r->good_level > 0)
		snprintf(r->note, sizeof(r->note),
			 "knee at %s (%.100s); capacity %.1f..%.1f req/s per "
			 "production replica%s",
			 lv, knee ? knee->why : "", r->capacity_lo,
			 r->capacity_hi, hr);
	else if (r->knee)
		snprintf(r->note, sizeof(r->note),
			 "over the targets at the first step (%.100s): capacity "
			 "below %.1f req/s per production replica",
			 knee ? knee->why : "", r->capacity_hi);
	else
		snprintf(r->note, sizeof(r->note),
			 "no knee up to the last step: capacity at least %.1f "
			 "req/s per production replica%s",
			 r->capacity_lo, hr);
}

static void finish(mit_stress_t *st, mit_stress_cmd_t *cmd)
{
	restore(st, cmd);
	cmd->finished = true;
	st->state = MIT_STRESS_DONE;
	/* The scaler gets the most conservative measured lower bound. */
	st->capacity = NAN;
	for (int i = 0; i < st->nresults; i++) {
		double c = st->result[i].capacity_lo;
		if (!isnan(c) && c > 0 && (isnan(st->capacity) || c < st->capacity))
			st->capacity = c;
	}
	size_t l = 0;
	st->why[0] = '\0';
	for (int i = 0; i < st->nresults && l < sizeof(st->why); i++) {
		int n = snprintf(st->why + l, sizeof(st->why) - l, "%s%s: %s",
				 i ? "; " : "",
				 mit_lever_name(st->result[i].lever),
				 st->result[i].note);
		if (n > 0)
			l += (size_t)n;
	}
	/* The two throughput levers disagree past the documented margin:
	 * say so, and why they can. */
	double amp = NAN, cpu = NAN;
	for (int i = 0; i < st->nresults; i++) {
		if (st->result[i].lever == MIT_LEVER_AMPLIFY)
			amp = st->result[i].capacity_lo;
		else if (st->result[i].lever == MIT_LEVER_CPU)
			cpu = st->result[i].capacity_lo;
	}
	if (!isnan(amp) && !isnan(cpu) && amp > 0 && cpu > 0 &&
	    fabs(amp - cpu) / fmax(amp, cpu) > MIT_STRESS_AGREE &&
	    l < sizeof(st->why))
		snprintf(st->why + l, sizeof(st->why) - l,
			 "; the levers disagree by %.0f%% (amplify %.1f, cpu "
			 "%.1f req/s per production replica; more than the "
			 "%.0f%% they should): amplify measures the shadow at "
			 "its full resources and stops at the first doubling "
			 "over the targets, cpu extrapolates from a squeezed "
			 "quota, where fixed per-request costs and the CFS "
			 "period weigh more; the scaler takes the lower",
			 fabs(amp - cpu) / fmax(amp, cpu) * 100, amp, cpu,
			 MIT_STRESS_AGREE * 100);
}

static void abort_run(mit_stress_t *st, const char *why, mit_stress_cmd_t *cmd)
{
	restore(st, cmd);
	cmd->finished = true;
	st->state = MIT_STRESS_ABORTED;
	st->capacity = NAN;
	snprintf(st->why, sizeof(st->why), "%s", why);
}

int64_t mit_stress_max_duration(const mit_stress_params_t *p)
{
	int steps = 0;
	for (int i = 0; i < p->nlevers; i++) {
		int k = 1;
		if (p->lever[i] == MIT_LEVER_AMPLIFY)
			for (unsigned a = 1; a < p->max_amp; a *= 2)
				k++;
		else
			for (double s = 1, m = p->lever[i] == MIT_LEVER_CPU
						      ? p->min_cpu
						      : p->min_mem;
			     s > m && k < 16; s /= 2)
				k++;
		steps += k + 1; /* + the recovery step */
	}
	return (int64_t)steps * p->step_ns;
}

int mit_stress_begin(mit_stress_t *st, const mit_stress_params_t *p,
		     int64_t now, mit_stress_cmd_t *cmd)
{
	memset(st, 0, sizeof(*st));
	memset(cmd, 0, sizeof(*cmd));
	st->p = *p;
	if (st->p.max_amp < 1)
		st->p.max_amp = 1;
	if (st->p.nlevers > MIT_LEVER__COUNT)
		st->p.nlevers = MIT_LEVER__COUNT;
	st->state = MIT_STRESS_RUNNING;
	st->capacity = NAN;
	if (!start_lever(st, 0, now, cmd)) {
		char why[192] = "no lever can run:";
		for (int i = 0; i < st->nresults; i++) {
			size_t l = strlen(why);
			snprintf(why + l, sizeof(why) - l, " %s %s;",
				 mit_lever_name(st->result[i].lever),
				 st->result[i].note);
		}
		abort_run(st, why, cmd);
		return ERR_INVAL;
	}
	return 0;
}

void mit_stress_cancel(mit_stress_t *st, const char *why,
		       mit_stress_cmd_t *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	if (st->state != MIT_STRESS_RUNNING)
		return;
	abort_run(st, why, cmd);
}

/* The next level of the current lever, or 0 when it was the last. */
static double next_level(const mit_stress_t *st)
{
	if (cur_lever(st) == MIT_LEVER_AMPLIFY) {
		double k = st->level * 2;
		if (k > st->p.max_amp)
			k = st->level < st->p.max_amp ? st->p.max_amp : 0;
		return k;
	}
	double min = cur_lever(st) == MIT_LEVER_CPU ? st->p.min_cpu
						    : st->p.min_mem;
	double s = st->level / 2;
	if (s < min - 1e-12)
		s = st->level > min + 1e-12 ? min : 0;
	return s;
}

/* Judges the step that just ended. */
static void judge(mit_stress_t *st, int64_t now, const mit_hist_t *m,
		  mit_stress_cmd_t *cmd)
{
	mit_stress_lever_result_t *r = cur_result(st);
	mit_hist_t empty = {0};
	if (!m)
		m = &empty;
	double secs = (double)(now - st->phase_start) / 1e9;
	mit_stress_point_t pt = {.lever = cur_lever(st), .level = st->level};
	pt.n = m->n;
	pt.rps = secs > 0 ? (double)m->n / secs : 0;
	pt.p99_s = mit_hist_quantile(m, 0.99);
	uint64_t sent = m->n + m->dropped;
	pt.error_rate = sent ? (double)(m->errors + m->dropped) / (double)sent
			     : 0;
	bool first = r->good_level == 0;
	if (sent < MIT_STRESS_MIN_SAMPLES) {
		if (first) {
			char why[192];
			snprintf(why, sizeof(why),
				 "not enough traffic: the shadow got %llu "
				 "requests in a %.0f s step (needs %d); send "
				 "traffic through the proxy",
				 (unsigned long long)sent, secs,
				 MIT_STRESS_MIN_SAMPLES);
			abort_run(st, why, cmd);
			return;
		}
		pt.over = true;
		snprintf(pt.why, sizeof(pt.why),
			 "only %llu requests answered or dropped (the "
			 "shadow fell behind)",
			 (unsigned long long)sent);
	} else if (pt.p99_s > st->p.p99_target_s) {
		pt.over = true;
		snprintf(pt.why, sizeof(pt.why), "p99 %.3f s > %.3f s",
			 pt.p99_s, st->p.p99_target_s);
	} else if (pt.error_rate > st->p.error_target) {
		pt.over = true;
		snprintf(pt.why, sizeof(pt.why), "errors %.1f%% > %.1f%%",
			 pt.error_rate * 100, st->p.error_target * 100);
	} else if (cur_lever(st) == MIT_LEVER_AMPLIFY && !first &&
		   r->good_rps > 0 &&
		   pt.rps - r->good_rps <
		       MIT_STRESS_PLATEAU_GAIN *
			   (r->good_rps * st->level / r->good_level -
			    r->good_rps)) {
		/* More copies should mean proportionally more load; a gain
		 * under a fifth of that is saturation (of the shadow, its
		 * queue, or mirror.rate). */
		pt.over = true;
		snprintf(pt.why, sizeof(pt.why),
			 "throughput plateau: %.1f req/s after %.1f", pt.rps,
			 r->good_rps);
	}
	if (st->npoints < MIT_STRESS_MAX_POINTS)
		st->point[st->npoints++] = pt;
	double nl = pt.over ? 0 : next_level(st);
	if (pt.over) {
		r->knee = true;
		r->knee_level = st->level;
	} else {
		r->good_level = st->level;
		r->good_rps = pt.rps;
	}
	if (nl > 0) {
		st->level = nl;
		start_step(st, now, cmd);
		return;
	}
	/* This lever is over: back to normal, one step to recover. */
	summarise(st, r);
	restore(st, cmd);
	st->phase = 2;
	st->phase_start = now;
}

void mit_stress_tick(mit_stress_t *st, int64_t now, const mit_hist_t *meas,
		     mit_stress_cmd_t *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	if (st->state != MIT_STRESS_RUNNING)
		return;
	int64_t settle = st->p.step_ns / SETTLE_DIV;
	switch (st->phase) {
	case 0:
		if (now - st->phase_start >= settle) {
			st->phase = 1;
			st->phase_start = now;
			cmd->reset = true;
		}
		break;
	case 1:
		if (now - st->step_start >= st->p.step_ns)
			judge(st, now, meas, cmd);
		break;
	default:
		if (now - st->phase_start >= st->p.step_ns &&
		    !start_lever(st, st->li + 1, now, cmd))
			finish(st, cmd);
		break;
	}
}
