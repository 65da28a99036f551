/*
 * addr.c: address syntax and resolution (see addr.h).
 */
#include "base/addr.h"

#include "base/err.h"
#include "base/units.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#define SET_WHY(w) (why ? (void)(*why = (w)) : (void)0)

/* A hostname per RFC 1123: labels of letters, digits and '-', dots
 * between. Literal IPv4 passes this check too. */
static bool valid_hostname(const char *h, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
		} else if (c == '-' && label == 0) {
			return false; /* a label does not start with '-' */
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && h[n - 1] != '-';
}

int addr_parse(const char *s, bool allow_port0, addr_t *out,
	       const char **why)
{
	addr_t a = {0};
	if (!s || !*s) {
		SET_WHY("empty address");
		return ERR_PARSE;
	}
	const char *colon;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':') {
			SET_WHY("bad IPv6 address");
			return ERR_PARSE;
		}
		size_t n = (size_t)(close - s - 1);
		struct in6_addr tmp;
		if (n == 0 || n > ADDR_HOST_MAX) {
			SET_WHY("bad IPv6 address");
			return ERR_PARSE;
		}
		memcpy(a.host, s + 1, n);
		a.host[n] = '\0';
		if (inet_pton(AF_INET6, a.host, &tmp) != 1) {
			SET_WHY("bad IPv6 address");
			return ERR_PARSE;
		}
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			SET_WHY("missing port");
			return ERR_PARSE;
		}
		size_t n = (size_t)(colon - s);
		if (memchr(s, ':', n)) {
			SET_WHY("IPv6 address without brackets");
			return ERR_PARSE;
		}
		if (n > 0 && !valid_hostname(s, n)) {
			SET_WHY("bad host name");
			return ERR_PARSE;
		}
		memcpy(a.host, s, n);
		a.host[n] = '\0';
	}
	int64_t port;
	if (units_parse_i64(colon + 1, allow_port0 ? 0 : 1, 65535, &port,
			    NULL) != 0) {
		SET_WHY(allow_port0 ? "bad port (0..65535)"
				    : "bad port (1..65535)");
		return ERR_RANGE;
	}
	a.port = (uint16_t)port;
	*out = a;
	return 0;
}

char *addr_format(const addr_t *a, char *out)
{
	if (strchr(a->host, ':'))
		snprintf(out, ADDR_TEXT_MAX, "[%s]:%u", a->host, a->port);
	else
		snprintf(out, ADDR_TEXT_MAX, "%s:%u", a->host, a->port);
	return out;
}

bool addr_is_loopback(const addr_t *a)
{
	struct in_addr v4;
	struct in6_addr v6;
	if (strcmp(a->host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, a->host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, a->host, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6);
	return false;
}

int addr_resolve(const addr_t *a, struct sockaddr_storage *ss,
		 socklen_t *len)
{
	struct addrinfo hints = {0}, *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", a->port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (a->host[0] ? 0 : AI_PASSIVE);
	int rc = getaddrinfo(a->host[0] ? a->host : NULL, port, &hints, &res);
	if (rc != 0 || !res)
		return ERR_NOTFOUND;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

char *addr_format_sockaddr(const struct sockaddr *sa, char *out)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(out, ADDR_TEXT_MAX, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(out, ADDR_TEXT_MAX, "[%s]:%u", ip, port);
	} else {
		snprintf(out, ADDR_TEXT_MAX, "unix");
	}
	return out;
}
