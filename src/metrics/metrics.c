/*
 * metrics.c: the metric catalogue, samples, normalisation and the source
 * dispatch (see metrics.h).
 */
#include "metrics/metrics.h"

#include <math.h>
#include <string.h>

static const metrics_info_t catalogue[METRICS__COUNT] = {
#define METRICS__INFO(id, name, unit, kind, prom, doc)                     \
	{name, unit, METRICS_##kind, prom, doc},
	METRICS_MAP(METRICS__INFO)
#undef METRICS__INFO
};

static const char *const side_names[METRICS_SIDES] = {"production", "shadow",
						      "baseline"};

const metrics_info_t *metrics_info(metrics_id_t id)
{
	return (unsigned)id < METRICS__COUNT ? &catalogue[id] : NULL;
}

int metrics_by_name(const char *name)
{
	for (int i = 0; i < METRICS__COUNT; i++)
		if (strcmp(catalogue[i].name, name) == 0)
			return i;
	return -1;
}

const char *metrics_side_name(int side)
{
	return side >= 0 && side < METRICS_SIDES ? side_names[side] : "?";
}

int metrics_side_by_name(const char *name)
{
	for (int i = 0; i < METRICS_SIDES; i++)
		if (strcmp(side_names[i], name) == 0)
			return i;
	return -1;
}

void metrics_sample_clear(metrics_sample_t *s, int64_t ts_ns)
{
	s->ts_ns = ts_ns;
	for (int i = 0; i < METRICS__COUNT; i++) {
		s->v[i] = NAN;
		s->res[i] = 0;
	}
}

void metrics_normalise(metrics_sample_t *s)
{
	/* per request = rate / requests per second (DESIGN.md) */
	static const struct {
		metrics_id_t per, load;
	} pairs[] = {
		{METRICS_CPU_PER_REQ, METRICS_CPU},
		{METRICS_DISK_READ_PER_REQ, METRICS_DISK_READ},
		{METRICS_DISK_WRITE_PER_REQ, METRICS_DISK_WRITE},
		{METRICS_NET_RX_PER_REQ, METRICS_NET_RX},
		{METRICS_NET_TX_PER_REQ, METRICS_NET_TX},
	};
	double rps = s->v[METRICS_RPS];
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		s->v[pairs[i].per] = rps > 0 ? s->v[pairs[i].load] / rps : NAN;
		s->res[pairs[i].per] = rps > 0 ? s->res[pairs[i].load] / rps : 0;
	}
}

int metrics_src_sample(metrics_src_t *src, int side, int64_t now_ns,
		       metrics_sample_t *out)
{
	return src->ops->sample(src, side, now_ns, out);
}

void metrics_src_free(metrics_src_t *src)
{
	if (src)
		src->ops->free(src);
}
