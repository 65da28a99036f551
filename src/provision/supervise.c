/*
 * supervise.c: the replica supervisor on the caller's libevent loop.
 *
 * Each replica is a small state machine (prov_rstate_t):
 *
 *   IDLE -> STARTING -(health ok)-> UP -(exit)-> BACKOFF -(timer)-> STARTING
 *                |                    |                |
 *                +-(start_timeout: killed, counts as a crash)
 *   any running state -(stop)-> STOPPING -(exit; or grace: SIGKILL)-> STOPPED
 *   a crash that makes restart.max within restart.window -> FAILED
 *
 * Children are forked into a new session (their own process group), join
 * their cgroups and, for an isolated shadow, the network namespace,
 * before exec; failures before exec come back through a CLOEXEC pipe, so
 * "command not found" is an error at once, not a crash loop. Exits are
 * seen through pidfds (no SIGCHLD handler, no waitpid(-1) that would reap
 * other modules' children). Stopping signals the whole group, and after
 * the leader's exit whatever is left in the group or the replica's cgroup
 * is killed, so nothing outlives umbra.
 */
#include "provision/prov_int.h"

#include "base/addr.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/units.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Readiness is polled fast, so a replica joins the pool within 0.1 s of
 * listening; the steady interval is health.interval. */
#define PROV_START_POLL_NS (100 * NS_PER_MS)
/* Consecutive failed checks before DOWN: one slow answer is no outage. */
#define PROV_HEALTH_FAILS  3
#define PROV_STALE_WAIT_NS (5 * NS_PER_S) /* leftovers of a crashed run */
#define PROV_DRAIN_WAIT_NS (2 * NS_PER_S) /* killed groups empty by then */
#define PROV_MAX_PIDS	   4096 /* processes looked at in one cgroup */

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

const char *prov__rstate_name(prov_rstate_t s)
{
	static const char *const n[] = {"idle",	   "starting", "up",
					"backoff", "stopping", "stopped",
					"failed"};
	return (unsigned)s < sizeof(n) / sizeof(*n) ? n[s] : "?";
}

static struct timeval tv_of(int64_t ns)
{
	if (ns < 0)
		ns = 0;
	return (struct timeval){(time_t)(ns / NS_PER_S),
				(suseconds_t)(ns % NS_PER_S / 1000)};
}

/* ------------------------------------------------------------ events */

static void emit(prov_replica_t *r, prov_ev_kind_t k, const char *reason)
{
	prov_t *p = r->p;
	log_level_t lv = k == PROV_EV_FAILED ? LOG_ERROR
			 : k == PROV_EV_DOWN && !p->stopping && !r->removing
			     ? LOG_WARN
			     : LOG_INFO;
	char msg[48];
	snprintf(msg, sizeof(msg), "replica %s", prov_ev_name(k));
	if (log_enabled(lv))
		log_emit(
		    lv, "provision", msg,
		    (const log_field_t[]){LF_S("side", prov_side_name(r->side)),
					  LF_I("replica", r->index),
					  LF_S("addr", r->addr),
					  LF_I("pid", r->pid),
					  LF_S("reason", reason ? reason : ""),
					  {NULL, LOG_F_END, {0}}});
	if (!p->hooks.on_replica)
		return;
	prov_replica_ev_t ev = {
	    .kind = k,
	    .side = r->side,
	    .replica = r->index,
	    .addr = r->addr,
	    .sa = (const struct sockaddr *)&r->sa,
	    .salen = r->salen,
	    .pid = r->pid,
	    .reason = reason ? reason : "",
	};
	p->hooks.on_replica(&ev, p->hooks.arg);
}

/* ------------------------------------------------------------ state file */

static void save_state(prov_t *p)
{
	prov_state_rec_t recs[PROV_SIDES * PROV_MAX_REPLICAS];
	size_t n = 0;
	for (int s = 0; s < PROV_SIDES; s++)
		for (int i = 0; i < PROV_MAX_REPLICAS; i++) {
			prov_replica_t *r = p->rep[s][i];
			if (!r || r->pid <= 0)
				continue;
			recs[n] = (prov_state_rec_t){(prov_side_t)s, i, r->pid,
						     r->port, ""};
			snprintf(recs[n].addr, sizeof(recs[n].addr), "%s",
				 r->addr);
			n++;
		}
	int rc = prov__state_write(p->spec[PROV_SHADOW].work_dir, recs, n);
	if (rc)
		log_warn("provision", "cannot write the run state file",
			 LF_S("dir", p->spec[PROV_SHADOW].work_dir),
			 LF_ERR("err", rc));
}

/* ------------------------------------------------------------ killing */

/* Signals r's process group, and with SIGKILL also every process left in
 * its cgroup (a child that left the group with setsid). */
static void kill_replica(prov_replica_t *r, int sig)
{
	if (r->owned && r->pid > 0)
		kill(-r->pid, sig);
	if (sig != SIGKILL || !r->owned)
		return;
	int pids[PROV_MAX_PIDS];
	size_t n =
	    prov__cg_pids(&r->p->cg[r->side], r->index, pids, PROV_MAX_PIDS);
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
}

/* Waits (blocking, bounded) until the side's groups hold no process. */
static void wait_empty(const prov_cg_t *cg, int replica, int64_t max_ns)
{
	int64_t until = clock_mono_ns() + max_ns;
	int pids[16];
	while (prov__cg_pids(cg, replica, pids, 16) > 0 &&
	       clock_mono_ns() < until)
		usleep(10000);
}

/* ------------------------------------------------------------ spawning */

typedef struct child_plan {
	char *exe;
	char **argv, **envp;
	const char *cwd;
	char procs[PROV_CG_MAX_PROCS_FILES][CGROUP_PATH_MAX + 64];
	int nprocs;
	int ns_fd;
	bool pdeathsig;
	pid_t parent;
	const prov_creds_t *creds;
	uint64_t caps; /* kept in the bounding set (and ambient) */
} child_plan_t;

enum {
	STAGE_CGROUP = 1,
	STAGE_NETNS,
	STAGE_CWD,
	STAGE_EXEC,
	STAGE_SETUP,
	STAGE_CREDS
};

static const char *stage_name(int st)
{
	switch (st) {
	case STAGE_CGROUP:
		return "cannot join its cgroup";
	case STAGE_NETNS:
		return "cannot join the network namespace";
	case STAGE_CWD:
		return "cannot enter its working directory";
	case STAGE_EXEC:
		return "cannot execute the command";
	case STAGE_CREDS:
		return "cannot switch to its user and drop its capabilities";
	default:
		return "cannot set up the child";
	}
}

static _Noreturn void child_fail(int fd, int stage)
{
	int msg[2] = {stage, errno};
	(void)!write(fd, msg, sizeof(msg));
	_exit(127);
}

/* In the child: async-signal-safe calls only (umbra has threads). */
static _Noreturn void child_run(const child_plan_t *c, int out_w, int err_w,
				int report)
{
	setsid();
	char pid[16];
	int n = 0;
	for (int v = (int)getpid(), k; v; v /= 10) {
		for (k = n; k > 0; k--)
			pid[k] = pid[k - 1];
		pid[0] = (char)('0' + v % 10);
		n++;
	}
	for (int i = 0; i < c->nprocs; i++) {
		int fd = open(c->procs[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, pid, (size_t)n) != n)
			child_fail(report, STAGE_CGROUP);
		close(fd);
	}
	if (c->ns_fd >= 0 && syscall(SYS_setns, c->ns_fd, CLONE_NEWNET))
		child_fail(report, STAGE_NETNS);
	/* After the cgroup and namespace (which need root), before
	 * anything the service's user could race: ids, capabilities,
	 * no_new_privs. PDEATHSIG after: a change of ids clears it. */
	errno = prov__creds_apply(c->creds, c->caps);
	if (errno)
		child_fail(report, STAGE_CREDS);
	if (c->pdeathsig) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != c->parent)
			_exit(1);
	}
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_w, 1) < 0 ||
	    dup2(err_w, 2) < 0)
		child_fail(report, STAGE_SETUP);
	if (c->cwd[0] && chdir(c->cwd))
		child_fail(report, STAGE_CWD);
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC)) {
		for (int fd = 3; fd < 65536; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	execve(c->exe, c->argv, c->envp);
	child_fail(report, STAGE_EXEC);
}

/* Looks name up in the PATH of env (or a default), as execvp would. */
char *prov__find_exe(const char *name, char *const *env, const char *cwd)
{
	if (strchr(name, '/')) {
		if (name[0] == '/' || !cwd[0])
			return xstrdup(name);
		return xasprintf("%s/%s", cwd, name);
	}
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], "PATH=", 5))
			path = env[i] + 5;
	for (const char *p = path; *p;) {
		size_t l = strcspn(p, ":");
		char *cand =
		    xasprintf("%.*s/%s", (int)(l ? l : 1), l ? p : ".", name);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
		p += l;
		if (*p == ':')
			p++;
	}
	return NULL;
}

/* The child's environment: the attached process's (an attached
 * production's, for its shadow), or the allowed part of umbra's
 * (PROV_ENV_ALLOW, never UMBRA_* or a secret), with HOME, USER and
 * LOGNAME of the side's own user, then the spec's rendered variables
 * added or replacing. */
char **prov__build_env(const prov_spec_t *s, const prov_vars_t *v)
{
	char **base = s->base_env ? s->base_env : environ;
	size_t nb = 0;
	while (base && base[nb])
		nb++;
	char **env = xcalloc(nb + s->nenv + 4, sizeof(char *));
	size_t n = 0;
	const prov_creds_t *c = &s->creds;
	const char *own[][2] = {{"HOME", c->home},
				{"USER", c->user},
				{"LOGNAME", c->user}};
	for (size_t i = 0; i < nb; i++) {
		if (!s->base_env && !prov__env_allowed(base[i]))
			continue;
		bool over = false;
		for (size_t k = 0; k < s->nenv && !over; k++) {
			size_t kl = strlen(s->env_keys[k]);
			over = !strncmp(base[i], s->env_keys[k], kl) &&
			       base[i][kl] == '=';
		}
		for (size_t k = 0; k < 3 && !over && c->user; k++) {
			size_t kl = strlen(own[k][0]);
			over = !strncmp(base[i], own[k][0], kl) &&
			       base[i][kl] == '=';
		}
		if (!over)
			env[n++] = xstrdup(base[i]);
	}
	for (size_t k = 0; k < 3 && c->user; k++) {
		bool spec = false;
		for (size_t j = 0; j < s->nenv && !spec; j++)
			spec = !strcmp(s->env_keys[j], own[k][0]);
		if (!spec)
			env[n++] = xasprintf("%s=%s", own[k][0], own[k][1]);
	}
	for (size_t k = 0; k < s->nenv; k++) {
		char *val = prov_render_str(s->env_vals[k], v);
		env[n++] = xasprintf("%s=%s", s->env_keys[k], val);
		free(val);
	}
	env[n] = NULL;
	return env;
}

static void replica_crashed(prov_replica_t *r, const char *why);
static void give_up(prov_replica_t *r, const char *why);
static void schedule_check(prov_replica_t *r, int64_t after_ns);
static void check_all_stopped(prov_t *p);

static void on_exit_cb(evutil_socket_t fd, short what, void *arg);
static void roll_next(prov_t *p);
static void roll_end(prov_t *p, bool ok, const char *why);

/* Renders the config directory replica r runs with, from its side's
 * templates, with its own {port} {replica} {config_dir}: every replica
 * of a production whose files use placeholders, and the shadow's and
 * baseline's replicas after the first (replica 0's copy is made by
 * prepare_files and prov__config_copy, and watched for drift). *dir
 * gets the directory (NULL: the side runs with no rendered copy). 0 or a
 * negative error with err set. */
static int render_replica(prov_t *p, const prov_spec_t *s, int index,
			  int port, char **dir, buf_t *err)
{
	*dir = prov_replica_config_dir(s, index);
	bool prod = s->render_dir && s->render_dir[0];
	if (!*dir || (!prod && index == 0))
		return 0;
	(void)p;
	char *src = prod ? xstrdup(s->config_src)
			 : xasprintf("%s/source", s->work_dir);
	prov_vars_t v = prov_spec_vars(s, index, port);
	v.config_dir = *dir;
	char *parent = xstrdup(*dir);
	char *slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	int rc = fs_mkdirs(parent, 0755);
	if (rc)
		buf_printf(err, "cannot create %s: %s", parent, err_str(rc));
	/* rendered beside it, then exchanged: a process reading its config
	 * at that moment sees the old files or the new, never half */
	char *fresh = xasprintf("%s.new", *dir);
	prov__rmtree(fresh);
	if (!rc)
		rc = prov__copytree(src, fresh, &v, err);
	if (!rc)
		rc = prov__creds_give(&s->creds, fresh, err);
	if (!rc && syscall(SYS_renameat2, AT_FDCWD, fresh, AT_FDCWD, *dir,
			   RENAME_EXCHANGE) != 0) {
		if (errno == ENOENT && rename(fresh, *dir) == 0) {
			free(fresh);
			free(parent);
			free(src);
			return 0;
		}
		rc = -errno;
		buf_printf(err, "cannot put %s in place: %s", *dir,
			   err_str(rc));
	}
	prov__rmtree(fresh); /* the old copy, or a failed one */
	free(fresh);
	free(parent);
	free(src);
	return rc;
}

int prov_render_production(prov_t *p, buf_t *err)
{
	const prov_spec_t *s = &p->spec[PROV_PRODUCTION];
	if (!s->render_dir || !s->render_dir[0])
		return 0;
	for (int i = 0; i < p->nrep[PROV_PRODUCTION]; i++) {
		prov_replica_t *r = p->rep[PROV_PRODUCTION][i];
		if (!r)
			continue;
		char *dir = NULL;
		int rc = render_replica(p, s, i, r->port, &dir, err);
		free(dir);
		if (rc)
			return rc;
	}
	return 0;
}

/* Forks and execs replica r. Failures before exec give up at once. */
static void replica_spawn(prov_replica_t *r)
{
	prov_t *p = r->p;
	const prov_spec_t *s = &p->spec[r->side];
	prov_vars_t v = prov_spec_vars(s, r->index, r->port);
	char *rdir = NULL;
	buf_t rerr = BUF_INIT;
	int rrc = render_replica(p, s, r->index, r->port, &rdir, &rerr);
	if (rdir)
		v.config_dir = rdir;
	child_plan_t c = {.ns_fd = -1, .parent = getpid(), .cwd = s->cwd};
	c.argv = xcalloc(s->argc + 1, sizeof(char *));
	for (size_t i = 0; i < s->argc; i++)
		c.argv[i] = prov_render_str(s->argv[i], &v);
	c.envp = prov__build_env(s, &v);
	c.exe = prov__find_exe(c.argv[0], c.envp, s->cwd);
	char why[256] = "";
	buf_t err = BUF_INIT;
	if (rrc)
		snprintf(why, sizeof(why), "cannot render its config: %s",
			 rerr.data ? rerr.data : err_str(rrc));
	else if (!c.exe)
		snprintf(why, sizeof(why),
			 "command not found: %s (searched the PATH of its "
			 "environment)",
			 c.argv[0]);
	else if (prov__cg_replica(&p->cg[r->side], r->index, c.procs, &c.nprocs,
				  &err))
		snprintf(why, sizeof(why), "%s", err.data);
	buf_free(&err);
	c.creds = &s->creds;
	c.caps = s->creds.caps;
	if (r->side != PROV_PRODUCTION && s->isolate && p->net.on) {
		c.ns_fd = p->net.ns_fd;
		/* never the means to leave its namespace */
		c.caps &= ~(1ULL << CAP_NET_ADMIN | 1ULL << CAP_SYS_ADMIN);
	}
	c.pdeathsig = r->side != PROV_PRODUCTION;
	int op[2] = {-1, -1}, ep[2] = {-1, -1}, rp[2] = {-1, -1};
	pid_t pid = -1;
	if (!why[0] && (pipe2(op, O_CLOEXEC) || pipe2(ep, O_CLOEXEC) ||
			pipe2(rp, O_CLOEXEC)))
		snprintf(why, sizeof(why), "pipe: %s", strerror(errno));
	if (!why[0]) {
		pid = fork();
		if (pid == 0)
			child_run(&c, op[1], ep[1], rp[1]);
		if (pid < 0)
			snprintf(why, sizeof(why), "fork: %s", strerror(errno));
	}
	for (int i = 0; i < 2; i++) {
		if (op[1] >= 0 && i == 0)
			close(op[1]);
		if (ep[1] >= 0 && i == 1)
			close(ep[1]);
	}
	if (rp[1] >= 0)
		close(rp[1]);
	int report[2] = {0, 0};
	if (pid > 0 && read(rp[0], report, sizeof(report)) == sizeof(report)) {
		int st;
		waitpid(pid, &st, 0);
		snprintf(why, sizeof(why), "%s: %s%s%s", stage_name(report[0]),
			 strerror(report[1]),
			 report[0] == STAGE_EXEC ? " (" : "",
			 report[0] == STAGE_EXEC ? c.exe : "");
		if (report[0] == STAGE_EXEC)
			strncat(why, ")", sizeof(why) - strlen(why) - 1);
		pid = -1;
	}
	if (rp[0] >= 0)
		close(rp[0]);
	free(c.exe);
	free(rdir);
	buf_free(&rerr);
	prov__strv_free(c.argv);
	prov__strv_free(c.envp);
	if (pid < 0) {
		if (op[0] >= 0)
			close(op[0]);
		if (ep[0] >= 0)
			close(ep[0]);
		give_up(r, why);
		return;
	}
	r->pid = pid;
	r->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	r->state = PROV_R_STARTING;
	r->started_ns = clock_mono_ns();
	r->fails = 0;
	prov__output_open(r, op[0], ep[0]);
	if (r->pidfd < 0) {
		/* Linux < 5.3: no pidfd. Poll with the check timer instead. */
		log_warn("provision", "pidfd_open failed; exits are polled",
			 LF_ERR("err", -errno));
	} else {
		r->ev_exit =
		    event_new(p->base, r->pidfd, EV_READ, on_exit_cb, r);
		event_add(r->ev_exit, NULL);
	}
	log_info("provision", "replica started",
		 LF_S("side", prov_side_name(r->side)),
		 LF_I("replica", r->index), LF_I("pid", pid),
		 LF_S("addr", r->addr));
	struct timeval tv = tv_of(s->start_timeout);
	event_add(r->ev_timer, &tv);
	schedule_check(
	    r, s->health_type == CONFIG_HEALTH_NONE ? 0 : PROV_START_POLL_NS);
	save_state(p);
}

/* ------------------------------------------------------------ exits */

static void describe_status(int st, char *out, size_t n)
{
	if (WIFEXITED(st))
		snprintf(out, n, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, n, "killed by signal %d (%s)%s", WTERMSIG(st),
			 strsignal(WTERMSIG(st)),
			 WCOREDUMP(st) ? ", core dumped" : "");
	else
		snprintf(out, n, "ended with wait status %d", st);
}

/* Common path after the main process is gone. */
static void replica_gone(prov_replica_t *r, const char *why)
{
	prov_t *p = r->p;
	prov__health_cancel(r);
	event_del(r->ev_check);
	event_del(r->ev_timer);
	if (r->ev_exit) {
		event_free(r->ev_exit);
		r->ev_exit = NULL;
	}
	if (r->pidfd >= 0)
		close(r->pidfd);
	r->pidfd = -1;
	kill_replica(r, SIGKILL); /* what is left of the group */
	prov__output_close(r);
	snprintf(r->last_exit, sizeof(r->last_exit), "%s", why);
	bool was_up = r->announced && !r->unhealthy;
	r->announced = false;
	r->unhealthy = false;
	if (r->state == PROV_R_STOPPING && r->restarting && !p->stopping &&
	    !r->removing) {
		/* Stopped by a rolling restart: start it again at once. A
		 * stop on purpose is not a crash. */
		if (was_up)
			emit(r, PROV_EV_DOWN, "restarting");
		log_info("provision", "replica stopped for a restart",
			 LF_S("side", prov_side_name(r->side)),
			 LF_I("replica", r->index), LF_I("pid", r->pid),
			 LF_S("how", why));
		r->pid = 0;
		r->state = PROV_R_IDLE;
		save_state(p);
		replica_spawn(r);
		return;
	}
	if (r->state == PROV_R_STOPPING || p->stopping || r->removing) {
		if (was_up)
			emit(r, PROV_EV_DOWN, "stopped");
		log_info("provision", "replica stopped",
			 LF_S("side", prov_side_name(r->side)),
			 LF_I("replica", r->index), LF_I("pid", r->pid),
			 LF_S("how", why));
		r->state = PROV_R_STOPPED;
		if (r->removing || p->stopping)
			emit(r, PROV_EV_REMOVED, "stopped");
		r->pid = 0;
		save_state(p);
		check_all_stopped(p);
		return;
	}
	if (was_up)
		emit(r, PROV_EV_DOWN, why);
	int pid = r->pid;
	r->pid = 0;
	save_state(p);
	if (!r->owned) {
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "the attached production process %d exited; umbra "
			 "does not restart what it does not own",
			 pid);
		give_up(r, msg);
		return;
	}
	replica_crashed(r, why);
}

static void on_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	prov_replica_t *r = arg;
	char why[128];
	if (!r->owned) {
		replica_gone(r, "exited");
		return;
	}
	int st;
	pid_t w = waitpid(r->pid, &st, WNOHANG);
	if (w == 0)
		return; /* not yet (spurious wake-up) */
	if (w < 0)
		snprintf(why, sizeof(why), "vanished (%s)", strerror(errno));
	else
		describe_status(st, why, sizeof(why));
	replica_gone(r, why);
}

/* True when r's restart belongs to the rolling restart in progress (a
 * baseline restarted by prov_baseline_sync is not part of a roll). */
static bool in_roll(const prov_replica_t *r)
{
	return r->p->roll.on && r->p->roll.side == r->side &&
	       r->p->roll.current == r->index;
}

static void give_up(prov_replica_t *r, const char *why)
{
	prov_t *p = r->p;
	r->state = PROV_R_FAILED;
	snprintf(r->last_exit, sizeof(r->last_exit), "%s", why);
	emit(r, PROV_EV_FAILED, why);
	if (r->restarting) {
		bool roll = in_roll(r);
		r->restarting = false;
		if (!roll) {
			check_all_stopped(p);
			return;
		}
		char msg[300];
		snprintf(msg, sizeof(msg), "replica %d did not come back: %.200s",
			 r->index, why);
		roll_end(p, false, msg);
	}
	check_all_stopped(p);
}

static void replica_crashed(prov_replica_t *r, const char *why)
{
	prov_t *p = r->p;
	const prov_spec_t *s = &p->spec[r->side];
	int64_t now = clock_mono_ns();
	/* Keep the crashes inside the window, then add this one. */
	int k = 0;
	for (int i = 0; i < r->ncrash; i++)
		if (now - r->crashes[i] < s->restart_window)
			r->crashes[k++] = r->crashes[i];
	r->crashes[k++] = now;
	r->ncrash = k;
	if (r->ncrash >= s->restart_max) {
		char msg[512], w[UNITS_FMT_LEN];
		snprintf(msg, sizeof(msg),
			 "crash loop: %d crashes within %s (restart.max %d), "
			 "last: %s; giving up on this replica (fix the cause, "
			 "then restart umbra)",
			 r->ncrash, units_fmt_duration(s->restart_window, w),
			 s->restart_max, why);
		give_up(r, msg);
		return;
	}
	int64_t delay = prov_backoff(s->backoff, s->backoff_max, r->ncrash);
	char d[UNITS_FMT_LEN];
	log_warn("provision", "replica crashed; restarting after backoff",
		 LF_S("side", prov_side_name(r->side)),
		 LF_I("replica", r->index), LF_S("why", why),
		 LF_S("backoff", units_fmt_duration(delay, d)),
		 LF_I("crashes_in_window", r->ncrash));
	r->state = PROV_R_BACKOFF;
	struct timeval tv = tv_of(delay);
	event_add(r->ev_timer, &tv);
}

/* ------------------------------------------------------------ health */

static void on_check(evutil_socket_t fd, short what, void *arg)
{
	prov_replica_t *r = arg;
	if (r->state != PROV_R_STARTING && r->state != PROV_R_UP)
		return;
	if (r->pidfd < 0 && r->owned && r->pid > 0) {
		/* No pidfd: poll for the exit here. */
		int st;
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			char why[128];
			describe_status(st, why, sizeof(why));
			replica_gone(r, why);
			return;
		}
	}
	if (r->p->spec[r->side].health_type == CONFIG_HEALTH_NONE) {
		prov__health_done(r, true, NULL);
		return;
	}
	int rc = prov__health_start(r);
	if (rc)
		prov__health_done(r, false, err_str(rc));
}

static void schedule_check(prov_replica_t *r, int64_t after_ns)
{
	struct timeval tv = tv_of(after_ns);
	event_add(r->ev_check, &tv);
}

void prov__health_done(prov_replica_t *r, bool ok, const char *why)
{
	const prov_spec_t *s = &r->p->spec[r->side];
	if (r->state == PROV_R_STARTING) {
		if (!ok) {
			schedule_check(r, PROV_START_POLL_NS);
			return;
		}
		event_del(r->ev_timer); /* the start timeout */
		r->state = PROV_R_UP;
		r->announced = true;
		r->fails = 0;
		emit(r, PROV_EV_UP, "passed its health check");
		schedule_check(r, s->health_interval);
		if (r->restarting) {
			bool roll = in_roll(r);
			r->restarting = false;
			if (roll)
				roll_next(r->p);
		}
		return;
	}
	if (r->state != PROV_R_UP)
		return;
	if (ok) {
		r->fails = 0;
		if (r->unhealthy) {
			r->unhealthy = false;
			emit(r, PROV_EV_UP, "healthy again");
		}
	} else if (++r->fails == PROV_HEALTH_FAILS && !r->unhealthy) {
		r->unhealthy = true;
		char msg[160];
		snprintf(msg, sizeof(msg), "%d health checks failed: %s",
			 r->fails, why ? why : "?");
		emit(r, PROV_EV_DOWN, msg);
	}
	schedule_check(r, s->health_interval);
}

/* ------------------------------------------------------------ timers */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	prov_replica_t *r = arg;
	const prov_spec_t *s = &r->p->spec[r->side];
	char d[UNITS_FMT_LEN];
	switch (r->state) {
	case PROV_R_STARTING:
		log_error("provision",
			  "replica did not pass its health check within "
			  "start_timeout; killing it",
			  LF_S("side", prov_side_name(r->side)),
			  LF_I("replica", r->index), LF_S("addr", r->addr),
			  LF_S("start_timeout",
			       units_fmt_duration(s->start_timeout, d)));
		kill_replica(r, SIGKILL);
		break;
	case PROV_R_BACKOFF:
		replica_spawn(r);
		break;
	case PROV_R_STOPPING:
		log_warn(
		    "provision",
		    "replica did not stop within stop_grace; SIGKILL",
		    LF_S("side", prov_side_name(r->side)),
		    LF_I("replica", r->index), LF_I("pid", r->pid),
		    LF_S("stop_grace", units_fmt_duration(s->stop_grace, d)));
		kill_replica(r, SIGKILL);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------ replicas */

static int pick_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(sa);
	int port = 0;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &l) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static prov_replica_t *replica_new(prov_t *p, prov_side_t side, int i)
{
	const prov_spec_t *s = &p->spec[side];
	prov_replica_t *r = xcalloc(1, sizeof(*r));
	r->p = p;
	r->side = side;
	r->index = i;
	r->owned = !s->attached;
	r->pidfd = -1;
	r->out[0].fd = r->out[1].fd = -1;
	r->port = s->port ? s->port + i : pick_port();
	r->crashes = xcalloc((size_t)s->restart_max + 1, sizeof(int64_t));
	addr_t a = {.port = (uint16_t)r->port};
	snprintf(a.host, sizeof(a.host), "%s", s->host);
	addr_format(&a, r->addr);
	r->salen = sizeof(r->sa);
	if (addr_resolve(&a, &r->sa, &r->salen))
		r->salen = 0;
	r->ev_timer = evtimer_new(p->base, on_timer, r);
	r->ev_check = evtimer_new(p->base, on_check, r);
	p->rep[side][i] = r;
	return r;
}

static void replica_free(prov_replica_t *r)
{
	prov__health_cancel(r);
	prov__output_close(r);
	if (r->ev_exit)
		event_free(r->ev_exit);
	event_free(r->ev_timer);
	event_free(r->ev_check);
	if (r->pidfd >= 0)
		close(r->pidfd);
	free(r->crashes);
	free(r);
}

static void replica_stop(prov_replica_t *r)
{
	const prov_spec_t *s = &r->p->spec[r->side];
	switch (r->state) {
	case PROV_R_STARTING:
	case PROV_R_UP:
		if (!r->owned) { /* not ours to stop: just stop watching */
			prov__health_cancel(r);
			event_del(r->ev_check);
			if (r->announced)
				emit(r, PROV_EV_DOWN, "umbra stopping");
			r->announced = false;
			r->state = PROV_R_STOPPED;
			emit(r, PROV_EV_REMOVED, "umbra stopping");
			return;
		}
		if (r->announced && !r->unhealthy)
			emit(r, PROV_EV_DOWN, "stopping");
		r->announced = false;
		r->state = PROV_R_STOPPING;
		prov__health_cancel(r);
		event_del(r->ev_check);
		event_del(r->ev_timer);
		kill_replica(r, s->stop_signal);
		struct timeval tv = tv_of(s->stop_grace);
		event_add(r->ev_timer, &tv);
		return;
	case PROV_R_STOPPING:
		return;
	default:
		event_del(r->ev_timer);
		event_del(r->ev_check);
		if (r->state != PROV_R_STOPPED && r->state != PROV_R_FAILED &&
		    (r->removing || r->p->stopping))
			emit(r, PROV_EV_REMOVED, "stopped before it ran");
		r->state =
		    r->state == PROV_R_FAILED ? PROV_R_FAILED : PROV_R_STOPPED;
		return;
	}
}

/* ------------------------------------------------------------ limits */

/* The shadow's squeeze (stress tests) applied to its computed limits:
 * a share of each, CPU at least the kernel's smallest quota, memory at
 * least 4 MiB (below that a process cannot even start). */
#define PROV_SQUEEZE_MEM_MIN (4u << 20)
static void squeeze(prov_t *p)
{
	double c = p->squeeze_cpu > 0 ? p->squeeze_cpu : 1;
	double m = p->squeeze_mem > 0 ? p->squeeze_mem : 1;
	double min_cpu = (double)PROV_CPU_MIN_QUOTA_US / PROV_CPU_PERIOD_US;
	prov_limits_t *lim[2] = {&p->side_lim[PROV_SHADOW],
				 &p->rep_lim[PROV_SHADOW]};
	for (int i = 0; i < 2; i++) {
		if (lim[i]->cpu > 0 && c < 1) {
			lim[i]->cpu *= c;
			if (lim[i]->cpu < min_cpu)
				lim[i]->cpu = min_cpu;
		}
		if (lim[i]->mem > 0 && m < 1) {
			lim[i]->mem = (uint64_t)((double)lim[i]->mem * m);
			if (lim[i]->mem < PROV_SQUEEZE_MEM_MIN)
				lim[i]->mem = PROV_SQUEEZE_MEM_MIN;
		}
	}
}

static int apply_limits(prov_t *p, buf_t *err)
{
	prov_limits_share(p->prod_replica, p->nrep[PROV_PRODUCTION],
			  p->cfg->shadow.ratio, p->cfg->shadow.memory_min,
			  p->nrep[PROV_SHADOW], p->side_lim, p->rep_lim);
	squeeze(p);
	for (int s = 0; s < PROV_SIDES; s++) {
		if (!p->spec[s].run || !p->cg[s].on)
			continue;
		/* v1 refuses a child quota above its parent's: clear the
		 * replicas first (every replica-* group, a removed replica's
		 * left from an earlier scale-up too), then set the total,
		 * then the replicas. */
		int rc = prov__cg_v1_lift_children(&p->cg[s], err);
		prov_limits_t none = {0, 0};
		for (int i = 0; i < p->nrep[s] && !rc; i++) {
			char paths[PROV_CG_MAX_PROCS_FILES]
				  [CGROUP_PATH_MAX + 64];
			int n;
			if (!p->rep[s][i])
				continue;
			rc = prov__cg_replica(&p->cg[s], i, paths, &n, err);
			if (!rc)
				rc = prov__cg_limit(&p->cg[s], i, none, err);
		}
		if (!rc)
			rc = prov__cg_limit(&p->cg[s], -1, p->side_lim[s], err);
		for (int i = 0; i < p->nrep[s] && !rc; i++)
			if (p->rep[s][i])
				rc = prov__cg_limit(&p->cg[s], i, p->rep_lim[s],
						    err);
		if (rc)
			return rc;
		char c[32], m[UNITS_FMT_LEN];
		snprintf(c, sizeof(c), "%.3g", p->side_lim[s].cpu);
		if (p->side_lim[s].cpu || p->side_lim[s].mem)
			log_info(
			    "provision", "cgroup limits set",
			    LF_S("side", prov_side_name((prov_side_t)s)),
			    LF_S("cpu_cores", p->side_lim[s].cpu ? c : "none"),
			    LF_S("memory",
				 p->side_lim[s].mem
				     ? units_fmt_size(p->side_lim[s].mem, m)
				     : "none"),
			    LF_I("replicas", p->nrep[s]),
			    LF_I("cgroup_version",
				 p->cg[s].ver[CGROUP_CPU]
				     ? p->cg[s].ver[CGROUP_CPU]
				     : p->cg[s].ver[CGROUP_MEMORY]));
	}
	return 0;
}

/* Re-reads an attached production's cgroup limits; the shadow follows. */
static void on_follow(evutil_socket_t fd, short what, void *arg)
{
	prov_t *p = arg;
	prov_limits_t l;
	if (prov__cg_read_limits(p->attach_cpu, p->attach_cpu_ver,
				 p->attach_mem, p->attach_mem_ver, &l) == 0 &&
	    (l.cpu != p->prod_replica.cpu || l.mem != p->prod_replica.mem)) {
		log_info("provision",
			 "the attached production's cgroup limits changed; the "
			 "shadow's follow");
		prov_set_limits(p, l);
	}
}

/* ------------------------------------------------------------ public */

int prov_new(const config_t *cfg, struct event_base *base,
	     const prov_hooks_t *hooks, prov_t **out, buf_t *err)
{
	prov_t *p = xcalloc(1, sizeof(*p));
	p->cfg = cfg;
	p->base = base;
	p->squeeze_cpu = p->squeeze_mem = 1;
	p->roll.current = -1;
	if (hooks)
		p->hooks = *hooks;
	p->net.ns_fd = -1;
	p->net.fwd_prev = -1;
	p->lock_fd = -1;
	int rc = prov_spec_build(cfg, PROV_PRODUCTION, NULL, NULL,
				 &p->spec[PROV_PRODUCTION], err);
	if (!rc)
		rc =
		    prov_spec_build(cfg, PROV_SHADOW, &p->spec[PROV_PRODUCTION],
				    NULL, &p->spec[PROV_SHADOW], err);
	if (!rc)
		rc = prov_spec_build(cfg, PROV_BASELINE,
				     &p->spec[PROV_PRODUCTION], NULL,
				     &p->spec[PROV_BASELINE], err);
	if (rc) {
		prov_spec_free(&p->spec[PROV_PRODUCTION]);
		prov_spec_free(&p->spec[PROV_SHADOW]);
		free(p);
		*out = NULL;
		return rc;
	}
	p->prod_replica = (prov_limits_t){p->spec[PROV_PRODUCTION].cpu,
					  p->spec[PROV_PRODUCTION].mem};
	*out = p;
	return 0;
}

/* Kills leftovers of a previous run found in the side's groups. */
static void kill_stale(prov_t *p, prov_side_t side)
{
	int pids[PROV_MAX_PIDS];
	size_t n = prov__cg_pids(&p->cg[side], -1, pids, PROV_MAX_PIDS);
	if (!n)
		return;
	log_warn("provision",
		 "processes of an earlier umbra run are still in this side's "
		 "cgroups; stopping them",
		 LF_S("side", prov_side_name(side)), LF_U("processes", n),
		 LF_I("first_pid", pids[0]));
	for (size_t i = 0; i < n; i++)
		kill(pids[i], p->spec[side].stop_signal);
	wait_empty(&p->cg[side], -1, PROV_STALE_WAIT_NS);
	n = prov__cg_pids(&p->cg[side], -1, pids, PROV_MAX_PIDS);
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	wait_empty(&p->cg[side], -1, PROV_DRAIN_WAIT_NS);
}

/* Makes the work dir of side (shadow or baseline), its config copy
 * (rendered) with its template snapshot, and data dir (a copy, or
 * empty). For the baseline, remembers the digest of the files it was
 * copied from (prov_baseline_sync compares production's with it). */
static int prepare_files(prov_t *p, prov_side_t side, buf_t *err)
{
	const prov_spec_t *s = &p->spec[side];
	const prov_spec_t *pr = &p->spec[PROV_PRODUCTION];
	int rc = fs_mkdirs(s->work_dir, 0755);
	if (rc) {
		buf_printf(err, "shadow.work_dir: cannot create %s: %s",
			   s->work_dir, err_str(rc));
		return rc;
	}
	/* umbra's: the shadow's user may pass through to its own config
	 * and data, not list or read the rest (state, the lock, source) */
	if (s->creds.set && chmod(s->work_dir, 0711)) {
		rc = -errno;
		buf_printf(err, "shadow.work_dir: cannot chmod %s: %s",
			   s->work_dir, err_str(rc));
		return rc;
	}
	rc = prov__creds_reach(&s->creds, s->work_dir, err);
	if (rc)
		return rc;
	if (s->copy_config) {
		char *src = xasprintf("%s/source", s->work_dir);
		prov__rmtree(src);
		prov__rmtree(s->config_dir);
		prov_vars_t v = prov_spec_vars(
		    s, 0, p->rep[side][0] ? p->rep[side][0]->port : s->port);
		rc = prov__copytree(s->config_src, src, NULL, err);
		if (!rc)
			rc = prov__copytree(src, s->config_dir, &v, err);
		if (!rc)
			rc = prov__creds_give(&s->creds, s->config_dir, err);
		if (!rc && side == PROV_BASELINE)
			rc = prov__tree_sum(src, p->baseline_sum);
		if (rc && !err->len)
			buf_printf(err, "cannot read %s: %s", src,
				   err_str(rc));
		free(src);
		if (rc)
			return rc;
	}
	if (s->data_dir[0]) {
		prov__rmtree(s->data_dir);
		rc = s->copy_data
			 ? prov__copytree(pr->data_dir, s->data_dir, NULL, err)
			 : fs_mkdirs(s->data_dir, 0755);
		if (rc && !err->len)
			buf_printf(err, "cannot create %s: %s", s->data_dir,
				   err_str(rc));
		if (!rc)
			rc = prov__creds_give(&s->creds, s->data_dir, err);
	}
	return rc;
}

static void teardown(prov_t *p)
{
	if (p->torn_down)
		return;
	p->torn_down = true;
	for (int s = 0; s < PROV_SIDES; s++) {
		if (!p->cg[s].on)
			continue;
		int pids[PROV_MAX_PIDS];
		size_t n = prov__cg_pids(&p->cg[s], -1, pids, PROV_MAX_PIDS);
		for (size_t i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		wait_empty(&p->cg[s], -1, PROV_DRAIN_WAIT_NS);
		prov__cg_remove(&p->cg[s], -1);
	}
	prov__net_teardown(&p->net);
	if (p->spec[PROV_SHADOW].work_dir) {
		char *st = xasprintf("%s/state", p->spec[PROV_SHADOW].work_dir);
		unlink(st);
		free(st);
	}
}

/* Takes <work_dir>/lock, so that a second umbra for the same service does
 * not take the first one's replicas for leftovers and kill them. */
static int take_lock(prov_t *p, buf_t *err)
{
	const char *wd = p->spec[PROV_SHADOW].work_dir;
	int rc = fs_mkdirs(wd, 0755);
	if (rc) {
		buf_printf(err, "shadow.work_dir: cannot create %s: %s", wd,
			   err_str(rc));
		return rc;
	}
	char *path = xasprintf("%s/lock", wd);
	p->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	rc = p->lock_fd < 0 ? -errno : 0;
	if (!rc && flock(p->lock_fd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? ERR_EXISTS : -errno;
		if (rc == ERR_EXISTS)
			buf_printf(err,
				   "another umbra is running this service "
				   "(%s is locked); stop it first",
				   path);
	}
	if (rc && !err->len)
		buf_printf(err, "cannot lock %s: %s", path, err_str(rc));
	if (rc && p->lock_fd >= 0) {
		close(p->lock_fd);
		p->lock_fd = -1;
	}
	free(path);
	return rc;
}

int prov_start(prov_t *p, buf_t *err)
{
	if (p->started)
		return ERR_BADSTATE;
	int rc = take_lock(p, err);
	if (rc)
		return rc;
	rc = cgroup_discover(&p->cgsys, NULL);
	if (rc)
		log_warn("provision",
			 "cannot read the cgroup mounts; running "
			 "without cgroups",
			 LF_ERR("err", rc));
	p->started = true;
	/* Replicas first: their ports are what configs render. */
	for (int s = 0; s < PROV_SIDES; s++) {
		const prov_spec_t *sp = &p->spec[s];
		if (!sp->run && !sp->attached)
			continue;
		p->nrep[s] = sp->replicas;
		for (int i = 0; i < sp->replicas; i++)
			replica_new(p, (prov_side_t)s, i);
	}
	const prov_spec_t *pr = &p->spec[PROV_PRODUCTION];
	if (pr->attached) {
		/* Production's limits are those of the attached group. */
		const char *cg = p->cfg->production.attach.cgroup;
		int vc = cgroup_version_for(&p->cgsys, CGROUP_CPU);
		int vm = cgroup_version_for(&p->cgsys, CGROUP_MEMORY);
		if (cg[0]) {
			snprintf(p->attach_cpu, sizeof(p->attach_cpu), "%s",
				 cg);
			snprintf(p->attach_mem, sizeof(p->attach_mem), "%s",
				 cg);
		} else {
			if (vc &&
			    cgroup_dir_of(&p->cgsys, CGROUP_CPU, pr->attach_pid,
					  NULL, p->attach_cpu))
				p->attach_cpu[0] = '\0';
			if (vm &&
			    cgroup_dir_of(&p->cgsys, CGROUP_MEMORY,
					  pr->attach_pid, NULL, p->attach_mem))
				p->attach_mem[0] = '\0';
		}
		p->attach_cpu_ver = vc;
		p->attach_mem_ver = vm;
		prov_limits_t l;
		if (prov__cg_read_limits(p->attach_cpu, vc, p->attach_mem, vm,
					 &l) == 0)
			p->prod_replica = l;
		p->ev_follow = event_new(p->base, -1, EV_PERSIST, on_follow, p);
		struct timeval tv = tv_of(p->cfg->drift.interval);
		event_add(p->ev_follow, &tv);
	}
	prov_limits_share(p->prod_replica, p->nrep[PROV_PRODUCTION],
			  p->cfg->shadow.ratio, p->cfg->shadow.memory_min,
			  p->nrep[PROV_SHADOW], p->side_lim, p->rep_lim);
	squeeze(p);
	if (p->spec[PROV_SHADOW].run &&
	    (rc = prepare_files(p, PROV_SHADOW, err)))
		goto fail;
	if (p->spec[PROV_BASELINE].run &&
	    (rc = prepare_files(p, PROV_BASELINE, err)))
		goto fail;
	for (int s = 0; s < PROV_SIDES; s++) {
		if (!p->spec[s].run)
			continue;
		bool need = p->side_lim[s].cpu > 0 || p->side_lim[s].mem > 0;
		if (need && !p->cgsys.v2[0] && !p->cgsys.v1[CGROUP_CPU][0] &&
		    !p->cgsys.v1[CGROUP_MEMORY][0]) {
			buf_puts(err, "limits are configured but no cgroup "
				      "hierarchy is mounted");
			rc = ERR_UNSUPPORTED;
			goto fail;
		}
		buf_t e2 = BUF_INIT;
		rc = prov__cg_setup(
		    &p->cg[s], &p->cgsys, p->cfg->production.cgroup_parent,
		    p->spec[s].service, (prov_side_t)s, need, true, &e2);
		if (rc) {
			buf_printf(err, "%s: %s",
				   prov_side_name((prov_side_t)s), e2.data);
			buf_free(&e2);
			goto fail;
		}
		buf_free(&e2);
		kill_stale(p, (prov_side_t)s);
	}
	if ((rc = apply_limits(p, err)))
		goto fail;
	/* The baseline shares the shadow's namespace (its own port). */
	bool isolate = (p->spec[PROV_SHADOW].run &&
			p->spec[PROV_SHADOW].isolate) ||
		       (p->spec[PROV_BASELINE].run &&
			p->spec[PROV_BASELINE].isolate);
	if (isolate) {
		rc = prov__net_plan(&p->net, p->spec[PROV_SHADOW].service,
				    p->cfg->shadow.netns_subnet, err);
		snprintf(p->net.fwd_mark, sizeof(p->net.fwd_mark),
			 "%s/ip_forward.was-0", p->spec[PROV_SHADOW].work_dir);
		if (!rc)
			rc = prov__net_setup(
			    &p->net, &p->cfg->shadow.allow_outbound, err);
		if (rc)
			goto fail;
		log_info(
		    "provision", "shadow network namespace ready",
		    LF_S("netns", p->net.ns), LF_S("veth", p->net.host_if),
		    LF_S("shadow_ip", p->net.ns_ip),
		    LF_U("allowed_outbound", p->cfg->shadow.allow_outbound.n));
	}
	for (int s = 0; s < PROV_SIDES; s++) {
		for (int i = 0; i < p->nrep[s]; i++) {
			prov_replica_t *r = p->rep[s][i];
			if (r->owned) {
				replica_spawn(r);
				continue;
			}
			/* attached: watch and check, never start */
			r->pid = p->spec[s].attach_pid;
			r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
			if (r->pidfd >= 0) {
				r->ev_exit = event_new(p->base, r->pidfd,
						       EV_READ, on_exit_cb, r);
				event_add(r->ev_exit, NULL);
			}
			r->state = PROV_R_STARTING;
			schedule_check(r, 0);
		}
	}
	save_state(p);
	return 0;
fail:
	for (int s = 0; s < PROV_SIDES; s++)
		for (int i = 0; i < PROV_MAX_REPLICAS; i++)
			if (p->rep[s][i]) {
				replica_free(p->rep[s][i]);
				p->rep[s][i] = NULL;
			}
	memset(p->nrep, 0, sizeof(p->nrep));
	teardown(p);
	return rc;
}

int prov_set_replicas(prov_t *p, prov_side_t side, int n)
{
	if (n < 1 || n > PROV_MAX_REPLICAS)
		return ERR_RANGE;
	if (!p->started || p->stopping || !p->spec[side].run ||
	    side == PROV_BASELINE)
		return ERR_BADSTATE;
	int cur = p->nrep[side];
	for (int i = cur; i < n; i++)
		if (p->rep[side][i] && p->rep[side][i]->state != PROV_R_STOPPED)
			return ERR_BADSTATE; /* still stopping from a scale-down */
	log_info("provision", "scaling", LF_S("side", prov_side_name(side)),
		 LF_I("from", cur), LF_I("to", n));
	for (int i = n; i < cur; i++) {
		prov_replica_t *r = p->rep[side][i];
		r->removing = true;
		replica_stop(r);
	}
	for (int i = cur; i < n; i++) {
		if (p->rep[side][i]) {
			replica_free(p->rep[side][i]);
			p->rep[side][i] = NULL;
		}
		replica_new(p, side, i);
	}
	p->nrep[side] = n;
	buf_t err = BUF_INIT;
	int rc = apply_limits(p, &err);
	if (rc)
		log_error("provision", "cannot apply limits after scaling",
			  LF_S("why", err.data));
	buf_free(&err);
	for (int i = cur; i < n; i++)
		replica_spawn(p->rep[side][i]);
	return rc;
}

int prov_set_limits(prov_t *p, prov_limits_t per_replica)
{
	p->prod_replica = per_replica;
	buf_t err = BUF_INIT;
	int rc = apply_limits(p, &err);
	if (rc)
		log_error("provision", "cannot apply limits",
			  LF_S("why", err.data));
	buf_free(&err);
	return rc;
}

int prov_squeeze_shadow(prov_t *p, double cpu_share, double mem_share)
{
	if (!(cpu_share > 0 && cpu_share <= 1) ||
	    !(mem_share > 0 && mem_share <= 1))
		return ERR_RANGE;
	if (!p->started || p->stopping || !p->spec[PROV_SHADOW].run ||
	    !p->cg[PROV_SHADOW].on)
		return ERR_BADSTATE;
	p->squeeze_cpu = cpu_share;
	p->squeeze_mem = mem_share;
	buf_t err = BUF_INIT;
	int rc = apply_limits(p, &err);
	if (rc)
		log_error("provision", "cannot squeeze the shadow's limits",
			  LF_S("why", err.data));
	buf_free(&err);
	return rc;
}

/* ------------------------------------------------------------ restarts */

void prov__replica_restart(prov_replica_t *r)
{
	switch (r->state) {
	case PROV_R_STARTING:
	case PROV_R_UP:
		r->restarting = true;
		replica_stop(r);
		return;
	case PROV_R_STOPPING:
		/* on its way down already: start it again when it is */
		if (!r->removing)
			r->restarting = true;
		return;
	case PROV_R_FAILED:
		/* a new config may cure a crash loop: a fresh count */
		r->ncrash = 0;
		/* fall through */
	case PROV_R_IDLE:
	case PROV_R_BACKOFF:
		event_del(r->ev_timer);
		replica_spawn(r);
		return;
	case PROV_R_STOPPED:
		return;
	}
}

static void on_roll_done(evutil_socket_t fd, short what, void *arg)
{
	prov_t *p = arg;
	prov_restart_cb cb = p->roll.done;
	void *cb_arg = p->roll.arg;
	bool ok = p->roll.ok;
	char why[256];
	snprintf(why, sizeof(why), "%s", p->roll.why);
	p->roll.done = NULL;
	if (cb)
		cb(ok, why, cb_arg);
}

static void roll_end(prov_t *p, bool ok, const char *why)
{
	if (!p->roll.on)
		return;
	p->roll.on = false;
	p->roll.current = -1;
	p->roll.ok = ok;
	snprintf(p->roll.why, sizeof(p->roll.why), "%s", why ? why : "");
	if (ok)
		log_info("provision", "rolling restart done",
			 LF_S("side", prov_side_name(p->roll.side)));
	else
		log_error("provision", "rolling restart stopped",
			  LF_S("side", prov_side_name(p->roll.side)),
			  LF_S("why", p->roll.why));
	if (!p->ev_roll)
		p->ev_roll = event_new(p->base, -1, 0, on_roll_done, p);
	event_active(p->ev_roll, EV_TIMEOUT, 0);
}

/* Restarts the next replica of the roll, or ends it. */
static void roll_next(prov_t *p)
{
	if (!p->roll.on)
		return;
	if (p->stopping) {
		roll_end(p, false, "umbra is stopping");
		return;
	}
	prov_side_t side = p->roll.side;
	while (p->roll.next < p->nrep[side]) {
		prov_replica_t *r = p->rep[side][p->roll.next++];
		/* A given-up replica is re-armed: the roll brings a new
		 * config (a withdrawn candidate, a restored one), which may
		 * cure its crash loop; skipping it would leave the side down
		 * for good while the roll reported success. */
		if (!r || r->state == PROV_R_STOPPED ||
		    r->state == PROV_R_STOPPING || r->removing)
			continue;
		if (r->state == PROV_R_FAILED)
			r->ncrash = 0; /* a fresh count */
		p->roll.current = r->index;
		r->restarting = true;
		log_info("provision", "rolling restart: replica",
			 LF_S("side", prov_side_name(side)),
			 LF_I("replica", r->index), LF_I("of", p->nrep[side]));
		if (r->state == PROV_R_STARTING || r->state == PROV_R_UP) {
			replica_stop(r);
		} else {
			/* Waiting to start (backoff, idle) or given up:
			 * start it now. */
			event_del(r->ev_timer);
			replica_spawn(r);
		}
		return;
	}
	roll_end(p, true, "");
}

int prov_rolling_restart(prov_t *p, prov_side_t side, prov_restart_cb done,
			 void *arg)
{
	if (!p->started || p->stopping || !p->spec[side].run || p->roll.on)
		return ERR_BADSTATE;
	p->roll.on = true;
	p->roll.side = side;
	p->roll.next = 0;
	p->roll.current = -1;
	p->roll.done = done;
	p->roll.arg = arg;
	p->roll.why[0] = '\0';
	log_info("provision", "rolling restart: one replica at a time",
		 LF_S("side", prov_side_name(side)),
		 LF_I("replicas", p->nrep[side]));
	roll_next(p);
	return 0;
}

bool prov_restart_rolling(const prov_t *p)
{
	return p->roll.on;
}

int prov_signal(prov_t *p, prov_side_t side, int sig)
{
	int n = 0;
	if (side == PROV_PRODUCTION) {
		/* a reload reads the templates as they are now */
		buf_t err = BUF_INIT;
		int rc = prov_render_production(p, &err);
		if (rc)
			log_error("provision",
				  "cannot render production's config; "
				  "signalling it anyway (it re-reads the "
				  "last rendered copy)",
				  LF_S("why", err.data ? err.data : ""),
				  LF_ERR("err", rc));
		buf_free(&err);
	}
	for (int i = 0; i < p->nrep[side]; i++) {
		prov_replica_t *r = p->rep[side][i];
		if (!r || r->pid <= 0 ||
		    (r->state != PROV_R_STARTING && r->state != PROV_R_UP))
			continue;
		if (kill(r->pid, sig) == 0) {
			n++;
			log_info("provision", "signalled a replica",
				 LF_S("side", prov_side_name(side)),
				 LF_I("replica", i), LF_I("pid", r->pid),
				 LF_S("signal", strsignal(sig)));
		} else {
			log_warn("provision", "cannot signal a replica",
				 LF_S("side", prov_side_name(side)),
				 LF_I("replica", i), LF_I("pid", r->pid),
				 LF_ERR("err", -errno));
		}
	}
	return n ? n : ERR_BADSTATE;
}

int prov_replica_up_count(const prov_t *p, prov_side_t side)
{
	int n = 0;
	for (int i = 0; i < p->nrep[side]; i++) {
		const prov_replica_t *r = p->rep[side][i];
		if (r && r->state == PROV_R_UP && !r->unhealthy)
			n++;
	}
	return n;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	prov_t *p = arg;
	prov_done_cb cb = p->done;
	p->done = NULL;
	if (cb)
		cb(p->done_arg); /* may free p: touch nothing after */
}

static void check_all_stopped(prov_t *p)
{
	if (!p->stopping)
		return;
	for (int s = 0; s < PROV_SIDES; s++)
		for (int i = 0; i < PROV_MAX_REPLICAS; i++) {
			prov_replica_t *r = p->rep[s][i];
			if (r && r->state != PROV_R_STOPPED &&
			    r->state != PROV_R_FAILED)
				return;
		}
	teardown(p);
	log_info("provision", "everything stopped");
	if (!p->ev_done)
		p->ev_done = event_new(p->base, -1, 0, on_done, p);
	event_active(p->ev_done, EV_TIMEOUT, 0);
}

void prov_stop(prov_t *p, prov_done_cb done, void *arg)
{
	if (p->stopping) {
		log_warn("provision", "second stop request: killing every "
				      "replica now");
		for (int s = 0; s < PROV_SIDES; s++)
			for (int i = 0; i < PROV_MAX_REPLICAS; i++)
				if (p->rep[s][i] &&
				    p->rep[s][i]->state == PROV_R_STOPPING)
					kill_replica(p->rep[s][i], SIGKILL);
		return;
	}
	p->stopping = true;
	p->done = done;
	p->done_arg = arg;
	roll_end(p, false, "umbra is stopping");
	if (p->ev_follow)
		event_del(p->ev_follow);
	log_info("provision", "stopping every replica");
	for (int s = 0; s < PROV_SIDES; s++)
		for (int i = 0; i < PROV_MAX_REPLICAS; i++)
			if (p->rep[s][i])
				replica_stop(p->rep[s][i]);
	check_all_stopped(p);
}

void prov_free(prov_t *p)
{
	if (!p)
		return;
	for (int s = 0; s < PROV_SIDES; s++)
		for (int i = 0; i < PROV_MAX_REPLICAS; i++) {
			prov_replica_t *r = p->rep[s][i];
			if (!r)
				continue;
			if (r->owned && r->pid > 0) {
				kill_replica(r, SIGKILL);
				int st;
				while (waitpid(r->pid, &st, 0) < 0 &&
				       errno == EINTR)
					;
			}
			replica_free(r);
		}
	if (p->started)
		teardown(p);
	if (p->ev_done)
		event_free(p->ev_done);
	if (p->ev_follow)
		event_free(p->ev_follow);
	if (p->ev_roll)
		event_free(p->ev_roll);
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	for (int s = 0; s < PROV_SIDES; s++)
		prov_spec_free(&p->spec[s]);
	free(p);
}

int prov_replica_count(const prov_t *p, prov_side_t side)
{
	return p->nrep[side];
}

bool prov_side_failed(const prov_t *p, prov_side_t side)
{
	if (p->nrep[side] == 0)
		return false;
	for (int i = 0; i < p->nrep[side]; i++)
		if (!p->rep[side][i] || p->rep[side][i]->state != PROV_R_FAILED)
			return false;
	return true;
}

const prov_spec_t *prov_spec(const prov_t *p, prov_side_t side)
{
	return &p->spec[side];
}

prov_limits_t prov_side_limits(const prov_t *p, prov_side_t side)
{
	return p->side_lim[side];
}
