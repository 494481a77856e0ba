/* CURVE key pairs: generate, validate, write to and load from key files. */
#include "curve_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"

/* A key file is tiny; anything bigger is not one of ours. */
#define KEY_FILE_MAX 4096

static const char z85_alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

bool curve_key_valid(const char *z85)
{
    if (!z85)
        return false;
    for (size_t i = 0; i < CURVE_KEY_Z85_LEN; i++)
        if (!z85[i] || !strchr(z85_alphabet, z85[i]))
            return false;
    return z85[CURVE_KEY_Z85_LEN] == '\0';
}

curve_keypair_t *curve_keypair_generate(void)
{
    curve_keypair_t *kp = calloc(1, sizeof(*kp));

    if (!kp) {
        log_error("curve_keys", "Cannot allocate a key pair.", "err=\"%s\"",
                  strerror(errno));
        return NULL;
    }
    if (zmq_curve_keypair(kp->public_z85, kp->secret_z85) != 0) {
        log_error("curve_keys", "Cannot generate a CURVE key pair.",
                  "call=zmq_curve_keypair err=\"%s\"", zmq_strerror(errno));
        curve_keypair_free(&kp);
        return NULL;
    }
    return kp;
}

void curve_keypair_free(curve_keypair_t **kpp)
{
    if (!kpp || !*kpp)
        return;
    wipe(*kpp, sizeof(**kpp));
    free(*kpp);
    *kpp = NULL;
}

static bool name_ok(const char *name)
{
    if (!name || !*name || name[0] == '.' || strlen(name) > 200)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
            return false;
    return true;
}

/* Writes text to a temporary file beside path, then moves it to path. */
static int write_file(const char *path, const char *text, mode_t mode,
                      bool force)
{
    char tmp[4200];
    size_t len = strlen(text), off = 0;
    int fd = -1, rc = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        log_error("curve_keys", "Cannot create a key file.",
                  "call=open path=%s err=\"%s\"", tmp, strerror(errno));
        return rc;
    }
    if (fchmod(fd, mode) != 0) {
        rc = -errno;
        log_error("curve_keys", "Cannot set a key file's mode.",
                  "call=fchmod path=%s err=\"%s\"", tmp, strerror(errno));
        goto end;
    }
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            log_error("curve_keys", "Cannot write a key file.",
                      "call=write path=%s err=\"%s\"", tmp, strerror(errno));
            goto end;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        rc = -errno;
        log_error("curve_keys", "Cannot sync a key file.",
                  "call=fsync path=%s err=\"%s\"", tmp, strerror(errno));
        goto end;
    }
    /* link() refuses an existing target atomically; rename() replaces it. */
    if (force ? rename(tmp, path) != 0 : link(tmp, path) != 0) {
        rc = -errno;
        if (rc != -EEXIST)
            log_error("curve_keys", "Cannot move a key file in place.",
                      "call=%s path=%s err=\"%s\"", force ? "rename" : "link",
                      path, strerror(errno));
        goto end;
    }
end:
    if (fd >= 0)
        close(fd);
    unlink(tmp); /* after link() the temporary name is left; after rename,
                    nothing is there and this fails harmlessly */
    return rc;
}

int curve_keys_write(const curve_keypair_t *kp, const char *dir,
                     const char *name, bool force, char *key_path,
                     char *pub_path, size_t pathlen)
{
    char kpath[4096], ppath[4096], text[512];
    struct stat st;
    int rc;

    if (!kp || !dir || !name_ok(name) || !curve_key_valid(kp->public_z85) ||
        !curve_key_valid(kp->secret_z85)) {
        log_error("curve_keys", "Refusing to write keys: bad name or key.",
                  "dir=%s name=%s", dir ? dir : "(null)",
                  name ? name : "(null)");
        return -EINVAL;
    }
    if (snprintf(kpath, sizeof(kpath), "%s/%s.key", dir, name) >=
            (int)sizeof(kpath) - 20 ||
        snprintf(ppath, sizeof(ppath), "%s/%s.pub", dir, name) >=
            (int)sizeof(ppath) - 20)
        return -ENAMETOOLONG;
    if (key_path && pathlen)
        snprintf(key_path, pathlen, "%s", kpath);
    if (pub_path && pathlen)
        snprintf(pub_path, pathlen, "%s", ppath);
    if (!force) {
        if (lstat(kpath, &st) == 0 || lstat(ppath, &st) == 0) {
            log_error("curve_keys", "Key files exist; not overwriting.",
                      "key=%s pub=%s", kpath, ppath);
            return -EEXIST;
        }
    }

    snprintf(text, sizeof(text),
             "# Prism CURVE secret key for %s. Keep private: mode 0600.\n"
             "public_key = %s\nsecret_key = %s\n",
             name, kp->public_z85, kp->secret_z85);
    rc = write_file(kpath, text, 0600, force);
    wipe(text, sizeof(text));
    if (rc == -EEXIST)
        log_error("curve_keys", "Key file exists; not overwriting.", "path=%s",
                  kpath);
    if (rc)
        return rc;

    snprintf(text, sizeof(text),
             "# Prism CURVE public key for %s.\npublic_key = %s\n", name,
             kp->public_z85);
    rc = write_file(ppath, text, 0644, force);
    if (rc == -EEXIST)
        log_error("curve_keys", "Key file exists; not overwriting.", "path=%s",
                  ppath);
    if (rc)
        unlink(kpath); /* no half-written pair */
    return rc;
}

/* Reads a whole small file into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t size, struct stat *st)
{
    size_t off = 0;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        log_error("curve_keys", "Cannot open a key file.",
                  "call=open path=%s err=\"%s\"", path, strerror(errno));
        return rc;
    }
    if (fstat(fd, st) != 0) {
        rc = -errno;
        log_error("curve_keys", "Cannot stat a key file.",
                  "call=fstat path=%s err=\"%s\"", path, strerror(errno));
        goto end;
    }
    for (;;) {
        ssize_t n = read(fd, buf + off, size - 1 - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            log_error("curve_keys", "Cannot read a key file.",
                      "call=read path=%s err=\"%s\"", path, strerror(errno));
            goto end;
        }
        if (n == 0)
            break;
        off += (size_t)n;
        if (off == size - 1) {
            rc = -EINVAL;
            log_error("curve_keys", "Key file is too big.", "path=%s max=%zu",
                      path, size - 1);
            goto end;
        }
    }
end:
    buf[off] = '\0';
    close(fd);
    return rc;
}

/*
 * Finds "key = VALUE" in text and copies VALUE (optionally quoted) into out.
 * Returns 0, or -ENOENT when the key is absent, -EINVAL when malformed.
 */
static int find_key(const char *text, const char *key, char *out)
{
    size_t klen = strlen(key);
    const char *line = text;

    while (line && *line) {
        const char *p = line;
        const char *nl = strchr(line, '\n');
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '#' && strncmp(p, key, klen) == 0) {
            const char *v = p + klen, *e;
            while (*v == ' ' || *v == '\t')
                v++;
            if (*v != '=')
                goto next;
            v++;
            while (*v == ' ' || *v == '\t')
                v++;
            e = nl ? nl : v + strlen(v);
            while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                e--;
            if (e - v >= 2 && *v == '"' && e[-1] == '"') {
                v++;
                e--;
            }
            if (e - v != CURVE_KEY_Z85_LEN)
                return -EINVAL;
            memcpy(out, v, CURVE_KEY_Z85_LEN);
            out[CURVE_KEY_Z85_LEN] = '\0';
            return curve_key_valid(out) ? 0 : -EINVAL;
        }
    next:
        line = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

int curve_keys_load_public(const char *path, char *out)
{
    char text[KEY_FILE_MAX];
    struct stat st;
    int rc;

    rc = read_small(path, text, sizeof(text), &st);
    if (rc == 0) {
        rc = find_key(text, "public_key", out);
        if (rc)
            log_error("curve_keys", "Key file has no valid public key.",
                      "path=%s", path);
        rc = rc ? -EINVAL : 0;
    }
    wipe(text, sizeof(text)); /* a .key file also holds the secret */
    return rc;
}

int curve_keys_load_secret(const char *path, curve_keypair_t **out)
{
    char text[KEY_FILE_MAX], derived[CURVE_KEY_Z85_SIZE];
    curve_keypair_t *kp = NULL;
    struct stat st;
    int rc;

    *out = NULL;
    rc = read_small(path, text, sizeof(text), &st);
    if (rc)
        goto end;
    if (st.st_mode & 077) {
        log_error("curve_keys",
                  "Secret key file is readable by others; chmod 600 it.",
                  "path=%s mode=%04o", path, (unsigned)(st.st_mode & 07777));
        rc = -EPERM;
        goto end;
    }
    kp = calloc(1, sizeof(*kp));
    if (!kp) {
        rc = -ENOMEM;
        goto end;
    }
    if (find_key(text, "public_key", kp->public_z85) != 0 ||
        find_key(text, "secret_key", kp->secret_z85) != 0) {
        log_error("curve_keys", "Key file lacks a valid public or secret key.",
                  "path=%s", path);
        rc = -EINVAL;
        goto end;
    }
    if (zmq_curve_public(derived, kp->secret_z85) != 0 ||
        strcmp(derived, kp->public_z85) != 0) {
        log_error("curve_keys",
                  "Public key in the file does not match its secret key.",
                  "path=%s public_key=%s", path, kp->public_z85);
        rc = -EINVAL;
        goto end;
    }
    *out = kp;
    kp = NULL;
end:
    wipe(text, sizeof(text));
    curve_keypair_free(&kp);
    return rc;
}
