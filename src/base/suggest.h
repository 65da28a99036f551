/*
 * suggest.h: "did you mean" for mistyped names (commands, flags, config
 * keys), by Damerau-Levenshtein distance.
 */
#ifndef UMBRA_BASE_SUGGEST_H
#define UMBRA_BASE_SUGGEST_H

#include <stddef.h>

/* The candidate closest to word, or NULL when none is close enough (the
 * distance must be at most a third of the longer string, and at least 1
 * edit is always allowed; a candidate that starts with word also counts).
 * candidates: n strings, borrowed; the result points into them. */
const char *suggest_closest(const char *word, const char *const *candidates,
			    size_t n);

/* Optimal-string-alignment distance, capped at 255. */
unsigned suggest_distance(const char *a, const char *b);

#endif
