/*
 * chunked.c: incremental decoder of the chunked transfer coding
 * (RFC 9112 7.1), and the canonical chunks the proxy re-frames bodies in:
 *
 *   chunked-body   = *chunk last-chunk trailer-section CRLF
 *   chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk     = 1*("0") [ chunk-ext ] CRLF
 *   chunk-ext      = *( BWS ";" BWS chunk-ext-name
 *                       [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-name = token
 *   chunk-ext-val  = token / quoted-string
 *
 * A byte-at-a-time state machine for the framing (sizes, extensions,
 * trailers are short) and a bulk span for the data, so a large chunk costs
 * one step. The strict and tolerant grammars (http.h) differ in the line
 * ends they take (line_end() is the one place that decides) and in the
 * extensions: the tolerant one takes any bytes but controls up to the end
 * of the line (CS_EXT_ANY), as this decoder always did for responses.
 */
#include "http/http.h"
#include "http/http_int.h"

#include "base/err.h"

enum {
	CS_SIZE,          /* hex digits */
	CS_SIZE_WS,       /* whitespace after the size: ';' must follow */
	CS_EXT_PRE_NAME,  /* after ';': BWS, then the name */
	CS_EXT_NAME,      /* inside the name */
	CS_EXT_POST_NAME, /* BWS after the name: '=', ';' must follow */
	CS_EXT_PRE_VAL,   /* after '=': BWS, then a token or a quote */
	CS_EXT_TOKEN,     /* inside a token value */
	CS_EXT_QUOTED,    /* inside a quoted-string */
	CS_EXT_QPAIR,     /* after a backslash in a quoted-string */
	CS_EXT_END,       /* just after a value: ';', BWS or CRLF */
	CS_EXT_WS,        /* whitespace after a value: ';' must follow */
	CS_EXT_ANY,       /* tolerant: any extension bytes up to the EOL */
	CS_SIZE_LF,       /* CR seen at the end of the size line */
	CS_DATA,          /* chunk data */
	CS_DATA_CR,       /* expect CR after data */
	CS_DATA_LF,       /* expect LF after data */
	CS_TRAILER,       /* start of a trailer line (or the final CRLF) */
	CS_TRAILER_LINE,  /* inside a trailer field line */
	CS_TRAILER_LF,    /* CR seen at end of a trailer line */
	CS_FINAL_LF,      /* CR seen on the empty line that ends the body */
};

void http_chunked_init(http_chunked_t *c, size_t max_trailer)
{
	*c = (http_chunked_t){0};
	c->state = CS_SIZE;
	c->max_trailer = max_trailer;
}

void http_chunked_init_strict(http_chunked_t *c, size_t max_trailer)
{
	http_chunked_init(c, max_trailer);
	c->strict = true;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool is_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

/* qdtext (RFC 9110 5.6.4): HTAB, SP, VCHAR but '"' and '\', obs-text. */
static bool is_qdtext(unsigned char ch)
{
	return ch == '\t' || ch == ' ' ||
	       (ch >= 0x21 && ch != '"' && ch != '\\' && ch != 0x7f);
}

/* The size line ends at ch (CR or LF) in state s; after_ws when only
 * whitespace came since the last element. Returns 0 and moves on, or the
 * rejection. A bare LF ends the line at once (it is not consumed here:
 * CS_SIZE_LF takes it). */
static http_err_t line_end(http_chunked_t *c, unsigned char ch, bool after_ws)
{
	if (c->strict && ch == '\n')
		return HTTP_E_CHUNK_BARE_LF;
	if (c->strict && after_ws)
		return HTTP_E_CHUNK_LINE_WS;
	c->state = CS_SIZE_LF;
	return HTTP_E_NONE;
}

/* One framing byte of the size line (size and extensions). Returns 0
 * with *adv set when the byte is consumed, or the rejection. */
static http_err_t size_line_byte(http_chunked_t *c, unsigned char ch,
				 bool *adv)
{
	*adv = true;
	bool eol = ch == '\r' || ch == '\n';
	if (eol)
		*adv = ch == '\r'; /* an LF is taken by CS_SIZE_LF */
	if (c->state != CS_SIZE && !eol &&
	    ++c->ext_len > HTTP_CHUNK_EXT_MAX)
		return HTTP_E_CHUNK_EXT_TOO_LONG;
	switch (c->state) {
	case CS_SIZE: {
		int v = hexval(ch);
		if (v >= 0) {
			/* remaining * 16 + v <= HTTP_CHUNK_SIZE_MAX */
			if (c->remaining >
			    ((uint64_t)HTTP_CHUNK_SIZE_MAX - (uint64_t)v) >> 4)
				return HTTP_E_CHUNK_TOO_LARGE;
			if (++c->digits > HTTP_CHUNK_SIZE_DIGITS_MAX)
				return HTTP_E_CHUNK_SIZE_TOO_LONG;
			c->remaining = c->remaining << 4 | (uint64_t)v;
			return HTTP_E_NONE;
		}
		if (c->digits == 0)
			return HTTP_E_BAD_CHUNK_SIZE;
		if (eol)
			return line_end(c, ch, false);
		if (ch == ';') {
			c->state = c->strict ? CS_EXT_PRE_NAME : CS_EXT_ANY;
			return HTTP_E_NONE;
		}
		if (is_ws(ch)) {
			c->state = CS_SIZE_WS;
			return HTTP_E_NONE;
		}
		return HTTP_E_BAD_CHUNK_SIZE;
	}
	case CS_SIZE_WS:
		if (is_ws(ch))
			return HTTP_E_NONE;
		if (ch == ';') {
			c->state = c->strict ? CS_EXT_PRE_NAME : CS_EXT_ANY;
			return HTTP_E_NONE;
		}
		if (eol)
			return line_end(c, ch, true);
		return HTTP_E_BAD_CHUNK_SIZE;
	case CS_EXT_PRE_NAME:
		if (is_ws(ch))
			return HTTP_E_NONE;
		if (http__tchar[ch]) {
			c->state = CS_EXT_NAME;
			return HTTP_E_NONE;
		}
		if (eol || ch == '=' || ch == ';')
			return HTTP_E_CHUNK_EXT_NO_NAME;
		return HTTP_E_BAD_CHUNK_EXT;
	case CS_EXT_NAME:
	case CS_EXT_TOKEN:
	case CS_EXT_END:
		if (c->state != CS_EXT_END && http__tchar[ch])
			return HTTP_E_NONE;
		if (eol)
			return line_end(c, ch, false);
		if (ch == ';') {
			c->state = CS_EXT_PRE_NAME;
			return HTTP_E_NONE;
		}
		if (c->state == CS_EXT_NAME && ch == '=') {
			c->state = CS_EXT_PRE_VAL;
			return HTTP_E_NONE;
		}
		if (is_ws(ch)) {
			c->state = c->state == CS_EXT_NAME ? CS_EXT_POST_NAME
							   : CS_EXT_WS;
			return HTTP_E_NONE;
		}
		return HTTP_E_BAD_CHUNK_EXT;
	case CS_EXT_POST_NAME:
	case CS_EXT_WS:
		if (is_ws(ch))
			return HTTP_E_NONE;
		if (ch == ';') {
			c->state = CS_EXT_PRE_NAME;
			return HTTP_E_NONE;
		}
		if (c->state == CS_EXT_POST_NAME && ch == '=') {
			c->state = CS_EXT_PRE_VAL;
			return HTTP_E_NONE;
		}
		if (eol)
			return line_end(c, ch, true);
		return HTTP_E_BAD_CHUNK_EXT;
	case CS_EXT_PRE_VAL:
		if (is_ws(ch))
			return HTTP_E_NONE;
		if (ch == '"') {
			c->state = CS_EXT_QUOTED;
			return HTTP_E_NONE;
		}
		if (http__tchar[ch]) {
			c->state = CS_EXT_TOKEN;
			return HTTP_E_NONE;
		}
		if (eol || ch == ';')
			return HTTP_E_CHUNK_EXT_NO_VALUE;
		return HTTP_E_BAD_CHUNK_EXT;
	case CS_EXT_QUOTED:
		if (ch == '"') {
			c->state = CS_EXT_END;
			return HTTP_E_NONE;
		}
		if (ch == '\\') {
			c->state = CS_EXT_QPAIR;
			return HTTP_E_NONE;
		}
		if (eol)
			return HTTP_E_CHUNK_EXT_UNCLOSED;
		return is_qdtext(ch) ? HTTP_E_NONE : HTTP_E_BAD_CHUNK_EXT;
	case CS_EXT_ANY:
		/* what servers send is relayed as sent: only its bytes */
		if (eol)
			return line_end(c, ch, false);
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return HTTP_E_BAD_CHUNK_EXT;
		return HTTP_E_NONE;
	case CS_EXT_QPAIR:
		/* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
		if (eol)
			return HTTP_E_CHUNK_EXT_UNCLOSED;
		if (ch == '\t' || (ch >= 0x20 && ch != 0x7f)) {
			c->state = CS_EXT_QUOTED;
			return HTTP_E_NONE;
		}
		return HTTP_E_BAD_CHUNK_EXT;
	}
	return HTTP_E_BAD_CHUNK_SIZE; /* not reached */
}

ssize_t http_chunked_step(http_chunked_t *c, const char *buf, size_t len,
			  const char **data, size_t *dlen, http_err_t *err)
{
	size_t i = 0;
	*dlen = 0;
	while (i < len && !c->done) {
		unsigned char ch = (unsigned char)buf[i];
		switch (c->state) {
		case CS_SIZE_LF:
			if (ch != '\n') {
				*err = HTTP_E_BARE_CR;
				return ERR_PARSE;
			}
			i++;
			c->digits = 0;
			c->ext_len = 0;
			c->state = c->remaining ? CS_DATA : CS_TRAILER;
			break;
		case CS_DATA: {
			size_t take = len - i;
			if (take > c->remaining)
				take = (size_t)c->remaining;
			*data = buf + i;
			*dlen = take;
			c->remaining -= take;
			i += take;
			if (c->remaining == 0)
				c->state = CS_DATA_CR;
			return (ssize_t)i; /* one data span per step */
		}
		case CS_DATA_CR:
			if (ch == '\r') {
				c->state = CS_DATA_LF;
				i++;
			} else if (ch == '\n' && !c->strict) {
				c->state = CS_DATA_LF;
			} else {
				*err = ch == '\n' ? HTTP_E_CHUNK_BARE_LF
						  : HTTP_E_BAD_CHUNK_END;
				return ERR_PARSE;
			}
			break;
		case CS_DATA_LF:
			if (ch != '\n') {
				*err = HTTP_E_BAD_CHUNK_END;
				return ERR_PARSE;
			}
			i++;
			c->state = CS_SIZE;
			break;
		case CS_TRAILER:
			if (ch == '\r') {
				c->state = CS_FINAL_LF;
				i++;
			} else if (ch == '\n') {
				if (c->strict) {
					*err = HTTP_E_CHUNK_BARE_LF;
					return ERR_PARSE;
				}
				c->state = CS_FINAL_LF;
			} else if (ch == ' ' || ch == '\t' || ch == ':') {
				*err = HTTP_E_BAD_TRAILER;
				return ERR_PARSE;
			} else {
				c->state = CS_TRAILER_LINE;
				c->line_len = 0;
				c->in_value = false;
			}
			break;
		case CS_TRAILER_LINE:
			if (++c->trailer_len > c->max_trailer) {
				*err = HTTP_E_TRAILER_TOO_LARGE;
				return ERR_PARSE;
			}
			if (ch == '\r' || ch == '\n') {
				if (!c->in_value) { /* a field needs a colon */
					*err = HTTP_E_BAD_TRAILER;
					return ERR_PARSE;
				}
				if (ch == '\n' && c->strict) {
					*err = HTTP_E_CHUNK_BARE_LF;
					return ERR_PARSE;
				}
				c->state = ch == '\r' ? CS_TRAILER_LF : CS_TRAILER;
			} else if (!c->in_value && ch == ':') {
				c->in_value = true;
			} else if (!c->in_value && !http__tchar[ch]) {
				*err = HTTP_E_BAD_TRAILER;
				return ERR_PARSE;
			} else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				*err = HTTP_E_BAD_TRAILER;
				return ERR_PARSE;
			}
			c->line_len++;
			i++;
			break;
		case CS_TRAILER_LF:
			if (ch != '\n') {
				*err = HTTP_E_BARE_CR;
				return ERR_PARSE;
			}
			i++;
			c->state = CS_TRAILER;
			break;
		case CS_FINAL_LF:
			if (ch != '\n') {
				*err = HTTP_E_BARE_CR;
				return ERR_PARSE;
			}
			i++;
			c->done = true;
			break;
		default: { /* the size line */
			bool adv;
			http_err_t e = size_line_byte(c, ch, &adv);
			if (e) {
				*err = e;
				return ERR_PARSE;
			}
			if (adv)
				i++;
			break;
		}
		}
	}
	return (ssize_t)i;
}

/* --------------------------------------------------------------- writing */

void http_write_chunk(buf_t *out, const char *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char line[2 * sizeof(size_t) + 2];
	size_t o = sizeof(line);
	if (len == 0)
		return;
	line[--o] = '\n';
	line[--o] = '\r';
	for (size_t v = len; v; v >>= 4)
		line[--o] = hex[v & 15];
	buf_reserve(out, sizeof(line) - o + len + 2);
	buf_append(out, line + o, sizeof(line) - o);
	buf_append(out, data, len);
	buf_append(out, "\r\n", 2);
}

void http_write_last_chunk(buf_t *out)
{
	buf_append(out, "0\r\n\r\n", 5);
}
