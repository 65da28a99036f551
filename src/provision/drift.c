/*
 * drift.c: comparing fingerprints, and the watcher that does it on the
 * loop: every drift.interval, and when inotify reports a change in a
 * config directory, once the change has settled: a burst of events is
 * one change, checked PROV_DRIFT_SETTLE_NS after its last event and
 * only when no file is still open for writing (an editor half-way
 * through writing in place: IN_MODIFY seen, IN_CLOSE_WRITE not yet); a
 * check whose reading overlapped a new event is thrown away and done
 * again, so a half-written file is never reported. A difference between
 * the sides is a drift finding, logged once when it appears or changes
 * and again when it is resolved; a side that differs from its own last
 * fingerprint yields configuration-change events. Also the one-shot
 * snapshot behind `umbra drift`.
 */
#include "provision/prov_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* Editors save in steps (temp file, write, rename; or truncate, write,
 * close): one check once the burst has been quiet this long. */
#define PROV_DRIFT_SETTLE_NS (100 * NS_PER_MS)
/* A file held open for writing longer than this (a log someone keeps
 * in the config dir) no longer holds the check back. */
#define PROV_DRIFT_SETTLE_MAX_NS (2 * NS_PER_S)
#define PROV_DRIFT_MAX_WATCHES 256 /* directories watched per side */
#define PROV_DRIFT_MAX_OPEN 64 /* files tracked as open for writing;
				  more count as "some" */

/* ------------------------------------------------------------ compare */

static void report_add(prov_drift_report_t *r, const char *key,
		       const prov_fp_item_t *a, const prov_fp_item_t *b,
		       const char *aname, const char *bname)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	prov_drift_item_t *it = &r->v[r->n++];
	memset(it, 0, sizeof(*it));
	it->key = xstrdup(key);
	it->production = a ? xstrdup(a->value) : NULL;
	it->shadow = b ? xstrdup(b->value) : NULL;
	const prov_fp_item_t *f = a && a->path ? a : b;
	if (f && f->path)
		it->file = xstrdup(f->path);
	bool ta = !a || a->text, tb = !b || b->text;
	if ((a || b) && (a ? a->part : b->part) == PROV_FP_CONFIG && ta && tb) {
		buf_t d = BUF_INIT;
		char an[PATH_MAX], bn[PATH_MAX];
		const char *rel = key + strlen("config:");
		snprintf(an, sizeof(an), "%s/%s", aname, rel);
		snprintf(bn, sizeof(bn), "%s/%s", bname, rel);
		prov_diff_unified(a ? a->text : "", a ? a->text_len : 0,
				  b ? b->text : "", b ? b->text_len : 0,
				  a ? an : "/dev/null", b ? bn : "/dev/null",
				  &d, &it->line);
		it->diff = d.len ? buf_steal(&d) : NULL;
		buf_free(&d);
	}
}

/* Merge-join of two sorted fingerprints over the parts both have. */
static void compare(const prov_fp_t *a, const prov_fp_t *b, const char *an,
		    const char *bn, prov_drift_report_t *out)
{
	unsigned common = a->parts & b->parts;
	size_t i = 0, j = 0;
	while (i < a->n || j < b->n) {
		int c = i == a->n   ? 1
			: j == b->n ? -1
				    : strcmp(a->v[i].key, b->v[j].key);
		if (c < 0) {
			if (a->v[i].part & common)
				report_add(out, a->v[i].key, &a->v[i], NULL, an,
					   bn);
			i++;
		} else if (c > 0) {
			if (b->v[j].part & common)
				report_add(out, b->v[j].key, NULL, &b->v[j], an,
					   bn);
			j++;
		} else {
			if ((a->v[i].part & common) &&
			    strcmp(a->v[i].value, b->v[j].value))
				report_add(out, a->v[i].key, &a->v[i], &b->v[j],
					   an, bn);
			i++;
			j++;
		}
	}
}

void prov_fp_compare(const prov_fp_t *prod, const prov_fp_t *shadow,
		     prov_drift_report_t *out)
{
	compare(prod, shadow, "production", "shadow", out);
}

void prov_fp_changes(const prov_fp_t *before, const prov_fp_t *after,
		     prov_drift_report_t *out)
{
	compare(before, after, "before", "after", out);
}

void prov_drift_report_free(prov_drift_report_t *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].key);
		free(r->v[i].production);
		free(r->v[i].shadow);
		free(r->v[i].file);
		free(r->v[i].diff);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

void prov_drift_report_print(const prov_drift_report_t *r, buf_t *out)
{
	for (size_t i = 0; i < r->n; i++) {
		const prov_drift_item_t *it = &r->v[i];
		buf_printf(out, "%s:\n", it->key);
		if (it->file)
			buf_printf(out, "  file:       %s%s%.0d\n", it->file,
				   it->line ? ":" : "", it->line);
		buf_printf(out, "  production: %s\n",
			   it->production ? it->production : "(absent)");
		buf_printf(out, "  shadow:     %s\n",
			   it->shadow ? it->shadow : "(absent)");
		if (it->diff)
			buf_puts(out, it->diff);
	}
}

/* A signature of a report: a new finding is logged only when it
 * changes. */
static char *signature(const prov_drift_report_t *r)
{
	buf_t b = BUF_INIT;
	for (size_t i = 0; i < r->n; i++)
		buf_printf(&b, "%s\n%s\n%s\n", r->v[i].key,
			   r->v[i].production ? r->v[i].production : "-",
			   r->v[i].shadow ? r->v[i].shadow : "-");
	return buf_steal(&b);
}

/* ------------------------------------------------------------ sources */

/* The fingerprint source of side in a live supervisor: its first settled
 * replica (one that passed its health check: a replica still starting
 * may be a shell that has not exec'd the server yet, or a server that
 * has not rewritten its title), its side groups, and for production the
 * scale that maps its limits onto the shadow's expected ones. False when
 * no replica of side is settled: nothing to fingerprint yet. */
static bool live_src(prov_t *p, prov_side_t side, prov_fp_src_t *src,
		     prov_cg_t *cgbuf)
{
	const config_t *cfg = p->cfg;
	memset(src, 0, sizeof(*src));
	src->spec = &p->spec[side];
	src->env_ignore = &cfg->drift.env_ignore;
	src->ignore = &cfg->drift.ignore;
	src->sensitive = &cfg->mask.sensitive_keys;
	src->marker = cfg->mask.redact_marker;
	src->scale = 1;
	for (int i = 0; i < p->nrep[side]; i++) {
		prov_replica_t *r = p->rep[side][i];
		if (r && r->pid > 0 && r->state == PROV_R_UP) {
			src->pid = r->pid;
			src->port = r->port;
			break;
		}
		if (r && !src->port)
			src->port = r->port;
	}
	*cgbuf = p->cg[side];
	if (side == PROV_PRODUCTION && p->spec[side].attached) {
		src->cg_cpu = p->attach_cpu;
		src->cg_mem = p->attach_mem;
		src->cg_cpu_ver = p->attach_cpu_ver;
		src->cg_mem_ver = p->attach_mem_ver;
	} else if (cgbuf->on) {
		src->cg_cpu = cgbuf->side[CGROUP_CPU];
		src->cg_mem = cgbuf->side[CGROUP_MEMORY];
		src->cg_cpu_ver = cgbuf->ver[CGROUP_CPU];
		src->cg_mem_ver = cgbuf->ver[CGROUP_MEMORY];
	}
	if (side == PROV_PRODUCTION) {
		src->scale = cfg->shadow.ratio;
		src->mem_min = cfg->shadow.memory_min;
	}
	return src->pid > 0;
}

/* ------------------------------------------------------------ watcher */

typedef struct watch {
	int wd;
	char *dir;
} watch_t;

struct prov_drift {
	prov_t *p;
	prov_drift_hooks_t hooks;
	struct event *ev_timer, *ev_inotify, *ev_debounce;
	int ifd;
	watch_t watches[2 * PROV_DRIFT_MAX_WATCHES];
	int nwatch;
	char pending[PATH_MAX]; /* the file that triggered the debounce */
	uint64_t gen;	   /* inotify events read so far */
	int64_t burst_ns;  /* monotonic: the burst's first event; 0 none */
	struct {
		int wd;
		char name[NAME_MAX + 1];
	} open_w[PROV_DRIFT_MAX_OPEN]; /* written to, not closed yet */
	int nopen;
	bool open_overflow;
	prov_fp_t last[PROV_DRIFT_SIDES];
	bool have_last;
	char *last_sig;
};

static void log_item(const prov_drift_item_t *it, bool change, prov_side_t side)
{
	if (change) {
		log_info("drift", "configuration changed",
			 LF_S("side", prov_side_name(side)),
			 LF_S("key", it->key),
			 LF_S("file", it->file ? it->file : ""),
			 LF_I("line", it->line),
			 LF_S("before",
			      it->production ? it->production : "(absent)"),
			 LF_S("after", it->shadow ? it->shadow : "(absent)"),
			 LF_S("diff", it->diff ? it->diff : ""));
		return;
	}
	log_warn(
	    "drift", "production and shadow differ", LF_S("key", it->key),
	    LF_S("file", it->file ? it->file : ""), LF_I("line", it->line),
	    LF_S("production", it->production ? it->production : "(absent)"),
	    LF_S("shadow", it->shadow ? it->shadow : "(absent)"),
	    LF_S("diff", it->diff ? it->diff : ""));
}

static void read_events(prov_drift_t *d);
static void settle_later(prov_drift_t *d);

/* Whether a change is still being written: a file open for writing, or
 * events newer than PROV_DRIFT_SETTLE_NS; not past the cap. */
static bool unsettled(prov_drift_t *d)
{
	if (!d->burst_ns)
		return false;
	if (clock_mono_ns() - d->burst_ns >= PROV_DRIFT_SETTLE_MAX_NS)
		return false;
	return d->nopen > 0 || d->open_overflow ||
	       evtimer_pending(d->ev_debounce, NULL);
}

void prov_drift_check(prov_drift_t *d, const char *trigger)
{
	prov_t *p = d->p;
	for (int s = 0; s < PROV_DRIFT_SIDES; s++)
		if (!p->spec[s].run && !p->spec[s].attached)
			return; /* nothing to compare with */
	/* A change being written is checked once it settles. */
	read_events(d);
	if (unsettled(d)) {
		if (!evtimer_pending(d->ev_debounce, NULL))
			settle_later(d);
		return;
	}
	/* Settled processes only: a check before both sides have a replica
	 * past its health check would record a half-started process as the
	 * side's last fingerprint, and its exec as a change. The "replica
	 * up" check follows. */
	prov_fp_src_t srcs[PROV_DRIFT_SIDES];
	prov_cg_t cgs[PROV_DRIFT_SIDES];
	for (int s = 0; s < PROV_DRIFT_SIDES; s++)
		if (!live_src(p, (prov_side_t)s, &srcs[s], &cgs[s])) {
			log_debug("drift", "no settled replica yet; not checked",
				  LF_S("side", prov_side_name((prov_side_t)s)),
				  LF_S("trigger", trigger));
			return;
		}
	uint64_t gen = d->gen;
	prov_fp_t fp[PROV_DRIFT_SIDES];
	for (int s = 0; s < PROV_DRIFT_SIDES; s++)
		prov_fp_collect(&srcs[s], &fp[s]);
	/* Files changed while they were read: the fingerprints may be of
	 * half a change. Thrown away; the settled check follows. */
	read_events(d);
	if (d->gen != gen && d->burst_ns &&
	    clock_mono_ns() - d->burst_ns < PROV_DRIFT_SETTLE_MAX_NS) {
		for (int s = 0; s < PROV_DRIFT_SIDES; s++)
			prov_fp_free(&fp[s]);
		settle_later(d);
		return;
	}
	d->burst_ns = 0;
	int64_t now = clock_wall_ns();
	/* Changes of each side against its previous fingerprint. */
	for (int s = 0; d->have_last && s < PROV_DRIFT_SIDES; s++) {
		prov_drift_report_t ch = {0};
		prov_fp_changes(&d->last[s], &fp[s], &ch);
		for (size_t i = 0; i < ch.n; i++) {
			log_item(&ch.v[i], true, (prov_side_t)s);
			if (d->hooks.on_change) {
				prov_change_ev_t ev = {now, p->spec[s].service,
						       (prov_side_t)s,
						       &ch.v[i]};
				d->hooks.on_change(&ev, d->hooks.arg);
			}
		}
		prov_drift_report_free(&ch);
	}
	prov_drift_report_t rep = {0};
	prov_fp_compare(&fp[PROV_PRODUCTION], &fp[PROV_SHADOW], &rep);
	char *sig = signature(&rep);
	bool changed = !d->last_sig || strcmp(sig, d->last_sig) != 0;
	bool had = d->last_sig && d->last_sig[0];
	if (changed && rep.n) {
		log_warn("drift",
			 "drift finding: production and shadow are no "
			 "longer twins",
			 LF_S("service", p->spec[0].service),
			 LF_S("trigger", trigger), LF_U("differences", rep.n));
		for (size_t i = 0; i < rep.n; i++)
			log_item(&rep.v[i], false, PROV_PRODUCTION);
	} else if (changed && had) {
		log_info("drift",
			 "drift resolved: production and shadow agree "
			 "again",
			 LF_S("trigger", trigger));
	}
	if (changed && (rep.n || had) && d->hooks.on_finding) {
		prov_drift_finding_t f = {now, p->spec[0].service, trigger,
					  &rep, rep.n == 0};
		d->hooks.on_finding(&f, d->hooks.arg);
	}
	/* The first fingerprints of settled replicas: from here on a change
	 * of either side is a "configuration changed" record. */
	if (!d->have_last)
		log_info("drift", "fingerprints taken", LF_S("trigger", trigger),
			 LF_U("differences", rep.n));
	free(d->last_sig);
	d->last_sig = sig;
	prov_drift_report_free(&rep);
	for (int s = 0; s < PROV_DRIFT_SIDES; s++) {
		if (d->have_last)
			prov_fp_free(&d->last[s]);
		d->last[s] = fp[s];
	}
	d->have_last = true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	prov_drift_check(arg, "interval");
}

/* Watches dir and its subdirectories (bounded). */
static void watch_tree(prov_drift_t *d, const char *dir, int depth)
{
	if (!dir[0] || d->nwatch >= 2 * PROV_DRIFT_MAX_WATCHES ||
	    depth > PROV_TREE_MAX_DEPTH)
		return;
	int wd =
	    inotify_add_watch(d->ifd, dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
				  IN_CREATE | IN_DELETE | IN_MODIFY |
				  IN_ONLYDIR);
	if (wd < 0) {
		log_warn("drift", "cannot watch a config directory",
			 LF_S("dir", dir), LF_ERR("err", -errno));
		return;
	}
	bool known = false;
	for (int i = 0; i < d->nwatch && !known; i++)
		known = d->watches[i].wd == wd;
	if (!known) {
		d->watches[d->nwatch].wd = wd;
		d->watches[d->nwatch].dir = xstrdup(dir);
		d->nwatch++;
	}
	DIR *dh = opendir(dir);
	struct dirent *e;
	while (dh && (e = readdir(dh))) {
		if (e->d_name[0] == '.' &&
		    (!e->d_name[1] || !strcmp(e->d_name, "..")))
			continue;
		char *sub = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			watch_tree(d, sub, depth + 1);
		free(sub);
	}
	if (dh)
		closedir(dh);
}

static void watch_all(prov_drift_t *d)
{
	const prov_t *p = d->p;
	watch_tree(d, p->spec[PROV_PRODUCTION].config_dir, 0);
	if (p->spec[PROV_SHADOW].copy_config)
		watch_tree(d, p->spec[PROV_SHADOW].config_dir, 0);
}

static void settle_later(prov_drift_t *d)
{
	struct timeval tv = {0, PROV_DRIFT_SETTLE_NS / 1000};
	evtimer_add(d->ev_debounce, &tv); /* re-armed: from now */
}

static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
	prov_drift_t *d = arg;
	read_events(d);
	if (unsettled(d)) {
		if (!evtimer_pending(d->ev_debounce, NULL))
			settle_later(d);
		return;
	}
	char trig[PATH_MAX + 16];
	snprintf(trig, sizeof(trig), "inotify:%s", d->pending);
	watch_all(d); /* new subdirectories */
	/* production's templates changed: what it runs follows them, so
	 * that a reload from outside umbra reads the edit too */
	buf_t rerr = BUF_INIT;
	int rrc = prov_render_production(d->p, &rerr);
	if (rrc)
		log_error("drift", "cannot render production's config",
			  LF_S("why", rerr.data ? rerr.data : ""),
			  LF_ERR("err", rrc));
	buf_free(&rerr);
	prov_drift_check(d, trig);
	if (!d->burst_ns)
		d->pending[0] = '\0';
}

static void open_del(prov_drift_t *d, int wd, const char *name)
{
	for (int i = 0; i < d->nopen; i++)
		if (d->open_w[i].wd == wd && !strcmp(d->open_w[i].name, name)) {
			d->open_w[i] = d->open_w[--d->nopen];
			return;
		}
}

/* One event: which files are open for writing, the watch list, the
 * burst's start and its last file. */
static void on_event(prov_drift_t *d, const struct inotify_event *e)
{
	const char *name = e->len ? e->name : "";
	if (e->mask & IN_IGNORED) { /* its directory went (an exchange) */
		for (int i = 0; i < d->nwatch; i++)
			if (d->watches[i].wd == e->wd) {
				free(d->watches[i].dir);
				d->watches[i] = d->watches[--d->nwatch];
				break;
			}
		for (int i = 0; i < d->nopen;)
			if (d->open_w[i].wd == e->wd)
				d->open_w[i] = d->open_w[--d->nopen];
			else
				i++;
	} else if (e->mask & IN_MODIFY) {
		bool known = false;
		for (int i = 0; i < d->nopen && !known; i++)
			known = d->open_w[i].wd == e->wd &&
				!strcmp(d->open_w[i].name, name);
		if (!known && d->nopen < PROV_DRIFT_MAX_OPEN) {
			d->open_w[d->nopen].wd = e->wd;
			snprintf(d->open_w[d->nopen].name,
				 sizeof(d->open_w[d->nopen].name), "%s", name);
			d->nopen++;
		} else if (!known) {
			d->open_overflow = true;
		}
	} else if (e->mask & (IN_CLOSE_WRITE | IN_MOVED_FROM | IN_DELETE)) {
		open_del(d, e->wd, name);
	}
	if (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
		       IN_CREATE | IN_DELETE | IN_IGNORED)) {
		/* the last event names the file: a rename's target */
		const char *dir = "";
		for (int i = 0; i < d->nwatch; i++)
			if (d->watches[i].wd == e->wd)
				dir = d->watches[i].dir;
		snprintf(d->pending, sizeof(d->pending), "%s/%s", dir, name);
	}
	if (!d->burst_ns)
		d->burst_ns = clock_mono_ns();
	d->gen++;
}

/* Reads every queued event (non-blocking). */
static void read_events(prov_drift_t *d)
{
	if (d->ifd < 0)
		return;
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	uint64_t before = d->gen;
	while ((n = read(d->ifd, buf, sizeof(buf))) > 0)
		for (char *q = buf; q < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)q;
			on_event(d, e);
			q += sizeof(*e) + e->len;
		}
	if (d->gen != before && !d->nopen)
		d->open_overflow = false; /* everything closed since */
	if (d->gen != before)
		settle_later(d);
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	read_events(arg);
}

int prov_drift_new(prov_t *p, const prov_drift_hooks_t *hooks,
		   prov_drift_t **out, buf_t *err)
{
	prov_drift_t *d = xcalloc(1, sizeof(*d));
	d->p = p;
	d->ifd = -1;
	if (hooks)
		d->hooks = *hooks;
	const config_t *cfg = p->cfg;
	d->ev_timer = event_new(p->base, -1, EV_PERSIST, on_timer, d);
	struct timeval tv = {
	    (time_t)(cfg->drift.interval / NS_PER_S),
	    (suseconds_t)(cfg->drift.interval % NS_PER_S / 1000)};
	event_add(d->ev_timer, &tv);
	d->ev_debounce = evtimer_new(p->base, on_debounce, d);
	if (cfg->drift.watch) {
		d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (d->ifd < 0) {
			buf_printf(err,
				   "drift.watch: inotify: %s (set "
				   "drift.watch: false to compare on the "
				   "interval only)",
				   strerror(errno));
			int rc = -errno;
			prov_drift_free(d);
			return rc;
		}
		d->ev_inotify = event_new(p->base, d->ifd, EV_READ | EV_PERSIST,
					  on_inotify, d);
		event_add(d->ev_inotify, NULL);
		watch_all(d);
	}
	*out = d;
	return 0;
}

void prov_drift_free(prov_drift_t *d)
{
	if (!d)
		return;
	if (d->ev_timer)
		event_free(d->ev_timer);
	if (d->ev_inotify)
		event_free(d->ev_inotify);
	if (d->ev_debounce)
		event_free(d->ev_debounce);
	if (d->ifd >= 0)
		close(d->ifd);
	for (int i = 0; i < d->nwatch; i++)
		free(d->watches[i].dir);
	if (d->have_last)
		for (int s = 0; s < PROV_DRIFT_SIDES; s++)
			prov_fp_free(&d->last[s]);
	free(d->last_sig);
	free(d);
}

/* ------------------------------------------------------------ snapshot */

/* True when pid is alive and (for a replica umbra runs) carries
 * UMBRA_SIDE=<side>: a recycled pid is not mistaken for a replica. */
static bool is_replica(int pid, prov_side_t side, bool owned)
{
	if (pid <= 0 || kill(pid, 0) != 0)
		return false;
	if (!owned)
		return true;
	char path[64], want[32];
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	snprintf(want, sizeof(want), "UMBRA_SIDE=%s", prov_side_name(side));
	buf_t b = BUF_INIT;
	int rc = prov__read_file(path, PROV_PROC_MAX, &b);
	bool ok = false;
	if (!rc || rc == ERR_TOOBIG)
		for (size_t i = 0; i < b.len && !ok;
		     i += strlen(b.data + i) + 1)
			ok = !strcmp(b.data + i, want);
	buf_free(&b);
	return ok;
}

int prov_drift_snapshot(const config_t *cfg, prov_fp_t fps[PROV_DRIFT_SIDES],
			prov_drift_report_t *rep, buf_t *err)
{
	prov_spec_t spec[PROV_DRIFT_SIDES];
	int rc = prov_spec_build(cfg, PROV_PRODUCTION, NULL, NULL,
				 &spec[PROV_PRODUCTION], err);
	if (rc)
		return rc;
	rc = prov_spec_build(cfg, PROV_SHADOW, &spec[PROV_PRODUCTION], NULL,
			     &spec[PROV_SHADOW], err);
	if (rc) {
		prov_spec_free(&spec[PROV_PRODUCTION]);
		return rc;
	}
	prov_state_rec_t recs[PROV_SIDES * PROV_MAX_REPLICAS];
	int nrec = prov__state_read(spec[PROV_SHADOW].work_dir, recs,
				    PROV_SIDES * PROV_MAX_REPLICAS);
	cgroup_sys_t sys;
	bool have_cg = cgroup_discover(&sys, NULL) == 0;
	prov_fp_src_t src[PROV_DRIFT_SIDES];
	prov_cg_t cg[PROV_DRIFT_SIDES];
	for (int s = 0; s < PROV_DRIFT_SIDES; s++) {
		memset(&src[s], 0, sizeof(src[s]));
		src[s].spec = &spec[s];
		src[s].env_ignore = &cfg->drift.env_ignore;
		src[s].ignore = &cfg->drift.ignore;
		src[s].sensitive = &cfg->mask.sensitive_keys;
		src[s].marker = cfg->mask.redact_marker;
		src[s].scale = 1;
		src[s].port = spec[s].port;
		int lowest = PROV_MAX_REPLICAS;
		for (int i = 0; i < nrec; i++) {
			if ((int)recs[i].side != s ||
			    !is_replica(recs[i].pid, (prov_side_t)s,
					!spec[s].attached) ||
			    recs[i].replica >= lowest)
				continue;
			lowest = recs[i].replica;
			src[s].pid = recs[i].pid;
			src[s].port = recs[i].port;
		}
		if (spec[s].attached && !src[s].pid)
			src[s].pid = spec[s].attach_pid;
		buf_t e2 = BUF_INIT;
		if (have_cg &&
		    prov__cg_setup(&cg[s], &sys, cfg->production.cgroup_parent,
				   spec[s].service, (prov_side_t)s, false,
				   false, &e2) == 0 &&
		    cg[s].on) {
			src[s].cg_cpu = cg[s].side[CGROUP_CPU];
			src[s].cg_mem = cg[s].side[CGROUP_MEMORY];
			src[s].cg_cpu_ver = cg[s].ver[CGROUP_CPU];
			src[s].cg_mem_ver = cg[s].ver[CGROUP_MEMORY];
		}
		buf_free(&e2);
	}
	src[PROV_PRODUCTION].scale = cfg->shadow.ratio;
	src[PROV_PRODUCTION].mem_min = cfg->shadow.memory_min;
	for (int s = 0; s < PROV_DRIFT_SIDES; s++)
		prov_fp_collect(&src[s], &fps[s]);
	memset(rep, 0, sizeof(*rep));
	prov_fp_compare(&fps[PROV_PRODUCTION], &fps[PROV_SHADOW], rep);
	prov_spec_free(&spec[PROV_PRODUCTION]);
	prov_spec_free(&spec[PROV_SHADOW]);
	return 0;
}
