/*
 * memo.c: a per-context memo of masked values. Traffic repeats its values
 * far more than it invents new ones: the same users' addresses, the same
 * SKUs, statuses and notes, the same tokens for a session. Masking a
 * value is a pure function of its bytes for one masker (rules, detectors
 * and key are fixed when the masker is built), so a value seen before is
 * answered from here: its replacement (or "unchanged") and the sources
 * that hit it, which are replayed into the counters exactly as a scan
 * would have counted them.
 *
 * Pseudonyms are memoised the same way, tagged by kind: the pseudonym
 * of a value is a pure function of its bytes and kind too.
 *
 * A value is stored the second time it is missed in its slot, not the
 * first: a stream of values seen once (a high-cardinality field) then
 * costs a lookup in a small tag array, no slot write, and evicts nothing.
 *
 * Direct-mapped, mask.memo slots of fixed size, allocated with the
 * context on first use: no allocation per value, bounded memory, and a
 * colliding value simply replaces the slot's. Values longer than
 * MASK_MEMO_VALUE_MAX, results that do not fit a slot and scans with
 * detail on (`umbra mask` wants every hit's location) bypass it. The
 * slots hold clear-text values, as the worker's buffers do while a
 * message is masked; they are wiped when the context is freed.
 */
#include "mask/mask_int.h"

#include "base/xmalloc.h"

#include <stdlib.h>
#include <string.h>

struct mmemo_slot {
	uint64_t hash; /* 0: empty */
	uint16_t in_len, out_len;
	uint8_t tag; /* what was memoised: mask__memo_get */
	uint8_t flags; /* MASK_MEMO_CHANGED, MASK_MEMO_SENSITIVE */
	uint8_t nsrc;
	uint16_t src[MASK_MEMO_SOURCES];
	char bytes[MASK_MEMO_BYTES]; /* the value, then its replacement */
};

/* Per slot, 32 bits of the hash of the value held there and of the value
 * last missed there: a lookup reads these (8 KiB for 1024 slots, which
 * stay in cache) and touches a slot only when it may hold the value. */
struct mmemo_tags {
	uint32_t held, seen;
};

/* Eight bytes at a time, multiply-xorshift, the tag mixed in from the
 * start so that a value and its pseudonym (same bytes, other tag) land in
 * unrelated slots: a memo index, not a defence (a value colliding on
 * purpose only evicts another). Never 0. */
static uint64_t memo_hash(uint8_t tag, const char *s, size_t n)
{
	uint64_t h = (0x9e3779b97f4a7c15ULL ^ n) * (2 * (uint64_t)tag + 1);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, s + i, 8);
		h = (h ^ v) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	if (i < n) { /* the last 8 bytes again, or the few there are */
		uint64_t v = 0;
		if (n >= 8)
			memcpy(&v, s + n - 8, 8);
		else
			for (; i < n; i++)
				v = v << 8 | (unsigned char)s[i];
		h = (h ^ v) * 0xc4ceb9fe1a85ec53ULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h | 1;
}

/* a[0..n) == b[0..n), for the memo's short values: word compares, the
 * last word overlapping, instead of a call to memcmp per lookup. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
	uint64_t x, y;
	if (n >= 8) {
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			if (x != y)
				return false;
		}
		memcpy(&x, a + n - 8, 8);
		memcpy(&y, b + n - 8, 8);
		return x == y;
	}
	if (n >= 4) {
		uint32_t u, v, s, t;
		memcpy(&u, a, 4);
		memcpy(&v, b, 4);
		memcpy(&s, a + n - 4, 4);
		memcpy(&t, b + n - 4, 4);
		return u == v && s == t;
	}
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

bool mask__memo_get(mask_ctx_t *c, uint8_t tag, const char *s, size_t n,
		    buf_t *out, uint8_t *flags, uint64_t *key)
{
	*key = 0;
	size_t slots = c->m->memo_slots;
	if (c->detail || n > MASK_MEMO_VALUE_MAX || slots == 0 || c->no_memo)
		return false;
	if (!c->memo) {
		c->memo = xcalloc(slots, sizeof(*c->memo));
		c->memo_tags = xcalloc(slots, sizeof(*c->memo_tags));
	}
	uint64_t h = memo_hash(tag, s, n);
	size_t i = h & (slots - 1);
	mmemo_tags_t *t = &c->memo_tags[i];
	uint32_t th = (uint32_t)(h >> 32) | 1;
	mmemo_slot_t *e = &c->memo[i];
	if (t->held != th || e->hash != h || e->tag != tag || e->in_len != n ||
	    !same_bytes(e->bytes, s, n)) {
		if (t->seen == th)
			*key = h; /* second sight: worth a slot */
		else
			t->seen = th;
		return false;
	}
	for (unsigned k = 0; k < e->nsrc; k++)
		c->counts[e->src[k]]++;
	c->rep.total += e->nsrc;
	if (e->flags & MASK_MEMO_CHANGED)
		buf_append(out, e->bytes + n, e->out_len);
	*flags = e->flags;
	return true;
}

void mask__memo_put(mask_ctx_t *c, uint64_t h, uint8_t tag, const char *s,
		    size_t n, const char *o, size_t on, uint8_t flags,
		    const uint16_t *src, unsigned nsrc)
{
	if (!h || nsrc > MASK_MEMO_SOURCES || n + on > MASK_MEMO_BYTES)
		return;
	size_t i = h & (c->m->memo_slots - 1);
	c->memo_tags[i].held = (uint32_t)(h >> 32) | 1;
	mmemo_slot_t *e = &c->memo[i];
	e->hash = h;
	e->tag = tag;
	e->in_len = (uint16_t)n;
	e->out_len = (uint16_t)on;
	e->flags = flags;
	e->nsrc = (uint8_t)nsrc;
	if (nsrc)
		memcpy(e->src, src, nsrc * sizeof(*src));
	memcpy(e->bytes, s, n);
	if (on)
		memcpy(e->bytes + n, o, on);
}

void mask__memo_free(mask_ctx_t *c)
{
	if (!c->memo)
		return;
	explicit_bzero(c->memo, c->m->memo_slots * sizeof(*c->memo));
	free(c->memo);
	free(c->memo_tags);
	c->memo = NULL;
	c->memo_tags = NULL;
}
