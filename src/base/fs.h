/*
 * fs.h: file-system steps the modules share: directory creation (`mkdir
 * -p`; missing directories are made with the caller's mode, the umask
 * applies; existing ones are left as they are, whatever their mode) and
 * replacing a file (or a symlink) atomically.
 */
#ifndef UMBRA_BASE_FS_H
#define UMBRA_BASE_FS_H

#include <stdbool.h>
#include <stddef.h>
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

#endif
