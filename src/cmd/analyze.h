/*
 * analyze.h: the modes of `umbra analyze`, one file each, dispatched by
 * src/cmd/analyze.c:
 *
 *   analyze_pair.c  --prod P --shadow S: production against the shadow
 *                   (the deviation analysis, offline)
 *   analyze_nab.c   --nab DIR: anomaly detectors on the Numenta Anomaly
 *                   Benchmark
 *   analyze_cv.c    --nab DIR --cv K: the default detector, cross-validated
 */
#ifndef UMBRA_CMD_ANALYZE_H
#define UMBRA_CMD_ANALYZE_H

#include "cmd/cmd.h"

/* `umbra analyze --prod P.csv --shadow S.csv [--events E.csv] [--config C]
 * [--format jsonl|table]`: prints one finding per line on stdout, a
 * summary on stderr. Returns the exit code: 0 analysed (findings or
 * not), 2 bad usage, bad config or malformed input (FILE:LINE:COL: why on
 * stderr), 1 when output fails. */
int analyze_pair_run(cmd_args_t *a);

/* --nab DIR --out OUT [--detector NAME[,NAME...]|all]: runs detectors over
 * the NAB corpus in DIR, writes NAB's result layout under OUT and prints
 * the three NAB scores per detector (analyze_nab.c). */
int analyze_nab_run(cmd_args_t *a);

struct cmd_nab_corpus;
/* --nab DIR --cv K|category: the default detector's cross-validated NAB
 * scores over the loaded corpus c (analyze_cv.c). Returns an exit code. */
int analyze_cv_run(cmd_args_t *a, const struct cmd_nab_corpus *c,
		   const char *spec);

#endif
