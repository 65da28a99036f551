/*
 * capmask.c: the real capture masker (capture.h's cap_masker_t) on the
 * masking module: a record's request and response heads are parsed
 * again (http/), masked with the same detectors, rules and keyed
 * pseudonyms as mirrored copies (mask/), and the record's slices are
 * pointed at the masked messages. A body cut at capture.max_body is
 * masked as the prefix it is (mask_request_t.truncated). Fails closed: a
 * head that does not parse, a body masking cannot read (bad JSON, too
 * big, a cut multipart or compressed body) refuses the record, which the
 * writer or the tap counts as lost (CAP_LOSS_MASK); the refusal is named
 * by request and setting (the caller's why, a rate-limited log line, and
 * cap_masker_report). Bodies keep their Content-Encoding, so a replay
 * sends what production received.
 *
 * Threads: one masker is used by one thread at a time (it holds one
 * mask_ctx_t): the tap's thread, or a command's.
 * Ownership: cap_masker_new returns memory freed by cap_masker_free; it
 * copies what it keeps of the config.
 */
#include "capture/capture.h"

#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "mask/mask.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Refusals kept by request (method, endpoint template, which message,
 * reason) for the summary: a few kinds of large or odd bodies account
 * for nearly all; past this many kinds the rest are counted together. */
#define CAPMASK_REFUSAL_KINDS 16
/* Refusals logged one by one; then every CAPMASK_LOG_EVERY-th. */
#define CAPMASK_LOG_FIRST 10
#define CAPMASK_LOG_EVERY 1000

typedef struct refusal {
	char what[200]; /* "GET /api/users/:id response: too_big" */
	uint64_t n;
} refusal_t;

typedef struct capmask {
	cap_masker_t pub; /* first: the public part */
	mask_t *mask;
	mask_ctx_t *ctx;
	http_limits_t lim;
	http_header_t hdr[CAP_MASK_MAX_HEADERS];
	mask_header_t mh[CAP_MASK_MAX_HEADERS];
	uint64_t max_scan;
	char why[400]; /* the last refusal, for the caller */
	refusal_t ref[CAPMASK_REFUSAL_KINDS];
	size_t nref;
	uint64_t ref_other, ref_total;
} capmask_t;

/* What would let masking take a body it refused, by reason. */
static const char *setting_for(mask_reason_t r)
{
	switch (r) {
	case MASK_R_TOO_BIG:
		return "mask.max_scan would allow it";
	case MASK_R_TOO_DEEP:
		return "no setting: more than 4 nested encodings";
	case MASK_R_BAD_ENCODING:
		return "no setting: a Content-Encoding masking cannot undo";
	default:
		return "no setting: the body does not parse as its "
		       "Content-Type";
	}
}

/* Names the refused request in c->why, counts it by kind, logs it (the
 * first few, then one in CAPMASK_LOG_EVERY). */
static void refused(capmask_t *c, const http_request_t *req, bool response,
		    size_t body_len)
{
	mask_reason_t r = mask_ctx_reason(c->ctx);
	char ep[128] = "/";
	if (req)
		http_target_template(req->target, req->target_len, ep,
				     sizeof(ep));
	char what[200];
	snprintf(what, sizeof(what), "%.*s %s %s: %s",
		 req ? (int)req->method_len : 1, req ? req->method : "?", ep,
		 response ? "response" : "request", mask_reason_name(r));
	snprintf(c->why, sizeof(c->why), "%s (%zu body bytes; %s; %s)", what,
		 body_len, mask_ctx_error(c->ctx), setting_for(r));
	c->ref_total++;
	size_t i = 0;
	while (i < c->nref && strcmp(c->ref[i].what, what) != 0)
		i++;
	if (i == c->nref && c->nref < CAPMASK_REFUSAL_KINDS) {
		snprintf(c->ref[i].what, sizeof(c->ref[i].what), "%s", what);
		c->nref++;
	}
	if (i < c->nref)
		c->ref[i].n++;
	else
		c->ref_other++;
	if (c->ref_total <= CAPMASK_LOG_FIRST ||
	    c->ref_total % CAPMASK_LOG_EVERY == 0)
		log_warn("capture", "masking refused a record", LF_S("request",
		    what), LF_U("body_bytes", body_len),
		    LF_S("detail", mask_ctx_error(c->ctx)),
		    LF_S("setting", setting_for(r)),
		    LF_U("refused_so_far", c->ref_total),
		    LF_U("max_scan", c->max_scan));
}

static void to_mask_headers(capmask_t *c, const http_header_t *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c->mh[i] = (mask_header_t){h[i].name, h[i].name_len,
					   h[i].value, h[i].value_len};
}

/* Masks the request into scratch: its head and body lengths out. */
static int mask_req(capmask_t *c, const cap_rec_t *rec, buf_t *scratch,
		    http_request_t *out, size_t *head_len, size_t *body_len,
		    const char **why)
{
	http_request_t req = {.headers = c->hdr, .cap = CAP_MASK_MAX_HEADERS};
	size_t scanned = 0;
	http_err_t herr;
	int n = http_parse_request(rec->req_head, rec->req_head_len, &scanned,
				   &c->lim, &req, &herr);
	if (n <= 0) {
		*why = "the request head does not parse";
		return ERR_PARSE;
	}
	*out = req; /* method and target point into rec's head */
	to_mask_headers(c, req.headers, req.nheaders);
	mask_request_t mr = {req.method,     req.method_len, req.target,
			     req.target_len, c->mh,	     req.nheaders,
			     rec->req_body,  rec->req_body_len, false,
			     (rec->flags & CAP_RF_REQ_TRUNC) != 0};
	size_t before = scratch->len;
	int rc = mask_request(c->ctx, &mr, scratch);
	if (rc) {
		refused(c, &req, false, rec->req_body_len);
		*why = c->why;
		return rc;
	}
	const mask_report_t *r = mask_ctx_report(c->ctx);
	*head_len = r->head_len;
	*body_len = scratch->len - before - r->head_len;
	return 0;
}

static int mask_resp(capmask_t *c, const cap_rec_t *rec, http_method_t method,
		     const http_request_t *req, buf_t *scratch,
		     size_t *head_len, size_t *body_len, const char **why)
{
	http_response_t resp = {.headers = c->hdr,
				.cap = CAP_MASK_MAX_HEADERS};
	size_t scanned = 0;
	http_err_t herr;
	int n = http_parse_response(rec->resp_head, rec->resp_head_len,
				    &scanned, &c->lim, method, &resp, &herr);
	if (n <= 0) {
		*why = "the response head does not parse";
		return ERR_PARSE;
	}
	to_mask_headers(c, resp.headers, resp.nheaders);
	bool no_body = method == HTTP_M_HEAD ||
		       (resp.status >= 100 && resp.status < 200) ||
		       resp.status == 204 || resp.status == 304;
	mask_response_t mr = {resp.status,	 resp.reason,
			      resp.reason_len,	 c->mh,
			      resp.nheaders,	 rec->resp_body,
			      rec->resp_body_len, no_body,
			      false,		 (rec->flags & CAP_RF_RESP_TRUNC) != 0};
	size_t before = scratch->len;
	int rc = mask_response(c->ctx, &mr, scratch);
	if (rc) {
		refused(c, req, true, rec->resp_body_len);
		*why = c->why;
		return rc;
	}
	const mask_report_t *r = mask_ctx_report(c->ctx);
	*head_len = r->head_len;
	*body_len = scratch->len - before - r->head_len;
	return 0;
}

static int capmask_apply(void *ctx, cap_rec_t *rec, buf_t *scratch,
			 const char **why)
{
	capmask_t *c = ctx;
	http_request_t req;
	size_t qh = 0, qb = 0, sh = 0, sb = 0;
	int rc = mask_req(c, rec, scratch, &req, &qh, &qb, why);
	if (rc)
		return rc;
	size_t resp_at = scratch->len;
	bool resp = rec->resp_head_len > 0 &&
		    !(rec->flags & CAP_RF_NO_RESPONSE);
	if (resp && (rc = mask_resp(c, rec, req.method_id, &req, scratch, &sh,
				    &sb, why)))
		return rc;
	/* masked messages are framed by Content-Length (mask.h) */
	rec->flags &= (uint16_t)~(CAP_RF_REQ_CHUNKED | CAP_RF_RESP_CHUNKED);
	/* scratch may have moved while growing: slices only now */
	rec->req_head = scratch->data;
	rec->req_head_len = qh;
	rec->req_body = scratch->data + qh;
	rec->req_body_len = qb;
	if (resp) {
		rec->resp_head = scratch->data + resp_at;
		rec->resp_head_len = sh;
		rec->resp_body = scratch->data + resp_at + sh;
		rec->resp_body_len = sb;
	}
	return 0;
}

cap_masker_t *cap_masker_new(const config_mask_t *cfg, buf_t *err)
{
	capmask_t *c = xcalloc(1, sizeof(*c));
	int rc = mask_new(cfg, &c->mask, err);
	if (rc) {
		free(c);
		return NULL;
	}
	c->ctx = mask_ctx_new(c->mask);
	c->max_scan = cfg->max_scan;
	c->lim = (http_limits_t)HTTP_LIMITS_DEFAULT;
	c->lim.max_headers = CAP_MASK_MAX_HEADERS;
	c->pub = (cap_masker_t){"umbra-mask", true, capmask_apply, c};
	return &c->pub;
}

void cap_masker_free(cap_masker_t *m)
{
	if (!m)
		return;
	capmask_t *c = (capmask_t *)m;
	mask_ctx_free(c->ctx);
	mask_free(c->mask);
	free(c);
}

void cap_masker_report(const cap_masker_t *m, FILE *f, const char *indent)
{
	if (!m || !m->real)
		return;
	const capmask_t *c = (const capmask_t *)m;
	if (!c->ref_total)
		return;
	fprintf(f, "%srefused by masking, by request:\n", indent);
	for (size_t i = 0; i < c->nref; i++) {
		const char *reason = strrchr(c->ref[i].what, ':');
		bool big = reason && strcmp(reason, ": too_big") == 0;
		fprintf(f, "%s  %s %llu%s\n", indent, c->ref[i].what,
			(unsigned long long)c->ref[i].n,
			big ? " (raise mask.max_scan to allow it)" : "");
	}
	if (c->ref_other)
		fprintf(f, "%s  other requests %llu\n", indent,
			(unsigned long long)c->ref_other);
}
