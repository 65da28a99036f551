/*
 * test_steady.c: masking on the hot path allocates nothing once a context
 * is warm. malloc, calloc and realloc are interposed here and count calls
 * made by this thread while counting is on; a mixed workload (JSON with
 * rules, form, multipart, text with decoded views, gzip and deflate
 * bodies, auth and cookie headers, responses) runs to warm up, then runs
 * again and must allocate zero times, output buffer included (it is
 * reused, as a worker reuses its buffers).
 *
 * ASan replaces the allocator itself, so under it this test is skipped.
 */
#include "base/err.h"
#include "unit/mask/mask_test.h"

#include <dlfcn.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifndef UNDER_ASAN
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static __thread bool counting;
static __thread long allocs;
static void *last_caller;

void *malloc(size_t n)
{
	if (counting) {
		allocs++;
		last_caller = __builtin_return_address(0);
	}
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if (counting)
		allocs++;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if (counting)
		allocs++;
	return __libc_realloc(p, n);
}
#endif

__attribute__((unused)) static size_t zip(const char *s, int wbits, char *out,
					  size_t cap)
{
	z_stream z = {0};
	deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)s;
	z.avail_in = (uInt)strlen(s);
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	size_t n = cap - z.avail_out;
	deflateEnd(&z);
	return n;
}

static char gz[4096], df[4096];
static size_t ngz, ndf;

__attribute__((unused)) static void workload(tmask_t *t)
{
	const char *json[] = {
	    "Content-Type: application/json",
	    "Authorization: Basic YW5uQGV4YW1wbGUub3JnOmh1bnRlcjI=",
	    "Cookie: sid=abc; theme=dark", "X-Forwarded-For: 203.0.113.7",
	    NULL};
	cr_assert_eq(
	    tm_req(t, "POST", "/u/ann%40example.org?card=4111111111111111",
		   json,
		   "{\"user\": {\"email\": \"ann@example.org\", \"password\":"
		   " \"x\", \"items\": [{\"card\": \"4111 1111 1111 1111\"}]},"
		   " \"n\": 4111111111111111, \"ip\": \"2001:db8::1\","
		   " \"esc\": \"bob\\u0040example.net\", \"drop\": 1}"),
	    0);
	const char *form[] = {"Content-Type: application/x-www-form-urlencoded",
			      NULL};
	cr_assert_eq(tm_req(t, "POST", "/", form,
			    "a=1&email=ann%40example.org&password=s3cr3t"),
		     0);
	const char *mp[] = {"Content-Type: multipart/form-data; boundary=b",
			    NULL};
	cr_assert_eq(
	    tm_req(t, "POST", "/", mp,
		   "--b\r\nContent-Disposition: form-data; name=\"e\"\r\n"
		   "\r\nann@example.org\r\n--b\r\nContent-Type: "
		   "application/json\r\n\r\n{\"a\":\"+44 20 7946 0958\"}"
		   "\r\n--b--\r\n"),
	    0);
	const char *text[] = {"Content-Type: text/plain", NULL};
	cr_assert_eq(tm_req(t, "POST", "/", text,
			    "mail ann@example.org, e=bob%40example.net, "
			    "{\"x\":\"carol\\u0040example.com\"} EMP123456 "
			    "078-05-1120 DE89 3704 0044 0532 0130 00 "
			    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln "
			    "(555) 234-5678 10.1.2.3 keep-203.0.113.9"),
		     0);
	const char *gzh[] = {"Content-Type: application/json",
			     "Content-Encoding: gzip", NULL};
	cr_assert_eq(tm_req_n(t, "POST", "/", gzh, gz, ngz), 0);
	const char *dfh[] = {"Content-Type: text/plain",
			     "Content-Encoding: deflate", NULL};
	cr_assert_eq(tm_req_n(t, "POST", "/", dfh, df, ndf), 0);
	mask_header_t h[2] = {{"Set-Cookie", 10, "s=abc; Path=/", 13},
			      {"Content-Type", 12, "application/json", 16}};
	mask_response_t r = {200, "OK", 2, h, 2, "{\"e\":\"ann@example.org\"}",
			     23,  false};
	buf_reset(&t->out);
	cr_assert_eq(mask_response(t->c, &r, &t->out), 0);
	/* And one that fails closed. */
	cr_assert_eq(tm_req(t, "POST", "/", json, "{\"a\": }"), ERR_PARSE);
}

Test(steady, no_allocation_once_warm)
{
#ifdef UNDER_ASAN
	cr_skip_test("ASan owns the allocator");
#else
	tmask_t *t = tm_new(
	    "  rules:\n"
	    "    - {where: json, name: '$.user.items[*].card', action: "
	    "redact}\n"
	    "    - {where: json, name: $.drop, action: drop}\n"
	    "    - {where: pattern, pattern: 'EMP\\d{6}', action: hash}\n"
	    "    - {where: pattern, pattern: 'keep-(\\S+)', replacement: "
	    "'k-$1'}\n");
	ngz = zip("{\"e\": \"ann@example.org\", \"t\": \"eve@example.org\"}",
		  31, gz, sizeof(gz));
	ndf = zip("call +1 (555) 234-5678 or ann@example.org", 15, df,
		  sizeof(df));
	for (int i = 0; i < 5; i++)
		workload(t);
	counting = true;
	allocs = 0;
	for (int i = 0; i < 50; i++)
		workload(t);
	counting = false;
	Dl_info di = {0};
	if (allocs)
		dladdr(last_caller, &di);
	cr_expect_eq(allocs, 0,
		     "%ld allocations in 50 warm rounds (last from "
		     "%s in %s)",
		     allocs, di.dli_sname ? di.dli_sname : "?",
		     di.dli_fname ? di.dli_fname : "?");
	tm_free(t);
#endif
}

Test(steady, interposition_counts)
{
#ifdef UNDER_ASAN
	cr_skip_test("ASan owns the allocator");
#else
	/* The counter sees allocations (or the test above proves nothing). */
	/* Through a volatile pointer: the compiler may not elide it. */
	void *(*volatile m)(size_t) = malloc;
	counting = true;
	allocs = 0;
	void *p = m(10);
	counting = false;
	free(p);
	cr_expect_eq(allocs, 1);
#endif
}
