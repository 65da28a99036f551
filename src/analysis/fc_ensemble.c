/*
 * fc_ensemble.c: the forecaster ensemble: Holt, Holt-Winters, Prophet and
 * the LSTM run side by side; a forecast h steps ahead is their mean
 * weighted by the inverse of each member's recent mean squared error at
 * the tracked horizon nearest h (Bates & Granger, "The combination of
 * forecasts", 1969, with discounted errors; horizon-specific because a
 * member good at one step, such as undamped Holt, can be poor at sixty).
 * Members that cannot forecast yet, or have no error record, get no
 * weight. The interval is the weighted mixture's:
 * variance = sum w_k (sd_k^2 + (mean_k - mean)^2).
 */
#include "analysis/fc_models.h"

#include "base/err.h"

#include <math.h>
#include <string.h>

static const int fce_h[AN_FCE_HORIZONS] = {1, 12, 60};
/* Error memory: weight 0.05 per tracked origin (one every
 * AN_FCE_EVERY = 8 points), about 160 points. Tracking every 8th origin
 * rather than every one keeps the LSTM's 60-step rollouts to about 9
 * cell steps per point. */
#define FCE_RATE 0.05
#define FCE_LEVEL 0.95

_Static_assert(AN_FCE_SLOTS * AN_FCE_EVERY > 60 + AN_FCE_EVERY,
	       "slots cover the longest tracked horizon");

void an_fcens_init(an_fcens_t *e, const an_fc_params_t *p)
{
	memset(e, 0, sizeof(*e));
	an_holt_init(&e->holt, p->alpha, p->beta, p->phi, p->level);
	an_hw_init(&e->hw, p);
	an_prophet_init(&e->prophet, p);
	an_lstm_init(&e->lstm, p);
	double lv = p->level > 0 && p->level < 1 ? p->level : FCE_LEVEL;
	e->z = an_norm_quantile(0.5 + lv / 2);
}

static int member_predict(const an_fcens_t *e, int k, int steps,
			  an_forecast_t *out)
{
	int rc;
	switch (k) {
	case 0:
		rc = an_holt_predict(&e->holt, steps, out);
		break;
	case 1:
		rc = an_hw_predict(&e->hw, steps, out);
		break;
	case 2:
		rc = an_prophet_predict(&e->prophet, steps, out);
		break;
	default:
		rc = an_lstm_predict(&e->lstm, steps, out);
		break;
	}
	return rc == 0 && isfinite(out->mean) ? 0 : ERR_AGAIN;
}

void an_fcens_update(an_fcens_t *e, double x)
{
	if (!isfinite(x))
		return;
	uint64_t t = e->n; /* index of x */
	for (int k = 0; k < AN_FCE_MEMBERS; k++)
		for (int j = 0; j < AN_FCE_HORIZONS; j++) {
			uint64_t h = (uint64_t)fce_h[j];
			if (t < h + 1 || (t - h - 1) % AN_FCE_EVERY)
				continue;
			/* the forecast made after point t - h - 1... */
			size_t slot = (t - h - 1) / AN_FCE_EVERY % AN_FCE_SLOTS;
			if (!e->has[k][j][slot])
				continue;
			double err = x - e->pend[k][j][slot];
			e->has[k][j][slot] = false;
			e->mse[k][j] = e->mse[k][j] == 0
					       ? err * err
					       : (1 - FCE_RATE) * e->mse[k][j] +
							 FCE_RATE * err * err;
		}
	an_holt_update(&e->holt, x);
	an_hw_update(&e->hw, x);
	an_prophet_update(&e->prophet, x);
	an_lstm_update(&e->lstm, x);
	e->n++;
	if (t % AN_FCE_EVERY)
		return;
	/* ...for point t + h: record this origin's forecasts. (Point t is
	 * now known, so a forecast h steps ahead targets t + h.) */
	for (int k = 0; k < AN_FCE_MEMBERS; k++)
		for (int j = 0; j < AN_FCE_HORIZONS; j++) {
			an_forecast_t f;
			size_t slot = t / AN_FCE_EVERY % AN_FCE_SLOTS;
			e->has[k][j][slot] = member_predict(e, k, fce_h[j], &f) == 0;
			e->pend[k][j][slot] = f.mean;
		}
}

int an_fcens_predict(const an_fcens_t *e, int steps, an_forecast_t *out)
{
	if (steps < 1)
		return ERR_AGAIN;
	/* The tracked horizon nearest steps, on a log scale. */
	int j = 0;
	for (int i = 1; i < AN_FCE_HORIZONS; i++)
		if (fabs(log((double)steps / fce_h[i])) <
		    fabs(log((double)steps / fce_h[j])))
			j = i;
	an_forecast_t f[AN_FCE_MEMBERS];
	double w[AN_FCE_MEMBERS], wsum = 0;
	int first = -1;
	for (int k = 0; k < AN_FCE_MEMBERS; k++) {
		w[k] = 0;
		if (member_predict(e, k, steps, &f[k]))
			continue;
		if (first < 0)
			first = k;
		w[k] = e->mse[k][j] > 0 ? 1 / e->mse[k][j] : 0;
		wsum += w[k];
	}
	if (first < 0)
		return ERR_AGAIN;
	if (wsum == 0) {
		*out = f[first];
		return 0;
	}
	double mean = 0;
	for (int k = 0; k < AN_FCE_MEMBERS; k++)
		mean += w[k] * f[k].mean;
	mean /= wsum;
	double var = 0;
	for (int k = 0; k < AN_FCE_MEMBERS; k++) {
		if (w[k] == 0)
			continue;
		double sd = (f[k].hi - f[k].lo) / 2 / e->z;
		var += w[k] * (sd * sd + (f[k].mean - mean) * (f[k].mean - mean));
	}
	var /= wsum;
	out->mean = mean;
	out->lo = mean - e->z * sqrt(var);
	out->hi = mean + e->z * sqrt(var);
	return 0;
}
