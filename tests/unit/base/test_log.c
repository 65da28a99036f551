/*
 * test_log.c: log records in logfmt and JSON, quoting, truncation.
 */
#include "base/err.h"
#include "base/log.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

/* Runs fn with the log pointed at a pipe; returns what it wrote. */
static char *capture(void (*fn)(void))
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	log_set_fd(p[1]);
	fn();
	log_set_fd(2);
	close(p[1]);
	static char out[65536];
	ssize_t n, t = 0;
	while ((n = read(p[0], out + t, sizeof(out) - 1 - (size_t)t)) > 0)
		t += n;
	close(p[0]);
	out[t] = '\0';
	/* the timestamp varies: cut it */
	char *ts = strstr(out, "level");
	return ts ? ts : out;
}

static void emit_some(void)
{
	log_info("proxy", "listening", LF_S("addr", "127.0.0.1:8080"),
		 LF_I("workers", 2), LF_F("ratio", 0.25), LF_B("tls", false),
		 LF_S("path", "a b\"c"), LF_ERR("err", ERR_TIMEOUT));
	log_debug("proxy", "hidden");
}

Test(log, logfmt)
{
	log_setup(LOG_INFO, LOG_FMT_LOGFMT);
	char *s = capture(emit_some);
	cr_assert_str_eq(s, "level=info mod=proxy msg=\"listening\" "
			    "addr=127.0.0.1:8080 workers=2 ratio=0.25 tls=false "
			    "path=\"a b\\\"c\" err=\"timed out\" "
			    "err_code=ERR_TIMEOUT\n");
}

Test(log, json_is_parseable)
{
	log_setup(LOG_DEBUG, LOG_FMT_JSON);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	log_set_fd(p[1]);
	emit_some();
	log_set_fd(2);
	close(p[1]);
	char out[8192];
	ssize_t n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	out[n] = '\0';
	char *nl = strchr(out, '\n');
	*nl = '\0';
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
	cr_assert_not_null(j, "%s: %s", e.text, out);
	cr_assert_str_eq(json_string_value(json_object_get(j, "path")),
			 "a b\"c");
	cr_assert_eq(json_integer_value(json_object_get(j, "workers")), 2);
	json_decref(j);
	/* the debug record was emitted too */
	cr_assert(strstr(nl + 1, "\"msg\":\"hidden\"") != NULL);
}

static void emit_huge(void)
{
	static char big[10000];
	memset(big, 'y', sizeof(big) - 1);
	log_warn("t", "huge", LF_S("a", "small"), LF_S("b", big));
}

Test(log, truncation_keeps_json_valid)
{
	log_setup(LOG_INFO, LOG_FMT_JSON);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	log_set_fd(p[1]);
	emit_huge();
	log_set_fd(2);
	close(p[1]);
	char out[LOG_LINE_MAX + 1];
	ssize_t n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	cr_assert_leq(n, LOG_LINE_MAX);
	out[n - 1] = '\0';
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
	cr_assert_not_null(j, "%s", e.text);
	cr_assert(json_is_true(json_object_get(j, "truncated")));
	cr_assert_str_eq(json_string_value(json_object_get(j, "a")), "small");
	json_decref(j);
}

Test(log, parse_names)
{
	log_level_t l;
	log_format_t f;
	cr_assert_eq(log_level_parse("WARN", &l), 0);
	cr_assert_eq(l, LOG_WARN);
	cr_assert_eq(log_level_parse("loud", &l), ERR_INVAL);
	cr_assert_eq(log_format_parse("json", &f), 0);
	cr_assert_eq(log_format_parse("xml", &f), ERR_INVAL);
}

Test(log, limit_passes_one_per_interval_and_counts_the_rest)
{
	log_limit_t l = {0};
	uint64_t sup = 99;
	cr_assert(log_limit_pass(&l, 1000, 100, &sup));
	cr_assert_eq(sup, 0);
	for (int i = 0; i < 5; i++)
		cr_assert_not(log_limit_pass(&l, 1050 + i, 100, &sup));
	cr_assert(log_limit_pass(&l, 1100, 100, &sup));
	cr_assert_eq(sup, 5, "suppressed %llu", (unsigned long long)sup);
	cr_assert_not(log_limit_pass(&l, 1199, 100, &sup));
	cr_assert(log_limit_pass(&l, 5000, 100, &sup));
	cr_assert_eq(sup, 1);
}

static void emit_flood(void)
{
	for (int i = 0; i < 1000; i++)
		log_warn_limited("proxy", "flood", LF_I("i", i));
}

Test(log, limited_macro_emits_once_with_a_suppressed_count)
{
	char *out = capture(emit_flood);
	cr_assert(strstr(out, "msg=\"flood\" i=0 suppressed=0\n"), "%s", out);
	cr_assert_null(strstr(out, "i=1"), "%s", out);
}
