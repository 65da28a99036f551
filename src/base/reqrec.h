/*
 * reqrec.h: the per-request record, the contract between the proxy (which
 * writes one per request and per mirrored copy, into its worker's ring)
 * and the metrics side (which drains the rings once per tick). Fixed size
 * and plain data, so a ring of them is a memcpy each way. It lives in base
 * so that neither side depends on the other (DESIGN.md: arrows point
 * down).
 *
 * A production record and its shadow copy share pair_id; the comparison of
 * the two responses is carried by the shadow record (cls, diff).
 */
#ifndef UMBRA_BASE_REQREC_H
#define UMBRA_BASE_REQREC_H

#include <stdint.h>

typedef enum reqrec_side {
	REQREC_PRODUCTION = 0,
	REQREC_SHADOW = 1,
	REQREC_BASELINE = 2,
} reqrec_side_t;

/* How a pair compared (on the shadow or baseline record). */
typedef enum reqrec_class {
	REQREC_UNCOMPARED = 0, /* production record, or not comparable */
	REQREC_MATCH = 1,
	REQREC_DIFFER = 2,
	REQREC_NOISE = 3, /* differs, but the baseline differs alike */
} reqrec_class_t;

/* Why a request got no (usable) response. */
typedef enum reqrec_error {
	REQREC_OK = 0,
	REQREC_ERR_CONNECT = 1, /* refused, unreachable, connect timeout */
	REQREC_ERR_TIMEOUT = 2, /* no response within the response timeout */
	REQREC_ERR_RESET = 3,   /* connection closed mid-response */
	REQREC_ERR_PROTOCOL = 4,/* malformed response */
	REQREC_ERR_CLIENT = 5,  /* the client went away */
} reqrec_error_t;

/* Comparison differences, a bitmask on the shadow record. */
#define REQREC_DIFF_STATUS 0x01u
#define REQREC_DIFF_HEADERS 0x02u
#define REQREC_DIFF_BODY 0x04u
#define REQREC_DIFF_SIZE 0x08u
#define REQREC_DIFF_JSON 0x10u  /* structural JSON difference */
#define REQREC_DIFF_ERROR 0x20u /* one side failed, the other did not */

typedef struct reqrec {
	int64_t start_ns;     /* wall clock at the request's first byte */
	uint64_t pair_id;     /* shared by a production record and its copies */
	uint32_t endpoint;    /* id in the proxy's endpoint strtab */
	uint32_t latency_us;  /* first request byte to last response byte */
	uint32_t ttfb_us;     /* to the first response byte */
	uint32_t connect_us;  /* upstream connect (0 when a pooled conn) */
	uint32_t req_bytes;   /* request bytes sent upstream */
	uint32_t resp_bytes;  /* response bytes received */
	uint16_t status;      /* HTTP status, 0 when none */
	uint8_t side;         /* reqrec_side_t */
	uint8_t cls;          /* reqrec_class_t */
	uint8_t error;        /* reqrec_error_t */
	uint8_t diff;         /* REQREC_DIFF_* */
	uint8_t method;       /* index of the method (http module) */
	uint8_t worker;       /* proxy worker that served it */
} reqrec_t;

_Static_assert(sizeof(reqrec_t) == 48, "reqrec_t is a fixed 48 bytes");

#endif
