/*
 * client.c: the admin API client (client.h) on libcurl's easy interface:
 * one handle, reused, bearer token, JSON in and out, bounded replies.
 */
#include "api/client.h"

#include "api/api.h"
#include "base/err.h"
#include "base/xmalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct api_client {
	CURL *h;
	char url[64 + ADDR_TEXT_MAX];
	char auth[32 + 2 * API_TOKEN_BYTES];
	buf_t body; /* the reply being read */
};

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
	buf_t *b = arg;
	if (b->len + sz * n > API_CLIENT_MAX_REPLY)
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	buf_append(b, p, sz * n);
	return sz * n;
}

int api_client_new(const config_t *cfg, api_client_t **out, buf_t *err)
{
	*out = NULL;
	if (cfg->api.listen.port == 0) {
		buf_printf(err, "the admin API is off in this config "
				"(api.listen has port 0)");
		return ERR_UNSUPPORTED;
	}
	char tok[2 * API_TOKEN_BYTES + 1];
	int rc = api_token_load(cfg->api.token_file, false, tok, err);
	if (rc)
		return rc;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	api_client_t *c = xcalloc(1, sizeof(*c));
	c->h = curl_easy_init();
	if (!c->h) {
		free(c);
		buf_printf(err, "cannot start libcurl");
		return ERR_NOMEM;
	}
	/* a wildcard listen address is reached on loopback */
	addr_t a = cfg->api.listen;
	char host[ADDR_TEXT_MAX];
	if (!a.host[0] || !strcmp(a.host, "0.0.0.0"))
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (!strcmp(a.host, "::"))
		snprintf(host, sizeof(host), "[::1]");
	else if (strchr(a.host, ':'))
		snprintf(host, sizeof(host), "[%s]", a.host);
	else
		snprintf(host, sizeof(host), "%s", a.host);
	snprintf(c->url, sizeof(c->url), "http://%s:%u", host,
		 (unsigned)a.port);
	snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", tok);
	explicit_bzero(tok, sizeof(tok));
	*out = c;
	return 0;
}

void api_client_free(api_client_t *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->h);
	explicit_bzero(c->auth, sizeof(c->auth));
	buf_free(&c->body);
	free(c);
}

const char *api_client_url(const api_client_t *c)
{
	return c->url;
}

int api_client_call(api_client_t *c, const char *path, json_t *body,
		    json_t **reply, long *status, buf_t *err)
{
	*reply = NULL;
	*status = 0;
	char url[sizeof(c->url) + 1024];
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct curl_slist *hdr = curl_slist_append(NULL, c->auth);
	if (payload)
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	c->body.len = 0;
	curl_easy_reset(c->h);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)API_CLIENT_TIMEOUT_MS);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_PROXY, ""); /* never via a proxy */
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body);
	if (payload)
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, payload);
	CURLcode cc = curl_easy_perform(c->h);
	curl_slist_free_all(hdr);
	free(payload);
	if (cc != CURLE_OK) {
		if (cc == CURLE_COULDNT_CONNECT) {
			buf_printf(err, "no daemon answers on %s (is `umbra run` "
					"going with this config?)",
				   c->url);
			return -ECONNREFUSED;
		}
		buf_printf(err, "%s: %s", url, curl_easy_strerror(cc));
		return cc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_INVAL;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, status);
	json_error_t je;
	json_t *j = c->body.len ? json_loadb(c->body.data, c->body.len, 0, &je)
				: json_null();
	if (*status < 200 || *status > 299) {
		const char *msg =
			json_string_value(json_object_get(j, "error"));
		buf_printf(err, "%s answered %ld: %s", path, *status,
			   msg ? msg : "(no reason given)");
		json_decref(j);
		return ERR_INVAL;
	}
	if (!j) {
		buf_printf(err, "%s: the reply is not JSON (%s)", path, je.text);
		return ERR_PARSE;
	}
	*reply = j;
	return 0;
}
