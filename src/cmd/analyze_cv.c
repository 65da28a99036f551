/*
 * analyze_cv.c: `umbra analyze --nab DIR --cv K|category`: the
 * cross-validated NAB score of the default detector. The corpus is split
 * into folds by series (never by time): with --cv K the files, sorted by
 * path (so grouped by category), are dealt round-robin into K folds, so
 * every fold holds files of every category; with --cv category each of
 * NAB's categories is a fold of its own (leave one category out). For
 * each fold the default detector's data-chosen constants
 * (an_ens_params_t) are picked from the candidate grid (an_ens_grid_at)
 * by the standard NAB score of the other folds alone, with the
 * corpus-wide thresholds also searched on those folds; the held-out fold
 * is then scored at the training folds' threshold. The held-out folds'
 * raw scores are pooled and normalised by their summed null and perfect
 * scores (NAB's normalisation, over the held-out files).
 *
 * Printed: each fold's choice and scores, the pooled held-out scores
 * (each fold at its training threshold, and, as NAB would score the
 * pooled held-out results, at one threshold searched on them), and the
 * in-sample scores of the grid point that is best on the whole corpus.
 * Pure computation over the loaded corpus; printing is the only output.
 */
#include "analysis/anomaly.h"
#include "analysis/nab.h"
#include "base/err.h"
#include "base/units.h"
#include "base/xmalloc.h"
#include "cmd/analyze.h"
#include "cmd/nab_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Folds: 2 at least (one to train, one to hold out); at most NAB's file
 * count (leave one file out). */
#define CV_MIN_FOLDS 2
#define CV_MAX_FOLDS 58

/* Scores every file of c through the default detector with constants p
 * into scores[k] (each c->f[k].s.n long). */
static void run_params(const cmd_nab_corpus_t *c, const an_ens_params_t *p,
		       double **scores)
{
	for (size_t k = 0; k < c->n; k++) {
		const cmd_nab_entry_t *e = &c->f[k];
		an_det_t *d = an_det_new_ens(p);
		for (size_t i = 0; i < e->s.n; i++)
			scores[k][i] = an_det_update(d, e->t[i], e->s.v[i]);
		an_det_free(d);
	}
}

/* The files of c in fold f (in = true) or in every other fold (in =
 * false), with scores, into out; returns how many. */
static size_t select_files(const cmd_nab_corpus_t *c, const int *fold,
			   int f, bool in, double **scores,
			   an_nab_file_t *out)
{
	size_t m = 0;
	for (size_t k = 0; k < c->n; k++)
		if ((fold[k] == f) == in)
			out[m++] = (an_nab_file_t){c->f[k].s.n, scores[k],
						   c->f[k].win,
						   c->f[k].nwin};
	return m;
}

/* The category of a corpus path ("<category>/<file>.csv"): its length. */
static size_t category_len(const char *path)
{
	const char *slash = strchr(path, '/');
	return slash ? (size_t)(slash - path) : strlen(path);
}

/* Assigns folds; returns their count, or 0 when spec is malformed. */
static int assign_folds(const cmd_nab_corpus_t *c, const char *spec,
			int *fold)
{
	if (!strcmp(spec, "category")) {
		int nf = 0;
		for (size_t k = 0; k < c->n; k++) {
			const char *p = c->f[k].path;
			if (k > 0 && category_len(p) ==
					     category_len(c->f[k - 1].path) &&
			    !strncmp(p, c->f[k - 1].path, category_len(p)))
				fold[k] = fold[k - 1];
			else
				fold[k] = nf++;
		}
		return nf >= CV_MIN_FOLDS ? nf : 0;
	}
	int64_t k64;
	const char *why;
	if (units_parse_i64(spec, CV_MIN_FOLDS, CV_MAX_FOLDS, &k64, &why) ||
	    (size_t)k64 > c->n)
		return 0;
	for (size_t k = 0; k < c->n; k++)
		fold[k] = (int)(k % (size_t)k64);
	return (int)k64;
}

static void print_scores(const char *what, const double *s)
{
	printf("%-34s %8.2f %8.2f %8.2f\n", what, s[0], s[1], s[2]);
}

int analyze_cv_run(cmd_args_t *a, const cmd_nab_corpus_t *c,
		   const char *spec)
{
	int *fold = xcalloc(c->n, sizeof(int));
	int nf = assign_folds(c, spec, fold);
	if (!nf) {
		free(fold);
		return cmd_usage_error(a->cmd,
				       "--cv wants a fold count %d..%d (at "
				       "most the corpus' files) or 'category'",
				       CV_MIN_FOLDS, CV_MAX_FOLDS);
	}
	size_t G = an_ens_grid_size();
	double **scores = xcalloc(c->n, sizeof(*scores));
	for (size_t k = 0; k < c->n; k++)
		scores[k] = xcalloc(c->f[k].s.n, sizeof(double));
	an_nab_file_t *sel = xcalloc(c->n, sizeof(*sel));
	/* Phase 1: every grid point's standard score on every fold's
	 * training files, and on the whole corpus. */
	double *train = xcalloc(G * (size_t)nf, sizeof(double));
	double *whole = xcalloc(G, sizeof(double));
	const an_nab_profile_t *std = &an_nab_profile[0];
	printf("cross-validation: %d folds (%s), %zu grid points\n", nf, spec,
	       G);
	fflush(stdout);
	int rc = CMD_EXIT_OK;
	size_t block = an_ens_grid_fuse_block();
	an_ens_chan_t **ch = xcalloc(c->n, sizeof(*ch));
	for (size_t k = 0; k < c->n; k++)
		ch[k] = xcalloc(c->f[k].s.n, sizeof(an_ens_chan_t));
	for (size_t g = 0; g < G; g++) {
		an_ens_params_t p;
		an_ens_grid_at(g, &p);
		/* The channels once per block, the fusion per point. */
		for (size_t k = 0; k < c->n; k++) {
			const cmd_nab_entry_t *e = &c->f[k];
			if (g % block == 0)
				an_ens_channels(&p, e->t, e->s.v, e->s.n,
						ch[k]);
			an_ens_fuse(&p, ch[k], e->s.n, scores[k]);
		}
		an_nab_result_t r;
		for (int f = 0; f < nf; f++) {
			size_t m = select_files(c, fold, f, false, scores, sel);
			if (an_nab_score(sel, m, std, &r))
				goto bad;
			train[g * (size_t)nf + (size_t)f] = r.score;
		}
		for (size_t k = 0; k < c->n; k++)
			sel[k] = (an_nab_file_t){c->f[k].s.n, scores[k],
						 c->f[k].win, c->f[k].nwin};
		if (an_nab_score(sel, c->n, std, &r))
			goto bad;
		whole[g] = r.score;
	}
	for (size_t k = 0; k < c->n; k++)
		free(ch[k]);
	free(ch);
	ch = NULL;
	/* Phase 2: each fold's choice, scored on its held-out files at
	 * the thresholds of its training files, for every profile. */
	double held_raw[AN_NAB_PROFILES] = {0}, held_null[AN_NAB_PROFILES] = {0},
	       held_perfect[AN_NAB_PROFILES] = {0};
	double **pooled = xcalloc(c->n, sizeof(*pooled));
	printf("%-4s %-57s %8s %8s %8s %8s\n", "fold", "chosen", "train",
	       "held_std", "held_lFP", "held_lFN");
	for (int f = 0; f < nf; f++) {
		size_t best = 0;
		for (size_t g = 1; g < G; g++)
			if (train[g * (size_t)nf + (size_t)f] >
			    train[best * (size_t)nf + (size_t)f])
				best = g;
		an_ens_params_t p;
		an_ens_grid_at(best, &p);
		run_params(c, &p, scores);
		char buf[128];
		printf("%-4d %-57s %8.2f", f, an_ens_params_str(&p, buf,
								sizeof(buf)),
		       train[best * (size_t)nf + (size_t)f]);
		for (int q = 0; q < AN_NAB_PROFILES; q++) {
			an_nab_result_t tr, te;
			size_t m = select_files(c, fold, f, false, scores, sel);
			if (an_nab_score(sel, m, &an_nab_profile[q], &tr))
				goto bad2;
			m = select_files(c, fold, f, true, scores, sel);
			if (an_nab_score(sel, m, &an_nab_profile[q], &te))
				goto bad2;
			an_nab_counts_t at;
			an_nab_score_at(sel, m, &an_nab_profile[q],
					tr.threshold, &at);
			held_raw[q] += at.raw;
			held_null[q] += te.null_raw;
			held_perfect[q] += te.perfect_raw;
			double span = te.perfect_raw - te.null_raw;
			printf(" %8.2f",
			       span > 0 ? 100 * (at.raw - te.null_raw) / span
					: 0.0);
		}
		putchar('\n');
		fflush(stdout);
		for (size_t k = 0; k < c->n; k++)
			if (fold[k] == f) {
				pooled[k] = scores[k];
				scores[k] =
					xcalloc(c->f[k].s.n, sizeof(double));
			}
	}
	double s[AN_NAB_PROFILES];
	for (int q = 0; q < AN_NAB_PROFILES; q++) {
		double span = held_perfect[q] - held_null[q];
		s[q] = span > 0 ? 100 * (held_raw[q] - held_null[q]) / span : 0;
	}
	printf("%-34s %8s %8s %8s\n", "", "standard", "low_FP", "low_FN");
	print_scores("held out, training thresholds", s);
	for (size_t k = 0; k < c->n; k++)
		sel[k] = (an_nab_file_t){c->f[k].s.n, pooled[k], c->f[k].win,
					 c->f[k].nwin};
	for (int q = 0; q < AN_NAB_PROFILES; q++) {
		an_nab_result_t r;
		if (an_nab_score(sel, c->n, &an_nab_profile[q], &r))
			goto bad2;
		s[q] = r.score;
	}
	print_scores("held out, one pooled threshold", s);
	size_t best = 0;
	for (size_t g = 1; g < G; g++)
		if (whole[g] > whole[best])
			best = g;
	an_ens_params_t p;
	an_ens_grid_at(best, &p);
	run_params(c, &p, scores);
	for (size_t k = 0; k < c->n; k++)
		sel[k] = (an_nab_file_t){c->f[k].s.n, scores[k], c->f[k].win,
					 c->f[k].nwin};
	for (int q = 0; q < AN_NAB_PROFILES; q++) {
		an_nab_result_t r;
		if (an_nab_score(sel, c->n, &an_nab_profile[q], &r))
			goto bad2;
		s[q] = r.score;
	}
	char buf[128];
	print_scores("in sample, best on the corpus", s);
	printf("in-sample choice: %s\n",
	       an_ens_params_str(&p, buf, sizeof(buf)));
	goto done2;
bad2:
	rc = cmd_fail(a->cmd, "malformed windows");
done2:
	for (size_t k = 0; k < c->n; k++)
		free(pooled[k]);
	free(pooled);
	goto done;
bad:
	rc = cmd_fail(a->cmd, "malformed windows");
	for (size_t k = 0; ch && k < c->n; k++)
		free(ch[k]);
	free(ch);
done:
	for (size_t k = 0; k < c->n; k++)
		free(scores[k]);
	free(scores);
	free(sel);
	free(train);
	free(whole);
	free(fold);
	return rc;
}
