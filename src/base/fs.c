/*
 * fs.c: mkdir -p and atomic file and symlink replacement (see fs.h).
 * mkdir -p makes each prefix that ends at a slash in turn, then the
 * whole path; EEXIST is success at every step.
 */
#include "base/fs.h"

#include "base/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* p (owned, modifiable) up to its first len bytes. */
static int mkdirs_n(char *p, size_t len, mode_t mode)
{
	p[len] = '\0';
	int rc = 0;
	for (char *s = p + 1; *s && rc == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			rc = -errno;
		*s = '/';
	}
	if (rc == 0 && len > 0 && mkdir(p, mode) != 0 && errno != EEXIST)
		rc = -errno;
	return rc;
}

int fs_mkdirs(const char *dir, mode_t mode)
{
	char *p = xstrdup(dir);
	int rc = mkdirs_n(p, strlen(p), mode);
	free(p);
	return rc;
}

int fs_mkdirs_for(const char *file, mode_t mode)
{
	const char *slash = strrchr(file, '/');
	if (!slash || slash == file)
		return 0;
	char *p = xstrdup(file);
	int rc = mkdirs_n(p, (size_t)(slash - file), mode);
	free(p);
	return rc;
}

/* The temporary name beside path that an atomic write fills. */
static char *tmp_beside(const char *path)
{
	char *tmp = xasprintf("%s.umbra-tmp.%d", path, (int)getpid());
	unlink(tmp);
	return tmp;
}

/* Renames the filled tmp over path when rc is 0; removes tmp otherwise
 * (or when the rename fails). Frees tmp; returns the outcome. */
static int swap_in(char *tmp, const char *path, int rc)
{
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int fs_write_atomic(const char *path, const void *data, size_t len,
		    mode_t mode, bool sync)
{
	char *tmp = tmp_beside(path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
	if (fd < 0) {
		int rc = -errno;
		free(tmp);
		return rc;
	}
	int rc = 0;
	const char *p = data;
	while (len && !rc) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = -errno;
		else
			p += w, len -= (size_t)w;
	}
	/* open() applied the umask: set the mode itself. */
	if (!rc && fchmod(fd, mode & 07777))
		rc = -errno;
	if (!rc && sync && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	return swap_in(tmp, path, rc);
}

int fs_symlink_atomic(const char *path, const char *target, size_t len)
{
	char *tmp = tmp_beside(path);
	char *t = xstrndup(target, len);
	int rc = symlink(t, tmp) ? -errno : 0;
	free(t);
	return swap_in(tmp, path, rc);
}
