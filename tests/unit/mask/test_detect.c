/*
 * test_detect.c: the built-in detectors one by one: what each takes,
 * what it leaves (boundaries, validation), and the validators behind
 * them (Luhn, issuer prefixes, IBAN mod 97); and the JSON walker's
 * word-at-a-time scan for bytes a string escapes.
 */
#include "mask/mask_int.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const bool all_on[CONFIG_MASK_DET__COUNT] = {
    true, true, true, true, true, true, true, true, true, true};

/* The first match in s, as "det:matched text", or "" for none. */
static const char *first(const char *s)
{
	static char res[256];
	size_t pos = 0;
	mdet_t h;
	res[0] = '\0';
	static const char *names[] = {"email",	"card", "ssn", "iban",
				      "phone",	"ip",	"jwt", "auth",
				      "cookie", "keys"};
	if (mask__detect_next(all_on, s, strlen(s), 0, &pos, &h))
		snprintf(res, sizeof(res), "%s:%.*s", names[h.det],
			 (int)(h.end - h.start), s + h.start);
	return res;
}

static int count(const char *s)
{
	size_t pos = 0, lo = 0;
	int k = 0;
	mdet_t h;
	while (mask__detect_next(all_on, s, strlen(s), lo, &pos, &h)) {
		k++;
		lo = h.end;
	}
	return k;
}

#define FINDS(text, want) cr_expect_str_eq(first(text), want, "in [%s]", text)
#define NOTHING(text)	  cr_expect_str_eq(first(text), "", "in [%s]", text)

Test(validators, luhn)
{
	cr_expect(mask__luhn_ok("4111111111111111", 16));
	cr_expect(mask__luhn_ok("79927398713", 11));
	cr_expect_not(mask__luhn_ok("4111111111111112", 16));
	cr_expect_not(mask__luhn_ok("", 0));
}

Test(validators, card_prefixes)
{
	cr_expect(mask__card_prefix_ok("4111111111111", 13));
	cr_expect(mask__card_prefix_ok("378282246310005", 15));
	cr_expect(mask__card_prefix_ok("2221000000000009", 16));
	cr_expect(mask__card_prefix_ok("6011111111111117", 16));
	cr_expect_not(mask__card_prefix_ok("1705312200123", 13)); /* epoch ms */
	cr_expect_not(mask__card_prefix_ok("2024011510304501", 16)); /* 20... */
	cr_expect_not(mask__card_prefix_ok("9111111111111111", 16));
	cr_expect_not(mask__card_prefix_ok("5111111111111", 13)); /* 13: Visa */
}

Test(validators, iban)
{
	cr_expect(mask__iban_ok("DE89370400440532013000", 22));
	cr_expect(mask__iban_ok("GB82WEST12345698765432", 22));
	cr_expect(mask__iban_ok("NO9386011117947", 15));
	cr_expect_not(mask__iban_ok("DE89370400440532013001", 22));
	cr_expect_not(mask__iban_ok("DE8937040044053201300", 21)); /* length */
	cr_expect_not(
	    mask__iban_ok("QQ89370400440532013000", 22)); /* country */
	cr_expect_eq(mask__iban_len("FR"), 27);
	cr_expect_eq(mask__iban_len("ZZ"), 0);
}

Test(validators, uuid_and_ipv4)
{
	cr_expect(mask__is_uuid("123e4567-e89b-12d3-a456-426614174000", 36));
	cr_expect_not(
	    mask__is_uuid("123e4567-e89b-12d3-a456-42661417400g", 36));
	cr_expect(mask__is_ipv4("10.0.0.1", 8));
	cr_expect_not(mask__is_ipv4("10.0.0.256", 10));
	cr_expect_not(mask__is_ipv4("10.00.0.1", 9));
}

Test(detect, email)
{
	FINDS("mail ann@example.org now", "email:ann@example.org");
	FINDS("<john.smith+tag@mail.example.co.uk>",
	      "email:john.smith+tag@mail.example.co.uk");
	FINDS("end ann@example.org.", "email:ann@example.org");
	FINDS("u=x&e=bob@example.net&z", "email:bob@example.net");
	FINDS("José@exämple.de", "email:José@exämple.de");
	NOTHING("user@localhost");
	NOTHING("@example.org");
	NOTHING("a@b.c");	  /* one-letter top-level domain */
	NOTHING("name@host.123"); /* numeric top-level domain */
	NOTHING("x @ example.org");
}

Test(detect, cards)
{
	FINDS("card 4111111111111111 exp", "card:4111111111111111");
	FINDS("4111 1111 1111 1111", "card:4111 1111 1111 1111");
	FINDS("4111-1111-1111-1111", "card:4111-1111-1111-1111");
	FINDS("amex 3782 822463 10005.", "card:3782 822463 10005");
	FINDS("1,4111111111111111", "card:4111111111111111");
	FINDS("4222222222222", "card:4222222222222"); /* 13: Visa */
	NOTHING("4111111111111112");		      /* Luhn */
	NOTHING("4111 1111-1111 1111");		      /* mixed separators */
	NOTHING("id4111111111111111");		      /* inside a word */
	NOTHING("1.4111111111111111");		      /* decimal part */
	NOTHING("4111111111111111.5");
	NOTHING("41111111111111111111");    /* 20 digits */
	NOTHING("1705312200123");	    /* epoch ms, Luhn-valid */
	NOTHING("41 11 11 11 11 11 11 11"); /* groups under 3 */
}

Test(detect, card_in_longer_group_run)
{
	/* The longest valid run of whole groups wins; a CVV group after a
	 * card is left when the longer run fails Luhn. */
	FINDS("4111 1111 1111 1111 123", "card:4111 1111 1111 1111");
}

Test(detect, ssn)
{
	FINDS("ssn 078-05-1120.", "ssn:078-05-1120");
	FINDS("078 05 1120", "ssn:078 05 1120");
	NOTHING("000-12-3456");
	NOTHING("666-12-3456");
	NOTHING("900-12-3456");
	NOTHING("123-00-4567");
	NOTHING("123-45-0000");
	NOTHING("078051120");	  /* bare nine digits: order numbers */
	NOTHING("078-05 1120");	  /* mixed */
	NOTHING("078-05-1120-7"); /* longer */
}

Test(detect, iban)
{
	FINDS("pay DE89370400440532013000 now", "iban:DE89370400440532013000");
	FINDS("DE89 3704 0044 0532 0130 00",
	      "iban:DE89 3704 0044 0532 0130 00");
	FINDS("GB82 WEST 1234 5698 7654 32",
	      "iban:GB82 WEST 1234 5698 7654 32");
	NOTHING("DE89370400440532013001");
	NOTHING("DE8937040044053201300");
	NOTHING("XDE89370400440532013000");
}

Test(detect, phones)
{
	FINDS("call +1 (555) 234-5678 now", "phone:+1 (555) 234-5678");
	FINDS("+44 20 7946 0958", "phone:+44 20 7946 0958");
	FINDS("+4915112345678", "phone:+4915112345678");
	FINDS("(555) 234-5678", "phone:(555) 234-5678");
	FINDS("555-234-5678", "phone:555-234-5678");
	FINDS("555.234.5678", "phone:555.234.5678");
	FINDS("1-800-555-0199", "phone:1-800-555-0199");
	FINDS("020 7946 0958", "phone:020 7946 0958");
	FINDS("07700 900123", "phone:07700 900123");
	FINDS("01 23 45 67 89", "phone:01 23 45 67 89");
	NOTHING("+05:30");	      /* a time zone */
	NOTHING("+1234567");	      /* too short */
	NOTHING("+1234567890123456"); /* too long */
	FINDS("+44 20 7946 0958 10.1.2.3", "phone:+44 20 7946 0958");
	NOTHING("155-234-5678"); /* NANP area starts 2-9 */
	NOTHING("555-134-5678"); /* NANP exchange starts 2-9 */
	NOTHING("5552345678");	 /* bare ten digits */
	NOTHING("2024-01-15");
	NOTHING("0123456789"); /* trunk 0 needs groups */
}

Test(detect, ip)
{
	FINDS("from 203.0.113.7:443", "ip:203.0.113.7");
	FINDS("for=192.168.1.20;proto=https", "ip:192.168.1.20");
	FINDS("[2001:db8::1]:8080", "ip:2001:db8::1");
	FINDS("fe80::1ff:fe23:4567:890a", "ip:fe80::1ff:fe23:4567:890a");
	FINDS("::ffff:192.0.2.128", "ip:::ffff:192.0.2.128");
	NOTHING("127.0.0.1");
	NOTHING("0.0.0.0");
	NOTHING("255.255.255.0");
	NOTHING("10.1.2.0"); /* a network */
	NOTHING("1.2.3.4.5");
	NOTHING("v1.2.3.4");
	NOTHING("Chrome/120.1.2.3"); /* a product version */
	NOTHING("10.0.19045.3803");
	NOTHING("256.1.1.1");
	NOTHING("12:30:45");
	NOTHING("::1");
	NOTHING("00:1a:2b:3c:4d:5e"); /* a MAC address */
}

Test(detect, jwt)
{
	const char *j = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0."
			"dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
	char in[256], want[256];
	snprintf(in, sizeof(in), "Bearer %s x", j);
	snprintf(want, sizeof(want), "jwt:%s", j);
	FINDS(in, want);
	/* unsigned (alg none): the trailing dot belongs to it */
	FINDS("t=eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
	      "jwt:eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.");
	NOTHING("eyJhbGciOiJIUzI1NiJ9");	  /* one segment */
	NOTHING("eyJhbGciOiJIUzI1NiJ9.eyJzdWIi"); /* two, no final dot */
	NOTHING("xeyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc");
}

Test(detect, several_in_a_row)
{
	cr_expect_eq(count("a@example.org, b@example.org; 4111111111111111 "
			   "+44 20 7946 0958 10.1.2.3"),
		     5);
	cr_expect_eq(count("nothing 12 34 here, v1.2.3, $1,299.99"), 0);
}

/* Found by fuzzing: after a match the text starts afresh, as it will
 * once the match is replaced (a second pass finds nothing new). */
Test(detect, a_match_end_is_a_boundary)
{
	cr_expect_eq(count("+44 20 7946 09+44 20 7946 0958x"), 2);
	cr_expect_eq(count("203.0.113.7::a"), 2);
}

/* Found by fuzzing: a list of numbers is a list of values, not one long
 * number (else each is found only once its right neighbour is gone). */
Test(detect, lists_of_numbers)
{
	cr_expect_eq(count("020 7946 0958 020 7946 0959 020 7946 0950"), 3);
	cr_expect_eq(count("555-234-5678 555-234-5679"), 2);
	cr_expect_eq(count("078-05-1120 078-05-1121"), 2);
	NOTHING("555-234-5678-90");
	NOTHING("020 7946 0958 12");
}

Test(detect, disabled_detectors_find_nothing)
{
	bool on[CONFIG_MASK_DET__COUNT];
	memcpy(on, all_on, sizeof(on));
	on[CONFIG_MASK_DET_email] = false;
	size_t pos = 0;
	mdet_t h;
	const char *s = "ann@example.org 4111111111111111";
	cr_assert(mask__detect_next(on, s, strlen(s), 0, &pos, &h));
	cr_expect_eq(h.det, CONFIG_MASK_DET_card);
}

/* The eight-bytes-at-a-time scan for bytes a JSON string escapes agrees
 * with a byte loop at every offset and length, for every byte value in
 * every lane (and the escaper built on it with a byte-by-byte escape). */
Test(json_scan, plain_run_scan_matches_a_byte_loop)
{
	char s[40];
	for (int b = 0; b < 256; b++) {
		for (size_t at = 0; at < 24; at++) {
			memset(s, 'a', sizeof(s));
			s[at] = (char)b;
			s[at + 9] = (char)(255 - b); /* a second byte behind */
			for (size_t off = 0; off < 8; off++) {
				for (size_t n = 0; off + n <= sizeof(s); n++) {
					size_t want = 0;
					while (want < n) {
						unsigned char ch =
						    (unsigned char)s[off + want];
						if (ch < 0x20 || ch == '"' ||
						    ch == '\\')
							break;
						want++;
					}
					cr_assert_eq(mask__json_plain(s + off, n),
						     want,
						     "byte %d at %zu, offset %zu, "
						     "length %zu",
						     b, at, off, n);
				}
			}
		}
	}
	buf_t out = BUF_INIT;
	const char in[] = "a\"b\\c\n\x01\x1f\x7f\xc3\xa9 plain text run";
	mask__json_escape(&out, in, sizeof(in) - 1);
	cr_assert_str_eq(out.data,
			 "a\\\"b\\\\c\\n\\u0001\\u001F\x7f\xc3\xa9 plain text run");
	buf_free(&out);
}
