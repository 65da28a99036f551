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

/* ------------------------------------------------------- identity fields
 *
 * A service that names its instance in a response header (X-Side:
 * production / shadow, a host or pod name) makes every pair differ. Such
 * a field is learned while the pair warms up: a header present on both
 * sides of every compared pair from the first one, whose values differ
 * between the sides on every pair, each side keeping to a few values of
 * its own (one per replica) that the other side never shows. Until the
 * learning ends it is left out provisionally, as long as it keeps to
 * that; afterwards a learned field is left out only while each side's
 * value is one it showed in the warm-up (a new value is a difference
 * again). Pinned fields (mirror.compare.identity_headers) are left out
 * from the start, whatever their values. ident.c. */

#define CMP_IDENT_FIELDS 16   /* header names tracked: more identity
				 headers than this is not instance naming */
#define CMP_IDENT_VALUES 8    /* distinct values per side: one per
				 replica, and scale.max defaults to 10 / 2 */
#define CMP_IDENT_MIN_PAIRS 20 /* pairs a field must differ on before it
				  is learned: 20 coincidences of a header
				  that varies per request are unlikely */
#define CMP_IDENT_NAME_MAX 64

typedef struct cmp_ident_field {
	char name[CMP_IDENT_NAME_MAX]; /* lower-case */
	uint64_t val[2][CMP_IDENT_VALUES]; /* value hashes: [0] production */
	uint8_t nval[2];
	bool broken; /* not an identity (matched, missing, too many values,
			a value on both sides) */
} cmp_ident_field_t;

typedef struct cmp_ident {
	cmp_ident_field_t f[CMP_IDENT_FIELDS];
	size_t n;
	uint64_t pairs;   /* compared pairs observed while learning */
	int64_t start_ns; /* the first one's time */
	int64_t learn_ns; /* how long learning lasts (analysis.warmup) */
	bool started, done;
} cmp_ident_t;

/* What to leave out and how much to keep. Borrowed by the functions. */
typedef struct cmp_rules {
	char *const *ignore_headers;
	size_t nignore_headers;
	char *const *ignore_json; /* $.a.b, $.items[*].id */
	size_t nignore_json;
	char *const *unordered;   /* arrays compared as multisets */
	size_t nunordered;
	uint64_t max_body;        /* body bytes kept; beyond, a digest */
	char *const *identity;    /* pinned identity headers: left out of
				     the pair's comparison, values or not */
	size_t nidentity;
	const cmp_ident_t *ident; /* learned identity fields, or NULL */
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

/* Identity fields (ident.c; see above). */
/* Starts learning; learn_ns: the warm-up (at least CMP_IDENT_MIN_PAIRS
 * pairs are needed too). */
void cmp_ident_init(cmp_ident_t *id, int64_t learn_ns);
/* Learns from one compared pair (production a, a copy b: the shadow or
 * the baseline, whose values make one set) at t_ns; does nothing once
 * learning is over. Call before cmp_diff of the pair. */
void cmp_ident_observe(cmp_ident_t *id, const cmp_capture_t *a,
		       const cmp_capture_t *b, int64_t t_ns);
/* Whether side's (0 production, 1 the compared side) header name=value
 * is an identity to leave out. */
bool cmp_ident_skip(const cmp_ident_t *id, const char *name, int side,
		    const char *value);
/* The learned fields' names (borrowed from id) into names, at most cap;
 * 0 while learning. */
size_t cmp_ident_learned(const cmp_ident_t *id, const char **names,
			 size_t cap);

#endif
