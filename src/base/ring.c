/*
 * ring.c: SPSC ring (see ring.h). The producer owns head, the consumer
 * owns tail; each reads the other's index with acquire and publishes its
 * own with release, so a record's bytes are visible before its index.
 */
#include "base/ring.h"

#include "base/xmalloc.h"

#include <stdlib.h>
#include <string.h>

ring_t *ring_new(size_t slot, size_t capacity)
{
	size_t cap = 2;
	while (cap < capacity)
		cap <<= 1;
	ring_t *r = aligned_alloc(64, sizeof(*r));
	if (!r)
		xmalloc_oom("ring_new");
	memset(r, 0, sizeof(*r));
	r->mask = cap - 1;
	r->slot = slot;
	r->data = xreallocarray(NULL, cap, slot);
	return r;
}

void ring_free(ring_t *r)
{
	if (!r)
		return;
	free(r->data);
	free(r);
}

bool ring_push(ring_t *r, const void *rec)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (head - tail > r->mask)
		return false;
	memcpy(r->data + (head & r->mask) * r->slot, rec, r->slot);
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return true;
}

size_t ring_pop(ring_t *r, void *out, size_t max)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t n = head - tail;
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		memcpy((unsigned char *)out + i * r->slot,
		       r->data + ((tail + i) & r->mask) * r->slot, r->slot);
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

size_t ring_count(const ring_t *r)
{
	return atomic_load_explicit(&((ring_t *)r)->head, memory_order_acquire) -
	       atomic_load_explicit(&((ring_t *)r)->tail, memory_order_acquire);
}
