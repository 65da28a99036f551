/*
 * stats.c: the histogram, record filters and file summaries (stats.h).
 */
#include "capture/stats.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* --------------------------------------------------------------- histogram */

static size_t hist_index(uint64_t v)
{
	if (v < CAP_HIST_SUB)
		return (size_t)v;
	int e = 63 - __builtin_clzll(v); /* >= 5 */
	size_t sub = (size_t)(v >> (e - 5)) - CAP_HIST_SUB;
	size_t i = CAP_HIST_SUB + (size_t)(e - 5) * CAP_HIST_SUB + sub;
	return i < CAP_HIST_BUCKETS ? i : CAP_HIST_BUCKETS - 1;
}

/* The middle of bucket i. */
static uint64_t hist_value(size_t i)
{
	if (i < CAP_HIST_SUB)
		return i;
	size_t e = (i - CAP_HIST_SUB) / CAP_HIST_SUB + 5;
	size_t sub = (i - CAP_HIST_SUB) % CAP_HIST_SUB;
	uint64_t lo = (uint64_t)(CAP_HIST_SUB + sub) << (e - 5);
	return lo + ((1ULL << (e - 5)) >> 1);
}

void cap_hist_add(cap_hist_t *h, uint64_t v)
{
	h->c[hist_index(v)]++;
	h->n++;
	h->sum += (double)v;
	if (v > h->max)
		h->max = v;
}

uint64_t cap_hist_quantile(const cap_hist_t *h, double q)
{
	if (!h->n)
		return 0;
	if (q >= 1)
		return h->max;
	uint64_t rank = (uint64_t)(q * (double)h->n);
	if (rank >= h->n)
		rank = h->n - 1;
	uint64_t seen = 0;
	for (size_t i = 0; i < CAP_HIST_BUCKETS; i++) {
		seen += h->c[i];
		if (seen > rank) {
			uint64_t v = hist_value(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

void cap_hist_merge(cap_hist_t *into, const cap_hist_t *from)
{
	for (size_t i = 0; i < CAP_HIST_BUCKETS; i++)
		into->c[i] += from->c[i];
	into->n += from->n;
	into->sum += from->sum;
	if (from->max > into->max)
		into->max = from->max;
}

const char *cap_fmt_bytes(uint64_t n, char *out)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, 16, i ? "%.1f %s" : "%.0f %s", v, u[i]);
	return out;
}

/* --------------------------------------------------------------- filter */

#define FILTER_ALTS 32 /* alternatives in one filter */

typedef enum { FK_METHOD, FK_PATH, FK_HOST, FK_STATUS, FK_ENDPOINT } fkey_t;

typedef struct one {
	fkey_t key;
	bool negate;
	char *alt[FILTER_ALTS];
	size_t nalt;
	struct one *next;
} one_t;

struct cap_filter {
	one_t *head;
};

static const char *const fkey_names[] = {"method", "path", "host", "status",
					 "endpoint"};

int cap_filter_add(cap_filter_t **fp, const char *expr, char *err,
		   size_t errcap)
{
	const char *eq = strchr(expr, '=');
	if (!eq || eq == expr) {
		snprintf(err, errcap,
			 "bad filter '%s' (expected KEY=VALUE or KEY!=VALUE; "
			 "keys: method, path, host, status, endpoint)",
			 expr);
		return ERR_USAGE;
	}
	bool neg = eq[-1] == '!';
	size_t kl = (size_t)(eq - expr) - (neg ? 1 : 0);
	int key = -1;
	for (int i = 0; i < 5; i++)
		if (strlen(fkey_names[i]) == kl &&
		    strncasecmp(fkey_names[i], expr, kl) == 0)
			key = i;
	if (key < 0) {
		snprintf(err, errcap,
			 "unknown filter key '%.*s' (keys: method, path, host, "
			 "status, endpoint)",
			 (int)kl, expr);
		return ERR_USAGE;
	}
	one_t *o = xcalloc(1, sizeof(*o));
	o->key = (fkey_t)key;
	o->negate = neg;
	const char *v = eq + 1;
	while (*v) {
		size_t n = strcspn(v, ",");
		if (n && o->nalt < FILTER_ALTS)
			o->alt[o->nalt++] = xstrndup(v, n);
		v += n;
		if (*v == ',')
			v++;
	}
	bool bad = o->nalt == 0;
	for (size_t i = 0; i < o->nalt && o->key == FK_STATUS; i++) {
		const char *a = o->alt[i];
		bool cls = strlen(a) == 3 && a[0] >= '1' && a[0] <= '5' &&
			   tolower((unsigned char)a[1]) == 'x' &&
			   tolower((unsigned char)a[2]) == 'x';
		bool num = strlen(a) == 3 && isdigit((unsigned char)a[0]) &&
			   isdigit((unsigned char)a[1]) &&
			   isdigit((unsigned char)a[2]);
		if (!cls && !num && strcasecmp(a, "none") != 0)
			bad = true;
	}
	if (bad) {
		snprintf(err, errcap,
			 "bad filter '%s': %s", expr,
			 o->nalt ? "status takes 200, 2xx or none"
				 : "no value");
		for (size_t i = 0; i < o->nalt; i++)
			free(o->alt[i]);
		free(o);
		return ERR_USAGE;
	}
	if (!*fp)
		*fp = xcalloc(1, sizeof(**fp));
	o->next = (*fp)->head;
	(*fp)->head = o;
	return 0;
}

static bool match_one(const one_t *o, const cap_rec_t *rec,
		      const http_request_t *req, bool parsed)
{
	char buf[1024];
	const char *s = NULL;
	size_t sl = 0;
	switch (o->key) {
	case FK_METHOD:
		if (!parsed)
			return false;
		for (size_t i = 0; i < o->nalt; i++)
			if (strlen(o->alt[i]) == req->method_len &&
			    strncasecmp(o->alt[i], req->method,
					req->method_len) == 0)
				return true;
		return false;
	case FK_PATH:
		if (!parsed)
			return false;
		sl = strcspn(req->target, "?# \r\n");
		if (sl > req->target_len)
			sl = req->target_len;
		snprintf(buf, sizeof(buf), "%.*s", (int)sl, req->target);
		s = buf;
		break;
	case FK_HOST:
		if (!parsed || !req->host)
			return false;
		snprintf(buf, sizeof(buf), "%.*s", (int)req->host->value_len,
			 req->host->value);
		for (char *c = buf; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		s = buf;
		break;
	case FK_ENDPOINT:
		if (!parsed)
			return false;
		http_target_template(req->target, req->target_len, buf,
				     sizeof(buf));
		s = buf;
		break;
	case FK_STATUS: {
		int st = cap_resp_status(rec);
		for (size_t i = 0; i < o->nalt; i++) {
			const char *a = o->alt[i];
			if (strcasecmp(a, "none") == 0) {
				if (!st)
					return true;
			} else if (tolower((unsigned char)a[1]) == 'x') {
				if (st / 100 == a[0] - '0')
					return true;
			} else if (st == atoi(a)) {
				return true;
			}
		}
		return false;
	}
	}
	for (size_t i = 0; i < o->nalt; i++)
		if (fnmatch(o->alt[i], s,
			    o->key == FK_HOST ? FNM_CASEFOLD : 0) == 0)
			return true;
	return false;
}

bool cap_filter_match(const cap_filter_t *f, const cap_rec_t *rec)
{
	if (!f)
		return true;
	if (rec->kind != CAP_KIND_EXCHANGE)
		return false;
	http_header_t hdrs[128];
	http_request_t req;
	bool parsed = cap_parse_req(rec, &req, hdrs, 128) == 0;
	for (const one_t *o = f->head; o; o = o->next)
		if (match_one(o, rec, &req, parsed) == o->negate)
			return false;
	return true;
}

void cap_filter_free(cap_filter_t *f)
{
	if (!f)
		return;
	while (f->head) {
		one_t *o = f->head;
		f->head = o->next;
		for (size_t i = 0; i < o->nalt; i++)
			free(o->alt[i]);
		free(o);
	}
	free(f);
}

/* --------------------------------------------------------------- summary */

#define EP_BUCKETS 16384

typedef struct ep_node {
	struct ep_node *next;
	size_t idx;
} ep_node_t;

static size_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 31)) & (EP_BUCKETS - 1);
}

static int by_count(const void *a, const void *b)
{
	const cap_endpoint_stat_t *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->name, y->name);
}

int cap_summarize(const char *path, const cap_filter_t *f, cap_summary_t *s,
		  char *err, size_t errcap)
{
	memset(s, 0, sizeof(*s));
	cap_reader_t *r;
	int rc = cap_reader_open(path, &r, err, errcap);
	if (rc)
		return rc;
	s->meta = *cap_reader_meta(r);
	struct stat st;
	if (stat(path, &st) == 0)
		s->file_bytes = (uint64_t)st.st_size;
	ep_node_t **tab = xcalloc(EP_BUCKETS, sizeof(ep_node_t *));
	size_t cap = 0;
	cap_rec_t rec;
	http_header_t hdrs[128];
	while ((rc = cap_reader_next(r, &rec)) == 1) {
		if (rec.kind == CAP_KIND_LOSS) {
			s->loss_records++;
			for (int i = 0; i < CAP_LOSS__COUNT; i++)
				s->lost[i] += rec.loss[i];
			continue;
		}
		if (!cap_filter_match(f, &rec))
			continue;
		s->exchanges++;
		if (rec.source < CAP_SRC__COUNT)
			s->sources[rec.source]++;
		if (!s->first_ns || rec.req_ns < s->first_ns)
			s->first_ns = rec.req_ns;
		if (rec.req_ns > s->last_ns)
			s->last_ns = rec.req_ns;
		s->no_response += !!(rec.flags & CAP_RF_NO_RESPONSE);
		s->resp_partial += !!(rec.flags & CAP_RF_RESP_PARTIAL);
		s->req_trunc += !!(rec.flags & CAP_RF_REQ_TRUNC);
		s->resp_trunc += !!(rec.flags & CAP_RF_RESP_TRUNC);
		s->masked += !!(rec.flags & CAP_RF_MASKED);
		s->tunnels += !!(rec.flags & CAP_RF_TUNNEL);
		s->req_head_bytes += rec.req_head_len;
		s->req_body_bytes += rec.req_body_total;
		s->resp_head_bytes += rec.resp_head_len;
		s->resp_body_bytes += rec.resp_body_total;
		if (rec.req_body_total > s->req_body_max)
			s->req_body_max = rec.req_body_total;
		if (rec.resp_body_total > s->resp_body_max)
			s->resp_body_max = rec.resp_body_total;
		s->status[cap_resp_status(&rec)]++;
		uint64_t lat_us = (uint64_t)(rec.latency_ns / 1000);
		bool has_lat = !(rec.flags & (CAP_RF_NO_RESPONSE |
					      CAP_RF_RESP_PARTIAL));
		if (has_lat)
			cap_hist_add(&s->latency_us, lat_us);
		http_request_t req;
		char name[256];
		if (cap_parse_req(&rec, &req, hdrs, 128) == 0) {
			int n = snprintf(name, sizeof(name), "%.*s ",
					 (int)req.method_len, req.method);
			if (n < 0 || (size_t)n >= sizeof(name))
				n = 0;
			http_target_template(req.target, req.target_len,
					     name + n, sizeof(name) - (size_t)n);
		} else {
			s->unparseable++;
			snprintf(name, sizeof(name), "(unparseable)");
		}
		size_t h = str_hash(name);
		ep_node_t *e = tab[h];
		while (e && strcmp(s->endpoints[e->idx].name, name) != 0)
			e = e->next;
		if (!e) {
			if (s->nendpoints >= CAP_STATS_ENDPOINTS) {
				s->other_endpoints++;
				continue;
			}
			if (s->nendpoints == cap) {
				cap = cap ? cap * 2 : 64;
				s->endpoints = xreallocarray(
					s->endpoints, cap, sizeof(*s->endpoints));
			}
			e = xcalloc(1, sizeof(*e));
			e->idx = s->nendpoints++;
			memset(&s->endpoints[e->idx], 0,
			       sizeof(s->endpoints[0]));
			snprintf(s->endpoints[e->idx].name,
				 sizeof(s->endpoints[0].name), "%s", name);
			e->next = tab[h];
			tab[h] = e;
		}
		cap_endpoint_stat_t *es = &s->endpoints[e->idx];
		es->count++;
		es->req_bytes += rec.req_body_total;
		es->resp_bytes += rec.resp_body_total;
		if (has_lat) {
			es->with_latency++;
			es->latency_sum_us += lat_us;
			if (lat_us > es->latency_max_us)
				es->latency_max_us = lat_us;
		}
	}
	if (rc < 0)
		snprintf(s->error, sizeof(s->error), "%s", cap_reader_error(r));
	for (size_t i = 0; i < EP_BUCKETS; i++)
		while (tab[i]) {
			ep_node_t *e = tab[i];
			tab[i] = e->next;
			free(e);
		}
	free(tab);
	if (s->nendpoints)
		qsort(s->endpoints, s->nendpoints, sizeof(*s->endpoints),
		      by_count);
	cap_reader_close(r);
	return 0;
}

void cap_summary_free(cap_summary_t *s)
{
	free(s->endpoints);
	s->endpoints = NULL;
	s->nendpoints = 0;
}
