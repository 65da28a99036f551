/*
 * limits.c: cgroups for each side and replica, and the limits in them.
 *
 * Layout, in every hierarchy that serves a controller we use (one v2 tree,
 * or the v1 "cpu" and "memory" hierarchies, found at run time through
 * base/cgroup.h):
 *
 *   <base>/umbra-<service>/<side>/             side total (ratio applies)
 *   <base>/umbra-<service>/<side>/replica-<i>/ one replica's processes
 *
 * <base> is production.cgroup_parent below the hierarchy root, or by
 * default umbra's own group there. The files: v2 cpu.max ("QUOTA PERIOD"),
 * memory.max; v1 cpu.cfs_quota_us (with cpu.cfs_period_us),
 * memory.limit_in_bytes. A v2 tree without controllers (a hybrid host)
 * still tracks processes, so stragglers that left the process group are
 * found and killed.
 */
#include "provision/prov_int.h"

#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROV_MEM_FLOOR (4u << 20) /* below 4 MiB nothing execs at all */
/* v1 reads "unlimited" as PAGE_COUNTER_MAX pages (~2^63 bytes). */
#define PROV_MEM_NONE_FROM (1ULL << 62)

/* ------------------------------------------------------------ math */

void prov_limits_share(prov_limits_t pr, int pn, double ratio, uint64_t mem_min,
		       int sn, prov_limits_t side[PROV_SIDES],
		       prov_limits_t replica[PROV_SIDES])
{
	if (pn < 1)
		pn = 1;
	if (sn < 1)
		sn = 1;
	replica[PROV_PRODUCTION] = pr;
	side[PROV_PRODUCTION].cpu = pr.cpu * pn;
	side[PROV_PRODUCTION].mem = pr.mem > UINT64_MAX / (uint64_t)pn
					? UINT64_MAX
					: pr.mem * (uint64_t)pn;
	prov_limits_t s = {0, 0};
	if (pr.cpu > 0) {
		s.cpu = side[PROV_PRODUCTION].cpu * ratio;
		double min =
		    (double)PROV_CPU_MIN_QUOTA_US * sn / PROV_CPU_PERIOD_US;
		if (s.cpu < min)
			s.cpu = min;
	}
	if (pr.mem > 0) {
		long double m = (long double)side[PROV_PRODUCTION].mem * ratio;
		s.mem = m >= (long double)UINT64_MAX ? UINT64_MAX : (uint64_t)m;
		if (s.mem < mem_min)
			s.mem = mem_min;
		if (s.mem < (uint64_t)PROV_MEM_FLOOR * (uint64_t)sn)
			s.mem = (uint64_t)PROV_MEM_FLOOR * (uint64_t)sn;
	}
	side[PROV_SHADOW] = s;
	replica[PROV_SHADOW].cpu = s.cpu / sn;
	replica[PROV_SHADOW].mem = s.mem / (uint64_t)sn;
	/* The baseline runs in the shadow's conditions: the same total, in
	 * its one replica. */
	side[PROV_BASELINE] = s;
	replica[PROV_BASELINE] = s;
}

int64_t prov_cpu_quota_us(double cores, int64_t period_us)
{
	if (cores <= 0)
		return -1;
	double q = cores * (double)period_us;
	if (q > 1e15)
		q = 1e15;
	int64_t v = (int64_t)llround(q);
	return v < PROV_CPU_MIN_QUOTA_US ? PROV_CPU_MIN_QUOTA_US : v;
}

void prov_cpu_max_text(double cores, int64_t period_us, char out[48])
{
	int64_t q = prov_cpu_quota_us(cores, period_us);
	if (q < 0)
		snprintf(out, 48, "max %lld", (long long)period_us);
	else
		snprintf(out, 48, "%lld %lld", (long long)q,
			 (long long)period_us);
}

int prov_cpu_max_parse(const char *text, double *cores)
{
	char q[32];
	long long period;
	if (sscanf(text, "%31s %lld", q, &period) != 2 || period <= 0)
		return ERR_PARSE;
	if (!strcmp(q, "max")) {
		*cores = 0;
		return 0;
	}
	char *end;
	long long quota = strtoll(q, &end, 10);
	if (*end || quota <= 0)
		return ERR_PARSE;
	*cores = (double)quota / (double)period;
	return 0;
}

double prov_cpu_from_quota(int64_t quota_us, int64_t period_us)
{
	if (quota_us <= 0 || period_us <= 0)
		return 0;
	return (double)quota_us / (double)period_us;
}

uint64_t prov_mem_from_limit(uint64_t v)
{
	return v >= PROV_MEM_NONE_FROM ? 0 : v;
}

/* ------------------------------------------------------------ files */

static int write_text(const char *dir, const char *file, const char *text)
{
	char path[CGROUP_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int rc = n == (ssize_t)strlen(text) ? 0 : (n < 0 ? -errno : ERR_EOF);
	close(fd);
	return rc;
}

static int read_text(const char *dir, const char *file, char *out, size_t n)
{
	char path[CGROUP_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	int rc = fgets(out, (int)n, f) ? 0 : ERR_EOF;
	fclose(f);
	return rc;
}

int prov__cg_write_limits(const char *cpu_dir, int cpu_ver, const char *mem_dir,
			  int mem_ver, prov_limits_t l, buf_t *err)
{
	char v[48];
	int rc = 0;
	if (cpu_dir && cpu_dir[0] && cpu_ver == 2) {
		prov_cpu_max_text(l.cpu, PROV_CPU_PERIOD_US, v);
		rc = write_text(cpu_dir, "cpu.max", v);
		if (rc)
			buf_printf(err, "cannot write %s/cpu.max (%s): %s",
				   cpu_dir, v, err_str(rc));
	} else if (cpu_dir && cpu_dir[0] && cpu_ver == 1) {
		snprintf(v, sizeof(v), "%d", PROV_CPU_PERIOD_US);
		rc = write_text(cpu_dir, "cpu.cfs_period_us", v);
		if (!rc) {
			snprintf(v, sizeof(v), "%lld",
				 (long long)prov_cpu_quota_us(
				     l.cpu, PROV_CPU_PERIOD_US));
			rc = write_text(cpu_dir, "cpu.cfs_quota_us", v);
		}
		if (rc)
			buf_printf(err,
				   "cannot write %s/cpu.cfs_quota_us (%s): %s",
				   cpu_dir, v, err_str(rc));
	}
	if (rc)
		return rc;
	if (mem_dir && mem_dir[0] && mem_ver) {
		const char *file =
		    mem_ver == 2 ? "memory.max" : "memory.limit_in_bytes";
		if (l.mem)
			snprintf(v, sizeof(v), "%llu",
				 (unsigned long long)l.mem);
		else
			snprintf(v, sizeof(v), "%s",
				 mem_ver == 2 ? "max" : "-1");
		rc = write_text(mem_dir, file, v);
		if (rc)
			buf_printf(err, "cannot write %s/%s (%s): %s%s",
				   mem_dir, file, v, err_str(rc),
				   rc == -EBUSY ? " (the group already uses "
						  "more than that)"
						: "");
	}
	return rc;
}

int prov__cg_read_limits(const char *cpu_dir, int cpu_ver, const char *mem_dir,
			 int mem_ver, prov_limits_t *l)
{
	l->cpu = 0;
	l->mem = 0;
	char t[64];
	int rc = 0;
	if (cpu_dir && cpu_dir[0] && cpu_ver == 2) {
		rc = read_text(cpu_dir, "cpu.max", t, sizeof(t));
		if (!rc)
			rc = prov_cpu_max_parse(t, &l->cpu);
	} else if (cpu_dir && cpu_dir[0] && cpu_ver == 1) {
		uint64_t period;
		rc = read_text(cpu_dir, "cpu.cfs_quota_us", t, sizeof(t));
		if (!rc)
			rc = cgroup_read_u64(cpu_dir, "cpu.cfs_period_us",
					     &period);
		if (!rc)
			l->cpu = prov_cpu_from_quota(strtoll(t, NULL, 10),
						     (int64_t)period);
	}
	if (rc)
		return rc;
	if (mem_dir && mem_dir[0] && mem_ver) {
		uint64_t v;
		rc = cgroup_read_u64(
		    mem_dir,
		    mem_ver == 2 ? "memory.max" : "memory.limit_in_bytes", &v);
		if (!rc)
			l->mem = prov_mem_from_limit(v);
	}
	return rc;
}

/* ------------------------------------------------------------ groups */

/* The mount point serving ctrl (v2 tree or v1 hierarchy), "" if none. */
static const char *mount_of(const cgroup_sys_t *sys, int ver, cgroup_ctrl_t c)
{
	return ver == 2 ? sys->v2 : ver == 1 ? sys->v1[c] : "";
}

/* <base>/umbra-<service>/<side> in the hierarchy at mount; own: umbra's
 * own group there. */
static int side_dir(const char *mount, const char *own, const char *parent,
		    const char *service, prov_side_t side, char *out)
{
	const char *base = own;
	char tmp[CGROUP_PATH_MAX];
	if (parent[0]) {
		snprintf(tmp, sizeof(tmp), "%s/%s", mount,
			 parent[0] == '/' ? parent + 1 : parent);
		base = tmp;
	}
	int n = snprintf(out, CGROUP_PATH_MAX, "%s/umbra-%s/%s", base, service,
			 prov_side_name(side));
	return n < CGROUP_PATH_MAX ? 0 : ERR_TOOBIG;
}

/* Enables cpu and memory (those the tree has) for the children of every
 * group from the service dir down to the side dir, in a v2 tree. When
 * the first level refuses (EBUSY: umbra's own group holds processes, the
 * "no internal processes" rule), umbra moves itself into a leaf of its
 * own group, as systemd recommends for delegated groups, and retries. */
static int v2_delegate(const cgroup_sys_t *sys, const char *side, buf_t *err)
{
	char ctl[64] = "";
	if (sys->v2_has[CGROUP_CPU])
		strcat(ctl, "+cpu ");
	if (sys->v2_has[CGROUP_MEMORY])
		strcat(ctl, "+memory");
	if (!ctl[0])
		return 0;
	char svc[CGROUP_PATH_MAX], base[CGROUP_PATH_MAX];
	snprintf(svc, sizeof(svc), "%s", side);
	*strrchr(svc, '/') = '\0';
	snprintf(base, sizeof(base), "%s", svc);
	*strrchr(base, '/') = '\0';
	int rc = write_text(base, "cgroup.subtree_control", ctl);
	if (rc == -EBUSY) {
		char leaf[CGROUP_PATH_MAX + 32], pid[24];
		snprintf(leaf, sizeof(leaf), "%s/umbra-supervisor", base);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if ((mkdir(leaf, 0755) == 0 || errno == EEXIST) &&
		    write_text(leaf, "cgroup.procs", pid) == 0) {
			log_info("provision",
				 "moved umbra into a leaf of its own cgroup so "
				 "that its children can have limits (cgroup v2 "
				 "has no processes in inner groups)",
				 LF_S("cgroup", leaf));
			rc = write_text(base, "cgroup.subtree_control", ctl);
		}
	}
	if (!rc)
		rc = write_text(svc, "cgroup.subtree_control", ctl);
	if (!rc)
		rc = write_text(side, "cgroup.subtree_control", ctl);
	if (rc)
		buf_printf(err,
			   "cgroup v2: cannot enable %s for umbra's groups "
			   "under %s: %s (umbra's own group holds other "
			   "processes; set production.cgroup_parent to a group "
			   "of its own, e.g. /umbra)",
			   ctl, base, err_str(rc));
	return rc;
}

int prov__cg_setup(prov_cg_t *cg, const cgroup_sys_t *sys, const char *parent,
		   const char *service, prov_side_t side, bool need_limits,
		   bool create, buf_t *err)
{
	memset(cg, 0, sizeof(*cg));
	const cgroup_ctrl_t used[] = {CGROUP_CPU, CGROUP_MEMORY};
	const char *what[] = {"cpu", "memory"};
	for (int k = 0; k < 2; k++) {
		cgroup_ctrl_t c = used[k];
		int ver = cgroup_version_for(sys, c);
		if (!ver) {
			if (need_limits) {
				buf_printf(
				    err,
				    "limits are configured but this host "
				    "has no %s cgroup controller (neither "
				    "a cgroup v2 tree with it nor a v1 "
				    "hierarchy)",
				    what[k]);
				return ERR_UNSUPPORTED;
			}
			continue;
		}
		char own[CGROUP_PATH_MAX];
		int rc = ver == 2 ? cgroup_v2_dir_of(sys, getpid(), NULL, own)
				  : cgroup_dir_of(sys, c, getpid(), NULL, own);
		if (!rc)
			rc = side_dir(mount_of(sys, ver, c), own, parent,
				      service, side, cg->side[c]);
		if (!rc && create)
			rc = fs_mkdirs(cg->side[c], 0755);
		if (!rc && !create && access(cg->side[c], F_OK))
			rc = -errno;
		if (!rc && create && ver == 2)
			rc = v2_delegate(sys, cg->side[c], err);
		if (rc) {
			if (need_limits) {
				if (!err->len)
					buf_printf(err,
						   "limits are configured but "
						   "the %s cgroup %s is not "
						   "writable: %s (umbra needs "
						   "root or a delegated "
						   "cgroup)",
						   what[k], cg->side[c],
						   err_str(rc));
				return rc;
			}
			log_debug("provision", "cgroup not usable",
				  LF_S("dir", cg->side[c]), LF_ERR("err", rc));
			buf_reset(err);
			cg->side[c][0] = '\0';
			continue;
		}
		cg->ver[c] = ver;
		cg->on = true;
	}
	/* Tracking: the v2 tree (even without controllers), else the
	 * first v1 hierarchy in use. */
	char own[CGROUP_PATH_MAX];
	if (sys->v2[0] && cgroup_v2_dir_of(sys, getpid(), NULL, own) == 0 &&
	    side_dir(sys->v2, own, parent, service, side, cg->track) == 0 &&
	    (create ? fs_mkdirs(cg->track, 0755) : access(cg->track, F_OK)) == 0) {
		cg->on = true;
		return 0;
	}
	cg->track[0] = '\0';
	snprintf(cg->track, sizeof(cg->track), "%s",
		 cg->side[CGROUP_CPU][0] ? cg->side[CGROUP_CPU]
					 : cg->side[CGROUP_MEMORY]);
	return 0;
}

/* The distinct side dirs of cg (cpu, memory, tracking), n set. */
static int distinct_dirs(const prov_cg_t *cg, const char *out[3])
{
	const char *all[3] = {cg->side[CGROUP_CPU], cg->side[CGROUP_MEMORY],
			      cg->track};
	int n = 0;
	for (int i = 0; i < 3; i++) {
		if (!all[i][0])
			continue;
		bool dup = false;
		for (int j = 0; j < n; j++)
			dup |= !strcmp(out[j], all[i]);
		if (!dup)
			out[n++] = all[i];
	}
	return n;
}

int prov__cg_replica(const prov_cg_t *cg, int i,
		     char paths[PROV_CG_MAX_PROCS_FILES][CGROUP_PATH_MAX + 64],
		     int *n, buf_t *err)
{
	const char *dirs[3];
	int nd = distinct_dirs(cg, dirs);
	*n = 0;
	for (int k = 0; k < nd; k++) {
		char d[CGROUP_PATH_MAX + 32];
		snprintf(d, sizeof(d), "%s/replica-%d", dirs[k], i);
		if (mkdir(d, 0755) && errno != EEXIST) {
			int e = -errno;
			buf_printf(err, "cannot create cgroup %s: %s", d,
				   err_str(e));
			return e;
		}
		snprintf(paths[(*n)++], CGROUP_PATH_MAX + 64, "%s/cgroup.procs",
			 d);
	}
	return 0;
}

int prov__cg_v1_lift_children(const prov_cg_t *cg, buf_t *err)
{
	const char *dir = cg->side[CGROUP_CPU];
	if (cg->ver[CGROUP_CPU] != 1 || !dir[0])
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0; /* no group yet: no children */
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		if (strncmp(e->d_name, "replica-", 8))
			continue;
		char sub[CGROUP_PATH_MAX + 300];
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		rc = write_text(sub, "cpu.cfs_quota_us", "-1");
		if (rc == -ENOENT) /* removed meanwhile */
			rc = 0;
		if (rc)
			buf_printf(err,
				   "cannot lift %s/cpu.cfs_quota_us (-1) before "
				   "setting the side's quota: %s",
				   sub, err_str(rc));
	}
	closedir(d);
	return rc;
}

int prov__cg_limit(const prov_cg_t *cg, int replica, prov_limits_t l,
		   buf_t *err)
{
	char cpu[CGROUP_PATH_MAX + 32] = "", mem[CGROUP_PATH_MAX + 32] = "";
	if (cg->side[CGROUP_CPU][0])
		snprintf(cpu, sizeof(cpu), "%s%s", cg->side[CGROUP_CPU],
			 replica >= 0 ? "/replica-" : "");
	if (cg->side[CGROUP_MEMORY][0])
		snprintf(mem, sizeof(mem), "%s%s", cg->side[CGROUP_MEMORY],
			 replica >= 0 ? "/replica-" : "");
	if (replica >= 0) {
		char num[16];
		snprintf(num, sizeof(num), "%d", replica);
		if (cpu[0])
			strncat(cpu, num, sizeof(cpu) - strlen(cpu) - 1);
		if (mem[0])
			strncat(mem, num, sizeof(mem) - strlen(mem) - 1);
	}
	return prov__cg_write_limits(cpu, cg->ver[CGROUP_CPU], mem,
				     cg->ver[CGROUP_MEMORY], l, err);
}

/* Appends the pids listed in dir/cgroup.procs. */
static size_t read_procs(const char *dir, int *pids, size_t n, size_t max)
{
	char path[CGROUP_PATH_MAX + 48];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return n;
	int pid;
	while (n < max && fscanf(f, "%d", &pid) == 1)
		pids[n++] = pid;
	fclose(f);
	return n;
}

size_t prov__cg_pids(const prov_cg_t *cg, int replica, int *pids, size_t max)
{
	if (!cg->track[0])
		return 0;
	if (replica >= 0) {
		char d[CGROUP_PATH_MAX + 32];
		snprintf(d, sizeof(d), "%s/replica-%d", cg->track, replica);
		return read_procs(d, pids, 0, max);
	}
	size_t n = read_procs(cg->track, pids, 0, max);
	DIR *dir = opendir(cg->track);
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		if (strncmp(e->d_name, "replica-", 8))
			continue;
		char d[CGROUP_PATH_MAX + 300];
		snprintf(d, sizeof(d), "%s/%s", cg->track, e->d_name);
		n = read_procs(d, pids, n, max);
	}
	if (dir)
		closedir(dir);
	return n;
}

void prov__cg_remove(const prov_cg_t *cg, int replica)
{
	const char *dirs[3];
	int nd = distinct_dirs(cg, dirs);
	for (int k = 0; k < nd; k++) {
		if (replica >= 0) {
			char d[CGROUP_PATH_MAX + 32];
			snprintf(d, sizeof(d), "%s/replica-%d", dirs[k],
				 replica);
			rmdir(d);
			continue;
		}
		DIR *dir = opendir(dirs[k]);
		struct dirent *e;
		while (dir && (e = readdir(dir))) {
			if (strncmp(e->d_name, "replica-", 8))
				continue;
			char d[CGROUP_PATH_MAX + 300];
			snprintf(d, sizeof(d), "%s/%s", dirs[k], e->d_name);
			rmdir(d);
		}
		if (dir)
			closedir(dir);
		rmdir(dirs[k]);
		char svc[CGROUP_PATH_MAX];
		snprintf(svc, sizeof(svc), "%s", dirs[k]);
		char *slash = strrchr(svc, '/');
		if (slash) {
			*slash = '\0';
			rmdir(svc); /* fails while the other side is there */
		}
	}
}
