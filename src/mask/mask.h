/*
 * mask.h: masking of mirrored and captured traffic (issue 4). Nothing that
 * leaves production's trust boundary (a mirrored request, a capture
 * record) carries a sensitive value unless a rule allows it.
 *
 * Two objects:
 *
 *   mask_t      compiled once from config_mask_t (rules, detectors, the
 *               HMAC key) and then immutable: shared read-only by every
 *               proxy worker thread. Rebuild it on reload.
 *   mask_ctx_t  one per thread: scratch memory (PCRE2 match data, zlib
 *               streams, buffers, the report). After warm-up, masking a
 *               request allocates nothing beyond the caller's output
 *               buffer growing.
 *
 * Input is a message as the proxy's mirror path holds it: request line (or
 * status line) pieces, an array of header slices (picohttpparser's
 * phr_header layout), and the complete, de-chunked body, still in its
 * Content-Encoding. Output is a complete HTTP/1.1 message in wire format
 * appended to a buf_t: start line, masked headers with Content-Length set
 * to the masked body's length and Transfer-Encoding/Trailer removed, a
 * blank line, the masked body (gzip/deflate bodies are decoded, masked and
 * re-encoded; a body nothing touched is passed through byte for byte).
 *
 * Masking fails closed: a body that cannot be parsed as its declared type,
 * uses an unsupported Content-Encoding, or is larger than mask.max_scan
 * (before or after decoding) yields a negative error, a reason the caller
 * counts (mask_ctx_reason), and no output at all (the buffer is left as it
 * was). The caller must then not send the message anywhere.
 *
 * What is masked, where and how is described in docs/masking.md.
 */
#ifndef UMBRA_MASK_MASK_H
#define UMBRA_MASK_MASK_H

#include "base/buf.h"
#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Key sizes. HMAC-SHA-256 accepts any length; under 16 bytes (128 bits) a
 * key could be brute-forced, and a key file larger than 1 KiB is not a key
 * file. Generated keys are 32 random bytes (the SHA-256 block half, the
 * strength of the hash), stored as 64 hex digits. */
#define MASK_KEY_MIN 16
#define MASK_KEY_MAX 1024
#define MASK_KEY_GEN 32

/* ----------------------------------------------------------- input */

/* One header field, borrowed. The layout is picohttpparser's phr_header,
 * so a parser's header array can be passed as it is. */
typedef struct mask_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
} mask_header_t;

typedef struct mask_request {
	const char *method;
	size_t method_len;
	const char *target; /* origin-form, absolute-form, authority or '*' */
	size_t target_len;
	const mask_header_t *headers;
	size_t nheaders;
	const char *body; /* complete and de-chunked; may be NULL if 0 */
	size_t body_len;
	/* Leave the body decoded (gzip/deflate undone, masked) and drop
	 * Content-Encoding, e.g. for a capture record that stores bodies
	 * plain. Default (false): re-encoded as it came. */
	bool decoded;
	/* The body is the first body_len bytes of a longer one (a capture
	 * cut it at capture.max_body): what is whole in it is masked, the
	 * cut tail where a value may be split is left out (JSON: the
	 * value the cut is in; form: the last pair; text: the last
	 * MASK_PREFIX_TAIL bytes), and the head keeps its own framing.
	 * Multipart and coded bodies cut short still fail closed. */
	bool truncated;
} mask_request_t;

typedef struct mask_response {
	int status; /* 100..999 */
	const char *reason;
	size_t reason_len;
	const mask_header_t *headers;
	size_t nheaders;
	const char *body;
	size_t body_len;
	/* The response to a HEAD request, or a 1xx/204/304: it has no body
	 * and its Content-Length (if any) is passed through unchanged. */
	bool no_body;
	/* As in mask_request_t. The comparator wants this: re-encoded gzip
	 * bytes never equal the shadow's, the decoded bodies can. */
	bool decoded;
	bool truncated; /* as in mask_request_t */
} mask_response_t;

/* ----------------------------------------------------------- results */

/* Why a message was not masked (fail-closed). Stable names for counters:
 * mask_reason_name(). */
#define MASK_REASONS(X)                                                        \
	X(NONE, "none")                                                        \
	X(TOO_BIG, "too_big") /* over mask.max_scan */                         \
	X(BAD_JSON, "bad_json")                                                \
	X(BAD_FORM, "bad_form")                                                \
	X(BAD_MULTIPART, "bad_multipart")                                      \
	X(BAD_GZIP, "bad_gzip")                                                \
	X(BAD_DEFLATE, "bad_deflate")                                          \
	X(BAD_ENCODING, "unsupported_encoding")                                \
	X(BAD_MESSAGE, "bad_message") /* status, method, header bytes */  \
	X(TOO_DEEP, "too_deep") /* encodings nested past MASK_NEST_MAX */  \
	X(BAD_ZSTD, "bad_zstd")                                                \
	X(BAD_CHARSET, "bad_charset") /* UTF-16 that does not decode */

typedef enum mask_reason {
#define MASK__REASON_ENUM(id, name) MASK_R_##id,
	MASK_REASONS(MASK__REASON_ENUM)
#undef MASK__REASON_ENUM
	    MASK_R__COUNT
} mask_reason_t;

/* Where a value was found. */
#define MASK_WHERES(X)                                                         \
	X(PATH, "path")                                                        \
	X(QUERY, "query")                                                      \
	X(HEADER, "header")                                                    \
	X(JSON, "json")                                                        \
	X(FORM, "form")                                                        \
	X(MULTIPART, "multipart")                                              \
	X(TEXT, "text")

typedef enum mask_where {
#define MASK__WHERE_ENUM(id, name) MASK_AT_##id,
	MASK_WHERES(MASK__WHERE_ENUM)
#undef MASK__WHERE_ENUM
	    MASK_AT__COUNT
} mask_where_t;

/* One thing masking did (recorded only with mask_ctx_detail(c, true)). */
typedef struct mask_hit {
	uint16_t source; /* detector or rule: mask_source_name() */
	uint8_t action;	 /* config_mask_action_t (never KEEP) */
	uint8_t where;	 /* mask_where_t */
	/* Location, in the report's text: header name, "$.user.email",
	 * query/form/multipart field name, path segment "/2", body offset
	 * "@1234". Never the value itself. */
	uint32_t loc_off, loc_len;
} mask_hit_t;

typedef struct mask_report {
	/* Per source (mask_nsources() entries): values it masked in the
	 * last message. Always filled: these feed the counters. */
	const uint32_t *counts;
	uint32_t total;	   /* sum of counts */
	bool body_changed; /* the body differs from the input's */
	size_t head_len;   /* bytes of start line + headers + blank line */
	size_t body_len;   /* bytes of the masked body that follow them */
	/* With detail on: every hit, in message order. */
	const mask_hit_t *hits;
	size_t nhits;
	const char *text; /* hit locations point into this */
} mask_report_t;

/* ----------------------------------------------------------- key */

/* Loads the HMAC key from path into key[0..*len). The file must be a
 * regular file owned by the effective user (or root) and not accessible
 * by group or others, and hold MASK_KEY_MIN..MASK_KEY_MAX bytes (one
 * trailing newline is not part of the key). When path does not exist, a
 * new key (MASK_KEY_GEN random bytes as hex) is written there with mode
 * 0600, creating missing parent directories with 0700, and loaded.
 * Returns 0, ERR_INSECURE (modes or owner), ERR_RANGE (size), or -errno;
 * on failure err (may be NULL) gets one line saying why and *len is 0.
 * key must have room for MASK_KEY_MAX bytes. */
int mask_key_load(const char *path, uint8_t *key, size_t *len, buf_t *err);

/* ----------------------------------------------------------- masker */

typedef struct mask mask_t;
typedef struct mask_ctx mask_ctx_t;

/* Compiles cfg into a new masker, loading (or creating) the key from
 * cfg->key_file. cfg is only borrowed: the masker copies what it keeps.
 * Returns 0 and *out, or a negative error with one line per problem in
 * err (rule patterns, JSON paths, markers, the key); *out is NULL then.
 * cfg->enabled is not consulted: whether to mask is the caller's call. */
int mask_new(const config_mask_t *cfg, mask_t **out, buf_t *err);

/* The same with a key given in memory (tests, benchmarks). */
int mask_new_with_key(const config_mask_t *cfg, const uint8_t *key,
		      size_t key_len, mask_t **out, buf_t *err);

void mask_free(mask_t *m);

/* Sources of hits: the built-in detectors in config order ("email",
 * "card", ... "keys"), then one per custom rule ("rules[0]"...). */
size_t mask_nsources(const mask_t *m);
const char *mask_source_name(const mask_t *m, size_t source);
const char *mask_reason_name(mask_reason_t r);
const char *mask_where_name(mask_where_t w);
const char *mask_action_name(int action); /* config_mask_action_t */

/* A per-thread context for m (borrowed: m must outlive it). Never
 * NULL (allocation failure aborts). A context is used by one thread at a
 * time. */
mask_ctx_t *mask_ctx_new(const mask_t *m);
void mask_ctx_free(mask_ctx_t *c);

/* Records every hit's location in the report (off by default: the hot
 * path needs only the counts). */
void mask_ctx_detail(mask_ctx_t *c, bool on);

/* Masks req and appends it in wire format to out. Returns 0, or
 * ERR_TOOBIG / ERR_PARSE / ERR_UNSUPPORTED with out unchanged and the
 * reason in mask_ctx_reason(). */
int mask_request(mask_ctx_t *c, const mask_request_t *req, buf_t *out);

/* The same for a response ("HTTP/1.1 STATUS REASON"), with the same
 * detectors and rules (Set-Cookie values included), so that production's
 * masked response matches what a shadow fed masked requests returns. */
int mask_response(mask_ctx_t *c, const mask_response_t *resp, buf_t *out);

/* After a call: the report (valid until the next call on c) and, after a
 * failure, the reason and a one-line detail ("bad_json: expected ':' at
 * byte 17"). */
const mask_report_t *mask_ctx_report(const mask_ctx_t *c);
mask_reason_t mask_ctx_reason(const mask_ctx_t *c);
const char *mask_ctx_error(const mask_ctx_t *c);

/* Writes the report as text, one hit per line ("header Authorization:
 * auth -> hash"), for `umbra mask`. */
void mask_report_format(const mask_t *m, const mask_report_t *r, buf_t *out);

#endif
