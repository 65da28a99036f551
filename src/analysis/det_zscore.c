/*
 * det_zscore.c: the "zscore" detector, the cheap one: robust residual
 * z-scores at three timescales, calibrated by the series' own record.
 *
 * For each rate a (0.5, 0.05, 0.005: memories of about 2, 20 and 200
 * points) an exponentially weighted baseline b and mean absolute
 * deviation s follow the series, updated with the residual clipped to
 * DZ_CLIP deviations (Huber's winsorisation, so one spike does not drag
 * the baseline):
 *
 *   z_a = |x - b_a| / (1.2533 s_a)      (1.2533 s: normal sd from MAD)
 *
 * and the raw score is max_a z_a over the second-largest max z seen
 * before, then one alarm per event (an_suppress). O(1) per point, a few
 * dozen flops.
 */
#include "analysis/anomaly_int.h"
#include "analysis/stream.h"

#include <math.h>
#include <string.h>

#define DZ_RATES 3
static const double dz_rate[DZ_RATES] = {0.5, 0.05, 0.005};
/* Updates use residuals clipped at 4 deviations. */
#define DZ_CLIP 4.0
#define DZ_MAD_SD 1.2533
#define DZ_WARM 150
#define DZ_QUIET 300
#define DZ_ALARM 1.1
#define DZ_REST 100
#define DZ_REST_FRAC 0.03
#define DZ_ESCAPE 10.0
#define DZ_FIRST 100.0

typedef struct det_zscore {
	double b[DZ_RATES], s[DZ_RATES];
	uint64_t n;
	double top1, top2;
	an_suppress_t sup;
} det_zscore_t;

static void zscore_init(void *st)
{
	det_zscore_t *d = st;
	memset(d, 0, sizeof(*d));
	an_suppress_init(&d->sup, DZ_ALARM, DZ_REST, DZ_REST_FRAC, DZ_ESCAPE);
}

static double zscore_update(void *st, double t, double x)
{
	det_zscore_t *d = st;
	(void)t;
	uint64_t i = d->n++;
	double z = 0;
	for (int j = 0; j < DZ_RATES; j++) {
		if (i == 0) {
			d->b[j] = x;
			continue;
		}
		double r = x - d->b[j];
		double sd = DZ_MAD_SD * d->s[j];
		double floor = 1e-9 * (fabs(d->b[j]) + 1);
		double zj = fabs(r) / (sd > floor ? sd : floor);
		if (i >= DZ_WARM && zj > z)
			z = zj;
		/* Plain averages while young, then the rate. */
		double a = 1.0 / (double)(i + 1) > dz_rate[j]
				   ? 1.0 / (double)(i + 1)
				   : dz_rate[j];
		double lim = DZ_CLIP * (sd > 0 ? sd : fabs(r));
		double rc = r > lim ? lim : r < -lim ? -lim : r;
		d->b[j] += a * rc;
		d->s[j] += a * (fabs(rc) - d->s[j]);
	}
	double raw = 0;
	if (i >= DZ_QUIET) {
		double ref = d->top2 > 0 ? d->top2 : d->top1;
		raw = ref > 0 ? z / ref : (z > 0 ? DZ_FIRST : 0);
	}
	if (i >= DZ_WARM) {
		if (z > d->top1) {
			d->top2 = d->top1;
			d->top1 = z;
		} else if (z > d->top2) {
			d->top2 = z;
		}
	}
	double s = an_suppress(&d->sup, raw);
	return s / (1 + s);
}

const an_det_ops_t an_det_zscore_ops = {
	{"zscore",
	 "robust residual z at 2, 20 and 200-point memories against its "
	 "record (fast)",
	 sizeof(det_zscore_t)},
	zscore_init,
	zscore_update,
};
