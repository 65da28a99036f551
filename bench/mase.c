/*
 * mase.c: forecast accuracy of every forecaster on NAB's real series:
 * MASE (Hyndman & Koehler, "Another look at measures of forecast
 * accuracy", IJF 2006) at horizons 1, 12 and 60 steps, scaled by the
 * in-sample mean absolute error of the seasonal naive forecast
 * (y_t - y_{t-m}, m = samples per day), so seasonal naive itself scores
 * about 1 and a model below 1 beats it. Also the cost of each model per
 * point (update + one-step forecast), median of several runs.
 *
 *   mase DIR [STRIDE]
 *
 * Forecast origins: every STRIDE-th point (default 5) after NAB's
 * probationary period and at least two days of data; the model has seen
 * the series up to the origin only.
 */
#include "analysis/fc_models.h"
#include "analysis/forecast.h"
#include "base/clock.h"
#include "cmd/nab_io.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NH 3
static const int horizons[NH] = {1, 12, 60};
#define NMODELS (AN_FC__COUNT + 2) /* + naive, seasonal naive */
/* Cost runs per model (median reported). */
#define COST_RUNS 3

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_interval(const double *t, size_t n)
{
	double *d = malloc((n - 1) * sizeof(double));
	for (size_t i = 1; i < n; i++)
		d[i - 1] = t[i] - t[i - 1];
	qsort(d, n - 1, sizeof(double), cmp_double);
	double m = d[(n - 1) / 2];
	free(d);
	return m;
}

static const char *model_name(int k)
{
	if (k == AN_FC__COUNT)
		return "naive";
	if (k == AN_FC__COUNT + 1)
		return "seasonal-naive";
	return an_fc_kind_name((an_fc_kind_t)k);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mase NAB_DIR [STRIDE]\n");
		return 2;
	}
	/* GSL's default handler aborts; Prophet checks every result. */
	gsl_set_error_handler_off();
	size_t stride = argc > 2 ? (size_t)atoi(argv[2]) : 5;
	if (stride < 1)
		stride = 1;
	cmd_nab_corpus_t c;
	char *msg;
	if (cmd_nab_corpus_load(argv[1], &c, &msg)) {
		fprintf(stderr, "%s\n", msg);
		return 1;
	}
	/* mase[k][h] per series, for mean and median. */
	double *mase[NMODELS][NH];
	for (int k = 0; k < NMODELS; k++)
		for (int h = 0; h < NH; h++)
			mase[k][h] = calloc(c.n, sizeof(double));
	double cost[AN_FC__COUNT][COST_RUNS];
	size_t cost_pts = 0;
	memset(cost, 0, sizeof(cost));
	size_t ns = 0;
	for (size_t f = 0; f < c.n; f++) {
		const cmd_nab_entry_t *e = &c.f[f];
		if (strncmp(e->path, "real", 4))
			continue;
		size_t n = e->s.n;
		double dt = median_interval(e->t, n);
		size_t m = dt > 0 ? (size_t)floor(86400 / dt + 0.5) : 1;
		if (m < 2 || m * 3 > n)
			m = 1; /* not a full day of cycles: plain naive */
		size_t start = an_nab_probation(n);
		if (start < 2 * m)
			start = 2 * m;
		const double *y = e->s.v;
		double scale = 0;
		for (size_t t = start; t < n; t++)
			scale += fabs(y[t] - y[t - m]);
		scale /= (double)(n - start);
		if (!(scale > 0))
			continue;
		double err[NMODELS][NH] = {{0}};
		size_t cnt[NH] = {0};
		for (size_t t = start; t + 1 < n; t += stride)
			for (int h = 0; h < NH; h++) {
				size_t tgt = t + (size_t)horizons[h];
				if (tgt >= n)
					continue;
				size_t back = m * (((size_t)horizons[h] + m - 1) / m);
				err[AN_FC__COUNT][h] += fabs(y[tgt] - y[t]);
				err[AN_FC__COUNT + 1][h] += fabs(y[tgt] - y[tgt - back]);
				cnt[h]++;
			}
		for (int k = 0; k < AN_FC__COUNT; k++) {
			an_fc_params_t p = {0};
			p.dt = dt;
			for (int run = 0; run < COST_RUNS; run++) {
				an_forecaster_t *fc =
					an_forecaster_new((an_fc_kind_t)k, &p);
				int64_t t0 = clock_mono_ns(), spent = 0;
				for (size_t t = 0; t < n; t++) {
					an_forecaster_update(fc, y[t]);
					an_forecast_t o;
					if (run > 0 || t < start ||
					    (t - start) % stride) {
						if (run > 0)
							an_forecaster_predict(fc, 1, &o);
						continue;
					}
					int64_t p0 = clock_mono_ns();
					for (int h = 0; h < NH; h++) {
						size_t tgt = t + (size_t)horizons[h];
						if (tgt >= n)
							continue;
						double fcst = y[t];
						if (an_forecaster_predict(fc, horizons[h], &o) == 0 &&
						    isfinite(o.mean))
							fcst = o.mean;
						err[k][h] += fabs(y[tgt] - fcst);
					}
					spent += clock_mono_ns() - p0;
				}
				/* Run 0 scores (its multi-horizon forecasts
				 * are not counted in the cost); later runs
				 * time update + one-step forecast. */
				if (run > 0)
					cost[k][run] += (double)(clock_mono_ns() - t0 - spent);
				an_forecaster_free(fc);
			}
		}
		cost_pts += n;
		for (int k = 0; k < NMODELS; k++)
			for (int h = 0; h < NH; h++)
				mase[k][h][ns] = cnt[h] ? err[k][h] / (double)cnt[h] / scale : 0;
		ns++;
	}
	printf("MASE on %zu real NAB series (origins every %zu points after "
	       "probation; scale: in-sample seasonal-naive MAE, m = samples per "
	       "day)\n",
	       ns, stride);
	printf("%-16s %8s %8s %8s   %8s %8s %8s   %10s\n", "model", "h=1",
	       "h=12", "h=60", "med h=1", "med h=12", "med h=60", "ns/point");
	for (int k = 0; k < NMODELS; k++) {
		double mean[NH], med[NH];
		for (int h = 0; h < NH; h++) {
			double s = 0;
			for (size_t i = 0; i < ns; i++)
				s += mase[k][h][i];
			mean[h] = s / (double)ns;
			qsort(mase[k][h], ns, sizeof(double), cmp_double);
			med[h] = mase[k][h][ns / 2];
		}
		printf("%-16s %8.3f %8.3f %8.3f   %8.3f %8.3f %8.3f", model_name(k),
		       mean[0], mean[1], mean[2], med[0], med[1], med[2]);
		if (k < AN_FC__COUNT) {
			double r[COST_RUNS - 1];
			for (int run = 1; run < COST_RUNS; run++)
				r[run - 1] = cost[k][run] / (double)cost_pts;
			qsort(r, COST_RUNS - 1, sizeof(double), cmp_double);
			printf("   %10.0f", r[(COST_RUNS - 1) / 2]);
		}
		putchar('\n');
	}
	for (int k = 0; k < NMODELS; k++)
		for (int h = 0; h < NH; h++)
			free(mase[k][h]);
	cmd_nab_corpus_free(&c);
	return 0;
}
