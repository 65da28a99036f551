/*
 * analysis.c: throughput of the streaming deviation analysis, in points
 * per second on one core (a point: one metric's production and shadow
 * value at one tick). The series are a day-like A/A pair from the test
 * simulator, generated before timing; the analyzer runs on them as the
 * live loop would, every metric of every tick through normalisation,
 * deviation, smoothing, velocity (Theil-Sen), the envelope, the forecast
 * steps, the verdict blocks, plus a full verdict (Mann-Whitney and
 * Hodges-Lehmann for every metric) once per verdict window.
 *
 * The anchor, measured in the same run on the same points, is the seed's
 * formula alone, |p - s| / p: the least any deviation analysis must do.
 * Parts are timed on their own too. Each figure is the median of RUNS;
 * time is the thread's CPU time, so other load on the host costs it
 * little (caches and frequency still vary: compare with the anchor).
 *
 *   analysis [TICKS [RUNS]]
 */
#include "../tests/unit/analysis/sim.h"
#include "analysis/analysis.h"
#include "analysis/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The thread's CPU time: "per core" means per second of one core's work,
 * and the host is shared (other benchmarks may run beside this one). */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static volatile double sink;

int main(int argc, char **argv)
{
	long ticks = argc > 1 ? atol(argv[1]) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	if (ticks < 1000 || runs < 1 || runs > 99) {
		fprintf(stderr, "usage: analysis [TICKS>=1000 [RUNS 1..99]]\n");
		return 2;
	}
	an_tick_t *t = malloc((size_t)ticks * sizeof(*t));
	sim_t sim;
	sim_init(&sim, 1, 1.0);
	for (long k = 0; k < ticks; k++) {
		sim_mod_t m;
		sim_mod_none(&m);
		t[k] = *sim_step(&sim, k, &m);
		t[k].endpoints = NULL;
		t[k].nendpoints = 0;
	}
	double points = (double)ticks * AN_METRIC__COUNT;
	an_out_t *out = malloc(sizeof(*out));
	an_params_t p;
	an_params_default(&p);
	long verdict_every = (long)(p.verdict_window_ns / p.interval_ns);

	double anchor[99], full[99], withdet[99], ts[99], hist[99], judge[99];
	size_t findings = 0, anomalies = 0;
	for (int r = 0; r < runs; r++) {
		/* anchor: the seed formula over the same points */
		double t0 = now(), acc = 0;
		for (long k = 0; k < ticks; k++)
			for (int m = 0; m < AN_METRIC__COUNT; m++) {
				double a = t[k].value[0][m], b = t[k].value[1][m];
				if (a == a && b == b)
					acc += fabs(a - b) / a;
			}
		sink = acc;
		anchor[r] = points / (now() - t0);

		/* the streaming analysis: the comparison alone, then with
		 * each side's anomaly detectors (the default) */
		for (int with = 0; with < 2; with++) {
			an_params_t q = p;
			q.anomalies = with;
			an_analyzer_t *an;
			if (an_analyzer_init(&an, &q, NULL))
				return 1;
			an_verdict_t v;
			t0 = now();
			for (long k = 0; k < ticks; k++) {
				an_analyzer_update(an, &t[k], out);
				findings += with ? 0 : out->nfindings;
				anomalies += with ? out->nanomalies : 0;
				if (k % verdict_every == 0)
					an_analyzer_verdict(an, AN_SHADOW, &v);
			}
			(with ? withdet : full)[r] = points / (now() - t0);
			an_analyzer_free(an);
		}

		/* parts: Theil-Sen over the default 5-point velocity window */
		double tt[5] = {0, 1, 2, 3, 4}, yy[5];
		t0 = now();
		for (long k = 0; k < ticks; k++) {
			for (int i = 0; i < 5; i++)
				yy[i] = t[k].value[0][i] * 1e-3;
			acc += an_theil_sen(tt, yy, 5);
		}
		sink = acc;
		ts[r] = (double)ticks / (now() - t0);

		/* the envelope histogram: advance, add, quantile every 10 */
		an_decayhist_t h;
		an_decayhist_init(&h, 3600);
		t0 = now();
		for (long k = 0; k < ticks; k++) {
			an_decayhist_advance(&h, k);
			an_decayhist_add(&h, fabs(t[k].value[1][0] /
						  t[k].value[0][0] - 1));
			if (k % 10 == 0)
				acc += an_decayhist_quantile(&h, 0.99);
		}
		sink = acc;
		hist[r] = (double)ticks / (now() - t0);

		/* one metric's judgement: MWU + HL on 30 block means a side */
		double x[30], y[30], scratch[900];
		long nj = ticks / 100;
		t0 = now();
		for (long j = 0; j < nj; j++) {
			for (int i = 0; i < 30; i++) {
				x[i] = t[(j * 30 + i) % ticks].value[0][0];
				y[i] = t[(j * 30 + i) % ticks].value[1][0];
			}
			an_mwu_t u;
			an_hl_t hl;
			an_mwu(x, 30, y, 30, &u);
			an_hodges_lehmann(x, 30, y, 30, 0.05, scratch, &hl);
			acc += u.p + hl.shift;
		}
		sink = acc;
		judge[r] = (double)nj / (now() - t0);
	}
	printf("analysis: %ld ticks x %d metrics, %d runs, medians "
	       "(findings on this A/A data: %zu; single-side anomalies: "
	       "%zu)\n",
	       ticks, AN_METRIC__COUNT, runs, findings, anomalies);
	double a = median(anchor, runs), f = median(full, runs);
	double w = median(withdet, runs);
	printf("  %-46s %12.0f points/s\n", "anchor: |p - s| / p alone", a);
	printf("  %-46s %12.0f points/s  (%.1f%% of the anchor)\n",
	       "streaming analysis (an_analyzer_update)", f, 100 * f / a);
	printf("  %-46s %12.0f ns/point\n", "  per point", 1e9 / f);
	printf("  %-46s %12.0f points/s\n",
	       "  with each side's anomaly detector", w);
	printf("  %-46s %12.0f ns/point\n", "  per point", 1e9 / w);
	printf("  %-46s %12.0f calls/s\n", "part: Theil-Sen, 5 points",
	       median(ts, runs));
	printf("  %-46s %12.0f points/s\n", "part: envelope histogram",
	       median(hist, runs));
	printf("  %-46s %12.0f judgements/s\n",
	       "part: Mann-Whitney + Hodges-Lehmann, 30 x 30", median(judge, runs));
	printf("  target >= 2000000 points/s for the streaming comparison: "
	       "%s\n",
	       f >= 2e6 ? "met" : "NOT met");
	free(out);
	free(t);
	return 0;
}
