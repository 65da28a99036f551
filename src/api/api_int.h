/*
 * api_int.h: what the API's files share.
 */
#ifndef UMBRA_API_API_INT_H
#define UMBRA_API_API_INT_H

#include "api/api.h"

struct evhttp_request;

void api__reply(struct evhttp_request *req, int code, const char *ctype,
		const char *body, size_t len);

/* The dashboard page: status, charts of production against the shadow,
 * recent findings, actions and events. */
void api__dashboard(const config_t *cfg, store_t *store,
		    const api_hooks_t *hooks, const char *token, buf_t *out);

#endif
