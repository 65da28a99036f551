/*
 * det_basic.c: NAB's reference detectors, kept so that the benchmark can
 * be checked against its published numbers: "null" (a constant 0.5, NAB's
 * baseline that normalisation maps to 0), "random" (a uniform score per
 * point; NAB reports 11.0 standard) and "gaussian" (NAB's windowed
 * Gaussian: the two-sided normal tail of the value under the mean and
 * standard deviation of the last 6400 values, refreshed every 100 points;
 * NAB reports 39.6 standard).
 */
#include "analysis/anomaly_int.h"

#include <math.h>
#include <stdint.h>

/* ------------------------------------------------------------------ null */

typedef struct det_null {
	char unused;
} det_null_t;

static void null_init(void *st)
{
	(void)st;
}

static double null_update(void *st, double t, double x)
{
	(void)st, (void)t, (void)x;
	return 0.5; /* NAB's null detector */
}

const an_det_ops_t an_det_null_ops = {
	{"null", "constant 0.5 (NAB's baseline: scores 0)", sizeof(det_null_t)},
	null_init,
	null_update,
};

/* ---------------------------------------------------------------- random */

/* splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014): one 64-bit word of state, full period. */
typedef struct det_random {
	uint64_t s;
} det_random_t;

/* Every series starts from the same seed, as NAB's detector does (42). */
#define RANDOM_SEED 42

static void random_init(void *st)
{
	((det_random_t *)st)->s = RANDOM_SEED;
}

static double random_update(void *st, double t, double x)
{
	det_random_t *r = st;
	(void)t, (void)x;
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53; /* uniform in [0, 1) */
}

const an_det_ops_t an_det_random_ops = {
	{"random", "uniform random score per point (NAB's random detector)",
	 sizeof(det_random_t)},
	random_init,
	random_update,
};

/* -------------------------------------------------------------- gaussian */

/* NAB's windowedGaussian settings: a 6400-value window moved 100 values
 * at a time (NAB tuned the window size on its corpus). */
#define GAUSS_WINDOW 6400
#define GAUSS_STEP 100
/* NAB replaces a zero deviation by 1e-6 so the tail stays defined. */
#define GAUSS_MIN_STD 1e-6

typedef struct det_gauss {
	double win[GAUSS_WINDOW]; /* ring, oldest at head once full */
	size_t n, head, pending;  /* values held, ring head, unapplied */
	double pend[GAUSS_STEP];  /* values waiting for the next step */
	double mean, std, m2; /* m2: Welford's sum of squares */
} det_gauss_t;

static void gauss_init(void *st)
{
	det_gauss_t *g = st;
	g->n = g->head = g->pending = 0;
	g->mean = g->m2 = 0;
	g->std = 1;
}

/* Mean and population standard deviation of the window (two passes: the
 * values span 9 orders of magnitude in NAB, a one-pass sum of squares
 * would lose the deviation). */
static void gauss_refresh(det_gauss_t *g)
{
	double s = 0, ss = 0;
	for (size_t i = 0; i < g->n; i++)
		s += g->win[i];
	double m = s / (double)g->n;
	for (size_t i = 0; i < g->n; i++)
		ss += (g->win[i] - m) * (g->win[i] - m);
	g->mean = m;
	g->std = sqrt(ss / (double)g->n);
	if (g->std == 0)
		g->std = GAUSS_MIN_STD;
}

static double gauss_update(void *st, double t, double x)
{
	det_gauss_t *g = st;
	(void)t;
	double score = 0;
	if (g->n > 0) {
		/* 1 - Q(|z|): the two-sided tail folded onto [0.5, 1). */
		double z = fabs(x - g->mean) / g->std;
		score = 1 - 0.5 * erfc(z / sqrt(2.0));
	}
	if (g->n < GAUSS_WINDOW) {
		/* While the window fills NAB refreshes on every point;
		 * Welford's update gives the same mean and deviation in O(1)
		 * (Welford 1962; Knuth TAOCP vol. 2, 4.2.2). */
		g->win[g->n++] = x;
		double d = x - g->mean;
		g->mean += d / (double)g->n;
		g->m2 += d * (x - g->mean);
		g->std = sqrt(g->m2 / (double)g->n);
		if (g->std == 0)
			g->std = GAUSS_MIN_STD;
	} else {
		g->pend[g->pending++] = x;
		if (g->pending == GAUSS_STEP) {
			for (size_t i = 0; i < GAUSS_STEP; i++) {
				g->win[g->head] = g->pend[i];
				g->head = (g->head + 1) % GAUSS_WINDOW;
			}
			g->pending = 0;
			gauss_refresh(g);
		}
	}
	return score;
}

const an_det_ops_t an_det_gauss_ops = {
	{"gaussian",
	 "NAB's windowed Gaussian: normal tail over the last 6400 values",
	 sizeof(det_gauss_t)},
	gauss_init,
	gauss_update,
};
