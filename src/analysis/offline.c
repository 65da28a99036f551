/*
 * offline.c: the offline loop over the streaming analyzer (offline.h).
 */
#include "analysis/offline.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What one series of a file feeds: an input kind and the metric or the
 * endpoint number. */
typedef struct feed {
	an_input_kind_t kind;
	uint32_t idx;
} feed_t;

/* Sums of one grid slot. */
typedef struct acc {
	double sum[AN_SIDES][AN_METRIC__COUNT];
	uint32_t n[AN_SIDES][AN_METRIC__COUNT];
	double rps[2], conn[2], ttfb[2];
	uint32_t nrps[2], nconn[2], nttfb[2];
} acc_t;

enum { EPF_REQ, EPF_COST, EPF_LAT, EPF_DIFF, EPF__N };
typedef struct ep_acc {
	double sum[2][EPF__N];
	uint32_t n[2][EPF__N];
} ep_acc_t;

typedef struct run {
	feed_t *feed[2];
	char **ep_name;
	size_t nep;
} run_t;

static int refuse(an_offline_err_t *err, an_offline_file_t file, int line,
		  int col, const char *why)
{
	err->file = file;
	err->line = line;
	err->col = col;
	err->why = why;
	return ERR_PARSE;
}

/* Resolves every series name of file side to what it feeds. */
static int resolve(run_t *r, an_csv_series_t *s, int side,
		   an_offline_err_t *err)
{
	r->feed[side] = xcalloc(s->nnames ? s->nnames : 1, sizeof(feed_t));
	for (size_t i = 0; i < s->nnames; i++) {
		an_input_t in;
		const char *why;
		if (an_input_parse(s->names[i].name, &in, &why))
			return refuse(err, (an_offline_file_t)side,
				      s->names[i].line, s->names[i].col, why);
		feed_t *f = &r->feed[side][i];
		f->kind = in.kind;
		f->idx = in.kind == AN_IN_METRIC ? (uint32_t)in.metric : 0;
		if (!in.endpoint)
			continue;
		size_t e = 0;
		while (e < r->nep && strcmp(r->ep_name[e], in.endpoint))
			e++;
		if (e == r->nep) {
			if (r->nep == AN_OFFLINE_MAX_ENDPOINTS)
				return refuse(err, (an_offline_file_t)side,
					      s->names[i].line,
					      s->names[i].col,
					      "too many endpoints (at most "
					      "768)");
			r->ep_name = xreallocarray(r->ep_name, r->nep + 1,
						   sizeof(char *));
			r->ep_name[r->nep++] = (char *)in.endpoint;
		}
		f->idx = (uint32_t)e;
	}
	return 0;
}

static int cmp_point(const void *a, const void *b)
{
	int64_t x = ((const an_csv_point_t *)a)->t_ns;
	int64_t y = ((const an_csv_point_t *)b)->t_ns;
	return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_event(const void *a, const void *b)
{
	const an_event_t *x = *(const an_event_t *const *)a;
	const an_event_t *y = *(const an_event_t *const *)b;
	if (x->start_ns != y->start_ns)
		return (x->start_ns > y->start_ns) - (x->start_ns < y->start_ns);
	return (x > y) - (x < y); /* file order: the events are one array */
}

/* The spacing of the distinct timestamps of sorted s, or 0: the mean of
 * the spacings within half to one and a half times their median. The
 * median alone follows a collector's jitter (10.1 s for points 10 s apart
 * with 0.1 s of jitter), the mean alone follows gaps; this is neither.
 * Rounded to the millisecond when it is longer than one. */
static int64_t grid_spacing(const an_csv_series_t *s)
{
	int64_t *d = xreallocarray(NULL, s->n ? s->n : 1, sizeof(int64_t));
	size_t n = 0;
	for (size_t i = 1; i < s->n; i++)
		if (s->pts[i].t_ns != s->pts[i - 1].t_ns)
			d[n++] = s->pts[i].t_ns - s->pts[i - 1].t_ns;
	int64_t iv = 0;
	if (n) {
		qsort(d, n, sizeof(*d), cmp_i64);
		double med = (double)d[n / 2], sum = 0;
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if ((double)d[i] >= med / 2 && (double)d[i] <= med * 1.5) {
				sum += (double)d[i];
				k++;
			}
		double mean = sum / (double)k; /* k >= 1: the median counts */
		if (mean >= 1e6)
			mean = round(mean / 1e6) * 1e6;
		iv = (int64_t)mean;
	}
	free(d);
	return iv;
}

/* The series windows must hold a few grid ticks: coarse files (one point
 * a minute) stretch them rather than being refused. */
static void fit_params(an_params_t *p, int64_t iv)
{
	p->interval_ns = iv;
	if (p->velocity_window_ns < 3 * iv)
		p->velocity_window_ns = 3 * iv;
	if (p->horizon_ns < iv)
		p->horizon_ns = iv;
	if (p->verdict_window_ns < iv)
		p->verdict_window_ns = iv;
	if (p->envelope_half_life_ns < iv)
		p->envelope_half_life_ns = iv;
}

static void add(const run_t *r, int side, const an_csv_point_t *pt,
		acc_t *a, ep_acc_t *ep)
{
	const feed_t *f = &r->feed[side][pt->name];
	double v = pt->value;
	switch (f->kind) {
	case AN_IN_METRIC:
		a->sum[side][f->idx] += v;
		a->n[side][f->idx]++;
		break;
	case AN_IN_RPS:
		a->rps[side] += v;
		a->nrps[side]++;
		break;
	case AN_IN_CONNECT:
		a->conn[side] += v;
		a->nconn[side]++;
		break;
	case AN_IN_TTFB:
		a->ttfb[side] += v;
		a->nttfb[side]++;
		break;
	default: {
		int k = f->kind == AN_IN_EP_REQUESTS ? EPF_REQ
			: f->kind == AN_IN_EP_COST   ? EPF_COST
			: f->kind == AN_IN_EP_LATENCY ? EPF_LAT
						      : EPF_DIFF;
		ep[f->idx].sum[side][k] += v;
		ep[f->idx].n[side][k]++;
	}
	}
}

static inline double mean(double s, uint32_t n)
{
	return n ? s / n : NAN;
}

/* Turns a slot's sums into tick t (endpoints into eps). */
static void fill_tick(const run_t *r, const acc_t *a, const ep_acc_t *ep,
		      an_endpoint_in_t *eps, an_tick_t *t)
{
	for (int s = 0; s < 2; s++) {
		for (int m = 0; m < AN_METRIC__COUNT; m++)
			t->value[s][m] = mean(a->sum[s][m], a->n[s][m]);
		t->rps[s] = mean(a->rps[s], a->nrps[s]);
		t->connect_s[s] = mean(a->conn[s], a->nconn[s]);
		t->ttfb_s[s] = mean(a->ttfb[s], a->nttfb[s]);
	}
	size_t n = 0;
	for (size_t e = 0; e < r->nep; e++) {
		const ep_acc_t *x = &ep[e];
		bool any = false;
		for (int s = 0; s < 2; s++)
			for (int k = 0; k < EPF__N; k++)
				any |= x->n[s][k] > 0;
		if (!any)
			continue;
		an_endpoint_in_t *o = &eps[n++];
		o->id = (uint32_t)e;
		o->name = r->ep_name[e];
		for (int s = 0; s < 2; s++) {
			o->requests[s] = mean(x->sum[s][EPF_REQ], x->n[s][EPF_REQ]);
			o->cost[s] = mean(x->sum[s][EPF_COST], x->n[s][EPF_COST]);
			o->latency[s] = mean(x->sum[s][EPF_LAT], x->n[s][EPF_LAT]);
		}
		/* the comparison is the shadow's; production's if only it has
		 * one */
		o->differ_rate = x->n[1][EPF_DIFF]
					 ? mean(x->sum[1][EPF_DIFF], x->n[1][EPF_DIFF])
					 : mean(x->sum[0][EPF_DIFF], x->n[0][EPF_DIFF]);
	}
	t->endpoints = eps;
	t->nendpoints = n;
}

static int run_loop(const run_t *r, an_analyzer_t *an, an_csv_series_t *s[2],
		    int64_t t0, int64_t iv, const an_event_t **ev, size_t nev,
		    an_offline_cb cb, void *ctx, an_offline_stats_t *st)
{
	acc_t *acc = xmalloc(sizeof(*acc));
	ep_acc_t *ep = xcalloc(r->nep ? r->nep : 1, sizeof(*ep));
	an_endpoint_in_t *eps = xcalloc(r->nep ? r->nep : 1, sizeof(*eps));
	an_out_t *out = xmalloc(sizeof(*out));
	an_tick_t t;
	size_t pos[2] = {0, 0}, next_ev = 0;
	int rc = 0;
	for (;;) {
		int64_t slot = INT64_MAX;
		for (int k = 0; k < 2; k++)
			if (pos[k] < s[k]->n) {
				int64_t d = s[k]->pts[pos[k]].t_ns - t0;
				int64_t sl = (d + iv / 2) / iv;
				if (sl < slot)
					slot = sl;
			}
		if (slot == INT64_MAX)
			break;
		memset(acc, 0, sizeof(*acc));
		memset(ep, 0, (r->nep ? r->nep : 1) * sizeof(*ep));
		for (int k = 0; k < 2; k++)
			while (pos[k] < s[k]->n &&
			       (s[k]->pts[pos[k]].t_ns - t0 + iv / 2) / iv == slot)
				add(r, k, &s[k]->pts[pos[k]++], acc, ep);
		an_tick_clear(&t, t0 + slot * iv);
		fill_tick(r, acc, ep, eps, &t);
		while (next_ev < nev && ev[next_ev]->start_ns <= t.t_ns)
			an_analyzer_event(an, ev[next_ev++]);
		if (an_analyzer_update(an, &t, out) != 0)
			continue; /* cannot happen: slots increase */
		st->ticks++;
		for (size_t i = 0; i < out->nfindings && rc == 0; i++) {
			st->findings++;
			st->suppressed += out->finding[i].suppressed;
			rc = cb(&out->finding[i], ctx);
		}
		if (rc)
			break;
	}
	free(out);
	free(eps);
	free(ep);
	free(acc);
	return rc;
}

int an_offline_run(const an_params_t *params, an_csv_series_t *prod,
		   an_csv_series_t *shadow, const an_csv_events_t *events,
		   an_offline_cb cb, void *ctx, an_offline_stats_t *st,
		   an_offline_err_t *err)
{
	memset(st, 0, sizeof(*st));
	run_t r = {0};
	an_csv_series_t *s[2] = {prod, shadow};
	const an_event_t **ev = NULL;
	an_analyzer_t *an = NULL;
	int rc = 0;
	for (int k = 0; k < 2 && rc == 0; k++)
		rc = resolve(&r, s[k], k, err);
	for (int k = 0; k < 2 && rc == 0; k++)
		if (s[k]->n == 0)
			rc = refuse(err, (an_offline_file_t)k, 0, 0,
				    "no data points");
	if (rc)
		goto out;
	for (int k = 0; k < 2; k++)
		qsort(s[k]->pts, s[k]->n, sizeof(an_csv_point_t), cmp_point);
	int64_t iv = grid_spacing(prod);
	if (iv <= 0) {
		rc = refuse(err, AN_OFF_PROD, 0, 0,
			    "fewer than two distinct timestamps: the interval "
			    "cannot be known");
		goto out;
	}
	int64_t t0 = prod->pts[0].t_ns < shadow->pts[0].t_ns
			     ? prod->pts[0].t_ns
			     : shadow->pts[0].t_ns;
	int64_t t1 = prod->pts[prod->n - 1].t_ns >
				     shadow->pts[shadow->n - 1].t_ns
			     ? prod->pts[prod->n - 1].t_ns
			     : shadow->pts[shadow->n - 1].t_ns;
	if (iv > AN_MAX_INTERVAL_NS) {
		rc = refuse(err, AN_OFF_PROD, 0, 0,
			    "points are more than a day apart: no interval to "
			    "analyse at");
		goto out;
	}
	if ((t1 - t0) / iv >= AN_OFFLINE_MAX_TICKS) {
		rc = refuse(err, AN_OFF_PROD, 0, 0,
			    "the files span more than a year of ticks at "
			    "their interval");
		goto out;
	}
	an_params_t p = *params;
	fit_params(&p, iv);
	const char *why = NULL;
	rc = an_analyzer_init(&an, &p, &why);
	if (rc) {
		rc = refuse(err, AN_OFF_PROD, 0, 0, why ? why : "bad parameters");
		rc = ERR_INVAL;
		goto out;
	}
	st->interval_ns = iv;
	size_t nev = events ? events->n : 0;
	ev = xcalloc(nev ? nev : 1, sizeof(*ev));
	for (size_t i = 0; i < nev; i++)
		ev[i] = &events->v[i].ev;
	qsort(ev, nev, sizeof(*ev), cmp_event);
	rc = run_loop(&r, an, s, t0, iv, ev, nev, cb, ctx, st);
out:
	an_analyzer_free(an);
	free(ev);
	free(r.ep_name);
	free(r.feed[0]);
	free(r.feed[1]);
	return rc;
}
