/*
 * prov_int.h: what the provision module's files share and nobody else
 * uses: the supervisor's structures, file helpers, the external command
 * runner, cgroup groups and the network namespace.
 */
#ifndef UMBRA_PROVISION_PROV_INT_H
#define UMBRA_PROVISION_PROV_INT_H

#include "base/cgroup.h"
#include "provision/drift.h"
#include "provision/provision.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cmdline and environ read from /proc: ARG_MAX allows 2 MiB, real
 * services use a few KiB. */
#define PROV_PROC_MAX		  (256 * 1024)
#define PROV_SHADOW_HOST_LOOPBACK "127.0.0.1"

/* ------------------------------------------------------------ files */
/* Reads a whole file of at most max bytes into out (appended). 0, a
 * negative errno, ERR_INVAL when it is not a regular file (checked on
 * the descriptor, opened non-blocking: a FIFO never blocks), or
 * ERR_TOOBIG (out then holds the first max bytes).
 * (Writes go through fs_write_atomic, base/fs.h.) */
int prov__read_file(const char *path, size_t max, buf_t *out);
/* rm -rf path, never following a symlink (each level is opened
 * relative to the one above with O_NOFOLLOW). 0 or -errno. */
#define PROV_RMTREE_MAX_DEPTH 64 /* deeper trees (a hostile shadow's data
				    dir) are left, with ELOOP */
int prov__rmtree(const char *path);
/* Copies the tree src to dst (dst must not exist). When vars is not NULL,
 * text files (no NUL in their first 8 KiB) are rendered. Modes and
 * symlinks kept. Bounded by PROV_TREE_MAX_FILES and depth. 0 or a
 * negative error with err set. */
#define PROV_TREE_MAX_FILES 10000 /* a config or data dir, not a disk */
#define PROV_TREE_MAX_DEPTH 16
int prov__copytree(const char *src, const char *dst, const prov_vars_t *vars,
		   buf_t *err);
/* Calls fn(relpath, fullpath, arg) for every regular file under root, in
 * sorted order, at most PROV_TREE_MAX_FILES. Returns 0 or -errno of
 * opening root; fn returning non-zero stops the walk with that value. */
int prov__walk(const char *root,
	       int (*fn)(const char *rel, const char *full, void *arg),
	       void *arg);

/* Splits a NUL-separated buffer (cmdline, environ) into a new
 * NULL-terminated vector of new strings; *n gets the count. */
char **prov__split_nul(const char *data, size_t len, size_t *n);
void prov__strv_free(char **v);

/* ------------------------------------------------------------ exec */
/* Resolves name as execvp would, in the PATH of env (or a default);
 * relative paths against cwd. New string, or NULL when not found. */
char *prov__find_exe(const char *name, char *const *env, const char *cwd);
/* A child's environment: the base (umbra's, or the attached process's)
 * with the spec's variables, rendered, added or replacing. New vector. */
char **prov__build_env(const prov_spec_t *s, const prov_vars_t *v);
/* An attached process's argv word as a template: its port becomes
 * {port} and its config dir {config_dir}. New string. */
char *prov__attach_template(const char *word, int port, const char *cd);

/* SHA-256 of the regular files under root (names and contents, in
 * sorted order), as 64 hex digits: equal digests, equal trees. 0 or a
 * negative error (root or a file cannot be read). */
int prov__tree_sum(const char *root, char hex[65]);

/* SHA-256 of data or of a file's content, as 64 hex digits. */
void prov__sha256(const void *data, size_t len, char hex[65]);
int prov__sha256_file(const char *path, char hex[65]);

/* ------------------------------------------------------------ creds */
/* Resolves the user, group and capabilities of one side (field:
 * "production" or "shadow", for messages). shadow_default: when umbra
 * is root and user is "", run as PROV_SHADOW_USER (or the fallback).
 * With user "" otherwise the side runs as umbra's own user. 0, or
 * ERR_CONFIG with err naming the field (unknown user, group or
 * capability; a user other than umbra's own without root). */
int prov__creds_build(const char *field, const char *user, const char *group,
		      const config_strv_t *caps, bool shadow_default,
		      prov_creds_t *out, buf_t *err);
void prov__creds_free(prov_creds_t *c);
/* In the forked child, before exec (async-signal-safe): empties the
 * capability bounding set of all but caps, switches groups and ids,
 * keeps caps as ambient capabilities for a non-root user, sets
 * PR_SET_NO_NEW_PRIVS. 0 or an errno value. */
int prov__creds_apply(const prov_creds_t *c, uint64_t caps);
/* Gives the tree dir to the side's user (lchown, never following a
 * symlink) and makes dir 0700. No-op when the side keeps umbra's user.
 * 0 or a negative error with err set. */
int prov__creds_give(const prov_creds_t *c, const char *dir, buf_t *err);
/* Whether the side's user may reach dir (every directory on the way
 * searchable by it): 0, or -EACCES with err naming the directory that
 * stops it. No-op when the side keeps umbra's user. */
int prov__creds_reach(const prov_creds_t *c, const char *dir, buf_t *err);

/* The variables a service process keeps from umbra's environment (the
 * rest, UMBRA_* and any secret, never reach it); LC_* too. HOME, USER
 * and LOGNAME are the service user's when it has its own. */
#define PROV_ENV_ALLOW                                                     \
	"PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "HOME", "USER",       \
	    "LOGNAME", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"
/* Whether the "KEY=value" string kv may pass to a service. */
bool prov__env_allowed(const char *kv);

/* ------------------------------------------------------------ commands */
#define PROV_CMD_TIMEOUT_MS 10000 /* ip and nft answer in milliseconds */
/* Runs argv (PATH searched) with input on stdin, waits up to
 * PROV_CMD_TIMEOUT_MS; stdout and stderr go to out. Returns the exit
 * status (0..255), 128+signal, or a negative error (-ENOENT when the
 * program is missing, ERR_TIMEOUT). */
int prov__run(const char *const *argv, const char *input, buf_t *out);

/* ------------------------------------------------------------ cgroups */
/* The groups of one side: <base>/umbra-<service>/<side>, in each
 * hierarchy that serves a controller we use. */
typedef struct prov_cg {
	bool on;		/* at least one hierarchy is usable */
	int ver[CGROUP__COUNT]; /* per controller: 0, 1 or 2 */
	char side[CGROUP__COUNT][CGROUP_PATH_MAX]; /* side dir per ctrl */
	char track[CGROUP_PATH_MAX]; /* side dir in the hierarchy whose
					cgroup.procs lists every process */
} prov_cg_t;

/* Finds the side's groups in the hierarchies of sys and, when create,
 * makes them (mkdir, v2 controller delegation); without create only
 * existing groups are used. need_limits: fail when limits cannot be set.
 * 0, or a negative error with err set. */
int prov__cg_setup(prov_cg_t *cg, const cgroup_sys_t *sys, const char *parent,
		   const char *service, prov_side_t side, bool need_limits,
		   bool create, buf_t *err);
/* Makes replica i's groups; fills paths[] with the cgroup.procs files the
 * child writes itself into (n set). */
#define PROV_CG_MAX_PROCS_FILES 3
int prov__cg_replica(const prov_cg_t *cg, int i,
		     char paths[PROV_CG_MAX_PROCS_FILES][CGROUP_PATH_MAX + 64],
		     int *n, buf_t *err);
/* cgroup v1 refuses a cpu.cfs_quota_us below a child's: lifts the
 * quota of every replica-* group under the side's cpu group (those of
 * replicas removed by an earlier scale-down too), so that the side's
 * total can be set. 0 (nothing to do on v2) or a negative error. */
int prov__cg_v1_lift_children(const prov_cg_t *cg, buf_t *err);
/* Writes limits to the side group (total) or replica i's (i >= 0). */
int prov__cg_limit(const prov_cg_t *cg, int replica, prov_limits_t l,
		   buf_t *err);
/* Writes limits into one directory for version ver (cpu then memory);
 * exposed for fixture tests. */
int prov__cg_write_limits(const char *cpu_dir, int cpu_ver, const char *mem_dir,
			  int mem_ver, prov_limits_t l, buf_t *err);
/* Reads the limits in force in a group directory (per controller). */
int prov__cg_read_limits(const char *cpu_dir, int cpu_ver, const char *mem_dir,
			 int mem_ver, prov_limits_t *l);
/* Pids in replica i's group (i < 0: the whole side), up to max. */
size_t prov__cg_pids(const prov_cg_t *cg, int replica, int *pids, size_t max);
/* Removes replica i's groups (i < 0: every group of the side, then the
 * side and service dirs when empty). */
void prov__cg_remove(const prov_cg_t *cg, int replica);

/* ------------------------------------------------------------ netns */
typedef struct prov_net {
	bool on;
	char ns[80];		     /* ip netns name: umbra-<service> */
	char host_if[16], ns_if[16]; /* veth ends */
	char host_ip[16], ns_ip[16]; /* dotted quads */
	int prefix;
	char table[80]; /* nft table in the host netns */
	int ns_fd;	/* open /run/netns/<ns>, -1 */
	int fwd_prev;	/* ip_forward before, -1 = untouched */
	/* A file that exists while umbra holds ip_forward at 1 for the
	 * shadow, so that a run after a crash turns it off again. "" none. */
	char fwd_mark[4096];
} prov_net_t;

/* Names and addresses for service and subnet (pure; no system change). */
int prov__net_plan(prov_net_t *n, const char *service, const char *subnet,
		   buf_t *err);
/* The nftables rulesets: host side (filter what leaves the veth) and
 * namespace side (DNAT of the veth address to loopback). Pure. */
int prov__net_rules(const prov_net_t *n, const config_strv_t *allow,
		    bool forward, buf_t *host, buf_t *ns, buf_t *err);
/* Creates namespace, veth, addresses, routes and rules. 0 or a negative
 * error with err set (and anything made undone). */
int prov__net_setup(prov_net_t *n, const config_strv_t *allow, buf_t *err);
/* Undoes prov__net_setup; safe on a plan that was never set up. */
void prov__net_teardown(prov_net_t *n);

/* ------------------------------------------------------------ supervisor */
struct event;

typedef enum prov_rstate {
	PROV_R_IDLE,	 /* created, not started */
	PROV_R_STARTING, /* running, waiting for its first good check */
	PROV_R_UP,	 /* running and announced to the pool */
	PROV_R_BACKOFF,	 /* exited; restart timer armed */
	PROV_R_STOPPING, /* stop signal sent, grace timer armed */
	PROV_R_STOPPED,	 /* stopped on purpose */
	PROV_R_FAILED,	 /* gave up: crash loop or cannot start */
} prov_rstate_t;

const char *prov__rstate_name(prov_rstate_t s);

/* One stream of a child's output (stdout or stderr). */
typedef struct prov_out {
	int fd;
	struct event *ev;
	buf_t line; /* the incomplete last line */
	bool cut;   /* the current line overflowed: drop to newline */
} prov_out_t;

typedef struct prov_health prov_health_t;
typedef struct prov prov_t;

typedef struct prov_replica {
	prov_t *p;
	prov_side_t side;
	int index, port;
	bool owned; /* false: an attached process umbra only watches */
	char addr[64];
	struct sockaddr_storage sa;
	socklen_t salen;
	prov_rstate_t state;
	bool announced; /* UP was sent: a DOWN must follow */
	bool unhealthy; /* running but failing checks (DOWN sent) */
	bool removing;	/* scaled away: REMOVED after it stops */
	bool restarting; /* stopped by a rolling restart: start it again */
	int pid, pidfd;
	struct event *ev_exit;	/* pidfd readable: it exited */
	struct event *ev_timer; /* restart, start timeout, grace */
	struct event *ev_check; /* next health check */
	prov_out_t out[2];
	double tokens; /* output lines allowed now */
	int64_t tokens_ns;
	uint64_t suppressed; /* lines dropped since the last notice */
	int64_t started_ns;
	int64_t *crashes; /* monotonic times, within the window */
	int ncrash;
	int fails;	   /* consecutive failed checks */
	prov_health_t *hc; /* the check in flight */
	char last_exit[512];
} prov_replica_t;

struct prov {
	const config_t *cfg;
	struct event_base *base;
	prov_hooks_t hooks;
	prov_spec_t spec[PROV_SIDES];
	prov_replica_t *rep[PROV_SIDES][PROV_MAX_REPLICAS];
	int nrep[PROV_SIDES]; /* replicas wanted */
	cgroup_sys_t cgsys;
	prov_cg_t cg[PROV_SIDES];
	prov_limits_t prod_replica; /* production's per-replica limits */
	prov_limits_t side_lim[PROV_SIDES], rep_lim[PROV_SIDES];
	prov_net_t net;
	bool started, stopping, torn_down;
	prov_done_cb done;
	void *done_arg;
	struct event *ev_done;	 /* calls done from the loop */
	struct event *ev_follow; /* re-reads an attached production's limits */
	char attach_cpu[CGROUP_PATH_MAX], attach_mem[CGROUP_PATH_MAX];
	int attach_cpu_ver, attach_mem_ver;
	int lock_fd; /* flock on <work_dir>/lock: one umbra per service */
	/* A rolling restart in progress (one side, one replica at a time). */
	struct {
		bool on;
		prov_side_t side;
		int next;    /* the replica index to restart after this one */
		int current; /* the one restarting now, -1 none */
		bool ok;
		char why[256];
		prov_restart_cb done;
		void *arg;
	} roll;
	struct event *ev_roll; /* delivers roll.done from the loop */
	/* The shadow's limits as shares of what the ratio gives it (stress
	 * tests squeeze them; 1 = normal). */
	double squeeze_cpu, squeeze_mem;
	/* Digest (prov__tree_sum) of the production config files the
	 * baseline's copy was made from; "" before the first copy. */
	char baseline_sum[65];
};

/* Restarts replica r now, outside any rolling restart: stops it
 * gracefully and starts it again (DOWN, then UP after its check); one
 * waiting to start (backoff) or given up starts at once (with a fresh
 * crash count). A replica stopped on purpose stays stopped. */
void prov__replica_restart(prov_replica_t *r);

/* Replaces side's config copy with the files of directory src (NULL: the
 * side's config_src), rendered as at start; the running replicas read it
 * when restarted. 0, or a negative error with err set (nothing changed
 * when src cannot be read). */
int prov__config_copy(prov_t *p, prov_side_t side, const char *src,
		      buf_t *err);

/* Health checks (health.c): one TCP connect or HTTP GET to r->sa, with
 * r's spec timeout; calls prov__health_done(r, ok, why) from the loop.
 * Not called when start fails (then it returns non-zero). */
int prov__health_start(prov_replica_t *r);
void prov__health_cancel(prov_replica_t *r);
void prov__health_done(prov_replica_t *r, bool ok, const char *why);

/* Child output (output.c): reads r's pipes into the log, rate-limited. */
void prov__output_open(prov_replica_t *r, int out_fd, int err_fd);
/* Reads what is left, then closes the pipes. */
void prov__output_close(prov_replica_t *r);

/* ------------------------------------------------------------ state */
/* The run state file (<work_dir>/state): one line per replica, so that
 * `umbra drift` finds the processes of a running `umbra run`. */
typedef struct prov_state_rec {
	prov_side_t side;
	int replica, pid, port;
	char addr[64];
} prov_state_rec_t;

int prov__state_write(const char *work_dir, const prov_state_rec_t *r,
		      size_t n);
/* Reads up to max records; returns the count or a negative error. */
int prov__state_read(const char *work_dir, prov_state_rec_t *r, size_t max);

#endif
