/*
 * test_large.c: issue 24 point 3, large and cut bodies. A body cut short
 * (mask_request_t.truncated) is masked up to what is whole in it, the
 * cut value left out (JSON, form, text); a 20 MB JSON body is masked
 * within mask.max_scan; scratch that one large body grew is freed after
 * it (MASK_SCRATCH_KEEP), so what a context keeps is bounded.
 */
#include "base/err.h"
#include "mask/mask_int.h"
#include "unit/mask/mask_test.h"

static int post_cut(tmask_t *t, const char *ct, const char *body, size_t n)
{
	char h[128];
	snprintf(h, sizeof(h), "Content-Type: %s", ct);
	mask_header_t hs[1];
	const char *hh[] = {h, NULL};
	tm_headers(hh, hs);
	mask_request_t r = {"POST", 4, "/", 1, hs, 1, body, n};
	r.truncated = true;
	buf_reset(&t->out);
	return mask_request(t->c, &r, &t->out);
}

Test(prefix, json_cut_in_a_value)
{
	tmask_t *t = tm_new("");
	const char *b = "{\"a\": \"ann@example.org\", \"list\": [1, 2, "
			"\"bob@exa";
	cr_assert_eq(post_cut(t, "application/json", b, strlen(b)), 0, "%s",
		     mask_ctx_error(t->c));
	const char *o = tm_body(t);
	cr_expect(!strstr(o, "ann@example.org") && !strstr(o, "bob@"), "%s",
		  o);
	cr_expect(strstr(o, "@example.com") && strstr(o, "[1, 2"), "%s", o);
	/* a number at the cut may be a card's first digits: it goes */
	const char *n = "{\"ok\": true, \"card\": 41111111";
	cr_assert_eq(post_cut(t, "application/json", n, strlen(n)), 0);
	cr_expect(!strstr(tm_body(t), "4111"), "%s", tm_body(t));
	cr_expect(strstr(tm_body(t), "true"), "%s", tm_body(t));
	/* the head keeps no Content-Length of ours */
	cr_expect(!strstr(t->out.data, "Content-Length"), "%s", t->out.data);
	tm_free(t);
}

Test(prefix, form_and_text_cut)
{
	tmask_t *t = tm_new("");
	const char *f = "a=ann%40example.org&b=bob%40exa";
	cr_assert_eq(post_cut(t, "application/x-www-form-urlencoded", f,
			      strlen(f)),
		     0);
	cr_expect(!strstr(tm_body(t), "bob") && !strstr(tm_body(t), "ann%40"),
		  "%s", tm_body(t));
	buf_t txt = BUF_INIT;
	for (int i = 0; i < 100; i++)
		buf_printf(&txt, "line %d mail user%d@example.org\n", i, i);
	buf_puts(&txt, "last one: carol@exam");
	cr_assert_eq(post_cut(t, "text/plain", txt.data, txt.len), 0);
	size_t n = mask_ctx_report(t->c)->body_len;
	const char *o = tm_body(t);
	cr_expect(!memmem(o, n, "carol", 5));
	cr_expect(!memmem(o, n, "@example.org", 12));
	/* all but the lines in the last MASK_PREFIX_TAIL bytes */
	cr_expect_geq(mask_ctx_report(t->c)->counts[CONFIG_MASK_DET_email],
		      90);
	buf_free(&txt);
	tm_free(t);
}

Test(large, twenty_megabytes_of_json_then_scratch_freed)
{
	tmask_t *t = tm_new("  max_scan: 32MiB\n");
	buf_t b = BUF_INIT;
	buf_puts(&b, "[");
	for (int i = 0; b.len < 20u * 1000 * 1000; i++)
		buf_printf(&b,
			   "%s{\"id\":%d,\"email\":\"u%d@example.org\","
			   "\"note\":\"ordinary words about order %d\"}",
			   i ? "," : "", i, i % 5000, i);
	buf_puts(&b, "]");
	const char *hs[] = {"Content-Type: application/json", NULL};
	cr_assert_eq(tm_req_n(t, "POST", "/", hs, b.data, b.len), 0, "%s",
		     mask_ctx_error(t->c));
	size_t n = mask_ctx_report(t->c)->body_len;
	cr_expect(!memmem(tm_body(t), n, "@example.org", 12));
	cr_expect_gt(mask_ctx_report(t->c)->total, 100000);
	/* the next, small, message frees what the large one grew */
	cr_assert_eq(tm_req(t, "GET", "/x", hs, NULL), 0);
	mask_ctx_t *c = t->c;
	cr_expect_leq(c->body.cap, MASK_SCRATCH_KEEP);
	cr_expect_leq(c->dec[0].cap, MASK_SCRATCH_KEEP);
	cr_expect_leq(c->vout.cap, MASK_SCRATCH_KEEP);
	buf_free(&b);
	tm_free(t);
}
