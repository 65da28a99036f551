/*
 * sha.c: SHA-256 through OpenSSL's libcrypto, for fingerprints. Kept
 * apart because <openssl/types.h> declares an ERR_BADSTATE of its own,
 * which base/err.h's error codes would collide with.
 */
#include "provision/prov_int.h"

#include "base/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

void prov__sha256(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

int prov__sha256_file(const char *path, char hex[65])
{
	/* never blocks on a FIFO (see prov__read_file) */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		int e = -errno;
		close(fd);
		return e;
	}
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c)
		xmalloc_oom("EVP_MD_CTX_new");
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(c, buf, n);
	int rc = ferror(f) ? -EIO : 0;
	fclose(f);
	unsigned char md[32];
	unsigned int l = 0;
	EVP_DigestFinal_ex(c, md, &l);
	EVP_MD_CTX_free(c);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return rc;
}
