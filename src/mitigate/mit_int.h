/*
 * mit_int.h: what the mitigation module's files share and nobody else
 * uses: hashing, the asynchronous command runner (reload commands, the
 * scale hook), and the snapshot store's tree walk and object loading
 * that restore transactions (txn.c) build on.
 */
#ifndef UMBRA_MITIGATE_MIT_INT_H
#define UMBRA_MITIGATE_MIT_INT_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct mit_snaps mit_snaps_t;
typedef struct mit_snap_file mit_snap_file_t;

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

/* snapshot.c: the parsers of the snapshot store's and the journal's
 * lines. true when s[0..n) is lowercase hex; true and *out set when it is
 * a decimal number of at most max (no sign, no space, at most 20 digits). */
bool mit__is_hex(const char *s, size_t n);
bool mit__parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out);

/* ------------------------------------------------------------ trees */
/* snapshot.c: one walked entry of a config tree. */
typedef struct mit__entry {
	char *rel, *full;
	const char *root; /* the walked tree (borrowed); NULL: full alone */
	bool link;
	unsigned mode;
	uint64_t size, ino;
	int64_t mtime_ns, ctime_ns; /* what says it may have changed */
} mit__entry_t;

typedef struct mit__walk {
	const char *root;
	int root_fd; /* while walking: everything is opened beneath it */
	mit__entry_t *v;
	size_t n, cap;
	buf_t *err;
	int rc;
	dev_t dev;     /* the root's device */
	size_t nother; /* sockets, FIFOs, devices: left out */
	size_t nmounts; /* directories on another device (mount points) */
} mit__walk_t;

/* Every regular file and symlink under root, sorted by relative path
 * (names with .umbra-tmp. or .umbra-stage. left out). Nothing is
 * followed out of root: a symlink is recorded as a link; sockets, FIFOs
 * and devices are never opened: left out and counted (nother), so that
 * one another tool keeps in a live config dir stays where it is. 0 or a negative
 * error with err set; *w is new (mit__walk_free). */
int mit__walk_tree(const char *root, mit__walk_t *w, buf_t *err);
void mit__walk_free(mit__walk_t *w);
/* The content of a walked entry: file bytes or the link's target. */
int mit__entry_content(const mit__entry_t *e, buf_t *out, buf_t *err);

/* A snapshot's files with their content, every object verified. */
typedef struct mit__loaded {
	mit_snap_file_t *f;
	size_t n;
	buf_t *data; /* per file */
} mit__loaded_t;

int mit__snaps_load(const mit_snaps_t *s, const char *id, mit__loaded_t *l,
		    buf_t *err);
void mit__loaded_free(mit__loaded_t *l);
/* Whether full already holds exactly f with content data (kind, mode,
 * bytes). */
bool mit__same_as(const char *full, const mit_snap_file_t *f,
		  const buf_t *data);
/* Keeps snapshot id from garbage collection ("" or NULL: none): the
 * undo of an open transaction. */
void mit__snaps_pin(mit_snaps_t *s, const char *id);

#endif
