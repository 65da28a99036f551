/*
 * cmdrun.c: external commands the engine runs (production.reload.command,
 * mitigation.scale.hook) without blocking the tick: fork and exec into a
 * new process group, output into a non-blocking pipe, then one poll per
 * tick (waitpid on that pid only, never -1, so other modules' children
 * are left alone), killed after MIT_CMD_TIMEOUT_NS.
 */
#include "mitigate/mit_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int mit__cmd_start(mit_cmd_t *c, const char *what, char *const *argv,
		   char *const *env_add)
{
	memset(c, 0, sizeof(*c));
	c->out_fd = -1;
	snprintf(c->what, sizeof(c->what), "%s", what);
	int p[2], e[2];
	if (pipe2(p, O_CLOEXEC))
		goto fail_early;
	/* A second pipe reports exec failures (CLOEXEC: closed on success). */
	if (pipe2(e, O_CLOEXEC)) {
		close(p[0]);
		close(p[1]);
		goto fail_early;
	}
	size_t nenv = 0, nadd = 0;
	while (environ && environ[nenv])
		nenv++;
	while (env_add && env_add[nadd])
		nadd++;
	char **env = xcalloc(nenv + nadd + 1, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++) {
		bool replaced = false;
		for (size_t j = 0; j < nadd && !replaced; j++) {
			size_t l = strcspn(env_add[j], "=");
			replaced = !strncmp(environ[i], env_add[j], l) &&
				   environ[i][l] == '=';
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < nadd; j++)
		env[k++] = env_add[j];
	env[k] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execvpe(argv[0], argv, env);
		int err = errno;
		if (write(e[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	free(env);
	close(p[1]);
	close(e[1]);
	if (pid < 0) {
		int err = -errno;
		close(p[0]);
		close(e[0]);
		c->done = true;
		c->status = err;
		return err;
	}
	int ee = 0;
	ssize_t r;
	while ((r = read(e[0], &ee, sizeof(ee))) < 0 && errno == EINTR)
		;
	close(e[0]);
	if (r == (ssize_t)sizeof(ee)) {
		int st;
		waitpid(pid, &st, 0);
		close(p[0]);
		c->done = true;
		c->status = -ee;
		buf_printf(&c->out, "cannot execute %s: %s", argv[0],
			   strerror(ee));
		return -ee;
	}
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	c->pid = pid;
	c->out_fd = p[0];
	c->started_ns = clock_mono_ns();
	log_info("mitigate", "command started", LF_S("what", c->what),
		 LF_S("argv0", argv[0]), LF_I("pid", pid));
	return 0;
fail_early:
	c->done = true;
	c->status = -errno;
	return c->status;
}

static void drain(mit_cmd_t *c)
{
	char tmp[1024];
	ssize_t r;
	while (c->out_fd >= 0 && (r = read(c->out_fd, tmp, sizeof(tmp))) > 0) {
		size_t room = c->out.len < MIT_CMD_OUTPUT_MAX
				  ? MIT_CMD_OUTPUT_MAX - c->out.len
				  : 0;
		buf_append(&c->out, tmp, (size_t)r < room ? (size_t)r : room);
	}
}

bool mit__cmd_poll(mit_cmd_t *c, int64_t now_mono)
{
	if (c->done)
		return true;
	if (c->pid <= 0)
		return true;
	drain(c);
	int st;
	pid_t w = waitpid(c->pid, &st, WNOHANG);
	if (w == 0 && now_mono - c->started_ns < MIT_CMD_TIMEOUT_NS)
		return false;
	if (w == 0) {
		kill(-c->pid, SIGKILL);
		waitpid(c->pid, &st, 0);
		buf_printf(&c->out, "%s(killed after %lld s)",
			   c->out.len ? "\n" : "",
			   (long long)(MIT_CMD_TIMEOUT_NS / 1000000000LL));
		c->status = ERR_TIMEOUT;
	} else if (w < 0) {
		c->status = -errno;
	} else if (WIFEXITED(st)) {
		c->status = WEXITSTATUS(st);
	} else {
		c->status = 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	}
	drain(c);
	kill(-c->pid, SIGKILL); /* whatever it left in its group */
	close(c->out_fd);
	c->out_fd = -1;
	c->pid = 0;
	c->done = true;
	return true;
}

void mit__cmd_free(mit_cmd_t *c)
{
	if (c->pid > 0) {
		int st;
		kill(-c->pid, SIGKILL);
		waitpid(c->pid, &st, 0);
		c->pid = 0;
	}
	if (c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
	buf_free(&c->out);
}
