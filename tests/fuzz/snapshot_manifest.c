/*
 * snapshot_manifest.c: fuzz target for the snapshot store's three text
 * formats (mitigate/snapshot.h, mitigate/txn.h): the first byte picks the
 * manifest, the index or the transaction journal parser, the rest is the
 * file. A journal accepted has its required keys and absolute paths. Invariants: never crashes; a
 * rejection has a reason and a line inside the input; an accepted
 * manifest has only safe relative paths, sorted and unique, modes within
 * 0777, sizes within the limit; an accepted index has unique ids.
 */
#include "base/err.h"
#include "mitigate/snapshot.h"
#include "mitigate/txn.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int lines(const char *d, size_t n)
{
	int l = 1;
	for (size_t i = 0; i < n; i++)
		l += d[i] == '\n';
	return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	const char *t = (const char *)data + 1;
	size_t n = size - 1;
	int line = -1;
	const char *why = NULL;
	if (data[0] % 4 == 2) {
		mit_txn_t tx;
		int rc = mit_txn_parse(t, n, &tx, &line, &why);
		if (rc) {
			if (rc != ERR_CORRUPT || !why || !why[0] || line < 0 ||
			    line > lines(t, n) || tx.live || tx.dirs)
				abort();
			return 0;
		}
		if (!tx.id || !tx.live || tx.live[0] != '/' ||
		    strlen(tx.from) != MIT_SNAP_ID_LEN ||
		    (tx.method == MIT_TXN_EXCHANGE && !tx.stage) ||
		    tx.state >= MIT_TXN__COUNT || tx.ndirs > MIT_TXN_MAX_DIRS)
			abort();
		mit_txn_free(&tx);
		return 0;
	}
	if (data[0] & 1) {
		mit_snap_info_t *v;
		size_t k;
		int rc = mit_snap_index_parse(t, n, &v, &k, &line, &why);
		if (rc) {
			if (rc != ERR_CORRUPT || !why || !why[0] || line < 0 ||
			    line > lines(t, n) || v)
				abort();
			return 0;
		}
		for (size_t i = 0; i < k; i++) {
			if (strlen(v[i].id) != MIT_SNAP_ID_LEN ||
			    v[i].nfiles > MIT_SNAP_MAX_FILES)
				abort();
			for (size_t j = 0; j < i; j++)
				if (!strcmp(v[i].id, v[j].id))
					abort();
		}
		free(v);
		return 0;
	}
	mit_snap_file_t *f;
	size_t k;
	int rc = mit_snap_manifest_parse(t, n, &f, &k, &line, &why);
	if (rc) {
		if (rc != ERR_CORRUPT || !why || !why[0] || line < 0 ||
		    line > lines(t, n) || f)
			abort();
		return 0;
	}
	for (size_t i = 0; i < k; i++) {
		if (!mit_snap_path_ok(f[i].rel, strlen(f[i].rel)) ||
		    f[i].mode > 0777 || f[i].size > MIT_SNAP_MAX_FILE ||
		    strlen(f[i].sha) != MIT_SNAP_ID_LEN)
			abort();
		if (i && strcmp(f[i - 1].rel, f[i].rel) >= 0)
			abort();
	}
	mit_snap_files_free(f, k);
	return 0;
}
