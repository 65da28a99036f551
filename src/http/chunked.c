/*
 * chunked.c: incremental decoder of the chunked transfer coding
 * (RFC 9112 7.1):
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *
 * A byte-at-a-time state machine for the framing (sizes, extensions,
 * trailers are short) and a bulk span for the data, so a large chunk costs
 * one step. Bounded: at most 16 hex digits of size, HTTP_CHUNK_EXT_MAX
 * bytes of extension per chunk, max_trailer bytes of trailers.
 */
#include "http/http.h"
#include "http/http_int.h"

#include "base/err.h"

enum {
	CS_SIZE,      /* hex digits */
	CS_SIZE_WS,   /* BWS after the size, before ';' or CRLF */
	CS_EXT,       /* chunk extension, up to CRLF */
	CS_SIZE_LF,   /* CR seen after size line, expect LF */
	CS_DATA,      /* chunk data */
	CS_DATA_CR,   /* expect CR (or LF) after data */
	CS_DATA_LF,   /* expect LF after data */
	CS_TRAILER,   /* start of a trailer line (or the final CRLF) */
	CS_TRAILER_LINE, /* inside a trailer field line */
	CS_TRAILER_LF,   /* CR seen at end of a trailer line */
	CS_FINAL_LF,     /* CR seen on the empty line that ends the body */
};

#define CHUNK_SIZE_DIGITS_MAX 16 /* 2^64 - 1 */

void http_chunked_init(http_chunked_t *c, size_t max_trailer)
{
	*c = (http_chunked_t){0};
	c->state = CS_SIZE;
	c->max_trailer = max_trailer;
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

ssize_t http_chunked_step(http_chunked_t *c, const char *buf, size_t len,
			  const char **data, size_t *dlen, http_err_t *err)
{
	size_t i = 0;
	*dlen = 0;
	while (i < len && !c->done) {
		unsigned char ch = (unsigned char)buf[i];
		switch (c->state) {
		case CS_SIZE: {
			int v = hexval(ch);
			if (v >= 0) {
				if (++c->digits > CHUNK_SIZE_DIGITS_MAX) {
					*err = HTTP_E_CHUNK_TOO_LARGE;
					return ERR_PARSE;
				}
				c->remaining = c->remaining << 4 | (uint64_t)v;
				i++;
				break;
			}
			if (c->digits == 0) {
				*err = HTTP_E_BAD_CHUNK_SIZE;
				return ERR_PARSE;
			}
			c->state = CS_SIZE_WS;
			break; /* re-examine ch */
		}
		case CS_SIZE_WS:
			if (ch == ' ' || ch == '\t') {
				i++;
			} else if (ch == ';') {
				c->state = CS_EXT;
				c->ext_len = 0;
				i++;
			} else if (ch == '\r') {
				c->state = CS_SIZE_LF;
				i++;
			} else if (ch == '\n') {
				c->state = CS_SIZE_LF;
			} else {
				*err = HTTP_E_BAD_CHUNK_SIZE;
				return ERR_PARSE;
			}
			break;
		case CS_EXT:
			if (ch == '\r') {
				c->state = CS_SIZE_LF;
				i++;
				break;
			}
			if (ch == '\n') {
				c->state = CS_SIZE_LF;
				break;
			}
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f ||
			    ++c->ext_len > HTTP_CHUNK_EXT_MAX) {
				*err = HTTP_E_BAD_CHUNK_EXT;
				return ERR_PARSE;
			}
			i++;
			break;
		case CS_SIZE_LF:
			if (ch != '\n') {
				*err = HTTP_E_BARE_CR;
				return ERR_PARSE;
			}
			i++;
			c->digits = 0;
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
			} else if (ch == '\n') {
				c->state = CS_DATA_LF;
			} else {
				*err = HTTP_E_BAD_CHUNK_END;
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
		}
	}
	return (ssize_t)i;
}
