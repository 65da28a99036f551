/*
 * run_int.h: the daemon's state, shared by its files:
 *
 *   run.c       the command: setup, signals, replica and drift hooks,
 *               teardown
 *   run_tick.c  the tick: collect -> record -> analyse -> decide, act
 *   run_audit.c the mitigation engine's audit on the store
 *   run_api.c   what the admin API shows: status, /metrics, charts,
 *               posted events, hold release, stress on demand
 *   run_propose.c  proposals: a candidate config on the shadow first
 *
 * Everything here runs on the control thread's event loop; the proxy's
 * workers are reached only through the proxy's API (rings, atomics).
 */
#ifndef UMBRA_CMD_RUN_INT_H
#define UMBRA_CMD_RUN_INT_H

#include "analysis/analysis.h"
#include "api/api.h"
#include "cmd/cmd.h"
#include "cmd/mitigate_ops.h"
#include "metrics/agg.h"
#include "metrics/metrics.h"
#include "metrics/record.h"
#include "metrics/series.h"
#include "metrics/store.h"
#include "mitigate/mitigate.h"
#include "mitigate/propose.h"
#include "provision/drift.h"
#include "provision/provision.h"
#include "proxy/proxy.h"

#include <event2/event.h>

#define RUN_DRAIN_EVERY_MS 200 /* rings hold 64Ki records per worker */
#define RUN_MAX_DRIFT 32       /* drifting files the analysis is told of */
#define RUN_RECORDS 4096       /* request records taken per ring pass */

#define RUN_NOTES 256          /* the timeline the API shows */

typedef struct run_audit run_audit_t;

/* One entry of the engine's timeline (mit_note_t), numbered. */
typedef struct run_note {
	uint64_t seq;
	int64_t t_ns;
	mit_note_t note;
} run_note_t;

typedef struct run {
	const cmd_entry_t *cmd;
	config_t *cfg;
	struct event_base *base;
	struct event *ev_term, *ev_int, *ev_hup;
	struct event *ev_fatal; /* production gave up: stop, exit 1 */
	struct event *ev_drain, *ev_tick;
	int signals; /* stop signals received */
	int exit_code;
	int64_t started_ns;
	/* the decision clock: monotonic, anchored to the wall at start */
	int64_t clk_wall0, clk_mono0;
	char an_err[128]; /* the analysis' last refusal, logged once */

	prov_t *prov;
	prov_drift_t *drift;
	proxy_t *px;
	struct cap_masker *tap_masker; /* the capture tap's, NULL none */
	bool px_drained; /* stopping: no more pool updates */
	store_t *store;
	metrics_agg_t *agg;
	metrics_src_t *src;
	series_set_t win;
	metrics_recorder_t *rec;
	an_analyzer_t *an;
	an_sched_t *sched;
	an_out_t *out;
	reqrec_t *recs; /* RUN_RECORDS, the drain's buffer */
	api_t *api;

	/* decide and act */
	cmd_mit_live_t mlive; /* the engine's actuators (mitigate_ops.h) */
	run_audit_t *audit;
	mit_audit_t audit_if;
	mit_t *mit;
	mit_report_t report;
	run_note_t notes[RUN_NOTES]; /* a ring: seq - 1 mod RUN_NOTES */
	uint64_t nnotes_total;
	/* proposals (run_propose.c), and the shadow's restart for them */
	mit_prop_t *prop;
	struct {
		bool rolling, ok;
		char why[256];
	} sroll;

	/* replicas in the proxy's pools and measured, by side and index */
	addr_t live[PROV_SIDES][PROV_MAX_REPLICAS];
	pid_t pid[PROV_SIDES][PROV_MAX_REPLICAS];
	bool is_up[PROV_SIDES][PROV_MAX_REPLICAS];
	/* the last tick */
	metrics_sample_t sample[METRICS_SIDES];
	bool have_sample[METRICS_SIDES];
	uint64_t ticks, findings;
	/* the current drift, for the analysis (file, keys) */
	char *drift_file[RUN_MAX_DRIFT], *drift_keys[RUN_MAX_DRIFT];
	size_t ndrift;
} run_t;

/* run_tick.c */
/* The decision clock (analysis, engine, proposals): the wall clock at
 * start plus monotonic time since. It never goes back and ignores steps
 * of the wall clock; stored and shown times are wall times. */
int64_t run__now(const run_t *r);
/* A wall time on the decision clock (as it is now). */
int64_t run__decision_time(const run_t *r, int64_t wall_ns);
int run__tick_setup(run_t *r, buf_t *err);
void run__tick_teardown(run_t *r);
/* Re-points the collectors at the live replicas of side. */
void run__targets(run_t *r, prov_side_t side);
/* An event for the store and the analysis (drift, API, deploys); its
 * times are wall times (the analysis gets them on its clock). */
int run__event(run_t *r, const store_event_t *ev);

/* run_tick.c: before production starts (the store open): finishes or
 * undoes a restore a crash interrupted (mit_recover), audited. */
int run__recover(run_t *r, buf_t *err);
/* run_tick.c: the mitigation engine, once production is provisioned. */
int run__mitigate_setup(run_t *r, buf_t *err);
void run__mitigate_teardown(run_t *r);

/* run_audit.c: the engine's audit on st (borrowed); *out is the
 * interface to give mit_new. Free with run_audit_free. */
run_audit_t *run_audit_new(store_t *st, mit_audit_t *out);
void run_audit_free(run_audit_t *a);

/* run_api.c */
int run__api_setup(run_t *r, buf_t *err);

/* run_propose.c: proposals, after the engine is set up; their tick
 * after the engine's (r->out, r->report); the API's /proposals route
 * (0: not that route); freed before the engine. */
int run__propose_setup(run_t *r);
void run__propose_tick(run_t *r, int64_t now);
int run__propose_route(run_t *r, bool post, const char *path, json_t *body,
		       json_t **reply);
void run__propose_teardown(run_t *r);
/* A proposal as the API shows it. New reference. */
json_t *run__proposal_json(const mit_prop_info_t *i);

#endif
