/*
 * compare.c: pairing and comparing responses (Diffy's idea, our rules).
 * A pair holds production's response and each copy's, captured as they
 * stream by: status, headers (connection-specific ones left out, names
 * lower-cased), the body up to mirror.compare.max_body and a SHA-256 of
 * all of it beyond that. When every side that was sent has answered (or
 * failed), the pair is compared once:
 *
 *   status, then headers as a multiset minus mirror.compare.ignore_headers,
 *   then the body: JSON structurally (jansson) with ignored paths and
 *   order-insensitive arrays, anything else byte for byte (or by digest).
 *
 * With a baseline (a second shadow on production's exact config), a
 * shadow difference that the baseline shows too (same reasons, and its
 * JSON paths among the baseline's) is noise, not a change. A side that
 * failed at the transport level is not compared (its error is recorded).
 */
#include "proxy/proxy_int.h"

#include "base/xmalloc.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMPARE_MAX_PATHS 16 /* differing JSON paths kept per comparison */
#define JSON_PATH_MAX 256

/* --------------------------------------------------------------- pairs */

pair_t *proxy__pair_new(worker_t *w, uint32_t endpoint, http_method_t m,
			int64_t start_ns)
{
	pair_t *p = xcalloc(1, sizeof(*p));
	p->refs = 1;
	p->id = ((uint64_t)w->id << 56) | ++w->pair_seq;
	p->endpoint = endpoint;
	p->method = (uint8_t)m;
	p->start_ns = start_ns;
	return p;
}

static void capture_free(worker_t *w, capture_t *c)
{
	w->captured -= c->body.len;
	buf_free(&c->headers);
	buf_free(&c->body);
	if (c->md)
		EVP_MD_CTX_free(c->md);
	c->md = NULL;
}

void proxy__pair_unref(worker_t *w, pair_t *p)
{
	if (--p->refs)
		return;
	for (int s = 0; s < PROXY_SIDE__COUNT; s++)
		capture_free(w, &p->side[s]);
	free(p);
}

void proxy__record(worker_t *w, const reqrec_t *r)
{
	if (!ring_push(w->ring, r))
		WC_INC(w, records_dropped);
}

/* --------------------------------------------------------------- capture */

static bool ignored_header(const proxy_rt_t *rt, const char *name, size_t n)
{
	for (size_t i = 0; i < rt->nignore_headers; i++)
		if (strlen(rt->ignore_headers[i]) == n &&
		    strncasecmp(rt->ignore_headers[i], name, n) == 0)
			return true;
	return false;
}

void proxy__capture_head(worker_t *w, capture_t *cap,
			 const http_response_t *r)
{
	cap->status = r->status;
	cap->headers.len = 0;
	cap->nheaders = 0;
	for (size_t i = 0; i < r->nheaders; i++) {
		const http_header_t *h = &r->headers[i];
		if (h->name_len == 14 &&
		    strncasecmp(h->name, "Content-Length", 14) == 0)
			continue; /* framing: compared through the body */
		if (http_is_hop_by_hop(h->name, h->name_len, r->headers,
				       r->nheaders) ||
		    ignored_header(w->rt, h->name, h->name_len))
			continue;
		if (cap->nheaders == PROXY_COMPARE_HEADERS)
			break;
		for (size_t k = 0; k < h->name_len; k++)
			buf_putc(&cap->headers,
				 (char)tolower((unsigned char)h->name[k]));
		buf_putc(&cap->headers, '\0');
		buf_append(&cap->headers, h->value, h->value_len);
		buf_putc(&cap->headers, '\0');
		cap->nheaders++;
		if (h->name_len == 12 &&
		    strncasecmp(h->name, "Content-Type", 12) == 0) {
			char ct[128];
			size_t n = h->value_len < sizeof(ct) - 1 ? h->value_len
								 : sizeof(ct) - 1;
			for (size_t k = 0; k < n; k++)
				ct[k] = (char)tolower((unsigned char)h->value[k]);
			ct[n] = '\0';
			cap->json = strstr(ct, "application/json") ||
				    strstr(ct, "+json");
		}
	}
}

void proxy__capture_body(worker_t *w, capture_t *cap, const char *d,
			 size_t n)
{
	uint64_t max = w->rt->compare_max_body;
	cap->body_len += n;
	if (!cap->md && cap->body.len + n <= max &&
	    w->captured + n <= PROXY_CAPTURE_BUDGET) {
		buf_append(&cap->body, d, n);
		w->captured += n;
		return;
	}
	if (!cap->md) {
		/* Past the cap: from here the body is compared by digest. */
		cap->md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(cap->md, EVP_sha256(), NULL);
		EVP_DigestUpdate(cap->md, cap->body.data, cap->body.len);
		cap->body_truncated = true;
	}
	EVP_DigestUpdate(cap->md, d, n);
}

/* --------------------------------------------------------------- headers */

typedef struct {
	const char *name, *value;
} hv_t;

static int hv_cmp(const void *a, const void *b)
{
	const hv_t *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static size_t headers_of(const capture_t *c, hv_t *out)
{
	const char *p = c->headers.data;
	for (size_t i = 0; i < c->nheaders; i++) {
		out[i].name = p;
		p += strlen(p) + 1;
		out[i].value = p;
		p += strlen(p) + 1;
	}
	qsort(out, c->nheaders, sizeof(hv_t), hv_cmp);
	return c->nheaders;
}

static bool headers_differ(const capture_t *a, const capture_t *b)
{
	if (a->nheaders != b->nheaders)
		return true;
	hv_t x[PROXY_COMPARE_HEADERS], y[PROXY_COMPARE_HEADERS];
	size_t n = headers_of(a, x);
	headers_of(b, y);
	for (size_t i = 0; i < n; i++)
		if (hv_cmp(&x[i], &y[i]))
			return true;
	return false;
}

/* --------------------------------------------------------------- json */

typedef struct {
	const proxy_rt_t *rt;
	char paths[COMPARE_MAX_PATHS][JSON_PATH_MAX];
	size_t npaths;
	bool differ;
} jcmp_t;

/* A path with array indices generalised: $.items[3].id -> $.items[*].id */
static void generalise(const char *path, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *p = path; *p && o + 4 < cap;) {
		if (*p == '[' && isdigit((unsigned char)p[1])) {
			memcpy(out + o, "[*]", 3);
			o += 3;
			while (*p && *p != ']')
				p++;
			if (*p)
				p++;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
}

static bool path_in(char *const *list, size_t n, const char *path)
{
	char gen[JSON_PATH_MAX];
	generalise(path, gen, sizeof(gen));
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], path) == 0 || strcmp(list[i], gen) == 0)
			return true;
	return false;
}

static void note_path(jcmp_t *j, const char *path)
{
	j->differ = true;
	if (j->npaths < COMPARE_MAX_PATHS)
		snprintf(j->paths[j->npaths++], JSON_PATH_MAX, "%s", path);
}

static int canon_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void json_diff(jcmp_t *j, json_t *a, json_t *b, const char *path);

/* Arrays as multisets: sort both by canonical text, compare in order. */
static void unordered_diff(jcmp_t *j, json_t *a, json_t *b, const char *path)
{
	size_t n = json_array_size(a);
	if (n != json_array_size(b)) {
		note_path(j, path);
		return;
	}
	char **x = xcalloc(n ? n : 1, sizeof(char *));
	char **y = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		x[i] = json_dumps(json_array_get(a, i), JSON_ENCODE_ANY |
							 JSON_COMPACT |
							 JSON_SORT_KEYS);
		y[i] = json_dumps(json_array_get(b, i), JSON_ENCODE_ANY |
							 JSON_COMPACT |
							 JSON_SORT_KEYS);
	}
	qsort(x, n, sizeof(char *), canon_cmp);
	qsort(y, n, sizeof(char *), canon_cmp);
	for (size_t i = 0; i < n; i++)
		if (strcmp(x[i], y[i])) {
			note_path(j, path);
			break;
		}
	for (size_t i = 0; i < n; i++) {
		free(x[i]);
		free(y[i]);
	}
	free(x);
	free(y);
}

static void json_diff(jcmp_t *j, json_t *a, json_t *b, const char *path)
{
	const proxy_rt_t *rt = j->rt;
	if (path_in(rt->ignore_json, rt->nignore_json, path))
		return;
	if (json_is_number(a) && json_is_number(b)) {
		if (json_number_value(a) != json_number_value(b))
			note_path(j, path);
		return;
	}
	if (json_typeof(a) != json_typeof(b)) {
		note_path(j, path);
		return;
	}
	char sub[JSON_PATH_MAX];
	switch (json_typeof(a)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		json_object_foreach(a, k, v)
		{
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			json_t *o = json_object_get(b, k);
			if (!o) {
				if (!path_in(rt->ignore_json, rt->nignore_json,
					     sub))
					note_path(j, sub);
				continue;
			}
			json_diff(j, v, o, sub);
		}
		json_object_foreach(b, k, v)
		{
			if (json_object_get(a, k))
				continue;
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			if (!path_in(rt->ignore_json, rt->nignore_json, sub))
				note_path(j, sub);
		}
		return;
	}
	case JSON_ARRAY: {
		if (path_in(rt->unordered, rt->nunordered, path)) {
			unordered_diff(j, a, b, path);
			return;
		}
		size_t na = json_array_size(a), nb = json_array_size(b);
		if (na != nb) {
			note_path(j, path);
			return;
		}
		for (size_t i = 0; i < na; i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			json_diff(j, json_array_get(a, i), json_array_get(b, i),
				  sub);
		}
		return;
	}
	default:
		if (!json_equal(a, b))
			note_path(j, path);
	}
}

/* --------------------------------------------------------------- compare */

/* The SHA-256 of a capture's body: final when it was hashed while
 * streaming, else computed now from the kept bytes. */
static const unsigned char *digest_of(capture_t *c)
{
	if (!c->has_digest) {
		unsigned len = 0;
		EVP_Digest(c->body.data ? c->body.data : "", c->body.len,
			   c->digest, &len, EVP_sha256(), NULL);
		c->has_digest = true;
	}
	return c->digest;
}

typedef struct {
	uint8_t mask;
	jcmp_t json;
	bool json_done;
} diff_t;

static void compare_caps(worker_t *w, const capture_t *p, const capture_t *s,
			 diff_t *d)
{
	d->mask = 0;
	d->json_done = false;
	d->json.npaths = 0;
	d->json.differ = false;
	d->json.rt = w->rt;
	if (p->status != s->status)
		d->mask |= REQREC_DIFF_STATUS;
	if (headers_differ(p, s))
		d->mask |= REQREC_DIFF_HEADERS;
	if (p->json && s->json && !p->body_truncated && !s->body_truncated) {
		json_t *a = json_loadb(p->body.data ? p->body.data : "",
				       p->body.len, JSON_DECODE_ANY, NULL);
		json_t *b = json_loadb(s->body.data ? s->body.data : "",
				       s->body.len, JSON_DECODE_ANY, NULL);
		if (a && b) {
			json_diff(&d->json, a, b, "$");
			d->json_done = true;
			if (d->json.differ)
				d->mask |= REQREC_DIFF_JSON;
		}
		json_decref(a);
		json_decref(b);
		if (d->json_done)
			return;
	}
	if (p->body_len != s->body_len)
		d->mask |= REQREC_DIFF_SIZE | REQREC_DIFF_BODY;
	else if (p->body_truncated || s->body_truncated)
		d->mask |= memcmp(digest_of((capture_t *)p),
				  digest_of((capture_t *)s), 32)
				   ? REQREC_DIFF_BODY
				   : 0;
	else if (p->body.len &&
		 memcmp(p->body.data, s->body.data, p->body.len) != 0)
		d->mask |= REQREC_DIFF_BODY;
}

/* True when every JSON path of a is among b's. */
static bool paths_within(const jcmp_t *a, const jcmp_t *b)
{
	for (size_t i = 0; i < a->npaths; i++) {
		bool found = false;
		for (size_t k = 0; k < b->npaths && !found; k++)
			found = strcmp(a->paths[i], b->paths[k]) == 0;
		if (!found)
			return false;
	}
	return a->npaths < COMPARE_MAX_PATHS;
}

static void push_side_record(worker_t *w, pair_t *p, proxy_side_t side,
			     uint8_t cls, uint8_t diff)
{
	const capture_t *c = &p->side[side];
	reqrec_t r = {0};
	r.start_ns = p->start_ns;
	r.pair_id = p->id;
	r.endpoint = p->endpoint;
	r.latency_us = c->latency_us;
	r.ttfb_us = c->ttfb_us;
	r.connect_us = c->connect_us;
	r.req_bytes = c->req_bytes;
	r.resp_bytes = (uint32_t)(c->resp_bytes > UINT32_MAX ? UINT32_MAX
							     : c->resp_bytes);
	r.status = (uint16_t)c->status;
	r.side = side == PROXY_BASELINE ? REQREC_BASELINE : REQREC_SHADOW;
	r.cls = cls;
	r.error = c->failed ? c->error : 0;
	r.diff = diff;
	r.method = p->method;
	r.worker = (uint8_t)w->id;
	proxy__record(w, &r);
}

static void compare_pair(worker_t *w, pair_t *p)
{
	p->compared = true;
	const capture_t *prod = &p->side[PROXY_PRODUCTION];
	diff_t ds = {0}, db = {0};
	bool have_base = false;
	if (p->want[PROXY_BASELINE] && p->side[PROXY_BASELINE].done &&
	    !p->side[PROXY_BASELINE].failed && !prod->failed) {
		compare_caps(w, prod, &p->side[PROXY_BASELINE], &db);
		have_base = true;
	}
	if (p->want[PROXY_SHADOW] && p->side[PROXY_SHADOW].done) {
		const capture_t *sh = &p->side[PROXY_SHADOW];
		uint8_t cls, diff = 0;
		if (prod->failed || sh->failed) {
			cls = REQREC_UNCOMPARED;
			if (prod->failed != sh->failed)
				diff = REQREC_DIFF_ERROR;
		} else {
			compare_caps(w, prod, sh, &ds);
			diff = ds.mask;
			WC_INC(w, compared);
			if (!diff) {
				cls = REQREC_MATCH;
				WC_INC(w, matched);
			} else if (have_base && (diff & ~db.mask) == 0 &&
				   (!(diff & REQREC_DIFF_JSON) ||
				    paths_within(&ds.json, &db.json))) {
				cls = REQREC_NOISE;
				WC_INC(w, noise);
			} else {
				cls = REQREC_DIFFER;
				WC_INC(w, differed);
			}
		}
		push_side_record(w, p, PROXY_SHADOW, cls, diff);
	}
	if (p->want[PROXY_BASELINE] && p->side[PROXY_BASELINE].done)
		push_side_record(w, p, PROXY_BASELINE,
				 have_base ? (db.mask ? REQREC_DIFFER
						      : REQREC_MATCH)
					   : REQREC_UNCOMPARED,
				 db.mask);
}

void proxy__pair_side_done(worker_t *w, pair_t *p, proxy_side_t side,
			   bool failed, uint8_t err, uint32_t latency_us)
{
	capture_t *c = &p->side[side];
	if (c->done)
		return;
	c->done = true;
	c->failed = failed;
	c->error = err;
	c->latency_us = latency_us;
	if (c->md) {
		unsigned len = 0;
		EVP_DigestFinal_ex(c->md, c->digest, &len);
		EVP_MD_CTX_free(c->md);
		c->md = NULL;
		c->has_digest = true;
	}
	if (p->compared)
		return;
	for (int s = 0; s < PROXY_SIDE__COUNT; s++)
		if (p->want[s] && !p->side[s].done)
			return;
	compare_pair(w, p);
}

void proxy__pair_unwant(worker_t *w, pair_t *p, proxy_side_t side)
{
	if (!p->want[side] || p->side[side].done)
		return;
	p->want[side] = false;
	if (p->compared || !p->side[PROXY_PRODUCTION].done)
		return;
	for (int s = 0; s < PROXY_SIDE__COUNT; s++)
		if (p->want[s] && !p->side[s].done)
			return;
	compare_pair(w, p);
}
