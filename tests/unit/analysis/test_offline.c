/*
 * test_offline.c: the offline loop. Its central promise: the same data
 * gives the same findings whether it arrives tick by tick (the live path,
 * an_analyzer_update) or as CSV files (an_offline_run). Also the grid,
 * events, and what it refuses before the first tick.
 */
#include "analysis/csv.h"
#include "analysis/offline.h"
#include "base/buf.h"
#include "base/err.h"
#include "unit/analysis/sim.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#define NS 1000000000LL
#define MAXF 256

typedef struct rec {
	int64_t t;
	int metric, kind, action;
	double dev, sev;
	char cause[AN_NAME_MAX * 2];
} rec_t;

typedef struct recs {
	rec_t r[MAXF];
	size_t n;
	int stop_after; /* 0: never */
} recs_t;

static int keep(const an_finding_t *f, void *ctx)
{
	recs_t *rs = ctx;
	if (rs->n < MAXF) {
		rec_t *r = &rs->r[rs->n];
		r->t = f->t_ns;
		r->metric = f->metric;
		r->kind = f->kind;
		r->action = f->action;
		r->dev = f->deviation;
		r->sev = f->severity;
		snprintf(r->cause, sizeof(r->cause), "%s",
			 f->ncauses ? f->cause[0].subject : "");
	}
	rs->n++;
	if (rs->stop_after && (int)rs->n >= rs->stop_after)
		return 77;
	return 0;
}

static void mod(int64_t k, sim_mod_t *m)
{
	if (k >= 1800)
		m->ep_lat[2][AN_SHADOW] = 2.0;
	if (k >= 2000)
		m->cost[AN_PROD] = 1.3;
}

static const char *const cols[] = {"cpu", "memory", "disk_read",
				   "disk_write", "net_rx", "net_tx",
				   "latency_p50", "latency_p90", "latency_p99",
				   "error_rate"};

/* Writes the simulated pair as two wide CSV files in memory. */
static void write_csv(int64_t n, buf_t *p, buf_t *s, recs_t *live,
		      const an_params_t *prm, const an_event_t *ev)
{
	an_analyzer_t *a;
	cr_assert_eq(an_analyzer_init(&a, prm, NULL), 0);
	an_out_t *out = malloc(sizeof(*out));
	sim_t sim;
	sim_init(&sim, 99, 1.0);
	buf_t *b[2] = {p, s};
	for (int side = 0; side < 2; side++) {
		buf_puts(b[side], "timestamp,rps,connect_time,ttfb");
		for (size_t c = 0; c < sizeof(cols) / sizeof(*cols); c++)
			buf_printf(b[side], ",%s", cols[c]);
		if (side)
			buf_puts(b[side], ",diff_rate");
		for (int e = 0; e < SIM_NEP; e++) {
			buf_printf(b[side], ",requests:%s,cost:%s,latency:%s",
				   sim_ep_name[e], sim_ep_name[e],
				   sim_ep_name[e]);
			if (side)
				buf_printf(b[side], ",differ_rate:%s",
					   sim_ep_name[e]);
		}
		buf_puts(b[side], "\n");
	}
	bool ev_given = false;
	for (int64_t k = 0; k < n; k++) {
		sim_mod_t m;
		sim_mod_none(&m);
		mod(k, &m);
		const an_tick_t *t = sim_step(&sim, k, &m);
		if (ev && !ev_given && ev->start_ns <= t->t_ns) {
			an_analyzer_event(a, ev);
			ev_given = true;
		}
		cr_assert_eq(an_analyzer_update(a, t, out), 0);
		for (size_t i = 0; i < out->nfindings; i++)
			keep(&out->finding[i], live);
		for (int side = 0; side < 2; side++) {
			buf_t *o = b[side];
			buf_printf(o, "%lld,%.17g,%.17g,%.17g", (long long)(SIM_T0 + k),
				   t->rps[side], t->connect_s[side],
				   t->ttfb_s[side]);
			for (size_t c = 0; c < sizeof(cols) / sizeof(*cols); c++)
				buf_printf(o, ",%.17g",
					   t->value[side][an_metric_by_name(cols[c])]);
			if (side)
				buf_printf(o, ",%.17g",
					   t->value[side][AN_M_diff_rate]);
			for (int e = 0; e < SIM_NEP; e++) {
				const an_endpoint_in_t *x = &t->endpoints[e];
				buf_printf(o, ",%.17g,%.17g,%.17g",
					   x->requests[side], x->cost[side],
					   x->latency[side]);
				if (side)
					buf_printf(o, ",%.17g", x->differ_rate);
			}
			buf_puts(o, "\n");
		}
	}
	free(out);
	an_analyzer_free(a);
}

static void parse(const buf_t *b, an_csv_series_t *s)
{
	an_csv_err_t e;
	cr_assert_eq(an_csv_series_parse(b->data, b->len, s, &e), 0,
		     "%d:%d %s", e.line, e.col, e.why);
}

Test(offline, same_findings_as_the_live_path)
{
	an_params_t prm;
	an_params_default(&prm);
	an_event_t ev = {.start_ns = (SIM_T0 + 1950) * NS,
			 .end_ns = (SIM_T0 + 1950) * NS,
			 .kind = AN_EV_DEPLOY,
			 .side = AN_PROD,
			 .text = "v9"};
	buf_t p = BUF_INIT, s = BUF_INIT;
	recs_t *live = calloc(1, sizeof(*live)),
	       *off = calloc(1, sizeof(*off));
	write_csv(2400, &p, &s, live, &prm, &ev);
	cr_assert_gt(live->n, 2, "the scenario has findings");

	an_csv_series_t ps, ss;
	parse(&p, &ps);
	parse(&s, &ss);
	char evtext[] = "start,end,type,side,description\n"
			"1767227550,,deploy,production,v9\n";
	an_csv_events_t evs;
	an_csv_err_t e;
	cr_assert_eq(an_csv_events_parse(evtext, strlen(evtext), &evs, &e), 0);
	an_offline_stats_t st;
	an_offline_err_t oe;
	cr_assert_eq(an_offline_run(&prm, &ps, &ss, &evs, keep, off, &st, &oe),
		     0, "%s", oe.why);
	cr_assert_eq(st.interval_ns, NS);
	cr_assert_eq(st.ticks, 2400);
	cr_assert_eq(st.findings, live->n);
	cr_assert_eq(off->n, live->n);
	for (size_t i = 0; i < live->n && i < MAXF; i++) {
		rec_t *a = &live->r[i], *b = &off->r[i];
		cr_assert(a->t == b->t && a->metric == b->metric &&
				  a->kind == b->kind && a->action == b->action &&
				  a->dev == b->dev && a->sev == b->sev &&
				  !strcmp(a->cause, b->cause),
			  "finding %zu differs: %s %s %.17g vs %s %s %.17g", i,
			  an_metric_name(a->metric), an_find_kind_name(a->kind),
			  a->dev, an_metric_name(b->metric),
			  an_find_kind_name(b->kind), b->dev);
	}
	/* the scenario's truth came through the files too */
	bool endpoint = false, rollback = false;
	for (size_t i = 0; i < off->n; i++) {
		endpoint |= !strcmp(off->r[i].cause, "/api/search");
		rollback |= off->r[i].action == AN_ACT_ROLLBACK;
	}
	cr_assert(endpoint && rollback);
	an_csv_series_free(&ps);
	an_csv_series_free(&ss);
	an_csv_events_free(&evs);
	buf_free(&p);
	buf_free(&s);
	free(live);
	free(off);
}

static void load(const char *text, an_csv_series_t *s)
{
	an_csv_err_t e;
	cr_assert_eq(an_csv_series_parse(text, strlen(text), s, &e), 0,
		     "%d:%d %s", e.line, e.col, e.why);
}

/* Runs prod/shadow texts; returns the result with *oe filled. */
static int run_texts(const char *p, const char *s, recs_t *rs,
		     an_offline_stats_t *st, an_offline_err_t *oe)
{
	an_params_t prm;
	an_params_default(&prm);
	an_csv_series_t ps, ss;
	load(p, &ps);
	load(s, &ss);
	int rc = an_offline_run(&prm, &ps, &ss, NULL, keep, rs, st, oe);
	an_csv_series_free(&ps);
	an_csv_series_free(&ss);
	return rc;
}

Test(offline, refusals_name_file_line_and_column)
{
	recs_t *rs = calloc(1, sizeof(*rs));
	an_offline_stats_t st;
	an_offline_err_t oe;
	const char *ok = "timestamp,cpu\n1767225600,1\n1767225601,1\n";
	cr_assert_eq(run_texts(ok, "timestamp,cpu,bogus\n1767225600,1,2\n", rs,
			       &st, &oe),
		     ERR_PARSE);
	cr_assert_eq(oe.file, AN_OFF_SHADOW);
	cr_assert_eq(oe.line, 1);
	cr_assert_eq(oe.col, 15);
	cr_assert(strstr(oe.why, "unknown series"));
	cr_assert_eq(run_texts(ok, "timestamp,cpu\n", rs, &st, &oe), ERR_PARSE);
	cr_assert_eq(oe.file, AN_OFF_SHADOW);
	cr_assert(strstr(oe.why, "no data points"));
	cr_assert_eq(run_texts("timestamp,cpu\n1767225600,1\n", ok, rs, &st,
			       &oe),
		     ERR_PARSE);
	cr_assert_eq(oe.file, AN_OFF_PROD);
	cr_assert(strstr(oe.why, "two distinct timestamps"));
	cr_assert_eq(run_texts("timestamp,cpu\n0,1\n1,1\n",
			       "timestamp,cpu\n5000000000,1\n", rs, &st, &oe),
		     ERR_PARSE);
	cr_assert(strstr(oe.why, "more than a year"));
	cr_assert_eq(run_texts("timestamp,cpu\n0,1\n172800,1\n", ok, rs, &st,
			       &oe),
		     ERR_PARSE);
	cr_assert(strstr(oe.why, "more than a day apart"), "%s", oe.why);
	cr_assert_eq(rs->n, 0, "no finding before a refusal");
	free(rs);
}

Test(offline, grid_follows_the_files_and_averages_a_slot)
{
	/* 10-s points, production a little off the grid, the shadow with
	 * two points in one slot */
	buf_t p = BUF_INIT, s = BUF_INIT;
	buf_puts(&p, "timestamp,memory\n");
	buf_puts(&s, "timestamp,memory\n");
	for (int k = 0; k < 600; k++) {
		buf_printf(&p, "%lld.%d,1e8\n", SIM_T0 + 10LL * k, k % 3);
		buf_printf(&s, "%lld,%g\n", SIM_T0 + 10LL * k,
			   k >= 300 ? 1.5e8 : 1e8);
		if (k == 10)
			buf_printf(&s, "%lld,3e8\n", SIM_T0 + 10LL * k + 2);
	}
	recs_t *rs = calloc(1, sizeof(*rs));
	an_offline_stats_t st;
	an_offline_err_t oe;
	cr_assert_eq(run_texts(p.data, s.data, rs, &st, &oe), 0, "%s", oe.why);
	cr_assert_eq(st.interval_ns, 10 * NS);
	cr_assert_eq(st.ticks, 600);
	cr_assert_gt(rs->n, 0);
	cr_assert_eq(rs->r[0].metric, AN_M_memory);
	cr_assert_geq(rs->r[0].t, (SIM_T0 + 3000) * NS);
	buf_free(&p);
	buf_free(&s);
	free(rs);
}

Test(offline, callback_stops_the_run)
{
	buf_t p = BUF_INIT, s = BUF_INIT;
	buf_puts(&p, "timestamp,memory,cpu\n");
	buf_puts(&s, "timestamp,memory,cpu\n");
	for (int k = 0; k < 900; k++) {
		buf_printf(&p, "%lld,1e8,1\n", SIM_T0 + k);
		buf_printf(&s, "%lld,%g,%g\n", SIM_T0 + k, k >= 600 ? 2e8 : 1e8,
			   k >= 600 ? 2.0 : 1.0);
	}
	recs_t *rs = calloc(1, sizeof(*rs));
	rs->stop_after = 1;
	an_offline_stats_t st;
	an_offline_err_t oe;
	cr_assert_eq(run_texts(p.data, s.data, rs, &st, &oe), 77);
	cr_assert_eq(rs->n, 1);
	buf_free(&p);
	buf_free(&s);
	free(rs);
}
