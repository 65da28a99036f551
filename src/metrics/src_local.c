/*
 * src_local.c: the local metric source (see metrics.h). Per side it owns
 * a process-tree tracker, optionally a cgroup and a namespace pid, and
 * turns their counters into rates over the interval since the side's
 * previous sample (monotonic clock). Request metrics come from the
 * aggregator's last closed interval.
 *
 * Which reading is the primary one: with pids, cpu/memory/disk are the
 * process tree's (exactly what the service's processes use); with only a
 * cgroup, they are the cgroup's. The cgroup's own view is always in the
 * cg_* metrics. net_rx/net_tx are the namespace's counters when a
 * namespace pid is given (the shadow isolated), else the proxy's request
 * and response bytes.
 */
#include "metrics/metrics.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "metrics/agg.h"
#include "metrics/collect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Counters of one side at its previous sample, for rates. */
typedef struct prev {
	bool valid;
	int64_t mono_ns;
	double cpu_user, cpu_sys, rbytes, wbytes, ctx;
	double cg_cpu, cg_throttled_s, cg_io_r, cg_io_w;
	uint64_t cg_periods, cg_throttled;
	double psi_some[3], psi_full[3];
	double net_rx, net_tx;
	bool has_proc, has_cg, has_net;
	unsigned cg_have;
} prev_t;

typedef struct side_state {
	metrics_proc_t *proc;
	bool has_pids;
	bool has_cg;
	metrics_cg_t cg;
	pid_t netns;
	prev_t prev;
	metrics_totals_t totals;
	/* namespace counters: the first reading is the zero of totals */
	bool net_base_set;
	double net_base_rx, net_base_tx;
} side_state_t;

typedef struct local {
	metrics_src_t base;
	char *proc_root;
	cgroup_sys_t cgroups;
	bool cgroups_known;
	metrics_agg_t *agg;
	int64_t (*clock)(void);
	side_state_t side[METRICS_SIDES];
} local_t;

static const metrics_src_ops_t local_ops;

static int local_sample(metrics_src_t *src, int side, int64_t now_ns,
			metrics_sample_t *out);

static void local_free(metrics_src_t *src)
{
	local_t *l = (local_t *)src;
	for (int s = 0; s < METRICS_SIDES; s++)
		metrics_proc_free(l->side[s].proc);
	free(l->proc_root);
	free(l);
}

static const metrics_src_ops_t local_ops = {"local", local_sample,
					    local_free};

int metrics_src_local_new(const metrics_local_opts_t *opts,
			  metrics_src_t **out)
{
	local_t *l = xcalloc(1, sizeof(*l));
	l->base.ops = &local_ops;
	l->proc_root = xstrdup(opts && opts->proc_root ? opts->proc_root
						       : "/proc");
	if (opts && opts->cgroups) {
		l->cgroups = *opts->cgroups;
		l->cgroups_known = true;
	}
	l->agg = opts ? opts->agg : NULL;
	l->clock = opts && opts->clock ? opts->clock : clock_mono_ns;
	for (int s = 0; s < METRICS_SIDES; s++)
		l->side[s].proc = metrics_proc_new(l->proc_root);
	*out = &l->base;
	return 0;
}

int metrics_src_local_target(metrics_src_t *src, int side,
			     const metrics_target_t *t)
{
	if (!src || src->ops != &local_ops || side < 0 ||
	    side >= METRICS_SIDES)
		return ERR_INVAL;
	local_t *l = (local_t *)src;
	side_state_t *ss = &l->side[side];
	metrics_cg_t cg;
	bool has_cg = false;
	if (t->cgroup && t->cgroup[0]) {
		if (!l->cgroups_known) {
			int rc = cgroup_discover(&l->cgroups, NULL);
			if (rc)
				return rc;
			l->cgroups_known = true;
		}
		int rc = metrics_cg_open(&cg, &l->cgroups, t->cgroup);
		if (rc)
			return rc;
		has_cg = true;
	}
	metrics_proc_set_roots(ss->proc, t->pids, t->npids);
	ss->has_pids = t->npids > 0;
	ss->has_cg = has_cg;
	if (has_cg)
		ss->cg = cg;
	if (ss->netns != t->netns_pid)
		ss->net_base_set = false; /* another namespace: rebase */
	ss->netns = t->netns_pid;
	return 0;
}

int metrics_src_local_totals(metrics_src_t *src, int side,
			     metrics_totals_t *out)
{
	if (!src || src->ops != &local_ops || side < 0 ||
	    side >= METRICS_SIDES)
		return ERR_INVAL;
	*out = ((local_t *)src)->side[side].totals;
	return 0;
}

/* (now - before) / dt, NaN without a previous reading; counters that go
 * backwards (a cgroup recreated) give NaN rather than a negative rate. */
static double rate(bool have_prev, double now, double before, double dt)
{
	if (!have_prev || !(dt > 0) || now < before)
		return NAN;
	return (now - before) / dt;
}

static int local_sample(metrics_src_t *src, int side, int64_t now_ns,
			metrics_sample_t *out)
{
	local_t *l = (local_t *)src;
	metrics_sample_clear(out, now_ns);
	if (side < 0 || side >= METRICS_SIDES)
		return ERR_INVAL;
	side_state_t *ss = &l->side[side];
	prev_t cur = {.valid = true, .mono_ns = l->clock()};
	const prev_t *pv = &ss->prev;
	double dt = pv->valid ? (double)(cur.mono_ns - pv->mono_ns) / NS_PER_S
			      : 0;
	bool measured = false;

	/* process tree */
	if (ss->has_pids) {
		metrics_proc_stat_t ps;
		if (metrics_proc_tick(ss->proc, &ps) == 0) {
			measured = true;
			cur.has_proc = true;
			cur.cpu_user = ps.cpu_user_s;
			cur.cpu_sys = ps.cpu_system_s;
			cur.rbytes = ps.read_bytes;
			cur.wbytes = ps.write_bytes;
			cur.ctx = ps.ctx_switches;
			bool hp = pv->valid && pv->has_proc;
			double u = rate(hp, cur.cpu_user, pv->cpu_user, dt);
			double s = rate(hp, cur.cpu_sys, pv->cpu_sys, dt);
			out->v[METRICS_CPU_USER] = u;
			out->v[METRICS_CPU_SYSTEM] = s;
			out->v[METRICS_CPU] = u + s;
			if (hp && dt > 0) {
				/* the split is the ticks': each part is as
				 * coarse as the whole */
				double res = ps.cpu_res_s / dt;
				out->res[METRICS_CPU] = res;
				out->res[METRICS_CPU_USER] = res;
				out->res[METRICS_CPU_SYSTEM] = res;
			}
			out->v[METRICS_MEMORY] = (double)ps.rss_bytes;
			out->v[METRICS_DISK_READ] =
				rate(hp, cur.rbytes, pv->rbytes, dt);
			out->v[METRICS_DISK_WRITE] =
				rate(hp, cur.wbytes, pv->wbytes, dt);
			out->v[METRICS_PROCS] = ps.procs;
			out->v[METRICS_THREADS] = (double)ps.threads;
			out->v[METRICS_FDS] = (double)ps.fds;
			out->v[METRICS_CTX_SWITCHES] =
				rate(hp, cur.ctx, pv->ctx, dt);
			ss->totals.cpu_user_s = ps.cpu_user_s;
			ss->totals.cpu_system_s = ps.cpu_system_s;
			ss->totals.disk_read_bytes = ps.read_bytes;
			ss->totals.disk_write_bytes = ps.write_bytes;
			ss->totals.ctx_switches = ps.ctx_switches;
			ss->totals.has_proc = true;
		}
	}

	/* cgroup */
	if (ss->has_cg) {
		metrics_cg_stat_t cs;
		if (metrics_cg_read(&ss->cg, &cs) == 0) {
			measured = true;
			cur.has_cg = true;
			cur.cg_have = cs.have;
			cur.cg_cpu = cs.cpu_s;
			cur.cg_periods = cs.nr_periods;
			cur.cg_throttled = cs.nr_throttled;
			cur.cg_throttled_s = cs.throttled_s;
			cur.cg_io_r = (double)cs.io_read;
			cur.cg_io_w = (double)cs.io_write;
			for (int i = 0; i < 3; i++) {
				cur.psi_some[i] = (double)cs.psi[i].some_us;
				cur.psi_full[i] = (double)cs.psi[i].full_us;
			}
			bool hp = pv->valid && pv->has_cg;
			unsigned both = hp ? cs.have & pv->cg_have : 0;
			if (both & METRICS_CG_HAVE_CPU) {
				out->v[METRICS_CG_CPU] =
					rate(true, cur.cg_cpu, pv->cg_cpu, dt);
				/* one quantum in each of the two readings */
				if (dt > 0)
					out->res[METRICS_CG_CPU] =
						2 * cs.cpu_res_s / dt;
			}
			if (both & METRICS_CG_HAVE_THROTTLE) {
				uint64_t dp = cur.cg_periods - pv->cg_periods;
				uint64_t dth =
					cur.cg_throttled - pv->cg_throttled;
				out->v[METRICS_CG_THROTTLED] =
					cur.cg_periods > pv->cg_periods
						? (double)dth / (double)dp
						: 0;
				out->v[METRICS_CG_THROTTLED_TIME] =
					rate(true, cur.cg_throttled_s,
					     pv->cg_throttled_s, dt);
			}
			if (cs.have & METRICS_CG_HAVE_MEM)
				out->v[METRICS_CG_MEMORY] =
					(double)cs.mem_current;
			if (cs.have & METRICS_CG_HAVE_MEM_PEAK)
				out->v[METRICS_CG_MEMORY_PEAK] =
					(double)cs.mem_peak;
			if (both & METRICS_CG_HAVE_IO) {
				out->v[METRICS_CG_IO_READ] =
					rate(true, cur.cg_io_r, pv->cg_io_r, dt);
				out->v[METRICS_CG_IO_WRITE] =
					rate(true, cur.cg_io_w, pv->cg_io_w, dt);
			}
			static const unsigned bits[3] = {METRICS_CG_HAVE_PSI_CPU,
							 METRICS_CG_HAVE_PSI_MEM,
							 METRICS_CG_HAVE_PSI_IO};
			static const metrics_id_t some[3] = {
				METRICS_PSI_CPU_SOME, METRICS_PSI_MEMORY_SOME,
				METRICS_PSI_IO_SOME};
			static const metrics_id_t full[3] = {
				METRICS_PSI_CPU_FULL, METRICS_PSI_MEMORY_FULL,
				METRICS_PSI_IO_FULL};
			for (int i = 0; i < 3; i++) {
				if (!(both & bits[i]))
					continue;
				/* stall microseconds per microsecond */
				out->v[some[i]] =
					rate(true, cur.psi_some[i],
					     pv->psi_some[i], dt) * 1e-6;
				if (cs.psi[i].has_full)
					out->v[full[i]] =
						rate(true, cur.psi_full[i],
						     pv->psi_full[i], dt) *
						1e-6;
			}
			if (!ss->has_pids) {
				/* the cgroup is all we know of the side */
				out->v[METRICS_CPU] = out->v[METRICS_CG_CPU];
				out->res[METRICS_CPU] = out->res[METRICS_CG_CPU];
				if (cs.have & METRICS_CG_HAVE_MEM)
					out->v[METRICS_MEMORY] =
						out->v[METRICS_CG_MEMORY];
				out->v[METRICS_DISK_READ] =
					out->v[METRICS_CG_IO_READ];
				out->v[METRICS_DISK_WRITE] =
					out->v[METRICS_CG_IO_WRITE];
				if (cs.have & METRICS_CG_HAVE_CPU) {
					/* split usage by the user/system
					 * ticks, which are coarser */
					double us = cs.cpu_user_s +
						    cs.cpu_system_s;
					double fu = us > 0 ? cs.cpu_user_s / us
							   : 1;
					ss->totals.cpu_user_s = cs.cpu_s * fu;
					ss->totals.cpu_system_s =
						cs.cpu_s * (1 - fu);
					ss->totals.has_proc = true;
				}
				if (cs.have & METRICS_CG_HAVE_IO) {
					ss->totals.disk_read_bytes =
						(double)cs.io_read;
					ss->totals.disk_write_bytes =
						(double)cs.io_write;
				}
			}
		}
	}

	/* network namespace */
	if (ss->netns > 0) {
		metrics_netdev_t nd;
		int rc = metrics_netdev_read(l->proc_root, ss->netns, false,
					     &nd);
		if (rc == 0) {
			measured = true;
			cur.has_net = true;
			cur.net_rx = (double)nd.rx_bytes;
			cur.net_tx = (double)nd.tx_bytes;
			bool hp = pv->valid && pv->has_net;
			out->v[METRICS_NET_RX] =
				rate(hp, cur.net_rx, pv->net_rx, dt);
			out->v[METRICS_NET_TX] =
				rate(hp, cur.net_tx, pv->net_tx, dt);
			if (!ss->net_base_set) {
				ss->net_base_rx = cur.net_rx;
				ss->net_base_tx = cur.net_tx;
				ss->net_base_set = true;
			}
			ss->totals.net_rx_bytes = cur.net_rx - ss->net_base_rx;
			ss->totals.net_tx_bytes = cur.net_tx - ss->net_base_tx;
			ss->totals.has_net = true;
		}
	}

	/* requests */
	if (l->agg) {
		const metrics_req_stats_t *rs = metrics_agg_side(l->agg, side);
		metrics_agg_fill(l->agg, side, ss->netns <= 0, out);
		if (rs && rs->interval_s > 0)
			measured = true;
	}

	ss->prev = cur;
	metrics_normalise(out);
	return measured ? 0 : ERR_NOTFOUND;
}
