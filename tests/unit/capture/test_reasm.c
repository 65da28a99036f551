/*
 * test_reasm.c: TCP reassembly and HTTP stream parsing on synthetic
 * segments: keep-alive, pipelining, chunked bodies split everywhere,
 * reordering and retransmission (every permutation of a small exchange),
 * gaps on either side, joining mid-stream, truncated captures, interim
 * responses, tunnels, close-delimited bodies, limits, sequence
 * wraparound; and the packet decoder on each link type. Every test checks
 * the no-silent-loss invariant.
 */
#include "capture/reasm.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXREC 64

typedef struct got {
	int n;
	char req[MAXREC][512];
	char reqbody[MAXREC][256];
	char resp[MAXREC][512];
	char respbody[MAXREC][256];
	uint16_t flags[MAXREC];
	uint32_t seq[MAXREC];
	uint64_t conn[MAXREC];
	int64_t req_ns[MAXREC], resp_ns[MAXREC], latency[MAXREC];
} got_t;

static void on_rec(void *arg, cap_rec_t *r)
{
	got_t *g = arg;
	cr_assert_lt(g->n, MAXREC);
	const char *why;
	cr_assert_eq(cap_rec_check(r, &why), 0, "%s", why);
	int i = g->n++;
	snprintf(g->req[i], 512, "%.*s", (int)r->req_head_len, r->req_head);
	snprintf(g->reqbody[i], 256, "%.*s", (int)r->req_body_len,
		 r->req_body);
	snprintf(g->resp[i], 512, "%.*s", (int)r->resp_head_len,
		 r->resp_head ? r->resp_head : "");
	snprintf(g->respbody[i], 256, "%.*s", (int)r->resp_body_len,
		 r->resp_body ? r->resp_body : "");
	g->flags[i] = r->flags;
	g->seq[i] = r->seq;
	g->conn[i] = r->conn_id;
	g->req_ns[i] = r->req_ns;
	g->resp_ns[i] = r->resp_ns;
	g->latency[i] = r->latency_ns;
	if (r->resp_head)
		cr_assert_geq(r->resp_ns, r->req_ns,
			      "response recorded before its request");
}

/* A connection under test: positions relative to each side's ISN. */
typedef struct conn {
	cap_reasm_t *r;
	uint32_t isn[2];
	uint32_t pos[2];
	int64_t ts;
	uint16_t cport;
} conn_t;

static cap_seg_t seg(conn_t *c, int dir, uint32_t pos, const char *d,
		     size_t n, uint8_t flags)
{
	cap_seg_t s = {0};
	cap_addr_t cli = {4, c->cport, {10, 0, 0, 1}};
	cap_addr_t srv = {4, 80, {10, 0, 0, 2}};
	s.src = dir == 0 ? cli : srv;
	s.dst = dir == 0 ? srv : cli;
	s.seq = c->isn[dir] + 1 + pos;
	s.ack = c->isn[!dir] + 1 + c->pos[!dir];
	s.flags = flags | CAP_TCP_ACK;
	s.data = (const uint8_t *)d;
	s.len = s.wire_len = n;
	return s;
}

static void put(conn_t *c, cap_seg_t s)
{
	c->ts += 1000;
	cap_reasm_segment(c->r, c->ts, &s);
}

static void handshake(conn_t *c)
{
	cap_seg_t s = seg(c, 0, 0, NULL, 0, CAP_TCP_SYN);
	s.seq = c->isn[0];
	s.flags = CAP_TCP_SYN;
	put(c, s);
	s = seg(c, 1, 0, NULL, 0, CAP_TCP_SYN);
	s.seq = c->isn[1];
	put(c, s);
}

/* Sends bytes in order on dir, in segments of at most mss. */
static void send_dir(conn_t *c, int dir, const char *d, size_t mss)
{
	size_t n = strlen(d);
	for (size_t i = 0; i < n; i += mss) {
		size_t k = n - i < mss ? n - i : mss;
		put(c, seg(c, dir, c->pos[dir], d + i, k, 0));
		c->pos[dir] += (uint32_t)k;
	}
}

static void fin(conn_t *c, int dir)
{
	put(c, seg(c, dir, c->pos[dir], NULL, 0, CAP_TCP_FIN));
	c->pos[dir]++;
}

static void check_invariant(cap_reasm_t *r)
{
	const cap_reasm_stats_t *st = cap_reasm_stats(r);
	uint64_t lost = 0;
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		if (i != CAP_LOSS_RESPONSE_LOST)
			lost += st->lost[i];
	cr_assert_eq(st->requests, st->exchanges + lost,
		     "requests %llu != exchanges %llu + lost %llu",
		     (unsigned long long)st->requests,
		     (unsigned long long)st->exchanges,
		     (unsigned long long)lost);
	cr_assert_eq(st->mem, 0, "memory left after finish: %llu",
		     (unsigned long long)st->mem);
}

static uint64_t total_lost(cap_reasm_t *r)
{
	uint64_t n = 0;
	for (int i = 0; i < CAP_LOSS__COUNT; i++)
		n += cap_reasm_stats(r)->lost[i];
	return n;
}

static cap_reasm_t *mk(got_t *g)
{
	cap_reasm_opts_t o = CAP_REASM_OPTS_DEFAULT;
	memset(g, 0, sizeof(*g));
	return cap_reasm_new(&o, on_rec, g);
}

#define REQ1 "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
#define RESP1 "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
#define REQ2 "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
#define RESP2 "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
#define REQ3                                                               \
	"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"  \
	"3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nT: 1\r\n\r\n"
#define RESP3                                                              \
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"             \
	"2\r\nxy\r\n1\r\nz\r\n0\r\n\r\n"

static void keepalive_session(conn_t *c, size_t mss)
{
	handshake(c);
	send_dir(c, 0, REQ1, mss);
	send_dir(c, 1, RESP1, mss);
	send_dir(c, 0, REQ2, mss);
	send_dir(c, 1, RESP2, mss);
	send_dir(c, 0, REQ3, mss);
	send_dir(c, 1, RESP3, mss);
	fin(c, 0);
	fin(c, 1);
}

static void check_keepalive(got_t *g)
{
	cr_assert_eq(g->n, 3);
	cr_assert_str_eq(g->req[0], REQ1);
	cr_assert_str_eq(g->respbody[0], "one");
	cr_assert_str_eq(g->reqbody[1], "hello");
	cr_assert(strstr(g->resp[1], "201 Created"));
	cr_assert_str_eq(g->reqbody[2], "abcdefg");
	cr_assert(g->flags[2] & CAP_RF_REQ_CHUNKED);
	cr_assert(g->flags[2] & CAP_RF_RESP_CHUNKED);
	cr_assert_str_eq(g->respbody[2], "xyz");
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(g->seq[i], (uint32_t)i);
		cr_assert_eq(g->conn[i], g->conn[0]);
		cr_assert_gt(g->latency[i], 0);
		cr_assert_eq(g->flags[i] & (CAP_RF_NO_RESPONSE |
					    CAP_RF_RESP_PARTIAL),
			     0);
	}
}

Test(reasm, keepalive_every_segment_size)
{
	for (size_t mss = 1; mss <= 80; mss++) {
		got_t g;
		cap_reasm_t *r = mk(&g);
		conn_t c = {r, {1000, 5000}, {0, 0}, 1, 40000};
		keepalive_session(&c, mss);
		cr_assert_eq(cap_reasm_stats(r)->flows, 1);
		check_keepalive(&g);
		cap_reasm_finish(r);
		check_invariant(r);
		cr_assert_eq(total_lost(r), 0, "mss %zu", mss);
		cap_reasm_free(r);
	}
}

Test(reasm, sequence_wraparound)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {0xffffffe0u, 0xfffffff0u}, {0, 0}, 1, 40000};
	keepalive_session(&c, 7);
	check_keepalive(&g);
	cap_reasm_finish(r);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, pipelining)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, REQ1 REQ2 REQ1, 1000);
	send_dir(&c, 1, RESP1 RESP2, 1000);
	send_dir(&c, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx",
		 1000);
	fin(&c, 0);
	fin(&c, 1);
	cr_assert_eq(g.n, 3);
	cr_assert_str_eq(g.respbody[0], "one");
	cr_assert(strstr(g.resp[1], "201"));
	cr_assert(strstr(g.resp[2], "404"));
	cr_assert_str_eq(g.reqbody[1], "hello");
	cap_reasm_finish(r);
	check_invariant(r);
	cr_assert_eq(total_lost(r), 0);
	cap_reasm_free(r);
}

/* Segments of one request/response, delivered in the order given by
 * perm, with retransmitted duplicates mixed in. */
static void permuted(const int *perm, int n, bool dup)
{
	const char *req = REQ2;
	const char *resp = RESP1;
	size_t mss = (strlen(req) + n - 1) / (size_t)n;
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {77, 99}, {0, 0}, 1, 40001};
	handshake(&c);
	for (int k = 0; k < n; k++) {
		size_t off = (size_t)perm[k] * mss;
		size_t len = strlen(req) - off < mss ? strlen(req) - off : mss;
		put(&c, seg(&c, 0, (uint32_t)off, req + off, len, 0));
		if (dup)
			put(&c, seg(&c, 0, (uint32_t)off, req + off, len, 0));
	}
	/* an overlapping retransmission spanning three segments */
	put(&c, seg(&c, 0, 3, req + 3, 2 * mss, 0));
	c.pos[0] = (uint32_t)strlen(req);
	send_dir(&c, 1, resp, 5);
	fin(&c, 0);
	fin(&c, 1);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(g.reqbody[0], "hello");
	cr_assert_str_eq(g.respbody[0], "one");
	cap_reasm_finish(r);
	check_invariant(r);
	cr_assert_eq(total_lost(r), 0);
	cr_assert_eq(cap_reasm_stats(r)->gaps, 0);
	cap_reasm_free(r);
}

static bool next_perm(int *a, int n)
{
	int i = n - 2;
	while (i >= 0 && a[i] >= a[i + 1])
		i--;
	if (i < 0)
		return false;
	int j = n - 1;
	while (a[j] <= a[i])
		j--;
	int t = a[i];
	a[i] = a[j];
	a[j] = t;
	for (int l = i + 1, h = n - 1; l < h; l++, h--) {
		t = a[l];
		a[l] = a[h];
		a[h] = t;
	}
	return true;
}

Test(reasm, every_order_of_five_segments)
{
	int p[5] = {0, 1, 2, 3, 4};
	int count = 0;
	do {
		permuted(p, 5, count % 2 == 1);
		count++;
	} while (next_perm(p, 5));
	cr_assert_eq(count, 120);
}

Test(reasm, gap_in_request_is_counted_and_next_request_survives)
{
	got_t g;
	cap_reasm_opts_t o = CAP_REASM_OPTS_DEFAULT;
	o.reorder_bytes = 64;
	memset(&g, 0, sizeof(g));
	cap_reasm_t *r = cap_reasm_new(&o, on_rec, &g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	const char *big = "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 100"
			  "\r\n\r\n";
	send_dir(&c, 0, big, 1000);
	/* 40 body bytes never captured, then 60 more and a new request */
	c.pos[0] += 40;
	char rest[200];
	snprintf(rest, sizeof(rest), "%.60s%s",
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		 REQ1);
	send_dir(&c, 0, rest, 30);
	send_dir(&c, 1, RESP2 RESP1, 1000);
	fin(&c, 0);
	fin(&c, 1);
	cap_reasm_finish(r);
	const cap_reasm_stats_t *st = cap_reasm_stats(r);
	cr_assert_eq(st->lost[CAP_LOSS_GAP], 1);
	cr_assert_eq(st->gaps, 1);
	cr_assert_eq(st->gap_bytes, 40);
	cr_assert_eq(g.n, 1, "the request after the gap is captured");
	cr_assert_str_eq(g.req[0], REQ1);
	cr_assert_str_eq(g.respbody[0], "one", "paired with its response");
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, gap_in_response_writes_request_without_it)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, REQ1, 1000);
	/* the response's middle is missing; the capture ends */
	put(&c, seg(&c, 1, 0, RESP1, 10, 0));
	put(&c, seg(&c, 1, 20, &RESP1[20], strlen(RESP1) - 20, 0));
	cap_reasm_finish(r);
	cr_assert_eq(g.n, 1);
	cr_assert(g.flags[0] & CAP_RF_NO_RESPONSE);
	cr_assert_eq(cap_reasm_stats(r)->lost[CAP_LOSS_RESPONSE_LOST], 1);
	cr_assert_eq(cap_reasm_stats(r)->no_response, 1);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, response_body_cut_short)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, REQ1, 1000);
	send_dir(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		 1000);
	fin(&c, 1); /* server closes mid-body */
	fin(&c, 0);
	cr_assert_eq(g.n, 1);
	cr_assert(g.flags[0] & CAP_RF_RESP_PARTIAL);
	cr_assert_str_eq(g.respbody[0], "abc");
	cap_reasm_finish(r);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, midstream_join_mid_body_counts_one)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	/* no handshake: the capture starts inside a request body */
	send_dir(&c, 0, "tail of a body\r\n" REQ1, 1000);
	send_dir(&c, 1, "ly\r\n" RESP1, 1000);
	send_dir(&c, 0, REQ2, 1000);
	send_dir(&c, 1, RESP2, 1000);
	cap_reasm_finish(r);
	const cap_reasm_stats_t *st = cap_reasm_stats(r);
	cr_assert_eq(st->lost[CAP_LOSS_MIDSTREAM], 1);
	cr_assert_eq(g.n, 2);
	cr_assert_str_eq(g.req[0], REQ1);
	cr_assert_str_eq(g.respbody[0], "one");
	cr_assert_str_eq(g.reqbody[1], "hello");
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, midstream_join_between_requests_loses_nothing)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	send_dir(&c, 0, REQ1, 1000);
	send_dir(&c, 1, RESP1, 1000);
	cap_reasm_finish(r);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(total_lost(r), 0);
	check_invariant(r);
	cap_reasm_free(r);
}

/* The capture starts while a request is in flight: its response comes
 * first, with a body that looks like a status line. It answers a request
 * the capture never saw: skipped by its framing and counted, and every
 * later pair is right (the off-by-one of issue 24). */
#define RESP0                                                              \
	"HTTP/1.1 200 OK\r\nContent-Length: 32\r\n\r\n"                     \
	"HTTP/1.1 404 Not Found\r\n\r\nnot-me"
Test(reasm, midstream_response_to_unseen_request_is_skipped)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {40, 0}, 1, 40000};
	/* the client's GET (40 bytes) went out before the capture */
	send_dir(&c, 1, RESP0, 17);
	send_dir(&c, 0, REQ1, 1000);
	send_dir(&c, 1, RESP1, 1000);
	send_dir(&c, 0, REQ2, 1000);
	send_dir(&c, 1, RESP2, 1000);
	cap_reasm_finish(r);
	const cap_reasm_stats_t *st = cap_reasm_stats(r);
	cr_assert_eq(g.n, 2);
	cr_assert_str_eq(g.req[0], REQ1);
	cr_assert_str_eq(g.respbody[0], "one");
	cr_assert_str_eq(g.reqbody[1], "hello");
	cr_assert(strstr(g.resp[1], "201 Created"), "%s", g.resp[1]);
	cr_assert_eq(st->lost[CAP_LOSS_MIDSTREAM], 1);
	cr_assert_eq(st->stray_responses, 1);
	check_invariant(r);
	cap_reasm_free(r);
}

/* The same when the capture shows the stray response after the first
 * request it saw (a pipelining client): its ack says the server had not
 * received that request yet. */
Test(reasm, stray_response_told_by_its_ack)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {40, 0}, 1, 40000};
	send_dir(&c, 0, REQ1, 1000);
	/* RESP0 acks only the 40 bytes before REQ1 */
	uint32_t saved = c.pos[0];
	c.pos[0] = 40;
	cap_seg_t s = seg(&c, 1, c.pos[1], RESP0, strlen(RESP0), 0);
	c.pos[0] = saved;
	c.pos[1] += (uint32_t)strlen(RESP0);
	c.ts += 1000;
	cap_reasm_segment(r, c.ts, &s);
	send_dir(&c, 1, RESP1, 1000);
	cap_reasm_finish(r);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(g.req[0], REQ1);
	cr_assert_str_eq(g.respbody[0], "one");
	cr_assert_eq(cap_reasm_stats(r)->lost[CAP_LOSS_MIDSTREAM], 1);
	check_invariant(r);
	cap_reasm_free(r);
}

/* The capture joins mid-request and the response to that request comes:
 * one request lost, counted once (the skipped bytes and the stray
 * response are the same request). */
Test(reasm, midstream_mid_request_and_its_response_count_one)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {10, 0}, 1, 40000};
	send_dir(&c, 0, "Host: h\r\nContent-Length: 4\r\n\r\nbody", 1000);
	send_dir(&c, 1, RESP0, 1000);
	send_dir(&c, 0, REQ1, 1000);
	send_dir(&c, 1, RESP1, 1000);
	cap_reasm_finish(r);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(g.respbody[0], "one");
	cr_assert_eq(cap_reasm_stats(r)->lost[CAP_LOSS_MIDSTREAM], 1);
	check_invariant(r);
	cap_reasm_free(r);
}

/* A gap in the client's stream hides a whole request; its response must
 * not pair with the next request (its ack tells). */
Test(reasm, gap_hiding_a_whole_request_shifts_nothing)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, REQ1, 1000);
	send_dir(&c, 1, RESP1, 1000);
	c.pos[0] += (uint32_t)strlen(REQ2); /* never captured */
	send_dir(&c, 1, RESP2, 1000);
	send_dir(&c, 0, REQ3, 1000);
	send_dir(&c, 1, RESP3, 1000);
	fin(&c, 0);
	fin(&c, 1);
	cap_reasm_finish(r);
	const cap_reasm_stats_t *st = cap_reasm_stats(r);
	cr_assert_eq(g.n, 2);
	cr_assert_str_eq(g.respbody[0], "one");
	cr_assert_str_eq(g.reqbody[1], "abcdefg");
	cr_assert_str_eq(g.respbody[1], "xyz", "%s", g.respbody[1]);
	cr_assert_eq(st->lost[CAP_LOSS_GAP], 1);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, capture_ends_mid_request)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, REQ1, 1000);
	send_dir(&c, 1, RESP1, 1000);
	send_dir(&c, 0, "GET /partial HTTP/1.1\r\nHo", 1000);
	cap_reasm_finish(r);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(cap_reasm_stats(r)->lost[CAP_LOSS_TRUNCATED], 1);
	check_invariant(r);
	cap_reasm_free(r);
	/* and mid-body */
	r = mk(&g);
	c = (conn_t){r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n"
			"\r\nabc",
		 1000);
	cap_reasm_finish(r);
	cr_assert_eq(g.n, 0);
	cr_assert_eq(cap_reasm_stats(r)->lost[CAP_LOSS_TRUNCATED], 1);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, no_response_before_end)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, REQ1, 1000);
	cap_reasm_finish(r);
	cr_assert_eq(g.n, 1);
	cr_assert(g.flags[0] & CAP_RF_NO_RESPONSE);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, head_interim_tunnel_and_close_delimited)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n", 1000);
	send_dir(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 1000);
	send_dir(&c, 0, "POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
			"Content-Length: 2\r\n\r\n",
		 1000);
	send_dir(&c, 1, "HTTP/1.1 100 Continue\r\n\r\n", 1000);
	send_dir(&c, 0, "ok", 1000);
	send_dir(&c, 1, RESP2, 1000);
	send_dir(&c, 0, "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
			"Upgrade: websocket\r\n\r\n\x81\x05hello",
		 1000);
	send_dir(&c, 1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
			"websocket\r\nConnection: upgrade\r\n\r\n\x81\x02hi",
		 1000);
	send_dir(&c, 0, "\x81\x03 GET not http", 1000);
	fin(&c, 0);
	fin(&c, 1);
	cr_assert_eq(g.n, 3);
	cr_assert(strstr(g.resp[0], "Content-Length: 99"));
	cr_assert_str_eq(g.respbody[0], "");
	cr_assert(strstr(g.resp[1], "201"), "interim skipped");
	cr_assert_str_eq(g.reqbody[1], "ok");
	cr_assert(g.flags[2] & CAP_RF_TUNNEL);
	cap_reasm_finish(r);
	check_invariant(r);
	cr_assert_eq(total_lost(r), 0);
	cap_reasm_free(r);

	/* HTTP/1.0 server: the body runs until the server closes */
	r = mk(&g);
	c = (conn_t){r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, "GET / HTTP/1.0\r\n\r\n", 1000);
	send_dir(&c, 1, "HTTP/1.0 200 OK\r\n\r\nall of it", 3);
	fin(&c, 1);
	fin(&c, 0);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(g.respbody[0], "all of it");
	cr_assert_eq(g.flags[0] & CAP_RF_RESP_PARTIAL, 0);
	cap_reasm_finish(r);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, refused_upgrade_continues_as_http)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
			"Upgrade: websocket\r\n\r\n" REQ1,
		 1000);
	send_dir(&c, 1, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
		 RESP1,
		 1000);
	fin(&c, 0);
	fin(&c, 1);
	cr_assert_eq(g.n, 2);
	cr_assert_str_eq(g.req[1], REQ1);
	cr_assert_str_eq(g.respbody[1], "one");
	cap_reasm_finish(r);
	check_invariant(r);
	cr_assert_eq(total_lost(r), 0);
	cap_reasm_free(r);
}

Test(reasm, malformed_request_is_counted)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 1000);
	send_dir(&c, 1, "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n", 1000);
	send_dir(&c, 0, REQ1, 1000);
	send_dir(&c, 1, RESP1, 1000);
	fin(&c, 0);
	fin(&c, 1);
	cap_reasm_finish(r);
	cr_assert_eq(cap_reasm_stats(r)->lost[CAP_LOSS_PARSE], 1);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(g.req[0], REQ1);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, body_cut_at_max_body)
{
	got_t g;
	cap_reasm_opts_t o = CAP_REASM_OPTS_DEFAULT;
	o.max_body = 4;
	memset(&g, 0, sizeof(g));
	cap_reasm_t *r = cap_reasm_new(&o, on_rec, &g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, REQ2, 3);
	send_dir(&c, 1, RESP1, 1000);
	fin(&c, 0);
	fin(&c, 1);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(g.reqbody[0], "hell");
	cr_assert(g.flags[0] & CAP_RF_REQ_TRUNC);
	cr_assert_eq(cap_reasm_stats(r)->bodies_cut, 1);
	cap_reasm_finish(r);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, flow_limit_evicts_the_oldest)
{
	got_t g;
	cap_reasm_opts_t o = CAP_REASM_OPTS_DEFAULT;
	o.max_flows = 2;
	memset(&g, 0, sizeof(g));
	cap_reasm_t *r = cap_reasm_new(&o, on_rec, &g);
	conn_t c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = (conn_t){r, {1, 2}, {0, 0}, 1, (uint16_t)(40000 + i)};
		handshake(&c[i]);
		send_dir(&c[i], 0, "GET /x HTTP/1.1\r\nHost", 1000);
	}
	const cap_reasm_stats_t *st = cap_reasm_stats(r);
	cr_assert_eq(st->flows_evicted, 1);
	cr_assert_eq(st->lost[CAP_LOSS_LIMIT], 1);
	cap_reasm_finish(r);
	cr_assert_eq(st->lost[CAP_LOSS_TRUNCATED], 2);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, idle_flows_expire_and_port_reuse)
{
	got_t g;
	cap_reasm_t *r = mk(&g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	send_dir(&c, 0, REQ1, 1000);
	send_dir(&c, 1, RESP1, 1000);
	/* 10 minutes of capture time later, the same 4-tuple again */
	c.ts += 600LL * 1000000000;
	conn_t c2 = {r, {9000, 9100}, {0, 0}, c.ts, 40000};
	handshake(&c2);
	cr_assert_eq(cap_reasm_stats(r)->flows_expired, 1);
	send_dir(&c2, 0, REQ2, 1000);
	send_dir(&c2, 1, RESP2, 1000);
	cap_reasm_finish(r);
	cr_assert_eq(g.n, 2);
	cr_assert_neq(g.conn[0], g.conn[1]);
	cr_assert_eq(total_lost(r), 0);
	check_invariant(r);
	cap_reasm_free(r);
}

Test(reasm, reorder_bound_turns_hole_into_gap)
{
	got_t g;
	cap_reasm_opts_t o = CAP_REASM_OPTS_DEFAULT;
	o.reorder_bytes = 10;
	memset(&g, 0, sizeof(g));
	cap_reasm_t *r = cap_reasm_new(&o, on_rec, &g);
	conn_t c = {r, {1, 2}, {0, 0}, 1, 40000};
	handshake(&c);
	/* the first 4 bytes never arrive; 20 bytes wait beyond them */
	put(&c, seg(&c, 0, 4, &REQ1[4], 20, 0));
	cr_assert_eq(cap_reasm_stats(r)->gaps, 1);
	cap_reasm_finish(r);
	check_invariant(r);
	cap_reasm_free(r);
}

/* --------------------------------------------------------------- decode */

static size_t ipv4_tcp(uint8_t *p, const char *payload, size_t plen,
		       size_t pad)
{
	memset(p, 0, 40 + plen + pad);
	p[0] = 0x45;
	size_t total = 40 + plen;
	p[2] = (uint8_t)(total >> 8);
	p[3] = (uint8_t)total;
	p[9] = 6;
	p[12] = 10, p[15] = 1;
	p[16] = 10, p[19] = 2;
	p[20] = 0x9c, p[21] = 0x40; /* 40000 */
	p[22] = 0, p[23] = 80;
	p[24] = 0, p[27] = 7;       /* seq 7 */
	p[32] = 5 << 4;
	p[33] = CAP_TCP_ACK;
	memcpy(p + 40, payload, plen);
	return total + pad;
}

Test(packet, link_types)
{
	uint8_t f[256];
	cap_seg_t s;
	/* Ethernet, padded to the 60-byte minimum */
	memset(f, 0, 14);
	f[12] = 0x08;
	size_t n = 14 + ipv4_tcp(f + 14, "hi", 2, 10);
	cr_assert_eq(cap_packet_decode(1, f, n, &s), CAP_PKT_TCP);
	cr_assert_eq(s.len, 2, "padding is not payload");
	cr_assert_eq(s.wire_len, 2);
	cr_assert_eq(s.src.port, 40000);
	cr_assert_eq(s.dst.port, 80);
	cr_assert_eq(s.seq, 7);
	cr_assert_eq(memcmp(s.data, "hi", 2), 0);
	/* VLAN tagged */
	memset(f, 0, 18);
	f[12] = 0x81, f[13] = 0x00, f[16] = 0x08;
	n = 18 + ipv4_tcp(f + 18, "hi", 2, 0);
	cr_assert_eq(cap_packet_decode(1, f, n, &s), CAP_PKT_TCP);
	/* snap length cut: 1 of 2 payload bytes captured */
	cr_assert_eq(cap_packet_decode(1, f, n - 1, &s), CAP_PKT_TCP);
	cr_assert_eq(s.len, 1);
	cr_assert_eq(s.wire_len, 2);
	/* Linux cooked v1 and v2, loopback, raw */
	memset(f, 0, 20);
	f[14] = 0x08;
	n = 16 + ipv4_tcp(f + 16, "x", 1, 0);
	cr_assert_eq(cap_packet_decode(113, f, n, &s), CAP_PKT_TCP);
	memset(f, 0, 20);
	f[0] = 0x08;
	n = 20 + ipv4_tcp(f + 20, "x", 1, 0);
	cr_assert_eq(cap_packet_decode(276, f, n, &s), CAP_PKT_TCP);
	memset(f, 0, 4);
	f[0] = 2;
	n = 4 + ipv4_tcp(f + 4, "x", 1, 0);
	cr_assert_eq(cap_packet_decode(0, f, n, &s), CAP_PKT_TCP);
	n = ipv4_tcp(f, "x", 1, 0);
	cr_assert_eq(cap_packet_decode(12, f, n, &s), CAP_PKT_TCP);
	/* fragments, UDP, short, unknown link type */
	f[6] = 0x20;
	cr_assert_eq(cap_packet_decode(12, f, n, &s), CAP_PKT_FRAGMENT);
	f[6] = 0;
	f[9] = 17;
	cr_assert_eq(cap_packet_decode(12, f, n, &s), CAP_PKT_NOT_TCP);
	f[9] = 6;
	cr_assert_eq(cap_packet_decode(12, f, 30, &s), CAP_PKT_SHORT);
	cr_assert_eq(cap_packet_decode(9999, f, n, &s), CAP_PKT_LINKTYPE);
	f[32] = 2 << 4; /* TCP data offset below 5 words */
	cr_assert_eq(cap_packet_decode(12, f, n, &s), CAP_PKT_BAD);
}

Test(packet, ipv6_with_extension_header)
{
	uint8_t f[256] = {0};
	f[0] = 0x60;
	size_t plen = 8 + 20 + 3;
	f[4] = 0, f[5] = (uint8_t)plen;
	f[6] = 0; /* hop-by-hop */
	f[23] = 1;
	f[39] = 2;
	f[40] = 6; /* next: TCP */
	f[41] = 0; /* 8 bytes */
	uint8_t *t = f + 48;
	t[0] = 0x1f, t[1] = 0x90; /* 8080 */
	t[3] = 80;
	t[12] = 5 << 4;
	memcpy(t + 20, "abc", 3);
	cap_seg_t s;
	cr_assert_eq(cap_packet_decode(12, f, 40 + plen, &s), CAP_PKT_TCP);
	cr_assert_eq(s.src.family, 6);
	cr_assert_eq(s.src.port, 8080);
	cr_assert_eq(s.len, 3);
	f[40] = 44; /* a fragment header follows */
	cr_assert_eq(cap_packet_decode(12, f, 40 + plen, &s), CAP_PKT_FRAGMENT);
}
