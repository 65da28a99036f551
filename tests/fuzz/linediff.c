/*
 * linediff.c: fuzz target for the line diff behind drift findings (config
 * files are input umbra does not control). The input is two texts split
 * at the first 0xff byte (or in half). Invariants: the edit script, when
 * it is produced, turns a into b line for line, visiting every line of
 * each exactly once in order; the unified diff is empty exactly when the
 * texts are equal, and every line of it is a header, a hunk header, a
 * context/removed/added line or a no-newline marker.
 */
#include "base/buf.h"
#include "base/err.h"
#include "provision/drift.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Start and length of line i of t (with its '\n'). */
static int nth_line(const char *t, size_t n, size_t i, size_t *off, size_t *len)
{
	size_t k = 0, start = 0;
	for (size_t j = 0; j <= n; j++) {
		if (j == n || t[j] == '\n') {
			size_t end = j < n ? j + 1 : j;
			if (end > start) {
				if (k == i) {
					*off = start;
					*len = end - start;
					return 0;
				}
				k++;
			}
			start = end;
		}
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	const char *cut = memchr(d, 0xff, size);
	size_t alen = cut ? (size_t)(cut - d) : size / 2;
	const char *a = d, *b = d + alen + (cut ? 1 : 0);
	size_t blen = size - (size_t)(b - d);
	prov_edit_t *e;
	size_t n;
	int rc = prov_diff_script(a, alen, b, blen, &e, &n);
	if (rc == 0) {
		size_t ia = 0, ib = 0;
		for (size_t i = 0; i < n; i++) {
			size_t ao, al, bo, bl;
			if (e[i].op == '=') {
				if (e[i].a != ia || e[i].b != ib ||
				    nth_line(a, alen, ia, &ao, &al) ||
				    nth_line(b, blen, ib, &bo, &bl) ||
				    al != bl || memcmp(a + ao, b + bo, al))
					abort();
				ia++;
				ib++;
			} else if (e[i].op == '-') {
				if (e[i].a != ia++)
					abort();
			} else if (e[i].op == '+') {
				if (e[i].b != ib++)
					abort();
			} else {
				abort();
			}
		}
		size_t o, l;
		if (!nth_line(a, alen, ia, &o, &l) ||
		    !nth_line(b, blen, ib, &o, &l))
			abort(); /* lines left over */
		free(e);
	} else if (rc != ERR_TOOBIG) {
		abort();
	}
	buf_t out = BUF_INIT;
	int line = -1;
	int u = prov_diff_unified(a, alen, b, blen, "a", "b", &out, &line);
	bool same = alen == blen && !memcmp(a, b, alen);
	if ((u == 0) != same || (u == 0 && out.len) || (u == 1 && line < 1))
		abort();
	if (u == 1) {
		/* Every output line starts with a known mark. Lines of the
		 * inputs may hold any bytes, but not '\n'. */
		for (size_t i = 0; i < out.len;) {
			char c = out.data[i];
			if (!strchr("-+ @\\", c))
				abort();
			const char *nl =
			    memchr(out.data + i, '\n', out.len - i);
			if (!nl)
				abort(); /* output always ends with a newline */
			i = (size_t)(nl - out.data) + 1;
		}
	}
	buf_free(&out);
	return 0;
}
