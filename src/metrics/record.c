/*
 * record.c: samples to series (see record.h). Window handles are dense
 * and computed, not stored: side series first (side x metric), then the
 * endpoint series ((endpoint x side) x endpoint metric). Store handles
 * are looked up once per series and cached in a table indexed the same
 * way.
 */
#include "metrics/record.h"

#include "base/xmalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NO_SID UINT32_MAX

static const metrics_id_t ep_metrics[METRICS_NEP_SERIES] = {
#define RECORD__EP(id) METRICS_##id,
	METRICS_ENDPOINT_SERIES(RECORD__EP)
#undef RECORD__EP
};
#define RECORD__ONE(id) +1
_Static_assert(0 METRICS_ENDPOINT_SERIES(RECORD__ONE) == METRICS_NEP_SERIES,
	       "METRICS_NEP_SERIES counts METRICS_ENDPOINT_SERIES");
#undef RECORD__ONE

struct metrics_recorder {
	char *service;
	store_t *st;
	series_set_t *win;
	store_sid_t *sid; /* by window handle; NO_SID until looked up */
	size_t nsid;
};

metrics_recorder_t *metrics_recorder_new(const char *service, store_t *st,
					 series_set_t *win)
{
	metrics_recorder_t *r = xcalloc(1, sizeof(*r));
	r->service = xstrdup(service);
	r->st = st;
	r->win = win;
	return r;
}

void metrics_recorder_free(metrics_recorder_t *r)
{
	if (!r)
		return;
	free(r->service);
	free(r->sid);
	free(r);
}

uint32_t metrics_recorder_handle(const metrics_recorder_t *r, int side,
				 metrics_id_t m)
{
	(void)r;
	return (uint32_t)(side * METRICS__COUNT + (int)m);
}

uint32_t metrics_recorder_endpoint_handle(const metrics_recorder_t *r,
					  int side, uint32_t endpoint,
					  metrics_id_t m)
{
	(void)r;
	for (int k = 0; k < METRICS_NEP_SERIES; k++)
		if (ep_metrics[k] == m)
			return (uint32_t)(METRICS_SIDES * METRICS__COUNT +
					  ((uint64_t)endpoint * METRICS_SIDES +
					   (uint64_t)side) *
						  METRICS_NEP_SERIES +
					  (uint64_t)k);
	return UINT32_MAX;
}

/* Appends one point to handle h's series; true when the store refused. */
static bool put(metrics_recorder_t *r, uint32_t h, int side, metrics_id_t m,
		const char *endpoint, int64_t ts, double v)
{
	if (r->win)
		series_set_push(r->win, h, ts, v);
	if (!r->st)
		return false;
	if (h >= r->nsid) {
		size_t n = r->nsid ? r->nsid : 256;
		while (n <= h)
			n *= 2;
		r->sid = xreallocarray(r->sid, n, sizeof(store_sid_t));
		for (size_t i = r->nsid; i < n; i++)
			r->sid[i] = NO_SID;
		r->nsid = n;
	}
	if (r->sid[h] == NO_SID) {
		store_key_t k = {r->service, metrics_side_name(side),
				 metrics_info(m)->name, endpoint};
		if (store_series(r->st, &k, &r->sid[h]) != 0) {
			r->sid[h] = NO_SID;
			return true;
		}
	}
	return store_append(r->st, r->sid[h], ts, v) != 0;
}

size_t metrics_recorder_sample(metrics_recorder_t *r, int side,
			       const metrics_sample_t *s)
{
	size_t refused = 0;
	if (side < 0 || side >= METRICS_SIDES)
		return 0;
	for (int m = 0; m < METRICS__COUNT; m++)
		if (!isnan(s->v[m]))
			refused += put(r, metrics_recorder_handle(r, side, m),
				       side, m, "", s->ts_ns, s->v[m]);
	return refused;
}

size_t metrics_recorder_endpoints(metrics_recorder_t *r,
				  const metrics_agg_t *agg, int64_t ts_ns)
{
	size_t refused = 0;
	uint32_t lim = metrics_agg_endpoint_limit(agg);
	for (int side = 0; side < METRICS_SIDES; side++) {
		for (uint32_t id = 0; id < lim; id++) {
			const metrics_req_stats_t *st =
				metrics_agg_endpoint(agg, side, id);
			const char *name = metrics_agg_endpoint_name(agg, id);
			if (!st || !name)
				continue;
			const double v[METRICS_NEP_SERIES] = {
				st->rps,	st->latency[0], st->latency[1],
				st->latency[2], st->error_rate, st->diff_rate};
			for (int k = 0; k < METRICS_NEP_SERIES; k++)
				if (!isnan(v[k]))
					refused += put(
						r,
						metrics_recorder_endpoint_handle(
							r, side, id,
							ep_metrics[k]),
						side, ep_metrics[k], name, ts_ns,
						v[k]);
		}
	}
	return refused;
}
