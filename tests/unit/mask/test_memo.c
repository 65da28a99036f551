/*
 * test_memo.c: the value memo (src/mask/memo.c) changes nothing but
 * speed. A context that answers from its memo must produce the bytes and
 * the counts a context without one does; detail mode (which bypasses the
 * memo) is the reference. Covered: values seen again in the same message
 * and in later ones, pseudonyms of one value under two kinds, values too
 * long for the memo, and more distinct values than it has slots
 * (eviction).
 */
#include "unit/mask/mask_test.h"

/* Messages with sensitive values in every position the walkers reach,
 * several repeated within a message. */
typedef struct msg {
	const char *method, *target, *ctype, *body;
} msg_t;

static const msg_t msgs[] = {
    {"POST", "/api/orders", "application/json",
     "{\"user\":{\"email\":\"ada@example.com\",\"phone\":\"+44 20 7946 "
     "0958\"},\"card\":\"4111 1111 1111 1111\",\"token\":\"abc123\","
     "\"notes\":[\"call ada@example.com\",\"call ada@example.com\","
     "\"4111 1111 1111 1111\",\"plain words\"],\"ip\":\"203.0.113.9\"}"},
    {"GET", "/u/ada@example.com/orders?email=ada%40example.com&page=2",
     NULL, NULL},
    {"POST", "/f", "application/x-www-form-urlencoded",
     "email=ada%40example.com&password=hunter2&note=4111111111111111"},
    {"POST", "/t", "text/plain",
     "mail ada@example.com or bob@example.org, card 4111 1111 1111 1111"},
    /* the same value as a card (detector) and under a sensitive key
     * (whole-value pseudonym of kind generic) */
    {"POST", "/k", "application/json",
     "{\"secret\":\"4111111111111111\",\"n\":\"4111111111111111\"}"},
};
#define NMSGS (sizeof(msgs) / sizeof(msgs[0]))

typedef struct result {
	buf_t out;
	uint32_t counts[64];
	uint32_t total;
} result_t;

static void run(tmask_t *t, const msg_t *m, result_t *r)
{
	char ct[128];
	const char *hs[3] = {"Host: x", NULL, NULL};
	if (m->ctype) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", m->ctype);
		hs[1] = ct;
	}
	cr_assert_eq(tm_req(t, m->method, m->target, hs, m->body), 0, "%s",
		     mask_ctx_error(t->c));
	buf_reset(&r->out);
	buf_append(&r->out, t->out.data, t->out.len);
	const mask_report_t *rep = mask_ctx_report(t->c);
	size_t ns = mask_nsources(t->m);
	cr_assert_leq(ns, 64);
	memcpy(r->counts, rep->counts, ns * sizeof(*r->counts));
	r->total = rep->total;
}

static void same(const result_t *a, const result_t *b, const char *what)
{
	cr_assert_eq(a->out.len, b->out.len, "%s: length %zu vs %zu\n%s\n%s",
		     what, a->out.len, b->out.len, a->out.data, b->out.data);
	cr_assert_eq(memcmp(a->out.data, b->out.data, a->out.len), 0,
		     "%s:\n%s\n%s", what, a->out.data, b->out.data);
	cr_assert_eq(a->total, b->total, "%s: total %u vs %u", what, a->total,
		     b->total);
	cr_assert_eq(memcmp(a->counts, b->counts, sizeof(a->counts)), 0,
		     "%s: counts differ", what);
}

Test(memo, answers_as_a_scan_would)
{
	tmask_t *ref = tm_new(""), *t = tm_new("");
	mask_ctx_detail(ref->c, true); /* detail: no memo */
	result_t a = {0}, b = {0};
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < NMSGS; i++) {
			run(ref, &msgs[i], &a);
			run(t, &msgs[i], &b);
			cr_assert_gt(a.total, 0, "message %zu masks", i);
			same(&a, &b, msgs[i].target);
		}
	buf_free(&a.out);
	buf_free(&b.out);
	tm_free(ref);
	tm_free(t);
}

/* More distinct values than slots, then the first ones again: evicted or
 * colliding slots never answer for another value. */
Test(memo, eviction_keeps_answers_right)
{
	tmask_t *ref = tm_new(""), *t = tm_new("");
	mask_ctx_detail(ref->c, true);
	result_t a = {0}, b = {0};
	char body[256];
	for (int pass = 0; pass < 2; pass++)
		for (int u = 0; u < 3000; u += pass ? 7 : 1) {
			snprintf(body, sizeof(body),
				 "{\"email\":\"user%d@example.com\","
				 "\"n\":\"order %d\",\"p\":\"+1 415 555 %04d\"}",
				 u, u, u % 10000);
			msg_t m = {"POST", "/", "application/json", body};
			run(ref, &m, &a);
			run(t, &m, &b);
			same(&a, &b, body);
		}
	buf_free(&a.out);
	buf_free(&b.out);
	tm_free(ref);
	tm_free(t);
}

/* A value longer than the memo keeps is scanned every time, right. */
Test(memo, long_values_bypass_it)
{
	tmask_t *ref = tm_new(""), *t = tm_new("");
	mask_ctx_detail(ref->c, true);
	char body[1024];
	int k = snprintf(body, sizeof(body), "{\"note\":\"");
	for (int i = 0; i < 10; i++)
		k += snprintf(body + k, sizeof(body) - (size_t)k,
			      "write to ada%d@example.com ", i);
	snprintf(body + k, sizeof(body) - (size_t)k, "\"}");
	msg_t m = {"POST", "/", "application/json", body};
	result_t a = {0}, b = {0};
	for (int i = 0; i < 2; i++) {
		run(ref, &m, &a);
		run(t, &m, &b);
		same(&a, &b, "long note");
	}
	cr_assert_eq(a.total, 10);
	buf_free(&a.out);
	buf_free(&b.out);
	tm_free(ref);
	tm_free(t);
}

/* Rules and detectors switched off change the answers; the memo of one
 * masker never leaks into another's context. */
Test(memo, per_masker)
{
	tmask_t *on = tm_new(""), *off = tm_new("  disable: [email]\n");
	const char *hs[] = {"Content-Type: text/plain", NULL};
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(tm_req(on, "POST", "/", hs, "ada@example.com"), 0);
		cr_assert_eq(strstr(tm_body(on), "ada@"), NULL);
		cr_assert_eq(tm_req(off, "POST", "/", hs, "ada@example.com"), 0);
		cr_assert_str_eq(tm_body(off), "ada@example.com");
	}
	tm_free(on);
	tm_free(off);
}

/* mask.memo: 0 switches it off; a small memo (2 slots) is all
 * collisions: both answer as the reference does. */
Test(memo, sizes)
{
	tmask_t *ref = tm_new("");
	mask_ctx_detail(ref->c, true);
	tmask_t *ts[] = {tm_new("  memo: 0\n"), tm_new("  memo: 3\n")};
	result_t a = {0}, b = {0};
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < NMSGS; i++) {
			run(ref, &msgs[i], &a);
			for (size_t k = 0; k < 2; k++) {
				run(ts[k], &msgs[i], &b);
				same(&a, &b, msgs[i].target);
			}
		}
	buf_free(&a.out);
	buf_free(&b.out);
	tm_free(ref);
	tm_free(ts[0]);
	tm_free(ts[1]);
}
