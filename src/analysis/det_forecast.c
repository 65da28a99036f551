/*
 * det_forecast.c: anomaly detectors from forecasters: "holt",
 * "holtwinters", "prophet", "lstm" and "forecast" (the forecaster
 * ensemble). Each point is scored by its standardised one-step forecast
 * error,
 *
 *   z = |x - mean| / sd,   sd from the forecast's 95 % interval,
 *
 * computed before the model sees x, and z is calibrated by the series'
 * own history as in the record detector: the score is z over the
 * second-largest z seen before (so the first error bigger than every
 * earlier one but the largest counts), then one alarm per event
 * (an_suppress). The model learns the sampling interval from the first
 * points' timestamps (for daily and weekly seasonality), then replays
 * them.
 */
#include "analysis/anomaly_int.h"
#include "analysis/fc_models.h"
#include "analysis/stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Points buffered to learn the sampling interval (median interval). */
#define DF_DT_SAMPLES 17
/* Errors seen before a score is given; no score before DF_QUIET points
 * (as the other NAB detectors). */
#define DF_WARM 150
#define DF_QUIET 300
/* Alarms at 1.1 (an error 10 % past the second-largest) rest for 100
 * points (3 % of the points seen, if more) unless ten times larger. */
#define DF_ALARM 1.1
#define DF_REST 100
#define DF_REST_FRAC 0.03
#define DF_ESCAPE 10.0
/* z without a record to compare with counts as this many records. */
#define DF_FIRST 100.0

typedef struct det_forecast {
	an_fc_kind_t kind;
	bool ready; /* model initialised */
	double t[DF_DT_SAMPLES], x[DF_DT_SAMPLES];
	unsigned nbuf;
	uint64_t n;
	double top1, top2;
	uint64_t nz;
	an_suppress_t sup;
	an_forecaster_t fc; /* once ready */
} det_forecast_t;

_Static_assert(sizeof(det_forecast_t) <= AN_DET_MAX_STATE,
	       "forecast detector state within the per-series budget");

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Initialises the model with the median sampling interval of the
 * buffered points, and replays them. */
static void model_start(det_forecast_t *d)
{
	double dt[DF_DT_SAMPLES];
	unsigned k = 0;
	for (unsigned i = 1; i < d->nbuf; i++)
		dt[k++] = d->t[i] - d->t[i - 1];
	an_fc_params_t p = {0};
	if (k) {
		qsort(dt, k, sizeof(double), cmp_double);
		p.dt = dt[k / 2] > 0 ? dt[k / 2] : 0;
	}
	an_forecaster_init(&d->fc, d->kind, &p);
	d->ready = true;
	for (unsigned i = 0; i < d->nbuf; i++)
		an_forecaster_update(&d->fc, d->x[i]);
}

static void forecast_init(det_forecast_t *d, an_fc_kind_t kind)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	an_suppress_init(&d->sup, DF_ALARM, DF_REST, DF_REST_FRAC, DF_ESCAPE);
}

static double forecast_update(void *st, double t, double x)
{
	det_forecast_t *d = st;
	uint64_t i = d->n++;
	if (!d->ready) {
		d->t[d->nbuf] = t;
		d->x[d->nbuf++] = x;
		if (d->nbuf == DF_DT_SAMPLES)
			model_start(d);
		return 0;
	}
	double z = 0;
	an_forecast_t f;
	if (an_forecaster_predict(&d->fc, 1, &f) == 0) {
		/* The interval is mean +- 1.96 sd. */
		double sd = (f.hi - f.lo) / (2 * 1.959964);
		double floor = 1e-9 * (fabs(f.mean) + 1);
		z = fabs(x - f.mean) / (sd > floor ? sd : floor);
		if (!isfinite(z))
			z = 0;
	}
	an_forecaster_update(&d->fc, x);
	double raw = 0;
	if (i >= DF_QUIET && d->nz >= DF_WARM) {
		double ref = d->top2 > 0 ? d->top2 : d->top1;
		raw = ref > 0 ? z / ref : (z > 0 ? DF_FIRST : 0);
	}
	if (z > d->top1) {
		d->top2 = d->top1;
		d->top1 = z;
	} else if (z > d->top2) {
		d->top2 = z;
	}
	d->nz++;
	double s = an_suppress(&d->sup, raw);
	return s / (1 + s);
}

#define FORECAST_DETECTOR(sym, kind, name, summary)                       \
	static void sym##_init(void *st)                                  \
	{                                                                 \
		forecast_init(st, kind);                                  \
	}                                                                 \
	const an_det_ops_t an_det_##sym##_ops = {                         \
		{name, summary, sizeof(det_forecast_t)},                  \
		sym##_init,                                               \
		forecast_update,                                          \
	};

FORECAST_DETECTOR(holt, AN_FC_HOLT, "holt",
		  "Holt's linear trend: one-step error against its record")
FORECAST_DETECTOR(hw, AN_FC_HOLT_WINTERS, "holtwinters",
		  "Holt-Winters (additive, damped): one-step error against "
		  "its record")
FORECAST_DETECTOR(prophet, AN_FC_PROPHET, "prophet",
		  "Prophet-style trend + Fourier seasonality: one-step error "
		  "against its record")
FORECAST_DETECTOR(lstm, AN_FC_LSTM, "lstm",
		  "online LSTM: one-step error against its record")
FORECAST_DETECTOR(fcens, AN_FC_ENSEMBLE, "forecast",
		  "forecaster ensemble: one-step error against its record")
