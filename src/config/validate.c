/*
 * validate.c: pass two of loading: rules that span fields, and the secrecy
 * of secret files (OpenBSD check_file_secrecy). Each error points at the
 * value that is wrong, or at the section when the value was defaulted.
 */
#include "config/config_int.h"

#include "base/cidr.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/xmalloc.h"
#include "mitigate/policy.h"
#include "provision/provision.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define SERVICE_NAME_MAX 64 /* it becomes a metric label and a file name */

typedef struct {
	config_t *cfg;
	config_errors_t *errs;
} vctx_t;

/* Reports at path's value, or its section's key, or the top of the file. */
static void verr(vctx_t *v, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void verr(vctx_t *v, const char *path, const char *fmt, ...)
{
	int line = 0, col = 0;
	char sect[256];
	snprintf(sect, sizeof(sect), "%s", path);
	while (!config__mark_of(v->cfg, sect, &line, &col)) {
		char *dot = strrchr(sect, '.');
		if (!dot) {
			line = v->cfg->file[0] ? 1 : 0;
			col = line;
			break;
		}
		*dot = '\0';
	}
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	config__error(v->errs, v->cfg->file, line, col, path, "%s", msg);
	free(msg);
}

static bool is_set(const config_t *cfg, const char *path)
{
	int i = config__root_index(path);
	return i >= 0 && cfg->set[i];
}

static void check_secret(vctx_t *v, const char *path, const char *file)
{
	if (!file || !*file)
		return;
	buf_t why = BUF_INIT;
	int rc = fs_check_private_path(file, &why);
	/* a missing secret is made at first start */
	if (rc && rc != -ENOENT)
		verr(v, path, "%s", rc == ERR_INSECURE ? why.data
						     : err_str(rc));
	buf_free(&why);
}

static void check_service(vctx_t *v)
{
	const char *s = v->cfg->service;
	if (!s || !*s)
		return; /* reported as a missing required field */
	bool ok = strlen(s) <= SERVICE_NAME_MAX && isalnum((unsigned char)s[0]);
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			ok = false;
	if (!ok)
		verr(v, "service",
		     "bad name \"%.80s\" (expected 1 to %d letters, digits, "
		     "'_', '.' or '-', starting with a letter or digit)",
		     s, SERVICE_NAME_MAX);
}

static void check_caps(vctx_t *v, const char *path, const config_strv_t *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (prov_cap_parse(c->v[i]) < 0)
			verr(v, path,
			     "unknown capability \"%.60s\" (expected a name "
			     "such as CAP_NET_BIND_SERVICE)",
			     c->v[i]);
}

/* One unknown placeholder in a config file: reported at the file's own
 * line and column, since that is what the operator edits. */
static void unknown_var(const char *file, const char *name, size_t nlen,
			int line, int col, void *arg)
{
	vctx_t *v = arg;
	config__error(v->errs, file, line, col, "production.config_dir",
		      "unknown placeholder {%.*s} (built in: {port} {replica} "
		      "{data_dir} {config_dir} {side} {service}; define "
		      "others in production.vars)",
		      (int)nlen, name);
}

static void check_vars(vctx_t *v)
{
	const config_production_t *p = &v->cfg->production;
	for (size_t i = 0; i < p->vars.n; i++)
		if (!prov_var_name_ok(p->vars.v[i].key))
			verr(v, "production.vars",
			     "bad placeholder name \"%.60s\" (expected "
			     "lowercase letters, digits and '_', starting with "
			     "a letter, and not a built-in name)",
			     p->vars.v[i].key);
	struct stat st;
	if (p->config_dir[0] && stat(p->config_dir, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		prov_tree_unknown(p->config_dir, &p->vars, unknown_var, v);
	const char *sc = v->cfg->shadow.config_dir;
	if (sc[0] && strcmp(sc, p->config_dir) && stat(sc, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		prov_tree_unknown(sc, &p->vars, unknown_var, v);
}

static void check_production(vctx_t *v)
{
	const config_production_t *p = &v->cfg->production;
	bool ups = p->upstreams.n > 0, cmd = p->command.n > 0;
	bool att = p->attach.pid || p->attach.cgroup[0] || p->attach.url[0];
	if (!ups && !cmd && !att)
		verr(v, "production",
		     "nothing to run or reach (expected production.command, "
		     "production.upstreams or production.attach)");
	if (ups && cmd)
		verr(v, "production.upstreams",
		     "set either production.upstreams (umbra reaches it) or "
		     "production.command (umbra runs it), not both");
	if (att && cmd)
		verr(v, "production.attach",
		     "set either production.attach or production.command, not "
		     "both");
	if (att && !p->attach.pid && !p->attach.cgroup[0])
		verr(v, "production.attach",
		     "attach needs a pid or a cgroup to watch (url alone says "
		     "where it answers, not what it is)");
	if ((p->attach.command.n || p->attach.unit[0]) && !p->attach.pid &&
	    !p->attach.cgroup[0])
		verr(v, p->attach.command.n ? "production.attach.command"
					    : "production.attach.unit",
		     "says how to start a copy of an attached process: set "
		     "production.attach.pid or production.attach.cgroup too");
	if (p->attach.command.n && p->attach.unit[0])
		verr(v, "production.attach.unit",
		     "set either attach.command or attach.unit, not both");
	if (p->port && p->port + p->replicas - 1 > 65535)
		verr(v, "production.replicas",
		     "ports %lld..%lld run past 65535",
		     (long long)p->port, (long long)(p->port + p->replicas - 1));
	if (p->reload.command.n && p->reload.signal)
		verr(v, "production.reload",
		     "set either reload.command or reload.signal, not both");
	if (p->restart.backoff > p->restart.backoff_max)
		verr(v, "production.restart.backoff",
		     "longer than restart.backoff_max");
	check_caps(v, "production.capabilities", &p->capabilities);
	if (p->group[0] && !p->user[0])
		verr(v, "production.group", "set production.user too");
	if (p->health.type == CONFIG_HEALTH_HTTP && p->health.path[0] != '/')
		verr(v, "production.health.path",
		     "must start with '/' (expected a request path such as "
		     "/healthz)");
}

/* Whether path is dir or lies below it (both absolute, as loaded). */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* The shadow's files must hold no path to umbra's secrets: its work
 * dir is given to the shadow's user, so it may not hold the key, token,
 * store or snapshots. (A work dir below a 0700 directory of secrets is
 * caught at start: the shadow's user cannot reach it.) */
static void check_work_dir(vctx_t *v)
{
	const config_t *c = v->cfg;
	const char *wd = c->shadow.work_dir;
	const struct {
		const char *field, *file;
	} sec[] = {
	    {"mask.key_file", c->mask.key_file},
	    {"api.token_file", c->api.token_file},
	    {"store.path", c->store.path},
	    {"mitigation.snapshots.dir", c->mitigation.snapshots.dir},
	};
	if (!wd || !wd[0])
		return;
	for (size_t i = 0; i < sizeof(sec) / sizeof(*sec); i++) {
		const char *f = sec[i].file;
		if (f && f[0] && path_within(f, wd))
			verr(v, "shadow.work_dir",
			     "\"%s\" holds %s (\"%s\"): the shadow's files "
			     "are given to the shadow's user and must hold "
			     "none of umbra's secrets",
			     wd, sec[i].field, f);
	}
}

static void check_shadow(vctx_t *v)
{
	const config_shadow_t *s = &v->cfg->shadow;
	if (s->upstreams.n && s->command.n)
		verr(v, "shadow.upstreams",
		     "set either shadow.upstreams or shadow.command, not both");
	if (s->port && s->port + s->replicas - 1 > 65535)
		verr(v, "shadow.replicas", "ports run past 65535");
	for (size_t i = 0; i < s->allow_outbound.n; i++) {
		const char *a = s->allow_outbound.v[i], *why = NULL;
		cidr_t c;
		if (cidr_parse(a, &c, &why))
			verr(v, "shadow.allow_outbound",
			     "bad entry \"%.60s\": %s (expected an IP, IP:port "
			     "or CIDR such as 10.0.0.0/8)",
			     a, why);
	}
	{
		cidr_t c;
		const char *why = NULL;
		if (cidr_parse(s->netns_subnet, &c, &why) == 0 &&
		    (c.family != AF_INET || c.port || c.prefix > 30))
			why = "must be an IPv4 subnet of /30 or wider";
		if (why)
			verr(v, "shadow.netns_subnet",
			     "bad subnet \"%.60s\": %s (expected e.g. "
			     "169.254.213.0/30)",
			     s->netns_subnet, why);
	}
	check_caps(v, "shadow.capabilities", &s->capabilities);
	if (s->group[0] && !s->user[0])
		verr(v, "shadow.group", "set shadow.user too");
	check_work_dir(v);
	if (s->baseline.enabled && s->baseline.upstreams.n == 0 &&
	    v->cfg->production.command.n == 0)
		verr(v, "shadow.baseline.enabled",
		     "a baseline needs shadow.baseline.upstreams, or a "
		     "production.command umbra can run a copy of");
}

static void check_mirror(vctx_t *v)
{
	const config_mirror_t *m = &v->cfg->mirror;
	if (m->sample.by != CONFIG_SAMPLE_RANDOM && !m->sample.key[0])
		verr(v, "mirror.sample.key",
		     "required when mirror.sample.by is not random (expected "
		     "the header, cookie or parameter name)");
}

static void check_mask(vctx_t *v)
{
	const config_mask_t *m = &v->cfg->mask;
	for (size_t i = 0; i < m->rules.n; i++) {
		const config_mask_rule_t *r = &m->rules.v[i];
		char path[64];
		if (r->where == CONFIG_MASK_PATTERN) {
			snprintf(path, sizeof(path), "mask.rules[%zu].pattern",
				 i);
			if (!r->pattern[0])
				verr(v, path,
				     "required when where is pattern");
		} else {
			snprintf(path, sizeof(path), "mask.rules[%zu].name", i);
			if (!r->name[0])
				verr(v, path,
				     "required when where is header, query, "
				     "json or form");
			else if (r->where == CONFIG_MASK_JSON &&
				 r->name[0] != '$')
				verr(v, path,
				     "a JSON path starts with $ (expected e.g. "
				     "$.user.email or $.items[*].card)");
		}
	}
	check_secret(v, "mask.key_file", m->key_file);
}

static void check_analysis(vctx_t *v)
{
	const config_analysis_t *a = &v->cfg->analysis;
	if (a->verdict.marginal > a->verdict.pass)
		verr(v, "analysis.verdict.marginal",
		     "%g is above analysis.verdict.pass %g", a->verdict.marginal,
		     a->verdict.pass);
	for (int i = 0; i < CONFIG_METRIC__COUNT; i++) {
		if (a->metrics[i].critical < a->metrics[i].threshold) {
			char path[96];
			snprintf(path, sizeof(path),
				 "analysis.metrics.%s.critical",
				 config_metric_name((config_metric_t)i));
			verr(v, path, "%g is below the threshold %g",
			     a->metrics[i].critical, a->metrics[i].threshold);
		}
	}
	if (a->velocity_window < 2 * a->interval)
		verr(v, "analysis.velocity_window",
		     "%.3g s must span at least two ticks of analysis.interval "
		     "(%.3g s): set it to %.3g s or more",
		     (double)a->velocity_window / 1e9,
		     (double)a->interval / 1e9,
		     2 * (double)a->interval / 1e9);
}

/* A policy condition that does not parse: the error goes to the very
 * character, FILE:LINE:COL, when the value sits on one line (plain or
 * quoted); in a multi-line scalar, at the value with the offset said. */
static void policy_error(vctx_t *v, const char *path, const char *when,
			 const mit_expr_err_t *e)
{
	int line = 0, col = 0;
	if (!strchr(when, '\n') && config__mark_of(v->cfg, path, &line, &col) &&
	    line > 0) {
		col += (config__mark_is_quoted(v->cfg, path) ? 1 : 0) +
		       (int)e->offset;
		config__error(v->errs, v->cfg->file, line, col, path, "%s",
			      e->msg);
		return;
	}
	verr(v, path, "%s (at character %zu of the condition)", e->msg,
	     e->offset + 1);
}

static void check_policy(vctx_t *v)
{
	const config_mitigation_t *m = &v->cfg->mitigation;
	if (m->policy.n > MIT_MAX_RULES)
		verr(v, "mitigation.policy", "%zu rules; at most %d", m->policy.n,
		     MIT_MAX_RULES);
	for (size_t i = 0; i < m->policy.n; i++) {
		const config_policy_t *r = &m->policy.v[i];
		char path[64];
		snprintf(path, sizeof(path), "mitigation.policy[%zu].when", i);
		mit_expr_t *e = xmalloc(sizeof(*e));
		mit_expr_err_t err;
		if (mit_expr_parse(r->when, strlen(r->when), e, &err))
			policy_error(v, path, r->when, &err);
		free(e);
		if (strlen(r->name) >= MIT_RULE_NAME_MAX) {
			snprintf(path, sizeof(path), "mitigation.policy[%zu].name",
				 i);
			verr(v, path, "longer than %d characters",
			     MIT_RULE_NAME_MAX - 1);
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->policy.v[j].name, r->name) == 0) {
				snprintf(path, sizeof(path),
					 "mitigation.policy[%zu].name", i);
				verr(v, path,
				     "duplicate rule name \"%.60s\" (also "
				     "mitigation.policy[%zu]; names identify "
				     "rules in the audit log)",
				     r->name, j);
				break;
			}
	}
}

static void check_mitigation(vctx_t *v)
{
	const config_strv_t *roots = &v->cfg->mitigation.propose.roots;
	for (size_t i = 0; i < roots->n; i++)
		if (roots->v[i][0] != '/')
			verr(v, "mitigation.propose.roots",
			     "\"%.80s\" is not an absolute path", roots->v[i]);
	const config_mitigation_t *m = &v->cfg->mitigation;
	const config_production_t *p = &v->cfg->production;
	if (m->scale.min > m->scale.max)
		verr(v, "mitigation.scale.min", "%lld is above scale.max %lld",
		     (long long)m->scale.min, (long long)m->scale.max);
	if (m->stress.enabled && !m->stress.schedule.text[0])
		verr(v, "mitigation.stress.schedule",
		     "required when stress.enabled (expected a cron "
		     "expression; `umbra stress` runs one on demand)");
	for (size_t i = 0; i < m->policy.n; i++) {
		if (m->policy.v[i].then.n == 0) {
			char path[64];
			snprintf(path, sizeof(path), "mitigation.policy[%zu].then",
				 i);
			verr(v, path, "a rule needs at least one action");
		}
	}
	check_policy(v);
	if (m->rollback.mode == CONFIG_ROLLBACK_RELOAD && !p->reload.command.n &&
	    !p->reload.signal)
		verr(v, "mitigation.rollback.mode",
		     "reload needs production.reload.command or "
		     "production.reload.signal (or use restart or auto)");
	if (m->rollback.mode == CONFIG_ROLLBACK_RESTART && !p->command.n)
		verr(v, "mitigation.rollback.mode",
		     "restart needs production.command: umbra restarts only "
		     "replicas it runs (or configure production.reload and use "
		     "reload)");
	if (m->stress.levers.n == 0)
		verr(v, "mitigation.stress.levers",
		     "at least one lever (amplify, cpu or memory)");
}

/* The placeholders a Prometheus query may hold: "{word}" of lower-case
 * letters and '_' is a placeholder; other braces are PromQL matchers. */
static const char *bad_query_placeholder(const char *q, size_t *len)
{
	for (const char *p = q; *p; p++) {
		if (*p != '{')
			continue;
		size_t w = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_");
		if (w == 0 || p[1 + w] != '}')
			continue;
		if ((w == 7 && !strncmp(p + 1, "service", 7)) ||
		    (w == 4 && !strncmp(p + 1, "side", 4)) ||
		    (w == 5 && !strncmp(p + 1, "range", 5)))
			continue;
		*len = w + 2;
		return p;
	}
	return NULL;
}

static void check_metrics(vctx_t *v)
{
	const config_metrics_t *m = &v->cfg->metrics;
	if (m->source == CONFIG_MSRC_PROMETHEUS && !m->prometheus.url[0])
		verr(v, "metrics.prometheus.url",
		     "required when metrics.source is prometheus (expected "
		     "e.g. http://127.0.0.1:9090)");
	for (int i = 0; i < CONFIG_PQ__COUNT; i++) {
		size_t len;
		const char *bad =
			bad_query_placeholder(m->prometheus.queries[i], &len);
		if (bad) {
			char path[96];
			snprintf(path, sizeof(path),
				 "metrics.prometheus.queries.%s",
				 config_prom_query_name((config_prom_query_t)i));
			verr(v, path,
			     "unknown placeholder \"%.*s\" (expected {service}, "
			     "{side} or {range})",
			     (int)len, bad);
		}
	}
}

static void check_api(vctx_t *v)
{
	const config_api_t *a = &v->cfg->api;
	if (a->listen.port && !a->allow_remote && !addr_is_loopback(&a->listen))
		verr(v, "api.listen",
		     "not a loopback address; the admin API stays on loopback "
		     "unless api.allow_remote is true");
	const addr_t *l = &v->cfg->listen.address;
	if (a->listen.port && a->listen.port == l->port &&
	    (strcmp(a->listen.host, l->host) == 0 || !l->host[0] ||
	     !a->listen.host[0]))
		verr(v, "api.listen", "same port as listen.address (%u)",
		     l->port);
	check_secret(v, "api.token_file", a->token_file);
}

int config_validate(config_t *cfg, config_errors_t *errs)
{
	vctx_t v = {cfg, errs};
	size_t before = errs->n + errs->dropped;
	if (!is_set(cfg, "service") && cfg->file[0] == '\0' &&
	    !cfg->service[0])
		verr(&v, "service", "required field missing");
	check_service(&v);
	check_production(&v);
	check_vars(&v);
	check_shadow(&v);
	check_mirror(&v);
	check_mask(&v);
	check_analysis(&v);
	check_mitigation(&v);
	check_metrics(&v);
	check_api(&v);
	return errs->n + errs->dropped > before ? ERR_CONFIG : 0;
}
