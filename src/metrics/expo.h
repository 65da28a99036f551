/*
 * expo.h: the Prometheus text exposition format (version 0.0.4) for
 * /metrics: a writer that checks names and escapes values, and the
 * families umbra publishes about each side (gauges from the last samples,
 * counters from the totals, request counters and a latency histogram from
 * the aggregator, deviations from the analysis). Every per-side family
 * carries `service` and `side` labels. Other modules (proxy, mask, store)
 * write their own counters with the same writer.
 *
 * A family is written once, its samples together (the format requires
 * it); a name that breaks the format's rules makes the writer refuse that
 * family (the first error is kept) so the output stays parseable.
 * docs/metrics.md lists every family.
 */
#ifndef UMBRA_METRICS_EXPO_H
#define UMBRA_METRICS_EXPO_H

#include "base/buf.h"
#include "config/config.h"
#include "metrics/agg.h"
#include "metrics/metrics.h"

#include <stddef.h>

#define METRICS_EXPO_NAME_MAX 128 /* longest metric or label name */
#define METRICS_EXPO_LABELS_MAX 8 /* labels on one sample */
#define METRICS_EXPO_VALUE_MAX 1024 /* longer label values are cut */

typedef enum metrics_expo_type {
	METRICS_EXPO_COUNTER,
	METRICS_EXPO_GAUGE,
	METRICS_EXPO_HISTOGRAM,
} metrics_expo_type_t;

typedef struct metrics_label {
	const char *name, *value;
} metrics_label_t;

typedef struct metrics_expo {
	buf_t *out;                         /* borrowed */
	char family[METRICS_EXPO_NAME_MAX]; /* current, "" when refused */
	metrics_expo_type_t type;
	char **seen; /* families written */
	size_t nseen;
	int err; /* first error, sticky */
} metrics_expo_t;

/* Starts writing into out (borrowed; appended to). */
void metrics_expo_init(metrics_expo_t *e, buf_t *out);
/* Frees the writer's memory; returns its first error (0 if none). */
int metrics_expo_done(metrics_expo_t *e);

/* Starts a family: "# HELP" and "# TYPE" lines. 0, or ERR_INVAL (bad
 * name), ERR_EXISTS (written before): then the family's samples are
 * dropped. */
int metrics_expo_family(metrics_expo_t *e, const char *name,
			metrics_expo_type_t type, const char *help);

/* One sample of the current family: name + suffix ("" or, for
 * histograms, "_bucket", "_sum", "_count"), labels (values escaped,
 * invalid UTF-8 replaced by '?'), value (NaN, +Inf, -Inf allowed). 0 or
 * ERR_INVAL / ERR_BADSTATE (no family). */
int metrics_expo_sample(metrics_expo_t *e, const char *suffix,
			const metrics_label_t *labels, size_t n, double v);

/* True when name is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) and
 * label is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix). */
bool metrics_expo_valid_name(const char *name);
bool metrics_expo_valid_label(const char *label);

/* ---- umbra's families */

/* A gauge family per catalogue metric (metrics.h, prometheus name), one
 * sample per side whose sample is not NULL and value not NaN. */
void metrics_expose_samples(metrics_expo_t *e, const char *service,
			    const metrics_sample_t *const side[METRICS_SIDES]);

/* Counters from the local source's totals: umbra_cpu_seconds_total{mode},
 * umbra_disk_read_bytes_total, umbra_disk_written_bytes_total,
 * umbra_context_switches_total, umbra_network_receive/transmit_bytes_total
 * (namespace counters). NULL sides are left out. */
void metrics_expose_totals(metrics_expo_t *e, const char *service,
			   const metrics_totals_t *const side[METRICS_SIDES]);

/* From the aggregator: umbra_requests_total, umbra_request_errors_total,
 * umbra_responses_compared_total, umbra_responses_differ_total (per side
 * and endpoint), umbra_request_bytes_total, umbra_response_bytes_total,
 * the histogram umbra_request_duration_seconds (per side), and
 * umbra_request_records_invalid_total. */
void metrics_expose_requests(metrics_expo_t *e, const char *service,
			     const metrics_agg_t *agg);

/* umbra_deviation_ratio{service,metric}: |p - s| / p per compared metric
 * (config.h CONFIG_METRICS order); NaN entries are left out. */
void metrics_expose_deviations(metrics_expo_t *e, const char *service,
			       const double dev[CONFIG_METRIC__COUNT]);

#endif
