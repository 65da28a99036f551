/*
 * analysis_config.h: the analysis' parameters from a loaded config. The
 * analysis module may not depend on config (DESIGN.md: it uses only
 * base), so the command layer translates: analysis.*, events.* and
 * shadow.ratio into an_params_t. Used by `umbra analyze` and, in the live
 * loop, by `umbra run`.
 */
#ifndef UMBRA_CMD_ANALYSIS_CONFIG_H
#define UMBRA_CMD_ANALYSIS_CONFIG_H

#include "analysis/analysis.h"
#include "config/config.h"

/* Fills *p from cfg (borrowed). The scheduled tasks go to a new array in
 * *sched (the caller frees it after the analyzer is initialised, which
 * copies them); p->sched points to it. */
void cmd_analysis_params(const config_t *cfg, an_params_t *p,
			 an_sched_t **sched);

#endif
