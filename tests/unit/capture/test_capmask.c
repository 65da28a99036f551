/*
 * test_capmask.c: the real capture masker (capmask.c): both messages of a
 * record masked, chunked framing replaced by Content-Length, records
 * masking cannot read refused (fail closed).
 */
#include "base/buf.h"
#include "base/err.h"
#include "capture/capture.h"
#include "config/config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static config_t *cfg;
static cap_masker_t *m;
static char keyfile[64];

static void setup(void)
{
	cfg = config_new_default("t");
	snprintf(keyfile, sizeof(keyfile), "/tmp/umbra-capmask-%d.key",
		 (int)getpid());
	unlink(keyfile);
	cfg->mask.key_file = keyfile; /* the config's strings are its arena's */
	buf_t err = BUF_INIT;
	m = cap_masker_new(&cfg->mask, &err);
	cr_assert_not_null(m, "%s", err.data ? err.data : "");
	buf_free(&err);
}

static void teardown(void)
{
	cap_masker_free(m);
	config_free(cfg);
	unlink(keyfile);
}

static cap_rec_t exchange(const char *qh, const char *qb, const char *sh,
			  const char *sb)
{
	cap_rec_t r = {.kind = CAP_KIND_EXCHANGE, .source = CAP_SRC_PROXY};
	r.req_head = qh;
	r.req_head_len = strlen(qh);
	r.req_body = qb;
	r.req_body_len = strlen(qb);
	r.req_body_total = r.req_body_len;
	r.resp_head = sh;
	r.resp_head_len = strlen(sh);
	r.resp_body = sb;
	r.resp_body_len = strlen(sb);
	r.resp_body_total = r.resp_body_len;
	return r;
}

static bool has(const char *p, size_t n, const char *needle)
{
	return memmem(p, n, needle, strlen(needle)) != NULL;
}

TestSuite(capmask, .init = setup, .fini = teardown);

Test(capmask, masks_request_and_response)
{
	const char *qb = "{\"email\":\"ann@example.org\",\"n\":1}";
	char qh[256];
	snprintf(qh, sizeof(qh),
		 "POST /u?card=4111111111111111 HTTP/1.1\r\nHost: h\r\n"
		 "Authorization: Bearer abcdef123456\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		 strlen(qb));
	const char *sb = "{\"owner\":\"ann@example.org\"}";
	char sh[128];
	snprintf(sh, sizeof(sh),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n",
		 strlen(sb));
	cap_rec_t r = exchange(qh, qb, sh, sb);
	buf_t scratch = BUF_INIT;
	const char *why;
	cr_assert_eq(cap_mask_apply(m, &r, &scratch, &why), 0, "%s", why);
	cr_assert(r.flags & CAP_RF_MASKED);
	cr_assert_not(has(r.req_head, r.req_head_len, "4111111111111111"));
	cr_assert_not(has(r.req_head, r.req_head_len, "abcdef123456"));
	cr_assert_not(has(r.req_body, r.req_body_len, "ann@example.org"));
	cr_assert(has(r.req_body, r.req_body_len, "\"n\":1"));
	cr_assert_not(has(r.resp_body, r.resp_body_len, "ann@example.org"));
	/* the same value gets the same pseudonym on both sides */
	cr_assert_eq(r.req_body_total, r.req_body_len);
	cr_assert_eq(r.resp_body_total, r.resp_body_len);
	/* a masked record is not masked twice */
	const char *before = r.req_body;
	cr_assert_eq(cap_mask_apply(m, &r, &scratch, &why), 0);
	cr_assert_eq(r.req_body, before);
	buf_free(&scratch);
}

Test(capmask, chunked_becomes_content_length)
{
	cap_rec_t r = exchange("POST /c HTTP/1.1\r\nHost: h\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n",
			       "hello world", "HTTP/1.1 204 No Content\r\n\r\n",
			       "");
	r.flags |= CAP_RF_REQ_CHUNKED;
	buf_t scratch = BUF_INIT;
	const char *why;
	cr_assert_eq(cap_mask_apply(m, &r, &scratch, &why), 0, "%s", why);
	cr_assert_not(r.flags & CAP_RF_REQ_CHUNKED);
	cr_assert(has(r.req_head, r.req_head_len, "Content-Length: 11"));
	cr_assert_not(has(r.req_head, r.req_head_len, "chunked"));
	cr_assert_eq(r.req_body_len, 11);
	buf_free(&scratch);
}

Test(capmask, unreadable_bodies_and_heads_are_refused)
{
	buf_t scratch = BUF_INIT;
	const char *why = NULL;
	cap_rec_t r = exchange("POST /x HTTP/1.1\r\nHost: h\r\n"
			       "Content-Type: application/json\r\n"
			       "Content-Length: 9\r\n\r\n",
			       "{not json", "", "");
	r.flags |= CAP_RF_NO_RESPONSE;
	cr_assert_neq(cap_mask_apply(m, &r, &scratch, &why), 0);
	cr_assert(strstr(why, "POST /x request: bad_json"), "%s", why);
	cr_assert_not(r.flags & CAP_RF_MASKED);

	cap_rec_t bad = exchange("NOT HTTP\r\n\r\n", "", "", "");
	bad.flags |= CAP_RF_NO_RESPONSE;
	cr_assert_neq(cap_mask_apply(m, &bad, &scratch, &why), 0);
	cr_assert(strstr(why, "request head"));

	cap_rec_t resp = exchange("GET / HTTP/1.1\r\nHost: h\r\n\r\n", "",
				  "garbage\r\n\r\n", "");
	cr_assert_neq(cap_mask_apply(m, &resp, &scratch, &why), 0);
	cr_assert(strstr(why, "response head"));
	buf_free(&scratch);
}

Test(capmask, loss_records_pass_untouched)
{
	cap_rec_t l = {.kind = CAP_KIND_LOSS};
	l.loss[CAP_LOSS_MASK] = 3;
	buf_t scratch = BUF_INIT;
	const char *why;
	cr_assert_eq(cap_mask_apply(m, &l, &scratch, &why), 0);
	cr_assert_eq(l.loss[CAP_LOSS_MASK], 3);
	buf_free(&scratch);
}

/* Issue 24 point 3: a body the capture cut at capture.max_body is masked
 * as a prefix (what is whole in it), not refused; the value the cut is
 * in is left out. */
Test(capmask, cut_json_body_is_masked_not_refused)
{
	buf_t big = BUF_INIT;
	buf_puts(&big, "[");
	for (int i = 0; i < 2000; i++)
		buf_printf(&big, "%s{\"id\":%d,\"email\":\"user%d@example.org\"}",
			   i ? "," : "", i, i);
	size_t cut = big.len / 2; /* mid-record, as capture.max_body cuts */
	char head[128];
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n",
		 big.len);
	cap_rec_t r = exchange("GET /users HTTP/1.1\r\nHost: h\r\n\r\n", "",
			       head, "");
	r.resp_body = big.data;
	r.resp_body_len = cut;
	r.resp_body_total = big.len;
	r.flags |= CAP_RF_RESP_TRUNC;
	buf_t scratch = BUF_INIT;
	const char *why;
	cr_assert_eq(cap_mask_apply(m, &r, &scratch, &why), 0, "%s", why);
	cr_expect(!has(r.resp_body, r.resp_body_len, "@example.org\""));
	cr_expect(has(r.resp_body, r.resp_body_len, "@example.com"));
	cr_expect_leq(r.resp_body_len, r.resp_body_total);
	cr_expect(r.flags & CAP_RF_RESP_TRUNC);
	/* the head keeps its own length: the body was cut */
	char cl[64];
	snprintf(cl, sizeof(cl), "Content-Length: %zu", big.len);
	cr_expect(has(r.resp_head, r.resp_head_len, cl));
	/* no partial string at the cut: quotes pair up */
	size_t q = 0;
	for (size_t i = 0; i < r.resp_body_len; i++)
		q += r.resp_body[i] == '"';
	cr_expect_eq(q % 2, 0);
	buf_free(&scratch);
	buf_free(&big);
}

Test(capmask, refusal_names_request_and_setting)
{
	config_t *c = config_new_default("t");
	char kf[64];
	snprintf(kf, sizeof(kf), "/tmp/umbra-capmask-r-%d.key", (int)getpid());
	unlink(kf);
	c->mask.key_file = kf;
	c->mask.max_scan = 1024;
	buf_t err = BUF_INIT;
	cap_masker_t *mm = cap_masker_new(&c->mask, &err);
	cr_assert_not_null(mm);
	char body[2048];
	memset(body, 'a', sizeof(body));
	body[0] = '"';
	body[sizeof(body) - 1] = '"';
	char head[128];
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n",
		 sizeof(body));
	cap_rec_t r = exchange("GET /api/users/42?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
			       "", head, "");
	r.resp_body = body;
	r.resp_body_len = r.resp_body_total = sizeof(body);
	buf_t scratch = BUF_INIT;
	const char *why;
	cr_assert_neq(cap_mask_apply(mm, &r, &scratch, &why), 0);
	cr_expect(strstr(why, "GET /api/users/:id response: too_big"), "%s",
		  why);
	cr_expect(strstr(why, "mask.max_scan"), "%s", why);
	char *txt = NULL;
	size_t tn = 0;
	FILE *f = open_memstream(&txt, &tn);
	cap_masker_report(mm, f, "");
	fclose(f);
	cr_expect(strstr(txt, "GET /api/users/:id response: too_big 1 (raise "
			      "mask.max_scan"),
		  "%s", txt);
	free(txt);
	buf_free(&scratch);
	buf_free(&err);
	cap_masker_free(mm);
	config_free(c);
	unlink(kf);
}
