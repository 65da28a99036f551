/*
 * log.c: formatting of log records (see log.h). No allocation: the record
 * is built in a stack buffer, so logging works when memory is short and
 * costs one write(2).
 */
#include "base/log.h"

#include "base/clock.h"
#include "base/err.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static _Atomic int log_level = LOG_INFO;
static _Atomic int log_format = LOG_FMT_LOGFMT;
static _Atomic int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error",
					  "off"};

void log_setup(log_level_t level, log_format_t format)
{
	atomic_store(&log_level, level);
	atomic_store(&log_format, format);
}

void log_set_fd(int fd)
{
	atomic_store(&log_fd, fd);
}

log_level_t log_get_level(void)
{
	return (log_level_t)atomic_load_explicit(&log_level,
						 memory_order_relaxed);
}

bool log_enabled(log_level_t level)
{
	return (int)level >=
	       atomic_load_explicit(&log_level, memory_order_relaxed);
}

const char *log_level_name(log_level_t level)
{
	return level <= LOG_OFF ? level_names[level] : "?";
}

int log_level_parse(const char *s, log_level_t *out)
{
	for (int i = 0; i <= LOG_OFF; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (log_level_t)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return ERR_INVAL;
}

int log_format_parse(const char *s, log_format_t *out)
{
	if (strcasecmp(s, "logfmt") == 0 || strcasecmp(s, "text") == 0)
		*out = LOG_FMT_LOGFMT;
	else if (strcasecmp(s, "json") == 0)
		*out = LOG_FMT_JSON;
	else
		return ERR_INVAL;
	return 0;
}

/* A cursor over the record buffer; once full, further output is dropped
 * and the record is marked truncated. The last bytes are reserved for the
 * closing of the record. */
typedef struct {
	char *p, *end;
	bool cut;
} out_t;

#define LOG_TAIL_RESERVE 24 /* room for ` truncated=true}\n` */

static void put(out_t *o, const char *s, size_t n)
{
	size_t room = (size_t)(o->end - o->p);
	if (n > room) {
		n = room;
		o->cut = true;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

static void puts_(out_t *o, const char *s)
{
	put(o, s, strlen(s));
}

/* logfmt values are quoted when they hold space, '=', '"' or control
 * characters, or are empty. */
static bool logfmt_needs_quote(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '=' || c == '"' || c == 0x7f)
			return true;
	}
	return false;
}

/* Escapes for a double-quoted string: the same rules serve logfmt and
 * JSON (\" \\ \n \r \t and \u00XX for other controls). */
static void put_quoted(out_t *o, const char *s)
{
	put(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		/* Stop early enough that the widest escape (6 bytes) and the
		 * closing quote still fit: a cut string stays well-formed. */
		if (o->end - o->p < 8) {
			o->cut = true;
			break;
		}
		switch (c) {
		case '"':
			put(o, "\\\"", 2);
			break;
		case '\\':
			put(o, "\\\\", 2);
			break;
		case '\n':
			put(o, "\\n", 2);
			break;
		case '\r':
			put(o, "\\r", 2);
			break;
		case '\t':
			put(o, "\\t", 2);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				put(o, esc, 6);
			} else {
				put(o, (const char *)s, 1);
			}
		}
	}
	put(o, "\"", 1);
}

static void put_str_value(out_t *o, const char *s, bool json)
{
	if (!s)
		s = "";
	if (json || logfmt_needs_quote(s))
		put_quoted(o, s);
	else
		puts_(o, s);
}

static void put_key(out_t *o, const char *key, bool json, bool first)
{
	if (json) {
		if (!first)
			put(o, ",", 1);
		put_quoted(o, key);
		put(o, ":", 1);
	} else {
		if (!first)
			put(o, " ", 1);
		puts_(o, key);
		put(o, "=", 1);
	}
}

static void put_field(out_t *o, const log_field_t *f, bool json)
{
	char num[64];
	put_key(o, f->key, json, false);
	switch (f->type) {
	case LOG_F_STR:
		put_str_value(o, f->v.s, json);
		break;
	case LOG_F_INT:
		snprintf(num, sizeof(num), "%lld", (long long)f->v.i);
		puts_(o, num);
		break;
	case LOG_F_UINT:
		snprintf(num, sizeof(num), "%llu", (unsigned long long)f->v.u);
		puts_(o, num);
		break;
	case LOG_F_DBL:
		if (isfinite(f->v.d))
			snprintf(num, sizeof(num), "%.6g", f->v.d);
		else /* JSON has no NaN/Inf: a string keeps it parseable */
			snprintf(num, sizeof(num), json ? "\"%g\"" : "%g",
				 f->v.d);
		puts_(o, num);
		break;
	case LOG_F_BOOL:
		puts_(o, f->v.b ? "true" : "false");
		break;
	case LOG_F_ERR: {
		int code = (int)f->v.i;
		put_str_value(o, err_str(code), json);
		char k[64];
		snprintf(k, sizeof(k), "%s_code", f->key);
		put_key(o, k, json, false);
		put_str_value(o, err_name(code), json);
		break;
	}
	case LOG_F_END:
		break;
	}
}

int64_t log__mono_ns(void)
{
	return clock_mono_ns();
}

bool log_limit_pass(log_limit_t *l, int64_t now_ns, int64_t interval_ns,
		    uint64_t *suppressed)
{
	int64_t next = atomic_load_explicit(&l->next_ns, memory_order_relaxed);
	/* One thread wins the interval's slot; the others count. */
	if (now_ns < next ||
	    !atomic_compare_exchange_strong(&l->next_ns, &next,
					    now_ns + interval_ns)) {
		atomic_fetch_add_explicit(&l->suppressed, 1,
					  memory_order_relaxed);
		return false;
	}
	*suppressed = atomic_exchange_explicit(&l->suppressed, 0,
					       memory_order_relaxed);
	return true;
}

void log_emit(log_level_t level, const char *mod, const char *msg,
	      const log_field_t *fields)
{
	char line[LOG_LINE_MAX];
	out_t o = {line, line + sizeof(line) - LOG_TAIL_RESERVE, false};
	bool json = atomic_load_explicit(&log_format, memory_order_relaxed) ==
		    LOG_FMT_JSON;
	char ts[CLOCK_ISO_LEN];
	clock_iso8601(clock_wall_ns(), ts);

	if (json)
		put(&o, "{", 1);
	put_key(&o, "ts", json, true);
	put_str_value(&o, ts, json);
	put_key(&o, "level", json, false);
	put_str_value(&o, log_level_name(level), json);
	if (mod) {
		put_key(&o, "mod", json, false);
		put_str_value(&o, mod, json);
	}
	put_key(&o, "msg", json, false);
	put_quoted(&o, msg ? msg : "");
	for (const log_field_t *f = fields; f && f->type != LOG_F_END; f++) {
		/* A field that does not fit is dropped whole, so the record
		 * stays parseable; the rest are dropped with it. */
		char *mark = o.p;
		put_field(&o, f, json);
		if (o.cut) {
			o.p = mark;
			break;
		}
	}

	/* The reserve guarantees room for the tail. */
	o.end = line + sizeof(line);
	if (o.cut) {
		put_key(&o, "truncated", json, false);
		puts_(&o, "true");
	}
	if (json)
		put(&o, "}", 1);
	put(&o, "\n", 1);
	(void)!write(atomic_load(&log_fd), line, (size_t)(o.p - line));
}
