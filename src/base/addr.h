/*
 * addr.h: network addresses as users write them: "127.0.0.1:8080",
 * "[::1]:8080", "localhost:8080", ":8080" (all interfaces). Parsing is pure
 * syntax; addr_resolve() turns an address into sockaddrs at use time.
 */
#ifndef UMBRA_BASE_ADDR_H
#define UMBRA_BASE_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_HOST_MAX 254 /* a DNS name is at most 253 characters */
#define ADDR_TEXT_MAX (ADDR_HOST_MAX + 10)

typedef struct addr {
	char host[ADDR_HOST_MAX + 1]; /* "" = all interfaces; no brackets */
	uint16_t port;
} addr_t;

/* Parses s; port 0 is refused unless allow_port0. 0 or ERR_PARSE/ERR_RANGE
 * with *why set to a static reason. */
int addr_parse(const char *s, bool allow_port0, addr_t *out,
	       const char **why);

/* "host:port", "[v6]:port" or ":port" into out (ADDR_TEXT_MAX bytes). */
char *addr_format(const addr_t *a, char *out);

/* True when host is a loopback literal (127/8, ::1) or "localhost". */
bool addr_is_loopback(const addr_t *a);

/* Resolves a to its first address (numeric hosts without DNS). Fills ss
 * and *len; 0 or a negative error (ERR_NOTFOUND when the name does not
 * resolve). Blocking: call at start or from the control thread only. */
int addr_resolve(const addr_t *a, struct sockaddr_storage *ss,
		 socklen_t *len);

/* Formats a sockaddr as "ip:port" into out (ADDR_TEXT_MAX bytes). */
char *addr_format_sockaddr(const struct sockaddr *sa, char *out);

#endif
