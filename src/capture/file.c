/*
 * file.c: writing and reading capture files (layout in docs/capture.md).
 *
 * A file is the header, then frames: [len u32][type u8][0 0 0][crc32c
 * u32][payload]. Type 1 is a record; type 2 a zstd chunk whose
 * decompressed bytes are whole type-1 frames. The CRC covers the first
 * eight bytes and the payload, so a torn length is caught too.
 *
 * Writer: records are masked (cap_mask_apply), encoded, and appended to
 * an output buffer that goes out with write(2) in whole frames, so a
 * crash leaves the file ending in complete frames plus at most one torn
 * one. Compressed files use one zstd stream per CAP_ZSTD_BLOCK of input,
 * flushed after every record (ZSTD_e_flush): each chunk frame decodes on
 * its own given the ones before, and the record it ends with is
 * complete; a crash costs at most the unfinished record here too.
 *
 * Reader: one frame at a time, every length bounded before it is used
 * (CAP_FRAME_MAX, the file's remaining size, CAP_CHUNK_OUT_MAX for zstd
 * output); the first bad frame stops it for good, with the byte offset.
 */
#include "capture/capture.h"
#include "capture/gor.h"
#include "capture/stats.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/fault.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define FRAME_RECORD 1
#define FRAME_ZSTD 2
#define READ_BLOCK (256 * 1024)   /* bytes asked of read(2) at a time */
#define READ_GROW_MAX (4u << 20) /* growth per read: memory follows the
				     bytes that really arrive */
#define ZSTD_WINDOW_LOG_MAX 25    /* 32 MiB: zstd's levels 1..19 stay
				     within 8 MiB; bounds a hostile file */

static void put32le(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32le(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Appends a frame of type with payload p[0..n) to out. */
static void frame_append(buf_t *out, int type, const void *p, size_t n)
{
	unsigned char h[CAP_FRAME_HEAD] = {0};
	put32le(h, (uint32_t)n);
	h[4] = (unsigned char)type;
	uint32_t crc = cap_crc32c(0, h, 8);
	crc = cap_crc32c(crc, p, n);
	put32le(h + 8, crc);
	buf_append(out, h, sizeof(h));
	buf_append(out, p, n);
}

/* =============================================================== writer */

struct cap_writer {
	int fd;
	char *name;
	cap_writer_opts_t o;
	const cap_masker_t *masker;
	buf_t out;     /* file bytes not yet written */
	buf_t frame;   /* one record frame */
	buf_t payload; /* one record payload */
	buf_t scratch; /* the masker's */
	buf_t chunk;   /* compressed bytes of one chunk */
	ZSTD_CCtx *zc;
	uint64_t block_in; /* bytes fed to the current zstd frame */
	bool in_block;
	uint64_t pending_loss[CAP_LOSS__COUNT];
	int err;
	cap_writer_stats_t st;
};

static void writer_header(cap_writer_t *w)
{
	cap_meta_t m = {0};
	m.version = CAP_VERSION;
	m.zstd = w->o.zstd;
	snprintf(m.source, sizeof(m.source), "%s",
		 w->o.source ? w->o.source : "");
	snprintf(m.service, sizeof(m.service), "%s",
		 w->o.service ? w->o.service : "");
	snprintf(m.masking, sizeof(m.masking), "%s", w->masker->name);
	clock_iso8601(clock_wall_ns(), m.created);
	cap_header_encode(&m, &w->out);
}

cap_writer_t *cap_writer_fdopen(int fd, const char *name,
				const cap_writer_opts_t *o)
{
	cap_writer_t *w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->name = xstrdup(name ? name : "-");
	if (o)
		w->o = *o;
	if (!w->o.flush_bytes)
		w->o.flush_bytes = CAP_WRITER_FLUSH;
	w->masker = w->o.masker ? w->o.masker : &cap_mask_passthrough;
	if (w->o.zstd && !w->o.gor) {
		w->zc = ZSTD_createCCtx();
		if (!w->zc)
			xmalloc_oom("ZSTD_createCCtx");
		if (w->o.zstd_level)
			ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel,
					       w->o.zstd_level);
	}
	if (!w->o.gor)
		writer_header(w);
	return w;
}

int cap_writer_open(const char *path, bool force, const cap_writer_opts_t *o,
		    cap_writer_t **out)
{
	*out = NULL;
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC |
		    (force ? O_TRUNC : O_EXCL);
	int rc = fault_sim(FAULT_CAPTURE_WRITE);
	if (rc)
		return rc;
	/* Captures hold (masked) traffic: private, also when --force
	 * overwrites a file that had another mode (a FIFO or a device
	 * keeps its own). */
	int fd = open(path, flags, 0600);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb) != 0 ||
	    (S_ISREG(sb.st_mode) && fchmod(fd, 0600) != 0)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*out = cap_writer_fdopen(fd, path, o);
	/* the header goes out at once: a file that exists is readable */
	rc = cap_writer_flush(*out);
	if (rc) {
		cap_writer_close(*out);
		*out = NULL;
		unlink(path);
	}
	return rc;
}

/* Writes all of w->out. Sticky error. */
static int write_out(cap_writer_t *w)
{
	if (w->err)
		return w->err;
	size_t off = 0;
	int rc = fault_sim(FAULT_CAPTURE_WRITE);
	while (!rc && off < w->out.len) {
		ssize_t n = write(w->fd, w->out.data + off, w->out.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else
			off += (size_t)n;
	}
	w->st.bytes += off;
	buf_consume(&w->out, off);
	if (rc)
		w->err = rc;
	return rc;
}

/* Compresses in[0..n) into chunk frames appended to w->out; end closes
 * the zstd frame. */
static int zstd_feed(cap_writer_t *w, const void *in, size_t n, bool end)
{
	ZSTD_inBuffer ib = {in, n, 0};
	ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_flush;
	w->chunk.len = 0;
	for (;;) {
		buf_reserve(&w->chunk, ZSTD_CStreamOutSize());
		ZSTD_outBuffer ob = {w->chunk.data + w->chunk.len,
				     w->chunk.cap - w->chunk.len - 1, 0};
		size_t left = ZSTD_compressStream2(w->zc, &ob, &ib, mode);
		if (ZSTD_isError(left))
			return ERR_INVAL;
		w->chunk.len += ob.pos;
		if (left == 0 && ib.pos == ib.size)
			break;
	}
	frame_append(&w->out, FRAME_ZSTD, w->chunk.data, w->chunk.len);
	w->in_block = !end;
	w->block_in = end ? 0 : w->block_in + n;
	return 0;
}

/* Appends one record (encoded) to the output. */
static int append_record(cap_writer_t *w, const cap_rec_t *rec)
{
	if (w->o.gor) {
		size_t before = w->out.len;
		if (rec->kind == CAP_KIND_LOSS) {
			for (int i = 0; i < CAP_LOSS__COUNT; i++)
				w->st.loss[i] += rec->loss[i];
			return 0;
		}
		cap_gor_encode(rec, &w->out);
		w->st.raw_bytes += w->out.len - before;
		w->st.records++;
		return 0;
	}
	w->payload.len = 0;
	cap_rec_encode(rec, &w->payload);
	w->frame.len = 0;
	frame_append(&w->frame, FRAME_RECORD, w->payload.data,
		     w->payload.len);
	w->st.raw_bytes += w->frame.len;
	if (w->zc) {
		bool end = w->block_in + w->frame.len >= CAP_ZSTD_BLOCK;
		int rc = zstd_feed(w, w->frame.data, w->frame.len, end);
		if (rc)
			return rc;
	} else {
		buf_append(&w->out, w->frame.data, w->frame.len);
	}
	if (rec->kind == CAP_KIND_LOSS)
		for (int i = 0; i < CAP_LOSS__COUNT; i++)
			w->st.loss[i] += rec->loss[i];
	else
		w->st.records++;
	return 0;
}

static int flush_pending_loss(cap_writer_t *w)
{
	cap_rec_t l = {.kind = CAP_KIND_LOSS};
	bool any = false;
	for (int i = 0; i < CAP_LOSS__COUNT; i++) {
		l.loss[i] = w->pending_loss[i];
		any = any || l.loss[i];
	}
	if (!any)
		return 0;
	l.req_ns = clock_wall_ns();
	memset(w->pending_loss, 0, sizeof(w->pending_loss));
	return append_record(w, &l);
}

int cap_writer_write(cap_writer_t *w, cap_rec_t *rec)
{
	if (w->err)
		return w->err;
	const char *why;
	if (rec->kind == CAP_KIND_EXCHANGE && w->o.filter &&
	    !cap_filter_match(w->o.filter, rec)) {
		w->st.filtered++;
		return 1;
	}
	if (cap_mask_apply(w->masker, rec, &w->scratch, &why)) {
		w->st.mask_refused++;
		w->pending_loss[CAP_LOSS_MASK]++;
		return 1;
	}
	if (cap_rec_check(rec, &why))
		return ERR_INVAL;
	int rc = append_record(w, rec);
	if (rc)
		return rc;
	if (w->out.len >= w->o.flush_bytes)
		return write_out(w);
	return 0;
}

int cap_writer_flush(cap_writer_t *w)
{
	int rc = flush_pending_loss(w);
	if (rc)
		return rc;
	return write_out(w);
}

int cap_writer_close(cap_writer_t *w)
{
	if (!w)
		return 0;
	int rc = flush_pending_loss(w);
	if (!rc && w->zc && w->in_block)
		rc = zstd_feed(w, NULL, 0, true);
	if (!rc)
		rc = write_out(w);
	if (!rc && fsync(w->fd) != 0 && errno != EINVAL && errno != EROFS)
		rc = -errno;
	if (w->fd >= 0 && close(w->fd) != 0 && !rc)
		rc = -errno;
	if (!rc)
		rc = w->err;
	ZSTD_freeCCtx(w->zc);
	buf_free(&w->out);
	buf_free(&w->frame);
	buf_free(&w->payload);
	buf_free(&w->scratch);
	buf_free(&w->chunk);
	free(w->name);
	free(w);
	return rc;
}

const cap_writer_stats_t *cap_writer_stats(const cap_writer_t *w)
{
	return &w->st;
}

/* =============================================================== reader */

struct cap_reader {
	int fd;
	const char *mem;   /* memory reader: the whole input */
	size_t mem_len;
	char name[256];
	bool regular;      /* a regular file: its size is known */
	uint64_t size;
	/* input: bytes buf[start..end) are at file offset off */
	char *buf;
	size_t start, end, cap;
	uint64_t off;
	bool eof;
	cap_meta_t meta;
	bool have_header;
	/* decompressed inner frames of the current chunk */
	ZSTD_DCtx *dc;
	buf_t zout;
	size_t zpos;
	uint64_t chunk_off;
	uint64_t rec_off;
	int err; /* 0 while reading; the stop reason after */
	bool stopped;
	char msg[640];
};

static cap_reader_t *reader_new(const char *name)
{
	cap_reader_t *r = xcalloc(1, sizeof(*r));
	r->fd = -1;
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "-");
	return r;
}

cap_reader_t *cap_reader_fdopen(int fd, const char *name)
{
	cap_reader_t *r = reader_new(name);
	r->fd = fd;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		r->regular = true;
		r->size = (uint64_t)st.st_size;
	}
	return r;
}

cap_reader_t *cap_reader_mem(const void *data, size_t len, const char *name)
{
	cap_reader_t *r = reader_new(name);
	r->mem = data;
	r->mem_len = len;
	r->regular = true;
	r->size = len;
	return r;
}

static int stop(cap_reader_t *r, int err, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int stop(cap_reader_t *r, int err, uint64_t at, const char *fmt, ...)
{
	char why[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(r->msg, sizeof(r->msg), "%s: byte %llu: %s", r->name,
		 (unsigned long long)at, why);
	r->stopped = true;
	r->err = err;
	return err;
}

/* Makes n bytes available at buf[start..]. 0, ERR_EOF when the input
 * ends first (what there is stays available), or -errno. */
static int ensure(cap_reader_t *r, size_t n)
{
	if (r->mem) {
		r->buf = (char *)r->mem;
		r->end = r->mem_len;
		return r->end - r->start >= n ? 0 : ERR_EOF;
	}
	while (r->end - r->start < n) {
		if (r->eof)
			return ERR_EOF;
		if (r->start > 0 && r->start == r->end) {
			r->start = r->end = 0;
		} else if (r->start > 0 && r->cap - r->start < n) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		/* grow as data comes, never ahead of it: a bogus length
		 * costs memory only when the bytes are really there */
		size_t want = n - (r->end - r->start);
		if (want > READ_GROW_MAX)
			want = READ_GROW_MAX;
		if (want < READ_BLOCK)
			want = READ_BLOCK;
		if (r->cap - r->end < want) {
			size_t nc = r->end + want;
			r->buf = xreallocarray(r->buf, nc, 1);
			r->cap = nc;
		}
		ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return ERR_AGAIN; /* a non-blocking socket: later */
		if (got < 0)
			return -errno;
		if (got == 0) {
			r->eof = true;
			return ERR_EOF;
		}
		r->end += (size_t)got;
	}
	return 0;
}

static void advance(cap_reader_t *r, size_t n)
{
	r->start += n;
	r->off += n;
}

static int read_header(cap_reader_t *r)
{
	size_t need = CAP_HEADER_FIXED;
	for (;;) {
		int rc = ensure(r, need);
		size_t have = r->end - r->start;
		const char *why = "";
		int h = cap_header_decode(r->buf ? r->buf + r->start : "",
					  have, &r->meta, &why);
		if (h > 0) {
			advance(r, (size_t)h);
			r->have_header = true;
			if (r->meta.error[0])
				return stop(r, ERR_BADSTATE, 0, "%s",
					    r->meta.error);
			return 0;
		}
		if (h != ERR_AGAIN)
			return stop(r, ERR_CORRUPT, 0, "%s", why);
		if (rc == ERR_AGAIN)
			return ERR_AGAIN;
		if (rc == ERR_EOF)
			return stop(r, ERR_EOF, r->off + have,
				    have ? "truncated header"
					 : "empty file (no header)");
		if (rc < 0)
			return stop(r, rc, r->off + have, "read: %s",
				    err_str(rc));
		/* the fixed part says how long the metadata is */
		if (have >= CAP_HEADER_FIXED) {
			const unsigned char *p =
				(const unsigned char *)r->buf + r->start;
			need = CAP_HEADER_FIXED + get32le(p + 12);
		}
	}
}

int cap_reader_open(const char *path, cap_reader_t **out, char *err,
		    size_t errcap)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		snprintf(err, errcap, "%s: %s", path, err_str(e));
		return e;
	}
	cap_reader_t *r = cap_reader_fdopen(fd, path);
	/* the header now, so that a wrong file fails at open */
	int rc = read_header(r);
	if (rc) {
		snprintf(err, errcap, "%s", r->msg);
		cap_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Checks the frame header at p; sets *len and *type. */
static int frame_head(cap_reader_t *r, const unsigned char *p, uint64_t at,
		      uint32_t *len, int *type, uint64_t remaining)
{
	*len = get32le(p);
	*type = p[4];
	if (*type != FRAME_RECORD && *type != FRAME_ZSTD)
		return stop(r, ERR_CORRUPT, at, "unknown frame type %d",
			    *type);
	if (p[5] || p[6] || p[7])
		return stop(r, ERR_CORRUPT, at, "reserved frame bytes not zero");
	if (*len > CAP_FRAME_MAX)
		return stop(r, ERR_CORRUPT, at,
			    "frame length %u over the limit (%u)", *len,
			    (unsigned)CAP_FRAME_MAX);
	if (*len > remaining)
		return stop(r, ERR_EOF, at,
			    "truncated record (%llu of %u bytes present)",
			    (unsigned long long)remaining, *len);
	return 0;
}

static bool crc_ok(const unsigned char *h, const char *payload, uint32_t len)
{
	uint32_t crc = cap_crc32c(0, h, 8);
	crc = cap_crc32c(crc, payload, len);
	return crc == get32le(h + 8);
}

/* The next record frame from the current chunk's decompressed bytes. */
static int next_inner(cap_reader_t *r, cap_rec_t *rec)
{
	size_t left = r->zout.len - r->zpos;
	const unsigned char *p = (const unsigned char *)r->zout.data + r->zpos;
	uint32_t len;
	int type;
	if (left < CAP_FRAME_HEAD)
		return stop(r, ERR_CORRUPT, r->chunk_off,
			    "compressed chunk ends mid-record");
	if (frame_head(r, p, r->chunk_off, &len, &type,
		       left - CAP_FRAME_HEAD))
		return r->err == ERR_EOF ? (r->err = ERR_CORRUPT) : r->err;
	if (type != FRAME_RECORD)
		return stop(r, ERR_CORRUPT, r->chunk_off,
			    "compressed chunk inside a chunk");
	const char *payload = (const char *)p + CAP_FRAME_HEAD;
	if (!crc_ok(p, payload, len))
		return stop(r, ERR_CORRUPT, r->chunk_off,
			    "checksum mismatch in a compressed record");
	const char *why;
	if (cap_rec_decode(payload, len, rec, &why))
		return stop(r, ERR_CORRUPT, r->chunk_off, "%s", why);
	r->zpos += CAP_FRAME_HEAD + len;
	r->rec_off = r->chunk_off;
	return 1;
}

/* Decompresses a chunk's payload into r->zout. */
static int inflate_chunk(cap_reader_t *r, const char *p, uint32_t len,
			 uint64_t at)
{
	if (!r->dc) {
		r->dc = ZSTD_createDCtx();
		if (!r->dc)
			xmalloc_oom("ZSTD_createDCtx");
		ZSTD_DCtx_setParameter(r->dc, ZSTD_d_windowLogMax,
				       ZSTD_WINDOW_LOG_MAX);
	}
	r->zout.len = 0;
	r->zpos = 0;
	ZSTD_inBuffer ib = {p, len, 0};
	for (;;) {
		size_t room = r->zout.cap > r->zout.len + 1
				      ? r->zout.cap - r->zout.len - 1
				      : 0;
		if (room < 64 * 1024) {
			buf_reserve(&r->zout, 256 * 1024);
			room = r->zout.cap - r->zout.len - 1;
		}
		ZSTD_outBuffer ob = {r->zout.data + r->zout.len, room, 0};
		size_t rc = ZSTD_decompressStream(r->dc, &ob, &ib);
		if (ZSTD_isError(rc))
			return stop(r, ERR_CORRUPT, at, "zstd: %s",
				    ZSTD_getErrorName(rc));
		r->zout.len += ob.pos;
		if (r->zout.len > CAP_CHUNK_OUT_MAX)
			return stop(r, ERR_CORRUPT, at,
				    "compressed chunk expands past %u bytes",
				    (unsigned)CAP_CHUNK_OUT_MAX);
		if (ib.pos == ib.size && ob.pos < ob.size)
			break;
	}
	r->chunk_off = at;
	return 0;
}

int cap_reader_next(cap_reader_t *r, cap_rec_t *rec)
{
	if (r->stopped)
		return r->err;
	if (!r->have_header) {
		int rc = read_header(r);
		if (rc)
			return rc;
	}
	for (;;) {
		if (r->zpos < r->zout.len)
			return next_inner(r, rec);
		uint64_t at = r->off;
		int rc = ensure(r, CAP_FRAME_HEAD);
		if (rc == ERR_AGAIN)
			return ERR_AGAIN;
		size_t have = r->end - r->start;
		if (rc == ERR_EOF) {
			if (have == 0) {
				r->stopped = true;
				r->err = 0;
				return 0;
			}
			return stop(r, ERR_EOF, at,
				    "truncated record (%zu of %d header "
				    "bytes present)",
				    have, CAP_FRAME_HEAD);
		}
		if (rc < 0)
			return stop(r, rc, at, "read: %s", err_str(rc));
		const unsigned char *h =
			(const unsigned char *)r->buf + r->start;
		uint32_t len;
		int type;
		uint64_t remaining = r->regular ? r->size - at - CAP_FRAME_HEAD
						: UINT64_MAX;
		if (r->regular && r->size < at + CAP_FRAME_HEAD)
			remaining = 0;
		if (frame_head(r, h, at, &len, &type, remaining))
			return r->err;
		rc = ensure(r, CAP_FRAME_HEAD + (size_t)len);
		if (rc == ERR_AGAIN)
			return ERR_AGAIN;
		if (rc == ERR_EOF)
			return stop(r, ERR_EOF, at,
				    "truncated record (%zu of %u bytes "
				    "present)",
				    r->end - r->start - CAP_FRAME_HEAD, len);
		if (rc < 0)
			return stop(r, rc, at, "read: %s", err_str(rc));
		h = (const unsigned char *)r->buf + r->start;
		const char *payload = r->buf + r->start + CAP_FRAME_HEAD;
		if (!crc_ok(h, payload, len))
			return stop(r, ERR_CORRUPT, at, "checksum mismatch");
		if (type == FRAME_ZSTD) {
			if (!r->meta.zstd)
				return stop(r, ERR_CORRUPT, at,
					    "compressed chunk in a file "
					    "written without compression");
			if (inflate_chunk(r, payload, len, at))
				return r->err;
			advance(r, CAP_FRAME_HEAD + (size_t)len);
			continue;
		}
		const char *why;
		if (cap_rec_decode(payload, len, rec, &why))
			return stop(r, ERR_CORRUPT, at, "%s", why);
		/* the record's slices stay valid until the next call: the
		 * buffer only moves in ensure() */
		advance(r, CAP_FRAME_HEAD + (size_t)len);
		r->rec_off = at;
		return 1;
	}
}

const cap_meta_t *cap_reader_meta(const cap_reader_t *r)
{
	return r->have_header ? &r->meta : NULL;
}

const char *cap_reader_error(const cap_reader_t *r)
{
	return r->stopped && r->err ? r->msg : "";
}

uint64_t cap_reader_offset(const cap_reader_t *r)
{
	return r->off;
}

uint64_t cap_reader_record_offset(const cap_reader_t *r)
{
	return r->rec_off;
}

void cap_reader_close(cap_reader_t *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	if (!r->mem)
		free(r->buf);
	ZSTD_freeDCtx(r->dc);
	buf_free(&r->zout);
	free(r);
}
