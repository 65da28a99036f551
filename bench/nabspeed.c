/*
 * nabspeed.c: speed of every anomaly detector on the whole NAB corpus,
 * one core: the median over RUNS runs of the time to score every point
 * of every series (loading excluded), as seconds per corpus, nanoseconds
 * and million points per second, and the ratio to NAB's windowed
 * Gaussian measured in the same run (the anchor). Checks issue 8's
 * budgets: the corpus through the default detector in under 10 s, fast
 * detectors at 1 M points/s or more.
 *
 *   nabspeed DIR [RUNS]
 */
#include "analysis/anomaly.h"
#include "base/clock.h"
#include "cmd/nab_io.h"

#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 15
/* Issue 8's budgets. */
#define ENSEMBLE_BUDGET_S 10.0
/* The default detector of `umbra analyze --nab`, which the budget is
 * for. */
#define DEFAULT_DETECTOR AN_DET_DEFAULT
#define FAST_MPTS 1.0

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double corpus_seconds(const cmd_nab_corpus_t *c, const char *name,
			     double *scratch)
{
	int64_t ns = 0;
	for (size_t k = 0; k < c->n; k++) {
		int64_t t0 = clock_mono_ns();
		an_det_run(name, c->f[k].t, c->f[k].s.v, c->f[k].s.n, scratch);
		ns += clock_mono_ns() - t0;
	}
	return (double)ns / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: nabspeed NAB_DIR [RUNS]\n");
		return 2;
	}
	gsl_set_error_handler_off();
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	if (runs < 1 || runs > MAX_RUNS)
		runs = 5;
	cmd_nab_corpus_t c;
	char *msg;
	if (cmd_nab_corpus_load(argv[1], &c, &msg)) {
		fprintf(stderr, "%s\n", msg);
		return 1;
	}
	size_t longest = 0;
	for (size_t k = 0; k < c.n; k++)
		longest = c.f[k].s.n > longest ? c.f[k].s.n : longest;
	double *scratch = malloc(longest * sizeof(double));
	size_t nd = an_det_count();
	double *med = calloc(nd, sizeof(double));
	double anchor = 0;
	for (size_t d = 0; d < nd; d++) {
		double r[MAX_RUNS];
		for (int i = 0; i < runs; i++)
			r[i] = corpus_seconds(&c, an_det_at(d)->name, scratch);
		qsort(r, (size_t)runs, sizeof(double), cmp_double);
		med[d] = r[runs / 2];
		if (!strcmp(an_det_at(d)->name, "gaussian"))
			anchor = med[d];
	}
	printf("detector speed on NAB (%zu points, one core, median of %d runs)\n",
	       c.rows, runs);
	printf("%-12s %9s %10s %8s %10s %8s\n", "detector", "corpus_s",
	       "ns/point", "Mpts/s", "x gaussian", "state_B");
	double ens = 0;
	for (size_t d = 0; d < nd; d++) {
		const an_det_info_t *i = an_det_at(d);
		double ns = med[d] * 1e9 / (double)c.rows;
		printf("%-12s %9.3f %10.1f %8.2f %10.2f %8zu\n", i->name, med[d],
		       ns, (double)c.rows / med[d] / 1e6,
		       anchor > 0 ? med[d] / anchor : 0, i->state_bytes);
		if (!strcmp(i->name, DEFAULT_DETECTOR))
			ens = med[d];
	}
	printf("budget: %s (the default) corpus %.2f s (< %.0f s): %s\n",
	       DEFAULT_DETECTOR, ens,
	       ENSEMBLE_BUDGET_S, ens < ENSEMBLE_BUDGET_S ? "ok" : "OVER");
	printf("fast detectors (>= %.0f M points/s):", FAST_MPTS);
	for (size_t d = 0; d < nd; d++)
		if ((double)c.rows / med[d] / 1e6 >= FAST_MPTS)
			printf(" %s", an_det_at(d)->name);
	putchar('\n');
	free(med);
	free(scratch);
	cmd_nab_corpus_free(&c);
	return 0;
}
