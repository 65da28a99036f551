/*
 * analyze.h: the modes of `umbra analyze` (src/cmd/analyze.c holds the
 * option table and picks the mode). Each mode is one file and one entry
 * point taking the parsed arguments and returning an exit code.
 */
#ifndef UMBRA_CMD_ANALYZE_H
#define UMBRA_CMD_ANALYZE_H

#include "cmd/cmd.h"

/* --nab DIR --out OUT [--detector NAME[,NAME...]|all]: runs detectors over
 * the NAB corpus in DIR, writes NAB's result layout under OUT and prints
 * the three NAB scores per detector (analyze_nab.c). */
int analyze_nab_run(cmd_args_t *a);

#endif
