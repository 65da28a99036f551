/*
 * test_gor.c: GoReplay items (one test per rejection), the streaming
 * importer (pairing, ids, variants, split anywhere), and export.
 */
#include "base/err.h"
#include "capture/gor.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static void rejects(const char *item, const char *reason)
{
	cap_gor_item_t it;
	const char *why = "";
	cr_assert_eq(cap_gor_item_parse(item, strlen(item), &it, &why),
		     ERR_PARSE, "%s", item);
	cr_assert_str_eq(why, reason, "%s", item);
}

Test(gor_item, parses_three_and_four_fields)
{
	cap_gor_item_t it;
	const char *why;
	const char *a = "1 abc 1700000000000000000 -1\nGET / HTTP/1.1\r\n\r\n";
	cr_assert_eq(cap_gor_item_parse(a, strlen(a), &it, &why), 0);
	cr_assert_eq(it.type, '1');
	cr_assert_eq(it.id_len, 3);
	cr_assert_eq(it.ts, 1700000000000000000LL);
	cr_assert_eq(it.latency, -1);
	cr_assert_eq(it.payload_len, strlen("GET / HTTP/1.1\r\n\r\n"));
	const char *b = "2 abc 17\nHTTP/1.1 200 OK\r\n\r\n";
	cr_assert_eq(cap_gor_item_parse(b, strlen(b), &it, &why), 0);
	cr_assert_eq(it.latency, -1, "absent");
}

Test(gor_item, one_reason_per_rejection)
{
	rejects("1 abc 17", "no header line");
	rejects("1 abc\n", "header line needs TYPE ID TIMESTAMP [LATENCY]");
	rejects("1 a 1 2 3\n", "header line needs TYPE ID TIMESTAMP [LATENCY]");
	rejects("4 a 1\n", "payload type is not 1, 2 or 3");
	rejects("12 a 1\n", "payload type is not 1, 2 or 3");
	rejects("1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa 1\n",
		"id too long");
	rejects("1 a\x01 1\n", "id has bad characters");
	rejects("1 a 1x\n", "bad timestamp");
	rejects("1 a 99999999999999999999\n", "bad timestamp");
	rejects("1 a 1 -\n", "bad latency");
}

typedef struct got {
	int n;
	char head[8][256], body[8][256], resp[8][256];
	uint16_t flags[8];
	int64_t resp_ns[8], latency[8];
} got_t;

static void on_rec(void *arg, cap_rec_t *r)
{
	got_t *g = arg;
	const char *why;
	cr_assert_eq(cap_rec_check(r, &why), 0, "%s", why);
	cr_assert_lt(g->n, 8);
	int i = g->n++;
	snprintf(g->head[i], 256, "%.*s", (int)r->req_head_len, r->req_head);
	snprintf(g->body[i], 256, "%.*s", (int)r->req_body_len, r->req_body);
	snprintf(g->resp[i], 256, "%.*s%.*s", (int)r->resp_head_len,
		 r->resp_head ? r->resp_head : "", (int)r->resp_body_len,
		 r->resp_body ? r->resp_body : "");
	g->flags[i] = r->flags;
	g->resp_ns[i] = r->resp_ns;
	g->latency[i] = r->latency_ns;
}

#define SEP GOR_SEPARATOR
#define FILE_TEXT                                                          \
	"1 id1 1000000000 -1\nPOST /a HTTP/1.1\r\nHost: h\r\n"              \
	"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n" SEP \
	"1 id2 2000000000 -1\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n" SEP        \
	"3 id1 3 4\nHTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n" SEP          \
	"2 id2 2000005000 5000\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n"    \
	"\r\nok" SEP                                                          \
	"2 id1 7000\nHTTP/1.1 201 C\r\nContent-Length: 0\r\n\r\n" SEP         \
	"2 nobody 1 1\nHTTP/1.1 200 OK\r\n\r\n" SEP                           \
	"1 bad 1 1\nnot http at all" SEP "1 last 9 -1\nGET /c HTTP/1.1\r\n"   \
	"Host: h\r\n\r\n" SEP

static void check(got_t *g, const cap_gor_stats_t *st)
{
	cr_assert_eq(g->n, 3);
	cr_assert_str_eq(g->head[0], "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
	cr_assert_str_eq(g->resp[0],
			 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	cr_assert_eq(g->resp_ns[0], 2000005000);
	cr_assert_eq(g->latency[0], 5000);
	cr_assert_str_eq(g->body[1], "abc", "de-chunked");
	cr_assert(g->flags[1] & CAP_RF_REQ_CHUNKED);
	/* third field as the round trip (older GoReplay) */
	cr_assert_eq(g->latency[1], 7000);
	cr_assert_eq(g->resp_ns[1], 1000007000);
	cr_assert(g->flags[2] & CAP_RF_NO_RESPONSE, "never answered");
	cr_assert_eq(st->items, 8);
	cr_assert_eq(st->requests, 4);
	cr_assert_eq(st->responses, 3);
	cr_assert_eq(st->replayed, 1);
	cr_assert_eq(st->orphan_responses, 1);
	cr_assert_eq(st->lost[CAP_LOSS_PARSE], 1);
	cr_assert_eq(st->requests, st->exchanges + st->lost[CAP_LOSS_PARSE]);
}

Test(gor_import, pairs_by_id_in_any_split)
{
	const char *text = FILE_TEXT;
	size_t n = strlen(text);
	for (size_t step = 1; step <= n; step += (step < 40 ? 1 : 97)) {
		got_t g = {0};
		cap_gor_t *gi = cap_gor_new(1 << 20, on_rec, &g);
		for (size_t i = 0; i < n; i += step)
			cr_assert_eq(cap_gor_feed(gi, text + i,
						  n - i < step ? n - i : step),
				     0);
		cap_gor_finish(gi);
		check(&g, cap_gor_stats(gi));
		cap_gor_free(gi);
	}
}

Test(gor_import, cut_bodies_and_oversized_items)
{
	got_t g = {0};
	cap_gor_t *gi = cap_gor_new(4, on_rec, &g);
	const char *t = "1 x 1 -1\nPOST /p HTTP/1.1\r\nHost: h\r\nContent-Length: "
			"10\r\n\r\n0123456" SEP;
	cr_assert_eq(cap_gor_feed(gi, t, strlen(t)), 0);
	cap_gor_finish(gi);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(g.body[0], "0123");
	cr_assert(g.flags[0] & CAP_RF_REQ_TRUNC);
	cap_gor_free(gi);
	/* no separator for longer than an item may be */
	gi = cap_gor_new(4, on_rec, &g);
	static char big[1 << 16];
	memset(big, 'a', sizeof(big));
	int rc = 0;
	for (size_t i = 0; i < (GOR_ITEM_MAX / sizeof(big)) + 2 && !rc; i++)
		rc = cap_gor_feed(gi, big, sizeof(big));
	cr_assert_eq(rc, ERR_TOOBIG);
	cap_gor_free(gi);
}

Test(gor_export, canonical_form_round_trips)
{
	got_t g = {0};
	cap_gor_t *gi = cap_gor_new(1 << 20, on_rec, &g);
	const char *text = FILE_TEXT;
	cap_gor_feed(gi, text, strlen(text));
	cap_gor_finish(gi);
	cap_gor_free(gi);
	/* export what was read, import the export: the same records */
	cap_rec_t r = {0};
	r.kind = CAP_KIND_EXCHANGE;
	r.tag = "id9";
	r.tag_len = 3;
	r.req_ns = 5;
	r.flags = CAP_RF_REQ_CHUNKED;
	r.req_head = "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
		     "\r\n\r\n";
	r.req_head_len = strlen(r.req_head);
	r.req_body = "hello";
	r.req_body_len = r.req_body_total = 5;
	r.resp_ns = 9;
	r.latency_ns = 4;
	r.resp_head = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n";
	r.resp_head_len = strlen(r.resp_head);
	r.resp_body = "y";
	r.resp_body_len = r.resp_body_total = 1;
	buf_t out = BUF_INIT;
	cap_gor_encode(&r, &out);
	const char *want =
		"1 id9 5 -1\nPUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
		"chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" SEP
		"2 id9 9 4\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny" SEP;
	cr_assert_eq(out.len, strlen(want));
	cr_assert_eq(memcmp(out.data, want, out.len), 0);
	got_t h = {0};
	gi = cap_gor_new(1 << 20, on_rec, &h);
	cap_gor_feed(gi, out.data, out.len);
	cap_gor_finish(gi);
	cap_gor_free(gi);
	cr_assert_eq(h.n, 1);
	cr_assert_str_eq(h.body[0], "hello");
	cr_assert_eq(h.latency[0], 4);
	buf_free(&out);
	/* no usable tag: an id from the connection and index */
	r.tag_len = 0;
	r.conn_id = 0xabc;
	r.seq = 7;
	r.flags |= CAP_RF_NO_RESPONSE;
	cap_gor_encode(&r, &out);
	cr_assert(strncmp(out.data, "1 0000000000000abc00000007 5 -1\n", 32) ==
		  0);
	cr_assert_null(strstr(out.data, "\n2 "), "no response payload");
	buf_free(&out);
}
