/*
 * arena.h: a bump allocator for objects that live and die together (a
 * loaded configuration, one request's scratch). Freed all at once with
 * arena_free(); no per-object free. Allocation aborts on out-of-memory.
 */
#ifndef UMBRA_BASE_ARENA_H
#define UMBRA_BASE_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk_t;
typedef struct arena {
	arena_chunk_t *head;
	size_t chunk_size; /* default size of new chunks */
} arena_t;

#define ARENA_INIT {NULL, 0}

/* Zeroed, 16-byte aligned memory owned by the arena. */
void *arena_alloc(arena_t *a, size_t size);
void *arena_array(arena_t *a, size_t nmemb, size_t size);
char *arena_strdup(arena_t *a, const char *s);
char *arena_strndup(arena_t *a, const char *s, size_t n);
char *arena_printf(arena_t *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void arena_free(arena_t *a);

#endif
