/*
 * test_alert.c: the alerter against a loopback HTTP receiver run by the
 * test: Alertmanager v2 and webhook JSON, deduplication, repeats,
 * escalation (the old label set resolved), resolution with endsAt = now,
 * retries on a failing receiver, and a black-holed receiver that cannot
 * block the caller. (The end-to-end test talks to a real Alertmanager.)
 */
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "mitigate/alert.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S 1000000000LL

typedef enum { MODE_OK, MODE_FAIL, MODE_BLACKHOLE } mode_t_;

typedef struct receiver {
	int fd, port;
	mode_t_ mode;
	pthread_t th;
	pthread_mutex_t mu;
	char path[16][64];
	char *body[16];
	int n;
	volatile int stop;
} receiver_t;

static void *serve(void *arg)
{
	receiver_t *r = arg;
	while (!r->stop) {
		int c = accept(r->fd, NULL, NULL);
		if (c < 0)
			break;
		char buf[65536];
		size_t len = 0;
		char *end = NULL;
		while (!end && len < sizeof(buf) - 1) {
			ssize_t k = read(c, buf + len, sizeof(buf) - 1 - len);
			if (k <= 0)
				break;
			len += (size_t)k;
			buf[len] = '\0';
			end = strstr(buf, "\r\n\r\n");
		}
		if (!end) {
			close(c);
			continue;
		}
		const char *cl = strcasestr(buf, "content-length:");
		size_t want = cl ? (size_t)atoi(cl + 15) : 0;
		size_t have = len - (size_t)(end + 4 - buf);
		while (have < want && len < sizeof(buf) - 1) {
			ssize_t k = read(c, buf + len, sizeof(buf) - 1 - len);
			if (k <= 0)
				break;
			len += (size_t)k;
			have += (size_t)k;
		}
		buf[len] = '\0';
		pthread_mutex_lock(&r->mu);
		if (r->n < 16) {
			sscanf(buf, "POST %63s", r->path[r->n]);
			r->body[r->n] = strdup(end + 4);
			r->n++;
		}
		pthread_mutex_unlock(&r->mu);
		if (r->mode == MODE_BLACKHOLE) {
			while (!r->stop)
				usleep(10000);
			close(c);
			continue;
		}
		const char *resp = r->mode == MODE_OK
				       ? "HTTP/1.1 200 OK\r\nContent-Length: "
					 "0\r\nConnection: close\r\n\r\n"
				       : "HTTP/1.1 500 Oops\r\nContent-Length: "
					 "4\r\nConnection: close\r\n\r\nbusy";
		ssize_t wr = write(c, resp, strlen(resp));
		(void)wr;
		close(c);
	}
	return NULL;
}

static void rx_start(receiver_t *r, mode_t_ mode)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	pthread_mutex_init(&r->mu, NULL);
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(sa);
	cr_assert_eq(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	listen(r->fd, 16);
	getsockname(r->fd, (struct sockaddr *)&sa, &l);
	r->port = ntohs(sa.sin_port);
	pthread_create(&r->th, NULL, serve, r);
}

static void rx_stop(receiver_t *r)
{
	r->stop = 1;
	shutdown(r->fd, SHUT_RDWR);
	close(r->fd);
	pthread_join(r->th, NULL);
	for (int i = 0; i < r->n; i++)
		free(r->body[i]);
}

static int rx_count(receiver_t *r)
{
	pthread_mutex_lock(&r->mu);
	int n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static json_t *rx_json(receiver_t *r, int i)
{
	json_error_t e;
	json_t *j = json_loads(r->body[i], 0, &e);
	cr_assert_not_null(j, "%s: %s", r->body[i], e.text);
	return j;
}

static const char *str(json_t *o, const char *path)
{
	/* "a.b" lookups */
	char p[128];
	snprintf(p, sizeof(p), "%s", path);
	json_t *cur = o;
	for (char *k = strtok(p, "."); k && cur; k = strtok(NULL, "."))
		cur = json_object_get(cur, k);
	return cur ? json_string_value(cur) : NULL;
}

static mit_alerter_t *alerter(receiver_t *am, receiver_t *wh)
{
	log_setup(LOG_OFF, LOG_FMT_LOGFMT);
	char u1[64] = "", u2[64] = "";
	if (am)
		snprintf(u1, sizeof(u1), "http://127.0.0.1:%d/", am->port);
	if (wh)
		snprintf(u2, sizeof(u2), "http://127.0.0.1:%d/hook", wh->port);
	static config_kv_t kv[] = {{"team", "payments"}};
	static config_map_t labels = {kv, 1};
	mit_alert_params_t p = {"checkout", u1, u2, 60 * S, &labels};
	return mit_alerter_new(&p);
}

static mit_alert_t cpu_alert(mit_sev_t sev)
{
	return (mit_alert_t){.key = "deviation/cpu",
			     .name = "UmbraDeviation",
			     .metric = "cpu",
			     .side = "production",
			     .severity = sev,
			     .summary = "cpu deviates",
			     .description = "cpu critical: deviation 0.5",
			     .root_cause = "change app.conf",
			     .action = "rule default-cpu"};
}

Test(alert, alertmanager_payload_dedup_repeat_resolve)
{
	receiver_t am;
	rx_start(&am, MODE_OK);
	mit_alerter_t *a = alerter(&am, NULL);
	int64_t now = clock_wall_ns();
	mit_alert_t al = cpu_alert(MIT_SEV_CRITICAL);
	cr_assert_eq(mit_alert_fire(a, now, &al), 1);
	cr_assert_eq(mit_alert_fire(a, now + S, &al), 0, "deduplicated");
	cr_assert(mit_alert_is_firing(a, "deviation/cpu"));
	cr_assert_eq(mit_alert_flush(a, 5 * S), 0);
	cr_assert_eq(rx_count(&am), 1);
	cr_assert_str_eq(am.path[0], "/api/v2/alerts");
	json_t *arr = rx_json(&am, 0);
	cr_assert(json_is_array(arr));
	json_t *j = json_array_get(arr, 0);
	cr_assert_str_eq(str(j, "labels.alertname"), "UmbraDeviation");
	cr_assert_str_eq(str(j, "labels.service"), "checkout");
	cr_assert_str_eq(str(j, "labels.metric"), "cpu");
	cr_assert_str_eq(str(j, "labels.severity"), "critical");
	cr_assert_str_eq(str(j, "labels.side"), "production");
	cr_assert_str_eq(str(j, "labels.team"), "payments");
	cr_assert_str_eq(str(j, "annotations.description"),
			 "cpu critical: deviation 0.5");
	cr_assert_str_eq(str(j, "annotations.root_cause"), "change app.conf");
	cr_assert_gt(strcmp(str(j, "endsAt"), str(j, "startsAt")), 0,
		     "endsAt ahead while firing");
	json_decref(arr);
	/* repeat due after alert.repeat */
	mit_alert_tick(a, now + 30 * S);
	mit_alert_tick(a, now + 61 * S);
	cr_assert_eq(mit_alert_flush(a, 5 * S), 0);
	cr_assert_eq(rx_count(&am), 2);
	/* resolved: endsAt = the resolution time */
	cr_assert_eq(mit_alert_resolve(a, now + 70 * S, "deviation/cpu",
				       "back within threshold"),
		     1);
	cr_assert_eq(mit_alert_resolve(a, now + 71 * S, "deviation/cpu", ""), 0);
	cr_assert_eq(mit_alert_flush(a, 5 * S), 0);
	cr_assert_eq(rx_count(&am), 3);
	arr = rx_json(&am, 2);
	j = json_array_get(arr, 0);
	char want[CLOCK_ISO_LEN];
	clock_iso8601(now + 70 * S, want);
	cr_assert_str_eq(str(j, "endsAt"), want);
	cr_assert_str_eq(str(j, "annotations.resolution"),
			 "back within threshold");
	json_decref(arr);
	mit_alert_stats_t st;
	mit_alert_stats(a, &st);
	cr_assert_eq(st.sent, 3);
	cr_assert_eq(st.firing, 0);
	mit_alerter_free(a);
	rx_stop(&am);
}

Test(alert, escalation_resolves_the_old_label_set)
{
	receiver_t am;
	rx_start(&am, MODE_OK);
	mit_alerter_t *a = alerter(&am, NULL);
	int64_t now = clock_wall_ns();
	mit_alert_t w = cpu_alert(MIT_SEV_WARNING);
	mit_alert_t c = cpu_alert(MIT_SEV_CRITICAL);
	mit_alert_fire(a, now, &w);
	cr_assert_eq(mit_alert_fire(a, now + S, &c), 1);
	cr_assert_eq(mit_alert_flush(a, 5 * S), 0);
	cr_assert_eq(rx_count(&am), 3);
	json_t *a1 = rx_json(&am, 1), *a2 = rx_json(&am, 2);
	json_t *old = json_array_get(a1, 0);
	cr_assert_str_eq(str(old, "labels.severity"), "warning");
	char want[CLOCK_ISO_LEN];
	clock_iso8601(now + S, want);
	cr_assert_str_eq(str(old, "endsAt"), want);
	json_t *nw = json_array_get(a2, 0);
	cr_assert_str_eq(str(nw, "labels.severity"), "critical");
	json_decref(a1);
	json_decref(a2);
	mit_alerter_free(a);
	rx_stop(&am);
}

Test(alert, webhook_payload)
{
	receiver_t wh;
	rx_start(&wh, MODE_OK);
	mit_alerter_t *a = alerter(NULL, &wh);
	int64_t now = clock_wall_ns();
	mit_alert_t al = cpu_alert(MIT_SEV_WARNING);
	mit_alert_fire(a, now, &al);
	mit_alert_resolve(a, now + S, "deviation/cpu", "ok again");
	cr_assert_eq(mit_alert_flush(a, 5 * S), 0);
	cr_assert_eq(rx_count(&wh), 2);
	cr_assert_str_eq(wh.path[0], "/hook");
	json_t *f = rx_json(&wh, 0), *r = rx_json(&wh, 1);
	cr_assert_str_eq(str(f, "status"), "firing");
	cr_assert_str_eq(str(f, "source"), "umbra");
	cr_assert_str_eq(str(f, "service"), "checkout");
	cr_assert_str_eq(str(f, "alert.key"), "deviation/cpu");
	cr_assert_str_eq(str(f, "alert.labels.severity"), "warning");
	cr_assert_str_eq(str(r, "status"), "resolved");
	json_decref(f);
	json_decref(r);
	mit_alerter_free(a);
	rx_stop(&wh);
}

/* A clean stop: every alert still firing is resolved, at Alertmanager
 * with endsAt = the stop and at the webhook as "resolved". */
Test(alert, resolve_all_at_stop)
{
	receiver_t am, wh;
	rx_start(&am, MODE_OK);
	rx_start(&wh, MODE_OK);
	mit_alerter_t *a = alerter(&am, &wh);
	int64_t now = clock_wall_ns();
	mit_alert_t c = cpu_alert(MIT_SEV_CRITICAL);
	mit_alert_t h = cpu_alert(MIT_SEV_CRITICAL);
	h.key = "hold";
	h.name = "UmbraHold";
	mit_alert_fire(a, now, &c);
	mit_alert_fire(a, now, &h);
	cr_assert_eq(mit_alert_resolve_all(a, now + 5 * S, "umbra stopped"),
		     2);
	cr_assert_eq(mit_alert_resolve_all(a, now + 6 * S, "again"), 0);
	cr_assert_eq(mit_alert_flush(a, 5 * S), 0);
	cr_assert_eq(rx_count(&am), 4);
	cr_assert_eq(rx_count(&wh), 4);
	char want[CLOCK_ISO_LEN];
	clock_iso8601(now + 5 * S, want);
	for (int i = 2; i < 4; i++) {
		json_t *arr = rx_json(&am, i), *w = rx_json(&wh, i);
		json_t *j = json_array_get(arr, 0);
		cr_assert_str_eq(str(j, "endsAt"), want);
		cr_assert_str_eq(str(j, "annotations.resolution"),
				 "umbra stopped");
		cr_assert_str_eq(str(w, "status"), "resolved");
		json_decref(arr);
		json_decref(w);
	}
	mit_alert_stats_t st;
	mit_alert_stats(a, &st);
	cr_assert_eq(st.firing, 0);
	mit_alerter_free(a);
	rx_stop(&am);
	rx_stop(&wh);
}

Test(alert, failing_receiver_is_retried_then_counted)
{
	receiver_t am;
	rx_start(&am, MODE_FAIL);
	mit_alerter_t *a = alerter(&am, NULL);
	mit_alert_t al = cpu_alert(MIT_SEV_WARNING);
	mit_alert_fire(a, clock_wall_ns(), &al);
	cr_assert_eq(mit_alert_flush(a, 20 * S), 0);
	cr_assert_eq(rx_count(&am), MIT_ALERT_ATTEMPTS);
	mit_alert_stats_t st;
	mit_alert_stats(a, &st);
	cr_assert_eq(st.failed, 1);
	cr_assert_eq(st.sent, 0);
	mit_alerter_free(a);
	rx_stop(&am);
}

Test(alert, blackholed_receiver_cannot_block_the_caller)
{
	receiver_t am;
	rx_start(&am, MODE_BLACKHOLE);
	mit_alerter_t *a = alerter(&am, NULL);
	int64_t now = clock_wall_ns();
	for (int i = 0; i < 50; i++) {
		char key[32];
		snprintf(key, sizeof(key), "k%d", i);
		mit_alert_t al = cpu_alert(MIT_SEV_WARNING);
		al.key = key;
		cr_assert_eq(mit_alert_fire(a, now, &al), 1);
	}
	mit_alert_stats_t st;
	mit_alert_stats(a, &st);
	cr_assert_gt(st.queued, 40, "queued, not sent inline");
	cr_assert_eq(mit_alert_flush(a, S / 5), ERR_TIMEOUT);
	mit_alerter_free(a); /* aborts the transfer in flight */
	rx_stop(&am);
}

Test(alert, log_only_without_urls)
{
	mit_alerter_t *a = alerter(NULL, NULL);
	mit_alert_t al = cpu_alert(MIT_SEV_WARNING);
	cr_assert_eq(mit_alert_fire(a, S, &al), 1);
	cr_assert_eq(mit_alert_flush(a, S), 0);
	mit_alert_stats_t st;
	mit_alert_stats(a, &st);
	cr_assert_eq(st.firing, 1);
	cr_assert_eq(st.sent, 0);
	mit_alerter_free(a);
}
