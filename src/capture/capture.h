/*
 * capture.h: umbra's capture files: recorded HTTP exchanges (request and
 * response pairs with timestamps, latency, connection id and side) in an
 * append-only file of length-prefixed, CRC32C-checked records behind a
 * versioned header, optionally zstd-compressed (docs/capture.md has the
 * byte layout). Every source writes through cap_writer_t: the proxy's tap,
 * pcap files and live interfaces (reasm.h), GoReplay files (gor.h).
 *
 * Crash safety: records are appended whole; a reader stops cleanly at the
 * first record that is short or fails its CRC and says where (file and
 * byte offset), so a crash mid-write loses at most the unfinished record.
 * Compressed files keep that property: each record ends a zstd flush, in
 * its own checked frame.
 *
 * Masking (DESIGN.md non-negotiable 2) applies before anything is written:
 * every record passes through the writer's cap_masker_t first: the real
 * one (cap_masker_new) when mask.enabled, else cap_mask_passthrough, and
 * the file header says "masking=none".
 *
 * Ownership: a cap_rec_t borrows every byte it points to. A reader's
 * record points into the reader's buffer, valid until the next call.
 */
#ifndef UMBRA_CAPTURE_CAPTURE_H
#define UMBRA_CAPTURE_CAPTURE_H

#include "base/buf.h"
#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* --------------------------------------------------------------- limits */
#define CAP_VERSION 1
#define CAP_MAGIC "UMBRACAP"
#define CAP_HEADER_FIXED 24          /* magic, version, flags, meta, crc */
#define CAP_META_MAX (64 * 1024)     /* metadata is a few short lines */
#define CAP_FRAME_HEAD 12            /* len, type, reserved, crc */
#define CAP_REC_FIXED 116            /* fixed part of a record payload */
#define CAP_BODY_MAX (64u << 20)     /* capture.max_body's upper bound: a
					captured body is kept in memory
					whole, twice at most (request and
					response) */
#define CAP_FRAME_MAX (160u << 20)   /* a frame: two bodies of
					CAP_BODY_MAX, two heads, the tag:
					anything longer is corruption */
#define CAP_HEAD_MAX (1u << 20)      /* a stored head: 16x the proxy's
					64 KiB head limit */
#define CAP_TAG_MAX 256              /* an origin id (GoReplay's are 24 or
					40 hex digits) */
#define CAP_CHUNK_OUT_MAX (CAP_FRAME_MAX + 4096) /* what one zstd chunk
					may decompress to: one record
					frame (zstd bombs stop here) */

/* --------------------------------------------------------------- CRC32C */

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as in iSCSI and
 * ext4. crc is the running value (0 to start); returns the new one. */
uint32_t cap_crc32c(uint32_t crc, const void *data, size_t len);

/* --------------------------------------------------------------- records */

typedef enum cap_kind {
	CAP_KIND_EXCHANGE = 1, /* a request and (usually) its response */
	CAP_KIND_LOSS = 2,     /* requests the source saw but lost, by reason */
} cap_kind_t;

/* Where a record came from. */
#define CAP_SOURCE_MAP(X)                                                  \
	X(UNKNOWN, "unknown")                                             \
	X(PROXY, "proxy")                                                 \
	X(PCAP, "pcap")                                                   \
	X(LIVE, "live")                                                   \
	X(GOR, "gor")

typedef enum cap_source {
#define CAP__SRC_ENUM(n, s) CAP_SRC_##n,
	CAP_SOURCE_MAP(CAP__SRC_ENUM)
#undef CAP__SRC_ENUM
	CAP_SRC__COUNT
} cap_source_t;

const char *cap_source_name(int src);

/* Record flags. */
#define CAP_RF_MASKED 0x0001        /* a real masker ran on it */
#define CAP_RF_NO_RESPONSE 0x0002   /* no response was captured */
#define CAP_RF_REQ_TRUNC 0x0004     /* request body cut at max_body */
#define CAP_RF_RESP_TRUNC 0x0008    /* response body cut at max_body */
#define CAP_RF_RESP_PARTIAL 0x0010  /* the response ended (gap, reset,
				       capture end) before its framing
				       said: body incomplete */
#define CAP_RF_REQ_CHUNKED 0x0020   /* request came chunked; the body is
				       stored de-chunked */
#define CAP_RF_RESP_CHUNKED 0x0040  /* response likewise */
#define CAP_RF_TUNNEL 0x0080        /* 101 or CONNECT: a tunnel followed */
#define CAP_RF__ALL 0x00ff

/* Why a request that was seen was not written whole: every one counted
 * (no silent loss). X(NAME, name, text). */
#define CAP_LOSS_MAP(X)                                                    \
	X(GAP, "gap", "bytes of the connection were never captured")      \
	X(TRUNCATED, "truncated",                                         \
	  "the connection or the capture ended mid-request")              \
	X(MIDSTREAM, "midstream",                                         \
	  "the capture joined the connection mid-request")                \
	X(PARSE, "parse", "not parseable as an HTTP/1.x request")         \
	X(LIMIT, "limit",                                                 \
	  "reassembly limits (connections, memory) forced it out")        \
	X(TAP_QUEUE, "tap_queue", "the proxy tap's queue was full")       \
	X(TAP_BYTES, "tap_bytes", "the proxy tap's byte bound was reached")\
	X(CLIENT_ABORT, "client_abort",                                   \
	  "the client went away before the request was complete")         \
	X(MASK, "mask", "masking refused the record")                     \
	X(RESPONSE_LOST, "response_lost",                                 \
	  "request written without its response (gap in the response)")

typedef enum cap_loss {
#define CAP__LOSS_ENUM(n, s, t) CAP_LOSS_##n,
	CAP_LOSS_MAP(CAP__LOSS_ENUM)
#undef CAP__LOSS_ENUM
	CAP_LOSS__COUNT
} cap_loss_t;

const char *cap_loss_name(int l);
const char *cap_loss_text(int l);

/* An endpoint of a connection; family 0 when unknown. */
typedef struct cap_addr {
	uint8_t family; /* 0, 4 or 6 */
	uint16_t port;
	uint8_t ip[16]; /* IPv4 in the first 4 bytes */
} cap_addr_t;

/* "1.2.3.4:80", "[::1]:80" or "-" into out (>= 64 bytes). */
const char *cap_addr_format(const cap_addr_t *a, char *out, size_t cap);

/* Which side served the exchange (reqrec_side_t's values). Captures of
 * a service (pcap, live, GoReplay) are production's. */
#define CAP_SIDE_PRODUCTION 0
#define CAP_SIDE_SHADOW 1
#define CAP_SIDE_BASELINE 2

typedef struct cap_rec {
	uint8_t kind;   /* cap_kind_t */
	uint8_t source; /* cap_source_t */
	uint8_t side;   /* CAP_SIDE_* */
	uint16_t flags; /* CAP_RF_* */
	uint32_t seq;   /* request index on its connection */
	uint64_t conn_id;
	int64_t req_ns;     /* wall time of the request's first byte */
	int64_t resp_ns;    /* wall time of the response's first byte; 0 none */
	int64_t latency_ns; /* request's first byte to response's last byte */
	uint64_t req_body_total;  /* body lengths before any cut */
	uint64_t resp_body_total;
	cap_addr_t client, server;
	/* Heads as received (request line or status line, fields, blank
	 * line); bodies de-chunked. Borrowed. */
	const char *tag; /* origin id (e.g. GoReplay's), may be empty */
	size_t tag_len;
	const char *req_head, *req_body, *resp_head, *resp_body;
	size_t req_head_len, req_body_len, resp_head_len, resp_body_len;
	/* CAP_KIND_LOSS: counts by cap_loss_t (req_ns is when). */
	uint64_t loss[CAP_LOSS__COUNT];
} cap_rec_t;

/* Encodes rec as a record payload, appended to out. rec must be valid
 * (cap_rec_check). */
void cap_rec_encode(const cap_rec_t *rec, buf_t *out);

/* Decodes a record payload p[0..len): rec's slices point into p.
 * Returns 0, or ERR_CORRUPT with *why set. */
int cap_rec_decode(const char *p, size_t len, cap_rec_t *rec,
		   const char **why);

/* 0 when rec is encodable (known kind, flags, lengths within bounds),
 * else ERR_INVAL with *why. */
int cap_rec_check(const cap_rec_t *rec, const char **why);

/* --------------------------------------------------------------- masking */

/*
 * The mask hook. Every record passes through one before it is written
 * (cap_writer_write) or leaves the proxy (the tap). mask() may replace
 * rec's slices with slices into scratch (emptied by the caller before each
 * call and owned by it); it returns 0, or a negative error with *why set
 * to refuse the record, which is then not written and is counted as lost
 * (CAP_LOSS_MASK): masking fails closed. `real` is false only for the
 * pass-through, so that files say honestly whether they were masked.
 *
 * cap_masker_new is the real one, on the masking module (src/mask); the
 * daemon and the commands give it to the writer and to the proxy's tap
 * (proxy_tap_set_masker).
 */
typedef struct cap_masker {
	const char *name; /* "none" for the pass-through; goes in headers */
	bool real;
	int (*mask)(void *ctx, cap_rec_t *rec, buf_t *scratch,
		    const char **why);
	void *ctx;
} cap_masker_t;

extern const cap_masker_t cap_mask_passthrough;

/* The real masker (capmask.c): the masking module's detectors, rules and
 * keyed pseudonyms (mask.h) on both messages of a record, failing closed.
 * One thread at a time. NULL with err set when cfg does not compile or
 * its key cannot be loaded. */
#define CAP_MASK_MAX_HEADERS 128
struct config_mask;
cap_masker_t *cap_masker_new(const struct config_mask *cfg, buf_t *err);
void cap_masker_free(cap_masker_t *m);

/* What the real masker refused, by request (method, endpoint template,
 * request or response, reason) and the setting that would allow it, one
 * line each to f; nothing when it refused nothing. */
void cap_masker_report(const cap_masker_t *m, FILE *f, const char *indent);

/* Runs m on rec unless it is already masked; sets CAP_RF_MASKED when m
 * is real. 0 or the masker's refusal. */
int cap_mask_apply(const cap_masker_t *m, cap_rec_t *rec, buf_t *scratch,
		   const char **why);

/* --------------------------------------------------------------- header */

/* The file header's metadata: "key=value" lines, known keys parsed. */
typedef struct cap_meta {
	int version;
	bool zstd;          /* the writer compressed (chunks may appear) */
	char source[256];   /* "proxy", "pcap:FILE", "live:IF", "gor:FILE" */
	char service[128];
	char masking[64];   /* masker name; "none" = not masked */
	char created[40];   /* ISO 8601 */
	char umbra[64];     /* version that wrote it */
	char error[256];    /* set by a tap that refused the client */
} cap_meta_t;

/* The full header (fixed part + metadata) for meta, appended to out. */
void cap_header_encode(const cap_meta_t *meta, buf_t *out);

/* Parses a header at p[0..len). Returns its length, ERR_AGAIN when more
 * bytes are needed, or ERR_CORRUPT with *why. */
int cap_header_decode(const char *p, size_t len, cap_meta_t *meta,
		      const char **why);

/* --------------------------------------------------------------- writer */

typedef struct cap_writer cap_writer_t;

typedef struct cap_writer_opts {
	bool zstd;
	int zstd_level;        /* 0: zstd's default */
	const cap_masker_t *masker; /* NULL: cap_mask_passthrough */
	const char *source;    /* header metadata */
	const char *service;
	size_t flush_bytes;    /* buffered bytes that trigger a write(2);
				  0: CAP_WRITER_FLUSH */
	bool gor;              /* write GoReplay payloads instead (gor.h):
				  no header, loss records left out */
	const struct cap_filter *filter; /* exchanges that do not match are
				  left out, counted (stats.h); NULL: all */
} cap_writer_opts_t;

#define CAP_WRITER_FLUSH (256 * 1024) /* one write(2) per 256 KiB at most */
#define CAP_ZSTD_BLOCK (4u << 20)     /* a zstd frame ends every 4 MiB of
					 records, bounding a reader's window
					 and what a damaged frame can hide */

/* Creates path (refusing to replace an existing file unless force; mode
 * 0600: captures are sensitive) and writes the header. Returns 0 and a
 * new writer in *out, or a negative error (nothing created). */
int cap_writer_open(const char *path, bool force, const cap_writer_opts_t *o,
		    cap_writer_t **out);

/* The same on an open descriptor (taken: closed by cap_writer_close). */
cap_writer_t *cap_writer_fdopen(int fd, const char *name,
				const cap_writer_opts_t *o);

/* Filters, masks and appends rec (it may be modified by the masker).
 * Returns 0, 1 when the filter left it out or the masker refused it
 * (counted, nothing written), or a negative write error (sticky: later
 * calls return it too). */
int cap_writer_write(cap_writer_t *w, cap_rec_t *rec);

/* Writes what is buffered (each record in it whole). 0 or an error. */
int cap_writer_flush(cap_writer_t *w);

/* Flushes, ends the zstd frame, closes. Returns the first error the
 * writer met, 0 if none; frees w either way. */
int cap_writer_close(cap_writer_t *w);

typedef struct cap_writer_stats {
	uint64_t records, bytes; /* written (file bytes) */
	uint64_t raw_bytes;      /* record bytes before compression */
	uint64_t mask_refused;
	uint64_t filtered;       /* left out by the filter */
	uint64_t loss[CAP_LOSS__COUNT]; /* sum of LOSS records written */
} cap_writer_stats_t;

const cap_writer_stats_t *cap_writer_stats(const cap_writer_t *w);

/* --------------------------------------------------------------- reader */

typedef struct cap_reader cap_reader_t;

/* Opens path and reads its header. Returns 0 and a new reader, or an
 * error with a message in err (>= 256 bytes): "FILE: reason". */
int cap_reader_open(const char *path, cap_reader_t **out, char *err,
		    size_t errcap);

/* A reader on a descriptor (a socket: the tap), taken. The header is read
 * by the first cap_reader_next call. */
cap_reader_t *cap_reader_fdopen(int fd, const char *name);

/* A reader over memory (borrowed; fuzzing and tests). */
cap_reader_t *cap_reader_mem(const void *data, size_t len, const char *name);

/* The next record. Returns 1 (rec filled, valid until the next call), 0
 * at a clean end, ERR_AGAIN when a non-blocking descriptor has no more
 * bytes yet (call again later; nothing is lost), or ERR_CORRUPT / ERR_EOF
 * (truncated) / -errno when it stopped at a bad record:
 * cap_reader_error() says where and why, "FILE: byte N: reason". Stopped
 * is final. */
int cap_reader_next(cap_reader_t *r, cap_rec_t *rec);

const cap_meta_t *cap_reader_meta(const cap_reader_t *r); /* NULL before */
const char *cap_reader_error(const cap_reader_t *r);       /* "" if none */
uint64_t cap_reader_offset(const cap_reader_t *r); /* bytes consumed */
/* File offset of the frame the last returned record came from. */
uint64_t cap_reader_record_offset(const cap_reader_t *r);
void cap_reader_close(cap_reader_t *r);

/* --------------------------------------------------------------- helpers */

/* A parsed view of a record's request head (for filters, stats, replay).
 * 0 or ERR_PARSE. hdrs[0..cap) is the caller's scratch. */
int cap_parse_req(const cap_rec_t *rec, http_request_t *req,
		  http_header_t *hdrs, size_t cap);
/* The recorded response's status, 0 when none or unparseable. */
int cap_resp_status(const cap_rec_t *rec);

#endif
