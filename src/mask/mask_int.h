/*
 * mask_int.h: what the masking module's files share: the compiled masker,
 * the per-thread context, the value pipeline every walker feeds, and the
 * detectors and pseudonyms (exposed to the unit tests). Not for other
 * modules: they use mask.h.
 *
 * The flow for one message: mask.c masks the start line and headers and
 * hands the body to body.c, which decodes gzip/deflate (codec.c) and picks
 * a walker by Content-Type: json.c, form.c (also the request target),
 * multipart.c, or the text scan. Walkers decode each value (JSON escapes,
 * percent-encoding), decide whether a rule owns it whole (a header, query,
 * form or JSON-path rule, a sensitive key name), and otherwise pass it to
 * mask__text(), which runs the PCRE2 rules and the built-in detectors
 * (detect.c) over the value and over its percent-decoded and JSON-unescaped
 * views. Replacements come from pseudo.c (keyed pseudonyms) or the marker.
 */
#ifndef UMBRA_MASK_MASK_INT_H
#define UMBRA_MASK_MASK_INT_H

#include "mask/mask.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
/* SHA-256 states copied by value: the low-level API is deprecated in
 * OpenSSL 3 but allocation-free, where EVP_MAC costs two mallocs and
 * twice the time per HMAC (measured; see pseudo.c). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <zlib.h>

/* ----------------------------------------------------------- limits */

/* JSON nesting. Real APIs nest a few levels; 256 keeps a hostile body from
 * costing more than a few KiB of walker state. Deeper fails closed. */
#define MASK_JSON_MAX_DEPTH 256
/* Components of one JSON path rule: rule states are a 64-bit set. */
#define MASK_JPATH_MAX 63
/* RFC 2046 5.1.1: a boundary is 1 to 70 characters. */
#define MASK_BOUNDARY_MAX 70
/* Parts of one multipart body; more fails closed (a form with thousands
 * of fields is an attack, not a form). */
#define MASK_MULTIPART_MAX_PARTS 10000
/* Header block of one multipart part (RFC 7578 parts carry two or three
 * short headers; 16 KiB is generous). */
#define MASK_PART_HEADER_MAX (16 * 1024)
/* Content-Encoding codings applied one after another that we undo. One
 * is what servers send; two ("gzip, gzip") is legal and cheap. */
#define MASK_MAX_CODINGS 2
/* Encodings inside encodings that are decoded and masked (nested.c): a
 * body's coding, then a multipart part's transfer encoding and its gzip,
 * then a base64 value in it, then base64 in that. Past it, a layer that
 * would be decoded fails the message closed (too_deep): bounded work per
 * byte, and no value hides behind one more layer. */
#define MASK_NEST_MAX 4
/* Shortest value tried as base64 (12 characters hold 9 bytes: "a@b.co"
 * and its neighbours); shorter ones are scanned as they are. */
#define MASK_B64_MIN 12
/* A body cut short (mask_request_t.truncated), as text: its last bytes
 * may hold the start of a value the detectors cannot recognise cut (an
 * e-mail address without its top-level domain). The longest value a
 * detector takes is an e-mail address, 64 + 1 + 253 bytes (RFC 5321
 * 4.5.3.1): that much is left out, then back to a separator. */
#define MASK_PREFIX_TAIL 320
/* Scratch kept between messages: a buffer that grew past this for one
 * large body is freed after it, so that a worker's memory after a 20 MB
 * body returns to what ordinary traffic needs. */
#define MASK_SCRATCH_KEEP (1024 * 1024)
/* Local part and domain lengths of an e-mail address (RFC 5321 4.5.3.1). */
#define MASK_EMAIL_LOCAL_MAX  64
#define MASK_EMAIL_DOMAIN_MAX 253
/* Markers and replacements go into headers: bounded, no CR/LF/NUL. */
#define MASK_MARKER_MAX 256
/* The value memo (memo.c): the longest value it keeps, bytes per slot
 * for a value and its replacement, and hits per value it can replay.
 * Slots are 256 bytes; how many is mask.memo (1024 by default: 256 KiB
 * per worker). */
#define MASK_MEMO_VALUE_MAX 96
#define MASK_MEMO_BYTES	    224
#define MASK_MEMO_SOURCES   6

/* ----------------------------------------------------------- kinds */

/* Shape of a value, which decides the shape of its pseudonym. */
typedef enum mask_kind {
	MK_GENERIC, /* classified by content (pseudo.c) */
	MK_EMAIL,
	MK_CARD,
	MK_SSN,
	MK_IBAN,
	MK_PHONE,
	MK_IPV4,
	MK_IPV6,
	MK_JWT,
	MK_UUID,
	MK_NUMBER, /* a JSON number token */
	MK_TOKEN,  /* opaque: same length and character classes */
	MK__COUNT
} mask_kind_t;

#define MASK_SRC_RULE0 CONFIG_MASK_DET__COUNT /* first custom rule */

/* ----------------------------------------------------------- masker */

typedef enum jp_type { JP_KEY, JP_INDEX, JP_ANY } jp_type_t;

typedef struct jp_comp {
	uint8_t type; /* jp_type_t */
	bool desc;    /* "..": any number of levels before this one */
	char *key;
	size_t key_len;
	uint64_t index;
} jp_comp_t;

typedef struct mrule {
	int where;  /* config_mask_where_t */
	int action; /* config_mask_action_t */
	uint16_t src;
	char *name; /* header: lower-cased; query/form: as given */
	size_t name_len;
	pcre2_code *re;
	char *repl; /* NULL: the marker (or the pseudonym for hash) */
	size_t repl_len;
	jp_comp_t *path;
	size_t npath;
} mrule_t;

struct mask {
	/* HMAC-SHA-256 with the key absorbed: SHA-256 states after the
	 * inner and outer pads, copied for each HMAC. */
	SHA256_CTX hmac_in, hmac_out;
	bool det_on[CONFIG_MASK_DET__COUNT];
	int det_action[CONFIG_MASK_DET__COUNT];
	char **sens; /* sensitive key names, normalised (norm_key) */
	size_t *sens_len;
	size_t nsens;
	uint64_t sens_first[4]; /* bit set: some name starts with that byte */
	char *marker;
	size_t marker_len;
	uint64_t max_scan;
	mrule_t *rules;
	size_t nrules;
	/* Rule indices by where, in config order. */
	size_t *by_where[5];
	size_t nby_where[5];
	uint32_t max_pairs; /* largest capture count + 1, for match data */
	size_t memo_slots;  /* per context, a power of two; 0: no memo */
	char **src_names;
	size_t nsrc;
};

/* ----------------------------------------------------------- context */

typedef struct mmatch {
	size_t start, end; /* in the value's bytes */
	size_t repl_off,
	    repl_len; /* replacement, already encoded, in c->repl */
	uint16_t src;
	uint8_t action;
	uint8_t protect; /* a keep: nothing else may match inside */
} mmatch_t;

/* Where the value being masked sits, for the report. */
typedef struct mpos {
	uint8_t where;	  /* mask_where_t */
	const char *name; /* header/field/parameter name, or NULL */
	size_t name_len;
	size_t off;		/* TEXT: offset of the value in the body */
	long seg;		/* PATH: segment number */
	const struct jwalk *jw; /* JSON: the walker, for its path */
} mpos_t;

typedef struct mmemo_slot mmemo_slot_t;
typedef struct mmemo_tags mmemo_tags_t;

struct mask_ctx {
	const mask_t *m;
	pcre2_match_data *md;
	/* zlib streams, initialised on first use and then only reset, so
	 * the 256 KiB of deflate state is allocated once per thread. */
	z_stream zin;
	bool zin_ok;
	z_stream zout[3]; /* per MASK_CODING_* */
	bool zout_ok[3];
	struct jwalk *jwalk; /* JSON walker state (json.c) */
	/* Scratch. Each walker level has its own so that nesting
	 * (multipart -> json -> value) never clobbers a caller's bytes. */
	buf_t dec[MASK_MAX_CODINGS]; /* decoded body, per coding */
	buf_t body;		     /* masked body (decoded) */
	buf_t enc[MASK_MAX_CODINGS]; /* re-encoded body */
	buf_t part;		     /* masked multipart part */
	bool in_multipart;	     /* a multipart inside one is text */
	buf_t jdec;		     /* JSON string decoded */
	buf_t fdec;		     /* form/query key or value decoded */
	buf_t fdec2;
	buf_t vout;    /* a masked value before re-encoding */
	buf_t view;    /* a decoded view of a value */
	buf_t repl;    /* replacements of the current value */
	buf_t vtmp;    /* one replacement before encoding for its view */
	buf_t tmp;     /* pseudonym scratch: Basic credentials */
	buf_t tmp2;    /* pseudonym scratch: lower-cased e-mail */
	buf_t tmp3;    /* pseudonym scratch: decoded Basic credentials */
	buf_t keys;    /* JSON: decoded keys of the open levels */
	buf_t hdr;     /* a masked header value */
	buf_t hname;   /* a masked header name */
	buf_t cname;   /* a masked cookie name */
	buf_t b64;     /* a value decoded from base64 (nested.c) */
	uint32_t *map; /* view byte -> value offset */
	size_t map_cap;
	mmatch_t *mt;
	size_t nmt, mt_cap;
	mmatch_t *mt2; /* spare, for merging passes */
	size_t mt2_cap;
	struct {
		size_t start, end;
	} * bd; /* boundaries for the next round (value.c) */
	size_t bd_cap;
	buf_t rnd[2];	  /* a value after each round */
	uint64_t *jstate; /* JSON rule states per depth */
	size_t jstate_cap;
	/* Value memo (memo.c); the scan being memoised records its
	 * sources here. */
	mmemo_slot_t *memo;
	mmemo_tags_t *memo_tags;
	bool memo_rec;
	unsigned memo_nsrc;
	uint16_t memo_src[MASK_MEMO_SOURCES];
	/* Nested encodings (nested.c): the context one layer down, made
	 * on first use; this one's depth; set when a layer past
	 * MASK_NEST_MAX was met (the message then fails closed). */
	struct mask_ctx *child;
	int depth;
	bool too_deep;
	bool charset_done; /* the body was converted to UTF-8 already */
	bool prefix;	   /* the body is cut short (mask_request_t) */
	bool no_memo;	   /* children: values are seldom repeated there */
	/* Report. */
	uint32_t *counts;
	mask_hit_t *hits;
	size_t nhits, hits_cap;
	buf_t hit_text;
	bool detail;
	mask_report_t rep;
	mask_reason_t reason;
	char err[192];
};

/* ----------------------------------------------------------- helpers */

/* The length of the run at s[0..n) free of bytes a JSON string must
 * escape ('"', '\\', controls): the walker's string scan and escaper
 * skip such runs eight bytes at a time. Per 64-bit word, a byte's top
 * bit is set in t when it is under 0x20 or equal to one of the two (the
 * classic "has zero byte" test on x - 0x20.. and on x xor the byte);
 * borrows only run upward from a real hit, so the lowest set bit is the
 * first such byte (the first in memory: the lowest after a byte swap on
 * big-endian hosts). Bytes >= 0x80 never hit. */
static inline size_t mask__json_plain(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones << 7;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, s + i, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		x = __builtin_bswap64(x); /* first byte lowest, as below */
#endif
		uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
		uint64_t t = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
			     ((b - ones) & ~b);
		t &= high;
		if (t)
			return i + (size_t)__builtin_ctzll(t) / 8;
	}
	for (; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == '"' || ch == '\\')
			break;
	}
	return i;
}

/* Sets the failure reason and detail; returns code. */
int mask__fail(mask_ctx_t *c, mask_reason_t reason, int code, const char *fmt,
	       ...) __attribute__((format(printf, 4, 5)));

/* Counts a hit of src at pos; with detail, records where (at is the
 * offset of the hit inside the value, for text positions). */
void mask__hit(mask_ctx_t *c, const mpos_t *pos, int src, int action,
	       size_t at);

/* True when the key name matches one of mask.sensitive_keys (substring,
 * case-insensitive, '-' and '_' ignored). */
bool mask__key_sensitive(const mask_t *m, const char *k, size_t n);

/* nested.c: appends code point cp (at most U+10FFFF) to out as UTF-8; the
 * JSON unescaper and the charset decoders share it. */
void mask__put_utf8(buf_t *out, uint32_t cp);

/* What a key name says about a number under it (JSON numbers carry no
 * punctuation to tell a phone number from a count): a phone key (phone,
 * mobile, msisdn, fax, tel, cell) or an account-number key
 * (account_number, acct_no, bank_account, iban, routing_number); not when
 * the name ends in a word about the value (_at, _time, _id, _count ...). */
typedef enum mask_key_hint {
	MASK_HINT_NONE,
	MASK_HINT_PHONE,
	MASK_HINT_ACCOUNT
} mask_key_hint_t;
mask_key_hint_t mask__key_hint(const char *k, size_t n);

/* Index of the first custom rule of kind where whose name is k, or -1.
 * Header names compare case-insensitively, the others exactly. */
long mask__rule_by_name(const mask_t *m, int where, const char *k, size_t n);

/* ----------------------------------------------------------- value */

/* Masks the text value s[0..n) (already decoded by its walker): PCRE2
 * rules first, then the enabled detectors over the value, its
 * percent-decoded view and its JSON-unescaped view. When anything was
 * replaced or dropped, appends the masked value to out and returns true;
 * otherwise returns false and out is untouched. out must not be one of
 * c's value scratch buffers (view, repl, tmp). */
bool mask__text(mask_ctx_t *c, const char *s, size_t n, const mpos_t *pos,
		buf_t *out);

/* mask__text for a JSON member's key, which also tells whether the key
 * is a sensitive name (mask__key_sensitive): keys repeat in every
 * message, and one memo lookup answers both. */
bool mask__key(mask_ctx_t *c, const char *k, size_t n, const mpos_t *pos,
	       buf_t *out, bool *sensitive);

/* The value memo (memo.c). tag: MASK_MEMO_TEXT for mask__text's
 * result, MASK_MEMO_KEY for mask__key's, MASK_MEMO_PSEUDO + kind for a
 * pseudonym. mask__memo_get: when s[0..n) was memoised under tag,
 * replays its counts, appends its result (if changed) to out, sets
 * *flags (MASK_MEMO_CHANGED, MASK_MEMO_SENSITIVE) and returns true.
 * Otherwise false, with *key what to hand mask__memo_put with the
 * computed result o[0..on), its flags and the sources it hit (stored
 * when they fit); *key is 0 when s is not to be memoised (too long,
 * detail mode, or seen for the first time). */
enum { MASK_MEMO_TEXT = 0, MASK_MEMO_KEY = 1, MASK_MEMO_PSEUDO = 2 };
enum { MASK_MEMO_CHANGED = 1, MASK_MEMO_SENSITIVE = 2 };
bool mask__memo_get(mask_ctx_t *c, uint8_t tag, const char *s, size_t n,
		    buf_t *out, uint8_t *flags, uint64_t *key);
void mask__memo_put(mask_ctx_t *c, uint64_t key, uint8_t tag, const char *s,
		    size_t n, const char *o, size_t on, uint8_t flags,
		    const uint16_t *src, unsigned nsrc);
void mask__memo_free(mask_ctx_t *c); /* wipes and frees */

/* The replacement of a whole value owned by a rule or detector src with
 * action redact or hash (kind guides the pseudonym's shape); records the
 * hit. Appends to out. */
void mask__whole(mask_ctx_t *c, int src, int action, mask_kind_t kind,
		 const char *s, size_t n, const mpos_t *pos, buf_t *out);

/* ----------------------------------------------------------- detect */

typedef struct mdet {
	size_t start, end;
	uint8_t det;  /* config_mask_det_t */
	uint8_t kind; /* mask_kind_t */
} mdet_t;

/* Finds the next detector match in d[0..n) starting the scan at *pos.
 * Bytes before lo do not count at all (not even as context: the text is
 * scanned as if it began at lo). Only detectors enabled in on[] are
 * tried. Returns true with *hit filled and *pos moved past it, or false
 * at the end of the text. Pure: no allocation, no state outside the
 * arguments. */
bool mask__detect_next(const bool *on, const char *d, size_t n, size_t lo,
		       size_t *pos, mdet_t *hit);

/* True when no detector can match anything in s[0..n), in any context
 * and any decoded view: every detector needs a digit, '@' or ':' (a JWT
 * its "eyJ"), and the decoded views start at '%', '\\' and '&'. A detector
 * added without one of these must extend the set (the corpus test checks
 * that no sensitive value is inert). */
bool mask__detect_inert(const char *s, size_t n);

/* Validators, for the detectors, pseudonyms and tests. digits are ASCII
 * digits only. */
bool mask__luhn_ok(const char *digits, size_t n);
bool mask__card_prefix_ok(const char *digits, size_t n);
bool mask__iban_ok(const char *s, size_t n); /* compact form */
int mask__iban_len(const char *cc);	     /* 0: unknown country */
bool mask__is_uuid(const char *s, size_t n);
bool mask__is_ipv4(const char *s, size_t n);

/* ----------------------------------------------------------- pseudo */

/* HMAC-SHA-256 of (tag, s) under m's key. */
void mask__hmac(const mask_t *m, uint8_t tag, const void *s, size_t n,
		uint8_t out[32]);

/* Appends the keyed pseudonym of s[0..n) shaped as kind (MK_GENERIC:
 * shaped like whatever s looks like). Deterministic for one key. */
void mask__pseudo(mask_ctx_t *c, mask_kind_t kind, const char *s, size_t n,
		  buf_t *out);

/* Pseudonym of an Authorization-style value: the scheme is kept, the
 * credentials are replaced (Basic: user and password inside base64). */
void mask__pseudo_auth(mask_ctx_t *c, const char *s, size_t n, buf_t *out);

/* ----------------------------------------------------------- encoders */

void mask__json_escape(buf_t *out, const char *s, size_t n);
/* Percent-encodes all but RFC 3986 unreserved characters; space as '+'
 * when plus is set (form bodies), else as %20. */
void mask__pct_encode(buf_t *out, const char *s, size_t n, bool plus);
/* Path segment: unreserved, sub-delims, ':' and '@' stay. */
void mask__pct_encode_path(buf_t *out, const char *s, size_t n);
/* Percent-decodes s into out (plus: '+' is a space). Invalid escapes: with
 * strict, returns false at the first; else they are kept as they are. */
bool mask__pct_decode(buf_t *out, const char *s, size_t n, bool plus,
		      bool strict);

/* ----------------------------------------------------------- walkers */

/* Each appends the masked body to out. 0 on success; on failure a
 * negative error with c's reason set (out may hold partial output: the
 * caller truncates). */
int mask__json(mask_ctx_t *c, const char *s, size_t n, bool seq, buf_t *out);
int mask__form(mask_ctx_t *c, const char *s, size_t n, buf_t *out);
int mask__multipart(mask_ctx_t *c, const char *ctype, size_t ctype_len,
		    const char *s, size_t n, buf_t *out);
/* Masks the text body as one value (never fails). */
void mask__textbody(mask_ctx_t *c, const char *s, size_t n, buf_t *out);
/* Masks a request target (path segments and query); never fails:
 * undecodable escapes are scanned as they are. */
void mask__target(mask_ctx_t *c, const char *s, size_t n, buf_t *out);

/* Masks a body of the given media type (no Content-Encoding left): picks
 * the walker. Returns 0 and sets *changed; *changed false means out holds
 * nothing and the input stands. tpos: where text hits are reported (NULL:
 * the body's text). */
int mask__typed_body(mask_ctx_t *c, const char *ctype, size_t ctype_len,
		     const char *s, size_t n, const mpos_t *tpos, buf_t *out,
		     bool *changed);

/* Decodes/encodes one content coding (MASK_CODING_*) into out, bounded by
 * max (decoded) bytes. */
enum { MASK_CODING_GZIP, MASK_CODING_DEFLATE, MASK_CODING_RAWDEFLATE };
int mask__inflate(mask_ctx_t *c, int coding, const char *s, size_t n,
		  size_t max, buf_t *out, int *detected);
void mask__deflate(mask_ctx_t *c, int coding, const char *s, size_t n,
		   buf_t *out);

/* ----------------------------------------------------------- nested */

/* A value that is base64 (standard or URL-safe, at least MASK_B64_MIN
 * characters) of UTF-8 text: the text is masked as JSON, form or text,
 * one layer down, and re-encoded the same way. Returns true with the
 * re-encoded value appended to out when masking changed it, else false
 * (the caller scans the value as it is). */
bool mask__b64_value(mask_ctx_t *c, const char *s, size_t n,
		     const mpos_t *pos, buf_t *out);

/* A multipart part's content under Content-Transfer-Encoding cte
 * (base64, quoted-printable; NULL or 7bit/8bit/binary: none) and
 * Content-Encoding cenc (gzip, x-gzip, deflate; NULL: none): decoded,
 * masked by its type one layer down, re-encoded. As mask__typed_body. */
int mask__part_encoded(mask_ctx_t *c, const char *ct, size_t ctl,
		       const char *cte, size_t ctel, const char *cenc,
		       size_t cencl, const char *s, size_t n,
		       const mpos_t *pos, buf_t *out, bool *changed);

/* Bodies whose media type is a compressed file (application/gzip,
 * application/zstd) or whose charset is not ASCII-compatible (UTF-16 by
 * charset or BOM) or not UTF-8 (ISO-8859-1): decoded, masked one layer
 * down, re-encoded. Returns 1 when it handled the body (then rc holds
 * the result, as mask__typed_body's), 0 when the body is none of these. */
int mask__typed_special(mask_ctx_t *c, const char *ct, size_t ctl,
			const char *s, size_t n, const mpos_t *tpos,
			buf_t *out, bool *changed, int *rc);

/* Renders the JSON path of the walker's current value ("$.a[2].b"). */
void mask__json_path(const struct jwalk *jw, buf_t *out);
/* A JSON walker's state, for a context (free() it). */
struct jwalk *mask__jwalk_new(void);

#endif
