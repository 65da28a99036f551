/*
 * test_replay.c: what replay sends (Host rewrite, cut bodies, chunked
 * bodies, HTTP/1.0 without Host), speed parsing, record filters (one test
 * per malformed filter), the histogram, and file summaries.
 */
#include "base/err.h"
#include "capture/replay.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static cap_rec_t req(const char *head, const char *body)
{
	cap_rec_t r = {0};
	r.kind = CAP_KIND_EXCHANGE;
	r.req_head = head;
	r.req_head_len = strlen(head);
	r.req_body = body;
	r.req_body_len = r.req_body_total = strlen(body);
	r.flags = CAP_RF_NO_RESPONSE;
	return r;
}

static char *wire(const cap_rec_t *r, const char *host, bool *adj)
{
	static char out[1024];
	buf_t b = BUF_INIT;
	cr_assert_eq(cap_replay_wire(r, host, &b, adj), 0);
	snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
	buf_free(&b);
	return out;
}

Test(replay_wire, byte_for_byte_unless_asked)
{
	bool adj;
	const char *h = "GET /a?b HTTP/1.1\r\nhOsT:  old.example \r\nX:  y\r\n\r\n";
	cap_rec_t r = req(h, "");
	cr_assert_str_eq(wire(&r, NULL, &adj), h);
	cr_assert(!adj);
	cr_assert_str_eq(wire(&r, "new:8080", &adj),
			 "GET /a?b HTTP/1.1\r\nhOsT:  new:8080 \r\nX:  y\r\n\r\n",
			 "only the value changes, spacing kept");
	r = req("GET / HTTP/1.0\r\nA: b\r\n\r\n", "");
	cr_assert_str_eq(wire(&r, "h", &adj),
			 "GET / HTTP/1.0\r\nA: b\r\nHost: h\r\n\r\n");
	r = req("GET / HTTP/1.0\nA: b\n\n", "");
	cr_assert_str_eq(wire(&r, "h", &adj), "GET / HTTP/1.0\nA: b\nHost: h\r\n\n");
}

Test(replay_wire, bodies)
{
	bool adj;
	cap_rec_t r = req("PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
			  "chunked\r\n\r\n",
			  "hello");
	cr_assert_str_eq(wire(&r, NULL, &adj),
			 "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
			 "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
	r.req_body_len = r.req_body_total = 0;
	cr_assert(strstr(wire(&r, NULL, &adj), "\r\n\r\n0\r\n\r\n"));
	/* a body the capture cut: the length says what is sent */
	r = req("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n",
		"abc");
	r.flags |= CAP_RF_REQ_TRUNC;
	r.req_body_total = 100;
	cr_assert_str_eq(wire(&r, NULL, &adj),
			 "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
			 "\r\nabc");
	cr_assert(adj);
	/* an unparseable head is refused, not sent */
	r = req("NOT HTTP\r\n\r\n", "");
	buf_t b = BUF_INIT;
	cr_assert_eq(cap_replay_wire(&r, NULL, &b, &adj), ERR_PARSE);
	buf_free(&b);
}

Test(replay_speed, parses)
{
	double s;
	cr_assert_eq(cap_replay_parse_speed("2x", &s), 0);
	cr_assert_float_eq(s, 2.0, 1e-9);
	cr_assert_eq(cap_replay_parse_speed("0.5x", &s), 0);
	cr_assert_float_eq(s, 0.5, 1e-9);
	cr_assert_eq(cap_replay_parse_speed("50%", &s), 0);
	cr_assert_float_eq(s, 0.5, 1e-9);
	cr_assert_eq(cap_replay_parse_speed("3", &s), 0);
	cr_assert_float_eq(s, 3.0, 1e-9);
	cr_assert_eq(cap_replay_parse_speed("MAX", &s), 0);
	cr_assert_float_eq(s, 0.0, 1e-9);
	const char *bad[] = {"", "x", "0", "-1x", "2y", "nan", "inf", "1e9x",
			     "0.0001x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(cap_replay_parse_speed(bad[i], &s), ERR_PARSE,
			     "%s", bad[i]);
}

static bool match(const char *const *fs, size_t n, const cap_rec_t *r)
{
	cap_filter_t *f = NULL;
	char err[256];
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(cap_filter_add(&f, fs[i], err, sizeof(err)), 0,
			     "%s", err);
	bool m = cap_filter_match(f, r);
	cap_filter_free(f);
	return m;
}

Test(replay_filter, matches)
{
	cap_rec_t r = req("POST /api/users/42?x=1 HTTP/1.1\r\nHost: API.Example."
			  "com\r\n\r\n",
			  "");
	r.flags = 0;
	r.resp_head = "HTTP/1.1 404 Not Found\r\n\r\n";
	r.resp_head_len = strlen(r.resp_head);
#define M(...) match((const char *const[]){__VA_ARGS__},                   \
		     sizeof((const char *const[]){__VA_ARGS__}) /              \
			     sizeof(char *),                                   \
		     &r)
	cr_assert(M("method=get,post"));
	cr_assert(!M("method=GET"));
	cr_assert(M("method!=GET"));
	cr_assert(M("path=/api/*"));
	cr_assert(!M("path=/api"));
	cr_assert(M("host=*.example.com"));
	cr_assert(M("status=4xx"));
	cr_assert(M("status=200,404"));
	cr_assert(!M("status=none"));
	cr_assert(M("endpoint=/api/users/:id"));
	cr_assert(M("method=POST", "status=404", "path!=/other"));
	cr_assert(!M("method=POST", "status=2xx"));
#undef M
	cap_rec_t l = {.kind = CAP_KIND_LOSS};
	cap_filter_t *f = NULL;
	char err[256];
	cap_filter_add(&f, "status=none", err, sizeof(err));
	cr_assert(!cap_filter_match(f, &l), "loss records are not exchanges");
	cr_assert(cap_filter_match(NULL, &r));
	cap_filter_free(f);
}

Test(replay_filter, one_reason_per_malformed_filter)
{
	struct {
		const char *expr, *err;
	} cases[] = {
		{"method", "bad filter 'method' (expected KEY=VALUE"},
		{"=GET", "bad filter '=GET' (expected KEY=VALUE"},
		{"colour=red", "unknown filter key 'colour'"},
		{"method=", "bad filter 'method=': no value"},
		{"status=ok", "bad filter 'status=ok': status takes 200, 2xx "
			      "or none"},
		{"status=6xx", "bad filter 'status=6xx': status takes"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		cap_filter_t *f = NULL;
		char err[256] = "";
		cr_assert_eq(cap_filter_add(&f, cases[i].expr, err, sizeof(err)),
			     ERR_USAGE, "%s", cases[i].expr);
		cr_assert(strstr(err, cases[i].err), "%s: %s", cases[i].expr,
			  err);
		cr_assert_null(f);
	}
}

Test(histogram, quantiles_within_three_percent)
{
	static cap_hist_t h;
	memset(&h, 0, sizeof(h));
	for (uint64_t v = 1; v <= 100000; v++)
		cap_hist_add(&h, v);
	double qs[] = {0.5, 0.9, 0.99, 0.999};
	for (size_t i = 0; i < 4; i++) {
		double want = qs[i] * 100000;
		double got = (double)cap_hist_quantile(&h, qs[i]);
		cr_assert(got > want * 0.97 && got < want * 1.03, "q%g: %g",
			  qs[i], got);
	}
	cr_assert_eq(cap_hist_quantile(&h, 1), 100000);
	cr_assert_eq(h.max, 100000);
	static cap_hist_t e, m;
	memset(&e, 0, sizeof(e));
	cr_assert_eq(cap_hist_quantile(&e, 0.5), 0);
	cap_hist_add(&e, 7);
	cr_assert_eq(cap_hist_quantile(&e, 0.5), 7, "exact below 32");
	cap_hist_add(&e, UINT64_MAX);
	cr_assert_eq(cap_hist_quantile(&e, 1), UINT64_MAX);
	memset(&m, 0, sizeof(m));
	cap_hist_merge(&m, &h);
	cap_hist_merge(&m, &e);
	cr_assert_eq(m.n, h.n + e.n);
}

Test(summary, counts_a_file)
{
	char path[128];
	snprintf(path, sizeof(path), "/tmp/umbra-test-sum-%d", getpid());
	cap_writer_t *w;
	cr_assert_eq(cap_writer_open(path, true, NULL, &w), 0);
	for (int i = 0; i < 6; i++) {
		char head[128];
		snprintf(head, sizeof(head),
			 "%s /users/%d HTTP/1.1\r\nHost: h\r\n\r\n",
			 i % 3 ? "GET" : "DELETE", i);
		cap_rec_t r = req(head, "");
		r.req_ns = 1000000000LL * (i + 1);
		if (i < 4) {
			r.flags = 0;
			r.resp_head = "HTTP/1.1 200 OK\r\n\r\n";
			r.resp_head_len = strlen(r.resp_head);
			r.resp_body = "xy";
			r.resp_body_len = r.resp_body_total = 2;
			r.latency_ns = 2000000;
		}
		cr_assert_eq(cap_writer_write(w, &r), 0);
	}
	cap_rec_t l = {.kind = CAP_KIND_LOSS};
	l.loss[CAP_LOSS_GAP] = 2;
	cap_writer_write(w, &l);
	cr_assert_eq(cap_writer_close(w), 0);
	cap_summary_t s;
	char err[256];
	cr_assert_eq(cap_summarize(path, NULL, &s, err, sizeof(err)), 0);
	cr_assert_eq(s.exchanges, 6);
	cr_assert_eq(s.no_response, 2);
	cr_assert_eq(s.lost[CAP_LOSS_GAP], 2);
	cr_assert_eq(s.status[200], 4);
	cr_assert_eq(s.status[0], 2);
	cr_assert_eq(s.last_ns - s.first_ns, 5000000000LL);
	cr_assert_eq(s.nendpoints, 2);
	cr_assert_str_eq(s.endpoints[0].name, "GET /users/:id");
	cr_assert_eq(s.endpoints[0].count, 4);
	cr_assert_eq(s.resp_body_bytes, 8);
	cr_assert_eq(cap_hist_quantile(&s.latency_us, 0.5) / 100, 20);
	cr_assert_str_eq(s.error, "");
	cap_summary_free(&s);
	cap_filter_t *f = NULL;
	cap_filter_add(&f, "method=DELETE", err, sizeof(err));
	cr_assert_eq(cap_summarize(path, f, &s, err, sizeof(err)), 0);
	cr_assert_eq(s.exchanges, 2);
	cap_summary_free(&s);
	cap_filter_free(f);
	unlink(path);
}
