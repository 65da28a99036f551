/*
 * mask_json.c: fuzz target for the JSON walker. Invariants: masking
 * succeeds or fails closed (BAD_JSON/TOO_BIG, output untouched, a
 * reason); whatever jansson accepts (nesting within our limit), we
 * accept, and then jansson accepts our output too; our own output masks
 * again; the same input gives the same output; with every action
 * redact, a second pass changes nothing.
 */
#include "mask_fuzz.h"

#include <jansson.h>

/* Deepest nesting in s (strings skipped). */
static int depth_of(const char *s, size_t n)
{
	int d = 0, max = 0;
	bool str = false;
	for (size_t i = 0; i < n; i++) {
		if (str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				str = false;
		} else if (s[i] == '"') {
			str = true;
		} else if (s[i] == '[' || s[i] == '{') {
			if (++d > max)
				max = d;
		} else if (s[i] == ']' || s[i] == '}') {
			d--;
		}
	}
	return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *hs[] = {"Content-Type: application/json"};
	fz_t *f = fz_hashing();
	buf_t out = BUF_INIT;
	int rc = fz_post(f, hs, 1, s, size, &out);
	if (rc && rc != ERR_PARSE && rc != ERR_TOOBIG)
		abort();
	if (rc && mask_ctx_reason(f->c) != MASK_R_BAD_JSON &&
	    mask_ctx_reason(f->c) != MASK_R_TOO_BIG)
		abort();
	json_error_t je;
	json_t *j = json_loadb(s, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	/* jansson stops at a raw NUL byte (invalid JSON anyway). */
	if (j && size && !memchr(s, '\0', size) && depth_of(s, size) <= 256) {
		if (rc)
			abort(); /* jansson's JSON is ours */
		size_t bn;
		const char *b = fz_body(f, &out, &bn);
		json_t *j2 =
		    json_loadb(b, bn, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		if (!j2) {
			fprintf(stderr, "output not JSON: %s\n%.*s\n", je.text,
				(int)bn, b);
			abort();
		}
		json_decref(j2);
	}
	json_decref(j);
	if (rc == 0) {
		size_t bn;
		const char *b = fz_body(f, &out, &bn);
		char *copy = malloc(bn + 1);
		memcpy(copy, b, bn);
		buf_t again = BUF_INIT;
		if (bn && fz_post(f, hs, 1, copy, bn, &again) != 0)
			abort();
		buf_free(&again);
		free(copy);
	}
	buf_free(&out);
	fz_same_twice(f, hs, 1, s, size);
	fz_fixed_point(hs, 1, s, size);
	return 0;
}
