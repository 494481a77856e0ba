/* CURVE key pairs: generate, validate, write to and load from key files. */
#ifndef PRISM_CURVE_KEYS_H
#define PRISM_CURVE_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/* A CURVE key in Z85 is 40 characters; buffers hold one more for NUL. */
#define CURVE_KEY_Z85_LEN  40
#define CURVE_KEY_Z85_SIZE 41

/*
 * Key files, made by prism-keygen (tools/keygen.c) in one directory:
 *   NAME.key  mode 0600, the secret file: "public_key = Z85" and
 *             "secret_key = Z85" lines (lines starting with # are comments).
 *   NAME.pub  mode 0644, the public file: one "public_key = Z85" line.
 * The NAME.pub files of the nodes allowed to connect form a ZAP allowlist
 * directory (shared/zap.h); NAME becomes the peer's user id.
 */

typedef struct {
    char public_z85[CURVE_KEY_Z85_SIZE];
    char secret_z85[CURVE_KEY_Z85_SIZE]; /* "" when only the public is known */
} curve_keypair_t;

/*
 * Returns a freshly generated key pair (zmq_curve_keypair), or NULL (logged)
 * when libzmq lacks CURVE or memory runs out. Free with curve_keypair_free.
 */
curve_keypair_t *curve_keypair_generate(void);

/* Wipes the secret from memory, frees *kpp and sets it to NULL; NULL-safe. */
void curve_keypair_free(curve_keypair_t **kpp);

/*
 * True when z85 is exactly 40 characters of the Z85 alphabet (and so
 * decodes to a 32-byte key). NULL is not valid.
 */
bool curve_key_valid(const char *z85);

/*
 * Writes DIR/NAME.key (0600, both keys) and DIR/NAME.pub (0644, public).
 * Each file is written to a temporary name, synced and then moved in place,
 * so a reader never sees half a key. Without `force`, an existing NAME.key
 * or NAME.pub is left alone and -EEXIST returned. NAME must be a plain file
 * name (letters, digits, '.', '-', '_'; not starting with '.'): else
 * -EINVAL. Other errors: -errno of the failing call (logged with the path).
 * If `paths` is given, the two paths written are copied there
 * (key_path, pub_path, each `pathlen` bytes).
 */
int curve_keys_write(const curve_keypair_t *kp, const char *dir,
                     const char *name, bool force, char *key_path,
                     char *pub_path, size_t pathlen);

/*
 * Loads a secret key file (NAME.key) into a new key pair (*out, free with
 * curve_keypair_free). Refuses, with -EPERM, a file that group or others
 * may read; -EINVAL when a key is missing, malformed, or the public key does
 * not belong to the secret one; -ENOENT and other -errno from open/read.
 * Every error is logged with the path, never with the secret.
 */
int curve_keys_load_secret(const char *path, curve_keypair_t **out);

/*
 * Loads the public key from a NAME.pub (or a NAME.key) file into
 * out[CURVE_KEY_Z85_SIZE]. Errors as curve_keys_load_secret, without the
 * mode check.
 */
int curve_keys_load_public(const char *path, char *out);

#endif
