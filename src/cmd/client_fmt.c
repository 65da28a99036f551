/*
 * client_fmt.c: the pure half of client_cmd.h: the admin API's JSON
 * (docs/api.md) rendered as text for people, and the small value formats
 * and parsers the client commands share. No I/O, no clock: the caller
 * passes "now" where it matters, and tests feed crafted replies.
 *
 * Every field is read defensively (a daemon of another version may lack
 * one): a missing string renders as "-", a missing number is left out.
 */
#include "cmd/client_cmd.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/units.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ JSON */

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *jstr_or(json_t *o, const char *k, const char *dflt)
{
	const char *s = jstr(o, k);
	return s && s[0] ? s : dflt;
}

/* A number field: true with *v set when present and numeric. */
static bool jnum(json_t *o, const char *k, double *v)
{
	json_t *x = json_object_get(o, k);
	if (!json_is_number(x))
		return false;
	*v = json_number_value(x);
	return true;
}

static double jnum_or(json_t *o, const char *k, double dflt)
{
	double v;
	return jnum(o, k, &v) ? v : dflt;
}

static bool jtrue(json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

/* The audit record kind of an actions row (detail.record). */
typedef enum { REC_OTHER, REC_DECISION, REC_ACTION, REC_OUTCOME } rec_t;

static rec_t rec_of(json_t *row)
{
	const char *r = jstr(json_object_get(row, "detail"), "record");
	if (!r)
		return REC_OTHER;
	return !strcmp(r, "decision") ? REC_DECISION
	       : !strcmp(r, "action") ? REC_ACTION
	       : !strcmp(r, "outcome") ? REC_OUTCOME
				       : REC_OTHER;
}

/* ------------------------------------------------------------ formats */

const char *cmd_fmt_api_time(const char *iso, char out[CMD_TIME_LEN])
{
	if (!iso || !iso[0]) {
		snprintf(out, CMD_TIME_LEN, "-");
		return out;
	}
	bool api = strlen(iso) >= 19 && iso[4] == '-' && iso[7] == '-' &&
		   iso[10] == 'T' && iso[13] == ':' && iso[16] == ':';
	if (api)
		snprintf(out, CMD_TIME_LEN, "%.10sT%.8sZ", iso, iso + 11);
	else
		snprintf(out, CMD_TIME_LEN, "%s", iso);
	return out;
}

const char *cmd_fmt_age(double s, char out[CMD_AGE_LEN])
{
	if (!isfinite(s) || s < 0 || s > 1e12) {
		snprintf(out, CMD_AGE_LEN, "-");
		return out;
	}
	if (s < 10) {
		snprintf(out, CMD_AGE_LEN, "%.1fs", s);
		return out;
	}
	long long t = (long long)s;
	if (t < 60)
		snprintf(out, CMD_AGE_LEN, "%llds", t);
	else if (t < 3600)
		snprintf(out, CMD_AGE_LEN, "%lldm%02llds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(out, CMD_AGE_LEN, "%lldh%02lldm", t / 3600,
			 t % 3600 / 60);
	else
		snprintf(out, CMD_AGE_LEN, "%lldd%02lldh", t / 86400,
			 t % 86400 / 3600);
	return out;
}

const char *cmd_fmt_pct(double r, char out[CMD_PCT_LEN])
{
	double v = r * 100, a = fabs(v);
	if (!isfinite(v) || a > 1e9)
		snprintf(out, CMD_PCT_LEN, "-");
	else if (a >= 9.95)
		snprintf(out, CMD_PCT_LEN, "%.0f%%", v);
	else if (a >= 0.995)
		snprintf(out, CMD_PCT_LEN, "%.1f%%", v);
	else if (a == 0)
		snprintf(out, CMD_PCT_LEN, "0%%");
	else
		snprintf(out, CMD_PCT_LEN, "%.2f%%", v);
	return out;
}

/* RFC 3339 after its date and time (p just past the seconds): an optional
 * fraction, then Z or +HH:MM / -HH:MM (required). 0 with *frac_ns and
 * *off_s set, or ERR_PARSE with *why. */
static int rfc3339_tail(const char *p, int64_t *frac_ns, int64_t *off_s,
			const char **why)
{
	int64_t frac = 0;
	if (*p == '.') {
		int n = 0;
		for (p++; isdigit((unsigned char)*p); p++, n++)
			if (n < 9)
				frac = frac * 10 + (*p - '0');
		if (n == 0) {
			*why = "no digits after the decimal point";
			return ERR_PARSE;
		}
		for (; n < 9; n++)
			frac *= 10;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
		   isdigit((unsigned char)p[2]) && p[3] == ':' &&
		   isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
		int h = (p[1] - '0') * 10 + (p[2] - '0');
		int m = (p[4] - '0') * 10 + (p[5] - '0');
		if (h > 23 || m > 59) {
			*why = "bad UTC offset";
			return ERR_PARSE;
		}
		off = (p[0] == '+' ? 1 : -1) * (h * 3600 + m * 60);
		p += 6;
	} else {
		*why = "missing time zone (Z or +HH:MM)";
		return ERR_PARSE;
	}
	if (*p) {
		*why = "junk after the time";
		return ERR_PARSE;
	}
	*frac_ns = frac;
	*off_s = off;
	return 0;
}

int cmd_time_parse(const char *s, int64_t now_ns, int64_t *ns,
		   const char **why)
{
	static const char expected[] =
		"expected a duration ago (1h, -1h), +DURATION, now, Unix "
		"seconds or RFC 3339 (2026-01-31T12:00:00Z)";
	if (!s || !s[0]) {
		*why = "empty";
		return ERR_PARSE;
	}
	if (!strcmp(s, "now")) {
		*ns = now_ns;
		return 0;
	}
	int64_t d;
	if (s[0] == '-' || s[0] == '+') {
		const char *w = NULL;
		if (units_parse_duration(s + 1, &d, &w)) {
			*why = "bad duration after the sign (e.g. -10m, +1h)";
			return ERR_PARSE;
		}
		*ns = s[0] == '-' ? now_ns - d : now_ns + d;
		return 0;
	}
	size_t digits = strspn(s, "0123456789.");
	if (isdigit((unsigned char)s[0]) && digits == strlen(s)) {
		double sec;
		const char *w = NULL;
		int rc = units_parse_double(s, 0, (double)CMD_EVENT_MAX_UNIX,
					    &sec, &w);
		if (rc) {
			*why = rc == ERR_RANGE ? "Unix seconds out of range "
						 "(1970 to 2100)"
					       : expected;
			return rc == ERR_RANGE ? ERR_RANGE : ERR_PARSE;
		}
		*ns = (int64_t)llround(sec * 1e9);
		return 0;
	}
	/* a bare duration is that long ago, as -DURATION: "1h" and "-1h"
	 * are the same time */
	if (units_parse_duration(s, &d, NULL) == 0) {
		*ns = now_ns - d;
		return 0;
	}
	struct tm tm = {0};
	const char *end = isdigit((unsigned char)s[0])
				  ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)
				  : NULL;
	if (!end) {
		*why = expected;
		return ERR_PARSE;
	}
	int64_t frac, off;
	if (rfc3339_tail(end, &frac, &off, why))
		return ERR_PARSE;
	time_t t = timegm(&tm);
	int64_t sec = (int64_t)t - off;
	if (t < 0 || sec < 0 || sec > CMD_EVENT_MAX_UNIX) {
		*why = "out of range (1970 to 2100)";
		return ERR_RANGE;
	}
	*ns = sec * NS_PER_S + frac;
	return 0;
}

int cmd_since_parse(const char *s, int64_t now_ns, int64_t *window_ns,
		    bool *is_time, const char **why)
{
	const char *v = s ? s : CMD_SINCE_DEFAULT;
	int64_t d;
	*is_time = false;
	if (strlen(v) >= CMD_SINCE_MAX_LEN) {
		*why = "too long";
		return ERR_PARSE;
	}
	/* a window: "1h", or "-1h" (one hour ago, as every time flag has it) */
	if (units_parse_duration(v[0] == '-' ? v + 1 : v, &d, NULL) == 0) {
		if (d <= 0) {
			*why = "the window must be longer than 0";
			return ERR_RANGE;
		}
		*window_ns = d;
		return 0;
	}
	/* not a duration: a time in the past, in the one time grammar */
	int64_t t;
	const char *w = NULL;
	int rc = cmd_time_parse(v, now_ns, &t, &w);
	if (rc) {
		*why = w;
		return rc;
	}
	if (t >= now_ns) {
		*why = "the time is not in the past";
		return ERR_RANGE;
	}
	*window_ns = now_ns - t;
	*is_time = true;
	return 0;
}

int cmd_limit_parse(const char *s, size_t *n, const char **why)
{
	int64_t v;
	int rc = units_parse_i64(s, 1, CMD_LIST_LIMIT_MAX, &v, NULL);
	if (rc) {
		*why = rc == ERR_RANGE ? "expected 1 to 1000 rows"
				       : "expected a whole number of rows";
		return rc == ERR_RANGE ? ERR_RANGE : ERR_PARSE;
	}
	*n = (size_t)v;
	return 0;
}

const char *cmd_event_kind(const char *kind)
{
	static const char *const map[][2] = {
		{"deploy", "deploy"},	    {"config", "config_change"},
		{"config_change", "config_change"},
		{"note", "note"},	    {"scheduled", "scheduled"},
		{"replay", "replay"},
	};
	for (size_t i = 0; kind && i < sizeof(map) / sizeof(*map); i++)
		if (!strcmp(kind, map[i][0]))
			return map[i][1];
	return NULL;
}

void cmd_event_text(const char *message, const char *version, buf_t *out)
{
	buf_reset(out);
	bool m = message && message[0], v = version && version[0];
	if (v)
		buf_printf(out, "%s%s", version, m ? ": " : "");
	if (m)
		buf_puts(out, message);
}

/* ------------------------------------------------------------ sorting */

/* Rows of a list reply in display order: newest first by the string
 * field key (ISO times sort as text), then by id. */
typedef struct row {
	json_t *j;
	const char *key;
	json_int_t id;
} row_t;

static int row_newest_first(const void *a, const void *b)
{
	const row_t *x = a, *y = b;
	int c = strcmp(y->key, x->key);
	if (c)
		return c;
	return (y->id > x->id) - (y->id < x->id);
}

/* The objects of arr sorted newest first by key; *n set. New array the
 * caller frees (NULL when there are none). */
static row_t *rows_sorted(json_t *arr, const char *key, size_t *n)
{
	*n = 0;
	size_t cap = json_array_size(arr);
	if (!cap)
		return NULL;
	row_t *r = xcalloc(cap, sizeof(*r));
	for (size_t i = 0; i < cap; i++) {
		json_t *o = json_array_get(arr, i);
		if (!json_is_object(o))
			continue;
		r[*n].j = o;
		r[*n].key = jstr_or(o, key, "");
		r[*n].id = json_integer_value(json_object_get(o, "id"));
		(*n)++;
	}
	qsort(r, *n, sizeof(*r), row_newest_first);
	return r;
}

json_t *cmd_list_select(json_t *arr, const char *key, size_t limit,
			bool (*keep)(json_t *row, void *arg), void *arg)
{
	size_t n;
	row_t *r = rows_sorted(arr, key, &n);
	json_t *out = json_array();
	for (size_t i = 0; i < n && (!limit || json_array_size(out) < limit);
	     i++)
		if (!keep || keep(r[i].j, arg))
			json_array_append(out, r[i].j);
	free(r);
	return out;
}

json_t *cmd_findings_open(json_t *findings, json_t *status)
{
	json_t *an = json_object_get(status, "analysis");
	json_t *out = json_array(), *seen = json_object();
	size_t i;
	json_t *f;
	json_array_foreach(findings, i, f)
	{
		const char *m = jstr(f, "metric");
		if (!m || json_object_get(seen, m))
			continue;
		const char *open = jstr_or(json_object_get(an, m), "open", "none");
		if (!strcmp(open, "none"))
			continue;
		json_object_set_new(seen, m, json_true());
		json_array_append(out, f);
	}
	json_decref(seen);
	return out;
}

/* ------------------------------------------------------------ status */

/* A metric needs a look: a finding is open or it is over its threshold
 * (once its warm-up is over: until then it is learned from, not judged).
 * *what names which. */
static bool metric_flagged(json_t *m, const char **what)
{
	const char *open = jstr_or(m, "open", "none");
	double dev, thr;
	if (strcmp(open, "none")) {
		*what = open;
		return true;
	}
	if (jtrue(m, "warming")) {
		*what = "warming up";
		return false;
	}
	if (jnum(m, "deviation", &dev) && jnum(m, "threshold", &thr) &&
	    thr > 0 && dev > thr) {
		*what = "over threshold";
		return true;
	}
	*what = "-";
	return false;
}

/* The compared metrics, one line each; the critical ones' names are
 * appended to critical. */
static void status_analysis(json_t *an, buf_t *out, buf_t *critical)
{
	if (!json_object_size(an)) {
		buf_puts(out, "  analysis    no comparison yet (it needs "
			      "measurements from both sides)\n");
		return;
	}
	buf_printf(out, "  analysis      %-13s %9s %9s %10s  %s\n", "METRIC",
		   "DEVIATION", "THRESHOLD", "VELOCITY", "FINDING");
	const char *name;
	json_t *m;
	json_object_foreach(an, name, m)
	{
		const char *what;
		bool flag = metric_flagged(m, &what);
		char d[CMD_PCT_LEN], t[CMD_PCT_LEN], v[CMD_PCT_LEN];
		char vs[CMD_PCT_LEN + 4];
		cmd_fmt_pct(jnum_or(m, "deviation", NAN), d);
		cmd_fmt_pct(jnum_or(m, "threshold", NAN), t);
		double vel = jnum_or(m, "velocity", NAN);
		if (isfinite(vel))
			snprintf(vs, sizeof(vs), "%s/s", cmd_fmt_pct(vel, v));
		else
			snprintf(vs, sizeof(vs), "-");
		buf_printf(out, "            %s %-13s %9s %9s %10s  %s\n",
			   flag ? "!" : " ", name, d, t, vs, what);
		if (!strcmp(what, "critical"))
			buf_printf(critical, "%s%s", critical->len ? ", " : "",
				   name);
	}
}

/* One side's replicas; a side with fewer up than desired is added to
 * degraded ("shadow 0/1 up"). */
static void status_side(json_t *st, const char *side, double desired,
			buf_t *out, buf_t *degraded)
{
	json_t *s = json_object_get(st, side);
	double up;
	if (!jnum(s, "replicas_up", &up)) {
		buf_printf(out, "  %-11s -\n", side);
		return;
	}
	/* what umbra runs (the side's own count) judges it; the scaler's
	 * wish for a production umbra does not run is only shown */
	double runs;
	if (jnum(s, "replicas_desired", &runs))
		desired = runs;
	if (jnum(s, "replicas_desired", &runs) && runs > 0 && up < runs)
		buf_printf(degraded, "%s%s %.0f/%.0f replicas up",
			   degraded->len ? ", " : "", side, up, desired);
	buf_printf(out, "  %-11s %.0f replica%s up", side, up,
		   up == 1 ? "" : "s");
	if (desired > 0)
		buf_printf(out, ", %.0f desired", desired);
	if (up == 0)
		buf_puts(out, "  (none answers its health check)");
	buf_putc(out, '\n');
}

static void status_traffic(json_t *px, buf_t *out)
{
	if (!json_is_object(px))
		return;
	double req = jnum_or(px, "requests", 0),
	       mir = jnum_or(px, "mirrored", 0),
	       matched = jnum_or(px, "matched", 0),
	       diff = jnum_or(px, "differed", 0),
	       noise = jnum_or(px, "noise", 0), dropped = 0;
	json_t *dr = json_object_get(px, "dropped");
	const char *k;
	json_t *v;
	json_object_foreach(dr, k, v) dropped += json_number_value(v);
	char p[CMD_PCT_LEN];
	buf_printf(out, "  traffic     %.0f requests, %.0f mirrored", req, mir);
	if (req > 0)
		buf_printf(out, " (%s)", cmd_fmt_pct(mir / req, p));
	double compared = matched + diff + noise;
	buf_printf(out, ", %.0f compared", compared);
	if (compared > 0)
		buf_printf(out, ": %.0f differed (%s), %.0f noise", diff,
			   cmd_fmt_pct(diff / compared, p), noise);
	buf_printf(out, "\n              %.0f copies dropped, %.0f shadow "
			"errors, %.0f shadow timeouts, %.0f production "
			"errors\n",
		   dropped, jnum_or(px, "shadow_errors", 0),
		   jnum_or(px, "shadow_timeouts", 0),
		   jnum_or(px, "production_errors", 0));
}

/* The label column: "mitigation" on the section's first line only. */
static const char *lead(bool *first)
{
	const char *p = *first ? "  mitigation  " : "              ";
	*first = false;
	return p;
}

static void status_mitigation(json_t *mit, json_t *last,
			      const char *config_file, buf_t *out)
{
	char t[CMD_TIME_LEN], a[CMD_TIME_LEN];
	bool first = true;
	if (jtrue(mit, "dry_run"))
		buf_printf(out, "%sDRY RUN: actions are logged recommendations, "
				"nothing is done\n",
			   lead(&first));
	if (jtrue(mit, "held")) {
		buf_printf(out, "%sHELD: %s\n", lead(&first),
			   jstr_or(mit, "hold_reason", "(no reason given)"));
		buf_printf(out, "%s  no automatic action until a person "
				"releases it: umbra release %s --note 'what "
				"was done'\n",
			   lead(&first), config_file);
	}
	if (jtrue(mit, "verifying"))
		buf_printf(out, "%sverifying a rollback: %s must recover by %s\n",
			   lead(&first), jstr_or(mit, "verify_metric", "the metric"),
			   cmd_fmt_api_time(jstr(mit, "verify_deadline"), t));
	if (json_object_get(mit, "snapshots") && !jtrue(mit, "snapshots")) {
		buf_printf(out, "%sconfig snapshots off (production.config_dir "
				"not set): no rollback\n",
			   lead(&first));
	} else if (jtrue(mit, "snapshots")) {
		const char *cur = jstr_or(mit, "snapshot", "-");
		const char *good = jstr_or(mit, "known_good", "");
		buf_printf(out, "%sconfig snapshot %.12s current, ", lead(&first), cur);
		if (!good[0])
			buf_puts(out, "none known-good yet");
		else if (!strcmp(good, cur))
			buf_puts(out, "known-good");
		else
			buf_printf(out, "known-good %.12s (the rollback target)",
				   good);
		if (jstr(mit, "clean_since"))
			buf_printf(out, "; clean since %s",
				   cmd_fmt_api_time(jstr(mit, "clean_since"), a));
		buf_putc(out, '\n');
	}
	if (last) {
		json_t *d = json_object_get(last, "detail");
		const char *what = jstr_or(d, "detail", "");
		buf_printf(out, "%slast action %s: %s %s%s%s%s\n", lead(&first),
			   cmd_fmt_api_time(jstr(last, "time"), t),
			   jstr_or(last, "kind", "-"),
			   jstr_or(last, "outcome", "-"), what[0] ? " (" : "",
			   what, what[0] ? ")" : "");
	} else {
		buf_printf(out, "%sno action in the last %s\n", lead(&first),
			   CMD_LAST_ACTION_WINDOW);
	}
	double x;
	buf_puts(out, lead(&first));
	if (jnum(mit, "replicas_desired", &x) && x > 0)
		buf_printf(out, "replicas desired %.0f; ", x);
	if (jnum(mit, "capacity_rps", &x))
		buf_printf(out, "capacity %.1f req/s per replica", x);
	else
		buf_puts(out, "capacity unknown (no stress test yet)");
	buf_printf(out, "; load forecast %s\n",
		   jtrue(mit, "forecast_trusted") ? "trusted" : "not trusted yet");
	buf_printf(out, "%s%.0f alert%s firing; stress test %s; %.0f action%s "
			"in the last hour\n",
		   lead(&first), jnum_or(mit, "alerts_firing", 0),
		   jnum_or(mit, "alerts_firing", 0) == 1 ? "" : "s",
		   jstr_or(mit, "stress", "-"),
		   jnum_or(mit, "actions_last_hour", 0),
		   jnum_or(mit, "actions_last_hour", 0) == 1 ? "" : "s");
	if (jnum(mit, "audit_errors", &x) && x > 0)
		buf_printf(out, "%s! %.0f audit record%s could not be stored "
				"(see the daemon's log)\n",
			   lead(&first), x, x == 1 ? "" : "s");
}

json_t *cmd_last_action(json_t *arr)
{
	json_t *best = NULL;
	const char *bt = "";
	json_int_t bid = 0;
	size_t i;
	json_t *row;
	json_array_foreach(arr, i, row)
	{
		rec_t k = rec_of(row);
		if (k != REC_ACTION && k != REC_OUTCOME)
			continue;
		const char *t = jstr_or(row, "time", "");
		json_int_t id = json_integer_value(json_object_get(row, "id"));
		int c = strcmp(t, bt);
		if (!best || c > 0 || (c == 0 && id > bid)) {
			best = row;
			bt = t;
			bid = id;
		}
	}
	return best;
}

/* The metrics with an open finding, "cpu (critical), ...". */
static void status_open(json_t *an, buf_t *out)
{
	buf_t names = BUF_INIT;
	size_t n = 0;
	const char *name;
	json_t *m;
	json_object_foreach(an, name, m)
	{
		const char *open = jstr_or(m, "open", "none");
		if (!strcmp(open, "none"))
			continue;
		buf_printf(&names, "%s%s (%s)", n++ ? ", " : "", name, open);
	}
	if (n)
		buf_printf(out, "  findings    %zu open: %s (umbra findings "
				"--open)\n",
			   n, names.data);
	else
		buf_puts(out, "  findings    none open\n");
	buf_free(&names);
}

/* The warm-up (no finding until it ends) and the identity fields left
 * out of the comparison, when there is something to say. */
static void status_learning(json_t *st, buf_t *out)
{
	if (jtrue(st, "analysis_warming")) {
		double left = 0;
		const char *name;
		json_t *m;
		json_object_foreach(json_object_get(st, "analysis"), name, m)
		{
			double l = jnum_or(m, "warmup_left_s", 0);
			left = l > left ? l : left;
		}
		buf_printf(out, "  warm-up     learning what normal looks like: "
				"no finding for up to %.0f s more\n",
			   left);
	}
	const char *id = jstr(st, "identity");
	if (id && strcmp(id, "none"))
		buf_printf(out, "  identity    %s: left out of the comparison\n",
			   id);
}

bool cmd_render_status(json_t *st, json_t *last, const char *config_file,
		       buf_t *out)
{
	json_t *mit = json_object_get(st, "mitigation");
	buf_t crit = BUF_INIT, body = BUF_INIT;
	char up[CMD_AGE_LEN];
	buf_printf(&body, "  uptime      %s (%.0f analysis ticks, %.0f "
			  "finding%s raised)\n",
		   cmd_fmt_age(jnum_or(st, "uptime_s", NAN), up),
		   jnum_or(st, "ticks", 0), jnum_or(st, "findings", 0),
		   jnum_or(st, "findings", 0) == 1 ? "" : "s");
	buf_t degraded = BUF_INIT;
	status_side(st, "production", jnum_or(mit, "replicas_desired", 0),
		    &body, &degraded);
	status_side(st, "shadow", 0, &body, &degraded);
	if (json_is_object(json_object_get(st, "baseline")))
		status_side(st, "baseline", 0, &body, &degraded);
	status_traffic(json_object_get(st, "proxy"), &body);
	double drift;
	if (jnum(st, "drifting_files", &drift) && drift > 0)
		buf_printf(&body, "  drift       %.0f config file%s "
				  "between production and shadow\n",
			   drift, drift == 1 ? " differs" : "s differ");
	status_open(json_object_get(st, "analysis"), &body);
	status_learning(st, &body);
	status_analysis(json_object_get(st, "analysis"), &body, &crit);
	if (json_is_object(mit))
		status_mitigation(mit, last, config_file, &body);
	bool held = jtrue(mit, "held");
	bool attention = held || crit.len;
	buf_printf(out, "%s: %s", jstr_or(st, "service", "?"),
		   attention	    ? "ATTENTION"
		   : degraded.len ? "DEGRADED"
				    : "OK");
	if (held)
		buf_puts(out, ": automatic actions held");
	if (crit.len)
		buf_printf(out, "%scritical finding on %s", held ? "; " : ": ",
			   crit.data);
	if (degraded.len)
		buf_printf(out, "%s%s", attention ? "; " : ": ", degraded.data);
	attention = attention || degraded.len;
	if (!attention && jtrue(mit, "verifying"))
		buf_puts(out, " (verifying a rollback)");
	if (jtrue(mit, "dry_run"))
		buf_puts(out, " (dry run)");
	buf_putc(out, '\n');
	buf_append(out, body.data, body.len);
	buf_free(&body);
	buf_free(&crit);
	buf_free(&degraded);
	return attention;
}

/* ------------------------------------------------------------ lists */

void cmd_render_findings(json_t *arr, const char *window, buf_t *out)
{
	size_t n;
	row_t *r = rows_sorted(arr, "time", &n);
	if (!n) {
		buf_printf(out, "no findings %s\n", window);
		free(r);
		return;
	}
	buf_printf(out, "%-20s  %-13s %-9s %s\n", "TIME (UTC)", "METRIC",
		   "SEVERITY", "SUMMARY");
	for (size_t i = 0; i < n; i++) {
		char t[CMD_TIME_LEN];
		buf_printf(out, "%-20s  %-13s %-9s %s\n",
			   cmd_fmt_api_time(jstr(r[i].j, "time"), t),
			   jstr_or(r[i].j, "metric", "-"),
			   jstr_or(r[i].j, "severity", "-"),
			   jstr_or(r[i].j, "summary", "-"));
	}
	free(r);
}

void cmd_render_events(json_t *arr, const char *window, buf_t *out)
{
	size_t n;
	row_t *r = rows_sorted(arr, "start", &n);
	if (!n) {
		buf_printf(out, "no events %s\n", window);
		free(r);
		return;
	}
	buf_printf(out, "%-20s  %-20s  %-13s %-10s  %s\n", "START (UTC)", "END",
		   "TYPE", "SIDE", "TEXT");
	for (size_t i = 0; i < n; i++) {
		json_t *e = r[i].j;
		const char *start = jstr_or(e, "start", ""),
			   *end = jstr_or(e, "end", "");
		char ts[CMD_TIME_LEN], te[CMD_TIME_LEN];
		cmd_fmt_api_time(start, ts);
		if (!strcmp(start, end))
			snprintf(te, sizeof(te), "-");
		else
			cmd_fmt_api_time(end, te);
		buf_printf(out, "%-20s  %-20s  %-13s %-10s  %s\n", ts, te,
			   jstr_or(e, "type", "-"), jstr_or(e, "side", "-"),
			   jstr_or(e, "text", ""));
	}
	free(r);
}

void cmd_render_event(json_t *ev, buf_t *out)
{
	char ts[CMD_TIME_LEN], te[CMD_TIME_LEN];
	const char *start = jstr_or(ev, "start", ""),
		   *end = jstr_or(ev, "end", "");
	buf_printf(out, "recorded %s on %s at %s", jstr_or(ev, "type", "?"),
		   jstr_or(ev, "side", "both"), cmd_fmt_api_time(start, ts));
	if (end[0] && strcmp(start, end))
		buf_printf(out, " until %s", cmd_fmt_api_time(end, te));
	buf_printf(out, ": %s\n", jstr_or(ev, "text", "(no text)"));
}

void cmd_render_notes(json_t *notes, buf_t *out)
{
	size_t i;
	json_t *n;
	json_array_foreach(notes, i, n)
	{
		char t[CMD_TIME_LEN];
		buf_printf(out, "%6" JSON_INTEGER_FORMAT "  %-20s  %-9s %s\n",
			   json_integer_value(json_object_get(n, "seq")),
			   cmd_fmt_api_time(jstr(n, "time"), t),
			   jstr_or(n, "kind", "-"), jstr_or(n, "text", ""));
	}
}

/* ------------------------------------------------------------ actions */

/* detail.KEY as an engine id; 0 when absent. */
static json_int_t detail_id(json_t *row, const char *key)
{
	return json_integer_value(
		json_object_get(json_object_get(row, "detail"), key));
}

/* The row of record kind k whose engine id is id, or NULL. */
static json_t *find_rec(const row_t *r, size_t n, rec_t k, json_int_t id)
{
	for (size_t i = 0; id && i < n; i++)
		if (rec_of(r[i].j) == k && detail_id(r[i].j, "id") == id)
			return r[i].j;
	return NULL;
}

/* One row; its time is shown when it differs from the group's head. */
static void action_row(json_t *row, rec_t k, const char *head_time,
		       buf_t *out)
{
	char t[CMD_TIME_LEN];
	const char *time = jstr_or(row, "time", "");
	cmd_fmt_api_time(time, t);
	const char *shown = strcmp(time, head_time) ? t : "";
	json_t *d = json_object_get(row, "detail");
	const char *what = jstr_or(d, "detail", "");
	const char *dry = jtrue(row, "dry_run") ? "  [dry run]" : "";
	if (k == REC_DECISION) {
		buf_printf(out, "%-20s  decision     %s", shown,
			   jstr_or(row, "reason", "-"));
		if (jstr(d, "actions"))
			buf_printf(out, " -> %s", jstr(d, "actions"));
		double f = jnum_or(row, "finding", 0);
		if (f > 0)
			buf_printf(out, "  (finding %.0f)", f);
		buf_printf(out, "%s\n", dry);
	} else if (k == REC_ACTION) {
		buf_printf(out, "%-20s    action     %s %s%s%s%s\n", shown,
			   jstr_or(row, "kind", "-"), jstr_or(row, "outcome", "-"),
			   what[0] ? ": " : "", what, dry);
	} else if (k == REC_OUTCOME) {
		buf_printf(out, "%-20s      outcome  %s %s%s%s%s\n", shown,
			   jstr_or(row, "kind", "-"), jstr_or(row, "outcome", "-"),
			   what[0] ? ": " : "", what, dry);
	} else {
		buf_printf(out, "%-20s  %-12s %s %s%s\n", shown,
			   jstr_or(row, "kind", "-"), jstr_or(row, "outcome", "-"),
			   jstr_or(row, "reason", ""), dry);
	}
}

/* An action row and every outcome of it, in time order. */
static void action_chain(const row_t *r, size_t n, json_t *act,
			 const char *head_time, buf_t *out)
{
	action_row(act, REC_ACTION, head_time, out);
	json_int_t id = detail_id(act, "id");
	for (size_t i = n; id && i-- > 0;) /* r is newest first */
		if (rec_of(r[i].j) == REC_OUTCOME &&
		    detail_id(r[i].j, "action") == id)
			action_row(r[i].j, REC_OUTCOME, head_time, out);
}

void cmd_render_actions(json_t *arr, const char *window, buf_t *out)
{
	size_t n;
	row_t *r = rows_sorted(arr, "time", &n);
	if (!n) {
		buf_printf(out, "no decisions or actions %s\n", window);
		free(r);
		return;
	}
	buf_printf(out, "%-20s  %-12s %s\n", "TIME (UTC)", "RECORD",
		   "WHAT (newest decision first; its actions and their "
		   "outcomes below it)");
	/* A group's head: a decision, or a row whose parent is older than
	 * the window. Heads come newest first, their chains in time order. */
	for (size_t i = 0; i < n; i++) {
		json_t *row = r[i].j;
		rec_t k = rec_of(row);
		const char *t = jstr_or(row, "time", "");
		if (k == REC_DECISION) {
			action_row(row, k, "", out);
			json_int_t id = detail_id(row, "id");
			for (size_t j = n; id && j-- > 0;)
				if (rec_of(r[j].j) == REC_ACTION &&
				    detail_id(r[j].j, "decision") == id)
					action_chain(r, n, r[j].j, t, out);
		} else if (k == REC_ACTION &&
			   !find_rec(r, n, REC_DECISION,
				     detail_id(row, "decision"))) {
			buf_printf(out, "%-20s  (its decision is older than "
					"the window)\n",
				   "");
			action_chain(r, n, row, "", out);
		} else if (k == REC_OUTCOME &&
			   !find_rec(r, n, REC_ACTION,
				     detail_id(row, "action"))) {
			buf_printf(out, "%-20s  (its action is older than the "
					"window)\n",
				   "");
			action_row(row, k, "", out);
		} else if (k == REC_OTHER) {
			action_row(row, k, "", out);
		}
	}
	free(r);
}
