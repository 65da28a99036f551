/*
 * validate.c: production.validate, the service's own check of a config
 * directory (`nginx -t -c {config_dir}/nginx.conf`, `haproxy -c -f ...`)
 * run before umbra switches production to it: a proposal's candidate
 * before it goes to the shadow and again before its promotion, a
 * rollback's target before it is written. A failing check stops the
 * action with the tool's own words.
 *
 * The check runs synchronously on the caller's thread (the daemon's
 * control thread), bounded by MIT_VALIDATE_TIMEOUT_NS: it comes before
 * an action that itself blocks on file copies, and a syntax check takes
 * milliseconds. Its output is owned by the caller's err buffer.
 */
#include "mitigate/mitigate.h"
#include "mitigate/mit_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "provision/provision.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mit_validate_set(const config_t *c)
{
	return c->production.validate.n > 0;
}

int mit_validate(const config_t *c, const char *dir, const char *what,
		 buf_t *err)
{
	const config_strv_t *cmd = &c->production.validate;
	if (!cmd->n)
		return 0;
	char **argv = xcalloc(cmd->n + 1, sizeof(char *));
	prov_vars_t v = {c->service, "production", dir,
			 c->production.data_dir, (int)c->production.port, 0};
	for (size_t i = 0; i < cmd->n; i++)
		argv[i] = prov_render_str(cmd->v[i], &v);
	char svc[128], cd[4200];
	snprintf(svc, sizeof(svc), "UMBRA_SERVICE=%s", c->service);
	snprintf(cd, sizeof(cd), "UMBRA_CONFIG_DIR=%s", dir);
	char *env[] = {svc, cd, NULL};
	mit_cmd_t run;
	int rc = mit__cmd_start(&run, "validate", argv, env);
	int64_t deadline = clock_mono_ns() + MIT_VALIDATE_TIMEOUT_NS;
	bool timed_out = false;
	while (!rc && !mit__cmd_poll(&run, clock_mono_ns())) {
		if (clock_mono_ns() >= deadline) {
			timed_out = true;
			break;
		}
		/* its output or its end, whichever first; 20 ms at most */
		struct pollfd pf = {run.out_fd, POLLIN, 0};
		poll(&pf, run.out_fd >= 0 ? 1 : 0, 20);
	}
	const char *out = run.out.data ? run.out.data : "";
	size_t ol = run.out.len;
	while (ol && (out[ol - 1] == '\n' || out[ol - 1] == ' '))
		ol--;
	int ret = 0;
	if (rc) {
		buf_printf(err, "production.validate (%s) for %s could not "
				"start: %s",
			   argv[0], what, err_str(rc));
		ret = ERR_INVAL;
	} else if (timed_out) {
		buf_printf(err,
			   "production.validate (%s) for %s did not finish "
			   "within %lld s%s%.*s",
			   argv[0], what,
			   (long long)(MIT_VALIDATE_TIMEOUT_NS / 1000000000LL),
			   ol ? ": " : "", (int)ol, out);
		ret = ERR_INVAL;
	} else if (run.status != 0) {
		buf_printf(err, "production.validate (%s) rejected %s (status "
				"%d)%s%.*s",
			   argv[0], what, run.status, ol ? ": " : "", (int)ol,
			   out);
		ret = ERR_INVAL;
	} else {
		log_info("mitigate", "validated", LF_S("what", what),
			 LF_S("dir", dir));
	}
	mit__cmd_free(&run);
	for (size_t i = 0; i < cmd->n; i++)
		free(argv[i]);
	free(argv);
	return ret;
}
