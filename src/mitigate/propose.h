/*
 * propose.h: a candidate config tried on the shadow before production
 * gets it (`umbra propose`, POST /api/v1/proposals). One proposal at a
 * time, as a state machine driven by the daemon's tick:
 *
 *   APPLYING   the candidate directory is snapshotted (content-addressed,
 *              in <snapshots dir>/proposals), the snapshot is put in the
 *              shadow's config copy and the shadow restarts; production
 *              is untouched;
 *   SOAKING    for the soak, every tick's analysis is watched: a critical
 *              finding opened after the candidate was applied that
 *              production did not cause (its mover is not production),
 *              a deviation at MIT_PROP_FAR_FACTOR times its threshold for
 *              MIT_PROP_FAR_TICKS ticks, or an unhealthy shadow rejects
 *              it. Findings open before are evidence of kind
 *              MIT_PROP_EV_OLDER (side, age), not counted;
 *   STRESSING  optionally, a stress test of the shadow running the
 *              candidate: a capacity per replica below
 *              MIT_PROP_STRESS_MIN_SHARE of the one in use rejects it;
 *   PROMOTING  production gets the snapshot through the engine
 *              (mit_promote: atomic restore, reload or rolling restart,
 *              verification; a failed verification rolls back to the
 *              latest known-good snapshot);
 *   RESTORING  rejected, dry run or rolled back: the shadow gets its usual
 *              config back and restarts;
 *   DONE       the verdict is final.
 *
 * Every transition is audited (decision "proposal", action "propose",
 * one outcome per step) with its evidence, and noted on the timeline.
 * In dry run (mitigation.dry_run) the soak runs and the verdict says
 * what would be done, but nothing is promoted.
 *
 * The machine acts on the shadow through mit_prop_ops_t (the provisioner
 * in the daemon, fakes in tests) and on production only through the
 * engine (borrowed), whose audit it writes to. Threads: one, the daemon's
 * control thread; nothing here blocks but small file copies.
 */
#ifndef UMBRA_MITIGATE_PROPOSE_H
#define UMBRA_MITIGATE_PROPOSE_H

#include "mitigate/mitigate.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define MIT_PROP_MIN_DATA_TICKS 3    /* ticks with both sides compared a
					soak needs: a verdict on no data
					would be a guess */
#define MIT_PROP_UNHEALTHY_TICKS 3   /* ticks in a row with a shadow
					replica down: as the engine
					confirms a recovery */
#define MIT_PROP_MAX_SOAK_NS (24LL * 3600 * 1000000000LL) /* a day: longer
					is a deploy, not a proposal */
#define MIT_PROP_STRESS_MIN_SHARE 0.8 /* the candidate's capacity under
					 stress must keep 80% of the one in
					 use: the stress knee is measured
					 in doubling steps, so smaller
					 losses are within its resolution */
#define MIT_PROP_FAR_FACTOR 4.0     /* a deviation this many times its
					(effective) threshold rejects
					whatever else is true: past the
					threshold a finding opens, but it
					turns critical only once sustained,
					which a short soak may not see; at
					4x no learned A/A envelope or noise
					explains it (thresholds already sit
					above the envelope; while a metric
					warms up, the configured one) */
#define MIT_PROP_FAR_TICKS 2	    /* data ticks in a row that far over:
					one tick can be a restart's cold
					start, two in a row are behaviour */
/* A tick counts toward the streak only while its deviation is not
 * receding: one that fell by more than a tenth since the last tick is the
 * analysis's smoothing forgetting something earlier (the shadow's restart
 * on the candidate, whose refused copies are errors), not the candidate. */
#define MIT_PROP_FAR_RECEDING 0.9
#define MIT_PROP_MAX_EVIDENCE 16
#define MIT_PROP_TEXT_MAX 1024 /* one evidence sentence: a finding's
				  whole evidence (two causes, two
				  contexts) fits */

typedef enum mit_prop_state {
	MIT_PROP_NONE = 0, /* no proposal yet */
	MIT_PROP_APPLYING,
	MIT_PROP_SOAKING,
	MIT_PROP_STRESSING,
	MIT_PROP_PROMOTING,
	MIT_PROP_RESTORING,
	MIT_PROP_DONE,
} mit_prop_state_t;

typedef enum mit_prop_verdict {
	MIT_PROP_PENDING = 0,
	MIT_PROP_PROMOTED,
	MIT_PROP_REJECTED,
	MIT_PROP_WOULD_PROMOTE, /* dry run: it passed, nothing promoted */
	MIT_PROP_ROLLED_BACK,	/* promoted, failed verification, rolled
				   back to the latest known-good snapshot */
	MIT_PROP_CANCELLED,	/* umbra stopped before a verdict */
} mit_prop_verdict_t;

const char *mit_prop_state_name(mit_prop_state_t s);
const char *mit_prop_verdict_name(mit_prop_verdict_t v);

typedef enum mit_prop_ev_kind {
	MIT_PROP_EV_FINDING, /* a critical finding (the reason to reject) */
	MIT_PROP_EV_METRIC,  /* a metric's largest deviation in the soak */
	MIT_PROP_EV_HEALTH,  /* the shadow's replicas */
	MIT_PROP_EV_STRESS,  /* the stress test's result */
	MIT_PROP_EV_STEP,    /* apply, promote, verify, restore */
	MIT_PROP_EV_OLDER,   /* a finding open before the candidate was
				applied: shown, not counted */
} mit_prop_ev_kind_t;

const char *mit_prop_ev_kind_name(mit_prop_ev_kind_t k);

/* One piece of evidence. */
typedef struct mit_prop_evidence {
	mit_prop_ev_kind_t kind;
	int64_t t_ns;
	int metric;	     /* an_metric_t, -1 none */
	uint64_t finding_id; /* the engine's audit id of the finding, 0 */
	double value;	     /* deviation, capacity ...; NaN none */
	double threshold;    /* what value is judged against; NaN none */
	double severity;     /* findings: 0..100; NaN none */
	char side[16];	     /* findings: the side that moved */
	char text[MIT_PROP_TEXT_MAX];
} mit_prop_evidence_t;

/* What is asked. Strings are borrowed for the call. */
typedef struct mit_prop_request {
	const char *config_dir; /* absolute path of the candidate */
	int64_t soak_ns;	/* 0: mitigation.soak */
	bool stress;		/* a stress test after the soak */
	const char *who;	/* for the audit ("cli", a user name) */
} mit_prop_request_t;

/* A proposal as it stands (the current one or the last one). */
typedef struct mit_prop_info {
	uint64_t id; /* the audit id of its decision */
	mit_prop_state_t state;
	mit_prop_verdict_t verdict;
	char config_dir[PATH_MAX];
	char who[64];
	char snapshot[MIT_SNAP_ID_LEN + 1]; /* the candidate's */
	uint64_t files, bytes;
	int64_t soak_ns;
	bool stress, dry_run;
	int64_t started_ns, soak_started_ns, decided_ns, ended_ns;
	int data_ticks; /* ticks the soak compared both sides */
	char summary[4096]; /* the verdict and its reason, one paragraph */
	mit_prop_evidence_t evidence[MIT_PROP_MAX_EVIDENCE];
	size_t nevidence;
} mit_prop_info_t;

/* The shadow, as the machine reaches it. Each returns 0 or a negative
 * error. */
typedef struct mit_prop_ops {
	void *arg;
	/* Puts the files of dir (NULL: the shadow's usual config) in the
	 * shadow's config copy; err says why not. */
	int (*shadow_install)(void *arg, const char *dir, buf_t *err);
	/* Starts a rolling restart of the shadow: 0 started, ERR_AGAIN
	 * another restart is in progress (asked again next tick). */
	int (*shadow_restart)(void *arg);
	/* Its progress: 0 done, ERR_AGAIN rolling, another error failed
	 * (why filled). */
	int (*shadow_restart_status)(void *arg, char *why, size_t n);
	/* The shadow's replicas wanted and up. */
	int (*shadow_health)(void *arg, int *wanted, int *up);
} mit_prop_ops_t;

typedef struct mit_prop mit_prop_t;

/* A machine for cfg (borrowed) acting through eng (borrowed: the engine
 * whose audit, promotion, stress test and dry run it uses) and ops
 * (copied; arg borrowed). Returns a new machine (mit_prop_free). */
mit_prop_t *mit_prop_new(const config_t *cfg, mit_t *eng,
			 const mit_prop_ops_t *ops);

/* Starts a proposal at now: checks it, snapshots the candidate, puts it
 * in the shadow's config and asks for the shadow's restart. 0, or a
 * negative error with err set and nothing started: ERR_BADSTATE (one
 * runs already, or actions are held: HTTP 409), ERR_UNSUPPORTED (this
 * setup cannot try a candidate: no production.config_dir, a shadow with
 * its own shadow.config_dir, or not run by umbra), ERR_INVAL /
 * ERR_RANGE (the request: not an absolute directory, empty, soak out of
 * range), or the snapshot's error. */
int mit_prop_start(mit_prop_t *p, int64_t now_ns, const mit_prop_request_t *req,
		   buf_t *err);

/* The per-tick call, after mit_tick with the same analysis output
 * (borrowed; NULL when the tick had none). Notes and events are appended
 * to rep (the engine's report of this tick). */
void mit_prop_tick(mit_prop_t *p, int64_t now_ns, const an_out_t *an,
		   mit_report_t *rep);

/* Whether a proposal is in progress (not NONE, not DONE). */
bool mit_prop_busy(const mit_prop_t *p);

/* The current or last proposal; state MIT_PROP_NONE before the first. */
const mit_prop_info_t *mit_prop_info(const mit_prop_t *p);

/* Ends a proposal in progress (umbra stopping): audited as cancelled;
 * the shadow is left to the provisioner, which makes a fresh copy of
 * its usual config at the next start. Then frees. */
void mit_prop_free(mit_prop_t *p, int64_t now_ns);

#endif
