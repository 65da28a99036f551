/*
 * yaml.h: a YAML document as a small tree with source positions, built
 * from libfyaml's event stream. libfyaml parses; this keeps, for every
 * node, the line and column the config errors need, and refuses what a
 * config has no use for (aliases, several documents, deep nesting) with a
 * clear message. Internal to the config module.
 */
#ifndef UMBRA_CONFIG_YAML_H
#define UMBRA_CONFIG_YAML_H

#include "base/arena.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { YN_NULL, YN_SCALAR, YN_MAP, YN_SEQ } ynode_type_t;

typedef struct ynode ynode_t;
struct ynode {
	ynode_type_t type;
	int line, col; /* 1-based */
	const char *text; /* YN_SCALAR: NUL-terminated value */
	bool quoted;      /* the scalar was quoted (so "null" is a string) */
	/* YN_MAP: kids[2i] is a key, kids[2i+1] its value; YN_SEQ: items */
	ynode_t **kids;
	size_t n; /* entries (pairs for maps) */
};

typedef struct yaml_error {
	int line, col;
	char msg[256];
} yaml_error_t;

/* Parses text (len bytes) into a tree allocated in arena. Returns the root
 * (NULL for an empty document, with err->msg[0] == '\0'), or NULL with
 * err filled on a syntax error. libfyaml runs in a forked child: its
 * crashes and hangs on hostile input come back as errors here. */
ynode_t *yaml_parse(const char *text, size_t len, arena_t *arena,
		    yaml_error_t *err);

/* "a mapping", "a list", "a value", "nothing" */
const char *yaml_type_name(const ynode_t *n);

#endif
