/*
 * test_target.c: endpoint templates of request targets (the rule the
 * proxy and the capture tools share), including a cut to the buffer.
 */
#include "http/http.h"

#include <criterion/criterion.h>
#include <string.h>

Test(target, templates)
{
	char out[128];
	struct {
		const char *in, *want;
	} cases[] = {
		{"/users/42/orders?x=1", "/users/:id/orders"},
		{"/a/0123abcd/b", "/a/:id/b"},
		{"/a/deadbeef", "/a/deadbeef"}, /* hex without a digit: a word */
		{"/a/deadbeef9", "/a/:id"},
		{"/a/beef", "/a/beef"},
		{"/i/123e4567-e89b-12d3-a456-426614174000", "/i/:id"},
		{"http://h:80/x/7", "/x/:id"},
		{"*", "*"},
		{"?q", "/"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		http_target_template(cases[i].in, strlen(cases[i].in), out,
				     sizeof(out));
		cr_assert_str_eq(out, cases[i].want, "%s", cases[i].in);
	}
}

Test(target, cut_to_the_buffer)
{
	char out[8];
	size_t n = http_target_template("/users/42/orders", 16, out,
					sizeof(out));
	cr_assert_eq(n, 7);
	cr_assert_str_eq(out, "/users/");
	cr_assert_eq(http_target_template("/x", 2, out, 0), 0);
}
