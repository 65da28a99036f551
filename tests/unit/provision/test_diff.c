/*
 * test_diff.c: the line diff: exact unified output on known inputs, the
 * line that names a finding, the edge cases (empty files, no final
 * newline, identical files, bounds), and a property check on random
 * inputs: the edit script turns a into b and is as short as an LCS says.
 */
#include "base/err.h"
#include "provision/drift.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char *udiff(const char *a, const char *b, int *line, int *rc)
{
	buf_t out = BUF_INIT;
	*rc = prov_diff_unified(a, strlen(a), b, strlen(b), "a/f", "b/f", &out,
				line);
	return buf_steal(&out);
}

Test(diff, identical_is_empty)
{
	int line, rc;
	char *d = udiff("x\ny\n", "x\ny\n", &line, &rc);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(d, "");
	cr_assert_eq(line, 0);
	free(d);
}

Test(diff, one_changed_line_with_context)
{
	int line, rc;
	char *d = udiff("a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nd\nE\nf\ng\nh\n",
			&line, &rc);
	cr_assert_eq(rc, 1);
	cr_assert_eq(line, 5);
	cr_assert_str_eq(d,
			 "--- a/f\n+++ b/f\n"
			 "@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n");
	free(d);
}

Test(diff, separate_hunks_and_merged_hunks)
{
	const char *a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n";
	const char *b = "X\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\nY\n";
	int line, rc;
	char *d = udiff(a, b, &line, &rc);
	cr_assert_eq(line, 1);
	cr_assert_str_eq(d, "--- a/f\n+++ b/f\n"
			    "@@ -1,4 +1,4 @@\n-1\n+X\n 2\n 3\n 4\n"
			    "@@ -12,4 +12,4 @@\n 12\n 13\n 14\n-15\n+Y\n");
	free(d);
	/* changes 6 lines apart share one hunk */
	d = udiff("1\n2\n3\n4\n5\n6\n7\n8\n", "X\n2\n3\n4\n5\n6\n7\nY\n", &line,
		  &rc);
	cr_assert_str_eq(d, "--- a/f\n+++ b/f\n"
			    "@@ -1,8 +1,8 @@\n-1\n+X\n 2\n 3\n 4\n 5\n 6\n 7\n"
			    "-8\n+Y\n");
	free(d);
}

Test(diff, insertions_deletions_and_empty_files)
{
	int line, rc;
	char *d = udiff("", "new\n", &line, &rc);
	cr_assert_str_eq(d, "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+new\n");
	cr_assert_eq(line, 1);
	free(d);
	d = udiff("old\n", "", &line, &rc);
	cr_assert_str_eq(d, "--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-old\n");
	free(d);
	d = udiff("a\nc\n", "a\nb\nc\n", &line, &rc);
	cr_assert_str_eq(d, "--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n a\n+b\n c\n");
	cr_assert_eq(line, 2); /* production's line 2 is where it differs */
	free(d);
}

Test(diff, missing_final_newline)
{
	int line, rc;
	char *d = udiff("a\nb", "a\nb\n", &line, &rc);
	cr_assert_eq(rc, 1);
	cr_assert_str_eq(d, "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n"
			    "\\ No newline at end of file\n+b\n");
	free(d);
}

Test(diff, too_different_is_a_summary)
{
	buf_t a = BUF_INIT, b = BUF_INIT, out = BUF_INIT;
	for (int i = 0; i < PROV_DIFF_MAX_EDITS; i++) {
		buf_printf(&a, "a%d\n", i);
		buf_printf(&b, "b%d\n", i);
	}
	int line;
	int rc = prov_diff_unified(a.data, a.len, b.data, b.len, "x", "y", &out,
				   &line);
	cr_assert_eq(rc, ERR_TOOBIG);
	cr_assert(strstr(out.data, "too different"));
	buf_free(&a);
	buf_free(&b);
	buf_free(&out);
}

/* Applies an edit script to a's lines and compares with b. */
static void check_script(const char *a, const char *b)
{
	prov_edit_t *e;
	size_t n;
	cr_assert_eq(prov_diff_script(a, strlen(a), b, strlen(b), &e, &n), 0);
	/* lines of a and b, by index */
	const char *al[64], *bl[64];
	size_t na = 0, nb = 0;
	for (const char *p = a; *p; p = strchr(p, '\n') + 1)
		al[na++] = p;
	for (const char *p = b; *p; p = strchr(p, '\n') + 1)
		bl[nb++] = p;
	size_t ia = 0, ib = 0, edits = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].op == '=') {
			cr_assert_eq(e[i].a, ia);
			cr_assert_eq(e[i].b, ib);
			cr_assert_eq(strcspn(al[ia], "\n"),
				     strcspn(bl[ib], "\n"));
			cr_assert(
			    !strncmp(al[ia], bl[ib], strcspn(al[ia], "\n")));
			ia++;
			ib++;
		} else if (e[i].op == '-') {
			cr_assert_eq(e[i].a, ia);
			ia++;
			edits++;
		} else {
			cr_assert_eq(e[i].b, ib);
			ib++;
			edits++;
		}
	}
	cr_assert_eq(ia, na);
	cr_assert_eq(ib, nb);
	/* minimal: edits = na + nb - 2 * LCS */
	size_t lcs[65][65] = {{0}};
	for (size_t i = na; i-- > 0;)
		for (size_t j = nb; j-- > 0;) {
			size_t li = strcspn(al[i], "\n"),
			       lj = strcspn(bl[j], "\n");
			if (li == lj && !strncmp(al[i], bl[j], li))
				lcs[i][j] = lcs[i + 1][j + 1] + 1;
			else
				lcs[i][j] = lcs[i + 1][j] > lcs[i][j + 1]
						? lcs[i + 1][j]
						: lcs[i][j + 1];
		}
	cr_assert_eq(edits, na + nb - 2 * lcs[0][0], "a=%s b=%s", a, b);
	free(e);
}

Test(diff, random_scripts_are_correct_and_minimal)
{
	unsigned seed = 12345;
	for (int round = 0; round < 500; round++) {
		char a[200] = "", b[200] = "";
		for (int k = 0; k < 2; k++) {
			char *t = k ? b : a;
			seed = seed * 1103515245u + 12345u;
			int n = (int)(seed >> 16) % 20;
			for (int i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				char line[4] = {(char)('a' + (seed >> 16) % 4),
						'\n', 0};
				strcat(t, line);
			}
		}
		check_script(a, b);
	}
}
