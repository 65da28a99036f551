/*
 * sim.h: a simulated production/shadow pair for the analysis tests, with
 * known truth. A web service with four endpoints serves a daily load
 * curve; each side's metrics are what a collector would see: CPU from
 * per-request cost, memory, disk and network per request, latency
 * percentiles from the endpoints' latencies, error and diff rates,
 * network timing; every figure with its own noise, and rare one-tick
 * latency spikes (GC pauses). A scenario changes one thing through
 * sim_mod_t (a step in cost, a leak, one slow endpoint, network delay, a
 * job loading both sides) and checks what the analysis makes of it.
 *
 * Deterministic: a fixed-seed xorshift generator, so every run sees the
 * same series.
 */
#ifndef UMBRA_TESTS_SIM_H
#define UMBRA_TESTS_SIM_H

#include "analysis/analysis.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SIM_NEP 4
#define SIM_T0 1767225600LL /* 2026-01-01T00:00:00Z */

static const char *const sim_ep_name[SIM_NEP] = {"/api/users", "/api/orders",
						 "/api/search", "/static"};
static const double sim_ep_share[SIM_NEP] = {0.4, 0.3, 0.2, 0.1};
static const double sim_ep_lat[SIM_NEP] = {0.005, 0.008, 0.012, 0.020};
static const double sim_ep_cost[SIM_NEP] = {0.001, 0.002, 0.004, 0.0005};

typedef struct sim_mod {
	double cost[2];          /* multiplier of CPU cost per request */
	double cpu_add[2];       /* cores added (a job) */
	double mem[2];           /* multiplier of memory */
	double ep_lat[SIM_NEP][2]; /* multiplier of an endpoint's latency */
	double connect_add[2];   /* seconds added to connect and latency */
} sim_mod_t;

typedef struct sim {
	uint64_t rng;
	double ratio;       /* shadow's share of traffic and resources */
	double spike_prob;  /* per side per tick, on latency percentiles */
	an_tick_t tick;
	an_endpoint_in_t ep[SIM_NEP];
} sim_t;

static inline void sim_init(sim_t *s, uint64_t seed, double ratio)
{
	memset(s, 0, sizeof(*s));
	s->rng = seed ? seed : 88172645463325252ull;
	s->ratio = ratio;
	s->spike_prob = 0.0005;
}

static inline void sim_mod_none(sim_mod_t *m)
{
	memset(m, 0, sizeof(*m));
	for (int k = 0; k < 2; k++) {
		m->cost[k] = m->mem[k] = 1;
		for (int e = 0; e < SIM_NEP; e++)
			m->ep_lat[e][k] = 1;
	}
}

static inline double sim_unif(sim_t *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return ((s->rng >> 11) + 0.5) / 9007199254740992.0;
}

/* Standard normal (Box-Muller). */
static inline double sim_gauss(sim_t *s)
{
	double u = sim_unif(s), v = sim_unif(s);
	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static inline double sim_noise(sim_t *s, double rel)
{
	return 1 + rel * sim_gauss(s);
}

/* Fills s->tick for second k (from SIM_T0) under mod. */
static inline const an_tick_t *sim_step(sim_t *s, int64_t k,
					const sim_mod_t *mod)
{
	an_tick_t *t = &s->tick;
	an_tick_clear(t, (SIM_T0 + k) * 1000000000LL);
	double day = 1 + 0.3 * sin(6.283185307179586 * (double)k / 86400);
	double rps[2];
	rps[0] = 200 * day * sim_noise(s, 0.02);
	rps[1] = s->ratio * rps[0] * sim_noise(s, 0.02);
	for (int e = 0; e < SIM_NEP; e++) {
		s->ep[e].id = (uint32_t)e + 1;
		s->ep[e].name = sim_ep_name[e];
		s->ep[e].differ_rate = 0.002 * fabs(sim_noise(s, 0.3));
	}
	for (int side = 0; side < 2; side++) {
		double cpu = 0.005 + mod->cpu_add[side], mean_lat = 0;
		for (int e = 0; e < SIM_NEP; e++) {
			double req = rps[side] * sim_ep_share[e];
			double lat = sim_ep_lat[e] * mod->ep_lat[e][side] *
					     sim_noise(s, 0.03) +
				     mod->connect_add[side];
			double cost = sim_ep_cost[e] * mod->cost[side] *
				      sim_noise(s, 0.03);
			cpu += req * cost;
			mean_lat += sim_ep_share[e] * lat;
			s->ep[e].requests[side] = req;
			s->ep[e].latency[side] = lat;
			s->ep[e].cost[side] = cost;
		}
		double *v = t->value[side];
		v[AN_M_cpu] = cpu * sim_noise(s, 0.01);
		v[AN_M_memory] = 300e6 * mod->mem[side] * sim_noise(s, 0.003);
		v[AN_M_disk_read] = rps[side] * 1000 * sim_noise(s, 0.05);
		v[AN_M_disk_write] = rps[side] * 4000 * sim_noise(s, 0.05);
		v[AN_M_net_rx] = rps[side] * 800 * sim_noise(s, 0.02);
		v[AN_M_net_tx] = rps[side] * 6000 * sim_noise(s, 0.02);
		double spike = sim_unif(s) < s->spike_prob ? 1.5 + sim_unif(s)
							     : 1;
		v[AN_M_latency_p50] = mean_lat * 0.8 * sim_noise(s, 0.02);
		v[AN_M_latency_p90] = mean_lat * 2 * sim_noise(s, 0.04) * spike;
		v[AN_M_latency_p99] = mean_lat * 4 * sim_noise(s, 0.06) * spike;
		v[AN_M_error_rate] = 0.001 * fabs(sim_noise(s, 0.3));
		t->rps[side] = rps[side];
		double conn = 0.0003 * sim_noise(s, 0.1) + mod->connect_add[side];
		t->connect_s[side] = conn;
		t->ttfb_s[side] = mean_lat * 0.9;
	}
	t->value[AN_SHADOW][AN_M_diff_rate] = 0.002 * fabs(sim_noise(s, 0.3));
	t->endpoints = s->ep;
	t->nendpoints = SIM_NEP;
	return t;
}

#endif
