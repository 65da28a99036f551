/*
 * forecast.c: the forecaster interface and Holt's linear trend (see
 * forecast.h); the other models are in fc_*.c (fc_models.h).
 */
#include "analysis/forecast.h"
#include "analysis/stats.h"

#include "analysis/fc_models.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Defaults for Holt: alpha 0.3 and beta 0.1 follow the middle of the
 * ranges Hyndman et al. report for level and trend on monitoring-like
 * series; phi 1 (no damping) keeps a linear crossing time computable. */
#define HOLT_ALPHA 0.3
#define HOLT_BETA 0.1
#define HOLT_PHI 1.0
#define FC_LEVEL 0.95
#define HOLT_MIN_POINTS 3 /* level and trend need two, one more to trust */

void an_holt_init(an_holt_t *h, double alpha, double beta, double phi,
		  double interval_level)
{
	h->alpha = alpha > 0 ? alpha : HOLT_ALPHA;
	h->beta = beta > 0 ? beta : HOLT_BETA;
	h->phi = phi > 0 ? phi : HOLT_PHI;
	double lv = interval_level > 0 && interval_level < 1 ? interval_level
							     : FC_LEVEL;
	h->z = an_norm_quantile(0.5 + lv / 2);
	h->level = h->trend = h->resid_var = 0;
	h->n = 0;
}

void an_holt_update(an_holt_t *h, double x)
{
	if (!isfinite(x))
		return;
	if (h->n == 0) {
		h->level = x;
		h->trend = 0;
	} else if (h->n == 1) {
		h->trend = x - h->level;
		h->level = x;
	} else {
		double pred = h->level + h->phi * h->trend;
		double e = x - pred;
		/* The residual variance adapts at the level's rate. */
		h->resid_var = h->n == 2 ? e * e
					 : (1 - h->alpha) * h->resid_var +
						   h->alpha * e * e;
		double prev = h->level;
		h->level = h->alpha * x + (1 - h->alpha) * pred;
		h->trend = h->beta * (h->level - prev) +
			   (1 - h->beta) * h->phi * h->trend;
	}
	h->n++;
}

int an_holt_predict(const an_holt_t *h, int steps, an_forecast_t *out)
{
	if (h->n < HOLT_MIN_POINTS || steps < 1)
		return ERR_AGAIN;
	double damp = 0, p = 1, var_mult = 1;
	for (int j = 1; j <= steps; j++) {
		p *= h->phi;
		damp += p;
		if (j < steps) {
			double c = h->alpha * (1 + j * h->beta);
			var_mult += c * c;
		}
	}
	out->mean = h->level + damp * h->trend;
	double sd = sqrt(h->resid_var * var_mult);
	out->lo = out->mean - h->z * sd;
	out->hi = out->mean + h->z * sd;
	return 0;
}

/* ------------------------------------------------------------ interface */

static const char *const kind_names[AN_FC__COUNT] = {
	"holt", "holt_winters", "prophet", "lstm", "ensemble"};

const char *an_fc_kind_name(an_fc_kind_t kind)
{
	return kind < AN_FC__COUNT ? kind_names[kind] : "?";
}

void an_forecaster_init(an_forecaster_t *f, an_fc_kind_t kind,
			const an_fc_params_t *params)
{
	an_fc_params_t p = params ? *params : (an_fc_params_t){0};
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	switch (kind) {
	case AN_FC_HOLT:
		an_holt_init(&f->u.holt, p.alpha, p.beta, p.phi, p.level);
		break;
	case AN_FC_HOLT_WINTERS:
		an_hw_init(&f->u.hw, &p);
		break;
	case AN_FC_PROPHET:
		an_prophet_init(&f->u.prophet, &p);
		break;
	case AN_FC_LSTM:
		an_lstm_init(&f->u.lstm, &p);
		break;
	case AN_FC_ENSEMBLE:
	default:
		an_fcens_init(&f->u.ens, &p);
		break;
	}
}

an_forecaster_t *an_forecaster_new(an_fc_kind_t kind,
				   const an_fc_params_t *params)
{
	if (kind >= AN_FC__COUNT)
		return NULL;
	an_forecaster_t *f = xmalloc(sizeof(*f));
	an_forecaster_init(f, kind, params);
	return f;
}

void an_forecaster_free(an_forecaster_t *f)
{
	free(f);
}

void an_forecaster_update(an_forecaster_t *f, double x)
{
	switch (f->kind) {
	case AN_FC_HOLT:
		an_holt_update(&f->u.holt, x);
		break;
	case AN_FC_HOLT_WINTERS:
		an_hw_update(&f->u.hw, x);
		break;
	case AN_FC_PROPHET:
		an_prophet_update(&f->u.prophet, x);
		break;
	case AN_FC_LSTM:
		an_lstm_update(&f->u.lstm, x);
		break;
	default:
		an_fcens_update(&f->u.ens, x);
		break;
	}
}

int an_forecaster_predict(const an_forecaster_t *f, int steps,
			  an_forecast_t *out)
{
	switch (f->kind) {
	case AN_FC_HOLT:
		return an_holt_predict(&f->u.holt, steps, out);
	case AN_FC_HOLT_WINTERS:
		return an_hw_predict(&f->u.hw, steps, out);
	case AN_FC_PROPHET:
		return an_prophet_predict(&f->u.prophet, steps, out);
	case AN_FC_LSTM:
		return an_lstm_predict(&f->u.lstm, steps, out);
	default:
		return an_fcens_predict(&f->u.ens, steps, out);
	}
}

/* -------------------------------------------------------------- periods */

size_t an_fc_period(const an_fc_params_t *p, size_t max)
{
	if (p->period)
		return p->period <= max ? p->period : 0;
	if (p->dt > 0) {
		double m = floor(AN_DAY_S / p->dt + 0.5);
		if (m >= 4 && m <= (double)max)
			return (size_t)m;
	}
	return 0;
}

/* Sample autocorrelation at lag k (Box & Jenkins, eq. 2.1.12), given the
 * mean and the sum of squared deviations. */
static double acf_at(const double *x, size_t n, size_t k, double mean,
		     double ss)
{
	double s = 0;
	for (size_t i = k; i < n; i++)
		s += (x[i] - mean) * (x[i - k] - mean);
	return s / ss;
}

size_t an_acf_period(const double *x, size_t n, size_t min_lag,
		     size_t max_lag)
{
	if (max_lag > n / 2)
		max_lag = n / 2;
	if (min_lag < 2 || min_lag + 1 > max_lag)
		return 0;
	double mean = 0, ss = 0;
	for (size_t i = 0; i < n; i++)
		mean += x[i];
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (x[i] - mean) * (x[i] - mean);
	if (!(ss > 0))
		return 0;
	size_t best = 0;
	double best_r = AN_ACF_MIN;
	double prev = acf_at(x, n, min_lag - 1, mean, ss);
	double cur = acf_at(x, n, min_lag, mean, ss);
	for (size_t k = min_lag; k < max_lag; k++) {
		double next = acf_at(x, n, k + 1, mean, ss);
		if (cur >= best_r && cur >= prev && cur >= next) {
			best = k;
			best_r = cur;
		}
		prev = cur;
		cur = next;
	}
	return best;
}
