/*
 * xmalloc.h: allocation that cannot fail. Out of memory aborts here, in one
 * place, with a message (tmux xmalloc.c); size arithmetic is
 * overflow-checked here too, so callers never multiply sizes themselves.
 * Every function returns new memory the caller owns (free() it).
 */
#ifndef UMBRA_BASE_XMALLOC_H
#define UMBRA_BASE_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

/* Aborts with "out of memory (what)"; for allocators outside this file. */
_Noreturn void xmalloc_oom(const char *what);

#endif
