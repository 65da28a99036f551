/*
 * test_record.c: a tick's samples and per-endpoint request metrics going
 * to the store and the in-memory windows under the right series.
 */
#include "base/clock.h"
#include "base/log.h"
#include "base/strtab.h"
#include "metrics/record.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int count_points(void *arg, const store_point_t *p)
{
	(void)p;
	(*(int *)arg)++;
	return 0;
}

Test(record, samples_and_endpoints_to_store_and_windows)
{
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
	char dir[] = "/tmp/umbra-rec-XXXXXX";
	cr_assert(mkdtemp(dir));
	char db[64];
	snprintf(db, sizeof(db), "%s/r.db", dir);
	store_opts_t so = {.path = db};
	store_t *st;
	cr_assert_eq(store_open(&so, &st), 0);
	series_set_t win;
	series_set_init(&win, 10);
	metrics_recorder_t *r = metrics_recorder_new("web", st, &win);

	strtab_t *names = strtab_new(4);
	uint32_t ep = strtab_intern(names, "GET /a", 6);
	metrics_agg_t *agg = metrics_agg_new(names, 4, 0);
	for (int tick = 1; tick <= 3; tick++) {
		int64_t ts = tick * NS_PER_S;
		metrics_sample_t s;
		metrics_sample_clear(&s, ts);
		s.v[METRICS_CPU] = 0.5 * tick;
		s.v[METRICS_MEMORY] = 1e6;
		cr_assert_eq(metrics_recorder_sample(r, REQREC_SHADOW, &s), 0);
		reqrec_t rec = {.side = REQREC_SHADOW, .endpoint = ep,
				.latency_us = 1000, .status = 200,
				.cls = REQREC_MATCH};
		metrics_agg_add(agg, &rec);
		metrics_agg_tick(agg, ts);
		cr_assert_eq(metrics_recorder_endpoints(r, agg, ts), 0);
	}
	uint32_t h = metrics_recorder_handle(r, REQREC_SHADOW, METRICS_CPU);
	const series_window_t *w = series_set_get(&win, h);
	cr_assert_not_null(w);
	cr_assert_eq(series_window_len(w), 3);
	double v;
	series_window_at(w, 2, NULL, &v);
	cr_assert_float_eq(v, 1.5, 0);
	cr_assert_null(series_set_get(&win, metrics_recorder_handle(
						    r, REQREC_SHADOW,
						    METRICS_DISK_READ)),
		       "NaN values make no points");
	uint32_t eh = metrics_recorder_endpoint_handle(r, REQREC_SHADOW, ep,
						       METRICS_DIFF_RATE);
	cr_assert_neq(eh, h);
	cr_assert_eq(series_window_len(series_set_get(&win, eh)), 3);
	cr_assert_eq(metrics_recorder_endpoint_handle(r, 0, ep, METRICS_CPU),
		     UINT32_MAX);
	cr_assert_neq(metrics_recorder_endpoint_handle(r, 0, ep, METRICS_RPS),
		      metrics_recorder_endpoint_handle(r, 1, ep, METRICS_RPS));

	cr_assert_eq(store_flush(st), 0);
	int n = 0;
	store_key_t k = {"web", "shadow", "cpu", ""};
	store_query(st, &k, 0, INT64_MAX, STORE_RAW, count_points, &n);
	cr_assert_eq(n, 3);
	n = 0;
	store_key_t ke = {"web", "shadow", "latency_p99", "GET /a"};
	store_query(st, &ke, 0, INT64_MAX, STORE_RAW, count_points, &n);
	cr_assert_eq(n, 3);

	metrics_recorder_free(r);
	series_set_free(&win);
	metrics_agg_free(agg);
	strtab_free(names);
	store_close(st);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(record, windows_only)
{
	series_set_t win;
	series_set_init(&win, 4);
	metrics_recorder_t *r = metrics_recorder_new("web", NULL, &win);
	metrics_sample_t s;
	metrics_sample_clear(&s, 1);
	s.v[METRICS_RPS] = 10;
	cr_assert_eq(metrics_recorder_sample(r, 0, &s), 0);
	cr_assert_eq(series_window_len(series_set_get(
			     &win, metrics_recorder_handle(r, 0, METRICS_RPS))),
		     1);
	metrics_recorder_free(r);
	series_set_free(&win);
}
