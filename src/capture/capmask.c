/*
 * capmask.c: the real capture masker (capture.h's cap_masker_t) on the
 * masking module: a record's request and response heads are parsed
 * again (http/), masked with the same detectors, rules and keyed
 * pseudonyms as mirrored copies (mask/), and the record's slices are
 * pointed at the masked messages. Fails closed: a head that does not
 * parse, a body masking cannot read (bad JSON, too big, a body cut at
 * capture.max_body that no longer parses) refuses the record, which the
 * writer or the tap counts as lost (CAP_LOSS_MASK). Bodies keep their
 * Content-Encoding, so a replay sends what production received.
 *
 * Threads: one masker is used by one thread at a time (it holds one
 * mask_ctx_t): the tap's thread, or a command's.
 * Ownership: cap_masker_new returns memory freed by cap_masker_free; it
 * copies what it keeps of the config.
 */
#include "capture/capture.h"

#include "base/err.h"
#include "base/xmalloc.h"
#include "mask/mask.h"

#include <stdlib.h>
#include <string.h>

typedef struct capmask {
	cap_masker_t pub; /* first: the public part */
	mask_t *mask;
	mask_ctx_t *ctx;
	http_limits_t lim;
	http_header_t hdr[CAP_MASK_MAX_HEADERS];
	mask_header_t mh[CAP_MASK_MAX_HEADERS];
} capmask_t;

static void to_mask_headers(capmask_t *c, const http_header_t *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c->mh[i] = (mask_header_t){h[i].name, h[i].name_len,
					   h[i].value, h[i].value_len};
}

/* Masks the request into scratch: its head and body lengths out. */
static int mask_req(capmask_t *c, const cap_rec_t *rec, buf_t *scratch,
		    http_method_t *method, size_t *head_len, size_t *body_len,
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
	*method = req.method_id;
	to_mask_headers(c, req.headers, req.nheaders);
	mask_request_t mr = {req.method,     req.method_len, req.target,
			     req.target_len, c->mh,	     req.nheaders,
			     rec->req_body,  rec->req_body_len, false};
	size_t before = scratch->len;
	int rc = mask_request(c->ctx, &mr, scratch);
	if (rc) {
		*why = mask_reason_name(mask_ctx_reason(c->ctx));
		return rc;
	}
	const mask_report_t *r = mask_ctx_report(c->ctx);
	*head_len = r->head_len;
	*body_len = scratch->len - before - r->head_len;
	return 0;
}

static int mask_resp(capmask_t *c, const cap_rec_t *rec, http_method_t method,
		     buf_t *scratch, size_t *head_len, size_t *body_len,
		     const char **why)
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
	mask_response_t mr = {resp.status,    resp.reason,	 resp.reason_len,
			      c->mh,	      resp.nheaders,	 rec->resp_body,
			      rec->resp_body_len, no_body,	 false};
	size_t before = scratch->len;
	int rc = mask_response(c->ctx, &mr, scratch);
	if (rc) {
		*why = mask_reason_name(mask_ctx_reason(c->ctx));
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
	http_method_t method = HTTP_M_GET;
	size_t qh = 0, qb = 0, sh = 0, sb = 0;
	int rc = mask_req(c, rec, scratch, &method, &qh, &qb, why);
	if (rc)
		return rc;
	size_t resp_at = scratch->len;
	bool resp = rec->resp_head_len > 0 &&
		    !(rec->flags & CAP_RF_NO_RESPONSE);
	if (resp && (rc = mask_resp(c, rec, method, scratch, &sh, &sb, why)))
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
