/*
 * runcmd.c: running an external program to completion (ip, nft) with
 * its input on stdin and its output captured, bounded in time. Used at
 * start and stop to build and remove the shadow's network, never on the
 * request path.
 */
#include "provision/prov_int.h"

#include "base/clock.h"
#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROV_CMD_OUTPUT_MAX (64 * 1024) /* error messages, not data */

int prov__run(const char *const *argv, const char *input, buf_t *out)
{
	int in[2], op[2], ep[2];
	if (pipe2(in, O_CLOEXEC))
		return -errno;
	if (pipe2(op, O_CLOEXEC)) {
		int e = -errno;
		close(in[0]);
		close(in[1]);
		return e;
	}
	if (pipe2(ep, O_CLOEXEC)) {
		int e = -errno;
		close(in[0]);
		close(in[1]);
		close(op[0]);
		close(op[1]);
		return e;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* Async-signal-safe calls only from here to exec. */
		dup2(in[0], 0);
		dup2(op[1], 1);
		dup2(op[1], 2);
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGPIPE, &sa, NULL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], (char *const *)argv);
		int e = errno;
		(void)!write(ep[1], &e, sizeof(e));
		_exit(127);
	}
	int saved = errno;
	close(in[0]);
	close(op[1]);
	close(ep[1]);
	if (pid < 0) {
		close(in[1]);
		close(op[0]);
		close(ep[0]);
		return -saved;
	}
	int exec_err = 0;
	if (read(ep[0], &exec_err, sizeof(exec_err)) != sizeof(exec_err))
		exec_err = 0;
	close(ep[0]);
	/* Feed stdin (small: rulesets) and read output until EOF. */
	const char *ip = input ? input : "";
	size_t ilen = strlen(ip);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(op[0], F_SETFL, O_NONBLOCK);
	if (ilen == 0) {
		close(in[1]);
		in[1] = -1;
	}
	int64_t deadline = clock_mono_ns() + PROV_CMD_TIMEOUT_MS * NS_PER_MS;
	bool timed_out = false;
	while (op[0] >= 0) {
		int64_t left = (deadline - clock_mono_ns()) / NS_PER_MS;
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pf[2] = {{op[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
		if (poll(pf, in[1] >= 0 ? 2 : 1, (int)left) < 0 &&
		    errno != EINTR)
			break;
		if (in[1] >= 0 && (pf[1].revents & (POLLOUT | POLLERR))) {
			ssize_t w = write(in[1], ip, ilen);
			if (w > 0) {
				ip += w;
				ilen -= (size_t)w;
			}
			if (w < 0 && errno != EAGAIN)
				ilen = 0;
			if (ilen == 0) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char tmp[4096];
			ssize_t r = read(op[0], tmp, sizeof(tmp));
			if (r > 0 && out && out->len < PROV_CMD_OUTPUT_MAX)
				buf_append(out, tmp, (size_t)r);
			if (r == 0 ||
			    (r < 0 && errno != EAGAIN && errno != EINTR)) {
				close(op[0]);
				op[0] = -1;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	if (op[0] >= 0)
		close(op[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (exec_err)
		return -exec_err;
	if (timed_out)
		return ERR_TIMEOUT;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}
