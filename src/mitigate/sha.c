/*
 * sha.c: SHA-256 through OpenSSL's libcrypto, for snapshot objects and
 * manifests. Kept apart because <openssl/types.h> declares an ERR_BADSTATE
 * of its own, which base/err.h's error codes would collide with.
 */
#include "mitigate/mit_int.h"

#include <openssl/evp.h>
#include <stdio.h>

void mit__sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[64] = '\0';
}
