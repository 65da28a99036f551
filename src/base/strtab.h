/*
 * strtab.h: a bounded, append-only table of interned strings (endpoint
 * templates such as "GET /users/:id"), shared between threads. Lookups and
 * reads are lock-free; inserts take a mutex, so a worker pays for it once
 * per new name. Names are never removed or changed, so an id handed out is
 * valid for the table's life. When full, new names map to id 0, which is
 * reserved for STRTAB_OTHER ("other"): the table's bound is a hard bound.
 */
#ifndef UMBRA_BASE_STRTAB_H
#define UMBRA_BASE_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#define STRTAB_OTHER 0u     /* id of the catch-all name */
#define STRTAB_NAME_MAX 255 /* longer names are cut */

typedef struct strtab strtab_t;

/* A table for up to max names besides "other". Returns new memory. */
strtab_t *strtab_new(size_t max);
void strtab_free(strtab_t *t);

/* The id of name (len bytes), interning it if new and there is room. */
uint32_t strtab_intern(strtab_t *t, const char *name, size_t len);

/* The name of id (borrowed, valid for the table's life), or NULL. */
const char *strtab_name(const strtab_t *t, uint32_t id);

/* Ids in use, "other" included: 1..max+1. */
uint32_t strtab_count(const strtab_t *t);

#endif
