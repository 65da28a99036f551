/*
 * msrc_read.c: one tick of a metric source (src/metrics/metrics.h), as
 * JSON, for the end-to-end tests.
 *
 *   msrc_read config CONFIG
 *       the source CONFIG asks for (metrics.source), every side:
 *       {"production": {"cpu": 0.5, ...}, "shadow": {...}}  (NaN left out)
 *   msrc_read local [--pid N]... [--cgroup GROUP] [--proc-root DIR]
 *       the local source on one side: its totals and one sample
 *       {"cpu_user_s": .., "cpu_system_s": .., "disk_read_bytes": ..,
 *        "sample": {"memory": .., "procs": .., ...}}
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "config/config.h"
#include "metrics/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_sample(const metrics_sample_t *s)
{
	printf("{");
	const char *sep = "";
	for (int m = 0; m < METRICS__COUNT; m++) {
		if (isnan(s->v[m]) || isinf(s->v[m]))
			continue;
		printf("%s\"%s\": %.17g", sep, metrics_info(m)->name, s->v[m]);
		sep = ", ";
	}
	printf("}");
}

static int from_config(const char *file)
{
	config_t *cfg;
	config_errors_t errs = {0};
	if (config_load_file(file, &cfg, &errs)) {
		buf_t b = BUF_INIT;
		config_errors_format(&errs, &b);
		fprintf(stderr, "%s", b.data ? b.data : "");
		buf_free(&b);
		config_errors_free(&errs);
		return 2;
	}
	config_errors_free(&errs);
	metrics_src_t *src;
	const char *why = "";
	if (metrics_src_from_config(cfg, NULL, &src, &why)) {
		fprintf(stderr, "msrc_read: %s\n", why);
		config_free(cfg);
		return 1;
	}
	printf("{");
	int64_t now = clock_wall_ns();
	for (int side = 0; side < 2; side++) {
		metrics_sample_t s;
		int rc = metrics_src_sample(src, side, now, &s);
		printf("%s\"%s\": ", side ? ", " : "", metrics_side_name(side));
		print_sample(&s);
		if (rc)
			fprintf(stderr, "msrc_read: %s: %s\n",
				metrics_side_name(side), err_str(rc));
	}
	printf("}\n");
	metrics_src_free(src);
	config_free(cfg);
	return 0;
}

static int local(int argc, char **argv)
{
	pid_t pids[64];
	size_t n = 0;
	const char *cgroup = NULL, *proc = NULL;
	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--pid") && n < 64)
			pids[n++] = (pid_t)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--cgroup"))
			cgroup = argv[i + 1];
		else if (!strcmp(argv[i], "--proc-root"))
			proc = argv[i + 1];
		else
			return 2;
	}
	metrics_local_opts_t o = {.proc_root = proc};
	metrics_src_t *src;
	metrics_src_local_new(&o, &src);
	metrics_target_t t = {pids, n, cgroup, 0};
	int rc = metrics_src_local_target(src, REQREC_PRODUCTION, &t);
	if (rc) {
		fprintf(stderr, "msrc_read: target: %s\n", err_str(rc));
		metrics_src_free(src);
		return 1;
	}
	metrics_sample_t s;
	rc = metrics_src_sample(src, REQREC_PRODUCTION, clock_wall_ns(), &s);
	if (rc) {
		fprintf(stderr, "msrc_read: sample: %s\n", err_str(rc));
		metrics_src_free(src);
		return 1;
	}
	metrics_totals_t tot;
	metrics_src_local_totals(src, REQREC_PRODUCTION, &tot);
	printf("{\"cpu_user_s\": %.17g, \"cpu_system_s\": %.17g, "
	       "\"disk_read_bytes\": %.17g, \"disk_write_bytes\": %.17g, "
	       "\"sample\": ",
	       tot.cpu_user_s, tot.cpu_system_s, tot.disk_read_bytes,
	       tot.disk_write_bytes);
	print_sample(&s);
	printf("}\n");
	metrics_src_free(src);
	return 0;
}

int main(int argc, char **argv)
{
	log_setup(LOG_WARN, LOG_FMT_LOGFMT);
	if (argc == 3 && !strcmp(argv[1], "config"))
		return from_config(argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "local"))
		return local(argc - 2, argv + 2);
	fprintf(stderr, "usage: msrc_read config CONFIG | msrc_read local "
			"[--pid N]... [--cgroup GROUP] [--proc-root DIR]\n");
	return 2;
}
