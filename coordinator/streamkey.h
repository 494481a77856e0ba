/* Stream keys: random, shown once, stored as a salted SHA-256, checked in
 * constant time. */
#ifndef PRISM_STREAMKEY_H
#define PRISM_STREAMKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A stream key reads "live_<channel id>_<secret>": the channel id finds the
 * row, the secret is 32 random bytes as 64 hex digits. Only the salt (16
 * random bytes) and SHA-256(salt || key) are stored (channels.key_salt and
 * key_hash, bytea; here both travel as lowercase hex).
 */
#define STREAMKEY_SECRET_HEX 64
#define STREAMKEY_SALT_HEX   32
#define STREAMKEY_HASH_HEX   64
#define STREAMKEY_MAX        96 /* a whole key with its NUL fits */

/* Fills buf (len bytes) with random bytes from the kernel. 0 or -errno. */
int streamkey_random(unsigned char *buf, size_t len);

/*
 * Makes a new key for channel_id: key (STREAMKEY_MAX bytes) gets the key to
 * show once, salt_hex (STREAMKEY_SALT_HEX + 1) and hash_hex
 * (STREAMKEY_HASH_HEX + 1) what to store. 0 or -errno.
 */
int streamkey_new(int64_t channel_id, char *key, char *salt_hex,
                  char *hash_hex);

/*
 * Splits a key into its channel id and secret (secret: points into key).
 * Returns 0, or -EINVAL for anything not shaped like a key.
 */
int streamkey_parse(const char *key, int64_t *channel_id, const char **secret);

/*
 * hash_hex (STREAMKEY_HASH_HEX + 1 bytes) = hex(SHA-256(unhex(salt_hex) ||
 * key)). Returns 0, -EINVAL for a salt that is not even-length hex (at most
 * 64 bytes), or -EIO when libcrypto fails.
 */
int streamkey_hash(const char *salt_hex, const char *key, char *hash_hex);

/*
 * True when key hashes with salt_hex to stored_hash_hex. The comparison
 * takes the same time wherever the first difference is.
 */
bool streamkey_verify(const char *salt_hex, const char *key,
                      const char *stored_hash_hex);

/* Constant-time equality of two byte strings of equal length n. */
bool streamkey_equal(const void *a, const void *b, size_t n);

#endif
