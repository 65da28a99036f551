/*
 * write.c: message heads the proxy sends (see http.h). Fields keep their
 * order and bytes; only connection-specific fields are dropped (RFC 9110
 * 7.6.1) and framing is rewritten in place, so what production sees and
 * what the client gets back differ from a direct exchange only where a
 * proxy must differ.
 */
#include "http/http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool name_is(const http_header_t *h, const char *name)
{
	size_t n = strlen(name);
	return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

bool http_is_hop_by_hop(const char *name, size_t len, const http_header_t *h,
			size_t n)
{
	static const char *const fixed[] = {
		"Connection", "Keep-Alive", "Proxy-Connection", "TE",
		"Transfer-Encoding", "Upgrade", NULL};
	for (int i = 0; fixed[i]; i++)
		if (strlen(fixed[i]) == len && strncasecmp(fixed[i], name, len) == 0)
			return true;
	/* Fields a client may not strip by naming them in Connection: the
	 * request would lose its meaning (Host, framing) or its provenance
	 * (the hop-by-hop header abuse that deletes X-Forwarded-For or
	 * credentials on the way to the backend). */
	static const char *const keep[] = {
		"Host", "Content-Length", "Content-Type", "X-Forwarded-For",
		"Forwarded", "X-Real-IP", "Authorization", "Cookie", NULL};
	for (int i = 0; keep[i]; i++)
		if (strlen(keep[i]) == len && strncasecmp(keep[i], name, len) == 0)
			return false;
	char tok[64];
	if (len >= sizeof(tok))
		return false;
	memcpy(tok, name, len);
	tok[len] = '\0';
	for (size_t i = 0; i < n; i++)
		if (name_is(&h[i], "Connection") &&
		    http_value_has_token(h[i].value, h[i].value_len, tok))
			return true;
	return false;
}

static void put_field(buf_t *out, const http_header_t *h)
{
	buf_reserve(out, h->name_len + h->value_len + 4);
	buf_append(out, h->name, h->name_len);
	buf_append(out, ": ", 2);
	buf_append(out, h->value, h->value_len);
	buf_append(out, "\r\n", 2);
}

/* Writes the framing field. For a chunked response, the codings of all
 * its Transfer-Encoding fields are joined in one ("gzip, chunked" stays
 * intact); h/n are those fields' message, NULL for plain chunked. */
static void put_framing(buf_t *out, http_body_t body, uint64_t cl,
			const http_header_t *h, size_t n)
{
	if (body == HTTP_BODY_LENGTH) {
		buf_puts(out, "Content-Length: ");
		buf_put_u64(out, cl);
		buf_append(out, "\r\n", 2);
	} else if (body == HTTP_BODY_CHUNKED && h) {
		buf_puts(out, "Transfer-Encoding: ");
		bool first = true;
		for (size_t i = 0; i < n; i++) {
			if (!name_is(&h[i], "Transfer-Encoding") ||
			    !h[i].value_len)
				continue;
			if (!first)
				buf_puts(out, ", ");
			buf_append(out, h[i].value, h[i].value_len);
			first = false;
		}
		buf_puts(out, "\r\n");
	} else if (body == HTTP_BODY_CHUNKED) {
		buf_puts(out, "Transfer-Encoding: chunked\r\n");
	}
}

void http_write_request_head(buf_t *out, const http_request_t *req,
			     const http_fwd_t *fwd)
{
	const http_header_t *h = req->headers;
	size_t n = req->nheaders;
	buf_reserve(out, req->head_len + 128);
	buf_append(out, req->method, req->method_len);
	buf_putc(out, ' ');
	/* absolute-form goes out in origin-form, Host from the authority;
	 * OPTIONS to an empty path and no query asks about the server: "*"
	 * (RFC 9112 3.2.4) */
	bool absolute = req->target_form == HTTP_TARGET_ABSOLUTE;
	if (absolute && req->origin_len == 0 &&
	    req->method_id == HTTP_M_OPTIONS) {
		buf_putc(out, '*');
	} else if (absolute) {
		if (req->origin_len == 0 || req->origin[0] != '/')
			buf_putc(out, '/');
		buf_append(out, req->origin, req->origin_len);
	} else {
		buf_append(out, req->target, req->target_len);
	}
	buf_puts(out, " HTTP/1.1\r\n");

	bool framed = false, xff_done = false, fwd_done = false;
	for (size_t i = 0; i < n; i++) {
		const http_header_t *f = &h[i];
		bool is_cl = name_is(f, "Content-Length");
		bool is_te = name_is(f, "Transfer-Encoding");
		if (absolute && f == req->host) {
			put_field(out, &(http_header_t){
					       f->name, f->name_len,
					       req->authority,
					       req->authority_len});
			continue;
		}
		if (is_cl || is_te) {
			if (!framed) {
				framed = true;
				if (fwd->body == HTTP_BODY_NONE && is_cl)
					buf_puts(out, "Content-Length: 0\r\n");
				else
					put_framing(out, fwd->body,
						    fwd->content_length, NULL,
						    0);
			}
			continue;
		}
		if (fwd->keep_upgrade && name_is(f, "Upgrade")) {
			put_field(out, f);
			continue;
		}
		if (http_is_hop_by_hop(f->name, f->name_len, h, n))
			continue;
		if (fwd->drop_expect && name_is(f, "Expect"))
			continue;
		if (fwd->client_ip && fwd->xff && name_is(f, "X-Forwarded-For")) {
			if (!xff_done) {
				/* all X-Forwarded-For fields, joined, then
				 * this hop */
				buf_puts(out, "X-Forwarded-For: ");
				for (size_t j = i; j < n; j++) {
					if (!name_is(&h[j], "X-Forwarded-For"))
						continue;
					buf_append(out, h[j].value,
						   h[j].value_len);
					buf_puts(out, ", ");
				}
				buf_printf(out, "%s\r\n", fwd->client_ip);
				xff_done = true;
			}
			continue;
		}
		if (fwd->client_ip && fwd->forwarded && name_is(f, "Forwarded")) {
			if (!fwd_done) {
				buf_puts(out, "Forwarded: ");
				for (size_t j = i; j < n; j++) {
					if (!name_is(&h[j], "Forwarded"))
						continue;
					buf_append(out, h[j].value,
						   h[j].value_len);
					buf_puts(out, ", ");
				}
				bool v6 = strchr(fwd->client_ip, ':') != NULL;
				buf_printf(out, "for=%s%s%s\r\n",
					   v6 ? "\"[" : "", fwd->client_ip,
					   v6 ? "]\"" : "");
				fwd_done = true;
			}
			continue;
		}
		put_field(out, f);
	}
	if (!framed)
		put_framing(out, fwd->body, fwd->content_length, NULL, 0);
	if (!req->host && absolute) {
		buf_puts(out, "Host: ");
		buf_append(out, req->authority, req->authority_len);
		buf_puts(out, "\r\n");
	} else if (!req->host && fwd->default_host) {
		buf_printf(out, "Host: %s\r\n", fwd->default_host);
	}
	if (fwd->client_ip && fwd->xff && !xff_done)
		buf_printf(out, "X-Forwarded-For: %s\r\n", fwd->client_ip);
	if (fwd->client_ip && fwd->forwarded && !fwd_done) {
		bool v6 = strchr(fwd->client_ip, ':') != NULL;
		buf_printf(out, "Forwarded: for=%s%s%s\r\n", v6 ? "\"[" : "",
			   fwd->client_ip, v6 ? "]\"" : "");
	}
	if (fwd->keep_upgrade)
		buf_puts(out, "Connection: upgrade\r\n");
	if (fwd->extra)
		buf_puts(out, fwd->extra);
	buf_puts(out, "\r\n");
}

void http_write_response_head(buf_t *out, const http_response_t *resp,
			      http_body_t body, bool keep_alive,
			      bool keep_upgrade)
{
	const http_header_t *h = resp->headers;
	size_t n = resp->nheaders;
	buf_reserve(out, resp->head_len + 64);
	buf_printf(out, "HTTP/1.1 %03d ", resp->status);
	if (resp->reason_len)
		buf_append(out, resp->reason, resp->reason_len);
	else
		buf_puts(out, http_status_reason(resp->status));
	buf_puts(out, "\r\n");
	bool framed = false;
	const http_header_t *te = http_header_find(h, n, "Transfer-Encoding");
	for (size_t i = 0; i < n; i++) {
		const http_header_t *f = &h[i];
		bool is_cl = name_is(f, "Content-Length");
		bool is_te = f == te || name_is(f, "Transfer-Encoding");
		if (is_cl || is_te) {
			if (framed)
				continue;
			framed = true;
			if (body == HTTP_BODY_NONE && is_cl)
				put_field(out, f); /* HEAD, 304: as sent */
			else
				put_framing(out, body, resp->content_length,
					    te ? h : NULL, n);
			continue;
		}
		if (keep_upgrade && name_is(f, "Upgrade")) {
			put_field(out, f);
			continue;
		}
		if (http_is_hop_by_hop(f->name, f->name_len, h, n))
			continue;
		put_field(out, f);
	}
	if (!framed && body != HTTP_BODY_NONE &&
	    body != HTTP_BODY_UNTIL_CLOSE && body != HTTP_BODY_TUNNEL)
		put_framing(out, body, resp->content_length, te ? h : NULL, n);
	if (keep_upgrade)
		buf_puts(out, "Connection: upgrade\r\n");
	else if (!keep_alive)
		buf_puts(out, "Connection: close\r\n");
	buf_puts(out, "\r\n");
}

const char *http_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}

void http_write_simple_response(buf_t *out, int status, const char *text,
				bool close_conn)
{
	size_t n = strlen(text);
	buf_printf(out,
		   "HTTP/1.1 %03d %s\r\nContent-Type: text/plain\r\n"
		   "Content-Length: %zu\r\n%s\r\n%s\n",
		   status, http_status_reason(status), n + 1,
		   close_conn ? "Connection: close\r\n" : "", text);
}
