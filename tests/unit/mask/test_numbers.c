/*
 * test_numbers.c: issue 24 point 1, numbers and names. Card numbers as
 * JSON numbers of any form (integer, "N.0", exponent), phone and account
 * numbers as JSON numbers under keys that say so, card numbers with dots,
 * header names, cookie names and nameless cookies. Each sensitive case
 * asserts that the value (its digits, in any spelling the input used)
 * is not in the output; the look-alike sets (order ids, timestamps,
 * prices, counts under phone-ish keys, dotted versions and decimals)
 * assert that at most 1 % is altered.
 */
#include "mask/mask_int.h"
#include "unit/mask/mask_test.h"

#define HDR_JSON "Content-Type: application/json"

/* A Luhn-valid card number of n digits starting with prefix, the rest
 * from seed. */
static void make_card(char *d, size_t n, const char *prefix, unsigned seed)
{
	size_t k = strlen(prefix);
	memcpy(d, prefix, k);
	for (size_t i = k; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		d[i] = (char)('0' + (seed >> 16) % 10);
	}
	d[n] = '\0';
	for (char v = '0'; v <= '9'; v++) {
		d[n - 1] = v;
		if (mask__luhn_ok(d, n))
			break;
	}
}

static const char *json_out(tmask_t *t, const char *body)
{
	const char *hs[] = {HDR_JSON, NULL};
	int rc = tm_req(t, "POST", "/", hs, body);
	cr_assert_eq(rc, 0, "%s", mask_ctx_error(t->c));
	return tm_body(t);
}

/* The digits of s, in order, as one string. */
static void digits_of(const char *s, char *out)
{
	for (; *s; s++)
		if (*s >= '0' && *s <= '9')
			*out++ = *s;
	*out = '\0';
}

/* ----------------------------------------------------------- cards */

Test(numbers, card_in_every_json_number_form)
{
	tmask_t *t = tm_new("");
	const char *forms[] = {
	    "4111111111111111",	   "4111111111111111.0",
	    "4111111111111111.00", "4.111111111111111e15",
	    "4.111111111111111E+15", "41111111111111110e-1",
	    "0.4111111111111111e16", "4111111111111111e0",
	};
	const char *want = NULL;
	for (size_t i = 0; i < sizeof(forms) / sizeof(*forms); i++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"n\": %s}", forms[i]);
		const char *o = json_out(t, body);
		cr_expect(strstr(o, "4111111111111111") == NULL &&
			      strstr(o, forms[i]) == NULL,
			  "%s -> %s", forms[i], o);
		cr_expect_eq(mask_ctx_report(t->c)->counts[CONFIG_MASK_DET_card],
			     1, "%s not counted as a card", forms[i]);
		/* The same card in any form: the same pseudonym digits. */
		char d[64];
		digits_of(o, d);
		if (strchr(forms[i], 'e') || strchr(forms[i], 'E'))
			d[16] = '\0'; /* the exponent's digits */
		else
			d[16] = '\0'; /* the kept zero fraction */
		if (!want)
			want = strdup(d);
		cr_expect_str_eq(d, want, "%s -> %s", forms[i], o);
	}
	/* The exponent form stays an exponent form, the string a string. */
	cr_expect(strchr(json_out(t, "[4.111111111111111e15]"), 'e') != NULL);
	free((void *)want);
	tm_free(t);
}

Test(numbers, generated_cards_as_numbers)
{
	tmask_t *t = tm_new("");
	const char *pfx[] = {"4", "51", "55", "22", "34", "37", "6011"};
	int leaks = 0, total = 0;
	for (unsigned s = 0; s < 300; s++) {
		char d[20];
		size_t n = (s % 7 == 4 || s % 7 == 5) ? 15 : 16;
		make_card(d, n, pfx[s % 7], s);
		char body[256];
		/* float, exponent, integer, under an ordinary key */
		switch (s % 3) {
		case 0:
			snprintf(body, sizeof(body), "{\"v\": %s.0}", d);
			break;
		case 1:
			snprintf(body, sizeof(body), "{\"v\": %c.%se%zu}",
				 d[0], d + 1, n - 1);
			break;
		default:
			snprintf(body, sizeof(body), "{\"v\": [1, %s]}", d);
		}
		const char *o = json_out(t, body);
		char od[128];
		digits_of(o, od);
		total++;
		if (strstr(od, d))
			leaks++, cr_log_error("leak: %s -> %s", body, o);
	}
	cr_expect_eq(leaks, 0, "%d of %d cards leaked", leaks, total);
	tm_free(t);
}

Test(numbers, card_with_dots)
{
	tmask_t *t = tm_new("");
	const char *o = tm_text(t, "card 4111.1111.1111.1111 on file");
	cr_expect(strstr(o, "4111.1111.1111.1111") == NULL, "%s", o);
	/* The pseudonym keeps the layout */
	cr_expect(o[9] == '.' && o[14] == '.' && o[19] == '.', "%s", o);
	const char *j = json_out(t, "{\"c\": \"4111.1111.1111.1111\"}");
	cr_expect(strstr(j, "4111.1111.1111.1111") == NULL, "%s", j);
	/* Amex-length in fours and three */
	char d[20];
	make_card(d, 15, "37", 7);
	char txt[64];
	snprintf(txt, sizeof(txt), "x %.4s.%.4s.%.4s.%.3s y", d, d + 4, d + 8,
		 d + 12);
	char in[64];
	snprintf(in, sizeof(in), "%s", txt + 2);
	in[18] = '\0';
	o = tm_text(t, txt);
	cr_expect(strstr(o, in) == NULL, "%s -> %s", txt, o);
	tm_free(t);
}

/* ----------------------------------------------------------- phones */

Test(numbers, phone_and_account_numbers_by_key)
{
	tmask_t *t = tm_new("");
	struct {
		const char *body, *secret;
		int det;
	} cases[] = {
	    {"{\"phone\": 5552345678}", "5552345678", CONFIG_MASK_DET_phone},
	    {"{\"mobile_number\": 447700900123}", "447700900123",
	     CONFIG_MASK_DET_phone},
	    {"{\"user\": {\"phoneNumber\": 5552345678.0}}", "5552345678",
	     CONFIG_MASK_DET_phone},
	    {"{\"phones\": [5552345678, 5559876543]}", "5559876543",
	     CONFIG_MASK_DET_phone},
	    {"{\"tel\": 2025550123}", "2025550123", CONFIG_MASK_DET_phone},
	    {"{\"msisdn\": 4.47700900123e11}", "447700900123",
	     CONFIG_MASK_DET_phone},
	    {"{\"fax\": 5552345678}", "5552345678", CONFIG_MASK_DET_phone},
	    {"{\"account_number\": 12345678}", "12345678",
	     CONFIG_MASK_DET_iban},
	    {"{\"bankAccount\": 9876543210}", "9876543210",
	     CONFIG_MASK_DET_iban},
	    {"{\"acct_no\": 123456789012}", "123456789012",
	     CONFIG_MASK_DET_iban},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *o = json_out(t, cases[i].body);
		char od[128];
		digits_of(o, od);
		cr_expect(strstr(od, cases[i].secret) == NULL, "%s -> %s",
			  cases[i].body, o);
		cr_expect_geq(
		    mask_ctx_report(t->c)->counts[cases[i].det], 1,
		    "%s: not counted by its detector", cases[i].body);
	}
	/* A phone pseudonym is a number of as many digits */
	const char *o = json_out(t, "{\"phone\": 5552345678}");
	char od[64];
	digits_of(o, od);
	cr_expect_eq(strlen(od), 10, "%s", o);
	tm_free(t);
}

Test(numbers, detectors_switched_off_leave_numbers)
{
	tmask_t *t = tm_new("  disable: [phone, iban, card]\n");
	const char *b = "{\"phone\": 5552345678, \"account_number\": 12345678,"
			" \"c\": 4111111111111111.0}";
	cr_expect_str_eq(json_out(t, b), b);
	tm_free(t);
}

/* ----------------------------------------------------------- look-alikes */

Test(numbers, lookalikes_untouched)
{
	tmask_t *t = tm_new("");
	buf_t b = BUF_INIT;
	int altered = 0, total = 0;
	for (unsigned i = 0; i < 600; i++) {
		buf_reset(&b);
		unsigned long long ms = 1700000000000ULL + i * 7919ULL;
		switch (i % 12) {
		case 0: /* sequential order ids, 13-19 digits */
			buf_printf(&b, "{\"order_id\": %llu}",
				   1000000000000ULL + i * 104729ULL);
			break;
		case 1:
			buf_printf(&b, "{\"id\": %llu}",
				   9000000000000000000ULL + i * 977ULL);
			break;
		case 2: /* timestamps: ms, s, us, ns, float seconds */
			buf_printf(&b, "{\"created_at\": %llu}", ms);
			break;
		case 3:
			buf_printf(&b, "{\"ts\": %llu.%03u, \"t\": %llu}",
				   ms / 1000, i % 1000, ms * 1000);
			break;
		case 4:
			buf_printf(&b, "{\"t_ns\": %llu}", ms * 1000000ULL);
			break;
		case 5: /* prices and amounts */
			buf_printf(&b, "{\"price\": %u.%02u, \"total\": %ue3}",
				   i * 37 % 10000, i % 100, i);
			break;
		case 6:
			buf_printf(&b, "{\"amount\": %.6e}",
				   (double)(i * 123457ULL));
			break;
		case 7: /* about a phone, not one */
			buf_printf(&b,
				   "{\"phone_verified_at\": %llu, "
				   "\"phone_count\": %u, \"phone_id\": %u}",
				   ms / 1000, i, 1000000 + i);
			break;
		case 8:
			buf_printf(&b,
				   "{\"telemetry_bytes\": %u, "
				   "\"mobile_app_version\": %u, "
				   "\"cellular_rx\": %u}",
				   10000000 + i * 31, 2024010 + i,
				   20000000 + i);
			break;
		case 9: /* account things that are not its number */
			buf_printf(&b,
				   "{\"account_id\": %u, \"account_type\": %u,"
				   " \"accounts\": %u}",
				   10000000 + i, i % 4, i);
			break;
		case 10: /* dotted versions and decimals in text */
			buf_printf(&b, "{\"v\": \"%u.%u.%u.%u\", \"x\": "
				       "\"%u.%04u\"}",
				   1000 + i, 2000 + i % 1000, 3000 + i % 77,
				   i % 10000, 4111 + i, i % 10000);
			break;
		default: /* big floats */
			buf_printf(&b, "{\"score\": %u.%u, \"big\": %llu.5}",
				   i, i * 7, 4000000000000000ULL + i);
		}
		const char *o = json_out(t, b.data);
		total++;
		if (strcmp(o, b.data) != 0) {
			altered++;
			cr_log_info("altered: %s -> %s", b.data, o);
		}
	}
	cr_expect_leq(altered * 100, total, "%d of %d look-alikes altered",
		      altered, total);
	buf_free(&b);
	tm_free(t);
}

/* ----------------------------------------------------------- names */

static const char *head_out(tmask_t *t, const char *const *hs)
{
	int rc = tm_req(t, "GET", "/", hs, NULL);
	cr_assert_eq(rc, 0, "%s", mask_ctx_error(t->c));
	return t->out.data;
}

Test(names, card_in_a_header_name)
{
	tmask_t *t = tm_new("");
	mask_ctx_detail(t->c, true);
	const char *hs[] = {"X-Card-4111111111111111: 1", "X-Plain: ok",
			    NULL};
	const char *o = head_out(t, hs);
	cr_expect(strstr(o, "4111111111111111") == NULL, "%s", o);
	cr_expect(strstr(o, "X-Card-") != NULL, "%s", o);
	cr_expect(strstr(o, "X-Plain: ok\r\n") != NULL, "%s", o);
	buf_t rep = BUF_INIT;
	mask_report_format(t->m, mask_ctx_report(t->c), &rep);
	cr_expect(strstr(rep.data, "4111111111111111") == NULL, "%s",
		  rep.data);
	cr_expect(strstr(rep.data, "card") != NULL, "%s", rep.data);
	buf_free(&rep);
	/* A value hit is reported under the masked name */
	const char *hs2[] = {"X-Card-4111111111111111: ann@example.org", NULL};
	o = head_out(t, hs2);
	cr_expect(strstr(o, "4111111111111111") == NULL, "%s", o);
	cr_expect(strstr(o, "ann@example.org") == NULL, "%s", o);
	buf_reset(&rep);
	mask_report_format(t->m, mask_ctx_report(t->c), &rep);
	cr_expect(strstr(rep.data, "4111111111111111") == NULL, "%s",
		  rep.data);
	buf_free(&rep);
	tm_free(t);
}

Test(names, redacted_name_drops_the_header)
{
	/* "[REDACTED]" is not a token: the header goes */
	tmask_t *t = tm_new("  actions: {card: redact}\n");
	const char *hs[] = {"X-Card-4111111111111111: 1", NULL};
	const char *o = head_out(t, hs);
	cr_expect(strstr(o, "X-Card") == NULL, "%s", o);
	cr_expect_eq(mask_ctx_report(t->c)->counts[CONFIG_MASK_DET_card], 1);
	tm_free(t);
}

Test(names, cookie_names_and_nameless_cookies)
{
	tmask_t *t = tm_new("");
	const char *jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ."
			  "c2lnbmF0dXJlc2lnbmF0dXJl";
	char c1[256], c2[256], c3[256];
	snprintf(c1, sizeof(c1), "Cookie: %s", jwt);
	snprintf(c2, sizeof(c2), "Cookie: a=1; %s; b=2", jwt);
	snprintf(c3, sizeof(c3), "Set-Cookie: %s; Path=/; HttpOnly", jwt);
	const char *cases[] = {c1, c2, c3,
			       "Cookie: seen-4111111111111111=1; sid=abc",
			       NULL};
	for (size_t i = 0; cases[i]; i++) {
		const char *hs[] = {cases[i], NULL};
		const char *o = head_out(t, hs);
		cr_expect(strstr(o, jwt) == NULL, "%s -> %s", cases[i], o);
		cr_expect(strstr(o, "eyJzdWIiOiJhbm4ifQ") == NULL, "%s -> %s",
			  cases[i], o);
		cr_expect(strstr(o, "4111111111111111") == NULL, "%s -> %s",
			  cases[i], o);
	}
	/* Attributes of Set-Cookie stay */
	const char *hs[] = {c3, NULL};
	cr_expect(strstr(head_out(t, hs), "; Path=/; HttpOnly") != NULL);
	/* Ordinary names stay, values go */
	const char *hs2[] = {"Cookie: theme=dark; sid=abcdef", NULL};
	const char *o = head_out(t, hs2);
	cr_expect(strstr(o, "theme=") && strstr(o, "; sid=") &&
		      !strstr(o, "abcdef") && !strstr(o, "dark"),
		  "%s", o);
	tm_free(t);
}

Test(names, ordinary_header_names_untouched)
{
	tmask_t *t = tm_new("");
	const char *hs[] = {"X-Request-Id: 1",	"X-B3-TraceId: 2",
			    "Sec-CH-UA-Platform: 3", "X-Api-Version-2: 4",
			    "X-Forwarded-Proto: https", NULL};
	const char *o = head_out(t, hs);
	for (size_t i = 0; hs[i]; i++) {
		char line[128];
		snprintf(line, sizeof(line), "%s\r\n", hs[i]);
		cr_expect(strstr(o, line) != NULL, "%s not in %s", hs[i], o);
	}
	tm_free(t);
}
