/*
 * dashboard.c: the dashboard, one HTML page rendered on the server: the
 * daemon's status, SVG charts of production against the shadow for the
 * compared metrics over the last DASH_SPAN, and the last hour's findings,
 * actions and events. No JavaScript; the page reloads itself every
 * DASH_REFRESH_S seconds.
 */
#include "api/api_int.h"

#include "base/clock.h"
#include "base/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DASH_REFRESH_S 5
#define DASH_SPAN_NS (10LL * 60 * NS_PER_S) /* charts cover 10 minutes */
#define DASH_POINTS 1200                     /* per series, per chart */
#define DASH_W 520
#define DASH_H 130
#define DASH_ROWS 25 /* rows per table */

static const struct {
	const char *metric, *title, *unit;
} charts[] = {
	{"rps", "requests/s", ""},
	{"cpu_per_req", "CPU seconds per request", "s"},
	{"memory", "memory (RSS)", "B"},
	{"latency_p99", "p99 latency", "s"},
	{"error_rate", "error rate", ""},
	{"diff_rate", "differ rate (shadow)", ""},
};

static void esc(buf_t *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		default:
			buf_putc(b, *s);
		}
	}
}

static void fmt_value(char *out, size_t cap, double v, const char *unit)
{
	static const char *const si[] = {"", "k", "M", "G", "T"};
	static const char *const sub[] = {"", "m", "µ", "n"};
	if (!isfinite(v)) {
		snprintf(out, cap, "–");
		return;
	}
	double a = fabs(v);
	int i = 0;
	if (a >= 1000) {
		while (a >= 1000 && i < 4) {
			a /= 1000;
			v /= 1000;
			i++;
		}
		snprintf(out, cap, "%.3g%s%s", v, si[i], unit);
	} else if (a > 0 && a < 1 && unit[0]) {
		while (a < 1 && i < 3) {
			a *= 1000;
			v *= 1000;
			i++;
		}
		snprintf(out, cap, "%.3g%s%s", v, sub[i], unit);
	} else {
		snprintf(out, cap, "%.3g%s", v, unit);
	}
}

static void chart(buf_t *b, const api_hooks_t *h, int64_t now,
		  const char *metric, const char *title, const char *unit)
{
	static int64_t ts[2][DASH_POINTS];
	static double v[2][DASH_POINTS];
	size_t n[2] = {0, 0};
	double lo = INFINITY, hi = -INFINITY;
	for (int s = 0; s < 2; s++) {
		if (h->points)
			n[s] = h->points(h->arg, s, metric, now - DASH_SPAN_NS,
					 ts[s], v[s], DASH_POINTS);
		for (size_t i = 0; i < n[s]; i++) {
			if (!isfinite(v[s][i]))
				continue;
			lo = fmin(lo, v[s][i]);
			hi = fmax(hi, v[s][i]);
		}
	}
	buf_printf(b, "<div class=c><h3>");
	esc(b, title);
	buf_puts(b, "</h3>");
	if (!isfinite(lo)) {
		buf_puts(b, "<p class=n>no data yet</p></div>\n");
		return;
	}
	if (lo > 0)
		lo = 0;
	if (hi <= lo)
		hi = lo + 1;
	char top[32], last0[32], last1[32];
	fmt_value(top, sizeof(top), hi, unit);
	fmt_value(last0, sizeof(last0), n[0] ? v[0][n[0] - 1] : NAN, unit);
	fmt_value(last1, sizeof(last1), n[1] ? v[1][n[1] - 1] : NAN, unit);
	buf_printf(b,
		   "<svg viewBox='0 0 %d %d' width=%d height=%d role=img>"
		   "<rect width=%d height=%d class=bg />"
		   "<text x=4 y=12 class=ax>%s</text>",
		   DASH_W, DASH_H, DASH_W, DASH_H, DASH_W, DASH_H, top);
	static const char *const cls[2] = {"p", "s"};
	for (int s = 0; s < 2; s++) {
		buf_printf(b, "<polyline class=%s points='", cls[s]);
		for (size_t i = 0; i < n[s]; i++) {
			if (!isfinite(v[s][i]))
				continue;
			double x = (double)(ts[s][i] - (now - DASH_SPAN_NS)) /
				   (double)DASH_SPAN_NS * DASH_W;
			double y = DASH_H - (v[s][i] - lo) / (hi - lo) *
						    (DASH_H - 16) - 2;
			buf_printf(b, "%.1f,%.1f ", x, y);
		}
		buf_puts(b, "'/>");
	}
	buf_printf(b, "</svg><p class=l><span class=p>production %s</span> "
		      "<span class=s>shadow %s</span></p></div>\n",
		   last0, last1);
}

/* --------------------------------------------------------------- tables */

typedef struct {
	buf_t *b;
	int n;
} rows_t;

static void cell(buf_t *b, const char *s)
{
	buf_puts(b, "<td>");
	esc(b, s ? s : "");
	buf_puts(b, "</td>");
}

static void time_cell(buf_t *b, int64_t ns)
{
	char t[CLOCK_ISO_LEN];
	clock_iso8601(ns, t);
	t[19] = '\0';
	cell(b, t + 11);
}

static int finding_row(void *arg, const store_finding_t *f)
{
	rows_t *r = arg;
	if (r->n++ >= DASH_ROWS)
		return 1;
	buf_printf(r->b, "<tr class='%s'>", f->severity ? f->severity : "");
	time_cell(r->b, f->ts_ns);
	cell(r->b, f->metric);
	cell(r->b, f->severity);
	cell(r->b, f->summary);
	buf_puts(r->b, "</tr>\n");
	return 0;
}

static int action_row(void *arg, const store_action_t *x)
{
	rows_t *r = arg;
	if (r->n++ >= DASH_ROWS)
		return 1;
	buf_puts(r->b, "<tr>");
	time_cell(r->b, x->ts_ns);
	cell(r->b, x->kind);
	cell(r->b, x->dry_run ? "dry-run" : x->outcome);
	cell(r->b, x->reason);
	buf_puts(r->b, "</tr>\n");
	return 0;
}

static int event_row(void *arg, const store_event_t *e)
{
	rows_t *r = arg;
	if (r->n++ >= DASH_ROWS)
		return 1;
	buf_puts(r->b, "<tr>");
	time_cell(r->b, e->start_ns);
	cell(r->b, e->kind);
	cell(r->b, e->side);
	cell(r->b, e->text);
	buf_puts(r->b, "</tr>\n");
	return 0;
}

static void status_block(buf_t *b, const api_hooks_t *h)
{
	json_t *o = json_object();
	if (h->status)
		h->status(h->arg, o);
	buf_puts(b, "<table class=st>");
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		if (json_is_object(v) || json_is_array(v))
			continue;
		buf_puts(b, "<tr><th>");
		esc(b, k);
		buf_puts(b, "</th>");
		char *s = json_is_string(v) ? xstrdup(json_string_value(v))
					    : json_dumps(v, JSON_ENCODE_ANY |
								    JSON_REAL_PRECISION(4));
		cell(b, s);
		free(s);
		buf_puts(b, "</tr>");
	}
	buf_puts(b, "</table>\n");
	json_decref(o);
}

void api__dashboard(const config_t *cfg, store_t *store,
		    const api_hooks_t *hooks, const char *token, buf_t *out)
{
	int64_t now = clock_wall_ns();
	char t[CLOCK_ISO_LEN];
	buf_printf(out,
		   "<!doctype html><html><head><meta charset=utf-8>"
		   "<meta http-equiv=refresh content=%d>"
		   "<title>umbra: ",
		   DASH_REFRESH_S);
	esc(out, cfg->service);
	buf_puts(out,
		 "</title><style>body{font:14px system-ui,sans-serif;margin:"
		 "1.5em;color:#222}h1{font-size:20px}h2{font-size:16px;margin-"
		 "top:1.5em}h3{font-size:13px;margin:0 0 4px}.c{display:"
		 "inline-block;margin:0 1em 1em 0;vertical-align:top}.bg{fill:"
		 "#fafafa;stroke:#ddd}polyline{fill:none;stroke-width:1.5}"
		 "polyline.p,.l .p{stroke:#1f6feb;color:#1f6feb}polyline.s,"
		 ".l .s{stroke:#d9480f;color:#d9480f}.ax{font-size:10px;fill:"
		 "#888}.l{font-size:12px;margin:2px 0}.n{color:#888}table{"
		 "border-collapse:collapse;font-size:13px}td,th{padding:2px "
		 "8px;border-bottom:1px solid #eee;text-align:left}tr.critical"
		 " td{color:#b00}tr.high td{color:#c60}.st th{color:#555;"
		 "font-weight:normal}</style></head><body><h1>umbra: ");
	esc(out, cfg->service);
	buf_printf(out, "</h1><p class=n>%s &middot; refreshes every %d s "
			"&middot; <a href='/api/v1/status?token=",
		   clock_iso8601(now, t), DASH_REFRESH_S);
	esc(out, token);
	buf_puts(out, "'>status JSON</a> &middot; <a href='/metrics?token=");
	esc(out, token);
	buf_puts(out, "'>metrics</a></p>\n<h2>status</h2>\n");
	status_block(out, hooks);
	buf_puts(out, "<h2>production and shadow, last 10 minutes</h2>\n");
	for (size_t i = 0; i < sizeof(charts) / sizeof(*charts); i++)
		chart(out, hooks, now, charts[i].metric, charts[i].title,
		      charts[i].unit);
	int64_t from = now - 3600 * NS_PER_S, to = now + NS_PER_S;
	rows_t r = {out, 0};
	buf_puts(out, "<h2>findings, last hour</h2><table><tr><th>time</th>"
		      "<th>metric</th><th>severity</th><th>summary</th></tr>\n");
	if (store)
		store_findings(store, cfg->service, from, to, finding_row, &r);
	buf_puts(out, "</table>\n<h2>actions</h2><table><tr><th>time</th>"
		      "<th>action</th><th>outcome</th><th>reason</th></tr>\n");
	r.n = 0;
	if (store)
		store_actions(store, cfg->service, from, to, action_row, &r);
	buf_puts(out, "</table>\n<h2>events</h2><table><tr><th>time</th>"
		      "<th>type</th><th>side</th><th>text</th></tr>\n");
	r.n = 0;
	if (store)
		store_events(store, cfg->service, from, to, event_row, &r);
	buf_puts(out, "</table></body></html>\n");
}
