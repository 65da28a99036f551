/*
 * scale.h: how many production replicas there should be, decided once
 * per tick from production's requests/s and the capacity of a replica.
 *
 * Preemptive: production's load is forecast (forecast.h, Holt by
 * default) in steps of lead/30, and when the forecast `lead` ahead needs
 * more replicas than there are, they are added now, lead before the
 * crossing. A forecast is trusted only after it has earned it: 30 steps
 * seen, then at least 10 of its own lead-ahead predictions checked
 * against what came, with a mean absolute error (EWMA) of at most 25% of
 * the load. Until then, and whenever it loses that record, the rule is
 * reactive, the Kubernetes HPA's: desired = ceil(current x load /
 * (current x capacity x target)), left alone within a 10% tolerance.
 *
 * Scaling up happens at once. Scaling down waits: the desired count must
 * stay below the current one for scale.cooldown (and the last change be
 * that old), and then goes to the highest count desired over that
 * window (the HPA's stabilisation window), never below min.
 *
 * Pure: no I/O, no clocks; the caller passes the tick's time.
 */
#ifndef UMBRA_MITIGATE_SCALE_H
#define UMBRA_MITIGATE_SCALE_H

#include "analysis/forecast.h"

#include <stdbool.h>
#include <stdint.h>

#define MIT_SCALE_STEPS 30	   /* forecast steps per lead: as the analysis */
#define MIT_SCALE_WARM_STEPS 30	   /* Holt's first trend is forgotten by then */
#define MIT_SCALE_TRUST_CHECKS 10  /* own predictions checked before trust */
#define MIT_SCALE_TRUST_ERROR 0.25 /* mean abs. error / load, at most */
#define MIT_SCALE_ERROR_ALPHA 0.2  /* EWMA of that error: ~10 checks */
#define MIT_SCALE_TOLERANCE 0.1	   /* the HPA's default tolerance */
#define MIT_SCALE_LOAD_FLOOR 1.0   /* req/s under which errors are
				      measured against 1 req/s */
#define MIT_SCALE_MAX_PENDING 512  /* predictions awaiting their check */

typedef struct mit_scale_params {
	int min, max;		/* replicas */
	int64_t lead_ns;	/* scale.lead */
	int64_t cooldown_ns;	/* scale.cooldown */
	int64_t tick_ns;	/* the shortest forecast step */
	double capacity;	/* req/s one replica handles; 0 unknown */
	double target;		/* scale.target_utilization */
	an_fc_kind_t forecaster;
} mit_scale_params_t;

typedef struct mit_scale_decision {
	int desired;	 /* == current: nothing to do */
	bool preemptive; /* driven by the forecast, ahead of the load */
	bool trusted;	 /* the forecast is trusted */
	double forecast; /* load at now + lead, or NaN */
	double load;	 /* load now */
	char reason[256];
} mit_scale_decision_t;

typedef struct mit_scaler {
	mit_scale_params_t p;
	an_forecaster_t *fc;
	int64_t step_ns, step_start;
	double step_sum;
	int step_n;
	uint64_t steps;	    /* steps fed to the forecaster */
	int horizon;	    /* steps per lead */
	struct {
		uint64_t at_step; /* the step the prediction is for */
		double value;
	} pending[MIT_SCALE_MAX_PENDING];
	int npending;
	double err_ewma; /* relative */
	int checks;
	int64_t last_up_ns, last_change_ns;
	int64_t low_since_ns; /* desired below current since, 0 = not */
	int low_max;	      /* highest desired since then */
	double last_load;
} mit_scaler_t;

/* 0, or ERR_UNSUPPORTED when the forecaster kind is not built. */
int mit_scaler_init(mit_scaler_t *s, const mit_scale_params_t *p);
void mit_scaler_free(mit_scaler_t *s);

/* A capacity learned by a stress test replaces an unknown one (a
 * configured scale.capacity stays). */
void mit_scaler_set_capacity(mit_scaler_t *s, double capacity);

/* Feeds production's load (req/s) at the tick's time t_ns (NaN skipped). */
void mit_scaler_observe(mit_scaler_t *s, int64_t t_ns, double rps);

/* The decision at now for `current` replicas. */
void mit_scaler_decide(mit_scaler_t *s, int64_t now, int current,
		       mit_scale_decision_t *out);

/* Tells the scaler a change happened (its own or a policy's). */
void mit_scaler_changed(mit_scaler_t *s, int64_t now, int from, int to);

bool mit_scaler_trusted(const mit_scaler_t *s);

#endif
