/*
 * parse.c: request and response heads (see http.h). Two passes over the
 * head: find its end (memchr for LF, resumable through *scanned), then
 * split and validate lines with byte-class tables. Framing semantics
 * (Content-Length, Transfer-Encoding, Host, Connection) are derived after
 * all fields are known, so a field's order cannot change the outcome.
 */
#include "http/http.h"
#include "http/http_int.h"

#include "base/err.h"

#include <string.h>
#include <strings.h>

#define HTTP_MAX_LEADING_EMPTY 8 /* RFC 9112 2.2: ignore a stray CRLF or so */

/* tchar (RFC 9110 5.6.2): methods, field names, coding names. */
const unsigned char http__tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* field-vchar, SP and HTAB (RFC 9110 5.5), obs-text included. */
static inline bool value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Request-target bytes: visible ASCII and obs-text; no SP, CTL, DEL. */
static inline bool target_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

static const struct {
	const char *name;
	int status;
	const char *text;
} err_table[] = {
#define HTTP__ERR_ROW(n, s, t) {#n, s, t},
	HTTP_ERR_MAP(HTTP__ERR_ROW)
#undef HTTP__ERR_ROW
};

const char *http_err_name(http_err_t e)
{
	return e < HTTP_E__COUNT ? err_table[e].name : "?";
}

const char *http_err_text(http_err_t e)
{
	return e < HTTP_E__COUNT ? err_table[e].text : "?";
}

int http_err_status(http_err_t e)
{
	return e < HTTP_E__COUNT ? err_table[e].status : 400;
}

static const char *const method_names[HTTP_M__COUNT] = {
#define HTTP__M_NAME(n) #n,
	HTTP_METHOD_MAP(HTTP__M_NAME)
#undef HTTP__M_NAME
};

http_method_t http_method_id(const char *m, size_t len)
{
	/* Methods are case-sensitive (RFC 9110 9.1). */
	for (int i = 1; i < HTTP_M__COUNT; i++)
		if (strlen(method_names[i]) == len &&
		    memcmp(method_names[i], m, len) == 0)
			return (http_method_t)i;
	return HTTP_M_OTHER;
}

const char *http_method_name(http_method_t m)
{
	return m < HTTP_M__COUNT ? method_names[m] : "OTHER";
}

const http_header_t *http_header_find(const http_header_t *h, size_t n,
				      const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (h[i].name_len == len && strncasecmp(h[i].name, name, len) == 0)
			return &h[i];
	return NULL;
}

bool http_value_has_token(const char *v, size_t len, const char *token)
{
	size_t tl = strlen(token);
	size_t i = 0;
	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < len && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
			return true;
	}
	return false;
}

/* --------------------------------------------------------------- lines */

/* Finds the end of the head in buf[start..len): the byte after the empty
 * line that ends it. Resumes at *scanned. Returns the end offset, or 0
 * when not there yet (then *scanned is where to resume). */
static size_t find_head_end(const char *buf, size_t len, size_t start,
			    size_t *scanned)
{
	size_t p = *scanned > start ? *scanned : start;
	while (p < len) {
		const char *nl = memchr(buf + p, '\n', len - p);
		if (!nl)
			break;
		size_t i = (size_t)(nl - buf);
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
		if (i + 1 >= len || (buf[i + 1] == '\r' && i + 2 >= len)) {
			*scanned = i; /* the next line is not complete yet */
			return 0;
		}
		p = i + 1;
	}
	*scanned = len;
	return 0;
}

/* Skips the empty lines a client may send before a request. Returns the
 * offset of the request line, or len when only empty lines so far. */
static size_t skip_leading_empty(const char *buf, size_t len, int *bad)
{
	size_t p = 0;
	for (int n = 0; n < HTTP_MAX_LEADING_EMPTY && p < len; n++) {
		if (buf[p] == '\n')
			p++;
		else if (buf[p] == '\r' && p + 1 < len && buf[p + 1] == '\n')
			p += 2;
		else if (buf[p] == '\r' && p + 1 == len)
			return len;
		else
			return p;
	}
	if (p < len && (buf[p] == '\r' || buf[p] == '\n'))
		*bad = 1;
	return p;
}

/* The line at buf[p..end): its length without the EOL, and the offset
 * after it. A CR anywhere but just before the LF is a bare CR. */
static int next_line(const char *buf, size_t p, size_t end, size_t *line_len,
		     size_t *next)
{
	const char *nl = memchr(buf + p, '\n', end - p);
	size_t i = nl ? (size_t)(nl - buf) : end;
	size_t l = i - p;
	if (l && buf[p + l - 1] == '\r')
		l--;
	if (memchr(buf + p, '\r', l))
		return -1;
	*line_len = l;
	*next = nl ? i + 1 : end;
	return 0;
}

/* Parses "name: value" lines from p to the empty line before end. */
static http_err_t parse_fields(const char *buf, size_t p, size_t end,
			       const http_limits_t *lim, http_header_t *h,
			       size_t cap, size_t *nout)
{
	size_t n = 0;
	for (;;) {
		size_t ll, next;
		if (next_line(buf, p, end, &ll, &next))
			return HTTP_E_BARE_CR;
		if (ll == 0)
			break;
		const char *line = buf + p;
		if (line[0] == ' ' || line[0] == '\t')
			return HTTP_E_OBS_FOLD;
		size_t k = 0;
		while (k < ll && http__tchar[(unsigned char)line[k]])
			k++;
		if (k == ll)
			return HTTP_E_BAD_HEADER_NAME; /* no colon */
		if (line[k] != ':') {
			if (k > 0 && (line[k] == ' ' || line[k] == '\t'))
				return HTTP_E_SPACE_BEFORE_COLON;
			return HTTP_E_BAD_HEADER_NAME;
		}
		if (k == 0)
			return HTTP_E_BAD_HEADER_NAME;
		size_t vs = k + 1, ve = ll;
		while (vs < ve && (line[vs] == ' ' || line[vs] == '\t'))
			vs++;
		while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
			ve--;
		for (size_t i = vs; i < ve; i++)
			if (!value_char((unsigned char)line[i]))
				return HTTP_E_BAD_HEADER_VALUE;
		if (n >= lim->max_headers || n >= cap)
			return HTTP_E_TOO_MANY_HEADERS;
		h[n++] = (http_header_t){line, k, line + vs, ve - vs};
		p = next;
	}
	*nout = n;
	return HTTP_E_NONE;
}

static http_err_t parse_version(const char *v, size_t len, int *out)
{
	if (len != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.')
		return HTTP_E_BAD_VERSION;
	if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return HTTP_E_BAD_VERSION;
	if (v[5] != '1')
		return HTTP_E_VERSION_NOT_SUPPORTED;
	*out = v[7] == '0' ? 10 : 11; /* 1.x, x > 1, is treated as 1.1 */
	return HTTP_E_NONE;
}

/* --------------------------------------------------------------- framing */

/* Content-Length: 1*DIGIT, or a list of identical values (RFC 9110 8.6),
 * across all fields named so. */
static http_err_t content_length(const http_header_t *h, size_t n,
				 bool *has, uint64_t *out)
{
	*has = false;
	for (size_t i = 0; i < n; i++) {
		if (h[i].name_len != 14 ||
		    strncasecmp(h[i].name, "Content-Length", 14) != 0)
			continue;
		const char *v = h[i].value;
		size_t len = h[i].value_len, p = 0;
		if (len == 0)
			return HTTP_E_BAD_CL;
		while (p < len) {
			uint64_t x = 0;
			size_t digits = 0;
			while (p < len && v[p] >= '0' && v[p] <= '9') {
				if (x > (UINT64_MAX - 9) / 10 || ++digits > 18)
					return HTTP_E_BAD_CL;
				x = x * 10 + (uint64_t)(v[p++] - '0');
			}
			if (digits == 0)
				return HTTP_E_BAD_CL;
			while (p < len && (v[p] == ' ' || v[p] == '\t'))
				p++;
			if (p < len) {
				if (v[p] != ',')
					return HTTP_E_BAD_CL;
				p++;
				while (p < len && (v[p] == ' ' || v[p] == '\t'))
					p++;
				if (p == len)
					return HTTP_E_BAD_CL;
			}
			if (*has && x != *out)
				return HTTP_E_MULTIPLE_CL;
			*has = true;
			*out = x;
		}
	}
	return HTTP_E_NONE;
}

/* Transfer-Encoding across all fields: *chunked when the final coding is
 * chunked; *has when the field is present at all. */
static http_err_t transfer_encoding(const http_header_t *h, size_t n,
				    bool *has, bool *chunked, bool *other)
{
	*has = *chunked = *other = false;
	bool seen_chunked = false;
	for (size_t i = 0; i < n; i++) {
		if (h[i].name_len != 17 ||
		    strncasecmp(h[i].name, "Transfer-Encoding", 17) != 0)
			continue;
		*has = true;
		const char *v = h[i].value;
		size_t len = h[i].value_len, p = 0;
		bool any = false;
		while (p < len) {
			while (p < len && (v[p] == ' ' || v[p] == '\t' ||
					   v[p] == ','))
				p++;
			size_t s = p;
			while (p < len && http__tchar[(unsigned char)v[p]])
				p++;
			if (p == s) {
				if (p < len)
					return HTTP_E_BAD_TE;
				break;
			}
			/* transfer parameters (";q=...") are not allowed
			 * on the codings we accept */
			while (p < len && (v[p] == ' ' || v[p] == '\t'))
				p++;
			if (p < len && v[p] != ',')
				return HTTP_E_BAD_TE;
			any = true;
			bool is_chunked = p - s == 7 &&
					  strncasecmp(v + s, "chunked", 7) == 0;
			if (seen_chunked)
				return HTTP_E_BAD_TE; /* chunked must be last */
			if (is_chunked)
				seen_chunked = true;
			else
				*other = true;
		}
		if (!any)
			return HTTP_E_BAD_TE;
	}
	*chunked = seen_chunked;
	return HTTP_E_NONE;
}

static bool conn_has(const http_header_t *h, size_t n, const char *tok)
{
	for (size_t i = 0; i < n; i++)
		if (h[i].name_len == 10 &&
		    strncasecmp(h[i].name, "Connection", 10) == 0 &&
		    http_value_has_token(h[i].value, h[i].value_len, tok))
			return true;
	return false;
}

/* --------------------------------------------------------------- requests */

int http_parse_request(const char *buf, size_t len, size_t *scanned,
		       const http_limits_t *lim, http_request_t *req,
		       http_err_t *err)
{
	int bad_lead = 0;
	size_t start = skip_leading_empty(buf, len, &bad_lead);
	if (bad_lead) {
		*err = HTTP_E_BAD_REQUEST_LINE;
		return ERR_PARSE;
	}
	size_t end = find_head_end(buf, len, start, scanned);
	if (end == 0) {
		/* Not complete: refuse early what can never fit. */
		const char *nl = memchr(buf + start, '\n', len - start);
		size_t first = nl ? (size_t)(nl - buf) - start : len - start;
		if (first > lim->max_request_line + 1) {
			*err = HTTP_E_LINE_TOO_LONG;
			return ERR_PARSE;
		}
		if (len - start > lim->max_head) {
			*err = HTTP_E_HEAD_TOO_LARGE;
			return ERR_PARSE;
		}
		/* A bare CR is already visible in a partial line. */
		const char *cr = memchr(buf + start, '\r', len - start);
		while (cr && (size_t)(cr - buf) + 1 < len) {
			if (cr[1] != '\n') {
				*err = HTTP_E_BARE_CR;
				return ERR_PARSE;
			}
			cr = memchr(cr + 1, '\r', len - (size_t)(cr + 1 - buf));
		}
		return ERR_AGAIN;
	}

	size_t ll, p;
	if (next_line(buf, start, end, &ll, &p)) {
		*err = HTTP_E_BARE_CR;
		return ERR_PARSE;
	}
	if (ll > lim->max_request_line) {
		*err = HTTP_E_LINE_TOO_LONG;
		return ERR_PARSE;
	}
	if (end - start > lim->max_head) {
		*err = HTTP_E_HEAD_TOO_LARGE;
		return ERR_PARSE;
	}
	const char *line = buf + start;
	/* method SP target SP version, single spaces (RFC 9112 3) */
	size_t m = 0;
	while (m < ll && http__tchar[(unsigned char)line[m]])
		m++;
	if (m == 0 || m == ll || line[m] != ' ') {
		*err = m == 0 || (m < ll && line[m] != ' ')
			       ? HTTP_E_BAD_METHOD
			       : HTTP_E_BAD_REQUEST_LINE;
		return ERR_PARSE;
	}
	size_t t = m + 1, te = t;
	while (te < ll && line[te] != ' ') {
		if (!target_char((unsigned char)line[te])) {
			*err = HTTP_E_BAD_TARGET;
			return ERR_PARSE;
		}
		te++;
	}
	if (te == t || te == ll) {
		*err = te == t ? HTTP_E_BAD_TARGET : HTTP_E_BAD_REQUEST_LINE;
		return ERR_PARSE;
	}
	http_err_t e = parse_version(line + te + 1, ll - te - 1, &req->version);
	if (e) {
		*err = e;
		return ERR_PARSE;
	}
	req->method = line;
	req->method_len = m;
	req->target = line + t;
	req->target_len = te - t;
	req->method_id = http_method_id(line, m);

	e = parse_fields(buf, p, end, lim, req->headers, req->cap,
			 &req->nheaders);
	if (e) {
		*err = e;
		return ERR_PARSE;
	}
	const http_header_t *h = req->headers;
	size_t n = req->nheaders;

	/* Target form by method (RFC 9112 3.2). */
	if ((e = http_target_parse(req))) {
		*err = e;
		return ERR_PARSE;
	}

	bool has_cl, has_te, chunked, other;
	if ((e = content_length(h, n, &has_cl, &req->content_length)) ||
	    (e = transfer_encoding(h, n, &has_te, &chunked, &other))) {
		*err = e;
		return ERR_PARSE;
	}
	if (has_cl && has_te) {
		*err = HTTP_E_CL_AND_TE;
		return ERR_PARSE;
	}
	if (has_te && req->version == 10) {
		*err = HTTP_E_TE_IN_HTTP10;
		return ERR_PARSE;
	}
	if (has_te && (other || !chunked)) {
		*err = HTTP_E_TE_NOT_IMPLEMENTED;
		return ERR_PARSE;
	}
	req->host = NULL;
	for (size_t i = 0; i < n; i++) {
		if (h[i].name_len == 4 && strncasecmp(h[i].name, "Host", 4) == 0) {
			if (req->host) {
				*err = HTTP_E_MULTIPLE_HOST;
				return ERR_PARSE;
			}
			req->host = &h[i];
		}
	}
	if (!req->host && req->version == 11) {
		*err = HTTP_E_NO_HOST;
		return ERR_PARSE;
	}
	if (req->host &&
	    !http_host_valid(req->host->value, req->host->value_len, false)) {
		*err = HTTP_E_BAD_HOST;
		return ERR_PARSE;
	}
	if (chunked)
		req->body = HTTP_BODY_CHUNKED;
	else if (has_cl && req->content_length > 0)
		req->body = HTTP_BODY_LENGTH;
	else
		req->body = HTTP_BODY_NONE;
	if (!has_cl)
		req->content_length = 0;

	bool close = conn_has(h, n, "close");
	req->keep_alive = req->version == 11 ? !close
					     : conn_has(h, n, "keep-alive") &&
						       !close;
	const http_header_t *ex = http_header_find(h, n, "Expect");
	req->expect_continue = ex && ex->value_len == 12 &&
			       strncasecmp(ex->value, "100-continue", 12) == 0;
	req->upgrade = conn_has(h, n, "upgrade") &&
		       http_header_find(h, n, "Upgrade") != NULL &&
		       req->version == 11;
	req->head_len = end;
	*err = HTTP_E_NONE;
	return (int)end;
}

/* --------------------------------------------------------------- responses */

int http_parse_response(const char *buf, size_t len, size_t *scanned,
			const http_limits_t *lim, http_method_t req_method,
			http_response_t *resp, http_err_t *err)
{
	size_t end = find_head_end(buf, len, 0, scanned);
	if (end == 0) {
		if (len > lim->max_head) {
			*err = HTTP_E_HEAD_TOO_LARGE;
			return ERR_PARSE;
		}
		return ERR_AGAIN;
	}
	if (end > lim->max_head) {
		*err = HTTP_E_HEAD_TOO_LARGE;
		return ERR_PARSE;
	}
	size_t ll, p;
	if (next_line(buf, 0, end, &ll, &p)) {
		*err = HTTP_E_BARE_CR;
		return ERR_PARSE;
	}
	/* HTTP/1.1 SP 3DIGIT [SP reason]; the reason may be missing. */
	if (ll < 12 || buf[8] != ' ') {
		*err = HTTP_E_BAD_STATUS_LINE;
		return ERR_PARSE;
	}
	http_err_t e = parse_version(buf, 8, &resp->version);
	if (e) {
		*err = HTTP_E_BAD_STATUS_LINE;
		return ERR_PARSE;
	}
	int st = 0;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9') {
			*err = HTTP_E_BAD_STATUS;
			return ERR_PARSE;
		}
		st = st * 10 + buf[i] - '0';
	}
	if (st < 100 || st > 599 || (ll > 12 && buf[12] != ' ')) {
		*err = HTTP_E_BAD_STATUS;
		return ERR_PARSE;
	}
	for (size_t i = 13; i < ll; i++) {
		if (!value_char((unsigned char)buf[i])) {
			*err = HTTP_E_BAD_STATUS_LINE;
			return ERR_PARSE;
		}
	}
	resp->status = st;
	resp->reason = ll > 13 ? buf + 13 : buf + ll;
	resp->reason_len = ll > 13 ? ll - 13 : 0;
	e = parse_fields(buf, p, end, lim, resp->headers, resp->cap,
			 &resp->nheaders);
	if (e) {
		*err = e;
		return ERR_PARSE;
	}
	const http_header_t *h = resp->headers;
	size_t n = resp->nheaders;
	bool has_cl, has_te, chunked, other;
	if ((e = content_length(h, n, &has_cl, &resp->content_length)) ||
	    (e = transfer_encoding(h, n, &has_te, &chunked, &other))) {
		*err = e;
		return ERR_PARSE;
	}
	bool close = conn_has(h, n, "close");
	resp->keep_alive = resp->version == 11 ? !close
					       : conn_has(h, n, "keep-alive") &&
							 !close;
	if (st == 101) {
		resp->body = HTTP_BODY_TUNNEL;
		resp->keep_alive = false;
	} else if (req_method == HTTP_M_CONNECT && st >= 200 && st < 300) {
		resp->body = HTTP_BODY_TUNNEL;
		resp->keep_alive = false;
	} else if (st < 200 || st == 204 || st == 304 ||
		   req_method == HTTP_M_HEAD) {
		resp->body = HTTP_BODY_NONE;
	} else if (has_te) {
		/* Transfer-Encoding overrides Content-Length (RFC 9112 6.3). */
		resp->body = chunked ? HTTP_BODY_CHUNKED : HTTP_BODY_UNTIL_CLOSE;
		if (!chunked)
			resp->keep_alive = false;
	} else if (has_cl) {
		resp->body = HTTP_BODY_LENGTH;
	} else {
		resp->body = HTTP_BODY_UNTIL_CLOSE;
		resp->keep_alive = false;
	}
	if (!has_cl || has_te)
		resp->content_length = 0;
	resp->head_len = end;
	*err = HTTP_E_NONE;
	return (int)end;
}

