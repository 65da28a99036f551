/*
 * test_output.c: a child's output into umbra's log: one record per line
 * with the service/side/replica prefix and the stream, long lines cut,
 * and the rate limit dropping (and counting) lines over the burst while
 * the pipe is still drained.
 */
#include "base/clock.h"
#include "base/log.h"
#include "provision/prov_int.h"

#include <criterion/criterion.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct rig {
	struct event_base *base;
	prov_t p;
	prov_replica_t r;
	int out_w, err_w, log_r;
} rig_t;

static void rig_init(rig_t *g)
{
	memset(g, 0, sizeof(*g));
	g->base = event_base_new();
	g->p.base = g->base;
	g->p.spec[PROV_SHADOW].service = "svc";
	g->r.p = &g->p;
	g->r.side = PROV_SHADOW;
	g->r.index = 1;
	g->r.pid = 42;
	int o[2], e[2], l[2];
	cr_assert_eq(pipe(o), 0);
	cr_assert_eq(pipe(e), 0);
	cr_assert_eq(pipe(l), 0);
	fcntl(l[0], F_SETFL, O_NONBLOCK);
	fcntl(l[1], F_SETPIPE_SZ, 1 << 20);
	log_setup(LOG_INFO, LOG_FMT_LOGFMT);
	log_set_fd(l[1]);
	g->out_w = o[1];
	g->err_w = e[1];
	g->log_r = l[0];
	prov__output_open(&g->r, o[0], e[0]);
}

static void rig_free(rig_t *g)
{
	prov__output_close(&g->r);
	close(g->out_w);
	close(g->err_w);
	close(g->log_r);
	log_set_fd(2);
	event_base_free(g->base);
}

/* Runs the loop until the pipes are drained; returns the log text. */
static char *pump(rig_t *g)
{
	for (int i = 0; i < 50; i++)
		event_base_loop(g->base, EVLOOP_NONBLOCK);
	buf_t b = BUF_INIT;
	char tmp[65536];
	ssize_t n;
	while ((n = read(g->log_r, tmp, sizeof(tmp))) > 0)
		buf_append(&b, tmp, (size_t)n);
	return buf_steal(&b);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

Test(output, lines_prefixed_with_stream)
{
	rig_t g;
	rig_init(&g);
	cr_assert_eq(write(g.out_w, "hello\nwor", 9), 9);
	cr_assert_eq(write(g.err_w, "oops\r\n", 6), 6);
	char *log = pump(&g);
	cr_assert(strstr(log, "mod=child msg=\"svc/shadow/1: hello\" "
			      "stream=stdout pid=42\n"),
		  "%s", log);
	cr_assert(strstr(log, "msg=\"svc/shadow/1: oops\" stream=stderr"), "%s",
		  log);
	cr_assert_null(strstr(log, "wor"), "%s", log); /* not a line yet */
	free(log);
	cr_assert_eq(write(g.out_w, "ld\n", 3), 3);
	log = pump(&g);
	cr_assert(strstr(log, "msg=\"svc/shadow/1: world\""), "%s", log);
	free(log);
	/* the last partial line is flushed at close */
	cr_assert_eq(write(g.out_w, "bye", 3), 3);
	close(g.out_w);
	close(g.err_w);
	prov__output_close(&g.r);
	log = pump(&g);
	cr_assert(strstr(log, "msg=\"svc/shadow/1: bye\""), "%s", log);
	free(log);
	event_base_free(g.base);
	close(g.log_r);
	log_set_fd(2);
}

Test(output, long_lines_are_cut_once)
{
	rig_t g;
	rig_init(&g);
	char *big = malloc(5000);
	memset(big, 'x', 5000);
	cr_assert_eq(write(g.out_w, big, 5000), 5000);
	cr_assert_eq(write(g.out_w, "\nnext\n", 6), 6);
	char *log = pump(&g);
	cr_assert_eq(count(log, "[line cut]"), 1, "%s", log);
	cr_assert_eq(count(log, "mod=child"), 2, "%s", log);
	cr_assert(strstr(log, "msg=\"svc/shadow/1: next\""));
	free(log);
	free(big);
	rig_free(&g);
}

Test(output, rate_limit_drops_and_counts)
{
	rig_t g;
	rig_init(&g);
	buf_t b = BUF_INIT;
	for (int i = 0; i < 2000; i++)
		buf_printf(&b, "line %d\n", i);
	fcntl(g.out_w, F_SETPIPE_SZ, 1 << 20);
	cr_assert_eq(write(g.out_w, b.data, b.len), (ssize_t)b.len);
	char *log = pump(&g);
	int logged = count(log, "mod=child msg=\"svc/shadow/1: line ");
	/* the burst passes (plus what refilled meanwhile), the rest drops */
	cr_assert_geq(logged, 500, "%d", logged);
	cr_assert_lt(logged, 1000, "%d", logged);
	free(log);
	/* the next line that passes reports how many were dropped */
	g.r.tokens_ns -= NS_PER_S / 10; /* 100 ms pass: 10 tokens, no sleep */
	cr_assert_eq(write(g.out_w, "after\n", 6), 6);
	log = pump(&g);
	char want[96];
	snprintf(want, sizeof(want),
		 "msg=\"output lines dropped by the rate limit\" service=svc "
		 "side=shadow replica=1 lines=%d",
		 2000 - logged);
	cr_assert(strstr(log, want), "%s\nwanted %s", log, want);
	cr_assert(strstr(log, "svc/shadow/1: after"));
	free(log);
	buf_free(&b);
	rig_free(&g);
}
