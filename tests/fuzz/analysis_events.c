/*
 * analysis_events.c: fuzz target for the offline analysis' events file
 * parser. Invariants: a rejection leaves the output empty and names a
 * reason and a position inside the input; an accepted event has a known
 * type and side, an end not before its start, and a description within
 * its bound; parsing is deterministic; an accepted event is accepted by
 * the analyzer too.
 */
#include "analysis/csv.h"
#include "base/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t count_lines(const uint8_t *d, size_t n)
{
	size_t lines = 1;
	for (size_t i = 0; i < n; i++)
		lines += d[i] == '\n';
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	an_csv_events_t ev, again;
	an_csv_err_t e, e2;
	int rc = an_csv_events_parse((const char *)data, size, &ev, &e);
	int rc2 = an_csv_events_parse((const char *)data, size, &again, &e2);
	if (rc != rc2)
		abort();
	if (rc) {
		if (ev.n || ev.v || !e.why || !e.why[0] || e.line < 1 ||
		    (size_t)e.line > count_lines(data, size) || e.col < 1 ||
		    e.line != e2.line || e.col != e2.col)
			abort();
		return 0;
	}
	an_params_t p;
	an_params_default(&p);
	an_analyzer_t *a;
	if (an_analyzer_init(&a, &p, NULL))
		abort();
	if (ev.n != again.n)
		abort();
	for (size_t i = 0; i < ev.n; i++) {
		const an_event_t *x = &ev.v[i].ev;
		if (x->end_ns < x->start_ns || (unsigned)x->kind >= AN_EV__COUNT ||
		    (x->side != AN_PROD && x->side != AN_SHADOW &&
		     x->side != AN_BOTH) ||
		    !x->text || strlen(x->text) >= AN_TEXT_MAX ||
		    ev.v[i].line < 2 || strcmp(x->text, again.v[i].ev.text) ||
		    x->start_ns != again.v[i].ev.start_ns)
			abort();
		if (an_analyzer_event(a, x))
			abort();
	}
	an_analyzer_free(a);
	an_csv_events_free(&ev);
	an_csv_events_free(&again);
	return 0;
}
