/*
 * capture_gor.c: fuzz target for the GoReplay importer. Invariants:
 * feeding the input in slices of the size the first byte picks gives the
 * same records and counts as feeding it whole; every record passes
 * cap_rec_check; every request is accounted for (requests == exchanges
 * + lost); and exporting the records and importing the export gives back
 * the same requests (as a multiset: records written without a response
 * can come back in another order).
 */
#include "base/err.h"
#include "capture/gor.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct acc {
	uint32_t crc;     /* sum of each request's CRC: the same requests in
			     any order (records without a response may be
			     emitted in another order after a round trip) */
	uint32_t seq;     /* running CRC: the order, for the slicing check */
	uint64_t n;
	buf_t export;
} acc_t;

static void on_rec(void *arg, cap_rec_t *r)
{
	acc_t *a = arg;
	const char *why;
	if (cap_rec_check(r, &why))
		abort();
	uint32_t c = cap_crc32c(0, r->req_head, r->req_head_len);
	c = cap_crc32c(c, r->req_body, r->req_body_len);
	a->crc += c;
	a->seq = cap_crc32c(a->seq, &c, sizeof(c));
	a->n++;
	cap_gor_encode(r, &a->export);
}

static cap_gor_stats_t run(const char *p, size_t n, size_t step, acc_t *a)
{
	cap_gor_t *g = cap_gor_new(4096, on_rec, a);
	for (size_t i = 0; i < n; i += step)
		cap_gor_feed(g, p + i, n - i < step ? n - i : step);
	cap_gor_finish(g);
	cap_gor_stats_t st = *cap_gor_stats(g);
	cap_gor_free(g);
	if (st.requests != st.exchanges + st.lost[CAP_LOSS_PARSE])
		abort();
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 31 + 1;
	const char *p = (const char *)data + 1;
	size--;
	acc_t a = {0}, b = {0};
	cap_gor_stats_t sa = run(p, size, size ? size : 1, &a);
	cap_gor_stats_t sb = run(p, size, step, &b);
	if (a.n != b.n || a.seq != b.seq || sa.items != sb.items ||
	    sa.requests != sb.requests || sa.bad_items != sb.bad_items)
		abort();
	/* export -> import: the same requests */
	acc_t c = {0};
	run(a.export.data ? a.export.data : "", a.export.len,
	    a.export.len ? a.export.len : 1, &c);
	if (c.n != a.n || c.crc != a.crc)
		abort();
	buf_free(&a.export);
	buf_free(&b.export);
	buf_free(&c.export);
	return 0;
}
