/*
 * target.c: endpoint templates of request targets (see http.h). A path
 * segment that is an identifier (a number, a UUID, a hex id with a digit
 * of at least ID_HEX_MIN characters, a mixed letters-and-digits token of
 * at least ID_TOKEN_MIN) becomes ":id", so "/users/42/orders?x=1" reads
 * "/users/:id/orders". The proxy names its endpoints with it and the
 * capture tools group recorded requests with it: one rule, one code.
 */
#include "http/http.h"

#include <ctype.h>
#include <string.h>

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
