/*
 * reasm.h: from packets to HTTP exchanges. cap_packet_decode() turns a
 * captured frame (Ethernet, Linux cooked v1/v2, BSD loopback, raw IP;
 * IPv4 and IPv6) into a TCP segment; the reassembler follows each
 * connection (keyed by its 4-tuple) by sequence numbers: retransmissions
 * and overlaps are trimmed, out-of-order segments held (bounded) until
 * the hole fills, and the two byte streams parsed as HTTP/1.x: keep-alive
 * with many requests, pipelining, Content-Length and chunked bodies
 * (stored de-chunked), bodies until close, 1xx interim responses,
 * Upgrade/CONNECT tunnels. Responses pair with requests in order (RFC
 * 9112 9.3), not by TCP ack numbers.
 *
 * No silent loss: every request seen but not written whole is counted by
 * reason (cap_loss_t): a hole that never filled (GAP), a connection or a
 * capture that ended mid-request (TRUNCATED), a connection joined in the
 * middle of a request (MIDSTREAM), malformed HTTP (PARSE), limits
 * (LIMIT). Requests whose response was lost are written without it and
 * counted (RESPONSE_LOST). After cap_reasm_finish():
 *
 *   requests == exchanges + sum(lost[r] for r != RESPONSE_LOST)
 *
 * Memory is bounded: max_flows connections (least recently active one
 * finished first), reorder_bytes held out of order per direction (over
 * it the hole is declared a gap), memory_limit overall (bodies are then
 * cut and flagged), max_body kept per message.
 *
 * Time is the packets' own (capture time), so a file and a live capture
 * behave alike. Not thread-safe: one reassembler per thread.
 */
#ifndef UMBRA_CAPTURE_REASM_H
#define UMBRA_CAPTURE_REASM_H

#include "capture/capture.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TCP flags */
#define CAP_TCP_FIN 0x01
#define CAP_TCP_SYN 0x02
#define CAP_TCP_RST 0x04
#define CAP_TCP_ACK 0x10

typedef struct cap_seg {
	cap_addr_t src, dst;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *data; /* captured payload (borrowed) */
	size_t len;          /* captured payload bytes */
	size_t wire_len;     /* payload bytes on the wire (> len: snaplen) */
} cap_seg_t;

typedef enum cap_pkt {
	CAP_PKT_TCP = 0,
	CAP_PKT_NOT_IP,     /* ARP, other ethertypes */
	CAP_PKT_NOT_TCP,    /* UDP, ICMP ... */
	CAP_PKT_FRAGMENT,   /* IP fragments are not reassembled */
	CAP_PKT_SHORT,      /* captured too short to hold the headers */
	CAP_PKT_BAD,        /* malformed headers */
	CAP_PKT_LINKTYPE,   /* link type not supported */
} cap_pkt_t;

/* Decodes one captured frame of the given pcap link type (DLT_*).
 * Borrowing p; seg's data points into it. Returns CAP_PKT_TCP or why
 * the frame is not a TCP segment. */
cap_pkt_t cap_packet_decode(int linktype, const uint8_t *p, size_t caplen,
			    cap_seg_t *seg);

/* True when the link type is one cap_packet_decode understands. */
bool cap_linktype_supported(int linktype);

typedef struct cap_reasm_opts {
	size_t max_flows;       /* connections tracked at once */
	size_t reorder_bytes;   /* held out of order, per direction */
	uint64_t memory_limit;  /* everything held, all connections */
	int64_t flow_timeout;   /* ns of capture time without packets */
	uint64_t max_body;      /* body bytes kept per message */
	uint16_t server_port;   /* which side is the server; 0 = detect */
	uint8_t source;         /* cap_source_t written in records */
} cap_reasm_opts_t;

/* Defaults as in the config (capture.*). */
#define CAP_REASM_OPTS_DEFAULT                                             \
	{65536, 1u << 20, 512ull << 20, 120LL * 1000000000, 1u << 20, 0,   \
	 CAP_SRC_PCAP}

typedef struct cap_reasm_stats {
	uint64_t packets;          /* frames given */
	uint64_t tcp_packets;
	uint64_t skipped[CAP_PKT_LINKTYPE + 1]; /* by cap_pkt_t */
	uint64_t payload_bytes;    /* TCP payload, on the wire */
	uint64_t retrans_bytes;    /* already seen: dropped */
	uint64_t ooo_segments;     /* held for a while */
	uint64_t gaps, gap_bytes;  /* holes that never filled */
	uint64_t flows, flows_evicted, flows_expired;
	uint64_t flows_joined;     /* seen without their start (no SYN) */
	uint64_t requests;         /* requests seen (whole or not) */
	uint64_t exchanges;        /* written */
	uint64_t no_response;      /* written without a response */
	uint64_t lost[CAP_LOSS__COUNT];
	uint64_t orphan_responses; /* responses to no request seen */
	uint64_t stray_responses;  /* responses skipped as answers to
				      requests not seen (mid-stream, gap) */
	uint64_t bodies_cut;       /* bodies cut at max_body or memory */
	uint64_t tunnels;
	uint64_t mem, mem_peak;    /* bytes held */
	int64_t first_ns, last_ns; /* capture time span */
} cap_reasm_stats_t;

typedef struct cap_reasm cap_reasm_t;

/* Called for every exchange, in completion order; rec and its bytes are
 * valid during the call only (the callee may let a masker modify rec). */
typedef void (*cap_emit_fn)(void *arg, cap_rec_t *rec);

cap_reasm_t *cap_reasm_new(const cap_reasm_opts_t *o, cap_emit_fn emit,
			   void *arg);

/* One decoded segment captured at ts (wall ns). */
void cap_reasm_segment(cap_reasm_t *r, int64_t ts, const cap_seg_t *seg);

/* One captured frame: decode, count, and reassemble. */
void cap_reasm_packet(cap_reasm_t *r, int64_t ts, int linktype,
		      const uint8_t *p, size_t caplen);

/* Finishes connections idle since before now - flow_timeout (live
 * captures call it on a timer; packets call it themselves). */
void cap_reasm_expire(cap_reasm_t *r, int64_t now);

/* End of input: finishes every connection (holes become gaps, what is
 * incomplete is counted). */
void cap_reasm_finish(cap_reasm_t *r);

const cap_reasm_stats_t *cap_reasm_stats(const cap_reasm_t *r);
void cap_reasm_free(cap_reasm_t *r);

/* --------------------------------------------------------------- pcap */

/* A libpcap source: a capture file (pcap or pcapng) or a live interface,
 * reassembled into a writer. */
typedef struct cap_pcap_opts {
	const char *file;       /* a capture file, or */
	const char *interface;  /* a live interface (needs CAP_NET_RAW) */
	uint16_t port;          /* server port: BPF "tcp port N"; 0 = all */
	const char *filter;     /* extra BPF expression, ANDed; NULL none */
	cap_reasm_opts_t reasm;
	int64_t duration;       /* live: stop after this (ns); 0 = no limit */
	uint64_t max_records;   /* stop after this many; 0 = no limit */
	const volatile int *stop; /* set asynchronously (signals) to stop */
	/* live: called about 4 times a second with the running counts */
	void (*progress)(void *arg, const cap_reasm_stats_t *st,
			 const cap_writer_stats_t *ws);
	void *progress_arg;
} cap_pcap_opts_t;

typedef struct cap_pcap_result {
	cap_reasm_stats_t reasm;
	uint64_t file_bytes;    /* size of the file read */
	uint64_t kernel_drops;  /* live: packets the kernel dropped */
	uint64_t if_drops;      /* live: dropped by the interface/driver */
	int linktype;
	int64_t elapsed_ns;     /* wall time spent */
} cap_pcap_result_t;

/* Runs the source to its end (file), or until stop/duration/max_records
 * (live), writing every exchange to w; the losses the reassembler
 * counted go into the file as a LOSS record. Returns 0, or a negative
 * error with a message in err ("FILE: reason", libpcap's words). */
int cap_pcap_run(const cap_pcap_opts_t *o, cap_writer_t *w,
		 cap_pcap_result_t *res, char *err, size_t errcap);

#endif
