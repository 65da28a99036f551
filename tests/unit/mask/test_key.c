/*
 * test_key.c: the key file. Made 0600 (directories 0700) when missing;
 * refused when group or others can access it, when it is not a regular
 * file or a symlink, when it is too short or too long; the trailing
 * newline is not key; processes racing to create it end with one key.
 */
#include "base/err.h"
#include "mask/mask.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/umbra-key-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(key, .init = setup, .fini = teardown);

static const char *path(const char *name)
{
	static char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void write_file(const char *p, const char *data, size_t n, int mode)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, n), (ssize_t)n);
	cr_assert_eq(fchmod(fd, (mode_t)mode), 0);
	close(fd);
}

static int load(const char *p, size_t *len, buf_t *err)
{
	uint8_t key[MASK_KEY_MAX];
	return mask_key_load(p, key, len, err);
}

Test(key, made_when_missing_private_and_loaded)
{
	char p[256];
	snprintf(p, sizeof(p), "%s", path("a/b/mask.key"));
	uint8_t k1[MASK_KEY_MAX], k2[MASK_KEY_MAX];
	size_t l1, l2;
	buf_t err = BUF_INIT;
	cr_assert_eq(mask_key_load(p, k1, &l1, &err), 0, "%s", err.data);
	cr_expect_eq(l1, 2 * MASK_KEY_GEN, "hex of %d bytes", MASK_KEY_GEN);
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0600);
	cr_expect_eq(st.st_size, 2 * MASK_KEY_GEN + 1);
	cr_assert_eq(stat(path("a"), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0700);
	for (size_t i = 0; i < l1; i++)
		cr_expect(strchr("0123456789abcdef", k1[i]));
	/* Loaded again, the same key: it is not regenerated. */
	cr_assert_eq(mask_key_load(p, k2, &l2, NULL), 0);
	cr_expect_eq(l1, l2);
	cr_expect_arr_eq(k1, k2, l1);
	/* No temporary file left behind. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s/a/b | wc -l) -eq 1", dir);
	cr_expect_eq(system(cmd), 0);
}

Test(key, group_readable_refused)
{
	const char *p = path("k");
	write_file(p, "0123456789abcdef0123", 20, 0640);
	size_t len = 99;
	buf_t err = BUF_INIT;
	cr_expect_eq(load(p, &len, &err), ERR_INSECURE);
	cr_expect_eq(len, 0);
	cr_expect_not_null(strstr(err.data, "chmod 600"), "%s", err.data);
	cr_expect_not_null(strstr(err.data, "0640"), "%s", err.data);
	buf_free(&err);
}

Test(key, world_readable_refused)
{
	const char *p = path("k");
	write_file(p, "0123456789abcdef0123", 20, 0604);
	size_t len;
	cr_expect_eq(load(p, &len, NULL), ERR_INSECURE);
}

Test(key, group_writable_refused)
{
	const char *p = path("k");
	write_file(p, "0123456789abcdef0123", 20, 0620);
	size_t len;
	cr_expect_eq(load(p, &len, NULL), ERR_INSECURE);
}

Test(key, directory_refused)
{
	const char *p = path("d");
	cr_assert_eq(mkdir(p, 0700), 0);
	size_t len;
	buf_t err = BUF_INIT;
	cr_expect_eq(load(p, &len, &err), ERR_INSECURE);
	cr_expect_not_null(strstr(err.data, "not a regular file"));
	buf_free(&err);
}

Test(key, symlink_refused)
{
	const char *t = path("target");
	write_file(t, "0123456789abcdef0123", 20, 0600);
	char link[256];
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(t, link), 0);
	size_t len;
	cr_expect_eq(load(link, &len, NULL), -ELOOP);
}

Test(key, too_short_refused)
{
	const char *p = path("k");
	write_file(p, "0123456789\n", 11, 0600);
	size_t len;
	buf_t err = BUF_INIT;
	cr_expect_eq(load(p, &len, &err), ERR_RANGE);
	cr_expect_not_null(strstr(err.data, "16 to 1024"), "%s", err.data);
	buf_free(&err);
}

Test(key, too_long_refused)
{
	const char *p = path("k");
	char big[MASK_KEY_MAX + 10];
	memset(big, 'k', sizeof(big));
	write_file(p, big, sizeof(big), 0600);
	size_t len;
	cr_expect_eq(load(p, &len, NULL), ERR_RANGE);
}

Test(key, trailing_newline_is_not_key)
{
	const char *p = path("k");
	write_file(p, "0123456789abcdef\n", 17, 0600);
	uint8_t key[MASK_KEY_MAX];
	size_t len;
	cr_assert_eq(mask_key_load(p, key, &len, NULL), 0);
	cr_expect_eq(len, 16);
	cr_expect_arr_eq(key, "0123456789abcdef", 16);
}

Test(key, empty_path_refused)
{
	size_t len;
	cr_expect_eq(load("", &len, NULL), ERR_INVAL);
}

Test(key, uncreatable_reports_why)
{
	const char *f = path("file");
	write_file(f, "x", 1, 0600);
	char p[256];
	snprintf(p, sizeof(p), "%s/file/mask.key", dir); /* parent is a file */
	size_t len;
	buf_t err = BUF_INIT;
	cr_expect_lt(load(p, &len, &err), 0);
	cr_expect_not_null(err.data);
	buf_free(&err);
}

Test(key, racing_creators_agree)
{
	const char *p = path("race.key");
	enum { N = 6 };
	int fds[N][2];
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		cr_assert_eq(pipe(fds[i]), 0);
		pids[i] = fork();
		if (pids[i] == 0) {
			uint8_t key[MASK_KEY_MAX];
			size_t len;
			if (mask_key_load(p, key, &len, NULL))
				_exit(1);
			if (write(fds[i][1], key, len) != (ssize_t)len)
				_exit(2);
			_exit(0);
		}
		close(fds[i][1]);
	}
	char got[N][MASK_KEY_MAX];
	ssize_t n[N];
	for (int i = 0; i < N; i++) {
		n[i] = read(fds[i][0], got[i], sizeof(got[i]));
		close(fds[i][0]);
		int st;
		waitpid(pids[i], &st, 0);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (int i = 1; i < N; i++) {
		cr_expect_eq(n[i], n[0]);
		cr_expect_arr_eq(got[i], got[0], (size_t)n[0]);
	}
}

Test(key, mask_new_reports_a_bad_key_file)
{
	const char *p = path("k");
	write_file(p, "0123456789abcdef0123", 20, 0644);
	config_t *cfg = config_new_default("t");
	cfg->mask.key_file = (char *)p;
	mask_t *m = (mask_t *)1;
	buf_t err = BUF_INIT;
	cr_expect_eq(mask_new(&cfg->mask, &m, &err), ERR_INSECURE);
	cr_expect_null(m);
	cr_expect_not_null(strstr(err.data, "chmod 600"));
	buf_free(&err);
	config_free(cfg);
}
