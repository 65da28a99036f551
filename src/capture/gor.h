/*
 * gor.h: GoReplay's .gor files, in and out, so existing recordings work
 * with umbra and umbra's with GoReplay. A .gor file is a sequence of
 * payloads, each a header line "TYPE ID TIMESTAMP_NS [LATENCY_NS]"
 * (TYPE 1 request, 2 response, 3 replayed response), the raw HTTP
 * message, and the separator "\n\xF0\x9F\x90\xB5\xF0\x9F\x99\x88\xF0\x9F\x99\x89\n" (the three monkeys).
 * A request and its response share the ID.
 *
 * Import pairs requests with responses by ID (at most GOR_PENDING_MAX
 * waiting; past it the oldest is written without its response, counted),
 * parses both with the http module (bodies de-chunked, as every umbra
 * record), and counts what it cannot use: unparseable payload headers,
 * unparseable requests (lost, PARSE), responses to no request, replayed
 * responses (type 3, not recordings of production).
 *
 * Export writes each record as a request payload and (when there is one)
 * a response payload; a body that arrived chunked is sent as one chunk,
 * so the payload stays a valid HTTP message. Records exported then
 * imported come back the same; a .gor in that canonical form comes back
 * byte for byte.
 */
#ifndef UMBRA_CAPTURE_GOR_H
#define UMBRA_CAPTURE_GOR_H

#include "capture/capture.h"
#include "capture/reasm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GOR_SEPARATOR "\n\xF0\x9F\x90\xB5\xF0\x9F\x99\x88\xF0\x9F\x99\x89\n"
#define GOR_SEPARATOR_LEN 14
#define GOR_ID_MAX 64        /* GoReplay's ids are 24 or 40 hex digits */
#define GOR_PENDING_MAX 65536 /* requests waiting for their response */
#define GOR_ITEM_MAX (CAP_BODY_MAX + CAP_HEAD_MAX + 256) /* one payload */

typedef struct cap_gor_item {
	char type;            /* '1', '2', '3' */
	const char *id;
	size_t id_len;
	int64_t ts;           /* third field */
	int64_t latency;      /* fourth field; -1 when absent */
	const char *payload;  /* the HTTP message */
	size_t payload_len;
} cap_gor_item_t;

/* Parses one item (the bytes between two separators). 0, or ERR_PARSE
 * with *why. */
int cap_gor_item_parse(const char *p, size_t n, cap_gor_item_t *it,
		       const char **why);

typedef struct cap_gor_stats {
	uint64_t items, bad_items;
	uint64_t requests, responses, replayed;
	uint64_t exchanges, no_response, orphan_responses;
	uint64_t bad_responses; /* written without the unparseable response */
	uint64_t lost[CAP_LOSS__COUNT];
	uint64_t bytes;
} cap_gor_stats_t;

typedef struct cap_gor cap_gor_t;

/* A streaming importer: feed it the file's bytes in any pieces; records
 * go to emit (valid during the call). */
cap_gor_t *cap_gor_new(uint64_t max_body, cap_emit_fn emit, void *arg);
/* 0, or ERR_TOOBIG when one payload exceeds GOR_ITEM_MAX (the importer
 * stops; what came before was emitted). */
int cap_gor_feed(cap_gor_t *g, const char *p, size_t n);
/* End of input: the last payload (if unterminated) and every request
 * still waiting (written without a response). */
void cap_gor_finish(cap_gor_t *g);
const cap_gor_stats_t *cap_gor_stats(const cap_gor_t *g);
void cap_gor_free(cap_gor_t *g);

/* Imports a .gor file into w (losses written as a LOSS record). 0 or an
 * error with err filled. */
int cap_gor_import(const char *path, uint64_t max_body, cap_writer_t *w,
		   cap_gor_stats_t *st, char *err, size_t errcap);

/* Appends rec as .gor payloads to out. */
void cap_gor_encode(const cap_rec_t *rec, buf_t *out);

#endif
