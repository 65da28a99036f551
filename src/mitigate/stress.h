/*
 * stress.h: a stress test of the shadow, as a state machine driven by
 * ticks, so that it runs the same in the daemon, in `umbra stress` and in
 * unit tests without processes.
 *
 * Levers, in the configured order (mitigation.stress.levers):
 *   amplify  the mirror sends k copies of each sampled request, k = 1, 2,
 *            4, 8 ... up to stress.max_amplification;
 *   cpu      the shadow's CPU quota is squeezed to a share s = 1, 1/2,
 *            1/4 ... down to stress.min_cpu of what it normally has;
 *   memory   the same for its memory limit, down to stress.min_memory.
 * Each step is held stress.step: the first fifth settles (queues fill or
 * drain, the quota takes hold) and is not measured, the rest is. A step
 * is over its targets when the shadow's p99 latency is above
 * stress.p99_target or its error rate (errors and mirror copies dropped
 * for a full queue, over everything sent) is above stress.error_target;
 * for amplify also when doubling the copies grew the throughput by less
 * than a fifth of the expected gain (a plateau: saturated). The first step over its
 * targets is the knee; the lever stops there, is set back to normal, and
 * one step passes before the next lever starts. Production is never
 * touched: these levers act on mirror copies and the shadow's cgroups.
 *
 * Capacity, in production's terms (the shadow has `ratio` of production's
 * resources and traffic): amplify's last good step handled T req/s on the
 * shadow, so one production replica handles T / (ratio x production
 * replicas); cpu's last good share s handled T, so full CPU handles about
 * T / s. Headroom is production's capacity over its load now.
 *
 * Pure: no I/O, no clocks.
 */
#ifndef UMBRA_MITIGATE_STRESS_H
#define UMBRA_MITIGATE_STRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ latencies */

/* Log-spaced latency buckets: 8 per doubling from 1 us to ~2^27 us
 * (134 s), so a quantile is within 9% (2^(1/8)). */
#define MIT_HIST_PER_OCTAVE 8
#define MIT_HIST_OCTAVES 28
#define MIT_HIST_BUCKETS (MIT_HIST_PER_OCTAVE * MIT_HIST_OCTAVES)

typedef struct mit_hist {
	uint64_t n;	  /* responses and failures */
	uint64_t errors;  /* failures and 5xx */
	uint64_t dropped; /* copies the mirror queue refused */
	uint32_t bucket[MIT_HIST_BUCKETS];
} mit_hist_t;

void mit_hist_reset(mit_hist_t *h);
/* One request: its latency (us) and whether it failed. */
void mit_hist_add(mit_hist_t *h, uint32_t latency_us, bool error);
/* The q-quantile in seconds (bucket upper bound), NaN when empty. */
double mit_hist_quantile(const mit_hist_t *h, double q);

/* ------------------------------------------------------------ machine */

typedef enum mit_lever {
	MIT_LEVER_AMPLIFY = 0,
	MIT_LEVER_CPU,
	MIT_LEVER_MEMORY,
	MIT_LEVER__COUNT
} mit_lever_t;

const char *mit_lever_name(mit_lever_t l);
/* The lever called name, or -1. */
int mit_lever_by_name(const char *name);

#define MIT_STRESS_AGREE 0.10	   /* the amplify and cpu levers' lower
				      bounds agree within this share
				      (docs/mitigation.md); past it the
				      summary says so, and why */
#define MIT_STRESS_MAX_POINTS 64   /* steps in one run: 7 + 7 + 7 at most */
#define MIT_STRESS_MIN_SAMPLES 20  /* requests a step needs to be judged;
				      a p99 of fewer is their maximum */
#define MIT_STRESS_PLATEAU_GAIN 0.2 /* amplify: a throughput gain under
				       this share of the expected gain is
				       saturation */

typedef struct mit_stress_params {
	mit_lever_t lever[MIT_LEVER__COUNT];
	int nlevers;
	unsigned normal_amp; /* mirror.amplification, restored after */
	unsigned max_amp;
	double min_cpu, min_mem; /* shares */
	int64_t step_ns;
	double p99_target_s, error_target;
	double ratio;		 /* shadow.ratio */
	int prod_replicas;
	double prod_rps;	 /* production's load now; NaN unknown */
	double shadow_cpu;	 /* the shadow's CPU limit, cores; 0 none */
	uint64_t shadow_mem;	 /* its memory limit, bytes; 0 none */
	bool can_amplify;	 /* a proxy to turn */
	bool can_squeeze;	 /* a provisioner to squeeze with */
} mit_stress_params_t;

typedef struct mit_stress_point {
	mit_lever_t lever;
	double level;	    /* k, or the share */
	double rps;	    /* the shadow's throughput, req/s */
	double p99_s;
	double error_rate;  /* (errors + dropped) / (n + dropped) */
	uint64_t n;
	bool over;	    /* over the targets: the knee */
	char why[96];	    /* why over */
} mit_stress_point_t;

typedef struct mit_stress_lever_result {
	mit_lever_t lever;
	bool ran;
	bool knee;	     /* a step went over the targets */
	double knee_level;   /* that step's level */
	double good_level;   /* the last step within them; 0 none */
	double good_rps;     /* the shadow's throughput there */
	/* Production-equivalent req/s per replica: at least lo (the last
	 * good step), at most hi (the knee); NaN when unknown. */
	double capacity_lo, capacity_hi;
	double headroom;     /* production capacity / load now - 1; NaN */
	uint64_t mem_ok;     /* memory: the smallest limit within targets */
	char note[320];	     /* skipped: why; else a summary */
} mit_stress_lever_result_t;

typedef enum mit_stress_state {
	MIT_STRESS_IDLE = 0,
	MIT_STRESS_RUNNING,
	MIT_STRESS_DONE,
	MIT_STRESS_ABORTED,
} mit_stress_state_t;

/* What the driver must do now. */
typedef struct mit_stress_cmd {
	bool set_amp;
	unsigned amp;
	bool set_squeeze;
	double cpu_share, mem_share; /* of the shadow's normal limits */
	bool reset;		     /* start measuring afresh */
	bool finished;		     /* done or aborted: settings restored */
} mit_stress_cmd_t;

typedef struct mit_stress {
	mit_stress_params_t p;
	mit_stress_state_t state;
	int li;		/* index into p.lever */
	int phase;	/* 0 settle, 1 measure, 2 recover */
	double level;
	int64_t phase_start, step_start;
	mit_stress_point_t point[MIT_STRESS_MAX_POINTS];
	int npoints;
	mit_stress_lever_result_t result[MIT_LEVER__COUNT];
	int nresults;
	double capacity;     /* the estimate for the scaler; NaN none */
	char why[1024];	     /* aborted: why; done: summary */
} mit_stress_t;

/* Starts a run at now; cmd says what to set first. 0, or ERR_INVAL when
 * no lever can run (then *st is ABORTED with why, cmd finished). */
int mit_stress_begin(mit_stress_t *st, const mit_stress_params_t *p,
		     int64_t now, mit_stress_cmd_t *cmd);

/* Advances at now with the measurements since the last reset (NULL:
 * none). Fills cmd (all false: nothing to do). */
void mit_stress_tick(mit_stress_t *st, int64_t now, const mit_hist_t *meas,
		     mit_stress_cmd_t *cmd);

/* Stops a run at once (umbra stopping): cmd restores the settings. */
void mit_stress_cancel(mit_stress_t *st, const char *why,
		       mit_stress_cmd_t *cmd);

/* How long a run of these params takes at most (for event spans). */
int64_t mit_stress_max_duration(const mit_stress_params_t *p);

#endif
