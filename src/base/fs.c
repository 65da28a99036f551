/*
 * fs.c: mkdir -p (see fs.h). Each prefix that ends at a slash is made in
 * turn, then the whole path; EEXIST is success at every step.
 */
#include "base/fs.h"

#include "base/xmalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
