/*
 * clock.c: clock_gettime wrappers and ISO 8601 formatting.
 */
#include "base/clock.h"

#include <stdio.h>
#include <time.h>

int64_t clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t clock_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

char *clock_iso8601(int64_t wall_ns, char out[CLOCK_ISO_LEN])
{
	time_t s = (time_t)(wall_ns / NS_PER_S);
	int ms = (int)((wall_ns % NS_PER_S) / NS_PER_MS);
	if (ms < 0) {
		ms += 1000;
		s -= 1;
	}
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(out, CLOCK_ISO_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, CLOCK_ISO_LEN - n, ".%03dZ", ms % 1000);
	return out;
}
