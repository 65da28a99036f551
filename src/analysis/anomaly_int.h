/*
 * anomaly_int.h: how a detector plugs into the registry (anomaly.c). A
 * detector is a fixed-size state struct with init and update functions;
 * each lives in its own det_*.c file and exports one an_det_ops_t.
 */
#ifndef UMBRA_ANALYSIS_ANOMALY_INT_H
#define UMBRA_ANALYSIS_ANOMALY_INT_H

#include "analysis/anomaly.h"

typedef struct an_det_ops {
	an_det_info_t info; /* info.state_bytes: sizeof the state struct */
	void (*init)(void *state);
	double (*update)(void *state, double t, double x);
	/* What raised the last nonzero score (an_det_kind); NULL: the
	 * detector does not say. */
	const char *(*kind)(const void *state);
} an_det_ops_t;

extern const an_det_ops_t an_det_null_ops, an_det_random_ops,
	an_det_gauss_ops, an_det_zscore_ops, an_det_holt_ops, an_det_hw_ops,
	an_det_prophet_ops, an_det_lstm_ops, an_det_fcens_ops,
	an_det_novelty_ops, an_det_record_ops, an_det_ensemble_ops,
	an_det_ensemble2_ops, an_det_ensemble3_ops, an_det_stuck_ops,
	an_det_season_ops;

/* Initialises a state of an_det_ensemble3_ops' size with constants p
 * (det_ensemble.c; an_det_new_ens). */
void an__ens_init_params(void *state, const an_ens_params_t *p);

#endif
