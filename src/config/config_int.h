/*
 * config_int.h: the field-table types shared by the config module's files
 * (table, loader, validation, output). Not for other modules.
 */
#ifndef UMBRA_CONFIG_CONFIG_INT_H
#define UMBRA_CONFIG_CONFIG_INT_H

#include "config/config.h"

#include <stddef.h>

typedef enum config_type {
	CT_BOOL,
	CT_INT,      /* int64_t, bounds min..max */
	CT_REAL,     /* double, bounds min..max */
	CT_RATIO,    /* double 0..1, "10%" accepted */
	CT_PERCENT,  /* double 0..100, "%" optional */
	CT_DURATION, /* int64_t ns; bounds in seconds */
	CT_SIZE,     /* uint64_t bytes; bounds in bytes */
	CT_STRING,   /* char *; min = shortest length */
	CT_PATH,     /* char *, resolved against the config's directory */
	CT_ADDR,     /* addr_t; min 0 allows port 0 */
	CT_ENUM,     /* int index into names */
	CT_CRON,     /* config_cron_t; "" = none */
	CT_URL,      /* char *, http:// or https://; "" = none */
	CT_REGEX,    /* char *, PCRE2 syntax checked; "" = none */
	CT_SIGNAL,   /* int signal number; "" = 0 when min is 0 */
	CT_HEADER,   /* char * "Name: value"; "" = none */
	CT_STR_LIST, /* config_strv_t */
	CT_ADDR_LIST,   /* config_addrv_t */
	CT_ARGV,        /* config_strv_t; placeholders checked */
	CT_ENUM_LIST,   /* config_strv_t of names from names[] */
	CT_METHOD_LIST, /* config_strv_t of HTTP method tokens, upper-cased */
	CT_MAP,         /* config_map_t of string -> string */
	CT_LIST,        /* CONFIG_VEC of elem->size structs */
} config_type_t;

#define CF_REQUIRED 0x01 /* must be set by the file */
#define CF_SECRET 0x02   /* a file that must not be group/world-accessible */
#define CF_PENDING 0x04  /* parsed and validated; feature not built yet */
#define CF_ENVKEYS 0x08  /* CT_MAP: keys must be environment names */

typedef struct config_table config_table_t;

typedef struct config_field {
	const char *path; /* dotted, relative to its table's root */
	config_type_t type;
	size_t offset;
	const char *def; /* default as text; lists comma-separated */
	double min, max;
	const char *unit;
	const char *const *names; /* CT_ENUM, CT_ENUM_LIST: NULL-terminated;
				     CT_ARGV: its placeholders (NULL: the
				     common config_placeholders) */
	const config_table_t *elem; /* CT_LIST */
	unsigned flags;
	const char *doc;
} config_field_t;

struct config_table {
	const char *name; /* "config", "mask.rules[]" */
	const config_field_t *fields;
	size_t n;
	size_t size; /* of one element, for CT_LIST tables */
};

typedef struct config_section {
	const char *name;
	const char *doc;
	bool active; /* false: parsed and validated only, for now */
} config_section_t;

extern const config_table_t config_root_table;
extern const config_section_t config_sections[];
extern const size_t config_nsections;

/* Placeholders allowed in CT_ARGV values and config files. */
extern const char *const config_placeholders[];

/* The section a root path belongs to ("mirror.ratio" -> mirror), or NULL. */
const config_section_t *config__section_of(const char *path);

/* Where each value came from, by display path, for validation errors. */
typedef struct config_mark {
	char *path;
	int line, col;
	bool quoted; /* a quoted scalar: col is its opening quote */
} config_mark_t;

struct config_marks {
	config_mark_t *v;
	size_t n, cap;
};
typedef struct config_marks config_marks_t;

void config__error(config_errors_t *errs, const char *file, int line, int col,
		   const char *path, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void config__mark(config_t *cfg, const char *path, int line, int col);
/* The position of path's value, or false when the file did not set it. */
bool config__mark_of(const config_t *cfg, const char *path, int *line,
		     int *col);
/* Marks path's value as a quoted scalar, and asks whether it was one. */
void config__mark_quoted(config_t *cfg, const char *path);
bool config__mark_is_quoted(const config_t *cfg, const char *path);
/* Index of the root field at path, or -1. */
int config__root_index(const char *path);

/* A field's storage inside the struct at base. */
static inline void *config__at(void *base, const config_field_t *f)
{
	return (char *)base + f->offset;
}

#endif
