/*
 * procfs.c: fuzz target for the kernel-file parsers of the metrics
 * collectors (src/metrics/collect.h). The first byte picks the parser,
 * the rest is the file (an exact-size copy, so reading past it is caught
 * by ASan). Invariants: the result is 0 or a rejection with a reason
 * (ERR_NOTFOUND only for a missing key); an accepted file gives sane
 * values; parsing twice gives the same answer.
 */
#include "base/err.h"
#include "metrics/collect.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                           \
	do {                                                              \
		if (!(c))                                                 \
			abort();                                          \
	} while (0)

static void check_rc(int rc, const char *why, bool notfound_ok)
{
	CHECK(rc == 0 || rc == ERR_PARSE || (notfound_ok && rc == ERR_NOTFOUND));
	if (rc == ERR_PARSE)
		CHECK(why && why[0]);
}

static size_t lines(const char *b, size_t n)
{
	size_t l = 1;
	for (size_t i = 0; i < n; i++)
		l += b[i] == '\n';
	return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int which = data[0] % 8;
	size_t n = size - 1;
	char *b = malloc(n ? n : 1);
	memcpy(b, data + 1, n);
	const char *why = NULL, *why2 = NULL;
	int rc, rc2;
	switch (which) {
	case 0: {
		metrics_pstat_t s, t;
		rc = metrics_parse_stat(b, n, &s, &why);
		rc2 = metrics_parse_stat(b, n, &t, &why2);
		check_rc(rc, why, false);
		CHECK(rc == rc2);
		if (rc == 0) {
			CHECK(s.pid > 0 && s.ppid >= 0);
			CHECK(memcmp(&s, &t, sizeof(s)) == 0);
		}
		break;
	}
	case 1: {
		metrics_pstatus_t s, t;
		rc = metrics_parse_status(b, n, &s, &why);
		rc2 = metrics_parse_status(b, n, &t, &why2);
		check_rc(rc, why, false);
		CHECK(rc == rc2);
		if (rc == 0) {
			CHECK(s.rss_kib <= UINT64_MAX / 1024);
			CHECK(memcmp(&s, &t, sizeof(s)) == 0);
		}
		break;
	}
	case 2: {
		metrics_pio_t s;
		rc = metrics_parse_io(b, n, &s, &why);
		check_rc(rc, why, false);
		break;
	}
	case 3: {
		metrics_netdev_t s, t;
		rc = metrics_parse_netdev(b, n, false, &s, &why);
		check_rc(rc, why, false);
		rc2 = metrics_parse_netdev(b, n, true, &t, &why2);
		CHECK(rc == rc2);
		if (rc == 0) {
			/* two header lines, one interface per line */
			CHECK(t.ifaces + 2 <= lines(b, n));
			CHECK(s.ifaces <= t.ifaces);
			CHECK(s.rx_bytes <= t.rx_bytes && s.tx_bytes <= t.tx_bytes);
		}
		break;
	}
	case 4: {
		metrics_psi_t s;
		rc = metrics_parse_psi(b, n, &s, &why);
		check_rc(rc, why, false);
		if (rc == 0 && !s.has_full)
			CHECK(s.full_us == 0);
		break;
	}
	case 5: {
		uint64_t r, w;
		rc = metrics_parse_io_stat(b, n, &r, &w, &why);
		check_rc(rc, why, false);
		break;
	}
	case 6: {
		uint64_t r, w;
		rc = metrics_parse_blkio(b, n, &r, &w, &why);
		check_rc(rc, why, false);
		break;
	}
	default: {
		uint64_t v;
		rc = metrics_parse_keyed(b, n, "usage_usec", &v, &why);
		check_rc(rc, why, true);
		break;
	}
	}
	free(b);
	return 0;
}
