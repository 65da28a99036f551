/*
 * test_fs.c: mkdir -p of a directory and of a file's directory.
 */
#include "base/fs.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/umbra-fs-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

static bool is_dir(const char *p, mode_t *mode)
{
	struct stat st;
	if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
		return false;
	*mode = st.st_mode & 0777;
	return true;
}

TestSuite(fs, .init = setup, .fini = teardown);

Test(fs, mkdirs_makes_every_level_and_accepts_existing)
{
	char p[128];
	mode_t m;
	snprintf(p, sizeof(p), "%s/a/b/c/", root);
	cr_assert_eq(fs_mkdirs(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/a/b/c", root);
	cr_assert(is_dir(p, &m));
	cr_assert_eq(m & 0077, 0, "made with the caller's mode");
	cr_assert_eq(fs_mkdirs(p, 0700), 0, "existing: fine");
}

Test(fs, mkdirs_for_makes_the_directory_not_the_file)
{
	char p[128];
	mode_t m;
	snprintf(p, sizeof(p), "%s/x/y/file", root);
	cr_assert_eq(fs_mkdirs_for(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/x/y", root);
	cr_assert(is_dir(p, &m));
	snprintf(p, sizeof(p), "%s/x/y/file", root);
	cr_assert_neq(access(p, F_OK), 0);
	cr_assert_eq(fs_mkdirs_for("file-without-dir", 0755), 0);
	cr_assert_eq(fs_mkdirs_for("/file-at-root", 0755), 0);
}

Test(fs, a_file_in_the_way_is_an_error)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/f", root);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/f/sub", root);
	cr_assert_eq(fs_mkdirs(p, 0755), -ENOTDIR);
}

/* ------------------------------------------------------------ secrets */

#include "base/err.h"

#include <fcntl.h>
#include <string.h>

static void touch(const char *p, mode_t mode)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
	cr_assert_eq(write(fd, "x\n", 2), 2);
	close(fd);
	cr_assert_eq(chmod(p, mode), 0);
}

Test(fs, check_private_takes_0600_and_refuses_group_world_and_non_files)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/secret", root);
	touch(p, 0600);
	buf_t why = BUF_INIT;
	cr_assert_eq(fs_check_private_path(p, &why), 0);
	cr_assert_eq(chmod(p, 0640), 0);
	cr_assert_eq(fs_check_private_path(p, &why), ERR_INSECURE);
	cr_assert(strstr(why.data, p) && strstr(why.data, "0640"), "%s",
		  why.data);
	buf_reset(&why);
	cr_assert_eq(chmod(p, 0604), 0);
	cr_assert_eq(fs_check_private_path(p, &why), ERR_INSECURE);
	buf_reset(&why);
	cr_assert_eq(fs_check_private_path(root, &why), ERR_INSECURE);
	cr_assert(strstr(why.data, "not a regular file"), "%s", why.data);
	char l[160];
	snprintf(l, sizeof(l), "%s/link", root);
	cr_assert_eq(symlink(p, l), 0);
	buf_reset(&why);
	cr_assert_eq(fs_check_private_path(l, &why), ERR_INSECURE,
		     "a symlink is not the secret itself");
	snprintf(l, sizeof(l), "%s/missing", root);
	cr_assert_eq(fs_check_private_path(l, NULL), -ENOENT);
	buf_free(&why);
}

Test(fs, open_beneath_never_leaves_the_tree)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/in", root);
	cr_assert_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/in/sub", root);
	cr_assert_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/in/sub/f", root);
	touch(p, 0600);
	snprintf(p, sizeof(p), "%s/outside", root);
	touch(p, 0600);
	snprintf(p, sizeof(p), "%s/in/up", root);
	cr_assert_eq(symlink("../outside", p), 0);
	snprintf(p, sizeof(p), "%s/in/dirlink", root);
	cr_assert_eq(symlink("sub", p), 0);
	snprintf(p, sizeof(p), "%s/in", root);
	int d = open(p, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(d, 0);

	int fd = fs_open_beneath(d, "sub/f", O_RDONLY, 0);
	cr_assert_geq(fd, 0, "a plain path: %s", strerror(-fd));
	close(fd);
	cr_assert_lt(fs_open_beneath(d, "up", O_RDONLY, 0), 0,
		     "a final symlink out");
	cr_assert_lt(fs_open_beneath(d, "dirlink/f", O_RDONLY, 0), 0,
		     "a symlink on the way, even inside");
	cr_assert_lt(fs_open_beneath(d, "../outside", O_RDONLY, 0), 0);
	cr_assert_lt(fs_open_beneath(d, "/etc/passwd", O_RDONLY, 0), 0);
	close(d);
}
