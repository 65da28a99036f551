/*
 * run_audit.c: the mitigation engine's audit (mitigate/audit.h) on the
 * daemon's SQLite store. Findings go to the findings table (the evidence
 * sentence as summary, the full finding as JSON); decisions, actions and
 * outcomes go to the actions table, one row each, told apart by
 * detail.record ("decision", "action", "outcome") and chained by ids:
 * every row names the store id of the finding it follows from, and its
 * detail names the engine ids of the records before it. Snapshots go to
 * the snapshots table. An in-memory ring beside it answers recent().
 *
 * The engine's ids and the store's differ (the store's are assigned when
 * a record is queued); a small ring maps the one to the other, enough
 * for the chain of a tick (a decision, its actions, their outcomes)
 * and outcomes that come minutes later (verification).
 *
 * Ownership: run_audit_new returns memory the caller frees with
 * run_audit_free; the store is borrowed and outlives it.
 */
#include "cmd/analysis_config.h"
#include "cmd/run_int.h"

#include "base/xmalloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define RUN_AUDIT_MAP 512 /* engine ids remembered, all kinds */

typedef struct idmap {
	uint64_t mit;	 /* the engine's id, 0 = free */
	int64_t finding; /* the store id of the finding it follows from */
} idmap_t;

struct run_audit {
	store_t *st;
	mit_audit_t mem;
	idmap_t map[RUN_AUDIT_MAP];
};

static void map_put(run_audit_t *a, uint64_t mit, int64_t finding)
{
	idmap_t *e = &a->map[mit % RUN_AUDIT_MAP];
	e->mit = mit;
	e->finding = finding;
}

/* The store id of the finding behind engine record mit; 0 unknown. */
static int64_t map_get(const run_audit_t *a, uint64_t mit)
{
	const idmap_t *e = &a->map[mit % RUN_AUDIT_MAP];
	return mit && e->mit == mit ? e->finding : 0;
}

static const char *severity_name(double s)
{
	return s >= 80 ? "critical" : s >= 50 ? "high" : s >= 20 ? "medium"
								  : "low";
}

static int au_finding(void *ctx, const mit_rec_finding_t *r)
{
	run_audit_t *a = ctx;
	a->mem.finding(a->mem.ctx, r);
	if (!a->st)
		return 0;
	json_t *j = cmd_finding_json(r->finding);
	json_object_set_new(j, "audit_id", json_integer((json_int_t)r->id));
	char *ev = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(j);
	store_finding_t sf = {0,
			      r->t_ns,
			      r->service,
			      an_metric_name(r->finding->metric),
			      severity_name(r->finding->severity),
			      r->evidence,
			      ev};
	int64_t id = 0;
	int rc = store_finding_add(a->st, &sf, &id);
	free(ev);
	map_put(a, r->id, rc == 0 ? id : 0);
	return rc;
}

/* One actions row; detail is a JSON object (stolen). */
static int add_row(run_audit_t *a, int64_t t_ns, const char *service,
		   const char *kind, const char *reason, const char *outcome,
		   int64_t finding, bool dry_run, json_t *detail)
{
	if (!a->st) {
		json_decref(detail);
		return 0;
	}
	char *d = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	store_action_t sa = {0,	 t_ns,	  service, kind,   reason,
			     outcome, d ? d : "{}", finding, dry_run};
	int rc = store_action_add(a->st, &sa, NULL);
	free(d);
	return rc;
}

static int au_decision(void *ctx, const mit_rec_decision_t *r)
{
	run_audit_t *a = ctx;
	a->mem.decision(a->mem.ctx, r);
	int64_t f = map_get(a, r->finding_id);
	map_put(a, r->id, f);
	char reason[1024];
	snprintf(reason, sizeof(reason), "rule %s: %s", r->rule, r->condition);
	return add_row(a, r->t_ns, r->service, "decision", reason,
		       r->dry_run ? "dry_run" : "decided", f, r->dry_run,
		       json_pack("{s:s,s:I,s:I,s:s,s:s,s:s}", "record",
				 "decision", "id", (json_int_t)r->id,
				 "finding_audit_id", (json_int_t)r->finding_id,
				 "rule", r->rule, "metric", r->metric,
				 "actions", r->actions));
}

static int au_action(void *ctx, const mit_rec_action_t *r)
{
	run_audit_t *a = ctx;
	a->mem.action(a->mem.ctx, r);
	int64_t f = map_get(a, r->decision_id);
	map_put(a, r->id, f);
	return add_row(a, r->t_ns, r->service, r->action, r->reason, r->state,
		       f, !strcmp(r->state, "recommended"),
		       json_pack("{s:s,s:I,s:I,s:s,s:s}", "record", "action",
				 "id", (json_int_t)r->id, "decision",
				 (json_int_t)r->decision_id, "detail",
				 r->detail, "evidence", r->evidence));
}

static int au_outcome(void *ctx, const mit_rec_outcome_t *r)
{
	run_audit_t *a = ctx;
	a->mem.outcome(a->mem.ctx, r);
	int64_t f = map_get(a, r->action_id);
	return add_row(a, r->t_ns, r->service, r->action, "", r->result, f,
		       !strcmp(r->result, "dry_run"),
		       json_pack("{s:s,s:I,s:I,s:s}", "record", "outcome", "id",
				 (json_int_t)r->id, "action",
				 (json_int_t)r->action_id, "detail", r->detail));
}

static size_t au_recent(void *ctx, unsigned kinds, mit_audit_entry_t *out,
			size_t max)
{
	run_audit_t *a = ctx;
	return a->mem.recent(a->mem.ctx, kinds, out, max);
}

static int au_snapshot(void *ctx, const mit_rec_snapshot_t *r)
{
	run_audit_t *a = ctx;
	if (!a->st)
		return 0;
	json_t *m = json_pack("{s:s,s:I,s:I}", "path",
			      r->manifest ? r->manifest : "", "files",
			      (json_int_t)r->nfiles, "bytes",
			      (json_int_t)r->bytes);
	char *ms = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	store_snapshot_t s = {r->id, r->service, ms, r->reason, r->taken_ns,
			      r->good_ns};
	int rc = store_snapshot_put(a->st, &s);
	free(ms);
	if (rc == 0 && r->good_ns)
		rc = store_snapshot_mark_good(a->st, r->id, r->good_ns);
	return rc;
}

static int au_flush(void *ctx)
{
	run_audit_t *a = ctx;
	return a->st ? store_flush(a->st) : 0;
}

run_audit_t *run_audit_new(store_t *st, mit_audit_t *out)
{
	run_audit_t *a = xcalloc(1, sizeof(*a));
	a->st = st;
	a->mem = mit_audit_memory_new(0);
	*out = (mit_audit_t){.finding = au_finding,
			     .decision = au_decision,
			     .action = au_action,
			     .outcome = au_outcome,
			     .recent = au_recent,
			     .snapshot = au_snapshot,
			     .flush = au_flush,
			     .ctx = a};
	return a;
}

void run_audit_free(run_audit_t *a)
{
	if (!a)
		return;
	mit_audit_memory_free(&a->mem);
	free(a);
}
