/*
 * forecast.h: streaming univariate forecasters behind one interface. A
 * forecaster sees a regularly sampled series one point at a time
 * (an_forecaster_update) and predicts the value `steps` samples ahead with
 * a prediction interval (an_forecaster_predict). The deviation analysis
 * uses it to predict threshold crossings; the scaler, production's load.
 *
 * Pure: no I/O, no clocks, no globals. State is bounded per instance.
 *
 * Implementations: Holt's linear trend (here, the default); Holt-Winters,
 * Prophet-style, LSTM and an ensemble of all four, each in its own file
 * (fc_models.h has their state structs for embedding).
 */
#ifndef UMBRA_ANALYSIS_FORECAST_H
#define UMBRA_ANALYSIS_FORECAST_H

#include <stdbool.h>
#include <stddef.h>

typedef enum an_fc_kind {
	AN_FC_HOLT = 0,
	AN_FC_HOLT_WINTERS,
	AN_FC_PROPHET,
	AN_FC_LSTM,
	AN_FC_ENSEMBLE,
	AN_FC__COUNT
} an_fc_kind_t;

/* A point forecast with a central prediction interval. */
typedef struct an_forecast {
	double mean;
	double lo, hi; /* interval at the level given to the forecaster */
} an_forecast_t;

/* Parameters common to all models; zero fields take each model's default
 * (see the model's file). */
typedef struct an_fc_params {
	double alpha, beta, phi; /* smoothing: level, trend, damping */
	double level;            /* interval level, e.g. 0.95 */
	size_t period;           /* seasonal period in samples; 0 = none or
				    detect */
	double dt;               /* seconds between samples, 0 = unknown:
				    lets Prophet place daily and weekly
				    terms and Holt-Winters use a day */
	double gamma;            /* seasonal smoothing (Holt-Winters) */
} an_fc_params_t;

typedef struct an_forecaster an_forecaster_t;

/* A new forecaster of kind with params (NULL: defaults). Returns NULL for
 * a kind this build does not have. Caller owns it (an_forecaster_free). */
an_forecaster_t *an_forecaster_new(an_fc_kind_t kind,
				   const an_fc_params_t *params);
void an_forecaster_free(an_forecaster_t *f);
void an_forecaster_update(an_forecaster_t *f, double x);
/* Forecast steps >= 1 ahead. 0, or ERR_AGAIN while it has seen too few
 * points to say anything. */
int an_forecaster_predict(const an_forecaster_t *f, int steps,
			  an_forecast_t *out);
const char *an_fc_kind_name(an_fc_kind_t kind);

/* ------------------------------------------------------------------ Holt */

/* Holt's linear trend with optional damping (Gardner & McKenzie 1985):
 *   l_t = a x_t + (1 - a)(l_{t-1} + phi b_{t-1})
 *   b_t = b (l_t - l_{t-1}) + (1 - b) phi b_{t-1}
 *   x^_{t+h} = l_t + (phi + phi^2 + ... + phi^h) b_t
 * Prediction interval from the one-step residual variance s^2 (EWMA), as
 * in Hyndman et al., "Forecasting with Exponential Smoothing" (2008),
 * class 1: var_h = s^2 (1 + sum_{j=1}^{h-1} (a (1 + j b))^2) for phi = 1.
 */
typedef struct an_holt {
	double alpha, beta, phi, z; /* z: normal quantile of the level */
	double level, trend;
	double resid_var; /* EWMA of squared one-step errors */
	size_t n;         /* points seen */
} an_holt_t;

void an_holt_init(an_holt_t *h, double alpha, double beta, double phi,
		  double interval_level);
void an_holt_update(an_holt_t *h, double x);
int an_holt_predict(const an_holt_t *h, int steps, an_forecast_t *out);

#endif
