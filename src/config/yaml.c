/*
 * yaml.c: libfyaml events -> ynode_t tree (see yaml.h). An explicit stack
 * of open collections, bounded by CONFIG_MAX_DEPTH, so hostile nesting
 * costs neither recursion nor memory.
 */
#include "config/yaml.h"

#include "base/xmalloc.h"
#include "config/config.h"

#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	ynode_t *node;
	ynode_t **kids; /* growable while open, copied to the arena on close */
	size_t n, cap;
} open_t;

static void set_err(yaml_error_t *err, int line, int col, const char *msg)
{
	err->line = line;
	err->col = col;
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

static ynode_t *new_node(arena_t *a, ynode_type_t t, struct fy_event *ev)
{
	ynode_t *n = arena_alloc(a, sizeof(*n));
	const struct fy_mark *m = fy_event_start_mark(ev);
	n->type = t;
	n->line = m ? m->line + 1 : 0;
	n->col = m ? m->column + 1 : 0;
	return n;
}

static void push_kid(open_t *o, ynode_t *kid)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 8;
		o->kids = xreallocarray(o->kids, o->cap, sizeof(*o->kids));
	}
	o->kids[o->n++] = kid;
}

const char *yaml_type_name(const ynode_t *n)
{
	if (!n || n->type == YN_NULL)
		return "nothing";
	return n->type == YN_MAP   ? "a mapping"
	       : n->type == YN_SEQ ? "a list"
				   : "a value";
}

/* A plain scalar that YAML reads as null. */
static bool plain_null(const char *s, size_t len)
{
	return len == 0 || (len == 1 && s[0] == '~') ||
	       (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) ||
			     !memcmp(s, "NULL", 4)));
}

/* Copies the first error libfyaml collected into err. */
static void take_diag(struct fy_diag *diag, yaml_error_t *err)
{
	void *it = NULL;
	struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);
	if (e)
		set_err(err, e->line > 0 ? e->line : 1, e->column > 0 ? e->column : 1,
			e->msg ? e->msg : "YAML syntax error");
	else
		set_err(err, 1, 1, "YAML syntax error");
}

ynode_t *yaml_parse(const char *text, size_t len, arena_t *arena,
		    yaml_error_t *err)
{
	memset(err, 0, sizeof(*err));
	struct fy_diag_cfg dcfg;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	struct fy_diag *diag = fy_diag_create(&dcfg);
	if (!diag)
		xmalloc_oom("fy_diag_create");
	fy_diag_set_collect_errors(diag, true);
	struct fy_parse_cfg pcfg = {0};
	pcfg.flags = FYPCF_QUIET | FYPCF_DISABLE_MMAP_OPT |
		     FYPCF_DISABLE_RECYCLING;
	pcfg.diag = diag;
	struct fy_parser *p = fy_parser_create(&pcfg);
	if (!p)
		xmalloc_oom("fy_parser_create");
	fy_parser_set_string(p, text, len);

	open_t stack[CONFIG_MAX_DEPTH + 1];
	int depth = 0, docs = 0;
	ynode_t *root = NULL;
	bool failed = false;
	struct fy_event *ev;
	while (!failed && (ev = fy_parser_parse(p))) {
		ynode_t *node = NULL;
		const struct fy_mark *m = fy_event_start_mark(ev);
		int line = m ? m->line + 1 : 1, col = m ? m->column + 1 : 1;
		switch (ev->type) {
		case FYET_DOCUMENT_START:
			if (++docs > 1) {
				set_err(err, line, col,
					"more than one YAML document (a "
					"config is a single document)");
				failed = true;
			}
			break;
		case FYET_ALIAS: /* marked after the '*' */
			set_err(err, line, col > 1 ? col - 1 : col,
				"aliases (*name) are not supported in a "
				"config; write the value out");
			failed = true;
			break;
		case FYET_SCALAR: {
			size_t l = 0;
			const char *s = fy_token_get_text(ev->scalar.value, &l);
			bool quoted = fy_token_scalar_style(ev->scalar.value) !=
				      FYSS_PLAIN;
			if (!s)
				s = "";
			if (!quoted && plain_null(s, l)) {
				node = new_node(arena, YN_NULL, ev);
			} else {
				node = new_node(arena, YN_SCALAR, ev);
				node->text = arena_strndup(arena, s, l);
				node->quoted = quoted;
				/* libfyaml marks a quoted scalar after its
				 * opening quote; users look for the quote. */
				enum fy_scalar_style st =
					fy_token_scalar_style(ev->scalar.value);
				if ((st == FYSS_SINGLE_QUOTED ||
				     st == FYSS_DOUBLE_QUOTED) &&
				    node->col > 1)
					node->col--;
				if (strlen(node->text) != l) {
					set_err(err, line, col,
						"NUL character in a value");
					failed = true;
				}
			}
			break;
		}
		case FYET_MAPPING_START:
		case FYET_SEQUENCE_START:
			if (depth == CONFIG_MAX_DEPTH) {
				char msg[96];
				snprintf(msg, sizeof(msg),
					 "nesting too deep (limit %d levels)",
					 CONFIG_MAX_DEPTH);
				set_err(err, line, col, msg);
				failed = true;
				break;
			}
			stack[depth++] = (open_t){
				new_node(arena,
					 ev->type == FYET_MAPPING_START ? YN_MAP
									: YN_SEQ,
					 ev),
				NULL, 0, 0};
			break;
		case FYET_MAPPING_END:
		case FYET_SEQUENCE_END: {
			open_t *o = &stack[--depth];
			node = o->node;
			node->kids = arena_array(arena, o->n ? o->n : 1,
						 sizeof(*node->kids));
			if (o->n)
				memcpy(node->kids, o->kids,
				       o->n * sizeof(*node->kids));
			node->n = node->type == YN_MAP ? o->n / 2 : o->n;
			free(o->kids);
			break;
		}
		default:
			break;
		}
		fy_parser_event_free(p, ev);
		if (node) {
			if (depth > 0)
				push_kid(&stack[depth - 1], node);
			else
				root = node;
		}
	}
	if (!failed && fy_parser_get_stream_error(p)) {
		take_diag(diag, err);
		failed = true;
	}
	while (depth > 0)
		free(stack[--depth].kids);
	fy_parser_destroy(p);
	fy_diag_destroy(diag);
	return failed ? NULL : root;
}
