/*
 * strtab.c: interned strings (see strtab.h). An open-addressing index of
 * 2 x capacity slots (a load factor of at most 1/2 keeps probes short);
 * a slot holds id + 1 once its name is fully written (release store), so a
 * reader that sees the id also sees the name.
 */
#include "base/strtab.h"

#include "base/xmalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct strtab {
	pthread_mutex_t lock; /* inserts only */
	size_t max;           /* names besides "other" */
	size_t nslots;        /* power of two >= 2 * (max + 1) */
	_Atomic uint32_t *slots;
	char **names;           /* [0..max], names[0] = "other" */
	_Atomic uint32_t count; /* ids published */
};

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

strtab_t *strtab_new(size_t max)
{
	strtab_t *t = xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->max = max;
	t->nslots = 4;
	while (t->nslots < 2 * (max + 1))
		t->nslots <<= 1;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	t->names = xcalloc(max + 1, sizeof(char *));
	t->names[0] = xstrdup("other");
	atomic_store(&t->count, 1);
	return t;
}

void strtab_free(strtab_t *t)
{
	if (!t)
		return;
	uint32_t n = atomic_load(&t->count);
	for (uint32_t i = 0; i < n; i++)
		free(t->names[i]);
	free(t->names);
	free((void *)t->slots);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Probes for name; returns its id, or UINT32_MAX with *slot set to the
 * first empty slot on the way. */
static uint32_t find(const strtab_t *t, const char *name, size_t len,
		     size_t *slot)
{
	size_t i = hash(name, len) & (t->nslots - 1);
	for (;;) {
		uint32_t v = atomic_load_explicit(&t->slots[i],
						  memory_order_acquire);
		if (v == 0) {
			*slot = i;
			return UINT32_MAX;
		}
		const char *s = t->names[v - 1];
		if (strlen(s) == len && memcmp(s, name, len) == 0)
			return v - 1;
		i = (i + 1) & (t->nslots - 1);
	}
}

uint32_t strtab_intern(strtab_t *t, const char *name, size_t len)
{
	if (len > STRTAB_NAME_MAX)
		len = STRTAB_NAME_MAX;
	size_t slot;
	uint32_t id = find(t, name, len, &slot);
	if (id != UINT32_MAX)
		return id;
	pthread_mutex_lock(&t->lock);
	id = find(t, name, len, &slot); /* another thread may have won */
	if (id == UINT32_MAX) {
		uint32_t n = atomic_load_explicit(&t->count,
						  memory_order_relaxed);
		if (n > t->max) {
			id = STRTAB_OTHER;
		} else {
			t->names[n] = xstrndup(name, len);
			atomic_store_explicit(&t->count, n + 1,
					      memory_order_release);
			atomic_store_explicit(&t->slots[slot], n + 1,
					      memory_order_release);
			id = n;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return id;
}

const char *strtab_name(const strtab_t *t, uint32_t id)
{
	uint32_t n = atomic_load_explicit(&((strtab_t *)t)->count,
					  memory_order_acquire);
	return id < n ? t->names[id] : NULL;
}

uint32_t strtab_count(const strtab_t *t)
{
	return atomic_load_explicit(&((strtab_t *)t)->count,
				    memory_order_acquire);
}
