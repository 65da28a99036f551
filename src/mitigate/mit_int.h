/*
 * mit_int.h: what the mitigation module's files share and nobody else
 * uses: hashing, and the asynchronous command runner (reload commands,
 * the scale hook).
 */
#ifndef UMBRA_MITIGATE_MIT_INT_H
#define UMBRA_MITIGATE_MIT_INT_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SHA-256 of data as 64 lowercase hex digits. */
void mit__sha256_hex(const void *data, size_t len, char hex[65]);

#endif
