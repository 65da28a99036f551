/*
 * test_snapshot.c: the snapshot store on real files in a temp dir:
 * content addressing (same tree, same id), known-good marks that survive
 * a reopen, atomic restore (content, modes, symlinks, extra files gone,
 * untouched when equal, nothing written when an object is corrupt),
 * diffs with redaction, garbage collection, the hold marker, and one test
 * per malformed manifest and index line.
 */
#include "base/err.h"
#include "base/log.h"
#include "mitigate/snapshot.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64], src[128], store[128];

static void put(const char *rel, const char *text, mode_t mode)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", src, rel);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f, "%s: %s", p, strerror(errno));
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
}

static char *get(const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", src, rel);
	FILE *f = fopen(p, "r");
	if (!f)
		return NULL;
	static char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void setup(void)
{
	log_setup(LOG_WARN, LOG_FMT_LOGFMT);
	snprintf(root, sizeof(root), "/tmp/umbra-snap-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	snprintf(src, sizeof(src), "%s/conf", root);
	snprintf(store, sizeof(store), "%s/data/snapshots", root);
	mkdir(src, 0755);
	char d[160];
	snprintf(d, sizeof(d), "%s/conf.d", src);
	mkdir(d, 0755);
	put("app.conf", "workers = 4\ncpu_ms = 1\npassword = hunter2\n", 0640);
	put("conf.d/extra.conf", "cache = on\n", 0644);
	char l[160];
	snprintf(l, sizeof(l), "%s/current", src);
	symlink("app.conf", l);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

static mit_snaps_t *open_store(int keep)
{
	mit_snaps_t *s;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_snaps_open(store, src, keep, true, &s, &err), 0, "%s",
		     err.data);
	buf_free(&err);
	return s;
}

static mit_snap_info_t take(mit_snaps_t *s, int64_t now, bool *is_new)
{
	mit_snap_info_t info;
	buf_t err = BUF_INIT;
	bool n;
	cr_assert_eq(mit_snaps_take(s, now, "test", &info, is_new ? is_new : &n,
				    &err),
		     0, "%s", err.data);
	buf_free(&err);
	return info;
}

TestSuite(snapshot, .init = setup, .fini = teardown);

Test(snapshot, content_addressed_and_private)
{
	mit_snaps_t *s = open_store(10);
	bool is_new;
	mit_snap_info_t a = take(s, 100, &is_new);
	cr_assert(is_new);
	cr_assert_eq(a.nfiles, 3);
	cr_assert_eq(strlen(a.id), 64);
	struct stat st;
	cr_assert_eq(stat(store, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "the store holds secrets");
	mit_snap_file_t *f;
	size_t n;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_snaps_files(s, a.id, &f, &n, &err), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(f[0].rel, "app.conf");
	cr_assert_eq(f[0].mode, 0640);
	cr_assert_str_eq(f[1].rel, "conf.d/extra.conf");
	cr_assert_str_eq(f[2].rel, "current");
	cr_assert(f[2].link);
	buf_t obj = BUF_INIT;
	cr_assert_eq(mit_snaps_object(s, f[2].sha, &obj), 0);
	cr_assert_str_eq(obj.data, "app.conf");
	char op[256];
	snprintf(op, sizeof(op), "%s/objects/%.2s/%s", store, f[0].sha,
		 f[0].sha + 2);
	cr_assert_eq(stat(op, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	mit_snap_files_free(f, n);
	buf_free(&obj);

	/* unchanged: the same snapshot, nothing new */
	mit_snap_info_t b = take(s, 200, &is_new);
	cr_assert_not(is_new);
	cr_assert_str_eq(a.id, b.id);
	cr_assert_eq(mit_snaps_count(s), 1);
	/* changed, then changed back: the first one is current again */
	put("app.conf", "workers = 8\n", 0640);
	mit_snap_info_t c = take(s, 300, &is_new);
	cr_assert(is_new);
	cr_assert_str_neq(c.id, a.id);
	put("app.conf", "workers = 4\ncpu_ms = 1\npassword = hunter2\n", 0640);
	mit_snap_info_t d = take(s, 400, &is_new);
	cr_assert_not(is_new);
	cr_assert_str_eq(d.id, a.id);
	cr_assert_eq(d.taken_ns, 100);
	cr_assert_eq(d.seen_ns, 400);
	cr_assert_eq(mit_snaps_count(s), 2);
	cr_assert_str_eq(mit_snaps_at(s, 0)->id, a.id, "newest first");
	buf_free(&err);
	mit_snaps_close(s);
}

Test(snapshot, known_good_survives_reopen_and_find)
{
	mit_snaps_t *s = open_store(10);
	mit_snap_info_t a = take(s, 100, NULL);
	buf_t err = BUF_INIT;
	mit_snap_info_t g;
	cr_assert_eq(mit_snaps_find(s, "good", &g, &err), ERR_NOTFOUND);
	cr_assert_eq(mit_snaps_mark_good(s, a.id, 150), 0);
	put("app.conf", "workers = 99\n", 0640);
	mit_snap_info_t b = take(s, 200, NULL);
	mit_snaps_close(s);
	s = open_store(10);
	cr_assert_eq(mit_snaps_find(s, "good", &g, &err), 0);
	cr_assert_str_eq(g.id, a.id);
	cr_assert_eq(g.good_ns, 150);
	cr_assert_eq(mit_snaps_find(s, "current", &g, &err), 0);
	cr_assert_str_eq(g.id, b.id);
	char pre[8];
	snprintf(pre, sizeof(pre), "%.6s", b.id);
	cr_assert_eq(mit_snaps_find(s, pre, &g, &err), 0);
	cr_assert_str_eq(g.id, b.id);
	buf_reset(&err);
	cr_assert_eq(mit_snaps_find(s, "abc", &g, &err), ERR_INVAL);
	cr_assert_str_eq(err.data, "bad snapshot \"abc\" (expected an id of at "
				   "least 4 hex digits, current or good)");
	buf_reset(&err);
	cr_assert_eq(mit_snaps_find(s, "ffffffff", &g, &err),
		     strncmp(a.id, "ffffffff", 8) && strncmp(b.id, "ffffffff", 8)
			 ? ERR_NOTFOUND
			 : 0);
	cr_assert_eq(mit_snaps_mark_good(s, "0000", 1), ERR_NOTFOUND);
	buf_free(&err);
	mit_snaps_close(s);
}

Test(snapshot, restore_everything_atomically)
{
	mit_snaps_t *s = open_store(10);
	mit_snap_info_t a = take(s, 100, NULL);
	/* a bad deploy: content, mode, a new file, a deleted file, a link */
	put("app.conf", "workers = 1\ncpu_ms = 50\n", 0666);
	put("conf.d/bad.conf", "evil = 1\n", 0644);
	char p[256];
	snprintf(p, sizeof(p), "%s/conf.d/extra.conf", src);
	unlink(p);
	snprintf(p, sizeof(p), "%s/current", src);
	unlink(p);
	symlink("conf.d/bad.conf", p);
	size_t changed;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_snaps_restore(s, a.id, src, &changed, &err), 0, "%s",
		     err.data);
	cr_assert_eq(changed, 4, "app.conf, extra.conf, current, bad.conf");
	cr_assert_str_eq(get("app.conf"),
			 "workers = 4\ncpu_ms = 1\npassword = hunter2\n");
	cr_assert_str_eq(get("conf.d/extra.conf"), "cache = on\n");
	cr_assert_null(get("conf.d/bad.conf"));
	struct stat st;
	snprintf(p, sizeof(p), "%s/app.conf", src);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640);
	char t[64] = "";
	snprintf(p, sizeof(p), "%s/current", src);
	cr_assert_gt(readlink(p, t, sizeof(t) - 1), 0);
	cr_assert_str_eq(t, "app.conf");
	/* nothing left behind by the temp files */
	DIR *d = opendir(src);
	struct dirent *e;
	while ((e = readdir(d)))
		cr_assert_null(strstr(e->d_name, "umbra-tmp"), "%s", e->d_name);
	closedir(d);
	/* equal files are not touched again */
	snprintf(p, sizeof(p), "%s/app.conf", src);
	struct stat before, after;
	stat(p, &before);
	cr_assert_eq(mit_snaps_restore(s, a.id, src, &changed, &err), 0);
	cr_assert_eq(changed, 0);
	stat(p, &after);
	cr_assert_eq(before.st_ino, after.st_ino);
	buf_free(&err);
	mit_snaps_close(s);
}

Test(snapshot, corrupt_object_changes_nothing)
{
	mit_snaps_t *s = open_store(10);
	mit_snap_info_t a = take(s, 100, NULL);
	mit_snap_file_t *f;
	size_t n;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_snaps_files(s, a.id, &f, &n, &err), 0);
	char op[256];
	snprintf(op, sizeof(op), "%s/objects/%.2s/%s", store, f[1].sha,
		 f[1].sha + 2);
	FILE *o = fopen(op, "w");
	fputs("tampered\n", o);
	fclose(o);
	put("app.conf", "changed\n", 0640);
	size_t changed;
	cr_assert_eq(mit_snaps_restore(s, a.id, src, &changed, &err),
		     ERR_CORRUPT);
	cr_assert(strstr(err.data, "conf.d/extra.conf"), "%s", err.data);
	cr_assert_str_eq(get("app.conf"), "changed\n",
			 "verified before anything is written");
	mit_snap_files_free(f, n);
	buf_free(&err);
	mit_snaps_close(s);
}

Test(snapshot, diff_with_redaction)
{
	mit_snaps_t *s = open_store(10);
	mit_snap_info_t a = take(s, 100, NULL);
	put("app.conf", "workers = 4\ncpu_ms = 50\npassword = swordfish\n",
	    0640);
	put("conf.d/new.conf", "x = 1\n", 0644);
	mit_snap_info_t b = take(s, 200, NULL);
	char *keys[] = {"password"};
	config_strv_t sens = {keys, 1};
	buf_t out = BUF_INIT, err = BUF_INIT;
	cr_assert_eq(mit_snaps_diff(s, a.id, b.id, &sens, "[REDACTED]", &out,
				    &err),
		     1, "%s", err.data);
	char la[16], lb[16];
	snprintf(la, sizeof(la), "%.12s", a.id);
	snprintf(lb, sizeof(lb), "%.12s", b.id);
	char want[512];
	snprintf(want, sizeof(want),
		 "--- %s/app.conf\n+++ %s/app.conf\n@@ -1,3 +1,3 @@\n"
		 " workers = 4\n-cpu_ms = 1\n+cpu_ms = 50\n password = "
		 "[REDACTED]\n--- /dev/null\n+++ %s/conf.d/new.conf\n@@ -0,0 "
		 "+1 @@\n+x = 1\n",
		 la, lb, lb);
	cr_assert_str_eq(out.data, want);
	cr_assert_null(strstr(out.data, "swordfish"));
	cr_assert_null(strstr(out.data, "hunter2"));
	/* only a secret changed: said, not shown */
	put("app.conf", "workers = 4\ncpu_ms = 50\npassword = other\n", 0640);
	buf_reset(&out);
	cr_assert_eq(mit_snaps_diff(s, b.id, "", &sens, NULL, &out, &err), 1);
	cr_assert(strstr(out.data, "(the files differ only in redacted "
				   "values)"),
		  "%s", out.data);
	buf_reset(&out);
	cr_assert_eq(mit_snaps_diff(s, "current", "current", NULL, NULL, &out,
				    &err),
		     0);
	cr_assert_eq(out.len, 0);
	buf_free(&out);
	buf_free(&err);
	mit_snaps_close(s);
}

static size_t count_objects(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "find %s/objects -type f | wc -l", store);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	if (fscanf(p, "%zu", &n) != 1)
		n = 0;
	pclose(p);
	return n;
}

Test(snapshot, garbage_collection_keeps_current_and_good)
{
	mit_snaps_t *s = open_store(3);
	mit_snap_info_t good = take(s, 10, NULL);
	mit_snaps_mark_good(s, good.id, 11);
	for (int i = 0; i < 5; i++) {
		char t[64];
		snprintf(t, sizeof(t), "workers = %d\n", 100 + i);
		put("app.conf", t, 0640);
		take(s, 100 + i, NULL);
	}
	cr_assert_eq(mit_snaps_count(s), 3);
	mit_snap_info_t g;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_snaps_find(s, "good", &g, &err), 0, "never dropped");
	cr_assert_str_eq(g.id, good.id);
	cr_assert_str_eq(mit_snaps_at(s, 0)->reason, "test");
	/* objects: good's 3 + two other app.conf versions (extra.conf and
	 * the link target are shared) */
	cr_assert_eq(count_objects(), 5);
	buf_free(&err);
	mit_snaps_close(s);
}

Test(snapshot, hold_marker)
{
	mit_snaps_t *s = open_store(10);
	buf_t b = BUF_INIT;
	cr_assert_eq(mit_snaps_hold_get(s, &b), ERR_NOTFOUND);
	cr_assert_eq(mit_snaps_hold_set(s, "rollback did not recover"), 0);
	cr_assert_eq(mit_snaps_hold_get(s, &b), 0);
	cr_assert_str_eq(b.data, "rollback did not recover");
	cr_assert_eq(mit_snaps_hold_clear(s), 0);
	cr_assert_eq(mit_snaps_hold_clear(s), 0, "twice is fine");
	buf_reset(&b);
	cr_assert_eq(mit_snaps_hold_get(s, &b), ERR_NOTFOUND);
	buf_free(&b);
	mit_snaps_close(s);
}

Test(snapshot, missing_source_and_store)
{
	mit_snaps_t *s;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_snaps_open("/nonexistent/umbra/snaps", src, 10, false,
				    &s, &err),
		     ERR_NOTFOUND);
	buf_reset(&err);
	char nosrc[160];
	snprintf(nosrc, sizeof(nosrc), "%s/none", root);
	cr_assert_eq(mit_snaps_open(store, nosrc, 10, true, &s, &err), 0);
	mit_snap_info_t info;
	bool n;
	cr_assert_eq(mit_snaps_take(s, 1, "x", &info, &n, &err), -ENOENT);
	cr_assert(strstr(err.data, "cannot read"), "%s", err.data);
	cr_assert_eq(mit_snaps_count(s), 0);
	buf_free(&err);
	mit_snaps_close(s);
}

Test(snapshot, corrupt_index_is_an_error)
{
	char p[200];
	snprintf(p, sizeof(p), "%s/data", root);
	mkdir(p, 0700);
	mkdir(store, 0700);
	snprintf(p, sizeof(p), "%s/index", store);
	FILE *f = fopen(p, "w");
	fputs("umbra-snapshots 1\nnot-an-id 1 2 3 4 5\n", f);
	fclose(f);
	mit_snaps_t *s;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_snaps_open(store, src, 10, true, &s, &err),
		     ERR_CORRUPT);
	cr_assert(strstr(err.data, "index:2: bad snapshot id"), "%s", err.data);
	buf_free(&err);
}

/* ---------------------------------------------------------- manifests */

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define MHEAD "umbra-snapshot 1\nsource /etc/app\n"

static void bad_manifest(const char *text, int line, const char *why)
{
	mit_snap_file_t *f;
	size_t n;
	int l;
	const char *w = NULL;
	cr_assert_eq(mit_snap_manifest_parse(text, strlen(text), &f, &n, &l, &w),
		     ERR_CORRUPT, "%s", text);
	cr_assert_str_eq(w, why);
	cr_assert_eq(l, line, "line %d, want %d", l, line);
	cr_assert_null(f);
}

Test(manifest, good)
{
	const char *t = MHEAD "f " SHA " 0644 12 b/c.conf\nl " SHA
			      " 0777 3 a\n";
	mit_snap_file_t *f;
	size_t n;
	int l;
	const char *w;
	cr_assert_eq(mit_snap_manifest_parse(t, strlen(t), &f, &n, &l, &w), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(f[0].rel, "a", "sorted");
	cr_assert(f[0].link);
	cr_assert_eq(f[1].mode, 0644);
	cr_assert_eq(f[1].size, 12);
	mit_snap_files_free(f, n);
}

Test(manifest, empty)
{
	bad_manifest("", 0, "empty manifest");
}
Test(manifest, bad_magic)
{
	bad_manifest("umbra-snapshot 2\nsource x\n", 1,
		     "not a snapshot manifest (first line)");
}
Test(manifest, no_source)
{
	bad_manifest("umbra-snapshot 1\nf " SHA " 0644 1 a\n", 2,
		     "second line must be \"source PATH\"");
}
Test(manifest, only_magic)
{
	bad_manifest("umbra-snapshot 1\n", 1, "no source line");
}
Test(manifest, unterminated)
{
	bad_manifest(MHEAD "f " SHA " 0644 1 a", 3,
		     "last line not terminated (truncated file?)");
}
Test(manifest, bad_kind)
{
	bad_manifest(MHEAD "d " SHA " 0644 1 a\n", 3,
		     "entry must start with f or l");
}
Test(manifest, short_sha)
{
	bad_manifest(MHEAD "f 0123 0644 1 a\n", 3,
		     "bad SHA-256 (expected 64 lowercase hex digits)");
}
Test(manifest, upper_hex_sha)
{
	bad_manifest(MHEAD "f 0123456789ABCDEF0123456789abcdef0123456789abcdef"
			   "0123456789abcdef 0644 1 a\n",
		     3, "bad SHA-256 (expected 64 lowercase hex digits)");
}
Test(manifest, bad_mode_digit)
{
	bad_manifest(MHEAD "f " SHA " 0648 1 a\n", 3,
		     "bad mode (expected 4 octal digits, e.g. 0644)");
}
Test(manifest, mode_too_long)
{
	bad_manifest(MHEAD "f " SHA " 00644 1 a\n", 3,
		     "bad mode (expected 4 octal digits, e.g. 0644)");
}
Test(manifest, setuid_mode)
{
	bad_manifest(MHEAD "f " SHA " 4755 1 a\n", 3,
		     "bad mode (expected 4 octal digits, e.g. 0644)");
}
Test(manifest, bad_size)
{
	bad_manifest(MHEAD "f " SHA " 0644 12x a\n", 3, "bad size");
}
Test(manifest, size_over_limit)
{
	bad_manifest(MHEAD "f " SHA " 0644 99999999999 a\n", 3, "bad size");
}
Test(manifest, dotdot_path)
{
	bad_manifest(MHEAD "f " SHA " 0644 1 ../etc/passwd\n", 3,
		     "bad path (must be relative, without . or .. components)");
}
Test(manifest, absolute_path)
{
	bad_manifest(MHEAD "f " SHA " 0644 1 /etc/passwd\n", 3,
		     "bad path (must be relative, without . or .. components)");
}
Test(manifest, dot_component)
{
	bad_manifest(MHEAD "f " SHA " 0644 1 a/./b\n", 3,
		     "bad path (must be relative, without . or .. components)");
}
Test(manifest, empty_component)
{
	bad_manifest(MHEAD "f " SHA " 0644 1 a//b\n", 3,
		     "bad path (must be relative, without . or .. components)");
}
Test(manifest, trailing_slash)
{
	bad_manifest(MHEAD "f " SHA " 0644 1 a/\n", 3,
		     "bad path (must be relative, without . or .. components)");
}
Test(manifest, control_char_path)
{
	bad_manifest(MHEAD "f " SHA " 0644 1 a\tb\n", 3,
		     "bad path (must be relative, without . or .. components)");
}
Test(manifest, missing_path)
{
	bad_manifest(MHEAD "f " SHA " 0644 1\n", 3,
		     "bad path (must be relative, without . or .. components)");
}
Test(manifest, duplicate_path)
{
	bad_manifest(MHEAD "f " SHA " 0644 1 a\nf " SHA " 0644 1 a\n", 0,
		     "the same path twice");
}

/* ---------------------------------------------------------- index */

static void bad_index(const char *text, int line, const char *why)
{
	mit_snap_info_t *v;
	size_t n;
	int l;
	const char *w = NULL;
	cr_assert_eq(mit_snap_index_parse(text, strlen(text), &v, &n, &l, &w),
		     ERR_CORRUPT, "%s", text);
	cr_assert_str_eq(w, why);
	cr_assert_eq(l, line);
}

#define IHEAD "umbra-snapshots 1\n"

Test(index, good)
{
	const char *t = IHEAD SHA " 1 2 0 3 100 start of umbra\n";
	mit_snap_info_t *v;
	size_t n;
	int l;
	const char *w;
	cr_assert_eq(mit_snap_index_parse(t, strlen(t), &v, &n, &l, &w), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(v[0].reason, "start of umbra");
	cr_assert_eq(v[0].bytes, 100);
	free(v);
}
Test(index, empty)
{
	bad_index("", 0, "empty index");
}
Test(index, bad_magic)
{
	bad_index("umbra-snapshots 9\n", 1, "not a snapshot index (first line)");
}
Test(index, bad_id)
{
	bad_index(IHEAD "xyz 1 2 0 3 100 r\n", 2, "bad snapshot id");
}
Test(index, bad_time)
{
	bad_index(IHEAD SHA " 1 -2 0 3 100 r\n", 2, "bad time");
}
Test(index, time_overflow)
{
	bad_index(IHEAD SHA " 99999999999999999999 2 0 3 100 r\n", 2,
		  "bad time");
}
Test(index, bad_count)
{
	bad_index(IHEAD SHA " 1 2 0 x 100 r\n", 2, "bad file count or size");
}
Test(index, control_in_reason)
{
	bad_index(IHEAD SHA " 1 2 0 3 100 a\x01b\n", 2,
		  "control character in the reason");
}
Test(index, duplicate)
{
	bad_index(IHEAD SHA " 1 2 0 3 100 r\n" SHA " 1 2 0 3 100 r\n", 3,
		  "the same snapshot twice");
}
Test(index, unterminated)
{
	bad_index(IHEAD SHA " 1 2 0 3 100 r", 2,
		  "last line not terminated (truncated file?)");
}

/* Issue 19: a FIFO, socket or device in the tree is never opened (a
 * reader would block on a FIFO; a device is not config): it is left out
 * of the snapshot, and left where it is by a restore (issue 18: a socket
 * another tool keeps in the config dir); proposals refuse such
 * candidates up front (run_propose.c). A symlink is recorded as a link,
 * never followed out of the tree. */
Test(snapshot, leaves_fifos_out_and_never_follows_links_out)
{
	mit_snaps_t *s = open_store(10);
	char p[256];
	snprintf(p, sizeof(p), "%s/conf.d/pipe", src);
	cr_assert_eq(mkfifo(p, 0644), 0);
	mit_snap_info_t info;
	bool n;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_snaps_take(s, 1000, "t", &info, &n, &err), 0,
		     "a FIFO in the tree: %s", err.data);
	mit_snap_file_t *f = NULL;
	size_t nf = 0;
	cr_assert_eq(mit_snaps_files(s, info.id, &f, &nf, &err), 0);
	for (size_t i = 0; i < nf; i++)
		cr_assert(strcmp(f[i].rel, "conf.d/pipe"), "the FIFO was taken");
	mit_snap_files_free(f, nf);
	cr_assert_eq(unlink(p), 0);
	/* a directory symlinked to outside: recorded as a link only */
	snprintf(p, sizeof(p), "%s/outside", src);
	cr_assert_eq(symlink("/etc", p), 0);
	buf_reset(&err);
	cr_assert_eq(mit_snaps_take(s, 2000, "t", &info, &n, &err), 0, "%s",
		     err.data);
	cr_assert_eq(mit_snaps_files(s, info.id, &f, &nf, &err), 0);
	bool link = false;
	for (size_t i = 0; i < nf; i++) {
		cr_assert(strncmp(f[i].rel, "outside/", 8),
			  "followed into /etc: %s", f[i].rel);
		if (!strcmp(f[i].rel, "outside"))
			link = f[i].link;
	}
	cr_assert(link, "recorded as a symlink");
	mit_snap_files_free(f, nf);
	buf_free(&err);
	mit_snaps_close(s);
}
