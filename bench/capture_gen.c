/*
 * capture_gen.c: inputs for bench/capture.sh.
 *
 *   capture_gen ucap OUT N RATE PATH   N GET PATH requests, evenly spaced
 *                                      at RATE per second, each with a
 *                                      recorded 200 response
 *   capture_gen pcap OUT MB            a synthetic pcap of about MB
 *                                      megabytes: 64 keep-alive
 *                                      connections interleaved, 1448-byte
 *                                      segments, requests with and
 *                                      without bodies, responses of 1 to
 *                                      16 KiB, one in four chunked
 *
 * Prints the number of exchanges written.
 */
#include "capture/capture.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSS 1448
#define CONNS 64

static int gen_ucap(const char *out, long n, double rate, const char *path)
{
	cap_writer_opts_t o = {.source = "bench", .service = "bench"};
	cap_writer_t *w;
	if (cap_writer_open(out, true, &o, &w)) {
		perror(out);
		return 1;
	}
	char head[512];
	int hl = snprintf(head, sizeof(head),
			  "GET %s HTTP/1.1\r\nHost: bench\r\nUser-Agent: "
			  "umbra-bench\r\nAccept: */*\r\n\r\n",
			  path);
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			   "Content-Length: 3\r\n\r\n";
	int64_t t0 = 1700000000000000000LL;
	for (long i = 0; i < n; i++) {
		cap_rec_t r = {0};
		r.kind = CAP_KIND_EXCHANGE;
		r.source = CAP_SRC_PROXY;
		r.seq = (uint32_t)i;
		r.conn_id = (uint64_t)(i % 16);
		r.req_ns = t0 + (int64_t)((double)i * 1e9 / rate);
		r.resp_ns = r.req_ns + 100000;
		r.latency_ns = 200000;
		r.req_head = head;
		r.req_head_len = (size_t)hl;
		r.req_body = "";
		r.resp_head = resp;
		r.resp_head_len = strlen(resp);
		r.resp_body = "ok\n";
		r.resp_body_len = r.resp_body_total = 3;
		if (cap_writer_write(w, &r) < 0)
			return 1;
	}
	if (cap_writer_close(w))
		return 1;
	printf("%ld\n", n);
	return 0;
}

/* --------------------------------------------------------------- pcap */

static FILE *pf;
static double now_s = 1700000000.0;

static void put_frame(const uint8_t *ip_src, const uint8_t *ip_dst,
		      uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
		      uint8_t flags, const char *payload, size_t len)
{
	uint8_t f[14 + 20 + 20 + MSS];
	memset(f, 0, 54);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	size_t tot = 40 + len;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, ip_src, 4);
	memcpy(ip + 16, ip_dst, 4);
	uint8_t *t = ip + 20;
	t[0] = (uint8_t)(sp >> 8), t[1] = (uint8_t)sp;
	t[2] = (uint8_t)(dp >> 8), t[3] = (uint8_t)dp;
	for (int i = 0; i < 4; i++) {
		t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	t[12] = 5 << 4;
	t[13] = flags;
	t[14] = 0xff, t[15] = 0xff;
	memcpy(t + 20, payload, len);
	now_s += 0.000002;
	uint32_t hdr[4] = {(uint32_t)now_s,
			   (uint32_t)((now_s - (double)(uint32_t)now_s) * 1e6),
			   (uint32_t)(54 + len), (uint32_t)(54 + len)};
	fwrite(hdr, sizeof(hdr), 1, pf);
	fwrite(f, 54 + len, 1, pf);
}

typedef struct conn {
	uint16_t port;
	uint32_t seq[2];
	long left; /* exchanges still to send */
} conn_t;

static const uint8_t CLI[4] = {10, 1, 0, 1}, SRV[4] = {10, 1, 0, 2};

static void send_dir(conn_t *c, int dir, const char *d, size_t n)
{
	for (size_t i = 0; i < n; i += MSS) {
		size_t k = n - i < MSS ? n - i : MSS;
		if (dir == 0)
			put_frame(CLI, SRV, c->port, 80, c->seq[0], c->seq[1],
				  0x18, d + i, k);
		else
			put_frame(SRV, CLI, 80, c->port, c->seq[1], c->seq[0],
				  0x18, d + i, k);
		c->seq[dir] += (uint32_t)k;
	}
}

static int gen_pcap(const char *out, double mb)
{
	pf = fopen(out, "wb");
	if (!pf) {
		perror(out);
		return 1;
	}
	uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
	fwrite(gh, sizeof(gh), 1, pf);
	static char body[16384 + 64], buf[20000];
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (char)('a' + i % 26);
	conn_t c[CONNS];
	long total = 0;
	uint64_t rng = 88172645463325252ULL;
	for (int i = 0; i < CONNS; i++) {
		c[i] = (conn_t){(uint16_t)(30000 + i), {1000u * (unsigned)i,
						      7u + (unsigned)i},
				0};
		put_frame(CLI, SRV, c[i].port, 80, c[i].seq[0] - 1, 0, 0x02,
			  "", 0);
		put_frame(SRV, CLI, 80, c[i].port, c[i].seq[1] - 1,
			  c[i].seq[0], 0x12, "", 0);
	}
	while (ftell(pf) < (long)(mb * 1e6)) {
		for (int i = 0; i < CONNS; i++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			int n;
			if (rng % 3 == 0)
				n = snprintf(buf, sizeof(buf),
					     "POST /api/items/%lu HTTP/1.1\r\n"
					     "Host: bench\r\nContent-Type: "
					     "application/json\r\nContent-Length: "
					     "64\r\n\r\n%.64s",
					     (unsigned long)(rng % 100000), body);
			else
				n = snprintf(buf, sizeof(buf),
					     "GET /api/items/%lu?x=%lu HTTP/1.1"
					     "\r\nHost: bench\r\nAccept: */*\r\n"
					     "User-Agent: bench\r\n\r\n",
					     (unsigned long)(rng % 100000),
					     (unsigned long)(rng % 7));
			send_dir(&c[i], 0, buf, (size_t)n);
			size_t bl = 1024 + (size_t)(rng >> 20) % 15360;
			if (rng % 4 == 0) {
				n = snprintf(buf, sizeof(buf),
					     "HTTP/1.1 200 OK\r\nContent-Type: "
					     "text/plain\r\nTransfer-Encoding: "
					     "chunked\r\n\r\n%zx\r\n%.*s\r\n0\r\n"
					     "\r\n",
					     bl, (int)bl, body);
			} else {
				n = snprintf(buf, sizeof(buf),
					     "HTTP/1.1 200 OK\r\nContent-Type: "
					     "text/plain\r\nContent-Length: "
					     "%zu\r\n\r\n%.*s",
					     bl, (int)bl, body);
			}
			send_dir(&c[i], 1, buf, (size_t)n);
			total++;
		}
	}
	for (int i = 0; i < CONNS; i++) {
		put_frame(CLI, SRV, c[i].port, 80, c[i].seq[0], c[i].seq[1],
			  0x11, "", 0);
		put_frame(SRV, CLI, 80, c[i].port, c[i].seq[1], c[i].seq[0] + 1,
			  0x11, "", 0);
	}
	fclose(pf);
	printf("%ld\n", total);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "ucap") == 0)
		return gen_ucap(argv[2], atol(argv[3]), atof(argv[4]), argv[5]);
	if (argc == 4 && strcmp(argv[1], "pcap") == 0)
		return gen_pcap(argv[2], atof(argv[3]));
	fprintf(stderr, "usage: capture_gen ucap OUT N RATE PATH | pcap OUT "
			"MB\n");
	return 2;
}
