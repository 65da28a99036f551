/*
 * cidr.h: network destinations as operators write them in allow-lists:
 * "10.0.5.20", "10.0.5.20:5432", "10.0.0.0/8", "[2001:db8::1]:443",
 * "2001:db8::/32". Pure syntax, no DNS (an allow-list that resolves names
 * at start would silently go stale). Used by config validation and by
 * provision's network isolation, so both accept exactly the same text.
 */
#ifndef UMBRA_BASE_CIDR_H
#define UMBRA_BASE_CIDR_H

#include <stdint.h>

#define CIDR_TEXT_MAX 64 /* "[ffff:...:ffff]/128:65535" fits with room */

typedef struct cidr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; 4 bytes used for AF_INET */
	int prefix;	  /* 0..32 or 0..128; a bare address is a full prefix */
	uint16_t port;	  /* 0 = any port */
} cidr_t;

/* Parses s: an address, an address with :port (v6 in brackets), or a
 * CIDR (address/prefix, no port). Host bits under the prefix are
 * cleared. 0, or ERR_PARSE/ERR_RANGE with *why set to a static reason. */
int cidr_parse(const char *s, cidr_t *out, const char **why);

/* Canonical text without the port: "10.0.0.0/8", "10.0.5.20",
 * "2001:db8::/32" into out (CIDR_TEXT_MAX bytes). Returns out. */
char *cidr_format(const cidr_t *c, char *out);

#endif
