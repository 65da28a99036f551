/*
 * load.c: YAML tree -> config_t, driven by the field table. Pass one of
 * config loading: every key is looked up in the table, every value typed
 * and bounded by the field's type; unknown keys get a "did you mean".
 * Errors are collected, not returned at the first, so a user fixes a file
 * in one round. Pass two (validate.c) checks the whole.
 */
#include "config/config_int.h"
#include "config/yaml.h"

#include "base/err.h"
#include "base/fault.h"
#include "base/suggest.h"
#include "base/units.h"
#include "base/xmalloc.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* --------------------------------------------------------------- errors */

void config__error(config_errors_t *errs, const char *file, int line, int col,
		   const char *path, const char *fmt, ...)
{
	if (errs->n == CONFIG_MAX_ERRORS) {
		errs->dropped++;
		return;
	}
	config_error_t *e = &errs->v[errs->n++];
	va_list ap;
	va_start(ap, fmt);
	e->msg = xvasprintf(fmt, ap);
	va_end(ap);
	e->file = xstrdup(file ? file : "");
	e->path = xstrdup(path ? path : "");
	e->line = line;
	e->col = col;
}

void config_error_format(const config_error_t *e, buf_t *out)
{
	if (e->file[0] && e->line > 0)
		buf_printf(out, "%s:%d:%d: ", e->file, e->line, e->col);
	else if (e->file[0])
		buf_printf(out, "%s: ", e->file);
	if (e->path[0])
		buf_printf(out, "%s: ", e->path);
	buf_puts(out, e->msg);
}

void config_errors_format(const config_errors_t *errs, buf_t *out)
{
	for (size_t i = 0; i < errs->n; i++) {
		config_error_format(&errs->v[i], out);
		buf_putc(out, '\n');
	}
	if (errs->dropped)
		buf_printf(out, "... and %zu more error%s\n", errs->dropped,
			   errs->dropped == 1 ? "" : "s");
}

void config_errors_free(config_errors_t *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].path);
		free(errs->v[i].msg);
	}
	errs->n = 0;
	errs->dropped = 0;
}

/* --------------------------------------------------------------- marks */

void config__mark(config_t *cfg, const char *path, int line, int col)
{
	config_marks_t *m = cfg->marks;
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->v[i].path, path) == 0) {
			m->v[i].line = line;
			m->v[i].col = col;
			return;
		}
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = xreallocarray(m->v, m->cap, sizeof(*m->v));
	}
	m->v[m->n++] = (config_mark_t){xstrdup(path), line, col, false};
}

void config__mark_quoted(config_t *cfg, const char *path)
{
	config_marks_t *m = cfg->marks;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].path, path) == 0)
			m->v[i].quoted = true;
}

bool config__mark_is_quoted(const config_t *cfg, const char *path)
{
	const config_marks_t *m = cfg->marks;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].path, path) == 0)
			return m->v[i].quoted;
	return false;
}

bool config__mark_of(const config_t *cfg, const char *path, int *line,
		     int *col)
{
	const config_marks_t *m = cfg->marks;
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->v[i].path, path) == 0) {
			*line = m->v[i].line;
			*col = m->v[i].col;
			return true;
		}
	}
	return false;
}

/* --------------------------------------------------------------- expectations */

/* What a field accepts, for "(expected ...)". */
static void expect_text(const config_field_t *f, buf_t *b)
{
	char lo[UNITS_FMT_LEN], hi[UNITS_FMT_LEN];
	switch (f->type) {
	case CT_BOOL:
		buf_puts(b, "true or false");
		break;
	case CT_INT:
		buf_printf(b, "an integer from %.0f to %.0f", f->min, f->max);
		break;
	case CT_REAL:
		buf_printf(b, "a number from %g to %g", f->min, f->max);
		break;
	case CT_RATIO:
		buf_printf(b, "a ratio from %g to %g, or a percentage", f->min,
			   f->max);
		break;
	case CT_PERCENT:
		buf_puts(b, "a percentage from 0 to 100");
		break;
	case CT_DURATION:
		buf_printf(b,
			   "a duration from %s to %s, e.g. 250ms, 30s, 5m, 1h",
			   units_fmt_duration((int64_t)(f->min * 1e9), lo),
			   units_fmt_duration((int64_t)(f->max * 1e9), hi));
		break;
	case CT_SIZE:
		buf_printf(b, "a size from %s to %s, e.g. 64KiB, 8MiB",
			   units_fmt_size((uint64_t)f->min, lo),
			   units_fmt_size((uint64_t)f->max, hi));
		break;
	case CT_STRING:
		buf_puts(b, f->min > 0 ? "a non-empty string" : "a string");
		break;
	case CT_PATH:
		buf_puts(b, "a file path");
		break;
	case CT_ADDR:
		buf_puts(b, "host:port, e.g. 127.0.0.1:8080 or [::1]:8080");
		break;
	case CT_ENUM:
	case CT_ENUM_LIST:
		buf_puts(b, f->type == CT_ENUM ? "one of: " : "a list of: ");
		for (const char *const *n = f->names; *n; n++)
			buf_printf(b, "%s%s", n == f->names ? "" : ", ", *n);
		break;
	case CT_CRON:
		buf_puts(b, "five cron fields, minute hour day-of-month "
			    "month day-of-week, e.g. \"0 2 * * *\"");
		break;
	case CT_URL:
		buf_puts(b, "an http:// or https:// URL");
		break;
	case CT_REGEX:
		buf_puts(b, "a PCRE2 pattern");
		break;
	case CT_SIGNAL:
		buf_puts(b, "a signal name such as TERM, INT, HUP, QUIT, USR1");
		break;
	case CT_HEADER:
		buf_puts(b, "\"Name: value\"");
		break;
	case CT_STR_LIST:
		buf_puts(b, "a list of strings");
		break;
	case CT_ADDR_LIST:
		buf_puts(b, "a list of host:port addresses");
		break;
	case CT_ARGV:
		buf_puts(b, "a command: a list of arguments");
		break;
	case CT_METHOD_LIST:
		buf_puts(b, "a list of HTTP methods such as GET, HEAD");
		break;
	case CT_MAP:
		buf_puts(b, "a mapping of names to strings");
		break;
	case CT_LIST:
		buf_puts(b, "a list of mappings");
		break;
	}
}

/* --------------------------------------------------------------- scalars */

static int parse_signal(const char *s, int *out)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {{"TERM", SIGTERM}, {"INT", SIGINT},	  {"HUP", SIGHUP},
		    {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
		    {"USR2", SIGUSR2}, {"WINCH", SIGWINCH}};
	const char *n = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
		if (strcasecmp(n, sigs[i].name) == 0) {
			*out = sigs[i].sig;
			return 0;
		}
	}
	int64_t v;
	if (units_parse_i64(s, 1, 64, &v, NULL) == 0) {
		*out = (int)v;
		return 0;
	}
	return ERR_PARSE;
}

/* RFC 9110 token characters (header names, methods). */
static bool is_tchar(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

static int find_enum(const config_field_t *f, const char *s)
{
	for (int i = 0; f->names[i]; i++)
		if (strcasecmp(f->names[i], s) == 0)
			return i;
	return -1;
}

/* Checks {name} placeholders in one argv word against known (a field's
 * own list, or config_placeholders). */
static const char *check_placeholders(const char *s,
				      const char *const *known_names,
				      const char **bad)
{
	for (const char *p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
		const char *q = p + 1;
		while (islower((unsigned char)*q) || *q == '_')
			q++;
		if (*q != '}' || q == p + 1)
			continue;
		size_t n = (size_t)(q - p - 1);
		bool known = false;
		for (const char *const *k = known_names; *k; k++)
			if (strlen(*k) == n && strncmp(*k, p + 1, n) == 0)
				known = true;
		if (!known) {
			*bad = p;
			return "unknown placeholder";
		}
	}
	return NULL;
}

/* The context of one assignment: where the value came from. */
typedef struct {
	config_t *cfg;
	config_errors_t *errs;
	const char *file;
	const char *basedir;
} load_ctx_t;

static void value_error(load_ctx_t *lc, const config_field_t *f, int line,
			int col, const char *path, const char *why,
			const char *value)
{
	buf_t b = BUF_INIT;
	expect_text(f, &b);
	if (value)
		config__error(lc->errs, lc->file, line, col, path,
			      "%s: \"%.60s%s\" (expected %s)", why, value,
			      strlen(value) > 60 ? "..." : "", b.data);
	else
		config__error(lc->errs, lc->file, line, col, path,
			      "%s (expected %s)", why, b.data);
	buf_free(&b);
}

/* An unknown enum value, with a suggestion when one is close. */
static void enum_error(load_ctx_t *lc, const config_field_t *f, int line,
		       int col, const char *path, const char *s)
{
	size_t n = 0;
	while (f->names[n])
		n++;
	const char *sug = suggest_closest(s, f->names, n);
	if (sug) {
		config__error(lc->errs, lc->file, line, col, path,
			      "unknown value \"%.60s\" (did you mean \"%s\"?)",
			      s, sug);
		return;
	}
	value_error(lc, f, line, col, path, "unknown value", s);
}

static char *resolve_path(load_ctx_t *lc, const char *s)
{
	if (!*s || s[0] == '/' || !lc->basedir || !lc->basedir[0] ||
	    strcmp(lc->basedir, ".") == 0)
		return arena_strdup(&lc->cfg->arena, s);
	/* Leading ./ and ../ are taken against the base directory, which is
	 * a realpath (no symlinks): "/etc/app/../data" reads as "/etc/data",
	 * exactly, in logs and messages. Later ones are left to the kernel. */
	size_t blen = strlen(lc->basedir);
	const char *rel = s;
	for (;;) {
		if (strncmp(rel, "./", 2) == 0) {
			rel += 2;
		} else if (strncmp(rel, "../", 3) == 0 || strcmp(rel, "..") == 0) {
			while (blen > 1 && lc->basedir[blen - 1] != '/')
				blen--;
			if (blen > 1)
				blen--; /* the slash */
			rel += rel[2] ? 3 : 2;
		} else {
			break;
		}
	}
	if (!*rel)
		return arena_printf(&lc->cfg->arena, "%.*s", (int)blen,
				    lc->basedir);
	return arena_printf(&lc->cfg->arena, "%.*s%s%s", (int)blen,
			    lc->basedir,
			    blen == 1 && lc->basedir[0] == '/' ? "" : "/",
			    rel);
}

/* Parses one scalar text for a scalar-typed field into dst. Returns 0, or
 * reports the error and returns ERR_CONFIG. */
static int set_scalar(load_ctx_t *lc, const config_field_t *f, void *dst,
		      const char *s, int line, int col, const char *path)
{
	arena_t *a = &lc->cfg->arena;
	const char *why = NULL;
	int rc = 0;
	switch (f->type) {
	case CT_BOOL: {
		static const char *const yes[] = {"true", "yes", "on", NULL};
		static const char *const no[] = {"false", "no", "off", NULL};
		for (int i = 0; yes[i]; i++) {
			if (strcasecmp(s, yes[i]) == 0) {
				*(bool *)dst = true;
				return 0;
			}
			if (strcasecmp(s, no[i]) == 0) {
				*(bool *)dst = false;
				return 0;
			}
		}
		why = "not a boolean";
		rc = ERR_PARSE;
		break;
	}
	case CT_INT: {
		int64_t v;
		rc = units_parse_i64(s, (int64_t)f->min, (int64_t)f->max, &v,
				     &why);
		if (rc == 0)
			*(int64_t *)dst = v;
		break;
	}
	case CT_REAL: {
		double v;
		rc = units_parse_double(s, f->min, f->max, &v, &why);
		if (rc == 0)
			*(double *)dst = v;
		break;
	}
	case CT_RATIO: {
		double v;
		rc = units_parse_ratio(s, &v, &why);
		if (rc == 0 && (v < f->min || v > f->max)) {
			rc = ERR_RANGE;
			why = "out of range";
		}
		if (rc == 0)
			*(double *)dst = v;
		break;
	}
	case CT_PERCENT: {
		double v;
		rc = units_parse_percent(s, &v, &why);
		if (rc == 0)
			*(double *)dst = v;
		break;
	}
	case CT_DURATION: {
		int64_t v;
		rc = units_parse_duration(s, &v, &why);
		if (rc == 0 && (v < (int64_t)(f->min * 1e9) ||
				v > (int64_t)(f->max * 1e9))) {
			/* 0 is "off" for fields whose minimum is 0 */
			rc = ERR_RANGE;
			why = "out of range";
		}
		if (rc == 0)
			*(int64_t *)dst = v;
		break;
	}
	case CT_SIZE: {
		uint64_t v;
		rc = units_parse_size(s, &v, &why);
		if (rc == 0 && ((double)v < f->min || (double)v > f->max)) {
			rc = ERR_RANGE;
			why = "out of range";
		}
		if (rc == 0)
			*(uint64_t *)dst = v;
		break;
	}
	case CT_STRING:
		if (strlen(s) < (size_t)f->min) {
			why = "must not be empty";
			rc = ERR_RANGE;
			break;
		}
		*(char **)dst = arena_strdup(a, s);
		break;
	case CT_PATH:
		*(char **)dst = resolve_path(lc, s);
		break;
	case CT_ADDR: {
		addr_t v;
		rc = addr_parse(s, f->min == 0, &v, &why);
		if (rc == 0)
			*(addr_t *)dst = v;
		break;
	}
	case CT_ENUM: {
		int i = find_enum(f, s);
		if (i < 0) {
			enum_error(lc, f, line, col, path, s);
			return ERR_CONFIG;
		}
		*(int *)dst = i;
		break;
	}
	case CT_CRON: {
		config_cron_t *c = dst;
		memset(c, 0, sizeof(*c));
		if (*s)
			rc = cron_parse(s, &c->expr, &why);
		if (rc == 0)
			c->text = arena_strdup(a, s);
		break;
	}
	case CT_URL:
		if (*s && ((strncmp(s, "http://", 7) != 0 &&
			    strncmp(s, "https://", 8) != 0) ||
			   strlen(s) < 9 || strchr(s, ' '))) {
			why = "not an http(s) URL";
			rc = ERR_PARSE;
			break;
		}
		*(char **)dst = arena_strdup(a, s);
		break;
	case CT_REGEX:
		if (*s) {
			int code;
			PCRE2_SIZE off;
			pcre2_code *re = pcre2_compile((PCRE2_SPTR)s,
						       PCRE2_ZERO_TERMINATED,
						       PCRE2_UTF, &code, &off,
						       NULL);
			if (!re) {
				PCRE2_UCHAR msg[160];
				pcre2_get_error_message(code, msg, sizeof(msg));
				config__error(lc->errs, lc->file, line, col,
					      path,
					      "bad pattern at offset %zu: %s "
					      "(expected a PCRE2 pattern)",
					      (size_t)off, (char *)msg);
				return ERR_CONFIG;
			}
			pcre2_code_free(re);
		}
		*(char **)dst = arena_strdup(a, s);
		break;
	case CT_SIGNAL:
		if (!*s && f->min == 0) {
			*(int *)dst = 0;
			break;
		}
		rc = parse_signal(s, (int *)dst);
		why = "unknown signal";
		break;
	case CT_HEADER: {
		if (!*s) {
			*(char **)dst = arena_strdup(a, "");
			break;
		}
		const char *colon = strchr(s, ':');
		char name[256];
		size_t n = colon ? (size_t)(colon - s) : 0;
		if (!colon || n == 0 || n >= sizeof(name)) {
			why = "not a header";
			rc = ERR_PARSE;
			break;
		}
		memcpy(name, s, n);
		name[n] = '\0';
		if (!is_token(name) || strpbrk(colon, "\r\n")) {
			why = "not a header";
			rc = ERR_PARSE;
			break;
		}
		*(char **)dst = arena_strdup(a, s);
		break;
	}
	default:
		why = "internal: not a scalar type";
		rc = ERR_INVAL;
	}
	if (rc) {
		value_error(lc, f, line, col, path, why ? why : "bad value", s);
		return ERR_CONFIG;
	}
	return 0;
}

/* --------------------------------------------------------------- lists */

typedef struct {
	void *v;
	size_t n;
} vec_t;

typedef struct {
	const char *text;
	int line, col;
} item_t;

/* Splits a command line into words: whitespace separates, '...' and
 * "..." quote, backslash escapes (outside single quotes). No expansion.
 * Returns the number of words written to words (allocated in arena), or
 * -1 with *why on an unterminated quote. */
static ssize_t shell_split(arena_t *a, const char *s, char **words,
			   size_t max, const char **why)
{
	size_t n = 0, len = strlen(s);
	char *tmp = xmalloc(len + 1);
	const char *p = s;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		size_t k = 0;
		char q = 0;
		while (*p && (q || (*p != ' ' && *p != '\t' && *p != '\n'))) {
			if (q == '\'' ) {
				if (*p == '\'')
					q = 0;
				else
					tmp[k++] = *p;
				p++;
			} else if (*p == '\\' && p[1] &&
				   (!q || strchr("\"\\$`", p[1]))) {
				tmp[k++] = p[1];
				p += 2;
			} else if (q == '"' && *p == '"') {
				q = 0;
				p++;
			} else if (!q && (*p == '\'' || *p == '"')) {
				q = *p++;
			} else {
				tmp[k++] = *p++;
			}
		}
		if (q) {
			free(tmp);
			*why = "unterminated quote";
			return -1;
		}
		if (n == max) {
			free(tmp);
			*why = "too many words";
			return -1;
		}
		words[n++] = arena_strndup(a, tmp, k);
	}
	free(tmp);
	return (ssize_t)n;
}

static bool is_list_type(config_type_t t)
{
	return t == CT_STR_LIST || t == CT_ADDR_LIST || t == CT_ARGV ||
	       t == CT_ENUM_LIST || t == CT_METHOD_LIST;
}

static size_t elem_size(config_type_t t)
{
	return t == CT_ADDR_LIST ? sizeof(addr_t) : sizeof(char *);
}

/* Parses one list item into slot. */
static int set_item(load_ctx_t *lc, const config_field_t *f, void *slot,
		    const item_t *it, const char *path)
{
	arena_t *a = &lc->cfg->arena;
	const char *why = NULL, *bad = NULL;
	switch (f->type) {
	case CT_ADDR_LIST:
		if (addr_parse(it->text, false, slot, &why) == 0)
			return 0;
		break;
	case CT_ARGV: {
		/* A CT_ARGV field's names, when set, are its placeholders. */
		const char *const *ph = f->names ? f->names
						 : config_placeholders;
		why = check_placeholders(it->text, ph, &bad);
		if (!why) {
			*(char **)slot = arena_strdup(a, it->text);
			return 0;
		}
		{
			buf_t known = BUF_INIT;
			for (const char *const *k = ph; *k; k++)
				buf_printf(&known, "%s{%s}",
					   k == ph ? "" : " ", *k);
			config__error(lc->errs, lc->file, it->line, it->col, path,
				      "unknown placeholder \"%.*s\" (expected "
				      "%s)",
				      (int)(strchr(bad, '}') - bad + 1), bad,
				      known.data);
			buf_free(&known);
		}
		return ERR_CONFIG;
	}
	case CT_ENUM_LIST: {
		int i = find_enum(f, it->text);
		if (i >= 0) {
			*(char **)slot = (char *)f->names[i];
			return 0;
		}
		enum_error(lc, f, it->line, it->col, path, it->text);
		return ERR_CONFIG;
	}
	case CT_METHOD_LIST: {
		static const char *const std[] = {"GET",    "HEAD",    "OPTIONS",
						  "POST",   "PUT",     "PATCH",
						  "DELETE", "TRACE",   "CONNECT",
						  NULL};
		if (!is_token(it->text)) {
			why = "not an HTTP method";
			break;
		}
		for (int i = 0; std[i]; i++) {
			if (strcasecmp(std[i], it->text) == 0) {
				*(char **)slot = (char *)std[i];
				return 0;
			}
		}
		*(char **)slot = arena_strdup(a, it->text);
		return 0;
	}
	default: /* CT_STR_LIST */
		*(char **)slot = arena_strdup(a, it->text);
		return 0;
	}
	value_error(lc, f, it->line, it->col, path, why ? why : "bad item",
		    it->text);
	return ERR_CONFIG;
}

static int set_list(load_ctx_t *lc, const config_field_t *f, void *dst,
		    const item_t *items, size_t n, const char *path)
{
	if (n > CONFIG_MAX_LIST) {
		config__error(lc->errs, lc->file, items[0].line, items[0].col,
			      path, "too many items: %zu (limit %d)", n,
			      CONFIG_MAX_LIST);
		return ERR_CONFIG;
	}
	size_t es = elem_size(f->type);
	vec_t v = {n ? arena_array(&lc->cfg->arena, n, es) : NULL, n};
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		if (set_item(lc, f, (char *)v.v + i * es, &items[i], path))
			rc = ERR_CONFIG;
	if (rc == 0)
		memcpy(dst, &v, sizeof(v));
	return rc;
}

/* A list given as one text: argv is split like a shell would, other lists
 * at commas. */
static int set_list_text(load_ctx_t *lc, const config_field_t *f, void *dst,
			 const char *text, int line, int col,
			 const char *path)
{
	char *words[CONFIG_MAX_LIST];
	item_t items[CONFIG_MAX_LIST];
	size_t n = 0;
	if (f->type == CT_ARGV) {
		const char *why = NULL;
		ssize_t k = shell_split(&lc->cfg->arena, text, words,
					CONFIG_MAX_LIST, &why);
		if (k < 0) {
			value_error(lc, f, line, col, path, why, text);
			return ERR_CONFIG;
		}
		n = (size_t)k;
	} else {
		const char *p = text;
		while (*p) {
			const char *e = strchr(p, ',');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			const char *s = p;
			while (len && isspace((unsigned char)*s))
				s++, len--;
			while (len && isspace((unsigned char)s[len - 1]))
				len--;
			if (len) {
				if (n == CONFIG_MAX_LIST)
					break;
				words[n++] = arena_strndup(&lc->cfg->arena, s,
							   len);
			}
			if (!e)
				break;
			p = e + 1;
		}
	}
	for (size_t i = 0; i < n; i++)
		items[i] = (item_t){words[i], line, col};
	return set_list(lc, f, dst, items, n, path);
}

/* Sets any non-structured field from text (a default, a flag, a scalar
 * in the file). */
static int assign_text(load_ctx_t *lc, const config_field_t *f, void *dst,
		       const char *text, int line, int col, const char *path)
{
	if (is_list_type(f->type))
		return set_list_text(lc, f, dst, text, line, col, path);
	if (f->type == CT_MAP || f->type == CT_LIST) {
		if (!*text) {
			memset(dst, 0, sizeof(vec_t));
			return 0;
		}
		value_error(lc, f, line, col, path, "cannot be given as text",
			    text);
		return ERR_CONFIG;
	}
	return set_scalar(lc, f, dst, text, line, col, path);
}

/* --------------------------------------------------------------- tree walk */

static void walk_map(load_ctx_t *lc, const config_table_t *t, void *base,
		     const ynode_t *map, const char *prefix, const char *disp,
		     bool *set);

static const config_field_t *find_field(const config_table_t *t,
					const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->fields[i].path, path) == 0)
			return &t->fields[i];
	return NULL;
}

int config__root_index(const char *path)
{
	const config_field_t *f = find_field(&config_root_table, path);
	return f ? (int)(f - config_root_table.fields) : -1;
}

static bool is_section(const config_table_t *t, const char *path)
{
	size_t n = strlen(path);
	for (size_t i = 0; i < t->n; i++)
		if (strncmp(t->fields[i].path, path, n) == 0 &&
		    t->fields[i].path[n] == '.')
			return true;
	return false;
}

/* The keys valid directly under prefix ("" = the table's root). */
static size_t sibling_keys(const config_table_t *t, const char *prefix,
			   const char **out, size_t max)
{
	size_t n = 0, pl = strlen(prefix);
	for (size_t i = 0; i < t->n; i++) {
		const char *p = t->fields[i].path;
		if (pl) {
			if (strncmp(p, prefix, pl) != 0 || p[pl] != '.')
				continue;
			p += pl + 1;
		}
		size_t kl = strcspn(p, ".");
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			if (strcspn(out[j], ".") == kl &&
			    !strncmp(out[j], p, kl))
				dup = true;
		if (dup || n == max)
			continue;
		out[n++] = p; /* into the table; the key ends at '.' or NUL */
	}
	return n;
}

static void unknown_key(load_ctx_t *lc, const config_table_t *t,
			const char *prefix, const char *key, const ynode_t *k,
			const char *disp)
{
	if (lc->errs->n >= CONFIG_MAX_ERRORS) {
		/* only counted: no suggestion to compute (a file of 70,000
		 * unknown keys must not cost 70,000 table scans) */
		lc->errs->dropped++;
		return;
	}
	const char *raw[256];
	size_t n = sibling_keys(t, prefix, raw, 256);
	char *names[256] = {0};
	for (size_t i = 0; i < n; i++)
		names[i] = xstrndup(raw[i], strcspn(raw[i], "."));
	const char *sug = suggest_closest(key, (const char *const *)names, n);
	if (sug) {
		config__error(lc->errs, lc->file, k->line, k->col, disp,
			      "unknown key (did you mean \"%s\"?)", sug);
	} else {
		buf_t b = BUF_INIT;
		for (size_t i = 0; i < n; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
		config__error(lc->errs, lc->file, k->line, k->col, disp,
			      "unknown key (expected one of: %s)", b.data);
		buf_free(&b);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

static void apply_defaults(load_ctx_t *lc, const config_table_t *t,
			   void *base);

/* Checks the required fields of an element or of the root. */
static void check_required(load_ctx_t *lc, const config_table_t *t,
			   const bool *set, int line, int col, const char *disp)
{
	for (size_t i = 0; i < t->n; i++) {
		const config_field_t *f = &t->fields[i];
		if (!(f->flags & CF_REQUIRED) || set[i])
			continue;
		char *path = xasprintf("%s%s%s", disp, *disp ? "." : "",
				       f->path);
		buf_t b = BUF_INIT;
		expect_text(f, &b);
		config__error(lc->errs, lc->file, line, col, path,
			      "required field missing (expected %s)", b.data);
		buf_free(&b);
		free(path);
	}
}

static void assign_node(load_ctx_t *lc, const config_table_t *t,
			const config_field_t *f, void *base, const ynode_t *v,
			const char *path)
{
	void *dst = config__at(base, f);
	if (!v || v->type == YN_NULL) {
		buf_t b = BUF_INIT;
		expect_text(f, &b);
		config__error(lc->errs, lc->file, v ? v->line : 0,
			      v ? v->col : 0, path,
			      "no value; remove the key to use the default "
			      "(expected %s)",
			      b.data);
		buf_free(&b);
		return;
	}
	config__mark(lc->cfg, path, v->line, v->col);
	if (v->type == YN_SCALAR && v->quoted)
		config__mark_quoted(lc->cfg, path);
	if (f->type == CT_LIST) {
		if (v->type != YN_SEQ) {
			value_error(lc, f, v->line, v->col, path,
				    v->type == YN_MAP ? "found a mapping"
						      : "found a value",
				    NULL);
			return;
		}
		const config_table_t *et = f->elem;
		if (v->n > CONFIG_MAX_LIST) {
			config__error(lc->errs, lc->file, v->line, v->col, path,
				      "too many items: %zu (limit %d)", v->n,
				      CONFIG_MAX_LIST);
			return;
		}
		vec_t vec = {v->n ? arena_array(&lc->cfg->arena, v->n, et->size)
				  : NULL,
			     v->n};
		for (size_t i = 0; i < v->n; i++) {
			const ynode_t *item = v->kids[i];
			void *ebase = (char *)vec.v + i * et->size;
			char *disp = xasprintf("%s[%zu]", path, i);
			apply_defaults(lc, et, ebase);
			if (item->type != YN_MAP) {
				value_error(lc, f, item->line, item->col, disp,
					    "item is not a mapping", NULL);
			} else {
				bool *eset = xcalloc(et->n, sizeof(bool));
				walk_map(lc, et, ebase, item, "", disp, eset);
				check_required(lc, et, eset, item->line,
					       item->col, disp);
				free(eset);
			}
			free(disp);
		}
		memcpy(dst, &vec, sizeof(vec));
		return;
	}
	if (f->type == CT_MAP) {
		if (v->type != YN_MAP) {
			value_error(lc, f, v->line, v->col, path,
				    v->type == YN_SEQ ? "found a list"
						      : "found a value",
				    NULL);
			return;
		}
		vec_t vec = {v->n ? arena_array(&lc->cfg->arena, v->n,
						sizeof(config_kv_t))
				  : NULL,
			     v->n};
		config_kv_t *kv = vec.v;
		for (size_t i = 0; i < v->n; i++) {
			const ynode_t *k = v->kids[2 * i], *x = v->kids[2 * i + 1];
			if (k->type != YN_SCALAR || (x->type != YN_SCALAR &&
						     x->type != YN_NULL)) {
				value_error(lc, f, k->line, k->col, path,
					    "entries must be name: value", NULL);
				return;
			}
			if (f->flags & CF_ENVKEYS) {
				bool ok = isalpha((unsigned char)k->text[0]) ||
					  k->text[0] == '_';
				for (const char *c = k->text; *c; c++)
					if (!isalnum((unsigned char)*c) &&
					    *c != '_')
						ok = false;
				if (!ok) {
					config__error(
						lc->errs, lc->file, k->line,
						k->col, path,
						"bad environment variable name: "
						"\"%.60s\" (expected letters, "
						"digits and _)",
						k->text);
					return;
				}
			}
			kv[i].key = arena_strdup(&lc->cfg->arena, k->text);
			kv[i].value = arena_strdup(
				&lc->cfg->arena,
				x->type == YN_NULL ? "" : x->text);
		}
		memcpy(dst, &vec, sizeof(vec));
		return;
	}
	if (is_list_type(f->type)) {
		if (v->type == YN_SCALAR) {
			set_list_text(lc, f, dst, v->text, v->line, v->col,
				      path);
			return;
		}
		if (v->type != YN_SEQ) {
			value_error(lc, f, v->line, v->col, path,
				    "found a mapping", NULL);
			return;
		}
		item_t *items = xcalloc(v->n ? v->n : 1, sizeof(*items));
		bool ok = true;
		for (size_t i = 0; i < v->n; i++) {
			const ynode_t *x = v->kids[i];
			if (x->type != YN_SCALAR) {
				value_error(lc, f, x->line, x->col, path,
					    x->type == YN_NULL
						    ? "empty item"
						    : "items must be values",
				    NULL);
				ok = false;
				break;
			}
			items[i] = (item_t){x->text, x->line, x->col};
		}
		if (ok)
			set_list(lc, f, dst, items, v->n, path);
		free(items);
		return;
	}
	if (v->type != YN_SCALAR) {
		value_error(lc, f, v->line, v->col, path,
			    v->type == YN_MAP ? "found a mapping"
					      : "found a list",
			    NULL);
		return;
	}
	(void)t;
	set_scalar(lc, f, dst, v->text, v->line, v->col, path);
}

/* The keys of one mapping seen so far, for finding duplicates in linear
 * time (a 1 MiB file can hold 100,000 keys; comparing each with every
 * earlier one took a minute). Open addressing over indexes into the
 * map's kids, FNV-1a hashes. */
typedef struct keyset {
	size_t *slot; /* key index + 1; 0 = empty */
	size_t mask;
} keyset_t;

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void keyset_init(keyset_t *ks, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	ks->slot = xcalloc(cap, sizeof(size_t));
	ks->mask = cap - 1;
}

/* Adds scalar key i of map; returns the earlier key with the same text,
 * or NULL when it is new. */
static const ynode_t *keyset_add(keyset_t *ks, const ynode_t *map, size_t i)
{
	const ynode_t *k = map->kids[2 * i];
	for (size_t h = key_hash(k->text) & ks->mask;; h = (h + 1) & ks->mask) {
		if (!ks->slot[h]) {
			ks->slot[h] = i + 1;
			return NULL;
		}
		const ynode_t *pk = map->kids[2 * (ks->slot[h] - 1)];
		if (!strcmp(pk->text, k->text))
			return pk;
	}
}

static void walk_map(load_ctx_t *lc, const config_table_t *t, void *base,
		     const ynode_t *map, const char *prefix, const char *disp,
		     bool *set)
{
	keyset_t ks;
	keyset_init(&ks, map->n);
	for (size_t i = 0; i < map->n; i++) {
		const ynode_t *k = map->kids[2 * i], *v = map->kids[2 * i + 1];
		if (k->type != YN_SCALAR) {
			config__error(lc->errs, lc->file, k->line, k->col, disp,
				      "keys must be plain names, found %s",
				      yaml_type_name(k));
			continue;
		}
		const ynode_t *pk = keyset_add(&ks, map, i);
		bool dup = pk != NULL;
		if (dup) {
			char *p = xasprintf("%s%s%s", disp, *disp ? "." : "",
					    k->text);
			config__error(lc->errs, lc->file, k->line, k->col, p,
				      "duplicate key (first at line %d)",
				      pk->line);
			free(p);
		}
		if (dup)
			continue;
		ynode_t placed;
		if (v->line == 0) {
			/* An empty value has no mark of its own: use its
			 * key's. */
			placed = *v;
			placed.line = k->line;
			placed.col = k->col;
			v = &placed;
		}
		char *full = *prefix ? xasprintf("%s.%s", prefix, k->text)
				     : xstrdup(k->text);
		char *dpath = *disp ? xasprintf("%s.%s", disp, k->text)
				    : xstrdup(k->text);
		const config_field_t *f = find_field(t, full);
		if (f) {
			size_t before = lc->errs->n + lc->errs->dropped;
			assign_node(lc, t, f, base, v, dpath);
			if (set && lc->errs->n + lc->errs->dropped == before)
				set[f - t->fields] = true;
		} else if (is_section(t, full)) {
			config__mark(lc->cfg, dpath, k->line, k->col);
			if (v->type == YN_MAP)
				walk_map(lc, t, base, v, full, dpath, set);
			else if (v->type != YN_NULL)
				config__error(lc->errs, lc->file, v->line,
					      v->col, dpath,
					      "is a section: expected a "
					      "mapping, found %s",
					      yaml_type_name(v));
		} else {
			unknown_key(lc, t, prefix, k->text, k, dpath);
		}
		free(full);
		free(dpath);
	}
	free(ks.slot);
}

/* --------------------------------------------------------------- defaults */

static void apply_defaults(load_ctx_t *lc, const config_table_t *t,
			   void *base)
{
	config_errors_t errs = {0};
	load_ctx_t dl = *lc;
	dl.errs = &errs;
	dl.file = "(defaults)";
	for (size_t i = 0; i < t->n; i++) {
		const config_field_t *f = &t->fields[i];
		if (f->flags & CF_REQUIRED && !f->def[0] &&
		    (f->type == CT_STRING || f->type == CT_CRON)) {
			/* required: starts empty */
			if (f->type == CT_STRING)
				*(char **)config__at(base, f) =
					arena_strdup(&lc->cfg->arena, "");
			continue;
		}
		if (assign_text(&dl, f, config__at(base, f), f->def, 0, 0,
				f->path)) {
			buf_t b = BUF_INIT;
			config_errors_format(&errs, &b);
			fprintf(stderr, "umbra: internal: bad default: %s", b.data);
			abort();
		}
	}
}

/* --------------------------------------------------------------- entry */

static config_t *config_alloc(const char *file, const char *basedir)
{
	config_t *cfg = xcalloc(1, sizeof(*cfg));
	cfg->file = arena_strdup(&cfg->arena, file ? file : "");
	cfg->basedir = arena_strdup(&cfg->arena, basedir ? basedir : "");
	cfg->set = arena_array(&cfg->arena, config_root_table.n, sizeof(bool));
	cfg->marks = xcalloc(1, sizeof(*cfg->marks));
	load_ctx_t lc = {cfg, NULL, cfg->file, cfg->basedir};
	apply_defaults(&lc, &config_root_table, cfg);
	return cfg;
}

config_t *config_new_default(const char *service)
{
	config_t *cfg = config_alloc("", NULL);
	cfg->service = arena_strdup(&cfg->arena, service ? service : "");
	int i = config__root_index("service");
	cfg->set[i] = service && *service;
	return cfg;
}

void config_free(config_t *cfg)
{
	if (!cfg)
		return;
	if (cfg->marks) {
		for (size_t i = 0; i < cfg->marks->n; i++)
			free(cfg->marks->v[i].path);
		free(cfg->marks->v);
		free(cfg->marks);
	}
	arena_free(&cfg->arena);
	free(cfg);
}

int config_set(config_t *cfg, const char *path, const char *text,
	       config_errors_t *errs)
{
	int idx = config__root_index(path);
	if (idx < 0) {
		config__error(errs, "", 0, 0, path, "unknown field");
		return ERR_CONFIG;
	}
	const config_field_t *f = &config_root_table.fields[idx];
	load_ctx_t lc = {cfg, errs, "", NULL};
	if (assign_text(&lc, f, config__at(cfg, f), text, 0, 0, path))
		return ERR_CONFIG;
	cfg->set[idx] = true;
	config__mark(cfg, path, 0, 0);
	return 0;
}

/* Offset and line/column of the first byte that is not UTF-8 text (NUL,
 * bad sequence), or -1. Control characters other than tab, CR and LF are
 * refused too: YAML does not allow them. */
static ssize_t bad_text_at(const char *s, size_t len, int *line, int *col)
{
	*line = 1;
	*col = 1;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2
				     : (c & 0xf0) == 0xe0   ? 3
				     : (c & 0xf8) == 0xf0   ? 4
							    : 0;
		if (n == 0 || i + n > len || (c < 0x20 && c != '\t' &&
					       c != '\n' && c != '\r') ||
		    c == 0x7f || (n == 2 && c < 0xc2))
			return (ssize_t)i;
		for (size_t k = 1; k < n; k++)
			if (((unsigned char)s[i + k] & 0xc0) != 0x80)
				return (ssize_t)i;
		if (c == '\n' || (c == '\r' && (i + 1 == len ||
						  s[i + 1] != '\n'))) {
			(*line)++; /* LF, CR and CRLF end a line, as in YAML */
			*col = 1;
		} else {
			(*col)++;
		}
		i += n;
	}
	return -1;
}

int config_load_string(const char *name, const char *text, size_t len,
		       const char *basedir, config_t **out,
		       config_errors_t *errs)
{
	*out = NULL;
	char lim[UNITS_FMT_LEN];
	if (len > CONFIG_MAX_BYTES) {
		config__error(errs, name, 1, 1, "",
			      "file too large: %zu bytes (limit %s)", len,
			      units_fmt_size(CONFIG_MAX_BYTES, lim));
		return ERR_CONFIG;
	}
	int line, col;
	ssize_t bad = bad_text_at(text, len, &line, &col);
	if (bad >= 0) {
		config__error(errs, name, line, col, "",
			      "not a text file: byte 0x%02x at offset %zd (a "
			      "config is UTF-8 YAML)",
			      (unsigned char)text[bad], bad);
		return ERR_CONFIG;
	}
	config_t *cfg = config_alloc(name, basedir);
	yaml_error_t yerr;
	ynode_t *root = yaml_parse(text, len, &cfg->arena, &yerr);
	if (!root) {
		if (yerr.msg[0])
			config__error(errs, name, yerr.line, yerr.col, "",
				      "YAML syntax: %s", yerr.msg);
		else
			config__error(errs, name, 1, 1, "",
				      "empty configuration (expected at least "
				      "\"service: NAME\" and where production "
				      "is)");
		config_free(cfg);
		return ERR_CONFIG;
	}
	if (root->type != YN_MAP) {
		config__error(errs, name, root->line, root->col, "",
			      "expected a mapping of sections (service, listen, "
			      "production, ...), found %s",
			      yaml_type_name(root));
		config_free(cfg);
		return ERR_CONFIG;
	}
	load_ctx_t lc = {cfg, errs, name, cfg->basedir};
	walk_map(&lc, &config_root_table, cfg, root, "", "", cfg->set);
	check_required(&lc, &config_root_table, cfg->set, 1, 1, "");
	if (errs->n == 0)
		config_validate(cfg, errs);
	if (errs->n) {
		config_free(cfg);
		return ERR_CONFIG;
	}
	*out = cfg;
	return 0;
}

int config_load_file(const char *file, config_t **out, config_errors_t *errs)
{
	*out = NULL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; the
	 * descriptor, not the name, is then checked to be a regular file. */
	int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		config__error(errs, file, 0, 0, "", "cannot open: %s",
			      strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		config__error(errs, file, 0, 0, "",
			      "not a regular file (a config is a file, not a "
			      "FIFO, device or directory)");
		return ERR_CONFIG;
	}
	/* Read at most one byte past the limit: enough to refuse a huge
	 * file without reading it. */
	size_t cap = CONFIG_MAX_BYTES + 1, len = 0;
	char *text = xmalloc(cap);
	int err = fault_sim(FAULT_CONFIG_READ);
	while (!err && len < cap) {
		ssize_t r = read(fd, text + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (err) {
		free(text);
		config__error(errs, file, 0, 0, "", "cannot read: %s",
			      err_str(err));
		return err;
	}
	if (len > CONFIG_MAX_BYTES) {
		char lim[UNITS_FMT_LEN];
		free(text);
		config__error(errs, file, 1, 1, "",
			      "file too large: %lld bytes (limit %s)",
			      (long long)st.st_size,
			      units_fmt_size(CONFIG_MAX_BYTES, lim));
		return ERR_CONFIG;
	}
	/* Relative paths in the file are relative to its directory, made
	 * absolute so the effective config means the same from anywhere. */
	char *dir = xstrdup(file);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if (slash == dir)
		strcpy(dir, "/");
	char *abs = realpath(dir, NULL);
	int rc = config_load_string(file, text, len, abs ? abs : dir, out,
				    errs);
	free(abs);
	free(dir);
	free(text);
	return rc;
}
