/*
 * clock.h: time in nanoseconds. Monotonic time for intervals and timeouts,
 * wall time for timestamps that are stored or shown.
 */
#ifndef UMBRA_BASE_CLOCK_H
#define UMBRA_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define NS_PER_US 1000LL
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

int64_t clock_mono_ns(void);
int64_t clock_wall_ns(void);

/* Writes "2026-11-27T04:29:51.123Z" (UTC, milliseconds) into out, which
 * must hold CLOCK_ISO_LEN bytes. Returns out. */
#define CLOCK_ISO_LEN 32
char *clock_iso8601(int64_t wall_ns, char out[CLOCK_ISO_LEN]);

#endif
