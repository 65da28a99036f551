/*
 * fc_prophet.c: a Prophet-style additive model (Taylor & Letham,
 * "Forecasting at scale", The American Statistician 72(1), 2018):
 *
 *   y(t) = g(t) + s(t) + e_t
 *   g(t) = k + m tau + sum_j d_j (tau - c_j)_+       piecewise-linear trend
 *   s(t) = sum_n a_n cos(2 pi n t / P) + b_n sin(2 pi n t / P)
 *                                                   for P = day, week
 *
 * with tau the time scaled to [0, 1) over the fitted window and the
 * changepoints c_j spread evenly over its first 80 % (section 3.1.3).
 * Fitted by regularised least squares on the last AN_PR_WINDOW points,
 * minimising |y - X beta|^2 + sum_i lambda_i beta_i^2: the ridge form of
 * Prophet's priors (Laplace(0, 0.05) on the deltas, N(0, 10^2) on the
 * seasonal terms), solved through the normal equations with GSL's
 * Cholesky decomposition, and refitted every PR_REFIT points.
 *
 * Prediction extrapolates the fitted function. Interval: the residual
 * variance plus the trend uncertainty of section 3.1.4, where future
 * changepoints arrive at the fitted rate with the fitted mean-square
 * size: for a horizon D (scaled time) the variance of their effect is
 * rho E[d^2] D^3 / 3 (rho changepoints per unit scaled time).
 */
#include "analysis/fc_models.h"

#include "base/err.h"

#include <gsl/gsl_linalg.h>
#include <math.h>
#include <string.h>

/* Points between fits: about a day at 5-minute sampling (Prophet is
 * typically refitted daily). A fit costs O(window * params^2). */
#define PR_REFIT 256
/* Points before the first fit: two dozen per trend segment would be
 * too many; four dozen fix level, slope and a few changepoints. */
#define PR_MIN_FIT 48
/* Ridge weights, for y scaled to unit standard deviation and noise of
 * about half that (s = 0.5): lambda = s^2 / prior_sd^2. Deltas:
 * Prophet's prior scale 0.05 gives 0.25 / 0.0025 = 100. Seasonal terms:
 * prior sd 10 gives 0.0025. Level and slope: 1e-6, only to keep the
 * system positive definite. */
#define PR_LAMBDA_DELTA 100.0
#define PR_LAMBDA_SEASON 0.0025
#define PR_LAMBDA_TREND 1e-6
/* Changepoints occupy the first 80 % of the window (Prophet's default
 * changepoint_range). */
#define PR_CP_RANGE 0.8
#define PR_LEVEL 0.95
/* Seasonal terms need two full periods in the window. */
#define PR_MIN_CYCLES 2
/* Daily-period detection when dt is unknown: on the first points, lags
 * 4 .. 512. */
#define PR_DETECT_N 1024

/* Column layout. */
#define COL_LEVEL 0
#define COL_SLOPE 1
#define COL_CP 2
#define COL_DAY (COL_CP + AN_PR_CHANGEPOINTS)
#define COL_WEEK (COL_DAY + 2 * AN_PR_DAILY_ORDER)

void an_prophet_init(an_prophet_t *p, const an_fc_params_t *params)
{
	memset(p, 0, sizeof(*p));
	double lv = params->level > 0 && params->level < 1 ? params->level
							     : PR_LEVEL;
	p->z = an_norm_quantile(0.5 + lv / 2);
	p->refit = PR_REFIT;
	size_t day = an_fc_period(params, AN_PR_WINDOW / PR_MIN_CYCLES);
	p->day = (double)day;
	if (params->dt > 0 && day && params->period == 0)
		p->week = AN_WEEK_S / params->dt;
	p->detect = day == 0 && params->dt <= 0;
}

/* Changepoint j's position in scaled time. */
static double cp_at(int j)
{
	return PR_CP_RANGE * (double)(j + 1) / (AN_PR_CHANGEPOINTS + 1);
}

/* cos(n a), sin(n a) for n = 1..order, a = 2 pi idx / period, into
 * out[2 (n - 1)], out[2 (n - 1) + 1]; zeros when period is 0. Two
 * library calls, then the angle-addition recurrence. */
static void fourier(double period, uint64_t idx, int order, double *out)
{
	if (!(period > 0)) {
		memset(out, 0, 2 * (size_t)order * sizeof(double));
		return;
	}
	/* Reduce idx modulo the period first so the angle stays small. */
	double ph = fmod((double)idx, period) / period;
	double c1 = cos(2 * M_PI * ph), s1 = sin(2 * M_PI * ph);
	double c = c1, s = s1;
	for (int n = 0; n < order; n++) {
		out[2 * n] = c;
		out[2 * n + 1] = s;
		double cn = c * c1 - s * s1;
		s = s * c1 + c * s1;
		c = cn;
	}
}

/* The design row for sample index idx in a window starting at t0 of len
 * points; only columns in use are meaningful. */
static void design_row(const an_prophet_t *p, uint64_t idx, uint64_t t0,
		       size_t len, double *row)
{
	double tau = ((double)idx - (double)t0) / (double)len;
	row[COL_LEVEL] = 1;
	row[COL_SLOPE] = tau;
	for (int j = 0; j < AN_PR_CHANGEPOINTS; j++)
		row[COL_CP + j] = tau > cp_at(j) ? tau - cp_at(j) : 0;
	fourier(p->day, idx, AN_PR_DAILY_ORDER, row + COL_DAY);
	fourier(p->week, idx, AN_PR_WEEKLY_ORDER, row + COL_WEEK);
}

static double lambda_of(int col)
{
	if (col <= COL_SLOPE)
		return PR_LAMBDA_TREND;
	if (col < COL_DAY)
		return PR_LAMBDA_DELTA;
	return PR_LAMBDA_SEASON;
}

static double ring_at(const an_prophet_t *p, uint64_t idx)
{
	return p->ring[idx % AN_PR_WINDOW];
}

/* Finds a daily-like period from the first points when dt is unknown. */
static void detect_period(an_prophet_t *p)
{
	double x[PR_DETECT_N];
	for (size_t i = 0; i < PR_DETECT_N; i++)
		x[i] = ring_at(p, i);
	size_t m = an_acf_period(x, PR_DETECT_N, 4, PR_DETECT_N / 2);
	p->day = (double)m;
	p->detect = false;
}

/* Fits the model to the window ending at the newest point. The fit is
 * kept only if the solve succeeds. */
static void fit(an_prophet_t *p)
{
	size_t len = p->n < AN_PR_WINDOW ? (size_t)p->n : AN_PR_WINDOW;
	uint64_t t0 = p->n - len;
	bool use[AN_PR_PARAMS];
	int map[AN_PR_PARAMS], q = 0;
	for (int c = 0; c < AN_PR_PARAMS; c++) {
		use[c] = true;
		if (c >= COL_DAY && c < COL_WEEK)
			use[c] = p->day > 0 &&
				 (double)len >= PR_MIN_CYCLES * p->day;
		if (c >= COL_WEEK)
			use[c] = p->week > 0 &&
				 (double)len >= PR_MIN_CYCLES * p->week;
		map[c] = use[c] ? q++ : -1;
	}
	/* Centre and scale y so the ridge weights mean the same thing for
	 * every series. */
	double mean = 0, ss = 0;
	for (uint64_t i = t0; i < p->n; i++)
		mean += ring_at(p, i);
	mean /= (double)len;
	for (uint64_t i = t0; i < p->n; i++)
		ss += (ring_at(p, i) - mean) * (ring_at(p, i) - mean);
	double scale = sqrt(ss / (double)len);
	if (!(scale > 0))
		scale = fabs(mean) > 0 ? fabs(mean) * 1e-6 : 1;

	memset(p->xtx, 0, sizeof(p->xtx));
	memset(p->xty, 0, sizeof(p->xty));
	double row[AN_PR_PARAMS], r[AN_PR_PARAMS];
	for (uint64_t i = t0; i < p->n; i++) {
		design_row(p, i, t0, len, row);
		for (int c = 0; c < AN_PR_PARAMS; c++)
			if (use[c])
				r[map[c]] = row[c];
		double y = (ring_at(p, i) - mean) / scale;
		for (int a = 0; a < q; a++) {
			p->xty[a] += r[a] * y;
			for (int b = 0; b <= a; b++)
				p->xtx[a * q + b] += r[a] * r[b];
		}
	}
	for (int c = 0; c < AN_PR_PARAMS; c++)
		if (use[c])
			p->xtx[map[c] * q + map[c]] += lambda_of(c);
	for (int a = 0; a < q; a++) {
		for (int b = 0; b < a; b++)
			p->xtx[b * q + a] = p->xtx[a * q + b];
		if (!isfinite(p->xty[a]))
			return;
	}
	gsl_matrix_view A = gsl_matrix_view_array(p->xtx, (size_t)q, (size_t)q);
	gsl_vector_view bv = gsl_vector_view_array(p->xty, (size_t)q);
	double sol[AN_PR_PARAMS];
	gsl_vector_view xv = gsl_vector_view_array(sol, (size_t)q);
	/* Positive definite by construction (every diagonal has a ridge);
	 * a failure means non-finite input, and the old fit stays. */
	if (gsl_linalg_cholesky_decomp1(&A.matrix) ||
	    gsl_linalg_cholesky_solve(&A.matrix, &bv.vector, &xv.vector))
		return;
	for (int c = 0; c < AN_PR_PARAMS; c++) {
		p->use[c] = use[c];
		p->beta[c] = use[c] ? sol[map[c]] : 0;
	}
	p->offset = mean;
	p->scale = scale;
	p->fit_t0 = t0;
	p->fit_len = len;
	p->fit_n = p->n;
	double rss = 0;
	for (uint64_t i = t0; i < p->n; i++) {
		design_row(p, i, t0, len, row);
		double f = 0;
		for (int c = 0; c < AN_PR_PARAMS; c++)
			f += p->use[c] ? p->beta[c] * row[c] : 0;
		double e = (ring_at(p, i) - mean) / scale - f;
		rss += e * e;
	}
	p->sigma = sqrt(rss / (double)len) * scale;
	double dms = 0;
	for (int j = 0; j < AN_PR_CHANGEPOINTS; j++)
		dms += p->beta[COL_CP + j] * p->beta[COL_CP + j];
	p->delta_ms = dms / AN_PR_CHANGEPOINTS;
}

void an_prophet_update(an_prophet_t *p, double x)
{
	if (!isfinite(x))
		return;
	p->ring[p->n % AN_PR_WINDOW] = (float)x;
	p->n++;
	if (p->detect && p->n == PR_DETECT_N)
		detect_period(p);
	if (p->n >= PR_MIN_FIT &&
	    (p->fit_n == 0 || p->n - p->fit_n >= p->refit))
		fit(p);
}

int an_prophet_predict(const an_prophet_t *p, int steps, an_forecast_t *out)
{
	if (p->fit_n == 0 || steps < 1)
		return ERR_AGAIN;
	uint64_t idx = p->n - 1 + (uint64_t)steps;
	double row[AN_PR_PARAMS];
	design_row(p, idx, p->fit_t0, p->fit_len, row);
	double f = 0;
	for (int c = 0; c < AN_PR_PARAMS; c++)
		f += p->use[c] ? p->beta[c] * row[c] : 0;
	out->mean = p->offset + p->scale * f;
	/* Horizon past the end of the fitted window, in scaled time. */
	double horizon = ((double)idx - (double)(p->fit_t0 + p->fit_len - 1)) /
			 (double)p->fit_len;
	double rho = AN_PR_CHANGEPOINTS / PR_CP_RANGE;
	double trend_var = rho * p->delta_ms * horizon * horizon * horizon /
			   3 * p->scale * p->scale;
	double sd = sqrt(p->sigma * p->sigma + trend_var);
	out->lo = out->mean - p->z * sd;
	out->hi = out->mean + p->z * sd;
	return 0;
}
