/*
 * analyze_nab.c: `umbra analyze --nab DIR --out OUT [--detector NAME]`.
 * Loads a NAB corpus (nab_io.c), runs each chosen detector over every
 * series (analysis/anomaly.h), writes NAB's result layout
 *
 *   OUT/<detector>/<category>/<detector>_<file>.csv
 *   timestamp,value,anomaly_score,label
 *
 * and prints NAB's three scores per detector (analysis/nab.h). File I/O
 * lives here; the detectors and the scorer are pure.
 */
#include "analysis/anomaly.h"
#include "analysis/nab.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/xmalloc.h"
#include "cmd/analyze.h"
#include "cmd/nab_io.h"

#include <errno.h>
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


static int write_result(const char *out, const char *det,
			const cmd_nab_entry_t *e, const double *score,
			char **msg)
{
	const char *slash = strrchr(e->path, '/');
	char *cat = xstrndup(e->path, (size_t)(slash - e->path));
	char *dir = xasprintf("%s/%s/%s", out, det, cat);
	char *path = xasprintf("%s/%s_%s", dir, det, slash + 1);
	int rc = fs_mkdirs(dir, 0755);
	FILE *f = rc ? NULL : fopen(path, "w");
	if (!rc && !f)
		rc = -errno;
	if (f) {
		fputs("timestamp,value,anomaly_score,label\n", f);
		size_t w = 0;
		for (size_t i = 0; i < e->s.n; i++) {
			while (w < e->nwin && i > e->win[w].end)
				w++;
			int label = w < e->nwin && i >= e->win[w].start;
			char ts[40];
			fprintf(f, "%s,%.17g,%.17g,%d\n",
				cmd_nab_time_format(e->s.t_us[i], ts,
						    sizeof(ts)),
				e->s.v[i], score[i], label);
		}
		if (fclose(f))
			rc = -errno;
	}
	if (rc)
		*msg = xasprintf("%s: %s", path, err_str(rc));
	free(cat);
	free(dir);
	free(path);
	return rc;
}

static void list_detectors(void)
{
	printf("%-12s %8s  %s\n", "detector", "state_B", "summary");
	for (size_t i = 0; i < an_det_count(); i++) {
		const an_det_info_t *d = an_det_at(i);
		printf("%-12s %8zu  %s\n", d->name, d->state_bytes, d->summary);
	}
}

/* Runs one detector over the corpus, writes its results (out may be
 * NULL) and prints its scores. Returns an exit code. */
static int run_one(cmd_args_t *a, const cmd_nab_corpus_t *c,
		   const char *det, const char *out)
{
	an_nab_file_t *files = xcalloc(c->n, sizeof(*files));
	double **scores = xcalloc(c->n, sizeof(*scores));
	int64_t ns = 0;
	int rc = CMD_EXIT_OK;
	for (size_t k = 0; k < c->n; k++) {
		const cmd_nab_entry_t *e = &c->f[k];
		scores[k] = xcalloc(e->s.n, sizeof(double));
		int64_t t0 = clock_mono_ns();
		an_det_run(det, e->t, e->s.v, e->s.n, scores[k]);
		ns += clock_mono_ns() - t0;
		files[k] = (an_nab_file_t){e->s.n, scores[k], e->win, e->nwin};
		char *msg;
		if (out && write_result(out, det, e, scores[k], &msg)) {
			rc = cmd_fail(a->cmd, "%s", msg);
			free(msg);
			goto done;
		}
	}
	double secs = (double)ns / 1e9;
	for (int p = 0; p < AN_NAB_PROFILES; p++) {
		an_nab_result_t r;
		if (an_nab_score(files, c->n, &an_nab_profile[p], &r)) {
			rc = cmd_fail(a->cmd, "%s: malformed windows", det);
			goto done;
		}
		printf("%-12s %-19s %7.2f %12.6g %4zu %4zu %6zu", det,
		       an_nab_profile[p].name, r.score, r.threshold, r.c.tp,
		       r.c.fn, r.c.fp);
		if (p == 0)
			printf(" %8.3f %8.2f", secs,
			       secs > 0 ? (double)c->rows / secs / 1e6 : 0);
		putchar('\n');
		if (p == 0 && cmd_flag(a, "per-file"))
			for (size_t k = 0; k < c->n; k++) {
				an_nab_counts_t fc;
				an_nab_score_at(&files[k], 1, &an_nab_profile[0],
						r.threshold, &fc);
				printf("file %s %s %zu %zu %zu\n", det,
				       c->f[k].path, fc.tp, fc.fn, fc.fp);
			}
	}
	fflush(stdout);
done:
	for (size_t k = 0; k < c->n; k++)
		free(scores[k]);
	free(scores);
	free(files);
	return rc;
}

int analyze_nab_run(cmd_args_t *a)
{
	const cmd_entry_t *self = a->cmd;
	if (cmd_flag(a, "list-detectors")) {
		list_detectors();
		return CMD_EXIT_OK;
	}
	/* GSL's default error handler aborts the process; the Prophet fit
	 * checks every result instead. */
	gsl_set_error_handler_off();
	const char *dir = cmd_opt(a, "nab");
	const char *out = cmd_opt(a, "out");
	const char *dets = cmd_opt(a, "detector");
	const char *cv = cmd_opt(a, "cv");
	if (!out && !cv)
		return cmd_usage_error(self, "--nab needs --out OUT or --cv K");
	if (cv) {
		cmd_nab_corpus_t c;
		char *msg = NULL;
		int rc = cmd_nab_corpus_load(dir, &c, &msg);
		if (rc) {
			rc = cmd_fail(self, "%s", msg);
			free(msg);
			return rc;
		}
		rc = analyze_cv_run(a, &c, cv);
		cmd_nab_corpus_free(&c);
		return rc;
	}
	if (!dets)
		dets = AN_DET_DEFAULT;
	/* Check every name before the (long) run starts. */
	char *list = xstrdup(dets);
	size_t nd = 0;
	const char *names[64];
	if (!strcmp(list, "all")) {
		for (size_t i = 0; i < an_det_count() && nd < 64; i++)
			names[nd++] = an_det_at(i)->name;
	} else {
		for (char *s = strtok(list, ","); s; s = strtok(NULL, ",")) {
			if (!an_det_find(s)) {
				int rc = cmd_usage_error(
					self,
					"unknown detector '%s' (see "
					"'umbra analyze --list-detectors')",
					s);
				free(list);
				return rc;
			}
			if (nd == 64) {
				free(list);
				return cmd_usage_error(self,
						       "too many detectors");
			}
			names[nd++] = s;
		}
	}
	if (nd == 0) {
		free(list);
		return cmd_usage_error(self, "--detector names no detector");
	}
	cmd_nab_corpus_t c;
	char *msg = NULL;
	int rc = cmd_nab_corpus_load(dir, &c, &msg);
	if (rc) {
		rc = cmd_fail(self, "%s", msg);
		free(msg);
		free(list);
		return rc;
	}
	printf("NAB corpus %s: %zu files, %zu rows, %zu windows\n", dir, c.n,
	       c.rows, c.windows);
	printf("%-12s %-19s %7s %12s %4s %4s %6s %8s %8s\n", "detector",
	       "profile", "score", "threshold", "TP", "FN", "FP", "secs",
	       "Mpts/s");
	fflush(stdout);
	rc = CMD_EXIT_OK;
	for (size_t i = 0; i < nd && rc == CMD_EXIT_OK; i++)
		rc = run_one(a, &c, names[i], out);
	cmd_nab_corpus_free(&c);
	free(list);
	return rc;
}
