/*
 * txn.c: restore transactions of txn.h: the journal (its text format and
 * parser), the two methods (directory exchange, staged files), undo, and
 * recovery at start. Every step that changes the disk is a crash point
 * the "txn_crash" fault can stop the process at.
 */
#include "mitigate/txn.h"

#include "base/err.h"
#include "base/fault.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "mitigate/mit_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define TXN_MAGIC "umbra-txn 1"
#define TXN_STAGE_MARK ".umbra-stage."
#define TXN_TMP_MARK ".umbra-tmp."
#define TXN_NFTW_FDS 16 /* directory fds nftw keeps open */

static const char *const state_names[MIT_TXN__COUNT] = {
    "intent", "staged", "switched", "reloaded", "verified", "finished",
    "undone"};

const char *mit_txn_state_name(mit_txn_state_t s)
{
	return (unsigned)s < MIT_TXN__COUNT ? state_names[s] : "?";
}

const char *mit_txn_method_name(mit_txn_method_t m)
{
	return m == MIT_TXN_FILES ? "files" : "exchange";
}

/* ------------------------------------------------------------ crashes */

static _Atomic int txn_steps;

/* The txn_crash fault: SIGKILL at the K-th step (K = -value). */
static void crash_point(void)
{
	int k = fault_sim(FAULT_TXN_CRASH);
	if (k && atomic_fetch_add(&txn_steps, 1) + 1 == -k)
		raise(SIGKILL);
}

/* ------------------------------------------------------------ journal */

void mit_txn_free(mit_txn_t *t)
{
	if (!t)
		return;
	free(t->live);
	free(t->stage);
	for (size_t i = 0; i < t->ndirs; i++)
		free(t->dirs[i]);
	free(t->dirs);
	t->live = t->stage = NULL;
	t->dirs = NULL;
	t->ndirs = 0;
}

/* An absolute path without control characters, "." or ".." parts. */
static bool abs_path_ok(const char *p, size_t n)
{
	return n > 1 && n < PATH_MAX && p[0] == '/' &&
	       mit_snap_path_ok(p + 1, n - 1);
}

int mit_txn_parse(const char *text, size_t len, mit_txn_t *t, int *line,
		  const char **why)
{
	memset(t, 0, sizeof(*t));
	*line = 0;
	if (len > MIT_TXN_MAX_JOURNAL) {
		*why = "journal too large";
		return ERR_CORRUPT;
	}
	const char *err = NULL;
	unsigned seen = 0; /* bit per required key */
	size_t pos = 0;
	int ln = 0;
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
			if (ll != strlen(TXN_MAGIC) || memcmp(l, TXN_MAGIC, ll))
				err = "not a transaction journal (first line)";
			continue;
		}
		const char *sp = memchr(l, ' ', ll);
		if (!sp) {
			err = "expected \"KEY VALUE\"";
			break;
		}
		size_t kl = (size_t)(sp - l);
		const char *v = sp + 1;
		size_t vl = ll - kl - 1;
		for (size_t i = 0; i < vl && !err; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				err = "control character in a value";
		if (err)
			break;
#define KEY(k) (kl == strlen(k) && !memcmp(l, k, kl))
		uint64_t u;
		if (KEY("id")) {
			if (!mit__parse_u64(v, vl, UINT64_MAX, &u) || !u)
				err = "bad id";
			t->id = u;
			seen |= 1;
		} else if (KEY("kind")) {
			if (!((vl == 8 && !memcmp(v, "rollback", 8)) ||
			      (vl == 7 && !memcmp(v, "promote", 7))))
				err = "kind must be rollback or promote";
			else
				memcpy(t->kind, v, vl);
			seen |= 2;
		} else if (KEY("state")) {
			int s = -1;
			for (int i = 0; i < MIT_TXN__COUNT; i++)
				if (vl == strlen(state_names[i]) &&
				    !memcmp(v, state_names[i], vl))
					s = i;
			if (s < 0)
				err = "unknown state";
			t->state = (mit_txn_state_t)(s < 0 ? 0 : s);
			seen |= 4;
		} else if (KEY("method")) {
			if (vl == 8 && !memcmp(v, "exchange", 8))
				t->method = MIT_TXN_EXCHANGE;
			else if (vl == 5 && !memcmp(v, "files", 5))
				t->method = MIT_TXN_FILES;
			else
				err = "method must be exchange or files";
			seen |= 8;
		} else if (KEY("from") || KEY("to")) {
			if (!(vl == MIT_SNAP_ID_LEN && mit__is_hex(v, vl)))
				err = "bad snapshot id (64 lowercase hex digits)";
			else
				memcpy(KEY("from") ? t->from : t->to, v, vl);
			seen |= KEY("from") ? 16 : 32;
		} else if (KEY("live") || KEY("stage")) {
			char **dst = KEY("live") ? &t->live : &t->stage;
			if (!abs_path_ok(v, vl))
				err = "bad path (absolute, without . or ..)";
			else if (*dst)
				err = "the same key twice";
			else
				*dst = xstrndup(v, vl);
			seen |= KEY("live") ? 64 : 0;
		} else if (KEY("stage_ino")) {
			const char *s2 = memchr(v, ' ', vl);
			if (!s2 ||
			    !mit__parse_u64(v, (size_t)(s2 - v), UINT64_MAX,
					    &t->stage_dev) ||
			    !mit__parse_u64(s2 + 1, vl - (size_t)(s2 - v) - 1,
					    UINT64_MAX, &t->stage_ino))
				err = "bad stage_ino (expected DEV INO)";
		} else if (KEY("started")) {
			if (!mit__parse_u64(v, vl, UINT64_MAX, &u) || u > INT64_MAX)
				err = "bad time";
			t->started_ns = (int64_t)u;
		} else if (KEY("dir")) {
			if (!mit_snap_path_ok(v, vl))
				err = "bad dir (relative, without . or ..)";
			else if (t->ndirs >= MIT_TXN_MAX_DIRS)
				err = "too many dirs";
			else {
				t->dirs = xreallocarray(t->dirs, t->ndirs + 1,
							sizeof(*t->dirs));
				t->dirs[t->ndirs++] = xstrndup(v, vl);
			}
		} else {
			err = "unknown key";
		}
#undef KEY
	}
	if (!err && ln == 0)
		err = "empty journal";
	if (!err && (seen & 127) != 127) {
		err = "a key is missing (id, kind, state, method, from, to, "
		      "live)";
		ln = 0;
	}
	if (!err && t->method == MIT_TXN_EXCHANGE && !t->stage) {
		err = "an exchange without a stage path";
		ln = 0;
	}
	if (err) {
		*why = err;
		*line = ln;
		mit_txn_free(t);
		memset(t, 0, sizeof(*t));
		return ERR_CORRUPT;
	}
	return 0;
}

static char *journal_path(const mit_snaps_t *s)
{
	return xasprintf("%s/txn", mit_snaps_dir(s));
}

static int fsync_path(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

/* Writes t's journal with state st (durable), then tells on_step. */
static int journal(mit_snaps_t *s, mit_txn_t *t, mit_txn_state_t st)
{
	buf_t b = BUF_INIT;
	buf_printf(&b, "%s\nid %llu\nkind %s\nstate %s\nmethod %s\nfrom %s\n"
		       "to %s\nlive %s\nstarted %lld\n",
		   TXN_MAGIC, (unsigned long long)t->id, t->kind,
		   mit_txn_state_name(st), mit_txn_method_name(t->method),
		   t->from, t->to, t->live, (long long)t->started_ns);
	if (t->stage)
		buf_printf(&b, "stage %s\n", t->stage);
	if (t->stage_ino)
		buf_printf(&b, "stage_ino %llu %llu\n",
			   (unsigned long long)t->stage_dev,
			   (unsigned long long)t->stage_ino);
	for (size_t i = 0; i < t->ndirs; i++)
		buf_printf(&b, "dir %s\n", t->dirs[i]);
	char *p = journal_path(s);
	int rc = fs_write_atomic(p, b.data, b.len, 0600, true);
	if (!rc)
		rc = fsync_path(mit_snaps_dir(s));
	free(p);
	buf_free(&b);
	if (rc)
		return rc;
	bool step = t->state != st;
	t->state = st;
	crash_point();
	if (step && t->on_step)
		t->on_step(t->arg, t);
	return 0;
}

static int journal_remove(mit_snaps_t *s)
{
	char *p = journal_path(s);
	int rc = unlink(p) && errno != ENOENT ? -errno : 0;
	free(p);
	if (!rc)
		fsync_path(mit_snaps_dir(s));
	return rc;
}

/* ------------------------------------------------------------ disk */

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	crash_point();
	int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
	if (rc && errno != ENOENT)
		log_warn("txn", "cannot remove", LF_S("path", path),
			 LF_ERR("err", -errno));
	return 0;
}

/* rm -rf path: symlinks are removed, never followed; other file systems
 * mounted below are not entered. */
static void rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	nftw(path, rm_one, TXN_NFTW_FDS, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static int rm_leftover(const char *path, const struct stat *st, int flag,
		       struct FTW *ftw)
{
	const char *nm = path + ftw->base;
	if (ftw->level > 0 && flag != FTW_D && flag != FTW_DP &&
	    (strstr(nm, TXN_STAGE_MARK) || strstr(nm, TXN_TMP_MARK))) {
		crash_point();
		if (unlink(path) == 0)
			log_info("txn", "leftover staging file removed",
				 LF_S("path", path));
	}
	(void)st;
	return 0;
}

/* Removes umbra's staging and temporary files under live, and staging
 * directories beside it (.NAME.umbra-stage.*). */
static void clean_leftovers(const char *live)
{
	nftw(live, rm_leftover, TXN_NFTW_FDS, FTW_PHYS | FTW_MOUNT);
	char *parent = xstrdup(live);
	char *slash = strrchr(parent, '/');
	const char *base = live + (slash - parent) + 1;
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	char *prefix = xasprintf(".%s" TXN_STAGE_MARK, base);
	DIR *d = opendir(parent);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		char *p = xasprintf("%s/%s", strcmp(parent, "/") ? parent : "",
				    e->d_name);
		log_info("txn", "leftover staging directory removed",
			 LF_S("path", p));
		rm_tree(p);
		free(p);
	}
	if (d)
		closedir(d);
	free(prefix);
	free(parent);
}

/* The owner new entries at rel get: the live entry's, else the live
 * directory's. Only root changes owners. */
static void copy_owner(const char *live, const char *rel, const char *dst)
{
	if (geteuid() != 0)
		return;
	char *src = rel ? xasprintf("%s/%s", live, rel) : xstrdup(live);
	struct stat st;
	if (lstat(src, &st) && lstat(live, &st)) {
		free(src);
		return;
	}
	free(src);
	if (lchown(dst, st.st_uid, st.st_gid))
		log_warn("txn", "cannot give a staged file its owner",
			 LF_S("path", dst), LF_ERR("err", -errno));
}

/* mkdir -p of rel's directory part under root; the modes of the
 * matching live directories (0755 for new ones). Each made directory's
 * relative path is appended to made (may be NULL). */
static int mkdirs_like(const char *root, const char *live, const char *rel,
		       char ***made, size_t *nmade)
{
	char *r = xstrdup(rel);
	int rc = 0;
	for (char *sl = strchr(r, '/'); sl && !rc; sl = strchr(sl + 1, '/')) {
		*sl = '\0';
		char *d = xasprintf("%s/%s", root, r);
		struct stat st;
		if (lstat(d, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				rc = ERR_EXISTS;
		} else {
			char *ld = xasprintf("%s/%s", live, r);
			mode_t mode = 0755;
			if (stat(ld, &st) == 0 && S_ISDIR(st.st_mode))
				mode = st.st_mode & 07777;
			free(ld);
			if (mkdir(d, 0700) && errno != EEXIST) {
				rc = -errno;
			} else {
				chmod(d, mode);
				copy_owner(live, r, d);
				if (made) {
					*made = xreallocarray(*made, *nmade + 1,
							      sizeof(**made));
					(*made)[(*nmade)++] = xstrdup(r);
				}
			}
		}
		free(d);
		*sl = '/';
	}
	free(r);
	return rc;
}

/* Writes one new entry at path (which must not exist): a file with
 * exactly mode, or a symlink. No fsync: syncfs once for all. */
static int write_new(const char *path, const mit_snap_file_t *f,
		     const buf_t *data)
{
	const char *d = data->data ? data->data : "";
	if (f->link) {
		char *target = xstrndup(d, data->len);
		int rc = symlink(target, path) ? -errno : 0;
		free(target);
		return rc;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	if (fd < 0)
		return -errno;
	int rc = 0;
	size_t len = data->len;
	while (len && !rc) {
		ssize_t w = write(fd, d, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = -errno;
		else
			d += w, len -= (size_t)w;
	}
	if (!rc && fchmod(fd, f->mode & 07777))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (rc)
		unlink(path);
	return rc;
}

/* Flushes the file system path is on (one call for every staged file). */
static void sync_fs(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (syncfs(fd))
		log_warn("txn", "syncfs failed", LF_S("path", path),
			 LF_ERR("err", -errno));
	close(fd);
}

static int exchange(const char *a, const char *b)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b,
		       RENAME_EXCHANGE)
		       ? -errno
		       : 0;
}

/* Whether a directory exchange may replace live; why not in why. */
static bool exchange_usable(const char *live, char *why, size_t n)
{
	struct stat ls, ps;
	char *parent = xstrdup(live);
	char *slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	bool ok = false;
	if (lstat(live, &ls) || !S_ISDIR(ls.st_mode))
		snprintf(why, n, "the config directory is not a directory");
	else if (stat(parent, &ps))
		snprintf(why, n, "its parent cannot be read");
	else if (ps.st_dev != ls.st_dev || ls.st_ino == ps.st_ino)
		snprintf(why, n, "the config directory is a mount point");
	else if (access(parent, W_OK))
		snprintf(why, n, "its parent directory is not writable");
	else {
		mit__walk_t w;
		buf_t e = BUF_INIT;
		if (mit__walk_tree(live, &w, &e)) {
			snprintf(why, n, "%s", e.data ? e.data : "walk failed");
		} else {
			if (w.nother)
				snprintf(why, n,
					 "it holds %zu entries a snapshot "
					 "cannot carry (sockets, FIFOs: other "
					 "tools'), left in place",
					 w.nother);
			else if (w.nmounts)
				snprintf(why, n, "a file system is mounted "
						 "inside it");
			else
				ok = true;
			mit__walk_free(&w);
		}
		buf_free(&e);
	}
	free(parent);
	return ok;
}

/* ------------------------------------------------------------ begin */

int mit_txn_begin(mit_snaps_t *s, const char *kind, uint64_t id,
		  const char *from, const char *to, int64_t now_ns,
		  bool files_only, mit_txn_step_cb cb, void *arg, mit_txn_t *t,
		  buf_t *err)
{
	memset(t, 0, sizeof(*t));
	char *jp = journal_path(s);
	struct stat st;
	bool open_txn = lstat(jp, &st) == 0;
	free(jp);
	if (open_txn) {
		buf_printf(err, "an unfinished transaction's journal is in %s",
			   mit_snaps_dir(s));
		return ERR_BADSTATE;
	}
	char real[PATH_MAX];
	if (!realpath(mit_snaps_source(s), real)) {
		int rc = -errno;
		buf_printf(err, "%s: %s", mit_snaps_source(s), strerror(errno));
		return rc;
	}
	if (!strcmp(real, "/")) {
		buf_puts(err, "the config directory is /: refusing");
		return ERR_INVAL;
	}
	t->id = id;
	snprintf(t->kind, sizeof(t->kind), "%s", kind);
	snprintf(t->from, sizeof(t->from), "%s", from);
	snprintf(t->to, sizeof(t->to), "%s", to);
	t->live = xstrdup(real);
	t->started_ns = now_ns;
	t->on_step = cb;
	t->arg = arg;
	if (!files_only &&
	    exchange_usable(real, t->why, sizeof(t->why))) {
		t->method = MIT_TXN_EXCHANGE;
		char *slash = strrchr(real, '/');
		*slash = '\0';
		t->stage = xasprintf("%s/.%s" TXN_STAGE_MARK "%llu", real,
				     slash + 1, (unsigned long long)id);
		*slash = '/';
	} else {
		t->method = MIT_TXN_FILES;
		if (files_only)
			snprintf(t->why, sizeof(t->why), "files asked for");
	}
	atomic_store(&txn_steps, 0);
	t->state = MIT_TXN__COUNT; /* none yet: "intent" is a step */
	mit__snaps_pin(s, from);
	int rc = journal(s, t, MIT_TXN_INTENT);
	if (rc) {
		buf_printf(err, "cannot write the transaction journal in %s: %s",
			   mit_snaps_dir(s), err_str(rc));
		mit__snaps_pin(s, NULL);
		mit_txn_free(t);
	}
	return rc;
}

/* ------------------------------------------------------------ undo */

/* The live tree back to snapshot from, file by file (each atomic);
 * staging files and the directories t made removed. */
static int undo_files(mit_snaps_t *s, mit_txn_t *t, buf_t *err)
{
	mit__loaded_t l;
	int rc = mit__snaps_load(s, t->from, &l, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < l.n && !rc; i++) {
		char *full = xasprintf("%s/%s", t->live, l.f[i].rel);
		if (!mit__same_as(full, &l.f[i], &l.data[i])) {
			crash_point();
			rc = fs_mkdirs_for(full, 0755);
			const char *d = l.data[i].data ? l.data[i].data : "";
			if (!rc)
				rc = l.f[i].link
					 ? fs_symlink_atomic(full, d, l.data[i].len)
					 : fs_write_atomic(full, d, l.data[i].len,
							   l.f[i].mode, false);
			if (rc)
				buf_printf(err, "cannot restore %s: %s", full,
					   err_str(rc));
		}
		free(full);
	}
	if (!rc) {
		mit__walk_t w;
		buf_t werr = BUF_INIT;
		if (mit__walk_tree(t->live, &w, &werr) == 0) {
			for (size_t i = 0; i < w.n; i++) {
				bool keep = false;
				for (size_t j = 0; j < l.n && !keep; j++)
					keep = !strcmp(l.f[j].rel, w.v[i].rel);
				if (keep)
					continue;
				crash_point();
				unlink(w.v[i].full);
			}
			mit__walk_free(&w);
		}
		buf_free(&werr);
		clean_leftovers(t->live);
		for (size_t i = t->ndirs; i-- > 0;) {
			char *d = xasprintf("%s/%s", t->live, t->dirs[i]);
			rmdir(d); /* only when empty */
			free(d);
		}
		sync_fs(t->live);
	}
	mit__loaded_free(&l);
	return rc;
}

/* Undoes t whatever its method (before its switch). */
static int undo(mit_snaps_t *s, mit_txn_t *t, buf_t *err)
{
	if (t->method == MIT_TXN_EXCHANGE) {
		rm_tree(t->stage);
		clean_leftovers(t->live);
		return 0;
	}
	return undo_files(s, t, err);
}

/* ------------------------------------------------------------ apply */

static int apply_exchange(mit_snaps_t *s, mit_txn_t *t, mit__loaded_t *l,
			  size_t *changed, buf_t *err)
{
	rm_tree(t->stage); /* an older attempt's */
	if (mkdir(t->stage, 0700)) {
		int rc = -errno;
		buf_printf(err, "cannot make %s: %s", t->stage, strerror(errno));
		return rc;
	}
	int rc = 0;
	for (size_t i = 0; i < l->n && !rc; i++) {
		char *full = xasprintf("%s/%s", t->stage, l->f[i].rel);
		rc = mkdirs_like(t->stage, t->live, l->f[i].rel, NULL, NULL);
		if (!rc)
			rc = write_new(full, &l->f[i], &l->data[i]);
		if (rc) {
			buf_printf(err, "cannot stage %s: %s", full, err_str(rc));
		} else {
			copy_owner(t->live, l->f[i].rel, full);
			char *lf = xasprintf("%s/%s", t->live, l->f[i].rel);
			if (!mit__same_as(lf, &l->f[i], &l->data[i]))
				(*changed)++;
			free(lf);
			crash_point();
		}
		free(full);
	}
	if (rc)
		return rc;
	/* Files the target does not have. */
	mit__walk_t w;
	buf_t werr = BUF_INIT;
	if (mit__walk_tree(t->live, &w, &werr) == 0) {
		for (size_t i = 0; i < w.n; i++) {
			bool there = false;
			for (size_t j = 0; j < l->n && !there; j++)
				there = !strcmp(l->f[j].rel, w.v[i].rel);
			*changed += !there;
		}
		mit__walk_free(&w);
	}
	buf_free(&werr);
	struct stat ls, ss;
	if (stat(t->live, &ls) == 0)
		chmod(t->stage, ls.st_mode & 07777);
	copy_owner(t->live, NULL, t->stage);
	sync_fs(t->stage);
	if (lstat(t->stage, &ss)) {
		rc = -errno;
		buf_printf(err, "%s: %s", t->stage, strerror(errno));
		return rc;
	}
	t->stage_dev = (uint64_t)ss.st_dev;
	t->stage_ino = (uint64_t)ss.st_ino;
	rc = journal(s, t, MIT_TXN_STAGED);
	if (rc) {
		buf_printf(err, "cannot journal: %s", err_str(rc));
		return rc;
	}
	rc = exchange(t->stage, t->live);
	if (rc) {
		buf_printf(err, "renameat2(RENAME_EXCHANGE) of %s and %s: %s",
			   t->stage, t->live, err_str(rc));
		return rc;
	}
	crash_point();
	char *parent = xstrdup(t->live);
	char *slash = strrchr(parent, '/');
	if (slash != parent)
		*slash = '\0';
	fsync_path(parent);
	free(parent);
	return 0;
}

static int apply_files(mit_snaps_t *s, mit_txn_t *t, mit__loaded_t *l,
		       size_t *changed, buf_t *err)
{
	/* What changes: files that differ, and files the target lacks. */
	bool *differs = xcalloc(l->n ? l->n : 1, sizeof(bool));
	int rc = 0;
	size_t nd = 0;
	for (size_t i = 0; i < l->n; i++) {
		char *full = xasprintf("%s/%s", t->live, l->f[i].rel);
		differs[i] = !mit__same_as(full, &l->f[i], &l->data[i]);
		nd += differs[i];
		struct stat st;
		if (differs[i] && lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			buf_printf(err, "cannot restore %s: a directory is in "
					"the way",
				   full);
			rc = ERR_EXISTS;
		}
		free(full);
	}
	/* The directories it will make, journaled before they exist. */
	for (size_t i = 0; i < l->n && !rc; i++) {
		if (!differs[i])
			continue;
		char *r = xstrdup(l->f[i].rel);
		for (char *sl = strchr(r, '/'); sl; sl = strchr(sl + 1, '/')) {
			*sl = '\0';
			char *d = xasprintf("%s/%s", t->live, r);
			struct stat st;
			bool known = lstat(d, &st) == 0;
			for (size_t j = 0; j < t->ndirs && !known; j++)
				known = !strcmp(t->dirs[j], r);
			if (!known && t->ndirs < MIT_TXN_MAX_DIRS) {
				t->dirs = xreallocarray(t->dirs, t->ndirs + 1,
							sizeof(*t->dirs));
				t->dirs[t->ndirs++] = xstrdup(r);
			}
			free(d);
			*sl = '/';
		}
		free(r);
	}
	if (!rc && t->ndirs)
		rc = journal(s, t, MIT_TXN_INTENT);
	char suffix[48];
	snprintf(suffix, sizeof(suffix), TXN_STAGE_MARK "%llu",
		 (unsigned long long)t->id);
	for (size_t i = 0; i < l->n && !rc; i++) {
		if (!differs[i])
			continue;
		char *st = xasprintf("%s/%s%s", t->live, l->f[i].rel, suffix);
		rc = mkdirs_like(t->live, t->live, l->f[i].rel, NULL, NULL);
		if (!rc) {
			unlink(st);
			rc = write_new(st, &l->f[i], &l->data[i]);
		}
		if (rc)
			buf_printf(err, "cannot stage %s: %s", st, err_str(rc));
		else
			copy_owner(t->live, l->f[i].rel, st);
		free(st);
		crash_point();
	}
	if (!rc) {
		sync_fs(t->live);
		rc = journal(s, t, MIT_TXN_STAGED);
		if (rc)
			buf_printf(err, "cannot journal: %s", err_str(rc));
	}
	for (size_t i = 0; i < l->n && !rc; i++) {
		if (!differs[i])
			continue;
		char *st = xasprintf("%s/%s%s", t->live, l->f[i].rel, suffix);
		char *full = xasprintf("%s/%s", t->live, l->f[i].rel);
		if (rename(st, full)) {
			rc = -errno;
			buf_printf(err, "cannot rename %s: %s", st,
				   strerror(errno));
		} else {
			(*changed)++;
		}
		free(st);
		free(full);
		crash_point();
	}
	if (!rc) {
		mit__walk_t w;
		buf_t werr = BUF_INIT;
		if (mit__walk_tree(t->live, &w, &werr) == 0) {
			for (size_t i = 0; i < w.n; i++) {
				bool there = false;
				for (size_t j = 0; j < l->n && !there; j++)
					there = !strcmp(l->f[j].rel,
							w.v[i].rel);
				if (there)
					continue;
				if (unlink(w.v[i].full) == 0)
					(*changed)++;
				crash_point();
			}
			mit__walk_free(&w);
		}
		buf_free(&werr);
		sync_fs(t->live);
	}
	free(differs);
	(void)nd;
	return rc;
}

int mit_txn_apply(mit_snaps_t *s, mit_txn_t *t, const mit_snaps_t *src,
		  size_t *changed, buf_t *err)
{
	*changed = 0;
	mit__loaded_t l;
	int rc = mit__snaps_load(src, t->to, &l, err);
	if (!rc) {
		rc = t->method == MIT_TXN_EXCHANGE
			 ? apply_exchange(s, t, &l, changed, err)
			 : apply_files(s, t, &l, changed, err);
		/* The file system may refuse the exchange: files instead. */
		if (rc && t->method == MIT_TXN_EXCHANGE &&
		    (rc == -EINVAL || rc == -ENOSYS || rc == -EXDEV ||
		     rc == -EBUSY || rc == -EOPNOTSUPP || rc == -EPERM)) {
			log_warn("txn", "directory exchange refused; files one "
					"by one",
				 LF_S("why", err->data ? err->data : ""));
			rm_tree(t->stage);
			free(t->stage);
			t->stage = NULL;
			t->stage_dev = t->stage_ino = 0;
			t->method = MIT_TXN_FILES;
			snprintf(t->why, sizeof(t->why), "%.200s",
				 err->data ? err->data : "exchange refused");
			buf_reset(err);
			*changed = 0;
			rc = journal(s, t, MIT_TXN_INTENT);
			if (!rc)
				rc = apply_files(s, t, &l, changed, err);
		}
		mit__loaded_free(&l);
	}
	if (rc) {
		buf_t uerr = BUF_INIT;
		int urc = undo(s, t, &uerr);
		if (urc) {
			buf_printf(err, "; and the undo failed: %s",
				   uerr.data ? uerr.data : err_str(urc));
		} else {
			journal(s, t, MIT_TXN_UNDONE);
			journal_remove(s);
			mit__snaps_pin(s, NULL);
		}
		buf_free(&uerr);
		return rc;
	}
	rc = journal(s, t, MIT_TXN_SWITCHED);
	if (rc) {
		/* switched all the same: the next start finishes it */
		log_error("txn", "cannot journal the switch",
			  LF_ERR("err", rc));
	}
	if (t->method == MIT_TXN_EXCHANGE)
		rm_tree(t->stage); /* the old tree */
	clean_leftovers(t->live);
	return 0;
}

int mit_txn_mark(mit_snaps_t *s, mit_txn_t *t, mit_txn_state_t st)
{
	return journal(s, t, st);
}

int mit_txn_close(mit_snaps_t *s, mit_txn_t *t, mit_txn_state_t final)
{
	if (t->state != final)
		journal(s, t, final);
	int rc = journal_remove(s);
	mit__snaps_pin(s, NULL);
	mit_txn_free(t);
	return rc;
}

/* ------------------------------------------------------------ recovery */

int mit_txn_recover(mit_snaps_t *s, mit_txn_t *t, buf_t *err)
{
	memset(t, 0, sizeof(*t));
	char *p = journal_path(s);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		free(p);
		char real[PATH_MAX];
		if (realpath(mit_snaps_source(s), real))
			clean_leftovers(real);
		return 0;
	}
	buf_t b = BUF_INIT;
	int rc = 0;
	if (fd < 0) {
		rc = -errno;
	} else {
		char tmp[8192];
		ssize_t r;
		while ((r = read(fd, tmp, sizeof(tmp))) > 0 &&
		       b.len <= MIT_TXN_MAX_JOURNAL)
			buf_append(&b, tmp, (size_t)r);
		if (r < 0)
			rc = -errno;
		close(fd);
	}
	if (rc) {
		buf_printf(err, "cannot read %s: %s", p, err_str(rc));
		free(p);
		buf_free(&b);
		return rc;
	}
	int line;
	const char *why;
	rc = mit_txn_parse(b.data ? b.data : "", b.len, t, &line, &why);
	buf_free(&b);
	if (rc) {
		buf_printf(err, "%s:%d: %s (an interrupted transaction whose "
				"journal cannot be read: check %s, then remove "
				"the journal)",
			   p, line, why, mit_snaps_source(s));
		free(p);
		return rc;
	}
	free(p);
	mit__snaps_pin(s, t->from);
	t->was = t->state;
	mit_txn_state_t final = t->state;
	switch (t->state) {
	case MIT_TXN_INTENT:
	case MIT_TXN_STAGED: {
		struct stat ls;
		bool switched = t->method == MIT_TXN_EXCHANGE &&
				t->state == MIT_TXN_STAGED && t->stage_ino &&
				stat(t->live, &ls) == 0 &&
				(uint64_t)ls.st_ino == t->stage_ino &&
				(uint64_t)ls.st_dev == t->stage_dev;
		if (switched) {
			rm_tree(t->stage); /* the old tree */
			final = MIT_TXN_FINISHED;
			snprintf(t->why, sizeof(t->why),
				 "the directories were exchanged: finished");
		} else {
			rc = undo(s, t, err);
			final = MIT_TXN_UNDONE;
			snprintf(t->why, sizeof(t->why),
				 "interrupted before the switch: undone, the "
				 "tree before is back");
		}
		break;
	}
	case MIT_TXN_SWITCHED:
	case MIT_TXN_RELOADED:
		if (t->method == MIT_TXN_EXCHANGE)
			rm_tree(t->stage);
		final = MIT_TXN_FINISHED;
		snprintf(t->why, sizeof(t->why),
			 "interrupted after the switch (%s): finished; "
			 "production runs the target once it (re)starts or "
			 "reloads",
			 mit_txn_state_name(t->state));
		break;
	default:
		snprintf(t->why, sizeof(t->why), "already %s: cleaned up",
			 mit_txn_state_name(t->state));
		if (t->method == MIT_TXN_EXCHANGE)
			rm_tree(t->stage);
		break;
	}
	if (rc) {
		mit_txn_free(t);
		return rc;
	}
	clean_leftovers(t->live);
	if (final != t->state) {
		rc = journal(s, t, final);
		if (rc) {
			buf_printf(err, "cannot journal the recovery: %s",
				   err_str(rc));
			mit_txn_free(t);
			return rc;
		}
	}
	return 1;
}
