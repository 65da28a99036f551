/*
 * compare.h: capturing HTTP responses and comparing two of them, the way
 * the proxy compares production with the shadow and replay compares a
 * response with the recorded one (Diffy's idea, our rules):
 *
 *   status, then headers as a multiset (connection-specific fields,
 *   Content-Length and the rules' ignore list left out, names
 *   lower-cased), then the body (gzip or deflate decoded first, so an
 *   encoded and a plain copy of one body are equal): JSON (by
 *   Content-Type) structurally,
 *   with ignored paths and order-insensitive arrays ($.items[*].id style;
 *   numbers by value); other bodies byte for byte, or by SHA-256 past the
 *   rules' max_body.
 *
 * A capture is filled as a response streams by (cmp_capture_head, then
 * cmp_capture_body for each piece of de-chunked body, then
 * cmp_capture_finish). It owns its buffers (cmp_capture_free). Pure: no
 * I/O, no globals; one capture is used by one thread.
 */
#ifndef UMBRA_COMPARE_COMPARE_H
#define UMBRA_COMPARE_COMPARE_H

#include "base/buf.h"
#include "base/reqrec.h"
#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMP_MAX_HEADERS 64 /* headers kept per response */
#define CMP_MAX_PATHS 16   /* differing JSON paths reported */
#define CMP_PATH_MAX 256
#define CMP_MAX_INFLATE (64u << 20) /* a decoded body past this: digest */

enum { CMP_ENC_NONE, CMP_ENC_GZIP, CMP_ENC_DEFLATE, CMP_ENC_OTHER };

/* What to leave out and how much to keep. Borrowed by the functions. */
typedef struct cmp_rules {
	char *const *ignore_headers;
	size_t nignore_headers;
	char *const *ignore_json; /* $.a.b, $.items[*].id */
	size_t nignore_json;
	char *const *unordered;   /* arrays compared as multisets */
	size_t nunordered;
	uint64_t max_body;        /* body bytes kept; beyond, a digest */
} cmp_rules_t;

typedef struct cmp_capture {
	int status;
	buf_t headers;   /* "name\0value\0" pairs, names lower-cased */
	size_t nheaders;
	buf_t body;      /* up to max_body (or less, see kept budgets) */
	uint64_t body_len;
	bool body_truncated;
	bool json;       /* Content-Type says JSON */
	uint8_t encoding; /* CMP_ENC_*: Content-Encoding, compared decoded */
	void *md;        /* EVP_MD_CTX while hashing a long body */
	unsigned char digest[32];
	bool has_digest;
} cmp_capture_t;

typedef struct cmp_result {
	uint8_t mask; /* REQREC_DIFF_* */
	char paths[CMP_MAX_PATHS][CMP_PATH_MAX];
	size_t npaths;
	bool json_compared;
} cmp_result_t;

void cmp_capture_head(cmp_capture_t *c, const cmp_rules_t *r,
		      const http_response_t *resp);

/* Adds n body bytes. When kept is not NULL it is a budget the caller
 * shares among captures: the bytes kept are taken from it, and a capture
 * whose bytes do not fit switches to the digest. */
void cmp_capture_body(cmp_capture_t *c, const cmp_rules_t *r, const char *d,
		      size_t n, uint64_t *kept);

/* Ends the body (finalises a running digest). */
void cmp_capture_finish(cmp_capture_t *c);

/* Frees what c holds; returns the body bytes it had kept (for budgets). */
size_t cmp_capture_free(cmp_capture_t *c);

/* Compares a (the reference) with b. */
void cmp_diff(cmp_capture_t *a, cmp_capture_t *b, const cmp_rules_t *r,
	      cmp_result_t *out);

/* True when every JSON path of a is among b's (a baseline showing the
 * same differences makes a's noise). */
bool cmp_paths_within(const cmp_result_t *a, const cmp_result_t *b);

/* "status,headers,json" for a difference mask (into out, >= 64 bytes). */
const char *cmp_mask_text(uint8_t mask, char *out, size_t cap);

#endif
