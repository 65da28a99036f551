/*
 * nab_io.c: parsers for NAB's data files and label windows, and the
 * mapping of windows onto rows (see nab_io.h). Civil-date arithmetic is
 * Howard Hinnant's days_from_civil / civil_from_days ("chrono-Compatible
 * Low-Level Date Algorithms", 2013), which is exact for the proleptic
 * Gregorian calendar.
 */
#include "cmd/nab_io.h"

#include "base/err.h"
#include "base/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ timestamps */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int cmd_nab_time_parse(const char *s, size_t len, int64_t *out)
{
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30,
					   31, 31, 30, 31, 30, 31};
	if (len < 19 || len > 26 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':')
		return ERR_PARSE;
	int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	int h = digits(s + 11, 2), mi = digits(s + 14, 2);
	int se = digits(s + 17, 2);
	if (y < NAB_TIME_MIN_YEAR || y > NAB_TIME_MAX_YEAR || mo < 1 ||
	    mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    se < 0 || se > 59)
		return ERR_PARSE;
	unsigned dim = mdays[mo - 1] + (mo == 2 && is_leap(y));
	if ((unsigned)d > dim)
		return ERR_PARSE;
	int64_t us = 0;
	if (len > 19) {
		size_t nf = len - 20;
		if (s[19] != '.' || nf < 1 || nf > 6)
			return ERR_PARSE;
		int f = digits(s + 20, (int)nf);
		if (f < 0)
			return ERR_PARSE;
		us = f;
		for (size_t i = nf; i < 6; i++)
			us *= 10;
	}
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	*out = ((days * 24 + h) * 60 + mi) * 60 * INT64_C(1000000) +
	       (int64_t)se * 1000000 + us;
	return 0;
}

char *cmd_nab_time_format(int64_t t_us, char *buf, size_t size)
{
	int64_t secs = t_us >= 0 ? t_us / 1000000 : -((-t_us + 999999) / 1000000);
	int64_t us = t_us - secs * 1000000;
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t sod = secs - days * 86400;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	int k = snprintf(buf, size, "%04lld-%02u-%02u %02d:%02d:%02d",
			 (long long)y, m, d, (int)(sod / 3600),
			 (int)(sod / 60 % 60), (int)(sod % 60));
	if (us && k > 0 && (size_t)k < size)
		snprintf(buf + k, size - (size_t)k, ".%06lld", (long long)us);
	return buf;
}

/* ------------------------------------------------------------------ CSV */

/* A decimal number in plain or exponent notation, the whole of s[0..n):
 * [+-] digits [. digits] [eE [+-] digits], at least one mantissa digit. No
 * "nan", "inf", hex or spaces (strtod would take them). */
static bool number_syntax(const char *s, size_t n)
{
	size_t i = 0, md = 0;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		md++;
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			md++;
	if (!md)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t ed = 0;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			ed++;
		if (!ed)
			return false;
	}
	return i == n;
}

static int csv_fail(cmd_nab_err_t *err, const char *why, size_t line, int rc)
{
	err->why = why;
	err->line = line;
	return rc;
}

int cmd_nab_csv_parse(const char *buf, size_t len, cmd_nab_series_t *out,
		      cmd_nab_err_t *err)
{
	static const char header[] = "timestamp,value";
	size_t pos = 0, line = 0, cap = 0, n = 0;
	int64_t *t = NULL;
	double *v = NULL;
	int rc = 0;
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		pos = 3; /* a UTF-8 byte-order mark, as spreadsheets write */
	while (pos < len) {
		const char *ln = buf + pos;
		const char *nl = memchr(ln, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - ln) : len - pos;
		pos += ll + (nl != NULL);
		line++;
		if (ll && ln[ll - 1] == '\r')
			ll--;
		if (ll > NAB_CSV_MAX_LINE) {
			rc = csv_fail(err, "line too long", line, ERR_TOOBIG);
			goto fail;
		}
		if (line == 1) {
			if (ll != sizeof(header) - 1 || memcmp(ln, header, ll)) {
				rc = csv_fail(err,
					      "header is not \"timestamp,value\"",
					      line, ERR_PARSE);
				goto fail;
			}
			continue;
		}
		if (ll == 0) {
			if (pos >= len)
				break; /* the final newline */
			rc = csv_fail(err, "empty line", line, ERR_PARSE);
			goto fail;
		}
		const char *comma = memchr(ln, ',', ll);
		if (!comma) {
			rc = csv_fail(err, "missing comma", line, ERR_PARSE);
			goto fail;
		}
		size_t tl = (size_t)(comma - ln), vl = ll - tl - 1;
		if (memchr(comma + 1, ',', vl)) {
			rc = csv_fail(err, "more than two columns", line,
				      ERR_PARSE);
			goto fail;
		}
		int64_t ts;
		if (cmd_nab_time_parse(ln, tl, &ts)) {
			rc = csv_fail(err, "bad timestamp", line, ERR_PARSE);
			goto fail;
		}
		if (!number_syntax(comma + 1, vl)) {
			rc = csv_fail(err, "bad value", line, ERR_PARSE);
			goto fail;
		}
		char tmp[NAB_CSV_MAX_LINE + 1];
		memcpy(tmp, comma + 1, vl);
		tmp[vl] = 0;
		double x = strtod(tmp, NULL);
		if (!isfinite(x)) {
			rc = csv_fail(err, "value out of range", line,
				      ERR_PARSE);
			goto fail;
		}
		if (n == NAB_CSV_MAX_ROWS) {
			rc = csv_fail(err, "too many rows", line, ERR_TOOBIG);
			goto fail;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			t = xreallocarray(t, cap, sizeof(*t));
			v = xreallocarray(v, cap, sizeof(*v));
		}
		t[n] = ts;
		v[n] = x;
		n++;
	}
	if (line == 0) {
		rc = csv_fail(err, "empty input", 0, ERR_PARSE);
		goto fail;
	}
	if (n == 0) {
		rc = csv_fail(err, "no data rows", line, ERR_PARSE);
		goto fail;
	}
	out->n = n;
	out->t_us = t;
	out->v = v;
	return 0;
fail:
	free(t);
	free(v);
	return rc;
}

void cmd_nab_series_free(cmd_nab_series_t *s)
{
	free(s->t_us);
	free(s->v);
	*s = (cmd_nab_series_t){0};
}

/* --------------------------------------------------------------- labels */

static bool path_ok(const char *p)
{
	size_t n = strlen(p);
	if (n < 5 || n > NAB_LABELS_MAX_PATH || p[0] == '/' ||
	    strcmp(p + n - 4, ".csv"))
		return false;
	/* No empty, "." or ".." component: the path is joined to a
	 * directory the user named and must stay inside it. */
	const char *c = p;
	while (*c) {
		const char *e = strchr(c, '/');
		size_t cl = e ? (size_t)(e - c) : strlen(c);
		if (cl == 0 || (cl == 1 && c[0] == '.') ||
		    (cl == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!e)
			break;
		c = e + 1;
	}
	for (c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == '\\')
			return false;
	return true;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const cmd_nab_label_file_t *)a)->path,
		      ((const cmd_nab_label_file_t *)b)->path);
}

void cmd_nab_labels_free(cmd_nab_labels_t *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->file[i].path);
		free(l->file[i].win);
	}
	free(l->file);
	*l = (cmd_nab_labels_t){0};
}

static int one_time(json_t *s, int64_t *out)
{
	if (!json_is_string(s))
		return ERR_PARSE;
	return cmd_nab_time_parse(json_string_value(s), json_string_length(s),
				  out);
}

int cmd_nab_labels_parse(const char *buf, size_t len, cmd_nab_labels_t *out,
			 cmd_nab_err_t *err)
{
	json_error_t je;
	/* Duplicate keys would make "the" windows of a file ambiguous. */
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		err->why = "not valid JSON";
		err->line = je.line > 0 ? (size_t)je.line : 0;
		return ERR_PARSE;
	}
	err->line = 0;
	cmd_nab_labels_t l = {0};
	int rc = ERR_PARSE;
	if (!json_is_object(root)) {
		err->why = "top level is not an object";
		goto fail;
	}
	size_t nf = json_object_size(root);
	if (nf > NAB_LABELS_MAX_FILES) {
		err->why = "too many files";
		rc = ERR_TOOBIG;
		goto fail;
	}
	l.file = xcalloc(nf ? nf : 1, sizeof(*l.file));
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val)
	{
		if (!path_ok(key)) {
			err->why = "bad file path (want CATEGORY/NAME.csv, "
				   "no '..')";
			goto fail;
		}
		if (!json_is_array(val)) {
			err->why = "windows of a file are not a list";
			goto fail;
		}
		size_t nw = json_array_size(val);
		if (nw > NAB_LABELS_MAX_WINDOWS) {
			err->why = "too many windows in one file";
			rc = ERR_TOOBIG;
			goto fail;
		}
		cmd_nab_label_file_t *f = &l.file[l.n++];
		f->path = xstrdup(key);
		f->win = xcalloc(nw ? nw : 1, sizeof(*f->win));
		for (size_t w = 0; w < nw; w++) {
			json_t *pair = json_array_get(val, w);
			if (!json_is_array(pair) || json_array_size(pair) != 2) {
				err->why = "a window is not a [start, end] "
					   "pair";
				goto fail;
			}
			if (one_time(json_array_get(pair, 0), &f->win[w][0]) ||
			    one_time(json_array_get(pair, 1), &f->win[w][1])) {
				err->why = "bad window timestamp";
				goto fail;
			}
			if (f->win[w][0] > f->win[w][1]) {
				err->why = "window ends before it starts";
				goto fail;
			}
			if (w && f->win[w][0] <= f->win[w - 1][1]) {
				err->why = "windows out of order or "
					   "overlapping";
				goto fail;
			}
			f->nwin++;
		}
	}
	qsort(l.file, l.n, sizeof(*l.file), by_path);
	json_decref(root);
	*out = l;
	return 0;
fail:
	json_decref(root);
	cmd_nab_labels_free(&l);
	return rc;
}

const cmd_nab_label_file_t *cmd_nab_labels_find(const cmd_nab_labels_t *l,
						const char *path)
{
	cmd_nab_label_file_t key = {.path = (char *)path};
	return bsearch(&key, l->file, l->n, sizeof(*l->file), by_path);
}

/* ------------------------------------------------------------- windows */

int cmd_nab_windows_map(const cmd_nab_series_t *s,
			const cmd_nab_label_file_t *lf, an_nab_window_t *out,
			const char **why)
{
	for (size_t w = 0; w < lf->nwin; w++) {
		int64_t a = lf->win[w][0], b = lf->win[w][1];
		size_t start = SIZE_MAX, end = SIZE_MAX, ge = SIZE_MAX,
		       le = SIZE_MAX;
		for (size_t i = 0; i < s->n; i++) {
			if (s->t_us[i] == a && start == SIZE_MAX)
				start = i;
			if (s->t_us[i] == b && end == SIZE_MAX)
				end = i;
			if (s->t_us[i] >= a && ge == SIZE_MAX)
				ge = i;
			if (s->t_us[i] <= b)
				le = i;
		}
		if (start == SIZE_MAX)
			start = ge;
		if (end == SIZE_MAX)
			end = le;
		if (start == SIZE_MAX || end == SIZE_MAX || start > end) {
			*why = "a label window holds no row of the file";
			return ERR_RANGE;
		}
		if (w && start <= out[w - 1].end) {
			*why = "label windows overlap on the file's rows";
			return ERR_RANGE;
		}
		out[w] = (an_nab_window_t){start, end};
	}
	return 0;
}

/* --------------------------------------------------------------- corpus */

/* Reads a whole regular file of at most max bytes into a new buffer. */
static int read_file(const char *path, long max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	struct stat st;
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fclose(f);
		return ERR_INVAL;
	}
	if (st.st_size > max) {
		fclose(f);
		return ERR_TOOBIG;
	}
	char *b = xmalloc((size_t)st.st_size + 1);
	size_t got = fread(b, 1, (size_t)st.st_size, f);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b);
		return ERR_EOF;
	}
	b[got] = 0;
	*out = b;
	*len = got;
	return 0;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir (no dot files) that pass keep, sorted. */
static int list_dir(const char *dir, bool (*keep)(const char *dir,
						  const char *name),
		    char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !keep(dir, e->d_name))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[cnt++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), by_str);
	*out = v;
	*n = cnt;
	return 0;
}

static bool is_subdir(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	bool ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return ok;
}

static bool is_csv(const char *dir, const char *name)
{
	(void)dir;
	size_t n = strlen(name);
	return n > 4 && !strcmp(name + n - 4, ".csv");
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void cmd_nab_corpus_free(cmd_nab_corpus_t *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->f[i].path);
		cmd_nab_series_free(&c->f[i].s);
		free(c->f[i].t);
		free(c->f[i].win);
	}
	free(c->f);
	*c = (cmd_nab_corpus_t){0};
}

static int load_one(const char *dir, const char *rel,
		    const cmd_nab_labels_t *labels, cmd_nab_entry_t *e,
		    char **msg)
{
	char *path = xasprintf("%s/data/%s", dir, rel);
	char *buf;
	size_t len;
	int rc = read_file(path, NAB_FILE_MAX_BYTES, &buf, &len);
	if (rc) {
		*msg = xasprintf("%s: %s", path, err_str(rc));
		free(path);
		return rc;
	}
	cmd_nab_err_t err;
	rc = cmd_nab_csv_parse(buf, len, &e->s, &err);
	free(buf);
	if (rc) {
		*msg = xasprintf("%s:%zu: %s", path, err.line, err.why);
		free(path);
		return rc;
	}
	const cmd_nab_label_file_t *lf = cmd_nab_labels_find(labels, rel);
	if (!lf) {
		*msg = xasprintf("%s: no entry in the labels file", path);
		free(path);
		return ERR_NOTFOUND;
	}
	e->path = xstrdup(rel);
	e->win = xcalloc(lf->nwin ? lf->nwin : 1, sizeof(*e->win));
	e->nwin = lf->nwin;
	const char *why;
	rc = cmd_nab_windows_map(&e->s, lf, e->win, &why);
	if (rc) {
		*msg = xasprintf("%s: %s", path, why);
		free(path);
		return rc;
	}
	e->t = xcalloc(e->s.n, sizeof(double));
	for (size_t i = 0; i < e->s.n; i++)
		e->t[i] = (double)e->s.t_us[i] / 1e6;
	free(path);
	return 0;
}

int cmd_nab_corpus_load(const char *dir, cmd_nab_corpus_t *out, char **msg)
{
	cmd_nab_labels_t labels = {0};
	cmd_nab_corpus_t c = {0};
	char **cats = NULL;
	size_t ncat = 0;
	char *lpath = xasprintf("%s/labels/combined_windows.json", dir);
	char *buf;
	size_t len;
	int rc = read_file(lpath, NAB_LABELS_MAX_BYTES, &buf, &len);
	if (rc) {
		*msg = xasprintf("%s: %s", lpath, err_str(rc));
		free(lpath);
		return rc;
	}
	cmd_nab_err_t err;
	rc = cmd_nab_labels_parse(buf, len, &labels, &err);
	free(buf);
	if (rc) {
		*msg = xasprintf("%s:%zu: %s", lpath, err.line, err.why);
		free(lpath);
		return rc;
	}
	free(lpath);
	char *ddir = xasprintf("%s/data", dir);
	rc = list_dir(ddir, is_subdir, &cats, &ncat);
	if (rc) {
		*msg = xasprintf("%s: %s", ddir, err_str(rc));
		goto done;
	}
	size_t cap = 0;
	for (size_t k = 0; k < ncat && rc == 0; k++) {
		char *cdir = xasprintf("%s/%s", ddir, cats[k]);
		char **files = NULL;
		size_t nf = 0;
		rc = list_dir(cdir, is_csv, &files, &nf);
		if (rc)
			*msg = xasprintf("%s: %s", cdir, err_str(rc));
		free(cdir);
		for (size_t j = 0; rc == 0 && j < nf; j++) {
			if (c.n == cap) {
				cap = cap ? cap * 2 : 64;
				c.f = xreallocarray(c.f, cap, sizeof(*c.f));
			}
			char *rel = xasprintf("%s/%s", cats[k], files[j]);
			c.f[c.n] = (cmd_nab_entry_t){0};
			rc = load_one(dir, rel, &labels, &c.f[c.n], msg);
			if (rc == 0) {
				c.rows += c.f[c.n].s.n;
				c.windows += c.f[c.n].nwin;
			}
			c.n++; /* a half-loaded entry is freed with the rest */
			free(rel);
		}
		if (files)
			free_names(files, nf);
	}
	if (rc == 0 && c.n != labels.n) {
		/* Every entry matched a distinct file: a count mismatch means
		 * labels for files that are not there. */
		for (size_t i = 0; i < labels.n; i++) {
			bool found = false;
			for (size_t j = 0; j < c.n && !found; j++)
				found = !strcmp(c.f[j].path, labels.file[i].path);
			if (!found) {
				*msg = xasprintf("%s/data/%s: labelled but "
						 "missing",
						 dir, labels.file[i].path);
				break;
			}
		}
		rc = ERR_NOTFOUND;
	}
	if (rc == 0 && c.n == 0) {
		*msg = xasprintf("%s: no data files", ddir);
		rc = ERR_NOTFOUND;
	}
done:
	free(ddir);
	free_names(cats, ncat);
	cmd_nab_labels_free(&labels);
	if (rc) {
		cmd_nab_corpus_free(&c);
		return rc;
	}
	*out = c;
	return 0;
}
