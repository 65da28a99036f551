/*
 * test_corpus.c: the masking corpora through the public API with the
 * default configuration (tests/data/mask/, made by gen_corpus.py).
 *
 *  - sensitive.jsonl: every message is masked; none of the value's
 *    spellings (raw, percent-encoded, JSON-escaped, with or without
 *    separators) may appear in the output, with gzip/deflate bodies
 *    decoded before looking. The masked body must be what was masked:
 *    Transfer-Encoding gone and Content-Length equal to the body sent.
 *  - lookalike.jsonl: at most 1% of the look-alikes may be altered.
 *
 * The end-to-end run of the same corpus through the proxy is the
 * proxy's test.
 */
#include "base/err.h"
#include "mask/mask_int.h"
#include "unit/mask/mask_test.h"

#include <jansson.h>

static char *data_path(const char *name)
{
	const char *dir = getenv("UMBRA_TEST_DATA");
	static char p[4096];
	snprintf(p, sizeof(p), "%s/mask/%s", dir ? dir : "tests/data", name);
	return p;
}

/* Masks one corpus message; fills out_all with the head and the decoded
 * body. Returns the rc. */
static int mask_entry(tmask_t *t, json_t *e, buf_t *all)
{
	mask_header_t h[32];
	size_t nh = 0;
	bool coded = false;
	json_t *hv;
	size_t i;
	json_array_foreach(json_object_get(e, "headers"), i, hv)
	{
		const char *n = json_string_value(json_array_get(hv, 0));
		const char *v = json_string_value(json_array_get(hv, 1));
		h[nh++] = (mask_header_t){n, strlen(n), v, strlen(v)};
		if (strcasecmp(n, "content-encoding") == 0)
			coded = true;
	}
	buf_t body = BUF_INIT;
	cr_assert(
	    b64_dec(json_string_value(json_object_get(e, "body_b64")), &body));
	buf_reset(&t->out);
	int rc;
	const char *kind = json_string_value(json_object_get(e, "kind"));
	if (strcmp(kind, "response") == 0) {
		mask_response_t r = {200, "OK",	     2,	       h,
				     nh,  body.data, body.len, false};
		rc = mask_response(t->c, &r, &t->out);
	} else {
		const char *m = json_string_value(json_object_get(e, "method"));
		const char *tg =
		    json_string_value(json_object_get(e, "target"));
		mask_request_t r = {m, strlen(m), tg,	     strlen(tg),
				    h, nh,	  body.data, body.len};
		rc = mask_request(t->c, &r, &t->out);
	}
	buf_free(&body);
	if (rc)
		return rc;
	const mask_report_t *rep = mask_ctx_report(t->c);
	cr_assert_eq(rep->head_len + rep->body_len, t->out.len);
	buf_reset(all);
	buf_append(all, t->out.data, rep->head_len);
	const char *b = t->out.data + rep->head_len;
	if (coded && rep->body_len) {
		buf_t dec = BUF_INIT;
		cr_assert(inflate_any(b, rep->body_len, &dec),
			  "%s: output body does not decode",
			  json_string_value(json_object_get(e, "id")));
		buf_append(all, dec.data, dec.len);
		buf_free(&dec);
	} else {
		buf_append(all, b, rep->body_len);
	}
	/* Framing: one Content-Length, right; no Transfer-Encoding. */
	cr_assert_null(strcasestr(all->data, "transfer-encoding"));
	if (rep->body_len) {
		char cl[64];
		snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n",
			 rep->body_len);
		cr_assert_not_null(
		    memmem(t->out.data, rep->head_len, cl, strlen(cl)));
	}
	return 0;
}

static void squeeze(const char *s, size_t n, buf_t *out)
{
	buf_reset(out);
	for (size_t i = 0; i < n; i++)
		if (!strchr(" -().+", s[i]) || !s[i])
			buf_putc(out, s[i]);
}

static json_t **load(const char *name, size_t *n)
{
	FILE *f = fopen(data_path(name), "r");
	cr_assert_not_null(f, "cannot open %s", data_path(name));
	json_t **rows = NULL;
	size_t cap = 0;
	*n = 0;
	char *line = NULL;
	size_t lcap = 0;
	while (getline(&line, &lcap, f) > 0) {
		json_error_t je;
		json_t *e = json_loads(line, 0, &je);
		cr_assert_not_null(e, "%s: %s", name, je.text);
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			rows = realloc(rows, cap * sizeof(*rows));
		}
		rows[(*n)++] = e;
	}
	free(line);
	fclose(f);
	return rows;
}

Test(corpus, sensitive_values_never_reach_the_output)
{
	size_t n;
	json_t **rows = load("sensitive.jsonl", &n);
	cr_assert_geq(n, 300);
	tmask_t *t = tm_new("");
	buf_t all = BUF_INIT, sq = BUF_INIT;
	size_t leaks = 0, values = 0;
	for (size_t k = 0; k < n; k++) {
		json_t *e = rows[k];
		const char *id = json_string_value(json_object_get(e, "id"));
		int rc = mask_entry(t, e, &all);
		cr_assert_eq(rc, 0, "%s: %s", id, mask_ctx_error(t->c));
		json_t *fv;
		size_t i;
		json_array_foreach(json_object_get(e, "forbidden"), i, fv)
		{
			const char *v = json_string_value(fv);
			values++;
			if (strstr(all.data, v)) {
				leaks++;
				cr_log_error(
				    "%s (%s in %s): \"%s\" leaked:\n%s", id,
				    json_string_value(
					json_object_get(e, "type")),
				    json_string_value(
					json_object_get(e, "position")),
				    v, all.data);
			}
		}
		json_t *cv = json_object_get(e, "compact");
		if (cv) {
			squeeze(all.data, all.len, &sq);
			if (strstr(sq.data, json_string_value(cv))) {
				leaks++;
				cr_log_error(
				    "%s: %s leaked without separators:\n%s", id,
				    json_string_value(cv), all.data);
			}
		}
	}
	cr_assert_eq(leaks, 0, "%zu of %zu spellings leaked", leaks, values);
	buf_free(&all);
	buf_free(&sq);
	for (size_t k = 0; k < n; k++)
		json_decref(rows[k]);
	free(rows);
	tm_free(t);
}

/* The settling of masking rounds relies on mask__detect_inert: text with
 * none of its trigger bytes can hold no match. Every sensitive spelling
 * of the corpus (every detector, every encoding) has one. */
Test(corpus, no_sensitive_spelling_is_inert)
{
	size_t n;
	json_t **rows = load("sensitive.jsonl", &n);
	size_t checked = 0;
	for (size_t k = 0; k < n; k++) {
		json_t *fv;
		size_t i;
		json_array_foreach(json_object_get(rows[k], "forbidden"), i, fv)
		{
			const char *v = json_string_value(fv);
			cr_assert_not(mask__detect_inert(v, strlen(v)),
				      "%s: \"%s\" is inert",
				      json_string_value(
					  json_object_get(rows[k], "id")),
				      v);
			checked++;
		}
		json_decref(rows[k]);
	}
	free(rows);
	cr_assert_geq(checked, 300);
}

Test(corpus, lookalikes_mostly_untouched)
{
	size_t n;
	json_t **rows = load("lookalike.jsonl", &n);
	cr_assert_geq(n, 300);
	tmask_t *t = tm_new("");
	buf_t all = BUF_INIT;
	size_t altered = 0;
	for (size_t k = 0; k < n; k++) {
		json_t *e = rows[k];
		const char *id = json_string_value(json_object_get(e, "id"));
		int rc = mask_entry(t, e, &all);
		cr_assert_eq(rc, 0, "%s: %s", id, mask_ctx_error(t->c));
		json_t *kv;
		size_t i;
		json_array_foreach(json_object_get(e, "keep"), i, kv)
		{
			const char *v = json_string_value(kv);
			if (!strstr(all.data, v)) {
				altered++;
				cr_log_info("%s (%s in %s): \"%s\" was altered",
					    id,
					    json_string_value(
						json_object_get(e, "type")),
					    json_string_value(
						json_object_get(e, "position")),
					    v);
			}
		}
	}
	/* The bar: at most 1% altered. */
	cr_assert_leq(altered * 100, n, "%zu of %zu look-alikes altered",
		      altered, n);
	cr_log_info("look-alikes altered: %zu of %zu", altered, n);
	buf_free(&all);
	for (size_t k = 0; k < n; k++)
		json_decref(rows[k]);
	free(rows);
	tm_free(t);
}
