/*
 * proxy.c: the proxy's public face (proxy.h): building the runtime
 * settings from a config, starting and draining the workers, reloads, and
 * counters. Runtime settings are an immutable snapshot (proxy_rt_t)
 * published through an atomic pointer; each worker picks the new one up
 * when notified and acknowledges its generation, after which the control
 * side frees the old one (RCU without a library).
 */
#include "proxy/proxy_int.h"

#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RT_ACK_WAIT_NS (2LL * 1000000000) /* workers ack within a loop turn */

static const char *const drop_names[] = {
#define PROXY__DROP_NAME(n, s) s,
	PROXY_DROP_MAP(PROXY__DROP_NAME)
#undef PROXY__DROP_NAME
};

const char *proxy_drop_name(proxy_drop_t d)
{
	return d < PROXY_DROP__COUNT ? drop_names[d] : "?";
}

static const char *const timeout_names[] = {
#define PROXY__TIMEOUT_NAME(n, s) s,
	PROXY_TIMEOUT_MAP(PROXY__TIMEOUT_NAME)
#undef PROXY__TIMEOUT_NAME
};

const char *proxy_timeout_name(proxy_timeout_t t)
{
	return t < PROXY_TIMEOUT__COUNT ? timeout_names[t] : "?";
}

int64_t proxy__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* --------------------------------------------------------------- rt */

static char **strv_dup(const config_strv_t *v, size_t *n)
{
	*n = v->n;
	char **out = xcalloc(v->n ? v->n : 1, sizeof(char *));
	for (size_t i = 0; i < v->n; i++)
		out[i] = xstrdup(v->v[i]);
	return out;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void mask_unref(proxy_mask_t *pm)
{
	if (pm && --pm->refs == 0) {
		mask_free(pm->m);
		free(pm);
	}
}

void proxy__rt_free(proxy_rt_t *rt)
{
	if (!rt)
		return;
	mask_unref(rt->mask);
	for (int s = 0; s < PROXY_SIDE__COUNT; s++)
		free(rt->side[s].addrs);
	strv_free(rt->methods, rt->nmethods);
	strv_free(rt->ignore_headers, rt->nignore_headers);
	strv_free(rt->ignore_json, rt->nignore_json);
	strv_free(rt->unordered, rt->nunordered);
	strv_free(rt->identity, rt->nidentity);
	free(rt->sample_key);
	free(rt->mark_header);
	free(rt);
}

static void side_from(rt_side_t *s, const config_addrv_t *v)
{
	s->n = v->n;
	s->addrs = xcalloc(v->n ? v->n : 1, sizeof(addr_t));
	if (v->n)
		memcpy(s->addrs, v->v, v->n * sizeof(addr_t));
}

/* Points the comparison rules at rt's own lists. */
static void rt_rules(proxy_rt_t *rt, uint64_t max_body)
{
	rt->rules = (cmp_rules_t){rt->ignore_headers, rt->nignore_headers,
				  rt->ignore_json,    rt->nignore_json,
				  rt->unordered,      rt->nunordered,
				  max_body,           rt->identity,
				  rt->nidentity,      NULL};
}

/* Builds the snapshot of cfg; NULL (reason logged) when the masker
 * cannot be made (key file, rules). */
static proxy_rt_t *rt_build(const config_t *cfg, int nworkers)
{
	proxy_rt_t *rt = xcalloc(1, sizeof(*rt));
	if (cfg->mask.enabled) {
		buf_t err = BUF_INIT;
		mask_t *m = NULL;
		if (mask_new(&cfg->mask, &m, &err) != 0) {
			log_error("proxy", "cannot build the masker",
				  LF_S("reason", err.data ? err.data : "?"));
			buf_free(&err);
			free(rt);
			return NULL;
		}
		buf_free(&err);
		rt->mask = xcalloc(1, sizeof(*rt->mask));
		rt->mask->m = m;
		rt->mask->refs = 1;
	}
	side_from(&rt->side[PROXY_PRODUCTION], &cfg->production.upstreams);
	side_from(&rt->side[PROXY_SHADOW], &cfg->shadow.upstreams);
	if (cfg->shadow.baseline.enabled)
		side_from(&rt->side[PROXY_BASELINE],
			  &cfg->shadow.baseline.upstreams);
	else
		side_from(&rt->side[PROXY_BASELINE], &(config_addrv_t){0});
	rt->limits.max_request_line = cfg->listen.max_request_line;
	rt->limits.max_head = cfg->listen.max_header_bytes;
	rt->limits.max_headers = (size_t)cfg->listen.max_headers;
	rt->header_timeout = cfg->listen.header_timeout;
	rt->body_timeout = cfg->listen.body_timeout;
	rt->idle_timeout = cfg->listen.idle_timeout;
	rt->send_timeout = cfg->listen.send_timeout;
	rt->body_deadline = cfg->listen.body_deadline;
	rt->body_min_rate = cfg->listen.body_min_rate;
	rt->max_req_body = cfg->listen.max_body;
	rt->max_conns = cfg->listen.max_connections;
	rt->forwarded = cfg->listen.forwarded;
	rt->connect_timeout = cfg->production.connect_timeout;
	rt->response_timeout = cfg->production.response_timeout;
	rt->pool_idle = cfg->production.pool_idle;
	rt->pool_size = (size_t)cfg->production.pool_size;
	rt->eject_after = (unsigned)cfg->production.health.eject_after;
	rt->eject_for = cfg->production.health.eject_for;
	rt->mirror = cfg->mirror.enabled && cfg->shadow.ratio > 0 &&
		     (rt->side[PROXY_SHADOW].n > 0 ||
		      rt->side[PROXY_BASELINE].n > 0);
	rt->ratio = cfg->shadow.ratio;
	rt->methods = strv_dup(&cfg->mirror.methods, &rt->nmethods);
	rt->sample_by = cfg->mirror.sample.by;
	rt->sample_key = xstrdup(cfg->mirror.sample.key);
	rt->max_body = cfg->mirror.max_body;
	rt->queue_requests = (size_t)cfg->mirror.queue_requests;
	rt->queue_bytes = cfg->mirror.queue_bytes;
	rt->rate = cfg->mirror.rate / nworkers;
	rt->burst = cfg->mirror.burst > 0 ? cfg->mirror.burst / nworkers
					   : rt->rate;
	if (rt->rate > 0 && rt->burst < 1)
		rt->burst = 1;
	rt->mark_header = cfg->mirror.mark_header[0]
				  ? xasprintf("%s\r\n", cfg->mirror.mark_header)
				  : xstrdup("");
	rt->shadow_connect_timeout = cfg->shadow.connect_timeout;
	rt->shadow_response_timeout = cfg->shadow.response_timeout;
	rt->shadow_response_deadline = cfg->shadow.response_deadline;
	rt->shadow_pool = (size_t)cfg->shadow.pool_size;
	rt->shadow_pipeline = (unsigned)cfg->shadow.pipeline;
	rt->ignore_headers = strv_dup(&cfg->mirror.compare.ignore_headers,
				      &rt->nignore_headers);
	rt->ignore_json = strv_dup(&cfg->mirror.compare.ignore_json_paths,
				   &rt->nignore_json);
	rt->unordered = strv_dup(&cfg->mirror.compare.unordered_arrays,
				 &rt->nunordered);
	rt->identity = strv_dup(&cfg->mirror.compare.identity_headers,
				&rt->nidentity);
	rt->ident_learn_ns = cfg->analysis.warmup;
	rt_rules(rt, cfg->mirror.compare.max_body);
	return rt;
}

/* Resolves every replica address once, on the control side, so workers
 * never block on DNS. */
static int rt_check(const proxy_rt_t *rt)
{
	for (int s = 0; s < PROXY_SIDE__COUNT; s++) {
		for (size_t i = 0; i < rt->side[s].n; i++) {
			struct sockaddr_storage ss;
			socklen_t len;
			char t[ADDR_TEXT_MAX];
			if (addr_resolve(&rt->side[s].addrs[i], &ss, &len)) {
				log_error("proxy", "cannot resolve upstream",
					  LF_S("addr", addr_format(
							       &rt->side[s].addrs[i],
							       t)));
				return ERR_NOTFOUND;
			}
		}
	}
	return 0;
}

/* --------------------------------------------------------------- listen */

static int listen_socket(const addr_t *a, int backlog, int *port_out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (addr_resolve(a, &ss, &len))
		return ERR_NOTFOUND;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(fd, backlog) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	struct sockaddr_storage b;
	socklen_t bl = sizeof(b);
	getsockname(fd, (struct sockaddr *)&b, &bl);
	*port_out = ntohs(b.ss_family == AF_INET6
				  ? ((struct sockaddr_in6 *)&b)->sin6_port
				  : ((struct sockaddr_in *)&b)->sin_port);
	return fd;
}

/* --------------------------------------------------------------- api */

int proxy__worker_init(worker_t *w, proxy_t *px, int id, int listen_fd);
void proxy__worker_fini(worker_t *w);
int proxy__worker_start(worker_t *w);
bool proxy__worker_join(worker_t *w, int64_t deadline_ns);
void proxy__worker_stop(worker_t *w);

proxy_t *proxy_new(const config_t *cfg, int *err)
{
	int nworkers = (int)cfg->listen.workers;
	if (nworkers <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		nworkers = n > 0 ? (int)n : 1;
	}
	if (nworkers > PROXY_MAX_WORKERS)
		nworkers = PROXY_MAX_WORKERS;
	proxy_t *px = xcalloc(1, sizeof(*px));
	px->nworkers = nworkers;
	px->sandbox = cfg->listen.sandbox;
	pthread_mutex_init(&px->control, NULL);
	atomic_store(&px->amplification,
		     (unsigned)cfg->mirror.amplification);
	px->endpoints = strtab_new((size_t)cfg->mirror.max_endpoints);
	snprintf(px->service, sizeof(px->service), "%s", cfg->service);
	proxy_rt_t *rt = rt_build(cfg, nworkers);
	if (!rt) {
		*err = ERR_CONFIG;
		strtab_free(px->endpoints);
		free(px);
		return NULL;
	}
	if ((*err = rt_check(rt)) != 0) {
		proxy__rt_free(rt);
		strtab_free(px->endpoints);
		free(px);
		return NULL;
	}
	rt->gen = px->gen = 1;
	atomic_store(&px->rt, rt);
	px->workers = xcalloc((size_t)nworkers, sizeof(worker_t));
	addr_t la = cfg->listen.address;
	for (int i = 0; i < nworkers; i++) {
		int port = 0;
		int fd = listen_socket(&la, (int)cfg->listen.backlog, &port);
		if (fd < 0) {
			char t[ADDR_TEXT_MAX];
			log_error("proxy", "cannot listen",
				  LF_S("addr", addr_format(&la, t)),
				  LF_ERR("err", fd));
			*err = fd;
			for (int j = 0; j < i; j++)
				proxy__worker_fini(&px->workers[j]);
			free(px->workers);
			proxy__rt_free(rt);
			strtab_free(px->endpoints);
			free(px);
			return NULL;
		}
		/* Port 0: every worker binds the port the first one got. */
		if (i == 0) {
			px->listen_port = port;
			la.port = (uint16_t)port;
		}
		proxy__worker_init(&px->workers[i], px, i, fd);
	}
	/* capture tap (tap.c): off unless capture.tap; never fatal */
	proxy__tap_new(px, cfg);
	*err = 0;
	return px;
}

int proxy_start(proxy_t *px)
{
	for (int i = 0; i < px->nworkers; i++) {
		int rc = proxy__worker_start(&px->workers[i]);
		if (rc)
			return rc;
	}
	px->started = true;
	return 0;
}

int proxy_listen_port(const proxy_t *px)
{
	return px->listen_port;
}

/* Frees retired snapshots every worker has moved past. Waits for the
 * acks up to RT_ACK_WAIT_NS (a worker acks within one loop turn). */
static void rt_reclaim(proxy_t *px)
{
	int64_t deadline = proxy__now() + RT_ACK_WAIT_NS;
	for (;;) {
		uint64_t min = UINT64_MAX;
		for (int i = 0; i < px->nworkers; i++) {
			uint64_t g = atomic_load(&px->workers[i].seen_gen);
			if (g < min)
				min = g;
		}
		bool left = false;
		for (int i = 0; i < 4; i++) {
			if (px->old_rt[i] && (px->old_rt[i]->gen < min ||
					      !px->started)) {
				proxy__rt_free(px->old_rt[i]);
				px->old_rt[i] = NULL;
			} else if (px->old_rt[i]) {
				left = true;
			}
		}
		if (!left || proxy__now() > deadline)
			return;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static int rt_publish(proxy_t *px, proxy_rt_t *rt)
{
	rt->gen = ++px->gen;
	proxy_rt_t *old = atomic_exchange(&px->rt, rt);
	int slot = -1;
	for (int i = 0; i < 4; i++)
		if (!px->old_rt[i])
			slot = i;
	if (slot < 0) {
		/* Workers are not acknowledging (stuck?): keep the old one
		 * alive rather than free what may be in use. */
		log_warn("proxy", "settings change pending acks; leaking the "
				  "previous snapshot");
	} else {
		px->old_rt[slot] = old;
	}
	for (int i = 0; i < px->nworkers; i++)
		proxy__worker_notify(&px->workers[i]);
	rt_reclaim(px);
	return 0;
}

int proxy_reload(proxy_t *px, const config_t *cfg)
{
	proxy_rt_t *rt = rt_build(cfg, px->nworkers);
	if (!rt)
		return ERR_CONFIG;
	int rc = rt_check(rt);
	if (rc) {
		proxy__rt_free(rt);
		return rc;
	}
	pthread_mutex_lock(&px->control);
	atomic_store(&px->amplification,
		     (unsigned)cfg->mirror.amplification);
	rc = rt_publish(px, rt);
	pthread_mutex_unlock(&px->control);
	return rc;
}

int proxy_set_upstreams(proxy_t *px, proxy_side_t side, const addr_t *addrs,
			size_t n)
{
	pthread_mutex_lock(&px->control);
	const proxy_rt_t *cur = atomic_load(&px->rt);
	proxy_rt_t *rt = xcalloc(1, sizeof(*rt));
	*rt = *cur;
	/* deep-copy the owned parts */
	for (int s = 0; s < PROXY_SIDE__COUNT; s++) {
		const addr_t *src = s == (int)side ? addrs : cur->side[s].addrs;
		size_t cnt = s == (int)side ? n : cur->side[s].n;
		rt->side[s].n = cnt;
		rt->side[s].addrs = xcalloc(cnt ? cnt : 1, sizeof(addr_t));
		if (cnt)
			memcpy(rt->side[s].addrs, src, cnt * sizeof(addr_t));
	}
	config_strv_t tmp;
	tmp = (config_strv_t){cur->methods, cur->nmethods};
	rt->methods = strv_dup(&tmp, &rt->nmethods);
	tmp = (config_strv_t){cur->ignore_headers, cur->nignore_headers};
	rt->ignore_headers = strv_dup(&tmp, &rt->nignore_headers);
	tmp = (config_strv_t){cur->ignore_json, cur->nignore_json};
	rt->ignore_json = strv_dup(&tmp, &rt->nignore_json);
	tmp = (config_strv_t){cur->unordered, cur->nunordered};
	rt->unordered = strv_dup(&tmp, &rt->nunordered);
	tmp = (config_strv_t){cur->identity, cur->nidentity};
	rt->identity = strv_dup(&tmp, &rt->nidentity);
	rt->ident_learn_ns = cur->ident_learn_ns;
	rt->sample_key = xstrdup(cur->sample_key);
	rt->mark_header = xstrdup(cur->mark_header);
	rt_rules(rt, cur->rules.max_body);
	if (rt->mask)
		rt->mask->refs++;
	rt->mirror = rt->mirror || (side != PROXY_PRODUCTION && n > 0);
	if (side != PROXY_PRODUCTION && rt->side[PROXY_SHADOW].n == 0 &&
	    rt->side[PROXY_BASELINE].n == 0)
		rt->mirror = false;
	int rc = rt_check(rt);
	if (rc)
		proxy__rt_free(rt);
	else
		rc = rt_publish(px, rt);
	pthread_mutex_unlock(&px->control);
	return rc;
}

void proxy_set_amplification(proxy_t *px, unsigned k)
{
	if (k < 1)
		k = 1;
	if (k > 64)
		k = 64;
	atomic_store(&px->amplification, k);
}

unsigned proxy_amplification(const proxy_t *px)
{
	return atomic_load(&((proxy_t *)px)->amplification);
}

void proxy_counters(const proxy_t *px, proxy_counters_t *out)
{
	uint64_t *dst = (uint64_t *)out;
	size_t n = sizeof(*out) / sizeof(uint64_t);
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < px->nworkers; i++)
		for (size_t k = 0; k < n; k++)
			dst[k] += atomic_load_explicit(&px->workers[i].cnt.v[k],
						       memory_order_relaxed);
}

size_t proxy_identity_fields(const proxy_t *px, const char **names,
			     size_t cap, bool *learning)
{
	size_t n = 0;
	*learning = true;
	for (int i = 0; i < px->nworkers; i++) {
		const worker_t *w = &px->workers[i];
		/* acquire: the worker's learned state is complete and
		 * frozen once it says so */
		if (!atomic_load_explicit(&((worker_t *)w)->ident_done,
					  memory_order_acquire))
			continue;
		*learning = false;
		const char *mine[CMP_IDENT_FIELDS];
		size_t k = cmp_ident_learned(&w->ident, mine, CMP_IDENT_FIELDS);
		for (size_t j = 0; j < k && n < cap; j++) {
			bool dup = false;
			for (size_t d = 0; d < n && !dup; d++)
				dup = strcmp(names[d], mine[j]) == 0;
			if (!dup)
				names[n++] = mine[j];
		}
	}
	return n;
}

size_t proxy_take_records(proxy_t *px, reqrec_t *out, size_t max)
{
	size_t got = 0;
	for (int i = 0; i < px->nworkers && got < max; i++)
		got += ring_pop(px->workers[i].ring, out + got, max - got);
	return got;
}

size_t proxy_ring_count(const proxy_t *px)
{
	return (size_t)px->nworkers;
}

ring_t *proxy_ring(proxy_t *px, size_t i)
{
	return i < (size_t)px->nworkers ? px->workers[i].ring : NULL;
}

const strtab_t *proxy_endpoints(const proxy_t *px)
{
	return px->endpoints;
}

void proxy_drain(proxy_t *px, int64_t timeout_ns)
{
	if (!px->started)
		return;
	atomic_store(&px->draining, true);
	for (int i = 0; i < px->nworkers; i++)
		proxy__worker_notify(&px->workers[i]);
	int64_t deadline = proxy__now() + timeout_ns;
	for (int i = 0; i < px->nworkers; i++) {
		if (!proxy__worker_join(&px->workers[i], deadline)) {
			log_warn("proxy", "drain timeout: closing what is left",
				 LF_I("worker", i));
			proxy__worker_stop(&px->workers[i]);
			proxy__worker_join(&px->workers[i], INT64_MAX);
		}
	}
	px->started = false;
}

void proxy_free(proxy_t *px)
{
	if (!px)
		return;
	proxy__tap_stop(px); /* capture tap: its thread first (tap.c) */
	for (int i = 0; i < px->nworkers; i++)
		proxy__worker_fini(&px->workers[i]);
	proxy__tap_free(px); /* then what workers left in its queues */
	free(px->workers);
	for (int i = 0; i < 4; i++)
		proxy__rt_free(px->old_rt[i]);
	proxy__rt_free(atomic_load(&px->rt));
	strtab_free(px->endpoints);
	pthread_mutex_destroy(&px->control);
	free(px);
}
