/*
 * mask.c: masking throughput, MB/s of body per core, for 1 KiB and
 * 16 KiB JSON, form and text bodies with the default configuration.
 *
 * Bodies are realistic API traffic: mostly ordinary fields, about one
 * sensitive value (e-mail, phone, card, IP, password) per 200 bytes,
 * plus look-alikes (order numbers, timestamps, UUIDs, prices). Each
 * figure is the median of RUNS runs of at least MIN_TIME seconds of
 * mask_request() on one thread, whole request in wire format included,
 * with the value memo off (every value scanned and hashed afresh: what
 * traffic of values never seen before costs) and on (the same body
 * again: what a worker pays for values it has seen).
 *
 * Anchors measured in the same run: memcpy of the body (the floor of any
 * rewrite), and for JSON a jansson parse + dump round trip, which is what
 * a jansson-based walker would cost before doing any masking; it is why
 * the JSON walker is our own streaming scanner (also byte-preserving,
 * which jansson is not).
 *
 * A second table (issue 24) measures the paths that decode a layer
 * first, each on the 16 KiB JSON body: base64 of it in a form field, a
 * multipart part in base64 and in quoted-printable, a gzip file upload,
 * UTF-16LE, an HTML page with the addresses written "&#64;", a 2 MB JSON
 * body, and the same cut short (a capture's prefix).
 *
 *   build/bench/mask [runs]
 */
#include "mask/mask.h"
#include "base/buf.h"
#include "base/clock.h"
#include "config/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define MIN_TIME 0.25 /* seconds per run: long enough to dwarf timer noise */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ----------------------------------------------------------- bodies */

static unsigned rnd_state = 12345;
static unsigned rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 16) & 0x7fff;
}

/* With clean set, the same shapes with nothing sensitive in them: what
 * most traffic looks like. */
static void json_record(buf_t *b, int i, bool clean)
{
	static const char *cards[] = {"4111 1111 1111 1111",
				      "5555-5555-5555-4444", "378282246310005"};
	buf_printf(b,
		   "{\"id\": %d, \"order\": \"ORD-2024-%06u\", \"created\": "
		   "\"2024-03-%02uT10:%02u:00Z\", \"customer\": {\"name\": "
		   "\"Customer %u\", \"%s\": \"user%u%sexample.org\", "
		   "\"%s\": \"%s44 20 7946 %04u\"}, \"%s\": \"%s\", "
		   "\"%s\": \"203.0.113%s%u\", \"items\": [{\"sku\": "
		   "\"SKU-%05u\", \"qty\": %u, \"price\": %u.99}], "
		   "\"request_id\": \"123e4567-e89b-12d3-a456-%012u\", "
		   "\"note\": \"deliver to the back door, ring twice\"}",
		   i, rnd() % 1000000, 1 + rnd() % 28, rnd() % 60, rnd() % 1000,
		   clean ? "login" : "email", rnd() % 1000, clean ? "." : "@",
		   clean ? "ref" : "phone", clean ? "R" : "+", rnd() % 10000,
		   clean ? "kind" : "card",
		   clean ? "express" : cards[rnd() % 3], clean ? "zone" : "ip",
		   clean ? "-" : ".", 1 + rnd() % 250, rnd() % 100000,
		   1 + rnd() % 9, rnd() % 500, rnd() % 1000000);
}

static void make_json(buf_t *b, size_t size, bool clean)
{
	buf_puts(b, "{\"records\": [");
	for (int i = 0; b->len < size - 64; i++) {
		if (i)
			buf_puts(b, ", ");
		json_record(b, i, clean);
	}
	buf_puts(b, clean ? "], \"mode\": \"fast\"}"
			  : "], \"password\": \"hunter2\"}");
}

static void make_form(buf_t *b, size_t size, bool clean)
{
	for (int i = 0; b->len < size - 64; i++)
		buf_printf(
		    b,
		    "%sname%d=Customer+%u&%s%d=user%u%s&order%d=ORD-"
		    "%06u&qty%d=%u&comment%d=please+ring+twice&%s%d="
		    "%s44+20+7946+%04u",
		    i ? "&" : "", i, rnd() % 1000, clean ? "login" : "email", i,
		    rnd() % 1000, clean ? ".example.org" : "%40example.org", i,
		    rnd() % 1000000, i, rnd() % 9, i, clean ? "ref" : "phone",
		    i, clean ? "R" : "%2B", rnd() % 10000);
	buf_puts(b, clean ? "&mode=fast" : "&password=hunter2");
}

static void make_text(buf_t *b, size_t size, bool clean)
{
	for (int i = 0; b->len < size - 64; i++)
		buf_printf(b,
			   "2024-03-%02u 10:%02u:%02u INFO order ORD-%06u "
			   "placed by user%u%sexample.org from 198.51.100%s%u, "
			   "total $%u.99, request 123e4567-e89b-12d3-a456-"
			   "%012u, callback %s%04u\n",
			   1 + rnd() % 28, rnd() % 60, rnd() % 60,
			   rnd() % 1000000, rnd() % 1000, clean ? " at " : "@",
			   clean ? "-" : ".", 1 + rnd() % 250, rnd() % 500,
			   rnd() % 1000000, clean ? "queue 7" : "+1 (555) 234-",
			   rnd() % 10000);
}

/* ----------------------------------------------------------- runs */

typedef double (*runner_t)(void *arg, const buf_t *body, long *iters);

typedef struct mrun {
	mask_ctx_t *c;
	const char *ctype;
	buf_t out;
	bool truncated;
} mrun_t;

static double run_mask(void *arg, const buf_t *body, long *iters)
{
	mrun_t *r = arg;
	mask_header_t h[2] = {{"Content-Type", 12, r->ctype, strlen(r->ctype)},
			      {"Host", 4, "shop.example", 12}};
	mask_request_t req = {"POST", 4, "/api/orders", 11,
			      h,      2, body->data,	body->len};
	req.truncated = r->truncated;
	double t0 = now(), t;
	long n = 0;
	do {
		for (int k = 0; k < 16; k++, n++) {
			buf_reset(&r->out);
			if (mask_request(r->c, &req, &r->out) != 0) {
				fprintf(stderr, "mask failed: %s\n",
					mask_ctx_error(r->c));
				exit(1);
			}
		}
		t = now();
	} while (t - t0 < MIN_TIME);
	*iters = n;
	return t - t0;
}

static double run_memcpy(void *arg, const buf_t *body, long *iters)
{
	buf_t *out = arg;
	double t0 = now(), t;
	long n = 0;
	do {
		for (int k = 0; k < 64; k++, n++) {
			buf_reset(out);
			buf_append(out, body->data, body->len);
		}
		t = now();
	} while (t - t0 < MIN_TIME);
	*iters = n;
	return t - t0;
}

static double run_jansson(void *arg, const buf_t *body, long *iters)
{
	char *out = arg;
	double t0 = now(), t;
	long n = 0;
	do {
		for (int k = 0; k < 4; k++, n++) {
			json_error_t e;
			json_t *j = json_loadb(body->data, body->len, 0, &e);
			if (!j)
				exit(1);
			size_t w =
			    json_dumpb(j, out, 1 << 20,
				       JSON_COMPACT | JSON_PRESERVE_ORDER);
			json_decref(j);
			if (!w)
				exit(1);
		}
		t = now();
	} while (t - t0 < MIN_TIME);
	*iters = n;
	return t - t0;
}

/* Median MB/s (and min, max) over runs. */
static double measure(runner_t fn, void *arg, const buf_t *body, int runs,
		      double *lo, double *hi, double *us)
{
	double v[64], per[64];
	for (int i = 0; i < runs; i++) {
		long n;
		double s = fn(arg, body, &n);
		v[i] = (double)body->len * (double)n / s / 1e6;
		per[i] = s / (double)n * 1e6;
	}
	qsort(v, (size_t)runs, sizeof(double), cmpd);
	qsort(per, (size_t)runs, sizeof(double), cmpd);
	*lo = v[0];
	*hi = v[runs - 1];
	*us = per[runs / 2];
	return v[runs / 2];
}

/* ----------------------------------------------------------- layers */

static void b64(buf_t *o, const char *s, size_t n, size_t line)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
				 "stuvwxyz0123456789+/";
	for (size_t i = 0, col = 0; i < n; i += 3, col += 4) {
		if (line && col == line) {
			buf_append(o, "\r\n", 2);
			col = 0;
		}
		uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		size_t k = n - i >= 3 ? 4 : n - i + 1;
		for (size_t j = 0; j < 4; j++)
			buf_putc(o, j < k ? al[v >> (18 - 6 * j) & 63] : '=');
	}
}

static void qp(buf_t *o, const char *s, size_t n)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool lit = ch >= 33 && ch <= 126 && ch != '=';
		if (col + (lit ? 1 : 3) > 75) {
			buf_append(o, "=\r\n", 3);
			col = 0;
		}
		if (lit)
			buf_putc(o, (char)ch);
		else
			buf_printf(o, "=%02X", ch);
		col += lit ? 1 : 3;
	}
}

static void gz(buf_t *o, const char *s, size_t n)
{
	z_stream z = {0};
	deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	buf_reserve(o, deflateBound(&z, (uLong)n) + 64);
	z.next_in = (Bytef *)(uintptr_t)s;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)o->data + o->len;
	z.avail_out = (uInt)(o->cap - o->len - 1);
	deflate(&z, Z_FINISH);
	o->len = o->cap - 1 - z.avail_out;
	deflateEnd(&z);
}

/* The second table: one decoding path per row. */
static void layers(mrun_t *r, int runs)
{
	buf_t json = BUF_INIT;
	make_json(&json, 16384, false);
	struct {
		const char *name, *ctype;
		buf_t body;
		bool cut;
	} rows[8] = {{"json (as above)", "application/json", BUF_INIT, 0},
		     {"base64 in a form", "application/x-www-form-urlencoded",
		      BUF_INIT, 0},
		     {"multipart base64", "multipart/form-data; boundary=bb",
		      BUF_INIT, 0},
		     {"multipart qp", "multipart/form-data; boundary=bb",
		      BUF_INIT, 0},
		     {"gzip upload", "application/gzip", BUF_INIT, 0},
		     {"utf-16le", "application/json; charset=utf-16le",
		      BUF_INIT, 0},
		     {"html &#64;", "text/html", BUF_INIT, 0},
		     {"json 2 MB cut", "application/json", BUF_INIT, 1}};
	buf_append(&rows[0].body, json.data, json.len);
	buf_puts(&rows[1].body, "id=7&doc=");
	buf_t e = BUF_INIT;
	b64(&e, json.data, json.len, 0);
	for (size_t i = 0; i < e.len; i++) /* '+', '/', '=' as clients send */
		if (e.data[i] == '+' || e.data[i] == '/' || e.data[i] == '=')
			buf_printf(&rows[1].body, "%%%02X",
				   (unsigned char)e.data[i]);
		else
			buf_putc(&rows[1].body, e.data[i]);
	for (int k = 2; k <= 3; k++) {
		buf_printf(&rows[k].body,
			   "--bb\r\nContent-Disposition: form-data; "
			   "name=\"doc\"\r\nContent-Type: application/json"
			   "\r\nContent-Transfer-Encoding: %s\r\n\r\n",
			   k == 2 ? "base64" : "quoted-printable");
		if (k == 2)
			b64(&rows[k].body, json.data, json.len, 76);
		else
			qp(&rows[k].body, json.data, json.len);
		buf_puts(&rows[k].body, "\r\n--bb--\r\n");
	}
	gz(&rows[4].body, json.data, json.len);
	for (size_t i = 0; i < json.len; i++) {
		buf_putc(&rows[5].body, json.data[i]);
		buf_putc(&rows[5].body, 0);
	}
	for (size_t i = 0; i < json.len; i++)
		if (json.data[i] == '@')
			buf_puts(&rows[6].body, "&#64;");
		else
			buf_putc(&rows[6].body, json.data[i]);
	buf_puts(&rows[7].body, "[");
	while (rows[7].body.len < 2u * 1000 * 1000) {
		buf_t one = BUF_INIT;
		make_json(&one, 1024, false);
		if (rows[7].body.len > 1)
			buf_putc(&rows[7].body, ',');
		buf_append(&rows[7].body, one.data, one.len);
		buf_free(&one);
	}
	printf("\nencodings (issue 24), the 16 KiB JSON body inside each, "
	       "median of %d runs\n\n%-18s %9s %10s %17s %9s %8s\n",
	       runs, "path", "bytes", "MB/s", "(min..max)", "us/req",
	       "masked");
	for (int k = 0; k < 8; k++) {
		r->ctype = rows[k].ctype;
		r->truncated = rows[k].cut;
		buf_t *b = &rows[k].body;
		size_t whole = b->len;
		if (rows[k].cut)
			b->len = b->len * 2 / 3; /* cut inside an element */
		double lo, hi, us;
		double mbs = measure(run_mask, r, b, runs, &lo, &hi, &us);
		char range[40];
		snprintf(range, sizeof(range), "(%.0f..%.0f)", lo, hi);
		printf("%-18s %9zu %10.0f %17s %9.2f %8u\n", rows[k].name,
		       b->len, mbs, range, us, mask_ctx_report(r->c)->total);
		b->len = whole;
		buf_free(b);
	}
	r->truncated = false;
	printf("\nMB/s is of the body as sent (encoded); each masked "
	       "afresh (mask.memo 0).\n");
	buf_free(&e);
	buf_free(&json);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	if (runs < 1 || runs > 64)
		runs = 5;
	config_t *cfg = config_new_default("bench");
	static const uint8_t key[32] = "bench-key-0123456789abcdef-01234";
	/* m masks every body afresh (no memo); mw with the value memo, which
	 * answers a body masked before almost whole. */
	mask_t *m, *mw;
	buf_t err = BUF_INIT;
	int64_t memo = cfg->mask.memo;
	cfg->mask.memo = 0;
	int rc = mask_new_with_key(&cfg->mask, key, sizeof(key), &m, &err);
	cfg->mask.memo = memo;
	if (rc || mask_new_with_key(&cfg->mask, key, sizeof(key), &mw, &err)) {
		fprintf(stderr, "%s", err.data);
		return 1;
	}
	mrun_t r = {mask_ctx_new(m), NULL, BUF_INIT};
	mrun_t rw = {mask_ctx_new(mw), NULL, BUF_INIT};
	buf_t cp = BUF_INIT;
	char *jout = malloc(1 << 20);

	printf("masking throughput, one thread, default config, median of %d "
	       "runs (min..max)\n\n",
	       runs);
	printf("%-6s %6s  %10s %17s %9s %8s  %9s %9s %10s %10s\n", "body",
	       "bytes", "MB/s", "(min..max)", "us/req", "masked", "clean",
	       "memo", "memcpy", "jansson");
	struct {
		const char *name, *ctype;
		void (*make)(buf_t *, size_t, bool);
	} kinds[] = {{"json", "application/json", make_json},
		     {"form", "application/x-www-form-urlencoded", make_form},
		     {"text", "text/plain", make_text}};
	size_t sizes[] = {1024, 16384};
	for (size_t k = 0; k < 3; k++) {
		for (size_t s = 0; s < 2; s++) {
			buf_t body = BUF_INIT, clean = BUF_INIT;
			kinds[k].make(&body, sizes[s], false);
			kinds[k].make(&clean, sizes[s], true);
			r.ctype = rw.ctype = kinds[k].ctype;
			double lo, hi, us, clo, chi, cus, jlo, jhi, jus;
			double mbs =
			    measure(run_mask, &r, &body, runs, &lo, &hi, &us);
			unsigned hits = mask_ctx_report(r.c)->total;
			double cl = measure(run_mask, &r, &clean, runs, &clo,
					    &chi, &cus);
			if (mask_ctx_report(r.c)->total) {
				fprintf(
				    stderr, "the clean %s body has %u hits\n",
				    kinds[k].name, mask_ctx_report(r.c)->total);
				return 1;
			}
			double mw_mbs = measure(run_mask, &rw, &body, runs,
						&clo, &chi, &cus);
			double cps = measure(run_memcpy, &cp, &body, runs, &clo,
					     &chi, &cus);
			char js[32] = "-";
			if (k == 0) {
				double j = measure(run_jansson, jout, &body,
						   runs, &jlo, &jhi, &jus);
				snprintf(js, sizeof(js), "%.0f", j);
			}
			char range[40];
			snprintf(range, sizeof(range), "(%.0f..%.0f)", lo, hi);
			printf("%-6s %6zu  %10.0f %17s %9.2f %8u  %9.0f %9.0f "
			       "%10.0f %10s\n",
			       kinds[k].name, body.len, mbs, range, us, hits,
			       cl, mw_mbs, cps, js);
			buf_free(&body);
			buf_free(&clean);
		}
	}
	printf("\nmasked: values masked per request (MB/s is for these "
	       "bodies, each masked afresh: mask.memo 0).\nclean: MB/s for "
	       "the same shapes with nothing sensitive (median).\nmemo: MB/s "
	       "of the masked bodies with the value memo (mask.memo 1024):\n"
	       "  the body again, its values answered from the memo.\n"
	       "memcpy: copying the body (MB/s). "
	       "jansson: json_loadb + json_dumpb of the\nsame body, no "
	       "masking (MB/s).\n");
	layers(&r, runs);
	free(jout);
	buf_free(&cp);
	buf_free(&r.out);
	buf_free(&rw.out);
	mask_ctx_free(r.c);
	mask_ctx_free(rw.c);
	mask_free(m);
	mask_free(mw);
	config_free(cfg);
	return 0;
}
