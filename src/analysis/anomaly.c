/*
 * anomaly.c: the detector registry and the generic streaming and batch
 * entry points (see anomaly.h). Detectors live in det_*.c.
 */
#include "analysis/anomaly_int.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Table order is the order of `umbra analyze --help` and the bench. */
static const an_det_ops_t *const det_table[] = {
	&an_det_null_ops,
	&an_det_random_ops,
	&an_det_gauss_ops,
	&an_det_zscore_ops,
	&an_det_holt_ops,
	&an_det_hw_ops,
	&an_det_prophet_ops,
	&an_det_lstm_ops,
	&an_det_fcens_ops,
	&an_det_novelty_ops,
	&an_det_record_ops,
	&an_det_ensemble_ops,
	&an_det_ensemble2_ops,
	&an_det_ensemble3_ops,
	&an_det_stuck_ops,
	&an_det_season_ops,
};
#define DET_COUNT (sizeof(det_table) / sizeof(det_table[0]))

struct an_det {
	const an_det_ops_t *ops;
	max_align_t state[]; /* ops->info.state_bytes */
};

size_t an_det_count(void)
{
	return DET_COUNT;
}

const an_det_info_t *an_det_at(size_t i)
{
	return i < DET_COUNT ? &det_table[i]->info : NULL;
}

static const an_det_ops_t *find_ops(const char *name)
{
	for (size_t i = 0; i < DET_COUNT; i++)
		if (!strcmp(det_table[i]->info.name, name))
			return det_table[i];
	return NULL;
}

const an_det_info_t *an_det_find(const char *name)
{
	const an_det_ops_t *o = find_ops(name);
	return o ? &o->info : NULL;
}

an_det_t *an_det_new(const char *name)
{
	const an_det_ops_t *o = find_ops(name);
	if (!o)
		return NULL;
	an_det_t *d = xcalloc(1, sizeof(*d) + o->info.state_bytes);
	d->ops = o;
	o->init(d->state);
	return d;
}

an_det_t *an_det_new_ens(const an_ens_params_t *p)
{
	const an_det_ops_t *o = &an_det_ensemble3_ops;
	an_det_t *d = xcalloc(1, sizeof(*d) + o->info.state_bytes);
	d->ops = o;
	an__ens_init_params(d->state, p);
	return d;
}

void an_det_free(an_det_t *d)
{
	free(d);
}

double an_det_update(an_det_t *d, double t, double x)
{
	double s = d->ops->update(d->state, t, x);
	/* The contract is [0, 1] whatever a detector computes. */
	if (!(s >= 0))
		return 0;
	return s > 1 ? 1 : s;
}

const an_det_info_t *an_det_info(const an_det_t *d)
{
	return &d->ops->info;
}

const char *an_det_kind(const an_det_t *d)
{
	return d->ops->kind ? d->ops->kind(d->state) : NULL;
}

int an_det_run(const char *name, const double *t, const double *x, size_t n,
	       double *scores)
{
	an_det_t *d = an_det_new(name);
	if (!d)
		return ERR_NOTFOUND;
	for (size_t i = 0; i < n; i++)
		scores[i] = an_det_update(d, t[i], x[i]);
	an_det_free(d);
	return 0;
}
