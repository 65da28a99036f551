/*
 * files.c: the file work of provisioning: reading bounded files, atomic
 * writes, directory trees (copy with placeholder rendering, walk in sorted
 * order, remove), NUL-separated /proc files, and the run state file.
 * Everything here is blocking and runs at start, at stop, or during a
 * drift check on the control thread: small config trees, not data lakes.
 */
#include "provision/prov_int.h"

#include "base/err.h"
#include "base/fs.h"
#include "base/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROV_TEXT_PROBE 8192 /* a NUL in the first 8 KiB means binary */

/* ------------------------------------------------------------ plain files */

int prov__read_file(const char *path, size_t max, buf_t *out)
{
	/* O_NONBLOCK, then the descriptor must be a regular file: a FIFO
	 * put in the shadow's copy (its user owns it) must not block the
	 * control thread that fingerprints it */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ERR_INVAL;
	}
	size_t got = 0;
	int rc = 0;
	for (;;) {
		char tmp[8192];
		size_t want = max - got < sizeof(tmp) ? max - got : sizeof(tmp);
		if (want == 0) {
			/* One more byte tells whether there was more. */
			char c;
			ssize_t r = read(fd, &c, 1);
			rc = r > 0 ? ERR_TOOBIG : 0;
			break;
		}
		ssize_t r = read(fd, tmp, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		buf_append(out, tmp, (size_t)r);
		got += (size_t)r;
	}
	close(fd);
	return rc;
}

/* ------------------------------------------------------------ trees */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in dir (without . and ..); NULL and -errno on error. */
static char **list_dir(const char *dir, size_t *n, int *err)
{
	DIR *d = opendir(dir);
	*n = 0;
	if (!d) {
		*err = -errno;
		return NULL;
	}
	size_t cap = 16;
	char **v = xcalloc(cap, sizeof(char *));
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (*n + 1 >= cap) {
			cap *= 2;
			v = xreallocarray(v, cap, sizeof(char *));
		}
		v[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	v[*n] = NULL;
	qsort(v, *n, sizeof(char *), cmp_names);
	*err = 0;
	return v;
}

/* rm -rf of name in the directory dfd, one descriptor per level: every
 * step is relative to a directory already open, never a path looked up
 * again, so a directory swapped for a symlink meanwhile (the shadow owns
 * its config and data copies, and may race umbra) is unlinked as the
 * link it is, never followed. */
static int rmtree_at(int dfd, const char *name, int depth)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) && errno != ENOENT ? -errno : 0;
	if (depth > PROV_RMTREE_MAX_DEPTH)
		return -ELOOP;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				       O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP) /* swapped: a file */
			return unlinkat(dfd, name, 0) ? -errno : 0;
		return errno == ENOENT ? 0 : -errno;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = -errno;
		close(fd);
		return e;
	}
	size_t n = 0, cap = 0;
	char **names = NULL;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xreallocarray(names, cap, sizeof(char *));
		}
		names[n++] = xstrdup(e->d_name);
	}
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		int r = rmtree_at(dirfd(d), names[i], depth + 1);
		if (r && !rc)
			rc = r;
		free(names[i]);
	}
	free(names);
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

int prov__rmtree(const char *path)
{
	return rmtree_at(AT_FDCWD, path, 0);
}

typedef struct copy_ctx {
	const prov_vars_t *vars;
	size_t files;
	buf_t *err;
} copy_ctx_t;

/* Copies one regular file, rendering it when it is text and vars set. */
static int copy_file(copy_ctx_t *c, const char *src, const char *dst,
		     mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		buf_printf(c->err, "cannot read %s: %s", src, strerror(errno));
		return -errno;
	}
	int out =
	    open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
	if (out < 0) {
		int e = errno;
		close(in);
		buf_printf(c->err, "cannot create %s: %s", dst, strerror(e));
		return -e;
	}
	int rc = 0;
	char probe[PROV_TEXT_PROBE];
	ssize_t got = pread(in, probe, sizeof(probe), 0);
	bool text = c->vars && got >= 0 && !memchr(probe, '\0', (size_t)got);
	if (text) {
		buf_t raw = BUF_INIT, done = BUF_INIT;
		rc = prov__read_file(src, PROV_FP_TEXT_MAX * 16, &raw);
		if (!rc) {
			prov_render(raw.data ? raw.data : "", raw.len, c->vars,
				    &done);
			const char *p = done.data;
			size_t len = done.len;
			while (len && !rc) {
				ssize_t w = write(out, p, len);
				if (w < 0 && errno != EINTR)
					rc = -errno;
				if (w > 0) {
					p += w;
					len -= (size_t)w;
				}
			}
		}
		buf_free(&raw);
		buf_free(&done);
	} else {
		/* copy_file_range shares extents where the file system can
		 * (reflinks), which keeps big data copies cheap. */
		for (;;) {
			ssize_t w =
			    copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
			if (w == 0)
				break;
			if (w > 0)
				continue;
			if (errno == EINTR)
				continue;
			if (errno != EXDEV && errno != EINVAL &&
			    errno != ENOSYS && errno != EOPNOTSUPP) {
				rc = -errno;
				break;
			}
			char tmp[65536];
			ssize_t r;
			while ((r = read(in, tmp, sizeof(tmp))) > 0)
				if (write(out, tmp, (size_t)r) != r) {
					rc = -errno;
					break;
				}
			if (r < 0)
				rc = -errno;
			break;
		}
	}
	if (rc)
		buf_printf(c->err, "cannot copy %s to %s: %s", src, dst,
			   err_str(rc));
	close(in);
	if (close(out) && !rc)
		rc = -errno;
	fchmodat(AT_FDCWD, dst, mode & 07777, 0);
	return rc;
}

static int copy_tree(copy_ctx_t *c, const char *src, const char *dst, int depth)
{
	struct stat st;
	if (lstat(src, &st)) {
		buf_printf(c->err, "cannot read %s: %s", src, strerror(errno));
		return -errno;
	}
	if (++c->files > PROV_TREE_MAX_FILES) {
		buf_printf(c->err,
			   "more than %d files under the copied tree "
			   "(%s)",
			   PROV_TREE_MAX_FILES, src);
		return ERR_TOOBIG;
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlink(target, dst)) {
			buf_printf(c->err, "cannot create %s: %s", dst,
				   strerror(errno));
			return -errno;
		}
		return 0;
	}
	if (S_ISREG(st.st_mode))
		return copy_file(c, src, dst, st.st_mode);
	if (!S_ISDIR(st.st_mode))
		return 0; /* sockets, fifos, devices: not config */
	if (depth > PROV_TREE_MAX_DEPTH) {
		buf_printf(c->err, "%s: deeper than %d directories", src,
			   PROV_TREE_MAX_DEPTH);
		return ERR_TOOBIG;
	}
	if (mkdir(dst, (st.st_mode & 07777) | 0700)) {
		buf_printf(c->err, "cannot create %s: %s", dst,
			   strerror(errno));
		return -errno;
	}
	size_t n;
	int rc;
	char **names = list_dir(src, &n, &rc);
	if (!names) {
		buf_printf(c->err, "cannot list %s: %s", src, err_str(rc));
		return rc;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		char *s = xasprintf("%s/%s", src, names[i]);
		char *d = xasprintf("%s/%s", dst, names[i]);
		rc = copy_tree(c, s, d, depth + 1);
		free(s);
		free(d);
	}
	prov__strv_free(names);
	chmod(dst, st.st_mode & 07777);
	return rc;
}

int prov__copytree(const char *src, const char *dst, const prov_vars_t *vars,
		   buf_t *err)
{
	copy_ctx_t c = {vars, 0, err};
	return copy_tree(&c, src, dst, 0);
}

typedef struct walk_ctx {
	int (*fn)(const char *rel, const char *full, void *arg);
	void *arg;
	size_t files;
} walk_ctx_t;

static int walk(walk_ctx_t *w, const char *root, const char *rel, int depth)
{
	char *dir = rel[0] ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	size_t n;
	int rc;
	char **names = list_dir(dir, &n, &rc);
	free(dir);
	if (!names)
		return depth == 0 ? rc : 0; /* an unreadable subdir: skipped */
	for (size_t i = 0; i < n && !rc; i++) {
		char *r = rel[0] ? xasprintf("%s/%s", rel, names[i])
				 : xstrdup(names[i]);
		char *full = xasprintf("%s/%s", root, r);
		struct stat st;
		if (stat(full, &st) == 0) {
			if (S_ISREG(st.st_mode) &&
			    ++w->files <= PROV_TREE_MAX_FILES)
				rc = w->fn(r, full, w->arg);
			else if (S_ISDIR(st.st_mode) &&
				 depth < PROV_TREE_MAX_DEPTH)
				rc = walk(w, root, r, depth + 1);
		}
		free(r);
		free(full);
	}
	prov__strv_free(names);
	return rc;
}

int prov__walk(const char *root,
	       int (*fn)(const char *rel, const char *full, void *arg),
	       void *arg)
{
	walk_ctx_t w = {fn, arg, 0};
	return walk(&w, root, "", 0);
}

/* ------------------------------------------------------------ placeholders */

typedef struct scan_ctx {
	const config_map_t *extra;
	prov_tree_unknown_cb fn;
	void *arg;
	const char *file;
	bool any; /* prov_tree_uses_placeholders: one seen */
	size_t unknown;
} scan_ctx_t;

/* The text of a config file as copy_file renders it; 0 when it is not
 * text (a NUL in its first PROV_TEXT_PROBE bytes) or cannot be read. */
static bool read_text(const char *full, buf_t *b)
{
	if (prov__read_file(full, PROV_FP_TEXT_MAX * 16, b))
		return false;
	size_t probe = b->len < PROV_TEXT_PROBE ? b->len : PROV_TEXT_PROBE;
	return !b->data || !memchr(b->data, '\0', probe);
}

static void scan_one(const char *name, size_t nlen, int line, int col,
		     void *arg)
{
	scan_ctx_t *c = arg;
	c->fn(c->file, name, nlen, line, col, c->arg);
}

static int scan_file(const char *rel, const char *full, void *arg)
{
	scan_ctx_t *c = arg;
	(void)rel;
	buf_t b = BUF_INIT;
	if (read_text(full, &b) && b.data) {
		c->file = full;
		c->unknown += prov_placeholders_unknown(
		    b.data, b.len, c->extra, c->fn ? scan_one : NULL, c);
	}
	buf_free(&b);
	return 0;
}

static int uses_file(const char *rel, const char *full, void *arg)
{
	scan_ctx_t *c = arg;
	(void)rel;
	buf_t b = BUF_INIT;
	if (read_text(full, &b) && b.data &&
	    prov_uses_placeholders(b.data, b.len, c->extra))
		c->any = true;
	buf_free(&b);
	return c->any; /* one is enough: stop */
}

size_t prov_tree_unknown(const char *dir, const config_map_t *extra,
			 prov_tree_unknown_cb fn, void *arg)
{
	scan_ctx_t c = {.extra = extra, .fn = fn, .arg = arg};
	prov__walk(dir, scan_file, &c);
	return c.unknown;
}

bool prov_tree_uses_placeholders(const char *dir, const config_map_t *extra)
{
	scan_ctx_t c = {.extra = extra};
	prov__walk(dir, uses_file, &c);
	return c.any;
}

/* ------------------------------------------------------------ vectors */

char **prov__split_nul(const char *data, size_t len, size_t *n)
{
	size_t cnt = 0;
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\0')
			cnt++;
	if (len && data[len - 1] != '\0')
		cnt++; /* a truncated last entry */
	char **v = xcalloc(cnt + 1, sizeof(char *));
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= len && k < cnt; i++) {
		if (i == len || data[i] == '\0') {
			if (i > start || i < len)
				v[k++] = xstrndup(data + start, i - start);
			start = i + 1;
		}
	}
	*n = k;
	return v;
}

void prov__strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* ------------------------------------------------------------ state */

int prov__state_write(const char *work_dir, const prov_state_rec_t *r, size_t n)
{
	buf_t b = BUF_INIT;
	buf_puts(&b, "# umbra run state: side replica pid port addr\n");
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s %d %d %d %s\n", prov_side_name(r[i].side),
			   r[i].replica, r[i].pid, r[i].port, r[i].addr);
	char *path = xasprintf("%s/state", work_dir);
	int rc = fs_write_atomic(path, b.data, b.len, 0644, false);
	free(path);
	buf_free(&b);
	return rc;
}

int prov__state_read(const char *work_dir, prov_state_rec_t *r, size_t max)
{
	char *path = xasprintf("%s/state", work_dir);
	buf_t b = BUF_INIT;
	int rc = prov__read_file(path, 64 * 1024, &b);
	free(path);
	if (rc) {
		buf_free(&b);
		return rc;
	}
	size_t n = 0;
	for (char *line = b.data, *next; line && *line && n < max;
	     line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char side[16];
		prov_state_rec_t x = {0};
		if (line[0] == '#' ||
		    sscanf(line, "%15s %d %d %d %63s", side, &x.replica, &x.pid,
			   &x.port, x.addr) != 5)
			continue;
		if (!strcmp(side, "production"))
			x.side = PROV_PRODUCTION;
		else if (!strcmp(side, "shadow"))
			x.side = PROV_SHADOW;
		else if (!strcmp(side, "baseline"))
			x.side = PROV_BASELINE;
		else
			continue;
		if (x.replica < 0 || x.replica >= PROV_MAX_REPLICAS ||
		    x.pid <= 0)
			continue;
		r[n++] = x;
	}
	buf_free(&b);
	return (int)n;
}
