/*
 * ident.c: learning identity fields (compare.h): response headers that
 * name the instance (X-Side, a host or pod name) rather than describe the
 * response. One learner per proxy worker, fed every compared pair by the
 * worker's thread; once learning is over the state is frozen, so other
 * threads may read it after the worker publishes it (proxy.c).
 *
 * The rule: a header is an identity when it is present on both sides of
 * every compared pair from the first, its values differ between the sides
 * on every pair, and each side keeps to at most CMP_IDENT_VALUES values
 * of its own that the other side never shows (production's replicas may
 * each name themselves). Learning lasts the warm-up and at least
 * CMP_IDENT_MIN_PAIRS pairs. Values are kept as 64-bit FNV-1a hashes
 * (Fowler, Noll, Vo): a collision could only make two values one.
 */
#include "compare/compare.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static bool has_val(const cmp_ident_field_t *f, int side, uint64_t h)
{
	for (unsigned i = 0; i < f->nval[side]; i++)
		if (f->val[side][i] == h)
			return true;
	return false;
}

void cmp_ident_init(cmp_ident_t *id, int64_t learn_ns)
{
	memset(id, 0, sizeof(*id));
	id->learn_ns = learn_ns > 0 ? learn_ns : 0;
}

/* The value of header name in c (names are lower-cased in captures), and
 * how many times it appears. */
static const char *value_of(const cmp_capture_t *c, const char *name,
			    int *count)
{
	const char *p = c->headers.data, *found = NULL;
	*count = 0;
	for (size_t i = 0; i < c->nheaders; i++) {
		const char *n = p;
		p += strlen(p) + 1;
		if (strcmp(n, name) == 0) {
			if (!found)
				found = p;
			(*count)++;
		}
		p += strlen(p) + 1;
	}
	return found;
}

/* Adds value hash h to side's set of f; false when it does not fit or
 * the other side showed it. */
static bool add_val(cmp_ident_field_t *f, int side, uint64_t h)
{
	if (has_val(f, 1 - side, h))
		return false;
	if (has_val(f, side, h))
		return true;
	if (f->nval[side] == CMP_IDENT_VALUES)
		return false;
	f->val[side][f->nval[side]++] = h;
	return true;
}

void cmp_ident_observe(cmp_ident_t *id, const cmp_capture_t *a,
		       const cmp_capture_t *b, int64_t t_ns)
{
	if (id->done)
		return;
	if (!id->started) {
		/* the candidates: every header of the first pair */
		id->started = true;
		id->start_ns = t_ns;
		const char *p = a->headers.data;
		for (size_t i = 0; i < a->nheaders && id->n < CMP_IDENT_FIELDS;
		     i++) {
			const char *n = p;
			p += strlen(p) + 1;
			p += strlen(p) + 1;
			if (strlen(n) >= CMP_IDENT_NAME_MAX)
				continue;
			bool dup = false;
			for (size_t k = 0; k < id->n && !dup; k++)
				dup = strcmp(id->f[k].name, n) == 0;
			if (!dup)
				snprintf(id->f[id->n++].name,
					 CMP_IDENT_NAME_MAX, "%s", n);
		}
	}
	for (size_t k = 0; k < id->n; k++) {
		cmp_ident_field_t *f = &id->f[k];
		if (f->broken)
			continue;
		int ca, cb;
		const char *va = value_of(a, f->name, &ca);
		const char *vb = value_of(b, f->name, &cb);
		if (ca != 1 || cb != 1 || strcmp(va, vb) == 0 ||
		    !add_val(f, 0, fnv1a(va)) || !add_val(f, 1, fnv1a(vb)))
			f->broken = true;
	}
	id->pairs++;
	if (id->pairs >= CMP_IDENT_MIN_PAIRS &&
	    t_ns - id->start_ns >= id->learn_ns)
		id->done = true;
}

bool cmp_ident_skip(const cmp_ident_t *id, const char *name, int side,
		    const char *value)
{
	if (side < 0 || side > 1)
		return false;
	for (size_t k = 0; k < id->n; k++) {
		const cmp_ident_field_t *f = &id->f[k];
		if (f->broken || strcasecmp(f->name, name) != 0)
			continue;
		return has_val(f, side, fnv1a(value));
	}
	return false;
}

size_t cmp_ident_learned(const cmp_ident_t *id, const char **names,
			 size_t cap)
{
	size_t n = 0;
	if (!id->done)
		return 0;
	for (size_t k = 0; k < id->n && n < cap; k++)
		if (!id->f[k].broken)
			names[n++] = id->f[k].name;
	return n;
}
