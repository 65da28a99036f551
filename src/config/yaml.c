/*
 * yaml.c: libfyaml events -> ynode_t tree (see yaml.h). An explicit stack
 * of open collections, bounded by CONFIG_MAX_DEPTH, so hostile nesting
 * costs neither recursion nor memory. libfyaml runs in a child process
 * (see the sandbox section at the end).
 */
#include "config/yaml.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/xmalloc.h"
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
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

/* Finds an explicit-key indicator at the start of a line ("? key"),
 * which a config never needs: refused with a clear message rather than
 * handed to a parser whose complex-key paths are its most fragile.
 * Returns true with the 1-based position. */
static bool find_explicit_key(const char *s, size_t len, int *line, int *col)
{
	int ln = 1;
	size_t block = SIZE_MAX; /* inside a block scalar deeper than this */
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - s) : len;
		size_t j = i;
		while (j < end && s[j] == ' ')
			j++;
		size_t indent = j - i;
		bool blank = j == end || (s[j] == '\r' && j + 1 == end);
		if (block != SIZE_MAX && (blank || indent > block))
			goto next; /* block scalar content: literal */
		block = SIZE_MAX;
		while (j < end && s[j] == '\t')
			j++;
		if (j < end && s[j] == '?' &&
		    (j + 1 == end || s[j + 1] == ' ' || s[j + 1] == '\t' ||
		     s[j + 1] == '\r')) {
			*line = ln;
			*col = (int)(j - i) + 1;
			return true;
		}
		/* a line ending in a block scalar header ("key: |", "- >-") */
		size_t e = end;
		while (e > j && (s[e - 1] == ' ' || s[e - 1] == '\r'))
			e--;
		size_t h = e;
		while (h > j && strchr("+-0123456789", s[h - 1]))
			h--;
		if (h > j && (s[h - 1] == '|' || s[h - 1] == '>') &&
		    e - h <= 2 && (h - 1 == j || s[h - 2] == ' '))
			block = indent;
	next:
		if (!nl)
			break;
		i = end + 1;
		ln++;
	}
	return false;
}

/* The parse proper, libfyaml in this process (the sandboxed child). */
static ynode_t *parse_here(const char *text, size_t len, arena_t *arena,
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

/* ------------------------------------------------------------ sandbox */

/* libfyaml 0.7.12 has memory-safety bugs on hostile input (double
 * frees and use-after-frees in its scanner, upstream issues #57, #135
 * and their family; our fuzzer finds more). A config is input, so the
 * library runs in a child process: it parses, then sends the tree back
 * through a pipe as pre-order records. A crash, a hang past
 * YAML_CHILD_TIMEOUT_MS, or a malformed stream becomes a config error;
 * the parent never runs libfyaml. Forking a few ms per load costs
 * nothing at the rate configs are loaded (start, check-config, SIGHUP).
 */
#define YAML_CHILD_TIMEOUT_MS 5000
#define YAML_MAX_STREAM (64u << 20) /* a 1 MiB config expands far less */

typedef struct {
	uint8_t type, quoted;
	int32_t line, col;
	uint32_t text_len;
	uint32_t n; /* pairs for maps, items for lists */
} wire_node_t;

static void put_node(buf_t *b, const ynode_t *n)
{
	wire_node_t w = {(uint8_t)n->type, n->quoted, n->line, n->col, 0,
			 (uint32_t)n->n};
	if (n->type == YN_SCALAR)
		w.text_len = (uint32_t)strlen(n->text);
	buf_append(b, &w, sizeof(w));
	if (w.text_len)
		buf_append(b, n->text, w.text_len);
	size_t kids = n->type == YN_MAP ? 2 * n->n
		      : n->type == YN_SEQ ? n->n
					  : 0;
	for (size_t i = 0; i < kids; i++)
		put_node(b, n->kids[i]);
}

typedef struct {
	const char *p, *end;
	arena_t *arena;
} reader_t;

static ynode_t *get_node(reader_t *r, int depth)
{
	wire_node_t w;
	if (depth > CONFIG_MAX_DEPTH || (size_t)(r->end - r->p) < sizeof(w))
		return NULL;
	memcpy(&w, r->p, sizeof(w));
	r->p += sizeof(w);
	if (w.type > YN_SEQ || w.text_len > (size_t)(r->end - r->p))
		return NULL;
	ynode_t *n = arena_alloc(r->arena, sizeof(*n));
	n->type = (ynode_type_t)w.type;
	n->quoted = w.quoted;
	n->line = w.line;
	n->col = w.col;
	if (n->type == YN_SCALAR) {
		n->text = arena_strndup(r->arena, r->p, w.text_len);
		r->p += w.text_len;
	}
	size_t kids = n->type == YN_MAP ? 2 * (size_t)w.n
		      : n->type == YN_SEQ ? w.n
					  : 0;
	/* each kid needs at least a record: bound the count first */
	if (kids > (size_t)(r->end - r->p) / sizeof(wire_node_t))
		return NULL;
	n->n = w.n;
	n->kids = arena_array(r->arena, kids ? kids : 1, sizeof(*n->kids));
	for (size_t i = 0; i < kids; i++)
		if (!(n->kids[i] = get_node(r, depth + 1)))
			return NULL;
	return n;
}

/* Child: parse, send "E" + error, or "T" + tree, or "N" for empty. */
static _Noreturn void child_parse(int fd, const char *text, size_t len)
{
	arena_t a = ARENA_INIT;
	yaml_error_t err;
	ynode_t *root = parse_here(text, len, &a, &err);
	buf_t b = BUF_INIT;
	if (root) {
		buf_putc(&b, 'T');
		put_node(&b, root);
	} else if (err.msg[0]) {
		buf_putc(&b, 'E');
		buf_append(&b, &err, sizeof(err));
	} else {
		buf_putc(&b, 'N');
	}
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(3);
		off += (size_t)w;
	}
	_exit(0);
}

ynode_t *yaml_parse(const char *text, size_t len, arena_t *arena,
		    yaml_error_t *err)
{
	memset(err, 0, sizeof(*err));
	int kl, kc;
	if (find_explicit_key(text, len, &kl, &kc)) {
		set_err(err, kl, kc,
			"explicit keys (\"? key\") are not supported in a "
			"config; write \"key: value\"");
		return NULL;
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		set_err(err, 1, 1, "cannot start the YAML parser (pipe)");
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		set_err(err, 1, 1, "cannot start the YAML parser (fork)");
		return NULL;
	}
	if (pid == 0) {
		close(fds[0]);
		child_parse(fds[1], text, len);
	}
	close(fds[1]);
	buf_t in = BUF_INIT;
	bool timed_out = false, too_big = false;
	int64_t deadline = clock_mono_ns() + YAML_CHILD_TIMEOUT_MS * NS_PER_MS;
	for (;;) {
		int64_t left = deadline - clock_mono_ns();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pfd = {fds[0], POLLIN, 0};
		int pr = poll(&pfd, 1, (int)(left / NS_PER_MS) + 1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		buf_reserve(&in, 65536);
		ssize_t r = read(fds[0], in.data + in.len, in.cap - in.len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		in.len += (size_t)r;
		if (in.len > YAML_MAX_STREAM) {
			too_big = true;
			break;
		}
	}
	close(fds[0]);
	if (timed_out || too_big)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	ynode_t *root = NULL;
	bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (timed_out) {
		set_err(err, 1, 1, "the YAML parser did not finish in time on "
				   "this input");
	} else if (!clean || too_big || in.len == 0) {
		set_err(err, 1, 1,
			"the YAML parser (libfyaml) failed on this input; look "
			"for tabs, '?', '&', '*' and other unusual constructs");
	} else if (in.data[0] == 'E' && in.len == 1 + sizeof(yaml_error_t)) {
		memcpy(err, in.data + 1, sizeof(*err));
		err->msg[sizeof(err->msg) - 1] = '\0';
	} else if (in.data[0] == 'T') {
		reader_t rd = {in.data + 1, in.data + in.len, arena};
		root = get_node(&rd, 0);
		if (!root || rd.p != rd.end) {
			root = NULL;
			set_err(err, 1, 1, "the YAML parser sent a malformed "
					   "tree");
		}
	} else if (in.data[0] != 'N') {
		set_err(err, 1, 1, "the YAML parser sent a malformed tree");
	}
	buf_free(&in);
	return root;
}
