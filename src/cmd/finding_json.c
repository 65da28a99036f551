/*
 * finding_json.c: a finding as JSON, the one shape `umbra analyze`
 * prints, the daemon stores as evidence and the API serves.
 */
#include "cmd/analysis_config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

/* ISO 8601 UTC, milliseconds when not whole seconds. */
void cmd_fmt_time(int64_t ns, char *out, size_t n)
{
	time_t s = (time_t)(ns / 1000000000LL);
	int64_t ms = (ns % 1000000000LL) / 1000000;
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms)
		snprintf(out + k, n - k, ".%03dZ", (int)ms);
	else
		snprintf(out + k, n - k, "Z");
}

static json_t *jreal(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static json_t *jtime(int64_t ns)
{
	char b[40];
	cmd_fmt_time(ns, b, sizeof(b));
	return json_string(b);
}

static json_t *verdict_json(const an_finding_t *f)
{
	const an_verdict_t *v = &f->verdict;
	const an_metric_verdict_t *mv = &v->metric[f->metric];
	json_t *m = json_pack("{s:s, s:i}", "result", an_vresult_name(mv->result),
			      "samples", (json_int_t)mv->n);
	if (mv->result != AN_V_NODATA) {
		json_object_set_new(m, "p_value", jreal(mv->p_value));
		json_object_set_new(m, "shift", jreal(mv->shift));
		json_object_set_new(m, "ci", json_pack("[o, o]", jreal(mv->lo),
						       jreal(mv->hi)));
	}
	json_t *groups = json_object();
	for (size_t g = 0; g < v->ngroups; g++)
		json_object_set_new(groups, v->group[g].name,
				    jreal(v->group[g].score));
	return json_pack("{s:s, s:o, s:s, s:b, s:o, s:o}", "result",
			 an_verdict_result_name(v->result), "score",
			 v->result == AN_VERDICT_NODATA ? json_null()
							: jreal(v->score),
			 "experiment", an_side_name(v->experiment),
			 "critical_failed", v->critical_failed, "groups", groups,
			 "metric", m);
}

json_t *cmd_finding_json(const an_finding_t *f)
{
	json_t *causes = json_array();
	for (size_t i = 0; i < f->ncauses; i++) {
		const an_cause_t *c = &f->cause[i];
		json_array_append_new(
			causes, json_pack("{s:s, s:s, s:o, s:s}", "kind",
					  an_cause_kind_name(c->kind), "subject",
					  c->subject, "score", jreal(c->score),
					  "evidence", c->evidence));
	}
	json_t *ctx = json_array();
	for (size_t i = 0; i < f->ncontext; i++) {
		const an_context_t *c = &f->context[i];
		bool drift = c->drift;
		json_t *o = json_pack(
			"{s:s, s:s, s:s, s:b, s:b, s:s}", "type",
			drift ? "drift" : an_event_kind_name(c->kind), "name",
			c->name, "side", an_side_name(c->side), "attributed",
			c->attributed, "explains", c->explains, "text", c->text);
		if (!drift) {
			json_object_set_new(o, "start", jtime(c->start_ns));
			json_object_set_new(o, "end", jtime(c->end_ns));
		}
		json_array_append_new(ctx, o);
	}
	json_t *o = json_pack(
		"{s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:o, s:o}", "time",
		jtime(f->t_ns), "metric", an_metric_name(f->metric), "kind",
		an_find_kind_name(f->kind), "deviation", jreal(f->deviation),
		"velocity", jreal(f->velocity), "threshold", jreal(f->threshold),
		"severity", jreal(f->severity), "predicted", f->predicted,
		"lead_s", f->predicted ? jreal(f->lead_s) : json_null(),
		"confidence", f->predicted ? jreal(f->confidence) : json_null());
	json_object_set_new(o, "onset", jtime(f->onset_ns));
	json_object_set_new(o, "mover", json_string(an_side_name(f->mover)));
	json_object_set_new(o, "change",
			    json_pack("{s:o, s:o}", "production",
				      jreal(f->change[AN_PROD]), "shadow",
				      jreal(f->change[AN_SHADOW])));
	json_object_set_new(o, "suppressed", json_boolean(f->suppressed));
	json_object_set_new(o, "verdict", verdict_json(f));
	json_object_set_new(o, "root_cause", causes);
	json_object_set_new(o, "context", ctx);
	json_object_set_new(o, "action", json_string(an_action_name(f->action)));
	json_object_set_new(o, "reason", json_string(f->reason));
	json_object_set_new(o, "load_forecast", jreal(f->load_forecast));
	return o;
}

