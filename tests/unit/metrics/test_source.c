/*
 * test_source.c: the metric sources. The local one on fixture /proc and
 * cgroup trees with a test clock (rates, levels, per-request values,
 * totals); the Prometheus one's query templates and answer parser (one
 * test per malformed answer), its validation and its behaviour when the
 * server is unreachable; and the choice made from a config.
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "metrics/agg.h"
#include "metrics/metrics.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

static const char *data(const char *rel)
{
	static char p[512];
	const char *d = getenv("UMBRA_TEST_DATA");
	snprintf(p, sizeof(p), "%s/%s", d ? d : "tests/data", rel);
	return p;
}

static char tmp[256];
static void rm_tmp(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (tmp[0])
		cr_assert_eq(system(cmd), 0);
}

static void write_file(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	FILE *f = fopen(p, "w");
	cr_assert(f, "%s", p);
	fputs(text, f);
	fclose(f);
}

static int64_t now_ns;
static int64_t test_clock(void)
{
	return now_ns;
}

Test(local, rates_levels_per_request_and_totals, .fini = rm_tmp)
{
	snprintf(tmp, sizeof(tmp), "/tmp/umbra-src-XXXXXX");
	cr_assert(mkdtemp(tmp));
	char cmd[2048], p1[512], p2[512];
	snprintf(p1, sizeof(p1), "%s", data("proc"));
	snprintf(p2, sizeof(p2), "%s", data("cgroup/v2"));
	snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s/proc' && cp -r '%s' '%s/v2'",
		 p1, tmp, p2, tmp);
	cr_assert_eq(system(cmd), 0);
	char proc[300];
	snprintf(proc, sizeof(proc), "%s/proc", tmp);
	cgroup_sys_t sys;
	memset(&sys, 0, sizeof(sys));
	snprintf(sys.v2, sizeof(sys.v2), "%s/v2", tmp);
	sys.v2_has[CGROUP_CPU] = sys.v2_has[CGROUP_MEMORY] = true;
	sys.v2_has[CGROUP_IO] = true;

	metrics_agg_t *agg = metrics_agg_new(NULL, 4, 0);
	metrics_local_opts_t o = {proc, &sys, agg, test_clock};
	metrics_src_t *src;
	cr_assert_eq(metrics_src_local_new(&o, &src), 0);
	cr_assert_str_eq(src->ops->name, "local");
	pid_t root = 100;
	metrics_target_t t = {&root, 1, "/umbra/shadow", 100};
	cr_assert_eq(metrics_src_local_target(src, REQREC_SHADOW, &t), 0);

	/* tick 1 at 10 s: levels, no rates yet */
	now_ns = 10 * NS_PER_S;
	for (int i = 0; i < 40; i++) {
		reqrec_t r = {.side = REQREC_SHADOW, .latency_us = 2000,
			      .status = 200, .req_bytes = 10, .resp_bytes = 20};
		metrics_agg_add(agg, &r);
	}
	metrics_agg_tick(agg, 2 * NS_PER_S);
	metrics_sample_t s;
	cr_assert_eq(metrics_src_sample(src, REQREC_SHADOW, 123, &s), 0);
	cr_assert_eq(s.ts_ns, 123);
	cr_assert(isnan(s.v[METRICS_CPU]), "first tick: no rate");
	cr_assert_float_eq(s.v[METRICS_MEMORY], 13000 * 1024.0, 0);
	cr_assert_float_eq(s.v[METRICS_PROCS], 3, 0);
	cr_assert_float_eq(s.v[METRICS_FDS], 9, 0);
	cr_assert_float_eq(s.v[METRICS_CG_MEMORY], 104857600, 0);
	cr_assert_float_eq(s.v[METRICS_CG_MEMORY_PEAK], 209715200, 0);
	cr_assert_float_eq(s.v[METRICS_RPS], 20, 1e-12);
	cr_assert_float_eq(s.v[METRICS_LATENCY_P50], 0.002, 0.002 * 0.01);
	cr_assert(isnan(s.v[METRICS_NET_RX]), "namespace: first reading");

	/* tick 2, 2 s later: 100 used 1 s user + 0.5 s system; the cgroup
	 * 1 s and stalled 0.2 s on CPU; the namespace received 2000 B */
	now_ns = 12 * NS_PER_S;
	char stat[512];
	snprintf(stat, sizeof(stat),
		 "100 (svc) S 1 100 100 0 -1 4194560 1200 0 3 0 600 150 20 5 "
		 "20 0 4 0 1000 12345678 2000 18446744073709551615 1 1 0 0 0 0 "
		 "0 0 0 0 0 0 17 1 0 0 0 0 0\n");
	write_file("proc/100/stat", stat);
	write_file("v2/umbra/shadow/cpu.stat",
		   "usage_usec 3500000\nuser_usec 2800000\nsystem_usec 700000\n"
		   "nr_periods 140\nnr_throttled 35\nthrottled_usec 600000\n");
	write_file("v2/umbra/shadow/cpu.pressure",
		   "some avg10=0 avg60=0 avg300=0 total=500000\n"
		   "full avg10=0 avg60=0 avg300=0 total=100000\n");
	write_file("proc/100/net/dev",
		   "a|b\nc|d\n  eth0: 60945161 1 0 0 0 0 0 0 56841 1 0 0 0 0 0 0\n"
		   " veth1: 1000 1 0 0 0 0 0 0 2000 1 0 0 0 0 0 0\n");
	cr_assert_eq(metrics_src_sample(src, REQREC_SHADOW, 456, &s), 0);
	cr_assert_float_eq(s.v[METRICS_CPU_USER], 0.5, 1e-12);
	cr_assert_float_eq(s.v[METRICS_CPU_SYSTEM], 0.25, 1e-12);
	cr_assert_float_eq(s.v[METRICS_CPU], 0.75, 1e-12);
	cr_assert_float_eq(s.v[METRICS_CG_CPU], 0.5, 1e-12, "%g",
			   s.v[METRICS_CG_CPU]);
	cr_assert_float_eq(s.v[METRICS_CG_THROTTLED], 10.0 / 40, 1e-12);
	cr_assert_float_eq(s.v[METRICS_CG_THROTTLED_TIME], 0.1, 1e-12);
	cr_assert_float_eq(s.v[METRICS_PSI_CPU_SOME], 0.1, 1e-12);
	cr_assert_float_eq(s.v[METRICS_PSI_CPU_FULL], 0, 1e-12);
	cr_assert_float_eq(s.v[METRICS_NET_RX], 1000, 1e-9);
	cr_assert_float_eq(s.v[METRICS_NET_TX], 0, 1e-9);
	cr_assert_float_eq(s.v[METRICS_DISK_READ], 0, 1e-12);
	/* per request: the aggregator still says 20 req/s */
	cr_assert_float_eq(s.v[METRICS_CPU_PER_REQ], 0.75 / 20, 1e-12);
	cr_assert_float_eq(s.v[METRICS_NET_RX_PER_REQ], 1000.0 / 20, 1e-9);
	cr_assert_float_eq(s.v[METRICS_DISK_READ_PER_REQ], 0, 1e-12);

	metrics_totals_t tot;
	cr_assert_eq(metrics_src_local_totals(src, REQREC_SHADOW, &tot), 0);
	cr_assert_float_eq(tot.cpu_user_s, 8.1, 1e-9);
	cr_assert_float_eq(tot.cpu_system_s, 2.05, 1e-9);
	cr_assert_float_eq(tot.net_rx_bytes, 2000, 1e-9);
	cr_assert(tot.has_proc && tot.has_net);

	/* a side with nothing to measure */
	cr_assert_eq(metrics_src_sample(src, REQREC_BASELINE, 1, &s), 0,
		     "the aggregator still measures requests");
	metrics_src_free(src);
	metrics_local_opts_t bare = {proc, &sys, NULL, test_clock};
	cr_assert_eq(metrics_src_local_new(&bare, &src), 0);
	cr_assert_eq(metrics_src_sample(src, REQREC_PRODUCTION, 1, &s),
		     ERR_NOTFOUND);
	cr_assert_eq(metrics_src_sample(src, 9, 1, &s), ERR_INVAL);
	metrics_target_t badcg = {NULL, 0, "/nope", 0};
	cr_assert_eq(metrics_src_local_target(src, 0, &badcg), ERR_NOTFOUND);
	metrics_src_free(src);
	metrics_agg_free(agg);
}

Test(local, cgroup_only_side_uses_the_cgroup)
{
	cgroup_sys_t sys;
	memset(&sys, 0, sizeof(sys));
	snprintf(sys.v1[CGROUP_CPUACCT], CGROUP_PATH_MAX, "%s",
		 data("cgroup/v1/cpuacct"));
	snprintf(sys.v1[CGROUP_MEMORY], CGROUP_PATH_MAX, "%s",
		 data("cgroup/v1/memory"));
	metrics_local_opts_t o = {data("proc"), &sys, NULL, test_clock};
	metrics_src_t *src;
	cr_assert_eq(metrics_src_local_new(&o, &src), 0);
	metrics_target_t t = {NULL, 0, "/umbra/shadow", 0};
	cr_assert_eq(metrics_src_local_target(src, 0, &t), 0);
	metrics_sample_t s;
	now_ns = 1;
	cr_assert_eq(metrics_src_sample(src, 0, 1, &s), 0);
	cr_assert_float_eq(s.v[METRICS_MEMORY], 52428800, 0);
	metrics_totals_t tot;
	metrics_src_local_totals(src, 0, &tot);
	cr_assert_float_eq(tot.cpu_user_s + tot.cpu_system_s, 3.0, 1e-9);
	cr_assert_float_eq(tot.cpu_user_s, 2.5, 1e-9, "split 250:50");
	metrics_src_free(src);
}

/* ------------------------------------------------------------ prometheus */

Test(prom, expand_placeholders)
{
	char out[256];
	cr_assert_eq(metrics_prom_expand(
			     "sum(rate(x{service=\"{service}\",side=\"{side}\"}"
			     "[{range}]))",
			     "web", "shadow", 60 * NS_PER_S, out, sizeof(out)),
		     0);
	cr_assert_str_eq(out, "sum(rate(x{service=\"web\",side=\"shadow\"}"
			      "[60s]))");
	cr_assert_eq(metrics_prom_expand("{range} {job=\"a\"} {}", "a\"b\\", "p",
					 1500 * NS_PER_MS, out, sizeof(out)),
		     0);
	cr_assert_str_eq(out, "1500ms {job=\"a\"} {}");
	cr_assert_eq(metrics_prom_expand("{service}", "a\"b\\", "p", NS_PER_S,
					 out, sizeof(out)),
		     0);
	cr_assert_str_eq(out, "a\\\"b\\\\", "escaped for a PromQL string");
	cr_assert_eq(metrics_prom_expand("x{nope}", "a", "p", NS_PER_S, out,
					 sizeof(out)),
		     ERR_PARSE);
	cr_assert_eq(metrics_prom_expand("{service}{service}", "abcdef", "p",
					 NS_PER_S, out, 8),
		     ERR_TOOBIG);
}

Test(prom, parse_answers)
{
	double v = 0;
	const char *why = NULL;
	char err[64];
	const char *vec = "{\"status\":\"success\",\"data\":{\"resultType\":"
			  "\"vector\",\"result\":[{\"metric\":{},\"value\":"
			  "[1700000000.123,\"0.25\"]}]}}";
	cr_assert_eq(metrics_prom_parse(vec, strlen(vec), &v, &why, err,
					sizeof(err)),
		     0, "%s", why);
	cr_assert_float_eq(v, 0.25, 0);
	const char *sc = "{\"status\":\"success\",\"data\":{\"resultType\":"
			 "\"scalar\",\"result\":[1700000000,\"+Inf\"]}}";
	cr_assert_eq(metrics_prom_parse(sc, strlen(sc), &v, &why, err, 0), 0);
	cr_assert(isinf(v) && v > 0);
	const char *nan = "{\"status\":\"success\",\"data\":{\"resultType\":"
			  "\"scalar\",\"result\":[1,\"NaN\"]}}";
	cr_assert_eq(metrics_prom_parse(nan, strlen(nan), &v, &why, err, 0), 0);
	cr_assert(isnan(v));
	const char *empty = "{\"status\":\"success\",\"data\":{\"resultType\":"
			    "\"vector\",\"result\":[]}}";
	cr_assert_eq(metrics_prom_parse(empty, strlen(empty), &v, &why, err,
					sizeof(err)),
		     ERR_NOTFOUND);
}

static void prom_bad(const char *in, const char *reason)
{
	double v;
	const char *why = NULL;
	char err[64];
	cr_assert_eq(metrics_prom_parse(in, strlen(in), &v, &why, err,
					sizeof(err)),
		     ERR_PARSE, "%s", in);
	cr_assert_str_eq(why, reason, "%s", in);
}

#define OK_HEAD "{\"status\":\"success\",\"data\":"
Test(prom_bad, not_json) { prom_bad("{\"status\":", "answer is not JSON"); }
Test(prom_bad, not_object) { prom_bad("[1]", "answer has no status"); }
Test(prom_bad, duplicate_keys)
{
	prom_bad("{\"status\":\"success\",\"status\":\"error\"}",
		 "answer is not JSON");
}
Test(prom_bad, no_data) { prom_bad("{\"status\":\"success\"}", "answer has no data.resultType/result"); }
Test(prom_bad, error_status)
{
	double v;
	const char *why;
	char err[64];
	const char *in = "{\"status\":\"error\",\"errorType\":\"bad_data\","
			 "\"error\":\"parse error at char 5\"}";
	cr_assert_eq(metrics_prom_parse(in, strlen(in), &v, &why, err,
					sizeof(err)),
		     ERR_PARSE);
	cr_assert_str_eq(why, "Prometheus reported an error");
	cr_assert_str_eq(err, "parse error at char 5");
}
Test(prom_bad, matrix)
{
	prom_bad(OK_HEAD "{\"resultType\":\"matrix\",\"result\":[]}}",
		 "result is not a scalar or an instant vector");
}
Test(prom_bad, vector_not_array)
{
	prom_bad(OK_HEAD "{\"resultType\":\"vector\",\"result\":{}}}",
		 "vector result is not an array");
}
Test(prom_bad, two_series)
{
	prom_bad(OK_HEAD "{\"resultType\":\"vector\",\"result\":[{\"value\":"
			 "[1,\"1\"]},{\"value\":[1,\"2\"]}]}}",
		 "query returned more than one series; aggregate it (sum, "
		 "max, ...)");
}
Test(prom_bad, element_not_object)
{
	prom_bad(OK_HEAD "{\"resultType\":\"vector\",\"result\":[1]}}",
		 "vector element is not an object");
}
Test(prom_bad, value_shape)
{
	prom_bad(OK_HEAD "{\"resultType\":\"scalar\",\"result\":[1]}}",
		 "value is not [timestamp, \"number\"]");
}
Test(prom_bad, value_not_string)
{
	prom_bad(OK_HEAD "{\"resultType\":\"scalar\",\"result\":[1,2]}}",
		 "value is not a string");
}
Test(prom_bad, value_not_number)
{
	prom_bad(OK_HEAD "{\"resultType\":\"scalar\",\"result\":[1,\"1x\"]}}",
		 "value is not a number");
	prom_bad(OK_HEAD "{\"resultType\":\"scalar\",\"result\":[1,\"\"]}}",
		 "value is not a number");
}
Test(prom_bad, value_with_nul)
{
	/* jansson refuses NUL in strings unless asked to allow it */
	prom_bad(OK_HEAD "{\"resultType\":\"scalar\",\"result\":[1,\"1\\u0000\"]}}",
		 "answer is not JSON");
}

Test(prom, source_validation_and_unreachable_server)
{
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
	metrics_prom_opts_t o;
	memset(&o, 0, sizeof(o));
	metrics_src_t *src;
	const char *why = NULL;
	cr_assert_eq(metrics_src_prom_new(&o, &src, &why), ERR_INVAL);
	cr_assert_str_eq(why, "no Prometheus URL");
	/* a port nothing listens on: bind one, close it */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, len), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
	o.url = url;
	o.service = "web";
	o.queries[METRICS_CPU] = "bad{what}";
	cr_assert_eq(metrics_src_prom_new(&o, &src, &why), ERR_INVAL);
	o.queries[METRICS_CPU] = "sum(x{side=\"{side}\"})";
	o.queries[METRICS_MEMORY] = "sum(y)";
	o.timeout_ns = 2 * NS_PER_S;
	cr_assert_eq(metrics_src_prom_new(&o, &src, &why), 0);
	cr_assert_str_eq(src->ops->name, "prometheus");
	metrics_sample_t s;
	cr_assert_eq(metrics_src_sample(src, REQREC_SHADOW, clock_wall_ns(),
					&s),
		     -ECONNREFUSED);
	cr_assert(isnan(s.v[METRICS_CPU]) && isnan(s.v[METRICS_MEMORY]));
	metrics_totals_t t;
	cr_assert_eq(metrics_src_local_totals(src, 0, &t), ERR_INVAL,
		     "not a local source");
	metrics_src_free(src);
}

Test(source, from_config)
{
	config_t *cfg = config_new_default("web");
	metrics_src_t *src;
	const char *why = NULL;
	cr_assert_eq(metrics_src_from_config(cfg, NULL, &src, &why), 0);
	cr_assert_str_eq(src->ops->name, "local");
	metrics_src_free(src);
	config_errors_t errs = {0};
	cr_assert_eq(config_set(cfg, "metrics.source", "prometheus", &errs), 0);
	cr_assert_eq(config_set(cfg, "metrics.prometheus.url",
				"http://127.0.0.1:9", &errs),
		     0);
	cr_assert_eq(metrics_src_from_config(cfg, NULL, &src, &why), 0, "%s",
		     why);
	cr_assert_str_eq(src->ops->name, "prometheus");
	metrics_src_free(src);
	config_errors_free(&errs);
	config_free(cfg);
}
