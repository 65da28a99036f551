/*
 * alert.c: alert state (firing set, deduplication, repeats, resolution),
 * the JSON of Alertmanager's API v2 and of the webhook (jansson), and the
 * sender thread (libcurl easy handles, one transfer at a time: alerts are
 * rare and small, and a thread keeps them off the control loop).
 */
#include "mitigate/alert.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALERT_RESEND_FACTOR 4 /* endsAt = now + 4 x repeat (Prometheus) */
#define ALERT_FREE_FLUSH_NS (2 * NS_PER_S)
#define ALERT_REPLY_MAX 512 /* of a refusal's body, for the log */

const char *mit_sev_name(mit_sev_t s)
{
	return s == MIT_SEV_CRITICAL ? "critical" : "warning";
}

/* ------------------------------------------------------------ queue */

typedef struct msg {
	struct msg *next;
	char *url, *body, *what;
} msg_t;

typedef struct firing {
	char *key;
	json_t *labels, *annotations; /* owned */
	int64_t starts_ns, sent_ns;
	char *name;
} firing_t;

struct mit_alerter {
	char *service, *am_url, *webhook;
	int64_t repeat_ns;
	json_t *extra; /* extra labels */
	firing_t fire[MIT_ALERT_MAX];
	size_t nfire;
	/* sender */
	pthread_t thread;
	bool thread_on;
	pthread_mutex_t mu;
	pthread_cond_t cv, idle_cv;
	msg_t *head, *tail;
	size_t queued;
	bool busy;
	atomic_bool stop;
	atomic_uint_fast64_t sent, failed, dropped;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void msg_free(msg_t *m)
{
	free(m->url);
	free(m->body);
	free(m->what);
	free(m);
}

static void enqueue(mit_alerter_t *a, const char *url, char *body,
		    const char *what)
{
	if (!body)
		xmalloc_oom("json_dumps");
	if (!a->thread_on) {
		free(body);
		return;
	}
	msg_t *m = xcalloc(1, sizeof(*m));
	m->url = xstrdup(url);
	m->body = body;
	m->what = xstrdup(what);
	pthread_mutex_lock(&a->mu);
	if (a->queued >= MIT_ALERT_QUEUE_MAX) {
		msg_t *old = a->head;
		a->head = old->next;
		if (!a->head)
			a->tail = NULL;
		a->queued--;
		atomic_fetch_add(&a->dropped, 1);
		log_warn("alert", "alert queue full; dropped the oldest message",
			 LF_S("what", old->what));
		msg_free(old);
	}
	if (a->tail)
		a->tail->next = m;
	else
		a->head = m;
	a->tail = m;
	a->queued++;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* ------------------------------------------------------------ sender */

typedef struct reply {
	char text[ALERT_REPLY_MAX];
	size_t len;
} reply_t;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	reply_t *r = arg;
	size_t k = size * n;
	size_t room = sizeof(r->text) - 1 - r->len;
	size_t c = k < room ? k : room;
	memcpy(r->text + r->len, p, c);
	r->len += c;
	r->text[r->len] = '\0';
	return k;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c,
		       curl_off_t d)
{
	mit_alerter_t *al = arg;
	return atomic_load(&al->stop) ? 1 : 0; /* non-zero aborts */
}

/* One POST; 0, or a negative error with why filled. */
static int post(mit_alerter_t *a, const msg_t *m, char *why, size_t n)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(why, n, "curl_easy_init failed");
		return ERR_NOMEM;
	}
	reply_t r = {0};
	struct curl_slist *h =
	    curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, m->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, m->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(m->body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)MIT_ALERT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)MIT_ALERT_CONNECT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "umbra");
	CURLcode res = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	int rc = 0;
	if (res != CURLE_OK) {
		snprintf(why, n, "%s", curl_easy_strerror(res));
		rc = ERR_CLOSED;
	} else if (code < 200 || code > 299) {
		snprintf(why, n, "HTTP %ld: %.200s", code, r.text);
		rc = ERR_INVAL;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

/* Sleeps up to ns unless stopping; returns false when stopping. */
static bool nap(mit_alerter_t *a, int64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t t = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec + ns;
	ts.tv_sec = (time_t)(t / NS_PER_S);
	ts.tv_nsec = (long)(t % NS_PER_S);
	pthread_mutex_lock(&a->mu);
	while (!atomic_load(&a->stop) &&
	       pthread_cond_timedwait(&a->cv, &a->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&a->mu);
	return !atomic_load(&a->stop);
}

static void *sender(void *arg)
{
	mit_alerter_t *a = arg;
	for (;;) {
		pthread_mutex_lock(&a->mu);
		while (!a->head && !atomic_load(&a->stop))
			pthread_cond_wait(&a->cv, &a->mu);
		if (!a->head) {
			pthread_mutex_unlock(&a->mu);
			return NULL;
		}
		msg_t *m = a->head;
		a->head = m->next;
		if (!a->head)
			a->tail = NULL;
		a->queued--;
		a->busy = true;
		pthread_mutex_unlock(&a->mu);
		char why[256] = "";
		int rc = -1;
		for (int i = 0; i < MIT_ALERT_ATTEMPTS && rc; i++) {
			if (i && !nap(a, (int64_t)i * NS_PER_S))
				break;
			rc = post(a, m, why, sizeof(why));
		}
		if (rc) {
			atomic_fetch_add(&a->failed, 1);
			log_warn("alert", "could not deliver an alert",
				 LF_S("what", m->what), LF_S("url", m->url),
				 LF_S("why", why));
		} else {
			atomic_fetch_add(&a->sent, 1);
			log_debug("alert", "alert delivered",
				  LF_S("what", m->what), LF_S("url", m->url));
		}
		msg_free(m);
		pthread_mutex_lock(&a->mu);
		a->busy = false;
		if (!a->head)
			pthread_cond_broadcast(&a->idle_cv);
		pthread_mutex_unlock(&a->mu);
	}
}

/* ------------------------------------------------------------ alerter */

mit_alerter_t *mit_alerter_new(const mit_alert_params_t *p)
{
	mit_alerter_t *a = xcalloc(1, sizeof(*a));
	a->service = xstrdup(p->service ? p->service : "");
	a->webhook = xstrdup(p->webhook ? p->webhook : "");
	a->am_url = NULL;
	if (p->alertmanager && p->alertmanager[0]) {
		size_t l = strlen(p->alertmanager);
		while (l && p->alertmanager[l - 1] == '/')
			l--;
		const char *suffix = "/api/v2/alerts";
		size_t sl = strlen(suffix);
		if (l >= sl && !strncmp(p->alertmanager + l - sl, suffix, sl))
			a->am_url = xstrndup(p->alertmanager, l);
		else
			a->am_url =
			    xasprintf("%.*s%s", (int)l, p->alertmanager, suffix);
	}
	a->repeat_ns = p->repeat_ns > 0 ? p->repeat_ns : 300 * NS_PER_S;
	a->extra = json_object();
	for (size_t i = 0; p->labels && i < p->labels->n; i++)
		json_object_set_new(a->extra, p->labels->v[i].key,
				    json_string(p->labels->v[i].value));
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_cond_init(&a->idle_cv, NULL);
	if (a->am_url || a->webhook[0]) {
		pthread_once(&curl_once, curl_init_once);
		if (pthread_create(&a->thread, NULL, sender, a) == 0)
			a->thread_on = true;
		else
			log_error("alert", "cannot start the alert sender; "
					   "alerts go to the log only");
	}
	return a;
}

static firing_t *find(mit_alerter_t *a, const char *key)
{
	for (size_t i = 0; i < a->nfire; i++)
		if (!strcmp(a->fire[i].key, key))
			return &a->fire[i];
	return NULL;
}

bool mit_alert_is_firing(const mit_alerter_t *a, const char *key)
{
	return find((mit_alerter_t *)a, key) != NULL;
}

static void iso(int64_t ns, char out[CLOCK_ISO_LEN])
{
	clock_iso8601(ns, out);
}

/* Queues one alert state (firing until ends_ns, or resolved at it) to
 * every sink. */
static void send_state(mit_alerter_t *a, const firing_t *f, int64_t ends_ns,
		       bool resolved)
{
	char s[CLOCK_ISO_LEN], e[CLOCK_ISO_LEN];
	iso(f->starts_ns, s);
	iso(ends_ns, e);
	char what[160];
	snprintf(what, sizeof(what), "%s %s", f->key,
		 resolved ? "resolved" : "firing");
	if (a->am_url) {
		json_t *al = json_pack("{s:O, s:O, s:s, s:s}", "labels",
				       f->labels, "annotations",
				       f->annotations, "startsAt", s, "endsAt",
				       e);
		json_t *arr = json_array();
		json_array_append_new(arr, al);
		enqueue(a, a->am_url, json_dumps(arr, JSON_COMPACT), what);
		json_decref(arr);
	}
	if (a->webhook[0]) {
		json_t *body = json_pack(
		    "{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:O, s:O, s:s, s:s}}",
		    "version", "1", "source", "umbra", "status",
		    resolved ? "resolved" : "firing", "service", a->service,
		    "alert", "name", f->name, "key", f->key, "labels",
		    f->labels, "annotations", f->annotations, "startsAt", s,
		    "endsAt", e);
		enqueue(a, a->webhook, json_dumps(body, JSON_COMPACT), what);
		json_decref(body);
	}
}

static void put_text(json_t *o, const char *k, const char *v)
{
	if (v && v[0])
		json_object_set_new(
		    o, k, json_stringn(v, strnlen(v, MIT_ALERT_TEXT_MAX)));
}

static void log_state(const mit_alerter_t *a, const firing_t *f,
		      const char *msg, mit_sev_t sev)
{
	json_t *d = json_object_get(f->annotations, "description");
	json_t *m = json_object_get(f->labels, "metric");
	json_t *sd = json_object_get(f->labels, "side");
	log_level_t lv = !strcmp(msg, "alert resolved") ? LOG_INFO
			 : sev == MIT_SEV_CRITICAL	  ? LOG_ERROR
							  : LOG_WARN;
	if (log_enabled(lv))
		log_emit(lv, "alert", msg,
			 (const log_field_t[]){
			     LF_S("alert", f->name), LF_S("key", f->key),
			     LF_S("service", a->service),
			     LF_S("severity", mit_sev_name(sev)),
			     LF_S("metric", m ? json_string_value(m) : ""),
			     LF_S("side", sd ? json_string_value(sd) : ""),
			     LF_S("description", d ? json_string_value(d) : ""),
			     {NULL, LOG_F_END, {0}}});
}

int mit_alert_fire(mit_alerter_t *a, int64_t now, const mit_alert_t *al)
{
	json_t *labels = json_deep_copy(a->extra);
	json_object_set_new(labels, "alertname", json_string(al->name));
	json_object_set_new(labels, "service", json_string(a->service));
	if (al->metric && al->metric[0])
		json_object_set_new(labels, "metric", json_string(al->metric));
	json_object_set_new(labels, "severity",
			    json_string(mit_sev_name(al->severity)));
	if (al->side && al->side[0])
		json_object_set_new(labels, "side", json_string(al->side));
	json_t *ann = json_object();
	put_text(ann, "summary", al->summary);
	put_text(ann, "description", al->description);
	put_text(ann, "root_cause", al->root_cause);
	put_text(ann, "action", al->action);

	firing_t *f = find(a, al->key);
	if (f && json_equal(f->labels, labels)) {
		json_decref(f->annotations);
		f->annotations = ann;
		json_decref(labels);
		if (now - f->sent_ns < a->repeat_ns)
			return 0;
		f->sent_ns = now;
		send_state(a, f, now + ALERT_RESEND_FACTOR * a->repeat_ns,
			   false);
		log_debug("alert", "alert repeated", LF_S("key", f->key));
		return 1;
	}
	if (f) {
		/* New labels (e.g. warning -> critical): to Alertmanager a
		 * different alert; the old one ends now. */
		send_state(a, f, now, true);
		log_state(a, f, "alert resolved", MIT_SEV_WARNING);
		json_decref(f->labels);
		json_decref(f->annotations);
		free(f->name);
	} else {
		if (a->nfire >= MIT_ALERT_MAX) {
			log_error("alert", "too many alerts firing; not sent",
				  LF_S("key", al->key),
				  LF_I("max", MIT_ALERT_MAX));
			json_decref(labels);
			json_decref(ann);
			return 0;
		}
		f = &a->fire[a->nfire++];
		f->key = xstrdup(al->key);
	}
	f->labels = labels;
	f->annotations = ann;
	f->name = xstrdup(al->name);
	f->starts_ns = f->sent_ns = now;
	send_state(a, f, now + ALERT_RESEND_FACTOR * a->repeat_ns, false);
	log_state(a, f, "alert firing", al->severity);
	return 1;
}

/* Sends f resolved and removes it from the firing set. */
static void resolve_one(mit_alerter_t *a, firing_t *f, int64_t now,
			const char *why)
{
	if (why && why[0])
		json_object_set_new(f->annotations, "resolution",
				    json_string(why));
	send_state(a, f, now, true);
	log_state(a, f, "alert resolved", MIT_SEV_WARNING);
	json_decref(f->labels);
	json_decref(f->annotations);
	free(f->key);
	free(f->name);
	*f = a->fire[--a->nfire];
}

int mit_alert_resolve(mit_alerter_t *a, int64_t now, const char *key,
		      const char *why)
{
	firing_t *f = find(a, key);
	if (!f)
		return 0;
	resolve_one(a, f, now, why);
	return 1;
}

size_t mit_alert_resolve_all(mit_alerter_t *a, int64_t now, const char *why)
{
	size_t n = a->nfire;
	while (a->nfire)
		resolve_one(a, &a->fire[a->nfire - 1], now, why);
	return n;
}

void mit_alert_tick(mit_alerter_t *a, int64_t now)
{
	for (size_t i = 0; i < a->nfire; i++) {
		firing_t *f = &a->fire[i];
		if (now - f->sent_ns < a->repeat_ns)
			continue;
		f->sent_ns = now;
		send_state(a, f, now + ALERT_RESEND_FACTOR * a->repeat_ns,
			   false);
	}
}

int mit_alert_flush(mit_alerter_t *a, int64_t timeout_ns)
{
	if (!a->thread_on)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t t = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec + timeout_ns;
	ts.tv_sec = (time_t)(t / NS_PER_S);
	ts.tv_nsec = (long)(t % NS_PER_S);
	int rc = 0;
	pthread_mutex_lock(&a->mu);
	while ((a->head || a->busy) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&a->idle_cv, &a->mu, &ts);
	bool left = a->head || a->busy;
	pthread_mutex_unlock(&a->mu);
	return left ? ERR_TIMEOUT : 0;
}

void mit_alert_stats(mit_alerter_t *a, mit_alert_stats_t *out)
{
	out->sent = atomic_load(&a->sent);
	out->failed = atomic_load(&a->failed);
	out->dropped = atomic_load(&a->dropped);
	pthread_mutex_lock(&a->mu);
	out->queued = a->queued + (a->busy ? 1 : 0);
	pthread_mutex_unlock(&a->mu);
	out->firing = a->nfire;
}

void mit_alerter_free(mit_alerter_t *a)
{
	if (!a)
		return;
	if (a->thread_on) {
		if (mit_alert_flush(a, ALERT_FREE_FLUSH_NS))
			log_warn("alert", "alerts still queued at exit; "
					  "dropping them");
		pthread_mutex_lock(&a->mu);
		atomic_store(&a->stop, true);
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
	}
	while (a->head) {
		msg_t *m = a->head;
		a->head = m->next;
		msg_free(m);
	}
	for (size_t i = 0; i < a->nfire; i++) {
		json_decref(a->fire[i].labels);
		json_decref(a->fire[i].annotations);
		free(a->fire[i].key);
		free(a->fire[i].name);
	}
	json_decref(a->extra);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	pthread_cond_destroy(&a->idle_cv);
	free(a->service);
	free(a->am_url);
	free(a->webhook);
	free(a);
}
