/*
 * buf.h: a growable byte buffer. The buffer owns its storage; data is
 * always NUL-terminated one past len (so it can be used as a C string when
 * it holds text) but may contain NULs. Growth aborts on out-of-memory
 * (xmalloc.h).
 */
#ifndef UMBRA_BASE_BUF_H
#define UMBRA_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
} buf_t;

#define BUF_INIT {NULL, 0, 0}

/* Grows b to hold need bytes (need > cap); the slow half of the
 * inline functions below, which every walker and writer calls per
 * token. */
void buf__grow(buf_t *b, size_t need);

/* Room for extra more bytes plus the terminating NUL. */
static inline void buf_reserve(buf_t *b, size_t extra)
{
	if (__builtin_expect(extra >= b->cap - b->len, 0)) {
		if (extra > SIZE_MAX - b->len - 1)
			buf__grow(b, SIZE_MAX); /* aborts: overflow */
		buf__grow(b, b->len + extra + 1);
	}
}

static inline void buf_append(buf_t *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static inline void buf_putc(buf_t *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void buf_puts(buf_t *b, const char *s);
/* Appends v in decimal: what header writers use per message, where
 * buf_printf's vsnprintf was a measurable share of the time. */
void buf_put_u64(buf_t *b, uint64_t v);
void buf_printf(buf_t *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(buf_t *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Drops the first n bytes (n <= len). */
void buf_consume(buf_t *b, size_t n);
void buf_reset(buf_t *b);
void buf_free(buf_t *b);
/* Returns the contents as a new string the caller owns; b is left empty. */
char *buf_steal(buf_t *b);

#endif
