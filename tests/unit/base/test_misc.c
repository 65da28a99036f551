/*
 * test_misc.c: addresses, suggestions, errors, buffers, arenas.
 */
#include "base/addr.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/suggest.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

Test(addr, parse_and_format)
{
	addr_t a;
	char t[ADDR_TEXT_MAX];
	cr_assert_eq(addr_parse("127.0.0.1:8080", false, &a, NULL), 0);
	cr_assert_str_eq(a.host, "127.0.0.1");
	cr_assert_eq(a.port, 8080);
	cr_assert(addr_is_loopback(&a));
	cr_assert_eq(addr_parse("[::1]:9", false, &a, NULL), 0);
	cr_assert_str_eq(addr_format(&a, t), "[::1]:9");
	cr_assert(addr_is_loopback(&a));
	cr_assert_eq(addr_parse(":80", false, &a, NULL), 0);
	cr_assert_str_eq(a.host, "");
	cr_assert(!addr_is_loopback(&a));
	cr_assert_eq(addr_parse("localhost:1", false, &a, NULL), 0);
	cr_assert_eq(addr_parse("host:0", false, &a, NULL), ERR_RANGE);
	cr_assert_eq(addr_parse("host:0", true, &a, NULL), 0);
	const char *bad[] = {"", "host", "[::1:80", "[zz]:80", "a b:80",
			     "::1:80", "h:", "h:-1", "h:65536", "-.x:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_neq(addr_parse(bad[i], false, &a, NULL), 0, "%s",
			      bad[i]);
}

Test(addr, resolve_numeric)
{
	addr_t a;
	struct sockaddr_storage ss;
	socklen_t len;
	char t[ADDR_TEXT_MAX];
	cr_assert_eq(addr_parse("127.0.0.1:8080", false, &a, NULL), 0);
	cr_assert_eq(addr_resolve(&a, &ss, &len), 0);
	cr_assert_str_eq(addr_format_sockaddr((struct sockaddr *)&ss, t),
			 "127.0.0.1:8080");
}

Test(suggest, closest)
{
	const char *c[] = {"check-config", "proxy", "replay", "capture"};
	cr_assert_str_eq(suggest_closest("chek-config", c, 4), "check-config");
	cr_assert_str_eq(suggest_closest("porxy", c, 4), "proxy");
	cr_assert_str_eq(suggest_closest("check", c, 4), "check-config");
	cr_assert_null(suggest_closest("zzz", c, 4));
	cr_assert_eq(suggest_distance("abc", "acb"), 1);
	cr_assert_eq(suggest_distance("", "abc"), 3);
}

Test(err, names_and_messages)
{
	cr_assert_str_eq(err_name(ERR_PARSE), "ERR_PARSE");
	cr_assert_str_eq(err_str(ERR_PARSE), "malformed input");
	cr_assert_str_eq(err_name(-ENOENT), "ENOENT");
	cr_assert_str_eq(err_str(-ENOENT), "No such file or directory");
	cr_assert_str_eq(err_name(-99999), "ERR_UNKNOWN");
	cr_assert_str_eq(err_name(0), "OK");
}

Test(buf, append_printf_consume)
{
	buf_t b = BUF_INIT;
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	cr_assert(strncmp(b.data, "0,1,2,", 6) == 0);
	size_t n = b.len;
	buf_consume(&b, 2);
	cr_assert_eq(b.len, n - 2);
	cr_assert(strncmp(b.data, "1,2,", 4) == 0);
	char big[1000];
	memset(big, 'x', sizeof(big));
	buf_reset(&b);
	buf_printf(&b, "%.*s", 999, big);
	cr_assert_eq(b.len, 999);
	cr_assert_eq(b.data[999], '\0');
	char *s = buf_steal(&b);
	cr_assert_eq(strlen(s), 999);
	free(s);
	cr_assert_null(b.data);
}

Test(buf, put_u64_is_printf_u)
{
	static const uint64_t v[] = {0, 7, 10, 99, 1000, 4294967296ULL,
				     UINT64_MAX};
	buf_t b = BUF_INIT;
	char want[32];
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++) {
		buf_reset(&b);
		buf_puts(&b, "n=");
		buf_put_u64(&b, v[i]);
		snprintf(want, sizeof(want), "n=%llu",
			 (unsigned long long)v[i]);
		cr_assert_str_eq(b.data, want);
		cr_assert_eq(b.len, strlen(want));
	}
	buf_free(&b);
}

Test(arena, alloc_align_big)
{
	arena_t a = ARENA_INIT;
	char *p = arena_alloc(&a, 3);
	char *q = arena_alloc(&a, 5);
	cr_assert_eq(((uintptr_t)q & 15), 0);
	cr_assert_neq(p, q);
	void *big = arena_alloc(&a, 1 << 20);
	memset(big, 1, 1 << 20);
	char *r = arena_strdup(&a, "hello");
	cr_assert_str_eq(r, "hello");
	cr_assert_str_eq(arena_printf(&a, "%d-%s", 7, "x"), "7-x");
	arena_free(&a);
}
