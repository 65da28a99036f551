/*
 * proxy_int.h: the proxy's internal types, shared by its files:
 *
 *   proxy.c     public API, runtime settings (rt) from config, counters
 *   worker.c    worker threads: loop, accept, notifications, drain
 *   client.c    client connections and the production exchange
 *   upstream.c  replicas, connection pools, connect, passive health
 *   mirror.c    sampling, mirror jobs, queue, token bucket, shadow side
 *   pair.c      pairs of responses, compared with src/compare
 *   endpoint.c  endpoint templates ("GET /users/:id")
 *   tap.c       the capture tap (copies for `umbra capture --from-proxy`)
 *
 * Everything a worker touches is its own (connections, pools, queues,
 * counters) except the proxy-wide read-mostly state: the rt snapshot,
 * the amplification atomic and the endpoint table.
 */
#ifndef UMBRA_PROXY_PROXY_INT_H
#define UMBRA_PROXY_PROXY_INT_H

#include "proxy/proxy.h"

#include "base/buf.h"
#include "base/ring.h"
#include "compare/compare.h"
#include "http/http.h"
#include "mask/mask.h"

#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

/* --------------------------------------------------------------- limits */
#define PROXY_READ_CHUNK (16 * 1024)     /* bytes read per read(2) at most */
#define PROXY_OUT_HIGH (256 * 1024)      /* pending output that pauses the
					    other side (backpressure) */
#define PROXY_READ_BUDGET (64 * 1024)    /* bytes one read callback takes
					    before it yields to the other
					    connections of the loop (nginx
					    reads one buffer per event) */
#define PROXY_SHADOW_PASS_BUDGET (16 * 1024) /* shadow response bytes a
					    worker reads per pass of its
					    loop, all shadow connections
					    together, plus what production
					    sent for mirrored requests
					    (a healthy shadow answers about
					    as much): a shadow that streams
					    on every connection gets this
					    much of the worker, not one
					    client's share per connection */
#define PROXY_SHADOW_BUDGET_MAX (256 * 1024) /* production's credit to
					    the shadow budget stops here */
#define PROXY_BODY_RATE_GRACE_NS (5LL * 1000000000) /* listen.body_min_rate
					    applies after a body's first
					    5 s (Kestrel's grace period) */
#define PROXY_PIPELINE_MAX (64 * 1024)   /* bytes of pipelined requests held
					    while one is in flight */
#define PROXY_REPLAY_MAX (64 * 1024)     /* a request this small is kept
					    to be replayed on a fresh
					    connection if a pooled one was
					    stale */
#define PROXY_RING_RECORDS 65536         /* per worker: 3 MiB, several
					    seconds of records at 10k/s */
#define PROXY_MAX_WORKERS 256
#define PROXY_SHADOW_DOWN_AFTER 3        /* consecutive connect failures
					    that open the shadow's breaker */
#define PROXY_SHADOW_DOWN_MIN_NS (250LL * 1000000) /* first open: 250 ms,
						      doubling to 30 s */
#define PROXY_SHADOW_DOWN_MAX_NS (30LL * 1000000000)
#define PROXY_COMPARE_HEADERS 64         /* headers kept per side for the
					    comparison */
#define PROXY_CAPTURE_BUDGET (16u << 20) /* response bytes a worker keeps
					    for comparisons; past it bodies
					    are compared by digest, so a
					    stuck shadow cannot grow memory
					    beyond queue_bytes + this */

/* --------------------------------------------------------------- settings */

/* One side's replica list. */
typedef struct rt_side {
	addr_t *addrs;
	size_t n;
} rt_side_t;

/* The masker, shared by snapshots (refcounted on the control thread,
 * the only one that makes and frees snapshots). */
typedef struct proxy_mask {
	mask_t *m;
	unsigned refs;
} proxy_mask_t;

/* Immutable runtime settings, swapped as a whole (RCU): workers read
 * w->rt, the control thread publishes a new one and frees the old once
 * every worker has seen the new generation. */
typedef struct proxy_rt {
	uint64_t gen;
	rt_side_t side[PROXY_SIDE__COUNT];
	http_limits_t limits;
	int64_t header_timeout, body_timeout, idle_timeout;
	int64_t send_timeout, body_deadline;
	uint64_t body_min_rate;   /* bytes/s, 0 = off */
	uint64_t max_req_body;    /* listen.max_body: 413 past it */
	int64_t max_conns;        /* listen.max_connections, all workers */
	int forwarded; /* config_forwarded_t */
	/* production */
	int64_t connect_timeout, response_timeout, pool_idle;
	size_t pool_size;
	unsigned eject_after;
	int64_t eject_for;
	/* mirror */
	bool mirror;          /* enabled and a shadow exists */
	double ratio;
	char **methods;       /* mirrored methods */
	size_t nmethods;
	int sample_by;        /* config_sample_t */
	char *sample_key;
	uint64_t max_body;
	size_t queue_requests;
	uint64_t queue_bytes;
	double rate, burst;   /* per worker */
	char *mark_header;    /* "Name: value\r\n" or "" */
	int64_t shadow_connect_timeout, shadow_response_timeout;
	int64_t shadow_response_deadline;
	size_t shadow_pool;
	unsigned shadow_pipeline; /* copies in flight per shadow connection */
	proxy_mask_t *mask;   /* NULL: masking off */
	/* compare: the rules borrow the lists below */
	char **ignore_headers;
	size_t nignore_headers;
	char **ignore_json;
	size_t nignore_json;
	char **unordered;
	size_t nunordered;
	char **identity;      /* pinned identity headers */
	size_t nidentity;
	int64_t ident_learn_ns; /* identity fields are learned this long
				   (analysis.warmup) */
	cmp_rules_t rules;
} proxy_rt_t;

void proxy__rt_free(proxy_rt_t *rt);

/* --------------------------------------------------------------- buffers */

/* A read buffer: bytes data[start..end) are pending. */
typedef struct iobuf {
	char *data;
	size_t start, end, cap;
} iobuf_t;

void iobuf_reserve(iobuf_t *b, size_t room); /* compacts or grows */
void iobuf_free(iobuf_t *b);
static inline size_t iobuf_len(const iobuf_t *b)
{
	return b->end - b->start;
}

/* An output buffer: data[off..len) still to write. */
typedef struct obuf {
	buf_t b;
	size_t off;
} obuf_t;

static inline size_t obuf_pending(const obuf_t *o)
{
	return o->b.len - o->off;
}

/* Writes what it can; 0, ERR_AGAIN when bytes remain, or -errno. */
int obuf_flush(obuf_t *o, int fd, uint64_t *counter);

/* --------------------------------------------------------------- types */

typedef struct worker worker_t;
typedef struct cconn cconn_t;
typedef struct uconn uconn_t;
typedef struct replica replica_t;
typedef struct pair pair_t;
typedef struct mjob mjob_t;

/* A replica as a worker sees it: its pool and health. Worker-local. */
struct replica {
	worker_t *w;
	proxy_side_t side;
	addr_t addr;
	char name[ADDR_TEXT_MAX];
	struct sockaddr_storage ss;
	socklen_t sslen;
	bool resolved;
	bool removed;       /* no longer in the list: no new requests */
	unsigned refs;      /* connections that point here */
	uconn_t *idle;      /* idle keep-alive connections (LIFO) */
	size_t nidle, nbusy;
	unsigned fails;     /* consecutive failures */
	int64_t down_until; /* ejected (production) / breaker open (shadow) */
	int64_t down_for;   /* current breaker period (shadow) */
	bool no_pipeline;   /* shadow: closed a connection with pipelined
			       copies unanswered, so one copy at a time */
	replica_t *next;    /* all replicas of the worker */
};

typedef enum uconn_state {
	U_CONNECTING,
	U_IDLE,
	U_BUSY,
} uconn_state_t;

/* An upstream connection (production, shadow or baseline). */
struct uconn {
	worker_t *w;
	replica_t *rep;
	int fd;
	uconn_state_t state;
	struct event *rev, *wev, *tev;
	iobuf_t in;
	obuf_t out;
	bool reused;        /* came from the pool */
	bool late;          /* shadow: the timer is armed for the oldest
			       copy's shadow.response_deadline */
	int64_t t_connect;  /* when connect() started */
	int64_t t_idle;     /* when it went idle */
	uint32_t served;
	/* the user of a busy connection: one of the two */
	cconn_t *client;    /* production */
	mjob_t *job;        /* shadow/baseline: the copies in flight, in the
			       order written (job answers first) */
	mjob_t *jtail;
	unsigned njobs;
	uconn_t *next;      /* idle list */
	uconn_t *mprev, *mnext; /* worker's busy shadow connections */
};

/* What one side of a pair answered: the capture compared (src/compare)
 * and the transport facts recorded. */
typedef struct capture {
	cmp_capture_t c;
	bool done, failed;
	uint8_t error;         /* reqrec_error_t when failed */
	uint32_t latency_us, ttfb_us, connect_us;
	uint32_t req_bytes;
	uint64_t resp_bytes;   /* on the wire, head included */
} capture_t;

/* One mirrored request: production's and the copies' responses meet
 * here. Refcounted by the production exchange and each paired copy. */
struct pair {
	unsigned refs;
	uint64_t id;
	uint32_t endpoint;
	uint8_t method;
	int64_t start_ns;
	capture_t side[PROXY_SIDE__COUNT];
	bool want[PROXY_SIDE__COUNT]; /* sides that will answer */
	bool compared;
};

/* A mirrored copy waiting for or using a shadow connection. */
struct mjob {
	worker_t *w;
	proxy_side_t side;   /* PROXY_SHADOW or PROXY_BASELINE */
	buf_t *wire;         /* the complete request, shared by copies */
	unsigned *wire_refs;
	pair_t *pair;        /* NULL for amplification copies */
	http_method_t method;
	int64_t enqueued_ns, sent_ns;
	uint32_t req_bytes;
	/* response parsing */
	http_chunked_t chunk;
	http_body_t body;
	uint64_t remaining;
	bool head_done, keep_alive;
	size_t scanned;
	int status;
	uint32_t ttfb_us, connect_us;
	uint64_t resp_bytes;
	uint64_t body_bytes; /* of the response's body (mirror.max_body) */
	bool resent;         /* re-queued once after a Connection: close */
	mjob_t *next;        /* queue, then the connection's in-flight list */
};

typedef enum cconn_state {
	C_HEAD,      /* waiting for (more of) a request head */
	C_BODY,      /* streaming the request body upstream */
	C_WAIT,      /* request sent, waiting for the response */
	C_TUNNEL,    /* Upgrade/CONNECT: bytes both ways */
	C_CLOSING,   /* flushing, then close */
} cconn_state_t;

/* A client connection and its current production exchange. */
struct cconn {
	worker_t *w;
	int fd;
	cconn_state_t state;
	struct event *rev, *wev, *tev;
	struct event *sev;     /* listen.send_timeout while output waits */
	iobuf_t in;
	obuf_t out;
	char ip[64];
	size_t scanned;        /* parser progress on the current head */
	int64_t t_head;        /* first byte of the current request */
	bool keep_alive;       /* of the current request */
	bool close_after;      /* close once the response is out */
	bool read_paused;
	bool rd_eof;           /* the client shut its write side: answer
				  what it sent, then close */
	int64_t t_paused;      /* when reading paused (backpressure) */
	bool in_list;
	cconn_t *prev, *next;  /* worker's list of clients */

	/* current exchange */
	bool busy;                 /* an exchange is in progress */
	uconn_t *up;
	replica_t *rep;
	http_method_t method;
	int version;
	uint32_t endpoint;
	int64_t t_start, t_sent, t_first;
	uint32_t connect_us;
	uint64_t req_bytes, resp_bytes;
	http_body_t req_body;
	uint64_t req_remaining;
	http_chunked_t req_chunk;
	int64_t t_body;            /* the head, then the body's first byte
				      arrived (moved on by the time reading
				      was paused by backpressure) */
	uint64_t body_wire;        /* body bytes received (rate) */
	uint64_t body_data;        /* of them, data (listen.max_body) */
	bool body_late;            /* the body timer is armed for the end
				      of listen.body_deadline */
	bool req_done;             /* the whole request is upstream-bound */
	buf_t replay;              /* what was sent, if <= PROXY_REPLAY_MAX */
	bool replayable;
	unsigned attempts;
	bool expect_continue;
	bool upgrade;
	/* response */
	bool resp_head_done;
	size_t resp_scanned;
	http_body_t resp_body;
	uint64_t resp_remaining;
	http_chunked_t resp_chunk;
	bool dechunk;              /* HTTP/1.0 client, chunked response */
	int status;
	bool resp_keep_alive;      /* the client may keep the connection */
	bool up_reusable;          /* the upstream connection may be pooled */
	bool sent_any;             /* response bytes reached the client */
	bool up_paused;            /* not reading production: the client
				      reads slowly (backpressure) */
	/* mirroring */
	buf_t mbody;               /* the copy: head as received, then the
				      de-chunked body */
	size_t mhead_len;
	uint64_t massembled;       /* body bytes counted in w->assembling */
	bool mirroring;
	pair_t *pair;
	/* capture tap (tap.c): the exchange being copied, if any */
	struct tap_ex *tap;
	uint64_t tap_conn;         /* connection id in capture records */
	uint32_t tap_nreq;
};

/* Per-worker counters: written by the worker only, read by the control
 * thread with relaxed atomic loads (torn-free 64-bit on x86-64). */
typedef struct wcounters {
	_Atomic uint64_t v[sizeof(proxy_counters_t) / sizeof(uint64_t)];
} wcounters_t;

#define WC(w, field)                                                       \
	(w)->cnt.v[offsetof(proxy_counters_t, field) / sizeof(uint64_t)]
#define WC_INC(w, field)                                                   \
	atomic_store_explicit(&WC(w, field),                              \
			      atomic_load_explicit(&WC(w, field),         \
						   memory_order_relaxed) + \
				      1,                                  \
			      memory_order_relaxed)
#define WC_ADD(w, field, n)                                                \
	atomic_store_explicit(&WC(w, field),                              \
			      atomic_load_explicit(&WC(w, field),         \
						   memory_order_relaxed) + \
				      (n),                                \
			      memory_order_relaxed)
#define WC_DROP(w, reason)                                                 \
	WC_INC(w, dropped[reason])

struct worker {
	proxy_t *px;
	int id;
	pthread_t thread;
	struct event_base *base;
	int listen_fd;
	struct event *ev_listen;
	/* accepting paused: at listen.max_connections or out of
	 * descriptors; ev_resume tries again (worker.c) */
	struct event *ev_resume;
	bool accept_paused;
	bool at_limit;          /* in a max_connections episode (counted
				   once) */
	int64_t accept_backoff; /* current EMFILE back-off, ns */
	int reserve_fd;         /* spare descriptor, given up to shed */
	int notify_fd; /* eventfd: the control side wakes us */
	struct event *ev_notify;
	const proxy_rt_t *rt;
	_Atomic uint64_t seen_gen;
	const struct timeval *tv_common[8]; /* libevent common timeouts */
	http_header_t *hdrs;   /* parse scratch, rt->limits.max_headers */
	size_t hdrs_cap;
	mask_header_t *mhdrs;  /* the same, for the masker */
	mask_ctx_t *mctx;      /* this worker's masking context */
	const mask_t *mctx_of; /* the masker it belongs to */
	buf_t mscratch;
	/* clients */
	cconn_t *clients;
	size_t nclients;
	bool draining, stopping;
	/* replicas */
	replica_t *replicas;
	replica_t **side[PROXY_SIDE__COUNT];
	size_t nside[PROXY_SIDE__COUNT];
	size_t rr[PROXY_SIDE__COUNT];
	/* mirror queue and token bucket */
	mjob_t *qhead, *qtail;
	size_t qlen;
	uint64_t qbytes;
	uint64_t assembling;   /* bytes of copies being assembled */
	uconn_t *mconns;       /* shadow connections with a copy on them */
	size_t shadow_budget;  /* shadow bytes still allowed in this pass */
	struct event *ev_refill; /* at the end of the pass: budget back */
	struct event *ev_mirror; /* dispatches the queue once per loop pass */
	uint64_t capture_budget; /* capture bytes still allowed */
	double tokens;
	int64_t tokens_at;
	struct tap_worker *tap;  /* capture tap queue (tap.c); NULL: off */
	/* records */
	ring_t *ring;
	uint64_t pair_seq;
	/* identity fields this worker learns (pair.c); published once
	 * learned (ident_done, release): immutable afterwards */
	cmp_ident_t ident;
	_Atomic bool ident_done;
	uint64_t rng;
	wcounters_t cnt;
	buf_t scratch;
	/* objects closed inside their own callbacks, freed on the next
	 * turn of the loop (Redis freeClientAsync) */
	cconn_t *dead_clients;
	uconn_t *dead_uconns;
	struct event *ev_reap;
	struct timeval tv_tmp;
};

struct proxy {
	int nworkers;
	worker_t *workers;
	_Atomic(proxy_rt_t *) rt;
	proxy_rt_t *old_rt[4];      /* awaiting every worker's ack */
	uint64_t gen;
	_Atomic unsigned amplification;
	_Atomic bool draining;
	strtab_t *endpoints;
	int listen_port;
	_Atomic int64_t nconns;     /* client connections open, all workers
				       (listen.max_connections) */
	char service[128];
	pthread_mutex_t control;    /* serialises reload/set_upstreams */
	bool started;
	struct proxy_tap *tap;      /* capture tap (tap.c); NULL: off */
	_Atomic bool tap_attached;  /* a capture client wants exchanges */
	bool sandbox;               /* listen.sandbox: workers seccomp'd */
};

/* Installs the worker's seccomp filter on the calling thread
 * (sandbox.c). 0 or a negative error (the thread runs unfiltered). */
int proxy__sandbox_enter(void);

/* --------------------------------------------------------------- internal */

int64_t proxy__now(void); /* monotonic ns */

/* worker.c */
void proxy__worker_notify(worker_t *w);
void proxy__reap_later(worker_t *w);
void proxy__mirror_later(worker_t *w);
void proxy__worker_apply_rt(worker_t *w);
/* A client connection of w closed: accepting may resume. */
void proxy__accept_resume(worker_t *w);
const struct timeval *proxy__timeout(worker_t *w, int64_t ns);
/* ns as a timeval, for a one-off duration (what is left of a deadline):
 * such durations must not take the few common-timeout slots. */
struct timeval proxy__tv(int64_t ns);

/* client.c */
void proxy__client_accept(worker_t *w, int fd, const struct sockaddr *sa);
void proxy__client_close(cconn_t *c);
void proxy__client_upstream_event(cconn_t *c, uconn_t *u, short what);
void proxy__client_drain(worker_t *w);

/* upstream.c */
replica_t *proxy__replica_pick(worker_t *w, proxy_side_t side);
void proxy__replicas_reconcile(worker_t *w);
/* A connection to rep: pooled if one is idle (*reused), else a new one in
 * U_CONNECTING. NULL with *err on immediate failure. */
uconn_t *proxy__uconn_get(replica_t *rep, bool allow_pooled, bool *reused,
			  int *err);
void proxy__uconn_release(uconn_t *u, bool reusable);
void proxy__uconn_arm(uconn_t *u, int64_t timeout_ns);
void proxy__replica_result(replica_t *rep, bool ok);
void proxy__replicas_free(worker_t *w);

/* mirror.c */
bool proxy__mirror_sample(worker_t *w, const http_request_t *req);
void proxy__mirror_begin(cconn_t *c, const http_request_t *req);
void proxy__mirror_body(cconn_t *c, const char *data, size_t len);
void proxy__mirror_finish(cconn_t *c);
void proxy__mirror_abort(cconn_t *c, proxy_drop_t why);
void proxy__mirror_dispatch(worker_t *w);
void proxy__mirror_uconn_event(uconn_t *u, short what);
void proxy__mirror_drop_all(worker_t *w, proxy_drop_t why);
void proxy__mirror_refill(worker_t *w);
/* Production sent n bytes of a mirrored response: the shadow may read
 * as much more in this pass. */
void proxy__mirror_credit(worker_t *w, size_t n);

/* compare.c */
pair_t *proxy__pair_new(worker_t *w, uint32_t endpoint, http_method_t m,
			int64_t start_ns);
void proxy__pair_unref(worker_t *w, pair_t *p);
void proxy__capture_head(worker_t *w, capture_t *cap,
			 const http_response_t *r);
void proxy__capture_body(worker_t *w, capture_t *cap, const char *d,
			 size_t n);
/* Marks side done (or failed with err) and compares when all are in. */
void proxy__pair_side_done(worker_t *w, pair_t *p, proxy_side_t side,
			   bool failed, uint8_t err, uint32_t latency_us);
/* The copy for side will not be sent after all (dropped): not a failure
 * of the shadow, so not recorded as one. */
void proxy__pair_unwant(worker_t *w, pair_t *p, proxy_side_t side);
void proxy__record(worker_t *w, const reqrec_t *r);

/* tap.c: the capture tap. Workers call the hooks only while
 * proxy__tap_on(w) (one relaxed load) or c->tap is set. */
static inline bool proxy__tap_on(const worker_t *w)
{
	return atomic_load_explicit(&w->px->tap_attached,
				    memory_order_relaxed);
}
void proxy__tap_new(proxy_t *px, const config_t *cfg);
void proxy__tap_stop(proxy_t *px);  /* joins the tap thread */
void proxy__tap_free(proxy_t *px);  /* after the workers are finished */
void proxy__tap_begin(cconn_t *c, const http_request_t *req);
void proxy__tap_req_body(cconn_t *c, const char *d, size_t n);
void proxy__tap_resp_head(cconn_t *c, const char *head, size_t len,
			  const http_response_t *r);
void proxy__tap_resp_body(cconn_t *c, const char *d, size_t n);
void proxy__tap_end(cconn_t *c, uint8_t err);
void proxy__tap_abort(cconn_t *c);

/* endpoint.c */
uint32_t proxy__endpoint(worker_t *w, http_method_t m, const char *method,
			 size_t mlen, const char *target, size_t tlen);

#endif
