/*
 * test_ident.c: identity fields (compare.h, ident.c): learned from a
 * warm-up of pairs, left out of the comparison while each side keeps to
 * its own values, pinned from the config; and what is not an identity.
 */
#include "compare/compare.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define S(k) ((int64_t)(k) * 1000000000LL)

static http_header_t hdrs[32];

static void capture(cmp_capture_t *c, const cmp_rules_t *r, const char *head)
{
	http_limits_t lim = HTTP_LIMITS_DEFAULT;
	http_response_t resp = {.headers = hdrs, .cap = 32};
	http_err_t e;
	size_t sc = 0;
	memset(c, 0, sizeof(*c));
	cr_assert_gt(http_parse_response(head, strlen(head), &sc, &lim,
					 HTTP_M_GET, &resp, &e),
		     0);
	cmp_capture_head(c, r, &resp);
	cmp_capture_finish(c);
}

/* One pair through the learner and the comparison, as pair.c does: its
 * header difference bit. */
static uint8_t pair(cmp_ident_t *id, const cmp_rules_t *base, int64_t t,
		    const char *prod, const char *shadow)
{
	cmp_rules_t r = *base;
	r.ident = id;
	cmp_capture_t a, b;
	capture(&a, &r, prod);
	capture(&b, &r, shadow);
	cmp_ident_observe(id, &a, &b, t);
	cmp_result_t res;
	cmp_diff(&a, &b, &r, &res);
	cmp_capture_free(&a);
	cmp_capture_free(&b);
	return res.mask & REQREC_DIFF_HEADERS;
}

static char head[256];
static const char *resp(const char *side, const char *extra)
{
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nX-Side: %s\r\nCache-Control: max-age=60"
		 "\r\n%s\r\n",
		 side, extra);
	return head;
}

Test(ident, a_header_naming_each_side_is_learned_and_left_out)
{
	cmp_rules_t r = {.max_body = 1024};
	cmp_ident_t id;
	cmp_ident_init(&id, S(30));
	char p[256];
	/* production's two replicas name themselves; the shadow is one */
	for (int k = 0; k < 40; k++) {
		snprintf(p, sizeof(p), "%s", resp(k % 2 ? "prod-a" : "prod-b", ""));
		cr_assert_eq(pair(&id, &r, S(k), p, resp("shadow", "")), 0,
			     "pair %d: the identity is left out while learning",
			     k);
	}
	const char *names[4];
	cr_assert_eq(cmp_ident_learned(&id, names, 4), 1);
	cr_assert_str_eq(names[0], "x-side");
	/* learned: still left out for the values it learned ... */
	snprintf(p, sizeof(p), "%s", resp("prod-a", ""));
	cr_assert_eq(pair(&id, &r, S(50), p, resp("shadow", "")), 0);
	/* ... and a new value is a difference again (a change says
	 * otherwise) */
	cr_assert_eq(pair(&id, &r, S(51), p, resp("shadow-v2", "")),
		     REQREC_DIFF_HEADERS);
	/* a real header difference is still one */
	char s[256];
	snprintf(s, sizeof(s), "%s", resp("shadow", "X-Extra: 1\r\n"));
	cr_assert_eq(pair(&id, &r, S(52), p, s), REQREC_DIFF_HEADERS);
}

Test(ident, learning_waits_for_the_warmup_and_enough_pairs)
{
	cmp_rules_t r = {.max_body = 1024};
	cmp_ident_t id;
	cmp_ident_init(&id, S(30));
	char p[256];
	snprintf(p, sizeof(p), "%s", resp("production", ""));
	const char *names[4];
	/* 25 pairs in 10 s: enough pairs, not enough time */
	for (int k = 0; k < 25; k++)
		pair(&id, &r, S(k) / 2, p, resp("shadow", ""));
	cr_assert_eq(cmp_ident_learned(&id, names, 4), 0);
	/* a pair at 30 s ends it */
	pair(&id, &r, S(30), p, resp("shadow", ""));
	cr_assert_eq(cmp_ident_learned(&id, names, 4), 1);
	/* without a warm-up, CMP_IDENT_MIN_PAIRS pairs */
	cmp_ident_init(&id, 0);
	for (int k = 0; k < CMP_IDENT_MIN_PAIRS - 1; k++)
		pair(&id, &r, S(k), p, resp("shadow", ""));
	cr_assert_eq(cmp_ident_learned(&id, names, 4), 0);
	pair(&id, &r, S(99), p, resp("shadow", ""));
	cr_assert_eq(cmp_ident_learned(&id, names, 4), 1);
}

Test(ident, what_is_not_an_identity)
{
	cmp_rules_t r = {.max_body = 1024};
	cmp_ident_t id;
	const char *names[4];
	char p[256];

	/* equal on one pair: a comparable field, its differences count */
	cmp_ident_init(&id, 0);
	snprintf(p, sizeof(p), "%s", resp("a", ""));
	pair(&id, &r, S(0), p, resp("b", ""));
	cr_assert_eq(pair(&id, &r, S(1), p, resp("a", "")), 0);
	cr_assert_eq(pair(&id, &r, S(2), p, resp("b", "")),
		     REQREC_DIFF_HEADERS, "broken: compared again");
	for (int k = 3; k < 30; k++)
		pair(&id, &r, S(k), p, resp("b", ""));
	cr_assert_eq(cmp_ident_learned(&id, names, 4), 0);

	/* a value per request (a request id): more than CMP_IDENT_VALUES */
	cmp_ident_init(&id, 0);
	char s[256];
	int broke_at = -1;
	for (int k = 0; k < 30; k++) {
		char v[32];
		snprintf(v, sizeof(v), "p%d", k);
		snprintf(p, sizeof(p), "%s", resp(v, ""));
		snprintf(v, sizeof(v), "s%d", k);
		snprintf(s, sizeof(s), "%s", resp(v, ""));
		if (pair(&id, &r, S(k), p, s) && broke_at < 0)
			broke_at = k;
	}
	cr_assert_eq(broke_at, CMP_IDENT_VALUES, "broke at pair %d", broke_at);
	cr_assert_eq(cmp_ident_learned(&id, names, 4), 0);

	/* a value both sides show (they swap): not the instance's name */
	cmp_ident_init(&id, 0);
	snprintf(p, sizeof(p), "%s", resp("x", ""));
	snprintf(s, sizeof(s), "%s", resp("y", ""));
	pair(&id, &r, S(0), p, s);
	cr_assert_eq(pair(&id, &r, S(1), s, p), REQREC_DIFF_HEADERS);

	/* on one side only: a difference, never learned */
	cmp_ident_init(&id, 0);
	for (int k = 0; k < 30; k++)
		cr_assert_eq(pair(&id, &r, S(k),
				  "HTTP/1.1 200 OK\r\nX-Side: p\r\n\r\n",
				  "HTTP/1.1 200 OK\r\n\r\n"),
			     REQREC_DIFF_HEADERS);
	cr_assert_eq(cmp_ident_learned(&id, names, 4), 0);
}

Test(ident, pinned_fields_are_left_out_whatever_their_values)
{
	char *pin[] = {"X-Served-By"};
	cmp_rules_t r = {.max_body = 1024, .identity = pin, .nidentity = 1};
	cmp_capture_t a, b;
	capture(&a, &r, "HTTP/1.1 200 OK\r\nX-Served-By: pod-1\r\nA: 1\r\n\r\n");
	capture(&b, &r, "HTTP/1.1 200 OK\r\nA: 1\r\nx-served-by: pod-9\r\n\r\n");
	cmp_result_t res;
	cmp_diff(&a, &b, &r, &res);
	cr_assert_eq(res.mask, 0);
	cmp_capture_free(&a);
	cmp_capture_free(&b);
	capture(&a, &r, "HTTP/1.1 200 OK\r\nX-Served-By: pod-1\r\n\r\n");
	capture(&b, &r, "HTTP/1.1 200 OK\r\n\r\n");
	cmp_diff(&a, &b, &r, &res);
	cr_assert_eq(res.mask, 0, "present on one side only: still pinned");
	cmp_capture_free(&a);
	cmp_capture_free(&b);
}

/* The baseline names itself too: learned from production against both
 * copies, its name joins the shadow's in the copies' set, so neither
 * copy differs by its name. */
Test(ident, the_copies_share_one_set)
{
	cmp_rules_t r = {.max_body = 1024};
	cmp_ident_t id;
	cmp_ident_init(&id, 0);
	char p[256], s[256], b[256];
	snprintf(p, sizeof(p), "%s", resp("production", ""));
	snprintf(s, sizeof(s), "%s", resp("shadow", ""));
	snprintf(b, sizeof(b), "%s", resp("baseline", ""));
	for (int k = 0; k < 15; k++) {
		cr_assert_eq(pair(&id, &r, S(k), p, s), 0);
		cr_assert_eq(pair(&id, &r, S(k), p, b), 0);
	}
	const char *names[4];
	cr_assert_eq(cmp_ident_learned(&id, names, 4), 1);
	cr_assert_eq(pair(&id, &r, S(40), p, b), 0);
	cr_assert_eq(pair(&id, &r, S(40), p, s), 0);
}
