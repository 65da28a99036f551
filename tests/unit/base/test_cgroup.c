/*
 * test_cgroup.c: controller discovery on fixture mountinfo files of a
 * hybrid (v1 controllers + empty v2) host and a pure v2 host.
 */
#include "base/cgroup.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

static const char *data(const char *name)
{
	static char p[512];
	const char *d = getenv("UMBRA_TEST_DATA");
	snprintf(p, sizeof(p), "%s/cgroup/%s", d ? d : "tests/data", name);
	return p;
}

Test(cgroup, hybrid_host_uses_v1_controllers)
{
	cgroup_sys_t s;
	cr_assert_eq(cgroup_discover(&s, data("mountinfo-hybrid")), 0);
	cr_assert_str_eq(s.v1[CGROUP_CPU], "/sys/fs/cgroup/cpu");
	cr_assert_str_eq(s.v1[CGROUP_MEMORY], "/sys/fs/cgroup/memory");
	cr_assert_str_eq(s.v1[CGROUP_IO], "/sys/fs/cgroup/blkio");
	cr_assert_str_eq(s.v2, "/sys/fs/cgroup/unified");
	/* the fixture's v2 root is not readable from the test, or empty */
	cr_assert_eq(cgroup_version_for(&s, CGROUP_MEMORY), 1);
	char dir[CGROUP_PATH_MAX];
	cr_assert_eq(cgroup_dir_of(&s, CGROUP_MEMORY, 1, data("pid-hybrid"),
				   dir),
		     0);
	cr_assert_str_eq(dir, "/sys/fs/cgroup/memory/umbra/shadow");
	cr_assert_eq(cgroup_dir_of(&s, CGROUP_CPUACCT, 1, data("pid-hybrid"),
				   dir),
		     0);
	cr_assert_str_eq(dir, "/sys/fs/cgroup/cpuacct");
}

Test(cgroup, v2_host)
{
	cgroup_sys_t s;
	cr_assert_eq(cgroup_discover(&s, data("mountinfo-v2")), 0);
	cr_assert_str_eq(s.v2, "/sys/fs/cgroup");
	cr_assert_str_eq(s.v1[CGROUP_CPU], "");
	/* pretend the root delegates memory */
	s.v2_has[CGROUP_MEMORY] = true;
	cr_assert_eq(cgroup_version_for(&s, CGROUP_MEMORY), 2);
	cr_assert_eq(cgroup_version_for(&s, CGROUP_CPU), 0);
	char dir[CGROUP_PATH_MAX];
	cr_assert_eq(cgroup_dir_of(&s, CGROUP_MEMORY, 1, data("pid-v2"), dir),
		     0);
	cr_assert_str_eq(dir, "/sys/fs/cgroup/system.slice/umbra.service");
}
