/*
 * metrics_int.h: helpers shared by the metrics module's files; not for
 * other modules.
 */
#ifndef UMBRA_METRICS_METRICS_INT_H
#define UMBRA_METRICS_METRICS_INT_H

#include <stddef.h>
#include <stdint.h>

/* Reads path into buf (cap bytes, NUL-terminated, so at most cap-1 of
 * data), *len set. 0, -errno, or ERR_TOOBIG when the file is longer. */
int metrics__read_file(const char *path, char *buf, size_t cap, size_t *len);

/* Parses decimal digits at *p (< end) into *out; advances *p. 0 or
 * ERR_PARSE (no digit) / ERR_RANGE (overflow). */
int metrics__u64(const char **p, const char *end, uint64_t *out);
/* The same with an optional leading '-'. */
int metrics__i64(const char **p, const char *end, int64_t *out);

#endif
