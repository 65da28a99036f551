/*
 * nab_labels.c: fuzz target for the NAB labels parser
 * (combined_windows.json). Invariants: never crashes; fails with a
 * reason, or succeeds with paths sorted, unique, relative, ending
 * ".csv" and free of ".." components, and windows ordered and disjoint;
 * written back as JSON, the result parses again to the same labels.
 */
#include "base/buf.h"
#include "cmd/nab_io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put_json_string(buf_t *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_putc(b, (char)c);
	}
	buf_putc(b, '"');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cmd_nab_labels_t l = {0}, again = {0};
	cmd_nab_err_t err = {0};
	if (cmd_nab_labels_parse((const char *)data, size, &l, &err)) {
		if (!err.why || !err.why[0] || l.file || l.n)
			abort();
		return 0;
	}
	buf_t b = BUF_INIT;
	buf_putc(&b, '{');
	for (size_t i = 0; i < l.n; i++) {
		const cmd_nab_label_file_t *f = &l.file[i];
		size_t pl = strlen(f->path);
		if (i && strcmp(l.file[i - 1].path, f->path) >= 0)
			abort();
		if (f->path[0] == '/' || pl < 5 || strcmp(f->path + pl - 4, ".csv") ||
		    strstr(f->path, "/../") || !strncmp(f->path, "../", 3))
			abort();
		if (cmd_nab_labels_find(&l, f->path) != f)
			abort();
		buf_puts(&b, i ? ", " : "");
		put_json_string(&b, f->path);
		buf_puts(&b, ": [");
		for (size_t w = 0; w < f->nwin; w++) {
			if (f->win[w][0] > f->win[w][1] ||
			    (w && f->win[w][0] <= f->win[w - 1][1]))
				abort();
			char a[40], z[40];
			buf_printf(&b, "%s[\"%s\", \"%s\"]", w ? ", " : "",
				   cmd_nab_time_format(f->win[w][0], a, sizeof(a)),
				   cmd_nab_time_format(f->win[w][1], z, sizeof(z)));
		}
		buf_putc(&b, ']');
	}
	buf_putc(&b, '}');
	if (cmd_nab_labels_parse(b.data, b.len, &again, &err) || again.n != l.n)
		abort();
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(again.file[i].path, l.file[i].path) ||
		    again.file[i].nwin != l.file[i].nwin ||
		    memcmp(again.file[i].win, l.file[i].win,
			   l.file[i].nwin * sizeof(l.file[i].win[0])))
			abort();
	}
	buf_free(&b);
	cmd_nab_labels_free(&l);
	cmd_nab_labels_free(&again);
	return 0;
}
