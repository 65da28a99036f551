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
