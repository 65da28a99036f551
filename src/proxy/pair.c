/*
 * pair.c: pairing production's response with the copies' (the
 * comparison itself is src/compare). A pair holds one capture per side,
 * filled as the responses stream by; when every side that was sent has
 * answered (or failed), the pair is compared once and the copies'
 * records, carrying the class and the reasons, go to the worker's ring.
 *
 * With a baseline (a second shadow on production's exact config), a
 * shadow difference that the baseline shows too (the same reasons, and
 * its JSON paths among the baseline's) is noise, not a change. A side
 * that failed at the transport level is not compared (its error is
 * recorded). Captured bodies of a worker share PROXY_CAPTURE_BUDGET.
 */
#include "proxy/proxy_int.h"

#include "base/xmalloc.h"

#include <stdlib.h>
#include <string.h>

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

void proxy__pair_unref(worker_t *w, pair_t *p)
{
	if (--p->refs)
		return;
	for (int s = 0; s < PROXY_SIDE__COUNT; s++)
		w->capture_budget += cmp_capture_free(&p->side[s].c);
	free(p);
}

void proxy__record(worker_t *w, const reqrec_t *r)
{
	if (!ring_push(w->ring, r))
		WC_INC(w, records_dropped);
}

void proxy__capture_head(worker_t *w, capture_t *cap,
			 const http_response_t *r)
{
	cmp_capture_head(&cap->c, &w->rt->rules, r);
}

void proxy__capture_body(worker_t *w, capture_t *cap, const char *d,
			 size_t n)
{
	cmp_capture_body(&cap->c, &w->rt->rules, d, n, &w->capture_budget);
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
	r.status = (uint16_t)c->c.status;
	r.side = side == PROXY_BASELINE ? REQREC_BASELINE : REQREC_SHADOW;
	r.cls = cls;
	r.error = c->failed ? c->error : 0;
	r.diff = diff;
	r.method = p->method;
	r.worker = (uint8_t)w->id;
	proxy__record(w, &r);
}

/* Production's response masked the way the copies' requests were, so
 * that masking causes no differences (values the shadow echoes back are
 * pseudonyms on both sides). Fills out and returns true; false when it
 * cannot (body kept only as a digest, or the masker refuses), then the
 * unmasked capture is compared. */
static bool mask_production(worker_t *w, pair_t *p, cmp_capture_t *out)
{
	const cmp_capture_t *c = &p->side[PROXY_PRODUCTION].c;
	if (!w->mctx || c->body_truncated)
		return false;
	const char *s = c->headers.data;
	for (size_t i = 0; i < c->nheaders; i++) {
		size_t nl = strlen(s);
		const char *v = s + nl + 1;
		size_t vl = strlen(v);
		w->mhdrs[i] = (mask_header_t){s, nl, v, vl};
		s = v + vl + 1;
	}
	bool no_body = p->method == HTTP_M_HEAD || c->status < 200 ||
		       c->status == 204 || c->status == 304;
	mask_response_t mr = {c->status, "", 0, w->mhdrs, c->nheaders,
			      c->body.data, c->body.len, no_body, true};
	buf_reset(&w->mscratch);
	if (mask_response(w->mctx, &mr, &w->mscratch) != 0)
		return false;
	http_response_t r = {.headers = w->hdrs, .cap = w->hdrs_cap};
	http_err_t e;
	size_t sc = 0;
	http_limits_t lim = {w->mscratch.len, w->mscratch.len, w->hdrs_cap};
	int hl = http_parse_response(w->mscratch.data, w->mscratch.len, &sc,
				     &lim, (http_method_t)p->method, &r, &e);
	if (hl <= 0)
		return false;
	memset(out, 0, sizeof(*out));
	cmp_capture_head(out, &w->rt->rules, &r);
	/* the encoding of the original: the masked body is decoded */
	cmp_capture_body(out, &w->rt->rules, w->mscratch.data + hl,
			 w->mscratch.len - (size_t)hl, NULL);
	cmp_capture_finish(out);
	return true;
}

/* Diffs side s against production's capture pc into *out, unless s is
 * not to be compared (not wanted, not in, or either side failed). */
static bool diff_side(worker_t *w, pair_t *p, cmp_capture_t *pc,
		      proxy_side_t s, cmp_result_t *out)
{
	capture_t *c = &p->side[s];
	if (!p->want[s] || !c->done || c->failed ||
	    p->side[PROXY_PRODUCTION].failed)
		return false;
	/* the rules with this worker's identity fields (compare.h) */
	cmp_rules_t r = w->rt->rules;
	r.ident = &w->ident;
	cmp_diff(pc, &c->c, &r, out);
	return true;
}

/* Identity fields are learned from production against each copy: the
 * copies' names (the shadow's, the baseline's) make one set, apart from
 * production's, so that the baseline's pairs do not differ by its name
 * either (its differences are the noise envelope). */
static void learn_identity(worker_t *w, pair_t *p)
{
	capture_t *prod = &p->side[PROXY_PRODUCTION];
	if (w->ident.done || prod->failed)
		return;
	static const proxy_side_t copies[] = {PROXY_SHADOW, PROXY_BASELINE};
	for (size_t i = 0; i < sizeof(copies) / sizeof(*copies); i++) {
		capture_t *c = &p->side[copies[i]];
		if (p->want[copies[i]] && c->done && !c->failed)
			cmp_ident_observe(&w->ident, &prod->c, &c->c,
					  p->start_ns);
	}
	if (w->ident.done)
		atomic_store_explicit(&w->ident_done, true,
				      memory_order_release);
}

/* Production's response is compared as it is first: a side that answers
 * the same (most pairs of a healthy shadow) costs no masking, and a
 * value both return unchanged (a support address in a footer) is no
 * difference. Only a side that differs is compared again with
 * production's masked response (mask_production), so that pseudonyms the
 * shadow echoes back are no difference either. */
static void compare_pair(worker_t *w, pair_t *p)
{
	p->compared = true;
	capture_t *prod = &p->side[PROXY_PRODUCTION];
	cmp_result_t ds = {0}, db = {0};
	learn_identity(w, p);
	bool have_sh = diff_side(w, p, &prod->c, PROXY_SHADOW, &ds);
	bool have_base = diff_side(w, p, &prod->c, PROXY_BASELINE, &db);
	cmp_capture_t masked;
	bool use_masked = ((have_sh && ds.mask) || (have_base && db.mask)) &&
			  mask_production(w, p, &masked);
	if (use_masked) {
		if (have_sh && ds.mask)
			diff_side(w, p, &masked, PROXY_SHADOW, &ds);
		if (have_base && db.mask)
			diff_side(w, p, &masked, PROXY_BASELINE, &db);
		cmp_capture_free(&masked);
	}
	if (p->want[PROXY_SHADOW] && p->side[PROXY_SHADOW].done) {
		capture_t *sh = &p->side[PROXY_SHADOW];
		uint8_t cls, diff = 0;
		if (!have_sh) {
			cls = REQREC_UNCOMPARED;
			if (prod->failed != sh->failed)
				diff = REQREC_DIFF_ERROR;
		} else {
			diff = ds.mask;
			WC_INC(w, compared);
			if (!diff) {
				cls = REQREC_MATCH;
				WC_INC(w, matched);
			} else if (have_base && (diff & ~db.mask) == 0 &&
				   (!(diff & REQREC_DIFF_JSON) ||
				    cmp_paths_within(&ds, &db))) {
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

/* Compares once every wanted side is in. */
static void maybe_compare(worker_t *w, pair_t *p)
{
	if (p->compared)
		return;
	for (int s = 0; s < PROXY_SIDE__COUNT; s++)
		if (p->want[s] && !p->side[s].done)
			return;
	compare_pair(w, p);
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
	cmp_capture_finish(&c->c);
	maybe_compare(w, p);
}

void proxy__pair_unwant(worker_t *w, pair_t *p, proxy_side_t side)
{
	if (!p->want[side] || p->side[side].done)
		return;
	p->want[side] = false;
	if (p->side[PROXY_PRODUCTION].done)
		maybe_compare(w, p);
}
