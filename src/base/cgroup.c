/*
 * cgroup.c: controller discovery (see cgroup.h). mountinfo lines are
 *   ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SRC SUPER
 * and a v1 hierarchy's super options name its controllers ("rw,cpu").
 */
#include "base/cgroup.h"

#include "base/err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const v1_names[CGROUP__COUNT] = {"cpu", "cpuacct",
						    "memory", "blkio", "pids"};
static const char *const v2_names[CGROUP__COUNT] = {"cpu", "cpu", "memory",
						    "io", "pids"};

/* True when comma-separated list has word. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; p && *p;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l == n && strncmp(p, word, n) == 0)
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

int cgroup_discover(cgroup_sys_t *sys, const char *mountinfo)
{
	memset(sys, 0, sizeof(*sys));
	FILE *f = fopen(mountinfo ? mountinfo : "/proc/self/mountinfo", "r");
	if (!f)
		return -errno;
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		char mnt[CGROUP_PATH_MAX], fstype[64], super[1024];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s %*s %1023s", fstype, super) != 2)
			continue;
		if (strcmp(fstype, "cgroup2") == 0) {
			snprintf(sys->v2, sizeof(sys->v2), "%s", mnt);
		} else if (strcmp(fstype, "cgroup") == 0) {
			for (int c = 0; c < CGROUP__COUNT; c++)
				if (has_word(super, v1_names[c]))
					snprintf(sys->v1[c], sizeof(sys->v1[c]),
						 "%s", mnt);
		}
	}
	fclose(f);
	if (sys->v2[0]) {
		char path[CGROUP_PATH_MAX + 32], ctl[1024] = "";
		snprintf(path, sizeof(path), "%s/cgroup.controllers", sys->v2);
		FILE *c = fopen(path, "r");
		if (c) {
			if (!fgets(ctl, sizeof(ctl), c))
				ctl[0] = '\0';
			fclose(c);
		}
		for (char *tok = strtok(ctl, " \n"); tok;
		     tok = strtok(NULL, " \n"))
			for (int i = 0; i < CGROUP__COUNT; i++)
				if (strcmp(tok, v2_names[i]) == 0)
					sys->v2_has[i] = true;
	}
	return 0;
}

int cgroup_version_for(const cgroup_sys_t *sys, cgroup_ctrl_t ctrl)
{
	if (sys->v2[0] && sys->v2_has[ctrl])
		return 2;
	if (sys->v1[ctrl][0])
		return 1;
	return 0;
}

int cgroup_dir_of(const cgroup_sys_t *sys, cgroup_ctrl_t ctrl, pid_t pid,
		  const char *cgroup_file, char out[CGROUP_PATH_MAX])
{
	int ver = cgroup_version_for(sys, ctrl);
	if (ver == 0)
		return ERR_NOTFOUND;
	char path[64];
	if (!cgroup_file) {
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
		cgroup_file = path;
	}
	FILE *f = fopen(cgroup_file, "r");
	if (!f)
		return -errno;
	char line[4096];
	int rc = ERR_NOTFOUND;
	while (fgets(line, sizeof(line), f)) {
		/* "N:controllers:/path" ; v2 is "0::/path" */
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		if (!b)
			continue;
		*b = '\0';
		char *rel = b + 1;
		rel[strcspn(rel, "\n")] = '\0';
		bool hit = ver == 2 ? a[1] == '\0'
				    : has_word(a + 1, v1_names[ctrl]);
		if (!hit)
			continue;
		const char *mnt = ver == 2 ? sys->v2 : sys->v1[ctrl];
		int n = snprintf(out, CGROUP_PATH_MAX, "%s%s", mnt,
				 strcmp(rel, "/") == 0 ? "" : rel);
		rc = n < CGROUP_PATH_MAX ? 0 : ERR_TOOBIG;
		break;
	}
	fclose(f);
	return rc;
}

int cgroup_v2_dir_of(const cgroup_sys_t *sys, pid_t pid,
		     const char *cgroup_file, char out[CGROUP_PATH_MAX])
{
	if (!sys->v2[0])
		return ERR_NOTFOUND;
	char path[64];
	if (!cgroup_file) {
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
		cgroup_file = path;
	}
	FILE *f = fopen(cgroup_file, "r");
	if (!f)
		return -errno;
	char line[4096];
	int rc = ERR_NOTFOUND;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		char *rel = line + 3;
		rel[strcspn(rel, "\n")] = '\0';
		int n = snprintf(out, CGROUP_PATH_MAX, "%s%s", sys->v2,
				 strcmp(rel, "/") == 0 ? "" : rel);
		rc = n < CGROUP_PATH_MAX ? 0 : ERR_TOOBIG;
		break;
	}
	fclose(f);
	return rc;
}

int cgroup_read_u64(const char *dir, const char *file, uint64_t *out)
{
	char path[CGROUP_PATH_MAX + 64], buf[64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	int rc = fgets(buf, sizeof(buf), f) ? 0 : ERR_EOF;
	fclose(f);
	if (rc)
		return rc;
	if (strncmp(buf, "max", 3) == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (end == buf || errno)
		return ERR_PARSE;
	*out = v;
	return 0;
}

int cgroup_read_key(const char *dir, const char *file, const char *key,
		    uint64_t *out)
{
	char path[CGROUP_PATH_MAX + 64], line[256];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	size_t kl = strlen(key);
	int rc = ERR_NOTFOUND;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			*out = strtoull(line + kl + 1, NULL, 10);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}
