/*
 * audit.c: the in-memory audit (a ring of flattened entries) and the
 * names of record kinds. The daemon uses the SQLite store instead; this
 * one serves the unit tests, the e2e driver and commands without a store.
 */
#include "mitigate/audit.h"

#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mit_rec_kind_name(mit_rec_kind_t k)
{
	static const char *const n[] = {"finding", "decision", "action",
					"outcome"};
	return (unsigned)k < MIT_REC__COUNT ? n[k] : "?";
}

typedef struct mem {
	mit_audit_entry_t *v;
	size_t cap, n, head; /* head: where the next entry goes */
} mem_t;

static mit_audit_entry_t *slot(mem_t *m)
{
	mit_audit_entry_t *e = &m->v[m->head];
	m->head = (m->head + 1) % m->cap;
	if (m->n < m->cap)
		m->n++;
	memset(e, 0, sizeof(*e));
	return e;
}

static int mem_finding(void *ctx, const mit_rec_finding_t *r)
{
	mit_audit_entry_t *e = slot(ctx);
	e->kind = MIT_REC_FINDING;
	e->id = r->id;
	e->t_ns = r->t_ns;
	snprintf(e->subject, sizeof(e->subject), "%s/%s",
		 an_metric_name(r->finding->metric),
		 an_find_kind_name(r->finding->kind));
	snprintf(e->state, sizeof(e->state), "%.0f", r->finding->severity);
	snprintf(e->text, sizeof(e->text), "%s", r->evidence);
	return 0;
}

static int mem_decision(void *ctx, const mit_rec_decision_t *r)
{
	mit_audit_entry_t *e = slot(ctx);
	e->kind = MIT_REC_DECISION;
	e->id = r->id;
	e->ref = r->finding_id;
	e->t_ns = r->t_ns;
	snprintf(e->subject, sizeof(e->subject), "%s", r->rule);
	snprintf(e->state, sizeof(e->state), "%s", r->dry_run ? "dry_run" : "");
	snprintf(e->text, sizeof(e->text), "%s -> %s", r->condition,
		 r->actions);
	return 0;
}

static int mem_action(void *ctx, const mit_rec_action_t *r)
{
	mit_audit_entry_t *e = slot(ctx);
	e->kind = MIT_REC_ACTION;
	e->id = r->id;
	e->ref = r->decision_id;
	e->t_ns = r->t_ns;
	snprintf(e->subject, sizeof(e->subject), "%s", r->action);
	snprintf(e->state, sizeof(e->state), "%s", r->state);
	snprintf(e->text, sizeof(e->text), "%s; because %s; evidence: %s",
		 r->detail, r->reason, r->evidence);
	return 0;
}

static int mem_outcome(void *ctx, const mit_rec_outcome_t *r)
{
	mit_audit_entry_t *e = slot(ctx);
	e->kind = MIT_REC_OUTCOME;
	e->id = r->id;
	e->ref = r->action_id;
	e->t_ns = r->t_ns;
	snprintf(e->subject, sizeof(e->subject), "%s", r->action);
	snprintf(e->state, sizeof(e->state), "%s", r->result);
	snprintf(e->text, sizeof(e->text), "%s", r->detail);
	return 0;
}

static size_t mem_recent(void *ctx, unsigned kinds, mit_audit_entry_t *out,
			 size_t max)
{
	mem_t *m = ctx;
	size_t k = 0;
	for (size_t i = 0; i < m->n && k < max; i++) {
		size_t at = (m->head + m->cap - 1 - i) % m->cap;
		if (kinds & MIT_AUDIT_KIND_BIT(m->v[at].kind))
			out[k++] = m->v[at];
	}
	return k;
}

mit_audit_t mit_audit_memory_new(size_t cap)
{
	mem_t *m = xcalloc(1, sizeof(*m));
	m->cap = cap ? cap : MIT_AUDIT_MEM_DEFAULT;
	m->v = xcalloc(m->cap, sizeof(*m->v));
	return (mit_audit_t){.finding = mem_finding,
			     .decision = mem_decision,
			     .action = mem_action,
			     .outcome = mem_outcome,
			     .recent = mem_recent,
			     .ctx = m};
}

void mit_audit_memory_free(mit_audit_t *a)
{
	mem_t *m = a->ctx;
	if (!m)
		return;
	free(m->v);
	free(m);
	a->ctx = NULL;
}

size_t mit_audit_memory_all(const mit_audit_t *a, mit_audit_entry_t *out,
			    size_t max)
{
	const mem_t *m = a->ctx;
	size_t k = 0;
	for (size_t i = 0; i < m->n && k < max; i++)
		out[k++] = m->v[(m->head + m->cap - m->n + i) % m->cap];
	return k;
}
