/*
 * proxy.h: the mirroring proxy. Clients talk to it; every request goes to
 * production (a pool of replicas, keep-alive, round robin, passive health
 * checks) and a sampled, masked copy goes to the shadow, best effort
 * (DESIGN.md non-negotiable 1: nothing on the shadow side can delay, fail
 * or alter a production exchange). Each mirrored pair of responses is
 * compared; every request yields a reqrec_t in its worker's ring.
 *
 * Threads: N workers, each with its own libevent loop and SO_REUSEPORT
 * listener; the caller's thread is the control side. The two talk only
 * through atomics, an eventfd per worker, the rings, and an immutable
 * runtime-settings snapshot swapped RCU-style (proxy_reload).
 *
 * Ownership: proxy_new() returns a proxy the caller frees with
 * proxy_free() after proxy_drain(). It copies what it needs from the
 * config; the config can be freed after proxy_new() / proxy_reload().
 */
#ifndef UMBRA_PROXY_PROXY_H
#define UMBRA_PROXY_PROXY_H

#include "base/addr.h"
#include "base/reqrec.h"
#include "base/ring.h"
#include "base/strtab.h"
#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a mirrored copy was not sent (all counted, never silent). */
#define PROXY_DROP_MAP(X)                                                  \
	X(BODY_TOO_LARGE, "body_too_large")                               \
	X(QUEUE_FULL, "queue_full")                                       \
	X(QUEUE_BYTES, "queue_bytes")                                     \
	X(RATE_LIMITED, "rate_limited")                                   \
	X(SHADOW_DOWN, "shadow_down")                                     \
	X(MASK_FAILED, "mask_failed")                                     \
	X(CLIENT_ABORTED, "client_aborted")                               \
	X(DRAINING, "draining")

typedef enum proxy_drop {
#define PROXY__DROP_ENUM(n, s) PROXY_DROP_##n,
	PROXY_DROP_MAP(PROXY__DROP_ENUM)
#undef PROXY__DROP_ENUM
	PROXY_DROP__COUNT
} proxy_drop_t;

const char *proxy_drop_name(proxy_drop_t d);

/* Why umbra ended a client's exchange or connection on a timer (each
 * counted; docs/proxy.md "Limits and timeouts"). */
#define PROXY_TIMEOUT_MAP(X)                                               \
	X(HEADER, "header")             /* listen.header_timeout */       \
	X(BODY_GAP, "body_gap")         /* listen.body_timeout */         \
	X(BODY_DEADLINE, "body_deadline") /* listen.body_deadline */      \
	X(BODY_RATE, "body_rate")       /* listen.body_min_rate */        \
	X(SEND, "send")                 /* listen.send_timeout */         \
	X(IDLE, "idle")                 /* listen.idle_timeout */

typedef enum proxy_timeout {
#define PROXY__TIMEOUT_ENUM(n, s) PROXY_TIMEOUT_##n,
	PROXY_TIMEOUT_MAP(PROXY__TIMEOUT_ENUM)
#undef PROXY__TIMEOUT_ENUM
	PROXY_TIMEOUT__COUNT
} proxy_timeout_t;

const char *proxy_timeout_name(proxy_timeout_t t);

typedef enum proxy_side {
	PROXY_PRODUCTION,
	PROXY_SHADOW,
	PROXY_BASELINE,
	PROXY_SIDE__COUNT
} proxy_side_t;

/* Totals over all workers since start (monotonic counters). */
typedef struct proxy_counters {
	uint64_t accepted, conns_open;
	uint64_t requests, responses;      /* production exchanges */
	uint64_t bad_requests;             /* rejected by the parser */
	uint64_t timeouts_client;          /* all of timeouts[] */
	uint64_t timeouts[PROXY_TIMEOUT__COUNT];
	uint64_t conn_limit;               /* accepting paused at
					      listen.max_connections */
	uint64_t fd_exhausted;             /* accept failed: EMFILE/ENFILE */
	uint64_t conns_shed;               /* accepted on the reserve
					      descriptor and closed */
	uint64_t too_large;                /* 413: over listen.max_body */
	uint64_t prod_errors;              /* 502/504 umbra answered */
	uint64_t prod_retries;             /* replays on a fresh connection */
	uint64_t mirror_sampled;           /* chosen for mirroring */
	uint64_t mirror_skipped_method;    /* not a mirrored method */
	uint64_t mirror_sent, mirror_done; /* copies sent, answered */
	uint64_t dropped[PROXY_DROP__COUNT];
	uint64_t shadow_errors, shadow_timeouts;
	uint64_t shadow_too_large;  /* response past mirror.max_body: closed */
	uint64_t shadow_deadlines;  /* past shadow.response_deadline: closed */
	uint64_t compared, matched, differed, noise;
	uint64_t tunnels;
	uint64_t records_dropped; /* ring full: the metrics side lagged */
	uint64_t bytes_client_in, bytes_client_out;
	uint64_t bytes_shadow_out, bytes_shadow_in;
	uint64_t queue_requests, queue_bytes; /* current, all workers */
} proxy_counters_t;

typedef struct proxy proxy_t;

/* Builds a proxy from cfg: listen.*, production.upstreams,
 * shadow.upstreams (+ baseline), mirror.*, shadow.* timeouts and pools.
 * Binds the listeners (one SO_REUSEPORT socket per worker) so that an
 * address in use fails here: NULL, *err a negative error, the reason
 * logged. */
proxy_t *proxy_new(const config_t *cfg, int *err);

/* Starts the worker threads. 0 or a negative error. */
int proxy_start(proxy_t *px);

/* Stops accepting, lets in-flight production exchanges finish (up to
 * timeout_ns; then closes what is left), drops queued mirror copies, and
 * joins the workers. */
void proxy_drain(proxy_t *px, int64_t timeout_ns);
void proxy_free(proxy_t *px);

/* Applies the runtime settings of cfg (mirror, sampling, methods, limits,
 * timeouts, upstream lists) without dropping connections. Fields that need
 * a restart (listen address, workers) are left as they were and reported
 * as a warning. 0 or a negative error. */
int proxy_reload(proxy_t *px, const config_t *cfg);

/* Replaces one side's replica list (scaling, provisioning). In-flight
 * requests to removed replicas finish; new ones go to the new list. */
int proxy_set_upstreams(proxy_t *px, proxy_side_t side, const addr_t *addrs,
			size_t n);

/* Mirror amplification k (copies per sampled request), 1..64, effective at
 * once (stress tests). */
void proxy_set_amplification(proxy_t *px, unsigned k);
unsigned proxy_amplification(const proxy_t *px);

void proxy_counters(const proxy_t *px, proxy_counters_t *out);

/* The identity fields the workers learned (compare.h: headers naming the
 * instance, left out of the comparison), without duplicates, into names
 * (borrowed: they live until proxy_free), at most cap; pinned ones
 * (mirror.compare.identity_headers) are not listed here. Returns how
 * many; *learning is true while no worker has finished learning. */
size_t proxy_identity_fields(const proxy_t *px, const char **names,
			     size_t cap, bool *learning);

/* The workers' record rings, for a consumer that drains them itself
 * (the metrics aggregator). The proxy keeps owning them; they live until
 * proxy_free(). */
size_t proxy_ring_count(const proxy_t *px);
ring_t *proxy_ring(proxy_t *px, size_t i);

/* Moves up to max request records from the workers' rings into out. */
size_t proxy_take_records(proxy_t *px, reqrec_t *out, size_t max);

/* Endpoint names for reqrec_t.endpoint ids. */
const strtab_t *proxy_endpoints(const proxy_t *px);

/* The bound listen address (useful when the config said port 0). */
int proxy_listen_port(const proxy_t *px);

/* The capture tap (capture.tap, src/proxy/tap.c): while a local client
 * (`umbra capture --from-proxy`) is attached to its Unix socket, workers
 * copy completed production exchanges into bounded per-worker queues
 * (over the bound: dropped and counted, never waited for) and a tap
 * thread streams them as capture records. */
typedef struct proxy_tap_counters {
	bool attached;
	uint64_t clients;        /* attached so far */
	uint64_t captured;       /* copied by the workers */
	uint64_t sent;           /* streamed to clients */
	uint64_t dropped_queue;  /* capture.tap_queue was full */
	uint64_t dropped_bytes;  /* capture.tap_bytes was reached */
	uint64_t client_aborts;  /* requests the client left unfinished */
	uint64_t incomplete;     /* requests not read whole (502 before body) */
	uint64_t mask_refused;   /* refused by the mask hook */
} proxy_tap_counters_t;

void proxy_tap_counters(const proxy_t *px, proxy_tap_counters_t *out);

/* The mask hook the tap's records pass before they leave the proxy
 * (capture.h's cap_masker_t; borrowed, must outlive the proxy). The
 * default is the pass-through: the lead wires src/mask's masker here. */
struct cap_masker;
void proxy_tap_set_masker(proxy_t *px, const struct cap_masker *m);

/* The tap's socket path, NULL when the tap is off. */
const char *proxy_tap_socket(const proxy_t *px);

#endif
