/*
 * api_time.c: fuzz target for the API's time fields (api__parse_time:
 * "start"/"end" of POST /api/v1/events), fed any JSON value. Invariants:
 * a rejection has a reason and leaves the output alone; an accepted time
 * lies in 0..API_TIME_MAX_S seconds (never a wrapped or negative int64,
 * as "start": 1e308 once became 1677-09-21).
 */
#include "api/api_int.h"
#include "base/err.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
	if (!v)
		return 0;
	int64_t ns = -42;
	const char *why = NULL;
	int rc = api__parse_time(v, &ns, &why);
	json_decref(v);
	if (rc) {
		if (rc != ERR_PARSE && rc != ERR_RANGE)
			abort();
		if (!why || !*why || ns != -42)
			abort();
		return 0;
	}
	if (ns < 0 || (double)ns > API_TIME_MAX_S * 1e9)
		abort();
	return 0;
}
