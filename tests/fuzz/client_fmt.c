/*
 * client_fmt.c: fuzz target for what the client commands make of a
 * daemon's replies (client_fmt.c): any JSON as a status, a list of
 * findings, actions, events or timeline notes goes through the row choice
 * and every renderer; the input as text goes through the --since,
 * --limit and event time parsers.
 * Invariants: never crashes; the rendered text is NUL-free and ends in a
 * newline; chosen rows are at most the limit and are rows of the input;
 * a parsed --since is a window longer than 0, a --limit within 1..1000.
 */
#include "cmd/client_cmd.h"

#include "base/clock.h"
#include "base/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NOW (1769860800LL * NS_PER_S) /* a fixed "now" */

static void check_text(const buf_t *b)
{
	if (!b->len)
		return;
	if (memchr(b->data, '\0', b->len) || b->data[b->len - 1] != '\n')
		abort();
}

static void render_all(json_t *j)
{
	buf_t b = BUF_INIT;
	json_t *rows = cmd_list_select(j, "time", 3, NULL, NULL);
	if (json_array_size(rows) > 3)
		abort();
	for (size_t i = 0; i < json_array_size(rows); i++) {
		json_t *r = json_array_get(rows, i);
		bool found = false;
		for (size_t k = 0; k < json_array_size(j); k++)
			found |= json_array_get(j, k) == r;
		if (!found)
			abort();
	}
	json_decref(rows);
	cmd_render_status(j, cmd_last_action(j), "u.yaml", &b);
	check_text(&b);
	buf_reset(&b);
	void (*const lists[])(json_t *, const char *, buf_t *) = {
		cmd_render_findings, cmd_render_actions, cmd_render_events};
	for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++) {
		lists[i](j, "in the last 1h", &b);
		check_text(&b);
		buf_reset(&b);
	}
	cmd_render_event(j, &b);
	check_text(&b);
	buf_reset(&b);
	cmd_render_notes(j, &b);
	check_text(&b);
	json_t *open = cmd_findings_open(j, j);
	json_decref(open);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &e);
	if (j) {
		render_all(j);
		json_decref(j);
	}
	char *s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t w, ns;
	bool is_time;
	size_t n;
	const char *why = NULL;
	if (cmd_since_parse(s, FUZZ_NOW, &w, &is_time, &why) == 0 && w <= 0)
		abort();
	if (cmd_limit_parse(s, &n, &why) == 0 &&
	    (n < 1 || n > CMD_LIST_LIMIT_MAX))
		abort();
	if (cmd_time_parse(s, FUZZ_NOW, &ns, &why) != 0 && !why)
		abort();
	free(s);
	return 0;
}
