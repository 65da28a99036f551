/*
 * proc.c: the process-tree collector (see collect.h).
 *
 * Members: the roots and their descendants. Where the kernel has
 * /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN) the tree is walked
 * down from the roots; otherwise every /proc/N/stat is read once per tick
 * and the tree is built from the parent pids (then the members' stat is
 * not read twice).
 *
 * Counters: CPU, disk and context-switch counters live in each process,
 * so a tree's sum drops when a member exits. The tracker keeps each
 * member's last values (pid + start time, so a reused pid is a new
 * process) and adds deltas to monotonic totals: a member seen before adds
 * what it used since; a new member adds its whole life (it started, or
 * joined, since the last tick; on the first tick every member is new).
 * CPU of members that exit between ticks is recovered from their
 * parents' cutime/cstime, which grow by a child's whole life when a
 * member waits for it: the growth minus what the vanished members had
 * already been counted for is added. Children reaped outside the tree
 * (orphans adopted by init) lose their last partial tick; disk and
 * context-switch counters of exited processes are not inherited by the
 * kernel and are lost for their last tick too.
 */
#include "metrics/collect.h"
#include "metrics/metrics_int.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STAT_FILE_MAX 1024 /* /proc/PID/stat is ~300 bytes + comm */
#define IO_FILE_MAX 1024

typedef struct member {
	pid_t pid;
	uint64_t start;
	uint64_t utime, stime, cutime, cstime;
	uint64_t rbytes, wbytes, ctx;
	bool has_io, has_status;
} member_t;

/* A process seen by the scan: pid, parent, its parsed stat. */
typedef struct seen {
	pid_t pid, ppid;
	metrics_pstat_t st;
} seen_t;

struct metrics_proc {
	char *root;
	pid_t *roots;
	size_t nroots;
	member_t *prev; /* sorted by pid */
	size_t nprev;
	bool first;
	double ticks_per_s;
	uint64_t page_size;
	/* totals */
	double cpu_user, cpu_sys, rbytes, wbytes, ctx;
};

metrics_proc_t *metrics_proc_new(const char *proc_root)
{
	metrics_proc_t *p = xcalloc(1, sizeof(*p));
	p->root = xstrdup(proc_root ? proc_root : "/proc");
	p->first = true;
	long hz = sysconf(_SC_CLK_TCK);
	p->ticks_per_s = hz > 0 ? (double)hz : 100;
	long ps = sysconf(_SC_PAGESIZE);
	p->page_size = ps > 0 ? (uint64_t)ps : 4096;
	return p;
}

void metrics_proc_free(metrics_proc_t *p)
{
	if (!p)
		return;
	free(p->root);
	free(p->roots);
	free(p->prev);
	free(p);
}

void metrics_proc_set_roots(metrics_proc_t *p, const pid_t *pids, size_t n)
{
	free(p->roots);
	p->roots = n ? xreallocarray(NULL, n, sizeof(pid_t)) : NULL;
	if (n)
		memcpy(p->roots, pids, n * sizeof(pid_t));
	p->nroots = n;
}

/* ------------------------------------------------------------ reading */

static int read_stat(const metrics_proc_t *p, pid_t pid, metrics_pstat_t *st)
{
	char path[PATH_MAX], buf[STAT_FILE_MAX];
	size_t len;
	snprintf(path, sizeof(path), "%s/%d/stat", p->root, (int)pid);
	int rc = metrics__read_file(path, buf, sizeof(buf), &len);
	if (rc)
		return rc;
	const char *why;
	return metrics_parse_stat(buf, len, st, &why);
}

static bool numeric(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool has_pid(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

/* The member list being built: pids, and their stat when the scan read
 * it. Roots come first; a descendant is unique (one parent), so only the
 * roots need a duplicate check (a root may descend from another). */
typedef struct members {
	pid_t *pid;
	metrics_pstat_t *st; /* NULL when walking children files */
	size_t n, cap;
} members_t;

static void push(members_t *m, const metrics_proc_t *p, pid_t pid,
		 const metrics_pstat_t *st, bool root)
{
	if (m->n >= METRICS_TREE_MAX)
		return;
	if (!root && has_pid(p->roots, p->nroots, pid))
		return;
	if (root && has_pid(m->pid, m->n, pid))
		return;
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->pid = xreallocarray(m->pid, m->cap, sizeof(pid_t));
		if (st || m->st)
			m->st = xreallocarray(m->st, m->cap,
					      sizeof(metrics_pstat_t));
	}
	m->pid[m->n] = pid;
	if (st)
		m->st[m->n] = *st;
	m->n++;
}

/* Walks down from the roots with the children files. Returns false when
 * the kernel has none (use the scan). */
static bool walk_children(const metrics_proc_t *p, members_t *m)
{
	char path[PATH_MAX];
	bool any_root = false;
	for (size_t i = 0; i < p->nroots; i++) {
		snprintf(path, sizeof(path), "%s/%d/task/%d/children", p->root,
			 (int)p->roots[i], (int)p->roots[i]);
		if (access(path, R_OK) == 0) {
			any_root = true;
			break;
		}
	}
	if (!any_root)
		return false;
	for (size_t i = 0; i < p->nroots; i++) {
		snprintf(path, sizeof(path), "%s/%d", p->root,
			 (int)p->roots[i]);
		if (access(path, F_OK) == 0)
			push(m, p, p->roots[i], NULL, true);
	}
	/* breadth first: the list grows while we walk it */
	for (size_t k = 0; k < m->n; k++) {
		snprintf(path, sizeof(path), "%s/%d/task", p->root,
			 (int)m->pid[k]);
		DIR *d = opendir(path);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!numeric(e->d_name))
				continue;
			char cpath[PATH_MAX + 300], buf[4096];
			size_t len;
			snprintf(cpath, sizeof(cpath), "%s/%s/children", path,
				 e->d_name);
			/* a longer list is cut at the buffer: its first
			 * children are still walked */
			int rc = metrics__read_file(cpath, buf, sizeof(buf),
						    &len);
			if (rc && rc != ERR_TOOBIG)
				continue;
			const char *q = buf, *end = buf + len;
			while (q < end) {
				uint64_t c;
				if (metrics__u64(&q, end, &c)) {
					q++;
					continue;
				}
				if (c > 0 && c <= INT_MAX)
					push(m, p, (pid_t)c, NULL, false);
			}
		}
		closedir(d);
	}
	return true;
}

static int cmp_seen(const void *a, const void *b)
{
	pid_t x = ((const seen_t *)a)->ppid, y = ((const seen_t *)b)->ppid;
	return (x > y) - (x < y);
}

/* Reads every /proc/N/stat; the members are the roots and their
 * descendants by parent pid, with the stat just read. */
static void scan_all(const metrics_proc_t *p, members_t *m)
{
	DIR *d = opendir(p->root);
	if (!d)
		return;
	seen_t *all = NULL;
	size_t na = 0, ca = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!numeric(e->d_name))
			continue;
		long v = strtol(e->d_name, NULL, 10);
		if (v <= 0 || v > INT_MAX)
			continue;
		seen_t s;
		if (read_stat(p, (pid_t)v, &s.st))
			continue;
		s.pid = (pid_t)v;
		s.ppid = (pid_t)s.st.ppid;
		if (na == ca) {
			ca = ca ? ca * 2 : 256;
			all = xreallocarray(all, ca, sizeof(seen_t));
		}
		all[na++] = s;
	}
	closedir(d);
	qsort(all, na, sizeof(seen_t), cmp_seen);
	for (size_t i = 0; i < p->nroots; i++)
		for (size_t k = 0; k < na; k++)
			if (all[k].pid == p->roots[i])
				push(m, p, all[k].pid, &all[k].st, true);
	for (size_t k = 0; k < m->n; k++) {
		/* children of member k: the run of ppid == it */
		pid_t parent = m->pid[k];
		size_t lo = 0, hi = na;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (all[mid].ppid < parent)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t j = lo; j < na && all[j].ppid == parent; j++)
			push(m, p, all[j].pid, &all[j].st, false);
	}
	free(all);
}

/* Open fds of pid, or -errno. */
static int64_t count_fds(const metrics_proc_t *p, pid_t pid)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%d/fd", p->root, (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int64_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int cmp_member(const void *a, const void *b)
{
	pid_t x = ((const member_t *)a)->pid, y = ((const member_t *)b)->pid;
	return (x > y) - (x < y);
}

static const member_t *find_prev(const metrics_proc_t *p, pid_t pid)
{
	member_t key = {.pid = pid};
	return bsearch(&key, p->prev, p->nprev, sizeof(member_t), cmp_member);
}

static uint64_t delta(uint64_t now, uint64_t before)
{
	return now > before ? now - before : 0;
}

/* ------------------------------------------------------------ tick */

int metrics_proc_tick(metrics_proc_t *p, metrics_proc_stat_t *out)
{
	memset(out, 0, sizeof(*out));
	members_t mem = {0};
	if (p->nroots && !walk_children(p, &mem))
		scan_all(p, &mem);
	size_t n = mem.n;
	pid_t *pids = mem.pid;
	metrics_pstat_t *stats = mem.st;

	member_t *cur = n ? xcalloc(n, sizeof(member_t)) : NULL;
	size_t nc = 0;
	uint64_t d_cu = 0, d_cs = 0; /* growth of members' child times */
	for (size_t i = 0; i < n; i++) {
		metrics_pstat_t st;
		if (stats)
			st = stats[i];
		else if (read_stat(p, pids[i], &st))
			continue; /* exited meanwhile */
		member_t *m = &cur[nc++];
		m->pid = pids[i];
		m->start = st.starttime;
		m->utime = st.utime;
		m->stime = st.stime;
		m->cutime = st.cutime;
		m->cstime = st.cstime;
		out->procs++;
		out->threads += st.threads;

		char path[PATH_MAX], buf[METRICS_PROC_FILE_MAX];
		size_t len;
		const char *why;
		metrics_pstatus_t ps;
		snprintf(path, sizeof(path), "%s/%d/status", p->root,
			 (int)m->pid);
		int rc = metrics__read_file(path, buf, sizeof(buf), &len);
		if (rc == 0 && metrics_parse_status(buf, len, &ps, &why) == 0) {
			out->rss_bytes += ps.rss_kib * 1024;
			m->ctx = ps.ctx_voluntary + ps.ctx_involuntary;
			m->has_status = true;
		} else {
			out->rss_bytes += st.rss_pages * p->page_size;
		}
		metrics_pio_t io;
		snprintf(path, sizeof(path), "%s/%d/io", p->root, (int)m->pid);
		rc = metrics__read_file(path, buf, IO_FILE_MAX, &len);
		if (rc == 0 && metrics_parse_io(buf, len, &io, &why) == 0) {
			m->rbytes = io.read_bytes;
			m->wbytes = io.write_bytes;
			m->has_io = true;
		}
		int64_t fds = count_fds(p, m->pid);
		if (fds >= 0)
			out->fds += (uint64_t)fds;
		if (fds < 0 || !m->has_io)
			out->unreadable++;

		const member_t *o = find_prev(p, m->pid);
		if (o && o->start == m->start) {
			p->cpu_user += delta(m->utime, o->utime);
			p->cpu_sys += delta(m->stime, o->stime);
			d_cu += delta(m->cutime, o->cutime);
			d_cs += delta(m->cstime, o->cstime);
			if (m->has_io && o->has_io) {
				p->rbytes += delta(m->rbytes, o->rbytes);
				p->wbytes += delta(m->wbytes, o->wbytes);
			} else if (m->has_io) {
				p->rbytes += m->rbytes;
				p->wbytes += m->wbytes;
			}
			if (m->has_status && o->has_status)
				p->ctx += delta(m->ctx, o->ctx);
			else if (m->has_status)
				p->ctx += m->ctx;
		} else {
			p->cpu_user += m->utime;
			p->cpu_sys += m->stime;
			p->rbytes += m->rbytes;
			p->wbytes += m->wbytes;
			p->ctx += m->ctx;
		}
	}
	qsort(cur, nc, sizeof(member_t), cmp_member);

	/* members gone since the last tick */
	uint64_t gone_u = 0, gone_s = 0;
	for (size_t i = 0; i < p->nprev; i++) {
		const member_t *o = &p->prev[i];
		member_t key = {.pid = o->pid};
		const member_t *c =
			bsearch(&key, cur, nc, sizeof(member_t), cmp_member);
		if (!c || c->start != o->start) {
			gone_u += o->utime + o->cutime;
			gone_s += o->stime + o->cstime;
		}
	}
	if (!p->first) {
		p->cpu_user += d_cu > gone_u ? (double)(d_cu - gone_u) : 0;
		p->cpu_sys += d_cs > gone_s ? (double)(d_cs - gone_s) : 0;
	}
	free(p->prev);
	p->prev = cur;
	p->nprev = nc;
	p->first = false;
	free(pids);
	free(stats);

	out->cpu_user_s = p->cpu_user / p->ticks_per_s;
	out->cpu_system_s = p->cpu_sys / p->ticks_per_s;
	out->read_bytes = p->rbytes;
	out->write_bytes = p->wbytes;
	out->ctx_switches = p->ctx;
	return nc ? 0 : ERR_NOTFOUND;
}
