/*
 * test_expo.c: the Prometheus text format writer (names, escaping,
 * values, one family once) and umbra's families, checked by
 * `promtool check metrics` (Debian's prometheus package), which parses
 * the text and lints it (counter suffixes, units, help).
 */
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/strtab.h"
#include "metrics/expo.h"
#include "metrics/store.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(expo, names_escaping_and_values)
{
	buf_t b = BUF_INIT;
	metrics_expo_t e;
	metrics_expo_init(&e, &b);
	cr_assert_eq(metrics_expo_family(&e, "x_total", METRICS_EXPO_COUNTER,
					 "a \\ b\nc"),
		     0);
	metrics_label_t l[2] = {{"endpoint", "GET /a\"b\\c\nd\xff\xc3\xa9"},
				{"side", "shadow"}};
	cr_assert_eq(metrics_expo_sample(&e, "", l, 2, 0.1), 0);
	cr_assert_eq(metrics_expo_sample(&e, "", NULL, 0, NAN), 0);
	cr_assert_eq(metrics_expo_sample(&e, "", NULL, 0, -INFINITY), 0);
	cr_assert_eq(metrics_expo_sample(&e, "", NULL, 0, 12345678901.0), 0);
	cr_assert_str_eq(b.data,
			 "# HELP x_total a \\\\ b\\nc\n"
			 "# TYPE x_total counter\n"
			 "x_total{endpoint=\"GET /a\\\"b\\\\c\\nd?\xc3\xa9\","
			 "side=\"shadow\"} 0.1\n"
			 "x_total NaN\nx_total -Inf\nx_total 12345678901\n");
	cr_assert_eq(metrics_expo_done(&e), 0);
	buf_free(&b);
}

Test(expo, refusals_keep_the_output_valid)
{
	buf_t b = BUF_INIT;
	metrics_expo_t e;
	metrics_expo_init(&e, &b);
	cr_assert_eq(metrics_expo_sample(&e, "", NULL, 0, 1), ERR_BADSTATE);
	cr_assert_eq(metrics_expo_family(&e, "9bad", METRICS_EXPO_GAUGE, ""),
		     ERR_INVAL);
	cr_assert_eq(metrics_expo_sample(&e, "", NULL, 0, 1), ERR_BADSTATE,
		     "a refused family takes no samples");
	cr_assert_eq(metrics_expo_family(&e, "ok", METRICS_EXPO_GAUGE, "h"), 0);
	metrics_label_t bad[1] = {{"__reserved", "x"}};
	cr_assert_eq(metrics_expo_sample(&e, "", bad, 1, 1), ERR_INVAL);
	metrics_label_t bad2[1] = {{"a-b", "x"}};
	cr_assert_eq(metrics_expo_sample(&e, "", bad2, 1, 1), ERR_INVAL);
	cr_assert_eq(metrics_expo_family(&e, "ok", METRICS_EXPO_GAUGE, "h"),
		     ERR_EXISTS);
	cr_assert_eq(metrics_expo_done(&e), ERR_BADSTATE, "the first error");
	cr_assert_str_eq(b.data, "# HELP ok h\n# TYPE ok gauge\n");
	cr_assert(metrics_expo_valid_name("a:b_c9"));
	cr_assert_not(metrics_expo_valid_name(""));
	cr_assert_not(metrics_expo_valid_label("a:b"));
	buf_free(&b);
}

/* Runs promtool on text; returns its exit status, its output in out. */
static int promtool(const char *text, char *out, size_t cap)
{
	char path[] = "/tmp/umbra-expo-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(expo, promtool_accepts_every_family)
{
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
	strtab_t *names = strtab_new(8);
	uint32_t a = strtab_intern(names, "GET /users/:id", 14);
	uint32_t odd = strtab_intern(names, "POST /a\"b\\c\xff", 13);
	metrics_agg_t *agg = metrics_agg_new(names, 8, 0);
	for (int i = 0; i < 50; i++) {
		reqrec_t r = {.side = (uint8_t)(i % 2), .endpoint = i % 3 ? a : odd,
			      .latency_us = (uint32_t)(1000 + 997 * i),
			      .status = i % 7 ? 200 : 502,
			      .cls = i % 2 ? (i % 5 ? REQREC_MATCH : REQREC_DIFFER)
					   : REQREC_UNCOMPARED,
			      .req_bytes = 10, .resp_bytes = 99};
		metrics_agg_add(agg, &r);
	}
	metrics_agg_tick(agg, NS_PER_S);

	metrics_sample_t sp, ss;
	metrics_sample_clear(&sp, 1);
	metrics_sample_clear(&ss, 1);
	for (int m = 0; m < METRICS__COUNT; m++) {
		sp.v[m] = m * 1.5;
		ss.v[m] = m % 3 ? m * 0.5 : NAN;
	}
	const metrics_sample_t *sides[METRICS_SIDES] = {&sp, &ss, NULL};
	metrics_totals_t tp = {1.5, 0.5, 4096, 8192, 0, 0, 42, true, false};
	metrics_totals_t ts = {0.1, 0.05, 0, 0, 100, 200, 4, true, true};
	const metrics_totals_t *tots[METRICS_SIDES] = {&tp, &ts, NULL};
	double dev[CONFIG_METRIC__COUNT];
	for (int i = 0; i < CONFIG_METRIC__COUNT; i++)
		dev[i] = i == 3 ? NAN : i * 0.01;

	char dir[] = "/tmp/umbra-expo-db-XXXXXX";
	cr_assert(mkdtemp(dir));
	char db[128];
	snprintf(db, sizeof(db), "%s/s.db", dir);
	store_opts_t so = {.path = db, .flush_interval_ns = NS_PER_S};
	store_t *st;
	cr_assert_eq(store_open(&so, &st), 0);

	buf_t b = BUF_INIT;
	metrics_expo_t e;
	metrics_expo_init(&e, &b);
	metrics_expose_samples(&e, "web", sides);
	metrics_expose_totals(&e, "web", tots);
	metrics_expose_requests(&e, "web", agg);
	metrics_expose_deviations(&e, "web", dev);
	store_expose(&e, st, "web");
	cr_assert_eq(metrics_expo_done(&e), 0);

	char out[8192];
	int rc = promtool(b.data, out, sizeof(out));
	cr_assert_eq(rc, 0, "promtool exit %d:\n%s", rc, out);
	cr_assert_str_eq(out, "", "promtool complains:\n%s", out);
	/* spot checks of what the queries in config.h read */
	cr_assert(strstr(b.data, "umbra_memory_bytes{service=\"web\","
				 "side=\"production\"} 4.5\n"));
	cr_assert(strstr(b.data, "umbra_cpu_seconds_total{service=\"web\","
				 "side=\"shadow\",mode=\"system\"} 0.05\n"));
	cr_assert(strstr(b.data, "umbra_requests_total{service=\"web\","
				 "side=\"production\",endpoint="
				 "\"GET /users/:id\"}"));
	cr_assert(strstr(b.data, "umbra_request_duration_seconds_bucket{"
				 "service=\"web\",side=\"shadow\",le=\"+Inf\"}"
				 " 25\n"));
	cr_assert(strstr(b.data, "umbra_network_receive_bytes_total{service="
				 "\"web\",side=\"shadow\"} 100\n"));
	cr_assert_null(strstr(b.data, "umbra_network_receive_bytes_total{"
				      "service=\"web\",side=\"production\""),
		       "production has no namespace counters");
	cr_assert(strstr(b.data, "umbra_deviation_ratio{service=\"web\","
				 "metric=\"memory\"} 0.01\n"));
	cr_assert(strstr(b.data, "umbra_store_points_total{service=\"web\","
				 "result=\"written\"} 0\n"));

	/* a broken text is caught: the check can fail */
	rc = promtool("# TYPE x counter\nx{a=\"b} 1\n", out, sizeof(out));
	cr_assert_neq(rc, 0);

	buf_free(&b);
	store_close(st);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	metrics_agg_free(agg);
	strtab_free(names);
}
