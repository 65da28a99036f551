/*
 * test_pseudo.c: keyed pseudonyms. The HMAC against OpenSSL's and RFC
 * 4231; determinism across calls, contexts, threads and processes that
 * load the key file afresh; another key giving another pseudonym; and
 * the shape of each kind (an e-mail stays an e-mail, a card 16
 * Luhn-valid digits, ...). One golden value pins the scheme: if it
 * changes, every deployed shadow sees new pseudonyms, as after a key
 * rotation, and docs/masking.md must say so.
 */
#include "mask/mask_int.h"
#include "unit/mask/mask_test.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void hexs(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* HMAC over (tag, msg) equals OpenSSL's HMAC over tag||msg. */
static void check_hmac(const uint8_t *key, size_t kl, const char *msg)
{
	config_t *cfg = config_new_default("t");
	mask_t *m;
	cr_assert_eq(mask_new_with_key(&cfg->mask, key, kl, &m, NULL), 0);
	uint8_t ours[32], ref[32];
	unsigned rl;
	mask__hmac(m, 'X', msg, strlen(msg), ours);
	char both[512];
	both[0] = 'X';
	memcpy(both + 1, msg, strlen(msg));
	HMAC(EVP_sha256(), key, (int)kl, (const uint8_t *)both, strlen(msg) + 1,
	     ref, &rl);
	cr_expect_arr_eq(ours, ref, 32, "key of %zu bytes", kl);
	mask_free(m);
	config_free(cfg);
}

Test(hmac, matches_openssl_for_all_key_lengths)
{
	uint8_t key[200];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	size_t lens[] = {16, 32, 63, 64, 65, 128, 200};
	for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++)
		check_hmac(key, lens[i], "ann@example.org");
}

/* RFC 4231 test case 2 with the tag as the message's first byte:
 * key "Jefe", data "what do ya want for nothing?". The key is short of
 * MASK_KEY_MIN, so it is padded the way HMAC pads it (with zeros to a
 * block), which gives the same MAC as the 4-byte key. */
Test(hmac, rfc4231_case2)
{
	uint8_t key[16] = "Jefe";
	config_t *cfg = config_new_default("t");
	mask_t *m;
	cr_assert_eq(mask_new_with_key(&cfg->mask, key, 16, &m, NULL), 0);
	uint8_t out[32];
	const char *data = "what do ya want for nothing?";
	mask__hmac(m, 'w', data + 1, strlen(data) - 1, out);
	char hex[65];
	hexs(out, 32, hex);
	cr_expect_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d27"
			      "39839dec58b964ec3843");
	mask_free(m);
	config_free(cfg);
}

static const char *pseudo(tmask_t *t, mask_kind_t kind, const char *v)
{
	static char res[4][512];
	static int k;
	buf_t o = BUF_INIT;
	mask__pseudo(t->c, kind, v, strlen(v), &o);
	char *r = res[k++ % 4];
	snprintf(r, 512, "%s", o.data ? o.data : "");
	buf_free(&o);
	return r;
}

/* Expected values computed independently (Python hmac):
 * HMAC-SHA-256(key, "E" + "ann@example.org")[:6] as hex, and for the card
 * the first 13 HMAC bytes under 250, mod 10, after the kept "41", plus
 * the Luhn digit. */
Test(pseudo, golden_value_pins_the_scheme)
{
	tmask_t *t = tm_new("");
	cr_expect_str_eq(pseudo(t, MK_EMAIL, "ann@example.org"),
			 "6a1384febc96@example.com");
	cr_expect_str_eq(pseudo(t, MK_CARD, "4111 1111 1111 1111"),
			 "4181 7662 4280 3988");
	tm_free(t);
}

Test(pseudo, same_key_same_pseudonym_other_key_other)
{
	tmask_t *a = tm_new(""), *b = tm_new("");
	uint8_t k2[32];
	memcpy(k2, test_key, 32);
	k2[0] ^= 1;
	tmask_t *c = tm_new_key("", k2, 32);
	const char *vals[] = {"ann@example.org", "4111111111111111",
			      "078-05-1120", "hunter2", "203.0.113.7"};
	for (size_t i = 0; i < 5; i++) {
		char x[512], y[512], z[512];
		snprintf(x, 512, "%s", pseudo(a, MK_GENERIC, vals[i]));
		snprintf(y, 512, "%s", pseudo(b, MK_GENERIC, vals[i]));
		snprintf(z, 512, "%s", pseudo(c, MK_GENERIC, vals[i]));
		cr_expect_str_eq(x, y, "%s", vals[i]);
		cr_expect_str_eq(x, pseudo(a, MK_GENERIC, vals[i]));
		cr_expect_str_neq(x, z, "another key, %s", vals[i]);
		cr_expect_str_neq(x, vals[i]);
	}
	/* Case does not make another user; the domain is not kept. */
	cr_expect_str_eq(pseudo(a, MK_EMAIL, "Ann@Example.ORG"),
			 pseudo(a, MK_EMAIL, "ann@example.org"));
	/* Separators do not make another card. */
	cr_expect_str_eq(pseudo(a, MK_CARD, "4111111111111111"),
			 "4181766242803988");
	tm_free(a);
	tm_free(b);
	tm_free(c);
}

static bool is_only(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

static const bool all_on[CONFIG_MASK_DET__COUNT] = {
    true, true, true, true, true, true, true, true, true, true};

/* The pseudonym of v is found whole by the detector that found v. */
static void same_detector(tmask_t *t, const char *v, int det)
{
	const char *p = pseudo(t, MK_GENERIC, v);
	size_t pos = 0;
	mdet_t h;
	cr_assert(mask__detect_next(all_on, p, strlen(p), 0, &pos, &h),
		  "%s -> %s: not detected", v, p);
	cr_expect_eq(h.det, det, "%s -> %s", v, p);
	cr_expect_eq(h.start, 0, "%s -> %s", v, p);
	cr_expect_eq(h.end, strlen(p), "%s -> %s", v, p);
}

Test(pseudo, shapes_stay_valid)
{
	tmask_t *t = tm_new("");
	char buf[64];
	for (int i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "user%d@corp.example.com", i);
		same_detector(t, buf, CONFIG_MASK_DET_email);
		snprintf(buf, sizeof(buf), "%03d-%02d-%04d", 100 + i,
			 1 + i % 98, 1000 + i);
		same_detector(t, buf, CONFIG_MASK_DET_ssn);
		snprintf(buf, sizeof(buf), "198.51.%d.%d", i, 1 + i % 250);
		same_detector(t, buf, CONFIG_MASK_DET_ip);
		snprintf(buf, sizeof(buf), "2001:db8::%x", i + 1);
		same_detector(t, buf, CONFIG_MASK_DET_ip);
	}
	const char *cards[] = {"4111111111111111",    "378282246310005",
			       "5555 5555 5555 4444", "6011-1111-1111-1117",
			       "4222222222222",	      "3530111333300000"};
	for (size_t i = 0; i < 6; i++) {
		const char *p = pseudo(t, MK_CARD, cards[i]);
		char d[32];
		size_t k = 0;
		for (const char *q = p; *q; q++)
			if (*q >= '0' && *q <= '9')
				d[k++] = *q;
		cr_expect_eq(k, 16, "%s -> %s", cards[i], p);
		cr_expect(mask__luhn_ok(d, k), "%s -> %s", cards[i], p);
		cr_expect(mask__card_prefix_ok(d, k), "%s -> %s", cards[i], p);
		same_detector(t, cards[i], CONFIG_MASK_DET_card);
	}
	const char *ibans[] = {"DE89370400440532013000",
			       "GB82 WEST 1234 5698 7654 32", "NO9386011117947",
			       "FR1420041010050500013M02606"};
	for (size_t i = 0; i < 4; i++) {
		same_detector(t, ibans[i], CONFIG_MASK_DET_iban);
		const char *p = pseudo(t, MK_IBAN, ibans[i]);
		cr_expect_eq(strlen(p), strlen(ibans[i]));
		cr_expect_eq(memcmp(p, ibans[i], 2), 0, "country kept");
	}
	const char *phones[] = {"+1 (555) 234-5678", "+44 20 7946 0958",
				"(555) 234-5678",    "020 7946 0958",
				"555-234-5678",	     "+4915112345678"};
	for (size_t i = 0; i < 6; i++) {
		same_detector(t, phones[i], CONFIG_MASK_DET_phone);
		const char *p = pseudo(t, MK_PHONE, phones[i]);
		cr_expect_eq(strlen(p), strlen(phones[i]), "layout kept");
	}
	/* IPv4 in 10/8, IPv6 unique local. */
	const char *p4 = pseudo(t, MK_IPV4, "203.0.113.7");
	cr_expect_eq(strncmp(p4, "10.", 3), 0, "%s", p4);
	const char *p6 = pseudo(t, MK_IPV6, "2001:db8::1");
	unsigned char a6[16];
	cr_assert_eq(inet_pton(AF_INET6, p6, a6), 1, "%s", p6);
	cr_expect_eq(a6[0], 0xfd);
	cr_expect_str_eq(pseudo(t, MK_IPV6, "2001:0db8:0000::0001"), p6,
			 "one address, two spellings, one pseudonym");
	/* UUID v4 */
	const char *u =
	    pseudo(t, MK_GENERIC, "123E4567-E89B-12D3-A456-426614174000");
	cr_expect(mask__is_uuid(u, strlen(u)), "%s", u);
	cr_expect_eq(u[14], '4');
	cr_expect(strchr("89ab", u[19]), "%s", u);
	cr_expect(is_only(u, "0123456789ABCDEF-"), "case kept: %s", u);
	/* JWT: header kept, three segments, a {"sub":...} payload */
	const char *j = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
	const char *pj = pseudo(t, MK_GENERIC, j);
	cr_expect_eq(strncmp(pj, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOi", 31), 0,
		     "%s", pj);
	same_detector(t, j, CONFIG_MASK_DET_jwt);
	/* Tokens: same length and classes. */
	const char *tk = pseudo(t, MK_TOKEN, "abcDEF-123_xyz");
	cr_expect_eq(strlen(tk), 14);
	cr_expect_eq(tk[6], '-');
	cr_expect_eq(tk[10], '_');
	cr_expect(is_only(tk + 7, "0123456789") || tk[7] != '1', "%s", tk);
	cr_expect(tk[3] >= 'A' && tk[3] <= 'Z', "%s", tk);
	/* UTF-8 letters become one ASCII letter each: no byte survives. */
	const char *ut = pseudo(t, MK_TOKEN, "Jos\xc3\xa9");
	cr_expect_eq(strlen(ut), 4, "%s", ut);
	/* Numbers stay numbers of the same form. */
	const char *num = pseudo(t, MK_NUMBER, "-123.45e6");
	cr_expect_eq(strlen(num), 9);
	cr_expect(num[0] == '-' && num[4] == '.' && num[7] == 'e', "%s", num);
	cr_expect_neq(num[1], '0');
	tm_free(t);
}

Test(pseudo, basic_auth_keeps_the_scheme_and_structure)
{
	tmask_t *t = tm_new("");
	buf_t o = BUF_INIT;
	/* "ann@example.org:hunter2" */
	const char *v = "Basic YW5uQGV4YW1wbGUub3JnOmh1bnRlcjI=";
	mask__pseudo_auth(t->c, v, strlen(v), &o);
	cr_assert_eq(strncmp(o.data, "Basic ", 6), 0);
	cr_expect_str_neq(o.data, v);
	buf_t dec = BUF_INIT;
	cr_assert(b64_dec(o.data + 6, &dec));
	const char *colon = strchr(dec.data, ':');
	cr_assert_not_null(colon, "%s", dec.data);
	cr_expect_eq(strlen(colon + 1), 7, "password length kept");
	cr_expect_not_null(strstr(dec.data, "@example.com:"), "%s", dec.data);
	buf_free(&o);
	buf_free(&dec);
	tm_free(t);
}

/* ----------------------------------------------------------- threads */

typedef struct {
	const mask_t *m;
	char out[8][256];
} th_t;

static void *worker(void *arg)
{
	th_t *th = arg;
	mask_ctx_t *c = mask_ctx_new(th->m);
	const char *vals[] = {"ann@example.org", "4111111111111111",
			      "203.0.113.7", "078-05-1120"};
	for (int rep = 0; rep < 200; rep++)
		for (int i = 0; i < 4; i++) {
			buf_t o = BUF_INIT;
			mask__pseudo(c, MK_GENERIC, vals[i], strlen(vals[i]),
				     &o);
			snprintf(th->out[i], 256, "%s", o.data);
			buf_free(&o);
		}
	mask_ctx_free(c);
	return NULL;
}

Test(pseudo, same_across_threads)
{
	tmask_t *t = tm_new("");
	enum { N = 4 };
	th_t th[N];
	pthread_t id[N];
	for (int i = 0; i < N; i++) {
		th[i].m = t->m;
		pthread_create(&id[i], NULL, worker, &th[i]);
	}
	for (int i = 0; i < N; i++)
		pthread_join(id[i], NULL);
	for (int i = 1; i < N; i++)
		for (int k = 0; k < 4; k++)
			cr_expect_str_eq(th[i].out[k], th[0].out[k]);
	tm_free(t);
}

/* ----------------------------------------------------------- processes */

/* In a child process: load the key file, build a masker, mask a request,
 * write the output to fd. */
static void child_mask(const char *keyfile, int fd)
{
	config_t *cfg = config_new_default("t");
	cfg->mask.key_file = (char *)keyfile;
	mask_t *m;
	buf_t err = BUF_INIT;
	if (mask_new(&cfg->mask, &m, &err))
		_exit(3);
	mask_ctx_t *c = mask_ctx_new(m);
	mask_header_t h[] = {{"Content-Type", 12, "application/json", 16}};
	const char *body =
	    "{\"email\":\"ann@example.org\",\"ip\":\"203.0.113.7\"}";
	mask_request_t r = {"POST", 4,	  "/u/bob@example.net", 18, h,
			    1,	    body, strlen(body)};
	buf_t out = BUF_INIT;
	if (mask_request(c, &r, &out))
		_exit(4);
	if (write(fd, out.data, out.len) != (ssize_t)out.len)
		_exit(5);
	_exit(0);
}

static void run_child(const char *keyfile, buf_t *out)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		child_mask(keyfile, p[1]);
	}
	close(p[1]);
	char b[4096];
	ssize_t k;
	while ((k = read(p[0], b, sizeof(b))) > 0)
		buf_append(out, b, (size_t)k);
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

Test(pseudo, same_across_processes_with_one_key_file)
{
	char dir[] = "/tmp/umbra-mask-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char key[256], key2[256];
	snprintf(key, sizeof(key), "%s/sub/mask.key", dir);
	snprintf(key2, sizeof(key2), "%s/other.key", dir);
	buf_t a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
	run_child(key, &a);  /* makes the key */
	run_child(key, &b);  /* a "restart": loads it */
	run_child(key2, &c); /* another key */
	cr_expect_str_eq(a.data, b.data);
	cr_expect_str_neq(a.data, c.data);
	cr_expect_null(strstr(a.data, "ann@example.org"));
	struct stat st;
	cr_assert_eq(stat(key, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
