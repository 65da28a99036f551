/*
 * test_file.c: the capture file format: CRC32C, record encoding, the
 * writer and reader (plain and zstd), crash safety (a file cut at every
 * byte offset gives back exactly the records before the cut and says
 * where it stopped), corruption, header errors and the mask hook.
 */
#include "base/err.h"
#include "base/fault.h"
#include "capture/capture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

Test(capture_crc, check_vectors)
{
	cr_assert_eq(cap_crc32c(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(cap_crc32c(0, "", 0), 0u);
	/* RFC 3720 B.4: 32 bytes of zeros, of 0xff */
	unsigned char z[32] = {0}, f[32];
	memset(f, 0xff, sizeof(f));
	cr_assert_eq(cap_crc32c(0, z, 32), 0x8A9136AAu);
	cr_assert_eq(cap_crc32c(0, f, 32), 0x62A8AB43u);
	/* incremental = one shot, at every split and alignment */
	char big[301];
	for (int i = 0; i < 301; i++)
		big[i] = (char)(i * 7 + 3);
	uint32_t one = cap_crc32c(0, big + 1, 300);
	for (int k = 0; k <= 300; k++)
		cr_assert_eq(cap_crc32c(cap_crc32c(0, big + 1, (size_t)k),
					big + 1 + k, (size_t)(300 - k)),
			     one);
}

static cap_rec_t sample(int i, char *body, size_t blen)
{
	cap_rec_t r = {0};
	r.kind = CAP_KIND_EXCHANGE;
	r.source = CAP_SRC_PCAP;
	r.seq = (uint32_t)i;
	r.conn_id = 100 + (uint64_t)i / 3;
	r.req_ns = 1700000000000000000LL + i * 1000000LL;
	r.resp_ns = r.req_ns + 500;
	r.latency_ns = 2000;
	r.client = (cap_addr_t){4, 40000, {127, 0, 0, 1}};
	r.server = (cap_addr_t){4, 8080, {127, 0, 0, 1}};
	r.req_head = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
	r.req_head_len = strlen(r.req_head);
	r.req_body = body;
	r.req_body_len = blen;
	r.req_body_total = blen;
	r.resp_head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
	r.resp_head_len = strlen(r.resp_head);
	r.resp_body = "ok";
	r.resp_body_len = r.resp_body_total = 2;
	r.tag = "abc";
	r.tag_len = 3;
	return r;
}

static char *tmpfile_path(const char *name)
{
	static char p[256];
	snprintf(p, sizeof(p), "/tmp/umbra-test-cap-%d-%s", getpid(), name);
	unlink(p);
	return p;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Writes n sample records (with varied bodies) to path. */
static void write_file(const char *path, int n, bool zstd)
{
	cap_writer_opts_t o = {.zstd = zstd, .source = "test",
			       .service = "svc", .flush_bytes = 1};
	cap_writer_t *w;
	cr_assert_eq(cap_writer_open(path, false, &o, &w), 0);
	for (int i = 0; i < n; i++) {
		char body[64];
		int bl = snprintf(body, sizeof(body), "body-%d-%.*s", i, i % 20,
				  "xxxxxxxxxxxxxxxxxxxxxxxx");
		cap_rec_t r = sample(i, body, (size_t)bl);
		cr_assert_eq(cap_writer_write(w, &r), 0);
	}
	cr_assert_eq(cap_writer_close(w), 0);
}

static void check_rec(const cap_rec_t *r, int i)
{
	char body[64];
	int bl = snprintf(body, sizeof(body), "body-%d-%.*s", i, i % 20,
			  "xxxxxxxxxxxxxxxxxxxxxxxx");
	cap_rec_t e = sample(i, body, (size_t)bl);
	cr_assert_eq(r->kind, e.kind);
	cr_assert_eq(r->seq, e.seq);
	cr_assert_eq(r->conn_id, e.conn_id);
	cr_assert_eq(r->req_ns, e.req_ns);
	cr_assert_eq(r->resp_ns, e.resp_ns);
	cr_assert_eq(r->latency_ns, e.latency_ns);
	cr_assert_eq(memcmp(&r->client, &e.client, sizeof(e.client)), 0);
	cr_assert_eq(r->server.port, 8080);
	cr_assert_eq(r->req_head_len, e.req_head_len);
	cr_assert_eq(memcmp(r->req_head, e.req_head, e.req_head_len), 0);
	cr_assert_eq(r->req_body_len, e.req_body_len);
	cr_assert_eq(memcmp(r->req_body, e.req_body, e.req_body_len), 0);
	cr_assert_eq(memcmp(r->resp_head, e.resp_head, e.resp_head_len), 0);
	cr_assert_eq(r->tag_len, 3);
}

/* Reads every record of a memory image; returns how many, *rc the end. */
static int read_all(const char *data, size_t len, int *rc, char *msg,
		    size_t cap)
{
	cap_reader_t *r = cap_reader_mem(data, len, "f");
	cap_rec_t rec;
	int n = 0;
	while ((*rc = cap_reader_next(r, &rec)) == 1) {
		if (rec.kind == CAP_KIND_EXCHANGE)
			check_rec(&rec, n++);
	}
	snprintf(msg, cap, "%s", cap_reader_error(r));
	cap_reader_close(r);
	return n;
}

static void round_trip(bool zstd)
{
	char *p = tmpfile_path(zstd ? "rt.z" : "rt");
	write_file(p, 50, zstd);
	cap_reader_t *r;
	char err[512];
	cr_assert_eq(cap_reader_open(p, &r, err, sizeof(err)), 0, "%s", err);
	const cap_meta_t *m = cap_reader_meta(r);
	cr_assert_str_eq(m->source, "test");
	cr_assert_str_eq(m->service, "svc");
	cr_assert_str_eq(m->masking, "none");
	cr_assert_eq(m->zstd, zstd);
	cap_rec_t rec;
	int n = 0, rc;
	while ((rc = cap_reader_next(r, &rec)) == 1)
		check_rec(&rec, n++);
	cr_assert_eq(rc, 0, "%s", cap_reader_error(r));
	cr_assert_eq(n, 50);
	cap_reader_close(r);
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "captures are private");
	unlink(p);
}

Test(capture_file, round_trip_plain)
{
	round_trip(false);
}

Test(capture_file, round_trip_zstd)
{
	round_trip(true);
}

Test(capture_file, refuses_to_replace)
{
	char *p = tmpfile_path("excl");
	write_file(p, 1, false);
	cap_writer_t *w;
	cr_assert_eq(cap_writer_open(p, false, NULL, &w), -EEXIST);
	cr_assert_eq(cap_writer_open(p, true, NULL, &w), 0);
	cr_assert_eq(cap_writer_close(w), 0);
	unlink(p);
}

/* Cut at every byte: exactly the records wholly before the cut come
 * back, and the reader says where it stopped. */
static void cut_everywhere(bool zstd)
{
	char *p = tmpfile_path(zstd ? "cut.z" : "cut");
	write_file(p, 12, zstd);
	size_t len;
	char *data = slurp(p, &len);
	/* the offsets at which each record is complete: found by reading
	 * prefixes, which must only ever grow by one record at a time */
	int last = 0;
	for (size_t cut = 0; cut <= len; cut++) {
		int rc;
		char msg[640];
		int n = read_all(data, cut, &rc, msg, sizeof(msg));
		cr_assert(n == last || n == last + 1,
			  "cut %zu: %d records after %d", cut, n, last);
		last = n;
		if (cut == len) {
			cr_assert_eq(rc, 0, "whole file: %s", msg);
			cr_assert_eq(n, 12);
		} else if (rc != 0) {
			cr_assert(rc == ERR_EOF || rc == ERR_CORRUPT,
				  "cut %zu rc %d", cut, rc);
			cr_assert(strstr(msg, "f: byte "), "cut %zu: '%s'", cut,
				  msg);
		}
	}
	free(data);
	unlink(p);
}

Test(capture_file, cut_at_every_byte_plain)
{
	cut_everywhere(false);
}

Test(capture_file, cut_at_every_byte_zstd)
{
	cut_everywhere(true);
}

/* A flipped bit anywhere after the header stops the reader at or before
 * the damaged record, never past it, and records before are intact. */
Test(capture_file, bit_flips)
{
	char *p = tmpfile_path("flip");
	write_file(p, 8, false);
	size_t len;
	char *data = slurp(p, &len);
	int rc;
	char msg[640];
	int all = read_all(data, len, &rc, msg, sizeof(msg));
	cr_assert_eq(all, 8);
	for (size_t i = 0; i < len; i += 3) {
		data[i] ^= 0x10;
		int n = read_all(data, len, &rc, msg, sizeof(msg));
		data[i] ^= 0x10;
		cr_assert(rc < 0, "flip at %zu went unnoticed", i);
		cr_assert(n < 8);
		cr_assert(strstr(msg, "byte "), "%s", msg);
	}
	free(data);
	unlink(p);
}

Test(capture_file, header_errors)
{
	int rc;
	char msg[640];
	cr_assert_eq(read_all("", 0, &rc, msg, sizeof(msg)), 0);
	cr_assert_eq(rc, ERR_EOF);
	cr_assert(strstr(msg, "empty file"), "%s", msg);
	read_all("GIF89a...", 9, &rc, msg, sizeof(msg));
	cr_assert_eq(rc, ERR_CORRUPT);
	cr_assert(strstr(msg, "bad magic"), "%s", msg);
	buf_t b = BUF_INIT;
	cap_meta_t m = {.source = "x"};
	cap_header_encode(&m, &b);
	b.data[8] = 9; /* version 9 */
	read_all(b.data, b.len, &rc, msg, sizeof(msg));
	cr_assert(strstr(msg, "newer umbra"), "%s", msg);
	b.data[8] = 1;
	b.data[b.len - 1] ^= 1; /* metadata byte: checksum */
	read_all(b.data, b.len, &rc, msg, sizeof(msg));
	cr_assert(strstr(msg, "header checksum"), "%s", msg);
	b.data[b.len - 1] ^= 1;
	read_all(b.data, b.len - 3, &rc, msg, sizeof(msg));
	cr_assert(strstr(msg, "truncated header"), "%s", msg);
	read_all(b.data, b.len, &rc, msg, sizeof(msg));
	cr_assert_eq(rc, 0, "a header alone is an empty capture");
	buf_free(&b);
}

/* Frames the reader must refuse, each with its reason. */
Test(capture_file, bad_frames)
{
	buf_t b = BUF_INIT;
	cap_meta_t m = {0};
	cap_header_encode(&m, &b);
	size_t hl = b.len;
	int rc;
	char msg[640];
	/* a frame of unknown type */
	buf_append(&b, "\x05\0\0\0\x09\0\0\0\0\0\0\0hello", 17);
	read_all(b.data, b.len, &rc, msg, sizeof(msg));
	cr_assert(strstr(msg, "unknown frame type"), "%s", msg);
	/* a length over the limit */
	b.len = hl;
	buf_append(&b, "\xff\xff\xff\x7f\x01\0\0\0\0\0\0\0", 12);
	read_all(b.data, b.len, &rc, msg, sizeof(msg));
	cr_assert(strstr(msg, "over the limit"), "%s", msg);
	/* longer than the file */
	b.len = hl;
	buf_append(&b, "\x00\x01\x00\x00\x01\0\0\0\0\0\0\0abc", 15);
	read_all(b.data, b.len, &rc, msg, sizeof(msg));
	cr_assert(strstr(msg, "truncated record"), "%s", msg);
	/* a zstd chunk in a plain file */
	b.len = hl;
	buf_append(&b, "\x00\x00\x00\x00\x02\0\0\0", 8);
	uint32_t crc = cap_crc32c(0, b.data + hl, 8);
	buf_append(&b, &crc, 4);
	read_all(b.data, b.len, &rc, msg, sizeof(msg));
	cr_assert(strstr(msg, "written without compression"), "%s", msg);
	/* a record whose lengths disagree with its size (good CRC) */
	b.len = hl;
	cap_rec_t r = sample(0, "hello", 5);
	buf_t pl = BUF_INIT;
	cap_rec_encode(&r, &pl);
	pl.data[100] = 0x7f; /* req_head_len */
	unsigned char h[12] = {0};
	h[0] = (unsigned char)pl.len;
	h[1] = (unsigned char)(pl.len >> 8);
	h[4] = 1;
	crc = cap_crc32c(cap_crc32c(0, h, 8), pl.data, pl.len);
	memcpy(h + 8, &crc, 4);
	buf_append(&b, h, 12);
	buf_append(&b, pl.data, pl.len);
	read_all(b.data, b.len, &rc, msg, sizeof(msg));
	cr_assert_eq(rc, ERR_CORRUPT);
	cr_assert(strstr(msg, "lengths disagree"), "%s", msg);
	buf_free(&pl);
	buf_free(&b);
}

Test(capture_file, record_checks)
{
	const char *why;
	cap_rec_t r = sample(0, "hello", 5);
	cr_assert_eq(cap_rec_check(&r, &why), 0);
	r.flags = CAP_RF_NO_RESPONSE;
	cr_assert_eq(cap_rec_check(&r, &why), ERR_INVAL);
	r.resp_head_len = r.resp_body_len = 0;
	r.resp_body_total = 0;
	cr_assert_eq(cap_rec_check(&r, &why), 0);
	r.req_body_total = 10; /* without REQ_TRUNC */
	cr_assert_eq(cap_rec_check(&r, &why), ERR_INVAL);
	r.flags |= CAP_RF_REQ_TRUNC;
	cr_assert_eq(cap_rec_check(&r, &why), 0);
	r.flags |= 0x8000;
	cr_assert_eq(cap_rec_check(&r, &why), ERR_INVAL);
	r = sample(0, "", 0);
	r.req_head_len = 0;
	cr_assert_eq(cap_rec_check(&r, &why), ERR_INVAL);
}

Test(capture_file, loss_records_round_trip)
{
	buf_t b = BUF_INIT;
	cap_rec_t l = {.kind = CAP_KIND_LOSS, .req_ns = 42};
	l.loss[CAP_LOSS_GAP] = 3;
	l.loss[CAP_LOSS_TAP_QUEUE] = 1000000000000ULL;
	cap_rec_encode(&l, &b);
	cap_rec_t d;
	const char *why;
	cr_assert_eq(cap_rec_decode(b.data, b.len, &d, &why), 0, "%s", why);
	cr_assert_eq(d.kind, CAP_KIND_LOSS);
	cr_assert_eq(d.req_ns, 42);
	cr_assert_eq(d.loss[CAP_LOSS_GAP], 3);
	cr_assert_eq(d.loss[CAP_LOSS_TAP_QUEUE], 1000000000000ULL);
	cr_assert_eq(d.loss[CAP_LOSS_MASK], 0);
	b.data[CAP_REC_FIXED + 1] = 99; /* unknown reason */
	cr_assert_eq(cap_rec_decode(b.data, b.len, &d, &why), ERR_CORRUPT);
	buf_free(&b);
}

/* A masker that refuses records whose body says "secret" and rewrites
 * others; refusals are counted and written as losses. */
static int test_mask(void *ctx, cap_rec_t *rec, buf_t *scratch,
		     const char **why)
{
	(void)ctx;
	if (rec->req_body_len && memmem(rec->req_body, rec->req_body_len,
					"secret", 6)) {
		*why = "cannot mask";
		return ERR_INVAL;
	}
	buf_puts(scratch, "[MASKED]");
	rec->req_body = scratch->data;
	rec->req_body_len = scratch->len;
	return 0;
}

Test(capture_file, mask_hook_applies_before_writing)
{
	cap_masker_t m = {"test", true, test_mask, NULL};
	char *p = tmpfile_path("mask");
	cap_writer_opts_t o = {.masker = &m};
	cap_writer_t *w;
	cr_assert_eq(cap_writer_open(p, false, &o, &w), 0);
	cap_rec_t r = sample(0, "hello", 5);
	cr_assert_eq(cap_writer_write(w, &r), 0);
	r = sample(1, "a secret", 8);
	cr_assert_eq(cap_writer_write(w, &r), 1);
	cr_assert_eq(cap_writer_stats(w)->mask_refused, 1);
	cr_assert_eq(cap_writer_close(w), 0);
	cap_reader_t *rd;
	char err[512];
	cr_assert_eq(cap_reader_open(p, &rd, err, sizeof(err)), 0);
	cr_assert_str_eq(cap_reader_meta(rd)->masking, "test");
	cap_rec_t rec;
	cr_assert_eq(cap_reader_next(rd, &rec), 1);
	cr_assert_eq(rec.kind, CAP_KIND_EXCHANGE);
	cr_assert(rec.flags & CAP_RF_MASKED);
	cr_assert_eq(rec.req_body_len, 8);
	cr_assert_eq(memcmp(rec.req_body, "[MASKED]", 8), 0);
	cr_assert_eq(rec.req_body_total, 8);
	cr_assert_eq(cap_reader_next(rd, &rec), 1);
	cr_assert_eq(rec.kind, CAP_KIND_LOSS);
	cr_assert_eq(rec.loss[CAP_LOSS_MASK], 1);
	cr_assert_eq(cap_reader_next(rd, &rec), 0);
	cap_reader_close(rd);
	unlink(p);
}

Test(capture_file, write_fault_is_reported)
{
	char *p = tmpfile_path("fault");
	cap_writer_t *w;
	cr_assert_eq(cap_writer_open(p, false, NULL, &w), 0);
	fault_arm(FAULT_CAPTURE_WRITE, -ENOSPC);
	cap_rec_t r = sample(0, "hello", 5);
	cr_assert_eq(cap_writer_write(w, &r), 0); /* buffered */
	cr_assert_eq(cap_writer_flush(w), -ENOSPC);
	cr_assert_eq(cap_writer_write(w, &r), -ENOSPC, "errors are sticky");
	cr_assert_eq(cap_writer_close(w), -ENOSPC);
	fault_arm(FAULT_CAPTURE_WRITE, 0);
	unlink(p);
}

Test(capture_misc, response_status)
{
	cap_rec_t r = sample(0, "", 0);
	cr_assert_eq(cap_resp_status(&r), 200);
	r.resp_head = "HTTP/1.1 2x0 OK\r\n\r\n";
	r.resp_head_len = strlen(r.resp_head);
	cr_assert_eq(cap_resp_status(&r), 0);
}
