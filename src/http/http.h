/*
 * http.h: HTTP/1.1 message parsing and writing for the proxy (RFC 9110,
 * RFC 9112). Parsers have the picohttpparser shape: the caller's buffer in,
 * slices out (pointers into that buffer), no allocation, no I/O; they
 * return the length of the message head, ERR_AGAIN when more bytes are
 * needed, or ERR_PARSE with a reason (http_err_t) that maps to a status
 * code. A caller that feeds a growing buffer passes back `scanned`, so a
 * slow client's bytes are searched for the end of the head only once.
 *
 * Strictness (request smuggling, RFC 9112 section 11.2): a request with
 * both Content-Length and Transfer-Encoding, differing Content-Lengths, a
 * transfer coding other than a final "chunked", obs-fold, a bare CR, bad
 * bytes in names, values or the target, a missing or repeated Host on
 * HTTP/1.1, an invalid Host value, and a target with a fragment or
 * userinfo are rejected, each with its own reason. Head lines may end in
 * CRLF or LF (RFC 9112 2.2 allows a recipient to accept LF); the proxy
 * rewrites every head it forwards, so what goes upstream always uses CRLF.
 * Chunked request bodies are held to RFC 9112 7.1 exactly and re-framed
 * (http_chunked_init_strict, http_write_chunk).
 */
#ifndef UMBRA_HTTP_HTTP_H
#define UMBRA_HTTP_HTTP_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* --------------------------------------------------------------- errors */

/* X(NAME, status, text). Each rejection has its own reason. */
#define HTTP_ERR_MAP(X)                                                    \
	X(NONE, 0, "no error")                                            \
	X(LINE_TOO_LONG, 414, "request line too long")                    \
	X(HEAD_TOO_LARGE, 431, "header section too large")                \
	X(TOO_MANY_HEADERS, 431, "too many header fields")                \
	X(BAD_METHOD, 400, "invalid method")                              \
	X(BAD_TARGET, 400, "invalid request target")                      \
	X(TARGET_FRAGMENT, 400, "fragment in request target")             \
	X(TARGET_USERINFO, 400, "userinfo in request target")             \
	X(BAD_AUTHORITY, 400, "invalid authority in request target")      \
	X(BAD_VERSION, 400, "invalid HTTP version")                       \
	X(VERSION_NOT_SUPPORTED, 505, "HTTP version not supported")       \
	X(BAD_REQUEST_LINE, 400, "malformed request line")                \
	X(BARE_CR, 400, "bare CR")                                        \
	X(OBS_FOLD, 400, "obsolete line folding")                         \
	X(BAD_HEADER_NAME, 400, "invalid header field name")              \
	X(SPACE_BEFORE_COLON, 400, "whitespace before colon")             \
	X(BAD_HEADER_VALUE, 400, "invalid header field value")            \
	X(CL_AND_TE, 400, "both Content-Length and Transfer-Encoding")    \
	X(MULTIPLE_CL, 400, "differing Content-Length values")            \
	X(BAD_CL, 400, "invalid Content-Length")                          \
	X(BAD_TE, 400, "invalid Transfer-Encoding")                       \
	X(TE_NOT_IMPLEMENTED, 501, "transfer coding not implemented")     \
	X(TE_IN_HTTP10, 400, "Transfer-Encoding in an HTTP/1.0 message")  \
	X(NO_HOST, 400, "missing Host")                                   \
	X(MULTIPLE_HOST, 400, "more than one Host")                       \
	X(BAD_HOST, 400, "invalid Host")                                  \
	X(BAD_STATUS_LINE, 502, "malformed status line")                  \
	X(BAD_STATUS, 502, "invalid status code")                         \
	X(BAD_CHUNK_SIZE, 400, "invalid chunk size")                      \
	X(CHUNK_TOO_LARGE, 400, "chunk size too large")                   \
	X(CHUNK_SIZE_TOO_LONG, 400, "chunk size with too many digits")    \
	X(CHUNK_LINE_WS, 400, "whitespace at the end of a chunk line")    \
	X(CHUNK_BARE_LF, 400, "chunk framing line ends in LF without CR") \
	X(BAD_CHUNK_EXT, 400, "invalid chunk extension")                  \
	X(CHUNK_EXT_NO_NAME, 400, "chunk extension without a name")       \
	X(CHUNK_EXT_NO_VALUE, 400, "chunk extension without a value")     \
	X(CHUNK_EXT_UNCLOSED, 400, "unterminated quoted chunk extension") \
	X(CHUNK_EXT_TOO_LONG, 400, "chunk extension too long")            \
	X(BAD_CHUNK_END, 400, "chunk data not followed by CRLF")          \
	X(TRAILER_TOO_LARGE, 431, "trailer section too large")            \
	X(BAD_TRAILER, 400, "invalid trailer field")

typedef enum http_err {
#define HTTP__ERR_ENUM(n, s, t) HTTP_E_##n,
	HTTP_ERR_MAP(HTTP__ERR_ENUM)
#undef HTTP__ERR_ENUM
	HTTP_E__COUNT
} http_err_t;

const char *http_err_name(http_err_t e); /* "BARE_CR" */
const char *http_err_text(http_err_t e); /* "bare CR" */
int http_err_status(http_err_t e);       /* 400, 414, 431, 501, 505 */

/* --------------------------------------------------------------- methods */

/* Methods the proxy tells apart (reqrec_t.method); others are OTHER. */
#define HTTP_METHOD_MAP(X)                                                 \
	X(OTHER) X(GET) X(HEAD) X(POST) X(PUT) X(DELETE) X(OPTIONS)       \
	X(PATCH) X(TRACE) X(CONNECT)

typedef enum http_method {
#define HTTP__M_ENUM(n) HTTP_M_##n,
	HTTP_METHOD_MAP(HTTP__M_ENUM)
#undef HTTP__M_ENUM
	HTTP_M__COUNT
} http_method_t;

http_method_t http_method_id(const char *m, size_t len);
const char *http_method_name(http_method_t m);

/* --------------------------------------------------------------- messages */

typedef struct http_header {
	const char *name;
	size_t name_len;
	const char *value; /* without leading/trailing whitespace */
	size_t value_len;
} http_header_t;

typedef enum http_body {
	HTTP_BODY_NONE,        /* no body */
	HTTP_BODY_LENGTH,      /* content_length bytes */
	HTTP_BODY_CHUNKED,     /* chunked transfer coding */
	HTTP_BODY_UNTIL_CLOSE, /* responses only: until the connection closes */
	HTTP_BODY_TUNNEL,      /* 101 Switching Protocols or 2xx to CONNECT */
} http_body_t;

typedef struct http_limits {
	size_t max_request_line; /* longer: LINE_TOO_LONG (414) */
	size_t max_head;         /* longer head: HEAD_TOO_LARGE (431) */
	size_t max_headers;      /* more fields: TOO_MANY_HEADERS (431) */
} http_limits_t;

/* Defaults as in the config: 8 KiB line, 64 KiB head (nginx's
 * large_client_header_buffers), 100 fields. */
#define HTTP_LIMITS_DEFAULT {8192, 65536, 100}

/* The four forms of request-target (RFC 9112 3.2). */
typedef enum http_target_form {
	HTTP_TARGET_ORIGIN,    /* "/path?query" */
	HTTP_TARGET_ABSOLUTE,  /* "http://authority/path?query" */
	HTTP_TARGET_AUTHORITY, /* "host:port", CONNECT only */
	HTTP_TARGET_ASTERISK,  /* "*", OPTIONS only */
} http_target_form_t;

typedef struct http_request {
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	http_target_form_t target_form;
	/* absolute-form: the authority (uri-host [":" port], no userinfo)
	 * and the rest, path and query, which the proxy forwards in
	 * origin-form ("" and "?q" become "/" and "/?q"); for the other
	 * forms authority is NULL and origin is the target. */
	const char *authority;
	size_t authority_len;
	const char *origin;
	size_t origin_len;
	int version;             /* 10 or 11 */
	http_header_t *headers;  /* caller's array */
	size_t nheaders;
	size_t cap;              /* capacity of headers: set by the caller */
	/* Derived framing and semantics. */
	http_method_t method_id;
	http_body_t body;
	uint64_t content_length;
	bool keep_alive;      /* the connection may carry another request */
	bool expect_continue; /* Expect: 100-continue */
	bool upgrade;         /* Connection: upgrade with an Upgrade field */
	const http_header_t *host;
	size_t head_len;
} http_request_t;

typedef struct http_response {
	int version; /* 10 or 11 */
	int status;
	const char *reason;
	size_t reason_len;
	http_header_t *headers;
	size_t nheaders;
	size_t cap;
	http_body_t body;
	uint64_t content_length;
	bool keep_alive; /* the connection may be reused after this one */
	size_t head_len;
} http_response_t;

/* Parses a request head at buf[0..len). req->headers/cap must be set.
 * *scanned is how far an earlier call on the same (grown) buffer searched;
 * pass 0 first. Returns the head length (> 0), ERR_AGAIN (needs more,
 * *scanned updated), or ERR_PARSE with *err set. On ERR_PARSE req is
 * undefined. */
int http_parse_request(const char *buf, size_t len, size_t *scanned,
		       const http_limits_t *lim, http_request_t *req,
		       http_err_t *err);

/* Parses a response head. req_method is the method of the request it
 * answers (HEAD and CONNECT change the framing). Same returns. */
int http_parse_response(const char *buf, size_t len, size_t *scanned,
			const http_limits_t *lim, http_method_t req_method,
			http_response_t *resp, http_err_t *err);

/* The first header named name (case-insensitive), or NULL. */
const http_header_t *http_header_find(const http_header_t *h, size_t n,
				      const char *name);
/* True when the comma-separated value of h has token (case-insensitive). */
bool http_value_has_token(const char *v, size_t len, const char *token);

/* --------------------------------------------------------------- chunked */

/* Incremental chunked-body decoder (RFC 9112 7.1). Feed it bytes as they
 * come; each step consumes framing and at most one span of data.
 *
 * Two grammars. Strict (http_chunked_init_strict), for request bodies from
 * clients, which the proxy re-frames: RFC 9112 7.1 exactly. Every framing
 * line ends in CRLF (a bare LF is CHUNK_BARE_LF); whitespace is allowed
 * only as the BWS of chunk-ext, before ';' and around '=' (so "5 \r\n" and
 * "5;a \r\n" are CHUNK_LINE_WS); an extension has a token name and, after
 * '=', a token or a closed quoted-string. Tolerant (http_chunked_init), for
 * responses and recorded traffic, which are relayed or observed as they
 * are: a bare LF ends a line, whitespace may end a size line, and an
 * extension is any bytes but controls up to the end of the line
 * (HAProxy's and nginx's leniency towards servers, RFC 9112 2.2; a
 * response umbra relays must not fail where the client would have read
 * it). Both bound the size (HTTP_CHUNK_SIZE_MAX and
 * HTTP_CHUNK_SIZE_DIGITS_MAX), the extension (HTTP_CHUNK_EXT_MAX) and the
 * trailer section (max_trailer). */
typedef struct http_chunked {
	int state;
	uint64_t remaining;   /* data bytes left in the current chunk */
	size_t digits;        /* hex digits of the current size */
	size_t ext_len;       /* bytes of chunk extension so far */
	size_t trailer_len;   /* bytes of trailer section so far */
	size_t line_len;      /* bytes of the current trailer line */
	bool in_value;        /* past the colon of the current trailer */
	bool strict;          /* RFC 9112 7.1 exactly (see above) */
	size_t max_trailer;   /* limit for the trailer section */
	bool done;
} http_chunked_t;

#define HTTP_CHUNK_EXT_MAX 4096 /* chunk extensions are unused in practice */
/* 2^63 - 1: a larger size overflows the signed 64-bit offsets that
 * servers keep sizes in (nginx's off_t), the classic chunk-size smuggle. */
#define HTTP_CHUNK_SIZE_MAX INT64_MAX
/* 16 hex digits hold every size up to HTTP_CHUNK_SIZE_MAX; more are
 * leading zeros, which no sender needs and which would let a client send
 * framing without end. */
#define HTTP_CHUNK_SIZE_DIGITS_MAX 16

/* Tolerant decoder (see above). */
void http_chunked_init(http_chunked_t *c, size_t max_trailer);
/* Strict decoder (see above): request bodies from clients. */
void http_chunked_init_strict(http_chunked_t *c, size_t max_trailer);

/* Consumes bytes from buf[0..len): returns how many (0 only when len is
 * 0 or the body is done), or ERR_PARSE with *err. When the consumed bytes
 * include chunk data, *data and *dlen give that span (inside buf), else dlen
 * is 0. c->done is set once the last chunk and the trailers are in.
 * Trailer fields are checked and consumed, not returned. */
ssize_t http_chunked_step(http_chunked_t *c, const char *buf, size_t len,
			  const char **data, size_t *dlen, http_err_t *err);

/* Re-framing: the proxy never relays a client's chunk lines. Each span of
 * decoded data goes out as one chunk in umbra's canonical form: the size
 * in lowercase hex without leading zeros, CRLF, the data, CRLF; no
 * extensions. http_write_chunk appends nothing when len is 0 (a zero size
 * would end the body). http_write_last_chunk appends "0\r\n\r\n": the
 * client's trailer fields are dropped (RFC 9110 6.5.1 lets a recipient
 * that removes the chunked coding discard them). */
void http_write_chunk(buf_t *out, const char *data, size_t len);
void http_write_last_chunk(buf_t *out);

/* --------------------------------------------------------------- writing */

/* True for the connection-specific fields of RFC 9110 7.6.1 (Connection,
 * Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade) and for
 * any field named in one of the message's Connection fields (h[0..n)). */
bool http_is_hop_by_hop(const char *name, size_t len, const http_header_t *h,
			size_t n);

/* What the proxy adds or changes when it forwards a request. */
typedef struct http_fwd {
	const char *client_ip;  /* for X-Forwarded-For / Forwarded; NULL: none */
	bool xff, forwarded;    /* which of the two to add */
	bool keep_upgrade;      /* forward Connection: upgrade + Upgrade */
	bool drop_expect;       /* remove Expect (the body is sent at once) */
	const char *extra;      /* extra header line(s) "Name: v\r\n", or NULL */
	const char *default_host; /* Host for requests that had none (1.0) */
	/* Framing of the forwarded body. */
	http_body_t body;
	uint64_t content_length;
} http_fwd_t;

/* Appends the request head to out: "METHOD TARGET HTTP/1.1", the fields
 * in their order minus hop-by-hop ones, the framing field where the
 * original one was (or last), the forwarding fields, then the extra lines
 * and a blank line. An absolute-form target goes out in origin-form with
 * Host set from its authority, in place of the client's Host or added
 * (RFC 9112 3.2.2), so production never sees two readings of the host. */
void http_write_request_head(buf_t *out, const http_request_t *req,
			     const http_fwd_t *fwd);

/* Appends a response head for a client: the status line (HTTP/1.1), the
 * fields minus hop-by-hop ones, framing (Content-Length, or
 * Transfer-Encoding: chunked when chunked), and "Connection: close" when
 * !keep_alive (keep_upgrade for 101). */
void http_write_response_head(buf_t *out, const http_response_t *resp,
			      http_body_t body, bool keep_alive,
			      bool keep_upgrade);

/* A complete small response umbra makes itself (errors): status, reason
 * text as the body, Connection: close when close_conn. */
void http_write_simple_response(buf_t *out, int status, const char *text,
				bool close_conn);

const char *http_status_reason(int status);

/* --------------------------------------------------------------- targets */

/* Checks a request target and splits it (RFC 9112 3.2). origin-form and
 * absolute-form ("http" or "https" scheme, any case) for every method but
 * CONNECT, which takes authority-form ("host:port") only; "*" for
 * OPTIONS. Refused: a '#' anywhere (TARGET_FRAGMENT: a fragment is never
 * sent, RFC 9110 7.1), userinfo in an authority (TARGET_USERINFO: RFC
 * 9110 4.2.4 calls it an error, used to obscure the host), an authority
 * that is not a valid uri-host[:port], or an empty host in an http(s)
 * URI (BAD_AUTHORITY, RFC 9110 4.2.1), any other shape (BAD_TARGET).
 * Bytes were checked by the caller (visible ASCII and obs-text). Sets
 * req->target_form, authority and origin from req->target. */
http_err_t http_target_parse(http_request_t *req);

/* True when v[0..len) is a valid Host field value: uri-host [":" port]
 * (RFC 9112 3.2, RFC 3986 3.2.2): an IP-literal in brackets, or a
 * reg-name or IPv4 address of unreserved, pct-encoded and sub-delims
 * bytes; the port at most 65535. An empty value is valid (a target with
 * no authority, RFC 9112 3.2). need_port: the port must be there (the
 * authority-form of CONNECT). */
bool http_host_valid(const char *v, size_t len, bool need_port);

/* The endpoint template of a request target, into out (cap bytes, NUL
 * ended, cut to fit): the path without query or fragment, scheme and
 * authority dropped from an absolute-form target, each path segment that
 * is an identifier (number, UUID, hex id, long mixed token) written
 * ":id" ("/users/42/orders?x=1" -> "/users/:id/orders"; an empty path
 * is "/"). Returns the length written. */
size_t http_target_template(const char *target, size_t tlen, char *out,
			    size_t cap);

#endif
