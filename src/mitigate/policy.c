/*
 * policy.c: the condition language of policy rules (lexer, recursive
 * descent parser with type checks, evaluation, canonical printing and
 * explanation), the built-in default policy, and the governor that
 * enforces cooldowns and the hourly cap. See policy.h for the language.
 *
 * Precedence, loosest first: or, and, not, comparison. Comparisons do
 * not chain (a < b < c is an error, not a surprise).
 */
#include "mitigate/policy.h"

#include "base/err.h"
#include "base/suggest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIT_NUM_TEXT_MAX 40 /* digits of one number; 17 are significant */

/* ------------------------------------------------------------ names */

static const char *const field_names[] = {
#define MIT__FIELD_NAME(name, b, doc) #name,
	MIT_FIELDS(MIT__FIELD_NAME)
#undef MIT__FIELD_NAME
};
static const bool field_bool[] = {
#define MIT__FIELD_BOOL(name, b, doc) b,
	MIT_FIELDS(MIT__FIELD_BOOL)
#undef MIT__FIELD_BOOL
};

const char *mit_field_name(mit_field_t f)
{
	return (unsigned)f < MIT_F__COUNT ? field_names[f] : "?";
}

bool mit_field_is_bool(mit_field_t f)
{
	return (unsigned)f < MIT_F__COUNT && field_bool[f];
}

static const char *const act_names[] = {"rollback", "scale", "stress",
					"alert", "hold"};

const char *mit_act_name(mit_act_t a)
{
	return (unsigned)a < MIT_ACT__COUNT ? act_names[a] : "?";
}

int mit_act_by_name(const char *name)
{
	for (int i = 0; i < MIT_ACT__COUNT; i++)
		if (strcmp(act_names[i], name) == 0)
			return i;
	return -1;
}

static const char *const cmp_text[] = {"<", "<=", ">", ">=", "==", "!="};

/* ------------------------------------------------------------ lexer */

typedef enum tok_kind {
	T_END,
	T_NUM,
	T_IDENT, /* a name, possibly NAME.NAME */
	T_LPAREN,
	T_RPAREN,
	T_CMP,
	T_AND,
	T_OR,
	T_NOT,
	T_TRUE,
	T_FALSE,
} tok_kind_t;

typedef struct tok {
	tok_kind_t kind;
	size_t off, len; /* where it is in the text */
	double num;
	mit_cmp_t op;
	size_t dot; /* T_IDENT: offset of '.', or 0 when none */
} tok_t;

typedef struct parser {
	const char *s;
	size_t len, pos;
	tok_t tok; /* the current token */
	mit_expr_t *e;
	mit_expr_err_t *err;
	bool failed;
	int depth;
	size_t start[MIT_EXPR_MAX_NODES]; /* where each node's text begins */
} parser_t;

static void fail(parser_t *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(parser_t *p, size_t off, const char *fmt, ...)
{
	if (p->failed)
		return; /* the first error is the one that matters */
	p->failed = true;
	p->err->offset = off;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A token's text, cut for messages. */
static int tok_show_len(const tok_t *t)
{
	return t->len > 40 ? 40 : (int)t->len;
}

static bool word_is(const parser_t *p, size_t off, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(p->s + off, w, n) == 0;
}

static void lex_number(parser_t *p, tok_t *t)
{
	size_t i = p->pos;
	if (p->s[i] == '-')
		i++;
	size_t digits = 0;
	while (i < p->len && is_digit(p->s[i]))
		i++, digits++;
	if (i < p->len && p->s[i] == '.') {
		i++;
		while (i < p->len && is_digit(p->s[i]))
			i++, digits++;
	}
	if (digits && i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
		size_t j = i + 1;
		if (j < p->len && (p->s[j] == '+' || p->s[j] == '-'))
			j++;
		if (j < p->len && is_digit(p->s[j])) {
			while (j < p->len && is_digit(p->s[j]))
				j++;
			i = j;
		}
	}
	if (!digits) {
		fail(p, p->pos, "a number needs digits");
		return;
	}
	if (i - p->pos > MIT_NUM_TEXT_MAX) {
		fail(p, p->pos, "number too long (at most %d characters)",
		     MIT_NUM_TEXT_MAX);
		return;
	}
	char buf[MIT_NUM_TEXT_MAX + 1];
	memcpy(buf, p->s + p->pos, i - p->pos);
	buf[i - p->pos] = '\0';
	double v = strtod(buf, NULL);
	if (i < p->len && p->s[i] == '%') {
		v /= 100;
		i++;
	}
	if (i < p->len && (is_alpha(p->s[i]) || is_digit(p->s[i]) ||
			   p->s[i] == '.')) {
		fail(p, i, "unexpected '%c' in a number", p->s[i]);
		return;
	}
	if (!(fabs(v) <= MIT_EXPR_MAX_NUMBER)) {
		fail(p, p->pos, "number out of range (at most %g)",
		     MIT_EXPR_MAX_NUMBER);
		return;
	}
	t->kind = T_NUM;
	t->num = v;
	t->len = i - p->pos;
}

static void lex_ident(parser_t *p, tok_t *t)
{
	size_t i = p->pos;
	while (i < p->len && (is_alpha(p->s[i]) || is_digit(p->s[i])))
		i++;
	size_t n = i - p->pos;
	t->len = n;
	t->kind = T_IDENT;
	if (word_is(p, p->pos, n, "and"))
		t->kind = T_AND;
	else if (word_is(p, p->pos, n, "or"))
		t->kind = T_OR;
	else if (word_is(p, p->pos, n, "not"))
		t->kind = T_NOT;
	else if (word_is(p, p->pos, n, "true"))
		t->kind = T_TRUE;
	else if (word_is(p, p->pos, n, "false"))
		t->kind = T_FALSE;
	if (t->kind != T_IDENT || i >= p->len || p->s[i] != '.')
		return;
	t->dot = i;
	size_t j = i + 1;
	if (j >= p->len || !is_alpha(p->s[j])) {
		fail(p, j,
		     "expected a field after \"%.*s.\" (e.g. %.*s.deviation)",
		     (int)n, p->s + p->pos, (int)n, p->s + p->pos);
		return;
	}
	while (j < p->len && (is_alpha(p->s[j]) || is_digit(p->s[j])))
		j++;
	if (j < p->len && p->s[j] == '.') {
		fail(p, j, "a reference is METRIC.FIELD: one dot only");
		return;
	}
	t->len = j - p->pos;
}

/* Reads the next token into p->tok. */
static void next(parser_t *p)
{
	tok_t *t = &p->tok;
	while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) &&
	       p->s[p->pos] != '\0')
		p->pos++;
	*t = (tok_t){.kind = T_END, .off = p->pos};
	if (p->pos >= p->len)
		return;
	char c = p->s[p->pos], d = p->pos + 1 < p->len ? p->s[p->pos + 1] : 0;
	t->len = 1;
	if (is_digit(c) || (c == '.' && is_digit(d)) ||
	    (c == '-' && (is_digit(d) || d == '.'))) {
		lex_number(p, t);
	} else if (is_alpha(c)) {
		lex_ident(p, t);
	} else if (c == '(') {
		t->kind = T_LPAREN;
	} else if (c == ')') {
		t->kind = T_RPAREN;
	} else if (c == '<' || c == '>') {
		t->kind = T_CMP;
		t->op = c == '<' ? (d == '=' ? MIT_LE : MIT_LT)
				 : (d == '=' ? MIT_GE : MIT_GT);
		t->len = d == '=' ? 2 : 1;
	} else if (c == '=' && d == '=') {
		t->kind = T_CMP, t->op = MIT_EQ, t->len = 2;
	} else if (c == '!' && d == '=') {
		t->kind = T_CMP, t->op = MIT_NE, t->len = 2;
	} else if (c == '=') {
		fail(p, p->pos, "'=' is not a comparison: use == (equal)");
	} else if (c == '!') {
		fail(p, p->pos, "use 'not' instead of '!'");
	} else if (c == '&') {
		fail(p, p->pos, "use 'and' instead of '%s'",
		     d == '&' ? "&&" : "&");
	} else if (c == '|') {
		fail(p, p->pos, "use 'or' instead of '%s'",
		     d == '|' ? "||" : "|");
	} else if (c == '.') {
		fail(p, p->pos, "a '.' belongs between a metric and a field "
				"(e.g. cpu.deviation)");
	} else if (c >= 0x21 && c <= 0x7e) {
		fail(p, p->pos, "unexpected character '%c'", c);
	} else {
		fail(p, p->pos, "unexpected byte 0x%02x (a condition is ASCII "
				"text)",
		     (unsigned char)c);
	}
	if (!p->failed)
		p->pos += t->len;
	else
		t->kind = T_END;
}

/* ------------------------------------------------------------ parser */

typedef enum vtype { V_NUM, V_BOOL } vtype_t;

static int new_node(parser_t *p, mit_node_kind_t kind, size_t start)
{
	if (p->e->n >= MIT_EXPR_MAX_NODES) {
		fail(p, start, "condition too complex (more than %d terms)",
		     MIT_EXPR_MAX_NODES);
		return -1;
	}
	int i = p->e->n++;
	p->e->node[i] = (mit_node_t){.kind = (uint8_t)kind, .a = -1, .b = -1};
	p->start[i] = start;
	return i;
}

static vtype_t node_type(const mit_expr_t *e, int i)
{
	const mit_node_t *n = &e->node[i];
	switch (n->kind) {
	case MIT_N_NUM:
		return V_NUM;
	case MIT_N_REF:
		return mit_field_is_bool(n->field) ? V_BOOL : V_NUM;
	default:
		return V_BOOL;
	}
}

/* Text of node i for messages: the reference's name or "a number". */
static void node_desc(const parser_t *p, int i, char *out, size_t n)
{
	const mit_node_t *x = &p->e->node[i];
	if (x->kind == MIT_N_REF)
		snprintf(out, n, "%s.%s is a number",
			 an_metric_name((an_metric_t)x->metric),
			 mit_field_name((mit_field_t)x->field));
	else if (x->kind == MIT_N_NUM)
		snprintf(out, n, "%g is a number", x->v);
	else
		snprintf(out, n, "that is a number");
}

static int parse_or(parser_t *p);

/* A name that is not METRIC.FIELD: say what it would have to be. */
static void bad_name(parser_t *p, const tok_t *t)
{
	const char *cands[AN_METRIC__COUNT + MIT_F__COUNT + 5];
	size_t nc = 0;
	char word[64];
	snprintf(word, sizeof(word), "%.*s", tok_show_len(t), p->s + t->off);
	if (an_metric_by_name(word) >= 0) {
		fail(p, t->off,
		     "\"%s\" is a metric: name a field too (e.g. "
		     "%s.deviation)",
		     word, word);
		return;
	}
	for (int f = 0; f < MIT_F__COUNT; f++)
		if (strcmp(word, field_names[f]) == 0) {
			fail(p, t->off,
			     "\"%s\" is a field: say whose (e.g. cpu.%s)",
			     word, word);
			return;
		}
	for (int m = 0; m < AN_METRIC__COUNT; m++)
		cands[nc++] = an_metric_name((an_metric_t)m);
	const char *s = suggest_closest(word, cands, nc);
	if (s)
		fail(p, t->off, "unknown name \"%s\"; did you mean \"%s\"?",
		     word, s);
	else
		fail(p, t->off,
		     "unknown name \"%s\" (expected METRIC.FIELD, a number, "
		     "true or false)",
		     word);
}

static int parse_ref(parser_t *p)
{
	tok_t t = p->tok;
	if (!t.dot) {
		bad_name(p, &t);
		return -1;
	}
	char metric[64], field[64];
	size_t mlen = t.dot - t.off, flen = t.off + t.len - t.dot - 1;
	snprintf(metric, sizeof(metric), "%.*s", mlen > 63 ? 63 : (int)mlen,
		 p->s + t.off);
	snprintf(field, sizeof(field), "%.*s", flen > 63 ? 63 : (int)flen,
		 p->s + t.dot + 1);
	int m = mlen < sizeof(metric) ? an_metric_by_name(metric) : -1;
	if (m < 0) {
		const char *cands[AN_METRIC__COUNT];
		for (int i = 0; i < AN_METRIC__COUNT; i++)
			cands[i] = an_metric_name((an_metric_t)i);
		const char *s = suggest_closest(metric, cands, AN_METRIC__COUNT);
		if (s)
			fail(p, t.off,
			     "unknown metric \"%s\"; did you mean \"%s\"?",
			     metric, s);
		else
			fail(p, t.off,
			     "unknown metric \"%s\" (expected cpu, memory, "
			     "disk_read, disk_write, net_rx, net_tx, "
			     "latency_p50, latency_p90, latency_p99, "
			     "error_rate or diff_rate)",
			     metric);
		return -1;
	}
	int f = -1;
	for (int i = 0; i < MIT_F__COUNT && flen < sizeof(field); i++)
		if (strcmp(field, field_names[i]) == 0)
			f = i;
	if (f < 0) {
		const char *s = suggest_closest(field, field_names, MIT_F__COUNT);
		if (s)
			fail(p, t.dot + 1,
			     "unknown field \"%s\"; did you mean \"%s\"?", field,
			     s);
		else
			fail(p, t.dot + 1,
			     "unknown field \"%s\" (expected deviation, "
			     "velocity, severity, threshold, lead_s, "
			     "predicted, deviating, sustained or critical)",
			     field);
		return -1;
	}
	int i = new_node(p, MIT_N_REF, t.off);
	if (i < 0)
		return -1;
	p->e->node[i].metric = (uint8_t)m;
	p->e->node[i].field = (uint8_t)f;
	p->e->metrics |= 1u << m;
	next(p);
	return i;
}

static const char *tok_name(const tok_t *t)
{
	switch (t->kind) {
	case T_END:
		return "the end";
	case T_RPAREN:
		return "')'";
	case T_CMP:
		return "a comparison";
	case T_AND:
		return "'and'";
	case T_OR:
		return "'or'";
	default:
		return "this";
	}
}

static int parse_primary(parser_t *p)
{
	tok_t t = p->tok;
	int i;
	switch (t.kind) {
	case T_NUM:
		i = new_node(p, MIT_N_NUM, t.off);
		if (i >= 0)
			p->e->node[i].v = t.num;
		next(p);
		return i;
	case T_TRUE:
	case T_FALSE:
		i = new_node(p, MIT_N_BOOL, t.off);
		if (i >= 0)
			p->e->node[i].v = t.kind == T_TRUE;
		next(p);
		return i;
	case T_IDENT:
		return parse_ref(p);
	case T_LPAREN:
		if (++p->depth > MIT_EXPR_MAX_DEPTH) {
			fail(p, t.off, "nested too deeply (more than %d levels)",
			     MIT_EXPR_MAX_DEPTH);
			return -1;
		}
		next(p);
		i = parse_or(p);
		p->depth--;
		if (i < 0)
			return -1;
		if (p->tok.kind != T_RPAREN) {
			fail(p, p->tok.off,
			     "missing ')' for the '(' at offset %zu", t.off);
			return -1;
		}
		p->start[i] = t.off;
		next(p);
		return i;
	default:
		fail(p, t.off, "expected a value (METRIC.FIELD, a number, true, "
			       "false or '('), found %s",
		     tok_name(&t));
		return -1;
	}
}

static int parse_cmp(parser_t *p)
{
	int a = parse_primary(p);
	if (a < 0 || p->tok.kind != T_CMP)
		return a;
	tok_t op = p->tok;
	next(p);
	int b = parse_primary(p);
	if (b < 0)
		return -1;
	vtype_t ta = node_type(p->e, a), tb = node_type(p->e, b);
	if (ta != tb) {
		int bad = ta == V_BOOL ? a : b;
		const mit_node_t *x = &p->e->node[bad];
		char what[96] = "a condition";
		if (x->kind == MIT_N_REF)
			snprintf(what, sizeof(what), "%s.%s",
				 an_metric_name((an_metric_t)x->metric),
				 mit_field_name((mit_field_t)x->field));
		else if (x->kind == MIT_N_BOOL)
			snprintf(what, sizeof(what), "%s",
				 x->v ? "true" : "false");
		fail(p, p->start[bad],
		     "'%s' compares a number with true/false (%s is "
		     "true/false)",
		     cmp_text[op.op], what);
		return -1;
	}
	if (ta == V_BOOL && op.op != MIT_EQ && op.op != MIT_NE) {
		fail(p, op.off, "'%s' needs numbers; true/false compare with "
				"== or !=",
		     cmp_text[op.op]);
		return -1;
	}
	if (p->tok.kind == T_CMP) {
		fail(p, p->tok.off,
		     "comparisons do not chain: join them with 'and' (a < b "
		     "and b < c)");
		return -1;
	}
	int i = new_node(p, MIT_N_CMP, p->start[a]);
	if (i < 0)
		return -1;
	p->e->node[i].op = (uint8_t)op.op;
	p->e->node[i].a = (int16_t)a;
	p->e->node[i].b = (int16_t)b;
	return i;
}

/* Operand a of a logical operator must be true/false. */
static bool need_bool(parser_t *p, int a, const char *op)
{
	if (node_type(p->e, a) == V_BOOL)
		return true;
	char d[96];
	node_desc(p, a, d, sizeof(d));
	fail(p, p->start[a],
	     "'%s' needs true/false on both sides, but %s (compare it, e.g. "
	     "> 0.1)",
	     op, d);
	return false;
}

static int parse_not(parser_t *p)
{
	if (p->tok.kind != T_NOT)
		return parse_cmp(p);
	size_t off = p->tok.off;
	if (++p->depth > MIT_EXPR_MAX_DEPTH) {
		fail(p, off, "nested too deeply (more than %d levels)",
		     MIT_EXPR_MAX_DEPTH);
		return -1;
	}
	next(p);
	int a = parse_not(p);
	p->depth--;
	if (a < 0 || !need_bool(p, a, "not"))
		return -1;
	int i = new_node(p, MIT_N_NOT, off);
	if (i >= 0)
		p->e->node[i].a = (int16_t)a;
	return i;
}

static int parse_binary(parser_t *p, tok_kind_t kind)
{
	int a = kind == T_OR ? parse_binary(p, T_AND) : parse_not(p);
	while (a >= 0 && p->tok.kind == kind) {
		const char *op = kind == T_OR ? "or" : "and";
		if (!need_bool(p, a, op))
			return -1;
		next(p);
		int b = kind == T_OR ? parse_binary(p, T_AND) : parse_not(p);
		if (b < 0 || !need_bool(p, b, op))
			return -1;
		int i = new_node(p, kind == T_OR ? MIT_N_OR : MIT_N_AND,
				 p->start[a]);
		if (i < 0)
			return -1;
		p->e->node[i].a = (int16_t)a;
		p->e->node[i].b = (int16_t)b;
		a = i;
	}
	return a;
}

static int parse_or(parser_t *p)
{
	return parse_binary(p, T_OR);
}

int mit_expr_parse(const char *text, size_t len, mit_expr_t *out,
		   mit_expr_err_t *err)
{
	parser_t p = {.s = text, .len = len, .e = out, .err = err};
	out->n = 0;
	out->root = -1;
	out->metrics = 0;
	err->offset = 0;
	err->msg[0] = '\0';
	if (len > MIT_EXPR_MAX_LEN) {
		fail(&p, MIT_EXPR_MAX_LEN,
		     "condition too long (%zu bytes; at most %d)", len,
		     MIT_EXPR_MAX_LEN);
		return ERR_PARSE;
	}
	next(&p);
	if (!p.failed && p.tok.kind == T_END) {
		fail(&p, 0, "empty condition (expected e.g. \"cpu.deviation > "
			    "0.1\")");
		return ERR_PARSE;
	}
	int root = p.failed ? -1 : parse_or(&p);
	if (!p.failed && p.tok.kind != T_END) {
		if (p.tok.kind == T_RPAREN)
			fail(&p, p.tok.off, "unexpected ')' (no '(' to close)");
		else
			fail(&p, p.tok.off,
			     "unexpected \"%.*s\" after a complete condition "
			     "(join conditions with 'and' or 'or')",
			     tok_show_len(&p.tok), text + p.tok.off);
	}
	if (!p.failed && node_type(out, root) != V_BOOL) {
		char d[96];
		node_desc(&p, root, d, sizeof(d));
		fail(&p, 0,
		     "a condition must be true or false, but %s (compare it, "
		     "e.g. > 0.1)",
		     d);
	}
	if (!p.failed && !out->metrics)
		fail(&p, 0, "the condition names no metric (expected e.g. "
			    "cpu.deviation > 0.1)");
	if (p.failed)
		return ERR_PARSE;
	out->root = root;
	return 0;
}

/* ------------------------------------------------------------ evaluation */

void mit_eval_ctx_clear(mit_eval_ctx_t *c)
{
	for (int m = 0; m < AN_METRIC__COUNT; m++)
		for (int f = 0; f < MIT_F__COUNT; f++)
			c->val[m][f] = field_bool[f] ? 0 : NAN;
}

void mit_eval_ctx_set(mit_eval_ctx_t *c, an_metric_t m,
		      const an_metric_view_t *view, const an_finding_t *open)
{
	double *v = c->val[m];
	for (int f = 0; f < MIT_F__COUNT; f++)
		v[f] = field_bool[f] ? 0 : NAN;
	if (view && view->valid) {
		v[MIT_F_deviation] = view->deviation;
		v[MIT_F_velocity] = view->velocity;
		v[MIT_F_threshold] = view->threshold;
	}
	v[MIT_F_severity] = 0;
	if (!open || open->suppressed || open->kind == AN_FIND_NONE)
		return;
	v[MIT_F_severity] = open->severity;
	if (open->kind == AN_FIND_PREDICTED) {
		v[MIT_F_predicted] = 1;
		v[MIT_F_lead_s] = open->lead_s;
	} else {
		v[MIT_F_deviating] = 1;
	}
	v[MIT_F_sustained] = open->kind == AN_FIND_SUSTAINED;
	v[MIT_F_critical] = open->kind == AN_FIND_CRITICAL;
}

static double eval_num(const mit_expr_t *e, int i, const mit_eval_ctx_t *c)
{
	const mit_node_t *n = &e->node[i];
	if (n->kind == MIT_N_NUM)
		return n->v;
	return c->val[n->metric][n->field];
}

static bool eval_node(const mit_expr_t *e, int i, const mit_eval_ctx_t *c)
{
	const mit_node_t *n = &e->node[i];
	switch ((mit_node_kind_t)n->kind) {
	case MIT_N_BOOL:
		return n->v != 0;
	case MIT_N_REF:
		return c->val[n->metric][n->field] != 0;
	case MIT_N_NOT:
		return !eval_node(e, n->a, c);
	case MIT_N_AND:
		return eval_node(e, n->a, c) && eval_node(e, n->b, c);
	case MIT_N_OR:
		return eval_node(e, n->a, c) || eval_node(e, n->b, c);
	case MIT_N_CMP:
		break;
	default:
		return false;
	}
	double a, b;
	if (node_type(e, n->a) == V_BOOL) {
		a = eval_node(e, n->a, c);
		b = eval_node(e, n->b, c);
	} else {
		a = eval_num(e, n->a, c);
		b = eval_num(e, n->b, c);
	}
	/* Unknown values compare false, whatever the operator: a rule must
	 * not fire on data it does not have. */
	if (isnan(a) || isnan(b))
		return false;
	switch ((mit_cmp_t)n->op) {
	case MIT_LT:
		return a < b;
	case MIT_LE:
		return a <= b;
	case MIT_GT:
		return a > b;
	case MIT_GE:
		return a >= b;
	case MIT_EQ:
		return a == b;
	case MIT_NE:
		return a != b;
	}
	return false;
}

bool mit_expr_eval(const mit_expr_t *e, const mit_eval_ctx_t *c)
{
	return e->root >= 0 && eval_node(e, e->root, c);
}

/* ------------------------------------------------------------ printing */

typedef struct out {
	char *s;
	size_t size, len;
} out_t;

static void put(out_t *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
	if (o->len + 1 >= o->size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->s + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->size - o->len ? (size_t)n
						       : o->size - o->len - 1;
}

/* Binding strength: or 1, and 2, not 3, comparison 4, primaries 5. */
static int prec(const mit_node_t *n)
{
	switch (n->kind) {
	case MIT_N_OR:
		return 1;
	case MIT_N_AND:
		return 2;
	case MIT_N_NOT:
		return 3;
	case MIT_N_CMP:
		return 4;
	default:
		return 5;
	}
}

static void print_node(const mit_expr_t *e, int i, const mit_eval_ctx_t *c,
		       out_t *o, int min_prec);

static void print_sub(const mit_expr_t *e, int i, const mit_eval_ctx_t *c,
		      out_t *o, int min_prec)
{
	bool paren = prec(&e->node[i]) < min_prec;
	if (paren)
		put(o, "(");
	print_node(e, i, c, o, min_prec);
	if (paren)
		put(o, ")");
}

static void print_node(const mit_expr_t *e, int i, const mit_eval_ctx_t *c,
		       out_t *o, int min_prec)
{
	const mit_node_t *n = &e->node[i];
	switch ((mit_node_kind_t)n->kind) {
	case MIT_N_NUM:
		put(o, c ? "%g" : "%.17g", n->v);
		break;
	case MIT_N_BOOL:
		put(o, "%s", n->v ? "true" : "false");
		break;
	case MIT_N_REF:
		put(o, "%s.%s", an_metric_name((an_metric_t)n->metric),
		    mit_field_name((mit_field_t)n->field));
		if (c) {
			double v = c->val[n->metric][n->field];
			if (mit_field_is_bool((mit_field_t)n->field))
				put(o, "(%s)", v != 0 ? "true" : "false");
			else if (isnan(v))
				put(o, "(unknown)");
			else
				put(o, "(%.3g)", v);
		}
		break;
	case MIT_N_NOT:
		put(o, "not ");
		print_sub(e, n->a, c, o, 3);
		break;
	case MIT_N_AND:
	case MIT_N_OR: {
		/* An and inside an or gets parentheses it does not need,
		 * for people: a or (b and c) reads better than a or b and
		 * c. Right operands bind one tighter: the parser is left
		 * associative, so a or (b or c) keeps its parentheses. */
		int pr = n->kind == MIT_N_OR ? 3 : 2;
		print_sub(e, n->a, c, o,
			  n->kind == MIT_N_OR && e->node[n->a].kind == MIT_N_OR
			      ? 1
			      : pr);
		put(o, n->kind == MIT_N_OR ? " or " : " and ");
		print_sub(e, n->b, c, o, pr == 3 ? 3 : pr + 1);
		break;
	}
	case MIT_N_CMP:
		print_sub(e, n->a, c, o, 5);
		put(o, " %s ", cmp_text[n->op]);
		print_sub(e, n->b, c, o, 5);
		break;
	}
	(void)min_prec;
}

void mit_expr_format(const mit_expr_t *e, char *out, size_t size)
{
	if (!size)
		return;
	out_t o = {out, size, 0};
	out[0] = '\0';
	if (e->root >= 0)
		print_node(e, e->root, NULL, &o, 0);
}

void mit_expr_explain(const mit_expr_t *e, const mit_eval_ctx_t *c, char *out,
		      size_t size)
{
	if (!size)
		return;
	out_t o = {out, size, 0};
	out[0] = '\0';
	if (e->root >= 0)
		print_node(e, e->root, c, &o, 0);
}

/* ------------------------------------------------------------ rules */

int mit_policy_add(mit_policy_t *p, const char *name, const char *when,
		   const char *const *then, size_t nthen, int64_t cooldown_ns,
		   mit_expr_err_t *err)
{
	if (p->n >= MIT_MAX_RULES) {
		err->offset = 0;
		snprintf(err->msg, sizeof(err->msg),
			 "too many rules (at most %d)", MIT_MAX_RULES);
		return ERR_RANGE;
	}
	mit_rule_t *r = &p->rule[p->n];
	memset(r, 0, sizeof(*r));
	int rc = mit_expr_parse(when, strlen(when), &r->expr, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < nthen; i++) {
		int a = mit_act_by_name(then[i]);
		if (a < 0) {
			err->offset = 0;
			snprintf(err->msg, sizeof(err->msg),
				 "unknown action \"%.40s\" (expected rollback, "
				 "scale, stress, alert or hold)",
				 then[i]);
			return ERR_INVAL;
		}
		bool dup = false;
		for (int j = 0; j < r->nthen; j++)
			dup |= r->then[j] == (mit_act_t)a;
		if (!dup)
			r->then[r->nthen++] = (mit_act_t)a;
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->when, sizeof(r->when), "%s", when);
	r->cooldown_ns = cooldown_ns;
	p->n++;
	return 0;
}

void mit_policy_default(mit_policy_t *out, double velocity,
			int64_t cooldown_ns)
{
	/* Scaling helps when requests cost more than the replicas have
	 * (cpu, latency); it does not fix a leak, errors or wrong
	 * answers, so those roll back and alert only. */
	static const struct {
		an_metric_t m;
		bool scale;
	} rules[] = {
	    {AN_M_cpu, true},		{AN_M_memory, false},
	    {AN_M_latency_p50, true},	{AN_M_latency_p90, true},
	    {AN_M_latency_p99, true},	{AN_M_error_rate, false},
	    {AN_M_diff_rate, false},
	};
	memset(out, 0, sizeof(*out));
	out->is_default = true;
	for (size_t i = 0; i < sizeof(rules) / sizeof(*rules); i++) {
		const char *m = an_metric_name(rules[i].m);
		char name[MIT_RULE_NAME_MAX], when[256];
		mit_expr_err_t err;
		snprintf(name, sizeof(name), "default-%s", m);
		snprintf(when, sizeof(when),
			 "%s.critical or (%s.deviating and %s.velocity > %.17g)",
			 m, m, m, velocity);
		const char *full[] = {"rollback", "scale", "alert"};
		const char *noscale[] = {"rollback", "alert"};
		mit_policy_add(out, name, when, rules[i].scale ? full : noscale,
			       rules[i].scale ? 3 : 2, cooldown_ns, &err);
		snprintf(name, sizeof(name), "default-%s-predicted", m);
		snprintf(when, sizeof(when), "%s.predicted", m);
		const char *alert[] = {"alert"};
		mit_policy_add(out, name, when, alert, 1, cooldown_ns, &err);
	}
}

/* ------------------------------------------------------------ governor */

void mit_gov_init(mit_gov_t *g, int64_t act_cooldown_ns, int max_per_hour)
{
	memset(g, 0, sizeof(*g));
	g->act_cooldown_ns = act_cooldown_ns;
	g->max_per_hour = max_per_hour < 0		  ? 0
			  : max_per_hour > MIT_GOV_MAX_HOUR ? MIT_GOV_MAX_HOUR
							    : max_per_hour;
}

bool mit_gov_rule_check(mit_gov_t *g, const mit_rule_t *rules, int r,
			bool cond, bool fresh, int64_t now)
{
	if (cond && !g->rule_was[r])
		g->rule_edge[r] = true;
	g->rule_was[r] = cond;
	if (!cond)
		return false;
	if (fresh)
		return true;
	if (g->rule_last[r] && now - g->rule_last[r] < rules[r].cooldown_ns)
		return false;
	return rules[r].cooldown_ns > 0 || g->rule_edge[r];
}

void mit_gov_rule_fired(mit_gov_t *g, int r, int64_t now)
{
	g->rule_last[r] = now;
	g->rule_edge[r] = false;
}

int mit_gov_hour_count(const mit_gov_t *g, int64_t now)
{
	int n = 0;
	for (int i = 0; i < g->nhour; i++)
		if (now - g->hour[i] < MIT_HOUR_NS)
			n++;
	return n;
}

/* Actions counted for finding key in the hour before now. */
static int gov_hour_count_key(const mit_gov_t *g, uint64_t key, int64_t now)
{
	int n = 0;
	for (int i = 0; i < g->nhour; i++)
		if (g->hour_key[i] == key && now - g->hour[i] < MIT_HOUR_NS)
			n++;
	return n;
}

/* The slot of the last action of kind a for key, or -1. */
static int gov_last(const mit_gov_t *g, mit_act_t a, uint64_t key)
{
	for (int i = 0; i < MIT_GOV_KEYS; i++)
		if (g->act_last[a][i].t && g->act_last[a][i].key == key)
			return i;
	return -1;
}

bool mit_gov_act_ready(const mit_gov_t *g, mit_act_t a, uint64_t key,
		       int64_t now, char *why, size_t size)
{
	if (a == MIT_ACT_ALERT || a == MIT_ACT_HOLD)
		return true;
	int li = gov_last(g, a, key);
	const mit_gov_last_t *l = li < 0 ? NULL : &g->act_last[a][li];
	if (l && now - l->t < g->act_cooldown_ns) {
		snprintf(why, size,
			 "%s cooldown: the last one %s was %.0f s ago "
			 "(mitigation.cooldown %.0f s)",
			 mit_act_name(a),
			 key ? "for this finding" : "not on a finding",
			 (double)(now - l->t) / 1e9,
			 (double)g->act_cooldown_ns / 1e9);
		return false;
	}
	int n = gov_hour_count_key(g, key, now);
	if (n >= g->max_per_hour) {
		snprintf(why, size,
			 "hourly cap: %d automatic actions %s in the last "
			 "hour (mitigation.max_actions_per_hour %d)",
			 n, key ? "for this finding" : "not on a finding",
			 g->max_per_hour);
		return false;
	}
	return true;
}

void mit_gov_act_taken(mit_gov_t *g, mit_act_t a, uint64_t key, int64_t now)
{
	/* The slot of key, else a free one, else the oldest. */
	int li = gov_last(g, a, key);
	mit_gov_last_t *slot = li < 0 ? NULL : &g->act_last[a][li];
	for (int i = 0; !slot && i < MIT_GOV_KEYS; i++)
		if (!g->act_last[a][i].t)
			slot = &g->act_last[a][i];
	if (!slot) {
		slot = &g->act_last[a][0];
		for (int i = 1; i < MIT_GOV_KEYS; i++)
			if (g->act_last[a][i].t < slot->t)
				slot = &g->act_last[a][i];
	}
	slot->key = key;
	slot->t = now ? now : 1;
	if (a == MIT_ACT_ALERT || a == MIT_ACT_HOLD)
		return;
	/* Reuse the slot of an entry older than an hour, else append; when
	 * full (the cap is per finding, so findings together may pass its
	 * size), the oldest goes, which only forgets the longest-ago. */
	for (int i = 0; i < g->nhour; i++)
		if (now - g->hour[i] >= MIT_HOUR_NS) {
			g->hour[i] = now;
			g->hour_key[i] = key;
			return;
		}
	int i = g->nhour < MIT_GOV_MAX_HOUR ? g->nhour++
					     : g->head++ % MIT_GOV_MAX_HOUR;
	g->hour[i] = now;
	g->hour_key[i] = key;
}
