/*
 * capture_reasm.c: fuzz target for TCP reassembly and HTTP stream
 * parsing. The input is a script of segments on up to four connections:
 * a header byte (options), then per segment [flags][seq offset i16][len]
 * [payload]; flags: bits 0-1 the connection, 2 the direction, 3 FIN,
 * 4 SYN, 5 RST, 6 a payload cut by the snap length, 7 a raw frame for
 * the packet decoder instead; all of 3-6 together jump 200 s ahead
 * (idle expiry). Limits are small so
 * that eviction, reorder bounds and body cuts are reached.
 * Invariants: every record passes cap_rec_check; after finish every
 * request seen is written or counted lost, a response is never dated
 * before its request, and nothing stays held
 * (memory back to zero); memory never exceeded its bound by more than one
 * segment and the fixed per-connection cost.
 */
#include "capture/reasm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void on_rec(void *arg, cap_rec_t *r)
{
	(void)arg;
	const char *why;
	if (cap_rec_check(r, &why))
		abort();
	if (r->req_head_len == 0 || r->req_head_len > 256 * 1024)
		abort();
	/* a pair's times are ordered */
	if (r->resp_head && r->resp_ns < r->req_ns)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	cap_reasm_opts_t o = CAP_REASM_OPTS_DEFAULT;
	o.max_flows = opt & 1 ? 2 : 4;
	o.reorder_bytes = opt & 2 ? 64 : 4096;
	o.max_body = opt & 4 ? 8 : 1024;
	o.memory_limit = opt & 8 ? 16 * 1024 : 1 << 20;
	o.server_port = opt & 16 ? 80 : 0;
	cap_reasm_t *r = cap_reasm_new(&o, on_rec, NULL);
	size_t i = 1;
	int64_t ts = 1000;
	uint32_t isn[4][2] = {{1, 100000}, {0xfffffff0u, 7}, {5, 6},
			      {0x80000000u, 0x7fffffffu}};
	while (i + 4 <= size) {
		uint8_t fl = data[i];
		uint16_t off = (uint16_t)(data[i + 1] | data[i + 2] << 8);
		size_t len = data[i + 3];
		i += 4;
		if (len > size - i)
			len = size - i;
		const uint8_t *p = data + i;
		i += len;
		ts += 1000 + ((fl & 0x78) == 0x78 ? 200LL * 1000000000 : 0);
		if (fl & 0x80) {
			/* a raw frame: Ethernet or raw IP */
			cap_reasm_packet(r, ts, fl & 1 ? 1 : 12, p, len);
			continue;
		}
		int conn = fl & 3, dir = (fl >> 2) & 1;
		cap_seg_t s = {0};
		cap_addr_t a = {4, (uint16_t)(40000 + conn), {10, 0, 0, 1}};
		cap_addr_t b = {4, 80, {10, 0, 0, 2}};
		s.src = dir ? b : a;
		s.dst = dir ? a : b;
		s.seq = isn[conn][dir] + (uint32_t)(int32_t)(int16_t)off;
		s.flags = (uint8_t)(((fl >> 3) & 7) | CAP_TCP_ACK);
		if ((s.flags & CAP_TCP_SYN) && !dir)
			s.flags &= (uint8_t)~CAP_TCP_ACK;
		s.data = p;
		s.len = len;
		s.wire_len = len + (fl & 0x40 && len > 4 ? 3 : 0);
		cap_reasm_segment(r, ts, &s);
		const cap_reasm_stats_t *st = cap_reasm_stats(r);
		/* bodies stop being kept at the limit; what else is held is
		 * bounded by reorder_bytes, heads and one segment per flow */
		if (st->mem > o.memory_limit + 4 * (2 * o.reorder_bytes +
						    2 * 256 * 1024 + 4096))
			abort();
	}
	cap_reasm_finish(r);
	const cap_reasm_stats_t *st = cap_reasm_stats(r);
	uint64_t lost = 0;
	for (int k = 0; k < CAP_LOSS__COUNT; k++)
		if (k != CAP_LOSS_RESPONSE_LOST)
			lost += st->lost[k];
	if (st->requests != st->exchanges + lost || st->mem != 0)
		abort();
	cap_reasm_free(r);
	return 0;
}
