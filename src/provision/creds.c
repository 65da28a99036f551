/*
 * creds.c: who a service process runs as and what it may do. The parent
 * resolves a side's user, group, supplementary groups, home and granted
 * capabilities once, when the spec is built (NSS lookups are neither
 * async-signal-safe nor cheap); the forked child applies them just
 * before exec with raw system calls only (umbra has threads): the
 * capability bounding set emptied of everything not granted, the groups
 * and ids switched, granted capabilities kept as ambient ones for a
 * non-root user, and PR_SET_NO_NEW_PRIVS, so that no setuid binary or
 * file capability gives the service back what was taken (systemd's
 * User=, CapabilityBoundingSet=, AmbientCapabilities=,
 * NoNewPrivileges=). It also owns the clean environment a service gets
 * (PROV_ENV_ALLOW) and the handing of the shadow's files to its user.
 */
#include "provision/prov_int.h"

#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------ capabilities */

static const struct {
	const char *name;
	int cap;
} cap_names[] = {
    {"chown", CAP_CHOWN},
    {"dac_override", CAP_DAC_OVERRIDE},
    {"dac_read_search", CAP_DAC_READ_SEARCH},
    {"fowner", CAP_FOWNER},
    {"fsetid", CAP_FSETID},
    {"kill", CAP_KILL},
    {"setgid", CAP_SETGID},
    {"setuid", CAP_SETUID},
    {"setpcap", CAP_SETPCAP},
    {"linux_immutable", CAP_LINUX_IMMUTABLE},
    {"net_bind_service", CAP_NET_BIND_SERVICE},
    {"net_broadcast", CAP_NET_BROADCAST},
    {"net_admin", CAP_NET_ADMIN},
    {"net_raw", CAP_NET_RAW},
    {"ipc_lock", CAP_IPC_LOCK},
    {"ipc_owner", CAP_IPC_OWNER},
    {"sys_module", CAP_SYS_MODULE},
    {"sys_rawio", CAP_SYS_RAWIO},
    {"sys_chroot", CAP_SYS_CHROOT},
    {"sys_ptrace", CAP_SYS_PTRACE},
    {"sys_pacct", CAP_SYS_PACCT},
    {"sys_admin", CAP_SYS_ADMIN},
    {"sys_boot", CAP_SYS_BOOT},
    {"sys_nice", CAP_SYS_NICE},
    {"sys_resource", CAP_SYS_RESOURCE},
    {"sys_time", CAP_SYS_TIME},
    {"sys_tty_config", CAP_SYS_TTY_CONFIG},
    {"mknod", CAP_MKNOD},
    {"lease", CAP_LEASE},
    {"audit_write", CAP_AUDIT_WRITE},
    {"audit_control", CAP_AUDIT_CONTROL},
    {"setfcap", CAP_SETFCAP},
    {"mac_override", CAP_MAC_OVERRIDE},
    {"mac_admin", CAP_MAC_ADMIN},
    {"syslog", CAP_SYSLOG},
    {"wake_alarm", CAP_WAKE_ALARM},
    {"block_suspend", CAP_BLOCK_SUSPEND},
    {"audit_read", CAP_AUDIT_READ},
    {"perfmon", CAP_PERFMON},
    {"bpf", CAP_BPF},
    {"checkpoint_restore", CAP_CHECKPOINT_RESTORE},
};

int prov_cap_parse(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(*cap_names); i++)
		if (!strcasecmp(cap_names[i].name, name))
			return cap_names[i].cap;
	return -1;
}

/* ------------------------------------------------------------ resolving */

void prov__creds_free(prov_creds_t *c)
{
	free(c->user);
	free(c->home);
	free(c->groups);
	memset(c, 0, sizeof(*c));
}

/* A whole decimal id, or -1. */
static long id_number(const char *s)
{
	if (!*s || strlen(s) > 10)
		return -1;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	long v = strtol(s, NULL, 10);
	return v >= 0 && v < 0x7fffffffL ? v : -1;
}

/* Whether umbra may switch ids and hand files over: root with
 * CAP_SETUID, CAP_SETGID and CAP_CHOWN effective (a root whose
 * capabilities were taken, as under setpriv, may not). */
static bool privileged(void)
{
	if (geteuid() != 0)
		return false;
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return false;
	uint32_t need = 1U << CAP_SETUID | 1U << CAP_SETGID | 1U << CAP_CHOWN;
	return (d[0].effective & need) == need;
}

int prov__creds_build(const char *field, const char *user, const char *group,
		      const config_strv_t *caps, bool shadow_default,
		      prov_creds_t *out, buf_t *err)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; caps && i < caps->n; i++) {
		int c = prov_cap_parse(caps->v[i]);
		if (c < 0) {
			buf_printf(err,
				   "%s.capabilities: unknown capability \"%s\" "
				   "(e.g. CAP_NET_BIND_SERVICE)",
				   field, caps->v[i]);
			return ERR_CONFIG;
		}
		out->caps |= 1ULL << c;
	}
	bool root = privileged();
	if (!user[0] && shadow_default && !root && geteuid() == 0)
		log_warn("provision",
			 "umbra runs as root without CAP_SETUID, CAP_SETGID "
			 "and CAP_CHOWN: the shadow runs as root too",
			 LF_S("field", field));
	if (!user[0] && shadow_default && root) {
		/* Never root: the dedicated user scripts/deps.sh makes, or
		 * nobody on a host without it. */
		user = getpwnam(PROV_SHADOW_USER) ? PROV_SHADOW_USER
						  : PROV_SHADOW_FALLBACK;
		if (!strcmp(user, PROV_SHADOW_FALLBACK))
			log_warn("provision",
				 "no user " PROV_SHADOW_USER " on this host: "
				 "the shadow runs as " PROV_SHADOW_FALLBACK
				 "; run scripts/deps.sh or set shadow.user",
				 LF_S("field", field));
	}
	if (!user[0] && group[0]) {
		buf_printf(err, "%s.group: set %s.user too", field, field);
		return ERR_CONFIG;
	}
	if (!user[0])
		return 0; /* umbra's own user */
	struct passwd *pw = getpwnam(user);
	long num = id_number(user);
	if (!pw && num >= 0)
		pw = getpwuid((uid_t)num);
	if (!pw && num < 0) {
		buf_printf(err, "%s.user: no user \"%s\" on this host", field,
			   user);
		return ERR_CONFIG;
	}
	out->uid = pw ? pw->pw_uid : (uid_t)num;
	out->gid = pw ? pw->pw_gid : (gid_t)num;
	out->user = xstrdup(pw ? pw->pw_name : user);
	out->home = xstrdup(pw && pw->pw_dir[0] ? pw->pw_dir : "/");
	if (group[0]) {
		struct group *gr = getgrnam(group);
		long gnum = id_number(group);
		if (!gr && gnum < 0) {
			buf_printf(err, "%s.group: no group \"%s\" on this host",
				   field, group);
			prov__creds_free(out);
			return ERR_CONFIG;
		}
		out->gid = gr ? gr->gr_gid : (gid_t)gnum;
	}
	if (!root && out->uid != geteuid()) {
		buf_printf(err,
			   "%s.user: running the %s as \"%s\" needs umbra to "
			   "run as root with CAP_SETUID, CAP_SETGID and "
			   "CAP_CHOWN (it runs as uid %u)",
			   field, field, out->user, (unsigned)geteuid());
		prov__creds_free(out);
		return ERR_CONFIG;
	}
	out->set = root;
	/* Supplementary groups: the user's own (as login would give),
	 * with the chosen group first. */
	int n = PROV_MAX_GROUPS;
	out->groups = xcalloc(PROV_MAX_GROUPS, sizeof(gid_t));
	if (!pw || getgrouplist(pw->pw_name, out->gid, out->groups, &n) < 0) {
		out->groups[0] = out->gid;
		n = 1;
	}
	out->ngroups = n;
	return 0;
}

/* ------------------------------------------------------------ the child */

int prov__creds_apply(const prov_creds_t *c, uint64_t caps)
{
	bool root = geteuid() == 0;
	/* The bounding set first, while CAP_SETPCAP is still held. A
	 * non-root umbra holds no capability to drop (and may not). */
	for (int cap = 0; root && cap < 64; cap++) {
		if (caps & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
			if (errno == EINVAL)
				break; /* past the kernel's last capability */
			if (errno == EPERM)
				break; /* no CAP_SETPCAP: nothing to drop */
			return errno;
		}
	}
	if (c->set) {
		if (caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
			return errno;
		if (syscall(SYS_setgroups, (size_t)c->ngroups, c->groups) ||
		    syscall(SYS_setresgid, c->gid, c->gid, c->gid) ||
		    syscall(SYS_setresuid, c->uid, c->uid, c->uid))
			return errno;
		if (caps && c->uid != 0) {
			/* exec drops what a non-root user holds unless it is
			 * ambient: permitted, inheritable and ambient. */
			struct __user_cap_header_struct h = {
			    _LINUX_CAPABILITY_VERSION_3, 0};
			struct __user_cap_data_struct d[2];
			memset(d, 0, sizeof(d));
			for (int k = 0; k < 2; k++) {
				uint32_t w = (uint32_t)(caps >> (32 * k));
				d[k].effective = d[k].permitted =
				    d[k].inheritable = w;
			}
			if (syscall(SYS_capset, &h, d))
				return errno;
			for (int cap = 0; cap < 64; cap++)
				if (caps & (1ULL << cap) &&
				    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
					  cap, 0, 0))
					return errno;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return errno;
	return 0;
}

/* ------------------------------------------------------------ environment */

/* Variables a service keeps from umbra's environment: where programs
 * are, the locale and the time zone. Everything else (UMBRA_*, tokens,
 * the operator's shell) stays with umbra. The sanitizer options only
 * matter to a sanitizer build's own test tools. */
static const char *const env_allow[] = {PROV_ENV_ALLOW, NULL};

bool prov__env_allowed(const char *kv)
{
	size_t kl = strcspn(kv, "=");
	if (!kv[kl])
		return false;
	if (kl > 3 && !strncmp(kv, "LC_", 3))
		return true;
	for (size_t i = 0; env_allow[i]; i++)
		if (strlen(env_allow[i]) == kl && !strncmp(env_allow[i], kv, kl))
			return true;
	return false;
}

/* ------------------------------------------------------------ files */

static uid_t give_uid;
static gid_t give_gid;
static int give_rc;

static int give_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	if (lchown(path, give_uid, give_gid) && !give_rc)
		give_rc = -errno;
	return 0;
}

int prov__creds_give(const prov_creds_t *c, const char *dir, buf_t *err)
{
	if (!c->set || !dir[0])
		return 0;
	give_uid = c->uid;
	give_gid = c->gid;
	give_rc = 0;
	/* FTW_DEPTH: a directory is given away only after everything in
	 * it, so the shadow's user never owns a directory whose entries
	 * umbra still walks by path (it could swap one for a symlink). */
	if (nftw(dir, give_one, 16, FTW_PHYS | FTW_MOUNT | FTW_DEPTH) &&
	    !give_rc)
		give_rc = -errno;
	if (!give_rc && chmod(dir, 0700))
		give_rc = -errno;
	if (give_rc)
		buf_printf(err, "cannot give %s to user %s: %s", dir, c->user,
			   err_str(give_rc));
	return give_rc;
}

/* Whether the user of c may search directory st (owner, group, others
 * bits, as the kernel decides without ACLs). */
static bool may_search(const prov_creds_t *c, const struct stat *st)
{
	if (st->st_uid == c->uid)
		return st->st_mode & S_IXUSR;
	bool member = st->st_gid == c->gid;
	for (int i = 0; i < c->ngroups && !member; i++)
		member = c->groups[i] == st->st_gid;
	return st->st_mode & (member ? S_IXGRP : S_IXOTH);
}

int prov__creds_reach(const prov_creds_t *c, const char *dir, buf_t *err)
{
	if (!c->set || c->uid == 0 || dir[0] != '/')
		return 0;
	char *p = xstrdup(dir);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		bool end = *s == '\0';
		if (*s != '/' && !end)
			continue;
		char keep = *s;
		*s = '\0';
		struct stat st;
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
		    !may_search(c, &st)) {
			buf_printf(err,
				   "the shadow's user %s cannot reach %s: %s "
				   "(mode %04o, uid %u, gid %u) is not "
				   "searchable by it; make it so (chmod o+x) "
				   "or move shadow.work_dir (never into the "
				   "directory of umbra's secrets)",
				   c->user, dir, p,
				   (unsigned)(st.st_mode & 07777),
				   (unsigned)st.st_uid, (unsigned)st.st_gid);
			rc = -EACCES;
			break;
		}
		*s = keep;
		if (end)
			break;
	}
	free(p);
	return rc;
}
