/*
 * compare.c: response captures and their comparison (see compare.h).
 */
#include "compare/compare.h"

#include "base/xmalloc.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* --------------------------------------------------------------- capture */

static bool in_list(char *const *list, size_t n, const char *name,
		    size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
			return true;
	return false;
}

void cmp_capture_head(cmp_capture_t *c, const cmp_rules_t *r,
		      const http_response_t *resp)
{
	c->status = resp->status;
	c->headers.len = 0;
	c->nheaders = 0;
	for (size_t i = 0; i < resp->nheaders; i++) {
		const http_header_t *h = &resp->headers[i];
		if (h->name_len == 14 &&
		    strncasecmp(h->name, "Content-Length", 14) == 0)
			continue; /* framing: compared through the body */
		if (h->name_len == 16 &&
		    strncasecmp(h->name, "Content-Encoding", 16) == 0) {
			/* compared through the decoded body */
			c->encoding = h->value_len == 4 &&
						      !strncasecmp(h->value, "gzip", 4)
					      ? CMP_ENC_GZIP
				      : h->value_len == 7 &&
						      !strncasecmp(h->value,
								   "deflate", 7)
					      ? CMP_ENC_DEFLATE
				      : h->value_len == 8 &&
						      !strncasecmp(h->value,
								   "identity", 8)
					      ? CMP_ENC_NONE
					      : CMP_ENC_OTHER;
			continue;
		}
		if (http_is_hop_by_hop(h->name, h->name_len, resp->headers,
				       resp->nheaders) ||
		    in_list(r->ignore_headers, r->nignore_headers, h->name,
			    h->name_len))
			continue;
		if (c->nheaders == CMP_MAX_HEADERS)
			break;
		for (size_t k = 0; k < h->name_len; k++)
			buf_putc(&c->headers,
				 (char)tolower((unsigned char)h->name[k]));
		buf_putc(&c->headers, '\0');
		buf_append(&c->headers, h->value, h->value_len);
		buf_putc(&c->headers, '\0');
		c->nheaders++;
		if (h->name_len == 12 &&
		    strncasecmp(h->name, "Content-Type", 12) == 0) {
			char ct[128];
			size_t n = h->value_len < sizeof(ct) - 1 ? h->value_len
								 : sizeof(ct) - 1;
			for (size_t k = 0; k < n; k++)
				ct[k] = (char)tolower((unsigned char)h->value[k]);
			ct[n] = '\0';
			c->json = strstr(ct, "application/json") ||
				  strstr(ct, "+json");
		}
	}
}

void cmp_capture_body(cmp_capture_t *c, const cmp_rules_t *r, const char *d,
		      size_t n, uint64_t *kept)
{
	c->body_len += n;
	if (!c->md && c->body.len + n <= r->max_body &&
	    (!kept || *kept >= n)) {
		buf_append(&c->body, d, n);
		if (kept)
			*kept -= n;
		return;
	}
	if (!c->md) {
		/* Past the cap: from here the body is compared by digest. */
		c->md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
		EVP_DigestUpdate(c->md, c->body.data ? c->body.data : "",
				 c->body.len);
		c->body_truncated = true;
	}
	EVP_DigestUpdate(c->md, d, n);
}

void cmp_capture_finish(cmp_capture_t *c)
{
	if (c->md) {
		unsigned len = 0;
		EVP_DigestFinal_ex(c->md, c->digest, &len);
		EVP_MD_CTX_free(c->md);
		c->md = NULL;
		c->has_digest = true;
	}
}

size_t cmp_capture_free(cmp_capture_t *c)
{
	size_t kept = c->body.len;
	buf_free(&c->headers);
	buf_free(&c->body);
	if (c->md)
		EVP_MD_CTX_free(c->md);
	c->md = NULL;
	return kept;
}

/* The SHA-256 of a capture's body: final when it was hashed while
 * streaming, else computed now from the kept bytes. */
static const unsigned char *digest_of(cmp_capture_t *c)
{
	if (!c->has_digest) {
		unsigned len = 0;
		EVP_Digest(c->body.data ? c->body.data : "", c->body.len,
			   c->digest, &len, EVP_sha256(), NULL);
		c->has_digest = true;
	}
	return c->digest;
}

/* --------------------------------------------------------------- headers */

typedef struct {
	const char *name, *value;
} hv_t;

static int hv_cmp(const void *a, const void *b)
{
	const hv_t *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

/* side's (0 production, 1 the other) headers of c, sorted, without its
 * identity fields (pinned, or learned in r->ident). */
static size_t headers_of(const cmp_capture_t *c, const cmp_rules_t *r,
			 int side, hv_t *out)
{
	const char *p = c->headers.data;
	size_t n = 0;
	for (size_t i = 0; i < c->nheaders; i++) {
		const char *name = p;
		p += strlen(p) + 1;
		const char *value = p;
		p += strlen(p) + 1;
		if (in_list(r->identity, r->nidentity, name, strlen(name)) ||
		    (r->ident && cmp_ident_skip(r->ident, name, side, value)))
			continue;
		out[n++] = (hv_t){name, value};
	}
	qsort(out, n, sizeof(hv_t), hv_cmp);
	return n;
}

static bool headers_differ(const cmp_capture_t *a, const cmp_capture_t *b,
			   const cmp_rules_t *r)
{
	if (a->nheaders != b->nheaders && !r->ident && !r->nidentity)
		return true;
	hv_t x[CMP_MAX_HEADERS], y[CMP_MAX_HEADERS];
	size_t n = headers_of(a, r, 0, x);
	if (headers_of(b, r, 1, y) != n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (hv_cmp(&x[i], &y[i]))
			return true;
	return false;
}

/* --------------------------------------------------------------- json */

typedef struct {
	const cmp_rules_t *rt;
	char paths[CMP_MAX_PATHS][CMP_PATH_MAX];
	size_t npaths;
	bool differ;
} jcmp_t;

/* A path with array indices generalised: $.items[3].id -> $.items[*].id */
static void generalise(const char *path, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *p = path; *p && o + 4 < cap;) {
		if (*p == '[' && isdigit((unsigned char)p[1])) {
			memcpy(out + o, "[*]", 3);
			o += 3;
			while (*p && *p != ']')
				p++;
			if (*p)
				p++;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
}

static bool path_in(char *const *list, size_t n, const char *path)
{
	char gen[CMP_PATH_MAX];
	generalise(path, gen, sizeof(gen));
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], path) == 0 || strcmp(list[i], gen) == 0)
			return true;
	return false;
}

static void note_path(jcmp_t *j, const char *path)
{
	j->differ = true;
	if (j->npaths < CMP_MAX_PATHS)
		snprintf(j->paths[j->npaths++], CMP_PATH_MAX, "%s", path);
}

static int canon_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void json_diff(jcmp_t *j, json_t *a, json_t *b, const char *path);

/* Arrays as multisets: sort both by canonical text, compare in order. */
static void unordered_diff(jcmp_t *j, json_t *a, json_t *b, const char *path)
{
	size_t n = json_array_size(a);
	if (n != json_array_size(b)) {
		note_path(j, path);
		return;
	}
	char **x = xcalloc(n ? n : 1, sizeof(char *));
	char **y = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		x[i] = json_dumps(json_array_get(a, i), JSON_ENCODE_ANY |
							 JSON_COMPACT |
							 JSON_SORT_KEYS);
		y[i] = json_dumps(json_array_get(b, i), JSON_ENCODE_ANY |
							 JSON_COMPACT |
							 JSON_SORT_KEYS);
	}
	qsort(x, n, sizeof(char *), canon_cmp);
	qsort(y, n, sizeof(char *), canon_cmp);
	for (size_t i = 0; i < n; i++)
		if (strcmp(x[i], y[i])) {
			note_path(j, path);
			break;
		}
	for (size_t i = 0; i < n; i++) {
		free(x[i]);
		free(y[i]);
	}
	free(x);
	free(y);
}

static void json_diff(jcmp_t *j, json_t *a, json_t *b, const char *path)
{
	const cmp_rules_t *rt = j->rt;
	if (path_in(rt->ignore_json, rt->nignore_json, path))
		return;
	if (json_is_number(a) && json_is_number(b)) {
		if (json_number_value(a) != json_number_value(b))
			note_path(j, path);
		return;
	}
	if (json_typeof(a) != json_typeof(b)) {
		note_path(j, path);
		return;
	}
	char sub[CMP_PATH_MAX];
	switch (json_typeof(a)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		json_object_foreach(a, k, v)
		{
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			json_t *o = json_object_get(b, k);
			if (!o) {
				if (!path_in(rt->ignore_json, rt->nignore_json,
					     sub))
					note_path(j, sub);
				continue;
			}
			json_diff(j, v, o, sub);
		}
		json_object_foreach(b, k, v)
		{
			if (json_object_get(a, k))
				continue;
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			if (!path_in(rt->ignore_json, rt->nignore_json, sub))
				note_path(j, sub);
		}
		return;
	}
	case JSON_ARRAY: {
		if (path_in(rt->unordered, rt->nunordered, path)) {
			unordered_diff(j, a, b, path);
			return;
		}
		size_t na = json_array_size(a), nb = json_array_size(b);
		if (na != nb) {
			note_path(j, path);
			return;
		}
		for (size_t i = 0; i < na; i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			json_diff(j, json_array_get(a, i), json_array_get(b, i),
				  sub);
		}
		return;
	}
	default:
		if (!json_equal(a, b))
			note_path(j, path);
	}
}

/* --------------------------------------------------------------- diff */

/* The capture's body decoded into tmp when it is gzip or deflate (zlib,
 * raw deflate accepted too); false when it cannot be (then the raw
 * bodies are compared). */
static bool decode_body(const cmp_capture_t *c, buf_t *tmp)
{
	if (c->encoding != CMP_ENC_GZIP && c->encoding != CMP_ENC_DEFLATE)
		return false;
	for (int attempt = 0; attempt < 2; attempt++) {
		z_stream z = {0};
		int wbits = c->encoding == CMP_ENC_GZIP ? 15 + 16
			    : attempt == 0		? 15
							: -15;
		if (inflateInit2(&z, wbits) != Z_OK)
			return false;
		z.next_in = (Bytef *)(c->body.data ? c->body.data : "");
		z.avail_in = (uInt)c->body.len;
		tmp->len = 0;
		int rc = Z_OK;
		while (rc == Z_OK) {
			if (tmp->len >= CMP_MAX_INFLATE)
				break;
			buf_reserve(tmp, 65536);
			z.next_out = (Bytef *)tmp->data + tmp->len;
			z.avail_out = (uInt)(tmp->cap - tmp->len - 1);
			rc = inflate(&z, Z_NO_FLUSH);
			tmp->len = (size_t)((char *)z.next_out - tmp->data);
		}
		inflateEnd(&z);
		if (rc == Z_STREAM_END)
			return true;
		if (c->encoding == CMP_ENC_GZIP)
			return false;
	}
	return false;
}

/* A capture that reads its decoded body from tmp (the caller keeps the
 * original). */
static cmp_capture_t decoded_view(const cmp_capture_t *c, buf_t *tmp)
{
	cmp_capture_t v = *c;
	if (decode_body(c, tmp)) {
		v.body = *tmp;
		v.body_len = tmp->len;
		v.encoding = CMP_ENC_NONE;
		v.has_digest = false;
	}
	return v;
}

static void diff_plain(cmp_capture_t *p, cmp_capture_t *s, const cmp_rules_t *r,
		       cmp_result_t *d);

void cmp_diff(cmp_capture_t *p, cmp_capture_t *s, const cmp_rules_t *r,
	      cmp_result_t *d)
{
	if ((p->encoding || s->encoding) && !p->body_truncated &&
	    !s->body_truncated) {
		buf_t tp = BUF_INIT, ts = BUF_INIT;
		cmp_capture_t vp = decoded_view(p, &tp);
		cmp_capture_t vs = decoded_view(s, &ts);
		diff_plain(&vp, &vs, r, d);
		buf_free(&tp);
		buf_free(&ts);
		return;
	}
	diff_plain(p, s, r, d);
}

static void diff_plain(cmp_capture_t *p, cmp_capture_t *s, const cmp_rules_t *r,
		       cmp_result_t *d)
{
	jcmp_t j = {.rt = r};
	d->mask = 0;
	d->npaths = 0;
	d->json_compared = false;
	if (p->status != s->status)
		d->mask |= REQREC_DIFF_STATUS;
	if (headers_differ(p, s, r))
		d->mask |= REQREC_DIFF_HEADERS;
	if (p->json && s->json && !p->body_truncated && !s->body_truncated) {
		json_t *a = json_loadb(p->body.data ? p->body.data : "",
				       p->body.len, JSON_DECODE_ANY, NULL);
		json_t *b = json_loadb(s->body.data ? s->body.data : "",
				       s->body.len, JSON_DECODE_ANY, NULL);
		if (a && b) {
			json_diff(&j, a, b, "$");
			d->json_compared = true;
			if (j.differ)
				d->mask |= REQREC_DIFF_JSON;
			d->npaths = j.npaths;
			memcpy(d->paths, j.paths, sizeof(d->paths));
		}
		json_decref(a);
		json_decref(b);
		if (d->json_compared)
			return;
	}
	if (p->body_len != s->body_len)
		d->mask |= REQREC_DIFF_SIZE | REQREC_DIFF_BODY;
	else if (p->body_truncated || s->body_truncated)
		d->mask |= memcmp(digest_of(p), digest_of(s), 32)
				   ? REQREC_DIFF_BODY
				   : 0;
	else if (p->body.len &&
		 memcmp(p->body.data, s->body.data, p->body.len) != 0)
		d->mask |= REQREC_DIFF_BODY;
}

bool cmp_paths_within(const cmp_result_t *a, const cmp_result_t *b)
{
	for (size_t i = 0; i < a->npaths; i++) {
		bool found = false;
		for (size_t k = 0; k < b->npaths && !found; k++)
			found = strcmp(a->paths[i], b->paths[k]) == 0;
		if (!found)
			return false;
	}
	return a->npaths < CMP_MAX_PATHS;
}

const char *cmp_mask_text(uint8_t mask, char *out, size_t cap)
{
	static const struct {
		uint8_t bit;
		const char *name;
	} names[] = {{REQREC_DIFF_STATUS, "status"},
		     {REQREC_DIFF_HEADERS, "headers"},
		     {REQREC_DIFF_BODY, "body"},
		     {REQREC_DIFF_SIZE, "size"},
		     {REQREC_DIFF_JSON, "json"},
		     {REQREC_DIFF_ERROR, "error"}};
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (mask & names[i].bit)
			o += (size_t)snprintf(out + o, cap - o, "%s%s",
					      o ? "," : "", names[i].name);
	return out;
}
