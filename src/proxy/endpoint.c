/*
 * endpoint.c: endpoint templates. A request's method and path become a
 * bounded set of names ("GET /users/:id/orders") by collapsing path
 * segments that are identifiers: numbers, UUIDs, hex ids, and long mixed
 * tokens. The query string is left out. Names are interned in the proxy's
 * strtab, whose bound (mirror.max_endpoints) caps the cardinality of every
 * per-endpoint metric; past it, requests count under "other".
 */
#include "proxy/proxy_int.h"

#include <ctype.h>
#include <string.h>

#define ENDPOINT_NAME_MAX 256 /* longer templates are cut (STRTAB_NAME_MAX) */
#define ID_HEX_MIN 8          /* hex runs this long are ids (git-like) */
#define ID_TOKEN_MIN 20       /* mixed letters+digits this long: tokens */

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* True when a path segment looks like an identifier, not a name. */
static bool is_id(const char *s, size_t n)
{
	if (n == 0)
		return false;
	bool digits = true, hex = true, has_digit = false, has_alpha = false;
	bool token = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isdigit(c))
			digits = false;
		else
			has_digit = true;
		if (!isxdigit(c))
			hex = false;
		if (isalpha(c))
			has_alpha = true;
		if (!isalnum(c) && c != '-' && c != '_')
			token = false;
	}
	if (digits)
		return true;
	if (is_uuid(s, n))
		return true;
	if (hex && n >= ID_HEX_MIN && has_digit)
		return true;
	return token && n >= ID_TOKEN_MIN && has_digit && has_alpha;
}

size_t proxy__template(const char *target, size_t tlen, char *out,
		       size_t cap)
{
	size_t o = 0;
	/* absolute-form: skip scheme and authority */
	if (tlen > 7 && memchr(target, ':', tlen) && target[0] != '/') {
		const char *p = memchr(target, '/', tlen);
		if (p && p + 1 < target + tlen && p[1] == '/') {
			const char *q = memchr(p + 2, '/',
					       (size_t)(target + tlen - p - 2));
			size_t skip = q ? (size_t)(q - target) : tlen;
			target += skip;
			tlen -= skip;
		}
	}
	size_t end = 0;
	while (end < tlen && target[end] != '?' && target[end] != '#')
		end++;
	size_t i = 0;
	if (end == 0 && cap > 1)
		out[o++] = '/';
	while (i < end && o + 1 < cap) {
		if (target[i] == '/') {
			out[o++] = '/';
			i++;
			continue;
		}
		size_t s = i;
		while (i < end && target[i] != '/')
			i++;
		const char *seg = target + s;
		size_t n = i - s;
		if (is_id(seg, n)) {
			seg = ":id";
			n = 3;
		}
		if (o + n >= cap)
			n = cap - o - 1;
		memcpy(out + o, seg, n);
		o += n;
	}
	out[o] = '\0';
	return o;
}

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
		o += proxy__template(target, tlen, name + o, sizeof(name) - o);
	}
	return strtab_intern(w->px->endpoints, name, o);
}
