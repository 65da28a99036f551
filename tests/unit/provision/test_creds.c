/*
 * test_creds.c: who a service runs as (issue 19): capability names, the
 * user and group a side resolves to, the clean environment a child gets,
 * and the check that the shadow's user can reach its work dir. Tests
 * that switch users need root and skip, saying so, without it.
 */
#include "base/err.h"
#include "base/log.h"
#include "provision/prov_int.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void quiet(void)
{
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
}

TestSuite(creds, .init = quiet);

Test(creds, capability_names)
{
	cr_assert_eq(prov_cap_parse("CAP_NET_BIND_SERVICE"),
		     CAP_NET_BIND_SERVICE);
	cr_assert_eq(prov_cap_parse("net_bind_service"), CAP_NET_BIND_SERVICE);
	cr_assert_eq(prov_cap_parse("cap_sys_admin"), CAP_SYS_ADMIN);
	cr_assert_eq(prov_cap_parse("CAP_CHECKPOINT_RESTORE"),
		     CAP_CHECKPOINT_RESTORE);
	cr_assert_eq(prov_cap_parse("CAP_FLY"), -1);
	cr_assert_eq(prov_cap_parse(""), -1);

	char *names[] = {"CAP_NET_BIND_SERVICE", "CAP_FLY"};
	config_strv_t caps = {names, 2};
	prov_creds_t c;
	buf_t err = BUF_INIT;
	cr_assert_eq(prov__creds_build("shadow", "", "", &caps, false, &c,
				       &err),
		     ERR_CONFIG);
	cr_assert(strstr(err.data, "shadow.capabilities") &&
		      strstr(err.data, "CAP_FLY"),
		  "%s", err.data);
	caps.n = 1;
	buf_reset(&err);
	cr_assert_eq(prov__creds_build("shadow", "", "", &caps, false, &c,
				       &err),
		     0, "%s", err.data);
	cr_assert_eq(c.caps, 1ULL << CAP_NET_BIND_SERVICE);
	prov__creds_free(&c);
	buf_free(&err);
}

Test(creds, unknown_users_and_groups_name_the_field)
{
	prov_creds_t c;
	buf_t err = BUF_INIT;
	cr_assert_eq(prov__creds_build("production", "no-such-user-19", "",
				       NULL, false, &c, &err),
		     ERR_CONFIG);
	cr_assert(strstr(err.data, "production.user") &&
		      strstr(err.data, "no-such-user-19"),
		  "%s", err.data);
	buf_reset(&err);
	cr_assert_eq(prov__creds_build("shadow", "", "wheel", NULL, false, &c,
				       &err),
		     ERR_CONFIG, "a group without a user");
	cr_assert(strstr(err.data, "shadow.group"), "%s", err.data);
	buf_free(&err);
}

Test(creds, as_root_the_shadow_is_never_root)
{
	if (geteuid() != 0)
		cr_skip_test("needs root: only root switches users");
	prov_creds_t c;
	buf_t err = BUF_INIT;
	cr_assert_eq(prov__creds_build("shadow", "", "", NULL, true, &c, &err),
		     0, "%s", err.data);
	cr_assert(c.set);
	cr_assert_neq(c.uid, 0);
	cr_assert_neq(c.gid, 0);
	const char *want = getpwnam(PROV_SHADOW_USER) ? PROV_SHADOW_USER
						      : PROV_SHADOW_FALLBACK;
	cr_assert_str_eq(c.user, want);
	cr_assert_geq(c.ngroups, 1);
	prov__creds_free(&c);

	/* production keeps umbra's user unless told */
	cr_assert_eq(prov__creds_build("production", "", "", NULL, false, &c,
				       &err),
		     0);
	cr_assert_not(c.set);
	prov__creds_free(&c);

	/* a number with no name, and an explicit group */
	cr_assert_eq(prov__creds_build("production", "4242", "0", NULL, false,
				       &c, &err),
		     0, "%s", err.data);
	cr_assert(c.set);
	cr_assert_eq(c.uid, 4242);
	cr_assert_eq(c.gid, 0);
	cr_assert_str_eq(c.home, "/");
	prov__creds_free(&c);
	buf_free(&err);
}

Test(creds, the_environment_is_the_spec_and_the_allow_list)
{
	setenv("UMBRA_TOKEN_19", "secret", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("PATH", "/usr/bin:/bin", 1);
	setenv("LC_TIME", "C", 1);
	prov_spec_t s = {0};
	char *keys[] = {"UMBRA_SIDE", "PATH"};
	char *vals[] = {"shadow", "/opt/svc/bin:{service}"};
	s.env_keys = keys;
	s.env_vals = vals;
	s.nenv = 2;
	s.creds.user = "svc";
	s.creds.home = "/var/lib/svc";
	prov_vars_t v = {.service = "api", .side = "shadow"};
	char **env = prov__build_env(&s, &v);
	bool path = false, side = false, lc = false, home = false, user = false;
	for (size_t i = 0; env[i]; i++) {
		cr_assert(strncmp(env[i], "UMBRA_TOKEN_19=", 15) &&
			      strncmp(env[i], "AWS_SECRET", 10),
			  "leaked: %s", env[i]);
		path |= !strcmp(env[i], "PATH=/opt/svc/bin:api");
		cr_assert(strcmp(env[i], "PATH=/usr/bin:/bin"),
			  "the spec's PATH replaces umbra's");
		side |= !strcmp(env[i], "UMBRA_SIDE=shadow");
		lc |= !strcmp(env[i], "LC_TIME=C");
		home |= !strcmp(env[i], "HOME=/var/lib/svc");
		user |= !strcmp(env[i], "USER=svc");
	}
	cr_assert(path && side && lc && home && user);
	prov__strv_free(env);
	cr_assert(prov__env_allowed("LANG=C"));
	cr_assert_not(prov__env_allowed("LC_=x"));
	cr_assert_not(prov__env_allowed("PATHX=1"));
	cr_assert_not(prov__env_allowed("PATH"));
}

Test(creds, reach_names_the_directory_in_the_way)
{
	if (geteuid() != 0)
		cr_skip_test("needs root: a directory another user cannot "
			     "search");
	char dir[] = "/tmp/umbra-creds-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char sub[64];
	snprintf(sub, sizeof(sub), "%s/work", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	gid_t g = 4243;
	prov_creds_t c = {.set = true, .uid = 4243, .gid = 4243, .groups = &g,
			  .ngroups = 1, .user = "u"};
	buf_t err = BUF_INIT;
	cr_assert_eq(chmod(dir, 0700), 0);
	cr_assert_eq(prov__creds_reach(&c, sub, &err), -EACCES);
	cr_assert(strstr(err.data, dir) && strstr(err.data, "0700"), "%s",
		  err.data);
	cr_assert_eq(chmod(dir, 0711), 0);
	buf_reset(&err);
	cr_assert_eq(prov__creds_reach(&c, sub, &err), 0, "%s", err.data);
	buf_free(&err);
	rmdir(sub);
	rmdir(dir);
}
