/*
 * test_memo.c: the value memo (src/mask/memo.c) changes nothing but
 * speed. A context that answers from its memo must produce the bytes and
 * the counts a context without one does; detail mode (which bypasses the
 * memo) is the reference. Covered: values seen again in the same message
 * and in later ones, pseudonyms of one value under two kinds, values too
 * long for the memo, and more distinct values than it has slots
 * (eviction). One test looks inside (mask_int.h): a value and its
 * pseudonym are both kept.
 */
#include "mask/mask_int.h"
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

/* A masker's context with the memo (t) beside a detail-mode context of
 * the same masker config (ref), which never answers from it. */
typedef struct twin {
	tmask_t *ref, *t;
	result_t a, b; /* ref's and t's answer to the last message */
} twin_t;

static twin_t twin_new(const char *mask_yaml)
{
	twin_t w = {.ref = tm_new(mask_yaml), .t = tm_new(mask_yaml)};
	mask_ctx_detail(w.ref->c, true);
	return w;
}

/* Masks m through both and asserts the same bytes and counts. */
static void twin_check(twin_t *w, const msg_t *m, const char *what)
{
	run(w->ref, m, &w->a);
	run(w->t, m, &w->b);
	same(&w->a, &w->b, what);
}

static void twin_free(twin_t *w)
{
	buf_free(&w->a.out);
	buf_free(&w->b.out);
	tm_free(w->ref);
	tm_free(w->t);
}

Test(memo, answers_as_a_scan_would)
{
	twin_t w = twin_new("");
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < NMSGS; i++) {
			twin_check(&w, &msgs[i], msgs[i].target);
			cr_assert_gt(w.a.total, 0, "message %zu masks", i);
		}
	twin_free(&w);
}

/* More distinct values than slots, then some of them three times more (a
 * value is stored the second time it misses in a row in its slot, and
 * answered after that): evicted or colliding slots never answer for
 * another value. */
Test(memo, eviction_keeps_answers_right)
{
	twin_t w = twin_new("");
	char body[256];
	for (int pass = 0; pass < 4; pass++)
		for (int u = 0; u < 3000; u += pass ? 7 : 1) {
			snprintf(body, sizeof(body),
				 "{\"email\":\"user%d@example.com\","
				 "\"n\":\"order %d\",\"p\":\"+1 415 555 %04d\"}",
				 u, u, u % 10000);
			msg_t m = {"POST", "/", "application/json", body};
			twin_check(&w, &m, body);
		}
	twin_free(&w);
}

/* A value longer than the memo keeps is scanned every time, right. */
Test(memo, long_values_bypass_it)
{
	twin_t w = twin_new("");
	char body[1024];
	int k = snprintf(body, sizeof(body), "{\"note\":\"");
	for (int i = 0; i < 10; i++)
		k += snprintf(body + k, sizeof(body) - (size_t)k,
			      "write to ada%d@example.com ", i);
	snprintf(body + k, sizeof(body) - (size_t)k, "\"}");
	msg_t m = {"POST", "/", "application/json", body};
	for (int i = 0; i < 2; i++)
		twin_check(&w, &m, "long note");
	cr_assert_eq(w.a.total, 10);
	twin_free(&w);
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
	twin_t ws[] = {twin_new("  memo: 0\n"), twin_new("  memo: 3\n")};
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < NMSGS; i++)
			for (size_t k = 0; k < 2; k++)
				twin_check(&ws[k], &msgs[i], msgs[i].target);
	twin_free(&ws[0]);
	twin_free(&ws[1]);
}

/* A value met three times is answered from the memo, and so is its
 * pseudonym: the two are memoised under different tags and must not
 * keep evicting each other (they did once, when the tag only changed
 * the hash's top byte and so shared the slot). */
Test(memo, a_value_and_its_pseudonym_are_both_kept)
{
	tmask_t *t = tm_new("");
	const char *v = "ada@example.com";
	for (int i = 0; i < 3; i++)
		tm_text(t, v);
	buf_t out = BUF_INIT;
	uint8_t flags = 0;
	uint64_t key;
	cr_assert(mask__memo_get(t->c, MASK_MEMO_TEXT, v, strlen(v), &out,
				 &flags, &key),
		  "the value is memoised");
	cr_assert(flags & MASK_MEMO_CHANGED);
	buf_reset(&out);
	cr_assert(mask__memo_get(t->c, MASK_MEMO_PSEUDO + MK_EMAIL, v,
				 strlen(v), &out, &flags, &key),
		  "its pseudonym is memoised");
	cr_assert_str_eq(out.data, tm_text(t, v));
	buf_free(&out);
	tm_free(t);
}
