/*
 * analysis_csv.c: fuzz target for the offline analysis' metric file
 * parser, and for the offline loop behind it. Invariants: a rejection
 * leaves the output empty and names a reason and a position inside the
 * input; an accepted file has only finite values, in-range timestamps and
 * unique, non-empty names that the points refer to; parsing is
 * deterministic; and an accepted file small enough to run is analysed
 * (as both production and shadow) to the end or refused with a reason,
 * never anything else.
 */
#include "analysis/csv.h"
#include "analysis/offline.h"
#include "base/err.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RUN_MAX_TICKS 20000 /* analyse only inputs that stay fast */

static size_t count_lines(const uint8_t *d, size_t n)
{
	size_t lines = 1;
	for (size_t i = 0; i < n; i++)
		lines += d[i] == '\n';
	return lines;
}

static int count(const an_finding_t *f, void *ctx)
{
	if (!f || f->metric >= AN_METRIC__COUNT || !(f->severity >= 0) ||
	    f->severity > 100 || f->ncauses > AN_MAX_CAUSES ||
	    f->ncontext > AN_MAX_CONTEXT)
		abort();
	(*(size_t *)ctx)++;
	return 0;
}

static void analyse(const uint8_t *data, size_t size, const an_csv_series_t *s)
{
	if (s->n == 0 || s->n > 5000)
		return;
	int64_t lo = INT64_MAX, hi = INT64_MIN, step = INT64_MAX;
	for (size_t i = 0; i < s->n; i++) {
		lo = s->pts[i].t_ns < lo ? s->pts[i].t_ns : lo;
		hi = s->pts[i].t_ns > hi ? s->pts[i].t_ns : hi;
	}
	for (size_t i = 1; i < s->n; i++) {
		int64_t d = llabs(s->pts[i].t_ns - s->pts[i - 1].t_ns);
		if (d > 0 && d < step)
			step = d;
	}
	if (step == INT64_MAX || (hi - lo) / step > RUN_MAX_TICKS)
		return;
	an_csv_series_t p, q;
	an_csv_err_t e;
	if (an_csv_series_parse((const char *)data, size, &p, &e) ||
	    an_csv_series_parse((const char *)data, size, &q, &e))
		abort();
	an_params_t prm;
	an_params_default(&prm);
	an_offline_stats_t st;
	an_offline_err_t oe;
	size_t n = 0;
	int rc = an_offline_run(&prm, &p, &q, NULL, count, &n, &st, &oe);
	if (rc == 0) {
		if (st.findings != n || st.ticks > RUN_MAX_TICKS + 1)
			abort();
	} else if (rc == ERR_PARSE || rc == ERR_INVAL) {
		if (!oe.why || !oe.why[0] || n != 0)
			abort();
	} else {
		abort();
	}
	an_csv_series_free(&p);
	an_csv_series_free(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	an_csv_series_t s, again;
	an_csv_err_t e, e2;
	int rc = an_csv_series_parse((const char *)data, size, &s, &e);
	int rc2 = an_csv_series_parse((const char *)data, size, &again, &e2);
	if (rc != rc2)
		abort();
	if (rc) {
		if (rc != ERR_PARSE && rc != ERR_TOOBIG)
			abort();
		if (s.n || s.names || s.pts || !e.why || !e.why[0])
			abort();
		if (e.line < 1 || (size_t)e.line > count_lines(data, size) ||
		    e.col < 1 || e.col > AN_CSV_MAX_LINE + 1)
			abort();
		if (e.line != e2.line || e.col != e2.col || strcmp(e.why, e2.why))
			abort();
		return 0;
	}
	if (s.n != again.n || s.nnames != again.nnames || s.wide != again.wide)
		abort();
	if (s.nnames > AN_CSV_MAX_NAMES || s.n > size)
		abort();
	for (size_t i = 0; i < s.nnames; i++) {
		size_t l = strlen(s.names[i].name);
		if (l == 0 || l > AN_CSV_MAX_NAME || s.names[i].line < 1 ||
		    s.names[i].col < 1 ||
		    strcmp(s.names[i].name, again.names[i].name))
			abort();
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s.names[i].name, s.names[j].name))
				abort();
	}
	for (size_t i = 0; i < s.n; i++) {
		const an_csv_point_t *p = &s.pts[i];
		if (p->name >= s.nnames || !isfinite(p->value) || p->t_ns < 0 ||
		    p->t_ns >= 7258118400LL * 1000000000LL ||
		    p->t_ns != again.pts[i].t_ns || p->name != again.pts[i].name ||
		    memcmp(&p->value, &again.pts[i].value, sizeof(double)))
			abort();
	}
	analyse(data, size, &s);
	an_csv_series_free(&s);
	an_csv_series_free(&again);
	return 0;
}
