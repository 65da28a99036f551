/*
 * stats.h: looking at captures: a latency histogram, record filters (for
 * replay and export), and the summary of a file that `umbra capture
 * --stats` prints (counts, time span, endpoints, sizes, statuses, what
 * was lost).
 */
#ifndef UMBRA_CAPTURE_STATS_H
#define UMBRA_CAPTURE_STATS_H

#include "capture/capture.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --------------------------------------------------------------- histogram */

/* Log-linear histogram of non-negative integers (HdrHistogram's idea):
 * exact below 32, then 32 buckets per power of two, so any quantile is
 * within 1/32 (3%) of the true value. Fixed 15 KiB, no allocation. */
#define CAP_HIST_SUB 32
#define CAP_HIST_BUCKETS (60 * CAP_HIST_SUB)

typedef struct cap_hist {
	uint64_t n, max;
	double sum;
	uint64_t c[CAP_HIST_BUCKETS];
} cap_hist_t;

void cap_hist_add(cap_hist_t *h, uint64_t v);
/* The q-quantile (0..1), 0 when empty. */
uint64_t cap_hist_quantile(const cap_hist_t *h, double q);
void cap_hist_merge(cap_hist_t *into, const cap_hist_t *from);

/* "1.5 MiB", "320 B" into out (>= 16 bytes): sizes for people. */
const char *cap_fmt_bytes(uint64_t n, char *out);

/* --------------------------------------------------------------- filter */

/*
 * Filters select records: each is KEY=VALUE or KEY!=VALUE, VALUE a
 * comma-separated list of alternatives; several filters must all match.
 *   method=GET,POST       request method (case-insensitive)
 *   path=/api/...         path without the query (fnmatch glob)
 *   host=*.example.com    Host header (glob, case-insensitive)
 *   status=2xx,404,none   recorded status (Nxx classes; none = no
 *                         response)
 *   endpoint=/users/:id   path template (ids collapsed)
 */
typedef struct cap_filter cap_filter_t;

/* Adds expr to *f (created on first use). 0, or ERR_USAGE with a reason
 * in err. */
int cap_filter_add(cap_filter_t **f, const char *expr, char *err,
		   size_t errcap);
/* True when rec (an exchange) passes every filter; NULL passes all. */
bool cap_filter_match(const cap_filter_t *f, const cap_rec_t *rec);
void cap_filter_free(cap_filter_t *f);

/* --------------------------------------------------------------- summary */

#define CAP_STATS_ENDPOINTS 10000 /* distinct templates kept; then other */

typedef struct cap_endpoint_stat {
	char name[256]; /* "GET /users/:id" */
	uint64_t count, req_bytes, resp_bytes; /* bodies */
	uint64_t latency_sum_us, latency_max_us, with_latency;
} cap_endpoint_stat_t;

typedef struct cap_summary {
	cap_meta_t meta;
	uint64_t file_bytes;
	uint64_t exchanges, loss_records;
	uint64_t no_response, resp_partial, req_trunc, resp_trunc;
	uint64_t masked, tunnels, unparseable;
	uint64_t lost[CAP_LOSS__COUNT];
	int64_t first_ns, last_ns;
	uint64_t req_head_bytes, req_body_bytes, resp_head_bytes,
		resp_body_bytes;
	uint64_t req_body_max, resp_body_max;
	uint64_t sources[CAP_SRC__COUNT];
	uint64_t status[600]; /* [0]: no status */
	cap_hist_t latency_us;
	cap_endpoint_stat_t *endpoints; /* sorted by count, descending */
	size_t nendpoints;
	uint64_t other_endpoints; /* exchanges past CAP_STATS_ENDPOINTS */
	char error[640];          /* where the reader stopped, "" if clean */
} cap_summary_t;

/* Reads the whole file. Returns 0 (the summary may carry a reader
 * error: the file is damaged after some point), or an error opening it
 * (err filled). */
int cap_summarize(const char *path, const cap_filter_t *f, cap_summary_t *s,
		  char *err, size_t errcap);
void cap_summary_free(cap_summary_t *s);

#endif
