/*
 * expo.c: the Prometheus text format writer and umbra's families (see
 * expo.h). Format: https://prometheus.io/docs/instrumenting/exposition_formats/
 * (text format 0.0.4): "# HELP name text" (\\ and \n escaped),
 * "# TYPE name type", then `name{label="value",...} value` lines, label
 * values with \\, \" and \n escaped.
 */
#include "metrics/expo.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void metrics_expo_init(metrics_expo_t *e, buf_t *out)
{
	memset(e, 0, sizeof(*e));
	e->out = out;
}

int metrics_expo_done(metrics_expo_t *e)
{
	for (size_t i = 0; i < e->nseen; i++)
		free(e->seen[i]);
	free(e->seen);
	e->seen = NULL;
	e->nseen = 0;
	return e->err;
}

static bool name_char(char c, bool first, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

bool metrics_expo_valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= METRICS_EXPO_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(name[i], i == 0, true))
			return false;
	return true;
}

bool metrics_expo_valid_label(const char *label)
{
	size_t n = strlen(label);
	if (n == 0 || n >= METRICS_EXPO_NAME_MAX ||
	    strncmp(label, "__", 2) == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(label[i], i == 0, false))
			return false;
	return true;
}

static int fail(metrics_expo_t *e, int rc)
{
	if (!e->err)
		e->err = rc;
	return rc;
}

int metrics_expo_family(metrics_expo_t *e, const char *name,
			metrics_expo_type_t type, const char *help)
{
	e->family[0] = '\0';
	if (!metrics_expo_valid_name(name))
		return fail(e, ERR_INVAL);
	for (size_t i = 0; i < e->nseen; i++)
		if (strcmp(e->seen[i], name) == 0)
			return fail(e, ERR_EXISTS);
	e->seen = xreallocarray(e->seen, e->nseen + 1, sizeof(char *));
	e->seen[e->nseen++] = xstrdup(name);
	snprintf(e->family, sizeof(e->family), "%s", name);
	e->type = type;
	buf_printf(e->out, "# HELP %s ", name);
	for (const char *p = help ? help : ""; *p; p++) {
		if (*p == '\\')
			buf_puts(e->out, "\\\\");
		else if (*p == '\n')
			buf_puts(e->out, "\\n");
		else
			buf_putc(e->out, *p);
	}
	static const char *const types[] = {"counter", "gauge", "histogram"};
	buf_printf(e->out, "\n# TYPE %s %s\n", name, types[type]);
	return 0;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	size_t len;
	uint32_t cp;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static void put_label_value(buf_t *b, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strlen(v);
	if (n > METRICS_EXPO_VALUE_MAX)
		n = METRICS_EXPO_VALUE_MAX;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len(p + i, n - i);
		if (l == 0) {
			buf_putc(b, '?');
			i++;
			continue;
		}
		if (p[i] == '\\')
			buf_puts(b, "\\\\");
		else if (p[i] == '"')
			buf_puts(b, "\\\"");
		else if (p[i] == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, p + i, l);
		i += l;
	}
}

/* The shortest text that reads back as v. */
static void put_value(buf_t *b, double v)
{
	if (isnan(v)) {
		buf_puts(b, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char s[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	buf_puts(b, s);
}

int metrics_expo_sample(metrics_expo_t *e, const char *suffix,
			const metrics_label_t *labels, size_t n, double v)
{
	if (!e->family[0])
		return fail(e, ERR_BADSTATE);
	if (n > METRICS_EXPO_LABELS_MAX)
		return fail(e, ERR_INVAL);
	for (size_t i = 0; i < n; i++)
		if (!metrics_expo_valid_label(labels[i].name))
			return fail(e, ERR_INVAL);
	char name[METRICS_EXPO_NAME_MAX + 16];
	snprintf(name, sizeof(name), "%s%s", e->family, suffix ? suffix : "");
	if (!metrics_expo_valid_name(name))
		return fail(e, ERR_INVAL);
	buf_puts(e->out, name);
	if (n) {
		buf_putc(e->out, '{');
		for (size_t i = 0; i < n; i++) {
			buf_printf(e->out, "%s%s=\"", i ? "," : "",
				   labels[i].name);
			put_label_value(e->out, labels[i].value
							? labels[i].value
							: "");
			buf_putc(e->out, '"');
		}
		buf_putc(e->out, '}');
	}
	buf_putc(e->out, ' ');
	put_value(e->out, v);
	buf_putc(e->out, '\n');
	return 0;
}

/* ------------------------------------------------------------ families */

void metrics_expose_samples(metrics_expo_t *e, const char *service,
			    const metrics_sample_t *const side[METRICS_SIDES])
{
	for (int m = 0; m < METRICS__COUNT; m++) {
		bool any = false;
		for (int s = 0; s < METRICS_SIDES; s++)
			any |= side[s] && !isnan(side[s]->v[m]);
		if (!any)
			continue;
		const metrics_info_t *in = metrics_info((metrics_id_t)m);
		char help[256];
		snprintf(help, sizeof(help), "%s (metric %s, last tick)",
			 in->doc, in->name);
		metrics_expo_family(e, in->prom, METRICS_EXPO_GAUGE, help);
		for (int s = 0; s < METRICS_SIDES; s++) {
			if (!side[s] || isnan(side[s]->v[m]))
				continue;
			metrics_label_t l[2] = {{"service", service},
						{"side", metrics_side_name(s)}};
			metrics_expo_sample(e, "", l, 2, side[s]->v[m]);
		}
	}
}

typedef struct total_def {
	const char *name, *help, *mode;
	size_t off;  /* of the double in metrics_totals_t */
	bool net;    /* only sides with namespace counters */
	bool cont;   /* same family as the previous entry */
} total_def_t;

#define TOFF(f) offsetof(metrics_totals_t, f)

void metrics_expose_totals(metrics_expo_t *e, const char *service,
			   const metrics_totals_t *const side[METRICS_SIDES])
{
	static const total_def_t defs[] = {
		{"umbra_cpu_seconds_total",
		 "CPU seconds used by the side's processes, by mode", "user",
		 TOFF(cpu_user_s), false, false},
		{"umbra_cpu_seconds_total", NULL, "system", TOFF(cpu_system_s),
		 false, true},
		{"umbra_disk_read_bytes_total",
		 "bytes the side read from storage", NULL,
		 TOFF(disk_read_bytes), false, false},
		{"umbra_disk_written_bytes_total",
		 "bytes the side wrote to storage", NULL,
		 TOFF(disk_write_bytes), false, false},
		{"umbra_context_switches_total",
		 "context switches of the side's processes", NULL,
		 TOFF(ctx_switches), false, false},
		{"umbra_network_receive_bytes_total",
		 "bytes received in the side's network namespace", NULL,
		 TOFF(net_rx_bytes), true, false},
		{"umbra_network_transmit_bytes_total",
		 "bytes sent from the side's network namespace", NULL,
		 TOFF(net_tx_bytes), true, false},
	};
	size_t nd = sizeof(defs) / sizeof(defs[0]);
	for (size_t i = 0; i < nd; i++) {
		const total_def_t *d = &defs[i];
		bool any = false;
		for (int s = 0; s < METRICS_SIDES; s++)
			any |= side[s] &&
			       (d->net ? side[s]->has_net : side[s]->has_proc);
		if (!any)
			continue;
		if (!d->cont)
			metrics_expo_family(e, d->name, METRICS_EXPO_COUNTER,
					    d->help);
		/* the next entries of one family come right after it */
		for (size_t k = i; k < nd && (k == i || defs[k].cont); k++) {
			for (int s = 0; s < METRICS_SIDES; s++) {
				const metrics_totals_t *t = side[s];
				if (!t || !(d->net ? t->has_net : t->has_proc))
					continue;
				double v;
				memcpy(&v, (const char *)t + defs[k].off,
				       sizeof(v));
				metrics_label_t l[3] = {
					{"service", service},
					{"side", metrics_side_name(s)},
					{"mode", defs[k].mode}};
				metrics_expo_sample(e, "", l,
						    defs[k].mode ? 3 : 2, v);
			}
		}
		while (i + 1 < nd && defs[i + 1].cont)
			i++;
	}
}

typedef enum {
	RQ_REQUESTS,
	RQ_ERRORS,
	RQ_COMPARED,
	RQ_DIFFER,
	RQ_ABORTS
} rq_t;

static uint64_t rq_value(const metrics_req_totals_t *t, rq_t k)
{
	switch (k) {
	case RQ_REQUESTS: return t->requests;
	case RQ_ERRORS: return t->errors;
	case RQ_COMPARED: return t->compared;
	case RQ_ABORTS: return t->client_aborts;
	default: return t->differ;
	}
}

void metrics_expose_requests(metrics_expo_t *e, const char *service,
			     const metrics_agg_t *agg)
{
	static const struct {
		const char *name, *help;
		bool compared_only;
	} per_ep[] = {
		{"umbra_requests_total", "requests completed, by endpoint",
		 false},
		{"umbra_request_errors_total",
		 "requests without a usable response or with a 5xx status",
		 false},
		{"umbra_responses_compared_total",
		 "shadow or baseline responses compared with production's",
		 true},
		{"umbra_responses_differ_total",
		 "compared responses that differ (noise excluded)", true},
		{"umbra_client_aborts_total",
		 "requests whose client left before the response ended (not "
		 "errors)",
		 false},
	};
	uint32_t lim = metrics_agg_endpoint_limit(agg);
	for (int k = 0; k < (int)(sizeof(per_ep) / sizeof(*per_ep)); k++) {
		bool fam = false;
		for (int s = 0; s < METRICS_SIDES; s++) {
			if (per_ep[k].compared_only && s == REQREC_PRODUCTION)
				continue;
			if (!metrics_agg_totals(agg, s, UINT32_MAX))
				continue;
			for (uint32_t id = 0; id < lim; id++) {
				const metrics_req_totals_t *t =
					metrics_agg_totals(agg, s, id);
				if (!t || t->requests == 0)
					continue;
				if (!fam) {
					metrics_expo_family(
						e, per_ep[k].name,
						METRICS_EXPO_COUNTER,
						per_ep[k].help);
					fam = true;
				}
				const char *ep =
					metrics_agg_endpoint_name(agg, id);
				char idbuf[24];
				if (!ep) {
					snprintf(idbuf, sizeof(idbuf), "#%u",
						 id);
					ep = idbuf;
				}
				metrics_label_t l[3] = {
					{"service", service},
					{"side", metrics_side_name(s)},
					{"endpoint", ep}};
				metrics_expo_sample(e, "", l, 3,
						    (double)rq_value(t, k));
			}
		}
	}
	static const struct {
		const char *name, *help;
		bool resp;
	} bytes[] = {
		{"umbra_request_bytes_total",
		 "request bytes the proxy sent to the side", false},
		{"umbra_response_bytes_total",
		 "response bytes the proxy received from the side", true},
	};
	static const double bounds[METRICS_AGG_NPROM] =
		METRICS_AGG_PROM_BUCKETS;
	bool any = false;
	for (int s = 0; s < METRICS_SIDES; s++)
		any |= metrics_agg_totals(agg, s, UINT32_MAX) != NULL;
	if (any) {
		for (int k = 0; k < 2; k++) {
			metrics_expo_family(e, bytes[k].name,
					    METRICS_EXPO_COUNTER, bytes[k].help);
			for (int s = 0; s < METRICS_SIDES; s++) {
				const metrics_req_totals_t *t =
					metrics_agg_totals(agg, s, UINT32_MAX);
				if (!t)
					continue;
				metrics_label_t l[2] = {
					{"service", service},
					{"side", metrics_side_name(s)}};
				metrics_expo_sample(
					e, "", l, 2,
					(double)(bytes[k].resp ? t->resp_bytes
							       : t->req_bytes));
			}
		}
		metrics_expo_family(e, "umbra_request_duration_seconds",
				    METRICS_EXPO_HISTOGRAM,
				    "request latency, first request byte to "
				    "last response byte (requests with a "
				    "response or a timeout)");
		for (int s = 0; s < METRICS_SIDES; s++) {
			const metrics_req_totals_t *t =
				metrics_agg_totals(agg, s, UINT32_MAX);
			if (!t)
				continue;
			uint64_t cum = 0;
			for (int b = 0; b <= METRICS_AGG_NPROM; b++) {
				char le[32];
				if (b < METRICS_AGG_NPROM) {
					cum += t->buckets[b];
					snprintf(le, sizeof(le), "%g",
						 bounds[b]);
				} else {
					cum = t->latency_count;
					snprintf(le, sizeof(le), "+Inf");
				}
				metrics_label_t l[3] = {
					{"service", service},
					{"side", metrics_side_name(s)},
					{"le", le}};
				metrics_expo_sample(e, "_bucket", l, 3,
						    (double)cum);
			}
			metrics_label_t l[2] = {{"service", service},
						{"side", metrics_side_name(s)}};
			metrics_expo_sample(e, "_sum", l, 2, t->latency_sum_s);
			metrics_expo_sample(e, "_count", l, 2,
					    (double)t->latency_count);
		}
	}
	metrics_expo_family(e, "umbra_request_records_invalid_total",
			    METRICS_EXPO_COUNTER,
			    "request records ignored for a bad side byte");
	metrics_label_t l[1] = {{"service", service}};
	metrics_expo_sample(e, "", l, 1, (double)metrics_agg_invalid(agg));
}

void metrics_expose_deviations(metrics_expo_t *e, const char *service,
			       const double dev[CONFIG_METRIC__COUNT])
{
	bool fam = false;
	for (int m = 0; m < CONFIG_METRIC__COUNT; m++) {
		if (isnan(dev[m]))
			continue;
		if (!fam) {
			metrics_expo_family(
				e, "umbra_deviation_ratio", METRICS_EXPO_GAUGE,
				"deviation |production - shadow| / production "
				"of each compared metric, normalised");
			fam = true;
		}
		metrics_label_t l[2] = {
			{"service", service},
			{"metric", config_metric_name((config_metric_t)m)}};
		metrics_expo_sample(e, "", l, 2, dev[m]);
	}
}
