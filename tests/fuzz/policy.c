/*
 * policy.c: fuzz target for the policy condition parser (mitigate/
 * policy.h). Invariants: never crashes; a rejection has a reason and an
 * offset inside the input (or at the length limit); an accepted condition
 * names a metric, fits the node bound, prints to a canonical form that
 * parses again to the same form, and evaluates the same before and after
 * that round trip on a context derived from the input.
 */
#include "base/err.h"
#include "mitigate/policy.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static mit_expr_t a, b;
	mit_expr_err_t err;
	int rc = mit_expr_parse((const char *)data, size, &a, &err);
	if (rc != 0 && rc != ERR_PARSE)
		abort();
	if (rc) {
		if (!err.msg[0])
			abort();
		if (err.offset > size && err.offset != MIT_EXPR_MAX_LEN)
			abort();
		return 0;
	}
	if (a.root < 0 || a.n <= 0 || a.n > MIT_EXPR_MAX_NODES || !a.metrics)
		abort();
	static char fa[MIT_EXPR_MAX_LEN * 8], fb[MIT_EXPR_MAX_LEN * 8];
	mit_expr_format(&a, fa, sizeof(fa));
	if (strlen(fa) + 1 >= sizeof(fa))
		return 0; /* cut: not comparable */
	if (mit_expr_parse(fa, strlen(fa), &b, &err) != 0) {
		/* The canonical form may be longer (17 digits per number)
		 * and nest deeper (parentheses around an and inside an or)
		 * than the input: only those limits may reject it. */
		if (strncmp(err.msg, "condition too long", 18) &&
		    strncmp(err.msg, "nested too deeply", 17))
			abort();
		return 0;
	}
	mit_expr_format(&b, fb, sizeof(fb));
	if (strcmp(fa, fb))
		abort();
	/* A context from the input's bytes: some values unknown. */
	static mit_eval_ctx_t c;
	mit_eval_ctx_clear(&c);
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	for (int m = 0; m < AN_METRIC__COUNT; m++)
		for (int f = 0; f < MIT_F__COUNT; f++) {
			h = h * 1103515245u + 12345u;
			if (mit_field_is_bool((mit_field_t)f))
				c.val[m][f] = (h >> 16) & 1;
			else if ((h >> 16) % 5)
				c.val[m][f] = (double)((h >> 8) % 2000) / 100 - 5;
		}
	if (mit_expr_eval(&a, &c) != mit_expr_eval(&b, &c))
		abort();
	char ex[256];
	mit_expr_explain(&a, &c, ex, sizeof(ex));
	if (strlen(ex) >= sizeof(ex))
		abort();
	return 0;
}
