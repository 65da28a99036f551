/*
 * api.c: the admin API's routes, token and JSON (see api.h). Handlers run
 * on the control loop and only read the store or call the daemon's hooks;
 * they never touch the proxy's workers.
 */
#include "api/api.h"
#include "api/api_int.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/units.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define API_DEFAULT_SINCE_NS (3600LL * NS_PER_S) /* lists cover the last hour */
#define API_LIST_MAX 1000                         /* rows per list answer */

struct api {
	const config_t *cfg;
	struct event_base *base;
	struct evhttp *http;
	store_t *store;
	api_hooks_t hooks;
	char token[2 * API_TOKEN_BYTES + 1];
	int port;
};

/* --------------------------------------------------------------- token */

int api_token_load(const char *path, bool create,
		   char out[2 * API_TOKEN_BYTES + 1], buf_t *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		unsigned char raw[API_TOKEN_BYTES];
		if (getrandom(raw, sizeof(raw), 0) != sizeof(raw)) {
			buf_printf(err, "cannot make a token: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < API_TOKEN_BYTES; i++)
			snprintf(out + 2 * i, 3, "%02x", raw[i]);
		int rc = fs_mkdirs_for(path, 0700);
		if (rc) {
			buf_printf(err, "%s: cannot make its directory: %s", path,
				   err_str(rc));
			return rc;
		}
		/* Write then rename: a reader never sees half a token. */
		char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
		int w = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (w < 0 || write(w, out, 2 * API_TOKEN_BYTES) !=
				     2 * API_TOKEN_BYTES ||
		    write(w, "\n", 1) != 1 || fsync(w) != 0 || close(w) != 0 ||
		    rename(tmp, path) != 0) {
			int e = -errno;
			buf_printf(err, "%s: cannot write the token: %s", path,
				   strerror(errno));
			if (w >= 0)
				unlink(tmp);
			free(tmp);
			return e;
		}
		free(tmp);
		log_info("api", "made an API token (mode 0600)",
			 LF_S("file", path));
		return 0;
	}
	if (fd < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = -errno;
		close(fd);
		buf_printf(err, "%s: %s", path, strerror(-e));
		return e;
	}
	int insecure = fs_check_private(&st, path, err);
	if (insecure) {
		close(fd);
		return insecure;
	}
	char b[256];
	ssize_t n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0) {
		buf_printf(err, "%s: empty token file", path);
		return ERR_PARSE;
	}
	b[n] = '\0';
	b[strcspn(b, "\r\n")] = '\0';
	size_t len = strlen(b);
	if (len < 16 || len > 2 * API_TOKEN_BYTES) {
		buf_printf(err, "%s: a token is 16 to %d characters", path,
			   2 * API_TOKEN_BYTES);
		return ERR_PARSE;
	}
	/* memcpy, not snprintf: gcc -O1 (the sanitizer build) cannot see
	 * the length check and fails -Wformat-truncation. */
	memcpy(out, b, len + 1);
	return 0;
}

/* Constant-time comparison: the time does not tell how much matched. */
static bool token_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i < lb ? i : 0]);
	return d == 0;
}

static bool authorised(api_t *a, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
					   "Authorization");
	if (h && strncmp(h, "Bearer ", 7) == 0)
		return token_eq(h + 7, a->token);
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	if (q) {
		struct evkeyvalq kv;
		if (evhttp_parse_query_str(q, &kv) == 0) {
			const char *t = evhttp_find_header(&kv, "token");
			bool ok = t && token_eq(t, a->token);
			evhttp_clear_headers(&kv);
			return ok;
		}
	}
	return false;
}

/* --------------------------------------------------------------- replies */

void api__reply(struct evhttp_request *req, int code, const char *ctype,
		const char *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	evbuffer_add(b, body, len);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

static void reply_json(struct evhttp_request *req, int code, json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	api__reply(req, code, "application/json", s, strlen(s));
	free(s);
	json_decref(j);
}

static void reply_error(struct evhttp_request *req, int code,
			const char *msg)
{
	reply_json(req, code, json_pack("{s:s}", "error", msg));
}

/* ?name=VALUE of the request, copied into out (cap bytes); false when
 * absent. */
static bool query_param(struct evhttp_request *req, const char *name,
			char *out, size_t cap)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	if (!q)
		return false;
	struct evkeyvalq kv;
	if (evhttp_parse_query_str(q, &kv) != 0)
		return false;
	const char *v = evhttp_find_header(&kv, name);
	if (v)
		snprintf(out, cap, "%s", v);
	evhttp_clear_headers(&kv);
	return v != NULL;
}

/* The start of a list's window: ?since=DURATION (default an hour). 0 or
 * ERR_PARSE. */
static int since_of(struct evhttp_request *req, int64_t *from)
{
	char s[64];
	int64_t d = API_DEFAULT_SINCE_NS;
	if (query_param(req, "since", s, sizeof(s)) &&
	    units_parse_duration(s, &d, NULL) != 0)
		return ERR_PARSE;
	*from = clock_wall_ns() - d;
	return 0;
}

/* --------------------------------------------------------------- lists */

typedef struct {
	json_t *arr;
} list_t;

/* Appends o (stolen). The store reads a window oldest first; past
 * API_LIST_MAX rows the oldest goes, so a list answers the newest rows
 * of its window. */
static void list_push(list_t *l, json_t *o)
{
	json_array_append_new(l->arr, o);
	if (json_array_size(l->arr) > API_LIST_MAX)
		json_array_remove(l->arr, 0);
}

static json_t *time_json(int64_t ns)
{
	char t[CLOCK_ISO_LEN];
	return json_string(clock_iso8601(ns, t));
}

static int add_finding(void *arg, const store_finding_t *f)
{
	list_t *l = arg;
	json_t *ev = f->evidence ? json_loads(f->evidence, 0, NULL) : NULL;
	list_push(
		l,
		json_pack("{s:I,s:o,s:s,s:s,s:s,s:o}", "id", (json_int_t)f->id,
			  "time", time_json(f->ts_ns), "metric",
			  f->metric ? f->metric : "", "severity",
			  f->severity ? f->severity : "", "summary",
			  f->summary ? f->summary : "", "evidence",
			  ev ? ev : json_string(f->evidence ? f->evidence : "")));
	return 0;
}

static int add_action(void *arg, const store_action_t *x)
{
	list_t *l = arg;
	/* the daemon's detail is a JSON object (run_audit.c) */
	json_t *d = x->detail ? json_loads(x->detail, 0, NULL) : NULL;
	list_push(
		l, json_pack("{s:I,s:o,s:s,s:s,s:s,s:o,s:I,s:b}", "id",
				  (json_int_t)x->id, "time", time_json(x->ts_ns),
				  "kind", x->kind ? x->kind : "", "reason",
				  x->reason ? x->reason : "", "outcome",
				  x->outcome ? x->outcome : "", "detail",
				  d ? d : json_string(x->detail ? x->detail : ""),
				  "finding", (json_int_t)x->finding_id,
				  "dry_run", x->dry_run));
	return 0;
}

static int add_event(void *arg, const store_event_t *e)
{
	list_t *l = arg;
	list_push(
		l,
		json_pack("{s:I,s:s,s:s,s:s,s:o,s:o}", "id", (json_int_t)e->id,
			  "type", e->kind ? e->kind : "", "side",
			  e->side ? e->side : "", "text", e->text ? e->text : "",
			  "start", time_json(e->start_ns), "end",
			  time_json(e->end_ns)));
	return 0;
}

static int add_snapshot(void *arg, const store_snapshot_t *s)
{
	list_t *l = arg;
	if (json_array_size(l->arr) >= API_LIST_MAX)
		return 1; /* read newest first: the rest are older */
	json_array_append_new(
		l->arr, json_pack("{s:s,s:o,s:b,s:s}", "id", s->id, "created",
				  time_json(s->created_ns), "known_good",
				  s->good_ns != 0, "note", s->note ? s->note : ""));
	return 0;
}

static void list_route(api_t *a, struct evhttp_request *req, const char *what)
{
	int64_t from;
	if (since_of(req, &from)) {
		reply_error(req, 400, "bad since (expected a duration such as 1h)");
		return;
	}
	list_t l = {json_array()};
	int64_t to = clock_wall_ns() + NS_PER_S;
	const char *svc = a->cfg->service;
	int rc = 0;
	if (!a->store)
		rc = ERR_BADSTATE;
	else if (!strcmp(what, "findings"))
		rc = store_findings(a->store, svc, from, to, add_finding, &l);
	else if (!strcmp(what, "actions"))
		rc = store_actions(a->store, svc, from, to, add_action, &l);
	else if (!strcmp(what, "events"))
		rc = store_events(a->store, svc, from, to, add_event, &l);
	else
		rc = store_snapshots(a->store, svc, NULL, add_snapshot, &l);
	if (rc < 0) {
		json_decref(l.arr);
		reply_error(req, 503, "the store cannot be read");
		return;
	}
	if (strcmp(what, "snapshots")) {
		/* newest first, as documented (snapshots come so already) */
		json_t *r = json_array();
		for (size_t i = json_array_size(l.arr); i-- > 0;)
			json_array_append(r, json_array_get(l.arr, i));
		json_decref(l.arr);
		l.arr = r;
	}
	reply_json(req, 200, l.arr);
}

/* --------------------------------------------------------------- events */

int api__parse_time(json_t *v, int64_t *out, const char **why)
{
	*why = NULL;
	if (!v)
		return ERR_NOTFOUND;
	if (json_is_number(v))
		return units_secs_to_ns(json_number_value(v), 0, API_TIME_MAX_S,
					out, why);
	if (!json_is_string(v)) {
		*why = "not a number or a string";
		return ERR_PARSE;
	}
	struct tm tm = {0};
	const char *s = json_string_value(v);
	char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z"))) {
		*why = "not a time";
		return ERR_PARSE;
	}
	time_t t = timegm(&tm);
	if (t < 0 || (double)t > API_TIME_MAX_S) {
		*why = "out of range";
		return ERR_RANGE;
	}
	*out = (int64_t)t * NS_PER_S;
	return 0;
}

static void post_event(api_t *a, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	json_error_t je;
	json_t *j = json_loadb((const char *)evbuffer_pullup(in, -1), n, 0,
			       &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		reply_error(req, 400, "expected a JSON object");
		return;
	}
	static const char *const types[] = {"deploy", "note", "config_change",
					    "scheduled", "replay", NULL};
	static const char *const sides[] = {"production", "shadow", "both",
					    NULL};
	const char *type = json_string_value(json_object_get(j, "type"));
	const char *side = json_string_value(json_object_get(j, "side"));
	const char *text = json_string_value(json_object_get(j, "text"));
	bool type_ok = false, side_ok = !side;
	for (int i = 0; type && types[i]; i++)
		type_ok |= !strcmp(type, types[i]);
	for (int i = 0; side && sides[i]; i++)
		side_ok |= !strcmp(side, sides[i]);
	int64_t now = clock_wall_ns(), start = now, end = now;
	const char *ws, *we;
	int rs = api__parse_time(json_object_get(j, "start"), &start, &ws);
	int re = api__parse_time(json_object_get(j, "end"), &end, &we);
	if (rs == ERR_NOTFOUND)
		start = now;
	if (re == ERR_NOTFOUND)
		end = start;
	char bad_time[160] = "";
	if ((rs && rs != ERR_NOTFOUND) || (re && re != ERR_NOTFOUND)) {
		bool s_bad = rs && rs != ERR_NOTFOUND;
		snprintf(bad_time, sizeof(bad_time),
			 "%s: %s (expected Unix seconds 0..%.0f or "
			 "YYYY-MM-DDTHH:MM:SSZ)",
			 s_bad ? "start" : "end", s_bad ? ws : we,
			 API_TIME_MAX_S);
	}
	const char *why = !type_ok ? "type: expected deploy, note, "
				     "config_change, scheduled or replay"
			  : !side_ok ? "side: expected production, shadow or "
				       "both"
			  : bad_time[0]	 ? bad_time
			  : end < start ? "end is before start"
			  : text && strlen(text) > 1000
			      ? "text: at most 1000 characters"
			      : NULL;
	if (why) {
		json_decref(j);
		reply_error(req, 400, why);
		return;
	}
	store_event_t ev = {0, a->cfg->service, type, side ? side : "both",
			    text ? text : "", "api", start, end};
	int rc = a->hooks.event ? a->hooks.event(a->hooks.arg, &ev)
				: ERR_UNSUPPORTED;
	if (rc) {
		json_decref(j);
		reply_error(req, 503, err_str(rc));
		return;
	}
	/* What was recorded, defaults filled in (umbra events add prints
	 * it); ev's strings point into j, released after. */
	reply_json(req, 201,
		   json_pack("{s:s,s:{s:s,s:s,s:s,s:o,s:o}}", "status",
			     "recorded", "event", "type", ev.kind, "side",
			     ev.side, "text", ev.text, "start",
			     time_json(ev.start_ns), "end",
			     time_json(ev.end_ns)));
	json_decref(j);
}

/* --------------------------------------------------------------- routing */

/* A route the daemon adds (hooks.route). */
static void extra_route(api_t *a, struct evhttp_request *req,
			const char *path, bool post)
{
	json_t *body = NULL;
	if (post) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		json_error_t je;
		body = n ? json_loadb((const char *)evbuffer_pullup(in, -1), n,
				      0, &je)
			 : json_object();
		if (!body || !json_is_object(body)) {
			json_decref(body);
			reply_error(req, 400, "expected a JSON object");
			return;
		}
	}
	const struct evhttp_uri *pu = evhttp_request_get_evhttp_uri(req);
	const char *q = pu ? evhttp_uri_get_query(pu) : NULL;
	json_t *reply = NULL;
	int status = a->hooks.route(a->hooks.arg, post, path, q ? q : "", body,
				    &reply);
	json_decref(body);
	if (!status) {
		json_decref(reply);
		reply_error(req, 404, "no such route");
		return;
	}
	reply_json(req, status, reply ? reply : json_object());
}

static void route(struct evhttp_request *req, void *arg)
{
	api_t *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	const struct evhttp_uri *pu = evhttp_request_get_evhttp_uri(req);
	const char *path = pu ? evhttp_uri_get_path(pu) : uri;
	if (!path)
		path = "/";
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	if (!strcmp(path, "/healthz")) {
		api__reply(req, 200, "text/plain", "ok\n", 3);
		return;
	}
	if (!authorised(a, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "WWW-Authenticate", "Bearer");
		reply_error(req, 401, "a token is needed (api.token_file)");
		return;
	}
	bool get = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
	if (!strcmp(path, "/metrics") && get) {
		buf_t b = BUF_INIT;
		if (a->hooks.metrics)
			a->hooks.metrics(a->hooks.arg, &b);
		api__reply(req, 200, "text/plain; version=0.0.4",
			   b.data ? b.data : "", b.len);
		buf_free(&b);
	} else if (!strcmp(path, "/api/v1/status") && get) {
		json_t *o = json_object();
		json_object_set_new(o, "service", json_string(a->cfg->service));
		if (a->hooks.status)
			a->hooks.status(a->hooks.arg, o);
		reply_json(req, 200, o);
	} else if (!strcmp(path, "/api/v1/findings") && get) {
		list_route(a, req, "findings");
	} else if (!strcmp(path, "/api/v1/actions") && get) {
		list_route(a, req, "actions");
	} else if (!strcmp(path, "/api/v1/events") && get) {
		list_route(a, req, "events");
	} else if (!strcmp(path, "/api/v1/events") &&
		   m == EVHTTP_REQ_POST) {
		post_event(a, req);
	} else if (!strcmp(path, "/api/v1/snapshots") && get) {
		list_route(a, req, "snapshots");
	} else if (!strncmp(path, "/api/v1/", 8) && a->hooks.route &&
		   (get || m == EVHTTP_REQ_POST)) {
		extra_route(a, req, path + 8, !get);
	} else if (!strcmp(path, "/") && get) {
		if (!a->cfg->api.dashboard) {
			reply_error(req, 404, "the dashboard is off "
					      "(api.dashboard)");
			return;
		}
		buf_t b = BUF_INIT;
		api__dashboard(a->cfg, a->store, &a->hooks, a->token, &b);
		api__reply(req, 200, "text/html; charset=utf-8", b.data,
			   b.len);
		buf_free(&b);
	} else {
		reply_error(req, 404, "no such route");
	}
}

int api_new(const config_t *cfg, struct event_base *base, store_t *store,
	    const api_hooks_t *hooks, api_t **out, buf_t *err)
{
	*out = NULL;
	if (cfg->api.listen.port == 0)
		return 0;
	api_t *a = xcalloc(1, sizeof(*a));
	a->cfg = cfg;
	a->base = base;
	a->store = store;
	a->hooks = *hooks;
	int rc = api_token_load(cfg->api.token_file, true, a->token, err);
	if (rc) {
		free(a);
		return rc;
	}
	a->http = evhttp_new(base);
	evhttp_set_max_body_size(a->http, API_MAX_BODY);
	evhttp_set_max_headers_size(a->http, API_MAX_HEADERS);
	evhttp_set_timeout(a->http, 10);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_POST);
	evhttp_set_gencb(a->http, route, a);
	const char *host = cfg->api.listen.host[0] ? cfg->api.listen.host
						   : "0.0.0.0";
	struct evhttp_bound_socket *bs =
		evhttp_bind_socket_with_handle(a->http, host,
					       cfg->api.listen.port);
	if (!bs) {
		char t[ADDR_TEXT_MAX];
		buf_printf(err, "cannot listen on %s for the API: %s",
			   addr_format(&cfg->api.listen, t), strerror(errno));
		evhttp_free(a->http);
		free(a);
		return -EADDRINUSE;
	}
	a->port = cfg->api.listen.port;
	*out = a;
	char t[ADDR_TEXT_MAX];
	log_info("api", "listening", LF_S("addr", addr_format(&cfg->api.listen, t)),
		 LF_S("token_file", cfg->api.token_file));
	return 0;
}

int api_port(const api_t *a)
{
	return a ? a->port : 0;
}

void api_free(api_t *a)
{
	if (!a)
		return;
	evhttp_free(a->http);
	explicit_bzero(a->token, sizeof(a->token));
	free(a);
}
