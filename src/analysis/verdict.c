/*
 * verdict.c: the judge, in the manner of Kayenta's (Netflix/Google's
 * canary analysis, NetflixACAJudge with its Mann-Whitney classifier).
 * Over the verdict window each metric's experiment side is compared with
 * its control side: a two-sided Mann-Whitney U test says whether they
 * differ, the Hodges-Lehmann shift (with its confidence interval) says by
 * how much. A metric fails when the difference is significant (p <
 * alpha), at least its effective threshold in size (relative to the
 * control's median; Kayenta's "effect size"), and in its bad direction.
 * The score is the weighted share of metrics that pass, per group and
 * overall; a failing critical metric fails the whole verdict.
 *
 * Samples are block means (analysis_int.h, AN_VBLOCKS): per-tick values
 * are autocorrelated and would make the test reject far too often.
 */
#include "analysis/analysis_int.h"

#include "base/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Ends the block before the current tick's when the tick crossed into a
 * new one; then adds the tick's per-unit values to the current block.
 * At each block end, re-judges a metric whose deviation is near its
 * threshold: the `sustained` condition is the judge failing it over the
 * window (its Hodges-Lehmann shift over the threshold, significantly),
 * which is the robust form of "over the threshold for the window" when
 * noise dips the smoothed deviation under it now and then. Judging only
 * near the threshold keeps the cost off the quiet ticks. */
void an__block_add(an_analyzer_t *a, an_mstate_t *s)
{
	int64_t idx = a->tick / a->vb_ticks;
	if (idx != s->vb_idx) {
		if (s->vb_idx >= 0) {
			int64_t skipped = idx - s->vb_idx - 1;
			if (skipped > AN_VBLOCKS_MAX)
				skipped = AN_VBLOCKS_MAX;
			for (int64_t i = -1; i < skipped; i++) {
				size_t w = (s->vb_head + s->vb_count) %
					   AN_VBLOCKS_MAX;
				bool have = i < 0 && s->vb_n > 0;
				s->vb_mean[0][w] = have ? s->vb_sum[0] / s->vb_n
							: NAN;
				s->vb_mean[1][w] = have ? s->vb_sum[1] / s->vb_n
							: NAN;
				s->vb_scl[w] = have ? s->vb_scale / s->vb_n : NAN;
				if (s->vb_count == AN_VBLOCKS_MAX)
					s->vb_head = (s->vb_head + 1) %
						     AN_VBLOCKS_MAX;
				else
					s->vb_count++;
			}
			an_metric_t m = (an_metric_t)(s - a->m);
			s->sustained = false;
			if (s->dev >= AN_SUSTAIN_GATE * s->thr_eff) {
				an_metric_verdict_t mv;
				an__metric_verdict(a, m, s->mover, &mv);
				s->sustained = mv.failed;
			}
		}
		s->vb_idx = idx;
		s->vb_sum[0] = s->vb_sum[1] = s->vb_scale = 0;
		s->vb_n = 0;
	}
	s->vb_sum[0] += s->u[0];
	s->vb_sum[1] += s->u[1];
	s->vb_scale += s->scale;
	s->vb_n++;
}

void an__metric_verdict(const an_analyzer_t *a, an_metric_t m,
			an_side_t experiment, an_metric_verdict_t *out)
{
	const an_mstate_t *s = &a->m[m];
	const an_metric_params_t *mp = &a->p.metric[m];
	memset(out, 0, sizeof(*out));
	out->result = AN_V_NODATA;
	double x[AN_VBLOCKS], y[AN_VBLOCKS], sc[AN_VBLOCKS];
	size_t n = 0;
	int ci = experiment == AN_PROD ? AN_SHADOW : AN_PROD;
	int ei = experiment == AN_PROD ? AN_PROD : AN_SHADOW;
	size_t take = s->vb_count < AN_VBLOCKS ? s->vb_count : AN_VBLOCKS;
	for (size_t j = s->vb_count - take; j < s->vb_count; j++) {
		size_t q = (s->vb_head + j) % AN_VBLOCKS_MAX;
		double c = s->vb_mean[ci][q], e = s->vb_mean[ei][q];
		if (!isfinite(c) || !isfinite(e))
			continue;
		x[n] = c;
		y[n] = e;
		sc[n] = s->vb_scl[q];
		n++;
	}
	out->n = n;
	if (n < AN_VERDICT_MIN_BLOCKS)
		return;
	an_mwu_t u;
	an_hl_t hl;
	if (an_mwu(x, n, y, n, &u) != 0)
		return;
	double scratch[AN_VBLOCKS * AN_VBLOCKS]; /* 7 KiB of stack */
	if (an_hodges_lehmann(x, n, y, n, a->p.verdict_alpha, scratch, &hl) !=
	    0)
		return;
	double xm[AN_VBLOCKS];
	memcpy(xm, x, n * sizeof(double));
	double med = an_median(xm, n);
	double scale = an_median(sc, n);
	double floor_u = mp->floor / (scale > 0 ? scale : 1);
	double den = fmax(fabs(med), floor_u);
	out->p_value = u.p;
	out->shift = hl.shift / den;
	out->lo = hl.lo / den;
	out->hi = hl.hi / den;
	double eff = s->thr_eff;
	if (u.p < a->p.verdict_alpha && out->shift >= eff && eff >= 0 &&
	    out->shift > 0)
		out->result = AN_V_HIGH;
	else if (u.p < a->p.verdict_alpha && out->shift <= -eff &&
		 out->shift < 0)
		out->result = AN_V_LOW;
	else
		out->result = AN_V_PASS;
	out->failed = (out->result == AN_V_HIGH &&
		       mp->direction != AN_DIR_DECREASE) ||
		      (out->result == AN_V_LOW &&
		       mp->direction != AN_DIR_INCREASE);
}

int an_analyzer_verdict(const an_analyzer_t *a, an_side_t experiment,
			an_verdict_t *out)
{
	if (experiment != AN_PROD && experiment != AN_SHADOW)
		return ERR_INVAL;
	memset(out, 0, sizeof(*out));
	out->experiment = experiment;
	double wsum = 0, wpass = 0;
	double gw[AN_METRIC__COUNT] = {0}, gp[AN_METRIC__COUNT] = {0};
	for (int m = 0; m < AN_METRIC__COUNT; m++) {
		an_metric_verdict_t *mv = &out->metric[m];
		an__metric_verdict(a, (an_metric_t)m, experiment, mv);
		const an_metric_params_t *mp = &a->p.metric[m];
		if (mv->result == AN_V_NODATA || mp->weight <= 0)
			continue;
		if (mv->failed && mp->critical_metric)
			out->critical_failed = true;
		wsum += mp->weight;
		wpass += mv->failed ? 0 : mp->weight;
		size_t g = 0;
		while (g < out->ngroups && strcmp(out->group[g].name, mp->group))
			g++;
		if (g == out->ngroups) {
			an__textf(out->group[g].name, sizeof(out->group[g].name),
				 "%s", mp->group);
			out->ngroups++;
		}
		gw[g] += mp->weight;
		gp[g] += mv->failed ? 0 : mp->weight;
	}
	for (size_t g = 0; g < out->ngroups; g++)
		out->group[g].score = 100 * gp[g] / gw[g];
	if (wsum <= 0) {
		out->result = AN_VERDICT_NODATA;
		return 0;
	}
	out->score = 100 * wpass / wsum;
	if (out->critical_failed)
		out->result = AN_VERDICT_FAIL;
	else if (out->score >= a->p.verdict_pass)
		out->result = AN_VERDICT_PASS;
	else if (out->score >= a->p.verdict_marginal)
		out->result = AN_VERDICT_MARGINAL;
	else
		out->result = AN_VERDICT_FAIL;
	return 0;
}
