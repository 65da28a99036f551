/*
 * output.c: a child's stdout and stderr into umbra's log, one record per
 * line, prefixed "service/side/replica: ", rate-limited per replica by a
 * token bucket. Pipes are always drained, whatever the rate: a child must
 * never block on a full pipe because umbra's log is busy (production's
 * path is sacred); lines over the rate are dropped and counted, and the
 * count is logged when lines flow again.
 */
#include "provision/prov_int.h"

#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define PROV_OUT_RATE	  100.0	      /* lines/s per replica: a chatty child */
#define PROV_OUT_BURST	  500.0	      /* a start-up banner or a stack trace */
#define PROV_OUT_LINE_MAX 2048	      /* longer lines are cut (and marked) */
#define PROV_OUT_READ_MAX (64 * 1024) /* per wake-up: keep the loop fair */

static const char *const stream_name[2] = {"stdout", "stderr"};

/* Takes a token; false when the line must be dropped. */
static bool take_token(prov_replica_t *r)
{
	int64_t now = clock_mono_ns();
	r->tokens += (double)(now - r->tokens_ns) / NS_PER_S * PROV_OUT_RATE;
	if (r->tokens > PROV_OUT_BURST)
		r->tokens = PROV_OUT_BURST;
	r->tokens_ns = now;
	if (r->tokens < 1) {
		r->suppressed++;
		return false;
	}
	r->tokens -= 1;
	return true;
}

static void flush_suppressed(prov_replica_t *r)
{
	if (!r->suppressed)
		return;
	log_warn("child", "output lines dropped by the rate limit",
		 LF_S("service", r->p->spec[r->side].service),
		 LF_S("side", prov_side_name(r->side)),
		 LF_I("replica", r->index), LF_U("lines", r->suppressed),
		 LF_F("limit_per_s", PROV_OUT_RATE));
	r->suppressed = 0;
}

static void emit_line(prov_replica_t *r, int s, const char *text, size_t n,
		      bool cut)
{
	if (!take_token(r))
		return;
	flush_suppressed(r);
	char msg[PROV_OUT_LINE_MAX + 160];
	snprintf(msg, sizeof(msg), "%s/%s/%d: %.*s%s",
		 r->p->spec[r->side].service, prov_side_name(r->side), r->index,
		 (int)n, text, cut ? " [line cut]" : "");
	log_info("child", msg, LF_S("stream", stream_name[s]),
		 LF_I("pid", r->pid));
}

/* Splits data into lines; keeps the tail in o->line. */
static void feed(prov_replica_t *r, int s, const char *data, size_t n)
{
	prov_out_t *o = &r->out[s];
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t k = nl ? (size_t)(nl - data) : n;
		if (!o->cut) {
			size_t room = PROV_OUT_LINE_MAX - o->line.len;
			buf_append(&o->line, data, k < room ? k : room);
			if (k > room)
				o->cut = true;
		}
		if (!nl) {
			if (o->line.len >= PROV_OUT_LINE_MAX) {
				/* Full: log it now, drop the rest of it. */
				emit_line(r, s, o->line.data, o->line.len,
					  true);
				buf_reset(&o->line);
				o->cut = true;
			}
			return;
		}
		size_t len = o->line.len;
		if (len && o->line.data[len - 1] == '\r')
			len--;
		if (len || !o->cut)
			emit_line(r, s, o->line.data ? o->line.data : "", len,
				  o->cut);
		buf_reset(&o->line);
		o->cut = false;
		data += k + 1;
		n -= k + 1;
	}
}

/* Reads up to PROV_OUT_READ_MAX; returns false at EOF or error. */
static bool drain(prov_replica_t *r, int s)
{
	prov_out_t *o = &r->out[s];
	size_t total = 0;
	while (total < PROV_OUT_READ_MAX) {
		char tmp[8192];
		ssize_t n = read(o->fd, tmp, sizeof(tmp));
		if (n > 0) {
			feed(r, s, tmp, (size_t)n);
			total += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		return false;
	}
	return true;
}

static void close_stream(prov_replica_t *r, int s)
{
	prov_out_t *o = &r->out[s];
	if (o->line.len)
		feed(r, s, "\n", 1);
	if (o->ev)
		event_free(o->ev);
	if (o->fd >= 0)
		close(o->fd);
	o->ev = NULL;
	o->fd = -1;
	buf_free(&o->line);
	o->cut = false;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	prov_replica_t *r = arg;
	int s = fd == r->out[0].fd ? 0 : 1;
	if (!drain(r, s))
		close_stream(r, s);
}

void prov__output_open(prov_replica_t *r, int out_fd, int err_fd)
{
	int fds[2] = {out_fd, err_fd};
	if (r->tokens_ns == 0) {
		r->tokens = PROV_OUT_BURST;
		r->tokens_ns = clock_mono_ns();
	}
	for (int s = 0; s < 2; s++) {
		fcntl(fds[s], F_SETFL, fcntl(fds[s], F_GETFL) | O_NONBLOCK);
		r->out[s].fd = fds[s];
		r->out[s].ev = event_new(r->p->base, fds[s],
					 EV_READ | EV_PERSIST, on_readable, r);
		event_add(r->out[s].ev, NULL);
	}
}

void prov__output_close(prov_replica_t *r)
{
	for (int s = 0; s < 2; s++) {
		if (r->out[s].fd >= 0)
			drain(r, s);
		close_stream(r, s);
	}
	flush_suppressed(r);
}
