/*
 * test_nab_corpus.c: the NAB scorer validated on the real corpus
 * (data/nab, or $UMBRA_NAB_DIR) as issue 8 asks: the null detector
 * scores 0.0, a perfect detector 100.0, a random detector falls in the
 * published range (standard 7.95-16.83), NAB's windowed Gaussian lands
 * within 2 points of its published 39.6; plus a guard on umbra's default
 * detector.
 */
#include "analysis/anomaly.h"
#include "analysis/nab.h"
#include "cmd/nab_io.h"

#include <criterion/criterion.h>
#include <gsl/gsl_errno.h>
#include <stdlib.h>

static cmd_nab_corpus_t corpus;

static void load(void)
{
	gsl_set_error_handler_off();
	const char *dir = getenv("UMBRA_NAB_DIR");
	char *msg = NULL;
	int rc = cmd_nab_corpus_load(dir ? dir : "data/nab", &corpus, &msg);
	cr_assert_eq(rc, 0, "loading the corpus: %s", msg ? msg : "");
	cr_assert_eq(corpus.n, 58);
	cr_assert_eq(corpus.rows, 365558);
	cr_assert_eq(corpus.windows, 116);
}

static void unload(void)
{
	cmd_nab_corpus_free(&corpus);
}

TestSuite(nab_corpus, .init = load, .fini = unload);

/* Scores of detector name (or the array given) for every profile. */
static void run(const char *name, double **given, an_nab_result_t r[3])
{
	an_nab_file_t *files = calloc(corpus.n, sizeof(*files));
	double **s = calloc(corpus.n, sizeof(*s));
	for (size_t k = 0; k < corpus.n; k++) {
		const cmd_nab_entry_t *e = &corpus.f[k];
		if (given) {
			s[k] = given[k];
		} else {
			s[k] = calloc(e->s.n, sizeof(double));
			cr_assert_eq(an_det_run(name, e->t, e->s.v, e->s.n, s[k]),
				     0);
		}
		files[k] = (an_nab_file_t){e->s.n, s[k], e->win, e->nwin};
	}
	for (int p = 0; p < AN_NAB_PROFILES; p++)
		cr_assert_eq(an_nab_score(files, corpus.n, &an_nab_profile[p],
					  &r[p]),
			     0);
	if (!given)
		for (size_t k = 0; k < corpus.n; k++)
			free(s[k]);
	free(s);
	free(files);
}

Test(nab_corpus, null_scores_zero)
{
	an_nab_result_t r[3];
	run("null", NULL, r);
	for (int p = 0; p < 3; p++)
		cr_assert_float_eq(r[p].score, 0.0, 1e-9, "%s: %f",
				   an_nab_profile[p].name, r[p].score);
	/* The baseline is every window missed. */
	cr_assert_float_eq(r[0].null_raw, -116, 1e-9);
	cr_assert_float_eq(r[2].null_raw, -232, 1e-9);
}

Test(nab_corpus, perfect_scores_hundred)
{
	double **s = calloc(corpus.n, sizeof(*s));
	for (size_t k = 0; k < corpus.n; k++) {
		s[k] = calloc(corpus.f[k].s.n, sizeof(double));
		for (size_t w = 0; w < corpus.f[k].nwin; w++)
			s[k][corpus.f[k].win[w].start] = 1;
	}
	an_nab_result_t r[3];
	run(NULL, s, r);
	for (int p = 0; p < 3; p++) {
		cr_assert_float_eq(r[p].score, 100.0, 1e-9, "%s: %f",
				   an_nab_profile[p].name, r[p].score);
		cr_assert_eq(r[p].c.tp, 116);
		cr_assert_eq(r[p].c.fp, 0);
	}
	for (size_t k = 0; k < corpus.n; k++)
		free(s[k]);
	free(s);
}

Test(nab_corpus, random_in_published_range)
{
	an_nab_result_t r[3];
	run("random", NULL, r);
	cr_assert(r[0].score >= 7.95 && r[0].score <= 16.83,
		  "random standard %.2f outside 7.95..16.83", r[0].score);
}

Test(nab_corpus, windowed_gaussian_matches_nab)
{
	an_nab_result_t r[3];
	run("gaussian", NULL, r);
	cr_assert(r[0].score >= 39.6 - 2 && r[0].score <= 39.6 + 2,
		  "windowed Gaussian standard %.2f, NAB publishes 39.6",
		  r[0].score);
}

Test(nab_corpus, ensemble_holds_its_score)
{
	/* Measured 74.44 / 66.41 / 79.22 when written; a change that loses
	 * a point should be a decision, not an accident. */
	an_nab_result_t r[3];
	run("ensemble", NULL, r);
	cr_assert_geq(r[0].score, 73.4, "standard %.2f", r[0].score);
	cr_assert_geq(r[1].score, 65.4, "reward_low_FP_rate %.2f", r[1].score);
	cr_assert_geq(r[2].score, 78.2, "reward_low_FN_rate %.2f", r[2].score);
}
