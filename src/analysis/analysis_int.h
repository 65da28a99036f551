/*
 * analysis_int.h: the analyzer's state and the functions its files share
 * (analysis.c: the tick; verdict.c: the judge; explain.c: root cause and
 * context). Not for other modules: they use analysis.h.
 */
#ifndef UMBRA_ANALYSIS_ANALYSIS_INT_H
#define UMBRA_ANALYSIS_ANALYSIS_INT_H

#include "analysis/analysis.h"
#include "analysis/anomaly.h"
#include "analysis/stats.h"

/* Verdict samples per side: the verdict window is cut into this many
 * blocks and each block's mean is one sample. Mann-Whitney assumes
 * independent samples; per-tick values of smoothed system metrics are
 * autocorrelated, and a test on them rejects far more often than alpha
 * says. Block means over a tenth of a minute or more are close to
 * independent, and 30 per side give the test its large-sample power. */
#define AN_VBLOCKS 30
#define AN_VBLOCKS_MAX 64    /* ring size; AN_VBLOCKS fits */
#define AN_VERDICT_MIN_BLOCKS 10 /* fewer samples: no verdict (NODATA) */
/* The sustained condition is judged at block ends while the smoothed
 * deviation is at least this share of its threshold. */
#define AN_SUSTAIN_GATE 0.8

/* Endpoint table slots: open addressing at most 3/4 full keeps probes
 * short. */
#define AN_EP_SLOTS 1024
_Static_assert(AN_MAX_ENDPOINTS <= AN_EP_SLOTS * 3 / 4, "endpoint table");

/* One side's numbers of one endpoint, smoothed. */
typedef struct an_ep {
	uint32_t id;
	bool used;
	char name[AN_NAME_MAX * 2];
	double share;       /* EWMA of production's share of requests */
	double cost[2], latency[2], differ;
	bool has_share, has_cost, has_latency, has_differ;
	int64_t last_tick;  /* the last tick that reported it */
} an_ep_t;

typedef struct an_ev {
	int64_t start_ns, end_ns;
	an_event_kind_t kind;
	an_side_t side;
	char text[AN_TEXT_MAX];
} an_ev_t;

/* A metric's streaming state. */
typedef struct an_mstate {
	/* deviation */
	bool started, started_b;
	double ewma;   /* smoothed signed deviation r (deviation()) */
	double ewma_b; /* the same for baseline vs production */
	double med3[3]; /* the last three raw deviations */
	double dev;    /* |ewma| */
	bool valid;    /* this tick had values on both sides */
	uint64_t nupd; /* ticks with values since the last restart */
	uint64_t nlearned; /* ticks with values ever: the warm-up's count */
	int64_t last_tick; /* the last tick with values */
	double u[2];   /* this tick's per-unit values (per request for load) */
	double scale;  /* this tick's production load scale (rps, or 1) */

	/* velocity: the last points of the raw signed deviation, oldest
	 * first */
	double vt[AN_TS_MAX_POINTS], vy[AN_TS_MAX_POINTS];
	size_t vn;
	double vel;          /* directional, 1/s */
	int64_t vhigh_tick;  /* last tick with vel over its threshold */
	double vhigh_val;    /* the highest such vel in the current run */

	/* envelope */
	an_decayhist_t env;
	double env_q; /* quantile, 0 until warm */
	uint32_t env_refresh;

	/* each side's own baseline, per unit; frozen while not quiet */
	double ref[2];
	bool ref_ok;
	/* each side's own noise: the mean |relative change from its
	 * baseline| while quiet (a running mean over the first ticks, then
	 * the baseline's EWMA) */
	double ref_noise[2];
	uint64_t ref_nq;

	/* forecast of the signed deviation, on steps of fc_step ticks */
	an_forecaster_t *fc;
	int64_t fc_step;  /* index of the step being summed */
	double fc_sum;
	uint32_t fc_n;
	uint32_t fc_fed;  /* steps given to the forecaster */
	double fc_y[AN_TS_MAX_POINTS]; /* the last step means, for the */
	double fc_t[AN_TS_MAX_POINTS]; /* Theil-Sen check of the trend */
	size_t fc_hn, fc_hhead;
	int pred_streak;
	double pred_conf, pred_lead_s, pred_target;

	/* verdict blocks (per unit values) */
	int64_t vb_idx;
	double vb_sum[2], vb_scale;
	uint32_t vb_n;
	double vb_mean[2][AN_VBLOCKS_MAX];
	double vb_scl[AN_VBLOCKS_MAX];
	size_t vb_head, vb_count;

	/* finding lifecycle */
	double thr_eff, crit_eff;
	int dev_streak, crit_streak;
	bool sustained;      /* the last block's verdict failed the metric */
	an_find_kind_t open;
	int64_t quiet;       /* consecutive ticks with nothing holding */
	bool suppressed;
	int64_t suppress_until_ns;
	an_side_t mover;
	int mover_dir;
	double change[2];

	double *hist; /* ring of ewma by tick index (NaN: no value) */
	double *rawh; /* ring of the raw (median-of-3) deviation r, the
			 sides compared directly (NaN: no value) */
} an_mstate_t;

struct an_analyzer {
	an_params_t p;
	an_sched_t *sched;

	/* derived sizes, in ticks */
	double interval_s;
	size_t vel_pts;
	int64_t clear_ticks, stale_ticks;
	uint64_t warmup_ticks; /* ticks of data before a metric is judged */
	uint32_t fc_step_ticks, fc_steps_h;
	uint32_t vb_ticks;     /* ticks per verdict block */
	size_t hist_len;
	double ref_alpha;
	double fc_z;           /* normal quantile of the interval level */

	bool started;
	int64_t t0_ns, last_ns, tick;

	an_mstate_t m[AN_METRIC__COUNT];

	/* production load forecast */
	an_forecaster_t *load_fc;
	int64_t load_step;
	double load_sum, load_now, load_forecast;
	uint32_t load_n, load_fed;

	an_ev_t ev[AN_MAX_EVENTS];
	size_t ev_head, ev_count;

	an_ep_t *ep; /* AN_EP_SLOTS slots, open addressing by id */
	size_t nep;

	double net_connect[2], net_ttfb[2];
	bool net_ok;

	const an_tick_t *cur; /* the tick being processed (borrowed) */

	/* The default anomaly detector on each side's raw values: 48 KiB
	 * per metric and side (AN_DET_MAX_STATE bounds it). */
	an_det_t *det[2][AN_METRIC__COUNT];
};

/* params.c: snprintf that may cut (findings carry bounded text, and
 * cutting a long endpoint name or event text is intended). */
void an__textf(char *dst, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* verdict.c */
void an__block_add(an_analyzer_t *a, an_mstate_t *s);
/* The verdict of metric m with the given experiment side. */
void an__metric_verdict(const an_analyzer_t *a, an_metric_t m,
			an_side_t experiment, an_metric_verdict_t *out);

/* explain.c */
void an__endpoints_update(an_analyzer_t *a, const an_tick_t *t);
void an__network_update(an_analyzer_t *a, const an_tick_t *t);
/* A one-sided deploy or config change within after_change before t, or
 * a replay going on at t: the sides are not A/A. */
bool an__recent_change(const an_analyzer_t *a, int64_t t_ns);
/* The sides with a deploy or config change within after_change before
 * t: bit 1 << AN_PROD, bit 1 << AN_SHADOW (an AN_BOTH event sets
 * neither: it weighs towards no side). */
unsigned an__recent_change_sides(const an_analyzer_t *a, int64_t t_ns);

/* analysis.c: did the sides stay alike over an event that loads both
 * (from start_ns to now)? On the raw deviation between them, in windows
 * of AN_ALIKE_WINDOW_S: false when some window's mean is over metric m's
 * effective threshold. *judged is false when no window had data. */
bool an__alike_over(const an_analyzer_t *a, an_metric_t m, int64_t start_ns,
		    bool *judged);
/* Fills f's context and causes, suppressed and attribution. */
void an__explain(an_analyzer_t *a, an_metric_t m, an_finding_t *f);
/* The scheduled task span covering t for task i: start in *start, or
 * false. */
bool an__sched_covers(const an_sched_t *s, int64_t t_ns, int64_t *start);

#endif
