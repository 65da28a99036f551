/*
 * mask_fuzz.h: what the masking fuzz targets share. Two maskers built
 * once: `hashing' (the defaults plus a rule of each kind) and
 * `redacting' (every action redact, marker MARK, so that the output of
 * one pass holds no more detectable values and a second pass must change
 * nothing), and helpers to mask a request and check the framing.
 */
#ifndef UMBRA_FUZZ_MASK_FUZZ_H
#define UMBRA_FUZZ_MASK_FUZZ_H

#include "base/buf.h"
#include "base/err.h"
#include "config/config.h"
#include "mask/mask.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK "<<M>>"

typedef struct fz {
	config_t *cfg;
	mask_t *m;
	mask_ctx_t *c;
	mask_ctx_t *ref; /* detail mode: never answers from the memo */
} fz_t;

__attribute__((unused)) static fz_t *fz_make(const char *yaml)
{
	fz_t *f = calloc(1, sizeof(*f));
	config_errors_t errs = {0};
	if (config_load_string("fuzz.yaml", yaml, strlen(yaml), "/tmp", &f->cfg,
			       &errs)) {
		buf_t b = BUF_INIT;
		config_errors_format(&errs, &b);
		fprintf(stderr, "fuzz config: %s\n", b.data);
		abort();
	}
	static const uint8_t key[32] = "fuzz-key-0123456789abcdef-012345";
	buf_t err = BUF_INIT;
	if (mask_new_with_key(&f->cfg->mask, key, sizeof(key), &f->m, &err)) {
		fprintf(stderr, "fuzz masker: %s\n", err.data);
		abort();
	}
	buf_free(&err);
	f->c = mask_ctx_new(f->m);
	return f;
}

/* The default detectors with one rule of each kind (hash actions). */
__attribute__((unused)) static fz_t *fz_hashing(void)
{
	static fz_t *f;
	if (!f)
		f = fz_make(
		    "service: f\nproduction: {upstreams: [127.0.0.1:1]}\n"
		    "mask:\n  max_scan: 256KiB\n  rules:\n"
		    "    - {where: json, name: '$.items[*].card', action: "
		    "hash}\n"
		    "    - {where: json, name: '$..drop_me', action: drop}\n"
		    "    - {where: json, name: '$.keep', action: keep}\n"
		    "    - {where: form, name: drop_me, action: drop}\n"
		    "    - {where: query, name: drop_me, action: drop}\n"
		    "    - {where: header, name: X-Drop, action: drop}\n"
		    "    - {where: pattern, pattern: 'ORD-\\d+', action: "
		    "keep}\n"
		    "    - {where: pattern, pattern: 'acct-(\\d+)', "
		    "replacement: 'acct-<$1>'}\n");
	return f;
}

/* Every action redact, the marker MARK, no drops. */
__attribute__((unused)) static fz_t *fz_redacting(void)
{
	static fz_t *f;
	if (!f)
		f = fz_make(
		    "service: f\nproduction: {upstreams: [127.0.0.1:1]}\n"
		    "mask:\n  max_scan: 256KiB\n  redact_marker: '" MARK "'\n"
		    "  actions: {email: redact, card: redact, ssn: redact, "
		    "iban: redact, phone: redact, ip: redact, jwt: redact, "
		    "auth: redact, cookie: redact, keys: redact}\n"
		    "  rules:\n"
		    /* The marker, as written in each view, is a boundary
		     * in the second pass as it was in the first. */
		    "    - {where: pattern, pattern: "
		    "'<<M>>|%3C%3CM%3E%3E|&lt;&lt;M&gt;&gt;', "
		    "action: keep}\n"
		    "    - {where: pattern, pattern: 'acct-\\d+'}\n");
	return f;
}

/* Masks a POST of body with the given headers; returns the rc. On
 * failure checks that out is untouched and a reason is given; on success
 * that the framing is right. */
__attribute__((unused)) static int fz_post(fz_t *f, const char *const *hs,
					   size_t nh, const char *body,
					   size_t n, buf_t *out)
{
	mask_header_t h[8];
	for (size_t i = 0; i < nh; i++) {
		const char *colon = strchr(hs[i], ':');
		h[i] = (mask_header_t){hs[i], (size_t)(colon - hs[i]),
				       colon + 2, strlen(colon + 2)};
	}
	mask_request_t r = {"POST", 4, "/", 1, h, nh, body, n};
	buf_reset(out);
	buf_puts(out, "X");
	int rc = mask_request(f->c, &r, out);
	if (rc) {
		if (out->len != 1 || mask_ctx_reason(f->c) == MASK_R_NONE ||
		    !mask_ctx_error(f->c)[0])
			abort();
		return rc;
	}
	const mask_report_t *rep = mask_ctx_report(f->c);
	if (1 + rep->head_len + rep->body_len != out->len)
		abort();
	char cl[64];
	snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", rep->body_len);
	if (rep->body_len &&
	    !memmem(out->data, 1 + rep->head_len, cl, strlen(cl)))
		abort();
	if (!rep->body_changed &&
	    (rep->body_len != n ||
	     memcmp(out->data + 1 + rep->head_len, body, n) != 0))
		abort();
	return 0;
}

/* The body of a successful fz_post. */
__attribute__((unused)) static const char *fz_body(fz_t *f, const buf_t *out,
						   size_t *n)
{
	const mask_report_t *rep = mask_ctx_report(f->c);
	*n = rep->body_len;
	return out->data + 1 + rep->head_len;
}

/* Masks twice: same output (determinism). */
/* The same input gives the same output and counts: twice through c
 * (whose value memo has seen it by then, so the second answers from it)
 * and once through a detail-mode context, which never uses the memo. */
__attribute__((unused)) static void fz_same_twice(fz_t *f,
						  const char *const *hs,
						  size_t nh, const char *body,
						  size_t n)
{
	buf_t a = BUF_INIT, b = BUF_INIT;
	int ra = fz_post(f, hs, nh, body, n, &a);
	uint32_t ta = mask_ctx_report(f->c)->total;
	int rb = fz_post(f, hs, nh, body, n, &b);
	uint32_t tb = mask_ctx_report(f->c)->total;
	if (ra != rb || a.len != b.len || memcmp(a.data, b.data, a.len) != 0 ||
	    (ra == 0 && ta != tb))
		abort();
	if (!f->ref) {
		f->ref = mask_ctx_new(f->m);
		mask_ctx_detail(f->ref, true);
	}
	mask_ctx_t *c = f->c;
	f->c = f->ref;
	int rr = fz_post(f, hs, nh, body, n, &b);
	uint32_t tr = mask_ctx_report(f->c)->total;
	f->c = c;
	if (ra != rr || a.len != b.len || memcmp(a.data, b.data, a.len) != 0 ||
	    (ra == 0 && ta != tr)) {
		fprintf(stderr, "memo and scan differ:\n%.*s\n%.*s\n",
			(int)a.len, a.data, (int)b.len, b.data);
		abort();
	}
	buf_free(&a);
	buf_free(&b);
}

/* Redacting reaches a fixed point: masking the masked body changes
 * nothing. Returns the first pass's rc. */
__attribute__((unused)) static int
fz_fixed_point(const char *const *hs, size_t nh, const char *body, size_t n)
{
	fz_t *f = fz_redacting();
	buf_t a = BUF_INIT, b = BUF_INIT;
	int rc = fz_post(f, hs, nh, body, n, &a);
	if (rc == 0) {
		size_t bn;
		const char *bb = fz_body(f, &a, &bn);
		char *copy = malloc(bn + 1);
		memcpy(copy, bb, bn);
		if (fz_post(f, hs, nh, copy, bn, &b) != 0)
			abort(); /* our own output must parse */
		if (mask_ctx_report(f->c)->body_changed) {
			fprintf(stderr, "not a fixed point:\n%.*s\n", (int)bn,
				copy);
			abort();
		}
		free(copy);
	}
	buf_free(&a);
	buf_free(&b);
	return rc;
}

#endif
