/*
 * drift.c: what one drift check costs the control thread. A check
 * fingerprints both sides (here: this process, with a config tree of N
 * files, twice) and compares them; the anchor, measured in the same run,
 * is reading and SHA-256-hashing the same config files and the process's
 * mapped libraries once per side, the I/O a check cannot avoid (library
 * hashes are cached after the first check, so a check should cost less
 * than the anchor). Also the line diff on a 10 000-line file with 50
 * scattered changes, against GNU `diff -u` (process start included).
 * Medians of REPS runs.
 *
 *   build/bench/drift [FILES] [REPS]
 */
#include "base/clock.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "provision/prov_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double median_us(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	return v[n / 2] / 1000.0;
}

static int hash_one(const char *rel, const char *full, void *arg)
{
	char hex[65];
	prov__sha256_file(full, hex);
	return 0;
}

int main(int argc, char **argv)
{
	int files = argc > 1 ? atoi(argv[1]) : 200;
	int reps = argc > 2 ? atoi(argv[2]) : 51;
	char dir[] = "/tmp/umbra-bench-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char *conf = xasprintf("%s/conf", dir);
	prov__mkdirs(conf);
	for (int i = 0; i < files; i++) {
		char *p = xasprintf("%s/f%03d.conf", conf, i);
		FILE *f = fopen(p, "w");
		for (int l = 0; l < 100; l++)
			fprintf(f, "key_%d = value %d # port {port}\n", l,
				i * l);
		fclose(f);
		free(p);
	}
	char *yaml = xasprintf("service: bench\nproduction:\n  command: "
			       "[/bin/true, '{port}']\n  config_dir: %s\n"
			       "shadow:\n  work_dir: %s/work\n",
			       conf, dir);
	config_t *cfg;
	config_errors_t errs = {0};
	if (config_load_string("b.yaml", yaml, strlen(yaml), dir, &cfg, &errs))
		return 1;
	prov_spec_t sp[2];
	buf_t err = BUF_INIT;
	prov_spec_build(cfg, PROV_PRODUCTION, NULL, NULL, &sp[0], &err);
	prov_spec_build(cfg, PROV_SHADOW, &sp[0], NULL, &sp[1], &err);
	char *src = xasprintf("%s/work/source", dir);
	prov__mkdirs(sp[1].work_dir);
	prov_vars_t v = prov_spec_vars(&sp[1], 0, 9100);
	prov__copytree(conf, src, NULL, &err);
	prov__copytree(src, sp[1].config_dir, &v, &err);

	int64_t *check = calloc((size_t)reps, sizeof(int64_t));
	int64_t *anchor = calloc((size_t)reps, sizeof(int64_t));
	size_t diffs = 0;
	for (int r = 0; r < reps; r++) {
		int64_t t0 = clock_mono_ns();
		prov_fp_t fp[2];
		for (int s = 0; s < 2; s++) {
			prov_fp_src_t fs = {.spec = &sp[s],
					    .pid = getpid(),
					    .port = s ? 9100 : 9000,
					    .scale = 1,
					    .env_ignore =
						&cfg->drift.env_ignore};
			prov_fp_collect(&fs, &fp[s]);
		}
		prov_drift_report_t rep = {0};
		prov_fp_compare(&fp[0], &fp[1], &rep);
		check[r] = clock_mono_ns() - t0;
		diffs = rep.n;
		prov_drift_report_free(&rep);
		prov_fp_free(&fp[0]);
		prov_fp_free(&fp[1]);

		t0 = clock_mono_ns();
		for (int s = 0; s < 2; s++) {
			prov__walk(s ? sp[1].config_dir : conf, hash_one, NULL);
			FILE *m = fopen("/proc/self/maps", "r");
			char line[4096], last[4096] = "";
			while (m && fgets(line, sizeof(line), m)) {
				char *p = strchr(line, '/');
				if (!p || !strstr(p, ".so"))
					continue;
				p[strcspn(p, "\n")] = '\0';
				if (!strcmp(p, last))
					continue;
				snprintf(last, sizeof(last), "%s", p);
				char hex[65];
				prov__sha256_file(p, hex);
			}
			if (m)
				fclose(m);
		}
		anchor[r] = clock_mono_ns() - t0;
	}
	printf("| drift check, %d config files x 2 sides | %.0f us | "
	       "anchor (hash files + libs) %.0f us | ratio %.2f | %zu "
	       "differences |\n",
	       files, median_us(check, reps), median_us(anchor, reps),
	       (double)median_us(check, reps) / median_us(anchor, reps), diffs);

	/* line diff on 10 000 lines with 50 changes */
	buf_t a = BUF_INIT, b = BUF_INIT, out = BUF_INIT;
	for (int l = 0; l < 10000; l++) {
		buf_printf(&a, "line %d of the configuration\n", l);
		buf_printf(&b,
			   l % 200 == 7 ? "line %d CHANGED\n"
					: "line %d of the configuration\n",
			   l);
	}
	char *pa = xasprintf("%s/a.txt", dir), *pb = xasprintf("%s/b.txt", dir);
	prov__write_file(pa, a.data, a.len);
	prov__write_file(pb, b.data, b.len);
	char *cmd = xasprintf("diff -u %s %s > /dev/null", pa, pb);
	for (int r = 0; r < reps; r++) {
		buf_reset(&out);
		int line;
		int64_t t0 = clock_mono_ns();
		prov_diff_unified(a.data, a.len, b.data, b.len, "a", "b", &out,
				  &line);
		check[r] = clock_mono_ns() - t0;
		t0 = clock_mono_ns();
		if (system(cmd) < 0)
			return 1;
		anchor[r] = clock_mono_ns() - t0;
	}
	printf("| line diff, 10000 lines, 50 changes | %.0f us | anchor "
	       "(GNU diff -u, with process start) %.0f us | ratio %.2f | "
	       "%zu bytes |\n",
	       median_us(check, reps), median_us(anchor, reps),
	       median_us(check, reps) / median_us(anchor, reps), out.len);
	char *rm = xasprintf("rm -rf %s", dir);
	if (system(rm) < 0)
		return 1;
	return 0;
}
