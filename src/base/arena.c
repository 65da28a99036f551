/*
 * arena.c: bump allocator (see arena.h). Chunks are a singly linked list;
 * a request larger than the chunk size gets a chunk of its own.
 */
#include "base/arena.h"

#include "base/xmalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK_DEFAULT (16 * 1024) /* a config fits in a few chunks */
#define ARENA_ALIGN 16                  /* max_align_t on x86-64 */

struct arena_chunk {
	arena_chunk_t *next;
	size_t used, size;
	_Alignas(ARENA_ALIGN) unsigned char mem[];
};

void *arena_alloc(arena_t *a, size_t size)
{
	if (size > SIZE_MAX - ARENA_ALIGN - sizeof(arena_chunk_t))
		xmalloc_oom("arena_alloc: size overflow");
	size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	arena_chunk_t *c = a->head;
	if (!c || c->size - c->used < size) {
		size_t cs = a->chunk_size ? a->chunk_size : ARENA_CHUNK_DEFAULT;
		if (cs < size)
			cs = size;
		c = xmalloc(sizeof(*c) + cs);
		c->used = 0;
		c->size = cs;
		/* Keep the chunk with the most room at the head. */
		if (a->head && size == cs) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	void *p = c->mem + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

void *arena_array(arena_t *a, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		xmalloc_oom("arena_array: size overflow");
	return arena_alloc(a, nmemb * size);
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = arena_alloc(a, len + 1);
	memcpy(p, s, len);
	return p;
}

char *arena_strdup(arena_t *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_printf(arena_t *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *tmp = xvasprintf(fmt, ap);
	va_end(ap);
	char *p = arena_strdup(a, tmp);
	free(tmp);
	return p;
}

void arena_free(arena_t *a)
{
	arena_chunk_t *c = a->head;
	while (c) {
		arena_chunk_t *n = c->next;
		free(c);
		c = n;
	}
	a->head = NULL;
}
