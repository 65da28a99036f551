/*
 * diff.c: line diffs of config files, for drift findings a person reads.
 *
 * The edit script is Myers' greedy O(ND) algorithm ("An O(ND) Difference
 * Algorithm and Its Variations", Algorithmica 1(2), 1986, section 2),
 * run after stripping the common prefix and suffix, keeping each round's
 * frontier for the walk back. The frontier trace costs O(D^2) memory, so
 * D is bounded (PROV_DIFF_MAX_EDITS): past it the files are "too
 * different" and only a summary is given, which is also what a reader
 * could use. The output is the unified format of `diff -u`.
 *
 * A line includes its '\n', so a missing newline at the end of a file is
 * a difference (shown as "\ No newline at end of file", as diff does).
 */
#include "provision/drift.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct line {
	const char *p;
	size_t n; /* with the '\n' when there is one */
	uint64_t h;
} line_t;

static uint64_t fnv64(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
	return h;
}

/* Splits text into lines; NULL and ERR_TOOBIG past the bound. */
static line_t *split(const char *t, size_t len, size_t *n, int *rc)
{
	size_t cnt = 0;
	for (size_t i = 0; i < len; i++)
		cnt += t[i] == '\n';
	if (len && t[len - 1] != '\n')
		cnt++;
	*n = cnt;
	if (cnt > PROV_DIFF_MAX_LINES) {
		*rc = ERR_TOOBIG;
		return NULL;
	}
	line_t *v = xcalloc(cnt ? cnt : 1, sizeof(line_t));
	size_t k = 0, start = 0;
	for (size_t i = 0; i < len; i++) {
		if (t[i] != '\n')
			continue;
		v[k].p = t + start;
		v[k].n = i + 1 - start;
		v[k].h = fnv64(v[k].p, v[k].n);
		k++;
		start = i + 1;
	}
	if (start < len) {
		v[k].p = t + start;
		v[k].n = len - start;
		v[k].h = fnv64(v[k].p, v[k].n);
	}
	*rc = 0;
	return v;
}

static bool eq(const line_t *a, const line_t *b)
{
	return a->h == b->h && a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

typedef struct script {
	prov_edit_t *v;
	size_t n, cap;
} script_t;

static void push(script_t *s, char op, size_t a, size_t b)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xreallocarray(s->v, s->cap, sizeof(prov_edit_t));
	}
	s->v[s->n++] = (prov_edit_t){op, a, b};
}

/* Myers on a[0..N) and b[0..M); appends the middle part's edits (in
 * order) to s, with line indices offset by off. */
static int myers(const line_t *a, long N, const line_t *b, long M, size_t off_a,
		 size_t off_b, script_t *s)
{
	long max = N + M;
	if (max > PROV_DIFF_MAX_EDITS)
		max = PROV_DIFF_MAX_EDITS;
	/* trace[d] holds V[-d..d] after round d: x of the furthest path on
	 * diagonal k = x - y. */
	int32_t **trace = xcalloc((size_t)max + 1, sizeof(int32_t *));
	long *v = xcalloc(2 * (size_t)max + 3, sizeof(long));
	long offv = max + 1;
	long found = -1;
	for (long d = 0; d <= max && found < 0; d++) {
		for (long k = -d; k <= d; k += 2) {
			long x;
			if (k == -d ||
			    (k != d && v[offv + k - 1] < v[offv + k + 1]))
				x = v[offv + k + 1]; /* down: insertion */
			else
				x = v[offv + k - 1] + 1; /* right: deletion */
			long y = x - k;
			while (x < N && y < M && eq(&a[x], &b[y])) {
				x++;
				y++;
			}
			v[offv + k] = x;
			if (x >= N && y >= M) {
				found = d;
				break;
			}
		}
		trace[d] = xcalloc(2 * (size_t)d + 1, sizeof(int32_t));
		for (long k = -d; k <= d; k++)
			trace[d][k + d] = (int32_t)v[offv + k];
	}
	int rc = 0;
	if (found < 0) {
		rc = ERR_TOOBIG;
	} else {
		/* Walk back from (N, M), collecting edits in reverse:
		 * round d moved from diagonal pk (after round d-1) by one
		 * insertion or deletion, then followed a snake. */
		script_t rev = {0};
		long x = N, y = M;
		for (long d = found; d > 0; d--) {
			long k = x - y;
			const int32_t *pv = trace[d - 1]; /* index k + (d-1) */
			long pk = (k == -d || (k != d && pv[k - 1 + d - 1] <
							     pv[k + 1 + d - 1]))
				      ? k + 1
				      : k - 1;
			long px = pv[pk + d - 1], py = px - pk;
			while (x > px && y > py) {
				x--;
				y--;
				push(&rev, '=', off_a + (size_t)x,
				     off_b + (size_t)y);
			}
			if (x == px) { /* came down: b[py] inserted */
				y--;
				push(&rev, '+', off_a + (size_t)x,
				     off_b + (size_t)y);
			} else { /* came right: a[px] deleted */
				x--;
				push(&rev, '-', off_a + (size_t)x,
				     off_b + (size_t)y);
			}
		}
		while (x > 0 && y > 0) {
			x--;
			y--;
			push(&rev, '=', off_a + (size_t)x, off_b + (size_t)y);
		}
		for (size_t i = rev.n; i-- > 0;)
			push(s, rev.v[i].op, rev.v[i].a, rev.v[i].b);
		free(rev.v);
	}
	for (long d = 0; d <= max; d++)
		free(trace[d]);
	free(trace);
	free(v);
	return rc;
}

static int script_of(const line_t *la, size_t na, const line_t *lb, size_t nb,
		     script_t *s)
{
	size_t pre = 0, suf = 0;
	while (pre < na && pre < nb && eq(&la[pre], &lb[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre &&
	       eq(&la[na - 1 - suf], &lb[nb - 1 - suf]))
		suf++;
	for (size_t i = 0; i < pre; i++)
		push(s, '=', i, i);
	int rc = myers(la + pre, (long)(na - pre - suf), lb + pre,
		       (long)(nb - pre - suf), pre, pre, s);
	for (size_t i = 0; i < suf && !rc; i++)
		push(s, '=', na - suf + i, nb - suf + i);
	return rc;
}

int prov_diff_script(const char *a, size_t alen, const char *b, size_t blen,
		     prov_edit_t **edits, size_t *n)
{
	size_t na, nb;
	int rc;
	*edits = NULL;
	*n = 0;
	line_t *la = split(a, alen, &na, &rc);
	if (!la)
		return rc;
	line_t *lb = split(b, blen, &nb, &rc);
	if (!lb) {
		free(la);
		return rc;
	}
	script_t s = {0};
	rc = script_of(la, na, lb, nb, &s);
	free(la);
	free(lb);
	if (rc) {
		free(s.v);
		return rc;
	}
	*edits = s.v;
	*n = s.n;
	return 0;
}

/* ------------------------------------------------------------ unified */

static void put_line(buf_t *out, char mark, const line_t *l)
{
	buf_putc(out, mark);
	buf_append(out, l->p, l->n);
	if (!l->n || l->p[l->n - 1] != '\n')
		buf_puts(out, "\n\\ No newline at end of file\n");
}

static void range(buf_t *out, char sign, size_t start0, size_t count)
{
	if (count == 1)
		buf_printf(out, "%c%zu", sign, start0 + 1);
	else
		buf_printf(out, "%c%zu,%zu", sign, count ? start0 + 1 : start0,
			   count);
}

int prov_diff_unified(const char *a, size_t alen, const char *b, size_t blen,
		      const char *aname, const char *bname, buf_t *out,
		      int *first_line)
{
	size_t na, nb;
	int rc;
	if (first_line)
		*first_line = 0;
	line_t *la = split(a, alen, &na, &rc), *lb = NULL;
	if (la)
		lb = split(b, blen, &nb, &rc);
	script_t s = {0};
	if (la && lb)
		rc = script_of(la, na, lb, nb, &s);
	if (rc) {
		buf_printf(out,
			   "--- %s\n+++ %s\n(too different for a readable "
			   "diff: more than %d changed lines or %d lines)\n",
			   aname, bname, PROV_DIFF_MAX_EDITS,
			   PROV_DIFF_MAX_LINES);
		free(la);
		free(lb);
		free(s.v);
		return ERR_TOOBIG;
	}
	bool any = false;
	for (size_t i = 0; i < s.n && !any; i++)
		any = s.v[i].op != '=';
	if (!any) {
		free(la);
		free(lb);
		free(s.v);
		return 0;
	}
	buf_printf(out, "--- %s\n+++ %s\n", aname, bname);
	size_t i = 0;
	while (i < s.n) {
		/* Next change; the hunk starts CONTEXT edits before it. */
		while (i < s.n && s.v[i].op == '=')
			i++;
		if (i == s.n)
			break;
		if (first_line && !*first_line)
			*first_line = (int)s.v[i].a + 1;
		size_t start =
		    i > PROV_DIFF_CONTEXT ? i - PROV_DIFF_CONTEXT : 0;
		/* Extend while the next change is within 2 x CONTEXT. */
		size_t end = i, eqrun = 0;
		for (size_t j = i; j < s.n; j++) {
			if (s.v[j].op == '=') {
				if (++eqrun > 2 * PROV_DIFF_CONTEXT)
					break;
			} else {
				eqrun = 0;
				end = j + 1;
			}
		}
		size_t stop = end + PROV_DIFF_CONTEXT < s.n
				  ? end + PROV_DIFF_CONTEXT
				  : s.n;
		size_t ca = 0, cb = 0;
		for (size_t j = start; j < stop; j++) {
			ca += s.v[j].op != '+';
			cb += s.v[j].op != '-';
		}
		buf_puts(out, "@@ ");
		range(out, '-', s.v[start].a, ca);
		buf_putc(out, ' ');
		range(out, '+', s.v[start].b, cb);
		buf_puts(out, " @@\n");
		for (size_t j = start; j < stop; j++) {
			const prov_edit_t *e = &s.v[j];
			if (e->op == '+')
				put_line(out, '+', &lb[e->b]);
			else
				put_line(out, e->op == '-' ? '-' : ' ',
					 &la[e->a]);
		}
		i = stop;
	}
	free(la);
	free(lb);
	free(s.v);
	return 1;
}
