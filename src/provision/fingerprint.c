/*
 * fingerprint.c: what one side is, as sorted key -> value items (see
 * drift.h). Static parts come from the spec when the side is not
 * running; with a pid, from /proc: exe, cmdline, environ, maps, limits,
 * fd and net/tcp{,6}. Values are normalised so that the differences the
 * sides are meant to have (port, config dir, UMBRA_SIDE) vanish: a
 * value that equals its template rendered with the side's placeholders
 * is recorded as the template.
 */
#include "provision/prov_int.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define PROV_FP_MAX_LIBS  512  /* mapped objects looked at per process */
#define PROV_FP_MAX_SOCKS 4096 /* socket fds looked at per process */
#define PROV_FP_LIB_CACHE 1024 /* library hashes remembered */

/* ------------------------------------------------------------ libraries */

/* Executable and library hashes by (path, device, inode, size, mtime): a
 * drift check every few seconds must not re-read libc each time (package
 * managers replace such files by rename, so a new version is a new
 * inode). Config files are always read. Control thread only. */
typedef struct lib_hash {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime;
	char hex[65];
} lib_hash_t;
static lib_hash_t lib_cache[PROV_FP_LIB_CACHE];
static size_t lib_cache_n;

static int lib_sha256(const char *path, char hex[65])
{
	struct stat st;
	if (stat(path, &st))
		return -errno;
	int64_t mt =
	    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	for (size_t i = 0; i < lib_cache_n; i++) {
		lib_hash_t *h = &lib_cache[i];
		if (h->dev == st.st_dev && h->ino == st.st_ino &&
		    h->size == st.st_size && h->mtime == mt &&
		    !strcmp(h->path, path)) {
			memcpy(hex, h->hex, 65);
			return 0;
		}
	}
	int rc = prov__sha256_file(path, hex);
	if (rc)
		return rc;
	if (lib_cache_n == PROV_FP_LIB_CACHE) {
		for (size_t i = 0; i < lib_cache_n; i++)
			free(lib_cache[i].path);
		lib_cache_n = 0;
	}
	lib_cache[lib_cache_n++] = (lib_hash_t){
	    xstrdup(path), st.st_dev, st.st_ino, st.st_size, mt, ""};
	memcpy(lib_cache[lib_cache_n - 1].hex, hex, 65);
	return 0;
}

/* ------------------------------------------------------------ items */

static int item_cmp(const prov_fp_item_t *a, const char *key)
{
	return strcmp(a->key, key);
}

void prov_fp_add(prov_fp_t *fp, unsigned part, const char *key,
		 const char *value, const char *text, size_t text_len,
		 const char *path)
{
	/* Binary search for the slot; a repeated key keeps the first. */
	size_t lo = 0, hi = fp->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = item_cmp(&fp->v[mid], key);
		if (c == 0)
			return;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (fp->n == fp->cap) {
		fp->cap = fp->cap ? fp->cap * 2 : 64;
		fp->v = xreallocarray(fp->v, fp->cap, sizeof(prov_fp_item_t));
	}
	memmove(&fp->v[lo + 1], &fp->v[lo], (fp->n - lo) * sizeof(*fp->v));
	fp->v[lo] = (prov_fp_item_t){
	    .key = xstrdup(key),
	    .value = xstrdup(value),
	    .text = text ? xstrndup(text, text_len) : NULL,
	    .text_len = text ? text_len : 0,
	    .path = path ? xstrdup(path) : NULL,
	    .part = part,
	};
	fp->n++;
}

const prov_fp_item_t *prov_fp_get(const prov_fp_t *fp, const char *key)
{
	size_t lo = 0, hi = fp->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = item_cmp(&fp->v[mid], key);
		if (c == 0)
			return &fp->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void prov_fp_free(prov_fp_t *fp)
{
	for (size_t i = 0; i < fp->n; i++) {
		free(fp->v[i].key);
		free(fp->v[i].value);
		free(fp->v[i].text);
		free(fp->v[i].path);
	}
	free(fp->v);
	memset(fp, 0, sizeof(*fp));
}

void prov_fp_print(const prov_fp_t *fp, buf_t *out)
{
	for (size_t i = 0; i < fp->n; i++)
		buf_printf(out, "  %s = %s\n", fp->v[i].key, fp->v[i].value);
}

/* ------------------------------------------------------------ masking */

/* Where the first sensitive key occurs in s[0..n), or NULL. */
static const char *sensitive_in(const config_strv_t *k, const char *s,
				size_t n)
{
	for (size_t i = 0; k && i < k->n; i++) {
		size_t kl = strlen(k->v[i]);
		for (size_t j = 0; kl && j + kl <= n; j++)
			if (!strncasecmp(s + j, k->v[i], kl))
				return s + j;
	}
	return NULL;
}

static const char *sensitive_at(const prov_fp_src_t *src, const char *s,
				size_t n)
{
	return sensitive_in(src->sensitive, s, n);
}

/* "sha256:<16 hex> (masked)": equal values still compare equal. */
static char *masked(const char *value)
{
	char hex[65];
	prov__sha256(value, strlen(value), hex);
	hex[16] = '\0';
	return xasprintf("sha256:%s (masked)", hex);
}

void prov_mask_text(const config_strv_t *sensitive, const char *marker,
		    const char *t, size_t n, buf_t *out)
{
	if (!marker)
		marker = "[REDACTED]";
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(t + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (t + i)) : n - i;
		const char *hit = sensitive_in(sensitive, t + i, l);
		const char *sep = NULL;
		for (const char *q = hit; hit && q < t + i + l && !sep; q++)
			if (*q == '=' || *q == ':')
				sep = q;
		if (sep) {
			buf_append(out, t + i, (size_t)(sep - (t + i)) + 1);
			buf_printf(out, " %s", marker);
		} else {
			buf_append(out, t + i, l);
		}
		if (nl)
			buf_putc(out, '\n');
		i += l + (nl ? 1 : 0);
	}
}

static void mask_text(const prov_fp_src_t *src, const char *t, size_t n,
		      buf_t *out)
{
	prov_mask_text(src->sensitive, src->marker, t, n, out);
}

/* ------------------------------------------------------------ context */

typedef struct fpctx {
	const prov_fp_src_t *src;
	prov_fp_t *fp;
	prov_vars_t vars;
	char proc[PATH_MAX]; /* <proc_root>/<pid> */
} fpctx_t;

/* The normalised form of actual, whose template may be tmpl. */
static char *normalise(const fpctx_t *c, const char *actual, const char *tmpl)
{
	const prov_spec_t *s = c->src->spec;
	if (s->attached)
		return prov__attach_template(actual, s->port, s->config_dir);
	if (tmpl) {
		char *r = prov_render_str(tmpl, &c->vars);
		bool same = !strcmp(r, actual);
		free(r);
		if (same)
			return xstrdup(tmpl);
	}
	/* a word that is not its template as a whole (a server that
	 * rewrote its title: "nginx: master process nginx -c DIR/x.conf"):
	 * its port and config dir as tokens become placeholders, so that
	 * both sides' titles compare */
	return prov__attach_template(actual, c->vars.port,
				     c->vars.config_dir ? c->vars.config_dir
							: "");
}

/* ------------------------------------------------------------ parts */

static void fp_kernel(fpctx_t *c)
{
	struct utsname u;
	if (uname(&u))
		return;
	prov_fp_add(c->fp, PROV_FP_KERNEL, "kernel", u.release, NULL, 0, NULL);
	c->fp->parts |= PROV_FP_KERNEL;
}

static void fp_exe(fpctx_t *c, char **argv0_env)
{
	char path[PATH_MAX], hex[65], v[PATH_MAX + 80];
	const prov_spec_t *s = c->src->spec;
	if (c->src->pid) {
		char link[PATH_MAX + 8];
		snprintf(link, sizeof(link), "%s/exe", c->proc);
		ssize_t n = readlink(link, path, sizeof(path) - 1);
		if (n < 0 || lib_sha256(link, hex))
			return;
		path[n] = '\0';
	} else {
		if (!s->argc)
			return;
		char *a0 = prov_render_str(s->argv[0], &c->vars);
		char *exe = prov__find_exe(a0, argv0_env, s->cwd);
		free(a0);
		if (!exe)
			return;
		snprintf(path, sizeof(path), "%s", exe);
		free(exe);
		if (lib_sha256(path, hex))
			return;
	}
	prov_fp_add(c->fp, PROV_FP_EXE, "exe", path, NULL, 0, NULL);
	snprintf(v, sizeof(v), "sha256:%s", hex);
	prov_fp_add(c->fp, PROV_FP_EXE, "exe.sha256", v, NULL, 0, NULL);
	c->fp->parts |= PROV_FP_EXE;
}

/* Reads a NUL-separated /proc file of the process. */
static char **proc_vec(const fpctx_t *c, const char *file, size_t *n)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s", c->proc, file);
	buf_t b = BUF_INIT;
	int rc = prov__read_file(path, PROV_PROC_MAX, &b);
	char **v = NULL;
	if (!rc || rc == ERR_TOOBIG)
		v = prov__split_nul(b.data ? b.data : "", b.len, n);
	buf_free(&b);
	return v;
}

static void fp_argv(fpctx_t *c)
{
	const prov_spec_t *s = c->src->spec;
	size_t n = 0;
	char **actual = NULL;
	if (c->src->pid) {
		actual = proc_vec(c, "cmdline", &n);
		if (!actual)
			return;
	}
	size_t count = c->src->pid ? n : s->argc;
	for (size_t i = 0; i < count; i++) {
		char key[32];
		snprintf(key, sizeof(key), "argv[%02zu]", i);
		const char *tmpl =
		    !s->attached && i < s->argc ? s->argv[i] : NULL;
		char *rendered = NULL;
		if (!c->src->pid)
			rendered = s->attached
				       ? xstrdup(s->argv[i])
				       : prov_render_str(s->argv[i], &c->vars);
		char *v = normalise(c, actual ? actual[i] : rendered, tmpl);
		const char *prev = i == 0   ? NULL
				   : actual ? actual[i - 1]
					    : s->argv[i - 1];
		const char *eq = strchr(v, '=');
		if (eq && sensitive_at(c->src, v, (size_t)(eq - v))) {
			char *m = masked(eq + 1);
			char *w = xasprintf("%.*s=%s", (int)(eq - v), v, m);
			free(m);
			free(v);
			v = w;
		} else if (prev && prev[0] == '-' && !strchr(prev, '=') &&
			   sensitive_at(c->src, prev, strlen(prev))) {
			char *m = masked(v);
			free(v);
			v = m;
		}
		prov_fp_add(c->fp, PROV_FP_ARGV, key, v, NULL, 0, NULL);
		free(v);
		free(rendered);
	}
	prov__strv_free(actual);
	c->fp->parts |= PROV_FP_ARGV;
}

static bool ignored(const fpctx_t *c, const char *key, size_t kl)
{
	const config_strv_t *ig = c->src->env_ignore;
	for (size_t i = 0; ig && i < ig->n; i++)
		if (strlen(ig->v[i]) == kl && !strncmp(ig->v[i], key, kl))
			return true;
	return false;
}

static void fp_env(fpctx_t *c, char **env)
{
	const prov_spec_t *s = c->src->spec;
	for (size_t i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		if (!eq || eq == env[i])
			continue;
		size_t kl = (size_t)(eq - env[i]);
		if (ignored(c, env[i], kl))
			continue;
		char key[320];
		snprintf(key, sizeof(key), "env:%.*s",
			 (int)(kl < 300 ? kl : 300), env[i]);
		const char *tmpl = NULL;
		for (size_t k = 0; k < s->nenv; k++)
			if (strlen(s->env_keys[k]) == kl &&
			    !strncmp(s->env_keys[k], env[i], kl))
				tmpl = s->env_vals[k];
		/* Environment values are not port-rebased for an attached
		 * process: only its own template check applies. */
		char *v;
		if (tmpl) {
			char *r = prov_render_str(tmpl, &c->vars);
			v = xstrdup(!strcmp(r, eq + 1) ? tmpl : eq + 1);
			free(r);
		} else {
			v = xstrdup(eq + 1);
		}
		if (sensitive_at(c->src, env[i], kl)) {
			char *m = masked(v);
			free(v);
			v = m;
		}
		prov_fp_add(c->fp, PROV_FP_ENV, key, v, NULL, 0, NULL);
		free(v);
	}
	c->fp->parts |= PROV_FP_ENV;
}

/* One config file: text to hash and keep, from path (and for a rendered
 * copy, its template under tmpl_root). */
typedef struct cfgwalk {
	fpctx_t *c;
	const char *tmpl_root; /* NULL: the file is its own template */
} cfgwalk_t;

static int cfg_file(const char *rel, const char *full, void *arg)
{
	cfgwalk_t *w = arg;
	buf_t actual = BUF_INIT, tmpl = BUF_INIT;
	int rc = prov__read_file(full, PROV_FP_TEXT_MAX, &actual);
	bool big = rc == ERR_TOOBIG;
	if (rc && !big) {
		buf_free(&actual);
		return 0;
	}
	const buf_t *use = &actual;
	if (w->tmpl_root && !big) {
		char *tp = xasprintf("%s/%s", w->tmpl_root, rel);
		if (prov__read_file(tp, PROV_FP_TEXT_MAX, &tmpl) == 0) {
			buf_t r = BUF_INIT;
			prov_render(tmpl.data ? tmpl.data : "", tmpl.len,
				    &w->c->vars, &r);
			if (r.len == actual.len &&
			    (!r.len || !memcmp(r.data, actual.data, r.len)))
				use = &tmpl;
			buf_free(&r);
		}
		free(tp);
	}
	char hex[65], key[PATH_MAX + 16], v[80];
	if (big)
		prov__sha256_file(full, hex);
	else
		prov__sha256(use->data ? use->data : "", use->len, hex);
	bool text = !big && !memchr(use->data ? use->data : "", '\0', use->len);
	snprintf(key, sizeof(key), "config:%s", rel);
	snprintf(v, sizeof(v), "sha256:%s", hex);
	buf_t shown = BUF_INIT;
	if (text)
		mask_text(w->c->src, use->data ? use->data : "", use->len,
			  &shown);
	prov_fp_add(w->c->fp, PROV_FP_CONFIG, key, v,
		    text ? (shown.data ? shown.data : "") : NULL, shown.len,
		    full);
	buf_free(&shown);
	buf_free(&actual);
	buf_free(&tmpl);
	return 0;
}

static void fp_config(fpctx_t *c)
{
	const prov_spec_t *s = c->src->spec;
	cfgwalk_t w = {c, NULL};
	const char *root = s->config_dir;
	char *src = NULL;
	if (s->copy_config) {
		src = xasprintf("%s/source", s->work_dir);
		if (access(s->config_dir, F_OK) == 0) {
			w.tmpl_root = src;
		} else {
			root = s->config_src; /* not provisioned yet */
		}
	}
	if (root[0] && prov__walk(root, cfg_file, &w) == 0)
		c->fp->parts |= PROV_FP_CONFIG;
	else if (!root[0])
		c->fp->parts |= PROV_FP_CONFIG; /* none, on purpose */
	free(src);
}

static void fp_libs(fpctx_t *c)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/maps", c->proc);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[PATH_MAX + 256];
	size_t n = 0;
	/* A copy: adding items below may move the array. */
	const prov_fp_item_t *e = prov_fp_get(c->fp, "exe");
	char exe[PATH_MAX];
	snprintf(exe, sizeof(exe), "%s", e ? e->value : "");
	while (fgets(line, sizeof(line), f) && n < PROV_FP_MAX_LIBS) {
		/* addr perms offset dev inode path */
		unsigned long ino;
		int off = 0;
		if (sscanf(line, "%*s %*s %*s %*s %lu %n", &ino, &off) != 1 ||
		    !ino || !off)
			continue;
		char *p = line + off;
		p[strcspn(p, "\n")] = '\0';
		if (p[0] != '/' || !strstr(p, ".so") || !strcmp(exe, p))
			continue;
		char key[PATH_MAX + 8];
		snprintf(key, sizeof(key), "lib:%s", p);
		if (prov_fp_get(c->fp, key))
			continue;
		char hex[65], v[80];
		bool deleted = strstr(p, " (deleted)") != NULL;
		if (deleted || lib_sha256(p, hex))
			snprintf(v, sizeof(v), "%s",
				 deleted ? "deleted (replaced on disk since "
					   "it was mapped)"
					 : "unreadable");
		else
			snprintf(v, sizeof(v), "sha256:%s", hex);
		prov_fp_add(c->fp, PROV_FP_LIBS, key, v, NULL, 0, NULL);
		n++;
	}
	fclose(f);
	c->fp->parts |= PROV_FP_LIBS;
}

static void fp_limits(fpctx_t *c)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/limits", c->proc);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[256];
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		/* "Max open files            1024    524288    files" : the
		 * name column is 26 wide. */
		if (strlen(line) < 27)
			continue;
		char name[27];
		memcpy(name, line, 26);
		name[26] = '\0';
		for (int i = 25; i >= 0 && name[i] == ' '; i--)
			name[i] = '\0';
		char soft[32], hard[32];
		if (sscanf(line + 26, "%31s %31s", soft, hard) != 2)
			continue;
		char key[64], v[80];
		snprintf(key, sizeof(key), "limit:%s", name);
		snprintf(v, sizeof(v), "%s/%s", soft, hard);
		prov_fp_add(c->fp, PROV_FP_LIMITS, key, v, NULL, 0, NULL);
	}
	fclose(f);
	c->fp->parts |= PROV_FP_LIMITS;
}

static void fp_cgroup(fpctx_t *c)
{
	const prov_fp_src_t *s = c->src;
	if ((!s->cg_cpu || !s->cg_cpu[0]) && (!s->cg_mem || !s->cg_mem[0]))
		return;
	prov_limits_t l;
	if (prov__cg_read_limits(s->cg_cpu, s->cg_cpu_ver, s->cg_mem,
				 s->cg_mem_ver, &l))
		return;
	char v[64];
	if (s->cg_cpu && s->cg_cpu[0]) {
		double cores = l.cpu * s->scale;
		if (cores > 0)
			snprintf(v, sizeof(v), "%.2f cores", cores);
		else
			snprintf(v, sizeof(v), "none");
		prov_fp_add(c->fp, PROV_FP_CGROUP, "cgroup:cpu", v, NULL, 0,
			    NULL);
	}
	if (s->cg_mem && s->cg_mem[0]) {
		uint64_t m = (uint64_t)((long double)l.mem * s->scale);
		if (m && m < s->mem_min)
			m = s->mem_min;
		m &= ~(uint64_t)4095; /* the kernel keeps whole pages */
		if (m)
			snprintf(v, sizeof(v), "%.1f MiB", (double)m / 1048576);
		else
			snprintf(v, sizeof(v), "none");
		prov_fp_add(c->fp, PROV_FP_CGROUP, "cgroup:memory", v, NULL, 0,
			    NULL);
	}
	c->fp->parts |= PROV_FP_CGROUP;
}

/* Socket inodes the process holds open. */
static size_t sock_inodes(const fpctx_t *c, unsigned long *ino, size_t max)
{
	char dir[PATH_MAX + 8];
	snprintf(dir, sizeof(dir), "%s/fd", c->proc);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		char p[PATH_MAX + 300], t[64];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		ssize_t l = readlink(p, t, sizeof(t) - 1);
		if (l <= 0)
			continue;
		t[l] = '\0';
		unsigned long v;
		if (sscanf(t, "socket:[%lu]", &v) == 1)
			ino[n++] = v;
	}
	closedir(d);
	return n;
}

/* Adds one listening socket if the process holds it. addr: network
 * order, 4 or 16 bytes; port in host order. */
static void add_listener(fpctx_t *c, const unsigned long *ino, size_t ni,
			 unsigned long inode, int family, const void *addr,
			 unsigned port)
{
	bool mine = false;
	for (size_t i = 0; i < ni && !mine; i++)
		mine = ino[i] == inode;
	if (!mine)
		return;
	char a[INET6_ADDRSTRLEN] = "?", key[128], pt[16];
	inet_ntop(family, addr, a, sizeof(a));
	if ((int)port == c->src->port)
		snprintf(pt, sizeof(pt), "{port}");
	else
		snprintf(pt, sizeof(pt), "%u", port);
	bool v6 = family == AF_INET6;
	snprintf(key, sizeof(key), "listen:tcp %s%s%s:%s", v6 ? "[" : "", a,
		 v6 ? "]" : "", pt);
	prov_fp_add(c->fp, PROV_FP_LISTEN, key, "listening", NULL, 0, NULL);
}

/* Listening TCP sockets through sock_diag, in the process's network
 * namespace: the kernel then walks only its listening table. Reading
 * /proc/PID/net/tcp walks the whole established hash instead, which
 * costs milliseconds per read even on an idle host. 0, or -1 to fall
 * back to /proc. */
static int listen_diag(fpctx_t *c, const unsigned long *ino, size_t ni)
{
	char nspath[PATH_MAX + 16];
	snprintf(nspath, sizeof(nspath), "%s/ns/net", c->proc);
	struct stat their, ours;
	if (stat(nspath, &their) || stat("/proc/self/ns/net", &ours))
		return -1;
	int back = -1, fd = -1;
	if (their.st_ino != ours.st_ino) {
		/* Create the socket inside their namespace: setns changes
		 * only this thread's, and it is changed back at once. */
		int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
		back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (nsfd < 0 || back < 0 || setns(nsfd, CLONE_NEWNET)) {
			if (nsfd >= 0)
				close(nsfd);
			if (back >= 0)
				close(back);
			return -1;
		}
		close(nsfd);
	}
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (back >= 0) {
		if (setns(back, CLONE_NEWNET))
			abort(); /* the control thread in a shadow's netns */
		close(back);
	}
	if (fd < 0)
		return -1;
	int rc = 0;
	for (int f = 0; f < 2 && !rc; f++) {
		struct {
			struct nlmsghdr nlh;
			struct inet_diag_req_v2 r;
		} req = {
		    .nlh = {.nlmsg_len = sizeof(req),
			    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
		    .r = {.sdiag_family = f ? AF_INET6 : AF_INET,
			  .sdiag_protocol = IPPROTO_TCP,
			  .idiag_states = 1 << 10 /* TCP_LISTEN */},
		};
		if (send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
			rc = -1;
			break;
		}
		bool done = false;
		while (!done && !rc) {
			long buf[8192 / sizeof(long)];
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0) {
				rc = -1;
				break;
			}
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
			     NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
				if (h->nlmsg_type == NLMSG_DONE) {
					done = true;
					break;
				}
				if (h->nlmsg_type == NLMSG_ERROR) {
					rc = -1;
					break;
				}
				const struct inet_diag_msg *m = NLMSG_DATA(h);
				add_listener(c, ino, ni, m->idiag_inode,
					     m->idiag_family, m->id.idiag_src,
					     ntohs(m->id.idiag_sport));
			}
		}
	}
	close(fd);
	return rc;
}

/* The same from /proc/PID/net/tcp{,6}, where sock_diag is missing. */
static bool listen_proc(fpctx_t *c, const unsigned long *ino, size_t ni)
{
	const char *files[] = {"net/tcp", "net/tcp6"};
	bool any = false;
	for (int f = 0; f < 2; f++) {
		char path[PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/%s", c->proc, files[f]);
		FILE *fp = fopen(path, "r");
		if (!fp)
			continue;
		/* Each read(2) walks the socket hash: few, large reads. */
		setvbuf(fp, NULL, _IOFBF, 1 << 18);
		any = true;
		char line[512];
		while (fgets(line, sizeof(line), fp)) {
			char local[64];
			unsigned st;
			unsigned long inode;
			/* sl local rem st txq:rxq tr:when retr uid timeout
			 * inode */
			if (sscanf(line,
				   " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu",
				   local, &st, &inode) != 3 ||
			    st != 0x0A)
				continue;
			char *colon = strchr(local, ':');
			if (!colon)
				continue;
			*colon = '\0';
			unsigned port = (unsigned)strtoul(colon + 1, NULL, 16);
			/* words of the address in host order, as printed */
			uint32_t w[4] = {0};
			size_t words = strlen(local) / 8;
			if (words != 1 && words != 4)
				continue;
			for (size_t i = 0; i < words; i++) {
				char part[9];
				memcpy(part, local + 8 * i, 8);
				part[8] = '\0';
				w[i] = (uint32_t)strtoul(part, NULL, 16);
			}
			add_listener(c, ino, ni, inode,
				     words == 1 ? AF_INET : AF_INET6, w, port);
		}
		fclose(fp);
	}
	return any;
}

static void fp_listen(fpctx_t *c)
{
	unsigned long *ino = xcalloc(PROV_FP_MAX_SOCKS, sizeof(unsigned long));
	size_t ni = sock_inodes(c, ino, PROV_FP_MAX_SOCKS);
	bool ok = !c->src->proc_root && listen_diag(c, ino, ni) == 0;
	if (!ok)
		ok = listen_proc(c, ino, ni);
	free(ino);
	if (ok)
		c->fp->parts |= PROV_FP_LISTEN;
}

/* ------------------------------------------------------------ collect */

/* Whether key matches pat, where '*' matches any run of characters
 * ('/' included) and everything else itself: "argv[00]" is a key, not
 * a character class as fnmatch would read it. */
static bool key_match(const char *pat, const char *key)
{
	const char *star = NULL, *resume = NULL;
	while (*key) {
		if (*pat == '*') {
			star = pat++;
			resume = key;
		} else if (*pat == *key) {
			pat++;
			key++;
		} else if (star) {
			pat = star + 1;
			key = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

bool prov_fp_ignored(const config_strv_t *ignore, const char *key)
{
	for (size_t i = 0; ignore && i < ignore->n; i++)
		if (key_match(ignore->v[i], key))
			return true;
	return false;
}

/* Removes the items drift.ignore names: they never count, in a finding,
 * a change event or a root cause. */
static void drop_ignored(prov_fp_t *fp, const config_strv_t *ignore)
{
	size_t w = 0;
	for (size_t i = 0; i < fp->n; i++) {
		if (!prov_fp_ignored(ignore, fp->v[i].key)) {
			fp->v[w++] = fp->v[i];
			continue;
		}
		free(fp->v[i].key);
		free(fp->v[i].value);
		free(fp->v[i].text);
		free(fp->v[i].path);
	}
	fp->n = w;
}

int prov_fp_collect(const prov_fp_src_t *src, prov_fp_t *out)
{
	memset(out, 0, sizeof(*out));
	const prov_spec_t *s = src->spec;
	out->side = s->side;
	out->pid = src->pid;
	fpctx_t c = {.src = src, .fp = out};
	c.vars = prov_spec_vars(s, 0, src->port);
	snprintf(c.proc, sizeof(c.proc), "%s/%d",
		 src->proc_root ? src->proc_root : "/proc", src->pid);
	char **env = NULL;
	if (src->pid) {
		/* A zombie or a process between fork and exec has no
		 * cmdline: fingerprint it as not running. */
		size_t n = 0;
		char **argv = proc_vec(&c, "cmdline", &n);
		prov__strv_free(argv);
		if (!n)
			out->pid = 0;
	}
	prov_fp_src_t local = *src;
	local.pid = out->pid;
	c.src = src = &local;
	if (src->pid) {
		size_t n;
		env = proc_vec(&c, "environ", &n);
	} else if (s->run || s->attached) {
		env = prov__build_env(s, &c.vars);
	}
	fp_kernel(&c);
	if (s->run || s->attached) {
		fp_exe(&c, env);
		fp_argv(&c);
		if (env)
			fp_env(&c, env);
	}
	fp_config(&c);
	fp_cgroup(&c);
	if (src->pid) {
		fp_libs(&c);
		fp_limits(&c);
		fp_listen(&c);
	}
	prov__strv_free(env);
	drop_ignored(out, src->ignore);
	return 0;
}
