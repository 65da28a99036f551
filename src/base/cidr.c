/*
 * cidr.c: allow-list destinations (see cidr.h). inet_pton does the
 * address syntax; this file adds ports, prefixes and their bounds.
 */
#include "base/cidr.h"

#include "base/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Parses a decimal in [lo, hi] that spans all of s. */
static int parse_num(const char *s, long lo, long hi, long *out)
{
	if (!*s || strlen(s) > 6)
		return -1;
	long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cidr_parse(const char *s, cidr_t *out, const char **why)
{
	char host[CIDR_TEXT_MAX];
	const char *port = NULL, *slash;
	cidr_t c = {0};
	size_t n = strlen(s);
	if (n == 0 || n >= sizeof(host)) {
		*why = n ? "too long" : "empty";
		return ERR_PARSE;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close) {
			*why = "missing ']'";
			return ERR_PARSE;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(close - s - 1),
			 s + 1);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1]) {
			*why = "expected ':port' after ']'";
			return ERR_PARSE;
		}
		if (!port) {
			*why = "brackets are for an address with a port";
			return ERR_PARSE;
		}
	} else {
		snprintf(host, sizeof(host), "%s", s);
		char *colon = strchr(host, ':');
		/* One colon: IPv4 with a port; more: a bare IPv6 address. */
		if (colon && !strchr(colon + 1, ':')) {
			*colon = '\0';
			port = s + (colon - host) + 1;
		}
	}
	char *sl = strchr(host, '/');
	slash = sl;
	if (sl)
		*sl = '\0';
	if (inet_pton(AF_INET, host, c.addr) == 1) {
		c.family = AF_INET;
		c.prefix = 32;
	} else if (inet_pton(AF_INET6, host, c.addr) == 1) {
		c.family = AF_INET6;
		c.prefix = 128;
	} else {
		*why = "not an IP address (names are not resolved)";
		return ERR_PARSE;
	}
	if (slash) {
		long pfx;
		if (port) {
			*why = "a prefix and a port cannot be combined";
			return ERR_PARSE;
		}
		if (parse_num(sl + 1, 0, c.prefix, &pfx)) {
			*why = "bad prefix length";
			return ERR_RANGE;
		}
		c.prefix = (int)pfx;
	}
	if (port) {
		long p;
		if (parse_num(port, 1, 65535, &p)) {
			*why = "bad port (expected 1..65535)";
			return ERR_RANGE;
		}
		c.port = (uint16_t)p;
	}
	/* Clear host bits under the prefix. */
	int bytes = c.family == AF_INET ? 4 : 16;
	for (int i = 0; i < bytes; i++) {
		int keep = c.prefix - i * 8;
		if (keep <= 0)
			c.addr[i] = 0;
		else if (keep < 8)
			c.addr[i] &= (uint8_t)(0xff << (8 - keep));
	}
	*out = c;
	return 0;
}

char *cidr_format(const cidr_t *c, char *out)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(c->family, c->addr, a, sizeof(a));
	int full = c->family == AF_INET ? 32 : 128;
	if (c->prefix == full)
		snprintf(out, CIDR_TEXT_MAX, "%s", a);
	else
		snprintf(out, CIDR_TEXT_MAX, "%s/%d", a, c->prefix);
	return out;
}
