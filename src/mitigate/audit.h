/*
 * audit.h: where every finding, decision, action and outcome of the
 * mitigation engine goes (DESIGN.md non-negotiable 3: explainable,
 * reversible, audited). An interface of function pointers, so that the
 * engine does not depend on the store: the SQLite store (src/metrics/)
 * implements it for the daemon, and an in-memory ring implements it here
 * for tests and for commands that run without a store.
 *
 * The chain: a finding (from the analysis) -> a decision (a rule fired,
 * with the condition and the values that made it true) -> actions (each
 * with its reason and the finding's evidence) -> outcomes (what happened:
 * done, verified, failed, skipped, held, dry run). Ids are assigned by the
 * engine, increasing; each record names the id it follows from.
 *
 * Threads: called on the engine's thread (the daemon's control thread).
 * An implementation must not block it: the store queues to its writer.
 * Strings are borrowed for the call; implementations copy what they keep.
 */
#ifndef UMBRA_MITIGATE_AUDIT_H
#define UMBRA_MITIGATE_AUDIT_H

#include "analysis/analysis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum mit_rec_kind {
	MIT_REC_FINDING = 0,
	MIT_REC_DECISION,
	MIT_REC_ACTION,
	MIT_REC_OUTCOME,
	MIT_REC__COUNT
} mit_rec_kind_t;

const char *mit_rec_kind_name(mit_rec_kind_t k);

/* A finding as the analysis raised it (opened or escalated). */
typedef struct mit_rec_finding {
	uint64_t id;
	int64_t t_ns;
	const char *service;
	const an_finding_t *finding; /* metric, kind, numbers, causes ... */
	const char *evidence;	     /* the same as one sentence */
} mit_rec_finding_t;

/* A rule fired (or the scaler decided). */
typedef struct mit_rec_decision {
	uint64_t id;
	int64_t t_ns;
	const char *service;
	const char *rule;	/* rule name, or "scaler", "stress", "verify" */
	const char *condition;	/* the condition with its values now */
	uint64_t finding_id;	/* the finding it acts on, 0 when none */
	const char *metric;	/* its metric, "" when none */
	const char *actions;	/* "rollback, scale, alert" */
	bool dry_run;
} mit_rec_decision_t;

/* One action of a decision, as taken, recommended or refused. */
typedef struct mit_rec_action {
	uint64_t id, decision_id;
	int64_t t_ns;
	const char *service;
	const char *action;   /* mit_act_name(): rollback, scale, ... */
	const char *state;    /* started, recommended (dry run), skipped, held */
	const char *detail;   /* what exactly, e.g. "restore snapshot 3f2a..." */
	const char *reason;   /* why: the rule and what made it true */
	const char *evidence; /* the finding's evidence */
} mit_rec_action_t;

/* What came of an action. */
typedef struct mit_rec_outcome {
	uint64_t id, action_id;
	int64_t t_ns;
	const char *service;
	const char *action;
	const char *result; /* ok, failed, verified, verify_failed, skipped,
			       held, dry_run, released */
	const char *detail;
} mit_rec_outcome_t;

/* A snapshot of production's config taken (new content) or marked
 * known-good (good_ns set), for a store that keeps snapshot metadata. */
typedef struct mit_rec_snapshot {
	int64_t t_ns;
	const char *service;
	const char *id;	      /* content hash (hex) */
	const char *reason;   /* why it was taken */
	const char *manifest; /* the manifest file's path in the store */
	uint64_t nfiles, bytes;
	int64_t taken_ns, good_ns; /* good_ns 0: not known-good */
} mit_rec_snapshot_t;

/* One record of any kind, flattened for listing. Text fields are cut to
 * their size. */
typedef struct mit_audit_entry {
	mit_rec_kind_t kind;
	uint64_t id, ref; /* ref: the record it follows from, 0 none */
	int64_t t_ns;
	char subject[64]; /* finding: metric/kind; decision: rule; action and
			     outcome: the action name */
	char state[24];	  /* finding: severity; decision: "dry_run" or "";
			     action: its state; outcome: its result */
	char text[768];	  /* evidence, condition, detail + reason, detail */
} mit_audit_entry_t;

#define MIT_AUDIT_KIND_BIT(k) (1u << (k))
#define MIT_AUDIT_ALL 0xfu

/* The interface. Each record function returns 0 or a negative error
 * (the engine logs a failure and goes on: an audit outage must not stop
 * mitigation, and it is reported). recent() fills out with up to max
 * entries of the kinds in the mask, newest first, and returns how many. */
typedef struct mit_audit {
	int (*finding)(void *ctx, const mit_rec_finding_t *r);
	int (*decision)(void *ctx, const mit_rec_decision_t *r);
	int (*action)(void *ctx, const mit_rec_action_t *r);
	int (*outcome)(void *ctx, const mit_rec_outcome_t *r);
	size_t (*recent)(void *ctx, unsigned kinds, mit_audit_entry_t *out,
			 size_t max);
	/* Optional (NULL: not kept): snapshots taken and marked good. */
	int (*snapshot)(void *ctx, const mit_rec_snapshot_t *r);
	/* Optional: waits until every record so far is durable (a
	 * recovered transaction's outcome, before its journal goes). */
	int (*flush)(void *ctx);
	void *ctx;
} mit_audit_t;

/* ------------------------------------------------------------ in memory */

#define MIT_AUDIT_MEM_DEFAULT 4096 /* entries kept; a day of a busy loop */

/* An in-memory audit keeping the last cap entries (0: the default).
 * Returns a new implementation; free it with mit_audit_memory_free. */
mit_audit_t mit_audit_memory_new(size_t cap);
void mit_audit_memory_free(mit_audit_t *a);

/* Entries of an in-memory audit in the order recorded, oldest first
 * (tests). Returns the count copied. */
size_t mit_audit_memory_all(const mit_audit_t *a, mit_audit_entry_t *out,
			    size_t max);

#endif
