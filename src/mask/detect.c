/*
 * detect.c: the built-in detectors, as one left-to-right scan over a
 * value. The scan looks at each byte once through a class table and only
 * stops where a sensitive value could start: an '@' (e-mail, found from
 * its middle and extended both ways), a digit or letter at a word boundary
 * (card, SSN, IPv4/IPv6, national phone forms, IBAN, JWT), a '+' (E.164)
 * or a '(' (NANP "(555) 123-4567"). Words that match nothing are skipped
 * whole, so a digit run inside a word ("id4111111111111111") or after a
 * decimal point is never a card.
 *
 * Each detector validates, not just matches: Luhn and issuer prefixes for
 * cards, mod-97 and the country's length for IBANs, inet_pton for IPv6,
 * SSA rules for SSNs, the NANP digit rules for North American numbers.
 * That is what keeps look-alikes (order numbers, timestamps, versions,
 * prices) intact; what each one accepts is listed in docs/masking.md.
 *
 * Everything here is pure: bytes in, spans out, no allocation.
 */
#include "mask/mask_int.h"

#include <arpa/inet.h>
#include <string.h>

/* ----------------------------------------------------------- classes */

enum {
	C_WORD = 0x01, /* [A-Za-z0-9_] and bytes >= 0x80 (UTF-8) */
	C_DIGIT = 0x02,
	C_ALPHA = 0x04, /* ASCII letters and bytes >= 0x80 */
	C_HEX = 0x08,
	C_LOCAL = 0x10,	 /* e-mail local part: [A-Za-z0-9._+-], >= 0x80 */
	C_DOMAIN = 0x20, /* domain label: [A-Za-z0-9-], >= 0x80 */
	C_B64 = 0x40,	 /* base64url: [A-Za-z0-9_-] */
	C_TRIG = 0x80,	 /* the scan stops here */
};

#define W_ C_WORD
#define L_ (C_WORD | C_ALPHA | C_LOCAL | C_DOMAIN | C_B64 | C_TRIG)
#define D_ (C_WORD | C_DIGIT | C_HEX | C_LOCAL | C_DOMAIN | C_B64 | C_TRIG)
static const uint8_t cls[256] = {
    ['0' ... '9'] = D_,
    ['A' ... 'F'] = L_ | C_HEX,
    ['G' ... 'Z'] = L_,
    ['a' ... 'f'] = L_ | C_HEX,
    ['g' ... 'z'] = L_,
    ['_'] = W_ | C_B64,
    ['-'] = C_LOCAL | C_DOMAIN | C_B64,
    ['.'] = C_LOCAL,
    ['+'] = C_LOCAL | C_TRIG,
    ['@'] = C_TRIG,
    ['('] = C_TRIG,
    [':'] = C_TRIG,
    [0x80 ... 0xff] = C_WORD | C_ALPHA | C_LOCAL | C_DOMAIN | C_TRIG,
};
#undef W_
#undef L_
#undef D_

#define CL(ch)	     (cls[(unsigned char)(ch)])
#define IS_DIGIT(ch) ((unsigned)(unsigned char)(ch) - '0' < 10u)
#define IS_UPPER(ch) ((unsigned)(unsigned char)(ch) - 'A' < 26u)

static size_t word_end(const char *d, size_t n, size_t i)
{
	while (i < n && (CL(d[i]) & C_WORD))
		i++;
	return i;
}

/* The byte at p ends a match: end of text, or not part of a word. */
static bool ends_word(const char *d, size_t n, size_t p)
{
	return p >= n || !(CL(d[p]) & C_WORD);
}

/* The number goes on at p: a decimal part or a longer dotted run ('.'
 * and a digit). A comma is a list or CSV separator: "1,4111..." holds a
 * card (thousands groups are too short to be anything here). */
static bool number_goes_on(const char *d, size_t n, size_t p)
{
	return p + 1 < n && d[p] == '.' && IS_DIGIT(d[p + 1]);
}

/* ----------------------------------------------------------- validators */

bool mask__luhn_ok(const char *digits, size_t n)
{
	unsigned sum = 0;
	for (size_t k = 0; k < n; k++) {
		unsigned v = (unsigned)(digits[n - 1 - k] - '0');
		if (k & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return n > 0 && sum % 10 == 0;
}

/* Issuer identification numbers that exist (ISO/IEC 7812 major industry
 * identifiers 2-6 plus RuPay's 81/82 and UATP's 1 at 15 digits). Rejects
 * what merely happens to pass Luhn: epoch milliseconds (17...),
 * timestamps (20...), most order numbers. */
bool mask__card_prefix_ok(const char *d, size_t n)
{
	if (n < 13 || n > 19)
		return false;
	int a = d[0] - '0', b = d[1] - '0';
	switch (a) {
	case 1:
		return n == 15; /* UATP */
	case 2:
		return b >= 2 && b <= 7 &&
		       n >= 16; /* Mir 2200-4, MC 2221-2720 */
	case 3:
		return b == 0 ||
		       b >= 4; /* Diners 30/36/38/39, Amex 34/37, JCB 35 */
	case 4:
		return true; /* Visa, the only 13-digit cards */
	case 5:
	case 6:
		return n >=
		       14; /* MC 51-55, Maestro 50/56-69, Discover, UnionPay */
	case 8:
		return (b == 1 || b == 2) && n >= 16; /* RuPay */
	default:
		return false;
	}
}

/* IBAN length per country, ISO 13616 registry (SWIFT release 95). */
static const struct {
	char cc[3];
	uint8_t len;
} iban_lens[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20},
    {"BE", 16}, {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28},
    {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
    {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
    {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30},
    {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19},
    {"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18},
    {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25},
    {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23},
    {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
    {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

int mask__iban_len(const char *cc)
{
	size_t lo = 0, hi = sizeof(iban_lens) / sizeof(iban_lens[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(cc, iban_lens[mid].cc, 2);
		if (c == 0)
			return iban_lens[mid].len;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* ISO 13616 check: move the first four characters to the end, letters to
 * 10..35, the number mod 97 must be 1. */
bool mask__iban_ok(const char *s, size_t n)
{
	if (n < 15 || n > 34 || mask__iban_len(s) != (int)n)
		return false;
	unsigned rem = 0;
	for (size_t k = 0; k < n; k++) {
		char ch = s[(k + 4) % n];
		if (IS_DIGIT(ch))
			rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
		else if (IS_UPPER(ch))
			rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
		else
			return false;
	}
	return rem == 1;
}

bool mask__is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t k = 0; k < 36; k++) {
		bool dash = k == 8 || k == 13 || k == 18 || k == 23;
		if (dash ? s[k] != '-' : !(CL(s[k]) & C_HEX))
			return false;
	}
	return true;
}

/* ----------------------------------------------------------- IP */

/* Four decimal octets without leading zeros. Not 0/8, 127/8, 255/8 or
 * x.x.x.0: unspecified, loopback, masks and network addresses name no
 * one (and versions like 120.0.0.0 end that way). */
static size_t ipv4_end(const char *d, size_t n, size_t i, unsigned *first)
{
	size_t p = i;
	for (int k = 0; k < 4; k++) {
		if (k > 0) {
			if (p >= n || d[p] != '.')
				return 0;
			p++;
		}
		size_t s = p;
		unsigned v = 0;
		while (p < n && IS_DIGIT(d[p]) && p - s < 4)
			v = v * 10 + (unsigned)(d[p++] - '0');
		size_t len = p - s;
		if (len == 0 || len > 3 || v > 255 || (len > 1 && d[s] == '0'))
			return 0;
		if (k == 0)
			*first = v;
	}
	return p;
}

bool mask__is_ipv4(const char *s, size_t n)
{
	unsigned first;
	return ipv4_end(s, n, 0, &first) == n;
}

static bool ipv4_at(const char *d, size_t n, size_t i, mdet_t *hit)
{
	unsigned first = 0;
	size_t p = ipv4_end(d, n, i, &first);
	if (!p || !ends_word(d, n, p) || number_goes_on(d, n, p))
		return false;
	if (first == 0 || first == 127 || first == 255 ||
	    (d[p - 1] == '0' && d[p - 2] == '.'))
		return false;
	/* A product version ("Chrome/120.0.0.0"), not an address: a word
	 * then '/' right before it. URLs have "//" there. */
	if (i >= 2 && d[i - 1] == '/' && (CL(d[i - 2]) & C_WORD))
		return false;
	*hit = (mdet_t){i, p, CONFIG_MASK_DET_ip, MK_IPV4};
	return true;
}

/* A run of hex digits, ':' and '.' with at least two colons that
 * inet_pton accepts. Not "::" or "::1". */
static bool ipv6_at(const char *d, size_t n, size_t i, mdet_t *hit)
{
	enum { IPV6_TEXT_MAX = 45 }; /* ffff:...:ffff:255.255.255.255 */
	if (i > 0 && d[i - 1] == ':')
		return false;
	size_t p = i;
	int colons = 0;
	while (p < n && ((CL(d[p]) & C_HEX) || d[p] == ':' || d[p] == '.')) {
		colons += d[p] == ':';
		if (++p - i > IPV6_TEXT_MAX)
			return false;
	}
	while (p > i && d[p - 1] == '.')
		p--;
	if (colons < 2 || !ends_word(d, n, p))
		return false;
	char tmp[IPV6_TEXT_MAX + 1];
	memcpy(tmp, d + i, p - i);
	tmp[p - i] = '\0';
	unsigned char a[16];
	if (inet_pton(AF_INET6, tmp, a) != 1)
		return false;
	static const unsigned char zero[15];
	if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
		return false;
	*hit = (mdet_t){i, p, CONFIG_MASK_DET_ip, MK_IPV6};
	return true;
}

/* Could an IPv6 address start at i: hex digits then ':' within five. */
static bool ipv6_start(const char *d, size_t n, size_t i)
{
	for (size_t p = i; p < n && p < i + 5; p++) {
		if (d[p] == ':')
			return true;
		if (!(CL(d[p]) & C_HEX))
			return false;
	}
	return false;
}

/* ----------------------------------------------------------- numbers */

/* 13-19 digits, as one run or as groups of at least 3 digits joined by
 * single spaces or dashes (one kind), or as groups of four joined by dots
 * ("4111.1111.1111.1111"; the last group may have 3: dots join decimals
 * and versions too, so only the printed card layout counts), Luhn-valid,
 * with an issuer prefix that exists. The longest valid run of whole
 * groups from i wins. */
static bool card_at(const char *d, size_t n, size_t i, mdet_t *hit)
{
	enum { CARD_MAX = 19 };
	char digs[CARD_MAX];
	size_t gend[CARD_MAX + 1], gdig[CARD_MAX + 1];
	size_t ng = 0, nd = 0, p = i;
	char sep = 0;
	for (;;) {
		size_t s = p;
		while (p < n && IS_DIGIT(d[p]) && p - s <= CARD_MAX)
			p++;
		size_t len = p - s;
		if (nd + len > CARD_MAX || (ng > 0 && len < 3)) {
			if (ng == 0)
				return false;
			break;
		}
		memcpy(digs + nd, d + s, len);
		nd += len;
		gend[ng] = p;
		gdig[ng] = nd;
		ng++;
		if (len < 3)
			break; /* only a single-group window could hold it */
		if (p + 1 < n && (d[p] == ' ' || d[p] == '-' || d[p] == '.') &&
		    (!sep || d[p] == sep) && IS_DIGIT(d[p + 1])) {
			sep = d[p];
			p++;
			continue;
		}
		break;
	}
	for (size_t e = ng; e-- > 0;) {
		size_t end = gend[e], k = gdig[e];
		if (k < 13 || (e > 0 && gdig[0] < 3))
			continue;
		if (e > 0 && sep == '.') {
			bool fours = e >= 3 && k - gdig[e - 1] >= 3 &&
				     k - gdig[e - 1] <= 4;
			for (size_t g = 0; g < e && fours; g++)
				fours = gdig[g] - (g ? gdig[g - 1] : 0) == 4;
			if (!fours)
				continue;
		}
		if (!ends_word(d, n, end) || number_goes_on(d, n, end))
			continue;
		if (mask__card_prefix_ok(digs, k) && mask__luhn_ok(digs, k)) {
			*hit = (mdet_t){i, end, CONFIG_MASK_DET_card, MK_CARD};
			return true;
		}
	}
	return false;
}

/* Reads exactly k digits at *p; returns their value or -1. */
static long digits_k(const char *d, size_t n, size_t *p, int k)
{
	long v = 0;
	for (int j = 0; j < k; j++) {
		if (*p >= n || !IS_DIGIT(d[*p]))
			return -1;
		v = v * 10 + (d[(*p)++] - '0');
	}
	return v;
}

static bool digit_start_at(const bool *on, const char *d, size_t n, size_t i,
			   mdet_t *hit, int depth);

/* The match ends at p: not inside a word or before a decimal part, and
 * not followed by another separator-joined digit group, unless that group
 * starts a value of its own (a list of phone numbers): such a neighbour
 * will be replaced, which would change this decision in the next round,
 * so it counts as a boundary now. The look at the neighbour is one step
 * deep (depth): its own right context does not matter. */
static bool group_end(const bool *on, const char *d, size_t n, size_t p,
		      int depth)
{
	if (!ends_word(d, n, p) || number_goes_on(d, n, p))
		return false;
	if (!(p + 1 < n && (d[p] == '-' || d[p] == ' ' || d[p] == '.') &&
	      IS_DIGIT(d[p + 1])))
		return true;
	if (depth > 0)
		return true;
	mdet_t h;
	return digit_start_at(on, d, n, p + 1, &h, depth + 1);
}

/* AAA-GG-SSSS or with spaces. SSA: area not 000, 666 or 900-999, group
 * not 00, serial not 0000. Nine bare digits are not taken (too many
 * order numbers look like that); a "ssn" key catches those. */
static bool ssn_at(const bool *on, const char *d, size_t n, size_t i,
		   mdet_t *hit, int depth)
{
	size_t p = i;
	long area = digits_k(d, n, &p, 3);
	if (area < 0 || p >= n || (d[p] != '-' && d[p] != ' '))
		return false;
	char sep = d[p++];
	long group = digits_k(d, n, &p, 2);
	if (group < 0 || p >= n || d[p] != sep)
		return false;
	p++;
	long serial = digits_k(d, n, &p, 4);
	if (serial < 0 || !group_end(on, d, n, p, depth))
		return false;
	if (area == 0 || area == 666 || area >= 900 || group == 0 ||
	    serial == 0)
		return false;
	if (i >= 2 && d[i - 1] == '-' && IS_DIGIT(d[i - 2]))
		return false;
	*hit = (mdet_t){i, p, CONFIG_MASK_DET_ssn, MK_SSN};
	return true;
}

/* NANP: NXX-NXX-XXXX with '-', '.' or ' ' (one kind), optionally after
 * "1" and the same separator. N is 2-9. */
static bool nanp_at(const bool *on, const char *d, size_t n, size_t i,
		    mdet_t *hit, int depth)
{
	size_t p = i;
	if (d[p] == '1' && p + 1 < n &&
	    (d[p + 1] == '-' || d[p + 1] == ' ' || d[p + 1] == '.'))
		p += 2;
	size_t a = p;
	if (digits_k(d, n, &p, 3) < 0 || d[a] < '2' || p >= n)
		return false;
	char sep = d[p];
	if (sep != '-' && sep != '.' && sep != ' ')
		return false;
	if (p != a + 3 || (a != i && d[a - 1] != sep))
		return false;
	p++;
	size_t x = p;
	if (digits_k(d, n, &p, 3) < 0 || d[x] < '2' || p >= n || d[p] != sep)
		return false;
	p++;
	if (digits_k(d, n, &p, 4) < 0 || !group_end(on, d, n, p, depth))
		return false;
	*hit = (mdet_t){i, p, CONFIG_MASK_DET_phone, MK_PHONE};
	return true;
}

/* National forms with a trunk 0: "020 7946 0958", "07700 900123",
 * "01 23 45 67 89", "06-12345678": 10 or 11 digits in at least two groups
 * of at least two digits, joined by single spaces or dashes. */
static bool trunk0_at(const bool *on, const char *d, size_t n, size_t i,
		      mdet_t *hit, int depth)
{
	if (d[i] != '0' || i + 1 >= n || d[i + 1] == '0')
		return false;
	size_t p = i, nd = 0, groups = 0, end = 0;
	char sep = 0;
	for (;;) {
		size_t s = p;
		while (p < n && IS_DIGIT(d[p]) && p - s < 12)
			p++;
		size_t len = p - s;
		if (len < 2 || (groups == 0 && len > 5) || nd + len > 11)
			return false;
		nd += len;
		groups++;
		end = p;
		if (nd >= 10)
			break;
		if (p + 1 < n && (d[p] == ' ' || d[p] == '-') &&
		    (!sep || d[p] == sep) && IS_DIGIT(d[p + 1])) {
			sep = d[p++];
			continue;
		}
		return false;
	}
	if (groups < 2 || !group_end(on, d, n, end, depth))
		return false;
	*hit = (mdet_t){i, end, CONFIG_MASK_DET_phone, MK_PHONE};
	return true;
}

/* "+" and 8 to 15 digits (E.164), which may be grouped by single spaces,
 * dashes or dots and one parenthesised group: "+1 (555) 123-4567",
 * "+44 20 7946 0958", "+4915112345678". */
static bool phone_plus_at(const char *d, size_t n, size_t i, mdet_t *hit)
{
	enum { E164_MAX = 15 };
	if (i > 0 && ((CL(d[i - 1]) & C_WORD) || d[i - 1] == '+'))
		return false;
	if (i + 1 >= n || d[i + 1] < '1' || d[i + 1] > '9')
		return false;
	/* Ends of digit groups (with the digits so far): when the run goes
	 * on into something else ("+44 20 7946 0958 10.1.2.3"), the longest
	 * end that is a boundary wins. */
	size_t ends[E164_MAX + 1], ndig[E164_MAX + 1];
	int nends = 0;
	size_t p = i + 1, nd = 0;
	int paren = 0;
	while (p < n) {
		char ch = d[p];
		if (IS_DIGIT(ch)) {
			if (++nd > E164_MAX)
				break;
			p++;
			if (p >= n || !IS_DIGIT(d[p])) {
				if (paren != 1) {
					ends[nends] = p;
					ndig[nends++] = nd;
				}
			}
			continue;
		}
		bool after = IS_DIGIT(d[p - 1]) || d[p - 1] == ')';
		if ((ch == ' ' || ch == '-' || ch == '.') && after &&
		    p + 1 < n && (IS_DIGIT(d[p + 1]) || d[p + 1] == '(')) {
			p++;
			continue;
		}
		if (ch == '(' && paren == 0 && p + 1 < n &&
		    IS_DIGIT(d[p + 1])) {
			paren = 1;
			p++;
			continue;
		}
		if (ch == ')' && paren == 1 && IS_DIGIT(d[p - 1])) {
			paren = 2;
			p++;
			continue;
		}
		break;
	}
	for (int k = nends; k-- > 0;) {
		size_t e = ends[k];
		if (ndig[k] < 8)
			break;
		if (!ends_word(d, n, e) || number_goes_on(d, n, e))
			continue;
		*hit = (mdet_t){i, e, CONFIG_MASK_DET_phone, MK_PHONE};
		return true;
	}
	return false;
}

/* "(NXX) NXX-XXXX", the space optional, '-', '.' or ' ' before the
 * last four. */
static bool phone_paren_at(const bool *on, const char *d, size_t n, size_t i,
			   mdet_t *hit)
{
	if (i > 0 && (CL(d[i - 1]) & C_WORD))
		return false;
	size_t p = i + 1;
	if (p >= n || d[p] < '2' || digits_k(d, n, &p, 3) < 0 || p >= n ||
	    d[p] != ')')
		return false;
	p++;
	if (p < n && d[p] == ' ')
		p++;
	size_t x = p;
	if (p >= n || digits_k(d, n, &p, 3) < 0 || d[x] < '2' || p >= n ||
	    (d[p] != '-' && d[p] != '.' && d[p] != ' '))
		return false;
	p++;
	if (digits_k(d, n, &p, 4) < 0 || !group_end(on, d, n, p, 0))
		return false;
	*hit = (mdet_t){i, p, CONFIG_MASK_DET_phone, MK_PHONE};
	return true;
}

/* ----------------------------------------------------------- letters */

static size_t b64_run(const char *d, size_t n, size_t p)
{
	while (p < n && (CL(d[p]) & C_B64))
		p++;
	return p;
}

/* A JWS (3 segments) or JWE (5) in compact form: base64url segments
 * joined by '.', the first a JSON object ("eyJ" is base64 of '{"'). An
 * empty signature (alg none) ends with the dot. */
static bool jwt_at(const char *d, size_t n, size_t i, mdet_t *hit)
{
	if (n - i < 16 || memcmp(d + i, "eyJ", 3) != 0)
		return false;
	size_t p = b64_run(d, n, i);
	if (p - i < 10)
		return false;
	int segs = 1;
	while (segs < 5 && p + 1 < n && d[p] == '.' && (CL(d[p + 1]) & C_B64)) {
		size_t q = b64_run(d, n, p + 1);
		if (segs == 1 && q - (p + 1) < 2)
			return false;
		p = q;
		segs++;
	}
	if (segs == 2) {
		if (p >= n || d[p] != '.')
			return false;
		p++; /* unsigned: header.payload. */
	} else if (segs != 3 && segs != 5) {
		return false;
	}
	if (p < n && (d[p] == '=' || (CL(d[p]) & C_B64)))
		return false;
	*hit = (mdet_t){i, p, CONFIG_MASK_DET_jwt, MK_JWT};
	return true;
}

/* Country code, check digits and the rest, compact or in groups of four
 * split by single spaces; the country's exact length; mod 97. */
static bool iban_at(const char *d, size_t n, size_t i, mdet_t *hit)
{
	if (n - i < 15 || !IS_UPPER(d[i]) || !IS_UPPER(d[i + 1]) ||
	    !IS_DIGIT(d[i + 2]) || !IS_DIGIT(d[i + 3]))
		return false;
	int want = mask__iban_len(d + i);
	if (!want)
		return false;
	char buf[34];
	int k = 0;
	size_t p = i;
	while (k < want && p < n) {
		char ch = d[p];
		if (IS_DIGIT(ch) || IS_UPPER(ch)) {
			buf[k++] = ch;
			p++;
		} else if (ch == ' ' && k % 4 == 0 && p + 1 < n &&
			   (IS_DIGIT(d[p + 1]) || IS_UPPER(d[p + 1]))) {
			p++;
		} else {
			break;
		}
	}
	if (k != want || !ends_word(d, n, p) || !mask__iban_ok(buf, (size_t)k))
		return false;
	*hit = (mdet_t){i, p, CONFIG_MASK_DET_iban, MK_IBAN};
	return true;
}

/* ----------------------------------------------------------- e-mail */

/* An address around the '@' at `at': local part [A-Za-z0-9._+-] (and
 * UTF-8) back to lo, a domain of at least two labels whose last is a
 * top-level domain (letters, UTF-8 or xn--). */
static bool email_at(const char *d, size_t n, size_t lo, size_t at, mdet_t *hit)
{
	size_t s = at;
	while (s > lo && (CL(d[s - 1]) & C_LOCAL) &&
	       at - s < MASK_EMAIL_LOCAL_MAX * 4)
		s--;
	while (s < at && (d[s] == '.' || d[s] == '-' || d[s] == '+'))
		s++;
	if (s == at)
		return false;
	enum { LABELS_MAX = MASK_EMAIL_DOMAIN_MAX / 2 + 1 };
	size_t lab[LABELS_MAX], labend[LABELS_MAX];
	size_t nl = 0, p = at + 1;
	while (nl < sizeof(lab) / sizeof(lab[0])) {
		size_t ls = p;
		while (p < n && (CL(d[p]) & C_DOMAIN))
			p++;
		if (p == ls || p - ls > 63 || d[ls] == '-' || d[p - 1] == '-')
			break;
		lab[nl] = ls;
		labend[nl++] = p;
		if (p + 1 < n && d[p] == '.' && (CL(d[p + 1]) & C_DOMAIN)) {
			p++;
			continue;
		}
		break;
	}
	/* The longest prefix of labels that ends in a top-level domain. */
	for (; nl >= 2; nl--) {
		size_t ts = lab[nl - 1], te = labend[nl - 1];
		if (te - at - 1 > MASK_EMAIL_DOMAIN_MAX)
			continue;
		bool tld = te - ts >= 2;
		bool idn = te - ts > 4 && memcmp(d + ts, "xn--", 4) == 0;
		for (size_t q = ts; q < te && tld && !idn; q++)
			tld = (CL(d[q]) & C_ALPHA) != 0;
		if (!(tld || idn))
			continue;
		if (te < n && (CL(d[te]) & C_DOMAIN))
			continue; /* a longer label we cut: not a boundary */
		*hit = (mdet_t){s, te, CONFIG_MASK_DET_email, MK_EMAIL};
		return true;
	}
	return false;
}

/* ----------------------------------------------------------- the scan */

static bool digit_start_at(const bool *on, const char *d, size_t n, size_t i,
			   mdet_t *hit, int depth)
{
	/* Inside a decimal or dotted number ("1.4111...", "10.0.19045"). */
	if (i >= 2 && d[i - 1] == '.' && IS_DIGIT(d[i - 2]))
		return false;
	if (on[CONFIG_MASK_DET_ip]) {
		if (ipv6_start(d, n, i) && ipv6_at(d, n, i, hit))
			return true;
		if (ipv4_at(d, n, i, hit))
			return true;
	}
	if (on[CONFIG_MASK_DET_card] && card_at(d, n, i, hit))
		return true;
	if (on[CONFIG_MASK_DET_ssn] && ssn_at(on, d, n, i, hit, depth))
		return true;
	if (on[CONFIG_MASK_DET_phone] && (nanp_at(on, d, n, i, hit, depth) ||
					  trunk0_at(on, d, n, i, hit, depth)))
		return true;
	return false;
}

static bool letter_start(const bool *on, const char *d, size_t n, size_t i,
			 mdet_t *hit)
{
	if (d[i] == 'e' && on[CONFIG_MASK_DET_jwt] && jwt_at(d, n, i, hit))
		return true;
	if (IS_UPPER(d[i]) && on[CONFIG_MASK_DET_iban] && iban_at(d, n, i, hit))
		return true;
	if ((CL(d[i]) & C_HEX) && on[CONFIG_MASK_DET_ip] &&
	    ipv6_start(d, n, i) && ipv6_at(d, n, i, hit))
		return true;
	return false;
}

bool mask__detect_inert(const char *s, size_t n)
{
	static const bool trig[256] = {
	    ['0' ... '9'] = true, ['@'] = true,	 [':'] = true,
	    ['%'] = true,	  ['\\'] = true, ['J'] = true,
	    ['&'] = true, /* an HTML character reference (value.c) */
	};
	for (size_t i = 0; i < n; i++)
		if (trig[(unsigned char)s[i]])
			return false;
	return true;
}

bool mask__detect_next(const bool *on, const char *d0, size_t n0, size_t lo,
		       size_t *pos, mdet_t *hit)
{
	/* Nothing before lo counts, look-behind included: text there has
	 * been matched (and will be replaced) or is another value. So the
	 * scan runs on d0 + lo as if it began there. */
	if (lo > n0)
		lo = n0;
	const char *d = d0 + lo;
	size_t n = n0 - lo;
	size_t i = *pos > lo ? *pos - lo : 0;
	while (i < n) {
		unsigned char ch = (unsigned char)d[i];
		uint8_t k = cls[ch];
		if (!(k & C_TRIG)) {
			i++;
			continue;
		}
		if (ch == '@') {
			if (on[CONFIG_MASK_DET_email] &&
			    email_at(d, n, 0, i, hit))
				goto found;
			i++;
			continue;
		}
		bool bnd = i == 0 || !(CL(d[i - 1]) & C_WORD);
		if (k & (C_DIGIT | C_ALPHA)) {
			if (bnd &&
			    ((k & C_DIGIT) ? digit_start_at(on, d, n, i, hit, 0)
					   : letter_start(on, d, n, i, hit)))
				goto found;
			i = word_end(d, n, i);
			continue;
		}
		if (ch == '+' && on[CONFIG_MASK_DET_phone] &&
		    phone_plus_at(d, n, i, hit))
			goto found;
		if (ch == '(' && on[CONFIG_MASK_DET_phone] &&
		    phone_paren_at(on, d, n, i, hit))
			goto found;
		if (ch == ':' && on[CONFIG_MASK_DET_ip] && i + 1 < n &&
		    d[i + 1] == ':' && bnd && ipv6_at(d, n, i, hit))
			goto found;
		i++;
	}
	*pos = n0;
	return false;
found:
	hit->start += lo;
	hit->end += lo;
	*pos = hit->end;
	return true;
}
