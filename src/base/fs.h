/*
 * fs.h: file-system steps the modules share: directory creation (`mkdir
 * -p`; missing directories are made with the caller's mode, the umask
 * applies; existing ones are left as they are, whatever their mode) and
 * replacing a file (or a symlink) atomically; the one check that a file
 * holding a secret is private (OpenBSD check_file_secrecy), used for the
 * masking key, the API token and the store; and opening a path beneath
 * a directory without following symlinks out of it (openat2
 * RESOLVE_BENEATH where the kernel has it, an O_NOFOLLOW walk otherwise).
 */
#ifndef UMBRA_BASE_FS_H
#define UMBRA_BASE_FS_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* mkdir -p dir. 0 or -errno (of the first mkdir that failed). */
int fs_mkdirs(const char *dir, mode_t mode);

/* mkdir -p of the directory a file path is in ("a/b/f" makes "a/b"; a
 * path without a directory part makes nothing). 0 or -errno. */
int fs_mkdirs_for(const char *file, mode_t mode);

/* Replaces path's content with data[0..len) atomically: written to a
 * temporary file beside it (path.umbra-tmp.PID), given exactly mode (the
 * umask does not apply), fsync'd when sync is set, then renamed over
 * path. 0 or -errno; on failure path is as it was and the temporary file
 * is gone. (The directory entry is durable only once the caller fsyncs
 * the directory.) */
int fs_write_atomic(const char *path, const void *data, size_t len,
		    mode_t mode, bool sync);

/* Makes path a symlink to target[0..len) the same way: a symlink beside
 * it, renamed over it. 0 or -errno. */
int fs_symlink_atomic(const char *path, const char *target, size_t len);

/* Whether the file described by st (named path, for the message) may
 * hold a secret: a regular file, no permission bit for group or others,
 * owned by this process's user or root. 0, or ERR_INSECURE with a
 * sentence naming path and what to do appended to why (may be NULL).
 * Callers check the descriptor they read from (fstat), never the name. */
int fs_check_private(const struct stat *st, const char *path, buf_t *why);

/* The same for an existing path (not following a final symlink): 0,
 * -ENOENT when it does not exist (a secret made at first start), another
 * -errno, or ERR_INSECURE with why set. */
int fs_check_private_path(const char *path, buf_t *why);

/* Opens rel beneath the directory dirfd (flags as for openat; O_NOFOLLOW
 * and O_CLOEXEC are added), never following a symlink, ".." or an
 * absolute path out of it: any symlink on the way fails with ELOOP (or
 * EXDEV from openat2). The descriptor, or -errno. */
int fs_open_beneath(int dirfd, const char *rel, int flags, mode_t mode);

#endif
