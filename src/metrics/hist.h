/*
 * hist.h: a streaming log-bucket histogram for quantiles with a bounded
 * relative error (the DDSketch construction: Masson, Rim and Lee, "DDSketch:
 * a fast and fully-mergeable quantile sketch with relative-error
 * guarantees", VLDB 2019). Bucket i holds (g^(i-1), g^i] with
 * g = (1 + a) / (1 - a); its representative 2 g^i / (g + 1) is within a
 * relative a of every value in it. Zero has its own exact bucket.
 *
 * The counts array covers only the indices seen (it grows at either end),
 * so a histogram of latencies spanning a factor of 100 costs about 1 KiB.
 * Reset keeps the memory. Not thread-safe: one owner.
 */
#ifndef UMBRA_METRICS_HIST_H
#define UMBRA_METRICS_HIST_H

#include <stddef.h>
#include <stdint.h>

/* 0.9%: the issue asks for <= 1%; the margin absorbs floating-point
 * rounding of log() for values on a bucket edge, where the error reaches
 * exactly a. */
#define METRICS_HIST_ALPHA 0.009
/* Values are clamped into this range (outside it the bound does not
 * hold): 1 ns to ~11 days in seconds, 1 to 1e15 in microseconds or
 * bytes. It bounds the array to ~3100 buckets whatever the input. */
#define METRICS_HIST_MIN 1e-9
#define METRICS_HIST_MAX 1e15

typedef struct metrics_hist {
	uint64_t *counts; /* counts[i - lo], i in [lo, lo + cap) */
	int32_t lo;
	uint32_t cap;
	int32_t min_i, max_i; /* indices touched since the last reset */
	uint64_t zero;        /* values == 0 */
	uint64_t n;           /* all values */
	double sum, min, max;
} metrics_hist_t;

void metrics_hist_init(metrics_hist_t *h);
void metrics_hist_free(metrics_hist_t *h);
/* Forgets every value; keeps the memory. */
void metrics_hist_reset(metrics_hist_t *h);

/* Adds x (>= 0) count times. Negative and NaN values are ignored. */
void metrics_hist_add_n(metrics_hist_t *h, double x, uint64_t count);
static inline void metrics_hist_add(metrics_hist_t *h, double x)
{
	metrics_hist_add_n(h, x, 1);
}

/* Adds every value of src to dst. */
void metrics_hist_merge(metrics_hist_t *dst, const metrics_hist_t *src);

/* The q-quantile (0 <= q <= 1) by nearest rank: an estimate of the k-th
 * smallest value, k = max(1, ceil(q n)), within METRICS_HIST_ALPHA of it
 * relatively (exact for the smallest and largest; clamped to them).
 * NaN when empty. */
double metrics_hist_quantile(const metrics_hist_t *h, double q);

/* How well the values resolve their q-quantile: half the distance
 * between the values one rank standard deviation (sqrt(n q (1 - q)),
 * at least one rank) either side of its rank, and at least the bucket
 * error METRICS_HIST_ALPHA of the quantile. The p90 of ten requests is
 * their largest but one, and the next value either side may be far; the
 * p50 of ten thousand hardly moves. NaN when empty. */
double metrics_hist_quantile_res(const metrics_hist_t *h, double q);

/* The bucket index of x > 0, and the representative of a bucket: exposed
 * for the error-bound test. */
int32_t metrics_hist_index(double x);
double metrics_hist_value(int32_t i);

#endif
