/*
 * mit_int.h: what the mitigation module's files share and nobody else
 * uses: hashing, and the asynchronous command runner (reload commands,
 * the scale hook).
 */
#ifndef UMBRA_MITIGATE_MIT_INT_H
#define UMBRA_MITIGATE_MIT_INT_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SHA-256 of data as 64 lowercase hex digits. */
void mit__sha256_hex(const void *data, size_t len, char hex[65]);

/* ------------------------------------------------------------ commands */
/* An external command run without blocking the tick: started with
 * mit__cmd_start, then polled once per tick. Its stdout and stderr are
 * kept (the first MIT_CMD_OUTPUT_MAX bytes) for the audit log. */
#define MIT_CMD_OUTPUT_MAX 2048	    /* what a reload or hook says */
#define MIT_CMD_TIMEOUT_NS (30LL * 1000000000LL) /* then killed */

typedef struct mit_cmd {
	int pid;     /* 0: none */
	int out_fd;  /* read end of its stdout+stderr, non-blocking */
	int64_t started_ns; /* monotonic */
	char what[64];
	buf_t out;
	int status;  /* after it ended: exit status, 128+signal, or <0 */
	bool done;
} mit_cmd_t;

/* Starts argv (PATH searched) in its own process group with env_add
 * ("NAME=value" strings, NULL-terminated; may be NULL) added to umbra's
 * environment. 0, or a negative error (the fork or exec failed: *c is
 * done with that status). */
int mit__cmd_start(mit_cmd_t *c, const char *what, char *const *argv,
		   char *const *env_add);
/* Checks on c at monotonic time now: true once it has ended (status,
 * out filled); past MIT_CMD_TIMEOUT_NS its group is killed. */
bool mit__cmd_poll(mit_cmd_t *c, int64_t now_mono);
/* Kills and reaps a command still running; frees its buffers. */
void mit__cmd_free(mit_cmd_t *c);

#endif
