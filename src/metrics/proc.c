/*
 * proc.c: the process-tree collector (see collect.h).
 *
 * Members: the roots and their descendants by parent pid, found by
 * listing /proc (see SCAN_REFRESH for what is remembered between ticks).
 * The kernel's /proc/PID/task/TID/children files would save the listing,
 * but they are documented as unreliable unless the tree is frozen, and a
 * walk through them costs a directory read per member, more than the
 * listing.
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
 *
 * CPU precision: /proc/PID/stat counts in clock ticks (USER_HZ, 10 ms),
 * and a service using 0.05 cores uses 5 of them a second: one tick more
 * or less is 20 %. When the proc root is the kernel's own /proc (our pid
 * namespace), each member's CPU time is read from its process CPU clock
 * (clock_getcpuclockid + clock_gettime: the kernel's sum_exec_runtime of
 * every thread, in nanoseconds, threads that exited included, which the
 * per-task /proc/PID/task/TID/schedstat files would lose), and the ticks
 * only split it into user and system. Fixture trees and a foreign
 * namespace's proc (/host/proc) fall back to the ticks. Either way the
 * tick's output says how coarse the reading was (cpu_res_s, collect.h),
 * so that the analysis never takes a difference finer than that for a
 * finding. A thread running at the instant of the read has its time
 * since its last scheduler tick not yet counted; the next read counts it,
 * so that is jitter between intervals, not a quantum lost.
 */
#include "metrics/collect.h"
#include "metrics/metrics_int.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define STAT_FILE_MAX 1024 /* /proc/PID/stat is ~300 bytes + comm */
#define IO_FILE_MAX 1024

typedef struct member {
	pid_t pid;
	uint64_t start;
	uint64_t utime, stime, cutime, cstime;
	uint64_t rbytes, wbytes, ctx;
	uint64_t rt_ns; /* CPU time from the process CPU clock */
	bool has_io, has_status, has_rt;
} member_t;

/* A process seen by the scan: pid and parent. */
typedef struct seen {
	pid_t pid, ppid;
} seen_t;

/* The scan remembers every process's parent and reads the stat only of
 * processes it has not seen, plus everything every SCAN_REFRESH ticks:
 * parents rarely change (a reparented orphan keeps its place in the tree
 * until the refresh), and a reused pid is caught by the refresh. Reading
 * every stat each tick would cost a host of 1000 processes ~8 ms. */
#define SCAN_REFRESH 30

struct metrics_proc {
	char *root;
	pid_t *roots;
	size_t nroots;
	member_t *prev; /* sorted by pid */
	size_t nprev;
	bool first;
	bool procfs;   /* root is a procfs (not a fixture tree) */
	bool cpuclock; /* root is our own /proc: process CPU clocks work */
	seen_t *known; /* sorted by pid */
	size_t nknown;
	unsigned scans;
	double ticks_per_s;
	uint64_t page_size;
	/* totals; CPU in seconds, the ticks' user share applied to the
	 * precise time (see the file comment) */
	double cpu_user, cpu_sys, rbytes, wbytes, ctx;
	double ticks_user, ticks_sys; /* ticks, for the split */
};

metrics_proc_t *metrics_proc_new(const char *proc_root)
{
	metrics_proc_t *p = xcalloc(1, sizeof(*p));
	p->root = xstrdup(proc_root ? proc_root : "/proc");
	p->first = true;
	struct statfs fs;
	p->procfs = statfs(p->root, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
	/* pids in another root's listing are another namespace's: the
	 * CPU clock of the same number would be another process */
	p->cpuclock = p->procfs && strcmp(p->root, "/proc") == 0;
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
	free(p->known);
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

/* pid's CPU time (all its threads, living and exited) in *ns from its
 * process CPU clock; false when the clock cannot be read (pid gone). */
static bool read_cpuclock(pid_t pid, uint64_t *ns)
{
	clockid_t clk;
	struct timespec ts;
	if (clock_getcpuclockid(pid, &clk) != 0 ||
	    clock_gettime(clk, &ts) != 0 || ts.tv_sec < 0)
		return false;
	*ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return true;
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

/* The member list being built. Roots come first; a descendant is unique
 * (one parent), so only the roots need a duplicate check (a root may
 * descend from another). */
typedef struct members {
	pid_t *pid;
	size_t n, cap;
} members_t;

static void push(members_t *m, const metrics_proc_t *p, pid_t pid, bool root)
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
	}
	m->pid[m->n++] = pid;
}

static int cmp_ppid(const void *a, const void *b)
{
	pid_t x = ((const seen_t *)a)->ppid, y = ((const seen_t *)b)->ppid;
	return (x > y) - (x < y);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = ((const seen_t *)a)->pid, y = ((const seen_t *)b)->pid;
	return (x > y) - (x < y);
}

/* Lists /proc and learns the parent of each process (see SCAN_REFRESH);
 * the members are the roots and their descendants by parent pid. */
static void scan_all(metrics_proc_t *p, members_t *m)
{
	DIR *d = opendir(p->root);
	if (!d)
		return;
	bool refresh = p->scans++ % SCAN_REFRESH == 0;
	seen_t *all = NULL;
	size_t na = 0, ca = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!numeric(e->d_name))
			continue;
		long v = strtol(e->d_name, NULL, 10);
		if (v <= 0 || v > INT_MAX)
			continue;
		seen_t s = {(pid_t)v, -1};
		const seen_t *k =
			refresh || !p->nknown
				? NULL
				: bsearch(&s, p->known, p->nknown,
					  sizeof(seen_t), cmp_pid);
		if (k) {
			s.ppid = k->ppid;
		} else {
			metrics_pstat_t st;
			if (read_stat(p, s.pid, &st))
				continue;
			s.ppid = (pid_t)st.ppid;
		}
		if (na == ca) {
			ca = ca ? ca * 2 : 256;
			all = xreallocarray(all, ca, sizeof(seen_t));
		}
		all[na++] = s;
	}
	closedir(d);
	if (na)
		qsort(all, na, sizeof(seen_t), cmp_pid);
	free(p->known);
	p->known = na ? xreallocarray(NULL, na, sizeof(seen_t)) : NULL;
	if (na)
		memcpy(p->known, all, na * sizeof(seen_t));
	p->nknown = na;

	for (size_t i = 0; i < p->nroots; i++) {
		seen_t key = {p->roots[i], 0};
		if (na && bsearch(&key, all, na, sizeof(seen_t), cmp_pid))
			push(m, p, p->roots[i], true);
	}
	if (na)
		qsort(all, na, sizeof(seen_t), cmp_ppid);
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
			push(m, p, all[j].pid, false);
	}
	free(all);
}

/* Open fds of pid, or -errno. Since Linux 6.2 the size of /proc/PID/fd
 * is the count (one stat instead of a directory walk, 1.5 us against
 * 8 us); older kernels say 0, and then the entries are counted. */
static int64_t count_fds(const metrics_proc_t *p, pid_t pid)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%d/fd", p->root, (int)pid);
	struct stat st;
	if (stat(path, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_size > 0 && p->procfs)
		return (int64_t)st.st_size;
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
	if (!p->nprev)
		return NULL;
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
	if (p->nroots)
		scan_all(p, &mem);
	size_t n = mem.n;
	pid_t *pids = mem.pid;

	member_t *cur = n ? xcalloc(n, sizeof(member_t)) : NULL;
	size_t nc = 0;
	uint64_t d_cu = 0, d_cs = 0; /* growth of members' child times */
	uint64_t dt_u = 0, dt_s = 0; /* this tick's user/system ticks */
	double d_cpu = 0;            /* this tick's CPU seconds */
	uint32_t coarse = 0, fine = 0; /* members read in ticks / clocks */
	for (size_t i = 0; i < n; i++) {
		metrics_pstat_t st;
		if (read_stat(p, pids[i], &st))
			continue; /* exited meanwhile */
		member_t *m = &cur[nc++];
		m->pid = pids[i];
		m->start = st.starttime;
		m->utime = st.utime;
		m->stime = st.stime;
		m->cutime = st.cutime;
		m->cstime = st.cstime;
		m->has_rt = p->cpuclock && read_cpuclock(m->pid, &m->rt_ns);
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
			uint64_t tu = delta(m->utime, o->utime);
			uint64_t ts = delta(m->stime, o->stime);
			dt_u += tu;
			dt_s += ts;
			if (m->has_rt && o->has_rt) {
				d_cpu += (double)delta(m->rt_ns, o->rt_ns) / 1e9;
				fine++;
			} else {
				d_cpu += (double)(tu + ts) / p->ticks_per_s;
				coarse++;
			}
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
			dt_u += m->utime;
			dt_s += m->stime;
			if (m->has_rt) {
				d_cpu += (double)m->rt_ns / 1e9;
				fine++;
			} else {
				d_cpu += (double)(m->utime + m->stime) /
					 p->ticks_per_s;
				coarse++;
			}
			p->rbytes += m->rbytes;
			p->wbytes += m->wbytes;
			p->ctx += m->ctx;
		}
	}
	if (nc)
		qsort(cur, nc, sizeof(member_t), cmp_member);

	/* members gone since the last tick */
	uint64_t gone_u = 0, gone_s = 0;
	for (size_t i = 0; i < p->nprev; i++) {
		const member_t *o = &p->prev[i];
		member_t key = {.pid = o->pid};
		const member_t *c =
			nc ? bsearch(&key, cur, nc, sizeof(member_t),
				     cmp_member)
			   : NULL;
		if (!c || c->start != o->start) {
			gone_u += o->utime + o->cutime;
			gone_s += o->stime + o->cstime;
			coarse++; /* its last partial tick, from ticks */
		}
	}
	if (!p->first) {
		uint64_t ru = d_cu > gone_u ? d_cu - gone_u : 0;
		uint64_t rs = d_cs > gone_s ? d_cs - gone_s : 0;
		dt_u += ru;
		dt_s += rs;
		d_cpu += (double)(ru + rs) / p->ticks_per_s;
	}
	/* The ticks split the precise time into user and system, as the
	 * kernel's cputime_adjust() does; a tick without a whole tick of
	 * either keeps the split so far. */
	double tk = (double)(dt_u + dt_s);
	double all = p->ticks_user + p->ticks_sys;
	double fu = tk > 0 ? (double)dt_u / tk : all > 0 ? p->ticks_user / all : 1;
	p->ticks_user += (double)dt_u;
	p->ticks_sys += (double)dt_s;
	p->cpu_user += d_cpu * fu;
	p->cpu_sys += d_cpu * (1 - fu);
	/* utime and stime are each truncated to a tick, so a member read in
	 * ticks may be off by up to two of them in this tick's delta (the
	 * remainder shows up in a later delta); a CPU clock by a nanosecond.
	 * The members' truncations are independent: each delta's error has a
	 * standard deviation of 1/sqrt(3) tick (two counters, each the
	 * difference of two uniform remainders), and their sum over n
	 * members sqrt(n / 3); 2 sqrt(n) ticks is 3.5 of those (passed once
	 * in 2000 ticks), and exactly the worst case of one member. The
	 * worst case of n (2 n) would blind a large tree: 100 members read
	 * in ticks would resolve nothing under 2 cores at 1 s. */
	out->cpu_res_s = 2 * sqrt((double)coarse) / p->ticks_per_s +
			 (double)fine * 1e-9;
	free(p->prev);
	p->prev = cur;
	p->nprev = nc;
	p->first = false;
	free(pids);

	out->cpu_user_s = p->cpu_user;
	out->cpu_system_s = p->cpu_sys;
	out->read_bytes = p->rbytes;
	out->write_bytes = p->wbytes;
	out->ctx_switches = p->ctx;
	return nc ? 0 : ERR_NOTFOUND;
}
