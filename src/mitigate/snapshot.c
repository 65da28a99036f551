/*
 * snapshot.c: the content-addressed snapshot store of snapshot.h:
 * walking and hashing the config tree, objects, manifests, the index
 * with its known-good marks, garbage collection, restore and diff.
 */
#include "mitigate/snapshot.h"

#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "mitigate/mit_int.h"
#include "provision/drift.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SNAP_INDEX_MAGIC "umbra-snapshots 1"
#define SNAP_MANIFEST_MAGIC "umbra-snapshot 1"
#define SNAP_BINARY_PROBE 8192 /* a NUL in this much marks a binary file */
/* A file's hash is reused while its size, inode, mtime and ctime stay
 * as they were, once its ctime is this much older than when it was
 * hashed: a later write cannot then leave the (coarse) timestamps as
 * they were (git's "racily clean" entries, re-hashed once more). */
#define SNAP_RACY_NS 1000000000LL

/* One file as the last snapshot hashed it. */
typedef struct snap_seen {
	char *rel;
	bool link;
	unsigned mode;
	uint64_t size, ino;
	int64_t mtime_ns, ctime_ns, hashed_ns;
	char sha[65];
} snap_seen_t;

struct mit_snaps {
	char *dir, *source;
	int keep;
	char pin[MIT_SNAP_ID_LEN + 1]; /* an open transaction's undo: kept */
	snap_seen_t *seen; /* the last take's files, sorted by path */
	size_t nseen;
	mit_snap_info_t *v; /* oldest current first; v[n-1] is current */
	size_t n;
};

/* ------------------------------------------------------------ helpers */

#define sha256_hex mit__sha256_hex
#define is_hex mit__is_hex
#define parse_u64 mit__parse_u64
#define walk_tree mit__walk_tree
#define walk_free mit__walk_free
#define entry_content mit__entry_content
#define load_snapshot mit__snaps_load
#define loaded_free mit__loaded_free
#define same_as mit__same_as
typedef mit__entry_t entry_t;
typedef mit__walk_t walk_t;
typedef mit__loaded_t loaded_t;

static int read_file(const char *path, size_t max, buf_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	char tmp[16384];
	size_t total = 0;
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		if (total + (size_t)r > max) {
			rc = ERR_TOOBIG;
			break;
		}
		buf_append(out, tmp, (size_t)r);
		total += (size_t)r;
	}
	close(fd);
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A decimal number of at most max from s[0..n) (mit_int.h). */
bool parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	if (!n || n > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* The next space-separated field of line[*pos..len). */
static bool field(const char *line, size_t len, size_t *pos, const char **f,
		  size_t *flen)
{
	if (*pos >= len)
		return false;
	size_t start = *pos, i = start;
	while (i < len && line[i] != ' ')
		i++;
	*f = line + start;
	*flen = i - start;
	*pos = i < len ? i + 1 : i;
	return *flen > 0;
}

/* ------------------------------------------------------------ paths */

bool mit_snap_path_ok(const char *rel, size_t len)
{
	if (!len || len > MIT_SNAP_MAX_PATH || rel[0] == '/' ||
	    rel[len - 1] == '/')
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && ((unsigned char)rel[i] < 0x20 || rel[i] == 0x7f))
			return false;
		if (i < len && rel[i] != '/')
			continue;
		size_t c = i - start;
		if (c == 0 || (c == 1 && rel[start] == '.') ||
		    (c == 2 && rel[start] == '.' && rel[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

/* ------------------------------------------------------------ parsers */

void mit_snap_files_free(mit_snap_file_t *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i].rel);
	free(files);
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const mit_snap_file_t *)a)->rel,
		      ((const mit_snap_file_t *)b)->rel);
}

int mit_snap_manifest_parse(const char *text, size_t len,
			    mit_snap_file_t **files, size_t *n, int *line,
			    const char **why)
{
	*files = NULL;
	*n = 0;
	*line = 0;
	if (len > MIT_SNAP_MAX_MANIFEST) {
		*why = "manifest too large";
		return ERR_CORRUPT;
	}
	mit_snap_file_t *v = NULL;
	size_t cnt = 0, cap = 0;
	size_t pos = 0;
	int ln = 0;
	const char *err = NULL;
	while (pos < len && !err) {
		const char *l = text + pos;
		const char *nl = memchr(l, '\n', len - pos);
		if (!nl) {
			err = "last line not terminated (truncated file?)";
			ln++;
			break;
		}
		size_t ll = (size_t)(nl - l);
		pos += ll + 1;
		ln++;
		if (ln == 1) {
			if (ll != strlen(SNAP_MANIFEST_MAGIC) ||
			    memcmp(l, SNAP_MANIFEST_MAGIC, ll))
				err = "not a snapshot manifest (first line)";
			continue;
		}
		if (ln == 2) {
			if (ll < 7 || memcmp(l, "source ", 7))
				err = "second line must be \"source PATH\"";
			continue;
		}
		size_t p = 0, fl;
		const char *f;
		mit_snap_file_t e = {0};
		uint64_t mode, size;
		if (!field(l, ll, &p, &f, &fl) || fl != 1 ||
		    (f[0] != 'f' && f[0] != 'l')) {
			err = "entry must start with f or l";
			break;
		}
		e.link = f[0] == 'l';
		if (!field(l, ll, &p, &f, &fl) || fl != MIT_SNAP_ID_LEN ||
		    !is_hex(f, fl)) {
			err = "bad SHA-256 (expected 64 lowercase hex digits)";
			break;
		}
		memcpy(e.sha, f, fl);
		if (!field(l, ll, &p, &f, &fl) || fl != 4 ||
		    !parse_u64(f, 1, 0, &mode) || f[0] != '0' ||
		    f[1] < '0' || f[1] > '7' || f[2] < '0' || f[2] > '7' ||
		    f[3] < '0' || f[3] > '7') {
			err = "bad mode (expected 4 octal digits, e.g. 0644)";
			break;
		}
		e.mode = (unsigned)((f[1] - '0') << 6 | (f[2] - '0') << 3 |
				    (f[3] - '0'));
		if (!field(l, ll, &p, &f, &fl) ||
		    !parse_u64(f, fl, MIT_SNAP_MAX_FILE, &size)) {
			err = "bad size";
			break;
		}
		e.size = size;
		if (p >= ll || !mit_snap_path_ok(l + p, ll - p)) {
			err = "bad path (must be relative, without . or .. "
			      "components)";
			break;
		}
		if (cnt >= MIT_SNAP_MAX_FILES) {
			err = "too many files";
			break;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		e.rel = xstrndup(l + p, ll - p);
		v[cnt++] = e;
	}
	if (!err && ln < 2)
		err = ln == 0 ? "empty manifest" : "no source line";
	if (!err && cnt > 1) {
		qsort(v, cnt, sizeof(*v), cmp_file);
		for (size_t i = 1; i < cnt && !err; i++)
			if (!strcmp(v[i - 1].rel, v[i].rel)) {
				err = "the same path twice";
				ln = 0;
			}
	}
	if (err) {
		*why = err;
		*line = ln;
		mit_snap_files_free(v, cnt);
		return ERR_CORRUPT;
	}
	*files = v;
	*n = cnt;
	return 0;
}

int mit_snap_index_parse(const char *text, size_t len, mit_snap_info_t **out,
			 size_t *n, int *line, const char **why)
{
	*out = NULL;
	*n = 0;
	*line = 0;
	if (len > MIT_SNAP_MAX_INDEX) {
		*why = "index too large";
		return ERR_CORRUPT;
	}
	mit_snap_info_t *v = NULL;
	size_t cnt = 0, cap = 0, pos = 0;
	int ln = 0;
	const char *err = NULL;
	while (pos < len && !err) {
		const char *l = text + pos;
		const char *nl = memchr(l, '\n', len - pos);
		ln++;
		if (!nl) {
			err = "last line not terminated (truncated file?)";
			break;
		}
		size_t ll = (size_t)(nl - l);
		pos += ll + 1;
		if (ln == 1) {
			if (ll != strlen(SNAP_INDEX_MAGIC) ||
			    memcmp(l, SNAP_INDEX_MAGIC, ll))
				err = "not a snapshot index (first line)";
			continue;
		}
		mit_snap_info_t e = {0};
		size_t p = 0, fl;
		const char *f;
		uint64_t t[3], nf, bytes;
		if (!field(l, ll, &p, &f, &fl) || fl != MIT_SNAP_ID_LEN ||
		    !is_hex(f, fl)) {
			err = "bad snapshot id";
			break;
		}
		memcpy(e.id, f, fl);
		for (int k = 0; k < 3 && !err; k++)
			if (!field(l, ll, &p, &f, &fl) ||
			    !parse_u64(f, fl, INT64_MAX, &t[k]))
				err = "bad time";
		if (err)
			break;
		if (!field(l, ll, &p, &f, &fl) ||
		    !parse_u64(f, fl, MIT_SNAP_MAX_FILES, &nf) ||
		    !field(l, ll, &p, &f, &fl) ||
		    !parse_u64(f, fl, (uint64_t)MIT_SNAP_MAX_FILES *
					  MIT_SNAP_MAX_FILE,
			       &bytes)) {
			err = "bad file count or size";
			break;
		}
		e.taken_ns = (int64_t)t[0];
		e.seen_ns = (int64_t)t[1];
		e.good_ns = (int64_t)t[2];
		e.nfiles = nf;
		e.bytes = bytes;
		size_t rl = p < ll ? ll - p : 0;
		for (size_t i = 0; i < rl; i++)
			if ((unsigned char)l[p + i] < 0x20)
				err = "control character in the reason";
		if (err)
			break;
		snprintf(e.reason, sizeof(e.reason), "%.*s",
			 (int)(rl < sizeof(e.reason) ? rl : sizeof(e.reason) - 1),
			 l + p);
		for (size_t i = 0; i < cnt && !err; i++)
			if (!strcmp(v[i].id, e.id))
				err = "the same snapshot twice";
		if (err)
			break;
		if (cnt >= 1000000) {
			err = "too many snapshots";
			break;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[cnt++] = e;
	}
	if (!err && ln == 0)
		err = "empty index";
	if (err) {
		*why = err;
		*line = ln;
		free(v);
		return ERR_CORRUPT;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* ------------------------------------------------------------ walking */

void walk_free(walk_t *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->v[i].rel);
		free(w->v[i].full);
	}
	free(w->v);
}

static int name_cmp(const void *a, const void *b)
{
	return strcoll(*(char *const *)a, *(char *const *)b);
}

/* The names in the directory rel beneath the walk's root, sorted as
 * scandir's alphasort would; opened without following a symlink (an
 * intermediate directory swapped for a link to elsewhere fails, never
 * leads out of the tree). New vector of new strings in *out. */
static int read_names(walk_t *w, const char *rel, int *dfd, char ***out,
		      size_t *n)
{
	*out = NULL;
	*n = 0;
	int fd = fs_open_beneath(w->root_fd, rel[0] ? rel : ".",
				 O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	int keep = dup(fd);
	DIR *d = keep >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int e = -errno;
		close(fd);
		if (keep >= 0)
			close(keep);
		return e;
	}
	size_t cap = 0;
	char **v = NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), name_cmp);
	*out = v;
	*dfd = keep;
	return 0;
}

static int walk_dir(walk_t *w, const char *rel, int depth)
{
	const char *root = w->root;
	if (depth > MIT_SNAP_MAX_DEPTH) {
		buf_printf(w->err, "%s/%s: nested deeper than %d directories",
			   root, rel, MIT_SNAP_MAX_DEPTH);
		return ERR_TOOBIG;
	}
	char **names = NULL;
	size_t k = 0;
	int dfd = -1;
	int rc = read_names(w, rel, &dfd, &names, &k);
	if (rc) {
		buf_printf(w->err, "cannot read %s%s%s: %s", root,
			   rel[0] ? "/" : "", rel,
			   rc == -ELOOP || rc == -EXDEV
			       ? "a symlink on the way leads out of the tree"
			       : err_str(rc));
		return rc;
	}
	for (size_t i = 0; i < k; i++) {
		const char *nm = names[i];
		if (rc || strstr(nm, ".umbra-tmp.") ||
		    strstr(nm, ".umbra-stage.")) {
			free(names[i]);
			continue;
		}
		char *r = rel[0] ? xasprintf("%s/%s", rel, nm) : xstrdup(nm);
		char *full = xasprintf("%s/%s", root, r);
		struct stat st;
		if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW)) {
			/* gone between readdir and lstat: not part of it */
		} else if (S_ISDIR(st.st_mode)) {
			if (st.st_dev != w->dev)
				w->nmounts++;
			rc = walk_dir(w, r, depth + 1);
		} else if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
			/* a FIFO would block a reader, a device is not
			 * config: never opened, left where it is */
			w->nother++;
			log_warn("snapshot",
				 "not a regular file, directory or symlink (a "
				 "FIFO, socket or device); left out",
				 LF_S("path", full));
		} else if (!mit_snap_path_ok(r, strlen(r))) {
			log_warn("snapshot",
				 "path with control characters; left out",
				 LF_S("path", full));
		} else if (w->n >= MIT_SNAP_MAX_FILES) {
			buf_printf(w->err, "%s: more than %d files", root,
				   MIT_SNAP_MAX_FILES);
			rc = ERR_TOOBIG;
		} else {
			if (w->n == w->cap) {
				w->cap = w->cap ? w->cap * 2 : 16;
				w->v = xreallocarray(w->v, w->cap,
						     sizeof(*w->v));
			}
			w->v[w->n++] = (entry_t){
			    .rel = r,
			    .full = full,
			    .root = root,
			    .link = S_ISLNK(st.st_mode),
			    .mode = (unsigned)(st.st_mode & 07777),
			    .size = (uint64_t)st.st_size,
			    .ino = (uint64_t)st.st_ino,
			    .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL +
					st.st_mtim.tv_nsec,
			    .ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000LL +
					st.st_ctim.tv_nsec,
			};
			r = full = NULL;
		}
		free(r);
		free(full);
		free(names[i]);
	}
	free(names);
	close(dfd);
	return rc;
}

/* Every regular file and symlink under root, sorted by relative path
 * (mit_int.h). */
int walk_tree(const char *root, walk_t *w, buf_t *err)
{
	*w = (walk_t){.err = err, .root = root};
	w->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->root_fd < 0) {
		int e = -errno;
		buf_printf(err, "cannot read %s: %s", root, strerror(errno));
		*w = (walk_t){0};
		return e;
	}
	struct stat st;
	if (fstat(w->root_fd, &st) == 0)
		w->dev = st.st_dev;
	int rc = walk_dir(w, "", 0);
	close(w->root_fd);
	w->root_fd = -1;
	if (rc) {
		walk_free(w);
		*w = (walk_t){0};
	}
	return rc;
}

/* Reads the regular file open on fd (at most max bytes). */
static int read_fd(int fd, size_t max, buf_t *out)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return ERR_INVAL;
	char tmp[16384];
	size_t total = 0;
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
		if (total + (size_t)r > max)
			return ERR_TOOBIG;
		buf_append(out, tmp, (size_t)r);
		total += (size_t)r;
	}
}

/* The content of a walked entry: file bytes or the link's target, read
 * beneath its tree's root without following a symlink (a file swapped
 * for a link, or a FIFO, since the walk is refused). */
int entry_content(const entry_t *e, buf_t *out, buf_t *err)
{
	int rootfd = -1, rc = 0;
	if (e->root) {
		rootfd = open(e->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0) {
			rc = -errno;
			buf_printf(err, "cannot read %s: %s", e->root,
				   err_str(rc));
			return rc;
		}
	}
	if (e->link) {
		char t[MIT_SNAP_MAX_PATH * 4];
		ssize_t n;
		if (rootfd >= 0) {
			const char *slash = strrchr(e->rel, '/');
			char *dir = slash ? xstrndup(e->rel,
						     (size_t)(slash - e->rel))
					  : xstrdup(".");
			int pfd = fs_open_beneath(rootfd, dir,
						  O_PATH | O_DIRECTORY, 0);
			free(dir);
			errno = pfd < 0 ? -pfd : 0;
			n = pfd < 0 ? -1
				    : readlinkat(pfd, slash ? slash + 1 : e->rel,
						 t, sizeof(t));
			if (pfd >= 0)
				close(pfd);
			close(rootfd);
		} else {
			n = readlink(e->full, t, sizeof(t));
		}
		if (n < 0 || (size_t)n >= sizeof(t)) {
			buf_printf(err, "cannot read link %s: %s", e->full,
				   n < 0 ? strerror(errno) : "target too long");
			return n < 0 ? -errno : ERR_TOOBIG;
		}
		buf_append(out, t, (size_t)n);
		return 0;
	}
	/* O_NONBLOCK: a FIFO swapped in opens at once and is refused */
	int fd = rootfd >= 0 ? fs_open_beneath(rootfd, e->rel,
					       O_RDONLY | O_NONBLOCK, 0)
			     : open(e->full, O_RDONLY | O_NONBLOCK |
						 O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		rc = rootfd >= 0 ? fd : -errno;
	if (rootfd >= 0)
		close(rootfd);
	if (!rc) {
		rc = read_fd(fd, MIT_SNAP_MAX_FILE, out);
		close(fd);
	}
	if (rc)
		buf_printf(err, "cannot read %s: %s%s", e->full,
			   rc == ERR_INVAL ? "not a regular file"
			   : rc == -ELOOP || rc == -EXDEV
			       ? "a symlink leads out of the tree"
			       : err_str(rc),
			   rc == ERR_TOOBIG ? " (over 16 MiB: not a config "
					      "file)"
					    : "");
	return rc;
}

/* ------------------------------------------------------------ store */

static char *path_of(const mit_snaps_t *s, const char *a, const char *b)
{
	return b ? xasprintf("%s/%s/%s", s->dir, a, b)
		 : xasprintf("%s/%s", s->dir, a);
}

static char *object_path(const mit_snaps_t *s, const char *sha)
{
	return xasprintf("%s/objects/%.2s/%s", s->dir, sha, sha + 2);
}

static int write_index(mit_snaps_t *s)
{
	buf_t b = BUF_INIT;
	buf_printf(&b, "%s\n", SNAP_INDEX_MAGIC);
	for (size_t i = 0; i < s->n; i++) {
		const mit_snap_info_t *e = &s->v[i];
		buf_printf(&b, "%s %lld %lld %lld %llu %llu %s\n", e->id,
			   (long long)e->taken_ns, (long long)e->seen_ns,
			   (long long)e->good_ns, (unsigned long long)e->nfiles,
			   (unsigned long long)e->bytes, e->reason);
	}
	char *p = path_of(s, "index", NULL);
	int rc = fs_write_atomic(p, b.data, b.len, 0600, true);
	free(p);
	buf_free(&b);
	return rc;
}

int mit_snaps_open(const char *dir, const char *source, int keep, bool create,
		   mit_snaps_t **out, buf_t *err)
{
	*out = NULL;
	struct stat st;
	if (stat(dir, &st)) {
		if (!create) {
			buf_printf(err, "no snapshot store at %s", dir);
			return ERR_NOTFOUND;
		}
		int rc = fs_mkdirs(dir, 0700);
		if (rc) {
			buf_printf(err, "cannot create %s: %s", dir,
				   err_str(rc));
			return rc;
		}
	}
	mit_snaps_t *s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->source = xstrdup(source ? source : "");
	s->keep = keep < 2 ? 2 : keep;
	if (create) {
		char *o = path_of(s, "objects", NULL),
		     *m = path_of(s, "manifests", NULL);
		int rc = fs_mkdirs(o, 0700);
		if (!rc)
			rc = fs_mkdirs(m, 0700);
		if (rc)
			buf_printf(err, "cannot create %s: %s", o, err_str(rc));
		free(o);
		free(m);
		if (rc) {
			mit_snaps_close(s);
			return rc;
		}
		chmod(dir, 0700);
	}
	char *ip = path_of(s, "index", NULL);
	buf_t b = BUF_INIT;
	int rc = read_file(ip, MIT_SNAP_MAX_INDEX, &b);
	if (rc == -ENOENT) {
		rc = 0; /* a new store */
	} else if (rc) {
		buf_printf(err, "cannot read %s: %s", ip, err_str(rc));
	} else {
		int line;
		const char *why;
		rc = mit_snap_index_parse(b.data ? b.data : "", b.len, &s->v,
					  &s->n, &line, &why);
		if (rc)
			buf_printf(err, "%s:%d: %s", ip, line, why);
	}
	buf_free(&b);
	free(ip);
	if (rc) {
		mit_snaps_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void mit_snaps_close(mit_snaps_t *s)
{
	if (!s)
		return;
	free(s->v);
	for (size_t i = 0; i < s->nseen; i++)
		free(s->seen[i].rel);
	free(s->seen);
	free(s->dir);
	free(s->source);
	free(s);
}

size_t mit_snaps_count(const mit_snaps_t *s)
{
	return s->n;
}

const mit_snap_info_t *mit_snaps_at(const mit_snaps_t *s, size_t i)
{
	return i < s->n ? &s->v[s->n - 1 - i] : NULL;
}

const char *mit_snaps_dir(const mit_snaps_t *s)
{
	return s->dir;
}

const char *mit_snaps_source(const mit_snaps_t *s)
{
	return s->source;
}

void mit__snaps_pin(mit_snaps_t *s, const char *id)
{
	snprintf(s->pin, sizeof(s->pin), "%s", id ? id : "");
}

static ssize_t index_of(const mit_snaps_t *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].id, id))
			return (ssize_t)i;
	return -1;
}

/* The latest known-good: the good one that was current most recently. */
static ssize_t latest_good(const mit_snaps_t *s)
{
	for (size_t i = s->n; i-- > 0;)
		if (s->v[i].good_ns)
			return (ssize_t)i;
	return -1;
}

int mit_snaps_find(const mit_snaps_t *s, const char *ref, mit_snap_info_t *out,
		   buf_t *err)
{
	ssize_t at = -1;
	if (!strcmp(ref, "current") || !strcmp(ref, "latest")) {
		at = s->n ? (ssize_t)s->n - 1 : -1;
	} else if (!strcmp(ref, "good")) {
		at = latest_good(s);
	} else {
		size_t l = strlen(ref);
		if (l < 4 || l > MIT_SNAP_ID_LEN || !is_hex(ref, l)) {
			buf_printf(err,
				   "bad snapshot \"%.80s\" (expected an id of at "
				   "least 4 hex digits, current or good)",
				   ref);
			return ERR_INVAL;
		}
		for (size_t i = 0; i < s->n; i++) {
			if (strncmp(s->v[i].id, ref, l))
				continue;
			if (at >= 0) {
				buf_printf(err,
					   "snapshot id %s is ambiguous: give "
					   "more digits",
					   ref);
				return ERR_INVAL;
			}
			at = (ssize_t)i;
		}
	}
	if (at < 0) {
		buf_printf(err, "no snapshot %s in %s", ref, s->dir);
		return ERR_NOTFOUND;
	}
	*out = s->v[at];
	return 0;
}

int mit_snaps_files(const mit_snaps_t *s, const char *id,
		    mit_snap_file_t **files, size_t *n, buf_t *err)
{
	if (strlen(id) != MIT_SNAP_ID_LEN || !is_hex(id, MIT_SNAP_ID_LEN)) {
		buf_printf(err, "bad snapshot id \"%.80s\"", id);
		return ERR_INVAL;
	}
	char *p = path_of(s, "manifests", id);
	buf_t b = BUF_INIT;
	int rc = read_file(p, MIT_SNAP_MAX_MANIFEST, &b);
	if (rc) {
		buf_printf(err, "cannot read %s: %s", p, err_str(rc));
	} else {
		int line;
		const char *why;
		char sha[65];
		sha256_hex(b.data ? b.data : "", b.len, sha);
		if (strcmp(sha, id)) {
			buf_printf(err, "%s: content does not match its id", p);
			rc = ERR_CORRUPT;
		} else {
			rc = mit_snap_manifest_parse(b.data, b.len, files, n,
						     &line, &why);
			if (rc)
				buf_printf(err, "%s:%d: %s", p, line, why);
		}
	}
	buf_free(&b);
	free(p);
	return rc;
}

int mit_snaps_object(const mit_snaps_t *s, const char *sha, buf_t *out)
{
	if (strlen(sha) != MIT_SNAP_ID_LEN || !is_hex(sha, MIT_SNAP_ID_LEN))
		return ERR_INVAL;
	char *p = object_path(s, sha);
	size_t before = out->len;
	int rc = read_file(p, MIT_SNAP_MAX_FILE, out);
	free(p);
	if (rc == -ENOENT)
		return ERR_NOTFOUND;
	if (rc)
		return rc;
	char got[65];
	sha256_hex(out->data ? out->data + before : "", out->len - before, got);
	if (strcmp(got, sha)) {
		out->len = before;
		if (out->data)
			out->data[before] = '\0';
		return ERR_CORRUPT;
	}
	return 0;
}

/* Stores content as an object unless it is there already. */
static int put_object(mit_snaps_t *s, const char *sha, const buf_t *content,
		      buf_t *err)
{
	char *p = object_path(s, sha);
	struct stat st;
	int rc = 0;
	if (stat(p, &st) != 0) {
		char *d = xasprintf("%s/objects/%.2s", s->dir, sha);
		rc = fs_mkdirs(d, 0700);
		free(d);
		if (!rc)
			rc = fs_write_atomic(p,
					     content->data ? content->data : "",
					     content->len, 0600, false);
		if (rc)
			buf_printf(err, "cannot write %s: %s", p, err_str(rc));
	}
	free(p);
	return rc;
}

/* Drops the oldest snapshots beyond keep (never the current one or the
 * latest known-good), their manifests, and objects nobody refers to. */
static void collect_garbage(mit_snaps_t *s)
{
	if (s->n <= (size_t)s->keep)
		return;
	ssize_t good = latest_good(s);
	size_t drop = s->n - (size_t)s->keep;
	bool *gone = xcalloc(s->n, sizeof(bool));
	for (int pass = 0; pass < 2 && drop; pass++)
		for (size_t i = 0; i + 1 < s->n && drop; i++) {
			if (gone[i] || (ssize_t)i == good ||
			    !strcmp(s->v[i].id, s->pin) ||
			    (pass == 0 && s->v[i].good_ns))
				continue;
			gone[i] = true;
			drop--;
		}
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (gone[i]) {
			char *p = path_of(s, "manifests", s->v[i].id);
			unlink(p);
			free(p);
			log_info("snapshot", "old snapshot dropped",
				 LF_S("id", s->v[i].id));
		} else {
			s->v[k++] = s->v[i];
		}
	}
	s->n = k;
	free(gone);
	/* Objects still referred to, then every other object goes. */
	size_t nref = 0, cap = 0;
	char(*ref)[65] = NULL;
	for (size_t i = 0; i < s->n; i++) {
		mit_snap_file_t *f;
		size_t nf;
		buf_t e = BUF_INIT;
		if (mit_snaps_files(s, s->v[i].id, &f, &nf, &e)) {
			buf_free(&e);
			free(ref);
			return; /* unsure what is referenced: keep all */
		}
		buf_free(&e);
		for (size_t j = 0; j < nf; j++) {
			if (nref == cap) {
				cap = cap ? cap * 2 : 64;
				ref = xreallocarray(ref, cap, sizeof(*ref));
			}
			memcpy(ref[nref++], f[j].sha, 65);
		}
		mit_snap_files_free(f, nf);
	}
	char *od = path_of(s, "objects", NULL);
	DIR *d = opendir(od);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strlen(de->d_name) != 2 || !is_hex(de->d_name, 2))
			continue;
		char *sub = xasprintf("%s/%s", od, de->d_name);
		DIR *d2 = opendir(sub);
		struct dirent *e2;
		while (d2 && (e2 = readdir(d2))) {
			if (strlen(e2->d_name) != 62)
				continue;
			char sha[65];
			memcpy(sha, de->d_name, 2);
			memcpy(sha + 2, e2->d_name, 62);
			sha[64] = '\0';
			bool used = false;
			for (size_t i = 0; i < nref && !used; i++)
				used = !strcmp(ref[i], sha);
			if (!used) {
				char *p = xasprintf("%s/%s", sub, e2->d_name);
				unlink(p);
				free(p);
			}
		}
		if (d2)
			closedir(d2);
		rmdir(sub); /* only when empty */
		free(sub);
	}
	if (d)
		closedir(d);
	free(od);
	free(ref);
}

int mit_snaps_take(mit_snaps_t *s, int64_t now_ns, const char *reason,
		   mit_snap_info_t *out, bool *is_new, buf_t *err)
{
	*is_new = false;
	if (!s->source[0]) {
		buf_puts(err, "no config directory to snapshot");
		return ERR_INVAL;
	}
	walk_t w;
	int rc = walk_tree(s->source, &w, err);
	if (rc)
		return rc;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t hashed_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	snap_seen_t *seen = xcalloc(w.n + 1, sizeof(*seen));
	buf_t man = BUF_INIT, content = BUF_INIT;
	buf_printf(&man, "%s\nsource %s\n", SNAP_MANIFEST_MAGIC, s->source);
	uint64_t total = 0;
	size_t j = 0, written = 0;
	for (size_t i = 0; i < w.n && !rc; i++) {
		const entry_t *e = &w.v[i];
		/* the last take's entry for this path (both sorted) */
		while (j < s->nseen && strcmp(s->seen[j].rel, e->rel) < 0)
			j++;
		const snap_seen_t *o =
		    j < s->nseen && !strcmp(s->seen[j].rel, e->rel) ? &s->seen[j]
								   : NULL;
		snap_seen_t *n = &seen[i];
		*n = (snap_seen_t){.rel = xstrdup(e->rel), .link = e->link,
				   .mode = e->mode, .size = e->size,
				   .ino = e->ino, .mtime_ns = e->mtime_ns,
				   .ctime_ns = e->ctime_ns,
				   .hashed_ns = hashed_ns};
		bool same = o && o->link == e->link && o->mode == e->mode &&
			    o->size == e->size && o->ino == e->ino &&
			    o->mtime_ns == e->mtime_ns &&
			    o->ctime_ns == e->ctime_ns &&
			    e->ctime_ns < o->hashed_ns - SNAP_RACY_NS;
		struct stat st;
		if (same) {
			char *op = object_path(s, o->sha);
			same = stat(op, &st) == 0;
			free(op);
		}
		uint64_t len;
		if (same) {
			memcpy(n->sha, o->sha, sizeof(n->sha));
			n->hashed_ns = o->hashed_ns;
			len = o->size;
		} else {
			buf_reset(&content);
			rc = entry_content(e, &content, err);
			if (rc)
				break;
			sha256_hex(content.data ? content.data : "", content.len,
				   n->sha);
			rc = put_object(s, n->sha, &content, err);
			len = content.len;
			n->size = len;
			written++;
		}
		total += len;
		if (total > MIT_SNAP_MAX_TOTAL) {
			buf_printf(err, "%s: more than 256 MiB of files",
				   s->source);
			rc = ERR_TOOBIG;
			break;
		}
		buf_printf(&man, "%c %s %04o %llu %s\n", e->link ? 'l' : 'f',
			   n->sha, e->link ? 0777 : e->mode,
			   (unsigned long long)len, e->rel);
	}
	buf_free(&content);
	size_t nfiles = w.n;
	walk_free(&w);
	/* objects durable in one go, before a manifest names them */
	if (!rc && written) {
		char *od = path_of(s, "objects", NULL);
		int fd = open(od, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			if (syncfs(fd))
				rc = -errno;
			close(fd);
		}
		if (rc)
			buf_printf(err, "cannot flush %s: %s", od, err_str(rc));
		free(od);
	}
	if (rc) {
		for (size_t i = 0; i < nfiles; i++)
			free(seen[i].rel);
		free(seen);
	} else {
		for (size_t i = 0; i < s->nseen; i++)
			free(s->seen[i].rel);
		free(s->seen);
		s->seen = seen;
		s->nseen = nfiles;
	}
	char id[65];
	if (!rc) {
		sha256_hex(man.data, man.len, id);
		char *p = path_of(s, "manifests", id);
		struct stat st;
		if (stat(p, &st) != 0) {
			rc = fs_write_atomic(p, man.data, man.len, 0600, true);
			if (rc)
				buf_printf(err, "cannot write %s: %s", p,
					   err_str(rc));
		}
		free(p);
	}
	buf_free(&man);
	if (rc)
		return rc;
	ssize_t at = index_of(s, id);
	if (at >= 0 && (size_t)at == s->n - 1) {
		*out = s->v[at]; /* already current: nothing changes */
		return 0;
	}
	mit_snap_info_t e;
	if (at >= 0) {
		e = s->v[at];
		memmove(&s->v[at], &s->v[at + 1],
			(s->n - (size_t)at - 1) * sizeof(*s->v));
		s->n--;
	} else {
		e = (mit_snap_info_t){.taken_ns = now_ns,
				      .nfiles = nfiles,
				      .bytes = total};
		memcpy(e.id, id, sizeof(e.id));
		snprintf(e.reason, sizeof(e.reason), "%s", reason ? reason : "");
		for (char *c = e.reason; *c; c++)
			if ((unsigned char)*c < 0x20)
				*c = ' ';
		*is_new = true;
	}
	e.seen_ns = now_ns;
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = e;
	collect_garbage(s);
	rc = write_index(s);
	if (rc)
		buf_printf(err, "cannot write the snapshot index in %s: %s",
			   s->dir, err_str(rc));
	*out = e;
	return rc;
}

int mit_snaps_mark_good(mit_snaps_t *s, const char *id, int64_t now_ns)
{
	ssize_t at = index_of(s, id);
	if (at < 0)
		return ERR_NOTFOUND;
	if (s->v[at].good_ns)
		return 0;
	s->v[at].good_ns = now_ns;
	return write_index(s);
}

/* ------------------------------------------------------------ restore */

void loaded_free(loaded_t *l)
{
	for (size_t i = 0; i < l->n && l->data; i++)
		buf_free(&l->data[i]);
	free(l->data);
	mit_snap_files_free(l->f, l->n);
}

/* Reads the manifest and every object of id, verified. */
int load_snapshot(const mit_snaps_t *s, const char *id, loaded_t *l,
			 buf_t *err)
{
	*l = (loaded_t){0};
	int rc = mit_snaps_files(s, id, &l->f, &l->n, err);
	if (rc)
		return rc;
	l->data = xcalloc(l->n ? l->n : 1, sizeof(buf_t));
	for (size_t i = 0; i < l->n; i++) {
		rc = mit_snaps_object(s, l->f[i].sha, &l->data[i]);
		if (rc) {
			buf_printf(err, "object %s of %s (%s): %s", l->f[i].sha,
				   l->f[i].rel, id, err_str(rc));
			loaded_free(l);
			*l = (loaded_t){0};
			return rc;
		}
	}
	return 0;
}

/* Whether the path already holds exactly this entry. */
bool same_as(const char *full, const mit_snap_file_t *f,
		    const buf_t *data)
{
	struct stat st;
	if (lstat(full, &st))
		return false;
	if (f->link != S_ISLNK(st.st_mode))
		return false;
	if (!f->link && (!S_ISREG(st.st_mode) ||
			 (unsigned)(st.st_mode & 07777) != f->mode))
		return false;
	buf_t cur = BUF_INIT;
	entry_t e = {.full = (char *)full, .link = f->link};
	buf_t ignore = BUF_INIT;
	bool same = entry_content(&e, &cur, &ignore) == 0 &&
		    cur.len == data->len &&
		    (!cur.len || memcmp(cur.data, data->data, cur.len) == 0);
	buf_free(&cur);
	buf_free(&ignore);
	return same;
}

int mit_snaps_restore(const mit_snaps_t *s, const char *id, const char *dst,
		      size_t *changed, buf_t *err)
{
	*changed = 0;
	loaded_t l;
	int rc = load_snapshot(s, id, &l, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < l.n && !rc; i++) {
		char *full = xasprintf("%s/%s", dst, l.f[i].rel);
		if (!same_as(full, &l.f[i], &l.data[i])) {
			char *dir = xstrdup(full);
			*strrchr(dir, '/') = '\0';
			rc = fs_mkdirs(dir, 0755);
			struct stat st;
			if (!rc && lstat(full, &st) == 0 && S_ISDIR(st.st_mode))
				rc = ERR_EXISTS;
			const char *d = l.data[i].data ? l.data[i].data : "";
			if (!rc)
				rc = l.f[i].link
					 ? fs_symlink_atomic(full, d,
							     l.data[i].len)
					 : fs_write_atomic(full, d,
							   l.data[i].len,
							   l.f[i].mode, true);
			if (!rc)
				fsync_dir(dir);
			if (rc)
				buf_printf(err, "cannot restore %s: %s%s", full,
					   err_str(rc),
					   rc == ERR_EXISTS ? " (a directory is "
							      "in the way)"
							    : "");
			else
				(*changed)++;
			free(dir);
		}
		free(full);
	}
	if (!rc) {
		/* What the snapshot does not have goes. */
		walk_t w;
		buf_t werr = BUF_INIT;
		if (walk_tree(dst, &w, &werr) == 0) {
			for (size_t i = 0; i < w.n; i++) {
				mit_snap_file_t key = {.rel = w.v[i].rel};
				if (bsearch(&key, l.f, l.n, sizeof(*l.f),
					    cmp_file))
					continue;
				if (unlink(w.v[i].full) == 0)
					(*changed)++;
				else
					log_warn("snapshot",
						 "cannot remove a file the "
						 "snapshot does not have",
						 LF_S("path", w.v[i].full),
						 LF_ERR("err", -errno));
			}
			walk_free(&w);
		}
		buf_free(&werr);
	}
	loaded_free(&l);
	return rc;
}

/* ------------------------------------------------------------ diff */

/* One side of a diff: sorted files with their content. */
typedef struct side {
	char **rel;
	buf_t *data;
	char (*sha)[65];
	size_t n;
} side_t;

static void side_free(side_t *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->rel[i]);
		buf_free(&d->data[i]);
	}
	free(d->rel);
	free(d->data);
	free(d->sha);
}

static int side_load(const mit_snaps_t *s, const char *ref, side_t *d,
		     char *label, size_t label_size, buf_t *err)
{
	*d = (side_t){0};
	if (!ref[0]) {
		walk_t w;
		int rc = walk_tree(s->source, &w, err);
		if (rc)
			return rc;
		d->rel = xcalloc(w.n + 1, sizeof(char *));
		d->data = xcalloc(w.n + 1, sizeof(buf_t));
		d->sha = xcalloc(w.n + 1, sizeof(*d->sha));
		for (size_t i = 0; i < w.n && !rc; i++) {
			rc = entry_content(&w.v[i], &d->data[i], err);
			d->rel[i] = xstrdup(w.v[i].rel);
			d->n++;
			sha256_hex(d->data[i].data ? d->data[i].data : "",
				   d->data[i].len, d->sha[i]);
		}
		walk_free(&w);
		snprintf(label, label_size, "live");
		if (rc)
			side_free(d);
		return rc;
	}
	mit_snap_info_t info;
	int rc = mit_snaps_find(s, ref, &info, err);
	if (rc)
		return rc;
	loaded_t l;
	rc = load_snapshot(s, info.id, &l, err);
	if (rc)
		return rc;
	d->n = l.n;
	d->rel = xcalloc(l.n + 1, sizeof(char *));
	d->data = l.data;
	d->sha = xcalloc(l.n + 1, sizeof(*d->sha));
	for (size_t i = 0; i < l.n; i++) {
		d->rel[i] = l.f[i].rel;
		l.f[i].rel = NULL;
		memcpy(d->sha[i], l.f[i].sha, 65);
	}
	l.data = NULL;
	mit_snap_files_free(l.f, l.n);
	snprintf(label, label_size, "%.12s", info.id);
	return 0;
}

static bool binary(const buf_t *b)
{
	size_t n = b->len < SNAP_BINARY_PROBE ? b->len : SNAP_BINARY_PROBE;
	return n && memchr(b->data, '\0', n) != NULL;
}

int mit_snaps_diff(const mit_snaps_t *s, const char *a, const char *b,
		   const config_strv_t *sensitive, const char *marker,
		   buf_t *out, buf_t *err)
{
	side_t sa, sb;
	char la[32], lb[32];
	int rc = side_load(s, a, &sa, la, sizeof(la), err);
	if (rc)
		return rc;
	rc = side_load(s, b, &sb, lb, sizeof(lb), err);
	if (rc) {
		side_free(&sa);
		return rc;
	}
	int differ = 0;
	size_t i = 0, j = 0;
	static const buf_t empty = BUF_INIT;
	while (i < sa.n || j < sb.n) {
		int c = i >= sa.n   ? 1
			: j >= sb.n ? -1
				    : strcmp(sa.rel[i], sb.rel[j]);
		const char *rel = c <= 0 ? sa.rel[i] : sb.rel[j];
		const buf_t *da = c <= 0 ? &sa.data[i] : &empty;
		const buf_t *db = c >= 0 ? &sb.data[j] : &empty;
		bool same = c == 0 && !strcmp(sa.sha[i], sb.sha[j]);
		if (!same) {
			differ = 1;
			char *an = c <= 0 ? xasprintf("%s/%s", la, rel)
					  : xstrdup("/dev/null");
			char *bn = c >= 0 ? xasprintf("%s/%s", lb, rel)
					  : xstrdup("/dev/null");
			if (binary(da) || binary(db)) {
				buf_printf(out, "Binary files %s and %s differ\n",
					   an, bn);
			} else {
				buf_t ra = BUF_INIT, rb = BUF_INIT;
				prov_mask_text(sensitive, marker,
					       da->data ? da->data : "", da->len,
					       &ra);
				prov_mask_text(sensitive, marker,
					       db->data ? db->data : "", db->len,
					       &rb);
				size_t before = out->len;
				prov_diff_unified(ra.data ? ra.data : "", ra.len,
						  rb.data ? rb.data : "", rb.len,
						  an, bn, out, NULL);
				if (out->len == before)
					buf_printf(out,
						   "--- %s\n+++ %s\n(the files "
						   "differ only in redacted "
						   "values)\n",
						   an, bn);
				buf_free(&ra);
				buf_free(&rb);
			}
			free(an);
			free(bn);
		}
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	side_free(&sa);
	side_free(&sb);
	return differ;
}

/* ------------------------------------------------------------ hold */

int mit_snaps_hold_set(mit_snaps_t *s, const char *reason)
{
	char *p = path_of(s, "hold", NULL);
	char *t = xasprintf("%s\n", reason);
	int rc = fs_write_atomic(p, t, strlen(t), 0600, true);
	free(t);
	free(p);
	return rc;
}

int mit_snaps_hold_clear(mit_snaps_t *s)
{
	char *p = path_of(s, "hold", NULL);
	int rc = unlink(p) && errno != ENOENT ? -errno : 0;
	free(p);
	return rc;
}

int mit_snaps_hold_get(const mit_snaps_t *s, buf_t *out)
{
	char *p = path_of(s, "hold", NULL);
	int rc = read_file(p, 4096, out);
	free(p);
	if (rc == -ENOENT)
		return ERR_NOTFOUND;
	while (!rc && out->len && out->data[out->len - 1] == '\n')
		out->data[--out->len] = '\0';
	return rc;
}
