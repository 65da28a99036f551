/*
 * series.c: in-memory windows (see series.h).
 */
#include "metrics/series.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <stdlib.h>
#include <string.h>

void series_window_init(series_window_t *w, size_t cap)
{
	if (cap < 1)
		cap = 1;
	w->ts = xreallocarray(NULL, cap, sizeof(int64_t));
	w->v = xreallocarray(NULL, cap, sizeof(double));
	w->cap = cap;
	w->head = w->len = 0;
}

void series_window_free(series_window_t *w)
{
	free(w->ts);
	free(w->v);
	memset(w, 0, sizeof(*w));
}

static size_t slot_of(const series_window_t *w, size_t i)
{
	return (w->head + w->cap - w->len + i) % w->cap;
}

int series_window_push(series_window_t *w, int64_t ts, double v)
{
	if (w->len) {
		size_t last = slot_of(w, w->len - 1);
		if (ts < w->ts[last])
			return -1;
		if (ts == w->ts[last]) {
			w->v[last] = v;
			return 0;
		}
	}
	w->ts[w->head] = ts;
	w->v[w->head] = v;
	w->head = (w->head + 1) % w->cap;
	if (w->len < w->cap)
		w->len++;
	return 0;
}

size_t series_window_len(const series_window_t *w)
{
	return w->len;
}

void series_window_at(const series_window_t *w, size_t i, int64_t *ts,
		      double *v)
{
	size_t k = slot_of(w, i);
	if (ts)
		*ts = w->ts[k];
	if (v)
		*v = w->v[k];
}

size_t series_window_since(const series_window_t *w, int64_t since,
			   int64_t *ts, double *v, size_t max)
{
	/* binary search for the first point >= since */
	size_t lo = 0, hi = w->len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->ts[slot_of(w, mid)] < since)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t n = 0;
	for (size_t i = lo; i < w->len && n < max; i++, n++)
		series_window_at(w, i, ts ? &ts[n] : NULL, v ? &v[n] : NULL);
	return n;
}

void series_set_init(series_set_t *s, size_t cap_points)
{
	memset(s, 0, sizeof(*s));
	s->cap_points = cap_points ? cap_points : 1;
}

void series_set_free(series_set_t *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->w[i]) {
			series_window_free(s->w[i]);
			free(s->w[i]);
		}
	}
	free(s->w);
	memset(s, 0, sizeof(*s));
}

int series_set_push(series_set_t *s, uint32_t handle, int64_t ts, double v)
{
	if (handle >= SERIES_SET_MAX)
		return ERR_FULL;
	if (handle >= s->n) {
		size_t n = s->n ? s->n : 64;
		while (n <= handle)
			n *= 2;
		s->w = xreallocarray(s->w, n, sizeof(*s->w));
		memset(s->w + s->n, 0, (n - s->n) * sizeof(*s->w));
		s->n = n;
	}
	if (!s->w[handle]) {
		s->w[handle] = xmalloc(sizeof(series_window_t));
		series_window_init(s->w[handle], s->cap_points);
	}
	series_window_push(s->w[handle], ts, v);
	return 0;
}

const series_window_t *series_set_get(const series_set_t *s,
				      uint32_t handle)
{
	return handle < s->n ? s->w[handle] : NULL;
}
