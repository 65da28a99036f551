/*
 * analyze.h: the modes of `umbra analyze`, one file each, dispatched by
 * src/cmd/analyze.c:
 *
 *   analyze_pair.c  --prod P --shadow S: production against the shadow
 *                   (the deviation analysis, offline)
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

#endif
