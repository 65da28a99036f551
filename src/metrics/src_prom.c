/*
 * src_prom.c: the Prometheus metric source (see metrics.h). Each metric
 * with a query template is one instant query per side,
 * GET {url}/api/v1/query?query=...&time=..., over one reused libcurl
 * handle (keep-alive), bounded by the per-query timeout and by
 * METRICS_PROM_MAX_BODY. The answer is parsed with jansson.
 *
 * A failing query leaves its metric NaN for the tick; failures are logged
 * when a metric's state changes (not every tick), and when Prometheus is
 * unreachable the side's remaining queries are skipped for the tick so
 * that one dead server costs one timeout, not one per metric.
 */
#include "metrics/metrics.h"

#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_ERR_MAX 256 /* Prometheus' error message, for the log */

typedef struct prom {
	metrics_src_t base;
	char *url, *service;
	int64_t range_ns, timeout_ns;
	char *queries[METRICS__COUNT];
	CURL *curl;
	int last_rc[METRICS_SIDES][METRICS__COUNT]; /* for logging changes */
} prom_t;

/* ------------------------------------------------------------ templates */

/* Appends s to out, escaped for a PromQL double-quoted string. */
static int put_escaped(char *out, size_t cap, size_t *n, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			if (*n + 1 >= cap)
				return ERR_TOOBIG;
			out[(*n)++] = '\\';
		} else if (*s == '\n') {
			if (*n + 2 >= cap)
				return ERR_TOOBIG;
			out[(*n)++] = '\\';
			out[(*n)++] = 'n';
			continue;
		}
		if (*n + 1 >= cap)
			return ERR_TOOBIG;
		out[(*n)++] = *s;
	}
	return 0;
}

int metrics_prom_expand(const char *tmpl, const char *service,
			const char *side, int64_t range_ns, char *out,
			size_t cap)
{
	char range[32];
	if (range_ns % 1000000000 == 0)
		snprintf(range, sizeof(range), "%llds",
			 (long long)(range_ns / 1000000000));
	else
		snprintf(range, sizeof(range), "%lldms",
			 (long long)(range_ns / 1000000));
	size_t n = 0;
	if (cap == 0)
		return ERR_TOOBIG;
	for (const char *p = tmpl; *p;) {
		if (*p == '{') {
			size_t w = 0;
			while ((p[1 + w] >= 'a' && p[1 + w] <= 'z') ||
			       p[1 + w] == '_')
				w++;
			if (w > 0 && p[1 + w] == '}') {
				int rc;
				if (w == 7 && !strncmp(p + 1, "service", 7))
					rc = put_escaped(out, cap, &n, service);
				else if (w == 4 && !strncmp(p + 1, "side", 4))
					rc = put_escaped(out, cap, &n, side);
				else if (w == 5 && !strncmp(p + 1, "range", 5))
					rc = put_escaped(out, cap, &n, range);
				else
					return ERR_PARSE;
				if (rc)
					return rc;
				p += w + 2;
				continue;
			}
		}
		if (n + 1 >= cap)
			return ERR_TOOBIG;
		out[n++] = *p++;
	}
	out[n] = '\0';
	return 0;
}

/* ------------------------------------------------------------ answers */

static void set_err(char *errbuf, size_t errcap, const char *msg)
{
	if (errcap)
		snprintf(errbuf, errcap, "%s", msg ? msg : "");
}

/* [ts, "value"] -> value. */
static int sample_value(json_t *pair, double *out, const char **why)
{
	if (!json_is_array(pair) || json_array_size(pair) != 2 ||
	    !json_is_number(json_array_get(pair, 0))) {
		*why = "value is not [timestamp, \"number\"]";
		return ERR_PARSE;
	}
	json_t *v = json_array_get(pair, 1);
	if (!json_is_string(v)) {
		*why = "value is not a string";
		return ERR_PARSE;
	}
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (len == 0 || len > 64 || strlen(s) != len) {
		*why = "value is not a number";
		return ERR_PARSE;
	}
	/* Prometheus writes Go's 'f' format, "NaN", "+Inf" and "-Inf" */
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (end != s + len || (errno == ERANGE && isfinite(d) && d != 0)) {
		*why = "value is not a number";
		return ERR_PARSE;
	}
	*out = d;
	return 0;
}

int metrics_prom_parse(const char *body, size_t len, double *value,
		       const char **why, char *errbuf, size_t errcap)
{
	set_err(errbuf, errcap, "");
	if (len > METRICS_PROM_MAX_BODY) {
		*why = "answer too large";
		return ERR_PARSE;
	}
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		*why = "answer is not JSON";
		return ERR_PARSE;
	}
	int rc = ERR_PARSE;
	json_t *status = json_object_get(root, "status");
	json_t *data = json_object_get(root, "data");
	if (!json_is_object(root) || !json_is_string(status)) {
		*why = "answer has no status";
		goto out;
	}
	if (strcmp(json_string_value(status), "success") != 0) {
		json_t *e = json_object_get(root, "error");
		set_err(errbuf, errcap,
			json_is_string(e) ? json_string_value(e) : NULL);
		*why = "Prometheus reported an error";
		goto out;
	}
	json_t *type = json_object_get(data, "resultType");
	json_t *result = json_object_get(data, "result");
	if (!json_is_object(data) || !json_is_string(type) || !result) {
		*why = "answer has no data.resultType/result";
		goto out;
	}
	const char *t = json_string_value(type);
	if (strcmp(t, "scalar") == 0) {
		rc = sample_value(result, value, why);
	} else if (strcmp(t, "vector") == 0) {
		if (!json_is_array(result)) {
			*why = "vector result is not an array";
			goto out;
		}
		size_t n = json_array_size(result);
		if (n == 0) {
			rc = ERR_NOTFOUND;
			goto out;
		}
		if (n > 1) {
			*why = "query returned more than one series; aggregate "
			       "it (sum, max, ...)";
			goto out;
		}
		json_t *el = json_array_get(result, 0);
		if (!json_is_object(el)) {
			*why = "vector element is not an object";
			goto out;
		}
		rc = sample_value(json_object_get(el, "value"), value, why);
	} else {
		*why = "result is not a scalar or an instant vector";
	}
out:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------ HTTP */

typedef struct body {
	char *data;
	size_t len, cap;
	bool too_big;
} body_t;

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	body_t *b = arg;
	size_t n = size * nmemb;
	if (b->len + n > METRICS_PROM_MAX_BODY) {
		b->too_big = true;
		return 0; /* makes curl fail the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xreallocarray(b->data, cap, 1);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* One query; 0 with *value, ERR_NOTFOUND (no data), or an error with
 * *why / errbuf saying what. */
static int query(prom_t *pr, const char *promql, int64_t now_ns,
		 double *value, const char **why, char *errbuf, size_t errcap)
{
	char *esc = curl_easy_escape(pr->curl, promql, 0);
	if (!esc)
		xmalloc_oom("curl_easy_escape");
	char *url = xasprintf("%s/api/v1/query?query=%s&time=%.3f", pr->url,
			      esc, (double)now_ns / 1e9);
	curl_free(esc);
	body_t b = {0};
	curl_easy_setopt(pr->curl, CURLOPT_URL, url);
	curl_easy_setopt(pr->curl, CURLOPT_WRITEDATA, &b);
	CURLcode cc = curl_easy_perform(pr->curl);
	free(url);
	int rc;
	long code = 0;
	if (cc != CURLE_OK) {
		set_err(errbuf, errcap, curl_easy_strerror(cc));
		*why = b.too_big ? "answer too large" : "request failed";
		rc = cc == CURLE_OPERATION_TIMEDOUT	 ? ERR_TIMEOUT
		     : cc == CURLE_COULDNT_CONNECT	 ? -ECONNREFUSED
		     : cc == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH
		     : b.too_big			 ? ERR_TOOBIG
							 : -EIO;
	} else {
		curl_easy_getinfo(pr->curl, CURLINFO_RESPONSE_CODE, &code);
		/* errors come as JSON with 400/422/503; parse those too */
		rc = metrics_prom_parse(b.data ? b.data : "", b.len, value,
					why, errbuf, errcap);
		if (rc == 0 && code != 200) {
			*why = "unexpected HTTP status";
			rc = -EIO;
		} else if (rc == ERR_PARSE && code != 200 && !errbuf[0]) {
			snprintf(errbuf, errcap, "HTTP %ld", code);
		}
	}
	free(b.data);
	return rc;
}

static int prom_sample(metrics_src_t *src, int side, int64_t now_ns,
		       metrics_sample_t *out)
{
	prom_t *pr = (prom_t *)src;
	metrics_sample_clear(out, now_ns);
	if (side < 0 || side >= METRICS_SIDES)
		return ERR_INVAL;
	const char *sname = metrics_side_name(side);
	int got = 0, last = ERR_NOTFOUND;
	for (int m = 0; m < METRICS__COUNT; m++) {
		if (!pr->queries[m])
			continue;
		char q[METRICS_PROM_MAX_QUERY];
		int rc = metrics_prom_expand(pr->queries[m], pr->service, sname,
					     pr->range_ns, q, sizeof(q));
		double v = NAN;
		const char *why = "query too long";
		char err[PROM_ERR_MAX] = "";
		if (rc == 0)
			rc = query(pr, q, now_ns, &v, &why, err, sizeof(err));
		if (rc == 0) {
			out->v[m] = v;
			got++;
		} else if (rc != ERR_NOTFOUND) {
			last = rc;
		}
		if (rc != pr->last_rc[side][m]) {
			if (rc == 0 || rc == ERR_NOTFOUND)
				log_info("metrics", "prometheus query ok again",
					 LF_S("metric",
					      metrics_info(m)->name),
					 LF_S("side", sname),
					 LF_B("data", rc == 0));
			else
				log_warn("metrics", "prometheus query failed",
					 LF_S("metric",
					      metrics_info(m)->name),
					 LF_S("side", sname),
					 LF_S("why", why), LF_S("error", err),
					 LF_S("query", q), LF_ERR("err", rc));
			pr->last_rc[side][m] = rc;
		}
		if (rc == -ECONNREFUSED || rc == ERR_TIMEOUT ||
		    rc == -EHOSTUNREACH)
			break; /* the server is not answering: one cost */
	}
	metrics_normalise(out);
	return got ? 0 : last;
}

static void prom_free(metrics_src_t *src)
{
	prom_t *pr = (prom_t *)src;
	if (pr->curl)
		curl_easy_cleanup(pr->curl);
	for (int m = 0; m < METRICS__COUNT; m++)
		free(pr->queries[m]);
	free(pr->url);
	free(pr->service);
	free(pr);
}

static const metrics_src_ops_t prom_ops = {"prometheus", prom_sample,
					   prom_free};

int metrics_src_prom_new(const metrics_prom_opts_t *opts,
			 metrics_src_t **out, const char **why)
{
	if (!opts->url || !opts->url[0]) {
		*why = "no Prometheus URL";
		return ERR_INVAL;
	}
	char tmp[METRICS_PROM_MAX_QUERY];
	for (int m = 0; m < METRICS__COUNT; m++) {
		const char *q = opts->queries[m];
		if (!q || !*q)
			continue;
		int rc = metrics_prom_expand(q, opts->service ? opts->service
							      : "",
					     "production", opts->range_ns, tmp,
					     sizeof(tmp));
		if (rc) {
			*why = rc == ERR_PARSE ? "unknown placeholder in a "
						 "query (expected {service}, "
						 "{side}, {range})"
					       : "query too long";
			return ERR_INVAL;
		}
	}
	pthread_once(&curl_once, curl_init);
	prom_t *pr = xcalloc(1, sizeof(*pr));
	pr->base.ops = &prom_ops;
	size_t ul = strlen(opts->url);
	while (ul > 0 && opts->url[ul - 1] == '/')
		ul--;
	pr->url = xstrndup(opts->url, ul);
	pr->service = xstrdup(opts->service ? opts->service : "");
	pr->range_ns = opts->range_ns > 0 ? opts->range_ns : 60000000000LL;
	pr->timeout_ns = opts->timeout_ns > 0 ? opts->timeout_ns
					      : 5000000000LL;
	for (int m = 0; m < METRICS__COUNT; m++)
		if (opts->queries[m] && opts->queries[m][0])
			pr->queries[m] = xstrdup(opts->queries[m]);
	pr->curl = curl_easy_init();
	if (!pr->curl)
		xmalloc_oom("curl_easy_init");
	long ms = (long)(pr->timeout_ns / 1000000);
	curl_easy_setopt(pr->curl, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1);
	curl_easy_setopt(pr->curl, CURLOPT_CONNECTTIMEOUT_MS, ms > 0 ? ms : 1);
	curl_easy_setopt(pr->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(pr->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(pr->curl, CURLOPT_USERAGENT, "umbra");
	curl_easy_setopt(pr->curl, CURLOPT_WRITEFUNCTION, on_data);
	*out = &pr->base;
	return 0;
}
