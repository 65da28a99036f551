/*
 * capture_reader.c: fuzz target for the capture file reader (plain and
 * zstd). Invariants: every record returned passes cap_rec_check and
 * encodes back to a record that decodes the same; reading a prefix of
 * the input (cut where the first byte says) returns a prefix of the
 * records read from the whole (a crash loses only the tail), and says
 * where it stopped within the prefix; the stop offset is inside the
 * input; a reader that stopped stays stopped.
 */
#include "base/err.h"
#include "capture/capture.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECS 512

typedef struct seen {
	uint32_t crc[MAX_RECS];
	size_t n;
	int rc;
	uint64_t off;
} seen_t;

/* A digest of a record's content, through a re-encode/decode cycle. */
static uint32_t digest(const cap_rec_t *r)
{
	const char *why;
	if (cap_rec_check(r, &why))
		abort();
	buf_t b = BUF_INIT;
	cap_rec_encode(r, &b);
	cap_rec_t d;
	if (cap_rec_decode(b.data, b.len, &d, &why))
		abort();
	buf_t c = BUF_INIT;
	cap_rec_encode(&d, &c);
	if (b.len != c.len || memcmp(b.data, c.data, b.len))
		abort();
	uint32_t crc = cap_crc32c(0, b.data, b.len);
	buf_free(&b);
	buf_free(&c);
	return crc;
}

static void read_all(const uint8_t *p, size_t n, seen_t *s)
{
	cap_reader_t *r = cap_reader_mem(p, n, "fuzz");
	cap_rec_t rec;
	s->n = 0;
	while ((s->rc = cap_reader_next(r, &rec)) == 1)
		if (s->n < MAX_RECS)
			s->crc[s->n++] = digest(&rec);
	s->off = cap_reader_offset(r);
	if (s->off > n)
		abort();
	if (s->rc < 0 && !strstr(cap_reader_error(r), "fuzz: byte "))
		abort();
	if (cap_reader_next(r, &rec) != s->rc)
		abort(); /* stopped is final */
	cap_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t cut = (size_t)data[0] * (size - 1) / 255;
	data++;
	size--;
	seen_t whole, part;
	read_all(data, size, &whole);
	read_all(data, cut, &part);
	if (part.n > whole.n)
		abort();
	for (size_t i = 0; i < part.n && i < MAX_RECS; i++)
		if (part.crc[i] != whole.crc[i])
			abort();
	if (whole.rc == 1 || part.rc == 1)
		abort();
	return 0;
}
