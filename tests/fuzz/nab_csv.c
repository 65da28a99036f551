/*
 * nab_csv.c: fuzz target for the NAB data-file parser (umbra analyze
 * --nab reads these from disk). Invariants: never crashes; fails with a
 * reason and a line inside the input, leaving the output untouched, or
 * succeeds with at least one row of finite values and timestamps in the
 * accepted years; and what it parsed, written back as NAB writes it
 * (timestamps formatted, values as %.17g), parses again to the very
 * same rows.
 */
#include "base/buf.h"
#include "cmd/nab_io.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 1900-01-01 and 3000-01-01 in microseconds since 1970. */
#define T_MIN (INT64_C(-2208988800) * 1000000)
#define T_MAX (INT64_C(32503680000) * 1000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cmd_nab_series_t s = {0}, again = {0};
	cmd_nab_err_t err = {0};
	int rc = cmd_nab_csv_parse((const char *)data, size, &s, &err);
	if (rc) {
		size_t lines = 1;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		if (!err.why || !err.why[0] || err.line > lines || s.v || s.n)
			abort();
		return 0;
	}
	if (s.n == 0 || !s.v || !s.t_us)
		abort();
	buf_t b = BUF_INIT;
	buf_puts(&b, "timestamp,value\n");
	for (size_t i = 0; i < s.n; i++) {
		if (!isfinite(s.v[i]) || s.t_us[i] < T_MIN || s.t_us[i] >= T_MAX)
			abort();
		char ts[40];
		buf_printf(&b, "%s,%.17g\n",
			   cmd_nab_time_format(s.t_us[i], ts, sizeof(ts)), s.v[i]);
	}
	if (cmd_nab_csv_parse(b.data, b.len, &again, &err) || again.n != s.n ||
	    memcmp(again.t_us, s.t_us, s.n * sizeof(int64_t)) ||
	    memcmp(again.v, s.v, s.n * sizeof(double)))
		abort();
	buf_free(&b);
	cmd_nab_series_free(&s);
	cmd_nab_series_free(&again);
	return 0;
}
