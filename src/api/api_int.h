/*
 * api_int.h: what the API's files share.
 */
#ifndef UMBRA_API_API_INT_H
#define UMBRA_API_API_INT_H

#include "api/api.h"
#include "base/units.h"

#include <jansson.h>
#include <stdint.h>

struct evhttp_request;

/* Times in requests end before int64 nanoseconds do (2262-04-11). */
#define API_TIME_MAX_S UNITS_NS_MAX_S

/* A request's time field: Unix seconds (a JSON number) or
 * "YYYY-MM-DDTHH:MM:SSZ", into ns. 0, ERR_NOTFOUND (v NULL), ERR_PARSE
 * or ERR_RANGE (1e308, negative, NaN, past API_TIME_MAX_S) with *why a
 * short reason the caller puts after the field's name. */
int api__parse_time(json_t *v, int64_t *out, const char **why);

void api__reply(struct evhttp_request *req, int code, const char *ctype,
		const char *body, size_t len);

/* The dashboard page: status, charts of production against the shadow,
 * recent findings, actions and events. */
void api__dashboard(const config_t *cfg, store_t *store,
		    const api_hooks_t *hooks, const char *token, buf_t *out);

#endif
