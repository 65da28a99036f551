/*
 * source.c: making the metric source a config asks for (metrics.source).
 */
#include "metrics/metrics.h"

#include "base/err.h"

#include <string.h>

int metrics_src_from_config(const config_t *cfg, struct metrics_agg *agg,
			    metrics_src_t **out, const char **why)
{
	if (cfg->metrics.source == CONFIG_MSRC_LOCAL) {
		metrics_local_opts_t o = {.proc_root = cfg->metrics.proc_root,
					  .agg = agg};
		return metrics_src_local_new(&o, out);
	}
	metrics_prom_opts_t o;
	memset(&o, 0, sizeof(o));
	o.url = cfg->metrics.prometheus.url;
	o.service = cfg->service;
	o.range_ns = cfg->metrics.prometheus.range;
	o.timeout_ns = cfg->metrics.prometheus.timeout;
	for (int q = 0; q < CONFIG_PQ__COUNT; q++) {
		int m = metrics_by_name(
			config_prom_query_name((config_prom_query_t)q));
		if (m >= 0)
			o.queries[m] = cfg->metrics.prometheus.queries[q];
	}
	int rc = metrics_src_prom_new(&o, out, why);
	return rc ? ERR_CONFIG : 0;
}
