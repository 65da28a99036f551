/*
 * parse.c: parsers of the kernel's text files (see collect.h) and the
 * module's file-reading helper. The kernel is not hostile, but a fixture,
 * a future kernel or a container's fake /proc may be anything: every
 * parser checks bounds, rejects with a reason, and never reads past len.
 */
#include "metrics/collect.h"
#include "metrics/metrics_int.h"

#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int metrics__read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = 0;
	int rc = 0;
	for (;;) {
		if (n + 1 >= cap) {
			/* one more byte tells "exactly full" from "longer" */
			char c;
			ssize_t r = read(fd, &c, 1);
			rc = r > 0 ? ERR_TOOBIG : r < 0 ? -errno : 0;
			break;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		/* procfs, sysfs, cgroupfs and regular files read short only at
		 * the end: one read(2) per file instead of two */
		if ((size_t)r < cap - 1 - (n - (size_t)r))
			break;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return rc;
}

int metrics__u64(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	if (p >= end || *p < '0' || *p > '9')
		return ERR_PARSE;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return ERR_RANGE;
		v = v * 10 + d;
	}
	*pp = p;
	*out = v;
	return 0;
}

int metrics__i64(const char **pp, const char *end, int64_t *out)
{
	const char *p = *pp;
	bool neg = p < end && *p == '-';
	if (neg)
		p++;
	uint64_t u;
	int rc = metrics__u64(&p, end, &u);
	if (rc)
		return rc;
	if (u > (uint64_t)INT64_MAX)
		return ERR_RANGE;
	*out = neg ? -(int64_t)u : (int64_t)u;
	*pp = p;
	return 0;
}

/* The next line of [*p, end): sets *ls and *le, advances *p past the '\n'.
 * false at the end. */
static bool next_line(const char **p, const char *end, const char **ls,
		      const char **le)
{
	if (*p >= end)
		return false;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	*ls = *p;
	*le = nl ? nl : end;
	*p = nl ? nl + 1 : end;
	return true;
}

static const char *skip_blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* ------------------------------------------------------------ /proc/PID */

/* Fields after "(comm)", counted from 0 = state (man 5 proc field 3). */
#define STAT_PPID 1
#define STAT_UTIME 11
#define STAT_STIME 12
#define STAT_CUTIME 13
#define STAT_CSTIME 14
#define STAT_THREADS 17
#define STAT_STARTTIME 19
#define STAT_RSS 21
#define STAT_NEED 22 /* fields we need to see */

int metrics_parse_stat(const char *buf, size_t len, metrics_pstat_t *out,
		       const char **why)
{
	const char *end = buf + len, *p = buf;
	metrics_pstat_t s;
	memset(&s, 0, sizeof(s));
	if (metrics__i64(&p, end, &s.pid) || s.pid <= 0) {
		*why = "no pid";
		return ERR_PARSE;
	}
	if (p + 1 >= end || p[0] != ' ' || p[1] != '(') {
		*why = "no '(' after the pid";
		return ERR_PARSE;
	}
	/* comm may hold anything, ')' included: the last ')' ends it */
	const char *close = NULL;
	for (const char *q = end; q > p;)
		if (*--q == ')') {
			close = q;
			break;
		}
	if (!close) {
		*why = "no ')' after the command name";
		return ERR_PARSE;
	}
	p = close + 1;
	for (int field = 0; field < STAT_NEED; field++) {
		if (p >= end || *p != ' ') {
			*why = "too few fields";
			return ERR_PARSE;
		}
		p++;
		if (field == 0) { /* state: one letter */
			if (p >= end || *p == ' ' || *p == '\n') {
				*why = "no state";
				return ERR_PARSE;
			}
			p++;
			continue;
		}
		int64_t v;
		if (metrics__i64(&p, end, &v)) {
			*why = "field is not an integer";
			return ERR_PARSE;
		}
		uint64_t *dst = NULL;
		switch (field) {
		case STAT_PPID: s.ppid = v; break;
		case STAT_UTIME: dst = &s.utime; break;
		case STAT_STIME: dst = &s.stime; break;
		case STAT_CUTIME: dst = &s.cutime; break;
		case STAT_CSTIME: dst = &s.cstime; break;
		case STAT_THREADS: dst = &s.threads; break;
		case STAT_STARTTIME: dst = &s.starttime; break;
		case STAT_RSS: dst = &s.rss_pages; break;
		default: break;
		}
		if (dst) {
			if (v < 0) {
				*why = "negative counter";
				return ERR_PARSE;
			}
			*dst = (uint64_t)v;
		}
	}
	if (s.ppid < 0) {
		*why = "negative ppid";
		return ERR_PARSE;
	}
	*out = s;
	return 0;
}

/* "Key:<blanks>N[ kB]" -> N. */
static int key_value(const char *ls, const char *le, const char *key,
		     uint64_t *out, bool *hit, const char **why)
{
	size_t kl = strlen(key);
	if ((size_t)(le - ls) <= kl || memcmp(ls, key, kl) != 0 ||
	    ls[kl] != ':')
		return 0;
	const char *p = skip_blank(ls + kl + 1, le);
	int rc = metrics__u64(&p, le, out);
	if (rc) {
		*why = rc == ERR_RANGE ? "value out of range"
				       : "value is not an integer";
		return ERR_PARSE;
	}
	p = skip_blank(p, le);
	if (p != le && !(le - p == 2 && memcmp(p, "kB", 2) == 0)) {
		*why = "junk after the value";
		return ERR_PARSE;
	}
	*hit = true;
	return 0;
}

int metrics_parse_status(const char *buf, size_t len, metrics_pstatus_t *out,
			 const char **why)
{
	const char *p = buf, *end = buf + len, *ls, *le;
	metrics_pstatus_t s = {0};
	bool threads = false, vol = false, invol = false, rss = false;
	while (next_line(&p, end, &ls, &le)) {
		int rc = key_value(ls, le, "VmRSS", &s.rss_kib, &rss, why);
		if (!rc)
			rc = key_value(ls, le, "Threads", &s.threads, &threads,
				       why);
		if (!rc)
			rc = key_value(ls, le, "voluntary_ctxt_switches",
				       &s.ctx_voluntary, &vol, why);
		if (!rc)
			rc = key_value(ls, le, "nonvoluntary_ctxt_switches",
				       &s.ctx_involuntary, &invol, why);
		if (rc)
			return rc;
	}
	if (!threads) {
		*why = "no Threads line";
		return ERR_PARSE;
	}
	if (!vol || !invol) {
		*why = "no ctxt_switches lines";
		return ERR_PARSE;
	}
	if (s.rss_kib > UINT64_MAX / 1024) {
		*why = "VmRSS out of range";
		return ERR_PARSE;
	}
	*out = s;
	return 0;
}

int metrics_parse_io(const char *buf, size_t len, metrics_pio_t *out,
		     const char **why)
{
	const char *p = buf, *end = buf + len, *ls, *le;
	metrics_pio_t s = {0};
	bool rb = false, wb = false;
	while (next_line(&p, end, &ls, &le)) {
		int rc = key_value(ls, le, "read_bytes", &s.read_bytes, &rb,
				   why);
		if (!rc)
			rc = key_value(ls, le, "write_bytes", &s.write_bytes,
				       &wb, why);
		if (rc)
			return rc;
	}
	if (!rb || !wb) {
		*why = "no read_bytes/write_bytes lines";
		return ERR_PARSE;
	}
	*out = s;
	return 0;
}

/* ------------------------------------------------------------ net/dev */

#define NETDEV_FIELDS 16 /* 8 receive + 8 transmit counters */

int metrics_parse_netdev(const char *buf, size_t len, bool include_lo,
			 metrics_netdev_t *out, const char **why)
{
	const char *p = buf, *end = buf + len, *ls, *le;
	metrics_netdev_t s = {0};
	int line = 0;
	while (next_line(&p, end, &ls, &le)) {
		if (line++ < 2) { /* two header lines */
			if (!memchr(ls, '|', (size_t)(le - ls))) {
				*why = "missing header";
				return ERR_PARSE;
			}
			continue;
		}
		const char *colon = memchr(ls, ':', (size_t)(le - ls));
		if (!colon) {
			*why = "interface line without ':'";
			return ERR_PARSE;
		}
		const char *name = skip_blank(ls, colon);
		size_t nl = (size_t)(colon - name);
		if (nl == 0) {
			*why = "empty interface name";
			return ERR_PARSE;
		}
		uint64_t f[NETDEV_FIELDS];
		const char *q = colon + 1;
		for (int i = 0; i < NETDEV_FIELDS; i++) {
			q = skip_blank(q, le);
			if (metrics__u64(&q, le, &f[i])) {
				*why = "counter is not an integer";
				return ERR_PARSE;
			}
		}
		if (skip_blank(q, le) != le) {
			*why = "junk after the counters";
			return ERR_PARSE;
		}
		if (!include_lo && nl == 2 && memcmp(name, "lo", 2) == 0)
			continue;
		/* counters wrap only at 2^64; a sum that would is junk */
		if (s.rx_bytes > UINT64_MAX - f[0] ||
		    s.tx_bytes > UINT64_MAX - f[8]) {
			*why = "byte counters overflow";
			return ERR_PARSE;
		}
		s.rx_bytes += f[0];
		s.tx_bytes += f[8];
		s.ifaces++;
	}
	if (line < 2) {
		*why = "missing header";
		return ERR_PARSE;
	}
	*out = s;
	return 0;
}

/* ------------------------------------------------------------ cgroup */

int metrics_parse_psi(const char *buf, size_t len, metrics_psi_t *out,
		      const char **why)
{
	const char *p = buf, *end = buf + len, *ls, *le;
	metrics_psi_t s = {0};
	bool some = false;
	while (next_line(&p, end, &ls, &le)) {
		if (ls == le)
			continue;
		bool full;
		if (le - ls > 5 && memcmp(ls, "some ", 5) == 0)
			full = false;
		else if (le - ls > 5 && memcmp(ls, "full ", 5) == 0)
			full = true;
		else {
			*why = "line is neither some nor full";
			return ERR_PARSE;
		}
		const char *t = NULL;
		for (const char *q = ls; q + 6 <= le; q++)
			if (memcmp(q, "total=", 6) == 0 &&
			    (q == ls || q[-1] == ' ')) {
				t = q + 6;
				break;
			}
		uint64_t v;
		if (!t || metrics__u64(&t, le, &v) || t != le) {
			*why = "no total=N at the end";
			return ERR_PARSE;
		}
		if (full) {
			s.full_us = v;
			s.has_full = true;
		} else {
			s.some_us = v;
			some = true;
		}
	}
	if (!some) {
		*why = "no some line";
		return ERR_PARSE;
	}
	*out = s;
	return 0;
}

/* Adds v to *acc unless it would overflow. */
static int add_u64(uint64_t *acc, uint64_t v, const char **why)
{
	if (*acc > UINT64_MAX - v) {
		*why = "sum overflows";
		return ERR_PARSE;
	}
	*acc += v;
	return 0;
}

/* "MAJ:MIN" at the start of a line. */
static int devno(const char **p, const char *end, const char **why)
{
	uint64_t maj, min;
	if (metrics__u64(p, end, &maj) || *p >= end || **p != ':') {
		*why = "line does not start with MAJ:MIN";
		return ERR_PARSE;
	}
	(*p)++;
	if (metrics__u64(p, end, &min)) {
		*why = "line does not start with MAJ:MIN";
		return ERR_PARSE;
	}
	return 0;
}

int metrics_parse_io_stat(const char *buf, size_t len, uint64_t *rbytes,
			  uint64_t *wbytes, const char **why)
{
	const char *p = buf, *end = buf + len, *ls, *le;
	uint64_t r = 0, w = 0;
	while (next_line(&p, end, &ls, &le)) {
		if (ls == le)
			continue;
		const char *q = ls;
		if (devno(&q, le, why))
			return ERR_PARSE;
		while ((q = skip_blank(q, le)) < le) {
			const char *eq = memchr(q, '=', (size_t)(le - q));
			if (!eq) {
				*why = "field without '='";
				return ERR_PARSE;
			}
			const char *k = q;
			size_t kl = (size_t)(eq - q);
			q = eq + 1;
			uint64_t v;
			if (metrics__u64(&q, le, &v)) {
				*why = "field value is not an integer";
				return ERR_PARSE;
			}
			if (q < le && *q != ' ') {
				*why = "junk after a field value";
				return ERR_PARSE;
			}
			int rc = 0;
			if (kl == 6 && memcmp(k, "rbytes", 6) == 0)
				rc = add_u64(&r, v, why);
			else if (kl == 6 && memcmp(k, "wbytes", 6) == 0)
				rc = add_u64(&w, v, why);
			if (rc)
				return rc;
		}
	}
	*rbytes = r;
	*wbytes = w;
	return 0;
}

int metrics_parse_blkio(const char *buf, size_t len, uint64_t *rbytes,
			uint64_t *wbytes, const char **why)
{
	const char *p = buf, *end = buf + len, *ls, *le;
	uint64_t r = 0, w = 0;
	while (next_line(&p, end, &ls, &le)) {
		if (ls == le)
			continue;
		if (le - ls >= 6 && memcmp(ls, "Total ", 6) == 0)
			continue;
		const char *q = ls;
		if (devno(&q, le, why))
			return ERR_PARSE;
		if (q >= le || *q != ' ') {
			*why = "no operation after MAJ:MIN";
			return ERR_PARSE;
		}
		const char *op = ++q;
		const char *sp = memchr(op, ' ', (size_t)(le - op));
		if (!sp) {
			*why = "no value after the operation";
			return ERR_PARSE;
		}
		q = sp + 1;
		uint64_t v;
		if (metrics__u64(&q, le, &v) || q != le) {
			*why = "value is not an integer";
			return ERR_PARSE;
		}
		size_t ol = (size_t)(sp - op);
		int rc = 0;
		if (ol == 4 && memcmp(op, "Read", 4) == 0)
			rc = add_u64(&r, v, why);
		else if (ol == 5 && memcmp(op, "Write", 5) == 0)
			rc = add_u64(&w, v, why);
		if (rc)
			return rc;
	}
	*rbytes = r;
	*wbytes = w;
	return 0;
}

int metrics_parse_keyed(const char *buf, size_t len, const char *key,
			uint64_t *out, const char **why)
{
	const char *p = buf, *end = buf + len, *ls, *le;
	size_t kl = strlen(key);
	while (next_line(&p, end, &ls, &le)) {
		if ((size_t)(le - ls) <= kl || memcmp(ls, key, kl) != 0 ||
		    ls[kl] != ' ')
			continue;
		const char *q = ls + kl + 1;
		uint64_t v;
		if (metrics__u64(&q, le, &v) || q != le) {
			*why = "value is not an integer";
			return ERR_PARSE;
		}
		*out = v;
		return 0;
	}
	return ERR_NOTFOUND;
}
