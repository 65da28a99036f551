/*
 * test_docs.c: docs/metrics.md lists every metric of the catalogue with
 * its unit and Prometheus name, so the reference cannot fall behind the
 * code.
 */
#include "metrics/metrics.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(docs, metrics_md_lists_the_catalogue)
{
	const char *d = getenv("UMBRA_TEST_DATA");
	char path[512];
	snprintf(path, sizeof(path), "%s/../../docs/metrics.md",
		 d ? d : "tests/data");
	FILE *f = fopen(path, "r");
	cr_assert(f, "%s", path);
	static char text[1 << 20];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	static const char *const kinds[] = {"load", "level", "per request"};
	for (int m = 0; m < METRICS__COUNT; m++) {
		const metrics_info_t *in = metrics_info((metrics_id_t)m);
		char row[512];
		snprintf(row, sizeof(row), "| `%s` | %s | %s | `%s` | %s |",
			 in->name, in->unit[0] ? in->unit : "count",
			 kinds[in->kind], in->prom, in->doc);
		cr_assert(strstr(text, row), "docs/metrics.md lacks the row\n%s",
			  row);
	}
}
