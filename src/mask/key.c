/*
 * key.c: the HMAC key behind every pseudonym. It lives in a file that only
 * its owner may read (OpenBSD check_file_secrecy): a key others can read
 * turns every pseudonym back into a lookup table, so such a file is
 * refused, not warned about. A missing file is created at first start
 * with 32 random bytes (getrandom) written as hex, mode 0600, via a
 * temporary file and link(2), so that two processes starting at once end
 * with one key and neither ever reads a half-written file.
 */
#include "mask/mask.h"

#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static int key_err(buf_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int key_err(buf_t *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		buf_vprintf(err, fmt, ap);
		va_end(ap);
		buf_putc(err, '\n');
	}
	return code;
}

/* Writes a new key to path unless a file is there already (then 0: the
 * other one wins and is read next). */
static int create_key(const char *path, buf_t *err)
{
	uint8_t raw[MASK_KEY_GEN];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return key_err(err, -errno, "%s: getrandom: %s", path,
				       strerror(errno));
		got += (size_t)r;
	}
	char hex[MASK_KEY_GEN * 2 + 1];
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	hex[sizeof(hex) - 1] = '\n';

	int rc = fs_mkdirs_for(path, 0700);
	if (rc)
		return key_err(err, rc, "%s: cannot create its directory: %s",
			       path, strerror(-rc));
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return key_err(err, -errno, "%s: cannot create: %s", tmp,
			       strerror(errno));
	rc = 0;
	if (fchmod(fd, 0600) != 0 ||
	    write(fd, hex, sizeof(hex)) != (ssize_t)sizeof(hex) ||
	    fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && link(tmp, path) != 0 && errno != EEXIST)
		rc = -errno;
	unlink(tmp);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(hex, sizeof(hex));
	if (rc)
		return key_err(err, rc, "%s: cannot write the new key: %s",
			       path, strerror(-rc));
	log_info("mask", "made a new masking key", LF_S("file", path));
	return 0;
}

int mask_key_load(const char *path, uint8_t *key, size_t *len, buf_t *err)
{
	*len = 0;
	if (!path || !*path)
		return key_err(err, ERR_INVAL, "mask.key_file is empty");
	int fd = -1;
	for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENOENT || attempt > 0)
			return key_err(err, -errno, "%s: %s", path,
				       strerror(errno));
		int rc = create_key(path, err);
		if (rc)
			return rc;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return key_err(err, -e, "%s: %s", path, strerror(e));
	}
	buf_t why = BUF_INIT;
	int rc = fs_check_private(&st, path, &why);
	if (rc)
		key_err(err, rc, "%s", why.data);
	else if (st.st_size < MASK_KEY_MIN || st.st_size > MASK_KEY_MAX + 1)
		rc = key_err(err, ERR_RANGE,
			     "%s: %lld bytes; a key is %d to %d bytes", path,
			     (long long)st.st_size, MASK_KEY_MIN, MASK_KEY_MAX);
	buf_free(&why);
	if (rc) {
		close(fd);
		return rc;
	}
	uint8_t raw[MASK_KEY_MAX + 2];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, raw + n, sizeof(raw) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			explicit_bzero(raw, sizeof(raw));
			return key_err(err, -e, "%s: %s", path, strerror(e));
		}
		if (r == 0 || n + (size_t)r == sizeof(raw)) {
			n += (size_t)r;
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	if (n > 0 && raw[n - 1] == '\n')
		n--;
	if (n < MASK_KEY_MIN || n > MASK_KEY_MAX) {
		explicit_bzero(raw, sizeof(raw));
		return key_err(err, ERR_RANGE,
			       "%s: %zu key bytes; a key is %d to %d bytes",
			       path, n, MASK_KEY_MIN, MASK_KEY_MAX);
	}
	memcpy(key, raw, n);
	explicit_bzero(raw, sizeof(raw));
	*len = n;
	return 0;
}
