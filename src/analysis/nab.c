/*
 * nab.c: NAB scoring (see nab.h for the rules and their source). The
 * threshold search sorts every scorable row of the corpus by anomaly score
 * and lowers the threshold one distinct score at a time, keeping the
 * corpus score up to date incrementally: a false positive adds its
 * (negative) value, a detection inside a window raises that window's value
 * to the best detection seen so far (the earliest row has the best value,
 * so "best" is "earliest").
 */
#include "analysis/nab.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

const an_nab_profile_t an_nab_profile[AN_NAB_PROFILES] = {
	{"standard", 1.0, 0.11, 1.0},
	{"reward_low_FP_rate", 1.0, 0.22, 1.0},
	{"reward_low_FN_rate", 1.0, 0.11, 2.0},
};

/* Positions past a window at or beyond this many window widths cost the
 * full fp weight (NAB v1.1's sweeper: sigma(y) = -1 for y >= 3; before
 * any window y is 3). */
#define NAB_FAR_PAST 3.0

size_t an_nab_probation(size_t n)
{
	size_t p = (size_t)floor(AN_NAB_PROBATION_FRACTION * (double)n);
	return p < AN_NAB_PROBATION_MAX ? p : AN_NAB_PROBATION_MAX;
}

double an_nab_sigmoid(double y)
{
	if (y >= NAB_FAR_PAST)
		return -1.0;
	return 2.0 / (1.0 + exp(5.0 * y)) - 1.0;
}

static bool file_ok(const an_nab_file_t *f)
{
	if (f->n && !f->score)
		return false;
	for (size_t w = 0; w < f->nwin; w++) {
		if (f->win[w].start > f->win[w].end || f->win[w].end >= f->n)
			return false;
		if (w && f->win[w].start <= f->win[w - 1].end)
			return false;
	}
	for (size_t i = 0; i < f->n; i++)
		if (isnan(f->score[i]))
			return false;
	return true;
}

/*
 * Walks the scorable rows of one file in order, calling fn with the row
 * index, the row's weighted value (what a detection there is worth) and
 * the index of the window it lies in (-1 outside windows). Window indices
 * count from 0 in this file.
 */
typedef void (*row_fn)(void *ctx, size_t i, double value, long win);

static void walk_rows(const an_nab_file_t *f, const an_nab_profile_t *p,
		      row_fn fn, void *ctx)
{
	const double max_tp = an_nab_sigmoid(-1.0);
	size_t prob = an_nab_probation(f->n);
	size_t w = 0;          /* next or current window */
	bool past = false;     /* a window has ended before this row */
	size_t past_end = 0, past_width = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (w < f->nwin && i > f->win[w].end) {
			past = true;
			past_end = f->win[w].end;
			past_width = f->win[w].end - f->win[w].start + 1;
			w++;
		}
		double value;
		long win = -1;
		if (w < f->nwin && i >= f->win[w].start) {
			const an_nab_window_t *cw = &f->win[w];
			double width = (double)(cw->end - cw->start + 1);
			double y = -(double)(cw->end - i + 1) / width;
			value = an_nab_sigmoid(y) * p->tp / max_tp;
			win = (long)w;
		} else {
			double y = NAB_FAR_PAST;
			if (past && past_width > 1)
				y = (double)(i - past_end) /
				    (double)(past_width - 1);
			value = an_nab_sigmoid(y) * p->fp;
		}
		if (i >= prob)
			fn(ctx, i, value, win);
	}
}

/* ------------------------------------------------------- one threshold */

struct at_ctx {
	const double *score;
	double threshold;
	an_nab_counts_t *c;
	double *best; /* per window of the file: best detection, or NAN */
};

static void at_row(void *vctx, size_t i, double value, long win)
{
	struct at_ctx *x = vctx;
	if (!(x->score[i] >= x->threshold))
		return;
	if (win < 0) {
		x->c->fp++;
		x->c->fp_cost += value;
	} else if (isnan(x->best[win]) || value > x->best[win]) {
		x->best[win] = value;
	}
}

void an_nab_score_at(const an_nab_file_t *files, size_t nfiles,
		     const an_nab_profile_t *p, double threshold,
		     an_nab_counts_t *out)
{
	*out = (an_nab_counts_t){0};
	for (size_t k = 0; k < nfiles; k++) {
		const an_nab_file_t *f = &files[k];
		double *best = xcalloc(f->nwin ? f->nwin : 1, sizeof(double));
		bool *scorable = xcalloc(f->nwin ? f->nwin : 1, sizeof(bool));
		size_t prob = an_nab_probation(f->n);
		for (size_t w = 0; w < f->nwin; w++) {
			best[w] = NAN;
			scorable[w] = f->win[w].end >= prob;
		}
		struct at_ctx x = {f->score, threshold, out, best};
		walk_rows(f, p, at_row, &x);
		for (size_t w = 0; w < f->nwin; w++) {
			if (!scorable[w])
				continue;
			if (isnan(best[w])) {
				out->fn++;
			} else {
				out->tp++;
				out->tp_value += best[w];
			}
		}
		free(best);
		free(scorable);
	}
	out->raw = out->tp_value + out->fp_cost - p->fn * (double)out->fn;
}

/* ------------------------------------------------------------- the sweep */

typedef struct sweep_row {
	double score;
	double value;
	long win; /* corpus-wide window index, -1 outside */
} sweep_row_t;

struct collect_ctx {
	sweep_row_t *rows;
	size_t n;
	const double *score; /* NULL: the constant detector */
	long win_base;
};

static void collect_row(void *vctx, size_t i, double value, long win)
{
	struct collect_ctx *x = vctx;
	x->rows[x->n++] = (sweep_row_t){
		x->score ? x->score[i] : 0.5, value,
		win < 0 ? -1 : x->win_base + win};
}

static int by_score_desc(const void *a, const void *b)
{
	double x = ((const sweep_row_t *)a)->score;
	double y = ((const sweep_row_t *)b)->score;
	return (x < y) - (x > y);
}

/*
 * The best threshold and its raw score over the corpus; constant: score
 * every row 0.5 (NAB's null detector) instead of the files' scores.
 */
static void sweep(const an_nab_file_t *files, size_t nfiles,
		  const an_nab_profile_t *p, bool constant, double *thr_out,
		  double *raw_out)
{
	size_t total = 0, nwin = 0;
	for (size_t k = 0; k < nfiles; k++) {
		total += files[k].n - an_nab_probation(files[k].n);
		nwin += files[k].nwin;
	}
	struct collect_ctx x = {xcalloc(total ? total : 1, sizeof(sweep_row_t)),
				0, NULL, 0};
	for (size_t k = 0; k < nfiles; k++) {
		x.score = constant ? NULL : files[k].score;
		walk_rows(&files[k], p, collect_row, &x);
		x.win_base += (long)files[k].nwin;
	}
	/* A window counts (as a miss until detected) when it has a scorable
	 * row, as in NAB. */
	double *wval = xcalloc(nwin ? nwin : 1, sizeof(double));
	bool *seen = xcalloc(nwin ? nwin : 1, sizeof(bool));
	for (size_t i = 0; i < x.n; i++)
		if (x.rows[i].win >= 0)
			seen[x.rows[i].win] = true;
	double raw = 0;
	for (size_t w = 0; w < nwin; w++)
		if (seen[w]) {
			wval[w] = -p->fn;
			raw += wval[w];
		}
	/* Most rows of a suppressed detector score 0, and the constant
	 * detector's rows are all equal: only rows above zero are sorted
	 * (the zeros form the last group of ties, as a full sort leaves
	 * them), and nothing is sorted when every score is the same. */
	size_t pos = 0;
	bool all_zero_rest = true;
	for (size_t i = 0; i < x.n; i++)
		if (x.rows[i].score > 0) {
			sweep_row_t tmp = x.rows[pos];
			x.rows[pos++] = x.rows[i];
			x.rows[i] = tmp;
		}
	for (size_t i = pos; i < x.n; i++)
		if (x.rows[i].score != 0)
			all_zero_rest = false;
	bool all_equal = true;
	for (size_t i = 1; i < pos && all_equal; i++)
		all_equal = x.rows[i].score == x.rows[0].score;
	if (!all_equal)
		qsort(x.rows, pos, sizeof(sweep_row_t), by_score_desc);
	if (!all_zero_rest)
		qsort(x.rows + pos, x.n - pos, sizeof(sweep_row_t),
		      by_score_desc);

	/* Above every score nothing is detected (NAB starts at 1.1). */
	double best_thr = 1.1, best_raw = raw;
	for (size_t i = 0; i < x.n;) {
		double s = x.rows[i].score;
		for (; i < x.n && x.rows[i].score == s; i++) {
			const sweep_row_t *r = &x.rows[i];
			if (r->win < 0) {
				raw += r->value;
			} else if (r->value > wval[r->win]) {
				raw += r->value - wval[r->win];
				wval[r->win] = r->value;
			}
		}
		if (raw > best_raw) {
			best_raw = raw;
			best_thr = s;
		}
	}
	*thr_out = best_thr;
	*raw_out = best_raw;
	free(x.rows);
	free(wval);
	free(seen);
}

int an_nab_score(const an_nab_file_t *files, size_t nfiles,
		 const an_nab_profile_t *p, an_nab_result_t *out)
{
	size_t nwin = 0;
	for (size_t k = 0; k < nfiles; k++) {
		if (!file_ok(&files[k]))
			return ERR_INVAL;
		nwin += files[k].nwin;
	}
	an_nab_result_t r = {0};
	double null_thr, raw;
	sweep(files, nfiles, p, true, &null_thr, &r.null_raw);
	sweep(files, nfiles, p, false, &r.threshold, &raw);
	an_nab_score_at(files, nfiles, p, r.threshold, &r.c);
	r.perfect_raw = p->tp * (double)nwin;
	double span = r.perfect_raw - r.null_raw;
	r.score = span > 0 ? 100.0 * (r.c.raw - r.null_raw) / span : 0;
	*out = r;
	return 0;
}
