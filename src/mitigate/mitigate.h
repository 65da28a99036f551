/*
 * mitigate.h: decide and act, the last step of the daemon's tick
 * (collect -> analyse -> decide -> act). Per tick the engine takes the
 * analysis's output, evaluates the policy (policy.h), and acts within
 * its limits (cooldowns, the hourly cap, dry run, holds):
 *
 *   rollback  restore the latest known-good snapshot of production's
 *             config (snapshot.h), then reload (command or signal) or a
 *             rolling restart; verify health and recovery within
 *             mitigation.verify, or alert critical and hold;
 *   scale     production replicas: preemptive on a trusted load forecast,
 *             reactive otherwise (scale.h), plus an external hook;
 *   stress    a stress test of the shadow (stress.h) that learns the
 *             capacity per replica the scaler uses;
 *   alert     Alertmanager, webhook, log (alert.h);
 *   hold      no automatic action until a person releases the service;
 *   promote   a proposal's candidate (propose.h) that passed on the
 *             shadow: restored into production, applied and verified
 *             like a rollback; a failed one rolls back to known-good.
 *
 * Every finding, decision, action and outcome goes to the audit
 * (audit.h) with its reason and the finding's evidence. In dry run every
 * action is a logged, audited recommendation and nothing is done (no
 * files, no signals, no scaling, no alerts sent).
 *
 * The engine acts on the world through mit_ops_t (the provisioner and the
 * proxy in the daemon: src/cmd/mitigate_ops.h; fakes in tests), and
 * through files (snapshots, restores) and child processes (reload
 * command, scale hook) itself.
 *
 * Threads: every call on one thread (the daemon's control thread). The
 * engine never blocks it: commands are polled, alerts are sent by their
 * own thread, snapshots hash a config directory (bounded, small).
 */
#ifndef UMBRA_MITIGATE_MITIGATE_H
#define UMBRA_MITIGATE_MITIGATE_H

#include "analysis/analysis.h"
#include "base/buf.h"
#include "base/reqrec.h"
#include "config/config.h"
#include "mitigate/audit.h"
#include "mitigate/policy.h"
#include "mitigate/snapshot.h"
#include "mitigate/stress.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ actuators */

/* How the engine reaches production, the shadow and the proxy. Every
 * function may be NULL (the engine then says the action is unsupported
 * here); each returns 0 or a negative error (ERR_UNSUPPORTED: not in
 * this setup, e.g. production not run by umbra). */
typedef struct mit_ops {
	void *arg;
	/* Production's replicas: how many are wanted and how many are up.
	 * ERR_UNSUPPORTED when umbra cannot tell (not run, not attached). */
	int (*production_health)(void *arg, int *wanted, int *up);
	/* Sends sig to production's processes (reload by signal). */
	int (*signal_production)(void *arg, int sig);
	/* Starts a rolling restart of production (one replica at a time). */
	int (*rolling_restart)(void *arg);
	/* Its progress: 0 done, ERR_AGAIN rolling, another error failed
	 * (why filled). */
	int (*restart_status)(void *arg, char *why, size_t n);
	/* Sets production's replica count. */
	int (*set_replicas)(void *arg, int n);
	/* The mirror amplification k (stress). */
	int (*set_amplification)(void *arg, unsigned k);
	/* The shadow's limits squeezed to shares of normal (stress). */
	int (*squeeze_shadow)(void *arg, double cpu_share, double mem_share);
	/* The shadow's normal limits (totals) and replica count. */
	int (*shadow_limits)(void *arg, double *cpu, uint64_t *mem,
			     int *replicas);
	/* Mirror copies dropped for a full queue since start. */
	uint64_t (*mirror_dropped)(void *arg);
} mit_ops_t;

/* ------------------------------------------------------------ the tick */

typedef struct mit_input {
	/* The tick's time on the decision clock (an_tick_t.t_ns): it never
	 * goes back (the daemon's is monotonic, anchored to the wall clock
	 * at start). Cooldowns, soaks, deadlines, repeats use it. */
	int64_t t_ns;
	const an_out_t *an; /* this tick's analysis; NULL when none */
	double prod_rps;    /* production's requests/s now; NaN unknown */
	/* The wall clock now, for the times of audit records; 0: t_ns.
	 * A step of the wall clock moves records, never decisions. */
	int64_t wall_ns;
} mit_input_t;

/* What happened this tick, for a timeline (`make demo`) and the API. */
typedef enum mit_note_kind {
	MIT_NOTE_FINDING,
	MIT_NOTE_DECISION,
	MIT_NOTE_ACTION,
	MIT_NOTE_OUTCOME,
	MIT_NOTE_ALERT,
	MIT_NOTE_SNAPSHOT,
	MIT_NOTE_STRESS,
	MIT_NOTE_SCALE,
	MIT_NOTE_PROPOSAL,
} mit_note_kind_t;

const char *mit_note_kind_name(mit_note_kind_t k);

typedef struct mit_note {
	mit_note_kind_t kind;
	char text[320];
} mit_note_t;

/* Something the analyzer should know (an_analyzer_event): a rollback is
 * a configuration change on production, a stress test a scheduled task
 * on the shadow. text points into the report. */
typedef struct mit_event_out {
	an_event_kind_t kind;
	an_side_t side;
	int64_t start_ns, end_ns;
	char text[AN_TEXT_MAX];
} mit_event_out_t;

#define MIT_MAX_NOTES 32 /* per tick; more are counted in dropped */
#define MIT_MAX_EVENTS 4

typedef struct mit_report {
	mit_note_t note[MIT_MAX_NOTES];
	size_t nnotes, dropped;
	mit_event_out_t event[MIT_MAX_EVENTS];
	size_t nevents;
	/* Findings the engine closed this tick (bit m: metric m), after a
	 * verified rollback brought their metrics back: the caller closes
	 * them in the analysis too (an_analyzer_close), so that they do not
	 * linger for its hysteresis. */
	uint32_t closed;
} mit_report_t;

/* ------------------------------------------------------------ status */

typedef struct mit_status {
	bool dry_run;
	bool held;
	char hold_reason[256];
	bool verifying;	       /* a rollback is being verified */
	char verify_metric[32];
	int64_t verify_deadline_ns;
	bool snapshots;	       /* production has a config_dir */
	char current[MIT_SNAP_ID_LEN + 1];
	char known_good[MIT_SNAP_ID_LEN + 1]; /* "" none */
	int64_t known_good_ns;	/* since when (decision clock); 0 none */
	int64_t now_ns;		/* the last tick's decision time */
	/* per metric: the kind of its open finding (suppressed ones are
	 * AN_FIND_NONE), and whether a deliberate test made it */
	an_find_kind_t open_kind[AN_METRIC__COUNT];
	bool open_test[AN_METRIC__COUNT];
	int64_t clean_since_ns;	/* no critical finding since */
	int replicas_desired;	/* the scaler's last decision, 0 none */
	bool forecast_trusted;
	double capacity;	/* req/s per replica in use; 0 unknown */
	mit_stress_state_t stress;
	int actions_last_hour;
	uint64_t decisions, actions, audit_errors;
	size_t alerts_firing;
} mit_status_t;

/* ------------------------------------------------------------ engine */

typedef struct mit mit_t;

/* A new engine for cfg (borrowed: must outlive it). ops is copied (its
 * arg borrowed); audit is borrowed (NULL: an in-memory one the engine
 * owns). Builds the policy (the config's rules, or the default policy),
 * the scaler and the alerter; touches no file yet. 0 or a negative error
 * with err set. */
int mit_new(const config_t *cfg, const mit_ops_t *ops, const mit_audit_t *audit,
	    mit_t **out, buf_t *err);

/* At start, before production starts or anything reads its files:
 * finishes or undoes a restore transaction (rollback, promotion) that a
 * crash interrupted (mitigate/txn.h), audits which (an outcome of its
 * action: "finished" or "undone"; audit may be NULL) and removes umbra's
 * leftover staging files. 0 (also when there was nothing), or an error
 * with err set (an unreadable journal: a person decides). */
int mit_recover(const config_t *cfg, const mit_audit_t *audit, buf_t *err);

/* Opens the snapshot store (mitigation.snapshots.dir), takes the start
 * snapshot of production's config_dir, and reads a hold left by an
 * earlier run. Call once, after production is provisioned. 0 or a
 * negative error with err set (an unreadable config dir, an unwritable
 * store). Without production.config_dir, snapshots and rollback are off
 * (logged) and this returns 0. */
int mit_start(mit_t *m, int64_t now_ns, buf_t *err);

/* The per-tick call: decide and act. in->an may carry findings (opened
 * or escalated), resolved bits and the metric views. out is filled
 * (overwritten) with what happened. Never blocks. */
void mit_tick(mit_t *m, const mit_input_t *in, mit_report_t *out);

/* Request records drained from the proxy this tick (borrowed): the
 * shadow's feed a running stress test. Cheap when none runs. */
void mit_observe(mit_t *m, const reqrec_t *recs, size_t n);

/* Production's config files may have changed (the drift watcher's
 * on_change for production, a deploy marker): snapshotted at the next
 * tick if they did, once for every report since the last tick (a change
 * of n files is n reports). The engine also checks every
 * drift.interval on its own. */
void mit_config_changed(mit_t *m, int64_t now_ns, const char *why);

/* Routine snapshots (a reported change, the periodic check) are taken
 * on the engine's worker thread, queued at the end of a tick and their
 * result taken in at a later one. This waits for the one in flight and
 * takes its result in now (its notes go to the next report): for
 * tests, which step time instead of waiting. */
void mit_settle(mit_t *m);

/* A person acted: automatic actions resume. who and note go to the
 * audit. 0, or ERR_BADSTATE when nothing was held. */
int mit_release(mit_t *m, int64_t now_ns, const char *who, const char *note);

/* Starts a stress test now (API, CLI). 0, ERR_BADSTATE (one runs, or held),
 * or ERR_INVAL (no lever can run: why in err). */
int mit_stress_start(mit_t *m, int64_t now_ns, const char *why, buf_t *err);
/* The last stress run (state, points, results); NULL before the first. */
const mit_stress_t *mit_stress_last(const mit_t *m);

/* ------------------------------------------------------------ proposals */
/* What a proposal (propose.h) needs of the engine. */

/* While on, the shadow runs a candidate config under test: its findings
 * (the shadow moved) are the proposal's evidence, so no rule fires on
 * them, and a stress test's capacity is not given to the scaler (it
 * measured the candidate, not production's config). */
void mit_shadow_test(mit_t *m, bool on);

/* Promotes snapshot id of store from (borrowed for the call) to
 * production: audited as a
 * decision "proposal" with reason and evidence, then the files are
 * restored into production.config_dir (atomically, as a rollback does),
 * production's config is snapshotted, and the configured reload or
 * rolling restart applies it. It is verified as a rollback is: within
 * mitigation.verify, MIT_VERIFY_TICKS ticks in a row with production
 * healthy and no critical finding open. If it is not, the engine rolls
 * back to the latest known-good snapshot (a "verify" decision, through
 * the rollback path; held when that cannot start). 0 when started;
 * ERR_BADSTATE (held, dry run, a rollback or promotion in progress),
 * ERR_UNSUPPORTED (no config_dir, no way to apply), or the restore's
 * error; err says why. Nothing is changed on error, except a failed
 * apply after the files were written, which rolls back as above. Notes
 * and events are appended to rep (NULL: none), as mit_tick's are. */
int mit_promote(mit_t *m, int64_t now_ns, const mit_snaps_t *from,
		const char *id, const char *reason, const char *evidence,
		mit_report_t *rep, buf_t *err);

/* The last promotion: ERR_AGAIN while applying or verifying, 0 verified,
 * ERR_BADSTATE failed (why says how, and whether the rollback started),
 * ERR_NOTFOUND when none was started. */
int mit_promote_status(const mit_t *m, char *why, size_t n);

/* A fresh audit record id (ids are the engine's: one sequence). */
uint64_t mit_next_id(mit_t *m);

/* The audit id of the finding open on metric k, 0 when none. */
uint64_t mit_finding_id(const mit_t *m, an_metric_t k);

/* The finding open on metric k as last emitted (borrowed until the next
 * mit_tick), NULL when none; *opened_ns (when not NULL) gets the tick it
 * opened at, which escalations keep. */
const an_finding_t *mit_open_finding(const mit_t *m, an_metric_t k,
				     int64_t *opened_ns);

/* Whether automatic actions are held, and whether this is a dry run. */
bool mit_held(const mit_t *m);
bool mit_dry_run(const mit_t *m);

void mit_status(const mit_t *m, mit_status_t *out);
/* The audit the engine writes to (the one given, or its own). */
const mit_audit_t *mit_audit(const mit_t *m);

/* Ends a running stress test (settings restored), waits up to 2 s for
 * queued alerts, kills commands still running, and frees. */
void mit_free(mit_t *m);

/* ------------------------------------------------------------ helpers */

/* A finding as one sentence of evidence (metric, kind, numbers, the
 * side that moved, the top causes, context). Into out (size bytes). */
void mit_finding_evidence(const an_finding_t *f, char *out, size_t size);
/* The same, whole, appended to out (never cut: the audit and the store
 * keep it all; the fixed-size form ends a cut one with "..."). */
void mit_finding_evidence_buf(const an_finding_t *f, buf_t *out);

/* production.validate (validate.c) */
#define MIT_VALIDATE_TIMEOUT_NS (10LL * 1000000000LL) /* a syntax check
		takes milliseconds; it blocks the control thread, so a hung
		one is killed and counts as failed */
/* Whether production.validate is set. */
bool mit_validate_set(const config_t *c);
/* Runs production.validate with {config_dir} = dir (what names it in
 * messages: "the candidate", "rollback target ..."): 0 when it passes or
 * none is set, ERR_INVAL with err holding the tool's own output when it
 * fails, cannot start or hangs. Blocks up to MIT_VALIDATE_TIMEOUT_NS. */
int mit_validate(const config_t *c, const char *dir, const char *what,
		 buf_t *err);

/* The snapshot directory cfg uses: mitigation.snapshots.dir, or
 * "snapshots" beside store.path. New string. */
char *mit_snapshot_dir(const config_t *cfg);

#endif
