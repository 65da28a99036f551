/*
 * render.c: the small pure pieces of provisioning: placeholder rendering
 * (command words, environment values, config files), port rebasing for
 * attached processes, restart backoff, and names.
 */
#include "provision/provision.h"

#include "base/xmalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *prov_side_name(prov_side_t side)
{
	return side == PROV_SHADOW     ? "shadow"
	       : side == PROV_BASELINE ? "baseline"
				       : "production";
}

const char *prov_ev_name(prov_ev_kind_t k)
{
	switch (k) {
	case PROV_EV_UP:
		return "up";
	case PROV_EV_DOWN:
		return "down";
	case PROV_EV_FAILED:
		return "failed";
	case PROV_EV_REMOVED:
		return "removed";
	}
	return "?";
}

/* The value of placeholder name[0..n-1], or NULL when it is not one. The
 * number placeholders render into num. */
static const char *lookup(const char *name, size_t n, const prov_vars_t *v,
			  char num[16])
{
#define IS(k) (n == sizeof(k) - 1 && memcmp(name, k, n) == 0)
	if (IS("port")) {
		snprintf(num, 16, "%d", v->port);
		return num;
	}
	if (IS("replica")) {
		snprintf(num, 16, "%d", v->replica);
		return num;
	}
	if (IS("config_dir"))
		return v->config_dir ? v->config_dir : "";
	if (IS("data_dir"))
		return v->data_dir ? v->data_dir : "";
	if (IS("side"))
		return v->side ? v->side : "";
	if (IS("service"))
		return v->service ? v->service : "";
#undef IS
	if (v->extra)
		for (size_t i = 0; i < v->extra->n; i++)
			if (strlen(v->extra->v[i].key) == n &&
			    memcmp(v->extra->v[i].key, name, n) == 0)
				return v->extra->v[i].value;
	return NULL;
}

/* The end of a placeholder name starting at s[i] (after '{'): the index
 * of its '}', or 0 when s[i..] is not a name followed by '}'. */
static size_t name_end(const char *s, size_t len, size_t i)
{
	size_t j = i;
	while (j < len && (islower((unsigned char)s[j]) || s[j] == '_' ||
			   (j > i && isdigit((unsigned char)s[j]))))
		j++;
	return j < len && s[j] == '}' && j > i ? j : 0;
}

#define PROV_VAR_NAME_MAX 63 /* a placeholder, not a sentence */

bool prov_var_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (!n || n > PROV_VAR_NAME_MAX || !islower((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)name[i]) &&
		    !isdigit((unsigned char)name[i]) && name[i] != '_')
			return false;
	char num[16];
	prov_vars_t none = {0};
	return lookup(name, n, &none, num) == NULL;
}

size_t prov_placeholders_unknown(const char *s, size_t len,
				 const config_map_t *extra, prov_unknown_cb fn,
				 void *arg)
{
	prov_vars_t v = {.extra = extra};
	size_t found = 0;
	int line = 1;
	size_t bol = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			line++;
			bol = i + 1;
			continue;
		}
		if (s[i] != '{' || (i > 0 && s[i - 1] == '$'))
			continue;
		size_t j = name_end(s, len, i + 1);
		if (!j)
			continue;
		char num[16];
		if (!lookup(s + i + 1, j - i - 1, &v, num)) {
			found++;
			if (fn)
				fn(s + i + 1, j - i - 1, line,
				   (int)(i - bol) + 1, arg);
		}
		i = j;
	}
	return found;
}

bool prov_uses_placeholders(const char *s, size_t len,
			    const config_map_t *extra)
{
	prov_vars_t v = {.extra = extra};
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '{')
			continue;
		size_t j = name_end(s, len, i + 1);
		char num[16];
		if (j && lookup(s + i + 1, j - i - 1, &v, num))
			return true;
	}
	return false;
}

void prov_render(const char *s, size_t len, const prov_vars_t *v, buf_t *out)
{
	size_t i = 0, lit = 0;
	while (i < len) {
		if (s[i] != '{') {
			i++;
			continue;
		}
		size_t j = name_end(s, len, i + 1);
		char num[16];
		const char *val = j ? lookup(s + i + 1, j - i - 1, v, num)
				    : NULL;
		if (!val) {
			i++;
			continue;
		}
		buf_append(out, s + lit, i - lit);
		buf_puts(out, val);
		i = lit = j + 1;
	}
	buf_append(out, s + lit, len - lit);
}

char *prov_render_str(const char *s, const prov_vars_t *v)
{
	buf_t b = BUF_INIT;
	prov_render(s, strlen(s), v, &b);
	return buf_steal(&b);
}

char *prov_port_rebase(const char *s, int from, const char *to)
{
	char pat[16];
	int pl = snprintf(pat, sizeof(pat), "%d", from);
	buf_t b = BUF_INIT;
	size_t lit = 0, n = strlen(s);
	for (size_t i = 0; from > 0 && i + (size_t)pl <= n; i++) {
		if (memcmp(s + i, pat, (size_t)pl) != 0)
			continue;
		/* A whole token: not inside a longer number or word, and
		 * not the integer part of a decimal. */
		char before = i ? s[i - 1] : '\0';
		char after = s[i + (size_t)pl];
		bool ok_b = !before || strchr(":=/ ,@", before);
		bool ok_a = !after || strchr("/ ,", after);
		if (!ok_b || !ok_a)
			continue;
		buf_append(&b, s + lit, i - lit);
		buf_puts(&b, to);
		i += (size_t)pl - 1;
		lit = i + 1;
	}
	buf_append(&b, s + lit, n - lit);
	return buf_steal(&b);
}

int64_t prov_backoff(int64_t base, int64_t max, int n)
{
	if (n < 1)
		n = 1;
	int64_t d = base;
	for (int i = 1; i < n && d < max; i++)
		d = d > max / 2 ? max : d * 2;
	return d < max ? d : max;
}
