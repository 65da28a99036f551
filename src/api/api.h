/*
 * api.h: the admin API, on api.listen (loopback unless api.allow_remote),
 * served by libevent's evhttp on the daemon's control loop:
 *
 *   GET  /healthz              liveness, no token
 *   GET  /metrics              Prometheus text exposition
 *   GET  /api/v1/status        the daemon's state (JSON)
 *   GET  /api/v1/findings      ?since=1h (default), newest first
 *   GET  /api/v1/actions       ?since=1h
 *   GET  /api/v1/events        ?since=1h
 *   POST /api/v1/events        {"type":"deploy|note|config_change|scheduled",
 *                               "side":"production|shadow|both",
 *                               "text":"...", "start":..., "end":...}
 *   GET  /api/v1/snapshots
 *   GET|POST /api/v1/...       routes the daemon adds (hooks.route):
 *                              timeline, release, stress, propose
 *   GET  /                     the dashboard (HTML, SVG charts)
 *
 * Every route but /healthz needs the token: "Authorization: Bearer T",
 * or ?token=T (for the dashboard in a browser). The token lives in
 * api.token_file, made with 256 random bits and mode 0600 at first start.
 *
 * What the API shows comes from the store (findings, actions, events,
 * snapshots) and from the daemon through hooks (status, exposition,
 * recent points for the charts, new events). Ownership: api_new borrows
 * the base, the store and the hooks' arg; they outlive the api.
 */
#ifndef UMBRA_API_API_H
#define UMBRA_API_API_H

#include "base/buf.h"
#include "config/config.h"
#include "metrics/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define API_TOKEN_BYTES 32        /* 256 bits, hex-encoded in the file */
#define API_MAX_BODY (64 * 1024)  /* a posted event is small */
#define API_MAX_HEADERS (16 * 1024)

struct event_base;

typedef struct api_hooks {
	void *arg;
	/* Fills obj with the daemon's state (GET /api/v1/status). */
	void (*status)(void *arg, json_t *obj);
	/* Appends the Prometheus exposition (GET /metrics). */
	void (*metrics)(void *arg, buf_t *out);
	/* A posted event, already validated: record it and tell the
	 * analysis. 0 or a negative error. */
	int (*event)(void *arg, const store_event_t *ev);
	/* Recent points of side's metric (dashboard charts): up to max
	 * points since since_ns into ts/v; returns how many. */
	size_t (*points)(void *arg, int side, const char *metric,
			 int64_t since_ns, int64_t *ts, double *v, size_t max);
	/* Any other /api/v1/ route, after the token check: path without
	 * the prefix ("timeline"), the query string ("" none), the body
	 * parsed (POST: a JSON object; GET: NULL). Returns the HTTP status
	 * with *reply set (a new JSON value), or 0: no such route. */
	int (*route)(void *arg, bool post, const char *path, const char *query,
		     json_t *body, json_t **reply);
} api_hooks_t;

typedef struct api api_t;

/* Binds api.listen (port 0: no API, *out NULL, returns 0) and loads or
 * makes the token. 0, or a negative error with err set. */
int api_new(const config_t *cfg, struct event_base *base, store_t *store,
	    const api_hooks_t *hooks, api_t **out, buf_t *err);
void api_free(api_t *a);
/* The bound port (for api.listen port 0 in tests: never; real port). */
int api_port(const api_t *a);

/* Reads the token from path, making the file (0600, directories 0700)
 * with a new random token when it does not exist. 0 or a negative error
 * with err set (a file that is group/world accessible is refused). */
int api_token_load(const char *path, bool create, char out[2 * API_TOKEN_BYTES + 1],
		   buf_t *err);

#endif
