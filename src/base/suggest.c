/*
 * suggest.c: edit distance and closest-candidate lookup (see suggest.h).
 */
#include "base/suggest.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#define SUGGEST_MAX_LEN 64 /* longer words are never worth a suggestion */

unsigned suggest_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN)
		return 255;
	/* Three rows of the optimal-string-alignment table. */
	unsigned rows[3][SUGGEST_MAX_LEN + 1];
	unsigned *pp = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= m; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++) {
		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= m; j++) {
			unsigned cost = tolower((unsigned char)a[i - 1]) !=
					tolower((unsigned char)b[j - 1]);
			unsigned v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1; /* transposition */
			cur[j] = v;
		}
		unsigned *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[m] > 255 ? 255 : prev[m];
}

const char *suggest_closest(const char *word, const char *const *candidates,
			    size_t n)
{
	const char *best = NULL;
	unsigned best_d = 256;
	size_t wl = strlen(word);
	for (size_t i = 0; i < n; i++) {
		const char *c = candidates[i];
		if (!c)
			continue;
		size_t cl = strlen(c);
		unsigned d = suggest_distance(word, c);
		size_t longer = wl > cl ? wl : cl;
		unsigned limit = (unsigned)((longer + 1) / 3);
		if (limit < 1)
			limit = 1;
		bool prefix = wl >= 3 && strncmp(c, word, wl) == 0;
		if (prefix)
			d = 1;
		if (d <= limit && d < best_d) {
			best = c;
			best_d = d;
		}
	}
	return best;
}
