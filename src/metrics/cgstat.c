/*
 * cgstat.c: statistics of one cgroup, v2 or v1 per controller (see
 * collect.h). Which hierarchy serves which controller comes from
 * base/cgroup.h; a file that is missing (an old kernel, PSI off, a
 * controller not enabled) leaves its bit out of `have`.
 *
 *   v2  cpu.stat: usage_usec user_usec system_usec nr_periods
 *       nr_throttled throttled_usec; memory.current, memory.peak (5.19+);
 *       io.stat rbytes/wbytes; cpu/memory/io.pressure
 *   v1  cpuacct.usage (ns), cpuacct.stat user/system (USER_HZ);
 *       cpu.stat nr_periods nr_throttled throttled_time (ns);
 *       memory.usage_in_bytes, memory.max_usage_in_bytes;
 *       blkio.throttle.io_service_bytes (blkio.io_service_bytes when
 *       the throttle file is empty); *.pressure in the cpuacct group when
 *       the kernel exposes PSI to v1 (psi=1 cgroup1)
 */
#include "metrics/collect.h"
#include "metrics/metrics_int.h"

#include "base/err.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_FILE_MAX 65536 /* io.stat: ~120 bytes per device */

/* The version that serves ctrl, counting a v2 tree that lists no
 * controllers at its root as serving cpu (cpu.stat's usage fields exist
 * in every v2 group). */
static int version_of(const cgroup_sys_t *sys, cgroup_ctrl_t c)
{
	int v = cgroup_version_for(sys, c);
	if (v == 0 && sys->v2[0] && (c == CGROUP_CPU || c == CGROUP_CPUACCT))
		v = 2;
	return v;
}

int metrics_cg_open(metrics_cg_t *cg, const cgroup_sys_t *sys,
		    const char *group)
{
	metrics_cg_t out;
	memset(&out, 0, sizeof(out));
	bool any = false;
	if (!group || strcmp(group, "/") == 0)
		group = "";
	for (int c = 0; c < CGROUP__COUNT; c++) {
		int v = version_of(sys, (cgroup_ctrl_t)c);
		const char *mnt = v == 2 ? sys->v2 : v == 1 ? sys->v1[c] : "";
		if (!mnt[0])
			continue;
		int n = snprintf(out.dir[c], CGROUP_PATH_MAX, "%s%s%s", mnt,
				 group[0] && group[0] != '/' ? "/" : "",
				 group);
		if (n >= CGROUP_PATH_MAX)
			return ERR_TOOBIG;
		struct stat st;
		if (stat(out.dir[c], &st) != 0 || !S_ISDIR(st.st_mode)) {
			out.dir[c][0] = '\0';
			continue;
		}
		out.ver[c] = v;
		any = true;
	}
	if (!any)
		return ERR_NOTFOUND;
	*cg = out;
	return 0;
}

int metrics_cg_open_pid(metrics_cg_t *cg, const cgroup_sys_t *sys, pid_t pid,
			const char *cgroup_file)
{
	metrics_cg_t out;
	memset(&out, 0, sizeof(out));
	bool any = false;
	for (int c = 0; c < CGROUP__COUNT; c++) {
		int v = cgroup_version_for(sys, (cgroup_ctrl_t)c);
		if (v == 0)
			continue;
		if (cgroup_dir_of(sys, (cgroup_ctrl_t)c, pid, cgroup_file,
				  out.dir[c]) == 0) {
			out.ver[c] = v;
			any = true;
		}
	}
	if (!any)
		return ERR_NOTFOUND;
	*cg = out;
	return 0;
}

/* Reads dir/file into buf. */
static int rd(const char *dir, const char *file, char *buf, size_t cap,
	      size_t *len)
{
	char path[CGROUP_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return metrics__read_file(path, buf, cap, len);
}

static bool rd_u64(const char *dir, const char *file, uint64_t *out)
{
	char buf[64];
	size_t len;
	if (rd(dir, file, buf, sizeof(buf), &len))
		return false;
	const char *p = buf;
	if (len >= 3 && memcmp(buf, "max", 3) == 0) {
		*out = UINT64_MAX;
		return true;
	}
	return metrics__u64(&p, buf + len, out) == 0;
}

static bool rd_keyed(const char *buf, size_t len, const char *key,
		     uint64_t *out)
{
	const char *why;
	return metrics_parse_keyed(buf, len, key, out, &why) == 0;
}

static void read_psi(const char *dir, const char *file, metrics_psi_t *psi,
		     unsigned bit, unsigned *have)
{
	char buf[512];
	size_t len;
	const char *why;
	if (dir[0] && rd(dir, file, buf, sizeof(buf), &len) == 0 &&
	    metrics_parse_psi(buf, len, psi, &why) == 0)
		*have |= bit;
}

static void read_v2(const metrics_cg_t *cg, metrics_cg_stat_t *s, char *buf)
{
	size_t len;
	uint64_t v;
	const char *cpu = cg->dir[CGROUP_CPU][0] ? cg->dir[CGROUP_CPU]
						 : cg->dir[CGROUP_CPUACCT];
	if (cg->ver[CGROUP_CPU] == 2 || cg->ver[CGROUP_CPUACCT] == 2) {
		if (cpu[0] && rd(cpu, "cpu.stat", buf, CG_FILE_MAX, &len) == 0) {
			if (rd_keyed(buf, len, "usage_usec", &v)) {
				s->cpu_s = v * 1e-6;
				s->cpu_res_s = 1e-6;
				s->have |= METRICS_CG_HAVE_CPU;
			}
			if (rd_keyed(buf, len, "user_usec", &v))
				s->cpu_user_s = v * 1e-6;
			if (rd_keyed(buf, len, "system_usec", &v))
				s->cpu_system_s = v * 1e-6;
			uint64_t t;
			if (rd_keyed(buf, len, "nr_periods", &s->nr_periods) &&
			    rd_keyed(buf, len, "nr_throttled",
				     &s->nr_throttled) &&
			    rd_keyed(buf, len, "throttled_usec", &t)) {
				s->throttled_s = t * 1e-6;
				s->have |= METRICS_CG_HAVE_THROTTLE;
			}
		}
		read_psi(cpu, "cpu.pressure", &s->psi[0], METRICS_CG_HAVE_PSI_CPU,
			 &s->have);
	}
	const char *mem = cg->dir[CGROUP_MEMORY];
	if (cg->ver[CGROUP_MEMORY] == 2) {
		if (rd_u64(mem, "memory.current", &s->mem_current))
			s->have |= METRICS_CG_HAVE_MEM;
		if (rd_u64(mem, "memory.peak", &s->mem_peak))
			s->have |= METRICS_CG_HAVE_MEM_PEAK;
		read_psi(mem, "memory.pressure", &s->psi[1],
			 METRICS_CG_HAVE_PSI_MEM, &s->have);
	}
	const char *io = cg->dir[CGROUP_IO];
	if (cg->ver[CGROUP_IO] == 2) {
		const char *why;
		if (rd(io, "io.stat", buf, CG_FILE_MAX, &len) == 0 &&
		    metrics_parse_io_stat(buf, len, &s->io_read, &s->io_write,
					  &why) == 0)
			s->have |= METRICS_CG_HAVE_IO;
		read_psi(io, "io.pressure", &s->psi[2], METRICS_CG_HAVE_PSI_IO,
			 &s->have);
	}
}

static void read_v1(const metrics_cg_t *cg, metrics_cg_stat_t *s, char *buf)
{
	size_t len;
	uint64_t v;
	const char *acct = cg->dir[CGROUP_CPUACCT];
	if (cg->ver[CGROUP_CPUACCT] == 1) {
		if (rd_u64(acct, "cpuacct.usage", &v)) {
			s->cpu_s = v * 1e-9;
			s->cpu_res_s = 1e-9;
			s->have |= METRICS_CG_HAVE_CPU;
		}
		if (rd(acct, "cpuacct.stat", buf, CG_FILE_MAX, &len) == 0) {
			long hz = sysconf(_SC_CLK_TCK);
			double tick = 1.0 / (hz > 0 ? (double)hz : 100);
			if (rd_keyed(buf, len, "user", &v))
				s->cpu_user_s = v * tick;
			if (rd_keyed(buf, len, "system", &v))
				s->cpu_system_s = v * tick;
		}
		read_psi(acct, "cpu.pressure", &s->psi[0], METRICS_CG_HAVE_PSI_CPU,
			 &s->have);
		read_psi(acct, "memory.pressure", &s->psi[1],
			 METRICS_CG_HAVE_PSI_MEM, &s->have);
		read_psi(acct, "io.pressure", &s->psi[2], METRICS_CG_HAVE_PSI_IO,
			 &s->have);
	}
	const char *cpu = cg->dir[CGROUP_CPU];
	if (cg->ver[CGROUP_CPU] == 1 &&
	    rd(cpu, "cpu.stat", buf, CG_FILE_MAX, &len) == 0) {
		uint64_t t;
		if (rd_keyed(buf, len, "nr_periods", &s->nr_periods) &&
		    rd_keyed(buf, len, "nr_throttled", &s->nr_throttled) &&
		    rd_keyed(buf, len, "throttled_time", &t)) {
			s->throttled_s = t * 1e-9;
			s->have |= METRICS_CG_HAVE_THROTTLE;
		}
	}
	const char *mem = cg->dir[CGROUP_MEMORY];
	if (cg->ver[CGROUP_MEMORY] == 1) {
		if (rd_u64(mem, "memory.usage_in_bytes", &s->mem_current))
			s->have |= METRICS_CG_HAVE_MEM;
		if (rd_u64(mem, "memory.max_usage_in_bytes", &s->mem_peak))
			s->have |= METRICS_CG_HAVE_MEM_PEAK;
	}
	const char *io = cg->dir[CGROUP_IO];
	if (cg->ver[CGROUP_IO] == 1) {
		const char *why;
		/* on blk-mq kernels only the throttle file counts; older
		 * CFQ ones fill both */
		static const char *const files[] = {
			"blkio.throttle.io_service_bytes",
			"blkio.io_service_bytes"};
		for (int i = 0; i < 2; i++) {
			uint64_t r, w;
			if (rd(io, files[i], buf, CG_FILE_MAX, &len) == 0 &&
			    metrics_parse_blkio(buf, len, &r, &w, &why) == 0 &&
			    (r || w || i == 1)) {
				s->io_read = r;
				s->io_write = w;
				s->have |= METRICS_CG_HAVE_IO;
				break;
			}
		}
	}
}

int metrics_cg_read(const metrics_cg_t *cg, metrics_cg_stat_t *out)
{
	static _Thread_local char buf[CG_FILE_MAX];
	memset(out, 0, sizeof(*out));
	read_v2(cg, out, buf);
	read_v1(cg, out, buf);
	return out->have ? 0 : ERR_NOTFOUND;
}

int metrics_netdev_read(const char *proc_root, pid_t pid, bool include_lo,
			metrics_netdev_t *out)
{
	static _Thread_local char buf[METRICS_NETDEV_MAX];
	char path[PATH_MAX];
	size_t len;
	snprintf(path, sizeof(path), "%s/%d/net/dev",
		 proc_root ? proc_root : "/proc", (int)pid);
	int rc = metrics__read_file(path, buf, sizeof(buf), &len);
	if (rc)
		return rc;
	const char *why;
	return metrics_parse_netdev(buf, len, include_lo, out, &why);
}
