/*
 * collect.h: the collectors behind the local metric source. Each reads
 * kernel files and returns raw counters; rates and per-request values are
 * the source's business (metrics.h).
 *
 *   process tree  <proc>/PID/{stat,status,io,fd} of each root and all its
 *                 descendants: CPU user/system, RSS, disk read/write
 *                 bytes, threads, open fds, context switches
 *   cgroup        v2 (cpu.stat, memory.current/peak, io.stat, *.pressure)
 *                 or v1 (cpuacct.usage/stat, cpu.stat, memory.usage_in_bytes
 *                 /max_usage_in_bytes, blkio.throttle.io_service_bytes);
 *                 where the controllers live comes from base/cgroup.h
 *   namespace     <proc>/PID/net/dev: the byte counters of PID's network
 *                 namespace (for a shadow isolated in its own)
 *
 * The proc root is a parameter so tests can point it at a fixture tree
 * (tests/data/proc) and containers at the host's (/host/proc).
 *
 * The parsers are pure functions over the caller's buffer, with bounds on
 * everything and one reason string per rejection; they are exposed for the
 * unit tests and the fuzz target (tests/fuzz/procfs.c).
 */
#ifndef UMBRA_METRICS_COLLECT_H
#define UMBRA_METRICS_COLLECT_H

#include "base/cgroup.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define METRICS_PROC_FILE_MAX 16384 /* status is ~1.5 KiB; Groups: and
				       the Cpus lists can grow it */
#define METRICS_NETDEV_MAX 65536    /* ~150 bytes per interface */
#define METRICS_TREE_MAX 8192       /* processes in one tree; a fork bomb
				       is not measured beyond it */

/* --------------------------------------------------------------- parsers */

/* /proc/PID/stat (man 5 proc). Times are clock ticks (USER_HZ). */
typedef struct metrics_pstat {
	int64_t pid, ppid;
	uint64_t utime, stime, cutime, cstime;
	uint64_t starttime; /* ticks after boot: tells a reused pid apart */
	uint64_t threads;
	uint64_t rss_pages;
} metrics_pstat_t;
int metrics_parse_stat(const char *buf, size_t len, metrics_pstat_t *out,
		       const char **why);

/* /proc/PID/status: the fields we use. Missing VmRSS (kernel threads)
 * reads as 0. */
typedef struct metrics_pstatus {
	uint64_t rss_kib, threads, ctx_voluntary, ctx_involuntary;
} metrics_pstatus_t;
int metrics_parse_status(const char *buf, size_t len, metrics_pstatus_t *out,
			 const char **why);

/* /proc/PID/io: bytes that reached the storage layer. */
typedef struct metrics_pio {
	uint64_t read_bytes, write_bytes;
} metrics_pio_t;
int metrics_parse_io(const char *buf, size_t len, metrics_pio_t *out,
		     const char **why);

/* /proc/net/dev: bytes summed over interfaces (lo left out unless
 * include_lo). */
typedef struct metrics_netdev {
	uint64_t rx_bytes, tx_bytes;
	uint32_t ifaces; /* counted */
} metrics_netdev_t;
int metrics_parse_netdev(const char *buf, size_t len, bool include_lo,
			 metrics_netdev_t *out, const char **why);

/* A PSI file ("some avg10=.. avg60=.. avg300=.. total=US", optional
 * "full" line): the total stall times in microseconds. */
typedef struct metrics_psi {
	uint64_t some_us, full_us;
	bool has_full;
} metrics_psi_t;
int metrics_parse_psi(const char *buf, size_t len, metrics_psi_t *out,
		      const char **why);

/* v2 io.stat ("MAJ:MIN rbytes=N wbytes=N rios=N ..." per device), summed. */
int metrics_parse_io_stat(const char *buf, size_t len, uint64_t *rbytes,
			  uint64_t *wbytes, const char **why);
/* v1 blkio.*io_service_bytes ("MAJ:MIN Read N" ..., "Total N"), summed
 * over devices (the Total lines are left out). */
int metrics_parse_blkio(const char *buf, size_t len, uint64_t *rbytes,
			uint64_t *wbytes, const char **why);
/* A flat keyed file ("key N" per line: cpu.stat, cpuacct.stat): the value
 * of key. 0, ERR_NOTFOUND, or ERR_PARSE with *why. */
int metrics_parse_keyed(const char *buf, size_t len, const char *key,
			uint64_t *out, const char **why);

/* --------------------------------------------------------------- tree */

/* One process tree at one tick. Levels are as of now; counters are
 * monotonic totals since the tracker's first tick (see proc.c for how
 * processes that exit between ticks are accounted). */
typedef struct metrics_proc_stat {
	uint32_t procs;
	uint64_t threads, fds, rss_bytes;
	double cpu_user_s, cpu_system_s;
	/* The resolution of this tick's CPU time: how much the quantum of
	 * the counters read may have put into or kept out of the time used
	 * since the previous tick, in seconds (2 sqrt(n) clock ticks for n
	 * members read from /proc/PID/stat, a nanosecond per member read
	 * from its CPU clock; see proc.c). */
	double cpu_res_s;
	double read_bytes, write_bytes, ctx_switches;
	uint32_t unreadable; /* members whose io or fd we may not read */
} metrics_proc_stat_t;

typedef struct metrics_proc metrics_proc_t;

/* A tracker reading proc_root (NULL: "/proc"). Returns new memory. */
metrics_proc_t *metrics_proc_new(const char *proc_root);
void metrics_proc_free(metrics_proc_t *p);
/* Sets the roots (copied); totals keep accumulating. */
void metrics_proc_set_roots(metrics_proc_t *p, const pid_t *pids, size_t n);
/* Reads every member once. Returns 0, or ERR_NOTFOUND when no root is
 * alive (levels are then 0, totals unchanged). *out is always set. */
int metrics_proc_tick(metrics_proc_t *p, metrics_proc_stat_t *out);

/* --------------------------------------------------------------- cgroup */

#define METRICS_CG_HAVE_CPU 0x01       /* cpu_s (and user/system if known) */
#define METRICS_CG_HAVE_THROTTLE 0x02  /* nr_periods, nr_throttled, throttled */
#define METRICS_CG_HAVE_MEM 0x04       /* mem_current */
#define METRICS_CG_HAVE_MEM_PEAK 0x08
#define METRICS_CG_HAVE_IO 0x10
#define METRICS_CG_HAVE_PSI_CPU 0x20
#define METRICS_CG_HAVE_PSI_MEM 0x40
#define METRICS_CG_HAVE_PSI_IO 0x80

typedef struct metrics_cg {
	int ver[CGROUP__COUNT];                 /* 1, 2, or 0 (absent) */
	char dir[CGROUP__COUNT][CGROUP_PATH_MAX]; /* the group, per controller */
} metrics_cg_t;

/* Cumulative counters and levels of one cgroup. PSI indices: 0 cpu,
 * 1 memory, 2 io. */
typedef struct metrics_cg_stat {
	unsigned have; /* METRICS_CG_* */
	double cpu_s, cpu_user_s, cpu_system_s;
	double cpu_res_s; /* cpu_s's quantum: 1 us (v2), 1 ns (v1) */
	uint64_t nr_periods, nr_throttled;
	double throttled_s;
	uint64_t mem_current, mem_peak;
	uint64_t io_read, io_write;
	metrics_psi_t psi[3];
} metrics_cg_stat_t;

/* The group at path group ("/umbra/web/shadow") below each controller's
 * hierarchy. 0, ERR_NOTFOUND when no controller has it, ERR_TOOBIG. */
int metrics_cg_open(metrics_cg_t *cg, const cgroup_sys_t *sys,
		    const char *group);
/* The groups of pid (cgroup_file: NULL for <real /proc>/PID/cgroup). */
int metrics_cg_open_pid(metrics_cg_t *cg, const cgroup_sys_t *sys, pid_t pid,
			const char *cgroup_file);
/* Reads what exists; *out->have says what. 0, or ERR_NOTFOUND when
 * nothing could be read (the group is gone). */
int metrics_cg_read(const metrics_cg_t *cg, metrics_cg_stat_t *out);

/* --------------------------------------------------------------- netns */

/* The counters of pid's network namespace, <proc_root>/PID/net/dev. */
int metrics_netdev_read(const char *proc_root, pid_t pid, bool include_lo,
			metrics_netdev_t *out);

#endif
