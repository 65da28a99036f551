/*
 * promresp.c: fuzz target for the parser of Prometheus /api/v1/query
 * answers (metrics_prom_parse, src/metrics/src_prom.c), which reads what a
 * network peer sent. Invariants: the result is a value, "no data", or a
 * rejection with a reason; Prometheus' error text is always a terminated
 * string inside the buffer; the same input gives the same answer.
 */
#include "base/err.h"
#include "metrics/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                           \
	do {                                                              \
		if (!(c))                                                 \
			abort();                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *b = malloc(size ? size : 1);
	memcpy(b, data, size);
	double v1 = 0, v2 = 0;
	const char *why = NULL, *why2 = NULL;
	char err[32], err2[32];
	memset(err, 'x', sizeof(err));
	int rc = metrics_prom_parse(b, size, &v1, &why, err, sizeof(err));
	int rc2 = metrics_prom_parse(b, size, &v2, &why2, err2, sizeof(err2));
	CHECK(rc == 0 || rc == ERR_NOTFOUND || rc == ERR_PARSE);
	CHECK(rc == rc2);
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	CHECK(strcmp(err, err2) == 0);
	if (rc == ERR_PARSE)
		CHECK(why && why[0] && why == why2);
	if (rc == 0)
		CHECK((isnan(v1) && isnan(v2)) || v1 == v2);
	free(b);
	return 0;
}
