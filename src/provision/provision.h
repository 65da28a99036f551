/*
 * provision.h: production and shadow from one service spec. umbra builds
 * a spec per side from the config (or from an attached process read out
 * of /proc), launches each replica in its own process group with its own
 * cgroups (v1 or v2, found at run time) and, for an isolated shadow, in
 * its own network namespace; supervises them on the caller's libevent
 * loop (health, restart with exponential backoff, crash-loop limit,
 * graceful stop of the whole group); and reports each replica's life to
 * the caller (the proxy's upstream pool) through one callback.
 *
 * Threads: everything here runs on the thread that owns the event_base
 * passed to prov_new() (the daemon's control thread); callbacks fire on
 * it. Nothing here is thread-safe.
 *
 * Drift (fingerprints, diffs, the watcher) is in provision/drift.h.
 */
#ifndef UMBRA_PROVISION_PROVISION_H
#define UMBRA_PROVISION_PROVISION_H

#include "base/buf.h"
#include "config/config.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct event_base;

/* ------------------------------------------------------------ sides */
/* The baseline (shadow.baseline) is production's software and config run
 * in the shadow's conditions, so that the proxy can tell a shadow's
 * difference that production's own copy shows too (noise) from a change.
 * The numbering matches REQREC_* and AN_* sides. */
typedef enum prov_side {
	PROV_PRODUCTION,
	PROV_SHADOW,
	PROV_BASELINE
} prov_side_t;
#define PROV_SIDES 3

/* "production", "shadow", "baseline" */
const char *prov_side_name(prov_side_t side);

/* ------------------------------------------------------------ placeholders */
/* The values that {port} {config_dir} {data_dir} {replica} {side}
 * {service} render to, and the spec's own (production.vars: {name} ->
 * value, the same on every side and replica). Strings are borrowed. */
typedef struct prov_vars {
	const char *service, *side, *config_dir, *data_dir;
	int port, replica;
	const config_map_t *extra; /* NULL: none */
} prov_vars_t;

/* Appends s to out with every known {name} replaced by its value;
 * unknown names and lone braces are copied as they are. */
void prov_render(const char *s, size_t len, const prov_vars_t *v, buf_t *out);
/* The same into a new string the caller frees. */
char *prov_render_str(const char *s, const prov_vars_t *v);

/* Placeholders a file uses that nobody defines: calls
 * fn(name, line, col, arg) (1-based; name not NUL-terminated, nlen long)
 * for each {name} (lowercase letters, digits after the first, '_') in
 * s[0..len) that is neither built in nor in extra. "${name}" is a shell
 * or nginx variable, not a placeholder, and is skipped. Returns the
 * number found. */
typedef void (*prov_unknown_cb)(const char *name, size_t nlen, int line,
				int col, void *arg);
size_t prov_placeholders_unknown(const char *s, size_t len,
				 const config_map_t *extra, prov_unknown_cb fn,
				 void *arg);
/* Whether s[0..len) uses any placeholder (built in or in extra) that
 * prov_render would replace. */
bool prov_uses_placeholders(const char *s, size_t len,
			    const config_map_t *extra);
/* The same for every text file under dir (binary files, those with a
 * NUL in their first 8 KiB, are copied as they are and not scanned):
 * fn(file, name, nlen, line, col, arg). Returns the number found. */
typedef void (*prov_tree_unknown_cb)(const char *file, const char *name,
				     size_t nlen, int line, int col,
				     void *arg);
size_t prov_tree_unknown(const char *dir, const config_map_t *extra,
			 prov_tree_unknown_cb fn, void *arg);
/* Whether a text file under dir uses a placeholder: then production too
 * runs with a rendered copy of its config dir (supervise.c). */
bool prov_tree_uses_placeholders(const char *dir, const config_map_t *extra);
/* A name production.vars may define: [a-z][a-z0-9_]*, at most 63
 * characters, not one of the built-in names. */
bool prov_var_name_ok(const char *name);

/* Replaces, in the argv word s, the port number `from` where it stands as
 * a whole token ("9000", "host:9000", "--port=9000", ":9000/x"; not
 * "19000" or "9000.5") with `to`. Returns a new string. Used to launch a
 * shadow from an attached production's argv, and to compare the two. */
char *prov_port_rebase(const char *s, int from, const char *to);

/* ------------------------------------------------------------ spec */
#define PROV_MAX_REPLICAS 64 /* the config's bound on production.replicas */
/* The baseline answers the same mirrored copies as the shadow only to
 * classify them: one replica does; it is not scaled. */
#define PROV_BASELINE_REPLICAS 1
/* The baseline's files (source, config, data) live in this directory
 * under shadow.work_dir. */
#define PROV_BASELINE_DIR "baseline"
/* Production's rendered config copies (when its files use placeholders)
 * live in this directory under shadow.work_dir. */
#define PROV_PRODUCTION_DIR "production"

/* ------------------------------------------------------------ users */
/* When umbra runs as root and shadow.user is not set, the shadow (and
 * the baseline) run as this dedicated user, made by scripts/deps.sh;
 * on a host without it, as nobody (with a warning): never as root. A
 * dedicated user rather than nobody, because every daemon that runs as
 * nobody could signal, trace or read the files of every other. */
#define PROV_SHADOW_USER     "umbra-shadow"
#define PROV_SHADOW_FALLBACK "nobody"
#define PROV_MAX_GROUPS	     64 /* supplementary groups kept; NGROUPS is
				   larger but services use a handful */

/* Who a side's processes run as and which capabilities they keep.
 * Owns its strings (prov_spec_free). */
typedef struct prov_creds {
	bool set;      /* switch to uid/gid (umbra runs as root) */
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary, ngroups of them */
	int ngroups;
	char *user, *home; /* NULL when not set */
	uint64_t caps;	   /* granted capabilities: bit n = capability n */
} prov_creds_t;

/* The capability number of name ("CAP_NET_BIND_SERVICE" or
 * "net_bind_service", any case), or -1. */
int prov_cap_parse(const char *name);

/* Everything needed to run (or find) one side. Built by prov_spec_build;
 * owns its strings (prov_spec_free). */
typedef struct prov_spec {
	prov_side_t side;
	char *service;
	bool run;      /* umbra starts this side */
	bool attached; /* production only: a process umbra does not own */
	int attach_pid;
	char **argv; /* templates (placeholders unrendered); NULL-terminated */
	size_t argc;
	char **env_keys, **env_vals; /* added environment (templates) */
	size_t nenv;
	char **base_env;  /* attached: the process's environ; NULL: umbra's */
	char *cwd;	  /* "" = umbra's */
	char *config_src; /* the files this side's copy is made from; "" none */
	char *config_dir; /* the directory the side runs with; "" none */
	char *data_dir;	  /* "" none */
	bool copy_config; /* shadow, baseline: config_dir is a rendered copy */
	char *render_dir; /* production run by umbra whose files use
			     placeholders: replica 0 runs with this rendered
			     copy of config_dir (the templates); "" none */
	const config_map_t *vars; /* production.vars, borrowed from cfg */
	bool copy_data;	  /* shadow, baseline: data_dir is a copy of
			     production's */
	char *work_dir;	  /* shadow.work_dir (baseline: its subdirectory
			     PROV_BASELINE_DIR) */
	char *host;	  /* where replicas listen, from umbra's side */
	int port;	  /* replica 0's port; 0 = pick free ports */
	int replicas;
	int health_type; /* config_health_type_t */
	char *health_path;
	int64_t health_interval, health_timeout, start_timeout;
	int stop_signal;
	int64_t stop_grace;
	int64_t backoff, backoff_max, restart_window;
	int restart_max;
	double cpu;   /* per replica, cores; 0 = none */
	uint64_t mem; /* per replica, bytes; 0 = none */
	bool isolate;
	prov_creds_t creds; /* who the side runs as (creds.c) */
} prov_spec_t;

/* Builds the spec of side from cfg. The shadow's and the baseline's specs
 * derive from production's (prod, built first), as the "same
 * software, same configuration, same environment" asks; the baseline
 * takes production's command, environment and config files, never the
 * shadow's own (shadow.command, shadow.env, shadow.config_dir). Attach mode reads argv, cwd and
 * environ of the attached process from /proc (proc_root: NULL for
 * "/proc"; tests pass fixtures). 0, or a negative error with err set to a
 * sentence naming the field. On error *out is left empty. */
int prov_spec_build(const config_t *cfg, prov_side_t side,
		    const prov_spec_t *prod, const char *proc_root,
		    prov_spec_t *out, buf_t *err);
void prov_spec_free(prov_spec_t *s);

/* Splits a command line into new words: whitespace separates, '...' and
 * "..." quote, backslash escapes; no expansion. 0, or ERR_PARSE (an
 * unterminated quote, no word). */
int prov_split_command(const char *s, char ***argv, size_t *argc);
/* The argv of a systemd unit file's last ExecStart= in [Service] (its
 * prefixes - @ : + ! honoured; specifiers and $VARS are not expanded).
 * 0, ERR_NOTFOUND (none) or ERR_PARSE. */
int prov_unit_exec_start(const char *text, char ***argv, size_t *argc);

/* The placeholder values of replica i of spec (port given: the spec's
 * may be 0 = picked at start). Borrows the spec's strings; config_dir
 * is replica 0's (prov_replica_config_dir gives replica i's). */
prov_vars_t prov_spec_vars(const prov_spec_t *s, int replica, int port);

/* The rendered config directory replica i of s runs with: replica 0 has
 * the side's (the shadow's config_dir, production's render_dir), replica
 * i > 0 its own "<that>.<i>", rendered with its own {port} and
 * {replica} when it starts. New string; NULL when the side runs with no
 * rendered copy (production's files as they are). */
char *prov_replica_config_dir(const prov_spec_t *s, int replica);

/* ------------------------------------------------------------ limits */
/* Resource limits of one cgroup: cores (0 = none) and bytes (0 = none). */
typedef struct prov_limits {
	double cpu;
	uint64_t mem;
} prov_limits_t;

/* The shadow's share: given production's per-replica limits and replica
 * count, the shadow's ratio, its memory floor and replica count, the
 * totals of each side (side[]) and each side's per-replica limits
 * (replica[]). Shadow total = ratio x production total (memory at least
 * mem_min); per replica = total / replicas. The baseline gets the
 * shadow's total in its one replica. None stays none. */
void prov_limits_share(prov_limits_t prod_replica, int prod_replicas,
		       double ratio, uint64_t mem_min, int shadow_replicas,
		       prov_limits_t side[PROV_SIDES],
		       prov_limits_t replica[PROV_SIDES]);

#define PROV_CPU_PERIOD_US    100000 /* the kernel's default CFS period */
#define PROV_CPU_MIN_QUOTA_US 1000   /* the kernel refuses quotas below 1 ms */

/* cgroup v1 cpu.cfs_quota_us for cores at period_us: -1 for none, at
 * least PROV_CPU_MIN_QUOTA_US otherwise. */
int64_t prov_cpu_quota_us(double cores, int64_t period_us);
/* cgroup v2 cpu.max text: "max 100000" or "20000 100000". */
void prov_cpu_max_text(double cores, int64_t period_us, char out[48]);
/* Parses cpu.max text ("max 100000", "50000 100000") into cores (0 for
 * max). 0 or ERR_PARSE. */
int prov_cpu_max_parse(const char *text, double *cores);
/* Cores from v1 quota and period (quota -1: none, 0 returned). */
double prov_cpu_from_quota(int64_t quota_us, int64_t period_us);
/* Bytes from a memory limit file's number; the v1 "unlimited" value
 * (PAGE_COUNTER_MAX x page size, near INT64_MAX) and v2 "max" read as 0. */
uint64_t prov_mem_from_limit(uint64_t v);

/* ------------------------------------------------------------ backoff */
/* Delay before restart number n (1 = after the first crash in the
 * window): base x 2^(n-1), capped at max. */
int64_t prov_backoff(int64_t base, int64_t max, int n);

/* ------------------------------------------------------------ supervision */
typedef struct prov prov_t;

typedef enum prov_ev_kind {
	PROV_EV_UP,	 /* passed its health check: put it in the pool */
	PROV_EV_DOWN,	 /* exited, unhealthy or stopping: take it out */
	PROV_EV_FAILED,	 /* crash loop or cannot start: umbra gave up */
	PROV_EV_REMOVED, /* scaled down or shut down: gone for good */
} prov_ev_kind_t;

const char *prov_ev_name(prov_ev_kind_t k); /* "up", "down", ... */

/* One replica's change. Pointers are valid during the callback only. */
typedef struct prov_replica_ev {
	prov_ev_kind_t kind;
	prov_side_t side;
	int replica;		   /* index, 0-based */
	const char *addr;	   /* "127.0.0.1:9000" */
	const struct sockaddr *sa; /* the same, resolved */
	socklen_t salen;
	int pid;	    /* 0 when not running */
	const char *reason; /* why, in words ("exited with status 3") */
} prov_replica_ev_t;

typedef void (*prov_replica_cb)(const prov_replica_ev_t *ev, void *arg);
typedef void (*prov_done_cb)(void *arg);

typedef struct prov_hooks {
	prov_replica_cb on_replica; /* may be NULL */
	void *arg;
} prov_hooks_t;

/* A supervisor for both sides of cfg on base. Borrows cfg and base (both
 * must outlive it). Builds the specs; starts nothing. 0 or a negative
 * error with err set. */
int prov_new(const config_t *cfg, struct event_base *base,
	     const prov_hooks_t *hooks, prov_t **out, buf_t *err);

/* Prepares and starts: a lock on the work dir (one umbra per service),
 * config/data copies, cgroups and limits, the network namespace, then
 * every replica (asynchronously: UP events follow from the loop). Fails,
 * with err set and everything it made undone, when a requirement is
 * missing (limits configured but no writable cgroup, isolation without
 * namespace rights, another umbra on the same service). A command that
 * cannot be executed is not a start error: its replicas report FAILED
 * at once, with the reason. */
int prov_start(prov_t *p, buf_t *err);

/* Scales side to n replicas (1..PROV_MAX_REPLICAS): new ones start, the
 * highest-numbered ones stop gracefully. Production's count also moves
 * the shadow's and baseline's limits (ratio x production). 0 or
 * ERR_RANGE/ERR_BADSTATE (also for the baseline, which is not scaled). */
int prov_set_replicas(prov_t *p, prov_side_t side, int n);

/* Sets production's per-replica limits (0 = none) and the shadow's that
 * follow from them. 0 or a negative error (a cgroup write failed). */
int prov_set_limits(prov_t *p, prov_limits_t per_replica);

/* Restarts side's replicas one at a time, never more than one down on
 * purpose: replica i is stopped gracefully (DOWN first, so the pool
 * stops using it), started again, and the next one begins only after it
 * passed its health check (UP). A replica that crashes while starting is
 * restarted with backoff as usual; one that gives up (FAILED) ends the
 * roll: the rest keep their running processes. Replicas already FAILED
 * or stopped are skipped. done(ok, why, arg) is called from the loop when
 * the roll ends (why says what failed, "" when ok), and not at all when
 * this returns an error: ERR_BADSTATE when the side is not run by umbra, not
 * started, stopping, or a roll is already in progress. With one replica
 * there is a gap while it restarts: prefer a reload (docs). */
typedef void (*prov_restart_cb)(bool ok, const char *why, void *arg);
int prov_rolling_restart(prov_t *p, prov_side_t side, prov_restart_cb done,
			 void *arg);
bool prov_restart_rolling(const prov_t *p);

/* Replaces the shadow's config copy with the files of directory src
 * (NULL: its usual source, production's config_dir or shadow.config_dir),
 * rendered as at start; the replicas read it when restarted
 * (prov_rolling_restart on the shadow). Proposals use it. 0, or a
 * negative error with err set (the shadow is not run with a config copy:
 * ERR_BADSTATE; src cannot be read: nothing changed). */
int prov_shadow_config(prov_t *p, const char *src, buf_t *err);

/* Keeps the baseline on production's config: when the files of
 * production's config dir differ from those the baseline's copy was made
 * from (a config edit, a rollback or promotion that restored production's
 * files), makes a new rendered copy and restarts the baseline's replicas
 * (stop signal, then start; the proxy's baseline pool is empty for that
 * while). 1 when it restarted the baseline, 0 when nothing changed or
 * umbra does not run a baseline, or a negative error (the copy failed:
 * the baseline keeps running on the old one; logged). */
int prov_baseline_sync(prov_t *p);

/* Sends sig to the main process of every running replica of side (for
 * an attached production, the attached process): a reload signal.
 * Production's rendered copies are rendered again first. The
 * number of processes signalled, or ERR_BADSTATE when none runs. */
int prov_signal(prov_t *p, prov_side_t side, int sig);

/* Renders production's config copies again from its templates (its
 * config_dir), one per replica, when its files use placeholders
 * (spec.render_dir); nothing otherwise. prov_signal on production does
 * it first, so that a reload reads what the operator (or a rollback)
 * left in the templates. 0 or a negative error with err set. */
int prov_render_production(prov_t *p, buf_t *err);

/* Replicas of side that are up (passed their checks, not failing them). */
int prov_replica_up_count(const prov_t *p, prov_side_t side);

/* Squeezes the shadow's cgroup limits to cpu_share and mem_share (0..1]
 * of what production's limits and the ratio give it; 1, 1 restores them
 * (stress tests; production is not touched). The shares stay in force
 * when production's limits or replicas change. 0, ERR_RANGE for a share
 * outside (0, 1], ERR_BADSTATE when umbra does not run the shadow, or a
 * cgroup write error. */
int prov_squeeze_shadow(prov_t *p, double cpu_share, double mem_share);

/* Stops every replica gracefully (stop signal to the process group,
 * stop_grace, then SIGKILL), removes cgroups, namespace and copies of
 * state, then calls done (from the loop). Safe to call twice: the second
 * call kills what is left at once. */
void prov_stop(prov_t *p, prov_done_cb done, void *arg);

/* Frees p; anything still running is killed first (SIGKILL). */
void prov_free(prov_t *p);

/* Queries, for the daemon and tests. */
int prov_replica_count(const prov_t *p, prov_side_t side);
bool prov_side_failed(const prov_t *p, prov_side_t side); /* all gave up */
const prov_spec_t *prov_spec(const prov_t *p, prov_side_t side);
/* Side-level limits now in force (totals). */
prov_limits_t prov_side_limits(const prov_t *p, prov_side_t side);

#endif
