/*
 * fs.h: directory creation the modules share (`mkdir -p`). Missing
 * directories are made with the caller's mode (the umask applies);
 * existing ones are left as they are, whatever their mode.
 */
#ifndef UMBRA_BASE_FS_H
#define UMBRA_BASE_FS_H

#include <sys/types.h>

/* mkdir -p dir. 0 or -errno (of the first mkdir that failed). */
int fs_mkdirs(const char *dir, mode_t mode);

/* mkdir -p of the directory a file path is in ("a/b/f" makes "a/b"; a
 * path without a directory part makes nothing). 0 or -errno. */
int fs_mkdirs_for(const char *file, mode_t mode);

#endif
