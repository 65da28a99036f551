/*
 * mask.c: `umbra mask [--config F] < request.http`: what masking does to a
 * request, so that users can test their rules. Reads one or more HTTP/1.1
 * requests (or responses, with --response) from stdin, parsed by the
 * proxy's own parser (src/http), masks each as the mirror path does, and
 * writes the masked messages to stdout and which detector or rule touched
 * what to stderr.
 *
 * With --config the config's mask section is used, key file included (made
 * 0600 if missing, as `umbra run` would), so the pseudonyms are the ones
 * the shadow sees. Without it the defaults apply with a throwaway random
 * key (said on stderr). Exit status: 0 all masked, 1 a message could not
 * be parsed or was not masked (fail-closed: nothing of it is printed), 2
 * bad usage or config.
 */
#include "cmd/cmd.h"

#include "base/err.h"
#include "http/http.h"
#include "mask/mask.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* stdin is test input, not traffic: 64 MiB is more than any request
 * worth looking at by hand, and bounds the memory we take. */
#define CMD_MASK_INPUT_MAX (64u << 20)
#define CMD_MASK_HEADERS                                                       \
	1000 /* above listen.max_headers' bound (10000 is                      \
		the config's ceiling, 100 its default) */

static const cmd_opt_t opts[] = {
    {"config", 'c', "FILE", "use FILE's mask section and key"},
    {"key", 0, "FILE", "the HMAC key file (default: mask.key_file)"},
    {"response", 0, NULL, "stdin holds responses, not requests"},
    {"quiet", 'q', NULL, "print no report on stderr"},
    {NULL},
};

static int read_all(buf_t *in)
{
	for (;;) {
		buf_reserve(in, 65536);
		ssize_t r = read(0, in->data + in->len, in->cap - in->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		in->len += (size_t)r;
		if (in->len > CMD_MASK_INPUT_MAX)
			return ERR_TOOBIG;
	}
	if (in->data)
		in->data[in->len] = '\0';
	return 0;
}

/* The body after a head at in[off..]: framing decides. Sets *used to the
 * bytes consumed after the head. Returns 0 or a message. */
static const char *read_body(const char *p, size_t n, http_body_t kind,
			     uint64_t cl, buf_t *body, size_t *used)
{
	buf_reset(body);
	*used = 0;
	switch (kind) {
	case HTTP_BODY_NONE:
	case HTTP_BODY_TUNNEL:
		return NULL;
	case HTTP_BODY_LENGTH:
		if (cl > n)
			return "body shorter than its Content-Length";
		buf_append(body, p, (size_t)cl);
		*used = (size_t)cl;
		return NULL;
	case HTTP_BODY_UNTIL_CLOSE:
		buf_append(body, p, n);
		*used = n;
		return NULL;
	case HTTP_BODY_CHUNKED: {
		http_chunked_t ch;
		http_chunked_init(&ch, 65536);
		size_t off = 0;
		while (!ch.done) {
			const char *data;
			size_t dlen;
			http_err_t err = HTTP_E_NONE;
			ssize_t k = http_chunked_step(&ch, p + off, n - off,
						      &data, &dlen, &err);
			if (k < 0)
				return http_err_text(err);
			if (k == 0)
				return "chunked body ends early";
			if (dlen)
				buf_append(body, data, dlen);
			off += (size_t)k;
		}
		*used = off;
		return NULL;
	}
	}
	return NULL;
}

static int make_masker(cmd_args_t *a, config_t **cfgp, mask_t **m)
{
	const cmd_entry_t *self = a->cmd;
	const char *file = cmd_opt(a, "config");
	const char *key = cmd_opt(a, "key");
	config_t *cfg;
	if (file) {
		int rc = cmd_load_config(file, &cfg);
		if (rc)
			return rc;
	} else {
		cfg = config_new_default("mask");
	}
	*cfgp = cfg;
	buf_t err = BUF_INIT;
	int rc;
	if (file || key) {
		if (key)
			cfg->mask.key_file = (char *)key;
		rc = mask_new(&cfg->mask, m, &err);
	} else {
		uint8_t k[MASK_KEY_GEN];
		if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
			return cmd_fail(self, "getrandom: %s", strerror(errno));
		fprintf(stderr, "umbra mask: no --config or --key: pseudonyms "
				"use a throwaway key\n");
		rc = mask_new_with_key(&cfg->mask, k, sizeof(k), m, &err);
	}
	if (rc) {
		fprintf(stderr, "%s", err.data ? err.data : err_str(rc));
		buf_free(&err);
		return rc == ERR_CONFIG ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
	}
	buf_free(&err);
	return CMD_EXIT_OK;
}

static void copy_headers(const http_header_t *h, size_t n, mask_header_t *o)
{
	for (size_t i = 0; i < n; i++)
		o[i] = (mask_header_t){h[i].name, h[i].name_len, h[i].value,
				       h[i].value_len};
}

static int exec(cmd_args_t *a)
{
	const cmd_entry_t *self = a->cmd;
	bool responses = cmd_flag(a, "response"), quiet = cmd_flag(a, "quiet");
	config_t *cfg = NULL;
	mask_t *m = NULL;
	int code = make_masker(a, &cfg, &m);
	if (code) {
		config_free(cfg);
		return code;
	}
	mask_ctx_t *c = mask_ctx_new(m);
	mask_ctx_detail(c, true);
	buf_t in = BUF_INIT, body = BUF_INIT, out = BUF_INIT, rep = BUF_INIT;
	int rc = read_all(&in);
	if (rc) {
		code = cmd_fail(self, "stdin: %s",
				rc == ERR_TOOBIG ? "more than 64 MiB"
						 : err_str(rc));
		goto done;
	}
	http_limits_t lim = HTTP_LIMITS_DEFAULT;
	lim.max_request_line = cfg->listen.max_request_line;
	lim.max_head = cfg->listen.max_header_bytes;
	lim.max_headers = (size_t)cfg->listen.max_headers;
	if (lim.max_headers > CMD_MASK_HEADERS)
		lim.max_headers = CMD_MASK_HEADERS;
	static http_header_t hh[CMD_MASK_HEADERS];
	static mask_header_t mh[CMD_MASK_HEADERS];
	size_t off = 0;
	for (int k = 1;; k++) {
		while (off < in.len &&
		       (in.data[off] == '\r' || in.data[off] == '\n'))
			off++; /* blank lines between messages */
		if (off >= in.len) {
			if (k == 1)
				code = cmd_fail(self, "stdin holds no %s",
						responses ? "response"
							  : "request");
			break;
		}
		size_t scanned = 0;
		http_err_t herr = HTTP_E_NONE;
		http_request_t req = {.headers = hh, .cap = CMD_MASK_HEADERS};
		http_response_t resp = {.headers = hh, .cap = CMD_MASK_HEADERS};
		int hl = responses
			     ? http_parse_response(in.data + off, in.len - off,
						   &scanned, &lim, HTTP_M_GET,
						   &resp, &herr)
			     : http_parse_request(in.data + off, in.len - off,
						  &scanned, &lim, &req, &herr);
		if (hl < 0) {
			code =
			    cmd_fail(self, "stdin: %s %d at byte %zu: %s",
				     responses ? "response" : "request", k, off,
				     hl == ERR_AGAIN ? "incomplete head"
						     : http_err_text(herr));
			break;
		}
		size_t used;
		const char *berr = read_body(
		    in.data + off + hl, in.len - off - (size_t)hl,
		    responses ? resp.body : req.body,
		    responses ? resp.content_length : req.content_length, &body,
		    &used);
		if (berr) {
			code = cmd_fail(self, "stdin: %s %d: %s",
					responses ? "response" : "request", k,
					berr);
			break;
		}
		off += (size_t)hl + used;
		buf_reset(&out);
		if (responses) {
			copy_headers(resp.headers, resp.nheaders, mh);
			mask_response_t r = {resp.status,
					     resp.reason,
					     resp.reason_len,
					     mh,
					     resp.nheaders,
					     body.data,
					     body.len,
					     resp.body == HTTP_BODY_NONE,
					     false};
			rc = mask_response(c, &r, &out);
		} else {
			copy_headers(req.headers, req.nheaders, mh);
			mask_request_t r = {req.method, req.method_len,
					    req.target, req.target_len,
					    mh,		req.nheaders,
					    body.data,	body.len,
					    false};
			rc = mask_request(c, &r, &out);
		}
		if (rc) {
			fprintf(stderr,
				"umbra mask: %s %d not masked (it would not "
				"be mirrored): %s\n",
				responses ? "response" : "request", k,
				mask_ctx_error(c));
			code = CMD_EXIT_FAIL;
			continue;
		}
		fwrite(out.data, 1, out.len, stdout);
		if (!quiet) {
			const mask_report_t *r = mask_ctx_report(c);
			buf_reset(&rep);
			mask_report_format(m, r, &rep);
			fprintf(stderr,
				"umbra mask: %s %d: %u value%s masked\n",
				responses ? "response" : "request", k, r->total,
				r->total == 1 ? "" : "s");
			for (char *line = rep.data, *nl; line && *line;
			     line = nl + 1) {
				nl = strchr(line, '\n');
				fprintf(stderr, "  %.*s\n", (int)(nl - line),
					line);
			}
		}
	}
done:
	fflush(stdout);
	buf_free(&in);
	buf_free(&body);
	buf_free(&out);
	buf_free(&rep);
	mask_ctx_free(c);
	mask_free(m);
	config_free(cfg);
	return code;
}

const cmd_entry_t cmd_mask = {
    .name = "mask",
    .usage = "[--config FILE] [--key FILE] [--response] [--quiet] "
	     "< MESSAGES",
    .summary = "print what masking makes of HTTP requests read from stdin",
    .help = "Reads HTTP/1.1 requests from stdin (one after another, "
	    "Content-Length or\nchunked bodies), masks each as the mirror "
	    "path does and writes the masked\nrequests to stdout: "
	    "Content-Length fixed, Transfer-Encoding gone, gzip and\n"
	    "deflate bodies re-encoded. Which detector or rule touched what "
	    "goes to stderr,\none line per value (never the value "
	    "itself).\n\nWith --config, its mask section and key file are "
	    "used, so pseudonyms are the\nones the shadow sees (the key file "
	    "is made, 0600, if missing). Without it:\nthe defaults and a "
	    "throwaway key. --response reads responses instead.\n\nExit "
	    "status: 0 all masked; 1 a message could not be parsed, or "
	    "masking\nfailed closed (that message is not printed: it would "
	    "not be mirrored); 2 bad\nusage or config.",
    .opts = opts,
    .min_pos = 0,
    .max_pos = 0,
    .exec = exec,
};
