/*
 * config.c: fuzz target for the config loader (YAML text -> config_t).
 * Invariants: never crashes; fails with at least one error or succeeds
 * with none; every error has a message and a position inside the input;
 * a loaded config re-emitted as YAML loads again to the same YAML.
 */
#include "base/buf.h"
#include "config/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Lines as YAML counts them: LF, CR and CRLF each end one. */
static size_t count_lines(const uint8_t *d, size_t n)
{
	size_t lines = 1;
	for (size_t i = 0; i < n; i++)
		lines += d[i] == '\n' || (d[i] == '\r' && (i + 1 == n ||
							  d[i + 1] != '\n'));
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	config_t *cfg = NULL;
	config_errors_t errs = {0};
	int rc = config_load_string("fuzz.yaml", (const char *)data, size,
				    "/nonexistent", &cfg, &errs);
	if ((rc == 0) != (errs.n == 0) || (rc == 0) != (cfg != NULL))
		abort();
	size_t lines = count_lines(data, size);
	for (size_t i = 0; i < errs.n; i++) {
		if (!errs.v[i].msg || !errs.v[i].msg[0])
			abort();
		if (errs.v[i].line < 0 || (size_t)errs.v[i].line > lines + 1)
			abort();
	}
	config_errors_free(&errs);
	if (cfg) {
		buf_t a = BUF_INIT, b = BUF_INIT;
		config_emit(cfg, CONFIG_OUT_YAML, &a);
		config_t *again = NULL;
		if (config_load_string("again.yaml", a.data, a.len,
				       "/nonexistent", &again, &errs) != 0)
			abort();
		config_emit(again, CONFIG_OUT_YAML, &b);
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
			abort();
		buf_free(&a);
		buf_free(&b);
		config_free(again);
		config_free(cfg);
	}
	config_errors_free(&errs);
	return 0;
}
