/*
 * client.h: the admin API from the other side, for the commands that talk
 * to a running daemon (`umbra status`, `events`, `findings`, `actions`,
 * `release`, `propose`): where it listens and its token come from the
 * same config the daemon runs with (api.listen, api.token_file). One
 * blocking request at a time over libcurl, on loopback by default.
 *
 * Errors say what to do: no daemon on the address ("is `umbra run`
 * going?"), a token file that cannot be read, a refusal with the API's own
 * error text and HTTP status.
 *
 * Ownership: api_client_new borrows cfg (it must outlive the client);
 * replies are new JSON references the caller releases.
 */
#ifndef UMBRA_API_CLIENT_H
#define UMBRA_API_CLIENT_H

#include "base/buf.h"
#include "config/config.h"

#include <jansson.h>
#include <stdint.h>

#define API_CLIENT_TIMEOUT_MS 10000 /* a daemon answers in milliseconds */
#define API_CLIENT_MAX_REPLY (16u << 20) /* lists are capped server-side */

typedef struct api_client api_client_t;

/* A client for the daemon that runs cfg. 0, or a negative error with err
 * set: the API is off (api.listen port 0: ERR_UNSUPPORTED), the token file
 * cannot be read. */
int api_client_new(const config_t *cfg, api_client_t **out, buf_t *err);
void api_client_free(api_client_t *c);

/* GET path (e.g. "/api/v1/status?since=1h") or POST body (a JSON value,
 * borrowed; NULL for GET). On a 2xx answer returns 0 with *reply set (a
 * new reference; a JSON null when the body is empty) and *status the HTTP
 * status. Otherwise a negative error with err set: -ECONNREFUSED when no
 * daemon answers, ERR_TIMEOUT, ERR_PARSE for a reply that is not JSON,
 * ERR_INVAL for a 4xx/5xx (the API's error text in err, *status set: 401
 * a wrong token, 404 an unknown route, 409 a state that forbids it). */
int api_client_call(api_client_t *c, const char *path, json_t *body,
		    json_t **reply, long *status, buf_t *err);

/* The base URL ("http://127.0.0.1:7070"), for messages. */
const char *api_client_url(const api_client_t *c);

#endif
