/*
 * alert.h: alerts to people: Alertmanager (API v2, POST /api/v2/alerts),
 * a generic JSON webhook, and the log.
 *
 * An alert has a key (what it is about: "deviation/cpu", "rollback",
 * "hold"); firing the same key again refreshes it without sending
 * (deduplication) unless its labels changed (then the old label set is
 * resolved and the new one fires) or alert.repeat has passed since it was
 * last sent (Alertmanager forgets an alert that is not re-sent; each send
 * says endsAt = now + 4 x repeat, as Prometheus does, so a silent umbra's
 * alerts resolve by themselves). Resolving sends endsAt = now.
 *
 * Labels: alertname, service, metric, severity (warning or critical),
 * side (the side that moved), plus mitigation.alert.labels. Annotations:
 * summary, description (the evidence), root_cause, action.
 *
 * Threads: the calls are made on the engine's thread and only queue (a
 * bounded queue: when full the oldest message is dropped and counted);
 * one sender thread does the HTTP with libcurl, 5 s per attempt, three
 * attempts (1 s, 2 s apart). Nothing here blocks the tick.
 */
#ifndef UMBRA_MITIGATE_ALERT_H
#define UMBRA_MITIGATE_ALERT_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIT_ALERT_MAX 256	   /* alerts firing at once, per service */
#define MIT_ALERT_QUEUE_MAX 512	   /* messages waiting for the sender */
#define MIT_ALERT_TIMEOUT_MS 5000  /* one HTTP attempt */
#define MIT_ALERT_CONNECT_MS 2000  /* its connect phase */
#define MIT_ALERT_ATTEMPTS 3	   /* then the message is dropped, counted */
#define MIT_ALERT_TEXT_MAX 1024	   /* one annotation */

typedef enum mit_sev { MIT_SEV_WARNING = 0, MIT_SEV_CRITICAL } mit_sev_t;

const char *mit_sev_name(mit_sev_t s);

typedef struct mit_alert_params {
	const char *service;
	const char *alertmanager; /* base URL, "" none */
	const char *webhook;	  /* URL, "" none */
	int64_t repeat_ns;
	const config_map_t *labels; /* extra labels; may be NULL */
} mit_alert_params_t;

/* One alert as fired (strings borrowed for the call). */
typedef struct mit_alert {
	const char *key;
	const char *name;   /* alertname: UmbraDeviation, UmbraRollbackFailed */
	const char *metric; /* "" none */
	const char *side;   /* "" none */
	mit_sev_t severity;
	const char *summary, *description, *root_cause, *action;
} mit_alert_t;

typedef struct mit_alert_stats {
	uint64_t sent, failed, dropped; /* messages */
	size_t queued, firing;
} mit_alert_stats_t;

typedef struct mit_alerter mit_alerter_t;

/* A new alerter; starts its sender thread when a URL is configured.
 * Copies what it needs from p. */
mit_alerter_t *mit_alerter_new(const mit_alert_params_t *p);

/* Fires (or refreshes) an alert at now. Returns 1 when it was sent (new,
 * changed labels, or repeat due), 0 when only refreshed. */
int mit_alert_fire(mit_alerter_t *a, int64_t now, const mit_alert_t *al);

/* Resolves key at now (why goes to the log). 1 when it was firing. */
int mit_alert_resolve(mit_alerter_t *a, int64_t now, const char *key,
		      const char *why);

/* Resolves every alert firing at now (a clean stop: Alertmanager gets
 * endsAt = now, the webhook "resolved"); why goes with each. How many
 * were firing. */
size_t mit_alert_resolve_all(mit_alerter_t *a, int64_t now, const char *why);

bool mit_alert_is_firing(const mit_alerter_t *a, const char *key);

/* Re-sends what is due (alert.repeat). Call once per tick. */
void mit_alert_tick(mit_alerter_t *a, int64_t now);

/* Waits up to timeout_ns until every queued message was sent (or given
 * up). 0, or ERR_TIMEOUT. */
int mit_alert_flush(mit_alerter_t *a, int64_t timeout_ns);

void mit_alert_stats(mit_alerter_t *a, mit_alert_stats_t *out);

/* Flushes for at most 2 s, stops the sender (aborting a transfer in
 * flight) and frees. */
void mit_alerter_free(mit_alerter_t *a);

#endif
