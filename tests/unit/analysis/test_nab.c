/*
 * test_nab.c: NAB's scoring rules on hand-computed cases: the scaled
 * sigmoid, probation, earliest detection per window, false positives
 * before and after windows, threshold search and normalisation.
 */
#include "analysis/nab.h"
#include "base/err.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#define N 100
/* One window, rows 40..59 (width 20); probation is 15 rows. */
static const an_nab_window_t win = {40, 59};

static an_nab_result_t score_one(const double *s, int profile)
{
	an_nab_file_t f = {N, s, &win, 1};
	an_nab_result_t r;
	cr_assert_eq(an_nab_score(&f, 1, &an_nab_profile[profile], &r), 0);
	return r;
}

Test(nab, sigmoid_and_probation)
{
	cr_assert_float_eq(an_nab_sigmoid(-1), 0.986614, 1e-6);
	cr_assert_float_eq(an_nab_sigmoid(-0.5), 0.848284, 1e-6);
	cr_assert_float_eq(an_nab_sigmoid(0), 0, 1e-12);
	cr_assert_float_eq(an_nab_sigmoid(1), -0.986614, 1e-6);
	cr_assert_float_eq(an_nab_sigmoid(3.5), -1, 0);
	cr_assert_eq(an_nab_probation(100), 15);
	cr_assert_eq(an_nab_probation(4032), 604);
	cr_assert_eq(an_nab_probation(22695), 750);
}

Test(nab, detection_at_window_start_is_perfect)
{
	double s[N] = {0};
	s[40] = 1;
	an_nab_result_t r = score_one(s, 0);
	cr_assert_float_eq(r.c.raw, 1, 1e-12);
	cr_assert_float_eq(r.null_raw, -1, 1e-12);
	cr_assert_float_eq(r.score, 100, 1e-9);
	cr_assert_eq(r.c.tp, 1);
	cr_assert_eq(r.c.fp, 0);
}

Test(nab, detection_mid_window)
{
	double s[N] = {0};
	s[50] = 0.7;
	s[55] = 0.9; /* later, higher: the earliest detection counts */
	an_nab_result_t r = score_one(s, 0);
	/* threshold 0.7 detects both; the row-50 one is worth
	 * sigma(-10/20) / sigma(-1) */
	cr_assert_float_eq(r.threshold, 0.7, 0);
	cr_assert_float_eq(r.c.raw, 0.848284 / 0.986614, 1e-6);
	cr_assert_float_eq(r.score, 100 * (r.c.raw + 1) / 2, 1e-9);
}

Test(nab, probation_is_ignored)
{
	double s[N] = {0};
	s[5] = 1; /* in probation: neither a hit nor a false positive */
	s[40] = 1;
	an_nab_result_t r = score_one(s, 0);
	cr_assert_float_eq(r.score, 100, 1e-9);
	cr_assert_eq(r.c.fp, 0);
}

Test(nab, false_positives)
{
	double s[N] = {0};
	s[20] = 1; /* before the window: full cost */
	s[40] = 1;
	an_nab_counts_t c;
	an_nab_file_t f = {N, s, &win, 1};
	an_nab_score_at(&f, 1, &an_nab_profile[0], 1, &c);
	cr_assert_float_eq(c.raw, 1 - 0.11, 1e-12);
	cr_assert_eq(c.fp, 1);
	an_nab_score_at(&f, 1, &an_nab_profile[1], 1, &c);
	cr_assert_float_eq(c.raw, 1 - 0.22, 1e-12);
	memset(s, 0, sizeof(s));
	s[40] = 1;
	s[60] = 1; /* just after the window: (60 - 59) / 19 */
	an_nab_score_at(&f, 1, &an_nab_profile[0], 1, &c);
	cr_assert_float_eq(c.raw, 1 + 0.11 * an_nab_sigmoid(1.0 / 19), 1e-12);
	cr_assert_float_eq(0.11 * an_nab_sigmoid(1.0 / 19), -0.014390, 1e-6);
}

Test(nab, a_lone_false_positive_is_not_worth_it)
{
	double s[N] = {0};
	s[20] = 1;
	an_nab_result_t r = score_one(s, 0);
	/* detecting costs 0.11 and finds nothing: no detection wins */
	cr_assert_float_eq(r.threshold, 1.1, 0);
	cr_assert_float_eq(r.score, 0, 1e-12);
}

Test(nab, missed_window_costs_fn_weight)
{
	double s[N] = {0};
	an_nab_counts_t c;
	an_nab_file_t f = {N, s, &win, 1};
	an_nab_score_at(&f, 1, &an_nab_profile[2], 0.5, &c);
	cr_assert_float_eq(c.raw, -2, 1e-12);
	cr_assert_eq(c.fn, 1);
}

Test(nab, constant_detector_scores_zero)
{
	double s[N];
	for (int i = 0; i < N; i++)
		s[i] = 0.5;
	for (int p = 0; p < AN_NAB_PROFILES; p++) {
		an_nab_result_t r = score_one(s, p);
		cr_assert_float_eq(r.score, 0, 1e-12, "profile %d", p);
	}
}

Test(nab, threshold_is_corpus_wide)
{
	/* Two files: one wants a threshold of 0.9, the other 0.6; the
	 * corpus gets one threshold, the one that maximises the sum. */
	double a[N] = {0}, b[N] = {0};
	a[45] = 0.9;
	a[20] = 0.6; /* a false positive at 0.6 in file a */
	b[45] = 0.6;
	an_nab_file_t f[2] = {{N, a, &win, 1}, {N, b, &win, 1}};
	an_nab_result_t r;
	cr_assert_eq(an_nab_score(f, 2, &an_nab_profile[0], &r), 0);
	/* at 0.6: both windows (each 2 sigma(-0.75)/...) minus 0.11 beats
	 * one window and one miss */
	cr_assert_float_eq(r.threshold, 0.6, 0);
	cr_assert_eq(r.c.tp, 2);
	cr_assert_eq(r.c.fp, 1);
}

Test(nab, rejects_malformed_windows)
{
	double s[N] = {0};
	an_nab_window_t bad[2] = {{40, 59}, {50, 70}};
	an_nab_file_t f = {N, s, bad, 2};
	an_nab_result_t r;
	cr_assert_eq(an_nab_score(&f, 1, &an_nab_profile[0], &r), ERR_INVAL);
	an_nab_window_t out = {90, 100};
	f = (an_nab_file_t){N, s, &out, 1};
	cr_assert_eq(an_nab_score(&f, 1, &an_nab_profile[0], &r), ERR_INVAL);
	s[3] = NAN;
	f = (an_nab_file_t){N, s, &win, 1};
	cr_assert_eq(an_nab_score(&f, 1, &an_nab_profile[0], &r), ERR_INVAL);
}
