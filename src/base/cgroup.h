/*
 * cgroup.h: where the cgroup controllers live on this host, v1 or v2 or
 * both (a "hybrid" host mounts v1 controllers and an empty v2 tree, as
 * this development machine does). Discovery only: reading
 * /proc/self/mountinfo and /proc/PID/cgroup. Creating groups and setting
 * limits is provision's; reading statistics is metrics'. Both start here so
 * they agree on which file means what.
 */
#ifndef UMBRA_BASE_CGROUP_H
#define UMBRA_BASE_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CGROUP_PATH_MAX 512

typedef enum cgroup_ctrl {
	CGROUP_CPU,    /* v1 "cpu" (quota) / v2 cpu.max, cpu.stat */
	CGROUP_CPUACCT,/* v1 only: cpuacct.usage */
	CGROUP_MEMORY,
	CGROUP_IO,     /* v1 "blkio" / v2 io */
	CGROUP_PIDS,
	CGROUP__COUNT
} cgroup_ctrl_t;

typedef struct cgroup_sys {
	/* Mount point of the v2 tree, "" if none. */
	char v2[CGROUP_PATH_MAX];
	/* Controllers enabled at the v2 root (cgroup.controllers). */
	bool v2_has[CGROUP__COUNT];
	/* Mount point of each v1 controller hierarchy, "" if not mounted. */
	char v1[CGROUP__COUNT][CGROUP_PATH_MAX];
} cgroup_sys_t;

/* Reads mountinfo (NULL: /proc/self/mountinfo) and the v2 root's
 * cgroup.controllers. 0 or a negative errno. Tests pass fixture files. */
int cgroup_discover(cgroup_sys_t *sys, const char *mountinfo);

/* The version that serves ctrl: 2 when the v2 tree has it, 1 when a v1
 * hierarchy has it, 0 when neither (then no limits and no statistics). */
int cgroup_version_for(const cgroup_sys_t *sys, cgroup_ctrl_t ctrl);

/* The directory of pid's group for ctrl ("/sys/fs/cgroup/memory/a/b"),
 * from /proc/PID/cgroup (cgroup_file: NULL for the real one). 0, or a
 * negative error when the controller is not available. */
int cgroup_dir_of(const cgroup_sys_t *sys, cgroup_ctrl_t ctrl, pid_t pid,
		  const char *cgroup_file, char out[CGROUP_PATH_MAX]);

/* The directory of pid's group in the v2 tree ("0::/path"), whether or
 * not that tree has controllers: v2 groups can still hold and list (and
 * kill) processes. 0, ERR_NOTFOUND when there is no v2 tree, or a
 * negative errno. */
int cgroup_v2_dir_of(const cgroup_sys_t *sys, pid_t pid,
		     const char *cgroup_file, char out[CGROUP_PATH_MAX]);

/* Reads a single unsigned integer ("max" reads as UINT64_MAX) from
 * dir/file. 0 or a negative error. */
int cgroup_read_u64(const char *dir, const char *file, uint64_t *out);

/* The value of "key N" in a flat keyed file (cpu.stat, memory.stat).
 * 0, ERR_NOTFOUND, or a negative errno. */
int cgroup_read_key(const char *dir, const char *file, const char *key,
		    uint64_t *out);

#endif
