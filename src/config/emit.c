/*
 * emit.c: the config as data, for people and tools: the effective config
 * (defaults filled in) as YAML or JSON, the Markdown field reference, and
 * the report of what this build does not act on yet. One walk of the
 * field table builds a jansson tree; YAML and JSON are two printers of it,
 * so they cannot disagree. The YAML output is valid input: loading it
 * gives the same config (a unit test checks the round trip).
 */
#include "config/config_int.h"

#include "base/units.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <jansson.h>
#include <signal.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------------- to JSON */

static const char *signal_name(int sig)
{
	switch (sig) {
	case 0:
		return "";
	case SIGTERM:
		return "TERM";
	case SIGINT:
		return "INT";
	case SIGHUP:
		return "HUP";
	case SIGQUIT:
		return "QUIT";
	case SIGKILL:
		return "KILL";
	case SIGUSR1:
		return "USR1";
	case SIGUSR2:
		return "USR2";
	case SIGWINCH:
		return "WINCH";
	default:
		return NULL;
	}
}

static json_t *table_json(const config_table_t *t, const void *base);

static json_t *field_json(const config_field_t *f, const void *base)
{
	const void *p = (const char *)base + f->offset;
	char tmp[ADDR_TEXT_MAX > UNITS_FMT_LEN ? ADDR_TEXT_MAX : UNITS_FMT_LEN];
	switch (f->type) {
	case CT_BOOL:
		return json_boolean(*(const bool *)p);
	case CT_INT:
		return json_integer(*(const int64_t *)p);
	case CT_REAL:
	case CT_RATIO:
	case CT_PERCENT:
		return json_real(*(const double *)p);
	case CT_DURATION:
		return json_string(units_fmt_duration(*(const int64_t *)p, tmp));
	case CT_SIZE:
		return json_string(units_fmt_size(*(const uint64_t *)p, tmp));
	case CT_STRING:
	case CT_PATH:
	case CT_URL:
	case CT_REGEX:
	case CT_HEADER: {
		const char *s = *(char *const *)p;
		return json_string(s ? s : "");
	}
	case CT_ADDR:
		return json_string(addr_format(p, tmp));
	case CT_ENUM:
		return json_string(f->names[*(const int *)p]);
	case CT_CRON: {
		const config_cron_t *c = p;
		return json_string(c->text ? c->text : "");
	}
	case CT_SIGNAL: {
		int sig = *(const int *)p;
		const char *n = signal_name(sig);
		if (n)
			return json_string(n);
		return json_integer(sig);
	}
	case CT_STR_LIST:
	case CT_ARGV:
	case CT_ENUM_LIST:
	case CT_METHOD_LIST: {
		const config_strv_t *v = p;
		json_t *a = json_array();
		for (size_t i = 0; i < v->n; i++)
			json_array_append_new(a, json_string(v->v[i]));
		return a;
	}
	case CT_ADDR_LIST: {
		const config_addrv_t *v = p;
		json_t *a = json_array();
		for (size_t i = 0; i < v->n; i++)
			json_array_append_new(a, json_string(addr_format(
							 &v->v[i], tmp)));
		return a;
	}
	case CT_MAP: {
		const config_map_t *m = p;
		json_t *o = json_object();
		for (size_t i = 0; i < m->n; i++)
			json_object_set_new(o, m->v[i].key,
					    json_string(m->v[i].value));
		return o;
	}
	case CT_LIST: {
		const struct {
			const char *v;
			size_t n;
		} *vec = p;
		json_t *a = json_array();
		for (size_t i = 0; i < vec->n; i++)
			json_array_append_new(
				a, table_json(f->elem,
					      vec->v + i * f->elem->size));
		return a;
	}
	}
	return json_null();
}

/* The object at dotted path's parent, creating sections on the way;
 * *leaf is set to the last component. */
static json_t *parent_of(json_t *root, const char *path, char *leaf,
			 size_t leafsz)
{
	json_t *cur = root;
	const char *p = path;
	for (;;) {
		size_t n = strcspn(p, ".");
		if (p[n] == '\0') {
			snprintf(leaf, leafsz, "%s", p);
			return cur;
		}
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		json_t *next = json_object_get(cur, key);
		if (!next) {
			next = json_object();
			json_object_set_new(cur, key, next);
		}
		cur = next;
		p += n + 1;
	}
}

static json_t *table_json(const config_table_t *t, const void *base)
{
	json_t *root = json_object();
	for (size_t i = 0; i < t->n; i++) {
		char leaf[128];
		json_t *parent = parent_of(root, t->fields[i].path, leaf,
					   sizeof(leaf));
		json_object_set_new(parent, leaf,
				    field_json(&t->fields[i], base));
	}
	return root;
}

/* --------------------------------------------------------------- YAML */

/* Plain (unquoted) only when YAML cannot read the text as anything but
 * this string. */
static bool yaml_plain_ok(const char *s)
{
	static const char *const special[] = {
		"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n",
		NULL};
	if (!*s || strlen(s) > 80)
		return false;
	if (!isalnum((unsigned char)s[0]) && s[0] != '/' && s[0] != '_')
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_./-", *p))
			return false;
	for (int i = 0; special[i]; i++)
		if (strcasecmp(s, special[i]) == 0)
			return false;
	/* "10s" and "8KiB" read back as strings; "10" or "1e3" would not. */
	char *end;
	strtod(s, &end);
	return *end != '\0';
}

static void yaml_scalar(const json_t *v, buf_t *out)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (yaml_plain_ok(s)) {
			buf_puts(out, s);
		} else {
			/* A JSON string is a valid YAML double-quoted
			 * scalar. */
			char *q = json_dumps(v, JSON_ENCODE_ANY);
			buf_puts(out, q);
			free(q);
		}
	} else if (json_is_real(v)) {
		char tmp[64];
		snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v));
		/* shortest text that reads back the same double */
		for (int prec = 1; prec <= 17; prec++) {
			char t2[64];
			snprintf(t2, sizeof(t2), "%.*g", prec, json_real_value(v));
			if (strtod(t2, NULL) == json_real_value(v)) {
				memcpy(tmp, t2, sizeof(t2));
				break;
			}
		}
		buf_puts(out, tmp);
	} else {
		char *q = json_dumps(v, JSON_ENCODE_ANY);
		buf_puts(out, q);
		free(q);
	}
}

static bool yaml_is_empty_coll(const json_t *v)
{
	return (json_is_array(v) && json_array_size(v) == 0) ||
	       (json_is_object(v) && json_object_size(v) == 0);
}

static void yaml_node(const json_t *v, int indent, buf_t *out);

static void yaml_object(const json_t *o, int indent, bool first_inline,
			buf_t *out)
{
	const char *key;
	json_t *val;
	bool first = true;
	json_object_foreach((json_t *)o, key, val)
	{
		if (!(first && first_inline))
			buf_printf(out, "%*s", indent, "");
		first = false;
		buf_printf(out, "%s:", key);
		if (json_is_object(val) && json_object_size(val)) {
			buf_putc(out, '\n');
			yaml_object(val, indent + 2, false, out);
		} else if (json_is_array(val) && json_array_size(val)) {
			buf_putc(out, '\n');
			yaml_node(val, indent + 2, out);
		} else {
			buf_putc(out, ' ');
			if (yaml_is_empty_coll(val))
				buf_puts(out, json_is_array(val) ? "[]" : "{}");
			else
				yaml_scalar(val, out);
			buf_putc(out, '\n');
		}
	}
}

static void yaml_node(const json_t *v, int indent, buf_t *out)
{
	if (json_is_object(v)) {
		yaml_object(v, indent, false, out);
		return;
	}
	size_t i;
	json_t *item;
	json_array_foreach(v, i, item)
	{
		buf_printf(out, "%*s- ", indent, "");
		if (json_is_object(item) && json_object_size(item))
			yaml_object(item, indent + 2, true, out);
		else {
			if (yaml_is_empty_coll(item))
				buf_puts(out, json_is_array(item) ? "[]" : "{}");
			else
				yaml_scalar(item, out);
			buf_putc(out, '\n');
		}
	}
}

void config_yaml_value(const json_t *v, buf_t *out)
{
	if (yaml_is_empty_coll(v)) {
		buf_puts(out, json_is_array(v) ? "[]\n" : "{}\n");
	} else if (json_is_object(v) || json_is_array(v)) {
		yaml_node(v, 0, out);
	} else {
		yaml_scalar(v, out);
		buf_putc(out, '\n');
	}
}

void config_emit(const config_t *cfg, config_out_t fmt, buf_t *out)
{
	json_t *root = table_json(&config_root_table, cfg);
	if (fmt == CONFIG_OUT_JSON) {
		char *s = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		buf_puts(out, s);
		buf_putc(out, '\n');
		free(s);
	} else {
		yaml_object(root, 0, false, out);
	}
	json_decref(root);
}

/* --------------------------------------------------------------- reference */

static const char *type_name(config_type_t t)
{
	static const char *const names[] = {
		[CT_BOOL] = "bool",	    [CT_INT] = "integer",
		[CT_REAL] = "number",	    [CT_RATIO] = "ratio",
		[CT_PERCENT] = "percent",   [CT_DURATION] = "duration",
		[CT_SIZE] = "size",	    [CT_STRING] = "string",
		[CT_PATH] = "path",	    [CT_ADDR] = "address",
		[CT_ENUM] = "enum",	    [CT_CRON] = "cron",
		[CT_URL] = "url",	    [CT_REGEX] = "pattern",
		[CT_SIGNAL] = "signal",	    [CT_HEADER] = "header",
		[CT_STR_LIST] = "list",	    [CT_ADDR_LIST] = "address list",
		[CT_ARGV] = "argv",	    [CT_ENUM_LIST] = "enum list",
		[CT_METHOD_LIST] = "methods", [CT_MAP] = "map",
		[CT_LIST] = "list of rules",
	};
	return names[t];
}

static void bounds_text(const config_field_t *f, buf_t *b)
{
	char lo[UNITS_FMT_LEN], hi[UNITS_FMT_LEN];
	switch (f->type) {
	case CT_INT:
		buf_printf(b, "%.0f..%.0f", f->min, f->max);
		break;
	case CT_REAL:
	case CT_RATIO:
		buf_printf(b, "%g..%g", f->min, f->max);
		break;
	case CT_PERCENT:
		buf_puts(b, "0..100");
		break;
	case CT_DURATION:
		buf_printf(b, "%s..%s",
			   units_fmt_duration((int64_t)(f->min * 1e9), lo),
			   units_fmt_duration((int64_t)(f->max * 1e9), hi));
		break;
	case CT_SIZE:
		buf_printf(b, "%s..%s", units_fmt_size((uint64_t)f->min, lo),
			   units_fmt_size((uint64_t)f->max, hi));
		break;
	case CT_ENUM:
	case CT_ENUM_LIST:
		for (const char *const *n = f->names; *n; n++)
			buf_printf(b, "%s`%s`", n == f->names ? "" : ", ", *n);
		break;
	default:
		break;
	}
	if (f->unit && strcmp(f->unit, "s") && strcmp(f->unit, "bytes"))
		buf_printf(b, "%s%s", b->len ? " " : "", f->unit);
}

static void ref_table(const config_table_t *t, const char *prefix,
		      const char *section, buf_t *out)
{
	for (size_t i = 0; i < t->n; i++) {
		const config_field_t *f = &t->fields[i];
		if (section) {
			size_t n = strlen(section);
			if (strncmp(f->path, section, n) != 0 ||
			    (f->path[n] != '.' && f->path[n] != '\0'))
				continue;
		}
		buf_t bounds = BUF_INIT;
		bounds_text(f, &bounds);
		const char *def = f->def[0] ? f->def : "";
		buf_printf(out, "| `%s%s` | %s | %s%s%s | %s | %s%s%s |\n",
			   prefix, f->path, type_name(f->type),
			   def[0] ? "`" : "", def[0] ? def : "none",
			   def[0] ? "`" : "", bounds.data ? bounds.data : "",
			   f->doc, f->flags & CF_REQUIRED ? " **Required.**" : "",
			   f->flags & CF_SECRET
				   ? " Must not be group/world-accessible."
				   : "");
		buf_free(&bounds);
		if (f->type == CT_LIST) {
			char *p = xasprintf("%s%s[].", prefix, f->path);
			ref_table(f->elem, p, NULL, out);
			free(p);
		}
	}
}

void config_reference(buf_t *out)
{
	buf_puts(out,
		 "# umbra configuration reference\n\n"
		 "Generated by `umbra check-config --reference` from the field "
		 "table\n(`src/config/config_table.c`); do not edit by hand: "
		 "run `make docs`.\n\n"
		 "One YAML file. Every field has a default except `service`, "
		 "and production\nneeds one of `command`, `upstreams` or "
		 "`attach`. Relative paths are relative to\nthe directory of "
		 "the config file. Durations: `250ms`, `30s`, `5m`, `1h`, "
		 "`7d`,\n`1h30m`. Sizes: `512`, `64KiB`, `8MiB` (1024^n), "
		 "`1MB` (1000^n). Ratios: `0.1`\nor `10%`. Lists can be YAML "
		 "lists or comma-separated text; a command can be\na list or "
		 "one string split like a shell would (quotes, no expansion). "
		 "Cron\nexpressions have five fields (minute hour day month "
		 "weekday), UTC.\n\n"
		 "Errors name `FILE:LINE:COL: field.path: what is wrong "
		 "(expected ...)`; all\nerrors of a file are reported at once "
		 "and `umbra check-config` exits 2.\n");
	for (size_t s = 0; s < config_nsections; s++) {
		const config_section_t *sec = &config_sections[s];
		buf_printf(out, "\n## `%s`\n\n%c%s.%s\n\n", sec->name,
			   toupper((unsigned char)sec->doc[0]), sec->doc + 1,
			   sec->active ? "" : " *Parsed and validated; not "
					      "active in this build yet.*");
		buf_puts(out, "| field | type | default | range | meaning |\n"
			      "| --- | --- | --- | --- | --- |\n");
		ref_table(&config_root_table, "", sec->name, out);
	}
}

/* --------------------------------------------------------------- inactive */

void config_inactive_report(const config_t *cfg, buf_t *out)
{
	for (size_t s = 0; s < config_nsections; s++) {
		const config_section_t *sec = &config_sections[s];
		size_t n = strlen(sec->name);
		bool used = false;
		for (size_t i = 0; i < config_root_table.n; i++) {
			const char *p = config_root_table.fields[i].path;
			if (cfg->set[i] && strncmp(p, sec->name, n) == 0 &&
			    (p[n] == '.' || p[n] == '\0'))
				used = true;
		}
		if (!sec->active)
			buf_printf(out, "%s: not active in this build yet%s\n",
				   sec->name,
				   used ? " (set in the file: parsed and "
					  "validated only)"
					: "");
	}
	for (size_t i = 0; i < config_root_table.n; i++) {
		const config_field_t *f = &config_root_table.fields[i];
		const config_section_t *sec = config__section_of(f->path);
		if ((f->flags & CF_PENDING) && cfg->set[i] && sec && sec->active)
			buf_printf(out, "%s: not active in this build yet "
					"(parsed and validated only)\n",
				   f->path);
	}
}
