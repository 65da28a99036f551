/*
 * spec.c: one service spec per side, built from the config. Production is
 * what the config says (command mode) or what an attached process is
 * (argv, cwd and environment read from /proc); the shadow is production's
 * copy: the same command (or shadow.command), the same environment plus
 * shadow.env and UMBRA_SIDE=shadow, a rendered copy of the config files,
 * its own port, its own data directory, and (when isolated) an address
 * inside its own network namespace. The baseline (shadow.baseline) is a
 * second copy of production that differs from it in nothing but place:
 * production's command and environment (never shadow.command or
 * shadow.env) plus UMBRA_SIDE=baseline, a rendered copy of production's
 * config files (never shadow.config_dir), its own port, work dir and data
 * dir, and the shadow's network placement.
 */
#include "provision/prov_int.h"

#include "base/cidr.h"
#include "base/err.h"
#include "base/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char **strv_dup(char *const *v, size_t n)
{
	char **o = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		o[i] = xstrdup(v[i]);
	return o;
}

static size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

/* Adds or replaces key in the spec's added environment. */
static void env_set(prov_spec_t *s, const char *key, const char *val)
{
	for (size_t i = 0; i < s->nenv; i++) {
		if (!strcmp(s->env_keys[i], key)) {
			free(s->env_vals[i]);
			s->env_vals[i] = xstrdup(val);
			return;
		}
	}
	s->env_keys = xreallocarray(s->env_keys, s->nenv + 1, sizeof(char *));
	s->env_vals = xreallocarray(s->env_vals, s->nenv + 1, sizeof(char *));
	s->env_keys[s->nenv] = xstrdup(key);
	s->env_vals[s->nenv] = xstrdup(val);
	s->nenv++;
}

static void env_set_map(prov_spec_t *s, const config_map_t *m)
{
	for (size_t i = 0; i < m->n; i++)
		env_set(s, m->v[i].key, m->v[i].value);
}

void prov_spec_free(prov_spec_t *s)
{
	free(s->service);
	prov__strv_free(s->argv);
	for (size_t i = 0; i < s->nenv; i++) {
		free(s->env_keys[i]);
		free(s->env_vals[i]);
	}
	free(s->env_keys);
	free(s->env_vals);
	prov__strv_free(s->base_env);
	free(s->cwd);
	free(s->config_src);
	free(s->config_dir);
	free(s->render_dir);
	free(s->data_dir);
	free(s->work_dir);
	free(s->host);
	free(s->health_path);
	prov__creds_free(&s->creds);
	memset(s, 0, sizeof(*s));
}

prov_vars_t prov_spec_vars(const prov_spec_t *s, int replica, int port)
{
	return (prov_vars_t){
	    .service = s->service,
	    .side = prov_side_name(s->side),
	    .config_dir = s->render_dir && s->render_dir[0] ? s->render_dir
							    : s->config_dir,
	    .data_dir = s->data_dir,
	    .port = port,
	    .replica = replica,
	    .extra = s->vars,
	};
}

char *prov_replica_config_dir(const prov_spec_t *s, int replica)
{
	const char *d = s->render_dir && s->render_dir[0] ? s->render_dir
			: s->copy_config			  ? s->config_dir
								  : NULL;
	if (!d)
		return NULL;
	return replica ? xasprintf("%s.%d", d, replica) : xstrdup(d);
}

/* Copies the settings both sides share (health, stop, restart). */
static void common(const config_t *cfg, prov_spec_t *s)
{
	const config_production_t *p = &cfg->production;
	s->service = xstrdup(cfg->service);
	s->health_type = p->health.type;
	s->health_path = xstrdup(p->health.path);
	s->health_interval = p->health.interval;
	s->health_timeout = p->health.timeout;
	s->start_timeout = p->start_timeout;
	s->stop_signal = p->stop_signal;
	s->stop_grace = p->stop_grace;
	s->backoff = p->restart.backoff;
	s->backoff_max = p->restart.backoff_max;
	s->restart_max = (int)p->restart.max;
	s->restart_window = p->restart.window;
	s->work_dir = xstrdup(cfg->shadow.work_dir);
	s->vars = &p->vars;
	s->render_dir = xstrdup("");
}

/* Host and port of an http(s) URL; 0 or ERR_PARSE. */
static int url_hostport(const char *url, char *host, size_t hlen, int *port)
{
	const char *p = strstr(url, "://");
	if (!p)
		return ERR_PARSE;
	bool tls = !strncmp(url, "https", 5);
	p += 3;
	size_t n = strcspn(p, "/?#");
	char hp[300];
	if (n == 0 || n >= sizeof(hp))
		return ERR_PARSE;
	memcpy(hp, p, n);
	hp[n] = '\0';
	char *colon = hp[0] == '[' ? strstr(hp, "]:") : strrchr(hp, ':');
	if (colon && hp[0] == '[')
		colon++;
	*port = tls ? 443 : 80;
	if (colon) {
		*colon = '\0';
		*port = atoi(colon + 1);
		if (*port < 1 || *port > 65535)
			return ERR_PARSE;
	}
	const char *h = hp;
	if (hp[0] == '[') {
		h = hp + 1;
		char *close = strchr(hp, ']');
		if (close)
			*close = '\0';
	}
	snprintf(host, hlen, "%s", h);
	return 0;
}

/* Reads pid's argv, cwd and environment from proc_root. */
static int read_attached(const char *proc_root, int pid, prov_spec_t *s,
			 buf_t *err)
{
	char path[PATH_MAX];
	buf_t b = BUF_INIT;
	snprintf(path, sizeof(path), "%s/%d/cmdline", proc_root, pid);
	int rc = prov__read_file(path, PROV_PROC_MAX, &b);
	if (rc || b.len == 0) {
		buf_printf(err,
			   "production.attach.pid: cannot read the command of "
			   "process %d (%s): %s",
			   pid, path,
			   rc ? err_str(rc)
			      : "empty (a kernel thread or a "
				"zombie)");
		buf_free(&b);
		return rc ? rc : ERR_NOTFOUND;
	}
	s->argv = prov__split_nul(b.data, b.len, &s->argc);
	buf_reset(&b);
	snprintf(path, sizeof(path), "%s/%d/environ", proc_root, pid);
	rc = prov__read_file(path, PROV_PROC_MAX, &b);
	if (rc && rc != ERR_TOOBIG) {
		buf_printf(err,
			   "production.attach.pid: cannot read the environment "
			   "of process %d (%s): %s (reading another user's "
			   "process needs root)",
			   pid, path, err_str(rc));
		buf_free(&b);
		return rc;
	}
	size_t n;
	s->base_env = prov__split_nul(b.data ? b.data : "", b.len, &n);
	buf_free(&b);
	snprintf(path, sizeof(path), "%s/%d/cwd", proc_root, pid);
	char cwd[PATH_MAX];
	ssize_t l = readlink(path, cwd, sizeof(cwd) - 1);
	if (l < 0) {
		buf_printf(err,
			   "production.attach.pid: cannot read the working "
			   "directory of process %d: %s",
			   pid, strerror(errno));
		return -errno;
	}
	cwd[l] = '\0';
	s->cwd = xstrdup(cwd);
	return 0;
}

int prov_split_command(const char *s, char ***argv, size_t *argc)
{
	size_t len = strlen(s), n = 0;
	char **v = xcalloc(len / 2 + 2, sizeof(char *));
	char *tmp = xmalloc(len + 1);
	const char *p = s;
	int rc = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		size_t k = 0;
		char q = 0;
		while (*p && (q || (*p != ' ' && *p != '\t'))) {
			if (q == '\'') {
				if (*p == '\'')
					q = 0;
				else
					tmp[k++] = *p;
				p++;
			} else if (*p == '\\' && p[1]) {
				tmp[k++] = p[1];
				p += 2;
			} else if (q == '"' && *p == '"') {
				q = 0;
				p++;
			} else if (!q && (*p == '\'' || *p == '"')) {
				q = *p++;
			} else {
				tmp[k++] = *p++;
			}
		}
		if (q) {
			rc = ERR_PARSE;
			break;
		}
		v[n++] = xstrndup(tmp, k);
	}
	free(tmp);
	if (rc || !n) {
		prov__strv_free(v);
		return rc ? rc : ERR_PARSE;
	}
	*argv = v;
	*argc = n;
	return 0;
}

int prov_unit_exec_start(const char *text, char ***argv, size_t *argc)
{
	const char *last = NULL;
	bool service = false;
	for (const char *l = text; l && *l;) {
		while (*l == ' ' || *l == '\t')
			l++;
		if (*l == '[')
			service = !strncmp(l, "[Service]", 9);
		else if (service && !strncmp(l, "ExecStart=", 10))
			last = l + 10;
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	if (!last)
		return ERR_NOTFOUND;
	size_t n = strcspn(last, "\n");
	char *line = xstrndup(last, n);
	/* systemd's prefixes: - @ : + ! (ignore failure, argv[0], ...) */
	char *w = line;
	bool at = false;
	while (*w && strchr("-@:+!", *w))
		at |= *w++ == '@';
	int rc = *w ? prov_split_command(w, argv, argc) : ERR_NOTFOUND;
	if (!rc && at && *argc > 1) {
		/* "@/usr/bin/x name args": path, then argv[0] */
		free((*argv)[1]);
		memmove(&(*argv)[1], &(*argv)[2], (*argc - 1) * sizeof(char *));
		(*argc)--;
	}
	free(line);
	return rc;
}

#define PROV_UNIT_FILE_MAX (256 * 1024) /* a unit file, not a document */

/* The command of systemd unit `unit`: its unit file (systemctl show
 * -p FragmentPath), its last ExecStart= in [Service]. */
static int unit_command(const char *unit, prov_spec_t *s, buf_t *err)
{
	const char *argv[] = {"systemctl", "show", "-p", "FragmentPath",
			      "--value", "--", unit, NULL};
	buf_t out = BUF_INIT, file = BUF_INIT;
	int rc = prov__run(argv, NULL, &out);
	char *path = xstrndup(out.data ? out.data : "",
			      out.data ? strcspn(out.data, "\n") : 0);
	if (rc || !path[0]) {
		buf_printf(err,
			   "production.attach.unit: systemctl show %s found no "
			   "unit file (%s%s%.200s): set production.attach."
			   "command to the argv that starts a copy",
			   unit, rc ? err_str(rc) : "empty FragmentPath",
			   out.len ? ": " : "", out.data ? out.data : "");
		rc = rc ? rc : ERR_NOTFOUND;
	} else if ((rc = prov__read_file(path, PROV_UNIT_FILE_MAX, &file))) {
		buf_printf(err, "production.attach.unit: cannot read %s: %s",
			   path, err_str(rc));
	} else if ((rc = prov_unit_exec_start(file.data ? file.data : "",
					      &s->argv, &s->argc))) {
		buf_printf(err,
			   "production.attach.unit: no usable ExecStart= in "
			   "%s: set production.attach.command",
			   path);
	}
	free(path);
	buf_free(&out);
	buf_free(&file);
	return rc;
}

/* The command to start a copy of the attached process, in this order:
 * production.attach.command, the ExecStart= of production.attach.unit,
 * or the process's own argv when its title was not rewritten (argv[0]
 * resolves to the executable /proc/PID/exe names). A rewritten title
 * (nginx: "nginx: master process ...") is no command: refused, naming
 * the fields to set. s->argv holds the argv read from /proc. */
static int attach_command(const config_production_t *p, const char *proc_root,
			  int pid, prov_spec_t *s, buf_t *err)
{
	if (p->attach.command.n || p->attach.unit[0]) {
		prov__strv_free(s->argv);
		s->argv = NULL;
		s->argc = 0;
		if (p->attach.command.n) {
			s->argv = strv_dup(p->attach.command.v,
					   p->attach.command.n);
			s->argc = p->attach.command.n;
			return 0;
		}
		return unit_command(p->attach.unit, s, err);
	}
	char path[PATH_MAX], exe[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%d/exe", proc_root, pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0; /* cannot tell (fixtures, another user's process):
			     its argv, as before */
	exe[n] = '\0';
	char *del = strstr(exe, " (deleted)");
	if (del && !del[10])
		*del = '\0';
	char *found = prov__find_exe(s->argv[0], s->base_env, s->cwd);
	char real[PATH_MAX];
	bool same = found && realpath(found, real) && !strcmp(real, exe);
	free(found);
	if (same)
		return 0;
	buf_printf(err,
		   "production.attach: process %d rewrote its title (argv[0] "
		   "\"%.80s\" is not its executable %s), so umbra cannot tell "
		   "how to start its shadow: set production.attach.command "
		   "(the argv that starts a copy, e.g. [%s, -c, "
		   "\"{config_dir}/...\"]) or production.attach.unit (its "
		   "systemd unit)",
		   pid, s->argv[0], exe, exe);
	return ERR_CONFIG;
}

/* The first pid listed in an attached cgroup (its oldest, usually the
 * main process). */
static int pid_of_cgroup(const char *dir, int *pid, buf_t *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	buf_t b = BUF_INIT;
	int rc = prov__read_file(path, 1 << 20, &b);
	*pid = rc ? 0 : atoi(b.data ? b.data : "");
	buf_free(&b);
	if (rc || *pid <= 0) {
		buf_printf(err,
			   "production.attach.cgroup: no process in %s (%s)",
			   dir, rc ? err_str(rc) : "empty group");
		return rc ? rc : ERR_NOTFOUND;
	}
	return 0;
}

static int build_production(const config_t *cfg, const char *proc_root,
			    prov_spec_t *s, buf_t *err)
{
	const config_production_t *p = &cfg->production;
	s->side = PROV_PRODUCTION;
	common(cfg, s);
	s->config_src = xstrdup(p->config_dir);
	s->config_dir = xstrdup(p->config_dir);
	s->data_dir = xstrdup(p->data_dir);
	s->host = xstrdup(PROV_SHADOW_HOST_LOOPBACK);
	s->port = (int)p->port;
	s->replicas = (int)p->replicas;
	s->cpu = p->cpu_limit;
	s->mem = p->memory_limit;
	if (p->command.n) {
		s->run = true;
		s->argv = strv_dup(p->command.v, p->command.n);
		s->argc = p->command.n;
		s->cwd = xstrdup(p->cwd);
		env_set_map(s, &p->env);
		env_set(s, "UMBRA_SIDE", "production");
		/* files with placeholders cannot run as they are: production
		 * runs with a rendered copy, like the shadow (issue 21) */
		if (p->config_dir[0] &&
		    prov_tree_uses_placeholders(p->config_dir, &p->vars)) {
			free(s->render_dir);
			s->render_dir = xasprintf("%s/" PROV_PRODUCTION_DIR
						  "/config",
						  s->work_dir);
		}
		return prov__creds_build("production", p->user, p->group,
					 &p->capabilities, false, &s->creds,
					 err);
	}
	bool att = p->attach.pid || p->attach.cgroup[0];
	if (!att) {
		/* production.upstreams: umbra neither runs nor watches it. */
		s->cwd = xstrdup(p->cwd);
		return 0;
	}
	s->attached = true;
	s->replicas = 1;
	int pid = (int)p->attach.pid;
	int rc = 0;
	if (!pid)
		rc = pid_of_cgroup(p->attach.cgroup, &pid, err);
	if (!rc)
		rc = read_attached(proc_root, pid, s, err);
	if (rc)
		return rc;
	s->attach_pid = pid;
	rc = attach_command(p, proc_root, pid, s, err);
	if (rc)
		return rc;
	if (p->attach.url[0]) {
		char host[300];
		int port;
		if (url_hostport(p->attach.url, host, sizeof(host), &port)) {
			buf_printf(err,
				   "production.attach.url: cannot take a host "
				   "and port from \"%s\"",
				   p->attach.url);
			return ERR_CONFIG;
		}
		free(s->host);
		s->host = xstrdup(host);
		s->port = port;
	}
	return 0;
}

/* The attached production's argv as a template for the shadow: its port
 * becomes {port} and its config dir {config_dir}. */
char *prov__attach_template(const char *word, int port, const char *cd)
{
	char *w = prov_port_rebase(word, port, "{port}");
	size_t cl = strlen(cd);
	if (cl) {
		buf_t b = BUF_INIT;
		for (const char *q = w; *q;) {
			const char *hit = strstr(q, cd);
			char after = hit ? hit[cl] : '\0';
			if (!hit || (after && after != '/')) {
				buf_puts(&b, q);
				break;
			}
			buf_append(&b, q, (size_t)(hit - q));
			buf_puts(&b, "{config_dir}");
			q = hit + cl;
		}
		free(w);
		w = buf_steal(&b);
	}
	return w;
}

/* The shadow's veth address from shadow.netns_subnet: network + 2. */
static int netns_host(const char *subnet, char out[INET_ADDRSTRLEN])
{
	cidr_t c;
	const char *why;
	if (cidr_parse(subnet, &c, &why) || c.family != AF_INET)
		return ERR_CONFIG;
	uint32_t a = ((uint32_t)c.addr[0] << 24) | ((uint32_t)c.addr[1] << 16) |
		     ((uint32_t)c.addr[2] << 8) | c.addr[3];
	a += 2;
	snprintf(out, INET_ADDRSTRLEN, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
		 (a >> 8) & 255, a & 255);
	return 0;
}

static int build_shadow(const config_t *cfg, const prov_spec_t *prod,
			prov_spec_t *s, buf_t *err)
{
	const config_shadow_t *sh = &cfg->shadow;
	s->side = PROV_SHADOW;
	common(cfg, s);
	s->port = (int)sh->port;
	s->replicas = (int)sh->replicas;
	s->isolate = sh->isolate_network;
	if (sh->command.n) {
		s->argv = strv_dup(sh->command.v, sh->command.n);
		s->argc = sh->command.n;
	} else if (prod->attached) {
		s->argv = xcalloc(prod->argc + 1, sizeof(char *));
		for (size_t i = 0; i < prod->argc; i++)
			s->argv[i] = prov__attach_template(
			    prod->argv[i], prod->port, prod->config_dir);
		s->argc = prod->argc;
		if (!prod->port) {
			buf_puts(err,
				 "production.attach: the shadow is launched "
				 "from the attached process's command, whose "
				 "port umbra must know to give the shadow its "
				 "own (set production.attach.url or "
				 "production.port)");
			return ERR_CONFIG;
		}
	} else if (prod->run) {
		s->argv = strv_dup(prod->argv, prod->argc);
		s->argc = prod->argc;
	}
	s->run = s->argc > 0 && sh->upstreams.n == 0;
	s->cwd = xstrdup(prod->cwd ? prod->cwd : "");
	if (prod->base_env)
		s->base_env =
		    strv_dup(prod->base_env, strv_len(prod->base_env));
	for (size_t i = 0; i < prod->nenv; i++)
		env_set(s, prod->env_keys[i], prod->env_vals[i]);
	env_set_map(s, &sh->env);
	env_set(s, "UMBRA_SIDE", "shadow");
	if (s->run) {
		int rc = prov__creds_build("shadow", sh->user, sh->group,
					   &sh->capabilities, true, &s->creds,
					   err);
		if (rc)
			return rc;
	}
	const char *src = sh->config_dir[0] ? sh->config_dir : prod->config_src;
	s->config_src = xstrdup(src);
	s->copy_config = src[0] != '\0';
	s->config_dir =
	    s->copy_config ? xasprintf("%s/config", sh->work_dir) : xstrdup("");
	s->copy_data = sh->copy_data && prod->data_dir[0];
	s->data_dir = prod->data_dir[0] ? xasprintf("%s/data", sh->work_dir)
					: xstrdup("");
	char host[INET_ADDRSTRLEN];
	if (s->isolate && netns_host(sh->netns_subnet, host)) {
		buf_printf(err, "shadow.netns_subnet: bad subnet \"%s\"",
			   sh->netns_subnet);
		return ERR_CONFIG;
	}
	s->host = xstrdup(s->isolate ? host : PROV_SHADOW_HOST_LOOPBACK);
	return 0;
}

/* The baseline: production's software and config in the shadow's
 * conditions (its network placement; its limits come from limits.c). Run
 * by umbra when shadow.baseline.enabled, no shadow.baseline.upstreams
 * and umbra runs production's command (validate.c demands the command). */
static int build_baseline(const config_t *cfg, const prov_spec_t *prod,
			  prov_spec_t *s, buf_t *err)
{
	const config_shadow_t *sh = &cfg->shadow;
	s->side = PROV_BASELINE;
	common(cfg, s);
	free(s->work_dir);
	s->work_dir = xasprintf("%s/" PROV_BASELINE_DIR, sh->work_dir);
	s->port = (int)sh->baseline.port;
	s->replicas = PROV_BASELINE_REPLICAS;
	s->isolate = sh->isolate_network;
	if (prod->run) {
		s->argv = strv_dup(prod->argv, prod->argc);
		s->argc = prod->argc;
	}
	s->run = sh->baseline.enabled && s->argc > 0 &&
		 sh->baseline.upstreams.n == 0;
	s->cwd = xstrdup(prod->cwd ? prod->cwd : "");
	for (size_t i = 0; i < prod->nenv; i++)
		env_set(s, prod->env_keys[i], prod->env_vals[i]);
	env_set(s, "UMBRA_SIDE", "baseline");
	/* the shadow's user: it answers the same mirrored traffic */
	if (s->run) {
		int rc = prov__creds_build("shadow", sh->user, sh->group,
					   &sh->capabilities, true, &s->creds,
					   err);
		if (rc)
			return rc;
	}
	s->config_src = xstrdup(prod->config_src);
	s->copy_config = prod->config_src[0] != '\0';
	s->config_dir = s->copy_config
			    ? xasprintf("%s/config", s->work_dir)
			    : xstrdup("");
	s->copy_data = sh->copy_data && prod->data_dir[0];
	s->data_dir = prod->data_dir[0] ? xasprintf("%s/data", s->work_dir)
					: xstrdup("");
	char host[INET_ADDRSTRLEN];
	if (s->isolate && netns_host(sh->netns_subnet, host)) {
		buf_printf(err, "shadow.netns_subnet: bad subnet \"%s\"",
			   sh->netns_subnet);
		return ERR_CONFIG;
	}
	s->host = xstrdup(s->isolate ? host : PROV_SHADOW_HOST_LOOPBACK);
	return 0;
}

int prov_spec_build(const config_t *cfg, prov_side_t side,
		    const prov_spec_t *prod, const char *proc_root,
		    prov_spec_t *out, buf_t *err)
{
	memset(out, 0, sizeof(*out));
	int rc = side == PROV_PRODUCTION
		     ? build_production(cfg, proc_root ? proc_root : "/proc",
					out, err)
		 : side == PROV_BASELINE ? build_baseline(cfg, prod, out, err)
					 : build_shadow(cfg, prod, out, err);
	if (!out->cwd)
		out->cwd = xstrdup("");
	if (rc)
		prov_spec_free(out);
	return rc;
}
