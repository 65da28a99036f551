/*
 * test_limits.c: the shadow's share of production's resources, the text
 * of cgroup limit files for v1 and v2, and reading them back from
 * fixture directories (tests/data/provision/cgroup) and from files
 * written into a temporary tree.
 */
#include "base/err.h"
#include "provision/prov_int.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB (1024ULL * 1024)

static const char *fixture(const char *name)
{
	static char p[512];
	const char *d = getenv("UMBRA_TEST_DATA");
	snprintf(p, sizeof(p), "%s/provision/cgroup/%s", d ? d : "tests/data",
		 name);
	return p;
}

Test(share, ratio_of_production_total)
{
	prov_limits_t side[PROV_SIDES], rep[PROV_SIDES];
	prov_limits_share((prov_limits_t){2.0, 1024 * MiB}, 3, 0.1, 0, 1, side,
			  rep);
	cr_assert_float_eq(side[PROV_PRODUCTION].cpu, 6.0, 1e-9);
	cr_assert_eq(side[PROV_PRODUCTION].mem, 3072 * MiB);
	cr_assert_float_eq(rep[PROV_PRODUCTION].cpu, 2.0, 1e-9);
	cr_assert_float_eq(side[PROV_SHADOW].cpu, 0.6, 1e-9);
	cr_assert_eq(side[PROV_SHADOW].mem, (uint64_t)(3072 * MiB * 0.1));
	cr_assert_float_eq(rep[PROV_SHADOW].cpu, 0.6, 1e-9);
}

Test(share, follows_production_replicas_and_splits_over_shadow_replicas)
{
	prov_limits_t side[PROV_SIDES], rep[PROV_SIDES];
	prov_limits_share((prov_limits_t){1.0, 512 * MiB}, 4, 0.5, 0, 2, side,
			  rep);
	cr_assert_float_eq(side[PROV_SHADOW].cpu, 2.0, 1e-9);
	cr_assert_float_eq(rep[PROV_SHADOW].cpu, 1.0, 1e-9);
	cr_assert_eq(rep[PROV_SHADOW].mem, 512 * MiB);
	prov_limits_share((prov_limits_t){1.0, 512 * MiB}, 8, 0.5, 0, 2, side,
			  rep);
	cr_assert_float_eq(side[PROV_SHADOW].cpu, 4.0, 1e-9);
	/* the baseline: the shadow's total, in its one replica */
	cr_assert_float_eq(side[PROV_BASELINE].cpu, 4.0, 1e-9);
	cr_assert_float_eq(rep[PROV_BASELINE].cpu, 4.0, 1e-9);
	cr_assert_eq(rep[PROV_BASELINE].mem, side[PROV_SHADOW].mem);
}

Test(share, none_stays_none_and_floors_apply)
{
	prov_limits_t side[PROV_SIDES], rep[PROV_SIDES];
	prov_limits_share((prov_limits_t){0, 0}, 2, 0.1, 64 * MiB, 1, side,
			  rep);
	cr_assert_eq(side[PROV_SHADOW].cpu, 0);
	cr_assert_eq(side[PROV_SHADOW].mem, 0);
	/* memory_min lifts a tiny share */
	prov_limits_share((prov_limits_t){1, 100 * MiB}, 1, 0.1, 64 * MiB, 1,
			  side, rep);
	cr_assert_eq(side[PROV_SHADOW].mem, 64 * MiB);
	/* ratio 0: the smallest quota and 4 MiB, not "unlimited" */
	prov_limits_share((prov_limits_t){1, 100 * MiB}, 1, 0, 0, 1, side, rep);
	cr_assert_float_eq(side[PROV_SHADOW].cpu, 0.01, 1e-9);
	cr_assert_eq(side[PROV_SHADOW].mem, 4 * MiB);
}

Test(cgfiles, cpu_text)
{
	char t[48];
	prov_cpu_max_text(0.2, 100000, t);
	cr_assert_str_eq(t, "20000 100000");
	prov_cpu_max_text(0, 100000, t);
	cr_assert_str_eq(t, "max 100000");
	prov_cpu_max_text(0.001, 100000, t);
	cr_assert_str_eq(t, "1000 100000"); /* the kernel's minimum */
	cr_assert_eq(prov_cpu_quota_us(1.5, 100000), 150000);
	cr_assert_eq(prov_cpu_quota_us(0, 100000), -1);
	double c;
	cr_assert_eq(prov_cpu_max_parse("50000 100000\n", &c), 0);
	cr_assert_float_eq(c, 0.5, 1e-12);
	cr_assert_eq(prov_cpu_max_parse("max 100000", &c), 0);
	cr_assert_eq(c, 0);
	cr_assert_eq(prov_cpu_max_parse("", &c), ERR_PARSE);
	cr_assert_eq(prov_cpu_max_parse("max", &c), ERR_PARSE);
	cr_assert_eq(prov_cpu_max_parse("-5 100000", &c), ERR_PARSE);
	cr_assert_eq(prov_cpu_max_parse("50000 0", &c), ERR_PARSE);
	cr_assert_float_eq(prov_cpu_from_quota(150000, 100000), 1.5, 1e-12);
	cr_assert_eq(prov_cpu_from_quota(-1, 100000), 0);
	cr_assert_eq(prov_mem_from_limit(9223372036854771712ULL), 0);
	cr_assert_eq(prov_mem_from_limit(UINT64_MAX), 0);
	cr_assert_eq(prov_mem_from_limit(4096), 4096);
}

Test(cgfiles, read_fixtures_v1_and_v2)
{
	prov_limits_t l;
	char cpu[512], mem[512];
	snprintf(cpu, sizeof(cpu), "%s", fixture("v1-cpu"));
	snprintf(mem, sizeof(mem), "%s", fixture("v1-memory"));
	cr_assert_eq(prov__cg_read_limits(cpu, 1, mem, 1, &l), 0);
	cr_assert_float_eq(l.cpu, 1.5, 1e-12);
	cr_assert_eq(l.mem, 1024 * MiB);
	snprintf(cpu, sizeof(cpu), "%s", fixture("v2"));
	cr_assert_eq(prov__cg_read_limits(cpu, 2, cpu, 2, &l), 0);
	cr_assert_float_eq(l.cpu, 0.5, 1e-12);
	cr_assert_eq(l.mem, 512 * MiB);
	snprintf(cpu, sizeof(cpu), "%s", fixture("v1-unlimited"));
	cr_assert_eq(prov__cg_read_limits(cpu, 1, cpu, 1, &l), 0);
	cr_assert_eq(l.cpu, 0);
	cr_assert_eq(l.mem, 0);
	snprintf(cpu, sizeof(cpu), "%s", fixture("v2-unlimited"));
	cr_assert_eq(prov__cg_read_limits(cpu, 2, cpu, 2, &l), 0);
	cr_assert_eq(l.cpu, 0);
	cr_assert_eq(l.mem, 0);
	cr_assert_lt(prov__cg_read_limits("/nonexistent", 2, "", 0, &l), 0);
}

static char *file_text(const char *dir, const char *f)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, f);
	FILE *fp = fopen(p, "r");
	cr_assert_not_null(fp, "%s", p);
	static char t[128];
	t[0] = '\0';
	cr_assert_not_null(fgets(t, sizeof(t), fp));
	fclose(fp);
	return t;
}

/* Empty files standing in for a group's control files. */
static void touch(const char *dir, const char *f)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, f);
	FILE *fp = fopen(p, "w");
	cr_assert_not_null(fp);
	fclose(fp);
}

Test(cgfiles, write_then_read_back)
{
	char dir[] = "/tmp/umbra-cg-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	buf_t err = BUF_INIT;
	/* v2 */
	touch(dir, "cpu.max");
	touch(dir, "memory.max");
	prov_limits_t l = {0.25, 300 * MiB}, back;
	cr_assert_eq(prov__cg_write_limits(dir, 2, dir, 2, l, &err), 0, "%s",
		     err.data);
	cr_assert_str_eq(file_text(dir, "cpu.max"), "25000 100000");
	cr_assert_str_eq(file_text(dir, "memory.max"), "314572800");
	cr_assert_eq(prov__cg_read_limits(dir, 2, dir, 2, &back), 0);
	cr_assert_float_eq(back.cpu, 0.25, 1e-12);
	cr_assert_eq(back.mem, 300 * MiB);
	cr_assert_eq(
	    prov__cg_write_limits(dir, 2, dir, 2, (prov_limits_t){0, 0}, &err),
	    0);
	cr_assert_str_eq(file_text(dir, "cpu.max"), "max 100000");
	cr_assert_str_eq(file_text(dir, "memory.max"), "max");
	/* v1 */
	touch(dir, "cpu.cfs_quota_us");
	touch(dir, "cpu.cfs_period_us");
	touch(dir, "memory.limit_in_bytes");
	cr_assert_eq(prov__cg_write_limits(dir, 1, dir, 1, l, &err), 0);
	cr_assert_str_eq(file_text(dir, "cpu.cfs_quota_us"), "25000");
	cr_assert_str_eq(file_text(dir, "cpu.cfs_period_us"), "100000");
	cr_assert_str_eq(file_text(dir, "memory.limit_in_bytes"), "314572800");
	cr_assert_eq(
	    prov__cg_write_limits(dir, 1, dir, 1, (prov_limits_t){0, 0}, &err),
	    0);
	cr_assert_str_eq(file_text(dir, "cpu.cfs_quota_us"), "-1");
	cr_assert_str_eq(file_text(dir, "memory.limit_in_bytes"), "-1");
	/* a missing control file is an error naming it */
	cr_assert_lt(prov__cg_write_limits("/nonexistent", 2, "", 0, l, &err),
		     0);
	cr_assert(strstr(err.data, "/nonexistent/cpu.max"));
	buf_free(&err);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Issue 23: a replica group left from an earlier scale-up kept a larger
 * quota, and v1 refused the side's lower one (EINVAL): every replica-*
 * group is lifted first. */
Test(cgfiles, v1_lifts_every_replica_group)
{
	char dir[] = "/tmp/umbra-cgv1-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	prov_cg_t cg;
	memset(&cg, 0, sizeof(cg));
	cg.on = true;
	cg.ver[CGROUP_CPU] = 1;
	snprintf(cg.side[CGROUP_CPU], sizeof(cg.side[CGROUP_CPU]), "%s", dir);
	char p[256];
	for (int i = 0; i < 3; i += 2) { /* replica-0 and a leftover -2 */
		snprintf(p, sizeof(p), "%s/replica-%d", dir, i);
		cr_assert_eq(mkdir(p, 0755), 0);
		snprintf(p, sizeof(p), "%s/replica-%d/cpu.cfs_quota_us", dir, i);
		FILE *f = fopen(p, "w");
		fputs("50000\n", f);
		fclose(f);
	}
	buf_t err = BUF_INIT;
	cr_assert_eq(prov__cg_v1_lift_children(&cg, &err), 0, "%s", err.data);
	for (int i = 0; i < 3; i += 2) {
		snprintf(p, sizeof(p), "%s/replica-%d/cpu.cfs_quota_us", dir, i);
		FILE *f = fopen(p, "r");
		char line[32] = "";
		cr_assert_not_null(fgets(line, sizeof(line), f));
		fclose(f);
		cr_assert_str_eq(line, "-1", "replica-%d", i);
	}
	cg.ver[CGROUP_CPU] = 2; /* v2 has no such rule: nothing written */
	cr_assert_eq(prov__cg_v1_lift_children(&cg, &err), 0);
	buf_free(&err);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
