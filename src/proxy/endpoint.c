/*
 * endpoint.c: endpoint names. A request's method and path become a
 * bounded set of names ("GET /users/:id/orders") through the template
 * rule the capture tools share (http_target_template: identifier
 * segments collapsed, the query left out). Names are interned in the
 * proxy's strtab, whose bound (mirror.max_endpoints) caps the cardinality
 * of every per-endpoint metric; past it, requests count under "other".
 */
#include "proxy/proxy_int.h"

#include <string.h>

#define ENDPOINT_NAME_MAX 256 /* longer templates are cut (STRTAB_NAME_MAX) */

uint32_t proxy__endpoint(worker_t *w, http_method_t m, const char *method,
			 size_t mlen, const char *target, size_t tlen)
{
	char name[ENDPOINT_NAME_MAX];
	size_t o = mlen < 16 ? mlen : 16;
	memcpy(name, method, o);
	name[o++] = ' ';
	if (m == HTTP_M_CONNECT || (tlen == 1 && target[0] == '*')) {
		name[o++] = '*';
		name[o] = '\0';
	} else {
		o += http_target_template(target, tlen, name + o,
					  sizeof(name) - o);
	}
	return strtab_intern(w->px->endpoints, name, o);
}
