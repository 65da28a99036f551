/*
 * cidr.c: fuzz target for allow-list destinations (shadow.allow_outbound,
 * shadow.netns_subnet). Invariants: a rejection has a reason; an accepted
 * value has a valid family and prefix, no host bits under its prefix,
 * and its canonical text parses again to the same network.
 */
#include "base/cidr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256];
	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	cidr_t c, again;
	const char *why = NULL;
	if (cidr_parse(s, &c, &why)) {
		if (!why || !*why)
			abort();
		return 0;
	}
	int bits = c.family == AF_INET ? 32 : c.family == AF_INET6 ? 128 : -1;
	if (bits < 0 || c.prefix < 0 || c.prefix > bits)
		abort();
	for (int i = c.prefix; i < bits; i++)
		if (c.addr[i / 8] & (0x80 >> (i % 8)))
			abort();
	char t[CIDR_TEXT_MAX];
	cidr_format(&c, t);
	if (cidr_parse(t, &again, &why) || again.family != c.family ||
	    again.prefix != c.prefix || memcmp(again.addr, c.addr, 16) ||
	    again.port != 0)
		abort();
	return 0;
}
