/*
 * io.c: the proxy's two buffer shapes. iobuf is a read buffer that
 * compacts before it grows; obuf is an output buffer drained by write(2).
 */
#include "proxy/proxy_int.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void iobuf_reserve(iobuf_t *b, size_t room)
{
	if (b->cap - b->end >= room)
		return;
	size_t len = b->end - b->start;
	if (b->start && b->cap - len >= room) {
		memmove(b->data, b->data + b->start, len);
		b->start = 0;
		b->end = len;
		return;
	}
	size_t cap = b->cap ? b->cap : PROXY_READ_CHUNK;
	while (cap - len < room)
		cap *= 2;
	char *d = xmalloc(cap);
	if (len)
		memcpy(d, b->data + b->start, len);
	free(b->data);
	b->data = d;
	b->cap = cap;
	b->start = 0;
	b->end = len;
}

void iobuf_free(iobuf_t *b)
{
	free(b->data);
	*b = (iobuf_t){0};
}

int obuf_flush(obuf_t *o, int fd, uint64_t *counter)
{
	while (o->off < o->b.len) {
		ssize_t n = write(fd, o->b.data + o->off, o->b.len - o->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return ERR_AGAIN;
			return -errno;
		}
		o->off += (size_t)n;
		if (counter)
			*counter += (uint64_t)n;
	}
	o->off = 0;
	o->b.len = 0;
	/* Large bursts (big bodies) should not pin memory forever. */
	if (o->b.cap > 4 * PROXY_OUT_HIGH)
		buf_free(&o->b);
	return 0;
}
