/*
 * mitigate.c: what the decide-and-act step costs per tick, against the
 * analysis step it follows (the anchor, measured in the same run on the
 * same ticks): the mitigation engine must be a small part of the tick.
 *
 *   1. analysis: an_analyzer_update on a day-like A/A pair (the anchor);
 *   2. mit_tick on that analysis's output (measured as analysis +
 *      mitigation minus the analysis): the default policy (10 rules)
 *      evaluated on every metric, the scaler's forecast and decision,
 *      the alert repeats: the steady state;
 *   3. mit_tick with a critical finding open on every tick: every rule
 *      that holds is checked against its cooldown (fires once);
 *   4. mit_expr_parse of the default cpu rule (config load);
 *   5. a snapshot of an unchanged 20-file config dir (hashing only).
 *
 * Thread CPU time, medians of RUNS; ticks per second of one core.
 *
 *   mitigate [TICKS [RUNS]]
 */
#include "../tests/unit/analysis/sim.h"
#include "analysis/analysis.h"
#include "base/log.h"
#include "config/config.h"
#include "mitigate/mitigate.h"
#include "mitigate/snapshot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	long ticks = argc > 1 ? atol(argv[1]) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	if (ticks < 1000 || runs < 1 || runs > 99) {
		fprintf(stderr, "usage: mitigate [TICKS>=1000 [RUNS 1..99]]\n");
		return 2;
	}
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
	an_tick_t *t = malloc((size_t)ticks * sizeof(*t));
	sim_t sim;
	sim_init(&sim, 1, 1.0);
	for (long k = 0; k < ticks; k++) {
		sim_mod_t m;
		sim_mod_none(&m);
		t[k] = *sim_step(&sim, k, &m);
		t[k].endpoints = NULL;
		t[k].nendpoints = 0;
	}
	char dir[] = "/tmp/umbra-bench-mit-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char conf[128];
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	mkdir(conf, 0755);
	for (int i = 0; i < 20; i++) {
		char p[192];
		snprintf(p, sizeof(p), "%s/file%02d.conf", conf, i);
		FILE *f = fopen(p, "w");
		for (int l = 0; l < 40; l++)
			fprintf(f, "key_%d = value %d\n", l, l * i);
		fclose(f);
	}
	char text[1024];
	snprintf(text, sizeof(text),
		 "service: bench\nproduction:\n  upstreams: [127.0.0.1:1]\n"
		 "store:\n  path: %s/data/umbra.db\n"
		 "mitigation:\n  scale: {capacity: 100}\n",
		 dir);
	config_t *cfg;
	config_errors_t errs = {0};
	if (config_load_string("b.yaml", text, strlen(text), dir, &cfg, &errs))
		return 1;
	an_out_t *out = malloc(sizeof(*out));
	double anchor[99], steady[99], finding[99], parse[99], snap[99];
	buf_t err = BUF_INIT;
	for (int r = 0; r < runs; r++) {
		/* 1: the analysis alone */
		an_params_t p;
		an_params_default(&p);
		an_analyzer_t *a;
		an_analyzer_init(&a, &p, NULL);
		double t0 = now();
		for (long k = 0; k < ticks; k++)
			an_analyzer_update(a, &t[k], out);
		anchor[r] = now() - t0;
		an_analyzer_free(a);
		/* 2, 3: analysis then mitigation; the difference is the
		 * engine's (an_out_t is 67 KiB: too big to keep per tick) */
		for (int with_finding = 0; with_finding < 2; with_finding++) {
			an_analyzer_init(&a, &p, NULL);
			mit_audit_t au = mit_audit_memory_new(0);
			mit_t *m;
			mit_new(cfg, NULL, &au, &m, &err);
			mit_report_t rep;
			t0 = now();
			for (long k = 0; k < ticks; k++) {
				an_analyzer_update(a, &t[k], out);
				if (with_finding && k == 0) {
					an_finding_t *f = &out->finding[0];
					memset(f, 0, sizeof(*f));
					f->metric = AN_M_cpu;
					f->kind = AN_FIND_CRITICAL;
					f->severity = 95;
					f->mover = AN_PROD;
					out->nfindings = 1;
				}
				mit_input_t in = {t[k].t_ns, out,
						  t[k].rps[AN_PROD]};
				mit_tick(m, &in, &rep);
			}
			double d = now() - t0 - anchor[r];
			if (with_finding)
				finding[r] = d;
			else
				steady[r] = d;
			mit_free(m);
			mit_audit_memory_free(&au);
			an_analyzer_free(a);
		}

		const char *rule = "cpu.critical or (cpu.deviating and "
				   "cpu.velocity > 0.05)";
		mit_expr_t e;
		mit_expr_err_t pe;
		t0 = now();
		for (long k = 0; k < ticks; k++)
			mit_expr_parse(rule, strlen(rule), &e, &pe);
		parse[r] = now() - t0;

		char sd[192];
		snprintf(sd, sizeof(sd), "%s/snaps", dir);
		mit_snaps_t *s;
		mit_snaps_open(sd, conf, 10, true, &s, &err);
		mit_snap_info_t info;
		bool is_new;
		int n = 200;
		mit_snaps_take(s, 1, "bench", &info, &is_new, &err);
		t0 = now();
		for (int k = 0; k < n; k++)
			mit_snaps_take(s, 2 + k, "bench", &info, &is_new, &err);
		snap[r] = (now() - t0) / n;
		mit_snaps_close(s);
	}
	buf_free(&err);
	double a = median(anchor, runs), st = median(steady, runs),
	       fi = median(finding, runs), pa = median(parse, runs),
	       sn = median(snap, runs);
	printf("mitigation engine, %ld ticks of 11 metrics, median of %d runs "
	       "(thread CPU time):\n",
	       ticks, runs);
	printf("  analysis (anchor)         %10.0f ticks/s  %6.2f us/tick\n",
	       ticks / a, a / ticks * 1e6);
	printf("  mit_tick, steady          %10.0f ticks/s  %6.2f us/tick  "
	       "%5.1f%% of the analysis\n",
	       ticks / st, st / ticks * 1e6, st / a * 100);
	printf("  mit_tick, finding open    %10.0f ticks/s  %6.2f us/tick  "
	       "%5.1f%% of the analysis\n",
	       ticks / fi, fi / ticks * 1e6, fi / a * 100);
	printf("  parse the default cpu rule %9.0f /s       %6.2f us\n",
	       ticks / pa, pa / ticks * 1e6);
	printf("  snapshot, 20 files unchanged             %6.0f us\n",
	       sn * 1e6);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	config_free(cfg);
	free(out);
	free(t);
	return 0;
}
