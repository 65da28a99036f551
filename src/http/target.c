/*
 * target.c: request targets and Host values (see http.h): their forms
 * checked and split (RFC 9112 3.2, RFC 3986 3.2.2), so the writer can
 * send an absolute-form target in origin-form with Host from its
 * authority; and endpoint templates. A path
 * segment that is an identifier (a number, a UUID, a hex id with a digit
 * of at least ID_HEX_MIN characters, a mixed letters-and-digits token of
 * at least ID_TOKEN_MIN) becomes ":id", so "/users/42/orders?x=1" reads
 * "/users/:id/orders". The proxy names its endpoints with it and the
 * capture tools group recorded requests with it: one rule, one code.
 */
#include "http/http.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define HOST_PORT_MAX 65535 /* a TCP port */

/* unreserved and sub-delims of RFC 3986 2.2, 2.3: the bytes of a
 * reg-name besides pct-encoded ones. */
static bool reg_name_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
	       c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' ||
	       c == ')' || c == '*' || c == '+' || c == ',' || c == ';' ||
	       c == '=';
}

/* IP-literal = "[" ( IPv6address / IPvFuture ) "]", the brackets
 * excluded from s[0..n). IPv6 is checked for its bytes (hex, ':', '.'
 * of an embedded IPv4) and at least one ':'; IPvFuture = "v" 1*HEXDIG
 * "." 1*( unreserved / sub-delims / ":" ). */
static bool ip_literal(const char *s, size_t n)
{
	if (n == 0)
		return false;
	if (s[0] == 'v' || s[0] == 'V') {
		size_t i = 1;
		while (i < n && isxdigit((unsigned char)s[i]))
			i++;
		if (i == 1 || i == n || s[i] != '.' || i + 1 == n)
			return false;
		for (i++; i < n; i++)
			if (!reg_name_char((unsigned char)s[i]) && s[i] != ':')
				return false;
		return true;
	}
	bool colon = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ':')
			colon = true;
		else if (!isxdigit(c) && c != '.')
			return false;
	}
	return colon;
}

bool http_host_valid(const char *v, size_t len, bool need_port)
{
	size_t i = 0;
	if (len && v[0] == '[') {
		const char *close = memchr(v, ']', len);
		if (!close || !ip_literal(v + 1, (size_t)(close - v) - 1))
			return false;
		i = (size_t)(close - v) + 1;
	} else {
		while (i < len && v[i] != ':') {
			unsigned char c = (unsigned char)v[i];
			if (c == '%') {
				if (len - i < 3 ||
				    !isxdigit((unsigned char)v[i + 1]) ||
				    !isxdigit((unsigned char)v[i + 2]))
					return false;
				i += 3;
				continue;
			}
			if (!reg_name_char(c))
				return false;
			i++;
		}
	}
	if (i == len)
		return !need_port;
	if (v[i] != ':')
		return false;
	/* port = *DIGIT, bounded */
	unsigned port = 0;
	size_t digits = 0;
	for (i++; i < len; i++, digits++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		port = port * 10 + (unsigned)(v[i] - '0');
		if (port > HOST_PORT_MAX)
			return false;
	}
	return digits > 0 || !need_port;
}

/* The length of "http://" or "https://" at the start of t, any case, or
 * 0. */
static size_t http_scheme(const char *t, size_t len)
{
	if (len >= 7 && strncasecmp(t, "http://", 7) == 0)
		return 7;
	if (len >= 8 && strncasecmp(t, "https://", 8) == 0)
		return 8;
	return 0;
}

http_err_t http_target_parse(http_request_t *req)
{
	const char *t = req->target;
	size_t len = req->target_len;
	req->authority = NULL;
	req->authority_len = 0;
	req->origin = t;
	req->origin_len = len;
	if (memchr(t, '#', len))
		return HTTP_E_TARGET_FRAGMENT;
	if (req->method_id == HTTP_M_CONNECT) {
		req->target_form = HTTP_TARGET_AUTHORITY;
		if (len == 0 || t[0] == '/')
			return HTTP_E_BAD_TARGET;
		if (memchr(t, '@', len))
			return HTTP_E_TARGET_USERINFO;
		return http_host_valid(t, len, true) && t[0] != ':'
			       ? HTTP_E_NONE
			       : HTTP_E_BAD_AUTHORITY;
	}
	if (len && t[0] == '/') {
		req->target_form = HTTP_TARGET_ORIGIN;
		return HTTP_E_NONE;
	}
	if (len == 1 && t[0] == '*' && req->method_id == HTTP_M_OPTIONS) {
		req->target_form = HTTP_TARGET_ASTERISK;
		return HTTP_E_NONE;
	}
	size_t s = http_scheme(t, len);
	if (s == 0)
		return HTTP_E_BAD_TARGET;
	req->target_form = HTTP_TARGET_ABSOLUTE;
	size_t a = s;
	while (a < len && t[a] != '/' && t[a] != '?')
		a++;
	const char *auth = t + s;
	size_t alen = a - s;
	if (memchr(auth, '@', alen))
		return HTTP_E_TARGET_USERINFO;
	/* an empty host, with or without a port, is invalid in http(s) */
	if (alen == 0 || auth[0] == ':' || !http_host_valid(auth, alen, false))
		return HTTP_E_BAD_AUTHORITY;
	req->authority = auth;
	req->authority_len = alen;
	req->origin = t + a;
	req->origin_len = len - a;
	return HTTP_E_NONE;
}

#define ID_HEX_MIN 8    /* hex runs this long are ids (git-like) */
#define ID_TOKEN_MIN 20 /* mixed letters+digits this long: tokens */

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
	bool digits = n > 0, hex = true, has_digit = false, has_alpha = false,
	     token = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		digits = digits && isdigit(c);
		has_digit = has_digit || isdigit(c);
		hex = hex && isxdigit(c);
		has_alpha = has_alpha || isalpha(c);
		token = token && (isalnum(c) || c == '-' || c == '_');
	}
	return digits || is_uuid(s, n) ||
	       (hex && n >= ID_HEX_MIN && has_digit) ||
	       (token && n >= ID_TOKEN_MIN && has_digit && has_alpha);
}

size_t http_target_template(const char *t, size_t tlen, char *out, size_t cap)
{
	if (cap == 0)
		return 0;
	/* absolute-form: drop scheme and authority */
	if (tlen && t[0] != '/') {
		const char *ss = tlen > 3 ? memmem(t, tlen, "://", 3) : NULL;
		if (ss) {
			const char *q = memchr(ss + 3, '/',
					       (size_t)(t + tlen - ss - 3));
			size_t skip = q ? (size_t)(q - t) : tlen;
			t += skip;
			tlen -= skip;
		}
	}
	size_t end = 0;
	while (end < tlen && t[end] != '?' && t[end] != '#')
		end++;
	size_t o = 0, i = 0;
	if (end == 0 && cap > 1)
		out[o++] = '/';
	while (i < end && o + 1 < cap) {
		if (t[i] == '/') {
			out[o++] = '/';
			i++;
			continue;
		}
		size_t j = i;
		while (j < end && t[j] != '/')
			j++;
		const char *seg = t + i;
		size_t sl = j - i;
		if (is_id(seg, sl)) {
			seg = ":id";
			sl = 3;
		}
		if (sl > cap - o - 1)
			sl = cap - o - 1;
		memcpy(out + o, seg, sl);
		o += sl;
		i = j;
	}
	out[o] = '\0';
	return o;
}
