/*
 * test_txn.c: restore transactions (mitigate/txn.h) on real files in a
 * temp dir: the exchange and the files method switch the whole tree and
 * leave nothing behind; other tools' entries (a FIFO) make it the files
 * method and stay; a second transaction is refused while one is open;
 * and a crash at every step of a transaction (the txn_crash fault, in a
 * child process) is finished or undone by recovery, the tree being the
 * one before or the target, byte for byte. Then one test per malformed
 * journal line.
 */
#include "base/err.h"
#include "base/fault.h"
#include "base/log.h"
#include "mitigate/snapshot.h"
#include "mitigate/txn.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static void rm(const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", src, rel);
	unlink(p);
}

static void setup(void)
{
	log_setup(LOG_ERROR, LOG_FMT_LOGFMT);
	snprintf(root, sizeof(root), "/tmp/umbra-txn-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	snprintf(src, sizeof(src), "%s/conf", root);
	snprintf(store, sizeof(store), "%s/data/snapshots", root);
	mkdir(src, 0750);
	char d[160];
	snprintf(d, sizeof(d), "%s/conf.d", src);
	mkdir(d, 0755);
	put("app.conf", "workers = 4\n", 0640);
	put("conf.d/extra.conf", "cache = on\n", 0644);
	put("keep.conf", "same = yes\n", 0644);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

static mit_snaps_t *open_store(void)
{
	mit_snaps_t *s;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_snaps_open(store, src, 10, true, &s, &err), 0, "%s",
		     err.data);
	buf_free(&err);
	return s;
}

static mit_snap_info_t take(mit_snaps_t *s)
{
	mit_snap_info_t info;
	buf_t err = BUF_INIT;
	bool n;
	cr_assert_eq(mit_snaps_take(s, 100, "test", &info, &n, &err), 0, "%s",
		     err.data);
	buf_free(&err);
	return info;
}

/* Names with umbra-stage or umbra-tmp under dir (recursively). */
static int leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strstr(e->d_name, "umbra-stage") ||
		    strstr(e->d_name, "umbra-tmp"))
			n++;
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
		    strcmp(p, store) && !strstr(p, "/data"))
			n += leftovers(p);
	}
	closedir(d);
	return n;
}

/* Two trees: a (as set up) and b (a bad deploy: content, mode, a new
 * file in a new directory, a deleted file, a symlink). */
static void two_trees(mit_snaps_t *s, mit_snap_info_t *a, mit_snap_info_t *b)
{
	*a = take(s);
	put("app.conf", "workers = 1\n", 0666);
	char d[160];
	snprintf(d, sizeof(d), "%s/new.d", src);
	mkdir(d, 0755);
	put("new.d/bad.conf", "evil = 1\n", 0644);
	rm("conf.d/extra.conf");
	char l[160];
	snprintf(l, sizeof(l), "%s/current", src);
	symlink("app.conf", l);
	*b = take(s);
}

static char steps[256];

static void on_step(void *arg, const mit_txn_t *t)
{
	(void)arg;
	size_t l = strlen(steps);
	snprintf(steps + l, sizeof(steps) - l, "%s ",
		 mit_txn_state_name(t->state));
}

static void restore(mit_snaps_t *s, const char *from, const char *to,
		    bool files_only, mit_txn_method_t want)
{
	mit_txn_t t;
	buf_t err = BUF_INIT;
	steps[0] = '\0';
	cr_assert_eq(mit_txn_begin(s, "rollback", 7, from, to, 1, files_only,
				   on_step, NULL, &t, &err),
		     0, "%s", err.data);
	cr_assert_eq(t.method, want, "%s", t.why);
	size_t changed;
	cr_assert_eq(mit_txn_apply(s, &t, s, &changed, &err), 0, "%s",
		     err.data);
	cr_assert_gt(changed, 0);
	cr_assert_eq(t.state, MIT_TXN_SWITCHED);
	cr_assert_eq(mit_txn_mark(s, &t, MIT_TXN_RELOADED), 0);
	cr_assert_eq(mit_txn_close(s, &t, MIT_TXN_VERIFIED), 0);
	cr_assert_str_eq(steps, "intent staged switched reloaded verified ");
	buf_free(&err);
}

TestSuite(txn, .init = setup, .fini = teardown);

Test(txn, exchange_switches_the_whole_tree)
{
	mit_snaps_t *s = open_store();
	mit_snap_info_t a, b;
	two_trees(s, &a, &b);
	struct stat before;
	stat(src, &before);
	restore(s, b.id, a.id, false, MIT_TXN_EXCHANGE);
	cr_assert_str_eq(take(s).id, a.id, "the tree is a, byte for byte");
	struct stat after;
	stat(src, &after);
	cr_assert_neq(before.st_ino, after.st_ino, "a new directory");
	cr_assert_eq(after.st_mode & 07777, 0750, "the directory's mode kept");
	cr_assert_eq(leftovers(root), 0);
	restore(s, a.id, b.id, false, MIT_TXN_EXCHANGE);
	cr_assert_str_eq(take(s).id, b.id);
	cr_assert_eq(leftovers(root), 0);
	mit_snaps_close(s);
}

/* config_dir a symlink (a deploy tool's release link): the directory it
 * points to is exchanged; the link stays a link to the same path. */
Test(txn, symlinked_config_dir_keeps_its_link)
{
	char real[120], link[120];
	snprintf(real, sizeof(real), "%s/release-1", root);
	snprintf(link, sizeof(link), "%s/current", root);
	cr_assert_eq(rename(src, real), 0);
	cr_assert_eq(symlink("release-1", link), 0);
	snprintf(src, sizeof(src), "%s", link);
	mit_snaps_t *s = open_store();
	mit_snap_info_t a, b;
	two_trees(s, &a, &b);
	restore(s, b.id, a.id, false, MIT_TXN_EXCHANGE);
	cr_assert_str_eq(take(s).id, a.id);
	struct stat st;
	cr_assert_eq(lstat(link, &st), 0);
	cr_assert(S_ISLNK(st.st_mode), "still a link");
	char t[64] = "";
	cr_assert_gt(readlink(link, t, sizeof(t) - 1), 0);
	cr_assert_str_eq(t, "release-1");
	cr_assert_eq(leftovers(root), 0);
	mit_snaps_close(s);
}

Test(txn, files_method_and_other_tools_entries)
{
	mit_snaps_t *s = open_store();
	mit_snap_info_t a, b;
	two_trees(s, &a, &b);
	restore(s, b.id, a.id, true, MIT_TXN_FILES);
	cr_assert_str_eq(take(s).id, a.id);
	cr_assert_eq(leftovers(root), 0);
	/* a FIFO another tool owns: no exchange, and it stays */
	char fifo[160];
	snprintf(fifo, sizeof(fifo), "%s/control.fifo", src);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	struct stat st;
	restore(s, a.id, b.id, false, MIT_TXN_FILES);
	cr_assert_str_eq(take(s).id, b.id);
	cr_assert_eq(lstat(fifo, &st), 0);
	cr_assert(S_ISFIFO(st.st_mode));
	cr_assert_eq(leftovers(root), 0);
	mit_snaps_close(s);
}

/* config_dir a mount point (a ConfigMap, a bind mount): the files
 * method. The mount lives in this test process's own mount namespace
 * and goes with it. */
Test(txn, mount_point_uses_files)
{
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		cr_skip_test("no mount namespace here: %s", strerror(errno));
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/*", src);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(mount("tmpfs", src, "tmpfs", 0, "mode=0750"), 0, "%s",
		     strerror(errno));
	char d[160];
	snprintf(d, sizeof(d), "%s/conf.d", src);
	mkdir(d, 0755);
	put("app.conf", "workers = 4\n", 0640);
	put("conf.d/extra.conf", "cache = on\n", 0644);
	put("keep.conf", "same = yes\n", 0644);
	mit_snaps_t *s = open_store();
	mit_snap_info_t a, b;
	two_trees(s, &a, &b);
	restore(s, b.id, a.id, false, MIT_TXN_FILES);
	cr_assert_str_eq(take(s).id, a.id);
	cr_assert_eq(leftovers(root), 0);
	mit_snaps_close(s);
	umount(src);
}

Test(txn, one_at_a_time)
{
	mit_snaps_t *s = open_store();
	mit_snap_info_t a, b;
	two_trees(s, &a, &b);
	mit_txn_t t, t2;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_txn_begin(s, "rollback", 1, b.id, a.id, 1, false,
				   NULL, NULL, &t, &err),
		     0);
	cr_assert_eq(mit_txn_begin(s, "promote", 2, b.id, a.id, 1, false, NULL,
				   NULL, &t2, &err),
		     ERR_BADSTATE);
	cr_assert(strstr(err.data, "unfinished transaction"), "%s", err.data);
	cr_assert_eq(mit_txn_close(s, &t, MIT_TXN_UNDONE), 0);
	buf_free(&err);
	mit_snaps_close(s);
}

/* A child runs the transaction with the fault armed at step k; the
 * parent recovers. Returns whether the child was killed. */
static bool crash_at(int k, const char *from, const char *to, bool files)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		mit_snaps_t *s;
		buf_t err = BUF_INIT;
		if (mit_snaps_open(store, src, 10, false, &s, &err))
			_exit(3);
		fault_arm(FAULT_TXN_CRASH, -k);
		mit_txn_t t;
		if (mit_txn_begin(s, "rollback", 9, from, to, 1, files, NULL,
				  NULL, &t, &err))
			_exit(4);
		size_t changed;
		if (mit_txn_apply(s, &t, s, &changed, &err))
			_exit(5);
		if (mit_txn_mark(s, &t, MIT_TXN_RELOADED))
			_exit(6);
		_exit(0); /* the journal stays open, as at a crash */
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status))
		cr_assert_eq(WEXITSTATUS(status), 0, "child status %d at %d",
			     WEXITSTATUS(status), k);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static void crash_everywhere(bool files)
{
	mit_snaps_t *s = open_store();
	mit_snap_info_t a, b;
	two_trees(s, &a, &b);
	char from[65], to[65];
	snprintf(from, sizeof(from), "%s", b.id);
	snprintf(to, sizeof(to), "%s", a.id);
	int finished = 0, undone = 0;
	for (int k = 1;; k++) {
		bool killed = crash_at(k, from, to, files);
		mit_txn_t t;
		buf_t err = BUF_INIT;
		int rc = mit_txn_recover(s, &t, &err);
		cr_assert_eq(rc, 1, "k=%d: %s", k, err.data);
		cr_assert(t.state == MIT_TXN_FINISHED ||
			      t.state == MIT_TXN_UNDONE,
			  "k=%d: %s", k, mit_txn_state_name(t.state));
		const char *id = take(s).id;
		const char *want = t.state == MIT_TXN_FINISHED ? to : from;
		cr_assert_str_eq(id, want, "k=%d %s: the tree is %s", k,
				 mit_txn_state_name(t.state),
				 !strcmp(id, from) ? "before" : "mixed");
		cr_assert_eq(leftovers(root), 0, "k=%d", k);
		finished += t.state == MIT_TXN_FINISHED;
		undone += t.state == MIT_TXN_UNDONE;
		cr_assert_eq(mit_txn_close(s, &t, t.state), 0);
		buf_free(&err);
		/* the next round starts from the bad tree again */
		if (t.state == MIT_TXN_FINISHED) {
			mit_txn_t u;
			size_t ch;
			cr_assert_eq(mit_txn_begin(s, "rollback", 1, to, from, 1,
						   files, NULL, NULL, &u, &err),
				     0);
			cr_assert_eq(mit_txn_apply(s, &u, s, &ch, &err), 0);
			mit_txn_close(s, &u, MIT_TXN_VERIFIED);
		}
		cr_assert_str_eq(take(s).id, from);
		if (!killed)
			break;
		cr_assert_lt(k, 200, "a transaction of a few files");
	}
	cr_assert_gt(finished, 0);
	cr_assert_gt(undone, 0);
	mit_snaps_close(s);
}

Test(txn, crash_at_every_step_exchange)
{
	crash_everywhere(false);
}

Test(txn, crash_at_every_step_files)
{
	crash_everywhere(true);
}

Test(txn, recover_without_journal_cleans_leftovers)
{
	mit_snaps_t *s = open_store();
	put("app.conf.umbra-tmp.123", "half", 0600);
	put("conf.d/x.conf.umbra-stage.9", "half", 0600);
	char d[200];
	snprintf(d, sizeof(d), "%s/.conf.umbra-stage.5", root);
	mkdir(d, 0700);
	mit_txn_t t;
	buf_t err = BUF_INIT;
	cr_assert_eq(mit_txn_recover(s, &t, &err), 0, "%s", err.data);
	cr_assert_eq(leftovers(root), 0);
	buf_free(&err);
	mit_snaps_close(s);
}

/* ---------------------------------------------------------- journal */

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define GOOD                                                               \
	"umbra-txn 1\nid 7\nkind rollback\nstate staged\nmethod exchange\n" \
	"from " SHA "\nto " SHA "\nlive /etc/app\nstarted 5\n"            \
	"stage /etc/.app.umbra-stage.7\nstage_ino 1 2\n"

static void bad(const char *text, int want_line, const char *want)
{
	mit_txn_t t;
	int line;
	const char *why = NULL;
	cr_assert_eq(mit_txn_parse(text, strlen(text), &t, &line, &why),
		     ERR_CORRUPT, "%s", text);
	cr_assert_eq(line, want_line, "%s: line %d (%s)", text, line, why);
	cr_assert(strstr(why, want), "%s: %s", text, why);
}

Test(journal, good)
{
	mit_txn_t t;
	int line;
	const char *why;
	cr_assert_eq(mit_txn_parse(GOOD "dir a/b\n", strlen(GOOD "dir a/b\n"),
				   &t, &line, &why),
		     0, "%s", why);
	cr_assert_eq(t.id, 7);
	cr_assert_eq(t.state, MIT_TXN_STAGED);
	cr_assert_eq(t.method, MIT_TXN_EXCHANGE);
	cr_assert_str_eq(t.live, "/etc/app");
	cr_assert_str_eq(t.stage, "/etc/.app.umbra-stage.7");
	cr_assert_eq(t.stage_ino, 2);
	cr_assert_eq(t.ndirs, 1);
	cr_assert_str_eq(t.dirs[0], "a/b");
	mit_txn_free(&t);
}

Test(journal, empty) { bad("", 0, "empty"); }
Test(journal, bad_magic) { bad("umbra-txn 2\n", 1, "not a transaction"); }
Test(journal, unterminated) { bad("umbra-txn 1\nid 7", 2, "terminated"); }
Test(journal, no_value) { bad("umbra-txn 1\nid\n", 2, "KEY VALUE"); }
Test(journal, bad_id) { bad("umbra-txn 1\nid x\n", 2, "bad id"); }
Test(journal, zero_id) { bad("umbra-txn 1\nid 0\n", 2, "bad id"); }
Test(journal, bad_kind) { bad("umbra-txn 1\nkind scale\n", 2, "kind"); }
Test(journal, bad_state) { bad("umbra-txn 1\nstate gone\n", 2, "state"); }
Test(journal, bad_method) { bad("umbra-txn 1\nmethod copy\n", 2, "method"); }
Test(journal, bad_sha) { bad("umbra-txn 1\nfrom ABC\n", 2, "snapshot id"); }
Test(journal, relative_live) { bad("umbra-txn 1\nlive etc\n", 2, "path"); }
Test(journal, dotdot_live) { bad("umbra-txn 1\nlive /a/../b\n", 2, "path"); }
Test(journal, twice) { bad("umbra-txn 1\nlive /a\nlive /b\n", 3, "twice"); }
Test(journal, bad_ino) { bad("umbra-txn 1\nstage_ino 5\n", 2, "stage_ino"); }
Test(journal, bad_dir) { bad("umbra-txn 1\ndir /abs\n", 2, "dir"); }
Test(journal, control) { bad("umbra-txn 1\nkind a\x01\n", 2, "control"); }
Test(journal, unknown_key) { bad("umbra-txn 1\nwho me\n", 2, "unknown"); }
Test(journal, missing_key)
{
	bad("umbra-txn 1\nid 7\n", 0, "missing");
}
Test(journal, exchange_without_stage)
{
	bad("umbra-txn 1\nid 7\nkind rollback\nstate staged\nmethod "
	    "exchange\nfrom " SHA "\nto " SHA "\nlive /etc/app\n",
	    0, "stage");
}
