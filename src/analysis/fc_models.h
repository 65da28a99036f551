/*
 * fc_models.h: the forecasting models behind forecast.h's interface, as
 * fixed-size streaming state structs (init / update / predict), for code
 * that embeds a model without allocating (the anomaly detectors, the
 * forecaster ensemble, the benchmarks). Each model lives in its own file:
 *
 *   fc_hw.c       Holt-Winters, additive seasonality, damped trend
 *   fc_prophet.c  Prophet-style additive model, refitted by ridge LS (GSL)
 *   fc_lstm.c     a small LSTM trained online
 *   fc_ensemble.c inverse-error weighting of the above and Holt
 *
 * All are pure: no I/O, no clocks, no globals; update ignores non-finite
 * values; predict never changes the state.
 */
#ifndef UMBRA_ANALYSIS_FC_MODELS_H
#define UMBRA_ANALYSIS_FC_MODELS_H

#include "analysis/forecast.h"
#include "analysis/stats.h"

#include <stdint.h>

/* Seconds in a day and a week: the seasonal periods Prophet models. */
#define AN_DAY_S 86400.0
#define AN_WEEK_S (7 * 86400.0)

/* The seasonal period in samples for params p: p->period when set, else
 * a day of samples when p->dt is known and a day is 4 .. max samples;
 * else 0 (the model detects one, or has none). */
size_t an_fc_period(const an_fc_params_t *p, size_t max);

/* Autocorrelation period detection over x[0..n): the lag in
 * [min_lag, max_lag] with the highest autocorrelation, if that is at
 * least AN_ACF_MIN and a local maximum; else 0. */
#define AN_ACF_MIN 0.3
size_t an_acf_period(const double *x, size_t n, size_t min_lag,
		     size_t max_lag);

/* ----------------------------------------------------------- Holt-Winters */

/* Longest period Holt-Winters keeps a seasonal state for: a day of
 * 1-minute samples (11.5 KiB). */
#define AN_HW_MAX_PERIOD 1440
/* Samples buffered to detect a period when none is given: enough for
 * two cycles of a daily period at 5-minute sampling. */
#define AN_HW_DETECT 600

typedef struct an_hw {
	double alpha, beta, gamma, phi, z;
	size_t m;            /* period, 1 = no seasonality */
	bool detect;         /* still buffering to find m */
	double level, trend;
	double season[AN_HW_MAX_PERIOD]; /* s_{t-m+1..t}, index t % m */
	double resid_var;    /* EWMA of squared one-step errors */
	uint64_t n;          /* points seen */
	double buf[AN_HW_DETECT]; /* first points, for init and detection */
} an_hw_t;

void an_hw_init(an_hw_t *h, const an_fc_params_t *p);
void an_hw_update(an_hw_t *h, double x);
int an_hw_predict(const an_hw_t *h, int steps, an_forecast_t *out);

/* ---------------------------------------------------------- Prophet-style */

/* Points the model is fitted on: two weeks at 5-minute sampling. */
#define AN_PR_WINDOW 4096
/* Trend changepoints, evenly spread over the first 80 % of the window
 * (Prophet puts 25 there; 10 keeps the solve small). */
#define AN_PR_CHANGEPOINTS 10
/* Fourier orders: daily 4, weekly 3 (Prophet's defaults are 4 for
 * daily and 3 for weekly). */
#define AN_PR_DAILY_ORDER 4
#define AN_PR_WEEKLY_ORDER 3
#define AN_PR_PARAMS                                                     \
	(2 + AN_PR_CHANGEPOINTS + 2 * AN_PR_DAILY_ORDER + 2 * AN_PR_WEEKLY_ORDER)

typedef struct an_prophet {
	double z;                /* normal quantile of the interval */
	double day, week;        /* periods in samples, 0 = not modelled */
	bool detect;             /* no dt: detect the daily period */
	size_t refit;            /* points between fits */
	float ring[AN_PR_WINDOW]; /* values (float: fitted after centring) */
	uint64_t n;              /* points seen */
	uint64_t fit_n;          /* n at the last fit, 0 = none yet */
	uint64_t fit_t0;         /* sample index of the window's start */
	size_t fit_len;          /* points in the fitted window */
	double beta[AN_PR_PARAMS]; /* fitted coefficients */
	bool use[AN_PR_PARAMS];  /* column present in the fit */
	double scale, offset;    /* y was fitted as (y - offset) / scale */
	double sigma;            /* residual standard deviation */
	double delta_ms;         /* mean square of the changepoint deltas */
	/* Normal equations scratch (no allocation at fit time). */
	double xtx[AN_PR_PARAMS * AN_PR_PARAMS];
	double xty[AN_PR_PARAMS];
} an_prophet_t;

void an_prophet_init(an_prophet_t *p, const an_fc_params_t *params);
void an_prophet_update(an_prophet_t *p, double x);
int an_prophet_predict(const an_prophet_t *p, int steps, an_forecast_t *out);

/* ------------------------------------------------------------------ LSTM */

/* One LSTM layer of AN_LSTM_H cells over AN_LSTM_IN inputs (the
 * standardised value, and the value one period before the target when
 * a period is known), a linear read-out, run statefully and trained
 * online by truncated backpropagation through time over the last
 * AN_LSTM_T steps every AN_LSTM_EVERY points, with Adam. */
#define AN_LSTM_H 8
#define AN_LSTM_IN 2
#define AN_LSTM_T 16
#define AN_LSTM_EVERY 4
#define AN_LSTM_G (4 * AN_LSTM_H)                /* gate rows */
#define AN_LSTM_W (AN_LSTM_IN + AN_LSTM_H + 1)   /* inputs + bias */
#define AN_LSTM_NPARAM (AN_LSTM_G * AN_LSTM_W + AN_LSTM_H + 1)
/* Values kept for the inputs' history: the truncation window plus a
 * day of 5-minute samples for the lagged input. */
#define AN_LSTM_HIST 320

typedef struct an_lstm {
	double z;
	size_t m;                   /* period (<= AN_LSTM_HIST - AN_LSTM_T - 1) */
	double w[AN_LSTM_NPARAM];   /* gates, then read-out */
	double adam_m[AN_LSTM_NPARAM], adam_v[AN_LSTM_NPARAM];
	uint64_t steps;             /* Adam steps taken */
	double h[AN_LSTM_H], c[AN_LSTM_H]; /* state after the newest point */
	/* States after each of the last AN_LSTM_T + 2 points, index
	 * t % (AN_LSTM_T + 2): where a training window starts. */
	double hs[AN_LSTM_T + 2][AN_LSTM_H], cs[AN_LSTM_T + 2][AN_LSTM_H];
	double hist[AN_LSTM_HIST];  /* standardised values, index t % HIST */
	double mean, var;           /* EW standardisation */
	double resid_var;           /* EWMA of squared one-step errors */
	double pred;                /* one-step forecast (standardised) */
	uint64_t seed;
	uint64_t n;
} an_lstm_t;

void an_lstm_init(an_lstm_t *l, const an_fc_params_t *p);
void an_lstm_update(an_lstm_t *l, double x);
int an_lstm_predict(const an_lstm_t *l, int steps, an_forecast_t *out);

/* --------------------------------------------------------------- ensemble */

/* Members: Holt, Holt-Winters, Prophet, LSTM. Each member's error is
 * tracked at horizons 1, 12 and 60 from every AN_FCE_EVERY-th point; a
 * forecast weighs members by their error at the nearest tracked
 * horizon. */
#define AN_FCE_MEMBERS 4
#define AN_FCE_HORIZONS 3
#define AN_FCE_EVERY 8
/* Pending forecasts per member and horizon: the longest horizon's
 * origins in flight, plus slack. */
#define AN_FCE_SLOTS 20

typedef struct an_fcens {
	an_holt_t holt;
	an_hw_t hw;
	an_prophet_t prophet;
	an_lstm_t lstm;
	double mse[AN_FCE_MEMBERS][AN_FCE_HORIZONS]; /* EW squared error */
	double pend[AN_FCE_MEMBERS][AN_FCE_HORIZONS][AN_FCE_SLOTS];
	bool has[AN_FCE_MEMBERS][AN_FCE_HORIZONS][AN_FCE_SLOTS];
	double z;
	uint64_t n;
} an_fcens_t;

void an_fcens_init(an_fcens_t *e, const an_fc_params_t *p);
void an_fcens_update(an_fcens_t *e, double x);
int an_fcens_predict(const an_fcens_t *e, int steps, an_forecast_t *out);

/* ------------------------------------------------------------ by kind */

/* One of the models above, chosen at run time (forecast.h's interface).
 * Visible here so a detector can hold one in its fixed-size state. */
struct an_forecaster {
	an_fc_kind_t kind;
	union {
		an_holt_t holt;
		an_hw_t hw;
		an_prophet_t prophet;
		an_lstm_t lstm;
		an_fcens_t ens;
	} u;
};

/* an_forecaster_new in place: f (the caller's) becomes a fresh model of
 * kind; params NULL: defaults. */
void an_forecaster_init(an_forecaster_t *f, an_fc_kind_t kind,
			const an_fc_params_t *params);

#endif
