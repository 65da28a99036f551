/*
 * test_files.c: prov__rmtree removes a tree the shadow's user owns
 * without ever following a symlink out of it (issue 19: the shadow may
 * swap a directory for a link to elsewhere while umbra removes its copy).
 */
#include "provision/prov_int.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

Test(files, rmtree_removes_links_not_what_they_point_to)
{
	char root[] = "/tmp/umbra-rmtree-XXXXXX";
	cr_assert_not_null(mkdtemp(root));
	char p[256], keep[256];
	snprintf(keep, sizeof(keep), "%s/outside", root);
	cr_assert_eq(mkdir(keep, 0755), 0);
	snprintf(p, sizeof(p), "%s/outside/precious", root);
	int fd = open(p, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/tree", root);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/tree/sub", root);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/tree/sub/dirlink", root);
	cr_assert_eq(symlink(keep, p), 0);
	snprintf(p, sizeof(p), "%s/tree/filelink", root);
	cr_assert_eq(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/tree", root);
	cr_assert_eq(prov__rmtree(p), 0);
	struct stat st;
	cr_assert_neq(lstat(p, &st), 0, "the tree is gone");
	snprintf(p, sizeof(p), "%s/outside/precious", root);
	cr_assert_eq(stat(p, &st), 0, "what a link pointed to is kept");
	cr_assert_eq(stat("/etc/passwd", &st), 0);
	cr_assert_eq(prov__rmtree(root), 0);
}
