/*
 * ring.h: a bounded single-producer single-consumer ring of fixed-size
 * records, lock-free (C11 acquire/release on two indices, each on its own
 * cache line). The proxy's workers publish per-request records through one
 * ring each; the control side drains them. A full ring never blocks the
 * producer: ring_push() returns false and the caller counts the drop
 * (DESIGN.md: the production path takes no lock shared with the control
 * side and never waits).
 */
#ifndef UMBRA_BASE_RING_H
#define UMBRA_BASE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ring {
	_Alignas(64) _Atomic size_t head; /* next slot to write (producer) */
	_Alignas(64) _Atomic size_t tail; /* next slot to read (consumer) */
	_Alignas(64) size_t mask;         /* capacity - 1 */
	size_t slot;                      /* bytes per record */
	unsigned char *data;
} ring_t;

/* New ring of capacity records (rounded up to a power of two) of slot
 * bytes each. Returns new memory; free with ring_free(). */
ring_t *ring_new(size_t slot, size_t capacity);
void ring_free(ring_t *r);

/* Producer: copies rec in; false (and nothing done) when the ring is
 * full. */
bool ring_push(ring_t *r, const void *rec);

/* Consumer: copies up to max records into out; returns how many. */
size_t ring_pop(ring_t *r, void *out, size_t max);

/* Records waiting (approximate when read from a third thread). */
size_t ring_count(const ring_t *r);

#endif
