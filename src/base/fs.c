/*
 * fs.c: mkdir -p and atomic file and symlink replacement (see fs.h).
 * mkdir -p makes each prefix that ends at a slash in turn, then the
 * whole path; EEXIST is success at every step. fs_open_beneath tries
 * openat2 first and walks the path one O_NOFOLLOW component at a time on
 * kernels without it (< 5.6).
 */
#include "base/fs.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <linux/openat2.h>
#include <sys/syscall.h>

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

/* ------------------------------------------------------------ secrets */

int fs_check_private(const struct stat *st, const char *path, buf_t *why)
{
	const char *what = NULL;
	char extra[96] = "";
	if (!S_ISREG(st->st_mode)) {
		what = "is not a regular file";
	} else if (st->st_mode & (S_IRWXG | S_IRWXO)) {
		what = "is accessible by group or others";
		snprintf(extra, sizeof(extra),
			 " (mode %04o); a secret must be private: chmod 600 it",
			 (unsigned)(st->st_mode & 07777));
	} else if (st->st_uid != geteuid() && st->st_uid != 0) {
		what = "is owned by another user";
		snprintf(extra, sizeof(extra),
			 " (uid %u, not this user %u or root)",
			 (unsigned)st->st_uid, (unsigned)geteuid());
	}
	if (!what)
		return 0;
	if (why)
		buf_printf(why, "\"%s\" %s%s", path, what, extra);
	return ERR_INSECURE;
}

int fs_check_private_path(const char *path, buf_t *why)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return -errno;
	return fs_check_private(&st, path, why);
}

/* ------------------------------------------------------------ beneath */

#define FS_BENEATH_RETRIES 16 /* renames racing one lookup this often are
				       an attack; give up with EAGAIN */

/* The O_NOFOLLOW walk for kernels without openat2. */
static int open_walk(int dirfd, const char *rel, int flags, mode_t mode)
{
	char *p = xstrdup(rel);
	int cur = dirfd, rc = 0;
	char *s = p;
	for (;;) {
		size_t l = strcspn(s, "/");
		bool last = s[l] == '\0';
		s[l] = '\0';
		if (!strcmp(s, "..")) {
			rc = -EXDEV;
			break;
		}
		if (last) {
			rc = openat(cur, s[0] ? s : ".",
				    flags | O_NOFOLLOW | O_CLOEXEC, mode);
			if (rc < 0)
				rc = -errno;
			break;
		}
		if (s[0] && strcmp(s, ".")) {
			int next = openat(cur, s,
					  O_PATH | O_DIRECTORY | O_NOFOLLOW |
					      O_CLOEXEC);
			if (next < 0) {
				/* a symlink here fails with ENOTDIR */
				rc = errno == ENOTDIR ? -ELOOP : -errno;
				break;
			}
			if (cur != dirfd)
				close(cur);
			cur = next;
		}
		s += l + 1;
	}
	if (cur != dirfd)
		close(cur);
	free(p);
	return rc;
}

int fs_open_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
	if (rel[0] == '/')
		return -EXDEV;
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
	    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		       RESOLVE_NO_MAGICLINKS,
	};
	/* EAGAIN: a rename raced the lookup; the kernel asks to retry. */
	for (int tries = 0; tries < FS_BENEATH_RETRIES; tries++) {
		long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		if (errno == ENOSYS)
			break;
		return -errno;
	}
	if (errno != ENOSYS)
		return -errno;
	return open_walk(dirfd, rel, flags, mode);
}
