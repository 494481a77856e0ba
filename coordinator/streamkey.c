/* Stream keys: random, shown once, stored as a salted SHA-256, checked in
 * constant time. */
#include "streamkey.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "log.h"

int streamkey_random(unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            log_error("streamkey", "getrandom failed.", "err=\"%s\"",
                      strerror(e));
            return -e;
        }
        got += (size_t)n;
    }
    return 0;
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(const char *hex, unsigned char *out, size_t max,
                 size_t *outlen)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > max)
        return -EINVAL;
    for (size_t i = 0; i < n / 2; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                return -EINVAL;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    *outlen = n / 2;
    return 0;
}

int streamkey_hash(const char *salt_hex, const char *key, char *hash_hex)
{
    unsigned char md[EVP_MAX_MD_SIZE], salt[64];
    unsigned int mdlen = 0;
    size_t saltlen;
    if (unhex(salt_hex, salt, sizeof(salt), &saltlen) < 0)
        return -EINVAL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -EIO;
    if (!ctx)
        return -ENOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, salt, saltlen) == 1 &&
        EVP_DigestUpdate(ctx, key, strlen(key)) == 1 &&
        EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32) {
        to_hex(md, 32, hash_hex);
        rc = 0;
    } else {
        log_error("streamkey", "SHA-256 through libcrypto failed.", NULL);
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

int streamkey_new(int64_t channel_id, char *key, char *salt_hex, char *hash_hex)
{
    unsigned char secret[32], salt[16];
    char secret_hex[STREAMKEY_SECRET_HEX + 1];
    int rc = streamkey_random(secret, sizeof(secret));
    if (rc == 0)
        rc = streamkey_random(salt, sizeof(salt));
    if (rc < 0)
        return rc;
    to_hex(secret, sizeof(secret), secret_hex);
    to_hex(salt, sizeof(salt), salt_hex);
    snprintf(key, STREAMKEY_MAX, "live_%" PRId64 "_%s", channel_id, secret_hex);
    rc = streamkey_hash(salt_hex, key, hash_hex);
    memset(secret, 0, sizeof(secret));
    memset(secret_hex, 0, sizeof(secret_hex));
    return rc;
}

int streamkey_parse(const char *key, int64_t *channel_id, const char **secret)
{
    if (!key || strncmp(key, "live_", 5) != 0)
        return -EINVAL;
    const char *p = key + 5;
    char *end;
    errno = 0;
    long long id = strtoll(p, &end, 10);
    if (errno || end == p || *end != '_' || id <= 0)
        return -EINVAL;
    const char *s = end + 1;
    size_t n = strlen(s);
    if (n != STREAMKEY_SECRET_HEX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -EINVAL;
    }
    *channel_id = id;
    *secret = s;
    return 0;
}

bool streamkey_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

bool streamkey_verify(const char *salt_hex, const char *key,
                      const char *stored_hash_hex)
{
    char h[STREAMKEY_HASH_HEX + 1];
    if (!stored_hash_hex || strlen(stored_hash_hex) != STREAMKEY_HASH_HEX)
        return false;
    if (streamkey_hash(salt_hex, key, h) < 0)
        return false;
    return streamkey_equal(h, stored_hash_hex, STREAMKEY_HASH_HEX);
}
